// The PostgreSQL control store against a private PostgreSQL: migrations (also run concurrently),
// key and team writes with their audit rows, NOTIFY between two stores, and an outage and recovery.

import assert from "node:assert/strict";
import { after, before, test, type TestContext } from "node:test";
import pg from "pg";
import { createPostgresControlStore, migrate, MIGRATIONS } from "../../src/control/postgres-store.ts";
import { type AuditInput, type ControlChange, type ControlStore, type ManagedEndUser, type ManagedKey, type ManagedTeam, StoreError } from "../../src/control/types.ts";
import { createDatabase, startPostgres, type TestPostgres } from "../helpers/postgres.ts";

let server: TestPostgres | undefined;
before(async () => {
  server = await startPostgres();
});
after(() => server?.destroy());

let dbs = 0;
/** A fresh, empty database on the private server (so tests never see each other's rows). */
async function freshDb(): Promise<string> {
  return createDatabase(server!.url, `t${++dbs}`);
}

const noLog = () => {};

async function openStore(t: TestContext, url?: string, resyncMs?: number): Promise<ControlStore> {
  const store = await createPostgresControlStore(url ?? (await freshDb()), { replica: "test-1", log: noLog, resyncMs });
  t.after(() => store.close());
  return store;
}

function need(t: TestContext): boolean {
  if (server) return true;
  t.skip("PostgreSQL binaries not installed");
  return false;
}

const audit = (action: string, target: string, extra: Partial<AuditInput> = {}): AuditInput => ({
  actor: "admin-key",
  action,
  target,
  replica: "test-1",
  traceId: "0af7651916cd43dd8448eb211c80319c",
  ...extra,
});

const team = (name: string, extra: Partial<ManagedTeam> = {}): ManagedTeam => ({
  name,
  metadata: {},
  source: "store",
  createdAt: 1_800_000_000_000,
  updatedAt: 1_800_000_000_000,
  ...extra,
});

/** A key with every optional field set. */
const fullKey = (name: string, hash: string): ManagedKey => ({
  name,
  team: "alpha",
  role: "service",
  hash,
  prefix: "sb-7Hq2",
  allow: ["chat", "openai/gpt-4o-mini"],
  limits: { requestsPerMinute: 60, tokensPerMinute: 100_000 },
  perUserLimits: { requestsPerMinute: 5 },
  budget: { period: "month", limitUsd: 12.5, softThreshold: 0.8 },
  perUserBudget: { period: "day", limitUsd: 0.5, softThreshold: 0.9 },
  maxOutputTokens: 2048,
  expiresAt: 1_900_000_000_123,
  metadata: { owner: "ana", "cost-center": "42" },
  source: "store",
  createdAt: 1_800_000_000_001,
  updatedAt: 1_800_000_000_002,
  createdBy: "admin-key",
  revokedAt: 1_800_000_500_000,
  blockedAt: 1_800_000_450_000,
  prevHash: `${hash}-prev`,
  prevHashExpiresAt: 1_800_000_600_000,
  lastUsedAt: 1_800_000_400_000,
});

/** A key with no optional field at all. */
const bareKey = (name: string, hash: string, teamName = "alpha"): ManagedKey => ({
  name,
  team: teamName,
  role: "team",
  hash,
  prefix: "sb-x",
  allow: [],
  limits: {},
  metadata: {},
  source: "store",
  createdAt: 1_800_000_000_000,
  updatedAt: 1_800_000_000_000,
  createdBy: "admin-key",
});

async function rejectsWith(p: Promise<unknown>, kind: StoreError["kind"], message?: RegExp): Promise<StoreError> {
  const err = await p.then(
    () => assert.fail(`expected StoreError(${kind})`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function auditCount(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query("SELECT count(*)::int AS n FROM signalbox_audit")).rows[0].n;
  } finally {
    await c.end();
  }
}

test("migrations run once, even from three pools at once on an empty database", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const pools = [1, 2, 3].map(() => new pg.Pool({ connectionString: url, max: 1 }));
  t.after(() => Promise.all(pools.map((p) => p.end())));
  const applied = await Promise.all(pools.map((p) => migrate(p)));
  // Exactly one pool applied everything; the others waited on the lock and found nothing to do.
  assert.deepEqual(applied.map((a) => a.length).sort(), [0, 0, MIGRATIONS.length]);
  const { rows } = await pools[0].query("SELECT version, count(*)::int AS n FROM signalbox_migrations GROUP BY version ORDER BY version");
  assert.deepEqual(
    rows.map((r) => [r.version, r.n]),
    MIGRATIONS.map((m) => [m.version, 1]),
  );
  assert.deepEqual(await migrate(pools[1]), [], "a second run is a no-op");
  const tables = await pools[0].query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'signalbox_%' ORDER BY 1");
  assert.deepEqual(
    tables.rows.map((r) => r.tablename),
    // The usage store's tables (migration 2), the Batch API's (migration 6), the stored responses (7), conversations (8), prompts (12), runtime config entries (14) and feedback (16) and vector stores (23) come with the same mechanism.
    [
      "signalbox_audit",
      "signalbox_batch_results",
      "signalbox_batches",
      "signalbox_chat_completions",
      "signalbox_claims",
      "signalbox_config_entries",
      "signalbox_conversation_items",
      "signalbox_conversations",
      "signalbox_end_users",
      "signalbox_feedback",
      "signalbox_files",
      "signalbox_keys",
      "signalbox_migrations",
      "signalbox_prompt_versions",
      "signalbox_prompts",
      "signalbox_requests",
      "signalbox_response_events",
      "signalbox_responses",
      "signalbox_session_revocations",
      "signalbox_teams",
      "signalbox_usage_dropped",
      "signalbox_usage_hourly",
      "signalbox_vector_store_chunks",
      "signalbox_vector_store_file_batches",
      "signalbox_vector_store_files",
      "signalbox_vector_stores",
    ],
  );
  // And a store opens on an already migrated database.
  await openStore(t, url);
});

test("keys round-trip every field; updateKey returns both sides as stored", async (t) => {
  if (!need(t)) return;
  const store = await openStore(t);
  assert.equal(store.kind, "postgres");
  const full = fullKey("full", "sha256:aaa");
  const bare = bareKey("bare", "sha256:bbb");
  await store.createKey(full, audit("key.create", "key/full"));
  await store.createKey(bare, audit("key.create", "key/bare"));

  assert.deepEqual(await store.getKey("full"), full);
  assert.deepEqual(await store.getKey("bare"), bare, "absent optional fields stay absent");
  assert.equal(await store.getKey("nope"), undefined);

  const { before, after } = await store.updateKey(
    "full",
    (k) => {
      const next: ManagedKey = { ...k, hash: "sha256:ccc", prevHash: k.hash, prevHashExpiresAt: 1_800_001_000_000, updatedAt: 1_800_000_900_000, allow: [] };
      delete next.budget;
      delete next.perUserLimits;
      delete next.perUserBudget;
      delete next.revokedAt;
      delete next.blockedAt;
      next.metadata = { owner: "bo" };
      return next;
    },
    audit("key.rotate", "key/full"),
  );
  assert.deepEqual(before, full);
  const expected: ManagedKey = { ...full, hash: "sha256:ccc", prevHash: "sha256:aaa", prevHashExpiresAt: 1_800_001_000_000, updatedAt: 1_800_000_900_000, allow: [], metadata: { owner: "bo" } };
  delete expected.budget;
  delete expected.perUserLimits;
  delete expected.perUserBudget;
  delete expected.revokedAt;
  delete expected.blockedAt;
  assert.deepEqual(after, expected);
  assert.deepEqual(await store.getKey("full"), expected);

  const all = await store.loadAll();
  assert.deepEqual(
    all.keys.map((k) => k.name),
    ["bare", "full"],
  );
  assert.deepEqual(all.teams, []);
  assert.deepEqual([...(await store.keyCounts())], [["alpha", 2]]);
  await rejectsWith(store.updateKey("ghost", (k) => k, audit("key.update", "key/ghost")), "not_found", /ghost/);
});

test("a taken name or secret is 'exists'", async (t) => {
  if (!need(t)) return;
  const store = await openStore(t);
  await store.createKey(fullKey("k1", "sha256:one"), audit("key.create", "key/k1"));
  await rejectsWith(store.createKey(bareKey("k1", "sha256:other"), audit("key.create", "key/k1")), "exists", /key "k1" already exists/);
  await store.createKey(bareKey("k0", "sha256:zero"), audit("key.create", "key/k0"));
  // Both taken: the name is reported (as by the memory store).
  await rejectsWith(store.createKey(bareKey("k1", "sha256:zero"), audit("key.create", "key/k1")), "exists", /key "k1" already exists/);
  const e = await rejectsWith(store.createKey(bareKey("k2", "sha256:one"), audit("key.create", "key/k2")), "exists", /secret/);
  assert.ok(!e.message.includes("sha256:one"), "the hash never appears in a message");
  // k1's previous hash is still valid: nobody else may take it, as a current or a previous hash.
  await rejectsWith(store.createKey(bareKey("k3", "sha256:one-prev"), audit("key.create", "key/k3")), "exists");
  await store.createKey(bareKey("k4", "sha256:four"), audit("key.create", "key/k4"));
  await rejectsWith(store.updateKey("k4", (k) => ({ ...k, hash: "sha256:one" }), audit("key.rotate", "key/k4")), "exists");
  await store.createTeam(team("alpha"), audit("team.create", "team/alpha"));
  await rejectsWith(store.createTeam(team("alpha"), audit("team.create", "team/alpha")), "exists", /team "alpha" already exists/);
  assert.deepEqual(
    (await store.loadAll()).keys.map((k) => k.name),
    ["k0", "k1", "k4"],
  );
});

test("a mutate that throws writes nothing: no change, no audit row, the same error", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const store = await openStore(t, url);
  await store.createKey(bareKey("k", "sha256:k"), audit("key.create", "key/k"));
  await store.createTeam(team("alpha"), audit("team.create", "team/alpha"));
  const rows = await auditCount(url);

  const boom = new Error("limits.requestsPerMinute must be positive");
  const got = await store.updateKey("k", () => {
    throw boom;
  }, audit("key.update", "key/k")).catch((e: unknown) => e);
  assert.equal(got, boom, "rethrown unchanged");
  const teamBoom = new TypeError("bad team");
  assert.equal(await store.updateTeam("alpha", () => {
    throw teamBoom;
  }, audit("team.update", "team/alpha")).catch((e: unknown) => e), teamBoom);

  assert.deepEqual(await store.getKey("k"), bareKey("k", "sha256:k"));
  assert.equal(await auditCount(url), rows, "no audit row");
  // The connection went back to the pool clean: the next write works.
  const { after } = await store.updateKey("k", (k) => ({ ...k, role: "admin" }), audit("key.update", "key/k"));
  assert.equal(after.role, "admin");
  assert.equal(await auditCount(url), rows + 1);
});

test("teams: round trip, update, delete refused while the team has keys", async (t) => {
  if (!need(t)) return;
  const store = await openStore(t);
  const alpha = team("alpha", { budget: { period: "week", limitUsd: 100, softThreshold: 0.9 }, defaultKeyLimits: { tokensPerMinute: 5000 }, metadata: { slack: "#alpha" } });
  await store.createTeam(alpha, audit("team.create", "team/alpha"));
  await store.createTeam(team("beta"), audit("team.create", "team/beta"));
  assert.deepEqual(await store.getTeam("alpha"), alpha);
  assert.deepEqual(await store.getTeam("beta"), team("beta"));
  assert.equal(await store.getTeam("gamma"), undefined);

  const { before, after } = await store.updateTeam("alpha", (x) => ({ ...x, defaultKeyLimits: undefined, updatedAt: 1_800_000_000_500 }), audit("team.update", "team/alpha"));
  assert.deepEqual(before, alpha);
  const expected = { ...alpha, updatedAt: 1_800_000_000_500 };
  delete expected.defaultKeyLimits;
  assert.deepEqual(after, expected);

  await store.createKey(bareKey("a1", "sha256:a1", "alpha"), audit("key.create", "key/a1"));
  await store.createKey(bareKey("a2", "sha256:a2", "alpha"), audit("key.create", "key/a2"));
  await rejectsWith(store.deleteTeam("alpha", audit("team.delete", "team/alpha")), "conflict", /^team "alpha" has 2 keys$/);
  await store.updateKey("a1", (k) => ({ ...k, revokedAt: 1_800_000_001_000 }), audit("key.revoke", "key/a1"));
  await rejectsWith(store.deleteTeam("alpha", audit("team.delete", "team/alpha")), "conflict", /has 2 keys/);
  assert.deepEqual(await store.deleteTeam("beta", audit("team.delete", "team/beta")), team("beta"));
  assert.equal(await store.getTeam("beta"), undefined);
  await rejectsWith(store.deleteTeam("beta", audit("team.delete", "team/beta")), "not_found");
  await rejectsWith(store.updateTeam("beta", (x) => x, audit("team.update", "team/beta")), "not_found");
  assert.deepEqual(
    (await store.loadAll()).teams.map((x) => x.name),
    ["alpha"],
  );
});

test("end users: every field round-trips; put creates then updates under the row lock; delete; loadAll; notices; a throwing mutate writes nothing", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const store = await openStore(t, url);
  const reader = await openStore(t, url);
  const changes: ControlChange[] = [];
  let resyncs = 0;
  reader.subscribe(
    (c) => changes.push(c),
    () => resyncs++,
  );
  await until(() => resyncs > 0, 5000, "first resync after LISTEN");
  const full: ManagedEndUser = {
    team: "alpha",
    user: "ana@example.com",
    budget: { period: "month", limitUsd: 3.5, softThreshold: 0.8 },
    limits: { requestsPerMinute: 10, tokensPerMinute: 20_000 },
    blockedAt: 1_800_000_000_700,
    metadata: { plan: "free" },
    createdAt: 1_800_000_000_001,
    updatedAt: 1_800_000_000_002,
    createdBy: "admin-key",
  };
  const made = await store.putEndUser("alpha", full.user, (before) => {
    assert.equal(before, undefined);
    return full;
  }, (before, after) => audit("end_user.create", "end_user:alpha:ana@example.com", { after: { user: after.user, had: before !== undefined } }));
  assert.deepEqual(made, { after: full });
  assert.deepEqual(await store.getEndUser("alpha", full.user), full);
  assert.equal(await store.getEndUser("beta", full.user), undefined, "the same user in another team is another end user");
  const bare: ManagedEndUser = { team: "alpha", user: "bo", metadata: {}, createdAt: 1_800_000_000_003, updatedAt: 1_800_000_000_003, createdBy: "k" };
  await store.putEndUser("alpha", "bo", () => bare, () => audit("end_user.create", "end_user:alpha:bo"));
  assert.deepEqual(await store.getEndUser("alpha", "bo"), bare, "absent optional fields stay absent");

  const up = await store.putEndUser("alpha", full.user, (before) => {
    const next = { ...before!, updatedAt: 1_800_000_000_900, metadata: { plan: "pro" } };
    delete next.blockedAt;
    delete next.budget;
    return next;
  }, () => audit("end_user.update", "end_user:alpha:ana@example.com"));
  const expected: ManagedEndUser = { ...full, updatedAt: 1_800_000_000_900, metadata: { plan: "pro" } };
  delete expected.blockedAt;
  delete expected.budget;
  assert.deepEqual(up, { before: full, after: expected });
  const n = await auditCount(url);
  await rejectsWith(store.putEndUser("alpha", "bo", () => {
    throw new StoreError("exists", "taken");
  }, () => audit("end_user.create", "x")), "exists");
  assert.equal(await auditCount(url), n, "a throwing mutate writes no audit row");
  assert.deepEqual((await store.loadAll()).endUsers, [expected, bare]);
  assert.deepEqual(await store.deleteEndUser("alpha", "bo", () => audit("end_user.delete", "end_user:alpha:bo")), bare);
  await rejectsWith(store.deleteEndUser("alpha", "bo", () => audit("end_user.delete", "x")), "not_found");
  await until(() => changes.length >= 4, 1000, "end-user notices");
  assert.deepEqual(changes, [
    { kind: "end_user", name: "alpha:ana@example.com" },
    { kind: "end_user", name: "alpha:bo" },
    { kind: "end_user", name: "alpha:ana@example.com" },
    { kind: "end_user", name: "alpha:bo" },
  ]);
});

test("audit: before/after kept, filters, keyset pagination newest first", async (t) => {
  if (!need(t)) return;
  const store = await openStore(t);
  await store.createTeam(team("alpha"), audit("team.create", "team/alpha", { after: { name: "alpha", budget: null } }));
  await store.updateTeam("alpha", (x) => ({ ...x, metadata: { a: "1" } }), audit("team.update", "team/alpha", { before: { metadata: {} }, after: { metadata: { a: "1" } } }));
  const first = await store.listAudit({ limit: 10 });
  assert.equal(first.next, undefined);
  assert.equal(first.events.length, 2);
  const [upd, create] = first.events;
  assert.equal(upd.action, "team.update");
  assert.deepEqual(upd.before, { metadata: {} });
  assert.deepEqual(upd.after, { metadata: { a: "1" } });
  assert.equal(create.action, "team.create");
  assert.equal(create.before, undefined);
  assert.deepEqual(create.after, { name: "alpha", budget: null });
  assert.equal(create.replica, "test-1");
  assert.equal(create.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.ok(Math.abs(create.time - Date.now()) < 60_000, "time defaults to now");
  assert.match(create.id, /^\d+$/);

  // 30 events: three actors, two targets, times 1 s apart, and five sharing one instant (ties).
  const base = 1_700_000_000_000;
  for (let i = 0; i < 30; i++) {
    await store.appendAudit(audit("config.reload", `target-${i % 2}`, { actor: `actor-${i % 3}`, time: i < 5 ? base : base + i * 1000, replica: "" }));
  }
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.listAudit({ limit: 7, cursor, end: base + 3_600_000 });
    pages++;
    seen.push(...page.events.map((e) => e.id));
    for (let i = 1; i < page.events.length; i++) {
      const [a, b] = [page.events[i - 1], page.events[i]];
      assert.ok(a.time > b.time || (a.time === b.time && Number(a.id) > Number(b.id)), "newest first");
    }
    cursor = page.next;
    if (cursor) assert.match(cursor, /^[A-Za-z0-9_-]+$/, "opaque base64url");
  } while (cursor);
  assert.equal(pages, 5);
  assert.equal(seen.length, 30);
  assert.equal(new Set(seen).size, 30, "no event twice across pages");
  const all = (await store.listAudit({ limit: 100, end: base + 3_600_000 })).events;
  assert.deepEqual(seen, all.map((e) => e.id));
  assert.equal(all[0].replica, "test-1", "an event without a replica gets the store's");

  const byActor = await store.listAudit({ limit: 100, actor: "actor-1" });
  assert.equal(byActor.events.length, 10);
  assert.ok(byActor.events.every((e) => e.actor === "actor-1"));
  const byBoth = await store.listAudit({ limit: 100, actor: "actor-1", target: "target-0" });
  assert.equal(byBoth.events.length, 5);
  const window = await store.listAudit({ limit: 100, start: base + 10_000, end: base + 20_000 });
  assert.deepEqual(
    window.events.map((e) => e.time),
    [19, 18, 17, 16, 15, 14, 13, 12, 11, 10].map((i) => base + i * 1000),
    "start inclusive, end exclusive",
  );
  // Paging inside a filter, across the tie at `base`.
  const tie1 = await store.listAudit({ limit: 3, end: base + 1 });
  const tie2 = await store.listAudit({ limit: 3, end: base + 1, cursor: tie1.next });
  assert.equal(tie2.next, undefined);
  assert.equal(new Set([...tie1.events, ...tie2.events].map((e) => e.id)).size, 5);
  await assert.rejects(store.listAudit({ limit: 5, cursor: "not-a-cursor" }), RangeError);
});

test("a change reaches another store's subscriber within a second", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const writer = await openStore(t, url);
  const reader = await openStore(t, url);
  const changes: ControlChange[] = [];
  let resyncs = 0;
  reader.subscribe(
    (c) => changes.push(c),
    () => resyncs++,
  );
  await until(() => resyncs > 0, 5000, "first resync after LISTEN");

  const t0 = performance.now();
  await writer.createTeam(team("alpha"), audit("team.create", "team/alpha"));
  await until(() => changes.length > 0, 1000, "team notice");
  const ms = performance.now() - t0;
  assert.deepEqual(changes, [{ kind: "team", name: "alpha" }]);
  await writer.createKey(bareKey("k", "sha256:k"), audit("key.create", "key/k"));
  await writer.updateKey("k", (k) => ({ ...k, role: "admin" }), audit("key.update", "key/k"));
  await until(() => changes.length >= 3, 1000, "key notices");
  assert.deepEqual(changes.slice(1), [
    { kind: "key", name: "k" },
    { kind: "key", name: "k" },
  ]);
  // A failed write tells nobody.
  await writer.updateKey("k", () => {
    throw new Error("no");
  }, audit("key.update", "key/k")).catch(() => {});
  await writer.touchKeys(new Map([["k", Date.now()]]));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(changes.length, 3);
  t.diagnostic(`notice latency ${ms.toFixed(1)} ms`);
});

test("periodic resync every resyncMs", async (t) => {
  if (!need(t)) return;
  const store = await openStore(t, undefined, 150);
  let resyncs = 0;
  store.subscribe(
    () => {},
    () => resyncs++,
  );
  await until(() => resyncs >= 4, 3000, "four resyncs");
});

test("touchKeys writes last-used times in one batch and never moves them back", async (t) => {
  if (!need(t)) return;
  const store = await openStore(t);
  await store.createKey(bareKey("a", "sha256:a"), audit("key.create", "key/a"));
  await store.createKey(bareKey("b", "sha256:b"), audit("key.create", "key/b"));
  await store.touchKeys(new Map());
  await store.touchKeys(new Map([
    ["a", 1_800_000_000_100],
    ["b", 1_800_000_000_200],
    ["ghost", 1_800_000_000_300],
  ]));
  assert.equal((await store.getKey("a"))?.lastUsedAt, 1_800_000_000_100);
  assert.equal((await store.getKey("b"))?.lastUsedAt, 1_800_000_000_200);
  await store.touchKeys(new Map([
    ["a", 1_800_000_000_050],
    ["b", 1_800_000_000_900],
  ]));
  assert.equal((await store.getKey("a"))?.lastUsedAt, 1_800_000_000_100, "older time ignored");
  assert.equal((await store.getKey("b"))?.lastUsedAt, 1_800_000_000_900);
  // An update keeps what touchKeys wrote.
  const { after } = await store.updateKey("b", (k) => ({ ...k, lastUsedAt: undefined, role: "admin" }), audit("key.update", "key/b"));
  assert.equal(after.lastUsedAt, 1_800_000_000_900);
});

test("concurrent updates of one key are serialised by the row lock", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const [a, b] = [await openStore(t, url), await openStore(t, url)];
  await a.createKey(bareKey("k", "sha256:k"), audit("key.create", "key/k"));
  const bump = (s: ControlStore) => s.updateKey("k", (k) => ({ ...k, metadata: { n: String(Number(k.metadata.n ?? 0) + 1) } }), audit("key.update", "key/k"));
  await Promise.all(Array.from({ length: 12 }, (_, i) => bump(i % 2 ? a : b)));
  assert.equal((await a.getKey("k"))?.metadata.n, "12");
});

test("a malformed URL is 'unavailable' and its password is not repeated", async (t) => {
  if (!need(t)) return;
  const err = await rejectsWith(createPostgresControlStore("postgres://u:s3cr3t@127.0.0.1:notaport/db", { replica: "r", log: noLog }), "unavailable");
  assert.equal(err.message, "control store unavailable: invalid connection URL");
});

// Last: it stops the server.
test("PostgreSQL stopped: fast 'unavailable' without secrets; restarted: the feed reconnects and resyncs", async (t) => {
  if (!need(t)) return;
  const db = await freshDb();
  const password = "s3cr3t-Pa55word";
  const url = db.replace("postgres@", `postgres:${password}@`);
  const lines: string[] = [];
  const store = await createPostgresControlStore(url, { replica: "test-1", log: (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields })) });
  t.after(() => store.close());
  let resyncs = 0;
  const changes: ControlChange[] = [];
  store.subscribe(
    (c) => changes.push(c),
    () => resyncs++,
  );
  await until(() => resyncs === 1, 5000, "first resync");
  await store.createKey(bareKey("k", "sha256:k"), audit("key.create", "key/k"));

  await server!.stop();
  const secretFree = (e: StoreError) => {
    assert.ok(!e.message.includes(password) && !e.message.includes(url) && !String(e.stack).includes(password), e.message);
    assert.match(e.message, /^control store unavailable: /);
  };
  for (const attempt of [
    () => store.createKey(bareKey("k2", "sha256:k2"), audit("key.create", "key/k2")),
    () => store.updateKey("k", (k) => k, audit("key.update", "key/k")),
    () => store.getKey("k"),
    () => store.loadAll(),
    () => store.listAudit({ limit: 5 }),
    () => store.touchKeys(new Map([["k", Date.now()]])),
    () => createPostgresControlStore(url, { replica: "test-2", log: noLog }),
  ]) {
    const t0 = performance.now();
    secretFree(await rejectsWith(attempt(), "unavailable"));
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `rejected after ${ms.toFixed(0)} ms`);
  }
  await until(() => lines.some((l) => l.includes("change feed lost")), 3000, "feed loss logged");

  const down = performance.now();
  await server!.start();
  await until(() => resyncs >= 2, 10_000, "resync after reconnect");
  t.diagnostic(`feed back ${(performance.now() - down).toFixed(0)} ms after the server`);
  await store.createKey(bareKey("k2", "sha256:k2"), audit("key.create", "key/k2"));
  await until(() => changes.some((c) => c.name === "k2"), 1000, "notice after reconnect");
  assert.deepEqual(
    (await store.loadAll()).keys.map((k) => k.name),
    ["k", "k2"],
  );
  assert.ok(lines.some((l) => l.includes("change feed back")));

  // A crash (no goodbye on the connections) heals the same way.
  await server!.kill();
  secretFree(await rejectsWith(store.getKey("k"), "unavailable"));
  await server!.start();
  await until(() => resyncs >= 3, 10_000, "resync after the crash");
  await store.updateKey("k", (k) => ({ ...k, role: "admin" }), audit("key.update", "key/k"));
  assert.equal((await store.getKey("k"))?.role, "admin");
  assert.ok(lines.every((l) => !l.includes(password) && !l.includes("s3cr3t")), "no password in any log line");
});
