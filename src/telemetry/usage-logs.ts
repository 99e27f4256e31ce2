// Usage as OpenTelemetry logs: with OTEL_LOGS_EXPORTER=otlp, every usage record is also exported
// as one OTLP log record (event `signalbox.request`), tied to the request's trace; never any text.

import { ROOT_CONTEXT, SeverityNumber, TraceFlags, trace, type Attributes, type Logger } from "@opentelemetry/api";
import type { UsageRecord, UsageSink } from "../usage/record.ts";
import { GENAI_PROVIDER } from "./tracing.ts";

/** The event name of every usage log record. */
export const USAGE_EVENT_NAME = "signalbox.request";

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

export function emitRecord(logger: Logger, r: UsageRecord, providerTypes: ReadonlyMap<string, string> | undefined): void {
  const ok = r.status === "ok";
  const u = r.usage;
  logger.emit({
    eventName: USAGE_EVENT_NAME,
    timestamp: r.time,
    severityNumber: ok ? SeverityNumber.INFO : SeverityNumber.WARN,
    severityText: ok ? "INFO" : "WARN",
    body: `${r.operation ?? "chat"} ${r.model} -> ${r.deployment || "-"}: ${r.status}, ${u.inputTokens} in / ${u.outputTokens} out tokens, ${r.latencyMs} ms`,
    attributes: recordAttributes(r, providerTypes),
    // The RPC span when tracing carried its id, else the trace id alone (TraceLinkProcessor).
    context: trace.setSpanContext(ROOT_CONTEXT, { traceId: r.traceId, spanId: r.spanId ?? "", traceFlags: TraceFlags.NONE }),
  });
}

/**
 * A record's attributes in the GenAI conventions and the gateway's own (`signalbox.*`): its log
 * record's, and the request span's of the `otlp` usage export (src/usage/genai-spans.ts).
 */
export function recordAttributes(r: UsageRecord, providerTypes: ReadonlyMap<string, string> | undefined): Attributes {
  const ok = r.status === "ok";
  const u = r.usage;
  const attrs: Attributes = {
    // An MCP tool call is GenAI's execute_tool, its tool the record's model.
    "gen_ai.operation.name": r.operation === "tool_call" ? "execute_tool" : (r.operation ?? "chat"),
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
  if (r.cacheKind) attrs["signalbox.cache.kind"] = r.cacheKind;
  if (r.operation === "tool_call") {
    attrs["gen_ai.tool.name"] = r.model;
    attrs["mcp.server"] = r.deployment;
  }
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
  return attrs;
}
