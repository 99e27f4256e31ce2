// The durable usage store: every request record in PostgreSQL, kept for months and queryable.
//
// Writes never touch the response path: record() pushes into an in-memory buffer (O(1)); one
// writer per process sends the buffer every `flushEveryMs` (200 ms) or as soon as `batchSize`
// (500) records wait, as ONE statement per batch (one round trip, one transaction):
//
//   WITH src  AS (SELECT * FROM json_to_recordset($1))                   -- the batch, one parameter
//        ins  AS (INSERT INTO signalbox_requests … ON CONFLICT DO NOTHING RETURNING …)
//        roll AS (INSERT INTO signalbox_usage_hourly … SELECT … FROM ins GROUP BY …
//                 ON CONFLICT (…) DO UPDATE SET requests = requests + excluded.requests, …,
//                 latency_hist = signalbox_hist_add(latency_hist, excluded.latency_hist))
//   SELECT count(*) FROM ins
//
// so a batch is stored whole or not at all, a record written twice (a retried batch whose reply
// was lost, a record recorded twice) is stored once, and the hourly rollups count only the rows
// that were really inserted: a retry never double counts. While PostgreSQL is away the batch is
// retried with backoff (250 ms doubling to 2 s) and new records queue behind it, up to
// `maxBuffered` in all (200,000, or what a quarter of the heap holds); past that the newest are
// dropped and counted (per hour of their time, written to signalbox_usage_dropped when PostgreSQL
// is back, and in stats()), with one warning per outage. close() flushes with a deadline.
//
// Schema (src/control/migrations.ts, versions 2, 3, 4 (the operation column) and 5 (the unit columns); the control plane's migrations, one
// mechanism):
//   signalbox_requests       one row per request, PARTITION BY RANGE (time), one partition per UTC
//                            day (signalbox_requests_pYYYYMMDD), PRIMARY KEY (time, id); indexes
//                            (id), (trace_id), (team, time, id), (key, time, id), GIN (tags).
//   signalbox_usage_hourly   counters per UTC hour × team, key, route, variant, deployment,
//                            provider, model, status; latency_hist, the latency histogram (store.ts)
//                            as a sparse jsonb map {"<bucket>": requests}, added up by
//                            signalbox_hist_add.
//   signalbox_usage_dropped  records lost to buffer overflow, per writer, batch and hour.
// The writer creates partitions ahead (today and tomorrow, at start and each UTC day) and on demand
// (a late or early record's day), and drops whole partitions past `retentionDays` (default 90) at
// start and once a day; rollups are kept `rollupRetentionDays` (default 400, never less than the
// records) and trimmed then too.
//
// Queries: GetUsage reads the hourly rollups when every group-by and filter dimension is one they
// keep (key, team, route, variant, deployment, provider, status), else the request rows (user, tag
// and operation; only as far back as records are kept). Both paths give the same latency histogram: a
// request's bucket is width_bucket(latency_ms, LATENCY_BOUNDS), store.ts's latencyBucket, computed
// in SQL when the rollup is written and when request rows are read. ListRequests is a keyset scan
// on (time, id), newest first. GetRequest looks a record up by id (or the newest of a trace id) in
// every partition.

import { createHash, randomBytes } from "node:crypto";
import { getHeapStatistics } from "node:v8";
import pg from "pg";
import { migrate } from "../control/migrations.ts";
import { postgresClientConfig, unavailableReason, withTransaction } from "../control/postgres-store.ts";
import { GatewayError } from "../router/errors.ts";
import type { Level } from "../telemetry/log.ts";
import type { UsageRecord } from "./record.ts";
import {
  ceilHour,
  compileFilters,
  COUNTERS,
  countersOf,
  DAY,
  floorDay,
  floorHour,
  HOUR,
  LATENCY_BOUNDS,
  listFingerprint,
  N_COUNTERS,
  pageSizeOf,
  usageRow,
  type Dimension,
  type GetQuery,
  type ListQuery,
  type ListResult,
  type UsageFilter,
  type UsageQuery,
  type UsageResult,
  type UsageRow,
  type UsageStore,
  type UsageStoreStats,
} from "./store.ts";

export interface PostgresUsageStoreOptions {
  /** This replica's name (the connections' application_name). */
  replica?: string;
  /** Days of request records kept (whole UTC days; older partitions are dropped). Default 90. */
  retentionDays?: number;
  /** Days of hourly rollups kept; default 400, and never less than retentionDays. */
  rollupRetentionDays?: number;
  /** Batch window, ms; default 200. */
  flushEveryMs?: number;
  /** Write as soon as this many records wait; the most records per statement. Default 500. */
  batchSize?: number;
  /**
   * Records waiting for PostgreSQL, at most; past this the newest are dropped and counted. Default
   * 200,000, or fewer when a quarter of the heap holds fewer (defaultMaxBuffered).
   */
  maxBuffered?: number;
  /**
   * The writer's state changes: PostgreSQL away (records wait in the buffer), back, and the buffer
   * full (new records dropped). Once per change, with what the log line says.
   */
  onState?: (state: { kind: "unavailable"; reason: string } | { kind: "recovered"; downMs: number } | { kind: "dropping"; maxBuffered: number }) => void;
  /** First retry delay while PostgreSQL is away (doubling), ms; default 250. */
  retryMinMs?: number;
  /** Longest retry delay, ms; default 2,000. */
  retryMaxMs?: number;
  /** How long flush() (and close()) keep trying before giving up; default 5,000 ms. */
  flushTimeoutMs?: number;
  /** Connections; default 4 (the writer uses one at a time, queries the rest). */
  poolSize?: number;
  now?: () => number;
  /** Never given the URL or a password. */
  log?: (level: Level, msg: string, fields?: Record<string, unknown>) => void;
}

/** The writer's figures (stats() keeps the three every store reports). */
export interface PostgresUsageDetails extends UsageStoreStats {
  /** Batches written (statements that succeeded). */
  batches: number;
  /** Rows inserted (written minus duplicates). */
  inserted: number;
  /** Records that were already stored (a retried batch, a record recorded twice). */
  duplicates: number;
  /** The largest batch written. */
  maxBatch: number;
  /** Time spent in successful batch statements, ms (inserted / this = rows per ms). */
  writeMs: number;
  /** Failed write attempts (each retried). */
  failedWrites: number;
  /** Records older than the retention when they were written (not stored). */
  expired: number;
  /** Records PostgreSQL refused on their own (bad data), counted in dropped too. */
  rejected: number;
  /** Partitions created and dropped by this process. */
  partitionsCreated: number;
  partitionsDropped: number;
}

export interface PostgresUsageStore extends UsageStore {
  /** Write what is buffered, trying for at most `timeoutMs` (default flushTimeoutMs) while PostgreSQL is away. */
  flush(timeoutMs?: number): Promise<void>;
  /** Whether the last write failed (records are waiting in the buffer). */
  readonly degraded: boolean;
  details(): PostgresUsageDetails;
  /** Partition upkeep now (the writer runs it at start and once a UTC day): create ahead, drop past retention. */
  maintain(): Promise<{ created: string[]; dropped: string[] }>;
}

const STATEMENT_TIMEOUT_MS = 30_000;
const QUERY_TIMEOUT_MS = 35_000;
/**
 * DDL (partitions) waits at most this long for the table lock, then tries again later: while it
 * waits in the lock queue, writes and reads of the table queue behind it.
 */
const DDL_LOCK_TIMEOUT_MS = 1_000;
/** Heap one buffered record holds (a gateway record measures about 1.1 KB). */
const RECORD_HEAP_BYTES = 1_200;

/**
 * The default buffer bound: 200,000 records, or what a quarter of the heap holds if that is less
 * (`npm start` caps the old space at 192 MB: about 50,000), and never under 10,000.
 */
export function defaultMaxBuffered(): number {
  return Math.max(10_000, Math.min(200_000, Math.floor((getHeapStatistics().heap_size_limit * 0.25) / RECORD_HEAP_BYTES)));
}
/** Two-int advisory lock: partition DDL, one replica at a time (never clashes with MIGRATION_LOCK). */
const PARTITION_LOCK = [0x5b0d, 1] as const;
const PARTITION_PREFIX = "signalbox_requests_p";

/** Dimensions the hourly rollups keep (and their column); user, tag and operation need the request rows. */
const ROLLUP_DIMS: ReadonlySet<Dimension> = new Set<Dimension>(["key", "team", "route", "variant", "deployment", "provider", "status"]);
const COLUMN: Record<Exclude<Dimension, "tag">, string> = {
  key: "key",
  team: "team",
  user: "end_user",
  route: "route",
  variant: "variant",
  deployment: "deployment",
  provider: "provider",
  status: "status",
  operation: "operation",
};

// Counter columns of a request row, in store.ts COUNTERS order from attempts on (requests,
// failures, fallbacks and cache hits come from count(*) and flags).
const COUNTER_COLS = [
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_total",
  "cost_input",
  "cost_cached_input",
  "cost_cache_write",
  "cost_output",
  "cost_reasoning",
  "latency_ms",
] as const;
// The counters added later (store.ts COUNTERS from costRequest on, index UNIT_COL_AT): in request rows
// and rollups alike.
const UNIT_COLS = ["cost_request", "search_units", "images", "audio_ms", "characters", "pages"] as const;
const UNIT_COL_AT = COUNTERS.findIndex((c) => c.name === "costRequest");
const ROLLUP_DIM_COLS = ["team", "key", "route", "variant", "deployment", "provider", "model", "status"] as const;
const ROLLUP_SUM_COLS = ["requests", "failures", "fallbacks", "cache_hits", "attempts", ...COUNTER_COLS, "ttft_ms", "ttft_count", ...UNIT_COLS] as const;

const REQUEST_COLS = [
  "time",
  "id",
  "trace_id",
  "key",
  "team",
  "end_user",
  "model",
  "route",
  "variant",
  "deployment",
  "provider",
  "status",
  "tags",
  "fallback",
  "cache_hit",
  "attempts",
  ...COUNTER_COLS,
  "ttft_ms",
  "operation",
  ...UNIT_COLS,
  "detail",
] as const;
const REQUEST_TYPES: Record<(typeof REQUEST_COLS)[number], string> = {
  time: "timestamptz",
  id: "text",
  trace_id: "text",
  key: "text",
  team: "text",
  end_user: "text",
  model: "text",
  route: "text",
  variant: "text",
  deployment: "text",
  provider: "text",
  status: "text",
  tags: "text[]",
  fallback: "boolean",
  cache_hit: "boolean",
  attempts: "integer",
  input_tokens: "bigint",
  output_tokens: "bigint",
  cached_input_tokens: "bigint",
  cache_write_tokens: "bigint",
  reasoning_tokens: "bigint",
  cost_total: "bigint",
  cost_input: "bigint",
  cost_cached_input: "bigint",
  cost_cache_write: "bigint",
  cost_output: "bigint",
  cost_reasoning: "bigint",
  latency_ms: "bigint",
  ttft_ms: "bigint",
  operation: "text",
  cost_request: "bigint",
  search_units: "bigint",
  images: "bigint",
  audio_ms: "bigint",
  characters: "bigint",
  pages: "bigint",
  detail: "json",
};

/**
 * A latency_ms's histogram bucket in SQL: how many of store.ts's LATENCY_BOUNDS are <= it, exactly
 * latencyBucket (the bounds written out with the shortest decimals that read back as the same doubles).
 */
const latencyBucketSql = (col: string) => `width_bucket(${col}::float8, '{${LATENCY_BOUNDS.join(",")}}'::float8[])`;

/** The batch statement: insert what is new, roll up exactly that, in one statement. */
const BATCH_SQL = `
WITH src AS (
  SELECT * FROM json_to_recordset($1::json) AS x(${REQUEST_COLS.map((c) => `${c} ${REQUEST_TYPES[c]}`).join(", ")})
), ins AS (
  INSERT INTO signalbox_requests (${REQUEST_COLS.join(", ")})
  SELECT ${REQUEST_COLS.join(", ")} FROM src
  ON CONFLICT DO NOTHING
  RETURNING time, ${ROLLUP_DIM_COLS.join(", ")}, fallback, cache_hit, attempts, ${COUNTER_COLS.join(", ")}, ttft_ms, ${UNIT_COLS.join(", ")}
), roll AS (
  INSERT INTO signalbox_usage_hourly AS h (hour, ${ROLLUP_DIM_COLS.join(", ")}, ${ROLLUP_SUM_COLS.join(", ")}, latency_hist)
  SELECT date_trunc('hour', time, 'UTC'), ${ROLLUP_DIM_COLS.join(", ")},
    count(*), count(*) FILTER (WHERE status <> 'ok'), count(*) FILTER (WHERE fallback), count(*) FILTER (WHERE cache_hit), sum(attempts),
    ${COUNTER_COLS.map((c) => `sum(${c})`).join(", ")}, coalesce(sum(ttft_ms), 0), count(ttft_ms),
    ${UNIT_COLS.map((c) => `sum(${c})`).join(", ")},
    signalbox_hist_of(array_agg(${latencyBucketSql("latency_ms")}))
  FROM ins
  GROUP BY 1, ${ROLLUP_DIM_COLS.map((_, i) => i + 2).join(", ")}
  -- one lock order for every writer: two replicas adding to the same rollup rows never deadlock
  ORDER BY 1, ${ROLLUP_DIM_COLS.map((_, i) => i + 2).join(", ")}
  ON CONFLICT (hour, ${ROLLUP_DIM_COLS.join(", ")}) DO UPDATE SET
    ${ROLLUP_SUM_COLS.map((c) => `${c} = h.${c} + excluded.${c}`).join(",\n    ")},
    latency_hist = signalbox_hist_add(h.latency_hist, excluded.latency_hist)
)
SELECT count(*)::int AS inserted FROM ins`;

const SELECT_RECORD = `SELECT r.time, r.id, r.trace_id, r.key, r.team, r.end_user, r.model, r.deployment, r.provider, r.status, r.detail FROM signalbox_requests r`;

interface RecordRow {
  time: Date;
  id: string;
  trace_id: string;
  key: string;
  team: string;
  end_user: string;
  model: string;
  deployment: string;
  provider: string;
  status: string;
  detail: Record<string, unknown>;
}

/** The record as the gateway made it: the columns, and the rest from detail. */
function recordFromRow(r: RecordRow): UsageRecord {
  return {
    ...(r.detail as object),
    id: r.id,
    time: r.time.getTime(),
    key: r.key,
    team: r.team,
    user: r.end_user,
    model: r.model,
    deployment: r.deployment,
    provider: r.provider,
    status: r.status,
    traceId: r.trace_id,
  } as UsageRecord;
}

/** One request row for jsonb_to_recordset. */
function rowOf(r: UsageRecord): Record<string, unknown> {
  const { id, time, key, team, user, model, deployment, provider, status, traceId, ...detail } = r;
  const c = countersOf(r);
  const tags = r.tags.length <= 1 ? [...r.tags] : [...new Set(r.tags)].sort();
  const row: Record<string, unknown> = {
    time: new Date(time).toISOString(),
    id: String(id),
    trace_id: traceId ?? "",
    key: key ?? "",
    team: team ?? "",
    end_user: user ?? "",
    model: model ?? "",
    route: r.routing?.route ?? "",
    variant: r.routing?.variant ?? "",
    deployment: deployment ?? "",
    provider: provider ?? "",
    status: status ?? "",
    tags,
    fallback: c[2] === 1,
    cache_hit: c[3] === 1,
    attempts: c[4],
    ttft_ms: c[18] ? c[17] : null,
    // Also in detail (the record as made); the column is for queries.
    operation: r.operation ?? "chat",
    detail,
  };
  for (let i = 0; i < COUNTER_COLS.length; i++) row[COUNTER_COLS[i]] = c[5 + i];
  for (let i = 0; i < UNIT_COLS.length; i++) row[UNIT_COLS[i]] = c[UNIT_COL_AT + i];
  return row;
}

// PostgreSQL text holds no NUL character, and json/jsonb refuse \u0000 and unpaired surrogates: both
// become U+FFFD (JSON.stringify writes them, and only them, as \u escapes among these ranges).
const UNSTORABLE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;
// Most batches hold no \u escape at all: the scan for one is far cheaper than the regex (a 500-row
// batch: 2.4 ms to stringify, 1.2 ms more for the regex, nothing for the scan).
const batchJson = (rows: Record<string, unknown>[]) => {
  const json = JSON.stringify(rows);
  return json.includes("\\u") ? json.replace(UNSTORABLE, "$1\\ufffd") : json;
};

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
function partitionName(day: number): string {
  const d = new Date(day);
  return `${PARTITION_PREFIX}${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}
function partitionDay(name: string): number | undefined {
  const m = /^signalbox_requests_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

// ---- page tokens: the keyset (time, id) of the last record returned --------------------------------

const TOKEN = /^p1\.([0-9a-f]{16})\.(-?[0-9]{1,16})\.([A-Za-z0-9_-]{1,400})\.([0-9a-f]{8})$/;
const tokenCheck = (fp: string, time: string, id: string) => createHash("sha256").update(`${fp}.${time}.${id}`).digest("hex").slice(0, 8);

function encodeCursor(fp: string, r: UsageRecord): string {
  const t = String(r.time);
  const id = Buffer.from(r.id, "utf8").toString("base64url");
  return Buffer.from(`p1.${fp}.${t}.${id}.${tokenCheck(fp, t, id)}`, "utf8").toString("base64url");
}

function decodeCursor(token: string, fp: string): { time: number; id: string } {
  const m = /^[A-Za-z0-9_-]+$/.test(token) ? TOKEN.exec(Buffer.from(token, "base64url").toString("utf8")) : null;
  if (!m || tokenCheck(m[1], m[2], m[3]) !== m[4]) {
    throw new GatewayError("invalid_argument", "page_token: malformed (pass next_page_token from a previous response unchanged)", { field: "page_token" });
  }
  if (m[1] !== fp) {
    throw new GatewayError("invalid_argument", "page_token: was issued for a different query (filters or time range changed); start again without a page token", {
      field: "page_token",
    });
  }
  return { time: Number(m[2]), id: Buffer.from(m[3], "base64url").toString("utf8") };
}

// ---- errors -------------------------------------------------------------------------------------

const sqlState = (err: unknown) => {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "";
};
/** The data of some record is what PostgreSQL refuses (split the batch to find it). */
const dataError = (err: unknown) => /^(22|23|54)/.test(sqlState(err)) && sqlState(err) !== "23514";
const NO_PARTITION = "23514";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A chunked FIFO: push is O(1), taking a batch is O(batch). */
class RecordQueue {
  #chunks: UsageRecord[][] = [];
  #size = 0;
  readonly #chunk: number;
  constructor(chunk: number) {
    this.#chunk = chunk;
  }
  get size() {
    return this.#size;
  }
  push(r: UsageRecord) {
    const last = this.#chunks[this.#chunks.length - 1];
    if (last && last.length < this.#chunk) last.push(r);
    else this.#chunks.push([r]);
    this.#size++;
  }
  /** The oldest chunk (at most `chunk` records). */
  take(): UsageRecord[] | undefined {
    const c = this.#chunks.shift();
    if (c) this.#size -= c.length;
    return c;
  }
}

/**
 * Open the PostgreSQL usage store. The schema is brought up to date and today's partitions made
 * at once when the database answers; when it does not, start-up goes on (records wait in the
 * buffer) and the writer does both when it comes back. Never logs the URL.
 */
export async function createPostgresUsageStore(url: string, opts: PostgresUsageStoreOptions = {}): Promise<PostgresUsageStore> {
  const log = opts.log ?? (() => {});
  const retentionDays = Math.max(1, Math.floor(opts.retentionDays ?? 90));
  const retentionMs = retentionDays * DAY;
  const rollupMs = Math.max(retentionDays, Math.floor(opts.rollupRetentionDays ?? 400)) * DAY;
  const every = opts.flushEveryMs ?? 200;
  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const maxBuffered = Math.max(0, opts.maxBuffered ?? defaultMaxBuffered());
  const retryMin = opts.retryMinMs ?? 250;
  const retryMax = Math.max(retryMin, opts.retryMaxMs ?? 2_000);
  const flushTimeout = opts.flushTimeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const writer = randomBytes(8).toString("hex");

  const pool = new pg.Pool({
    ...postgresClientConfig(url, `signalbox usage ${opts.replica ?? ""}`, { statementMs: STATEMENT_TIMEOUT_MS, queryMs: QUERY_TIMEOUT_MS }),
    max: Math.max(2, opts.poolSize ?? 4),
    idleTimeoutMillis: 30_000,
  });
  // An idle pooled connection dying (database restart) must never crash the process.
  pool.on("error", (err) => log("debug", "usage store: idle connection lost", { reason: unavailableReason(err) ?? "unexpected error" }));

  // ---- state ----------------------------------------------------------------------------------

  const queue = new RecordQueue(batchSize);
  /** Batches taken from the queue and not yet written (a failed one first; halves of a refused one). */
  const pending: UsageRecord[][] = [];
  let pendingCount = 0;
  const d: PostgresUsageDetails = {
    buffered: 0,
    written: 0,
    dropped: 0,
    batches: 0,
    inserted: 0,
    duplicates: 0,
    maxBatch: 0,
    writeMs: 0,
    failedWrites: 0,
    expired: 0,
    rejected: 0,
    partitionsCreated: 0,
    partitionsDropped: 0,
  };
  /** Overflow counts per hour not yet written, and the numbered set being written. */
  let dropHours = new Map<number, number>();
  let dropBatch: { no: number; hours: Map<number, number> } | undefined;
  let dropNo = 0;
  let migrated = false;
  /** UTC days known to have a partition. */
  let partitions: Set<number> | undefined;
  let maintainedDay = -1;
  /** Upkeep that failed for another reason than the database being away waits until then. */
  let maintainAt = 0;
  let degraded = false;
  let downSince = 0;
  let warnedDrop = false;
  let backoff = retryMin;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  let running: Promise<void> | undefined;

  const buffered = () => queue.size + pendingCount;
  const maintenanceDue = () => maintainedDay !== floorDay(now()) && Date.now() >= maintainAt;
  const hasWork = () => buffered() > 0 || dropHours.size > 0 || dropBatch !== undefined || (maintenanceDue() && !closed);

  // ---- SQL helpers -----------------------------------------------------------------------------

  /** One transaction on one connection (DDL), under the partitions' advisory lock (withTransaction: a broken connection is destroyed, not pooled). */
  const tx = <T,>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> =>
    withTransaction(pool, async (client) => {
      await client.query(`SET LOCAL lock_timeout = ${DDL_LOCK_TIMEOUT_MS}`);
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...PARTITION_LOCK]);
      return fn(client);
    });

  async function loadPartitions(): Promise<Set<number>> {
    const { rows } = await pool.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'signalbox_requests'::regclass",
    );
    const days = new Set<number>();
    for (const r of rows) {
      const day = partitionDay(r.name);
      if (day !== undefined) days.add(day);
    }
    partitions = days;
    return days;
  }

  /** Make sure these UTC days have a partition (one transaction for all that are missing). */
  async function ensurePartitions(days: Iterable<number>): Promise<string[]> {
    const known = partitions ?? (await loadPartitions());
    const missing = [...new Set(days)].filter((day) => !known.has(day)).sort((a, b) => a - b);
    if (missing.length === 0) return [];
    const created = await tx(async (c) => {
      const made: string[] = [];
      for (const day of missing) {
        const name = partitionName(day);
        const res = await c.query(
          `SELECT 1 FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid WHERE i.inhparent = 'signalbox_requests'::regclass AND k.relname = $1`,
          [name],
        );
        if (res.rowCount) continue;
        // Bounds are UTC instants (+00), whatever the session's time zone.
        await c.query(
          `CREATE TABLE ${name} PARTITION OF signalbox_requests FOR VALUES FROM ('${new Date(day).toISOString()}') TO ('${new Date(day + DAY).toISOString()}')`,
        );
        made.push(name);
      }
      return made;
    });
    for (const day of missing) known.add(day);
    d.partitionsCreated += created.length;
    if (created.length) log("info", "usage store: partitions created", { partitions: created });
    return created;
  }

  /** Create today's and tomorrow's partitions; drop those past retention; trim rollups. */
  async function maintain(): Promise<{ created: string[]; dropped: string[] }> {
    const t = now();
    const today = floorDay(t);
    const known = await loadPartitions();
    const created = await ensurePartitions([today, today + DAY]);
    const old = [...known].filter((day) => day + DAY <= t - retentionMs).sort((a, b) => a - b);
    let dropped: string[] = [];
    if (old.length) {
      dropped = await tx(async (c) => {
        const names: string[] = [];
        for (const day of old) {
          const name = partitionName(day);
          await c.query(`DROP TABLE IF EXISTS ${name}`);
          names.push(name);
        }
        return names;
      });
      for (const day of old) known.delete(day);
      d.partitionsDropped += dropped.length;
      log("info", "usage store: partitions past retention dropped", { partitions: dropped, retentionDays });
    }
    const cutoff = new Date(floorHour(t - rollupMs));
    await pool.query("DELETE FROM signalbox_usage_hourly WHERE hour < $1", [cutoff]);
    await pool.query("DELETE FROM signalbox_usage_dropped WHERE hour < $1", [cutoff]);
    // Feedback (the control store's table, src/control/feedback.ts) is kept as long as the rollups it
    // is compared with; the table is not there until the control plane's migration 16 has run.
    await pool.query("DELETE FROM signalbox_feedback WHERE at < $1", [cutoff]).catch((err: { code?: string }) => {
      if (err.code !== "42P01") throw err;
    });
    maintainedDay = today;
    return { created, dropped };
  }

  async function writeDrops(): Promise<void> {
    if (!dropBatch) {
      if (dropHours.size === 0) return;
      dropBatch = { no: ++dropNo, hours: dropHours };
      dropHours = new Map();
    }
    const hours = [...dropBatch.hours.keys()];
    await pool.query(
      `INSERT INTO signalbox_usage_dropped (writer, batch, hour, records)
       SELECT $1, $2, h, n FROM unnest($3::timestamptz[], $4::bigint[]) AS x(h, n) ON CONFLICT DO NOTHING`,
      [writer, dropBatch.no, hours.map((h) => new Date(h)), hours.map((h) => dropBatch!.hours.get(h))],
    );
    dropBatch = undefined;
  }

  /**
   * The next batch: a pending one, else the oldest records of the queue: a full batch, or fewer
   * when `partial` allows it (once per timer tick: the records that waited the batch window).
   */
  function nextBatch(partial: { ok: boolean }): UsageRecord[] | undefined {
    if (pending.length) return pending[0];
    if (queue.size < batchSize) {
      if (!partial.ok) return undefined;
      partial.ok = false;
    }
    const b = queue.take();
    if (b) {
      pending.push(b);
      pendingCount += b.length;
    }
    return b;
  }

  function settle(n: number) {
    pending.shift();
    pendingCount -= n;
  }

  async function writeBatch(batch: UsageRecord[]): Promise<void> {
    const t = now();
    const rows: Record<string, unknown>[] = [];
    const days = new Set<number>();
    let expired = 0;
    let bad = 0;
    for (const r of batch) {
      if (!r || typeof r !== "object" || !Number.isFinite(r.time) || typeof r.id !== "string" || !r.id) {
        bad++;
        continue;
      }
      const day = floorDay(r.time);
      if (day + DAY <= t - retentionMs) {
        expired++;
        continue;
      }
      try {
        rows.push(rowOf(r));
        days.add(day);
      } catch {
        bad++;
      }
    }
    let inserted = 0;
    if (rows.length) {
      await ensurePartitions(days);
      const started = performance.now();
      let res: pg.QueryResult<{ inserted: number }>;
      try {
        res = await pool.query({ name: "signalbox_usage_batch", text: BATCH_SQL, values: [batchJson(rows)] });
      } catch (err) {
        // A partition dropped or never made (another replica's upkeep, a stale cache): look again once.
        if (sqlState(err) !== NO_PARTITION) throw err;
        await loadPartitions();
        await ensurePartitions(days);
        res = await pool.query({ name: "signalbox_usage_batch", text: BATCH_SQL, values: [batchJson(rows)] });
      }
      d.writeMs += performance.now() - started;
      inserted = res.rows[0]?.inserted ?? 0;
      d.batches++;
      if (rows.length > d.maxBatch) d.maxBatch = rows.length;
    }
    d.inserted += inserted;
    d.duplicates += rows.length - inserted;
    d.written += rows.length;
    d.expired += expired;
    if (bad) {
      d.rejected += bad;
      d.dropped += bad;
      log("error", "usage store: malformed usage records were not stored", { records: bad });
    }
  }

  function setDegraded(err: unknown) {
    d.failedWrites++;
    if (degraded) backoff = Math.min(backoff * 2, retryMax);
    else {
      degraded = true;
      downSince = Date.now();
      const reason = unavailableReason(err);
      if (reason) {
        log("warn", "usage store: PostgreSQL unavailable, usage records wait in a bounded buffer", { reason, buffered: buffered(), maxBuffered });
        opts.onState?.({ kind: "unavailable", reason });
      }
      else log("error", "usage store: PostgreSQL refused a usage batch, retrying", { sqlstate: sqlState(err) || undefined, error: String((err as Error)?.message ?? err).slice(0, 200) });
    }
  }

  function setHealthy() {
    backoff = retryMin;
    if (!degraded) return;
    degraded = false;
    warnedDrop = false;
    log("info", "usage store: PostgreSQL is back, buffered usage records are being written", { downMs: Date.now() - downSince, buffered: buffered() });
    opts.onState?.({ kind: "recovered", downMs: Date.now() - downSince });
  }

  /** One step of the writer; false when there was nothing (more) to do now, or it failed. */
  async function step(partial: { ok: boolean }): Promise<boolean> {
    try {
      if (!migrated) {
        await migrate(pool);
        migrated = true;
      }
      if (maintenanceDue()) {
        try {
          await maintain();
        } catch (err) {
          if (unavailableReason(err)) throw err;
          // A lock not granted in time (a long query on the table), say: batches go on, upkeep
          // tries again in a minute (partitions are made a day ahead).
          maintainAt = Date.now() + 60_000;
          log("warn", "usage store: partition upkeep failed; trying again in a minute", { sqlstate: sqlState(err) || undefined });
          return true;
        }
        setHealthy();
        return true;
      }
      if (dropBatch || dropHours.size) await writeDrops();
      const batch = nextBatch(partial);
      if (!batch) {
        setHealthy();
        return false;
      }
      try {
        await writeBatch(batch);
      } catch (err) {
        if (!dataError(err)) throw err;
        // Something in this batch is refused on its own (not a connection problem): halve it until
        // the record is found, and drop (and count) just that one.
        pending.shift();
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          pending.unshift(batch.slice(0, half), batch.slice(half));
        } else {
          pendingCount -= 1;
          d.rejected++;
          d.dropped++;
          log("error", "usage store: PostgreSQL refused a usage record; it is dropped", { request_id: batch[0]?.id, sqlstate: sqlState(err) });
        }
        return true;
      }
      settle(batch.length);
      setHealthy();
      return true;
    } catch (err) {
      // The database is away or busy, two writers collided (deadlock), or something else went
      // wrong: the batch stays first in line and is retried with backoff.
      setDegraded(err);
      return false;
    }
  }

  const clearTimers = () => {
    clearTimeout(timer);
    timer = undefined;
    if (immediate) clearImmediate(immediate);
    immediate = undefined;
  };

  /**
   * Write full batches back to back, and what waited less than a full batch once (the timer's
   * tick); `drain` (flush) writes everything.
   */
  function run(drain = false): Promise<void> {
    if (running) return running;
    clearTimers();
    running = (async () => {
      const partial = { ok: true };
      while (await step(partial)) if (drain) partial.ok = true;
    })().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  }

  function schedule() {
    if (closed || timer || immediate || running) return;
    if (!hasWork()) return;
    if (!degraded && buffered() >= batchSize) {
      immediate = setImmediate(() => {
        immediate = undefined;
        void run();
      });
      return;
    }
    timer = setTimeout(
      () => {
        timer = undefined;
        void run();
      },
      degraded ? backoff : every,
    );
    timer.unref();
  }

  // Partition upkeep even without traffic: look every minute whether it is due (a new UTC day).
  const upkeep = setInterval(() => {
    if (maintenanceDue()) schedule();
  }, 60_000);
  upkeep.unref();

  async function flush(timeoutMs = flushTimeout): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (running) await running;
      await run(true);
      if (buffered() === 0 && dropHours.size === 0 && !dropBatch) return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(left, backoff));
    }
  }

  const fail = (err: unknown): never => {
    if (err instanceof GatewayError) throw err;
    const reason = unavailableReason(err);
    if (reason) throw new GatewayError("unavailable", `usage store unavailable: PostgreSQL ${reason}; try again shortly`, {}, err);
    throw err;
  };

  /** SQL conditions for filters on request rows (r) or rollups (r); values appended to `values`. */
  function filterSql(filters: UsageFilter[], values: unknown[], tagGroup: boolean): string[] {
    compileFilters(filters); // validates the dimensions
    const where: string[] = [];
    const p = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    for (const f of filters) {
      const vals = [...new Set(f.values)];
      if (f.dimension === "tag") {
        const a = p(vals);
        where.push(`(r.tags && ${a}::text[] OR (cardinality(r.tags) = 0 AND '' = ANY(${a}::text[])))`);
        if (tagGroup) where.push(`g.tag = ANY(${a}::text[])`);
      } else {
        where.push(`r.${COLUMN[f.dimension]} = ANY(${p(vals)}::text[])`);
      }
    }
    return where;
  }

  // ---- the store -------------------------------------------------------------------------------

  const store: PostgresUsageStore = {
    record(r) {
      try {
        if (closed) {
          d.dropped++;
          return;
        }
        if (buffered() >= maxBuffered) {
          d.dropped++;
          const h = floorHour(Number.isFinite(r?.time) ? r.time : Date.now());
          dropHours.set(h, (dropHours.get(h) ?? 0) + 1);
          if (!warnedDrop) {
            warnedDrop = true;
            log("warn", "usage store: buffer full while PostgreSQL is away; new usage records are dropped and counted", { maxBuffered });
            opts.onState?.({ kind: "dropping", maxBuffered });
          }
        } else queue.push(r);
        schedule();
      } catch {
        // record() never throws on the serving path.
      }
    },

    flush: (timeoutMs?: number) => flush(timeoutMs),

    async close() {
      if (closed) return;
      await flush();
      closed = true;
      clearTimers();
      clearInterval(upkeep);
      if (running) await running;
      const left = buffered();
      if (left) log("warn", "usage store: closed with usage records not written (PostgreSQL unavailable)", { records: left });
      log("info", "usage store: closed", {
        written: d.written,
        inserted: d.inserted,
        duplicates: d.duplicates,
        dropped: d.dropped,
        batches: d.batches,
        maxBatch: d.maxBatch,
        writeMs: Math.round(d.writeMs),
        failedWrites: d.failedWrites,
      });
      await pool.end().catch(() => {});
    },

    stats: () => ({ buffered: buffered(), written: d.written, dropped: d.dropped }),
    details: () => ({ ...d, buffered: buffered() }),
    get degraded() {
      return degraded;
    },

    async maintain() {
      try {
        if (!migrated) {
          await migrate(pool);
          migrated = true;
        }
        return await maintain();
      } catch (err) {
        return fail(err);
      }
    },

    async query(q: UsageQuery): Promise<UsageResult> {
      const groupBy = [...new Set(q.groupBy)];
      const from = floorHour(q.start);
      let to = ceilHour(q.end);
      if (to <= from) to = from + HOUR;
      const rollup = groupBy.every((dim) => ROLLUP_DIMS.has(dim)) && q.filters.every((f) => ROLLUP_DIMS.has(f.dimension));
      const tagGroup = groupBy.includes("tag");
      const values: unknown[] = [new Date(from), new Date(to)];
      const tcol = rollup ? "r.hour" : "r.time";
      const where = [`${tcol} >= $1`, `${tcol} < $2`, ...filterSql(q.filters, values, tagGroup)];
      const bucket =
        q.granularity === "hour" ? `date_trunc('hour', ${tcol}, 'UTC')` : q.granularity === "day" ? `date_trunc('day', ${tcol}, 'UTC')` : q.granularity === "month" ? `date_trunc('month', ${tcol}, 'UTC')` : undefined;
      const dims = groupBy.map((dim) => (dim === "tag" ? "g.tag" : `r.${COLUMN[dim]}`));
      const sums = rollup
        ? ROLLUP_SUM_COLS.map((c) => `sum(r.${c})`)
        : [
            "count(*)",
            "count(*) FILTER (WHERE r.status <> 'ok')",
            "count(*) FILTER (WHERE r.fallback)",
            "count(*) FILTER (WHERE r.cache_hit)",
            "sum(r.attempts)",
            ...COUNTER_COLS.map((c) => `sum(r.${c})`),
            "sum(r.ttft_ms)",
            "count(r.ttft_ms)",
            ...UNIT_COLS.map((c) => `sum(r.${c})`),
          ];
      // One statement (one snapshot), two kinds of rows: the counter sums per group (h IS NULL), and
      // the latency histogram per group, one row per bucket (h the bucket, s0 its requests): from
      // the rollups' histograms, or from the request rows' latencies.
      const head = [bucket ? `(extract(epoch FROM ${bucket}) * 1000)::bigint::text AS b` : "NULL::text AS b", ...dims.map((e, i) => `${e} AS g${i}`)];
      const select = [...head, "NULL::text AS h", ...sums.map((s, i) => `coalesce(${s}, 0)::text AS s${i}`)];
      const histSelect = [
        ...head,
        rollup ? "u.key AS h" : `${latencyBucketSql("r.latency_ms")}::text AS h`,
        rollup ? "sum(u.value::bigint)::text AS s0" : "count(*)::text AS s0",
        ...sums.slice(1).map((_, i) => `NULL::text AS s${i + 1}`),
      ];
      const keys = [...(bucket ? ["1"] : []), ...dims.map((_, i) => String(i + 2))];
      const histKeys = [...keys, String(dims.length + 2)];
      const source = `${rollup ? "signalbox_usage_hourly" : "signalbox_requests"} r${
        tagGroup ? " CROSS JOIN LATERAL unnest(CASE WHEN cardinality(r.tags) = 0 THEN ARRAY['']::text[] ELSE r.tags END) AS g(tag)" : ""
      }`;
      const sql = `SELECT ${select.join(", ")} FROM ${source} WHERE ${where.join(" AND ")}${keys.length ? ` GROUP BY ${keys.join(", ")}` : ""}
        UNION ALL
        SELECT ${histSelect.join(", ")} FROM ${source}${rollup ? " CROSS JOIN LATERAL jsonb_each_text(r.latency_hist) AS u" : ""} WHERE ${where.join(" AND ")} GROUP BY ${histKeys.join(", ")}`;
      try {
        const [res, drops] = await Promise.all([
          pool.query<Record<string, string | null>>(sql, values),
          pool.query<{ in_range: string; total: string }>(
            "SELECT coalesce(sum(records) FILTER (WHERE hour >= $1 AND hour < $2), 0)::text AS in_range, coalesce(sum(records), 0)::text AS total FROM signalbox_usage_dropped",
            [new Date(from), new Date(to)],
          ),
        ]);
        const groupKey = (row: Record<string, string | null>) => JSON.stringify([row.b, ...groupBy.map((_, i) => row[`g${i}`])]);
        const hists = new Map<string, Map<number, number>>();
        for (const row of res.rows) {
          if (row.h === null) continue;
          const k = groupKey(row);
          let hist = hists.get(k);
          if (!hist) hists.set(k, (hist = new Map()));
          hist.set(Number(row.h), (hist.get(Number(row.h)) ?? 0) + Number(row.s0));
        }
        const rows: UsageRow[] = [];
        for (const row of res.rows) {
          if (row.h !== null) continue;
          const s: bigint[] = [];
          for (let i = 0; i < N_COUNTERS; i++) s.push(BigInt(row[`s${i}`] ?? "0"));
          if (s[0] === 0n) continue;
          const group: Partial<Record<Dimension, string>> = {};
          groupBy.forEach((dim, i) => (group[dim] = row[`g${i}`] ?? ""));
          rows.push(usageRow(bucket ? Number(row.b) : q.start, group, s, hists.get(groupKey(row)) ?? new Map()));
        }
        rows.sort((a, b) => {
          if (a.bucketStart !== b.bucketStart) return a.bucketStart - b.bucketStart;
          for (const dim of groupBy) {
            const x = a.group[dim]!;
            const y = b.group[dim]!;
            if (x !== y) return x < y ? -1 : 1;
          }
          return 0;
        });
        return { rows, from, to, dropped: Number(drops.rows[0]?.in_range ?? 0), droppedTotal: Number(drops.rows[0]?.total ?? 0) };
      } catch (err) {
        return fail(err);
      }
    },

    async list(q: ListQuery): Promise<ListResult> {
      const size = pageSizeOf(q);
      const fp = listFingerprint(q);
      const cursor = q.pageToken ? decodeCursor(q.pageToken, fp) : undefined;
      const values: unknown[] = [];
      const p = (v: unknown) => {
        values.push(v);
        return `$${values.length}`;
      };
      const where = filterSql(q.filters, values, false);
      if (q.start !== undefined) where.push(`r.time >= ${p(new Date(q.start))}`);
      if (q.end !== undefined) where.push(`r.time < ${p(new Date(q.end))}`);
      if (q.traceId) where.push(`r.trace_id = ${p(q.traceId)}`);
      if (cursor) where.push(`(r.time, r.id) < (${p(new Date(cursor.time))}::timestamptz, ${p(cursor.id)}::text)`);
      const sql = `${SELECT_RECORD}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY r.time DESC, r.id DESC LIMIT ${size + 1}`;
      try {
        const { rows } = await pool.query<RecordRow>(sql, values);
        const records = rows.slice(0, size).map(recordFromRow);
        return { records, nextPageToken: rows.length > size ? encodeCursor(fp, records[records.length - 1]) : "" };
      } catch (err) {
        return fail(err);
      }
    },

    async get(q: GetQuery): Promise<UsageRecord | undefined> {
      const values: unknown[] = [];
      const where = filterSql(q.filters, values, false);
      values.push(q.id ?? q.traceId ?? "");
      where.push(q.id ? `r.id = $${values.length}` : `r.trace_id = $${values.length}`);
      try {
        const { rows } = await pool.query<RecordRow>(`${SELECT_RECORD} WHERE ${where.join(" AND ")} ORDER BY r.time DESC, r.id DESC LIMIT 1`, values);
        return rows[0] ? recordFromRow(rows[0]) : undefined;
      } catch (err) {
        return fail(err);
      }
    },
  };

  // Schema and today's partitions now, if the database answers; otherwise the writer does it later.
  try {
    await migrate(pool);
    migrated = true;
    await maintain();
    log("info", "usage store: postgres ready", { retentionDays, rollupRetentionDays: rollupMs / DAY, partitions: partitions?.size ?? 0, maxBuffered });
  } catch (err) {
    const reason = unavailableReason(err);
    if (!reason) {
      await pool.end().catch(() => {});
      throw err;
    }
    log("warn", "usage store: PostgreSQL unavailable at start; usage records wait in a bounded buffer until it answers", { reason });
  }
  return store;
}
