// The fake log intakes (test/fakes/log-intakes.ts) checked against what real clients send and
// expect: Datadog's official @datadog/datadog-api-client (v2.LogsApi.submitLog, pointed at the fake
// with `baseServer`) sends gzip, deflate and plain batches and sees 401 / 403 / 503 as its own
// ApiException with HTTPLogErrors bodies; Splunk's official splunk-logging library posts single
// events and batches (concatenated with no separator) to /services/collector/event/1.0 and reads
// HEC's `{text, code}` answers; HEC's curl examples and the generic NDJSON sink are driven with fetch.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { deflateSync, gzipSync } from "node:zlib";
import { client, v2 } from "@datadog/datadog-api-client";
import { Logger as SplunkLogger } from "splunk-logging";
import { DATADOG_LIMITS, startFakeDatadogLogs, startFakeHttpSink, startFakeSplunkHec, type FakeLogIntake } from "./log-intakes.ts";

/** fetch's BodyInit wants an ArrayBuffer-backed view: copy a Buffer into one. */
const asBody = (b: Buffer | string) => (typeof b === "string" ? b : new Uint8Array(b));

// Key-shaped strings are assembled at run time: no credential-looking literal in the source.
const DD_KEY = ["fake", "dd", "api", "key", "0123456789abcdef"].join("");
const HEC_TOKEN = ["00000000", "fake", "4hec", "tok0", "000000000000"].join("-");
const SINK_AUTH = ["Bearer", ["fake", "sink", "token"].join("-")].join(" ");

const records = [
  { message: "usage", ddsource: "signalbox", service: "gateway", hostname: "sb-1", ddtags: "env:test", model: "gpt-x", tokens: 12 },
  { message: "usage", ddsource: "signalbox", service: "gateway", hostname: "sb-1", ddtags: "env:test", model: "gpt-y", tokens: 7 },
];

// The SDK's HTTPLogItem serialises its known fields and puts custom attributes under
// `additionalProperties`, which go on the wire as top-level keys of the log.
const sdkItems = records.map(({ model, tokens, ...known }) => ({ ...known, additionalProperties: { model, tokens } }));

describe("fake Datadog Logs API v2 against @datadog/datadog-api-client", () => {
  let dd: FakeLogIntake & { logs: Record<string, unknown>[] };
  before(async () => {
    dd = await startFakeDatadogLogs(DD_KEY);
  });
  after(() => dd.close());
  const api = (key = DD_KEY) => new v2.LogsApi(client.createConfiguration({ authMethods: { apiKeyAuth: key }, baseServer: new client.BaseServerConfiguration(dd.url, {}) }));
  const apiError = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => assert.fail("expected an ApiException"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof client.ApiException, String(err));
    return err as client.ApiException<{ errors?: { status?: string; title?: string; detail?: string }[] }>;
  };

  test("submitLog with contentEncoding gzip: 202 {}, the batch gunzipped, each log kept", async () => {
    const before = dd.logs.length;
    const out = await api().submitLog({ body: sdkItems, contentEncoding: "gzip" });
    assert.deepEqual(out, {});
    const sent = dd.requests.at(-1)!;
    assert.equal(sent.method, "POST");
    assert.equal(sent.path, "/api/v2/logs");
    assert.equal(sent.headers["dd-api-key"], DD_KEY);
    assert.equal(sent.headers["content-encoding"], "gzip");
    assert.match(String(sent.headers["content-type"]), /^application\/json/);
    assert.deepEqual([...sent.raw.subarray(0, 2)], [0x1f, 0x8b], "gzip bytes on the wire");
    assert.deepEqual(JSON.parse(dd.accepted.at(-1)!.body), records);
    assert.deepEqual(dd.logs.slice(before), records);
  });

  test("submitLog without encoding, and with deflate: both accepted, in order", async () => {
    const before = dd.logs.length;
    await api().submitLog({ body: [sdkItems[0]] });
    assert.equal(dd.requests.at(-1)!.headers["content-encoding"], undefined);
    await api().submitLog({ body: [sdkItems[1]], contentEncoding: "deflate" });
    assert.equal(dd.requests.at(-1)!.headers["content-encoding"], "deflate");
    assert.deepEqual(dd.logs.slice(before), records);
  });

  test("a wrong key: 403 HTTPLogErrors, nothing accepted; no key: 401", async () => {
    const n = dd.accepted.length;
    const err = await apiError(api(["wrong", "key"].join("-")).submitLog({ body: sdkItems }));
    assert.equal(err.code, 403);
    assert.equal(err.body.errors?.[0]?.status, "403");
    assert.equal(err.body.errors?.[0]?.title, "Forbidden");
    const none = await fetch(`${dd.url}/api/v2/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(records) });
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { errors: { status: string }[] }).errors[0].status, "401");
    assert.equal(dd.accepted.length, n);
  });

  test("failNext: the SDK sees 503 in Datadog's error shape, nothing accepted, then accepted again", async () => {
    const n = dd.logs.length;
    dd.failNext(1);
    const err = await apiError(api().submitLog({ body: sdkItems, contentEncoding: "gzip" }));
    assert.equal(err.code, 503);
    assert.deepEqual(err.body.errors?.map((e) => [e.status, e.title]), [["503", "Service Unavailable"]]);
    assert.equal(dd.logs.length, n);
    // A refused key does not use up the failure budget.
    dd.failNext(1, 500);
    assert.equal((await apiError(api("nope").submitLog({ body: sdkItems }))).code, 403);
    assert.equal((await apiError(api().submitLog({ body: sdkItems }))).code, 500);
    await api().submitLog({ body: sdkItems });
    assert.deepEqual(dd.logs.slice(n), records);
  });

  test("curl-style fetch: one object, gzip; a non-object log, bad JSON and over 1000 entries → 400; over 5 MB → 413", async () => {
    const post = (body: Buffer | string, encoding?: string) =>
      fetch(`${dd.url}/api/v2/logs`, { method: "POST", headers: { "DD-API-KEY": DD_KEY, "Content-Type": "application/json", ...(encoding ? { "Content-Encoding": encoding } : {}) }, body: asBody(body) });
    const n = dd.logs.length;
    const one = await post(gzipSync(JSON.stringify(records[0])), "gzip");
    assert.equal(one.status, 202);
    assert.deepEqual(await one.json(), {});
    assert.deepEqual(dd.logs.slice(n), [records[0]]);
    const raw = await post(deflateSync(JSON.stringify([records[1]])), "deflate");
    assert.equal(raw.status, 202);

    const bad = await post(JSON.stringify([records[0], "not an object"]));
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { errors: { status: string }[] }).errors[0].status, "400");
    assert.equal((await post("[{")).status, 400);
    assert.equal((await post(JSON.stringify(Array.from({ length: DATADOG_LIMITS.maxEntries + 1 }, (_, i) => ({ message: `m${i}` }))))).status, 400);
    assert.equal((await post(JSON.stringify(Array.from({ length: DATADOG_LIMITS.maxEntries }, (_, i) => ({ message: `m${i}` }))))).status, 202);
    const big = JSON.stringify([{ message: "x".repeat(DATADOG_LIMITS.maxBytes) }]);
    const tooLarge = await post(gzipSync(big), "gzip");
    assert.equal(tooLarge.status, 413);
    assert.equal(dd.logs.length, n + 2 + DATADOG_LIMITS.maxEntries);
  });
});

describe("fake Splunk HEC against splunk-logging", () => {
  let hec: FakeLogIntake & { events: Record<string, unknown>[] };
  before(async () => {
    hec = await startFakeSplunkHec(HEC_TOKEN);
  });
  after(() => hec.close());
  const logger = (token = HEC_TOKEN, maxBatchCount = 1) => {
    const l = new SplunkLogger({ token, url: hec.url, maxBatchCount });
    l.error = () => {}; // its default prints every refusal to the console
    return l;
  };
  const send = (l: SplunkLogger, message: unknown, metadata?: Record<string, string>) =>
    new Promise<{ err: unknown; status: number; body: { text: string; code: number } }>((resolve) =>
      l.send(metadata ? { message, metadata } : { message }, (err, resp, body) => resolve({ err, status: (resp as { statusCode: number } | undefined)?.statusCode ?? 0, body: body as { text: string; code: number } })),
    );

  test("Logger.send posts one event to /services/collector/event/1.0: 200 Success", async () => {
    const r = await send(logger(), { model: "gpt-x", tokens: 12 }, { source: "signalbox", sourcetype: "_json", host: "sb-1", index: "main" });
    assert.equal(r.err, null);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { text: "Success", code: 0 });
    const sent = hec.requests.at(-1)!;
    assert.equal(sent.path, "/services/collector/event/1.0");
    assert.equal(sent.headers.authorization, `Splunk ${HEC_TOKEN}`);
    const [e] = hec.events;
    assert.deepEqual(e.event, { message: { model: "gpt-x", tokens: 12 }, severity: "info" });
    assert.equal(e.source, "signalbox");
    assert.equal(e.host, "sb-1");
    assert.match(String(e.time), /^\d+(\.\d+)?$/, "splunk-logging sends epoch seconds as a string");
  });

  test("a batch (maxBatchCount 3) goes as events concatenated with no separator: all three kept, in order", async () => {
    const n = hec.events.length;
    const l = logger(HEC_TOKEN, 3);
    l.send({ message: "a" });
    l.send({ message: "b" });
    const r = await send(l, "c");
    assert.equal(r.status, 200);
    assert.match(hec.accepted.at(-1)!.body, /\}\{/);
    assert.deepEqual(hec.events.slice(n).map((e) => (e.event as { message: string }).message), ["a", "b", "c"]);
  });

  test("a wrong token: 403 Invalid token (code 4); no token: 401 Token is required (code 2)", async () => {
    const n = hec.accepted.length;
    const r = await send(logger("wrong"), "x");
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, { text: "Invalid token", code: 4 });
    const none = await fetch(`${hec.url}/services/collector/event`, { method: "POST", body: '{"event":"x"}' });
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { text: "Token is required", code: 2 });
    const malformed = await fetch(`${hec.url}/services/collector/event`, { method: "POST", headers: { Authorization: HEC_TOKEN }, body: '{"event":"x"}' });
    assert.equal(malformed.status, 401);
    assert.deepEqual(await malformed.json(), { text: "Invalid authorization", code: 3 });
    assert.equal(hec.accepted.length, n);
  });

  test("failNext: 503 Server is busy (code 9), nothing accepted, then accepted again", async () => {
    const n = hec.events.length;
    hec.failNext(1);
    const r = await send(logger(), "retry me");
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, { text: "Server is busy", code: 9 });
    assert.equal(hec.events.length, n);
    const again = await send(logger(), "retry me");
    assert.equal(again.status, 200);
    assert.equal(hec.events.length, n + 1);
  });

  test("curl-style fetch to /services/collector/event and /services/collector: newline-separated, gzip; event required; bad JSON", async () => {
    const post = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
      fetch(`${hec.url}${path}`, { method: "POST", headers: { Authorization: `Splunk ${HEC_TOKEN}`, ...headers }, body: asBody(body) });
    const n = hec.events.length;
    const batch = [
      { time: 1735689600.123, host: "sb-1", source: "signalbox", sourcetype: "_json", index: "usage", event: { model: "gpt-x", tokens: 12 }, fields: { tenant: "acme" } },
      { time: 1735689601, event: { model: "gpt-y", tokens: 7 } },
    ];
    const ok = await post("/services/collector/event", gzipSync(batch.map((e) => JSON.stringify(e)).join("\n") + "\n"), { "Content-Encoding": "gzip" });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { text: "Success", code: 0 });
    assert.equal((await post("/services/collector", JSON.stringify(batch[1]))).status, 200);
    assert.deepEqual(hec.events.slice(n), [...batch, batch[1]]);

    const missing = await post("/services/collector/event", `${JSON.stringify(batch[0])}\n{"time":1}`);
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { text: "Event field is required", code: 12, "invalid-event-number": 1 });
    const garbled = await post("/services/collector/event", `${JSON.stringify(batch[0])} {"event": nope}`);
    assert.equal(garbled.status, 400);
    assert.deepEqual(await garbled.json(), { text: "Invalid data format", code: 6, "invalid-event-number": 1 });
    const empty = await post("/services/collector/event", "");
    assert.deepEqual([empty.status, await empty.json()], [400, { text: "No data", code: 5 }]);
    assert.equal(hec.events.length, n + 3, "refused batches add nothing");
  });
});

describe("fake generic HTTP sink with fetch", () => {
  let sink: FakeLogIntake & { lines: Record<string, unknown>[]; duplicates: number };
  before(async () => {
    sink = await startFakeHttpSink({ authorization: SINK_AUTH });
  });
  after(() => sink.close());
  const post = (body: Buffer | string, headers: Record<string, string> = {}) =>
    fetch(`${sink.url}/ingest/usage`, { method: "POST", headers: { Authorization: SINK_AUTH, "Content-Type": "application/x-ndjson", ...headers }, body: asBody(body) });
  const ndjson = (rs: object[]) => rs.map((r) => JSON.stringify(r)).join("\n") + "\n";

  test("gzipped NDJSON accepted: 200 {accepted: n}, lines decoded in order", async () => {
    const r = await post(gzipSync(ndjson(records)), { "Content-Encoding": "gzip" });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { accepted: 2 });
    assert.deepEqual(sink.lines, records);
    assert.equal(sink.accepted.at(-1)!.body, ndjson(records));
    assert.deepEqual([...sink.requests.at(-1)!.raw.subarray(0, 2)], [0x1f, 0x8b]);
  });

  test("a repeated Idempotency-Key answers 200 again but is not appended twice", async () => {
    const n = sink.lines.length;
    const batches = sink.accepted.length;
    const key = "batch-0001";
    assert.deepEqual(await (await post(ndjson([records[0]]), { "Idempotency-Key": key })).json(), { accepted: 1 });
    const again = await post(ndjson([records[0]]), { "Idempotency-Key": key });
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { accepted: 1 });
    assert.equal(sink.duplicates, 1);
    assert.equal(sink.lines.length, n + 1);
    assert.equal(sink.accepted.length, batches + 1);
    assert.equal((await post(ndjson([records[1]]), { "Idempotency-Key": "batch-0002" })).status, 200);
    assert.equal(sink.lines.length, n + 2);
  });

  test("a wrong or missing Authorization: 401 unauthorized; a bad line: 400 naming it", async () => {
    const n = sink.lines.length;
    const wrong = await post(ndjson(records), { Authorization: "Bearer other" });
    assert.deepEqual([wrong.status, await wrong.json()], [401, { error: "unauthorized" }]);
    const none = await fetch(sink.url, { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: ndjson(records) });
    assert.equal(none.status, 401);
    const bad = await post(`${JSON.stringify(records[0])}\n{oops\n`);
    assert.deepEqual([bad.status, await bad.json()], [400, { error: "line 2 is not JSON" }]);
    assert.equal(sink.lines.length, n);
  });

  test("failNext: 503 {error}, nothing accepted (the key not remembered), then the retry accepted", async () => {
    const n = sink.lines.length;
    sink.failNext(1);
    const r = await post(ndjson(records), { "Idempotency-Key": "batch-0003" });
    assert.deepEqual([r.status, await r.json()], [503, { error: "service unavailable" }]);
    assert.equal(sink.lines.length, n);
    const retry = await post(ndjson(records), { "Idempotency-Key": "batch-0003" });
    assert.deepEqual([retry.status, await retry.json()], [200, { accepted: 2 }]);
    assert.deepEqual(sink.lines.slice(n), records);
  });

  test("without the authorization option any request is let in", async () => {
    const open = await startFakeHttpSink();
    try {
      const r = await fetch(`${open.url}/`, { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: ndjson([records[0]]) });
      assert.deepEqual(await r.json(), { accepted: 1 });
      assert.deepEqual(open.lines, [records[0]]);
    } finally {
      await open.close();
    }
  });
});
