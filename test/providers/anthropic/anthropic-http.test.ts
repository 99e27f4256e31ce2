// The adapter composed with the real http-provider over an in-memory transport: recorded bodies
// go through the same path production uses (status check, SSE parser, translator, end()).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { createAnthropicAdapter } from "../../../src/providers/anthropic/anthropic-adapter.ts";
import { createHttpProvider } from "../../../src/providers/http-provider.ts";
import type { Transport, UpstreamResponse } from "../../../src/providers/transport.ts";
import type { HttpRequestSpec, StreamEvent } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { fixture } from "./replay.ts";

const conn = { name: "claude", type: "anthropic", baseUrl: "https://api.anthropic.com", apiKey: "sk-ant-k", headers: {} } as unknown as ProviderConfig;

function fakeTransport(status: number, bytes: Uint8Array, headers: Record<string, string> = {}, seen: HttpRequestSpec[] = []): Transport {
  return {
    async request(_conn, spec) {
      seen.push(spec);
      const body = {
        async *[Symbol.asyncIterator]() {
          for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5);
        },
        async text() {
          return Buffer.from(bytes).toString("utf8");
        },
        async dump() {},
      };
      return { status, headers, body } as UpstreamResponse;
    },
    async close() {},
  };
}

async function collect(it: AsyncIterable<StreamEvent[]>): Promise<{ events: StreamEvent[]; error?: unknown }> {
  const events: StreamEvent[] = [];
  try {
    for await (const batch of it) events.push(...batch);
  } catch (error) {
    return { events, error };
  }
  return { events };
}

const req = { model: "claude-sonnet-4-5", messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "hi" }] }] };

describe("anthropic adapter through http-provider", () => {
  it("streams the tool-use transcript", async () => {
    const seen: HttpRequestSpec[] = [];
    const p = createHttpProvider(conn, createAnthropicAdapter(conn), fakeTransport(200, fixture("tool-use.chunks.txt"), {}, seen));
    const { events, error } = await collect(p.stream(req, new AbortController().signal));
    assert.equal(error, undefined);
    assert.deepEqual(
      events.map((e) => e.type),
      // message_start's usage (input reported, output pending), then message_delta's final one.
      ["start", "usage", "text", "tool_call_start", "tool_call_delta", "tool_call_delta", "finish", "usage"],
    );
    assert.equal(JSON.parse(seen[0].body ?? "").stream, true);
  });

  it("a truncated stream fails with stream_interrupted after the delivered events", async () => {
    const p = createHttpProvider(conn, createAnthropicAdapter(conn), fakeTransport(200, fixture("truncated.chunks.txt")));
    const { events, error } = await collect(p.stream(req, new AbortController().signal));
    // The usage message_start reported is delivered before the cut: the attempt is billed on it.
    assert.deepEqual(events.map((e) => e.type), ["start", "usage", "text"]);
    assert.ok(error instanceof ProviderError && error.kind === "stream_interrupted");
  });

  it("a 529 fails the call with overloaded and its retry-after", async () => {
    const body = Buffer.from('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":null}');
    const p = createHttpProvider(conn, createAnthropicAdapter(conn), fakeTransport(529, body, { "retry-after": "2", "request-id": "req_x" }));
    await assert.rejects(
      p.complete(req, new AbortController().signal),
      (e: unknown) => e instanceof ProviderError && e.kind === "overloaded" && e.retryAfterMs === 2000 && e.requestId === "req_x" && e.status === 529,
    );
  });

  it("completes a unary tool-use answer", async () => {
    const p = createHttpProvider(conn, createAnthropicAdapter(conn), fakeTransport(200, fixture("tool-use.json")));
    const r = await p.complete(req, new AbortController().signal);
    assert.equal(r.finishReason, "tool_calls");
    assert.equal(r.toolCalls[0].arguments, '{"city":"Paris"}');
  });
});
