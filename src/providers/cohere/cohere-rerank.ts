// Cohere's Rerank API (POST /v2/rerank), and the ranked-results shape it set: Bedrock's rerank
// models and the OpenAI-compatible rerankers (vLLM, Jina, Infinity, llama.cpp) answer the same
// `results: [{index, relevance_score}]`, so one checker serves all three adapters. Pure translation.

import { header, tryJson, type Headers } from "../headers.ts";
import type { RerankRequest, RerankResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { CohereRerankRequest, CohereRerankResponseWire } from "./cohere-api-types.ts";

/** The body of POST /v2/rerank: the documents as they are, top_n and max_tokens_per_doc when asked. */
export function buildCohereRerankBody(req: RerankRequest): CohereRerankRequest {
  const body: CohereRerankRequest = { model: req.model, query: req.query, documents: req.documents };
  if (req.topN !== undefined) body.top_n = req.topN;
  if (req.maxTokensPerDoc !== undefined) body.max_tokens_per_doc = req.maxTokensPerDoc;
  return body;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The `results` of a Cohere-shaped rerank answer, checked (each index names one of the request's
 * documents, once; each score is a number), best first (stable: equal scores keep the provider's
 * order), and at most `req.topN` (a provider that was not sent top_n returns them all).
 */
export function rankedResults(list: unknown, req: RerankRequest, label: string, requestId?: string): RerankResult["results"] {
  const fail = (message: string) => new ProviderError({ kind: "server_error", message: `${label}: ${message}`, requestId });
  if (!Array.isArray(list)) throw fail("upstream sent a rerank answer without results");
  const seen = new Set<number>();
  const results = list.map((r, pos) => {
    const index = isObject(r) ? r.index : undefined;
    const score = isObject(r) ? r.relevance_score : undefined;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= req.documents.length || seen.has(index)) {
      throw fail(`upstream sent a malformed rerank result at results[${pos}] (index ${JSON.stringify(index)} for ${req.documents.length} documents)`);
    }
    if (typeof score !== "number" || !Number.isFinite(score)) throw fail(`upstream sent no relevance score at results[${pos}]`);
    seen.add(index);
    return { index, score };
  });
  results.sort((a, b) => b.score - a.score);
  return req.topN !== undefined && results.length > req.topN ? results.slice(0, req.topN) : results;
}

/** Parse a 2xx /v2/rerank body: the ranking, and the searches billed (`meta.billed_units.search_units`). */
export function parseCohereRerankResponse(body: string, req: RerankRequest, headers: Headers = {}, label = "cohere"): RerankResult {
  const requestId = header(headers, "x-request-id") ?? header(headers, "x-debug-trace-id");
  const json = tryJson(body);
  if (!isObject(json)) throw new ProviderError({ kind: "server_error", message: `${label}: upstream sent a rerank answer that is not a JSON object`, requestId });
  const res = json as CohereRerankResponseWire;
  const result: RerankResult = { model: req.model, results: rankedResults(res.results, req, label, requestId ?? (typeof res.id === "string" ? res.id : undefined)) };
  const units = res.meta?.billed_units?.search_units;
  if (typeof units === "number" && Number.isFinite(units) && units >= 0) result.usage = { searchUnits: units };
  return result;
}
