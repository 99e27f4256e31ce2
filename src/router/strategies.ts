// How a route's strategy orders the deployments that passed the planner's hard filters
// (capabilities, context window, cost and latency caps), and how an A/B split assigns a request
// to a variant. Everything here is pure: the health snapshot, the request's estimates and the
// seeded random source come in through StrategyContext.

import type { DeploymentConfig, RouteConfig, RouteTarget, RouteVariant, Task } from "../config/types.ts";
import type { HealthSnapshot } from "../state/health.ts";
import type { Classification } from "./classifier.ts";

/** One target of a route, resolved once per route (see routeData). */
export interface Item {
  d: DeploymentConfig;
  weight: number;
  /** 0-based position in the route's (or variant's) target list: the tie-breaker everywhere. */
  priority: number;
}

export interface Ranked {
  item: Item;
  reason: string;
  /** The strategy's score (informational; see Candidate.score). */
  score: number;
}

export interface StrategyContext {
  health: HealthSnapshot;
  rand: () => number;
  stream: boolean;
  /** Expected cost of this request on a deployment, nano-USD. */
  cost(d: DeploymentConfig): number;
  /** The request's classification, computed at most once per plan. */
  classification(): Classification;
  /** The request's task: its hint, or the classifier's guess. */
  task(): { task: Task; hinted: boolean };
}

const byPriority = (a: Item, b: Item) => a.priority - b.priority;
const rankOf = (i: number, n: number) => `rank ${i + 1}/${n}`;
const fmt = (x: number, digits = 2) => x.toFixed(digits);

/** The estimate the latency strategy orders by: TTFT for streams, total latency for unary calls. */
export function latencyEstimate(health: HealthSnapshot, d: DeploymentConfig, stream: boolean): { ms?: number; what: string; observedAt?: number } {
  const h = health.get(d.id);
  if (stream && h?.ttftMs !== undefined) return { ms: h.ttftMs, what: "TTFT", observedAt: h.observedAt };
  // A stream on a deployment only ever called unary: total latency bounds its TTFT.
  if (h?.latencyMs !== undefined) return { ms: h.latencyMs, what: stream ? "latency (no TTFT yet)" : "latency", observedAt: h.observedAt };
  return { what: stream ? "TTFT" : "latency" };
}

function priority(items: Item[]): Ranked[] {
  return items.map((item, i) => ({ item, reason: `priority ${i + 1}`, score: i + 1 }));
}

/** Weighted shuffle without replacement: the first pick follows the weights; the rest become the fallback order. */
function weighted(items: Item[], rand: () => number): Ranked[] {
  const pool = items.filter((t) => t.weight > 0);
  const total0 = pool.reduce((s, t) => s + t.weight, 0);
  const out: Ranked[] = [];
  while (pool.length) {
    const total = pool.reduce((s, t) => s + t.weight, 0);
    let x = rand() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      x -= pool[i].weight;
      if (x < 0) break;
    }
    const [item] = pool.splice(i, 1);
    out.push({ item, reason: `weight ${item.weight}/${total0}${out.length === 0 ? ", drawn" : ", drawn for fallback"}`, score: item.weight / total0 });
  }
  return out;
}

/**
 * Lowest moving estimate first (TTFT for streams, total latency for unary). Deployments never
 * observed, or not observed within `stale_after_ms`, come after the observed ones; but with
 * probability epsilon one of them, drawn at random, goes first, so a recovered or new
 * deployment gets traffic and a fresh estimate.
 */
function latency(route: RouteConfig, items: Item[], ctx: StrategyContext): Ranked[] {
  const { epsilon, staleAfterMs } = route.latency;
  const now = ctx.health.now;
  const fresh: { item: Item; ms: number; what: string }[] = [];
  const stale: { item: Item; ms: number; what: string; age: number }[] = [];
  const unseen: Item[] = [];
  for (const item of items) {
    const e = latencyEstimate(ctx.health, item.d, ctx.stream);
    if (e.ms === undefined) unseen.push(item);
    else if (e.observedAt === undefined || now - e.observedAt > staleAfterMs) stale.push({ item, ms: e.ms, what: e.what, age: e.observedAt === undefined ? Infinity : now - e.observedAt });
    else fresh.push({ item, ms: e.ms, what: e.what });
  }
  fresh.sort((a, b) => a.ms - b.ms || byPriority(a.item, b.item));
  stale.sort((a, b) => a.ms - b.ms || byPriority(a.item, b.item));
  const ago = (ms: number) => (ms === Infinity ? "unknown time" : ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);
  const n = items.length;
  const out: Ranked[] = [];
  for (const f of fresh) out.push({ item: f.item, reason: `${f.what} estimate ${Math.round(f.ms)} ms, ${rankOf(out.length, n)}`, score: f.ms });
  for (const s of stale) out.push({ item: s.item, reason: `${s.what} estimate ${Math.round(s.ms)} ms is stale (not observed for ${ago(s.age)})`, score: s.ms });
  for (const item of unseen) out.push({ item, reason: "no latency estimate yet", score: 0 });
  // Exploration: one draw decides, a second picks which unobserved deployment goes first.
  const explorable = stale.length + unseen.length;
  if (explorable > 0 && epsilon > 0) {
    const x = ctx.rand();
    if (x < epsilon) {
      const k = fresh.length + Math.min(explorable - 1, Math.floor(ctx.rand() * explorable));
      const [pick] = out.splice(k, 1);
      pick.reason = `exploring (drew ${fmt(x, 3)} < epsilon ${epsilon}): ${pick.reason}`;
      out.unshift(pick);
    }
  }
  return out;
}

/** Cheapest expected cost of this request first (estimated input tokens, max output tokens). */
function cost(items: Item[], ctx: StrategyContext): Ranked[] {
  const sorted = items.map((item) => ({ item, c: ctx.cost(item.d) })).sort((a, b) => a.c - b.c || byPriority(a.item, b.item));
  return sorted.map(({ item, c }, i) => ({ item, reason: `expected cost ${c} nano-USD, ${i === 0 ? "cheapest" : rankOf(i, sorted.length)}`, score: c }));
}

/** Fewest attempts in flight (on this replica) first; ties by priority. */
function leastBusy(items: Item[], ctx: StrategyContext): Ranked[] {
  const sorted = items.map((item) => ({ item, n: ctx.health.get(item.d.id)?.inFlight ?? 0 })).sort((a, b) => a.n - b.n || byPriority(a.item, b.item));
  return sorted.map(({ item, n }, i) => ({ item, reason: `${n} in flight, ${rankOf(i, sorted.length)}`, score: n }));
}

/** How long an observation of a deployment's usage takes to fade out: its rate window. */
export const USAGE_WINDOW_MS = 60_000;

/**
 * The share of its rate limits a deployment is using now, as last observed from the shared limiter
 * and faded linearly over a window since (the limiter's sliding window forgets at that pace), or
 * undefined when never observed.
 */
export function usageNow(health: HealthSnapshot, d: DeploymentConfig): { fraction: number; ageMs: number } | undefined {
  const u = health.get(d.id)?.usage;
  if (!u) return undefined;
  const ageMs = Math.max(0, health.now - u.at);
  return { fraction: u.fraction * Math.max(0, 1 - ageMs / USAGE_WINDOW_MS), ageMs };
}

/**
 * LiteLLM's usage-based routing, spread instead of herded: each deployment is drawn with a weight
 * equal to its headroom (1 minus the share of its requests- or tokens-per-minute limit in use), so
 * traffic follows capacity (a deployment with four times the limit ends up with four times the
 * requests, each as full as the other) and one nearing its limit is drawn ever less. A deployment
 * without limits, or never observed, has all its headroom. Those at their limit come last, in
 * priority order.
 */
function usage(items: Item[], ctx: StrategyContext): Ranked[] {
  const rows = items.map((item) => {
    const u = item.d.limits ? usageNow(ctx.health, item.d) : undefined;
    return { item, u, headroom: u ? Math.max(0, 1 - u.fraction) : 1 };
  });
  const describe = (r: (typeof rows)[number]) =>
    !r.item.d.limits
      ? "no rate limits: full headroom"
      : !r.u
        ? "usage not observed yet: full headroom"
        : `${Math.round(r.u.fraction * 100)}% of its rate limit in use (observed ${(r.u.ageMs / 1000).toFixed(1)} s ago), headroom ${fmt(r.headroom)}`;
  const pool = rows.filter((r) => r.headroom > 0);
  const full = rows.filter((r) => r.headroom <= 0).sort((a, b) => byPriority(a.item, b.item));
  const out: Ranked[] = [];
  while (pool.length) {
    const total = pool.reduce((s, r) => s + r.headroom, 0);
    let x = ctx.rand() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      x -= pool[i].headroom;
      if (x < 0) break;
    }
    const [r] = pool.splice(i, 1);
    out.push({ item: r.item, reason: `${describe(r)}, ${out.length === 0 ? "drawn" : "drawn for fallback"}`, score: r.headroom });
  }
  for (const r of full) out.push({ item: r.item, reason: `${describe(r)}: at its limit, last`, score: 0 });
  return out;
}

/**
 * Simple prompts (classifier score below the threshold) go cheapest first (then lowest quality);
 * complex ones go to the highest quality first (then cheapest).
 */
function complexity(route: RouteConfig, items: Item[], ctx: StrategyContext): Ranked[] {
  const { complexity: score } = ctx.classification();
  const { threshold } = route.complexity;
  const complex = score >= threshold;
  const rows = items.map((item) => ({ item, c: ctx.cost(item.d), q: item.d.quality }));
  rows.sort(complex ? (a, b) => b.q - a.q || a.c - b.c || byPriority(a.item, b.item) : (a, b) => a.c - b.c || a.q - b.q || byPriority(a.item, b.item));
  const head = complex ? `complexity ${fmt(score)} >= ${threshold}, complex: strongest first` : `complexity ${fmt(score)} < ${threshold}, simple: cheapest first`;
  return rows.map(({ item, c, q }, i) => ({ item, reason: `${head}; quality ${q}, expected ${c} nano-USD, ${rankOf(i, rows.length)}`, score: complex ? q : c }));
}

/**
 * Weighted sum, higher is better, of three terms normalised over the eligible deployments
 * (min-max, 1 = best): quality for the task (quality, plus strength_bonus when the deployment's
 * strengths include the request's task, capped at 1), cost (on a log scale: prices span orders
 * of magnitude) and latency (the latency strategy's estimate; unknown counts as middling, 0.5).
 * Weights are the route's `hybrid` options, divided by their sum.
 */
function hybrid(route: RouteConfig, items: Item[], ctx: StrategyContext): Ranked[] {
  const { qualityWeight, costWeight, latencyWeight, strengthBonus } = route.hybrid;
  const wsum = qualityWeight + costWeight + latencyWeight;
  const { task, hinted } = ctx.task();
  const rows = items.map((item) => {
    const strong = item.d.strengths.includes(task);
    return {
      item,
      strong,
      q: Math.min(1, item.d.quality + (strong ? strengthBonus : 0)),
      c: ctx.cost(item.d),
      lc: Math.log1p(ctx.cost(item.d)),
      ms: latencyEstimate(ctx.health, item.d, ctx.stream).ms,
    };
  });
  const span = (xs: number[]) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of xs) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
    return { lo, hi };
  };
  const Q = span(rows.map((r) => r.q));
  const C = span(rows.map((r) => r.lc));
  const L = span(rows.flatMap((r) => (r.ms === undefined ? [] : [r.ms])));
  const up = (x: number, s: { lo: number; hi: number }) => (s.hi > s.lo ? (x - s.lo) / (s.hi - s.lo) : 1);
  const down = (x: number, s: { lo: number; hi: number }) => (s.hi > s.lo ? (s.hi - x) / (s.hi - s.lo) : 1);
  const scored = rows.map((r) => {
    const qn = up(r.q, Q);
    const cn = down(r.lc, C);
    const ln = r.ms === undefined ? 0.5 : down(r.ms, L);
    const score = (qualityWeight * qn + costWeight * cn + latencyWeight * ln) / wsum;
    return { ...r, qn, cn, ln, score };
  });
  scored.sort((a, b) => b.score - a.score || byPriority(a.item, b.item));
  const taskNote = `task ${task} ${hinted ? "hinted" : "classified"}`;
  return scored.map((r, i) => ({
    item: r.item,
    reason:
      `hybrid score ${fmt(r.score, 3)}, ${rankOf(i, scored.length)}: quality ${fmt(r.qn)}${r.strong ? ` (strength bonus, ${taskNote})` : ""} x${qualityWeight}` +
      `, cost ${fmt(r.cn)} (${r.c} nano-USD) x${costWeight}, latency ${fmt(r.ln)}${r.ms === undefined ? " (unknown)" : ` (${Math.round(r.ms)} ms)`} x${latencyWeight}`,
    score: r.score,
  }));
}

/** Order the eligible targets of a route by its strategy. `task` routes order their own targets by priority. */
export function orderTargets(route: RouteConfig, items: Item[], ctx: StrategyContext): Ranked[] {
  switch (route.strategy) {
    case "weighted":
      return weighted(items, ctx.rand);
    case "latency":
      return latency(route, items, ctx);
    case "cost":
      return cost(items, ctx);
    case "least-busy":
      return leastBusy(items, ctx);
    case "usage":
      return usage(items, ctx);
    case "complexity":
      return complexity(route, items, ctx);
    case "hybrid":
      return hybrid(route, items, ctx);
    case "task":
    case "priority":
    default:
      return priority(items);
  }
}

// ---- A/B variants: weighted rendezvous hashing ----

/**
 * cyrb53 (public domain, bryc): a fast 53-bit string hash with good avalanche, two 32-bit lanes
 * mixed murmur-style. Part of the A/B assignment contract: changing it reassigns users.
 */
export function hash53(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const TWO_53 = 9007199254740992;

/**
 * Weighted rendezvous hashing: every variant v scores -ln(u(key, v)) / weight_v, with u uniform
 * in (0, 1] from hash53(name + NUL + key); the lowest score wins. Each score is an independent
 * exponential race, so variant v wins with probability weight_v / sum(weights), and changing one
 * variant's weight only moves keys to it (weight up) or away from it (weight down): the other
 * variants' scores do not change. Weight-0 variants never win.
 */
export function pickVariant<V extends Pick<RouteVariant, "name" | "weight">>(variants: readonly V[], key: string): V {
  let best = variants[0];
  let bestScore = Infinity;
  for (const v of variants) {
    if (v.weight <= 0) continue;
    const u = (hash53(`${v.name}\u0000${key}`) + 1) / TWO_53;
    const score = -Math.log(u) / v.weight;
    if (score < bestScore) {
      bestScore = score;
      best = v;
    }
  }
  return best;
}

// ---- Per-route data, computed once per route config ----

export interface VariantData {
  name: string;
  weight: number;
  items: Item[];
}

export interface RouteData {
  items: Item[];
  variants: VariantData[];
}

const cache = new WeakMap<RouteConfig, RouteData>();

/** A route's targets and variants resolved to deployments, cached per route config object. */
export function routeData(route: RouteConfig, deployment: (id: string) => DeploymentConfig | undefined): RouteData {
  let data = cache.get(route);
  if (!data) {
    const items = (targets: RouteTarget[]) => targets.map((t, i) => ({ d: deployment(t.deployment)!, weight: t.weight, priority: i }));
    data = { items: items(route.targets), variants: route.variants.map((v) => ({ name: v.name, weight: v.weight, items: items(v.targets) })) };
    cache.set(route, data);
  }
  return data;
}
