// Usage records as GenAI traces to any OTLP/HTTP endpoint (src/usage/genai-spans.ts, usage_export
// type otlp), through a real gateway whose config names two exports to OTLP receivers over real
// HTTP (test/helpers/otlp-receiver.ts decodes the protobuf with the upstream opentelemetry-proto
// definitions): every request a trace with the gateway's trace id, a SERVER span and a CLIENT span per
// attempt in the GenAI semantic conventions (usage, models, finish reasons, error.type); the messages
// in the conventions' shape (system instructions apart, tool calls as parts) and the settings only
// where capture_content is on; the export's headers sent; a bad setting names its field.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../helpers/otlp-receiver.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { poll } from "../helpers/wait.ts";

const TOKEN = ["Bearer", ["obs", "ingest", "0123456789"].join("-")].join(" ");

let full: OtlpReceiver;
let bare: OtlpReceiver;
let t: TestGateway;

before(async () => {
  full = await startOtlpReceiver();
  bare = await startOtlpReceiver();
  t = await startTestGateway(
    `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 5, chunks: 3 } }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: mock/fast, provider: mock, model: mock-fast-1, pricing: { input: 1, output: 2 } }
  - { id: flaky/down, provider: flaky, model: mock-fast-1 }
routes:
  - { name: chat, targets: [flaky/down, mock/fast], retry: { max_retries: 0 } }
usage_export:
  - { name: llmobs, type: otlp, url: "${full.url}/v1/traces", headers: { authorization: "${TOKEN}" }, capture_content: true, flush_seconds: 3600 }
  - { name: plain, type: otlp, url: "${bare.url}/v1/traces", flush_seconds: 3600 }
`,
    { tracing: null, usageLogs: null },
  );
});
after(async () => {
  await t?.close();
  await Promise.all([full?.close(), bare?.close()]);
});

const ask = (body: Record<string, unknown>) => fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const traceOf = (rx: OtlpReceiver, traceId: string) => rx.spans().filter((s) => s.traceId === traceId);

test("a request is a trace in the GenAI conventions: the request, its attempts, and where asked its messages", async () => {
  const res = await ask({
    model: "chat",
    user: "u-7",
    temperature: 0.3,
    max_tokens: 40,
    metadata: { session_id: "s-7" },
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "4°C, rain" },
    ],
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { id: string; choices: { message: { content: string }; finish_reason: string }[] };
  const rec = (await poll(async () => t.usage.recent().find((r) => r.id === body.id), 5000, "the record")) as UsageRecord;
  await t.gw.usageExport.flush();

  const spans = traceOf(full, rec.traceId);
  assert.equal(spans.length, 3, JSON.stringify(spans.map((s) => s.name)));
  const root = spans.find((s) => s.parentSpanId === "")!;
  assert.equal(root.kind, "SERVER");
  assert.equal(root.name, "chat chat");
  assert.equal(root.attributes["gen_ai.operation.name"], "chat");
  assert.equal(root.attributes["gen_ai.request.model"], "chat");
  assert.equal(root.attributes["user.id"], "u-7");
  assert.equal(root.attributes["session.id"], "s-7");
  assert.equal(root.attributes["signalbox.request.id"], body.id);
  assert.equal(root.attributes["signalbox.deployment"], "mock/fast");
  assert.equal(root.status.code, "UNSET");

  const [failed, answered] = spans.filter((s) => s.kind === "CLIENT").sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano)) as ReceivedSpan[];
  assert.ok([failed, answered].every((s) => s.parentSpanId === root.spanId));
  assert.equal(failed.attributes["error.type"], "overloaded");
  assert.equal(failed.status.code, "ERROR");
  assert.equal(failed.attributes["gen_ai.input.messages"], undefined);
  assert.equal(answered.name, "chat mock-fast-1");
  assert.equal(answered.attributes["gen_ai.response.model"], "mock-fast-1");
  assert.equal(answered.attributes["gen_ai.usage.input_tokens"], rec.attempts[1].usage.inputTokens);
  assert.equal(answered.attributes["gen_ai.usage.output_tokens"], rec.attempts[1].usage.outputTokens);
  assert.deepEqual(answered.attributes["gen_ai.response.finish_reasons"], [body.choices[0].finish_reason]);
  assert.equal(answered.attributes["gen_ai.request.temperature"], 0.3);
  assert.equal(answered.attributes["gen_ai.request.max_tokens"], 40);
  assert.deepEqual(JSON.parse(answered.attributes["gen_ai.system_instructions"] as string), [{ type: "text", content: "Be brief." }]);
  assert.deepEqual(JSON.parse(answered.attributes["gen_ai.input.messages"] as string), [
    { role: "user", parts: [{ type: "text", content: "weather?" }] },
    { role: "assistant", parts: [{ type: "tool_call", id: "call_1", name: "weather", arguments: { city: "Oslo" } }] },
    { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: "4°C, rain" }] },
  ]);
  assert.deepEqual(JSON.parse(answered.attributes["gen_ai.output.messages"] as string), [
    { role: "assistant", parts: [{ type: "text", content: body.choices[0].message.content }], finish_reason: body.choices[0].finish_reason },
  ]);
  assert.equal(full.requests.at(-1)!.headers.authorization, TOKEN);
  assert.equal(full.requests.at(-1)!.contentEncoding, "gzip");

  // Without capture_content: the same trace, no text and no settings.
  const plain = traceOf(bare, rec.traceId);
  assert.equal(plain.length, 3);
  for (const s of plain) for (const k of Object.keys(s.attributes)) assert.ok(!/^gen_ai\.(input|output)\.messages$|^gen_ai\.system_instructions$|^gen_ai\.request\.temperature$/.test(k), `${s.name}: ${k}`);
});

test("a failed request: error.type on the request's span", async () => {
  const res = await ask({ model: "flaky/down", messages: [{ role: "user", content: "x" }] });
  await res.text();
  const id = res.headers.get("x-request-id")!;
  const rec = (await poll(async () => t.usage.recent().find((r) => r.id === id), 5000, "the record")) as UsageRecord;
  await t.gw.usageExport.flush();
  const root = traceOf(full, rec.traceId).find((s) => s.parentSpanId === "")!;
  assert.equal(root.status.code, "ERROR");
  assert.equal(root.attributes["error.type"], "overloaded");
  assert.equal(root.attributes["signalbox.status"], "unavailable");
});

test("otlp settings: url required, each setting only where it belongs", () => {
  const base = { providers: [{ name: "mock", type: "mock" }], deployments: [{ id: "mock/a", provider: "mock", model: "m" }] };
  const bad = (entry: Record<string, unknown>, field: string) =>
    assert.throws(
      () => buildConfig({ ...base, usage_export: [entry] }, {}),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`usage_export[0].${field}`),
      field,
    );
  bad({ name: "o", type: "otlp" }, "url");
  bad({ name: "o", type: "otlp", url: "http://127.0.0.1:4318/v1/traces", bucket: "b" }, "bucket");
  bad({ name: "o", type: "otlp", url: "http://127.0.0.1:4318/v1/traces", public_key: "p" }, "public_key");
  const ok = buildConfig({ ...base, usage_export: [{ name: "o", type: "otlp", url: "http://127.0.0.1:4318/v1/traces" }] }, {});
  assert.equal(ok.usageExport![0].flushMs, 5000);
  assert.equal(ok.usageExport![0].captureContent, false);
});
