// End to end through the whole gateway over a real socket for OpenAI-compatible vendors, pointed at
// the fake OpenAI server (which accepts any model listed in its `models` option): Groq quirks
// (max_completion_tokens, no stream_options, usage in x_groq.usage, developer sent as system, the
// 498 capacity status), Mistral's dropped fields and finish reasons, the generic dialect, a vLLM
// reasoning stream, and the router behaviours shared by the OpenAI family.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { FailureKind, ImageDetail, Role } from "@signalbox/client";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI, type OpenAIScenario } from "../fakes/openai.ts";
import {
  ask,
  assertFailure,
  attemptViews,
  BACKUP_DEPLOYMENTS_YAML,
  BACKUP_PROVIDER_YAML,
  collect,
  cost,
  costView,
  estimatedUsage,
  finishName,
  PROTOCOLS,
  rejection,
  routerBehaviourSuite,
  startEnv,
  usageView,
  type ChatRequestInit,
  type Env,
} from "./openai-family-harness.ts";

const GROQ = "groq/llama-3.3-70b";
const GROQ_MODEL = "llama-3.3-70b-versatile";
const MISTRAL = "mistral/large";
const GENERIC = "generic/qwen";
const VLLM = "vllm/qwen3";
const KEYLESS = "ollama/qwen";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/openai/${name}`, import.meta.url), "utf8");

function config(baseUrl: string): string {
  return `
providers:
  - { name: groq, type: openai-compatible, base_url: ${baseUrl}, api_key: ${OPENAI_TEST_KEY}, compat: { vendor: groq }, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
  - { name: mistral, type: openai-compatible, base_url: ${baseUrl}, api_key: ${OPENAI_TEST_KEY}, compat: { vendor: mistral } }
  - { name: generic, type: openai-compatible, base_url: ${baseUrl}, api_key: ${OPENAI_TEST_KEY} }
  - { name: vllm, type: openai-compatible, base_url: ${baseUrl}, api_key: ${OPENAI_TEST_KEY}, compat: { vendor: vllm } }
  - { name: ollama, type: openai-compatible, base_url: ${baseUrl}, compat: { vendor: ollama } }
${BACKUP_PROVIDER_YAML}
deployments:
  - { id: ${GROQ}, provider: groq, model: ${GROQ_MODEL}, pricing: { input: 0.59, output: 0.79 }, capabilities: [tools, vision, json_mode, streaming] }
  - { id: ${MISTRAL}, provider: mistral, model: mistral-large-latest, pricing: { input: 2, output: 6 }, capabilities: [tools, streaming] }
  - { id: ${GENERIC}, provider: generic, model: qwen2.5-7b, pricing: { input: 1, output: 1 }, capabilities: [tools, streaming] }
  - { id: ${VLLM}, provider: vllm, model: Qwen/Qwen3-8B, pricing: { input: 1, output: 2 }, capabilities: [streaming, reasoning] }
  - { id: ${KEYLESS}, provider: ollama, model: qwen2.5-7b, pricing: { input: 0, output: 0 } }
${BACKUP_DEPLOYMENTS_YAML}
routes:
  - { name: solo, targets: [${GROQ}], retry: { max_retries: 0 } }
  - name: with-backup
    targets: [${GROQ}, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 1, max_delay_ms: 5 }
    timeouts: { first_token_ms: 250, idle_ms: 1000, attempt_ms: 3000, total_ms: 5000 }
  - { name: long-context, targets: [${GROQ}, backup/mock, backup/big], retry: { max_retries: 0 } }
  - name: retrying
    targets: [${GROQ}, backup/mock]
    retry: { max_retries: 1, base_delay_ms: 50, max_delay_ms: 100, max_retry_after_ms: 500 }
`;
}

let fake: FakeOpenAI;
before(async () => {
  // The OpenAI fake knows only these model ids (anything else is its 404 model_not_found).
  fake = await startFakeOpenAI({ models: [GROQ_MODEL, "mistral-large-latest", "qwen2.5-7b", "Qwen/Qwen3-8B"] });
});
after(() => fake.close());
beforeEach(() => fake.reset());

async function env(t: TestContext, yaml = config(fake.url)): Promise<Env> {
  const e = await startEnv(yaml);
  t.after(() => e.close());
  return e;
}

const last = () => fake.requests[fake.requests.length - 1];

describe("groq: text", () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: unary text, usage and cost`, async (t) => {
      const { clients } = await env(t);
      fake.script({ kind: "text", text: "Fast answer.", usage: { input: 100, output: 20 } });
      const res = await clients[protocol].chat.complete(ask(GROQ, "hello"));
      assert.equal(res.message?.content[0]?.part.value, "Fast answer.");
      assert.equal(res.deployment, GROQ);
      assert.equal(res.provider, "groq");
      assert.equal(res.providerModel, GROQ_MODEL);
      assert.equal(finishName(res.finishReason), "STOP");
      assert.deepEqual(usageView(res.usage), { input: 100, output: 20, cached: 0, cacheWrite: 0, reasoning: 0, total: 120, estimated: false });
      // 100 × $0.59/M + 20 × $0.79/M
      assert.deepEqual(costView(res.cost), cost({ input: 59_000, output: 15_800 }));
      assert.equal(last().path, "/v1/chat/completions");
      assert.equal(last().headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
      assert.deepEqual(last().body, { model: GROQ_MODEL, messages: [{ role: "user", content: "hello" }] });
    });

    test(`${protocol}: stream without stream_options (Groq does not take it): usage is estimated`, async (t) => {
      const { clients, t: gw } = await env(t);
      fake.script({ kind: "text", text: "Streaming quickly now", chunking: "hostile" });
      const c = await collect(clients[protocol], ask(GROQ, "hello"));
      assert.equal(c.error, undefined, c.error?.message);
      assert.equal(c.text, "Streaming quickly now");
      assert.deepEqual(last().body, { model: GROQ_MODEL, messages: [{ role: "user", content: "hello" }], stream: true });
      // The prompt and the 21 characters delivered, by the estimator for Llama (src/providers/tokens.ts).
      const est = estimatedUsage(gw, GROQ, "hello", "Streaming quickly now");
      assert.deepEqual(usageView(c.finish?.usage), { input: est.input, output: est.output, cached: 0, cacheWrite: 0, reasoning: 0, total: est.input + est.output, estimated: true });
      assert.deepEqual(costView(c.finish?.cost), cost({ input: est.input * 590, output: est.output * 790 }));
    });
  }

  test("stream: usage from x_groq.usage (a recorded Groq stream, byte-sliced)", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "http", status: 200, headers: { "content-type": "text/event-stream" }, body: fixture("compat-groq.chunks.txt"), chunking: { bytes: 11 } });
    const c = await collect(client, ask(GROQ, "hello"));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.text, "Hi!");
    assert.equal(c.start?.providerModel, GROQ_MODEL);
    assert.equal(finishName(c.finish!.finishReason), "STOP");
    assert.deepEqual(usageView(c.finish?.usage), { input: 12, output: 3, cached: 0, cacheWrite: 0, reasoning: 0, total: 15, estimated: false });
    // 12 × 0.59 + 3 × 0.79 USD/M
    assert.deepEqual(costView(c.finish?.cost), cost({ input: 7_080, output: 2_370 }));
  });
});

describe("vendor dialects", () => {
  const messages: ChatRequestInit["messages"] = [
    { role: Role.DEVELOPER, content: [{ part: { case: "text", value: "Rules." } }] },
    { role: Role.USER, content: [{ part: { case: "text", value: "hi" } }] },
  ];
  const tools: ChatRequestInit["tools"] = [{ name: "noop", parameters: { type: "object", properties: {} } }];
  const base = { messages, tools, maxOutputTokens: 50, seed: 3n, user: "u-1", parallelToolCalls: true };
  const common = { messages: [{ role: "system", content: "Rules." }, { role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "noop", parameters: { type: "object", properties: {} } } }] };

  test("groq: max_completion_tokens, developer as system, seed/user/parallel_tool_calls kept", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({ model: GROQ, ...base });
    assert.deepEqual(last().body, { model: GROQ_MODEL, ...common, parallel_tool_calls: true, max_completion_tokens: 50, seed: 3, user: "u-1" });
  });

  test("mistral: max_tokens, seed/user/parallel_tool_calls dropped, no stream_options", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({ model: MISTRAL, ...base });
    assert.deepEqual(last().body, { model: "mistral-large-latest", ...common, max_tokens: 50 });
    await collect(client, { model: MISTRAL, ...base });
    assert.deepEqual(last().body, { model: "mistral-large-latest", ...common, max_tokens: 50, stream: true });
  });

  test("generic: max_tokens, developer as system, stream_options on streams", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({ model: GENERIC, ...base });
    assert.deepEqual(last().body, { model: "qwen2.5-7b", ...common, parallel_tool_calls: true, max_tokens: 50, seed: 3, user: "u-1" });
    fake.script({ kind: "text", text: "ok", usage: { input: 4, output: 1 } });
    const c = await collect(client, ask(GENERIC, "hi"));
    assert.deepEqual(last().body.stream_options, { include_usage: true });
    assert.deepEqual(usageView(c.finish?.usage), { input: 4, output: 1, cached: 0, cacheWrite: 0, reasoning: 0, total: 5, estimated: false });
  });

  test("a connection without api_key sends no Authorization header", async (t) => {
    const { client } = await env(t);
    const err = await rejection(client.chat.complete(ask(KEYLESS, "hi")));
    assert.equal(last().headers.authorization, undefined);
    // The fake wants a key: its 401 is the gateway's problem, not the caller's.
    assertFailure(err, Code.Unavailable, FailureKind.UPSTREAM_AUTH);
  });

  test("vLLM: reasoning_content deltas, finish length, usage without completion details", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "http", status: 200, headers: { "content-type": "text/event-stream" }, body: fixture("compat-vllm-reasoning.chunks.txt"), chunking: "hostile" });
    const c = await collect(client, ask(VLLM, "hello"));
    assert.equal(c.error, undefined, c.error?.message);
    assert.equal(c.reasoning, "User greets. ");
    assert.equal(c.text, "Hello");
    assert.equal(finishName(c.finish!.finishReason), "LENGTH");
    assert.equal(c.finish?.rawFinishReason, "length");
    assert.equal(c.start?.providerModel, "Qwen/Qwen3-8B");
    assert.deepEqual(usageView(c.finish?.usage), { input: 9, output: 20, cached: 0, cacheWrite: 0, reasoning: 0, total: 29, estimated: false });
    assert.deepEqual(last().body.stream_options, { include_usage: true });
  });
});

const TOOLS: ChatRequestInit["tools"] = [{ name: "get_stock", description: "Stock level", parameters: { type: "object", properties: { sku: { type: "string" } } } }];

describe("groq: tools and images", () => {
  test("unary tool call, tool definitions upstream", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ id: "call_g1", arguments: { sku: "X1" } }] });
    const res = await client.chat.complete(ask(GROQ, "stock of X1?", { tools: TOOLS }));
    assert.deepEqual(
      res.message?.toolCalls.map((c) => [c.id, c.name, c.arguments]),
      [["call_g1", "get_stock", '{"sku":"X1"}']],
    );
    assert.equal(finishName(res.finishReason), "TOOL_CALLS");
    assert.deepEqual(last().body.tools, [
      { type: "function", function: { name: "get_stock", description: "Stock level", parameters: { type: "object", properties: { sku: { type: "string" } } } } },
    ]);
  });

  test("streamed tool call reassembled; follow-up with the tool result", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ id: "call_g2", arguments: { sku: "Y-2000" } }], chunking: "hostile" });
    const c = await collect(client, ask(GROQ, "stock of Y-2000?", { tools: TOOLS }));
    assert.equal(c.error, undefined, c.error?.message);
    assert.deepEqual(c.toolCalls, [{ index: 0, id: "call_g2", name: "get_stock", arguments: '{"sku":"Y-2000"}' }]);
    assert.equal(finishName(c.finish!.finishReason), "TOOL_CALLS");

    const res = await client.chat.complete({
      model: GROQ,
      tools: TOOLS,
      messages: [
        { role: Role.USER, content: [{ part: { case: "text", value: "stock of Y-2000?" } }] },
        { role: Role.ASSISTANT, toolCalls: c.toolCalls.map((tc) => ({ id: tc.id, name: tc.name, arguments: tc.arguments })) },
        { role: Role.TOOL, toolCallId: "call_g2", content: [{ part: { case: "text", value: "12 left" } }] },
      ],
    });
    assert.equal(res.message?.content[0]?.part.value, "Echo: 12 left");
    assert.deepEqual(last().body.messages.slice(1), [
      { role: "assistant", content: null, tool_calls: [{ id: "call_g2", type: "function", function: { name: "get_stock", arguments: '{"sku":"Y-2000"}' } }] },
      { role: "tool", tool_call_id: "call_g2", content: "12 left" },
    ]);
  });

  test("image bytes and URL in the upstream body", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({
      model: GROQ,
      messages: [
        {
          role: Role.USER,
          content: [
            { part: { case: "text", value: "what?" } },
            { part: { case: "image", value: { source: { case: "data", value: new Uint8Array([1, 2, 3]) }, mediaType: "image/webp" } } },
            { part: { case: "image", value: { source: { case: "url", value: "https://example.com/c.png" }, detail: ImageDetail.HIGH } } },
          ],
        },
      ],
    });
    assert.deepEqual(last().body.messages[0].content, [
      { type: "text", text: "what?" },
      { type: "image_url", image_url: { url: "data:image/webp;base64,AQID" } },
      { type: "image_url", image_url: { url: "https://example.com/c.png", detail: "high" } },
    ]);
  });
});

describe("finish reasons", () => {
  const cases: Array<{ raw: string; unified: string; scenario: OpenAIScenario }> = [
    { raw: "stop", unified: "STOP", scenario: { kind: "text", text: "ok" } },
    { raw: "length", unified: "LENGTH", scenario: { kind: "text", text: "ok", finishReason: "length" } },
    { raw: "tool_calls", unified: "TOOL_CALLS", scenario: { kind: "tool_calls" } },
    // Mistral's own reason for hitting the context limit.
    { raw: "model_length", unified: "LENGTH", scenario: { kind: "text", text: "ok", finishReason: "model_length" as never } },
    { raw: "eos", unified: "OTHER", scenario: { kind: "text", text: "ok", finishReason: "eos" as never } },
  ];
  for (const { raw, unified, scenario } of cases) {
    test(`unary and stream: ${raw} → ${unified}`, async (t) => {
      const { client } = await env(t);
      fake.script([scenario, scenario]);
      const res = await client.chat.complete(ask(GROQ, "go", { tools: TOOLS }));
      assert.equal(finishName(res.finishReason), unified);
      assert.equal(res.rawFinishReason, raw);
      const c = await collect(client, ask(GROQ, "go", { tools: TOOLS }));
      assert.equal(c.error, undefined, c.error?.message);
      assert.equal(finishName(c.finish!.finishReason), unified);
      assert.equal(c.finish?.rawFinishReason, raw);
    });
  }

  test("a compat server that reports stop for a tool call: unified tool_calls, raw stop", async (t) => {
    const { client } = await env(t);
    const body = {
      id: "c1",
      object: "chat.completion",
      created: 1,
      model: GROQ_MODEL,
      choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "get_stock", arguments: { sku: "Z" } } }] }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
    };
    fake.script({ kind: "http", status: 200, body });
    const res = await client.chat.complete(ask(GROQ, "go", { tools: TOOLS }));
    assert.equal(finishName(res.finishReason), "TOOL_CALLS");
    assert.equal(res.rawFinishReason, "stop");
    // Arguments sent as an object are turned into JSON text.
    assert.deepEqual(
      res.message?.toolCalls.map((c) => [c.id, c.name, c.arguments]),
      [["t1", "get_stock", '{"sku":"Z"}']],
    );
  });
});

describe("failures", () => {
  const cases: Array<{ name: string; scenario: OpenAIScenario; status: number; kind: FailureKind; code: Code }> = [
    { name: "429 rate limit", scenario: { kind: "error", error: "rate_limit" }, status: 429, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted },
    { name: "401 invalid key", scenario: { kind: "error", error: "invalid_api_key" }, status: 401, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable },
    { name: "500 server error", scenario: { kind: "error", error: "server_error" }, status: 500, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { name: "400 context length", scenario: { kind: "error", error: "context_length_exceeded" }, status: 400, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument },
    {
      name: "498 Groq flex capacity",
      scenario: { kind: "http", status: 498, body: { error: { message: "Request could not be processed: flex tier capacity exceeded", type: "invalid_request_error", code: "capacity_exceeded" } } },
      status: 498,
      kind: FailureKind.OVERLOADED,
      code: Code.Unavailable,
    },
    {
      name: "424 Groq failed dependency",
      scenario: { kind: "http", status: 424, body: { error: { message: "A dependency of the request failed", type: "internal_server_error" } } },
      status: 424,
      kind: FailureKind.SERVER_ERROR,
      code: Code.Unavailable,
    },
    {
      name: "422 Mistral-style validation detail",
      scenario: { kind: "http", status: 422, body: { object: "error", message: { detail: [{ loc: ["body", "temperature"], msg: "Input should be less than or equal to 1.5", type: "less_than_equal", input: 1.9 }] }, type: "invalid_request_message_error" } },
      status: 422,
      kind: FailureKind.BAD_REQUEST,
      code: Code.InvalidArgument,
    },
  ];
  for (const f of cases) {
    test(`${f.name} → ${Code[f.code]} (unary and stream)`, async (t) => {
      const { client } = await env(t);
      fake.script([f.scenario, f.scenario]);
      const err = await rejection(client.chat.complete(ask("solo", "hello")));
      const info = assertFailure(err, f.code, f.kind);
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.equal(info.attempts[0].httpStatus, f.status);
      const c = await collect(client, ask("solo", "hello"));
      assertFailure(c.error, f.code, f.kind);
    });
  }

  test("the 422 validation detail is in the message, without the echoed input", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "http", status: 422, body: { object: "error", message: { detail: [{ loc: ["body", "temperature"], msg: "Input should be less than or equal to 1.5", type: "less_than_equal", input: 1.9 }] } } });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    assert.match(err.message, /body\.temperature: Input should be less than or equal to 1\.5 \(less_than_equal\)/);
    assert.doesNotMatch(err.message, /1\.9/);
  });

  test("a model the server does not serve: model_not_found, falls back", async (t) => {
    const yaml = config(fake.url).replace(`model: ${GROQ_MODEL}, pricing`, "model: llama-2-retired, pricing");
    const { client } = await env(t, yaml);
    const res = await client.chat.complete(ask("with-backup", "hello"));
    assert.deepEqual(attemptViews(res.attempts), [
      { deployment: GROQ, outcome: "FAILED", kind: "MODEL_NOT_FOUND", status: 404, reason: "primary" },
      { deployment: "backup/mock", outcome: "SUCCEEDED", reason: `fallback after model_not_found from ${GROQ}` },
    ]);
  });
});

routerBehaviourSuite<OpenAIScenario>({
  fake: () => fake,
  config: (origin) => config(`${origin}/v1`),
  dep: GROQ,
  // Groq's dialect sends no stream_options, so the fake's stream ends without a usage chunk.
  usageChunk: false,
  streamError: { kind: "STREAM_INTERRUPTED" },
  rateLimited: (ms) => ({ kind: "error", error: "rate_limit", retryAfterMs: ms }),
  contextLength: { kind: "error", error: "context_length_exceeded" },
  fallsBack: [
    { name: "429 rate_limited", scenario: { kind: "error", error: "rate_limit" }, kind: "RATE_LIMITED", status: 429 },
    { name: "503 overloaded", scenario: { kind: "error", error: "overloaded" }, kind: "OVERLOADED", status: 503 },
    { name: "498 capacity exceeded", scenario: { kind: "http", status: 498, body: { error: { message: "flex tier capacity exceeded", code: "capacity_exceeded" } } }, kind: "OVERLOADED", status: 498 },
    { name: "500 server_error", scenario: { kind: "error", error: "server_error" }, kind: "SERVER_ERROR", status: 500 },
    { name: "401 upstream auth", scenario: { kind: "error", error: "invalid_api_key" }, kind: "UPSTREAM_AUTH", status: 401 },
  ],
  noFallback: [
    { name: "400 bad_request", scenario: { kind: "error", error: "invalid_request" }, kind: "BAD_REQUEST", code: Code.InvalidArgument },
    { name: "content filter (invalid_prompt)", scenario: { kind: "error", error: "invalid_prompt" }, kind: "CONTENT_FILTERED", code: Code.InvalidArgument },
  ],
});
