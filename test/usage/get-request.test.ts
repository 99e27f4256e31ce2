// GetRequest on the stores that keep a recent log (memory and Redis): get() by request id or trace
// id within the caller's filters, and list() by trace id. The PostgreSQL store's own lookups are in
// postgres-store.test.ts.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createMemoryUsageStore } from "../../src/usage/memory-store.ts";
import { createRedisUsageStore } from "../../src/usage/redis-store.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import type { UsageStore } from "../../src/usage/store.ts";
import { connectRedis, createRedisClient } from "../../src/state/redis.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { makeRecord, rng } from "./fixtures.ts";

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

async function check(store: UsageStore) {
  const r = rng(4);
  const t0 = Date.now() - 3_600_000;
  // 2,500 records: a lookup pages through the log (1,000 per page) to the oldest.
  const recs: UsageRecord[] = Array.from({ length: 2500 }, (_, i) => makeRecord(r, { time: t0 + i }));
  const trace = "cd".repeat(16);
  for (const i of [3, 1700, 2100]) recs[i].traceId = trace;
  for (const x of recs) store.record(x);
  await store.flush();
  const strip = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
  assert.deepEqual(strip(await store.get({ id: recs[0].id, filters: [] })), strip(recs[0]), "the oldest, by id");
  assert.equal((await store.get({ id: recs[2499].id, filters: [] }))?.id, recs[2499].id);
  assert.equal(await store.get({ id: "req_none", filters: [] }), undefined);
  assert.equal((await store.get({ traceId: trace, filters: [] }))?.id, recs[2100].id, "the newest of the trace");
  const listed = await store.list({ filters: [], traceId: trace });
  assert.deepEqual(
    listed.records.map((x) => x.id),
    [recs[2100].id, recs[1700].id, recs[3].id],
  );
  // Within the filters: another team's record is not there.
  const rec = recs[42];
  const other = rec.team === "red" ? "blue" : "red";
  assert.equal((await store.get({ id: rec.id, filters: [{ dimension: "team", values: [rec.team] }] }))?.id, rec.id);
  assert.equal(await store.get({ id: rec.id, filters: [{ dimension: "team", values: [other] }] }), undefined);
  assert.equal(await store.get({ id: rec.id, filters: [{ dimension: "key", values: [rec.key] }, { dimension: "team", values: [rec.team] }] }).then((x) => x?.key), rec.key);
}

test("memory store: get by id and by trace id, list by trace id", async () => {
  const store = createMemoryUsageStore();
  await check(store);
  await store.close();
});

test("redis store: get by id and by trace id (a scan of the recent log), list by trace id", async () => {
  const client = createRedisClient(redis.url);
  assert.ok(await connectRedis(client));
  const store = createRedisUsageStore(client, { prefix: "sbx:usage:{get}", flushEveryMs: 10 });
  try {
    await check(store);
  } finally {
    await store.close();
    await client.quit();
  }
});
