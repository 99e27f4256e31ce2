// Usage records as OpenTelemetry traces in the GenAI semantic conventions (`usage_export` type
// `otlp`), for the LLM observability tools that read them from any OTLP/HTTP endpoint (Datadog LLM
// Observability, LangSmith, Braintrust, Arize, MLflow, Opik, or a Collector that routes them): a
// trace a request, apart from the gateway's own tracing (its own endpoint, headers and `when`, and
// the content only this export may carry).
//
// - The request: a SERVER span `<operation> <model asked for>` with the attributes of the request's
//   OTLP log record (src/telemetry/usage-logs.ts: the GenAI operation, models, total usage, finish
//   reasons, `error.type` when it failed, and the gateway's `signalbox.*`: request id, key, team,
//   route, deployment, status, cost, tags, metadata), `user.id` and `session.id` (metadata `session_id`).
// - Each attempt: a CLIENT span `<operation> <deployment's model>` with `gen_ai.provider.name`,
//   `gen_ai.request.model`, `gen_ai.response.model`, token usage (`gen_ai.usage.input_tokens`,
//   `output_tokens`, cache reads and writes, reasoning), `gen_ai.response.finish_reasons`, `error.type`
//   for a failed one, its cost and time to first token.
// - With `capture_content: true`, the answering attempt also carries `gen_ai.input.messages`,
//   `gen_ai.output.messages` and `gen_ai.system_instructions` (JSON, the conventions' message shape:
//   a role and its parts, text, tool calls and tool results) and the request's settings
//   (`gen_ai.request.temperature`, `max_tokens`, `top_p`, …).

import type { Attributes } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import type { UsageExportConfig } from "../config/types.ts";
import type { AttemptRecord } from "../router/types.ts";
import type { RequestContent, UsageRecord } from "./record.ts";
import { CLIENT, encodeRecordSpans, newSpanId, SERVER, span, traceIdOf } from "./record-spans.ts";
import { recordAttributes } from "../telemetry/usage-logs.ts";

type OpenAiPart = { type: string; text?: string; image_url?: { url: string } };
type OpenAiMessage = { role: string; content: string | OpenAiPart[]; tool_calls?: { id: string; function: { name: string; arguments: string } }[]; tool_call_id?: string; refusal?: string; reasoning_content?: string };

const argumentsOf = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

/** An OpenAI-shaped message (src/usage/content.ts) in the conventions' shape: a role and its parts. */
function partsOf(m: OpenAiMessage): Record<string, unknown>[] {
  const parts: Record<string, unknown>[] = [];
  const content = typeof m.content === "string" ? (m.content ? [{ type: "text", text: m.content }] : []) : m.content;
  if (m.role === "tool") return [{ type: "tool_call_response", id: m.tool_call_id ?? "", response: content.map((p) => p.text ?? "").join("") }];
  // The conventions' reasoning part comes before the answer it led to.
  if (m.reasoning_content) parts.push({ type: "reasoning", content: m.reasoning_content });
  for (const p of content) {
    if (p.type === "image_url" && p.image_url) parts.push({ type: "uri", modality: "image", uri: p.image_url.url });
    else parts.push({ type: "text", content: p.text ?? "" });
  }
  if (m.refusal) parts.push({ type: "text", content: m.refusal });
  for (const c of m.tool_calls ?? []) parts.push({ type: "tool_call", id: c.id, name: c.function.name, arguments: argumentsOf(c.function.arguments) });
  return parts;
}

/** The conventions' settings attributes from the request's (OpenAI-named) settings. */
const SETTINGS: Record<string, string> = {
  temperature: "gen_ai.request.temperature",
  top_p: "gen_ai.request.top_p",
  top_k: "gen_ai.request.top_k",
  max_tokens: "gen_ai.request.max_tokens",
  seed: "gen_ai.request.seed",
  presence_penalty: "gen_ai.request.presence_penalty",
  frequency_penalty: "gen_ai.request.frequency_penalty",
};

/**
 * A chat request's content in the conventions' attributes: its settings, `gen_ai.system_instructions`,
 * `gen_ai.input.messages` and (when it was answered) `gen_ai.output.messages`, JSON in the
 * conventions' message shape. The gateway's own request spans carry them too, when
 * OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks.
 */
export function contentAttributes(content: RequestContent, finishReason: string | undefined, ok: boolean): Attributes {
  const attrs: Attributes = {};
  for (const [k, v] of Object.entries(content.parameters)) if (SETTINGS[k] && typeof v === "number") attrs[SETTINGS[k]] = v;
  if (typeof content.parameters.stop === "string") attrs["gen_ai.request.stop_sequences"] = content.parameters.stop.split(", ");
  const input = content.input as OpenAiMessage[];
  const system = input.filter((m) => m.role === "system" || m.role === "developer");
  if (system.length) attrs["gen_ai.system_instructions"] = JSON.stringify(system.flatMap(partsOf));
  attrs["gen_ai.input.messages"] = JSON.stringify(input.filter((m) => m.role !== "system" && m.role !== "developer").map((m) => ({ role: m.role, parts: partsOf(m) })));
  if (content.output !== undefined) attrs["gen_ai.output.messages"] = JSON.stringify([{ role: "assistant", parts: partsOf(content.output as OpenAiMessage), finish_reason: finishReason ?? (ok ? "stop" : "error") }]);
  return attrs;
}

/** The spans of one record: the request, then its attempts. */
export function genaiSpans(r: UsageRecord, content: RequestContent | undefined, cfg: UsageExportConfig): ReadableSpan[] {
  const traceId = traceIdOf(r);
  const rootId = newSpanId();
  const op = r.operation ?? "chat";
  const ok = r.status === "ok";
  // The request's totals and the gateway's attributes, as its OTLP log record has them.
  const root = recordAttributes(r, undefined);
  if (r.user) root["user.id"] = r.user;
  if (r.metadata.session_id) root["session.id"] = r.metadata.session_id;
  const errorType = ok ? undefined : String(root["error.type"]);
  const out = [span(traceId, rootId, undefined, `${op} ${r.model}`, SERVER, r.time - r.latencyMs, r.time, root, errorType)];

  const withContent = cfg.captureContent === true && content !== undefined;
  const answering = ok ? r.attempts.findLastIndex((a) => a.outcome === "succeeded") : r.attempts.length - 1;
  r.attempts.forEach((a: AttemptRecord, i) => {
    const attrs: Attributes = {
      "gen_ai.operation.name": op,
      "gen_ai.provider.name": a.provider,
      "gen_ai.request.model": r.model,
      "gen_ai.response.model": a.model,
      "gen_ai.usage.input_tokens": a.usage.inputTokens,
      "gen_ai.usage.output_tokens": a.usage.outputTokens,
      "signalbox.deployment": a.deployment,
      "signalbox.attempt": a.number,
      "signalbox.cost.nano_usd": a.cost.total,
    };
    if (a.usage.cachedInputTokens) attrs["gen_ai.usage.cache_read.input_tokens"] = a.usage.cachedInputTokens;
    if (a.usage.cacheWriteTokens) attrs["gen_ai.usage.cache_creation.input_tokens"] = a.usage.cacheWriteTokens;
    if (a.usage.reasoningTokens) attrs["gen_ai.usage.reasoning.output_tokens"] = a.usage.reasoningTokens;
    if (a.ttftMs !== undefined) attrs["signalbox.ttft_ms"] = a.ttftMs;
    if (a.failureKind) attrs["error.type"] = a.failureKind;
    if (i === answering && ok && r.finishReason) attrs["gen_ai.response.finish_reasons"] = [r.finishReason];
    if (withContent && i === answering) Object.assign(attrs, contentAttributes(content, r.finishReason, ok));
    const err = a.outcome === "failed" ? `${a.failureKind ?? "failed"}${a.errorMessage ? `: ${a.errorMessage}` : ""}` : undefined;
    out.push(span(traceId, newSpanId(), rootId, `${op} ${a.model}`, CLIENT, a.startTime, a.startTime + a.latencyMs, attrs, err));
  });
  return out;
}

/** An OTLP ExportTraceServiceRequest of these records' traces. */
export async function genaiRequest(records: readonly UsageRecord[], contentOf: (r: UsageRecord) => RequestContent | undefined, cfg: UsageExportConfig): Promise<Uint8Array> {
  const spans: ReadableSpan[] = [];
  for (const r of records) spans.push(...genaiSpans(r, contentOf(r), cfg));
  return encodeRecordSpans(spans);
}
