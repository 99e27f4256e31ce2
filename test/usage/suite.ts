// The query suite both usage stores must pass (memory-store.test.ts and redis-store.test.ts run
// it): every answer is compared with a naive scan of the same records (fixtures.ts reference).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GatewayError } from "../../src/router/errors.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { DIMENSIONS, type ListQuery, type UsageQuery, type UsageRow, type UsageStore } from "../../src/usage/store.ts";
import { DAY, HOUR, makeRecord, plain, reference, rng } from "./fixtures.ts";

export interface StoreFactory {
  open(): Promise<UsageStore>;
  close(store: UsageStore): Promise<void>;
  /**
   * The order list() returns records in: "stored" (newest stored first: the memory and Redis logs)
   * or "time" (newest record time first, ties by id: PostgreSQL's keyset). Default "stored".
   */
  listOrder?: "stored" | "time";
}

const N = 2_000;

/** Every record the store has, listed page by page (newest first). */
async function listAll(store: UsageStore, q: Omit<ListQuery, "pageToken">): Promise<UsageRecord[]> {
  const out: UsageRecord[] = [];
  let token: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await store.list({ ...q, pageToken: token });
    assert.ok(res.records.length <= (q.pageSize ?? 50), "a page never holds more than page_size records");
    out.push(...res.records);
    if (!res.nextPageToken) return out;
    assert.equal(res.records.length, q.pageSize ?? 50, "only the last page is short");
    token = res.nextPageToken;
  }
  throw new Error("pagination does not end");
}

/** The nearest-rank p-quantile of some latencies (whole ms, as the stores count them). */
export function trueQuantile(latencies: number[], p: number): number {
  const xs = latencies.map((x) => Math.round(x)).sort((a, b) => a - b);
  return xs[Math.max(1, Math.ceil(p * xs.length - 1e-9)) - 1];
}

/** `got` within `tolerance` (relative) of `want`. */
export function near(got: number, want: number, tolerance: number, what = "") {
  assert.ok(Math.abs(got - want) <= tolerance * want, `${what} ${got} is not within ${tolerance * 100}% of ${want}`);
}

/** A row's percentiles against the true ones of its records; its histogram holds every request. */
function percentilesMatch(row: UsageRow, latencies: number[], tolerance: number, what = "") {
  assert.equal(
    [...row.latencyHist.values()].reduce((a, n) => a + n, 0),
    row.requests,
    `${what} every request is in the histogram`,
  );
  assert.equal(row.requests, latencies.length, what);
  near(row.p50LatencyMs, trueQuantile(latencies, 0.5), tolerance, `${what} p50`);
  near(row.p95LatencyMs, trueQuantile(latencies, 0.95), tolerance, `${what} p95`);
}

const invalid = (re: RegExp) => (err: unknown) => err instanceof GatewayError && err.code === "invalid_argument" && re.test(err.message);

export function storeSuite(name: string, factory: StoreFactory): void {
  /** Records in the order list() returns them, from records in the order they were stored. */
  const listed = (stored: UsageRecord[]) =>
    factory.listOrder === "time" ? [...stored].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)) : [...stored].reverse();
  describe(name, () => {
    let store: UsageStore;
    const records: UsageRecord[] = [];
    const now = Date.now();
    // 45 days: several hours, days and at least one month boundary.
    const base = Math.floor(now / DAY) * DAY - 44 * DAY;
    const r = rng(42);

    before(async () => {
      store = await factory.open();
      for (let i = 0; i < N; i++) {
        // Spread over the past 45 days.
        const rec = makeRecord(r, { time: base + Math.floor(r.next() * (now - 60_000 - base)), cost: r.int(5e11, 1.5e12) });
        records.push(rec);
        store.record(rec);
      }
      await store.flush();
    });
    after(() => factory.close(store));

    const check = async (q: UsageQuery) => {
      const res = await store.query(q);
      assert.deepEqual(res.rows.map(plain), reference(records, q), JSON.stringify(q));
      return res;
    };

    test("everything recorded is written; nothing buffered or dropped", () => {
      assert.deepEqual(store.stats(), { buffered: 0, written: N, dropped: 0 });
    });

    test("totals over the whole range", async () => {
      const q: UsageQuery = { start: base, end: now + HOUR, granularity: "total", groupBy: [], filters: [] };
      const res = await check(q);
      assert.equal(res.rows.length, 1);
      const row = res.rows[0];
      assert.equal(row.requests, N);
      assert.equal(row.bucketStart, base, "a total row starts at the range start");
      const exact = records.reduce((a, x) => a + BigInt(x.cost.total), 0n);
      assert.equal(row.cost.total, exact);
      assert.equal(row.cost.input + row.cost.cachedInput + row.cost.cacheWrite + row.cost.output + row.cost.reasoning, exact);
      assert.equal(row.usage.totalTokens, row.usage.inputTokens + row.usage.outputTokens);
      assert.ok(row.failures > 0 && row.failures < N);
      assert.ok(row.fallbacks > 0 && row.cacheHits > 0);
      assert.ok(Math.abs(row.meanLatencyMs - Number(row.latencyMsSum) / N) < 1e-9);
      assert.ok(row.meanTtftMs > 0 && row.ttftCount < N);
      percentilesMatch(
        row,
        records.map((x) => x.latencyMs),
        0.05,
        "all records:",
      );
      assert.equal(res.dropped, 0);
      assert.equal(res.droppedTotal, 0);
    });

    test("group by each dimension", async () => {
      for (const d of DIMENSIONS) {
        const res = await check({ start: base, end: now, granularity: "total", groupBy: [d], filters: [] });
        assert.ok(res.rows.length > 1, `several groups for ${d}`);
        assert.ok(res.rows.every((row) => Object.keys(row.group).join() === d));
      }
    });

    test("group by several dimensions at once, at day granularity", async () => {
      await check({ start: base, end: now, granularity: "day", groupBy: ["team", "status", "tag"], filters: [] });
      await check({ start: base, end: now, granularity: "month", groupBy: ["deployment", "variant"], filters: [] });
    });

    test("hour granularity over two days, from hour buckets", async () => {
      const q: UsageQuery = { start: base + 10 * DAY + 5 * HOUR, end: base + 12 * DAY + 5 * HOUR, granularity: "hour", groupBy: [], filters: [] };
      const res = await check(q);
      assert.ok(res.rows.length > 25, "one row per hour that had requests");
      assert.ok(res.rows.every((row) => row.bucketStart % HOUR === 0));
      await check({ ...q, groupBy: ["provider"] });
    });

    test("day and month granularity over 30 days; ranges not aligned to days or hours", async () => {
      const q: UsageQuery = { start: base + 3 * DAY, end: base + 33 * DAY, granularity: "day", groupBy: [], filters: [] };
      const res = await check(q);
      assert.equal(res.rows.length, 30);
      assert.deepEqual(
        res.rows.map((row) => row.bucketStart),
        Array.from({ length: 30 }, (_, i) => base + (3 + i) * DAY),
      );
      // Partial days at both edges come from hour buckets; partial hours count whole.
      const odd: UsageQuery = { start: base + 3 * DAY + 7.5 * HOUR, end: base + 33 * DAY + 3.25 * HOUR, granularity: "day", groupBy: ["team"], filters: [] };
      const r2 = await check(odd);
      assert.equal(r2.from, base + 3 * DAY + 7 * HOUR);
      assert.equal(r2.to, base + 33 * DAY + 4 * HOUR);
      assert.equal(r2.rows[0].bucketStart, base + 3 * DAY, "day rows start at midnight UTC even when the range does not");
      await check({ ...odd, granularity: "total" });
      const months = await check({ ...odd, start: base, end: now, granularity: "month" });
      assert.ok(months.rows.every((row) => new Date(row.bucketStart).getUTCDate() === 1 && row.bucketStart % DAY === 0));
      assert.ok(new Set(months.rows.map((row) => row.bucketStart)).size >= 2, "45 days span two months");
    });

    test("filters: values OR-ed within a filter, filters AND-ed", async () => {
      const all = { start: base, end: now, granularity: "total" as const };
      await check({ ...all, groupBy: ["key"], filters: [{ dimension: "team", values: ["red"] }] });
      const both = await check({ ...all, groupBy: ["team"], filters: [{ dimension: "team", values: ["red", "blue"] }] });
      assert.deepEqual(
        both.rows.map((row) => row.group.team),
        ["blue", "red"],
      );
      await check({
        ...all,
        groupBy: ["deployment"],
        filters: [
          { dimension: "team", values: ["red", "green"] },
          { dimension: "status", values: ["ok"] },
          { dimension: "user", values: ["u1", "u2"] },
        ],
      });
      await check({ ...all, groupBy: [], filters: [{ dimension: "route", values: [""] }] });
      const none = await store.query({ ...all, groupBy: [], filters: [{ dimension: "key", values: ["no-such-key"] }] });
      assert.deepEqual(none.rows, []);
      // Tag filters: a record matches if any of its tags does; grouping by tag keeps the filtered tags.
      await check({ ...all, groupBy: [], filters: [{ dimension: "tag", values: ["beta"] }] });
      const byTag = await check({ ...all, groupBy: ["tag"], filters: [{ dimension: "tag", values: ["beta", ""] }] });
      assert.deepEqual(
        byTag.rows.map((row) => row.group.tag),
        ["", "beta"],
      );
    });

    test("a record with several tags counts once per tag when grouping by tag, once otherwise", async () => {
      const s = await factory.open();
      try {
        const t = Math.floor(now / HOUR) * HOUR - 2 * HOUR;
        const rr = rng(7);
        s.record(makeRecord(rr, { time: t + 1, tags: ["a", "b", "a"], cost: 1e10 }));
        s.record(makeRecord(rr, { time: t + 2, tags: ["b"], cost: 1e10 }));
        s.record(makeRecord(rr, { time: t + 3, tags: [], cost: 1e10 }));
        await s.flush();
        const q = { start: t, end: t + HOUR, granularity: "total" as const, filters: [] };
        const total = await s.query({ ...q, groupBy: [] });
        assert.equal(total.rows[0].requests, 3);
        assert.equal(total.rows[0].cost.total, 30_000_000_000n);
        const byTag = await s.query({ ...q, groupBy: ["tag"] });
        assert.deepEqual(
          byTag.rows.map((row) => [row.group.tag, row.requests]),
          [
            ["", 1],
            ["a", 1],
            ["b", 2],
          ],
        );
        const onlyA = await s.query({ ...q, groupBy: [], filters: [{ dimension: "tag", values: ["a", "b"] }] });
        assert.equal(onlyA.rows[0].requests, 2, "a record with two matching tags is counted once");
      } finally {
        await factory.close(s);
      }
    });

    test("exact integer sums over 10,000 records, past 2^53 nano-USD", async () => {
      const s = await factory.open();
      try {
        const rr = rng(11);
        const t = Math.floor(now / HOUR) * HOUR - 30 * HOUR;
        const many: UsageRecord[] = [];
        for (let i = 0; i < 10_000; i++) {
          // Odd costs around 1.2e12 nano-USD ($1,200) each: the total (~1.2e16) is past 2^53.
          const x = makeRecord(rr, { time: t + (i % 30) * HOUR + (i % 997), cost: 1_200_000_000_001 + rr.int(0, 1e9) * 2, status: "ok", tags: [] });
          // Few tuples (key × deployment): many records per aggregate, as in production.
          x.user = "";
          x.routing = { ...x.routing, route: "default", variant: "" };
          many.push(x);
          s.record(x);
        }
        await s.flush();
        assert.equal(s.stats().written, 10_000);
        const exact = many.reduce((a, x) => a + BigInt(x.cost.total), 0n);
        assert.ok(exact > BigInt(Number.MAX_SAFE_INTEGER), "the sum is past what a double holds exactly");
        const asDouble = many.reduce((a, x) => a + x.cost.total, 0);
        assert.notEqual(BigInt(asDouble), exact, "summing as doubles would be off: the test can tell");
        for (const granularity of ["total", "day", "hour"] as const) {
          const q: UsageQuery = { start: t, end: t + 30 * HOUR, granularity, groupBy: [], filters: [] };
          const res = await s.query(q);
          assert.equal(
            res.rows.reduce((a, row) => a + row.cost.total, 0n),
            exact,
            granularity,
          );
          assert.equal(
            res.rows.reduce((a, row) => a + row.cost.input, 0n),
            many.reduce((a, x) => a + BigInt(x.cost.input), 0n),
          );
          assert.deepEqual(res.rows.map(plain), reference(many, q));
        }
        const byKey = { start: t, end: t + 30 * HOUR, granularity: "total" as const, groupBy: ["key" as const], filters: [] };
        assert.deepEqual((await s.query(byKey)).rows.map(plain), reference(many, byKey));
      } finally {
        await factory.close(s);
      }
    });

    test("latency percentiles: 100 requests at 1..100 ms give p50 ≈ 50 and p95 ≈ 95 (within half a bucket)", async () => {
      const s = await factory.open();
      try {
        const t = Math.floor(now / HOUR) * HOUR - 3 * HOUR;
        const rr = rng(21);
        const recs: UsageRecord[] = [];
        for (let ms = 1; ms <= 100; ms++) {
          const x = makeRecord(rr, { time: t + ms * 1000, cost: 1e9 });
          x.latencyMs = ms;
          recs.push(x);
          s.record(x);
        }
        await s.flush();
        const q: UsageQuery = { start: t, end: t + HOUR, granularity: "total", groupBy: [], filters: [] };
        const res = await s.query(q);
        assert.deepEqual(res.rows.map(plain), reference(recs, q));
        const row = res.rows[0];
        near(row.p50LatencyMs, 50, 0.1, "p50");
        near(row.p95LatencyMs, 95, 0.1, "p95");
        percentilesMatch(
          row,
          recs.map((x) => x.latencyMs),
          0.05,
        );
        assert.ok(row.p50LatencyMs < row.p95LatencyMs);
        // No requests, no row (and so no percentiles); a row's percentiles are never 0.
        assert.deepEqual((await s.query({ ...q, filters: [{ dimension: "key", values: ["nobody"] }] })).rows, []);
        assert.deepEqual((await s.query({ ...q, start: t - 5 * HOUR, end: t - 4 * HOUR })).rows, []);
      } finally {
        await factory.close(s);
      }
    });

    test("latency histograms add up across hours, days, tuples and groups", async () => {
      const s = await factory.open();
      try {
        const rr = rng(23);
        const day = Math.floor(now / DAY) * DAY;
        const t0 = day - 3 * DAY + 5 * HOUR;
        const span = Math.min(2.5 * DAY, now - 60_000 - t0);
        // Team red is fast (1..300 ms), team blue slow (1,000..3,999 ms), spread over three days.
        const recs: UsageRecord[] = [];
        for (let i = 0; i < 600; i++) {
          const team = i % 2 ? "blue" : "red";
          const x = makeRecord(rr, { time: t0 + Math.floor((i * span) / 600), key: team === "red" ? rr.pick(["k-alpha", "k-beta"]) : "k-gamma", team });
          x.latencyMs = team === "red" ? 1 + (i % 300) : 1000 + ((i * 7) % 3000);
          recs.push(x);
          s.record(x);
        }
        await s.flush();
        const lat = (pick: (x: UsageRecord) => boolean) => recs.filter(pick).map((x) => x.latencyMs);
        // Whole days from day buckets, partial days at the edges from hours.
        const q: UsageQuery = { start: t0 - 2 * HOUR, end: now + HOUR, granularity: "total", groupBy: ["team"], filters: [] };
        const byTeam = await s.query(q);
        assert.deepEqual(byTeam.rows.map(plain), reference(recs, q));
        assert.deepEqual(
          byTeam.rows.map((row) => row.group.team),
          ["blue", "red"],
        );
        percentilesMatch(byTeam.rows[0], lat((x) => x.team === "blue"), 0.05, "blue:");
        percentilesMatch(byTeam.rows[1], lat((x) => x.team === "red"), 0.05, "red:");
        const total = (await s.query({ ...q, groupBy: [] })).rows[0];
        percentilesMatch(total, lat(() => true), 0.05, "total:");
        assert.ok(total.p50LatencyMs < 1000 * 1.05 && total.p95LatencyMs > 1000, "the groups' histograms were added, not averaged");
        // A range that is not aligned to days, at day and hour granularity: each row's histogram
        // is its requests', and the rows' histograms add up to the total's.
        for (const granularity of ["day", "hour"] as const) {
          const odd: UsageQuery = { start: t0 + 7 * HOUR + 1, end: t0 + 2 * DAY + 3 * HOUR, granularity, groupBy: ["key"], filters: [] };
          const res = await s.query(odd);
          assert.deepEqual(res.rows.map(plain), reference(recs, odd), granularity);
          const sum = new Map<number, number>();
          for (const row of res.rows) for (const [i, n] of row.latencyHist) sum.set(i, (sum.get(i) ?? 0) + n);
          const whole = (await s.query({ ...odd, granularity: "total", groupBy: [] })).rows[0];
          assert.deepEqual([...sum].sort((a, b) => a[0] - b[0]), [...whole.latencyHist], granularity);
        }
        // A filter on user (PostgreSQL: read from the request rows, not the rollups) gives the same.
        const allUsers = await s.query({ ...q, filters: [{ dimension: "user", values: ["", "u1", "u2", "u3"] }] });
        assert.deepEqual(allUsers.rows.map(plain), byTeam.rows.map(plain));
      } finally {
        await factory.close(s);
      }
    });

    test("list: newest first, page by page, no duplicates and no gaps", async () => {
      const q = { filters: [{ dimension: "team" as const, values: ["red"] }], pageSize: 333 };
      const got = await listAll(store, q);
      const want = listed(records.filter((x) => x.team === "red"));
      assert.equal(got.length, want.length);
      assert.deepEqual(
        got.map((x) => x.id),
        want.map((x) => x.id),
      );
      const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
      assert.deepEqual(json(got[0]), json(want[0]), "records come back whole");
      const first = await store.list({ filters: [] });
      assert.equal(first.records.length, 50, "page_size defaults to 50");
    });

    test("list: time range and several filters", async () => {
      const start = base + 20 * DAY;
      const end = base + 22 * DAY;
      const filters = [
        { dimension: "status" as const, values: ["ok"] },
        { dimension: "tag" as const, values: ["gamma"] },
      ];
      const got = await listAll(store, { start, end, filters, pageSize: 7 });
      const want = listed(records.filter((x) => x.time >= start && x.time < end && x.status === "ok" && x.tags.includes("gamma")));
      assert.ok(want.length > 7);
      assert.deepEqual(
        got.map((x) => x.id),
        want.map((x) => x.id),
      );
      const empty = await store.list({ filters: [{ dimension: "key", values: ["nobody"] }] });
      assert.deepEqual(empty, { records: [], nextPageToken: "" });
    });

    test("list: a page token is refused for another query, and when malformed", async () => {
      const q: ListQuery = { start: base, filters: [{ dimension: "team", values: ["red"] }], pageSize: 10 };
      const p1 = await store.list(q);
      assert.ok(p1.nextPageToken);
      // The page size may change between pages; the filters and the range may not.
      const p2 = await store.list({ ...q, pageSize: 20, pageToken: p1.nextPageToken });
      assert.equal(p2.records.length, 20);
      await assert.rejects(store.list({ ...q, filters: [{ dimension: "team", values: ["blue"] }], pageToken: p1.nextPageToken }), invalid(/^page_token: .*different query/));
      await assert.rejects(store.list({ ...q, start: base + 1, pageToken: p1.nextPageToken }), invalid(/different query/));
      await assert.rejects(store.list({ ...q, filters: [], pageToken: p1.nextPageToken }), invalid(/different query/));
      for (const garbage of ["garbage", "!!!", p1.nextPageToken.slice(0, -3), Buffer.from("u1.zz.5").toString("base64url"), "dTEuMDAwMDAwMDAwMDAwMDAwMC4w"]) {
        await assert.rejects(store.list({ ...q, pageToken: garbage }), invalid(/^page_token: malformed/), garbage);
      }
      await assert.rejects(store.list({ ...q, pageSize: 1001 }), invalid(/^page_size/));
      // Filters given in another order are the same query.
      const two: ListQuery = {
        filters: [
          { dimension: "team", values: ["red", "blue"] },
          { dimension: "status", values: ["ok"] },
        ],
        pageSize: 5,
      };
      const a = await store.list(two);
      const b = await store.list({ ...two, filters: [two.filters[1], { dimension: "team", values: ["blue", "red"] }], pageToken: a.nextPageToken });
      assert.equal(b.records.length, 5);
    });

    // Runs last: it records more.
    test("list: records stored between pages are not returned twice and nothing is skipped", async () => {
      const q: ListQuery = { filters: [], pageSize: 100 };
      const p1 = await store.list(q);
      const fresh = Array.from({ length: 150 }, () => makeRecord(r, { time: now - 1000, cost: 1e9 }));
      for (const x of fresh) {
        records.push(x);
        store.record(x);
      }
      await store.flush();
      const p2 = await store.list({ ...q, pageToken: p1.nextPageToken });
      const before = listed(records.slice(0, -150));
      assert.deepEqual(
        [...p1.records, ...p2.records].map((x) => x.id),
        before.slice(0, 200).map((x) => x.id),
      );
      const p3 = await store.list(q);
      assert.deepEqual(
        p3.records.map((x) => x.id),
        listed(fresh)
          .slice(0, 100)
          .map((x) => x.id),
      );
      const totals = await check({ start: base, end: now + HOUR, granularity: "total", groupBy: ["status"], filters: [] });
      assert.equal(
        totals.rows.reduce((n, row) => n + row.requests, 0),
        N + 150,
      );
    });
  });
}
