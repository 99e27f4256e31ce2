// Indexing in the service (src/vectors/service.ts) against a scripted engine: a request refused by
// a rate limit waits its retry-after and is made again (a file indexes at the pace the key allows),
// a budget refusal fails the file naming it, and a file over the token limit fails without
// embedding anything.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryBatchStore } from "../../src/batch/store.ts";
import type { ChatEngine } from "../../src/engine/chat-engine.ts";
import type { GatewayCore } from "../../src/gateway.ts";
import { GatewayError } from "../../src/router/errors.ts";
import type { Caller } from "../../src/router/types.ts";
import { chunkText, TooLong } from "../../src/vectors/search.ts";
import { createVectorStores } from "../../src/vectors/service.ts";
import { createMemoryVectorStoreStore } from "../../src/vectors/store.ts";

const caller = { keyName: "k", team: "t", role: "service", allow: [] } as unknown as Caller;
const core = { config: { vectorStores: { embedding: "embed", chunking: { maxChunkSizeTokens: 100, chunkOverlapTokens: 0 }, maxFiles: 10, indexingConcurrency: 1 } }, metrics: { vectorSearch() {}, vectorFileIndexed() {} } } as unknown as GatewayCore;

async function rig(embed: (inputs: string[]) => Promise<Float32Array[]>) {
  const files = createMemoryBatchStore();
  const engine = {
    embed: async (r: { call: { request: { inputs: string[] } } }) => ({ embeddings: await embed(r.call.request.inputs), deployment: "embed", cost: { total: 1 } }),
  } as unknown as ChatEngine;
  const vs = createVectorStores({ store: createMemoryVectorStoreStore(), files, engine, core: () => core, callerOf: () => caller });
  const owner = { key: "k", team: "t" };
  await files.putFile({ id: "file-a", object: "file", bytes: 10, created_at: 0, filename: "a.txt", purpose: "assistants", status: "processed", owner }, Buffer.from("Rate limits pace the indexing of this file."));
  const s = await vs.create(caller, { name: "s", metadata: null, fileIds: [] });
  return { vs, s };
}

test("a rate-limited indexing request waits its retry-after and is made again", async () => {
  let calls = 0;
  const { vs, s } = await rig(async (inputs) => {
    calls++;
    if (calls === 1) throw new GatewayError("resource_exhausted", "rate limit exceeded: 1 request per minute; retry in 1 s", { retryAfterMs: 120, refusal: "rate_limit" });
    return inputs.map(() => Float32Array.from([1, 0, 0]));
  });
  const started = Date.now();
  await vs.addFile(caller, s, "file-a", null, undefined, "file_id");
  await vs.idle();
  const f = await vs.store.getFile(s.id, "file-a");
  assert.equal(f?.status, "completed", JSON.stringify(f?.last_error));
  assert.equal(calls, 2);
  assert.ok(Date.now() - started >= 100, "it waited the retry-after");
  await vs.close();
});

test("a budget refusal fails the file, saying so; nothing is retried", async () => {
  let calls = 0;
  const { vs, s } = await rig(async () => {
    calls++;
    throw new GatewayError("resource_exhausted", "budget exhausted: key k's day budget of $0.01", { retryAfterMs: 3_600_000, refusal: "budget" });
  });
  await vs.addFile(caller, s, "file-a", null, undefined, "file_id");
  await vs.idle();
  const f = await vs.store.getFile(s.id, "file-a");
  assert.equal(f?.status, "failed");
  assert.match(f!.last_error!.message, /budget exhausted/);
  assert.equal(calls, 1);
  await vs.close();
});

test("a text over the token limit is refused while it is read, before anything is embedded", async () => {
  await assert.rejects(chunkText("word ".repeat(500), { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 }, 100), (e: unknown) => e instanceof TooLong && /more than 100 tokens/.test((e as Error).message));
  assert.equal((await chunkText("word ".repeat(50), { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 }, 100)).length, 1);
});
