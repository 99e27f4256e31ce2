// A fake Langfuse over real HTTP, for the gateway's Langfuse export: what a Langfuse (Cloud or
// self-hosted v3/v4) answers on its OpenTelemetry ingestion endpoint, now that the legacy
// `/api/public/ingestion` batch API is deprecated. Only `POST /api/public/otel/v1/traces` exists
// (anything else 404). HTTP Basic auth with the project's public key as user and secret key as
// password; missing or wrong → 401 `{"message":"Invalid credentials. Confirm that you've configured
// the correct host."}`. The body an OTLP ExportTraceServiceRequest: `application/x-protobuf`
// (decoded with the upstream opentelemetry-proto definitions in gen/opentelemetry, as
// test/helpers/otlp-receiver.ts does) or OTLP/JSON `application/json` (trace and span ids as hex,
// per the OTLP/JSON spec, not proto3 JSON's base64; base64 is accepted too); `content-encoding:
// gzip` optional. 200 with an empty ExportTraceServiceResponse (protobuf bytes, or `{}` for JSON);
// a body that cannot be decoded → 400. Each span becomes a Langfuse observation, and its trace-level
// attributes are merged into the trace, the way Langfuse's OTel ingestion reads the attributes the
// JS SDK's builders write (@langfuse/tracing: createObservationAttributes, createTraceAttributes,
// propagateAttributes): `langfuse.trace.*`, `user.id`, `session.id`, `langfuse.observation.*`,
// `langfuse.environment` / `.release` / `.version`, with the GenAI semantic conventions
// (`gen_ai.*`, `input.value` / `output.value`) as fallbacks. JSON-string attribute values are
// parsed back into values (kept as strings when they are not JSON). `failNext(n, status)` makes the
// next n authenticated exports answer `status` (default 503) with a JSON error, keeping nothing.
// POST /api/public/scores keeps scores (a user's feedback on a trace), as Langfuse's scores API does.
// Unlike Langfuse, resource and scope attributes are not copied into observation metadata, so a
// test can compare metadata with what it gave the SDK.
// test/fakes/langfuse.sdk.test.ts checks the fake against @langfuse/tracing's attribute builders
// exported by @opentelemetry/exporter-trace-otlp-proto, and against @langfuse/core's API client
// (OTLP/JSON).

import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { create, fromBinary, fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
  type ExportTraceServiceRequest,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { Status_StatusCode } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { attributesToJs, hex, type AttrValue, type Attributes } from "../helpers/otlp-receiver.ts";
import { failureBudget } from "./object-stores.ts";

export interface LangfuseTrace {
  /** 32 hex digits: the OTel trace id. */
  id: string;
  /** `langfuse.trace.name`, else the root span's name. */
  name?: string;
  userId?: string;
  sessionId?: string;
  /** Union over every span, first-seen order. */
  tags: string[];
  metadata: Record<string, unknown>;
  input?: unknown;
  output?: unknown;
  /** "default" unless a span says otherwise. */
  environment: string;
  release?: string;
  version?: string;
  public?: boolean;
}

export interface LangfuseObservation {
  /** 16 hex digits: the OTel span id. */
  id: string;
  traceId: string;
  parentObservationId?: string;
  /** `langfuse.observation.type`, else "generation" when a model is named, else "span". */
  type: string;
  name: string;
  /** ISO 8601, from the span's unix nanos (millisecond precision). */
  startTime: string;
  endTime: string;
  completionStartTime?: string;
  model?: string;
  modelParameters?: Record<string, unknown>;
  usageDetails?: Record<string, number>;
  costDetails?: Record<string, number>;
  input?: unknown;
  output?: unknown;
  /** `langfuse.observation.level`, else "ERROR" for an ERROR span status, else "DEFAULT". */
  level: string;
  statusMessage?: string;
  metadata: Record<string, unknown>;
  environment: string;
  /** `langfuse.observation.prompt.name` / `.version`, when the observation links a prompt. */
  promptName?: string;
  promptVersion?: number;
}

export interface LangfuseRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The status the fake answered. */
  status: number;
  /** Body bytes as received (before gunzip). */
  bytes: number;
}

/** A score as POST /api/public/scores keeps it (one per id: posting an id again replaces it). */
export interface LangfuseScore {
  id: string;
  traceId?: string;
  observationId?: string;
  sessionId?: string;
  name: string;
  value: number | string;
  dataType: string;
  comment?: string;
  metadata?: Record<string, unknown>;
  environment: string;
}

export interface FakeLangfuse {
  /** http://127.0.0.1:<port>: the SDK's baseUrl. */
  url: string;
  /** Scores posted to /api/public/scores, by id, first-posted order. */
  scores(): LangfuseScore[];
  /** Every request, in arrival order, once answered. */
  requests: LangfuseRequest[];
  /** One per trace id, first-seen order; later spans fill or override fields, tags unioned, metadata merged. */
  traces(): LangfuseTrace[];
  /** One per span received, arrival order. */
  observations(): LangfuseObservation[];
  /** Resolves once `pred(fake)` holds; rejects after timeoutMs saying what did arrive. */
  waitFor(pred: (f: FakeLangfuse) => boolean, timeoutMs: number): Promise<void>;
  /** The next `count` authenticated exports answer `status` (default 503) with a JSON error, keeping nothing. */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

/** The OTLP ingestion path under the base URL. */
export const LANGFUSE_OTEL_PATH = "/api/public/otel/v1/traces";
/** The scores API under the base URL. */
export const LANGFUSE_SCORES_PATH = "/api/public/scores";

const INVALID_CREDENTIALS = "Invalid credentials. Confirm that you've configured the correct host.";

/** One span's trace-level fields, before merging into its trace. */
interface TracePart {
  id: string;
  explicitName?: string;
  rootName?: string;
  userId?: string;
  sessionId?: string;
  tags: string[];
  metadata: Record<string, unknown>;
  input?: unknown;
  output?: unknown;
  environment?: string;
  release?: string;
  version?: string;
  public?: boolean;
}

/** A JSON-string attribute parsed back into its value; a string that is not JSON stays as it is. */
function parseJsonish(v: AttrValue | undefined): unknown {
  if (typeof v !== "string") return v ?? undefined;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

const str = (v: AttrValue | undefined): string | undefined => (v === undefined || v === null ? undefined : typeof v === "string" ? v : String(v));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** `<prefix>` as one JSON object, then `<prefix>.<key>` one per key (each value JSON-parsed). */
function metadataOf(attrs: Attributes, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (prefix in attrs) {
    const whole = parseJsonish(attrs[prefix]);
    if (isRecord(whole)) Object.assign(out, whole);
    else if (whole !== undefined) out.metadata = whole;
  }
  for (const [k, v] of Object.entries(attrs)) if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = parseJsonish(v);
  return out;
}

/** A JSON object of numbers (usage, cost); non-numeric entries dropped. */
function numbersOf(v: AttrValue | undefined): Record<string, number> | undefined {
  const parsed = parseJsonish(v);
  if (!isRecord(parsed)) return undefined;
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(parsed)) {
    const num = typeof n === "number" ? n : typeof n === "string" && n.trim() !== "" ? Number(n) : NaN;
    if (Number.isFinite(num)) out[k] = num;
  }
  return out;
}

const toNumber = (v: AttrValue | undefined): number | undefined => {
  const n = typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** An ISO time: a JSON-serialised date ("\"2026-…Z\""), a bare ISO string, or epoch millis. */
function timeOf(v: AttrValue | undefined): string | undefined {
  const parsed = parseJsonish(v);
  const d = typeof parsed === "string" || typeof parsed === "number" ? new Date(parsed) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

const isoOfNanos = (n: bigint) => new Date(Number(n / 1_000_000n)).toISOString();

/** `langfuse.trace.tags`: a string array, a JSON array string, or a comma-separated string. */
function tagsOf(v: AttrValue | undefined): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  const parsed = parseJsonish(v);
  if (Array.isArray(parsed)) return parsed.map(String);
  return String(v)
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

/** The model parameters the GenAI conventions carry as `gen_ai.request.*` (the model itself aside). */
function genAiParameters(attrs: Attributes): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) if (k.startsWith("gen_ai.request.") && k !== "gen_ai.request.model") out[k.slice("gen_ai.request.".length)] = v;
  return Object.keys(out).length ? out : undefined;
}

/** Usage from `gen_ai.usage.*` (input/output tokens, or the older prompt/completion names); total the sum. */
function genAiUsage(attrs: Attributes): Record<string, number> | undefined {
  const input = toNumber(attrs["gen_ai.usage.input_tokens"] ?? attrs["gen_ai.usage.prompt_tokens"]);
  const output = toNumber(attrs["gen_ai.usage.output_tokens"] ?? attrs["gen_ai.usage.completion_tokens"]);
  if (input === undefined && output === undefined) return undefined;
  const out: Record<string, number> = {};
  if (input !== undefined) out.input = input;
  if (output !== undefined) out.output = output;
  out.total = (input ?? 0) + (output ?? 0);
  return out;
}

/** Map one export request into observations and per-span trace parts, in span order. */
function mapRequest(req: ExportTraceServiceRequest): { observations: LangfuseObservation[]; parts: TracePart[] } {
  const observations: LangfuseObservation[] = [];
  const parts: TracePart[] = [];
  for (const rs of req.resourceSpans) {
    const resource = attributesToJs(rs.resource?.attributes ?? []);
    const resourceEnv = str(resource["langfuse.environment"] ?? resource["deployment.environment.name"] ?? resource["deployment.environment"]);
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        const a = attributesToJs(s.attributes);
        const traceId = hex(s.traceId);
        const parent = hex(s.parentSpanId);
        const statusError = s.status?.code === Status_StatusCode.ERROR;
        const model = str(a["langfuse.observation.model.name"] ?? a["gen_ai.response.model"] ?? a["gen_ai.request.model"]);
        const level = str(a["langfuse.observation.level"]) ?? (statusError ? "ERROR" : "DEFAULT");
        const explicitEnv = str(a["langfuse.environment"]) ?? resourceEnv;
        const environment = explicitEnv ?? "default";
        const modelParameters = a["langfuse.observation.model.parameters"] !== undefined ? parseJsonish(a["langfuse.observation.model.parameters"]) : genAiParameters(a);
        const usage = a["langfuse.observation.usage_details"] !== undefined ? numbersOf(a["langfuse.observation.usage_details"]) : genAiUsage(a);
        const genAiCost = toNumber(a["gen_ai.usage.cost"]);
        const cost = a["langfuse.observation.cost_details"] !== undefined ? numbersOf(a["langfuse.observation.cost_details"]) : genAiCost !== undefined ? { total: genAiCost } : undefined;
        const input = parseJsonish(a["langfuse.observation.input"] ?? a["gen_ai.prompt"] ?? a["input.value"]);
        const output = parseJsonish(a["langfuse.observation.output"] ?? a["gen_ai.completion"] ?? a["output.value"]);
        const statusMessage = str(a["langfuse.observation.status_message"]) ?? (level === "ERROR" && s.status?.message ? s.status.message : undefined);
        const completionStartTime = timeOf(a["langfuse.observation.completion_start_time"]);
        const promptName = str(a["langfuse.observation.prompt.name"]);
        const promptVersion = toNumber(a["langfuse.observation.prompt.version"]);

        const o: LangfuseObservation = {
          id: hex(s.spanId),
          traceId,
          type: str(a["langfuse.observation.type"]) ?? (model !== undefined ? "generation" : "span"),
          name: s.name,
          startTime: isoOfNanos(s.startTimeUnixNano),
          endTime: isoOfNanos(s.endTimeUnixNano),
          level,
          metadata: metadataOf(a, "langfuse.observation.metadata"),
          environment,
        };
        if (parent !== "") o.parentObservationId = parent;
        if (completionStartTime !== undefined) o.completionStartTime = completionStartTime;
        if (model !== undefined) o.model = model;
        if (isRecord(modelParameters)) o.modelParameters = modelParameters;
        if (usage !== undefined) o.usageDetails = usage;
        if (cost !== undefined) o.costDetails = cost;
        if (input !== undefined) o.input = input;
        if (output !== undefined) o.output = output;
        if (statusMessage !== undefined) o.statusMessage = statusMessage;
        if (promptName !== undefined) o.promptName = promptName;
        if (promptVersion !== undefined) o.promptVersion = promptVersion;
        observations.push(o);

        const pub = a["langfuse.trace.public"];
        parts.push({
          id: traceId,
          explicitName: str(a["langfuse.trace.name"]),
          rootName: parent === "" ? s.name : undefined,
          userId: str(a["user.id"] ?? a["langfuse.user.id"]),
          sessionId: str(a["session.id"] ?? a["langfuse.session.id"]),
          tags: tagsOf(a["langfuse.trace.tags"]),
          metadata: metadataOf(a, "langfuse.trace.metadata"),
          input: parseJsonish(a["langfuse.trace.input"]),
          output: parseJsonish(a["langfuse.trace.output"]),
          environment: explicitEnv,
          release: str(a["langfuse.release"]),
          version: str(a["langfuse.version"]),
          public: pub === undefined || pub === null ? undefined : pub === true || pub === "true",
        });
      }
    }
  }
  return { observations, parts };
}

/** Merge span parts into traces: explicit values override, tags unioned, metadata merged. */
function mergeTraces(parts: readonly TracePart[]): LangfuseTrace[] {
  const byId = new Map<string, TracePart>();
  for (const p of parts) {
    const t = byId.get(p.id);
    if (!t) {
      byId.set(p.id, { ...p, tags: [...new Set(p.tags)], metadata: { ...p.metadata } });
      continue;
    }
    for (const k of ["explicitName", "rootName", "userId", "sessionId", "input", "output", "environment", "release", "version", "public"] as const) {
      if (p[k] !== undefined) (t as unknown as Record<string, unknown>)[k] = p[k];
    }
    for (const tag of p.tags) if (!t.tags.includes(tag)) t.tags.push(tag);
    Object.assign(t.metadata, p.metadata);
  }
  return [...byId.values()].map((t) => {
    const out: LangfuseTrace = { id: t.id, tags: t.tags, metadata: t.metadata, environment: t.environment ?? "default" };
    const name = t.explicitName ?? t.rootName;
    if (name !== undefined) out.name = name;
    for (const k of ["userId", "sessionId", "input", "output", "release", "version", "public"] as const) {
      if (t[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = t[k];
    }
    return out;
  });
}

/** OTLP/JSON carries trace and span ids as hex; proto3 JSON (what fromJson reads) as base64. */
function hexIdsToBase64(body: unknown): unknown {
  const fix = (o: Record<string, unknown>, key: string, hexLen: number) => {
    const v = o[key];
    if (typeof v === "string" && v.length === hexLen && /^[0-9a-fA-F]*$/.test(v)) o[key] = Buffer.from(v, "hex").toString("base64");
  };
  const arr = (v: unknown) => (Array.isArray(v) ? (v as unknown[]).filter(isRecord) : []);
  if (!isRecord(body)) return body;
  for (const rs of arr(body.resourceSpans ?? body.resource_spans)) {
    for (const ss of arr(rs.scopeSpans ?? rs.scope_spans)) {
      for (const s of arr(ss.spans)) {
        for (const [k, len] of [["traceId", 32], ["trace_id", 32], ["spanId", 16], ["span_id", 16], ["parentSpanId", 16], ["parent_span_id", 16]] as const) fix(s, k, len);
        for (const l of arr(s.links)) for (const [k, len] of [["traceId", 32], ["trace_id", 32], ["spanId", 16], ["span_id", 16]] as const) fix(l, k, len);
      }
    }
  }
  return body;
}

/** Langfuse's OTLP endpoint on a free loopback port (or `port`). */
export async function startFakeLangfuse(opts: { publicKey: string; secretKey: string; port?: number }): Promise<FakeLangfuse> {
  const requests: LangfuseRequest[] = [];
  const observations: LangfuseObservation[] = [];
  const parts: TracePart[] = [];
  const scores = new Map<string, LangfuseScore>();
  const fail = failureBudget();
  const expected = `${opts.publicKey}:${opts.secretKey}`;

  const answer = (req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse, status: number, contentType: string, body: string | Uint8Array) => {
    requests.push({ path: req.url ?? "", headers: { ...req.headers }, status, bytes: raw.length });
    res.writeHead(status, { "content-type": contentType, "content-length": String(body.length) });
    res.end(body);
  };
  const json = (req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse, status: number, body: unknown) => answer(req, raw, res, status, "application/json", JSON.stringify(body));

  function authorized(req: http.IncomingMessage): boolean {
    const m = /^Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    return m !== null && Buffer.from(m[1], "base64").toString("utf8") === expected;
  }

  function handle(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse) {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if ((path !== LANGFUSE_OTEL_PATH && path !== LANGFUSE_SCORES_PATH) || req.method !== "POST") return json(req, raw, res, 404, { message: "Not Found" });
    if (!authorized(req)) return json(req, raw, res, 401, { message: INVALID_CREDENTIALS });
    const failure = fail.take();
    if (failure !== undefined) return json(req, raw, res, failure, { message: http.STATUS_CODES[failure] ?? "Error", error: "failure injected by the fake" });
    if (path === LANGFUSE_SCORES_PATH) return score(req, raw, res);

    const type = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/x-protobuf" && type !== "application/json") return json(req, raw, res, 400, { message: `Unsupported content type: ${type || "(none)"}` });
    const encoding = String(req.headers["content-encoding"] ?? "").trim().toLowerCase();
    let body: Buffer;
    try {
      if (encoding === "gzip" || encoding === "x-gzip") body = zlib.gunzipSync(raw);
      else if (encoding === "" || encoding === "identity") body = raw;
      else return json(req, raw, res, 400, { message: `Unsupported content encoding: ${encoding}` });
    } catch (err) {
      return json(req, raw, res, 400, { message: "Failed to decompress the request body", error: String(err) });
    }
    let decoded: ExportTraceServiceRequest;
    try {
      decoded =
        type === "application/x-protobuf"
          ? fromBinary(ExportTraceServiceRequestSchema, body)
          : fromJson(ExportTraceServiceRequestSchema, hexIdsToBase64(JSON.parse(body.toString("utf8"))) as JsonValue, { ignoreUnknownFields: true });
    } catch (err) {
      return json(req, raw, res, 400, { message: "Failed to parse OTel traces request", error: String(err) });
    }
    const mapped = mapRequest(decoded);
    observations.push(...mapped.observations);
    parts.push(...mapped.parts);
    if (type === "application/json") return answer(req, raw, res, 200, "application/json", "{}");
    return answer(req, raw, res, 200, "application/x-protobuf", toBinary(ExportTraceServiceResponseSchema, create(ExportTraceServiceResponseSchema)));
  }

  /**
   * POST /api/public/scores: a JSON CreateScoreRequest. `name` and `value` required; a numeric or
   * boolean score's value a number, a categorical one's a string; a trace, observation, session or
   * dataset run to attach it to; the id the caller's (an upsert) or a new one. 200 {id}; 400 naming
   * what is wrong.
   */
  function score(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse) {
    let b: Record<string, unknown>;
    try {
      b = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
    } catch {
      return json(req, raw, res, 400, { message: "Invalid request data: body is not JSON" });
    }
    const dataType = typeof b.dataType === "string" ? b.dataType : typeof b.value === "string" ? "CATEGORICAL" : "NUMERIC";
    if (typeof b.name !== "string" || !b.name) return json(req, raw, res, 400, { message: "Invalid request data: name is required" });
    if ((dataType === "NUMERIC" || dataType === "BOOLEAN") !== (typeof b.value === "number")) return json(req, raw, res, 400, { message: `Invalid request data: value must be ${dataType === "CATEGORICAL" ? "a string" : "a number"} for ${dataType} scores` });
    if (!b.traceId && !b.sessionId && !b.datasetRunId) return json(req, raw, res, 400, { message: "Invalid request data: traceId, sessionId or datasetRunId is required" });
    const id = typeof b.id === "string" && b.id ? b.id : `score-${scores.size + 1}`;
    const kept: LangfuseScore = {
      id,
      name: b.name,
      value: b.value as number | string,
      dataType,
      environment: typeof b.environment === "string" ? b.environment : "default",
      ...(typeof b.traceId === "string" ? { traceId: b.traceId } : {}),
      ...(typeof b.observationId === "string" ? { observationId: b.observationId } : {}),
      ...(typeof b.sessionId === "string" ? { sessionId: b.sessionId } : {}),
      ...(typeof b.comment === "string" ? { comment: b.comment } : {}),
      ...(b.metadata && typeof b.metadata === "object" ? { metadata: b.metadata as Record<string, unknown> } : {}),
    };
    scores.set(id, kept);
    return json(req, raw, res, 200, { id });
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      try {
        handle(req, raw, res);
      } catch (err) {
        if (res.headersSent) return void res.destroy();
        json(req, raw, res, 500, { message: String(err) });
      }
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;

  const fake: FakeLangfuse = {
    url: `http://127.0.0.1:${port}`,
    requests,
    scores: () => [...scores.values()].map((x) => ({ ...x })),
    traces: () => mergeTraces(parts),
    observations: () => observations.map((o) => ({ ...o })),
    async waitFor(pred, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(fake)) {
        if (Date.now() > deadline) {
          const statuses = requests.map((r) => r.status).join(", ") || "none";
          const obs = observations.map((o) => `${o.type} ${o.name}`).join(", ") || "none";
          throw new Error(`fake Langfuse: condition not met after ${timeoutMs} ms; ${requests.length} request(s) (statuses: ${statuses}), ${mergeTraces(parts).length} trace(s), observations: ${obs}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    failNext: fail.failNext,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
  return fake;
}
