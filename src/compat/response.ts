// The engine's answers and stream events in OpenAI's Chat Completions shapes, and gateway errors
// in OpenAI's error shape with the status codes (and retry headers) the OpenAI SDK acts on.

import type { Answer, EngineEvent, Summary } from "../engine/chat-engine.ts";
import type { AnswerAccount } from "../engine/account.ts";
import type { Citation } from "../engine/web-search.ts";
import type { FinishReason, StreamEvent, TokenLogprob, Usage } from "../providers/types.ts";
import { errorFacts, type GatewayCode } from "../router/errors.ts";
import { sumUsage } from "./choices.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { RateStanding } from "../limits/types.ts";

/** OpenAI's finish reasons; "error" and "other" have no OpenAI equivalent and read as "stop". */
const FINISH: Record<FinishReason, string> = {
  stop: "stop",
  length: "length",
  tool_calls: "tool_calls",
  content_filter: "content_filter",
  error: "stop",
  other: "stop",
};

export const finishReason = (f: FinishReason | undefined) => (f ? FINISH[f] : "stop");

export function usageJson(u: Usage, cost: CostBreakdown) {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
    // OpenRouter's extension: what the request cost, in USD.
    cost: cost.total / 1e9,
  };
}

/** `x-signalbox-cache-similarity` on a semantic hit: how close the prompt was to the cached answer's. */
export function cacheSimilarityHeader(similarity: number | undefined): Record<string, string> {
  return similarity === undefined ? {} : { "x-signalbox-cache-similarity": similarity.toFixed(4) };
}

/**
 * OpenAI's x-ratelimit-* headers, from where the caller's rate limits stand after this request: of
 * its requests-per-minute checks (key, user) the one with the least left, and likewise tokens.
 * Nothing when the caller has no limits.
 */
/**
 * The `signalbox` object of an answer of one operation (search, OCR): who answered, through what,
 * in how many attempts, what it billed (`units`: the operation's own count), at what cost, whether
 * from the cache, its trace and the adjustments made.
 */
export function accountJson(a: AnswerAccount & { cache: string }, units: Record<string, number>) {
  return {
    id: a.id,
    model: a.model,
    deployment: a.deployment,
    provider: a.provider,
    route: a.routing.route,
    variant: a.routing.variant,
    attempts: a.attempts.length,
    ...units,
    cost_nano_usd: a.cost.total,
    cache: a.cache,
    trace_id: a.traceId,
    ...(a.adjustments.length ? { adjustments: a.adjustments } : {}),
  };
}

export function rateLimitHeaders(limits: readonly RateStanding[] | undefined): Record<string, string> {
  if (limits === undefined) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const [kind, l] of tightest(limits)) {
    out[`x-ratelimit-limit-${kind}`] = String(l.check.limit);
    out[`x-ratelimit-remaining-${kind}`] = String(left(l));
    out[`x-ratelimit-reset-${kind}`] = resetText(l.resetMs);
  }
  return out;
}

/** The same figures as Anthropic sends them: anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}, the reset an RFC 3339 time. */
export function anthropicRateLimitHeaders(limits: readonly RateStanding[] | undefined, now = Date.now()): Record<string, string> {
  if (limits === undefined) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const [kind, l] of tightest(limits)) {
    out[`anthropic-ratelimit-${kind}-limit`] = String(l.check.limit);
    out[`anthropic-ratelimit-${kind}-remaining`] = String(left(l));
    out[`anthropic-ratelimit-${kind}-reset`] = new Date(Math.ceil((now + l.resetMs) / 1000) * 1000).toISOString().replace(".000Z", "Z");
  }
  return out;
}

const left = (x: RateStanding) => Math.max(0, Math.floor(x.check.limit - x.used));

/** Of the requests-per-minute checks (key, user) the one with the least left, and likewise tokens. */
function tightest(limits: readonly RateStanding[]): ["requests" | "tokens", RateStanding][] {
  let requests: RateStanding | undefined;
  let tokens: RateStanding | undefined;
  for (const l of limits) {
    if (l.check.id.endsWith(":rpm")) {
      if (!requests || left(l) < left(requests)) requests = l;
    } else if (l.check.id.endsWith(":tpm") && (!tokens || left(l) < left(tokens))) tokens = l;
  }
  const out: ["requests" | "tokens", RateStanding][] = [];
  if (requests) out.push(["requests", requests]);
  if (tokens) out.push(["tokens", tokens]);
  return out;
}
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A wait as OpenAI writes it in x-ratelimit-reset-*: "250ms", "12s", "1m5s". */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/** Signalbox's own account of the request, alongside OpenAI's fields (clients ignore unknown keys). */
export function extension(s: Summary, a: { routing: Answer["routing"]; traceId: string; adjustments: Answer["adjustments"] }) {
  return {
    deployment: s.deployment,
    provider: s.provider,
    route: a.routing.route,
    variant: a.routing.variant,
    cache: s.cache,
    ...(s.cacheSimilarity !== undefined ? { cache_similarity: s.cacheSimilarity } : {}),
    attempts: s.attempts.length,
    cost_nano_usd: s.cost.total,
    trace_id: a.traceId,
    // Changes made to the request: output caps, parameters the model does not accept (dropped).
    adjustments: a.adjustments,
    // File search before the model: what was searched for and the passages' files (their text was the model's).
    ...(s.fileSearch ? { file_search: { query: s.fileSearch.query, results: s.fileSearch.results.map(({ text: _t, vector_store_id: _v, ...r }) => r), cost_nano_usd: s.fileSearch.costNanos } } : {}),
  };
}

/** Token log probabilities in OpenAI's shape: `{content: [{token, logprob, bytes, top_logprobs}], refusal: null}`. */
export function logprobsJson(lp: readonly TokenLogprob[]) {
  const one = (t: { token: string; logprob: number; bytes?: number[] }) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes ?? null });
  return { content: lp.map((t) => ({ ...one(t), top_logprobs: t.top.map(one) })), refusal: null };
}

function choiceJson(a: Answer, index: number) {
  const message: Record<string, unknown> = { role: "assistant", content: a.text || (a.toolCalls.length ? null : ""), refusal: a.refusal || null };
  if (a.toolCalls.length) message.tool_calls = a.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  if (a.reasoning) message.reasoning = a.reasoning;
  if (a.citations) message.annotations = annotationsJson(a.citations);
  return { index, message, logprobs: a.logprobs ? logprobsJson(a.logprobs) : null, finish_reason: finishReason(a.finishReason) };
}

/** Web search's citations as OpenAI's url_citation annotations, with OpenRouter's `content` (the result's text) beside. */
export function annotationsJson(cs: readonly Citation[]) {
  return cs.map((c) => ({ type: "url_citation", url_citation: { url: c.url, title: c.title, content: c.content, start_index: c.startIndex, end_index: c.endIndex } }));
}

/**
 * The summaries of a request's choices as one (`n` > 1, compat/choices.ts): usage and cost summed,
 * every attempt; deployment, provider and cache status of the first.
 */
export function mergedSummary<S extends Summary>(parts: readonly S[]): S {
  return parts.length === 1 ? parts[0] : { ...parts[0], ...sumUsage(parts), attempts: parts.flatMap((p) => p.attempts) };
}

/** What each choice of a request with several cost, and where it was served (`signalbox.choices`). */
const choiceAccounts = (parts: readonly Summary[], ids: readonly string[]) =>
  parts.length === 1 ? {} : { choices: parts.map((p, i) => ({ id: ids[i], deployment: p.deployment, provider: p.provider, attempts: p.attempts.length, cost_nano_usd: p.cost.total })) };

/** A chat completion with one choice per answer (`n`), in order. */
export function completionJson(a: Answer | readonly Answer[], created: number) {
  const answers: readonly Answer[] = Array.isArray(a) ? a : [a as Answer];
  const first = answers[0];
  const all = mergedSummary(answers);
  return {
    id: first.id,
    object: "chat.completion",
    created,
    model: first.providerModel || first.model,
    choices: answers.map(choiceJson),
    usage: usageJson(all.usage, all.cost),
    system_fingerprint: null,
    signalbox: { ...extension(all, first), ...choiceAccounts(answers, answers.map((x) => x.id)) },
  };
}

/**
 * Stream chunks as SSE text. The prefix of every chunk (id, created, model) is built once per
 * stream; each engine batch becomes one chunk.
 */
export function chunkWriter(id: string, created: number, model: string, includeUsage: boolean, index = 0) {
  const head = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},`;
  const usageNull = includeUsage ? `,"usage":null` : "";
  const chunk = (delta: unknown, finish: string | null, logprobs?: TokenLogprob[]) =>
    `${head}"choices":[{"index":${index},"delta":${JSON.stringify(delta)},"logprobs":${logprobs ? JSON.stringify(logprobsJson(logprobs)) : "null"},"finish_reason":${finish === null ? "null" : JSON.stringify(finish)}}]${usageNull}}\n\n`;
  return {
    start: () => chunk({ role: "assistant", content: "", refusal: null }, null),
    delta(events: StreamEvent[]): string {
      let content = "";
      let reasoning = "";
      let refusal = "";
      const calls: { index: number; id?: string; type?: "function"; function: { name?: string; arguments: string } }[] = [];
      let logprobs: TokenLogprob[] | undefined;
      for (const e of events) {
        switch (e.type) {
          case "logprobs":
            logprobs = logprobs ? [...logprobs, ...e.content] : e.content;
            break;
          case "text":
            content += e.text;
            break;
          case "reasoning":
            reasoning += e.text;
            break;
          case "refusal":
            refusal += e.text;
            break;
          case "tool_call_start":
            calls.push({ index: e.index, id: e.id, type: "function", function: { name: e.name, arguments: "" } });
            break;
          case "tool_call_delta": {
            const last = calls[calls.length - 1];
            if (last && last.index === e.index) last.function.arguments += e.argumentsDelta;
            else calls.push({ index: e.index, function: { arguments: e.argumentsDelta } });
            break;
          }
          default:
            break;
        }
      }
      const delta: Record<string, unknown> = {};
      if (content) delta.content = content;
      if (reasoning) delta.reasoning = reasoning;
      if (refusal) delta.refusal = refusal;
      if (calls.length) delta.tool_calls = calls;
      return chunk(delta, null, logprobs);
    },
    finish(s: Summary, a: { routing: Answer["routing"]; traceId: string; adjustments: Answer["adjustments"] }): string {
      return this.finishChoice(s) + this.end([s], a);
    },
    /** This choice's last chunk (its finish reason). */
    finishChoice: (s: Summary): string => chunk(s.citations ? { annotations: annotationsJson(s.citations) } : {}, finishReason(s.finishReason)),
    /** The end of the stream: the usage chunk when asked for (every choice's summed), then [DONE]. */
    end(parts: readonly Summary[], a: { routing: Answer["routing"]; traceId: string; adjustments: Answer["adjustments"] }, ids: readonly string[] = []): string {
      if (!includeUsage) return "data: [DONE]\n\n";
      const s = mergedSummary(parts);
      return `${head}"choices":[],"usage":${JSON.stringify(usageJson(s.usage, s.cost))},"signalbox":${JSON.stringify({ ...extension(s, a), ...choiceAccounts(parts, ids) })}}\n\ndata: [DONE]\n\n`;
    },
  };
}

export type StartEvent = Extract<EngineEvent, { type: "start" }>;

export interface OpenAIError {
  status: number;
  headers: Record<string, string>;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
}

const STATUS: Record<GatewayCode, number> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404 || status === 400 || status === 409 || status === 413) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  if (status === 504) return "timeout_error";
  return "api_error";
}

/** OpenAI's parameter names where the field is a message path ("messages[0].content"). */
const paramOf = (field: string | undefined) => (field ? field : null);

/**
 * A gateway error as OpenAI would send it. The SDK retries 408, 409, 429 and 5xx, honouring
 * retry-after-ms / retry-after, unless x-should-retry says otherwise: a budget that will not
 * reset for days says false.
 */
export function toOpenAIError(err: unknown): OpenAIError {
  const { code, message, field, failureKind, retryAfterMs, refusal, guardrail, reason, attempted } = errorFacts(err);
  let status = STATUS[code];
  // Every candidate tried and failed: the upstreams are the problem (502); nothing could be
  // tried at all (every deployment cooling down): 503.
  if (code === "unavailable" && attempted) status = 502;
  const headers: Record<string, string> = {};
  let type = errorType(status);
  let errCode: string | null = failureKind ?? null;
  if (code === "unauthenticated") errCode = "invalid_api_key";
  if (code === "not_found" && field === "model") errCode = "model_not_found";
  if (failureKind === "content_filtered") errCode = "content_filter";
  // A guardrail's refusal (400): its message names the guardrail and category, never the text.
  if (guardrail) errCode = "guardrail_blocked";
  if (reason) errCode = reason;
  // A body past a size limit (read as it came, with no length declared up front) is a 413, as one declared too large is.
  if (code === "resource_exhausted" && field === "body" && !refusal) {
    status = 413;
    type = errorType(status);
    errCode = "request_too_large";
  }
  if (status === 429) {
    if (refusal === "budget") {
      type = "insufficient_quota";
      errCode = "insufficient_quota";
      headers["x-should-retry"] = "false";
    } else errCode = "rate_limit_exceeded";
  }
  if (retryAfterMs !== undefined && status !== 400) {
    headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    headers["retry-after-ms"] = String(Math.max(1, Math.round(retryAfterMs)));
  }
  return { status, headers, body: { error: { message, type, param: paramOf(field), code: errCode } } };
}
