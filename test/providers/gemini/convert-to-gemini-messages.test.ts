import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  convertToGeminiMessages,
  convertToGeminiRequest,
  convertToGeminiThinkingConfig,
  SKIP_THOUGHT_SIGNATURE,
} from "../../../src/providers/gemini/convert-to-gemini-messages.ts";
import type { ChatMessage, UpstreamRequest } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";

const text = (t: string) => [{ type: "text" as const, text: t }];

function req(overrides: Partial<UpstreamRequest>): UpstreamRequest {
  return { model: "gemini-2.5-flash", messages: [{ role: "user", content: text("hi") }], ...overrides };
}

describe("convertToGeminiMessages", () => {
  it("moves system and developer text to systemInstruction and maps roles", () => {
    const out = convertToGeminiMessages(
      [
        { role: "system", content: text("You are terse.") },
        { role: "developer", content: text("Answer in French.") },
        { role: "user", content: text("Hello") },
        { role: "assistant", content: text("Bonjour") },
        { role: "user", content: text("Again") },
      ],
      { model: "gemini-2.5-flash" },
    );
    assert.deepEqual(out, {
      systemInstruction: { parts: [{ text: "You are terse." }, { text: "Answer in French." }] },
      contents: [
        { role: "user", parts: [{ text: "Hello" }] },
        { role: "model", parts: [{ text: "Bonjour" }] },
        { role: "user", parts: [{ text: "Again" }] },
      ],
    });
  });

  it("omits systemInstruction when there is none and merges consecutive same-role messages", () => {
    const out = convertToGeminiMessages(
      [
        { role: "user", content: text("one") },
        { role: "user", content: text("two") },
      ],
      { model: "gemini-2.5-flash" },
    );
    assert.deepEqual(out, { contents: [{ role: "user", parts: [{ text: "one" }, { text: "two" }] }] });
  });

  it("prefixes system text to the first user turn for Gemma models (no systemInstruction support)", () => {
    const out = convertToGeminiMessages(
      [
        { role: "system", content: text("Be brief.") },
        { role: "user", content: text("Hi") },
      ],
      { model: "models/gemma-3-27b-it" },
    );
    assert.deepEqual(out, { contents: [{ role: "user", parts: [{ text: "Be brief.\n\n" }, { text: "Hi" }] }] });
  });

  it("converts images: bytes and data: URLs to inlineData, https URLs to fileData", () => {
    const out = convertToGeminiMessages(
      [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in these?" },
            { type: "image", data: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), mediaType: "image/png" },
            { type: "image", url: "data:image/jpeg;base64,/9j/4AAQ" },
            { type: "image", url: "data:text/plain,hi%20there" },
            { type: "image", url: "https://example.com/cat.webp?size=big" },
            { type: "image", url: "https://generativelanguage.googleapis.com/v1beta/files/abc123", mediaType: "image/gif" },
            { type: "image", url: "https://example.com/render" },
          ],
        },
      ],
      { model: "gemini-2.5-flash" },
    );
    assert.deepEqual(out.contents[0].parts, [
      { text: "What is in these?" },
      { inlineData: { mimeType: "image/png", data: "iVBORw==" } },
      { inlineData: { mimeType: "image/jpeg", data: "/9j/4AAQ" } },
      { inlineData: { mimeType: "text/plain", data: Buffer.from("hi there").toString("base64") } },
      { fileData: { fileUri: "https://example.com/cat.webp?size=big", mimeType: "image/webp" } },
      { fileData: { fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc123", mimeType: "image/gif" } },
      { fileData: { fileUri: "https://example.com/render" } },
    ]);
  });

  it("rejects image bytes without a mediaType as bad_request", () => {
    assert.throws(
      () => convertToGeminiMessages([{ role: "user", content: [{ type: "image", data: new Uint8Array([1]) }] }], { model: "gemini-2.5-flash" }),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request",
    );
  });

  it("converts tool calls and results: functionCall with object args and signature, one user content of functionResponses", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: text("Weather in Paris and Tokyo?") },
      {
        role: "assistant",
        content: text("Checking."),
        toolCalls: [
          { id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}', signature: "EqUCCqIC" },
          { id: "call_b", name: "get_time", arguments: "" },
        ],
      },
      // No name: looked up from the assistant's call with this id.
      { role: "tool", toolCallId: "call_a", content: text('{"temp_c":21}') },
      { role: "tool", toolCallId: "call_b", name: "get_time", content: text("14:05") },
      { role: "user", content: text("Thanks") },
    ];
    const out = convertToGeminiMessages(messages, { model: "gemini-2.5-flash" });
    assert.deepEqual(out.contents, [
      { role: "user", parts: [{ text: "Weather in Paris and Tokyo?" }] },
      {
        role: "model",
        parts: [
          { text: "Checking." },
          { functionCall: { name: "get_weather", args: { city: "Paris" }, id: "call_a" }, thoughtSignature: "EqUCCqIC" },
          { functionCall: { name: "get_time", args: {}, id: "call_b" } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { temp_c: 21 }, id: "call_a" } },
          { functionResponse: { name: "get_time", response: { result: "14:05" }, id: "call_b" } },
          { text: "Thanks" },
        ],
      },
    ]);
  });

  it("looks up the name in the nearest earlier assistant message when ids repeat across turns", () => {
    const messages: ChatMessage[] = [
      { role: "assistant", content: [], toolCalls: [{ id: "call_0", name: "first_tool", arguments: "{}" }] },
      { role: "tool", toolCallId: "call_0", content: text("1") },
      { role: "assistant", content: [], toolCalls: [{ id: "call_0", name: "second_tool", arguments: "{}" }] },
      { role: "tool", toolCallId: "call_0", content: text("[1,2]") },
    ];
    const out = convertToGeminiMessages(messages, { model: "gemini-2.5-flash" });
    assert.deepEqual(out.contents[1].parts, [{ functionResponse: { name: "first_tool", response: { result: 1 }, id: "call_0" } }]);
    assert.deepEqual(out.contents[3].parts, [{ functionResponse: { name: "second_tool", response: { result: [1, 2] }, id: "call_0" } }]);
  });

  it("wraps a failed tool's output as {error}", () => {
    const out = convertToGeminiMessages(
      [{ role: "tool", toolCallId: "x", name: "lookup", isError: true, content: text("not found") }],
      { model: "gemini-2.5-flash" },
    );
    assert.deepEqual(out.contents, [{ role: "user", parts: [{ functionResponse: { name: "lookup", response: { error: "not found" }, id: "x" } }] }]);
  });

  it("throws bad_request for a tool result whose name cannot be found", () => {
    assert.throws(
      () => convertToGeminiMessages([{ role: "tool", toolCallId: "nope", content: text("x") }], { model: "gemini-2.5-flash" }),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && e.message.includes('"nope"'),
    );
  });

  it("throws bad_request for tool-call arguments that are not a JSON object", () => {
    assert.throws(
      () =>
        convertToGeminiMessages([{ role: "assistant", content: [], toolCalls: [{ id: "c", name: "f", arguments: "[1]" }] }], {
          model: "gemini-2.5-flash",
        }),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request",
    );
  });

  it("replays a missing signature as the skip sentinel on Gemini 3, only for unsigned batches", () => {
    const out = convertToGeminiMessages(
      [
        {
          role: "assistant",
          content: [],
          toolCalls: [
            { id: "a", name: "f", arguments: "{}" },
            { id: "b", name: "f", arguments: "{}" },
          ],
        },
        { role: "user", content: text("next") },
        {
          role: "assistant",
          content: [],
          toolCalls: [
            { id: "c", name: "f", arguments: "{}", signature: "SIG" },
            { id: "d", name: "f", arguments: "{}" },
          ],
        },
      ],
      { model: "gemini-3-pro-preview" },
    );
    assert.deepEqual(
      out.contents[0].parts.map((p) => ("thoughtSignature" in p ? p.thoughtSignature : undefined)),
      [SKIP_THOUGHT_SIGNATURE, SKIP_THOUGHT_SIGNATURE],
    );
    assert.deepEqual(
      out.contents[2].parts.map((p) => ("thoughtSignature" in p ? p.thoughtSignature : undefined)),
      ["SIG", undefined],
    );
    const older = convertToGeminiMessages([{ role: "assistant", content: [], toolCalls: [{ id: "a", name: "f", arguments: "{}" }] }], {
      model: "gemini-2.5-flash",
    });
    assert.deepEqual(older.contents[0].parts, [{ functionCall: { name: "f", args: {}, id: "a" } }]);
  });
});

describe("convertToGeminiRequest", () => {
  it("maps tools to functionDeclarations with parametersJsonSchema and tool choices to functionCallingConfig", () => {
    const tools = [
      {
        name: "get_weather",
        description: "Current weather",
        parameters: {
          $schema: "http://json-schema.org/draft-07/schema#",
          type: "object",
          properties: { city: { type: "string" }, unit: { type: ["string", "null"] } },
          required: ["city"],
          additionalProperties: false,
        },
      },
      { name: "now" },
    ];
    const body = convertToGeminiRequest(req({ tools, toolChoice: { type: "auto" } }));
    assert.deepEqual(body.tools, [
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Current weather",
            parametersJsonSchema: {
              type: "object",
              properties: { city: { type: "string" }, unit: { type: ["string", "null"] } },
              required: ["city"],
              additionalProperties: false,
            },
          },
          { name: "now" },
        ],
      },
    ]);
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: "AUTO" } });
    assert.deepEqual(convertToGeminiRequest(req({ tools, toolChoice: { type: "none" } })).toolConfig, { functionCallingConfig: { mode: "NONE" } });
    assert.deepEqual(convertToGeminiRequest(req({ tools, toolChoice: { type: "required" } })).toolConfig, { functionCallingConfig: { mode: "ANY" } });
    assert.deepEqual(convertToGeminiRequest(req({ tools, toolChoice: { type: "tool", name: "now" } })).toolConfig, {
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["now"] },
    });
    assert.equal(convertToGeminiRequest(req({ tools })).toolConfig, undefined);
    // Without tools there is nothing to configure.
    const bare = convertToGeminiRequest(req({ toolChoice: { type: "required" } }));
    assert.equal(bare.tools, undefined);
    assert.equal(bare.toolConfig, undefined);
  });

  it("maps sampling, limits and stop sequences to generationConfig and drops user", () => {
    const body = convertToGeminiRequest(
      req({
        temperature: 0.2,
        topP: 0.95,
        maxOutputTokens: 512,
        stop: ["END"],
        seed: 42,
        presencePenalty: 0.5,
        frequencyPenalty: -0.25,
        user: "u-123",
        parallelToolCalls: false,
      }),
    );
    assert.deepEqual(body, {
      contents: [{ role: "user", parts: [{ text: "hi" }] }],
      generationConfig: {
        temperature: 0.2,
        topP: 0.95,
        maxOutputTokens: 512,
        stopSequences: ["END"],
        seed: 42,
        presencePenalty: 0.5,
        frequencyPenalty: -0.25,
      },
    });
    assert.equal(convertToGeminiRequest(req({})).generationConfig, undefined);
  });

  it("maps response formats: json_object to application/json, json_schema adds responseJsonSchema, text adds nothing", () => {
    assert.deepEqual(convertToGeminiRequest(req({ responseFormat: { type: "json_object" } })).generationConfig, {
      responseMimeType: "application/json",
    });
    const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };
    assert.deepEqual(convertToGeminiRequest(req({ responseFormat: { type: "json_schema", name: "count", schema, strict: true } })).generationConfig, {
      responseMimeType: "application/json",
      responseJsonSchema: schema,
    });
    assert.equal(convertToGeminiRequest(req({ responseFormat: { type: "text" } })).generationConfig, undefined);
  });

  it("maps reasoningEffort to a thinking budget on 2.5 models and a thinking level on Gemini 3", () => {
    assert.deepEqual(convertToGeminiRequest(req({ reasoningEffort: "medium" })).generationConfig, {
      thinkingConfig: { thinkingBudget: 8192, includeThoughts: true },
    });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-2.5-pro", "minimal"), { thinkingBudget: 512, includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-2.5-flash-lite", "high"), { thinkingBudget: 24576, includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-3-flash-preview", "minimal"), { thinkingLevel: "minimal", includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-3-flash-preview", "medium"), { thinkingLevel: "medium", includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-3-pro-preview", "minimal"), { thinkingLevel: "low", includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("gemini-3-pro-preview", "medium"), { thinkingLevel: "high", includeThoughts: true });
    assert.deepEqual(convertToGeminiThinkingConfig("models/gemini-3.1-pro-preview", "medium"), { thinkingLevel: "medium", includeThoughts: true });
    assert.equal(convertToGeminiThinkingConfig("gemini-2.0-flash", "high"), undefined);
    assert.equal(convertToGeminiRequest(req({ model: "gemini-2.0-flash", reasoningEffort: "high" })).generationConfig, undefined);
  });
});
