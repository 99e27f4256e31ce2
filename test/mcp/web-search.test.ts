// The gateway's own web_search MCP server (with web_search.model configured): the official MCP
// client at /mcp and /mcp/web_search lists its `search` tool and calls it with the caller's key;
// the search runs through the route's engines (a fake Perplexity, a fake Exa behind it), as the
// caller's own search request (its record, tagged mcp; its budget); a bad argument is a protocol
// error at /mcp. The Responses API's mcp tool (server_label web_search) runs it for a model behind a
// fake OpenAI upstream, and the model reads the pages. Without web_search.model there is no such
// server.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { EXA_TEST_KEY, startFakeExa, type FakeExa } from "../fakes/exa.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { PERPLEXITY_TEST_KEY, startFakePerplexity, type FakePerplexity } from "../fakes/perplexity.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sk", "test", "mcpweb", "0001"].join("-");
const POOR = ["sk", "test", "mcpweb", "0002"].join("-");

type Json = Record<string, any>;

let pplx: FakePerplexity;
let exa: FakeExa;
let openai: FakeOpenAI;
let g: TestGateway;

before(async () => {
  [pplx, exa, openai] = await Promise.all([startFakePerplexity(), startFakeExa(), startFakeOpenAI()]);
  g = await startTestGateway(`
providers:
  - { name: perplexity, type: perplexity, base_url: "${pplx.url}", api_key: ${PERPLEXITY_TEST_KEY} }
  - { name: exa, type: exa, base_url: "${exa.url}", api_key: ${EXA_TEST_KEY} }
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: perplexity/search, provider: perplexity, model: search }
  - { id: exa/auto, provider: exa, model: auto }
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
routes:
  - { name: search, targets: [perplexity/search], fallbacks: [exa/auto], retry: { max_retries: 0 } }
web_search: { model: search, max_results: 3, max_characters: 300 }
keys:
  - { name: agent, hash: "${hashKey(KEY)}", team: a, allow: [openai/gpt-4o-mini] }
  - { name: poor, hash: "${hashKey(POOR)}", team: b, budget: { period: day, limit_usd: 0.016 } }
`);
});
beforeEach(() => {
  pplx.reset();
  exa.reset();
  openai.reset();
});
after(async () => {
  await g.close();
  await Promise.all([pplx.close(), exa.close(), openai.close()]);
});

async function connect(path: string, key = KEY): Promise<Client> {
  const client = new Client({ name: "test", version: "1" }, { versionNegotiation: { mode: "auto" } } as never);
  await client.connect(new StreamableHTTPClientTransport(new URL(`${g.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}
const text = (r: Json) => (r.content as { type: string; text: string }[]).map((c) => c.text).join("");

describe("the web_search MCP server", () => {
  test("at /mcp: its search tool, called with the caller's key: the route's engine searches, the caller's record says so", async () => {
    const c = await connect("/mcp");
    try {
      const tools = (await c.listTools()).tools;
      const tool = tools.find((t) => t.name === "web_search__search")!;
      assert.ok(tool, tools.map((t) => t.name).join(", "));
      assert.deepEqual((tool.inputSchema as Json).required, ["query"]);
      assert.equal(tool.annotations?.readOnlyHint, true);
      const r = (await c.callTool({ name: "web_search__search", arguments: { query: "mcp streamable http", max_results: 2 } })) as Json;
      assert.notEqual(r.isError, true, JSON.stringify(r));
      assert.match(text(r), /^\[1\] .*mcp streamable http.*\nhttps:\/\/mcp-streamable-http-1\.example\.com\/page\nPublished 2026-01-15\n/);
      assert.equal(r.structuredContent.results.length, 2);
      assert.equal(r.structuredContent.deployment, "perplexity/search");
      assert.equal(r.structuredContent.cost_usd, 0.005);
      assert.deepEqual(pplx.requests[0].body, { query: "mcp streamable http", max_results: 2, max_tokens_per_page: 75 });
      const rec = g.usage.recent().at(-1)!;
      assert.equal(rec.operation, "search");
      assert.equal(rec.key, "agent", "the caller's own request, though its allow list names only a chat model");
      assert.ok(rec.tags.includes("mcp"));
      assert.equal(rec.cost.total, 5_000_000);
    } finally {
      await c.close();
    }
  });

  test("at /mcp/web_search: the tool under its own name; a failing engine falls back; a bad argument is a protocol error", async () => {
    const c = await connect("/mcp/web_search");
    try {
      assert.deepEqual((await c.listTools()).tools.map((t) => t.name), ["search"]);
      pplx.script({ kind: "error", status: 503 });
      const r = (await c.callTool({ name: "search", arguments: { query: "fallback", allowed_domains: ["docs.example.org"] } })) as Json;
      assert.equal(r.structuredContent.deployment, "exa/auto");
      assert.deepEqual(exa.requests[0].body.includeDomains, ["docs.example.org"]);
      await assert.rejects(c.callTool({ name: "search", arguments: { query: "x", max_results: 99 } }), /max_results: an integer from 1 to 20/);
      await assert.rejects(c.callTool({ name: "search", arguments: {} }), /query: a non-empty string/);
      await assert.rejects(c.callTool({ name: "nope", arguments: {} }), /Unknown tool: nope/);
    } finally {
      await c.close();
    }
  });

  test("the caller's budget holds: past it, the tool answers with an error the model reads, and no engine is called", async () => {
    const c = await connect("/mcp/web_search", POOR);
    try {
      // Each search holds Exa's $0.010 (the route's costliest engine), against $0.016, and spends Perplexity's $0.005.
      for (const q of ["one", "two"]) assert.notEqual(((await c.callTool({ name: "search", arguments: { query: q } })) as Json).isError, true);
      const calls = pplx.requests.length;
      const r = (await c.callTool({ name: "search", arguments: { query: "three" } })) as Json;
      assert.equal(r.isError, true);
      assert.match(text(r), /budget/);
      assert.equal(pplx.requests.length, calls);
    } finally {
      await c.close();
    }
  });

  test("the Responses API's mcp tool runs it for a model: the pages reach the model", async () => {
    openai.script([
      { kind: "tool_calls", calls: [{ id: "call_ws", name: "web_search__search", arguments: { query: "node 24 release" } }] },
      { kind: "text", text: "Node 24 is out [1]." },
    ]);
    const sdk = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const r = (await sdk.responses.create({ model: "openai/gpt-4o-mini", input: "What is new in Node 24?", tools: [{ type: "mcp", server_label: "web_search", require_approval: "never" }] })) as unknown as Json;
    const call = r.output.find((o: Json) => o.type === "mcp_call");
    assert.equal(call.server_label, "web_search");
    assert.equal(call.name, "search");
    assert.match(call.output, /https:\/\/node-24-release-1\.example\.com\/page/);
    const chats = openai.requests.filter((x) => x.path.endsWith("/chat/completions")).map((x) => x.body as Json);
    assert.match(JSON.stringify(chats[1].messages.at(-1)), /node-24-release-1\.example\.com/);
    assert.equal(r.output_text, "Node 24 is out [1].");
  });
});

test("without web_search.model there is no web_search server", async () => {
  const plain = await startTestGateway(MOCK_CONFIG);
  try {
    const res = await fetch(`${plain.url}/mcp/web_search`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    assert.equal(res.status, 404);
  } finally {
    await plain.close();
  }
});
