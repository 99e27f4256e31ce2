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
//
// The id of a generation is the completion's id (the request id, x-request-id). Errors keep
// OpenRouter's shape ({"error": {"code": <status>, "message", "metadata"}}), so its SDK reads them.

import type { DeploymentConfig, Operation } from "../config/types.ts";
import type { GatewayCore } from "../gateway.ts";
import type { ParamName } from "../providers/types.ts";
import { periodBounds } from "../limits/periods.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { findReadable, submitFeedback, type FeedbackDeps } from "../server/feedback.ts";
import { authorizeUsageFilters } from "../server/usage-service.ts";
import type { UsageRecord } from "../usage/record.ts";
import { DAY } from "../usage/store.ts";
import { toOpenAIError, type OpenAIError } from "./response.ts";

export const isOpenRouterPath = (p: string): boolean => p === "/v1/generation" || p === "/v1/generation/feedback" || p === "/v1/key";

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
  now?: () => number;
}

/** Serve one of the paths isOpenRouterPath accepts; returns the status sent. */
export async function serveOpenRouter(method: string, path: string, d: OpenRouterDeps): Promise<number> {
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
  d.send(200, { data: await keyJson(d) });
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

const RESET = { day: "daily", week: "weekly", month: "monthly" } as const;

/** The calling key in OpenRouter's shape: the budget that bounds it, and its spend from the usage store. */
async function keyJson(d: OpenRouterDeps) {
  const { core, caller } = d;
  const now = (d.now ?? Date.now)();
  const managed = caller.role === "anonymous" ? undefined : core.control.directory.key(caller.keyName);
  // The budgets that apply (the key's own, its team's): the one with the least room left bounds the key.
  type Bound = { scope: "key" | "team"; name: string; period: "day" | "week" | "month"; limit: number; spent: number; reserved: number; remaining: number; resetAt: number };
  const bounds: Bound[] = [];
  const add = async (scope: "key" | "team", name: string, id: string, shard: string, b: { period: "day" | "week" | "month"; limitUsd: number } | undefined) => {
    if (!b) return;
    const st = await core.limits.budgetState(shard, id, b.period, now);
    const limit = Math.round(b.limitUsd * 1e9);
    bounds.push({ scope, name, period: b.period, limit, spent: st.spentNanos, reserved: st.reservedNanos, remaining: Math.max(0, limit - st.spentNanos - st.reservedNanos), resetAt: periodBounds(b.period, now).end });
  };
  if (caller.role !== "anonymous") {
    await add("key", caller.keyName, `key:${caller.keyName}`, `team:${caller.team}`, managed?.budget ?? caller.key?.budget);
    await add("team", caller.team, `team:${caller.team}`, `team:${caller.team}`, core.control.directory.team(caller.team)?.budget);
  }
  const bound = bounds.reduce<Bound | undefined>((m, b) => (m === undefined || b.remaining < m.remaining ? b : m), undefined);
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
      budgets: bounds.map((b) => ({ scope: b.scope, name: b.name, period: b.period, limit_usd: b.limit / 1e9, spent_usd: b.spent / 1e9, reserved_usd: b.reserved / 1e9, remaining_usd: b.remaining / 1e9, resets_at: new Date(b.resetAt).toISOString() })),
      ...(limits?.tokensPerMinute !== undefined ? { tokens_per_minute: limits.tokensPerMinute } : {}),
    },
  };
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

const INPUT: Partial<Record<Operation, string[]>> = { transcription: ["audio"], realtime: ["text", "audio"], speech: ["text"], rerank: ["text"], images: ["text", "image"] };

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
  const pricing = !fixed
    ? { prompt: "-1", completion: "-1" }
    : {
        prompt: perToken(d.pricing.input),
        completion: perToken(d.pricing.output),
        input_cache_read: perToken(d.pricing.cachedInput),
        input_cache_write: perToken(d.pricing.cacheWrite),
        ...(d.pricing.reasoning ? { internal_reasoning: perToken(d.pricing.reasoning) } : {}),
        ...(d.pricing.perRequestNanos ? { request: String(d.pricing.perRequestNanos / 1e9) } : {}),
      };
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
