// The gateway's own MCP server (`vector_stores`): any MCP client searches the vector stores its
// gateway key may see, at /mcp (tools vector_stores__list_vector_stores and
// vector_stores__search_files, beside the configured servers') and at /mcp/vector_stores, with the
// official SDK's client; another team's store is not found; the query's embedding is the key's
// usage record; a configured server may not take the id.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import OpenAI, { toFile } from "openai";
import { buildConfig } from "../../src/config/load.ts";
import { parse } from "yaml";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (name: string) => ["sk", "test", name, "0123456789abcdef"].join("-");
const DOCS = key("docs");
const OTHER = key("other");

const CONFIG = `
providers:
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256 } }
deployments:
  - { id: words/embed, provider: words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
keys:
  - { name: docs, hash: "${hashKey(DOCS)}", team: docs, role: team }
  - { name: other, hash: "${hashKey(OTHER)}", team: other, role: team }
vector_stores: { embedding: words/embed }
`;

let gw: TestGateway;
let store: string;
let fileId: string;

before(async () => {
  gw = await startTestGateway(CONFIG);
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: DOCS, maxRetries: 0 });
  store = (await sdk.vectorStores.create({ name: "runbooks" })).id;
  const up = async (name: string, text: string) => (await sdk.files.create({ file: await toFile(Buffer.from(text), name), purpose: "assistants" })).id;
  fileId = await up("restart.md", "To restart the payment service, drain the queue first, then roll the pods one by one.");
  await sdk.vectorStores.files.createAndPoll(store, { file_id: fileId, attributes: { team: "payments" } }, { pollIntervalMs: 20 });
  await sdk.vectorStores.files.createAndPoll(store, { file_id: await up("lunch.md", "The canteen serves soup on Fridays.") }, { pollIntervalMs: 20 });
});
after(() => gw.close());

async function connect(apiKey: string, path = "/mcp"): Promise<Client> {
  const client = new Client({ name: "test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${apiKey}` } } }));
  return client;
}
const text = (r: unknown) => ((r as { content: { text: string }[] }).content ?? []).map((c) => c.text).join("");

test("at /mcp: the stores this key may see, and a search of them, passages best first with file names", async () => {
  const c = await connect(DOCS);
  try {
    const tools = (await c.listTools()).tools;
    assert.deepEqual(tools.map((t) => t.name).sort(), ["vector_stores__list_vector_stores", "vector_stores__search_files"]);
    assert.equal(tools.find((t) => t.name === "vector_stores__search_files")!.annotations?.readOnlyHint, true);
    const listed = await c.callTool({ name: "vector_stores__list_vector_stores", arguments: {} });
    assert.match(text(listed), new RegExp(`^${store}  runbooks  2 files$`));
    const found = await c.callTool({ name: "vector_stores__search_files", arguments: { vector_store_ids: [store], query: "how do I restart the payment service?", max_results: 1 } });
    assert.equal(found.isError, undefined);
    assert.match(text(found), new RegExp(`^\\[1\\] restart\\.md \\(${fileId}, score [0-9.]+\\)\\nTo restart the payment service`));
    const results = (found.structuredContent as { results: { filename: string; attributes: unknown }[] }).results;
    assert.deepEqual(results.map((r) => [r.filename, r.attributes]), [["restart.md", { team: "payments" }]]);
    // The query's embedding: a request of the caller's key, tagged vector_store.
    const rec = gw.usage.recent().filter((r) => r.tags.includes("vector_store") && r.key === "docs" && r.metadata["signalbox.vector_store_file_id"] === undefined);
    assert.ok(rec.length >= 1);
  } finally {
    await c.close();
  }
});

test("at /mcp/vector_stores: the same tools under their own names; another team's key sees none of the stores; bad arguments are protocol errors", async () => {
  const c = await connect(OTHER, "/mcp/vector_stores");
  try {
    assert.deepEqual((await c.listTools()).tools.map((t) => t.name).sort(), ["list_vector_stores", "search_files"]);
    assert.equal(text(await c.callTool({ name: "list_vector_stores", arguments: {} })), "No vector stores this key may search.");
    const hidden = await c.callTool({ name: "search_files", arguments: { vector_store_ids: [store], query: "restart" } });
    assert.equal(hidden.isError, true);
    assert.match(text(hidden), /no vector store/);
    await assert.rejects(c.callTool({ name: "search_files", arguments: { vector_store_ids: [], query: "x" } }), /vector_store_ids/);
    await assert.rejects(c.callTool({ name: "search_files", arguments: { vector_store_ids: [store], query: "x", max_results: 99 } }), /max_results/);
  } finally {
    await c.close();
  }
});

test("a configured MCP server may not take the id vector_stores", () => {
  assert.throws(() => buildConfig(parse(`${CONFIG}\nmcp_servers:\n  - { id: vector_stores, url: "http://127.0.0.1:1/mcp" }\n`), {}), /mcp_servers\[0\]\.id.*"vector_stores" is the gateway's own MCP server/);
});
