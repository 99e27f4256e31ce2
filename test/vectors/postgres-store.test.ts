// The PostgreSQL vector store store against a private PostgreSQL: the shared contract suite,
// everything still there for a new store on the same database, two replicas finishing files of one
// vector store at once without losing a count, migrating again harmless, and the columns beside
// each record kept in step with it.

import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { migrate, MIGRATIONS } from "../../src/control/migrations.ts";
import { createPostgresVectorStoreStore } from "../../src/vectors/postgres-store.ts";
import type { VectorStoreStore } from "../../src/vectors/store.ts";
import { postgresForFile, queryRows } from "../helpers/postgres.ts";
import { assertChunks, chunksOf, fileOf, storeOf, vectorStoreSuite } from "./store-suite.ts";

// A private cluster for this file; every database the tests make goes with it.
const pgFile = postgresForFile("vectors");
const { available, freshDb, need } = pgFile;

interface Logged {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}
const open = (url: string, logged: Logged[] = []) => createPostgresVectorStoreStore(url, { log: (level, msg, fields) => logged.push({ level, msg, fields }) });

const sql = queryRows;

if (available) vectorStoreSuite("postgres vector store store", async () => ({ store: await open(await freshDb()) }));

test("everything written is there for a new store on the same database: stores, files, chunks, claims, revisions", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const a = await open(url);
  try {
    await a.putStore(storeOf("vs_1", 1_700_000_000, { key: "alice", team: "red" }, { metadata: { k: "v" }, expires_at: 1_800_000_000 }));
    await a.putFile(fileOf("vs_1", "file-1", 1_700_000_001, { attributes: { lang: "en" } }));
    await a.putFile(fileOf("vs_1", "file-2", 1_700_000_002));
    assert.equal(await a.finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 4, 256), usageBytes: 400 }), true);
    assert.equal(await a.claimFile("vs_1", "file-2", 1_700_000_003_456, 1_700_000_000_000), true);
    await a.updateStore("vs_1", (v) => ({ ...v, name: "kept", embedding: { deployment: "embed", dimensions: 256 } }));
  } finally {
    await a.close();
  }

  const b = await open(url);
  try {
    const v = await b.getStore("vs_1");
    assert.ok(v);
    assert.equal(v.name, "kept");
    assert.deepEqual(v.embedding, { deployment: "embed", dimensions: 256 });
    assert.deepEqual(v.metadata, { k: "v" });
    assert.deepEqual({ counts: v.file_counts, bytes: v.usage_bytes, status: v.status, revision: v.revision }, {
      counts: { in_progress: 1, completed: 1, failed: 0, cancelled: 0, total: 2 },
      bytes: 400,
      status: "in_progress",
      revision: 3,
    });
    assert.deepEqual(await b.getFile("vs_1", "file-1"), fileOf("vs_1", "file-1", 1_700_000_001, { attributes: { lang: "en" }, status: "completed", usage_bytes: 400 }));
    assert.equal((await b.getFile("vs_1", "file-2"))?.indexing_since, 1_700_000_003_456);
    assertChunks(await b.fileChunks("vs_1", "file-1"), chunksOf("file-1", 4, 256));
    const c = await b.chunks("vs_1");
    assert.equal(c.revision, 3);
    assertChunks(c.chunks, chunksOf("file-1", 4, 256));
    assert.equal(await b.claimFile("vs_1", "file-2", 1_700_000_004_000, 1_700_000_003_456), false, "the claim outlived the store that made it");
  } finally {
    await b.close();
  }
});

test("two replicas adding files to one store at once under a limit: exactly the limit is added", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const replicas: VectorStoreStore[] = [await open(url), await open(url)];
  try {
    await replicas[0].putStore(storeOf("vs_1", 100));
    const added = await Promise.all(Array.from({ length: 12 }, (_, i) => replicas[i % 2].putFile(fileOf("vs_1", `file-${i}`, 101 + i), 5)));
    assert.equal(added.filter(Boolean).length, 5);
    assert.equal((await replicas[1].getStore("vs_1"))?.file_counts.total, 5);
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
});

test("two replicas finishing different files of one vector store at once: exact counts, a revision moved on for each", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const replicas: VectorStoreStore[] = [await open(url), await open(url)];
  try {
    const n = 20;
    await replicas[0].putStore(storeOf("vs_1", 100));
    // Files put from both replicas at once too.
    await Promise.all(Array.from({ length: n }, (_, i) => replicas[i % 2].putFile(fileOf("vs_1", `file-${String(i).padStart(2, "0")}`, 101 + i))));
    assert.equal((await replicas[1].getStore("vs_1"))?.file_counts.in_progress, n);
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => replicas[i % 2].finishFile("vs_1", `file-${String(i).padStart(2, "0")}`, { chunks: chunksOf(`file-${i}`, 3, 64), usageBytes: 100 + i })),
    );
    assert.deepEqual(results, Array(n).fill(true));
    for (const r of replicas) {
      const v = (await r.getStore("vs_1"))!;
      assert.deepEqual(v.file_counts, { in_progress: 0, completed: n, failed: 0, cancelled: 0, total: n });
      assert.equal(v.usage_bytes, Array.from({ length: n }, (_, i) => 100 + i).reduce((x, y) => x + y));
      assert.equal(v.status, "completed");
      assert.equal(v.revision, 2 * n, "one move per put and per finish");
      const c = await r.chunks("vs_1");
      assert.equal(c.revision, 2 * n);
      assert.equal(c.chunks.length, 3 * n);
      assert.equal(c.files.size, n);
    }
    // Finishing again from either replica is refused: each file finished exactly once.
    const again = await Promise.all(replicas.map((r) => r.finishFile("vs_1", "file-00", { status: "failed" })));
    assert.deepEqual(again, [false, false]);

    // Deleting from both replicas at once while the other adds: counts still exact.
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => replicas[i % 2].deleteFile("vs_1", `file-${String(i).padStart(2, "0")}`)),
      ...Array.from({ length: 5 }, (_, i) => replicas[(i + 1) % 2].putFile(fileOf("vs_1", `file-new-${i}`, 200 + i))),
      ...Array.from({ length: 5 }, (_, i) => replicas[i % 2].setAttributes("vs_1", `file-${10 + i}`, { i })),
    ]);
    const v = (await replicas[0].getStore("vs_1"))!;
    assert.deepEqual(v.file_counts, { in_progress: 5, completed: 10, failed: 0, cancelled: 0, total: 15 });
    assert.equal(v.status, "in_progress");
    assert.equal(v.revision, 2 * n + 20);
    const rows = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM signalbox_vector_store_chunks");
    assert.equal(rows[0].n, 3 * 10, "deleted files' chunks are gone");
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
});

test("migrating again is harmless: two stores opening a fresh database at once, a third later, migrate() by hand", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const logs: Logged[][] = [[], [], []];
  const stores: VectorStoreStore[] = await Promise.all([open(url, logs[0]), open(url, logs[1])]);
  stores.push(await open(url, logs[2]));
  try {
    const applied = logs.map((l) => l.find((e) => e.msg === "vector store: postgres ready")?.fields?.migrationsApplied as number[]);
    const every = MIGRATIONS.map((m) => m.version);
    assert.ok(every.includes(23));
    assert.deepEqual([...applied.slice(0, 2)].sort((x, y) => y.length - x.length), [every, []], "one of the two applied everything, the other nothing");
    assert.deepEqual(applied[2], []);
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      assert.deepEqual(await migrate(pool), []);
    } finally {
      await pool.end();
    }
    const rows = await sql<{ version: number; n: number }>(url, "SELECT version, count(*)::int AS n FROM signalbox_migrations GROUP BY version ORDER BY version");
    assert.deepEqual(
      rows.map((r) => [r.version, r.n]),
      every.map((v) => [v, 1]),
    );
    await stores[0].putStore(storeOf("vs_1", 1));
    await stores[1].putFile(fileOf("vs_1", "file-1", 2));
    assert.equal(await stores[2].finishFile("vs_1", "file-1", { chunks: chunksOf("file-1", 1), usageBytes: 1 }), true);
    assert.equal((await stores[0].getStore("vs_1"))?.file_counts.completed, 1);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test("the columns beside each record follow it: owner, created_at, expires_at, status, revision; a file's status, bytes and claim", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const s = await open(url);
  try {
    await s.putStore(storeOf("vs_1", 1_700_000_000, { key: "alice", team: "red" }, { expires_at: 1_700_003_600 }));
    const storeRow = async () =>
      (
        await sql<{ created: number; owner_team: string; owner_key: string; expires: number | null; status: string; meta_status: string; revision: number; meta_revision: number }>(
          url,
          `SELECT extract(epoch FROM created_at)::float8 AS created, owner_team, owner_key, extract(epoch FROM expires_at)::float8 AS expires,
                  status, meta->>'status' AS meta_status, revision::int AS revision, (meta->>'revision')::int AS meta_revision
           FROM signalbox_vector_stores WHERE id = 'vs_1'`,
        )
      )[0];
    assert.deepEqual(await storeRow(), { created: 1_700_000_000, owner_team: "red", owner_key: "alice", expires: 1_700_003_600, status: "completed", meta_status: "completed", revision: 0, meta_revision: 0 });
    await s.putFile(fileOf("vs_1", "file-1", 1_700_000_001));
    assert.deepEqual(await storeRow(), { created: 1_700_000_000, owner_team: "red", owner_key: "alice", expires: 1_700_003_600, status: "in_progress", meta_status: "in_progress", revision: 1, meta_revision: 1 });
    await s.updateStore("vs_1", (v) => ({ ...v, owner: { key: "bob", team: "blue" }, expires_at: null }));
    assert.deepEqual(await storeRow(), { created: 1_700_000_000, owner_team: "blue", owner_key: "bob", expires: null, status: "in_progress", meta_status: "in_progress", revision: 1, meta_revision: 1 });
    assert.deepEqual((await s.listStores({ limit: 10, visibility: { team: "blue" } })).data.map((x) => x.id), ["vs_1"]);
    assert.deepEqual((await s.listStores({ limit: 10, visibility: { key: "alice" } })).data, []);
    await s.updateStore("vs_1", (v) => ({ ...v, expires_at: 1_700_000_500 }));
    assert.equal(await s.expireStores(1_700_000_500), 1);
    assert.deepEqual(await storeRow(), { created: 1_700_000_000, owner_team: "blue", owner_key: "bob", expires: 1_700_000_500, status: "expired", meta_status: "expired", revision: 2, meta_revision: 2 });

    await s.putStore(storeOf("vs_2", 1_700_000_000));
    await s.putFile(fileOf("vs_2", "file-1", 1_700_000_001));
    assert.equal(await s.claimFile("vs_2", "file-1", 1_700_000_000_123, 1_700_000_000_000), true);
    const fileRow = async () =>
      (
        await sql<{ status: string; meta_status: string; usage_bytes: number; meta_bytes: number; since: number | null; in_meta: boolean }>(
          url,
          `SELECT status, meta->>'status' AS meta_status, usage_bytes::int AS usage_bytes, (meta->>'usage_bytes')::int AS meta_bytes,
                  (extract(epoch FROM indexing_since) * 1000)::float8 AS since, meta ? 'indexing_since' AS in_meta
           FROM signalbox_vector_store_files WHERE store_id = 'vs_2' AND file_id = 'file-1'`,
        )
      )[0];
    assert.deepEqual(await fileRow(), { status: "in_progress", meta_status: "in_progress", usage_bytes: 0, meta_bytes: 0, since: 1_700_000_000_123, in_meta: false });
    await s.finishFile("vs_2", "file-1", { chunks: chunksOf("file-1", 2), usageBytes: 77 });
    assert.deepEqual(await fileRow(), { status: "completed", meta_status: "completed", usage_bytes: 77, meta_bytes: 77, since: null, in_meta: false });
    // Vectors are little-endian float32 bytes.
    const [c] = await sql<{ vector: Buffer }>(url, "SELECT vector FROM signalbox_vector_store_chunks WHERE store_id = 'vs_2' AND file_id = 'file-1' AND n = 1");
    const want = chunksOf("file-1", 2)[1].vector;
    assert.equal(c.vector.length, want.length * 4);
    assert.equal(c.vector.readFloatLE(0), want[0]);
  } finally {
    await s.close();
  }
});

test("a file of many chunks is stored over several statements and read back whole, in order", async (t) => {
  if (!need(t)) return;
  const s = await open(await freshDb());
  try {
    await s.putStore(storeOf("vs_1", 1));
    await s.putFile(fileOf("vs_1", "file-big", 2));
    // 2,500 chunks of 1,536 dimensions: more rows and more bytes than one insert takes.
    const chunks = chunksOf("file-big", 2_500, 1_536);
    assert.equal(await s.finishFile("vs_1", "file-big", { chunks, usageBytes: 1 }), true);
    assertChunks(await s.fileChunks("vs_1", "file-big"), chunks);
    assert.equal((await s.chunks("vs_1")).chunks.length, 2_500);
  } finally {
    await s.close();
  }
});
