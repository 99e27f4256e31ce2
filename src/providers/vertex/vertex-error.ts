// Classifies Vertex AI failures. Vertex itself (quota, auth, unknown publisher model, bad request)
// answers with google.rpc.Status JSON, which the Gemini classifier already reads; a Claude model's
// own errors keep Anthropic's shape and go to the Anthropic classifier.

import { tryJson, type Headers } from "../headers.ts";
import { classifyAnthropicError } from "../anthropic/index.ts";
import { classifyGeminiError, geminiErrorStatusOf, geminiStatusError } from "../gemini/gemini-error.ts";
import { ProviderError } from "../types.ts";
import { redact } from "./vertex-auth.ts";

export type VertexPublisher = "google" | "anthropic";

/** Context-window overflows as Vertex words them for either publisher. */
const CONTEXT_RE = /prompt is too long|exceeds? (the )?context (limit|window)|input token count.*exceeds the maximum/i;

/**
 * Classify a non-2xx Vertex response for a model of `publisher`. Google-style bodies:
 * RESOURCE_EXHAUSTED → rate_limited (quota_exhausted for daily or zero quotas), UNAVAILABLE →
 * overloaded, UNAUTHENTICATED / PERMISSION_DENIED → upstream_auth, NOT_FOUND → model_not_found,
 * INVALID_ARGUMENT → bad_request or context_length_exceeded. Messages start with the connection's
 * name and never carry a credential.
 */
export function classifyVertexError(status: number, body: string, headers: Headers, publisher: VertexPublisher, label: string): ProviderError {
  const google = googleStatus(body);
  if (google || publisher === "google") {
    // A body that is not google.rpc.Status at all (a proxy's page): the status still classifies it.
    return relabel(google ? geminiStatusError(status, google, headers) : classifyGeminiError(status, body, headers), label);
  }
  return relabel(classifyAnthropicError(status, body, headers), label);
}

/** The google.rpc.Status of a body, if it is one (Anthropic's `{type:"error", error:{type}}` is not). */
function googleStatus(body: string) {
  const s = geminiErrorStatusOf(tryJson(body));
  return s && (typeof s.status === "string" || typeof s.code === "number") ? s : undefined;
}

/** The same failure, said as "<connection>: …" (the classifiers prefix their provider's name). */
export function relabel(err: ProviderError, label: string): ProviderError {
  const text = redact(err.message.replace(/^(gemini|anthropic)(: | (?=\d))/, ""));
  const kind = err.kind === "bad_request" && CONTEXT_RE.test(text) ? "context_length_exceeded" : err.kind;
  return new ProviderError({
    kind,
    message: `${label}: ${text}`,
    status: err.status,
    retryAfterMs: err.retryAfterMs,
    providerCode: err.providerCode,
    requestId: err.requestId,
    retryable: err.retryable,
    usage: err.usage,
    unsent: err.unsent,
    cause: err.cause,
  });
}
