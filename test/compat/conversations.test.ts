// The Conversations API through the official `openai` SDK (and the Vercel AI SDK's conversation
// option), over a real socket, with a fake OpenAI upstream behind the gateway (memory store; the
// PostgreSQL store across gateways is in responses-store-postgres.test.ts): a conversation's
// life (create with items and metadata, retrieve, update, items added, listed, paged, retrieved
// and deleted, the conversation deleted), responses that read a conversation as their context
// and add their turn to it (unary, streamed, a function-call loop), and the refusals, which reach
// no provider.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import OpenAI from "openai";
import { createMemoryConversationStore } from "../../src/compat/responses/conversations.ts";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { chatTurns } from "../helpers/chat-turns.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";

const key = (...parts: string[]) => ["sbx", "test", "conv", ...parts].join("_");
const TEAM_A = key("team", "a");
const TEAM_B = key("team", "b");

let openai: FakeOpenAI;
let t: TestGateway;
let client: OpenAI;

before(async () => {
  openai = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: openai, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
keys:
  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }
`);
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: TEAM_A, maxRetries: 0 });
});
after(async () => {
  await t.close();
  await openai.close();
});
beforeEach(() => openai.reset());

/** The chat messages the provider received on its i-th call. */
const sent = (i: number) => chatTurns(openai.requests[i].body);

type Item = OpenAI.Conversations.ConversationItem;
/** An item as type/role: text. */
const show = (i: Item): string => {
  const x = i as { type: string; role?: string; content?: { text?: string; type: string }[]; name?: string; output?: string; call_id?: string };
  if (x.type === "message") return `${x.role}: ${(x.content ?? []).map((c) => c.text ?? "").join("")}`;
  if (x.type === "function_call") return `call ${x.name}`;
  if (x.type === "function_call_output") return `output ${x.output}`;
  return x.type;
};
const allItems = async (id: string, order: "asc" | "desc" = "asc") => {
  const out: Item[] = [];
  for await (const i of client.conversations.items.list(id, { order, limit: 2 })) out.push(i);
  return out;
};

const weather: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: false,
};

describe("a conversation", () => {
  test("created with items and metadata, retrieved, updated; items added, listed, paged, retrieved and deleted; then deleted", async () => {
    const c = await client.conversations.create({ metadata: { topic: "demo" }, items: [{ type: "message", role: "user", content: "Hello!" }] });
    assert.match(c.id, /^conv_[0-9a-f]{48}$/);
    assert.equal(c.object, "conversation");
    assert.deepEqual(c.metadata, { topic: "demo" });
    assert.deepEqual(await client.conversations.retrieve(c.id), c);
    const updated = await client.conversations.update(c.id, { metadata: { topic: "weather" } });
    assert.deepEqual(updated.metadata, { topic: "weather" });

    const added = await client.conversations.items.create(c.id, {
      items: [
        { type: "message", role: "assistant", content: "Hi, how can I help?" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Weather?" }] },
      ],
    });
    assert.equal(added.data.length, 2);
    assert.equal(added.first_id, added.data[0].id);
    assert.deepEqual((await allItems(c.id)).map(show), ["user: Hello!", "assistant: Hi, how can I help?", "user: Weather?"]);
    assert.deepEqual((await allItems(c.id, "desc")).map(show), ["user: Weather?", "assistant: Hi, how can I help?", "user: Hello!"]);
    const one = await client.conversations.items.retrieve(added.data[0].id!, { conversation_id: c.id });
    assert.equal(show(one), "assistant: Hi, how can I help?");
    const after = await client.conversations.items.delete(added.data[0].id!, { conversation_id: c.id });
    assert.equal(after.id, c.id);
    assert.deepEqual((await allItems(c.id)).map(show), ["user: Hello!", "user: Weather?"]);
    const gone = await client.conversations.items.retrieve(added.data[0].id!, { conversation_id: c.id }).catch((e) => e);
    assert.ok(gone instanceof OpenAI.NotFoundError, String(gone));
    assert.equal(gone.param, "item_id");

    const deleted = await client.conversations.delete(c.id);
    assert.deepEqual(deleted, { id: c.id, object: "conversation.deleted", deleted: true });
    assert.ok((await client.conversations.retrieve(c.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.ok((await client.conversations.items.list(c.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.equal(openai.requests.length, 0);
  });

  test("responses read it as their context and add their turn to it, unary and streamed", async () => {
    openai.script([
      { kind: "text", text: "Paris." },
      { kind: "text", text: ["About 2.1 ", "million."] },
    ]);
    const c = await client.conversations.create({ items: [{ type: "message", role: "developer", content: "Be brief." }] });
    const first = await client.responses.create({ model: "openai", conversation: c.id, input: "Capital of France?" });
    assert.equal(first.output_text, "Paris.");
    assert.deepEqual(first.conversation, { id: c.id });
    assert.deepEqual(sent(0), ["developer: Be brief.", "user: Capital of France?"]);
    const second = await client.responses.stream({ model: "openai", conversation: { id: c.id }, input: "How many people?" }).finalResponse();
    assert.equal(second.output_text, "About 2.1 million.");
    assert.deepEqual(sent(1), ["developer: Be brief.", "user: Capital of France?", "assistant: Paris.", "user: How many people?"]);
    assert.deepEqual((await allItems(c.id)).map(show), ["developer: Be brief.", "user: Capital of France?", "assistant: Paris.", "user: How many people?", "assistant: About 2.1 million."]);
    // The items are the response's own: the output item keeps its id.
    const items = await allItems(c.id);
    assert.equal(items[4].id, second.output.find((o) => o.type === "message")!.id);
    // What its responses used and cost, summed, equal to their usage records.
    const records = t.usage.recent().filter((r) => [first.id, second.id].includes(r.id.replace(/^req_/, "resp_")));
    assert.equal(records.length, 2);
    const totals = ((await client.conversations.retrieve(c.id)) as unknown as { signalbox: Record<string, number> }).signalbox;
    assert.deepEqual(totals, {
      responses: 2,
      input_tokens: first.usage!.input_tokens + second.usage!.input_tokens,
      output_tokens: first.usage!.output_tokens + second.usage!.output_tokens,
      cost_nano_usd: records.reduce((n, r) => n + r.cost.total, 0),
    });
    assert.ok(totals.cost_nano_usd > 0);
  });

  test("a function-call loop: the tool's output alone continues it", async () => {
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_c1", name: "get_weather", arguments: { city: "Paris" } }] },
      { kind: "text", text: "Sunny." },
    ]);
    const c = await client.conversations.create();
    const first = await client.responses.create({ model: "openai", conversation: c.id, input: "Weather in Paris?", tools: [weather] });
    const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call")!;
    await client.responses.create({ model: "openai", conversation: c.id, tools: [weather], input: [{ type: "function_call_output", call_id: call.call_id, output: '{"sky":"sunny"}' }] });
    assert.deepEqual(sent(1), ["user: Weather in Paris?", "assistant: [calls call_c1 get_weather]", 'tool(call_c1): {"sky":"sunny"}']);
    assert.deepEqual((await allItems(c.id)).map(show), ["user: Weather in Paris?", "call get_weather", 'output {"sky":"sunny"}', "assistant: Sunny."]);
  });

  test("the Vercel AI SDK's conversation option", async () => {
    openai.script([
      { kind: "text", text: "One." },
      { kind: "text", text: "Two." },
    ]);
    const c = await client.conversations.create();
    const model = createOpenAI({ baseURL: `${t.url}/v1`, apiKey: TEAM_A }).responses("openai");
    await generateText({ model, prompt: "Count with me.", providerOptions: { openai: { conversation: c.id } } });
    const r = await generateText({ model, prompt: "Next?", providerOptions: { openai: { conversation: c.id } } });
    assert.equal(r.text, "Two.");
    assert.deepEqual(sent(1), ["user: Count with me.", "assistant: One.", "user: Next?"]);
  });
});

describe("one response at a time", () => {
  test("a second response on a conversation in use is refused (conversation_locked); a failed one lets go too", async () => {
    openai.script([
      { kind: "text", text: "Slow answer.", delayMs: 300 },
      { kind: "error", error: "server_error" },
      { kind: "text", text: "After the failure." },
    ]);
    const c = await client.conversations.create();
    const slow = client.responses.create({ model: "openai", conversation: c.id, input: "Take your time" });
    await waitFor(() => (openai.requests.length === 1 ? true : undefined));
    const busy = await client.responses.create({ model: "openai", conversation: c.id, input: "Me too" }).catch((e) => e);
    assert.ok(busy instanceof OpenAI.BadRequestError, String(busy));
    assert.equal(busy.code, "conversation_locked");
    assert.equal(busy.param, "conversation");
    assert.equal((await slow).output_text, "Slow answer.");
    assert.equal(openai.requests.length, 1, "the refused one reached no provider");
    const failed = await client.responses.create({ model: "openai", conversation: c.id, input: "Break" }).catch((e) => e);
    assert.ok(failed instanceof OpenAI.APIError && failed.status >= 500, String(failed));
    const after = await client.responses.create({ model: "openai", conversation: c.id, input: "Again" });
    assert.equal(after.output_text, "After the failure.");
    assert.deepEqual((await allItems(c.id)).map(show), ["user: Take your time", "assistant: Slow answer.", "user: Again", "assistant: After the failure."]);
  });

  test("the store's hold: taken once, by its holder again, by another after it lapses", async () => {
    const s = createMemoryConversationStore({ maxBytes: 1_000_000 });
    await s.create({ id: "conv_x", owner: { team: "", key: "" }, createdAt: 0, metadata: {} }, []);
    assert.equal(await s.lock("conv_x", "resp_a", 1000, 0), true);
    assert.equal(await s.lock("conv_x", "resp_b", 1000, 500), false);
    assert.equal(await s.lock("conv_x", "resp_a", 2000, 500), true, "its holder may renew it");
    assert.equal(await s.lock("conv_x", "resp_b", 3000, 2000), true, "lapsed: another takes it");
    await s.unlock("conv_x", "resp_a");
    assert.equal(await s.lock("conv_x", "resp_c", 4000, 2500), false, "only its holder lets go");
    await s.unlock("conv_x", "resp_b");
    assert.equal(await s.lock("conv_x", "resp_c", 4000, 2500), true);
  });
});

describe("refusals, which reach no provider", () => {
  test("a conversation of another team, an unknown one, and one with previous_response_id", async () => {
    const c = await client.conversations.create({ items: [{ type: "message", role: "user", content: "secret" }] });
    const other = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: TEAM_B, maxRetries: 0 });
    assert.ok((await other.conversations.retrieve(c.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.ok((await other.conversations.items.list(c.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    assert.ok((await other.conversations.delete(c.id).catch((e) => e)) instanceof OpenAI.NotFoundError);
    const theirs = await other.responses.create({ model: "openai", conversation: c.id, input: "Tell me" }).catch((e) => e);
    assert.ok(theirs instanceof OpenAI.NotFoundError, String(theirs));
    assert.equal(theirs.param, "conversation");
    const unknown = await client.responses.create({ model: "openai", conversation: "conv_nope", input: "Hi" }).catch((e) => e);
    assert.ok(unknown instanceof OpenAI.NotFoundError);
    const both = await client.responses.create({ model: "openai", conversation: c.id, previous_response_id: "resp_x", input: "Hi" }).catch((e) => e);
    assert.ok(both instanceof OpenAI.BadRequestError);
    assert.equal(both.param, "previous_response_id");
    assert.equal((await client.conversations.retrieve(c.id)).id, c.id, "still there for its team");
    assert.equal(openai.requests.length, 0);
  });

  test("bad items name their field", async () => {
    const c = await client.conversations.create();
    const cases: [() => Promise<unknown>, string][] = [
      [() => client.conversations.create({ items: [{ type: "message", role: "robot", content: "x" } as never] }), "items[0].role"],
      [() => client.conversations.create({ metadata: { n: 1 } as never }), "metadata.n"],
      [() => client.conversations.items.create(c.id, { items: [{ type: "function_call_output", call_id: "nope", output: "x" }] }), "items[0].call_id"],
      [() => client.conversations.items.create(c.id, { items: [] }), "items"],
      [() => client.conversations.items.create(c.id, { items: Array.from({ length: 21 }, () => ({ type: "message" as const, role: "user" as const, content: "x" })) }), "items"],
      [() => client.conversations.items.list(c.id, { limit: 0 }), "limit"],
    ];
    for (const [call, param] of cases) {
      const err = await call().catch((e) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, `${param}: ${err}`);
      assert.equal(err.param, param, err.message);
    }
    assert.deepEqual(await allItems(c.id), [], "nothing was added");
  });
});

describe("the memory store", () => {
  test("bounded by what its items weigh: the conversations made longest ago go first, never the one being written", async () => {
    const s = createMemoryConversationStore({ maxBytes: 5_000 });
    const item = (id: string) => ({ id, type: "message", role: "user", content: [{ type: "input_text", text: "x".repeat(900) }] });
    const owner = { team: "a", key: "k" };
    for (const id of ["conv_1", "conv_2", "conv_3"]) await s.create({ id, owner, createdAt: 0, metadata: {} }, [item(`${id}_a`)]);
    assert.ok(await s.get("conv_1"));
    // conv_3 grows past the bound: the oldest make room, conv_3 itself stays whole.
    await s.append("conv_3", [item("b"), item("c"), item("d"), item("e")]);
    assert.equal(await s.get("conv_1"), undefined);
    assert.equal((await s.items("conv_3")).length, 5);
    await s.append("conv_3", [item("b")]);
    assert.equal((await s.items("conv_3")).length, 5, "an item it has is not added again");
    assert.equal(await s.deleteItem("conv_3", "c"), true);
    assert.equal(await s.deleteItem("conv_3", "c"), false);
    assert.deepEqual((await s.items("conv_3")).map((i) => i.id), ["conv_3_a", "b", "d", "e"]);
  });
});
