// The durable control store: keys, teams and the audit log in PostgreSQL, each write one transaction
// with its audit row and a NOTIFY that tells every replica (LISTEN, reconnect, periodic resync).

import pg from "pg";
import { log as defaultLog, type Level } from "../telemetry/log.ts";
import { migrate } from "./migrations.ts";
import { type AuditEvent, type AuditInput, type AuditQuery, type ControlChange, type ControlStore, type FeedbackDimension, endUserId, type FeedbackRecord, type ManagedEndUser, type ManagedKey, type ManagedPrompt, type ManagedTeam, type PromptVersionRecord, type StoredEntry, StoreError } from "./types.ts";
import type { EntryKind } from "../config/load.ts";

export { migrate, MIGRATIONS, type Migration } from "./migrations.ts";

/** The NOTIFY channel that carries `{"kind":"key"|"team"|"prompt","name":…}` to every replica. */
export const CONTROL_CHANNEL = "signalbox_control";

export interface PostgresControlStoreOptions {
  /** This replica's name (audit rows that carry none get it; the connection's application_name). */
  replica: string;
  /** Defaults to the gateway's structured log. Never given the URL or a password. */
  log?: (level: Level, msg: string, fields?: Record<string, unknown>) => void;
  /** Full resync period for subscribers (heals a missed notice). Default 30 s. */
  resyncMs?: number;
}

/** Server-side limit of any one statement; a hung database cannot hang an admin call for longer. */
const STATEMENT_TIMEOUT_MS = 5_000;
/** Client-side limit (network partitions, where the server never answers at all). */
const QUERY_TIMEOUT_MS = 7_000;
const CONNECT_TIMEOUT_MS = 2_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** Two-int advisory lock class for "a key hash is being claimed" (never clashes with MIGRATION_LOCK). */
const HASH_LOCK_CLASS = 0x5b0c;
const AUDIT_MAX_PAGE = 1_000;

const KEY_COLS =
  "name, team, role, hash, prefix, allow, limits, per_user_limits, budget, max_output_tokens, expires_at, metadata, created_at, updated_at, created_by, revoked_at, prev_hash, prev_hash_expires_at, last_used_at, per_user_budget, blocked_at";
const TEAM_COLS = "name, budget, default_key_limits, metadata, created_at, updated_at";
const END_USER_COLS = "team, user_id, budget, limits, blocked_at, metadata, created_at, updated_at, created_by";
const AUDIT_COLS = `id::text AS id, at, actor, action, target, before, after, replica, trace_id,
  (extract(epoch FROM date_trunc('second', at))::bigint * 1000000 + extract(microseconds FROM at)::bigint % 1000000)::text AS at_us`;

interface KeyRow {
  name: string;
  team: string;
  role: ManagedKey["role"];
  hash: string;
  prefix: string;
  allow: string[];
  limits: ManagedKey["limits"];
  per_user_limits: ManagedKey["perUserLimits"] | null;
  budget: ManagedKey["budget"] | null;
  max_output_tokens: number | null;
  expires_at: Date | null;
  metadata: Record<string, string>;
  created_at: Date;
  updated_at: Date;
  created_by: string;
  revoked_at: Date | null;
  prev_hash: string | null;
  prev_hash_expires_at: Date | null;
  last_used_at: Date | null;
  blocked_at: Date | null;
  per_user_budget: ManagedKey["perUserBudget"] | null;
}

interface TeamRow {
  name: string;
  budget: ManagedTeam["budget"] | null;
  default_key_limits: ManagedTeam["defaultKeyLimits"] | null;
  metadata: Record<string, string>;
  created_at: Date;
  updated_at: Date;
}

interface AuditRow {
  id: string;
  at: Date;
  at_us: string;
  actor: string;
  action: string;
  target: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  replica: string;
  trace_id: string;
}

function keyFromRow(r: KeyRow): ManagedKey {
  const k: ManagedKey = {
    name: r.name,
    team: r.team,
    role: r.role,
    hash: r.hash,
    prefix: r.prefix,
    allow: r.allow ?? [],
    limits: r.limits ?? {},
    metadata: r.metadata ?? {},
    source: "store",
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
    createdBy: r.created_by,
  };
  // Absent optional fields stay absent (not null, not an explicit undefined).
  if (r.per_user_limits != null) k.perUserLimits = r.per_user_limits;
  if (r.budget != null) k.budget = r.budget;
  if (r.per_user_budget != null) k.perUserBudget = r.per_user_budget;
  if (r.max_output_tokens != null) k.maxOutputTokens = r.max_output_tokens;
  if (r.expires_at != null) k.expiresAt = r.expires_at.getTime();
  if (r.revoked_at != null) k.revokedAt = r.revoked_at.getTime();
  if (r.prev_hash != null) k.prevHash = r.prev_hash;
  if (r.prev_hash_expires_at != null) k.prevHashExpiresAt = r.prev_hash_expires_at.getTime();
  if (r.last_used_at != null) k.lastUsedAt = r.last_used_at.getTime();
  if (r.blocked_at != null) k.blockedAt = r.blocked_at.getTime();
  return k;
}

interface EndUserRow {
  team: string;
  user_id: string;
  budget: ManagedEndUser["budget"] | null;
  limits: ManagedEndUser["limits"] | null;
  blocked_at: Date | null;
  metadata: Record<string, string>;
  created_at: Date;
  updated_at: Date;
  created_by: string;
}

function endUserFromRow(r: EndUserRow): ManagedEndUser {
  const u: ManagedEndUser = { team: r.team, user: r.user_id, metadata: r.metadata ?? {}, createdAt: r.created_at.getTime(), updatedAt: r.updated_at.getTime(), createdBy: r.created_by };
  if (r.budget != null) u.budget = r.budget;
  if (r.limits != null) u.limits = r.limits;
  if (r.blocked_at != null) u.blockedAt = r.blocked_at.getTime();
  return u;
}

function teamFromRow(r: TeamRow): ManagedTeam {
  const t: ManagedTeam = { name: r.name, metadata: r.metadata ?? {}, source: "store", createdAt: r.created_at.getTime(), updatedAt: r.updated_at.getTime() };
  if (r.budget != null) t.budget = r.budget;
  if (r.default_key_limits != null) t.defaultKeyLimits = r.default_key_limits;
  return t;
}

interface PromptRow {
  id: string;
  team: string;
  labels: Record<string, number>;
  created_at: Date;
  updated_at: Date;
}

interface PromptVersionRow {
  prompt_id: string;
  version: number;
  model: string | null;
  instructions: string | null;
  messages: PromptVersionRecord["messages"];
  parameters: PromptVersionRecord["parameters"] | null;
  description: string;
  created_at: Date;
  created_by: string;
}

const PROMPT_COLS = "id, team, labels, created_at, updated_at";
const PROMPT_VERSION_COLS = "prompt_id, version, model, instructions, messages, parameters, description, created_at, created_by";

function promptFromRows(r: PromptRow, versions: PromptVersionRow[]): ManagedPrompt {
  return {
    id: r.id,
    team: r.team,
    labels: r.labels ?? {},
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
    versions: versions.map((v) => ({
      version: v.version,
      ...(v.model != null ? { model: v.model } : {}),
      ...(v.instructions != null ? { instructions: v.instructions } : {}),
      messages: v.messages ?? [],
      ...(v.parameters != null ? { parameters: v.parameters } : {}),
      description: v.description,
      createdAt: v.created_at.getTime(),
      createdBy: v.created_by,
    })),
  };
}

function auditFromRow(r: AuditRow): AuditEvent {
  const e: AuditEvent = { id: r.id, time: r.at.getTime(), actor: r.actor, action: r.action, target: r.target, replica: r.replica, traceId: r.trace_id };
  if (r.before != null) e.before = r.before;
  if (r.after != null) e.after = r.after;
  return e;
}

/** jsonb parameter: always serialised here (pg would turn a JS array into a PostgreSQL array). */
const ENTRY_COLS = "kind, name, spec, revision, created_at, updated_at, created_by, updated_by";

function entryFromRow(r: any): StoredEntry {
  return {
    kind: r.kind,
    name: r.name,
    spec: r.spec,
    revision: Number(r.revision),
    createdAt: new Date(r.created_at).getTime(),
    updatedAt: new Date(r.updated_at).getTime(),
    createdBy: r.created_by,
    updatedBy: r.updated_by,
  };
}

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const time = (ms: number | undefined): Date | null => (ms === undefined || ms === null ? null : new Date(ms));

/** Cursor of an audit page: base64url of "<at in µs since the epoch>:<id>". */
function encodeCursor(r: AuditRow): string {
  return Buffer.from(`${r.at_us}:${r.id}`, "utf8").toString("base64url");
}

function decodeCursor(c: string): { atUs: string; id: string } {
  const m = /^(-?\d{1,19}):(\d{1,19})$/.exec(Buffer.from(c, "base64url").toString("utf8"));
  if (!m) throw new RangeError("invalid audit cursor");
  return { atUs: m[1], id: m[2] };
}

/** The error a mutate callback threw: rethrown as it is, never translated. */
class Passthrough {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

const NET_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ECONNABORTED: "connection aborted",
  EPIPE: "connection closed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  "57P01": "server shutting down",
  "57P02": "server crashed",
  "57P03": "server not accepting connections",
  "57014": "statement timeout",
  "53300": "too many connections",
  "3D000": "database does not exist",
  "28000": "authentication failed",
  "28P01": "authentication failed",
  ERR_INVALID_URL: "invalid connection URL",
};

/**
 * A short, secret-free reason when `err` means "the database cannot be reached" (connection
 * failures, shutdowns, timeouts); undefined for anything else (SQL errors, constraint violations).
 */
export function unavailableReason(err: unknown): string | undefined {
  if (!err || typeof err !== "object") return undefined;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  if (NET_REASONS[code]) return NET_REASONS[code];
  if (/^08/.test(code)) return "connection failure";
  const msg = typeof e.message === "string" ? e.message : "";
  if (/timeout exceeded when trying to connect|connection timeout|timeout expired/i.test(msg)) return "connect timeout";
  if (/query read timeout/i.test(msg)) return "query timeout";
  if (/connection terminated|not queryable|connection error/i.test(msg)) return "connection lost";
  if (/after calling end on the pool/i.test(msg)) return "store closed";
  // Node's happy-eyeballs connect wraps one error per address.
  if (Array.isArray(e.errors)) for (const inner of e.errors) {
    const r = unavailableReason(inner);
    if (r) return r;
  }
  return undefined;
}

function existsMessage(constraint: string | undefined, what: string): string {
  if (constraint === "signalbox_keys_pkey") return `key "${what}" already exists`;
  if (constraint === "signalbox_teams_pkey") return `team "${what}" already exists`;
  if (constraint === "signalbox_keys_hash_key" || constraint === "signalbox_keys_prev_hash_key") return "a key with this secret already exists";
  return "already exists";
}

/** Map what a query threw to what the store promises: StoreError for known cases, else as is. */
function translate(err: unknown, what = ""): unknown {
  if (err instanceof Passthrough) return err.error;
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "23505") return new StoreError("exists", existsMessage((err as { constraint?: string }).constraint, what));
  const reason = unavailableReason(err);
  if (reason) return new StoreError("unavailable", `control store unavailable: ${reason}`);
  return err;
}

type Sql = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;


/**
 * One transaction on one connection of the pool: `begin`, the work, COMMIT; rolled back on any
 * failure. A connection that failed (an error while it was checked out, a failed rollback, or a
 * database that went away) is destroyed, not returned to the pool. A checked-out client has no pool
 * listener, so its errors between queries are caught here rather than crashing the process.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on("error", onError);
  try {
    await client.query(begin);
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    if (!broken && !unavailableReason(err)) await client.query("ROLLBACK").catch((e: unknown) => (broken = e instanceof Error ? e : new Error("rollback failed")));
    else broken ??= new Error("connection unusable");
    throw err;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}

/**
 * Connection settings every PostgreSQL client of the gateway uses: a short connect timeout, a
 * statement and a client-side query timeout (a hung or cut-off database never hangs a caller),
 * TCP keepalive, and the replica in application_name. Never logged: the URL may hold a password.
 */
export function postgresClientConfig(url: string, name: string, t: { statementMs: number; queryMs: number }): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: t.statementMs,
    query_timeout: t.queryMs,
    idle_in_transaction_session_timeout: 15_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: name.trim().slice(0, 63),
  };
}

/**
 * Open the PostgreSQL control store: a small pool (4 connections), the schema brought up to date
 * by `migrate` (safe when replicas start together), then ready. Rejects with
 * StoreError("unavailable") when the database cannot be reached; never logs or throws the URL.
 */
export async function createPostgresControlStore(url: string, opts: PostgresControlStoreOptions): Promise<ControlStore> {
  const log = opts.log ?? defaultLog;
  const resyncMs = opts.resyncMs ?? 30_000;
  const clientConfig = postgresClientConfig(url, `signalbox ${opts.replica}`, { statementMs: STATEMENT_TIMEOUT_MS, queryMs: QUERY_TIMEOUT_MS });
  const pool = new pg.Pool({ ...clientConfig, max: 4, idleTimeoutMillis: 30_000 });
  // An idle pooled connection dying (database restart) must never crash the process.
  pool.on("error", (err) => log("warn", "control store: idle connection lost", { reason: unavailableReason(err) ?? "unexpected error" }));

  let where: Record<string, unknown> = {};
  try {
    const u = new URL(url);
    where = { host: u.hostname, port: u.port || "5432", database: decodeURIComponent(u.pathname.slice(1)) };
  } catch {
    // Not a URL (a libpq key/value string): log nothing about it.
  }

  try {
    const applied = await migrate(pool);
    log("info", "control store: postgres ready", { ...where, migrationsApplied: applied });
  } catch (err) {
    await pool.end().catch(() => {});
    throw translate(err);
  }

  const q: Sql = async (text, values) => {
    try {
      return await pool.query(text, values);
    } catch (err) {
      throw translate(err);
    }
  };

  /** One transaction on one connection (withTransaction); the error translated on any failure. */
  async function tx<T>(fn: (sql: Sql) => Promise<T>, what = "", begin = "BEGIN"): Promise<T> {
    try {
      return await withTransaction(pool, (client) => fn((text, values) => client.query(text, values)), begin);
    } catch (err) {
      throw translate(err, what);
    }
  }

  async function writeAudit(sql: Sql, a: AuditInput): Promise<void> {
    await sql(
      `INSERT INTO signalbox_audit (at, actor, action, target, before, after, replica, trace_id)
       VALUES (coalesce($1::timestamptz, now()), $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)`,
      [time(a.time), a.actor, a.action, a.target ?? "", json(a.before), json(a.after), a.replica || opts.replica, a.traceId ?? ""],
    );
  }

  /** A runtime config entry; `lock` holds its row until the transaction ends. */
  async function readEntry(sql: Sql, kind: EntryKind, name: string, lock = false): Promise<StoredEntry | undefined> {
    const { rows } = await sql(`SELECT ${ENTRY_COLS} FROM signalbox_config_entries WHERE kind = $1 AND name = $2${lock ? " FOR UPDATE" : ""}`, [kind, name]);
    return rows[0] ? entryFromRow(rows[0]) : undefined;
  }

  /** A prompt with its versions; `lock` holds its row until the transaction ends. */
  async function readPrompt(sql: Sql, id: string, lock = false): Promise<ManagedPrompt | undefined> {
    const { rows } = await sql(`SELECT ${PROMPT_COLS} FROM signalbox_prompts WHERE id = $1${lock ? " FOR UPDATE" : ""}`, [id]);
    if (!rows[0]) return undefined;
    const versions = await sql(`SELECT ${PROMPT_VERSION_COLS} FROM signalbox_prompt_versions WHERE prompt_id = $1 ORDER BY version`, [id]);
    return promptFromRows(rows[0] as PromptRow, versions.rows as PromptVersionRow[]);
  }

  /** An existing prompt, locked until the transaction ends, that `check` accepted (its error passes through). */
  async function lockedPrompt(sql: Sql, id: string, check: (before: ManagedPrompt) => void): Promise<ManagedPrompt> {
    const before = await readPrompt(sql, id, true);
    if (!before || before.versions.length === 0) throw new StoreError("not_found", `prompt "${id}" does not exist`);
    try {
      check(before);
    } catch (err) {
      throw new Passthrough(err);
    }
    return before;
  }

  const notify = (sql: Sql, c: ControlChange) => sql("SELECT pg_notify($1, $2)", [CONTROL_CHANNEL, JSON.stringify({ kind: c.kind, name: c.name })]);

  /**
   * Claim new hash values: an advisory lock per hash (so two writers of the same secret queue up),
   * then no other key may hold it as its current or previous hash. The unique indexes cover
   * hash = hash and prev_hash = prev_hash; this covers the cross case.
   */
  async function claimHashes(sql: Sql, name: string, hashes: (string | undefined)[]): Promise<void> {
    const list = [...new Set(hashes.filter((h): h is string => !!h))].sort();
    if (list.length === 0) return;
    await sql("SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT hashtext(h) AS k FROM unnest($2::text[]) AS h ORDER BY 1) AS s", [HASH_LOCK_CLASS, list]);
    const { rowCount } = await sql("SELECT 1 FROM signalbox_keys WHERE name <> $1 AND (hash = ANY($2) OR prev_hash = ANY($2)) LIMIT 1", [name, list]);
    if (rowCount) throw new StoreError("exists", "a key with this secret already exists");
  }

  /** Hold the team row (if the store has it) so a concurrent deleteTeam cannot miss this key. */
  const shareTeam = (sql: Sql, team: string) => sql("SELECT 1 FROM signalbox_teams WHERE name = $1 FOR SHARE", [team]);

  const keyValues = (k: ManagedKey) => [
    k.name,
    k.team,
    k.role,
    k.hash,
    k.prefix ?? "",
    k.allow ?? [],
    json(k.limits ?? {}),
    json(k.perUserLimits),
    json(k.budget),
    k.maxOutputTokens ?? null,
    time(k.expiresAt),
    json(k.metadata ?? {}),
    time(k.createdAt),
    time(k.updatedAt),
    k.createdBy ?? "",
    time(k.revokedAt),
    k.prevHash ?? null,
    time(k.prevHashExpiresAt),
    json(k.perUserBudget),
    time(k.blockedAt),
  ];

  const teamValues = (t: ManagedTeam) => [t.name, json(t.budget), json(t.defaultKeyLimits), json(t.metadata ?? {}), time(t.createdAt), time(t.updatedAt)];

  // ---- the change feed -------------------------------------------------------------------------

  const subscribers: { onChange: (c: ControlChange) => void; onResync: () => void }[] = [];
  let closed = false;
  let closing: Promise<void> | undefined;
  let feed: { client: pg.Client; fail: (err: unknown) => void; ready: boolean } | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  let backoff = BACKOFF_MIN_MS;
  let lostSince = 0;

  const call = (what: string, fn: () => unknown) => {
    try {
      Promise.resolve(fn()).catch((err: unknown) => log("warn", `control store: ${what} handler failed`, { error: String((err as Error)?.message ?? err) }));
    } catch (err) {
      log("warn", `control store: ${what} handler failed`, { error: String((err as Error)?.message ?? err) });
    }
  };
  const resyncAll = () => {
    for (const s of subscribers) call("resync", s.onResync);
  };

  function listen(): void {
    reconnectTimer = undefined;
    if (closed) return;
    const client = new pg.Client(clientConfig);
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      if (feed?.client === client) feed = undefined;
      client.end().catch(() => {});
      if (closed) return;
      const reason = unavailableReason(err) ?? "unexpected error";
      if (!lostSince) {
        lostSince = Date.now();
        log("warn", "control store: change feed lost, reconnecting", { reason });
      } else {
        log("debug", "control store: change feed still down", { reason, retryInMs: backoff });
      }
      reconnectTimer = setTimeout(listen, backoff);
      reconnectTimer.unref();
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    };
    const entry = { client, fail, ready: false };
    feed = entry;
    // The 'error' listener stays for the client's whole life: later errors are swallowed, not thrown.
    client.on("error", fail);
    client.on("end", () => fail(new Error("Connection terminated")));
    client.on("notification", (n) => {
      if (n.channel !== CONTROL_CHANNEL || !n.payload) return;
      let c: ControlChange;
      try {
        const p = JSON.parse(n.payload) as Partial<ControlChange>;
        if ((p.kind !== "key" && p.kind !== "team" && p.kind !== "prompt" && p.kind !== "entry" && p.kind !== "session" && p.kind !== "end_user") || typeof p.name !== "string") throw new Error("bad shape");
        c = { kind: p.kind, name: p.name };
      } catch {
        log("warn", "control store: ignored a malformed change notice", {});
        return;
      }
      for (const s of subscribers) call("change", () => s.onChange(c));
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${CONTROL_CHANNEL}`))
      .then(() => {
        if (failed) return;
        if (closed) {
          client.end().catch(() => {});
          return;
        }
        entry.ready = true;
        backoff = BACKOFF_MIN_MS;
        if (lostSince) log("info", "control store: change feed back", { downMs: Date.now() - lostSince });
        lostSince = 0;
        // Notices sent while we were not listening are lost: the subscribers reload everything.
        resyncAll();
      }, fail);
  }

  function periodic(): void {
    const f = feed;
    // While the feed is down, the reconnect triggers the resync; nothing to gain from failing loads.
    if (!f?.ready) return;
    resyncAll();
    // A silently dead connection (no RST) would never fail on its own: ping it.
    f.client.query("SELECT 1").catch(f.fail);
  }

  // ---- the store -------------------------------------------------------------------------------

  return {
    kind: "postgres",

    async loadAll() {
      return tx(async (sql) => {
        const keys = await sql(`SELECT ${KEY_COLS} FROM signalbox_keys ORDER BY name`);
        const teams = await sql(`SELECT ${TEAM_COLS} FROM signalbox_teams ORDER BY name`);
        const prompts = await sql(`SELECT ${PROMPT_COLS} FROM signalbox_prompts ORDER BY id`);
        const versions = await sql(`SELECT ${PROMPT_VERSION_COLS} FROM signalbox_prompt_versions ORDER BY prompt_id, version`);
        const byPrompt = new Map<string, PromptVersionRow[]>();
        for (const v of versions.rows as PromptVersionRow[]) {
          const list = byPrompt.get(v.prompt_id);
          if (list) list.push(v);
          else byPrompt.set(v.prompt_id, [v]);
        }
        const entries = await sql(`SELECT ${ENTRY_COLS} FROM signalbox_config_entries ORDER BY kind, name`);
        const endUsers = await sql(`SELECT ${END_USER_COLS} FROM signalbox_end_users ORDER BY team, user_id`);
        return {
          keys: keys.rows.map(keyFromRow),
          teams: teams.rows.map(teamFromRow),
          prompts: (prompts.rows as PromptRow[]).map((r) => promptFromRows(r, byPrompt.get(r.id) ?? [])),
          entries: entries.rows.map(entryFromRow),
          endUsers: (endUsers.rows as EndUserRow[]).map(endUserFromRow),
        };
      }, "", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    },

    async getPrompt(id) {
      return tx((sql) => readPrompt(sql, id), "", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    },

    async addPromptVersion(id, team, v, labels, check, audit) {
      return tx(async (sql) => {
        // A new prompt's row first (a race of two creators: the second waits on the row lock, then sees it).
        await sql(`INSERT INTO signalbox_prompts (id, team, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO NOTHING`, [id, team, time(v.createdAt)]);
        const before = await readPrompt(sql, id, true);
        const fresh = before!.versions.length === 0;
        try {
          check(fresh ? undefined : before);
        } catch (err) {
          throw new Passthrough(err);
        }
        const version = (before!.versions.at(-1)?.version ?? 0) + 1;
        await sql(
          `INSERT INTO signalbox_prompt_versions (${PROMPT_VERSION_COLS}) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9)`,
          [id, version, v.model ?? null, v.instructions ?? null, json(v.messages), json(v.parameters), v.description, time(v.createdAt), v.createdBy],
        );
        const next = { ...before!.labels };
        for (const l of labels) next[l] = version;
        await sql(`UPDATE signalbox_prompts SET labels = $2::jsonb, updated_at = $3 WHERE id = $1`, [id, json(next), time(v.createdAt)]);
        const after = (await readPrompt(sql, id))!;
        await writeAudit(sql, audit(after));
        await notify(sql, { kind: "prompt", name: id });
        return after;
      }, id);
    },

    async setPromptLabel(id, label, version, check, audit) {
      return tx(async (sql) => {
        const before = await lockedPrompt(sql, id, check);
        const next = { ...before.labels };
        if (version === undefined) delete next[label];
        else next[label] = version;
        await sql(`UPDATE signalbox_prompts SET labels = $2::jsonb, updated_at = now() WHERE id = $1`, [id, json(next)]);
        const after = (await readPrompt(sql, id))!;
        await writeAudit(sql, audit);
        await notify(sql, { kind: "prompt", name: id });
        return after;
      }, id);
    },

    async deletePrompt(id, check, audit) {
      return tx(async (sql) => {
        const before = await lockedPrompt(sql, id, check);
        await sql("DELETE FROM signalbox_prompts WHERE id = $1", [id]);
        await writeAudit(sql, audit);
        await notify(sql, { kind: "prompt", name: id });
        return before;
      }, id);
    },

    async getEntry(kind, name) {
      const { rows } = await q(`SELECT ${ENTRY_COLS} FROM signalbox_config_entries WHERE kind = $1 AND name = $2`, [kind, name]);
      return rows[0] ? entryFromRow(rows[0]) : undefined;
    },

    async putEntry(kind, name, build, audit) {
      return tx(async (sql) => {
        // A new entry's race: the second writer's INSERT waits on the first's row, then conflicts.
        const before = await readEntry(sql, kind, name, true);
        const after = build(before);
        await sql(
          `INSERT INTO signalbox_config_entries (kind, name, spec, revision, created_at, updated_at, created_by, updated_by)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)
           ON CONFLICT (kind, name) DO UPDATE SET spec = EXCLUDED.spec, revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
          [kind, name, json(after.spec), after.revision, time(after.createdAt), time(after.updatedAt), after.createdBy, after.updatedBy],
        );
        await writeAudit(sql, audit(before, after));
        await notify(sql, { kind: "entry", name: `${kind}/${name}` });
        return after;
      }, `${kind} "${name}"`);
    },

    async deleteEntry(kind, name, check, audit) {
      return tx(async (sql) => {
        const before = await readEntry(sql, kind, name, true);
        if (!before) throw new StoreError("not_found", `${kind} "${name}" was not made at run time (no such entry)`);
        check(before);
        await sql("DELETE FROM signalbox_config_entries WHERE kind = $1 AND name = $2", [kind, name]);
        await writeAudit(sql, audit(before));
        await notify(sql, { kind: "entry", name: `${kind}/${name}` });
        return before;
      }, `${kind} "${name}"`);
    },

    async getEndUser(team, user) {
      const { rows } = await q(`SELECT ${END_USER_COLS} FROM signalbox_end_users WHERE team = $1 AND user_id = $2`, [team, user]);
      return rows[0] ? endUserFromRow(rows[0] as EndUserRow) : undefined;
    },

    async putEndUser(team, user, mutate, audit) {
      return tx(async (sql) => {
        // A new end user's race: the second writer's INSERT waits on the first's row, then updates it.
        const { rows } = await sql(`SELECT ${END_USER_COLS} FROM signalbox_end_users WHERE team = $1 AND user_id = $2 FOR UPDATE`, [team, user]);
        const before = rows[0] ? endUserFromRow(rows[0] as EndUserRow) : undefined;
        let next: ManagedEndUser;
        try {
          next = mutate(before && structuredClone(before));
        } catch (err) {
          throw new Passthrough(err);
        }
        const res = await sql(
          `INSERT INTO signalbox_end_users (team, user_id, budget, limits, blocked_at, metadata, created_at, updated_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), coalesce($8, now()), $9)
           ON CONFLICT (team, user_id) DO UPDATE SET budget = EXCLUDED.budget, limits = EXCLUDED.limits, blocked_at = EXCLUDED.blocked_at,
             metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at
           RETURNING ${END_USER_COLS}`,
          [team, user, json(next.budget), json(next.limits), time(next.blockedAt), json(next.metadata ?? {}), time(next.createdAt), time(next.updatedAt), next.createdBy ?? ""],
        );
        const after = endUserFromRow(res.rows[0] as EndUserRow);
        await writeAudit(sql, audit(before, after));
        await notify(sql, { kind: "end_user", name: endUserId(team, user) });
        return { ...(before ? { before } : {}), after };
      }, `end user "${user}"`);
    },

    async deleteEndUser(team, user, audit) {
      return tx(async (sql) => {
        const { rows } = await sql(`DELETE FROM signalbox_end_users WHERE team = $1 AND user_id = $2 RETURNING ${END_USER_COLS}`, [team, user]);
        if (!rows[0]) throw new StoreError("not_found", `end user "${user}" of team "${team}" does not exist`);
        const before = endUserFromRow(rows[0] as EndUserRow);
        await writeAudit(sql, audit(before));
        await notify(sql, { kind: "end_user", name: endUserId(team, user) });
        return before;
      }, `end user "${user}"`);
    },

    async getKey(name) {
      const { rows } = await q(`SELECT ${KEY_COLS} FROM signalbox_keys WHERE name = $1`, [name]);
      return rows[0] ? keyFromRow(rows[0]) : undefined;
    },

    async getTeam(name) {
      const { rows } = await q(`SELECT ${TEAM_COLS} FROM signalbox_teams WHERE name = $1`, [name]);
      return rows[0] ? teamFromRow(rows[0]) : undefined;
    },

    async createKey(key, audit) {
      await tx(async (sql) => {
        // The name first (as the memory store does); the INSERT's primary key still settles races.
        if ((await sql("SELECT 1 FROM signalbox_keys WHERE name = $1", [key.name])).rowCount) throw new StoreError("exists", `key "${key.name}" already exists`);
        await claimHashes(sql, key.name, [key.hash, key.prevHash]);
        await shareTeam(sql, key.team);
        await sql(
          `INSERT INTO signalbox_keys (name, team, role, hash, prefix, allow, limits, per_user_limits, budget, max_output_tokens, expires_at,
             metadata, created_at, updated_at, created_by, revoked_at, prev_hash, prev_hash_expires_at, per_user_budget, blocked_at, last_used_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, coalesce($13, now()), coalesce($14, now()), $15, $16, $17, $18, $19, $20, $21)`,
          [...keyValues(key), time(key.lastUsedAt)],
        );
        await writeAudit(sql, audit);
        await notify(sql, { kind: "key", name: key.name });
      }, key.name);
    },

    async updateKey(name, mutate, audit) {
      return tx(async (sql) => {
        const { rows } = await sql(`SELECT ${KEY_COLS} FROM signalbox_keys WHERE name = $1 FOR UPDATE`, [name]);
        if (!rows[0]) throw new StoreError("not_found", `key "${name}" does not exist`);
        const before = keyFromRow(rows[0]);
        let next: ManagedKey;
        try {
          next = mutate(keyFromRow(rows[0]));
        } catch (err) {
          throw new Passthrough(err);
        }
        await claimHashes(sql, name, [next.hash !== before.hash ? next.hash : undefined, next.prevHash !== before.prevHash ? next.prevHash : undefined]);
        if (next.team !== before.team) await shareTeam(sql, next.team);
        // The name never changes; last_used_at belongs to touchKeys.
        const values = keyValues({ ...next, name });
        const res = await sql(
          `UPDATE signalbox_keys SET team = $2, role = $3, hash = $4, prefix = $5, allow = $6, limits = $7, per_user_limits = $8, budget = $9,
             max_output_tokens = $10, expires_at = $11, metadata = $12, created_at = coalesce($13, created_at), updated_at = coalesce($14, now()),
             created_by = $15, revoked_at = $16, prev_hash = $17, prev_hash_expires_at = $18, per_user_budget = $19, blocked_at = $20
           WHERE name = $1 RETURNING ${KEY_COLS}`,
          values,
        );
        // The audit input is read after mutate: a caller may fill before/after from inside it.
        await writeAudit(sql, audit);
        await notify(sql, { kind: "key", name });
        return { before, after: keyFromRow(res.rows[0]) };
      }, name);
    },

    async createTeam(team, audit) {
      await tx(async (sql) => {
        await sql(`INSERT INTO signalbox_teams (${TEAM_COLS}) VALUES ($1, $2, $3, $4, coalesce($5, now()), coalesce($6, now()))`, teamValues(team));
        await writeAudit(sql, audit);
        await notify(sql, { kind: "team", name: team.name });
      }, team.name);
    },

    async updateTeam(name, mutate, audit) {
      return tx(async (sql) => {
        const { rows } = await sql(`SELECT ${TEAM_COLS} FROM signalbox_teams WHERE name = $1 FOR UPDATE`, [name]);
        if (!rows[0]) throw new StoreError("not_found", `team "${name}" does not exist`);
        const before = teamFromRow(rows[0]);
        let next: ManagedTeam;
        try {
          next = mutate(teamFromRow(rows[0]));
        } catch (err) {
          throw new Passthrough(err);
        }
        const res = await sql(
          `UPDATE signalbox_teams SET budget = $2, default_key_limits = $3, metadata = $4, created_at = coalesce($5, created_at), updated_at = coalesce($6, now())
           WHERE name = $1 RETURNING ${TEAM_COLS}`,
          teamValues({ ...next, name }),
        );
        await writeAudit(sql, audit);
        await notify(sql, { kind: "team", name });
        return { before, after: teamFromRow(res.rows[0]) };
      }, name);
    },

    async deleteTeam(name, audit) {
      return tx(async (sql) => {
        const { rows } = await sql(`SELECT ${TEAM_COLS} FROM signalbox_teams WHERE name = $1 FOR UPDATE`, [name]);
        if (!rows[0]) throw new StoreError("not_found", `team "${name}" does not exist`);
        // Key writers hold the team row FOR SHARE: once we hold it FOR UPDATE, this count is final.
        const count = await sql("SELECT count(*)::int AS n FROM signalbox_keys WHERE team = $1", [name]);
        const n: number = count.rows[0].n;
        if (n > 0) throw new StoreError("conflict", `team "${name}" has ${n} key${n === 1 ? "" : "s"}`);
        await sql("DELETE FROM signalbox_teams WHERE name = $1", [name]);
        await writeAudit(sql, audit);
        await notify(sql, { kind: "team", name });
        return teamFromRow(rows[0]);
      }, name);
    },

    async keyCounts() {
      const { rows } = await q("SELECT team, count(*)::int AS n FROM signalbox_keys GROUP BY team");
      return new Map(rows.map((r: { team: string; n: number }) => [r.team, r.n]));
    },

    async appendAudit(event) {
      await writeAudit(q, event);
    },

    async claim(condition, ttlMs) {
      // One row per condition: taken when absent or expired, in one statement (the row's lock
      // decides between replicas racing for it).
      const r = await q(
        `INSERT INTO signalbox_claims (condition, expires_at) VALUES ($1, now() + make_interval(secs => $2))
         ON CONFLICT (condition) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE signalbox_claims.expires_at <= now()
         RETURNING 1`,
        [condition, ttlMs / 1000],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async revokeSession(id, expiresAt, audit) {
      await tx(async (sql) => {
        // Rows past their session's expiry mean nothing: each sign-out clears them.
        await sql("DELETE FROM signalbox_session_revocations WHERE expires_at <= now()");
        await sql("INSERT INTO signalbox_session_revocations (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [id, new Date(expiresAt)]);
        await writeAudit(sql, audit);
        await notify(sql, { kind: "session", name: id });
      });
    },

    async revokedSessions() {
      const { rows } = await q("SELECT id, expires_at FROM signalbox_session_revocations WHERE expires_at > now()");
      return new Map(rows.map((r: { id: string; expires_at: Date }) => [r.id, r.expires_at.getTime()]));
    },

    async putFeedback(f) {
      await q(
        `INSERT INTO signalbox_feedback (id, at, request_id, trace_id, key, team, end_user, route, deployment, provider, variant, model, value, weight, metadata, given_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at, value = EXCLUDED.value, weight = EXCLUDED.weight, metadata = EXCLUDED.metadata`,
        [f.id, new Date(f.time), f.requestId, f.traceId, f.key, f.team, f.user, f.route, f.deployment, f.provider, f.variant, f.model, f.value, f.weight, JSON.stringify(f.metadata), f.by],
      );
    },

    async feedbackById(id) {
      const { rows } = await q(`SELECT ${FEEDBACK_COLUMNS} FROM signalbox_feedback WHERE id = $1`, [id]);
      return rows.length ? feedbackFromRow(rows[0]) : undefined;
    },

    async feedbackFor(requestId) {
      const { rows } = await q(`SELECT ${FEEDBACK_COLUMNS} FROM signalbox_feedback WHERE request_id = $1 ORDER BY at DESC, id`, [requestId]);
      return rows.map(feedbackFromRow);
    },

    async feedbackSummary(query) {
      // Column names from a fixed list only (FEEDBACK_DIMENSIONS): never from the request.
      const col = (d: FeedbackDimension) => (d === "user" ? "end_user" : d);
      const values: unknown[] = [new Date(query.start), new Date(query.end)];
      const where = ["at >= $1", "at < $2"];
      for (const f of query.filters) {
        values.push(f.values);
        where.push(`${col(f.dimension)} = ANY($${values.length}::text[])`);
      }
      const groups = query.groupBy.map(col);
      const { rows } = await q(
        `SELECT ${groups.map((g, i) => `${g} AS g${i}, `).join("")}count(*)::int AS n, (count(*) FILTER (WHERE value > 0))::int AS pos, (count(*) FILTER (WHERE value < 0))::int AS neg,
                avg(value)::float8 AS mean, CASE WHEN sum(weight) > 0 THEN (sum(value * weight) / sum(weight))::float8 ELSE 0 END AS wmean
         FROM signalbox_feedback WHERE ${where.join(" AND ")}${groups.length ? ` GROUP BY ${groups.join(", ")}` : ""} ORDER BY n DESC`,
        values,
      );
      return rows
        .filter((r: { n: number }) => r.n > 0)
        .map((r: Record<string, unknown>) => ({
          group: Object.fromEntries(query.groupBy.map((d, i) => [d, r[`g${i}`] as string])),
          count: r.n as number,
          positive: r.pos as number,
          negative: r.neg as number,
          meanValue: r.mean as number,
          weightedMeanValue: r.wmean as number,
        }));
    },

    async listAudit(query: AuditQuery) {
      const limit = Math.min(Math.max(Math.trunc(query.limit) || 1, 1), AUDIT_MAX_PAGE);
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (cond: (p: string) => string, v: unknown) => {
        values.push(v);
        where.push(cond(`$${values.length}`));
      };
      if (query.start !== undefined) add((p) => `at >= ${p}`, new Date(query.start));
      if (query.end !== undefined) add((p) => `at < ${p}`, new Date(query.end));
      if (query.actor) add((p) => `actor = ${p}`, query.actor);
      if (query.target) add((p) => `target = ${p}`, query.target);
      if (query.cursor) {
        const c = decodeCursor(query.cursor);
        values.push(c.atUs, c.id);
        where.push(`(at, id) < ('epoch'::timestamptz + $${values.length - 1}::bigint * interval '1 microsecond', $${values.length}::bigint)`);
      }
      values.push(limit + 1);
      const { rows } = await q(
        `SELECT ${AUDIT_COLS} FROM signalbox_audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT $${values.length}`,
        values,
      );
      const more = rows.length > limit;
      const page = (more ? rows.slice(0, limit) : rows) as AuditRow[];
      return { events: page.map(auditFromRow), next: more ? encodeCursor(page[page.length - 1]) : undefined };
    },

    async touchKeys(lastUsed) {
      const names: string[] = [];
      const times: Date[] = [];
      for (const [name, ms] of lastUsed) {
        if (!Number.isFinite(ms)) continue;
        names.push(name);
        times.push(new Date(ms));
      }
      if (names.length === 0) return;
      await q(
        `UPDATE signalbox_keys SET last_used_at = GREATEST(coalesce(last_used_at, 'epoch'), v.t)
         FROM (SELECT unnest($1::text[]) AS n, unnest($2::timestamptz[]) AS t) AS v WHERE signalbox_keys.name = v.n`,
        [names, times],
      );
    },

    subscribe(onChange, onResync) {
      if (closed) return;
      subscribers.push({ onChange, onResync });
      if (!feed && !reconnectTimer) {
        listen();
        resyncTimer = setInterval(periodic, resyncMs);
        resyncTimer.unref();
      } else if (feed?.ready) {
        // Already listening: this subscriber still needs its first full load to line up.
        call("resync", onResync);
      }
    },

    close() {
      closing ??= (async () => {
        closed = true;
        subscribers.length = 0;
        clearTimeout(reconnectTimer);
        clearInterval(resyncTimer);
        const f = feed;
        feed = undefined;
        if (f) await f.client.end().catch(() => {});
        await pool.end().catch(() => {});
      })();
      return closing;
    },
  };
}

const FEEDBACK_COLUMNS = "id, at, request_id, trace_id, key, team, end_user, route, deployment, provider, variant, model, value, weight, metadata, given_by";

/** A score as stored (FEEDBACK_COLUMNS). */
function feedbackFromRow(r: Record<string, unknown>): FeedbackRecord {
  return {
    id: r.id as string,
    time: (r.at as Date).getTime(),
    requestId: r.request_id as string,
    traceId: r.trace_id as string,
    key: r.key as string,
    team: r.team as string,
    user: r.end_user as string,
    route: r.route as string,
    deployment: r.deployment as string,
    provider: r.provider as string,
    variant: r.variant as string,
    model: r.model as string,
    value: r.value as number,
    weight: r.weight as number,
    metadata: r.metadata as Record<string, string>,
    by: r.given_by as string,
  };
}
