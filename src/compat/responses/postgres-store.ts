// The stored responses (store.ts has the contract) and the conversations (conversations.ts) in
// PostgreSQL, shared by replicas. Schema: migration 7 in src/control/migrations.ts, one row per
// response, previous_id linking a conversation's turns (read back by one recursive query), expiry
// dropped by its index; migration 8, one row per conversation and one per item, in order.
//
// Writes are group commits: a response is written before it is answered (so the next turn may name
// it at once, on any replica), and the responses finished while one INSERT is under way go together
// in the next one.

import pg from "pg";
import { migrate } from "../../control/migrations.ts";
import { postgresClientConfig, unavailableReason } from "../../control/postgres-store.ts";
import { log as defaultLog } from "../../telemetry/log.ts";
import type { ConversationStore, StoredConversation } from "./conversations.ts";
import { MAX_CHAIN, type Json, type ResponseStore, type StoredResponse } from "./store.ts";
import { LOG_KEEP_MS } from "./background.ts";

/** A pool on a migrated database; an idle connection dying (a database restart) is logged, never a crash. */
async function openPool(url: string, what: "response" | "conversation", log: typeof defaultLog): Promise<pg.Pool> {
  const pool = new pg.Pool({ ...postgresClientConfig(url, `signalbox ${what}s`, { statementMs: 30_000, queryMs: 35_000 }), max: 4, idleTimeoutMillis: 30_000 });
  pool.on("error", (err) => log("warn", `${what} store: idle connection lost`, { reason: unavailableReason(err) ?? "unexpected error" }));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return pool;
}

interface Row {
  id: string;
  previous_id: string | null;
  created_at: Date;
  expires_at: Date;
  owner_team: string;
  owner_key: string;
  response: Json;
  input_items: Json[];
  alive_until: Date | null;
}

const fromRow = (r: Row): StoredResponse => ({
  id: r.id,
  owner: { team: r.owner_team, key: r.owner_key },
  createdAt: r.created_at.getTime(),
  expiresAt: r.expires_at.getTime(),
  ...(r.previous_id ? { previousId: r.previous_id } : {}),
  response: r.response,
  inputItems: r.input_items,
  ...(r.alive_until ? { aliveUntil: r.alive_until.getTime() } : {}),
});

/** Shared by replicas. Reads are one statement each (a chain is one recursive query). */
export async function createPostgresResponseStore(url: string, opts: { log?: typeof defaultLog } = {}): Promise<ResponseStore> {
  const log = opts.log ?? defaultLog;
  const pool = await openPool(url, "response", log);

  // Group commit: what waits goes in the next INSERT, which starts when the one under way ends.
  let waiting: { r: StoredResponse; done: (err?: unknown) => void }[] = [];
  let writing = false;
  async function write(): Promise<void> {
    writing = true;
    while (waiting.length) {
      const batch = waiting.slice(0, 200);
      waiting = waiting.slice(batch.length);
      const values: unknown[] = [];
      const rows = batch.map(({ r }, i) => {
        values.push(r.id, r.previousId ?? null, new Date(r.createdAt), new Date(r.expiresAt), r.owner.team, r.owner.key, JSON.stringify(r.response), JSON.stringify(r.inputItems), r.aliveUntil === undefined ? null : new Date(r.aliveUntil));
        const b = i * 9;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`;
      });
      try {
        // A response written twice (a retry after a lost acknowledgement) is stored once.
        await pool.query(
          `INSERT INTO signalbox_responses (id, previous_id, created_at, expires_at, owner_team, owner_key, response, input_items, alive_until)
           VALUES ${rows.join(", ")} ON CONFLICT (id) DO NOTHING`,
          values,
        );
        for (const w of batch) w.done();
      } catch (err) {
        log("warn", "response store: could not store responses", { responses: batch.length, reason: unavailableReason(err) ?? (err as Error).message });
        for (const w of batch) w.done(err);
      }
    }
    writing = false;
  }

  const COLUMNS = "id, previous_id, created_at, expires_at, owner_team, owner_key, response, input_items, alive_until";
  return {
    kind: "postgres",
    put(r) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ r, done: (err) => (err ? reject(err) : resolve()) });
        if (!writing) void write();
      });
    },
    async get(id, now = Date.now()) {
      const { rows } = await pool.query<Row>(`SELECT ${COLUMNS} FROM signalbox_responses WHERE id = $1 AND expires_at > $2`, [id, new Date(now)]);
      return rows[0] ? fromRow(rows[0]) : undefined;
    },
    async keepAlive(ids, until) {
      if (ids.length) await pool.query("UPDATE signalbox_responses SET alive_until = $2 WHERE id = ANY($1::text[])", [[...ids], new Date(until)]);
    },
    async update(id, response, onlyIf) {
      const r = await pool.query("UPDATE signalbox_responses SET response = $2 WHERE id = $1 AND response->>'status' = ANY($3::text[])", [id, JSON.stringify(response), [...onlyIf]]);
      return (r.rowCount ?? 0) > 0;
    },
    async chain(id, now = Date.now()) {
      const { rows } = await pool.query<Row>(
        `WITH RECURSIVE c (id, previous_id, depth) AS (
           SELECT id, previous_id, 0 FROM signalbox_responses WHERE id = $1 AND expires_at > $2
           UNION ALL
           SELECT r.id, r.previous_id, c.depth + 1 FROM signalbox_responses r JOIN c ON r.id = c.previous_id
           WHERE c.depth < $3 - 1 AND r.expires_at > $2
         )
         SELECT ${COLUMNS.split(", ").map((x) => `r.${x}`).join(", ")} FROM c JOIN signalbox_responses r USING (id) ORDER BY c.depth DESC`,
        [id, new Date(now), MAX_CHAIN],
      );
      return rows.map(fromRow);
    },
    async delete(id) {
      const r = await pool.query("DELETE FROM signalbox_responses WHERE id = $1", [id]);
      return (r.rowCount ?? 0) > 0;
    },
    async sweep(now = Date.now()) {
      const r = await pool.query("DELETE FROM signalbox_responses WHERE expires_at <= $1", [new Date(now)]);
      // Events of streams that ended LOG_KEEP_MS ago, and any a day old (a replica died before the end).
      await pool.query(
        `DELETE FROM signalbox_response_events WHERE created_at <= $2
           OR response_id IN (SELECT response_id FROM signalbox_response_events WHERE seq = -1 AND created_at <= $1)`,
        [new Date(now - LOG_KEEP_MS), new Date(now - 86_400_000)],
      );
      return r.rowCount ?? 0;
    },
    events: {
      async append(id, frames, ended) {
        const rows = ended ? [...frames, { seq: -1, frame: "" }] : frames;
        if (rows.length === 0) return;
        const values: unknown[] = [id];
        const tuples = rows.map((f, i) => {
          values.push(f.seq, f.frame);
          return `($1, $${2 * i + 2}, $${2 * i + 3})`;
        });
        await pool.query(`INSERT INTO signalbox_response_events (response_id, seq, frame) VALUES ${tuples.join(", ")} ON CONFLICT DO NOTHING`, values);
      },
      async read(id, after) {
        const { rows } = await pool.query<{ seq: number; frame: string }>("SELECT seq, frame FROM signalbox_response_events WHERE response_id = $1 AND (seq > $2 OR seq = -1) ORDER BY seq", [id, after]);
        const ended = rows.length > 0 && rows[0]!.seq === -1;
        return { frames: ended ? rows.slice(1) : rows, ended };
      },
    },
    async close() {
      while (writing) await new Promise((r) => setTimeout(r, 5));
      await pool.end();
    },
  };
}

/** `fn` in one transaction on one pooled connection: committed, or rolled back when it throws. */
async function inTransaction(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await fn(client);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

interface ConversationRow {
  id: string;
  created_at: Date;
  owner_team: string;
  owner_key: string;
  metadata: Record<string, string>;
  responses: number;
  input_tokens: string;
  output_tokens: string;
  cost_nanos: string;
}

const conversationOf = (r: ConversationRow): StoredConversation => ({
  id: r.id,
  owner: { team: r.owner_team, key: r.owner_key },
  createdAt: Math.floor(r.created_at.getTime() / 1000),
  metadata: r.metadata,
  ...(r.responses > 0 ? { usage: { responses: r.responses, inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens), costNanos: Number(r.cost_nanos) } } : {}),
});

/** Conversations shared by replicas: each call is one statement. */
export async function createPostgresConversationStore(url: string, opts: { log?: typeof defaultLog } = {}): Promise<ConversationStore> {
  const pool = await openPool(url, "conversation", opts.log ?? defaultLog);
  // Items in their given order (identity values are taken row by row, in the SELECT's order);
  // one the conversation already has (by id) is skipped.
  const appendItems = `INSERT INTO signalbox_conversation_items (conversation_id, id, item)
    SELECT $1, x->>'id', x FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t (x, n) ORDER BY n
    ON CONFLICT (conversation_id, id) DO NOTHING`;
  const COLUMNS = "id, created_at, owner_team, owner_key, metadata, responses, input_tokens, output_tokens, cost_nanos";
  return {
    kind: "postgres",
    async create(c, items) {
      await inTransaction(pool, async (client) => {
        await client.query("INSERT INTO signalbox_conversations (id, created_at, owner_team, owner_key, metadata) VALUES ($1, $2, $3, $4, $5)", [c.id, new Date(c.createdAt * 1000), c.owner.team, c.owner.key, JSON.stringify(c.metadata)]);
        if (items.length) await client.query(appendItems, [c.id, JSON.stringify(items)]);
      });
    },
    async get(id) {
      const { rows } = await pool.query<ConversationRow>(`SELECT ${COLUMNS} FROM signalbox_conversations WHERE id = $1`, [id]);
      return rows[0] ? conversationOf(rows[0]) : undefined;
    },
    async setMetadata(id, metadata) {
      const { rows } = await pool.query<ConversationRow>(`UPDATE signalbox_conversations SET metadata = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [id, JSON.stringify(metadata)]);
      return rows[0] ? conversationOf(rows[0]) : undefined;
    },
    async delete(id) {
      const r = await pool.query("DELETE FROM signalbox_conversations WHERE id = $1", [id]);
      return (r.rowCount ?? 0) > 0;
    },
    async append(id, items, usage) {
      if (!usage) {
        if (items.length) await pool.query(appendItems, [id, JSON.stringify(items)]);
        return;
      }
      // A response's turn and its usage together, or neither.
      await inTransaction(pool, async (client) => {
        if (items.length) await client.query(appendItems, [id, JSON.stringify(items)]);
        await client.query(
          `UPDATE signalbox_conversations SET responses = responses + $2, input_tokens = input_tokens + $3, output_tokens = output_tokens + $4, cost_nanos = cost_nanos + $5 WHERE id = $1`,
          [id, usage.responses, usage.inputTokens, usage.outputTokens, usage.costNanos],
        );
      });
    },
    async items(id) {
      const { rows } = await pool.query<{ item: Json }>("SELECT item FROM signalbox_conversation_items WHERE conversation_id = $1 ORDER BY seq", [id]);
      return rows.map((r) => r.item);
    },
    async deleteItem(id, itemId) {
      const r = await pool.query("DELETE FROM signalbox_conversation_items WHERE conversation_id = $1 AND id = $2", [id, itemId]);
      return (r.rowCount ?? 0) > 0;
    },
    // Lease times are the caller's clock (ms), as the batch leases', never the database's.
    async lock(id, holder, until, now = Date.now()) {
      const r = await pool.query(
        "UPDATE signalbox_conversations SET busy_by = $2, busy_until = $3 WHERE id = $1 AND (busy_by IS NULL OR busy_by = $2 OR busy_until <= $4)",
        [id, holder, new Date(until), new Date(now)],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async unlock(id, holder) {
      await pool.query("UPDATE signalbox_conversations SET busy_by = NULL, busy_until = NULL WHERE id = $1 AND busy_by = $2", [id, holder]);
    },
    async close() {
      await pool.end();
    },
  };
}
