// The PostgreSQL batch store against a private PostgreSQL: the shared contract suite, everything
// still there after a restart of the store, two replicas claiming at once never sharing a batch,
// migrating again (and from two replicas at once) harmless, the columns beside each record kept in
// step with it, and files larger than one read.

import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { createPostgresBatchStore } from "../../src/batch/postgres-store.ts";
import type { BatchStore } from "../../src/batch/store.ts";
import { migrate, MIGRATIONS } from "../../src/control/migrations.ts";
import { postgresForFile, queryRows } from "../helpers/postgres.ts";
import { BINARY, batchOf, batchStoreSuite, fileOf, resultOf } from "./store-suite.ts";

// A private cluster for this file; every database the tests make goes with it.
const pgFile = postgresForFile("batches");
const { available, freshDb, need } = pgFile;

interface Logged {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}
const open = (url: string, logged: Logged[] = []) => createPostgresBatchStore(url, { log: (level, msg, fields) => logged.push({ level, msg, fields }) });

const sql = queryRows;

if (available) batchStoreSuite("postgres batch store", async () => open(await freshDb()));

test("everything written is there for a new store on the same database: files, bytes, batches, results, leases", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const input = fileOf("file-in", 1_700_000_000, { key: "alice", team: "red" }, { bytes: BINARY.length, expires_at: 1_700_086_400 });
  const out = fileOf("file-out", 1_700_000_100, { key: "alice", team: "red" }, { purpose: "batch_output", bytes: 5 });
  const leased = batchOf("batch_leased", 1_700_000_001);
  const running = { ...batchOf("batch_running", 1_700_000_002), status: "in_progress" as const, in_progress_at: 1_700_000_003, metadata: { run: "7" } };
  const results = [resultOf(1, '{"id":1}'), resultOf(2, '{"error":2}', false)];

  const a = await open(url);
  try {
    await a.putFile(input, BINARY);
    await a.putFile(out, Buffer.from("done\n"));
    await a.createBatch(leased);
    await a.createBatch(batchOf("batch_running", 1_700_000_002));
    assert.deepEqual(await a.updateBatch("batch_running", ["validating"], running), running);
    await a.addResults("batch_running", results);
    assert.equal(await a.claim("A", 60_000, 1_000), "batch_leased");
  } finally {
    await a.close();
  }

  const b = await open(url);
  try {
    assert.deepEqual(await b.getFile("file-in"), input);
    assert.ok((await b.fileContent("file-in"))?.equals(BINARY));
    assert.equal((await b.fileContent("file-out"))?.toString(), "done\n");
    assert.deepEqual((await b.listFiles({ limit: 10 })).data, [out, input]);
    assert.deepEqual(await b.getBatch("batch_leased"), leased);
    assert.deepEqual(await b.getBatch("batch_running"), running);
    assert.deepEqual((await b.listBatches({ limit: 10 })).data, [running, leased]);
    assert.deepEqual(await b.results("batch_running"), results);
    // A's lease outlived its store: another holder gets the next batch, and A can still renew.
    assert.equal(await b.claim("B", 60_000, 2_000), "batch_running");
    assert.equal(await b.claim("C", 60_000, 2_000), undefined);
    assert.equal(await b.renew("batch_leased", "A", 60_000, 2_000), true);
    assert.equal(await b.expireFiles(1_700_086_400_000), 1);
  } finally {
    await b.close();
  }
});

test("two replicas claiming at once never get the same batch while leases hold", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const replicas: BatchStore[] = [await open(url), await open(url)];
  try {
    const all = Array.from({ length: 20 }, (_, i) => `batch_${String(i).padStart(2, "0")}`);
    // Created in reverse, so the oldest is not simply the first row written.
    for (const [i, id] of [...all.entries()].reverse()) await replicas[0].createBatch(batchOf(id, 1_000 + i, i % 2 ? "in_progress" : "validating"));
    // Each round starts after the previous round's leases ran out, so all 20 are free again.
    for (const round of [1, 2, 3]) {
      const now = round * 100_000;
      const got: string[] = [];
      // Four loops per replica (as many as its pool's connections); every claim by a new holder, so
      // no claim can take back a batch its own holder already has.
      const loop = async (s: BatchStore, name: string) => {
        for (let i = 0; ; i++) {
          const id = await s.claim(`${name}-${i}`, 60_000, now);
          if (!id) return;
          got.push(id);
        }
      };
      await Promise.all(replicas.flatMap((s, r) => [0, 1, 2, 3].map((w) => loop(s, `round${round}-replica${r}-loop${w}`))));
      assert.equal(got.length, 20, `round ${round}: one claim per batch, got ${got.length}`);
      assert.deepEqual([...got].sort(), all, `round ${round}: every batch claimed once`);
      const holders = await sql<{ n: number }>(url, "SELECT count(DISTINCT lease_holder)::int AS n FROM signalbox_batches WHERE lease_until = to_timestamp($1::float8 / 1000)", [now + 60_000]);
      assert.equal(holders[0].n, 20, `round ${round}: each batch has a holder of its own`);
    }
  } finally {
    await Promise.all(replicas.map((s) => s.close()));
  }
});

test("migrating again is harmless: two replicas opening a fresh database at once, a third later, migrate() by hand", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const logs: Logged[][] = [[], [], []];
  const stores: BatchStore[] = await Promise.all([open(url, logs[0]), open(url, logs[1])]);
  stores.push(await open(url, logs[2]));
  try {
    const applied = logs.map((l) => l.find((e) => e.msg === "batch store: postgres ready")?.fields?.migrationsApplied as number[]);
    const every = MIGRATIONS.map((m) => m.version);
    assert.ok(every.includes(6));
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
    // Each store works on the shared schema.
    await stores[0].putFile(fileOf("file-1", 1), Buffer.from("x"));
    await stores[2].createBatch(batchOf("batch_1", 1));
    assert.equal((await stores[1].fileContent("file-1"))?.toString(), "x");
    assert.equal(await stores[1].claim("A", 1_000, 0), "batch_1");
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test("the columns beside each record follow it: status, created_at, owner, expires_at, the lease", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const s = await open(url);
  try {
    const b = batchOf("batch_1", 1_700_000_000, "validating", { key: "alice", team: "red" });
    await s.createBatch(b);
    const batchRow = async () =>
      (
        await sql<{ status: string; record_status: string; created: number; owner_team: string; owner_key: string; lease_holder: string | null; lease_ms: number | null }>(
          url,
          `SELECT status, record->>'status' AS record_status, extract(epoch FROM created_at)::float8 AS created, owner_team, owner_key,
                  lease_holder, (extract(epoch FROM lease_until) * 1000)::float8 AS lease_ms
           FROM signalbox_batches WHERE id = 'batch_1'`,
        )
      )[0];
    assert.deepEqual(await batchRow(), { status: "validating", record_status: "validating", created: 1_700_000_000, owner_team: "red", owner_key: "alice", lease_holder: null, lease_ms: null });
    await s.updateBatch("batch_1", ["validating"], { ...b, status: "in_progress", owner: { key: "bob", team: "blue" } });
    await s.updateBatch("batch_1", ["validating"], { ...b, status: "failed" });
    assert.equal(await s.claim("A", 30_000, 1_700_000_000_123), "batch_1");
    assert.deepEqual(await batchRow(), { status: "in_progress", record_status: "in_progress", created: 1_700_000_000, owner_team: "blue", owner_key: "bob", lease_holder: "A", lease_ms: 1_700_000_030_123 });
    assert.deepEqual((await s.listBatches({ limit: 10, visibility: { team: "blue" } })).data.map((x) => x.id), ["batch_1"]);
    assert.deepEqual((await s.listBatches({ limit: 10, visibility: { team: "red" } })).data, []);

    await s.putFile(fileOf("file-1", 1_700_000_000, { key: "alice", team: "red" }, { expires_at: 1_700_003_600, purpose: "batch_output" }), Buffer.from("x"));
    const [f] = await sql<{ created: number; expires: number; purpose: string; owner_team: string; owner_key: string }>(
      url,
      "SELECT extract(epoch FROM created_at)::float8 AS created, extract(epoch FROM expires_at)::float8 AS expires, purpose, owner_team, owner_key FROM signalbox_files",
    );
    assert.deepEqual(f, { created: 1_700_000_000, expires: 1_700_003_600, purpose: "batch_output", owner_team: "red", owner_key: "alice" });
  } finally {
    await s.close();
  }
});

test("a file larger than one read (8 MiB) comes back whole, at and past the boundary", async (t) => {
  if (!need(t)) return;
  const s = await open(await freshDb());
  try {
    const MiB = 1024 * 1024;
    for (const size of [8 * MiB, 16 * MiB + 3]) {
      // No run repeats within a piece, so a piece read twice or skipped shows.
      const content = Buffer.alloc(size);
      for (let i = 0; i < size; i++) content[i] = (i ^ (i >>> 8) ^ (i >>> 16)) & 0xff;
      const id = `file-${size}`;
      await s.putFile(fileOf(id, 1, undefined, { bytes: size }), content);
      const got = await s.fileContent(id);
      assert.ok(got);
      assert.equal(got.length, size);
      assert.ok(got.equals(content), `${size} bytes come back as they went in`);
      await s.deleteFile(id);
    }
  } finally {
    await s.close();
  }
});
