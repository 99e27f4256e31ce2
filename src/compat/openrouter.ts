// OpenRouter's account endpoints, for the tools and SDKs written against OpenRouter (its base URL,
// https://openrouter.ai/api/v1, becomes the gateway's /v1; @openrouter/sdk with serverURL):
//
//   GET  /v1/generation?id=          what a request cost, its tokens, latency, finish, provider and
//                                    every attempt (fallback hops included): its usage record, read
//                                    within what the key may read (a service key its own requests,
//                                    a team key its team's, an admin all)
//   POST /v1/generation/feedback     a report on a request (OpenRouter's category and comment), kept
//                                    as a score of -1 in the feedback store (GetFeedbackSummary)
//   GET  /v1/key                     the calling key: its name, the budget that bounds it (limit,
//                                    remaining, reset), its spend today, this week, this month and
//                                    in all, its rate limit and expiry
//   GET  /v1/credits                 that budget as OpenRouter's credits: its limit and what is
//                                    spent (and held) against it in its period
//   GET  /v1/models/count            how many models the key may name (GET /v1/models' length)
//   GET  /v1/models/user             GET /v1/models, under the path OpenRouter filters per user
//   GET  /v1/models/{id}/endpoints   the deployments that serve a model the key may name, with
//                                    their prices, limits, parameters and health
//   GET  /v1/endpoints/zdr           those of every such model whose provider retains no data
//   GET  /v1/providers               the provider connections those deployments use (names only)
//
// And OpenRouter's key provisioning API (its "management keys": here admin keys, and team keys
// for their own team, as AdminService allows; a service key gets a 403), on the control plane:
//
//   GET    /v1/keys?offset=&include_disabled=&workspace_id=   keys, newest first, 100 a page;
//                                    blocked keys only with include_disabled=true; revoked never
//   POST   /v1/keys                  {name, limit, limit_reset, expires_at, workspace_id}: a service
//                                    key of that team (the caller's by default); 201 {data, key},
//                                    the one time the secret is shown
//   GET    /v1/keys/{hash}           {data}
//   PATCH  /v1/keys/{hash}           {name, disabled, limit, limit_reset}: disabled blocks and
//                                    unblocks (reversible), limit sets the key's budget
//   DELETE /v1/keys/{hash}           revokes the key (refused at once, kept on record): {deleted: true}
//
// `hash` is the gateway's key name: stable, unique, and it says nothing of the secret (the store's
// own hash is the secret's sha256, which never leaves the process). OpenRouter's `name` is a
// free-text label: it is kept in the key's metadata (display_name), and the key's name is made
// from it (accents dropped, lowercased, other characters as '-', a random suffix when taken). A
// limit resets at midnight UTC by calendar day, ISO week or month (limit_reset daily, weekly,
// monthly); a limit with no limit_reset (or null) never resets, as on OpenRouter: a lifetime
// budget. PATCH with limit alone keeps the reset, limit_reset: null makes it never reset. Usage
// comes from the usage store (two queries grouped by key a page); BYOK usage is always 0.
//
// The id of a generation is the completion's id (the request id, x-request-id). Errors keep
// OpenRouter's shape ({"error": {"code": <status>, "message", "metadata"}}), so its SDK reads them.

import type { BudgetConfig, Config, DeploymentConfig, Operation } from "../config/types.ts";
import type { Actor, KeyInput, KeyPatch } from "../control/control-plane.ts";
import type { ManagedKey } from "../control/types.ts";
import type { GatewayCore } from "../gateway.ts";
import type { ParamName } from "../providers/types.ts";
import { periodBounds, resetsAt } from "../limits/periods.ts";
import { withFreeName } from "./labels.ts";
import { GatewayError } from "../router/errors.ts";
import { dataPolicyOf } from "../router/provider-preferences.ts";
import type { Caller } from "../router/types.ts";
import { findReadable, submitFeedback, type FeedbackDeps } from "../server/feedback.ts";
import { authorizeUsageFilters } from "../server/usage-service.ts";
import type { UsageRecord } from "../usage/record.ts";
import { DAY } from "../usage/store.ts";
import type { HealthSnapshot } from "../state/health.ts";
import { toOpenAIError, type OpenAIError } from "./response.ts";
import { PRESET_PARAMS } from "../config/presets.ts";

const PATHS = new Set(["/v1/generation", "/v1/generation/feedback", "/v1/key", "/v1/credits", "/v1/models/count", "/v1/models/user", "/v1/endpoints/zdr", "/v1/providers", "/v1/keys"]);
const ENDPOINTS = /^\/v1\/models\/(.+)\/endpoints$/;
const ONE_KEY = /^\/v1\/keys\/([^/]+)$/;
/** OpenRouter's "create a preset from a chat-completions request body". */
const PRESET_FROM_CHAT = /^\/v1\/presets\/([^/]+)\/chat\/completions$/;

/** Whether serveOpenRouter answers a path (a model named "count", "user" or ending "/endpoints" is shadowed, as on OpenRouter). */
export const isOpenRouterPath = (p: string): boolean => PATHS.has(p) || ENDPOINTS.test(p) || ONE_KEY.test(p) || PRESET_FROM_CHAT.test(p);

/** The route a trace names: a key's hash is not a route. */
export const openRouterRoute = (p: string): string => (ONE_KEY.test(p) ? "/v1/keys/{hash}" : PRESET_FROM_CHAT.test(p) ? "/v1/presets/{slug}/chat/completions" : p);

/** OpenRouter's feedback categories (POST /generation/feedback). */
const CATEGORIES = new Set(["latency", "incoherence", "incorrect_response", "formatting", "billing", "api_error", "other"]);
const MAX_COMMENT = 1000;

export interface OpenRouterDeps {
  core: GatewayCore;
  feedback: FeedbackDeps;
  caller: Caller;
  query: URLSearchParams;
  readJson(): Promise<unknown>;
  send(status: number, body: unknown, headers?: Record<string, string>): void;
  /** The models the key may name, as GET /v1/models lists them (OpenRouter's fields on each). */
  models(): ListedModel[];
  /** One of them by id, a model a wildcard deployment makes included; undefined when the key may not name it. */
  model(id: string): ListedModel | undefined;
  /** The request's trace id, for the audit log of key changes. */
  traceId?: string;
  now?: () => number;
}

/** A model as GET /v1/models lists it: its id, OpenRouter's fields, and what it is here. */
export type ListedModel = Record<string, unknown> & { id: string; signalbox: { kind: "route" | "alias" | "deployment" | "wildcard"; target?: string; description?: string } };

/** Serve one of the paths isOpenRouterPath accepts; returns the status sent. */
export async function serveOpenRouter(method: string, path: string, d: OpenRouterDeps): Promise<number> {
  if (path === "/v1/keys" || ONE_KEY.test(path)) return serveKeys(method, path, d);
  const preset = PRESET_FROM_CHAT.exec(path);
  if (preset) return servePresetFromChat(method, decodeURIComponent(preset[1]), d);
  const allowed = path === "/v1/generation/feedback" ? "POST" : "GET";
  if (method !== allowed) {
    d.send(405, { error: { code: 405, message: `${method} is not allowed on ${path}; use ${allowed}` } }, { allow: allowed });
    return 405;
  }
  if (path === "/v1/generation") {
    const id = d.query.get("id") ?? "";
    if (!id) throw new GatewayError("invalid_argument", "id: the generation's id (the completion's id) is required", { field: "id" });
    if (!d.feedback.usage) throw new GatewayError("failed_precondition", "generation lookups need the usage store");
    const record = await findReadable(d.feedback, d.caller, { id });
    if (!record) throw new GatewayError("not_found", `id: no generation "${id}" that this key may read`, { field: "id" });
    d.send(200, { data: generationJson(record) });
    return 200;
  }
  if (path === "/v1/generation/feedback") {
    const body = await d.readJson();
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new GatewayError("invalid_argument", "body: must be a JSON object", { field: "body" });
    const b = body as Record<string, unknown>;
    if (typeof b.generation_id !== "string" || !b.generation_id) throw new GatewayError("invalid_argument", "generation_id: the generation reported (a completion's id) is required", { field: "generation_id" });
    if (typeof b.category !== "string" || !CATEGORIES.has(b.category)) {
      throw new GatewayError("invalid_argument", `category: must be one of ${[...CATEGORIES].join(", ")}, got ${JSON.stringify(b.category)}`, { field: "category" });
    }
    if (b.comment !== undefined && b.comment !== null && typeof b.comment !== "string") throw new GatewayError("invalid_argument", "comment: must be a string", { field: "comment" });
    const comment = typeof b.comment === "string" ? b.comment : "";
    if (comment.length > MAX_COMMENT) throw new GatewayError("invalid_argument", `comment: at most ${MAX_COMMENT} characters`, { field: "comment" });
    // A report says something went wrong: a score of -1, its category and comment kept beside it.
    await submitFeedback(d.feedback, d.caller, { requestId: b.generation_id, value: -1, metadata: { source: "openrouter", category: b.category, ...(comment ? { comment } : {}) } }, { requestId: "generation_id", traceId: "generation_id", value: "category", weight: "weight", metadata: "comment" });
    d.send(200, { data: { success: true } });
    return 200;
  }
  if (path === "/v1/key") {
    d.send(200, { data: await keyJson(d) });
    return 200;
  }
  if (path === "/v1/credits") {
    d.send(200, { data: await creditsJson(d) });
    return 200;
  }
  if (path === "/v1/models/count") {
    d.send(200, { data: { count: withOutputs(d.models(), d.query.get("output_modalities")).length } });
    return 200;
  }
  if (path === "/v1/models/user") {
    // The list is already the key's own; OpenRouter's paging fields, one page.
    const data = withOutputs(d.models(), d.query.get("output_modalities"));
    d.send(200, { data, links: { next: null }, total_count: data.length });
    return 200;
  }
  const health = d.core.exec.health.snapshot();
  if (path === "/v1/endpoints/zdr") {
    const providers = new Map(d.core.registry.config.providers.map((p) => [p.name, p]));
    const zdr = reachable(d).filter((x) => {
      const p = providers.get(x.provider);
      return p !== undefined && dataPolicyOf(p).zeroRetention;
    });
    d.send(200, { data: zdr.map((x) => endpointJson(x, health)) });
    return 200;
  }
  if (path === "/v1/providers") {
    d.send(200, { data: providersJson(d.core.registry.config, reachable(d)) });
    return 200;
  }
  // /v1/models/{id}/endpoints: the id as /v1/models lists it, its slash encoded or not.
  const id = ENDPOINTS.exec(path)![1]!.split("/").map(decodeURIComponent).filter(Boolean).join("/");
  const m = d.model(id);
  if (!m) throw new GatewayError("not_found", `model: the model "${id}" does not exist or this key may not use it`, { field: "model" });
  const behind = servedBy(d.core, m);
  const fields = openRouterModelFields(m.id, String(m.name ?? m.id), behind);
  d.send(200, {
    data: {
      id: m.id,
      name: fields.name,
      created: typeof m.created === "number" ? m.created : 0,
      description: m.signalbox.description ?? "",
      architecture: { ...fields.architecture, tokenizer: null },
      endpoints: behind.map((x) => endpointJson(x, health)),
    },
  });
  return 200;
}

const API_TYPE: Record<string, string> = { chat: "completions", embeddings: "embeddings", rerank: "rerank", images: "image", transcription: "stt", speech: "tts" };
const usd = (nanos: number | undefined) => (nanos === undefined ? null : nanos / 1e9);

/** A usage record in OpenRouter's generation shape (every field its SDK requires), with the gateway's own beside it. */
export function generationJson(r: UsageRecord) {
  const answered = [...r.attempts].reverse().find((a) => a.outcome === "succeeded");
  const u = r.usage;
  return {
    id: r.id,
    request_id: r.id,
    upstream_id: null,
    total_cost: r.cost.total / 1e9,
    usage: r.cost.total / 1e9,
    cache_discount: null,
    upstream_inference_cost: u.providerCostUsd ?? null,
    created_at: new Date(r.time).toISOString(),
    model: answered?.model || r.model,
    app_id: null,
    streamed: r.streamed,
    cancelled: r.status === "canceled",
    provider_name: r.provider || null,
    latency: r.latencyMs,
    moderation_latency: null,
    generation_time: r.ttftMs === undefined ? r.latencyMs : Math.max(0, r.latencyMs - r.ttftMs),
    finish_reason: r.finishReason ?? null,
    native_finish_reason: r.finishReason ?? null,
    tokens_prompt: u.inputTokens,
    tokens_completion: u.outputTokens,
    native_tokens_prompt: u.inputTokens,
    native_tokens_completion: u.outputTokens,
    native_tokens_completion_images: null,
    native_tokens_reasoning: u.reasoningTokens,
    native_tokens_cached: u.cachedInputTokens,
    num_media_prompt: null,
    num_input_audio_prompt: null,
    num_media_completion: null,
    num_search_results: null,
    num_fetches: null,
    origin: "",
    http_referer: null,
    user_agent: null,
    is_byok: false,
    external_user: r.user || null,
    api_type: API_TYPE[r.operation ?? "chat"] ?? null,
    router: r.routing.route || null,
    service_tier: null,
    preset_id: null,
    session_id: null,
    response_cache_source_id: null,
    web_search_engine: null,
    workspace_id: r.team || null,
    data_region: "global",
    // Every attempt, fallback hops and hedges included, with the upstream's HTTP status.
    provider_responses: r.attempts.map((a) => ({
      endpoint_id: a.deployment,
      model_permaslug: a.model,
      provider_name: a.provider,
      latency: a.latencyMs,
      is_byok: false,
      status: a.httpStatus ?? (a.outcome === "succeeded" ? 200 : null),
    })),
    signalbox: {
      status: r.status,
      deployment: r.deployment,
      route: r.routing.route,
      variant: r.routing.variant,
      attempts: r.attempts.length,
      cache_hit: r.cacheHit,
      cost_nano_usd: r.cost.total,
      trace_id: r.traceId,
      ...(r.failureKind ? { failure_kind: r.failureKind } : {}),
    },
  };
}

/** OpenRouter's limit_reset of a budget period: a lifetime budget is a limit that never resets (null). */
const RESET = { day: "daily", week: "weekly", month: "monthly", lifetime: null } as const;

/** A budget that applies to a key, as the limiter holds it now (nano-USD). */
type Bound = { scope: "key" | "team"; name: string; period: BudgetConfig["period"]; limit: number; spent: number; reserved: number; remaining: number; resetAt: number | undefined };

/** The budgets that apply to the caller (the key's own, its team's) and the one with the least room left, which bounds the key. */
async function budgetsOf(core: GatewayCore, caller: Caller, now: number): Promise<{ bounds: Bound[]; bound: Bound | undefined }> {
  const managed = caller.role === "anonymous" ? undefined : core.control.directory.key(caller.keyName);
  const bounds: Bound[] = [];
  const add = async (scope: "key" | "team", name: string, id: string, shard: string, b: { period: BudgetConfig["period"]; limitUsd: number } | undefined) => {
    if (!b) return;
    const st = await core.limits.budgetState(shard, id, b.period, now);
    const limit = Math.round(b.limitUsd * 1e9);
    bounds.push({ scope, name, period: b.period, limit, spent: st.spentNanos, reserved: st.reservedNanos, remaining: Math.max(0, limit - st.spentNanos - st.reservedNanos), resetAt: resetsAt(b.period, now) });
  };
  if (caller.role !== "anonymous") {
    await add("key", caller.keyName, `key:${caller.keyName}`, `team:${caller.team}`, managed?.budget ?? caller.key?.budget);
    await add("team", caller.team, `team:${caller.team}`, `team:${caller.team}`, core.control.directory.team(caller.team)?.budget);
  }
  return { bounds, bound: bounds.reduce<Bound | undefined>((m, b) => (m === undefined || b.remaining < m.remaining ? b : m), undefined) };
}

/** The calling key in OpenRouter's shape: the budget that bounds it, and its spend from the usage store. */
async function keyJson(d: OpenRouterDeps) {
  const { core, caller } = d;
  const now = (d.now ?? Date.now)();
  const managed = caller.role === "anonymous" ? undefined : core.control.directory.key(caller.keyName);
  const { bounds, bound } = await budgetsOf(core, caller, now);
  const spend = await spendOf(d.feedback, caller, now, managed?.createdAt);
  const limits = managed?.limits ?? caller.key?.limits;
  return {
    label: caller.keyName,
    limit: bound ? bound.limit / 1e9 : null,
    limit_remaining: bound ? bound.remaining / 1e9 : null,
    limit_reset: bound ? RESET[bound.period] : null,
    usage: spend.all,
    usage_daily: spend.day,
    usage_weekly: spend.week,
    usage_monthly: spend.month,
    byok_usage: 0,
    byok_usage_daily: 0,
    byok_usage_weekly: 0,
    byok_usage_monthly: 0,
    include_byok_in_limit: false,
    is_free_tier: false,
    is_management_key: caller.role === "admin",
    is_provisioning_key: false,
    creator_user_id: managed?.createdBy || null,
    expires_at: managed?.expiresAt ? new Date(managed.expiresAt).toISOString() : null,
    organization_id: null,
    workspace_id: caller.team || null,
    allowed_data_regions: ["global"],
    free_model_daily_requests: { limit: 0, remaining: 0, used: 0 },
    rate_limit: { requests: limits?.requestsPerMinute ?? -1, interval: "1m", note: "requests a minute this key may make; -1: no limit of its own" },
    signalbox: {
      team: caller.team,
      role: caller.role,
      allow: caller.allow,
      budgets: bounds.map((b) => ({ scope: b.scope, name: b.name, period: b.period, limit_usd: b.limit / 1e9, spent_usd: b.spent / 1e9, reserved_usd: b.reserved / 1e9, remaining_usd: b.remaining / 1e9, resets_at: b.resetAt === undefined ? null : new Date(b.resetAt).toISOString() })),
      ...(limits?.tokensPerMinute !== undefined ? { tokens_per_minute: limits.tokensPerMinute } : {}),
    },
  };
}

/**
 * The calling key's budget as OpenRouter's credits: the budget that bounds it (as GET /v1/key's
 * limit) is the credits, and what is spent and held against it in its current period the usage,
 * so total_credits - total_usage is /v1/key's limit_remaining. A key no budget bounds has no
 * credits to draw down and nothing that stops it: total_credits 0 (the SDK wants a number) and
 * its spend in all as total_usage; signalbox.budget is null, as /v1/key's limit is.
 */
async function creditsJson(d: OpenRouterDeps) {
  const now = (d.now ?? Date.now)();
  const { bound } = await budgetsOf(d.core, d.caller, now);
  if (bound) {
    return {
      total_credits: bound.limit / 1e9,
      total_usage: (bound.spent + bound.reserved) / 1e9,
      signalbox: { budget: { scope: bound.scope, name: bound.name, period: bound.period, spent_usd: bound.spent / 1e9, reserved_usd: bound.reserved / 1e9, resets_at: bound.resetAt === undefined ? null : new Date(bound.resetAt).toISOString() } },
    };
  }
  const managed = d.caller.role === "anonymous" ? undefined : d.core.control.directory.key(d.caller.keyName);
  const spend = await spendOf(d.feedback, d.caller, now, managed?.createdAt);
  return { total_credits: 0, total_usage: spend.all, signalbox: { budget: null } };
}

/**
 * What the key spent (USD) today, this ISO week, this calendar month (UTC) and in all: since the
 * key was made, or over the last year for a key of the config file. Two queries of the usage store.
 */
async function spendOf(f: FeedbackDeps, caller: Caller, now: number, createdAt?: number): Promise<{ all: number; day: number; week: number; month: number }> {
  const out = { all: 0, day: 0, week: 0, month: 0 };
  if (!f.usage) return out;
  const filters = authorizeUsageFilters(caller, caller.role === "anonymous" ? [] : [{ dimension: "key", values: [caller.keyName] }]);
  const day = periodBounds("day", now).start;
  const week = periodBounds("week", now).start;
  const month = periodBounds("month", now).start;
  const since = Math.min(week, month);
  const [total, days] = await Promise.all([
    f.usage.query({ start: Math.min(since, createdAt ?? now - 366 * DAY), end: now + 1, granularity: "total", groupBy: [], filters }),
    f.usage.query({ start: since, end: now + 1, granularity: "day", groupBy: [], filters }),
  ]);
  for (const r of total.rows) out.all += Number(r.cost.total) / 1e9;
  for (const r of days.rows) {
    const c = Number(r.cost.total) / 1e9;
    if (r.bucketStart >= day) out.day += c;
    if (r.bucketStart >= week) out.week += c;
    if (r.bucketStart >= month) out.month += c;
  }
  return out;
}

// ---- OpenRouter's key provisioning API: /v1/keys ---------------------------------------------

/** A page of GET /v1/keys, as on OpenRouter. */
const KEYS_PAGE = 100;
const MAX_LABEL = 256;
/** The metadata entry that keeps OpenRouter's name of a key (a free-text label). */
const LABEL_META = "display_name";
const PERIOD_OF: Record<string, BudgetConfig["period"]> = { daily: "day", weekly: "week", monthly: "month" };
/** The control plane's field names as OpenRouter's requests name them ("name" there is the key: its hash here). */
const FIELD_OF: Record<string, string> = { name: "hash", team: "workspace_id", "key.name": "name", "key.team": "workspace_id", "key.budget.limit_usd": "limit", "key.budget.period": "limit_reset", "key.expire_time": "expires_at", "key.metadata": "name", [`key.metadata.${LABEL_META}`]: "name" };

const badField = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });

/** A control plane call whose errors name OpenRouter's fields rather than AdminService's. */
async function inOpenRouterTerms<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const from = err instanceof GatewayError ? err.details.field : undefined;
    const to = from === undefined ? undefined : FIELD_OF[from];
    if (!(err instanceof GatewayError) || from === undefined || to === undefined) throw err;
    const message = err.message.startsWith(`${from}:`) ? `${to}:${err.message.slice(from.length + 1)}` : err.message;
    throw new GatewayError(err.code, message, { ...err.details, field: to }, err);
  }
}

/** OpenRouter's `name`: free text, kept as the key's display_name. */
function labelOf(v: unknown): string {
  if (typeof v !== "string" || !v.trim()) throw badField("name", `a name for the key is required: a non-empty string, got ${JSON.stringify(v)}`);
  if (v.length > MAX_LABEL) throw badField("name", `at most ${MAX_LABEL} characters`);
  return v;
}

function flagOf(v: unknown, field: string): boolean | undefined {
  if (v !== undefined && typeof v !== "boolean") throw badField(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * OpenRouter's limit (USD) and limit_reset as the key's budget: undefined leaves it as it is, null
 * removes it. A changed limit keeps the current period, a changed reset the current limit; a limit
 * with no reset (limit_reset null, or absent with no period to keep) never resets: a lifetime budget.
 */
function budgetFrom(b: Record<string, unknown>, current: BudgetConfig | undefined): BudgetConfig | null | undefined {
  const hasLimit = b.limit !== undefined;
  const hasReset = b.limit_reset !== undefined;
  if (!hasLimit && !hasReset) return undefined;
  if (hasLimit && b.limit !== null && !(typeof b.limit === "number" && Number.isFinite(b.limit) && b.limit > 0)) throw badField("limit", `must be a number of USD above 0, or null for no limit; got ${JSON.stringify(b.limit)}`);
  if (hasReset && b.limit_reset !== null && !(typeof b.limit_reset === "string" && PERIOD_OF[b.limit_reset])) throw badField("limit_reset", `must be daily, weekly or monthly, or null for a limit that never resets; got ${JSON.stringify(b.limit_reset)}`);
  const limit = hasLimit ? (b.limit as number | null) : (current?.limitUsd ?? null);
  if (limit === null) {
    if (!hasLimit && typeof b.limit_reset === "string") throw badField("limit", "this key has no limit for limit_reset to reset: give limit too");
    return hasLimit ? null : undefined;
  }
  const period = typeof b.limit_reset === "string" ? PERIOD_OF[b.limit_reset] : b.limit_reset === null ? "lifetime" : (current?.period ?? "lifetime");
  return { period, limitUsd: limit, softThreshold: current?.softThreshold ?? 0.8 };
}

/** OpenRouter's expires_at: an ISO 8601 time in UTC (other offsets are refused, as there), in the future. */
function expiryFrom(v: unknown, now: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]00:?00)$/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) throw badField("expires_at", `must be an ISO 8601 time in UTC, such as 2027-12-31T23:59:59Z; got ${JSON.stringify(v)}`);
  if (t <= now) throw badField("expires_at", "is in the past");
  return t;
}

type Spend = { all: number; day: number; week: number; month: number };
const NO_SPEND: Spend = Object.freeze({ all: 0, day: 0, week: 0, month: 0 });

/**
 * What each key spent (USD) in all, today, this ISO week and this month (UTC): two queries of the
 * usage store grouped by key, however many keys the page holds.
 */
async function spendByKey(f: FeedbackDeps, caller: Caller, keys: readonly ManagedKey[], now: number): Promise<Map<string, Spend>> {
  const out = new Map<string, Spend>();
  if (!f.usage || keys.length === 0) return out;
  const filters = authorizeUsageFilters(caller, [{ dimension: "key", values: keys.map((k) => k.name) }]);
  const day = periodBounds("day", now).start;
  const week = periodBounds("week", now).start;
  const month = periodBounds("month", now).start;
  const since = Math.min(week, month);
  const first = keys.reduce((m, k) => Math.min(m, k.createdAt), since);
  const [total, days] = await Promise.all([
    f.usage.query({ start: first, end: now + 1, granularity: "total", groupBy: ["key"], filters }),
    f.usage.query({ start: since, end: now + 1, granularity: "day", groupBy: ["key"], filters }),
  ]);
  const of = (name: string) => {
    let s = out.get(name);
    if (!s) out.set(name, (s = { all: 0, day: 0, week: 0, month: 0 }));
    return s;
  };
  for (const r of total.rows) if (r.group.key) of(r.group.key).all += Number(r.cost.total) / 1e9;
  for (const r of days.rows) {
    if (!r.group.key) continue;
    const s = of(r.group.key);
    const c = Number(r.cost.total) / 1e9;
    if (r.bucketStart >= day) s.day += c;
    if (r.bucketStart >= week) s.week += c;
    if (r.bucketStart >= month) s.month += c;
  }
  return out;
}

/** Keys in OpenRouter's key shape (every field its SDK requires), their spend and what their budget has left. */
async function keysJson(d: OpenRouterDeps, keys: readonly ManagedKey[], now: number) {
  const spend = await spendByKey(d.feedback, d.caller, keys, now);
  const iso = (t: number) => new Date(t).toISOString();
  return Promise.all(
    keys.map(async (k) => {
      const s = spend.get(k.name) ?? NO_SPEND;
      let remaining: number | null = null;
      if (k.budget) {
        const st = await d.core.limits.budgetState(`team:${k.team}`, `key:${k.name}`, k.budget.period, now);
        remaining = Math.max(0, Math.round(k.budget.limitUsd * 1e9) - st.spentNanos - st.reservedNanos) / 1e9;
      }
      return {
        hash: k.name,
        name: k.metadata[LABEL_META] ?? k.name,
        // OpenRouter's label shows the start of the secret; the prefix is the part safe to show.
        label: k.prefix ? `${k.prefix}...` : k.name,
        disabled: k.blockedAt !== undefined,
        limit: k.budget?.limitUsd ?? null,
        limit_remaining: remaining,
        limit_reset: k.budget ? RESET[k.budget.period] : null,
        // No BYOK here: every request counts against the limit, and none is BYOK.
        include_byok_in_limit: false,
        usage: s.all,
        usage_daily: s.day,
        usage_weekly: s.week,
        usage_monthly: s.month,
        byok_usage: 0,
        byok_usage_daily: 0,
        byok_usage_weekly: 0,
        byok_usage_monthly: 0,
        created_at: iso(k.createdAt),
        updated_at: k.updatedAt > k.createdAt ? iso(k.updatedAt) : null,
        expires_at: k.expiresAt !== undefined ? iso(k.expiresAt) : null,
        creator_user_id: k.createdBy || null,
        external_user: null,
        workspace_id: k.team,
        signalbox: {
          name: k.name,
          team: k.team,
          role: k.role,
          source: k.source,
          ...(k.blockedAt !== undefined ? { blocked_at: iso(k.blockedAt) } : {}),
          ...(k.expiresAt !== undefined && k.expiresAt <= now ? { expired: true } : {}),
          ...(k.lastUsedAt !== undefined ? { last_used_at: iso(k.lastUsedAt) } : {}),
        },
      };
    }),
  );
}

/** /v1/keys and /v1/keys/{hash}: OpenRouter's key provisioning, on the control plane's checks, audit and store. */
async function serveKeys(method: string, path: string, d: OpenRouterDeps): Promise<number> {
  const one = ONE_KEY.exec(path);
  const allowed = one ? ["GET", "PATCH", "DELETE"] : ["GET", "POST"];
  if (!allowed.includes(method)) {
    d.send(405, { error: { code: 405, message: `${method} is not allowed on ${one ? "/v1/keys/{hash}" : path}; use ${allowed.join(", ")}` } }, { allow: allowed.join(", ") });
    return 405;
  }
  const cp = d.core.control;
  const a: Actor = { caller: d.caller, authEnabled: d.core.auth.enabled, traceId: d.traceId ?? "" };
  const now = (d.now ?? Date.now)();
  const body = async () => {
    const b = await d.readJson();
    if (!b || typeof b !== "object" || Array.isArray(b)) throw badField("body", "must be a JSON object");
    return b as Record<string, unknown>;
  };

  if (!one) {
    if (method === "GET") {
      const rawOffset = d.query.get("offset");
      if (rawOffset !== null && !/^\d{1,9}$/.test(rawOffset)) throw badField("offset", `must be a whole number of keys to skip, 0 or more; got "${rawOffset}"`);
      const withDisabled = d.query.get("include_disabled");
      if (withDisabled !== null && withDisabled !== "true" && withDisabled !== "false") throw badField("include_disabled", `must be true or false; got "${withDisabled}"`);
      const team = d.query.get("workspace_id") || undefined;
      const all: ManagedKey[] = [];
      let cursor: string | undefined;
      do {
        const p = await inOpenRouterTerms(() => cp.listKeys(a, { team, limit: 500, cursor, includeRevoked: false }));
        all.push(...p.items);
        cursor = p.next;
      } while (cursor);
      // Newest first, as OpenRouter lists them; blocked keys are its disabled ones.
      const offset = Number(rawOffset ?? 0);
      const shown = all
        .filter((k) => withDisabled === "true" || k.blockedAt === undefined)
        .sort((x, y) => y.createdAt - x.createdAt || (x.name < y.name ? -1 : 1))
        .slice(offset, offset + KEYS_PAGE);
      d.send(200, { data: await keysJson(d, shown, now) });
      return 200;
    }
    const b = await body();
    const label = labelOf(b.name);
    if (b.workspace_id !== undefined && b.workspace_id !== null && (typeof b.workspace_id !== "string" || !b.workspace_id)) throw badField("workspace_id", "must be a team's name");
    // OpenRouter's default workspace is the calling key's team here.
    const team = typeof b.workspace_id === "string" ? b.workspace_id : d.caller.role === "anonymous" ? "" : d.caller.team;
    if (!team) throw badField("workspace_id", "required while auth is off: the team the key belongs to");
    flagOf(b.include_byok_in_limit, "include_byok_in_limit");
    const budget = budgetFrom(b, undefined);
    const expiresAt = expiryFrom(b.expires_at, now);
    const input: KeyInput = { name: "", team, role: "service", allow: [], limits: {}, ...(budget ? { budget } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}), metadata: { [LABEL_META]: label } };
    const out = await withFreeName(label, "key", (n) => cp.directory.key(n) !== undefined, (name) => inOpenRouterTerms(() => cp.createKey(a, { ...input, name })));
    const [data] = await keysJson(d, [out.key], now);
    d.send(201, { data, key: out.secret });
    return 201;
  }

  let hash: string;
  try {
    hash = decodeURIComponent(one[1]!);
  } catch {
    throw badField("hash", "is not a valid path segment");
  }
  /** The key by its hash, when this caller may see it; a revoked key is a deleted one. */
  const keyOf = async (): Promise<ManagedKey> => {
    try {
      const k = await inOpenRouterTerms(() => cp.getKey(a, hash));
      if (k.revokedAt === undefined) return k;
    } catch (err) {
      if (!(err instanceof GatewayError && err.code === "not_found")) throw err;
    }
    // The hash is not echoed: a caller may have put a secret there by mistake.
    throw new GatewayError("not_found", "hash: no key with this hash that this key may see", { field: "hash" });
  };
  const k = await keyOf();
  if (method === "GET") {
    d.send(200, { data: (await keysJson(d, [k], now))[0] });
    return 200;
  }
  if (method === "DELETE") {
    await inOpenRouterTerms(() => cp.revokeKey(a, k.name));
    d.send(200, { deleted: true });
    return 200;
  }
  // PATCH: everything is checked before anything is written.
  const b = await body();
  const patch: KeyPatch = {};
  if (b.name !== undefined) patch.metadata = { ...k.metadata, [LABEL_META]: labelOf(b.name) };
  const budget = budgetFrom(b, k.budget);
  if (budget !== undefined) patch.budget = budget ?? undefined;
  const disabled = flagOf(b.disabled, "disabled");
  flagOf(b.include_byok_in_limit, "include_byok_in_limit");
  if (Object.keys(patch).length) await inOpenRouterTerms(() => cp.updateKey(a, k.name, patch));
  if (disabled === true) await inOpenRouterTerms(() => cp.blockKey(a, k.name));
  if (disabled === false) await inOpenRouterTerms(() => cp.unblockKey(a, k.name));
  d.send(200, { data: (await keysJson(d, [await keyOf()], now))[0] });
  return 200;
}

/** An error in OpenRouter's shape: the HTTP status as the code, the gateway's type, param and code in the metadata. */
export function toOpenRouterError(err: unknown): OpenAIError & { body: { error: { message: string; code: number; metadata: Record<string, unknown> } } } {
  const e = toOpenAIError(err);
  const { message, type, param, code } = e.body.error;
  return { ...e, body: { error: { code: e.status, message, metadata: { type, param, code } } } } as never;
}

// ---- /v1/models in OpenRouter's shape too -----------------------------------------------------

/** USD per token, as OpenRouter writes prices (a decimal string), from micro-USD per million tokens. */
function perToken(microPerMillion: number): string {
  const s = (microPerMillion / 1e12).toFixed(15).replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}

/** A deployment's prices as OpenRouter writes them: USD per token, as decimal strings. */
function pricingOf(d: DeploymentConfig) {
  return {
    prompt: perToken(d.pricing.input),
    completion: perToken(d.pricing.output),
    input_cache_read: perToken(d.pricing.cachedInput),
    input_cache_write: perToken(d.pricing.cacheWrite),
    ...(d.pricing.reasoning ? { internal_reasoning: perToken(d.pricing.reasoning) } : {}),
    ...(d.pricing.perRequestNanos ? { request: String(d.pricing.perRequestNanos / 1e9) } : {}),
  };
}

/** OpenRouter's parameter names a deployment's model accepts (its capabilities less what its rules reject). */
function supportedParameters(d: DeploymentConfig): string[] {
  // The sampling and tool parameters are chat's; other operations take their own fields.
  if (!d.operations.includes("chat")) return [];
  const rejects = d.params.rejects;
  const out: string[] = [];
  const take = (name: string, rule?: ParamName) => {
    if (!rule || !rejects[rule] || rejects[rule]!.keepIf || rejects[rule]!.keepTypes) out.push(name);
  };
  take("max_tokens", "max_output_tokens");
  take("temperature", "temperature");
  take("top_p", "top_p");
  take("stop", "stop");
  take("seed", "seed");
  take("frequency_penalty", "frequency_penalty");
  take("presence_penalty", "presence_penalty");
  take("logit_bias", "logit_bias");
  if (!rejects.logprobs) out.push("logprobs", "top_logprobs");
  if (d.capabilities.includes("tools")) {
    take("tools", "tools");
    take("tool_choice", "tool_choice");
    take("parallel_tool_calls", "parallel_tool_calls");
  }
  if (d.capabilities.includes("json_mode") || d.capabilities.includes("json_schema")) take("response_format", "response_format");
  if (d.capabilities.includes("json_schema")) out.push("structured_outputs");
  if (d.capabilities.includes("reasoning")) {
    out.push("reasoning", "include_reasoning");
    take("reasoning_effort", "reasoning_effort");
  }
  return out;
}

const OUTPUT: Partial<Record<Operation, string>> = { chat: "text", embeddings: "embeddings", images: "image", speech: "audio", transcription: "text", moderation: "text", rerank: "text", realtime: "audio" };

const INPUT: Partial<Record<Operation, string[]>> = { transcription: ["audio"], realtime: ["text", "audio"], speech: ["text"], rerank: ["text"], images: ["text", "image"], ocr: ["file", "image"], search: ["text"] };

/** A deployment's architecture: what it takes and gives. */
function architecture(d: DeploymentConfig) {
  const vision = d.capabilities.includes("vision") ? ["image", "file"] : [];
  const input = [...new Set(d.operations.flatMap((o) => INPUT[o] ?? ["text", ...vision]))];
  const output = [...new Set(d.operations.map((o) => OUTPUT[o] ?? "text"))];
  return { input_modalities: input, output_modalities: output, modality: `${input.join("+")}->${output.join("+")}`, instruct_type: null };
}

/**
 * The fields OpenRouter's model list gives beside OpenAI's, for one model a caller may name:
 * `deployments` are what it resolves to (a deployment, its alias's target, a route's targets).
 * A route whose targets price alike has their price; one whose prices differ is "-1", as
 * OpenRouter marks its own routers (the price depends on where each request goes).
 */
export function openRouterModelFields(id: string, name: string, deployments: readonly DeploymentConfig[]) {
  const d = deployments[0];
  const prices = new Set(deployments.map((x) => `${x.pricing.input}/${x.pricing.output}`));
  const fixed = d !== undefined && prices.size === 1;
  const context = deployments.length ? Math.max(...deployments.map((x) => x.contextWindow)) : null;
  const pricing = !fixed ? { prompt: "-1", completion: "-1" } : pricingOf(d);
  return {
    canonical_slug: id,
    name,
    context_length: context,
    architecture: d ? architecture(d) : { input_modalities: ["text"], output_modalities: ["text"], modality: "text->text", instruct_type: null },
    pricing,
    top_provider: { context_length: context, max_completion_tokens: d ? Math.max(...deployments.map((x) => x.maxOutputTokens)) : null, is_moderated: false },
    per_request_limits: null,
    default_parameters: null,
    supported_parameters: d ? supportedParameters(d) : [],
    supported_voices: null,
    links: { details: `/v1/models/${encodeURIComponent(id)}` },
  };
}

// ---- The deployments behind the models a key may name ----------------------------------------

/** Deployments and routes by name, made once per configuration (a reload brings a new one). */
const indexes = new WeakMap<Config, { deployments: Map<string, DeploymentConfig>; routes: Map<string, Config["routes"][number]> }>();

/** The deployments a name resolves to: a deployment itself, or a route's targets (its variants' too), each once. */
export function deploymentsBehind(cfg: Config, name: string): DeploymentConfig[] {
  let ix = indexes.get(cfg);
  if (!ix) indexes.set(cfg, (ix = { deployments: new Map(cfg.deployments.map((d) => [d.id, d])), routes: new Map(cfg.routes.map((r) => [r.name, r])) }));
  const d = ix.deployments.get(name);
  if (d) return [d];
  const r = ix.routes.get(name);
  if (!r) return [];
  const ids = new Set([...r.targets, ...r.variants.flatMap((v) => v.targets)].map((t) => t.deployment));
  return [...ids].map((id) => ix.deployments.get(id)).filter((x): x is DeploymentConfig => x !== undefined);
}

/** The deployments that serve a listed model (none for a wildcard itself: it serves the models it makes). */
function servedBy(core: GatewayCore, m: ListedModel): DeploymentConfig[] {
  if (m.signalbox.kind === "wildcard") return [];
  const name = m.signalbox.kind === "alias" ? (m.signalbox.target ?? m.id) : m.id;
  const found = deploymentsBehind(core.registry.config, name);
  if (found.length || m.signalbox.kind !== "deployment") return found;
  // A model a wildcard deployment made is not in the file's list.
  const r = core.registry.resolve(name);
  return r?.kind === "deployment" ? [r.deployment] : [];
}

/** Every deployment some model the key may name reaches, each once, in the list's order. */
function reachable(d: OpenRouterDeps): DeploymentConfig[] {
  const out = new Map<string, DeploymentConfig>();
  for (const m of d.models()) for (const x of servedBy(d.core, m)) out.set(x.id, x);
  return [...out.values()];
}

/** OpenRouter's output_modalities filter ("text" or "image,audio"; absent or "all": every model, as GET /v1/models lists them). */
function withOutputs(models: ListedModel[], want: string | null): ListedModel[] {
  const set = new Set((want ?? "").split(",").map((x) => x.trim()).filter(Boolean));
  if (set.size === 0 || set.has("all")) return models;
  return models.filter((m) => (m.architecture as { output_modalities?: string[] } | undefined)?.output_modalities?.some((o) => set.has(o)));
}

/**
 * A deployment's health as OpenRouter's endpoint status: 0 serving normally, -1 failing (its last
 * attempts failed, plans still try it), -10 cooling down (plans skip it until the cooldown ends).
 */
function statusOf(h: ReturnType<HealthSnapshot["get"]>, now: number): number {
  if (h?.cooldownUntil !== undefined && h.cooldownUntil > now) return -10;
  return h && h.consecutiveFailures > 0 ? -1 : 0;
}

/**
 * A deployment as one of OpenRouter's endpoints. The gateway keeps no uptime ratio or latency
 * percentiles, so those are null (OpenRouter's "not enough data"); its moving averages ride in
 * `signalbox`. Quantization is unknown: null.
 */
function endpointJson(d: DeploymentConfig, health: HealthSnapshot) {
  const h = health.get(d.id);
  const params = supportedParameters(d);
  const toolChoice = params.includes("tool_choice");
  return {
    name: `${d.provider}: ${d.model}`,
    model_id: d.id,
    model_name: d.model,
    context_length: d.contextWindow,
    max_completion_tokens: d.maxOutputTokens || null,
    max_prompt_tokens: null,
    pricing: pricingOf(d),
    // The connection's name: what provider.order and provider.only name it by.
    provider_name: d.provider,
    tag: d.provider,
    quantization: null,
    status: statusOf(h, health.now),
    supported_parameters: params,
    // The gateway does not tell implicit caching from explicit: prompt_caching says the model caches at all.
    supports_implicit_caching: d.capabilities.includes("prompt_caching"),
    supports_tool_choice: { auto: toolChoice, none: toolChoice, required: toolChoice, function: toolChoice },
    supports_voice_cloning: false,
    latency_last_30m: null,
    throughput_last_30m: null,
    uptime_last_30m: null,
    uptime_last_5m: null,
    uptime_last_1d: null,
    signalbox: {
      deployment: d.id,
      operations: d.operations,
      consecutive_failures: h?.consecutiveFailures ?? 0,
      ...(h?.cooldownUntil !== undefined && h.cooldownUntil > health.now ? { cooldown_until: new Date(h.cooldownUntil).toISOString() } : {}),
      ...(h?.latencyMs !== undefined ? { latency_ms: Math.round(h.latencyMs) } : {}),
      ...(h?.ttftMs !== undefined ? { ttft_ms: Math.round(h.ttftMs) } : {}),
      ...(h?.tokensPerSecond !== undefined ? { tokens_per_second: h.tokensPerSecond } : {}),
    },
  };
}

/**
 * The provider connections the given deployments use, in OpenRouter's provider shape: the
 * connection's name and its type and data policy; never its base URL, key or headers.
 */
function providersJson(cfg: Config, deployments: readonly DeploymentConfig[]) {
  const used = new Set(deployments.map((d) => d.provider));
  return cfg.providers
    .filter((p) => used.has(p.name))
    .map((p) => {
      const policy = dataPolicyOf(p);
      return {
        name: p.name,
        slug: p.name,
        privacy_policy_url: null,
        terms_of_service_url: null,
        status_page_url: null,
        signalbox: { type: p.type, collects_data: policy.collects, zero_retention: policy.zeroRetention, deployments: deployments.filter((d) => d.provider === p.name).map((d) => d.id) },
      };
    });
}

/**
 * POST /v1/presets/{slug}/chat/completions: a preset (made at run time, as AdminService.PutConfigEntry
 * makes one; admin keys) from a chat completions body. Only the fields a preset holds are kept:
 * the model, the first system (or developer) message's text, and the parameters of
 * src/config/presets.ts; messages, stream and the rest are left out, as on OpenRouter. A slug
 * that exists gets a new revision.
 */
async function servePresetFromChat(method: string, slug: string, d: OpenRouterDeps): Promise<number> {
  if (method !== "POST") {
    d.send(405, { error: { code: 405, message: `${method} is not allowed on /v1/presets/{slug}/chat/completions; use POST` } }, { allow: "POST" });
    return 405;
  }
  const b = await d.readJson();
  if (!b || typeof b !== "object" || Array.isArray(b)) throw badField("body", "must be a JSON object");
  const body = b as Record<string, unknown>;
  const spec: Record<string, unknown> = {};
  for (const k of ["model", ...PRESET_PARAMS]) if (body[k] !== undefined && body[k] !== null) spec[k] = body[k];
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const sys = messages.find((m) => m && (m.role === "system" || m.role === "developer"));
  if (sys) {
    const text = typeof sys.content === "string" ? sys.content : Array.isArray(sys.content) ? (sys.content as { type?: string; text?: string }[]).filter((p) => p?.type === "text").map((p) => p.text ?? "").join("") : "";
    if (text) spec.system = text;
  }
  const a: Actor = { caller: d.caller, authEnabled: d.core.auth.enabled, traceId: d.traceId ?? "" };
  const { entry } = await d.core.control.putConfigEntry(a, { kind: "preset", name: slug, spec, validateOnly: false });
  const at = new Date(entry.updatedAt ?? (d.now ?? Date.now)()).toISOString();
  const { name: _n, system, ...config } = entry.spec as Record<string, unknown>;
  d.send(200, {
    data: {
      id: slug,
      name: slug,
      slug,
      description: typeof config.description === "string" ? config.description : null,
      status: "active",
      created_at: new Date(entry.createdAt ?? (d.now ?? Date.now)()).toISOString(),
      updated_at: at,
      designated_version: { config: Object.fromEntries(Object.entries(config).filter(([k]) => k !== "description")), system_prompt: typeof system === "string" ? system : null, version: entry.revision, created_at: at },
    },
  });
  return 200;
}
