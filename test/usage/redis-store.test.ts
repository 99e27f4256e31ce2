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

test("tuples stored before the operation was a dimension read as operation \"\" (chat and embeddings together)", async () => {
  const client = createRedisClient(redis.url);
  assert.ok(await connectRedis(client));
  const prefix = "sbx:usage:{legacy}";
  const writer = createRedisUsageStore(client, { prefix });
  const t = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const r = rng(9);
  writer.record({ ...makeRecord(r, { time: t, key: "k-alpha" }), operation: "embeddings" });
  writer.record({ ...makeRecord(r, { time: t + 1, key: "k-beta" }), operation: "chat" });
  await writer.flush();
  await writer.close();
  // Rewrite the k-alpha tuple as an older gateway stored it: nine elements, no operation.
  const day = Math.floor(t / DAY) * DAY;
  const tuples = await client.hgetall(`${prefix}:t:${day}`);
  const [id, json] = Object.entries(tuples).find(([, v]) => JSON.parse(v)[0] === "k-alpha")!;
  assert.equal(JSON.parse(json).length, 10);
  assert.equal(JSON.parse(json)[9], "embeddings");
  await client.hset(`${prefix}:t:${day}`, id, JSON.stringify(JSON.parse(json).slice(0, 9)));
  const reader = createRedisUsageStore(client, { prefix });
  const res = await reader.query({ start: t, end: t + HOUR, granularity: "total", groupBy: ["key", "operation"], filters: [] });
  assert.deepEqual(
    res.rows.map((x) => x.group).sort((a, b) => String(a.key).localeCompare(String(b.key))),
    [
      { key: "k-alpha", operation: "" },
      { key: "k-beta", operation: "chat" },
    ],
  );
  const chat = await reader.query({ start: t, end: t + HOUR, granularity: "total", groupBy: [], filters: [{ dimension: "operation", values: ["chat"] }] });
  assert.equal(chat.rows[0].requests, 1);
  await reader.close();
  await client.quit();
});
