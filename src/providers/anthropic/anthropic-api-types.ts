// The Anthropic Messages wire shapes this adapter reads and writes (POST /v1/messages), trimmed to
// the fields the gateway maps. Response types are partial on purpose: unknown fields are ignored.

// ---- request ----

export type AnthropicImageSource =
  | { type: "base64"; media_type: string; data: string }
  | { type: "url"; url: string };

/** A prompt-cache breakpoint on a block (at most 4 per request). */
export interface AnthropicCacheControl {
  type: "ephemeral";
  ttl?: "5m" | "1h";
}

export interface AnthropicTextBlock {
  type: "text";
  text: string;
  cache_control?: AnthropicCacheControl;
}

export interface AnthropicImageBlock {
  type: "image";
  source: AnthropicImageSource;
  cache_control?: AnthropicCacheControl;
}

export interface AnthropicDocumentBlock {
  type: "document";
  source: AnthropicImageSource | { type: "text"; media_type: "text/plain"; data: string };
  title?: string;
  cache_control?: AnthropicCacheControl;
}

export interface AnthropicToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  /** An object, never a JSON string. */
  input: Record<string, unknown>;
}

export interface AnthropicToolResultBlock {
  type: "tool_result";
  tool_use_id: string;
  content?: string | (AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock)[];
  is_error?: boolean;
  cache_control?: AnthropicCacheControl;
}

/** Thinking replayed in an assistant turn, unmodified (the signature authenticates it). */
export interface AnthropicThinkingBlock {
  type: "thinking";
  thinking: string;
  signature: string;
}

export interface AnthropicRedactedThinkingBlock {
  type: "redacted_thinking";
  data: string;
}

export type AnthropicContentBlock =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicDocumentBlock
  | AnthropicToolUseBlock
  | AnthropicToolResultBlock
  | AnthropicThinkingBlock
  | AnthropicRedactedThinkingBlock;

export interface AnthropicMessage {
  /** There is no "system" role: system text goes to the top-level `system` field. */
  role: "user" | "assistant";
  content: AnthropicContentBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
  cache_control?: AnthropicCacheControl;
  /** Strict tool use (structured outputs): the model's calls conform to input_schema. */
  strict?: boolean;
}

export type AnthropicToolChoice =
  | { type: "auto"; disable_parallel_tool_use?: boolean }
  | { type: "any"; disable_parallel_tool_use?: boolean }
  | { type: "tool"; name: string; disable_parallel_tool_use?: boolean }
  | { type: "none" };

export interface AnthropicRequestBody {
  model: string;
  /** Required by the API. */
  max_tokens: number;
  /** A string, or text blocks when some carry a cache breakpoint. */
  system?: string | AnthropicTextBlock[];
  messages: AnthropicMessage[];
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  /** 0..1 (not 0..2 like OpenAI). */
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  metadata?: { user_id?: string };
  /** Manual thinking with a budget, or adaptive thinking (Claude 4.6 and later) steered by output_config.effort. */
  thinking?: { type: "enabled"; budget_tokens: number } | { type: "adaptive" };
  output_config?: {
    /** Structured outputs: the answer conforms to the schema. */
    format?: { type: "json_schema"; schema: Record<string, unknown> };
    effort?: "low" | "medium" | "high" | "xhigh" | "max";
  };
  stream?: boolean;
}

// ---- response ----

export interface AnthropicUsage {
  /** Excludes cache reads and writes. */
  input_tokens?: number | null;
  /** All cache writes: 5-minute and 1-hour. */
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** The cache writes by time to live (newer servers). */
  cache_creation?: { ephemeral_5m_input_tokens?: number | null; ephemeral_1h_input_tokens?: number | null } | null;
  /** Includes thinking tokens. */
  output_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

export interface AnthropicStopDetails {
  type?: string;
  category?: string | null;
  explanation?: string | null;
}

export type AnthropicResponseBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature?: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  // Server-tool blocks and future block types: ignored.
  | { type: string; [k: string]: unknown };

export interface AnthropicResponse {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: string | null;
  stop_sequence?: string | null;
  stop_details?: AnthropicStopDetails | null;
  usage?: AnthropicUsage;
}

/** The error body of a non-2xx response, and the payload of an in-stream `event: error`. */
export interface AnthropicErrorBody {
  type: "error";
  error: {
    type: string;
    message: string;
    /** The tier spend cap carries `error_code: "enforced_spend_limit_reached"`. */
    details?: { error_code?: string } | null;
  };
  request_id?: string | null;
}

// ---- stream payloads (event name = `type`) ----

export interface AnthropicMessageStartEvent {
  type: "message_start";
  message: { id: string; model: string; usage?: AnthropicUsage };
}

export interface AnthropicContentBlockStartEvent {
  type: "content_block_start";
  index: number;
  content_block: AnthropicResponseBlock;
}

export interface AnthropicContentBlockDeltaEvent {
  type: "content_block_delta";
  index: number;
  delta:
    | { type: "text_delta"; text: string }
    | { type: "input_json_delta"; partial_json: string }
    | { type: "thinking_delta"; thinking: string }
    | { type: "signature_delta"; signature: string }
    | { type: string; [k: string]: unknown };
}

export interface AnthropicContentBlockStopEvent {
  type: "content_block_stop";
  index: number;
}

export interface AnthropicMessageDeltaEvent {
  type: "message_delta";
  delta: { stop_reason?: string | null; stop_sequence?: string | null; stop_details?: AnthropicStopDetails | null };
  /** Cumulative counts: take them as final values, never add. */
  usage?: AnthropicUsage;
}
