// Rankings in the response cache: two gateway replicas sharing a private Redis, a fake Cohere
// (its /v2/rerank over real HTTP) behind a route with the cache on. A ranking stored by one
// replica answers the same request on the other with no upstream call and no cost; the key is the
// whole request (query, documents in order, top_n), so any change is a miss; the request's cache
// options (header, `signalbox.cache`, the typed client's CacheOptions) bypass or refresh it; the
// input guardrails still block a request whose ranking is cached; a route without the cache never
// stores; and the usage record says where the answer came from.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { CacheMode, createSignalboxClient, rerankDocuments } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { cohereTestKey, startFakeCohere, type FakeCohere } from "../helpers/fake-cohere.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

const CALLER = ["sbx", "test", "rerank", "cache"].join("_");
const OTHER_TEAM = ["sbx", "test", "rerank", "cache", "b"].join("_");
const QUERY = "What is the capital of the United States?";
const DOCS = ["Carson City is the capital city of Nevada.", "Washington, D.C. is the capital of the United States.", "Capital punishment is legal in some states.", "The capital of France is Paris."];

let redis: TestRedis;
let cohere: FakeCohere;
let a: TestGateway;
let b: TestGateway;

const config = (cohereOrigin: string, redisUrl: string) => `
providers:
  - { name: cohere, type: cohere, base_url: "${cohereOrigin}", api_key: "\${COHERE_API_KEY}" }
deployments:
  - { id: cohere/rerank, provider: cohere, model: rerank-v3.5 }
routes:
  - { name: rerank, targets: [cohere/rerank], cache: { enabled: true, ttl_seconds: 60 } }
  - { name: rerank-uncached, targets: [cohere/rerank] }
guardrails:
  - { name: no-zephyr, kind: deny, stage: input, action: block, deny: { phrases: [project zephyr] } }
store: { redis_url: "${redisUrl}" }
keys:
  - { name: team-a, hash: "${hashKey(CALLER)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(OTHER_TEAM)}", team: b, role: team }
`;

const post = (gw: TestGateway, body: Record<string, unknown>, headers: Record<string, string> = {}, key = CALLER) =>
  fetch(`${gw.url}/v1/rerank`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

interface RerankBody {
  id: string;
  results: { index: number; relevance_score: number }[];
  meta: { billed_units: Record<string, number> };
  signalbox: { deployment: string; cache: string; cost_nano_usd: number; attempts: number };
}

async function rerank(gw: TestGateway, body: Record<string, unknown>, headers: Record<string, string> = {}, key = CALLER): Promise<{ status: number; cache: string | null; body: RerankBody }> {
  const res = await post(gw, body, headers, key);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return { status: res.status, cache: res.headers.get("x-signalbox-cache"), body: JSON.parse(text) as RerankBody };
}

/** Rerank requests the fake Cohere received since the last reset. */
const upstreamCalls = () => cohere.requests.filter((r) => r.path.endsWith("/rerank")).length;

let n = 0;
/** A query no earlier test used: each test starts with an empty cache for it. */
const fresh = () => `${QUERY} (${++n})`;

before(async () => {
  redis = await startRedis();
  cohere = await startFakeCohere();
  const env = { COHERE_API_KEY: cohereTestKey() };
  a = await startTestGateway(config(cohere.origin, redis.url), { env });
  b = await startTestGateway(config(cohere.origin, redis.url), { env });
});
beforeEach(() => cohere.reset());
after(async () => {
  await a.close();
  await b.close();
  await cohere.close();
  await redis.stop();
});

describe("rerank through the response cache, shared by replicas", () => {
  test("a ranking stored by one replica answers the same request on the other: no upstream call, no cost, the same scores", async () => {
    const q = fresh();
    const first = await rerank(a, { model: "rerank", query: q, documents: DOCS, top_n: 3 });
    assert.equal(first.cache, "miss");
    assert.equal(first.body.signalbox.cache, "miss");
    assert.equal(first.body.meta.billed_units.search_units, 1);
    assert.ok(first.body.signalbox.cost_nano_usd > 0);
    assert.equal(upstreamCalls(), 1);

    // The store is fire and forget: the other replica may ask before the SET lands.
    let second = await rerank(b, { model: "rerank", query: q, documents: DOCS, top_n: 3 });
    for (let i = 0; i < 20 && second.cache !== "hit"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      second = await rerank(b, { model: "rerank", query: q, documents: DOCS, top_n: 3 });
    }
    assert.equal(second.cache, "hit");
    assert.equal(second.body.signalbox.cache, "hit");
    assert.deepEqual(second.body.results, first.body.results, "the scores the provider gave, in its order");
    assert.equal(second.body.signalbox.cost_nano_usd, 0);
    assert.equal(second.body.signalbox.attempts, 0);
    assert.deepEqual(second.body.meta.billed_units, {}, "nothing billed on a hit");
    assert.equal(second.body.signalbox.deployment, "cohere/rerank");
    assert.equal(upstreamCalls(), 1, "the hit reached no provider");

    const rec = b.usage.recent().find((r) => r.id === second.body.id)!;
    assert.equal(rec.operation, "rerank");
    assert.equal(rec.cacheHit, true);
    assert.equal(rec.cacheKind, "exact");
    assert.equal(rec.cost.total, 0);
    assert.equal(rec.deployment, "cohere/rerank");
    assert.equal(rec.attempts.length, 0);
    assert.equal(rec.status, "ok");
    const missRec = a.usage.recent().find((r) => r.id === first.body.id)!;
    assert.equal(missRec.cacheHit, false);
    assert.equal(missRec.usage.searchUnits, 1);
  });

  test("the key is the whole request: another top_n, document order, document or query is a miss", async () => {
    const q = fresh();
    await rerank(a, { model: "rerank", query: q, documents: DOCS, top_n: 2 });
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS, top_n: 2 })).cache, "hit");
    const variants: Record<string, unknown>[] = [
      { model: "rerank", query: q, documents: DOCS, top_n: 3 },
      { model: "rerank", query: q, documents: DOCS },
      { model: "rerank", query: q, documents: [...DOCS].reverse(), top_n: 2 },
      { model: "rerank", query: q, documents: [...DOCS.slice(0, 3), "The capital of Spain is Madrid."], top_n: 2 },
      { model: "rerank", query: `${q}?`, documents: DOCS, top_n: 2 },
      // Length-framed texts: moving a boundary between two documents is another request.
      { model: "rerank", query: q, documents: [DOCS[0] + DOCS[1].slice(0, 5), DOCS[1].slice(5), DOCS[2], DOCS[3]], top_n: 2 },
    ];
    for (const body of variants) assert.equal((await rerank(a, body)).cache, "miss", JSON.stringify(body));
    assert.equal(upstreamCalls(), 1 + variants.length);
  });

  test("rankings are kept per team unless the route shares them", async () => {
    const q = fresh();
    await rerank(a, { model: "rerank", query: q, documents: DOCS });
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS })).cache, "hit");
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS }, {}, OTHER_TEAM)).cache, "miss");
    assert.equal(upstreamCalls(), 2);
  });

  test("the request's cache options: bypass neither looks up nor stores, refresh replaces what is stored", async () => {
    const q = fresh();
    const bypass = await rerank(a, { model: "rerank", query: q, documents: DOCS }, { "x-signalbox-cache": "bypass" });
    assert.equal(bypass.cache, "bypass");
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS, signalbox: { cache: { mode: "bypass" } } })).cache, "bypass");
    assert.equal(upstreamCalls(), 2);
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS })).cache, "miss", "nothing was stored by the bypasses");
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS }, { "x-signalbox-cache": "refresh" })).cache, "refresh");
    assert.equal(upstreamCalls(), 4);
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS })).cache, "hit");
    assert.equal(upstreamCalls(), 4);
  });

  test("a route without the cache never stores; a request can turn it on", async () => {
    const q = fresh();
    const one = await rerank(a, { model: "rerank-uncached", query: q, documents: DOCS });
    assert.equal(one.cache, "off");
    assert.equal((await rerank(a, { model: "rerank-uncached", query: q, documents: DOCS })).cache, "off");
    assert.equal(upstreamCalls(), 2);
    await rerank(a, { model: "rerank-uncached", query: q, documents: DOCS, signalbox: { cache: { mode: "use" } } });
    assert.equal((await rerank(a, { model: "rerank-uncached", query: q, documents: DOCS, signalbox: { cache: { mode: "use" } } })).cache, "hit");
    assert.equal(upstreamCalls(), 3);
  });

  test("the input guardrails run before the cache: a blocked request is not answered from it", async () => {
    const q = `${fresh()} project zephyr`;
    await rerank(a, { model: "rerank", query: q, documents: DOCS });
    assert.equal((await rerank(a, { model: "rerank", query: q, documents: DOCS })).cache, "hit");
    const res = await post(a, { model: "rerank", query: q, documents: DOCS, signalbox: { guardrails: ["no-zephyr"] } });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /no-zephyr/);
    assert.equal(upstreamCalls(), 1);
  });

  test("a bad TTL names the field and reaches no provider", async () => {
    const res = await post(a, { model: "rerank", query: fresh(), documents: DOCS, signalbox: { cache: { ttl_seconds: -1 } } });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /signalbox\.cache\.ttl_seconds/);
    assert.equal(upstreamCalls(), 0);
  });

  test("RerankService: cache_hit on the typed client's answer; CacheOptions bypass", async () => {
    const sb = createSignalboxClient({ baseUrl: b.url, apiKey: CALLER });
    const q = fresh();
    const first = await rerankDocuments(sb, "rerank", q, DOCS, { topN: 2 });
    assert.equal(first.response.cacheHit, false);
    let again = await rerankDocuments(sb, "rerank", q, DOCS, { topN: 2 });
    for (let i = 0; i < 20 && !again.response.cacheHit; i++) {
      await new Promise((r) => setTimeout(r, 25));
      again = await rerankDocuments(sb, "rerank", q, DOCS, { topN: 2 });
    }
    assert.equal(again.response.cacheHit, true);
    assert.deepEqual(
      again.ranked.map((r) => [r.index, r.score, r.document]),
      first.ranked.map((r) => [r.index, r.score, r.document]),
    );
    assert.equal(again.response.cost?.totalNanoUsd ?? 0n, 0n);
    assert.equal(again.response.attempts.length, 0);
    const bypass = await rerankDocuments(sb, "rerank", q, DOCS, { topN: 2, cache: { mode: CacheMode.BYPASS } });
    assert.equal(bypass.response.cacheHit, false);
    assert.equal(upstreamCalls(), 2);
  });
});
