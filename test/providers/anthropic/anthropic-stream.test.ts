import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createAnthropicStreamTranslator } from "../../../src/providers/anthropic/anthropic-stream.ts";
import type { StreamEvent } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { CHUNK_SIZES, fixture, replay } from "./replay.ts";

/** Replays a transcript at every chunk size and checks they all agree; returns that one outcome. */
function run(name: string) {
  const bytes = fixture(name);
  const outcomes = CHUNK_SIZES.map((size) => replay(bytes, createAnthropicStreamTranslator({ label: "anth" }), size));
  for (const o of outcomes.slice(1)) {
    assert.deepEqual(o.events, outcomes[0].events);
    assert.equal(String(o.error), String(outcomes[0].error));
  }
  return outcomes[0];
}

describe("anthropic stream translator", () => {
  it("text stream: start, message_start usage (output pending), text deltas, finish, merged usage (message_delta input wins)", () => {
    const { events, error } = run("text.chunks.txt");
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", id: "msg_3196a1cc08de4d76b85b8f5777c0d42b", model: "claude-opus-4-5-20251101" },
      // Usage as soon as it is known: the input at message_start, its output count not final yet.
      { type: "usage", usage: { inputTokens: 43, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, outputPending: true },
      { type: "text", text: "p" },
      { type: "text", text: "ong — ünïcödé ✓" },
      { type: "finish", finishReason: "stop", rawFinishReason: "end_turn" },
      {
        type: "usage",
        usage: { inputTokens: 61, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      },
    ] satisfies StreamEvent[]);
  });

  it("tool-use stream (§3.4 capture): tool index counts tool calls, not content blocks", () => {
    const { events, error } = run("tool-use.chunks.txt");
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", id: "msg_019Q1hrJbZG26Fb9BQhrkHEr", model: "claude-opus-4-8" },
      { type: "usage", usage: { inputTokens: 377, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, outputPending: true },
      { type: "text", text: "I'll check the current weather in Paris for you." },
      { type: "tool_call_start", index: 0, id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather" },
      // The empty first partial_json is not forwarded.
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"locati' },
      { type: "tool_call_delta", index: 0, argumentsDelta: 'on": "Paris"}' },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "tool_use" },
      {
        type: "usage",
        usage: { inputTokens: 377, outputTokens: 65, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      },
    ] satisfies StreamEvent[]);
    const args = events
      .filter((e) => e.type === "tool_call_delta")
      .map((e) => e.argumentsDelta)
      .join("");
    assert.deepEqual(JSON.parse(args), { location: "Paris" });
  });

  it("parallel tool calls get indexes 0 and 1 although their blocks are 1 and 2; null cache fields count 0", () => {
    const { events, error } = run("parallel-tools.chunks.txt");
    assert.equal(error, undefined);
    assert.deepEqual(
      events.filter((e) => e.type === "tool_call_start" || e.type === "tool_call_delta"),
      [
        { type: "tool_call_start", index: 0, id: "toolu_A", name: "get_weather" },
        { type: "tool_call_delta", index: 0, argumentsDelta: '{"city":' },
        { type: "tool_call_delta", index: 0, argumentsDelta: '"Paris"}' },
        { type: "tool_call_start", index: 1, id: "toolu_B", name: "get_time" },
      ],
    );
    assert.deepEqual(events.at(-1), {
      type: "usage",
      usage: { inputTokens: 500, outputTokens: 80, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    });
  });

  it("thinking stream: thinking_delta → reasoning, signature_delta and redacted_thinking kept for replay, cache + thinking usage", () => {
    const { events, error } = run("thinking.chunks.txt");
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", id: "msg_011CdZqGKa1m7G8uTzmdLcQr", model: "claude-sonnet-4-5-20250929" },
      { type: "usage", usage: { inputTokens: 47 + 100 + 2000, outputTokens: 2, cachedInputTokens: 2000, cacheWriteTokens: 100, reasoningTokens: 0 }, outputPending: true },
      { type: "reasoning", text: "1071 = 2 × 462 + 147; " },
      { type: "reasoning", text: "462 = 3 × 147 + 21; 147 = 7 × 21." },
      { type: "reasoning_signature", signature: "EsECCokBCBAYAipA9i3HF1aHpQITkdN8OvLd33gdPZEyLKJA9EvxTXumYzG5xgpLkCYbGOTUkjuimP" },
      { type: "reasoning_redacted", data: "EmwKAhgBEgy3va3pzix" },
      { type: "text", text: "gcd(1071, 462) = 21" },
      { type: "finish", finishReason: "length", rawFinishReason: "max_tokens" },
      {
        type: "usage",
        usage: { inputTokens: 47 + 100 + 2000, outputTokens: 496, cachedInputTokens: 2000, cacheWriteTokens: 100, reasoningTokens: 62 },
      },
    ] satisfies StreamEvent[]);
  });

  it("streamed refusal: refusal text from stop_details, then finish content_filter", () => {
    const { events, error } = run("refusal.chunks.txt");
    assert.equal(error, undefined);
    assert.deepEqual(events.slice(1), [
      { type: "usage", usage: { inputTokens: 18, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, outputPending: true },
      {
        type: "refusal",
        text: "This request triggered restrictions on violative cyber content and was blocked under Anthropic's Usage Policy.",
      },
      { type: "finish", finishReason: "content_filter", rawFinishReason: "refusal" },
      { type: "usage", usage: { inputTokens: 18, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ] satisfies StreamEvent[]);
  });

  it("in-band overloaded error after message_start throws ProviderError kind overloaded (message_start's usage already out)", () => {
    const { events, error } = run("overloaded-error.chunks.txt");
    assert.deepEqual(events, [
      { type: "start", id: "msg_01OverloadedMidStream", model: "claude-sonnet-4-5-20250929" },
      { type: "usage", usage: { inputTokens: 25, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, outputPending: true },
    ]);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "overloaded");
    assert.equal(error.providerCode, "overloaded_error");
    assert.equal(error.status, undefined);
    assert.equal(error.message, "anth: anthropic error overloaded_error: Overloaded");
  });

  it("truncated stream (no message_stop) throws stream_interrupted from end()", () => {
    const { events, error } = run("truncated.chunks.txt");
    assert.deepEqual(events, [
      { type: "start", id: "msg_019Q1hrJbZG26Fb9BQhrkHEr", model: "claude-opus-4-8" },
      // What a cut stream is billed on: the reported input; its output is estimated by the router.
      { type: "usage", usage: { inputTokens: 377, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, outputPending: true },
      { type: "text", text: "I'll check the current weather" },
    ]);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "stream_interrupted");
    assert.equal(error.message, "anth: anthropic stream ended before message_stop");
  });

  it("a stream that stops after message_delta (no message_stop) is still interrupted", () => {
    const tr = createAnthropicStreamTranslator();
    tr.event({ event: "message_start", data: '{"type":"message_start","message":{"id":"m","model":"x","usage":{"input_tokens":1}}}' });
    const out = tr.event({ event: "message_delta", data: '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}' });
    assert.deepEqual(out, [
      { type: "finish", finishReason: "stop", rawFinishReason: "end_turn" },
      // The final counts, already out although message_stop never came.
      { type: "usage", usage: { inputTokens: 1, outputTokens: 3, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
    assert.throws(() => tr.end(), (e: unknown) => e instanceof ProviderError && e.kind === "stream_interrupted");
  });

  it("in-band errors are classified by type; unknown types are stream_interrupted", () => {
    const cases: [string, string, string][] = [
      ["overloaded_error", "Overloaded", "overloaded"],
      ["api_error", "Internal server error", "server_error"],
      ["rate_limit_error", "Rate limited", "rate_limited"],
      ["invalid_request_error", "Output blocked by content filtering policy", "content_filtered"],
      ["timeout_error", "Request timed out", "timeout"],
      ["brand_new_error", "Something", "stream_interrupted"],
    ];
    for (const [type, message, kind] of cases) {
      const tr = createAnthropicStreamTranslator();
      assert.throws(
        () => tr.event({ event: "error", data: JSON.stringify({ type: "error", error: { type, message } }) }),
        (e: unknown) => e instanceof ProviderError && e.kind === kind && e.providerCode === type,
        type,
      );
    }
  });

  it("ignores ping and unknown events, and reads the type from the payload when there is no event: line", () => {
    const tr = createAnthropicStreamTranslator();
    assert.deepEqual(tr.event({ event: "ping", data: "not even json" }), []);
    assert.deepEqual(tr.event({ event: "brand_new_event", data: "{}" }), []);
    assert.deepEqual(tr.event({ event: "message", data: '{"type":"message_start","message":{"id":"m1","model":"c"}}' }), [
      { type: "start", id: "m1", model: "c" },
    ]);
    assert.deepEqual(tr.event({ event: "message", data: '{"type":"ping"}' }), []);
    assert.deepEqual(tr.event({ event: "message", data: '{"type":"message_stop"}' }), [
      { type: "finish", finishReason: "other", rawFinishReason: "" },
    ]);
    assert.deepEqual(tr.end(), []);
  });

  it("a duplicate message_start emits start once", () => {
    const tr = createAnthropicStreamTranslator();
    const start = '{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":10,"output_tokens":1}}}';
    assert.deepEqual(
      tr.event({ event: "message_start", data: start }).map((e) => e.type),
      ["start", "usage"],
    );
    assert.deepEqual(tr.event({ event: "message_start", data: start }), []);
  });

  it("a tool_use block whose input arrives whole in content_block_start is forwarded once at its stop", () => {
    const tr = createAnthropicStreamTranslator();
    const out = [
      ...tr.event({
        event: "content_block_start",
        data: '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}}',
      }),
      ...tr.event({ event: "content_block_stop", data: '{"type":"content_block_stop","index":0}' }),
    ];
    assert.deepEqual(out, [
      { type: "tool_call_start", index: 0, id: "t1", name: "f" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"a":1}' },
    ]);
  });

  it("malformed JSON in a known event is a ProviderError, not a TypeError", () => {
    const tr = createAnthropicStreamTranslator();
    assert.throws(
      () => tr.event({ event: "content_block_delta", data: "{oops" }),
      (e: unknown) => e instanceof ProviderError && e.kind === "server_error",
    );
  });
});
