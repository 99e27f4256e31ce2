// Gateway errors in Anthropic's error shape, with the statuses its SDK turns into its own error
// classes and retries on (408, 409, 429 and 5xx, 529 included, unless x-should-retry says no).

import { errorFacts, type GatewayCode } from "../../router/errors.ts";

export interface AnthropicError {
  status: number;
  headers: Record<string, string>;
  body: { type: "error"; error: { type: string; message: string }; request_id: string };
}

const STATUS: Record<GatewayCode, [number, string]> = {
  canceled: [499, "api_error"],
  unknown: [500, "api_error"],
  invalid_argument: [400, "invalid_request_error"],
  deadline_exceeded: [504, "timeout_error"],
  not_found: [404, "not_found_error"],
  already_exists: [409, "conflict_error"],
  permission_denied: [403, "permission_error"],
  resource_exhausted: [429, "rate_limit_error"],
  failed_precondition: [400, "invalid_request_error"],
  aborted: [409, "conflict_error"],
  out_of_range: [400, "invalid_request_error"],
  unimplemented: [400, "invalid_request_error"],
  internal: [500, "api_error"],
  unavailable: [500, "api_error"],
  data_loss: [500, "api_error"],
  unauthenticated: [401, "authentication_error"],
};

/**
 * A gateway error as Anthropic would send it. Every candidate overloaded, or none could be tried
 * (all cooling down), is 529 overloaded_error; other upstream failures are 500 api_error (the
 * upstream's own credentials or model are never the caller's 401 or 404). A body over the size
 * limit is 413 request_too_large; an exhausted budget a 429 the SDK is told not to retry.
 */
export function toAnthropicError(err: unknown, requestId: string): AnthropicError {
  const { code, message, field, failureKind, retryAfterMs, refusal, attempted } = errorFacts(err);
  let [status, type] = STATUS[code];
  if (code === "unavailable" && (failureKind === "overloaded" || !attempted)) [status, type] = [529, "overloaded_error"];
  if (code === "resource_exhausted" && field === "body") [status, type] = [413, "request_too_large"];
  const headers: Record<string, string> = { "request-id": requestId };
  if (refusal === "budget") headers["x-should-retry"] = "false";
  else if (retryAfterMs !== undefined && (status === 429 || status === 529)) {
    headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    // Not Anthropic's own header, but its SDK reads it first: waits under a second stay short.
    headers["retry-after-ms"] = String(Math.max(1, Math.round(retryAfterMs)));
  }
  return { status, headers, body: { type: "error", error: { type, message }, request_id: requestId } };
}

/** An error after the stream's first event: Anthropic's in-stream `event: error`. */
export function errorEvent(e: AnthropicError): string {
  return `event: error\ndata: ${JSON.stringify({ type: "error", error: e.body.error, request_id: e.body.request_id })}\n\n`;
}
