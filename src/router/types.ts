// The router's vocabulary: a chat call as the router sees it, the plan it computes, and the
// outcome of executing that plan (attempts, usage, cost).

import type { FileSearchRequest } from "../vectors/types.ts";
import type { Capability, DeploymentConfig, KeyConfig, Operation, ProviderConfig, Task } from "../config/types.ts";
import type { EmbedRequest, FailureKind, ImageRequest, ModerationRequest, OcrRequest, RerankRequest, SearchRequest, SpeechRequest, TranscriptionRequest, FinishReason, ReasoningBlock, TokenLogprob, ToolCall, UpstreamRequest, Usage } from "../providers/types.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { RealtimeOffer } from "../providers/realtime.ts";

/** Who is calling (resolved from the caller's key; anonymous when auth is off). */
import type { WebSearchRequest } from "../engine/web-search.ts";

export interface Caller {
  keyName: string;
  team: string;
  role: "admin" | "team" | "service" | "anonymous";
  /** Routes, aliases or deployments the key may use; empty = all. */
  allow: string[];
  maxOutputTokens?: number;
  /** The key's configuration (limits, budget); absent when auth is off. */
  key?: KeyConfig;
}

export interface CallTimeouts {
  firstTokenMs?: number;
  idleMs?: number;
  attemptMs?: number;
  totalMs?: number;
}

export interface RoutingRequest {
  fallbacks: string[];
  noFallback: boolean;
  task?: Task;
  maxCostNanos?: number;
  maxLatencyMs?: number;
  requiredCapabilities: Capability[];
  stickyKey?: string;
  timeouts: CallTimeouts;
  maxAttempts?: number;
  fallbackOnContentFilter: boolean;
  hedgeAfterMs?: number;
  /** Which providers may serve the request and in what order (OpenRouter's `provider` object). */
  providers?: ProviderPreferences;
  /** OpenRouter's middle-out transform: a prompt too long for a deployment loses its middle instead of the deployment (src/router/middle-out.ts). */
  middleOut?: boolean;
  /** Retries of each candidate, instead of the route's: how many, and (optionally) which upstream HTTP statuses are retried. */
  retry?: { attempts: number; onStatusCodes?: number[] };
  /** Fall back only after an upstream answer with one of these HTTP statuses (or a failure with none: network, timeout), instead of by the route's policy. */
  fallbackOnStatusCodes?: number[];
}

/**
 * OpenRouter's provider preferences (src/router/provider-preferences.ts). Providers are named by
 * their configured name, their type or OpenRouter's slug for the type, case-insensitively.
 */
export interface ProviderPreferences {
  /** Providers tried first, in this order. */
  order: string[];
  only: string[];
  ignore: string[];
  /** false: only the providers in `order` (without one, the first candidate's provider). */
  allowFallbacks: boolean;
  sort?: "price" | "throughput" | "latency";
  /** Prices in USD: per million prompt and completion tokens, per request, per image. */
  maxPrice?: { prompt?: number; completion?: number; request?: number; image?: number };
  /** Only deployments that accept every parameter of the request. */
  requireParameters: boolean;
  /** "deny": only providers whose data policy says they do not collect prompts. */
  dataCollection: "allow" | "deny";
  /** Only providers with a zero-retention data policy. */
  zdr: boolean;
  /** The request field the preferences came from ("provider", "routing.providers"), for errors. */
  field: string;
}

export type { Operation };

/** What every call carries, whatever its operation: who, what model, how to route, attribution. */
export interface CallBase {
  /** The gateway's request id. */
  id: string;
  /** What the caller asked for: route, alias or deployment id. */
  model: string;
  routing: RoutingRequest;
  user?: string;
  tags: string[];
  metadata: Record<string, string>;
  caller: Caller;
  /**
   * Guardrails the caller asked for on top of those attached to its route, team and key, with the
   * request field that named them (errors name "guardrails[1]" or "signalbox.guardrails[1]").
   * Embeddings run only their input stage.
   */
  guardrails?: { names: string[]; field: string };
  /** Made by a mirror of this request (src/engine/mirror.ts: the copy, its judge, its embeddings): not admitted against the caller's limits nor budgets, never mirrored again. */
  mirrorOf?: string;
}

/** How a chat request's PDFs are read before it is planned (src/engine/file-parser.ts). */
export type PdfEngine = "pdf-text" | "mistral-ocr";
/** The reading, and the field that asked for it (for errors). */
export interface PdfReading {
  engine: PdfEngine;
  field: string;
}

/** A chat request after validation, in domain terms. */
export interface ChatCall extends CallBase {
  /** Absent: chat (every front door that builds chat calls predates embeddings). */
  operation?: "chat";
  /** Web results asked for before the model (src/engine/web-search.ts); absent: none. */
  webSearch?: WebSearchRequest;
  /** Passages of the gateway's vector stores asked for before the model (src/engine/file-search.ts); absent: none. */
  fileSearch?: FileSearchRequest;
  /** How its PDFs are read before it is planned (src/engine/file-parser.ts); absent: each provider gets them in its own form. */
  pdfReader?: PdfReading;
  /** Everything sent upstream except the model. */
  request: Omit<UpstreamRequest, "model">;
  stream: boolean;
}

/** An embeddings request after validation: the same routing and attribution, texts instead of messages. */
export interface EmbedCall extends CallBase {
  operation: "embeddings";
  /** Everything sent upstream except the model (each attempt sends the inputs its cache lookup left). */
  request: Omit<EmbedRequest, "model">;
}

/** A rerank request after validation: a query and the documents to order by relevance to it. */
export interface RerankCall extends CallBase {
  operation: "rerank";
  /** Everything sent upstream except the model. */
  request: Omit<RerankRequest, "model">;
}

/** An image generation request after validation: a prompt, and how many images of what kind. */
export interface ImageCall extends CallBase {
  operation: "images";
  /** Everything sent upstream except the model. */
  request: Omit<ImageRequest, "model">;
}

/** A transcription (or translation) request after validation: a recording and how to read it. */
export interface TranscriptionCall extends CallBase {
  operation: "transcription";
  request: Omit<TranscriptionRequest, "model">;
  /** The recording's length as the gateway reads it (a WAV's header, else its size at 128 kbit/s): what admission reserves for. */
  estimatedSeconds: number;
}

/** A speech request after validation: the text, the voice and the format. */
export interface SpeechCall extends CallBase {
  operation: "speech";
  request: Omit<SpeechRequest, "model">;
}

/** A search request after validation: the queries, and what results to keep. */
export interface SearchCall extends CallBase {
  operation: "search";
  request: Omit<SearchRequest, "model">;
}

/** An OCR request after validation: the document, and how many pages it is expected to bill. */
export interface OcrCall extends CallBase {
  operation: "ocr";
  request: Omit<OcrRequest, "model">;
  /** Pages admission holds the price of: the pages asked for, a PDF's page objects, one image; a URL's: one. */
  estimatedPages: number;
}

/** A moderation request after validation: the texts (and images) to classify. */
export interface ModerationCall extends CallBase {
  operation: "moderation";
  request: Omit<ModerationRequest, "model">;
}

/**
 * A Realtime API session (a WebSocket at /v1/realtime): planned and admitted once, when it opens;
 * its usage is every response the provider reports in it. The request carries nothing to plan
 * by: the session's events are the caller's and the provider's.
 */
export interface RealtimeCall extends CallBase {
  operation: "realtime";
  /** A WebRTC call's offer (none for a WebSocket session); `intent: "transcription"` for a transcription session. */
  request: { offer?: RealtimeOffer; intent?: "transcription" };
}

/** Any call the planner, admission and the usage record handle. */
export type Call = ChatCall | EmbedCall | RerankCall | ImageCall | TranscriptionCall | SpeechCall | ModerationCall | RealtimeCall | SearchCall | OcrCall;

/** A call's operation. */
export const operationOf = (c: Call): Operation => c.operation ?? "chat";

/** Whether a call is a chat call (narrows it). */
export const isChat = (c: Call): c is ChatCall => c.operation === undefined || c.operation === "chat";

export type ExclusionReason =
  | "cooling_down"
  | "context_too_small"
  | "over_budget"
  | "over_cost_cap"
  | "over_latency_cap"
  | "missing_capability"
  | "not_allowed"
  | "rate_limited"
  | "not_selected"
  | "over_attempt_limit"
  /** The deployment does not serve the call's operation (an embedding model for chat, or the reverse). */
  | "wrong_operation"
  /** Left out by the request's provider preferences (only, ignore, allow_fallbacks, data policy, require_parameters). */
  | "provider_preference";

export interface Exclusion {
  deployment: string;
  reason: ExclusionReason;
  detail: string;
  /** Epoch ms, for cooldowns. */
  until?: number;
}

export interface Candidate {
  deployment: DeploymentConfig;
  provider: ProviderConfig;
  reason: string;
  source: "route" | "direct" | "request fallbacks" | "route fallbacks";
  score: number;
  expectedCostNanos: number;
  /** Of that, what is billed besides tokens (images, seconds of audio, characters read); absent: none. */
  unitCostNanos?: number;
  /** Prompt tokens by this deployment's tokenizer (exact for OpenAI models, calibrated otherwise). */
  estimatedInputTokens: number;
  /** Output tokens planned for: max_output_tokens when set, else the deployment's recent p95 (or its default). */
  expectedOutputTokens: number;
  ttftEstimateMs?: number;
  latencyEstimateMs?: number;
  /** What this deployment is sent: the request with the plan's output cap, fitted to its model's parameter rules. */
  request: Omit<UpstreamRequest, "model">;
  /** What fitting changed (parameters the model does not accept, notes), on top of the plan's adjustments. */
  adjustments: Adjustment[];
}

export interface Adjustment {
  field: string;
  detail: string;
}

export interface RoutingInfo {
  route: string;
  alias: string;
  strategy: string;
  variant: string;
}

export interface Plan {
  routing: RoutingInfo;
  candidates: Candidate[];
  excluded: Exclusion[];
  /** The largest candidate's estimatedInputTokens. */
  estimatedInputTokens: number;
  noFallback: boolean;
  maxAttempts: number;
  hedgeAfterMs: number;
  fallbackOnContentFilter: boolean;
  timeouts: Required<CallTimeouts>;
  retry: { maxRetries: number; baseDelayMs: number; maxDelayMs: number; maxRetryAfterMs: number; retryOn?: readonly FailureKind[]; onStatusCodes?: readonly number[] };
  /** The request's fallback statuses (RoutingRequest.fallbackOnStatusCodes): only these move on to the next candidate. */
  fallbackOnStatusCodes?: readonly number[];
  /** max_output_tokens after key and route caps. */
  maxOutputTokens?: number;
  /** What the request is expected to pay besides its tokens and units (a web search's price), held by admission with them. */
  feeNanos?: number;
  adjustments: Adjustment[];
  /** What the plan is for. */
  operation: Operation;
  /**
   * The route or deployment a route's conditions or task routes picked (the route's own name when
   * they picked its own targets); absent when nothing dispatched. Part of the cache key: answers
   * of one picked model never serve a request another condition sends elsewhere.
   */
  picked?: string;
}

export type AttemptOutcome = "succeeded" | "failed" | "canceled";

/**
 * Where an attempt's billed token counts come from: the provider's own report, or the gateway's
 * estimate of what the provider did not report (a stream cut before its usage, a timed-out attempt).
 */
export interface UsageSource {
  /** The prompt counts: input, cached input, cache writes. */
  input: "reported" | "estimated";
  /** The generated counts: output, reasoning. */
  output: "reported" | "estimated";
}

export interface AttemptRecord {
  number: number;
  deployment: string;
  provider: string;
  model: string;
  outcome: AttemptOutcome;
  failureKind?: FailureKind;
  errorMessage?: string;
  httpStatus?: number;
  latencyMs: number;
  ttftMs?: number;
  retryAfterMs?: number;
  reason: string;
  hedged: boolean;
  usage: Usage;
  /** Which of `usage`'s figures were reported and which estimated; absent when the attempt billed nothing. */
  usageSource?: UsageSource;
  cost: CostBreakdown;
  startTime: number;
}

/** What a finished (or failed) request amounts to; the basis of responses and usage records. */
export interface CallSummary {
  deployment?: Candidate;
  providerModel: string;
  attempts: AttemptRecord[];
  usage: Usage;
  cost: CostBreakdown;
  ttftMs?: number;
  latencyMs: number;
  overheadUs: number;
  finishReason?: FinishReason;
  rawFinishReason?: string;
}

/** A whole unary answer. */
export interface ChatOutcome extends CallSummary {
  id: string;
  text: string;
  reasoning?: string;
  reasoningBlocks?: ReasoningBlock[];
  refusal?: string;
  toolCalls: ToolCall[];
  logprobs?: TokenLogprob[];
}
