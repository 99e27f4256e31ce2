// The OpenTelemetry SDK: trace and usage-log export over OTLP/HTTP protobuf. Loaded (by
// gateway.ts) only when the environment asks for traces or usage logs, so a gateway without
// them never carries the SDK, its exporters and their encoders (about 10 MB of resident memory);
// the request path itself speaks only @opentelemetry/api (tracing.ts, usage-logs.ts).

import { isValidTraceId, propagation, trace, type Context, type HrTime } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { FastOTLPTraceExporter } from "./otlp-spans.ts";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type LogRecordProcessor, type ReadWriteLogRecord } from "@opentelemetry/sdk-logs";
import type { UsageRecord } from "../usage/record.ts";
import { log } from "./log.ts";
import { spanContentRequested, tracingRequested, type Tracing } from "./tracing.ts";
import { emitRecord, usageLogsRequested, type UsageLogs } from "./usage-logs.ts";

const VERSION = "0.1.0";

/** The resource of traces and usage logs alike: the gateway's name and version, then OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. */
function signalboxResource() {
  return defaultResource()
    .merge(resourceFromAttributes({ "service.name": "signalbox", "service.version": VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
}

/**
 * The batch processors' settings: the standard OTEL_BSP_* (spans) and OTEL_BLRP_* (log records)
 * variables, else the gateway's defaults. The exporter encodes a batch synchronously, on the event
 * loop, at about 4 µs a span: the SDK's 512 stalls every request in flight for 2 ms and more (the
 * longest busy stretches in a profile of the everything-on gateway at 200 req/s were these), so
 * the default batch is 128 (about 0.5 ms). One batch is exported at a time: with a collector far
 * away, raise the batch size (throughput is a batch per round trip).
 */
export function batchOptions(env: Record<string, string | undefined>, prefix: "OTEL_BSP" | "OTEL_BLRP", defaults: { scheduledDelayMillis: number; maxExportBatchSize: number; maxQueueSize: number }) {
  const num = (name: string, fallback: number) => {
    const raw = env[`${prefix}_${name}`]?.trim();
    if (!raw) return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v <= 0) {
      log("warn", `${prefix}_${name}=${raw} is not a positive integer: using ${fallback}`);
      return fallback;
    }
    return v;
  };
  const maxQueueSize = num("MAX_QUEUE_SIZE", defaults.maxQueueSize);
  return {
    scheduledDelayMillis: num("SCHEDULE_DELAY", defaults.scheduledDelayMillis),
    exportTimeoutMillis: num("EXPORT_TIMEOUT", 30_000),
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, num("MAX_EXPORT_BATCH_SIZE", defaults.maxExportBatchSize)),
  };
}

/**
 * How many exports the exporter lets run at once: a flush (at shutdown, or forceFlush) sends
 * every batch of a full queue together, and the exporter's default (30) is fewer than a full
 * queue's 32 batches: the rest would be refused and lost.
 */
const exportsAtOnce = (b: { maxQueueSize: number; maxExportBatchSize: number }) => Math.max(30, Math.ceil(b.maxQueueSize / b.maxExportBatchSize) + 1);

function samplerFromEnv(env: Record<string, string | undefined>): Sampler {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? "1");
  const ratio = Number.isFinite(arg) ? Math.min(1, Math.max(0, arg)) : 1;
  switch ((env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on").trim()) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Start tracing. `processor` replaces the OTLP batch exporter (tests pass an in-memory one).
 * Returns undefined when nothing asks for traces.
 */
export function startTracing(opts: { env?: Record<string, string | undefined>; processor?: SpanProcessor; exporter?: SpanExporter } = {}): Tracing | undefined {
  const env = opts.env ?? process.env;
  if (!opts.processor && !opts.exporter && !tracingRequested(env)) return undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf").trim();
  if (protocol !== "http/protobuf") {
    log("warn", `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: traces are exported over OTLP/HTTP protobuf (Jaeger's port 4318)`);
  }
  const resource = signalboxResource();
  const batch = batchOptions(env, "OTEL_BSP", { scheduledDelayMillis: 500, maxExportBatchSize: 128, maxQueueSize: 4096 });
  const processor = opts.processor ?? new BatchSpanProcessor({ exporter: opts.exporter ?? new FastOTLPTraceExporter({ concurrencyLimit: exportsAtOnce(batch) }), ...batch });
  const provider = new TracerProvider({ resource, sampler: samplerFromEnv(env), spanProcessors: [ONE_CLOCK, processor] });
  // The propagator is process-wide. No context manager is registered: every span gets its parent
  // explicitly (stream handlers run outside any async context anyway), which spares every
  // promise in the process the async-context bookkeeping.
  if (!registered) {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    registered = true;
  }
  return {
    tracer: provider.getTracer("signalbox", VERSION),
    shutdown: () => provider.shutdown(),
    forceFlush: () => provider.forceFlush(),
    ...(spanContentRequested(env) ? { captureContent: true } : {}),
  };
}
let registered = false;

/**
 * Every span of the process on one clock. The SDK anchors each span to its own Date.now(), which
 * has millisecond precision and follows steps of the wall clock, then times the span with the
 * monotonic clock: a child span could start up to a millisecond before its parent, or end after
 * it, and a step of the wall clock in the middle of a request moved its later spans by the step.
 * This processor, first in line, restarts each span on the monotonic clock anchored once to the
 * wall clock (again only when the two part by more than 20 ms: the wall clock was set), so the
 * spans of a trace nest as they ran; the SDK's end times and event times follow the start (they
 * are the start plus monotonic time). The gateway never passes a start time of its own.
 */
class OneClock implements SpanProcessor {
  #anchor = Date.now() - performance.now();
  onStart(span: Span): void {
    const mono = performance.now();
    let t = this.#anchor + mono;
    const wall = Date.now();
    if (Math.abs(wall - t) > 20) {
      this.#anchor = wall - mono;
      t = wall;
    }
    const s = Math.floor(t / 1000);
    (span as { startTime: HrTime }).startTime = [s, Math.round((t - s * 1000) * 1e6)];
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
const ONE_CLOCK = new OneClock();

/**
 * Links each log record to its request's trace. The SDK takes the trace context only from a
 * valid span context (trace id and span id); without tracing a request has a trace id but no
 * span, so the record gets the trace id alone here (an empty span id is left off the wire).
 */
class TraceLinkProcessor implements LogRecordProcessor {
  readonly #inner: LogRecordProcessor;
  constructor(inner: LogRecordProcessor) {
    this.#inner = inner;
  }
  onEmit(rec: ReadWriteLogRecord, ctx?: Context): void {
    if (!rec.spanContext && ctx) {
      const sc = trace.getSpanContext(ctx);
      if (sc && isValidTraceId(sc.traceId)) rec.spanContext = sc;
    }
    this.#inner.onEmit(rec, ctx);
  }
  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
}

/**
 * Start usage logs. Returns undefined, creating nothing, unless OTEL_LOGS_EXPORTER=otlp or a test
 * passes its own `exporter` or `processor`. The endpoint, headers and timeout come from the
 * standard OTEL_EXPORTER_OTLP[_LOGS]_* variables (OTLP/HTTP protobuf; default
 * http://localhost:4318/v1/logs); the resource is tracing's (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES).
 */
export function startUsageLogs(opts: { env?: Record<string, string | undefined>; exporter?: LogRecordExporter; processor?: LogRecordProcessor } = {}): UsageLogs | undefined {
  const env = opts.env ?? process.env;
  if (!opts.processor && !opts.exporter && !usageLogsRequested(env)) return undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf").trim();
  if (protocol !== "http/protobuf") {
    log("warn", `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: usage logs are exported over OTLP/HTTP protobuf`);
  }
  const resource = signalboxResource();
  const batch = batchOptions(env, "OTEL_BLRP", { scheduledDelayMillis: 1000, maxExportBatchSize: 128, maxQueueSize: 4096 });
  const processor = opts.processor ?? new BatchLogRecordProcessor({ exporter: opts.exporter ?? new OTLPLogExporter({ concurrencyLimit: exportsAtOnce(batch) }), ...batch });
  const provider = new LoggerProvider({ resource, processors: [new TraceLinkProcessor(processor)] });
  const logger = provider.getLogger("signalbox", VERSION);
  const emit = (r: UsageRecord, providerTypes?: ReadonlyMap<string, string>) => {
    try {
      emitRecord(logger, r, providerTypes);
    } catch {
      // Observability must never fail a request.
    }
  };
  return {
    emit,
    sink: (inner, providerTypes) => ({
      record(r) {
        emit(r, providerTypes);
        inner.record(r);
      },
      flush: () => inner.flush(),
    }),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

