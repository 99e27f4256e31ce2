// The PostgreSQL schema as numbered migrations, and the one mechanism that applies them: under a
// transaction-scoped advisory lock, so replicas starting together each see every migration run once.

import type pg from "pg";

/** One schema step. Versions are applied in ascending order and never edited once released. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Every table lives in the connection's default schema with a `signalbox_` prefix, so Signalbox
 * can share a database (and its `search_path`) with other software without a schema of its own.
 * Add new steps at the end: the control plane (1), the durable usage store (2 to 5) and the batch
 * store (6) share this list.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "control plane: teams, keys, audit",
    sql: `
      CREATE TABLE signalbox_teams (
        name               text PRIMARY KEY,
        budget             jsonb,
        default_key_limits jsonb,
        metadata           jsonb NOT NULL DEFAULT '{}',
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      );

      -- team refers to signalbox_teams only logically: teams from the config file have no row.
      CREATE TABLE signalbox_keys (
        name                 text PRIMARY KEY,
        team                 text NOT NULL,
        role                 text NOT NULL,
        hash                 text NOT NULL UNIQUE,
        prefix               text NOT NULL DEFAULT '',
        allow                text[] NOT NULL DEFAULT '{}',
        limits               jsonb NOT NULL DEFAULT '{}',
        per_user_limits      jsonb,
        budget               jsonb,
        max_output_tokens    integer,
        expires_at           timestamptz,
        metadata             jsonb NOT NULL DEFAULT '{}',
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now(),
        created_by           text NOT NULL DEFAULT '',
        revoked_at           timestamptz,
        prev_hash            text,
        prev_hash_expires_at timestamptz,
        last_used_at         timestamptz
      );
      CREATE UNIQUE INDEX signalbox_keys_prev_hash_key ON signalbox_keys (prev_hash) WHERE prev_hash IS NOT NULL;
      CREATE INDEX signalbox_keys_team_idx ON signalbox_keys (team);

      CREATE TABLE signalbox_audit (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at       timestamptz NOT NULL DEFAULT now(),
        actor    text NOT NULL,
        action   text NOT NULL,
        target   text NOT NULL DEFAULT '',
        before   jsonb,
        after    jsonb,
        replica  text NOT NULL DEFAULT '',
        trace_id text NOT NULL DEFAULT ''
      );
      -- id breaks ties between events of the same microsecond (keyset pagination on (at, id)).
      CREATE INDEX signalbox_audit_at_idx ON signalbox_audit (at DESC, id DESC);
      CREATE INDEX signalbox_audit_actor_idx ON signalbox_audit (actor, at DESC, id DESC);
      CREATE INDEX signalbox_audit_target_idx ON signalbox_audit (target, at DESC, id DESC);
    `,
  },
  {
    version: 2,
    name: "usage: request records (partitioned by day), hourly rollups, drop counts",
    // See src/usage/postgres-store.ts. Partitions (signalbox_requests_pYYYYMMDD, one per UTC day)
    // are created by the usage writer, ahead of time and on demand; they inherit these indexes.
    sql: `
      CREATE TABLE signalbox_requests (
        time                timestamptz NOT NULL,
        id                  text COLLATE "C" NOT NULL,
        trace_id            text NOT NULL,
        key                 text NOT NULL,
        team                text NOT NULL,
        end_user            text NOT NULL,
        model               text NOT NULL,
        route               text NOT NULL,
        variant             text NOT NULL,
        deployment          text NOT NULL,
        provider            text NOT NULL,
        status              text NOT NULL,
        -- distinct and sorted; the record's own list (order, repeats) is in detail
        tags                text[] NOT NULL,
        fallback            boolean NOT NULL,
        cache_hit           boolean NOT NULL,
        attempts            integer NOT NULL,
        input_tokens        bigint NOT NULL,
        output_tokens       bigint NOT NULL,
        cached_input_tokens bigint NOT NULL,
        cache_write_tokens  bigint NOT NULL,
        reasoning_tokens    bigint NOT NULL,
        cost_total          bigint NOT NULL,
        cost_input          bigint NOT NULL,
        cost_cached_input   bigint NOT NULL,
        cost_cache_write    bigint NOT NULL,
        cost_output         bigint NOT NULL,
        cost_reasoning      bigint NOT NULL,
        latency_ms          bigint NOT NULL,
        ttft_ms             bigint,
        -- the rest of the record as the gateway made it (routing, attempts, usage, cost, metadata, ...):
        -- json, not jsonb: kept as written (never queried inside), and much cheaper to insert
        detail              json NOT NULL,
        -- the partition column must be part of every unique index; (time, id) read backwards is
        -- also the listing order (time DESC, id DESC)
        PRIMARY KEY (time, id)
      ) PARTITION BY RANGE (time);
      CREATE INDEX signalbox_requests_id_idx ON signalbox_requests (id);
      CREATE INDEX signalbox_requests_trace_idx ON signalbox_requests (trace_id);
      CREATE INDEX signalbox_requests_team_idx ON signalbox_requests (team, time, id);
      CREATE INDEX signalbox_requests_key_idx ON signalbox_requests (key, time, id);
      CREATE INDEX signalbox_requests_tags_idx ON signalbox_requests USING gin (tags);

      -- Written in the same statement as the request rows, from the rows actually inserted.
      CREATE TABLE signalbox_usage_hourly (
        hour                timestamptz NOT NULL,
        team                text NOT NULL,
        key                 text NOT NULL,
        route               text NOT NULL,
        variant             text NOT NULL,
        deployment          text NOT NULL,
        provider            text NOT NULL,
        model               text NOT NULL,
        status              text NOT NULL,
        requests            bigint NOT NULL,
        failures            bigint NOT NULL,
        fallbacks           bigint NOT NULL,
        cache_hits          bigint NOT NULL,
        attempts            bigint NOT NULL,
        input_tokens        bigint NOT NULL,
        output_tokens       bigint NOT NULL,
        cached_input_tokens bigint NOT NULL,
        cache_write_tokens  bigint NOT NULL,
        reasoning_tokens    bigint NOT NULL,
        cost_total          bigint NOT NULL,
        cost_input          bigint NOT NULL,
        cost_cached_input   bigint NOT NULL,
        cost_cache_write    bigint NOT NULL,
        cost_output         bigint NOT NULL,
        cost_reasoning      bigint NOT NULL,
        latency_ms          bigint NOT NULL,
        ttft_ms             bigint NOT NULL,
        ttft_count          bigint NOT NULL,
        PRIMARY KEY (hour, team, key, route, variant, deployment, provider, model, status)
      );

      -- Records a replica could not keep (its buffer was full while PostgreSQL was away), per hour of
      -- the records' time; (writer, batch) makes a retried write count once.
      CREATE TABLE signalbox_usage_dropped (
        writer  text NOT NULL,
        batch   bigint NOT NULL,
        hour    timestamptz NOT NULL,
        records bigint NOT NULL,
        PRIMARY KEY (writer, batch, hour)
      );
      CREATE INDEX signalbox_usage_dropped_hour_idx ON signalbox_usage_dropped (hour);
    `,
  },
  {
    version: 3,
    name: "usage: latency histogram in the hourly rollups",
    // See src/usage/postgres-store.ts and the histogram in src/usage/store.ts: requests per latency
    // bucket, a sparse jsonb map {"<bucket>": count}. Rollups written before this have none ('{}').
    sql: `
      ALTER TABLE signalbox_usage_hourly ADD COLUMN latency_hist jsonb NOT NULL DEFAULT '{}';

      -- The histogram of a set of bucket numbers (one per request).
      CREATE FUNCTION signalbox_hist_of(buckets integer[]) RETURNS jsonb
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT coalesce(jsonb_object_agg(b, n), '{}'::jsonb) FROM (SELECT b, count(*) AS n FROM unnest(buckets) AS b GROUP BY b) x $$;

      -- Two histograms added bucket by bucket (the rollup upsert).
      CREATE FUNCTION signalbox_hist_add(a jsonb, b jsonb) RETURNS jsonb
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
              FROM (SELECT k, sum(v::bigint) AS n FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) x (k, v) GROUP BY k) y $$;
    `,
  },
  {
    version: 4,
    name: "usage: the operation of each request record (chat, embeddings)",
    // Records written before embeddings are chat requests. A column, not just detail: filters and
    // reports by operation read it.
    sql: `
      ALTER TABLE signalbox_requests ADD COLUMN operation text NOT NULL DEFAULT 'chat';
    `,
  },
  {
    version: 5,
    name: "usage: per-request and per-unit charges, searches, images, audio and characters in rows and rollups",
    // What the operations other than chat bill by (store.ts COUNTERS, from costRequest on). Rows and
    // rollups written before this count none of them; their cost totals always included the charges.
    sql: `
      ALTER TABLE signalbox_requests
        ADD COLUMN cost_request bigint NOT NULL DEFAULT 0,
        ADD COLUMN search_units bigint NOT NULL DEFAULT 0,
        ADD COLUMN images bigint NOT NULL DEFAULT 0,
        ADD COLUMN audio_ms bigint NOT NULL DEFAULT 0,
        ADD COLUMN characters bigint NOT NULL DEFAULT 0;
      ALTER TABLE signalbox_usage_hourly
        ADD COLUMN cost_request bigint NOT NULL DEFAULT 0,
        ADD COLUMN search_units bigint NOT NULL DEFAULT 0,
        ADD COLUMN images bigint NOT NULL DEFAULT 0,
        ADD COLUMN audio_ms bigint NOT NULL DEFAULT 0,
        ADD COLUMN characters bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 6,
    name: "batches: files, batches with their leases, finished lines",
    // See src/batch/postgres-store.ts. Each file and batch is kept whole as its record (meta, record);
    // the columns beside it are copies of the record's fields that lists, claims and expiry filter and
    // sort by. Ids are COLLATE "C" so their order is the memory store's (JavaScript string order).
    sql: `
      CREATE TABLE signalbox_files (
        id         text COLLATE "C" PRIMARY KEY,
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        purpose    text NOT NULL,
        owner_team text NOT NULL,
        owner_key  text NOT NULL,
        meta       jsonb NOT NULL,
        content    bytea NOT NULL
      );
      CREATE INDEX signalbox_files_list_idx ON signalbox_files (created_at DESC, id DESC);
      CREATE INDEX signalbox_files_expires_idx ON signalbox_files (expires_at) WHERE expires_at IS NOT NULL;

      -- lease_holder and lease_until: the replica running the batch, and until when (both null: free).
      CREATE TABLE signalbox_batches (
        id           text COLLATE "C" PRIMARY KEY,
        created_at   timestamptz NOT NULL,
        status       text NOT NULL,
        owner_team   text NOT NULL,
        owner_key    text NOT NULL,
        record       jsonb NOT NULL,
        lease_holder text,
        lease_until  timestamptz
      );
      CREATE INDEX signalbox_batches_claim_idx ON signalbox_batches (status, created_at, id);
      CREATE INDEX signalbox_batches_list_idx ON signalbox_batches (created_at DESC, id DESC);

      -- Kept only while a batch runs (dropped once its output and error files are written).
      CREATE TABLE signalbox_batch_results (
        batch_id            text COLLATE "C" NOT NULL,
        line                integer NOT NULL,
        ok                  boolean NOT NULL,
        custom_id           text NOT NULL,
        json                text NOT NULL,
        input_tokens        bigint NOT NULL,
        cached_input_tokens bigint NOT NULL,
        output_tokens       bigint NOT NULL,
        reasoning_tokens    bigint NOT NULL,
        cost_nanos          bigint NOT NULL,
        PRIMARY KEY (batch_id, line)
      );
    `,
  },
  {
    version: 7,
    name: "responses: stored Responses API responses",
    // See src/compat/responses/store.ts. Each response is kept whole (the object as returned, and
    // its request's input items); previous_id links a conversation's turns, read back by one
    // recursive query; expiry is dropped by its index.
    sql: `
      CREATE TABLE signalbox_responses (
        id          text COLLATE "C" PRIMARY KEY,
        previous_id text COLLATE "C",
        created_at  timestamptz NOT NULL,
        expires_at  timestamptz NOT NULL,
        owner_team  text NOT NULL,
        owner_key   text NOT NULL,
        response    jsonb NOT NULL,
        input_items jsonb NOT NULL
      );
      CREATE INDEX signalbox_responses_expires_idx ON signalbox_responses (expires_at);
    `,
  },
  {
    version: 8,
    name: "conversations: the Conversations API's conversations and their items",
    // See src/compat/responses/postgres-store.ts. Items keep their order by seq; an item's id is
    // unique within its conversation (appending one again adds nothing); deleting a conversation
    // deletes its items.
    sql: `
      CREATE TABLE signalbox_conversations (
        id         text COLLATE "C" PRIMARY KEY,
        created_at timestamptz NOT NULL,
        owner_team text NOT NULL,
        owner_key  text NOT NULL,
        metadata   jsonb NOT NULL
      );
      CREATE TABLE signalbox_conversation_items (
        conversation_id text COLLATE "C" NOT NULL REFERENCES signalbox_conversations (id) ON DELETE CASCADE,
        seq             bigint GENERATED ALWAYS AS IDENTITY,
        id              text COLLATE "C" NOT NULL,
        item            jsonb NOT NULL,
        PRIMARY KEY (conversation_id, seq),
        UNIQUE (conversation_id, id)
      );
    `,
  },
  {
    version: 9,
    name: "responses: a background response's heartbeat",
    // Until when the replica running a background response vouches for it (renewed while it runs):
    // past it, a response still queued or in progress was left by a replica that died.
    sql: `ALTER TABLE signalbox_responses ADD COLUMN alive_until timestamptz;`,
  },
  {
    version: 10,
    name: "conversations: what their responses used and cost",
    // Running totals, added to in the transaction that adds a response's turn.
    sql: `
      ALTER TABLE signalbox_conversations
        ADD COLUMN responses integer NOT NULL DEFAULT 0,
        ADD COLUMN input_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN output_tokens bigint NOT NULL DEFAULT 0,
        ADD COLUMN cost_nanos bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 11,
    name: "conversations: the response holding each one",
    // busy_by (a response id) holds the conversation until busy_until: one response at a time.
    sql: `ALTER TABLE signalbox_conversations ADD COLUMN busy_by text, ADD COLUMN busy_until timestamptz;`,
  },
  {
    version: 12,
    name: "prompts: managed prompt templates, their immutable versions and their labels",
    sql: `
      CREATE TABLE signalbox_prompts (
        id text PRIMARY KEY,
        team text NOT NULL DEFAULT '',
        labels jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE signalbox_prompt_versions (
        prompt_id text NOT NULL REFERENCES signalbox_prompts (id) ON DELETE CASCADE,
        version integer NOT NULL,
        model text,
        instructions text,
        messages jsonb NOT NULL DEFAULT '[]',
        parameters jsonb,
        description text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL DEFAULT '',
        PRIMARY KEY (prompt_id, version)
      );
    `,
  },
  {
    version: 13,
    name: "chat completions: stored Chat Completions (store: true)",
    sql: `
      CREATE TABLE signalbox_chat_completions (
        id text PRIMARY KEY,
        owner_team text NOT NULL,
        owner_key text NOT NULL,
        model text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        completion jsonb NOT NULL,
        messages jsonb NOT NULL
      );
      CREATE INDEX signalbox_chat_completions_team ON signalbox_chat_completions (owner_team, created_at, id);
      CREATE INDEX signalbox_chat_completions_time ON signalbox_chat_completions (created_at, id);
      CREATE INDEX signalbox_chat_completions_expiry ON signalbox_chat_completions (expires_at);
    `,
  },
  {
    version: 14,
    name: "config entries: providers, deployments and routes made at run time (credentials sealed)",
    sql: `
      CREATE TABLE signalbox_config_entries (
        kind text NOT NULL CHECK (kind IN ('provider', 'deployment', 'route')),
        name text NOT NULL,
        spec jsonb NOT NULL,
        revision bigint NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        created_by text NOT NULL,
        updated_by text NOT NULL,
        PRIMARY KEY (kind, name)
      );
    `,
  },
  {
    version: 15,
    name: "config entries: guardrails, MCP servers, aliases and alerts too",
    sql: `
      ALTER TABLE signalbox_config_entries
        DROP CONSTRAINT signalbox_config_entries_kind_check,
        ADD CONSTRAINT signalbox_config_entries_kind_check CHECK (kind IN ('provider', 'deployment', 'route', 'guardrail', 'mcp_server', 'alias', 'alert'));
    `,
  },
  {
    version: 16,
    name: "feedback: scores of answered requests, with the request's dimensions",
    sql: `
      CREATE TABLE signalbox_feedback (
        id          text PRIMARY KEY,
        at          timestamptz NOT NULL,
        request_id  text NOT NULL,
        trace_id    text NOT NULL,
        key         text NOT NULL,
        team        text NOT NULL,
        end_user    text NOT NULL,
        route       text NOT NULL,
        deployment  text NOT NULL,
        provider    text NOT NULL,
        variant     text NOT NULL,
        model       text NOT NULL,
        value       integer NOT NULL,
        weight      double precision NOT NULL,
        metadata    jsonb NOT NULL,
        given_by    text NOT NULL
      );
      CREATE INDEX signalbox_feedback_at ON signalbox_feedback (at);
      CREATE INDEX signalbox_feedback_team_at ON signalbox_feedback (team, at);
    `,
  },
  {
    version: 17,
    name: "feedback: read back by request",
    sql: `
      CREATE INDEX signalbox_feedback_request ON signalbox_feedback (request_id);
    `,
  },
  {
    version: 18,
    name: "stored responses: a streamed background response's events, for following it on any replica",
    sql: `
      CREATE TABLE signalbox_response_events (
        response_id text NOT NULL,
        seq         integer NOT NULL,
        frame       text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (response_id, seq)
      );
      CREATE INDEX signalbox_response_events_created ON signalbox_response_events (created_at);
    `,
  },
  {
    version: 19,
    name: "keys: a budget for each end user of a key",
    sql: `
      ALTER TABLE signalbox_keys ADD COLUMN per_user_budget jsonb;
    `,
  },
  {
    version: 20,
    name: "console sessions signed out before their expiry (a hash of the token, never the token)",
    sql: `
      CREATE TABLE signalbox_session_revocations (
        id         text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX signalbox_session_revocations_expiry ON signalbox_session_revocations (expires_at);
    `,
  },
  {
    version: 21,
    name: "keys: blocked (refused until unblocked), reversibly, unlike a revocation",
    sql: `
      ALTER TABLE signalbox_keys ADD COLUMN blocked_at timestamptz;
    `,
  },
  {
    version: 22,
    name: "end users of a team: a budget and limits of their own across the team's keys, or blocked",
    sql: `
      CREATE TABLE signalbox_end_users (
        team        text NOT NULL,
        user_id     text NOT NULL,
        budget      jsonb,
        limits      jsonb,
        blocked_at  timestamptz,
        metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        created_by  text NOT NULL DEFAULT '',
        PRIMARY KEY (team, user_id)
      );
    `,
  },
  {
    version: 23,
    name: "vector stores: stores, their files and each file's chunks with embeddings, and file batches",
    // Ids sort by byte (COLLATE "C"), as the memory store's string comparison does, whatever the
    // database's locale. meta is the record's JSON; the columns beside it are copies for filtering
    // and sorting, except a file's status, usage_bytes and indexing_since, which the store keeps there.
    sql: `
      CREATE TABLE signalbox_vector_stores (
        id          text COLLATE "C" PRIMARY KEY,
        created_at  timestamptz NOT NULL,
        owner_team  text NOT NULL,
        owner_key   text NOT NULL,
        expires_at  timestamptz,
        status      text NOT NULL,
        revision    bigint NOT NULL,
        meta        jsonb NOT NULL
      );
      CREATE INDEX signalbox_vector_stores_list_idx ON signalbox_vector_stores (created_at, id);
      CREATE INDEX signalbox_vector_stores_team_idx ON signalbox_vector_stores (owner_team, created_at, id);
      CREATE INDEX signalbox_vector_stores_key_idx ON signalbox_vector_stores (owner_key, created_at, id);
      CREATE INDEX signalbox_vector_stores_expires_idx ON signalbox_vector_stores (expires_at) WHERE status <> 'expired' AND expires_at IS NOT NULL;

      CREATE TABLE signalbox_vector_store_files (
        store_id        text COLLATE "C" NOT NULL REFERENCES signalbox_vector_stores (id) ON DELETE CASCADE,
        file_id         text COLLATE "C" NOT NULL,
        created_at      timestamptz NOT NULL,
        status          text NOT NULL,
        indexing_since  timestamptz,
        usage_bytes     bigint NOT NULL DEFAULT 0,
        meta            jsonb NOT NULL,
        PRIMARY KEY (store_id, file_id)
      );
      CREATE INDEX signalbox_vector_store_files_list_idx ON signalbox_vector_store_files (store_id, created_at, file_id);
      -- What a sweep takes up: only files being indexed, the longest quiet first.
      CREATE INDEX signalbox_vector_store_files_stale_idx ON signalbox_vector_store_files (indexing_since NULLS FIRST) WHERE status = 'in_progress';

      CREATE TABLE signalbox_vector_store_chunks (
        store_id  text COLLATE "C" NOT NULL,
        file_id   text COLLATE "C" NOT NULL,
        n         integer NOT NULL,
        text      text NOT NULL,
        tokens    integer NOT NULL,
        vector    bytea NOT NULL,
        PRIMARY KEY (store_id, file_id, n),
        FOREIGN KEY (store_id, file_id) REFERENCES signalbox_vector_store_files (store_id, file_id) ON DELETE CASCADE
      );

      CREATE TABLE signalbox_vector_store_file_batches (
        id          text COLLATE "C" PRIMARY KEY,
        store_id    text COLLATE "C" NOT NULL REFERENCES signalbox_vector_stores (id) ON DELETE CASCADE,
        created_at  timestamptz NOT NULL,
        meta        jsonb NOT NULL
      );
      CREATE INDEX signalbox_vector_store_file_batches_store_idx ON signalbox_vector_store_file_batches (store_id);
    `,
  },
  {
    version: 24,
    name: "config entries: presets too",
    sql: `
      ALTER TABLE signalbox_config_entries
        DROP CONSTRAINT signalbox_config_entries_kind_check,
        ADD CONSTRAINT signalbox_config_entries_kind_check CHECK (kind IN ('provider', 'deployment', 'route', 'guardrail', 'mcp_server', 'alias', 'alert', 'preset'));
    `,
  },
  {
    version: 25,
    name: "claims: which replica sends an alert or a spend report, without Redis",
    sql: `
      CREATE TABLE signalbox_claims (
        condition  text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 26,
    name: "usage: pages of documents read (OCR) in rows and rollups",
    // store.ts COUNTERS' pages, after characters. Rows and rollups written before count none.
    sql: `
      ALTER TABLE signalbox_requests ADD COLUMN pages bigint NOT NULL DEFAULT 0;
      ALTER TABLE signalbox_usage_hourly ADD COLUMN pages bigint NOT NULL DEFAULT 0;
    `,
  },
];

/** Key of the transaction-scoped advisory lock that serialises migrations (any constant bigint). */
export const MIGRATION_LOCK = 5_162_313_401_766_221;

/** How long migrating may take (waiting on another replica's lock included), per statement. */
const MIGRATION_TIMEOUT_MS = 600_000;

/**
 * Bring the database up to date: one transaction that takes the advisory lock, creates the
 * bookkeeping table `signalbox_migrations` if needed, and applies the missing versions in order.
 * Safe to run from several replicas at once: the others wait on the lock, then find nothing to do.
 * Versions in the database that this code does not know (a newer replica ran first) are left alone.
 * Returns the versions it applied.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version <= migrations[i - 1].version) throw new Error(`migration versions must ascend: ${migrations[i].version} after ${migrations[i - 1].version}`);
  }
  const client = await pool.connect();
  // The pool's short statement and query timeouts suit admin calls, not schema changes.
  const run = (text: string, values?: unknown[]) => client.query({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
  let broken: unknown;
  // A checked-out client has no pool listener: a connection error between queries would crash.
  const onError = (err: Error) => {
    broken = err;
  };
  client.on("error", onError);
  try {
    await run("BEGIN");
    try {
      await run(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
      await run("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await run(`CREATE TABLE IF NOT EXISTS signalbox_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await run("SELECT version FROM signalbox_migrations");
      const done = new Set(rows.map((r: { version: number }) => r.version));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await run(m.sql);
        await run("INSERT INTO signalbox_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
        applied.push(m.version);
      }
      await run("COMMIT");
      return applied;
    } catch (err) {
      if (!broken) {
        await client.query("ROLLBACK").catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error("rollback failed");
        });
      }
      throw err;
    }
  } finally {
    client.off("error", onError);
    // A client that failed is in an unknown state: destroy it rather than reuse it.
    client.release(broken instanceof Error ? broken : undefined);
  }
}
