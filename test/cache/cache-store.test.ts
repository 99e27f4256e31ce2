// The cache key (normalisation) and the two stores, on their own: TTL, LRU bounds, and Redis
// going away (a miss, never an error).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cacheKey, canonicalJson, createMemoryCacheStore, createRedisCacheStore, rankingKey, type CachedAnswer, type CachedRanking } from "../../src/cache/cache.ts";
import { createRedisClient, connectRedis } from "../../src/state/redis.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

const answer = (text: string): CachedAnswer => ({
  deployment: "d",
  provider: "p",
  providerModel: "m",
  text,
  toolCalls: [],
  finishReason: "stop",
  rawFinishReason: "stop",
  usage: { inputTokens: 1, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
  storedAt: 0,
});

const base = {
  scope: "team-a",
  target: "chat",
  variant: "",
  request: { messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "hi" }] }], temperature: 0 },
};

test("canonical JSON sorts keys at every depth and encodes bytes", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson(new Uint8Array([1, 2, 3])), '{"$bytes":"AQID"}');
});

test("the key is the normalised request: order of keys and the end user do not matter; content, parameters, scope and model do", () => {
  const k = cacheKey(base);
  assert.equal(k, cacheKey({ ...base, request: { temperature: 0, messages: base.request.messages } }));
  assert.equal(k, cacheKey({ ...base, request: { ...base.request, user: "someone" } }));
  assert.notEqual(k, cacheKey({ ...base, request: { ...base.request, temperature: 0.5 } }));
  assert.notEqual(k, cacheKey({ ...base, request: { ...base.request, messages: [{ role: "user", content: [{ type: "text", text: "hi!" }] }] } }));
  assert.notEqual(k, cacheKey({ ...base, scope: "team-b" }));
  assert.notEqual(k, cacheKey({ ...base, target: "other-route" }));
  assert.notEqual(k, cacheKey({ ...base, variant: "b" }));
  assert.notEqual(k, cacheKey({ ...base, maxOutputTokens: 10 }));
  assert.match(k, /^[A-Za-z0-9_-]{43}$/);
});

test("memory store: TTL expiry on a clock, LRU eviction by entries", async () => {
  let now = 1_000_000;
  const s = createMemoryCacheStore({ maxEntries: 2, now: () => now });
  s.set("a", answer("A"), 10);
  assert.equal((await s.get("a"))?.text, "A");
  now += 9_999;
  assert.equal((await s.get("a"))?.text, "A");
  now += 1;
  assert.equal(await s.get("a"), undefined, "expired at exactly the TTL");
  s.set("x", answer("X"), 60);
  s.set("y", answer("Y"), 60);
  await s.get("x"); // x is now the most recent
  s.set("z", answer("Z"), 60);
  assert.equal(s.size(), 2);
  assert.equal(await s.get("y"), undefined, "the least recently used went");
  assert.equal((await s.get("x"))?.text, "X");
  assert.equal((await s.get("z"))?.text, "Z");
});

test("memory store: bounded by bytes", async () => {
  const s = createMemoryCacheStore({ maxBytes: 10_000 });
  for (let i = 0; i < 10; i++) s.set(`k${i}`, answer("x".repeat(2_000)), 60);
  assert.ok(s.size() <= 2, `kept ${s.size()}`);
  assert.equal((await s.get("k9"))?.text.length, 2_000);
});

const ranking = (results: [number, number][]): CachedRanking => ({
  deployment: "cohere/rerank",
  provider: "cohere",
  providerModel: "rerank-v3.5",
  results: results.map(([index, score]) => ({ index, score })),
  usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, searchUnits: 1 },
  storedAt: 1,
});

test("ranking keys: the whole request, texts length-framed, apart from the answer and vector keys", () => {
  const base = { scope: "a", target: "rerank\nid", variant: "", query: "q", documents: ["ab", "c"], topN: 2 };
  const k = rankingKey(base);
  assert.equal(k, rankingKey({ ...base, documents: ["ab", "c"] }), "same request, same key");
  for (const other of [
    { ...base, scope: "b" },
    { ...base, target: "rerank\nid2" },
    { ...base, variant: "v" },
    { ...base, query: "Q" },
    { ...base, documents: ["c", "ab"] },
    { ...base, documents: ["a", "bc"] },
    { ...base, topN: undefined },
    { ...base, maxTokensPerDoc: 512 },
  ]) {
    assert.notEqual(rankingKey(other), k, JSON.stringify(other));
  }
});

test("rankings in the memory and Redis stores: stored whole, with a TTL", async () => {
  let now = 0;
  const m = createMemoryCacheStore({ now: () => now });
  m.setRanking("r", ranking([[1, 0.9], [0, 0.2]]), 5);
  assert.deepEqual((await m.getRanking("r"))?.results, [{ index: 1, score: 0.9 }, { index: 0, score: 0.2 }]);
  now += 5_000;
  assert.equal(await m.getRanking("r"), undefined, "expired");

  const client = createRedisClient(redis.url);
  await connectRedis(client);
  const s = createRedisCacheStore(client);
  s.setRanking("r", ranking([[2, 0.123456789], [0, 1e-7]]), 2);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await s.getRanking("r"), ranking([[2, 0.123456789], [0, 1e-7]]), "scores come back exactly");
  const ttl = await client.pttl("sbx:cache:r");
  assert.ok(ttl > 0 && ttl <= 2000, `pttl ${ttl}`);
  client.disconnect();
});

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

test("redis store: stores with a TTL, and a lookup with Redis gone is a quick miss", async () => {
  const client = createRedisClient(redis.url);
  await connectRedis(client);
  const errors: unknown[] = [];
  const s = createRedisCacheStore(client, { onError: (e) => errors.push(e) });
  s.set("k", answer("from redis"), 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await s.get("k"))?.text, "from redis");
  const ttl = await client.pttl("sbx:cache:k");
  assert.ok(ttl > 0 && ttl <= 1000, `pttl ${ttl}`);
  assert.equal(await s.get("missing"), undefined);

  await redis.stop();
  const started = performance.now();
  assert.equal(await s.get("k"), undefined);
  assert.ok(performance.now() - started < 400, "gave up within the lookup timeout");
  s.set("k2", answer("lost"), 60); // must not throw
  assert.ok(errors.length >= 1, "the outage was reported once");
  client.disconnect();
  await redis.restart();
});
