// The in-process limiter: sliding-window counters and budget reservations for one replica
// (the embedded default, and the fallback while Redis is away).

import { periodBounds, type Period } from "./periods.ts";
import type { AdmissionRequest, AdmissionResult, BudgetState, Limiter, RateState, Settlement } from "./types.ts";

interface Window {
  start: number;
  cur: number;
  prev: number;
}

/** Sliding-window estimate: the previous window weighted by how much of it still overlaps. */
export function slidingEstimate(w: { cur: number; prev: number }, elapsed: number, windowMs: number): number {
  return w.prev * Math.max(0, (windowMs - elapsed) / windowMs) + w.cur;
}

export function createMemoryLimiter(): Limiter & { reset(): void } {
  const windows = new Map<string, Window>();
  const spent = new Map<string, number>();
  const reservations = new Map<string, Map<string, { nanos: number; expires: number }>>();

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
  const budgetKey = (id: string, period: Period, now: number) => `${id}:${periodBounds(period, now).start}`;
  const reserved = (key: string, now: number) => {
    const r = reservations.get(key);
    if (!r) return 0;
    let sum = 0;
    for (const [id, x] of r) {
      if (x.expires <= now) r.delete(id);
      else sum += x.nanos;
    }
    return sum;
  };

  return {
    async admit(req: AdmissionRequest): Promise<AdmissionResult> {
      const { now } = req;
      for (const c of req.rates) {
        const w = win(c.id, c.windowMs, now);
        if (slidingEstimate(w, now - w.start, c.windowMs) + c.cost > c.limit) {
          return { ok: false, kind: "rate", check: c, retryAfterMs: w.start + c.windowMs - now };
        }
      }
      const soft: { id: string; spentNanos: number; limitNanos: number }[] = [];
      for (const b of req.budgets) {
        const key = budgetKey(b.id, b.period, now);
        const s = spent.get(key) ?? 0;
        const r = reserved(key, now);
        if (s + r + b.reserveNanos > b.limitNanos) {
          return { ok: false, kind: "budget", check: b, spentNanos: s, reservedNanos: r, resetAt: periodBounds(b.period, now).end };
        }
        if (s >= b.limitNanos * b.softThreshold) soft.push({ id: b.id, spentNanos: s, limitNanos: b.limitNanos });
      }
      for (const c of req.rates) win(c.id, c.windowMs, now).cur += c.cost;
      for (const b of req.budgets) {
        const key = budgetKey(b.id, b.period, now);
        let r = reservations.get(key);
        if (!r) reservations.set(key, (r = new Map()));
        r.set(req.requestId, { nanos: b.reserveNanos, expires: now + req.reservationTtlMs });
      }
      return { ok: true, soft };
    },
    settle(s: Settlement) {
      for (const a of s.tokenAdjustments) {
        const w = win(a.id, a.windowMs, s.now);
        w.cur = Math.max(0, w.cur + a.delta);
      }
      for (const b of s.budgets) {
        const key = budgetKey(b.id, b.period, s.now);
        reservations.get(key)?.delete(s.requestId);
        spent.set(key, (spent.get(key) ?? 0) + b.actualNanos);
      }
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
      reservations.clear();
    },
  };
}
