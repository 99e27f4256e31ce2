// Bedrock error classification: the error type from x-amzn-errortype or the body's __type, the
// status as a fallback, context-length messages, retry hints and secret redaction.
import assert from "node:assert/strict";
import { test } from "node:test";
import { classifyBedrockError, normaliseErrorType } from "../../../src/providers/bedrock/index.ts";

const hdr = (type: string, extra: Record<string, string> = {}) => ({ "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, "x-amzn-requestid": "rid", ...extra });

const CASES: [number, string, string, string, boolean?][] = [
  [429, "ThrottlingException", "Too many requests, please wait before trying again.", "rate_limited"],
  [429, "ThrottlingException", "Too many tokens per day, please wait before trying again.", "quota_exhausted", false],
  [429, "ModelNotReadyException", "Model is not ready", "overloaded", true],
  [503, "ServiceUnavailableException", "Bedrock is unable to process your request.", "overloaded"],
  [400, "ValidationException", "Input is too long for requested model.", "context_length_exceeded"],
  [400, "ValidationException", "prompt is too long: 210000 tokens > 200000 maximum", "context_length_exceeded"],
  [400, "ValidationException", "The model returned the following errors: max_tokens: Input should be a valid integer", "bad_request"],
  [400, "ServiceQuotaExceededException", "Your request exceeds the service quota", "quota_exhausted", false],
  [403, "AccessDeniedException", "You don't have access to the model with the specified model ID.", "upstream_auth"],
  [403, "UnrecognizedClientException", "The security token included in the request is invalid.", "upstream_auth"],
  [403, "InvalidSignatureException", "The request signature we calculated does not match", "upstream_auth"],
  [400, "ExpiredTokenException", "The security token included in the request is expired", "upstream_auth"],
  [404, "ResourceNotFoundException", "Could not resolve the foundation model", "model_not_found"],
  [408, "ModelTimeoutException", "Model has timed out", "timeout"],
  [424, "ModelErrorException", "The model returned an error", "server_error"],
  [500, "InternalServerException", "Internal error", "server_error"],
];

for (const [status, type, message, kind, retryable] of CASES) {
  test(`${status} ${type}: "${message.slice(0, 40)}" → ${kind}`, () => {
    const e = classifyBedrockError(status, JSON.stringify({ message }), hdr(type), { label: "bedrock" });
    assert.equal(e.kind, kind);
    assert.equal(e.status, status);
    assert.equal(e.providerCode, type);
    assert.equal(e.requestId, "rid");
    assert.equal(e.retryable, retryable);
    assert.equal(e.message, `bedrock: bedrock ${status} ${type}: ${message}`);
  });
}

test("the type from the body's __type when the header is missing; the status alone otherwise", () => {
  assert.equal(classifyBedrockError(400, JSON.stringify({ __type: "com.amazon.coral.service#UnrecognizedClientException", message: "x" })).kind, "upstream_auth");
  assert.equal(classifyBedrockError(429, "").kind, "rate_limited");
  assert.equal(classifyBedrockError(502, "<html>Bad gateway</html>").kind, "server_error");
  assert.equal(classifyBedrockError(502, "<html>Bad gateway</html>").message, "bedrock 502");
  assert.equal(classifyBedrockError(504, "").kind, "timeout");
  assert.equal(normaliseErrorType("throttlingException"), "ThrottlingException");
});

test("retry-after is kept; secrets an upstream echoes are redacted", () => {
  const e = classifyBedrockError(429, JSON.stringify({ message: "slow down" }), hdr("ThrottlingException", { "retry-after": "2" }));
  assert.equal(e.retryAfterMs, 2000);
  const secret = ["very", "secret", "value", "123"].join("-");
  const r = classifyBedrockError(403, JSON.stringify({ message: `bad key ${secret}` }), hdr("AccessDeniedException"), { secrets: [secret] });
  assert.ok(!r.message.includes(secret));
  assert.match(r.message, /\[redacted\]/);
});
