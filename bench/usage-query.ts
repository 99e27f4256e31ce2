// `node bench/usage-query.ts`: query time of both usage stores over 100,000 records spread over
// 30 days (a private redis-server for the Redis store). Prints record() cost, write (flush) time
// and GetUsage-style query times: 30 days at day granularity (ungrouped and grouped), total, and
// two days at hour granularity.
//
// Env: USAGE_BENCH_RECORDS (default 100000), USAGE_BENCH_CARDINALITY=high|low (default high: the
// test fixtures' random dimensions, almost every record its own tuple per day; low: 40 tuples).

import { connectRedis, createRedisClient } from "../src/state/redis.ts";
import { createMemoryUsageStore } from "../src/usage/memory-store.ts";
import { createRedisUsageStore } from "../src/usage/redis-store.ts";
import type { UsageRecord } from "../src/usage/record.ts";
import type { UsageQuery, UsageStore } from "../src/usage/store.ts";
import { startRedis } from "../test/helpers/redis.ts";
import { DAY, makeRecord, rng } from "../test/usage/fixtures.ts";

const N = Number(process.env.USAGE_BENCH_RECORDS ?? 100_000);
const LOW = process.env.USAGE_BENCH_CARDINALITY === "low";

const now = Date.now();
const start = Math.floor(now / DAY) * DAY - 29 * DAY;
const r = rng(1);
const records: UsageRecord[] = [];
for (let i = 0; i < N; i++) {
  const rec = makeRecord(r, { time: start + Math.floor((i / N) * (now - start - 1000)), cost: r.int(1e6, 1e9) });
  if (LOW) {
    rec.user = "";
    rec.routing.variant = "";
    rec.tags = i % 2 ? ["batch"] : [];
    rec.status = i % 10 ? "ok" : "unavailable";
  }
  records.push(rec);
}

const queries: [string, UsageQuery][] = [
  ["30 days, day granularity", { start, end: now, granularity: "day", groupBy: [], filters: [] }],
  ["30 days, day granularity, by team+deployment", { start, end: now, granularity: "day", groupBy: ["team", "deployment"], filters: [] }],
  ["30 days, total, by tag, team filter", { start, end: now, granularity: "total", groupBy: ["tag"], filters: [{ dimension: "team", values: ["red"] }] }],
  ["2 days, hour granularity", { start: now - 2 * DAY, end: now, granularity: "hour", groupBy: [], filters: [] }],
];

async function bench(name: string, store: UsageStore) {
  let t = performance.now();
  for (const rec of records) store.record(rec);
  const recordUs = ((performance.now() - t) * 1000) / N;
  t = performance.now();
  await store.flush();
  const flushMs = performance.now() - t;
  console.log(`${name}: record() ${recordUs.toFixed(2)} µs each; flush ${flushMs.toFixed(0)} ms; ${JSON.stringify(store.stats())}`);
  for (const [label, q] of queries) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      rows = (await store.query(q)).rows.length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`  ${label}: median ${times[2].toFixed(1)} ms, min ${times[0].toFixed(1)} ms, max ${times[4].toFixed(1)} ms (${rows} rows)`);
  }
  t = performance.now();
  const page = await store.list({ filters: [{ dimension: "key", values: ["k-delta"] }], pageSize: 100 });
  console.log(`  list 100 of one key: ${(performance.now() - t).toFixed(1)} ms (${page.records.length} records)`);
}

await bench("memory", createMemoryUsageStore({ logCapacity: 10_000 }));
const redis = await startRedis();
try {
  const client = createRedisClient(redis.url);
  await connectRedis(client);
  const store = createRedisUsageStore(client, { flushTimeoutMs: 60_000 });
  await bench("redis", store);
  await store.close();
  await client.quit();
} finally {
  await redis.stop();
}
