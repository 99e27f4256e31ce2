// Embeddings in one line: `embedTexts(client, model, texts)` returns one Float32Array per text,
// whichever encoding travelled (floats, or packed little-endian float32 bytes).

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import type { SignalboxClient } from "./client.ts";
import { EmbeddingEncoding, EmbedRequestSchema, type EmbedRequest, type EmbedResponse, type Embedding } from "./gen/signalbox/v1/embedding_pb.ts";

/** Every EmbedRequest field but the model and the inputs, as plain init values. */
export type EmbedOptions = Omit<Exclude<MessageInitShape<typeof EmbedRequestSchema>, EmbedRequest>, "$typeName" | "model" | "inputs">;

/** One embedding's vector: its `values`, or its `packed` bytes decoded. */
export function vectorOf(e: Embedding): Float32Array {
  if (e.packed.length === 0) return Float32Array.from(e.values);
  const view = new DataView(e.packed.buffer, e.packed.byteOffset, e.packed.byteLength);
  const out = new Float32Array(e.packed.byteLength >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Every vector of a response, in input order. */
export function vectorsOf(res: EmbedResponse): Float32Array[] {
  return [...res.embeddings].sort((a, b) => a.index - b.index).map(vectorOf);
}

export interface EmbedTextsResult {
  /** One per input, in input order. */
  vectors: Float32Array[];
  /** The whole answer: deployment, usage, cost, attempts, cache hits per input, trace id. */
  response: EmbedResponse;
}

/**
 * Embed one text or several through the gateway's EmbeddingService. `options` takes any other
 * EmbedRequest field (dimensions, input_type, routing, cache, user, tags, metadata). Vectors travel
 * packed (4 bytes a float) unless `options.encoding` says otherwise.
 */
export async function embedTexts(
  client: SignalboxClient,
  model: string,
  texts: string | string[],
  options: EmbedOptions = {},
  callOptions?: CallOptions,
): Promise<EmbedTextsResult> {
  const response = await client.embedding.embed(
    create(EmbedRequestSchema, { encoding: EmbeddingEncoding.BASE64, ...options, model, inputs: typeof texts === "string" ? [texts] : texts }),
    callOptions,
  );
  return { vectors: vectorsOf(response), response };
}
