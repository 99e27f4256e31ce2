// Embeddings on Vertex: Google's embedding models (text-embedding-005, gemini-embedding-001, …)
// through the publisher model's `:predict`, `{instances:[{content, task_type}], parameters}` in,
// `predictions[].embeddings.{values, statistics.token_count}` out.

import { tryJson } from "../headers.ts";
import type { EmbedRequest, EmbedResult } from "../types.ts";
import { ProviderError } from "../types.ts";

export interface VertexEmbedBody {
  instances: { content: string; task_type?: string }[];
  parameters?: { outputDimensionality?: number };
}

const TASK_TYPE: Record<NonNullable<EmbedRequest["inputType"]>, string> = {
  query: "RETRIEVAL_QUERY",
  document: "RETRIEVAL_DOCUMENT",
};

/** The `:predict` body: one instance per input, in order. */
export function buildVertexEmbedBody(req: EmbedRequest): VertexEmbedBody {
  const taskType = req.inputType ? TASK_TYPE[req.inputType] : undefined;
  const body: VertexEmbedBody = { instances: req.inputs.map((content) => (taskType ? { content, task_type: taskType } : { content })) };
  if (req.dimensions !== undefined) body.parameters = { outputDimensionality: req.dimensions };
  return body;
}

interface Prediction {
  embeddings?: { values?: unknown; statistics?: { token_count?: unknown } };
}

/** One vector per input, in input order; usage is the sum of the per-input token counts. */
export function parseVertexEmbedResponse(body: string, req: EmbedRequest, label: string): EmbedResult {
  const bad = (what: string) => new ProviderError({ kind: "server_error", message: `${label}: ${what}` });
  const json = tryJson(body) as { predictions?: unknown } | undefined;
  const predictions = json !== null && typeof json === "object" && Array.isArray(json.predictions) ? (json.predictions as Prediction[]) : undefined;
  if (!predictions) throw bad("the embeddings answer has no predictions");
  if (predictions.length !== req.inputs.length) throw bad(`the embeddings answer has ${predictions.length} vectors for ${req.inputs.length} inputs`);
  let tokens = 0;
  let counted = false;
  const embeddings = predictions.map((p, i) => {
    const values = p?.embeddings?.values;
    if (!Array.isArray(values) || !values.every((v) => typeof v === "number")) throw bad(`prediction ${i} has no embedding values`);
    const n = Number(p.embeddings?.statistics?.token_count);
    if (Number.isFinite(n)) {
      tokens += n;
      counted = true;
    }
    return Float32Array.from(values as number[]);
  });
  return { model: req.model, embeddings, ...(counted ? { usage: { inputTokens: tokens } } : {}) };
}
