import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_MAX_TOKENS,
  THINKING_BUDGETS,
  buildAnthropicRequestBody,
  createAnthropicAdapter,
} from "../../../src/providers/anthropic/anthropic-adapter.ts";
import type { ProviderConfig } from "../../../src/config/types.ts";
import type { ChatMessage, UpstreamRequest } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";
import { fixtureText } from "./replay.ts";
import { resolveModelParams } from "../../../src/config/model-params.ts";
import { fitRequest } from "../../../src/router/fit-params.ts";

const conn = {
  name: "claude-main",
  type: "anthropic",
  baseUrl: "https://api.anthropic.com",
  apiKey: "sk-ant-test-key",
  headers: { "Anthropic-Beta": "prompt-caching-2024-07-31" },
} as unknown as ProviderConfig;

const adapter = createAnthropicAdapter(conn);

const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });

function body(req: Partial<UpstreamRequest>, stream = false): Record<string, unknown> {
  const spec = adapter.buildRequest({ model: "claude-sonnet-4-5", messages: [user("hi")], ...req }, stream);
  return JSON.parse(spec.body ?? "");
}

describe("anthropic buildRequest", () => {
  it("POSTs /v1/messages with x-api-key, anthropic-version and content-type", () => {
    const spec = adapter.buildRequest({ model: "claude-sonnet-4-5", messages: [user("hi")] }, true);
    assert.equal(spec.method, "POST");
    assert.equal(spec.path, "/v1/messages");
    assert.deepEqual(spec.headers, {
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "prompt-caching-2024-07-31",
      "content-type": "application/json",
      accept: "text/event-stream",
      "x-api-key": "sk-ant-test-key",
    });
  });

  it("minimal body: model, default max_tokens, user content as blocks, no stream flag when unary", () => {
    assert.deepEqual(body({}), {
      model: "claude-sonnet-4-5",
      max_tokens: 4096,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
    assert.equal(DEFAULT_MAX_TOKENS, 4096);
    assert.equal(body({}, true).stream, true);
  });

  it("maps maxOutputTokens, top_p, stop, user; drops seed and penalties", () => {
    const b = body({ maxOutputTokens: 321, topP: 0.9, stop: ["END", "", "  "], user: "hashed-user-123", seed: 7, presencePenalty: 1, frequencyPenalty: 1 });
    assert.equal(b.max_tokens, 321);
    assert.equal(b.top_p, 0.9);
    assert.deepEqual(b.stop_sequences, ["END"]);
    assert.deepEqual(b.metadata, { user_id: "hashed-user-123" });
    for (const k of ["seed", "presence_penalty", "frequency_penalty", "user", "temperature"]) assert.equal(b[k], undefined, k);
  });

  it("temperature: 0..1 unchanged, above 1 halved; with both set only temperature is sent", () => {
    assert.equal(body({ temperature: 0 }).temperature, 0);
    assert.equal(body({ temperature: 0.7 }).temperature, 0.7);
    assert.equal(body({ temperature: 1 }).temperature, 1);
    assert.equal(body({ temperature: 1.6 }).temperature, 0.8);
    assert.equal(body({ temperature: 2 }).temperature, 1);
    const both = body({ temperature: 0.2, topP: 0.5 });
    assert.equal(both.temperature, 0.2);
    assert.equal(both.top_p, undefined);
  });

  it("system and developer messages go to top-level system, never into messages", () => {
    const b = body({
      messages: [
        { role: "system", content: [{ type: "text", text: "You are terse." }] },
        user("a"),
        { role: "developer", content: [{ type: "text", text: "Answer in French." }] },
        user("b"),
      ],
    });
    assert.equal(b.system, "You are terse.\n\nAnswer in French.");
    assert.deepEqual(b.messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ],
      },
    ]);
  });

  it("JSON mode is an instruction appended to system (json_object and json_schema)", () => {
    const obj = body({ messages: [{ role: "system", content: [{ type: "text", text: "Be nice." }] }, user("x")], responseFormat: { type: "json_object" } });
    assert.equal(
      obj.system,
      "Be nice.\n\nRespond with a single valid JSON object only: no prose, no Markdown code fences, nothing before or after it.",
    );
    const schema = body({ responseFormat: { type: "json_schema", name: "city", schema: { type: "object", properties: { name: { type: "string" } } } } });
    assert.equal(
      schema.system,
      'Respond with a single valid JSON object only: no prose, no Markdown code fences, nothing before or after it. The object must conform to this JSON Schema (named "city"):\n{"type":"object","properties":{"name":{"type":"string"}}}',
    );
    assert.equal(schema.response_format, undefined);
    assert.equal(body({ responseFormat: { type: "text" } }).system, undefined);
  });

  it("tools and tool_choice auto/none/required/tool, with parallelToolCalls=false", () => {
    const tools = [
      { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
      { name: "now" },
    ];
    const b = body({ tools, toolChoice: { type: "auto" } });
    assert.deepEqual(b.tools, [
      { name: "get_weather", description: "Current weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
      { name: "now", input_schema: { type: "object", properties: {} } },
    ]);
    assert.deepEqual(b.tool_choice, { type: "auto" });
    assert.deepEqual(body({ tools, toolChoice: { type: "none" } }).tool_choice, { type: "none" });
    assert.deepEqual(body({ tools, toolChoice: { type: "required" } }).tool_choice, { type: "any" });
    assert.deepEqual(body({ tools, toolChoice: { type: "tool", name: "now" } }).tool_choice, { type: "tool", name: "now" });
    assert.deepEqual(body({ tools, toolChoice: { type: "required" }, parallelToolCalls: false }).tool_choice, { type: "any", disable_parallel_tool_use: true });
    assert.deepEqual(body({ tools, parallelToolCalls: false }).tool_choice, { type: "auto", disable_parallel_tool_use: true });
    assert.deepEqual(body({ tools, toolChoice: { type: "none" }, parallelToolCalls: false }).tool_choice, { type: "none" });
    assert.equal(body({ tools }).tool_choice, undefined);
    // tool_choice without tools is a 400 upstream: neither is sent.
    const none = body({ toolChoice: { type: "required" }, parallelToolCalls: false });
    assert.equal(none.tools, undefined);
    assert.equal(none.tool_choice, undefined);
  });

  it("reasoningEffort → thinking budget; default max_tokens leaves room on top; temperature/top_p dropped", () => {
    const b = body({ reasoningEffort: "medium", temperature: 0.3, topP: 0.5 });
    assert.deepEqual(b.thinking, { type: "enabled", budget_tokens: THINKING_BUDGETS.medium });
    assert.equal(b.max_tokens, DEFAULT_MAX_TOKENS + 8192);
    assert.equal(b.temperature, undefined);
    assert.equal(b.top_p, undefined);
    assert.equal(body({}).thinking, undefined);
  });

  it("thinking budget stays below the caller's max_tokens, and is omitted when it cannot reach 1024", () => {
    const b = body({ reasoningEffort: "high", maxOutputTokens: 5000 });
    assert.equal(b.max_tokens, 5000);
    assert.deepEqual(b.thinking, { type: "enabled", budget_tokens: 4999 });
    const small = body({ reasoningEffort: "low", maxOutputTokens: 1000, temperature: 0.4 });
    assert.equal(small.thinking, undefined);
    assert.equal(small.max_tokens, 1000);
    assert.equal(small.temperature, 0.4);
  });

  it("thinking is omitted when a tool is forced or the request continues a tool loop", () => {
    const tools = [{ name: "f" }];
    assert.equal(body({ tools, toolChoice: { type: "required" }, reasoningEffort: "low" }).thinking, undefined);
    assert.equal(body({ tools, toolChoice: { type: "tool", name: "f" }, reasoningEffort: "low" }).thinking, undefined);
    const loop: ChatMessage[] = [
      user("go"),
      { role: "assistant", content: [], toolCalls: [{ id: "t1", name: "f", arguments: "{}" }] },
      { role: "tool", toolCallId: "t1", content: [{ type: "text", text: "ok" }] },
    ];
    assert.equal(body({ tools, messages: loop, reasoningEffort: "low" }).thinking, undefined);
    assert.deepEqual(body({ tools, messages: [...loop, { role: "assistant", content: [{ type: "text", text: "done" }] }, user("again")], reasoningEffort: "low" }).thinking, {
      type: "enabled",
      budget_tokens: 2048,
    });
  });

  it("exposes the body builder for inspection", () => {
    assert.deepEqual(buildAnthropicRequestBody({ model: "m", messages: [user("x")] }, true), {
      model: "m",
      max_tokens: 4096,
      messages: [{ role: "user", content: [{ type: "text", text: "x" }] }],
      stream: true,
    });
  });
});

describe("anthropic buildRequest with the model's parameter rules", () => {
  const params = (model: string, max = 64000) => resolveModelParams({ type: "anthropic" }, model, max);
  const withRules = (model: string, req: Partial<UpstreamRequest>, max?: number) => body({ model, params: params(model, max), ...req });
  const schema = { type: "object", properties: { a: { type: "string" } } };

  it("no caller limit: the model's own output maximum instead of 4,096", () => {
    assert.equal(withRules("claude-opus-4-8", {}, 128000).max_tokens, 128000);
    assert.equal(withRules("claude-opus-4-8", { maxOutputTokens: 300 }, 128000).max_tokens, 300);
  });

  it("adaptive thinking (4.6 and later) with output_config.effort; manual thinking inside the model's maximum", () => {
    const opus = withRules("claude-opus-4-8", { reasoningEffort: "minimal" });
    assert.deepEqual(opus.thinking, { type: "adaptive" });
    assert.deepEqual(opus.output_config, { effort: "low" });
    assert.deepEqual(withRules("claude-sonnet-4-6", { reasoningEffort: "high" }).output_config, { effort: "high" });
    const sonnet = withRules("claude-sonnet-4-5", { reasoningEffort: "medium" });
    assert.deepEqual(sonnet.thinking, { type: "enabled", budget_tokens: 8192 });
    assert.equal(sonnet.max_tokens, 64000);
    assert.equal(sonnet.output_config, undefined);
    // A model that does not think gets no thinking even if asked (the router drops and reports it).
    assert.equal(withRules("claude-3-5-haiku", { reasoningEffort: "high" }).thinking, undefined);
  });

  it("JSON schemas as output_config.format where the model has structured outputs; otherwise by instruction", () => {
    const native = withRules("claude-opus-4-8", { messages: [{ role: "system", content: [{ type: "text", text: "Be terse." }] }, user("q")], responseFormat: { type: "json_schema", name: "n", schema } });
    assert.deepEqual(native.output_config, { format: { type: "json_schema", schema } });
    assert.equal(native.system, "Be terse.");
    const emulated = withRules("claude-sonnet-4", { responseFormat: { type: "json_schema", name: "n", schema } });
    assert.equal(emulated.output_config, undefined);
    assert.match(String(emulated.system), /conform to this JSON Schema/);
    assert.match(String(withRules("claude-opus-4-8", { responseFormat: { type: "json_object" } }).system), /single valid JSON object/);
  });

  it("strict tools: sent where the model has structured outputs, left out (and noted by the router) elsewhere", () => {
    const tools = [{ name: "lookup", parameters: schema, strict: true }, { name: "loose", parameters: schema }];
    assert.deepEqual((withRules("claude-sonnet-4-5", { tools }).tools as { strict?: boolean }[]).map((t) => t.strict), [true, undefined]);
    assert.deepEqual((withRules("claude-3-5-haiku", { tools }).tools as { strict?: boolean }[]).map((t) => t.strict), [undefined, undefined]);
    assert.deepEqual((body({ tools }).tools as { strict?: boolean }[]).map((t) => t.strict), [undefined, undefined], "unknown rules: not sent");
    const fit = fitRequest({ messages: [user("q")], tools }, params("claude-3-5-haiku"));
    assert.deepEqual(fit.notes.map((n) => n.field), ["tools"]);
    assert.match(fit.notes[0].detail, /no strict tool use/);
    assert.deepEqual(fitRequest({ messages: [user("q")], tools }, params("claude-sonnet-4-5")).notes, []);
  });

  it("temperature and top_p together only where the model takes both", () => {
    assert.deepEqual([withRules("claude-3-5-haiku", { temperature: 0.3, topP: 0.8 }).temperature, withRules("claude-3-5-haiku", { temperature: 0.3, topP: 0.8 }).top_p], [0.3, 0.8]);
    assert.equal(withRules("claude-sonnet-4-5", { temperature: 0.3, topP: 0.8 }).top_p, undefined);
  });

  it("cache hints become cache_control on their block, on the system prompt and on a lone tool result", () => {
    const b = body({
      messages: [
        { role: "system", content: [{ type: "text", text: "Rules.", cache: { ttl: "1h" } }] },
        { role: "developer", content: [{ type: "text", text: "More." }] },
        { role: "user", content: [{ type: "text", text: "doc", cache: {} }, { type: "image", url: "https://example.com/a.png", cache: { ttl: "5m" } }] },
        { role: "assistant", content: [], toolCalls: [{ id: "t1", name: "f", arguments: "{}" }] },
        { role: "tool", toolCallId: "t1", content: [{ type: "text", text: "result", cache: { ttl: "5m" } }] },
      ],
    });
    assert.deepEqual(b.system, [
      { type: "text", text: "Rules.", cache_control: { type: "ephemeral", ttl: "1h" } },
      { type: "text", text: "More." },
    ]);
    const msgs = b.messages as { content: Record<string, unknown>[] }[];
    assert.deepEqual(msgs[0].content[0], { type: "text", text: "doc", cache_control: { type: "ephemeral" } });
    assert.deepEqual(msgs[0].content[1].cache_control, { type: "ephemeral", ttl: "5m" });
    assert.deepEqual(msgs[2].content[0], { type: "tool_result", tool_use_id: "t1", content: "result", cache_control: { type: "ephemeral", ttl: "5m" } });
    // Without hints the system prompt stays one string.
    assert.equal(body({ messages: [{ role: "system", content: [{ type: "text", text: "A" }] }, user("x")] }).system, "A");
  });
});

describe("anthropic parseResponse", () => {
  it("§3.3 tool-use response: text, tool call with stringified input, tool_calls, usage", () => {
    const r = adapter.parseResponse(fixtureText("tool-use.json"), { "request-id": "req_1" });
    assert.deepEqual(r, {
      id: "msg_01VdEjxAP5ahtHKrrRdNBteQ",
      model: "claude-sonnet-4-5-20250929",
      text: "I'll check the weather.",
      toolCalls: [{ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", arguments: '{"city":"Paris"}' }],
      finishReason: "tool_calls",
      rawFinishReason: "tool_use",
      usage: { inputTokens: 377, outputTokens: 65, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    });
  });

  it("§3.3 refusal: content_filter with the stop_details explanation", () => {
    const r = adapter.parseResponse(fixtureText("refusal.json"), {});
    assert.equal(r.finishReason, "content_filter");
    assert.equal(r.rawFinishReason, "refusal");
    assert.equal(r.text, "");
    assert.deepEqual(r.toolCalls, []);
    assert.equal(r.refusal, "This request triggered restrictions on violative cyber content and was blocked under Anthropic's Usage Policy.");
    assert.deepEqual(r.usage, { inputTokens: 18, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it("refusal without stop_details has no refusal text", () => {
    const r = adapter.parseResponse(JSON.stringify({ id: "m", model: "c", content: [], stop_reason: "refusal" }), {});
    assert.equal(r.finishReason, "content_filter");
    assert.equal(r.refusal, undefined);
    assert.equal(r.usage, undefined);
  });

  it("thinking → reasoning, split text blocks concatenated, unknown blocks ignored, cache usage normalised", () => {
    const r = adapter.parseResponse(fixtureText("thinking-cached.json"), {});
    assert.equal(r.text, "Autumn moonlight—\na worm digs silently\ninto the chestnut.");
    assert.equal(r.reasoning, "The user wants a haiku. Five, seven, five.");
    assert.deepEqual(r.toolCalls, []);
    assert.equal(r.finishReason, "stop");
    assert.deepEqual(r.usage, { inputTokens: 12 + 200 + 3000, outputTokens: 90, cachedInputTokens: 3000, cacheWriteTokens: 200, reasoningTokens: 40 });
  });

  it("an error body inside a 200 throws the classified ProviderError", () => {
    const b = JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    assert.throws(
      () => adapter.parseResponse(b, { "request-id": "req_9" }),
      (e: unknown) => e instanceof ProviderError && e.kind === "overloaded" && e.requestId === "req_9" && e.status === undefined,
    );
  });

  it("a non-JSON 200 body throws server_error", () => {
    assert.throws(
      () => adapter.parseResponse("<html>", {}),
      (e: unknown) => e instanceof ProviderError && e.kind === "server_error" && e.message === "claude-main: anthropic returned a body that is not a JSON object",
    );
  });
});
