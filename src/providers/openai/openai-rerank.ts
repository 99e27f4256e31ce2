// Rerank on OpenAI-compatible servers (type openai-compatible only): POST {base_url}/rerank in the
// shape vLLM, Jina, Infinity and llama.cpp share with Cohere v1 (`{model, query, documents, top_n}`
// in, `results: [{index, relevance_score}]` and token usage out). OpenAI, Azure and OpenRouter have
// no rerank API. Pure translation; the results are checked by Cohere's checker, whose shape this is.

import { rankedResults } from "../cohere/index.ts";
import { header, tryJson, type Headers } from "../headers.ts";
import type { RerankRequest, RerankResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { OpenAIRerankRequest, OpenAIRerankResponseWire } from "./openai-api-types.ts";
import { isObject } from "./openai-error.ts";

/** Relative to the base URL, which names the API root (`…/v1`), as /chat/completions is. */
export const RERANK_PATH = "/rerank";

/** The request body. max_tokens_per_doc is Cohere's: these servers truncate by their own settings. */
export function buildOpenAIRerankBody(req: RerankRequest): OpenAIRerankRequest {
  const body: OpenAIRerankRequest = { model: req.model, query: req.query, documents: req.documents };
  if (req.topN !== undefined) body.top_n = req.topN;
  return body;
}

/** Parse a 2xx /rerank body: the ranking, the model the server names, and its prompt tokens when it reports them. */
export function parseOpenAIRerankResponse(body: string, req: RerankRequest, headers: Headers = {}, label = "openai-compatible"): RerankResult {
  const requestId = header(headers, "x-request-id");
  const json = tryJson(body);
  if (!isObject(json)) throw new ProviderError({ kind: "server_error", message: `${label}: upstream sent a rerank answer that is not a JSON object`, requestId });
  const res = json as OpenAIRerankResponseWire;
  const result: RerankResult = { model: typeof res.model === "string" ? res.model : "", results: rankedResults(res.results, req, label, requestId) };
  const u = res.usage;
  const tokens = isObject(u) ? (typeof u.prompt_tokens === "number" ? u.prompt_tokens : u.total_tokens) : undefined;
  if (typeof tokens === "number" && Number.isFinite(tokens) && tokens >= 0) result.usage = { inputTokens: tokens };
  return result;
}
