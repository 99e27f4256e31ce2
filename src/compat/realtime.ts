// OpenAI's Realtime API on the gateway's port: a WebSocket at /v1/realtime?model=<route, alias or
// deployment>, as the official SDKs open it (`OpenAIRealtimeWS`, the Agents SDK's
// `OpenAIRealtimeWebSocket`, a browser's `new WebSocket(url, ["realtime",
// "openai-insecure-api-key.<key>"])`). The caller's key comes from Authorization: Bearer, api-key,
// or that sub-protocol; `signalbox=<JSON>` in the query carries the routing options of the other
// doors' `signalbox` object (fallbacks, sticky_key, tags, max_cost_nano_usd, no_fallback).
//
// Everything that can refuse a session happens before the caller's WebSocket is accepted, so a
// refusal is a plain HTTP answer in OpenAI's error shape that the SDKs report (401, 404, 429 with
// retry-after, 502 when no provider took it): the key, the model, the plan, admission (limits and
// budgets) and the provider's own handshake, falling back to the next deployment when one refuses.
// Then events go both ways unchanged, frame for frame; only the provider's `response.done` events
// are parsed, for their usage. A budget that runs out mid-session ends it with an `error` event
// (code budget_exhausted) and close code 1008. A draining gateway closes its sessions with 1001.

import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import type { Span } from "@opentelemetry/api";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { RealtimeEnd, RealtimeSession } from "../engine/realtime.ts";
import type { GatewayCore } from "../gateway.ts";
import { closable, loadWs, realtimeUsage } from "../providers/realtime.ts";
import { ProviderError } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { RealtimeCall } from "../router/types.ts";
import { newRequestId, traceIdFrom, type RequestInfo } from "../server/context.ts";
import { log } from "../telemetry/log.ts";
import { endHttpSpan, startHttpSpan } from "../telemetry/tracing.ts";
import { signalboxOptions } from "./request.ts";
import { toOpenAIError } from "./response.ts";

export const REALTIME_PATH = "/v1/realtime";
/** The browsers' way to send a key (they cannot set headers on a WebSocket). */
const KEY_PROTOCOL = "openai-insecure-api-key.";
/** Largest event a caller may send (a second of 24 kHz PCM16 is 64 kB in base64; OpenAI takes 15 MB appends). */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;
/** A `response.done` names its type in its first bytes (`{"type":"response.done",…}` or after a short event_id). */
const DONE_MARK = Buffer.from('"response.done"');
const HEAD_BYTES = 96;
/**
 * Most the gateway holds for a caller that does not read (a stalled client while the provider
 * streams audio at 24 kB a second): past it the session ends (1008) instead of growing the heap.
 */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

export interface RealtimeDoor {
  /** An HTTP/1.1 upgrade request: true when it was for /v1/realtime (and is now answered). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Close every open session (the gateway is draining): code 1001, the caller reconnects elsewhere. */
  closeAll(): void;
  /** Sessions open now. */
  readonly open: number;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** An HTTP answer on a socket that asked to upgrade (the WebSocket was never accepted). */
function refuse(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`, "content-type: application/json", `content-length: ${Buffer.byteLength(text)}`, "connection: close"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.end(`${lines.join("\r\n")}\r\n\r\n${text}`);
}

/** Whether a server event is `response.done` (its type is near the start of the frame). */
export function isResponseDone(data: Buffer): boolean {
  return data.subarray(0, HEAD_BYTES).includes(DONE_MARK);
}

export function createRealtimeDoor(core: GatewayCore, engine: ChatEngine): RealtimeDoor {
  // One server for every session, without a listener of its own: the gateway's port hands it the
  // upgrades. The caller's "realtime" sub-protocol is echoed (a browser that asked for one fails
  // without it); the key sub-protocol never is.
  // Headers of the 101 answer, per upgrade request.
  const extra = new WeakMap<IncomingMessage, string[]>();
  // Made with the first session: a gateway that serves none never loads `ws`.
  let wss: WebSocketServer | undefined;
  const server = async (): Promise<WebSocketServer> => {
    if (wss) return wss;
    const { WebSocketServer } = await loadWs();
    wss ??= new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: MAX_EVENT_BYTES,
      handleProtocols: (protocols) => (protocols.has("realtime") ? "realtime" : false),
    });
    wss.on("headers", (headers, req) => {
      const h = extra.get(req);
      if (h) headers.push(...h);
    });
    return wss;
  };
  const sessions = new Set<{ close(code: number, reason: string): void }>();

  async function open(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    const arrivedAt = performance.now();
    const tracer = core.tracing?.tracer;
    const span = tracer ? startHttpSpan(tracer, "GET", REALTIME_PATH, req.headers) : undefined;
    const traceId = span ? span.span.spanContext().traceId : traceIdFrom(header(req, "traceparent") ?? null);
    const ri: RequestInfo = { id: newRequestId(), traceId, arrivedAt, otel: span?.ctx };
    const ids = { "x-request-id": ri.id, "x-signalbox-trace-id": traceId };
    // The caller going away before its WebSocket was accepted cancels the handshake with the provider.
    const ac = new AbortController();
    const gone = () => ac.abort(new ProviderError({ kind: "canceled", message: "the caller went away before the session opened" }));
    socket.once("close", gone);
    let status = 101;
    let message: string | undefined;
    let accepted = false;
    try {
      const protocols = (header(req, "sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
      const fromProtocol = protocols.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(KEY_PROTOCOL.length);
      const apiKey = header(req, "api-key") ?? header(req, "x-api-key") ?? fromProtocol;
      const caller = core.auth.authenticate(header(req, "authorization") ?? (apiKey ? `Bearer ${apiKey}` : null));
      if (query.has("call_id")) throw new GatewayError("invalid_argument", "call_id: sideband connections to WebRTC calls are not supported by this gateway; open a session with ?model=", { field: "call_id" });
      if (query.has("intent")) throw new GatewayError("invalid_argument", "intent: transcription-only sessions are not supported by this gateway; open a session with ?model= (or use /v1/audio/transcriptions)", { field: "intent" });
      const model = query.get("model") || query.get("deployment") || "";
      if (!model) throw new GatewayError("invalid_argument", "model: is required (?model=<route, alias or deployment> that serves realtime)", { field: "model" });
      let sb: unknown = {};
      const raw = query.get("signalbox");
      if (raw !== null) {
        try {
          sb = JSON.parse(raw);
        } catch {
          throw new GatewayError("invalid_argument", "signalbox: must be a JSON object (URL-encoded in the query)", { field: "signalbox" });
        }
        if (!sb || typeof sb !== "object" || Array.isArray(sb)) throw new GatewayError("invalid_argument", "signalbox: must be a JSON object (URL-encoded in the query)", { field: "signalbox" });
      }
      const opts = signalboxOptions({ signalbox: sb } as never, model, undefined);
      const user = query.get("user") ?? undefined;
      const call: RealtimeCall = { id: ri.id, operation: "realtime", model, routing: opts.routing, tags: opts.tags, metadata: {}, caller, ...(user ? { user } : {}), ...(opts.guardrails ? { guardrails: opts.guardrails } : {}), request: {} };
      const beta = header(req, "openai-beta");
      const ws = await server();
      const answer = await engine.realtime({
        call,
        ri,
        signal: ac.signal,
        statusOf: (err) => (err instanceof GatewayError ? err.code : ac.signal.aborted ? "canceled" : "internal"),
        headers: beta ? { "openai-beta": beta } : {},
        relay: (s) => {
          socket.off("close", gone);
          if (socket.destroyed) {
            s.link.close(1001, "the caller went away");
            return Promise.resolve({ responses: 0 });
          }
          accepted = true;
          extra.set(req, [`x-request-id: ${ri.id}`, `x-signalbox-trace-id: ${traceId}`, `x-signalbox-deployment: ${s.deployment}`]);
          return relay(ws, req, socket, head, s, span?.span);
        },
      });
      message = `${answer.responses} responses`;
    } catch (err) {
      const e = toOpenAIError(err);
      status = e.status;
      message = e.body.error.message;
      if (!accepted) refuse(socket, e.status, e.body, { ...e.headers, ...ids });
      else log("warn", "realtime: session ended with an error", { id: ri.id, status, reason: message });
    } finally {
      socket.off("close", gone);
      if (span) endHttpSpan(span.span, status, message);
    }
  }

  /** Accept the caller's WebSocket and relay the session until either side ends it. */
  function relay(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, s: RealtimeSession, span: Span | undefined): Promise<RealtimeEnd> {
    return new Promise((resolve) => {
      const end: RealtimeEnd = { responses: 0 };
      let client: WebSocket | undefined;
      let pending: { data: Buffer; binary: boolean }[] | undefined = [];
      let done = false;
      const entry = { close: (code: number, reason: string) => closeBoth(code, reason) };
      sessions.add(entry);
      const finish = () => {
        if (done) return;
        done = true;
        sessions.delete(entry);
        resolve(end);
      };
      function closeBoth(code: number, reason: string): void {
        s.link.close(code, reason);
        if (client && client.readyState <= 1) client.close(code, reason);
        else if (!client) socket.destroy();
        finish();
      }
      const toClient = (data: Buffer, binary: boolean) => {
        if (pending) pending.push({ data, binary });
        else if (client && client.readyState === 1) {
          if (client.bufferedAmount > MAX_UNREAD_BYTES) {
            end.gatewayError = new GatewayError("resource_exhausted", `the caller read nothing while ${MAX_UNREAD_BYTES} bytes of the session waited for it`);
            return closeBoth(1008, "the caller is not reading");
          }
          client.send(data, { binary });
        }
      };
      // The caller gone before its WebSocket was accepted: the provider's side is closed too.
      socket.once("close", () => {
        if (!client) closeBoth(1001, "the caller went away");
      });
      const onMessage = (data: Buffer, binary: boolean) => {
        toClient(data, binary);
        if (binary || !isResponseDone(data)) return;
        let usage;
        try {
          usage = realtimeUsage((JSON.parse(data.toString("utf8")) as { response?: { usage?: unknown } }).response?.usage);
        } catch {
          return;
        }
        if (!usage) return;
        end.responses++;
        // The session's span shows each response as it is done.
        span?.addEvent("gen_ai.realtime.response", { "gen_ai.usage.input_tokens": usage.inputTokens, "gen_ai.usage.output_tokens": usage.outputTokens, "signalbox.response": end.responses });
        const growing = s.meter(usage);
        growing?.catch((err: unknown) => {
          if (done) return;
          end.gatewayError = err instanceof GatewayError ? err : new GatewayError("internal", (err as Error)?.message ?? String(err));
          const e = toOpenAIError(end.gatewayError);
          toClient(Buffer.from(JSON.stringify({ type: "error", event_id: `event_sbx_${Date.now().toString(36)}`, error: { type: e.body.error.type, code: "budget_exhausted", message: e.body.error.message, param: null, event_id: null } })), false);
          closeBoth(1008, "budget exhausted");
        });
      };
      const onClose = (code: number, reason: string, abnormal: boolean) => {
        if (done) return;
        if (abnormal || code === 1011) end.providerError = new ProviderError({ kind: "stream_interrupted", message: abnormal ? `${s.provider} dropped the session without a close frame` : `${s.provider} closed the session with code ${code}${reason ? ` (${reason})` : ""}` });
        // What the provider said last still reaches the caller, then its close code.
        const flushAndClose = () => {
          if (client && client.readyState <= 1) client.close(closable(abnormal ? 1011 : code), reason.slice(0, 120));
          else if (!client) socket.destroy();
          finish();
        };
        flushAndClose();
      };
      s.link.start({ message: onMessage, close: onClose });
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        client = ws;
        if (done) {
          ws.close(1001, "session ended");
          return;
        }
        const queued = pending ?? [];
        pending = undefined;
        for (const m of queued) ws.send(m.data, { binary: m.binary });
        ws.on("message", (data: Buffer, binary: boolean) => s.link.send(data, binary));
        ws.on("error", () => {});
        ws.once("close", (code: number, reason: Buffer) => {
          if (done) return;
          // The caller's close ends the session: the provider is told the same.
          s.link.close(closable(code), reason.toString("utf8"));
          finish();
        });
      });
    });
  }

  return {
    upgrade(req, socket, head) {
      const url = req.url ?? "";
      const q = url.indexOf("?");
      const path = q < 0 ? url : url.slice(0, q);
      if (path !== REALTIME_PATH) return false;
      socket.on("error", () => socket.destroy());
      if (header(req, "upgrade")?.toLowerCase() !== "websocket") {
        refuse(socket, 400, { error: { message: "upgrade: the Realtime API is a WebSocket (Upgrade: websocket)", type: "invalid_request_error", param: "upgrade", code: null } });
        return true;
      }
      open(req, socket, head, new URLSearchParams(q < 0 ? "" : url.slice(q + 1))).catch((err) => {
        log("error", "realtime: session failed", { reason: (err as Error)?.message });
        socket.destroy();
      });
      return true;
    },
    closeAll() {
      for (const s of [...sessions]) s.close(1001, "the gateway is going away");
    },
    get open() {
      return sessions.size;
    },
  };
}
