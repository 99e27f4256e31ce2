// Input validation for every RPC, in one place, before any work: a bad request is
// invalid_argument with a message that starts with the path of the bad field.

import { schemaCompiles } from "../guardrails/json-schema.ts";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Dimension, Granularity } from "../../gen/signalbox/v1/common_pb.ts";
import type { GetBudgetRequest, GetRequestRequest, GetUsageRequest, ListRequestsRequest } from "../../gen/signalbox/v1/usage_pb.ts";
import { GatewayError } from "../router/errors.ts";
import { isSearchEngine, SEARCH_ENGINES } from "../config/types.ts";
import { ENGINE_FIELDS } from "../providers/search/engines.ts";
import type { CallBase, ChatCall, EmbedCall, ImageCall, ModerationCall, OcrCall, RerankCall, SearchCall, SpeechCall, TranscriptionCall } from "../router/types.ts";
import { FILE_MEDIA_TYPES, fileText, type ContentPart } from "../providers/types.ts";

export const LIMITS = {
  messages: 2048,
  stop: 4,
  tools: 128,
  /** Tokens of one logit_bias (the gateway's own bound). */
  logitBias: 1024,
  maxOutputTokens: 1_000_000,
  tags: 32,
  metadata: 64,
  metadataValue: 512,
  fallbacks: 16,
  /** Inputs of one embeddings request (OpenAI's own limit). */
  inputs: 2048,
  dimensions: 65_536,
  /** Documents of one rerank request (Cohere's and Jina's own limit). */
  documents: 1000,
  maxTokensPerDoc: 32_768,
} as const;

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ROLES = new Set<string | undefined>(["system", "developer", "user", "assistant", "tool"]);

function bad(field: string, message: string): never {
  throw new GatewayError("invalid_argument", `${field}: ${message}`, { field });
}

function range(field: string, v: number | undefined, lo: number, hi: number) {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < lo || v > hi) bad(field, `must be between ${lo} and ${hi}, got ${v}`);
}

/**
 * Field names as the front door calls them: the Connect API uses the proto's names; the
 * OpenAI-compatible endpoint renames the few that differ (max_tokens, image_url, ...).
 */
export interface FieldNames {
  maxOutputTokens: string;
  image: string;
  /** A file part's bytes and media type, relative to the part ("file.data", "file.media_type"). */
  fileData: string;
  fileMediaType: string;
  responseFormatSchema: string;
  responseFormatName: string;
  toolChoiceTool: string;
  routing: string;
}

export const PROTO_FIELDS: FieldNames = {
  maxOutputTokens: "max_output_tokens",
  image: "image",
  fileData: "file.data",
  fileMediaType: "file.media_type",
  responseFormatSchema: "response_format.schema",
  responseFormatName: "response_format.schema_name",
  toolChoiceTool: "tool_choice.tool",
  routing: "routing",
};

/** A file part: in a user message, a known media type, bytes that are what the type says. */
function validateFile(p: Extract<ContentPart, { type: "file" }>, role: string, pf: string, n: FieldNames): void {
  if (role !== "user") bad(pf, "files are only allowed in user messages");
  if (!FILE_MEDIA_TYPES.has(p.mediaType)) bad(`${pf}.${n.fileMediaType}`, `must be one of ${[...FILE_MEDIA_TYPES].join(", ")}, got "${p.mediaType}"`);
  if (p.data.length === 0) bad(`${pf}.${n.fileData}`, "is empty");
  if (p.mediaType === "application/pdf") {
    if (!Buffer.from(p.data.buffer, p.data.byteOffset, Math.min(5, p.data.byteLength)).equals(Buffer.from("%PDF-"))) bad(`${pf}.${n.fileData}`, "is not a PDF (it does not start with %PDF-)");
  } else {
    try {
      fileText(p);
    } catch {
      bad(`${pf}.${n.fileData}`, `is not UTF-8 text (media type ${p.mediaType})`);
    }
  }
}

/**
 * Validate a chat call (as either front door built it) before any work: the first problem is an
 * invalid_argument whose message starts with the field's path.
 */
export function validateCall(c: ChatCall, n: FieldNames = PROTO_FIELDS): void {
  const r = c.request;
  if (!c.model.trim()) bad("model", "is required");
  if (r.messages.length === 0) bad("messages", "must contain at least one message");
  if (r.messages.length > LIMITS.messages) bad("messages", `at most ${LIMITS.messages} messages, got ${r.messages.length}`);
  const toolIds = new Set<string>();
  r.messages.forEach((m, i) => {
    const f = `messages[${i}]`;
    if (!ROLES.has(m.role)) bad(`${f}.role`, "is required (system, developer, user, assistant or tool)");
    m.content.forEach((p, j) => {
      const pf = `${f}.content[${j}]`;
      if (p.type === "text") return;
      if (p.type === "file") return validateFile(p, m.role, pf, n);
      if (p.type !== "image") bad(pf, "needs text, image or file");
      if (m.role !== "user" && m.role !== "tool") bad(pf, "images are only allowed in user and tool messages");
      if (p.url === undefined && p.data === undefined) bad(`${pf}.${n.image}`, "needs url or data");
      if (p.url !== undefined && !/^(https?:|data:image\/[a-z+.-]+;base64,)/i.test(p.url)) {
        bad(`${pf}.${n.image}.url`, "must be an http(s) URL or a data:image/...;base64, URL");
      }
      if (p.data !== undefined) {
        if (p.data.length === 0) bad(`${pf}.${n.image}.data`, "is empty");
        if (!/^image\/[a-z0-9+.-]+$/i.test(p.mediaType ?? "")) bad(`${pf}.${n.image}.media_type`, "is required with data (e.g. image/png)");
      }
    });
    (m.toolCalls ?? []).forEach((tc, j) => {
      if (m.role !== "assistant") bad(`${f}.tool_calls`, "only assistant messages carry tool calls");
      if (!tc.id) bad(`${f}.tool_calls[${j}].id`, "is required");
      if (!TOOL_NAME.test(tc.name)) bad(`${f}.tool_calls[${j}].name`, "must match [A-Za-z0-9_-]{1,64}");
      toolIds.add(tc.id);
    });
    if (m.role === "tool") {
      if (!m.toolCallId) bad(`${f}.tool_call_id`, "is required for tool messages");
      if (!toolIds.has(m.toolCallId)) bad(`${f}.tool_call_id`, `"${m.toolCallId}" answers no earlier assistant tool call`);
    } else if (m.content.length === 0 && !m.toolCalls?.length) {
      bad(`${f}.content`, "must not be empty");
    }
  });
  range("temperature", r.temperature, 0, 2);
  range("top_p", r.topP, 0, 1);
  range("presence_penalty", r.presencePenalty, -2, 2);
  range("frequency_penalty", r.frequencyPenalty, -2, 2);
  if (r.logitBias !== undefined) {
    const entries = Object.entries(r.logitBias);
    if (entries.length > LIMITS.logitBias) bad("logit_bias", `at most ${LIMITS.logitBias} tokens, got ${entries.length}`);
    for (const [token, bias] of entries) {
      if (!/^(0|[1-9]\d{0,9})$/.test(token)) bad(`logit_bias.${token}`, "keys must be token ids (non-negative integers)");
      if (typeof bias !== "number" || !Number.isFinite(bias) || bias < -100 || bias > 100) bad(`logit_bias.${token}`, `must be a number between -100 and 100, got ${bias}`);
    }
  }
  if (r.topLogprobs !== undefined) {
    if (!Number.isInteger(r.topLogprobs) || r.topLogprobs < 0 || r.topLogprobs > 20) bad("top_logprobs", `must be an integer between 0 and 20, got ${r.topLogprobs}`);
    if (!r.logprobs) bad("top_logprobs", "needs logprobs: true");
  }
  if (r.maxOutputTokens !== undefined && (!Number.isInteger(r.maxOutputTokens) || r.maxOutputTokens < 1 || r.maxOutputTokens > LIMITS.maxOutputTokens)) {
    bad(n.maxOutputTokens, `must be an integer between 1 and ${LIMITS.maxOutputTokens}, got ${r.maxOutputTokens}`);
  }
  const stop = r.stop ?? [];
  if (stop.length > LIMITS.stop) bad("stop", `at most ${LIMITS.stop} stop sequences, got ${stop.length}`);
  stop.forEach((s, i) => s === "" && bad(`stop[${i}]`, "must not be empty"));
  const tools = r.tools ?? [];
  if (tools.length > LIMITS.tools) bad("tools", `at most ${LIMITS.tools} tools, got ${tools.length}`);
  const names = new Set<string>();
  tools.forEach((t, i) => {
    if (!TOOL_NAME.test(t.name)) bad(`tools[${i}].name`, "must match [A-Za-z0-9_-]{1,64}");
    if (names.has(t.name)) bad(`tools[${i}].name`, `duplicate tool "${t.name}"`);
    names.add(t.name);
  });
  const tc = r.toolChoice;
  if (tc?.type === "tool" && !names.has(tc.name)) bad(n.toolChoiceTool, `"${tc.name}" is not one of the request's tools`);
  if (tc && tools.length === 0 && tc.type !== "none") bad("tool_choice", "requires tools");
  const rf = r.responseFormat;
  if (rf?.type === "json_schema") {
    if (!rf.schema) bad(n.responseFormatSchema, "is required for json_schema");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(rf.name)) bad(n.responseFormatName, "must match [A-Za-z0-9_-]{1,64} for json_schema");
  }
  validateAttribution(c, n.routing);
}

/** Routing options, tags, metadata and user: what every call carries, checked alike for every operation. */
function validateAttribution(c: CallBase, rp: string): void {
  const ro = c.routing;
  if (ro.fallbacks.length > LIMITS.fallbacks) bad(`${rp}.fallbacks`, `at most ${LIMITS.fallbacks} entries`);
  ro.fallbacks.forEach((f, i) => !f.trim() && bad(`${rp}.fallbacks[${i}]`, "must not be empty"));
  if (ro.maxCostNanos !== undefined && ro.maxCostNanos < 0) bad(`${rp}.max_cost_nano_usd`, "must not be negative");
  if (ro.maxAttempts !== undefined && ro.maxAttempts > 20) bad(`${rp}.max_attempts`, "must be at most 20");
  if (ro.retry) {
    if (!Number.isInteger(ro.retry.attempts) || ro.retry.attempts < 0 || ro.retry.attempts > 10) bad(`${rp}.retry.attempts`, `must be an integer from 0 to 10, got ${ro.retry.attempts}`);
    statusCodes(ro.retry.onStatusCodes, `${rp}.retry.on_status_codes`);
  }
  statusCodes(ro.fallbackOnStatusCodes, `${rp}.fallback_on_status_codes`);
  const t = ro.timeouts;
  for (const [k, v] of Object.entries({ first_token_ms: t.firstTokenMs, idle_ms: t.idleMs, attempt_ms: t.attemptMs, total_ms: t.totalMs })) {
    if (v !== undefined && v === 0) bad(`${rp}.timeouts.${k}`, "must be positive when set");
  }
  if (c.tags.length > LIMITS.tags) bad("tags", `at most ${LIMITS.tags} tags`);
  c.tags.forEach((t, i) => (t === "" || t.length > 64) && bad(`tags[${i}]`, "must be 1..64 characters"));
  const meta = Object.entries(c.metadata);
  if (meta.length > LIMITS.metadata) bad("metadata", `at most ${LIMITS.metadata} entries`);
  for (const [k, v] of meta) if (v.length > LIMITS.metadataValue) bad(`metadata.${k}`, `value longer than ${LIMITS.metadataValue} characters`);
  if ((c.user ?? "").length > 256) bad("user", "at most 256 characters");
}

/** HTTP statuses a request names for retries or fallbacks: 400 to 599, at most 20. */
function statusCodes(codes: readonly number[] | undefined, field: string): void {
  if (!codes) return;
  if (codes.length > 20) bad(field, "at most 20 status codes");
  codes.forEach((c, i) => (!Number.isInteger(c) || c < 400 || c > 599) && bad(`${field}[${i}]`, `must be an HTTP error status from 400 to 599, got ${c}`));
}

/** Field names of an embeddings request as its front door calls them. */
export interface EmbedFieldNames {
  inputs: string;
  routing: string;
}

export const PROTO_EMBED_FIELDS: EmbedFieldNames = { inputs: "inputs", routing: "routing" };

/** Validate an embeddings call (as either front door built it) before any work. */
export function validateEmbedCall(c: EmbedCall, n: EmbedFieldNames = PROTO_EMBED_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const inputs = c.request.inputs;
  if (inputs.length === 0) bad(n.inputs, "must contain at least one input");
  if (inputs.length > LIMITS.inputs) bad(n.inputs, `at most ${LIMITS.inputs} inputs, got ${inputs.length}`);
  inputs.forEach((t, i) => t === "" && bad(`${n.inputs}[${i}]`, "must not be empty"));
  const d = c.request.dimensions;
  if (d !== undefined && (!Number.isInteger(d) || d < 1 || d > LIMITS.dimensions)) bad("dimensions", `must be an integer between 1 and ${LIMITS.dimensions}, got ${d}`);
  validateAttribution(c, n.routing);
}

export interface RerankFieldNames {
  documents: string;
  topN: string;
  maxTokensPerDoc: string;
  routing: string;
}

export const PROTO_RERANK_FIELDS: RerankFieldNames = { documents: "documents", topN: "top_n", maxTokensPerDoc: "max_tokens_per_doc", routing: "routing" };

/** Validate a rerank call (as either front door built it) before any work. */
export function validateRerankCall(c: RerankCall, n: RerankFieldNames = PROTO_RERANK_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  if (c.request.query === "") bad("query", "is required");
  const docs = c.request.documents;
  if (docs.length === 0) bad(n.documents, "must contain at least one document");
  if (docs.length > LIMITS.documents) bad(n.documents, `at most ${LIMITS.documents} documents, got ${docs.length}`);
  docs.forEach((t, i) => t === "" && bad(`${n.documents}[${i}]`, "must not be empty"));
  const k = c.request.topN;
  if (k !== undefined && (!Number.isInteger(k) || k < 1)) bad(n.topN, `must be a positive integer, got ${k}`);
  const m = c.request.maxTokensPerDoc;
  if (m !== undefined && (!Number.isInteger(m) || m < 1 || m > LIMITS.maxTokensPerDoc)) bad(n.maxTokensPerDoc, `must be an integer between 1 and ${LIMITS.maxTokensPerDoc}, got ${m}`);
  validateAttribution(c, n.routing);
}

/** Field names of an image request, as each front door spells them. */
export interface ImageFieldNames {
  n: string;
  size: string;
  outputCompression: string;
  routing: string;
  images: string;
  mask: string;
  inputFidelity: string;
}

export const PROTO_IMAGE_FIELDS: ImageFieldNames = { n: "n", size: "size", outputCompression: "output_compression", routing: "routing", images: "images", mask: "mask", inputFidelity: "input_fidelity" };
const EDIT_IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp"]);

/** The longest image prompt (GPT Image's limit; DALL·E's are shorter and theirs to refuse). */
export const MAX_IMAGE_PROMPT_CHARS = 32_000;

export function validateImageCall(c: ImageCall, n: ImageFieldNames = PROTO_IMAGE_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const r = c.request;
  if (r.prompt.trim() === "") bad("prompt", "is required");
  if (r.prompt.length > MAX_IMAGE_PROMPT_CHARS) bad("prompt", `at most ${MAX_IMAGE_PROMPT_CHARS} characters, got ${r.prompt.length}`);
  if (!Number.isInteger(r.n) || r.n < 1 || r.n > 10) bad(n.n, `must be an integer between 1 and 10, got ${r.n}`);
  if (r.size !== undefined && r.size !== "auto" && !/^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$/.test(r.size)) bad(n.size, `must be "auto" or WIDTHxHEIGHT (like 1024x1024), got "${r.size}"`);
  const oc = r.outputCompression;
  if (oc !== undefined && (!Number.isInteger(oc) || oc < 0 || oc > 100)) bad(n.outputCompression, `must be an integer between 0 and 100, got ${oc}`);
  // An edit's images.
  const images = r.images ?? [];
  if (images.length > 16) bad(n.images, `at most 16 images, got ${images.length}`);
  images.forEach((im, i) => {
    if (im.bytes.byteLength === 0) bad(`${n.images}[${i}]`, "is empty");
    if (!EDIT_IMAGE_TYPES.has(im.mediaType)) bad(`${n.images}[${i}]`, `must be a PNG, JPEG or WebP image, got ${JSON.stringify(im.mediaType || "an unknown type")}`);
  });
  if (r.mask && !images.length) bad(n.mask, "applies to an edit: send the image to edit with it");
  if (r.mask && (r.mask.bytes.byteLength === 0 || r.mask.mediaType !== "image/png")) bad(n.mask, "must be a PNG (its transparent areas are where the image is edited)");
  if (r.inputFidelity !== undefined && r.inputFidelity !== "high" && r.inputFidelity !== "low") bad(n.inputFidelity, `must be high or low, got "${r.inputFidelity}"`);
  if (r.inputFidelity !== undefined && !images.length) bad(n.inputFidelity, "applies to an edit: send the image to edit with it");
  if (r.moderation !== undefined && r.moderation !== "low" && r.moderation !== "auto") bad("moderation", `must be low or auto, got "${r.moderation}"`);
  if (r.moderation !== undefined && images.length) bad("moderation", "applies to a generation, not an edit");
  validateAttribution(c, n.routing);
}

/** An image's media type from its first bytes (PNG, JPEG, WebP), or "" when it is none of them. */
export function sniffImageType(b: Uint8Array): string {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return "image/webp";
  return "";
}

/** Field names of the audio requests, as each front door spells them. */
export interface AudioFieldNames {
  audio: string;
  format: string;
  timestamps: string;
  routing: string;
}
export const PROTO_AUDIO_FIELDS: AudioFieldNames = { audio: "audio", format: "format", timestamps: "timestamp_granularities", routing: "routing" };

/** OpenAI's upload limit for a recording. */
export const MAX_AUDIO_BYTES = 25 * 1024 * 1024;
/** The largest request that may carry audio (the audio, and room for the rest of the request): audio uploads, AudioService and RouteService calls. */
export const MAX_AUDIO_REQUEST_BYTES = MAX_AUDIO_BYTES + 1024 * 1024;
/** The provider pass-through's path prefix (compat/passthrough.ts). */
export const PASSTHROUGH_PREFIX = "/passthrough/";
/**
 * Largest body a pass-through sends as it reads it (an upload: OpenAI's file limit); JSON bodies,
 * read whole for their model, and Bedrock's, signed whole, stay within server.max_request_bytes.
 */
export const MAX_PASSTHROUGH_BYTES = 512 * 1024 * 1024;
/** OpenAI's limit on the text of one speech request. */
export const MAX_SPEECH_CHARS = 4_096;
const SPEECH_FORMATS = new Set(["mp3", "opus", "aac", "flac", "wav", "pcm"]);

export function validateTranscriptionCall(c: TranscriptionCall, n: AudioFieldNames = PROTO_AUDIO_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const r = c.request;
  if (r.audio.byteLength === 0) bad(n.audio, "is required (the recording's bytes)");
  if (r.audio.byteLength > MAX_AUDIO_BYTES) bad(n.audio, `at most 25 MB, got ${(r.audio.byteLength / 1024 / 1024).toFixed(1)} MB`);
  if (r.temperature !== undefined && !(r.temperature >= 0 && r.temperature <= 1)) bad("temperature", `must be between 0 and 1, got ${r.temperature}`);
  if (r.language !== undefined && !/^[a-z]{2,3}$/i.test(r.language)) bad("language", `must be an ISO-639-1 code like "en", got "${r.language}"`);
  if (r.translate && r.language !== undefined) bad("language", "is not taken by a translation (it is always into English)");
  r.timestamps?.forEach((g, i) => (g === "segment" || g === "word" ? undefined : bad(`${n.timestamps}[${i}]`, `must be "segment" or "word", got "${g}"`)));
  validateAttribution(c, n.routing);
}

export function validateSpeechCall(c: SpeechCall, n: AudioFieldNames = PROTO_AUDIO_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const r = c.request;
  if (r.input.trim() === "") bad("input", "is required");
  if (r.input.length > MAX_SPEECH_CHARS) bad("input", `at most ${MAX_SPEECH_CHARS} characters, got ${r.input.length}`);
  if (!r.voice.trim()) bad("voice", "is required (alloy, ash, ballad, coral, echo, fable, onyx, nova, sage, shimmer, verse, marin, cedar, or a custom voice's id)");
  if (!SPEECH_FORMATS.has(r.format)) bad(n.format, `must be one of mp3, opus, aac, flac, wav, pcm, got "${r.format}"`);
  if (r.speed !== undefined && !(r.speed >= 0.25 && r.speed <= 4)) bad("speed", `must be between 0.25 and 4, got ${r.speed}`);
  validateAttribution(c, n.routing);
}

/** Field names of a moderation request, as each front door spells them. */
export interface ModerationFieldNames {
  inputs: string;
  imageUrls: string;
  routing: string;
}
export const PROTO_MODERATION_FIELDS: ModerationFieldNames = { inputs: "inputs", imageUrls: "image_urls", routing: "routing" };
const MAX_MODERATION_INPUTS = 32;

export function validateModerationCall(c: ModerationCall, n: ModerationFieldNames = PROTO_MODERATION_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const { inputs, imageUrls = [] } = c.request;
  if (inputs.length + imageUrls.length === 0) bad(n.inputs, "is required: at least one text to classify");
  if (inputs.length > MAX_MODERATION_INPUTS) bad(n.inputs, `at most ${MAX_MODERATION_INPUTS} inputs, got ${inputs.length}`);
  inputs.forEach((t, i) => t.trim() === "" && bad(`${n.inputs}[${i}]`, "must not be empty"));
  imageUrls.forEach((u, i) => /^(https?:\/\/|data:image\/)/i.test(u) || bad(`${n.imageUrls}[${i}]`, "must be an http(s) URL or a data:image/ URL"));
  validateAttribution(c, n.routing);
}

/** Field names of a search request, as each front door spells them. */
export interface SearchFieldNames {
  queries: string;
  maxResults: string;
  allowedDomains: string;
  blockedDomains: string;
  publishedBefore: string;
  maxCharacters: string;
  routing: string;
}
export const PROTO_SEARCH_FIELDS: SearchFieldNames = {
  queries: "queries",
  maxResults: "max_results",
  allowedDomains: "allowed_domains",
  blockedDomains: "blocked_domains",
  publishedBefore: "published_before",
  maxCharacters: "max_characters",
  routing: "routing",
};
/** Queries one search request may hold (Perplexity's multi-query limit), and the longest. */
export const MAX_SEARCH_QUERIES = 5;
export const MAX_QUERY_CHARS = 2_000;
/** Domains one request may name (Perplexity's search_domain_filter limit). */
export const MAX_SEARCH_DOMAINS = 20;

export function validateSearchCall(c: SearchCall, n: SearchFieldNames = PROTO_SEARCH_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const r = c.request;
  if (r.queries.length === 0) bad(n.queries, "is required: at least one query");
  if (r.queries.length > MAX_SEARCH_QUERIES) bad(n.queries, `at most ${MAX_SEARCH_QUERIES} queries, got ${r.queries.length}`);
  const one = r.queries.length === 1 && !n.queries.endsWith("s");
  r.queries.forEach((q, i) => {
    const f = one ? n.queries : `${n.queries}[${i}]`;
    if (q.trim() === "") bad(f, "must not be empty");
    if (q.length > MAX_QUERY_CHARS) bad(f, `at most ${MAX_QUERY_CHARS} characters, got ${q.length}`);
  });
  if (!(Number.isInteger(r.maxResults) && r.maxResults >= 1 && r.maxResults <= 20)) bad(n.maxResults, `must be an integer between 1 and 20, got ${r.maxResults}`);
  if (!(Number.isInteger(r.maxCharacters) && r.maxCharacters >= 100 && r.maxCharacters <= 20_000)) bad(n.maxCharacters, `must be between 100 and 20000 characters, got ${r.maxCharacters}`);
  if (r.allowedDomains?.length && r.blockedDomains?.length) bad(n.blockedDomains, `cannot be given with ${n.allowedDomains}: name the domains to search, or those to leave out`);
  if ((r.allowedDomains?.length ?? 0) > MAX_SEARCH_DOMAINS) bad(n.allowedDomains, `at most ${MAX_SEARCH_DOMAINS} domains, got ${r.allowedDomains!.length}`);
  if ((r.blockedDomains?.length ?? 0) > MAX_SEARCH_DOMAINS) bad(n.blockedDomains, `at most ${MAX_SEARCH_DOMAINS} domains, got ${r.blockedDomains!.length}`);
  if (r.publishedAfter && r.publishedBefore && Date.parse(r.publishedBefore) <= Date.parse(r.publishedAfter)) bad(n.publishedBefore, "must be after the start of the range");
  for (const [engine, options] of Object.entries(r.engineOptions ?? {})) {
    const at = `engine_options.${engine}`;
    if (!isSearchEngine(engine)) bad(at, `is not a search engine (engine options are given by provider type: ${SEARCH_ENGINES.join(", ")})`);
    if (options === null || typeof options !== "object" || Array.isArray(options)) bad(at, "must be an object of the engine's own parameters");
    for (const k of Object.keys(options)) {
      if (ENGINE_FIELDS[engine].includes(k)) bad(`${at}.${k}`, "is set by the gateway from the search's own fields (query, max_results, domains, country, dates, text length)");
    }
    if (JSON.stringify(options).length > 10_000) bad(at, "at most 10,000 characters of options");
  }
  validateAttribution(c, n.routing);
}

/** Field names of an OCR request, as each front door spells them. */
export interface OcrFieldNames {
  document: string;
  mediaType: string;
  documentUrl: string;
  pages: string;
  tableFormat: string;
  imageLimit: string;
  imageMinSize: string;
  documentAnnotation: string;
  bboxAnnotation: string;
  routing: string;
}
export const PROTO_OCR_FIELDS: OcrFieldNames = {
  document: "document",
  mediaType: "media_type",
  documentUrl: "document_url",
  pages: "pages",
  tableFormat: "table_format",
  imageLimit: "image_limit",
  imageMinSize: "image_min_size",
  documentAnnotation: "document_annotation_schema",
  bboxAnnotation: "bbox_annotation_schema",
  routing: "routing",
};

/** The largest document an OCR request may carry (its base64 in a JSON body fits MAX_AUDIO_REQUEST_BYTES). */
export const MAX_DOCUMENT_BYTES = 18 * 1024 * 1024;
export const MAX_OCR_PAGES = 1_000;
/** What OCR reads, as bytes: PDFs, images, Word and PowerPoint files (Mistral OCR's inputs). */
export const OCR_MEDIA_TYPES: ReadonlySet<string> = new Set([
  "application/pdf",
  "image/png",
  "image/jpeg",
  "image/webp",
  "image/avif",
  "image/gif",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
]);

const startsWith = (b: Uint8Array, s: string) => b.length >= s.length && [...s].every((c, i) => b[i] === c.charCodeAt(0));

export function validateOcrCall(c: OcrCall, n: OcrFieldNames = PROTO_OCR_FIELDS): void {
  if (!c.model.trim()) bad("model", "is required");
  const r = c.request;
  const d = r.document;
  if ("url" in d) {
    let u: URL | undefined;
    try {
      u = new URL(d.url);
    } catch {}
    if (!u || (u.protocol !== "https:" && u.protocol !== "http:")) bad(n.documentUrl, "must be an http(s) URL the provider can fetch (send the document's bytes otherwise)");
    if (d.url.length > 8_192) bad(n.documentUrl, `at most 8192 characters, got ${d.url.length}`);
  } else {
    if (d.data.byteLength === 0) bad(n.document, "is required: the document's bytes, or a document URL");
    if (d.data.byteLength > MAX_DOCUMENT_BYTES) bad(n.document, `at most ${MAX_DOCUMENT_BYTES} bytes, got ${d.data.byteLength}`);
    if (!d.mediaType) bad(n.mediaType, "is required with the document's bytes");
    if (!OCR_MEDIA_TYPES.has(d.mediaType)) bad(n.mediaType, `must be one of ${[...OCR_MEDIA_TYPES].join(", ")}; got "${d.mediaType}"`);
    if (d.mediaType === "application/pdf" && !startsWith(d.data, "%PDF-")) bad(n.document, "is not a PDF: it does not start with %PDF-");
    if (d.mediaType.includes("officedocument") && !startsWith(d.data, "PK\x03\x04")) bad(n.document, `is not a ${d.mediaType.includes("word") ? "DOCX" : "PPTX"} file (a ZIP archive)`);
    const sniffed = sniffImageType(d.data);
    if (sniffed && d.mediaType !== sniffed && ["image/png", "image/jpeg", "image/webp"].includes(d.mediaType)) bad(n.mediaType, `says ${d.mediaType}, but the bytes are ${sniffed}`);
  }
  const pages = r.pages ?? [];
  if (pages.length > MAX_OCR_PAGES) bad(n.pages, `at most ${MAX_OCR_PAGES} pages, got ${pages.length}`);
  const seen = new Set<number>();
  pages.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p > 99_999) bad(`${n.pages}[${i}]`, `must be a page index from 0, got ${p}`);
    if (seen.has(p)) bad(`${n.pages}[${i}]`, `page ${p} is named twice`);
    seen.add(p);
  });
  if (r.tableFormat !== undefined && r.tableFormat !== "markdown" && r.tableFormat !== "html") bad(n.tableFormat, `must be "markdown" or "html", got "${r.tableFormat}"`);
  if (r.imageLimit !== undefined && !(Number.isInteger(r.imageLimit) && r.imageLimit >= 0 && r.imageLimit <= 10_000)) bad(n.imageLimit, `must be an integer from 0 to 10000, got ${r.imageLimit}`);
  if (r.imageMinSize !== undefined && !(Number.isInteger(r.imageMinSize) && r.imageMinSize >= 0 && r.imageMinSize <= 10_000)) bad(n.imageMinSize, `must be an integer from 0 to 10000, got ${r.imageMinSize}`);
  for (const [a, field] of [
    [r.documentAnnotation, n.documentAnnotation],
    [r.bboxAnnotation, n.bboxAnnotation],
  ] as const) {
    if (!a) continue;
    if (a.schema === null || typeof a.schema !== "object" || Array.isArray(a.schema)) bad(field, "must be a JSON Schema object");
    if (JSON.stringify(a.schema).length > 100_000) bad(field, "at most 100,000 characters of schema");
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(a.name)) bad(field, `its name must be 1 to 64 letters, digits, underscores or dashes, got "${a.name}"`);
    const compiles = schemaCompiles(a.schema);
    if (compiles !== true) bad(field, `is not a valid JSON Schema: ${compiles}`);
  }
  if ((r.documentAnnotation?.prompt?.length ?? 0) > 10_000) bad(n.documentAnnotation, "its prompt is at most 10,000 characters");
  validateAttribution(c, n.routing);
}

/** A request's cache TTL, when it gives one. */
export function validateCacheTtl(field: string, ttlSeconds: number | undefined, max: number): void {
  if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > max)) bad(field, `must be an integer between 1 and ${max} seconds, got ${ttlSeconds}`);
}

const DIMENSIONS = new Set<number>(Object.values(Dimension));
const GRANULARITIES = new Set<number>(Object.values(Granularity));

const tsMs = (t: Timestamp | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);

function validateRange(start: Timestamp | undefined, end: Timestamp | undefined, required: boolean) {
  const s = tsMs(start);
  const e = tsMs(end);
  if (required && s === undefined) bad("start_time", "is required");
  if (s !== undefined && e !== undefined && e <= s) bad("end_time", "must be after start_time");
}

function validateFilters(filters: { dimension: Dimension; values: string[] }[]) {
  filters.forEach((f, i) => {
    if (f.dimension === Dimension.UNSPECIFIED || !DIMENSIONS.has(f.dimension)) bad(`filters[${i}].dimension`, "is required");
    if (f.values.length === 0) bad(`filters[${i}].values`, "needs at least one value");
  });
}

export function validateGetUsage(r: GetUsageRequest): void {
  validateRange(r.startTime, r.endTime, true);
  if (!GRANULARITIES.has(r.granularity)) bad("granularity", `unknown value ${r.granularity}`);
  r.groupBy.forEach((d, i) => {
    if (d === Dimension.UNSPECIFIED || !DIMENSIONS.has(d)) bad(`group_by[${i}]`, `unknown dimension ${d}`);
  });
  validateFilters(r.filters);
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const checkTraceId = (v: string) => {
  if (v && !TRACE_ID.test(v)) bad("trace_id", `must be 32 lowercase hex characters (a W3C trace id), got ${JSON.stringify(v.slice(0, 40))}`);
};

export function validateListRequests(r: ListRequestsRequest): void {
  validateRange(r.startTime, r.endTime, false);
  validateFilters(r.filters);
  if (r.pageSize > 1000) bad("page_size", "must be at most 1000");
  checkTraceId(r.traceId);
}

export function validateGetRequest(r: GetRequestRequest): void {
  if (!r.id && !r.traceId) bad("id", "one of id and trace_id is required");
  if (r.id && r.traceId) bad("trace_id", "give id or trace_id, not both");
  if (r.id.length > 256) bad("id", `must be at most 256 characters, got ${r.id.length}`);
  checkTraceId(r.traceId);
}

export function validateGetBudget(r: GetBudgetRequest): void {
  if (r.user.length > 256) bad("user", "at most 256 characters");
}
