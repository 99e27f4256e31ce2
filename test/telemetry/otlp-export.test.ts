// Traces over the wire: the real gateway process (`node src/main.ts`), configured only by the
// standard OTEL_* variables, exports OTLP/HTTP protobuf to a loopback receiver that decodes the
// bytes with the upstream opentelemetry-proto definitions — what Jaeger would receive. A request
// that fails over twice arrives as one trace: the RPC span as root, the routing and limits spans,
// and three `chat {model}` CLIENT spans in attempt order with the GenAI attributes. With no OTEL_*
// variable set, nothing is sent at all.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test, type TestContext } from "node:test";
import { createSignalboxClient, userText } from "@signalbox/client";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../helpers/otlp-receiver.ts";
import { freePort } from "../helpers/redis.ts";

// Two routes with their own failing deployments: the 429 with retry-after cools its deployment
// down, so a second request through the same route would skip it.
const CONFIG = `
server: { host: 127.0.0.1 }
providers:
  - { name: good, type: mock }
  - { name: down1, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: down2, type: mock, mock: { failure_rate: 1, failure_kind: rate_limited, retry_after_ms: 60000 } }
deployments:
  - { id: u/down1, provider: down1, model: unary-down-1, pricing: { input: 1, output: 1 } }
  - { id: u/down2, provider: down2, model: unary-down-2, pricing: { input: 1, output: 1 } }
  - { id: s/down1, provider: down1, model: stream-down-1, pricing: { input: 1, output: 1 } }
  - { id: s/down2, provider: down2, model: stream-down-2, pricing: { input: 1, output: 1 } }
  - { id: c/good, provider: good, model: model-good, pricing: { input: 1, output: 1 } }
routes:
  - { name: unary, targets: [u/down1, u/down2, c/good], retry: { max_retries: 0 } }
  - { name: stream, targets: [s/down1, s/down2, c/good], retry: { max_retries: 0 } }
`;

const ROOT = new URL("../..", import.meta.url).pathname;
const configDir = mkdtempSync(join(tmpdir(), "signalbox-otlp-"));
const configFile = join(configDir, "config.yaml");
writeFileSync(configFile, CONFIG);

interface Gateway {
  url: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM by pid; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<Gateway>();
const receivers = new Set<OtlpReceiver>();
after(async () => {
  for (const g of running) await g.stop();
  for (const r of receivers) await r.close();
  rmSync(configDir, { recursive: true, force: true });
});

/** The parent's environment without any OTEL_* variable (or a Redis URL), plus `extra`. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OTEL_") && k !== "REDIS_URL") env[k] = v;
  return { ...env, ...extra };
}

async function startGateway(env: Record<string, string>): Promise<Gateway> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["src/main.ts", "--config", configFile, "--port", String(port)], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const g: Gateway = {
    url: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    async stop() {
      running.delete(g);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
      const code = await Promise.race([exited, timeout]);
      if (code === "timeout") {
        proc.kill("SIGKILL");
        throw new Error(`gateway did not exit within 5 s of SIGTERM:\n${out}`);
      }
      return code;
    },
  };
  running.add(g);
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (out.includes("signalbox listening")) {
        proc.stdout!.off("data", onData);
        resolve();
      }
    };
    proc.stdout!.on("data", onData);
    proc.once("exit", (c) => reject(new Error(`gateway exited ${c} before listening:\n${out}`)));
  });
  return g;
}

const nanos = (s: ReceivedSpan) => [s.startTimeUnixNano, s.endTimeUnixNano] as const;

/** One request's trace as the receiver decoded it. */
/** `failing`: the two failing deployments of the route, `models` their models; c/good answers. */
function checkTrace(all: ReceivedSpan[], traceId: string, rpcName: string, route: string, failing: [string, string], models: [string, string]) {
  const spans = all.filter((s) => s.traceId === traceId);
  const names = JSON.stringify(spans.map((s) => `${s.kind} ${s.name} parent=${s.parentSpanId}`));
  assert.equal(spans.length, 6, `one RPC, one routing, one limits and three attempt spans in trace ${traceId}: ${names}`);
  assert.equal(new Set(spans.map((s) => s.spanId)).size, 6, "span ids are unique");
  for (const s of spans) {
    assert.match(s.spanId, /^[0-9a-f]{16}$/);
    assert.notEqual(s.spanId, "0000000000000000");
    assert.equal(s.resource["service.name"], "signalbox-test", "OTEL_SERVICE_NAME names the service on every resource");
    assert.equal(s.scope.name, "signalbox");
    assert.ok(s.endTimeUnixNano >= s.startTimeUnixNano, `${s.name}: end >= start`);
    assert.ok(s.startTimeUnixNano > 1_600_000_000_000_000_000n, `${s.name}: start is a plausible epoch time in ns`);
  }

  // The RPC span is the root; every other span is its child.
  const roots = spans.filter((s) => s.parentSpanId === "");
  assert.equal(roots.length, 1, `exactly one root: ${names}`);
  const [rpc] = roots;
  assert.equal(rpc.name, rpcName);
  assert.equal(rpc.kind, "SERVER");
  assert.equal(rpc.attributes["rpc.system"], "connect_rpc");
  assert.equal(rpc.attributes["rpc.service"], "signalbox.v1.ChatService");
  assert.equal(rpc.status.code, "UNSET", "the call succeeded");
  for (const s of spans) if (s !== rpc) assert.equal(s.parentSpanId, rpc.spanId, `${s.name} is a child of the RPC span`);

  const routing = spans.find((s) => s.name === `route ${route}`);
  assert.ok(routing, `a routing span named "route ${route}": ${names}`);
  assert.equal(routing.kind, "INTERNAL");
  assert.deepEqual(routing.attributes["signalbox.candidates"], [...failing, "c/good"]);
  assert.equal(routing.attributes["signalbox.strategy"], "priority");
  assert.equal(routing.attributes["signalbox.route"], route);
  const limits = spans.find((s) => s.name === "limits.check");
  assert.ok(limits, `a limits.check span: ${names}`);
  assert.equal(limits.kind, "INTERNAL");

  // Three CLIENT spans, one per attempt, in order and one after the other.
  const attempts = spans.filter((s) => s.kind === "CLIENT").sort((a, b) => Number(a.attributes["signalbox.attempt"]) - Number(b.attributes["signalbox.attempt"]));
  assert.deepEqual(
    attempts.map((s) => s.name),
    [`chat ${models[0]}`, `chat ${models[1]}`, "chat model-good"],
  );
  assert.deepEqual(
    attempts.map((s) => s.attributes["signalbox.attempt"]),
    [1, 2, 3],
    "signalbox.attempt arrives as an int",
  );
  for (let i = 1; i < attempts.length; i++) {
    // Spans share one clock (span-clock.test.ts); 1 ms allows for a pause between the SDK reading it and the clock processor.
    assert.ok(nanos(attempts[i])[0] >= nanos(attempts[i - 1])[1] - 1_000_000n, `attempt ${i + 1} starts after attempt ${i} ended`);
  }
  for (const [i, a] of attempts.entries()) {
    assert.equal(a.attributes["gen_ai.operation.name"], "chat");
    assert.equal(a.attributes["gen_ai.provider.name"], "signalbox.mock");
    assert.equal(a.attributes["gen_ai.request.model"], i < 2 ? models[i] : "model-good");
    assert.equal(typeof a.attributes["gen_ai.usage.input_tokens"], "number", "usage arrives as ints");
    assert.equal(typeof a.attributes["gen_ai.usage.output_tokens"], "number");
  }
  const [a1, a2, a3] = attempts;
  assert.equal(a1.status.code, "ERROR");
  assert.notEqual(a1.status.message, "", "an error status carries its message");
  assert.equal(a1.attributes["error.type"], "overloaded");
  assert.equal(a1.attributes["signalbox.failure_kind"], "overloaded");
  assert.equal(a1.attributes["signalbox.fallback.reason"], "primary");
  assert.equal(a2.status.code, "ERROR");
  assert.equal(a2.attributes["error.type"], "rate_limited");
  assert.equal(a2.attributes["signalbox.failure_kind"], "rate_limited");
  assert.equal(a2.attributes["signalbox.retry_after_ms"], 60000);
  assert.equal(a2.attributes["signalbox.fallback.reason"], `fallback after overloaded from ${failing[0]}`);
  assert.ok(["UNSET", "OK"].includes(a3.status.code), `the last attempt succeeded: ${a3.status.code}`);
  assert.equal(a3.attributes["error.type"], undefined);
  assert.equal(a3.attributes["signalbox.fallback.reason"], `fallback after rate_limited from ${failing[1]}`);
  assert.equal(a3.attributes["gen_ai.response.model"], "model-good");
  assert.deepEqual(a3.attributes["gen_ai.response.finish_reasons"], ["stop"]);
  assert.ok(Number(a3.attributes["gen_ai.usage.input_tokens"]) > 0);
  assert.ok(Number(a3.attributes["gen_ai.usage.output_tokens"]) > 0);
  // Spans share one clock (span-clock.test.ts); 1 ms allows for a pause between the SDK reading it and the clock processor.
  assert.ok(rpc.endTimeUnixNano >= a3.endTimeUnixNano - 1_000_000n, "the RPC span outlives its attempts");
  return { rpc, attempts };
}

test("OTLP/HTTP export: unary and streaming traces decode from the wire with their resource, parents, attributes, statuses and events", async () => {
  const receiver = await startOtlpReceiver();
  receivers.add(receiver);
  const gw = await startGateway(cleanEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: "signalbox-test" }));

  const unary = await createSignalboxClient({ baseUrl: gw.url }).chat.complete({ model: "unary", messages: [userText("trace me over the wire")] });
  assert.equal(unary.deployment, "c/good");
  let streamTraceId = "";
  let finished = false;
  for await (const ev of createSignalboxClient({ baseUrl: gw.url, protocol: "grpc" }).chat.stream({ model: "stream", messages: [userText("stream me over the wire")] })) {
    if (ev.event.case === "start") streamTraceId = ev.event.value.traceId;
    if (ev.event.case === "finish") finished = true;
  }
  assert.ok(finished, "the stream ran to its end");
  assert.match(unary.traceId, /^[0-9a-f]{32}$/);
  assert.match(streamTraceId, /^[0-9a-f]{32}$/);
  assert.notEqual(unary.traceId, streamTraceId);

  // The batch processor exports every second while the gateway runs: both traces arrive without
  // stopping it.
  const complete = (id: string) => (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === id).length >= 6;
  const spans = await receiver.waitForSpans((s) => complete(unary.traceId)(s) && complete(streamTraceId)(s), 4000);

  checkTrace(spans, unary.traceId, "signalbox.v1.ChatService/Complete", "unary", ["u/down1", "u/down2"], ["unary-down-1", "unary-down-2"]);
  const { attempts } = checkTrace(spans, streamTraceId, "signalbox.v1.ChatService/Stream", "stream", ["s/down1", "s/down2"], ["stream-down-1", "stream-down-2"]);
  const [s1, s2, s3] = attempts;
  const firstToken = s3.events.filter((e) => e.name === "gen_ai.first_token");
  assert.equal(firstToken.length, 1, "the streaming attempt that answered has one first-token event");
  assert.ok(firstToken[0].timeUnixNano >= s3.startTimeUnixNano && firstToken[0].timeUnixNano <= s3.endTimeUnixNano, "the event lies within its span");
  assert.equal(s1.events.length + s2.events.length, 0, "failed attempts have no first token");
  const unaryAttempts = spans.filter((s) => s.traceId === unary.traceId && s.kind === "CLIENT");
  assert.ok(unaryAttempts.every((s) => !s.events.some((e) => e.name === "gen_ai.first_token")), "a unary call has no first-token event");

  // Only these two traces (the health checks are not traced), sent as the exporter should.
  assert.deepEqual([...new Set(spans.map((s) => s.traceId))].sort(), [unary.traceId, streamTraceId].sort());
  assert.ok(receiver.requests.length >= 1);
  for (const r of receiver.requests) {
    assert.equal(r.method, "POST");
    assert.equal(r.path, "/v1/traces");
    assert.equal(r.contentType, "application/x-protobuf");
    assert.equal(r.status, 200, r.error);
  }

  // SIGTERM: the spans of a request answered just before it are flushed, not lost.
  const last = await createSignalboxClient({ baseUrl: gw.url }).chat.complete({ model: "c/good", messages: [userText("last one")] });
  assert.equal(await gw.stop(), 0, `exit 0 after SIGTERM:\n${gw.output()}`);
  const lastTrace = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === last.traceId);
  const lastSpans = lastTrace(await receiver.waitForSpans((s) => lastTrace(s).length >= 4, 1000));
  assert.deepEqual(lastSpans.map((s) => s.kind).sort(), ["CLIENT", "INTERNAL", "INTERNAL", "SERVER"]);
  assert.ok(receiver.requests.every((r) => r.status === 200));
});

/** Listen where an exporter with no endpoint would post (localhost:4318), if that port is free. */
async function receiverOnDefaultPort(t: TestContext): Promise<OtlpReceiver> {
  for (const hosts of [["127.0.0.1", "::1"], ["127.0.0.1"]]) {
    try {
      return await startOtlpReceiver({ port: 4318, hosts });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE") break;
      if (code !== "EADDRNOTAVAIL" && code !== "EAFNOSUPPORT") throw err;
    }
  }
  t.diagnostic("port 4318 is taken: listening on a random port (only an exporter that found it some other way could reach it)");
  return startOtlpReceiver();
}

test("no OTEL_* variable: nothing is exported", async (t) => {
  const receiver = await receiverOnDefaultPort(t);
  receivers.add(receiver);
  const gw = await startGateway(cleanEnv({}));
  const res = await createSignalboxClient({ baseUrl: gw.url }).chat.complete({ model: "unary", messages: [userText("do not trace me")] });
  assert.equal(res.deployment, "c/good");
  assert.match(res.traceId, /^[0-9a-f]{32}$/, "trace ids are still made up without a tracer");
  // Longer than the batch delay (1 s), then a shutdown, which would flush anything pending.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await gw.stop(), 0, gw.output());
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(receiver.requests, [], "the receiver got no request at all");
});
