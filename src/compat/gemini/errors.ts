// Gateway errors as Gemini sends them: google.rpc.Status in `{"error": {code, message, status}}`,
// with the HTTP statuses the @google/genai SDK turns into ApiError (and retries on, when asked:
// 408, 429 and 5xx). A wait the gateway knows travels as a RetryInfo detail and retry-after.

import { errorFacts, type GatewayCode } from "../../router/errors.ts";

export interface GeminiError {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: number; message: string; status: string; details?: unknown[] } };
}

const STATUS: Record<GatewayCode, [number, string]> = {
  canceled: [499, "CANCELLED"],
  unknown: [500, "UNKNOWN"],
  invalid_argument: [400, "INVALID_ARGUMENT"],
  deadline_exceeded: [504, "DEADLINE_EXCEEDED"],
  not_found: [404, "NOT_FOUND"],
  already_exists: [409, "ALREADY_EXISTS"],
  permission_denied: [403, "PERMISSION_DENIED"],
  resource_exhausted: [429, "RESOURCE_EXHAUSTED"],
  failed_precondition: [400, "FAILED_PRECONDITION"],
  aborted: [409, "ABORTED"],
  out_of_range: [400, "OUT_OF_RANGE"],
  unimplemented: [501, "UNIMPLEMENTED"],
  internal: [500, "INTERNAL"],
  unavailable: [503, "UNAVAILABLE"],
  data_loss: [500, "DATA_LOSS"],
  unauthenticated: [401, "UNAUTHENTICATED"],
};

export function toGeminiError(err: unknown): GeminiError {
  const { code, message, field, retryAfterMs } = errorFacts(err);
  let [status, name] = STATUS[code];
  // A body over the size limit: Google answers 400 for an oversized payload.
  if (code === "resource_exhausted" && field === "body") [status, name] = [400, "INVALID_ARGUMENT"];
  const headers: Record<string, string> = {};
  const body: GeminiError["body"] = { error: { code: status, message, status: name } };
  if (retryAfterMs !== undefined && (status === 429 || status === 503)) {
    const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
    headers["retry-after"] = String(s);
    body.error.details = [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${s}s` }];
  }
  return { status, headers, body };
}

/** An error after the stream's first chunk: a `data:` event holding the Status, as Gemini sends one mid-stream. */
export function errorChunk(e: GeminiError): string {
  return `data: ${JSON.stringify(e.body)}\r\n\r\n`;
}
