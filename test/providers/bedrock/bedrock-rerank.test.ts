// Rerank on Bedrock through InvokeModel: Cohere Rerank 3.5's body (api_version 2, top_n,
// max_tokens_per_doc) and Amazon Rerank 1.0's (query and documents; top_n applied to the answer),
// signed and sent over a real socket to the fake Bedrock (which recomputes the SigV4 signature and
// refuses any field a model does not take), searches billed per 100 documents, unknown models
// refused before sending, Bedrock's errors classified.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { bedrockRerankFamily, buildBedrockRerankRequest, createBedrockAdapter } from "../../../src/providers/bedrock/index.ts";
import { createHttpProvider } from "../../../src/providers/http-provider.ts";
import { createTransport } from "../../../src/providers/transport.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { startFakeBedrock, type FakeAwsCredentials, type FakeBedrock } from "../../fakes/bedrock.ts";
import { fakeRanking } from "../../helpers/fake-cohere.ts";

const creds: FakeAwsCredentials = { accessKeyId: ["TEST", "RERANK", "ID"].join(""), secretAccessKey: ["rerank", "test", "secret"].join("-") };
const DOCS = ["Paris is the capital of France.", "Bananas are rich in potassium.", "The capital of Germany is Berlin.", "France borders Spain."];
const QUERY = "capital of France";
const COHERE = "cohere.rerank-v3-5:0";
const AMAZON = "amazon.rerank-v1:0";
const signal = () => AbortSignal.timeout(5000);

describe("bedrock rerank bodies", () => {
  test("families by model id, a foundation-model ARN included", () => {
    assert.equal(bedrockRerankFamily(COHERE), "cohere");
    assert.equal(bedrockRerankFamily(`arn:aws:bedrock:us-west-2::foundation-model/${AMAZON}`), "amazon");
    assert.equal(bedrockRerankFamily("cohere.embed-english-v3"), undefined);
  });

  test("Cohere Rerank 3.5: query, documents, api_version 2, top_n and max_tokens_per_doc; POST /model/{id}/invoke", () => {
    const spec = buildBedrockRerankRequest({ model: COHERE, query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 300 }, "bedrock");
    assert.equal(spec.path, `/model/${encodeURIComponent(COHERE)}/invoke`);
    assert.deepEqual(JSON.parse(spec.body!), { query: QUERY, documents: DOCS, api_version: 2, top_n: 2, max_tokens_per_doc: 300 });
  });

  test("Amazon Rerank 1.0: query and documents only", () => {
    const spec = buildBedrockRerankRequest({ model: AMAZON, query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 300 }, "bedrock");
    assert.deepEqual(JSON.parse(spec.body!), { query: QUERY, documents: DOCS });
  });

  test("another model is refused before sending: model_not_found, unsent", () => {
    assert.throws(
      () => buildBedrockRerankRequest({ model: "amazon.titan-embed-text-v2:0", query: QUERY, documents: DOCS }, "bedrock"),
      (e: unknown) => e instanceof ProviderError && e.kind === "model_not_found" && e.unsent === true && /not a Bedrock rerank model/.test(e.message),
    );
  });
});

describe("bedrock rerank over a real socket", () => {
  let fake: FakeBedrock;
  const transport = createTransport();
  const conn = (): ProviderConfig =>
    ({ name: "bedrock", type: "bedrock", baseUrl: fake.url, headers: {}, timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 }, maxConnections: 4, aws: { region: "us-east-1", ...creds } }) as ProviderConfig;
  const provider = () => createHttpProvider(conn(), createBedrockAdapter(conn()), transport);
  const expected = (topN?: number) => fakeRanking(QUERY, DOCS, topN).map((r) => ({ index: r.index, score: r.relevance_score }));

  before(async () => {
    fake = await startFakeBedrock({ credentials: [creds] });
  });
  beforeEach(() => fake.reset());
  after(async () => {
    await transport.close();
    await fake.close();
  });

  test("Cohere Rerank 3.5: signed, accepted, ranked best first, one search", async () => {
    const res = await provider().rerank!({ model: COHERE, query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 512 }, signal());
    assert.deepEqual(res.results, expected(2));
    assert.deepEqual(res.usage, { searchUnits: 1 });
    assert.equal(res.model, COHERE);
    assert.deepEqual(fake.signatures, [{ accessKeyId: creds.accessKeyId, valid: true, reason: undefined }]);
    assert.deepEqual(fake.requests[0].body, { query: QUERY, documents: DOCS, api_version: 2, top_n: 2, max_tokens_per_doc: 512 });
  });

  test("Amazon Rerank 1.0: top_n applied to the answer; 250 documents are three billed queries", async () => {
    const res = await provider().rerank!({ model: AMAZON, query: QUERY, documents: DOCS, topN: 2 }, signal());
    assert.deepEqual(res.results, expected(2));
    assert.deepEqual(res.usage, { searchUnits: 1 });
    assert.deepEqual(fake.requests[0].body, { query: QUERY, documents: DOCS });
    const many = Array.from({ length: 250 }, (_, i) => `doc ${i}`);
    const big = await provider().rerank!({ model: AMAZON, query: QUERY, documents: many }, signal());
    assert.equal(big.results.length, 250);
    assert.deepEqual(big.usage, { searchUnits: 3 });
  });

  test("Bedrock's errors: throttling is rate_limited, a missing model model_not_found, a bad signature upstream_auth", async () => {
    fake.script({ kind: "error", error: "ThrottlingException", retryAfter: 2 });
    await assert.rejects(provider().rerank!({ model: COHERE, query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "rate_limited" && e.retryAfterMs === 2000);
    fake.script({ kind: "error", error: "ResourceNotFoundException" });
    await assert.rejects(provider().rerank!({ model: AMAZON, query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "model_not_found");
    const badCreds = { region: "us-east-1", accessKeyId: creds.accessKeyId, secretAccessKey: ["wrong", "secret"].join("-") };
    const bad = { ...conn(), aws: badCreds } as ProviderConfig;
    await assert.rejects(createHttpProvider(bad, createBedrockAdapter(bad), transport).rerank!({ model: COHERE, query: QUERY, documents: DOCS }, signal()), (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.kind, "upstream_auth");
      assert.ok(!e.message.includes(badCreds.secretAccessKey));
      return true;
    });
  });

  test("a 200 without results is a server_error", async () => {
    fake.script({ kind: "http", status: 200, body: { id: "x" } });
    await assert.rejects(provider().rerank!({ model: COHERE, query: QUERY, documents: DOCS }, signal()), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
  });
});
