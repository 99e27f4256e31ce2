// The span and log-record batch processors take the standard OTEL_BSP_* / OTEL_BLRP_* settings,
// and default to batches small enough that encoding one does not stall the event loop for long.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { batchOptions, startTracing } from "../../src/telemetry/otel-sdk.ts";

function collecting(): SpanExporter & { batches: number[] } {
  const batches: number[] = [];
  return {
    batches,
    export(spans: ReadableSpan[], done: (r: { code: ExportResultCode }) => void) {
      batches.push(spans.length);
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };
}

async function exportSpans(env: Record<string, string>, n: number): Promise<number[]> {
  const exporter = collecting();
  const t = startTracing({ env, exporter })!;
  for (let i = 0; i < n; i++) t.tracer.startSpan(`s${i}`).end();
  await t.forceFlush();
  await t.shutdown();
  return exporter.batches;
}

test("spans leave in batches of at most 128 by default", async () => {
  const batches = await exportSpans({}, 300);
  assert.equal(batches.reduce((a, b) => a + b, 0), 300);
  assert.ok(Math.max(...batches) <= 128, `batches ${batches}`);
});

test("OTEL_BSP_MAX_EXPORT_BATCH_SIZE sets the batch size", async () => {
  const batches = await exportSpans({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "7" }, 20);
  assert.equal(batches.reduce((a, b) => a + b, 0), 20);
  assert.ok(Math.max(...batches) <= 7, `batches ${batches}`);
});

test("batch settings: the standard variables, invalid values fall back, a batch never exceeds the queue", () => {
  const d = { scheduledDelayMillis: 500, maxExportBatchSize: 128, maxQueueSize: 4096 };
  assert.deepEqual(batchOptions({}, "OTEL_BSP", d), { scheduledDelayMillis: 500, exportTimeoutMillis: 30_000, maxQueueSize: 4096, maxExportBatchSize: 128 });
  assert.deepEqual(batchOptions({ OTEL_BLRP_SCHEDULE_DELAY: "250", OTEL_BLRP_EXPORT_TIMEOUT: "5000", OTEL_BLRP_MAX_QUEUE_SIZE: "64" }, "OTEL_BLRP", d), {
    scheduledDelayMillis: 250,
    exportTimeoutMillis: 5000,
    maxQueueSize: 64,
    maxExportBatchSize: 64,
  });
  assert.equal(batchOptions({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "lots" }, "OTEL_BSP", d).maxExportBatchSize, 128);
  assert.equal(batchOptions({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "-5" }, "OTEL_BSP", d).maxExportBatchSize, 128);
  // The span variables do not leak into the log processor's settings.
  assert.equal(batchOptions({ OTEL_BSP_SCHEDULE_DELAY: "9" }, "OTEL_BLRP", d).scheduledDelayMillis, 500);
});
