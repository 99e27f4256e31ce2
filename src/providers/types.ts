// The provider contract: the provider-neutral request, result, stream events and failure kinds
// that every adapter translates to and from. Nothing here knows about Connect or HTTP.

import type { Readable } from "node:stream";

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
  | "stream_interrupted"
  /** Not the provider's: the answer failed an output guardrail (json_schema, or a blocked stream). */
  | "guardrail";

export type Role = "system" | "developer" | "user" | "assistant" | "tool";

/**
 * A prompt-cache breakpoint: cache the prompt up to and including this part. Anthropic takes it as
 * `cache_control`; providers that cache by themselves ignore it.
 */
export interface CacheHint {
  /** Absent: the provider's default (5 minutes at Anthropic). */
  ttl?: "5m" | "1h";
}

export type ContentPart =
  | { type: "text"; text: string; cache?: CacheHint }
  | {
      type: "image";
      /** An https: or data: URL. */
      url?: string;
      /** Raw bytes; mediaType is then required. */
      data?: Uint8Array;
      mediaType?: string;
      detail?: "auto" | "low" | "high";
      cache?: CacheHint;
    }
  | {
      /**
       * A document the model reads: a PDF, or text (plain, Markdown, CSV, HTML), as bytes. Each
       * provider gets it in its own form (OpenAI's file part, Anthropic's and Bedrock's document
       * blocks, Gemini's inline data).
       */
      type: "file";
      data: Uint8Array;
      /** One of FILE_MEDIA_TYPES. */
      mediaType: string;
      /** The file's name or title, when the caller gave one. */
      filename?: string;
      cache?: CacheHint;
    };

/** The documents a file part may hold, by media type. */
export const FILE_MEDIA_TYPES: ReadonlySet<string> = new Set(["application/pdf", "text/plain", "text/markdown", "text/csv", "text/html"]);

/**
 * A text document as prompt text, for providers without a text-document form: its name on a line
 * of its own, then its content. Undefined for a PDF.
 */
export function fileAsPromptText(p: { data: Uint8Array; mediaType: string; filename?: string }): string | undefined {
  const text = fileText(p);
  return text === undefined || !p.filename ? text : `${p.filename}:\n${text}`;
}

/** Decoded text documents: validation, the estimate, the guardrails and the adapter read the same bytes. */
const decoded = new WeakMap<Uint8Array, string>();
/** Made at first use: a module-level one would be a side effect that bundles (the CLI's) keep. */
let utf8: InstanceType<typeof TextDecoder> | undefined;

/**
 * A text document's content, or undefined for a PDF; decoded once per part. Throws a TypeError
 * when the bytes are not UTF-8 (validation refuses such a part before anything else reads it).
 */
export function fileText(p: { data: Uint8Array; mediaType: string }): string | undefined {
  if (!p.mediaType.startsWith("text/")) return undefined;
  let text = decoded.get(p.data);
  if (text === undefined) decoded.set(p.data, (text = (utf8 ??= new TextDecoder("utf-8", { fatal: true })).decode(p.data)));
  return text;
}

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text exactly as the model produced it. */
  arguments: string;
  /** Opaque provider state to replay (Gemini thoughtSignature). */
  signature?: string;
}

/**
 * A reasoning block replayed with the conversation: Anthropic requires an assistant turn's thinking
 * blocks back unmodified, signature included, when it thinks across a tool loop. Providers
 * without such state ignore them.
 */
export interface ReasoningBlock {
  /** The reasoning text (empty for a redacted block). */
  text: string;
  /** Opaque provider state that authenticates the block (Anthropic's thinking signature). */
  signature?: string;
  /** A block the provider returned encrypted (Anthropic redacted_thinking): its data, replayed as is. */
  redacted?: string;
}

export interface ChatMessage {
  role: Role;
  content: ContentPart[];
  /** For role "assistant": its reasoning blocks, sent before its content by providers that replay them. */
  reasoningBlocks?: ReasoningBlock[];
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
  /** A prompt-cache breakpoint after the tool definitions up to this one (Anthropic cache_control). */
  cache?: CacheHint;
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

/**
 * A request parameter as callers name it (ChatRequest's field names, which the /v1 endpoint
 * shares): what parameter rules and adjustments talk about.
 */
export type ParamName =
  | "temperature"
  | "top_p"
  | "max_output_tokens"
  | "stop"
  | "seed"
  | "presence_penalty"
  | "frequency_penalty"
  | "tools"
  | "tool_choice"
  | "parallel_tool_calls"
  | "response_format"
  | "reasoning_effort"
  | "logprobs"
  | "logit_bias"
  | "user";

/** Why a model (or an api-version) rejects a parameter, and the values it still takes. */
export interface ParamRule {
  /** Said in the adjustment: "o3 accepts only the default (1)". */
  why: string;
  /** A numeric value inside this range is still accepted (the API's default, e.g. temperature 1). */
  keepIf?: { min?: number; max?: number };
  /** response_format only: the types still accepted ("json_object" on an api-version before json_schema). */
  keepTypes?: ResponseFormat["type"][];
}

/**
 * What one deployment's model accepts and how it wants it said: resolved once at config load from
 * the catalog's parameter rules (src/config/model-params.ts). The router drops what the model
 * rejects and reports it; adapters read the rest to shape the body.
 */
export interface ModelParams {
  /** Which rules apply, for operators: "openai reasoning model o3; azure api-version 2024-06-01". */
  source: string;
  /** Parameters rejected outright (or outside keepIf): dropped and reported, refused under strict_params. */
  rejects: Partial<Record<ParamName, ParamRule>>;
  /** Parameters rejected while the model thinks (Anthropic: temperature other than 1, top_p below 0.95). */
  rejectsWhileThinking?: Partial<Record<ParamName, ParamRule>>;
  /** temperature and top_p cannot both be sent (Claude 4.5 and later): top_p is dropped. */
  samplingExclusive?: boolean;
  /** Reasoning efforts the model takes; another effort goes to the nearest one (reported). Absent: all. */
  efforts?: ReasoningEffort[];
  /** Chat Completions field for the output limit; absent: the connection's. */
  maxTokensField?: "max_completion_tokens" | "max_tokens";
  /** Anthropic thinking: manual (`enabled` + budget_tokens) or adaptive (steered by `output_config.effort`). */
  thinking?: "manual" | "adaptive";
  /**
   * Gemini thinking: a token budget (`thinkingBudget`, 2.5 models) or a level (`thinkingLevel`,
   * Gemini 3). Models that do not think reject reasoning_effort instead.
   */
  thinkingControl?: "budget" | "level";
  /**
   * Output formats the model has no native form for: asked for with an instruction in the system
   * prompt (Anthropic: json_object always, json_schema without structured outputs). Reported as a
   * note, never refused.
   */
  jsonByInstruction?: ResponseFormat["type"][];
  /** Content-part cache hints are sent (Anthropic cache_control), at most this many per request. */
  cacheBreakpoints?: number;
  /**
   * The deployment's `prompt_cache: auto`: a request with no cache hints of its own gets them
   * after its system prompt and its last message (fit-params.ts).
   */
  autoCache?: boolean;
  /** The model's own output maximum: sent when the provider requires a limit and the caller set none. */
  maxOutputTokens: number;
}

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
  /** Sample from the k most likely tokens: sent to Anthropic deployments only (without thinking), others ignore it. */
  topK?: number;
  maxOutputTokens?: number;
  stop?: string[];
  seed?: number;
  responseFormat?: ResponseFormat;
  presencePenalty?: number;
  frequencyPenalty?: number;
  reasoningEffort?: ReasoningEffort;
  /** Return each output token's log probability (OpenAI's `logprobs`). */
  logprobs?: boolean;
  /** With logprobs: the most likely alternatives per position, 0..20 (OpenAI's `top_logprobs`). */
  topLogprobs?: number;
  /** Token id (in the model's tokenizer, as a decimal string) → bias from -100 to 100 (OpenAI's `logit_bias`). */
  logitBias?: Record<string, number>;
  /**
   * An exact thinking budget in tokens (Anthropic's `budget_tokens`), alongside reasoningEffort
   * (its nearest effort, for providers that take efforts). Only used while reasoningEffort is set.
   */
  thinkingBudget?: number;
  /** Anthropic beta features the caller asked for (the `anthropic-beta` header): only Anthropic deployments send them. */
  anthropicBeta?: string[];
  /** End-user id for the provider's abuse tracking (already pseudonymous). */
  user?: string;
  /**
   * The deployment's parameter rules. The router has already dropped what they reject; adapters
   * read them for how to say the rest (field names, thinking form). Absent: the provider's defaults.
   */
  params?: ModelParams;
}

/** Token counts normalised to one meaning (see proto signalbox.v1.Usage). */
export interface Usage {
  /** All prompt tokens, including cache reads and writes. */
  inputTokens: number;
  /** All generated tokens, including reasoning. */
  outputTokens: number;
  cachedInputTokens: number;
  /** All cache writes (5-minute and 1-hour). */
  cacheWriteTokens: number;
  /** Of cacheWriteTokens, those written for 1 hour (Anthropic), billed at their own price; absent: 0. */
  cacheWrite1hTokens?: number;
  reasoningTokens: number;
  /** Of inputTokens, the input images' tokens of an image edit (GPT Image), billed at the image-input price; absent: 0. */
  imageInputTokens?: number;
  /** Of inputTokens, uncached audio tokens (the Realtime API), billed at the audio-input price; absent: 0. */
  audioInputTokens?: number;
  /** Of outputTokens, audio tokens (the Realtime API), billed at the audio-output price; absent: 0. */
  audioOutputTokens?: number;
  /** Provider-reported cost in USD, when the provider gives one (OpenRouter). */
  providerCostUsd?: number;
  /**
   * Searches billed (Cohere rerank: one per query and up to 100 documents, more for longer
   * documents); the deployment's per-request fee is charged per search. Absent: one.
   */
  searchUnits?: number;
  /**
   * Images generated, with the size and quality they were asked for: each is billed at the
   * deployment's per-image price for that size and quality (on top of any tokens). Absent: none.
   */
  images?: { count: number; size?: string; quality?: string };
  /** Seconds of audio transcribed, for models billed by duration (whisper-1). Absent: none. */
  audioSeconds?: number;
  /** Characters of text read aloud, for speech models billed per character (tts-1). Absent: none. */
  characters?: number;
  /** Pages of a document processed (OCR), each billed at the deployment's per-page price. Absent: none. */
  pages?: number;
  /** Of those pages, the ones annotated (a document or bbox annotation asked for), each billed at the per-annotated-page price too. Absent: none. */
  annotatedPages?: number;
}

/** One output token with its log probability; `top` holds the most likely alternatives at its position. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  /** UTF-8 bytes of the token, when the provider gives them. */
  bytes?: number[];
  top: { token: string; logprob: number; bytes?: number[] }[];
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "error" | "other";

/** A whole (unary) answer. */
export interface ChatResult {
  id: string;
  /** The model version the provider reports. */
  model: string;
  text: string;
  reasoning?: string;
  /** The reasoning as the provider's blocks, when it has replay state (signatures, redacted blocks). */
  reasoningBlocks?: ReasoningBlock[];
  refusal?: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  rawFinishReason: string;
  usage?: Usage;
  /** With request.logprobs, when the provider returned them: the text's tokens, in order. */
  logprobs?: TokenLogprob[];
}

/**
 * Provider-neutral stream events. Errors are never events: a stream fails by throwing a
 * ProviderError from its iterator, which is what ends the RPC with its code.
 */
export type StreamEvent =
  | { type: "start"; id?: string; model?: string }
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  /** Closes the current reasoning block with its replay state (Anthropic's thinking signature). */
  | { type: "reasoning_signature"; signature: string }
  /** A whole reasoning block the provider sent encrypted (Anthropic redacted_thinking). */
  | { type: "reasoning_redacted"; data: string }
  | { type: "refusal"; text: string }
  | { type: "tool_call_start"; index: number; id: string; name: string; signature?: string }
  | { type: "tool_call_delta"; index: number; argumentsDelta: string }
  /** Log probabilities of the text just sent (after its text event); never content on its own. */
  | { type: "logprobs"; content: TokenLogprob[] }
  | { type: "finish"; finishReason: FinishReason; rawFinishReason: string }
  /**
   * Usage as soon as the provider reports it (Anthropic message_start and message_delta, each
   * Gemini chunk's cumulative usageMetadata, OpenAI's usage chunk); the latest one is what the
   * attempt is billed on, even when the stream then breaks. `outputPending`: the output count is
   * only what was generated when it was reported (Anthropic's message_start), its final value
   * comes later; a stream cut before then has its output estimated from what it delivered.
   */
  | { type: "usage"; usage: Usage; outputPending?: boolean };

/** True for events that are content (the stream's commit point is the first of these sent). */
export function isContentEvent(e: StreamEvent): boolean {
  return (
    e.type === "text" ||
    e.type === "reasoning" ||
    e.type === "reasoning_signature" ||
    e.type === "reasoning_redacted" ||
    e.type === "refusal" ||
    e.type === "tool_call_start" ||
    e.type === "tool_call_delta"
  );
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
  /** Usage the failed response reported (a 200 carrying an error and usage): the attempt is billed on it. */
  usage?: Usage;
  /** The request never reached the provider (connect timeout): there is nothing to bill. */
  unsent?: boolean;
  /** The request field the provider said its refusal is about (OpenAI's `param`). */
  param?: string;
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
  /** Usage the failed response reported; set by whoever parsed it (adapters, stream translators). */
  usage?: Usage;
  readonly unsent?: boolean;
  readonly param?: string;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ProviderError";
    this.kind = init.kind;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.providerCode = init.providerCode;
    this.requestId = init.requestId;
    this.retryable = init.retryable;
    this.usage = init.usage;
    this.unsent = init.unsent;
    this.param = init.param;
  }
}

/** An embeddings request as the router hands it to one deployment (model: the pinned upstream model). */
export interface EmbedRequest {
  model: string;
  /** The texts to embed, in order; never empty. */
  inputs: string[];
  /** Output dimensions, for models that can shorten their vectors (OpenAI text-embedding-3, Gemini). */
  dimensions?: number;
  /** End-user id for the provider's abuse tracking (already pseudonymous). */
  user?: string;
  /** What the vectors are for, for providers that take it (Gemini taskType, Cohere input_type). */
  inputType?: "query" | "document";
}

/** An embeddings answer: one vector per input, in input order. */
export interface EmbedResult {
  model: string;
  embeddings: Float32Array[];
  /** Prompt tokens billed (absent when the provider does not report them: the gateway estimates). */
  usage?: { inputTokens: number; providerCostUsd?: number };
}

/** A rerank request as the router hands it to one deployment (model: the pinned upstream model). */
export interface RerankRequest {
  model: string;
  /** What the documents are ranked against. */
  query: string;
  /** The documents, as text, in the caller's order; never empty. */
  documents: string[];
  /** How many of the best to return; absent: all of them. */
  topN?: number;
  /** The longest a document may be, in tokens, before the provider truncates it (Cohere's max_tokens_per_doc). */
  maxTokensPerDoc?: number;
}

/** A rerank answer: the documents ranked, best first. */
export interface RerankResult {
  /** The model version the provider reported (empty: the pinned one). */
  model: string;
  /** Each ranked document's position in the request's documents and its relevance score (higher is more relevant), best first. */
  results: { index: number; score: number }[];
  /**
   * What the provider billed: tokens (Jina, vLLM, Voyage, TEI), searches (Cohere) or both.
   * Absent: the gateway estimates the tokens of the query and documents sent.
   */
  usage?: { inputTokens?: number; searchUnits?: number; providerCostUsd?: number };
}

/** An image generation request (OpenAI's /images/generations, in domain terms). */
export interface ImageRequest {
  model: string;
  prompt: string;
  /** How many images, 1..10. */
  n: number;
  /** "1024x1024", "1536x1024", … or "auto"; absent: the model's default. */
  size?: string;
  /** GPT Image: low, medium, high, auto; DALL·E 3: standard, hd. */
  quality?: string;
  /** DALL·E 3: vivid or natural. */
  style?: string;
  /** GPT Image: transparent, opaque or auto. */
  background?: string;
  /** GPT Image: png, jpeg or webp. */
  outputFormat?: string;
  /** GPT Image with jpeg or webp: 0..100. */
  outputCompression?: number;
  /** GPT Image generations: the provider's content moderation level, low or auto. */
  moderation?: string;
  /** DALL·E: a URL (the provider hosts the image for a while) or the bytes (base64); GPT Image always returns bytes. */
  responseFormat?: "url" | "b64_json";
  user?: string;
  /**
   * An edit (`/images/edits`): the images to start from (GPT Image takes up to 16, DALL·E 2 one
   * square PNG; Gemini's image models take them as parts of the prompt). Absent: a generation.
   */
  images?: InputImage[];
  /** An edit's mask: a PNG whose fully transparent areas are where the first image is edited. */
  mask?: InputImage;
  /** GPT Image edits: how closely the input images' details are kept, high or low. */
  inputFidelity?: string;
}

/** An image sent upstream: its bytes, a file name and a media type. */
export interface InputImage {
  bytes: Uint8Array;
  filename: string;
  mediaType: string;
}

/** One generated image: its bytes (base64) or where the provider hosts it. */
export interface GeneratedImage {
  b64?: string;
  url?: string;
  /** The prompt the model used, when it rewrote it (DALL·E 3). */
  revisedPrompt?: string;
}

/** An image generation answer. */
export interface ImageResult {
  /** The model version the provider reported (empty: the pinned one). */
  model: string;
  created?: number;
  images: GeneratedImage[];
  /** What the provider reports of the images made (GPT Image). */
  size?: string;
  quality?: string;
  background?: string;
  outputFormat?: string;
  /** Tokens, when the provider bills them (GPT Image); absent: the images are billed per image. */
  usage?: { inputTokens: number; outputTokens: number; imageInputTokens?: number };
}

/** A transcription (or translation) request (OpenAI's /audio/transcriptions and /audio/translations). */
export interface TranscriptionRequest {
  model: string;
  /** The recording. */
  audio: Uint8Array;
  /** Its file name (the provider reads the format from the extension) and media type. */
  filename: string;
  mediaType: string;
  /** Translate into English (whisper-1) instead of transcribing. */
  translate?: boolean;
  /** ISO-639-1; absent: detected. */
  language?: string;
  prompt?: string;
  temperature?: number;
  /** "segment" and/or "word": segments (and words) with their times are wanted. */
  timestamps?: ("segment" | "word")[];
}

/** A stretch of a transcript, seconds from the start of the recording. */
export interface TranscriptSpan {
  start: number;
  end: number;
  text: string;
}

export interface TranscriptionResult {
  /** The model version the provider reported (empty: the pinned one). */
  model: string;
  text: string;
  language?: string;
  /** The recording's length in seconds, when the provider says. */
  durationSeconds?: number;
  segments?: TranscriptSpan[];
  words?: TranscriptSpan[];
  /** What the provider billed: tokens (GPT-4o transcription models) or seconds of audio (whisper-1). */
  usage?: { inputTokens: number; outputTokens: number } | { seconds: number };
}

/**
 * A transcript as it is made (GPT-4o transcription models over SSE): text deltas, then `result()`
 * (the whole text and the usage) once the deltas are done.
 */
export interface TranscriptionStream {
  model: string;
  deltas: AsyncIterable<string>;
  result(): TranscriptionResult | undefined;
}

/** Turns a streamed transcription's body into text deltas, keeping the final event's text and usage. */
export interface TranscriptionDecoder {
  push(chunk: Uint8Array): string[];
  end(): string[];
  result(): TranscriptionResult | undefined;
}

/** A text-to-speech request (OpenAI's /audio/speech). */
export interface SpeechRequest {
  model: string;
  input: string;
  /** A built-in voice's name or a custom voice's id. */
  voice: string;
  /** mp3, opus, aac, flac, wav or pcm. */
  format: SpeechFormat;
  speed?: number;
  instructions?: string;
}
export type SpeechFormat = "mp3" | "opus" | "aac" | "flac" | "wav" | "pcm";

export interface SpeechResult {
  model: string;
  audio: Uint8Array;
  mediaType: string;
  /** Tokens, when the provider reports them (gpt-4o-mini-tts over SSE); absent: billed per character. */
  usage?: { inputTokens: number; outputTokens: number };
}

/**
 * Speech as it is made: the provider has answered (2xx), and the audio follows in chunks (one per
 * upstream read, or per SSE delta). `usage()` is read after the last chunk (gpt-4o-mini-tts reports
 * its tokens in its last event).
 */
export interface SpeechStream {
  model: string;
  mediaType: string;
  chunks: AsyncIterable<Uint8Array>;
  usage(): SpeechResult["usage"];
}

/** Turns a speech response body into audio chunks: the bytes as they come, or an SSE stream's deltas decoded. */
export interface SpeechDecoder {
  push(chunk: Uint8Array): Uint8Array[];
  end(): Uint8Array[];
  usage(): SpeechResult["usage"];
}

/** A moderation request (OpenAI's /moderations): texts, and images classified with them (omni models). */
export interface ModerationRequest {
  model: string;
  inputs: string[];
  /** Image URLs (https or data URLs): with any, the provider answers one result for everything. */
  imageUrls?: string[];
}

/**
 * A web search (the search operation) as the router hands it to one deployment: the model is the
 * engine's mode (Exa's search type, Tavily's depth, Perplexity's "search").
 */
export interface SearchRequest {
  model: string;
  /** What to search for: one query, or several (each searched, their results in order). */
  queries: string[];
  /** Results per query (1–20). */
  maxResults: number;
  /** Only pages on these domains (and their subdomains); never with blockedDomains. */
  allowedDomains?: string[];
  blockedDomains?: string[];
  /** ISO 3166-1 alpha-2: results for users in that country. */
  country?: string;
  /** Pages published within this range (RFC 3339 instants). */
  publishedAfter?: string;
  publishedBefore?: string;
  /** Each result's text is cut to this many characters. */
  maxCharacters: number;
  /** Each engine's own parameters, by provider type (`engine_options`): sent to that engine only, as they are. */
  engineOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** One page a search found. */
export interface SearchHit {
  title: string;
  url: string;
  /** The page's text as the engine extracted it (at most maxCharacters). */
  snippet: string;
  /** When it was published (YYYY-MM-DD), when the engine says. */
  published?: string;
  /** When it was last updated (YYYY-MM-DD), when the engine says. */
  updated?: string;
  /** Which of the request's queries found it (its index; absent: the first). */
  query?: number;
}

export interface SearchResult {
  /** The engine's mode as it reported it (empty: the pinned one). */
  model: string;
  /** Every query's results, in query order. */
  results: SearchHit[];
  /** What the engine billed: searches (Tavily's advanced depth counts two credits as one search here: its price says so) and its own reported cost (Exa). */
  usage?: { searchUnits?: number; providerCostUsd?: number };
}

/**
 * A document's OCR (the ocr operation) as the router hands it to one deployment: its bytes and
 * media type, or a URL the provider fetches (the gateway never does).
 */
export interface OcrRequest {
  model: string;
  document: { data: Uint8Array; mediaType: string } | { url: string };
  documentName?: string;
  /** Only these pages (from 0). */
  pages?: number[];
  includeImageBase64?: boolean;
  imageLimit?: number;
  imageMinSize?: number;
  tableFormat?: "markdown" | "html";
  extractHeader?: boolean;
  extractFooter?: boolean;
  /** Structured extraction over the whole document (Mistral's document annotation): JSON matching the schema, guided by the prompt. */
  documentAnnotation?: { name: string; schema: JsonObject; strict?: boolean; prompt?: string };
  /** Structured extraction over each image found (Mistral's bbox annotation). */
  bboxAnnotation?: { name: string; schema: JsonObject; strict?: boolean };
}

/** An image found on a page, by its bounding box (pixels). */
export interface OcrImage {
  id: string;
  topLeftX: number;
  topLeftY: number;
  bottomRightX: number;
  bottomRightY: number;
  /** With includeImageBase64: the image as a data URL. */
  imageBase64?: string;
  /** With a bbox annotation: the image's JSON. */
  imageAnnotation?: string;
}

/** One processed page. */
export interface OcrPage {
  index: number;
  markdown: string;
  images: OcrImage[];
  tables?: { id: string; content: string; format: string }[];
  hyperlinks?: string[];
  header?: string;
  footer?: string;
  dimensions?: { dpi: number; width: number; height: number };
}

export interface OcrResult {
  /** The model as the provider reported it (empty: the pinned one). */
  model: string;
  pages: OcrPage[];
  /** Pages the provider billed (absent: the pages returned). */
  pagesProcessed?: number;
  /** Pages the provider billed as annotated (Mistral's usage_info.pages_processed_annotation; absent with an annotation asked for: every page processed). */
  pagesAnnotated?: number;
  documentSizeBytes?: number;
  /** With a document annotation: its JSON, as text. */
  documentAnnotation?: string;
}

/** How one input was classified: each category's verdict and score. */
export interface ModerationVerdict {
  flagged: boolean;
  categories: Record<string, boolean>;
  scores: Record<string, number>;
  /** Omni models: which input types (text, image) each category was judged on. */
  appliedInputTypes?: Record<string, string[]>;
}

export interface ModerationResult {
  model: string;
  results: ModerationVerdict[];
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
  /** Embeddings; absent when the provider type has none. */
  embed?(req: EmbedRequest, signal: AbortSignal): Promise<EmbedResult>;
  /** Rerank; absent when the provider type has none. */
  rerank?(req: RerankRequest, signal: AbortSignal): Promise<RerankResult>;
  /** Image generation; absent when the provider type has none. */
  generateImages?(req: ImageRequest, signal: AbortSignal): Promise<ImageResult>;
  /** Speech to text; absent when the provider type has none. */
  transcribe?(req: TranscriptionRequest, signal: AbortSignal): Promise<TranscriptionResult>;
  /** Speech to text as it is made: resolves once the provider answered, or undefined when this model does not stream (transcribe() then). */
  transcribeStream?(req: TranscriptionRequest, signal: AbortSignal): Promise<TranscriptionStream | undefined>;
  /** Text to speech, streamed: resolves once the provider has answered; absent when the provider type has none. */
  speak?(req: SpeechRequest, signal: AbortSignal): Promise<SpeechStream>;
  /** Moderation; absent when the provider type has none. */
  moderate?(req: ModerationRequest, signal: AbortSignal): Promise<ModerationResult>;
  /** Web search; absent when the provider type has none. */
  search?(req: SearchRequest, signal: AbortSignal): Promise<SearchResult>;
  /** OCR; absent when the provider type has none. */
  ocr?(req: OcrRequest, signal: AbortSignal): Promise<OcrResult>;
}

/** A fully built upstream HTTP request, produced by an adapter. */
export interface HttpRequestSpec {
  /** The adapters send POST and GET; the pass-through any of these. */
  method: "POST" | "GET" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  /** Path and query, appended to the connection's base URL (which may itself carry a path). */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** A binary body instead (a multipart upload); sent as is, `body` ignored. */
  bytes?: Uint8Array;
  /** A body sent as it is read (the pass-through's uploads); `body` and `bytes` ignored. */
  stream?: Readable;
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

/**
 * Frames an upstream stream body into events. The default is the SSE parser; Bedrock's binary
 * `application/vnd.amazon.eventstream` decodes each message to { event: its :event-type (or
 * :exception-type), data: its payload as text }.
 */
export interface StreamDecoder {
  /** Events completed by this network read (possibly none). */
  push(chunk: Uint8Array): SseEvent[];
  /** The body ended: events still buffered (a trailing partial frame is dropped or throws). */
  end(): SseEvent[];
}

/** What an adapter's `authorize` hook is given. */
export interface AuthorizeContext {
  /** The connection's base URL (origin and path prefix) the spec's path is appended to. */
  baseUrl: string;
  signal: AbortSignal;
}

/** The pure half of an HTTP provider: translation only, no I/O, no state across requests. */
export interface ProviderAdapter {
  buildRequest(req: UpstreamRequest, stream: boolean): HttpRequestSpec;
  /**
   * Optional: credentials that depend on the final request or need I/O (AWS SigV4 signs the
   * method, URL, headers and body hash; Vertex needs an OAuth access token from a cache that
   * refreshes it). Runs just before each send; a failure to obtain credentials throws a
   * ProviderError of kind "upstream_auth" (never containing the secret).
   */
  authorize?(spec: HttpRequestSpec, ctx: AuthorizeContext): Promise<HttpRequestSpec>;
  /** Optional: a stream framing other than SSE (Bedrock's event stream). */
  streamDecoder?(): StreamDecoder;
  /** Embeddings (both or neither): the upstream request, and the parse of its 2xx body. Errors go through classifyError. */
  buildEmbedRequest?(req: EmbedRequest): HttpRequestSpec;
  /** `headers`: the response's (Bedrock reports Cohere's token count only in a header). */
  parseEmbedResponse?(body: string, req: EmbedRequest, headers?: Record<string, string | string[] | undefined>): EmbedResult;
  /**
   * Optional: the most inputs one upstream call takes for this model (Titan 1, Cohere 96, Gemini's
   * batchEmbedContents 100, gemini-embedding-001 on Vertex 1). A larger batch is sent as several
   * calls, concurrently, and merged in order; usage is summed. Absent: no limit.
   */
  embedBatchLimit?(model: string): number;
  /** Rerank (both or neither): the upstream request, and the parse of its 2xx body. Errors go through classifyError. */
  buildRerankRequest?(req: RerankRequest): HttpRequestSpec;
  parseRerankResponse?(body: string, req: RerankRequest, headers?: Record<string, string | string[] | undefined>): RerankResult;
  /** Image generation (both or neither): the upstream request, and the parse of its 2xx body. Errors go through classifyError. */
  buildImageRequest?(req: ImageRequest): HttpRequestSpec;
  parseImageResponse?(body: string, req: ImageRequest): ImageResult;
  /** Optional: the most images one call makes (Gemini's image models: 1); more are asked for in several calls, concurrently. Absent: no limit. */
  imagesPerCall?(model: string): number;
  /** Speech to text (both or neither): the upstream request, and the parse of its 2xx body. */
  buildTranscriptionRequest?(req: TranscriptionRequest): HttpRequestSpec;
  parseTranscriptionResponse?(body: string, req: TranscriptionRequest): TranscriptionResult;
  /** Optional: the streamed transcription request, undefined when the model does not stream; and its decoder. */
  buildTranscriptionStreamRequest?(req: TranscriptionRequest): HttpRequestSpec | undefined;
  transcriptionDecoder?(): TranscriptionDecoder;
  /** Text to speech (both or neither): the upstream request, and a decoder of its 2xx body (bytes: audio, or an SSE stream of it). */
  buildSpeechRequest?(req: SpeechRequest): HttpRequestSpec;
  speechDecoder?(req: SpeechRequest, headers: Record<string, string | string[] | undefined>): SpeechDecoder & { mediaType: string };
  /** Moderation (both or neither): the upstream request, and the parse of its 2xx body. */
  buildModerationRequest?(req: ModerationRequest): HttpRequestSpec;
  parseModerationResponse?(body: string, req: ModerationRequest): ModerationResult;
  /** Web search (both or neither): one upstream request per query, and the parse of its 2xx body. */
  buildSearchRequest?(req: SearchRequest, query: string): HttpRequestSpec;
  parseSearchResponse?(body: string, req: SearchRequest): SearchResult;
  /** OCR (both or neither): the upstream request, and the parse of its 2xx body. */
  buildOcrRequest?(req: OcrRequest): HttpRequestSpec;
  parseOcrResponse?(body: string, req: OcrRequest): OcrResult;
  /** Parse a 2xx body. Throws ProviderError for errors carried inside a 200. */
  parseResponse(body: string, headers: Record<string, string | string[] | undefined>): ChatResult;
  /** A translator for one streamed response. */
  streamTranslator(): StreamTranslator;
  /** Classify a non-2xx response. */
  classifyError(status: number, body: string, headers: Record<string, string | string[] | undefined>): ProviderError;
}
