// The shared limiter: every check of one admission is decided by one Lua script in one round
// trip, atomically, across all replicas. All keys of an admission carry the same hash tag (the
// caller's team), so the script runs on one Redis Cluster slot; teams spread across slots.
// Settlements are batched and written in the background. While Redis is away, admissions fall
// back to the in-process limiter (limits then hold per replica) and settlements wait in a
// bounded queue.
//
// Keys ({s} is the shard's hash tag: `team:<team>` for a caller's limits and budgets,
// `deployment:<id>` for a deployment's own limits, see admission.ts; a MULTI of settlements and
// every GET/MGET touch one shard's keys only, so all of it works on a Redis Cluster):
//   sbx:rl:{s}:<check id>:<window start>       sliding-window counter (requests or tokens)
//   sbx:bs:{s}:<budget id>:<period start>      settled spend, nano-USD
//   sbx:br:{s}:<budget id>:<period start>      reservations: ZSET of "<request id>:<nanos>" scored by expiry

import type { RedisClient } from "../state/redis.ts";
import { createMemoryLimiter } from "./memory.ts";
import { periodBounds, type Period } from "./periods.ts";
import type { AdmissionRequest, AdmissionResult, BudgetState, Limiter, RateState, Settlement } from "./types.ts";

const ADMIT = `
local now = tonumber(ARGV[1]); local nr = tonumber(ARGV[2]); local nb = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4]); local rid = ARGV[5]
local a = 6
for r = 0, nr - 1 do
  local limit = tonumber(ARGV[a]); local cost = tonumber(ARGV[a + 1]); local ws = tonumber(ARGV[a + 2]); local wm = tonumber(ARGV[a + 3])
  a = a + 4
  local cur = tonumber(redis.call('GET', KEYS[2 * r + 1]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2 * r + 2]) or '0')
  local est = prev * math.max(0, (wm - (now - ws)) / wm) + cur
  if est + cost > limit then return {0, r, ws + wm - now} end
end
local kb = 2 * nr
local out = {2}
for b = 0, nb - 1 do
  local limit = tonumber(ARGV[a]); local reserve = tonumber(ARGV[a + 1])
  a = a + 2
  local spent = tonumber(redis.call('GET', KEYS[kb + 2 * b + 1]) or '0')
  redis.call('ZREMRANGEBYSCORE', KEYS[kb + 2 * b + 2], '-inf', now)
  local resv = 0
  for _, m in ipairs(redis.call('ZRANGE', KEYS[kb + 2 * b + 2], 0, -1)) do
    resv = resv + tonumber(string.match(m, ':(%d+)$'))
  end
  if spent + resv + reserve > limit then return {1, b, spent, resv} end
  out[#out + 1] = spent
end
a = 6
for r = 0, nr - 1 do
  local cost = tonumber(ARGV[a + 1]); local wm = tonumber(ARGV[a + 3])
  a = a + 4
  redis.call('INCRBY', KEYS[2 * r + 1], cost)
  redis.call('PEXPIRE', KEYS[2 * r + 1], 2 * wm)
end
for b = 0, nb - 1 do
  local reserve = tonumber(ARGV[a + 1])
  a = a + 2
  redis.call('ZADD', KEYS[kb + 2 * b + 2], now + ttl, rid .. ':' .. reserve)
  redis.call('PEXPIRE', KEYS[kb + 2 * b + 2], 2 * ttl)
end
return out
`;

const rateKey = (shard: string, id: string, start: number) => `sbx:rl:{${shard}}:${id}:${start}`;
const spentKey = (shard: string, id: string, start: number) => `sbx:bs:{${shard}}:${id}:${start}`;
const resvKey = (shard: string, id: string, start: number) => `sbx:br:{${shard}}:${id}:${start}`;

export interface RedisLimiterOptions {
  /** Settlements waiting for Redis, at most. */
  maxQueued?: number;
  /** Batch window for settlements, ms. */
  flushEveryMs?: number;
  onDegraded?: (degraded: boolean) => void;
}

export function createRedisLimiter(redis: RedisClient, opts: RedisLimiterOptions = {}): Limiter & { readonly droppedSettlements: number } {
  const fallback = createMemoryLimiter();
  const maxQueued = opts.maxQueued ?? 100_000;
  const every = opts.flushEveryMs ?? 50;
  let degraded = false;
  let queue: Settlement[] = [];
  let dropped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> | undefined;
  redis.defineCommand("sbxAdmit", { lua: ADMIT });
  const evalAdmit = (redis as unknown as { sbxAdmit(n: number, ...args: (string | number)[]): Promise<number[]> }).sbxAdmit.bind(redis);

  const setDegraded = (d: boolean) => {
    if (d !== degraded) {
      degraded = d;
      opts.onDegraded?.(d);
    }
  };

  // One MULTI per shard: a settlement's reservation release and spend land together (an
  // admission never sees neither), and each transaction stays on one cluster slot.
  const writeBatch = async (batch: Settlement[]) => {
    const byShard = new Map<string, Settlement[]>();
    for (const s of batch) {
      const list = byShard.get(s.shard);
      if (list) list.push(s);
      else byShard.set(s.shard, [s]);
    }
    await Promise.all([...byShard.values()].map(writeShard));
  };
  // A batch is folded first: one INCRBY per window or spend key and one ZREM per reservation
  // set, whatever the number of requests in it.
  const writeShard = async (batch: Settlement[]) => {
    const windows = new Map<string, { delta: number; ttl: number }>();
    const spent = new Map<string, { nanos: number; expireAt: number }>();
    const released = new Map<string, string[]>();
    for (const s of batch) {
      for (const a of s.tokenAdjustments) {
        const key = rateKey(s.shard, a.id, s.now - (s.now % a.windowMs));
        const w = windows.get(key);
        if (w) w.delta += a.delta;
        else windows.set(key, { delta: a.delta, ttl: 2 * a.windowMs });
      }
      for (const b of s.budgets) {
        const { start, end } = periodBounds(b.period, s.now);
        const sk = spentKey(s.shard, b.id, start);
        const x = spent.get(sk);
        if (x) x.nanos += b.actualNanos;
        else spent.set(sk, { nanos: b.actualNanos, expireAt: end + 7 * 86_400_000 });
        const rk = resvKey(s.shard, b.id, start);
        const member = `${s.requestId}:${Math.round(b.reservedNanos)}`;
        const list = released.get(rk);
        if (list) list.push(member);
        else released.set(rk, [member]);
      }
    }
    const p = redis.multi();
    for (const [key, w] of windows) {
      const d = Math.round(w.delta);
      if (d !== 0) p.incrby(key, d);
      p.pexpire(key, w.ttl);
    }
    for (const [key, members] of released) p.zrem(key, ...members);
    for (const [key, x] of spent) {
      p.incrby(key, Math.round(x.nanos));
      p.pexpireat(key, x.expireAt);
    }
    const res = await p.exec();
    if (res?.some(([err]) => err)) throw res.find(([err]) => err)![0];
  };

  const flush = async (): Promise<void> => {
    timer = undefined;
    if (flushing) return flushing;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    flushing = writeBatch(batch).then(
      () => setDegraded(false),
      () => {
        // Redis is away: keep the batch (bounded) for the next flush.
        setDegraded(true);
        const room = maxQueued - queue.length;
        if (batch.length > room) dropped += batch.length - Math.max(0, room);
        queue = [...batch.slice(0, Math.max(0, room)), ...queue];
        timer ??= setTimeout(() => void flush(), 1_000);
      },
    );
    try {
      await flushing;
    } finally {
      flushing = undefined;
    }
  };

  return {
    async admit(req: AdmissionRequest): Promise<AdmissionResult> {
      if (req.rates.length === 0 && req.budgets.length === 0) return { ok: true, soft: [] };
      const keys: string[] = [];
      const args: (string | number)[] = [req.now, req.rates.length, req.budgets.length, req.reservationTtlMs, req.requestId];
      for (const c of req.rates) {
        const start = req.now - (req.now % c.windowMs);
        keys.push(rateKey(req.shard, c.id, start), rateKey(req.shard, c.id, start - c.windowMs));
        args.push(c.limit, Math.round(c.cost), start, c.windowMs);
      }
      for (const b of req.budgets) {
        const { start } = periodBounds(b.period, req.now);
        keys.push(spentKey(req.shard, b.id, start), resvKey(req.shard, b.id, start));
        args.push(Math.round(b.limitNanos), Math.round(b.reserveNanos));
      }
      let res: number[];
      try {
        res = await evalAdmit(keys.length, ...keys, ...args);
        setDegraded(false);
      } catch {
        setDegraded(true);
        return fallback.admit(req);
      }
      if (res[0] === 0) return { ok: false, kind: "rate", check: req.rates[res[1]], retryAfterMs: Math.max(1, res[2]) };
      if (res[0] === 1) {
        const b = req.budgets[res[1]];
        return { ok: false, kind: "budget", check: b, spentNanos: res[2], reservedNanos: res[3], resetAt: periodBounds(b.period, req.now).end };
      }
      const soft = req.budgets
        .map((b, i) => ({ id: b.id, spentNanos: res[i + 1], limitNanos: b.limitNanos, t: b.softThreshold }))
        .filter((x) => x.spentNanos >= x.limitNanos * x.t)
        .map(({ id, spentNanos, limitNanos }) => ({ id, spentNanos, limitNanos }));
      return { ok: true, soft };
    },
    settle(s) {
      if (degraded) fallback.settle(s);
      if (queue.length >= maxQueued) {
        dropped++;
        return;
      }
      queue.push(s);
      timer ??= setTimeout(() => void flush(), every);
    },
    async budgetState(shard, id, period: Period, now): Promise<BudgetState> {
      const { start } = periodBounds(period, now);
      try {
        const [spent, members] = await Promise.all([redis.get(spentKey(shard, id, start)), redis.zrangebyscore(resvKey(shard, id, start), now, "+inf")]);
        const reserved = members.reduce((n, m) => n + Number(m.slice(m.lastIndexOf(":") + 1)), 0);
        return { spentNanos: Number(spent ?? 0), reservedNanos: reserved };
      } catch {
        return fallback.budgetState(shard, id, period, now);
      }
    },
    async rateState(shard, id, windowMs, now): Promise<RateState> {
      const start = now - (now % windowMs);
      try {
        const [cur, prev] = await redis.mget(rateKey(shard, id, start), rateKey(shard, id, start - windowMs));
        return { used: Number(prev ?? 0) * Math.max(0, (windowMs - (now - start)) / windowMs) + Number(cur ?? 0) };
      } catch {
        return fallback.rateState(shard, id, windowMs, now);
      }
    },
    async flush() {
      clearTimeout(timer);
      await flush();
    },
    async close() {
      clearTimeout(timer);
      await flush().catch(() => {});
    },
    mode: () => (degraded ? "memory (redis unavailable)" : "redis"),
    get droppedSettlements() {
      return dropped;
    },
  };
}
