// Bedrock Converse adapter: request shapes, answer parsing, usage normalisation, finish reasons
// and the InvokeModel embedding bodies. Pure translation: no network.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { resolveModelParams } from "../../../src/config/model-params.ts";
import {
  bedrockModelPath,
  buildBedrockEmbedRequest,
  buildBedrockRequestBody,
  convertBedrockUsage,
  createBedrockAdapter,
  mapBedrockFinishReason,
  parseBedrockEmbedResponse,
  parseBedrockResponse,
} from "../../../src/providers/bedrock/index.ts";
import { ProviderError, type ChatMessage, type UpstreamRequest } from "../../../src/providers/types.ts";
import { validateConverse } from "../../fakes/bedrock.ts";

const CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const req = (r: Partial<UpstreamRequest>): UpstreamRequest => ({ model: CLAUDE, messages: [user("Hi")], ...r });
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

function conn(over: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: "bedrock",
    type: "bedrock",
    baseUrl: "https://bedrock-runtime.us-east-1.amazonaws.com",
    headers: {},
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    maxConnections: 1,
    aws: { region: "us-east-1", accessKeyId: ["TEST", "KEY"].join(""), secretAccessKey: ["s", "e", "c", "r", "e", "t", "-", "x", "y", "z"].join("") },
    ...over,
  } as ProviderConfig;
}

describe("bedrock: request", () => {
  test("paths: model ids, inference profiles and ARNs are one encoded path label", () => {
    assert.equal(bedrockModelPath(CLAUDE), "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0");
    assert.equal(
      bedrockModelPath("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"),
      "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-haiku-4-5-20251001-v1%3A0",
    );
    const a = createBedrockAdapter(conn());
    const unary = a.buildRequest(req({}), false);
    const stream = a.buildRequest(req({}), true);
    assert.equal(unary.path, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse");
    assert.equal(stream.path, "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream");
    assert.equal(stream.headers.accept, "application/vnd.amazon.eventstream");
    assert.equal(unary.headers["content-type"], "application/json");
  });

  test("system, developer and tool turns; inference configuration; sampling rules", () => {
    const body = buildBedrockRequestBody(
      req({
        messages: [
          { role: "system", content: [{ type: "text", text: "Be brief." }] },
          user("Weather?"),
          { role: "developer", content: [{ type: "text", text: "Use metric." }] },
          { role: "assistant", content: [{ type: "text", text: "Checking." }], toolCalls: [{ id: "t1", name: "get_weather", arguments: '{"city":"Paris"}' }] },
          { role: "tool", toolCallId: "t1", name: "get_weather", content: [{ type: "text", text: "18C" }] },
          user("Thanks"),
        ],
        temperature: 1.4,
        topP: 0.9,
        maxOutputTokens: 300,
        stop: ["END", " "],
        tools: [{ name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } }],
        toolChoice: { type: "tool", name: "get_weather" },
      }),
    );
    assert.deepEqual(body.system, [{ text: "Be brief." }, { text: "Use metric." }]);
    assert.deepEqual(body.messages, [
      { role: "user", content: [{ text: "Weather?" }] },
      { role: "assistant", content: [{ text: "Checking." }, { toolUse: { toolUseId: "t1", name: "get_weather", input: { city: "Paris" } } }] },
      { role: "user", content: [{ toolResult: { toolUseId: "t1", content: [{ text: "18C" }] } }, { text: "Thanks" }] },
    ]);
    // Temperature above 1 is halved onto Bedrock's 0..1; no params: top_p is kept.
    assert.deepEqual(body.inferenceConfig, { maxTokens: 300, temperature: 0.7, topP: 0.9, stopSequences: ["END"] });
    assert.deepEqual(body.toolConfig, {
      tools: [{ toolSpec: { name: "get_weather", description: "Weather", inputSchema: { json: { type: "object", properties: { city: { type: "string" } } } } } }],
      toolChoice: { tool: { name: "get_weather" } },
    });
    // Claude 4.5 on Bedrock: temperature and top_p are exclusive.
    const params = resolveModelParams({ type: "bedrock" }, CLAUDE, 64_000);
    const b2 = buildBedrockRequestBody(req({ temperature: 0.5, topP: 0.9, params }));
    assert.deepEqual(b2.inferenceConfig, { temperature: 0.5 });
  });

  test("tool choices; a tool history without tools still declares them; none sends nothing", () => {
    const tools = [{ name: "a" }];
    assert.deepEqual(buildBedrockRequestBody(req({ tools, toolChoice: { type: "required" } })).toolConfig?.toolChoice, { any: {} });
    assert.deepEqual(buildBedrockRequestBody(req({ tools, toolChoice: { type: "auto" } })).toolConfig?.toolChoice, { auto: {} });
    assert.equal(buildBedrockRequestBody(req({ tools, toolChoice: { type: "none" } })).toolConfig, undefined);
    const history = buildBedrockRequestBody(
      req({
        messages: [user("go"), { role: "assistant", content: [], toolCalls: [{ id: "x", name: "lookup", arguments: "not json" }] }, { role: "tool", toolCallId: "x", content: [{ type: "text", text: "done" }], isError: true }],
      }),
    );
    assert.deepEqual(history.toolConfig, { tools: [{ toolSpec: { name: "lookup", inputSchema: { json: { type: "object", properties: {} } } } }] });
    assert.deepEqual(history.messages[1].content, [{ toolUse: { toolUseId: "x", name: "lookup", input: {} } }]);
    assert.deepEqual(history.messages[2].content, [{ toolResult: { toolUseId: "x", content: [{ text: "done" }], status: "error" } }]);
  });

  test("images: bytes and data URLs become image blocks; an https URL is a bad_request before sending", () => {
    const body = buildBedrockRequestBody(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is it?" },
              { type: "image", data: PNG, mediaType: "image/png" },
              { type: "image", url: `data:image/jpeg;base64,${PNG.toString("base64")}` },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(body.messages[0].content, [
      { text: "What is it?" },
      { image: { format: "png", source: { bytes: PNG.toString("base64") } } },
      { image: { format: "jpeg", source: { bytes: PNG.toString("base64") } } },
    ]);
    assert.throws(
      () => buildBedrockRequestBody(req({ messages: [{ role: "user", content: [{ type: "image", url: "https://example.com/cat.png" }] }] })),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request" && /does not fetch image URLs/.test(e.message),
    );
    assert.throws(() => buildBedrockRequestBody(req({ messages: [{ role: "user", content: [{ type: "image", data: PNG, mediaType: "image/bmp" }] }] })), /not supported/);
  });

  test("files: documents with their format and a clean, numbered name", () => {
    const pdf = Buffer.from("%PDF-1.4\n%%EOF");
    const body = buildBedrockRequestBody(
      req({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Compare these." },
              { type: "file", data: pdf, mediaType: "application/pdf", filename: "Q3 report (final)_v2.pdf" },
              { type: "file", data: Buffer.from("a,b\n1,2\n"), mediaType: "text/csv" },
              { type: "file", data: Buffer.from("# Notes"), mediaType: "text/markdown", filename: "notes..md" },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(body.messages[0].content, [
      { text: "Compare these." },
      { document: { format: "pdf", name: "Q3 report (final)-v2-1", source: { bytes: pdf.toString("base64") } } },
      { document: { format: "csv", name: "document-2", source: { bytes: Buffer.from("a,b\n1,2\n").toString("base64") } } },
      { document: { format: "md", name: "notes--3", source: { bytes: Buffer.from("# Notes").toString("base64") } } },
    ]);
  });

  test("cache hints become cachePoint blocks where the model caches; dropped where it does not", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: [{ type: "text", text: "Long system prompt", cache: { ttl: "1h" } }] },
      { role: "user", content: [{ type: "text", text: "Doc", cache: {} }, { type: "text", text: "Question" }] },
    ];
    const tools = [{ name: "a", cache: {} }];
    const claude = buildBedrockRequestBody(req({ messages, tools, params: resolveModelParams({ type: "bedrock" }, CLAUDE, 64_000) }));
    assert.deepEqual(claude.system, [{ text: "Long system prompt" }, { cachePoint: { type: "default", ttl: "1h" } }]);
    assert.deepEqual(claude.messages[0].content, [{ text: "Doc" }, { cachePoint: { type: "default" } }, { text: "Question" }]);
    assert.deepEqual(claude.toolConfig?.tools.at(-1), { cachePoint: { type: "default" } });
    const llama = "meta.llama3-3-70b-instruct-v1:0";
    const plain = buildBedrockRequestBody(req({ model: llama, messages, params: resolveModelParams({ type: "bedrock" }, llama, 8192) }));
    assert.deepEqual(plain.system, [{ text: "Long system prompt" }]);
    assert.deepEqual(plain.messages[0].content, [{ text: "Doc" }, { text: "Question" }]);
  });

  test("thinking for Claude goes through additionalModelRequestFields and drops sampling; JSON by instruction", () => {
    const params = resolveModelParams({ type: "bedrock" }, `us.${CLAUDE}`, 64_000);
    const body = buildBedrockRequestBody(req({ model: `us.${CLAUDE}`, reasoningEffort: "low", temperature: 0.3, params, responseFormat: { type: "json_object" } }));
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: "enabled", budget_tokens: 2048 } });
    assert.deepEqual(body.inferenceConfig, { maxTokens: 64_000 });
    assert.match(String((body.system?.at(-1) as { text: string }).text), /single valid JSON object/);
    // Other models do not think through the gateway: the rules reject reasoning_effort.
    const nova = resolveModelParams({ type: "bedrock" }, "amazon.nova-pro-v1:0", 10_000);
    assert.ok(nova.rejects.reasoning_effort);
    assert.equal(nova.cacheBreakpoints, 4);
    assert.ok(nova.rejects.seed && nova.rejects.frequency_penalty);
    assert.equal(buildBedrockRequestBody(req({ model: "amazon.nova-pro-v1:0", reasoningEffort: "high" })).additionalModelRequestFields, undefined);
  });

  test("JSON schemas: structured outputs (outputConfig.textFormat) for Claude 4.5 and later, by instruction elsewhere", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const format = { type: "json_schema" as const, name: "place", schema };
    const sonnet = `us.${CLAUDE}`;
    const body = buildBedrockRequestBody(req({ model: sonnet, responseFormat: format, params: resolveModelParams({ type: "bedrock" }, sonnet, 64_000) }));
    assert.deepEqual(body.outputConfig, { textFormat: { type: "json_schema", structure: { jsonSchema: { schema: JSON.stringify(schema), name: "place" } } } });
    assert.equal(body.system, undefined, "no instruction when the schema is enforced");
    assert.equal(validateConverse(body), null);
    // With adaptive thinking the effort shares outputConfig; a nameless schema goes without a name.
    const opus46 = "global.anthropic.claude-opus-4-6-v1";
    const both = buildBedrockRequestBody(req({ model: opus46, reasoningEffort: "high", responseFormat: { ...format, name: "" }, params: resolveModelParams({ type: "bedrock" }, opus46, 64_000) }));
    assert.deepEqual(both.outputConfig, { effort: "high", textFormat: { type: "json_schema", structure: { jsonSchema: { schema: JSON.stringify(schema) } } } });
    assert.equal(validateConverse(both), null);
    // JSON objects, older Claude models (Opus 4.1 has them on Anthropic's API only), other models and unknown rules: an instruction.
    for (const [model, rf] of [
      [sonnet, { type: "json_object" as const }],
      ["anthropic.claude-opus-4-1-20250805-v1:0", format],
      ["anthropic.claude-3-5-haiku-20241022-v1:0", format],
      ["amazon.nova-pro-v1:0", format],
    ] as const) {
      const b = buildBedrockRequestBody(req({ model, responseFormat: rf, params: resolveModelParams({ type: "bedrock" }, model, 8192) }));
      assert.equal(b.outputConfig?.textFormat, undefined, model);
      assert.match(String((b.system?.at(-1) as { text: string }).text), /single valid JSON object/, model);
    }
    assert.equal(buildBedrockRequestBody(req({ model: sonnet, responseFormat: format })).outputConfig, undefined, "without the deployment's rules: an instruction");
    // The router notes an instruction, and says nothing of an enforced schema.
    assert.deepEqual(resolveModelParams({ type: "bedrock" }, sonnet, 64_000).jsonByInstruction, ["json_object"]);
    assert.deepEqual(resolveModelParams({ type: "bedrock" }, "amazon.nova-pro-v1:0", 8192).jsonByInstruction, ["json_object", "json_schema"]);
  });

  test("strict tools: toolSpec.strict for Claude models with structured outputs, left out elsewhere", () => {
    const schema = { type: "object", properties: { q: { type: "string" } } };
    const tools = [{ name: "lookup", parameters: schema, strict: true }];
    const sonnet = `us.${CLAUDE}`;
    const b = buildBedrockRequestBody(req({ model: sonnet, tools, params: resolveModelParams({ type: "bedrock" }, sonnet, 64_000) }));
    assert.deepEqual(b.toolConfig?.tools, [{ toolSpec: { name: "lookup", inputSchema: { json: schema }, strict: true } }]);
    assert.equal(validateConverse(b), null);
    const nova = buildBedrockRequestBody(req({ model: "amazon.nova-pro-v1:0", tools, params: resolveModelParams({ type: "bedrock" }, "amazon.nova-pro-v1:0", 8192) }));
    assert.deepEqual(nova.toolConfig?.tools, [{ toolSpec: { name: "lookup", inputSchema: { json: schema } } }]);
  });

  test("reasoning blocks are replayed unmodified before the assistant's content", () => {
    const body = buildBedrockRequestBody(
      req({
        messages: [
          user("q"),
          { role: "assistant", content: [{ type: "text", text: "a" }], reasoningBlocks: [{ text: "hmm", signature: "sig1" }, { text: "", redacted: "enc" }] },
          user("more"),
        ],
      }),
    );
    assert.deepEqual(body.messages[1].content, [
      { reasoningContent: { reasoningText: { text: "hmm", signature: "sig1" } } },
      { reasoningContent: { redactedContent: "enc" } },
      { text: "a" },
    ]);
  });
});

describe("bedrock: response", () => {
  test("text, tool calls, reasoning, request id and normalised usage", () => {
    const r = parseBedrockResponse(
      JSON.stringify({
        output: {
          message: {
            role: "assistant",
            content: [
              { reasoningContent: { reasoningText: { text: "think", signature: "s" } } },
              { text: "Hello" },
              { toolUse: { toolUseId: "tooluse_1", name: "f", input: { a: 1 } } },
            ],
          },
        },
        stopReason: "tool_use",
        usage: { inputTokens: 60, outputTokens: 20, totalTokens: 120, cacheReadInputTokens: 30, cacheWriteInputTokens: 10, cacheDetails: [{ ttl: "1h", inputTokens: 4 }, { ttl: "5m", inputTokens: 6 }] },
        metrics: { latencyMs: 10 },
      }),
      { "x-amzn-requestid": "req-1" },
    );
    assert.equal(r.id, "req-1");
    assert.equal(r.text, "Hello");
    assert.equal(r.reasoning, "think");
    assert.deepEqual(r.reasoningBlocks, [{ text: "think", signature: "s" }]);
    assert.deepEqual(r.toolCalls, [{ id: "tooluse_1", name: "f", arguments: '{"a":1}' }]);
    assert.deepEqual([r.finishReason, r.rawFinishReason], ["tool_calls", "tool_use"]);
    // Bedrock's inputTokens (60) excludes cache reads (30) and writes (10).
    assert.deepEqual(r.usage, { inputTokens: 100, outputTokens: 20, cachedInputTokens: 30, cacheWriteTokens: 10, cacheWrite1hTokens: 4, reasoningTokens: 0 });
  });

  test("usage without cache fields; broken bodies are server errors", () => {
    assert.deepEqual(convertBedrockUsage({ inputTokens: 5, outputTokens: 2, totalTokens: 7 }), { inputTokens: 5, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
    assert.throws(() => parseBedrockResponse("{not json", {}), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
    assert.throws(() => parseBedrockResponse('{"message":"oops"}', {}), (e: unknown) => e instanceof ProviderError && e.kind === "server_error");
  });

  test("finish reasons", () => {
    const cases: [string, string][] = [
      ["end_turn", "stop"],
      ["stop_sequence", "stop"],
      ["max_tokens", "length"],
      ["model_context_window_exceeded", "length"],
      ["tool_use", "tool_calls"],
      ["guardrail_intervened", "content_filter"],
      ["content_filtered", "content_filter"],
      ["malformed_tool_use", "error"],
      ["malformed_model_output", "error"],
      ["brand_new", "other"],
    ];
    for (const [raw, want] of cases) assert.equal(mapBedrockFinishReason(raw), want, raw);
  });
});

describe("bedrock: embeddings", () => {
  test("Titan: one input, dimensions and normalize; a batch is refused before sending", () => {
    const spec = buildBedrockEmbedRequest({ model: "amazon.titan-embed-text-v2:0", inputs: ["hello"], dimensions: 256 }, "bedrock");
    assert.equal(spec.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert.deepEqual(JSON.parse(spec.body!), { inputText: "hello", dimensions: 256, normalize: true });
    assert.throws(() => buildBedrockEmbedRequest({ model: "amazon.titan-embed-text-v2:0", inputs: ["a", "b"] }, "bedrock"), (e: unknown) => e instanceof ProviderError && e.kind === "bad_request");
    assert.throws(() => buildBedrockEmbedRequest({ model: "amazon.titan-embed-text-v2:0", inputs: ["a"], dimensions: 100 }, "bedrock"), /256, 512 or 1024/);
    const res = parseBedrockEmbedResponse(JSON.stringify({ embedding: [0.5, 0.25], inputTextTokenCount: 3 }), { model: "amazon.titan-embed-text-v2:0", inputs: ["hello"] }, "bedrock");
    assert.deepEqual([...res.embeddings[0]], [0.5, 0.25]);
    assert.deepEqual(res.usage, { inputTokens: 3 });
  });

  test("Cohere: a batch with input_type; both response shapes", () => {
    const r = { model: "cohere.embed-english-v3", inputs: ["a", "b"], inputType: "query" as const };
    assert.deepEqual(JSON.parse(buildBedrockEmbedRequest(r, "bedrock").body!), { texts: ["a", "b"], input_type: "search_query" });
    assert.deepEqual(JSON.parse(buildBedrockEmbedRequest({ ...r, inputType: undefined }, "bedrock").body!).input_type, "search_document");
    assert.throws(() => buildBedrockEmbedRequest({ ...r, dimensions: 256 }, "bedrock"), /fixed vector size/);
    const plain = parseBedrockEmbedResponse(JSON.stringify({ embeddings: [[1], [2]] }), r, "bedrock");
    const typed = parseBedrockEmbedResponse(JSON.stringify({ embeddings: { float: [[1], [2]] } }), r, "bedrock");
    assert.deepEqual(plain.embeddings.map((v) => [...v]), [[1], [2]]);
    assert.deepEqual(typed.embeddings.map((v) => [...v]), [[1], [2]]);
    assert.equal(plain.usage, undefined);
    assert.throws(() => parseBedrockEmbedResponse(JSON.stringify({ embeddings: [[1]] }), r, "bedrock"), /1 embeddings for 2 inputs/);
    assert.throws(() => buildBedrockEmbedRequest({ model: "meta.llama3", inputs: ["a"] }, "bedrock"), /not a Bedrock embedding model/);
  });
});
