// Traces: one per request. A SERVER span per RPC, a span for the routing decision and for the
// limit check, and one CLIENT span per upstream attempt named `{operation} {model}` (chat, embeddings) with the GenAI
// semantic-convention attributes, so every fallback hop, retry and hedge is its own span.
// Configured by the standard OTEL_* variables; with no exporter configured there is no tracer
// at all (no spans, no cost), and trace ids still come from traceparent or are made up. The SDK
// that records and exports spans is started from otel-sdk.ts; this file speaks only the API.

import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import type { Operation } from "../config/types.ts";
import type { GuardrailActionRecord } from "../guardrails/types.ts";
import type { ProviderError } from "../providers/types.ts";
import type { AttemptRecord, Candidate, Plan } from "../router/types.ts";

/** The OpenTelemetry GenAI `gen_ai.provider.name` for each provider type. */
export const GENAI_PROVIDER: Record<string, string> = {
  openai: "openai",
  azure: "azure.ai.openai",
  anthropic: "anthropic",
  gemini: "gcp.gemini",
  openrouter: "openrouter",
  "openai-compatible": "openai",
  cohere: "cohere",
  mock: "signalbox.mock",
};

export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
  /**
   * Chat requests' prompts and answers on their request spans (`gen_ai.input.messages`,
   * `gen_ai.output.messages`, `gen_ai.system_instructions`), as the GenAI conventions have it:
   * off unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks (spanContentRequested).
   */
  captureContent?: boolean;
}

/**
 * Whether OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks for message content on spans:
 * `true` (the instrumentations' first form), `span_only` or `span_and_event` (the newer one; the
 * gateway's content goes on spans either way). Anything else, or unset, is no.
 */
export function spanContentRequested(env: Record<string, string | undefined> = process.env): boolean {
  const v = (env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT ?? "").trim().toLowerCase();
  return v === "true" || v === "1" || v === "span_only" || v === "span_and_event";
}

/** Whether the environment asks for trace export (OTLP endpoint set, or OTEL_TRACES_EXPORTER=otlp). */
export function tracingRequested(env: Record<string, string | undefined> = process.env): boolean {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "").split(",").map((x) => x.trim().toLowerCase()).filter(Boolean);
  if (exporters.includes("none") || (env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  return exporters.includes("otlp") || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

const headerGetter = {
  keys: (h: Headers) => [...h.keys()],
  get: (h: Headers, k: string) => h.get(k) ?? undefined,
};

/** The caller's trace context (traceparent), or the root. */
export function extractContext(headers: Headers): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

export function startRpcSpan(tracer: Tracer, service: string, method: string, parent: Context): { span: Span; ctx: Context } {
  const span = tracer.startSpan(
    `${service}/${method}`,
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method } },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

const nodeHeaderGetter = {
  keys: (h: Record<string, string | string[] | undefined>) => Object.keys(h),
  get: (h: Record<string, string | string[] | undefined>, k: string) => h[k],
};

/**
 * A SERVER span for a plain-HTTP request (the OpenAI-compatible endpoint), continuing the
 * caller's traceparent from Node's header object.
 */
export function startHttpSpan(tracer: Tracer, method: string, route: string, headers: Record<string, string | string[] | undefined>): { span: Span; ctx: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, headers, nodeHeaderGetter);
  const span = tracer.startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": route, "url.path": route } }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** End a plain-HTTP span with its status code (5xx is an error, as the HTTP conventions say). */
export function endHttpSpan(span: Span, status: number, message?: string): void {
  span.setAttribute("http.response.status_code", status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message });
  else if (message) span.setAttribute("signalbox.error", message);
  span.end();
}

/** End an RPC span with its Connect code. */
export function endRpcSpan(span: Span, code: string | undefined, message?: string): void {
  if (code && code !== "ok") {
    span.setAttribute("rpc.connect_rpc.error_code", code);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}

/** A short span over a synchronous step (planning) or an awaited one (limit check). */
export async function inSpan<T>(tracer: Tracer | undefined, parent: Context | undefined, name: string, attrs: Record<string, string | number | boolean>, fn: (within?: Context) => T | Promise<T>, after?: (span: Span, value: T) => void): Promise<T> {
  if (!tracer || !parent) return fn();
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: attrs }, parent);
  try {
    // `within`: the span's own context, for spans of work done inside it (a routed web search's attempts).
    const v = await (fn.length ? fn(trace.setSpan(parent, span)) : fn());
    after?.(span, v);
    return v;
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
    throw err;
  } finally {
    span.end();
  }
}

/** Attributes describing a plan, for the routing span. */
export function planAttributes(span: Span, plan: Plan): void {
  span.setAttributes({
    "signalbox.route": plan.routing.route,
    "signalbox.strategy": plan.routing.strategy,
    "signalbox.variant": plan.routing.variant,
    "signalbox.candidates": plan.candidates.map((c) => c.deployment.id),
    "signalbox.candidate_reasons": plan.candidates.map((c) => c.reason),
    "signalbox.excluded": plan.excluded.map((e) => `${e.deployment}: ${e.reason}`),
    "signalbox.estimated_input_tokens": plan.estimatedInputTokens,
  });
}

/**
 * One span event named "guardrail" on the request's span (RPC or HTTP) per action a guardrail
 * took: its name, stage, action, category and count. Never the text it matched.
 */
export function guardrailEvents(parent: Context | undefined, actions: readonly GuardrailActionRecord[]): void {
  const span = parent ? trace.getSpan(parent) : undefined;
  if (!span) return;
  for (const a of actions) {
    span.addEvent("guardrail", {
      "signalbox.guardrail.name": a.name,
      "signalbox.guardrail.stage": a.stage,
      "signalbox.guardrail.action": a.action,
      "signalbox.guardrail.category": a.category,
      "signalbox.guardrail.count": a.count,
    });
  }
}

/** Observes upstream attempts: one CLIENT span each, children of the RPC span. */
export interface AttemptObserver {
  start(record: AttemptRecord, c: Candidate): AttemptTrace;
}
export interface AttemptTrace {
  firstToken(): void;
  end(record: AttemptRecord, err: ProviderError | undefined, providerModel: string | undefined, finish: string | undefined): void;
}

/**
 * `op`: the gateway operation of the attempts; its GenAI operation name (chat, embeddings, rerank,
 * and generate_content for images, the conventions' name for multimodal generation; transcription
 * and speech, which the conventions do not name yet) starts each span's name.
 */
export function attemptObserver(tracer: Tracer, parent: Context, op: Operation = "chat"): AttemptObserver {
  const operation = op === "images" ? "generate_content" : op;
  return {
    start(record, c) {
      const span = tracer.startSpan(
        `${operation} ${c.deployment.model}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": GENAI_PROVIDER[c.provider.type] ?? c.provider.type,
            "gen_ai.request.model": c.deployment.model,
            "signalbox.attempt": record.number,
            "signalbox.deployment": c.deployment.id,
            "signalbox.provider": c.provider.name,
            "signalbox.fallback.reason": record.reason,
            "signalbox.hedged": record.hedged,
          },
        },
        parent,
      );
      return {
        firstToken() {
          span.addEvent("gen_ai.first_token");
        },
        end(r, err, providerModel, finish) {
          span.setAttributes({
            "signalbox.outcome": r.outcome,
            "gen_ai.usage.input_tokens": r.usage.inputTokens,
            "gen_ai.usage.output_tokens": r.usage.outputTokens,
            "signalbox.cost_nano_usd": r.cost.total,
            "signalbox.hedged": r.hedged,
          });
          if (r.ttftMs !== undefined) span.setAttribute("signalbox.ttft_ms", r.ttftMs);
          if (providerModel) span.setAttribute("gen_ai.response.model", providerModel);
          if (finish) span.setAttribute("gen_ai.response.finish_reasons", [finish]);
          if (err) {
            span.setAttributes({ "error.type": err.kind, "signalbox.failure_kind": err.kind });
            if (err.status) span.setAttribute("http.response.status_code", err.status);
            if (err.retryAfterMs !== undefined) span.setAttribute("signalbox.retry_after_ms", err.retryAfterMs);
            span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
          }
          span.end();
        },
      };
    },
  };
}
