// Vector stores on PostgreSQL through real gateways: a store made on one replica is searched on
// another (its chunks read from the database, and read again when the store changes), everything is
// still there after both restart, and a file whose replica stopped mid-indexing is indexed by the
// other replica once its indexing went quiet, exactly once.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { createDatabase, postgresBinDir, startPostgres, type TestPostgres } from "../helpers/postgres.ts";

const available = postgresBinDir() !== undefined || !!process.env.CI;
let server: TestPostgres | undefined;
before(async () => {
  if (available) server = await startPostgres();
});
after(() => server?.destroy());

const config = (url: string, ttft = 0) => `
providers:
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256, ttft_ms: ${ttft} } }
deployments:
  - { id: mock/words, provider: words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
vector_stores: { embedding: mock/words }
store: { postgres_url: "${url}" }
`;

const sdkOf = (g: TestGateway) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "none", maxRetries: 0 });
const upload = async (sdk: OpenAI, name: string, text: string) => (await sdk.files.create({ file: await toFile(Buffer.from(text), name), purpose: "assistants" })).id;

test("two replicas share stores; a restart keeps them; a file left mid-indexing by a stopped replica is indexed by the other", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "vector_gateways");
  let a: TestGateway | undefined = await startTestGateway(config(url));
  let b: TestGateway | undefined = await startTestGateway(config(url), { vectorIndexing: { staleMs: 300, sweepMs: 100 } });
  try {
    const sa = sdkOf(a);
    const sb = sdkOf(b);
    const vs = await sa.vectorStores.create({ name: "shared", metadata: { owner: "docs" } });
    const cats = await upload(sa, "cats.txt", "Cats purr and sleep most of the day.");
    assert.equal((await sa.vectorStores.files.createAndPoll(vs.id, { file_id: cats }, { pollIntervalMs: 20 })).status, "completed");
    // Replica b reads the store and its chunks from the database.
    let hits = (await sb.vectorStores.search(vs.id, { query: "do cats sleep?" })).data;
    assert.deepEqual(hits.map((h) => h.filename), ["cats.txt"]);
    // A file added on b: a's next search sees it (the store's revision moved on).
    const dogs = await upload(sb, "dogs.txt", "Dogs bark at the mail carrier and fetch sticks.");
    assert.equal((await sb.vectorStores.files.createAndPoll(vs.id, { file_id: dogs }, { pollIntervalMs: 20 })).status, "completed");
    hits = (await sa.vectorStores.search(vs.id, { query: "which animal barks and fetches sticks?" })).data;
    assert.equal(hits[0].filename, "dogs.txt");
    assert.equal((await sa.vectorStores.retrieve(vs.id)).file_counts.completed, 2);

    // Both restart: everything is still there.
    await a.close();
    await b.close();
    a = await startTestGateway(config(url, 400));
    b = await startTestGateway(config(url), { vectorIndexing: { staleMs: 300, sweepMs: 100 } });
    const s2 = await sdkOf(b).vectorStores.retrieve(vs.id);
    assert.deepEqual([s2.name, s2.metadata, s2.file_counts.completed, s2.usage_bytes > 0], ["shared", { owner: "docs" }, 2, true]);
    assert.equal((await sdkOf(b).vectorStores.search(vs.id, { query: "purring cats" })).data[0].filename, "cats.txt");

    // a (slow to embed) takes a file and stops before it has embedded it: b takes the file up.
    const birds = await upload(sdkOf(a), "birds.txt", "Birds sing at dawn and build nests in spring.");
    const added = await sdkOf(a).vectorStores.files.create(vs.id, { file_id: birds });
    assert.equal(added.status, "in_progress");
    await new Promise((r) => setTimeout(r, 50));
    await a.close();
    a = undefined;
    let f = await sdkOf(b).vectorStores.files.retrieve(birds, { vector_store_id: vs.id });
    for (let i = 0; i < 200 && f.status === "in_progress"; i++) {
      await new Promise((r) => setTimeout(r, 25));
      f = await sdkOf(b).vectorStores.files.retrieve(birds, { vector_store_id: vs.id });
    }
    assert.equal(f.status, "completed", JSON.stringify(f.last_error));
    assert.equal((await sdkOf(b).vectorStores.search(vs.id, { query: "when do birds sing?" })).data[0].filename, "birds.txt");
    const indexed = b.usage.recent().filter((r) => r.metadata["signalbox.vector_store_file_id"] === birds && r.status === "ok");
    assert.equal(indexed.length, 1, "indexed once, by b");
    assert.equal((await sdkOf(b).vectorStores.retrieve(vs.id)).file_counts.completed, 3);
  } finally {
    await a?.close();
    await b?.close();
  }
});

test("PostgreSQL stopped while a file is being indexed: the replica indexes it again once the database is back, nothing lost", async (t) => {
  if (!server) return t.skip("PostgreSQL binaries not found (apt-get install -y postgresql)");
  const url = await createDatabase(server.url, "vector_restart");
  // The sweep's quiet time left at its 10 minutes: the replica that was indexing tries again itself.
  const g = await startTestGateway(config(url, 300));
  try {
    const sdk = sdkOf(g);
    const vs = await sdk.vectorStores.create({ name: "through a restart" });
    const id = await upload(sdk, "tides.txt", "The tide rises twice a day along the northern coast.");
    await sdk.vectorStores.files.create(vs.id, { file_id: id });
    // The database goes away while the chunks are being embedded (300 ms), and comes back. (Stopped,
    // not killed: the test instance runs with synchronous_commit off, so a crash would lose the
    // store's last commits, which a production database would not.)
    await new Promise((r) => setTimeout(r, 100));
    await server.stop();
    await new Promise((r) => setTimeout(r, 500));
    await server.start();
    let f: Awaited<ReturnType<typeof sdk.vectorStores.files.retrieve>> | undefined;
    for (let i = 0; i < 400; i++) {
      f = await sdk.vectorStores.files.retrieve(id, { vector_store_id: vs.id }).catch(() => undefined);
      if (f && f.status !== "in_progress") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(f?.status, "completed", JSON.stringify(f?.last_error));
    assert.equal((await sdk.vectorStores.search(vs.id, { query: "when does the tide rise?" })).data[0].file_id, id);
    assert.equal((await sdk.vectorStores.retrieve(vs.id)).file_counts.completed, 1);
  } finally {
    await g.close();
  }
});
