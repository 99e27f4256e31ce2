// Rerank through the gateway to real HTTP providers: a fake Cohere (its /v2/rerank, proven against
// the cohere-ai SDK in test/providers/cohere-sdk.test.ts) as the target and a fake vLLM reranker
// (/v1/rerank) as the fallback. The gateway sends Cohere its own request with the provider's key,
// bills Cohere's search units, falls back to vLLM when Cohere answers 503 (vLLM's tokens priced at
// the input price), never shows the provider's key, and the official cohere-ai SDK pointed at the
// gateway's /v2/rerank reads the answer and the gateway's errors as it reads Cohere's.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { CohereClientV2, CohereError } from "cohere-ai";
import { hashKey } from "../../src/server/auth.ts";
import { cohereTestKey, fakeRanking, startFakeCohere, type FakeCohere } from "../helpers/fake-cohere.ts";
import { startFakeRerankServer, type FakeRerankServer } from "../helpers/fake-rerank-server.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const CALLER = ["sbx", "test", "rerank", "providers"].join("_");
const COHERE_KEY = cohereTestKey();
const QUERY = "What is the capital of the United States?";
const DOCS = ["Carson City is the capital city of Nevada.", "Washington, D.C. is the capital of the United States.", "Capital punishment is legal in some states.", "The capital of France is Paris."];

let cohere: FakeCohere;
let vllm: FakeRerankServer;
let t: TestGateway;

const post = (path: string, body: unknown) =>
  fetch(`${t.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${CALLER}`, "content-type": "application/json" }, body: JSON.stringify(body) });

before(async () => {
  cohere = await startFakeCohere();
  vllm = await startFakeRerankServer({ flavor: "vllm" });
  t = await startTestGateway(
    `
providers:
  - { name: cohere, type: cohere, base_url: "${cohere.origin}", api_key: "\${COHERE_API_KEY}" }
  - { name: vllm, type: openai-compatible, base_url: "${vllm.url}" }
deployments:
  - { id: cohere/rerank, provider: cohere, model: rerank-v3.5 }
  - { id: vllm/bge, provider: vllm, model: BAAI/bge-reranker-v2-m3, operations: [rerank], pricing: { input: 0.02, output: 0 } }
routes:
  - { name: rerank, targets: [cohere/rerank], fallbacks: [vllm/bge], retry: { max_retries: 0 } }
keys:
  - { name: team-a, hash: "${hashKey(CALLER)}", team: a, role: team }
`,
    { env: { COHERE_API_KEY: COHERE_KEY } },
  );
});
beforeEach(() => {
  cohere.reset();
  vllm.reset();
});
after(async () => {
  await t.close();
  await cohere.close();
  await vllm.close();
});

describe("gateway → Cohere, falling back to vLLM", () => {
  test("Cohere serves: its request carries the provider key and the model, its search units are billed", async () => {
    const res = await post("/v1/rerank", { model: "rerank", query: QUERY, documents: DOCS, top_n: 2 });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.ok(!text.includes(COHERE_KEY) && !text.includes(CALLER), "no key in the answer");
    const body = JSON.parse(text) as { results: { index: number; relevance_score: number }[]; meta: { billed_units: { search_units: number } }; signalbox: { deployment: string; cost_nano_usd: number } };
    assert.deepEqual(
      body.results.map((r) => r.index),
      fakeRanking(QUERY, DOCS, 2).map((r) => r.index),
    );
    assert.equal(body.signalbox.deployment, "cohere/rerank");
    assert.equal(body.meta.billed_units.search_units, 1);
    assert.equal(body.signalbox.cost_nano_usd, 2_000_000, "one search at the catalog's $2.00 per 1,000");
    assert.equal(cohere.requests.length, 1);
    const sent = cohere.requests[0];
    assert.equal(sent.path, "/v2/rerank");
    assert.equal(sent.headers.authorization, `Bearer ${COHERE_KEY}`);
    assert.equal(sent.body.model, "rerank-v3.5");
    assert.equal(sent.body.query, QUERY);
    assert.deepEqual(sent.body.documents, DOCS);
    assert.equal(sent.body.top_n, 2);
    assert.equal(vllm.requests.length, 0);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.operation, "rerank");
    assert.equal(rec.deployment, "cohere/rerank");
    assert.equal(rec.usage.searchUnits, 1);
  });

  test("Cohere 503: the fallback vLLM answers, its tokens are priced, both attempts are on the record", async () => {
    cohere.script({ kind: "error", status: 503 });
    const res = await post("/v1/rerank", { model: "rerank", query: QUERY, documents: DOCS, return_documents: true });
    const body = (await res.json()) as { results: { index: number; document?: { text: string } }[]; usage: { total_tokens: number }; signalbox: { deployment: string; cost_nano_usd: number } };
    assert.equal(res.status, 200);
    assert.equal(body.signalbox.deployment, "vllm/bge");
    assert.equal(body.results.length, DOCS.length);
    assert.equal(body.results[0].document?.text, DOCS[body.results[0].index]);
    assert.equal(cohere.requests.length, 1);
    assert.equal(vllm.requests.length, 1);
    assert.equal(vllm.requests[0].body.model, "BAAI/bge-reranker-v2-m3");
    assert.equal(vllm.requests[0].headers.authorization, undefined, "no key configured, none sent");
    assert.ok(body.usage.total_tokens > 0);
    // vLLM reports tokens: priced at $0.02 per million input tokens, no search fee.
    assert.equal(body.signalbox.cost_nano_usd, body.usage.total_tokens * 20);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.deployment, "vllm/bge");
    assert.deepEqual(
      rec.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["cohere/rerank", "failed"],
        ["vllm/bge", "succeeded"],
      ],
    );
  });
});

describe("the official cohere-ai SDK pointed at the gateway", () => {
  let co: CohereClientV2;
  before(() => {
    co = new CohereClientV2({ token: CALLER, environment: t.url, maxRetries: 0, timeoutInSeconds: 5 });
  });

  test("rerank: the SDK parses the gateway's answer into its own types", async () => {
    const r = await co.rerank({ model: "rerank", query: QUERY, documents: DOCS, topN: 3 });
    assert.equal(r.results.length, 3);
    assert.deepEqual(
      r.results.map((x) => x.index),
      fakeRanking(QUERY, DOCS, 3).map((x) => x.index),
    );
    assert.equal(typeof r.results[0].relevanceScore, "number");
    assert.equal(r.meta?.billedUnits?.searchUnits, 1);
    assert.ok(r.id);
    assert.equal(cohere.requests.length, 1, "the gateway called Cohere once");
  });

  test("an input error reaches no provider and surfaces as the SDK's 400 with the field named", async () => {
    await assert.rejects(
      () => co.rerank({ model: "rerank", query: QUERY, documents: [] }),
      (e: unknown) => {
        assert.ok(e instanceof CohereError, String(e));
        assert.equal(e.statusCode, 400);
        assert.match(JSON.stringify(e.body), /documents/);
        return true;
      },
    );
    assert.equal(cohere.requests.length + vllm.requests.length, 0);
  });

  test("a wrong caller key is the SDK's 401", async () => {
    const bad = new CohereClientV2({ token: "nope", environment: t.url, maxRetries: 0 });
    await assert.rejects(
      () => bad.rerank({ model: "rerank", query: QUERY, documents: DOCS }),
      (e: unknown) => e instanceof CohereError && e.statusCode === 401,
    );
    assert.equal(cohere.requests.length, 0);
  });
});
