// The official `openai` SDK's Responses API (`responses.create`, `responses.stream`, `stream: true`
// iteration, `responses.parse`) pointed at the gateway's POST /v1/responses, over a real socket,
// with fake OpenAI, Anthropic and Gemini upstreams behind it: text, function-call round trips,
// JSON schemas, reasoning, the typed event sequence, usage equal to the usage record, and the
// refusals of bad input, which reach no provider. Stored responses: responses-store.test.ts.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, isStepCount, jsonSchema, streamText, tool } from "ai";
import OpenAI from "openai";
import { zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";
import { responsesUsage } from "../../src/compat/responses/response.ts";
import { hashKey } from "../../src/server/auth.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, tokenLogprobJson, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "responses", "team", "a"].join("_");

const config = (openai: string, anthropic: string, gemini: string) => `
server: { max_request_bytes: 1048576 }
providers:
  - { name: openai, type: openai, base_url: ${openai}, api_key: ${OPENAI_TEST_KEY} }
  - { name: anthropic, type: anthropic, base_url: ${anthropic}, api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: gemini, type: gemini, base_url: ${gemini}, api_key: ${GEMINI_TEST_KEY} }
  - name: backup
    type: mock
    mock: { reply: "backup answer", chunks: 3 }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: openai/o4-mini, provider: openai, model: o4-mini, pricing: { input: 1.1, output: 4.4 } }
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
  - { id: gemini/flash, provider: gemini, model: gemini-2.5-flash, pricing: { input: 0.5, output: 4 } }
  - { id: backup/mock, provider: backup, model: mock-backup, pricing: { input: 1, output: 2 } }
routes:
  - { name: openai, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: o4, targets: [openai/o4-mini], retry: { max_retries: 0 } }
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: gemini, targets: [gemini/flash], retry: { max_retries: 0 } }
  - { name: with-backup, targets: [openai/gpt-4o, backup/mock], retry: { max_retries: 0 } }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
`;

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let t: TestGateway;
let client: OpenAI;

before(async () => {
  [openai, anthropic, gemini] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
  t = await startTestGateway(config(openai.url, anthropic.url, gemini.url));
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(async () => {
  await t.close();
  await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
});
beforeEach(() => {
  openai.reset();
  anthropic.reset();
  gemini.reset();
});

const lastRecord = () => {
  const r = t.usage.recent();
  return r[r.length - 1];
};

/** The usage record's counts in the Responses API's shape (the mapping itself is checked by number below). */
const recordUsage = () => responsesUsage(lastRecord().usage);

type Upstream = "openai" | "claude" | "gemini";
const UPSTREAMS: Upstream[] = ["openai", "claude", "gemini"];

/** Script the same scenario on whichever fake serves the route (the fakes share the success kinds). */
function script(u: Upstream, s: Record<string, unknown> | Record<string, unknown>[]) {
  if (u === "openai") openai.script(s as never);
  else if (u === "claude") anthropic.script(s as never);
  else gemini.script(s as never);
}
const bodies = (u: Upstream) => (u === "openai" ? openai : u === "claude" ? anthropic : gemini).requests.map((r) => r.body);

/** The system prompt as each upstream received it. */
function systemOf(u: Upstream, body: any): string {
  if (u === "openai") return body.messages[0].role === "system" ? body.messages[0].content : "";
  if (u === "claude") return typeof body.system === "string" ? body.system : body.system.map((b: { text: string }) => b.text).join("");
  return body.systemInstruction.parts.map((p: { text: string }) => p.text).join("");
}

/** One message item with one output_text part, as its events arrive (consecutive deltas collapsed). */
const MESSAGE_EVENTS = [
  "response.output_item.added",
  "response.content_part.added",
  "response.output_text.delta",
  "response.output_text.done",
  "response.content_part.done",
  "response.output_item.done",
];
/** Event types in order, each run of deltas as one. */
const collapse = (events: { type: string }[]) => events.map((e) => e.type).filter((x, i, a) => !x.endsWith(".delta") || a[i - 1] !== x);

const weather: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

describe("text", () => {
  for (const u of UPSTREAMS) {
    test(`responses.create through ${u}: the response object, output_text and usage`, async () => {
      script(u, { kind: "text", text: `Hello from ${u}.`, usage: { input: 20, output: 6, cached: 8 } });
      const { data, response } = await client.responses
        .create({ model: u, instructions: "Be brief.", input: "Hi", max_output_tokens: 100, temperature: 0.3, metadata: { ticket: "T-1" }, store: false })
        .withResponse();
      assert.equal(data.object, "response");
      assert.match(data.id, /^resp_/);
      assert.equal(data.status, "completed");
      assert.equal(data.output_text, `Hello from ${u}.`);
      assert.equal(data.output.length, 1);
      const msg = data.output[0] as OpenAI.Responses.ResponseOutputMessage;
      assert.equal(msg.type, "message");
      assert.match(msg.id, /^msg_/);
      assert.equal(msg.role, "assistant");
      assert.equal(msg.status, "completed");
      assert.deepEqual(msg.content[0], { type: "output_text", annotations: [], logprobs: [], text: `Hello from ${u}.` });
      // Echoed settings, as OpenAI returns them.
      assert.equal(data.instructions, "Be brief.");
      assert.equal(data.max_output_tokens, 100);
      assert.equal(data.temperature, 0.3);
      assert.deepEqual(data.metadata, { ticket: "T-1" });
      assert.equal(data.incomplete_details, null);
      assert.equal(data.error, null);
      assert.deepEqual(data.usage, recordUsage());
      assert.equal(data.usage?.input_tokens, 20);
      assert.equal(data.usage?.output_tokens, 6);
      assert.equal(data.usage?.input_tokens_details.cached_tokens, 8);
      assert.equal(data.usage?.total_tokens, 26);
      // One request, one usage record: its id is x-request-id.
      const rec = lastRecord();
      assert.equal(response.headers.get("x-request-id"), rec.id);
      assert.equal(data.id, rec.id.replace(/^req_/, "resp_"));
      assert.equal(rec.status, "ok");
      assert.equal(rec.routing.route, u);
      assert.deepEqual(rec.metadata, { ticket: "T-1" });
      assert.equal(rec.streamed, false);
      // The instructions lead as the system prompt; the input is the user turn.
      const [up] = bodies(u);
      assert.equal(systemOf(u, up), "Be brief.");
    });

    test(`responses.stream through ${u}: the typed event sequence and finalResponse()`, async () => {
      script(u, { kind: "text", text: ["Hel", "lo ", "world"], usage: { input: 9, output: 3 } });
      const stream = client.responses.stream({ model: u, input: [{ role: "user", content: [{ type: "input_text", text: "Hi" }] }] });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      let snapshot = "";
      stream.on("response.output_text.delta", (e) => (snapshot = e.snapshot));
      for await (const e of stream) events.push(e);
      const final = await stream.finalResponse();
      assert.equal(final.output_text, "Hello world");
      assert.equal(snapshot, "Hello world");
      assert.deepEqual(
        events.map((e) => e.sequence_number),
        events.map((_, i) => i),
      );
      assert.deepEqual(collapse(events), ["response.created", "response.in_progress", ...MESSAGE_EVENTS, "response.completed"]);
      const deltas = events.filter((e): e is OpenAI.Responses.ResponseTextDeltaEvent => e.type === "response.output_text.delta");
      assert.equal(deltas.map((d) => d.delta).join(""), "Hello world");
      const item = (events[2] as OpenAI.Responses.ResponseOutputItemAddedEvent).item;
      assert.ok(deltas.every((d) => d.item_id === item.id && d.output_index === 0 && d.content_index === 0));
      const completed = events[events.length - 1] as OpenAI.Responses.ResponseCompletedEvent;
      assert.equal(completed.response.status, "completed");
      assert.deepEqual(completed.response.usage, recordUsage());
      assert.equal(completed.response.id, (events[0] as OpenAI.Responses.ResponseCreatedEvent).response.id);
      assert.equal(lastRecord().streamed, true);
    });
  }

  test("include message.output_text.logprobs: the provider's token probabilities on output_text, unary and streamed", async () => {
    const words = ["Par", "is", " it", " is"];
    const want = (top: number) => words.map((w) => tokenLogprobJson(w, top) as { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] });
    openai.script({ kind: "text", text: words });
    const r = await client.responses.create({ model: "openai", input: "Capital?", include: ["message.output_text.logprobs"], top_logprobs: 2 });
    assert.equal(openai.requests.at(-1)!.body.logprobs, true);
    assert.equal(openai.requests.at(-1)!.body.top_logprobs, 2);
    assert.equal(r.top_logprobs, 2);
    const part = (r.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    assert.deepEqual(part.logprobs, want(2));
    openai.script({ kind: "text", text: words });
    const stream = client.responses.stream({ model: "openai", input: "Capital?", include: ["message.output_text.logprobs"] });
    const deltas: OpenAI.Responses.ResponseTextDeltaEvent[] = [];
    let done: OpenAI.Responses.ResponseTextDoneEvent | undefined;
    for await (const e of stream) {
      if (e.type === "response.output_text.delta") deltas.push(e);
      if (e.type === "response.output_text.done") done = e;
    }
    assert.deepEqual(
      deltas.flatMap((d) => d.logprobs.map((l) => l.token)),
      words,
    );
    assert.deepEqual(
      deltas.flatMap((d) => d.logprobs.map((l) => l.logprob)),
      want(0).map((w) => w.logprob),
    );
    assert.deepEqual(done?.logprobs, want(0));
    const final = await stream.finalResponse();
    assert.deepEqual(((final.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText).logprobs, want(0));
    // Without the include, nothing is asked for.
    openai.script({ kind: "text", text: words });
    const plain = await client.responses.create({ model: "openai", input: "Capital?", top_logprobs: 3 });
    assert.equal("logprobs" in openai.requests.at(-1)!.body, false);
    assert.deepEqual(((plain.output[0] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText).logprobs, []);
  });

  test("stream: true iteration of the raw events", async () => {
    openai.script({ kind: "text", text: ["a", "b", "c"], usage: { input: 4, output: 3 } });
    const stream = await client.responses.create({ model: "openai", input: "abc", stream: true });
    let text = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const e of stream) {
      if (e.type === "response.output_text.delta") text += e.delta;
      if (e.type === "response.completed") completed = e.response;
    }
    assert.equal(text, "abc");
    assert.equal(completed?.status, "completed");
    assert.equal(completed?.usage?.total_tokens, 7);
    assert.equal(openai.requests[0].body.stream, true);
  });

  test("store: true (the default) is answered as stored, store: false as not", async () => {
    openai.script([
      { kind: "text", text: "ok" },
      { kind: "text", text: "ok" },
    ]);
    const r = await client.responses.create({ model: "openai", input: "Hi", store: true });
    assert.equal(r.output_text, "ok");
    assert.equal((r as unknown as { store: boolean }).store, true);
    const f = await client.responses.create({ model: "openai", input: "Hi", store: false });
    assert.equal((f as unknown as { store: boolean }).store, false);
  });

  test("the output cap cuts the answer short: status incomplete, reason max_output_tokens", async () => {
    openai.script([
      { kind: "text", text: "Once upon", finishReason: "length" },
      { kind: "text", text: ["Once ", "upon"], finishReason: "length" },
    ]);
    const r = await client.responses.create({ model: "openai", input: "A story", max_output_tokens: 2 });
    assert.equal(r.status, "incomplete");
    assert.deepEqual(r.incomplete_details, { reason: "max_output_tokens" });
    assert.equal((r.output[0] as OpenAI.Responses.ResponseOutputMessage).status, "incomplete");
    assert.equal(openai.requests[0].body.max_completion_tokens ?? openai.requests[0].body.max_tokens, 2);
    const stream = client.responses.stream({ model: "openai", input: "A story", max_output_tokens: 2 });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    assert.equal(types[types.length - 1], "response.incomplete");
    const final = await stream.finalResponse();
    assert.equal(final.status, "incomplete");
    assert.equal(final.output_text, "Once upon");
  });

  test("a fallback before the first content is invisible to the stream", async () => {
    openai.script({ kind: "error", error: "server_error" });
    const stream = client.responses.stream({ model: "with-backup", input: "Hi" });
    const final = await stream.finalResponse();
    assert.match(final.output_text, /backup answer/);
    assert.equal(final.status, "completed");
    assert.deepEqual(
      lastRecord().attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["openai/gpt-4o", "failed"],
        ["backup/mock", "succeeded"],
      ],
    );
  });
});

describe("function calls", () => {
  for (const u of UPSTREAMS) {
    test(`round trip through ${u}: function_call → function_call_output → answer (create, then stream)`, async () => {
      script(u, [
        { kind: "tool_calls", calls: [{ id: "call_w1", name: "get_weather", arguments: { city: "Paris" } }] },
        { kind: "text", text: "It is sunny in Paris." },
      ]);
      const input: OpenAI.Responses.ResponseInputItem[] = [{ role: "user", content: "Weather in Paris?" }];
      const first = await client.responses.create({ model: u, input, tools: [weather], tool_choice: "auto" });
      assert.equal(first.status, "completed");
      const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
      assert.ok(call, JSON.stringify(first.output));
      assert.match(call.id ?? "", /^fc_/);
      assert.equal(call.name, "get_weather");
      assert.equal(call.status, "completed");
      assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
      assert.ok(call.call_id);
      assert.equal(first.output_text, "");
      assert.deepEqual(first.tools, [{ type: "function", name: "get_weather", description: "Weather for a city", parameters: weather.parameters, strict: false }]);

      // The caller runs the tool and sends the whole conversation back (nothing is stored).
      const stream = client.responses.stream({
        model: u,
        input: [...input, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: "function_call_output", call_id: call.call_id, output: '{"sky":"sunny"}' }],
        tools: [weather],
      });
      const final = await stream.finalResponse();
      assert.equal(final.output_text, "It is sunny in Paris.");

      // The upstream saw the call and its result, paired.
      const up = bodies(u)[1];
      if (u === "openai") {
        assert.equal(up.tools[0].function.name, "get_weather");
        const asst = up.messages.find((m: { role: string }) => m.role === "assistant");
        assert.equal(asst.tool_calls[0].id, call.call_id);
        const tool = up.messages.find((m: { role: string }) => m.role === "tool");
        assert.equal(tool.tool_call_id, call.call_id);
        assert.equal(tool.content, '{"sky":"sunny"}');
      } else if (u === "claude") {
        assert.equal(up.tools[0].name, "get_weather");
        const use = up.messages[1].content.find((b: { type: string }) => b.type === "tool_use");
        assert.equal(use.id, call.call_id);
        const result = up.messages[2].content.find((b: { type: string }) => b.type === "tool_result");
        assert.equal(result.tool_use_id, call.call_id);
      } else {
        assert.equal(up.tools[0].functionDeclarations[0].name, "get_weather");
        const fc = up.contents[1].parts.find((p: { functionCall?: unknown }) => p.functionCall);
        assert.equal(fc.functionCall.name, "get_weather");
        const fr = up.contents[2].parts.find((p: { functionResponse?: unknown }) => p.functionResponse);
        assert.equal(fr.functionResponse.name, "get_weather");
        assert.deepEqual(fr.functionResponse.response, { sky: "sunny" });
      }
    });
  }

  test("streamed function calls: output_item.added, arguments deltas, done events, in order", async () => {
    openai.script({ kind: "tool_calls", text: "Checking.", calls: [{ id: "call_9", name: "get_weather", arguments: { city: "Oslo" } }] });
    const stream = client.responses.stream({ model: "openai", input: "Oslo?", tools: [weather], tool_choice: { type: "function", name: "get_weather" } });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    let argsSnapshot = "";
    stream.on("response.function_call_arguments.delta", (e) => (argsSnapshot = e.snapshot));
    for await (const e of stream) events.push(e);
    assert.deepEqual(collapse(events), [
      "response.created",
      "response.in_progress",
      ...MESSAGE_EVENTS,
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const done = events.find((e): e is OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent => e.type === "response.function_call_arguments.done")!;
    assert.deepEqual(JSON.parse(done.arguments), { city: "Oslo" });
    assert.equal(done.output_index, 1);
    assert.equal(argsSnapshot, done.arguments);
    const final = await stream.finalResponse();
    assert.equal(final.output_text, "Checking.");
    const call = final.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
    assert.equal(call.call_id, "call_9");
    assert.equal(call.status, "completed");
    assert.deepEqual(openai.requests[0].body.tool_choice, { type: "function", function: { name: "get_weather" } });
  });

  test("parallel calls come back as separate function_call items", async () => {
    openai.script({
      kind: "tool_calls",
      calls: [
        { id: "call_a", name: "get_weather", arguments: { city: "Rome" } },
        { id: "call_b", name: "get_weather", arguments: { city: "Oslo" } },
      ],
    });
    const r = await client.responses.create({ model: "openai", input: "Rome and Oslo?", tools: [weather], parallel_tool_calls: true });
    const calls = r.output.filter((o) => o.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall[];
    assert.deepEqual(
      calls.map((c) => c.call_id),
      ["call_a", "call_b"],
    );
    assert.notEqual(calls[0].id, calls[1].id);
    assert.equal(openai.requests[0].body.parallel_tool_calls, true);
  });
});

describe("JSON schemas", () => {
  const schema = { type: "object", properties: { answer: { type: "number" } }, required: ["answer"], additionalProperties: false };

  for (const u of UPSTREAMS) {
    test(`text.format json_schema through ${u}`, async () => {
      script(u, { kind: "json", value: { answer: 42 } });
      const r = await client.responses.create({ model: u, input: "The answer?", text: { format: { type: "json_schema", name: "answer", schema, strict: true } } });
      assert.deepEqual(JSON.parse(r.output_text), { answer: 42 });
      assert.deepEqual(r.text?.format, { type: "json_schema", name: "answer", schema, strict: true });
      const [up] = bodies(u);
      if (u === "openai") {
        assert.equal(up.response_format.type, "json_schema");
        assert.equal(up.response_format.json_schema.name, "answer");
        assert.deepEqual(up.response_format.json_schema.schema, schema);
      } else if (u === "claude") {
        assert.equal(up.output_config.format.type, "json_schema");
      } else {
        assert.equal(up.generationConfig.responseMimeType, "application/json");
      }
    });
  }

  test("responses.parse with a zod schema, and json_object mode", async () => {
    const Answer = z.object({ city: z.string(), degrees: z.number() });
    openai.script([{ kind: "json", value: { city: "Paris", degrees: 21 } }, { kind: "json", value: { ok: true } }]);
    const parsed = await client.responses.parse({ model: "openai", input: "Weather?", text: { format: zodTextFormat(Answer, "weather") } });
    assert.deepEqual(parsed.output_parsed, { city: "Paris", degrees: 21 });
    assert.equal(openai.requests[0].body.response_format.json_schema.name, "weather");
    assert.equal(openai.requests[0].body.response_format.json_schema.strict, true);
    const r = await client.responses.create({ model: "openai", input: "JSON please", text: { format: { type: "json_object" } } });
    assert.deepEqual(JSON.parse(r.output_text), { ok: true });
    assert.equal(openai.requests[1].body.response_format.type, "json_object");
  });
});

describe("reasoning", () => {
  test("reasoning.effort reaches an OpenAI reasoning model", async () => {
    openai.script({ kind: "text", text: "Thought about it.", usage: { input: 10, output: 50, reasoning: 40 } });
    const r = await client.responses.create({ model: "o4", input: "Think", reasoning: { effort: "low" } });
    assert.equal(openai.requests[0].body.reasoning_effort, "low");
    assert.equal(r.usage?.output_tokens_details.reasoning_tokens, 40);
    assert.deepEqual(r.reasoning, { effort: "low", summary: null });
  });

  test("Anthropic thinking comes back as a reasoning item, unary and streamed", async () => {
    const thinking = "The user wants the answer. It is forty-two.";
    anthropic.script([
      { kind: "text", text: "42.", thinking },
      { kind: "text", text: ["4", "2."], thinking },
    ]);
    const r = await client.responses.create({ model: "claude", input: "The answer?", reasoning: { effort: "low", summary: "auto" } });
    assert.deepEqual(anthropic.requests[0].body.thinking, { type: "enabled", budget_tokens: 2048 });
    const rs = r.output[0] as OpenAI.Responses.ResponseReasoningItem;
    assert.equal(rs.type, "reasoning");
    assert.match(rs.id, /^rs_/);
    assert.deepEqual(rs.summary, [{ type: "summary_text", text: thinking }]);
    assert.equal(r.output[1].type, "message");
    assert.equal(r.output_text, "42.");

    const stream = client.responses.stream({ model: "claude", input: "The answer?", reasoning: { effort: "low" } });
    const types: string[] = [];
    let summary = "";
    for await (const e of stream) {
      if (types[types.length - 1] !== e.type) types.push(e.type);
      if (e.type === "response.reasoning_summary_text.delta") summary += e.delta;
    }
    assert.equal(summary, thinking);
    assert.deepEqual(types.slice(0, 8), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
    ]);
    const final = await stream.finalResponse();
    assert.deepEqual((final.output[0] as OpenAI.Responses.ResponseReasoningItem).summary, [{ type: "summary_text", text: thinking }]);
    assert.equal(final.output_text, "42.");
    // Reasoning items sent back as input (the usual round trip) are accepted and not forwarded.
    anthropic.script({ kind: "text", text: "Still 42." });
    const again = await client.responses.create({ model: "claude", input: [{ role: "user", content: "The answer?" }, ...(final.output as OpenAI.Responses.ResponseInputItem[]), { role: "user", content: "Sure?" }] });
    assert.equal(again.output_text, "Still 42.");
    assert.deepEqual(
      anthropic.requests[2].body.messages.map((m: { role: string }) => m.role),
      ["user", "assistant", "user"],
    );
  });

  test("Gemini: effort becomes a thinking config; thoughts come back as reasoning", async () => {
    gemini.script({ kind: "text", text: "42.", thought: "Counting." });
    const r = await client.responses.create({ model: "gemini", input: "The answer?", reasoning: { effort: "medium" } });
    assert.equal(gemini.requests[0].body.generationConfig.thinkingConfig.includeThoughts, true);
    assert.equal(r.output[0].type, "reasoning");
    assert.equal(r.output_text, "42.");
  });
});

describe("the Vercel AI SDK's Responses provider", () => {
  const provider = () => createOpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY }).responses;

  test("generateText, then a streamed tool loop with the history sent back (store: false)", async () => {
    anthropic.script([
      { kind: "text", text: "Hello.", thinking: "Greet back." },
      { kind: "tool_calls", calls: [{ id: "toolu_1", name: "weather", arguments: { city: "Paris" } }] },
      { kind: "text", text: ["Sun", "ny."] },
    ]);
    const first = await generateText({ model: provider()("claude"), system: "Be brief.", prompt: "Hi", providerOptions: { openai: { store: false, reasoningEffort: "low" } } });
    assert.equal(first.text, "Hello.");
    assert.equal(first.reasoningText, "Greet back.");
    assert.equal(first.usage.inputTokens, lastRecord().usage.inputTokens);
    const s = streamText({
      model: provider()("claude"),
      messages: [{ role: "user", content: "Hi" }, ...first.response.messages, { role: "user", content: "Weather in Paris?" }],
      tools: { weather: tool({ inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }), execute: async () => ({ sky: "sunny" }) }) },
      stopWhen: isStepCount(2),
      providerOptions: { openai: { store: false } },
    });
    let text = "";
    for await (const c of s.textStream) text += c;
    assert.equal(text, "Sunny.");
    assert.equal(await s.finishReason, "stop");
    const last = anthropic.requests[2].body;
    assert.deepEqual(
      last.messages.map((m: { role: string }) => m.role),
      ["user", "assistant", "user", "assistant", "user"],
    );
    assert.equal(last.messages[4].content[0].type, "tool_result");
  });
});

describe("refusals and errors in OpenAI's shape", () => {
  const nothingSent = () => assert.equal(openai.requests.length + anthropic.requests.length + gemini.requests.length, 0, "a provider was called");

  test("a previous_response_id that names no stored response is a 400 naming it", async () => {
    const err = await client.responses.create({ model: "openai", input: "And then?", previous_response_id: "resp_123" }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.param, "previous_response_id");
    assert.match(err.message, /no response "resp_123"/);
    nothingSent();
  });

  test("400 naming the parameter, and nothing reaches a provider", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ input: undefined }, "input"],
      [{ input: [] }, "input"],
      [{ model: "" }, "model"],
      [{ temperature: 3 }, "temperature"],
      [{ top_p: 2 }, "top_p"],
      [{ max_output_tokens: 0 }, "max_output_tokens"],
      [{ input: [{ role: "user", content: [{ type: "input_file", file_data: "data:application/pdf;base64,AAAA" }] }] }, "input[0].content[0].file_data"],
      [{ input: [{ role: "user", content: [{ type: "input_image", image_url: "ftp://x", detail: "auto" }] }] }, "input[0].content[0].image_url"],
      [{ input: [{ role: "user", content: [{ type: "input_image", file_id: "file-1", detail: "auto" }] }] }, "input[0].content[0].file_id"],
      [{ input: [{ role: "robot", content: "x" }] }, "input[0].role"],
      [{ input: [{ role: "user", content: "Hi" }, { type: "function_call_output", call_id: "nope", output: "x" }] }, "input[1].call_id"],
      [{ input: [{ role: "user", content: "Hi" }, { role: "user", content: [] }] }, "input[1].content"],
      [{ input: [{ type: "item_reference", id: "msg_1" }] }, "input[0].id"],
      [{ input: [{ type: "computer_call", id: "cu_1", call_id: "c1", status: "completed", action: { type: "screenshot" }, pending_safety_checks: [] }] }, "input[0].type"],
      [{ tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }, "tools[0].type"],
      [{ tools: [{ type: "web_search", search_context_size: "huge" }] }, "tools[0].search_context_size"],
      [{ tools: [{ type: "function", function: { name: "f" } }] }, "tools[0].function"],
      [{ tools: [{ ...weather, name: "bad name" }] }, "tools[0].name"],
      [{ tools: [weather], tool_choice: { type: "function", name: "other" } }, "tool_choice.name"],
      [{ tool_choice: "required" }, "tool_choice"],
      [{ text: { format: { type: "json_schema", name: "bad name!", schema: { type: "object" } } } }, "text.format.name"],
      [{ text: { format: { type: "xml" } } }, "text.format.type"],
      [{ reasoning: { effort: "ultra" } }, "reasoning.effort"],
      [{ top_logprobs: 21 }, "top_logprobs"],
      [{ background: "yes" }, "background"],
      [{ metadata: { n: 1 } }, "metadata.n"],
    ];
    for (const [body, param] of cases) {
      const err = await client.responses.create({ model: "openai", input: "Hi", ...body } as OpenAI.Responses.ResponseCreateParamsNonStreaming).catch((e) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, `${param}: ${err}`);
      assert.equal(err.param, param, err.message);
      const message = (err.error as { message: string }).message;
      assert.ok(message.startsWith(`${param}: `), message);
      assert.equal(err.type, "invalid_request_error");
    }
    nothingSent();
  });

  test("401 for an unknown key, 404 model_not_found, 405 on GET", async () => {
    const bad = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "not-a-key", maxRetries: 0 });
    const auth = await bad.responses.create({ model: "openai", input: "Hi" }).catch((e) => e);
    assert.ok(auth instanceof OpenAI.AuthenticationError);
    assert.equal(auth.code, "invalid_api_key");
    const nf = await client.responses.create({ model: "no-such-model", input: "Hi" }).catch((e) => e);
    assert.ok(nf instanceof OpenAI.NotFoundError);
    assert.equal(nf.code, "model_not_found");
    const get = await fetch(`${t.url}/v1/responses`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    const bodyErr = await fetch(`${t.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: "{nope" });
    assert.equal(bodyErr.status, 400);
    assert.equal(((await bodyErr.json()) as { error: { param: string } }).error.param, "body");
    nothingSent();
  });

  test("a failure before the first content is a plain HTTP error for streams", async () => {
    openai.script({ kind: "error", error: "rate_limit", retryAfterMs: 30 });
    const err = await client.responses.create({ model: "openai", input: "Hi", stream: true }).catch((e) => e);
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.headers.get("retry-after-ms"), "30");
  });

  test("a failure after the first delta: response.failed, then an error event the SDK raises", async () => {
    openai.script({ kind: "stream_error", text: "partial answer here", afterDeltas: 1, error: "server_error" });
    const stream = await client.responses.create({ model: "openai", input: "Hi", stream: true });
    const types: string[] = [];
    let failed: OpenAI.Responses.Response | undefined;
    const err = await (async () => {
      for await (const e of stream) {
        types.push(e.type);
        if (e.type === "response.failed") failed = e.response;
      }
    })().catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /failed after 1 deltas/);
    assert.ok(types.includes("response.output_text.delta"));
    assert.equal(failed?.status, "failed");
    assert.equal(failed?.error?.code, "server_error");
    assert.ok((failed?.output[0] as OpenAI.Responses.ResponseOutputMessage).content.length > 0, "the partial answer is in response.failed");
    const rec = lastRecord();
    assert.equal(rec.status, "unavailable");
    assert.ok(rec.usage.outputTokens > 0, "the delivered part is billed");
  });
});
