// Fake log intakes over real HTTP, for the gateway's usage-record log exports (batches of usage
// records POSTed to a logging service):
// - Datadog Logs API v2: `POST /api/v2/logs` (the real host is https://http-intake.logs.<site>),
//   `DD-API-KEY` (missing → 401, wrong → 403, as the API reference lists them), `Content-Type:
//   application/json`, `Content-Encoding: gzip | deflate | identity` or none; the body a JSON array
//   of log objects or one log object; at most 1000 entries (more → 400) and 5 MB uncompressed (more
//   → 413); 202 `{}` on success, errors as `{"errors": [{"status", "title", "detail"}]}` (HTTPLogErrors).
// - Splunk HTTP Event Collector: `POST /services/collector`, `/services/collector/event` and
//   `/services/collector/event/1.0` (what the splunk-logging library posts to), `Authorization:
//   Splunk <token>` (or Basic with the token as password); the body one or more JSON event objects
//   concatenated (whitespace between them optional), each with an `event`; optional `time` (epoch
//   seconds, a number or a numeric string, fractional allowed), `host`, `source`, `sourcetype`,
//   `index`, `fields` (a flat object); `Content-Encoding: gzip` optional. HEC's answers: 200
//   `{"text":"Success","code":0}`, and `{"text", "code"[, "invalid-event-number"]}` errors (2 Token
//   is required / 3 Invalid authorization → 401, 4 Invalid token → 403, 5 No data, 6 Invalid data
//   format, 12 Event field is required, 13 Event field cannot be blank, 15 Error in handling indexed
//   fields → 400, 8 Internal server error → 500, 9 Server is busy → 503). Unlike the real HEC,
//   which indexes the events before an invalid one, a batch with an invalid event is refused whole.
// - A generic HTTP sink: `POST` to any path, `Content-Type: application/x-ndjson`, optional
//   `Content-Encoding: gzip`, optional exact `Authorization`; NDJSON, one JSON object per line
//   (blank lines skipped); 200 `{"accepted": n}`, `{"error": "..."}` otherwise. A batch whose
//   `Idempotency-Key` was already accepted answers 200 again without being appended (`duplicates`).
// `failNext(n, status)` makes the next n batches that pass authentication answer `status` (default
// 503) in the service's error shape, accepting nothing. Every request is recorded raw (`requests`);
// every accepted batch decoded (`accepted`) and its records flattened (`logs`, `events`, `lines`).
// test/fakes/log-intakes.sdk.test.ts checks the Datadog fake with @datadog/datadog-api-client and
// the Splunk fake with splunk-logging.

import http from "node:http";
import zlib from "node:zlib";
import { failureBudget, serveRaw as serve, type RecordedRaw } from "./object-stores.ts";

export type { RecordedRaw };

export interface AcceptedBatch {
  headers: http.IncomingHttpHeaders;
  /** The body decoded: gunzipped / inflated per its content-encoding. */
  body: string;
}

export interface FakeLogIntake {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Every request, in arrival order, with the bytes as received. */
  requests: RecordedRaw[];
  /** Every accepted batch, decoded, in order. */
  accepted: AcceptedBatch[];
  /** The next n batches that pass authentication answer `status` (default 503) in the service's error shape, accepting nothing. */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};


type Decoded = { ok: true; text: string } | { ok: false; why: "unsupported" | "corrupt" | "too large" };

/** Undo the content-encoding (none, identity, gzip, deflate: zlib-wrapped or raw), at most `limit` bytes of output. */
function decode(raw: Buffer, encoding: string | undefined, limit: number): Decoded {
  const enc = (encoding ?? "").trim().toLowerCase();
  let out: Buffer;
  try {
    if (enc === "" || enc === "identity") out = raw;
    else if (enc === "gzip" || enc === "x-gzip") out = zlib.gunzipSync(raw, { maxOutputLength: limit + 1 });
    else if (enc === "deflate") {
      try {
        out = zlib.inflateSync(raw, { maxOutputLength: limit + 1 });
      } catch (err) {
        if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw err;
        out = zlib.inflateRawSync(raw, { maxOutputLength: limit + 1 });
      }
    } else return { ok: false, why: "unsupported" };
  } catch (err) {
    return { ok: false, why: (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? "too large" : "corrupt" };
  }
  if (out.length > limit) return { ok: false, why: "too large" };
  return { ok: true, text: out.toString("utf8") };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const pathOf = (req: http.IncomingMessage) => new URL(req.url ?? "/", "http://x").pathname;
const mediaType = (req: http.IncomingMessage) => String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();

// ---------------------------------------------------------------- Datadog

/** Limits of the Logs API v2 per request. */
export const DATADOG_LIMITS = { maxEntries: 1000, maxBytes: 5 * 1024 * 1024 };

export async function startFakeDatadogLogs(apiKey: string): Promise<FakeLogIntake & { logs: Record<string, unknown>[] }> {
  const accepted: AcceptedBatch[] = [];
  const logs: Record<string, unknown>[] = [];
  const fail = failureBudget();
  const error = (res: http.ServerResponse, status: number, detail: string) => json(res, status, { errors: [{ status: String(status), title: http.STATUS_CODES[status] ?? "Error", detail }] });

  const s = await serve((req, raw, res) => {
    if (pathOf(req) !== "/api/v2/logs") return error(res, 404, "Not Found");
    if (req.method !== "POST") return error(res, 405, "Method Not Allowed");
    const key = req.headers["dd-api-key"];
    if (typeof key !== "string" || key === "") return error(res, 401, "API key is missing");
    if (key !== apiKey) return error(res, 403, "Forbidden: invalid API key");
    const failure = fail.take();
    if (failure !== undefined) return error(res, failure, http.STATUS_CODES[failure] ?? "Error");
    const type = mediaType(req);
    if (type !== "" && type !== "application/json") return error(res, 400, `Unsupported Content-Type: ${type}`);
    const d = decode(raw, req.headers["content-encoding"], DATADOG_LIMITS.maxBytes);
    if (!d.ok) {
      if (d.why === "too large") return error(res, 413, `Payload too large: above ${DATADOG_LIMITS.maxBytes} bytes uncompressed`);
      return error(res, 400, d.why === "unsupported" ? `Unsupported Content-Encoding: ${req.headers["content-encoding"]}` : "Malformed payload: cannot decode the content-encoding");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(d.text);
    } catch {
      return error(res, 400, "Malformed payload");
    }
    const batch = Array.isArray(parsed) ? parsed : [parsed];
    if (batch.length > DATADOG_LIMITS.maxEntries) return error(res, 400, `Too many entries: ${batch.length} (at most ${DATADOG_LIMITS.maxEntries})`);
    const bad = batch.findIndex((l) => !isObject(l));
    if (bad >= 0) return error(res, 400, `Malformed payload: log ${bad} is not an object`);
    accepted.push({ headers: req.headers, body: d.text });
    logs.push(...(batch as Record<string, unknown>[]));
    return json(res, 202, {});
  });
  return { url: s.url, requests: s.requests, accepted, logs, failNext: fail.failNext, close: s.close };
}

// ---------------------------------------------------------------- Splunk HEC

/** HEC's status codes (`code` in its answers): text and HTTP status. */
const HEC = {
  success: [0, "Success", 200],
  tokenRequired: [2, "Token is required", 401],
  invalidAuthorization: [3, "Invalid authorization", 401],
  invalidToken: [4, "Invalid token", 403],
  noData: [5, "No data", 400],
  invalidDataFormat: [6, "Invalid data format", 400],
  internalError: [8, "Internal server error", 500],
  busy: [9, "Server is busy", 503],
  eventRequired: [12, "Event field is required", 400],
  eventBlank: [13, "Event field cannot be blank", 400],
  indexedFields: [15, "Error in handling indexed fields", 400],
} as const;

/**
 * Split concatenated JSON values (whitespace between them optional): the text of each, or the index
 * of the first one that is not a well-formed JSON object.
 */
function splitConcatenated(text: string): { values: unknown[] } | { badAt: number; values: unknown[] } {
  const values: unknown[] = [];
  let i = 0;
  const ws = /\s/;
  for (;;) {
    while (i < text.length && ws.test(text[i])) i++;
    if (i >= text.length) return { values };
    if (text[i] !== "{") return { badAt: values.length, values };
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === "\\") j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) break;
      }
    }
    if (j >= text.length) return { badAt: values.length, values };
    try {
      values.push(JSON.parse(text.slice(i, j + 1)));
    } catch {
      return { badAt: values.length, values };
    }
    i = j + 1;
  }
}

/** The HEC paths that take JSON events. */
const HEC_EVENT_PATHS = new Set(["/services/collector", "/services/collector/event", "/services/collector/event/1.0"]);

export async function startFakeSplunkHec(token: string): Promise<FakeLogIntake & { events: Record<string, unknown>[] }> {
  const accepted: AcceptedBatch[] = [];
  const events: Record<string, unknown>[] = [];
  const fail = failureBudget();
  const answer = (res: http.ServerResponse, [code, text, status]: readonly [number, string, number], invalidEvent?: number) =>
    json(res, status, invalidEvent === undefined ? { text, code } : { text, code, "invalid-event-number": invalidEvent });

  /** The token the request carries: `Splunk <token>`, or Basic with the token as password. */
  function presented(req: http.IncomingMessage): string | undefined | null {
    const auth = req.headers.authorization;
    if (auth === undefined || auth.trim() === "") return undefined;
    const splunk = /^Splunk\s+(\S+)\s*$/i.exec(auth);
    if (splunk) return splunk[1];
    const basic = /^Basic\s+(\S+)\s*$/i.exec(auth);
    if (basic) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      return colon >= 0 ? decoded.slice(colon + 1) : null;
    }
    return null;
  }

  const s = await serve((req, raw, res) => {
    const path = pathOf(req).replace(/\/+$/, "");
    if (!HEC_EVENT_PATHS.has(path)) return json(res, 404, { text: "The requested URL was not found on this server.", code: 404 });
    if (req.method !== "POST") return json(res, 405, { text: "Method Not Allowed", code: 405 });
    const t = presented(req);
    if (t === undefined) return answer(res, HEC.tokenRequired);
    if (t === null) return answer(res, HEC.invalidAuthorization);
    if (t !== token) return answer(res, HEC.invalidToken);
    const failure = fail.take();
    if (failure !== undefined) {
      if (failure === 503 || failure === 429) return answer(res, [HEC.busy[0], HEC.busy[1], failure]);
      return answer(res, [HEC.internalError[0], HEC.internalError[1], failure]);
    }
    const d = decode(raw, req.headers["content-encoding"], 1024 * 1024 * 1024);
    if (!d.ok) return answer(res, HEC.invalidDataFormat);
    if (d.text.trim() === "") return answer(res, HEC.noData);
    const split = splitConcatenated(d.text);
    // Find the first invalid event, in order: a JSON error at index k counts after events 0..k-1.
    const values = split.values;
    for (let n = 0; n < values.length; n++) {
      const e = values[n] as Record<string, unknown>;
      if (!("event" in e) || e.event === null) return answer(res, HEC.eventRequired, n);
      if (e.event === "" || (typeof e.event === "string" && e.event.trim() === "")) return answer(res, HEC.eventBlank, n);
      if ("time" in e && !(typeof e.time === "number" ? Number.isFinite(e.time) : typeof e.time === "string" && /^\s*\d+(\.\d+)?\s*$/.test(e.time))) return answer(res, HEC.invalidDataFormat, n);
      for (const k of ["host", "source", "sourcetype", "index"] as const) if (k in e && typeof e[k] !== "string") return answer(res, HEC.invalidDataFormat, n);
      if ("fields" in e && (!isObject(e.fields) || Object.values(e.fields).some((v) => isObject(v)))) return answer(res, HEC.indexedFields, n);
    }
    if ("badAt" in split) return answer(res, HEC.invalidDataFormat, split.badAt);
    accepted.push({ headers: req.headers, body: d.text });
    events.push(...(values as Record<string, unknown>[]));
    return answer(res, HEC.success);
  });
  return { url: s.url, requests: s.requests, accepted, events, failNext: fail.failNext, close: s.close };
}

// ---------------------------------------------------------------- generic HTTP sink

export async function startFakeHttpSink(opts: { authorization?: string } = {}): Promise<FakeLogIntake & { lines: Record<string, unknown>[]; duplicates: number }> {
  const accepted: AcceptedBatch[] = [];
  const lines: Record<string, unknown>[] = [];
  const keys = new Map<string, number>();
  const fail = failureBudget();
  const state = { duplicates: 0 };
  const error = (res: http.ServerResponse, status: number, message: string) => json(res, status, { error: message });

  const s = await serve((req, raw, res) => {
    if (req.method !== "POST") return error(res, 405, "method not allowed");
    if (opts.authorization !== undefined && req.headers.authorization !== opts.authorization) return error(res, 401, "unauthorized");
    const failure = fail.take();
    if (failure !== undefined) return error(res, failure, (http.STATUS_CODES[failure] ?? "error").toLowerCase());
    const type = mediaType(req);
    if (type !== "application/x-ndjson") return error(res, 415, `unsupported content type: ${type || "(none)"}`);
    const d = decode(raw, req.headers["content-encoding"], 64 * 1024 * 1024);
    if (!d.ok) {
      if (d.why === "too large") return error(res, 413, "payload too large");
      return error(res, d.why === "unsupported" ? 415 : 400, d.why === "unsupported" ? `unsupported content encoding: ${req.headers["content-encoding"]}` : "body cannot be decoded");
    }
    const batch: Record<string, unknown>[] = [];
    const textLines = d.text.split("\n");
    for (let n = 0; n < textLines.length; n++) {
      const line = textLines[n].trim();
      if (line === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        return error(res, 400, `line ${n + 1} is not JSON`);
      }
      if (!isObject(v)) return error(res, 400, `line ${n + 1} is not a JSON object`);
      batch.push(v);
    }
    const key = req.headers["idempotency-key"];
    if (typeof key === "string" && keys.has(key)) {
      state.duplicates++;
      return json(res, 200, { accepted: keys.get(key) });
    }
    if (typeof key === "string") keys.set(key, batch.length);
    accepted.push({ headers: req.headers, body: d.text });
    lines.push(...batch);
    return json(res, 200, { accepted: batch.length });
  });
  return {
    url: s.url,
    requests: s.requests,
    accepted,
    lines,
    get duplicates() {
      return state.duplicates;
    },
    failNext: fail.failNext,
    close: s.close,
  };
}
