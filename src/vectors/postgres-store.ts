// Vector stores in PostgreSQL (store.ts has the contract): durable, and shared by replicas.
//
// Schema (src/control/migrations.ts, version 23):
//   signalbox_vector_stores        one row per store: its VectorStoreRecord (meta), with status and
//                                  revision kept equal to the record's, and copies of created_at,
//                                  owner and expires_at for listing and expiry
//   signalbox_vector_store_files   one row per file of a store, PRIMARY KEY (store_id, file_id): its
//                                  record (meta) less what the columns hold (status, usage_bytes and
//                                  indexing_since are the columns')
//   signalbox_vector_store_chunks  one row per chunk, PRIMARY KEY (store_id, file_id, n), its vector
//                                  as little-endian float32 bytes; deleting a store or a file cascades
//   signalbox_vector_store_file_batches  one row per file batch (its FileBatchRecord in meta), gone
//                                  with its store
//
// Every change to a store's files runs in one transaction that first locks the store's row: changes
// to one store's files are serialised across replicas, and the store's counts, bytes, status and
// revision are recomputed from its files table before the lock is let go, so none is ever lost.
// Times in records are plain numbers inside the jsonb; the timestamptz columns are copies. Times in
// ms (claims) travel as numbers and become timestamps in SQL, so any bound a caller gives (even
// Infinity: "every claim is stale") compares rather than failing as an invalid Date.

import pg from "pg";
import { migrate } from "../control/migrations.ts";
import { postgresClientConfig, unavailableReason, withTransaction } from "../control/postgres-store.ts";
import { fromFloat32le, toFloat32le } from "../providers/vectors.ts";
import { log as defaultLog } from "../telemetry/log.ts";
import {
  countFiles,
  storeStatus,
  type Attributes,
  type Chunk,
  type FileBatchRecord,
  type FileStatus,
  type ListPage,
  type ListQuery,
  type VectorStoreFileRecord,
  type VectorStoreRecord,
  type VectorStoreStore,
  type Visibility,
} from "./store.ts";

export interface PostgresVectorStoreStoreOptions {
  /** Defaults to the gateway's structured log. Never given the URL or a password. */
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

/** Generous: a store's chunks (vectors as hex, twice their size) may be tens of MB in one read. */
const STATEMENT_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 65_000;
/** Chunks inserted per statement: bounds the parameter strings (bytea arrays travel as hex). */
const INSERT_ROWS = 1000;
const INSERT_BYTES = 4 * 1024 * 1024;
/**
 * Chunks read per statement: a page of 1,536-dimension vectors arrives as about 25 MB of hex, so
 * reading a large store's chunks never holds one string of all of them.
 */
const READ_ROWS = 2000;
const SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

const STORES = "signalbox_vector_stores";
const FILES = "signalbox_vector_store_files";
const CHUNKS = "signalbox_vector_store_chunks";
const BATCHES = "signalbox_vector_store_file_batches";

type Sql = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

interface FileRow {
  meta: VectorStoreFileRecord;
  status: FileStatus;
  usage_bytes: string;
  indexing_since: Date | null;
}
const FILE_COLS = "meta, status, usage_bytes, indexing_since";

/** A file's record: its meta with the columns the store keeps beside it. */
function fileFrom(r: FileRow): VectorStoreFileRecord {
  const { indexing_since: _since, ...meta } = r.meta;
  const f: VectorStoreFileRecord = { ...meta, status: r.status, usage_bytes: Number(r.usage_bytes) };
  if (r.indexing_since) f.indexing_since = r.indexing_since.getTime();
  return f;
}

interface ChunkRow {
  file_id: string;
  n: number;
  text: string;
  tokens: number;
  vector: Buffer;
}
const chunkFrom = (r: ChunkRow): Chunk => ({ fileId: r.file_id, n: r.n, text: r.text, tokens: r.tokens, vector: fromFloat32le(r.vector) });

/**
 * One page of a list in (created_at, id) order, by keyset: `conds` are the filter over parameters
 * from $2 on ($1 is the cursor). The cursor must be a row the filter lets through, else the page is
 * empty (as the memory store's); one row more than `limit` tells hasMore. Paging backwards (`before`)
 * reads the other way from the cursor and turns the rows round.
 */
async function keysetPage<R extends pg.QueryResultRow>(
  sql: Sql,
  t: { table: string; id: string; select: string },
  conds: ((param: string) => string)[],
  values: unknown[],
  q: ListQuery,
): Promise<{ rows: R[]; hasMore: boolean }> {
  const where = conds.length ? conds.map((c, i) => c(`$${i + 2}`)).join(" AND ") : "true";
  // As the memory store's `page`: an empty cursor is no cursor, and `before` wins over `after`.
  const backwards = !!q.before;
  const descending = (q.order !== "asc") !== backwards;
  const [cmp, dir] = descending ? ["<", "DESC"] : [">", "ASC"];
  // A cursor row that is missing compares as null: no row passes, the page is empty.
  const { rows } = await sql<R>(
    `SELECT ${t.select} FROM ${t.table}
     WHERE ${where}
       AND ($1::text IS NULL OR (created_at, ${t.id}) ${cmp} (SELECT created_at, ${t.id} FROM ${t.table} WHERE ${t.id} = $1 AND ${where}))
     ORDER BY created_at ${dir}, ${t.id} ${dir}
     LIMIT $${values.length + 2}`,
    [(backwards ? q.before : q.after) || null, ...values, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  return { rows: backwards ? page.reverse() : page, hasMore: rows.length > q.limit };
}

function visibilityConds(v: Visibility | undefined): { conds: ((p: string) => string)[]; values: unknown[] } {
  const conds: ((p: string) => string)[] = [];
  const values: unknown[] = [];
  if (v?.team !== undefined) {
    conds.push((p) => `owner_team = ${p}`);
    values.push(v.team);
  }
  if (v?.key !== undefined) {
    conds.push((p) => `owner_key = ${p}`);
    values.push(v.key);
  }
  return { conds, values };
}

/**
 * Open the PostgreSQL vector store store: a small pool (4 connections) and the schema brought up to
 * date by `migrate` (safe when replicas start together). Rejects when the database cannot be reached.
 */
export async function createPostgresVectorStoreStore(url: string, opts: PostgresVectorStoreStoreOptions = {}): Promise<VectorStoreStore> {
  const log = opts.log ?? defaultLog;
  const pool = new pg.Pool({ ...postgresClientConfig(url, "signalbox vector stores", { statementMs: STATEMENT_TIMEOUT_MS, queryMs: QUERY_TIMEOUT_MS }), max: 4, idleTimeoutMillis: 30_000 });
  // An idle pooled connection dying (database restart) must never crash the process.
  pool.on("error", (err) => log("warn", "vector store: idle connection lost", { reason: unavailableReason(err) ?? "unexpected error" }));
  try {
    const applied = await migrate(pool);
    log("info", "vector store: postgres ready", { migrationsApplied: applied });
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }

  const secs = (n: number) => new Date(n * 1000);
  const poolSql: Sql = (text, values) => pool.query(text, values);

  /** One transaction on one connection (withTransaction: rolled back on any failure, a broken connection destroyed). */
  const tx = <T,>(fn: (sql: Sql) => Promise<T>, begin = "BEGIN"): Promise<T> => withTransaction(pool, (client) => fn((text, values) => client.query(text, values)), begin);

  /**
   * Change a store's files under its row lock: `fn` says what it returns and whether the files
   * changed; when they did, the store's counts, bytes, status and revision follow in the same
   * transaction. `none` when there is no such store.
   */
  function changeFiles<T>(storeId: string, none: T, fn: (sql: Sql) => Promise<{ out: T; changed: boolean }>): Promise<T> {
    return tx(async (sql) => {
      const { rows } = await sql<{ meta: VectorStoreRecord }>(`SELECT meta FROM ${STORES} WHERE id = $1 FOR UPDATE`, [storeId]);
      const s = rows[0]?.meta;
      if (!s) return none;
      const { out, changed } = await fn(sql);
      if (!changed) return out;
      const { rows: byStatus } = await sql<{ status: FileStatus; n: number; bytes: number }>(
        `SELECT status, count(*)::int AS n, coalesce(sum(usage_bytes), 0)::float8 AS bytes FROM ${FILES} WHERE store_id = $1 GROUP BY status`,
        [storeId],
      );
      const counts = countFiles([]);
      for (const r of byStatus) {
        counts[r.status] += r.n;
        counts.total += r.n;
      }
      const next: VectorStoreRecord = { ...s, file_counts: counts, usage_bytes: byStatus.reduce((n, r) => n + r.bytes, 0), status: storeStatus(s, counts), revision: s.revision + 1 };
      await sql(`UPDATE ${STORES} SET meta = $2, status = $3, revision = $4 WHERE id = $1`, [storeId, JSON.stringify(next), next.status, next.revision]);
      return out;
    });
  }

  /** A file's record as stored in meta: the columns hold status, usage_bytes and indexing_since. */
  const fileMeta = (f: VectorStoreFileRecord, usageBytes: number) => {
    const { indexing_since: _since, ...rest } = f;
    return JSON.stringify({ ...rest, usage_bytes: usageBytes });
  };

  async function insertChunks(sql: Sql, storeId: string, fileId: string, chunks: Chunk[]): Promise<void> {
    for (let i = 0; i < chunks.length; ) {
      const ns: number[] = [];
      const texts: string[] = [];
      const tokens: number[] = [];
      const vectors: Uint8Array[] = [];
      let bytes = 0;
      for (; i < chunks.length && ns.length < INSERT_ROWS && bytes < INSERT_BYTES; i++) {
        const c = chunks[i];
        ns.push(c.n);
        texts.push(c.text);
        tokens.push(c.tokens);
        vectors.push(toFloat32le(c.vector));
        bytes += c.text.length * 3 + c.vector.length * 8;
      }
      await sql(
        `INSERT INTO ${CHUNKS} (store_id, file_id, n, text, tokens, vector)
         SELECT $1::text, $2::text, n, text, tokens, vector FROM unnest($3::int[], $4::text[], $5::int[], $6::bytea[]) AS c (n, text, tokens, vector)`,
        [storeId, fileId, ns, texts, tokens, vectors],
      );
    }
  }

  /**
   * Chunks of a store's completed files (or of one file, whatever its status) in (file, n) order, a
   * page per statement; called inside a snapshot, so the pages are of one state.
   */
  async function readChunks(sql: Sql, storeId: string, fileId?: string): Promise<Chunk[]> {
    const out: Chunk[] = [];
    for (let after: [string, number] | undefined; ; ) {
      const { rows } = await sql<ChunkRow>(
        `SELECT c.file_id, c.n, c.text, c.tokens, c.vector FROM ${CHUNKS} c
         WHERE c.store_id = $1
           AND ($2::text IS NULL OR (c.file_id, c.n) > ($2, $3::int))
           AND ${fileId === undefined ? `EXISTS (SELECT 1 FROM ${FILES} f WHERE f.store_id = c.store_id AND f.file_id = c.file_id AND f.status = 'completed')` : "c.file_id = $5"}
         ORDER BY c.file_id, c.n
         LIMIT $4`,
        [storeId, after?.[0] ?? null, after?.[1] ?? null, READ_ROWS, ...(fileId === undefined ? [] : [fileId])],
      );
      for (const r of rows) out.push(chunkFrom(r));
      if (rows.length < READ_ROWS) return out;
      const last = rows[rows.length - 1];
      after = [last.file_id, last.n];
    }
  }

  return {
    kind: "postgres",

    async putStore(s) {
      // A store put again keeps its files, as the memory store's.
      await pool.query(
        `INSERT INTO ${STORES} (id, created_at, owner_team, owner_key, expires_at, status, revision, meta)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, owner_team = excluded.owner_team, owner_key = excluded.owner_key,
           expires_at = excluded.expires_at, status = excluded.status, revision = excluded.revision, meta = excluded.meta`,
        [s.id, secs(s.created_at), s.owner.team, s.owner.key, s.expires_at == null ? null : secs(s.expires_at), s.status, s.revision, JSON.stringify(s)],
      );
    },

    async getStore(id) {
      const { rows } = await pool.query<{ meta: VectorStoreRecord }>(`SELECT meta FROM ${STORES} WHERE id = $1`, [id]);
      return rows[0]?.meta;
    },

    async listStores(q) {
      const v = visibilityConds(q.visibility);
      const { rows, hasMore } = await keysetPage<{ meta: VectorStoreRecord }>(poolSql, { table: STORES, id: "id", select: "meta" }, v.conds, v.values, q);
      return { data: rows.map((r) => r.meta), hasMore };
    },

    async deleteStore(id) {
      // Its files and their chunks go with it (ON DELETE CASCADE).
      const { rowCount } = await pool.query(`DELETE FROM ${STORES} WHERE id = $1`, [id]);
      return (rowCount ?? 0) > 0;
    },

    async updateStore(id, change) {
      return tx(async (sql) => {
        const { rows } = await sql<{ meta: VectorStoreRecord }>(`SELECT meta FROM ${STORES} WHERE id = $1 FOR UPDATE`, [id]);
        const s = rows[0]?.meta;
        if (!s) return undefined;
        const next = change(structuredClone(s));
        // Counts, bytes, status and revision stay the store's own.
        const kept: VectorStoreRecord = { ...next, id, file_counts: s.file_counts, usage_bytes: s.usage_bytes, status: next.status === "expired" ? "expired" : s.status, revision: s.revision };
        await sql(`UPDATE ${STORES} SET created_at = $2, owner_team = $3, owner_key = $4, expires_at = $5, status = $6, meta = $7 WHERE id = $1`, [
          id,
          secs(kept.created_at),
          kept.owner.team,
          kept.owner.key,
          kept.expires_at == null ? null : secs(kept.expires_at),
          kept.status,
          JSON.stringify(kept),
        ]);
        return structuredClone(kept);
      });
    },

    async putFile(f, maxFiles) {
      return changeFiles(f.vector_store_id, false, async (sql) => {
        // Deleting the row first drops the chunks of the file it replaces (ON DELETE CASCADE).
        const { rowCount } = await sql(`DELETE FROM ${FILES} WHERE store_id = $1 AND file_id = $2`, [f.vector_store_id, f.id]);
        if (maxFiles !== undefined && !rowCount) {
          // A file more: counted under the store's lock, so replicas adding at once cannot pass the limit.
          const { rows } = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${FILES} WHERE store_id = $1`, [f.vector_store_id]);
          if ((rows[0]?.n ?? 0) >= maxFiles) return { out: false, changed: false };
        }
        await sql(`INSERT INTO ${FILES} (store_id, file_id, created_at, status, indexing_since, usage_bytes, meta) VALUES ($1, $2, $3, $4, to_timestamp($5::float8 / 1000), 0, $6)`, [
          f.vector_store_id,
          f.id,
          secs(f.created_at),
          f.status,
          f.indexing_since ?? null,
          fileMeta(f, 0),
        ]);
        return { out: true, changed: true };
      });
    },

    async getFile(storeId, fileId) {
      const { rows } = await pool.query<FileRow>(`SELECT ${FILE_COLS} FROM ${FILES} WHERE store_id = $1 AND file_id = $2`, [storeId, fileId]);
      return rows[0] && fileFrom(rows[0]);
    },

    async listFiles(storeId, q) {
      const conds = [(p: string) => `store_id = ${p}`];
      const values: unknown[] = [storeId];
      if (q.status) {
        conds.push((p) => `status = ${p}`);
        values.push(q.status);
      }
      const { rows, hasMore } = await keysetPage<FileRow>(poolSql, { table: FILES, id: "file_id", select: FILE_COLS }, conds, values, q);
      return { data: rows.map(fileFrom), hasMore };
    },

    async setAttributes(storeId, fileId, attributes) {
      return changeFiles(storeId, undefined, async (sql) => {
        const { rows } = await sql<FileRow>(
          `UPDATE ${FILES} SET meta = jsonb_set(meta, '{attributes}', $3::jsonb) WHERE store_id = $1 AND file_id = $2 RETURNING ${FILE_COLS}`,
          [storeId, fileId, JSON.stringify(attributes ?? null)],
        );
        return { out: rows[0] && fileFrom(rows[0]), changed: rows.length > 0 };
      });
    },

    async deleteFile(storeId, fileId) {
      return changeFiles(storeId, false, async (sql) => {
        const { rowCount } = await sql(`DELETE FROM ${FILES} WHERE store_id = $1 AND file_id = $2`, [storeId, fileId]);
        const gone = (rowCount ?? 0) > 0;
        return { out: gone, changed: gone };
      });
    },

    async finishFile(storeId, fileId, outcome) {
      const done = "chunks" in outcome;
      const status: FileStatus = done ? "completed" : outcome.status;
      const usageBytes = done ? outcome.usageBytes : 0;
      const lastError = done ? null : (outcome.error ?? null);
      return changeFiles(storeId, false, async (sql) => {
        // Compare-and-set on in_progress: a file deleted or cancelled meanwhile keeps no chunks.
        const { rowCount } = await sql(
          `UPDATE ${FILES} SET status = $3, usage_bytes = $4, indexing_since = NULL,
             meta = meta || jsonb_build_object('status', $3::text, 'usage_bytes', $4::bigint, 'last_error', $5::jsonb)
           WHERE store_id = $1 AND file_id = $2 AND status = 'in_progress'`,
          [storeId, fileId, status, usageBytes, JSON.stringify(lastError)],
        );
        if (!rowCount) return { out: false, changed: false };
        if (done) await insertChunks(sql, storeId, fileId, outcome.chunks);
        return { out: true, changed: true };
      });
    },

    async claimFile(storeId, fileId, now, staleBefore) {
      // One statement is the compare-and-set: a replica claiming at the same moment waits on the row,
      // then finds the condition no longer holds.
      const { rowCount } = await pool.query(
        `UPDATE ${FILES} SET indexing_since = to_timestamp($3::float8 / 1000)
         WHERE store_id = $1 AND file_id = $2 AND status = 'in_progress' AND (indexing_since IS NULL OR indexing_since < to_timestamp($4::float8 / 1000))`,
        [storeId, fileId, now, staleBefore],
      );
      return (rowCount ?? 0) > 0;
    },

    async staleFiles(staleBefore, limit) {
      const { rows } = await pool.query<FileRow>(
        `SELECT ${FILE_COLS} FROM ${FILES}
         WHERE status = 'in_progress' AND (indexing_since IS NULL OR indexing_since < to_timestamp($1::float8 / 1000))
         ORDER BY indexing_since NULLS FIRST
         LIMIT $2`,
        [staleBefore, limit],
      );
      return rows.map(fileFrom);
    },

    async chunks(storeId) {
      // One snapshot: the revision returned is the one these chunks are of.
      return tx(
        async (sql) => {
          const { rows: s } = await sql<{ revision: string }>(`SELECT revision FROM ${STORES} WHERE id = $1`, [storeId]);
          const { rows: fs } = await sql<{ file_id: string; filename: string; attributes: Attributes | null }>(
            `SELECT file_id, meta->>'filename' AS filename, meta->'attributes' AS attributes FROM ${FILES}
             WHERE store_id = $1 AND status = 'completed' ORDER BY created_at, file_id`,
            [storeId],
          );
          return {
            revision: s[0] ? Number(s[0].revision) : 0,
            chunks: await readChunks(sql, storeId),
            files: new Map(fs.map((f) => [f.file_id, { filename: f.filename, attributes: f.attributes ?? null }])),
          };
        },
        SNAPSHOT,
      );
    },

    async fileChunks(storeId, fileId) {
      return tx((sql) => readChunks(sql, storeId, fileId), SNAPSHOT);
    },

    async expireStores(nowSecs) {
      return tx(async (sql) => {
        // Locked in id order, so two replicas sweeping at once cannot deadlock; a store a file change
        // holds is waited for, and its chunks are deleted after (by a statement that sees them).
        const { rows } = await sql<{ id: string }>(
          `SELECT id FROM ${STORES} WHERE status <> 'expired' AND expires_at <= to_timestamp($1::float8) ORDER BY id FOR UPDATE`,
          [nowSecs],
        );
        if (!rows.length) return 0;
        const ids = rows.map((r) => r.id);
        await sql(
          `UPDATE ${STORES} SET status = 'expired', revision = revision + 1,
             meta = meta || jsonb_build_object('status', 'expired', 'revision', revision + 1)
           WHERE id = ANY($1::text[])`,
          [ids],
        );
        await sql(`DELETE FROM ${CHUNKS} WHERE store_id = ANY($1::text[])`, [ids]);
        return ids.length;
      });
    },

    async putFileBatch(b) {
      try {
        // A batch of a store that is not there is not kept, as the memory store's.
        await pool.query(
          `INSERT INTO ${BATCHES} (id, store_id, created_at, meta)
           SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM ${STORES} WHERE id = $2)
           ON CONFLICT (id) DO UPDATE SET store_id = excluded.store_id, created_at = excluded.created_at, meta = excluded.meta`,
          [b.id, b.vector_store_id, secs(b.created_at), JSON.stringify(b)],
        );
      } catch (err) {
        // The store deleted between the check and the insert: the same outcome.
        if ((err as { code?: string }).code !== "23503") throw err;
      }
    },

    async getFileBatch(storeId, id) {
      const { rows } = await pool.query<{ meta: FileBatchRecord }>(`SELECT meta FROM ${BATCHES} WHERE id = $1 AND store_id = $2`, [id, storeId]);
      return rows[0]?.meta;
    },

    async close() {
      await pool.end();
    },
  };
}
