// Cooldowns shared by replicas through one private Redis: a deployment cooled down by one
// gateway is skipped by the others, failures spread over replicas add up, a new replica loads
// what is in force, and one probe decides when the cooldown ends.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { createSignalboxClient, ExclusionReason, ProviderSort, userText } from "@signalbox/client";
import { createRedisHealthStore } from "../../src/state/redis-health.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

const config = (url: string) => `
store: { redis_url: "${url}" }
providers:
  - { name: good, type: mock }
  - { name: bad, type: mock, mock: { failure_rate: 1, failure_kind: server_error } }
deployments:
  - { id: d/good, provider: good, model: g, pricing: { input: 1, output: 1 } }
  - { id: d/bad, provider: bad, model: b, pricing: { input: 1, output: 1 } }
routes:
  - { name: r, targets: [d/bad, d/good], retry: { max_retries: 0 } }
`;

async function until<T>(fn: () => Promise<T | undefined>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const coolingIn = async (g: TestGateway) => {
  const plan = await createSignalboxClient({ baseUrl: g.url }).route.route({ model: "r", messages: [userText("x")] });
  return plan.excluded.find((e) => e.deployment === "d/bad" && e.reason === ExclusionReason.COOLING_DOWN);
};

test("a cooldown set by one replica is seen by the other; failures spread over replicas add up", async () => {
  const admin = new Redis(redis.url);
  await admin.flushall();
  await admin.quit();
  const a = await startTestGateway(config(redis.url));
  const b = await startTestGateway(config(redis.url));
  try {
    const ca = createSignalboxClient({ baseUrl: a.url });
    const cb = createSignalboxClient({ baseUrl: b.url });
    // Two failures on A and one on B: no replica saw three, together they did.
    for (const c of [ca, ca, cb]) {
      const res = await c.chat.complete({ model: "r", messages: [userText("hi")] });
      assert.equal(res.deployment, "d/good", "falls back to the healthy deployment");
      assert.equal(res.attempts[0].deployment, "d/bad");
    }
    const onA = await until(() => coolingIn(a));
    const onB = await until(() => coolingIn(b));
    assert.ok(onA.until && onB.until);
    // A plan now skips d/bad on both replicas.
    const res = await cb.chat.complete({ model: "r", messages: [userText("hi")] });
    assert.deepEqual(res.attempts.map((x) => x.deployment), ["d/good"]);
    // A replica started now loads the cooldown in force.
    const c = await startTestGateway(config(redis.url));
    try {
      assert.ok(await coolingIn(c), "a new replica sees the cooldown at once");
    } finally {
      await c.close();
    }
  } finally {
    await a.close();
    await b.close();
  }
});

test("after a cooldown, exactly one replica gets the probe", async () => {
  const policy = { failureThreshold: 1, cooldownMs: 100, maxCooldownMs: 1000, probeTimeoutMs: 5000 };
  const s1 = await createRedisHealthStore(redis.url, policy);
  const s2 = await createRedisHealthStore(redis.url, policy);
  try {
    s1.begin("d/x");
    s1.end("d/x", { ok: false, kind: "overloaded", cooldown: true });
    await until(async () => (s2.snapshot().get("d/x")?.cooldownUntil !== undefined ? true : undefined));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(s1.snapshot().get("d/x")?.awaitingProbe, true);
    assert.equal(s2.snapshot().get("d/x")?.awaitingProbe, true);
    const claims = await Promise.all([s1.claimProbe("d/x"), s2.claimProbe("d/x"), s1.claimProbe("d/x"), s2.claimProbe("d/x")]);
    assert.equal(claims.filter(Boolean).length, 1, "one probe across replicas");
    // The probe succeeds: the deployment is healthy everywhere.
    s2.begin("d/x");
    s2.end("d/x", { ok: true, latencyMs: 5 });
    await until(async () => (s1.snapshot().get("d/x")?.cooldownUntil === undefined && !s1.snapshot().get("d/x")?.awaitingProbe ? true : undefined));
  } finally {
    await s1.close();
    await s2.close();
  }
});

test("with Redis gone, the store keeps serving from its own view", async () => {
  const other = await startRedis();
  const s = await createRedisHealthStore(other.url, { failureThreshold: 1, cooldownMs: 60_000, maxCooldownMs: 60_000, probeTimeoutMs: 1000 });
  try {
    await other.stop();
    s.begin("d/y");
    s.end("d/y", { ok: false, kind: "overloaded", cooldown: true });
    assert.ok(s.snapshot().get("d/y")!.cooldownUntil! > Date.now(), "the local cooldown applies at once");
    assert.equal(await s.claimProbe("d/z"), true, "a probe claim falls back to the local claim");
  } finally {
    await s.close();
  }
});

test("moving estimates are shared: a replica that never served a deployment sorts by the throughput the others measured", async () => {
  const admin = new Redis(redis.url);
  await admin.flushall();
  const saved = process.env.SIGNALBOX_HEALTH_SHARE_MS;
  process.env.SIGNALBOX_HEALTH_SHARE_MS = "100";
  const yaml = `
store: { redis_url: "${redis.url}" }
providers:
  - { name: slow, type: mock, mock: { inter_chunk_ms: 30, chunks: 6, output_tokens: 60 } }
  - { name: fast, type: mock, mock: { inter_chunk_ms: 0, chunks: 6, output_tokens: 60 } }
deployments:
  - { id: d/slow, provider: slow, model: s, pricing: { input: 1, output: 1 } }
  - { id: d/fast, provider: fast, model: f, pricing: { input: 1, output: 1 } }
routes:
  - { name: both, targets: [d/slow, d/fast], retry: { max_retries: 0 } }
`;
  const a = await startTestGateway(yaml);
  const b = await startTestGateway(yaml);
  try {
    const byThroughput = { model: "both", messages: [userText("x")], routing: { providers: { sort: ProviderSort.THROUGHPUT } } };
    const order = async (g: TestGateway) => (await createSignalboxClient({ baseUrl: g.url }).route.route(byThroughput as never)).candidates;
    const before = await order(b);
    assert.deepEqual(before.map((c) => c.deployment), ["d/slow", "d/fast"], "nothing measured: the route's order");
    assert.match(before[0].reason, /throughput not observed yet/);
    // Only A serves, both deployments, streamed.
    const ca = createSignalboxClient({ baseUrl: a.url });
    for (let i = 0; i < 3; i++) {
      for (const model of ["d/slow", "d/fast"]) {
        for await (const _ of ca.chat.stream({ model, messages: [userText("hi")] })) void _;
      }
    }
    assert.deepEqual((await order(a)).map((c) => c.deployment), ["d/fast", "d/slow"], "A measured both");
    // B blends in A's estimates within a few share intervals, without having served anything.
    const after = await until(async () => {
      const c = await order(b);
      return c[0].deployment === "d/fast" && !/not observed/.test(c[1].reason) ? c : undefined;
    });
    assert.match(after[0].reason, /\d+ tokens\/s/);
    const shared = await admin.hgetall("sbx:health:estimates");
    assert.deepEqual(Object.keys(shared).map((f) => f.split("\n")[0]).sort(), ["d/fast", "d/slow"], "only A wrote, one field per deployment");
  } finally {
    await a.close();
    await b.close();
    await admin.quit();
    if (saved === undefined) delete process.env.SIGNALBOX_HEALTH_SHARE_MS;
    else process.env.SIGNALBOX_HEALTH_SHARE_MS = saved;
  }
});
