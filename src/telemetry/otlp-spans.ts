// The OTLP/protobuf encoding of finished spans for the trace exporter, in one pass: the same bytes as
// @opentelemetry/otlp-transformer's ProtobufTraceSerializer (test/telemetry/otlp-spans.test.ts compares
// them byte for byte on spans made by the SDK), at a fraction of its CPU.
//
// Why: with everything on, encoding spans for export was a tenth of the gateway's busy time (profile of
// the bench's everything-on `/v1` row). The library's serializer runs twice per batch (a size estimate,
// then the write), walks every attribute key character by character, and allocates a Uint8Array per
// trace and span id. Here a batch is written once into a reused buffer that grows when it must (a
// length is backpatched, as the library's writer does); attribute keys (the same few dozen on every span)
// are encoded once and copied; ids are written straight from their hex; strings are written by Node's
// native UTF-8 writer; the resource and scope headers are encoded once per resource and scope.
// Everything else of the exporter (HTTP, retries, timeouts, headers, the OTEL_* settings) is the library's:
// this is only the serializer handed to its export delegate.

import type { Attributes, AttributeValue, HrTime } from "@opentelemetry/api";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate, type OTLPExporterNodeConfigBase } from "@opentelemetry/otlp-exporter-base/node-http";
import { ProtobufTraceSerializer, TraceExporterMetricsHelper, type ISerializer, type IExportTraceServiceResponse } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";

type Resource = ReadableSpan["resource"];
type Scope = ReadableSpan["instrumentationScope"];

class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    const b = this.buf;
    if (value >= 0 && value <= 4294967295) {
      let v = value >>> 0;
      while (v > 127) {
        b[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      b[this.pos++] = v;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 4294967296) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 4294967296) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      b[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[this.pos++] = low & 127;
  }

  /** A field key: field number and wire type (every key here is under 16 fields: one byte, or two for 16). */
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** A length-delimited string, UTF-8. */
  str(s: string): void {
    const n = s.length;
    if (n < 43) {
      // At most 3 bytes a UTF-16 unit: under 128 bytes, so the length is one byte, written after.
      this.ensure(1 + n * 3);
      const b = this.buf;
      const at = this.pos;
      // ASCII (almost every attribute) by hand: a native call costs more than these few bytes.
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        b[at + 1 + i] = c;
      }
      const len = i === n ? n : b.write(s, at + 1);
      b[at] = len;
      this.pos = at + 1 + len;
      return;
    }
    const len = Buffer.byteLength(s, "utf8");
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len);
  }

  raw(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    if (n > 32) this.buf.set(b, this.pos);
    else for (let i = 0; i < n; i++) this.buf[this.pos + i] = b[i];
    this.pos += n;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.raw(b);
  }

  /** A hex id (trace or span id) as its bytes, length-delimited. */
  hexId(hex: string): void {
    const n = hex.length >>> 1;
    this.ensure(1 + n);
    this.buf[this.pos++] = n;
    // Buffer's hex decoder stops at the first character that is not hex; the library maps those
    // characters arithmetically. Ids from the SDK are always valid hex.
    const wrote = this.buf.write(hex, this.pos, n, "hex");
    if (wrote !== n) this.buf.fill(0, this.pos + wrote, this.pos + n);
    this.pos += n;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /** HrTime as nanoseconds, fixed64 (the library's arithmetic, no BigInt). */
  time(t: HrTime): void {
    const seconds = t[0];
    const nanos = t[1];
    const lo16 = (seconds & 65535) * 1e9;
    const hi = ((seconds / 65536) >>> 0) * 1e9;
    const lowFromLo16 = lo16 >>> 0;
    const highFromLo16 = Math.floor(lo16 / 4294967296);
    const lowFromHi = (((hi & 65535) * 65536) >>> 0);
    const highFromHi = (hi / 65536) >>> 0;
    const low = lowFromLo16 + lowFromHi + nanos;
    const carry = Math.floor(low / 4294967296);
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE((highFromLo16 + highFromHi + carry) >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Reserve one byte for a length; returns where the content starts. */
  start(): number {
    this.ensure(1);
    return ++this.pos;
  }

  /** Write the length of what followed `start`, moving it when the length needs more than one byte. */
  finish(at: number): void {
    const len = this.pos - at;
    if (len < 128) {
      this.buf[at - 1] = len;
      return;
    }
    const size = len < 16384 ? 2 : len < 2097152 ? 3 : len < 268435456 ? 4 : 5;
    this.ensure(size - 1);
    this.buf.copy(this.buf, at + size - 1, at, this.pos);
    this.pos += size - 1;
    let p = at - 1;
    let v = len;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

/** What `write` writes, as a Buffer of its own (for the encodings kept and reused). */
function bytesOf(write: (w: Writer) => void): Buffer {
  const w = new Writer(256);
  write(w);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

const MIN_64 = -(2 ** 63);
const MAX_64 = 2 ** 63;

/** KeyValue's key field (tag 1 and the string), encoded once per key. */
const keys = new Map<string, Buffer>();
const MAX_KEYS = 4096;

function keyBytes(key: string): Buffer {
  let b = keys.get(key);
  if (b === undefined) {
    b = bytesOf((w) => {
      w.tag(1, 2);
      w.str(key);
    });
    if (keys.size < MAX_KEYS) keys.set(key, b);
  }
  return b;
}

function attributes(w: Writer, attrs: Attributes, field: number): void {
  for (const key in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
    w.tag(field, 2);
    const kv = w.start();
    w.raw(keyBytes(key));
    w.tag(2, 2);
    const v = w.start();
    anyValue(w, attrs[key]);
    w.finish(v);
    w.finish(kv);
  }
}

function anyValue(w: Writer, value: AttributeValue | undefined | unknown): void {
  const t = typeof value;
  if (t === "string") {
    w.tag(1, 2);
    w.str(value as string);
  } else if (t === "boolean") {
    w.tag(2, 0);
    w.varint(value ? 1 : 0);
  } else if (t === "number") {
    const n = value as number;
    if (Number.isInteger(n) && n >= MIN_64 && n < MAX_64) {
      w.tag(3, 0);
      w.varint(n);
    } else {
      w.tag(4, 1);
      w.double(n);
    }
  } else if (value instanceof Uint8Array) {
    w.tag(7, 2);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, 2);
    const arr = w.start();
    for (const item of value) {
      w.tag(1, 2);
      const at = w.start();
      anyValue(w, item);
      w.finish(at);
    }
    w.finish(arr);
  } else if (t === "object" && value != null) {
    w.tag(6, 2);
    const list = w.start();
    const obj = value as Record<string, unknown>;
    for (const k in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
      w.tag(1, 2);
      const kv = w.start();
      w.tag(1, 2);
      w.str(k);
      w.tag(2, 2);
      const v = w.start();
      anyValue(w, obj[k]);
      w.finish(v);
      w.finish(kv);
    }
    w.finish(list);
  }
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote ? 512 : 0);
}

function span(w: Writer, s: ReadableSpan): void {
  const ctx = s.spanContext();
  w.tag(1, 2);
  w.hexId(ctx.traceId);
  w.tag(2, 2);
  w.hexId(ctx.spanId);
  const traceState = ctx.traceState?.serialize();
  if (traceState) {
    w.tag(3, 2);
    w.str(traceState);
  }
  const parent = s.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, 2);
    w.hexId(parent.spanId);
  }
  w.tag(5, 2);
  w.str(s.name);
  const kind = s.kind == null ? 0 : s.kind + 1;
  if (kind !== 0) {
    w.tag(6, 0);
    w.varint(kind);
  }
  w.tag(7, 1);
  w.time(s.startTime);
  w.tag(8, 1);
  w.time(s.endTime);
  if (s.attributes) attributes(w, s.attributes, 9);
  w.tag(10, 0);
  w.varint(s.droppedAttributesCount);
  for (const e of s.events) {
    w.tag(11, 2);
    const at = w.start();
    w.tag(1, 1);
    w.time(e.time);
    w.tag(2, 2);
    w.str(e.name);
    if (e.attributes) attributes(w, e.attributes, 3);
    w.tag(4, 0);
    w.varint(e.droppedAttributesCount || 0);
    w.finish(at);
  }
  w.tag(12, 0);
  w.varint(s.droppedEventsCount);
  for (const l of s.links) {
    w.tag(13, 2);
    const at = w.start();
    w.tag(1, 2);
    w.hexId(l.context.traceId);
    w.tag(2, 2);
    w.hexId(l.context.spanId);
    const ts = l.context.traceState?.serialize();
    if (ts) {
      w.tag(3, 2);
      w.str(ts);
    }
    if (l.attributes) attributes(w, l.attributes, 4);
    w.tag(5, 0);
    w.varint(l.droppedAttributesCount || 0);
    w.tag(6, 5);
    w.fixed32(spanFlags(l.context.traceFlags, l.context.isRemote));
    w.finish(at);
  }
  w.tag(14, 0);
  w.varint(s.droppedLinksCount);
  w.tag(15, 2);
  const st = w.start();
  if (s.status.message) {
    w.tag(2, 2);
    w.str(s.status.message);
  }
  w.tag(3, 0);
  w.varint(s.status.code);
  w.finish(st);
  w.tag(16, 5);
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
}

/** Resource (field 1 of ResourceSpans), encoded once per resource object. */
const resources = new WeakMap<Resource, Buffer>();
function resourceBytes(r: Resource): Buffer {
  let b = resources.get(r);
  if (b === undefined) {
    b = bytesOf((w) => {
      w.tag(1, 2);
      const at = w.start();
      if (r.attributes) attributes(w, r.attributes, 1);
      w.tag(2, 0);
      w.varint(0);
      w.finish(at);
    });
    // Attributes still being detected would change: not kept until they are settled.
    if (!r.asyncAttributesPending) resources.set(r, b);
  }
  return b;
}

/** InstrumentationScope (field 1 of ScopeSpans), encoded once per scope object. */
const scopes = new WeakMap<Scope, Buffer>();
function scopeBytes(s: Scope): Buffer {
  let b = scopes.get(s);
  if (b === undefined) {
    const scoped = s as Scope & { attributes?: Attributes; droppedAttributesCount?: number };
    b = bytesOf((w) => {
      w.tag(1, 2);
      const at = w.start();
      w.tag(1, 2);
      w.str(s.name);
      if (s.version) {
        w.tag(2, 2);
        w.str(s.version);
      }
      if (scoped.attributes) attributes(w, scoped.attributes, 3);
      if (scoped.droppedAttributesCount) {
        w.tag(4, 0);
        w.varint(scoped.droppedAttributesCount);
      }
      w.finish(at);
    });
    scopes.set(s, b);
  }
  return b;
}

const shared = new Writer();

/** An ExportTraceServiceRequest for these spans, grouped by resource and scope as the library groups them. */
export function encodeSpans(spans: ReadableSpan[]): Uint8Array {
  const byResource = new Map<Resource, Map<Scope, ReadableSpan[]>>();
  for (const s of spans) {
    let scopesOf = byResource.get(s.resource);
    if (!scopesOf) byResource.set(s.resource, (scopesOf = new Map()));
    let list = scopesOf.get(s.instrumentationScope);
    if (!list) scopesOf.set(s.instrumentationScope, (list = []));
    list.push(s);
  }
  const w = shared;
  w.pos = 0;
  for (const [resource, scopesOf] of byResource) {
    w.tag(1, 2);
    const rs = w.start();
    w.raw(resourceBytes(resource));
    for (const [scope, list] of scopesOf) {
      w.tag(2, 2);
      const ss = w.start();
      w.raw(scopeBytes(scope));
      for (const s of list) {
        w.tag(2, 2);
        const at = w.start();
        span(w, s);
        w.finish(at);
      }
      if (scope.schemaUrl) {
        w.tag(3, 2);
        w.str(scope.schemaUrl);
      }
      w.finish(ss);
    }
    if (resource.schemaUrl) {
      w.tag(3, 2);
      w.str(resource.schemaUrl);
    }
    w.finish(rs);
  }
  // A copy: the export is sent asynchronously while the next batch reuses the buffer.
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** The library's protobuf trace serializer with this encoder: responses are still read by the library. */
export const fastTraceSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest: encodeSpans,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * OTLP/HTTP protobuf span exporter: @opentelemetry/exporter-trace-otlp-proto's OTLPTraceExporter, built
 * the way that package builds it (same options, OTEL_EXPORTER_OTLP_* settings, transport and retries),
 * with the serializer above.
 */
export class FastOTLPTraceExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  constructor(config: OTLPExporterNodeConfigBase = {}) {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
        fastTraceSerializer,
        "otlp_http_span_exporter",
        TraceExporterMetricsHelper,
        config.selfObsMeterProvider,
      ),
    );
  }
}
