// Rerank in one line: `rerankDocuments(client, model, query, documents)` returns the documents
// best first, each with its position in `documents`, its relevance score and its text.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import type { SignalboxClient } from "./client.ts";
import { RerankRequestSchema, type RerankRequest, type RerankResponse } from "./gen/signalbox/v1/rerank_pb.ts";

/** Every RerankRequest field but the model, the query and the documents, as plain init values. */
export type RerankOptions = Omit<Exclude<MessageInitShape<typeof RerankRequestSchema>, RerankRequest>, "$typeName" | "model" | "query" | "documents">;

export interface RankedDocument {
  /** Position in the documents given. */
  index: number;
  /** Relevance to the query (higher is more relevant). */
  score: number;
  /** The document as given. */
  document: string;
}

export interface RerankDocumentsResult {
  /** Best first (at most top_n). */
  ranked: RankedDocument[];
  /** The whole answer: deployment, usage, cost, attempts, trace id. */
  response: RerankResponse;
}

/**
 * Rank documents by relevance to a query through the gateway's RerankService. `options` takes
 * any other RerankRequest field (top_n, max_tokens_per_doc, routing, cache, guardrails, user, tags,
 * metadata). The documents' texts are not sent back: the result pairs each with its own.
 */
export async function rerankDocuments(
  client: SignalboxClient,
  model: string,
  query: string,
  documents: string[],
  options: RerankOptions = {},
  callOptions?: CallOptions,
): Promise<RerankDocumentsResult> {
  const response = await client.rerank.rerank(create(RerankRequestSchema, { ...options, returnDocuments: false, model, query, documents }), callOptions);
  return { ranked: response.results.map((r) => ({ index: r.index, score: r.relevanceScore, document: documents[r.index] })), response };
}
