// The latency histogram every usage store keeps (store.ts): bucket bounds, the bucket of a latency,
// and percentiles estimated from it (within half a bucket, ~5%, of the true value).

import assert from "node:assert/strict";
import { test } from "node:test";
import { LATENCY_BOUNDS, LATENCY_BUCKETS, latencyBucket, latencyEstimate, percentile, usageRow } from "../../src/usage/store.ts";
import { naiveLatencyBucket, rng } from "./fixtures.ts";
import { trueQuantile } from "./suite.ts";

test("buckets: 0 under 1 ms, then [1.1^(i-1), 1.1^i), the last open-ended from ~10 minutes", () => {
  assert.equal(LATENCY_BOUNDS.length, LATENCY_BUCKETS - 1);
  assert.equal(LATENCY_BOUNDS[0], 1);
  for (let i = 1; i < LATENCY_BOUNDS.length; i++) assert.ok(Math.abs(LATENCY_BOUNDS[i] / LATENCY_BOUNDS[i - 1] - 1.1) < 1e-9);
  const last = LATENCY_BOUNDS[LATENCY_BOUNDS.length - 1];
  assert.ok(last > 600_000 && last < 700_000, `the last bucket starts at ${last} ms`);
  for (const [ms, b] of [
    [0, 0],
    [0.4, 0],
    [-5, 0],
    [Number.NaN, 0],
    [1, 1],
    [1.09, 1],
    [1.1, 2],
    [2, 8], // 1.1^7 = 1.949 <= 2 < 1.1^8 = 2.144
    [50, 42], // 1.1^41 = 49.79 <= 50 < 54.76
    [95, 48],
    [1e9, LATENCY_BUCKETS - 1],
    [Infinity, LATENCY_BUCKETS - 1],
  ] as const) {
    assert.equal(latencyBucket(ms), b, `latencyBucket(${ms})`);
  }
  // Each bound opens its bucket; just below it is the bucket before.
  LATENCY_BOUNDS.forEach((lo, k) => {
    assert.equal(latencyBucket(lo), k + 1);
    if (k > 0) assert.equal(latencyBucket(lo * (1 - 1e-12)), k);
  });
  // Whole milliseconds (what the stores count) as the naive definition says: all up to 5 s, and
  // those on either side of every bound.
  const check = (ms: number) => assert.equal(latencyBucket(ms), naiveLatencyBucket(ms), `bucket of ${ms} ms`);
  for (let ms = 0; ms <= 5000; ms++) check(ms);
  for (const lo of LATENCY_BOUNDS) for (let ms = Math.floor(lo) - 1; ms <= Math.ceil(lo) + 1; ms++) check(ms);
});

test("percentiles: the geometric middle of the bucket where the cumulative count crosses p", () => {
  assert.equal(percentile(new Map(), 0.5), 0, "an empty histogram: 0");
  assert.equal(percentile(new Map([[0, 10]]), 0.95), 0.5, "all under 1 ms: 0.5, never 0");
  assert.equal(percentile(new Map([[LATENCY_BUCKETS - 1, 1]]), 0.5), LATENCY_BOUNDS[LATENCY_BUCKETS - 2], "the last bucket: its lower bound");
  // Nearest rank: with [1, 1, 1, 2] requests in buckets 10..13, p50 is rank 3 (bucket 12), p95 rank 5 (13).
  const h = new Map([
    [13, 2],
    [10, 1],
    [11, 1],
    [12, 1],
  ]);
  assert.equal(percentile(h, 0.5), latencyEstimate(12));
  assert.equal(percentile(h, 0.95), latencyEstimate(13));
  assert.equal(percentile(h, 0.2), latencyEstimate(10));
  assert.ok(Math.abs(latencyEstimate(12) - Math.sqrt(LATENCY_BOUNDS[11] * LATENCY_BOUNDS[12])) < 1e-9, "bucket 12 is [1.1^11, 1.1^12)");
});

test("percentiles are within 5% of the true ones, over distributions from 1 ms to minutes", () => {
  const r = rng(9);
  const shapes: [string, () => number][] = [
    ["uniform 1..100", () => r.int(1, 100)],
    ["uniform 200..20,000", () => r.int(200, 20_000)],
    ["log-normal around 800 ms", () => Math.exp(Math.log(800) + 0.8 * (r.next() + r.next() + r.next() - 1.5) * 2)],
    ["bimodal 5 ms / 4 s", () => (r.next() < 0.7 ? r.int(3, 8) : r.int(3000, 5000))],
    ["minutes", () => r.int(60_000, 500_000)],
  ];
  for (const [name, draw] of shapes) {
    for (const n of [1, 7, 100, 5000]) {
      const xs = Array.from({ length: n }, () => Math.max(1, Math.round(draw())));
      const h = new Map<number, number>();
      for (const x of xs) h.set(latencyBucket(x), (h.get(latencyBucket(x)) ?? 0) + 1);
      for (const p of [0.5, 0.95, 0.99]) {
        const want = trueQuantile(xs, p);
        const got = percentile(h, p);
        assert.ok(Math.abs(got - want) <= 0.05 * want, `${name}, n=${n}, p${p * 100}: ${got} vs ${want}`);
      }
    }
  }
});

test("a row's percentiles come from its histogram; a row without requests has 0", () => {
  const sums = new Array<bigint>(19).fill(0n);
  const empty = usageRow(0, {}, sums, new Map());
  assert.equal(empty.p50LatencyMs, 0);
  assert.equal(empty.p95LatencyMs, 0);
  assert.equal(empty.latencyHist.size, 0);
  sums[0] = 3n;
  const row = usageRow(0, {}, sums, new Map([[42, 2], [7, 1], [9, 0]]));
  assert.deepEqual([...row.latencyHist], [[7, 1], [42, 2]], "sparse, ascending, no empty buckets");
  assert.equal(row.p50LatencyMs, latencyEstimate(42));
  assert.equal(row.p95LatencyMs, latencyEstimate(42));
});
