// The usage query suite against the in-process store, plus what only it does: retention pruning.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryUsageStore } from "../../src/usage/memory-store.ts";
import { DAY, HOUR, makeRecord, rng } from "./fixtures.ts";
import { storeSuite } from "./suite.ts";

storeSuite("memory usage store", {
  open: async () => createMemoryUsageStore({ hourRetentionMs: 60 * DAY, logCapacity: 20_000 }),
  close: (s) => s.close(),
});

test("memory store: the log is bounded, aggregates keep counting; old hours widen a range's edge to its day", async () => {
  let clock = Date.UTC(2026, 0, 20, 12);
  const s = createMemoryUsageStore({ logCapacity: 100, hourRetentionMs: 2 * DAY, now: () => clock });
  const r = rng(3);
  const t0 = Date.UTC(2026, 0, 10, 6, 30);
  for (let i = 0; i < 250; i++) s.record(makeRecord(r, { time: t0 + i * 60_000, cost: 1e9 }));
  const listed = await s.list({ filters: [], pageSize: 1000 });
  assert.equal(listed.records.length, 100, "the log keeps the newest 100");
  assert.equal(listed.nextPageToken, "");
  // 10 days ago: the edge hours are past the 2-day hour retention, so the whole day is counted.
  const q = { start: t0 + HOUR, end: t0 + 2 * HOUR, granularity: "total" as const, groupBy: [], filters: [] };
  const res = await s.query(q);
  assert.equal(res.rows[0].requests, 250);
  assert.equal(res.from, Date.UTC(2026, 0, 10));
  assert.equal(res.to, Date.UTC(2026, 0, 11));
  // Past the day retention (400 days) nothing is kept.
  clock += 401 * DAY;
  s.record(makeRecord(r, { time: clock, cost: 1e9 }));
  assert.deepEqual((await s.query(q)).rows, []);
});
