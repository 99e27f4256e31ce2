// Usage records archived to object storage or sent to a log platform (`usage_export`): LiteLLM's
// S3, GCS, Azure Blob and Datadog logging, for data teams that query every request in Athena,
// BigQuery, Snowflake or Spark, and for the platforms operators already watch (Datadog, Splunk,
// any HTTP endpoint).
//
// Every record the gateway keeps (requests, failures, refusals, cache hits, mirrors, tool calls) is
// also queued for each export; every `flush_seconds`, or as soon as `max_records` wait, they are
// sent. To a bucket: one gzipped NDJSON object per hour of the records' time, named
//   <prefix>/dt=YYYY-MM-DD/hour=HH/<YYYYMMDDTHHMMSSZ>-<replica>-<seq>.ndjson.gz
// (Hive-style partitions, which Athena, BigQuery external tables and Spark read as columns). To a
// log platform: one gzipped POST in its intake's format (Datadog's JSON array of logs, Splunk HEC's
// events, NDJSON to any URL with the same name as an Idempotency-Key). Each line (or log's
// `signalbox`, or event's `event`) is the API's RequestRecord in its canonical JSON (what
// ListRequests answers), with every field present: one schema, never a key's secret, and no prompt
// or answer text unless the export says `capture_content` (then a chat record's line ends with
// `content`: the messages as sent, the answer, the settings; the engine hands the content over with
// the record, and it is kept beside the record until sent, never in it). To Langfuse: each record a
// trace of OTLP spans (src/usage/langfuse.ts).
//
// Off the request path: record() only pushes onto an array. Lines are built a few hundred at a
// time between turns of the event loop and gzipped on libuv's pool, so a flush never stalls
// requests. A batch keeps its name until it is sent, so a send retried after a timeout
// overwrites (a bucket) or names itself the same (an HTTP endpoint), never duplicates. While the
// destination cannot be reached, records wait in memory up to `max_buffered_records` (the oldest
// batches dropped beyond, and counted); with `spool_dir` they are written to disk instead and sent
// later, also by the next process after a restart.

import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import { toJsonString } from "@bufbuild/protobuf";
import type { ProviderConfig, UsageExportConfig } from "../config/types.ts";
import type { RequestContent, UsageRecord, UsageSink } from "./record.ts";
import { answerObservationId, langfuseRequest } from "./langfuse.ts";
import { genaiRequest } from "./genai-spans.ts";
import type { GatewayMetrics } from "../telemetry/metrics.ts";
import type { FeedbackRecord } from "../control/types.ts";
import type { AlertEvent } from "../alerts/alerts.ts";
import { log } from "../telemetry/log.ts";
import { RequestRecordSchema } from "../../gen/signalbox/v1/usage_pb.ts";
import { recordToPb } from "../server/usage-service.ts";
import { awsEncode, createAwsSigner, type AwsSigner } from "../cloud/aws-sigv4.ts";
import { createEntraTokenSource, type EntraTokenSource } from "../cloud/azure-entra.ts";
import { resolveAwsCredentials } from "../providers/bedrock/bedrock-auth.ts";
import { createVertexTokenSource, type VertexTokenSource } from "../providers/vertex/vertex-auth.ts";

const gzip = promisify(gzipCb);
/** A Buffer as fetch's body type wants it (no copy). */
const bytes = (b: Buffer) => new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);

/** Records serialized per turn of the event loop. */
const LINES_PER_TURN = 250;
/**
 * Characters of captured content (capture_content) an export holds while it waits, at most: past
 * it the oldest batches are dropped (and counted), as past max_buffered_records.
 */
const MAX_CONTENT_CHARS = 20_000_000;
/** Content characters after which the batch being gathered is sealed and sent at once. */
const SEAL_CONTENT_CHARS = 4_000_000;
/** Azure Blob's REST version. */
const AZURE_VERSION = "2023-11-03";

export interface UsageExportDeps {
  /** The exports in force (read at each record and flush: a reload adds, changes or removes them). */
  exports: () => readonly UsageExportConfig[] | undefined;
  metrics?: GatewayMetrics;
  alert?: (e: AlertEvent) => void;
  env?: Record<string, string | undefined>;
  now?: () => number;
  /** Names this process in object names (default: host name, pid and a random tag). */
  replica?: string;
  /** Delays between the tries of one send (default 0.5 s, 2 s); then the next flush tries again. */
  retryDelaysMs?: readonly number[];
}

export interface UsageExportStats {
  name: string;
  /** Records waiting in memory. */
  buffered: number;
  /** Records waiting in the spool directory. */
  spooled: number;
  exported: number;
  dropped: number;
  objects: number;
  /** The last send's error while sends fail, and since when. */
  failing?: string;
  failingSince?: number;
  /** When an object was last accepted. */
  lastExportAt?: number;
  /** The export's settings. */
  config: UsageExportConfig;
}

/** Where an export's objects go, for people: never a credential. */
export function destinationOf(c: UsageExportConfig): string {
  const prefix = c.prefix ? `/${c.prefix}` : "";
  if (c.type === "s3") return `s3://${c.bucket}${prefix}${c.endpoint ? ` (${new URL(c.endpoint).host})` : ""}`;
  if (c.type === "gcs") return `gs://${c.bucket}${prefix}${c.endpoint ? ` (${new URL(c.endpoint).host})` : ""}`;
  if (c.type === "azure_blob") return `${c.accountUrl}/${c.container}${prefix}`;
  if (c.type === "datadog") return c.url ? `Datadog (${new URL(c.url).host})` : `Datadog (${c.site})`;
  if (c.type === "langfuse") return `Langfuse (${new URL(c.url!).host})`;
  if (c.type === "otlp") return `OTLP ${new URL(c.url!).origin}${new URL(c.url!).pathname}`;
  const u = new URL(c.url!);
  return c.type === "splunk" ? `Splunk HEC (${u.host})` : `${u.origin}${u.pathname}`;
}

export interface UsageExport {
  /** `inner`, and every record it is given queued for each export. */
  sink(inner: UsageSink): UsageSink;
  /** Send everything waiting now (memory, then the spool), for every export or the one named. Resolves when done or failed. */
  flush(name?: string): Promise<void>;
  stats(): UsageExportStats[];
  /** A score given to a request (feedback): to each Langfuse export that takes its record, as a score on its trace. */
  feedback(f: FeedbackRecord, record: UsageRecord | undefined): void;
  /** Send what waits (spooling what cannot be sent), then stop. */
  close(): Promise<void>;
}

interface PendingObject {
  key: string;
  records: number;
  body: Buffer;
}

interface Batch {
  records: UsageRecord[];
  /** Characters of captured content in it. */
  chars: number;
  /** Built once, at the first send: the same names on every retry. */
  objects?: PendingObject[];
}

interface ExportState {
  cfg: UsageExportConfig;
  current: UsageRecord[];
  /** Characters of captured content in `current`, and in everything waiting in memory. */
  currentChars: number;
  contentChars: number;
  sealed: Batch[];
  buffered: number;
  spooled: number;
  exported: number;
  dropped: number;
  objects: number;
  seq: number;
  sending?: Promise<void>;
  timer?: NodeJS.Timeout;
  failingSince?: number;
  failing?: string;
  lastExportAt?: number;
  spoolChecked: boolean;
  /** Credentials' holders, kept while the settings they came from stay. */
  client?: ExportClient;
}

interface ExportClient {
  id: string;
  /** The body of one send (before gzip) from its records' JSON lines (none when `fromRecords`). */
  frame(lines: string[], records: UsageRecord[]): string | Uint8Array | Promise<Uint8Array>;
  /** Framed from the records themselves: their JSON lines are not made. */
  fromRecords?: boolean;
  /** A record's share of a send's bytes (before gzip), where `maxBytes` is set; else its line's. */
  size?(r: UsageRecord): number;
  put(key: string, body: Buffer, records: number, signal: AbortSignal): Promise<void>;
  /** The most bytes (before gzip) one send may carry, where the intake limits it. */
  maxBytes?: number;
}

const ndjson = (lines: string[]) => `${lines.join("\n")}\n`;

/**
 * Content of the records whose export captures it (`capture_content`), beside the record: never in
 * the record, nor in any store; gone with the record once every export has sent it.
 */
const contents = new WeakMap<UsageRecord, RequestContent>();

/** A record in a line, for people (Datadog's `message`). */
const summary = (r: UsageRecord) => `${r.operation ?? "chat"} ${r.model} -> ${r.deployment || "-"}: ${r.status}, ${r.usage.inputTokens} in / ${r.usage.outputTokens} out tokens, ${r.latencyMs} ms`;

/** A record's values of a `when` field. */
function recordValues(r: UsageRecord, field: string): readonly string[] {
  switch (field) {
    case "team":
      return [r.team];
    case "key":
      return [r.key];
    case "user":
      return [r.user];
    case "tag":
      return r.tags;
    case "route":
      return [r.routing.route];
    case "deployment":
      return [r.deployment];
    case "provider":
      return [r.provider];
    case "status":
      return [r.status];
    case "operation":
      return [r.operation ?? "chat"];
    default: {
      const v = field.startsWith("metadata.") ? r.metadata[field.slice(9)] : undefined;
      return v === undefined ? [] : [v];
    }
  }
}

/** Whether every field of a `when` matches the record (one of its values; "*" any value but none). */
export function recordMatches(when: Readonly<Record<string, readonly string[]>>, r: UsageRecord): boolean {
  for (const field in when) {
    const want = when[field];
    if (!recordValues(r, field).some((v) => v !== "" && (want.includes(v) || want.includes("*")))) return false;
  }
  return true;
}

/** `dt=YYYY-MM-DD/hour=HH` of a time. */
function partition(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

/** 20261207T153012Z */
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** The store's error in a line: its code and message (S3's and Azure's XML, Google's JSON), never the URL (a SAS token rides in it). */
async function storeError(res: Response): Promise<string> {
  const text = (await res.text().catch(() => "")).slice(0, 4000);
  const xml = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text)?.[1];
  let code = xml("Code");
  let message = xml("Message");
  if (!code) {
    try {
      // Google's {error: {status, message}}, Datadog's {errors: [..]}, Splunk's {text, code}.
      const j = JSON.parse(text) as { error?: { status?: string; message?: string; errors?: { reason?: string }[] }; errors?: unknown[]; text?: string; code?: number };
      code = j.error?.status ?? j.error?.errors?.[0]?.reason ?? (j.code !== undefined ? `code ${j.code}` : undefined);
      message = j.error?.message ?? (Array.isArray(j.errors) ? j.errors.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join("; ") : j.text);
    } catch {
      /* not JSON */
    }
  }
  return `HTTP ${res.status}${code ? ` ${code}` : ""}${message ? `: ${message.split(/\r?\n/)[0].slice(0, 200)}` : ""}`;
}

/** The settings a client is built from: a change (a reload, a rotated secret) builds another. */
const clientId = (c: UsageExportConfig) =>
  JSON.stringify([c.type, c.bucket, c.container, c.endpoint, c.region, c.pathStyle, c.accessKeyId, c.secretAccessKey, c.sessionToken, c.credentialsFile, c.credentialsJson, c.tokenUrl, c.accountUrl, c.sasToken, c.tenantId, c.clientId, c.clientSecret, c.federatedTokenFile, c.authorityUrl, c.timeoutMs, c.url, c.headers, c.site, c.apiKey, c.service, c.tags, c.token, c.index, c.sourcetype, c.publicKey, c.secretKey, c.environment, c.captureContent]);

/** POST a body to a log intake; its answer's error in the message (never the URL's query or a header). */
async function post(label: string, what: string, url: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { method: "POST", headers, body: bytes(body), signal });
  if (!res.ok) throw new Error(`${label}: ${what} answered ${await storeError(res)}`);
  await res.body?.cancel();
}

const langfuseAuth = (c: UsageExportConfig) => `Basic ${Buffer.from(`${c.publicKey}:${c.secretKey}`).toString("base64")}`;

/** Records as OTLP traces (protobuf, gzipped), in requests well under what an intake takes, conversations included. */
function tracesClient(id: string, c: UsageExportConfig, what: string, url: string, headers: Record<string, string>, encode: typeof langfuseRequest): ExportClient {
  const all = { ...c.headers, ...headers, "content-type": "application/x-protobuf", "content-encoding": "gzip" };
  return {
    id,
    fromRecords: true,
    maxBytes: 3_000_000,
    size: (r) => 3_000 + (c.captureContent ? 2 * (contents.get(r)?.chars ?? 0) : 0),
    frame: (_lines, recs) => encode(recs, (r) => contents.get(r), c),
    put: (_key, body, _records, signal) => post(`usage export "${c.name}"`, what, url, all, body, signal),
  };
}

function createClient(c: UsageExportConfig, env: Record<string, string | undefined>): ExportClient {
  const label = `usage export "${c.name}"`;
  const id = clientId(c);
  if (c.type === "http") {
    return {
      id,
      frame: ndjson,
      // The object's name rides as an idempotency key: a retried batch names itself the same.
      put: (key, body, records, signal) =>
        post(label, "the endpoint", c.url!, { ...c.headers, "content-type": "application/x-ndjson", "content-encoding": "gzip", "idempotency-key": key, "x-signalbox-records": String(records) }, body, signal),
    };
  }
  if (c.type === "datadog") {
    // Datadog's logs intake (v2): a JSON array of logs; reserved attributes for the time, level, service and tags; the record under `signalbox`.
    const url = c.url ?? `https://http-intake.logs.${c.site}/api/v2/logs`;
    const host = hostname();
    const head = `{"ddsource":"signalbox","service":${JSON.stringify(c.service)},"hostname":${JSON.stringify(host)}${c.tags?.length ? `,"ddtags":${JSON.stringify(c.tags.join(","))}` : ""}`;
    return {
      id,
      // The intake takes 5 MB (uncompressed) a request.
      maxBytes: 4_500_000,
      frame: (lines, recs) => `[${lines.map((l, i) => `${head},"timestamp":${recs[i].time},"status":"${recs[i].status === "ok" ? "info" : "error"}","message":${JSON.stringify(summary(recs[i]))},"signalbox":${l}}`).join(",")}]`,
      put: (_key, body, _records, signal) => post(label, "Datadog", url, { "dd-api-key": c.apiKey!, "content-type": "application/json", "content-encoding": "gzip" }, body, signal),
    };
  }
  // Langfuse's OpenTelemetry endpoint (src/usage/langfuse.ts), or any OTLP/HTTP traces endpoint in the GenAI conventions (src/usage/genai-spans.ts).
  if (c.type === "langfuse") return tracesClient(id, c, "Langfuse", `${c.url}/api/public/otel/v1/traces`, { authorization: langfuseAuth(c), "x-langfuse-ingestion-version": "4", "x-langfuse-sdk-name": "signalbox", "x-langfuse-public-key": c.publicKey! }, langfuseRequest);
  if (c.type === "otlp") return tracesClient(id, c, "the OTLP endpoint", c.url!, {}, genaiRequest);
  if (c.type === "splunk") {
    // Splunk's HTTP Event Collector: events one after another, each with its time (seconds), host, source, sourcetype and index.
    const url = `${c.url!.replace(/\/+$/, "")}/services/collector/event`;
    const host = hostname();
    const head = `"host":${JSON.stringify(host)},"source":"signalbox","sourcetype":${JSON.stringify(c.sourcetype)}${c.index ? `,"index":${JSON.stringify(c.index)}` : ""}`;
    return {
      id,
      // A collector takes 1 MB a request by default (max_content_length).
      maxBytes: 800_000,
      frame: (lines, recs) => lines.map((l, i) => `{"time":${(recs[i].time / 1000).toFixed(3)},${head},"event":${l}}`).join("\n"),
      put: (_key, body, _records, signal) => post(label, "Splunk", url, { authorization: `Splunk ${c.token}`, "content-type": "application/json", "content-encoding": "gzip" }, body, signal),
    };
  }
  if (c.type === "s3") {
    const creds = resolveAwsCredentials(c.accessKeyId ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken } as never : undefined, env);
    const signer: AwsSigner | undefined = creds && createAwsSigner("s3", c.region!, creds);
    const endpoint = new URL(c.endpoint ?? `https://s3.${c.region}.amazonaws.com`);
    const base = c.pathStyle ? `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, "")}/${awsEncode(c.bucket!)}` : `${endpoint.protocol}//${c.bucket}.${endpoint.host}${endpoint.pathname.replace(/\/+$/, "")}`;
    return {
      id,
      frame: ndjson,
      async put(key, body, records, signal) {
        if (!signer) throw new Error(`${label}: no AWS credentials (access_key_id and secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`);
        const url = new URL(`${base}/${key.split("/").map(awsEncode).join("/")}`);
        const headers = await signer.sign("PUT", url, { "content-type": "application/gzip", "content-length": String(body.length), "x-amz-meta-records": String(records) }, body);
        const res = await fetch(url, { method: "PUT", headers, body: bytes(body), signal });
        if (!res.ok) throw new Error(`${label}: S3 answered ${await storeError(res)}`);
        await res.body?.cancel();
      },
    };
  }
  if (c.type === "gcs") {
    const conn = { name: label, vertex: { project: "", location: "global", ...(c.credentialsFile ? { credentialsFile: c.credentialsFile } : {}), ...(c.credentialsJson ? { credentialsJson: c.credentialsJson } : {}), ...(c.tokenUrl ? { tokenUrl: c.tokenUrl } : {}) } } as unknown as ProviderConfig;
    const tokens: VertexTokenSource = createVertexTokenSource(conn, env as NodeJS.ProcessEnv);
    const base = (c.endpoint ?? "https://storage.googleapis.com").replace(/\/+$/, "");
    return {
      id,
      frame: ndjson,
      async put(key, body, records, signal) {
        const token = await tokens.token(signal);
        const url = `${base}/upload/storage/v1/b/${encodeURIComponent(c.bucket!)}/o?uploadType=media&name=${encodeURIComponent(key)}`;
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" }, body: bytes(body), signal });
        if (!res.ok) throw new Error(`${label}: Cloud Storage answered ${await storeError(res)}`);
        await res.body?.cancel();
      },
    };
  }
  const entra: EntraTokenSource | undefined = c.sasToken === undefined ? createEntraTokenSource(label, { tenantId: c.tenantId!, clientId: c.clientId!, ...(c.clientSecret ? { clientSecret: c.clientSecret } : { federatedTokenFile: c.federatedTokenFile }), ...(c.authorityUrl ? { authorityUrl: c.authorityUrl } : {}) }, "https://storage.azure.com/.default") : undefined;
  return {
    id,
    frame: ndjson,
    async put(key, body, records, signal) {
      const url = `${c.accountUrl}/${encodeURIComponent(c.container!)}/${key.split("/").map(encodeURIComponent).join("/")}${c.sasToken !== undefined ? `?${c.sasToken}` : ""}`;
      const headers: Record<string, string> = {
        "x-ms-blob-type": "BlockBlob",
        "x-ms-version": AZURE_VERSION,
        "x-ms-date": new Date().toUTCString(),
        "content-type": "application/gzip",
        "x-ms-blob-content-type": "application/gzip",
        "x-ms-meta-records": String(records),
      };
      if (entra) headers.authorization = `Bearer ${await entra.token(signal)}`;
      const res = await fetch(url, { method: "PUT", headers, body: bytes(body), signal });
      if (res.status === 401) entra?.invalidate();
      if (!res.ok) throw new Error(`${label}: Azure Blob Storage answered ${await storeError(res)}`);
      await res.body?.cancel();
    },
  };
}

export function createUsageExport(deps: UsageExportDeps): UsageExport {
  const now = deps.now ?? Date.now;
  const env = deps.env ?? process.env;
  const replica = (deps.replica ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`).replace(/[^A-Za-z0-9_.-]+/g, "_");
  const replicaLabel = `${hostname()}:${process.pid}`;
  const delays = deps.retryDelaysMs ?? [500, 2_000];
  const states = new Map<string, ExportState>();
  let closed = false;
  const inflight = new Set<AbortController>();
  const scoring = new Set<Promise<void>>();

  function stateOf(cfg: UsageExportConfig): ExportState {
    let s = states.get(cfg.name);
    // Operators should see, in the log, every place the prompts go (at start, and when a reload turns it on).
    if (cfg.captureContent && !s?.cfg.captureContent) log("warn", "usage export sends the prompts and answers of chat requests (capture_content)", { export: cfg.name, destination: destinationOf(cfg) });
    if (!s) {
      s = { cfg, current: [], currentChars: 0, contentChars: 0, sealed: [], buffered: 0, spooled: 0, exported: 0, dropped: 0, objects: 0, seq: 0, spoolChecked: false };
      states.set(cfg.name, s);
      schedule(s);
    }
    s.cfg = cfg;
    return s;
  }

  function schedule(s: ExportState): void {
    if (closed) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => void flushOne(s), s.cfg.flushMs);
    s.timer.unref();
  }

  /** Records past max_buffered_records (or content past MAX_CONTENT_CHARS): the oldest objects waiting go (counted). */
  function bound(s: ExportState): void {
    while ((s.buffered > s.cfg.maxBufferedRecords || s.contentChars > MAX_CONTENT_CHARS) && s.sealed.length > 1) {
      const gone = s.sealed.splice(1, 1)[0]; // the one being sent (index 0) stays
      s.buffered -= gone.records.length;
      s.contentChars -= gone.chars;
      s.dropped += gone.records.length;
      deps.metrics?.usageExport(s.cfg.name, "dropped", gone.records.length);
      log("warn", "usage export dropped records past its buffer", { export: s.cfg.name, records: gone.records.length, max_buffered_records: s.cfg.maxBufferedRecords });
    }
  }

  function record(r: UsageRecord, cfgs: readonly UsageExportConfig[], content: RequestContent | undefined): void {
    for (const cfg of cfgs) {
      if (cfg.when && !recordMatches(cfg.when, r)) continue;
      const s = stateOf(cfg);
      if (content && cfg.captureContent) {
        contents.set(r, content);
        s.currentChars += content.chars;
        s.contentChars += content.chars;
      }
      s.current.push(r);
      s.buffered++;
      if (s.current.length >= cfg.maxRecords || s.currentChars >= SEAL_CONTENT_CHARS) {
        s.sealed.push({ records: s.current, chars: s.currentChars });
        s.current = [];
        s.currentChars = 0;
        bound(s);
        if (!s.sending) setImmediate(() => void flushOne(s));
      }
    }
  }

  /** One batch's objects: its records by hour, each hour's lines gzipped. */
  async function build(s: ExportState, batch: Batch): Promise<PendingObject[]> {
    const byHour = new Map<string, UsageRecord[]>();
    for (const r of batch.records) {
      const p = partition(r.time);
      let l = byHour.get(p);
      if (!l) byHour.set(p, (l = []));
      l.push(r);
    }
    const at = stamp(now());
    const out: PendingObject[] = [];
    const client = clientOf(s);
    for (const [p, recs] of byHour) {
      const lines: string[] = [];
      if (!client.fromRecords) {
        for (let i = 0; i < recs.length; i++) {
          if (i > 0 && i % LINES_PER_TURN === 0) await new Promise((r) => setImmediate(r));
          const line = toJsonString(RequestRecordSchema, recordToPb(recs[i]), { alwaysEmitImplicit: true });
          // With capture_content: the record's `content` ({input, output, parameters}) after its fields.
          const c = s.cfg.captureContent ? contents.get(recs[i]) : undefined;
          lines.push(c ? `${line.slice(0, -1)},"content":${JSON.stringify({ input: c.input, ...(c.output !== undefined ? { output: c.output } : {}), parameters: c.parameters })}}` : line);
        }
      }
      const size = (i: number) => (client.size ? client.size(recs[i]) : lines[i].length + 512);
      // Cut where an intake's request would pass its size limit (Datadog's 5 MB, Splunk's 1 MB).
      let from = 0;
      while (from < recs.length) {
        let to = from;
        let bytes = 0;
        if (client.maxBytes === undefined) to = recs.length;
        else while (to < recs.length && (to === from || bytes + size(to) <= client.maxBytes)) bytes += size(to++);
        const framed = await client.frame(lines.slice(from, to), recs.slice(from, to));
        const body = await gzip(typeof framed === "string" ? Buffer.from(framed) : framed);
        out.push({ key: `${s.cfg.prefix ? `${s.cfg.prefix}/` : ""}${p}/${at}-${replica}-${String(++s.seq).padStart(6, "0")}.ndjson.gz`, records: to - from, body });
        from = to;
      }
    }
    return out;
  }

  function clientOf(s: ExportState): ExportClient {
    const id = clientId(s.cfg);
    if (s.client?.id !== id) s.client = createClient(s.cfg, env);
    return s.client;
  }

  /** One send, tried again after each of the delays; each try aborted after the export's timeout. */
  async function tried(cfg: UsageExportConfig, send: (signal: AbortSignal) => Promise<void>): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, delays[attempt - 1]).unref());
      const ac = new AbortController();
      inflight.add(ac);
      const t = setTimeout(() => ac.abort(new Error(`usage export "${cfg.name}": no answer within ${cfg.timeoutMs} ms`)), cfg.timeoutMs);
      try {
        await send(ac.signal);
        return;
      } catch (err) {
        last = ac.signal.aborted ? ac.signal.reason : err;
        if (closed) break;
      } finally {
        clearTimeout(t);
        inflight.delete(ac);
      }
    }
    throw last;
  }

  function put(s: ExportState, o: PendingObject): Promise<void> {
    const client = clientOf(s);
    return tried(s.cfg, (signal) => client.put(o.key, o.body, o.records, signal));
  }

  const spoolDirOf = (s: ExportState) => join(s.cfg.spoolDir!, s.cfg.name);
  /** Spool file name of an object: its key, encoded ("/" and all), and its record count. */
  const spoolName = (o: PendingObject) => `${o.records}.${encodeURIComponent(o.key)}`;

  async function spool(s: ExportState, o: PendingObject): Promise<void> {
    const dir = spoolDirOf(s);
    await mkdir(dir, { recursive: true });
    const file = join(dir, spoolName(o));
    await writeFile(`${file}.tmp`, o.body);
    await rename(`${file}.tmp`, file);
    s.spooled += o.records;
  }

  /** Objects of the spool directory, oldest name first; sent and removed one by one. */
  async function drainSpool(s: ExportState): Promise<void> {
    if (!s.cfg.spoolDir) return;
    const dir = spoolDirOf(s);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.endsWith(".tmp")).sort((a, b) => a.slice(a.indexOf(".") + 1).localeCompare(b.slice(b.indexOf(".") + 1)));
    if (!s.spoolChecked) {
      s.spoolChecked = true;
      s.spooled = names.reduce((n, f) => n + (Number(f.slice(0, f.indexOf("."))) || 0), 0);
      if (names.length) log("info", "usage export sends the objects a previous run spooled", { export: s.cfg.name, objects: names.length, records: s.spooled });
    }
    for (const n of names) {
      const records = Number(n.slice(0, n.indexOf("."))) || 0;
      const o: PendingObject = { key: decodeURIComponent(n.slice(n.indexOf(".") + 1)), records, body: await readFile(join(dir, n)) };
      await put(s, o);
      // Counted as sent before the file goes, so no one sees the spool empty and its records still counted there.
      s.lastExportAt = now();
      s.spooled = Math.max(0, s.spooled - records);
      s.exported += records;
      s.objects++;
      deps.metrics?.usageExport(s.cfg.name, "exported", records);
      await unlink(join(dir, n)).catch(() => {});
    }
  }

  function failed(s: ExportState, err: unknown): void {
    const reason = String((err as Error)?.message ?? err).slice(0, 300);
    if (s.failingSince === undefined) {
      s.failingSince = now();
      log("warn", "usage export cannot write to its store: its records wait", { export: s.cfg.name, error: reason, buffered: s.buffered, spooled: s.spooled });
      deps.alert?.({ event: "usage_export_failed", replica: replicaLabel, export: s.cfg.name, reason, pendingRecords: s.buffered + s.spooled });
    }
    s.failing = reason;
  }

  function recovered(s: ExportState): void {
    if (s.failingSince === undefined) return;
    const downMs = now() - s.failingSince;
    s.failingSince = undefined;
    s.failing = undefined;
    log("info", "usage export writes to its store again", { export: s.cfg.name, down_ms: downMs });
    deps.alert?.({ event: "usage_export_recovered", replica: replicaLabel, export: s.cfg.name, downMs });
  }

  /** Send what waits: the records gathered so far, then whatever is spooled. One run at a time per export. */
  function flushOne(s: ExportState, final = false): Promise<void> {
    if (s.sending) return s.sending.then(() => (final || s.current.length || s.sealed.length ? flushOne(s, final) : undefined));
    if (s.current.length) {
      s.sealed.push({ records: s.current, chars: s.currentChars });
      s.current = [];
      s.currentChars = 0;
      bound(s);
    }
    s.sending = (async () => {
      try {
        while (s.sealed.length) {
          const batch = s.sealed[0];
          batch.objects ??= await build(s, batch);
          while (batch.objects.length) {
            const o = batch.objects[0];
            try {
              await put(s, o);
            } catch (err) {
              deps.metrics?.usageExport(s.cfg.name, "failed", o.records);
              failed(s, err);
              if (!s.cfg.spoolDir) return; // kept in memory: the next flush tries again
              // Spooled: every object waiting goes to disk, sent from there later.
              for (const b of s.sealed) {
                b.objects ??= await build(s, b);
                for (const w of b.objects) {
                  await spool(s, w);
                  deps.metrics?.usageExport(s.cfg.name, "spooled", w.records);
                }
                s.buffered -= b.records.length;
                s.contentChars -= b.chars;
              }
              s.sealed = [];
              return;
            }
            batch.objects.shift();
            s.lastExportAt = now();
            s.buffered -= o.records;
            s.exported += o.records;
            s.objects++;
            deps.metrics?.usageExport(s.cfg.name, "exported", o.records);
          }
          s.contentChars -= s.sealed.shift()!.chars;
        }
        await drainSpool(s);
        recovered(s);
      } catch (err) {
        // The spool itself (a disk error) or a spooled object's send.
        failed(s, err);
      }
    })().finally(() => {
      s.sending = undefined;
      // A removed export, once empty, is forgotten.
      if (!(deps.exports() ?? []).some((c) => c.name === s.cfg.name) && !s.buffered) {
        clearTimeout(s.timer);
        states.delete(s.cfg.name);
      } else schedule(s);
    });
    return s.sending;
  }

  /**
   * A score on the request's trace (Langfuse's POST /api/public/scores): `user-feedback`, the value
   * (-10 to 10), the comment and the rest of its metadata, its weight; its id the feedback's, so a
   * changed score replaces the first. Tried as an export's objects are.
   */
  async function sendScore(c: UsageExportConfig, f: FeedbackRecord, answered: boolean): Promise<void> {
    const { comment, ...metadata } = f.metadata;
    const body = Buffer.from(
      JSON.stringify({
        id: f.id,
        traceId: f.traceId,
        // On the generation it judges (the answer's), where the request was answered.
        ...(answered ? { observationId: answerObservationId(f.requestId) } : {}),
        name: "user-feedback",
        value: f.value,
        dataType: "NUMERIC",
        ...(comment ? { comment } : {}),
        metadata: { ...metadata, weight: f.weight, request_id: f.requestId },
        ...(c.environment ? { environment: c.environment } : {}),
      }),
    );
    const headers = { ...c.headers, authorization: langfuseAuth(c), "content-type": "application/json" };
    await tried(c, (signal) => post(`usage export "${c.name}"`, "Langfuse's scores API", `${c.url}/api/public/scores`, headers, body, signal));
  }

  // Each export's timer starts now: objects a previous run spooled are sent even with no traffic.
  for (const cfg of deps.exports() ?? []) stateOf(cfg);

  return {
    sink(inner) {
      return {
        record(r, content) {
          inner.record(r);
          const cfgs = deps.exports();
          if (cfgs?.length && !closed) record(r, cfgs, content);
        },
        flush: () => inner.flush(),
      };
    },
    async flush(name) {
      for (const cfg of deps.exports() ?? []) stateOf(cfg);
      await Promise.all([...states.values()].filter((s) => name === undefined || s.cfg.name === name).map((s) => flushOne(s)));
    },
    stats() {
      return [...states.values()].map((s) => ({
        name: s.cfg.name,
        config: s.cfg,
        buffered: s.buffered,
        spooled: s.spooled,
        exported: s.exported,
        dropped: s.dropped,
        objects: s.objects,
        ...(s.failing ? { failing: s.failing, failingSince: s.failingSince } : {}),
        ...(s.lastExportAt !== undefined ? { lastExportAt: s.lastExportAt } : {}),
      }));
    },
    feedback(f, record) {
      const cfgs = deps.exports();
      if (!cfgs?.length || closed) return;
      // A score changed later has no record at hand: its own dimensions stand for it.
      const like = record ?? ({ team: f.team, key: f.key, user: f.user, tags: [], routing: { route: f.route }, deployment: f.deployment, provider: f.provider, status: "ok", operation: "chat", metadata: {} } as unknown as UsageRecord);
      for (const c of cfgs) {
        if (c.type !== "langfuse" || (c.when && !recordMatches(c.when, like))) continue;
        // A score changed later has no record at hand: it was given to an answer.
        const sent = sendScore(c, f, record === undefined || record.status === "ok").catch((err) => log("warn", "usage export could not send a score to Langfuse", { export: c.name, feedback_id: f.id, error: String((err as Error)?.message ?? err).slice(0, 300) }));
        scoring.add(sent);
        void sent.finally(() => scoring.delete(sent));
      }
    },
    async close() {
      closed = true;
      await Promise.allSettled([...scoring]);
      for (const s of states.values()) clearTimeout(s.timer);
      // One more try each (no retries' delays past the first), then to the spool or counted as lost.
      await Promise.all([...states.values()].map((s) => flushOne(s, true)));
      for (const s of states.values()) {
        clearTimeout(s.timer);
        if (s.buffered) {
          log("error", "usage export lost records at shutdown (its store could not be reached and it has no spool_dir)", { export: s.cfg.name, records: s.buffered });
          deps.metrics?.usageExport(s.cfg.name, "dropped", s.buffered);
        }
      }
      for (const ac of inflight) ac.abort();
    },
  };
}
