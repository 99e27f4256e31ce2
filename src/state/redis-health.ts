// Deployment health shared by every replica through Redis. Reads stay local (the planner's
// snapshot costs no round trip); cooldowns and recoveries are written to Redis and broadcast on
// a channel that every replica subscribes to; consecutive failures are counted in Redis so three
// failures spread over three replicas still cool a deployment down; exactly one probe (SET NX)
// decides when a cooldown ends. If Redis is away, each replica carries on with its own view.

import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { FailureKind } from "../providers/types.ts";
import { DEFAULT_COOLDOWN, LocalHealth, type CooldownListener, type CooldownPolicy, type HealthStore } from "./health.ts";
import { connectRedis, createRedisClient } from "./redis.ts";

const CHANNEL = "sbx:health:events";
const COOLDOWNS = "sbx:health:cooldowns";
const failsKey = (d: string) => `sbx:health:fails:{${d}}`;
const probeKey = (d: string) => `sbx:health:probe:{${d}}`;

type HealthEvent = { t: "cool"; d: string; until: number; kind: FailureKind; from: string } | { t: "ok"; d: string; from: string };

export interface RedisHealthStore extends HealthStore {
  /** Whether Redis answered the last command. */
  readonly connected: boolean;
}

export async function createRedisHealthStore(
  url: string,
  policy: CooldownPolicy = DEFAULT_COOLDOWN,
  clock: () => number = Date.now,
  onCooldown?: CooldownListener,
): Promise<RedisHealthStore> {
  const local = new LocalHealth(policy, clock);
  const me = randomBytes(6).toString("hex");
  const cmd: Redis = createRedisClient(url);
  const sub: Redis = createRedisClient(url);
  let connected = (await connectRedis(cmd)) && (await connectRedis(sub));

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

  /** Cooldowns already in force when this replica starts (or reconnects). */
  const load = async () => {
    const all = await cmd.hgetall(COOLDOWNS);
    for (const [d, v] of Object.entries(all)) {
      try {
        const { until, kind } = JSON.parse(v) as { until: number; kind: FailureKind };
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

  return {
    get connected() {
      return connected;
    },
    snapshot: () => local.snapshot(),
    begin(d) {
      local.get(d).inFlight++;
    },
    end(d, r) {
      const h = local.get(d);
      h.inFlight = Math.max(0, h.inFlight - 1);
      const change = local.apply(d, r);
      if (change === "recovered") {
        background(
          cmd
            .multi()
            .del(failsKey(d))
            .hdel(COOLDOWNS, d)
            .del(probeKey(d))
            .exec()
            .then(() => publish({ t: "ok", d, from: me })),
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
    async close() {
      sub.disconnect();
      await cmd.quit().catch(() => cmd.disconnect());
    },
  };
}
