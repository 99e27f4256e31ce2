// The Vector Stores API end to end, through the official OpenAI SDK against real gateway sockets:
// stores made with file ids, files and file batches (createAndPoll, uploadAndPoll), retrieved,
// updated, listed page by page and deleted; files listed, read back as their chunks, given
// attributes and removed; searches ranking the relevant document first, filtered by attributes,
// cut by a threshold, semantic only with ranker "none", reranked by the configured rerank model;
// static chunking with overlapping neighbours, a PDF indexed, files that cannot be read failing
// with their reason; each indexing and search billed as an embeddings request of the caller's key
// tagged `vector_store`; errors naming their field and leaving nothing behind; keys seeing only
// what they may; the `vector_stores` configuration checked when it is loaded; expiry.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI, { APIError, toFile } from "openai";
import { parse } from "yaml";
import { zipSync } from "fflate";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { mockRerank, wordsEmbedding } from "../../src/providers/mock/mock-provider.ts";
import { encodeO200k } from "../../src/providers/tokens.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { KEYWORD_WEIGHT } from "../../src/vectors/search.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { makePdf } from "../helpers/pdf.ts";

const k = (...p: string[]) => ["sbx", "test", "vs", ...p].join("_");
const KEYS = { admin: k("admin"), teamA: k("team", "a"), svcA: k("svc", "a"), svcB: k("svc", "b"), teamB: k("team", "b"), pager: k("pager") };

const PROVIDERS = `
providers:
  - { name: mock, type: mock }
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256 } }
  - { name: slow-words, type: mock, mock: { embedding: words, dimensions: 256, ttft_ms: 250 } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: words/embed, provider: words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: slow/embed, provider: slow-words, model: words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: mock/rerank, provider: mock, model: mock-rerank-1, operations: [rerank], pricing: { input: 0, output: 0, per_request: 0.002 } }
routes:
  - { name: chat, targets: [mock/chat] }
`;

/** The main gateway: keys of two teams, the words embedding model, no rerank. */
let a: TestGateway;
/** With a rerank model, and at most 2 files a store (no keys). */
let b: TestGateway;
/** A slow embedding model indexing one file at a time (file batches to cancel). */
let c: TestGateway;
/** No vector_stores at all. */
let d: TestGateway;

const client = (t: TestGateway, key = "none") => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
const sdk = (key: string) => client(a, key);
const POLL = { pollIntervalMs: 10 };

before(async () => {
  [a, b, c, d] = await Promise.all([
    startTestGateway(`${PROVIDERS}
vector_stores: { embedding: words/embed }
keys:
  - { name: admin, hash: "${hashKey(KEYS.admin)}", team: ops, role: admin }
  - { name: team-a, hash: "${hashKey(KEYS.teamA)}", team: a, role: team }
  - { name: svc-a, hash: "${hashKey(KEYS.svcA)}", team: a, role: service }
  - { name: svc-b, hash: "${hashKey(KEYS.svcB)}", team: b, role: service }
  - { name: team-b, hash: "${hashKey(KEYS.teamB)}", team: b, role: team }
  - { name: pager, hash: "${hashKey(KEYS.pager)}", team: paging, role: service }
`),
    startTestGateway(`${PROVIDERS}\nvector_stores: { embedding: words/embed, rerank: mock/rerank, max_files: 2 }\n`),
    startTestGateway(`${PROVIDERS}\nvector_stores: { embedding: slow/embed, indexing_concurrency: 1 }\n`),
    startTestGateway(PROVIDERS),
  ]);
});
after(async () => {
  await Promise.all([a, b, c, d].map((t) => t?.close()));
});

const DOCS = {
  cooking: "Bake the sourdough bread at high heat. Knead the dough, let the yeast rise, and bake the loaf in a hot oven until the crust is golden brown.",
  astronomy: "The telescope observed distant galaxies and nebulae. Astronomers measure the redshift of stars and the planets orbiting far suns.",
  gardening: "Water the tomato plants in the garden every morning. Prune the roses, compost the soil and sow seeds in spring.",
  finance: "The central bank raised interest rates again. Bonds, stocks and the mortgage market reacted as inflation slowed.",
};
const ATTRS = {
  cooking: { topic: "food", year: 2021, public: true },
  astronomy: { topic: "science", year: 2023, public: false },
  gardening: { topic: "home", year: 2022 },
  finance: { topic: "money", year: 2024, public: true },
};

const upload = async (cl: OpenAI, text: string | Buffer, name: string, purpose: "assistants" | "user_data" | "batch" = "assistants") =>
  cl.files.create({ file: await toFile(typeof text === "string" ? Buffer.from(text) : text, name), purpose });

/** The call fails with this HTTP status, naming `field` (as `param`, or first in its message). */
async function fails(p: Promise<unknown>, status: number, field?: string | RegExp): Promise<APIError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof APIError, `an API error, got ${String(err)}`);
    assert.equal(err.status, status, `status ${status}, got ${err.status}: ${err.message}`);
    if (typeof field === "string") assert.ok(err.param === field || err.message.includes(`${field}:`), `names ${field}: param ${String(err.param)}, message ${err.message}`);
    else if (field) assert.match(err.message, field);
    return err;
  }
  assert.fail(`expected a ${status} error`);
}

const records = async (t: TestGateway, f: (r: UsageRecord) => boolean) => {
  await t.gw.core.usage.flush();
  return t.usage.recent().filter(f);
};

/** Every store this key sees (all pages). */
async function allStores(cl: OpenAI) {
  const out: string[] = [];
  for await (const s of cl.vectorStores.list({ limit: 100 })) out.push(s.id);
  return out;
}

/** A store of the four documents (one file each, with their attributes), indexed. */
let topics: { id: string; files: Record<keyof typeof DOCS, string> };

describe("stores, files and file batches", () => {
  test("create with file_ids: indexed in the background; counts, status, bytes; retrieve", async () => {
    const cl = sdk(KEYS.teamA);
    const f1 = await upload(cl, DOCS.cooking, "cooking.txt");
    const f2 = await upload(cl, DOCS.astronomy, "astronomy.md", "user_data");
    const vs = await cl.vectorStores.create({ name: "two docs", file_ids: [f1.id, f2.id], metadata: { owner: "docs-team" } });
    assert.match(vs.id, /^vs_/);
    assert.equal(vs.object, "vector_store");
    assert.equal(vs.name, "two docs");
    assert.deepEqual(vs.metadata, { owner: "docs-team" });
    assert.equal(vs.file_counts.total, 2);
    assert.equal(vs.expires_after ?? null, null);
    assert.equal(vs.expires_at, null);
    await a.gw.vectors.idle();
    const got = await cl.vectorStores.retrieve(vs.id);
    assert.equal(got.status, "completed");
    assert.deepEqual(got.file_counts, { in_progress: 0, completed: 2, failed: 0, cancelled: 0, total: 2 });
    assert.equal(got.usage_bytes, Buffer.byteLength(DOCS.cooking) + Buffer.byteLength(DOCS.astronomy), "usage_bytes: the chunks' text");
    assert.equal((got as any).signalbox.embedding_deployment, "words/embed");
    const files = await cl.vectorStores.files.list(vs.id);
    assert.deepEqual(files.data.map((f) => f.id).sort(), [f1.id, f2.id].sort());
    for (const f of files.data) {
      assert.equal(f.object, "vector_store.file");
      assert.equal(f.status, "completed");
      assert.equal(f.vector_store_id, vs.id);
      assert.equal(f.last_error, null);
      assert.deepEqual(f.chunking_strategy, { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } });
    }
    assert.equal(files.data.find((f) => f.id === f1.id)!.usage_bytes, Buffer.byteLength(DOCS.cooking));
  });

  test("files.createAndPoll and uploadAndPoll; file batches createAndPoll and uploadAndPoll", async () => {
    const cl = sdk(KEYS.teamA);
    const vs = await cl.vectorStores.create({ name: "polled" });
    assert.equal(vs.status, "completed");
    assert.equal(vs.file_counts.total, 0);
    assert.equal(vs.usage_bytes, 0);

    const up = await upload(cl, DOCS.gardening, "garden.txt");
    const f = await cl.vectorStores.files.createAndPoll(vs.id, { file_id: up.id, attributes: { room: "garden", n: 3 } }, POLL);
    assert.equal(f.status, "completed");
    assert.deepEqual(f.attributes, { room: "garden", n: 3 });
    assert.equal(f.usage_bytes, Buffer.byteLength(DOCS.gardening));

    const f2 = await cl.vectorStores.files.uploadAndPoll(vs.id, await toFile(Buffer.from(DOCS.finance), "finance.txt"), POLL);
    assert.equal(f2.status, "completed");
    const uploaded = await cl.files.retrieve(f2.id);
    assert.equal(uploaded.purpose, "assistants");
    assert.equal(uploaded.filename, "finance.txt");

    const u3 = await upload(cl, DOCS.cooking, "c.txt");
    const u4 = await upload(cl, DOCS.astronomy, "a.txt");
    const batch = await cl.vectorStores.fileBatches.createAndPoll(vs.id, { file_ids: [u3.id, u4.id], attributes: { batch: "one" } }, POLL);
    assert.match(batch.id, /^vsfb_/);
    assert.equal(batch.object, "vector_store.files_batch");
    assert.equal(batch.status, "completed");
    assert.equal(batch.vector_store_id, vs.id);
    assert.deepEqual(batch.file_counts, { in_progress: 0, completed: 2, failed: 0, cancelled: 0, total: 2 });
    assert.deepEqual((await cl.vectorStores.files.retrieve(u4.id, { vector_store_id: vs.id })).attributes, { batch: "one" });

    const b2 = await cl.vectorStores.fileBatches.uploadAndPoll(vs.id, { files: [await toFile(Buffer.from("Sailing boats on the harbour at dawn."), "sail.txt"), await toFile(Buffer.from("\u0000\u0001binary"), "blob.bin")] }, POLL);
    assert.equal(b2.status, "completed", "one file indexed, one failed: completed");
    assert.deepEqual(b2.file_counts, { in_progress: 0, completed: 1, failed: 1, cancelled: 0, total: 2 });
    const again = await cl.vectorStores.fileBatches.retrieve(b2.id, { vector_store_id: vs.id });
    assert.deepEqual(again.file_counts, b2.file_counts);
    const listed = await cl.vectorStores.fileBatches.listFiles(b2.id, { vector_store_id: vs.id });
    assert.equal(listed.data.length, 2);
    const failedOnly = await cl.vectorStores.fileBatches.listFiles(b2.id, { vector_store_id: vs.id, filter: "failed" });
    assert.equal(failedOnly.data.length, 1);
    assert.equal(failedOnly.data[0].last_error?.code, "unsupported_file");

    const whole = await cl.vectorStores.retrieve(vs.id);
    assert.deepEqual(whole.file_counts, { in_progress: 0, completed: 5, failed: 1, cancelled: 0, total: 6 });
    // A batch of another store is not found there.
    const other = await cl.vectorStores.create({ name: "other" });
    await fails(cl.vectorStores.fileBatches.retrieve(b2.id, { vector_store_id: other.id }), 404, "batch_id");
  });

  test("update: name, metadata, expires_after and back to none", async () => {
    const cl = sdk(KEYS.teamA);
    const vs = await cl.vectorStores.create({ name: "before", metadata: { a: "1" } });
    const u1 = await cl.vectorStores.update(vs.id, { name: "after", metadata: { b: "2" } });
    assert.equal(u1.name, "after");
    assert.deepEqual(u1.metadata, { b: "2" });
    const u2 = await cl.vectorStores.update(vs.id, { expires_after: { anchor: "last_active_at", days: 3 } });
    assert.equal(u2.name, "after", "a field not given is kept");
    assert.deepEqual(u2.metadata, { b: "2" });
    assert.deepEqual(u2.expires_after, { anchor: "last_active_at", days: 3 });
    assert.equal(u2.expires_at, u2.last_active_at! + 3 * 86_400);
    const u3 = await cl.vectorStores.update(vs.id, { expires_after: null });
    assert.equal(u3.expires_after ?? null, null);
    assert.equal(u3.expires_at, null);
    const got = await cl.vectorStores.retrieve(vs.id);
    assert.equal(got.name, "after");
    assert.equal(got.expires_at, null);
    assert.equal(got.expires_after ?? null, null);
    const u4 = await cl.vectorStores.update(vs.id, { metadata: null });
    assert.equal(u4.metadata, null);
  });

  test("list: limit, order, after and before; delete", async () => {
    const cl = sdk(KEYS.pager);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await cl.vectorStores.create({ name: `page ${i}` })).id);
    const desc = await cl.vectorStores.list({ limit: 100 });
    assert.equal(desc.data.length, 5, "a service key sees its own stores only");
    assert.deepEqual(new Set(desc.data.map((s) => s.id)), new Set(made));
    const asc = await cl.vectorStores.list({ limit: 100, order: "asc" });
    assert.deepEqual(asc.data.map((s) => s.id), desc.data.map((s) => s.id).reverse());

    const p1 = await cl.vectorStores.list({ limit: 2, order: "asc" });
    assert.equal(p1.data.length, 2);
    assert.equal(p1.has_more, true);
    const p2 = await cl.vectorStores.list({ limit: 2, order: "asc", after: p1.data[1].id });
    assert.deepEqual(p2.data.map((s) => s.id), asc.data.slice(2, 4).map((s) => s.id));
    assert.equal(p2.has_more, true);
    const p3 = await cl.vectorStores.list({ limit: 2, order: "asc", after: p2.data[1].id });
    assert.deepEqual(p3.data.map((s) => s.id), [asc.data[4].id]);
    assert.equal(p3.has_more, false);
    const back = await cl.vectorStores.list({ limit: 2, order: "asc", before: asc.data[4].id });
    assert.deepEqual(back.data.map((s) => s.id), asc.data.slice(2, 4).map((s) => s.id));
    assert.equal(back.has_more, true);
    // The SDK's auto-paging walks every page by `after`.
    const walked: string[] = [];
    for await (const s of cl.vectorStores.list({ limit: 2 })) walked.push(s.id);
    assert.deepEqual(walked, desc.data.map((s) => s.id));

    const del = await cl.vectorStores.delete(made[0]);
    assert.deepEqual(del, { id: made[0], object: "vector_store.deleted", deleted: true });
    await fails(cl.vectorStores.retrieve(made[0]), 404, "vector_store_id");
    assert.equal((await cl.vectorStores.list({ limit: 100 })).data.length, 4);
    await fails(cl.vectorStores.delete(made[0]), 404);
  });

  test("files: list with filter, retrieve, update attributes, content, delete", async () => {
    const cl = sdk(KEYS.teamA);
    const good = await upload(cl, DOCS.finance, "finance.txt");
    const bad = await upload(cl, Buffer.from([0xff, 0xfe, 0x41, 0xc3, 0x28, 0x0a]), "latin.txt");
    const vs = await cl.vectorStores.create({ name: "files", file_ids: [good.id, bad.id] });
    await a.gw.vectors.idle();
    const completed = await cl.vectorStores.files.list(vs.id, { filter: "completed" });
    assert.deepEqual(completed.data.map((f) => f.id), [good.id]);
    const failed = await cl.vectorStores.files.list(vs.id, { filter: "failed" });
    assert.deepEqual(failed.data.map((f) => f.id), [bad.id]);
    assert.equal(failed.data[0].last_error?.code, "unsupported_file");
    assert.equal((await cl.vectorStores.files.list(vs.id, { filter: "in_progress" })).data.length, 0);
    const paged = await cl.vectorStores.files.list(vs.id, { limit: 1 });
    assert.equal(paged.data.length, 1);
    assert.equal(paged.has_more, true);

    const f = await cl.vectorStores.files.retrieve(good.id, { vector_store_id: vs.id });
    assert.equal(f.attributes, null);
    assert.deepEqual((f as unknown as { signalbox: unknown }).signalbox, { filename: "finance.txt" }, "the upload's name, beside OpenAI's fields");
    const upd = await cl.vectorStores.files.update(good.id, { vector_store_id: vs.id, attributes: { region: "eu", score: 7, live: true } });
    assert.deepEqual(upd.attributes, { region: "eu", score: 7, live: true });
    assert.deepEqual((await cl.vectorStores.files.retrieve(good.id, { vector_store_id: vs.id })).attributes, { region: "eu", score: 7, live: true });

    const content = [];
    for await (const x of cl.vectorStores.files.content(good.id, { vector_store_id: vs.id })) content.push(x);
    assert.deepEqual(content, [{ type: "text", text: DOCS.finance }]);

    const del = await cl.vectorStores.files.delete(good.id, { vector_store_id: vs.id });
    assert.deepEqual(del, { id: good.id, object: "vector_store.file.deleted", deleted: true });
    await fails(cl.vectorStores.files.retrieve(good.id, { vector_store_id: vs.id }), 404, "file_id");
    const after = await cl.vectorStores.retrieve(vs.id);
    assert.deepEqual(after.file_counts, { in_progress: 0, completed: 0, failed: 1, cancelled: 0, total: 1 });
    assert.equal(after.usage_bytes, 0);
    // The upload itself stays.
    assert.equal((await cl.files.retrieve(good.id)).id, good.id);
    // Nothing of the deleted file is found any more.
    const res = await cl.vectorStores.search(vs.id, { query: "interest rates" });
    assert.equal(res.data.length, 0);
  });

  test("a file batch cancelled while indexing: its files cancelled, nothing kept", async () => {
    const cl = client(c);
    const vs = await cl.vectorStores.create({ name: "to cancel" });
    const ids = [];
    for (const [name, text] of Object.entries(DOCS).slice(0, 3)) ids.push((await upload(cl, text, `${name}.txt`)).id);
    const batch = await cl.vectorStores.fileBatches.create(vs.id, { file_ids: ids });
    assert.equal(batch.status, "in_progress");
    assert.equal(batch.file_counts.in_progress, 3);
    const cancelled = await cl.vectorStores.fileBatches.cancel(batch.id, { vector_store_id: vs.id });
    assert.equal(cancelled.status, "cancelled");
    assert.deepEqual(cancelled.file_counts, { in_progress: 0, completed: 0, failed: 0, cancelled: 3, total: 3 });
    await c.gw.vectors.idle();
    const later = await cl.vectorStores.fileBatches.retrieve(batch.id, { vector_store_id: vs.id });
    assert.equal(later.status, "cancelled");
    assert.equal(later.file_counts.cancelled, 3, "the file being embedded when cancelled stays cancelled");
    const listed = await cl.vectorStores.fileBatches.listFiles(batch.id, { vector_store_id: vs.id, filter: "cancelled" });
    assert.deepEqual(listed.data.map((f) => f.id).sort(), [...ids].sort());
    for (const id of ids) assert.deepEqual(await c.gw.vectors.store.fileChunks(vs.id, id), []);
    const s = await cl.vectorStores.retrieve(vs.id);
    assert.equal(s.status, "completed");
    assert.equal(s.usage_bytes, 0);
  });
});

describe("search", () => {
  before(async () => {
    const cl = sdk(KEYS.teamA);
    const files = {} as Record<keyof typeof DOCS, string>;
    for (const name of Object.keys(DOCS) as (keyof typeof DOCS)[]) files[name] = (await upload(cl, DOCS[name], `${name}.txt`)).id;
    const vs = await cl.vectorStores.create({ name: "topics" });
    const batch = await cl.vectorStores.fileBatches.createAndPoll(vs.id, { files: (Object.keys(DOCS) as (keyof typeof DOCS)[]).map((n) => ({ file_id: files[n], attributes: ATTRS[n] })) }, POLL);
    assert.equal(batch.file_counts.completed, 4);
    topics = { id: vs.id, files };
  });
  const nameOf = (fileId: string) => Object.entries(topics.files).find(([, id]) => id === fileId)![0];
  const search = async (body: Parameters<OpenAI["vectorStores"]["search"]>[1]) => (await sdk(KEYS.teamA).vectorStores.search(topics.id, body)).data;

  test("the relevant document ranks first, whatever the topic", async () => {
    for (const [query, want] of [
      ["how long to bake sourdough bread with yeast", "cooking"],
      ["which telescope sees distant galaxies", "astronomy"],
      ["when to prune roses and water tomato plants", "gardening"],
      ["mortgage interest rates and inflation", "finance"],
    ] as const) {
      const hits = await search({ query });
      assert.equal(nameOf(hits[0].file_id), want, `${query}: ${hits.map((h) => nameOf(h.file_id)).join(", ")}`);
      assert.equal(hits[0].filename, `${want}.txt`);
      assert.deepEqual(hits[0].content, [{ type: "text", text: DOCS[want] }]);
      assert.deepEqual(hits[0].attributes, ATTRS[want]);
      assert.ok(hits[0].score > hits[1].score, "strictly ahead of the next");
      for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score, "best first");
    }
  });

  test("max_num_results, several queries, and the page's shape", async () => {
    const page = await sdk(KEYS.teamA).vectorStores.search(topics.id, { query: "bread", max_num_results: 2 });
    assert.equal(page.data.length, 2);
    assert.equal(nameOf(page.data[0].file_id), "cooking");
    const one = await search({ query: "bread", max_num_results: 1 });
    assert.equal(one.length, 1);
    assert.equal((await search({ query: "bread" })).length, 4, "default 10: every chunk of the four files");

    const multi = await search({ query: ["telescope galaxies", "mortgage interest rates"], max_num_results: 2 } as any);
    assert.deepEqual(multi.map((h) => nameOf(h.file_id)).sort(), ["astronomy", "finance"]);
  });

  test("filters on attributes: eq, ne, gt/lt, in/nin, and/or", async () => {
    const names = async (filters: unknown) => (await search({ query: "the", filters } as any)).map((h) => nameOf(h.file_id)).sort();
    assert.deepEqual(await names({ type: "eq", key: "topic", value: "science" }), ["astronomy"]);
    assert.deepEqual(await names({ type: "eq", key: "public", value: true }), ["cooking", "finance"]);
    assert.deepEqual(await names({ type: "ne", key: "topic", value: "food" }), ["astronomy", "finance", "gardening"]);
    assert.deepEqual(await names({ type: "ne", key: "public", value: false }), ["cooking", "finance", "gardening"], "a missing attribute passes ne");
    assert.deepEqual(await names({ type: "gt", key: "year", value: 2022 }), ["astronomy", "finance"]);
    assert.deepEqual(await names({ type: "gte", key: "year", value: 2022 }), ["astronomy", "finance", "gardening"]);
    assert.deepEqual(await names({ type: "lt", key: "year", value: 2022 }), ["cooking"]);
    assert.deepEqual(await names({ type: "lte", key: "year", value: 2022 }), ["cooking", "gardening"]);
    assert.deepEqual(await names({ type: "gt", key: "year", value: "2022" }), [], "numbers do not compare with strings");
    assert.deepEqual(await names({ type: "in", key: "topic", value: ["food", "home"] }), ["cooking", "gardening"]);
    assert.deepEqual(await names({ type: "in", key: "year", value: [2023, 2024] }), ["astronomy", "finance"]);
    assert.deepEqual(await names({ type: "nin", key: "topic", value: ["food", "home"] }), ["astronomy", "finance"]);
    assert.deepEqual(await names({ type: "and", filters: [{ type: "gte", key: "year", value: 2022 }, { type: "eq", key: "public", value: true }] }), ["finance"]);
    assert.deepEqual(await names({ type: "or", filters: [{ type: "eq", key: "topic", value: "food" }, { type: "eq", key: "topic", value: "money" }] }), ["cooking", "finance"]);
    assert.deepEqual(
      await names({ type: "or", filters: [{ type: "eq", key: "topic", value: "home" }, { type: "and", filters: [{ type: "lt", key: "year", value: 2024 }, { type: "eq", key: "public", value: false }] }] }),
      ["astronomy", "gardening"],
    );
    assert.deepEqual(await names({ type: "eq", key: "nothing", value: "x" }), []);
    // A filter and the ranking together: the best of what passes.
    const hits = await search({ query: "bake bread", filters: { type: "ne", key: "topic", value: "food" } } as any);
    assert.ok(!hits.some((h) => nameOf(h.file_id) === "cooking"));
  });

  test("score_threshold drops what scores below it; ranker none is semantic only", async () => {
    const all = await search({ query: "telescope galaxies stars" });
    assert.equal(nameOf(all[0].file_id), "astronomy");
    const threshold = (all[0].score + all[1].score) / 2;
    const cut = await search({ query: "telescope galaxies stars", ranking_options: { score_threshold: threshold } });
    assert.deepEqual(cut.map((h) => nameOf(h.file_id)), ["astronomy"]);
    for (const h of cut) assert.ok(h.score >= threshold);
    assert.equal((await search({ query: "telescope galaxies stars", ranking_options: { score_threshold: 1 } })).length, 0);

    const none = await search({ query: "telescope galaxies stars", ranking_options: { ranker: "none" } });
    assert.equal(nameOf(none[0].file_id), "astronomy");
    // Semantic only: the cosine of the two bags of words.
    const q = wordsEmbedding("telescope galaxies stars", 256);
    const v = wordsEmbedding(DOCS.astronomy, 256);
    const cos = q.reduce((s, x, i) => s + x * v[i], 0);
    assert.ok(Math.abs(none[0].score - cos) < 1e-5, `ranker none: ${none[0].score} is the cosine ${cos}`);
    // Hybrid: the best keyword match (normalised to 1) carries KEYWORD_WEIGHT of the score.
    assert.ok(Math.abs(all[0].score - ((1 - KEYWORD_WEIGHT) * cos + KEYWORD_WEIGHT)) < 1e-5, `hybrid ${all[0].score}`);
  });

  test("with vector_stores.rerank, the scores are the rerank model's (a rerank usage record)", async () => {
    const cl = client(b);
    const vs = await cl.vectorStores.create({ name: "reranked" });
    const batch = await cl.vectorStores.fileBatches.uploadAndPoll(vs.id, { files: [await toFile(Buffer.from(DOCS.astronomy), "astro.txt"), await toFile(Buffer.from(DOCS.finance), "fin.txt")] }, POLL);
    assert.equal(batch.file_counts.completed, 2);
    const query = "telescope galaxies and stars";
    const res = await cl.vectorStores.search(vs.id, { query });
    assert.equal(res.data.length, 2);
    const want = mockRerank(query, [DOCS.astronomy, DOCS.finance]);
    assert.equal(res.data[0].content[0].text, DOCS.astronomy);
    assert.ok(Math.abs(res.data[0].score - want.find((x) => x.index === 0)!.score) < 1e-5, `rerank score ${res.data[0].score}`);
    assert.ok(Math.abs(res.data[1].score - want.find((x) => x.index === 1)!.score) < 1e-5);
    const recs = await records(b, (r) => r.operation === "rerank" && r.metadata["signalbox.vector_store_id"] === vs.id);
    assert.equal(recs.length, 1);
    assert.ok(recs[0].tags.includes("vector_store"));
    assert.equal(recs[0].deployment, "mock/rerank");
    // ranker none: no rerank.
    await cl.vectorStores.search(vs.id, { query, ranking_options: { ranker: "none" } });
    assert.equal((await records(b, (r) => r.operation === "rerank" && r.metadata["signalbox.vector_store_id"] === vs.id)).length, 1);
  });
});

describe("chunking and file types", () => {
  test("static chunking: several chunks of at most max tokens, neighbours overlapping", async () => {
    const cl = sdk(KEYS.teamA);
    const sentences = [];
    for (let i = 0; i < 60; i++) sentences.push(`Sentence number ${i} talks about the river ${["otter", "heron", "salmon", "willow", "reed"][i % 5]} near the old mill.`);
    const text = sentences.join(" ");
    const total = encodeO200k(text).length;
    const up = await upload(cl, text, "long.txt");
    const vs = await cl.vectorStores.create({ name: "chunks", file_ids: [up.id], chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 20 } } });
    await a.gw.vectors.idle();
    const f = await cl.vectorStores.files.retrieve(up.id, { vector_store_id: vs.id });
    assert.equal(f.status, "completed");
    assert.deepEqual(f.chunking_strategy, { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 20 } });
    const chunks = (await a.gw.vectors.store.fileChunks(vs.id, up.id)).map((c) => c.text);
    // The file's content is its text once, the overlaps left out.
    const content: string[] = [];
    for await (const x of cl.vectorStores.files.content(up.id, { vector_store_id: vs.id })) content.push(x.text!);
    assert.deepEqual(content, [text]);
    assert.equal(chunks.length, Math.ceil((total - 100) / 80) + 1, `${total} tokens in windows of 100 every 80`);
    assert.ok(chunks.length >= 5);
    assert.ok(text.startsWith(chunks[0]));
    assert.ok(text.endsWith(chunks.at(-1)!));
    for (const ch of chunks) assert.ok(encodeO200k(ch).length <= 100);
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1];
      const next = chunks[i];
      let overlap = 0;
      for (let n = Math.min(prev.length, next.length); n > 0; n--) {
        if (prev.endsWith(next.slice(0, n))) {
          overlap = n;
          break;
        }
      }
      assert.ok(overlap >= 40, `chunks ${i - 1} and ${i} share their edge (${overlap} characters)`);
      assert.ok(overlap < next.length / 2);
    }
    assert.equal(f.usage_bytes, chunks.reduce((n, ch) => n + Buffer.byteLength(ch), 0));
    // A chunk found by what only it says.
    const hits = await cl.vectorStores.search(vs.id, { query: "Sentence number 37", max_num_results: 1 });
    assert.match(hits.data[0].content[0].text!, /number 37 /);
  });

  test("a PDF is indexed by its text; binary, non-UTF-8 and empty files fail with their reason", async () => {
    const cl = sdk(KEYS.teamA);
    const pdf = await upload(cl, makePdf(["The lighthouse keeper watched the stormy sea.", "Gulls circled the rocky cape."]), "keeper.pdf");
    const bin = await upload(cl, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0xff]), "image.png");
    const latin = await upload(cl, Buffer.from("caf\xe9 cr\xe8me", "latin1"), "latin1.txt");
    const blank = await upload(cl, " \n\t\n  ", "blank.txt");
    const vs = await cl.vectorStores.create({ name: "types", file_ids: [pdf.id, bin.id, latin.id, blank.id] });
    await a.gw.vectors.idle();
    const get = (id: string) => cl.vectorStores.files.retrieve(id, { vector_store_id: vs.id });
    const p = await get(pdf.id);
    assert.equal(p.status, "completed", JSON.stringify(p.last_error));
    const text = [];
    for await (const x of cl.vectorStores.files.content(pdf.id, { vector_store_id: vs.id })) text.push(x.text);
    assert.match(text.join(" "), /lighthouse keeper/);
    assert.match(text.join(" "), /rocky cape/);
    for (const id of [bin.id, latin.id]) {
      const f = await get(id);
      assert.equal(f.status, "failed");
      assert.equal(f.last_error?.code, "unsupported_file");
    }
    const e = await get(blank.id);
    assert.equal(e.status, "failed");
    assert.equal(e.last_error?.code, "invalid_file");
    assert.match(e.last_error!.message, /empty/);
    const s = await cl.vectorStores.retrieve(vs.id);
    assert.deepEqual(s.file_counts, { in_progress: 0, completed: 1, failed: 3, cancelled: 0, total: 4 });
    const hits = await cl.vectorStores.search(vs.id, { query: "lighthouse stormy sea" });
    assert.equal(hits.data.length, 1);
    assert.equal(hits.data[0].file_id, pdf.id);
    assert.equal(hits.data[0].filename, "keeper.pdf");
  });

  test("Word and PowerPoint documents are read by their text (paragraphs in order, slides in order with their notes); another archive, or a broken one, fails with its reason", async () => {
    const cl = sdk(KEYS.teamA);
    const enc = (x: string) => new TextEncoder().encode(x);
    const w = (paras: string[]) => `<?xml version="1.0"?><w:document xmlns:w="w"><w:body>${paras.map((p) => `<w:p><w:pPr/>${p}</w:p>`).join("")}</w:body></w:document>`;
    const docx = zipSync({
      "[Content_Types].xml": enc("<Types/>"),
      "word/document.xml": enc(w(['<w:r><w:t>Quarterly report &amp; forecast</w:t></w:r>', '<w:r><w:t xml:space="preserve">Revenue grew </w:t></w:r><w:r><w:t>12%</w:t></w:r><w:r><w:tab/><w:t>in Q3.</w:t></w:r>'])),
      "word/styles.xml": enc("<w:styles><w:t>not text</w:t></w:styles>"),
    });
    const slide = (n: string) => `<p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>${n}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>`;
    const pptx = zipSync({
      "ppt/presentation.xml": enc("<p:presentation/>"),
      "ppt/slides/slide10.xml": enc(slide("Closing: questions")),
      "ppt/slides/slide2.xml": enc(slide("Roadmap &lt;2027&gt;")),
      "ppt/slides/slide1.xml": enc(slide("Welcome to the offsite")),
      "ppt/notesSlides/notesSlide1.xml": enc(slide("Speaker notes: greet everyone")),
    });
    const other = zipSync({ "readme.txt": enc("just a zip") });
    const broken = Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(64, 7)]);
    const ids = await Promise.all([upload(cl, Buffer.from(docx), "report.docx"), upload(cl, Buffer.from(pptx), "offsite.pptx"), upload(cl, Buffer.from(other), "x.zip"), upload(cl, broken, "broken.docx")]);
    const vs = await cl.vectorStores.create({ name: "office", file_ids: ids.map((f) => f.id) });
    await a.gw.vectors.idle();
    const content = async (id: string) => {
      const t: string[] = [];
      for await (const x of cl.vectorStores.files.content(id, { vector_store_id: vs.id })) t.push(x.text!);
      return t.join("");
    };
    assert.equal(await content(ids[0].id), "Quarterly report & forecast\nRevenue grew 12%\tin Q3.");
    assert.equal(await content(ids[1].id), "Welcome to the offsite\n\nSpeaker notes: greet everyone\n\nRoadmap <2027>\n\nClosing: questions");
    const f2 = await cl.vectorStores.files.retrieve(ids[2].id, { vector_store_id: vs.id });
    assert.deepEqual([f2.status, f2.last_error?.code], ["failed", "unsupported_file"]);
    const f3 = await cl.vectorStores.files.retrieve(ids[3].id, { vector_store_id: vs.id });
    assert.deepEqual([f3.status, f3.last_error?.code], ["failed", "invalid_file"]);
    assert.match(f3.last_error!.message, /could not be read/);
    const hits = await cl.vectorStores.search(vs.id, { query: "revenue in the quarterly report", max_num_results: 1 });
    assert.equal(hits.data[0].filename, "report.docx");
  });
});

describe("accounting", () => {
  test("indexing and search are embeddings requests of the caller's key, tagged vector_store", async () => {
    const cl = sdk(KEYS.svcA);
    const up = await upload(cl, DOCS.gardening, "g.txt");
    const vs = await cl.vectorStores.create({ name: "billed", file_ids: [up.id] });
    await a.gw.vectors.idle();
    const indexing = await records(a, (r) => r.metadata["signalbox.vector_store_id"] === vs.id);
    assert.equal(indexing.length, 1);
    const r = indexing[0];
    assert.equal(r.operation, "embeddings");
    assert.equal(r.key, "svc-a");
    assert.equal(r.team, "a");
    assert.equal(r.deployment, "words/embed");
    assert.equal(r.status, "ok");
    assert.ok(r.tags.includes("vector_store"));
    assert.equal(r.metadata["signalbox.vector_store_file_id"], up.id);
    assert.ok(r.usage.inputTokens > 0);
    assert.equal(r.usage.inputTokens, encodeO200k(DOCS.gardening).length);
    assert.ok(r.cost.total > 0);

    // The raw page: the SDK's page object keeps only its data.
    const res = (await (await cl.vectorStores.search(vs.id, { query: ["roses", "tomato plants"] } as any).asResponse()).json()) as { data: unknown[]; search_query: string[]; signalbox: { cost_nano_usd: number } };
    assert.equal(res.data.length, 1);
    assert.deepEqual(res.search_query, ["roses", "tomato plants"]);
    const all = await records(a, (x) => x.metadata["signalbox.vector_store_id"] === vs.id);
    assert.equal(all.length, 2, "one embeddings request for both queries");
    const s = all.find((x) => x !== r)!;
    assert.equal(s.operation, "embeddings");
    assert.equal(s.key, "svc-a");
    assert.ok(s.tags.includes("vector_store"));
    assert.equal(s.metadata["signalbox.vector_store_file_id"], undefined);
    assert.equal(s.usage.inputTokens, encodeO200k("roses").length + encodeO200k("tomato plants").length);
    assert.equal(res.signalbox.cost_nano_usd, s.cost.total, "the search's cost is its embedding's");
    assert.ok(!all.some((x) => x.operation === "rerank"), "no rerank configured");
  });
});

describe("errors name their field and leave nothing behind", () => {
  test("create: unknown file, batch-purpose file, bad chunking, unknown field, long metadata", async () => {
    const cl = sdk(KEYS.teamA);
    const admin = sdk(KEYS.admin);
    const before = (await allStores(admin)).length;
    const good = await upload(cl, DOCS.cooking, "good.txt");
    const batchFile = await upload(cl, '{"custom_id":"x"}\n', "b.jsonl", "batch");
    let e = await fails(cl.vectorStores.create({ name: "x", file_ids: [good.id, "file-nope"] }), 404, "file_ids[1]");
    assert.match(e.message, /file-nope/);
    await fails(cl.vectorStores.create({ name: "x", file_ids: [batchFile.id] }), 400, "file_ids[0]");
    await fails(cl.vectorStores.create({ name: "x", file_ids: [good.id], chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 } } }), 400, "chunking_strategy.static.max_chunk_size_tokens");
    await fails(cl.vectorStores.create({ name: "x", file_ids: [good.id], chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 101 } } }), 400, "chunking_strategy.static.chunk_overlap_tokens");
    await fails(cl.vectorStores.create({ name: "x", file_ids: [good.id], chunking_strategy: { type: "fixed" } as any }), 400, "chunking_strategy.type");
    await fails(cl.vectorStores.create({ name: "x", colour: "blue" } as any), 400, "colour");
    await fails(cl.vectorStores.create({ name: "x", metadata: { note: "n".repeat(513) } }), 400, "metadata.note");
    await fails(cl.vectorStores.create({ name: "x", metadata: { note: 5 } as any }), 400, "metadata.note");
    await fails(cl.vectorStores.create({ name: "x", expires_after: { anchor: "last_active_at", days: 0 } }), 400, "expires_after.days");
    await fails(cl.vectorStores.create({ name: "x", expires_after: { anchor: "created_at", days: 1 } as any }), 400, "expires_after.anchor");
    await fails(cl.vectorStores.create({ name: "x", file_ids: [good.id, good.id] }), 400, "file_ids");
    assert.equal((await allStores(admin)).length, before, "no store was made");
    await a.gw.vectors.idle();
    assert.equal((await records(a, (r) => r.metadata["signalbox.vector_store_file_id"] === good.id)).length, 0, "nothing was indexed");
  });

  test("files and file batches: unknown file, batch-purpose file, bad attributes, unknown field", async () => {
    const cl = sdk(KEYS.teamA);
    const vs = await cl.vectorStores.create({ name: "errs" });
    const batchFile = await upload(cl, '{"custom_id":"x"}\n', "b.jsonl", "batch");
    const good = await upload(cl, DOCS.cooking, "good.txt");
    await fails(cl.vectorStores.files.create(vs.id, { file_id: "file-nope" }), 404, "file_id");
    const e = await fails(cl.vectorStores.files.create(vs.id, { file_id: batchFile.id }), 400, "file_id");
    assert.match(e.message, /purpose/);
    await fails(cl.vectorStores.files.create(vs.id, { file_id: good.id, attributes: { x: { nested: 1 } } as any }), 400, "attributes.x");
    await fails(cl.vectorStores.files.create(vs.id, { file_id: good.id, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 5000, chunk_overlap_tokens: 0 } } }), 400, "chunking_strategy.static.max_chunk_size_tokens");
    await fails(cl.vectorStores.files.create(vs.id, { file_id: good.id, extra: 1 } as any), 400, "extra");
    await fails(cl.vectorStores.fileBatches.create(vs.id, { file_ids: [] }), 400, "file_ids");
    await fails(cl.vectorStores.fileBatches.create(vs.id, { files: [{ file_id: batchFile.id }] } as any), 400, "files[0].file_id");
    await fails(cl.vectorStores.files.update(good.id, { vector_store_id: vs.id, attributes: {} }), 404, "file_id");
    await fails(cl.vectorStores.files.retrieve("file-nope", { vector_store_id: vs.id }), 404, "file_id");
    await fails(cl.vectorStores.fileBatches.retrieve("vsfb_nope", { vector_store_id: vs.id }), 404, "batch_id");
    await fails(cl.vectorStores.update(vs.id, { name: "y", colour: "red" } as any), 400, "colour");
    const s = await cl.vectorStores.retrieve(vs.id);
    assert.equal(s.file_counts.total, 0, "no file was added");
    assert.equal(s.name, "errs");
  });

  test("a file batch with a bad file adds none of its files", async () => {
    const cl = sdk(KEYS.teamA);
    const vs = await cl.vectorStores.create({ name: "batch errs" });
    const good = await upload(cl, DOCS.cooking, "good.txt");
    const batchFile = await upload(cl, '{"custom_id":"x"}\n', "b.jsonl", "batch");
    await fails(cl.vectorStores.fileBatches.create(vs.id, { file_ids: [good.id, "file-nope"] }), 404, "file_ids[1]");
    await fails(cl.vectorStores.fileBatches.create(vs.id, { file_ids: [good.id, batchFile.id] }), 400, "file_ids[1]");
    await a.gw.vectors.idle();
    const s = await cl.vectorStores.retrieve(vs.id);
    assert.equal(s.file_counts.total, 0, "no file of a refused batch was added");
  });

  test("search and list: bad filters, max_num_results, limit, order", async () => {
    const cl = sdk(KEYS.teamA);
    const id = topics.id;
    const search = (body: unknown) => cl.vectorStores.search(id, body as any);
    await fails(search({ query: "x", filters: { type: "gt", key: "year", value: true } }), 400, "filters.value");
    await fails(search({ query: "x", filters: { type: "bogus", key: "year", value: 1 } }), 400, "filters.type");
    await fails(search({ query: "x", filters: { type: "in", key: "year", value: 2021 } }), 400, "filters.value");
    await fails(search({ query: "x", filters: { type: "in", key: "year", value: [true] } }), 400, "filters.value");
    await fails(search({ query: "x", filters: { type: "eq", value: 1 } }), 400, "filters.key");
    await fails(search({ query: "x", filters: { type: "and", filters: [] } }), 400, "filters.filters");
    await fails(search({ query: "x", filters: { type: "or", filters: [{ type: "eq", key: "a", value: "b" }, { type: "eq", key: "a", value: { x: 1 } }] } }), 400, "filters.filters[1].value");
    await fails(search({ query: "x", max_num_results: 0 }), 400, "max_num_results");
    await fails(search({ query: "x", max_num_results: 51 }), 400, "max_num_results");
    await fails(search({ query: "x", max_num_results: 2.5 }), 400, "max_num_results");
    await fails(search({ query: "" }), 400, "query");
    await fails(search({ query: ["ok", ""] }), 400, "query[1]");
    await fails(search({ query: "x", ranking_options: { score_threshold: 2 } }), 400, "ranking_options.score_threshold");
    await fails(search({ query: "x", ranking_options: { ranker: "best" } }), 400, "ranking_options.ranker");
    await fails(search({ query: "x", top_k: 3 }), 400, "top_k");
    await fails(cl.vectorStores.list({ limit: 0 }), 400, "limit");
    await fails(cl.vectorStores.list({ limit: 101 }), 400, "limit");
    await fails(cl.vectorStores.list({ order: "sideways" } as any), 400, "order");
    await fails(cl.vectorStores.files.list(id, { limit: 500 }), 400, "limit");
    await fails(cl.vectorStores.files.list(id, { filter: "done" } as any), 400, "filter");
    await fails(cl.vectorStores.retrieve("vs_nope"), 404, "vector_store_id");
  });

  test("keys see what they may: another team's service key cannot see or search; an admin sees all", async () => {
    const mine = sdk(KEYS.svcA);
    const up = await upload(mine, DOCS.astronomy, "mine.txt");
    const vs = await mine.vectorStores.create({ name: "private", file_ids: [up.id] });
    await a.gw.vectors.idle();
    const other = sdk(KEYS.svcB);
    await fails(other.vectorStores.retrieve(vs.id), 404, "vector_store_id");
    await fails(other.vectorStores.search(vs.id, { query: "telescope" }), 404, "vector_store_id");
    await fails(other.vectorStores.update(vs.id, { name: "taken" }), 404, "vector_store_id");
    await fails(other.vectorStores.delete(vs.id), 404, "vector_store_id");
    await fails(other.vectorStores.files.retrieve(up.id, { vector_store_id: vs.id }), 404, "vector_store_id");
    assert.ok(!(await allStores(other)).includes(vs.id));
    assert.ok(!(await allStores(sdk(KEYS.teamB))).includes(vs.id));
    // Another team's key cannot add my file to its own store either.
    const theirs = await other.vectorStores.create({ name: "theirs" });
    await fails(other.vectorStores.files.create(theirs.id, { file_id: up.id }), 404, "file_id");
    await fails(other.vectorStores.create({ name: "theirs 2", file_ids: [up.id] }), 404, "file_ids[0]");
    // Its team's key sees it; a service key of the same team does not see the team key's stores.
    assert.equal((await sdk(KEYS.teamA).vectorStores.retrieve(vs.id)).id, vs.id);
    assert.ok((await allStores(sdk(KEYS.teamA))).includes(vs.id));
    const teams = await sdk(KEYS.teamA).vectorStores.create({ name: "team's" });
    await fails(mine.vectorStores.retrieve(teams.id), 404);
    // An admin sees and searches everything.
    const admin = sdk(KEYS.admin);
    const all = await allStores(admin);
    assert.ok(all.includes(vs.id) && all.includes(theirs.id) && all.includes(teams.id));
    assert.equal((await admin.vectorStores.search(vs.id, { query: "telescope" })).data[0].file_id, up.id);
    assert.equal((await mine.vectorStores.retrieve(vs.id)).name, "private", "untouched by the refused update");
  });

  test("vector_stores.max_files: past it, resource_exhausted (429), nothing added", async () => {
    const cl = client(b);
    const ups = [];
    for (let i = 0; i < 3; i++) ups.push((await upload(cl, `${DOCS.cooking} ${i}`, `f${i}.txt`)).id);
    const vs = await cl.vectorStores.create({ name: "full", file_ids: ups.slice(0, 2) });
    const e = await fails(cl.vectorStores.files.create(vs.id, { file_id: ups[2] }), 429, "file_id");
    assert.match(e.message, /max_files/);
    assert.equal((await cl.vectorStores.retrieve(vs.id)).file_counts.total, 2);
    // Replacing a file already there is not one more.
    await b.gw.vectors.idle();
    const again = await cl.vectorStores.files.create(vs.id, { file_id: ups[0] });
    assert.equal(again.status, "in_progress");
    await b.gw.vectors.idle();
    // Too many at once: refused, and no store is left behind.
    const before = (await allStores(cl)).length;
    await fails(cl.vectorStores.create({ name: "too many", file_ids: ups }), 429, "file_ids");
    assert.equal((await allStores(cl)).length, before, "no store was made");
    const vs2 = await cl.vectorStores.create({ name: "batch too many" });
    await fails(cl.vectorStores.fileBatches.create(vs2.id, { file_ids: ups }), 429, "file_ids[2]");
    assert.equal((await cl.vectorStores.retrieve(vs2.id)).file_counts.total, 0, "no file of the refused batch was added");
  });

  test("a gateway without vector_stores answers 404, saying so", async () => {
    const cl = client(d);
    for (const call of [() => cl.vectorStores.list(), () => cl.vectorStores.create({ name: "x" }), () => cl.vectorStores.retrieve("vs_x"), () => cl.vectorStores.search("vs_x", { query: "q" })]) {
      await fails(call(), 404, /vector stores are not configured on this gateway/);
    }
  });

  test("the configuration: vector_stores.embedding must be an embedding model the gateway knows", () => {
    const build = (vs: string) => buildConfig(parse(`${PROVIDERS}\nvector_stores: ${vs}\n`), {});
    const refuses = (vs: string, re: RegExp) =>
      assert.throws(() => build(vs), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, re);
        return true;
      });
    refuses("{ embedding: nope/embed }", /vector_stores\.embedding.*unknown.*nope\/embed/s);
    refuses("{ embedding: mock/chat }", /vector_stores\.embedding.*does not serve embeddings/s);
    refuses("{ embedding: words/embed, rerank: words/embed }", /vector_stores\.rerank.*does not serve rerank/s);
    refuses("{ embedding: words/embed, max_chunk_size_tokens: 200, chunk_overlap_tokens: 150 }", /vector_stores\.chunk_overlap_tokens/);
    refuses("{ rerank: mock/rerank }", /vector_stores\.embedding/);
    const ok = build("{ embedding: words/embed, rerank: mock/rerank, max_files: 7, chunk_overlap_tokens: 100 }");
    assert.deepEqual(ok.vectorStores, { embedding: "words/embed", rerank: "mock/rerank", chunking: { maxChunkSizeTokens: 800, chunkOverlapTokens: 100 }, maxFiles: 7, indexingConcurrency: 2 });
  });

  test("a smaller max_chunk_size_tokens alone takes an overlap of half of it", () => {
    const ok = buildConfig(parse(`${PROVIDERS}\nvector_stores: { embedding: words/embed, max_chunk_size_tokens: 300 }\n`), {});
    assert.deepEqual(ok.vectorStores?.chunking, { maxChunkSizeTokens: 300, chunkOverlapTokens: 150 });
  });
});

describe("expiry", () => {
  test("expires_after sets expires_at; an expired store refuses search and new files", async () => {
    const cl = sdk(KEYS.teamA);
    const up = await upload(cl, DOCS.finance, "f.txt");
    const vs = await cl.vectorStores.create({ name: "short-lived", file_ids: [up.id], expires_after: { anchor: "last_active_at", days: 1 } });
    assert.deepEqual(vs.expires_after, { anchor: "last_active_at", days: 1 });
    assert.equal(vs.expires_at, vs.created_at + 86_400);
    assert.equal(vs.last_active_at, vs.created_at);
    await a.gw.vectors.idle();
    assert.equal((await cl.vectorStores.search(vs.id, { query: "interest rates" })).data.length, 1);

    const now = Math.floor(Date.now() / 1000);
    await a.gw.vectors.store.updateStore(vs.id, (x) => ({ ...x, expires_at: now - 1 }));
    assert.equal(await a.gw.vectors.store.expireStores(now), 1);
    const s = await cl.vectorStores.retrieve(vs.id);
    assert.equal(s.status, "expired");
    await fails(cl.vectorStores.search(vs.id, { query: "interest rates" }), 400, /expired/);
    const up2 = await upload(cl, DOCS.cooking, "c.txt");
    await fails(cl.vectorStores.files.create(vs.id, { file_id: up2.id }), 400, /expired/);
    // Still listed, retrieved and deleted.
    assert.deepEqual(await cl.vectorStores.delete(vs.id), { id: vs.id, object: "vector_store.deleted", deleted: true });
  });
});
