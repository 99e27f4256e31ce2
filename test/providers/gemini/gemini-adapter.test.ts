import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createGeminiAdapter } from "../../../src/providers/gemini/index.ts";
import type { UpstreamRequest } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { API_KEY, conn, fixtureText } from "./gemini-test-utils.ts";

const request: UpstreamRequest = {
  model: "gemini-2.5-flash",
  messages: [
    { role: "system", content: [{ type: "text", text: "You are terse." }] },
    { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
  ],
  temperature: 0.2,
};

describe("createGeminiAdapter.buildRequest", () => {
  it("targets generateContent with x-goog-api-key and a camelCase JSON body", () => {
    const spec = createGeminiAdapter(conn({ headers: { "X-Team": "blue" } })).buildRequest(request, false);
    assert.equal(spec.method, "POST");
    assert.equal(spec.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert.deepEqual(spec.headers, { "x-team": "blue", "content-type": "application/json", "x-goog-api-key": API_KEY });
    assert.deepEqual(JSON.parse(spec.body ?? ""), {
      systemInstruction: { parts: [{ text: "You are terse." }] },
      contents: [{ role: "user", parts: [{ text: "Weather in Paris?" }] }],
      generationConfig: { temperature: 0.2 },
    });
  });

  it("targets streamGenerateContent?alt=sse for streams", () => {
    const spec = createGeminiAdapter(conn()).buildRequest(request, true);
    assert.equal(spec.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  });

  it("accepts a models/ prefix and a base URL that already names the API version", () => {
    const a = createGeminiAdapter(conn({ baseUrl: "https://proxy.internal/google/v1beta/" }));
    assert.equal(a.buildRequest({ ...request, model: "models/gemini-2.5-pro" }, false).path, "/models/gemini-2.5-pro:generateContent");
    const b = createGeminiAdapter(conn({ baseUrl: "https://proxy.internal/google" }));
    assert.equal(b.buildRequest(request, true).path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  });

  it("sends no auth header when the connection has no key", () => {
    const spec = createGeminiAdapter(conn({ apiKey: undefined })).buildRequest(request, false);
    assert.deepEqual(spec.headers, { "content-type": "application/json" });
  });
});

describe("createGeminiAdapter.parseResponse", () => {
  const adapter = createGeminiAdapter(conn());

  it("parses the §4.3 text response with thinking usage", () => {
    assert.deepEqual(adapter.parseResponse(fixtureText("text.json"), {}), {
      id: "Un6LacrVMcjUxs0PmJfWoQc",
      model: "gemini-3-pro-preview",
      text: "There are **3** r's in strawberry.",
      toolCalls: [],
      finishReason: "stop",
      rawFinishReason: "STOP",
      usage: { inputTokens: 9, outputTokens: 28 + 244, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 244 },
    });
  });

  it("turns functionCall parts into tool calls with synthesised ids and STOP into tool_calls", () => {
    const r = adapter.parseResponse(fixtureText("tool-call.json"), {});
    assert.deepEqual(r.toolCalls, [
      { id: "call_b36LacjwM668nsEP2tbsgQQ_0", name: "weather", arguments: '{"location":"San Francisco"}', signature: "EqUCCqIC..." },
      { id: "call_b36LacjwM668nsEP2tbsgQQ_1", name: "weather", arguments: '{"location":"Oakland"}' },
    ]);
    assert.equal(r.text, "");
    assert.equal(r.finishReason, "tool_calls");
    assert.equal(r.rawFinishReason, "STOP");
  });

  it("separates thought parts as reasoning and normalises cached and tool-use prompt tokens", () => {
    const r = adapter.parseResponse(fixtureText("reasoning-cached.json"), {});
    assert.equal(r.text, "Three.");
    assert.equal(r.reasoning, "**Counting letters**\n\nI spell it out.");
    assert.deepEqual(r.usage, { inputTokens: 2140, outputTokens: 122, cachedInputTokens: 2048, cacheWriteTokens: 0, reasoningTokens: 120 });
  });

  it("tolerates a candidate without content (MAX_TOKENS spent on thinking)", () => {
    const r = adapter.parseResponse(fixtureText("max-tokens-no-content.json"), {});
    assert.equal(r.text, "");
    assert.equal(r.reasoning, undefined);
    assert.equal(r.finishReason, "length");
    assert.equal(r.rawFinishReason, "MAX_TOKENS");
    assert.deepEqual(r.usage, { inputTokens: 7, outputTokens: 64, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 64 });
  });

  it("throws content_filtered for a 200 prompt block without candidates", () => {
    assert.throws(
      () => adapter.parseResponse(fixtureText("prompt-blocked.json"), {}),
      (e: unknown) =>
        e instanceof ProviderError &&
        e.kind === "content_filtered" &&
        e.providerCode === "SAFETY" &&
        e.retryable === false &&
        e.message === "gemini: prompt blocked (SAFETY)",
    );
  });

  it("throws the classified error for an error object inside a 200", () => {
    const body = JSON.stringify({ error: { code: 500, message: "An internal error has occurred.", status: "INTERNAL" } });
    assert.throws(
      () => adapter.parseResponse(body, {}),
      (e: unknown) => e instanceof ProviderError && e.kind === "server_error" && e.status === 500,
    );
  });

  it("throws server_error for a body that is not JSON", () => {
    assert.throws(
      () => adapter.parseResponse("<html>oops</html>", {}),
      (e: unknown) => e instanceof ProviderError && e.kind === "server_error",
    );
  });
});
