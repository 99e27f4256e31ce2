// Gemini embeddings: `embedContent` for one input, `batchEmbedContents` for several, with
// outputDimensionality and taskType. Pure translation; the adapter supplies the path's root.

import type { EmbedRequest, EmbedResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { bareModel } from "./convert-to-gemini-messages.ts";
import { parseGeminiResponse } from "./gemini-response.ts";
import type { GeminiBatchEmbedRequest, GeminiEmbedContentRequest, GeminiEmbedResponseWire } from "./gemini-api-types.ts";

/** What the vectors are for, in Gemini's terms. */
const TASK_TYPE = { query: "RETRIEVAL_QUERY", document: "RETRIEVAL_DOCUMENT" } as const;

/** The method for a batch: one input needs no batch. */
export function geminiEmbedMethod(req: EmbedRequest): "embedContent" | "batchEmbedContents" {
  return req.inputs.length === 1 ? "embedContent" : "batchEmbedContents";
}

function one(req: EmbedRequest, text: string, model: string): GeminiEmbedContentRequest {
  const r: GeminiEmbedContentRequest = { model, content: { parts: [{ text }] } };
  if (req.inputType) r.taskType = TASK_TYPE[req.inputType];
  if (req.dimensions !== undefined) r.outputDimensionality = req.dimensions;
  return r;
}

/** The body of embedContent (one input) or batchEmbedContents (each request names the model, as the API requires). */
export function buildGeminiEmbedBody(req: EmbedRequest): GeminiEmbedContentRequest | GeminiBatchEmbedRequest {
  const b = bareModel(req.model);
  const model = b.includes("/") ? b : `models/${b}`;
  if (geminiEmbedMethod(req) === "embedContent") return one(req, req.inputs[0], model);
  return { requests: req.inputs.map((t) => one(req, t, model)) };
}

const vector = (e: unknown): Float32Array | undefined => {
  const values = e !== null && typeof e === "object" ? (e as { values?: unknown }).values : undefined;
  return Array.isArray(values) && values.every((x) => typeof x === "number") ? Float32Array.from(values as number[]) : undefined;
};

/** Vectors in input order. Gemini reports no token counts for embeddings: the gateway estimates them. */
export function parseGeminiEmbedResponse(body: string, req: EmbedRequest, secrets: string[]): EmbedResult {
  const r = parseGeminiResponse(body, {}, secrets) as unknown as GeminiEmbedResponseWire;
  const list = geminiEmbedMethod(req) === "embedContent" ? [r.embedding] : Array.isArray(r.embeddings) ? r.embeddings : [];
  if (list.length !== req.inputs.length) {
    throw new ProviderError({ kind: "server_error", message: `gemini: ${list.length} embeddings for ${req.inputs.length} inputs` });
  }
  const embeddings = list.map((e, i) => {
    const v = vector(e);
    if (!v) throw new ProviderError({ kind: "server_error", message: `gemini: malformed embedding for input ${i}` });
    return v;
  });
  return { model: bareModel(req.model), embeddings };
}
