// The Vertex adapter as pure translation: publisher choice and paths, the Claude-on-Vertex body,
// the bearer token from the token source, answer and stream dispatch, error classification
// (google.rpc.Status and Anthropic bodies), embeddings via :predict, and the built-in catalog rows.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { lookupModel } from "../../../src/config/catalog.ts";
import { resolveModelParams } from "../../../src/config/model-params.ts";
import { createSseParser } from "../../../src/providers/sse.ts";
import type { StreamEvent, UpstreamRequest } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { createVertexAdapter, vertexPublisher, type VertexTokenSource } from "../../../src/providers/vertex/index.ts";

function conn(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: "vertex-main",
    type: "vertex",
    baseUrl: "https://us-central1-aiplatform.googleapis.com",
    headers: {},
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    maxConnections: 4,
    compat: { maxTokensField: "max_tokens", streamUsage: false, dropFields: [], usagePaths: [], developerRole: true },
    mock: { ttftMs: 0, interChunkMs: 0, chunks: 1, failureRate: 0, failureKind: "unknown", failAfterChunks: -1, outputTokens: 1 },
    vertex: { project: "my-proj", location: "us-central1" },
    ...overrides,
  };
}

function tokens(): VertexTokenSource & { invalidated: number } {
  return {
    invalidated: 0,
    async token() {
      return "test-access-token";
    },
    invalidate() {
      this.invalidated++;
    },
  };
}

const req = (model: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest => ({ model, messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }], ...extra });
const PREFIX = "/v1/projects/my-proj/locations/us-central1/publishers";

describe("vertex: requests", () => {
  test("Gemini models: generateContent / streamGenerateContent?alt=sse with the Gemini body, no API key", () => {
    const a = createVertexAdapter(conn({ apiKey: "not-for-vertex" }), { tokens: tokens() });
    const unary = a.buildRequest(req("gemini-2.5-flash", { temperature: 0.5 }), false);
    assert.equal(unary.path, `${PREFIX}/google/models/gemini-2.5-flash:generateContent`);
    assert.deepEqual(JSON.parse(unary.body!), { contents: [{ role: "user", parts: [{ text: "Hi" }] }], generationConfig: { temperature: 0.5 } });
    assert.equal(unary.headers["x-goog-api-key"], undefined);
    assert.equal(a.buildRequest(req("gemini-2.5-flash"), true).path, `${PREFIX}/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse`);
  });

  test("Claude models: rawPredict / streamRawPredict, anthropic_version in the body, no model, no version header", () => {
    const a = createVertexAdapter(conn(), { tokens: tokens() });
    const unary = a.buildRequest(req("claude-sonnet-4-5@20250929", { maxOutputTokens: 100 }), false);
    assert.equal(unary.path, `${PREFIX}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict`);
    assert.deepEqual(JSON.parse(unary.body!), { anthropic_version: "vertex-2023-10-16", max_tokens: 100, messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }] });
    assert.equal(unary.headers["anthropic-version"], undefined);
    assert.equal(unary.headers["x-api-key"], undefined);
    const stream = a.buildRequest(req("claude-sonnet-4-5@20250929", { maxOutputTokens: 100 }), true);
    assert.equal(stream.path, `${PREFIX}/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict`);
    assert.equal(JSON.parse(stream.body!).stream, true);
    assert.equal(stream.headers.accept, "text/event-stream");
  });

  test("publisher by model name, or by an explicit prefix", () => {
    assert.deepEqual(vertexPublisher("claude-haiku-4-5@20251001"), { publisher: "anthropic", model: "claude-haiku-4-5@20251001" });
    assert.deepEqual(vertexPublisher("gemini-3-pro-preview"), { publisher: "google", model: "gemini-3-pro-preview" });
    assert.deepEqual(vertexPublisher("anthropic/claude-x"), { publisher: "anthropic", model: "claude-x" });
    assert.deepEqual(vertexPublisher("google/gemma-3"), { publisher: "google", model: "gemma-3" });
  });

  test("global location, a base URL naming the API version, project ids that need escaping", () => {
    const g = createVertexAdapter(conn({ baseUrl: "https://aiplatform.googleapis.com/v1beta1", vertex: { project: "p 1", location: "global" } }), { tokens: tokens() });
    assert.equal(g.buildRequest(req("gemini-2.5-pro"), false).path, "/projects/p%201/locations/global/publishers/google/models/gemini-2.5-pro:generateContent");
  });

  test("authorize adds the bearer token from the token source", async () => {
    const a = createVertexAdapter(conn(), { tokens: tokens() });
    const spec = a.buildRequest(req("gemini-2.5-flash"), false);
    const signed = await a.authorize!(spec, { baseUrl: conn().baseUrl, signal: new AbortController().signal });
    assert.equal(signed.headers.authorization, "Bearer test-access-token");
    assert.equal(spec.headers.authorization, undefined, "the built spec is not mutated");
  });
});

describe("vertex: answers", () => {
  const a = createVertexAdapter(conn(), { tokens: tokens() });

  test("parseResponse reads either publisher's body", () => {
    const g = a.parseResponse(JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "hi" }] }, finishReason: "STOP" }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1 }, modelVersion: "gemini-2.5-flash", responseId: "r1" }), {});
    assert.deepEqual([g.text, g.finishReason, g.usage?.inputTokens, g.usage?.outputTokens], ["hi", "stop", 3, 1]);
    const c = a.parseResponse(
      JSON.stringify({ id: "msg_1", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [{ type: "text", text: "hello" }], stop_reason: "end_turn", usage: { input_tokens: 5, cache_read_input_tokens: 2, cache_creation_input_tokens: 1, output_tokens: 4 } }),
      {},
    );
    assert.deepEqual([c.text, c.finishReason, c.usage?.inputTokens, c.usage?.cachedInputTokens, c.usage?.cacheWriteTokens], ["hello", "stop", 8, 2, 1]);
  });

  const run = (sse: string): StreamEvent[] => {
    const p = createSseParser();
    const tr = a.streamTranslator();
    const out: StreamEvent[] = [];
    for (const e of p.push(new TextEncoder().encode(sse))) out.push(...tr.event(e));
    out.push(...tr.end());
    return out;
  };

  test("streams: Gemini's unnamed events and Anthropic's named ones each go to their translator", () => {
    const g = run(`data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: "A" }] }, finishReason: "STOP" }], usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 1 } })}\r\n\r\n`);
    assert.deepEqual(g.filter((e) => e.type === "text").map((e) => (e as { text: string }).text), ["A"]);
    const c = run(
      [
        ["message_start", { type: "message_start", message: { id: "m", model: "claude", usage: { input_tokens: 3, output_tokens: 1 } } }],
        ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "B" } }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } }],
        ["message_stop", { type: "message_stop" }],
      ]
        .map(([ev, d]) => `event: ${ev}\ndata: ${JSON.stringify(d)}\n\n`)
        .join(""),
    );
    assert.deepEqual(c.filter((e) => e.type === "text").map((e) => (e as { text: string }).text), ["B"]);
    assert.ok(c.some((e) => e.type === "finish" && e.finishReason === "stop"));
  });
});

describe("vertex: errors", () => {
  const google = (code: number, status: string, message: string, details?: unknown[]) => JSON.stringify({ error: { code, message, status, ...(details ? { details } : {}) } });
  const classify = (status: number, body: string) => {
    const t = tokens();
    const e = createVertexAdapter(conn(), { tokens: t }).classifyError(status, body, {});
    return { e, invalidated: t.invalidated };
  };

  const cases: [string, number, string, string][] = [
    ["RESOURCE_EXHAUSTED", 429, google(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: gemini-2.5-flash."), "rate_limited"],
    ["UNAVAILABLE", 503, google(503, "UNAVAILABLE", "The service is currently unavailable."), "overloaded"],
    ["PERMISSION_DENIED", 403, google(403, "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.predict' denied"), "upstream_auth"],
    ["UNAUTHENTICATED", 401, google(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), "upstream_auth"],
    ["NOT_FOUND", 404, google(404, "NOT_FOUND", "Publisher Model `projects/p/locations/l/publishers/google/models/x` was not found"), "model_not_found"],
    ["INVALID_ARGUMENT", 400, google(400, "INVALID_ARGUMENT", "Request contains an invalid argument."), "bad_request"],
    ["INVALID_ARGUMENT (context)", 400, google(400, "INVALID_ARGUMENT", "The input token count (1300000) exceeds the maximum number of tokens allowed (1048576)."), "context_length_exceeded"],
    ["INVALID_ARGUMENT (Claude context)", 400, google(400, "INVALID_ARGUMENT", "prompt is too long: 213462 tokens > 200000 maximum"), "context_length_exceeded"],
    ["array-wrapped RESOURCE_EXHAUSTED (Claude quota)", 429, `[${google(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: anthropic-claude-sonnet-4-5.")}]`, "rate_limited"],
    ["Anthropic overloaded_error", 529, JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }), "overloaded"],
    ["Anthropic context", 400, JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: "prompt is too long: 213462 tokens > 200000 maximum" } }), "context_length_exceeded"],
    ["a proxy's HTML page", 502, "<html>Bad Gateway</html>", "server_error"],
  ];
  for (const [name, status, body, kind] of cases) {
    test(`${name} → ${kind}`, () => {
      const { e } = classify(status, body);
      assert.ok(e instanceof ProviderError);
      assert.equal(e.kind, kind);
      assert.match(e.message, /^vertex-main: /);
      assert.doesNotMatch(e.message, /^vertex-main: (gemini|anthropic)\b/);
    });
  }

  test("a 401 drops the cached token so the next attempt fetches a new one", () => {
    assert.equal(classify(401, google(401, "UNAUTHENTICATED", "expired")).invalidated, 1);
    assert.equal(classify(429, google(429, "RESOURCE_EXHAUSTED", "quota")).invalidated, 0);
  });
});

describe("vertex: embeddings", () => {
  const a = createVertexAdapter(conn(), { tokens: tokens() });

  test(":predict with one instance per input, task type and dimensions", () => {
    const spec = a.buildEmbedRequest!({ model: "text-embedding-005", inputs: ["a b", "c"], dimensions: 4, inputType: "query" });
    assert.equal(spec.path, `${PREFIX}/google/models/text-embedding-005:predict`);
    assert.deepEqual(JSON.parse(spec.body!), { instances: [{ content: "a b", task_type: "RETRIEVAL_QUERY" }, { content: "c", task_type: "RETRIEVAL_QUERY" }], parameters: { outputDimensionality: 4 } });
    assert.deepEqual(JSON.parse(a.buildEmbedRequest!({ model: "gemini-embedding-001", inputs: ["x"] }).body!), { instances: [{ content: "x" }] });
    // gemini-embedding-001 takes one instance per call: the provider splits a batch (http-provider).
    assert.equal(a.embedBatchLimit!("gemini-embedding-001"), 1);
    assert.equal(a.embedBatchLimit!("text-embedding-005"), 250);
  });

  test("predictions become vectors in order; token counts add up", () => {
    const body = JSON.stringify({ predictions: [{ embeddings: { values: [0.5, -0.25], statistics: { token_count: 2, truncated: false } } }, { embeddings: { values: [1, 0], statistics: { token_count: 1 } } }], metadata: { billableCharacterCount: 4 } });
    const r = a.parseEmbedResponse!(body, { model: "text-embedding-005", inputs: ["a b", "c"] });
    assert.deepEqual(r.embeddings.map((v) => [...v]), [[0.5, -0.25], [1, 0]]);
    assert.deepEqual(r.usage, { inputTokens: 3 });
    assert.throws(() => a.parseEmbedResponse!(body, { model: "m", inputs: ["only one"] }), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
  });

  test("Claude has no embeddings", () => {
    assert.throws(() => a.buildEmbedRequest!({ model: "claude-sonnet-4-5@20250929", inputs: ["x"] }), (e: unknown) => e instanceof ProviderError && e.kind === "bad_request");
  });
});

describe("vertex: catalog and parameter rules", () => {
  test("Claude's @-versioned ids are priced like their Anthropic names; Gemini and embedding names are shared", () => {
    assert.equal(lookupModel("claude-sonnet-4-5@20250929"), lookupModel("claude-sonnet-4-5-20250929"));
    assert.equal(lookupModel("claude-haiku-4-5@20251001"), lookupModel("claude-haiku-4-5"));
    assert.equal(lookupModel("claude-opus-4-5@20251101"), lookupModel("claude-opus-4-5"));
    assert.ok(lookupModel("gemini-2.5-flash"));
    assert.ok(lookupModel("text-embedding-005"));
    assert.ok(lookupModel("gemini-embedding-001"));
  });

  test("Claude on Vertex gets Anthropic's rules (by its @-snapshot), Gemini on Vertex Gemini's", () => {
    const claude = resolveModelParams({ type: "vertex" }, "claude-sonnet-4-5@20250929", 64_000);
    assert.equal(claude.source, "Claude Sonnet 4.5");
    assert.equal(claude.thinking, "manual");
    assert.equal(claude.cacheBreakpoints, 4);
    assert.ok(claude.rejects.seed);
    const gemini = resolveModelParams({ type: "vertex" }, "gemini-2.5-flash", 65_536);
    assert.equal(gemini.cacheBreakpoints, undefined);
    assert.equal(gemini.thinking, undefined);
  });
});
