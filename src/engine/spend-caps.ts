// Spending caps of deployments and providers (`budget: {period, limit_usd}` on a deployment or a
// provider): what the platform spends on one deployment, or on all of one provider's deployments,
// whoever calls (LiteLLM's provider budget routing, Bifrost's and Portkey's provider budgets);
// and of request tags (`tag_budgets`, LiteLLM's tag budgets): past a tag's cap, a request carrying
// the tag is refused (resource_exhausted) whatever deployment it would reach.
// Past its cap a deployment is left out of routing (`over_budget`, with what it spent) and the
// plan falls back to the next candidate; when every candidate is over, the request is refused
// with resource_exhausted, naming the caps and when they reset. Calendar periods in UTC (day,
// ISO week, month), as the callers' budgets. A cap found spent is alerted (spend_cap_reached),
// once per period across replicas.
//
// The spending is read from the usage store (what every replica recorded: Redis or PostgreSQL
// when configured) every few seconds, off the request path: a request reads a map. The cap is
// therefore soft: requests in flight, and those answered within a refresh (plus the usage store's
// write batching), may pass it. Callers' budgets, which must hold, reserve on Redis instead.

import type { Alerter } from "../alerts/alerts.ts";
import type { Config, DeploymentConfig, SpendCap } from "../config/types.ts";
import { periodBounds } from "../limits/periods.ts";
import { log } from "../telemetry/log.ts";
import type { UsageStore } from "../usage/store.ts";

/** One cap of a deployment as ListModels shows it. */
export interface CapStanding {
  scope: Scope;
  period: SpendCap["period"];
  limitNanos: number;
  spentNanos: number;
  over: boolean;
  resetAt: number;
}

export interface SpendCaps {
  /** The caps on `d` (its own, then its provider's) with what was spent this period. */
  standing(d: DeploymentConfig): CapStanding[];
  /** Each capped provider's cap, with what its deployments spent this period. */
  providers(): [string, CapStanding][];
  /** Every cap in force (deployments', providers', then tags'), with its name. */
  all(): (CapStanding & { name: string })[];
  /** Why a request with these tags is refused (a tag's cap is spent), or undefined. Never waits. */
  overTags(tags: readonly string[]): string | undefined;
  /** Why routing skips `d` (its cap or its provider's is reached), or undefined. Never waits. */
  over(d: DeploymentConfig): string | undefined;
  /** Read the spending of the capped deployments, providers and tags again. */
  refresh(): Promise<void>;
  start(): void;
  stop(): void;
}

const NANOS_PER_USD = 1e9;
type Scope = "deployment" | "provider" | "tag";
/** Dollars: cents from a dollar up, two significant digits below (a cap of $0.0005 reads as such). */
const usd = (nanos: number) => {
  const v = nanos / NANOS_PER_USD;
  return `$${v >= 1 || v === 0 ? v.toFixed(2) : Number(v.toPrecision(2)).toString()}`;
};

/** Spent in one period (nano-USD), by deployment id, provider name or tag. */
interface Spent {
  start: number;
  by: ReadonlyMap<string, number>;
}

export function createSpendCaps(opts: {
  config: () => Config;
  store: () => UsageStore | undefined;
  /** Told of each cap found spent (the alerter sends each once per period). */
  alerts?: Pick<Alerter, "emit">;
  everyMs?: number;
  now?: () => number;
}): SpendCaps {
  const now = opts.now ?? Date.now;
  /** By scope ("deployment", "provider", "tag") and period. */
  let spent = new Map<string, Spent>();
  let providerCaps = new Map<string, SpendCap>();
  let tagCaps = new Map<string, SpendCap>();
  let timer: NodeJS.Timeout | undefined;

  const stand = (scope: Scope, name: string, cap: SpendCap, t: number): CapStanding => {
    const s = spent.get(`${scope}:${cap.period}`);
    const { start, end } = periodBounds(cap.period, t);
    // A new period starts at zero until the next refresh reads it.
    const n = s && s.start === start ? (s.by.get(name) ?? 0) : 0;
    const limit = Math.round(cap.limitUsd * NANOS_PER_USD);
    return { scope, period: cap.period, limitNanos: limit, spentNanos: n, over: n >= limit, resetAt: end };
  };
  const check = (scope: Scope, name: string, cap: SpendCap, t: number): string | undefined => {
    const c = stand(scope, name, cap, t);
    if (!c.over) return undefined;
    return `${scope === "deployment" ? "its" : `${scope} "${name}"'s`} ${cap.period} budget of ${usd(c.limitNanos)} is spent (${usd(c.spentNanos)}); resets ${new Date(c.resetAt).toISOString()}`;
  };

  const refresh = async (): Promise<void> => {
    const store = opts.store();
    const cfg = opts.config();
    const t = now();
    providerCaps = new Map(cfg.providers.filter((p) => p.budget).map((p) => [p.name, p.budget!]));
    // One query per dimension and period in use.
    const wanted = new Set<string>();
    for (const d of cfg.deployments) if (d.budget) wanted.add(`deployment:${d.budget.period}`);
    for (const c of providerCaps.values()) wanted.add(`provider:${c.period}`);
    tagCaps = new Map(cfg.tagBudgets.map((b) => [b.tag, b]));
    for (const c of tagCaps.values()) wanted.add(`tag:${c.period}`);
    if (!store || wanted.size === 0) {
      spent = new Map();
      return;
    }
    const next = new Map<string, Spent>();
    for (const w of wanted) {
      const [dimension, period] = w.split(":") as [Scope, SpendCap["period"]];
      const { start } = periodBounds(period, t);
      const r = await store.query({ start, end: t + 1, granularity: "total", groupBy: [dimension], filters: [] });
      const by = new Map<string, number>();
      for (const row of r.rows) {
        const name = row.group[dimension];
        if (name) by.set(name, (by.get(name) ?? 0) + Number(row.cost.total));
      }
      next.set(w, { start, by });
    }
    spent = next;
    if (!opts.alerts) return;
    const tell = (scope: Scope, name: string, cap: SpendCap) => {
      const c = stand(scope, name, cap, t);
      // A cap of 0 is a deployment switched off, not one that ran out: nothing to tell.
      if (c.over && c.limitNanos > 0) opts.alerts!.emit({ event: "spend_cap_reached", budget: `${scope}:${name}`, period: cap.period, periodStart: periodBounds(cap.period, t).start, spentNanos: c.spentNanos, limitNanos: c.limitNanos });
    };
    for (const d of cfg.deployments) if (d.budget) tell("deployment", d.id, d.budget);
    for (const [name, cap] of providerCaps) tell("provider", name, cap);
    for (const [name, cap] of tagCaps) tell("tag", name, cap);
  };

  /**
   * One refresh at a time. A caller that asks while one runs gets the next one, which starts when
   * it ends (that one may have read the store before the caller's records were in it); everyone
   * who asks meanwhile shares it.
   */
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const refreshNow = (): Promise<void> => {
    if (running) {
      queued ??= running.then(() => {
        queued = undefined;
        return refreshNow();
      });
      return queued;
    }
    running = refresh()
      .catch((err) => log("warn", "spending caps: could not read the usage store", { error: (err as Error)?.message ?? String(err) }))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    standing(d) {
      const t = now();
      const pc = providerCaps.get(d.provider);
      return [...(d.budget ? [stand("deployment", d.id, d.budget, t)] : []), ...(pc ? [stand("provider", d.provider, pc, t)] : [])];
    },
    all() {
      const t = now();
      const own = opts.config().deployments.filter((d) => d.budget).map((d) => ({ name: d.id, ...stand("deployment", d.id, d.budget!, t) }));
      return [...own, ...[...providerCaps].map(([name, cap]) => ({ name, ...stand("provider", name, cap, t) })), ...[...tagCaps].map(([name, cap]) => ({ name, ...stand("tag", name, cap, t) }))];
    },
    overTags(tags) {
      if (tagCaps.size === 0 || tags.length === 0) return undefined;
      const t = now();
      for (const tag of tags) {
        const cap = tagCaps.get(tag);
        const why = cap && check("tag", tag, cap, t);
        if (why) return why;
      }
      return undefined;
    },
    providers() {
      const t = now();
      return [...providerCaps].map(([name, cap]) => [name, stand("provider", name, cap, t)]);
    },
    over(d) {
      if (!d.budget && providerCaps.size === 0) return undefined;
      const t = now();
      if (d.budget) {
        const why = check("deployment", d.id, d.budget, t);
        if (why) return why;
      }
      const pc = providerCaps.get(d.provider);
      return pc ? check("provider", d.provider, pc, t) : undefined;
    },
    refresh: refreshNow,
    start() {
      void refreshNow();
      timer = setInterval(() => void refreshNow(), opts.everyMs ?? 5_000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
