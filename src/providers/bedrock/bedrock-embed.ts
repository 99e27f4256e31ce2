// Embeddings on Bedrock through InvokeModel (POST /model/{id}/invoke): Amazon Titan Text
// Embeddings (one text per call) and Cohere Embed (a batch per call). Each family has its own body.

import { tryJson } from "../headers.ts";
import type { EmbedRequest, EmbedResult, HttpRequestSpec } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { CohereEmbedRequest, CohereEmbedResponse, TitanEmbedRequest, TitanEmbedResponse } from "./bedrock-api-types.ts";
import { bedrockModelPath } from "./bedrock-path.ts";

/** Cohere's per-call limit on texts. */
export const COHERE_MAX_TEXTS = 96;
/** Titan Text Embeddings V2's output sizes. */
const TITAN_V2_DIMENSIONS = [256, 512, 1024];

export type BedrockEmbedFamily = "titan" | "cohere";

/** The embedding family of a model id (an inference-profile prefix or ARN is allowed), if any. */
export function bedrockEmbedFamily(model: string): BedrockEmbedFamily | undefined {
  const id = model.slice(model.lastIndexOf("/") + 1).replace(/^(us|eu|apac|jp|au|ca|us-gov|global)\./, "");
  if (id.startsWith("amazon.titan-embed")) return "titan";
  if (id.startsWith("cohere.embed")) return "cohere";
  return undefined;
}

function bad(label: string, message: string): ProviderError {
  return new ProviderError({ kind: "bad_request", message: `${label}: ${message}` });
}

export function buildBedrockEmbedRequest(req: EmbedRequest, label: string): HttpRequestSpec {
  const family = bedrockEmbedFamily(req.model);
  let body: TitanEmbedRequest | CohereEmbedRequest;
  if (family === "titan") {
    // Titan embeds one text per InvokeModel call: a batch is split by the provider (bedrockEmbedBatchLimit).
    if (req.inputs.length !== 1) throw bad(label, `Titan embeddings take one input per request (got ${req.inputs.length})`);
    body = { inputText: req.inputs[0] };
    if (/titan-embed-text-v2/.test(req.model)) {
      if (req.dimensions !== undefined && !TITAN_V2_DIMENSIONS.includes(req.dimensions)) {
        throw bad(label, `Titan Text Embeddings V2 takes dimensions 256, 512 or 1024 (got ${req.dimensions})`);
      }
      body.dimensions = req.dimensions ?? 1024;
      body.normalize = true;
    } else if (req.dimensions !== undefined) {
      throw bad(label, `${req.model} has a fixed vector size: dimensions is not supported`);
    }
  } else if (family === "cohere") {
    if (req.inputs.length > COHERE_MAX_TEXTS) throw bad(label, `Cohere embeddings take at most ${COHERE_MAX_TEXTS} inputs per request (got ${req.inputs.length})`);
    body = { texts: req.inputs, input_type: req.inputType === "query" ? "search_query" : "search_document" };
    if (req.dimensions !== undefined) {
      // Embed v3 has a fixed 1024-dimension output; v4 takes output_dimension.
      if (/embed-v4/.test(req.model)) body.output_dimension = req.dimensions;
      else if (req.dimensions !== 1024) throw bad(label, `${req.model} has a fixed vector size of 1024: dimensions ${req.dimensions} is not supported`);
    }
  } else {
    throw bad(label, `"${req.model}" is not a Bedrock embedding model this gateway knows (amazon.titan-embed-*, cohere.embed-*)`);
  }
  return {
    method: "POST",
    path: `${bedrockModelPath(req.model)}/invoke`,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  };
}

function vector(v: unknown, label: string): Float32Array {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) {
    throw new ProviderError({ kind: "server_error", message: `${label}: bedrock embedding response has no vector` });
  }
  return Float32Array.from(v as number[]);
}

/** Inputs per InvokeModel call: Titan one, Cohere 96 (a larger batch is split into several calls). */
export function bedrockEmbedBatchLimit(model: string): number {
  return bedrockEmbedFamily(model) === "titan" ? 1 : COHERE_MAX_TEXTS;
}

export function parseBedrockEmbedResponse(body: string, req: EmbedRequest, label: string, headers?: Record<string, string | string[] | undefined>): EmbedResult {
  const json = tryJson(body);
  if (json === null || typeof json !== "object") {
    throw new ProviderError({ kind: "server_error", message: `${label}: bedrock returned a body that is not a JSON object` });
  }
  if (bedrockEmbedFamily(req.model) === "titan") {
    const r = json as TitanEmbedResponse;
    const result: EmbedResult = { model: req.model, embeddings: [vector(r.embedding, label)] };
    if (typeof r.inputTextTokenCount === "number") result.usage = { inputTokens: r.inputTextTokenCount };
    return result;
  }
  const r = json as CohereEmbedResponse;
  const raw = Array.isArray(r.embeddings) ? r.embeddings : r.embeddings?.float;
  if (!Array.isArray(raw) || raw.length !== req.inputs.length) {
    throw new ProviderError({ kind: "server_error", message: `${label}: bedrock returned ${Array.isArray(raw) ? raw.length : 0} embeddings for ${req.inputs.length} inputs` });
  }
  // Cohere on Bedrock reports its token count only in a header (absent: the gateway estimates it).
  const result: EmbedResult = { model: req.model, embeddings: raw.map((v) => vector(v, label)) };
  const h = headers?.["x-amzn-bedrock-input-token-count"];
  const count = Number(Array.isArray(h) ? h[0] : h);
  if (h !== undefined && Number.isInteger(count) && count >= 0) result.usage = { inputTokens: count };
  return result;
}
