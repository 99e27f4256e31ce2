import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createOpenAIAdapter, resolveOpenAIDialect } from "../../../src/providers/openai/index.ts";
import { ProviderError, type UpstreamRequest } from "../../../src/providers/types.ts";
import { makeConn, VENDOR } from "./helpers.ts";
import { resolveModelParams } from "../../../src/config/model-params.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The wire-formats §1.2 example request, in neutral form, with every mapped field. */
const FULL: UpstreamRequest = {
  model: "gpt-4o",
  messages: [
    { role: "system", content: [{ type: "text", text: "You are terse." }] },
    {
      role: "user",
      content: [
        { type: "text", text: "Weather in Paris? Also describe this image." },
        { type: "image", data: PNG, mediaType: "image/png", detail: "low" },
      ],
    },
    { role: "assistant", content: [], toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }] },
    { role: "tool", toolCallId: "call_1", name: "get_weather", content: [{ type: "text", text: '{"temp_c":21}' }] },
  ],
  tools: [
    {
      name: "get_weather",
      description: "Current weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
      strict: true,
    },
  ],
  toolChoice: { type: "auto" },
  parallelToolCalls: false,
  temperature: 0.2,
  topP: 1,
  maxOutputTokens: 512,
  stop: ["END"],
  seed: 42,
  responseFormat: { type: "text" },
  presencePenalty: 0.1,
  frequencyPenalty: 0.3,
  reasoningEffort: "low",
  user: "hashed-user-123",
};

const EXPECTED_MESSAGES = [
  { role: "system", content: "You are terse." },
  {
    role: "user",
    content: [
      { type: "text", text: "Weather in Paris? Also describe this image." },
      { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } },
    ],
  },
  { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
  { role: "tool", tool_call_id: "call_1", content: '{"temp_c":21}' },
];

const EXPECTED_TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
      strict: true,
    },
  },
];

function simple(extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { model: "m", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }], ...extra };
}

function body(spec: { body?: string }): Record<string, unknown> {
  return JSON.parse(spec.body ?? "null");
}

describe("buildRequest: openai", () => {
  const adapter = createOpenAIAdapter(makeConn("openai", { headers: { "OpenAI-Organization": "org_1" } }));

  it("maps every field of the §1.2 example, in a stream", () => {
    const spec = adapter.buildRequest(FULL, true);
    assert.equal(spec.method, "POST");
    assert.equal(spec.path, "/chat/completions");
    assert.deepEqual(spec.headers, {
      "content-type": "application/json",
      authorization: "Bearer sk-test-key-0123456789",
      "openai-organization": "org_1",
      accept: "text/event-stream",
    });
    assert.deepEqual(body(spec), {
      model: "gpt-4o",
      messages: EXPECTED_MESSAGES,
      tools: EXPECTED_TOOLS,
      tool_choice: "auto",
      parallel_tool_calls: false,
      temperature: 0.2,
      top_p: 1,
      max_completion_tokens: 512,
      stop: ["END"],
      seed: 42,
      response_format: { type: "text" },
      presence_penalty: 0.1,
      frequency_penalty: 0.3,
      reasoning_effort: "low",
      user: "hashed-user-123",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("never sends stream or stream_options on a unary request", () => {
    const b = body(adapter.buildRequest(FULL, false));
    assert.equal("stream" in b, false);
    assert.equal("stream_options" in b, false);
    assert.equal(adapter.buildRequest(FULL, false).headers.accept, "application/json");
  });

  it("sends only the fields that are set", () => {
    assert.deepEqual(body(adapter.buildRequest(simple(), false)), { model: "m", messages: [{ role: "user", content: "hi" }] });
  });

  it("omits tool_choice and parallel_tool_calls without tools", () => {
    const b = body(adapter.buildRequest(simple({ toolChoice: { type: "required" }, parallelToolCalls: true, tools: [] }), false));
    assert.deepEqual(Object.keys(b), ["model", "messages"]);
  });

  it("maps a named tool choice, required, none", () => {
    const tools = [{ name: "f" }];
    assert.deepEqual(body(adapter.buildRequest(simple({ tools, toolChoice: { type: "tool", name: "f" } }), false)).tool_choice, {
      type: "function",
      function: { name: "f" },
    });
    assert.equal(body(adapter.buildRequest(simple({ tools, toolChoice: { type: "required" } }), false)).tool_choice, "required");
    assert.equal(body(adapter.buildRequest(simple({ tools, toolChoice: { type: "none" } }), false)).tool_choice, "none");
    assert.deepEqual(body(adapter.buildRequest(simple({ tools }), false)).tools, [{ type: "function", function: { name: "f" } }]);
  });

  it("maps json_object and json_schema response formats", () => {
    assert.deepEqual(body(adapter.buildRequest(simple({ responseFormat: { type: "json_object" } }), false)).response_format, {
      type: "json_object",
    });
    const schema = { type: "object", properties: { a: { type: "number" } } };
    assert.deepEqual(
      body(adapter.buildRequest(simple({ responseFormat: { type: "json_schema", name: "out", schema, strict: true } }), false)).response_format,
      { type: "json_schema", json_schema: { name: "out", schema, strict: true } },
    );
  });

  it("keeps developer messages, names, https images and multi-part text", () => {
    const b = body(
      adapter.buildRequest(
        {
          model: "o3",
          messages: [
            { role: "developer", content: [{ type: "text", text: "Be brief." }] },
            {
              role: "user",
              name: "alice",
              content: [
                { type: "image", url: "https://example.com/cat.png" },
                { type: "text", text: "What is it?" },
              ],
            },
            { role: "assistant", content: [{ type: "text", text: "A " }, { type: "text", text: "cat." }] },
          ],
        },
        false,
      ),
    );
    assert.deepEqual(b.messages, [
      { role: "developer", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
          { type: "text", text: "What is it?" },
        ],
        name: "alice",
      },
      { role: "assistant", content: "A cat." },
    ]);
  });

  it("rejects images outside user messages and tool messages without a call id", () => {
    const img = { type: "image" as const, url: "https://example.com/x.png" };
    assert.throws(
      () => adapter.buildRequest({ model: "m", messages: [{ role: "system", content: [img] }] }, false),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && /messages\[0\]/.test(e.message),
    );
    assert.throws(
      () => adapter.buildRequest({ model: "m", messages: [{ role: "tool", content: [{ type: "text", text: "x" }] }] }, false),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request",
    );
    assert.throws(
      () => adapter.buildRequest({ model: "m", messages: [{ role: "user", content: [{ type: "image", data: PNG }] }] }, false),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && /mediaType/.test(e.message),
    );
  });

  it("honours compat quirks on type openai and drops configured fields", () => {
    const a = createOpenAIAdapter(
      makeConn("openai", {
        compat: { maxTokensField: "max_tokens", streamUsage: false, dropFields: ["seed", "user"], usagePaths: [], developerRole: false },
      }),
    );
    const b = body(a.buildRequest(FULL, true));
    assert.equal(b.max_tokens, 512);
    assert.equal("max_completion_tokens" in b, false);
    assert.equal("stream_options" in b, false);
    assert.equal(b.stream, true);
    assert.equal("seed" in b, false);
    assert.equal("user" in b, false);
  });
});

describe("buildRequest: azure", () => {
  it("dated family: deployment in the path, api-version query, api-key header", () => {
    const a = createOpenAIAdapter(makeConn("azure", { apiVersion: "2024-10-21", apiKey: "azkey" }));
    const spec = a.buildRequest({ ...FULL, model: "my gpt/4o" }, true);
    assert.equal(spec.path, "/openai/deployments/my%20gpt%2F4o/chat/completions?api-version=2024-10-21");
    assert.deepEqual(spec.headers, { "content-type": "application/json", "api-key": "azkey", accept: "text/event-stream" });
    const b = body(spec);
    assert.equal(b.max_completion_tokens, 512);
    assert.deepEqual(b.stream_options, { include_usage: true });
    assert.equal(b.seed, 42);
    // developer role arrived with 2024-12-01-preview: a developer message goes as system before that.
    const d = body(a.buildRequest({ model: "dep", messages: [{ role: "developer", content: [{ type: "text", text: "x" }] }] }, false));
    assert.deepEqual(d.messages, [{ role: "system", content: "x" }]);
  });

  it("v1 family when apiVersion is empty", () => {
    const a = createOpenAIAdapter(makeConn("azure", { apiVersion: "", apiKey: "azkey" }));
    const spec = a.buildRequest(FULL, true);
    assert.equal(spec.path, "/openai/v1/chat/completions");
    assert.equal(spec.headers["api-key"], "azkey");
    assert.equal(spec.headers.authorization, undefined);
    const b = body(spec);
    assert.equal(b.model, "gpt-4o");
    assert.equal(b.max_completion_tokens, 512);
    assert.deepEqual(b.stream_options, { include_usage: true });
    assert.deepEqual(
      body(a.buildRequest({ model: "d", messages: [{ role: "developer", content: [{ type: "text", text: "x" }] }] }, false)).messages,
      [{ role: "developer", content: "x" }],
    );
  });

  it("v1 family with an explicit non-dated api-version", () => {
    const a = createOpenAIAdapter(makeConn("azure", { apiVersion: "preview" }));
    assert.equal(a.buildRequest(simple(), false).path, "/openai/v1/chat/completions?api-version=preview");
  });

  it("old dated versions: max_tokens, no stream_options, no seed", () => {
    const a = createOpenAIAdapter(makeConn("azure", { apiVersion: "2024-06-01" }));
    const b = body(a.buildRequest(FULL, true));
    assert.equal(b.max_tokens, 512);
    assert.equal("max_completion_tokens" in b, false);
    assert.equal("stream_options" in b, false);
    assert.equal("seed" in b, false);
    assert.equal(b.stream, true);
  });

  it("the api-version table also gates parallel_tool_calls and reasoning_effort (for callers bypassing the router)", () => {
    const a = createOpenAIAdapter(makeConn("azure", { apiVersion: "2024-10-21" }));
    const b = body(a.buildRequest({ ...FULL, reasoningEffort: "low" }, false));
    assert.equal(b.seed, FULL.seed);
    assert.equal("parallel_tool_calls" in b, false);
    assert.equal("reasoning_effort" in b, false);
  });

  it("a reasoning deployment's rules name the output limit max_completion_tokens whatever the connection says", () => {
    const params = resolveModelParams({ type: "azure", apiVersion: "2024-10-21" }, "o3-mini", 100_000);
    const a = createOpenAIAdapter(makeConn("openai-compatible", { compat: { ...makeConn("openai").compat, maxTokensField: "max_tokens" } }));
    const b = body(a.buildRequest(simple({ maxOutputTokens: 77, params }), false));
    assert.equal(b.max_completion_tokens, 77);
    assert.equal("max_tokens" in b, false);
  });

  it("newer previews send developer messages as developer", () => {
    const d = resolveOpenAIDialect(makeConn("azure", { apiVersion: "2025-04-01-preview" }));
    assert.deepEqual(d.quirks, { maxTokensField: "max_completion_tokens", streamUsage: true, developerRole: true, dropFields: [], usagePaths: [] });
    assert.equal(d.path, "/openai/deployments/{model}/chat/completions?api-version=2025-04-01-preview");
  });
});

describe("buildRequest: openrouter", () => {
  const a = createOpenAIAdapter(
    makeConn("openrouter", { apiKey: "sk-or-v1-abc", headers: { "HTTP-Referer": "https://app.example", "X-OpenRouter-Title": "Signalbox" } }),
  );

  it("bearer auth, attribution headers, max_tokens, reasoning object, no stream_options", () => {
    const spec = a.buildRequest(FULL, true);
    assert.equal(spec.path, "/chat/completions");
    assert.deepEqual(spec.headers, {
      "content-type": "application/json",
      authorization: "Bearer sk-or-v1-abc",
      "http-referer": "https://app.example",
      "x-openrouter-title": "Signalbox",
      accept: "text/event-stream",
    });
    const b = body(spec);
    assert.equal(b.max_tokens, 512);
    assert.equal("max_completion_tokens" in b, false);
    assert.deepEqual(b.reasoning, { effort: "low" });
    assert.equal("reasoning_effort" in b, false);
    assert.equal("stream_options" in b, false);
    assert.equal(b.stream, true);
    // Never forward gateway fields the request does not map.
    assert.equal("models" in b, false);
    assert.equal("provider" in b, false);
  });

  it("sends developer messages as system", () => {
    const b = body(a.buildRequest({ model: "x/y", messages: [{ role: "developer", content: [{ type: "text", text: "d" }] }] }, false));
    assert.deepEqual(b.messages, [{ role: "system", content: "d" }]);
  });
});

describe("buildRequest: openai-compatible vendors", () => {
  it("ollama: max_tokens, system role, stream usage, no auth header without a key", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { apiKey: undefined, compat: VENDOR.ollama }));
    const spec = a.buildRequest(
      { ...simple({ maxOutputTokens: 64 }), messages: [{ role: "developer", content: [{ type: "text", text: "d" }] }] },
      true,
    );
    assert.equal(spec.path, "/chat/completions");
    assert.equal(spec.headers.authorization, undefined);
    assert.deepEqual(body(spec), {
      model: "m",
      messages: [{ role: "system", content: "d" }],
      max_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("groq: max_completion_tokens, no stream_options", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { baseUrl: "https://api.groq.com/openai/v1", compat: VENDOR.groq }));
    const b = body(a.buildRequest(simple({ maxOutputTokens: 64, seed: 1 }), true));
    assert.deepEqual(b, { model: "m", messages: [{ role: "user", content: "hi" }], max_completion_tokens: 64, seed: 1, stream: true });
  });

  it("mistral: drops the fields it rejects with 422", () => {
    const a = createOpenAIAdapter(makeConn("openai-compatible", { baseUrl: "https://api.mistral.ai/v1", compat: VENDOR.mistral }));
    const b = body(a.buildRequest(FULL, true));
    for (const f of ["parallel_tool_calls", "seed", "user", "reasoning_effort", "stream_options", "max_completion_tokens"]) {
      assert.equal(f in b, false, f);
    }
    assert.equal(b.max_tokens, 512);
    assert.equal(b.tool_choice, "auto");
  });

  it("vllm and together: max_tokens with stream usage", () => {
    for (const v of ["vllm", "together"]) {
      const a = createOpenAIAdapter(makeConn("openai-compatible", { compat: VENDOR[v] }));
      const b = body(a.buildRequest(simple({ maxOutputTokens: 8 }), true));
      assert.deepEqual(b, {
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 8,
        stream: true,
        stream_options: { include_usage: true },
      });
    }
  });

  it("rejects provider types it does not speak", () => {
    assert.throws(() => createOpenAIAdapter(makeConn("anthropic")), /does not speak provider type "anthropic"/);
  });
});
