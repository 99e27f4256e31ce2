// POST /v1/rerank and /v2/rerank in the shape Cohere, Jina, vLLM and LiteLLM share: `{model, query,
// documents, top_n, return_documents, max_tokens_per_doc}` → the engine's rerank operation →
// `{id, results: [{index, relevance_score, document?}], meta: {billed_units}, usage}`. Documents may
// be strings or `{text}` objects (Cohere v1 and Jina); results carry `document: {text}` when asked
// (the caller's own text, before any redaction). The answer carries both Cohere's `meta` and
// Jina's `usage`, so either SDK reads it. The `signalbox` object carries the Connect API's routing
// options, tags, cache options and guardrails, as on /v1/chat/completions.

import { MAX_CACHE_TTL_SECONDS, type CacheMode, type ChatEngine } from "../engine/chat-engine.ts";
import type { RerankAnswer } from "../engine/rerank.ts";
import type { Caller, RerankCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { validateCacheTtl, validateRerankCall, type RerankFieldNames } from "../server/validate.ts";
import { bad, bool, int, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";
import { rateLimitHeaders } from "./response.ts";

const FIELDS: RerankFieldNames = { documents: "documents", topN: "top_n", maxTokensPerDoc: "max_tokens_per_doc", routing: "signalbox" };

export interface RerankHttpRequest {
  call: RerankCall;
  returnDocuments: boolean;
  cache?: { mode: CacheMode; ttlSeconds?: number };
}

/** `documents`: strings, or `{text}` objects (other fields of a structured document are refused by name). */
function documents(v: unknown): string[] {
  if (!Array.isArray(v)) bad("documents", v === undefined || v === null ? "is required" : "must be an array of strings or {text} objects");
  return v.map((d, i) => {
    if (typeof d === "string") return d;
    if (isObj(d) && typeof d.text === "string") {
      const other = Object.keys(d).find((k) => k !== "text");
      if (other) bad(`documents[${i}].${other}`, "is not supported: send each document as text (a string or {text})");
      return d.text;
    }
    return bad(`documents[${i}]`, "must be a string or an object with a text field");
  });
}

/** Parse and validate one rerank request body. */
export function parseRerankRequest(body: unknown, id: string, caller: Caller): RerankHttpRequest {
  if (!isObj(body)) bad("body", "must be a JSON object");
  const model = str(body, "model", "model") ?? bad("model", "is required");
  const query = str(body, "query", "query") ?? bad("query", "is required");
  const docs = documents(body.documents);
  if (body.rank_fields !== undefined) bad("rank_fields", "is not supported: send each document as text");
  const topN = int(body, "top_n", "top_n");
  const maxTokensPerDoc = int(body, "max_tokens_per_doc", "max_tokens_per_doc");
  const returnDocuments = bool(body, "return_documents", "return_documents") ?? false;
  const user = str(body, "user", "user");
  const opts = signalboxOptions(body, model, user);
  const call: RerankCall = {
    operation: "rerank",
    id,
    model,
    request: {
      query,
      documents: docs,
      ...(topN !== undefined ? { topN } : {}),
      ...(maxTokensPerDoc !== undefined ? { maxTokensPerDoc } : {}),
    },
    routing: opts.routing,
    user: user || undefined,
    tags: opts.tags,
    metadata: stringMetadata(body),
    caller,
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
  };
  validateRerankCall(call, FIELDS);
  if (opts.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", opts.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  return { call, returnDocuments, ...(opts.cache ? { cache: opts.cache } : {}) };
}

/** The answer in Cohere's shape (with Jina's usage), and Signalbox's own account alongside. */
export function rerankJson(a: RerankAnswer, docs: readonly string[] | undefined) {
  const billed: Record<string, number> = {};
  if (a.usage.searchUnits !== undefined) billed.search_units = a.usage.searchUnits;
  if (a.usage.inputTokens) billed.input_tokens = a.usage.inputTokens;
  return {
    id: a.id,
    results: a.results.map((r) => ({ index: r.index, relevance_score: r.score, ...(docs ? { document: { text: docs[r.index] } } : {}) })),
    meta: { api_version: { version: "2" }, billed_units: billed },
    model: a.providerModel || a.model,
    usage: { total_tokens: a.usage.inputTokens, prompt_tokens: a.usage.inputTokens },
    signalbox: {
      deployment: a.deployment,
      provider: a.provider,
      route: a.routing.route,
      variant: a.routing.variant,
      cache: a.cache,
      attempts: a.attempts.length,
      cost_nano_usd: a.cost.total,
      trace_id: a.traceId,
      // What the gateway changed (an input guardrail's redactions), as on /v1/chat/completions.
      adjustments: a.adjustments,
    },
  };
}

/** One rerank request, body already parsed: the engine's answer as the response body and headers. */
export async function serveRerank(
  engine: ChatEngine,
  body: unknown,
  r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; cache?: { mode: CacheMode; ttlSeconds?: number }; statusOf(err: unknown): string },
): Promise<{ body: unknown; headers: Record<string, string> }> {
  const parsed = parseRerankRequest(body, r.ri.id, r.caller);
  const a = await engine.rerank({ call: parsed.call, ri: r.ri, signal: r.signal, cache: r.cache ?? parsed.cache, statusOf: r.statusOf });
  return { body: rerankJson(a, parsed.returnDocuments ? parsed.call.request.documents : undefined), headers: { "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...rateLimitHeaders(a.limits) } };
}
