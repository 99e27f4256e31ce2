// The shared limiter: every check of one admission is decided by one Lua script in one round
// trip, atomically, across all replicas. All keys of an admission carry the same hash tag (the
// caller's team), so the script runs on one Redis Cluster slot; teams spread across slots.
// Settlements are batched and written in the background. While Redis is away, admissions fall
// back to the in-process limiter (limits then hold per replica) and settlements wait in a
// bounded queue.
//
// Keys ({s} is the shard's hash tag: `team:<team>` for a caller's limits and budgets,
// `deployment:<id>` for a deployment's own limits, see admission.ts; every script, MULTI and
// GET/MGET touches one shard's keys only, so all of it works on a Redis Cluster):
//   sbx:rl:{s}:<check id>:<window start>       sliding-window counter (requests or tokens)
//   sbx:bs:{s}:<budget id>:<period start>      settled spend, nano-USD
//   sbx:br:{s}:<budget id>:<period start>      reservations: ZSET of request ids scored by expiry
//   sbx:brn:{s}:<budget id>:<period start>     reservations: HASH request id -> nano-USD held
//   sbx:brt:{s}:<budget id>:<period start>     the sum of the holds, kept as they come and go, so an
//                                              admission reads one number instead of summing every
//                                              request in flight (only expired holds are visited)
// A budget's period is the one its reservation was made in: settlement and extensions carry
// its start, so a request that straddles midnight is charged to the day that admitted it.

import type { RedisClient } from "../state/redis.ts";
import { createMemoryLimiter } from "./memory.ts";
import { periodBounds, type Period } from "./periods.ts";
import type { AdmissionRequest, AdmissionResult, BudgetState, ExtensionResult, Limiter, RateState, Settlement } from "./types.ts";

// Drop expired holds of one budget (ZSET, HASH, total): their nanos leave the running total.
const SWEEP = `
-- Whole numbers as Redis reads them (a Lua number past 14 digits would print as 1.2e+14).
local function int(x) return string.format('%.0f', x) end
local function sweep(z, h, t, now)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #gone == 0 then return end
  local sum = 0
  for _, rid in ipairs(gone) do
    local n = redis.call('HGET', h, rid)
    if n then
      sum = sum + tonumber(n)
      redis.call('HDEL', h, rid)
    end
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
  if sum ~= 0 then redis.call('DECRBY', t, int(sum)) end
end
`;

const ADMIT = `${SWEEP}
local now = tonumber(ARGV[1]); local nr = tonumber(ARGV[2]); local nb = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4]); local rid = ARGV[5]
local a = 6
local used = {}
for r = 0, nr - 1 do
  local limit = tonumber(ARGV[a]); local cost = tonumber(ARGV[a + 1]); local ws = tonumber(ARGV[a + 2]); local wm = tonumber(ARGV[a + 3])
  a = a + 4
  local cur = tonumber(redis.call('GET', KEYS[2 * r + 1]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2 * r + 2]) or '0')
  local est = prev * math.max(0, (wm - (now - ws)) / wm) + cur
  if est + cost > limit then return {0, r, ws + wm - now} end
  used[r + 1] = math.floor(est + cost)
end
local kb = 2 * nr
local out = {2}
for b = 0, nb - 1 do
  local limit = tonumber(ARGV[a]); local reserve = tonumber(ARGV[a + 1])
  a = a + 2
  local k = kb + 4 * b
  local spent = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
  sweep(KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], now)
  local resv = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
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
  local k = kb + 4 * b
  local prev = tonumber(redis.call('HGET', KEYS[k + 3], rid) or '0')
  redis.call('ZADD', KEYS[k + 2], now + ttl, rid)
  redis.call('HSET', KEYS[k + 3], rid, int(reserve))
  redis.call('INCRBY', KEYS[k + 4], int(reserve - prev))
  for j = 2, 4 do redis.call('PEXPIRE', KEYS[k + j], 2 * ttl) end
end
for r = 1, nr do out[#out + 1] = used[r] end
return out
`;

// One shard's settlements, folded: window corrections, spend, and the release of each hold (by
// what it holds now, extensions included; a hold already swept as expired is not released twice).
// KEYS: nw window keys, then 4 a budget period (spent, ZSET, HASH, total).
// ARGV: nw, nb, then per window (delta, ttl), then per budget (nanos, expireAt, n, n request ids).
const SETTLE = `
local function int(x) return string.format('%.0f', x) end
local nw = tonumber(ARGV[1]); local nb = tonumber(ARGV[2])
local a = 3; local k = 1
for i = 1, nw do
  local d = tonumber(ARGV[a]); local ttl = tonumber(ARGV[a + 1])
  a = a + 2
  if d ~= 0 then redis.call('INCRBY', KEYS[k], int(d)) end
  redis.call('PEXPIRE', KEYS[k], ttl)
  k = k + 1
end
for i = 1, nb do
  local nanos = tonumber(ARGV[a]); local expireAt = tonumber(ARGV[a + 1]); local n = tonumber(ARGV[a + 2])
  a = a + 3
  redis.call('INCRBY', KEYS[k], int(nanos))
  redis.call('PEXPIREAT', KEYS[k], expireAt)
  local sum = 0
  for j = 1, n do
    local rid = ARGV[a]
    a = a + 1
    local held = redis.call('HGET', KEYS[k + 2], rid)
    if held then
      sum = sum + tonumber(held)
      redis.call('HDEL', KEYS[k + 2], rid)
    end
    redis.call('ZREM', KEYS[k + 1], rid)
  end
  if sum ~= 0 then redis.call('DECRBY', KEYS[k + 3], int(sum)) end
  k = k + 4
end
return 1
`;

// More for a request's holds, on every budget or none. KEYS: 4 a budget (spent, ZSET, HASH,
// total). ARGV: request id, nanos, now, then each budget's limit.
const EXTEND = `${SWEEP}
local rid = ARGV[1]; local add = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local nb = #KEYS / 4
for b = 0, nb - 1 do
  local k = 4 * b
  sweep(KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], now)
  local spent = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
  local resv = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
  if not redis.call('HGET', KEYS[k + 3], rid) then return {0, b, spent, resv} end
  if spent + resv + add > tonumber(ARGV[4 + b]) then return {1, b, spent, resv} end
end
for b = 0, nb - 1 do
  local k = 4 * b
  redis.call('HINCRBY', KEYS[k + 3], rid, int(add))
  redis.call('INCRBY', KEYS[k + 4], int(add))
end
return {2}
`;

const rateKey = (shard: string, id: string, start: number) => `sbx:rl:{${shard}}:${id}:${start}`;
const spentKey = (shard: string, id: string, start: number) => `sbx:bs:{${shard}}:${id}:${start}`;
const resvKey = (shard: string, id: string, start: number) => `sbx:br:{${shard}}:${id}:${start}`;
const heldKey = (shard: string, id: string, start: number) => `sbx:brn:{${shard}}:${id}:${start}`;
const totalKey = (shard: string, id: string, start: number) => `sbx:brt:{${shard}}:${id}:${start}`;
/** The four keys of one budget period, in the scripts' order. */
const budgetKeys = (shard: string, id: string, start: number) => [spentKey(shard, id, start), resvKey(shard, id, start), heldKey(shard, id, start), totalKey(shard, id, start)];

/**
 * The keys of a window or period, made once per (shard, id, start) rather than per request: every
 * request in a window names the same keys. At most `max` checks are remembered (per-user limits
 * make one per user); past that the memo starts over.
 */
function keyMemo<K>(make: (shard: string, id: string, start: number, windowMs: number) => K, max = 10_000) {
  let byShard = new Map<string, Map<string, { start: number; keys: K }>>();
  let size = 0;
  /** `windowMs`: a rate window's length (the same for every request naming `id`); unused for budgets. */
  return (shard: string, id: string, start: number, windowMs = 0): K => {
    let ids = byShard.get(shard);
    if (!ids) byShard.set(shard, (ids = new Map()));
    const hit = ids.get(id);
    if (hit && hit.start === start) return hit.keys;
    const keys = make(shard, id, start, windowMs);
    if (hit) {
      hit.start = start;
      hit.keys = keys;
    } else {
      if (++size > max) {
        byShard = new Map([[shard, (ids = new Map())]]);
        size = 1;
      }
      ids.set(id, { start, keys });
    }
    return keys;
  };
}

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
  redis.defineCommand("sbxSettle", { lua: SETTLE });
  redis.defineCommand("sbxExtend", { lua: EXTEND });
  type Script = (n: number, ...args: (string | number)[]) => Promise<number[]>;
  const scripts = redis as unknown as { sbxAdmit: Script; sbxSettle: Script; sbxExtend: Script };
  const evalAdmit = scripts.sbxAdmit.bind(redis);
  const evalSettle = scripts.sbxSettle.bind(redis);
  const evalExtend = scripts.sbxExtend.bind(redis);

  const setDegraded = (d: boolean) => {
    if (d !== degraded) {
      degraded = d;
      opts.onDegraded?.(d);
    }
  };

  // One script per shard: a settlement's release of its hold and its spend land together (an
  // admission never sees neither), and each script stays on one cluster slot.
  const writeBatch = async (batch: Settlement[]) => {
    const byShard = new Map<string, Settlement[]>();
    for (const s of batch) {
      const list = byShard.get(s.shard);
      if (list) list.push(s);
      else byShard.set(s.shard, [s]);
    }
    await Promise.all([...byShard.entries()].map(([shard, list]) => writeShard(shard, list)));
  };
  // A batch is folded first: one INCRBY per window or spend key and one release list per budget
  // period, whatever the number of requests in it.
  const writeShard = async (shard: string, batch: Settlement[]) => {
    const windows = new Map<string, { delta: number; ttl: number }>();
    const budgets = new Map<string, { id: string; start: number; nanos: number; expireAt: number; released: string[] }>();
    for (const s of batch) {
      for (const a of s.tokenAdjustments) {
        const key = rateKey(s.shard, a.id, s.now - (s.now % a.windowMs));
        const w = windows.get(key);
        if (w) w.delta += a.delta;
        else windows.set(key, { delta: a.delta, ttl: 2 * a.windowMs });
      }
      for (const b of s.budgets) {
        const start = b.periodStart ?? periodBounds(b.period, s.now).start;
        const k = `${b.id}\n${start}`;
        let x = budgets.get(k);
        if (!x) budgets.set(k, (x = { id: b.id, start, nanos: 0, expireAt: periodBounds(b.period, start).end + 7 * 86_400_000, released: [] }));
        x.nanos += b.actualNanos;
        x.released.push(s.requestId);
      }
    }
    const keys: string[] = [];
    const args: (string | number)[] = [windows.size, budgets.size];
    for (const [key, w] of windows) {
      keys.push(key);
      args.push(Math.round(w.delta), w.ttl);
    }
    for (const x of budgets.values()) {
      keys.push(...budgetKeys(shard, x.id, x.start));
      args.push(Math.round(x.nanos), x.expireAt, x.released.length, ...x.released);
    }
    if (keys.length > 0) await evalSettle(keys.length, ...keys, ...args);
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

  // A window's two keys (this one, the previous one) and a period's four, made once each.
  const windowKeys = keyMemo((shard, id, start, windowMs) => [rateKey(shard, id, start), rateKey(shard, id, start - windowMs)] as const);
  const periodKeys = keyMemo(budgetKeys);

  return {
    async admit(req: AdmissionRequest): Promise<AdmissionResult> {
      if (req.rates.length === 0 && req.budgets.length === 0) return { ok: true, soft: [] };
      const keys: string[] = [];
      const args: (string | number)[] = [req.now, req.rates.length, req.budgets.length, req.reservationTtlMs, req.requestId];
      for (const c of req.rates) {
        const start = req.now - (req.now % c.windowMs);
        const [cur, prev] = windowKeys(req.shard, c.id, start, c.windowMs);
        keys.push(cur, prev);
        args.push(c.limit, Math.round(c.cost), start, c.windowMs);
      }
      for (const b of req.budgets) {
        const k = periodKeys(req.shard, b.id, b.periodStart ?? periodBounds(b.period, req.now).start);
        keys.push(k[0], k[1], k[2], k[3]);
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
      const soft: { id: string; spentNanos: number; limitNanos: number }[] = [];
      req.budgets.forEach((b, i) => {
        if (res[i + 1] >= b.limitNanos * b.softThreshold) soft.push({ id: b.id, spentNanos: res[i + 1], limitNanos: b.limitNanos });
      });
      // After the budgets' spend: each rate window's count, this request's included.
      const at = 1 + req.budgets.length;
      const rates = req.rates.map((c, i) => ({ check: c, used: res[at + i] ?? 0, resetMs: req.now - (req.now % c.windowMs) + c.windowMs - req.now }));
      return { ok: true, soft, rates };
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
    async extend(x): Promise<ExtensionResult> {
      if (x.budgets.length === 0) return { ok: true };
      const keys = x.budgets.flatMap((b) => budgetKeys(x.shard, b.id, b.periodStart));
      try {
        const res = await evalExtend(keys.length, ...keys, x.requestId, Math.round(x.nanos), x.now, ...x.budgets.map((b) => Math.round(b.limitNanos)));
        setDegraded(false);
        if (res[0] === 2) return { ok: true };
        return { ok: false, index: res[1], reason: res[0] === 0 ? "unknown" : "no_room", spentNanos: res[2], reservedNanos: res[3] };
      } catch {
        setDegraded(true);
        // Redis is away: a hold made before it went is not known here; let the stream go on (as
        // limits are per replica meanwhile), and extend what this replica reserved itself.
        const r = await fallback.extend(x);
        return r.ok || r.reason === "no_room" ? r : { ok: true };
      }
    },
    async budgetState(shard, id, period: Period, now): Promise<BudgetState> {
      const { start } = periodBounds(period, now);
      try {
        // The running total, less holds that expired and were not swept yet.
        const [spent, total, expired] = await Promise.all([
          redis.get(spentKey(shard, id, start)),
          redis.get(totalKey(shard, id, start)),
          redis.zrangebyscore(resvKey(shard, id, start), "-inf", now),
        ]);
        const stale = expired.length ? (await redis.hmget(heldKey(shard, id, start), ...expired)).reduce((n, v) => n + Number(v ?? 0), 0) : 0;
        return { spentNanos: Number(spent ?? 0), reservedNanos: Math.max(0, Number(total ?? 0) - stale) };
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
      timer = undefined;
      // What is queued now is written, after a batch already under way (which would not include it).
      while (flushing) await flushing;
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
