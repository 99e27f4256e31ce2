// The Bedrock Runtime wire shapes this adapter reads and writes: Converse and ConverseStream
// (POST /model/{modelId}/converse, /converse-stream) and the InvokeModel bodies of the embedding
// models. Trimmed to the fields the gateway maps; response types are partial on purpose.

// ---- Converse request ----

/** A prompt-cache checkpoint: everything before it is cached (Claude and Nova models). */
export interface BedrockCachePoint {
  cachePoint: { type: "default"; ttl?: "5m" | "1h" };
}

export type BedrockImageFormat = "png" | "jpeg" | "gif" | "webp";

/** Blobs travel as base64 strings in the JSON protocol. */
export interface BedrockImageBlock {
  image: { format: BedrockImageFormat; source: { bytes: string } };
}

export type BedrockDocumentFormat = "pdf" | "csv" | "doc" | "docx" | "xls" | "xlsx" | "html" | "txt" | "md";

export interface BedrockDocumentBlock {
  document: { format: BedrockDocumentFormat; name: string; source: { bytes: string } };
}

export interface BedrockTextBlock {
  text: string;
}

export interface BedrockToolUseBlock {
  toolUse: { toolUseId: string; name: string; input: Record<string, unknown> };
}

export interface BedrockToolResultBlock {
  toolResult: {
    toolUseId: string;
    content: (BedrockTextBlock | BedrockImageBlock | BedrockDocumentBlock)[];
    status?: "success" | "error";
  };
}

/** Claude's thinking, replayed unmodified (signature included) when it thinks across a tool loop. */
export interface BedrockReasoningBlock {
  reasoningContent: { reasoningText: { text: string; signature?: string } } | { redactedContent: string };
}

export type BedrockContentBlock =
  | BedrockReasoningBlock
  | BedrockTextBlock
  | BedrockImageBlock
  | BedrockDocumentBlock
  | BedrockToolUseBlock
  | BedrockToolResultBlock
  | BedrockCachePoint;

export interface BedrockMessage {
  role: "user" | "assistant";
  content: BedrockContentBlock[];
}

export type BedrockSystemBlock = BedrockTextBlock | BedrockCachePoint;

export interface BedrockToolSpec {
  toolSpec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> }; strict?: boolean };
}

export type BedrockToolChoice = { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };

export interface BedrockInferenceConfig {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
}

export interface BedrockConverseRequest {
  messages: BedrockMessage[];
  system?: BedrockSystemBlock[];
  inferenceConfig?: BedrockInferenceConfig;
  toolConfig?: { tools: (BedrockToolSpec | BedrockCachePoint)[]; toolChoice?: BedrockToolChoice };
  /** Model-specific fields passed through (Claude's `thinking`). */
  additionalModelRequestFields?: Record<string, unknown>;
  outputConfig?: { effort?: string; textFormat?: BedrockOutputFormat };
}

/** Structured outputs: the answer's text conforms to a JSON schema, sent as a JSON string. */
export interface BedrockOutputFormat {
  type: "json_schema";
  structure: { jsonSchema: { schema: string; name?: string; description?: string } };
}

// ---- Converse response ----

export interface BedrockUsage {
  /** Prompt tokens NOT read from or written to the cache. */
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
  /** Cache writes by time to live. */
  cacheDetails?: { ttl?: string; inputTokens?: number }[];
}

export interface BedrockResponseBlock {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  reasoningContent?: { reasoningText?: { text?: string; signature?: string }; redactedContent?: string };
}

export interface BedrockConverseResponse {
  output?: { message?: { role?: string; content?: BedrockResponseBlock[] } };
  stopReason?: string;
  usage?: BedrockUsage;
  metrics?: { latencyMs?: number };
}

// ---- ConverseStream events (the payload of each event-stream message, by :event-type) ----

export interface BedrockContentBlockStart {
  contentBlockIndex?: number;
  start?: { toolUse?: { toolUseId?: string; name?: string } };
}

export interface BedrockContentBlockDelta {
  contentBlockIndex?: number;
  delta?: {
    text?: string;
    toolUse?: { input?: string };
    reasoningContent?: { text?: string; signature?: string; redactedContent?: string };
  };
}

export interface BedrockMessageStop {
  stopReason?: string;
}

export interface BedrockStreamMetadata {
  usage?: BedrockUsage;
  metrics?: { latencyMs?: number };
}

// ---- InvokeModel embedding bodies ----

export interface TitanEmbedRequest {
  inputText: string;
  dimensions?: number;
  normalize?: boolean;
}

export interface TitanEmbedResponse {
  embedding?: number[];
  inputTextTokenCount?: number;
}

export interface CohereEmbedRequest {
  texts: string[];
  input_type: "search_document" | "search_query";
  output_dimension?: number;
}

export interface CohereEmbedResponse {
  /** Plain floats, or `{float: [...]}` when embedding_types was given. */
  embeddings?: number[][] | { float?: number[][] };
  id?: string;
}

// ---- InvokeModel rerank bodies ----

/** Cohere Rerank on Bedrock: the /v2/rerank body without `model`, with `api_version: 2` (as the cohere-ai SDK's Bedrock client sends it). */
export interface BedrockCohereRerankRequest {
  query: string;
  documents: string[];
  api_version: 2;
  top_n?: number;
  max_tokens_per_doc?: number;
}

/** Amazon Rerank 1.0: the query and the documents only (the gateway applies top_n to the answer). */
export interface BedrockAmazonRerankRequest {
  query: string;
  documents: string[];
}
