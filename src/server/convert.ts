// Maps the wire (generated protobuf messages) to the domain and back. No decisions here: only
// shapes.

import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ChatResponseSchema,
  FinishReason as PbFinishReason,
  ImageDetail,
  ReasoningEffort as PbEffort,
  ResponseFormat_Type,
  Role as PbRole,
  Task as PbTask,
  ToolChoiceMode,
  type ChatRequest,
  type ChatResponse,
  type ChatEvent,
  ChatEventSchema,
  type RoutingOptions,
  type ProviderPreferences as PbProviderPreferences,
  ProviderSort,
  DataCollection,
  PdfReader,
} from "../../gen/signalbox/v1/chat_pb.ts";
import { finishPreferences } from "../router/provider-preferences.ts";
import { EmbeddingInputType, type EmbedRequest } from "../../gen/signalbox/v1/embedding_pb.ts";
import type { RerankRequest } from "../../gen/signalbox/v1/rerank_pb.ts";
import type { GenerateImagesRequest, InputImage as PbInputImage } from "../../gen/signalbox/v1/image_pb.ts";
import { sniffImageType, validateCall } from "./validate.ts";
import { applyPrompt, findPrompt, pickVersion, renderPrompt, validatePrompted, type PromptLibrary } from "../control/prompts.ts";
import { GatewayError } from "../router/errors.ts";
import { pdfPageCount } from "../providers/tokens.ts";
import type { PdfEngine } from "../router/types.ts";
import type { SpeakRequest, TranscribeRequest } from "../../gen/signalbox/v1/audio_pb.ts";
import type { ModerateRequest } from "../../gen/signalbox/v1/moderation_pb.ts";
import { audioMediaType, estimateAudioSeconds } from "../engine/audio.ts";
import {
  AttemptOutcome,
  AttemptSchema,
  Capability as PbCapability,
  CostSchema,
  FailureKind as PbFailureKind,
  UsageSchema,
  type Attempt,
  type Cost,
  type Usage as PbUsage,
} from "../../gen/signalbox/v1/common_pb.ts";
import type { Capability, Task } from "../config/types.ts";
import type { CacheHint, ChatMessage, ContentPart, FailureKind, FinishReason, JsonObject, ReasoningEffort, Role, StreamEvent, TokenLogprob, UpstreamRequest, Usage } from "../providers/types.ts";
import type { AnswerAccount } from "../engine/account.ts";
import type { AttemptRecord, Caller, ChatCall, EmbedCall, ImageCall, RerankCall, RoutingRequest, SpeechCall, TranscriptionCall, ModerationCall, OcrCall, SearchCall } from "../router/types.ts";
import type { Answer } from "../engine/chat-engine.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { CheckOutcome } from "../state/health.ts";
import { countryCode, domainList, locationCountry, MAX_WEB_RESULTS, rangeInstant, type WebSearchRequest } from "../engine/web-search.ts";
import type { SearchRequest } from "../../gen/signalbox/v1/search_pb.ts";
import type { OcrRequest } from "../../gen/signalbox/v1/ocr_pb.ts";
import type { FileSearchRequest, FilesSearched } from "../engine/file-search.ts";
import { fileSearchRequest, parseFileSearchTool } from "../vectors/search.ts";
import { DeploymentCheckSchema, type DeploymentCheck } from "../../gen/signalbox/v1/route_pb.ts";

const ROLE: Record<number, Role> = {
  [PbRole.SYSTEM]: "system",
  [PbRole.DEVELOPER]: "developer",
  [PbRole.USER]: "user",
  [PbRole.ASSISTANT]: "assistant",
  [PbRole.TOOL]: "tool",
};
const DETAIL: Record<number, "auto" | "low" | "high" | undefined> = {
  [ImageDetail.AUTO]: "auto",
  [ImageDetail.LOW]: "low",
  [ImageDetail.HIGH]: "high",
};
const EFFORT: Record<number, ReasoningEffort | undefined> = {
  [PbEffort.MINIMAL]: "minimal",
  [PbEffort.LOW]: "low",
  [PbEffort.MEDIUM]: "medium",
  [PbEffort.HIGH]: "high",
};
export const TASK: Record<number, Task | undefined> = {
  [PbTask.CODING]: "coding",
  [PbTask.REASONING]: "reasoning",
  [PbTask.CREATIVE]: "creative",
  [PbTask.SIMPLE]: "simple",
  [PbTask.MULTIMODAL]: "multimodal",
};
export const CAPABILITY: Record<number, Capability> = {
  [PbCapability.TOOLS]: "tools",
  [PbCapability.VISION]: "vision",
  [PbCapability.JSON_MODE]: "json_mode",
  [PbCapability.JSON_SCHEMA]: "json_schema",
  [PbCapability.REASONING]: "reasoning",
  [PbCapability.STREAMING]: "streaming",
  [PbCapability.PROMPT_CACHING]: "prompt_caching",
};
export const CAPABILITY_TO_PB = Object.fromEntries(Object.entries(CAPABILITY).map(([k, v]) => [v, Number(k)])) as Record<Capability, PbCapability>;
export const TASK_TO_PB = Object.fromEntries(Object.entries(TASK).map(([k, v]) => [v, Number(k)])) as Record<Task, PbTask>;

const FINISH_TO_PB: Record<FinishReason, PbFinishReason> = {
  stop: PbFinishReason.STOP,
  length: PbFinishReason.LENGTH,
  tool_calls: PbFinishReason.TOOL_CALLS,
  content_filter: PbFinishReason.CONTENT_FILTER,
  error: PbFinishReason.ERROR,
  other: PbFinishReason.OTHER,
};

export const FAILURE_TO_PB: Record<FailureKind, PbFailureKind> = {
  rate_limited: PbFailureKind.RATE_LIMITED,
  overloaded: PbFailureKind.OVERLOADED,
  timeout: PbFailureKind.TIMEOUT,
  network: PbFailureKind.NETWORK,
  upstream_auth: PbFailureKind.UPSTREAM_AUTH,
  quota_exhausted: PbFailureKind.QUOTA_EXHAUSTED,
  model_not_found: PbFailureKind.MODEL_NOT_FOUND,
  context_length_exceeded: PbFailureKind.CONTEXT_LENGTH_EXCEEDED,
  content_filtered: PbFailureKind.CONTENT_FILTERED,
  bad_request: PbFailureKind.BAD_REQUEST,
  canceled: PbFailureKind.CANCELED,
  unknown: PbFailureKind.UNKNOWN,
  server_error: PbFailureKind.SERVER_ERROR,
  stream_interrupted: PbFailureKind.STREAM_INTERRUPTED,
  guardrail: PbFailureKind.GUARDRAIL,
};

const OUTCOME_TO_PB = { succeeded: AttemptOutcome.SUCCEEDED, failed: AttemptOutcome.FAILED, canceled: AttemptOutcome.CANCELED } as const;

/** CacheHint.Ttl → the neutral hint (unspecified: the provider's default). */
const CACHE_TTL: Record<number, CacheHint> = { 0: {}, 1: { ttl: "5m" }, 2: { ttl: "1h" } };

function messages(r: ChatRequest): ChatMessage[] {
  return r.messages.map((m) => {
    const content: ContentPart[] = m.content.map((p): ContentPart => {
      const cache = p.cache ? { cache: CACHE_TTL[p.cache.ttl] ?? {} } : {};
      if (p.part.case === "text") return { type: "text", text: p.part.value, ...cache };
      // An empty part: validation names it.
      if (p.part.case === undefined) return { type: "empty" } as unknown as ContentPart;
      if (p.part.case === "file") {
        const f = p.part.value;
        return { type: "file", data: f.data, mediaType: f.mediaType, ...(f.filename ? { filename: f.filename } : {}), ...cache };
      }
      const img = p.part.value;
      return img.source.case === "url"
        ? { type: "image", url: img.source.value, mediaType: img.mediaType || undefined, detail: DETAIL[img.detail], ...cache }
        : { type: "image", data: img.source.value as Uint8Array, mediaType: img.mediaType, detail: DETAIL[img.detail], ...cache };
    });
    const out: ChatMessage = { role: ROLE[m.role], content };
    if (m.toolCalls.length) {
      out.toolCalls = m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, ...(c.providerSignature ? { signature: c.providerSignature } : {}) }));
    }
    if (m.toolCallId) out.toolCallId = m.toolCallId;
    if (m.name) out.name = m.name;
    if (m.isError) out.isError = true;
    return out;
  });
}

/** RoutingOptions (ChatRequest's and EmbedRequest's) in the router's terms; the sticky key defaults to the user. */
function routingRequest(ro: RoutingOptions | undefined, user: string): RoutingRequest {
  const t = ro?.timeouts;
  return {
    fallbacks: ro?.fallbacks ? [...ro.fallbacks] : [],
    noFallback: ro?.noFallback ?? false,
    task: ro ? TASK[ro.task] : undefined,
    maxCostNanos: ro?.maxCostNanoUsd !== undefined ? Number(ro.maxCostNanoUsd) : undefined,
    maxLatencyMs: ro?.maxLatencyMs,
    requiredCapabilities: (ro?.requiredCapabilities ?? []).map((c) => CAPABILITY[c]).filter(Boolean),
    stickyKey: ro?.stickyKey || user || undefined,
    timeouts: { firstTokenMs: t?.firstTokenMs, idleMs: t?.idleMs, attemptMs: t?.attemptMs, totalMs: t?.totalMs },
    maxAttempts: ro?.maxAttempts || undefined,
    fallbackOnContentFilter: ro?.fallbackOnContentFilter ?? false,
    hedgeAfterMs: ro?.hedgeAfterMs || undefined,
    ...(ro?.providers ? providerPreferences(ro.providers) : {}),
    ...(ro?.middleOut ? { middleOut: true } : {}),
    ...(ro?.retry ? { retry: { attempts: ro.retry.attempts, ...(ro.retry.onStatusCodes.length ? { onStatusCodes: [...ro.retry.onStatusCodes] } : {}) } } : {}),
    ...(ro?.fallbackOnStatusCodes.length ? { fallbackOnStatusCodes: [...ro.fallbackOnStatusCodes] } : {}),
  };
}

const SORT: Record<number, "price" | "throughput" | "latency" | undefined> = {
  [ProviderSort.PRICE]: "price",
  [ProviderSort.THROUGHPUT]: "throughput",
  [ProviderSort.LATENCY]: "latency",
};

/** RoutingOptions.providers in the router's terms (nothing when it asks for nothing). */
function providerPreferences(p: PbProviderPreferences): Pick<RoutingRequest, "providers"> {
  const sort = SORT[p.sort];
  const m = p.maxPrice;
  const prefs = finishPreferences({
    order: [...p.order],
    only: [...p.only],
    ignore: [...p.ignore],
    allowFallbacks: p.allowFallbacks ?? true,
    ...(sort ? { sort } : {}),
    ...(m ? { maxPrice: { prompt: m.prompt, completion: m.completion, request: m.request, image: m.image } } : {}),
    requireParameters: p.requireParameters,
    dataCollection: p.dataCollection === DataCollection.DENY ? "deny" : "allow",
    zdr: p.zdr,
    field: "routing.providers",
  });
  return prefs ? { providers: prefs } : {};
}

/** What every operation's call carries besides its request: routing, user, tags, metadata, the caller and guardrails. */
function callerSide(r: { routing?: RoutingOptions; user: string; tags: readonly string[]; metadata: Record<string, string>; guardrails: readonly string[] }, caller: Caller) {
  return {
    routing: routingRequest(r.routing, r.user),
    user: r.user || undefined,
    tags: [...r.tags],
    metadata: { ...r.metadata },
    caller,
    ...(r.guardrails.length ? { guardrails: { names: [...r.guardrails], field: "guardrails" } } : {}),
  };
}


const INPUT_TYPE: Record<number, "query" | "document" | undefined> = {
  [EmbeddingInputType.QUERY]: "query",
  [EmbeddingInputType.DOCUMENT]: "document",
};

/** An EmbedRequest as the router's EmbedCall (validated by the caller with validateEmbedCall). */
export function toEmbedCall(r: EmbedRequest, id: string, caller: Caller): EmbedCall {
  const inputType = INPUT_TYPE[r.inputType];
  return {
    operation: "embeddings",
    id,
    model: r.model,
    request: {
      inputs: [...r.inputs],
      ...(r.dimensions !== undefined ? { dimensions: r.dimensions } : {}),
      ...(r.user ? { user: r.user } : {}),
      ...(inputType ? { inputType } : {}),
    },
    ...callerSide(r, caller),
  };
}

/** A RerankRequest as the router's RerankCall (validated after, by validateRerankCall). */
export function toRerankCall(r: RerankRequest, id: string, caller: Caller): RerankCall {
  return {
    operation: "rerank",
    id,
    model: r.model,
    request: {
      query: r.query,
      documents: [...r.documents],
      ...(r.topN !== undefined ? { topN: r.topN } : {}),
      ...(r.maxTokensPerDoc !== undefined ? { maxTokensPerDoc: r.maxTokensPerDoc } : {}),
    },
    ...callerSide(r, caller),
  };
}

/** A GenerateImagesRequest as the router's ImageCall (validated after, by validateImageCall). */
export function toImageCall(r: GenerateImagesRequest, id: string, caller: Caller): ImageCall {
  return {
    operation: "images",
    id,
    model: r.model,
    request: {
      prompt: r.prompt,
      n: r.n ?? 1,
      ...(r.size ? { size: r.size } : {}),
      ...(r.quality ? { quality: r.quality } : {}),
      ...(r.style ? { style: r.style } : {}),
      ...(r.background ? { background: r.background } : {}),
      ...(r.outputFormat ? { outputFormat: r.outputFormat } : {}),
      ...(r.outputCompression !== undefined ? { outputCompression: r.outputCompression } : {}),
      ...(r.returnUrl ? { responseFormat: "url" as const } : {}),
      ...(r.user ? { user: r.user } : {}),
      ...(r.images.length ? { images: r.images.map(inputImageOf) } : {}),
      ...(r.mask ? { mask: inputImageOf(r.mask) } : {}),
      ...(r.inputFidelity ? { inputFidelity: r.inputFidelity } : {}),
      ...(r.moderation ? { moderation: r.moderation } : {}),
    },
    ...callerSide(r, caller),
  };
}

/** An InputImage as the provider takes it: its media type read from its bytes when not given. */
function inputImageOf(im: PbInputImage) {
  const mediaType = im.mediaType || sniffImageType(im.data);
  return { bytes: im.data, mediaType, filename: im.filename || `image.${mediaType.slice("image/".length) || "png"}` };
}

/** A TranscribeRequest as the router's TranscriptionCall (validated after, by validateTranscriptionCall). */
export function toTranscriptionCall(r: TranscribeRequest, id: string, caller: Caller): TranscriptionCall {
  const mediaType = r.mediaType || audioMediaType(r.filename);
  return {
    operation: "transcription",
    id,
    model: r.model,
    request: {
      audio: r.audio,
      filename: r.filename || `audio.${extensionFor(mediaType)}`,
      mediaType,
      ...(r.translate ? { translate: true } : {}),
      ...(r.language ? { language: r.language } : {}),
      ...(r.prompt ? { prompt: r.prompt } : {}),
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
      ...(r.timestampGranularities.length ? { timestamps: [...r.timestampGranularities] as ("segment" | "word")[] } : {}),
    },
    estimatedSeconds: estimateAudioSeconds(r.audio),
    ...callerSide(r, caller),
  };
}

const EXTENSIONS: Record<string, string> = { "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/flac": "flac", "audio/ogg": "ogg", "audio/webm": "webm", "audio/mp4": "m4a", "audio/m4a": "m4a" };
const extensionFor = (mediaType: string) => EXTENSIONS[mediaType] ?? "wav";

/** A SpeakRequest as the router's SpeechCall (validated after, by validateSpeechCall). */
export function toSpeechCall(r: SpeakRequest, id: string, caller: Caller): SpeechCall {
  return {
    operation: "speech",
    id,
    model: r.model,
    request: {
      input: r.input,
      voice: r.voice,
      format: (r.format || "mp3") as SpeechCall["request"]["format"],
      ...(r.speed !== undefined ? { speed: r.speed } : {}),
      ...(r.instructions ? { instructions: r.instructions } : {}),
    },
    ...callerSide(r, caller),
  };
}

/** A ModerateRequest as the router's ModerationCall (validated after, by validateModerationCall). */
export function toModerationCall(r: ModerateRequest, id: string, caller: Caller): ModerationCall {
  return {
    operation: "moderation",
    id,
    model: r.model,
    request: { inputs: [...r.inputs], ...(r.imageUrls.length ? { imageUrls: [...r.imageUrls] } : {}) },
    ...callerSide({ ...r, guardrails: [] }, caller),
  };
}

/** A SearchRequest as the router's SearchCall (validated after, by validateSearchCall; domains, country and dates here, as they are read). */
export function toSearchCall(r: SearchRequest, id: string, caller: Caller): SearchCall {
  const country = r.country ? countryCode(r.country, "country") : undefined;
  const after = r.publishedAfter ? rangeInstant(r.publishedAfter, "published_after") : undefined;
  const before = r.publishedBefore ? rangeInstant(r.publishedBefore, "published_before") : undefined;
  return {
    operation: "search",
    id,
    model: r.model,
    request: {
      queries: [...r.queries],
      maxResults: r.maxResults || 10,
      maxCharacters: r.maxCharacters || 1_000,
      ...(r.allowedDomains.length ? { allowedDomains: domainList(r.allowedDomains, "allowed_domains") } : {}),
      ...(r.blockedDomains.length ? { blockedDomains: domainList(r.blockedDomains, "blocked_domains") } : {}),
      ...(country ? { country } : {}),
      ...(after ? { publishedAfter: after } : {}),
      ...(before ? { publishedBefore: before } : {}),
      ...(Object.keys(r.engineOptions).length ? { engineOptions: r.engineOptions as Record<string, Record<string, unknown>> } : {}),
    },
    ...callerSide({ ...r, guardrails: [] }, caller),
  };
}

/**
 * The pages an OCR request is expected to bill, for admission: the pages it names, a PDF's page
 * objects, one image; a Word or PowerPoint file one page per 50 KB; a URL one (the provider's
 * count settles it).
 */
export function estimatedOcrPages(r: Omit<OcrCall["request"], "model">): number {
  if (r.pages?.length) return r.pages.length;
  const d = r.document;
  if ("url" in d) return 1;
  if (d.mediaType === "application/pdf") return pdfPageCount(d.data);
  return d.mediaType.startsWith("image/") ? 1 : Math.max(1, Math.ceil(d.data.byteLength / 51_200));
}

/** An OcrRequest as the router's OcrCall (validated after, by validateOcrCall). */
export function toOcrCall(r: OcrRequest, id: string, caller: Caller): OcrCall {
  const document = r.documentUrl && r.document.byteLength === 0 ? { url: r.documentUrl } : { data: r.document, mediaType: r.mediaType };
  if (r.documentUrl && r.document.byteLength) throw new GatewayError("invalid_argument", "document_url: cannot be given with document: send the bytes or a URL", { field: "document_url" });
  const request: OcrCall["request"] = {
    document,
    ...(r.documentName ? { documentName: r.documentName } : {}),
    ...(r.pages.length ? { pages: [...r.pages] } : {}),
    ...(r.includeImageBase64 ? { includeImageBase64: true } : {}),
    ...(r.imageLimit ? { imageLimit: r.imageLimit } : {}),
    ...(r.imageMinSize ? { imageMinSize: r.imageMinSize } : {}),
    ...(r.tableFormat ? { tableFormat: r.tableFormat as "markdown" | "html" } : {}),
    ...(r.extractHeader ? { extractHeader: true } : {}),
    ...(r.extractFooter ? { extractFooter: true } : {}),
    ...(r.documentAnnotationSchema ? { documentAnnotation: { name: r.documentAnnotationName || "document_annotation", schema: r.documentAnnotationSchema as JsonObject, ...(r.documentAnnotationPrompt ? { prompt: r.documentAnnotationPrompt } : {}) } } : {}),
    ...(r.bboxAnnotationSchema ? { bboxAnnotation: { name: "bbox_annotation", schema: r.bboxAnnotationSchema as JsonObject } } : {}),
  };
  if (r.documentAnnotationPrompt && !r.documentAnnotationSchema) throw new GatewayError("invalid_argument", "document_annotation_prompt: needs document_annotation_schema (the shape to extract)", { field: "document_annotation_prompt" });
  return { operation: "ocr", id, model: r.model, request, estimatedPages: estimatedOcrPages(request), ...callerSide({ ...r, guardrails: [] }, caller) };
}

/**
 * A ChatRequest as the router's ChatCall, validated, with the prompt it names (ChatRequest.prompt)
 * put in front of its messages: what ChatService and RouteService.Route both run.
 */
export function checkedChatCall(r: ChatRequest, id: string, caller: Caller, stream: boolean, prompts: PromptLibrary): ChatCall {
  const call = toChatCall(r, id, caller, stream);
  const ref = r.prompt;
  if (!ref?.id) {
    if (ref && (ref.version || Object.keys(ref.variables).length)) throw new GatewayError("invalid_argument", "prompt.id: is required", { field: "prompt.id" });
    validateCall(call);
    return call;
  }
  const p = findPrompt(prompts, caller, ref.id, "prompt.id");
  const offset = applyPrompt(call, renderPrompt(p, pickVersion(p, ref.version, "prompt.version"), ref.variables, "prompt.variables"));
  validatePrompted(offset, () => validateCall(call));
  return call;
}

/** A ChatRequest as the router's ChatCall (not yet validated; see checkedChatCall). */
export function toChatCall(r: ChatRequest, id: string, caller: Caller, stream: boolean): ChatCall {
  const req: Omit<UpstreamRequest, "model"> = { messages: messages(r) };
  if (r.tools.length) {
    req.tools = r.tools.map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      ...(t.parameters ? { parameters: t.parameters as unknown as JsonObject } : {}),
      ...(t.strict ? { strict: true } : {}),
    }));
  }
  const tc = r.toolChoice?.choice;
  if (tc?.case === "tool") req.toolChoice = { type: "tool", name: tc.value };
  else if (tc?.case === "mode" && tc.value !== ToolChoiceMode.UNSPECIFIED) {
    req.toolChoice = { type: tc.value === ToolChoiceMode.NONE ? "none" : tc.value === ToolChoiceMode.REQUIRED ? "required" : "auto" };
  }
  if (r.parallelToolCalls !== undefined) req.parallelToolCalls = r.parallelToolCalls;
  if (r.temperature !== undefined) req.temperature = r.temperature;
  if (r.topP !== undefined) req.topP = r.topP;
  if (r.maxOutputTokens !== undefined) req.maxOutputTokens = r.maxOutputTokens;
  if (r.stop.length) req.stop = [...r.stop];
  if (r.seed !== undefined) req.seed = Number(r.seed);
  if (r.presencePenalty !== undefined) req.presencePenalty = r.presencePenalty;
  if (r.frequencyPenalty !== undefined) req.frequencyPenalty = r.frequencyPenalty;
  if (r.logprobs) req.logprobs = true;
  if (r.topLogprobs !== undefined) req.topLogprobs = r.topLogprobs;
  if (Object.keys(r.logitBias).length) req.logitBias = Object.fromEntries(Object.entries(r.logitBias).map(([k, v]) => [String(k), v]));
  const effort = EFFORT[r.reasoningEffort];
  if (effort) req.reasoningEffort = effort;
  const rf = r.responseFormat;
  if (rf?.type === ResponseFormat_Type.JSON_OBJECT) req.responseFormat = { type: "json_object" };
  else if (rf?.type === ResponseFormat_Type.JSON_SCHEMA) {
    req.responseFormat = { type: "json_schema", name: rf.schemaName, schema: (rf.schema ?? {}) as unknown as JsonObject, ...(rf.strict ? { strict: true } : {}) };
  } else if (rf?.type === ResponseFormat_Type.TEXT) req.responseFormat = { type: "text" };
  if (r.user) req.user = r.user;

  return {
    id,
    model: r.model,
    request: req,
    routing: routingRequest(r.routing, r.user),
    user: r.user || undefined,
    tags: [...r.tags],
    metadata: { ...r.metadata },
    caller,
    stream,
    ...(r.guardrails.length ? { guardrails: { names: [...r.guardrails], field: "guardrails" } } : {}),
    ...(r.webSearch ? { webSearch: webSearchFromPb(r.webSearch) } : {}),
    ...(r.fileSearch ? { fileSearch: fileSearchFromPb(r.fileSearch) } : {}),
    ...(PDF_READER[r.pdfReader] ? { pdfReader: { engine: PDF_READER[r.pdfReader]!, field: "pdf_reader" } } : {}),
  };
}

/** ChatRequest.pdf_reader as the file parser's engine; native and unspecified read nothing. */
const PDF_READER: Partial<Record<PdfReader, PdfEngine>> = { [PdfReader.TEXT]: "pdf-text", [PdfReader.OCR]: "mistral-ocr" };

/** ChatRequest.file_search, validated as the file_search tool is (its errors name file_search.<field>). */
function fileSearchFromPb(f: NonNullable<ChatRequest["fileSearch"]>): FileSearchRequest {
  const t = parseFileSearchTool(
    {
      type: "file_search",
      vector_store_ids: [...f.vectorStoreIds],
      ...(f.maxResults !== undefined ? { max_num_results: f.maxResults } : {}),
      ...(f.filters ? { filters: f.filters } : {}),
      ranking_options: { ranker: f.semanticOnly ? "none" : "auto", score_threshold: f.scoreThreshold },
    },
    "file_search",
  );
  return fileSearchRequest(t, "file_search");
}

/** The passages a file search gave the model, as FilePassage messages. */
export const passagesToPb = (f: FilesSearched) => f.results.map((r) => ({ fileId: r.file_id, filename: r.filename, score: r.score, ...(r.attributes ? { attributes: r.attributes } : {}), text: r.text }));

/** ChatRequest.web_search, validated: max_results 1..20, a search_prompt with text when given, a country code, a range of dates. */
function webSearchFromPb(w: NonNullable<ChatRequest["webSearch"]>): WebSearchRequest {
  if (w.maxResults !== undefined && (w.maxResults < 1 || w.maxResults > MAX_WEB_RESULTS)) {
    throw new GatewayError("invalid_argument", `web_search.max_results: must be 1 to ${MAX_WEB_RESULTS}, got ${w.maxResults}`, { field: "web_search.max_results" });
  }
  if (w.searchPrompt && !w.searchPrompt.trim()) throw new GatewayError("invalid_argument", "web_search.search_prompt: must have text when given", { field: "web_search.search_prompt" });
  if (w.allowedDomains.length && w.blockedDomains.length) throw new GatewayError("invalid_argument", "web_search.blocked_domains: give allowed_domains or blocked_domains, not both", { field: "web_search.blocked_domains" });
  const allowed = w.allowedDomains.length ? domainList(w.allowedDomains, "web_search.allowed_domains") : undefined;
  const blocked = w.blockedDomains.length ? domainList(w.blockedDomains, "web_search.blocked_domains") : undefined;
  const country = w.country ? locationCountry({ country: w.country }, "web_search") : undefined;
  const after = w.publishedAfter ? timestampDate(w.publishedAfter).toISOString() : undefined;
  const before = w.publishedBefore ? timestampDate(w.publishedBefore).toISOString() : undefined;
  if (after && before && after > before) throw new GatewayError("invalid_argument", "web_search.published_before: must not be before published_after", { field: "web_search.published_before" });
  return {
    ...(country ? { country } : {}),
    ...(after ? { publishedAfter: after } : {}),
    ...(before ? { publishedBefore: before } : {}),
    ...(w.maxResults !== undefined ? { maxResults: w.maxResults } : {}),
    ...(w.searchPrompt ? { searchPrompt: w.searchPrompt } : {}),
    ...(allowed ? { allowedDomains: allowed } : {}),
    ...(blocked ? { blockedDomains: blocked } : {}),
  };
}

/** The fields every non-chat response (EmbedResponse, RerankResponse, GenerateImagesResponse) shares, from its answer's account. */
export function accountToPb(a: AnswerAccount) {
  return {
    id: a.id,
    model: a.model,
    deployment: a.deployment,
    provider: a.provider,
    providerModel: a.providerModel,
    usage: usageToPb(a.usage, a.usageEstimated, estimatedParts(a.attempts)),
    cost: costToPb(a.cost),
    attempts: a.attempts.map(attemptToPb),
    routing: a.routing,
    timing: { latencyMs: a.latencyMs, overheadUs: a.overheadUs },
    adjustments: a.adjustments,
    traceId: a.traceId,
  };
}

/** Which parts of a usage figure the gateway estimated (see AttemptRecord.usageSource). */
export interface EstimatedParts {
  input: boolean;
  output: boolean;
}

/** The parts estimated on any of the attempts: what a request's total says. */
export function estimatedParts(attempts: readonly AttemptRecord[] | undefined): EstimatedParts {
  let input = false;
  let output = false;
  for (const a of attempts ?? []) {
    if (a.usageSource?.input === "estimated") input = true;
    if (a.usageSource?.output === "estimated") output = true;
  }
  return { input, output };
}

/** `estimated` is true when either part is (or when the caller says so). */
export function usageToPb(u: Usage, estimated = false, parts: EstimatedParts = { input: false, output: false }): PbUsage {
  return create(UsageSchema, {
    inputTokens: BigInt(u.inputTokens),
    outputTokens: BigInt(u.outputTokens),
    cachedInputTokens: BigInt(u.cachedInputTokens),
    cacheWriteTokens: BigInt(u.cacheWriteTokens),
    reasoningTokens: BigInt(u.reasoningTokens),
    totalTokens: BigInt(u.inputTokens + u.outputTokens),
    cacheWrite1hTokens: BigInt(u.cacheWrite1hTokens ?? 0),
    searchUnits: BigInt(u.searchUnits ?? 0),
    images: BigInt(u.images?.count ?? 0),
    audioSeconds: u.audioSeconds ?? 0,
    characters: BigInt(u.characters ?? 0),
    pages: BigInt(u.pages ?? 0),
    estimated: estimated || parts.input || parts.output,
    inputEstimated: parts.input,
    outputEstimated: parts.output,
  });
}

export function costToPb(c: CostBreakdown): Cost {
  return create(CostSchema, {
    totalNanoUsd: BigInt(c.total),
    inputNanoUsd: BigInt(c.input),
    cachedInputNanoUsd: BigInt(c.cachedInput),
    cacheWriteNanoUsd: BigInt(c.cacheWrite),
    outputNanoUsd: BigInt(c.output),
    reasoningNanoUsd: BigInt(c.reasoning),
    requestNanoUsd: BigInt(c.request ?? 0),
    ...(c.providerReported !== undefined ? { providerReportedNanoUsd: BigInt(c.providerReported) } : {}),
  });
}

export function attemptToPb(a: AttemptRecord): Attempt {
  return create(AttemptSchema, {
    number: a.number,
    deployment: a.deployment,
    provider: a.provider,
    model: a.model,
    outcome: OUTCOME_TO_PB[a.outcome],
    failureKind: a.failureKind ? FAILURE_TO_PB[a.failureKind] : PbFailureKind.UNSPECIFIED,
    errorMessage: a.errorMessage ?? "",
    httpStatus: a.httpStatus ?? 0,
    latencyMs: a.latencyMs,
    ttftMs: a.ttftMs,
    retryAfterMs: a.retryAfterMs,
    reason: a.reason,
    hedged: a.hedged,
    usage: usageToPb(a.usage, false, estimatedParts([a])),
    cost: costToPb(a.cost),
    startTime: timestampFromMs(a.startTime),
  });
}

export function finishToPb(f: FinishReason | undefined): PbFinishReason {
  return f ? FINISH_TO_PB[f] : PbFinishReason.UNSPECIFIED;
}

/** The engine's answer as a ChatResponse. */
export function answerToResponse(a: Answer): ChatResponse {
  return create(ChatResponseSchema, {
    id: a.id,
    model: a.model,
    deployment: a.deployment,
    provider: a.provider,
    providerModel: a.providerModel,
    message: {
      role: PbRole.ASSISTANT,
      content: a.text ? [{ part: { case: "text", value: a.text } }] : [],
      toolCalls: a.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, providerSignature: c.signature ?? "" })),
    },
    reasoning: a.reasoning ?? "",
    refusal: a.refusal ?? "",
    finishReason: finishToPb(a.finishReason),
    rawFinishReason: a.rawFinishReason ?? "",
    usage: usageToPb(a.usage, a.usageEstimated, estimatedParts(a.attempts)),
    cost: costToPb(a.cost),
    attempts: a.attempts.map(attemptToPb),
    routing: a.routing,
    timing: { latencyMs: a.latencyMs, ttftMs: a.ttftMs, overheadUs: a.overheadUs },
    cacheHit: a.cache === "hit" || a.cache === "semantic" || a.cache === "shared",
    cacheSimilarity: a.cacheSimilarity,
    adjustments: a.adjustments,
    traceId: a.traceId,
    ...(a.logprobs ? { logprobs: logprobsToPb(a.logprobs) } : {}),
    ...(a.citations ? { citations: a.citations } : {}),
    ...(a.fileSearch ? { filePassages: passagesToPb(a.fileSearch) } : {}),
  });
}

/** Token log probabilities as TokenLogprob messages (bytes as bytes). */
export function logprobsToPb(lp: readonly TokenLogprob[]) {
  const one = (t: { token: string; logprob: number; bytes?: number[] }) => ({ token: t.token, logprob: t.logprob, ...(t.bytes ? { bytes: Uint8Array.from(t.bytes) } : {}) });
  return lp.map((t) => ({ ...one(t), topLogprobs: t.top.map(one) }));
}

/**
 * Content events that arrived together as one ChatEvent delta: text, reasoning and refusal
 * fragments are concatenated in order; tool-call fragments keep their own entries, with
 * consecutive argument fragments of the same call joined.
 */
export function deltasToPb(events: StreamEvent[]): ChatEvent {
  let text = "";
  let reasoning = "";
  let refusal = "";
  const toolCalls: { index: number; id: string; name: string; argumentsDelta: string; providerSignature: string }[] = [];
  let logprobs: TokenLogprob[] | undefined;
  for (const e of events) {
    switch (e.type) {
      case "logprobs":
        logprobs = logprobs ? [...logprobs, ...e.content] : e.content;
        break;
      case "text":
        text += e.text;
        break;
      case "reasoning":
        reasoning += e.text;
        break;
      case "refusal":
        refusal += e.text;
        break;
      case "tool_call_start":
        toolCalls.push({ index: e.index, id: e.id, name: e.name, argumentsDelta: "", providerSignature: e.signature ?? "" });
        break;
      case "tool_call_delta": {
        const last = toolCalls[toolCalls.length - 1];
        if (last && last.index === e.index) last.argumentsDelta += e.argumentsDelta;
        else toolCalls.push({ index: e.index, id: "", name: "", argumentsDelta: e.argumentsDelta, providerSignature: "" });
        break;
      }
      default:
        break;
    }
  }
  return create(ChatEventSchema, { event: { case: "delta", value: { text, reasoning, refusal, toolCalls, ...(logprobs ? { logprobs: logprobsToPb(logprobs) } : {}) } } });
}


/** An active check's outcome as signalbox.v1.DeploymentCheck (AdminService.CheckDeployments, ListModels' last_check). */
export function checkToPb(c: CheckOutcome): DeploymentCheck {
  return create(DeploymentCheckSchema, {
    deployment: c.deployment,
    provider: c.provider,
    operation: c.operation,
    healthy: c.healthy,
    status: c.status,
    error: c.error,
    latencyMs: c.latencyMs,
    checkTime: timestampFromMs(c.time),
    costNanoUsd: BigInt(Math.round(c.costNanos)),
    requestId: c.requestId,
    traceId: c.traceId,
    skipped: c.skipped,
  });
}
