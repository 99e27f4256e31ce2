// The Embeddings API (`POST /embeddings`) for the whole OpenAI family: OpenAI, Azure OpenAI (its
// deployments path and api-version, from the connection's dialect) and OpenAI-compatible vendors
// (Ollama, vLLM, Together, Mistral speak the same shape). Pure translation.

import { header, tryJson } from "../headers.ts";
import type { EmbedRequest, EmbedResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { fromFloat32le } from "../vectors.ts";
import type { OpenAIEmbeddingRequest, OpenAIEmbeddingResponseWire } from "./openai-api-types.ts";
import { isObject } from "./openai-error.ts";

/** The embeddings path of a dialect whose chat path is `chatPath` (same URL family, same query). */
export function embeddingsPath(chatPath: string): string {
  return chatPath.replace("/chat/completions", "/embeddings");
}

/**
 * The request body. Vectors are asked for as floats: every compatible server speaks that, while
 * `encoding_format: "base64"` is OpenAI's own (the gateway re-encodes for callers that want it).
 */
export function buildOpenAIEmbeddingBody(req: EmbedRequest): OpenAIEmbeddingRequest {
  const body: OpenAIEmbeddingRequest = { model: req.model, input: req.inputs, encoding_format: "float" };
  if (req.dimensions !== undefined) body.dimensions = req.dimensions;
  if (req.user !== undefined) body.user = req.user;
  return body;
}

/** One vector as the wire carries it: a float array, or base64 little-endian float32 bytes. */
function vectorOf(v: unknown): Float32Array | undefined {
  if (Array.isArray(v)) return v.every((x) => typeof x === "number") ? Float32Array.from(v as number[]) : undefined;
  return typeof v === "string" ? fromFloat32le(Buffer.from(v, "base64")) : undefined;
}

/** Parse a 2xx body: vectors in input order (by `index`), prompt tokens when reported (and OpenRouter's cost). */
export function parseOpenAIEmbeddingResponse(body: string, req: EmbedRequest, headers: Record<string, string | string[] | undefined>, reportsCost: boolean): EmbedResult {
  const json = tryJson(body);
  const requestId = header(headers, "x-request-id") ?? header(headers, "apim-request-id");
  if (!isObject(json) || !Array.isArray((json as OpenAIEmbeddingResponseWire).data)) {
    throw new ProviderError({ kind: "server_error", message: "upstream sent an embeddings response without data", requestId });
  }
  const res = json as OpenAIEmbeddingResponseWire;
  const embeddings: Float32Array[] = new Array(req.inputs.length);
  res.data!.forEach((d, pos) => {
    const i = isObject(d) && typeof d.index === "number" ? d.index : pos;
    const v = isObject(d) ? vectorOf(d.embedding) : undefined;
    if (!v || i < 0 || i >= embeddings.length) throw new ProviderError({ kind: "server_error", message: `upstream sent a malformed embedding at data[${pos}]`, requestId });
    embeddings[i] = v;
  });
  for (let i = 0; i < embeddings.length; i++) {
    if (!embeddings[i]) throw new ProviderError({ kind: "server_error", message: `upstream sent no embedding for input ${i}`, requestId });
  }
  const result: EmbedResult = { model: typeof res.model === "string" ? res.model : "", embeddings };
  const u = res.usage;
  if (isObject(u) && typeof u.prompt_tokens === "number") {
    result.usage = { inputTokens: u.prompt_tokens };
    if (reportsCost && typeof u.cost === "number") result.usage.providerCostUsd = u.cost;
  }
  return result;
}
