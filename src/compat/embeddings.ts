// POST /v1/embeddings in OpenAI's shape: request JSON → the engine's EmbedCall, and its answer →
// `{object: "list", data: [{object: "embedding", index, embedding}], model, usage}`. Vectors go out
// as float arrays, or with `encoding_format: "base64"` as base64 of little-endian float32 bytes
// (what OpenAI sends and its SDKs decode). The `signalbox` object carries the Connect API's
// routing options, tags, cache options and guardrails, as on /v1/chat/completions.

import type { CacheMode, ChatEngine } from "../engine/chat-engine.ts";
import { MAX_CACHE_TTL_SECONDS } from "../engine/chat-engine.ts";
import type { EmbedAnswer } from "../engine/embed.ts";
import type { Caller, EmbedCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { toFloat32le } from "../providers/vectors.ts";
import { validateCacheTtl, validateEmbedCall, type EmbedFieldNames } from "../server/validate.ts";
import { bad, int, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";
import { rateLimitHeaders } from "./response.ts";

const FIELDS: EmbedFieldNames = { inputs: "input", routing: "signalbox" };

export interface EmbeddingsRequest {
  call: EmbedCall;
  base64: boolean;
  cache?: { mode: CacheMode; ttlSeconds?: number };
}

/** `input`: a string or an array of strings. Token arrays (OpenAI accepts them) are refused by name. */
function inputs(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (!Array.isArray(v)) bad("input", v === undefined || v === null ? "is required" : "must be a string or an array of strings");
  if (v.length > 0 && (typeof v[0] === "number" || Array.isArray(v[0]))) {
    bad("input", "token arrays are not supported: send the text (a string or an array of strings)");
  }
  return v.map((s, i) => (typeof s === "string" ? s : bad(`input[${i}]`, "must be a string")));
}

/** Parse and validate one embeddings request body. */
export function parseEmbeddingsRequest(body: unknown, id: string, caller: Caller): EmbeddingsRequest {
  if (!isObj(body)) bad("body", "must be a JSON object");
  const model = str(body, "model", "model") ?? bad("model", "is required");
  const texts = inputs(body.input);
  const dimensions = int(body, "dimensions", "dimensions");
  const format = str(body, "encoding_format", "encoding_format") ?? "float";
  if (format !== "float" && format !== "base64") bad("encoding_format", `must be float or base64, got "${format}"`);
  const user = str(body, "user", "user");
  const opts = signalboxOptions(body, model, user);
  const inputType = str(isObj(body.signalbox) ? body.signalbox : {}, "input_type", "signalbox.input_type");
  if (inputType !== undefined && inputType !== "query" && inputType !== "document") bad("signalbox.input_type", `must be query or document, got "${inputType}"`);
  const call: EmbedCall = {
    operation: "embeddings",
    id,
    model,
    request: {
      inputs: texts,
      ...(dimensions !== undefined ? { dimensions } : {}),
      ...(user ? { user } : {}),
      ...(inputType ? { inputType } : {}),
    },
    routing: opts.routing,
    user: user || undefined,
    tags: opts.tags,
    metadata: stringMetadata(body),
    caller,
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
  };
  validateEmbedCall(call, FIELDS);
  if (opts.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", opts.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  return { call, base64: format === "base64", ...(opts.cache ? { cache: opts.cache } : {}) };
}

/** The answer in OpenAI's shape, with Signalbox's own account alongside (clients ignore unknown keys). */
export function embeddingsJson(a: EmbedAnswer, base64: boolean) {
  return {
    object: "list",
    data: a.embeddings.map((v, index) => ({ object: "embedding", index, embedding: base64 ? Buffer.from(toFloat32le(v)).toString("base64") : Array.from(v) })),
    model: a.providerModel || a.model,
    usage: { prompt_tokens: a.usage.inputTokens, total_tokens: a.usage.inputTokens },
    signalbox: {
      deployment: a.deployment,
      provider: a.provider,
      route: a.routing.route,
      variant: a.routing.variant,
      cache: a.cache,
      cached_inputs: a.cached.filter(Boolean).length,
      attempts: a.attempts.length,
      cost_nano_usd: a.cost.total,
      trace_id: a.traceId,
      // What the gateway changed (an input guardrail's redactions), as on /v1/chat/completions.
      adjustments: a.adjustments,
    },
  };
}

/** One /v1/embeddings request, body already parsed: the engine's answer as the response body and headers. */
export async function serveEmbeddings(
  engine: ChatEngine,
  body: unknown,
  r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; cache?: { mode: CacheMode; ttlSeconds?: number }; statusOf(err: unknown): string },
): Promise<{ body: unknown; headers: Record<string, string> }> {
  const parsed = parseEmbeddingsRequest(body, r.ri.id, r.caller);
  const a = await engine.embed({ call: parsed.call, ri: r.ri, signal: r.signal, cache: r.cache ?? parsed.cache, statusOf: r.statusOf });
  return { body: embeddingsJson(a, parsed.base64), headers: { "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...rateLimitHeaders(a.limits) } };
}
