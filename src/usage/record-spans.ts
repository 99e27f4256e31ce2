// Usage records as finished OpenTelemetry spans, for the exports that send them as traces (Langfuse,
// src/usage/langfuse.ts; any OTLP endpoint with the GenAI conventions, src/usage/genai-spans.ts):
// the span objects the gateway's OTLP encoder reads (src/telemetry/otlp-spans.ts, loaded at the
// first send), made after the fact from a record's times.

import { randomBytes } from "node:crypto";
import type { Attributes, HrTime } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import type { UsageRecord } from "./record.ts";

/** OpenTelemetry's SpanKind and SpanStatusCode values (the API's enums, without loading it). */
export const SERVER = 1;
export const CLIENT = 2;
const STATUS_ERROR = 2;

const RESOURCE = { attributes: { "service.name": "signalbox", "telemetry.sdk.name": "signalbox", "telemetry.sdk.language": "nodejs" }, asyncAttributesPending: false } as unknown as ReadableSpan["resource"];
const SCOPE = { name: "signalbox.usage_export" } as ReadableSpan["instrumentationScope"];

const hr = (ms: number): HrTime => {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
};
export const usd = (nanos: number) => nanos / 1e9;
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;

/** The record's trace id (the request's own, so both traces share it), or a new one when it has none. */
export const traceIdOf = (r: UsageRecord): string => (TRACE_ID.test(r.traceId) ? r.traceId : randomBytes(16).toString("hex"));
export const newSpanId = (): string => randomBytes(8).toString("hex");

/** A finished span as the encoder reads it. */
export function span(traceId: string, spanId: string, parentId: string | undefined, name: string, kind: number, startMs: number, endMs: number, attributes: Attributes, error: string | undefined): ReadableSpan {
  const ctx = { traceId, spanId, traceFlags: 1 };
  return {
    name,
    kind,
    spanContext: () => ctx,
    parentSpanContext: parentId ? { traceId, spanId: parentId, traceFlags: 1 } : undefined,
    startTime: hr(startMs),
    endTime: hr(Math.max(startMs, endMs)),
    attributes,
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: error === undefined ? { code: 0 } : { code: STATUS_ERROR, message: error },
    resource: RESOURCE,
    instrumentationScope: SCOPE,
    duration: hr(Math.max(0, endMs - startMs)),
    ended: true,
  } as unknown as ReadableSpan;
}

type Encode = (spans: ReadableSpan[]) => Uint8Array;
let encoder: Promise<Encode> | undefined;

/** An OTLP ExportTraceServiceRequest (protobuf) of these spans. */
export async function encodeRecordSpans(spans: ReadableSpan[]): Promise<Uint8Array> {
  encoder ??= import("../telemetry/otlp-spans.ts").then((m) => m.encodeSpans);
  return (await encoder)(spans);
}
