// capture_content on the exports that send records as JSON lines (src/usage/export.ts): a gateway
// whose config archives to an S3 bucket with capture_content (a dataset for evaluations or
// fine-tuning, as LiteLLM's S3 logging keeps messages and responses) and sends the same records to
// an HTTP endpoint without it, each a fake over real HTTP. The archive's lines end with `content`
// (the messages as they were sent, after the input guardrails' redactions, the answer, a stream's
// included, the settings; a search's queries and pages); the endpoint's lines have none; records of
// other requests (embeddings), and of a request that said no-log, have none either. Content waiting for a store that is down is
// bounded, as records are.

import assert from "node:assert/strict";
import { makePdf } from "../helpers/pdf.ts";
import { after, before, test } from "node:test";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { createUsageExport } from "../../src/usage/export.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";
import { makeRecord, rng } from "./fixtures.ts";
import { startFakeHttpSink } from "../fakes/log-intakes.ts";
import { FAKE_S3_CREDS, objectLines, startFakeS3, type FakeObjectStore } from "../fakes/object-stores.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { poll } from "../helpers/wait.ts";

let s3: FakeObjectStore & { region: string };
let sink: Awaited<ReturnType<typeof startFakeHttpSink>>;
let t: TestGateway;

before(async () => {
  s3 = await startFakeS3({ buckets: ["evals"] });
  sink = await startFakeHttpSink();
  t = await startTestGateway(
    `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 0, chunks: 3 } }
deployments:
  - { id: mock/fast, provider: mock, model: mock-fast-1, pricing: { input: 1, output: 2 } }
  - { id: mock/embed, provider: mock, model: mock-embed-1, operations: [embeddings] }
  - { id: mock/search, provider: mock, model: mock-search-1, operations: [search], pricing: { input: 0, output: 0, per_request: 0.005 } }
  - { id: mock/ocr, provider: mock, model: mock-ocr-1, operations: [ocr], pricing: { input: 0, output: 0, per_page: 0.002 } }
guardrails:
  - { name: pii, kind: pii, stage: input, action: redact, pii: { categories: [email] } }
  - { name: pii-out, kind: pii, stage: output, action: redact, pii: { categories: [email] } }
routes:
  - { name: chat, targets: [mock/fast], guardrails: [pii] }
  - { name: search, targets: [mock/search], guardrails: [pii] }
  - { name: ocr, targets: [mock/ocr], guardrails: [pii-out] }
usage_export:
  - { name: evals, type: s3, bucket: evals, prefix: chat, region: ${s3.region}, endpoint: ${s3.url}, access_key_id: ${FAKE_S3_CREDS.accessKeyId}, secret_access_key: "${FAKE_S3_CREDS.secretAccessKey}", capture_content: true, flush_seconds: 3600 }
  - { name: plain, type: http, url: "${sink.url}/", flush_seconds: 3600 }
`,
    { tracing: null, usageLogs: null },
  );
});
after(async () => {
  await t?.close();
  await Promise.all([s3?.close(), sink?.close()]);
});

const post = (path: string, body: Record<string, unknown>) => fetch(`${t.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

test("the capturing archive's lines end with the request's content; the other export's lines have none", async () => {
  const unary = await post("/v1/chat/completions", { model: "chat", temperature: 0.5, messages: [{ role: "user", content: "mail me at jane@example.com" }] });
  const answer = ((await unary.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
  const stream = await post("/v1/chat/completions", { model: "mock/fast", stream: true, messages: [{ role: "user", content: "stream it" }] });
  const text = (await stream.text())
    .split("\n")
    .filter((l) => l.startsWith("data: {"))
    .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? "")
    .join("");
  const embed = await post("/v1/embeddings", { model: "mock/embed", input: "not a chat" });
  assert.equal(embed.status, 200);
  const private_ = await post("/v1/chat/completions", { model: "mock/fast", "no-log": true, messages: [{ role: "user", content: "private" }] });
  assert.equal(private_.status, 200);
  const ids = [unary, stream, embed, private_].map((r) => r.headers.get("x-request-id")!);
  await poll(async () => (ids.every((id) => t.usage.recent().some((r) => r.id === id)) ? true : undefined), 5000, "four records");
  await t.gw.usageExport.flush();

  const lines = objectLines(s3.objects("evals")) as { id: string; operation: string; metadata: Record<string, string>; content?: { input: unknown; output?: unknown; parameters: Record<string, unknown> } }[];
  assert.equal(lines.length, 4);
  const [u, st, em, pr] = ids.map((id) => lines.find((l) => l.id === id)!);
  // What the model was sent: the guardrail's redaction is in it, not the address.
  assert.deepEqual(u.content, { input: [{ role: "user", content: "mail me at [REDACTED:email]" }], output: { role: "assistant", content: answer }, parameters: { temperature: 0.5 } });
  assert.deepEqual(st.content?.output, { role: "assistant", content: text });
  assert.equal(em.content, undefined, "embeddings carry no content");
  assert.equal(pr.content, undefined, "no-log");
  assert.equal(pr.metadata.no_log, "true");
  assert.ok(!JSON.stringify(lines).includes("jane@example.com"));

  assert.equal(sink.lines.length, 4);
  assert.ok(sink.lines.every((l) => !("content" in l)), "an export without capture_content sends no text");
});

test("a search's line carries the queries as searched (redacted) and the pages found", async () => {
  const res = await post("/v1/search", { query: ["who is jane@example.com", "second"], max_results: 1 });
  assert.equal(res.status, 200);
  const id = res.headers.get("x-request-id")!;
  await poll(async () => (t.usage.recent().some((r) => r.id === id) ? true : undefined), 5000, "the record");
  await t.gw.usageExport.flush();
  const line = (objectLines(s3.objects("evals")) as { id: string; operation: string; content?: { input: { role: string; content: string }[]; output: { content: string } } }[]).find((l) => l.id === id)!;
  assert.equal(line.operation, "OPERATION_SEARCH");
  assert.deepEqual(line.content?.input, [{ role: "user", content: "who is [REDACTED:email]\nsecond" }]);
  assert.match(line.content!.output.content, /^\[1\] Mock result 1 for "who is \[REDACTED:email\]"\nhttps:\/\/who-is-redacted-email-1\.example\.com\/\n.*\n\n\[2\] Mock result 1 for "second"/s);
  assert.ok(!sink.lines.some((l) => "content" in l));
});

test("an OCR's line names the document (never its bytes) and carries the pages as they left (redacted)", async () => {
  const pdf = makePdf(["Write to jane@example.com", "Page two"]);
  const res = await post("/v1/ocr", { document: { type: "document_url", document_url: `data:application/pdf;base64,${pdf.toString("base64")}`, document_name: "letter.pdf" } });
  assert.equal(res.status, 200);
  const id = res.headers.get("x-request-id")!;
  await poll(async () => (t.usage.recent().some((r) => r.id === id) ? true : undefined), 5000, "the record");
  await t.gw.usageExport.flush();
  const line = (objectLines(s3.objects("evals")) as { id: string; operation: string; content?: { input: { role: string; content: string }[]; output: { content: string } } }[]).find((l) => l.id === id)!;
  assert.equal(line.operation, "OPERATION_OCR");
  assert.deepEqual(line.content?.input, [{ role: "user", content: `[document] letter.pdf (application/pdf, ${pdf.length} bytes)` }]);
  assert.equal(line.content!.output.content, "<!-- page 1 -->\nWrite to [REDACTED:email]\n\n<!-- page 2 -->\nPage two");
});

test("capture_content goes with any type; max_content_chars only with it", () => {
  const base = { providers: [{ name: "mock", type: "mock" }], deployments: [{ id: "mock/a", provider: "mock", model: "m" }] };
  const ok = buildConfig({ ...base, usage_export: [{ name: "h", type: "http", url: "http://127.0.0.1:1/", capture_content: true }] }, {});
  assert.equal(ok.usageExport![0].captureContent, true);
  assert.equal(ok.usageExport![0].maxContentChars, 100_000);
  assert.throws(
    () => buildConfig({ ...base, usage_export: [{ name: "h", type: "http", url: "http://127.0.0.1:1/", max_content_chars: 500 }] }, {}),
    (e: unknown) => e instanceof ConfigError && e.message.includes("usage_export[0].max_content_chars"),
  );
});

test("captured content waiting is bounded: past 20 million characters the oldest batches go, counted", async () => {
  const cfgs = buildConfig(
    { providers: [{ name: "mock", type: "mock" }], deployments: [{ id: "mock/a", provider: "mock", model: "m" }], usage_export: [{ name: "down", type: "http", url: "http://127.0.0.1:9/", capture_content: true, flush_seconds: 3600 }] },
    {},
  ).usageExport!;
  const ex = createUsageExport({ exports: () => cfgs, retryDelaysMs: [] });
  const sink = ex.sink(createMemoryUsageSink());
  const r = rng(7);
  // 3 million characters each: a batch is sealed (and tried) every two records, 6 million.
  const big = { input: [], parameters: {}, chars: 3_000_000 };
  for (let i = 0; i < 10; i++) sink.record(makeRecord(r, { time: Date.now() }), big);
  await poll(async () => (ex.stats()[0].dropped > 0 ? true : undefined), 5000, "records dropped");
  const st = ex.stats()[0];
  // What is kept: the batch being tried and the newest that fit, at most 20 million characters beside it.
  assert.ok(st.buffered <= 8 && st.buffered + st.dropped === 10, JSON.stringify(st));
  await poll(async () => (ex.stats()[0].failing ? true : undefined), 5000, "the failed send");
  await ex.close();
});
