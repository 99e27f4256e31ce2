// The in-process limiter: sliding-window counters and budget reservations for one replica
// (the embedded default, and the fallback while Redis is away).

import { periodBounds, type Period } from "./periods.ts";
import type { AdmissionRequest, AdmissionResult, BudgetState, RateStanding, Extension, ExtensionResult, Limiter, RateState, Settlement } from "./types.ts";

interface Window {
  start: number;
  cur: number;
  prev: number;
}

/** Sliding-window estimate: the previous window weighted by how much of it still overlaps. */
export function slidingEstimate(w: { cur: number; prev: number }, elapsed: number, windowMs: number): number {
  return w.prev * Math.max(0, (windowMs - elapsed) / windowMs) + w.cur;
}

/** The reservations of one budget period: a running total, so an admission never sums them. */
interface Holds {
  total: number;
  byRequest: Map<string, { nanos: number; expires: number }>;
  /** Earliest expiry among them: expired holds are swept only once one may have expired. */
  nextExpiry: number;
}

/** How often ended windows and periods are looked for, and when one counts as ended. */
const SWEEP_EVERY_MS = 10 * 60_000;
/** Every rate window is a minute long; one unused for an hour is gone. */
const STALE_WINDOW_MS = 60 * 60_000;
/** A period that started over 32 days ago has ended, whatever its length (a month at most). */
const STALE_PERIOD_MS = 32 * 24 * 60 * 60_000;

export function createMemoryLimiter(): Limiter & { reset(): void } {
  const windows = new Map<string, Window>();
  const spent = new Map<string, number>();
  const holds = new Map<string, Holds>();

  const win = (id: string, windowMs: number, now: number): Window => {
    const start = now - (now % windowMs);
    let w = windows.get(id);
    if (!w) {
      w = { start, cur: 0, prev: 0 };
      windows.set(id, w);
    } else if (w.start !== start) {
      w.prev = start - w.start === windowMs ? w.cur : 0;
      w.cur = 0;
      w.start = start;
    }
    return w;
  };
  /** A budget's key in the period it was reserved in (`periodStart`), else the period of `now`. */
  const budgetKey = (id: string, period: Period, now: number, periodStart?: number) => `${id}:${periodStart ?? periodBounds(period, now).start}`;
  const reserved = (key: string, now: number): number => {
    const h = holds.get(key);
    if (!h) return 0;
    if (now >= h.nextExpiry) {
      h.nextExpiry = Infinity;
      for (const [id, x] of h.byRequest) {
        if (x.expires <= now) {
          h.byRequest.delete(id);
          h.total -= x.nanos;
        } else h.nextExpiry = Math.min(h.nextExpiry, x.expires);
      }
    }
    return h.total;
  };

  /**
   * Entries of ended windows and periods are dropped now and then: per-user limits and budgets make
   * one per end user, so an unpruned map would grow with every user ever seen.
   */
  let nextSweep = 0;
  const sweep = (now: number) => {
    if (now < nextSweep) return;
    nextSweep = now + SWEEP_EVERY_MS;
    for (const [id, w] of windows) if (now - w.start > STALE_WINDOW_MS) windows.delete(id);
    const ended = (key: string) => Number(key.slice(key.lastIndexOf(":") + 1)) < now - STALE_PERIOD_MS;
    for (const key of spent.keys()) if (ended(key)) spent.delete(key);
    for (const [key, h] of holds) if (h.byRequest.size === 0 && ended(key)) holds.delete(key);
  };

  return {
    async admit(req: AdmissionRequest): Promise<AdmissionResult> {
      const { now } = req;
      sweep(now);
      const rates: RateStanding[] = [];
      for (const c of req.rates) {
        const w = win(c.id, c.windowMs, now);
        const used = slidingEstimate(w, now - w.start, c.windowMs) + c.cost;
        if (used > c.limit) {
          return { ok: false, kind: "rate", check: c, retryAfterMs: w.start + c.windowMs - now };
        }
        rates.push({ check: c, used: Math.floor(used), resetMs: w.start + c.windowMs - now });
      }
      const soft: { id: string; spentNanos: number; limitNanos: number }[] = [];
      for (const b of req.budgets) {
        const key = budgetKey(b.id, b.period, now, b.periodStart);
        const s = spent.get(key) ?? 0;
        const r = reserved(key, now);
        if (s + r + b.reserveNanos > b.limitNanos) {
          return { ok: false, kind: "budget", check: b, spentNanos: s, reservedNanos: r, resetAt: periodBounds(b.period, now).end };
        }
        if (s >= b.limitNanos * b.softThreshold) soft.push({ id: b.id, spentNanos: s, limitNanos: b.limitNanos });
      }
      for (const c of req.rates) win(c.id, c.windowMs, now).cur += c.cost;
      const expires = now + req.reservationTtlMs;
      for (const b of req.budgets) {
        const key = budgetKey(b.id, b.period, now, b.periodStart);
        let h = holds.get(key);
        if (!h) holds.set(key, (h = { total: 0, byRequest: new Map(), nextExpiry: Infinity }));
        const prev = h.byRequest.get(req.requestId);
        h.total += b.reserveNanos - (prev?.nanos ?? 0);
        h.byRequest.set(req.requestId, { nanos: b.reserveNanos, expires });
        h.nextExpiry = Math.min(h.nextExpiry, expires);
      }
      return { ok: true, soft, rates };
    },
    settle(s: Settlement) {
      for (const a of s.tokenAdjustments) {
        const w = win(a.id, a.windowMs, s.now);
        w.cur = Math.max(0, w.cur + a.delta);
      }
      for (const b of s.budgets) {
        const key = budgetKey(b.id, b.period, s.now, b.periodStart);
        const h = holds.get(key);
        const x = h?.byRequest.get(s.requestId);
        if (h && x) {
          h.byRequest.delete(s.requestId);
          h.total -= x.nanos;
        }
        spent.set(key, (spent.get(key) ?? 0) + b.actualNanos);
      }
    },
    async extend(x: Extension): Promise<ExtensionResult> {
      const keys = x.budgets.map((b) => `${b.id}:${b.periodStart}`);
      for (let i = 0; i < keys.length; i++) {
        const r = reserved(keys[i], x.now);
        const s = spent.get(keys[i]) ?? 0;
        if (!holds.get(keys[i])?.byRequest.has(x.requestId)) return { ok: false, index: i, reason: "unknown", spentNanos: s, reservedNanos: r };
        if (s + r + x.nanos > x.budgets[i].limitNanos) return { ok: false, index: i, reason: "no_room", spentNanos: s, reservedNanos: r };
      }
      for (const key of keys) {
        const h = holds.get(key)!;
        h.byRequest.get(x.requestId)!.nanos += x.nanos;
        h.total += x.nanos;
      }
      return { ok: true };
    },
    async budgetState(_shard, id, period, now): Promise<BudgetState> {
      const key = budgetKey(id, period, now);
      return { spentNanos: spent.get(key) ?? 0, reservedNanos: reserved(key, now) };
    },
    async rateState(_shard, id, windowMs, now): Promise<RateState> {
      const w = windows.get(id);
      if (!w) return { used: 0 };
      const cur = win(id, windowMs, now);
      return { used: slidingEstimate(cur, now - cur.start, windowMs) };
    },
    async flush() {},
    async close() {},
    mode: () => "memory",
    reset() {
      windows.clear();
      spent.clear();
      holds.clear();
    },
  };
}
