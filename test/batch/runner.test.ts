// The batch runner on its own (a real gateway's engine, a store of its own): a runner stopped
// mid-batch leaves it to another, which finishes it from the first unfinished line with no line
// answered twice; a batch past its window expires with the unrun lines in the error file; a key
// revoked mid-batch fails the rest as unauthenticated.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { bodyOf, createBatchRunner, parseInput } from "../../src/batch/runner.ts";
import { createMemoryBatchStore, newBatchId, newFileId, type BatchRecord, type BatchStore } from "../../src/batch/store.ts";
import type { Caller } from "../../src/router/types.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let t: TestGateway;
const OWNER: Caller = { keyName: "anonymous", team: "default", role: "anonymous", allow: [] };

before(async () => {
  t = await startTestGateway(`
providers:
  - { name: slow, type: mock, mock: { ttft_ms: 40 } }
deployments:
  - { id: slow/chat, provider: slow, model: mock-chat }
routes:
  - { name: slow, targets: [slow/chat] }
`);
});
after(async () => {
  await t.close();
});

const secs = (ms: number) => Math.floor(ms / 1000);

async function seed(store: BatchStore, n: number, expiresInMs = 86_400_000): Promise<BatchRecord> {
  const content = Buffer.from(
    Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `l${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "slow", messages: [{ role: "user", content: `Say ${i}` }] } })).join("\n"),
  );
  const owner = { key: OWNER.keyName, team: OWNER.team };
  const fileId = newFileId();
  await store.putFile({ id: fileId, object: "file", bytes: content.length, created_at: secs(Date.now()), filename: "in.jsonl", purpose: "batch", status: "processed", owner }, content);
  const now = Date.now();
  const b: BatchRecord = {
    id: newBatchId(),
    object: "batch",
    endpoint: "/v1/chat/completions",
    input_file_id: fileId,
    completion_window: "24h",
    status: "validating",
    created_at: secs(now),
    expires_at: (now + expiresInMs) / 1000,
    request_counts: { total: 0, completed: 0, failed: 0 },
    metadata: null,
    usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
    cost_nano_usd: 0,
    owner,
  };
  await store.createBatch(b);
  return b;
}

const runner = (store: BatchStore, callerOf: (name: string) => Caller | undefined = () => OWNER) =>
  createBatchRunner({ store, engine: t.gw.engine, core: () => t.gw.core, callerOf, concurrency: 3, pollMs: 50, flushMs: 20 });

async function outputIds(store: BatchStore, b: BatchRecord) {
  const read = async (id?: string) => (id ? (await store.fileContent(id))!.toString("utf8").trim().split("\n").map((l) => JSON.parse(l)) : []);
  return { out: await read(b.output_file_id), err: await read(b.error_file_id) };
}

test("a runner stopped mid-batch leaves it to another, which answers only the lines not yet answered", async () => {
  const store = createMemoryBatchStore();
  const b = await seed(store, 30);
  const first = runner(store);
  first.kick();
  for (let i = 0; i < 200 && ((await store.getBatch(b.id))!.request_counts.completed < 6); i++) await new Promise((r) => setTimeout(r, 20));
  // Cut at once: the lines under way are dropped, not answered.
  await first.stop(0);
  const mid = (await store.getBatch(b.id))!;
  assert.equal(mid.status, "in_progress");
  const before = (await store.results(b.id)).length;
  assert.ok(before >= 6 && before < 30, `finished ${before}`);

  const second = runner(store);
  second.kick();
  let end = mid;
  for (let i = 0; i < 400 && end.status !== "completed"; i++) {
    await new Promise((r) => setTimeout(r, 20));
    end = (await store.getBatch(b.id))!;
  }
  await second.stop();
  assert.equal(end.status, "completed");
  assert.deepEqual(end.request_counts, { total: 30, completed: 30, failed: 0 });
  const { out } = await outputIds(store, end);
  assert.deepEqual(out.map((l) => l.custom_id).sort(), Array.from({ length: 30 }, (_, i) => `l${i}`).sort());
  // Every line has exactly one answered record; the lines cut by the stop were recorded as canceled.
  await t.gw.core.usage.flush();
  const recs = t.usage.recent().filter((r: UsageRecord) => r.metadata.batch_id === b.id);
  const ok = new Map<string, number>();
  for (const r of recs) if (r.status === "ok") ok.set(r.metadata.batch_custom_id, (ok.get(r.metadata.batch_custom_id) ?? 0) + 1);
  assert.equal(ok.size, 30);
  assert.ok([...ok.values()].every((n) => n === 1), "no line was answered twice");
  assert.deepEqual(
    out.map((l) => l.response.request_id).sort(),
    recs.filter((r) => r.status === "ok").map((r) => r.id).sort(),
  );
});

test("a batch past its window expires: what ran stays, the rest is in the error file as expired", async () => {
  const store = createMemoryBatchStore();
  const b = await seed(store, 60, 400);
  const r = runner(store);
  r.kick();
  let end = b;
  for (let i = 0; i < 400 && end.status !== "expired"; i++) {
    await new Promise((res) => setTimeout(res, 20));
    end = (await store.getBatch(b.id))!;
  }
  await r.stop();
  assert.equal(end.status, "expired");
  assert.ok(end.expired_at);
  const { out, err } = await outputIds(store, end);
  assert.ok(out.length > 0 && out.length < 60, `answered ${out.length}`);
  assert.equal(out.length + err.length, 60);
  assert.ok(err.every((l) => l.error.code === "batch_expired" && l.response === null));
  assert.deepEqual(end.request_counts, { total: 60, completed: out.length, failed: err.length });
});

test("a key revoked while its batch runs: the remaining lines fail as unauthenticated", async () => {
  const store = createMemoryBatchStore();
  const b = await seed(store, 12);
  let revoked = false;
  const r = runner(store, () => (revoked ? undefined : OWNER));
  r.kick();
  for (let i = 0; i < 200 && ((await store.getBatch(b.id))!.request_counts.completed < 3); i++) await new Promise((res) => setTimeout(res, 10));
  revoked = true;
  let end = b;
  for (let i = 0; i < 400 && end.status !== "completed"; i++) {
    await new Promise((res) => setTimeout(res, 20));
    end = (await store.getBatch(b.id))!;
  }
  await r.stop();
  assert.equal(end.status, "completed");
  const { out, err } = await outputIds(store, end);
  assert.ok(out.length >= 3 && err.length > 0, `${out.length} answered, ${err.length} refused`);
  assert.ok(err.every((l) => l.response.status_code === 401 && /revoked, expired or removed/.test(l.response.body.error.message)));
});

test("a batch the store keeps refusing fails after a few tries, saying why, and the batch behind it runs", async () => {
  const inner = createMemoryBatchStore();
  const poisoned = await seed(inner, 3);
  await new Promise((r) => setTimeout(r, 5));
  const next = await seed(inner, 3);
  // A store that refuses every result of the first batch (as PostgreSQL would a value it cannot hold).
  const store: BatchStore = { ...inner, addResults: (id, rs) => (id === poisoned.id ? Promise.reject(new Error("invalid byte sequence")) : inner.addResults(id, rs)) };
  const r = runner(store);
  r.kick();
  let a = poisoned;
  let b = next;
  for (let i = 0; i < 400 && (a.status !== "failed" || b.status !== "completed"); i++) {
    await new Promise((res) => setTimeout(res, 25));
    r.kick();
    a = (await store.getBatch(poisoned.id))!;
    b = (await store.getBatch(next.id))!;
  }
  await r.stop();
  assert.equal(a.status, "failed");
  assert.deepEqual(a.errors?.data.map((e) => [e.code, e.message]), [["store_error", "the batch could not be kept: invalid byte sequence"]]);
  assert.equal(b.status, "completed");
  assert.deepEqual(b.request_counts, { total: 3, completed: 3, failed: 0 });
});

test("a short batch is not held up by a long one ahead of it: batches share the replica's line slots", async () => {
  const store = createMemoryBatchStore();
  const seeded = await seed(store, 40);
  // Older by a minute: the long batch is the one taken first.
  const long = (await store.updateBatch(seeded.id, ["validating"], { ...seeded, created_at: seeded.created_at - 60 }))!;
  const short = await seed(store, 2);
  const r = createBatchRunner({ store, engine: t.gw.engine, core: () => t.gw.core, callerOf: () => OWNER, concurrency: 2, parallel: 2, pollMs: 50, flushMs: 20 });
  r.kick();
  let s = short;
  for (let i = 0; i < 400 && s.status !== "completed"; i++) {
    await new Promise((res) => setTimeout(res, 20));
    s = (await store.getBatch(short.id))!;
  }
  const l = (await store.getBatch(long.id))!;
  assert.equal(s.status, "completed");
  assert.equal(l.status, "in_progress", "the long batch was still running when the short one ended");
  await r.idle();
  const end = (await store.getBatch(long.id))!;
  await r.stop();
  assert.equal(end.status, "completed");
  assert.deepEqual(end.request_counts, { total: 40, completed: 40, failed: 0 });
});

test("parseInput: blank lines skipped, line numbers are the file's", () => {
  const ok = JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/embeddings", body: { model: "m", input: "x" } });
  const p = parseInput(Buffer.from(`\n${ok}\n\n${ok.replace('"a"', '"b"')}\n`), "/v1/embeddings");
  assert.deepEqual(
    p.lines.map((l) => [l.line, l.customId]),
    [
      [2, "a"],
      [4, "b"],
    ],
  );
  assert.deepEqual(parseInput(Buffer.from("\n\n"), "/v1/embeddings").errors.map((e) => e.code), ["empty_file"]);
  // CRLF line ends, no newline at the end, non-ASCII text: each line's body read back from its bytes.
  const crlf = parseInput(Buffer.from(`${ok}\r\n${ok.replace('"a"', '"b"').replace('"x"', '"été ✓"')}`), "/v1/embeddings");
  assert.deepEqual(crlf.errors, []);
  assert.deepEqual(crlf.lines.map((l) => [l.line, l.customId, bodyOf(l).input]), [
    [1, "a", "x"],
    [2, "b", "été ✓"],
  ]);
});
