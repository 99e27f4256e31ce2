// The Batch API's durable store (store.ts has the contract): files, batches and finished lines in
// PostgreSQL, shared by replicas, with each batch's lease in its row so one replica runs it at a time.
//
// Schema (src/control/migrations.ts, version 6):
//   signalbox_files          one row per file: its StoredFile (meta), its bytes (content), and the
//                            fields lists and expiry filter by
//   signalbox_batches        one row per batch: its BatchRecord (record), status kept equal to
//                            record.status, and the lease (lease_holder, lease_until)
//   signalbox_batch_results  one row per finished line, PRIMARY KEY (batch_id, line): the key that
//                            makes addResults idempotent
//
// Times in records are plain numbers inside the jsonb, so a record reads back as it was written;
// the timestamptz columns beside them are copies for sorting and filtering. Lease times come from
// the caller's `now` (ms), never the database clock, so every replica and test judges a lease alike.

import pg from "pg";
import { migrate } from "../control/migrations.ts";
import { postgresClientConfig, unavailableReason } from "../control/postgres-store.ts";
import { log as defaultLog } from "../telemetry/log.ts";
import { ACTIVE, type BatchRecord, type BatchStore, type LineResult, type ListPage, type StoredFile, type Visibility } from "./store.ts";

export interface PostgresBatchStoreOptions {
  /** Defaults to the gateway's structured log. Never given the URL or a password. */
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

/** Generous: a file of up to `batches.max_file_mb` travels in one statement. */
const STATEMENT_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 65_000;
/**
 * Bytes of a file read per statement. bytea arrives as a hex string (twice its size) in the V8
 * heap, which the gateway keeps small; reading in pieces bounds that string whatever the file's size.
 */
const CONTENT_CHUNK = 8 * 1024 * 1024;

interface ResultRow {
  line: number;
  ok: boolean;
  custom_id: string;
  json: string;
  input_tokens: string;
  cached_input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_nanos: string;
}

/** The visibility and cursor conditions of a list, as SQL over the parameters from $2 on ($1 is `after`). */
interface ListFilter {
  where: string;
  values: unknown[];
}

function visibilityFilter(v: Visibility | undefined, purpose: string | undefined, idPrefix?: string): ListFilter {
  const conds: string[] = [];
  const values: unknown[] = [];
  const add = (cond: (n: string) => string, value: unknown) => {
    values.push(value);
    conds.push(cond(`$${values.length + 1}`));
  };
  if (v?.team !== undefined) add((n) => `owner_team = ${n}`, v.team);
  if (v?.key !== undefined) add((n) => `owner_key = ${n}`, v.key);
  if (purpose) add((n) => `purpose = ${n}`, purpose);
  if (idPrefix) add((n) => `starts_with(id, ${n})`, idPrefix);
  return { where: conds.length ? conds.join(" AND ") : "true", values };
}

/**
 * One page of `table` in (created_at, id) order: `after` must be a row the filter lets through
 * (else the page is empty, as the memory store's), and one row more than `limit` tells hasMore.
 */
async function listPage<T>(pool: pg.Pool, table: "signalbox_files" | "signalbox_batches", col: "meta" | "record", f: ListFilter, after: string | undefined, limit: number, asc: boolean): Promise<ListPage<T>> {
  const [cmp, dir] = asc ? [">", "ASC"] : ["<", "DESC"];
  const n = f.values.length + 2;
  // A cursor row that is missing compares as null: no row passes, the page is empty.
  const { rows } = await pool.query<{ v: T }>(
    `SELECT ${col} AS v FROM ${table}
     WHERE ${f.where}
       AND ($1::text IS NULL OR (created_at, id) ${cmp} (SELECT created_at, id FROM ${table} WHERE id = $1 AND ${f.where}))
     ORDER BY created_at ${dir}, id ${dir}
     LIMIT $${n}`,
    [after ?? null, ...f.values, limit + 1],
  );
  return { data: rows.slice(0, limit).map((r) => r.v), hasMore: rows.length > limit };
}

/**
 * Open the PostgreSQL batch store: a small pool (4 connections) and the schema brought up to date
 * by `migrate` (safe when replicas start together). Rejects when the database cannot be reached.
 */
export async function createPostgresBatchStore(url: string, opts: PostgresBatchStoreOptions = {}): Promise<BatchStore> {
  const log = opts.log ?? defaultLog;
  const pool = new pg.Pool({ ...postgresClientConfig(url, "signalbox batches", { statementMs: STATEMENT_TIMEOUT_MS, queryMs: QUERY_TIMEOUT_MS }), max: 4, idleTimeoutMillis: 30_000 });
  // An idle pooled connection dying (database restart) must never crash the process.
  pool.on("error", (err) => log("warn", "batch store: idle connection lost", { reason: unavailableReason(err) ?? "unexpected error" }));
  try {
    const applied = await migrate(pool);
    log("info", "batch store: postgres ready", { migrationsApplied: applied });
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }

  const ms = (n: number) => new Date(n);
  const secs = (n: number) => new Date(n * 1000);

  return {
    kind: "postgres",

    async putFile(f, content) {
      await pool.query(
        `INSERT INTO signalbox_files (id, created_at, expires_at, purpose, owner_team, owner_key, meta, content)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at, purpose = excluded.purpose,
           owner_team = excluded.owner_team, owner_key = excluded.owner_key, meta = excluded.meta, content = excluded.content`,
        [f.id, secs(f.created_at), f.expires_at === undefined ? null : secs(f.expires_at), f.purpose, f.owner.team, f.owner.key, JSON.stringify(f), content],
      );
    },

    async getFile(id) {
      const { rows } = await pool.query<{ meta: StoredFile }>("SELECT meta FROM signalbox_files WHERE id = $1", [id]);
      return rows[0]?.meta;
    },

    async fileContent(id) {
      // Files never change once put (each has a new id), so pieces read by separate statements are
      // of one content; a file deleted meanwhile reads as gone.
      const parts: Buffer[] = [];
      let size = 0;
      let at = 0;
      do {
        const { rows } = await pool.query<{ size: number; part: Buffer }>(
          "SELECT octet_length(content) AS size, substring(content FROM $2 FOR $3) AS part FROM signalbox_files WHERE id = $1",
          [id, at + 1, CONTENT_CHUNK],
        );
        if (!rows[0]) return undefined;
        size = rows[0].size;
        parts.push(rows[0].part);
        at += CONTENT_CHUNK;
      } while (at < size);
      return parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    },

    async listFiles(q) {
      return listPage<StoredFile>(pool, "signalbox_files", "meta", visibilityFilter(q.visibility, q.purpose), q.after, q.limit, q.order === "asc");
    },

    async deleteFile(id) {
      const { rowCount } = await pool.query("DELETE FROM signalbox_files WHERE id = $1", [id]);
      return (rowCount ?? 0) > 0;
    },

    async createBatch(b) {
      // A batch put again keeps its lease, as the memory store's (leases live beside the records).
      await pool.query(
        `INSERT INTO signalbox_batches (id, created_at, status, owner_team, owner_key, record)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, status = excluded.status,
           owner_team = excluded.owner_team, owner_key = excluded.owner_key, record = excluded.record`,
        [b.id, secs(b.created_at), b.status, b.owner.team, b.owner.key, JSON.stringify(b)],
      );
    },

    async getBatch(id) {
      const { rows } = await pool.query<{ record: BatchRecord }>("SELECT record FROM signalbox_batches WHERE id = $1", [id]);
      return rows[0]?.record;
    },

    async listBatches(q) {
      return listPage<BatchRecord>(pool, "signalbox_batches", "record", visibilityFilter(q.visibility, undefined, q.idPrefix), q.after, q.limit, false);
    },

    async updateBatch(id, from, next) {
      const { rows } = await pool.query<{ record: BatchRecord }>(
        `UPDATE signalbox_batches SET record = $3, status = $4, created_at = $5, owner_team = $6, owner_key = $7
         WHERE id = $1 AND status = ANY($2::text[])
         RETURNING record`,
        [id, [...from], JSON.stringify(next), next.status, secs(next.created_at), next.owner.team, next.owner.key],
      );
      return rows[0]?.record;
    },

    async addResults(batchId, results) {
      // The first of several results for one line in this call wins; ON CONFLICT keeps one stored before.
      const first = new Map<number, LineResult>();
      for (const r of results) if (!first.has(r.line)) first.set(r.line, r);
      if (!first.size) return;
      const rows = [...first.values()].map((r) => ({
        line: r.line,
        ok: r.ok,
        custom_id: r.customId,
        json: r.json,
        input_tokens: r.inputTokens,
        cached_input_tokens: r.cachedInputTokens,
        output_tokens: r.outputTokens,
        reasoning_tokens: r.reasoningTokens,
        cost_nanos: r.costNanos,
      }));
      // Counts come from upstream bodies: a stray fraction is rounded rather than refused, so one odd
      // line cannot stop its batch.
      await pool.query(
        `INSERT INTO signalbox_batch_results (batch_id, line, ok, custom_id, json, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_nanos)
         SELECT $1, line, ok, custom_id, json, round(input_tokens), round(cached_input_tokens), round(output_tokens), round(reasoning_tokens), round(cost_nanos)
         FROM json_to_recordset($2::json) AS r (line integer, ok boolean, custom_id text, json text, input_tokens float8,
           cached_input_tokens float8, output_tokens float8, reasoning_tokens float8, cost_nanos float8)
         ON CONFLICT (batch_id, line) DO NOTHING`,
        [batchId, JSON.stringify(rows)],
      );
    },

    async results(batchId, after = 0, limit) {
      const { rows } = await pool.query<ResultRow>(
        `SELECT line, ok, custom_id, json, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_nanos
         FROM signalbox_batch_results WHERE batch_id = $1 AND line > $2 ORDER BY line LIMIT $3`,
        [batchId, after, limit === undefined || !Number.isFinite(limit) ? null : limit],
      );
      return rows.map(
        (r): LineResult => ({
          line: r.line,
          customId: r.custom_id,
          ok: r.ok,
          json: r.json,
          inputTokens: Number(r.input_tokens),
          cachedInputTokens: Number(r.cached_input_tokens),
          outputTokens: Number(r.output_tokens),
          reasoningTokens: Number(r.reasoning_tokens),
          costNanos: Number(r.cost_nanos),
        }),
      );
    },

    async dropResults(batchId) {
      await pool.query("DELETE FROM signalbox_batch_results WHERE batch_id = $1", [batchId]);
    },

    async deleteBatch(id) {
      // One statement: the batch and its finished lines go together.
      const { rows } = await pool.query<{ n: number }>(
        `WITH r AS (DELETE FROM signalbox_batch_results WHERE batch_id = $1), b AS (DELETE FROM signalbox_batches WHERE id = $1 RETURNING 1)
         SELECT count(*)::int AS n FROM b`,
        [id],
      );
      return (rows[0]?.n ?? 0) > 0;
    },

    async claim(holder, leaseMs, now, exclude = []) {
      // SKIP LOCKED: a replica claiming at the same moment passes over the row being taken here; a
      // row taken and committed meanwhile is checked again against the lease condition when locked.
      const { rows } = await pool.query<{ id: string }>(
        `UPDATE signalbox_batches SET lease_holder = $1, lease_until = $3
         WHERE id = (
           SELECT id FROM signalbox_batches
           WHERE status = ANY($4::text[]) AND (lease_holder IS NULL OR lease_until <= $2 OR lease_holder = $1) AND NOT (id = ANY($5::text[]))
           ORDER BY created_at, id
           LIMIT 1
           FOR UPDATE SKIP LOCKED
         )
         RETURNING id`,
        [holder, ms(now), ms(now + leaseMs), [...ACTIVE], [...exclude]],
      );
      return rows[0]?.id;
    },

    async renew(batchId, holder, leaseMs, now) {
      const { rowCount } = await pool.query("UPDATE signalbox_batches SET lease_until = $3 WHERE id = $1 AND lease_holder = $2", [batchId, holder, ms(now + leaseMs)]);
      return (rowCount ?? 0) > 0;
    },

    async release(batchId, holder) {
      await pool.query("UPDATE signalbox_batches SET lease_holder = NULL, lease_until = NULL WHERE id = $1 AND lease_holder = $2", [batchId, holder]);
    },

    async expireFiles(now) {
      const { rowCount } = await pool.query("DELETE FROM signalbox_files WHERE expires_at <= $1", [ms(now)]);
      return rowCount ?? 0;
    },

    async close() {
      await pool.end();
    },
  };
}
