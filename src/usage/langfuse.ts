// Usage records as Langfuse traces (`usage_export` type `langfuse`), for teams that read their LLM
// traffic in Langfuse, as LiteLLM's `success_callback: ["langfuse"]` lets them.
//
// Langfuse ingests OpenTelemetry: `POST <host>/api/public/otel/v1/traces` (OTLP/HTTP protobuf, Basic
// auth with the project's keys); its older `/api/public/ingestion` is retired on Langfuse Cloud.
// Each record becomes one trace, with the gateway's own trace id (so a Langfuse trace and the same
// request's trace in Jaeger or Tempo share their id):
// - a root span, the request: the trace's name (`chat <route or model>`), user (the request's
//   `user`), session (metadata `session_id`), tags, metadata (request id, key, team, route,
//   deployment, status, the request's own metadata), environment; its level ERROR when the request
//   failed, WARNING when a limit or budget refused it;
// - under it a generation per attempt (an embedding for embeddings): its deployment's model, start
//   and end, time to first token (completion_start_time), token usage (cached and reasoning tokens
//   apart) and cost in USD, the failure of a failed attempt as its level and status message;
// - a cache hit has no attempt: one generation `cache hit`, costing nothing.
// With `capture_content: true` the trace and the answering generation also carry the messages as
// they were sent to the model and the answer (src/usage/content.ts), and the generation the
// request's sampling settings; without it no prompt or answer text leaves the gateway. Feedback given
// to a request becomes a score on its trace (src/usage/export.ts, sendScore).
//
// The attribute names are Langfuse's (`LangfuseOtelSpanAttributes` of @langfuse/core), set as its
// SDK's attribute builders set them (test/fakes/langfuse.sdk.test.ts checks the fake this is tested
// against on those builders). Spans are encoded by the gateway's OTLP encoder, loaded at the first send.

import { createHash } from "node:crypto";
import type { Attributes } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import type { UsageExportConfig } from "../config/types.ts";
import type { AttemptRecord } from "../router/types.ts";
import type { RequestContent, UsageRecord } from "./record.ts";
import { CLIENT, encodeRecordSpans, newSpanId, SERVER, span, traceIdOf, usd } from "./record-spans.ts";

/** Langfuse's usage types: input and output without the cached and reasoning tokens, which go apart. */
function usageDetails(u: UsageRecord["usage"]): string {
  const d: Record<string, number> = {
    input: Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens),
    output: Math.max(0, u.outputTokens - u.reasoningTokens),
  };
  if (u.cachedInputTokens) d.cache_read_input_tokens = u.cachedInputTokens;
  if (u.cacheWriteTokens) d.cache_creation_input_tokens = u.cacheWriteTokens;
  if (u.reasoningTokens) d.output_reasoning_tokens = u.reasoningTokens;
  d.total = u.inputTokens + u.outputTokens;
  return JSON.stringify(d);
}

function costDetails(c: UsageRecord["cost"]): string {
  return JSON.stringify({ input: usd(c.input + c.cachedInput + c.cacheWrite), output: usd(c.output + c.reasoning), total: usd(c.total) });
}

/** A failed attempt's status message: its failure kind, the upstream's status, its (already scrubbed) message. */
const attemptError = (a: AttemptRecord) => `${a.failureKind ?? "failed"}${a.httpStatus ? ` (HTTP ${a.httpStatus})` : ""}${a.errorMessage ? `: ${a.errorMessage}` : ""}`;

/**
 * The observation id of a request's answer (the answering attempt's generation, or its cache hit):
 * made from the request id, so that a score given later (user feedback) attaches to the generation
 * it judges, without the gateway keeping the id anywhere.
 */
export const answerObservationId = (requestId: string): string => createHash("sha256").update(`answer:${requestId}`).digest("hex").slice(0, 16);

/** The spans of one record: the request, then its attempts (or its cache hit). */
export function langfuseSpans(r: UsageRecord, content: RequestContent | undefined, cfg: UsageExportConfig): ReadableSpan[] {
  const traceId = traceIdOf(r);
  const rootId = newSpanId();
  const op = r.operation ?? "chat";
  const withContent = cfg.captureContent === true && content !== undefined;
  const ok = r.status === "ok";
  const failure = ok ? undefined : `${r.status}${r.refusal ? `: ${r.refusal}` : r.failureKind ? `: ${r.failureKind}` : ""}`;

  const root: Attributes = {
    "langfuse.trace.name": `${op} ${r.routing.route || r.model}`,
    "langfuse.observation.type": "span",
    "langfuse.observation.level": ok ? "DEFAULT" : r.refusal ? "WARNING" : "ERROR",
    "signalbox.request.id": r.id,
  };
  if (failure) root["langfuse.observation.status_message"] = failure;
  if (r.user) root["user.id"] = r.user;
  const session = r.metadata.session_id;
  if (session) root["session.id"] = session;
  if (r.tags.length) root["langfuse.trace.tags"] = r.tags;
  if (cfg.environment) root["langfuse.environment"] = cfg.environment;
  const meta: Record<string, string> = { ...r.metadata };
  Object.assign(meta, {
    request_id: r.id,
    key: r.key,
    team: r.team,
    operation: op,
    model: r.model,
    status: r.status,
    streamed: String(r.streamed),
    cache_hit: String(r.cacheHit),
    attempts: String(r.attempts.length),
    latency_ms: String(r.latencyMs),
    cost_usd: String(usd(r.cost.total)),
  });
  if (r.routing.route) meta.route = r.routing.route;
  if (r.routing.alias) meta.alias = r.routing.alias;
  if (r.routing.variant) meta.variant = r.routing.variant;
  if (r.deployment) meta.deployment = r.deployment;
  if (r.provider) meta.provider = r.provider;
  if (r.failureKind) meta.failure_kind = r.failureKind;
  if (r.refusal) meta.refusal = r.refusal;
  if (r.finishReason) meta.finish_reason = r.finishReason;
  for (const k in meta) if (meta[k] !== "") root[`langfuse.trace.metadata.${k}`] = meta[k];
  if (withContent) {
    root["langfuse.trace.input"] = JSON.stringify(content.input);
    if (content.output !== undefined) root["langfuse.trace.output"] = JSON.stringify(content.output);
  }
  const out = [span(traceId, rootId, undefined, `${op} ${r.model}`, SERVER, r.time - r.latencyMs, r.time, root, failure)];

  const type = op === "embeddings" ? "embedding" : "generation";
  // The attempt that answered carries the conversation.
  const answering = ok ? r.attempts.findLastIndex((a) => a.outcome === "succeeded") : -1;
  const generation = (a: Pick<AttemptRecord, "model" | "usage" | "cost" | "ttftMs">, startMs: number, attrs: Attributes, carries: boolean) => {
    attrs["langfuse.observation.type"] = type;
    attrs["langfuse.observation.model.name"] = a.model;
    attrs["gen_ai.operation.name"] = op;
    attrs["gen_ai.request.model"] = r.model;
    attrs["gen_ai.response.model"] = a.model;
    attrs["langfuse.observation.usage_details"] = usageDetails(a.usage);
    attrs["langfuse.observation.cost_details"] = costDetails(a.cost);
    if (a.ttftMs !== undefined) attrs["langfuse.observation.completion_start_time"] = JSON.stringify(new Date(startMs + a.ttftMs));
    if (cfg.environment) attrs["langfuse.environment"] = cfg.environment;
    if (withContent) {
      if (Object.keys(content.parameters).length) attrs["langfuse.observation.model.parameters"] = JSON.stringify(content.parameters);
      if (carries) {
        attrs["langfuse.observation.input"] = JSON.stringify(content.input);
        if (content.output !== undefined) attrs["langfuse.observation.output"] = JSON.stringify(content.output);
      }
    }
    return attrs;
  };
  r.attempts.forEach((a, i) => {
    const err = a.outcome === "failed" ? attemptError(a) : undefined;
    const attrs: Attributes = {
      "langfuse.observation.level": a.outcome === "failed" ? "ERROR" : a.outcome === "canceled" ? "WARNING" : "DEFAULT",
      "gen_ai.provider.name": a.provider,
      "langfuse.observation.metadata.deployment": a.deployment,
      "langfuse.observation.metadata.provider": a.provider,
      "langfuse.observation.metadata.attempt": String(a.number),
      "langfuse.observation.metadata.reason": a.reason,
      "langfuse.observation.metadata.outcome": a.outcome,
    };
    if (a.hedged) attrs["langfuse.observation.metadata.hedged"] = "true";
    if (err) attrs["langfuse.observation.status_message"] = err;
    else if (a.outcome === "canceled") attrs["langfuse.observation.status_message"] = "canceled";
    // The answering attempt of a failed request (an output guardrail's block, a cut-off stream) still says what it was given.
    const carries = i === answering || (!ok && i === r.attempts.length - 1);
    out.push(span(traceId, ok && i === answering ? answerObservationId(r.id) : newSpanId(), rootId, `${op} ${a.model}`, CLIENT, a.startTime, a.startTime + a.latencyMs, generation(a, a.startTime, attrs, carries), err));
  });
  if (r.attempts.length === 0 && r.cacheHit) {
    const attrs: Attributes = {
      "langfuse.observation.level": "DEFAULT",
      "langfuse.observation.metadata.deployment": r.deployment,
      "langfuse.observation.metadata.cache_kind": r.cacheKind ?? "exact",
    };
    const start = r.time - r.latencyMs;
    out.push(span(traceId, answerObservationId(r.id), rootId, "cache hit", CLIENT, start, r.time, generation({ model: r.deployment, usage: r.usage, cost: r.cost, ttftMs: r.ttftMs }, start, attrs, true), undefined));
  }
  return out;
}

/** An OTLP ExportTraceServiceRequest of these records' traces. */
export async function langfuseRequest(records: readonly UsageRecord[], contentOf: (r: UsageRecord) => RequestContent | undefined, cfg: UsageExportConfig): Promise<Uint8Array> {
  const spans: ReadableSpan[] = [];
  for (const r of records) spans.push(...langfuseSpans(r, contentOf(r), cfg));
  return encodeRecordSpans(spans);
}
