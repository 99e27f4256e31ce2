// What one request costs Redis, measured: drives the gateway's own limiter (src/limits/redis.ts),
// usage store (src/usage/redis-store.ts) and response cache (src/cache/cache.ts) with simulated
// requests against a private redis-server, and reads Redis' own accounting (INFO cpu: main-thread
// CPU, which is what bounds a Redis node; INFO commandstats: commands). The figures behind the
// "Capacity" section of the README.
//
//   node deploy/capacity/redis-cost.ts            # REQUESTS=20000 CONCURRENCY=64 per scenario
//   DETAIL=1 node deploy/capacity/redis-cost.ts   # and Redis' per-command time for each scenario
//
// Needs `redis-server` on PATH. Nothing else runs; the gateway itself is not started.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRedisCacheStore, type CachedAnswer } from "../../src/cache/cache.ts";
import { createRedisLimiter } from "../../src/limits/redis.ts";
import type { AdmissionRequest, Settlement } from "../../src/limits/types.ts";
import { createRedisClient } from "../../src/state/redis.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { createRedisUsageStore } from "../../src/usage/redis-store.ts";

const REQUESTS = Number(process.env.REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const TEAMS = 20;
const KEYS = 100;
const DEPLOYMENTS = ["openai/gpt-4o", "azure/gpt-4o", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"];

interface Scenario {
  name: string;
  /** The key has rpm + tpm limits, a key budget, and its team a budget (one admission script). */
  limits: boolean;
  /** The first candidate deployment has its own limits (a second admission script). */
  deploymentLimits?: boolean;
  /** A cache lookup per request, and a store per miss (every request misses: the worst case). */
  cache?: boolean;
  /** Every request from a different end user (no two usage records share an aggregate). */
  distinctUsers?: boolean;
  /** Reservations of long requests already in flight on each team budget. */
  inFlightPerBudget?: number;
}

const SCENARIOS: Scenario[] = [
  { name: "no limits (usage only)", limits: false },
  { name: "limits + key and team budgets", limits: true },
  { name: "  + deployment limits", limits: true, deploymentLimits: true },
  { name: "  + response cache (all misses)", limits: true, cache: true },
  { name: "  + a distinct end user per request", limits: true, distinctUsers: true },
  { name: "  + 200 requests in flight per budget", limits: true, inFlightPerBudget: 200 },
  { name: "  + 1,000 requests in flight per budget", limits: true, inFlightPerBudget: 1000 },
];

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

function record(i: number, team: string, key: string, deployment: string, user: string): UsageRecord {
  const now = Date.now();
  return {
    id: `req_${i}`,
    time: now,
    key,
    team,
    user,
    model: "chat",
    routing: { route: "chat", alias: "", strategy: "priority", variant: "" },
    deployment,
    provider: deployment.split("/")[0],
    attempts: [],
    usage: { inputTokens: 900, outputTokens: 250, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    usageEstimated: false,
    cost: { total: 4_750_000, input: 2_250_000, cachedInput: 0, cacheWrite: 0, output: 2_500_000, reasoning: 0 },
    latencyMs: 1200,
    ttftMs: 300,
    overheadUs: 400,
    cacheHit: false,
    status: "ok",
    finishReason: "stop",
    traceId: i.toString(16).padStart(32, "0"),
    tags: [],
    metadata: {},
    streamed: true,
  };
}

const ANSWER: CachedAnswer = {
  deployment: "openai/gpt-4o",
  provider: "openai",
  providerModel: "gpt-4o-2024-08-06",
  text: "x".repeat(1000),
  toolCalls: [],
  finishReason: "stop",
  rawFinishReason: "stop",
  usage: { inputTokens: 900, outputTokens: 250, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
  storedAt: 0,
};

async function main() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sbx-redis-cost-"));
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    redis.once("error", reject);
    redis.stdout!.on("data", (b: Buffer) => b.toString().includes("Ready to accept") && resolve());
  });
  const url = `redis://127.0.0.1:${port}`;
  const admin = createRedisClient(url);
  await admin.connect();
  const info = async () => {
    const cpu = await admin.info("cpu");
    const num = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(cpu)?.[1] ?? NaN);
    const stats = await admin.info("commandstats");
    let calls = 0;
    for (const m of stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (m[1] !== "info" && m[1] !== "config" && m[1] !== "flushall") calls += Number(m[2]);
    return { cpuUs: (num("used_cpu_user_main_thread") + num("used_cpu_sys_main_thread")) * 1e6, calls };
  };

  // The yardstick: a plain GET from 50 clients, one at a time each (how "ops/s" of a Redis node
  // are usually quoted). Requests are reported as a multiple of it, which carries over to other
  // hardware better than microseconds do.
  const clients = Array.from({ length: 50 }, () => createRedisClient(url));
  await Promise.all(clients.map((c) => c.connect()));
  await admin.set("sbx:yardstick", "x".repeat(100));
  await admin.config("RESETSTAT");
  const g0 = await info();
  const GETS = 100_000;
  let issued = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (issued++ < GETS) await c.get("sbx:yardstick");
    }),
  );
  const g1 = await info();
  const getUs = (g1.cpuUs - g0.cpuUs) / GETS;
  await Promise.all(clients.map((c) => c.quit()));

  const rows: Record<string, string | number>[] = [
    { scenario: "(yardstick) one GET", "Redis CPU µs/req": Number(getUs.toFixed(1)), "≈ GETs": 1, "commands/req": 1, "req/s per Redis core (100% busy)": Math.round(1e6 / getUs) },
  ];
  for (const sc of SCENARIOS) {
    await admin.flushall();
    const lim = createRedisClient(url);
    const use = createRedisClient(url);
    const cch = createRedisClient(url);
    await Promise.all([lim.connect(), use.connect(), cch.connect()]);
    const limiter = createRedisLimiter(lim);
    const usage = createRedisUsageStore(use);
    const cache = createRedisCacheStore(cch);
    const now0 = Date.now();
    // Long requests already holding reservations on each team's budget.
    if (sc.inFlightPerBudget) {
      for (let t = 0; t < TEAMS; t++) {
        const members: (string | number)[] = [];
        for (let j = 0; j < sc.inFlightPerBudget; j++) members.push(now0 + 600_000, `held_${t}_${j}:20000000`);
        const start = Date.UTC(new Date(now0).getUTCFullYear(), new Date(now0).getUTCMonth(), 1);
        await admin.zadd(`sbx:br:{team:t${t}}:team:t${t}:${start}`, ...members);
      }
    }
    await admin.config("RESETSTAT");
    const before = await info();
    const t0 = performance.now();
    let next = 0;
    const one = async (i: number) => {
      const team = `t${i % TEAMS}`;
      const key = `k${i % KEYS}`;
      const deployment = DEPLOYMENTS[i % DEPLOYMENTS.length];
      const now = Date.now();
      const adm: AdmissionRequest | undefined = sc.limits
        ? {
            requestId: `req_${i}`,
            shard: `team:${team}`,
            rates: [
              { id: `key:${key}:rpm`, limit: 1e9, cost: 1, windowMs: 60_000, describe: "" },
              { id: `key:${key}:tpm`, limit: 1e12, cost: 2000, windowMs: 60_000, describe: "" },
            ],
            budgets: [
              { id: `key:${key}`, period: "month", limitNanos: 1e15, reserveNanos: 20_000_000, softThreshold: 0.8, describe: "" },
              { id: `team:${team}`, period: "month", limitNanos: 1e15, reserveNanos: 20_000_000, softThreshold: 0.8, describe: "" },
            ],
            now,
            reservationTtlMs: 180_000,
          }
        : undefined;
      const waits: Promise<unknown>[] = [];
      if (adm) waits.push(limiter.admit(adm));
      if (sc.deploymentLimits) {
        waits.push(
          limiter.admit({
            requestId: `req_${i}`,
            shard: `deployment:${deployment}`,
            rates: [
              { id: `deployment:${deployment}:rpm`, limit: 1e9, cost: 1, windowMs: 60_000, describe: "" },
              { id: `deployment:${deployment}:tpm`, limit: 1e12, cost: 2000, windowMs: 60_000, describe: "" },
            ],
            budgets: [],
            now,
            reservationTtlMs: 60_000,
          }),
        );
      }
      const cacheKey = `k${i}`;
      if (sc.cache) waits.push(cache.get(cacheKey));
      await Promise.all(waits);
      if (sc.cache) cache.set(cacheKey, ANSWER, 60);
      if (adm) {
        const s: Settlement = {
          requestId: adm.requestId,
          shard: adm.shard,
          tokenAdjustments: [{ id: `key:${key}:tpm`, delta: -850, windowMs: 60_000 }],
          budgets: adm.budgets.map((b) => ({ id: b.id, period: b.period, reservedNanos: b.reserveNanos, actualNanos: 4_750_000 })),
          now: Date.now(),
        };
        limiter.settle(s);
      }
      usage.record(record(i, team, key, deployment, sc.distinctUsers ? `user-${i}` : ""));
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < REQUESTS; i = next++) await one(i);
      }),
    );
    await limiter.flush();
    await usage.flush();
    const seconds = (performance.now() - t0) / 1000;
    // Let the cache's fire-and-forget SETs land before reading the counters.
    await cch.ping();
    const after = await info();
    if (process.env.DETAIL) {
      const detail = [...(await admin.info("commandstats")).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)]
        .filter((m) => !["info", "config", "flushall", "ping", "quit"].includes(m[1]))
        .map((m) => `${m[1]} ${(Number(m[2]) / REQUESTS).toFixed(2)}/req ${(Number(m[3]) / REQUESTS).toFixed(1)}µs/req`);
      console.log(`${sc.name.trim()}: ${detail.join(", ")}`);
    }
    const us = (after.cpuUs - before.cpuUs) / REQUESTS;
    rows.push({
      scenario: sc.name,
      "Redis CPU µs/req": Number(us.toFixed(1)),
      "≈ GETs": Number((us / getUs).toFixed(1)),
      "commands/req": Number(((after.calls - before.calls) / REQUESTS).toFixed(2)),
      "req/s per Redis core (100% busy)": Math.round(1e6 / us),
      "driver req/s": Math.round(REQUESTS / seconds),
    });
    await Promise.all([limiter.close(), usage.close()]);
    for (const c of [lim, use, cch]) await c.quit();
  }
  await admin.quit();
  redis.kill("SIGTERM");
  await new Promise((r) => redis.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
  console.log(`Redis cost per request: ${REQUESTS} simulated requests per scenario, ${CONCURRENCY} in flight, ${TEAMS} teams, ${KEYS} keys; ${await redisVersion()}`);
  console.table(rows);
  console.log("CPU is Redis' main thread (what bounds a node); commands include those run inside Lua scripts.");
}

async function redisVersion(): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn("redis-server", ["--version"]);
    let out = "";
    p.stdout.on("data", (b) => (out += b));
    p.on("close", () => resolve(out.trim().split(" ").slice(0, 3).join(" ")));
  });
}

await main();
