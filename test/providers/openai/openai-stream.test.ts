import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createOpenAIAdapter } from "../../../src/providers/openai/index.ts";
import { ProviderError, type StreamEvent } from "../../../src/providers/types.ts";
import { fixture, makeConn, runStream, runStreamUntilError, VENDOR } from "./helpers.ts";

const openai = () => createOpenAIAdapter(makeConn("openai")).streamTranslator();
const azure = () => createOpenAIAdapter(makeConn("azure", { apiVersion: "2024-10-21" })).streamTranslator();
const openrouter = () => createOpenAIAdapter(makeConn("openrouter")).streamTranslator();

const TEXT_EVENTS: StreamEvent[] = [
  { type: "start", id: "chatcmpl-D8Z5", model: "gpt-4.1-nano-2025-04-14" },
  { type: "text", text: "Héllo" },
  { type: "text", text: ", wörld 🌍" },
  { type: "finish", finishReason: "stop", rawFinishReason: "stop" },
  {
    type: "usage",
    usage: { inputTokens: 16, outputTokens: 300, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
  },
];

/** Merge consecutive text events: byte splits never split events, but keep the check robust. */
function text(events: StreamEvent[]): string {
  return events.map((e) => (e.type === "text" ? e.text : "")).join("");
}

function expectError(sse: string, tr = openai()): { events: StreamEvent[]; error: ProviderError } {
  const { events, error } = runStreamUntilError(tr, sse);
  assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
  return { events, error };
}

describe("stream: openai", () => {
  it("text stream: role chunk, content, finish, usage chunk with choices:[], [DONE]", () => {
    assert.deepEqual(runStream(openai(), fixture("openai", "text.chunks.txt")), TEXT_EVENTS);
  });

  it("gives the same events whatever the network splits (every byte, odd sizes, mid UTF-8)", () => {
    const sse = fixture("openai", "text.chunks.txt");
    for (const split of [1, 2, 3, 7, [5, 1, 13], 64, 333]) {
      assert.deepEqual(runStream(openai(), sse, split), TEXT_EVENTS, `split ${JSON.stringify(split)}`);
    }
  });

  it("CRLF line endings", () => {
    const sse = fixture("openai", "text.chunks.txt").replace(/\n/g, "\r\n");
    assert.deepEqual(runStream(openai(), sse, 3), TEXT_EVENTS);
  });

  it("tool call fragments by index (§1.4)", () => {
    assert.deepEqual(runStream(openai(), fixture("openai", "tool-call.chunks.txt"), 11), [
      { type: "start", id: "chatcmpl-96aZ", model: "gpt-3.5-turbo-0125" },
      { type: "tool_call_start", index: 0, id: "call_O17Uplv4lJvD6DVdIvFFeRMw", name: "test-tool" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"' },
      { type: "tool_call_delta", index: 0, argumentsDelta: 'value":"Sparkle Day"}' },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "tool_calls" },
      { type: "usage", usage: { inputTokens: 53, outputTokens: 17, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
  });

  it("parallel tool calls with interleaved fragments", () => {
    assert.deepEqual(runStream(openai(), fixture("openai", "parallel-tools.chunks.txt")), [
      { type: "start", id: "chatcmpl-par", model: "gpt-4o-2024-08-06" },
      { type: "tool_call_start", index: 0, id: "call_a", name: "get_weather" },
      { type: "tool_call_start", index: 1, id: "call_b", name: "get_time" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"city":' },
      { type: "tool_call_delta", index: 1, argumentsDelta: '{"tz":"CET"}' },
      { type: "tool_call_delta", index: 0, argumentsDelta: '"Paris"}' },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "tool_calls" },
      { type: "usage", usage: { inputTokens: 90, outputTokens: 40, cachedInputTokens: 64, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
  });

  it("refusal deltas", () => {
    const sse =
      'data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","refusal":""},"finish_reason":null}]}\n\n' +
      'data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"refusal":"I can\'t"},"finish_reason":null}]}\n\n' +
      'data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
      "data: [DONE]\n\n";
    assert.deepEqual(runStream(openai(), sse), [
      { type: "start", id: "c1", model: "gpt-4o" },
      { type: "refusal", text: "I can't" },
      { type: "finish", finishReason: "stop", rawFinishReason: "stop" },
    ]);
  });

  it("in-band error chunk throws, classified (server_error), after the start event", () => {
    const { events, error } = expectError(fixture("openai", "stream-error.chunks.txt"));
    assert.deepEqual(events, [{ type: "start", id: "chatcmpl-err", model: "gpt-4o" }]);
    assert.equal(error.kind, "stream_interrupted");
    assert.equal(error.providerCode, "server_error");
    assert.equal(error.message, "The server had an error while processing your request. Sorry about that!");
  });

  it("event: error throws with the error's classification", () => {
    const sse =
      'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n' +
      'event: error\ndata: {"error":{"message":"Rate limit reached for gpt-4o. Please try again in 2s.","type":"tokens","code":"rate_limit_exceeded"}}\n\n';
    const { events, error } = expectError(sse);
    assert.equal(text(events), "a");
    assert.equal(error.kind, "rate_limited");
    assert.equal(error.retryAfterMs, 2000);
    assert.equal(error.providerCode, "rate_limit_exceeded");
  });

  it("event: error with a bare error object or plain text", () => {
    assert.equal(expectError('event: error\ndata: {"message":"boom","type":"server_error"}\n\n').error.message, "boom");
    const plain = expectError("event: error\ndata: upstream exploded\n\n").error;
    assert.equal(plain.kind, "stream_interrupted");
    assert.equal(plain.message, "upstream exploded");
  });

  it("end() without [DONE] throws stream_interrupted; content before it was delivered", () => {
    const { events, error } = expectError(fixture("openai", "truncated.chunks.txt"));
    assert.equal(error.kind, "stream_interrupted");
    assert.equal(text(events), "Partial");
  });

  it("an empty stream is interrupted too", () => {
    assert.equal(expectError("").error.kind, "stream_interrupted");
  });

  it("a chunk that is not JSON throws stream_interrupted", () => {
    assert.equal(expectError('data: {"id":"c1","choices":[\n\n').error.kind, "stream_interrupted");
  });

  it("[DONE] without a finish chunk still finishes (other), ignores what follows", () => {
    const sse = 'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\ndata: [DONE]\n\ndata: {"id":"c2"}\n\n';
    assert.deepEqual(runStream(openai(), sse), [
      { type: "start", id: "c1", model: "m" },
      { type: "text", text: "x" },
      { type: "finish", finishReason: "other", rawFinishReason: "" },
    ]);
  });

  it("forced tool call streamed with finish_reason stop reports tool_calls", () => {
    const sse =
      'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}\n\n' +
      'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
    const events = runStream(openai(), sse);
    assert.deepEqual(events.at(-1), { type: "finish", finishReason: "tool_calls", rawFinishReason: "stop" });
  });
});

describe("stream: azure", () => {
  it("skips the empty first chunk and the content_filter_offsets chunk (§2.4)", () => {
    assert.deepEqual(runStream(azure(), fixture("azure", "model-router.chunks.txt"), 17), [
      { type: "start", id: "chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt", model: "gpt-5-nano-2025-08-07" },
      { type: "text", text: "Capital" },
      { type: "finish", finishReason: "stop", rawFinishReason: "stop" },
      { type: "usage", usage: { inputTokens: 15, outputTokens: 78, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 64 } },
    ]);
  });

  it("output blocked mid-stream finishes with content_filter (not an error)", () => {
    assert.deepEqual(runStream(azure(), fixture("azure", "content-filter.chunks.txt")), [
      { type: "start", id: "chatcmpl-cf", model: "gpt-4o-2024-11-20" },
      { type: "text", text: "Step one" },
      { type: "finish", finishReason: "content_filter", rawFinishReason: "content_filter" },
    ]);
  });
});

describe("stream: openrouter", () => {
  it("comments, reasoning deltas, usage with cost", () => {
    assert.deepEqual(runStream(openrouter(), fixture("openrouter", "reasoning.chunks.txt"), 9), [
      { type: "start", id: "gen-abc123", model: "anthropic/claude-sonnet-4.5" },
      { type: "reasoning", text: "Thinking about " },
      { type: "reasoning", text: "the answer." },
      { type: "text", text: "Forty-two." },
      // OpenRouter's native_finish_reason (the upstream provider's own) is the raw value.
      { type: "finish", finishReason: "stop", rawFinishReason: "end_turn" },
      {
        type: "usage",
        usage: { inputTokens: 120, outputTokens: 30, cachedInputTokens: 100, cacheWriteTokens: 10, reasoningTokens: 12, providerCostUsd: 0.00123 },
      },
    ]);
  });

  it("mid-stream error chunk (top-level error + finish_reason error) throws rate_limited", () => {
    const { events, error } = expectError(fixture("openrouter", "mid-stream-error.chunks.txt"), openrouter());
    assert.equal(text(events), "The");
    assert.equal(error.kind, "rate_limited");
    assert.equal(error.status, 429);
    assert.equal(error.message, "Rate limit exceeded");
    assert.equal(error.providerCode, "rate_limit_exceeded");
  });

  it("finish_reason error with choices[].error throws, classified", () => {
    const { events, error } = expectError(fixture("openrouter", "finish-error.chunks.txt"), openrouter());
    // The failing chunk's own events are not delivered: the error is thrown instead.
    assert.deepEqual(events, []);
    assert.equal(error.kind, "server_error");
    assert.equal(error.status, 502);
  });
});

describe("stream: compat servers", () => {
  it("Groq usage from x_groq.usage on the finish chunk", () => {
    const tr = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.groq })).streamTranslator();
    assert.deepEqual(runStream(tr, fixture("openai", "compat-groq.chunks.txt"), 4), [
      { type: "start", id: "chatcmpl-groq1", model: "llama-3.3-70b-versatile" },
      { type: "text", text: "Hi!" },
      { type: "finish", finishReason: "stop", rawFinishReason: "stop" },
      { type: "usage", usage: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
  });

  it("without the usage path configured, x_groq.usage is ignored", () => {
    const events = runStream(openai(), fixture("openai", "compat-groq.chunks.txt"));
    assert.equal(events.some((e) => e.type === "usage"), false);
  });

  it("Groq with both x_groq.usage and a standard usage chunk reports each as it arrives (the last one wins)", () => {
    const tr = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.groq })).streamTranslator();
    const sse = fixture("openai", "compat-groq.chunks.txt").replace(
      "data: [DONE]",
      'data: {"id":"chatcmpl-groq1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}\n\ndata: [DONE]',
    );
    const usage = runStream(tr, sse).filter((e) => e.type === "usage");
    // Usage is emitted as soon as it arrives, so a stream that breaks after x_groq.usage is still
    // billed on it; the router keeps the latest.
    assert.deepEqual(usage, [
      { type: "usage", usage: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
      { type: "usage", usage: { inputTokens: 12, outputTokens: 4, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
  });

  it("an in-band error after the usage chunk: the usage is out first; an error chunk carrying usage has it on the error", () => {
    const tr = createOpenAIAdapter(makeConn("openai")).streamTranslator();
    const events = tr.event({
      event: "message",
      data: '{"id":"c1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":7,"total_tokens":37}}',
    });
    assert.deepEqual(events.filter((e) => e.type === "usage"), [
      { type: "usage", usage: { inputTokens: 30, outputTokens: 7, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
    assert.throws(
      () => tr.event({ event: "message", data: '{"error":{"message":"The server had an error","type":"server_error"}}' }),
      (e: unknown) => e instanceof ProviderError && e.usage === undefined,
    );
    const or = createOpenAIAdapter(makeConn("openai")).streamTranslator();
    assert.throws(
      () =>
        or.event({
          event: "message",
          data: '{"id":"gen-1","error":{"code":502,"message":"Provider disconnected"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}],"usage":{"prompt_tokens":20,"completion_tokens":5,"total_tokens":25}}',
        }),
      (e: unknown) => e instanceof ProviderError && e.usage?.inputTokens === 20 && e.usage.outputTokens === 5,
    );
  });

  it("vLLM reasoning_content deltas", () => {
    const tr = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.vllm })).streamTranslator();
    assert.deepEqual(runStream(tr, fixture("openai", "compat-vllm-reasoning.chunks.txt"), 2), [
      { type: "start", id: "chatcmpl-vllm", model: "Qwen/Qwen3-8B" },
      { type: "reasoning", text: "User greets. " },
      { type: "text", text: "Hello" },
      { type: "finish", finishReason: "length", rawFinishReason: "length" },
      { type: "usage", usage: { inputTokens: 9, outputTokens: 20, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
  });

  it("Ollama-style complete tool call in one delta, without index, object arguments", () => {
    const sse =
      'data: {"id":"chatcmpl-1","model":"llama3.2:latest","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_x","function":{"name":"f","arguments":{"a":1}}},{"id":"call_y","function":{"name":"g","arguments":"{}"}}]},"finish_reason":null}]}\n\n' +
      'data: {"id":"chatcmpl-1","model":"llama3.2:latest","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n';
    const tr = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.ollama })).streamTranslator();
    assert.deepEqual(runStream(tr, sse), [
      { type: "start", id: "chatcmpl-1", model: "llama3.2:latest" },
      { type: "tool_call_start", index: 0, id: "call_x", name: "f" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"a":1}' },
      { type: "tool_call_start", index: 1, id: "call_y", name: "g" },
      { type: "tool_call_delta", index: 1, argumentsDelta: "{}" },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "tool_calls" },
    ]);
  });

  it("a server without ids still emits start before content", () => {
    const sse = 'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
    assert.deepEqual(runStream(openai(), sse), [
      { type: "start", id: undefined, model: undefined },
      { type: "text", text: "x" },
      { type: "finish", finishReason: "stop", rawFinishReason: "stop" },
    ]);
  });
});
