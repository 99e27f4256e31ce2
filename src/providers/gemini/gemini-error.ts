// Classifies Gemini failures (google.rpc.Status bodies: `{"error":{code,message,status,details[]}}`)
// into failure kinds, for HTTP errors and for errors that arrive inside a 200 stream.

import { clip, retryAfterMs, tryJson, type Headers } from "../headers.ts";
import type { FailureKind } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { GeminiErrorDetail, GeminiErrorStatus } from "./gemini-api-types.ts";

/** ErrorInfo reasons that mean the gateway's credential or project is at fault, whatever the status. */
const AUTH_REASONS = new Set([
  "API_KEY_INVALID",
  "API_KEY_EXPIRED",
  "API_KEY_SERVICE_BLOCKED",
  "API_KEY_HTTP_REFERRER_BLOCKED",
  "API_KEY_IP_ADDRESS_BLOCKED",
  "API_KEY_ANDROID_APP_BLOCKED",
  "API_KEY_IOS_APP_BLOCKED",
  "SERVICE_DISABLED",
  "CONSUMER_SUSPENDED",
  "ACCESS_TOKEN_EXPIRED",
  "ACCESS_TOKEN_TYPE_UNSUPPORTED",
]);

const CONTEXT_RE = /input token count.*exceeds the maximum|exceeds the maximum number of tokens allowed/i;

/** The google.rpc.Status inside a parsed body (`{"error":…}`, or that wrapped in a one-element array). */
export function geminiErrorStatusOf(parsed: unknown): GeminiErrorStatus | undefined {
  const v = Array.isArray(parsed) && parsed.length === 1 ? parsed[0] : parsed;
  if (v === null || typeof v !== "object") return undefined;
  const e = (v as { error?: unknown }).error;
  return e !== null && typeof e === "object" && !Array.isArray(e) ? (e as GeminiErrorStatus) : undefined;
}

/** Classify a non-2xx response. `secrets` are scrubbed from the message (the connection's API key). */
export function classifyGeminiError(status: number, body: string, headers: Headers, secrets: string[] = []): ProviderError {
  const err = geminiErrorStatusOf(tryJson(body));
  if (err) return geminiStatusError(status, err, headers, secrets);
  const text = body.trim();
  const kind = kindFor(status, undefined, "", false);
  return new ProviderError({
    kind,
    status,
    message: `gemini: HTTP ${status}${text ? `: ${clip(redact(text, secrets), 200)}` : ""}`,
    retryAfterMs: kind === "quota_exhausted" ? undefined : retryAfterMs(headers),
    retryable: kind === "quota_exhausted" ? false : undefined,
  });
}

/**
 * Classify a google.rpc.Status. `status` is the HTTP status, or `error.code` for an error that arrived
 * inside a 200 stream.
 *
 * Choices worth knowing:
 * - 400 + ErrorInfo reason API_KEY_INVALID (and kin) → upstream_auth: Gemini reports a bad key as 400.
 * - 400 FAILED_PRECONDITION (free tier unavailable in the region, billing not enabled) → upstream_auth:
 *   it is the gateway's project configuration, never the caller's request; another deployment may work.
 * - 429 RESOURCE_EXHAUSTED → rate_limited with the RetryInfo delay, unless a QuotaFailure names a
 *   per-day quota or the limit is 0 (the model is not in the plan at all): then quota_exhausted, not
 *   retryable, and without retryAfterMs (the body's short delay would only invite a useless retry).
 */
export function geminiStatusError(status: number, err: GeminiErrorStatus, headers: Headers, secrets: string[] = []): ProviderError {
  const canon = typeof err.status === "string" ? err.status : undefined;
  const message = typeof err.message === "string" ? err.message : "";
  const details = Array.isArray(err.details) ? err.details.filter((d): d is GeminiErrorDetail => d !== null && typeof d === "object") : [];
  const reason = details.find((d) => typeof d["@type"] === "string" && d["@type"].endsWith("google.rpc.ErrorInfo"))?.reason;
  const kind = kindFor(status, canon, message, isAuthReason(reason, message), details);
  const retryable = kind === "quota_exhausted" ? false : undefined;
  const delay = kind === "quota_exhausted" ? undefined : (retryAfterMs(headers) ?? retryInfoDelay(details) ?? messageDelay(message));
  const label = [status || undefined, canon].filter((x) => x !== undefined).join(" ");
  return new ProviderError({
    kind,
    status: status || undefined,
    message: `gemini: ${label ? `${label}: ` : ""}${clip(redact(message || "(no message)", secrets))}`,
    retryAfterMs: delay,
    providerCode: reason ?? canon,
    retryable,
  });
}

function isAuthReason(reason: string | undefined, message: string): boolean {
  if (reason !== undefined) return AUTH_REASONS.has(reason);
  // Proxies and older deployments drop details; the message is the only signal left.
  return /API key not valid|API key expired/i.test(message);
}

function kindFor(status: number, canon: string | undefined, message: string, authReason: boolean, details: GeminiErrorDetail[] = []): FailureKind {
  if (authReason) return "upstream_auth";
  if (status === 401 || status === 403 || canon === "UNAUTHENTICATED" || canon === "PERMISSION_DENIED") return "upstream_auth";
  if (canon === "FAILED_PRECONDITION") return "upstream_auth";
  if (CONTEXT_RE.test(message)) return "context_length_exceeded";
  if (status === 402) return "quota_exhausted";
  if (status === 429 || canon === "RESOURCE_EXHAUSTED") return isQuotaExhausted(message, details) ? "quota_exhausted" : "rate_limited";
  if (status === 404 || canon === "NOT_FOUND") {
    // A missing Files-API file is the caller's reference, not this deployment's model.
    return /\bfiles\/\S+/i.test(message) && !/\bmodels\//i.test(message) ? "bad_request" : "model_not_found";
  }
  // The provider cancelled, not our caller: a server-side failure worth a fallback.
  if (status === 499 || canon === "CANCELLED") return "server_error";
  if (status === 408 || status === 504 || canon === "DEADLINE_EXCEEDED") return "timeout";
  if (status === 503 || canon === "UNAVAILABLE") return "overloaded";
  if (status >= 500 || status === 409 || canon === "INTERNAL" || canon === "UNKNOWN" || canon === "DATA_LOSS" || canon === "ABORTED") {
    return "server_error";
  }
  if (status >= 400 || canon === "INVALID_ARGUMENT" || canon === "OUT_OF_RANGE") return "bad_request";
  return "unknown";
}

/** Daily quota or a zero limit: waiting seconds will not help. */
function isQuotaExhausted(message: string, details: GeminiErrorDetail[]): boolean {
  for (const d of details) {
    for (const v of Array.isArray(d.violations) ? d.violations : []) {
      if (v === null || typeof v !== "object") continue;
      if (/per[_ -]?day|daily/i.test(`${v.quotaId ?? ""} ${v.quotaMetric ?? ""} ${v.description ?? ""}`)) return true;
      if (v.quotaValue !== undefined && Number(v.quotaValue) === 0) return true;
    }
  }
  return /limit:\s*0(?![\d.])/.test(message) || /per[ _-]?day/i.test(message);
}

/** RetryInfo.retryDelay: a protobuf Duration, "13s" / "0.5s" in JSON (or {seconds, nanos}). */
function retryInfoDelay(details: GeminiErrorDetail[]): number | undefined {
  for (const d of details) {
    const r = d.retryDelay;
    if (typeof r === "string") {
      const m = /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(r);
      if (m) return Math.round(Number(m[1]) * 1000);
    } else if (r !== null && typeof r === "object") {
      const ms = Number(r.seconds ?? 0) * 1000 + Number(r.nanos ?? 0) / 1e6;
      if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
    }
  }
  return undefined;
}

/** "Please retry in 48.8s." / "retry in 767.5ms" in the message. */
function messageDelay(message: string): number | undefined {
  const m = /retry in (\d+(?:\.\d+)?)\s*(ms|s)\b/i.exec(message);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (m[2].toLowerCase() === "ms" ? 1 : 1000));
}

/** Remove anything key-like: the connection's secrets, Google API keys, `key=` query values. */
export function redact(s: string, secrets: string[] = []): string {
  let out = s;
  for (const secret of secrets) if (secret.length >= 6) out = out.split(secret).join("[redacted]");
  return out.replace(/AIza[0-9A-Za-z_-]{30,}/g, "[redacted]").replace(/([?&]key=)[^&\s"']+/gi, "$1[redacted]");
}
