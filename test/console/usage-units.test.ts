// The console's usage arithmetic for what other operations bill by: totals of images, audio seconds,
// characters, searches and per-unit charges, and the one-cell label the usage table shows.

import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { UsageRowSchema } from "@signalbox/client";
import { rowUnits, sumRows, unitsLabel } from "../../console/src/usage.ts";

test("sumRows adds the units and their charges; unitsLabel names only those present", () => {
  const rows = [
    create(UsageRowSchema, { requests: 2n, usage: { images: 4n }, cost: { totalNanoUsd: 40_000_000n, requestNanoUsd: 40_000_000n } }),
    create(UsageRowSchema, { requests: 3n, usage: { audioSeconds: 75.5, characters: 88n, searchUnits: 1n }, cost: { totalNanoUsd: 3_000n, requestNanoUsd: 2_000n } }),
    create(UsageRowSchema, { requests: 1n, usage: { inputTokens: 10n, outputTokens: 5n, totalTokens: 15n }, cost: { totalNanoUsd: 7n } }),
  ];
  const t = sumRows(rows);
  assert.deepEqual(
    { images: t.images, audioSeconds: t.audioSeconds, characters: t.characters, searches: t.searches, requestCostNanos: t.requestCostNanos, costNanos: t.costNanos },
    { images: 4, audioSeconds: 75.5, characters: 88, searches: 1, requestCostNanos: 40_002_000n, costNanos: 40_003_007n },
  );
  assert.equal(unitsLabel(t), "4 images · 1.3 min of audio · 88 characters · 1 search");
  assert.equal(unitsLabel(rowUnits(rows[0])), "4 images");
  assert.equal(unitsLabel(rowUnits(rows[2])), "", "a chat row has none");
  assert.equal(unitsLabel({ images: 1, audioSeconds: 7200, characters: 1, searches: 2, pages: 0 }), "1 image · 2.0 h of audio · 1 character · 2 searches");
  assert.equal(unitsLabel({ images: 0, audioSeconds: 0, characters: 0, searches: 0, pages: 1 }), "1 page");
});
