// Classifies Bedrock failures into FailureKinds: non-2xx responses (the error type from the
// `x-amzn-errortype` header or the body's `__type`), and the exception frames of an event stream
// (`:exception-type`, camel-cased: "throttlingException").

import { clip, header, retryAfterMs, tryJson, type Headers } from "../headers.ts";
import type { FailureKind } from "../types.ts";
import { ProviderError } from "../types.ts";

export interface BedrockErrorContext {
  /** Prefix for messages: the connection's name. */
  label?: string;
  /** Secrets scrubbed from messages in case an upstream or proxy ever echoes one. */
  secrets?: string[];
  /** The error type when it is not in the response (an event-stream exception's type). */
  type?: string;
  /** Kind for an error that neither its status nor its type explains. */
  fallbackKind?: FailureKind;
}

interface Classified {
  kind: FailureKind;
  retryable?: boolean;
}

/** "ValidationException:http://internal.amazon.com/coral/…", "com.amazon.coral.service#UnrecognizedClientException", "throttlingException" → "ThrottlingException". */
export function normaliseErrorType(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let t = raw.trim();
  const colon = t.indexOf(":");
  if (colon > 0) t = t.slice(0, colon);
  const hash = t.lastIndexOf("#");
  if (hash >= 0) t = t.slice(hash + 1);
  if (t === "") return undefined;
  return t[0].toUpperCase() + t.slice(1);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function parseBody(body: string): { type?: string; message?: string } {
  const json = tryJson(body);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    const raw = body.trim();
    // Non-JSON bodies (proxies, load balancers) are shown only when they are short plain text.
    return raw !== "" && !raw.startsWith("<") ? { message: raw } : {};
  }
  const o = json as Record<string, unknown>;
  return { type: str(o.__type) ?? str(o.code) ?? str(o.Code), message: str(o.message) ?? str(o.Message) ?? str(o.originalMessage) };
}

const CONTEXT_LENGTH = /too long|context (window|length)|maximum context|prompt is too long|exceeds? (the )?(maximum|max)[\w ]*tokens|too many (input )?tokens/i;
/** A daily token quota is a ThrottlingException too, but waiting seconds does not help. */
const DAILY_QUOTA = /per day/i;
const AUTH_TYPES = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignatureException",
  "MissingAuthenticationTokenException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
]);

function byType(type: string | undefined, message: string): Classified | undefined {
  if (type === undefined) return undefined;
  if (AUTH_TYPES.has(type)) return { kind: "upstream_auth" };
  switch (type) {
    case "ValidationException":
      return CONTEXT_LENGTH.test(message) ? { kind: "context_length_exceeded" } : { kind: "bad_request" };
    case "ThrottlingException":
      return DAILY_QUOTA.test(message) ? { kind: "quota_exhausted", retryable: false } : { kind: "rate_limited" };
    case "ServiceQuotaExceededException":
      return { kind: "quota_exhausted", retryable: false };
    case "ServiceUnavailableException":
      return { kind: "overloaded" };
    // The model is being loaded (imported or on-demand custom models): Bedrock itself retries it.
    case "ModelNotReadyException":
      return { kind: "overloaded", retryable: true };
    case "ResourceNotFoundException":
      return { kind: "model_not_found" };
    case "ModelTimeoutException":
      return { kind: "timeout" };
    case "InternalServerException":
    case "InternalFailure":
      return { kind: "server_error" };
    // The model itself failed (424), or failed mid-stream.
    case "ModelErrorException":
    case "ModelStreamErrorException":
      return { kind: "server_error" };
    case "ConflictException":
      return { kind: "bad_request" };
    default:
      return undefined;
  }
}

function byStatus(status: number, message: string): Classified {
  switch (status) {
    case 400:
      return CONTEXT_LENGTH.test(message) ? { kind: "context_length_exceeded" } : { kind: "bad_request" };
    case 401:
    case 403:
      return { kind: "upstream_auth" };
    case 404:
      return { kind: "model_not_found" };
    case 408:
      return { kind: "timeout" };
    case 413:
      return { kind: "bad_request", retryable: false };
    case 424:
      return { kind: "server_error" };
    case 429:
      return { kind: "rate_limited" };
    case 503:
      return { kind: "overloaded" };
    case 504:
      return { kind: "timeout" };
  }
  if (status >= 500) return { kind: "server_error" };
  if (status >= 400) return { kind: "bad_request" };
  return { kind: "unknown" };
}

function redact(s: string, secrets: string[] | undefined): string {
  let out = s;
  for (const secret of secrets ?? []) if (secret && secret.length >= 8) out = out.split(secret).join("[redacted]");
  return out;
}

/**
 * Classify a Bedrock error. `status` is the HTTP status, or undefined for an exception frame of an
 * event stream (its type in ctx.type, its payload in `body`).
 */
export function classifyBedrockError(status: number | undefined, body: string, headers: Headers = {}, ctx: BedrockErrorContext = {}): ProviderError {
  const p = parseBody(body);
  const type = normaliseErrorType(header(headers, "x-amzn-errortype")) ?? normaliseErrorType(p.type) ?? normaliseErrorType(ctx.type);
  const message = p.message ?? "";
  const c = byType(type, message) ?? (status === undefined ? { kind: ctx.fallbackKind ?? "unknown" } : byStatus(status, message));
  const what = [status === undefined ? "bedrock stream error" : `bedrock ${status}`, type].filter(Boolean).join(" ");
  const text = message === "" ? what : `${what}: ${clip(message, 300)}`;
  return new ProviderError({
    kind: c.kind,
    message: redact(ctx.label ? `${ctx.label}: ${text}` : text, ctx.secrets),
    status,
    retryAfterMs: retryAfterMs(headers),
    providerCode: type,
    requestId: header(headers, "x-amzn-requestid"),
    retryable: c.retryable,
  });
}
