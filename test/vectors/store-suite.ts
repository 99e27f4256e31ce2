// The contract every vector store store must keep (memory-store.test.ts and postgres-store.test.ts
// run it): a store's counts, bytes, status and revision following every change of its files;
// finishing and claiming as compare-and-set; chunks only of completed files, vectors exact; list
// order, paging both ways and visibility; deletion and expiry. Each test opens an empty store.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Chunk, FileBatchRecord, FileCounts, ListPage, Owner, VectorStoreFileRecord, VectorStoreRecord, VectorStoreStore } from "../../src/vectors/store.ts";

const ALICE: Owner = { key: "alice", team: "red" };
const BOB: Owner = { key: "bob", team: "red" };
const CAROL: Owner = { key: "carol", team: "blue" };

export function storeOf(id: string, createdAt: number, owner: Owner = ALICE, extra: Partial<VectorStoreRecord> = {}): VectorStoreRecord {
  return {
    id,
    object: "vector_store",
    created_at: createdAt,
    name: `store ${id}`,
    usage_bytes: 0,
    file_counts: { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 },
    status: "completed",
    expires_at: null,
    last_active_at: createdAt,
    metadata: null,
    revision: 0,
    owner,
    ...extra,
  };
}

export function fileOf(storeId: string, id: string, createdAt: number, extra: Partial<VectorStoreFileRecord> = {}): VectorStoreFileRecord {
  return {
    id,
    object: "vector_store.file",
    usage_bytes: 0,
    created_at: createdAt,
    vector_store_id: storeId,
    status: "in_progress",
    last_error: null,
    chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } },
    attributes: null,
    filename: `${id}.txt`,
    ...extra,
  };
}

/**
 * `count` chunks of a file whose vectors hold floats that only an exact store returns: not exact in
 * decimal, subnormal, the largest float32, negative zero.
 */
export function chunksOf(fileId: string, count: number, dims = 8): Chunk[] {
  return Array.from({ length: count }, (_, n) => {
    const v = new Float32Array(dims);
    const specials = [0.1, -1 / 3, 1.4e-45, 3.4028234663852886e38, -0, 1e-7, Math.PI, -2.5];
    // The first dimension tells chunks apart; the rest cycle through the specials, scaled past the first eight.
    for (let i = 0; i < dims; i++) v[i] = i === 0 ? n + 0.1 : specials[(i + n) % specials.length] / (1 + (i >> 3));
    return { fileId, n, text: `chunk ${n} of ${fileId}: "quoted", back\\slash, {braces}, naïve, 😀`, tokens: 10 + n, vector: v };
  });
}

/** Chunks compared field by field, vectors as Float32Arrays bit for bit (negative zero included). */
export function assertChunks(got: Chunk[], want: Chunk[], msg = "chunks"): void {
  assert.equal(got.length, want.length, `${msg}: how many`);
  got.forEach((c, i) => {
    const w = want[i];
    assert.deepEqual({ fileId: c.fileId, n: c.n, text: c.text, tokens: c.tokens }, { fileId: w.fileId, n: w.n, text: w.text, tokens: w.tokens }, `${msg}: chunk ${i}`);
    assert.ok(c.vector instanceof Float32Array, `${msg}: chunk ${i}'s vector is a Float32Array`);
    assert.equal(c.vector.length, w.vector.length);
    for (let j = 0; j < w.vector.length; j++) assert.ok(Object.is(c.vector[j], w.vector[j]), `${msg}: chunk ${i}, dimension ${j}: ${c.vector[j]} is not ${w.vector[j]}`);
  });
}

const counts = (c: Partial<FileCounts>): FileCounts => {
  const out = { in_progress: 0, completed: 0, failed: 0, cancelled: 0, ...c, total: 0 };
  out.total = out.in_progress + out.completed + out.failed + out.cancelled;
  return out;
};

/** What a store's bookkeeping is now. */
async function books(s: VectorStoreStore, id: string) {
  const v = await s.getStore(id);
  assert.ok(v, `store ${id} exists`);
  return { file_counts: v.file_counts, usage_bytes: v.usage_bytes, status: v.status, revision: v.revision };
}

const ids = <T extends { id: string }>(p: ListPage<T>) => ({ ids: p.data.map((x) => x.id), hasMore: p.hasMore });

export function vectorStoreSuite(name: string, make: () => Promise<{ store: VectorStoreStore; done?: () => Promise<void> }>): void {
  const use = (fn: (s: VectorStoreStore) => Promise<void>) => async () => {
    const { store, done } = await make();
    try {
      await fn(store);
    } finally {
      await store.close();
      await done?.();
    }
  };

  describe(`${name}: max_files`, () => {
    test(
      "putFile with a limit adds a file more only below it, replaces one already there, and says which",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        assert.equal(await s.putFile(fileOf("vs_1", "file-1", 101), 2), true);
        assert.equal(await s.putFile(fileOf("vs_1", "file-2", 102), 2), true);
        assert.equal(await s.putFile(fileOf("vs_1", "file-3", 103), 2), false, "a third is refused");
        assert.equal(await s.putFile(fileOf("vs_1", "file-2", 104), 2), true, "replacing is not one more");
        assert.equal(await s.putFile(fileOf("vs_nope", "file-1", 105), 2), false, "no such store");
        assert.equal((await s.getStore("vs_1"))?.file_counts.total, 2);
        assert.equal(await s.getFile("vs_1", "file-3"), undefined);
      }),
    );
  });

  describe(`${name}: stores`, () => {
    test(
      "a store round-trips exactly; put again it is replaced; what a caller does to what it got changes nothing; unknown ids are undefined",
      use(async (s) => {
        const v = storeOf("vs_1", 1_700_000_000, ALICE, {
          metadata: { project: "x", "ü": "ß" },
          expires_after: { anchor: "last_active_at", days: 7 },
          expires_at: 1_700_604_800,
          embedding: { deployment: "embed-small", dimensions: 8 },
        });
        await s.putStore(v);
        assert.deepEqual(await s.getStore("vs_1"), v);
        const mine = (await s.getStore("vs_1"))!;
        mine.name = "changed";
        mine.owner.team = "changed";
        mine.file_counts.total = 99;
        assert.deepEqual(await s.getStore("vs_1"), v);
        const again = { ...v, name: "renamed", metadata: null, owner: CAROL };
        await s.putStore(again);
        assert.deepEqual(await s.getStore("vs_1"), again);
        assert.equal(await s.getStore("vs_nope"), undefined);
      }),
    );

    test(
      "listStores pages newest first (ties by id, descending) and oldest first, with after, before and hasMore",
      use(async (s) => {
        const put: [string, number][] = [
          ["vs_05", 150],
          ["vs_02", 200],
          ["vs_07", 50],
          ["vs_04", 300],
          ["vs_00", 200],
          ["vs_01", 100],
          ["vs_03", 200],
        ];
        for (const [id, at] of put) await s.putStore(storeOf(id, at));
        const desc = ["vs_04", "vs_03", "vs_02", "vs_00", "vs_05", "vs_01", "vs_07"];
        const asc = [...desc].reverse();

        assert.deepEqual(ids(await s.listStores({ limit: 100 })), { ids: desc, hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 3 })), { ids: desc.slice(0, 3), hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 3, after: "vs_02" })), { ids: ["vs_00", "vs_05", "vs_01"], hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 3, after: "vs_01" })), { ids: ["vs_07"], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 7 })), { ids: desc, hasMore: false }, "a page that holds exactly the rest has no more");
        assert.deepEqual(ids(await s.listStores({ limit: 3, after: "vs_07" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 3, after: "vs_nope" })), { ids: [], hasMore: false }, "an unknown cursor ends the list");

        // Backwards: the page just before `before`, in list order; hasMore says whether more lie before it.
        assert.deepEqual(ids(await s.listStores({ limit: 2, before: "vs_00" })), { ids: ["vs_03", "vs_02"], hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 3, before: "vs_00" })), { ids: ["vs_04", "vs_03", "vs_02"], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 10, before: "vs_07" })), { ids: desc.slice(0, 6), hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 3, before: "vs_04" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 3, before: "vs_nope" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 3, before: "vs_00", after: "vs_04" })), { ids: ["vs_04", "vs_03", "vs_02"], hasMore: false }, "before wins over after");

        assert.deepEqual(ids(await s.listStores({ limit: 100, order: "asc" })), { ids: asc, hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 4, order: "asc" })), { ids: ["vs_07", "vs_01", "vs_05", "vs_00"], hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 4, order: "asc", after: "vs_00" })), { ids: ["vs_02", "vs_03", "vs_04"], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 2, order: "asc", before: "vs_02" })), { ids: ["vs_05", "vs_00"], hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 5, order: "asc", before: "vs_02" })), { ids: ["vs_07", "vs_01", "vs_05", "vs_00"], hasMore: false });

        // Walking every page forwards, then backwards from the end, visits each store once, in order.
        const forwards: string[] = [];
        for (let after: string | undefined; ; ) {
          const p = await s.listStores({ limit: 2, after });
          forwards.push(...p.data.map((x) => x.id));
          if (!p.hasMore) break;
          after = p.data.at(-1)!.id;
        }
        assert.deepEqual(forwards, desc);
        const backwards: string[] = ["vs_07"];
        for (let before = "vs_07"; ; ) {
          const p = await s.listStores({ limit: 2, before });
          backwards.unshift(...p.data.map((x) => x.id));
          if (!p.hasMore) break;
          before = p.data[0].id;
        }
        assert.deepEqual(backwards, desc);
      }),
    );

    test(
      "listStores shows a team its stores and a key its own; a cursor outside what the caller sees ends the list",
      use(async (s) => {
        await s.putStore(storeOf("vs_a1", 1, ALICE));
        await s.putStore(storeOf("vs_b1", 2, BOB));
        await s.putStore(storeOf("vs_c1", 3, CAROL));
        await s.putStore(storeOf("vs_a2", 4, ALICE));
        assert.deepEqual(ids(await s.listStores({ limit: 10 })).ids, ["vs_a2", "vs_c1", "vs_b1", "vs_a1"]);
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: {} })).ids, ["vs_a2", "vs_c1", "vs_b1", "vs_a1"]);
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: { team: "red" } })).ids, ["vs_a2", "vs_b1", "vs_a1"]);
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: { key: "alice" } })).ids, ["vs_a2", "vs_a1"]);
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: { team: "blue", key: "alice" } })).ids, []);
        assert.deepEqual(ids(await s.listStores({ limit: 1, visibility: { team: "red" } })), { ids: ["vs_a2"], hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 1, visibility: { team: "red" }, after: "vs_a2" })), { ids: ["vs_b1"], hasMore: true });
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: { team: "red" }, after: "vs_c1" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: { team: "red" }, before: "vs_c1" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listStores({ limit: 10, visibility: { key: "alice" }, before: "vs_a1" })), { ids: ["vs_a2"], hasMore: false });
      }),
    );

    test(
      "updateStore changes the store's own fields; counts, bytes, status and revision stay the store's; unknown ids are undefined",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putFile(fileOf("vs_1", "file-1", 101));
        await s.putFile(fileOf("vs_1", "file-2", 102));
        assert.equal(await s.finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 2), usageBytes: 40 }), true);
        const before = await books(s, "vs_1");
        assert.deepEqual(before, { file_counts: counts({ in_progress: 1, completed: 1 }), usage_bytes: 40, status: "in_progress", revision: 3 });

        const got = await s.updateStore("vs_1", (v) => ({
          ...v,
          id: "vs_other",
          name: "renamed",
          metadata: { a: "b" },
          expires_after: { anchor: "last_active_at", days: 2 },
          expires_at: 500,
          last_active_at: 300,
          embedding: { deployment: "embed", dimensions: 8 },
          // None of these are the caller's to change.
          file_counts: counts({ failed: 9 }),
          usage_bytes: 1,
          status: "completed",
          revision: 77,
        }));
        const want = {
          ...storeOf("vs_1", 100),
          name: "renamed",
          metadata: { a: "b" },
          expires_after: { anchor: "last_active_at" as const, days: 2 },
          expires_at: 500,
          last_active_at: 300,
          embedding: { deployment: "embed", dimensions: 8 },
          ...before,
        };
        assert.deepEqual(got, want);
        assert.deepEqual(await s.getStore("vs_1"), want);
        assert.equal(await s.getStore("vs_other"), undefined);

        // The change sees the store as it is now (a copy: changing it in place changes nothing unless returned).
        let seen: VectorStoreRecord | undefined;
        await s.updateStore("vs_1", (v) => {
          seen = structuredClone(v);
          v.name = "in place";
          return v;
        });
        assert.deepEqual(seen, want);
        assert.equal((await s.getStore("vs_1"))?.name, "in place");

        // Counts still follow the files after an update.
        await s.finishFile("vs_1", "file-2", { status: "failed" });
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ completed: 1, failed: 1 }), usage_bytes: 40, status: "completed", revision: 4 });

        // A store may be marked expired by an update, and an expired store stays expired.
        await s.updateStore("vs_1", (v) => ({ ...v, status: "expired" }));
        assert.equal((await s.getStore("vs_1"))?.status, "expired");
        await s.updateStore("vs_1", (v) => ({ ...v, status: "completed" }));
        assert.equal((await s.getStore("vs_1"))?.status, "expired");

        let called = false;
        assert.equal(
          await s.updateStore("vs_nope", (v) => {
            called = true;
            return v;
          }),
          undefined,
        );
        assert.equal(called, false);
      }),
    );

    test(
      "deleteStore removes the store with its files and chunks; false when there was none",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putStore(storeOf("vs_2", 101));
        for (const id of ["vs_1", "vs_2"]) {
          await s.putFile(fileOf(id, "file-1", 102));
          await s.finishFile(id, "file-1", { chunks: chunksOf("file-1", 3), usageBytes: 30 });
        }
        assert.equal(await s.deleteStore("vs_1"), true);
        assert.equal(await s.getStore("vs_1"), undefined);
        assert.equal(await s.getFile("vs_1", "file-1"), undefined);
        assert.deepEqual(await s.fileChunks("vs_1", "file-1"), []);
        const gone = await s.chunks("vs_1");
        assert.equal(gone.chunks.length, 0);
        assert.equal(gone.files.size, 0);
        assert.deepEqual((await s.listFiles("vs_1", { limit: 10 })).data, []);
        assert.deepEqual(ids(await s.listStores({ limit: 10 })).ids, ["vs_2"]);
        assert.equal(await s.deleteStore("vs_1"), false);

        // The other store is untouched.
        assertChunks(await s.fileChunks("vs_2", "file-1"), chunksOf("file-1", 3));

        // A store made again under the same id starts without files.
        await s.putStore(storeOf("vs_1", 200));
        assert.deepEqual((await s.listFiles("vs_1", { limit: 10 })).data, []);
        assert.deepEqual(await s.fileChunks("vs_1", "file-1"), []);
      }),
    );

    test(
      "expireStores marks stores whose expires_at has passed expired and drops their chunks, once; returns how many",
      use(async (s) => {
        await s.putStore(storeOf("vs_past", 1, ALICE, { expires_at: 1_000 }));
        await s.putStore(storeOf("vs_now", 2, ALICE, { expires_at: 2_000 }));
        await s.putStore(storeOf("vs_future", 3, ALICE, { expires_at: 2_001 }));
        await s.putStore(storeOf("vs_never", 4));
        for (const id of ["vs_past", "vs_now", "vs_future", "vs_never"]) {
          await s.putFile(fileOf(id, "file-1", 10));
          await s.finishFile(id, "file-1", { chunks: chunksOf("file-1", 2), usageBytes: 20 });
        }
        const revision = (await books(s, "vs_past")).revision;

        assert.equal(await s.expireStores(2_000), 2);
        for (const id of ["vs_past", "vs_now"]) {
          const v = (await s.getStore(id))!;
          assert.equal(v.status, "expired");
          assert.equal(v.revision, revision + 1, "the revision moves on: indexes of its chunks are stale");
          assert.deepEqual(await s.fileChunks(id, "file-1"), []);
          const c = await s.chunks(id);
          assert.equal(c.chunks.length, 0);
          assert.equal(c.revision, revision + 1);
        }
        for (const id of ["vs_future", "vs_never"]) {
          assert.deepEqual(await books(s, id), { file_counts: counts({ completed: 1 }), usage_bytes: 20, status: "completed", revision });
          assertChunks(await s.fileChunks(id, "file-1"), chunksOf("file-1", 2));
        }
        assert.equal(await s.expireStores(2_000), 0, "an expired store is not expired again");
        assert.equal((await s.getStore("vs_past"))?.revision, revision + 1);
        assert.equal(await s.expireStores(10_000), 1);
        assert.equal((await s.getStore("vs_future"))?.status, "expired");
        assert.equal((await s.getStore("vs_never"))?.status, "completed");
        assert.equal(await s.expireStores(10_000), 0);
      }),
    );
  });

  describe(`${name}: file batches`, () => {
    test(
      "a file batch round-trips, put again it is replaced; it belongs to its store, is not kept without one and goes with it",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putStore(storeOf("vs_2", 100));
        const b: FileBatchRecord = { id: "vsfb_1", vector_store_id: "vs_1", created_at: 101, file_ids: ["file-1", "file-2"] };
        await s.putFileBatch(b);
        assert.deepEqual(await s.getFileBatch("vs_1", "vsfb_1"), b);
        const mine = (await s.getFileBatch("vs_1", "vsfb_1"))!;
        mine.file_ids.push("file-3");
        assert.deepEqual(await s.getFileBatch("vs_1", "vsfb_1"), b);
        const cancelled = { ...b, cancelled_at: 150 };
        await s.putFileBatch(cancelled);
        assert.deepEqual(await s.getFileBatch("vs_1", "vsfb_1"), cancelled);
        assert.equal(await s.getFileBatch("vs_2", "vsfb_1"), undefined, "a batch belongs to its store");
        assert.equal(await s.getFileBatch("vs_1", "vsfb_nope"), undefined);

        await s.putFileBatch({ id: "vsfb_2", vector_store_id: "vs_nope", created_at: 1, file_ids: [] });
        assert.equal(await s.getFileBatch("vs_nope", "vsfb_2"), undefined);

        await s.putFileBatch({ id: "vsfb_3", vector_store_id: "vs_2", created_at: 1, file_ids: ["file-9"] });
        await s.deleteStore("vs_1");
        assert.equal(await s.getFileBatch("vs_1", "vsfb_1"), undefined);
        await s.putStore(storeOf("vs_1", 200));
        assert.equal(await s.getFileBatch("vs_1", "vsfb_1"), undefined, "a store made again under the id has none of the old one's batches");
        assert.deepEqual(await s.getFileBatch("vs_2", "vsfb_3"), { id: "vsfb_3", vector_store_id: "vs_2", created_at: 1, file_ids: ["file-9"] });
      }),
    );
  });

  describe(`${name}: files`, () => {
    test(
      "putFile adds an in-progress file: counts, status and revision follow; usage_bytes is 0 until indexed; a store that is not there takes nothing",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        const f = fileOf("vs_1", "file-1", 101, { attributes: { lang: "en", year: 2024, draft: false, score: 0.25 }, filename: "Report 2024 (final).pdf" });
        await s.putFile(f);
        assert.deepEqual(await s.getFile("vs_1", "file-1"), f);
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ in_progress: 1 }), usage_bytes: 0, status: "in_progress", revision: 1 });

        // What a caller does to the file it got does not change the stored one.
        const mine = (await s.getFile("vs_1", "file-1"))!;
        mine.attributes!.lang = "changed";
        mine.chunking_strategy.static.max_chunk_size_tokens = 1;
        assert.deepEqual(await s.getFile("vs_1", "file-1"), f);

        await s.putFile(fileOf("vs_1", "file-2", 102, { usage_bytes: 999 }));
        assert.equal((await s.getFile("vs_1", "file-2"))?.usage_bytes, 0, "a file's bytes are its chunks', and it has none yet");
        assert.equal((await s.listFiles("vs_1", { limit: 10 })).data.find((x) => x.id === "file-2")?.usage_bytes, 0);
        assert.equal((await s.staleFiles(Number.MAX_SAFE_INTEGER, 10)).find((x) => x.id === "file-2")?.usage_bytes, 0);
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ in_progress: 2 }), usage_bytes: 0, status: "in_progress", revision: 2 });

        await s.putFile(fileOf("vs_nope", "file-1", 103));
        assert.equal(await s.getFile("vs_nope", "file-1"), undefined);
        assert.equal(await s.getStore("vs_nope"), undefined);
        assert.equal(await s.getFile("vs_1", "file-nope"), undefined);
        assert.equal(await s.getFile("vs_2", "file-1"), undefined, "a file belongs to its store");
      }),
    );

    test(
      "finishFile with chunks: the file completed with its bytes, the store's counts and bytes follow, chunks kept in order",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putFile(fileOf("vs_1", "file-1", 101, { indexing_since: 5_000 }));
        await s.putFile(fileOf("vs_1", "file-2", 102));
        const chunks = chunksOf("file-1", 5, 16);
        assert.equal(await s.finishFile("vs_1", "file-1", { chunks, usageBytes: 1234 }), true);
        const got = await s.getFile("vs_1", "file-1");
        assert.deepEqual(got, fileOf("vs_1", "file-1", 101, { status: "completed", usage_bytes: 1234 }), "completed, its bytes, no error, indexing_since gone");
        assert.equal(got && "indexing_since" in got, false);
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ in_progress: 1, completed: 1 }), usage_bytes: 1234, status: "in_progress", revision: 3 });
        assertChunks(await s.fileChunks("vs_1", "file-1"), chunks);
        assert.deepEqual(await s.fileChunks("vs_1", "file-2"), []);
        assert.deepEqual(await s.fileChunks("vs_1", "file-nope"), []);

        assert.equal(await s.finishFile("vs_1", "file-2", { chunks: chunksOf("file-2", 1), usageBytes: 6 }), true);
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ completed: 2 }), usage_bytes: 1240, status: "completed", revision: 4 });

        // A file of no chunks completes too.
        await s.putFile(fileOf("vs_1", "file-empty", 103));
        assert.equal(await s.finishFile("vs_1", "file-empty", { chunks: [], usageBytes: 0 }), true);
        assert.equal((await s.getFile("vs_1", "file-empty"))?.status, "completed");
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ completed: 3 }), usage_bytes: 1240, status: "completed", revision: 6 });
      }),
    );

    test(
      "finishFile failed or cancelled: the status and error given, no chunks; refused (false, nothing changes) for a file not in progress",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putFile(fileOf("vs_1", "file-1", 101));
        await s.putFile(fileOf("vs_1", "file-2", 102));
        await s.putFile(fileOf("vs_1", "file-3", 103));
        const error = { code: "unsupported_file" as const, message: "no text in \"scan.pdf\"" };
        assert.equal(await s.finishFile("vs_1", "file-1", { status: "failed", error }), true);
        assert.deepEqual(await s.getFile("vs_1", "file-1"), fileOf("vs_1", "file-1", 101, { status: "failed", last_error: error }));
        assert.equal(await s.finishFile("vs_1", "file-2", { status: "cancelled" }), true);
        assert.deepEqual(await s.getFile("vs_1", "file-2"), fileOf("vs_1", "file-2", 102, { status: "cancelled", last_error: null }));
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ in_progress: 1, failed: 1, cancelled: 1 }), usage_bytes: 0, status: "in_progress", revision: 5 });

        // No longer in progress: late chunks of a cancelled file are not kept; nothing moves.
        assert.equal(await s.finishFile("vs_1", "file-2", { chunks: chunksOf("file-2", 2), usageBytes: 20 }), false);
        assert.equal(await s.finishFile("vs_1", "file-1", { status: "cancelled" }), false);
        assert.deepEqual(await s.fileChunks("vs_1", "file-2"), []);
        assert.equal((await s.getFile("vs_1", "file-2"))?.status, "cancelled");
        assert.equal(await s.finishFile("vs_1", "file-3", { chunks: chunksOf("file-3", 1), usageBytes: 7 }), true);
        assert.equal(await s.finishFile("vs_1", "file-3", { chunks: chunksOf("file-3", 4), usageBytes: 70 }), false, "finished once");
        assertChunks(await s.fileChunks("vs_1", "file-3"), chunksOf("file-3", 1));
        const after = { file_counts: counts({ completed: 1, failed: 1, cancelled: 1 }), usage_bytes: 7, status: "completed" as const, revision: 6 };
        assert.deepEqual(await books(s, "vs_1"), after);

        // A file deleted meanwhile, or never there, or in no store.
        await s.putFile(fileOf("vs_1", "file-4", 104));
        await s.deleteFile("vs_1", "file-4");
        assert.equal(await s.finishFile("vs_1", "file-4", { chunks: chunksOf("file-4", 2), usageBytes: 20 }), false);
        assert.deepEqual(await s.fileChunks("vs_1", "file-4"), []);
        assert.equal(await s.getFile("vs_1", "file-4"), undefined);
        assert.equal(await s.finishFile("vs_1", "file-nope", { status: "failed" }), false);
        assert.equal(await s.finishFile("vs_nope", "file-1", { status: "failed" }), false);
        assert.deepEqual(await books(s, "vs_1"), { ...after, revision: 8 });
      }),
    );

    test(
      "putFile again replaces the file: its chunks dropped, back in progress, the store's bytes and counts follow",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putFile(fileOf("vs_1", "file-1", 101));
        await s.finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 3), usageBytes: 300 });
        const done = (await s.getFile("vs_1", "file-1"))!;
        assert.equal(done.usage_bytes, 300);
        await s.putFile({ ...done, status: "in_progress", attributes: { v: 2 } });
        assert.deepEqual(await s.getFile("vs_1", "file-1"), fileOf("vs_1", "file-1", 101, { attributes: { v: 2 } }));
        assert.deepEqual(await s.fileChunks("vs_1", "file-1"), []);
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ in_progress: 1 }), usage_bytes: 0, status: "in_progress", revision: 3 });
        assert.equal((await s.chunks("vs_1")).chunks.length, 0);
        assert.equal(await s.finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 2), usageBytes: 200 }), true);
        assertChunks(await s.fileChunks("vs_1", "file-1"), chunksOf("file-1", 2));
      }),
    );

    test(
      "deleteFile removes the file and its chunks, the store's counts follow; false when there was none",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putFile(fileOf("vs_1", "file-1", 101));
        await s.putFile(fileOf("vs_1", "file-2", 102));
        await s.finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 2), usageBytes: 50 });
        await s.finishFile("vs_1", "file-2", { chunks: chunksOf("file-2", 2), usageBytes: 70 });
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ completed: 2 }), usage_bytes: 120, status: "completed", revision: 4 });
        assert.equal(await s.deleteFile("vs_1", "file-1"), true);
        assert.equal(await s.getFile("vs_1", "file-1"), undefined);
        assert.deepEqual(await s.fileChunks("vs_1", "file-1"), []);
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ completed: 1 }), usage_bytes: 70, status: "completed", revision: 5 });
        const c = await s.chunks("vs_1");
        assert.deepEqual([...c.files.keys()], ["file-2"]);
        assertChunks(c.chunks, chunksOf("file-2", 2));

        assert.equal(await s.deleteFile("vs_1", "file-1"), false);
        assert.equal(await s.deleteFile("vs_nope", "file-2"), false);
        assert.equal(await s.deleteFile("vs_1", "file-nope"), false);
        assert.equal((await books(s, "vs_1")).revision, 5, "nothing deleted, nothing moves");

        // Deleting the last file in progress completes the store.
        await s.putFile(fileOf("vs_1", "file-3", 103));
        assert.equal((await books(s, "vs_1")).status, "in_progress");
        await s.deleteFile("vs_1", "file-3");
        assert.deepEqual(await books(s, "vs_1"), { file_counts: counts({ completed: 1 }), usage_bytes: 70, status: "completed", revision: 7 });
      }),
    );

    test(
      "setAttributes changes a file's attributes and moves the revision on; counts stay; unknown files are undefined",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putFile(fileOf("vs_1", "file-1", 101, { attributes: { old: "x" } }));
        await s.finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 1), usageBytes: 9 });
        const before = await books(s, "vs_1");
        const attrs = { author: "Ann \"A\" O'Neil", year: 1999, public: true, weight: -1.5 };
        const got = await s.setAttributes("vs_1", "file-1", attrs);
        const want = fileOf("vs_1", "file-1", 101, { status: "completed", usage_bytes: 9, attributes: attrs });
        assert.deepEqual(got, want);
        assert.deepEqual(await s.getFile("vs_1", "file-1"), want);
        assert.deepEqual(await books(s, "vs_1"), { ...before, revision: before.revision + 1 });
        assert.deepEqual((await s.chunks("vs_1")).files.get("file-1"), { filename: "file-1.txt", attributes: attrs });
        attrs.author = "changed";
        assert.equal((await s.getFile("vs_1", "file-1"))?.attributes?.author, "Ann \"A\" O'Neil");

        assert.deepEqual(await s.setAttributes("vs_1", "file-1", null), { ...want, attributes: null });
        assert.deepEqual((await s.chunks("vs_1")).files.get("file-1"), { filename: "file-1.txt", attributes: null });
        assert.equal((await books(s, "vs_1")).revision, before.revision + 2);

        assert.equal(await s.setAttributes("vs_1", "file-nope", { a: 1 }), undefined);
        assert.equal(await s.setAttributes("vs_nope", "file-1", { a: 1 }), undefined);
        assert.equal((await books(s, "vs_1")).revision, before.revision + 2);
      }),
    );

    test(
      "claimFile and staleFiles: an in-progress file never started or gone quiet is taken, once per start; others are not",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putStore(storeOf("vs_2", 100));
        await s.putFile(fileOf("vs_1", "file-new", 101));
        await s.putFile(fileOf("vs_1", "file-quiet", 102, { indexing_since: 1_000 }));
        await s.putFile(fileOf("vs_2", "file-busy", 103, { indexing_since: 9_000 }));
        await s.putFile(fileOf("vs_1", "file-done", 104));
        await s.finishFile("vs_1", "file-done", { chunks: [], usageBytes: 0 });
        const revision = (await books(s, "vs_1")).revision;
        const stale = async (before: number, limit = 10) => (await s.staleFiles(before, limit)).map((f) => `${f.vector_store_id}/${f.id}`).sort();

        assert.deepEqual(await stale(5_000), ["vs_1/file-new", "vs_1/file-quiet"]);
        assert.deepEqual(await stale(1_000), ["vs_1/file-new"], "started at the bound: not stale");
        assert.deepEqual(await stale(9_001), ["vs_1/file-new", "vs_1/file-quiet", "vs_2/file-busy"]);
        assert.equal((await s.staleFiles(9_001, 2)).length, 2);
        assert.equal((await s.staleFiles(9_001, 1)).length, 1);
        assert.deepEqual(await s.staleFiles(9_001, 0), []);
        // A stale file reads as getFile shows it.
        assert.deepEqual(
          (await s.staleFiles(5_000, 10)).find((f) => f.id === "file-quiet"),
          await s.getFile("vs_1", "file-quiet"),
        );

        assert.equal(await s.claimFile("vs_1", "file-new", 6_000, 5_000), true, "never started");
        assert.equal(await s.claimFile("vs_1", "file-new", 6_001, 5_000), false, "just claimed");
        assert.equal((await s.getFile("vs_1", "file-new"))?.indexing_since, 6_000);
        assert.equal(await s.claimFile("vs_1", "file-quiet", 6_000, 1_000), false, "started at the bound");
        assert.equal(await s.claimFile("vs_1", "file-quiet", 6_000, 1_001), true, "gone quiet");
        assert.equal((await s.getFile("vs_1", "file-quiet"))?.indexing_since, 6_000);
        assert.equal(await s.claimFile("vs_2", "file-busy", 6_000, 5_000), false);
        assert.equal(await s.claimFile("vs_1", "file-done", 6_000, 99_000), false, "not in progress");
        assert.equal(await s.claimFile("vs_1", "file-nope", 6_000, 99_000), false);
        assert.equal(await s.claimFile("vs_2", "file-new", 6_000, 99_000), false, "a file belongs to its store");
        assert.deepEqual(await stale(6_000), []);
        assert.deepEqual(await stale(6_001), ["vs_1/file-new", "vs_1/file-quiet"]);
        assert.equal((await books(s, "vs_1")).revision, revision, "claiming changes no chunks");

        // Of several claims at once on one start, one wins.
        const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => s.claimFile("vs_1", "file-new", 20_000 + i, 10_000)));
        assert.equal(wins.filter(Boolean).length, 1);

        // Finishing ends the claim.
        await s.finishFile("vs_1", "file-quiet", { status: "failed" });
        assert.equal("indexing_since" in (await s.getFile("vs_1", "file-quiet"))!, false);
        assert.deepEqual(await stale(99_000), ["vs_1/file-new", "vs_2/file-busy"]);
        assert.deepEqual(await stale(Infinity), ["vs_1/file-new", "vs_2/file-busy"], "every start is before Infinity");
        assert.equal(await s.claimFile("vs_2", "file-busy", 30_000, Infinity), true);
      }),
    );

    test(
      "chunks(): completed files' chunks only, with their names and attributes and the store's revision; vectors exact",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putStore(storeOf("vs_2", 100));
        await s.putFile(fileOf("vs_1", "file-a", 101, { filename: "a.md", attributes: { lang: "en" } }));
        await s.putFile(fileOf("vs_1", "file-b", 102, { filename: "b.pdf" }));
        await s.putFile(fileOf("vs_1", "file-failed", 103));
        await s.putFile(fileOf("vs_1", "file-pending", 104));
        await s.putFile(fileOf("vs_2", "file-a", 105, { filename: "other.md" }));
        const a = chunksOf("file-a", 3, 1536);
        const b = chunksOf("file-b", 2, 1536);
        await s.finishFile("vs_1", "file-a", { chunks: a, usageBytes: 30 });
        await s.finishFile("vs_1", "file-b", { chunks: b, usageBytes: 20 });
        await s.finishFile("vs_1", "file-failed", { status: "failed", error: { code: "server_error", message: "embedding failed" } });
        await s.finishFile("vs_2", "file-a", { chunks: chunksOf("file-a", 7), usageBytes: 70 });

        const got = await s.chunks("vs_1");
        assert.equal(got.revision, (await books(s, "vs_1")).revision);
        assert.deepEqual(
          new Map([...got.files].sort(([x], [y]) => (x < y ? -1 : 1))),
          new Map([
            ["file-a", { filename: "a.md", attributes: { lang: "en" } }],
            ["file-b", { filename: "b.pdf", attributes: null }],
          ]),
        );
        const byFile = (fileId: string) => got.chunks.filter((c) => c.fileId === fileId).sort((x, y) => x.n - y.n);
        assert.equal(got.chunks.length, 5);
        assertChunks(byFile("file-a"), a, "file-a");
        assertChunks(byFile("file-b"), b, "file-b");
        assertChunks(await s.fileChunks("vs_1", "file-a"), a, "fileChunks");

        const none = await s.chunks("vs_nope");
        assert.deepEqual({ revision: none.revision, chunks: none.chunks, files: none.files.size }, { revision: 0, chunks: [], files: 0 });
      }),
    );

    test(
      "listFiles pages newest first and oldest first, with after, before, hasMore and a status filter",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        await s.putStore(storeOf("vs_2", 100));
        const put: [string, number][] = [
          ["file-05", 150],
          ["file-02", 200],
          ["file-07", 50],
          ["file-04", 300],
          ["file-00", 200],
          ["file-01", 100],
          ["file-03", 200],
        ];
        for (const [id, at] of put) await s.putFile(fileOf("vs_1", id, at));
        await s.putFile(fileOf("vs_2", "file-99", 250));
        for (const id of ["file-02", "file-01", "file-07"]) await s.finishFile("vs_1", id, { chunks: [], usageBytes: 0 });
        const desc = ["file-04", "file-03", "file-02", "file-00", "file-05", "file-01", "file-07"];

        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 100 })), { ids: desc, hasMore: false });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 3 })), { ids: desc.slice(0, 3), hasMore: true });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 3, after: "file-02" })), { ids: ["file-00", "file-05", "file-01"], hasMore: true });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 2, before: "file-00" })), { ids: ["file-03", "file-02"], hasMore: true });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 3, order: "asc", after: "file-05" })), { ids: ["file-00", "file-02", "file-03"], hasMore: true });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 3, order: "asc", before: "file-05" })), { ids: ["file-07", "file-01"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 3, after: "file-99" })), { ids: [], hasMore: false }, "a cursor of another store ends the list");

        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 10, status: "completed" })), { ids: ["file-02", "file-01", "file-07"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 1, status: "completed", after: "file-02" })), { ids: ["file-01"], hasMore: true });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 10, status: "completed", after: "file-03" })), { ids: [], hasMore: false }, "a cursor the filter leaves out ends the list");
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 10, status: "in_progress", order: "asc" })), { ids: ["file-05", "file-00", "file-03", "file-04"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles("vs_1", { limit: 10, status: "failed" })), { ids: [], hasMore: false });
        assert.deepEqual(ids(await s.listFiles("vs_2", { limit: 10 })), { ids: ["file-99"], hasMore: false });
        assert.deepEqual(ids(await s.listFiles("vs_nope", { limit: 10 })), { ids: [], hasMore: false });
        assert.deepEqual((await s.listFiles("vs_1", { limit: 1, status: "completed" })).data, [await s.getFile("vs_1", "file-02")]);
      }),
    );

    test(
      "files finished at once each count: the store ends with exact counts and a revision moved on for each",
      use(async (s) => {
        await s.putStore(storeOf("vs_1", 100));
        const n = 12;
        for (let i = 0; i < n; i++) await s.putFile(fileOf("vs_1", `file-${i}`, 101 + i));
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            i % 3 === 2 ? s.finishFile("vs_1", `file-${i}`, { status: "failed" }) : s.finishFile("vs_1", `file-${i}`, { chunks: chunksOf(`file-${i}`, 2), usageBytes: 10 + i }),
          ),
        );
        assert.deepEqual(results, Array(n).fill(true));
        const completed = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 2);
        assert.deepEqual(await books(s, "vs_1"), {
          file_counts: counts({ completed: completed.length, failed: n - completed.length }),
          usage_bytes: completed.reduce((sum, i) => sum + 10 + i, 0),
          status: "completed",
          revision: 2 * n,
        });
        assert.equal((await s.chunks("vs_1")).chunks.length, 2 * completed.length);
      }),
    );
  });
}
