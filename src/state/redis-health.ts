// Deployment health shared by every replica through Redis. Reads stay local (the planner's
// snapshot costs no round trip); cooldowns and recoveries are written to Redis and broadcast on
// a channel that every replica subscribes to; consecutive failures are counted in Redis so three
// failures spread over three replicas still cool a deployment down; exactly one probe (SET NX)
// decides when a cooldown ends. If Redis is away, each replica carries on with its own view.
//
// Keys (on a Redis Cluster: the per-deployment keys carry the deployment as hash tag, so a MULTI
// on them stays on one slot; the cooldown table is one small hash on one slot, written apart):
//   sbx:health:cooldowns          HASH  deployment -> {"until", "kind"}: cooldowns in force
//   sbx:health:fails:{<d>}        STRING  consecutive failures across replicas (PEXPIRE cooldownMs)
//   sbx:health:probe:{<d>}        STRING  who holds the probe after a cooldown (SET NX PX)
//   sbx:health:estimates          HASH  "<d>\n<replica>" -> {"l","t","p","n","at"}: each replica's moving
//                                 latency, time to first token and tokens a second, with how many
//                                 observations they rest on, written and read every few seconds
//   sbx:health:checks             HASH  deployment -> the latest active check's outcome (JSON), from any replica
//   sbx:health:checks:claim       STRING  which replica runs this period's background checks (SET NX PX)
// Moving estimates are blended, not replicated: every SHARE_EVERY_MS a replica writes the estimates
// of the deployments it observed, reads everyone's, and moves its own towards the others' recent
// ones, weighted by observations. A replica that never served a deployment so sorts it by what the
// others measured (throughput, latency), and one serving most of the traffic keeps most of its own.
// Events go out with classic PUBLISH on sbx:health:events: a Redis Cluster broadcasts it to every
// node over the cluster bus, so a replica's subscriber connection may sit on any node (ioredis
// moves it to another node, resubscribed, when that node dies). Sharded pub/sub (SPUBLISH, Redis
// 7) would keep the message on one shard, but then every replica needs a subscriber on that
// shard's master, found again after each failover: for a handful of events a minute, the
// broadcast is simpler. Events missed while a subscriber moves are caught up by reading the
// cooldown table again (on reconnect, and every few seconds on a cluster).

import { randomBytes } from "node:crypto";
import type { FailureKind } from "../providers/types.ts";
import { DEFAULT_COOLDOWN, LocalHealth, type CheckOutcome, type CooldownListener, type CooldownPolicy, type HealthStore } from "./health.ts";
import { closeRedis, connectRedis, createRedisConnection, type RedisClient, type RedisStoreConfig } from "./redis.ts";

const CHANNEL = "sbx:health:events";
const COOLDOWNS = "sbx:health:cooldowns";
const CHECKS = "sbx:health:checks";
const CHECKS_CLAIM = "sbx:health:checks:claim";
const failsKey = (d: string) => `sbx:health:fails:{${d}}`;
const probeKey = (d: string) => `sbx:health:probe:{${d}}`;

type HealthEvent = { t: "cool"; d: string; until: number; kind: FailureKind; from: string } | { t: "ok"; d: string; from: string };

export interface RedisHealthStore extends HealthStore {
  /** Whether Redis answered the last command. */
  readonly connected: boolean;
}

/** How often a cluster replica re-reads the cooldown table (an event may be missed while its subscriber moves). */
const CLUSTER_RESYNC_MS = 5_000;

const ESTIMATES = "sbx:health:estimates";
/** How often a replica shares its moving estimates and blends in the others' (SIGNALBOX_HEALTH_SHARE_MS overrides it). */
const SHARE_EVERY_MS = 5_000;
/** Another replica's estimate older than this is not blended in (it stopped, or stopped serving the deployment)… */
const ESTIMATE_FRESH_MS = 60_000;
/** …and one older than this is deleted. */
const ESTIMATE_DROP_MS = 10 * ESTIMATE_FRESH_MS;

interface SharedEstimate {
  /** Latency, time to first token (ms), tokens a second; absent when not observed. */
  l?: number;
  t?: number;
  p?: number;
  /** Observations behind each since the replica last shared. */
  n: [number, number, number];
  at: number;
}

/** `own` moved towards the others' values (sum of value × weight, total weight), weighted by observations. */
function blend(own: number | undefined, ownWeight: number, sum: number, weight: number): number | undefined {
  if (weight === 0) return own;
  if (own === undefined) return sum / weight;
  const w = Math.max(1, ownWeight);
  return (own * w + sum) / (w + weight);
}

/** `store`: a redis:// URL, or the configured store (one Redis or a cluster). */
export async function createRedisHealthStore(
  store: string | RedisStoreConfig,
  policy: CooldownPolicy = DEFAULT_COOLDOWN,
  clock: () => number = Date.now,
  onCooldown?: CooldownListener,
): Promise<RedisHealthStore> {
  const local = new LocalHealth(policy, clock);
  local.fresh = new Map();
  const me = randomBytes(6).toString("hex");
  const cfg: RedisStoreConfig = typeof store === "string" ? { redisUrl: store } : store;
  const cmd: RedisClient = createRedisConnection(cfg);
  const sub: RedisClient = createRedisConnection(cfg);
  // Both at once: a subscriber left unconnected because the other failed would never subscribe.
  let connected = (await Promise.all([connectRedis(cmd), connectRedis(sub)])).every(Boolean);

  const onEvent = (raw: string) => {
    let ev: HealthEvent;
    try {
      ev = JSON.parse(raw) as HealthEvent;
    } catch {
      return;
    }
    if (ev.from === me) return;
    if (ev.t === "cool") local.setCooldown(ev.d, ev.until, ev.kind);
    else local.recover(ev.d);
  };
  sub.on("message", (_ch: string, msg: string) => onEvent(msg));

  /**
   * Cooldowns already in force when this replica starts (or reconnects). `onlyNew`: a periodic
   * catch-up, which applies only cooldowns still running that this replica does not hold yet (a
   * cooldown applied again would reset its probe state).
   */
  const load = async (onlyNew = false) => {
    const all = await cmd.hgetall(COOLDOWNS);
    for (const [d, v] of Object.entries(all)) {
      try {
        const { until, kind } = JSON.parse(v) as { until: number; kind: FailureKind };
        if (onlyNew && (until <= clock() || local.get(d).cooldownUntil === until)) continue;
        local.setCooldown(d, until, kind);
      } catch {
        // A malformed entry is ignored; the next failure rewrites it.
      }
    }
  };
  const subscribeAndLoad = async () => {
    try {
      await sub.subscribe(CHANNEL);
      await load();
      connected = true;
    } catch {
      connected = false;
    }
  };
  if (connected) await subscribeAndLoad();
  // After an outage, pick up what other replicas decided meanwhile.
  sub.on("ready", () => void subscribeAndLoad());
  const resync = cfg.redisCluster?.length ? setInterval(() => void load(true).catch(() => {}), CLUSTER_RESYNC_MS) : undefined;
  resync?.unref();

  /** Write this replica's estimates of what it observed since the last time, then blend in everyone's. */
  const share = async () => {
    const now = clock();
    const fresh = local.fresh!;
    local.fresh = new Map();
    const mine: Record<string, string> = {};
    for (const [d, n] of fresh) {
      const h = local.get(d);
      mine[`${d}\n${me}`] = JSON.stringify({ l: h.latencyMs, t: h.ttftMs, p: h.tokensPerSecond, n, at: now } satisfies SharedEstimate);
    }
    if (Object.keys(mine).length) await cmd.hset(ESTIMATES, mine);
    const all = await cmd.hgetall(ESTIMATES);
    const others = new Map<string, [number, number, number, number, number, number]>();
    const stale: string[] = [];
    for (const [field, raw] of Object.entries(all)) {
      const cut = field.lastIndexOf("\n");
      if (field.slice(cut + 1) === me) continue;
      let e: SharedEstimate;
      try {
        e = JSON.parse(raw) as SharedEstimate;
      } catch {
        stale.push(field);
        continue;
      }
      if (!(e.at > now - ESTIMATE_DROP_MS)) stale.push(field);
      if (!(e.at > now - ESTIMATE_FRESH_MS)) continue;
      const d = field.slice(0, cut);
      let acc = others.get(d);
      if (!acc) others.set(d, (acc = [0, 0, 0, 0, 0, 0]));
      // Each value with its weight: at least 1, so an estimate is never weightless.
      [e.l, e.t, e.p].forEach((v, i) => {
        if (typeof v !== "number" || !Number.isFinite(v)) return;
        const w = Math.max(1, e.n?.[i] ?? 1);
        acc[i * 2] += v * w;
        acc[i * 2 + 1] += w;
      });
    }
    for (const [d, [ls, lw, ts, tw, ps, pw]] of others) {
      const h = local.get(d);
      const n = fresh.get(d) ?? [0, 0, 0];
      h.latencyMs = blend(h.latencyMs, n[0], ls, lw);
      h.ttftMs = blend(h.ttftMs, n[1], ts, tw);
      h.tokensPerSecond = blend(h.tokensPerSecond, n[2], ps, pw);
    }
    if (stale.length) await cmd.hdel(ESTIMATES, ...stale);
  };

  const publish = (ev: HealthEvent) => cmd.publish(CHANNEL, JSON.stringify(ev));
  const background = (p: Promise<unknown>) =>
    p.then(
      () => (connected = true),
      () => (connected = false),
    );

  const cool = (d: string, until: number, kind: FailureKind) =>
    background(
      cmd
        .multi()
        .hset(COOLDOWNS, d, JSON.stringify({ until, kind }))
        .exec()
        .then(() => publish({ t: "cool", d, until, kind, from: me })),
    );

  const ownChecks = new Map<string, CheckOutcome>();
  const sharing = setInterval(() => void background(share()), Number(process.env.SIGNALBOX_HEALTH_SHARE_MS) || SHARE_EVERY_MS);
  sharing.unref();

  return {
    get connected() {
      return connected;
    },
    snapshot: () => local.snapshot(),
    // Output sizes are learnt per replica (every replica sees enough answers for a p95); the
    // throughput measured with them is shared with the moving estimates.
    observeOutput: (d, n, ms) => local.observeOutput(d, n, ms),
    // The limiter is shared: what it answered already counts every replica's requests.
    observeUsage(d, fraction) {
      local.get(d).usage = { fraction, at: Date.now() };
    },
    begin(d) {
      local.get(d).inFlight++;
    },
    end(d, r) {
      const h = local.get(d);
      h.inFlight = Math.max(0, h.inFlight - 1);
      const change = local.apply(d, r);
      if (change === "recovered") {
        // Two slots on a cluster: the deployment's own keys (one MULTI) and the cooldown table.
        background(
          Promise.all([cmd.multi().del(failsKey(d)).del(probeKey(d)).exec(), cmd.hdel(COOLDOWNS, d)]).then(() => publish({ t: "ok", d, from: me })),
        );
        return;
      }
      if (change) {
        onCooldown?.(d, change.kind, change.cooldownUntil);
        cool(d, change.cooldownUntil, change.kind);
        return;
      }
      if (!r.ok && r.cooldown) {
        // Count the failure across replicas; the replica that reaches the threshold cools it down.
        background(
          cmd
            .multi()
            .incr(failsKey(d))
            .pexpire(failsKey(d), policy.cooldownMs)
            .exec()
            .then((res) => {
              const n = Number(res?.[0]?.[1] ?? 0);
              if (n >= policy.failureThreshold && !(local.get(d).cooldownUntil! > clock())) {
                const until = clock() + policy.cooldownMs;
                local.setCooldown(d, until, r.kind);
                onCooldown?.(d, r.kind, until);
                return cool(d, until, r.kind);
              }
            }),
        );
      }
    },
    async claimProbe(d) {
      if (!local.claimLocal(d)) return false;
      try {
        const ok = await cmd.set(probeKey(d), me, "PX", policy.probeTimeoutMs, "NX");
        connected = true;
        return ok === "OK";
      } catch {
        // Redis is away: this replica's own claim has to do.
        connected = false;
        return true;
      }
    },
    putCheck(c) {
      ownChecks.set(c.deployment, c);
      background(cmd.hset(CHECKS, c.deployment, JSON.stringify(c)));
    },
    async lastChecks() {
      try {
        const all = await cmd.hgetall(CHECKS);
        connected = true;
        const out = new Map<string, CheckOutcome>();
        for (const [d, raw] of Object.entries(all)) {
          try {
            out.set(d, JSON.parse(raw) as CheckOutcome);
          } catch {
            // not one of ours: left out
          }
        }
        return out;
      } catch {
        connected = false;
        return ownChecks;
      }
    },
    async claimChecks(periodMs) {
      try {
        // A little less than the period, so the next period's claim is free when it comes.
        const ok = await cmd.set(CHECKS_CLAIM, me, "PX", Math.max(1_000, periodMs - 1_000), "NX");
        connected = true;
        return ok === "OK";
      } catch {
        connected = false;
        return true;
      }
    },
    async close() {
      clearInterval(resync);
      clearInterval(sharing);
      sub.disconnect();
      await closeRedis(cmd);
    },
  };
}
