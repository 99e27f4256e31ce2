// The Cohere adapter: pure translation (the /v2/rerank and /v2/embed bodies, input types, sizes,
// chat refused before sending), then composed with the real http-provider and undici transport
// against the fake Cohere server on a real socket: rankings, billed units, batches past 96, every
// error status mapped to its failure kind, retry-after honoured, and no key in any error message.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { ProviderConfig } from "../../src/config/types.ts";
import { classifyCohereError, createCohereAdapter } from "../../src/providers/cohere/index.ts";
import { createHttpProvider } from "../../src/providers/http-provider.ts";
import { createProvider } from "../../src/providers/registry.ts";
import { createTransport } from "../../src/providers/transport.ts";
import { ProviderError, type FailureKind, type RerankRequest } from "../../src/providers/types.ts";
import { cohereTestKey, fakeRanking, startFakeCohere, type FakeCohere } from "../helpers/fake-cohere.ts";

const KEY = cohereTestKey();
const DOCS = ["Paris is the capital of France.", "Bananas are rich in potassium.", "The capital of Germany is Berlin.", "France borders Spain."];
const QUERY = "capital of France";

function conn(baseUrl: string, over: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: "cohere",
    type: "cohere",
    baseUrl,
    apiKey: KEY,
    headers: {},
    timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 },
    maxConnections: 4,
    ...over,
  } as ProviderConfig;
}

const signal = () => AbortSignal.timeout(5000);

describe("cohere adapter: translation", () => {
  const adapter = createCohereAdapter(conn("https://api.cohere.com", { headers: { "X-Client-Name": "signalbox" } }));

  test("rerank: POST /v2/rerank with the bearer key and exactly model, query, documents, top_n, max_tokens_per_doc", () => {
    const spec = adapter.buildRerankRequest!({ model: "rerank-v3.5", query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 512 });
    assert.equal(spec.method, "POST");
    assert.equal(spec.path, "/v2/rerank");
    assert.equal(spec.headers.authorization, `Bearer ${KEY}`);
    assert.equal(spec.headers["content-type"], "application/json");
    assert.equal(spec.headers["x-client-name"], "signalbox");
    assert.deepEqual(JSON.parse(spec.body!), { model: "rerank-v3.5", query: QUERY, documents: DOCS, top_n: 2, max_tokens_per_doc: 512 });
    const plain = adapter.buildRerankRequest!({ model: "rerank-v3.5", query: QUERY, documents: DOCS });
    assert.deepEqual(JSON.parse(plain.body!), { model: "rerank-v3.5", query: QUERY, documents: DOCS });
  });

  test("rerank answer: best first, scores kept, search units as billed; malformed results are a server_error", () => {
    const req: RerankRequest = { model: "rerank-v3.5", query: QUERY, documents: DOCS, topN: 2 };
    const body = JSON.stringify({ id: "r1", results: [{ index: 2, relevance_score: 0.4 }, { index: 0, relevance_score: 0.9 }, { index: 3, relevance_score: 0.1 }], meta: { billed_units: { search_units: 1 } } });
    const res = adapter.parseRerankResponse!(body, req, {});
    assert.deepEqual(res, { model: "rerank-v3.5", results: [{ index: 0, score: 0.9 }, { index: 2, score: 0.4 }], usage: { searchUnits: 1 } });
    // No meta: no usage (the gateway counts one search).
    assert.equal(adapter.parseRerankResponse!(JSON.stringify({ results: [] }), req, {}).usage, undefined);
    for (const bad of ["not json", JSON.stringify({ results: [{ index: 9, relevance_score: 1 }] }), JSON.stringify({ results: [{ index: 0 }] }), JSON.stringify({ results: [{ index: 1, relevance_score: 1 }, { index: 1, relevance_score: 0.5 }] }), JSON.stringify({ id: "x" })]) {
      assert.throws(() => adapter.parseRerankResponse!(bad, req, {}), (e: unknown) => e instanceof ProviderError && e.kind === "server_error", bad);
    }
  });

  test("embed: POST /v2/embed with float vectors and the input type (absent: search_document)", () => {
    const body = (inputType?: "query" | "document", dimensions?: number, model = "embed-english-v3.0") => {
      const spec = adapter.buildEmbedRequest!({ model, inputs: ["a", "b"], inputType, dimensions });
      assert.equal(spec.path, "/v2/embed");
      return JSON.parse(spec.body!);
    };
    assert.deepEqual(body("query"), { model: "embed-english-v3.0", texts: ["a", "b"], input_type: "search_query", embedding_types: ["float"] });
    assert.equal(body("document").input_type, "search_document");
    assert.equal(body(undefined).input_type, "search_document");
    assert.equal(body(undefined, 512, "embed-v4.0").output_dimension, 512);
    // A v3 model's own size is no change: nothing is sent for it.
    assert.equal(body(undefined, 1024).output_dimension, undefined);
    assert.equal(body(undefined, 384, "embed-english-light-v3.0").output_dimension, undefined);
    assert.throws(
      () => body(undefined, 512),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && e.unsent === true && /fixed vector size of 1024/.test(e.message),
    );
    assert.equal(adapter.embedBatchLimit!("embed-v4.0"), 96);
  });

  test("embed answer: vectors in order, input tokens as billed; a count that does not match is a server_error", () => {
    const req = { model: "embed-v4.0", inputs: ["a", "b"] };
    const res = adapter.parseEmbedResponse!(JSON.stringify({ id: "e", embeddings: { float: [[1, 0], [0, 1]] }, meta: { billed_units: { input_tokens: 7 } } }), req, {});
    assert.deepEqual(res.embeddings.map((v) => [...v]), [[1, 0], [0, 1]]);
    assert.deepEqual(res.usage, { inputTokens: 7 });
    assert.equal(res.model, "embed-v4.0");
    assert.throws(() => adapter.parseEmbedResponse!(JSON.stringify({ embeddings: { float: [[1, 0]] } }), req, {}), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
    assert.throws(() => adapter.parseEmbedResponse!(JSON.stringify({ embeddings: [[1, 0], [0, 1]] }), req, {}), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
  });

  test("chat is refused before anything is sent: model_not_found, unsent, naming rerank and embeddings", async () => {
    const chatReq = { model: "command-a-03-2025", messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "hi" }] }] };
    const refused = (e: unknown) => e instanceof ProviderError && e.kind === "model_not_found" && e.unsent === true && /rerank and embeddings only/.test(e.message);
    assert.throws(() => adapter.buildRequest(chatReq, false), refused);
    assert.throws(() => adapter.streamTranslator(), refused);
    let sent = 0;
    const transport = { request: async () => (sent++, Promise.reject(new Error("nothing may be sent"))) } as never;
    const provider = createHttpProvider(conn("https://api.cohere.com"), adapter, transport);
    await assert.rejects(provider.complete(chatReq, signal()), refused);
    await assert.rejects((async () => {
      for await (const _ of provider.stream(chatReq, signal())) void _;
    })(), refused);
    assert.equal(sent, 0);
  });

  test("the registry builds a cohere provider with rerank and embed", () => {
    const p = createProvider(conn("https://api.cohere.com"), createTransport());
    assert.equal(p.type, "cohere");
    assert.equal(typeof p.rerank, "function");
    assert.equal(typeof p.embed, "function");
  });
});

describe("cohere error classification", () => {
  const table: [number, FailureKind, string?][] = [
    [400, "bad_request"],
    [422, "bad_request"],
    [401, "upstream_auth"],
    [403, "upstream_auth"],
    [498, "upstream_auth"],
    [402, "quota_exhausted"],
    [404, "model_not_found"],
    [429, "rate_limited"],
    [499, "canceled"],
    [500, "server_error"],
    [501, "server_error"],
    [502, "server_error"],
    [503, "overloaded"],
    [504, "timeout"],
  ];
  for (const [status, kind] of table) {
    test(`${status} → ${kind}`, () => {
      const e = classifyCohereError(status, JSON.stringify({ id: "req-1", message: "something happened" }), { "x-debug-trace-id": "trace-1" }, { label: "co" });
      assert.equal(e.kind, kind);
      assert.equal(e.status, status);
      assert.equal(e.message, `co: cohere ${status}: something happened`);
      assert.equal(e.requestId, "trace-1");
    });
  }

  test("the body's id is the request id when no header gives one; a proxy's HTML page is not shown", () => {
    assert.equal(classifyCohereError(400, JSON.stringify({ id: "abc", message: "m" }), {}).requestId, "abc");
    const html = classifyCohereError(502, "<html><body>Bad Gateway</body></html>", {});
    assert.equal(html.message, "cohere 502");
    assert.equal(html.kind, "server_error");
    assert.equal(classifyCohereError(500, "upstream connect error", {}).message, "cohere 500: upstream connect error");
  });

  test("429: retry-after honoured; a monthly trial limit is quota_exhausted and not retryable", () => {
    const rl = classifyCohereError(429, JSON.stringify({ message: "You are using a Trial key, which is limited to 10 API calls / minute." }), { "retry-after": "7" });
    assert.equal(rl.kind, "rate_limited");
    assert.equal(rl.retryAfterMs, 7000);
    const monthly = classifyCohereError(429, JSON.stringify({ message: "You are using a Trial key, which is limited to 1000 API calls / month." }), { "retry-after": "7" });
    assert.equal(monthly.kind, "quota_exhausted");
    assert.equal(monthly.retryable, false);
    assert.equal(monthly.retryAfterMs, undefined);
  });

  test("no key in messages: the connection's key and key-shaped tokens are redacted", () => {
    const secret = ["Zx9", "Qw7", "Er5", "Ty3", "Ui1", "Op0", "As2", "Df4", "Gh6", "Jk8", "Lm"].join("");
    const e = classifyCohereError(401, JSON.stringify({ message: `invalid api token ${secret} (Bearer ${KEY})` }), {}, { secrets: [KEY] });
    assert.equal(e.kind, "upstream_auth");
    assert.ok(!e.message.includes(secret), e.message);
    assert.ok(!e.message.includes(KEY), e.message);
    assert.match(e.message, /\[redacted\]/);
  });
});

describe("cohere over a real socket", () => {
  let fake: FakeCohere;
  const transport = createTransport();
  const provider = () => createProvider(conn(fake.url), transport);

  before(async () => {
    fake = await startFakeCohere();
  });
  beforeEach(() => fake.reset());
  after(async () => {
    await transport.close();
    await fake.close();
  });

  test("rerank: the fake's ranking, best first, at most top_n, with the searches billed", async () => {
    const res = await provider().rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS, topN: 3, maxTokensPerDoc: 1024 }, signal());
    const expected = fakeRanking(QUERY, DOCS, 3).map((r) => ({ index: r.index, score: r.relevance_score }));
    assert.deepEqual(res.results, expected);
    assert.equal(res.results[0].index, 0);
    assert.deepEqual(res.usage, { searchUnits: 1 });
    assert.equal(res.model, "rerank-v3.5");
    const r = fake.requests[0];
    assert.equal(r.path, "/v2/rerank");
    assert.equal(r.headers.authorization, `Bearer ${KEY}`);
    assert.deepEqual(r.body, { model: "rerank-v3.5", query: QUERY, documents: DOCS, top_n: 3, max_tokens_per_doc: 1024 });
  });

  test("rerank: 250 documents bill the searches the answer reports", async () => {
    const docs = Array.from({ length: 250 }, (_, i) => `document number ${i} about France`);
    const res = await provider().rerank!({ model: "rerank-english-v3.0", query: QUERY, documents: docs }, signal());
    assert.equal(res.results.length, 250);
    assert.deepEqual(res.usage, { searchUnits: 3 });
  });

  test("embed: float vectors in input order, input tokens as billed, query type sent", async () => {
    const res = await provider().embed!({ model: "embed-v4.0", inputs: ["hello world", "bonjour"], dimensions: 256, inputType: "query" }, signal());
    assert.equal(res.embeddings.length, 2);
    assert.equal(res.embeddings[0].length, 256);
    assert.deepEqual(res.usage, { inputTokens: 3 });
    assert.deepEqual(fake.requests[0].body, { model: "embed-v4.0", texts: ["hello world", "bonjour"], input_type: "search_query", embedding_types: ["float"], output_dimension: 256 });
  });

  test("embed: 200 inputs go as three calls of at most 96, merged in order, tokens summed", async () => {
    const inputs = Array.from({ length: 200 }, (_, i) => `text ${i}`);
    const res = await provider().embed!({ model: "embed-english-v3.0", inputs }, signal());
    assert.equal(res.embeddings.length, 200);
    assert.deepEqual(
      fake.requests.map((r) => r.body.texts.length).sort((a: number, b: number) => b - a),
      [96, 96, 8],
    );
    assert.deepEqual(res.usage, { inputTokens: 400 });
    // Input 150 is the vector the fake made for "text 150", wherever its call landed.
    const single = await provider().embed!({ model: "embed-english-v3.0", inputs: ["text 150"] }, signal());
    assert.deepEqual([...res.embeddings[150]], [...single.embeddings[0]]);
  });

  const statuses: [number, FailureKind][] = [
    [400, "bad_request"],
    [401, "upstream_auth"],
    [402, "quota_exhausted"],
    [403, "upstream_auth"],
    [404, "model_not_found"],
    [422, "bad_request"],
    [429, "rate_limited"],
    [498, "upstream_auth"],
    [499, "canceled"],
    [500, "server_error"],
    [502, "server_error"],
    [503, "overloaded"],
    [504, "timeout"],
  ];
  for (const [status, kind] of statuses) {
    test(`a scripted ${status} from Cohere fails rerank and embed as ${kind}, with the request id`, async () => {
      fake.script([{ kind: "error", status }, { kind: "error", status, noId: true }]);
      for (const call of [() => provider().rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS }, signal()), () => provider().embed!({ model: "embed-v4.0", inputs: ["x"] }, signal())]) {
        await assert.rejects(call(), (e: unknown) => {
          assert.ok(e instanceof ProviderError);
          assert.equal(e.kind, kind);
          assert.equal(e.status, status);
          assert.match(e.message, new RegExp(`^cohere: cohere ${status}: `));
          assert.ok(e.requestId, "the trace id header is the request id");
          return true;
        });
      }
    });
  }

  test("429 with retry-after: rate_limited with the delay", async () => {
    fake.script({ kind: "error", status: 429, retryAfter: 3 });
    await assert.rejects(provider().rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "rate_limited" && e.retryAfterMs === 3000);
  });

  test("the fake's own refusals: a wrong key, an unknown model, a bad field", async () => {
    const wrong = createProvider(conn(fake.url, { apiKey: ["co", "wrong", "key"].join("-") }), transport);
    await assert.rejects(wrong.rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "upstream_auth" && /invalid api token/.test(e.message));
    await assert.rejects(provider().rerank!({ model: "rerank-v9", query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "model_not_found");
    await assert.rejects(provider().rerank!({ model: "rerank-v3.5", query: "   ", documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && /query must not be empty/.test(e.message));
    await assert.rejects(provider().embed!({ model: "rerank-v3.5", inputs: ["x"] }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && /not supported by the embed API/.test(e.message));
  });

  test("no key in error messages, even when the upstream echoes it", async () => {
    fake.script({ kind: "error", status: 401, message: `invalid api token: ${KEY}` });
    await assert.rejects(provider().rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS }, signal()), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.ok(!e.message.includes(KEY), e.message);
      assert.ok(!JSON.stringify({ ...e, message: e.message }).includes(KEY));
      return true;
    });
  });

  test("a 200 that is not JSON is a server_error; a dropped connection is a network failure", async () => {
    fake.script({ kind: "malformed" });
    await assert.rejects(provider().rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
    fake.script({ kind: "disconnect" });
    await assert.rejects(provider().rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "network");
  });
});
