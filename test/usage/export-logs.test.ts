// Usage records sent to log platforms (src/usage/export.ts, types datadog, splunk and http),
// through a real gateway whose config names a Datadog logs intake, a Splunk HTTP Event Collector and
// an HTTP endpoint, each a fake over real HTTP (test/fakes/log-intakes.ts). Every record arrives
// once in each intake's own format (Datadog's logs with the record under `signalbox`, Splunk's
// events with the record as `event`, NDJSON lines), gzipped; a batch retried after a failure names
// itself the same (an Idempotency-Key the endpoint deduplicates); bad settings are errors naming the
// field; no key or token in a log line.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { RequestRecordSchema } from "../../gen/signalbox/v1/usage_pb.ts";
import { buildConfig, ConfigError, loadConfig } from "../../src/config/load.ts";
import { createGateway } from "../../src/gateway.ts";
import { startServer } from "../../src/server/http.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";
import { startFakeDatadogLogs, startFakeHttpSink, startFakeSplunkHec } from "../fakes/log-intakes.ts";
import { poll } from "../helpers/wait.ts";
import { createSignalboxClient } from "@signalbox/client";

const V = (...p: string[]) => p.join("");
const DD_KEY = V("0123456789abcdef", "0123456789abcdef");
const HEC_TOKEN = V("12345678-", "1234-1234-1234-", "123456789012");
const SINK_AUTH = V("Bearer ", "sink-", "secret-", "token");

describe("usage export to log platforms", () => {
  let dd: Awaited<ReturnType<typeof startFakeDatadogLogs>>;
  let hec: Awaited<ReturnType<typeof startFakeSplunkHec>>;
  let sink: Awaited<ReturnType<typeof startFakeHttpSink>>;
  let failures: Awaited<ReturnType<typeof startFakeHttpSink>>;
  let dir: string;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    dir = mkdtempSync(join(tmpdir(), "signalbox-export-logs-"));
    dd = await startFakeDatadogLogs(DD_KEY);
    hec = await startFakeSplunkHec(HEC_TOKEN);
    sink = await startFakeHttpSink({ authorization: SINK_AUTH });
    failures = await startFakeHttpSink();
  });
  after(async () => {
    await Promise.all([dd?.close(), hec?.close(), sink?.close(), failures?.close()]);
    setLogSink((l) => process.stdout.write(l));
    rmSync(dir, { recursive: true, force: true });
  });

  test("every record reaches Datadog, Splunk and an HTTP endpoint once, each in its intake's format", async () => {
    const file = join(dir, "gw.yaml");
    writeFileSync(
      file,
      `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 0, chunks: 4 } }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: mock/fast, provider: mock, model: mock-fast-1, pricing: { input: 1, output: 2 } }
  - { id: flaky/down, provider: flaky, model: mock-fast-1 }
usage_export:
  - { name: dd, type: datadog, url: "${dd.url}/api/v2/logs", api_key: "${DD_KEY}", service: llm-gateway, tags: ["env:test", "team:platform"], flush_seconds: 3600 }
  - { name: splunk, type: splunk, url: "${hec.url}", token: "${HEC_TOKEN}", index: llm, flush_seconds: 3600 }
  - { name: sink, type: http, url: "${sink.url}/ingest", headers: { authorization: "${SINK_AUTH}" }, flush_seconds: 3600 }
  - { name: failures, type: http, url: "${failures.url}/", when: { deployment: flaky/down, operation: [chat, embeddings] }, flush_seconds: 3600 }
`,
    );
    const kept = createMemoryUsageSink();
    const gw = await createGateway(loadConfig(file), { usage: kept, configPath: file, tracing: null, usageLogs: null });
    const server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: 1 << 20 });
    const ask = (model: string, stream = false) =>
      fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "log me" }] }) }).then((r) => r.text());
    try {
      await ask("mock/fast");
      await ask("mock/fast", true);
      await ask("flaky/down");
      await poll(async () => (kept.recent().length >= 3 ? true : undefined), 5000, "three records");
      await gw.usageExport.flush();
      const records = kept.recent();
      const ids = records.map((r) => r.id).sort();

      // Datadog: logs with reserved attributes (time, level, service, tags, host) and the record under `signalbox`.
      assert.deepEqual(dd.logs.map((l) => (l.signalbox as { id: string }).id).sort(), ids);
      const ok = records.find((r) => r.status === "ok" && !r.streamed)!;
      const log = dd.logs.find((l) => (l.signalbox as { id: string }).id === ok.id)!;
      assert.equal(log.ddsource, "signalbox");
      assert.equal(log.service, "llm-gateway");
      assert.equal(log.ddtags, "env:test,team:platform");
      assert.equal(log.status, "info");
      assert.equal(log.timestamp, ok.time);
      assert.match(String(log.message), /^chat mock\/fast -> mock\/fast: ok, \d+ in \/ \d+ out tokens, \d+ ms$/);
      assert.equal(fromJson(RequestRecordSchema, log.signalbox as JsonValue).deployment, "mock/fast");
      assert.equal(dd.logs.find((l) => (l.signalbox as { id: string }).id !== ok.id && (l.signalbox as { status: string }).status !== "ok")?.status, "error");
      assert.equal(dd.accepted[0].headers["content-encoding"], "gzip");

      // Splunk: events with their time in seconds, the index and sourcetype, the record as `event`.
      assert.deepEqual(hec.events.map((e) => (e.event as { id: string }).id).sort(), ids);
      const ev = hec.events.find((e) => (e.event as { id: string }).id === ok.id)!;
      assert.equal(ev.index, "llm");
      assert.equal(ev.sourcetype, "signalbox:request");
      assert.equal(ev.source, "signalbox");
      assert.equal(Math.round(Number(ev.time) * 1000), ok.time);
      assert.equal(hec.accepted[0].headers.authorization, `Splunk ${HEC_TOKEN}`);

      // HTTP: NDJSON lines, the batch's name as its Idempotency-Key.
      assert.deepEqual(sink.lines.map((l) => (l as { id: string }).id).sort(), ids);
      assert.match(String(sink.accepted[0].headers["idempotency-key"]), /^dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/\d{8}T\d{6}Z-.+-\d{6}\.ndjson\.gz$/);
      assert.equal(sink.accepted[0].headers["content-type"], "application/x-ndjson");

      // `when`: only the records that match.
      const failed = records.find((r) => r.deployment === "flaky/down")!;
      assert.deepEqual(failures.lines.map((l) => (l as { id: string }).id), [failed.id]);
      const listed = gw.usageExport.stats().map((x) => [x.name, x.exported]);
      assert.deepEqual(listed.sort(), [["dd", 3], ["failures", 1], ["sink", 3], ["splunk", 3]]);
      // Each lists where it sends (never its key or token) and what it takes.
      const infos = (await createSignalboxClient({ baseUrl: server.url }).admin.listUsageExports({})).exports;
      assert.deepEqual(infos.map((x) => [x.name, x.type, x.destination, x.when]), [
        ["dd", "datadog", `Datadog (${new URL(dd.url).host})`, ""],
        ["splunk", "splunk", `Splunk HEC (${new URL(hec.url).host})`, ""],
        ["sink", "http", `${sink.url}/ingest`, ""],
        ["failures", "http", `${failures.url}/`, "deployment=flaky/down, operation in [chat, embeddings]"],
      ]);

      // A failure then a retry: the endpoint sees the same Idempotency-Key twice at most, and keeps one copy.
      sink.failNext(1, 503);
      await ask("mock/fast");
      await poll(async () => (kept.recent().length >= 4 ? true : undefined), 5000, "a fourth record");
      await gw.usageExport.flush("sink");
      assert.equal(sink.lines.length, 4);
      const keys = sink.requests.filter((r) => r.method === "POST").slice(-2).map((r) => r.headers["idempotency-key"]);
      assert.equal(keys[0], keys[1]);
    } finally {
      await server.shutdown(0);
    }
    const all = logs.join("\n");
    for (const secret of [DD_KEY, HEC_TOKEN, SINK_AUTH.slice(7)]) assert.ok(!all.includes(secret), "a credential reached the log");
  });

  test("settings are checked for each type, each error naming its field", () => {
    const base = { providers: [{ name: "m", type: "mock" }], deployments: [{ id: "m/a", provider: "m", model: "x" }] };
    const refused = (usage_export: unknown[], re: RegExp) => assert.throws(() => buildConfig({ ...base, usage_export }), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    refused([{ name: "a", type: "datadog" }], /^usage_export\[0\]\.api_key: is required for type datadog/);
    refused([{ name: "a", type: "datadog", api_key: "k", max_records: 5000 }], /^usage_export\[0\]\.max_records: at most 1000 for type datadog/);
    refused([{ name: "a", type: "datadog", api_key: "k", site: "datadoghq.eu", url: "https://x" }], /^usage_export\[0\]\.site: give site or url, not both/);
    refused([{ name: "a", type: "splunk", url: "https://splunk:8088" }], /^usage_export\[0\]\.token: is required for type splunk/);
    refused([{ name: "a", type: "http" }], /^usage_export\[0\]\.url: is required for type http/);
    refused([{ name: "a", type: "http", url: "https://x", bucket: "b" }], /^usage_export\[0\]\.bucket: is not a setting of type http/);
    refused([{ name: "a", type: "http", url: "https://x", prefix: "p" }], /^usage_export\[0\]\.prefix: is not a setting of type http/);
    refused([{ name: "a", type: "http", url: "https://x", token: "t" }], /^usage_export\[0\]\.token: is not a setting of type http \(it belongs to datadog or splunk\)/);
    refused([{ name: "a", type: "s3", bucket: "b", api_key: "k" }], /^usage_export\[0\]\.api_key: is not a setting of type s3/);
    refused([{ name: "a", type: "http", url: "https://x", when: { colour: "red" } }], /^usage_export\[0\]\.when\.colour: unknown field: one of team, key, user, tag, route, deployment, provider, status, operation, metadata\.<name>/);
    refused([{ name: "a", type: "http", url: "https://x", when: {} }], /^usage_export\[0\]\.when: needs at least one field/);
    const ok = buildConfig({ ...base, usage_export: [{ name: "a", type: "datadog", api_key: "k" }] }).usageExport![0];
    assert.deepEqual({ site: ok.site, service: ok.service, maxRecords: ok.maxRecords }, { site: "datadoghq.com", service: "signalbox", maxRecords: 1000 });
  });
});
