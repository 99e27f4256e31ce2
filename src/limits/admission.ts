// Builds a request's admission (rate limits and budget reservations from the caller's key, its
// team and the plan) and, when it ends, its settlement (actual tokens and cost).

import type { BudgetConfig, KeyConfig } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall, Plan } from "../router/types.ts";
import { DEFAULT_EXPECTED_OUTPUT_TOKENS } from "../router/plan.ts";
import type { Execution } from "../router/execute.ts";
import type { AdmissionRequest, AdmissionResult, BudgetCheck, RateCheck, Settlement } from "./types.ts";

const MINUTE = 60_000;
const NANOS_PER_USD = 1_000_000_000;

export interface Admission {
  request: AdmissionRequest;
  /** Estimated tokens charged to token-rate checks. */
  estimatedTokens: number;
  tokenChecks: RateCheck[];
}

/** The most a request can cost on any of its candidates: estimated input plus the output cap. */
export function maxCostNanos(plan: Plan): number {
  let max = 0;
  for (const c of plan.candidates) {
    const d = c.deployment;
    const out = plan.maxOutputTokens ?? d.maxOutputTokens;
    const outPrice = Math.max(d.pricing.output, d.pricing.reasoning);
    max = Math.max(max, Math.ceil((plan.estimatedInputTokens * d.pricing.input + out * outPrice) / 1000));
  }
  return max;
}

const PERIOD_ADJ = { day: "daily", week: "weekly", month: "monthly" } as const;
const usd = (nanos: number) => `$${(nanos / NANOS_PER_USD).toFixed(2)}`;

/** A team's budget, from the config file or the control plane (an in-memory lookup). */
export type TeamBudgets = (team: string) => { budget?: BudgetConfig } | undefined;

export function buildAdmission(teams: TeamBudgets, call: ChatCall, plan: Plan, now: number): Admission | undefined {
  const key: KeyConfig | undefined = call.caller.key;
  const team = teams(call.caller.team);
  if (!key && !team?.budget) return undefined;
  const estimatedTokens = plan.estimatedInputTokens + (plan.maxOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS);
  const rates: RateCheck[] = [];
  const tokenChecks: RateCheck[] = [];
  const addLimits = (scope: string, who: string, l: KeyConfig["limits"] | undefined) => {
    if (l?.requestsPerMinute) rates.push({ id: `${scope}:rpm`, limit: l.requestsPerMinute, cost: 1, windowMs: MINUTE, describe: `requests per minute of ${who} (${l.requestsPerMinute})` });
    if (l?.tokensPerMinute) {
      const c = { id: `${scope}:tpm`, limit: l.tokensPerMinute, cost: estimatedTokens, windowMs: MINUTE, describe: `tokens per minute of ${who} (${l.tokensPerMinute})` };
      rates.push(c);
      tokenChecks.push(c);
    }
  };
  if (key) {
    addLimits(`key:${key.name}`, `key "${key.name}"`, key.limits);
    if (key.perUserLimits && call.user) addLimits(`user:${key.name}:${call.user}`, `user "${call.user}" of key "${key.name}"`, key.perUserLimits);
  }
  const budgets: BudgetCheck[] = [];
  const reserve = maxCostNanos(plan);
  const addBudget = (id: string, who: string, b: BudgetConfig | undefined) => {
    if (!b) return;
    budgets.push({ id, period: b.period, limitNanos: Math.round(b.limitUsd * NANOS_PER_USD), reserveNanos: reserve, softThreshold: b.softThreshold, describe: `${PERIOD_ADJ[b.period]} budget of ${who} (${usd(b.limitUsd * NANOS_PER_USD)})` });
  };
  addBudget(`key:${key?.name}`, `key "${key?.name}"`, key?.budget);
  addBudget(`team:${call.caller.team}`, `team "${call.caller.team}"`, team?.budget);
  if (rates.length === 0 && budgets.length === 0) return undefined;
  return {
    request: { requestId: call.id, shard: `team:${call.caller.team}`, rates, budgets, now, reservationTtlMs: Math.max(plan.timeouts.totalMs, 60_000) + 60_000 },
    estimatedTokens,
    tokenChecks,
  };
}

/** A refusal as the caller sees it: resource_exhausted naming the limit and when it resets. */
export function refusal(r: Exclude<AdmissionResult, { ok: true }>): GatewayError {
  if (r.kind === "rate") {
    return new GatewayError("resource_exhausted", `rate limit exceeded: ${r.check.describe}; retry in ${Math.ceil(r.retryAfterMs / 1000)} s`, { retryAfterMs: r.retryAfterMs, refusal: "rate_limit" });
  }
  const resetIn = r.resetAt - Date.now();
  return new GatewayError(
    "resource_exhausted",
    `budget exhausted: ${r.check.describe}: spent ${usd(r.spentNanos)}, ${usd(r.reservedNanos)} held by requests in flight, this request may cost up to ${usd(r.check.reserveNanos)}; resets ${new Date(r.resetAt).toISOString()}`,
    { retryAfterMs: Math.max(1000, resetIn), refusal: "budget" },
  );
}

export function buildSettlement(a: Admission, ex: Execution, now: number): Settlement {
  const actualTokens = ex.usage.inputTokens + ex.usage.outputTokens;
  return {
    requestId: a.request.requestId,
    shard: a.request.shard,
    tokenAdjustments: a.tokenChecks.map((c) => ({ id: c.id, delta: actualTokens - a.estimatedTokens, windowMs: c.windowMs })),
    budgets: a.request.budgets.map((b) => ({ id: b.id, period: b.period, reservedNanos: b.reserveNanos, actualNanos: ex.cost.total })),
    now,
  };
}

/**
 * Checks of a deployment's own limits (the provider's requests and tokens per minute), for one
 * candidate. Each deployment is its own shard, so these run on their own cluster slot.
 */
export function deploymentAdmission(call: ChatCall, plan: Plan, index: number, now: number): AdmissionRequest | undefined {
  const d = plan.candidates[index].deployment;
  const l = d.limits;
  if (!l) return undefined;
  const tokens = plan.estimatedInputTokens + (plan.maxOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS);
  const rates: RateCheck[] = [];
  if (l.requestsPerMinute) rates.push({ id: `deployment:${d.id}:rpm`, limit: l.requestsPerMinute, cost: 1, windowMs: MINUTE, describe: `requests per minute of deployment "${d.id}" (${l.requestsPerMinute})` });
  if (l.tokensPerMinute) rates.push({ id: `deployment:${d.id}:tpm`, limit: l.tokensPerMinute, cost: tokens, windowMs: MINUTE, describe: `tokens per minute of deployment "${d.id}" (${l.tokensPerMinute})` });
  return { requestId: call.id, shard: `deployment:${d.id}`, rates, budgets: [], now, reservationTtlMs: MINUTE };
}
