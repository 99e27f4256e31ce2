// Rerank on OpenAI-compatible servers: only connections of type openai-compatible have it (OpenAI,
// Azure and OpenRouter do not), the body is Cohere v1's, and the answers of vLLM, Jina and
// llama.cpp (their extras, their usage fields, their error bodies) come back as one ranking, over a
// real socket against the fake reranker.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ProviderType } from "../../../src/config/types.ts";
import { createOpenAIAdapter } from "../../../src/providers/openai/index.ts";
import { createProvider } from "../../../src/providers/registry.ts";
import { createTransport } from "../../../src/providers/transport.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { fakeRanking } from "../../helpers/fake-cohere.ts";
import { startFakeRerankServer, type FakeRerankServer, type RerankServerFlavor } from "../../helpers/fake-rerank-server.ts";
import { makeConn } from "./helpers.ts";

const DOCS = ["Paris is the capital of France.", "Bananas are rich in potassium.", "The capital of Germany is Berlin.", "France borders Spain."];
const QUERY = "capital of France";
const MODEL = "BAAI/bge-reranker-v2-m3";
const signal = () => AbortSignal.timeout(5000);

describe("which connections rerank", () => {
  for (const type of ["openai", "azure", "openrouter"] as ProviderType[]) {
    test(`${type}: no rerank on the adapter or the provider`, () => {
      const adapter = createOpenAIAdapter(makeConn(type));
      assert.equal(adapter.buildRerankRequest, undefined);
      assert.equal(adapter.parseRerankResponse, undefined);
      assert.equal(createProvider(makeConn(type), createTransport()).rerank, undefined);
    });
  }

  test("openai-compatible: POST {base}/rerank with model, query, documents, top_n (max_tokens_per_doc is Cohere's)", () => {
    const adapter = createOpenAIAdapter(makeConn("openai-compatible", { headers: { "X-Team": "search" } }));
    const spec = adapter.buildRerankRequest!({ model: MODEL, query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 100 });
    assert.equal(spec.method, "POST");
    assert.equal(spec.path, "/rerank");
    assert.match(spec.headers.authorization, /^Bearer /);
    assert.equal(spec.headers["x-team"], "search");
    assert.deepEqual(JSON.parse(spec.body!), { model: MODEL, query: QUERY, documents: DOCS, top_n: 2 });
  });

  test("answers: results checked and ordered, prompt_tokens before total_tokens, the server's model", () => {
    const adapter = createOpenAIAdapter(makeConn("openai-compatible"));
    const req = { model: MODEL, query: QUERY, documents: DOCS };
    const res = adapter.parseRerankResponse!(
      JSON.stringify({ model: "bge-v2", usage: { prompt_tokens: 40, total_tokens: 44 }, results: [{ index: 3, relevance_score: 0.2 }, { index: 0, relevance_score: 0.8, document: { text: DOCS[0] } }] }),
      req,
      {},
    );
    assert.deepEqual(res, { model: "bge-v2", results: [{ index: 0, score: 0.8 }, { index: 3, score: 0.2 }], usage: { inputTokens: 40 } });
    assert.deepEqual(adapter.parseRerankResponse!(JSON.stringify({ results: [] }), req, {}), { model: "", results: [] });
    assert.throws(() => adapter.parseRerankResponse!(JSON.stringify({ data: [] }), req, {}), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
  });
});

const FLAVORS: RerankServerFlavor[] = ["vllm", "jina", "llamacpp"];

for (const flavor of FLAVORS) {
  describe(`openai-compatible rerank over a real socket: ${flavor}`, () => {
    let fake: FakeRerankServer;
    const transport = createTransport();
    const key = ["local", flavor, "key"].join("-");
    const provider = () => createProvider(makeConn("openai-compatible", { baseUrl: fake.url, apiKey: key }), transport);

    before(async () => {
      fake = await startFakeRerankServer({ flavor, model: MODEL, apiKey: key });
    });
    after(async () => {
      await transport.close();
      await fake.close();
    });

    test("the ranking, at most top_n, with the tokens the server reports", async () => {
      fake.reset();
      const res = await provider().rerank!({ model: MODEL, query: QUERY, documents: DOCS, topN: 3 }, signal());
      assert.deepEqual(
        res.results,
        fakeRanking(QUERY, DOCS, 3).map((r) => ({ index: r.index, score: r.relevance_score })),
      );
      // The fake counts words: the query's 3 beside each of the 4 documents (6, 5, 6 and 3 words).
      assert.deepEqual(res.usage, { inputTokens: 4 * 3 + 6 + 5 + 6 + 3 });
      assert.equal(fake.requests[0].path, "/v1/rerank");
      assert.deepEqual(fake.requests[0].body, { model: MODEL, query: QUERY, documents: DOCS, top_n: 3 });
    });

    test("no usage reported: none claimed (the gateway estimates)", async () => {
      fake.reset();
      fake.script({ kind: "ok", noUsage: true });
      const res = await provider().rerank!({ model: MODEL, query: QUERY, documents: DOCS }, signal());
      assert.equal(res.usage, undefined);
      assert.equal(res.results.length, DOCS.length);
    });

    test("errors in the server's own body are classified by status", async () => {
      fake.reset();
      const cases: [number, string][] = [
        [400, "bad_request"],
        [404, "model_not_found"],
        [429, "rate_limited"],
        [500, "server_error"],
        [503, "overloaded"],
      ];
      for (const [status, kind] of cases) {
        fake.script({ kind: "error", status, message: `failure ${status}` });
        await assert.rejects(provider().rerank!({ model: MODEL, query: QUERY, documents: DOCS }, signal()), (e: unknown) => {
          assert.ok(e instanceof ProviderError, String(e));
          assert.equal(e.kind, kind, `${status}`);
          assert.match(e.message, new RegExp(`failure ${status}`));
          return true;
        });
      }
      // The fake's own refusal of a wrong key; a 200 that is not JSON.
      const wrong = createProvider(makeConn("openai-compatible", { baseUrl: fake.url, apiKey: "not-the-key" }), transport);
      await assert.rejects(wrong.rerank!({ model: MODEL, query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "upstream_auth");
      fake.script({ kind: "malformed" });
      await assert.rejects(provider().rerank!({ model: MODEL, query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
    });
  });
}
