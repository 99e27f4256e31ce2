// The Bedrock event-stream decoder (binary frames across arbitrary network reads, CRC checks) and
// the ConverseStream translator (events, tool calls, usage, in-stream exceptions).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createBedrockStreamDecoder, createBedrockStreamTranslator } from "../../../src/providers/bedrock/index.ts";
import { ProviderError, type SseEvent, type StreamEvent } from "../../../src/providers/types.ts";
import { eventFrame, exceptionFrame } from "../../fakes/bedrock.ts";

const FRAMES = [
  eventFrame("messageStart", { role: "assistant" }),
  eventFrame("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { text: "hm" } } }),
  eventFrame("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { signature: "sig" } } }),
  eventFrame("contentBlockStop", { contentBlockIndex: 0 }),
  eventFrame("contentBlockDelta", { contentBlockIndex: 1, delta: { text: "Grüße " } }),
  eventFrame("contentBlockDelta", { contentBlockIndex: 1, delta: { text: "🌍" } }),
  eventFrame("contentBlockStop", { contentBlockIndex: 1 }),
  eventFrame("contentBlockStart", { contentBlockIndex: 2, start: { toolUse: { toolUseId: "tooluse_a", name: "f" } } }),
  eventFrame("contentBlockDelta", { contentBlockIndex: 2, delta: { toolUse: { input: '{"x":' } } }),
  eventFrame("contentBlockDelta", { contentBlockIndex: 2, delta: { toolUse: { input: "1}" } } }),
  eventFrame("contentBlockStop", { contentBlockIndex: 2 }),
  eventFrame("messageStop", { stopReason: "tool_use" }),
  eventFrame("metadata", { usage: { inputTokens: 8, outputTokens: 5, totalTokens: 15, cacheReadInputTokens: 2 }, metrics: { latencyMs: 3 } }),
];
const BYTES = Buffer.concat(FRAMES.map((f) => Buffer.from(f)));

function decodeIn(pieces: Uint8Array[]): SseEvent[] {
  const d = createBedrockStreamDecoder("b");
  const out: SseEvent[] = [];
  for (const p of pieces) out.push(...d.push(p));
  out.push(...d.end());
  return out;
}

function translate(events: SseEvent[]): StreamEvent[] {
  const t = createBedrockStreamTranslator({ label: "b" });
  const out: StreamEvent[] = [];
  for (const e of events) out.push(...t.event(e));
  out.push(...t.end());
  return out;
}

describe("bedrock: event-stream decoder", () => {
  test("whole body, one byte per read, and every two-way split give the same events", () => {
    const whole = decodeIn([BYTES]);
    assert.equal(whole.length, FRAMES.length);
    assert.deepEqual(whole[0].event, "messageStart");
    assert.deepEqual(JSON.parse(whole[4].data).delta, { text: "Grüße " });
    const bytewise = decodeIn([...BYTES].map((b) => Uint8Array.of(b)));
    assert.deepEqual(bytewise, whole);
    for (let cut = 1; cut < BYTES.length; cut += 13) assert.deepEqual(decodeIn([BYTES.subarray(0, cut), BYTES.subarray(cut)]), whole, `split at ${cut}`);
  });

  test("exception frames and error frames are named for the translator", () => {
    const ev = decodeIn([Buffer.from(exceptionFrame("throttlingException", "Too many tokens"))]);
    assert.deepEqual(ev, [{ event: "throttlingException", data: '{"message":"Too many tokens"}' }]);
  });

  test("a corrupted frame (CRC) and a body ending inside a frame are stream_interrupted", () => {
    const bad = Buffer.from(BYTES);
    bad[20] ^= 0xff;
    assert.throws(() => decodeIn([bad]), (e: unknown) => e instanceof ProviderError && e.kind === "stream_interrupted");
    assert.throws(() => decodeIn([BYTES.subarray(0, BYTES.length - 5)]), (e: unknown) => e instanceof ProviderError && e.kind === "stream_interrupted" && /inside a frame/.test(e.message));
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(0xffffffff, 0);
    assert.throws(() => createBedrockStreamDecoder().push(huge), /impossible frame length/);
  });
});

describe("bedrock: stream translator", () => {
  test("start, reasoning with its signature, text, tool call, finish, usage", () => {
    assert.deepEqual(translate(decodeIn([BYTES])), [
      { type: "start" },
      { type: "reasoning", text: "hm" },
      { type: "reasoning_signature", signature: "sig" },
      { type: "text", text: "Grüße " },
      { type: "text", text: "🌍" },
      { type: "tool_call_start", index: 0, id: "tooluse_a", name: "f" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"x":' },
      { type: "tool_call_delta", index: 0, argumentsDelta: "1}" },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "tool_use" },
      { type: "usage", usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 2, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
  });

  test("a stream that ends before messageStop is stream_interrupted; after it, a missing metadata is fine", () => {
    assert.throws(() => translate(decodeIn([Buffer.concat(FRAMES.slice(0, 6).map((f) => Buffer.from(f)))])), (e: unknown) => e instanceof ProviderError && e.kind === "stream_interrupted");
    const noMeta = translate(decodeIn([Buffer.concat(FRAMES.slice(0, 12).map((f) => Buffer.from(f)))]));
    assert.equal(noMeta.at(-1)?.type, "finish");
  });

  const cases: [string, string, string][] = [
    ["throttlingException", "Too many tokens, please wait before trying again.", "rate_limited"],
    ["serviceUnavailableException", "Bedrock is unable to process your request.", "overloaded"],
    ["internalServerException", "Internal error", "server_error"],
    ["modelStreamErrorException", "Model stream errored", "server_error"],
    ["validationException", "Input is too long for requested model.", "context_length_exceeded"],
    ["validationException", "Bad value", "bad_request"],
    ["somethingNewException", "New", "stream_interrupted"],
  ];
  for (const [type, message, kind] of cases) {
    test(`in-stream ${type} (${message}) → ${kind}`, () => {
      const t = createBedrockStreamTranslator({ label: "b" });
      assert.deepEqual(t.event({ event: "messageStart", data: '{"role":"assistant"}' }), [{ type: "start" }]);
      assert.throws(
        () => t.event({ event: type, data: JSON.stringify({ message }) }),
        (e: unknown) => e instanceof ProviderError && e.kind === kind && e.status === undefined && e.message.includes(message),
      );
    });
  }

  test("an error frame (:message-type error) ends the stream too; unknown events are ignored", () => {
    const t = createBedrockStreamTranslator();
    assert.deepEqual(t.event({ event: "someFutureEvent", data: "{}" }), []);
    assert.throws(() => t.event({ event: "error", data: JSON.stringify({ __type: "InternalFailure", message: "boom" }) }), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
  });
});
