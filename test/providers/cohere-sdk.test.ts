// Oracle: the official cohere-ai SDK (CohereClientV2) against the fake Cohere server, so that the
// fake is proven to speak the real wire format: the fake accepts the SDK's requests (it validates
// strictly), the SDK parses the fake's answers into its own types, and the SDK's own serializers
// (strict: unknown keys fail) accept both the fake's raw answers and what the Cohere adapter sends.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, beforeEach, describe, test } from "node:test";
import { Cohere, CohereClientV2 } from "cohere-ai";
import type { ProviderConfig } from "../../src/config/types.ts";
import { buildBedrockRerankRequest } from "../../src/providers/bedrock/index.ts";
import { createProvider } from "../../src/providers/registry.ts";
import { createTransport } from "../../src/providers/transport.ts";
import { cohereTestKey, fakeRanking, startFakeCohere, type FakeCohere } from "../helpers/fake-cohere.ts";

// The SDK's serializers are not in its package exports: load them by path, as the SDK itself does.
const sdkRequire = createRequire(import.meta.url);
type Schema = { parse(raw: unknown, opts: { unrecognizedObjectKeys: "fail"; skipValidation: false }): { ok: boolean; errors?: unknown[] }; jsonOrThrow(v: unknown, opts?: object): unknown };
const ser = sdkRequire(sdkRequire.resolve("cohere-ai").replace(/index\.js$/, "serialization/index.js")) as Record<string, Schema>;
function strict(schema: string, raw: unknown): void {
  const r = ser[schema].parse(raw, { unrecognizedObjectKeys: "fail", skipValidation: false });
  assert.ok(r.ok, `${schema}: ${JSON.stringify(r.errors)}`);
}

const KEY = cohereTestKey();
const DOCS = ["Carson City is the capital city of Nevada.", "Washington, D.C. is the capital of the United States.", "Capital punishment is legal in some states.", "The capital of France is Paris."];
const QUERY = "What is the capital of the United States?";

let fake: FakeCohere;
let co: CohereClientV2;
const transport = createTransport();

before(async () => {
  fake = await startFakeCohere();
  co = new CohereClientV2({ token: KEY, environment: fake.origin, maxRetries: 0, timeoutInSeconds: 5 });
});
beforeEach(() => fake.reset());
after(async () => {
  await transport.close();
  await fake.close();
});

/** POST a body to the fake as is and return the raw JSON answer. */
async function raw(path: string, body: string): Promise<unknown> {
  const res = await fetch(`${fake.origin}${path}`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body });
  assert.equal(res.status, 200);
  return res.json();
}

describe("cohere-ai SDK against the fake", () => {
  test("rerank: the fake accepts the SDK's request; the SDK reads the ranking and the billed searches", async () => {
    const res = await co.rerank({ model: "rerank-v3.5", query: QUERY, documents: DOCS, topN: 3, maxTokensPerDoc: 512 });
    assert.deepEqual(
      res.results.map((r) => ({ index: r.index, relevance_score: r.relevanceScore })),
      fakeRanking(QUERY, DOCS, 3),
    );
    assert.equal(res.results[0].index, 1);
    assert.equal(res.meta?.billedUnits?.searchUnits, 1);
    assert.equal(res.meta?.apiVersion?.version, "2");
    assert.equal(typeof res.id, "string");
    const sent = fake.requests[0];
    assert.equal(sent.path, "/v2/rerank");
    assert.equal(sent.headers.authorization, `Bearer ${KEY}`);
    strict("V2RerankRequest", sent.body);
    strict("V2RerankResponse", await raw("/v2/rerank", sent.rawBody));
  });

  test("embed: the fake accepts the SDK's request; the SDK reads float vectors and the billed tokens", async () => {
    const res = await co.embed({ model: "embed-v4.0", texts: ["hello world", "goodbye"], inputType: "search_query", embeddingTypes: ["float"], outputDimension: 256 });
    assert.equal(res.embeddings.float?.length, 2);
    assert.equal(res.embeddings.float?.[0].length, 256);
    assert.equal(res.meta?.billedUnits?.inputTokens, 3);
    assert.deepEqual(res.texts, ["hello world", "goodbye"]);
    assert.equal(res.responseType, "embeddings_by_type");
    const sent = fake.requests[0];
    assert.equal(sent.path, "/v2/embed");
    strict("V2EmbedRequest", sent.body);
    strict("EmbedByTypeResponse", await raw("/v2/embed", sent.rawBody));
  });

  test("errors: the SDK raises its typed errors from the fake's bodies", async () => {
    await assert.rejects(co.rerank({ model: "rerank-v9", query: QUERY, documents: DOCS }), (e: unknown) => {
      assert.ok(e instanceof Cohere.NotFoundError);
      assert.equal(e.statusCode, 404);
      assert.match(String((e.body as { message: string }).message), /model 'rerank-v9' not found/);
      return true;
    });
    await assert.rejects(co.rerank({ model: "rerank-v3.5", query: QUERY, documents: [] }), (e: unknown) => e instanceof Cohere.BadRequestError && /documents must not be empty/.test(String((e.body as { message: string }).message)));
    const wrong = new CohereClientV2({ token: ["co", "not", "this", "one"].join("-"), environment: fake.origin, maxRetries: 0 });
    await assert.rejects(wrong.rerank({ model: "rerank-v3.5", query: QUERY, documents: DOCS }), (e: unknown) => e instanceof Cohere.UnauthorizedError);
    fake.script({ kind: "error", status: 429, retryAfter: 1 });
    await assert.rejects(co.rerank({ model: "rerank-v3.5", query: QUERY, documents: DOCS }), (e: unknown) => e instanceof Cohere.TooManyRequestsError);
    fake.script({ kind: "error", status: 499 });
    await assert.rejects(co.embed({ model: "embed-v4.0", texts: ["x"], inputType: "search_document" }), (e: unknown) => e instanceof Cohere.ClientClosedRequestError);
  });
});

describe("the Cohere adapter speaks what the SDK speaks", () => {
  const conn = () =>
    ({ name: "cohere", type: "cohere", baseUrl: fake.origin, apiKey: KEY, headers: {}, timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 }, maxConnections: 2 }) as ProviderConfig;

  test("rerank: the adapter's body is the SDK's body for the same call, field for field", async () => {
    await co.rerank({ model: "rerank-v3.5", query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 256 });
    const res = await createProvider(conn(), transport).rerank!({ model: "rerank-v3.5", query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 256 }, AbortSignal.timeout(5000));
    const [sdk, ours] = fake.requests;
    assert.deepEqual(ours.body, sdk.body);
    strict("V2RerankRequest", ours.body);
    assert.deepEqual(res.results.map((r) => r.index), fakeRanking(QUERY, DOCS, 2).map((r) => r.index));
  });

  test("embed: the adapter's body is the SDK's body for the same call", async () => {
    await co.embed({ model: "embed-v4.0", texts: ["a b", "c"], inputType: "search_document", embeddingTypes: ["float"], outputDimension: 512 });
    await createProvider(conn(), transport).embed!({ model: "embed-v4.0", inputs: ["a b", "c"], inputType: "document", dimensions: 512 }, AbortSignal.timeout(5000));
    const [sdk, ours] = fake.requests;
    assert.deepEqual(ours.body, sdk.body);
    strict("V2EmbedRequest", ours.body);
  });

  test("Bedrock's Cohere rerank body is the SDK's v2 body without model, plus api_version 2 (the SDK's Bedrock client, aws-utils fetchOverride)", () => {
    const sdkV2 = ser.V2RerankRequest.jsonOrThrow({ model: "cohere.rerank-v3-5:0", query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 256 }) as Record<string, unknown>;
    const { model: _model, ...rest } = sdkV2;
    const spec = buildBedrockRerankRequest({ model: "cohere.rerank-v3-5:0", query: QUERY, documents: DOCS, topN: 2, maxTokensPerDoc: 256 }, "bedrock");
    assert.deepEqual(JSON.parse(spec.body!), { ...rest, api_version: 2 });
  });
});
