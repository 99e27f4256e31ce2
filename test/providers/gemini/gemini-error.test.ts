import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createGeminiAdapter } from "../../../src/providers/gemini/index.ts";
import type { FailureKind } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { API_KEY, conn, fixtureText } from "./gemini-test-utils.ts";

const adapter = createGeminiAdapter(conn());

function status(code: number, st: string, message: string, details?: unknown[]): string {
  return JSON.stringify({ error: { code, message, status: st, ...(details ? { details } : {}) } });
}

interface Row {
  name: string;
  status: number;
  body: string;
  headers?: Record<string, string>;
  kind: FailureKind;
  providerCode?: string;
  retryAfterMs?: number;
  retryable?: boolean;
}

const rows: Row[] = [
  {
    name: "400 INVALID_ARGUMENT → bad_request",
    status: 400,
    body: status(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\": Cannot find field."),
    kind: "bad_request",
    providerCode: "INVALID_ARGUMENT",
  },
  {
    name: "400 INVALID_ARGUMENT + ErrorInfo API_KEY_INVALID → upstream_auth",
    status: 400,
    body: fixtureText("error-400-api-key-invalid.json"),
    kind: "upstream_auth",
    providerCode: "API_KEY_INVALID",
  },
  {
    name: "400 input token count exceeds the maximum → context_length_exceeded",
    status: 400,
    body: status(400, "INVALID_ARGUMENT", "The input token count (1300000) exceeds the maximum number of tokens allowed (1048575)."),
    kind: "context_length_exceeded",
    providerCode: "INVALID_ARGUMENT",
  },
  {
    name: "400 FAILED_PRECONDITION (region / billing) → upstream_auth",
    status: 400,
    body: status(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
    kind: "upstream_auth",
    providerCode: "FAILED_PRECONDITION",
  },
  {
    name: "401 UNAUTHENTICATED → upstream_auth",
    status: 401,
    body: status(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
    kind: "upstream_auth",
    providerCode: "UNAUTHENTICATED",
  },
  {
    name: "402 RESOURCE_EXHAUSTED (prepaid credit) → quota_exhausted, not retryable",
    status: 402,
    body: status(402, "RESOURCE_EXHAUSTED", "Your prepaid credits are exhausted."),
    kind: "quota_exhausted",
    providerCode: "RESOURCE_EXHAUSTED",
    retryable: false,
  },
  {
    name: "403 PERMISSION_DENIED (API_KEY_SERVICE_BLOCKED) → upstream_auth",
    status: 403,
    body: status(403, "PERMISSION_DENIED", "Requests to this API are blocked.", [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_SERVICE_BLOCKED", domain: "googleapis.com" },
    ]),
    kind: "upstream_auth",
    providerCode: "API_KEY_SERVICE_BLOCKED",
  },
  {
    name: "404 NOT_FOUND model → model_not_found",
    status: 404,
    body: status(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent."),
    kind: "model_not_found",
    providerCode: "NOT_FOUND",
  },
  {
    name: "404 NOT_FOUND file → bad_request (the caller's reference)",
    status: 404,
    body: status(404, "NOT_FOUND", "File files/abc123 does not exist or you do not have permission to access it."),
    kind: "bad_request",
  },
  {
    name: "429 RESOURCE_EXHAUSTED per-minute with RetryInfo 34.4s → rate_limited",
    status: 429,
    body: fixtureText("error-429-retry-info.json"),
    kind: "rate_limited",
    providerCode: "RESOURCE_EXHAUSTED",
    retryAfterMs: 34_400,
  },
  {
    name: "429 RetryInfo 0.5s → rate_limited 500 ms",
    status: 429,
    body: status(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "0.5s" },
    ]),
    kind: "rate_limited",
    retryAfterMs: 500,
  },
  {
    name: "429 hint only in the message → rate_limited with that delay",
    status: 429,
    body: status(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric: x, limit: 10. Please retry in 48.8s."),
    kind: "rate_limited",
    retryAfterMs: 48_800,
  },
  {
    name: "429 retry-after header wins over the body hint",
    status: 429,
    body: fixtureText("error-429-retry-info.json"),
    headers: { "retry-after": "3" },
    kind: "rate_limited",
    retryAfterMs: 3000,
  },
  {
    name: "429 per-day QuotaFailure → quota_exhausted, not retryable, no delay",
    status: 429,
    body: fixtureText("error-429-daily.json"),
    kind: "quota_exhausted",
    providerCode: "RESOURCE_EXHAUSTED",
    retryable: false,
  },
  {
    name: "429 limit: 0 (model not in the plan) → quota_exhausted",
    status: 429,
    body: status(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric: generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro", [
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "20s" },
    ]),
    kind: "quota_exhausted",
    retryable: false,
  },
  {
    // The provider cancelled, not our caller: a server-side failure, worth a fallback.
    name: "499 CANCELLED → server_error",
    status: 499,
    body: status(499, "CANCELLED", "The operation was cancelled."),
    kind: "server_error",
  },
  {
    name: "500 INTERNAL → server_error",
    status: 500,
    body: status(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
    kind: "server_error",
    providerCode: "INTERNAL",
  },
  {
    name: "503 UNAVAILABLE → overloaded",
    status: 503,
    body: status(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    kind: "overloaded",
    providerCode: "UNAVAILABLE",
  },
  {
    name: "504 DEADLINE_EXCEEDED → timeout",
    status: 504,
    body: status(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    kind: "timeout",
    providerCode: "DEADLINE_EXCEEDED",
  },
  { name: "502 HTML from a proxy → server_error", status: 502, body: "<html><body>Bad Gateway</body></html>", kind: "server_error" },
  { name: "429 without a body → rate_limited", status: 429, body: "", kind: "rate_limited" },
];

describe("classifyError", () => {
  for (const row of rows) {
    it(row.name, () => {
      const e = adapter.classifyError(row.status, row.body, row.headers ?? {});
      assert.ok(e instanceof ProviderError);
      assert.equal(e.kind, row.kind);
      assert.equal(e.status, row.status);
      if ("providerCode" in row) assert.equal(e.providerCode, row.providerCode);
      assert.equal(e.retryAfterMs, row.retryAfterMs);
      assert.equal(e.retryable, row.retryable);
    });
  }

  it("builds the message from the provider's message", () => {
    const e = adapter.classifyError(503, status(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), {});
    assert.equal(e.message, "gemini: 503 UNAVAILABLE: The model is overloaded. Please try again later.");
    assert.equal(adapter.classifyError(502, "", {}).message, "gemini: HTTP 502");
  });

  it("never puts an API key in the message", () => {
    // Key-shaped on purpose; assembled so that secret scanners do not mistake it for a leak.
    const other = "AIza" + "SyOTHERKEY0123456789abcdefghijklmnopq";
    const leaky = status(400, "INVALID_ARGUMENT", `API key not valid: ${API_KEY}; also ${other} and https://x/?key=abc123def&alt=sse`);
    const e = adapter.classifyError(400, leaky, {});
    assert.equal(e.kind, "upstream_auth");
    assert.ok(!e.message.includes(API_KEY));
    assert.ok(!e.message.includes("AIzaSyOTHERKEY"));
    assert.ok(!e.message.includes("abc123def"));
    assert.equal(e.message, "gemini: 400 INVALID_ARGUMENT: API key not valid: [redacted]; also [redacted] and https://x/?key=[redacted]&alt=sse");
    const raw = adapter.classifyError(500, `upstream said ${API_KEY}`, {});
    assert.ok(!raw.message.includes(API_KEY));
  });
});
