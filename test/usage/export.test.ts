// Usage records archived to object storage (src/usage/export.ts), through real gateways whose
// config files name an S3 bucket (SigV4 checked by the fake), a Cloud Storage bucket (a Google
// service account's token) and an Azure Blob container (an Entra ID app's token, and a SAS token),
// each a fake over real HTTP (test/fakes/object-stores.ts). Every record the gateway keeps lands in
// each store exactly once, as the API's RequestRecord JSON in gzipped NDJSON objects under
// Hive-style hour partitions; a store that fails keeps the records (in memory, or in the spool
// directory across a restart) until it is back, with an alert each way; past its buffer the oldest
// are dropped and counted; a reload takes a new export at once; bad settings are errors naming the
// field; no credential is ever in an object, a log line or an alert.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { RequestRecordSchema, type RequestRecord } from "../../gen/signalbox/v1/usage_pb.ts";
import { buildConfig, ConfigError, loadConfig } from "../../src/config/load.ts";
import { createGateway } from "../../src/gateway.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";
import { FAKE_S3_CREDS, objectLines, startFakeAzureBlob, startFakeGcs, startFakeS3, type FakeObjectStore, type StoredObject } from "../fakes/object-stores.ts";
import { makeTestServiceAccount, startFakeVertex, type FakeVertex } from "../fakes/vertex.ts";
import { poll } from "../helpers/wait.ts";
import { Code, createSignalboxClient, SignalboxError } from "@signalbox/client";
import { startWebhook, type Webhook } from "../helpers/webhook.ts";

const V = (...p: string[]) => p.join("-");
const AZ_SECRET = V("azure", "storage", "client", "secret");
const SAS = `sv=2022-11-02&ss=b&srt=o&sp=cw&se=2030-01-01T00%3A00%3A00Z&sig=${V("c2FzLXNpZ25hdHVyZQ", "fake")}`;

const KEY_RE = /^archive\/sb\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/\d{8}T\d{6}Z-[A-Za-z0-9_.-]+-\d{6}\.ndjson\.gz$/;

/** The records of a bucket's objects, in object order. */
function linesOf(objects: StoredObject[]): RequestRecord[] {
  return objectLines(objects).map((l) => fromJson(RequestRecordSchema, l as JsonValue));
}

/** Objects of a store's bucket that are not among `before` (objects list in key order, not arrival). */
const since = (store: FakeObjectStore, bucket: string, before: Set<string>) => store.objects(bucket).filter((o) => !before.has(o.key));
const keysOf = (store: FakeObjectStore, bucket: string) => new Set(store.objects(bucket).map((o) => o.key));

describe("usage export to object storage", () => {
  let s3: FakeObjectStore & { region: string };
  let gcs: FakeObjectStore;
  let az: Awaited<ReturnType<typeof startFakeAzureBlob>>;
  let azSas: Awaited<ReturnType<typeof startFakeAzureBlob>>;
  let gvertex: FakeVertex;
  let hook: Webhook;
  let dir: string;
  let saKey: string;
  const logs: string[] = [];
  const secrets = () => [FAKE_S3_CREDS.secretAccessKey, AZ_SECRET, SAS.split("sig=")[1]];

  const exportsYaml = (opts: { spool?: string; flush?: number; only?: string[]; maxBuffered?: number } = {}) => {
    const all: Record<string, string> = {
      s3: `  - { name: s3, type: s3, bucket: usage-archive, prefix: archive/sb, region: ${s3.region}, endpoint: ${s3.url}, access_key_id: ${FAKE_S3_CREDS.accessKeyId}, secret_access_key: "${FAKE_S3_CREDS.secretAccessKey}", flush_seconds: ${opts.flush ?? 3600}${opts.spool ? `, spool_dir: ${opts.spool}` : ""}${opts.maxBuffered ? `, max_records: 2, max_buffered_records: ${opts.maxBuffered}` : ""} }`,
      gcs: `  - { name: gcs, type: gcs, bucket: sb-usage, prefix: archive/sb, endpoint: ${gcs.url}, credentials_file: ${saKey}, token_url: ${gvertex.tokenUrl}, flush_seconds: ${opts.flush ?? 3600} }`,
      azure: `  - { name: azure, type: azure_blob, container: usage, prefix: archive/sb, account_url: ${az.url}, authority_url: ${az.authorityUrl}, tenant_id: contoso, client_id: gateway-app, client_secret: ${AZ_SECRET}, flush_seconds: ${opts.flush ?? 3600} }`,
      sas: `  - { name: sas, type: azure_blob, container: usage, prefix: archive/sb, account_url: ${azSas.url}, sas_token: "?${SAS}", flush_seconds: ${opts.flush ?? 3600} }`,
    };
    return Object.entries(all)
      .filter(([k]) => !opts.only || opts.only.includes(k))
      .map(([, v]) => v)
      .join("\n");
  };
  const yaml = (opts: Parameters<typeof exportsYaml>[0] & { exports?: boolean } = {}) => `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 0, chunks: 4 } }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: mock/fast, provider: mock, model: mock-fast-1, pricing: { input: 1, output: 2 } }
  - { id: flaky/down, provider: flaky, model: mock-fast-1 }
routes:
  - { name: chat, targets: [mock/fast] }
alerts:
  - { name: ops, url: "${hook.origin}/ops", events: [usage_export_failed, usage_export_recovered] }
${opts.exports === false ? "" : `usage_export:\n${exportsYaml(opts)}`}
`;

  async function start(text: string) {
    const file = join(dir, `gw-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, text);
    const kept = createMemoryUsageSink();
    const gw = await createGateway(loadConfig(file), { usage: kept, configPath: file, tracing: null, usageLogs: null });
    const server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: 1 << 20 });
    return { gw, server, kept, file };
  }
  const ask = (url: string, model: string, stream = false) =>
    fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "archive me" }] }) }).then((r) => r.text());

  before(async () => {
    setLogSink((l) => logs.push(l));
    dir = mkdtempSync(join(tmpdir(), "signalbox-export-"));
    hook = await startWebhook();
    s3 = await startFakeS3({ buckets: ["usage-archive"] });
    const sa = makeTestServiceAccount("sb-archive");
    gvertex = await startFakeVertex({ accounts: [sa], project: "sb-archive" });
    saKey = sa.writeKeyFile(dir);
    gcs = await startFakeGcs((t) => gvertex.issued.some((x) => x.token === t), { buckets: ["sb-usage"] });
    az = await startFakeAzureBlob({ account: "sbarchive", tenantId: "contoso", clientId: "gateway-app", clientSecret: AZ_SECRET, containers: ["usage"] });
    azSas = await startFakeAzureBlob({ account: "sbarchive2", tenantId: "contoso", clientId: "other", sasToken: SAS, containers: ["usage"] });
  });
  after(async () => {
    await Promise.all([s3?.close(), gcs?.close(), az?.close(), azSas?.close(), gvertex?.close(), hook?.close()]);
    setLogSink((l) => process.stdout.write(l));
    rmSync(dir, { recursive: true, force: true });
  });

  test("every record lands in S3, Cloud Storage and Azure Blob (Entra ID and SAS) once, as RequestRecord JSON in hourly partitions", async () => {
    const { gw, server, kept } = await start(yaml());
    try {
      await ask(server.url, "chat");
      await ask(server.url, "chat", true);
      await ask(server.url, "flaky/down");
      await ask(server.url, "mock/fast");
      // Nothing is sent before a flush (flush_seconds: 3600).
      assert.equal(s3.objects("usage-archive").length, 0);
      await poll(async () => (kept.recent().length >= 4 ? true : undefined), 5000, "four records");
      await gw.usageExport.flush();
      const ids = kept.recent().map((r) => r.id).sort();
      assert.equal(ids.length, 4);
      for (const [store, bucket] of [[s3, "usage-archive"], [gcs, "sb-usage"], [az, "usage"], [azSas, "usage"]] as const) {
        const objects = store.objects(bucket);
        assert.ok(objects.length >= 1, `objects in ${bucket}`);
        for (const o of objects) {
          assert.match(o.key, KEY_RE);
          assert.equal(o.contentType, "application/gzip");
        }
        const lines = linesOf(objects);
        assert.deepEqual(lines.map((l) => l.id).sort(), ids, `each record once in ${store.url}`);
        const byId = new Map(lines.map((l) => [l.id, l]));
        const ok = kept.recent().find((r) => r.status === "ok" && !r.streamed)!;
        const line = byId.get(ok.id)!;
        assert.equal(line.deployment, "mock/fast");
        assert.equal(line.status, "ok");
        assert.equal(line.cost?.totalNanoUsd, BigInt(ok.cost.total));
        assert.equal(Number(line.usage?.inputTokens), ok.usage.inputTokens);
        const failed = kept.recent().find((r) => r.deployment === "flaky/down" || r.status !== "ok")!;
        assert.notEqual(byId.get(failed.id)!.status, "ok");
        assert.ok(lines.some((l) => l.streamed));
        // Partitioned by the records' own hour.
        for (const o of objects) {
          const hour = /dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})/.exec(o.key)!;
          for (const l of linesOf([o])) assert.equal(new Date(Number(l.time!.seconds) * 1000).toISOString().slice(0, 13), `${hour[1]}T${hour[2]}`);
        }
      }
      // Every field present, even false and zero: one schema for every line.
      const raw = gunzipSync(s3.objects("usage-archive")[0].body).toString("utf8").split("\n")[0];
      assert.match(raw, /"cacheHit":false/);
      assert.match(raw, /"traceId":/);
      // The S3 object was signed (the fake checks SigV4) with the payload's hash; the record count rides along.
      const put = s3.requests.find((r) => r.method === "PUT")!;
      assert.match(String(put.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIA/);
      assert.equal(s3.objects("usage-archive")[0].metadata.records, String(linesOf([s3.objects("usage-archive")[0]]).length));
      assert.ok(az.requests.some((r) => r.method === "PUT" && /^Bearer /.test(String(r.headers.authorization))));
      // A second flush with nothing new sends nothing.
      const before = s3.objects("usage-archive").length;
      await gw.usageExport.flush();
      assert.equal(s3.objects("usage-archive").length, before);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /signalbox_usage_export_records_total\{export="s3",outcome="exported"\} 4/);
      assert.match(metrics, /signalbox_usage_export_pending_records\{export="gcs"\} 0/);
    } finally {
      await server.shutdown(0);
    }
  });

  test("a store that fails keeps its records until it is back: sent once, with an alert each way", async () => {
    const { gw, server, kept } = await start(yaml({ only: ["s3"] }));
    try {
      const start = keysOf(s3, "usage-archive");
      s3.failNext(3, 503);
      await ask(server.url, "chat");
      await ask(server.url, "chat");
      await poll(async () => (kept.recent().length >= 2 ? true : undefined), 5000, "records");
      await gw.usageExport.flush(); // three tries, 0.5 s and 2 s apart
      assert.equal(since(s3, "usage-archive", start).length, 0);
      const st = gw.usageExport.stats().find((x) => x.name === "s3")!;
      assert.equal(st.buffered, 2);
      assert.match(st.failing ?? "", /S3 answered HTTP 503 (SlowDown|ServiceUnavailable|InternalError)/);
      const failedAlert = await poll(async () => hook.received.find((h) => h.body.event === "usage_export_failed"), 5000, "the failure alert");
      assert.equal(failedAlert.body.export, "s3");
      assert.equal(failedAlert.body.pending_records, 2);
      // AdminService.ListUsageExports: where it writes (no credential), what waits, the error.
      const admin = createSignalboxClient({ baseUrl: server.url });
      const [listed] = (await admin.admin.listUsageExports({})).exports;
      assert.equal(listed.name, "s3");
      assert.equal(listed.type, "s3");
      assert.equal(listed.destination, `s3://usage-archive/archive/sb (${new URL(s3.url).host})`);
      assert.equal(listed.bufferedRecords, 2n);
      assert.match(listed.error, /S3 answered HTTP 503/);
      assert.ok(listed.failingSince);
      assert.ok(!JSON.stringify(listed, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(FAKE_S3_CREDS.accessKeyId));
      const missing = await admin.admin.flushUsageExports({ name: "nope" }).catch((e: unknown) => e);
      assert.ok(missing instanceof SignalboxError && missing.code === Code.NotFound && /no usage export named "nope" \(usage exports in force: s3\)/.test(missing.message));
      await ask(server.url, "chat");
      await poll(async () => (kept.recent().length >= 3 ? true : undefined), 5000, "records");
      // FlushUsageExports sends what waits now and answers with the state after.
      const [flushed] = (await admin.admin.flushUsageExports({ name: "s3" })).exports;
      assert.equal(flushed.bufferedRecords, 0n);
      assert.equal(flushed.exportedRecords, 3n);
      assert.equal(flushed.error, "");
      assert.ok(flushed.lastExportTime);
      const lines = linesOf(since(s3, "usage-archive", start));
      assert.deepEqual(lines.map((l) => l.id).sort(), kept.recent().map((r) => r.id).sort());
      assert.equal(gw.usageExport.stats().find((x) => x.name === "s3")!.buffered, 0);
      await poll(async () => hook.received.find((h) => h.body.event === "usage_export_recovered"), 5000, "the recovery alert");
    } finally {
      await server.shutdown(0);
    }
  });

  test("with spool_dir, what cannot be sent waits on disk and is sent by the next process after a restart", async () => {
    const spool = join(dir, "spool");
    const start0 = keysOf(s3, "usage-archive");
    const first = await start(yaml({ only: ["s3"], spool }));
    s3.failNext(1000, 500);
    await ask(first.server.url, "chat");
    await ask(first.server.url, "chat", true);
    await poll(async () => (first.kept.recent().length >= 2 ? true : undefined), 5000, "records");
    const ids = first.kept.recent().map((r) => r.id).sort();
    // The gateway stops with the store still failing: its records go to the spool.
    await first.server.shutdown(0);
    const files = readdirSync(join(spool, "s3"));
    assert.ok(files.length >= 1 && files.every((f) => /^\d+\.archive%2Fsb%2Fdt%3D/.test(f)), files.join(", "));
    assert.equal(since(s3, "usage-archive", start0).length, 0);
    s3.failNext(0);
    // A new process, no traffic: the spool is sent at its first flush.
    const second = await start(yaml({ only: ["s3"], spool, flush: 1 }));
    try {
      await poll(async () => (readdirSync(join(spool, "s3")).length === 0 ? true : undefined), 10_000, "the spool sent");
      assert.deepEqual(linesOf(since(s3, "usage-archive", start0)).map((l) => l.id).sort(), ids);
      assert.equal(second.gw.usageExport.stats().find((x) => x.name === "s3")!.spooled, 0);
    } finally {
      await second.server.shutdown(0);
    }
  });

  test("past max_buffered_records the oldest records are dropped and counted", async () => {
    const { gw, server, kept } = await start(yaml({ only: ["s3"], maxBuffered: 4 }));
    try {
      s3.failNext(1000, 503);
      for (let i = 0; i < 8; i++) await ask(server.url, "chat");
      await poll(async () => (kept.recent().length >= 8 ? true : undefined), 5000, "records");
      const st = await poll(async () => {
        const x = gw.usageExport.stats().find((e) => e.name === "s3")!;
        return x.dropped > 0 ? x : undefined;
      }, 15_000, "drops");
      assert.ok(st.buffered <= 4, `buffered ${st.buffered}`);
      assert.equal(st.buffered + st.dropped + st.exported, 8);
      assert.match(await (await fetch(`${server.url}/metrics`)).text(), /signalbox_usage_export_records_total\{export="s3",outcome="dropped"\} [1-9]/);
    } finally {
      s3.failNext(0);
      await server.shutdown(0);
    }
  });

  test("a reload adds an export at once; settings are checked, each error naming its field", async () => {
    const { gw, server, kept, file } = await start(yaml({ exports: false }));
    try {
      const start0 = keysOf(gcs, "sb-usage");
      writeFileSync(file, yaml({ only: ["gcs"] }));
      const res = await gw.reload("test");
      assert.ok(res.changes.includes("usage export added: gcs"), res.changes.join("; "));
      await ask(server.url, "chat");
      await poll(async () => (kept.recent().length >= 1 ? true : undefined), 5000, "a record");
      await gw.usageExport.flush();
      assert.deepEqual(linesOf(since(gcs, "sb-usage", start0)).map((l) => l.id), [kept.recent().at(-1)!.id]);
    } finally {
      await server.shutdown(0);
    }
    const base = { providers: [{ name: "m", type: "mock" }], deployments: [{ id: "m/a", provider: "m", model: "x" }] };
    const refused = (usage_export: unknown[], re: RegExp) => assert.throws(() => buildConfig({ ...base, usage_export }), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    refused([{ name: "a", type: "s3" }], /^usage_export\[0\]\.bucket: is required for type s3/);
    refused([{ name: "a", type: "ftp", bucket: "b" }], /^usage_export\[0\]\.type:/);
    refused([{ name: "a", type: "s3", bucket: "b", access_key_id: "x" }], /^usage_export\[0\]\.secret_access_key: give access_key_id and secret_access_key together/);
    refused([{ name: "a", type: "s3", bucket: "b", container: "c" }], /^usage_export\[0\]\.container: is not a setting of type s3/);
    refused([{ name: "a", type: "gcs", bucket: "b", region: "eu" }], /^usage_export\[0\]\.region: is not a setting of type gcs/);
    refused([{ name: "a", type: "azure_blob", container: "c", account_url: "https://x.blob.core.windows.net" }], /^usage_export\[0\]\.sas_token: give a SAS token, or an Entra ID app/);
    refused([{ name: "a", type: "azure_blob", container: "c", account_url: "https://x.blob.core.windows.net", sas_token: "sv=1", tenant_id: "t" }], /^usage_export\[0\]\.sas_token: give a SAS token or an Entra ID app/);
    refused([{ name: "a", type: "azure_blob", bucket: "b" }], /^usage_export\[0\]\.bucket: type azure_blob names a container/);
    refused([{ name: "a", type: "s3", bucket: "b" }, { name: "a", type: "s3", bucket: "c" }], /^usage_export\[1\]\.name: duplicate usage export "a"/);
    refused([{ name: "a", type: "s3", bucket: "b", flush_seconds: 0 }], /^usage_export\[0\]\.flush_seconds:/);
    const ok = buildConfig({ ...base, usage_export: [{ name: "a", type: "s3", bucket: "b" }] });
    assert.deepEqual(
      { region: ok.usageExport![0].region, prefix: ok.usageExport![0].prefix, flushMs: ok.usageExport![0].flushMs, pathStyle: ok.usageExport![0].pathStyle },
      { region: "us-east-1", prefix: "signalbox/usage", flushMs: 60_000, pathStyle: false },
    );
  });

  test("no credential in any object, log line or alert", () => {
    const everything = [
      ...logs,
      ...hook.received.map((h) => JSON.stringify(h.body)),
      ...[s3.objects("usage-archive"), gcs.objects("sb-usage"), az.objects("usage"), azSas.objects("usage")].flat().map((o) => gunzipSync(o.body).toString("utf8")),
    ].join("\n");
    for (const s of secrets()) assert.ok(!everything.includes(s), "a credential leaked");
    assert.ok(logs.some((l) => /usage export/.test(l)));
  });
});
