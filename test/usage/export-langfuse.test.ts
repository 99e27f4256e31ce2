// Usage records as Langfuse traces (src/usage/langfuse.ts, usage_export type langfuse), through a real
// gateway whose config names two Langfuse projects, each a fake speaking Langfuse's OpenTelemetry
// endpoint over real HTTP (test/fakes/langfuse.ts, checked on the official SDK's attribute builders):
// every request a trace with the gateway's trace id, its attempts as generations (model, usage, cost
// in USD, time to first token, a failed attempt's error); prompts and answers (a stream's too, and
// what a cut-off stream had sent) only where capture_content is on and the request did not say
// no-log, cut at max_content_chars; feedback given to a request a score on its trace; bad
// settings are errors naming the field; the secret key is in no log line nor the admin API.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startFakeLangfuse, type FakeLangfuse, type LangfuseObservation } from "../fakes/langfuse.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { poll } from "../helpers/wait.ts";

const V = (...p: string[]) => p.join("-");
const PK = V("pk", "lf", "full");
const SK = V("sk", "lf", "full", "0123456789");
const PK2 = V("pk", "lf", "quiet");
const SK2 = V("sk", "lf", "quiet", "9876543210");

describe("usage export to Langfuse", () => {
  let full: FakeLangfuse;
  let quiet: FakeLangfuse;
  let t: TestGateway;
  const logs: string[] = [];

  before(async () => {
    setLogSink((l) => logs.push(l));
    full = await startFakeLangfuse({ publicKey: PK, secretKey: SK });
    quiet = await startFakeLangfuse({ publicKey: PK2, secretKey: SK2 });
    t = await startTestGateway(
      `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 5, chunks: 4 } }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: trickle, type: mock, mock: { ttft_ms: 5, inter_chunk_ms: 150, chunks: 20 } }
deployments:
  - { id: mock/fast, provider: mock, model: mock-fast-1, pricing: { input: 1, output: 2 } }
  - { id: flaky/down, provider: flaky, model: mock-fast-1, pricing: { input: 1, output: 2 } }
  - { id: trickle/slow, provider: trickle, model: mock-slow-1, pricing: { input: 1, output: 2 } }
routes:
  - { name: chat, targets: [flaky/down, mock/fast], retry: { max_retries: 0 } }
usage_export:
  - { name: langfuse, type: langfuse, url: "${full.url}/", public_key: "${PK}", secret_key: "${SK}", environment: staging, capture_content: true, max_content_chars: 300, flush_seconds: 3600 }
  - { name: quiet, type: langfuse, url: "${quiet.url}", public_key: "${PK2}", secret_key: "${SK2}", when: { deployment: mock/fast }, flush_seconds: 3600 }
`,
      { tracing: null, usageLogs: null },
    );
  });
  after(async () => {
    await t?.close();
    await Promise.all([full?.close(), quiet?.close()]);
    setLogSink((l) => process.stdout.write(l));
  });

  const ask = (body: Record<string, unknown>) => fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  /** A stream's text, from its SSE chunks. */
  const streamed = (sse: string) =>
    sse
      .split("\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? "")
      .join("");
  const recordOf = async (id: string) => poll(async () => t.usage.recent().find((r) => r.id === id), 5000, `the record of ${id}`);
  const generations = (f: FakeLangfuse, traceId: string) => f.observations().filter((o) => o.traceId === traceId && o.type === "generation");

  test("a request is a trace with its attempts as generations; its prompt and answer where capture_content is on", async () => {
    const res = await ask({ model: "chat", user: "u-1", metadata: { session_id: "s-1", feature: "search" }, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hello there" }] });
    const body = (await res.json()) as { id: string; choices: { message: { content: string } }[] };
    assert.equal(res.status, 200);
    const rec = (await recordOf(body.id)) as UsageRecord;
    await t.gw.usageExport.flush();

    const trace = full.traces().find((t) => t.id === rec.traceId);
    assert.ok(trace, `a trace with the gateway's trace id ${rec.traceId}: ${JSON.stringify(full.traces().map((t) => t.id))}`);
    assert.equal(trace.name, "chat chat");
    assert.equal(trace.userId, "u-1");
    assert.equal(trace.sessionId, "s-1");
    assert.equal(trace.environment, "staging");
    assert.equal(trace.metadata.request_id, body.id);
    assert.equal(trace.metadata.feature, "search");
    assert.equal(trace.metadata.route, "chat");
    assert.equal(trace.metadata.deployment, "mock/fast");
    assert.deepEqual(trace.input, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "hello there" },
    ]);
    assert.deepEqual(trace.output, { role: "assistant", content: body.choices[0].message.content });

    const [failed, answered] = generations(full, rec.traceId).sort((a, b) => a.startTime.localeCompare(b.startTime));
    assert.equal(failed.level, "ERROR");
    assert.match(failed.statusMessage ?? "", /overloaded/);
    assert.equal(failed.metadata.deployment, "flaky/down");
    assert.equal(failed.input, undefined, "only the answering attempt carries the conversation");
    assert.equal(answered.level, "DEFAULT");
    assert.equal(answered.model, "mock-fast-1");
    assert.equal(answered.metadata.deployment, "mock/fast");
    const a = rec.attempts[1];
    assert.deepEqual(answered.usageDetails, { input: a.usage.inputTokens, output: a.usage.outputTokens, total: a.usage.inputTokens + a.usage.outputTokens });
    assert.equal(answered.costDetails?.total, a.cost.total / 1e9);
    assert.ok(a.cost.total > 0);
    assert.deepEqual(answered.input, trace.input);
    assert.deepEqual(answered.output, trace.output);
    const root = full.observations().find((o) => o.traceId === rec.traceId && !o.parentObservationId)!;
    assert.equal(root.type, "span");
    assert.ok(generations(full, rec.traceId).every((g) => g.parentObservationId === root.id));

    // The second project takes mock/fast's records only, without their text.
    const q = quiet.traces().find((t) => t.id === rec.traceId);
    assert.ok(q);
    assert.equal(q.input, undefined);
    assert.equal(q.output, undefined);
    assert.ok(generations(quiet, rec.traceId).every((g) => g.input === undefined && g.output === undefined && g.modelParameters === undefined));

    // Langfuse's ingestion: OTLP protobuf, gzipped, Basic auth with the project's keys.
    const req = full.requests.at(-1)!;
    assert.equal(req.status, 200);
    assert.equal(req.headers["content-type"], "application/x-protobuf");
    assert.equal(req.headers["content-encoding"], "gzip");
    assert.equal(req.headers["x-langfuse-ingestion-version"], "4");
    assert.equal(req.headers.authorization, `Basic ${Buffer.from(`${PK}:${SK}`).toString("base64")}`);
  });

  test("a stream: its text as the output, its settings as the model's parameters, its time to first token; a long prompt is cut", async () => {
    const long = "x".repeat(1000);
    const res = await ask({ model: "mock/fast", stream: true, temperature: 0.2, max_tokens: 50, messages: [{ role: "user", content: long }] });
    const text = streamed(await res.text());
    assert.ok(text.length > 0);
    const id = res.headers.get("x-request-id")!;
    const rec = (await recordOf(id)) as UsageRecord;
    await t.gw.usageExport.flush();
    const trace = full.traces().find((t) => t.id === rec.traceId)!;
    assert.deepEqual(trace.output, { role: "assistant", content: text });
    assert.deepEqual(trace.input, [{ role: "user", content: `${"x".repeat(300)}… [700 more characters]` }]);
    const [g] = generations(full, rec.traceId);
    assert.deepEqual(g.modelParameters, { temperature: 0.2, max_tokens: 50 });
    assert.ok(g.completionStartTime, "the time of the first token");
    const first = Date.parse(g.completionStartTime!);
    assert.ok(first >= Date.parse(g.startTime) && first <= Date.parse(g.endTime), `${g.startTime} <= ${g.completionStartTime} <= ${g.endTime}`);
  });

  test("a failed request and a cut-off stream: the trace says so, with what was sent", async () => {
    const res = await ask({ model: "flaky/down", messages: [{ role: "user", content: "fail me" }] });
    assert.equal(res.status >= 500, true);
    await res.text();
    const failedId = res.headers.get("x-request-id")!;
    const cut = await ask({ model: "trickle/slow", stream: true, messages: [{ role: "user", content: "stop me" }] });
    const id = cut.headers.get("x-request-id")!;
    const reader = cut.body!.getReader();
    let got = "";
    while (!got.includes('"content":"')) got += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const canceled = (await recordOf(id)) as UsageRecord;
    assert.equal(canceled.status, "canceled");
    const failed = (await recordOf(failedId)) as UsageRecord;
    assert.equal(failed.status, "unavailable");
    await t.gw.usageExport.flush();

    const ft = full.traces().find((t) => t.id === failed.traceId)!;
    assert.deepEqual(ft.input, [{ role: "user", content: "fail me" }]);
    assert.equal(ft.output, undefined);
    const froot = full.observations().find((o) => o.traceId === failed.traceId && !o.parentObservationId)!;
    assert.equal(froot.level, "ERROR");
    assert.match(froot.statusMessage ?? "", /unavailable/);

    const ct = full.traces().find((t) => t.id === canceled.traceId)!;
    const out = ct.output as { content: string };
    assert.ok(out.content.length > 0, "what was sent before the caller left");
    const [g] = generations(full, canceled.traceId) as LangfuseObservation[];
    assert.equal(g.level, "WARNING");
  });

  test("a request that says no-log (or metadata no_log) is traced without its text", async () => {
    const quietly = await ask({ model: "mock/fast", "no-log": true, messages: [{ role: "user", content: "keep this to yourself" }] });
    assert.equal(quietly.status, 200);
    const viaMeta = await ask({ model: "mock/fast", stream: true, metadata: { no_log: "true" }, messages: [{ role: "user", content: "and this" }] });
    await viaMeta.text();
    const bad = await ask({ model: "mock/fast", "no-log": "yes", messages: [{ role: "user", content: "x" }] });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /no-log/);
    const ids = [(await quietly.json()).id as string, viaMeta.headers.get("x-request-id")!];
    const recs = await Promise.all(ids.map((id) => recordOf(id) as Promise<UsageRecord>));
    await t.gw.usageExport.flush();
    for (const r of recs) {
      const t = full.traces().find((x) => x.id === r.traceId)!;
      assert.ok(t, "still traced");
      assert.equal(t.input, undefined);
      assert.equal(t.output, undefined);
      assert.equal(t.metadata.no_log, true);
      assert.ok(generations(full, r.traceId).every((g) => g.input === undefined && g.output === undefined && g.usageDetails?.total));
    }
  });

  test("feedback on a request is a score on its Langfuse trace and its answering generation (in the projects that take its record); scoring again replaces it", async () => {
    const res = await ask({ model: "mock/fast", messages: [{ role: "user", content: "rate me" }] });
    const { id } = (await res.json()) as { id: string };
    const rec = (await recordOf(id)) as UsageRecord;
    const give = (value: number, metadata: Record<string, string>) =>
      fetch(`${t.url}/signalbox.v1.UsageService/SubmitFeedback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ requestId: id, value, metadata }) });
    const first = await give(1, { comment: "spot on", ui: "chat" });
    assert.equal(first.status, 200, await first.clone().text());
    const { feedbackId } = (await first.json()) as { feedbackId: string };
    await full.waitFor((f) => f.scores().length > 0, 5000);
    await t.gw.usageExport.flush();
    const [answer] = generations(full, rec.traceId);
    assert.deepEqual(full.scores(), [{ id: feedbackId, traceId: rec.traceId, observationId: answer.id, name: "user-feedback", value: 1, dataType: "NUMERIC", comment: "spot on", metadata: { ui: "chat", weight: 1, request_id: id }, environment: "staging" }]);
    // The quiet project takes mock/fast's records: the score goes there too.
    await quiet.waitFor((f) => f.scores().length > 0, 5000);
    assert.equal(quiet.scores()[0].traceId, rec.traceId);
    assert.equal((await give(-1, {})).status, 200);
    await full.waitFor((f) => f.scores()[0]?.value === -1, 5000);
    assert.equal(full.scores().length, 1, "the same feedback id: replaced");
    assert.equal(full.scores()[0].observationId, answer.id, "still on the generation");
  });

  test("the secret key is in no log line and not in the admin API's view of the export", async () => {
    const all = logs.join("");
    assert.ok(!all.includes(SK) && !all.includes(SK2));
    // Where prompts go is said once, for the export that sends them.
    const said = logs.map((l) => JSON.parse(l) as { msg: string; export?: string; destination?: string }).filter((l) => l.msg.includes("sends the prompts and answers"));
    assert.deepEqual(said.map((l) => [l.export, l.destination]), [["langfuse", `Langfuse (${new URL(full.url).host})`]]);
    const infos = await fetch(`${t.url}/signalbox.v1.AdminService/ListUsageExports`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    const text = await infos.text();
    assert.equal(infos.status, 200, text);
    assert.ok(!text.includes(SK) && !text.includes(SK2));
    const list = JSON.parse(text) as { exports: { name: string; type: string; destination: string; captureContent?: boolean }[] };
    const lf = list.exports.find((e) => e.name === "langfuse")!;
    assert.equal(lf.type, "langfuse");
    assert.equal(lf.destination, `Langfuse (${new URL(full.url).host})`);
    assert.equal(lf.captureContent, true);
    assert.equal(list.exports.find((e) => e.name === "quiet")!.captureContent, undefined);
  });
});

test("langfuse settings: keys required, each setting only where it belongs, named by field", () => {
  const bad = (entry: string, field: string) =>
    assert.throws(
      () => buildConfig({ providers: [{ name: "mock", type: "mock" }], deployments: [{ id: "mock/a", provider: "mock", model: "m" }], usage_export: [JSON.parse(entry)] }, {}),
      (e: unknown) => e instanceof ConfigError && e.message.includes(`usage_export[0].${field}`),
      `${entry} names ${field}`,
    );
  bad(`{"name":"lf","type":"langfuse","public_key":"p"}`, "secret_key");
  bad(`{"name":"lf","type":"langfuse","secret_key":"s"}`, "public_key");
  bad(`{"name":"lf","type":"langfuse","public_key":"p","secret_key":"s","max_content_chars":500}`, "max_content_chars");
  bad(`{"name":"lf","type":"langfuse","public_key":"p","secret_key":"s","bucket":"b"}`, "bucket");
  bad(`{"name":"h","type":"http","url":"http://127.0.0.1:1/","public_key":"p"}`, "public_key");
  const ok = buildConfig({ providers: [{ name: "mock", type: "mock" }], deployments: [{ id: "mock/a", provider: "mock", model: "m" }], usage_export: [{ name: "lf", type: "langfuse", public_key: "p", secret_key: "s" }] }, {});
  const e = ok.usageExport![0];
  assert.equal(e.url, "https://cloud.langfuse.com");
  assert.equal(e.flushMs, 5000);
  assert.equal(e.maxRecords, 500);
  assert.equal(e.maxBufferedRecords, 20_000);
  assert.equal(e.captureContent, false);
  assert.equal(e.maxContentChars, undefined);
});
