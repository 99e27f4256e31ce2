// Builds a request's admission (rate limits and budget reservations from the caller's key, its
// team and the plan), keeps a stream's budget hold ahead of its output, and, when the request
// ends, its settlement (actual tokens and cost).
//
// What a request reserves on its budgets: the costliest of its candidates, each at its own input
// count (its provider's tokenizer, src/providers/tokens.ts) plus its planned output (max output
// tokens when the request or a cap sets them, else the deployment's recent p95 of output tokens);
// with hedging, two attempts at once. A stream whose output outgrows the hold extends it in steps.
// An embeddings call plans no output: it reserves its inputs' tokens (all of them: the cache lookup
// runs alongside) and settles on what was billed.

import type { BudgetConfig, KeyConfig, RateLimits } from "../config/types.ts";
import { quickTokens } from "../providers/tokens.ts";
import type { StreamEvent } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Call, Candidate, Plan } from "../router/types.ts";
import type { Execution } from "../router/execute.ts";
import { pricesFor } from "../usage/cost.ts";
import { periodBounds, resetText } from "./periods.ts";
import type { AdmissionRequest, AdmissionResult, BudgetCheck, ExtensionResult, Limiter, RateCheck, RateStanding, Settlement } from "./types.ts";

const MINUTE = 60_000;
const NANOS_PER_USD = 1_000_000_000;

export interface Admission {
  request: AdmissionRequest;
  /** Where the caller's rate checks stand once admitted (the x-ratelimit-* headers); absent before. */
  rates?: RateStanding[];
  /** Estimated tokens charged to token-rate checks. */
  estimatedTokens: number;
  tokenChecks: RateCheck[];
  /** What the request holds on each of its budgets now: its reservation plus any extensions. */
  holdNanos: number;
  /** What was already settled before the request ended (a realtime session's checkpoints). */
  chargedNanos?: number;
}

/** What one attempt on a candidate may cost: its input by its own tokenizer plus its planned output. */
export function candidateCostNanos(c: Candidate): number {
  const p = pricesFor(c.deployment.pricing, c.estimatedInputTokens);
  return Math.ceil((c.estimatedInputTokens * p.input + c.expectedOutputTokens * Math.max(p.output, p.reasoning)) / 1000) + (c.deployment.pricing.perRequestNanos ?? 0) + (c.unitCostNanos ?? 0);
}

/**
 * What a request reserves: one attempt on its costliest candidate; when the plan hedges, two
 * attempts may run at once, so the two costliest; and the fees it will pay (a web search).
 */
export function maxCostNanos(plan: Plan): number {
  let first = 0;
  let second = 0;
  for (const c of plan.candidates) {
    const x = candidateCostNanos(c);
    if (x > first) [first, second] = [x, first];
    else if (x > second) second = x;
  }
  return (hedges(plan) ? first + second : first) + (plan.feeNanos ?? 0);
}

const hedges = (plan: Plan) => plan.hedgeAfterMs > 0 && !plan.noFallback && plan.candidates.length > 1 && plan.maxAttempts > 1;

/** Output tokens planned for: the cap, else the largest candidate's expected output. */
const plannedOutput = (plan: Plan) => plan.maxOutputTokens ?? plan.candidates.reduce((n, c) => Math.max(n, c.expectedOutputTokens), 0);

const PERIOD_ADJ = { day: "daily", week: "weekly", month: "monthly", lifetime: "lifetime" } as const;

/** Dollars with enough decimals to read: $12.35, $0.0530, $0.000123 (three significant digits under $1). */
export function usd(nanos: number): string {
  const v = nanos / NANOS_PER_USD;
  if (v === 0) return "$0";
  const a = Math.abs(v);
  const digits = a >= 1 ? 2 : Math.min(9, 2 - Math.floor(Math.log10(a)));
  return `${v < 0 ? "-" : ""}$${a.toFixed(digits)}`;
}

/** A team's budget, from the config file or the control plane (an in-memory lookup). */
/** What admission reads of the directory (src/control/directory.ts): a team's budget, and an end user's own rules. */
export interface TeamBudgets {
  team(team: string): { budget?: BudgetConfig } | undefined;
  endUser(team: string, user: string): { budget?: BudgetConfig; limits?: RateLimits; blockedAt?: number } | undefined;
}

/**
 * The fixed strings of a scope's checks (ids and descriptions), made once per configuration object
 * (a key's limits, a budget) instead of once per request. Per-user limits name the user, so theirs
 * are made per request.
 */
const rateLabels = new WeakMap<object, Map<string, { rpmId: string; rpm: string; tpmId: string; tpm: string }>>();
const budgetLabels = new WeakMap<BudgetConfig, Map<string, string>>();

function labelsFor(l: NonNullable<KeyConfig["limits"]>, scope: string, who: string) {
  let byScope = rateLabels.get(l);
  if (!byScope) rateLabels.set(l, (byScope = new Map()));
  let x = byScope.get(scope);
  if (!x) {
    x = { rpmId: `${scope}:rpm`, rpm: `requests per minute of ${who} (${l.requestsPerMinute})`, tpmId: `${scope}:tpm`, tpm: `tokens per minute of ${who} (${l.tokensPerMinute})` };
    if (byScope.size < 1_000) byScope.set(scope, x);
  }
  return x;
}

function budgetLabel(b: BudgetConfig, who: string, limitNanos: number): string {
  let byWho = budgetLabels.get(b);
  if (!byWho) budgetLabels.set(b, (byWho = new Map()));
  let d = byWho.get(who);
  if (d === undefined) {
    d = `${PERIOD_ADJ[b.period]} budget of ${who} (${usd(limitNanos)})`;
    if (byWho.size < 1_000) byWho.set(who, d);
  }
  return d;
}

/** `key:<name>`, `team:<name>` and the description of each, made once per name. */
const scopeNames = new Map<string, { id: string; who: string }>();
function scopeName(kind: "key" | "team", name: string) {
  const k = kind === "key" ? name : `\u0000${name}`;
  let x = scopeNames.get(k);
  if (!x) {
    x = { id: `${kind}:${name}`, who: `${kind} "${name}"` };
    if (scopeNames.size >= 10_000) scopeNames.clear();
    scopeNames.set(k, x);
  }
  return x;
}

/** The budget id of an end user of a key (per_user_budget): `user:<key>:<user>`. */
export const userBudgetId = (key: string, user: string): string => `user:${key}:${user}`;
/** The scope of an end user's own rules in their team (AdminService end users): `user:@<team>:<user>` (key names never start with "@"). */
export const endUserScopeId = (team: string, user: string): string => `user:@${team}:${user}`;
/** Whether a budget id is an end user's: their soft thresholds are not alerted (one a user would flood the channels and the metrics). */
export const isUserBudget = (id: string): boolean => id.startsWith("user:");

/**
 * The checks of a caller's scopes: its key's limits (and its user's), its key's and team's budgets,
 * and the rules of the end user (the request's `user`) its team gave them, across all its keys.
 * A blocked end user is refused here, before anything is reserved.
 * `tokens`: what token-rate checks are charged (undefined: none are, as for a tool call).
 */
function scopeChecks(teams: TeamBudgets, caller: Call["caller"], user: string | undefined, tokens: number | undefined, reserve: number, now: number) {
  const key: KeyConfig | undefined = caller.key;
  const endUser = user === undefined ? undefined : teams.endUser(caller.team, user);
  if (endUser?.blockedAt !== undefined) throw new GatewayError("permission_denied", `user: end user "${user}" is blocked`, { field: "user" });
  const team = teams.team(caller.team);
  if (!key && !team?.budget && !endUser) return undefined;
  const rates: RateCheck[] = [];
  const tokenChecks: RateCheck[] = [];
  const addLimits = (scope: string, who: string, l: KeyConfig["limits"] | undefined) => {
    if (!l || (!l.requestsPerMinute && !l.tokensPerMinute)) return;
    const x = labelsFor(l, scope, who);
    if (l.requestsPerMinute) rates.push({ id: x.rpmId, limit: l.requestsPerMinute, cost: 1, windowMs: MINUTE, describe: x.rpm });
    if (l.tokensPerMinute && tokens !== undefined) {
      const c = { id: x.tpmId, limit: l.tokensPerMinute, cost: tokens, windowMs: MINUTE, describe: x.tpm };
      rates.push(c);
      tokenChecks.push(c);
    }
  };
  const keyScope = key ? scopeName("key", key.name) : undefined;
  const teamScope = scopeName("team", caller.team);
  if (key) {
    addLimits(keyScope!.id, keyScope!.who, key.limits);
    if (key.perUserLimits && user) addLimits(`user:${key.name}:${user}`, `user "${user}" of key "${key.name}"`, key.perUserLimits);
  }
  const endUserScope = endUser ? endUserScopeId(caller.team, user!) : "";
  if (endUser) addLimits(endUserScope, `end user "${user}" of team "${caller.team}"`, endUser.limits);
  const budgets: BudgetCheck[] = [];
  const addBudget = (id: string, who: string, b: BudgetConfig | undefined) => {
    if (!b) return;
    const limitNanos = Math.round(b.limitUsd * NANOS_PER_USD);
    budgets.push({
      id,
      period: b.period,
      limitNanos,
      reserveNanos: reserve,
      softThreshold: b.softThreshold,
      describe: budgetLabel(b, who, limitNanos),
      periodStart: periodBounds(b.period, now).start,
    });
  };
  if (keyScope) addBudget(keyScope.id, keyScope.who, key?.budget);
  // An end user's own budget under the key (per_user_budget), in the team's shard like the rest.
  if (key?.perUserBudget && user) addBudget(userBudgetId(key.name, user), `user "${user}" of key "${key.name}"`, key.perUserBudget);
  if (endUser) addBudget(endUserScope, `end user "${user}" of team "${caller.team}"`, endUser.budget);
  addBudget(teamScope.id, teamScope.who, team?.budget);
  if (rates.length === 0 && budgets.length === 0) return undefined;
  return { shard: teamScope.id, rates, tokenChecks, budgets };
}

export function buildAdmission(teams: TeamBudgets, call: Call, plan: Plan, now: number): Admission | undefined {
  const estimatedTokens = plan.estimatedInputTokens + plannedOutput(plan);
  const reserve = maxCostNanos(plan);
  const c = scopeChecks(teams, call.caller, call.user, estimatedTokens, reserve, now);
  if (!c) return undefined;
  return {
    request: { requestId: call.id, shard: c.shard, rates: c.rates, budgets: c.budgets, now, reservationTtlMs: Math.max(plan.timeouts.totalMs, 60_000) + 60_000 },
    rates: undefined,
    estimatedTokens,
    tokenChecks: c.tokenChecks,
    holdNanos: reserve,
  };
}

/**
 * An MCP tool call's admission (src/mcp/hub.ts): one request against the key's (and its user's)
 * requests per minute, and its price held on the key's and team's budgets; no tokens.
 */
export function toolAdmission(teams: TeamBudgets, caller: Call["caller"], user: string | undefined, requestId: string, priceNanos: number, timeoutMs: number, now: number): Admission | undefined {
  const c = scopeChecks(teams, caller, user, undefined, priceNanos, now);
  if (!c) return undefined;
  return { request: { requestId, shard: c.shard, rates: c.rates, budgets: c.budgets, now, reservationTtlMs: timeoutMs + 60_000 }, estimatedTokens: 0, tokenChecks: [], holdNanos: priceNanos };
}

/** What a tool call settles: its price if it was answered, nothing if it failed. */
export function toolSettlement(a: Admission, actualNanos: number, now: number): Settlement {
  return { requestId: a.request.requestId, shard: a.request.shard, tokenAdjustments: [], budgets: a.request.budgets.map((b) => ({ id: b.id, period: b.period, periodStart: b.periodStart, reservedNanos: a.holdNanos, actualNanos })), now };
}

/** A refusal as the caller sees it: resource_exhausted naming the limit and when it resets. */
export function refusal(r: Exclude<AdmissionResult, { ok: true }>): GatewayError {
  if (r.kind === "rate") {
    return new GatewayError("resource_exhausted", `rate limit exceeded: ${r.check.describe}; retry in ${Math.ceil(r.retryAfterMs / 1000)} s`, { retryAfterMs: r.retryAfterMs, refusal: "rate_limit" });
  }
  return new GatewayError(
    "resource_exhausted",
    `budget exhausted: ${r.check.describe}: spent ${usd(r.spentNanos)}, ${usd(r.reservedNanos)} held by requests in flight, this request reserves ${usd(r.check.reserveNanos)}; ${resetText(r.check.period, r.check.periodStart ?? Date.now())}`,
    // A lifetime budget never resets: no Retry-After to wait for.
    { retryAfterMs: r.check.period === "lifetime" ? undefined : Math.max(1000, r.resetAt - Date.now()), refusal: "budget" },
  );
}

export function buildSettlement(a: Admission, ex: Execution, now: number): Settlement {
  const actualTokens = ex.usage.inputTokens + ex.usage.outputTokens;
  return {
    requestId: a.request.requestId,
    shard: a.request.shard,
    tokenAdjustments: a.tokenChecks.map((c) => ({ id: c.id, delta: actualTokens - a.estimatedTokens, windowMs: c.windowMs })),
    // Charged to the period that reserved (a request may end after midnight).
    budgets: a.request.budgets.map((b) => ({ id: b.id, period: b.period, periodStart: b.periodStart, reservedNanos: a.holdNanos, actualNanos: ex.cost.total - (a.chargedNanos ?? 0) })),
    now,
  };
}

/** Output tokens an extension adds at least (and a quarter of the hold, if more). */
export const EXTENSION_MIN_TOKENS = 256;

/**
 * How far the delivered output may run past the hold's output share before it is extended: the
 * quick count (3.5 characters a token) runs 10–20% above real tokenizers on English text, while
 * the hold was planned in real tokens (the deployment's learned p95). Without this margin every
 * answer near the p95 would pay an extension round trip it does not need.
 */
export const QUICK_COUNT_MARGIN = 0.2;

/**
 * Add `step` nano-USD to a request's hold on every budget it reserved on (one limiter round trip),
 * all or nothing; on success the admission's hold is updated.
 */
export async function extendHold(limiter: Limiter, a: Admission, step: number): Promise<ExtensionResult> {
  const req = a.request;
  const r = await limiter.extend({
    requestId: req.requestId,
    shard: req.shard,
    budgets: req.budgets.map((b) => ({ id: b.id, period: b.period, periodStart: b.periodStart ?? periodBounds(b.period, req.now).start, limitNanos: b.limitNanos })),
    nanos: step,
    now: Date.now(),
  });
  if (r.ok) a.holdNanos += step;
  return r;
}

/**
 * Keeps a stream's budget hold ahead of what it delivers. The cost so far is estimated as the
 * earlier attempts' cost, the answering attempt's input and its delivered output (counted cheaply
 * from the text, a little on the high side); when it passes the hold by more than the count's own
 * error (QUICK_COUNT_MARGIN of the hold's output share), the hold is extended by one step (a
 * quarter of the hold, at least EXTENSION_MIN_TOKENS of output): one limiter round trip per step,
 * the stream waiting for it. A refused step ends the stream: spend passes the limit by at most
 * that margin and the step being delivered. Hidden reasoning tokens are not seen until the usage arrives.
 */
export class StreamHold {
  private readonly limiter: Limiter;
  private readonly a: Admission;
  private base = 0;
  private outPrice = 0;
  private outTokens = 0;
  /** Output cost the quick count may run past the hold by (QUICK_COUNT_MARGIN of its output share). */
  private slack = 0;
  /** Extensions granted (for tests and the record). */
  extensions = 0;

  constructor(limiter: Limiter, a: Admission) {
    this.limiter = limiter;
    this.a = a;
  }

  /** The attempt that answers (past the commit point), and what earlier attempts cost. */
  start(c: Candidate, priorNanos: number): void {
    const p = pricesFor(c.deployment.pricing, c.estimatedInputTokens);
    this.outPrice = Math.max(p.output, p.reasoning);
    this.base = priorNanos + (c.estimatedInputTokens * p.input) / 1000 + (c.deployment.pricing.perRequestNanos ?? 0) + (c.unitCostNanos ?? 0);
    this.slack = Math.max(0, this.a.holdNanos - this.base) * QUICK_COUNT_MARGIN;
  }

  /** Count a batch of delivered events; a promise when the hold must grow first (await it). */
  delta(events: StreamEvent[]): Promise<void> | undefined {
    for (const e of events) {
      if (e.type === "text" || e.type === "reasoning" || e.type === "refusal") this.outTokens += quickTokens(e.text);
      else if (e.type === "tool_call_delta") this.outTokens += quickTokens(e.argumentsDelta);
      else if (e.type === "tool_call_start") this.outTokens += 1 + quickTokens(e.name);
    }
    const cost = this.base + (this.outTokens * this.outPrice) / 1000;
    if (cost <= this.a.holdNanos + this.slack) return undefined;
    return this.extend(cost);
  }

  private async extend(cost: number): Promise<void> {
    const step = Math.ceil(Math.max(this.a.holdNanos / 4, (EXTENSION_MIN_TOKENS * this.outPrice) / 1000, cost - this.a.holdNanos));
    const req = this.a.request;
    const r = await extendHold(this.limiter, this.a, step);
    if (r.ok) {
      this.extensions++;
      return;
    }
    const b = req.budgets[r.index];
    throw new GatewayError(
      "resource_exhausted",
      `budget exhausted while streaming: ${b.describe}: spent ${usd(r.spentNanos)}, ${usd(r.reservedNanos)} held by requests in flight (this one ${usd(this.a.holdNanos)}), ` +
        `the answer needed ${usd(step)} more after about ${Math.round(this.outTokens)} output tokens; ${resetText(b.period, req.now)}`,
      { retryAfterMs: b.period === "lifetime" ? undefined : Math.max(1000, periodBounds(b.period, req.now).end - Date.now()), refusal: "budget" },
    );
  }
}

/**
 * Checks of a deployment's own limits (the provider's requests and tokens per minute), for one
 * candidate. Each deployment is its own shard, so these run on their own cluster slot.
 */
export function deploymentAdmission(call: Call, plan: Plan, index: number, now: number): AdmissionRequest | undefined {
  const c = plan.candidates[index];
  const d = c.deployment;
  const l = d.limits;
  if (!l) return undefined;
  const tokens = c.estimatedInputTokens + c.expectedOutputTokens;
  const rates: RateCheck[] = [];
  if (l.requestsPerMinute) rates.push({ id: `deployment:${d.id}:rpm`, limit: l.requestsPerMinute, cost: 1, windowMs: MINUTE, describe: `requests per minute of deployment "${d.id}" (${l.requestsPerMinute})` });
  if (l.tokensPerMinute) rates.push({ id: `deployment:${d.id}:tpm`, limit: l.tokensPerMinute, cost: tokens, windowMs: MINUTE, describe: `tokens per minute of deployment "${d.id}" (${l.tokensPerMinute})` });
  return { requestId: call.id, shard: `deployment:${d.id}`, rates, budgets: [], now, reservationTtlMs: MINUTE };
}
