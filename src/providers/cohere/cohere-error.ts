// Classifies Cohere failures into FailureKinds. Cohere's errors are `{"message": "…"}` (sometimes
// with the request's `id`) and say what they are by status alone (docs.cohere.com/reference/errors;
// the cohere-ai SDK maps 400, 401, 403, 404, 422, 429, 498, 499, 500, 501, 503 and 504).

import { clip, header, kindOfStatus, retryAfterMs, tryJson, type Headers } from "../headers.ts";
import { redactSecrets } from "../openai/openai-error.ts";
import type { FailureKind } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { CohereErrorWire } from "./cohere-api-types.ts";

export interface CohereErrorContext {
  /** Prefix for messages: the connection's name. */
  label?: string;
  /** Secrets scrubbed from messages (the connection's API key), whatever an upstream or proxy echoes. */
  secrets?: string[];
}

/** A trial key's monthly call limit is a 429 too, but waiting seconds does not help. */
const MONTHLY_QUOTA = /per[ -]month|\/ ?month|monthly/i;

function kindFor(status: number, message: string): { kind: FailureKind; retryable?: boolean } {
  if (status === 498) return { kind: "upstream_auth" }; // the SDK's InvalidTokenError
  if (status === 499) return { kind: "canceled" };
  if (status === 429 && MONTHLY_QUOTA.test(message)) return { kind: "quota_exhausted", retryable: false };
  return kindOfStatus(status);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The error body's message and id; a non-JSON body is shown only when it is short plain text (not a proxy's HTML page). */
function parseBody(body: string): { message?: string; id?: string } {
  const json = tryJson(body);
  if (json !== null && typeof json === "object" && !Array.isArray(json)) {
    const o = json as CohereErrorWire & { error?: unknown };
    const nested = o.error !== null && typeof o.error === "object" ? (o.error as { message?: unknown }).message : o.error;
    return { message: str(o.message) ?? str(nested), id: str(o.id) };
  }
  const raw = body.trim();
  return raw !== "" && !raw.startsWith("<") ? { message: raw } : {};
}

/** Remove the connection's secrets, then anything key-shaped (a Cohere key is 40 letters and digits). */
export function redactCohere(s: string, secrets: string[] = []): string {
  let out = s;
  for (const secret of secrets) if (secret && secret.length >= 6) out = out.split(secret).join("[redacted]");
  return redactSecrets(out);
}

/** Classify a non-2xx Cohere response. */
export function classifyCohereError(status: number, body: string, headers: Headers = {}, ctx: CohereErrorContext = {}): ProviderError {
  const p = parseBody(body);
  const message = p.message ?? "";
  const c = kindFor(status, message);
  // Redact before clipping: a clipped key would no longer look like one.
  const text = message === "" ? `cohere ${status}` : `cohere ${status}: ${clip(redactCohere(message, ctx.secrets), 300)}`;
  return new ProviderError({
    kind: c.kind,
    message: ctx.label ? `${ctx.label}: ${text}` : text,
    status,
    retryAfterMs: c.kind === "quota_exhausted" ? undefined : retryAfterMs(headers),
    requestId: header(headers, "x-request-id") ?? header(headers, "x-debug-trace-id") ?? p.id,
    retryable: c.retryable,
  });
}
