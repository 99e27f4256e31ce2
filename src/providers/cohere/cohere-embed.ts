// Cohere's Embed API (POST /v2/embed): texts in, float vectors out (`embedding_types: ["float"]`),
// with the input type every Embed v3+ model requires. Pure translation.

import { header, tryJson, type Headers } from "../headers.ts";
import type { EmbedRequest, EmbedResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { CohereEmbedRequest, CohereEmbedResponseWire, CohereInputType } from "./cohere-api-types.ts";

/** Texts per /v2/embed call (a larger batch is split by the provider: embedBatchLimit). */
export const COHERE_EMBED_MAX_TEXTS = 96;

/** query → search_query; document, and no type at all, → search_document (what an index stores). */
const INPUT_TYPE: Record<NonNullable<EmbedRequest["inputType"]>, CohereInputType> = { query: "search_query", document: "search_document" };

/** Embed v4 and later take output_dimension; the v3 models have one fixed size. */
const SHORTENABLE = /^embed-v(?:[4-9]|\d{2,})/;

function refuse(label: string, message: string): ProviderError {
  return new ProviderError({ kind: "bad_request", message: `${label}: ${message}`, unsent: true });
}

/** The v3 models' fixed vector size: the light ones 384, the others 1024. */
function fixedSize(model: string): number {
  return /light/.test(model) ? 384 : 1024;
}

/** The body of POST /v2/embed. A size a fixed-size model cannot give is refused before sending. */
export function buildCohereEmbedBody(req: EmbedRequest, label = "cohere"): CohereEmbedRequest {
  if (req.inputs.length > COHERE_EMBED_MAX_TEXTS) {
    throw refuse(label, `Cohere embeddings take at most ${COHERE_EMBED_MAX_TEXTS} inputs per request (got ${req.inputs.length})`);
  }
  const body: CohereEmbedRequest = {
    model: req.model,
    texts: req.inputs,
    input_type: INPUT_TYPE[req.inputType ?? "document"],
    embedding_types: ["float"],
  };
  if (req.dimensions !== undefined) {
    if (SHORTENABLE.test(req.model)) body.output_dimension = req.dimensions;
    else if (req.dimensions !== fixedSize(req.model)) {
      throw refuse(label, `${req.model} has a fixed vector size of ${fixedSize(req.model)}: dimensions ${req.dimensions} is not supported (embed-v4.0 takes 256, 512, 1024 or 1536)`);
    }
  }
  return body;
}

/** Parse a 2xx /v2/embed body: one float vector per input, in order, and the input tokens billed. */
export function parseCohereEmbedResponse(body: string, req: EmbedRequest, headers: Headers = {}, label = "cohere"): EmbedResult {
  const requestId = header(headers, "x-request-id") ?? header(headers, "x-debug-trace-id");
  const fail = (message: string) => new ProviderError({ kind: "server_error", message: `${label}: ${message}`, requestId });
  const json = tryJson(body);
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw fail("upstream sent an embeddings answer that is not a JSON object");
  const res = json as CohereEmbedResponseWire;
  const raw = res.embeddings?.float;
  if (!Array.isArray(raw) || raw.length !== req.inputs.length) {
    throw fail(`upstream sent ${Array.isArray(raw) ? raw.length : 0} float embeddings for ${req.inputs.length} inputs`);
  }
  const embeddings = raw.map((v, i) => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "number")) throw fail(`upstream sent a malformed embedding for input ${i}`);
    return Float32Array.from(v as number[]);
  });
  const result: EmbedResult = { model: req.model, embeddings };
  const tokens = res.meta?.billed_units?.input_tokens;
  if (typeof tokens === "number" && Number.isFinite(tokens) && tokens >= 0) result.usage = { inputTokens: tokens };
  return result;
}
