// One test per error row of wire-formats §1.5, §2.5, §5.5, §6 and §7 / §8.6.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createOpenAIAdapter } from "../../../src/providers/openai/index.ts";
import { redactSecrets, retryHintMs } from "../../../src/providers/openai/openai-error.ts";
import type { FailureKind } from "../../../src/providers/types.ts";
import { makeConn } from "./helpers.ts";

const adapter = createOpenAIAdapter(makeConn("openai"));
type H = Record<string, string>;

function classify(status: number, body: unknown, headers: H = {}) {
  return adapter.classifyError(status, typeof body === "string" ? body : JSON.stringify(body), headers);
}

function oai(message: string, type: string | null, code: string | null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

function expectKind(status: number, body: unknown, kind: FailureKind, headers: H = {}) {
  const e = classify(status, body, headers);
  assert.equal(e.kind, kind);
  assert.equal(e.status, status);
  return e;
}

describe("classifyError: OpenAI (§1.5)", () => {
  it("400 context_length_exceeded", () => {
    const e = expectKind(
      400,
      oai(
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
      ),
      "context_length_exceeded",
    );
    assert.equal(e.providerCode, "context_length_exceeded");
    assert.equal(e.retryable, undefined);
  });

  it("400 invalid_prompt is a content filter", () => {
    expectKind(
      400,
      oai("Invalid prompt: your prompt was flagged as potentially violating our usage policy.", "invalid_request_error", "invalid_prompt"),
      "content_filtered",
    );
  });

  it("400 unsupported_parameter / unknown parameter is a bad request", () => {
    const e = expectKind(
      400,
      oai(
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        "invalid_request_error",
        "unsupported_parameter",
        "max_tokens",
      ),
      "bad_request",
    );
    assert.equal(e.providerCode, "unsupported_parameter");
    expectKind(400, oai("Unrecognized request argument supplied: foo", "invalid_request_error", null), "bad_request");
  });

  it("401 invalid_api_key is upstream_auth and the echoed key is redacted", () => {
    const e = expectKind(
      401,
      oai(
        "Incorrect API key provided: sk-proj-AbCd****************************************************wxYZ. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
      ),
      "upstream_auth",
      { "x-request-id": "req_abc" },
    );
    assert.equal(e.message, "Incorrect API key provided: [redacted]. You can find your API key at https://platform.openai.com/account/api-keys.");
    assert.doesNotMatch(e.message, /AbCd|wxYZ|sk-/);
    assert.equal(e.requestId, "req_abc");
  });

  it("403 unsupported region is upstream_auth", () => {
    expectKind(403, oai("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"), "upstream_auth");
  });

  it("404 model_not_found", () => {
    expectKind(
      404,
      oai("The model `gpt-9` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
      "model_not_found",
    );
  });

  it("408 is a timeout", () => {
    expectKind(408, oai("Request timed out.", null, null), "timeout");
  });

  it("409 conflict is a retryable server_error", () => {
    const e = expectKind(409, oai("Conflict", null, null), "server_error");
    assert.equal(e.retryable, true);
  });

  it("422 is a bad request", () => {
    expectKind(422, oai("Unprocessable entity", "invalid_request_error", null), "bad_request");
  });

  it("429 rate_limit_exceeded: retryable, delay from the body hint as a last resort", () => {
    const body = oai(
      "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s. Visit https://platform.openai.com/account/rate-limits to learn more.",
      "tokens",
      "rate_limit_exceeded",
    );
    const e = expectKind(429, body, "rate_limited");
    assert.equal(e.retryAfterMs, 2000);
    assert.equal(e.retryable, undefined);
    // Headers take precedence: retry-after-ms first, then retry-after.
    assert.equal(classify(429, body, { "retry-after-ms": "1500.4", "retry-after": "9" }).retryAfterMs, 1500);
    assert.equal(classify(429, body, { "retry-after": "9" }).retryAfterMs, 9000);
  });

  it("429 Request too large (Requested > Limit) is rate_limited but never retryable", () => {
    const e = expectKind(
      429,
      oai(
        "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 250011. The input or output tokens must be reduced in order to run successfully.",
        "tokens",
        "rate_limit_exceeded",
      ),
      "rate_limited",
    );
    assert.equal(e.retryable, false);
  });

  it("429 insufficient_quota is quota_exhausted, not retryable", () => {
    const e = expectKind(
      429,
      oai("You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota"),
      "quota_exhausted",
    );
    assert.equal(e.retryable, false);
    assert.equal(e.providerCode, "insufficient_quota");
  });

  it("500 server_error", () => {
    expectKind(500, oai("The server had an error while processing your request. Sorry about that!", "server_error", null), "server_error");
  });

  it("502 is a server_error, 503 overloaded, 504 timeout", () => {
    expectKind(502, oai("Bad gateway.", "server_error", null), "server_error");
    expectKind(503, oai("The engine is currently overloaded, please try again later", "server_error", null), "overloaded");
    expectKind(504, oai("Gateway timeout.", null, null), "timeout");
  });

  it("x-should-retry overrides the default", () => {
    assert.equal(classify(500, oai("x", "server_error", null), { "x-should-retry": "false" }).retryable, false);
    assert.equal(classify(400, oai("x", "invalid_request_error", null), { "x-should-retry": "true" }).retryable, true);
  });

  it("a non-JSON body is classified by status without dumping HTML", () => {
    const e = expectKind(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "server_error");
    assert.equal(e.message, "HTTP 502");
    assert.equal(classify(503, "upstream connect error or disconnect/reset before headers").message, "upstream connect error or disconnect/reset before headers");
    assert.equal(classify(503, "").kind, "overloaded");
  });
});

describe("classifyError: Azure (§2.5)", () => {
  const az = createOpenAIAdapter(makeConn("azure", { apiVersion: "2024-10-21" }));

  it("400 content_filter with innererror ResponsibleAIPolicyViolation", () => {
    const body = {
      error: {
        message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: "prompt",
        code: "content_filter",
        status: 400,
        innererror: {
          code: "ResponsibleAIPolicyViolation",
          content_filter_result: { hate: { filtered: true, severity: "medium" }, jailbreak: { detected: true, filtered: true } },
        },
      },
    };
    const e = az.classifyError(400, JSON.stringify(body), { "apim-request-id": "apim-1" });
    assert.equal(e.kind, "content_filtered");
    assert.equal(e.providerCode, "content_filter");
    assert.equal(e.requestId, "apim-1");
    // The spec spells it inner_error; a code that is not content_filter still classifies by it.
    const spec = { error: { message: "filtered", code: "BadRequest", inner_error: { code: "ResponsibleAIPolicyViolation" } } };
    assert.equal(az.classifyError(400, JSON.stringify(spec), {}).kind, "content_filtered");
  });

  it("400 context_length_exceeded", () => {
    const body = { error: { message: "This model's maximum context length is 8192 tokens.", type: "invalid_request_error", param: "messages", code: "context_length_exceeded" } };
    assert.equal(az.classifyError(400, JSON.stringify(body), {}).kind, "context_length_exceeded");
  });

  it("401 with string code", () => {
    const body = { error: { code: "401", message: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource." } };
    const e = az.classifyError(401, JSON.stringify(body), {});
    assert.equal(e.kind, "upstream_auth");
    assert.equal(e.providerCode, "401");
  });

  it("404 DeploymentNotFound", () => {
    const body = { error: { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again." } };
    const e = az.classifyError(404, JSON.stringify(body), {});
    assert.equal(e.kind, "model_not_found");
    assert.equal(e.providerCode, "DeploymentNotFound");
  });

  it("429 with string code: retry-after-ms header first, body 'retry after 6 seconds' otherwise", () => {
    const body = JSON.stringify({
      error: {
        code: "429",
        message:
          "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
      },
    });
    const e = az.classifyError(429, body, { "retry-after-ms": "5500", "retry-after": "6", "x-request-id": "x-1" });
    assert.equal(e.kind, "rate_limited");
    assert.equal(e.retryAfterMs, 5500);
    assert.equal(e.requestId, "x-1");
    assert.equal(e.retryable, undefined);
    assert.equal(az.classifyError(429, body, {}).retryAfterMs, 6000);
  });

  it("500 / 503 InternalServerError", () => {
    const body = JSON.stringify({ error: { code: "InternalServerError", message: "The server had an error while processing your request. Sorry about that!" } });
    assert.equal(az.classifyError(500, body, {}).kind, "server_error");
    assert.equal(az.classifyError(503, body, {}).kind, "overloaded");
  });

  it("redacts a 32-hex Azure key echoed in a message", () => {
    const body = JSON.stringify({ error: { code: "401", message: "Key 0123456789abcdef0123456789abcdef is invalid" } });
    assert.equal(az.classifyError(401, body, {}).message, "Key [redacted] is invalid");
  });

  it("redacts before clipping, so a key cut by the length limit does not leak in part", () => {
    const body = JSON.stringify({ error: { code: "401", message: `${"x ".repeat(243)}key 0123456789abcdef0123456789abcdef is invalid` } });
    const m = az.classifyError(401, body, {}).message;
    assert.doesNotMatch(m, /0123456789/);
    assert.equal(m.length, 501);
  });
});

describe("classifyError: OpenRouter (§5.5)", () => {
  const or = createOpenAIAdapter(makeConn("openrouter"));
  const orErr = (status: number, body: unknown, headers: H = {}) => or.classifyError(status, JSON.stringify(body), headers);

  it("400 Provider returned error: the reason inside metadata.raw classifies", () => {
    const raw = JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" } });
    const e = orErr(400, { error: { code: 400, message: "Provider returned error", metadata: { provider_name: "Anthropic", raw } } });
    assert.equal(e.kind, "context_length_exceeded");
    assert.equal(e.message, "Provider returned error: prompt is too long: 210000 tokens > 200000 maximum (Anthropic)");
    const plain = orErr(400, { error: { code: 400, message: "Provider returned error", metadata: { provider_name: "X", raw: "temperature out of range" } } });
    assert.equal(plain.kind, "bad_request");
  });

  it("typed error_type context_length_exceeded", () => {
    const e = orErr(400, { error: { code: 400, message: "Input too long", metadata: { error_type: "context_length_exceeded", provider_code: "context_length_exceeded" } } });
    assert.equal(e.kind, "context_length_exceeded");
    assert.equal(e.providerCode, "context_length_exceeded");
  });

  it("typed error_type invalid_request / content_policy_violation / timeout / provider_overloaded", () => {
    assert.equal(orErr(400, { error: { code: 400, message: "bad", metadata: { error_type: "invalid_request" } } }).kind, "bad_request");
    assert.equal(orErr(400, { error: { code: 400, message: "no", metadata: { error_type: "content_policy_violation" } } }).kind, "content_filtered");
    assert.equal(orErr(504, { error: { code: 504, message: "slow", metadata: { error_type: "timeout" } } }).kind, "timeout");
    assert.equal(orErr(503, { error: { code: 503, message: "busy", metadata: { error_type: "provider_overloaded" } } }).kind, "overloaded");
  });

  it("401 invalid credentials", () => {
    assert.equal(orErr(401, { error: { code: 401, message: "No auth credentials found" } }).kind, "upstream_auth");
  });

  it("402 insufficient credits is quota_exhausted, not retryable", () => {
    const e = orErr(402, { error: { code: 402, message: "Insufficient credits. Add more using https://openrouter.ai/credits" } });
    assert.equal(e.kind, "quota_exhausted");
    assert.equal(e.retryable, false);
  });

  it("403 moderation is a content filter; flagged input is not echoed", () => {
    const e = orErr(403, {
      error: {
        code: 403,
        message: "openai/gpt-4o requires moderation on OpenAI. Your input was flagged for \"harassment\".",
        metadata: { reasons: ["harassment"], flagged_input: "you are a terrible...", provider_name: "OpenAI", model_slug: "openai/gpt-4o" },
      },
    });
    assert.equal(e.kind, "content_filtered");
    assert.doesNotMatch(e.message, /terrible/);
    assert.match(e.message, /reasons: harassment/);
  });

  it("403 guardrail is a content filter", () => {
    const e = orErr(403, { error: { code: 403, message: "Request blocked: prompt injection patterns detected", metadata: { patterns: ["ignore previous"] } } });
    assert.equal(e.kind, "content_filtered");
  });

  it("availability capacity_exhausted: rate_limited, retryable, retry_after from the body", () => {
    const e = orErr(429, {
      error: {
        message: "All providers for anthropic/claude-sonnet-4.5 are at capacity. Retry after 40 seconds.",
        error_type: "rate_limit_exceeded",
        http_status: 429,
        availability: { code: "capacity_exhausted", retryable: true, retry_after: 40, requested_models: [], affected_providers: [], fallback_models: [] },
        metadata: { previous_errors: [{ provider: "anthropic", code: "capacity_exhausted", status: 429 }] },
      },
    });
    assert.equal(e.kind, "rate_limited");
    assert.equal(e.retryable, true);
    assert.equal(e.retryAfterMs, 40000);
    assert.equal(e.providerCode, "rate_limit_exceeded");
  });

  it("availability codes: no_endpoints / model_deprecated → model_not_found, temporarily_unavailable → overloaded, region_restricted → upstream_auth", () => {
    const avail = (status: number, code: string, retryable = false) =>
      orErr(status, { error: { message: code, http_status: status, availability: { code, retryable } } });
    assert.equal(avail(404, "no_endpoints").kind, "model_not_found");
    assert.equal(avail(404, "model_deprecated").kind, "model_not_found");
    assert.equal(avail(400, "wrong_endpoint").kind, "model_not_found");
    const t = avail(503, "temporarily_unavailable", true);
    assert.equal(t.kind, "overloaded");
    assert.equal(t.retryable, true);
    assert.equal(avail(403, "region_restricted").kind, "upstream_auth");
  });

  it("unknown model id (400) is model_not_found", () => {
    assert.equal(orErr(400, { error: { message: "bogus/model is not a valid model ID", code: 400 } }).kind, "model_not_found");
  });

  it("408 timeout, 502 model down, 503 no provider with Retry-After", () => {
    assert.equal(orErr(408, { error: { code: 408, message: "Request timed out" } }).kind, "timeout");
    assert.equal(orErr(502, { error: { code: 502, message: "Provider returned error" } }).kind, "server_error");
    const e = orErr(503, { error: { code: 503, message: "No endpoints found matching your data policy" } }, { "retry-after": "12" });
    assert.equal(e.kind, "overloaded");
    assert.equal(e.retryAfterMs, 12000);
  });

  it("redacts an OpenRouter key", () => {
    assert.equal(redactSecrets("bad key sk-or-v1-0a1b2c3d4e5f"), "bad key [redacted]");
  });
});

describe("classifyError: OpenAI-compatible servers (§6)", () => {
  it("Ollama 404 model not found (nested) and native string error", () => {
    const e = classify(404, { error: { message: 'model "llama9" not found, try pulling it first', type: "api_error", param: null, code: null } });
    assert.equal(e.kind, "model_not_found");
    assert.equal(e.message, 'model "llama9" not found, try pulling it first');
    const n = classify(404, { error: 'model "llama9" not found, try pulling it first' });
    assert.equal(n.kind, "model_not_found");
    assert.equal(n.message, 'model "llama9" not found, try pulling it first');
  });

  it("vLLM flat body: context overflow and plain bad request", () => {
    const ctx = classify(400, {
      object: "error",
      message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).",
      type: "BadRequestError",
      param: null,
      code: 400,
    });
    assert.equal(ctx.kind, "context_length_exceeded");
    assert.equal(ctx.providerCode, "BadRequestError");
    assert.equal(classify(400, { object: "error", message: "temperature must be >= 0", type: "BadRequestError", param: null, code: 400 }).kind, "bad_request");
  });

  it("vLLM nested body with int code", () => {
    const e = classify(404, { error: { message: "The model `foo` does not exist.", type: "NotFoundError", param: null, code: 404 } });
    assert.equal(e.kind, "model_not_found");
  });

  it("Mistral 422 detail[] is a bad request; the offending input is not echoed", () => {
    const e = classify(422, {
      object: "error",
      message: { detail: [{ type: "extra_forbidden", loc: ["body", "seed"], msg: "Extra inputs are not permitted", input: 123456789 }] },
      type: "invalid_request_error",
      param: null,
      code: null,
    });
    assert.equal(e.kind, "bad_request");
    assert.equal(e.message, "body.seed: Extra inputs are not permitted (extra_forbidden)");
    const fastapi = classify(422, { detail: [{ type: "missing", loc: ["body", "messages"], msg: "Field required" }] });
    assert.equal(fastapi.message, "body.messages: Field required (missing)");
  });

  it("Groq 498 capacity_exceeded is overloaded", () => {
    const e = classify(498, { error: { message: "Flex tier capacity exceeded. Please try again later.", type: "capacity_exceeded", code: "capacity_exceeded" } });
    assert.equal(e.kind, "overloaded");
  });

  it("Groq 499 request cancelled", () => {
    assert.equal(classify(499, { error: { message: "Request cancelled", type: "invalid_request_error" } }).kind, "canceled");
  });

  it("Groq 400 tool_use_failed, 413 too large, 424 failed dependency, 429 TPM too large", () => {
    assert.equal(
      classify(400, { error: { message: "Failed to call a function.", type: "invalid_request_error", code: "tool_use_failed", failed_generation: "<function=x>" } }).kind,
      "bad_request",
    );
    assert.equal(classify(413, { error: { message: "Request Entity Too Large", type: "invalid_request_error" } }).kind, "bad_request");
    assert.equal(classify(424, { error: { message: "Failed Dependency", type: "internal_server_error" } }).kind, "server_error");
    const big = classify(429, {
      error: { message: "Request too large for model `llama-3.3-70b-versatile` on tokens per minute (TPM): Limit 6000, Requested 9000, please reduce your message size and try again.", type: "tokens", code: "rate_limit_exceeded" },
    });
    assert.equal(big.kind, "rate_limited");
    assert.equal(big.retryable, false);
  });

  it("Groq key in a message is redacted", () => {
    assert.equal(redactSecrets("Invalid API Key: gsk_abcDEF123456"), "Invalid API Key: [redacted]");
  });

  it("Together 503 Engine Overloaded and 402 spend limit", () => {
    assert.equal(classify(503, { error: { message: "Engine Overloaded", type: "server_error" } }).kind, "overloaded");
    assert.equal(classify(402, { error: { message: "Credit limit exceeded", type: "credit_limit" } }).kind, "quota_exhausted");
  });
});

describe("body retry hints", () => {
  it("parses Go-style and worded durations", () => {
    assert.equal(retryHintMs("Please try again in 2s."), 2000);
    assert.equal(retryHintMs("Please try again in 1.234s."), 1234);
    assert.equal(retryHintMs("Please try again in 250ms."), 250);
    assert.equal(retryHintMs("Please try again in 1m30s."), 90000);
    assert.equal(retryHintMs("Please retry after 6 seconds."), 6000);
    assert.equal(retryHintMs("nothing here"), undefined);
  });

  it("redacts bearer tokens and partially masked sk- keys", () => {
    assert.equal(redactSecrets("header Bearer abc.def.ghi was wrong"), "header Bearer [redacted] was wrong");
    assert.equal(redactSecrets("Incorrect API key provided: sk-abc...wxyz."), "Incorrect API key provided: [redacted].");
    assert.equal(redactSecrets("req_0123456789abcdef0123456789abcdef stays"), "req_0123456789abcdef0123456789abcdef stays");
  });
});
