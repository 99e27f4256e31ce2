// Wire types of the OpenAI Chat Completions dialect as spoken by OpenAI, Azure OpenAI, OpenRouter
// and OpenAI-compatible servers. Request types are what we send (exact); response types are what
// we may receive (everything optional and loose: servers differ and add fields over time).

import type { JsonObject } from "../types.ts";

// ---- Request -------------------------------------------------------------------------------

export type OpenAIContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string; detail?: "auto" | "low" | "high" } }
  | { type: "file"; file: { file_data: string; filename?: string } };

export interface OpenAIToolCallParam {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type OpenAIMessage =
  | { role: "system" | "developer"; content: string; name?: string }
  | { role: "user"; content: string | OpenAIContentPart[]; name?: string }
  | { role: "assistant"; content: string | null; tool_calls?: OpenAIToolCallParam[]; name?: string }
  | { role: "tool"; tool_call_id: string; content: string };

export interface OpenAITool {
  type: "function";
  function: { name: string; description?: string; parameters?: JsonObject; strict?: boolean };
}

export type OpenAIToolChoice = "auto" | "none" | "required" | { type: "function"; function: { name: string } };

export type OpenAIResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; json_schema: { name: string; schema: JsonObject; strict?: boolean } };

/** The request body. Only fields the gateway maps; never anything else (OpenAI rejects unknown fields). */
export interface OpenAIChatRequest {
  model: string;
  messages: OpenAIMessage[];
  tools?: OpenAITool[];
  tool_choice?: OpenAIToolChoice;
  parallel_tool_calls?: boolean;
  temperature?: number;
  top_p?: number;
  max_completion_tokens?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  response_format?: OpenAIResponseFormat;
  presence_penalty?: number;
  frequency_penalty?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  logit_bias?: Record<string, number>;
  reasoning_effort?: string;
  /** OpenRouter's form of reasoning_effort. */
  reasoning?: { effort: string };
  user?: string;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
}

// ---- Response (loose) ----------------------------------------------------------------------

export interface OpenAIUsageWire {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null; cache_write_tokens?: number | null } | null;
  /** Mistral has been seen misspelling the details object. */
  prompt_token_details?: { cached_tokens?: number | null } | null;
  /** Mistral's other spelling of cache reads. */
  num_cached_tokens?: number | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  /** OpenRouter: cost in USD (credits). */
  cost?: number | null;
  /** OpenRouter: the request ran on the caller's own provider key (BYOK); `cost` is then only OpenRouter's fee. */
  is_byok?: boolean | null;
  /** OpenRouter: with BYOK, what the upstream provider bills the caller's key (USD). */
  cost_details?: { upstream_inference_cost?: number | null } | null;
}

export interface OpenAIToolCallWire {
  index?: number;
  id?: string | null;
  type?: string;
  function?: { name?: string | null; arguments?: unknown } | null;
}

/** Content of a message or delta: a string, or (Mistral reasoning models) an array of typed chunks. */
export type OpenAIContentWire = string | null | Array<{ type?: string; text?: string; thinking?: unknown }>;

export interface OpenAIResponseMessageWire {
  role?: string;
  content?: OpenAIContentWire;
  refusal?: string | null;
  /** OpenRouter (and newer vLLM / Ollama). */
  reasoning?: string | null;
  /** vLLM, DeepSeek and other compat servers. */
  reasoning_content?: string | null;
  tool_calls?: OpenAIToolCallWire[] | null;
}

export interface OpenAIChoiceWire {
  index?: number;
  message?: OpenAIResponseMessageWire | null;
  delta?: OpenAIResponseMessageWire | null;
  finish_reason?: string | null;
  /** OpenRouter: the upstream provider's own finish reason ("end_turn", "STOP", ...). */
  native_finish_reason?: string | null;
  /** OpenRouter: an error that happened during generation. */
  error?: unknown;
  /** With logprobs: `{content: [{token, logprob, bytes, top_logprobs}], refusal}` (loose: checked when read). */
  logprobs?: { content?: unknown; refusal?: unknown } | null;
}

export interface OpenAIChatResponseWire {
  id?: string;
  model?: string;
  choices?: OpenAIChoiceWire[] | null;
  usage?: OpenAIUsageWire | null;
  /** OpenRouter: a 200 (or a chunk) may carry an error. */
  error?: unknown;
}

/** The error object inside `{"error": …}` (or a flat body), across dialects. */
export interface OpenAIErrorWire {
  message?: unknown;
  type?: string | null;
  param?: string | null;
  /** OpenAI: string; Azure: string status or PascalCase; OpenRouter / vLLM: HTTP status number. */
  code?: string | number | null;
  status?: number;
  /** Azure content filter details (the spec spells it `inner_error`). */
  innererror?: { code?: string } | null;
  inner_error?: { code?: string } | null;
  /** OpenRouter. */
  metadata?: {
    error_type?: string;
    provider_code?: string;
    provider_name?: string;
    raw?: unknown;
    reasons?: string[];
    retry_after?: number;
    [k: string]: unknown;
  } | null;
  /** OpenRouter availability errors put these on the error object. */
  error_type?: string;
  http_status?: number;
  availability?: { code?: string; retryable?: boolean; retry_after?: number } | null;
}

/** POST /embeddings: the fields the gateway sends. */
export interface OpenAIEmbeddingRequest {
  model: string;
  input: string[];
  encoding_format?: "float" | "base64";
  dimensions?: number;
  user?: string;
}

/** The /embeddings answer as received (every field may be missing or malformed). */
export interface OpenAIEmbeddingResponseWire {
  object?: unknown;
  data?: { object?: unknown; index?: unknown; embedding?: unknown }[];
  model?: unknown;
  usage?: { prompt_tokens?: unknown; total_tokens?: unknown; cost?: unknown } | null;
}

/** POST /rerank of OpenAI-compatible servers (vLLM, Jina, Infinity, llama.cpp): Cohere v1's shape. */
export interface OpenAIRerankRequest {
  model: string;
  query: string;
  documents: string[];
  top_n?: number;
}

/** The /rerank answer as received: Cohere's `results`, and the token usage the server reports (Jina `total_tokens`, llama.cpp and Infinity `prompt_tokens` too). */
export interface OpenAIRerankResponseWire {
  id?: unknown;
  model?: unknown;
  results?: unknown;
  usage?: { prompt_tokens?: unknown; total_tokens?: unknown } | null;
}
