// Classifies Anthropic failures into FailureKinds (wire-formats §3.5, §7, §8.6): non-2xx responses,
// error bodies inside a 200, and in-band `event: error` stream events all go through here.

import { clip, header, retryAfterMs, shouldRetryHeader, tryJson, type Headers } from "../headers.ts";
import type { FailureKind } from "../types.ts";
import { ProviderError } from "../types.ts";

export interface AnthropicErrorContext {
  /** Prefix for messages: the connection's name. */
  label?: string;
  /** The connection's key, scrubbed from messages in case an upstream or proxy ever echoes it. */
  apiKey?: string;
  /** Kind for an error that neither its status nor its type explains. */
  fallbackKind?: FailureKind;
}

interface Classified {
  kind: FailureKind;
  retryable?: boolean;
}

interface ParsedError {
  type?: string;
  message?: string;
  errorCode?: string;
  requestId?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** Reads `{type:"error", error:{type, message, details?:{error_code}}, request_id}`, tolerating proxies' shapes. */
function parseErrorBody(body: string): ParsedError {
  const json = tryJson(body);
  if (json === null || typeof json !== "object") return {};
  const o = json as Record<string, unknown>;
  const err = o.error;
  if (err !== null && typeof err === "object") {
    const e = err as Record<string, unknown>;
    const details = e.details !== null && typeof e.details === "object" ? (e.details as Record<string, unknown>) : undefined;
    return { type: str(e.type), message: str(e.message), errorCode: str(details?.error_code), requestId: str(o.request_id) };
  }
  return { message: str(err) ?? str(o.message), requestId: str(o.request_id) };
}

const CONTEXT_LENGTH = /prompt is too long|exceeds? context limit/i;
const CONTENT_FILTER = /content filtering policy/i;
// 400 "Your credit balance is too low…"; 400 "You have reached your specified API usage limits…"
// (a workspace/org spend limit the account owner set).
const QUOTA = /credit balance is too low|usage limits?\b|spend(ing)? limit/i;

/** invalid_request_error is a catch-all: the message says what it really is. */
function byMessage(message: string): Classified | undefined {
  if (CONTEXT_LENGTH.test(message)) return { kind: "context_length_exceeded" };
  if (CONTENT_FILTER.test(message)) return { kind: "content_filtered" };
  if (QUOTA.test(message)) return { kind: "quota_exhausted", retryable: false };
  return undefined;
}

/**
 * A 429 is usually a transient rate limit (with retry-after), but the tier's monthly spend cap is
 * also a 429 rate_limit_error: it carries `enforced_spend_limit_reached` and no retry-after, and
 * retrying it is pointless until the month turns.
 */
function rateLimit(p: ParsedError, hasRetryAfter: boolean): Classified {
  if (p.errorCode === "enforced_spend_limit_reached") return { kind: "quota_exhausted", retryable: false };
  if (!hasRetryAfter && p.message !== undefined && QUOTA.test(p.message)) return { kind: "quota_exhausted", retryable: false };
  return { kind: "rate_limited" };
}

function byType(p: ParsedError, hasRetryAfter: boolean): Classified | undefined {
  switch (p.type) {
    case "invalid_request_error":
      return byMessage(p.message ?? "") ?? { kind: "bad_request" };
    case "authentication_error":
    case "permission_error":
      return { kind: "upstream_auth" };
    case "billing_error":
      return { kind: "quota_exhausted" };
    case "not_found_error":
      return { kind: "model_not_found" };
    case "request_too_large":
      // More than 32 MB never fits, however often it is sent.
      return { kind: "bad_request", retryable: false };
    case "rate_limit_error":
      return rateLimit(p, hasRetryAfter);
    case "api_error":
      return { kind: "server_error" };
    case "timeout_error":
      return { kind: "timeout" };
    case "overloaded_error":
      return { kind: "overloaded" };
    case "conflict_error":
      // The SDKs retry 409; there is no conflict kind, and the upstream is healthy otherwise.
      return { kind: "server_error", retryable: true };
    default:
      return undefined;
  }
}

function classify(status: number | undefined, p: ParsedError, hasRetryAfter: boolean, fallback: FailureKind): Classified {
  const t = byType(p, hasRetryAfter);
  if (status === undefined) return t ?? (p.message !== undefined ? byMessage(p.message) : undefined) ?? { kind: fallback };
  switch (status) {
    case 400:
      return t ?? byMessage(p.message ?? "") ?? { kind: "bad_request" };
    case 401:
    case 403:
      return { kind: "upstream_auth" };
    case 402:
      return { kind: "quota_exhausted" };
    case 404:
      return { kind: "model_not_found" };
    case 408:
      return { kind: "timeout" };
    case 409:
      return { kind: "server_error", retryable: true };
    case 413:
      // Often Cloudflare's HTML page, before the API sees the request.
      return { kind: "bad_request", retryable: false };
    case 429:
      return rateLimit(p, hasRetryAfter);
    case 503:
    case 529:
      return { kind: "overloaded" };
    case 504:
      return { kind: "timeout" };
  }
  if (status >= 500) {
    // A 500 may still say overloaded_error or timeout_error: the type is more precise.
    if (t && (t.kind === "overloaded" || t.kind === "timeout" || t.kind === "server_error")) return t;
    return { kind: "server_error" };
  }
  if (status >= 400) return t ?? { kind: "bad_request" };
  return { kind: "unknown" };
}

function redact(s: string, apiKey: string | undefined): string {
  let out = s.replace(/sk-ant-[A-Za-z0-9_-]{6,}/g, "[redacted]");
  if (apiKey && apiKey.length >= 8) out = out.split(apiKey).join("[redacted]");
  return out;
}

/**
 * Classify an Anthropic error. `status` is the HTTP status, or undefined for an error that came
 * inside a 200 (an `event: error` in a stream, or an error body in a unary answer).
 */
export function classifyAnthropicError(
  status: number | undefined,
  body: string,
  headers: Headers = {},
  ctx: AnthropicErrorContext = {},
): ProviderError {
  const p = parseErrorBody(body);
  const retryAfter = retryAfterMs(headers);
  const c = classify(status, p, retryAfter !== undefined, ctx.fallbackKind ?? "unknown");

  let detail = p.message;
  if (detail === undefined) {
    const raw = body.trim();
    // Non-JSON bodies (proxies, Cloudflare) are shown only when they are short plain text.
    if (raw !== "" && !raw.startsWith("<") && tryJson(raw) === undefined) detail = raw;
  }
  const what = [status === undefined ? "anthropic error" : `anthropic ${status}`, p.type].filter(Boolean).join(" ");
  const text = detail === undefined ? what : `${what}: ${clip(detail, 300)}`;

  return new ProviderError({
    kind: c.kind,
    message: redact(ctx.label ? `${ctx.label}: ${text}` : text, ctx.apiKey),
    status,
    retryAfterMs: retryAfter,
    providerCode: p.errorCode ?? p.type,
    requestId: header(headers, "request-id") ?? p.requestId,
    // The upstream's own x-should-retry wins over every default (as in the official SDKs).
    retryable: shouldRetryHeader(headers) ?? c.retryable,
  });
}
