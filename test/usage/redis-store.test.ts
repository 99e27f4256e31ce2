// The usage query suite against the Redis store, on a private redis-server.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Redis } from "ioredis";
import { createRedisUsageStore } from "../../src/usage/redis-store.ts";
import type { UsageStore } from "../../src/usage/store.ts";
import { connectRedis, createRedisClient } from "../../src/state/redis.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { DAY, HOUR, makeRecord, rng } from "./fixtures.ts";
import { storeSuite } from "./suite.ts";

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

const clients = new Map<UsageStore, Redis>();
let n = 0;

storeSuite("redis usage store", {
  async open() {
    const client = createRedisClient(redis.url);
    if (!(await connectRedis(client))) throw new Error("test redis not reachable");
    const store = createRedisUsageStore(client, { prefix: `sbx:usage:{suite${++n}}`, hourRetentionMs: 60 * DAY, logMax: 20_000, flushEveryMs: 20 });
    clients.set(store, client);
    return store;
  },
  async close(store) {
    await store.close();
    await clients.get(store)?.quit();
  },
});

test("list: records pushed while a page is being read are neither returned twice nor skipped", async () => {
  const client = createRedisClient(redis.url);
  const writer = createRedisClient(redis.url);
  assert.ok((await connectRedis(client)) && (await connectRedis(writer)));
  const prefix = "sbx:usage:{listrace}";
  const reader = createRedisUsageStore(client, { prefix });
  const other = createRedisUsageStore(writer, { prefix, flushEveryMs: 1 });
  const r = rng(5);
  const t = Date.now() - HOUR;
  const old = Array.from({ length: 2500 }, (_, i) => makeRecord(r, { time: t + i, key: i % 500 === 0 ? "k-delta" : "k-alpha" }));
  for (const x of old) other.record(x);
  await other.flush();
  // Between the reader's chunks (1,000 entries each), another replica pushes 300 records.
  const lrange = client.lrange.bind(client);
  let calls = 0;
  (client as unknown as { lrange: typeof lrange }).lrange = (async (...a: Parameters<typeof lrange>) => {
    const res = await lrange(...a);
    if (calls++ === 0) {
      for (let i = 0; i < 300; i++) other.record(makeRecord(r, { time: t + 5000 + i, key: "k-alpha" }));
      await other.flush();
    }
    return res;
  }) as typeof lrange;
  const page = await reader.list({ filters: [{ dimension: "key", values: ["k-delta"] }], pageSize: 10 });
  assert.ok(calls >= 3, "several chunks were read");
  assert.deepEqual(
    page.records.map((x) => x.id),
    old
      .filter((x) => x.key === "k-delta")
      .reverse()
      .map((x) => x.id),
  );
  await reader.close();
  await other.close();
  await client.quit();
  await writer.quit();
});

test("a counter past 2^53 in one bucket is still summed exactly", async () => {
  const client = createRedisClient(redis.url);
  assert.ok(await connectRedis(client));
  const prefix = "sbx:usage:{big}";
  const store = createRedisUsageStore(client, { prefix });
  const t = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  store.record(makeRecord(rng(1), { time: t, cost: 1_000_000_000_001 }));
  await store.flush();
  const [field] = (await client.hkeys(`${prefix}:h:${t}`)).filter((f) => f.startsWith("ct|"));
  const big = 2n ** 60n + 3n;
  await client.hincrby(`${prefix}:h:${t}`, field, big.toString());
  const res = await store.query({ start: t, end: t + HOUR, granularity: "hour", groupBy: [], filters: [] });
  assert.equal(res.rows[0].cost.total, big + 1_000_000_000_001n);
  await store.close();
  await client.quit();
});
