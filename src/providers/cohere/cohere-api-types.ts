// Wire types of Cohere's v2 API as the gateway speaks it (POST /v2/rerank, POST /v2/embed), checked
// against the cohere-ai SDK's own serializers (V2RerankRequest, V2RerankResponse, V2EmbedRequest,
// EmbedByTypeResponse, ApiMeta). Request types are what we send (exact); response types are what
// we may receive (everything optional: parsers check each field).

// ---- Request -------------------------------------------------------------------------------

/** POST /v2/rerank. Also the body of Cohere Rerank on Bedrock's InvokeModel, without `model` and with `api_version: 2`. */
export interface CohereRerankRequest {
  model: string;
  query: string;
  /** Plain strings: v2 takes no structured documents (YAML strings instead). */
  documents: string[];
  top_n?: number;
  /** Longer documents are truncated to this many tokens (Cohere's default 4,096). */
  max_tokens_per_doc?: number;
}

/** What the vectors are for: required by Embed v3 and later. */
export type CohereInputType = "search_query" | "search_document" | "classification" | "clustering";

/** POST /v2/embed: the fields the gateway sends. */
export interface CohereEmbedRequest {
  model: string;
  texts: string[];
  input_type: CohereInputType;
  /** Floats only: the gateway packs vectors itself. */
  embedding_types: ["float"];
  /** Embed v4 and later: 256, 512, 1024 or 1536 (default 1536). */
  output_dimension?: number;
}

// ---- Response ------------------------------------------------------------------------------

/** `meta`, shared by every v2 answer. */
export interface CohereMetaWire {
  api_version?: { version?: unknown; is_deprecated?: unknown; is_experimental?: unknown };
  billed_units?: { input_tokens?: unknown; output_tokens?: unknown; search_units?: unknown; images?: unknown };
  tokens?: { input_tokens?: unknown; output_tokens?: unknown };
  warnings?: unknown;
}

/** One ranked document: its position in the request and its relevance in [0, 1]. */
export interface CohereRerankResultWire {
  index?: unknown;
  relevance_score?: unknown;
  /** Cohere v1 and OpenAI-compatible servers (vLLM, Jina) may echo the document. */
  document?: unknown;
}

/** The /v2/rerank answer, best first. Bedrock's InvokeModel answers the same `results` (with or without `id`). */
export interface CohereRerankResponseWire {
  id?: unknown;
  results?: CohereRerankResultWire[];
  meta?: CohereMetaWire;
}

/** The /v2/embed answer (`embeddings_by_type`): one array per requested embedding type. */
export interface CohereEmbedResponseWire {
  id?: unknown;
  response_type?: unknown;
  embeddings?: { float?: unknown } | null;
  texts?: unknown;
  meta?: CohereMetaWire;
}

/** An error body: `{"message": "…"}`, sometimes with the request's `id`. */
export interface CohereErrorWire {
  id?: unknown;
  message?: unknown;
}
