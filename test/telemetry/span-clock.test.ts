// The spans of one process share a clock: a child starts and ends within its parent even when the
// wall clock is stepped between them, to sub-millisecond precision; a large step is followed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { trace, ROOT_CONTEXT } from "@opentelemetry/api";
import { hrTimeToNanoseconds } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";

const ns = (t: [number, number]) => BigInt(hrTimeToNanoseconds(t));
const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

test("a child span nests in its parent across a small step of the wall clock, with sub-millisecond times", async (t) => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ processor: new SimpleSpanProcessor({ exporter }) })!;
  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
  });
  const parent = tracing.tracer.startSpan("parent");
  spin(2);
  // The wall clock goes back 8 ms (as a time daemon might set it) before the child starts.
  Date.now = () => realNow() - 8;
  const child = tracing.tracer.startSpan("child", {}, trace.setSpan(ROOT_CONTEXT, parent));
  spin(2);
  child.addEvent("midway");
  spin(2);
  child.end();
  parent.end();
  await tracing.forceFlush();
  const [c, p] = exporter.getFinishedSpans();
  await tracing.shutdown();
  assert.equal(c.name, "child");
  assert.ok(ns(c.startTime) - ns(p.startTime) >= 2_000_000n, "the child starts at least 2 ms after its parent, as it did");
  assert.ok(ns(c.endTime) <= ns(p.endTime), "the child ends before its parent");
  assert.ok(ns(c.events[0].time) > ns(c.startTime) && ns(c.events[0].time) < ns(c.endTime), "the event lies within its span");
  assert.ok(p.startTime[1] % 1_000_000 !== 0 || c.startTime[1] % 1_000_000 !== 0, "start times are finer than a millisecond");
});

test("a large step of the wall clock is followed by the spans started after it", async (t) => {
  const exporter = new InMemorySpanExporter();
  const tracing = startTracing({ processor: new SimpleSpanProcessor({ exporter }) })!;
  const realNow = Date.now;
  t.after(() => {
    Date.now = realNow;
  });
  tracing.tracer.startSpan("before").end();
  Date.now = () => realNow() + 3_600_000;
  tracing.tracer.startSpan("after").end();
  await tracing.forceFlush();
  const [before, after] = exporter.getFinishedSpans();
  await tracing.shutdown();
  const gap = Number(ns(after.startTime) - ns(before.startTime)) / 1e6;
  // The re-anchored start is the wall clock's, whole milliseconds: up to a millisecond under the step.
  assert.ok(gap > 3_599_999 && gap < 3_601_000, `the span after the step is an hour later: ${gap} ms`);
});
