// Traces in memory: a request that fails over twice yields one trace — an RPC span, a routing
// span, a limits span and three `chat {model}` attempt spans in order with the GenAI attributes,
// correctly parented — for unary and streaming calls.

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { createSignalboxClient, userText } from "@signalbox/client";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const CONFIG = `
providers:
  - { name: good, type: mock }
  - { name: down1, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: down2, type: mock, mock: { failure_rate: 1, failure_kind: rate_limited, retry_after_ms: 60000 } }
deployments:
  - { id: a/down1, provider: down1, model: model-down-1, pricing: { input: 1, output: 1 } }
  - { id: b/down2, provider: down2, model: model-down-2, pricing: { input: 1, output: 1 } }
  - { id: c/good, provider: good, model: model-good, pricing: { input: 1, output: 1 } }
routes:
  - { name: r, targets: [a/down1, b/down2, c/good], retry: { max_retries: 0 } }
`;

let exporter: InMemorySpanExporter;
let t: TestGateway;
// A fresh gateway per test: the 429 with retry-after cools b/down2 down for the next request.
beforeEach(async () => {
  exporter = new InMemorySpanExporter();
  const tracing = startTracing({ processor: new SimpleSpanProcessor({ exporter }) })!;
  t = await startTestGateway(CONFIG, { tracing });
});
afterEach(() => t.close());

function traceOf(traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
}

async function waitForSpans(traceId: string, n: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const spans = traceOf(traceId);
    if (spans.length >= n) return spans;
    await new Promise((r) => setTimeout(r, 10));
  }
  return traceOf(traceId);
}

function check(spans: ReadableSpan[], rpcName: string) {
  const rpc = spans.find((s) => s.kind === SpanKind.SERVER)!;
  assert.equal(rpc.name, rpcName);
  assert.equal(rpc.attributes["rpc.system"], "connect_rpc");
  assert.equal(rpc.parentSpanContext, undefined, "the RPC span is the root (no traceparent sent)");
  const rpcId = rpc.spanContext().spanId;
  const children = spans.filter((s) => s.parentSpanContext?.spanId === rpcId);
  assert.equal(children.length, spans.length - 1, "every other span is a child of the RPC span");
  const route = spans.find((s) => s.name === "route r")!;
  assert.deepEqual(route.attributes["signalbox.candidates"], ["a/down1", "b/down2", "c/good"]);
  assert.equal(route.attributes["signalbox.strategy"], "priority");
  assert.ok(spans.find((s) => s.name === "limits.check"));
  const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT).sort((a, b) => Number(a.attributes["signalbox.attempt"]) - Number(b.attributes["signalbox.attempt"]));
  assert.deepEqual(attempts.map((s) => s.name), ["chat model-down-1", "chat model-down-2", "chat model-good"]);
  assert.deepEqual(attempts.map((s) => s.attributes["signalbox.attempt"]), [1, 2, 3]);
  // In order: each attempt starts after the previous one ended.
  for (let i = 1; i < attempts.length; i++) {
    const prevEnd = attempts[i - 1].endTime[0] * 1e9 + attempts[i - 1].endTime[1];
    const start = attempts[i].startTime[0] * 1e9 + attempts[i].startTime[1];
    // Spans share one clock (span-clock.test.ts); 1 ms allows for a pause between the SDK reading it and the clock processor.
    assert.ok(start >= prevEnd - 1e6, `fallback hops are sequential: ${JSON.stringify(attempts.map((a) => [a.name, a.startTime, a.endTime]))}`);
  }
  const [a1, a2, a3] = attempts;
  assert.equal(a1.attributes["gen_ai.operation.name"], "chat");
  assert.equal(a1.attributes["gen_ai.provider.name"], "signalbox.mock");
  assert.equal(a1.attributes["gen_ai.request.model"], "model-down-1");
  assert.equal(a1.attributes["error.type"], "overloaded");
  assert.equal(a1.attributes["signalbox.failure_kind"], "overloaded");
  assert.equal(a1.attributes["signalbox.fallback.reason"], "primary");
  assert.equal(a1.status.code, SpanStatusCode.ERROR);
  assert.equal(a2.attributes["error.type"], "rate_limited");
  assert.equal(a2.attributes["signalbox.retry_after_ms"], 60000);
  assert.equal(a2.attributes["signalbox.fallback.reason"], "fallback after overloaded from a/down1");
  assert.equal(a3.attributes["signalbox.fallback.reason"], "fallback after rate_limited from b/down2");
  assert.equal(a3.status.code, SpanStatusCode.UNSET);
  assert.equal(a3.attributes["gen_ai.response.model"], "model-good");
  assert.deepEqual(a3.attributes["gen_ai.response.finish_reasons"], ["stop"]);
  assert.ok(Number(a3.attributes["gen_ai.usage.input_tokens"]) > 0);
  assert.ok(Number(a3.attributes["gen_ai.usage.output_tokens"]) > 0);
  return { rpc, attempts };
}

test("unary: one trace, three attempt spans in order, parented to the RPC span", async () => {
  const res = await createSignalboxClient({ baseUrl: t.url }).chat.complete({ model: "r", messages: [userText("trace me")] });
  assert.equal(res.deployment, "c/good");
  const spans = await waitForSpans(res.traceId, 6);
  check(spans, "signalbox.v1.ChatService/Complete");
});

test("streaming: the RPC span ends when the stream ends; attempts are its children; first token is an event", async () => {
  let traceId = "";
  for await (const ev of createSignalboxClient({ baseUrl: t.url, protocol: "grpc" }).chat.stream({ model: "r", messages: [userText("stream trace")] })) {
    if (ev.event.case === "start") traceId = ev.event.value.traceId;
  }
  const spans = await waitForSpans(traceId, 6);
  const { rpc, attempts } = check(spans, "signalbox.v1.ChatService/Stream");
  const last = attempts[2];
  assert.ok(last.events.some((e) => e.name === "gen_ai.first_token"));
  const end = (s: ReadableSpan) => s.endTime[0] * 1e9 + s.endTime[1];
  // Spans share one clock (span-clock.test.ts); 1 ms allows for a pause between the SDK reading it and the clock processor.
  assert.ok(end(rpc) >= end(last) - 1e6, "the RPC span outlives its attempts");
});

test("the OpenAI-compatible endpoint: the same tree under an HTTP server span, traceparent continued", async () => {
  for (const stream of [false, true]) {
    exporter.reset();
    const traceId = stream ? "5bf92f3577b34da6a3ce929d0e0e4736" : "6bf92f3577b34da6a3ce929d0e0e4736";
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ model: "r", stream, messages: [{ role: "user", content: "trace the compat path" }] }),
    });
    await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-trace-id"), traceId);
    const spans = await waitForSpans(traceId, 6);
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    assert.equal(server.name, "POST /v1/chat/completions");
    assert.equal(server.attributes["http.response.status_code"], 200);
    assert.equal(server.parentSpanContext?.spanId, "00f067aa0ba902b7");
    const children = spans.filter((s) => s.parentSpanContext?.spanId === server.spanContext().spanId);
    assert.equal(children.length, spans.length - 1, "every other span is a child of the server span");
    assert.ok(spans.find((s) => s.name === "route r"));
    assert.ok(spans.find((s) => s.name === "limits.check"));
    const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT).sort((a, b) => Number(a.attributes["signalbox.attempt"]) - Number(b.attributes["signalbox.attempt"]));
    assert.deepEqual(
      attempts.map((s) => s.name),
      ["chat model-down-1", "chat model-down-2", "chat model-good"],
      stream ? "stream" : "unary",
    );
    // A fresh gateway per test cools b/down2 down; restart for the second round.
    if (!stream) {
      await t.close();
      exporter = new InMemorySpanExporter();
      t = await startTestGateway(CONFIG, { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })! });
    }
  }
});

test("the caller's traceparent is continued and the trace id is returned", async () => {
  const res = await fetch(`${t.url}/signalbox.v1.ChatService/Complete`, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    body: JSON.stringify({ model: "c/good", messages: [{ role: "ROLE_USER", content: [{ text: "hi" }] }] }),
  });
  const body = (await res.json()) as { traceId: string };
  assert.equal(body.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(res.headers.get("x-signalbox-trace-id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  const spans = await waitForSpans(body.traceId, 3);
  const rpc = spans.find((s) => s.kind === SpanKind.SERVER)!;
  assert.equal(rpc.parentSpanContext?.spanId, "00f067aa0ba902b7");
});
