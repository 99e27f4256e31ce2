// Nothing queued for export is lost at shutdown: a full span queue (4,096 spans, 32 batches of 128)
// is flushed in one go when the gateway stops, and every span reaches the collector. (The OTLP
// exporter lets 30 exports run at once by default: the last two batches used to be refused with
// "Concurrent export limit reached".)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../helpers/otlp-receiver.ts";

let receiver: OtlpReceiver;
before(async () => {
  receiver = await startOtlpReceiver();
});
after(() => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return receiver.close();
});

test("a full queue of spans is exported whole at shutdown", async () => {
  // The exporter reads its endpoint from the process's environment, as in the gateway.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  const t = startTracing()!;
  // Ended in one synchronous run: nothing is exported before shutdown flushes the queue.
  for (let i = 0; i < 4096; i++) t.tracer.startSpan(`span ${i}`).end();
  await t.shutdown();
  assert.equal(receiver.spans().length, 4096);
  assert.equal(new Set(receiver.spans().map((s) => s.name)).size, 4096);
});
