// OpenRouter's provider preferences (the `provider` object of its Chat Completions, Completions and
// Responses requests; RoutingOptions.providers on Connect), applied by the planner: filters that
// leave deployments out (only, ignore, data collection, zero retention, max_price,
// require_parameters) and an order for what is left (order, sort, allow_fallbacks).
//
// A provider is named by its configured name ("openai-eu"), its type ("anthropic") or OpenRouter's
// slug for that type ("amazon-bedrock"), case-insensitively. Filters apply to every candidate,
// fallbacks included. Order and sort reorder each model's candidates (the model asked for, then
// each fallback) and never move a fallback's deployments ahead of the model's: OpenRouter's
// `models` fallbacks, too, are tried only once every provider of the model before them failed.

import type { DeploymentConfig, ProviderConfig, ProviderType } from "../config/types.ts";
import type { HealthSnapshot } from "../state/health.ts";
import { pricesFor } from "../usage/cost.ts";
import { GatewayError } from "./errors.ts";
import { latencyEstimate } from "./strategies.ts";
import type { Candidate, Exclusion, ProviderPreferences } from "./types.ts";

/** OpenRouter's provider slugs for the provider types they correspond to. */
const SLUGS: Partial<Record<string, ProviderType>> = {
  "amazon-bedrock": "bedrock",
  "google-vertex": "vertex",
  "google-ai-studio": "gemini",
  google: "gemini",
  azure: "azure",
  "azure-openai": "azure",
};

/** Whether a name of the preferences could name this provider: its name, its type, or OpenRouter's slug for its type. */
function nameFits(name: string, p: ProviderConfig): boolean {
  const n = name.toLowerCase();
  return n === p.name.toLowerCase() || n === p.type || SLUGS[n] === p.type;
}

/** What a provider does with prompts: configured, else it may collect (the mock keeps nothing). */
export function dataPolicyOf(p: ProviderConfig): { collects: boolean; zeroRetention: boolean } {
  return p.dataPolicy ?? (p.type === "mock" ? { collects: false, zeroRetention: true } : { collects: true, zeroRetention: false });
}

/** The preferences' provider names resolved against the configuration: provider names each entry stands for. */
export interface ResolvedPreferences {
  prefs: ProviderPreferences;
  /** Per entry of order, the providers it names. */
  order: Set<string>[];
  only?: Set<string>;
  /** Provider name → the ignore entry that names it. */
  ignore: Map<string, string>;
}

/**
 * Resolves every name of order, only and ignore. A configured provider's own name names only that
 * provider ("mock" is the provider called mock, not every provider of type mock); otherwise a type
 * or OpenRouter's slug names every provider of that type. A name that names nothing configured is
 * a 400 naming the entry: a typo would otherwise silently leave every deployment in, or out.
 */
export function resolvePreferences(prefs: ProviderPreferences, providers: readonly ProviderConfig[]): ResolvedPreferences {
  const names = (name: string, path: string): Set<string> => {
    const own = providers.find((p) => p.name.toLowerCase() === name.toLowerCase());
    const hits = own ? [own] : providers.filter((p) => nameFits(name, p));
    if (hits.length === 0) {
      const known = [...new Set(providers.flatMap((p) => [p.name, p.type]))].sort().join(", ");
      throw new GatewayError("invalid_argument", `${path}: no provider is named "${name}" (by name or type: ${known})`, { field: path });
    }
    return new Set(hits.map((p) => p.name));
  };
  const f = prefs.field;
  const ignore = new Map<string, string>();
  prefs.ignore.forEach((n, i) => {
    for (const p of names(n, `${f}.ignore[${i}]`)) if (!ignore.has(p)) ignore.set(p, n);
  });
  return {
    prefs,
    order: prefs.order.map((n, i) => names(n, `${f}.order[${i}]`)),
    ...(prefs.only.length ? { only: new Set(prefs.only.flatMap((n, i) => [...names(n, `${f}.only[${i}]`)])) } : {}),
    ignore,
  };
}

/** Where a provider stands in the preferences' order: the first entry naming it, or order.length. */
export function orderRank(r: ResolvedPreferences, provider: string): number {
  const i = r.order.findIndex((s) => s.has(provider));
  return i < 0 ? r.order.length : i;
}

const usd = (microPerMillion: number) => `$${(microPerMillion / 1e6).toFixed(6).replace(/\.?0+$/, "")}`;

/**
 * Why the preferences leave a deployment out, or undefined when they keep it. `dropped` lists the
 * request's parameters the deployment would not be sent (require_parameters); `inputTokens` the
 * prompt's count on it, read only when its prices are tiered by prompt length.
 */
export function preferenceExclusion(
  r: ResolvedPreferences,
  d: DeploymentConfig,
  p: ProviderConfig,
  dropped: () => readonly { field: string }[],
  inputTokens: () => number,
): Pick<Exclusion, "reason" | "detail"> | undefined {
  const prefs = r.prefs;
  const f = prefs.field;
  if (r.only && !r.only.has(p.name)) return { reason: "provider_preference", detail: `provider ${p.name} is not in ${f}.only` };
  const ignored = r.ignore.get(p.name);
  if (ignored !== undefined) return { reason: "provider_preference", detail: `provider ${p.name} is in ${f}.ignore ("${ignored}")` };
  const policy = dataPolicyOf(p);
  if (prefs.zdr && !policy.zeroRetention) return { reason: "provider_preference", detail: `provider ${p.name} has no zero-retention data policy (${f}.zdr)` };
  if (prefs.dataCollection === "deny" && policy.collects) {
    return { reason: "provider_preference", detail: `provider ${p.name} may collect prompts (${f}.data_collection: deny)` };
  }
  const max = prefs.maxPrice;
  if (max) {
    const prices = d.pricing.tiers?.length ? pricesFor(d.pricing, inputTokens()) : d.pricing;
    if (max.prompt !== undefined && prices.input > max.prompt * 1e6) {
      return { reason: "over_cost_cap", detail: `prompt ${usd(prices.input)} per million tokens > ${f}.max_price.prompt $${max.prompt}` };
    }
    if (max.completion !== undefined && prices.output > max.completion * 1e6) {
      return { reason: "over_cost_cap", detail: `completion ${usd(prices.output)} per million tokens > ${f}.max_price.completion $${max.completion}` };
    }
    const fee = d.pricing.perRequestNanos ?? 0;
    if (max.request !== undefined && fee > max.request * 1e9) {
      return { reason: "over_cost_cap", detail: `request fee $${fee / 1e9} > ${f}.max_price.request $${max.request}` };
    }
    const perImage = d.pricing.perImageNanos ? Math.max(...Object.values(d.pricing.perImageNanos)) : 0;
    if (max.image !== undefined && perImage > max.image * 1e9) {
      return { reason: "over_cost_cap", detail: `image $${perImage / 1e9} > ${f}.max_price.image $${max.image}` };
    }
  }
  if (prefs.requireParameters) {
    const gone = dropped();
    if (gone.length > 0) {
      return { reason: "provider_preference", detail: `does not accept ${gone.map((g) => g.field).join(", ")} (${f}.require_parameters)` };
    }
  }
  return undefined;
}

/**
 * Orders the candidates by the preferences, within each model's group (groups[i] is the index of
 * the candidate that starts group i), and returns those that allow_fallbacks: false leaves out.
 * Reasons are extended with what placed each candidate.
 */
export function orderByPreferences(
  r: ResolvedPreferences,
  candidates: Candidate[],
  groups: readonly number[],
  ctx: { health: HealthSnapshot; stream: boolean },
): Exclusion[] {
  const prefs = r.prefs;
  const dropped: Exclusion[] = [];
  if (prefs.order.length === 0 && prefs.sort === undefined && prefs.allowFallbacks) return dropped;
  const rankOf = (c: Candidate) => orderRank(r, c.provider.name);
  const key = sortKey(prefs.sort, ctx);
  const out: Candidate[] = [];
  for (let g = 0; g < groups.length; g++) {
    const group = candidates.slice(groups[g], g + 1 < groups.length ? groups[g + 1] : candidates.length);
    // A stable sort: by the order list, then by the sort key, then as the route placed them.
    const ranked = group.map((c, i) => ({ c, i, rank: rankOf(c), k: key?.(c) ?? 0 }));
    ranked.sort((a, b) => a.rank - b.rank || a.k - b.k || a.i - b.i);
    let kept = ranked;
    if (!prefs.allowFallbacks && ranked.length > 0) {
      // Only the providers in order; without an order, only the first candidate's provider.
      const first = ranked[0].c.provider.name;
      const keep = (x: (typeof ranked)[number]) => (prefs.order.length > 0 ? x.rank < prefs.order.length : x.c.provider.name === first);
      kept = ranked.filter(keep);
      for (const x of ranked) {
        if (!keep(x)) {
          dropped.push({
            deployment: x.c.deployment.id,
            reason: "provider_preference",
            detail: prefs.order.length > 0 ? `provider ${x.c.provider.name} is not in ${prefs.field}.order and allow_fallbacks is false` : `provider ${x.c.provider.name} is not the first provider (${first}) and allow_fallbacks is false`,
          });
        }
      }
    }
    for (const x of kept) {
      const notes: string[] = [];
      if (x.rank < prefs.order.length) notes.push(`${prefs.field}.order ${x.rank + 1}`);
      if (key) notes.push(`sorted by ${prefs.sort}: ${describeKey(prefs.sort!, x.c, ctx)}`);
      if (notes.length) x.c.reason = `${x.c.reason}; ${notes.join(", ")}`;
      out.push(x.c);
    }
  }
  candidates.length = 0;
  candidates.push(...out);
  return dropped;
}

/** Smaller first. Deployments with no observation yet sort after the observed ones. */
function sortKey(sort: ProviderPreferences["sort"], ctx: { health: HealthSnapshot; stream: boolean }): ((c: Candidate) => number) | undefined {
  switch (sort) {
    case "price":
      return (c) => c.expectedCostNanos;
    case "latency":
      return (c) => latencyEstimate(ctx.health, c.deployment, ctx.stream).ms ?? Number.MAX_SAFE_INTEGER;
    case "throughput":
      return (c) => {
        const tps = ctx.health.get(c.deployment.id)?.tokensPerSecond;
        return tps === undefined ? Number.MAX_SAFE_INTEGER : -tps;
      };
    default:
      return undefined;
  }
}

function describeKey(sort: NonNullable<ProviderPreferences["sort"]>, c: Candidate, ctx: { health: HealthSnapshot; stream: boolean }): string {
  if (sort === "price") return `expected ${c.expectedCostNanos} nano-USD`;
  if (sort === "latency") {
    const e = latencyEstimate(ctx.health, c.deployment, ctx.stream);
    return e.ms === undefined ? `${e.what} not observed yet` : `${e.what} ${Math.round(e.ms)} ms`;
  }
  const tps = ctx.health.get(c.deployment.id)?.tokensPerSecond;
  return tps === undefined ? "throughput not observed yet" : `${Math.round(tps)} tokens/s`;
}

/**
 * The preferences a door parsed, checked (prices are finite and not negative) and left out when
 * they ask for nothing, so a request without them plans as before.
 */
export function finishPreferences(p: ProviderPreferences): ProviderPreferences | undefined {
  for (const [k, v] of Object.entries(p.maxPrice ?? {})) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new GatewayError("invalid_argument", `${p.field}.max_price.${k}: must be a price in USD, 0 or more, got ${v}`, { field: `${p.field}.max_price.${k}` });
    }
  }
  const asks =
    p.order.length > 0 ||
    p.only.length > 0 ||
    p.ignore.length > 0 ||
    !p.allowFallbacks ||
    p.sort !== undefined ||
    (p.maxPrice !== undefined && Object.values(p.maxPrice).some((v) => v !== undefined)) ||
    p.requireParameters ||
    p.dataCollection === "deny" ||
    p.zdr;
  return asks ? p : undefined;
}
