// End to end through the whole gateway over a real socket, against the fake OpenAI server:
// Connect and gRPC clients → server → router → OpenAI adapter → undici → fake. Covers text (unary and
// streamed), usage normalisation and cost, tools both ways, image input, every finish reason, every
// failure the fake can produce, fallbacks to a mock deployment, retry-after, and caller deadlines.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { FailureKind, ImageDetail, Role, ToolChoiceMode } from "@signalbox/client";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI, type OpenAIErrorName, type OpenAIScenario } from "../fakes/openai.ts";

// Key-shaped on purpose (the provider masks it in its 401); assembled so that secret scanners do
// not mistake the test for a leak.
const WRONG_KEY = ["sk", "wrong", "key", "0123456789abcdef"].join("-");
import {
  ask,
  assertFailure,
  attemptViews,
  BACKUP_DEPLOYMENTS_YAML,
  BACKUP_PROVIDER_YAML,
  collect,
  cost,
  costView,
  finishName,
  kindName,
  PROTOCOLS,
  rejection,
  routerBehaviourSuite,
  startEnv,
  usageView,
  waitForRecord,
  type ChatRequestInit,
  type Env,
} from "./openai-family-harness.ts";

const DEP = "openai/gpt-4o";
const SERVED = "gpt-4o-2024-08-06";

function config(baseUrl: string, apiKey = OPENAI_TEST_KEY): string {
  return `
server: { max_request_bytes: 1048576 }
providers:
  - name: openai
    type: openai
    base_url: ${baseUrl}
    api_key: ${apiKey}
    timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }
${BACKUP_PROVIDER_YAML}
deployments:
  - id: ${DEP}
    provider: openai
    model: gpt-4o
    pricing: { input: 2.5, cached_input: 1.25, output: 10, reasoning: 12 }
${BACKUP_DEPLOYMENTS_YAML}
routes:
  - name: solo
    targets: [${DEP}]
    retry: { max_retries: 0 }
  - name: with-backup
    targets: [${DEP}, backup/mock]
    retry: { max_retries: 0, base_delay_ms: 1, max_delay_ms: 5 }
    timeouts: { first_token_ms: 250, idle_ms: 1000, attempt_ms: 3000, total_ms: 5000 }
  - name: long-context
    targets: [${DEP}, backup/mock, backup/big]
    retry: { max_retries: 0 }
  - name: retrying
    targets: [${DEP}, backup/mock]
    retry: { max_retries: 1, base_delay_ms: 50, max_delay_ms: 100, max_retry_after_ms: 500 }
`;
}

let fake: FakeOpenAI;
before(async () => {
  fake = await startFakeOpenAI();
});
after(() => fake.close());
beforeEach(() => fake.reset());

/** A fresh gateway per test: cooldowns from one test's failures must not steer the next. */
async function env(t: TestContext, yaml = config(fake.url)): Promise<Env> {
  const e = await startEnv(yaml);
  t.after(() => e.close());
  return e;
}

const last = () => fake.requests[fake.requests.length - 1];

describe("text", () => {
  for (const protocol of PROTOCOLS) {
    test(`${protocol}: unary text, provider model, usage and cost`, async (t) => {
      const { clients } = await env(t);
      fake.script({ kind: "text", text: "Hello from the fake", model: SERVED, usage: { input: 1200, output: 300 } });
      const res = await clients[protocol].chat.complete(ask("solo", "hello"));
      assert.equal(res.message?.content.map((p) => p.part.value).join(""), "Hello from the fake");
      assert.equal(res.model, "solo");
      assert.equal(res.deployment, DEP);
      assert.equal(res.provider, "openai");
      assert.equal(res.providerModel, SERVED);
      assert.equal(finishName(res.finishReason), "STOP");
      assert.equal(res.rawFinishReason, "stop");
      assert.deepEqual(usageView(res.usage), { input: 1200, output: 300, cached: 0, cacheWrite: 0, reasoning: 0, total: 1500, estimated: false });
      // 1200 × $2.50/M + 300 × $10/M
      assert.deepEqual(costView(res.cost), cost({ input: 3_000_000, output: 3_000_000 }));
      assert.deepEqual(attemptViews(res.attempts), [{ deployment: DEP, outcome: "SUCCEEDED", reason: "primary" }]);
      assert.deepEqual(costView(res.attempts[0].cost), costView(res.cost));
      assert.equal(res.routing?.route, "solo");

      assert.equal(fake.requests.length, 1);
      const up = fake.requests[0];
      assert.equal(up.method, "POST");
      assert.equal(up.path, "/v1/chat/completions");
      assert.equal(up.headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
      assert.deepEqual(up.body, { model: "gpt-4o", messages: [{ role: "user", content: "hello" }] });
    });

    test(`${protocol}: streamed text (hostile chunking, multi-byte) with usage and cost`, async (t) => {
      const { clients, t: gw } = await env(t);
      fake.script({ kind: "text", text: "Grüße aus Köln 🌍 ok", model: SERVED, usage: { input: 50, cached: 20, output: 30, reasoning: 12 }, chunking: "hostile" });
      const c = await collect(clients[protocol], ask("solo", "stream please"));
      assert.equal(c.error, undefined);
      assert.equal(c.text, "Grüße aus Köln 🌍 ok");
      // start, then deltas (events of one upstream read may share a delta message), then finish
      assert.match(c.order.join(","), /^start(,delta)+,finish$/);
      assert.equal(c.start?.deployment, DEP);
      assert.equal(c.start?.provider, "openai");
      assert.equal(c.start?.providerModel, SERVED);
      assert.equal(c.start?.model, "solo");
      assert.deepEqual(c.start?.priorAttempts, []);
      assert.equal(finishName(c.finish!.finishReason), "STOP");
      assert.equal(c.finish?.rawFinishReason, "stop");
      assert.equal(c.finish?.providerModel, SERVED);
      assert.deepEqual(usageView(c.finish?.usage), { input: 50, output: 30, cached: 20, cacheWrite: 0, reasoning: 12, total: 80, estimated: false });
      // 30 uncached × $2.50/M, 20 cached × $1.25/M, 18 output × $10/M, 12 reasoning × $12/M
      assert.deepEqual(costView(c.finish?.cost), cost({ input: 75_000, cachedInput: 25_000, output: 180_000, reasoning: 144_000 }));
      assert.deepEqual(attemptViews(c.finish!.attempts), [{ deployment: DEP, outcome: "SUCCEEDED", reason: "primary" }]);
      assert.ok(c.finish!.attempts[0].ttftMs !== undefined, "ttft recorded");

      assert.deepEqual(fake.requests[0].body, {
        model: "gpt-4o",
        messages: [{ role: "user", content: "stream please" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const rec = await waitForRecord(gw, (r) => r.model === "solo");
      assert.equal(rec.status, "ok");
      assert.equal(rec.streamed, true);
      assert.equal(rec.deployment, DEP);
      assert.equal(rec.cost.total, 424_000);
    });
  }

  test("request parameters are mapped to OpenAI's fields (developer role, max_completion_tokens, stop, seed)", async (t) => {
    const { client } = await env(t);
    await client.chat.complete({
      model: "solo",
      messages: [
        { role: Role.DEVELOPER, content: [{ part: { case: "text", value: "Be terse." } }] },
        { role: Role.SYSTEM, content: [{ part: { case: "text", value: "You are a bot." } }] },
        { role: Role.USER, content: [{ part: { case: "text", value: "hi" } }], name: "alice" },
      ],
      temperature: 0.5,
      topP: 0.9,
      maxOutputTokens: 64,
      stop: ["END"],
      seed: 7n,
      user: "user-1",
    });
    assert.deepEqual(last().body, {
      model: "gpt-4o",
      messages: [
        { role: "developer", content: "Be terse." },
        { role: "system", content: "You are a bot." },
        { role: "user", content: "hi", name: "alice" },
      ],
      temperature: 0.5,
      top_p: 0.9,
      max_completion_tokens: 64,
      stop: ["END"],
      seed: 7,
      user: "user-1",
    });
  });
});

describe("usage with cached and reasoning tokens", () => {
  test("unary: cached and reasoning tokens are subsets, priced separately", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "text", text: "thought hard", usage: { input: 1000, cached: 400, output: 500, reasoning: 200 } });
    const res = await client.chat.complete(ask("solo", "think"));
    assert.deepEqual(usageView(res.usage), { input: 1000, output: 500, cached: 400, cacheWrite: 0, reasoning: 200, total: 1500, estimated: false });
    // 600 × 2.5 + 400 × 1.25 + 300 × 10 + 200 × 12 (USD/M) in nano-USD
    assert.deepEqual(costView(res.cost), cost({ input: 1_500_000, cachedInput: 500_000, output: 3_000_000, reasoning: 2_400_000 }));
  });
});

const TOOLS: ChatRequestInit["tools"] = [
  {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
  { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } } } },
];
const TOOLS_UPSTREAM = [
  {
    type: "function",
    function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
  },
  { type: "function", function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } } } } },
];

describe("tools", () => {
  test("unary: tool definitions, tool_choice and parallel_tool_calls go upstream; the call comes back", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ id: "call_w1", name: "get_weather", arguments: { city: "Paris" } }], usage: { input: 80, output: 20 } });
    const res = await client.chat.complete(
      ask("solo", "weather in Paris?", { tools: TOOLS, toolChoice: { choice: { case: "mode", value: ToolChoiceMode.REQUIRED } }, parallelToolCalls: false }),
    );
    assert.deepEqual(
      res.message?.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
      [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }],
    );
    assert.deepEqual(res.message?.content, []);
    assert.equal(finishName(res.finishReason), "TOOL_CALLS");
    assert.equal(res.rawFinishReason, "tool_calls");
    const body = last().body;
    assert.deepEqual(body.tools, TOOLS_UPSTREAM);
    assert.equal(body.tool_choice, "required");
    assert.equal(body.parallel_tool_calls, false);
  });

  test("a named tool choice is sent as a function choice", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "tool_calls", calls: [{ name: "get_time", arguments: { tz: "CET" } }] });
    await client.chat.complete(ask("solo", "time?", { tools: TOOLS, toolChoice: { choice: { case: "tool", value: "get_time" } } }));
    assert.deepEqual(last().body.tool_choice, { type: "function", function: { name: "get_time" } });
  });

  for (const protocol of PROTOCOLS) {
    test(`${protocol}: streamed parallel tool calls are reassembled from fragments (hostile chunking)`, async (t) => {
      const { clients } = await env(t);
      fake.script({
        kind: "tool_calls",
        calls: [
          { id: "call_a", name: "get_weather", arguments: { city: "Zürich", unit: "°C" } },
          { id: "call_b", name: "get_time", arguments: { tz: "Europe/Zurich" } },
        ],
        usage: { input: 90, output: 30 },
        chunking: "hostile",
      });
      const c = await collect(clients[protocol], ask("solo", "weather and time", { tools: TOOLS }));
      assert.equal(c.error, undefined);
      assert.deepEqual(c.toolCalls, [
        { index: 0, id: "call_a", name: "get_weather", arguments: '{"city":"Zürich","unit":"°C"}' },
        { index: 1, id: "call_b", name: "get_time", arguments: '{"tz":"Europe/Zurich"}' },
      ]);
      assert.equal(c.text, "");
      assert.equal(finishName(c.finish!.finishReason), "TOOL_CALLS");
      assert.equal(c.finish?.rawFinishReason, "tool_calls");
      assert.deepEqual(usageView(c.finish?.usage), { input: 90, output: 30, cached: 0, cacheWrite: 0, reasoning: 0, total: 120, estimated: false });
      assert.deepEqual(last().body.tools, TOOLS_UPSTREAM);
    });
  }

  test("follow-up: the assistant tool call and the ROLE_TOOL result are sent upstream", async (t) => {
    const { client } = await env(t);
    const res = await client.chat.complete({
      model: "solo",
      tools: TOOLS,
      messages: [
        { role: Role.USER, content: [{ part: { case: "text", value: "weather in Paris?" } }] },
        { role: Role.ASSISTANT, toolCalls: [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }] },
        { role: Role.TOOL, toolCallId: "call_w1", name: "get_weather", content: [{ part: { case: "text", value: '{"temp_c":21}' } }] },
      ],
    });
    // The fake echoes the last user/tool message.
    assert.equal(res.message?.content[0]?.part.value, 'Echo: {"temp_c":21}');
    assert.deepEqual(last().body.messages, [
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_w1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_w1", content: '{"temp_c":21}' },
    ]);
    assert.deepEqual(last().body.tools, TOOLS_UPSTREAM);
  });
});

describe("image input", () => {
  test("image bytes become a data URL and an image URL keeps its detail", async (t) => {
    const { client } = await env(t);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3]);
    const res = await client.chat.complete({
      model: "solo",
      messages: [
        {
          role: Role.USER,
          content: [
            { part: { case: "text", value: "What is in these?" } },
            { part: { case: "image", value: { source: { case: "data", value: png }, mediaType: "image/png" } } },
            { part: { case: "image", value: { source: { case: "url", value: "https://example.com/cat.jpg" }, detail: ImageDetail.LOW } } },
          ],
        },
      ],
    });
    assert.equal(res.message?.content[0]?.part.value, "Echo: What is in these?");
    assert.deepEqual(last().body.messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "What is in these?" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${Buffer.from(png).toString("base64")}` } },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "low" } },
        ],
      },
    ]);
  });
});

describe("finish reasons", () => {
  const cases: Array<{ raw: string; unified: string; scenario: OpenAIScenario }> = [
    { raw: "stop", unified: "STOP", scenario: { kind: "text", text: "done" } },
    { raw: "length", unified: "LENGTH", scenario: { kind: "text", text: "cut sh", finishReason: "length" } },
    { raw: "content_filter", unified: "CONTENT_FILTER", scenario: { kind: "text", text: "partial", finishReason: "content_filter" } },
    { raw: "function_call", unified: "TOOL_CALLS", scenario: { kind: "text", text: "legacy", finishReason: "function_call" } },
    { raw: "tool_calls", unified: "TOOL_CALLS", scenario: { kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Oslo" } }] } },
    { raw: "something_new", unified: "OTHER", scenario: { kind: "text", text: "odd", finishReason: "something_new" as never } },
  ];
  for (const { raw, unified, scenario } of cases) {
    test(`unary and stream: ${raw} → ${unified}`, async (t) => {
      const { client } = await env(t);
      fake.script([scenario, scenario]);
      const res = await client.chat.complete(ask("solo", "go", { tools: TOOLS }));
      assert.equal(finishName(res.finishReason), unified);
      assert.equal(res.rawFinishReason, raw);
      const c = await collect(client, ask("solo", "go", { tools: TOOLS }));
      assert.equal(c.error, undefined);
      assert.equal(finishName(c.finish!.finishReason), unified);
      assert.equal(c.finish?.rawFinishReason, raw);
    });
  }

  test("refusal: unary refusal field and streamed refusal deltas, finish stop", async (t) => {
    const { client } = await env(t);
    const refusal = "I'm sorry, I can't help with that.";
    fake.script([{ kind: "refusal", refusal }, { kind: "refusal", refusal }]);
    const res = await client.chat.complete(ask("solo", "bad idea"));
    assert.equal(res.refusal, refusal);
    assert.deepEqual(res.message?.content, []);
    assert.equal(finishName(res.finishReason), "STOP");
    assert.equal(res.rawFinishReason, "stop");
    const c = await collect(client, ask("solo", "bad idea"));
    assert.equal(c.refusal, refusal);
    assert.equal(c.text, "");
    assert.equal(finishName(c.finish!.finishReason), "STOP");
  });
});

describe("failures (route without fallback, no retries)", () => {
  const cases: Array<{ error: OpenAIErrorName; status: number; kind: FailureKind; code: Code }> = [
    { error: "invalid_request", status: 400, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument },
    { error: "unsupported_parameter", status: 400, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument },
    { error: "context_length_exceeded", status: 400, kind: FailureKind.CONTEXT_LENGTH_EXCEEDED, code: Code.InvalidArgument },
    { error: "invalid_prompt", status: 400, kind: FailureKind.CONTENT_FILTERED, code: Code.InvalidArgument },
    { error: "invalid_api_key", status: 401, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable },
    { error: "permission_denied", status: 403, kind: FailureKind.UPSTREAM_AUTH, code: Code.Unavailable },
    { error: "model_not_found", status: 404, kind: FailureKind.MODEL_NOT_FOUND, code: Code.Unavailable },
    { error: "request_timeout", status: 408, kind: FailureKind.TIMEOUT, code: Code.DeadlineExceeded },
    { error: "conflict", status: 409, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { error: "unprocessable_entity", status: 422, kind: FailureKind.BAD_REQUEST, code: Code.InvalidArgument },
    { error: "rate_limit", status: 429, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted },
    { error: "request_too_large", status: 429, kind: FailureKind.RATE_LIMITED, code: Code.ResourceExhausted },
    { error: "insufficient_quota", status: 429, kind: FailureKind.QUOTA_EXHAUSTED, code: Code.Unavailable },
    { error: "server_error", status: 500, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { error: "bad_gateway", status: 502, kind: FailureKind.SERVER_ERROR, code: Code.Unavailable },
    { error: "overloaded", status: 503, kind: FailureKind.OVERLOADED, code: Code.Unavailable },
  ];
  for (const { error, status, kind, code } of cases) {
    test(`HTTP ${status} ${error} → ${Code[code]} / ${kindName(kind)} (unary and stream)`, async (t) => {
      const { client, t: gw } = await env(t);
      fake.script([{ kind: "error", error }, { kind: "error", error }]);
      const err = await rejection(client.chat.complete(ask("solo", "hello")));
      const info = assertFailure(err, code, kind);
      assert.notEqual(err.code, Code.Unauthenticated);
      assert.deepEqual(attemptViews(info.attempts), [{ deployment: DEP, outcome: "FAILED", kind: kindName(kind), status, reason: "primary" }]);
      assert.ok(info.attempts[0].errorMessage.length > 0);
      assert.doesNotMatch(info.attempts[0].errorMessage, /test-key-openai/);
      assert.equal(info.traceId.length, 32);

      const c = await collect(client, ask("solo", "hello"));
      const sinfo = assertFailure(c.error, code, kind);
      assert.equal(c.start, undefined);
      assert.deepEqual(attemptViews(sinfo.attempts), [{ deployment: DEP, outcome: "FAILED", kind: kindName(kind), status, reason: "primary" }]);
      assert.equal(sinfo.deliveredDeltas, 0);
      assert.equal(fake.requests.length, 2);

      const rec = await waitForRecord(gw, (r) => r.streamed);
      assert.equal(rec.status, Code[code].replace(/[A-Z]/g, (ch, i: number) => (i ? "_" : "") + ch.toLowerCase()));
    });
  }

  test("an invalid API key in the gateway's config is unavailable / upstream_auth, never unauthenticated", async (t) => {
    const { client } = await env(t, config(fake.url, WRONG_KEY));
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.Unavailable, FailureKind.UPSTREAM_AUTH);
    assert.notEqual(err.code, Code.Unauthenticated);
    assert.equal(info.attempts[0].httpStatus, 401);
    // OpenAI echoes part of the key in its message: it must not reach the caller.
    assert.doesNotMatch(err.message, /sk-wro|cdef/);
    assert.doesNotMatch(info.attempts[0].errorMessage, /sk-wro|cdef/);
    assert.equal(last().headers.authorization, `Bearer ${WRONG_KEY}`);
  });

  test("rate limit: ErrorInfo and the retry-after header carry the provider's delay", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "rate_limit", retryAfter: 3 });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.ResourceExhausted, FailureKind.RATE_LIMITED);
    assert.equal(info.retryAfterMs, 3000);
    assert.equal(info.attempts[0].retryAfterMs, 3000);
    assert.equal(err.metadata.get("retry-after"), "3");
  });

  test("malformed JSON body (200) → unavailable / server_error", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "malformed" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.Unavailable, FailureKind.SERVER_ERROR);
    assert.deepEqual(attemptViews(info.attempts), [{ deployment: DEP, outcome: "FAILED", kind: "SERVER_ERROR", reason: "primary" }]);
  });

  test("malformed stream chunk after content → unavailable / stream_interrupted with delivered deltas", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "malformed", chunkDelayMs: 20 });
    const c = await collect(client, ask("solo", "hello"));
    const info = assertFailure(c.error, Code.Unavailable, FailureKind.STREAM_INTERRUPTED);
    assert.equal(c.text, "Echo: ");
    assert.equal(info.deliveredDeltas, 1);
    assert.equal(info.deliveredChars, 6);
  });

  test("connection reset before any answer → unavailable / network", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "disconnect" });
    const err = await rejection(client.chat.complete(ask("solo", "hello")));
    const info = assertFailure(err, Code.Unavailable, FailureKind.NETWORK);
    assert.deepEqual(attemptViews(info.attempts), [{ deployment: DEP, outcome: "FAILED", kind: "NETWORK", reason: "primary" }]);
  });

  test("in-band stream error before any content (route without fallback) → unavailable / stream_interrupted", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "stream_error", afterDeltas: 0 });
    const c = await collect(client, ask("solo", "hello"));
    const info = assertFailure(c.error, Code.Unavailable, FailureKind.STREAM_INTERRUPTED);
    assert.equal(c.start, undefined);
    assert.equal(info.deliveredDeltas, 0);
  });

  test("in-band rate-limit error in a stream keeps its kind", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "stream_error", afterDeltas: 0, error: "rate_limit" });
    const c = await collect(client, ask("solo", "hello"));
    assertFailure(c.error, Code.ResourceExhausted, FailureKind.RATE_LIMITED);
  });
});

describe("retry policy", () => {
  test("a 500 is retried once on the same deployment after a short backoff", async (t) => {
    const { client } = await env(t);
    fake.script([{ kind: "error", error: "server_error" }, { kind: "text", text: "recovered" }]);
    const res = await client.chat.complete(ask("retrying", "hello"));
    assert.equal(res.message?.content[0]?.part.value, "recovered");
    assert.deepEqual(attemptViews(res.attempts), [
      { deployment: DEP, outcome: "FAILED", kind: "SERVER_ERROR", status: 500, reason: "primary" },
      { deployment: DEP, outcome: "SUCCEEDED", reason: "retry 1 after server_error" },
    ]);
  });

  test("429 'Request too large' is never retried on the same deployment (it can never fit)", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "request_too_large", retryAfterMs: 10 });
    const res = await client.chat.complete(ask("retrying", "hello"));
    assert.deepEqual(attemptViews(res.attempts), [
      { deployment: DEP, outcome: "FAILED", kind: "RATE_LIMITED", status: 429, reason: "primary" },
      { deployment: "backup/mock", outcome: "SUCCEEDED", reason: `fallback after rate_limited from ${DEP}` },
    ]);
    assert.equal(fake.requests.length, 1);
  });

  test("x-should-retry: false overrides the status", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "overloaded", shouldRetry: false });
    const res = await client.chat.complete(ask("retrying", "hello"));
    assert.deepEqual(
      attemptViews(res.attempts).map((a) => [a.deployment, a.kind ?? a.outcome]),
      [
        [DEP, "OVERLOADED"],
        ["backup/mock", "SUCCEEDED"],
      ],
    );
  });

  test("insufficient_quota is not retried: it falls back at once", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "insufficient_quota" });
    const res = await client.chat.complete(ask("retrying", "hello"));
    assert.deepEqual(
      attemptViews(res.attempts).map((a) => [a.deployment, a.kind ?? a.outcome]),
      [
        [DEP, "QUOTA_EXHAUSTED"],
        ["backup/mock", "SUCCEEDED"],
      ],
    );
  });

  test("a content-policy block falls back when the request allows it", async (t) => {
    const { client } = await env(t);
    fake.script({ kind: "error", error: "invalid_prompt" });
    const res = await client.chat.complete(ask("with-backup", "hello", { routing: { fallbackOnContentFilter: true } }));
    assert.equal(res.deployment, "backup/mock");
    assert.deepEqual(
      attemptViews(res.attempts).map((a) => a.kind ?? a.outcome),
      ["CONTENT_FILTERED", "SUCCEEDED"],
    );
  });
});

routerBehaviourSuite<OpenAIScenario>({
  fake: () => fake,
  config: (origin) => config(`${origin}/v1`),
  dep: DEP,
  usageChunk: true,
  streamError: { kind: "STREAM_INTERRUPTED" },
  rateLimited: (ms) => ({ kind: "error", error: "rate_limit", retryAfterMs: ms }),
  contextLength: { kind: "error", error: "context_length_exceeded" },
  fallsBack: [
    { name: "429 rate_limited", scenario: { kind: "error", error: "rate_limit" }, kind: "RATE_LIMITED", status: 429 },
    { name: "503 overloaded", scenario: { kind: "error", error: "overloaded" }, kind: "OVERLOADED", status: 503 },
    { name: "500 server_error", scenario: { kind: "error", error: "server_error" }, kind: "SERVER_ERROR", status: 500 },
    { name: "502 with an HTML body", scenario: { kind: "error", error: "bad_gateway" }, kind: "SERVER_ERROR", status: 502 },
    { name: "401 upstream auth", scenario: { kind: "error", error: "invalid_api_key" }, kind: "UPSTREAM_AUTH", status: 401 },
    { name: "429 insufficient_quota", scenario: { kind: "error", error: "insufficient_quota" }, kind: "QUOTA_EXHAUSTED", status: 429 },
    { name: "404 model_not_found", scenario: { kind: "error", error: "model_not_found" }, kind: "MODEL_NOT_FOUND", status: 404 },
    { name: "408 upstream timeout", scenario: { kind: "error", error: "request_timeout" }, kind: "TIMEOUT", status: 408 },
  ],
  noFallback: [
    { name: "400 bad_request", scenario: { kind: "error", error: "invalid_request" }, kind: "BAD_REQUEST", code: Code.InvalidArgument },
    { name: "422 unprocessable", scenario: { kind: "error", error: "unprocessable_entity" }, kind: "BAD_REQUEST", code: Code.InvalidArgument },
    { name: "content filter (invalid_prompt)", scenario: { kind: "error", error: "invalid_prompt" }, kind: "CONTENT_FILTERED", code: Code.InvalidArgument },
  ],
});
