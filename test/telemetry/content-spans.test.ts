// Prompts and answers on the gateway's own traces, as the GenAI semantic conventions put them, when
// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks: the request's SERVER span carries
// gen_ai.system_instructions, gen_ai.input.messages (as sent: after the input guardrails'
// redactions), gen_ai.output.messages (with the model's reasoning as its reasoning part) and the
// request's settings, through the OpenAI-compatible door and a Connect stream alike. Unset, or a request that says no_log, no content at all.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { createSignalboxClient, userText } from "@signalbox/client";
import { spanContentRequested } from "../../src/telemetry/tracing.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic } from "../fakes/anthropic.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: chat, targets: [mock/a] }
guardrails:
  - { name: no-pii, kind: pii, stage: input, action: redact, pii: { categories: [email] } }
`;

type Json = Record<string, any>;

async function serverSpan(exporter: InMemorySpanExporter, traceId: string): Promise<ReadableSpan> {
  for (let i = 0; i < 200; i++) {
    const s = exporter.getFinishedSpans().find((x) => x.spanContext().traceId === traceId && x.kind === SpanKind.SERVER);
    if (s) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no server span for trace ${traceId}`);
}

const post = (t: TestGateway, body: unknown) => fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true", () => {
  let exporter: InMemorySpanExporter;
  let t: TestGateway;
  before(async () => {
    exporter = new InMemorySpanExporter();
    t = await startTestGateway(CONFIG, { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }), env: { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true" } })! });
  });
  after(() => t.close());

  test("the OpenAI-compatible door: system instructions, the messages as sent, the answer and the settings on the request's span", async () => {
    const res = await post(t, {
      model: "chat",
      temperature: 0.3,
      max_tokens: 64,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "write to jane@example.com please" },
      ],
      signalbox: { guardrails: ["no-pii"] },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Json;
    const span = await serverSpan(exporter, res.headers.get("x-signalbox-trace-id")!);
    const a = span.attributes;
    assert.deepEqual(JSON.parse(String(a["gen_ai.system_instructions"])), [{ type: "text", content: "Be brief." }]);
    const input = JSON.parse(String(a["gen_ai.input.messages"])) as Json[];
    assert.equal(input.length, 1);
    assert.equal(input[0].role, "user");
    assert.ok(!input[0].parts[0].content.includes("jane@example.com"), "the prompt as sent, redacted");
    const output = JSON.parse(String(a["gen_ai.output.messages"])) as Json[];
    assert.deepEqual(output, [{ role: "assistant", parts: [{ type: "text", content: body.choices[0].message.content }], finish_reason: "stop" }]);
    assert.equal(a["gen_ai.request.temperature"], 0.3);
    assert.equal(a["gen_ai.request.max_tokens"], 64);
  });

  test("a Connect stream: the streamed answer whole on the RPC span", async () => {
    const client = createSignalboxClient({ baseUrl: t.url });
    let traceId = "";
    let text = "";
    for await (const ev of client.chat.stream({ model: "chat", messages: [userText("stream it")] })) {
      if (ev.event.case === "start") traceId = ev.event.value.traceId;
      if (ev.event.case === "delta") text += ev.event.value.text;
    }
    const span = await serverSpan(exporter, traceId);
    assert.equal(JSON.parse(String(span.attributes["gen_ai.input.messages"]))[0].parts[0].content, "stream it");
    assert.equal(JSON.parse(String(span.attributes["gen_ai.output.messages"]))[0].parts[0].content, text);
  });

  test("a request that says no_log has no content on its span", async () => {
    const res = await post(t, { model: "chat", messages: [{ role: "user", content: "secret plans" }], metadata: { no_log: "true" } });
    const span = await serverSpan(exporter, res.headers.get("x-signalbox-trace-id")!);
    assert.equal(span.attributes["gen_ai.input.messages"], undefined);
    assert.equal(span.attributes["gen_ai.output.messages"], undefined);
  });
});

test("unset, the spans carry no content", async () => {
  const exporter = new InMemorySpanExporter();
  const t = await startTestGateway(CONFIG, { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }), env: {} })! });
  try {
    const res = await post(t, { model: "chat", messages: [{ role: "user", content: "hello" }] });
    const span = await serverSpan(exporter, res.headers.get("x-signalbox-trace-id")!);
    assert.equal(span.attributes["gen_ai.input.messages"], undefined);
    assert.ok(Object.keys(span.attributes).length > 0);
  } finally {
    await t.close();
  }
});

test("what the variable's values mean", () => {
  for (const v of ["true", "TRUE", "1", "span_only", "SPAN_AND_EVENT"]) assert.equal(spanContentRequested({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: v }), true, v);
  for (const v of [undefined, "", "false", "no_content", "event_only"]) assert.equal(spanContentRequested({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: v }), false, String(v));
});

test("a model's reasoning is the output message's reasoning part (Anthropic's thinking, unary and streamed)", async () => {
  const anthropic = await startFakeAnthropic();
  const exporter = new InMemorySpanExporter();
  const t = await startTestGateway(
    `
providers:
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: ${ANTHROPIC_TEST_KEY} }
deployments:
  - { id: claude, provider: anthropic, model: claude-sonnet-4-5 }
`,
    { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }), env: { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "span_only" } })! },
  );
  try {
    anthropic.script([
      { kind: "text", text: "Paris.", thinking: "The capital of France is Paris." },
      { kind: "text", text: "Lyon.", thinking: "Second city: Lyon." },
    ]);
    const res = await post(t, { model: "claude", messages: [{ role: "user", content: "capital?" }] });
    assert.equal(res.status, 200);
    const out = JSON.parse(String((await serverSpan(exporter, res.headers.get("x-signalbox-trace-id")!)).attributes["gen_ai.output.messages"])) as Json[];
    assert.deepEqual(out[0].parts, [
      { type: "reasoning", content: "The capital of France is Paris." },
      { type: "text", content: "Paris." },
    ]);
    const client = createSignalboxClient({ baseUrl: t.url });
    let traceId = "";
    for await (const ev of client.chat.stream({ model: "claude", messages: [userText("second city?")] })) if (ev.event.case === "start") traceId = ev.event.value.traceId;
    const streamed = JSON.parse(String((await serverSpan(exporter, traceId)).attributes["gen_ai.output.messages"])) as Json[];
    assert.deepEqual(streamed[0].parts, [
      { type: "reasoning", content: "Second city: Lyon." },
      { type: "text", content: "Lyon." },
    ]);
  } finally {
    await t.close();
    await anthropic.close();
  }
});
