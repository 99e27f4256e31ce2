// Provider pass-through: /passthrough/{provider}/{path} sends the request as it is to the named
// provider connection's base URL + path, with the provider's own credentials (its API key header,
// Azure's api-key, Anthropic's x-api-key, Gemini's x-goog-api-key, Vertex's OAuth token, Bedrock's
// SigV4 signature), and streams the answer back as it comes: for the provider APIs the gateway does
// not model (fine-tuning, vector stores, provider batch and file APIs, new endpoints on release
// day) behind the gateway's keys, limits, budgets, usage records and traces.
//
// - Who: a key whose allow list names `passthrough:<provider>` (or a pattern of it, like
//   `passthrough:*`), an admin key, or anyone when auth is off. An allow list that is empty (every
//   model) does not include pass-through: raw access to a provider is granted by name.
// - What is sent: the method, the path and query, the body (an upload as it is read, up to 512 MB;
//   JSON read whole, within server.max_request_bytes), and the caller's headers except its
//   credentials (authorization, api-key, x-api-key, x-goog-api-key, cookies), hop-by-hop headers,
//   accept-encoding (so usage can be read) and the gateway's own x-signalbox-* headers.
// - What is recorded: one usage record (operation passthrough) with the method and path, the
//   upstream status, and the tokens and cost when the answer reports usage in a shape the gateway
//   reads (OpenAI's chat, completions, embeddings and Responses; Anthropic's Messages; Gemini's
//   usageMetadata; Bedrock's Converse), whole or streamed (server-sent events); priced at the provider's deployment of that model, else at
//   the catalog's price. Rate limits count it as a request; a spent budget refuses it; what it
//   cost is settled against the budget.

import type { ServerResponse } from "node:http";
import { Transform, type Readable } from "node:stream";
import type { ProviderConfig } from "../config/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { allowListAllows } from "../config/wildcards.ts";
import { lookupModel } from "../config/catalog.ts";
import { resolvePricing } from "../config/pricing.ts";
import { refusal, toolAdmission, toolSettlement, type Admission } from "../limits/admission.ts";
import { adapterFor } from "../providers/registry.ts";
import type { Transport } from "../providers/transport.ts";
import { classifyTransportError } from "../providers/transport.ts";
import { ANTHROPIC_VERSION } from "../providers/anthropic/index.ts";
import { convertAnthropicUsage, mergeAnthropicUsage } from "../providers/anthropic/convert-anthropic-usage.ts";
import type { AnthropicUsage } from "../providers/anthropic/anthropic-api-types.ts";
import { convertGeminiUsage } from "../providers/gemini/gemini-response.ts";
import { convertOpenAIUsage } from "../providers/openai/openai-stream.ts";
import { ProviderError, type HttpRequestSpec, type SseEvent, type StreamDecoder, type Usage } from "../providers/types.ts";
import { createBedrockStreamDecoder } from "../providers/bedrock/bedrock-event-stream.ts";
import { GatewayError, type GatewayCode } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { log } from "../telemetry/log.ts";
import { computeCost, ZERO_COST, ZERO_USAGE, type CostBreakdown } from "../usage/cost.ts";
import type { UsageRecord } from "../usage/record.ts";
import { readBody } from "./handler.ts";
import { MAX_PASSTHROUGH_BYTES, PASSTHROUGH_PREFIX } from "../server/validate.ts";
import type { Req, Res } from "./door.ts";

export { PASSTHROUGH_PREFIX };

export type Passthrough = (req: Req, res: Res, url: string, ri: RequestInfo, caller: Caller, signal: AbortSignal) => Promise<number>;

/** Request headers never passed on: the caller's credentials, hop-by-hop headers, what the transport sets. */
const DROP_REQUEST = new Set([
  "authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie", "host", "connection", "keep-alive", "proxy-authorization", "proxy-connection",
  "te", "trailer", "transfer-encoding", "upgrade", "content-length", "accept-encoding", "expect", "traceparent", "tracestate",
]);
/** Response headers not passed back (hop-by-hop; the length is the body's own). */
const DROP_RESPONSE = new Set(["connection", "keep-alive", "transfer-encoding", "trailer", "upgrade", "proxy-connection", "set-cookie"]);
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
/** Most of an answer kept to read its usage (a JSON answer; a stream is read event by event). */
const MAX_USAGE_TEXT = 4 * 1024 * 1024;

/** HTTP status → the record's status. */
function statusName(s: number): "ok" | GatewayCode {
  if (s < 400) return "ok";
  if (s === 400 || s === 413 || s === 422) return "invalid_argument";
  if (s === 401) return "unauthenticated";
  if (s === 403) return "permission_denied";
  if (s === 404) return "not_found";
  if (s === 408 || s === 504) return "deadline_exceeded";
  if (s === 409) return "aborted";
  if (s === 429) return "resource_exhausted";
  return "unavailable";
}

/** Resolves when the response may be written again, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** A request body read as it is sent on, cut (an error) past `max` bytes. */
function limitedBody(req: Readable, max: number): { stream: Readable; tooLarge(): boolean } {
  let seen = 0;
  let over = false;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) {
        over = true;
        done(new Error("body too large"));
        return;
      }
      done(null, chunk);
    },
  });
  req.pipe(stream);
  req.once("error", (e) => stream.destroy(e));
  return { stream, tooLarge: () => over };
}

/** A path and query without a `key` query parameter. */
function withoutKeyParam(path: string): string {
  const q = path.indexOf("?");
  if (q < 0) return path;
  const params = new URLSearchParams(path.slice(q + 1));
  if (!params.has("key")) return path;
  params.delete("key");
  const rest = params.toString();
  return path.slice(0, q) + (rest ? `?${rest}` : "");
}

/** The provider's credentials as headers, for the types that take a header (Bedrock and Vertex sign instead). */
function credentialHeaders(conn: ProviderConfig, incoming: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = {};
  const key = conn.apiKey;
  if (key) {
    if (conn.type === "azure") h["api-key"] = key;
    else if (conn.type === "anthropic") h["x-api-key"] = key;
    else if (conn.type === "gemini") h["x-goog-api-key"] = key;
    else if (conn.type !== "bedrock" && conn.type !== "vertex") h.authorization = `Bearer ${key}`;
  }
  if (conn.type === "anthropic" && !incoming["anthropic-version"]) h["anthropic-version"] = ANTHROPIC_VERSION;
  for (const [k, v] of Object.entries(conn.headers)) h[k.toLowerCase()] = v;
  return h;
}

/** The model a request names: its JSON body's `model`, else the path's (Gemini's models/{m}:…, Bedrock's model/{id}/…, Azure's deployments/{name}/…). */
function modelOf(path: string, body: unknown): string {
  if (body && typeof body === "object" && typeof (body as { model?: unknown }).model === "string") return (body as { model: string }).model;
  const m = /\/(?:models|model|deployments)\/([^/:?]+)/.exec(path);
  return m ? decodeURIComponent(m[1]) : "";
}

/** How an answer's body is framed, for reading its usage. */
export type AnswerFraming = "json" | "sse" | "eventstream";

/** The framing of an answer by its content type: server-sent events, Bedrock's binary event stream, or a body read whole. */
export const framingOf = (contentType: string): AnswerFraming => (/vnd\.amazon\.eventstream/i.test(contentType) ? "eventstream" : /event-stream/i.test(contentType) ? "sse" : "json");

/**
 * Reads usage out of an answer as it passes: a JSON body at its end, or a stream's events as they
 * come (the last usage an OpenAI or Gemini stream reports; Anthropic's message_start and
 * message_delta merged; the Responses API's response.completed; Bedrock's binary event streams:
 * ConverseStream's `metadata` event, InvokeModelWithResponseStream's chunks with the model's own
 * usage and Bedrock's `amazon-bedrock-invocationMetrics`).
 */
export class UsageReader {
  private text = "";
  private tooLong = false;
  private pending = "";
  private anthropic: AnthropicUsage | undefined;
  usage: Usage | undefined;
  private readonly sse: boolean;
  private readonly reportsCost: boolean;
  private frames: StreamDecoder | undefined;
  constructor(framing: AnswerFraming, reportsCost: boolean) {
    this.sse = framing !== "json";
    this.reportsCost = reportsCost;
    if (framing === "eventstream") this.frames = createBedrockStreamDecoder("passthrough");
  }

  chunk(b: Uint8Array): void {
    if (this.frames) return this.events(() => this.frames!.push(b));
    const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
    if (!this.sse) {
      if (this.tooLong) return;
      this.text += s;
      if (this.text.length > MAX_USAGE_TEXT) {
        this.tooLong = true;
        this.text = "";
      }
      return;
    }
    this.pending += s;
    let nl: number;
    while ((nl = this.pending.indexOf("\n")) >= 0) {
      const line = this.pending.slice(0, nl).trimEnd();
      this.pending = this.pending.slice(nl + 1);
      if (line.startsWith("data:") && /usage/i.test(line)) this.take(line.slice(5).trim());
    }
    if (this.pending.length > MAX_USAGE_TEXT) this.pending = "";
  }

  end(): Usage | undefined {
    if (this.frames) this.events(() => this.frames!.end());
    if (!this.sse && !this.tooLong && this.text) this.take(this.text);
    return this.usage;
  }

  /** Bedrock's frames: the usage events read; a stream that cannot be decoded is not read further (it is still relayed). */
  private events(next: () => SseEvent[]): void {
    let evs: SseEvent[];
    try {
      evs = next();
    } catch {
      this.frames = undefined;
      return;
    }
    for (const e of evs) {
      if (e.event === "metadata") this.take(e.data);
      else if (e.event === "chunk") {
        let inner: Record<string, any>;
        try {
          inner = JSON.parse(Buffer.from((JSON.parse(e.data) as { bytes?: string }).bytes ?? "", "base64").toString("utf8"));
        } catch {
          continue;
        }
        const m = inner?.["amazon-bedrock-invocationMetrics"];
        if (m && typeof m.inputTokenCount === "number") {
          // Bedrock's own count of the call (input here excludes cache reads and writes).
          const read = typeof m.cacheReadInputTokenCount === "number" ? m.cacheReadInputTokenCount : 0;
          const write = typeof m.cacheWriteInputTokenCount === "number" ? m.cacheWriteInputTokenCount : 0;
          this.usage = { ...ZERO_USAGE, inputTokens: m.inputTokenCount + read + write, outputTokens: typeof m.outputTokenCount === "number" ? m.outputTokenCount : 0, cachedInputTokens: read, cacheWriteTokens: write };
        } else if (inner && typeof inner === "object") this.takeObject(inner);
      }
    }
  }

  private take(json: string): void {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(json);
    } catch {
      return;
    }
    if (v && typeof v === "object") this.takeObject(v);
  }

  private takeObject(o: Record<string, any>): void {
    if (o.usageMetadata) {
      this.usage = convertGeminiUsage(o.usageMetadata);
      return;
    }
    const msg = o.type === "message_start" ? o.message : o;
    const anth = msg?.usage && (o.type === "message_start" || o.type === "message_delta" || o.type === "message") ? (msg.usage as AnthropicUsage) : undefined;
    if (anth) {
      this.anthropic = this.anthropic ? mergeAnthropicUsage(this.anthropic, anth) : anth;
      this.usage = convertAnthropicUsage(this.anthropic);
      return;
    }
    const u = (o.response as Record<string, any> | undefined)?.usage ?? o.usage;
    if (!u || typeof u !== "object") return;
    if (typeof u.inputTokens === "number") {
      // Bedrock's Converse: input excludes cache reads and writes.
      const read = typeof u.cacheReadInputTokens === "number" ? u.cacheReadInputTokens : 0;
      const write = typeof u.cacheWriteInputTokens === "number" ? u.cacheWriteInputTokens : 0;
      this.usage = { ...ZERO_USAGE, inputTokens: u.inputTokens + read + write, outputTokens: typeof u.outputTokens === "number" ? u.outputTokens : 0, cachedInputTokens: read, cacheWriteTokens: write };
    } else if (typeof u.prompt_tokens === "number" || typeof u.completion_tokens === "number") {
      this.usage = convertOpenAIUsage(u, this.reportsCost);
    } else if (typeof u.input_tokens === "number") {
      // The Responses API (and Anthropic's shape without a type): input includes cached tokens.
      this.usage = {
        ...ZERO_USAGE,
        inputTokens: u.input_tokens,
        outputTokens: typeof u.output_tokens === "number" ? u.output_tokens : 0,
        cachedInputTokens: typeof u.input_tokens_details?.cached_tokens === "number" ? u.input_tokens_details.cached_tokens : 0,
        reasoningTokens: typeof u.output_tokens_details?.reasoning_tokens === "number" ? u.output_tokens_details.reasoning_tokens : 0,
      };
    }
  }
}

export function createPassthrough(core: GatewayCore, transport: Transport): Passthrough {
  const maxBytes = core.config.server.maxRequestBytes;

  /** What a model costs through this provider: its deployment's price, else the catalog's. */
  function priceOf(provider: string, model: string) {
    if (!model) return undefined;
    const d = core.registry.config.deployments.find((x) => x.provider === provider && (x.model === model || x.baseModel === model));
    if (d) return { pricing: d.pricing, deployment: d.id };
    const cat = lookupModel(model);
    return cat ? { pricing: resolvePricing(cat, undefined).pricing, deployment: "" } : undefined;
  }

  return async (req, res, url, ri, caller, signal) => {
    const arrived = performance.now();
    const rest = url.slice(PASSTHROUGH_PREFIX.length);
    const slash = rest.indexOf("/");
    const name = decodeURIComponent(slash < 0 ? rest.split("?")[0] : rest.slice(0, slash));
    // Gemini's ?key= carries the caller's key (read by the front door): never passed on.
    const upstreamPath = withoutKeyParam(slash < 0 ? "/" : rest.slice(slash));
    const method = (req.method ?? "GET").toUpperCase();
    let status: string = "ok";
    let refused: "rate_limit" | "budget" | undefined;
    let admission: Admission | undefined;
    let usage: Usage | undefined;
    let cost: CostBreakdown = ZERO_COST;
    let upstreamStatus = 0;
    let model = "";
    let deployment = "";
    let streamed = false;
    try {
      const conn = core.registry.provider(name);
      if (!conn) throw new GatewayError("not_found", `provider: no provider connection "${name}" (the path is /passthrough/<provider name>/<path>)`, { field: "provider" });
      if (!(caller.role === "admin" || caller.role === "anonymous" || (caller.allow.length > 0 && allowListAllows(caller.allow, `passthrough:${name}`)))) {
        throw new GatewayError("permission_denied", `provider: key "${caller.keyName}" may not pass requests through to "${name}" (its allow list must name passthrough:${name})`, { field: "provider" });
      }
      if (conn.type === "mock") throw new GatewayError("invalid_argument", `provider: "${name}" is the built-in mock, which has no HTTP API to pass through to`, { field: "provider" });
      if (!METHODS.has(method)) throw new GatewayError("invalid_argument", `method: ${method} is not passed through (GET, POST, PUT, PATCH, DELETE, HEAD)`, { field: "method" });

      const incoming: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || k.startsWith(":") || DROP_REQUEST.has(k) || k.startsWith("x-signalbox-")) continue;
        incoming[k] = Array.isArray(v) ? v.join(", ") : v;
      }
      const hasBody = !(method === "GET" || method === "HEAD" || method === "DELETE");
      // Uploads (multipart, binary) go on as they are read; JSON is read whole (its model prices
      // the answer) and so is anything Bedrock signs.
      const sendAsRead = hasBody && !/json/i.test(incoming["content-type"] ?? "") && conn.type !== "bedrock";
      const declared = Number(req.headers["content-length"] ?? 0);
      if (hasBody && !sendAsRead && declared > maxBytes) {
        // Read whole, so within the gateway's limit (uploads go on as they are read instead).
        status = "invalid_argument";
        const text = JSON.stringify({ error: { message: `body: a JSON (or Bedrock) pass-through body is read whole: at most ${maxBytes} bytes (server.max_request_bytes), got ${declared}`, type: "invalid_request_error", param: "body", code: "request_too_large" } });
        (res as ServerResponse).writeHead(413, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), connection: "close", "x-request-id": ri.id });
        res.end(text);
        return 413;
      }
      const body = hasBody && !sendAsRead ? await readBody(req as never, maxBytes) : undefined;
      let parsed: unknown;
      if (body?.length && /json/i.test(incoming["content-type"] ?? "")) {
        try {
          parsed = JSON.parse(body.toString("utf8"));
        } catch {
          // Sent as it is: the provider answers for it.
        }
      }
      model = modelOf(upstreamPath, parsed);
      const price = priceOf(name, model);
      deployment = price?.deployment ?? "";

      // Limits and budgets: a request to rate limits; a budget already spent refuses it.
      // It holds one nano-dollar while it runs: a budget with nothing left refuses it.
      const a = toolAdmission(core.control.directory, caller, undefined, ri.id, 1, Math.max(conn.timeouts.headersMs + conn.timeouts.bodyMs, 60_000), Date.now());
      if (a) {
        const r = await core.limits.admit(a.request);
        if (!r.ok) {
          refused = r.kind === "rate" ? "rate_limit" : "budget";
          throw refusal(r);
        }
        admission = a;
      }

      // An upload is read only once it is admitted, as it is sent on; it keeps its announced length
      // (some upload endpoints need it).
      const maxUpload = core.config.server.maxPassthroughBytes ?? MAX_PASSTHROUGH_BYTES;
      const upload = sendAsRead ? limitedBody(req as Readable, maxUpload) : undefined;
      if (upload && req.headers["content-length"] !== undefined) incoming["content-length"] = String(req.headers["content-length"]);
      let spec: HttpRequestSpec = { method: method as HttpRequestSpec["method"], path: upstreamPath, headers: { ...incoming, ...credentialHeaders(conn, incoming) }, ...(body ? { bytes: body } : {}), ...(upload ? { stream: upload.stream } : {}) };
      const adapter = adapterFor(conn);
      if (adapter?.authorize) {
        // SigV4 signs the body as text; a JSON or text body is what Bedrock's APIs take.
        if (body) spec = { ...spec, body: body.toString("utf8"), bytes: undefined };
        spec = await adapter.authorize(spec, { baseUrl: conn.baseUrl, signal });
      }
      let up;
      try {
        up = await transport.request(conn, spec, signal);
      } catch (err) {
        if (upload?.tooLarge()) throw new GatewayError("resource_exhausted", `body: a pass-through upload is at most ${maxUpload} bytes (server.max_passthrough_bytes)`, { field: "body" });
        throw err;
      }
      upstreamStatus = up.status;
      status = statusName(up.status);
      const head: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !DROP_RESPONSE.has(k)) head[k] = v;
      // The provider's own request id stays readable beside the gateway's (x-request-id, the record's id).
      if (head["x-request-id"] !== undefined) head["x-upstream-request-id"] = head["x-request-id"];
      const contentType = String(up.headers["content-type"] ?? "");
      const framing = framingOf(contentType);
      streamed = framing !== "json";
      const reader = up.status < 300 ? new UsageReader(framing, conn.type === "openrouter") : undefined;
      (res as ServerResponse).writeHead(up.status, { ...head, "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId });
      try {
        for await (const chunk of up.body) {
          reader?.chunk(chunk);
          // A slow caller holds the provider's reads back; one that left ends the loop.
          if (!(res as ServerResponse).write(chunk)) await drained(res as ServerResponse);
          if (signal.aborted) break;
        }
      } catch (err) {
        // Cut mid-answer: what came is all the caller gets.
        status = signal.aborted ? "canceled" : "unavailable";
        (res as ServerResponse).destroy();
        throw classifyTransportError(err, signal, conn);
      }
      res.end();
      usage = reader?.end();
      if (usage && price) cost = computeCost(usage, price.pricing);
      return up.status;
    } catch (err) {
      if (res.headersSent) return upstreamStatus || 502;
      if (err instanceof ProviderError) {
        const code = err.kind === "timeout" ? "deadline_exceeded" : "unavailable";
        status = code;
        throw new GatewayError(code, `passthrough to "${name}" failed: ${err.message}`, { failureKind: err.kind });
      }
      if (err instanceof GatewayError) status = err.code;
      else status = "internal";
      throw err;
    } finally {
      if (signal.aborted && status === "ok") status = "canceled";
      if (admission) core.limits.settle(toolSettlement(admission, cost.total, Date.now()));
      const q = upstreamPath.indexOf("?");
      const r: UsageRecord = {
        id: ri.id,
        time: Date.now(),
        operation: "passthrough",
        key: caller.keyName,
        team: caller.team,
        user: "",
        model,
        routing: { route: `passthrough:${name}`, alias: "", strategy: "", variant: "" },
        deployment,
        provider: name,
        attempts: [],
        usage: usage ?? { ...ZERO_USAGE },
        usageEstimated: false,
        cost,
        latencyMs: Math.round(performance.now() - arrived),
        overheadUs: 0,
        cacheHit: false,
        status,
        ...(refused ? { refusal: refused } : {}),
        traceId: ri.traceId,
        tags: ["passthrough"],
        metadata: { method, path: q < 0 ? upstreamPath : upstreamPath.slice(0, q), ...(upstreamStatus ? { upstream_status: String(upstreamStatus) } : {}) },
        streamed,
      };
      try {
        core.usage.record(r);
      } catch (e) {
        log("error", "passthrough: could not record a request", { provider: name, error: String(e) });
      }
    }
  };
}
