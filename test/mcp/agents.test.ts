// The OpenAI Agents SDK (`@openai/agents`) using the gateway twice over, over real sockets: as its
// model provider (/v1, a fake OpenAI upstream behind it) and as its MCP server (the SDK's
// MCPServerStreamableHttp at /mcp and at /mcp/{server}, a real MCP server behind the gateway). The
// agent's model asks for the MCP tool, the SDK calls it through the gateway, the tool's answer goes
// back to the model, and the gateway records both model calls and the tool call under the caller's
// key and team. The SDK's own tracing export (to OpenAI) is off.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { Agent, MCPServerStreamableHttp, OpenAIResponsesModel, run, setTracingDisabled } from "@openai/agents";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { chatTurns } from "../helpers/chat-turns.ts";
import { startFakeMcp, type FakeMcp } from "../helpers/fake-mcp.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";

setTracingDisabled(true);

// Key-shaped strings made at run time.
const AGENT_KEY = ["sk", "test", "agent", "0123456789abcdef"].join("-");
const MATH_TOKEN = ["mcp", "secret", "7c1e9b03d4"].join("-");

let openai: FakeOpenAI;
let math: FakeMcp;
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  openai = await startFakeOpenAI();
  math = await startFakeMcp("math");
  gw = await startTestGateway(
    `
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: agent-model, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
keys:
  - { name: agent, hash: "${hashKey(AGENT_KEY)}", team: research, role: team }
mcp_servers:
  - id: math
    url: ${math.url}
    headers: { Authorization: "Bearer \${MATH_TOKEN}" }
    tools: [add, echo]
    price_per_call_usd: 0.002
`,
    { env: { MATH_TOKEN } },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: AGENT_KEY, maxRetries: 0 });
});

after(async () => {
  await gw?.close();
  await math?.close();
  await openai?.close();
});

beforeEach(() => {
  openai.reset();
  math.calls.length = 0;
});

const mcpServer = (path: string) =>
  new MCPServerStreamableHttp({
    url: `${gw.url}${path}`,
    name: `signalbox${path}`,
    requestInit: { headers: { authorization: `Bearer ${AGENT_KEY}` } },
  });

const mathAgent = (server: MCPServerStreamableHttp) =>
  new Agent({
    name: "Calculator",
    instructions: "Use the tools to compute.",
    model: new OpenAIResponsesModel(client, "agent-model"),
    mcpServers: [server],
  });

/** The upstream's script: first ask for the tool, then answer with what it said. */
function scriptToolLoop(toolName: string, callId: string, answer: string | string[]) {
  openai.script([
    { kind: "tool_calls", calls: [{ id: callId, name: toolName, arguments: { a: 2, b: 3 } }] },
    { kind: "text", text: answer },
  ]);
}

/** What the gateway recorded since `from`: one tool call and (at least) the two model calls, once written. */
async function recordsSince(from: number) {
  return waitFor(() => {
    const recs = gw.usage.recent().slice(from);
    const tools = recs.filter((r) => r.operation === "tool_call");
    const chats = recs.filter((r) => (r.operation ?? "chat") === "chat");
    return tools.length >= 1 && chats.length >= 2 ? { tools, chats } : undefined;
  });
}

function assertUpstreamSawTool(toolName: string, callId: string) {
  assert.equal(openai.requests.length, 2, "two model calls reached the upstream");
  // The first request offered the gateway's MCP tool (under the name the gateway gave it).
  const offered = (openai.requests[0].body as { tools?: { function: { name: string } }[] }).tools?.map((t) => t.function.name) ?? [];
  assert.ok(offered.includes(toolName), `the model was offered ${toolName}: ${offered}`);
  // The second request carries the call and the tool's output, exactly as the MCP server gave it.
  assert.deepEqual(chatTurns(openai.requests[1].body as never), [
    "system: Use the tools to compute.",
    "user: What is 2 + 3?",
    `assistant: [calls ${callId} ${toolName}]`,
    `tool(${callId}): 5`,
  ]);
}

function assertRecords(recs: Awaited<ReturnType<typeof recordsSince>>, opts: { streamed: boolean }) {
  assert.equal(recs.tools.length, 1, "one tool_call record");
  const t = recs.tools[0];
  assert.equal(t.key, "agent");
  assert.equal(t.team, "research");
  assert.equal(t.model, "add");
  assert.equal(t.deployment, "math");
  assert.equal(t.provider, "mcp");
  assert.equal(t.status, "ok");
  assert.equal(t.cost.total, 2_000_000);
  assert.equal(recs.chats.length, 2, "two chat records");
  for (const c of recs.chats) {
    assert.equal(c.key, "agent");
    assert.equal(c.team, "research");
    assert.equal(c.deployment, "openai/gpt-4o");
    assert.equal(c.status, "ok");
    assert.equal(c.streamed, opts.streamed);
  }
  assert.ok(!JSON.stringify(gw.usage.recent()).includes(AGENT_KEY), "the caller's key is never recorded");
}

test("an agent's model goes through /v1 and its tools through /mcp: the SDK calls math__add via the gateway", async () => {
  scriptToolLoop("math__add", "call_add1", "2 + 3 = 5.");
  const from = gw.usage.recent().length;
  const server = mcpServer("/mcp");
  await server.connect();
  try {
    const tools = (await server.listTools()).map((t) => t.name).sort();
    assert.deepEqual(tools, ["math__add", "math__echo"]);
    const result = await run(mathAgent(server), "What is 2 + 3?");
    assert.match(String(result.finalOutput), /5/);
  } finally {
    await server.close();
  }
  assertUpstreamSawTool("math__add", "call_add1");
  assert.deepEqual(math.calls, [{ name: "add", arguments: { a: 2, b: 3 } }]);
  assert.ok(math.authorizations.every((a) => a === `Bearer ${MATH_TOKEN}`), "the MCP server got the gateway's credential, never the caller's key");
  assertRecords(await recordsSince(from), { streamed: false });
});

test("a streamed run with /mcp/math: the tool is offered as plain `add`", async () => {
  scriptToolLoop("add", "call_add2", ["The sum ", "is 5."]);
  const from = gw.usage.recent().length;
  const server = mcpServer("/mcp/math");
  await server.connect();
  let text = "";
  try {
    assert.deepEqual((await server.listTools()).map((t) => t.name).sort(), ["add", "echo"]);
    const streamed = await run(mathAgent(server), "What is 2 + 3?", { stream: true });
    for await (const chunk of streamed.toTextStream()) text += chunk;
    await streamed.completed;
    assert.equal(streamed.error ?? null, null);
    assert.match(String(streamed.finalOutput), /5/);
  } finally {
    await server.close();
  }
  assert.equal(text, "The sum is 5.");
  assertUpstreamSawTool("add", "call_add2");
  assert.deepEqual(math.calls, [{ name: "add", arguments: { a: 2, b: 3 } }]);
  assertRecords(await recordsSince(from), { streamed: true });
});
