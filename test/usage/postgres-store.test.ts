// The PostgreSQL usage store against a private PostgreSQL: the shared query suite, idempotent
// batches (rollups never double count), retention by dropping partitions, GetUsage over months
// (rollups and request rows agree with a scan of the records), ListRequests filters and pages,
// GetRequest by id and trace id through UsageService, bad data, and the buffer while the database
// is away.

import assert from "node:assert/strict";
import { test } from "node:test";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import pg from "pg";
import { Dimension } from "../../gen/signalbox/v1/common_pb.ts";
import { UsageService } from "../../gen/signalbox/v1/usage_pb.ts";
import type { Caller } from "../../src/router/types.ts";
import { ANONYMOUS, callerKey } from "../../src/server/auth.ts";
import { createPostgresControlStore } from "../../src/control/postgres-store.ts";
import { requestInfoKey } from "../../src/server/context.ts";
import { usageService } from "../../src/server/usage-service.ts";
import { migrate, MIGRATIONS } from "../../src/control/migrations.ts";
import { createPostgresUsageStore, type PostgresUsageStore, type PostgresUsageStoreOptions } from "../../src/usage/postgres-store.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import type { ListQuery, UsageQuery, UsageStore } from "../../src/usage/store.ts";
import { postgresForFile, queryRows } from "../helpers/postgres.ts";
import { DAY, HOUR, makeRecord, plain, reference, rng } from "./fixtures.ts";
import { near, storeSuite, trueQuantile } from "./suite.ts";

// A private cluster for this file; every database the tests make goes with it.
const pgFile = postgresForFile("usage");
const { available, freshDb, need } = pgFile;
const open = async (opts: PostgresUsageStoreOptions = {}, url?: string) => createPostgresUsageStore(url ?? (await freshDb()), { flushEveryMs: 20, ...opts });

if (available) {
  storeSuite("postgres usage store", {
    listOrder: "time",
    open: () => open(),
    close: (s) => s.close(),
  });
}

/** Every record a list query returns, page by page. */
async function listAll(store: UsageStore, q: Omit<ListQuery, "pageToken">): Promise<UsageRecord[]> {
  const out: UsageRecord[] = [];
  let pageToken: string | undefined;
  do {
    const page = await store.list({ ...q, pageToken });
    out.push(...page.records);
    pageToken = page.nextPageToken || undefined;
  } while (pageToken);
  return out;
}
const byTime = (xs: UsageRecord[]) => [...xs].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
const ids = (xs: UsageRecord[]) => xs.map((x) => x.id);

const sql = queryRows;

test("the same batch twice, and from a second writer: one row each; rollups count each record once", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const a = await open({}, url);
  const b = await open({}, url);
  try {
    const r = rng(99);
    const t0 = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
    const batch = Array.from({ length: 300 }, (_, i) => makeRecord(r, { time: t0 + i * 37_000 }));
    for (const x of batch) a.record(x);
    await a.flush();
    // Again, as a retried batch whose reply was lost would be; and from another replica, with a
    // record recorded twice inside one batch.
    for (const x of batch) a.record(x);
    for (const x of [...batch, batch[0]]) b.record(x);
    await Promise.all([a.flush(), b.flush()]);
    const [rows] = await sql<{ n: number; d: number }>(url, "SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM signalbox_requests");
    assert.deepEqual(rows, { n: 300, d: 300 });
    const [roll] = await sql<{ n: string; cost: string }>(url, "SELECT sum(requests)::text AS n, sum(cost_total)::text AS cost FROM signalbox_usage_hourly");
    assert.equal(roll.n, "300");
    assert.equal(BigInt(roll.cost), batch.reduce((s, x) => s + BigInt(x.cost.total), 0n));
    assert.equal(a.details().inserted, 300);
    assert.equal(a.details().duplicates, 300);
    assert.equal(b.details().inserted, 0);
    assert.equal(b.details().duplicates, 301);
    assert.equal(a.stats().written + b.stats().written, 901, "every record sent counts as written (stored, or already there)");
    const q: UsageQuery = { start: t0, end: t0 + 6 * HOUR, granularity: "hour", groupBy: ["team", "deployment"], filters: [] };
    assert.deepEqual((await a.query(q)).rows.map(plain), reference(batch, q));
    // The one statement per batch is what makes this hold: run it by hand for a record already stored.
    const [before1] = await sql<{ n: string }>(url, "SELECT sum(requests)::text AS n FROM signalbox_usage_hourly");
    b.record(batch[7]);
    await b.flush();
    const [after1] = await sql<{ n: string }>(url, "SELECT sum(requests)::text AS n FROM signalbox_usage_hourly");
    assert.equal(after1.n, before1.n);
  } finally {
    await a.close();
    await b.close();
  }
});

test("schema: partitioned by day with the indexes queries need; partitions made ahead and on demand", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const s = await open({}, url);
  try {
    const today = Math.floor(Date.now() / DAY) * DAY;
    const name = (d: number) => `signalbox_requests_p${new Date(d).toISOString().slice(0, 10).replaceAll("-", "")}`;
    const parts = async () =>
      (
        await sql<{ name: string }>(url, "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'signalbox_requests'::regclass ORDER BY 1")
      ).map((x) => x.name);
    assert.deepEqual(await parts(), [name(today), name(today + DAY)], "today and tomorrow at start");
    // A late record (9 days ago) gets its day's partition when it is written.
    s.record(makeRecord(rng(1), { time: today - 9 * DAY + 5 }));
    await s.flush();
    assert.deepEqual(await parts(), [name(today - 9 * DAY), name(today), name(today + DAY)]);
    const idx = await sql<{ def: string }>(url, "SELECT indexdef AS def FROM pg_indexes WHERE tablename = $1 ORDER BY 1", [name(today)]);
    const defs = idx.map((x) => x.def.replace(/^.* USING /, ""));
    assert.deepEqual(defs.sort(), ["btree (id)", "btree (key, \"time\", id)", "btree (team, \"time\", id)", "btree (\"time\", id)", "btree (trace_id)", "gin (tags)"].sort());
  } finally {
    await s.close();
  }
});

test("feedback is kept as long as the rollups it is compared with: the daily upkeep trims both", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const control = await createPostgresControlStore(url, { replica: "test" });
  let clock = Date.now();
  const s = await open({ retentionDays: 1, rollupRetentionDays: 2, now: () => clock }, url);
  try {
    const fb = (id: string, time: number) => ({ id, time, requestId: `req_${id}`, traceId: "t", key: "k", team: "a", user: "", route: "r", deployment: "d", provider: "p", variant: "", model: "m", value: 1, weight: 1, metadata: {}, by: "k" });
    await control.putFeedback(fb("old", clock - 3 * DAY));
    await control.putFeedback(fb("new", clock - 1000));
    await s.maintain();
    const ids = (await sql<{ id: string }>(url, "SELECT id FROM signalbox_feedback ORDER BY id")).map((r) => r.id);
    assert.deepEqual(ids, ["new"]);
  } finally {
    await s.close();
    await control.close();
  }
});

test("retention: partitions past it are dropped whole (at start and by the daily upkeep); rollups stay", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  let clock = Date.now();
  const s = await open({ retentionDays: 30, now: () => clock }, url);
  const today = Math.floor(clock / DAY) * DAY;
  const old = today - 20 * DAY;
  const r = rng(5);
  const recs = [...Array.from({ length: 50 }, (_, i) => makeRecord(r, { time: old + i * 60_000 })), ...Array.from({ length: 50 }, (_, i) => makeRecord(r, { time: clock - i * 1000 }))];
  try {
    for (const x of recs) s.record(x);
    await s.flush();
    const count = async () => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM signalbox_requests"))[0].n;
    assert.equal(await count(), 100);
    // 15 days later the records of 35 days ago are past the 30 days.
    clock += 15 * DAY;
    const res = await s.maintain();
    assert.ok(res.dropped.includes(`signalbox_requests_p${new Date(old).toISOString().slice(0, 10).replaceAll("-", "")}`), JSON.stringify(res));
    assert.equal(await count(), 50, "the old day's rows went with its partition");
    assert.ok(res.created.length >= 1, "the new today and tomorrow");
    // The hourly rollups keep counting them (400 days by default).
    const q: UsageQuery = { start: old, end: clock, granularity: "total", groupBy: [], filters: [] };
    assert.equal((await s.query(q)).rows[0].requests, 100, "from the rollups");
    assert.equal((await s.query({ ...q, groupBy: ["user"] })).rows.reduce((n, row) => n + row.requests, 0), 50, "from the rows: only what is kept");
    // A record older than the retention is not stored (and not counted as written).
    s.record(makeRecord(r, { time: clock - 40 * DAY }));
    await s.flush();
    assert.equal(s.details().expired, 1);
    assert.equal(await count(), 50);
    assert.equal(s.details().partitionsDropped, 1);
  } finally {
    await s.close();
  }
  // A store opening later drops at start too.
  const later = await open({ retentionDays: 1, now: () => clock + 5 * DAY }, url);
  try {
    const left = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'signalbox_requests'::regclass");
    assert.equal(left[0].n, 2, "only the new today and tomorrow remain");
  } finally {
    await later.close();
  }
});

test("partition upkeep that cannot get its lock in time (a long query holds the table) does not hold up batches", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  let clock = Date.now();
  const logs: string[] = [];
  const s = await open({ now: () => clock, log: (level, msg) => logs.push(`${level} ${msg}`) }, url);
  const reader = new pg.Client({ connectionString: url });
  await reader.connect();
  try {
    // A reader holds the table (as a long GetUsage would) when the day turns: the upkeep's DDL
    // waits 1 s for its lock, gives up, and the batch behind it is written anyway.
    await reader.query("BEGIN; LOCK TABLE signalbox_requests IN ACCESS SHARE MODE");
    clock += DAY;
    const rec = makeRecord(rng(3), { time: Date.now() });
    s.record(rec);
    const started = performance.now();
    await s.flush();
    assert.equal(s.stats().written, 1);
    assert.ok(performance.now() - started < 4000);
    assert.ok(logs.some((l) => l.startsWith("warn") && l.includes("partition upkeep failed")), logs.join("\n"));
    assert.equal(s.degraded, false);
    await reader.query("COMMIT");
    // Once the table is free again the upkeep runs (here by hand; the writer retries within a minute).
    const res = await s.maintain();
    assert.equal(res.created.length, 1, "the new tomorrow");
  } finally {
    await reader.end();
    await s.close();
  }
});

test("GetUsage over five months: totals equal the sum of the records, from rollups and from rows alike", async (t) => {
  if (!need(t)) return;
  const s = await open({ retentionDays: 400 });
  try {
    const r = rng(77);
    const now = Date.now();
    // 4,000 records on 12 days spread over ~150 days (few partitions, several months).
    const days = Array.from({ length: 12 }, (_, i) => Math.floor(now / DAY) * DAY - Math.round(i * 12.5) * DAY);
    const recs = Array.from({ length: 4000 }, (_, i) => makeRecord(r, { time: Math.min(now - 1000, r.pick(days) + r.int(0, DAY - 1)), cost: r.int(1e9, 5e11) + i }));
    for (const x of recs) s.record(x);
    await s.flush();
    assert.equal(s.stats().written, 4000);
    const start = days[days.length - 1] - 3 * DAY + 7 * HOUR + 123;
    const end = now + HOUR;
    const total = (await s.query({ start, end, granularity: "total", groupBy: [], filters: [] })).rows[0];
    assert.equal(total.requests, 4000);
    assert.equal(total.cost.total, recs.reduce((a, x) => a + BigInt(x.cost.total), 0n));
    assert.equal(total.usage.inputTokens, recs.reduce((a, x) => a + BigInt(x.usage.inputTokens), 0n));
    for (const q of [
      { start, end, granularity: "month", groupBy: ["team"], filters: [] },
      { start, end, granularity: "day", groupBy: ["deployment", "status"], filters: [{ dimension: "key", values: ["k-alpha", "k-gamma"] }] },
      { start, end, granularity: "month", groupBy: ["user", "tag"], filters: [] },
      { start, end, granularity: "total", groupBy: ["variant"], filters: [{ dimension: "tag", values: ["beta"] }, { dimension: "user", values: ["u1", ""] }] },
      { start: days[3] + 5 * HOUR + 1, end: days[3] + 29 * HOUR, granularity: "hour", groupBy: ["provider"], filters: [] },
    ] as UsageQuery[]) {
      assert.deepEqual((await s.query(q)).rows.map(plain), reference(recs, q), JSON.stringify(q));
    }
    // The two paths agree: team totals from the rollups and from the rows (a user filter that admits all).
    const rollup = await s.query({ start, end, granularity: "month", groupBy: ["team"], filters: [] });
    const rows = await s.query({ start, end, granularity: "month", groupBy: ["team"], filters: [{ dimension: "user", values: ["", "u1", "u2", "u3"] }] });
    assert.deepEqual(rows.rows.map(plain), rollup.rows.map(plain));
    // Latency histograms too (plain has them): the rollups' are the rows' width_bucket, added up.
    for (const row of rollup.rows) {
      assert.ok(row.p50LatencyMs > 0 && row.p95LatencyMs > row.p50LatencyMs);
      assert.equal([...row.latencyHist.values()].reduce((a, n) => a + n, 0), row.requests);
    }
    near(total.p50LatencyMs, trueQuantile(recs.map((x) => x.latencyMs), 0.5), 0.05, "p50 over five months");
    near(total.p95LatencyMs, trueQuantile(recs.map((x) => x.latencyMs), 0.95), 0.05, "p95 over five months");
    const hourly = { start: days[2], end: days[2] + 2 * DAY, granularity: "hour", groupBy: ["deployment"], filters: [] } as UsageQuery;
    const viaRows = await s.query({ ...hourly, filters: [{ dimension: "tag", values: ["", "alpha", "beta", "gamma"] }] });
    assert.deepEqual(viaRows.rows.map(plain), (await s.query(hourly)).rows.map(plain), "hour by hour, from the rows and from the rollups");
  } finally {
    await s.close();
  }
});

test("an existing database upgrades: rollups written before the latency histogram keep counting; percentiles come from those that have one", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const hour = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  // A database at version 2 with a rollup row written then (5 requests, no histogram).
  const pool = new pg.Pool({ connectionString: url });
  try {
    assert.deepEqual(await migrate(pool, MIGRATIONS.filter((m) => m.version <= 2)), [1, 2]);
    await pool.query(
      `INSERT INTO signalbox_usage_hourly (hour, team, key, route, variant, deployment, provider, model, status, requests, failures, fallbacks, cache_hits, attempts,
        input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, cost_total, cost_input, cost_cached_input, cost_cache_write, cost_output,
        cost_reasoning, latency_ms, ttft_ms, ttft_count)
       VALUES ($1, 'red', 'k-alpha', 'default', '', 'mock/a', 'mock', 'default', 'ok', 5, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50000, 0, 0)`,
      [new Date(hour)],
    );
  } finally {
    await pool.end();
  }
  const s = await open({}, url);
  try {
    const r = rng(17);
    const recs = Array.from({ length: 40 }, (_, i) => {
      const x = makeRecord(r, { time: hour + i * 1000, key: "k-alpha", team: "red", status: "ok" });
      Object.assign(x, { model: "default", deployment: "mock/a", provider: "mock", latencyMs: 100 + i * 10 });
      x.routing = { ...x.routing, route: "default", variant: "" };
      return x;
    });
    for (const x of recs) s.record(x);
    await s.flush();
    const [row] = await sql<{ requests: string; hist: Record<string, number> }>(
      url,
      "SELECT requests::text, latency_hist AS hist FROM signalbox_usage_hourly WHERE hour = $1 AND key = 'k-alpha' AND deployment = 'mock/a'",
      [new Date(hour)],
    );
    assert.equal(row.requests, "45", "the new requests were added to the old row");
    assert.equal(
      Object.values(row.hist).reduce((a, n) => a + n, 0),
      40,
      "the histogram holds the requests written since",
    );
    const total = (await s.query({ start: hour, end: hour + HOUR, granularity: "total", groupBy: [], filters: [] })).rows[0];
    assert.equal(total.requests, 45);
    const lat = recs.map((x) => x.latencyMs);
    near(total.p50LatencyMs, trueQuantile(lat, 0.5), 0.05, "p50");
    near(total.p95LatencyMs, trueQuantile(lat, 0.95), 0.05, "p95");
  } finally {
    await s.close();
  }
});

// ---- UsageService over the PostgreSQL store ------------------------------------------------------

function clientFor(store: UsageStore) {
  const identify: Interceptor = (next) => async (req) => {
    const who = req.header.get("x-test-caller");
    req.contextValues.set(callerKey, who ? (JSON.parse(who) as Caller) : ANONYMOUS);
    req.contextValues.set(requestInfoKey, { id: "req_test", traceId: "0".repeat(32), arrivedAt: 0 });
    return next(req);
  };
  const transport = createRouterTransport((router) => router.service(UsageService, usageService({ store })), { router: { interceptors: [identify] } });
  return { client: createClient(UsageService, transport), as: (c: Caller) => ({ headers: { "x-test-caller": JSON.stringify(c) } }) };
}
const RED: Caller = { keyName: "red-team-key", team: "red", role: "team", allow: [] };
const ALPHA: Caller = { keyName: "k-alpha", team: "red", role: "service", allow: [] };
const GAMMA: Caller = { keyName: "k-gamma", team: "blue", role: "service", allow: [] };
const code = (c: Code) => (err: unknown) => err instanceof ConnectError && err.code === c;

test("ListRequests and GetRequest through UsageService: filters, trace ids, keyset pages, scoping", async (t) => {
  if (!need(t)) return;
  const s = await open();
  try {
    const r = rng(31);
    const t0 = Date.now() - 3 * DAY;
    // Trace ids: the fixture's ten, and one trace shared by several requests.
    const recs = Array.from({ length: 1200 }, (_, i) => makeRecord(r, { time: t0 + Math.floor(i / 3) * 600_000 }));
    const shared = "ab".repeat(16);
    for (const x of recs.slice(100, 105)) x.traceId = shared;
    for (const x of recs) s.record(x);
    await s.flush();
    const { client, as } = clientFor(s);

    // Filters: time range, team, key, user, route, deployment, status, tag, trace id; pages of 7.
    const start = t0 + DAY;
    const end = t0 + 2 * DAY;
    const want = byTime(
      recs.filter(
        (x) => x.time >= start && x.time < end && x.team === "red" && ["u1", "u2"].includes(x.user) && x.status === "ok" && (x.tags.includes("alpha") || x.tags.includes("gamma")),
      ),
    );
    assert.ok(want.length > 14);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listRequests(
        {
          startTime: timestampFromMs(start),
          endTime: timestampFromMs(end),
          filters: [
            { dimension: Dimension.TEAM, values: ["red"] },
            { dimension: Dimension.USER, values: ["u1", "u2"] },
            { dimension: Dimension.STATUS, values: ["ok"] },
            { dimension: Dimension.TAG, values: ["alpha", "gamma"] },
          ],
          pageSize: 7,
          pageToken,
        },
        as(ANONYMOUS),
      );
      assert.ok(page.records.length <= 7);
      seen.push(...page.records.map((x) => x.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.deepEqual(seen, ids(want));
    for (const [dim, v, pick] of [
      [Dimension.KEY, "k-delta", (x: UsageRecord) => x.key === "k-delta"],
      [Dimension.ROUTE, "fallback", (x: UsageRecord) => x.routing.route === "fallback"],
      [Dimension.DEPLOYMENT, "mock/a", (x: UsageRecord) => x.deployment === "mock/a"],
    ] as const) {
      const got = await listAll(s, { filters: [{ dimension: dim === Dimension.KEY ? "key" : dim === Dimension.ROUTE ? "route" : "deployment", values: [v] }], pageSize: 100 });
      assert.deepEqual(ids(got), ids(byTime(recs.filter(pick))));
    }
    const trace = await client.listRequests({ traceId: shared }, as(ANONYMOUS));
    assert.deepEqual(
      trace.records.map((x) => x.id),
      ids(byTime(recs.slice(100, 105))),
    );
    assert.equal(timestampMs(trace.records[0].time!), recs[104].time);
    await assert.rejects(client.listRequests({ traceId: "XYZ" }), (e: ConnectError) => e.code === Code.InvalidArgument && /^trace_id: /.test(e.rawMessage));

    // GetRequest by id (the record whole) and by trace id (its newest request).
    const one = recs[555];
    const got = await client.getRequest({ id: one.id }, as(ANONYMOUS));
    assert.equal(got.record?.id, one.id);
    assert.equal(got.record?.traceId, one.traceId);
    assert.equal(got.record?.cost?.totalNanoUsd, BigInt(one.cost.total));
    assert.deepEqual(got.record?.tags, one.tags);
    assert.deepEqual(got.record?.metadata, one.metadata);
    assert.equal(got.record?.attempts.length, one.attempts.length);
    assert.deepEqual(JSON.parse(JSON.stringify(await s.get({ id: one.id, filters: [] }))), JSON.parse(JSON.stringify(one)), "the store gives the record back whole");
    assert.equal((await client.getRequest({ traceId: shared }, as(ANONYMOUS))).record?.id, byTime(recs.slice(100, 105))[0].id);
    // Scoping: a team key its team's records only, a service key its own; anything else is not_found.
    const alphas = recs.filter((x) => x.key === "k-alpha");
    const gammas = recs.filter((x) => x.key === "k-gamma");
    assert.equal((await client.getRequest({ id: alphas[0].id }, as(ALPHA))).record?.key, "k-alpha");
    assert.equal((await client.getRequest({ id: alphas[0].id }, as(RED))).record?.team, "red");
    await assert.rejects(client.getRequest({ id: gammas[0].id }, as(ALPHA)), code(Code.NotFound));
    await assert.rejects(client.getRequest({ id: gammas[0].id }, as(RED)), code(Code.NotFound));
    assert.equal((await client.getRequest({ id: gammas[0].id }, as(GAMMA))).record?.id, gammas[0].id);
    await assert.rejects(client.getRequest({ id: "req_nope" }), code(Code.NotFound));
    // Exactly one of id and trace_id, each well formed.
    await assert.rejects(client.getRequest({}), (e: ConnectError) => e.code === Code.InvalidArgument && /^id: /.test(e.rawMessage));
    await assert.rejects(client.getRequest({ id: one.id, traceId: shared }), (e: ConnectError) => e.code === Code.InvalidArgument && /^trace_id: /.test(e.rawMessage));
    await assert.rejects(client.getRequest({ traceId: "abc" }), (e: ConnectError) => e.code === Code.InvalidArgument && /^trace_id: /.test(e.rawMessage));
    // GetUsage over the service: the same scoping.
    const usage = await client.getUsage({ startTime: timestampFromMs(t0), groupBy: [Dimension.KEY] }, as(RED));
    assert.deepEqual(
      usage.rows.map((x) => x.group.key),
      ["k-alpha", "k-beta"],
    );
  } finally {
    await s.close();
  }
});

test("strings PostgreSQL cannot hold are stored as U+FFFD; a record it refuses is dropped alone, and counted", async (t) => {
  if (!need(t)) return;
  const s = await open();
  try {
    const r = rng(8);
    const t0 = Date.now() - HOUR;
    const recs = Array.from({ length: 40 }, (_, i) => makeRecord(r, { time: t0 + i }));
    recs[3].user = "nul\u0000user";
    recs[4].metadata = { note: "lone \ud800 surrogate", slash: "\\u0000 stays" };
    // A cost past int8: PostgreSQL refuses this one record (numeric out of range).
    recs[9].cost = { ...recs[9].cost, total: 1e30 };
    for (const x of recs) s.record(x);
    await s.flush();
    assert.equal(s.stats().written, 39);
    assert.equal(s.stats().dropped, 1);
    assert.equal(s.details().rejected, 1);
    assert.equal((await s.get({ id: recs[3].id, filters: [] }))?.user, "nul\ufffduser");
    assert.deepEqual((await s.get({ id: recs[4].id, filters: [] }))?.metadata, { note: "lone \ufffd surrogate", slash: "\\u0000 stays" });
    assert.equal(await s.get({ id: recs[9].id, filters: [] }), undefined);
  } finally {
    await s.close();
  }
});

// Last: it stops and starts the shared server.
test("PostgreSQL away: records wait in the buffer (bounded, overflow counted), then drain; queries are unavailable meanwhile", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const logs: string[] = [];
  const s: PostgresUsageStore = await open({ maxBuffered: 1500, retryMaxMs: 300, log: (level, msg) => logs.push(`${level} ${msg}`) }, url);
  try {
    const r = rng(12);
    const t0 = Date.now() - 10 * 60_000;
    const recs = Array.from({ length: 2000 }, (_, i) => makeRecord(r, { time: t0 + i * 100 }));
    for (const x of recs.slice(0, 500)) s.record(x);
    await s.flush();
    await pgFile.server!.stop();
    for (const x of recs.slice(500)) s.record(x);
    await s.flush(800);
    assert.ok(s.degraded);
    assert.equal(s.stats().buffered, 1500);
    assert.equal(s.stats().dropped, 0, "not yet past the bound");
    for (let i = 0; i < 100; i++) s.record(makeRecord(r, { time: t0 + 2000 * 100 + i }));
    assert.equal(s.stats().dropped, 100, "past the bound: the newest are dropped and counted");
    await assert.rejects(s.query({ start: t0, end: Date.now(), granularity: "total", groupBy: [], filters: [] }), (e: Error & { code?: string }) => e.code === "unavailable" && !e.message.includes(url));
    assert.equal(logs.filter((l) => l.includes("unavailable")).length, 1, "one warning per outage");
    assert.equal(logs.filter((l) => l.includes("buffer full")).length, 1, "one overflow warning per outage");
    await pgFile.server!.start();
    await s.flush(10_000);
    assert.equal(s.degraded, false);
    assert.deepEqual(s.stats(), { buffered: 0, written: 2000, dropped: 100 });
    const res = await s.query({ start: t0, end: Date.now() + HOUR, granularity: "total", groupBy: [], filters: [] });
    assert.equal(res.rows[0].requests, 2000);
    assert.equal(res.dropped, 100, "the overflow is reported with the range");
    assert.equal(res.droppedTotal, 100);
    assert.ok(logs.some((l) => l.startsWith("info") && l.includes("is back")));
  } finally {
    await s.close();
  }
});

test("the operation column: embeddings records say so, records without one are chat; GetRequest returns it", async (t) => {
  if (!need(t)) return;
  const url = await freshDb();
  const s = await open({}, url);
  try {
    const r = rng(7);
    const embed = { ...makeRecord(r, { time: Date.now() - 1000 }), operation: "embeddings" as const };
    // A record as gateways made them before embeddings: no operation.
    const { operation: _, ...old } = makeRecord(r, { time: Date.now() - 500 });
    s.record(embed);
    s.record(old);
    await s.flush();
    const rows = await sql<{ id: string; operation: string }>(url, "SELECT id, operation FROM signalbox_requests ORDER BY time");
    assert.deepEqual(
      rows.map((x) => [x.id, x.operation]),
      [
        [embed.id, "embeddings"],
        [old.id, "chat"],
      ],
    );
    assert.equal((await s.get({ id: embed.id, filters: [] }))?.operation, "embeddings");
    assert.equal((await s.get({ id: old.id, filters: [] }))?.operation, undefined);
    // GetUsage by operation reads the request rows (the rollups do not keep it), as ListRequests filters do.
    const q = { start: Date.now() - HOUR, end: Date.now() + HOUR, granularity: "total" as const };
    const by = await s.query({ ...q, groupBy: ["operation"], filters: [] });
    assert.deepEqual(by.rows.map((x) => [x.group.operation, x.requests]).sort(), [
      ["chat", 1],
      ["embeddings", 1],
    ]);
    const only = await s.query({ ...q, groupBy: [], filters: [{ dimension: "operation", values: ["embeddings"] }] });
    assert.equal(only.rows[0].requests, 1);
    assert.equal(only.rows[0].cost.total, BigInt(embed.cost.total));
    const listed = await s.list({ filters: [{ dimension: "operation", values: ["chat"] }], pageSize: 10 });
    assert.deepEqual(
      listed.records.map((x) => x.id),
      [old.id],
    );
  } finally {
    await s.close();
  }
});
