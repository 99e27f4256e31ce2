// Metrics at GET /metrics, one JSON log line per request, and no secret anywhere: a grep of
// everything logged, exported, scraped and returned finds no provider key and no caller key.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ConnectError } from "@connectrpc/connect";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { createSignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import type { FakeServer } from "../fakes/common.ts";
import { startFakeOpenAI, type OpenAIScenario } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Key-shaped test secrets (not real keys): both must never leave the gateway.
const PROVIDER_KEY = ["sk", "proj", "TESTONLYnotarealkey0123456789abcdefABCDEF"].join("-");
const WRONG_PROVIDER_KEY = ["sk", "proj", "TESTONLYwrongkey9876543210fedcbaFEDCBA"].join("-");
const CALLER_KEY = "sbx_TESTONLY_caller_key_5f2d9c1e";
const OTHER_CALLER_KEY = "sbx_TESTONLY_caller_key_limited_77";

let fake: FakeServer<OpenAIScenario>;
let t: TestGateway;
const logs: string[] = [];
const exporter = new InMemorySpanExporter();

before(async () => {
  setLogSink((line) => logs.push(line));
  fake = await startFakeOpenAI({ apiKey: PROVIDER_KEY });
  t = await startTestGateway(
    `
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: "${PROVIDER_KEY}" }
  - { name: openai-wrong, type: openai, base_url: "${fake.url}", api_key: "${WRONG_PROVIDER_KEY}" }
  - { name: mock, type: mock }
  - { name: down, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini }
  - { id: wrong/gpt-4o-mini, provider: openai-wrong, model: gpt-4o-mini }
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 1 } }
  - { id: mock/down, provider: down, model: mock-down, pricing: { input: 1, output: 1 } }
routes:
  - { name: chat, targets: [wrong/gpt-4o-mini, openai/gpt-4o-mini], retry: { max_retries: 0 } }
  - { name: flaky, targets: [mock/down, mock/a], retry: { max_retries: 0 } }
keys:
  - { name: svc, hash: "${hashKey(CALLER_KEY)}", team: search, role: admin }
  - { name: limited, hash: "${hashKey(OTHER_CALLER_KEY)}", team: search, limits: { requests_per_minute: 1 } }
`,
    { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })!, requestLog: true },
  );
});

after(async () => {
  await t.close();
  await fake.close();
  setLogSink((line) => process.stdout.write(line));
});

test("requests are measured, logged and traced without leaking a key", async () => {
  const seen: string[] = [];
  const client = createSignalboxClient({ baseUrl: t.url, apiKey: CALLER_KEY });
  // The first deployment's key is wrong (401 echoing a masked key); the gateway falls back.
  const res = await client.chat.complete({ model: "chat", messages: [userText("hello")] });
  seen.push(JSON.stringify(res, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
  assert.equal(res.deployment, "openai/gpt-4o-mini");
  assert.equal(res.attempts[0].failureKind, 5 /* UPSTREAM_AUTH */);
  for await (const ev of client.chat.stream({ model: "flaky", messages: [userText("hello")] })) seen.push(JSON.stringify(ev, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
  // Errors: a refused rate limit, an unknown caller key, an upstream auth failure alone.
  const limited = createSignalboxClient({ baseUrl: t.url, apiKey: OTHER_CALLER_KEY });
  await limited.chat.complete({ model: "flaky", messages: [userText("1")] });
  for (const p of [
    limited.chat.complete({ model: "flaky", messages: [userText("2")] }),
    createSignalboxClient({ baseUrl: t.url, apiKey: "sbx_TESTONLY_not_a_key" }).chat.complete({ model: "flaky", messages: [userText("x")] }),
    client.chat.complete({ model: "wrong/gpt-4o-mini", messages: [userText("x")] }),
  ]) {
    try {
      await p;
      assert.fail("expected an error");
    } catch (e) {
      const ce = ConnectError.from(e);
      seen.push(ce.message, JSON.stringify(ce.metadata), JSON.stringify(ce.details, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
    }
  }
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  seen.push(metrics);

  // Metrics: the GenAI histograms and the gateway's counters.
  assert.match(metrics, /# TYPE gen_ai_client_token_usage histogram/);
  assert.match(metrics, /gen_ai_client_token_usage_bucket\{[^}]*gen_ai_token_type="input"[^}]*le="\+Inf"\} \d+/);
  assert.match(metrics, /# TYPE gen_ai_client_operation_duration_seconds histogram/);
  assert.match(metrics, /signalbox_time_to_first_token_seconds_count\{[^}]*\} [1-9]/);
  assert.match(metrics, /signalbox_requests_total\{status="ok",route="chat",deployment="openai\/gpt-4o-mini",streamed="false",operation="chat"\} 1/);
  assert.match(metrics, /signalbox_fallbacks_total\{route="flaky",deployment="mock\/a"\} [1-9]/);
  assert.match(metrics, /signalbox_refusals_total\{reason="rate_limit",team="search"\} 1/);
  assert.match(metrics, /signalbox_cost_total\{deployment="openai\/gpt-4o-mini",team="search"\} [1-9]\d*/);
  assert.match(metrics, /signalbox_attempts_total\{deployment="wrong\/gpt-4o-mini",outcome="failed",error_type="upstream_auth"\} [1-9]/);

  // Logs: one JSON line per request, with the trace id, the key's name, and no text.
  const requestLines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request");
  assert.equal(requestLines.length, 5, "unauthenticated calls never reach the chat handler");
  const first = requestLines[0];
  assert.equal(first.trace_id, res.traceId);
  assert.equal(first.key, "svc");
  assert.deepEqual(first.attempts, ["wrong/gpt-4o-mini:failed:upstream_auth", "openai/gpt-4o-mini:succeeded"]);
  assert.ok(!logs.some((l) => l.includes("hello")), "no prompt text in logs");

  // Spans: everything exported.
  const spans = exporter.getFinishedSpans().map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, events: s.events, status: s.status }));
  assert.ok(spans.length > 10);

  const everything = [...seen, ...logs, ...spans].join("\n");
  for (const secret of [PROVIDER_KEY, WRONG_PROVIDER_KEY, CALLER_KEY, OTHER_CALLER_KEY, "sbx_TESTONLY_not_a_key"]) {
    assert.ok(!everything.includes(secret), `secret ${secret.slice(0, 12)}… leaked`);
    // Nor a recognisable fragment (the provider's own masking shows the last four characters).
    assert.ok(!everything.includes(secret.slice(8, 28)), `a fragment of ${secret.slice(0, 12)}… leaked`);
  }
});

test("the OpenAI-compatible endpoint leaks no key either: bodies, headers, streams, errors, logs, spans", async () => {
  logs.length = 0;
  exporter.reset();
  const seen: string[] = [];
  const call = async (key: string, body: unknown, path = "/v1/chat/completions") => {
    const res = await fetch(`${t.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    seen.push(String(res.status), JSON.stringify([...res.headers]), await res.text());
    return res.status;
  };
  const msg = [{ role: "user", content: "hello" }];
  assert.equal(await call(CALLER_KEY, { model: "chat", messages: msg }), 200, "fell back past the wrong provider key");
  assert.equal(await call(CALLER_KEY, { model: "chat", messages: msg, stream: true, stream_options: { include_usage: true } }), 200);
  assert.equal(await call(CALLER_KEY, { model: "wrong/gpt-4o-mini", messages: msg }), 502, "upstream auth alone is a 502, never a 401");
  assert.equal(await call("sbx_TESTONLY_not_a_key", { model: "chat", messages: msg }), 401);
  assert.equal(await call(CALLER_KEY, undefined, "/v1/models"), 200);
  const spans = exporter.getFinishedSpans().map((s) => JSON.stringify({ name: s.name, attributes: s.attributes, events: s.events, status: s.status }));
  assert.ok(spans.some((s) => s.includes("POST /v1/chat/completions")));
  assert.ok(logs.some((l) => l.includes('"msg":"request"')));
  const everything = [...seen, ...logs, ...spans].join("\n");
  for (const secret of [PROVIDER_KEY, WRONG_PROVIDER_KEY, CALLER_KEY, "sbx_TESTONLY_not_a_key"]) {
    assert.ok(!everything.includes(secret), `secret ${secret.slice(0, 12)}… leaked`);
    assert.ok(!everything.includes(secret.slice(8, 28)), `a fragment of ${secret.slice(0, 12)}… leaked`);
  }
});
