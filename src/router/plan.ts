// Planning: one pure function from (call, registry, health snapshot, random source) to the
// ordered candidates with a reason for each and the excluded deployments with why.
// RouteService.Route returns exactly this; ChatService executes exactly this.

import type { Capability, DeploymentConfig, RouteConfig, RouteTarget } from "../config/types.ts";
import { estimatePromptTokens } from "../providers/mock/mock-provider.ts";
import type { HealthSnapshot } from "../state/health.ts";
import { GatewayError } from "./errors.ts";
import type { ModelRegistry } from "./registry.ts";
import type { Adjustment, Candidate, ChatCall, Exclusion, Plan } from "./types.ts";

/** Output tokens assumed for cost estimates when the request sets no limit. */
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 512;

/** Capabilities the request's own content demands. */
export function requiredCapabilities(call: ChatCall): Set<Capability> {
  const need = new Set<Capability>(call.routing.requiredCapabilities);
  const r = call.request;
  if (r.tools?.length) need.add("tools");
  if (r.responseFormat?.type === "json_schema") need.add("json_schema");
  if (r.responseFormat?.type === "json_object") need.add("json_mode");
  if (r.reasoningEffort) need.add("reasoning");
  if (call.stream) need.add("streaming");
  if (r.messages.some((m) => m.content.some((p) => p.type === "image"))) need.add("vision");
  return need;
}

export function expectedCostNanos(d: DeploymentConfig, inputTokens: number, outputTokens: number): number {
  return Math.round((inputTokens * d.pricing.input + outputTokens * d.pricing.output) / 1000);
}

/** Order a route's targets by its strategy. Returns [target, reason, score] in order. */
function orderTargets(route: RouteConfig, targets: RouteTarget[], rand: () => number): { t: RouteTarget; reason: string; score: number }[] {
  switch (route.strategy) {
    case "weighted": {
      // Weighted shuffle without replacement: the first pick follows the weights exactly;
      // the rest become the fallback order.
      const pool = targets.filter((t) => t.weight > 0);
      const total0 = pool.reduce((s, t) => s + t.weight, 0);
      const out: { t: RouteTarget; reason: string; score: number }[] = [];
      while (pool.length) {
        const total = pool.reduce((s, t) => s + t.weight, 0);
        let x = rand() * total;
        let i = 0;
        for (; i < pool.length - 1; i++) {
          x -= pool[i].weight;
          if (x < 0) break;
        }
        const [t] = pool.splice(i, 1);
        out.push({ t, reason: `weight ${t.weight}/${total0}${out.length === 0 ? ", drawn" : ", drawn for fallback"}`, score: t.weight / total0 });
      }
      return out;
    }
    case "priority":
    default:
      return targets.map((t, i) => ({ t, reason: `priority ${i + 1}`, score: i + 1 }));
  }
}

export interface PlanInput {
  call: ChatCall;
  registry: ModelRegistry;
  health: HealthSnapshot;
  /** Source of randomness for weighted choices (seeded per request so Route and Complete agree). */
  rand: () => number;
}

export function plan({ call, registry, health, rand }: PlanInput): Plan {
  if (call.routing.hedgeAfterMs) {
    throw new GatewayError("unimplemented", "routing.hedge_after_ms: hedging is not implemented yet", { field: "routing.hedge_after_ms" });
  }
  const resolved = registry.resolve(call.model);
  if (!resolved) {
    throw new GatewayError("not_found", `model: unknown route, alias or deployment "${call.model}"`, { field: "model" });
  }
  const allow = call.caller.allow;
  const allowed = (name: string) => allow.length === 0 || allow.includes(name);
  if (!allowed(call.model) && !(resolved.alias && allowed(resolved.kind === "route" ? resolved.route.name : resolved.deployment.id))) {
    throw new GatewayError("permission_denied", `model: key "${call.caller.keyName}" may not use "${call.model}"`, { field: "model" });
  }
  const route = resolved.kind === "route" ? resolved.route : undefined;
  const adjustments: Adjustment[] = [];

  // Output cap: the smallest of the request's, the key's and the route's.
  let maxOutputTokens = call.request.maxOutputTokens;
  for (const [cap, who] of [
    [call.caller.maxOutputTokens, `key "${call.caller.keyName}"`],
    [route?.maxOutputTokens, `route "${route?.name}"`],
  ] as const) {
    if (cap !== undefined && (maxOutputTokens === undefined || maxOutputTokens > cap)) {
      adjustments.push({
        field: "max_output_tokens",
        detail: maxOutputTokens === undefined ? `set to ${cap} by ${who} limit` : `capped from ${maxOutputTokens} to ${cap} by ${who} limit`,
      });
      maxOutputTokens = cap;
    }
  }

  const inputTokens = estimatePromptTokens(call.request);
  const expectedOutput = maxOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS;
  const need = requiredCapabilities(call);

  const candidates: Candidate[] = [];
  const excluded: Exclusion[] = [];
  const seen = new Set<string>();
  const cooling: Candidate[] = [];

  const consider = (d: DeploymentConfig, source: Candidate["source"], reason: string, score: number) => {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    const provider = registry.provider(d.provider)!;
    const missing = [...need].filter((c) => !d.capabilities.includes(c));
    if (missing.length) {
      excluded.push({ deployment: d.id, reason: "missing_capability", detail: `lacks ${missing.join(", ")}` });
      return;
    }
    if (inputTokens + (maxOutputTokens ?? 0) > d.contextWindow) {
      excluded.push({
        deployment: d.id,
        reason: "context_too_small",
        detail: `context window ${d.contextWindow} < estimated ${inputTokens} input + ${maxOutputTokens ?? 0} output tokens`,
      });
      return;
    }
    const cost = expectedCostNanos(d, inputTokens, expectedOutput);
    if (call.routing.maxCostNanos !== undefined && cost > call.routing.maxCostNanos) {
      excluded.push({ deployment: d.id, reason: "over_cost_cap", detail: `expected ${cost} nano-USD > cap ${call.routing.maxCostNanos}` });
      return;
    }
    const h = health.get(d.id);
    if (call.routing.maxLatencyMs !== undefined && h?.latencyMs !== undefined && h.latencyMs > call.routing.maxLatencyMs) {
      excluded.push({ deployment: d.id, reason: "over_latency_cap", detail: `observed ${Math.round(h.latencyMs)} ms > cap ${call.routing.maxLatencyMs} ms` });
      return;
    }
    const c: Candidate = { deployment: d, provider, reason, source, score, expectedCostNanos: cost, ttftEstimateMs: h?.ttftMs, latencyEstimateMs: h?.latencyMs };
    if (h?.cooldownUntil !== undefined && h.cooldownUntil > health.now) {
      excluded.push({ deployment: d.id, reason: "cooling_down", detail: `${h.lastFailureKind ?? "failures"}; cooling down`, until: h.cooldownUntil });
      cooling.push(c);
      return;
    }
    candidates.push(c);
  };

  // Expand a model name (route, alias or deployment) into deployments, in order.
  const expand = (name: string, source: Candidate["source"], depth: number) => {
    const r = registry.resolve(name);
    if (!r) throw new GatewayError("invalid_argument", `routing.fallbacks: unknown route, alias or deployment "${name}"`, { field: "routing.fallbacks" });
    if (source === "request fallbacks" && !allowed(name)) {
      const ids = r.kind === "route" ? r.route.targets.map((t) => t.deployment) : [r.deployment.id];
      for (const id of ids) if (!seen.has(id)) excluded.push({ deployment: id, reason: "not_allowed", detail: `key may not use "${name}"` });
      return;
    }
    if (r.kind === "deployment") {
      consider(r.deployment, source, `fallback to ${name}`, candidates.length + 1);
      return;
    }
    for (const { t, reason } of orderTargets(r.route, r.route.targets, rand)) {
      consider(registry.deployment(t.deployment)!, source, `fallback via route ${r.route.name}: ${reason}`, candidates.length + 1);
    }
    if (depth < 3) for (const f of r.route.fallbacks) expand(f, source, depth + 1);
  };

  if (route) {
    for (const { t, reason, score } of orderTargets(route, route.targets, rand)) consider(registry.deployment(t.deployment)!, "route", reason, score);
  } else if (resolved.kind === "deployment") {
    consider(resolved.deployment, "direct", "named directly", 1);
  }
  for (const f of call.routing.fallbacks) expand(f, "request fallbacks", 0);
  if (route) for (const f of route.fallbacks) expand(f, "route fallbacks", 0);

  // Every candidate cooling down: rather than fail at once, try the one that recovers soonest.
  if (candidates.length === 0 && cooling.length > 0) {
    const until = (c: Candidate) => health.get(c.deployment.id)?.cooldownUntil ?? 0;
    const soonest = cooling.reduce((a, b) => (until(b) < until(a) ? b : a));
    soonest.reason = `all candidates cooling down; recovers soonest`;
    candidates.push(soonest);
    const i = excluded.findIndex((e) => e.deployment === soonest.deployment.id && e.reason === "cooling_down");
    if (i >= 0) excluded.splice(i, 1);
  }
  if (candidates.length === 0) {
    const why = excluded.map((e) => `${e.deployment}: ${e.reason} (${e.detail})`).join("; ");
    throw new GatewayError("failed_precondition", `no deployment can serve "${call.model}": ${why || "no targets"}`);
  }

  const noFallback = call.routing.noFallback || (route?.noFallback ?? false);
  const maxAttempts = Math.max(1, Math.min(call.routing.maxAttempts || (route?.maxAttempts ?? 4), 20));
  const keep = noFallback ? 1 : candidates.length;
  for (const c of candidates.splice(keep)) {
    excluded.push({ deployment: c.deployment.id, reason: "over_attempt_limit", detail: "fallbacks are switched off for this request" });
  }

  const rt = route?.timeouts ?? { firstTokenMs: 30_000, idleMs: 30_000, attemptMs: 300_000, totalMs: 600_000 };
  const min = (a: number, b: number | undefined) => (b !== undefined && b > 0 && b < a ? b : a);
  return {
    routing: {
      route: route?.name ?? "",
      alias: resolved.alias,
      strategy: route?.strategy ?? "direct",
      variant: "",
    },
    candidates,
    excluded,
    estimatedInputTokens: inputTokens,
    noFallback,
    maxAttempts,
    hedgeAfterMs: call.routing.hedgeAfterMs || (route?.hedgeAfterMs ?? 0),
    fallbackOnContentFilter: call.routing.fallbackOnContentFilter || (route?.fallbackOnContentFilter ?? false),
    timeouts: {
      firstTokenMs: min(rt.firstTokenMs, call.routing.timeouts.firstTokenMs),
      idleMs: min(rt.idleMs, call.routing.timeouts.idleMs),
      attemptMs: min(rt.attemptMs, call.routing.timeouts.attemptMs),
      totalMs: min(rt.totalMs, call.routing.timeouts.totalMs),
    },
    retry: route?.retry ?? { maxRetries: 1, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 10_000 },
    maxOutputTokens,
    adjustments,
  };
}

/** A small seeded PRNG (mulberry32) so a request's weighted draws are reproducible from its seed. */
export function seededRandom(seed: string): () => number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
