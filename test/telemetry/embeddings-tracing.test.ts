// An embeddings request traces like a chat one: the RPC span, the routing and limits spans, and
// one `embeddings {model}` CLIENT span per attempt with gen_ai.operation.name = embeddings (a
// failed attempt and its fallback as siblings, in order).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { createSignalboxClient, embedTexts } from "@signalbox/client";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const CONFIG = `
providers:
  - { name: good, type: mock, mock: { dimensions: 4 } }
  - { name: down, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  - { id: a/down, provider: down, model: embed-down, operations: [embeddings], pricing: { input: 1, output: 0 } }
  - { id: b/good, provider: good, model: embed-good, operations: [embeddings], pricing: { input: 1, output: 0 } }
routes:
  - { name: vectors, targets: [a/down, b/good], retry: { max_retries: 0 } }
`;

let exporter: InMemorySpanExporter;
let t: TestGateway;
before(async () => {
  exporter = new InMemorySpanExporter();
  t = await startTestGateway(CONFIG, { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })! });
});
after(() => t.close());

test("one trace: RPC span, route and limits spans, an embeddings span per attempt", async () => {
  const client = createSignalboxClient({ baseUrl: t.url });
  const { response } = await embedTexts(client, "vectors", ["trace me", "and me"]);
  let spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === response.traceId);
  for (let i = 0; i < 100 && spans.length < 5; i++) {
    await new Promise((r) => setTimeout(r, 10));
    spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === response.traceId);
  }
  const rpc = spans.find((s) => s.kind === SpanKind.SERVER)!;
  assert.equal(rpc.name, "signalbox.v1.EmbeddingService/Embed");
  assert.ok(spans.find((s) => s.name === "route vectors"));
  assert.ok(spans.find((s) => s.name === "limits.check"));
  const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT).sort((a, b) => Number(a.attributes["signalbox.attempt"]) - Number(b.attributes["signalbox.attempt"]));
  assert.deepEqual(
    attempts.map((s) => [s.name, s.attributes["gen_ai.operation.name"], s.attributes["signalbox.deployment"]]),
    [
      ["embeddings embed-down", "embeddings", "a/down"],
      ["embeddings embed-good", "embeddings", "b/good"],
    ],
  );
  assert.equal(attempts[0].attributes["error.type"], "overloaded");
  assert.ok(Number(attempts[1].attributes["gen_ai.usage.input_tokens"]) > 0);
  assert.equal(attempts[1].attributes["gen_ai.usage.output_tokens"], 0);
  for (const s of attempts) assert.equal(s.parentSpanContext?.spanId, rpc.spanContext().spanId);
});
