// The Redis usage store when Redis misbehaves: killed mid-way (records wait and all arrive), a
// buffer too small for the outage (the overflow is counted exactly and persisted), a batch whose
// reply is lost (not counted twice), a key Redis refuses (the batch is counted as dropped).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Redis } from "ioredis";
import type { UsageRecord } from "../../src/usage/record.ts";
import { createRedisUsageStore, type RedisUsageStoreOptions } from "../../src/usage/redis-store.ts";
import { connectRedis, createRedisClient } from "../../src/state/redis.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { HOUR, makeRecord, rng } from "./fixtures.ts";

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

let n = 0;
const clients: Redis[] = [];
async function open(opts: RedisUsageStoreOptions = {}) {
  const client = createRedisClient(redis.url);
  clients.push(client);
  assert.ok(await connectRedis(client), "test redis reachable");
  const store = createRedisUsageStore(client, { prefix: `sbx:usage:{outage${++n}}`, flushEveryMs: 10, retryEveryMs: 50, flushTimeoutMs: 5_000, ...opts });
  return { client, store };
}
after(() => Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect()))));

async function until(cond: () => boolean, ms = 3_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const hourNow = () => Math.floor(Date.now() / HOUR) * HOUR;
const r = rng(99);
const make = (time: number) => makeRecord(r, { time, cost: 1_000_000_007 });
const totalQuery = (start: number, end: number) => ({ start, end, granularity: "total" as const, groupBy: [], filters: [] });

test("Redis killed mid-way: records wait in the buffer, record() never waits, and every one arrives", async () => {
  const { store } = await open();
  const h = hourNow() - 3 * HOUR;
  for (let i = 0; i < 200; i++) store.record(make(h + i));
  await store.flush();
  assert.equal((await store.query(totalQuery(h, h + HOUR))).rows[0].requests, 200);

  await redis.stop();
  const during: UsageRecord[] = Array.from({ length: 800 }, (_, i) => make(h + HOUR + i * 1000));
  const t0 = performance.now();
  for (const x of during) store.record(x);
  assert.ok(performance.now() - t0 < 100, "record() returns at once while Redis is down");
  await until(() => store.degraded);
  assert.deepEqual(store.stats(), { buffered: 800, written: 200, dropped: 0 });
  await assert.rejects(store.query(totalQuery(h, h + HOUR)), (e: Error & { code?: string }) => e.code === "unavailable");

  await redis.restart();
  await store.flush();
  assert.deepEqual(store.stats(), { buffered: 0, written: 1000, dropped: 0 });
  assert.equal(store.degraded, false);
  // The test redis keeps nothing across a restart: what it holds now is exactly the 800 recorded
  // while it was down, each once.
  const res = await store.query({ ...totalQuery(h, h + 2 * HOUR), granularity: "hour" });
  assert.deepEqual(
    res.rows.map((row) => [row.bucketStart, row.requests]),
    [[h + HOUR, 800]],
  );
  assert.equal(res.rows[0].cost.total, 800n * 1_000_000_007n);
  assert.equal(res.dropped, 0);
  assert.equal(res.droppedTotal, 0);
  const listed = await store.list({ filters: [], pageSize: 1000 });
  assert.deepEqual(
    listed.records.map((x) => x.id),
    during.map((x) => x.id).reverse(),
  );
  await store.close();
});

test("a buffer too small for the outage: dropped counts exactly the overflow, per hour, persisted for every replica", async () => {
  const { store } = await open({ maxBuffered: 50 });
  const a = hourNow() - 6 * HOUR;
  const b = a + HOUR;
  await redis.stop();
  for (let i = 0; i < 60; i++) store.record(make(a + i));
  for (let i = 0; i < 60; i++) store.record(make(b + i));
  assert.deepEqual(store.stats(), { buffered: 50, written: 0, dropped: 70 });
  await redis.restart();
  await store.flush();
  assert.deepEqual(store.stats(), { buffered: 0, written: 50, dropped: 70 });
  const both = await store.query(totalQuery(a, b + HOUR));
  assert.equal(both.rows[0].requests, 50);
  assert.equal(both.dropped, 70, "dropped in the range");
  assert.equal(both.droppedTotal, 70);
  const onlyA = await store.query(totalQuery(a, a + HOUR));
  assert.equal(onlyA.dropped, 10, "10 of hour A did not fit");
  const onlyB = await store.query(totalQuery(b, b + HOUR));
  assert.deepEqual(onlyB.rows, []);
  assert.equal(onlyB.dropped, 60, "none of hour B fit");
  // Another replica on the same keys sees the same figures.
  const c2 = createRedisClient(redis.url);
  clients.push(c2);
  assert.ok(await connectRedis(c2));
  const other = createRedisUsageStore(c2, { prefix: `sbx:usage:{outage${n}}` });
  const seen = await other.query(totalQuery(a, b + HOUR));
  assert.equal(seen.dropped, 70);
  assert.equal(seen.rows[0].requests, 50);
  await other.close();
  await store.close();
});

test("a batch whose reply was lost is sent again and counted once", async () => {
  const { client, store } = await open();
  const cmd = client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const original = cmd.sbxUsageApply.bind(client);
  let lost = 0;
  cmd.sbxUsageApply = async (...args: unknown[]) => {
    const res = await original(...args);
    if (lost++ === 0) throw new Error("Connection is closed."); // applied, but the reply never came
    return res;
  };
  const h = hourNow() - HOUR;
  for (let i = 0; i < 100; i++) store.record(make(h + i));
  await store.flush();
  assert.ok(lost >= 2, "the batch was sent again");
  assert.deepEqual(store.stats(), { buffered: 0, written: 100, dropped: 0 });
  const res = await store.query(totalQuery(h, h + HOUR));
  assert.equal(res.rows[0].requests, 100);
  assert.equal(res.rows[0].cost.total, 100n * 1_000_000_007n);
  assert.equal((await store.list({ filters: [], pageSize: 1000 })).records.length, 100);
  await store.close();
});

test("a key Redis refuses: the batch is counted as dropped and reported, later batches still land", async () => {
  const errors: string[] = [];
  const { client, store } = await open({ onError: (m) => errors.push(m) });
  const h = hourNow() - 2 * HOUR;
  await client.set(`sbx:usage:{outage${n}}:h:${h}`, "not a hash");
  for (let i = 0; i < 10; i++) store.record(make(h + i));
  await store.flush();
  assert.deepEqual(store.stats(), { buffered: 0, written: 0, dropped: 10 });
  assert.match(errors[0], /batch of 10 records was refused/);
  for (let i = 0; i < 5; i++) store.record(make(h + HOUR + i));
  await store.flush();
  assert.deepEqual(store.stats(), { buffered: 0, written: 5, dropped: 10 });
  const res = await store.query(totalQuery(h + HOUR, h + 2 * HOUR));
  assert.equal(res.rows[0].requests, 5);
  assert.equal(res.droppedTotal, 10, "the refused records are in the persisted total");
  await store.close();
});
