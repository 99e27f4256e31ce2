// End to end through the whole gateway for Anthropic: typed client → Connect/gRPC server → router
// → Anthropic adapter → undici → the fake Anthropic Messages server on a real socket, and back.
// Asserts what the caller sees (text, usage, cost, attempts, codes, ErrorInfo) and what the
// upstream received (the recorded request bodies).

import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { AttemptOutcome, FailureKind, FinishReason, ReasoningEffort, ToolChoiceMode } from "@signalbox/client";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type AnthropicScenario, type FakeAnthropic } from "../fakes/anthropic.ts";
import {
  assertCost,
  assertUsage,
  assistantCalls,
  attemptSummary,
  clientFor,
  codeName,
  collect,
  details,
  developer,
  enumName,
  errorOf,
  gatewayPool,
  lastRecord,
  PNG_1X1,
  PNG_1X1_B64,
  PROTOCOLS,
  rejection,
  system,
  assistantText,
  TIME_TOOL,
  toolResult,
  user,
  userImageBytes,
  userImageUrl,
  waitFor,
  WEATHER_TOOL,
} from "./anthropic-gemini-harness.ts";

const MODEL = "claude-sonnet-4-5-20250929";
const OK = AttemptOutcome.SUCCEEDED;
const FAILED = AttemptOutcome.FAILED;

// Prices (USD per million tokens) → nano-USD per token: input 3 → 3000, cached 0.3 → 300,
// cache write 3.75 → 3750, output 15 → 15000.
const config = (url: string) => `
providers:
  - name: anthropic
    type: anthropic
    base_url: ${url}
    api_key: ${ANTHROPIC_TEST_KEY}
  - name: anthropic-wrong-key
    type: anthropic
    base_url: ${url}
    api_key: wrong-anthropic-test-key
  - name: backup
    type: mock
    mock: { reply: "backup answer", chunks: 3 }
deployments:
  - id: claude/sonnet
    provider: anthropic
    model: ${MODEL}
    pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 }
  - id: claude/wrong-key
    provider: anthropic-wrong-key
    model: ${MODEL}
    pricing: { input: 3, output: 15 }
  - id: backup/mock
    provider: backup
    model: mock-backup
    pricing: { input: 1, output: 2 }
routes:
  - name: claude
    targets: [claude/sonnet]
    retry: { max_retries: 0 }
  - name: claude-retry
    targets: [claude/sonnet]
    retry: { max_retries: 1, base_delay_ms: 5, max_delay_ms: 20, max_retry_after_ms: 500 }
  - name: claude-fallback
    targets: [claude/sonnet, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 5 }
    # Room for a loaded machine: a slow first token of a healthy stream must not look like a timeout.
    timeouts: { first_token_ms: 600, attempt_ms: 900 }
  - name: claude-idle
    targets: [claude/sonnet, backup/mock]
    timeouts: { idle_ms: 150 }
  - name: wrong-key
    targets: [claude/wrong-key]
  - name: wrong-key-fallback
    targets: [claude/wrong-key, backup/mock]
`;

let fake: FakeAnthropic;
const gws = gatewayPool(() => config(fake.url));

before(async () => {
  fake = await startFakeAnthropic();
});
beforeEach(() => fake.reset());
afterEach(() => gws.closeAll());
after(() => fake.close());

/** The Messages bodies the fake received. */
const bodies = () => fake.requests.filter((r) => r.path === "/v1/messages").map((r) => r.body);

// ---------------------------------------------------------------------------------------------

describe("anthropic: text", () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: Complete returns the exact text, provider model, normalised usage and cost`, async () => {
      const t = await gws.start();
      fake.script({ kind: "text", text: "Hello from Claude.", model: "claude-sonnet-4-5-snapshot", usage: { input: 100, output: 20, cached: 30, cacheWrite: 10 } });
      const res = await clientFor(t, protocol).chat.complete({ model: "claude", messages: [user("Hi there")] });

      assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Hello from Claude."]);
      assert.deepEqual(res.message?.toolCalls, []);
      assert.equal(res.model, "claude");
      assert.equal(res.deployment, "claude/sonnet");
      assert.equal(res.provider, "anthropic");
      assert.equal(res.providerModel, "claude-sonnet-4-5-snapshot");
      assert.equal(res.finishReason, FinishReason.STOP);
      assert.equal(res.rawFinishReason, "end_turn");
      assert.equal(res.routing?.route, "claude");
      // Anthropic input_tokens (60) excludes cache reads (30) and writes (10): the unified input is 100.
      assertUsage(res.usage, { input: 100, output: 20, cached: 30, cacheWrite: 10 });
      // uncached 60×3000 + cached 30×300 + cache write 10×3750 + output 20×15000
      assertCost(res.cost, { input: 180_000, cachedInput: 9_000, cacheWrite: 37_500, output: 300_000 });
      assert.equal(res.attempts.length, 1);
      const a = res.attempts[0];
      assert.deepEqual([a.number, a.deployment, a.provider, a.model, a.outcome, a.reason, a.httpStatus], [1, "claude/sonnet", "anthropic", MODEL, OK, "primary", 0]);
      assertUsage(a.usage, { input: 100, output: 20, cached: 30, cacheWrite: 10 }, "attempt usage");
      assert.equal(a.cost?.totalNanoUsd, 526_500n);

      // What went upstream.
      assert.equal(fake.requests.length, 1);
      const r = fake.requests[0];
      assert.equal(r.method, "POST");
      assert.equal(r.path, "/v1/messages");
      assert.equal(r.headers["x-api-key"], ANTHROPIC_TEST_KEY);
      assert.equal(r.headers["anthropic-version"], "2023-06-01");
      // No caller limit: the model's own output maximum (Claude Sonnet 4.5: 64,000), not a fixed 4,096.
      assert.deepEqual(r.body, { model: MODEL, max_tokens: 64000, messages: [{ role: "user", content: [{ type: "text", text: "Hi there" }] }] });

      const rec = await lastRecord(t, "claude");
      assert.equal(rec.status, "ok");
      assert.equal(rec.deployment, "claude/sonnet");
      assert.deepEqual(rec.usage, { inputTokens: 100, outputTokens: 20, cachedInputTokens: 30, cacheWriteTokens: 10, reasoningTokens: 0 });
      assert.equal(rec.cost.total, 526_500);
    });

    test(`${protocol}: Stream delivers every delta exactly, even with hostile chunking and multi-byte text`, async () => {
      const t = await gws.start();
      const text = "Grüße aus Köln — naïve café 🚀 done.";
      fake.script({ kind: "text", text, model: "claude-sonnet-4-5-snapshot", usage: { input: 100, output: 20, cached: 30, cacheWrite: 10 }, chunking: "hostile" });
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "claude", messages: [user("Greet me")] }));

      assert.equal(s.error, undefined);
      assert.equal(s.start?.deployment, "claude/sonnet");
      assert.equal(s.start?.provider, "anthropic");
      assert.equal(s.start?.providerModel, "claude-sonnet-4-5-snapshot");
      assert.equal(s.start?.model, "claude");
      assert.deepEqual(s.start?.priorAttempts, []);
      assert.equal(s.text, text);
      assert.ok(s.deltas >= 2, `streamed incrementally (got ${s.deltas} delta message(s))`);
      assert.equal(s.finish?.finishReason, FinishReason.STOP);
      assert.equal(s.finish?.rawFinishReason, "end_turn");
      assert.equal(s.finish?.providerModel, "claude-sonnet-4-5-snapshot");
      assertUsage(s.finish?.usage, { input: 100, output: 20, cached: 30, cacheWrite: 10 });
      assertCost(s.finish?.cost, { input: 180_000, cachedInput: 9_000, cacheWrite: 37_500, output: 300_000 });
      assert.deepEqual(attemptSummary(s.finish!.attempts), [["claude/sonnet", OK, FailureKind.UNSPECIFIED]]);

      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0].headers.accept, "text/event-stream");
      assert.deepEqual(fake.requests[0].body, {
        model: MODEL,
        max_tokens: 64000,
        messages: [{ role: "user", content: [{ type: "text", text: "Greet me" }] }],
        stream: true,
      });
      const rec = await lastRecord(t, "claude");
      assert.equal(rec.status, "ok");
      assert.equal(rec.streamed, true);
      assert.equal(rec.usage.inputTokens, 100);
    });
  }

  test("fixed-size byte slices across event boundaries still give the exact text", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "Slices of seven bytes cut through every event.", chunking: { bytes: 7 } });
    const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("x")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.text, "Slices of seven bytes cut through every event.");
    assert.equal(s.finish?.rawFinishReason, "end_turn");
  });

  test("sampling options are translated for Anthropic (temperature scaled, top_p dropped with it, stop, user)", async () => {
    const t = await gws.start();
    await clientFor(t).chat.complete({
      model: "claude",
      messages: [user("Hi")],
      temperature: 1.5,
      topP: 0.9,
      stop: ["###", " "],
      maxOutputTokens: 300,
      user: "user-1234",
      seed: 7n,
    });
    assert.deepEqual(bodies()[0], {
      model: MODEL,
      max_tokens: 300,
      messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
      temperature: 0.75,
      stop_sequences: ["###"],
      metadata: { user_id: "user-1234" },
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: system prompt", () => {
  test("system and developer messages, wherever they stand, become the top-level system", async () => {
    const t = await gws.start();
    const messages = [system("Be terse."), user("Hi"), assistantText("Hello!"), developer("Answer in English."), user("Again")];
    const res = await clientFor(t).chat.complete({ model: "claude", messages });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Echo: Again"]);
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "claude", messages }));
    assert.equal(s.text, "Echo: Again");
    const expected = {
      model: MODEL,
      max_tokens: 64000,
      system: "Be terse.\n\nAnswer in English.",
      messages: [
        { role: "user", content: [{ type: "text", text: "Hi" }] },
        { role: "assistant", content: [{ type: "text", text: "Hello!" }] },
        { role: "user", content: [{ type: "text", text: "Again" }] },
      ],
    };
    assert.deepEqual(bodies(), [expected, { ...expected, stream: true }]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: tools", () => {
  const tools = [WEATHER_TOOL, TIME_TOOL];
  const upstreamTools = [
    { name: "get_weather", input_schema: WEATHER_TOOL.parameters, description: "Current weather for a city" },
    { name: "get_time", input_schema: TIME_TOOL.parameters, description: "Local time in a timezone" },
  ];

  test("Complete: definitions and tool choice go upstream; the tool call comes back whole", async () => {
    const t = await gws.start();
    fake.script({ kind: "tool_calls", text: "Let me check.", calls: [{ id: "toolu_01A", name: "get_weather", arguments: { city: "Paris", unit: "c" } }] });
    const res = await clientFor(t).chat.complete({
      model: "claude",
      messages: [user("Weather in Paris?")],
      tools,
      toolChoice: { choice: { case: "mode", value: ToolChoiceMode.REQUIRED } },
      parallelToolCalls: false,
    });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Let me check."]);
    assert.deepEqual(
      res.message?.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
      [{ id: "toolu_01A", name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' }],
    );
    assert.equal(res.finishReason, FinishReason.TOOL_CALLS);
    assert.equal(res.rawFinishReason, "tool_use");
    const b = bodies()[0];
    assert.deepEqual(b.tools, upstreamTools);
    assert.deepEqual(b.tool_choice, { type: "any", disable_parallel_tool_use: true });
  });

  test("a named tool choice becomes tool_choice {type: tool}", async () => {
    const t = await gws.start();
    fake.script({ kind: "tool_calls", calls: [{ name: "get_time", arguments: { tz: "UTC" } }] });
    const res = await clientFor(t).chat.complete({ model: "claude", messages: [user("Time?")], tools, toolChoice: { choice: { case: "tool", value: "get_time" } } });
    assert.equal(res.message?.toolCalls[0].name, "get_time");
    assert.deepEqual(bodies()[0].tool_choice, { type: "tool", name: "get_time" });
  });

  for (const protocol of ["connect", "grpc"] as const) {
    test(`${protocol}: streamed parallel tool calls are reassembled, then answered with one user turn of tool_results`, async () => {
      const t = await gws.start();
      const c = clientFor(t, protocol);
      fake.script({
        kind: "tool_calls",
        text: "Checking both.",
        calls: [
          { name: "get_weather", arguments: { city: "Paris" } },
          { name: "get_time", arguments: { tz: "Europe/Paris" } },
        ],
        chunking: "hostile",
      });
      const s = await collect(c.chat.stream({ model: "claude", messages: [user("Weather and time in Paris?")], tools }));
      assert.equal(s.error, undefined);
      assert.equal(s.text, "Checking both.");
      assert.equal(s.toolCalls.length, 2);
      assert.match(s.toolCalls[0].id, /^toolu_01\d{22}$/);
      assert.match(s.toolCalls[1].id, /^toolu_01\d{22}$/);
      assert.notEqual(s.toolCalls[0].id, s.toolCalls[1].id);
      assert.deepEqual(
        s.toolCalls.map((x) => [x.index, x.name, x.arguments]),
        [
          [0, "get_weather", '{"city":"Paris"}'],
          [1, "get_time", '{"tz":"Europe/Paris"}'],
        ],
      );
      // The arguments really arrived in fragments (input_json_delta), not whole.
      const argFragments = s.events.flatMap((e) => (e.event.case === "delta" ? e.event.value.toolCalls : [])).filter((f) => f.index === 0 && f.argumentsDelta !== "");
      assert.ok(argFragments.length >= 2, `expected fragmented arguments, got ${argFragments.length} fragment(s)`);
      assert.equal(s.finish?.finishReason, FinishReason.TOOL_CALLS);
      assert.equal(s.finish?.rawFinishReason, "tool_use");

      // Follow-up: the assistant turn with both calls, then both results (the second failed).
      const [w, tm] = s.toolCalls;
      const res = await c.chat.complete({
        model: "claude",
        tools,
        messages: [
          user("Weather and time in Paris?"),
          assistantCalls([w, tm], "Checking both."),
          toolResult(w.id, '{"temp_c":21}'),
          toolResult(tm.id, "clock unavailable", { isError: true }),
        ],
      });
      assert.deepEqual(res.message?.content.map((p) => p.part.value), ['Echo: {"temp_c":21} clock unavailable']);
      const b = bodies()[1];
      assert.deepEqual(b.tools, upstreamTools);
      assert.deepEqual(b.messages, [
        { role: "user", content: [{ type: "text", text: "Weather and time in Paris?" }] },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Checking both." },
            { type: "tool_use", id: w.id, name: "get_weather", input: { city: "Paris" } },
            { type: "tool_use", id: tm.id, name: "get_time", input: { tz: "Europe/Paris" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: w.id, content: '{"temp_c":21}' },
            { type: "tool_result", tool_use_id: tm.id, content: "clock unavailable", is_error: true },
          ],
        },
      ]);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: images", () => {
  test("image bytes become a base64 image block", async () => {
    const t = await gws.start();
    const res = await clientFor(t).chat.complete({ model: "claude", messages: [userImageBytes("What is this?", PNG_1X1, "image/png")] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["Echo: What is this?"]);
    assert.deepEqual(bodies()[0].messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1X1_B64 } },
        ],
      },
    ]);
  });

  test("a data URL becomes a base64 block and an https URL a url block", async () => {
    const t = await gws.start();
    await clientFor(t, "grpc").chat.complete({
      model: "claude",
      messages: [userImageUrl("And this?", `data:image/png;base64,${PNG_1X1_B64}`), userImageUrl("And that?", "https://example.com/cat.jpg")],
    });
    assert.deepEqual(bodies()[0].messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "And this?" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1X1_B64 } },
          { type: "text", text: "And that?" },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        ],
      },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: usage with cache and thinking", () => {
  const thinking = "The user asks for the answer. It is forty-two.";
  // input 1200 = 50 uncached + 1000 cache reads + 150 cache writes; output 80 includes thinking.
  const scenario: AnthropicScenario = { kind: "text", text: "42.", thinking, usage: { input: 1200, output: 80, cached: 1000, cacheWrite: 150 } };
  const usage = { input: 1200, output: 80, cached: 1000, cacheWrite: 150, reasoning: 0 };
  // 50×3000 + 1000×300 + 150×3750 + 80×15000 (Anthropic reports no thinking split: all output-priced)
  const cost = { input: 150_000, cachedInput: 300_000, cacheWrite: 562_500, output: 1_200_000 };

  test("Complete: thinking is the reasoning, cache reads and writes are in input and priced apart", async () => {
    const t = await gws.start();
    fake.script(scenario);
    const res = await clientFor(t).chat.complete({ model: "claude", messages: [user("The answer?")], reasoningEffort: ReasoningEffort.LOW });
    assert.equal(res.reasoning, thinking);
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["42."]);
    assertUsage(res.usage, usage);
    assertCost(res.cost, cost);
    // LOW effort: a 2048-token thinking budget (manual thinking on Sonnet 4.5) inside the model's 64,000 maximum.
    assert.deepEqual(bodies()[0].thinking, { type: "enabled", budget_tokens: 2048 });
    assert.equal(bodies()[0].max_tokens, 64000);
  });

  test("Stream: thinking deltas arrive as reasoning, the final usage is the cumulative message_delta", async () => {
    const t = await gws.start();
    fake.script({ ...scenario, chunking: "hostile" });
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "claude", messages: [user("The answer?")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.reasoning, thinking);
    assert.equal(s.text, "42.");
    assertUsage(s.finish?.usage, usage);
    assertCost(s.finish?.cost, cost);
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: finish reasons", () => {
  const cases: { raw: string; scenario: AnthropicScenario; unified: FinishReason; request?: object; text: string; refusal?: string }[] = [
    { raw: "end_turn", scenario: { kind: "text", text: "Done." }, unified: FinishReason.STOP, text: "Done." },
    { raw: "max_tokens", scenario: { kind: "text", text: "Cut", stopReason: "max_tokens" }, unified: FinishReason.LENGTH, request: { maxOutputTokens: 5 }, text: "Cut" },
    { raw: "stop_sequence", scenario: { kind: "text", text: "Up to", stopReason: "stop_sequence" }, unified: FinishReason.STOP, request: { stop: ["###"] }, text: "Up to" },
    { raw: "tool_use", scenario: { kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] }, unified: FinishReason.TOOL_CALLS, request: { tools: [WEATHER_TOOL] }, text: "" },
    { raw: "pause_turn", scenario: { kind: "text", text: "Paused.", stopReason: "pause_turn" }, unified: FinishReason.STOP, text: "Paused." },
    {
      raw: "refusal",
      scenario: { kind: "refusal", text: "I can", explanation: "This request triggered restrictions on violative cyber content." },
      unified: FinishReason.CONTENT_FILTER,
      text: "I can",
      refusal: "This request triggered restrictions on violative cyber content.",
    },
    {
      raw: "model_context_window_exceeded",
      scenario: { kind: "text", text: "Out of room", stopReason: "model_context_window_exceeded" },
      unified: FinishReason.LENGTH,
      text: "Out of room",
    },
  ];
  for (const c of cases) {
    test(`${c.raw} → ${enumName(FinishReason, c.unified)} (Complete and Stream)`, async () => {
      const t = await gws.start();
      fake.script([c.scenario, c.scenario]);
      const req = { model: "claude", messages: [user("Go")], ...c.request };
      const res = await clientFor(t).chat.complete(req);
      assert.equal(res.finishReason, c.unified);
      assert.equal(res.rawFinishReason, c.raw);
      assert.equal(res.message?.content.map((p) => p.part.value).join(""), c.text);
      assert.equal(res.refusal, c.refusal ?? "");
      const s = await collect(clientFor(t, "grpc").chat.stream(req));
      assert.equal(s.error, undefined);
      assert.equal(s.finish?.finishReason, c.unified);
      assert.equal(s.finish?.rawFinishReason, c.raw);
      assert.equal(s.text, c.text);
      assert.equal(s.refusal, c.refusal ?? "");
      if (c.raw === "max_tokens") assert.deepEqual(bodies().map((b) => b.max_tokens), [5, 5]);
      if (c.raw === "stop_sequence") assert.deepEqual(bodies().map((b) => b.stop_sequences), [["###"], ["###"]]);
    });
  }

  test(
    "Stream: an answer with no content at all still reports its finish reason",
    {
    },
    async () => {
      const t = await gws.start();
      fake.script([
        { kind: "text", text: "", stopReason: "max_tokens", usage: { input: 9, output: 4 } },
        { kind: "text", text: "", stopReason: "max_tokens", usage: { input: 9, output: 4 } },
      ]);
      const res = await clientFor(t).chat.complete({ model: "claude", messages: [user("Go")] });
      assert.equal(res.finishReason, FinishReason.LENGTH);
      const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("Go")] }));
      assert.equal(s.error, undefined);
      assert.equal(s.deltas, 0);
      assertUsage(s.finish?.usage, { input: 9, output: 4 });
      assert.equal(s.finish?.rawFinishReason, "max_tokens");
      assert.equal(s.finish?.finishReason, FinishReason.LENGTH);
    },
  );

  test("an unknown stop_reason is OTHER with the raw value kept", async () => {
    const t = await gws.start();
    fake.script({
      kind: "http",
      status: 200,
      body: {
        id: "msg_x",
        type: "message",
        role: "assistant",
        model: MODEL,
        content: [{ type: "text", text: "Hm." }],
        stop_reason: "brand_new_reason",
        stop_sequence: null,
        usage: { input_tokens: 7, output_tokens: 2 },
      },
    });
    const res = await clientFor(t).chat.complete({ model: "claude", messages: [user("Go")] });
    assert.equal(res.finishReason, FinishReason.OTHER);
    assert.equal(res.rawFinishReason, "brand_new_reason");
    assertUsage(res.usage, { input: 7, output: 2 });
  });
});

// ---------------------------------------------------------------------------------------------

interface FailureCase {
  name: string;
  scenario: AnthropicScenario;
  kind: FailureKind;
  /** The code the caller gets when this was the only attempt. */
  code: Code;
  /** The attempt's HTTP status (0: none). */
  status: number;
  fallsBack: boolean;
}

const FAILURES: FailureCase[] = [
  { name: "400 invalid_request_error", scenario: { kind: "error", error: "invalid_request" }, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { name: "400 prompt is too long", scenario: { kind: "error", error: "context_length_exceeded" }, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { name: "400 output blocked by content filtering", scenario: { kind: "error", error: "output_blocked" }, kind: FailureKind.CONTENT_FILTERED, code: Code.InvalidArgument, status: 400, fallsBack: false },
  { name: "400 credit balance too low", scenario: { kind: "error", error: "credit_balance_too_low" }, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable, status: 400, fallsBack: true },
  { name: "401 authentication_error", scenario: { kind: "error", error: "authentication_error" }, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 401, fallsBack: true },
  { name: "402 billing_error", scenario: { kind: "error", error: "billing_error" }, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable, status: 402, fallsBack: true },
  { name: "403 permission_error", scenario: { kind: "error", error: "permission_error" }, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable, status: 403, fallsBack: true },
  { name: "404 not_found_error", scenario: { kind: "error", error: "not_found_error" }, kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable, status: 404, fallsBack: true },
  { name: "409 conflict_error", scenario: { kind: "error", error: "conflict_error" }, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 409, fallsBack: true },
  { name: "413 request_too_large", scenario: { kind: "error", error: "request_too_large" }, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument, status: 413, fallsBack: false },
  { name: "429 rate_limit_error", scenario: { kind: "error", error: "rate_limit_error" }, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted, status: 429, fallsBack: true },
  { name: "429 enforced spend limit", scenario: { kind: "error", error: "spend_limit" }, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable, status: 429, fallsBack: true },
  { name: "500 api_error", scenario: { kind: "error", error: "api_error" }, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 500, fallsBack: true },
  { name: "502 HTML from a proxy", scenario: { kind: "http", status: 502, body: "<html><body>Bad gateway</body></html>" }, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable, status: 502, fallsBack: true },
  { name: "504 timeout_error", scenario: { kind: "error", error: "timeout_error" }, kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded, status: 504, fallsBack: true },
  { name: "529 overloaded_error", scenario: { kind: "error", error: "overloaded_error" }, kind: FailureKind.OVERLOADED, code: Code.Unavailable, status: 529, fallsBack: true },
  { name: "connection reset before answering", scenario: { kind: "disconnect" }, kind: FailureKind.NETWORK, code: Code.Unavailable, status: 0, fallsBack: true },
];

describe("anthropic: failures, alone on their route", () => {
  for (const [i, f] of FAILURES.entries()) {
    const protocol = i % 2 === 0 ? "connect" : "grpc";
    test(`${f.name} → ${codeName(f.code)} / ${enumName(FailureKind, f.kind)} (${protocol})`, async () => {
      const t = await gws.start();
      fake.script(f.scenario);
      const { err, info } = await rejection(clientFor(t, protocol).chat.complete({ model: "claude", messages: [user("fail please")] }));
      assert.equal(codeName(err.code), codeName(f.code));
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.equal(info.failureKind, f.kind);
      assert.equal(info.attempts.length, 1);
      const a = info.attempts[0];
      assert.deepEqual([a.deployment, a.outcome, a.failureKind, a.httpStatus], ["claude/sonnet", FAILED, f.kind, f.status]);
      assert.ok(a.errorMessage.length > 0);
      assert.match(info.traceId, /^[0-9a-f]{32}$/);
      assert.equal(fake.requests.length, 1, "no retry with max_retries 0");
      if (f.kind === FailureKind.RATE_LIMITED) {
        assert.equal(info.retryAfterMs, 1000);
        assert.equal(a.retryAfterMs, 1000);
        assert.equal(err.metadata.get("retry-after"), "1");
      }
      const rec = await lastRecord(t, "claude");
      assert.equal(rec.status, codeName(f.code).replace(/[A-Z]/g, (ch, k: number) => (k ? "_" : "") + ch.toLowerCase()));
    });
  }
});

describe("anthropic: failures on a route with a mock fallback", () => {
  for (const [i, f] of FAILURES.entries()) {
    const protocol = i % 2 === 0 ? "grpc" : "connect";
    test(`${f.name} ${f.fallsBack ? "falls back" : "does not fall back"} (Stream, ${protocol})`, async () => {
      const t = await gws.start();
      fake.script(f.scenario);
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "claude-fallback", messages: [user("fail please")] }));
      assert.equal(fake.requests.length, 1);
      if (f.fallsBack) {
        assert.equal(s.error, undefined, s.error?.message);
        assert.equal(s.start?.deployment, "backup/mock");
        assert.equal(s.text, "backup answer");
        assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["claude/sonnet", FAILED, f.kind]]);
        assert.deepEqual(attemptSummary(s.finish!.attempts), [
          ["claude/sonnet", FAILED, f.kind],
          ["backup/mock", OK, FailureKind.UNSPECIFIED],
        ]);
        assert.equal(s.finish!.attempts[0].httpStatus, f.status);
        assert.equal(s.finish!.attempts[1].reason, `fallback after ${enumName(FailureKind, f.kind).toLowerCase()} from claude/sonnet`);
      } else {
        assert.equal(s.events.length, 0);
        assert.ok(s.error);
        const { info } = details(s.error);
        assert.equal(codeName(s.error.code), codeName(f.code));
        assert.equal(info.failureKind, f.kind);
        assert.deepEqual(attemptSummary(info.attempts), [["claude/sonnet", FAILED, f.kind]]);
      }
    });
  }

  test("Complete falls back on 529 overloaded and reports both attempts", async () => {
    const t = await gws.start();
    fake.script({ kind: "error", error: "overloaded_error" });
    const res = await clientFor(t).chat.complete({ model: "claude-fallback", messages: [user("hi")] });
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["backup answer"]);
    assert.deepEqual(attemptSummary(res.attempts), [
      ["claude/sonnet", FAILED, FailureKind.OVERLOADED],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);
    assert.equal(res.attempts[0].httpStatus, 529);
    assert.equal(res.attempts[0].retryAfterMs, 1000);
  });

  test("an in-band overloaded_error after the 200, before any content, falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "stream_error", afterDeltas: 0, error: "overloaded_error" });
    const s = await collect(clientFor(t).chat.stream({ model: "claude-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.equal(s.text, "backup answer");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["claude/sonnet", FAILED, FailureKind.OVERLOADED]]);
    assert.equal(s.start!.priorAttempts[0].httpStatus, 0, "in-band: no HTTP error status");
  });

  test("an in-band invalid_request_error before content does not fall back", async () => {
    const t = await gws.start();
    fake.script({ kind: "stream_error", afterDeltas: 0, error: "invalid_request" });
    const s = await collect(clientFor(t).chat.stream({ model: "claude-fallback", messages: [user("hi")] }));
    assert.equal(s.events.length, 0);
    assert.equal(s.error?.code, Code.InvalidArgument);
  });

  for (const how of ["end", "destroy"] as const) {
    test(`a stream truncated (${how}) after message_start, before content, falls back`, async () => {
      const t = await gws.start();
      fake.script({ kind: "text", text: "never seen", interrupt: { afterEvents: 1, how } });
      const s = await collect(clientFor(t).chat.stream({ model: "claude-fallback", messages: [user("hi")] }));
      assert.equal(s.error, undefined, s.error?.message);
      assert.equal(s.start?.deployment, "backup/mock");
      assert.equal(s.text, "backup answer");
      assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["claude/sonnet", FAILED, how === "end" ? FailureKind.STREAM_INTERRUPTED : FailureKind.NETWORK]]);
    });
  }

  test("no first token within first_token_ms (headers sent, body late) falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "text", text: "too late", bodyDelayMs: 3000 });
    const t0 = performance.now();
    const s = await collect(clientFor(t).chat.stream({ model: "claude-fallback", messages: [user("hi")] }));
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["claude/sonnet", FAILED, FailureKind.TIMEOUT]]);
    assert.match(s.start!.priorAttempts[0].errorMessage, /first token within 600 ms/);
  });

  test("a hanging upstream (no status line) times out on first_token_ms and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "hang" });
    const s = await collect(clientFor(t, "grpc").chat.stream({ model: "claude-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined, s.error?.message);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["claude/sonnet", FAILED, FailureKind.TIMEOUT]]);
  });

  test("Complete: a hanging upstream times out on attempt_ms and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "hang" });
    const t0 = performance.now();
    const res = await clientFor(t).chat.complete({ model: "claude-fallback", messages: [user("hi")] });
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(res.attempts), [
      ["claude/sonnet", FAILED, FailureKind.TIMEOUT],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);
  });

  test("Complete: a malformed 200 body is a server_error and falls back", async () => {
    const t = await gws.start();
    fake.script({ kind: "malformed" });
    const res = await clientFor(t).chat.complete({ model: "claude-fallback", messages: [user("hi")] });
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(res.attempts)[0], ["claude/sonnet", FAILED, FailureKind.SERVER_ERROR]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: failures after the commit point", () => {
  const cases: { name: string; scenario: AnthropicScenario; kind: FailureKind; deltas: number; chars: number; text: string }[] = [
    {
      name: "an in-band overloaded_error after two deltas",
      // chunkDelayMs: each event in its own network read, so the deltas reach the gateway before the error.
      scenario: { kind: "stream_error", text: "alpha beta gamma delta", afterDeltas: 2, error: "overloaded_error", chunkDelayMs: 15 },
      kind: FailureKind.OVERLOADED,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      // message_start, content_block_start, ping, two text deltas, then a clean EOF without message_stop.
      name: "a stream that ends cleanly without message_stop",
      scenario: { kind: "text", text: "alpha beta gamma delta", interrupt: { afterEvents: 5 } },
      kind: FailureKind.STREAM_INTERRUPTED,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      name: "a connection reset mid-stream",
      scenario: { kind: "text", text: "alpha beta gamma delta", interrupt: { afterEvents: 5, how: "destroy" } },
      kind: FailureKind.NETWORK,
      deltas: 2,
      chars: 11,
      text: "alpha beta ",
    },
    {
      name: "a malformed event after the first delta",
      scenario: { kind: "malformed", chunkDelayMs: 15 },
      kind: FailureKind.SERVER_ERROR,
      deltas: 1,
      chars: 6,
      text: "Echo: ",
    },
  ];
  for (const [i, c] of cases.entries()) {
    const protocol = i % 2 === 0 ? "connect" : "grpc";
    test(`${c.name} ends the stream with unavailable, delivered counts and recorded usage (${protocol})`, async () => {
      const t = await gws.start();
      fake.script(c.scenario);
      const s = await collect(clientFor(t, protocol).chat.stream({ model: "claude-fallback", messages: [user("mid-stream")] }));
      // Committed to Anthropic: no fallback after content.
      assert.equal(fake.requests.length, 1);
      assert.equal(s.start?.deployment, "claude/sonnet");
      assert.equal(s.text, c.text);
      assert.equal(s.finish, undefined);
      assert.ok(s.error, "the stream must end with an error");
      const { info } = details(s.error);
      assert.equal(codeName(s.error.code), "Unavailable");
      assert.equal(info.failureKind, c.kind);
      assert.equal(info.deliveredDeltas, s.deltas, "counts the delta messages received");
      assert.equal(info.deliveredChars, c.chars);
      assert.deepEqual(attemptSummary(info.attempts), [["claude/sonnet", FAILED, c.kind]]);
      assert.ok(info.usage && info.usage.inputTokens > 0n && info.usage.outputTokens > 0n, "usage billed up to the failure");
      assert.ok(info.cost && info.cost.totalNanoUsd > 0n);

      const rec = await lastRecord(t, "claude-fallback");
      assert.equal(rec.status, "unavailable");
      assert.equal(rec.deployment, "claude/sonnet");
      assert.equal(rec.streamed, true);
      assert.ok(rec.usage.inputTokens > 0 && rec.usage.outputTokens > 0);
      assert.equal(rec.usage.inputTokens, Number(info.usage!.inputTokens));
      assert.equal(rec.cost.total, Number(info.cost!.totalNanoUsd));
      assert.equal(rec.usageEstimated, true);
      assert.equal(rec.attempts.length, 1);
    });
  }

  test(
    "ErrorInfo.delivered_deltas equals the number of delta events the caller received",
    {
    },
    async () => {
      const t = await gws.start();
      // One write: message_start … two text deltas, then a clean EOF without message_stop.
      fake.script({ kind: "text", text: "alpha beta gamma delta", interrupt: { afterEvents: 5 }, chunking: "single" });
      const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("mid-stream")] }));
      assert.equal(s.text, "alpha beta ");
      const { info } = details(s.error);
      assert.equal(info.failureKind, FailureKind.STREAM_INTERRUPTED);
      assert.equal(info.deliveredChars, 11);
      assert.equal(info.deliveredDeltas, s.deltas);
    },
  );

  // Regression: toConnectError used to build ErrorInfo.usage without the estimated flag.
  test(
    "ErrorInfo.usage says estimated when the gateway estimated it (stream cut before its usage)",
    async () => {
      const t = await gws.start();
      fake.script({ kind: "stream_error", text: "alpha beta gamma", afterDeltas: 2, chunkDelayMs: 15 });
      const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("mid-stream")] }));
      const { info } = details(s.error);
      const rec = await lastRecord(t, "claude");
      assert.equal(rec.usageEstimated, true);
      assert.equal(info.usage?.estimated, true, "ErrorInfo.usage.estimated must match the record's usageEstimated");
    },
  );

  // Regression: http-provider's batch translation used to discard the events of a read that were
  // translated before the in-band error of that same read.
  test(
    "content the upstream sent before an in-band error in the same network read is still delivered",
    async () => {
      // Read 1: message_start … first text delta (the gateway commits and forwards "alpha ").
      // Read 2: the second text delta and then `event: error`. Both deltas were sent by the upstream
      // before its error, so the caller must get "alpha beta " and delivered_deltas 2.
      const t = await gws.start();
      const ev = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
      const part1 =
        ev("message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: MODEL, content: [], stop_reason: null, usage: { input_tokens: 9, output_tokens: 1 } } }) +
        ev("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }) +
        ev("ping", { type: "ping" }) +
        ev("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "alpha " } });
      const part2 =
        ev("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "beta " } }) +
        ev("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
      assert.ok(part2.length <= part1.length);
      fake.script({ kind: "http", status: 200, body: part1 + part2, headers: { "content-type": "text/event-stream" }, chunking: { bytes: part1.length }, chunkDelayMs: 30 });
      const s = await collect(clientFor(t).chat.stream({ model: "claude-fallback", messages: [user("mid-stream")] }));
      assert.equal(s.start?.deployment, "claude/sonnet");
      assert.equal(s.text, "alpha beta ");
      const { info } = details(s.error);
      assert.equal(info.failureKind, FailureKind.OVERLOADED);
      assert.equal(info.deliveredDeltas, 2);
      assert.equal(info.deliveredChars, 11);
    },
  );

  test("after the commit point, a silence longer than idle_ms ends the stream with deadline_exceeded / timeout", async () => {
    const t = await gws.start();
    // Read 1: message_start … the first text delta; then one second of silence before the rest.
    const ev = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    const part1 =
      ev("message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: MODEL, content: [], stop_reason: null, usage: { input_tokens: 9, output_tokens: 1 } } }) +
      ev("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }) +
      ev("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "alpha " } });
    const part2 =
      ev("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "beta" } }) +
      ev("content_block_stop", { type: "content_block_stop", index: 0 }) +
      ev("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } }) +
      ev("message_stop", { type: "message_stop" });
    fake.script({ kind: "http", status: 200, body: part1 + part2, headers: { "content-type": "text/event-stream" }, chunking: { bytes: part1.length }, chunkDelayMs: 1000 });
    const t0 = performance.now();
    const s = await collect(clientFor(t).chat.stream({ model: "claude-idle", messages: [user("slow")] }));
    assert.ok(performance.now() - t0 < 900, "ended by the idle timer, not by the upstream");
    assert.equal(s.start?.deployment, "claude/sonnet");
    assert.equal(s.text, "alpha ");
    const { info } = details(s.error);
    assert.equal(s.error?.code, Code.DeadlineExceeded);
    assert.equal(info.failureKind, FailureKind.TIMEOUT);
    assert.equal(info.deliveredDeltas, 1);
    assert.equal(info.deliveredChars, 6);
    assert.equal(fake.requests.length, 1, "no fallback after content");
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: retries", () => {
  test("a 429 with a short retry-after is retried on the same deployment after that delay", async () => {
    const t = await gws.start();
    fake.script([{ kind: "error", error: "rate_limit_error", retryAfterMs: 60 }, { kind: "text", text: "second time lucky" }]);
    const res = await clientFor(t).chat.complete({ model: "claude-retry", messages: [user("hi")] });
    assert.deepEqual(res.message?.content.map((p) => p.part.value), ["second time lucky"]);
    assert.deepEqual(attemptSummary(res.attempts), [
      ["claude/sonnet", FAILED, FailureKind.RATE_LIMITED],
      ["claude/sonnet", OK, FailureKind.UNSPECIFIED],
    ]);
    assert.equal(res.attempts[0].retryAfterMs, 60);
    assert.equal(res.attempts[1].reason, "retry 1 after rate_limited (retry-after 60 ms)");
    const gap = Number(res.attempts[1].startTime!.seconds) * 1000 + res.attempts[1].startTime!.nanos / 1e6 - (Number(res.attempts[0].startTime!.seconds) * 1000 + res.attempts[0].startTime!.nanos / 1e6);
    assert.ok(gap >= 55, `retried after ${gap} ms, before the 60 ms retry-after`);
    assert.equal(fake.requests.length, 2);
  });

  test("a 500 is retried once with backoff, then the error is returned with both attempts", async () => {
    const t = await gws.start();
    fake.script([
      { kind: "error", error: "api_error" },
      { kind: "error", error: "api_error" },
    ]);
    const { err, info } = await rejection(clientFor(t, "grpc").chat.complete({ model: "claude-retry", messages: [user("hi")] }));
    assert.equal(err.code, Code.Unavailable);
    assert.equal(info.failureKind, FailureKind.SERVER_ERROR);
    assert.deepEqual(attemptSummary(info.attempts), [
      ["claude/sonnet", FAILED, FailureKind.SERVER_ERROR],
      ["claude/sonnet", FAILED, FailureKind.SERVER_ERROR],
    ]);
    assert.equal(info.attempts[1].reason, "retry 1 after server_error");
    assert.equal(fake.requests.length, 2);
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: the gateway's own credentials", () => {
  test("a rejected gateway key (real 401 from the upstream) is unavailable / upstream_auth, never unauthenticated", async () => {
    const t = await gws.start();
    for (const protocol of ["connect", "grpc"] as const) {
      const { err, info } = await rejection(clientFor(t, protocol).chat.complete({ model: "wrong-key", messages: [user("hi")] }));
      assert.equal(err.code, Code.Unavailable);
      assert.equal(info.failureKind, FailureKind.UPSTREAM_AUTH);
      assert.equal(info.attempts[0].httpStatus, 401);
      assert.ok(!err.message.includes("sk-ant-not-the-right-key"), "the key must not leak into the message");
      assert.ok(!info.attempts[0].errorMessage.includes("sk-ant-not-the-right-key"));
    }
    assert.equal(fake.requests[0].headers["x-api-key"], "wrong-anthropic-test-key");
    assert.equal(fake.requests[0].status, 401);
  });

  test("with a fallback, a rejected gateway key moves on to the next deployment", async () => {
    const t = await gws.start();
    const s = await collect(clientFor(t).chat.stream({ model: "wrong-key-fallback", messages: [user("hi")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.start?.deployment, "backup/mock");
    assert.deepEqual(attemptSummary(s.start!.priorAttempts), [["claude/wrong-key", FAILED, FailureKind.UPSTREAM_AUTH]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("anthropic: the caller's deadline", () => {
  for (const protocol of ["connect", "grpc"] as const) {
    test(`${protocol}: a hanging upstream with a 300 ms client timeout ends quickly with deadline_exceeded (Complete and Stream)`, async () => {
      const t = await gws.start();
      fake.setDefault({ kind: "hang" });
      const c = clientFor(t, protocol, 300);
      const t0 = performance.now();
      const err = await errorOf(c.chat.complete({ model: "claude", messages: [user("wait")] }));
      assert.equal(codeName(err.code), "DeadlineExceeded");
      const s = await collect(c.chat.stream({ model: "claude", messages: [user("wait")] }));
      assert.equal(codeName(s.error!.code), "DeadlineExceeded");
      assert.equal(s.events.length, 0);
      assert.ok(performance.now() - t0 < 2000, "both calls end near their 300 ms deadline");
      // The upstream calls were aborted, not left running.
      await waitFor(() => (t.gw.core.exec.health.snapshot().get("claude/sonnet")?.inFlight === 0 ? true : undefined));
      const recs = await waitFor(() => {
        const r = t.usage.recent().filter((x) => x.model === "claude");
        return r.length === 2 ? r : undefined;
      });
      assert.deepEqual(
        recs.map((r) => [r.status, r.attempts[0]?.outcome]),
        [
          ["deadline_exceeded", "canceled"],
          ["deadline_exceeded", "canceled"],
        ],
      );
    });
  }
});
