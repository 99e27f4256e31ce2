// bench/stalls.ts: busy stretches of a CPU profile and what their time went to.

import assert from "node:assert/strict";
import { test } from "node:test";
import { stalls } from "../../bench/stalls.ts";

const frame = (functionName: string, url = "") => ({ functionName, url });

test("a profile's busy stretches: only those long enough, after the skipped start, by category", () => {
  const nodes = [
    { id: 1, callFrame: frame("(root)"), children: [2, 3, 4, 5, 7] },
    { id: 2, callFrame: frame("(idle)") },
    { id: 3, callFrame: frame("(garbage collector)") },
    { id: 4, callFrame: frame("writev") },
    { id: 5, callFrame: frame("flush", "file:///x/node_modules/@opentelemetry/otlp-transformer/dist/a.mjs"), children: [6] },
    { id: 6, callFrame: frame("writeString", "file:///x/node_modules/@opentelemetry/otlp-transformer/dist/b.mjs") },
    { id: 7, callFrame: frame("chat", "file:///work/main/src/compat/handler.ts") },
  ];
  // 1 ms a sample: 2 ms busy (skipped), idle, 1 ms busy (too short), idle, then 5 ms busy: 2 GC, 1 writev, 1 otlp, 1 request work.
  const samples = [7, 7, 2, 7, 2, 3, 3, 4, 6, 7, 2];
  const r = stalls({ nodes, samples, timeDeltas: samples.map(() => 1000) }, 3, 2);
  assert.equal(r.stretches.length, 1);
  assert.equal(r.stretches[0].ms, 5);
  assert.deepEqual(Object.fromEntries(r.total), { "garbage collection": 2, "socket system call": 1, "span encoding (OTLP export)": 1, "other (request work)": 1 });
  assert.equal(r.seconds, (11 - 2) / 1000);
});
