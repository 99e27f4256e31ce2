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
// are parsed, for their usage, and its transcriptions of the caller's audio and session
// configuration events (which model transcribes, at what price). A budget that runs out mid-session ends it with an `error` event
// (code budget_exhausted) and close code 1008. A draining gateway closes its sessions with 1001.
//
// WebRTC calls (POST /v1/realtime/calls): the caller's SDP offer goes through the same plan,
// admission and fallbacks to the provider's calls endpoint, with the provider's key; its SDP
// answer comes back (201, Location /v1/realtime/calls/{call_id}). The audio then flows between the
// caller and the provider directly; the gateway watches the call over the provider's sideband
// (/v1/realtime?call_id=) and meters it there, as a session. The caller's own server may attach a
// sideband of its own through the gateway (`?call_id=` on this door, the same key) and hang the
// call up (POST /v1/realtime/calls/{call_id}/hangup), through any replica: the call id the caller
// is given is signed and names the deployment and the provider's call id. Client secrets (realtime-secrets.ts) let a
// browser open either kind without the gateway key.

import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import type { Span } from "@opentelemetry/api";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { RealtimeEnd, RealtimeSession } from "../engine/realtime.ts";
import type { GatewayCore } from "../gateway.ts";
import type { ProviderConfig } from "../config/types.ts";
import { closable, hangupCall, loadWs, openSideband, realtimeUsage, transcriptionModelOf, transcriptionUsage, type RealtimeCallInfo, type RealtimeHandlers, type RealtimeLink, type RealtimeOffer } from "../providers/realtime.ts";
import { ProviderError } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller, RealtimeCall } from "../router/types.ts";
import { newRequestId, traceIdFrom, type RequestInfo } from "../server/context.ts";
import { log } from "../telemetry/log.ts";
import { endHttpSpan, startHttpSpan } from "../telemetry/tracing.ts";
import { signalboxOptions } from "./request.ts";
import { toOpenAIError } from "./response.ts";
import { allowListAllows } from "../config/wildcards.ts";
import { createSecretBook, parseSecretRequest, SECRET_PREFIX, type SecretClaims } from "./realtime-secrets.ts";

export const REALTIME_PATH = "/v1/realtime";
/** The browsers' way to send a key (they cannot set headers on a WebSocket). */
const KEY_PROTOCOL = "openai-insecure-api-key.";
/** Largest event a caller may send (a second of 24 kHz PCM16 is 64 kB in base64; OpenAI takes 15 MB appends). */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;
/** A `response.done` names its type in its first bytes (`{"type":"response.done",…}` or after a short event_id). */
const DONE_MARK = Buffer.from('"response.done"');
const HEAD_BYTES = 96;
/** A session's configuration (session.created, session.updated) and a finished transcription of the caller's audio. */
const SESSION_MARK = Buffer.from('"session.');
const TRANSCRIBED_MARK = Buffer.from('"conversation.item.input_audio_transcription.completed"');
/**
 * Most the gateway holds for a caller that does not read (a stalled client while the provider
 * streams audio at 24 kB a second): past it the session ends (1008) instead of growing the heap.
 */
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

export interface RealtimeDoor {
  /** An HTTP/1.1 upgrade request: true when it was for /v1/realtime (and is now answered). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * POST /v1/realtime/calls (a WebRTC call: the caller's SDP offer in, the provider's answer out,
   * then the call metered over its sideband until it ends) and POST /v1/realtime/calls/{id}/hangup.
   * Resolves when the call is over (the answer went out long before); rejects only while nothing
   * has been answered. The span's message is returned.
   */
  serveCall(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, ctx: CallContext): Promise<string | undefined>;
  /**
   * Close every open session (the gateway is draining): code 1001, the caller reconnects
   * elsewhere; WebRTC calls are hung up (the gateway could no longer meter them). Resolves when
   * their records are written (at most a few seconds).
   */
  closeAll(): Promise<void>;
  /** Sessions and calls open now. */
  readonly open: number;
  /** Calls open now (the rest of `open` are WebSocket sessions). */
  readonly calls: number;
}

/** What the HTTP handler knows of a request to the calls endpoints. */
export interface CallContext {
  ri: RequestInfo;
  /** The Authorization header (a gateway key, or a client secret on the calls endpoint). */
  authorization: string | null;
  signal: AbortSignal;
  query: URLSearchParams;
  span?: Span;
}

/** Paths of OpenAI's WebRTC calls API. */
export const CALLS_PATH = "/v1/realtime/calls";
export const CLIENT_SECRETS_PATH = "/v1/realtime/client_secrets";
export const isCallsPath = (path: string): boolean => path === CALLS_PATH || path === CLIENT_SECRETS_PATH || path.startsWith(`${CALLS_PATH}/`);
/** What the call ids the gateway gives its callers start with (then the signed claims: deployment, provider call id, key). */
export const CALL_PREFIX = "rtc_sbx_";
/** Most a call's SDP offer may be (browsers' are a few kilobytes). */
const MAX_SDP_BYTES = 64 * 1024;

/** A call that is on, as its sidebands and hang-ups find it. */
interface LiveCall {
  owner: string;
  attach(ws: WebSocket): void;
  hangup(reason: string): Promise<void>;
}

/** Whether a caller may control a call (its own key's, or an admin). */
const mayControl = (caller: Caller, call: LiveCall): boolean => caller.role === "admin" || caller.keyName === call.owner;

/** A JSON object given as text, or a 400 naming `field` (`what` says what it should be). */
function jsonObject(raw: string, field: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new GatewayError("invalid_argument", `${field}: must be a JSON object (${what})`, { field });
  return v as Record<string, unknown>;
}

/** The routing options of `?signalbox=<JSON>` (the other doors' `signalbox` object). */
function queryOptions(query: URLSearchParams): unknown {
  const raw = query.get("signalbox");
  return raw === null ? {} : jsonObject(raw, "signalbox", "URL-encoded in the query");
}

/**
 * The offer of a call request: `multipart/form-data` with `sdp` and `session` (JSON, its `model`
 * naming the route), as OpenAI's SDKs send it, or `application/sdp` with `?model=`.
 */
export async function parseOffer(contentType: string | undefined, body: Buffer, query: URLSearchParams, secret?: SecretClaims): Promise<{ offer: RealtimeOffer; model: string }> {
  const ct = (contentType ?? "").toLowerCase();
  let sdp: string | undefined;
  let session: Record<string, unknown> = {};
  let modelField = "model";
  if (ct.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>, { headers: { "content-type": contentType! } }).formData();
    } catch {
      throw new GatewayError("invalid_argument", "body: could not parse the multipart/form-data body", { field: "body" });
    }
    const part = async (name: string) => {
      const v = form.get(name);
      return v === null ? undefined : typeof v === "string" ? v : await v.text();
    };
    sdp = await part("sdp");
    const raw = await part("session");
    if (raw !== undefined) session = jsonObject(raw, "session", "a realtime session's configuration");
    modelField = "session.model";
  } else if (ct.startsWith("application/sdp")) {
    sdp = body.toString("utf8");
  } else {
    throw new GatewayError("invalid_argument", "content-type: a call's offer is application/sdp (with ?model=) or multipart/form-data (sdp and session)", { field: "content-type" });
  }
  if (!sdp || !sdp.startsWith("v=0")) throw new GatewayError("invalid_argument", "sdp: is required: the WebRTC offer (an SDP starting with v=0)", { field: "sdp" });
  if (Buffer.byteLength(sdp) > MAX_SDP_BYTES) throw new GatewayError("invalid_argument", `sdp: is larger than ${MAX_SDP_BYTES} bytes`, { field: "sdp" });
  if (session.type !== undefined && session.type !== "realtime") throw new GatewayError("invalid_argument", `session.type: "${String(session.type)}" is not supported here; a call is a "realtime" session`, { field: "session.type" });
  if (session.model !== undefined && typeof session.model !== "string") throw new GatewayError("invalid_argument", "session.model: must be a string", { field: "session.model" });
  const named = (session.model as string | undefined) || (query.get("model") ?? "");
  // A client secret names the model (and the session's configuration, which the offer's may add to).
  if (secret && named && named !== secret.model) throw new GatewayError("invalid_argument", `${modelField}: this client secret is for "${secret.model}", not "${named}"`, { field: modelField });
  const model = secret?.model ?? named;
  if (!model) throw new GatewayError("invalid_argument", `${modelField}: is required (a route, alias or deployment that serves realtime)`, { field: modelField });
  const { model: _m, ...rest } = session;
  return { offer: { sdp, session: { ...secret?.session, ...rest } }, model };
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

/**
 * Meter a provider event: a `response.done`'s usage is counted and shown on the span, as is a
 * finished transcription of the caller's audio (at the transcription model's prices, which the
 * session's configuration events name). Returns a
 * promise while the session's budgets are settled for it; it rejects when a budget is out.
 */
function meterEvent(data: Buffer, s: RealtimeSession, end: RealtimeEnd, span: Span | undefined): Promise<void> | undefined {
  const head = data.subarray(0, HEAD_BYTES);
  // The session's configuration: which model transcribes the caller's audio (billed apart).
  if (head.includes(SESSION_MARK)) {
    try {
      const m = transcriptionModelOf((JSON.parse(data.toString("utf8")) as { session?: unknown }).session);
      if (m !== undefined) end.transcriptionModel = m ?? undefined;
    } catch {}
    return undefined;
  }
  if (head.includes(TRANSCRIBED_MARK)) {
    let usage;
    try {
      usage = transcriptionUsage((JSON.parse(data.toString("utf8")) as { usage?: unknown }).usage);
    } catch {
      return undefined;
    }
    if (!usage || (!end.transcriptionModel && !end.transcriptionSession)) return undefined;
    end.transcriptions = (end.transcriptions ?? 0) + 1;
    span?.addEvent("gen_ai.realtime.transcription", { "gen_ai.request.model": end.transcriptionSession ? s.providerModel : end.transcriptionModel, "gen_ai.usage.input_tokens": usage.inputTokens, "gen_ai.usage.output_tokens": usage.outputTokens, ...(usage.audioSeconds ? { "signalbox.audio_seconds": usage.audioSeconds } : {}) });
    // A transcription session's transcriptions are its own usage, at its deployment's prices.
    return end.transcriptionSession ? s.meter(usage) : s.meter(usage, end.transcriptionModel);
  }
  if (!head.includes(DONE_MARK)) return undefined;
  let usage;
  try {
    usage = realtimeUsage((JSON.parse(data.toString("utf8")) as { response?: { usage?: unknown } }).response?.usage);
  } catch {
    return undefined;
  }
  if (!usage) return undefined;
  end.responses++;
  // The session's span shows each response as it is done.
  span?.addEvent("gen_ai.realtime.response", { "gen_ai.usage.input_tokens": usage.inputTokens, "gen_ai.usage.output_tokens": usage.outputTokens, "signalbox.response": end.responses });
  return s.meter(usage);
}

const UPDATE_MARK = Buffer.from('"session.update"');

/** A transcription session's first update: its configuration (a client secret's, if any) with the deployment's model. */
function transcriptionUpdate(session: Record<string, unknown>, model: string): Buffer {
  const audio = (session.audio ?? {}) as { input?: { transcription?: Record<string, unknown> | null } & Record<string, unknown> } & Record<string, unknown>;
  const input = audio.input ?? {};
  return Buffer.from(JSON.stringify({ type: "session.update", session: { ...session, type: "transcription", audio: { ...audio, input: { ...input, transcription: { ...(input.transcription ?? {}), model } } } } }));
}

/**
 * A transcription session's `session.update` from the caller, with the transcription model it
 * names replaced by the deployment's (the caller names the model it knows, or the route; the
 * provider is told the model the gateway routed to). Every other frame is passed on as it is.
 */
export function pinTranscriptionModel(data: Buffer, model: string): Buffer {
  if (!data.subarray(0, HEAD_BYTES).includes(UPDATE_MARK)) return data;
  let ev: { session?: { audio?: { input?: { transcription?: { model?: unknown } | null } } } };
  try {
    ev = JSON.parse(data.toString("utf8"));
  } catch {
    return data;
  }
  const t = ev.session?.audio?.input?.transcription;
  if (!t || typeof t !== "object" || t.model === model) return data;
  t.model = model;
  return Buffer.from(JSON.stringify(ev));
}

/** The `error` event a session ends with when its budget ran out. */
function budgetEvent(err: GatewayError): Buffer {
  const e = toOpenAIError(err);
  return Buffer.from(JSON.stringify({ type: "error", event_id: `event_sbx_${Date.now().toString(36)}`, error: { type: e.body.error.type, code: "budget_exhausted", message: e.body.error.message, param: null, event_id: null } }));
}

const asGatewayError = (err: unknown): GatewayError => (err instanceof GatewayError ? err : new GatewayError("internal", (err as Error)?.message ?? String(err)));

export function createRealtimeDoor(core: GatewayCore, engine: ChatEngine, masterKey?: string): RealtimeDoor {
  const secrets = createSecretBook(masterKey);
  /** The caller of a realtime request: a gateway key, or a client secret acting for one. */
  async function authenticate(authorization: string | null): Promise<{ caller: Caller; secret?: SecretClaims }> {
    const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    if (!m || !m[1].startsWith(SECRET_PREFIX)) return { caller: await core.identify(authorization) };
    const secret = secrets.open(m[1]);
    const caller = core.control.directory.callerByName(secret.key);
    if (!caller) throw new GatewayError("unauthenticated", "client secret: the key it was made with is revoked, expired or gone");
    return { caller, secret };
  }
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
  // WebRTC calls placed through this replica, by the call id their callers were given, and the
  // operations still writing their records.
  const calls = new Map<string, LiveCall>();
  const running = new Set<Promise<unknown>>();

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
      const { caller, secret } = await authenticate(header(req, "authorization") ?? (apiKey ? `Bearer ${apiKey}` : null));
      const callId = query.get("call_id");
      if (callId !== null) {
        if (secret) throw new GatewayError("permission_denied", "call_id: a call's sideband is for servers, with a gateway key; a client secret cannot open one", { field: "call_id" });
        // A sideband to a WebRTC call placed through the gateway: the caller's server watching and
        // steering it (instructions, tool results), through the placing replica's own sideband.
        const found = findCall(callId, caller);
        const ws = await server();
        // Placed through another replica: a sideband of this replica's own to the provider, relayed as it is (the owner meters the call).
        const remote = found.live
          ? undefined
          : await openSideband(found.conn, found.providerCallId, ac.signal).catch((err: unknown) => {
              if (err instanceof ProviderError && err.status === 404) throw new GatewayError("not_found", `call_id: the call "${callId}" has ended`, { field: "call_id" });
              throw new GatewayError("unavailable", `call_id: the provider's sideband to the call could not be opened: ${(err as Error).message}`, { field: "call_id" });
            });
        if (socket.destroyed) {
          remote?.close(1000, "the caller went away");
          return;
        }
        accepted = true;
        extra.set(req, [`x-request-id: ${ri.id}`, `x-signalbox-trace-id: ${traceId}`]);
        ws.handleUpgrade(req, socket, head, (client: WebSocket) => (found.live ? found.live.attach(client) : relaySideband(client, remote!)));
        message = "sideband attached";
        return;
      }
      const asked = query.get("intent");
      if (asked !== null && asked !== "transcription") throw new GatewayError("invalid_argument", `intent: "${asked}" is not an intent of the Realtime API (transcription, or none for a conversation)`, { field: "intent" });
      // A client secret says which kind of session it opens.
      if (secret && !!asked !== !!secret.transcription) throw new GatewayError("invalid_argument", `intent: this client secret opens a ${secret.transcription ? "transcription session (intent=transcription)" : "realtime conversation (no intent)"}`, { field: "intent" });
      const intent = asked ?? (secret?.transcription ? "transcription" : null);
      const named = query.get("model") || query.get("deployment") || "";
      if (intent && !named && !secret) throw new GatewayError("invalid_argument", "model: is required with intent=transcription (the route, alias or deployment of a transcription model, e.g. gpt-4o-transcribe, that transcribes the session)", { field: "model" });
      if (secret && named && named !== secret.model) throw new GatewayError("invalid_argument", `model: this client secret is for "${secret.model}", not "${named}"`, { field: "model" });
      const model = secret?.model ?? named;
      if (!model) throw new GatewayError("invalid_argument", "model: is required (?model=<route, alias or deployment> that serves realtime)", { field: "model" });
      const opts = signalboxOptions({ signalbox: queryOptions(query) } as never, model, undefined);
      const user = query.get("user") ?? undefined;
      const call: RealtimeCall = { id: ri.id, operation: "realtime", model, routing: opts.routing, tags: opts.tags, metadata: intent ? { "realtime.intent": intent } : {}, caller, ...(user ? { user } : {}), ...(opts.guardrails ? { guardrails: opts.guardrails } : {}), request: intent ? { intent: "transcription" } : {} };
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
          // A client secret's session configuration is the session's first update; a transcription
          // session's first update names the deployment's model (it opened without one).
          if (intent) s.link.send(transcriptionUpdate(secret?.session ?? {}, s.providerModel), false);
          else if (secret && Object.keys(secret.session).length) s.link.send(Buffer.from(JSON.stringify({ type: "session.update", session: { type: "realtime", ...secret.session } })), false);
          return relay(ws, req, socket, head, s, span?.span, !!intent);
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
  function relay(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, s: RealtimeSession, span: Span | undefined, transcription: boolean): Promise<RealtimeEnd> {
    return new Promise((resolve) => {
      const end: RealtimeEnd = { responses: 0, ...(transcription ? { transcriptionSession: true } : {}) };
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
        if (binary) return;
        meterEvent(data, s, end, span)?.catch((err: unknown) => {
          if (done) return;
          end.gatewayError = asGatewayError(err);
          toClient(budgetEvent(end.gatewayError), false);
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
        ws.on("message", transcription ? (data: Buffer, binary: boolean) => s.link.send(binary ? data : pinTranscriptionModel(data, s.providerModel), binary) : (data: Buffer, binary: boolean) => s.link.send(data, binary));
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

  /**
   * A call by the id its caller was given: on this replica, the live call; placed through another
   * replica, its provider connection and the provider's call id, from the id's signed claims.
   * Another key's call (an admin's may reach any) and an id that is not one are not found.
   */
  function findCall(id: string, caller: Caller): { live: LiveCall; conn?: undefined; providerCallId?: undefined } | { live?: undefined; conn: ProviderConfig; providerCallId: string } {
    const missing = () => new GatewayError("not_found", `call_id: no call "${id}" placed by this key`, { field: "call_id" });
    const live = calls.get(id);
    if (live) {
      if (!mayControl(caller, live)) throw missing();
      return { live };
    }
    const claims = secrets.unseal(CALL_PREFIX, id);
    if (!claims || typeof claims.d !== "string" || typeof claims.c !== "string" || (caller.role !== "admin" && claims.k !== caller.keyName)) throw missing();
    const d = core.registry.deployment(claims.d);
    const conn = d && core.registry.provider(d.provider);
    if (!conn) throw missing();
    return { conn, providerCallId: claims.c };
  }

  /** A caller's sideband to a call placed through another replica: frames both ways as they are, until either side closes. */
  function relaySideband(client: WebSocket, link: RealtimeLink): void {
    let done = false;
    const entry = { close: (code: number, reason: string) => end(code, reason) };
    const end = (code: number, reason: string) => {
      if (done) return;
      done = true;
      sessions.delete(entry);
      link.close(closable(code), reason);
      if (client.readyState <= 1) client.close(closable(code), reason.slice(0, 120));
    };
    sessions.add(entry);
    link.start({
      message: (data, binary) => {
        if (client.readyState !== 1) return;
        if (client.bufferedAmount > MAX_UNREAD_BYTES) end(1008, "the sideband is not reading");
        else client.send(data, { binary });
      },
      close: (code, reason, abnormal) => end(abnormal ? 1011 : code === 1005 ? 1000 : code, reason),
    });
    client.on("message", (data: Buffer, binary: boolean) => link.send(data, binary));
    client.on("error", () => {});
    client.once("close", (code: number, reason: Buffer) => end(code === 1005 ? 1000 : code, reason.toString("utf8")));
  }

  /**
   * Watch a WebRTC call over its sideband until it ends: every response metered, the events
   * passed to the caller's own sidebands (and theirs to the provider), a budget that runs out
   * hanging the call up. A sideband cut while the call goes on is reopened (three tries); a call
   * the gateway cannot watch any more is hung up rather than left running unmetered.
   */
  function watchCall(s: RealtimeSession, info: RealtimeCallInfo, callId: string, owner: Caller, span: Span | undefined): Promise<RealtimeEnd> {
    return new Promise((resolve) => {
      const end: RealtimeEnd = { responses: 0 };
      const attached = new Set<WebSocket>();
      let link: RealtimeLink = s.link;
      let done = false;
      let hanging: Promise<void> | undefined;
      const finish = (code: number, reason: string) => {
        if (done) return;
        done = true;
        sessions.delete(entry);
        calls.delete(callId);
        for (const ws of attached) ws.close(closable(code), reason.slice(0, 120));
        attached.clear();
        link.close(1000, reason);
        resolve(end);
      };
      const hangup = (reason: string): Promise<void> =>
        (hanging ??= info.hangup().then(() => {
          // The provider closes the sideband when the call is over; one that does not is not waited for.
          setTimeout(() => finish(1000, reason), 2000).unref();
        }));
      const entry = { close: (_code: number, reason: string) => void hangup(reason) };
      sessions.add(entry);
      const fanOut = (data: Buffer, binary: boolean) => {
        for (const ws of attached) {
          if (ws.readyState !== 1) continue;
          if (ws.bufferedAmount > MAX_UNREAD_BYTES) ws.close(1008, "the sideband is not reading");
          else ws.send(data, { binary });
        }
      };
      const handlers: RealtimeHandlers = {
        message(data, binary) {
          fanOut(data, binary);
          if (binary) return;
          meterEvent(data, s, end, span)?.catch((err: unknown) => {
            if (done || end.gatewayError) return;
            end.gatewayError = asGatewayError(err);
            fanOut(budgetEvent(end.gatewayError), false);
            void hangup("budget exhausted");
          });
        },
        close(code, reason, abnormal) {
          if (done) return;
          if (hanging || (!abnormal && code !== 1011)) return finish(code === 1005 ? 1000 : code, reason || "call ended");
          void reopen(abnormal ? "without a close frame" : `with code ${code}`);
        },
      };
      // The sideband was cut while the call may go on: open another (a 404 means the call ended).
      async function reopen(how: string): Promise<void> {
        for (let i = 0; i < 3 && !done && !hanging; i++) {
          await new Promise((r) => setTimeout(r, 200 * 2 ** i));
          try {
            const next = await info.reattach(AbortSignal.timeout(10_000));
            // The call ended (or is being hung up) meanwhile: the new sideband is not kept.
            if (done || hanging) {
              next.close(1000, "call ended");
              return;
            }
            link = next;
            link.start(handlers);
            return;
          } catch (err) {
            if (err instanceof ProviderError && (err.status === 404 || err.kind === "model_not_found")) return finish(1000, "call ended");
          }
        }
        if (done || hanging) return;
        end.providerError = new ProviderError({ kind: "stream_interrupted", message: `${s.provider} dropped the call's sideband ${how} and it could not be reopened; the call was hung up` });
        void hangup("the gateway lost the call's sideband");
      }
      calls.set(callId, {
        owner: owner.keyName,
        attach(ws) {
          if (done) {
            ws.close(1000, "call ended");
            return;
          }
          attached.add(ws);
          ws.on("message", (data: Buffer, binary: boolean) => link.send(data, binary));
          ws.on("error", () => {});
          ws.once("close", () => attached.delete(ws));
        },
        hangup,
      });
      link.start(handlers);
    });
  }

  async function serveCall(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, c: CallContext): Promise<string | undefined> {
    const { caller, secret } = await authenticate(c.authorization);
    if (path === CLIENT_SECRETS_PATH) {
      if (secret) throw new GatewayError("permission_denied", "authorization: a client secret cannot make another; use a gateway key", { field: "authorization" });
      let json: unknown;
      try {
        json = JSON.parse(body.toString("utf8"));
      } catch {
        throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
      }
      const r = parseSecretRequest(json, Date.now());
      // A secret for a model that does not exist, or that the key may not use, would only fail later, in a browser.
      const target = core.registry.config.aliases[r.model];
      if (!core.registry.resolve(r.model) || !(allowListAllows(caller.allow, r.model) || (target !== undefined && allowListAllows(caller.allow, target)))) {
        throw new GatewayError("not_found", `session.model: "${r.model}" does not exist or this key may not use it`, { field: "session.model" });
      }
      const value = secrets.mint({ key: caller.keyName, model: r.model, session: r.session, expiresAt: r.expiresAt, ...(r.transcription ? { transcription: true } : {}) });
      const text = JSON.stringify({ value, expires_at: Math.floor(r.expiresAt / 1000), session: r.transcription ? { type: "transcription", object: "realtime.transcription_session", model: r.model, ...r.session } : { type: "realtime", object: "realtime.session", model: r.model, ...r.session } });
      res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), "cache-control": "no-store", "x-request-id": c.ri.id, "x-signalbox-trace-id": c.ri.traceId }).end(text);
      return "client secret made";
    }
    const hang = /^\/v1\/realtime\/calls\/([^/]+)\/hangup$/.exec(path);
    if (hang) {
      const found = findCall(decodeURIComponent(hang[1]), caller);
      if (found.live) await found.live.hangup("hung up by the caller");
      // Placed through another replica: the provider is told directly (the owner's sideband then ends, and it records the call).
      else {
        const status = await hangupCall(found.conn, found.providerCallId);
        if (status === 404) throw new GatewayError("not_found", `call_id: the call "${hang[1]}" has ended`, { field: "call_id" });
        if (status === undefined || status >= 300) throw new GatewayError("unavailable", `call_id: the provider did not hang the call up (${status ?? "unreachable"})`, { field: "call_id" });
      }
      res.writeHead(200, { "content-length": "0", "x-request-id": c.ri.id, "x-signalbox-trace-id": c.ri.traceId }).end();
      return "hung up";
    }
    if (path !== CALLS_PATH) throw new GatewayError("not_found", `${path}: not found (a call is placed with POST ${CALLS_PATH}, ended with POST ${CALLS_PATH}/{call_id}/hangup)`);
    if (secret?.transcription) throw new GatewayError("invalid_argument", "authorization: this client secret opens a transcription session, over the WebSocket (/v1/realtime?intent=transcription); calls are realtime conversations", { field: "authorization" });
    const { offer, model } = await parseOffer(header(req, "content-type"), body, c.query, secret);
    const opts = signalboxOptions({ signalbox: queryOptions(c.query) } as never, model, undefined);
    const user = c.query.get("user") ?? undefined;
    const call: RealtimeCall = { id: c.ri.id, operation: "realtime", model, routing: opts.routing, tags: opts.tags, metadata: {}, caller, ...(user ? { user } : {}), ...(opts.guardrails ? { guardrails: opts.guardrails } : {}), request: { offer } };
    const beta = header(req, "openai-beta");
    let answered = false;
    const op = engine.realtime({
      call,
      ri: c.ri,
      signal: c.signal,
      statusOf: (err) => (err instanceof GatewayError ? err.code : c.signal.aborted ? "canceled" : "internal"),
      headers: beta ? { "openai-beta": beta } : {},
      relay: (s) => {
        const info = s.link.call!;
        if (res.destroyed) {
          // The caller left while the call was being placed: nobody will connect to it.
          void info.hangup();
          s.link.close(1000, "the caller went away");
          return Promise.resolve({ responses: 0 });
        }
        // The caller's call id names the deployment and the key too, signed: any replica can hang it up or attach to it.
        const callId = secrets.seal(CALL_PREFIX, { d: s.deployment, c: info.id, k: caller.keyName });
        call.metadata["realtime.call_id"] = callId;
        call.metadata["realtime.provider_call_id"] = info.id;
        res.writeHead(201, {
          "content-type": "application/sdp",
          "content-length": String(Buffer.byteLength(info.answer)),
          location: `${CALLS_PATH}/${encodeURIComponent(callId)}`,
          "x-request-id": c.ri.id,
          "x-signalbox-trace-id": c.ri.traceId,
          "x-signalbox-deployment": s.deployment,
        });
        res.end(info.answer);
        answered = true;
        return watchCall(s, info, callId, caller, c.span);
      },
    });
    running.add(op);
    try {
      const answer = await op;
      return `${answer.responses} responses`;
    } catch (err) {
      if (!answered) throw err;
      const e = toOpenAIError(err);
      log("warn", "realtime: call ended with an error", { id: c.ri.id, status: e.status, reason: e.body.error.message });
      return e.body.error.message;
    } finally {
      running.delete(op);
    }
  }

  return {
    serveCall,
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
    async closeAll() {
      for (const s of [...sessions]) s.close(1001, "the gateway is going away");
      if (running.size === 0) return;
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...running]), new Promise((r) => (t = setTimeout(r, 5000)))]);
      clearTimeout(t);
    },
    get open() {
      return sessions.size;
    },
    get calls() {
      return calls.size;
    },
  };
}
