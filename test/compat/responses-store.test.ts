// Stored responses of the Responses API through the official `openai` SDK and the Vercel AI SDK,
// over a real socket, with a fake OpenAI upstream behind the gateway (its memory store; the
// PostgreSQL store across gateways is in responses-store-postgres.test.ts): a response kept unless
// store is false, retrieved, its input items listed and paged, continued by previous_response_id
// (text and a function-call loop, unary and streamed) with exactly the earlier turns reaching the
// provider, item_reference inputs, deletion, who may see what, and the gateway with
// responses.store off.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, isStepCount, jsonSchema, tool } from "ai";
import OpenAI from "openai";
import { createMemoryResponseStore, type StoredResponse } from "../../src/compat/responses/store.ts";
import { hashKey } from "../../src/server/auth.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { chatTurns } from "../helpers/chat-turns.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";

const key = (...parts: string[]) => ["sbx", "test", "stored", ...parts].join("_");
const TEAM_A = key("team", "a");
const TEAM_A_SERVICE = key("service", "a");
const TEAM_B = key("team", "b");
const ADMIN = key("admin");

const config = (extra = "") => `
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
  - { name: anthropic, type: anthropic, base_url: ${anthropic.url}, api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: gemini, type: gemini, base_url: ${gemini.url}, api_key: ${GEMINI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, output: 15 } }
  - { id: gemini/pro, provider: gemini, model: gemini-3-pro-preview, pricing: { input: 2, output: 12 } }
routes:
  - { name: openai, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: gemini, targets: [gemini/pro], retry: { max_retries: 0 } }
  - { name: claude-guarded, targets: [claude/sonnet], retry: { max_retries: 0 }, guardrails: [pii] }
guardrails:
  - { name: pii, kind: pii, stage: output, action: redact, pii: { categories: [email] } }
keys:
  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: service-a, hash: "${hashKey(TEAM_A_SERVICE)}", team: a, role: service }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
${extra}`;

let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let t: TestGateway;
const sdk = (apiKey = TEAM_A) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey, maxRetries: 0 });
let client: OpenAI;

before(async () => {
  [openai, anthropic, gemini] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini()]);
  t = await startTestGateway(config());
  client = sdk();
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

/** The chat messages the provider received on its i-th call. */
const sent = (i: number) => chatTurns(openai.requests[i].body);

/** The response's store field (the SDK's Response type leaves it out). */
const storedFlag = (r: object) => (r as { store?: boolean }).store;

const weather: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

describe("a stored response", () => {
  test("is kept by default: retrieved as it was answered, and continued by previous_response_id (instructions not carried over)", async () => {
    openai.script([
      { kind: "text", text: "Paris." },
      { kind: "text", text: "About 2.1 million." },
      { kind: "text", text: "The Seine." },
    ]);
    const first = await client.responses.create({ model: "openai", instructions: "Be brief.", input: "Capital of France?", metadata: { ticket: "T-1" } });
    assert.equal(storedFlag(first), true);
    assert.equal(first.previous_response_id, null);
    const got = await client.responses.retrieve(first.id);
    assert.deepEqual(got, first, "retrieved exactly as answered");

    const second = await client.responses.create({ model: "openai", input: "How many people live there?", previous_response_id: first.id });
    assert.equal(second.output_text, "About 2.1 million.");
    assert.equal(second.previous_response_id, first.id);
    assert.deepEqual(sent(1), ["user: Capital of France?", "assistant: Paris.", "user: How many people live there?"]);

    // A third turn carries both before it; its own instructions lead.
    const third = await client.responses.create({ model: "openai", instructions: "One word.", input: [{ role: "user", content: "Its river?" }], previous_response_id: second.id });
    assert.equal(third.output_text, "The Seine.");
    assert.deepEqual(sent(2), ["system: One word.", "user: Capital of France?", "assistant: Paris.", "user: How many people live there?", "assistant: About 2.1 million.", "user: Its river?"]);
    // Each turn is its own usage record, with the whole conversation's prompt.
    const records = t.usage.recent().slice(-3);
    assert.deepEqual(records.map((r) => r.id.replace(/^req_/, "resp_")), [first.id, second.id, third.id]);
  });

  test("a function-call loop continued by previous_response_id, sending only the tool's output; streamed", async () => {
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_w1", name: "get_weather", arguments: { city: "Paris" } }] },
      { kind: "text", text: ["Sunny ", "in Paris."] },
    ]);
    const first = await client.responses.create({ model: "openai", input: "Weather in Paris?", tools: [weather] });
    const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
    assert.ok(call);
    const stream = client.responses.stream({ model: "openai", previous_response_id: first.id, tools: [weather], input: [{ type: "function_call_output", call_id: call.call_id, output: '{"sky":"sunny"}' }] });
    const final = await stream.finalResponse();
    assert.equal(final.output_text, "Sunny in Paris.");
    assert.equal(final.previous_response_id, first.id);
    assert.equal(storedFlag(final), true);
    assert.deepEqual(sent(1), ["user: Weather in Paris?", `assistant: [calls ${call.call_id} get_weather]`, `tool(${call.call_id}): {"sky":"sunny"}`]);
    // The streamed response is stored as its last event carried it.
    const got = await client.responses.retrieve(final.id);
    assert.equal(got.output_text, "Sunny in Paris.");
    assert.deepEqual(got.usage, final.usage);
    const items = await client.responses.inputItems.list(final.id);
    assert.deepEqual(
      items.data.map((i) => i.type),
      ["function_call_output"],
    );
  });

  test("input items: each with an id, newest first by default, paged with after and limit, asc on request", async () => {
    openai.script({ kind: "text", text: "ok" });
    const r = await client.responses.create({
      model: "openai",
      input: [
        { role: "developer", content: "Answer in French." },
        { role: "user", content: "One" },
        { role: "assistant", content: "Un" },
        { role: "user", content: [{ type: "input_text", text: "Two" }] },
      ],
    });
    const desc = await client.responses.inputItems.list(r.id);
    assert.equal(desc.data.length, 4);
    assert.ok(desc.data.every((i) => typeof i.id === "string" && i.id.length > 0));
    assert.deepEqual(
      desc.data.map((i) => (i as OpenAI.Responses.ResponseInputMessageItem).role),
      ["user", "assistant", "user", "developer"],
    );
    const texts = (d: OpenAI.Responses.ResponseItem[]) => d.map((i) => ((i as OpenAI.Responses.ResponseInputMessageItem).content[0] as { text: string }).text);
    assert.deepEqual(texts(desc.data), ["Two", "Un", "One", "Answer in French."]);
    // Paging: the SDK follows after= through has_more.
    const paged: string[] = [];
    for await (const item of client.responses.inputItems.list(r.id, { limit: 1, order: "asc" })) paged.push(texts([item])[0]);
    assert.deepEqual(paged, ["Answer in French.", "One", "Un", "Two"]);
    // The list's own fields, as OpenAI sends them.
    const page = await (await fetch(`${t.url}/v1/responses/${r.id}/input_items?limit=2&after=${desc.data[0].id}`, { headers: { authorization: `Bearer ${TEAM_A}` } })).json();
    assert.deepEqual(
      { object: page.object, first_id: page.first_id, last_id: page.last_id, has_more: page.has_more, n: page.data.length },
      { object: "list", first_id: desc.data[1].id, last_id: desc.data[2].id, has_more: true, n: 2 },
    );
    const bad = await client.responses.inputItems.list(r.id, { limit: 101 }).catch((e) => e);
    assert.ok(bad instanceof OpenAI.BadRequestError);
    assert.equal(bad.param, "limit");
  });

  test("item_reference inputs are replaced by the stored items they name", async () => {
    openai.script([
      { kind: "text", text: "Blue." },
      { kind: "text", text: "Because of Rayleigh scattering." },
    ]);
    const first = await client.responses.create({ model: "openai", input: "Colour of the sky?" });
    const msg = first.output.find((o) => o.type === "message")!;
    const [asked] = (await client.responses.inputItems.list(first.id)).data;
    const second = await client.responses.create({
      model: "openai",
      input: [{ type: "item_reference", id: asked.id }, { type: "item_reference", id: msg.id }, { role: "user", content: "Why?" }],
    });
    assert.equal(second.output_text, "Because of Rayleigh scattering.");
    assert.deepEqual(sent(1), ["user: Colour of the sky?", "assistant: Blue.", "user: Why?"]);
    const err = await client.responses.create({ model: "openai", input: [{ type: "item_reference", id: `msg_${first.id.slice(5)}_9` }] }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, "input[0].id");
    assert.equal(openai.requests.length, 2, "the bad reference reached no provider");
  });

  test("store: false keeps nothing: not retrievable, not continued", async () => {
    openai.script({ kind: "text", text: "ok" });
    const r = await client.responses.create({ model: "openai", input: "Hi", store: false });
    assert.equal(storedFlag(r), false);
    const got = await client.responses.retrieve(r.id).catch((e) => e);
    assert.ok(got instanceof OpenAI.NotFoundError, String(got));
    const next = await client.responses.create({ model: "openai", input: "And?", previous_response_id: r.id }).catch((e) => e);
    assert.ok(next instanceof OpenAI.BadRequestError);
    assert.equal(next.param, "previous_response_id");
    assert.equal(openai.requests.length, 1);
  });

  test("deleted: gone for retrieve, input items, continuation, and a second delete", async () => {
    openai.script([
      { kind: "text", text: "first" },
      { kind: "text", text: "second" },
    ]);
    const first = await client.responses.create({ model: "openai", input: "Hi" });
    const second = await client.responses.create({ model: "openai", input: "More", previous_response_id: first.id });
    await client.responses.delete(first.id);
    assert.ok((await client.responses.retrieve(first.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.ok((await client.responses.inputItems.list(first.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.ok((await client.responses.delete(first.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    // The turn after it is still there, but its conversation lost its start: continuing it is refused.
    assert.equal((await client.responses.retrieve(second.id)).output_text, "second");
    const err = await client.responses.create({ model: "openai", input: "And?", previous_response_id: second.id }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.match(err.message, /lost its turns before/);
    assert.equal(openai.requests.length, 2);
  });

  test("who may see a response: its team's keys and admins; a service key only its own; others get not found", async () => {
    openai.script([
      { kind: "text", text: "team a" },
      { kind: "text", text: "admin went on" },
    ]);
    const r = await client.responses.create({ model: "openai", input: "Hi" });
    const other = sdk(TEAM_B);
    assert.ok((await other.responses.retrieve(r.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.ok((await other.responses.delete(r.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    const cont = await other.responses.create({ model: "openai", input: "Steal", previous_response_id: r.id }).catch((e) => e);
    assert.ok(cont instanceof OpenAI.BadRequestError);
    const ref = await other.responses.create({ model: "openai", input: [{ type: "item_reference", id: r.output[0].id! }] }).catch((e) => e);
    assert.ok(ref instanceof OpenAI.BadRequestError);
    assert.ok((await sdk(TEAM_A_SERVICE).responses.retrieve(r.id).catch((e) => e)) instanceof OpenAI.NotFoundError, "a service key sees only its own");
    assert.equal(openai.requests.length, 1, "nothing of team b's reached a provider");
    const admin = sdk(ADMIN);
    assert.equal((await admin.responses.retrieve(r.id)).output_text, "team a");
    const went = await admin.responses.create({ model: "openai", input: "Go on", previous_response_id: r.id });
    assert.equal(went.output_text, "admin went on");
    // Still there for team a after all that.
    assert.equal((await client.responses.retrieve(r.id)).id, r.id);
  });
});

describe("the provider's replay state across turns", () => {
  test("Claude keeps thinking across a tool loop continued by previous_response_id: its signed thinking goes back with the turn that made the call", async () => {
    anthropic.script([
      { kind: "tool_calls", calls: [{ id: "toolu_1", name: "get_weather", arguments: { city: "Paris" } }], thinking: "I should look it up." },
      { kind: "text", text: "Sunny.", thinking: "It is sunny." },
    ]);
    const first = await client.responses.create({ model: "claude", input: "Weather in Paris?", tools: [weather], reasoning: { effort: "low" } });
    const rs = first.output.find((o) => o.type === "reasoning") as OpenAI.Responses.ResponseReasoningItem;
    assert.match(rs.encrypted_content ?? "", /^sbx1\./, "a stored response keeps its replay state");
    const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call")!;
    const final = await client.responses
      .stream({ model: "claude", previous_response_id: first.id, tools: [weather], reasoning: { effort: "low" }, input: [{ type: "function_call_output", call_id: call.call_id, output: '{"sky":"sunny"}' }] })
      .finalResponse();
    assert.equal(final.output_text, "Sunny.");
    const up = anthropic.requests[1].body;
    assert.equal(up.thinking?.type, "enabled", "thinking stays on mid tool loop");
    const turn = up.messages[1].content;
    assert.equal(turn[0].type, "thinking");
    assert.equal(turn[0].thinking, "I should look it up.");
    assert.match(turn[0].signature, /^EqQB/, "the signature Anthropic gave, unchanged");
    assert.equal(turn[1].type, "tool_use");
    assert.equal(t.usage.recent().at(-1)!.adjustments?.some((a) => /thinking/i.test(a.detail)) ?? false, false, "no adjustment turned thinking off");
    // The streamed answer's reasoning item carries its own state when it closes.
    const streamed = final.output.find((o) => o.type === "reasoning") as OpenAI.Responses.ResponseReasoningItem;
    assert.match(streamed.encrypted_content ?? "", /^sbx1\./);
  });

  test("stateless: include reasoning.encrypted_content, and the items sent back carry the thinking to the next turn", async () => {
    anthropic.script([
      { kind: "tool_calls", calls: [{ id: "toolu_2", name: "get_weather", arguments: { city: "Oslo" } }], thinking: "Look up Oslo." },
      { kind: "text", text: "Snow." },
    ]);
    const input: OpenAI.Responses.ResponseInputItem[] = [{ role: "user", content: "Weather in Oslo?" }];
    const first = await client.responses.create({ model: "claude", input, tools: [weather], reasoning: { effort: "low" }, store: false, include: ["reasoning.encrypted_content"] });
    const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call")!;
    await client.responses.create({
      model: "claude",
      tools: [weather],
      reasoning: { effort: "low" },
      store: false,
      input: [...input, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: "function_call_output", call_id: call.call_id, output: '{"sky":"snow"}' }],
    });
    const up = anthropic.requests[1].body;
    assert.equal(up.thinking?.type, "enabled");
    assert.equal(up.messages[1].content[0].type, "thinking");
    assert.equal(up.messages[1].content[0].thinking, "Look up Oslo.");
    // Without include (and not stored), no state is returned: as before, thinking is off mid loop.
    anthropic.script([{ kind: "tool_calls", calls: [{ id: "toolu_3", name: "get_weather", arguments: { city: "Rome" } }], thinking: "Rome." }]);
    const plain = await client.responses.create({ model: "claude", input: "Weather in Rome?", tools: [weather], reasoning: { effort: "low" }, store: false });
    assert.equal((plain.output.find((o) => o.type === "reasoning") as OpenAI.Responses.ResponseReasoningItem).encrypted_content, undefined);
  });

  test("with an output guardrail: state only for thinking it left as it was (unary), none for a stream it scans", async () => {
    anthropic.script([
      { kind: "text", text: "Done.", thinking: "Nothing private here." },
      { kind: "text", text: "Done.", thinking: "Mail ann@example.com about it." },
      { kind: "text", text: "Done.", thinking: "Nothing private here." },
    ]);
    const state = (r: { output: OpenAI.Responses.ResponseOutputItem[] }) => (r.output.find((o) => o.type === "reasoning") as OpenAI.Responses.ResponseReasoningItem).encrypted_content;
    const clean = await client.responses.create({ model: "claude-guarded", input: "Go", reasoning: { effort: "low" } });
    assert.match(state(clean) ?? "", /^sbx1\./, "the guardrail changed nothing: the signed thinking is replayable");
    const redacted = await client.responses.create({ model: "claude-guarded", input: "Go", reasoning: { effort: "low" } });
    assert.doesNotMatch(JSON.stringify(redacted.output), /ann@example\.com/);
    assert.equal(state(redacted), undefined, "redacted thinking would not match its signature, and would replay what was removed");
    const streamed = await client.responses.stream({ model: "claude-guarded", input: "Go", reasoning: { effort: "low" } }).finalResponse();
    assert.equal(state(streamed as never), undefined, "a scanned stream's text comes out of step with its signatures");
  });

  test("Gemini 3's thought signature on a function call goes back with it (not the stand-in), unary and streamed", async () => {
    for (const stream of [false, true]) {
      gemini.reset();
      gemini.script([
        { kind: "tool_calls", calls: [{ name: "get_weather", arguments: { city: "Lima" } }] },
        { kind: "text", text: "Warm." },
      ]);
      const first = stream
        ? await client.responses.stream({ model: "gemini", input: "Weather in Lima?", tools: [weather] }).finalResponse()
        : await client.responses.create({ model: "gemini", input: "Weather in Lima?", tools: [weather] });
      const call = (first.output as OpenAI.Responses.ResponseOutputItem[]).find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call")!;
      const next = await client.responses.create({ model: "gemini", previous_response_id: first.id, tools: [weather], input: [{ type: "function_call_output", call_id: call.call_id, output: '{"temp":24}' }] });
      assert.equal(next.output_text, "Warm.", `stream: ${stream}`);
      const part = gemini.requests[1].body.contents[1].parts.find((p: { functionCall?: unknown }) => p.functionCall);
      assert.equal(part.thoughtSignature, "Ct" + Buffer.from("fake-thought-signature:get_weather").toString("base64"), `stream: ${stream}`);
    }
  });
});

describe("background responses", () => {
  /** Poll the stored response until its status leaves queued and in_progress. */
  async function settled(id: string): Promise<OpenAI.Responses.Response> {
    for (let i = 0; i < 500; i++) {
      const r = await client.responses.retrieve(id);
      if (r.status !== "queued" && r.status !== "in_progress") return r;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error(`${id} did not settle`);
  }

  test("answered at once as queued, then read back completed, its usage recorded as any request's", async () => {
    openai.script({ kind: "text", text: "Done in the background.", delayMs: 100 });
    const r = await client.responses.create({ model: "openai", input: "Take your time", background: true });
    assert.equal(r.status, "queued");
    assert.equal(r.background, true);
    assert.deepEqual(r.output, []);
    const done = await settled(r.id);
    assert.equal(done.status, "completed");
    assert.equal(done.output_text, "Done in the background.");
    assert.equal(done.background, true);
    const rec = await waitFor(() => t.usage.recent().find((x) => x.id.replace(/^req_/, "resp_") === r.id));
    assert.equal(rec.status, "ok");
    assert.equal(done.usage!.input_tokens, rec.usage.inputTokens);
  });

  test("cancelled while the provider is still working: the call is stopped, recorded as canceled; a second cancel says the same, an ended one cannot be", async () => {
    openai.script([{ kind: "hang" }, { kind: "text", text: "quick" }]);
    const r = await client.responses.create({ model: "openai", input: "Think forever", background: true });
    await waitFor(() => (openai.requests.length === 1 ? true : undefined));
    const cancelled = await client.responses.cancel(r.id);
    assert.equal(cancelled.status, "cancelled");
    assert.equal((await client.responses.retrieve(r.id)).status, "cancelled");
    const rec = await waitFor(() => t.usage.recent().find((x) => x.id.replace(/^req_/, "resp_") === r.id));
    assert.equal(rec.status, "canceled");
    assert.equal((await client.responses.cancel(r.id)).status, "cancelled", "cancelling twice is harmless");
    const ended = await client.responses.create({ model: "openai", input: "Quick", background: true });
    await settled(ended.id);
    const late = await client.responses.cancel(ended.id).catch((e) => e);
    assert.ok(late instanceof OpenAI.BadRequestError, String(late));
    assert.match(late.message, /has already ended \(completed\)/);
  });

  test("a conversation gets the turn once it is answered; refusals: not stored, a foreground response cancelled or streamed again", async () => {
    openai.script([
      { kind: "text", text: "Later." },
      { kind: "text", text: "now" },
    ]);
    const c = await client.conversations.create();
    const r = await client.responses.create({ model: "openai", conversation: c.id, input: "Whenever", background: true });
    await settled(r.id);
    const items: string[] = [];
    for await (const i of client.conversations.items.list(c.id, { order: "asc" })) items.push((i as { role: string }).role);
    assert.deepEqual(items, ["user", "assistant"]);
    for (const [body, param] of [[{ store: false }, "background"]] as const) {
      const err = await client.responses.create({ model: "openai", input: "x", background: true, ...body } as never).catch((e) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.equal(err.param, param);
    }
    const fg = await client.responses.create({ model: "openai", input: "x" });
    const err = await client.responses.cancel(fg.id).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.match(err.message, /only background responses can be cancelled/);
    const again = await fetch(`${t.url}/v1/responses/${fg.id}?stream=true`, { headers: { authorization: `Bearer ${TEAM_A}` } });
    assert.equal(again.status, 400);
    assert.equal(((await again.json()) as { error: { param: string } }).error.param, "stream");
  });
});

describe("background responses, streamed (background: true, stream: true)", () => {
  type Event = OpenAI.Responses.ResponseStreamEvent;
  const texts = (events: Event[]) => events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join("");
  const CHUNKS = ["The ", "run ", "goes ", "on ", "without ", "its ", "caller."];

  test("the stream is the run's: queued, in progress, every delta, completed; stored as it ends", async () => {
    openai.script({ kind: "text", text: CHUNKS, chunkDelayMs: 5 });
    const events: Event[] = [];
    for await (const e of await client.responses.create({ model: "openai", input: "Go", background: true, stream: true })) events.push(e);
    assert.deepEqual(events.slice(0, 3).map((e) => e.type), ["response.created", "response.queued", "response.in_progress"]);
    assert.equal((events[0] as OpenAI.Responses.ResponseCreatedEvent).response.status, "queued");
    assert.equal((events[0] as OpenAI.Responses.ResponseCreatedEvent).response.background, true);
    assert.equal(events.at(-1)!.type, "response.completed");
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), "numbered from 0, none missing");
    assert.equal(texts(events), CHUNKS.join(""));
    const id = (events[0] as OpenAI.Responses.ResponseCreatedEvent).response.id;
    const stored = await client.responses.retrieve(id);
    assert.equal(stored.status, "completed");
    assert.equal(stored.output_text, CHUNKS.join(""));
  });

  test("the caller goes away mid-stream: the run goes on, and the stream is followed again from the last event seen", async () => {
    openai.script({ kind: "text", text: CHUNKS, chunkDelayMs: 60 });
    const first: Event[] = [];
    const stream = await client.responses.create({ model: "openai", input: "Go", background: true, stream: true });
    for await (const e of stream) {
      first.push(e);
      if (e.type === "response.output_text.delta" && first.filter((x) => x.type === "response.output_text.delta").length === 2) break;
    }
    const id = (first[0] as OpenAI.Responses.ResponseCreatedEvent).response.id;
    const last = first.at(-1)!.sequence_number;
    assert.notEqual((await client.responses.retrieve(id)).status, "completed", "still running when the caller left");
    const rest: Event[] = [];
    for await (const e of await client.responses.retrieve(id, { stream: true, starting_after: last })) rest.push(e);
    assert.equal(rest[0]!.sequence_number, last + 1, "from the next event on");
    assert.deepEqual(rest.map((e) => e.sequence_number), rest.map((_, i) => last + 1 + i));
    assert.equal(rest.at(-1)!.type, "response.completed");
    assert.equal(texts(first) + texts(rest), CHUNKS.join(""), "nothing lost, nothing twice");
    // From the start, once it has ended: every event again.
    const all: Event[] = [];
    for await (const e of await client.responses.retrieve(id, { stream: true })) all.push(e);
    assert.equal(all.length, last + 1 + rest.length);
    const rec = await waitFor(() => t.usage.recent().find((x) => x.id.replace(/^req_/, "resp_") === id));
    assert.equal(rec.status, "ok", "the run's usage, as any request's");
  });

  test("cancelled while streaming: the stream ends with an error the SDK raises; the response reads cancelled", async () => {
    openai.script({ kind: "text", text: CHUNKS, chunkDelayMs: 80 });
    const stream = await client.responses.create({ model: "openai", input: "Go", background: true, stream: true });
    let id = "";
    const err = await (async () => {
      for await (const e of stream) {
        if (e.type === "response.created") id = e.response.id;
        if (e.type === "response.output_text.delta") await client.responses.cancel(id);
      }
    })().catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(String(err.message), /the response was cancelled/);
    assert.equal((await client.responses.retrieve(id)).status, "cancelled");
  });

  test("a background response run without a stream is replayed whole from the store; bad starting_after names the field", async () => {
    openai.script({ kind: "text", text: "Replayed from the store." });
    const r = await client.responses.create({ model: "openai", input: "Go", background: true });
    const events: Event[] = [];
    for await (const e of await client.responses.retrieve(r.id, { stream: true })) events.push(e);
    assert.equal(events[0]!.type, "response.created");
    assert.equal(events.at(-1)!.type, "response.completed");
    assert.equal(texts(events), "Replayed from the store.");
    const tail: Event[] = [];
    for await (const e of await client.responses.retrieve(r.id, { stream: true, starting_after: events.length - 2 })) tail.push(e);
    assert.deepEqual(tail.map((e) => e.type), ["response.completed"]);
    const bad = await fetch(`${t.url}/v1/responses/${r.id}?stream=true&starting_after=soon`, { headers: { authorization: `Bearer ${TEAM_A}` } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, "starting_after");
    const other = await fetch(`${t.url}/v1/responses/${r.id}?stream=true`, { headers: { authorization: `Bearer ${TEAM_B}` } });
    assert.equal(other.status, 404, "another team's response is not found, streamed or not");
  });
});

describe("the Vercel AI SDK with its default store: true", () => {
  test("a tool loop, then the next turn with its history: the earlier answer sent back as an item reference, resolved from the store", async () => {
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_1", name: "weather", arguments: { city: "Paris" } }] },
      { kind: "text", text: "Sunny." },
      { kind: "text", text: "Take sunglasses." },
    ]);
    // What the SDK sends, to see that it does refer to stored items.
    const bodies: { input: { type?: string }[] }[] = [];
    const recording: typeof fetch = async (url, init) => {
      if (typeof init?.body === "string") bodies.push(JSON.parse(init.body));
      return fetch(url, init);
    };
    const model = createOpenAI({ baseURL: `${t.url}/v1`, apiKey: TEAM_A, fetch: recording }).responses("openai");
    const tools = { weather: tool({ inputSchema: jsonSchema<{ city: string }>({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }), execute: async () => ({ sky: "sunny" }) }) };
    const first = await generateText({ model, prompt: "Weather in Paris?", tools, stopWhen: isStepCount(2) });
    assert.equal(first.text, "Sunny.");
    assert.deepEqual(sent(1), ["user: Weather in Paris?", "assistant: [calls call_1 weather]", 'tool(call_1): {"sky":"sunny"}']);
    const next = await generateText({ model, tools, messages: [{ role: "user", content: "Weather in Paris?" }, ...first.response.messages, { role: "user", content: "What should I take?" }] });
    assert.equal(next.text, "Take sunglasses.");
    // The SDK sends the earlier answer as a reference to its stored message item (and leaves out
    // the finished tool loop before it): the provider gets that message's text in its place.
    assert.deepEqual(
      bodies[2].input.map((i) => i.type ?? "message"),
      ["message", "item_reference", "message"],
    );
    assert.deepEqual(sent(2), ["user: Weather in Paris?", "assistant: Sunny.", "user: What should I take?"]);
  });
});

describe("a gateway with responses.store: false", () => {
  test("answers store: false and refuses previous_response_id and item references, naming the setting", async () => {
    const off = await startTestGateway(config("responses: { store: false }"));
    try {
      openai.script({ kind: "text", text: "ok" });
      const c = new OpenAI({ baseURL: `${off.url}/v1`, apiKey: TEAM_A, maxRetries: 0 });
      const r = await c.responses.create({ model: "openai", input: "Hi" });
      assert.equal(storedFlag(r), false);
      const err = await c.responses.create({ model: "openai", input: "And?", previous_response_id: r.id }).catch((e) => e);
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.param, "previous_response_id");
      assert.match(err.message, /responses\.store is false/);
      assert.ok((await c.responses.retrieve(r.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
      assert.equal(openai.requests.length, 1);
    } finally {
      await off.close();
    }
  });
});

describe("the memory store", () => {
  const rec = (id: string, size: number, at: number, previousId?: string): StoredResponse => ({
    id,
    owner: { team: "a", key: "k" },
    createdAt: at,
    expiresAt: at + 1000,
    ...(previousId ? { previousId } : {}),
    response: { id, pad: "x".repeat(size) },
    inputItems: [],
  });

  test("keeps the newest within its bound, forgets what expired, and reads chains oldest first", async () => {
    const s = createMemoryResponseStore({ maxBytes: 10_000 });
    for (let i = 0; i < 10; i++) await s.put(rec(`resp_${i}`, 2_000, 0, i ? `resp_${i - 1}` : undefined));
    const kept = (await Promise.all(Array.from({ length: 10 }, (_, i) => s.get(`resp_${i}`, 0)))).map((r) => r?.id).filter(Boolean);
    assert.deepEqual(kept, ["resp_6", "resp_7", "resp_8", "resp_9"], "the oldest went first");
    // A chain stops where its turns were dropped: the caller sees the oldest still has a previous one.
    const chain = await s.chain("resp_9", 0);
    assert.deepEqual(chain.map((r) => r.id), ["resp_6", "resp_7", "resp_8", "resp_9"]);
    assert.equal(chain[0].previousId, "resp_5");
    assert.equal(await s.get("resp_9", 1000), undefined, "expired");
    await assert.rejects(s.put(rec("huge", 20_000, 0)), /larger than the store's bound/);
    assert.equal(await s.sweep(5000), 3);
  });
});
