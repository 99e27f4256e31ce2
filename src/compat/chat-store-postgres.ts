// Stored Chat Completions in PostgreSQL (chat-store.ts has the contract), shared by replicas.
// Schema: migration 13 in src/control/migrations.ts, one row per completion; a list is one
// statement on the (team, created_at, id) index, the expiry dropped by its own index.

import pg from "pg";
import { migrate } from "../control/migrations.ts";
import { postgresClientConfig, unavailableReason } from "../control/postgres-store.ts";
import { log as defaultLog } from "../telemetry/log.ts";
import type { CompletionStore, StoredCompletion } from "./chat-store.ts";
import type { Json } from "./responses/store.ts";

interface Row {
  id: string;
  owner_team: string;
  owner_key: string;
  model: string;
  metadata: Record<string, string>;
  created_at: Date;
  expires_at: Date;
  completion: Json;
  messages: Json[];
}

const COLS = "id, owner_team, owner_key, model, metadata, created_at, expires_at, completion, messages";

const fromRow = (r: Row): StoredCompletion => ({
  id: r.id,
  owner: { team: r.owner_team, key: r.owner_key },
  model: r.model,
  metadata: r.metadata ?? {},
  createdAt: r.created_at.getTime(),
  expiresAt: r.expires_at.getTime(),
  completion: r.completion,
  messages: r.messages,
});

export async function createPostgresCompletionStore(url: string, opts: { log?: typeof defaultLog } = {}): Promise<CompletionStore> {
  const log = opts.log ?? defaultLog;
  const pool = new pg.Pool({ ...postgresClientConfig(url, "signalbox chat completions", { statementMs: 30_000, queryMs: 35_000 }), max: 4, idleTimeoutMillis: 30_000 });
  pool.on("error", (err) => log("warn", "chat completion store: idle connection lost", { reason: unavailableReason(err) ?? "unexpected error" }));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return {
    kind: "postgres",
    async put(c) {
      await pool.query(`INSERT INTO signalbox_chat_completions (${COLS}) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9::jsonb) ON CONFLICT (id) DO NOTHING`, [
        c.id,
        c.owner.team,
        c.owner.key,
        c.model,
        JSON.stringify(c.metadata),
        new Date(c.createdAt),
        new Date(c.expiresAt),
        JSON.stringify(c.completion),
        JSON.stringify(c.messages),
      ]);
    },
    async get(id, now = Date.now()) {
      const { rows } = await pool.query(`SELECT ${COLS} FROM signalbox_chat_completions WHERE id = $1 AND expires_at > $2`, [id, new Date(now)]);
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async list(q, now = Date.now()) {
      const values: unknown[] = [new Date(now)];
      const where = ["expires_at > $1"];
      if (q.owner?.team !== undefined) where.push(`owner_team = $${values.push(q.owner.team)}`);
      if (q.owner?.key !== undefined) where.push(`owner_key = $${values.push(q.owner.key)}`);
      if (q.model !== undefined) where.push(`model = $${values.push(q.model)}`);
      if (q.metadata && Object.keys(q.metadata).length) where.push(`metadata @> $${values.push(JSON.stringify(q.metadata))}::jsonb`);
      const cmp = q.order === "asc" ? ">" : "<";
      if (q.after !== undefined) {
        // Keyset: after the named completion in the list's order (ties on created_at by id).
        where.push(`(created_at, id) ${cmp} (SELECT created_at, id FROM signalbox_chat_completions WHERE id = $${values.push(q.after)})`);
      }
      const dir = q.order === "asc" ? "ASC" : "DESC";
      const { rows } = await pool.query(`SELECT ${COLS} FROM signalbox_chat_completions WHERE ${where.join(" AND ")} ORDER BY created_at ${dir}, id ${dir} LIMIT ${q.limit + 1}`, values);
      return { items: (rows as Row[]).slice(0, q.limit).map(fromRow), more: rows.length > q.limit };
    },
    async setMetadata(id, metadata) {
      const { rows } = await pool.query(`UPDATE signalbox_chat_completions SET metadata = $2::jsonb WHERE id = $1 AND expires_at > now() RETURNING ${COLS}`, [id, JSON.stringify(metadata)]);
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async delete(id) {
      return ((await pool.query("DELETE FROM signalbox_chat_completions WHERE id = $1", [id])).rowCount ?? 0) > 0;
    },
    async sweep(now = Date.now()) {
      return (await pool.query("DELETE FROM signalbox_chat_completions WHERE expires_at <= $1", [new Date(now)])).rowCount ?? 0;
    },
    async close() {
      await pool.end();
    },
  };
}
