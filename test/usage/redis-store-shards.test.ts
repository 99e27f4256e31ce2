// The Redis usage store with its keys spread over 16 shards (what the gateway uses on a Redis
// Cluster), on one private redis-server: the same answers as the reference, the shard logs
// merged page by page with every record exactly once, and batches that land per shard (a lost
// reply, a refused shard) counted exactly once.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { GatewayError } from "../../src/router/errors.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { createRedisUsageStore, type RedisUsageStoreOptions } from "../../src/usage/redis-store.ts";
import type { ListQuery, UsageQuery } from "../../src/usage/store.ts";
import { closeRedis, connectRedis, createRedisClient, type RedisClient } from "../../src/state/redis.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { DAY, HOUR, makeRecord, plain, reference, rng } from "./fixtures.ts";

const SHARDS = 16;
let redis: TestRedis;
const clients: RedisClient[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(clients.map(closeRedis));
  await redis.stop();
});

let n = 0;
async function open(opts: RedisUsageStoreOptions = {}) {
  const client = createRedisClient(redis.url);
  clients.push(client);
  assert.ok(await connectRedis(client));
  const prefix = `sbx:usage:{shards${++n}}`;
  /** A KEYS pattern for every key of this store, on every shard: {shardsN:0} ... {shardsN:15}. */
  const pattern = (rest = "") => `sbx:usage:{shards${n}:*}${rest}`;
  const store = createRedisUsageStore(client, { prefix, shards: SHARDS, flushEveryMs: 10, retryEveryMs: 50, logMax: 20_000, hourRetentionMs: 60 * DAY, ...opts });
  return { client, store, prefix, pattern };
}

async function listAll(store: { list(q: ListQuery): Promise<{ records: UsageRecord[]; nextPageToken: string }> }, q: ListQuery): Promise<UsageRecord[]> {
  const out: UsageRecord[] = [];
  let pageToken: string | undefined;
  for (let i = 0; i < 10_000; i++) {
    const page = await store.list({ ...q, pageToken });
    out.push(...page.records);
    if (!page.nextPageToken) return out;
    assert.equal(page.records.length, q.pageSize, "only the last page is short");
    pageToken = page.nextPageToken;
  }
  throw new Error("pagination does not end");
}

test("16 shards: queries agree with the reference; keys carry 16 hash tags", async () => {
  const { client, store } = await open();
  const r = rng(7);
  const now = Date.now();
  const base = Math.floor(now / DAY) * DAY - 20 * DAY;
  const records = Array.from({ length: 1500 }, () => makeRecord(r, { time: base + Math.floor(r.next() * (now - 60_000 - base)), cost: r.int(5e11, 1.5e12) }));
  for (const x of records) store.record(x);
  await store.flush();
  assert.deepEqual(store.stats(), { buffered: 0, written: records.length, dropped: 0 });
  const queries: UsageQuery[] = [
    { start: base, end: now + HOUR, granularity: "total", groupBy: [], filters: [] },
    { start: base, end: now, granularity: "day", groupBy: ["team", "status", "tag"], filters: [] },
    { start: base + 3 * DAY + 5 * HOUR, end: base + 5 * DAY, granularity: "hour", groupBy: ["deployment"], filters: [] },
    { start: base, end: now, granularity: "month", groupBy: ["key"], filters: [{ dimension: "team", values: ["red", "blue"] }] },
  ];
  for (const q of queries) assert.deepEqual((await store.query(q)).rows.map(plain), reference(records, q), JSON.stringify(q));
  const tags = new Set((await client.keys("sbx:usage:*")).map((k) => /\{([^}]*)\}/.exec(k)?.[1]).filter((t) => t?.startsWith(`shards${n}`)));
  assert.deepEqual(
    [...tags].sort(),
    Array.from({ length: SHARDS }, (_, s) => `shards${n}:${s}`).sort(),
    "every shard has keys, and nothing is left under the bare prefix",
  );
  await store.close();
});

test("16 shards: the merged log lists every record once, newest first, page by page, whatever is pushed meanwhile", async () => {
  const { store } = await open();
  const r = rng(11);
  const t0 = Date.now() - 2 * HOUR;
  // Recorded in time order, as a gateway does: the merged log is in time order too.
  const records = Array.from({ length: 700 }, (_, i) => makeRecord(r, { time: t0 + i * 1000 }));
  for (const x of records) store.record(x);
  await store.flush();
  const newestFirst = [...records].reverse();
  assert.deepEqual(
    (await listAll(store, { filters: [], pageSize: 37 })).map((x) => x.id),
    newestFirst.map((x) => x.id),
  );
  const red = await listAll(store, { filters: [{ dimension: "team", values: ["red"] }], pageSize: 10, start: t0 + 100_000, end: t0 + 500_000 });
  assert.deepEqual(
    red.map((x) => x.id),
    newestFirst.filter((x) => x.team === "red" && x.time >= t0 + 100_000 && x.time < t0 + 500_000).map((x) => x.id),
  );
  // Records pushed between pages are not returned by the pages that follow; nothing is skipped.
  const p1 = await store.list({ filters: [], pageSize: 100 });
  const fresh = Array.from({ length: 150 }, (_, i) => makeRecord(r, { time: t0 + 800_000 + i }));
  for (const x of fresh) store.record(x);
  await store.flush();
  const rest = await listAll(
    { list: (q) => store.list(q.pageToken ? q : { ...q, pageToken: p1.nextPageToken }) },
    { filters: [], pageSize: 100 },
  );
  assert.deepEqual(
    [...p1.records, ...rest].map((x) => x.id),
    newestFirst.map((x) => x.id),
  );
  assert.deepEqual(
    (await store.list({ filters: [], pageSize: 5 })).records.map((x) => x.id),
    [...fresh].reverse().slice(0, 5).map((x) => x.id),
  );
  // A token is for one query, and is checked.
  const invalid = (re: RegExp) => (err: unknown) => err instanceof GatewayError && err.code === "invalid_argument" && re.test(err.message);
  await assert.rejects(store.list({ filters: [{ dimension: "team", values: ["blue"] }], pageToken: p1.nextPageToken }), invalid(/different query/));
  for (const garbage of ["garbage", p1.nextPageToken.slice(0, -3), Buffer.from("u1.0000000000000000.5.00000000").toString("base64url")]) {
    await assert.rejects(store.list({ filters: [], pageToken: garbage }), invalid(/^page_token: malformed/), garbage);
  }
  await store.close();
});

test("16 shards: a lost reply on one shard is sent again and counted once; the other shards are not sent twice", async () => {
  const { client, store } = await open();
  const cmd = client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const original = cmd.sbxUsageApply.bind(client);
  let calls = 0;
  let lost = 0;
  cmd.sbxUsageApply = async (...args: unknown[]) => {
    calls++;
    const res = await original(...args);
    if (lost++ === 0) throw new Error("Connection is closed."); // applied, but the reply never came
    return res;
  };
  const h = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const r = rng(3);
  for (let i = 0; i < 200; i++) store.record(makeRecord(r, { time: h + i, cost: 1_000_000_007 }));
  await store.flush();
  assert.deepEqual(store.stats(), { buffered: 0, written: 200, dropped: 0 });
  assert.ok(calls > SHARDS / 2 && calls <= SHARDS + 1, `one call per shard part, plus the one resent (${calls})`);
  const res = await store.query({ start: h, end: h + HOUR, granularity: "total", groupBy: [], filters: [] });
  assert.equal(res.rows[0].requests, 200);
  assert.equal(res.rows[0].cost.total, 200n * 1_000_000_007n);
  assert.equal((await listAll(store, { filters: [], pageSize: 1000 })).length, 200);
  await store.close();
});

test("16 shards: a shard Redis refuses drops only its part; the rest lands and the drop is counted", async () => {
  const errors: string[] = [];
  const { client, store, pattern } = await open({ onError: (m) => errors.push(m) });
  const h = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
  const r = rng(5);
  const records = Array.from({ length: 300 }, (_, i) => makeRecord(r, { time: h + i }));
  // Find the shard of one of the hour hashes by writing once, then break that hash.
  for (const x of records.slice(0, 100)) store.record(x);
  await store.flush();
  const hourKeys = (await client.keys(pattern(`:h:${h}`))).sort();
  assert.ok(hourKeys.length > 1);
  await client.del(hourKeys[0]);
  await client.set(hourKeys[0], "not a hash");
  for (const x of records.slice(100)) store.record(x);
  await store.flush();
  const { written, dropped } = store.stats();
  assert.ok(dropped > 0 && dropped < 200, `only the refused shard's records are dropped (${dropped})`);
  assert.equal(written + dropped, 300);
  assert.match(errors[0], /records was refused by Redis and counted as dropped \(shard \d+\)/);
  // (The broken hash itself cannot be read: query another hour.)
  const res = await store.query({ start: h + HOUR, end: h + 2 * HOUR, granularity: "total", groupBy: [], filters: [] });
  assert.equal(res.droppedTotal, dropped, "the refused records are in the persisted total");
  await store.close();
});
