// The OpenAI Agents SDK (`@openai/agents`) pointed at the gateway, over a real socket, with a fake
// OpenAI upstream behind it: an agent's tool loop (unary and streamed), a run continued by
// previousResponseId (stored responses), and a session kept in the Conversations API
// (OpenAIConversationsSession: conversations.create, items.list, items.create, items.delete,
// conversations.delete). The SDK's own tracing export (to OpenAI) is off.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { Agent, OpenAIConversationsSession, OpenAIResponsesModel, run, setTracingDisabled, tool } from "@openai/agents";
import OpenAI from "openai";
import { z } from "zod";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { chatTurns } from "../helpers/chat-turns.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

setTracingDisabled(true);

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
  - { name: agent-model, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
`);
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "none", maxRetries: 0 });
});
after(async () => {
  await t.close();
  await openai.close();
});
beforeEach(() => openai.reset());

const sent = (i: number) => chatTurns(openai.requests[i].body);

const weatherAgent = () =>
  new Agent({
    name: "Weather",
    instructions: "Answer briefly.",
    model: new OpenAIResponsesModel(client, "agent-model"),
    tools: [
      tool({
        name: "get_weather",
        description: "The weather in a city",
        parameters: z.object({ city: z.string() }),
        execute: async ({ city }) => `sunny in ${city}`,
      }),
    ],
  });

test("a tool loop: the agent calls its tool through the gateway and answers with the result", async () => {
  openai.script([
    { kind: "tool_calls", calls: [{ id: "call_a1", name: "get_weather", arguments: { city: "Paris" } }] },
    { kind: "text", text: "It is sunny in Paris." },
  ]);
  const result = await run(weatherAgent(), "Weather in Paris?");
  assert.equal(result.finalOutput, "It is sunny in Paris.");
  assert.deepEqual(sent(1), ["system: Answer briefly.", "user: Weather in Paris?", "assistant: [calls call_a1 get_weather]", "tool(call_a1): sunny in Paris"]);
  assert.equal(openai.requests[1].body.tools[0].function.name, "get_weather");
});

test("streamed, then continued by previousResponseId: the next run sends only its new input", async () => {
  openai.script([
    { kind: "tool_calls", calls: [{ id: "call_b1", name: "get_weather", arguments: { city: "Oslo" } }] },
    { kind: "text", text: ["Snow ", "in Oslo."] },
    { kind: "text", text: "Bring boots." },
  ]);
  const agent = weatherAgent();
  const streamed = await run(agent, "Weather in Oslo?", { stream: true });
  let text = "";
  for await (const chunk of streamed.toTextStream()) text += chunk;
  await streamed.completed;
  assert.equal(text, "Snow in Oslo.");
  assert.ok(streamed.lastResponseId?.startsWith("resp_"), String(streamed.lastResponseId));

  const next = await run(agent, "What should I wear?", { previousResponseId: streamed.lastResponseId });
  assert.equal(next.finalOutput, "Bring boots.");
  const body = openai.requests[2].body;
  assert.deepEqual(chatTurns(body), [
    "system: Answer briefly.",
    "user: Weather in Oslo?",
    "assistant: [calls call_b1 get_weather]",
    "tool(call_b1): sunny in Oslo",
    "assistant: Snow in Oslo.",
    "user: What should I wear?",
  ]);
});

test("a session in the Conversations API: each run reads the conversation and adds its turn; items popped and cleared", async () => {
  openai.script([
    { kind: "text", text: "Hello, Ann." },
    { kind: "text", text: "Your name is Ann." },
  ]);
  const session = new OpenAIConversationsSession({ client });
  const agent = weatherAgent();
  await run(agent, "Hi, I am Ann.", { session });
  const second = await run(agent, "What is my name?", { session });
  assert.equal(second.finalOutput, "Your name is Ann.");
  assert.deepEqual(sent(1), ["system: Answer briefly.", "user: Hi, I am Ann.", "assistant: Hello, Ann.", "user: What is my name?"]);
  const id = await session.getSessionId();
  assert.match(id, /^conv_/);
  const items = await session.getItems();
  assert.deepEqual(
    items.map((i) => (i as { role?: string }).role),
    ["user", "assistant", "user", "assistant"],
  );
  // The conversation is the gateway's: the same items through the Conversations API.
  const listed = await client.conversations.items.list(id, { order: "asc" });
  assert.equal(listed.data.length, 4);
  const popped = await session.popItem();
  assert.equal((popped as { role?: string }).role, "assistant");
  assert.equal((await session.getItems()).length, 3);
  await session.clearSession();
  assert.ok((await client.conversations.retrieve(id).catch((e) => e)) instanceof OpenAI.NotFoundError);
});
