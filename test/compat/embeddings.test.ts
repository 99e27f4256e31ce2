// Embeddings end to end: the official `openai` SDK's embeddings.create against /v1/embeddings and
// the typed client's EmbeddingService.Embed, over real sockets, routed to fake OpenAI, Azure,
// Gemini and OpenAI-compatible upstreams (and the mock): single and batch, float and base64,
// dimensions, fallback between providers, per-input cache hits (the fake sees only the uncached
// inputs), input errors that reach no provider, cost and budgets against hand-computed figures,
// usage records with operation embeddings, Route explaining an embeddings plan, and chat never
// landing on an embedding deployment.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, Dimension, embedTexts, ExclusionReason, Granularity, Operation, type SignalboxClient, userText } from "@signalbox/client";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { hashKey } from "../../src/server/auth.ts";
import { AZURE_TEST_KEY, startFakeAzure, type FakeAzure } from "../fakes/azure.ts";
import { fakeEmbedding } from "../fakes/common.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { mockEmbedding } from "../../src/providers/mock/mock-provider.ts";

const KEY = ["sbx", "test", "embed", "team"].join("_");
const BUDGET_KEY = ["sbx", "test", "embed", "budget"].join("_");

function config(openai: string, compat: string, gemini: string, azure: string): string {
  const t = "timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }";
  return `
server: { max_request_bytes: 1048576 }
providers:
  - { name: openai, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, ${t} }
  - { name: vllm, type: openai-compatible, base_url: "${compat}", api_key: ${OPENAI_TEST_KEY}, ${t} }
  - { name: gemini, type: gemini, base_url: "${gemini}", api_key: ${GEMINI_TEST_KEY}, ${t} }
  - { name: azure, type: azure, base_url: "${azure}", api_key: ${AZURE_TEST_KEY}, api_version: "2024-10-21", ${t} }
  - { name: mock, type: mock, mock: { dimensions: 8 } }
deployments:
  # Embedding models from the catalog need no operations: the catalog says embeddings.
  - { id: openai/small, provider: openai, model: text-embedding-3-small }
  - { id: gemini/embed, provider: gemini, model: gemini-embedding-001 }
  - { id: azure/small, provider: azure, model: emb-small, base_model: text-embedding-3-small }
  - { id: vllm/nomic, provider: vllm, model: nomic-embed-text, operations: [embeddings], pricing: { input: 0.05, output: 0 } }
  - { id: mock/embed, provider: mock, model: mock-embed, operations: [embeddings], pricing: { input: 1, output: 0 } }
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini }
routes:
  - name: embed
    targets: [openai/small, gemini/embed]
    retry: { max_retries: 0 }
  - name: embed-compat
    targets: [openai/small, vllm/nomic]
    retry: { max_retries: 0 }
  - name: embed-cached
    targets: [openai/small]
    cache: { enabled: true }
  - name: mixed
    targets: [openai/small, openai/gpt-4o-mini]
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: thrifty, hash: "${hashKey(BUDGET_KEY)}", team: b, role: service, budget: { period: month, limit_usd: 0.00000015 } }
`;
}

let openai: FakeOpenAI;
let vllm: FakeOpenAI;
let gemini: FakeGemini;
let azure: FakeAzure;
let t: TestGateway;
let sdk: OpenAI;
let typed: SignalboxClient;

const dims = (model: string) => (/large/.test(model) ? 3072 : 1536);
const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.equal(Math.fround(a[i]), Math.fround(b[i]), `component ${i}`);
};
const lastBody = (f: { requests: { body: unknown }[] }) => f.requests[f.requests.length - 1].body as Record<string, unknown>;

before(async () => {
  [openai, vllm, gemini, azure] = await Promise.all([startFakeOpenAI(), startFakeOpenAI({ models: ["nomic-embed-text"] }), startFakeGemini(), startFakeAzure({ deployments: { "emb-small": "text-embedding-3-small" } })]);
  t = await startTestGateway(config(openai.url, vllm.url, gemini.origin, azure.origin));
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
after(async () => {
  await t.close();
  await Promise.all([openai.close(), vllm.close(), gemini.close(), azure.close()]);
});
beforeEach(() => {
  for (const f of [openai, vllm, gemini, azure]) f.reset();
});

describe("openai SDK embeddings.create", () => {
  test("single input, floats, routed to OpenAI: the fake's exact vector and usage", async () => {
    const res = await sdk.embeddings.create({ model: "openai/small", input: "the quick brown fox", encoding_format: "float" });
    assert.equal(res.object, "list");
    assert.equal(res.data.length, 1);
    assert.equal(res.data[0].object, "embedding");
    assert.equal(res.data[0].index, 0);
    close(res.data[0].embedding, fakeEmbedding("the quick brown fox", 1536));
    assert.equal(res.model, "text-embedding-3-small");
    assert.deepEqual(res.usage, { prompt_tokens: 4, total_tokens: 4 });
    assert.equal(openai.requests[0].path, "/v1/embeddings");
    assert.deepEqual(lastBody(openai).input, ["the quick brown fox"]);
  });

  test("batch in base64 (the SDK's default, decoded by the SDK) equals the floats", async () => {
    const input = ["alpha", "beta gamma", "delta epsilon zeta"];
    const b64 = await sdk.embeddings.create({ model: "openai/small", input });
    const floats = await sdk.embeddings.create({ model: "openai/small", input, encoding_format: "float" });
    assert.deepEqual(
      b64.data.map((d) => d.index),
      [0, 1, 2],
    );
    b64.data.forEach((d, i) => {
      close(d.embedding, fakeEmbedding(input[i], 1536));
      close(d.embedding, floats.data[i].embedding);
    });
    // The raw wire: base64 of little-endian float32s, as OpenAI sends it.
    const raw = await fetch(`${t.url}/v1/embeddings`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "openai/small", input: "alpha", encoding_format: "base64" }) });
    const json = (await raw.json()) as { data: { embedding: string }[] };
    const buf = Buffer.from(json.data[0].embedding, "base64");
    assert.equal(buf.length, 1536 * 4);
    assert.equal(buf.readFloatLE(0), Math.fround(fakeEmbedding("alpha", 1536)[0]));
  });

  test("dimensions reach the upstream and shape the vectors", async () => {
    const res = await sdk.embeddings.create({ model: "openai/small", input: ["short vector"], dimensions: 256 });
    assert.equal(res.data[0].embedding.length, 256);
    assert.equal(lastBody(openai).dimensions, 256);
    close(res.data[0].embedding, fakeEmbedding("short vector", 256));
  });

  test("Gemini: embedContent for one input, batchEmbedContents for several, outputDimensionality", async () => {
    const one = await sdk.embeddings.create({ model: "gemini/embed", input: "solo", dimensions: 64 });
    close(one.data[0].embedding, fakeEmbedding("solo", 64));
    assert.match(gemini.requests[0].path, /\/v1beta\/models\/gemini-embedding-001:embedContent$/);
    assert.equal((lastBody(gemini) as { outputDimensionality: number }).outputDimensionality, 64);
    const many = await sdk.embeddings.create({ model: "gemini/embed", input: ["a b", "c d e"], dimensions: 16 });
    assert.match(gemini.requests[1].path, /:batchEmbedContents$/);
    const reqs = (lastBody(gemini) as { requests: { model: string }[] }).requests;
    assert.deepEqual(
      reqs.map((r) => r.model),
      ["models/gemini-embedding-001", "models/gemini-embedding-001"],
    );
    close(many.data[1].embedding, fakeEmbedding("c d e", 16));
    // Gemini reports no token counts: the gateway estimates them (and says so in the record).
    assert.ok(many.usage.prompt_tokens > 0);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.usageEstimated, true);
  });

  test("OpenAI-compatible server (vLLM / Ollama shape) and Azure's deployments path with api-version", async () => {
    const v = await sdk.embeddings.create({ model: "vllm/nomic", input: ["local"] });
    close(v.data[0].embedding, fakeEmbedding("local", 1536));
    assert.equal(vllm.requests[0].path, "/v1/embeddings");
    const a = await sdk.embeddings.create({ model: "azure/small", input: ["cloud"], dimensions: 32 });
    close(a.data[0].embedding, fakeEmbedding("cloud", 32));
    assert.equal(azure.requests[0].path, "/openai/deployments/emb-small/embeddings");
    assert.equal(azure.requests[0].query["api-version"], "2024-10-21");
  });

  test("fallback: OpenAI 429 → Gemini; OpenAI 500 → the OpenAI-compatible server", async () => {
    openai.script({ kind: "error", error: "rate_limit" });
    const g = await sdk.embeddings.create({ model: "embed", input: ["fall", "back"], dimensions: 8 });
    close(g.data[0].embedding, fakeEmbedding("fall", 8));
    assert.equal(openai.requests.length, 1);
    assert.equal(gemini.requests.length, 1);
    const rec = t.usage.recent().at(-1)!;
    assert.deepEqual(
      rec.attempts.map((a) => [a.deployment, a.outcome, a.failureKind]),
      [
        ["openai/small", "failed", "rate_limited"],
        ["gemini/embed", "succeeded", undefined],
      ],
    );
    assert.equal(rec.deployment, "gemini/embed");

    openai.script({ kind: "error", error: "server_error" });
    const c = await sdk.embeddings.create({ model: "embed-compat", input: "second" });
    close(c.data[0].embedding, fakeEmbedding("second", 1536));
    assert.equal(vllm.requests.length, 1);
  });

  test("partial cache hits: the upstream sees only the uncached inputs, billed alone, merged in order", async () => {
    const first = await sdk.embeddings.create({ model: "embed-cached", input: ["red apple", "green pear"], encoding_format: "float" });
    assert.deepEqual(lastBody(openai).input, ["red apple", "green pear"]);
    assert.equal(first.usage.prompt_tokens, 4);
    const second = await sdk.embeddings.create({ model: "embed-cached", input: ["green pear", "blue plum tree", "red apple"], encoding_format: "float" });
    assert.equal(openai.requests.length, 2);
    assert.deepEqual(lastBody(openai).input, ["blue plum tree"]);
    ["green pear", "blue plum tree", "red apple"].forEach((s, i) => close(second.data[i].embedding, fakeEmbedding(s, 1536)));
    // Only "blue plum tree" (3 tokens) went upstream: 3 × $0.02/M = 60 nano-USD.
    assert.equal(second.usage.prompt_tokens, 3);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.cost.total, 60);
    assert.equal(rec.cacheHit, false);
    // All cached: no upstream call, nothing billed.
    const third = await sdk.embeddings.create({ model: "embed-cached", input: ["red apple", "blue plum tree"] });
    assert.equal(openai.requests.length, 2);
    assert.equal(third.usage.prompt_tokens, 0);
    assert.equal(t.usage.recent().at(-1)!.cacheHit, true);
    // The request cache header turns it off.
    await sdk.embeddings.create({ model: "embed-cached", input: ["red apple"] }, { headers: { "x-signalbox-cache": "bypass" } });
    assert.equal(openai.requests.length, 3);
  });

  test("bad input: OpenAI-shaped 400 naming the field, nothing reaches a provider", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ model: "openai/small", input: [] }, "input"],
      [{ model: "openai/small", input: [[1, 2, 3]] }, "input"],
      [{ model: "openai/small", input: ["ok", ""] }, "input[1]"],
      [{ model: "openai/small", input: "x", dimensions: 0 }, "dimensions"],
      [{ model: "openai/small", input: "x", encoding_format: "int8" }, "encoding_format"],
      [{ input: "x" }, "model"],
    ];
    for (const [body, param] of cases) {
      const err = await sdk.embeddings.create(body as never).catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, `${JSON.stringify(body)}: ${String(err)}`);
      assert.equal((err as { param?: string }).param, param);
      assert.match((err as Error).message, new RegExp(`^400 ${param.replace(/[[\]]/g, "\\$&")}: `));
    }
    assert.equal(openai.requests.length, 0);
  });

  test("chat never lands on an embedding deployment, nor embeddings on a chat one", async () => {
    const err = await sdk.chat.completions.create({ model: "openai/small", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal((err as { param?: string }).param, "model");
    assert.match((err as Error).message, /has no deployment that serves chat \(its deployments serve embeddings\)/);
    const chat = await sdk.chat.completions.create({ model: "mixed", messages: [{ role: "user", content: "hello" }] });
    assert.equal(openai.requests.length, 1);
    assert.equal(openai.requests[0].path, "/v1/chat/completions");
    assert.equal(lastBody(openai).model, "gpt-4o-mini");
    assert.ok(chat.choices[0].message.content);
    const e2 = await sdk.embeddings.create({ model: "openai/gpt-4o-mini", input: "x" }).catch((e: unknown) => e);
    assert.ok(e2 instanceof OpenAI.BadRequestError);
    assert.match((e2 as Error).message, /serves embeddings/);
    const viaRoute = await sdk.embeddings.create({ model: "mixed", input: "x" });
    assert.equal(openai.requests.at(-1)!.path, "/v1/embeddings");
    assert.equal(viaRoute.data.length, 1);
  });
});

describe("typed client EmbeddingService.Embed over Connect", () => {
  test("vectors (packed by default, or floats), usage, cost, attempts, cache hits per input", async () => {
    const { vectors, response } = await embedTexts(typed, "openai/small", ["one two", "three"], { dimensions: 12 });
    close(vectors[0], fakeEmbedding("one two", 12));
    close(vectors[1], fakeEmbedding("three", 12));
    assert.equal(response.embeddings[0].values.length, 0, "packed travels as bytes");
    assert.equal(response.embeddings[0].packed.length, 48);
    assert.equal(response.deployment, "openai/small");
    assert.equal(response.dimensions, 12);
    // 3 tokens at $0.02/M = 60 nano-USD.
    assert.equal(response.usage?.inputTokens, 3n);
    assert.equal(response.cost?.totalNanoUsd, 60n);
    assert.equal(response.attempts.length, 1);
    assert.ok(response.traceId);
    const floats = await typed.embedding.embed({ model: "mock/embed", inputs: ["same", "same"] });
    assert.equal(floats.embeddings[0].values.length, 8);
    close(floats.embeddings[0].values, mockEmbedding("same", 8));
    close(floats.embeddings[0].values, floats.embeddings[1].values);
    assert.deepEqual(
      floats.embeddings.map((e) => e.cacheHit),
      [false, false],
    );
  });

  test("invalid_argument naming the field", async () => {
    const err = await typed.embedding.embed({ model: "openai/small", inputs: [] }).catch((e: unknown) => e);
    assert.match(String((err as Error).message), /inputs: must contain at least one input/);
    assert.equal(openai.requests.length, 0);
  });

  test("a usage record with operation embeddings, in GetRequest", async () => {
    const { response } = await embedTexts(typed, "openai/small", "record me");
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.id, response.id);
    assert.equal(rec.operation, "embeddings");
    assert.equal(rec.streamed, false);
    assert.equal(rec.usage.inputTokens, 2);
    assert.equal(rec.usage.outputTokens, 0);
    assert.equal(rec.cost.total, 40);
    await t.gw.core.usage.flush();
    const got = await typed.usage.getRequest({ id: response.id });
    assert.equal(got.record?.operation, Operation.EMBEDDINGS);
  });

  test("GetUsage groups and filters by operation", async () => {
    const since = Date.now() - 1000;
    await typed.embedding.embed({ model: "openai/small", inputs: ["one", "two"], tags: ["op-dim"] });
    await typed.embedding.embed({ model: "openai/small", inputs: ["three"], tags: ["op-dim"] });
    await typed.chat.complete({ model: "openai/gpt-4o-mini", messages: [userText("hi")], tags: ["op-dim"] });
    await t.gw.core.usage.flush();
    const range = { startTime: timestampFromMs(since), granularity: Granularity.TOTAL };
    const tag = { dimension: Dimension.TAG, values: ["op-dim"] };
    const by = await typed.usage.getUsage({ ...range, groupBy: [Dimension.OPERATION], filters: [tag] });
    assert.deepEqual(by.rows.map((r) => [r.group.operation, Number(r.requests)]).sort(), [
      ["chat", 1],
      ["embeddings", 2],
    ]);
    const embedOnly = await typed.usage.getUsage({ ...range, filters: [tag, { dimension: Dimension.OPERATION, values: ["embeddings"] }] });
    assert.equal(Number(embedOnly.rows[0].requests), 2);
    assert.equal(Number(embedOnly.rows[0].usage?.outputTokens), 0);
  });

  test("Route explains an embeddings plan: only embedding deployments are candidates", async () => {
    const plan = await typed.route.routeEmbedding({ model: "mixed", inputs: ["what goes where"] });
    assert.equal(plan.operation, Operation.EMBEDDINGS);
    assert.deepEqual(
      plan.candidates.map((c) => c.deployment),
      ["openai/small"],
    );
    const ex = plan.excluded.find((e) => e.deployment === "openai/gpt-4o-mini");
    assert.equal(ex?.reason, ExclusionReason.WRONG_OPERATION);
    // 3 tokens at $0.02/M, no output.
    assert.equal(plan.candidates[0].expectedCostNanoUsd, 60n);
    const chat = await typed.route.route({ model: "mixed", messages: [userText("hi")] });
    assert.equal(chat.operation, Operation.CHAT);
    assert.deepEqual(
      chat.candidates.map((c) => c.deployment),
      ["openai/gpt-4o-mini"],
    );
    assert.equal(chat.excluded.find((e) => e.deployment === "openai/small")?.reason, ExclusionReason.WRONG_OPERATION);
    assert.equal(openai.requests.length, 0, "Route calls no provider");
  });
});

describe("cost and budgets", () => {
  test("a key budget of 150 nano-USD: the first 5-token batch (100 nano-USD) passes, the next is refused", async () => {
    const thrifty = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: BUDGET_KEY, maxRetries: 0 });
    // The fake counts words: 5 tokens × $0.02/M = 100 nano-USD (reserved: its tokenizer estimate, 5).
    const ok = await thrifty.embeddings.create({ model: "openai/small", input: ["one two three", "four five"] });
    assert.equal(ok.usage.prompt_tokens, 5);
    assert.equal(t.usage.recent().at(-1)!.cost.total, 100);
    const refused = await thrifty.embeddings.create({ model: "openai/small", input: "six seven eight nine ten" }).catch((e: unknown) => e);
    assert.ok(refused instanceof OpenAI.RateLimitError, String(refused));
    assert.match((refused as Error).message, /budget exhausted: monthly budget of key "thrifty"/);
    assert.equal(openai.requests.length, 1);
  });
});
