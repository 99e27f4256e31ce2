import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createAnthropicAdapter } from "../../../src/providers/anthropic/anthropic-adapter.ts";
import { classifyAnthropicError } from "../../../src/providers/anthropic/anthropic-error.ts";
import type { ProviderConfig } from "../../../src/config/types.ts";
import type { FailureKind } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";

// Key-shaped on purpose (the redaction must catch this shape); assembled so that secret
// scanners do not mistake the test for a leak.
const KEY = ["sk", "ant", "api03", "SECRETSECRETSECRET", "abcdef"].join("-");

const conn = {
  name: "claude-main",
  type: "anthropic",
  baseUrl: "https://api.anthropic.com",
  apiKey: KEY,
  headers: {},
} as unknown as ProviderConfig;

const adapter = createAnthropicAdapter(conn);

function body(type: string, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: "error", error: { type, message, ...extra }, request_id: "req_body_1" });
}

interface Row {
  name: string;
  status: number;
  body: string;
  headers?: Record<string, string>;
  kind: FailureKind;
  retryable?: boolean;
  providerCode?: string;
}

const ROWS: Row[] = [
  { name: "400 invalid_request_error", status: 400, body: body("invalid_request_error", "max_tokens: Field required"), kind: "bad_request", providerCode: "invalid_request_error" },
  {
    name: "400 prompt is too long",
    status: 400,
    body: body("invalid_request_error", "prompt is too long: 213462 tokens > 200000 maximum"),
    kind: "context_length_exceeded",
  },
  {
    name: "400 input length and max_tokens exceed context limit",
    status: 400,
    body: body("invalid_request_error", "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000, decrease input length or `max_tokens` and try again"),
    kind: "context_length_exceeded",
  },
  {
    name: "400 output blocked by content filtering",
    status: 400,
    body: body("invalid_request_error", "Output blocked by content filtering policy"),
    kind: "content_filtered",
  },
  {
    name: "400 credit balance too low",
    status: 400,
    body: body("invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."),
    kind: "quota_exhausted",
    retryable: false,
  },
  {
    name: "400 workspace usage limit",
    status: 400,
    body: body("invalid_request_error", "You have reached your specified API usage limits. You will regain access on 2026-09-01 at 00:00 UTC."),
    kind: "quota_exhausted",
    retryable: false,
  },
  { name: "401 authentication_error", status: 401, body: body("authentication_error", "invalid x-api-key"), kind: "upstream_auth" },
  { name: "402 billing_error", status: 402, body: body("billing_error", "Payment required"), kind: "quota_exhausted" },
  { name: "403 permission_error", status: 403, body: body("permission_error", "Your API key does not have permission to use the specified resource."), kind: "upstream_auth" },
  { name: "404 not_found_error", status: 404, body: body("not_found_error", "model: claude-nope"), kind: "model_not_found" },
  { name: "409 conflict", status: 409, body: body("conflict_error", "Conflict"), kind: "server_error", retryable: true },
  {
    name: "413 request_too_large (Cloudflare HTML body)",
    status: 413,
    body: "<html><head><title>413 Request Entity Too Large</title></head></html>",
    kind: "bad_request",
    retryable: false,
    providerCode: undefined,
  },
  {
    name: "413 request_too_large (JSON body)",
    status: 413,
    body: body("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    kind: "bad_request",
    retryable: false,
  },
  {
    name: "429 rate_limit_error with retry-after",
    status: 429,
    body: body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    headers: { "retry-after": "12" },
    kind: "rate_limited",
  },
  {
    name: "429 enforced_spend_limit_reached (no retry-after)",
    status: 429,
    body: body("rate_limit_error", "You have reached your monthly spend limit.", { details: { error_code: "enforced_spend_limit_reached" } }),
    kind: "quota_exhausted",
    retryable: false,
    providerCode: "enforced_spend_limit_reached",
  },
  {
    name: "429 spend-limit message without retry-after or error_code",
    status: 429,
    body: body("rate_limit_error", "Your organization has reached its monthly spend limit."),
    kind: "quota_exhausted",
    retryable: false,
  },
  { name: "500 api_error", status: 500, body: body("api_error", "Internal server error"), kind: "server_error" },
  { name: "500 overloaded_error body", status: 500, body: body("overloaded_error", "Overloaded"), kind: "overloaded" },
  { name: "502 from a proxy, plain text", status: 502, body: "Bad Gateway", kind: "server_error", providerCode: undefined },
  { name: "503", status: 503, body: "", kind: "overloaded", providerCode: undefined },
  { name: "504 timeout_error", status: 504, body: body("timeout_error", "Request timed out"), kind: "timeout" },
  { name: "529 overloaded_error", status: 529, body: body("overloaded_error", "Overloaded"), headers: { "retry-after": "3" }, kind: "overloaded" },
  { name: "529 without a body", status: 529, body: "", kind: "overloaded", providerCode: undefined },
  { name: "422 unknown 4xx", status: 422, body: "", kind: "bad_request", providerCode: undefined },
];

describe("anthropic classifyError", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const err = adapter.classifyError(row.status, row.body, { "request-id": "req_hdr_1", ...row.headers });
      assert.ok(err instanceof ProviderError);
      assert.equal(err.kind, row.kind);
      assert.equal(err.status, row.status);
      assert.equal(err.retryable, row.retryable);
      assert.equal(err.requestId, "req_hdr_1");
      const expectedCode = "providerCode" in row ? row.providerCode : JSON.parse(row.body).error.type;
      assert.equal(err.providerCode, expectedCode);
    });
  }

  it("message names the connection, status, type and the provider's message", () => {
    const err = adapter.classifyError(404, body("not_found_error", "model: claude-nope"), {});
    assert.equal(err.message, "claude-main: anthropic 404 not_found_error: model: claude-nope");
    const html = adapter.classifyError(413, "<html>too large</html>", {});
    assert.equal(html.message, "claude-main: anthropic 413");
    const text = adapter.classifyError(502, "Bad Gateway", {});
    assert.equal(text.message, "claude-main: anthropic 502: Bad Gateway");
  });

  it("retryAfterMs comes from retry-after / retry-after-ms", () => {
    assert.equal(adapter.classifyError(429, body("rate_limit_error", "slow down"), { "retry-after": "12" }).retryAfterMs, 12_000);
    assert.equal(adapter.classifyError(529, body("overloaded_error", "Overloaded"), { "retry-after-ms": "250.4" }).retryAfterMs, 250);
    assert.equal(adapter.classifyError(500, body("api_error", "x"), {}).retryAfterMs, undefined);
  });

  it("requestId falls back to the body's request_id when the header is missing", () => {
    assert.equal(adapter.classifyError(500, body("api_error", "x"), {}).requestId, "req_body_1");
  });

  it("x-should-retry overrides the default in both directions", () => {
    assert.equal(adapter.classifyError(500, body("api_error", "x"), { "x-should-retry": "false" }).retryable, false);
    assert.equal(adapter.classifyError(400, body("invalid_request_error", "x"), { "x-should-retry": "true" }).retryable, true);
    const spend = body("rate_limit_error", "spend limit", { details: { error_code: "enforced_spend_limit_reached" } });
    assert.equal(adapter.classifyError(429, spend, { "x-should-retry": "true" }).retryable, true);
  });

  it("never puts the API key in the message, even if the upstream echoes it", () => {
    const err = adapter.classifyError(401, body("authentication_error", `invalid x-api-key ${KEY}`), {});
    assert.equal(err.kind, "upstream_auth");
    assert.ok(!err.message.includes(KEY));
    assert.ok(!err.message.includes("SECRETSECRET"));
    assert.equal(err.message, "claude-main: anthropic 401 authentication_error: invalid x-api-key [redacted]");
    const other = classifyAnthropicError(401, `bad key ${"custom-proxy-key-123456"}`, {}, { apiKey: "custom-proxy-key-123456" });
    assert.equal(other.message, "anthropic 401: bad key [redacted]");
  });
});
