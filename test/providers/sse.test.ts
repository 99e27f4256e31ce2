// The SSE parser against the ways real streams arrive: split anywhere, \r\n and \r endings,
// comments, multi-line data, UTF-8 code points cut across reads, and EOF before the terminator.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createSseParser, parseSse } from "../../src/providers/sse.ts";
import type { SseEvent } from "../../src/providers/types.ts";

const enc = new TextEncoder();

/** Feed `text` to a fresh parser cut into pieces of `size` bytes. */
function feed(text: string | Uint8Array, size: number): SseEvent[] {
  const bytes = typeof text === "string" ? enc.encode(text) : text;
  const p = createSseParser();
  const out: SseEvent[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...p.push(bytes.subarray(i, i + size)));
  out.push(...p.end());
  return out;
}

const SIZES = [1, 2, 3, 5, 7, 13, 64, 1 << 20];

function same(text: string | Uint8Array, expected: SseEvent[]) {
  for (const n of SIZES) assert.deepEqual(feed(text, n), expected, `split every ${n} bytes`);
}

test("OpenAI-style data-only events, split at every byte boundary", () => {
  same('data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n', [
    { event: "message", data: '{"a":1}', id: undefined },
    { event: "message", data: '{"b":2}', id: undefined },
    { event: "message", data: "[DONE]", id: undefined },
  ]);
});

test("named events (Anthropic)", () => {
  same('event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {"type": "ping"}\n\n', [
    { event: "message_start", data: '{"type":"message_start"}', id: undefined },
    { event: "ping", data: '{"type": "ping"}', id: undefined },
  ]);
});

test("\\r\\n endings (Gemini's \\r\\n\\r\\n) and lone \\r", () => {
  same('data: {"x":1}\r\n\r\ndata: {"y":2}\r\n\r\n', [
    { event: "message", data: '{"x":1}', id: undefined },
    { event: "message", data: '{"y":2}', id: undefined },
  ]);
  same("data: a\r\rdata: b\r\r", [
    { event: "message", data: "a", id: undefined },
    { event: "message", data: "b", id: undefined },
  ]);
});

test("comments are skipped (OpenRouter keep-alives)", () => {
  same(": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {}\n\n", [{ event: "message", data: "{}", id: undefined }]);
});

test("multi-line data joins with \\n; one optional space is stripped; id is kept", () => {
  same("id: 7\ndata:first\ndata:  second\n\n", [{ event: "message", data: "first\n second", id: "7" }]);
});

test("a UTF-8 code point cut across reads decodes intact", () => {
  const text = 'data: {"t":"héllo 👋 世界"}\n\n';
  same(text, [{ event: "message", data: '{"t":"héllo 👋 世界"}', id: undefined }]);
});

test("EOF before the blank line dispatches nothing and reports pending bytes", () => {
  const p = createSseParser();
  assert.deepEqual(p.push(enc.encode('data: {"partial":')), []);
  assert.equal(p.pending, true);
  assert.deepEqual(p.end(), []);
  const q = createSseParser();
  q.push(enc.encode("data: done\n\n"));
  assert.equal(q.pending, false);
});

test("parseSse over an async byte stream", async () => {
  async function* body() {
    yield enc.encode("data: 1\n");
    yield enc.encode("\ndata: 2\n\n");
  }
  const out: string[] = [];
  for await (const e of parseSse(body())) out.push(e.data);
  assert.deepEqual(out, ["1", "2"]);
});
