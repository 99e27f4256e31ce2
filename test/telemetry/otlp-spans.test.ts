// The gateway's span encoder (src/telemetry/otlp-spans.ts) writes the same bytes as the OpenTelemetry
// library's ProtobufTraceSerializer for spans made by the SDK: every attribute type, events, links,
// statuses, remote parents, trace state, unicode and long strings, big and negative numbers, several
// scopes and resources, and batches large enough to grow its buffer. Then the exporter built on it
// delivers spans to a loopback OTLP receiver that decodes them.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Link } from "@opentelemetry/api";
import { TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { encodeSpans, FastOTLPTraceExporter } from "../../src/telemetry/otlp-spans.ts";
import { startOtlpReceiver } from "../helpers/otlp-receiver.ts";
import { seeded as prng } from "../guardrails/samples.ts";


const STRINGS = ["", "ok", "chat gpt-4o-mini", "é", "日本語のテキスト", "emoji 🚀 and more", "x".repeat(42), "y".repeat(43), "z".repeat(127), "w".repeat(128), "v".repeat(20_000), "mixed ü".repeat(30)];
const NUMBERS = [0, 1, -1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, -(2 ** 40), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.5, -3.25, 1e300, NaN, Infinity, 2 ** 63];

function attrs(rand: () => number, n: number): Attributes {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const out: Attributes = {};
  for (let i = 0; i < n; i++) {
    const key = pick(["gen_ai.request.model", "signalbox.attempt", "k", "ключ", `key.${i}`, "a".repeat(200)]) + (rand() < 0.3 ? `.${i}` : "");
    const kind = Math.floor(rand() * 6);
    out[key] =
      kind === 0 ? pick(STRINGS) : kind === 1 ? pick(NUMBERS) : kind === 2 ? rand() < 0.5 : kind === 3 ? [pick(STRINGS), pick(STRINGS)] : kind === 4 ? [pick(NUMBERS), pick(NUMBERS), pick(NUMBERS)] : [true, false];
  }
  return out;
}

function makeSpans(seed: number, count: number): ReadableSpan[] {
  const rand = prng(seed);
  const exporter = new InMemorySpanExporter();
  const providers = [
    new TracerProvider({ resource: resourceFromAttributes({ "service.name": "signalbox", "service.version": "1.2.3", "host.name": "h-é" }), spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
    new TracerProvider({ resource: resourceFromAttributes({ "service.name": "other", count: 3 }), spanProcessors: [new SimpleSpanProcessor({ exporter })] }),
  ];
  const tracers = [providers[0].getTracer("signalbox", "0.1.0"), providers[0].getTracer("second"), providers[1].getTracer("third", "9", { schemaUrl: "https://opentelemetry.io/schemas/1.28.0" })];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");
  for (let i = 0; i < count; i++) {
    const tracer = tracers[Math.floor(rand() * tracers.length)];
    const remote = rand() < 0.3;
    const parent =
      rand() < 0.6
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: hex(32),
            spanId: hex(16),
            traceFlags: rand() < 0.5 ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: remote,
            traceState: rand() < 0.3 ? new TraceState("vendor=a,other=b") : undefined,
          })
        : ROOT_CONTEXT;
    const links: Link[] = rand() < 0.3 ? [{ context: { traceId: hex(32), spanId: hex(16), traceFlags: 1, isRemote: rand() < 0.5, traceState: rand() < 0.5 ? new TraceState("l=1") : undefined }, attributes: attrs(rand, 2) }] : [];
    const span = tracer.startSpan(STRINGS[Math.floor(rand() * STRINGS.length)] || "unnamed", { kind: Math.floor(rand() * 5) as SpanKind, attributes: attrs(rand, Math.floor(rand() * 12)), links, startTime: [1_700_000_000 + i, Math.floor(rand() * 1e9)] }, parent);
    if (rand() < 0.4) span.addEvent("event", attrs(rand, 3), [1_700_000_001 + i, 5]);
    if (rand() < 0.2) span.addEvent("bare");
    const s = rand();
    if (s < 0.3) span.setStatus({ code: SpanStatusCode.ERROR, message: rand() < 0.5 ? "upstream said no: ünïcode" : undefined });
    else if (s < 0.5) span.setStatus({ code: SpanStatusCode.OK });
    span.end([1_700_000_002 + i, Math.floor(rand() * 1e9)]);
  }
  return exporter.getFinishedSpans();
}

test("the same bytes as the library's serializer, span shape by span shape", () => {
  let total = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const spans = makeSpans(seed, 1 + (seed % 7));
    total += spans.length;
    const ours = Buffer.from(encodeSpans(spans));
    const theirs = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    assert.ok(ours.equals(theirs), `seed ${seed}: ${ours.length} bytes against ${theirs.length}; first difference at ${ours.findIndex((b, i) => b !== theirs[i])}`);
  }
  assert.ok(total > 100, `spans were made (${total}; an unsampled parent drops its child)`);
});

test("a batch larger than the buffer (it grows), then a small one (the buffer is reused)", () => {
  const big = makeSpans(99, 400);
  assert.ok(Buffer.from(encodeSpans(big)).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(big)!)));
  const small = makeSpans(7, 3);
  const first = encodeSpans(small);
  assert.ok(Buffer.from(first).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(small)!)));
  encodeSpans(big);
  assert.ok(Buffer.from(first).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(small)!)), "an earlier result is not overwritten by the next batch");
});

test("the exporter delivers to an OTLP receiver, which decodes every span", async () => {
  const receiver = await startOtlpReceiver();
  try {
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": "signalbox" }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new FastOTLPTraceExporter({ url: `${receiver.url}/v1/traces` }), scheduledDelayMillis: 10 })],
    });
    const tracer = provider.getTracer("signalbox");
    for (let i = 0; i < 5; i++) tracer.startSpan(`span ${i}`, { attributes: { "signalbox.i": i, name: "ü" } }).end();
    await provider.forceFlush();
    const spans = await receiver.waitForSpans((s) => s.length >= 5, 5000);
    assert.deepEqual(spans.map((s) => s.name).sort(), ["span 0", "span 1", "span 2", "span 3", "span 4"]);
    assert.equal(Number(spans.find((s) => s.name === "span 3")?.attributes["signalbox.i"]), 3);
    assert.equal(spans[0].attributes.name, "ü");
    await provider.shutdown();
  } finally {
    await receiver.close();
  }
});
