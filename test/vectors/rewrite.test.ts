// rewrite_query on a vector store search: with vector_stores.rewrite, the question is rewritten by
// that chat model (a request of the caller's key) and the search made with the rewriting, which
// the page's search_query shows; without rewrite_query the question is searched as asked; a
// rewrite model that cannot chat is refused at load.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const CONFIG = `
providers:
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256 } }
  - { name: rewriter, type: mock, mock: { reply: "\\"paid leave days\\"\\n" } }
deployments:
  - { id: mock/words, provider: words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: mock/rewriter, provider: rewriter, model: rewriter-1, pricing: { input: 1, output: 2 } }
vector_stores: { embedding: mock/words, rewrite: mock/rewriter }
`;

let gw: TestGateway;
let sdk: OpenAI;
let store: string;

before(async () => {
  gw = await startTestGateway(CONFIG);
  sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "none", maxRetries: 0 });
  store = (await sdk.vectorStores.create({ name: "hr" })).id;
  for (const [name, text] of [["leave.md", "Employees get 25 paid leave days a year."], ["parking.md", "Hey, the car park opens at seven; I was wondering if you knew."]]) {
    const f = await sdk.files.create({ file: await toFile(Buffer.from(text), name), purpose: "assistants" });
    await sdk.vectorStores.files.createAndPoll(store, { file_id: f.id }, { pollIntervalMs: 20 });
  }
});
after(() => gw.close());

test("rewrite_query: the question rewritten by vector_stores.rewrite, searched as rewritten, shown in search_query; billed as the caller's request", async () => {
  const question = "Hey, I was wondering if you knew how much time off I can take?";
  const plain = (await (await sdk.vectorStores.search(store, { query: question }).asResponse()).json()) as { search_query: string[]; data: { filename: string }[] };
  assert.deepEqual(plain.search_query, [question]);
  // As asked, the chatty question's words match the chatty file best.
  assert.equal(plain.data[0].filename, "parking.md");
  const page = (await (await sdk.vectorStores.search(store, { query: question, rewrite_query: true }).asResponse()).json()) as { search_query: string[]; data: { filename: string }[] };
  assert.deepEqual(page.search_query, ["paid leave days"], "the model's line, its quotes trimmed");
  assert.equal(page.data[0].filename, "leave.md");
  const rec = gw.usage.recent().filter((r) => r.metadata["signalbox.vector_store_rewrite"] === "1");
  assert.equal(rec.length, 1);
  assert.equal(rec[0].deployment, "mock/rewriter");
  assert.ok(rec[0].tags.includes("vector_store"));
});

test("a rewrite model that does not chat is refused at load, naming vector_stores.rewrite", () => {
  assert.throws(() => buildConfig(parse(CONFIG.replace("rewrite: mock/rewriter", "rewrite: mock/words")), {}), /vector_stores\.rewrite.*does not serve chat/);
});
