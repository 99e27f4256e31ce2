// The gateway's own vector_stores MCP server run by the doors that run MCP tools for a model: the
// Messages API's MCP connector (`mcp_servers` with the gateway's /mcp/vector_stores URL, through the
// official Anthropic SDK) and the Responses API's `mcp` tool (server_label vector_stores), for a
// model behind a fake OpenAI upstream: the model calls search_files, the gateway searches the
// caller's stores in process and gives it the passages, and the answer cites the file. Another
// team's key does not see the store; a key whose allow list names only models may still search its
// own documents.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI, { toFile } from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sk", "test", "vsdoors", "0001"].join("-");
const OTHER = ["sk", "test", "vsdoors", "0002"].join("-");

type Json = Record<string, any>;

describe("vector_stores through the MCP-running doors", () => {
  let openai: FakeOpenAI;
  let g: TestGateway;
  let store: string;
  const sdk = (key = KEY) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });
  const chats = () => openai.requests.filter((r) => r.path.endsWith("/chat/completions")).map((r) => r.body as Json);

  before(async () => {
    openai = await startFakeOpenAI();
    g = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256 } }
deployments:
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: mock/words, provider: words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
keys:
  - { name: docs, hash: "${hashKey(KEY)}", team: docs, allow: [openai/gpt-4o-mini, mock/words] }
  - { name: other, hash: "${hashKey(OTHER)}", team: elsewhere }
vector_stores: { embedding: mock/words }
`);
    const vs = await sdk().vectorStores.create({ name: "handbook" });
    store = vs.id;
    const f = await sdk().files.create({ file: await toFile(Buffer.from("# Leave\nEmployees get 25 days of paid leave a year."), "leave.md"), purpose: "assistants" });
    assert.equal((await sdk().vectorStores.files.createAndPoll(store, { file_id: f.id }, { pollIntervalMs: 20 })).status, "completed");
  });
  after(async () => {
    await g.close();
    await openai.close();
  });

  test("the Messages API's MCP connector: search_files runs in process; the passage reaches the model; the answer cites it", async () => {
    openai.reset();
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_vs", name: "vector_stores__search_files", arguments: { vector_store_ids: [store], query: "how many days of paid leave" } }] },
      { kind: "text", text: "25 days a year [leave.md]." },
    ]);
    const client = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
    const m = (await client.beta.messages.create({
      model: "openai/gpt-4o-mini",
      max_tokens: 256,
      messages: [{ role: "user", content: "How much paid leave do I get?" }],
      mcp_servers: [{ type: "url", url: `${g.url}/mcp/vector_stores`, name: "vector_stores" }],
      betas: ["mcp-client-2025-04-04"],
    })) as unknown as Json;
    assert.deepEqual(m.content.map((b: Json) => b.type), ["mcp_tool_use", "mcp_tool_result", "text"]);
    assert.deepEqual([m.content[0].name, m.content[0].server_name], ["search_files", "vector_stores"]);
    assert.equal(m.content[1].is_error, false);
    assert.match(m.content[1].content[0].text, /leave\.md .*\n# Leave\nEmployees get 25 days of paid leave a year\./);
    assert.equal(m.content[2].text, "25 days a year [leave.md].");
    const [first, second] = chats();
    assert.deepEqual(first.tools.map((t: Json) => t.function.name).sort(), ["vector_stores__list_vector_stores", "vector_stores__search_files"]);
    assert.match(second.messages.at(-1).content, /Employees get 25 days of paid leave/);
    // The call is one of the key's tool calls; the query's embedding one of its embeddings requests.
    const recs = g.usage.recent();
    assert.ok(recs.some((r) => r.operation === "tool_call" && r.deployment === "vector_stores" && r.model === "search_files" && r.key === "docs" && r.status === "ok"));
    assert.ok(recs.some((r) => r.operation === "embeddings" && r.key === "docs" && r.tags.includes("vector_store")));
  });

  test("the Responses API's mcp tool: server_label vector_stores (and its /mcp URL)", async () => {
    openai.reset();
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_r", name: "vector_stores__search_files", arguments: { vector_store_ids: [store], query: "paid leave" } }] },
      { kind: "text", text: "You get 25 days." },
    ]);
    const r = (await sdk().responses.create({
      model: "openai/gpt-4o-mini",
      input: "How much paid leave?",
      tools: [{ type: "mcp", server_label: "vector_stores", server_url: `${g.url}/mcp/vector_stores`, require_approval: "never" }],
    })) as unknown as Json;
    const types = r.output.map((o: Json) => o.type);
    assert.ok(types.includes("mcp_call") && types.at(-1) === "message", types.join(","));
    const call = r.output.find((o: Json) => o.type === "mcp_call");
    assert.equal(call.server_label, "vector_stores");
    assert.match(call.output, /Employees get 25 days/);
  });

  test("another team's key: the tool answers, but finds no store it may see", async () => {
    openai.reset();
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_o", name: "vector_stores__search_files", arguments: { vector_store_ids: [store], query: "leave" } }] },
      { kind: "text", text: "I could not find it." },
    ]);
    const client = new Anthropic({ baseURL: g.url, apiKey: OTHER, maxRetries: 0 });
    const m = (await client.beta.messages.create({
      model: "openai/gpt-4o-mini",
      max_tokens: 256,
      messages: [{ role: "user", content: "How much paid leave?" }],
      mcp_servers: [{ type: "url", url: `${g.url}/mcp/vector_stores`, name: "vector_stores" }],
      betas: ["mcp-client-2025-04-04"],
    })) as unknown as Json;
    assert.equal(m.content[1].type, "mcp_tool_result");
    assert.equal(m.content[1].is_error, true);
    assert.match(m.content[1].content[0].text, /vector_store_ids\[0\]|no vector store/i);
    assert.doesNotMatch(JSON.stringify(chats()[1]), /Employees get 25 days/);
  });
});
