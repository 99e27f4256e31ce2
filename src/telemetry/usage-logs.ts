// Usage as OpenTelemetry logs: with OTEL_LOGS_EXPORTER=otlp, every usage record is also exported
// as one OTLP log record (event `signalbox.request`), tied to the request's trace; never any text.

import { ROOT_CONTEXT, SeverityNumber, TraceFlags, isValidTraceId, trace, type Attributes, type Context, type Logger } from "@opentelemetry/api";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type LogRecordProcessor, type ReadWriteLogRecord } from "@opentelemetry/sdk-logs";
import type { UsageRecord, UsageSink } from "../usage/record.ts";
import { log } from "./log.ts";
import { GENAI_PROVIDER } from "./tracing.ts";

/** The event name of every usage log record. */
export const USAGE_EVENT_NAME = "signalbox.request";

const VERSION = "0.1.0";

/** Exports usage records as OTLP log records. */
export interface UsageLogs {
  /**
   * Export one record (never throws, never waits: the batch processor sends it within a second).
   * `providerTypes` maps provider names to their types, for `gen_ai.provider.name`.
   */
  emit(r: UsageRecord, providerTypes?: ReadonlyMap<string, string>): void;
  /** `inner`, plus one log record per record it is given (before `inner` sees it). */
  sink(inner: UsageSink, providerTypes: ReadonlyMap<string, string>): UsageSink;
  /** Send whatever is queued. */
  forceFlush(): Promise<void>;
  /** Send whatever is queued, then stop (gateway close). */
  shutdown(): Promise<void>;
}

/**
 * Whether the environment asks for usage logs: OTEL_LOGS_EXPORTER lists `otlp` (and the SDK is
 * not disabled). An OTLP endpoint alone turns on traces, not logs.
 */
export function usageLogsRequested(env: Record<string, string | undefined> = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_LOGS_EXPORTER ?? "").split(",").map((x) => x.trim().toLowerCase());
  return exporters.includes("otlp") && !exporters.includes("none");
}

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
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "signalbox", "service.version": VERSION }))
    .merge(detectResources({ detectors: [envDetector] }));
  const processor = opts.processor ?? new BatchLogRecordProcessor({ exporter: opts.exporter ?? new OTLPLogExporter(), scheduledDelayMillis: 1000, maxExportBatchSize: 512, maxQueueSize: 4096 });
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

function emitRecord(logger: Logger, r: UsageRecord, providerTypes: ReadonlyMap<string, string> | undefined): void {
  const ok = r.status === "ok";
  const u = r.usage;
  const attrs: Attributes = {
    "gen_ai.operation.name": r.operation ?? "chat",
    "gen_ai.request.model": r.model,
    "gen_ai.request.stream": r.streamed,
    "gen_ai.usage.input_tokens": u.inputTokens,
    "gen_ai.usage.output_tokens": u.outputTokens,
    "gen_ai.usage.cache_read.input_tokens": u.cachedInputTokens,
    "gen_ai.usage.cache_creation.input_tokens": u.cacheWriteTokens,
    "gen_ai.usage.reasoning.output_tokens": u.reasoningTokens,
    "signalbox.request.id": r.id,
    "signalbox.key": r.key,
    "signalbox.team": r.team,
    "signalbox.status": r.status,
    "signalbox.attempts": r.attempts.length,
    "signalbox.cost.nano_usd": r.cost.total,
    "signalbox.usage.estimated": r.usageEstimated,
    "signalbox.latency_ms": r.latencyMs,
    "signalbox.overhead_us": r.overheadUs,
    "signalbox.cache.hit": r.cacheHit,
  };
  if (r.provider) {
    const type = providerTypes?.get(r.provider);
    if (type) attrs["gen_ai.provider.name"] = GENAI_PROVIDER[type] ?? type;
    attrs["signalbox.provider"] = r.provider;
  }
  // The model of the attempt that answered (none for a cache hit or a failure).
  for (let i = r.attempts.length - 1; i >= 0; i--) {
    if (r.attempts[i].outcome === "succeeded") {
      attrs["gen_ai.response.model"] = r.attempts[i].model;
      break;
    }
  }
  if (r.finishReason) attrs["gen_ai.response.finish_reasons"] = [r.finishReason];
  if (!ok) attrs["error.type"] = r.failureKind ?? r.refusal ?? r.status;
  if (r.refusal) attrs["signalbox.refusal"] = r.refusal;
  if (r.deployment) attrs["signalbox.deployment"] = r.deployment;
  if (r.user) attrs["signalbox.user"] = r.user;
  if (r.routing.route) attrs["signalbox.route"] = r.routing.route;
  if (r.routing.alias) attrs["signalbox.alias"] = r.routing.alias;
  if (r.routing.variant) attrs["signalbox.variant"] = r.routing.variant;
  if (r.ttftMs !== undefined) attrs["signalbox.ttft_ms"] = r.ttftMs;
  if (r.tags.length) attrs["signalbox.tags"] = r.tags;
  // Flat string attributes (log attributes should not be maps): signalbox.metadata.<key>.
  for (const k in r.metadata) attrs[`signalbox.metadata.${k}`] = r.metadata[k];

  logger.emit({
    eventName: USAGE_EVENT_NAME,
    timestamp: r.time,
    severityNumber: ok ? SeverityNumber.INFO : SeverityNumber.WARN,
    severityText: ok ? "INFO" : "WARN",
    body: `${r.operation ?? "chat"} ${r.model} -> ${r.deployment || "-"}: ${r.status}, ${u.inputTokens} in / ${u.outputTokens} out tokens, ${r.latencyMs} ms`,
    attributes: attrs,
    // The RPC span when tracing carried its id, else the trace id alone (TraceLinkProcessor).
    context: trace.setSpanContext(ROOT_CONTEXT, { traceId: r.traceId, spanId: r.spanId ?? "", traceFlags: TraceFlags.NONE }),
  });
}
