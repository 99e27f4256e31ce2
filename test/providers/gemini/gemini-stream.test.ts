import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createGeminiAdapter } from "../../../src/providers/gemini/index.ts";
import type { StreamEvent } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { conn, fixtureBytes, joined, replay, slices, splitAt } from "./gemini-test-utils.ts";

const adapter = createGeminiAdapter(conn());

// Usage follows each chunk whose cumulative usageMetadata changed (hidden thoughts included), so a
// stream cut at any point is billed on what Gemini counted up to there; the last chunk repeats it.
const TEXT_EVENTS: StreamEvent[] = [
  { type: "start", id: "bH6LaZW8Fp_3nsEPqtaSwQ4", model: "gemini-3-pro-preview" },
  { type: "text", text: "There are **3**" },
  { type: "usage", usage: { inputTokens: 9, outputTokens: 5 + 185, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 185 } },
  { type: "text", text: ' "r"s in strawberry.' },
  { type: "usage", usage: { inputTokens: 9, outputTokens: 23 + 185, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 185 } },
  { type: "finish", finishReason: "stop", rawFinishReason: "STOP" },
];

describe("Gemini stream translation", () => {
  it("the fixtures are framed with CRLF CRLF, as Gemini sends them", () => {
    const s = new TextDecoder().decode(fixtureBytes("text.chunks.txt"));
    assert.equal(s.split("\r\n\r\n").length, 4);
    assert.ok(!/[^\r]\n/.test(s));
  });

  it("translates the §4.4 text stream, delivered whole", () => {
    const { events, error } = replay(adapter.streamTranslator(), [fixtureBytes("text.chunks.txt")]);
    assert.equal(error, undefined);
    assert.deepEqual(events, TEXT_EVENTS);
  });

  it("gives the same events however the bytes are split (1, 7, 64 bytes; split inside CRLF CRLF)", () => {
    const bytes = fixtureBytes("text.chunks.txt");
    for (const n of [1, 7, 64]) {
      const { events, error } = replay(adapter.streamTranslator(), slices(bytes, n));
      assert.equal(error, undefined, `slices of ${n}`);
      assert.deepEqual(events, TEXT_EVENTS, `slices of ${n}`);
    }
    // Cut between the \r and \n of every event terminator.
    const cuts: number[] = [];
    for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 13 && bytes[i + 1] === 10) cuts.push(i + 1);
    assert.deepEqual(replay(adapter.streamTranslator(), splitAt(bytes, cuts)).events, TEXT_EVENTS);
  });

  it("decodes UTF-8 code points split across network chunks", () => {
    const bytes = fixtureBytes("utf8.chunks.txt");
    const emoji = Buffer.from(bytes).indexOf(Buffer.from("🍓"));
    const e = Buffer.from(bytes).indexOf(Buffer.from("è"));
    const cjk = Buffer.from(bytes).indexOf(Buffer.from("草"));
    assert.ok(emoji > 0 && e > 0 && cjk > 0);
    const { events, error } = replay(adapter.streamTranslator(), splitAt(bytes, [emoji + 1, emoji + 2, emoji + 3, e + 1, cjk + 2]));
    assert.equal(error, undefined);
    assert.equal(joined(events, "text"), "Fraises 🍓 et crème brûlée — 草莓");
    assert.ok(!joined(events, "text").includes("\uFFFD"));
    assert.deepEqual(events.at(-2), { type: "finish", finishReason: "stop", rawFinishReason: "STOP" });
    assert.deepEqual(events.at(-1), { type: "usage", usage: { inputTokens: 4, outputTokens: 11, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } });
  });

  it("emits a whole function call as tool_call_start + one tool_call_delta, with a synthesised id and its signature", () => {
    const { events, error } = replay(adapter.streamTranslator(), slices(fixtureBytes("tool-call.chunks.txt"), 13));
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", id: "b36LacjwM668nsEP2tbsgQQ", model: "gemini-3-pro-preview" },
      { type: "tool_call_start", index: 0, id: "call_b36LacjwM668nsEP2tbsgQQ_0", name: "weather", signature: "EqUCCqIC..." },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"location":"San Francisco"}' },
      { type: "usage", usage: { inputTokens: 29, outputTokens: 60, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 45 } },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "STOP" },
    ]);
  });

  it("handles reasoning, text and parallel calls (ids synthesised per stream, real ids kept); usage follows every change, the last one final", () => {
    const { events, error } = replay(adapter.streamTranslator(), slices(fixtureBytes("parallel-tool-calls.chunks.txt"), 50));
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", id: "pTc2", model: "gemini-2.5-flash" },
      { type: "reasoning", text: "Checking both cities." },
      { type: "usage", usage: { inputTokens: 40, outputTokens: 12, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 12 } },
      { type: "text", text: "Let me look." },
      { type: "tool_call_start", index: 0, id: "call_pTc2_0", name: "weather" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"location":"Paris"}' },
      { type: "tool_call_start", index: 1, id: "fc-77", name: "weather" },
      { type: "tool_call_delta", index: 1, argumentsDelta: '{"location":"Tokyo"}' },
      { type: "usage", usage: { inputTokens: 40, outputTokens: 42, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 12 } },
      { type: "finish", finishReason: "tool_calls", rawFinishReason: "STOP" },
      { type: "usage", usage: { inputTokens: 43, outputTokens: 42, cachedInputTokens: 8, cacheWriteTokens: 0, reasoningTokens: 12 } },
    ]);
  });

  it("throws content_filtered for a blocked prompt, before any event", () => {
    const { events, error } = replay(adapter.streamTranslator(), [fixtureBytes("prompt-block.chunks.txt")]);
    assert.deepEqual(events, []);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "content_filtered");
    assert.equal(error.providerCode, "PROHIBITED_CONTENT");
    assert.equal(error.message, "gemini: prompt blocked (PROHIBITED_CONTENT)");
    // The prompt was counted before it was blocked: the failed attempt is billed on it.
    assert.deepEqual(error.usage, { inputTokens: 12, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it("throws the classified error for a mid-stream error chunk, after the content already emitted", () => {
    const { events, error } = replay(adapter.streamTranslator(), slices(fixtureBytes("mid-stream-error.chunks.txt"), 9));
    assert.deepEqual(events, [
      { type: "start", id: "err1", model: "gemini-2.5-flash" },
      { type: "text", text: "Once upon" },
      { type: "usage", usage: { inputTokens: 5, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "overloaded");
    assert.equal(error.status, 503);
    assert.equal(error.providerCode, "UNAVAILABLE");
    assert.equal(error.message, "gemini: 503 UNAVAILABLE: The model is overloaded. Please try again later.");
  });

  it("throws stream_interrupted when the connection closes without a finishReason", () => {
    const { events, error } = replay(adapter.streamTranslator(), [fixtureBytes("truncated.chunks.txt")]);
    assert.deepEqual(events, [
      { type: "start", id: "cut1", model: "gemini-2.5-flash" },
      { type: "text", text: "The answer" },
      { type: "usage", usage: { inputTokens: 5, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
      { type: "text", text: " is" },
      // The last cumulative count before the cut: what the attempt is billed on.
      { type: "usage", usage: { inputTokens: 5, outputTokens: 3, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
    ]);
    assert.ok(error instanceof ProviderError);
    assert.equal(error.kind, "stream_interrupted");
    assert.equal(error.message, "gemini: stream ended without a finishReason");
  });

  it("throws stream_interrupted for a stream cut mid-event and for an empty stream", () => {
    const bytes = fixtureBytes("text.chunks.txt");
    const lastEvent = Buffer.from(bytes).lastIndexOf(Buffer.from("data: "));
    const cut = replay(adapter.streamTranslator(), [bytes.subarray(0, lastEvent + 40)]);
    assert.equal(joined(cut.events, "text"), 'There are **3** "r"s in strawberry.');
    assert.ok(cut.error instanceof ProviderError && cut.error.kind === "stream_interrupted");
    const empty = replay(adapter.streamTranslator(), []);
    assert.deepEqual(empty.events, []);
    assert.ok(empty.error instanceof ProviderError && empty.error.kind === "stream_interrupted");
  });

  it("fails a raw (un-prefixed) JSON error body as stream_interrupted: SSE parsing never hands it over", () => {
    const raw = '[{\r\n  "error": {\r\n    "code": 503,\r\n    "message": "The model is overloaded.",\r\n    "status": "UNAVAILABLE"\r\n  }\r\n}\r\n]';
    const rawBytes = new TextEncoder().encode(raw);
    const { error } = replay(adapter.streamTranslator(), [fixtureBytes("truncated.chunks.txt"), rawBytes]);
    assert.ok(error instanceof ProviderError && error.kind === "stream_interrupted");
    const alone = replay(adapter.streamTranslator(), [rawBytes]);
    assert.deepEqual(alone.events, []);
    assert.ok(alone.error instanceof ProviderError && alone.error.kind === "stream_interrupted");
  });

  it("throws server_error for a data line that is not JSON", () => {
    const tr = adapter.streamTranslator();
    assert.throws(
      () => tr.event({ event: "message", data: "not json" }),
      (e: unknown) => e instanceof ProviderError && e.kind === "server_error",
    );
  });

  it("keeps no state across translators", () => {
    const bytes = fixtureBytes("parallel-tool-calls.chunks.txt");
    const first = replay(adapter.streamTranslator(), [bytes]).events;
    const second = replay(adapter.streamTranslator(), [bytes]).events;
    assert.deepEqual(second, first);
  });
});

describe("Gemini log probabilities", () => {
  const sse = (o: unknown) => new TextEncoder().encode(`data: ${JSON.stringify(o)}\r\n\r\n`);
  const chunk = (text: string, logprobsResult: unknown, finishReason?: string) => ({
    candidates: [{ content: { role: "model", parts: [{ text }] }, ...(finishReason ? { finishReason } : {}), logprobsResult, index: 0 }],
    modelVersion: "gemini-2.0-flash",
    responseId: "r1",
  });

  it("a chunk's logprobsResult follows its text; a left-out logProbability is 0; bad entries are skipped", () => {
    const { events, error } = replay(adapter.streamTranslator(), [
      sse(chunk("Hi", { chosenCandidates: [{ token: "Hi", tokenId: 1 }], topCandidates: [{ candidates: [{ token: "Hi", tokenId: 1 }, { token: "Hey", logProbability: -2.5 }] }] })),
      sse(chunk(" there", { chosenCandidates: [{ token: " there", logProbability: -0.25 }, { logProbability: -1 }, { token: "x", logProbability: "NaN" }] }, "STOP")),
    ]);
    assert.equal(error, undefined);
    const bytes = (s: string) => [...Buffer.from(s, "utf8")];
    assert.deepEqual(
      events.filter((e) => e.type === "text" || e.type === "logprobs"),
      [
        { type: "text", text: "Hi" },
        { type: "logprobs", content: [{ token: "Hi", logprob: 0, bytes: bytes("Hi"), top: [{ token: "Hi", logprob: 0, bytes: bytes("Hi") }, { token: "Hey", logprob: -2.5, bytes: bytes("Hey") }] }] },
        { type: "text", text: " there" },
        { type: "logprobs", content: [{ token: " there", logprob: -0.25, bytes: bytes(" there"), top: [] }] },
      ],
    );
  });

  it("unary: the candidate's logprobsResult on the result; none when absent or empty", () => {
    const r = adapter.parseResponse(JSON.stringify(chunk("Hé", { chosenCandidates: [{ token: "Hé", logProbability: -0.5 }] }, "STOP")), {});
    assert.deepEqual(r.logprobs, [{ token: "Hé", logprob: -0.5, bytes: [72, 195, 169], top: [] }]);
    assert.equal(adapter.parseResponse(JSON.stringify(chunk("Hi", undefined, "STOP")), {}).logprobs, undefined);
    assert.equal(adapter.parseResponse(JSON.stringify(chunk("Hi", { chosenCandidates: [] }, "STOP")), {}).logprobs, undefined);
  });
});
