// The Gemini Developer API wire shapes this adapter sends and reads (generateContent and
// streamGenerateContent?alt=sse). Only the fields the gateway maps; everything else is ignored.

/** Any JSON Schema, sent as-is in `parametersJsonSchema` / `responseJsonSchema`. */
export type GeminiJsonSchema = { [k: string]: unknown };

export interface GeminiTextPart {
  text: string;
  /** True on thought-summary parts (only returned with `includeThoughts`). */
  thought?: boolean;
  thoughtSignature?: string;
}

export interface GeminiInlineDataPart {
  inlineData: { mimeType: string; data: string };
}

export interface GeminiFileDataPart {
  fileData: { fileUri: string; mimeType?: string };
}

export interface GeminiFunctionCallPart {
  functionCall: { name: string; args: { [k: string]: unknown }; id?: string };
  thoughtSignature?: string;
}

export interface GeminiFunctionResponsePart {
  functionResponse: { name: string; response: { [k: string]: unknown }; id?: string };
}

export type GeminiRequestPart =
  | GeminiTextPart
  | GeminiInlineDataPart
  | GeminiFileDataPart
  | GeminiFunctionCallPart
  | GeminiFunctionResponsePart;

export interface GeminiContent {
  role: "user" | "model";
  parts: GeminiRequestPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parametersJsonSchema?: GeminiJsonSchema;
}

export interface GeminiTool {
  functionDeclarations: GeminiFunctionDeclaration[];
}

export interface GeminiToolConfig {
  functionCallingConfig: { mode: "AUTO" | "ANY" | "NONE"; allowedFunctionNames?: string[] };
}

export interface GeminiThinkingConfig {
  includeThoughts?: boolean;
  thinkingBudget?: number;
  thinkingLevel?: "minimal" | "low" | "medium" | "high";
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  responseJsonSchema?: GeminiJsonSchema;
  thinkingConfig?: GeminiThinkingConfig;
  /** Return the chosen token's log probability at each step (`logprobsResult.chosenCandidates`). */
  responseLogprobs?: boolean;
  /** With responseLogprobs: the top alternatives per step (1..20; `logprobsResult.topCandidates`). */
  logprobs?: number;
}

/** The body of generateContent / streamGenerateContent. */
export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: GeminiTool[];
  toolConfig?: GeminiToolConfig;
  generationConfig?: GeminiGenerationConfig;
}

// Responses: every field optional, because Gemini omits zero and absent values.

/** One part of a response candidate. Exactly one data field is set; unknown kinds are ignored. */
export interface GeminiResponsePart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { name?: string; args?: { [k: string]: unknown }; id?: string };
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiResponsePart[] };
  finishReason?: string;
  finishMessage?: string;
  index?: number;
  /** With responseLogprobs: the tokens of this candidate (of this chunk, when streamed). */
  logprobsResult?: GeminiLogprobsResult;
  avgLogprobs?: number;
}

/** One token and its log probability; a zero log probability (certainty) is omitted, as proto3 JSON omits zeros. */
export interface GeminiLogprobsCandidate {
  token?: string;
  tokenId?: number;
  logProbability?: number;
}

export interface GeminiLogprobsResult {
  /** The token chosen at each decoding step. */
  chosenCandidates?: GeminiLogprobsCandidate[];
  /** The most likely tokens at each step, most likely first (absent unless `logprobs` was asked for). */
  topCandidates?: { candidates?: GeminiLogprobsCandidate[] }[];
  logProbabilitySum?: number;
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiPromptFeedback {
  blockReason?: string;
  blockReasonMessage?: string;
}

/** A whole response, or one streamed chunk (chunks carry only the new parts). */
export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: GeminiPromptFeedback;
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  /** Set instead of everything else when an error arrives inside a 200 (mid-stream). */
  error?: GeminiErrorStatus;
}

/** A `details[]` entry of google.rpc.Status, typed by `@type`. */
export interface GeminiErrorDetail {
  "@type"?: string;
  /** ErrorInfo */
  reason?: string;
  domain?: string;
  /** RetryInfo: a protobuf Duration in its JSON form ("13s", "0.5s"). */
  retryDelay?: string | { seconds?: number | string; nanos?: number };
  /** QuotaFailure */
  violations?: { quotaId?: string; quotaMetric?: string; quotaValue?: string | number; description?: string }[];
}

/** google.rpc.Status as Gemini sends it: `{"error": {...}}`. */
export interface GeminiErrorStatus {
  code?: number;
  message?: string;
  status?: string;
  details?: GeminiErrorDetail[];
}

/** models/{model}:embedContent (and one entry of batchEmbedContents). */
export interface GeminiEmbedContentRequest {
  /** `models/{model}`: required on each entry of a batch. */
  model: string;
  content: { parts: { text: string }[] };
  taskType?: "RETRIEVAL_QUERY" | "RETRIEVAL_DOCUMENT" | "SEMANTIC_SIMILARITY" | "CLASSIFICATION" | "CLUSTERING";
  outputDimensionality?: number;
}

/** models/{model}:batchEmbedContents. */
export interface GeminiBatchEmbedRequest {
  requests: GeminiEmbedContentRequest[];
}

/** Either answer as received: `embedding` (embedContent) or `embeddings` (batchEmbedContents). */
export interface GeminiEmbedResponseWire {
  embedding?: { values?: unknown };
  embeddings?: { values?: unknown }[];
}
