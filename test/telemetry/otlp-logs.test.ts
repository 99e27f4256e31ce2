// Usage as OpenTelemetry logs, over the wire: the real gateway process with OTEL_LOGS_EXPORTER=otlp
// (and traces on, to the same loopback receiver) exports one `signalbox.request` log record per
// request, decoded with the upstream opentelemetry-proto definitions: its attributes match the
// usage record, it joins its request's trace (trace id and the RPC span's id), and it carries no
// key, no key hash and no prompt or completion text. Without tracing a record carries the trace id
// alone; with OTEL_LOGS_EXPORTER unset nothing is created or sent.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConnectError } from "@connectrpc/connect";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { createSignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { startUsageLogs } from "../../src/telemetry/otel-sdk.ts";
import { usageLogsRequested } from "../../src/telemetry/usage-logs.ts";
import { MOCK_CONFIG, startTestGateway } from "../helpers/gateway.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedLog } from "../helpers/otlp-receiver.ts";
import { freePort } from "../helpers/redis.ts";

// A key-shaped test secret (not a real key): neither it nor its hash may leave the gateway.
const CALLER_KEY = ["sbx", "TESTONLY", "otlp", "logs", "c4f1e9"].join("_");
const PROMPT = "PROMPT-MARKER-a71c: summarise the quarterly numbers";
const REPLY = "COMPLETION-MARKER-9d2e the numbers went up";

const CONFIG = `
server: { host: 127.0.0.1 }
providers:
  - { name: good, type: mock, mock: { reply: "${REPLY}" } }
  - { name: down, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: m/down, provider: down, model: model-down, pricing: { input: 1, output: 1 } }
  - { id: m/good, provider: good, model: model-good, pricing: { input: 3, output: 7 } }
routes:
  - { name: unary, targets: [m/down, m/good], retry: { max_retries: 0 } }
  - { name: stream, targets: [m/good] }
  - { name: broken, targets: [m/down], retry: { max_retries: 0 } }
  - { name: cached, targets: [m/good], cache: { enabled: true, ttl_seconds: 60 } }
keys:
  - { name: svc, hash: "${hashKey(CALLER_KEY)}", team: search, role: admin }
`;

const ROOT = new URL("../..", import.meta.url).pathname;
const configDir = mkdtempSync(join(tmpdir(), "signalbox-otlp-logs-"));
const configFile = join(configDir, "config.yaml");
writeFileSync(configFile, CONFIG);

const procs = new Set<ChildProcess>();
const receivers = new Set<OtlpReceiver>();
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const r of receivers) await r.close();
  rmSync(configDir, { recursive: true, force: true });
});

/** The parent's environment without any OTEL_* variable (or a Redis URL), plus `extra`. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OTEL_") && k !== "REDIS_URL") env[k] = v;
  return { ...env, ...extra };
}

/** `node src/main.ts` on a free port; resolves once it listens. stop() sends SIGTERM by pid. */
async function startGateway(env: Record<string, string>) {
  const port = await freePort();
  const proc = spawn(process.execPath, ["src/main.ts", "--config", configFile, "--port", String(port)], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  procs.add(proc);
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (!out.includes("signalbox listening")) return;
      proc.stdout!.off("data", onData);
      resolve();
    };
    proc.stdout!.on("data", onData);
    proc.once("exit", (c) => reject(new Error(`gateway exited ${c} before listening:\n${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      proc.kill("SIGTERM");
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
      const code = await Promise.race([exited, timeout]);
      if (code === "timeout") {
        proc.kill("SIGKILL");
        throw new Error(`gateway did not exit within 5 s of SIGTERM:\n${out}`);
      }
      return code;
    },
  };
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x instanceof Uint8Array ? Buffer.from(x).toString("latin1") : x));

/** Everything a log record carries, as text (ids, body, attributes, resource, scope). */
const everything = (logs: ReceivedLog[]) => json(logs);

test("OTEL_LOGS_EXPORTER=otlp: one log record per request, matching its usage record and joined to its trace, without secrets or text", async () => {
  const receiver = await startOtlpReceiver();
  receivers.add(receiver);
  const gw = await startGateway(cleanEnv({ OTEL_LOGS_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "signalbox-logs-test" }));
  const client = createSignalboxClient({ baseUrl: gw.url, apiKey: CALLER_KEY });

  // Unary with a fallback, a stream, a failure, a cache miss and its hit.
  const unary = await client.chat.complete({ model: "unary", messages: [userText(PROMPT)], user: "u-42", tags: ["batch", "eu"], metadata: { ticket: "T-1" } });
  assert.equal(unary.deployment, "m/good");
  assert.ok(json(unary).includes("COMPLETION-MARKER"), "the mock answers with the marker reply");
  let streamTraceId = "";
  for await (const ev of client.chat.stream({ model: "stream", messages: [userText(PROMPT)] })) if (ev.event.case === "start") streamTraceId = ev.event.value.traceId;
  await assert.rejects(client.chat.complete({ model: "broken", messages: [userText(PROMPT)] }), (e) => ConnectError.from(e).code !== undefined);
  const miss = await client.chat.complete({ model: "cached", messages: [userText(`${PROMPT} (cache)`)] });
  const hit = await client.chat.complete({ model: "cached", messages: [userText(`${PROMPT} (cache)`)] });
  assert.notEqual(miss.traceId, hit.traceId);

  // The usage records, as the gateway's own API lists them (newest first).
  const { records } = await client.usage.listRequests({ pageSize: 50 });
  assert.equal(records.length, 5, json(records.map((r) => r.id)));
  const failedTraceId = records.find((r) => r.status !== "ok")?.traceId ?? "";
  const traceIds = [unary.traceId, streamTraceId, failedTraceId, miss.traceId, hit.traceId];
  assert.deepEqual(new Set(records.map((r) => r.traceId)), new Set(traceIds), "every request's trace id is known to the test");

  // Batches go out every second while the gateway runs.
  const logs = await receiver.waitForLogs((l) => l.length >= 5, 4000);
  const spans = await receiver.waitForSpans((s) => traceIds.every((id) => s.some((x) => x.traceId === id && x.kind === "SERVER")), 4000);
  assert.equal(logs.length, 5, `exactly one log record per request: ${everything(logs)}`);

  for (const rec of records) {
    const mine = logs.filter((l) => l.attributes["signalbox.request.id"] === rec.id);
    assert.equal(mine.length, 1, `one log record for ${rec.id}`);
    const [l] = mine;
    const a = l.attributes;
    assert.equal(l.eventName, "signalbox.request");
    assert.equal(l.resource["service.name"], "signalbox-logs-test", "the resource is tracing's (OTEL_SERVICE_NAME)");
    assert.equal(l.scope.name, "signalbox");
    assert.equal(typeof l.body, "string");
    assert.ok(l.timeUnixNano > 1_600_000_000_000_000_000n, "a plausible epoch time in ns");

    // The join: the log's trace id is the request's, and its span id is the RPC (SERVER) span's.
    assert.equal(l.traceId, rec.traceId);
    const rpc = spans.filter((s) => s.traceId === rec.traceId && s.parentSpanId === "");
    assert.equal(rpc.length, 1, `one root span in trace ${rec.traceId}`);
    assert.equal(rpc[0].kind, "SERVER");
    assert.equal(l.spanId, rpc[0].spanId, "the log record links to the request's RPC span");

    // The usage record, attribute by attribute (ints arrive as ints).
    assert.equal(a["gen_ai.operation.name"], "chat");
    assert.equal(a["gen_ai.request.model"], rec.model);
    assert.equal(a["gen_ai.usage.input_tokens"], Number(rec.usage!.inputTokens));
    assert.equal(a["gen_ai.usage.output_tokens"], Number(rec.usage!.outputTokens));
    assert.equal(a["gen_ai.usage.cache_read.input_tokens"], Number(rec.usage!.cachedInputTokens));
    assert.equal(a["gen_ai.usage.cache_creation.input_tokens"], Number(rec.usage!.cacheWriteTokens));
    assert.equal(a["gen_ai.usage.reasoning.output_tokens"], Number(rec.usage!.reasoningTokens));
    assert.equal(a["gen_ai.request.stream"], rec.streamed);
    assert.equal(a["signalbox.cost.nano_usd"], Number(rec.cost!.totalNanoUsd));
    assert.equal(a["signalbox.deployment"], rec.deployment);
    assert.equal(a["signalbox.provider"], rec.provider);
    assert.equal(a["signalbox.status"], rec.status);
    assert.equal(a["signalbox.attempts"], rec.attempts.length);
    assert.equal(a["signalbox.cache.hit"], rec.cacheHit);
    assert.equal(a["signalbox.latency_ms"], rec.timing!.latencyMs);
    assert.equal(a["signalbox.ttft_ms"], rec.timing!.ttftMs);
    assert.equal(a["signalbox.key"], "svc", "the key's name");
    assert.equal(a["signalbox.team"], "search");
    assert.equal(a["signalbox.route"], rec.routing!.route);
    assert.equal(a["gen_ai.provider.name"], "signalbox.mock");
    if (rec.status === "ok") {
      assert.equal(l.severityNumber, 9);
      assert.equal(l.severityText, "INFO");
      assert.equal(a["error.type"], undefined);
      assert.deepEqual(a["gen_ai.response.finish_reasons"], ["stop"]);
    } else {
      assert.equal(l.severityNumber, 13);
      assert.equal(a["error.type"], "overloaded");
      assert.equal(a["gen_ai.response.model"], undefined, "nothing answered");
    }
  }
  const byTrace = (id: string) => logs.find((l) => l.traceId === id)!.attributes;
  const u = byTrace(unary.traceId);
  assert.equal(u["signalbox.attempts"], 2, "the fallback is one request with two attempts");
  assert.equal(u["gen_ai.response.model"], "model-good");
  assert.equal(u["signalbox.user"], "u-42");
  assert.deepEqual(u["signalbox.tags"], ["batch", "eu"]);
  assert.equal(u["signalbox.metadata.ticket"], "T-1");
  assert.ok(Number(u["signalbox.cost.nano_usd"]) > 0 && Number(u["gen_ai.usage.input_tokens"]) > 0 && Number(u["gen_ai.usage.output_tokens"]) > 0);
  assert.equal(byTrace(streamTraceId)["gen_ai.request.stream"], true);
  assert.equal(byTrace(failedTraceId)["signalbox.status"], "unavailable");
  assert.equal(byTrace(miss.traceId)["signalbox.cache.hit"], false);
  assert.equal(byTrace(hit.traceId)["signalbox.cache.hit"], true);
  assert.equal(byTrace(hit.traceId)["signalbox.cost.nano_usd"], 0, "a hit costs nothing");

  // No secret and no text: not the caller key, not its hash, not the prompt, not the answer.
  const text = everything(logs);
  for (const secret of [CALLER_KEY, hashKey(CALLER_KEY), "PROMPT-MARKER", "COMPLETION-MARKER", "quarterly"]) assert.ok(!text.includes(secret), `no log record carries ${secret}`);
  for (const r of receiver.requests) assert.equal(r.status, 200, `${r.path}: ${r.error}`);
  assert.ok(receiver.requests.some((r) => r.path === "/v1/logs") && receiver.requests.some((r) => r.path === "/v1/traces"));

  // SIGTERM flushes: the record of a request answered just before it is not lost.
  const last = await client.chat.complete({ model: "stream", messages: [userText("last one")] });
  assert.equal(await gw.stop(), 0, `exit 0 after SIGTERM:\n${gw.output()}`);
  const all = await receiver.waitForLogs((l) => l.some((x) => x.traceId === last.traceId), 1000);
  assert.equal(all.length, 6, "one more record, flushed at shutdown");
});

test("without tracing, a log record carries the request's trace id alone (from traceparent)", async () => {
  const receiver = await startOtlpReceiver();
  receivers.add(receiver);
  const usageLogs = startUsageLogs({ exporter: new OTLPLogExporter({ url: `${receiver.url}/v1/logs` }) })!;
  const t = await startTestGateway(MOCK_CONFIG, { tracing: null, usageLogs });
  try {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await createSignalboxClient({ baseUrl: t.url }).chat.complete({ model: "fast", messages: [userText("hello")] }, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    assert.equal(res.traceId, traceId, "the caller's trace continues");
    await t.close();
    const [l] = await receiver.waitForLogs((x) => x.length >= 1, 1000);
    assert.equal(l.traceId, traceId);
    assert.equal(l.spanId, "", "no span id: there is no span to link to");
    assert.equal(l.attributes["signalbox.request.id"], t.usage.recent()[0].id);
    assert.equal(l.attributes["signalbox.deployment"], "mock/a");
    assert.equal(receiver.requests.filter((r) => r.path === "/v1/logs").length, 1);
  } finally {
    await t.close().catch(() => {});
  }
});

test("OTEL_LOGS_EXPORTER unset: no usage logs are created and nothing is sent", async () => {
  for (const env of [{}, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }, { OTEL_TRACES_EXPORTER: "otlp" }, { OTEL_LOGS_EXPORTER: "none" }, { OTEL_LOGS_EXPORTER: "console" }, { OTEL_LOGS_EXPORTER: "otlp", OTEL_SDK_DISABLED: "true" }]) {
    assert.equal(usageLogsRequested(env), false, json(env));
    assert.equal(startUsageLogs({ env }), undefined, json(env));
  }
  assert.equal(usageLogsRequested({ OTEL_LOGS_EXPORTER: "otlp" }), true);
  assert.equal(usageLogsRequested({ OTEL_LOGS_EXPORTER: " OTLP " }), true);

  // A gateway built from an environment without OTEL_LOGS_EXPORTER, traces on: no /v1/logs.
  const saved = process.env.OTEL_LOGS_EXPORTER;
  delete process.env.OTEL_LOGS_EXPORTER;
  const receiver = await startOtlpReceiver();
  receivers.add(receiver);
  try {
    const tracing = startTracing({ exporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }) })!;
    const t = await startTestGateway(MOCK_CONFIG, { tracing });
    assert.equal(t.gw.core.usageLogs, undefined, "no logger provider, no processor, no exporter");
    await createSignalboxClient({ baseUrl: t.url }).chat.complete({ model: "fast", messages: [userText("hello")] });
    await t.close();
    assert.ok(receiver.requests.some((r) => r.path === "/v1/traces"), "the traces did arrive");
    assert.deepEqual(receiver.requests.filter((r) => r.path !== "/v1/traces"), [], "no log export");
  } finally {
    if (saved !== undefined) process.env.OTEL_LOGS_EXPORTER = saved;
  }
});
