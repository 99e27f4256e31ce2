// The Vercel AI SDK's OpenAI chat provider (`ai` + `@ai-sdk/openai`, `provider.chat(id)`) against the
// gateway's OpenAI-compatible endpoint, over a real socket: generateText and streamText on the mock
// provider, tools both ways and JSON mode through the fake OpenAI upstream, a fallback the SDK never
// sees, and the error statuses and retry headers the SDK's own retry loop acts on.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, generateText, isStepCount, jsonSchema, Output, RetryError, StreamProviderError, streamText, tool } from "ai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Key-shaped on purpose, assembled at runtime so that secret scanners do not flag the test.
const CALLER_KEY = ["sk", "sbx", "aisdk", "0123456789abcdef"].join("-");
const WRONG_KEY = ["sk", "sbx", "wrong", "fedcba9876543210"].join("-");
const KEYS_YAML = `
keys:
  - { name: ai-sdk, hash: "${hashKey(CALLER_KEY)}", team: sdk }
`;

/** A fresh gateway per test: one test's cooldowns and usage records must not leak into the next. */
async function gateway(t: TestContext, yaml: string): Promise<TestGateway> {
  const g = await startTestGateway(yaml + KEYS_YAML);
  t.after(() => g.close());
  return g;
}

/**
 * The SDK's chat-completions model for a gateway model name (route, alias or deployment). With
 * `sent`, every request body the SDK puts on the wire is parsed into it.
 */
function chatModel(g: TestGateway, model: string, o: { apiKey?: string; sent?: Array<Record<string, unknown>> } = {}) {
  const sent = o.sent;
  const fetchSpy: typeof fetch | undefined = sent
    ? (input, init) => {
        sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
        return fetch(input, init);
      }
    : undefined;
  return createOpenAI({ baseURL: `${g.url}/v1`, apiKey: o.apiKey ?? CALLER_KEY, fetch: fetchSpy }).chat(model);
}

/** Usage records are written off the response path: poll briefly. */
async function records(g: TestGateway, n: number, ms = 2000): Promise<UsageRecord[]> {
  const end = Date.now() + ms;
  for (;;) {
    const r = g.usage.recent();
    if (r.length >= n) return r;
    if (Date.now() > end) assert.fail(`timed out waiting for ${n} usage record(s), have ${r.length}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

/** Run `fn`, expect it to throw, return what it threw. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return assert.fail("expected a rejection");
}

describe("AI SDK against the mock provider", () => {
  test("generateText: text, finish reason, usage, and one ok usage record", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const res = await generateText({ model: chatModel(g, "default"), prompt: "Say hello to the SDK.", maxRetries: 0 });
    assert.ok(res.text.length > 0, "non-empty text");
    assert.match(res.text, /You said: "Say hello to the SDK\."/);
    assert.equal(res.finishReason, "stop");
    assert.ok((res.usage.inputTokens ?? 0) > 0, `input tokens: ${res.usage.inputTokens}`);
    assert.ok((res.usage.outputTokens ?? 0) > 0, `output tokens: ${res.usage.outputTokens}`);
    assert.equal(res.usage.totalTokens, (res.usage.inputTokens ?? 0) + (res.usage.outputTokens ?? 0));
    assert.equal(res.response.modelId, "mock-a");
    assert.equal(res.response.headers?.["x-signalbox-deployment"], "mock/a");

    const [rec] = await records(g, 1);
    await new Promise((r) => setTimeout(r, 20)); // nothing else should turn up
    assert.equal(g.usage.recent().length, 1);
    assert.equal(rec.status, "ok");
    assert.equal(rec.model, "default");
    assert.equal(rec.deployment, "mock/a");
    assert.equal(rec.key, "ai-sdk");
    assert.equal(rec.streamed, false);
    assert.equal(rec.attempts.length, 1);
    assert.equal(rec.usage.inputTokens, res.usage.inputTokens);
    assert.equal(rec.usage.outputTokens, res.usage.outputTokens);
  });

  test("streamText: the streamed text equals the unary answer; finish stop; usage from include_usage", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const prompt = "Stream me the deterministic answer, please.";
    const unary = await generateText({ model: chatModel(g, "default"), prompt, maxRetries: 0 });

    const errors: unknown[] = [];
    const s = streamText({ model: chatModel(g, "default"), prompt, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = "";
    let parts = 0;
    for await (const d of s.textStream) {
      text += d;
      parts++;
    }
    assert.deepEqual(errors, []);
    assert.equal(text, unary.text);
    assert.ok(parts > 1, `several text deltas, got ${parts}`);
    assert.equal(await s.finishReason, "stop");
    const usage = await s.usage;
    assert.equal(usage.inputTokens, unary.usage.inputTokens);
    assert.equal(usage.outputTokens, unary.usage.outputTokens);
    assert.ok((usage.outputTokens ?? 0) > 0);

    const recs = await records(g, 2);
    const streamed = recs.find((r) => r.streamed);
    assert.ok(streamed, "a streamed usage record");
    assert.equal(streamed.status, "ok");
    assert.equal(streamed.usage.outputTokens, usage.outputTokens);
  });

  test("a fallback the SDK never notices: route `fallback` succeeds on its second deployment", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const res = await generateText({ model: chatModel(g, "fallback"), prompt: "Fall back quietly.", maxRetries: 0 });
    assert.equal(res.finishReason, "stop");
    assert.match(res.text, /^\(mock-b\) You said:/);
    assert.equal(res.response.modelId, "mock-b");
    const [rec] = await records(g, 1);
    assert.equal(rec.status, "ok");
    assert.equal(rec.deployment, "mock/b");
    assert.equal(rec.attempts.length, 2);
    assert.deepEqual(
      rec.attempts.map((a) => [a.deployment, a.outcome, a.failureKind]),
      [
        ["mock/flaky", "failed", "overloaded"],
        ["mock/b", "succeeded", undefined],
      ],
    );
  });

  test("streamText through the fallback route: the SDK sees one clean stream", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const errors: unknown[] = [];
    const s = streamText({ model: chatModel(g, "fallback"), prompt: "Fall back while streaming.", maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = "";
    for await (const d of s.textStream) text += d;
    assert.deepEqual(errors, []);
    assert.match(text, /^\(mock-b\) You said:/);
    assert.equal(await s.finishReason, "stop");
    const [rec] = await records(g, 1);
    assert.equal(rec.status, "ok");
    assert.equal(rec.attempts.length, 2);
  });

  test("unknown model: APICallError 404 model_not_found, not retried", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const err = await rejection(() => generateText({ model: chatModel(g, "no-such-model"), prompt: "hi", maxRetries: 0 }));
    assert.ok(APICallError.isInstance(err), `APICallError, got ${String(err)}`);
    assert.equal(err.statusCode, 404);
    assert.equal(err.isRetryable, false);
    assert.equal((JSON.parse(err.responseBody ?? "{}") as { error: { code: string } }).error.code, "model_not_found");
  });

  test("unknown model while streaming: the HTTP 404 goes to onError as an APICallError", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const errors: unknown[] = [];
    const s = streamText({ model: chatModel(g, "no-such-model"), prompt: "hi", maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = "";
    for await (const d of s.textStream) text += d;
    assert.equal(text, "");
    assert.equal(errors.length, 1);
    const err = errors[0];
    assert.ok(APICallError.isInstance(err), `APICallError, got ${String(err)}`);
    assert.equal(err.statusCode, 404);
  });

  test("a wrong key: APICallError 401, not retried", async (t) => {
    const g = await gateway(t, MOCK_CONFIG);
    const err = await rejection(() => generateText({ model: chatModel(g, "default", { apiKey: WRONG_KEY }), prompt: "hi", maxRetries: 2 }));
    assert.ok(APICallError.isInstance(err), `APICallError, got ${String(err)}`);
    assert.equal(err.statusCode, 401);
    assert.equal(err.isRetryable, false);
    assert.equal((JSON.parse(err.responseBody ?? "{}") as { error: { code: string } }).error.code, "invalid_api_key");
  });

  test("budget refusal: 429 insufficient_quota with x-should-retry false (which this SDK does not read)", async (t) => {
    const g = await startTestGateway(`${MOCK_CONFIG}
keys:
  - { name: broke, hash: "${hashKey(CALLER_KEY)}", team: sdk, budget: { period: day, limit_usd: 0.0000001 } }
`);
    t.after(() => g.close());
    const err = await rejection(() => generateText({ model: chatModel(g, "default"), prompt: "hi", maxRetries: 0 }));
    assert.ok(APICallError.isInstance(err), `APICallError, got ${String(err)}`);
    assert.equal(err.statusCode, 429);
    const body = JSON.parse(err.responseBody ?? "{}") as { error: { type: string; code: string } };
    assert.deepEqual([body.error.type, body.error.code], ["insufficient_quota", "insufficient_quota"]);
    assert.equal(err.responseHeaders?.["x-should-retry"], "false");
    // The AI SDK decides retryability from the status alone: with its default maxRetries (2) it would
    // retry this refusal, after its own 2 s / 4 s backoff (a retry-after of hours is above its 60 s cap).
    assert.equal(err.isRetryable, true);
    // The day's budget comes back at the next UTC midnight: that is the retry-after (so only minutes
    // before midnight is it under the SDK's cap; this test once ran at 23:59).
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    assert.ok(Math.abs(Number(err.responseHeaders?.["retry-after-ms"]) - (midnight - now.getTime())) < 10_000, `retry-after-ms ${err.responseHeaders?.["retry-after-ms"]}`);
    const [rec] = await records(g, 1);
    assert.equal(rec.refusal, "budget");
    assert.equal(rec.attempts.length, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the fake OpenAI upstream: what the gateway forwards is recorded byte for byte.

const DEP = "openai/gpt-4o";
const MINI = "openai/gpt-4o-mini";

function fakeConfig(baseUrl: string): string {
  return `
server: { max_request_bytes: 1048576 }
providers:
  - name: openai
    type: openai
    base_url: ${baseUrl}
    api_key: ${OPENAI_TEST_KEY}
    timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }
deployments:
  - { id: ${DEP}, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: ${MINI}, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
routes:
  - name: solo
    targets: [${DEP}]
    retry: { max_retries: 0 }
  - name: pair
    targets: [${DEP}, ${MINI}]
    retry: { max_retries: 0 }
`;
}

describe("AI SDK through the gateway to the fake OpenAI upstream", () => {
  let fake: FakeOpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  const weather = (calls: string[]) => ({
    weather: tool({
      description: "Current weather in a city",
      inputSchema: jsonSchema<{ city: string }>({
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
        additionalProperties: false,
      }),
      execute: async ({ city }: { city: string }) => {
        calls.push(city);
        return { city, tempC: 21, sky: "clear" };
      },
    }),
  });

  /**
   * What the SDK sent is what the upstream got (only the model is the deployment's), and the second
   * upstream request carries the assistant's tool call and the tool's result.
   */
  function assertToolRoundTrip(callId: string, sent: Array<Record<string, unknown>>) {
    assert.equal(fake.requests.length, 2, "two upstream requests");
    assert.equal(sent.length, 2, "two SDK requests");
    for (let i = 0; i < 2; i++) {
      assert.equal(sent[i].model, "solo");
      assert.deepEqual(fake.requests[i].body, { ...sent[i], model: "gpt-4o" }, `upstream request ${i} is the SDK's, model aside`);
    }
    const first = fake.requests[0].body;
    assert.equal(first.model, "gpt-4o");
    assert.equal(first.tools.length, 1);
    assert.equal(first.tools[0].type, "function");
    assert.equal(first.tools[0].function.name, "weather");
    assert.deepEqual(first.tools[0].function.parameters.required, ["city"]);

    const msgs = fake.requests[1].body.messages as Array<Record<string, any>>;
    assert.deepEqual(
      msgs.map((m) => m.role),
      ["user", "assistant", "tool"],
    );
    const asst = msgs[1];
    assert.equal(asst.tool_calls.length, 1);
    assert.equal(asst.tool_calls[0].id, callId);
    assert.equal(asst.tool_calls[0].type, "function");
    assert.equal(asst.tool_calls[0].function.name, "weather");
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: "Paris" });
    const toolMsg = msgs[2];
    assert.equal(toolMsg.tool_call_id, callId);
    const content = typeof toolMsg.content === "string" ? toolMsg.content : toolMsg.content.map((p: { text: string }) => p.text).join("");
    assert.deepEqual(JSON.parse(content), { city: "Paris", tempC: 21, sky: "clear" });
  }

  test("tools both ways, generateText: the SDK runs the tool and sends its result back", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    const callId = "call_aisdk_unary_0001";
    fake.script([
      { kind: "tool_calls", calls: [{ id: callId, name: "weather", arguments: { city: "Paris" } }] },
      { kind: "text", text: "It is 21 °C and clear in Paris." },
    ]);
    const calls: string[] = [];
    const sent: Array<Record<string, unknown>> = [];
    const res = await generateText({
      model: chatModel(g, "solo", { sent }),
      prompt: "What is the weather in Paris?",
      tools: weather(calls),
      stopWhen: isStepCount(2),
      maxRetries: 0,
    });
    assert.deepEqual(calls, ["Paris"]);
    assert.equal(res.text, "It is 21 °C and clear in Paris.");
    assert.equal(res.finishReason, "stop");
    assert.equal(res.steps.length, 2);
    assert.equal(res.steps[0].finishReason, "tool-calls");
    assert.equal(res.steps[0].toolCalls[0].toolCallId, callId);
    assertToolRoundTrip(callId, sent);
    assert.equal(fake.requests[0].body.stream, undefined);
  });

  test("tools both ways, streamText: tool-call deltas reassembled, tool result sent back", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    const callId = "call_aisdk_stream_0001";
    fake.script([
      { kind: "tool_calls", calls: [{ id: callId, name: "weather", arguments: { city: "Paris" } }], chunking: "hostile" },
      { kind: "text", text: "Streaming: 21 °C and clear in Paris.", chunking: "hostile" },
    ]);
    const calls: string[] = [];
    const errors: unknown[] = [];
    const sent: Array<Record<string, unknown>> = [];
    const s = streamText({
      model: chatModel(g, "solo", { sent }),
      prompt: "What is the weather in Paris?",
      tools: weather(calls),
      stopWhen: isStepCount(2),
      maxRetries: 0,
      onError: ({ error }) => void errors.push(error),
    });
    let text = "";
    for await (const d of s.textStream) text += d;
    assert.deepEqual(errors, []);
    assert.deepEqual(calls, ["Paris"]);
    assert.equal(text, "Streaming: 21 °C and clear in Paris.");
    assert.equal(await s.finishReason, "stop");
    const steps = await s.steps;
    assert.equal(steps.length, 2);
    assert.equal(steps[0].finishReason, "tool-calls");
    assertToolRoundTrip(callId, sent);
    for (const r of fake.requests) {
      assert.equal(r.body.stream, true);
      assert.deepEqual(r.body.stream_options, { include_usage: true });
    }
    const usage = await s.totalUsage;
    assert.ok((usage.outputTokens ?? 0) > 0);
  });

  test("JSON mode: response_format json_schema reaches the upstream and the SDK parses the object", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    const value = { city: "Paris", tempC: 21, tags: ["clear", "calm"] };
    fake.script({ kind: "json", value });
    const sent: Array<Record<string, unknown>> = [];
    const res = await generateText({
      model: chatModel(g, "solo", { sent }),
      prompt: "Weather in Paris as JSON.",
      output: Output.object({
        schema: jsonSchema<{ city: string; tempC: number; tags: string[] }>({
          type: "object",
          properties: { city: { type: "string" }, tempC: { type: "number" }, tags: { type: "array", items: { type: "string" } } },
          required: ["city", "tempC", "tags"],
          additionalProperties: false,
        }),
      }),
      maxRetries: 0,
    });
    assert.deepEqual(res.output, value);
    assert.equal(fake.requests.length, 1);
    const rf = fake.requests[0].body.response_format;
    assert.equal(rf.type, "json_schema");
    assert.equal(typeof rf.json_schema.name, "string");
    assert.deepEqual(rf.json_schema.schema.required, ["city", "tempC", "tags"]);
    assert.equal(rf.json_schema.schema.properties.tags.type, "array");
    assert.equal(rf.json_schema.strict, true);
    assert.deepEqual(fake.requests[0].body, { ...sent[0], model: "gpt-4o" });
  });

  test("upstream 429 on every attempt: the gateway answers 429 with retry headers; the SDK's RetryError carries it", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    fake.setDefault({ kind: "error", error: "rate_limit", retryAfterMs: 50 });
    const started = performance.now();
    const err = await rejection(() => generateText({ model: chatModel(g, "solo"), prompt: "hi", maxRetries: 1 }));
    const elapsed = performance.now() - started;
    assert.ok(RetryError.isInstance(err), `RetryError, got ${String(err)}`);
    assert.equal(err.reason, "maxRetriesExceeded");
    assert.equal(err.errors.length, 2);
    const last = err.lastError;
    assert.ok(APICallError.isInstance(last), `lastError is an APICallError, got ${String(last)}`);
    assert.equal(last.statusCode, 429);
    assert.equal(last.isRetryable, true);
    assert.equal(last.responseHeaders?.["retry-after-ms"], "50");
    assert.equal(last.responseHeaders?.["retry-after"], "1");
    const body = JSON.parse(last.responseBody ?? "{}") as { error: { type: string; code: string } };
    assert.equal(body.error.type, "rate_limit_error");
    assert.equal(body.error.code, "rate_limit_exceeded");
    // The route does not retry (max_retries 0): one upstream call per SDK attempt, and the SDK
    // waited the 50 ms from retry-after-ms, not the 1 s of retry-after nor its own 2 s backoff.
    assert.equal(fake.requests.length, 2);
    assert.ok(elapsed < 1000, `the SDK honoured retry-after-ms (took ${Math.round(elapsed)} ms)`);

    // With maxRetries 0 the SDK throws the APICallError itself.
    fake.reset();
    fake.setDefault({ kind: "error", error: "rate_limit", retryAfterMs: 50 });
    const direct = await rejection(() => generateText({ model: chatModel(g, "solo"), prompt: "hi", maxRetries: 0 }));
    assert.ok(APICallError.isInstance(direct), `APICallError, got ${String(direct)}`);
    assert.equal(direct.statusCode, 429);
    assert.equal(fake.requests.length, 1);

    const recs = await records(g, 3);
    for (const r of recs) {
      assert.equal(r.status, "resource_exhausted");
      assert.equal(r.failureKind, "rate_limited");
    }
  });

  test("a transient upstream 429 passed through: the SDK's own retry (after retry-after-ms) succeeds", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    fake.script([
      { kind: "error", error: "rate_limit", retryAfterMs: 50 },
      { kind: "text", text: "Second time lucky." },
    ]);
    const started = performance.now();
    const res = await generateText({ model: chatModel(g, "solo"), prompt: "hi", maxRetries: 2 });
    const elapsed = performance.now() - started;
    assert.equal(res.text, "Second time lucky.");
    assert.equal(res.finishReason, "stop");
    assert.equal(fake.requests.length, 2);
    assert.deepEqual(
      fake.requests.map((r) => r.status),
      [429, 200],
    );
    assert.ok(elapsed >= 45, `the SDK waited for retry-after-ms (took ${Math.round(elapsed)} ms)`);
    assert.ok(elapsed < 1000, `and no longer (took ${Math.round(elapsed)} ms)`);
    const recs = await records(g, 2);
    assert.deepEqual(recs.map((r) => r.status).sort(), ["ok", "resource_exhausted"]);
  });

  test("every candidate rate limited: 429 with retry headers; the SDK's retry then gets through", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    fake.script([
      { kind: "error", error: "rate_limit", retryAfterMs: 50 },
      { kind: "error", error: "rate_limit", retryAfterMs: 50 },
      { kind: "text", text: "Through on the retry." },
    ]);
    // See each HTTP answer the SDK gets, the first of which its retry hides from the caller.
    const answers: Array<{ status: number; retryAfter: string | null; retryAfterMs: string | null; body: string }> = [];
    const spy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      answers.push({ status: res.status, retryAfter: res.headers.get("retry-after"), retryAfterMs: res.headers.get("retry-after-ms"), body: await res.clone().text() });
      return res;
    };
    const model = createOpenAI({ baseURL: `${g.url}/v1`, apiKey: CALLER_KEY, fetch: spy }).chat("pair");
    const res = await generateText({ model, prompt: "hi", maxRetries: 1 });
    assert.equal(res.text, "Through on the retry.");
    assert.deepEqual(
      fake.requests.map((r) => [r.body.model, r.status]),
      [
        ["gpt-4o", 429],
        ["gpt-4o-mini", 429],
        [fake.requests[2].body.model, 200],
      ],
    );
    assert.equal(answers.length, 2);
    assert.deepEqual([answers[0].status, answers[0].retryAfter, answers[0].retryAfterMs], [429, "1", "50"]);
    const body = JSON.parse(answers[0].body) as { error: { type: string; code: string; message: string } };
    assert.deepEqual([body.error.type, body.error.code], ["rate_limit_error", "rate_limit_exceeded"]);
    assert.match(body.error.message, /^all 2 attempts failed/);
    assert.equal(answers[1].status, 200);
  });

  test("a transient upstream 429 while streaming: rejected before the stream starts, so the SDK retries it", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    fake.script([
      { kind: "error", error: "rate_limit", retryAfterMs: 50 },
      { kind: "text", text: "Streamed after a retry." },
    ]);
    const errors: unknown[] = [];
    const s = streamText({ model: chatModel(g, "solo"), prompt: "hi", maxRetries: 2, onError: ({ error }) => void errors.push(error) });
    let text = "";
    for await (const d of s.textStream) text += d;
    assert.deepEqual(errors, []);
    assert.equal(text, "Streamed after a retry.");
    assert.equal(fake.requests.length, 2);
  });

  test("a mid-stream upstream failure after content: the SDK's onError gets the gateway's error event", async (t) => {
    const g = await gateway(t, fakeConfig(fake.url));
    fake.script({ kind: "stream_error", text: "Partial answer that breaks", afterDeltas: 2, error: "server_error" });
    const errors: unknown[] = [];
    const s = streamText({ model: chatModel(g, "solo"), prompt: "hi", maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = "";
    for await (const d of s.textStream) text += d;
    assert.equal(text, "Partial answer ");
    assert.equal(errors.length, 1, `one error, got ${errors.length}`);
    const err = errors[0];
    assert.ok(StreamProviderError.isInstance(err), `StreamProviderError, got ${String(err)}`);
    assert.equal(err.code, "stream_interrupted");
    assert.equal(err.type, "api_error");
    assert.match(err.message, /The server had an error while processing your request/);
    assert.equal(await s.finishReason, "error");

    // On the wire: the content, then the error event, and no [DONE].
    fake.script({ kind: "stream_error", text: "Partial answer that breaks", afterDeltas: 2, error: "server_error" });
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${CALLER_KEY}` },
      body: JSON.stringify({ model: "solo", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(res.status, 200);
    const events = (await res.text()).split("\n\n").filter(Boolean);
    const lastEvent = events[events.length - 1];
    assert.match(lastEvent, /^data: \{"error":\{/);
    assert.equal((JSON.parse(lastEvent.slice("data: ".length)) as { error: { code: string } }).error.code, "stream_interrupted");
    assert.ok(!events.includes("data: [DONE]"), "no [DONE] after an error");
  });
});
