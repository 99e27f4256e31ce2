// End to end through the whole gateway over a real socket, against the fake OpenRouter server:
// Bearer auth plus the connection's extra headers, OpenRouter's dialect (max_tokens, reasoning
// object, system instead of developer, no stream_options because usage always comes), `: OPENROUTER
// PROCESSING` comments, reasoning deltas, cache-write tokens, errors inside a 200 (top-level and on
// the choice), its error catalogue, and the router behaviours shared by the OpenAI family.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { FailureKind, ImageDetail, ReasoningEffort, Role } from "@signalbox/client";
import { OPENROUTER_TEST_KEY, startFakeOpenRouter, type FakeOpenRouter, type OpenRouterErrorName, type OpenRouterScenario } from "../fakes/openrouter.ts";
import {
  ask,
  assertFailure,
  attemptViews,
  BACKUP_DEPLOYMENTS_YAML,
  BACKUP_PROVIDER_YAML,
  BACKUP_REPLY,
  collect,
  cost,
  costView,
  estimatedUsage,
  errorInfo,
  finishName,
  kindName,
  PROTOCOLS,
  rejection,
  routerBehaviourSuite,
  startEnv,
  usageView,
  waitForRecord,
  type ChatRequestInit,
  type Env,
} from "./openai-family-harness.ts";

const DEP = "openrouter/claude-sonnet";
const MODEL = "anthropic/claude-sonnet-4.5";
const GPT = "openrouter/gpt-4o";

function config(baseUrl: string, apiKey = OPENROUTER_TEST_KEY): string {
  return `
providers:
  - name: openrouter
    type: openrouter
    base_url: ${baseUrl}
    api_key: ${apiKey}
    headers: { HTTP-Referer: "https://signalbox.test", X-Title: Signalbox e2e }
    timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }
${BACKUP_PROVIDER_YAML}
deployments:
  - id: ${DEP}
    provider: openrouter
    model: ${MODEL}
    pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 }
    capabilities: [tools, vision, json_mode, streaming, reasoning]
  - { id: ${GPT}, provider: openrouter, model: openai/gpt-4o, pricing: { input: 2.5, output: 10 } }
${BACKUP_DEPLOYMENTS_YAML}
routes:
  - { name: solo, targets: [${DEP}], retry: { max_retries: 0 } }
  - name: with-backup
    targets: [${DEP}, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 1, max_delay_ms: 5 }
    timeouts: { first_token_ms: 250, idle_ms: 1000, attempt_ms: 3000, total_ms: 5000 }
  - { name: long-context, targets: [${DEP}, backup/mock, backup/big], retry: { max_retries: 0 } }
  - name: retrying
    targets: [${DEP}, backup/mock]
    retry: { max_retries: 1, base_delay_ms: 50, max_delay_ms: 100, max_retry_after_ms: 500 }
`;
}

let fake: FakeOpenRouter;
before(async () => {
  fake = await startFakeOpenRouter();
});
after(() => fake.close());
beforeEach(() => fake.reset());

async function env(t: TestContext, yaml = config(fake.url)): Promise<Env> {
  const e = await startEnv(yaml);
  t.after(() => e.close());
  return e;
}

const last = () => fake.requests[fake.requests.length - 1];

describe("text", () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: unary text with auth and the connection's headers; served model, usage and cost`, async (t) => {
      const { clients } = await env(t);
      fake.script({ kind: "text", text: "Hello via OpenRouter", usage: { input: 100, output: 20 }, cost: 0.99 });
      const res = await clients[protocol].chat.complete(ask(DEP, "hello"));
      assert.equal(res.message?.content[0]?.part.value, "Hello via OpenRouter");
      assert.equal(res.deployment, DEP);
      assert.equal(res.provider, "openrouter");
      assert.equal(res.providerModel, MODEL);
      assert.equal(finishName(res.finishReason), "STOP");
      assert.equal(res.rawFinishReason, "end_turn", "the upstream provider's own finish reason");
      assert.deepEqual(usageView(res.usage), { input: 100, output: 20, cached: 0, cacheWrite: 0, reasoning: 0, total: 120, estimated: false });
      // The bill is OpenRouter's own usage.cost ($0.99 = 990,000,000 nano-USD); the components are the
      // configured prices' figure (100 × $3/M + 20 × $15/M = 600,000), kept beside it.
      assert.deepEqual(costView(res.cost), { ...cost({ input: 300_000, output: 300_000 }), total: 990_000_000 });
      assert.equal(res.cost?.providerReportedNanoUsd, 990_000_000n);

      const up = last();
      assert.equal(up.path, "/api/v1/chat/completions");
      assert.equal(up.headers.authorization, `Bearer ${OPENROUTER_TEST_KEY}`);
      assert.equal(up.headers["http-referer"], "https://signalbox.test");
      assert.equal(up.headers["x-title"], "Signalbox e2e");
      assert.deepEqual(up.body, { model: MODEL, messages: [{ role: "user", content: "hello" }] });
    });

    test(`${protocol}: streamed text through processing comments, usage without stream_options`, async (t) => {
      const { clients } = await env(t);
      fake.script({ kind: "text", text: "Ça marche très bien 👍", usage: { input: 30, output: 12 }, processingComments: 3, chunking: "hostile" });
      const c = await collect(clients[protocol], ask(DEP, "stream"));
      assert.equal(c.error, undefined, c.error?.message);
      assert.equal(c.text, "Ça marche très bien 👍");
      assert.match(c.order.join(","), /^start(,delta)+,finish$/);
      assert.equal(c.start?.providerModel, MODEL);
      assert.equal(finishName(c.finish!.finishReason), "STOP");
      assert.deepEqual(usageView(c.finish?.usage), { input: 30, output: 12, cached: 0, cacheWrite: 0, reasoning: 0, total: 42, estimated: false });
      assert.deepEqual(costView(c.finish?.cost), cost({ input: 90_000, output: 180_000 }));
      assert.deepEqual(last().body, { model: MODEL, messages: [{ role: "user", content: "stream" }], stream: true });
    });
  }

  test("OpenRouter dialect: max_tokens, reasoning object, developer sent as system", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({
      model: DEP,
      messages: [
        { role: Role.DEVELOPER, content: [{ part: { case: "text", value: "Be brief." } }] },
        { role: Role.USER, content: [{ part: { case: "text", value: "hi" } }] },
      ],
      maxOutputTokens: 256,
      reasoningEffort: ReasoningEffort.HIGH,
      temperature: 0.2,
    });
    assert.deepEqual(last().body, {
      model: MODEL,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      max_tokens: 256,
      reasoning: { effort: "high" },
      temperature: 0.2,
    });
  });

  test("provider_model is the model OpenRouter served", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "x", model: "anthropic/claude-sonnet-4.5-20250929" });
    const res = await client.chat.complete(ask(DEP, "hi"));
    assert.equal(res.providerModel, "anthropic/claude-sonnet-4.5-20250929");
  });
});

describe("reasoning and usage", () => {
  test("unary: reasoning text, cached, cache-write and reasoning tokens, each priced", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "42", reasoning: "Let me think it through.", usage: { input: 1000, cached: 300, cacheWrite: 200, output: 400, reasoning: 100 } });
    const res = await client.chat.complete(ask(DEP, "meaning of life?"));
    assert.equal(res.message?.content[0]?.part.value, "42");
    assert.equal(res.reasoning, "Let me think it through.");
    assert.deepEqual(usageView(res.usage), { input: 1000, output: 400, cached: 300, cacheWrite: 200, reasoning: 100, total: 1400, estimated: false });
    // 500 uncached × 3, 300 cached × 0.3, 200 written × 3.75, 300 output × 15, 100 reasoning × 15 (output price), USD/M
    assert.deepEqual(costView(res.cost), cost({ input: 1_500_000, cachedInput: 90_000, cacheWrite: 750_000, output: 4_500_000, reasoning: 1_500_000 }));
  });

  test("stream: reasoning deltas come before the text, usage from the last chunk", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "Forty two.", reasoning: "Hmm, an old question.", usage: { input: 50, output: 25, reasoning: 15 }, chunkDelayMs: 1 });
    const c = await collect(client, ask(DEP, "meaning?"));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.reasoning, "Hmm, an old question.");
    assert.equal(c.text, "Forty two.");
    // No reasoning arrives after the first text.
    const firstText = c.events.findIndex((e) => e.event.case === "delta" && e.event.value.text !== "");
    assert.ok(firstText > 0);
    assert.deepEqual(
      c.events.slice(firstText + 1).filter((e) => e.event.case === "delta" && e.event.value.reasoning !== ""),
      [],
    );
    assert.deepEqual(usageView(c.finish?.usage), { input: 50, output: 25, cached: 0, cacheWrite: 0, reasoning: 15, total: 75, estimated: false });
  });
});

const TOOLS: ChatRequestInit["tools"] = [{ name: "search_docs", description: "Search the docs", parameters: { type: "object", properties: { q: { type: "string" } } } }];

describe("tools", () => {
  test("unary: tool definitions and a named tool choice go upstream; calls come back", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ id: "call_s1", arguments: { q: "fallbacks" } }] });
    const res = await client.chat.complete(ask(DEP, "search", { tools: TOOLS, toolChoice: { choice: { case: "tool", value: "search_docs" } } }));
    assert.deepEqual(
      res.message?.toolCalls.map((c) => [c.id, c.name, c.arguments]),
      [["call_s1", "search_docs", '{"q":"fallbacks"}']],
    );
    assert.equal(finishName(res.finishReason), "TOOL_CALLS");
    assert.deepEqual(last().body.tools, [
      { type: "function", function: { name: "search_docs", description: "Search the docs", parameters: { type: "object", properties: { q: { type: "string" } } } } },
    ]);
    assert.deepEqual(last().body.tool_choice, { type: "function", function: { name: "search_docs" } });
  });

  test("stream: text then two tool calls, reassembled", async (t) => {
    const { client } = await env(t);
    fake.script({
      kind: "tool_calls",
      text: "Searching both. ",
      calls: [
        { id: "call_a", arguments: { q: "retry" } },
        { id: "call_b", arguments: { q: "timeouts" } },
      ],
      chunking: "hostile",
    });
    const c = await collect(client, ask(DEP, "search two", { tools: TOOLS }));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.text, "Searching both. ");
    assert.deepEqual(c.toolCalls, [
      { index: 0, id: "call_a", name: "search_docs", arguments: '{"q":"retry"}' },
      { index: 1, id: "call_b", name: "search_docs", arguments: '{"q":"timeouts"}' },
    ]);
    assert.equal(finishName(c.finish!.finishReason), "TOOL_CALLS");
  });

  test("follow-up with the assistant calls and two tool results", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({
      model: DEP,
      tools: TOOLS,
      messages: [
        { role: Role.USER, content: [{ part: { case: "text", value: "search two" } }] },
        {
          role: Role.ASSISTANT,
          toolCalls: [
            { id: "call_a", name: "search_docs", arguments: '{"q":"retry"}' },
            { id: "call_b", name: "search_docs", arguments: '{"q":"timeouts"}' },
          ],
        },
        { role: Role.TOOL, toolCallId: "call_a", content: [{ part: { case: "text", value: "retry doc" } }] },
        { role: Role.TOOL, toolCallId: "call_b", content: [{ part: { case: "text", value: "timeouts doc" } }], isError: true },
      ],
    });
    assert.deepEqual(last().body.messages, [
      { role: "user", content: "search two" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "search_docs", arguments: '{"q":"retry"}' } },
          { id: "call_b", type: "function", function: { name: "search_docs", arguments: '{"q":"timeouts"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_a", content: "retry doc" },
      { role: "tool", tool_call_id: "call_b", content: "timeouts doc" },
    ]);
  });
});

describe("image input", () => {
  test("bytes and URL images in the upstream body", async (t) => {
    const { client } = await env(t);
    const gif = new TextEncoder().encode("GIF89a");
    await client.chat.complete({
      model: DEP,
      messages: [
        {
          role: Role.USER,
          content: [
            { part: { case: "text", value: "describe" } },
            { part: { case: "image", value: { source: { case: "data", value: gif }, mediaType: "image/gif" } } },
            { part: { case: "image", value: { source: { case: "url", value: "https://example.com/b.webp" }, detail: ImageDetail.LOW } } },
          ],
        },
      ],
    });
    assert.deepEqual(last().body.messages[0].content, [
      { type: "text", text: "describe" },
      { type: "image_url", image_url: { url: "data:image/gif;base64,R0lGODlh" } },
      { type: "image_url", image_url: { url: "https://example.com/b.webp", detail: "low" } },
    ]);
  });
});

describe("finish reasons", () => {
  const cases: Array<{ raw: string; unified: string; scenario: OpenRouterScenario }> = [
    // The raw value is the upstream provider's own (OpenRouter's native_finish_reason; the fake serves Anthropic).
    { raw: "end_turn", unified: "STOP", scenario: { kind: "text", text: "done" } },
    { raw: "max_tokens", unified: "LENGTH", scenario: { kind: "text", text: "trun", finishReason: "length" } },
    { raw: "tool_use", unified: "TOOL_CALLS", scenario: { kind: "tool_calls" } },
    { raw: "refusal", unified: "CONTENT_FILTER", scenario: { kind: "text", text: "I won't", finishReason: "content_filter" } },
  ];
  for (const { raw, unified, scenario } of cases) {
    test(`unary and stream: ${raw} → ${unified}`, async (t) => {
      const { client } = await env(t);
      fake.script([scenario, scenario]);
      const res = await client.chat.complete(ask(DEP, "go", { tools: TOOLS }));
      assert.equal(finishName(res.finishReason), unified);
      assert.equal(res.rawFinishReason, raw);
      const c = await collect(client, ask(DEP, "go", { tools: TOOLS }));
      assert.equal(c.error, undefined, c.error?.message);
      assert.equal(finishName(c.finish!.finishReason), unified);
      assert.equal(c.finish?.rawFinishReason, raw);
    });
  }

  test('finish_reason "error" is a failure: unary falls back, a stream after content ends unavailable', async (t) => {
    const { client } = await env(t);
    fake.script([
      { kind: "text", text: "half an answer", finishReason: "error" },
      { kind: "text", text: "half an answer", finishReason: "error", chunkDelayMs: 5 },
    ]);
    const res = await client.chat.complete(ask("with-backup", "hello"));
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(
      attemptViews(res.attempts).map((a) => a.kind ?? a.outcome),
      ["SERVER_ERROR", "SUCCEEDED"],
    );
    const c = await collect(client, ask("with-backup", "hello"));
    assert.equal(c.text, "half an answer");
    const info = assertFailure(c.error, Code.Unavailable, FailureKind.STREAM_INTERRUPTED);
    assert.equal(info.deliveredChars, 14);
  });
});

describe("failures (route without fallback, no retries)", () => {
  const cases: Array<{ error: OpenRouterErrorName; status: number; kind: FailureKind; code: Code }> = [
    { error: "bad_request", status: 400, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument },
    { error: "invalid_model", status: 400, kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable },
    { error: "context_length_exceeded", status: 400, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument },
    { error: "provider_error", status: 400, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument },
    { error: "unauthorized", status: 401, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable },
    { error: "insufficient_credits", status: 402, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable },
    { error: "moderation", status: 403, kind: FailureKind.CONTENT_FILTERED, code: Code.InvalidArgument },
    { error: "guardrail", status: 403, kind: FailureKind.CONTENT_FILTERED, code: Code.InvalidArgument },
    { error: "no_endpoints", status: 404, kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable },
    { error: "timeout", status: 408, kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded },
    { error: "payload_too_large", status: 413, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument },
    { error: "rate_limit", status: 429, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted },
    { error: "capacity_exhausted", status: 429, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted },
    { error: "server_error", status: 500, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { error: "bad_gateway", status: 502, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { error: "no_provider", status: 503, kind: FailureKind.OVERLOADED, code: Code.Unavailable },
    { error: "gateway_timeout", status: 504, kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded },
  ];
  for (const { error, status, kind, code } of cases) {
    test(`HTTP ${status} ${error} → ${Code[code]} / ${kindName(kind)} (unary and stream)`, async (t) => {
      const { client } = await env(t);
      fake.script([{ kind: "error", error }, { kind: "error", error }]);
      const err = await rejection(client.chat.complete(ask("solo", "hello")));
      const info = assertFailure(err, code, kind);
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.deepEqual(attemptViews(info.attempts), [{ deployment: DEP, outcome: "FAILED", kind: kindName(kind), status, reason: "primary" }]);
      const c = await collect(client, ask("solo", "hello"));
      const sinfo = assertFailure(c.error, code, kind);
      assert.deepEqual(attemptViews(sinfo.attempts), [{ deployment: DEP, outcome: "FAILED", kind: kindName(kind), status, reason: "primary" }]);
    });
  }

  test("the provider's raw error is surfaced in the attempt's message", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "provider_error" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = errorInfo(err);
    assert.match(info.attempts[0].errorMessage, /prompt is too long: 213462 tokens > 200000 maximum/);
  });

  test("capacity_exhausted carries OpenRouter's retry-after to the caller", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "capacity_exhausted" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.ResourceExhausted, FailureKind.RATE_LIMITED);
    assert.equal(info.retryAfterMs, 1000);
    assert.equal(err.metadata.get("retry-after"), "1");
  });

  test("a wrong key in the gateway's config: unavailable / upstream_auth, never unauthenticated", async (t) => {
    const { client } = await env(t, config(fake.url, "sk-or-v1-0123456789abcdef"));
    const err = await rejection(client.chat.complete(ask(DEP, "hello")));
    const info = assertFailure(err, Code.Unavailable, FailureKind.UPSTREAM_AUTH);
    assert.notEqual(err.code, Code.Unauthenticated);
    assert.equal(info.attempts[0].httpStatus, 401);
  });

  test("an error inside a 200 (unary): unavailable / server_error with the embedded status", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error_in_200" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.Unavailable, FailureKind.SERVER_ERROR);
    assert.deepEqual(attemptViews(info.attempts), [{ deployment: DEP, outcome: "FAILED", kind: "SERVER_ERROR", status: 502, reason: "primary" }]);
  });

  test("an error inside a 200 stream before any content: unavailable / server_error", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error_in_200", error: "no_provider" });
    const c = await collect(client, ask("solo", "hello"));
    const info = assertFailure(c.error, Code.Unavailable, FailureKind.OVERLOADED);
    assert.equal(info.deliveredDeltas, 0);
    assert.equal(c.start, undefined);
  });

  test("an error on the choice (unary, partial content): unavailable / server_error", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "choice_error", text: "partial output" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    assertFailure(err, Code.Unavailable, FailureKind.SERVER_ERROR);
  });

  test("an error chunk after content (stream): the content stays delivered, then unavailable", async (t) => {
    const { client, t: gw } = await env(t);
    fake.script({ kind: "choice_error", text: "partial output here", chunkDelayMs: 5 });
    const c = await collect(client, ask("solo", "hello"));
    assert.equal(c.text, "partial output here");
    const info = assertFailure(c.error, Code.Unavailable, FailureKind.SERVER_ERROR);
    assert.equal(info.deliveredDeltas, c.deltas);
    assert.equal(info.deliveredChars, 19);
    assert.equal(info.attempts[0].httpStatus, 502);
    const rec = await waitForRecord(gw, (r) => r.model === "solo");
    assert.equal(rec.status, "unavailable");
    // The error chunk carried no usage: the 19 characters delivered, by the deployment's tokenizer.
    assert.equal(rec.usage.outputTokens, estimatedUsage(gw, DEP, "hello", "partial output here").output);
  });

  test("an error inside a 200 falls back", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error_in_200" });
    const res = await client.chat.complete(ask("with-backup", "hello"));
    assert.equal(res.message?.content[0]?.part.value, BACKUP_REPLY);
    assert.deepEqual(
      attemptViews(res.attempts).map((a) => a.kind ?? a.outcome),
      ["SERVER_ERROR", "SUCCEEDED"],
    );
  });
});

routerBehaviourSuite<OpenRouterScenario>({
  fake: () => fake,
  config: (origin) => config(`${origin}/api/v1`),
  dep: DEP,
  usageChunk: true,
  streamError: { error: "server_error", kind: "SERVER_ERROR", status: 500 },
  rateLimited: (ms) => ({ kind: "error", error: "rate_limit", retryAfterMs: ms }),
  contextLength: { kind: "error", error: "context_length_exceeded" },
  fallsBack: [
    { name: "429 rate_limited", scenario: { kind: "error", error: "rate_limit" }, kind: "RATE_LIMITED", status: 429 },
    { name: "429 capacity exhausted", scenario: { kind: "error", error: "capacity_exhausted" }, kind: "RATE_LIMITED", status: 429 },
    { name: "503 no provider (overloaded)", scenario: { kind: "error", error: "no_provider" }, kind: "OVERLOADED", status: 503 },
    { name: "500 server_error", scenario: { kind: "error", error: "server_error" }, kind: "SERVER_ERROR", status: 500 },
    { name: "502 model down", scenario: { kind: "error", error: "bad_gateway" }, kind: "SERVER_ERROR", status: 502 },
    { name: "504 gateway timeout", scenario: { kind: "error", error: "gateway_timeout" }, kind: "TIMEOUT", status: 504 },
    { name: "401 upstream auth", scenario: { kind: "error", error: "unauthorized" }, kind: "UPSTREAM_AUTH", status: 401 },
    { name: "402 insufficient credits", scenario: { kind: "error", error: "insufficient_credits" }, kind: "QUOTA_EXHAUSTED", status: 402 },
    { name: "404 no endpoints", scenario: { kind: "error", error: "no_endpoints" }, kind: "MODEL_NOT_FOUND", status: 404 },
    { name: "in-band error chunk before content", scenario: { kind: "error_in_200", error: "bad_gateway" }, kind: "SERVER_ERROR", status: 502 },
  ],
  noFallback: [
    { name: "400 bad_request", scenario: { kind: "error", error: "bad_request" }, kind: "BAD_REQUEST", code: Code.InvalidArgument },
    { name: "413 payload too large", scenario: { kind: "error", error: "payload_too_large" }, kind: "BAD_REQUEST", code: Code.InvalidArgument },
    { name: "403 moderation", scenario: { kind: "error", error: "moderation" }, kind: "CONTENT_FILTERED", code: Code.InvalidArgument },
    { name: "403 guardrail", scenario: { kind: "error", error: "guardrail" }, kind: "CONTENT_FILTERED", code: Code.InvalidArgument },
  ],
});
