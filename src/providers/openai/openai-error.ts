// Classifies failures of every Chat Completions dialect into FailureKinds (wire-formats §1.5, §2.5,
// §5.5, §6, §7, §8.6): OpenAI's nested `{error:{message,type,param,code}}`, Azure's string codes and
// innererror, OpenRouter's numeric codes with `error_type` / availability / moderation metadata,
// vLLM's and Mistral's flat bodies (Mistral 422 `detail[]`), Groq's extra statuses and Ollama's
// bodies. One classifier serves HTTP errors and errors carried inside a 200 (body or stream).

import type { FailureKind } from "../types.ts";
import { ProviderError } from "../types.ts";
import { clip, header, type Headers, retryAfterMs, shouldRetryHeader, tryJson } from "../headers.ts";
import type { OpenAIErrorWire } from "./openai-api-types.ts";

/** What the dialects tell us about one error, normalised. */
export interface OpenAIErrorInfo {
  message: string;
  type?: string;
  /** `code` as a string ("insufficient_quota", "429", "DeploymentNotFound", "400"). */
  code?: string;
  /** A status carried in the body (OpenRouter `code`, vLLM int `code`, Azure "429", `http_status`). */
  status?: number;
  /** OpenRouter `metadata.error_type` (or `error_type` on availability errors). */
  errorType?: string;
  /** Azure `innererror.code`. */
  innerCode?: string;
  availability?: { code?: string; retryable?: boolean; retryAfterMs?: number };
  /** OpenRouter moderation / guardrail metadata was present. */
  moderated: boolean;
  /** Retry hint from the body (availability, metadata, or "try again in 2s"). */
  retryAfterMs?: number;
  /** OpenAI's `param`: the request field the error is about. */
  param?: string;
}

/** OpenRouter `error_type` → kind (§5.5). `unmapped` falls through to the status. */
const ERROR_TYPE_KINDS: Record<string, FailureKind> = {
  context_length_exceeded: "context_length_exceeded",
  max_tokens_exceeded: "context_length_exceeded",
  token_limit_exceeded: "context_length_exceeded",
  authentication: "upstream_auth",
  permission_denied: "upstream_auth",
  payment_required: "quota_exhausted",
  rate_limit_exceeded: "rate_limited",
  provider_overloaded: "overloaded",
  provider_unavailable: "server_error",
  server: "server_error",
  timeout: "timeout",
  not_found: "model_not_found",
  content_policy_violation: "content_filtered",
  refusal: "content_filtered",
  invalid_request: "bad_request",
  invalid_prompt: "bad_request",
  string_too_long: "bad_request",
  precondition_failed: "bad_request",
  payload_too_large: "bad_request",
  unprocessable: "bad_request",
  invalid_image: "bad_request",
  image_too_large: "bad_request",
  image_too_small: "bad_request",
  unsupported_image_format: "bad_request",
  image_not_found: "bad_request",
  image_download_failed: "bad_request",
};

/** OpenRouter `availability.code` → kind. */
const AVAILABILITY_KINDS: Record<string, FailureKind> = {
  model_not_found: "model_not_found",
  wrong_endpoint: "model_not_found",
  no_endpoints: "model_not_found",
  model_deprecated: "model_not_found",
  model_unavailable_upstream: "model_not_found",
  privacy_restricted: "model_not_found",
  constraint_filtered: "model_not_found",
  free_variant_ended: "model_not_found",
  capacity_exhausted: "rate_limited",
  temporarily_unavailable: "overloaded",
  region_restricted: "upstream_auth",
};

/** `code` (or `type`) values that decide the kind whatever the status. */
const CODE_KINDS: Record<string, FailureKind> = {
  content_filter: "content_filtered", // Azure
  invalid_prompt: "content_filtered", // OpenAI policy block
  context_length_exceeded: "context_length_exceeded",
  insufficient_quota: "quota_exhausted",
  invalid_api_key: "upstream_auth",
  model_not_found: "model_not_found",
  DeploymentNotFound: "model_not_found", // Azure
  rate_limit_exceeded: "rate_limited",
  capacity_exceeded: "overloaded", // Groq 498 flex tier
};

const CONTEXT_LENGTH_RE =
  /maximum context length|context[ _]length[ _]exceeded|context window|prompt is too long|exceeds? (?:the )?context limit|input token count .*exceeds/i;
const MODEL_NOT_FOUND_RE = /(?:model|deployment)\b.*(?:does not exist|not found|not a valid model)|not a valid model id/i;
const QUOTA_RE = /exceeded your current quota|credit balance is too low|insufficient (?:credits|balance|funds)/i;

/** Classify a non-2xx response. */
export function classifyOpenAIError(status: number, body: string, headers: Headers): ProviderError {
  const info = parseOpenAIErrorBody(body) ?? fallbackInfo(status, body);
  return buildError(info, status, headers, "unknown");
}

/**
 * Build the error for a failure carried inside a 200 (an OpenRouter body or chunk with `error`, an
 * `event: error`): `payload` is the `error` value, or a whole body that carries one. `fallback` is the
 * kind when nothing in the payload says more.
 */
export function errorFromPayload(payload: unknown, fallback: FailureKind, headers: Headers = {}): ProviderError {
  const root = isObject(payload) && "error" in payload ? payload : { error: payload };
  const info = parseOpenAIErrorValue(root) ?? { message: "upstream reported an error", moderated: false };
  return buildError(info, info.status, headers, fallback);
}

/** Parse an error body of any dialect; undefined if it is not JSON or carries no error. */
export function parseOpenAIErrorBody(body: string): OpenAIErrorInfo | undefined {
  return parseOpenAIErrorValue(tryJson(body));
}

function parseOpenAIErrorValue(root: unknown): OpenAIErrorInfo | undefined {
  if (!isObject(root)) return undefined;
  let e: OpenAIErrorWire;
  if (isObject(root.error)) e = root.error as OpenAIErrorWire;
  else if (typeof root.error === "string") e = { message: root.error }; // Ollama native, some proxies
  else if (root.object === "error" || "message" in root || "detail" in root) e = root as OpenAIErrorWire; // vLLM / Mistral flat, FastAPI
  else return undefined;

  let message = messageText(e.message) ?? messageText((root as { detail?: unknown }).detail) ?? "";
  const meta = isObject(e.metadata) ? e.metadata : undefined;
  const inner = meta ? rawInnerMessage(meta.raw) : undefined;
  if (inner) message = `${message || "Provider returned error"}: ${inner}`;
  if (meta && typeof meta.provider_name === "string" && message) message = `${message} (${meta.provider_name})`;
  if (meta && Array.isArray(meta.reasons) && meta.reasons.length > 0) message = `${message} (reasons: ${meta.reasons.join(", ")})`;

  const code = e.code === null || e.code === undefined ? undefined : String(e.code);
  const avail = isObject(e.availability) ? e.availability : undefined;
  const info: OpenAIErrorInfo = {
    message,
    type: typeof e.type === "string" && e.type ? e.type : undefined,
    code,
    status: embeddedStatus(e),
    errorType: stringOr(meta?.error_type) ?? stringOr(e.error_type),
    innerCode: stringOr((e.innererror ?? e.inner_error)?.code),
    moderated: !!meta && ("reasons" in meta || "flagged_input" in meta || "patterns" in meta),
    param: stringOr((e as { param?: unknown }).param),
  };
  if (avail) {
    info.availability = {
      code: stringOr(avail.code),
      retryable: typeof avail.retryable === "boolean" ? avail.retryable : undefined,
      retryAfterMs: secondsToMs(avail.retry_after),
    };
  }
  info.retryAfterMs = info.availability?.retryAfterMs ?? secondsToMs(meta?.retry_after) ?? retryHintMs(message);
  return info;
}

function fallbackInfo(status: number, body: string): OpenAIErrorInfo {
  const text = body.trim();
  // An HTML error page from a proxy says nothing useful and may be long.
  const message = text === "" || text.startsWith("<") ? `HTTP ${status}` : clip(text, 4000);
  return { message, moderated: false, retryAfterMs: retryHintMs(message) };
}

function buildError(info: OpenAIErrorInfo, status: number | undefined, headers: Headers, fallback: FailureKind): ProviderError {
  const httpStatus = status !== undefined && status >= 200 && status < 300 ? info.status : status;
  const { kind, retryable } = decideKind(info, httpStatus, fallback);
  const shouldRetry = shouldRetryHeader(headers);
  return new ProviderError({
    kind,
    // Redact before clipping: a clipped key would no longer look like one.
    message: clip(redactSecrets(info.message || `HTTP ${httpStatus ?? "error"}`)),
    status: httpStatus,
    retryAfterMs: retryAfterMs(headers) ?? info.retryAfterMs,
    providerCode: providerCode(info),
    requestId: header(headers, "x-request-id") ?? header(headers, "apim-request-id"),
    retryable: shouldRetry ?? retryable,
    ...(info.param ? { param: clip(info.param, 200) } : {}),
  });
}

/** The decision table. Explicit typed signals first, then codes, then messages, then the status. */
function decideKind(info: OpenAIErrorInfo, status: number | undefined, fallback: FailureKind): { kind: FailureKind; retryable?: boolean } {
  const kind = byTypedSignal(info) ?? byMessage(info, status) ?? byStatus(status) ?? fallback;
  let retryable: boolean | undefined;
  if (info.availability?.retryable !== undefined) retryable = info.availability.retryable;
  if (kind === "quota_exhausted") retryable = false;
  if (kind === "rate_limited" && isRequestTooLarge(info.message)) retryable = false; // it will never fit
  if (status === 409 && kind === "server_error") retryable = true;
  return { kind, retryable };
}

function byTypedSignal(info: OpenAIErrorInfo): FailureKind | undefined {
  return (
    lookup(ERROR_TYPE_KINDS, info.errorType) ??
    lookup(AVAILABILITY_KINDS, info.availability?.code) ??
    (info.innerCode === "ResponsibleAIPolicyViolation" || info.moderated ? "content_filtered" : undefined) ??
    lookup(CODE_KINDS, info.code) ??
    (info.type === "insufficient_quota" ? "quota_exhausted" : undefined)
  );
}

function byMessage(info: OpenAIErrorInfo, status: number | undefined): FailureKind | undefined {
  const m = info.message;
  const clientish = status === undefined || status === 400 || status === 404 || status === 413 || status === 422;
  if (clientish && CONTEXT_LENGTH_RE.test(m)) return "context_length_exceeded";
  if (clientish && MODEL_NOT_FOUND_RE.test(m)) return "model_not_found";
  if (QUOTA_RE.test(m)) return "quota_exhausted";
  return undefined;
}

function byStatus(status: number | undefined): FailureKind | undefined {
  if (status === undefined) return undefined;
  switch (status) {
    case 401:
    case 403:
      return "upstream_auth";
    case 402:
      return "quota_exhausted";
    case 404:
      return "model_not_found";
    case 408:
    case 504:
      return "timeout";
    case 409: // conflict: the SDKs retry it
    case 424: // Groq: a dependency of the request failed
      return "server_error";
    case 429:
      return "rate_limited";
    case 498: // Groq flex tier capacity_exceeded
    case 503:
    case 529:
      return "overloaded";
    case 499: // Groq: request cancelled
      return "canceled";
  }
  if (status >= 500) return "server_error";
  if (status >= 400) return "bad_request";
  return undefined;
}

/** OpenAI's 429 "Request too large … Limit 30000, Requested 250011": never retry the same deployment. */
export function isRequestTooLarge(message: string): boolean {
  if (/request too large/i.test(message)) return true;
  const limit = /\bLimit:?\s*([\d,]+)/i.exec(message);
  const requested = /\bRequested:?\s*([\d,]+)/i.exec(message);
  if (!limit || !requested || /\bUsed\b/i.test(message)) return false;
  return Number(requested[1].replace(/,/g, "")) > Number(limit[1].replace(/,/g, ""));
}

/** A delay hint in an error message: "Please try again in 2s", "retry after 6 seconds", "in 1m30s", "in 250ms". */
export function retryHintMs(message: string): number | undefined {
  const m = /(?:try again|retry)\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*(?:ms|milliseconds?|seconds?|secs?|s|minutes?|mins?|m|h)?\s*)+)/i.exec(message);
  if (!m) return undefined;
  let total = 0;
  for (const part of m[1].matchAll(/(\d+(?:\.\d+)?)\s*(ms|milliseconds?|seconds?|secs?|s|minutes?|mins?|m|h)?/gi)) {
    const n = Number(part[1]);
    const unit = (part[2] ?? "s").toLowerCase();
    if (unit === "ms" || unit.startsWith("milli")) total += n;
    else if (unit === "h") total += n * 3_600_000;
    else if (unit === "m" || unit.startsWith("min")) total += n * 60_000;
    else total += n * 1000;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

const SECRET_PATTERNS: RegExp[] = [
  // OpenAI (sk-, sk-proj-), OpenRouter (sk-or-v1-), Groq (gsk_), xAI: also partially masked ones.
  /\b(?:sk|gsk|xai)[-_](?:[A-Za-z0-9_\-*…]|\.{2,}(?=[A-Za-z0-9*]))+/g,
  /\b(Bearer\s+)[^\s"',]+/gi,
  /\b(API key provided:?\s*)[^\s"',]*[^\s"',.;:)]/gi,
];

/** Remove API keys and key-looking tokens from a provider message (OpenAI echoes part of the key). */
export function redactSecrets(s: string): string {
  let out = s;
  for (const re of SECRET_PATTERNS) out = out.replace(re, (_m, prefix?: string) => `${typeof prefix === "string" ? prefix : ""}[redacted]`);
  // Long opaque tokens (Azure keys are 32 hex or 84 alphanumerics) with both letters and digits.
  return out.replace(/\b[A-Za-z0-9]{32,}\b/g, (t) => (/[0-9]/.test(t) && /[A-Za-z]/.test(t) ? "[redacted]" : t));
}

function providerCode(info: OpenAIErrorInfo): string | undefined {
  const candidates = [info.code, info.errorType, info.availability?.code, info.innerCode, info.type].filter(
    (c): c is string => typeof c === "string" && c !== "",
  );
  return candidates.find((c) => !/^\d+$/.test(c)) ?? candidates[0];
}

function embeddedStatus(e: OpenAIErrorWire): number | undefined {
  const candidates = [e.code, e.status, e.http_status];
  for (const c of candidates) {
    const n = typeof c === "number" ? c : typeof c === "string" && /^\d{3}$/.test(c) ? Number(c) : undefined;
    if (n !== undefined && n >= 100 && n <= 599) return n;
  }
  return undefined;
}

function messageText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return formatDetail(v);
  if (isObject(v)) {
    if (Array.isArray(v.detail)) return formatDetail(v.detail); // Mistral 422: message is {detail:[…]}
    if (typeof v.message === "string") return v.message;
    return clip(JSON.stringify(v), 4000);
  }
  return undefined;
}

/** FastAPI / pydantic validation details, without their `input` (which echoes request data). */
function formatDetail(items: unknown[]): string {
  return items
    .map((d) => {
      if (!isObject(d)) return String(d);
      const loc = Array.isArray(d.loc) ? d.loc.join(".") : "";
      const msg = typeof d.msg === "string" ? d.msg : "invalid";
      const type = typeof d.type === "string" ? ` (${d.type})` : "";
      return loc ? `${loc}: ${msg}${type}` : `${msg}${type}`;
    })
    .join("; ");
}

/** OpenRouter `metadata.raw`: the upstream's own body, often JSON-encoded. */
function rawInnerMessage(raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const parsed = typeof raw === "string" ? (tryJson(raw) ?? raw) : raw;
  if (typeof parsed === "string") return clip(parsed, 4000);
  if (isObject(parsed)) {
    const inner = isObject(parsed.error) ? parsed.error.message : parsed.message;
    if (typeof inner === "string") return inner;
    if (typeof parsed.error === "string") return parsed.error;
  }
  return clip(JSON.stringify(parsed), 4000);
}

function lookup(table: Record<string, FailureKind>, key: string | undefined): FailureKind | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

function secondsToMs(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
}

function stringOr(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
