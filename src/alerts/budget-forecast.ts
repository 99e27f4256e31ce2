// Budgets that will run out before their period ends, told while there is time to act: every few
// minutes (off the request path) the spending of each key's and team's budget (from the limiter,
// Redis when shared) and of each spending cap of a deployment, provider or tag (from the usage
// store, as the caps read it) is projected to the end of its period at the pace of the period so
// far; one that will pass its limit is alerted once per period (`budget_projected_exceeded`, with
// the projected spend and when the limit will be reached), as LiteLLM's projected-spend alerts do.
//
// A projection needs enough of the period behind it to mean something: at least a tenth of it (and
// an hour), and a tenth of the limit spent; a budget already spent is `budget_exhausted`'s, and a
// lifetime budget has no end to project to.

import type { Alerter } from "./alerts.ts";
import type { Directory } from "../control/directory.ts";
import type { SpendCaps } from "../engine/spend-caps.ts";
import { periodBounds, type Period } from "../limits/periods.ts";
import type { Limiter } from "../limits/types.ts";
import { log } from "../telemetry/log.ts";

/** How often budgets are projected. */
export const FORECAST_EVERY_MS = 5 * 60_000;
/** The share of its period (and at least this long) a budget must have run, and the share of its limit spent, before it is projected. */
export const MIN_ELAPSED_SHARE = 0.1;
export const MIN_ELAPSED_MS = 3_600_000;
export const MIN_SPENT_SHARE = 0.1;
/** Budgets read at once. */
const CONCURRENCY = 8;

export interface Projection {
  budget: string;
  period: Period;
  periodStart: number;
  spentNanos: number;
  limitNanos: number;
  projectedNanos: number;
  /** When the limit is reached at this pace (epoch ms). */
  exhaustedAt: number;
}

/**
 * What a period will have spent by its end at its pace so far, and when it reaches `limitNanos` at
 * that pace (if before the end); undefined for a lifetime budget and before a tenth of the period
 * (and an hour) has gone.
 */
export function projectedSpend(period: Period, spentNanos: number, limitNanos: number, now: number): { projectedNanos: number; exhaustedAt?: number } | undefined {
  if (period === "lifetime") return undefined;
  const { start, end } = periodBounds(period, now);
  const elapsed = now - start;
  if (elapsed < Math.max(MIN_ELAPSED_MS, (end - start) * MIN_ELAPSED_SHARE)) return undefined;
  const rate = spentNanos / elapsed;
  const projectedNanos = Math.round(spentNanos + rate * (end - now));
  const at = rate > 0 && spentNanos < limitNanos ? Math.round(now + (limitNanos - spentNanos) / rate) : undefined;
  return { projectedNanos, ...(at !== undefined && at < end ? { exhaustedAt: at } : {}) };
}

/** The projection of one budget at `now`, or undefined when it is not projected (too early, too little spent, already spent, lifetime) or will not pass its limit. */
export function project(budget: string, period: Period, spentNanos: number, limitNanos: number, now: number): Projection | undefined {
  if (limitNanos <= 0 || spentNanos >= limitNanos || spentNanos < limitNanos * MIN_SPENT_SHARE) return undefined;
  const p = projectedSpend(period, spentNanos, limitNanos, now);
  if (!p || p.projectedNanos <= limitNanos || p.exhaustedAt === undefined) return undefined;
  return { budget, period, periodStart: periodBounds(period, now).start, spentNanos, limitNanos, projectedNanos: p.projectedNanos, exhaustedAt: p.exhaustedAt };
}

export interface BudgetForecast {
  /** Project every budget now (the timer's work; tests call it with a time of their own). Resolves to the projections alerted. */
  tick(now?: number): Promise<Projection[]>;
  start(): void;
  stop(): void;
}

export function createBudgetForecast(deps: { directory: () => Directory; limits: () => Limiter; caps?: SpendCaps; alerts: Alerter; wanted: () => boolean; everyMs?: number }): BudgetForecast {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Projection[]> | undefined;

  async function run(now: number): Promise<Projection[]> {
    const dir = deps.directory();
    // Key budgets are kept in their team's shard, as admission keeps them.
    const budgets: { shard: string; id: string; period: Period; limitNanos: number }[] = [];
    for (const k of dir.keys()) if (k.budget && !k.revokedAt) budgets.push({ shard: `team:${k.team}`, id: `key:${k.name}`, period: k.budget.period, limitNanos: Math.round(k.budget.limitUsd * 1e9) });
    for (const t of dir.teams()) if (t.budget) budgets.push({ shard: `team:${t.name}`, id: `team:${t.name}`, period: t.budget.period, limitNanos: Math.round(t.budget.limitUsd * 1e9) });
    const out: Projection[] = [];
    const limiter = deps.limits();
    for (let i = 0; i < budgets.length; i += CONCURRENCY) {
      const states = await Promise.all(budgets.slice(i, i + CONCURRENCY).map((b) => limiter.budgetState(b.shard, b.id, b.period, now).then((s) => ({ b, s }), () => undefined)));
      for (const x of states) {
        if (!x) continue;
        const p = project(x.b.id, x.b.period, x.s.spentNanos, x.b.limitNanos, now);
        if (p) out.push(p);
      }
    }
    // Spending caps of deployments, providers and tags, as last read from the usage store.
    for (const c of deps.caps?.all() ?? []) {
      const p = project(`${c.scope}:${c.name}`, c.period, c.spentNanos, c.limitNanos, now);
      if (p) out.push(p);
    }
    for (const p of out) deps.alerts.emit({ event: "budget_projected_exceeded", ...p });
    return out;
  }

  const forecast: BudgetForecast = {
    tick(now = Date.now()) {
      // One at a time: a slow store never piles ticks up.
      running ??= run(now).finally(() => (running = undefined));
      return running;
    },
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (!deps.wanted()) return;
        forecast.tick().catch((err: unknown) => log("warn", "budget forecast failed", { error: String((err as Error)?.message ?? err) }));
      }, deps.everyMs ?? FORECAST_EVERY_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
  return forecast;
}
