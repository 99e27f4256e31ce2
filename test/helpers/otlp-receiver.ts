// A loopback OTLP/HTTP trace receiver for tests: what Jaeger or a collector would get on
// :4318. Accepts POST /v1/traces with `application/x-protobuf`, decodes the body as an
// ExportTraceServiceRequest with the upstream opentelemetry-proto definitions (gen/opentelemetry,
// generated from proto/opentelemetry), answers an empty ExportTraceServiceResponse, and keeps the
// spans flattened with their resource, ids in hex and attributes as plain JS values. POST
// /v1/logs (ExportLogsServiceRequest) is kept the same way, as flattened log records.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
  type ExportTraceServiceRequest,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import type { AnyValue, KeyValue } from "../../gen/opentelemetry/proto/common/v1/common_pb.ts";
import { Span_SpanKindSchema, Status_StatusCodeSchema } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
  type ExportLogsServiceRequest,
} from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";

/** An attribute value as a plain JS value: int64 becomes a number when it is a safe integer. */
export type AttrValue = string | boolean | number | bigint | Uint8Array | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface ReceivedEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Attributes;
}

export interface ReceivedSpan {
  /** The resource attributes of the ResourceSpans the span came in. */
  resource: Attributes;
  scope: { name: string; version: string };
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  /** 16 hex digits, or "" for a root span. */
  parentSpanId: string;
  name: string;
  /** The wire enum value (Span.SpanKind). */
  kindValue: number;
  /** "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER" or "UNSPECIFIED". */
  kind: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  /** code: "UNSET", "OK" or "ERROR"; the wire value in codeValue. */
  status: { code: string; codeValue: number; message: string };
  events: ReceivedEvent[];
  flags: number;
}

export interface ReceivedLog {
  /** The resource attributes of the ResourceLogs the record came in. */
  resource: Attributes;
  scope: { name: string; version: string };
  eventName: string;
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
  body: AttrValue;
  attributes: Attributes;
  droppedAttributesCount: number;
  /** 32 hex digits, or "" when the record carries none. */
  traceId: string;
  /** 16 hex digits, or "" when the record carries none. */
  spanId: string;
  flags: number;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  /** The request's headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
  contentEncoding: string;
  bytes: number;
  /** The status the receiver answered. */
  status: number;
  /** Why the body could not be decoded, if it could not. */
  error?: string;
}

export interface OtlpReceiver {
  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it (the exporter appends /v1/traces). */
  url: string;
  port: number;
  /** Every HTTP request that reached the receiver, decodable or not. */
  readonly requests: readonly ReceivedRequest[];
  /** The decoded export requests, in arrival order. */
  readonly exports: readonly ExportTraceServiceRequest[];
  /** Every span received so far, flattened, in arrival order. */
  spans(): ReceivedSpan[];
  /** Resolves with all spans once `predicate(spans)` holds; rejects after timeoutMs naming what did arrive. */
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs: number): Promise<ReceivedSpan[]>;
  /** The decoded log export requests (POST /v1/logs), in arrival order. */
  readonly logExports: readonly ExportLogsServiceRequest[];
  /** Every log record received so far, flattened, in arrival order. */
  logs(): ReceivedLog[];
  /** Resolves with all log records once `predicate(logs)` holds; rejects after timeoutMs naming what did arrive. */
  waitForLogs(predicate: (logs: ReceivedLog[]) => boolean, timeoutMs: number): Promise<ReceivedLog[]>;
  close(): Promise<void>;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function enumName(schema: { value: Record<number, { name: string } | undefined> }, n: number, prefix: string): string {
  const name = schema.value[n]?.name;
  return name ? name.slice(prefix.length) : `UNKNOWN(${n})`;
}

export function anyValueToJs(v: AnyValue | undefined): AttrValue {
  const value = v?.value;
  switch (value?.case) {
    case "stringValue":
    case "boolValue":
    case "doubleValue":
    case "bytesValue":
      return value.value;
    case "intValue": {
      const n = value.value;
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case "arrayValue":
      return value.value.values.map(anyValueToJs);
    case "kvlistValue":
      return attributesToJs(value.value.values);
    default:
      return null;
  }
}

export function attributesToJs(kvs: readonly KeyValue[]): Attributes {
  const out: Attributes = {};
  for (const kv of kvs) out[kv.key] = anyValueToJs(kv.value);
  return out;
}

function flatten(req: ExportTraceServiceRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans) {
    const resource = attributesToJs(rs.resource?.attributes ?? []);
    for (const ss of rs.scopeSpans) {
      const scope = { name: ss.scope?.name ?? "", version: ss.scope?.version ?? "" };
      for (const s of ss.spans) {
        const codeValue = s.status?.code ?? 0;
        out.push({
          resource,
          scope,
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kindValue: s.kind,
          kind: enumName(Span_SpanKindSchema, s.kind, "SPAN_KIND_"),
          startTimeUnixNano: s.startTimeUnixNano,
          endTimeUnixNano: s.endTimeUnixNano,
          attributes: attributesToJs(s.attributes),
          status: { code: enumName(Status_StatusCodeSchema, codeValue, "STATUS_CODE_"), codeValue, message: s.status?.message ?? "" },
          events: s.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: attributesToJs(e.attributes) })),
          flags: s.flags,
        });
      }
    }
  }
  return out;
}

function flattenLogs(req: ExportLogsServiceRequest): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of req.resourceLogs) {
    const resource = attributesToJs(rl.resource?.attributes ?? []);
    for (const sl of rl.scopeLogs) {
      const scope = { name: sl.scope?.name ?? "", version: sl.scope?.version ?? "" };
      for (const l of sl.logRecords) {
        out.push({
          resource,
          scope,
          eventName: l.eventName,
          timeUnixNano: l.timeUnixNano,
          observedTimeUnixNano: l.observedTimeUnixNano,
          severityNumber: l.severityNumber,
          severityText: l.severityText,
          body: anyValueToJs(l.body),
          attributes: attributesToJs(l.attributes),
          droppedAttributesCount: l.droppedAttributesCount,
          traceId: hex(l.traceId),
          spanId: hex(l.spanId),
          flags: l.flags,
        });
      }
    }
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * Start a receiver. Listens on 127.0.0.1, port 0 unless `port` is given; `hosts` adds other
 * loopback addresses on the same port (e.g. ["127.0.0.1", "::1"] to catch an exporter that
 * resolves "localhost" to either).
 */
export async function startOtlpReceiver(opts: { port?: number; hosts?: string[] } = {}): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = [];
  const exports: ExportTraceServiceRequest[] = [];
  const spans: ReceivedSpan[] = [];
  const logExports: ExportLogsServiceRequest[] = [];
  const logs: ReceivedLog[] = [];
  const waiters = new Set<() => void>();

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    const contentType = String(req.headers["content-type"] ?? "");
    const contentEncoding = String(req.headers["content-encoding"] ?? "");
    // Recorded on arrival, before the body: "nothing was sent" means nothing arrived at all.
    const record: ReceivedRequest = { method: req.method ?? "", path, headers: { ...req.headers }, contentType, contentEncoding, bytes: 0, status: 0 };
    requests.push(record);
    const body = await readBody(req);
    record.bytes = body.length;
    const answer = (status: number, error?: string) => {
      record.status = status;
      if (error) record.error = error;
      res.writeHead(status, { "content-type": "text/plain" }).end(error ?? "");
      for (const w of waiters) w();
    };
    if (path !== "/v1/traces" && path !== "/v1/logs") return answer(404, `no such path: ${path}`);
    if (req.method !== "POST") return answer(405, `method not allowed: ${req.method}`);
    if (contentType.split(";")[0].trim().toLowerCase() !== "application/x-protobuf") return answer(415, `unsupported content-type: ${contentType}`);
    if (path === "/v1/logs") {
      let decodedLogs: ExportLogsServiceRequest;
      try {
        const raw = contentEncoding === "gzip" ? gunzipSync(body) : body;
        decodedLogs = fromBinary(ExportLogsServiceRequestSchema, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
      } catch (err) {
        return answer(400, `cannot decode ExportLogsServiceRequest: ${(err as Error).message}`);
      }
      logExports.push(decodedLogs);
      logs.push(...flattenLogs(decodedLogs));
      record.status = 200;
      const reply = toBinary(ExportLogsServiceResponseSchema, create(ExportLogsServiceResponseSchema));
      res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": String(reply.byteLength) }).end(reply);
      for (const w of waiters) w();
      return;
    }
    let decoded: ExportTraceServiceRequest;
    try {
      const raw = contentEncoding === "gzip" ? gunzipSync(body) : body;
      decoded = fromBinary(ExportTraceServiceRequestSchema, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    } catch (err) {
      return answer(400, `cannot decode ExportTraceServiceRequest: ${(err as Error).message}`);
    }
    exports.push(decoded);
    spans.push(...flatten(decoded));
    record.status = 200;
    const reply = toBinary(ExportTraceServiceResponseSchema, create(ExportTraceServiceResponseSchema));
    res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": String(reply.byteLength) }).end(reply);
    for (const w of waiters) w();
  };

  const servers: Server[] = [];
  const listen = (host: string, port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((req, res) => {
        handler(req, res).catch((err) => {
          if (!res.headersSent) res.writeHead(500).end(String(err));
        });
      });
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(server);
      });
    });

  const hosts = opts.hosts ?? ["127.0.0.1"];
  const first = await listen(hosts[0], opts.port ?? 0);
  servers.push(first);
  const port = (first.address() as AddressInfo).port;
  try {
    for (const h of hosts.slice(1)) servers.push(await listen(h, port));
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    exports,
    spans: () => [...spans],
    waitForSpans(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate([...spans])) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...spans]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = spans.map((s) => `${s.traceId.slice(0, 8)} ${s.kind} ${s.name}`);
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for spans; ${requests.length} request(s) (${requests.map((r) => `${r.method} ${r.path} ${r.status}${r.error ? ` ${r.error}` : ""}`).join(", ")}), ${spans.length} span(s): ${JSON.stringify(seen)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    logExports,
    logs: () => [...logs],
    waitForLogs(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate([...logs])) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...logs]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const seen = logs.map((l) => `${l.traceId.slice(0, 8)} ${l.eventName} ${String(l.attributes["signalbox.request.id"] ?? "")}`);
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for log records; ${requests.length} request(s) (${requests.map((r) => `${r.method} ${r.path} ${r.status}${r.error ? ` ${r.error}` : ""}`).join(", ")}), ${logs.length} record(s): ${JSON.stringify(seen)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}
