// The response cache through the whole gateway, both front doors, over real sockets, with a fake
// OpenAI upstream counting what really goes upstream: miss then hit, TTL expiry, bypass and
// refresh, opting in per request, team isolation (and a route that shares), stream replay,
// concurrent de-duplication, hits in usage records and traces, and Redis going away.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { createMemoryCacheStore } from "../../src/cache/cache.ts";
import { CacheMode, createSignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

const A1 = ["sbx", "test", "cache", "a1"].join("_");
const A2 = ["sbx", "test", "cache", "a2"].join("_");
const B1 = ["sbx", "test", "cache", "b1"].join("_");

function config(upstream: string, redisUrl?: string): string {
  return `
${redisUrl ? `store: { redis_url: "${redisUrl}" }` : ""}
providers:
  - name: openai
    type: openai
    base_url: ${upstream}
    api_key: ${OPENAI_TEST_KEY}
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - name: cached
    targets: [openai/gpt-4o]
    cache: { enabled: true, ttl_seconds: 60 }
  - name: plain
    targets: [openai/gpt-4o]
  - name: shared
    targets: [openai/gpt-4o]
    cache: { enabled: true, share_across_teams: true }
  - name: dedupe
    targets: [openai/gpt-4o]
    cache: { enabled: true, dedupe: true }
  - name: dedupe-only
    targets: [openai/gpt-4o]
    cache: { dedupe: true }
keys:
  - { name: a1, hash: "${hashKey(A1)}", team: a, role: team }
  - { name: a2, hash: "${hashKey(A2)}", team: a, role: service }
  - { name: b1, hash: "${hashKey(B1)}", team: b, role: team }
`;
}

let fake: FakeOpenAI;
let t: TestGateway;
let now = Date.now();
const exporter = new InMemorySpanExporter();
const sdk = (key: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
let seq = 0;
/** A prompt no other test uses. */
const fresh = () => `question ${++seq} ${Math.random()}`;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(config(fake.url), {
    cache: createMemoryCacheStore({ now: () => now }),
    tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })!,
  });
});
after(async () => {
  await t.close();
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  exporter.reset();
});

const ask = (key: string, model: string, content: string, headers: Record<string, string> = {}) =>
  sdk(key).chat.completions.create({ model, messages: [{ role: "user", content }] }, { headers }).withResponse();
const upstreamCalls = () => fake.requests.filter((r) => r.path.endsWith("/chat/completions")).length;
const lastRecord = () => t.usage.recent().at(-1)!;

describe("hit and miss", () => {
  test("the second identical request is a hit: no upstream call, no cost, marked everywhere", async () => {
    const q = fresh();
    const first = await ask(A1, "cached", q);
    assert.equal(first.response.headers.get("x-signalbox-cache"), "miss");
    assert.ok(lastRecord().cost.total > 0);
    const second = await ask(A1, "cached", q);
    assert.equal(second.response.headers.get("x-signalbox-cache"), "hit");
    assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content);
    assert.equal(upstreamCalls(), 1);
    assert.equal(second.data.usage?.total_tokens, 0, "a hit costs nothing, tokens included");
    const rec = lastRecord();
    assert.equal(rec.cacheHit, true);
    assert.equal(rec.cacheKind, "exact");
    assert.equal(rec.cost.total, 0);
    assert.equal(rec.attempts.length, 0);
    assert.equal(rec.deployment, "openai/gpt-4o", "the deployment that made the answer");
    assert.equal(rec.status, "ok");
    // The trace says so, and has no upstream attempt span.
    const server = exporter.getFinishedSpans().filter((s) => s.name === "POST /v1/chat/completions");
    assert.deepEqual(
      server.map((s) => s.attributes["signalbox.cache"]),
      ["miss", "hit"],
    );
    const hitTrace = server[1].spanContext().traceId;
    assert.equal(exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === hitTrace && s.name.startsWith("chat ")).length, 0);
    // And the metrics count it.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /signalbox_cache_hits(_total)?\{route="cached",deployment="openai\/gpt-4o"\} [1-9]/);
  });

  test("a different parameter is a different entry", async () => {
    const q = fresh();
    await sdk(A1).chat.completions.create({ model: "cached", messages: [{ role: "user", content: q }], temperature: 0 });
    await sdk(A1).chat.completions.create({ model: "cached", messages: [{ role: "user", content: q }], temperature: 1 });
    assert.equal(upstreamCalls(), 2);
  });

  test("a route without cache does not cache, unless the request asks", async () => {
    const q = fresh();
    const a = await ask(A1, "plain", q);
    const b = await ask(A1, "plain", q);
    assert.equal(a.response.headers.get("x-signalbox-cache"), "off");
    assert.equal(b.response.headers.get("x-signalbox-cache"), "off");
    assert.equal(upstreamCalls(), 2);
    const q2 = fresh();
    await ask(A1, "plain", q2, { "x-signalbox-cache": "use" });
    const hit = await ask(A1, "plain", q2, { "x-signalbox-cache": "use" });
    assert.equal(hit.response.headers.get("x-signalbox-cache"), "hit");
    assert.equal(upstreamCalls(), 3);
  });

  test("the Connect API and the OpenAI endpoint share the cache", async () => {
    const q = fresh();
    await ask(A1, "cached", q);
    const connect = createSignalboxClient({ baseUrl: t.url, apiKey: A1 });
    const r = await connect.chat.complete({ model: "cached", messages: [userText(q)] });
    assert.equal(r.cacheHit, true);
    assert.equal(r.cost?.totalNanoUsd, 0n);
    assert.equal(upstreamCalls(), 1);
    // And the Connect API's own per-request option.
    const q2 = fresh();
    await connect.chat.complete({ model: "plain", messages: [userText(q2)], cache: { mode: CacheMode.USE, ttlSeconds: 30 } });
    const again = await connect.chat.complete({ model: "plain", messages: [userText(q2)], cache: { mode: CacheMode.USE } });
    assert.equal(again.cacheHit, true);
  });

  test("TTL: per route, and per request", async () => {
    const q = fresh();
    await ask(A1, "cached", q);
    now += 59_000;
    assert.equal((await ask(A1, "cached", q)).response.headers.get("x-signalbox-cache"), "hit");
    now += 1_000;
    assert.equal((await ask(A1, "cached", q)).response.headers.get("x-signalbox-cache"), "miss", "the route's 60 s are up");
    const q2 = fresh();
    await ask(A1, "cached", q2, { "x-signalbox-cache-ttl": "5" });
    now += 5_000;
    assert.equal((await ask(A1, "cached", q2)).response.headers.get("x-signalbox-cache"), "miss", "the request's 5 s are up");
    assert.equal(upstreamCalls(), 4);
  });

  test("bypass neither reads nor writes; refresh writes a fresh answer", async () => {
    const q = fresh();
    fake.script({ kind: "text", text: "first answer" });
    await ask(A1, "cached", q);
    fake.script({ kind: "text", text: "bypassed answer" });
    const by = await ask(A1, "cached", q, { "x-signalbox-cache": "bypass" });
    assert.equal(by.data.choices[0].message.content, "bypassed answer");
    assert.equal(by.response.headers.get("x-signalbox-cache"), "bypass");
    assert.equal((await ask(A1, "cached", q)).data.choices[0].message.content, "first answer", "bypass did not overwrite");
    fake.script({ kind: "text", text: "refreshed answer" });
    const re = await ask(A1, "cached", q, { "cache-control": "no-cache" });
    assert.equal(re.response.headers.get("x-signalbox-cache"), "refresh");
    assert.equal(re.data.choices[0].message.content, "refreshed answer");
    assert.equal((await ask(A1, "cached", q)).data.choices[0].message.content, "refreshed answer");
    assert.equal(upstreamCalls(), 3);
  });

  test("a bad cache header is a 400 naming it", async () => {
    const err = await ask(A1, "cached", fresh(), { "x-signalbox-cache": "sometimes" }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, "x-signalbox-cache");
  });

  test("failures are not cached", async () => {
    const q = fresh();
    fake.script({ kind: "error", error: "invalid_request" });
    const err = await ask(A1, "cached", q).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    const r = await ask(A1, "cached", q);
    assert.equal(r.response.headers.get("x-signalbox-cache"), "miss");
  });
});

describe("isolation", () => {
  test("never across teams; keys of one team share; a route may share across teams", async () => {
    const q = fresh();
    await ask(A1, "cached", q);
    assert.equal((await ask(A2, "cached", q)).response.headers.get("x-signalbox-cache"), "hit", "same team, other key");
    assert.equal((await ask(B1, "cached", q)).response.headers.get("x-signalbox-cache"), "miss", "other team");
    assert.equal(upstreamCalls(), 2);
    const q2 = fresh();
    await ask(A1, "shared", q2);
    assert.equal((await ask(B1, "shared", q2)).response.headers.get("x-signalbox-cache"), "hit");
  });
});

describe("streams", () => {
  test("a cached answer is replayed as a stream, through both front doors", async () => {
    const q = fresh();
    fake.script({ kind: "text", text: ["Cached ", "stream ", "answer."] });
    const live = await sdk(A1).chat.completions.create({ model: "cached", messages: [{ role: "user", content: q }], stream: true, stream_options: { include_usage: true } });
    let liveText = "";
    for await (const c of live) liveText += c.choices[0]?.delta.content ?? "";
    assert.equal(liveText, "Cached stream answer.");

    const { data: replay, response } = await sdk(A1).chat.completions.create({ model: "cached", messages: [{ role: "user", content: q }], stream: true, stream_options: { include_usage: true } }).withResponse();
    assert.equal(response.headers.get("x-signalbox-cache"), "hit");
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    let text = "";
    let finish: string | null = null;
    for await (const c of replay) {
      text += c.choices[0]?.delta.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, liveText);
    assert.equal(finish, "stop");

    const connect = createSignalboxClient({ baseUrl: t.url, apiKey: A1 });
    let connectText = "";
    let startHit = false;
    for await (const ev of connect.chat.stream({ model: "cached", messages: [userText(q)] })) {
      if (ev.event.case === "start") startHit = ev.event.value.cacheHit;
      if (ev.event.case === "delta") connectText += ev.event.value.text;
    }
    assert.equal(startHit, true);
    assert.equal(connectText, liveText);
    assert.equal(upstreamCalls(), 1);
    assert.equal(lastRecord().streamed, true);
    assert.equal(lastRecord().cacheHit, true);
  });

  test("a stream that is cut is not cached", async () => {
    const q = fresh();
    fake.script({ kind: "stream_error", text: "partial answer", afterDeltas: 1, error: "server_error" });
    const s = await sdk(A1).chat.completions.create({ model: "cached", messages: [{ role: "user", content: q }], stream: true });
    await (async () => {
      for await (const _ of s);
    })().catch(() => {});
    const r = await ask(A1, "cached", q);
    assert.equal(r.response.headers.get("x-signalbox-cache"), "miss");
  });
});

describe("concurrent de-duplication", () => {
  test("identical concurrent requests share one upstream call", async () => {
    const q = fresh();
    fake.script({ kind: "text", text: "one answer for all", delayMs: 150 });
    const results = await Promise.all(Array.from({ length: 5 }, () => ask(A1, "dedupe", q)));
    assert.equal(upstreamCalls(), 1);
    for (const r of results) assert.equal(r.data.choices[0].message.content, "one answer for all");
    const statuses = results.map((r) => r.response.headers.get("x-signalbox-cache")).sort();
    assert.deepEqual(statuses, ["miss", "shared", "shared", "shared", "shared"]);
    const recs = t.usage.recent().slice(-5);
    assert.equal(recs.filter((r) => r.cacheHit).length, 4);
    assert.deepEqual(
      recs.filter((r) => r.cacheHit).map((r) => r.cacheKind),
      ["shared", "shared", "shared", "shared"],
    );
    assert.equal(recs.filter((r) => r.cost.total > 0).length, 1, "only the leader is billed");
  });

  test("de-duplication without storing, and streams joining a unary leader", async () => {
    const q = fresh();
    fake.script({ kind: "text", text: "shared once", delayMs: 150 });
    const unary = ask(A1, "dedupe-only", q);
    await fake.waitForRequests(1);
    const stream = sdk(A1).chat.completions.create({ model: "dedupe-only", messages: [{ role: "user", content: q }], stream: true });
    const [u, s] = await Promise.all([unary, stream]);
    let text = "";
    for await (const c of s) text += c.choices[0]?.delta.content ?? "";
    assert.equal(u.data.choices[0].message.content, "shared once");
    assert.equal(text, "shared once");
    assert.equal(upstreamCalls(), 1);
    // Nothing was stored: a later identical request goes upstream again.
    fake.script({ kind: "text", text: "later" });
    assert.equal((await ask(A1, "dedupe-only", q)).data.choices[0].message.content, "later");
  });

  test("when the leader fails, the others call upstream themselves", async () => {
    const q = fresh();
    fake.script([{ kind: "error", error: "invalid_request", delayMs: 100 }, { kind: "text", text: "own call" }]);
    const [a, b] = await Promise.allSettled([ask(A1, "dedupe", q), ask(A1, "dedupe", q)]);
    assert.equal(a.status, "rejected");
    assert.equal(b.status === "fulfilled" && b.value.data.choices[0].message.content, "own call");
  });
});

describe("with Redis", () => {
  let redis: TestRedis;
  let rt: TestGateway;
  let rfake: FakeOpenAI;
  before(async () => {
    redis = await startRedis();
    rfake = await startFakeOpenAI();
    rt = await startTestGateway(config(rfake.url, redis.url));
  });
  after(async () => {
    await rt.close();
    await rfake.close();
    await redis.stop();
  });
  const rask = (content: string, headers: Record<string, string> = {}) =>
    new OpenAI({ baseURL: `${rt.url}/v1`, apiKey: A1, maxRetries: 0 }).chat.completions.create({ model: "cached", messages: [{ role: "user", content }] }, { headers }).withResponse();

  test("hits come from Redis, and expire with the TTL", async () => {
    const q = fresh();
    await rask(q, { "x-signalbox-cache-ttl": "1" });
    assert.equal((await rask(q)).response.headers.get("x-signalbox-cache"), "hit");
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal((await rask(q)).response.headers.get("x-signalbox-cache"), "miss");
    assert.equal(rfake.requests.length, 2);
  });

  test("with Redis down, requests still succeed: every lookup is a miss", async () => {
    const q = fresh();
    await rask(q);
    await redis.stop();
    try {
      const r = await rask(q);
      assert.equal(r.response.status, 200);
      assert.equal(r.response.headers.get("x-signalbox-cache"), "miss");
    } finally {
      await redis.restart();
    }
  });
});
