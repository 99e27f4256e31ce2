// Rerank on Bedrock through InvokeModel (POST /model/{id}/invoke): Cohere Rerank 3.5 takes Cohere's
// v2 body with `api_version: 2`; Amazon Rerank 1.0 takes the query and documents alone. Both answer
// Cohere's `results: [{index, relevance_score}]`. Bedrock bills per query: one per call and up to
// 100 documents, so a call of more documents counts as several.

import { rankedResults } from "../cohere/index.ts";
import { header, tryJson } from "../headers.ts";
import type { HttpRequestSpec, RerankRequest, RerankResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { BedrockAmazonRerankRequest, BedrockCohereRerankRequest } from "./bedrock-api-types.ts";
import { bedrockModelPath } from "./bedrock-path.ts";

/** Documents one billed query covers. */
export const BEDROCK_RERANK_DOCS_PER_QUERY = 100;

export type BedrockRerankFamily = "cohere" | "amazon";

/** The rerank family of a model id (a foundation-model ARN is allowed), if any. */
export function bedrockRerankFamily(model: string): BedrockRerankFamily | undefined {
  const id = model.slice(model.lastIndexOf("/") + 1);
  if (id.startsWith("cohere.rerank")) return "cohere";
  if (id.startsWith("amazon.rerank")) return "amazon";
  return undefined;
}

export function buildBedrockRerankRequest(req: RerankRequest, label: string): HttpRequestSpec {
  const family = bedrockRerankFamily(req.model);
  let body: BedrockCohereRerankRequest | BedrockAmazonRerankRequest;
  if (family === "cohere") {
    body = { query: req.query, documents: req.documents, api_version: 2 };
    if (req.topN !== undefined) body.top_n = req.topN;
    if (req.maxTokensPerDoc !== undefined) body.max_tokens_per_doc = req.maxTokensPerDoc;
  } else if (family === "amazon") {
    // Only the two fields its documented examples send; top_n is applied to the answer instead.
    body = { query: req.query, documents: req.documents };
  } else {
    throw new ProviderError({
      kind: "model_not_found",
      message: `${label}: "${req.model}" is not a Bedrock rerank model this gateway knows (cohere.rerank-v3-5:0, amazon.rerank-v1:0)`,
      unsent: true,
    });
  }
  return {
    method: "POST",
    path: `${bedrockModelPath(req.model)}/invoke`,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  };
}

export function parseBedrockRerankResponse(body: string, req: RerankRequest, label: string, headers: Record<string, string | string[] | undefined> = {}): RerankResult {
  const requestId = header(headers, "x-amzn-requestid");
  const json = tryJson(body);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ProviderError({ kind: "server_error", message: `${label}: bedrock returned a body that is not a JSON object`, requestId });
  }
  return {
    model: req.model,
    results: rankedResults((json as { results?: unknown }).results, req, label, requestId),
    usage: { searchUnits: Math.ceil(req.documents.length / BEDROCK_RERANK_DOCS_PER_QUERY) },
  };
}
