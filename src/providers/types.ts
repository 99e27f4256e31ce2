// The provider contract: the provider-neutral request, result, stream events and failure kinds
// that every adapter translates to and from. Nothing here knows about Connect or HTTP.

/** Why an upstream attempt failed. Adapters classify; the router decides what to do per kind. */
export type FailureKind =
  | "rate_limited"
  | "overloaded"
  | "timeout"
  | "network"
  | "upstream_auth"
  | "quota_exhausted"
  | "model_not_found"
  | "context_length_exceeded"
  | "content_filtered"
  | "bad_request"
  | "canceled"
  | "unknown"
  | "server_error"
  | "stream_interrupted";

export type Role = "system" | "developer" | "user" | "assistant" | "tool";

export type ContentPart =
  | { type: "text"; text: string }
  | {
      type: "image";
      /** An https: or data: URL. */
      url?: string;
      /** Raw bytes; mediaType is then required. */
      data?: Uint8Array;
      mediaType?: string;
      detail?: "auto" | "low" | "high";
    };

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text exactly as the model produced it. */
  arguments: string;
  /** Opaque provider state to replay (Gemini thoughtSignature). */
  signature?: string;
}

export interface ChatMessage {
  role: Role;
  content: ContentPart[];
  toolCalls?: ToolCall[];
  /** For role "tool": the call answered. */
  toolCallId?: string;
  /** Participant name; for role "tool", the tool's name. */
  name?: string;
  /** For role "tool": the tool failed. */
  isError?: boolean;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

export interface ToolDef {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters?: JsonObject;
  strict?: boolean;
}

export type ToolChoice =
  | { type: "auto" }
  | { type: "none" }
  | { type: "required" }
  | { type: "tool"; name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: JsonObject; strict?: boolean };

export type ReasoningEffort = "minimal" | "low" | "medium" | "high";

/** A chat request as the router hands it to one deployment: the model is the pinned upstream model. */
export interface UpstreamRequest {
  /** The upstream model id (for Azure, the deployment name). */
  model: string;
  messages: ChatMessage[];
  tools?: ToolDef[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stop?: string[];
  seed?: number;
  responseFormat?: ResponseFormat;
  presencePenalty?: number;
  frequencyPenalty?: number;
  reasoningEffort?: ReasoningEffort;
  /** End-user id for the provider's abuse tracking (already pseudonymous). */
  user?: string;
}

/** Token counts normalised to one meaning (see proto signalbox.v1.Usage). */
export interface Usage {
  /** All prompt tokens, including cache reads and writes. */
  inputTokens: number;
  /** All generated tokens, including reasoning. */
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** Provider-reported cost in USD, when the provider gives one (OpenRouter). */
  providerCostUsd?: number;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "error" | "other";

/** A whole (unary) answer. */
export interface ChatResult {
  id: string;
  /** The model version the provider reports. */
  model: string;
  text: string;
  reasoning?: string;
  refusal?: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  rawFinishReason: string;
  usage?: Usage;
}

/**
 * Provider-neutral stream events. Errors are never events: a stream fails by throwing a
 * ProviderError from its iterator, which is what ends the RPC with its code.
 */
export type StreamEvent =
  | { type: "start"; id?: string; model?: string }
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "refusal"; text: string }
  | { type: "tool_call_start"; index: number; id: string; name: string; signature?: string }
  | { type: "tool_call_delta"; index: number; argumentsDelta: string }
  | { type: "finish"; finishReason: FinishReason; rawFinishReason: string }
  | { type: "usage"; usage: Usage };

/** True for events that are content (the stream's commit point is the first of these sent). */
export function isContentEvent(e: StreamEvent): boolean {
  return e.type === "text" || e.type === "reasoning" || e.type === "refusal" || e.type === "tool_call_start" || e.type === "tool_call_delta";
}

export interface ProviderErrorInit {
  kind: FailureKind;
  message: string;
  status?: number;
  retryAfterMs?: number;
  /** The provider's own error code or type ("insufficient_quota", "overloaded_error"). */
  providerCode?: string;
  requestId?: string;
  /** Overrides the router's per-kind retry default (x-should-retry, "Request too large"). */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * An upstream failure, classified. Messages are written for operators and callers alike, so they
 * must never contain credentials: adapters build them from the provider's error message only.
 */
export class ProviderError extends Error {
  readonly kind: FailureKind;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly providerCode?: string;
  readonly requestId?: string;
  readonly retryable?: boolean;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProviderError";
    this.kind = init.kind;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.providerCode = init.providerCode;
    this.requestId = init.requestId;
    this.retryable = init.retryable;
  }
}

/**
 * What the router calls. HTTP providers are an adapter (pure translation) composed with the
 * transport (see http-provider.ts); the built-in mock implements this directly.
 */
export interface Provider {
  /** The connection's name in config. */
  readonly name: string;
  /** "openai", "azure", "anthropic", "gemini", "openrouter", "openai-compatible", "mock". */
  readonly type: string;
  complete(req: UpstreamRequest, signal: AbortSignal): Promise<ChatResult>;
  /**
   * The answer as it is generated. Each item is a non-empty batch of events that arrived
   * together (one upstream read often carries several SSE events): the gateway forwards a batch
   * as one message, so a burst costs one write and one trip through the pipeline, not one per
   * token.
   */
  stream(req: UpstreamRequest, signal: AbortSignal): AsyncIterable<StreamEvent[]>;
}

/** A fully built upstream HTTP request, produced by an adapter. */
export interface HttpRequestSpec {
  method: "POST" | "GET";
  /** Path and query, appended to the connection's base URL (which may itself carry a path). */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Incremental translator of one upstream stream into provider-neutral events. */
export interface StreamTranslator {
  /** Translate one SSE event; may return several events or none. Throws ProviderError for in-band errors. */
  event(e: SseEvent): StreamEvent[];
  /** The upstream closed the stream: return trailing events, or throw if it ended without its terminator. */
  end(): StreamEvent[];
}

/** The pure half of an HTTP provider: translation only, no I/O, no state across requests. */
export interface ProviderAdapter {
  buildRequest(req: UpstreamRequest, stream: boolean): HttpRequestSpec;
  /** Parse a 2xx body. Throws ProviderError for errors carried inside a 200. */
  parseResponse(body: string, headers: Record<string, string | string[] | undefined>): ChatResult;
  /** A translator for one streamed response. */
  streamTranslator(): StreamTranslator;
  /** Classify a non-2xx response. */
  classifyError(status: number, body: string, headers: Record<string, string | string[] | undefined>): ProviderError;
}
