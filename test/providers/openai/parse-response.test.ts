import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createOpenAIAdapter } from "../../../src/providers/openai/index.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { fixture, makeConn, VENDOR } from "./helpers.ts";

const openai = createOpenAIAdapter(makeConn("openai"));
const azure = createOpenAIAdapter(makeConn("azure", { apiVersion: "2024-10-21" }));
const openrouter = createOpenAIAdapter(makeConn("openrouter"));

function rejects(fn: () => unknown, check: (e: ProviderError) => void): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProviderError, `expected a ProviderError, got ${String(caught)}`);
  check(caught);
}

describe("parseResponse: openai", () => {
  it("tool call response (§1.3)", () => {
    assert.deepEqual(openai.parseResponse(fixture("openai", "chat-tool-call.json"), {}), {
      id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
      model: "gpt-4o-2024-08-06",
      text: "",
      toolCalls: [{ id: "call_O17Uplv4lJvD6DVdIvFFeRMw", name: "get_weather", arguments: '{"city":"Paris"}' }],
      finishReason: "tool_calls",
      rawFinishReason: "tool_calls",
      usage: { inputTokens: 82, outputTokens: 17, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    });
  });

  it("text with cached, cache-write and reasoning tokens; unknown fields ignored", () => {
    assert.deepEqual(openai.parseResponse(fixture("openai", "chat-text-cached.json"), {}), {
      id: "chatcmpl-C1text",
      model: "o4-mini-2025-04-16",
      text: "Paris is the capital of France.",
      toolCalls: [],
      finishReason: "stop",
      rawFinishReason: "stop",
      usage: { inputTokens: 2006, outputTokens: 300, cachedInputTokens: 1920, cacheWriteTokens: 64, reasoningTokens: 192 },
    });
  });

  it("refusal", () => {
    const r = openai.parseResponse(fixture("openai", "chat-refusal.json"), {});
    assert.equal(r.refusal, "I'm sorry, I can't help with that.");
    assert.equal(r.text, "");
    assert.equal(r.finishReason, "stop");
  });

  it("forced tool call reported with finish_reason stop is tool_calls, raw kept", () => {
    const body = JSON.parse(fixture("openai", "chat-tool-call.json"));
    body.choices[0].finish_reason = "stop";
    const r = openai.parseResponse(JSON.stringify(body), {});
    assert.equal(r.finishReason, "tool_calls");
    assert.equal(r.rawFinishReason, "stop");
  });

  it("a body that is not JSON is a server_error with the request id", () => {
    rejects(
      () => openai.parseResponse("<html>oops</html>", { "x-request-id": "req_1" }),
      (e) => {
        assert.equal(e.kind, "server_error");
        assert.equal(e.requestId, "req_1");
      },
    );
    rejects(() => openai.parseResponse('{"id":"x","choices":[]}', {}), (e) => assert.equal(e.kind, "server_error"));
  });
});

describe("parseResponse: azure", () => {
  it("text with filter annotations (§2.4)", () => {
    assert.deepEqual(azure.parseResponse(fixture("azure", "chat-text.json"), { "apim-request-id": "apim-1" }), {
      id: "chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt",
      model: "gpt-4o-2024-11-20",
      text: "Copenhagen.",
      toolCalls: [],
      finishReason: "stop",
      rawFinishReason: "stop",
      usage: { inputTokens: 15, outputTokens: 78, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 64 },
    });
  });

  it("content_filter finish on a 200 is a success", () => {
    const r = azure.parseResponse(fixture("azure", "chat-content-filter.json"), {});
    assert.equal(r.finishReason, "content_filter");
    assert.equal(r.rawFinishReason, "content_filter");
    assert.equal(r.text, "Here is how");
  });
});

describe("parseResponse: openrouter", () => {
  it("text with cost and cache writes (§5.3)", () => {
    assert.deepEqual(openrouter.parseResponse(fixture("openrouter", "chat-text.json"), {}), {
      id: "gen-1747-abcdef",
      model: "openai/gpt-4o",
      text: "Hello there!",
      toolCalls: [],
      finishReason: "stop",
      rawFinishReason: "stop",
      usage: { inputTokens: 194, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 100, reasoningTokens: 0, providerCostUsd: 0.95 },
    });
  });

  it("reasoning and tool calls", () => {
    assert.deepEqual(openrouter.parseResponse(fixture("openrouter", "chat-reasoning.json"), {}), {
      id: "gen-1747-reason",
      model: "anthropic/claude-sonnet-4.5",
      text: "",
      reasoning: "The user wants weather; call the tool.",
      toolCalls: [{ id: "toolu_01A", name: "get_weather", arguments: '{"city":"Oslo"}' }],
      finishReason: "tool_calls",
      // OpenRouter's native_finish_reason (the upstream provider's own) is the raw value.
      rawFinishReason: "tool_use",
      usage: { inputTokens: 500, outputTokens: 60, cachedInputTokens: 400, cacheWriteTokens: 0, reasoningTokens: 20, providerCostUsd: 0.00234 },
    });
  });

  it("cost is only reported for OpenRouter", () => {
    assert.equal(openai.parseResponse(fixture("openrouter", "chat-text.json"), {}).usage?.providerCostUsd, undefined);
  });

  it("a 200 with choices[0].error throws, classified by error_type", () => {
    rejects(
      () => openrouter.parseResponse(fixture("openrouter", "chat-choice-error.json"), {}),
      (e) => {
        assert.equal(e.kind, "server_error");
        assert.equal(e.status, 502);
        assert.equal(e.message, "Provider disconnected mid-stream");
        assert.equal(e.providerCode, "provider_unavailable");
      },
    );
  });

  it("a 200 with a top-level error throws", () => {
    rejects(
      () => openrouter.parseResponse(fixture("openrouter", "chat-top-level-error.json"), { "retry-after": "3" }),
      (e) => {
        assert.equal(e.kind, "rate_limited");
        assert.equal(e.status, 429);
        assert.equal(e.retryAfterMs, 3000);
        assert.equal(e.message, "Rate limit exceeded");
      },
    );
  });

  it("finish_reason error without an error object still throws", () => {
    const body = JSON.parse(fixture("openrouter", "chat-text.json"));
    body.choices[0].finish_reason = "error";
    rejects(() => openrouter.parseResponse(JSON.stringify(body), {}), (e) => assert.equal(e.kind, "server_error"));
  });
});

describe("parseResponse: compat servers", () => {
  it("vLLM reasoning_content, missing completion_tokens derived from total", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.vllm }));
    const r = a.parseResponse(
      JSON.stringify({
        id: "chatcmpl-v",
        object: "chat.completion",
        model: "Qwen/Qwen3-8B",
        choices: [{ index: 0, message: { role: "assistant", content: "Hi", reasoning_content: "Greeting." }, finish_reason: "stop", stop_reason: null }],
        usage: { prompt_tokens: 9, total_tokens: 20 },
      }),
      {},
    );
    assert.equal(r.reasoning, "Greeting.");
    assert.equal(r.text, "Hi");
    assert.deepEqual(r.usage, { inputTokens: 9, outputTokens: 11, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it("Mistral content chunks with thinking, model_length, num_cached_tokens", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.mistral }));
    const r = a.parseResponse(
      JSON.stringify({
        id: "cmpl-m",
        object: "chat.completion",
        model: "magistral-medium-2509",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: [
                { type: "thinking", thinking: [{ type: "text", text: "Let me think." }] },
                { type: "text", text: "42" },
              ],
            },
            finish_reason: "model_length",
          },
        ],
        usage: { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150, num_cached_tokens: 80 },
      }),
      {},
    );
    assert.equal(r.text, "42");
    assert.equal(r.reasoning, "Let me think.");
    assert.equal(r.finishReason, "length");
    assert.equal(r.rawFinishReason, "model_length");
    assert.equal(r.usage?.cachedInputTokens, 80);
  });

  it("Ollama tool call with object arguments and no id", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.ollama }));
    const r = a.parseResponse(
      JSON.stringify({
        id: "chatcmpl-o",
        model: "llama3.2:latest",
        system_fingerprint: "fp_ollama",
        choices: [{ index: 0, message: { role: "assistant", content: "", tool_calls: [{ function: { name: "f", arguments: { a: 1 } } }] }, finish_reason: "stop" }],
      }),
      {},
    );
    assert.deepEqual(r.toolCalls, [{ id: "call_0", name: "f", arguments: '{"a":1}' }]);
    assert.equal(r.finishReason, "tool_calls");
    assert.equal(r.usage, undefined);
  });

  it("Groq unary usage via x_groq.usage when usage is absent", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR.groq }));
    const r = a.parseResponse(
      JSON.stringify({
        id: "chatcmpl-g",
        model: "llama-3.3-70b-versatile",
        choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
        x_groq: { id: "req_1", usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } },
      }),
      {},
    );
    assert.deepEqual(r.usage, { inputTokens: 5, outputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });
});
