// The Realtime API's upstream side: a WebSocket to the provider that serves the deployment
// (OpenAI's wss://…/v1/realtime?model=…, Azure's /openai/v1/realtime?model=<deployment>, an
// OpenAI-compatible server's /realtime) or, for the mock provider, a session held in process
// (mock/realtime.ts). The gateway relays frames both ways without re-encoding them; it reads only
// the server's `response.done` events, for their usage.

import type WebSocket from "ws";
import type { ProviderConfig } from "../config/types.ts";
import { classifyOpenAIError } from "./openai/openai-error.ts";
import { ProviderError, type Usage } from "./types.ts";
import { mockRealtimeLink } from "./mock/realtime.ts";

/** One open realtime session with a provider. */
export interface RealtimeLink {
  /** A client event (or, rarely, a binary frame) for the provider. */
  send(data: Buffer, binary: boolean): void;
  /** Close the session (codes as WebSocket's). */
  close(code: number, reason: string): void;
  /**
   * Start delivering the provider's events (those that came since the link opened first, in
   * order) and its close (`abnormal`: without a close frame).
   */
  start(handlers: RealtimeHandlers): void;
  /** A WebRTC call's: the call this link is the sideband of. */
  call?: RealtimeCallInfo;
}

export interface RealtimeHandlers {
  message(data: Buffer, binary: boolean): void;
  close(code: number, reason: string, abnormal: boolean): void;
}

/**
 * What a link delivers before its holder is ready: events and the close, queued in order until
 * `start`, then handed over as they come.
 */
export class LinkInbox {
  private queue: (() => void)[] | undefined = [];
  private h: RealtimeHandlers | undefined;
  message(data: Buffer, binary: boolean): void {
    if (this.h) this.h.message(data, binary);
    else this.queue?.push(() => this.h!.message(data, binary));
  }
  close(code: number, reason: string, abnormal: boolean): void {
    if (this.h) this.h.close(code, reason, abnormal);
    else this.queue?.push(() => this.h!.close(code, reason, abnormal));
  }
  start(h: RealtimeHandlers): void {
    this.h = h;
    const q = this.queue ?? [];
    this.queue = undefined;
    for (const f of q) f();
  }
}

/** Provider types with a Realtime API. */
export const REALTIME_TYPES: ReadonlySet<string> = new Set(["openai", "azure", "openai-compatible", "mock"]);

/** The provider's realtime URL for a model (ws: or wss:, from the connection's base URL). */
export function realtimeUrl(conn: ProviderConfig, model: string): string {
  const base = conn.baseUrl.replace(/\/+$/, "").replace(/^http(s?):/i, "ws$1:");
  if (conn.type === "azure") {
    const v = conn.apiVersion?.trim() ?? "";
    // Dated api-versions: the preview family names the deployment; otherwise the v1 (GA) family.
    if (/^\d{4}-\d{2}-\d{2}/.test(v)) return `${base}/openai/realtime?api-version=${encodeURIComponent(v)}&deployment=${encodeURIComponent(model)}`;
    return `${base}/openai/v1/realtime?model=${encodeURIComponent(model)}`;
  }
  return `${base}/realtime?model=${encodeURIComponent(model)}`;
}

/** Most an upstream's refusal body is read for its error (it is JSON of a few hundred bytes). */
const MAX_ERROR_BODY = 16 * 1024;

/**
 * Open a realtime session for `model` on a provider: resolves once the provider accepted the
 * WebSocket (its handshake answered 101), rejects with a ProviderError classified like any HTTP
 * failure (a 429 is rate_limited, a 401 upstream_auth, a refused connection network, a handshake
 * slower than `connectMs` timeout) so the router can fall back before the caller is connected.
 * `headers` are the caller's headers to pass on (OpenAI-Beta).
 */
/** The `ws` package, loaded with the first session (a gateway that serves none never loads it). */
let wsModule: Promise<typeof import("ws")> | undefined;
export const loadWs = () => (wsModule ??= import("ws"));

export async function openRealtimeLink(conn: ProviderConfig, model: string, signal: AbortSignal, headers: Record<string, string> = {}, offer?: RealtimeOffer, intent?: "transcription"): Promise<RealtimeLink> {
  if (offer) return openRealtimeCall(conn, model, offer, signal, headers);
  if (intent && conn.type === "mock") return Promise.reject(new ProviderError({ kind: "model_not_found", message: `provider "${conn.name}" (type mock) has no realtime transcription sessions`, unsent: true }));
  if (conn.type === "mock") return mockRealtimeLink(conn, model, signal);
  if (!REALTIME_TYPES.has(conn.type)) {
    return Promise.reject(new ProviderError({ kind: "model_not_found", message: `provider "${conn.name}" (type ${conn.type}) has no Realtime API`, unsent: true }));
  }
  // A transcription session names no model when it opens: its first session.update does (the relay sends it).
  return openSocket(conn, intent ? transcriptionUrl(conn) : realtimeUrl(conn, model), { ...headers, ...authHeaders(conn) }, signal, "session");
}

/** The provider's URL for a transcription session (`?intent=transcription`, no model). */
export function transcriptionUrl(conn: ProviderConfig): string {
  const base = conn.baseUrl.replace(/\/+$/, "").replace(/^http(s?):/i, "ws$1:");
  if (conn.type === "azure") {
    const v = conn.apiVersion?.trim() ?? "";
    if (/^\d{4}-\d{2}-\d{2}/.test(v)) return `${base}/openai/realtime?api-version=${encodeURIComponent(v)}&intent=transcription`;
    return `${base}/openai/v1/realtime?intent=transcription`;
  }
  return `${base}/realtime?intent=transcription`;
}

/** The provider's own credentials and configured headers (never the caller's). */
function authHeaders(conn: ProviderConfig): Record<string, string> {
  const h: Record<string, string> = {};
  if (conn.apiKey) {
    if (conn.type === "azure") h["api-key"] = conn.apiKey;
    else h.authorization = `Bearer ${conn.apiKey}`;
  }
  for (const [k, v] of Object.entries(conn.headers)) h[k.toLowerCase()] = v;
  return h;
}

/** A WebSocket to the provider (a session, or a call's sideband), as a link. */
async function openSocket(conn: ProviderConfig, url: string, h: Record<string, string>, signal: AbortSignal, what: "session" | "call's sideband"): Promise<RealtimeLink> {
  const { WebSocket } = await loadWs();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(canceled(signal));
    const ws: WebSocket = new WebSocket(url, { headers: h, perMessageDeflate: false, handshakeTimeout: conn.timeouts.connectMs + conn.timeouts.headersMs, maxPayload: 64 * 1024 * 1024 });
    let settled = false;
    const fail = (e: ProviderError) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
      reject(e);
    };
    const onAbort = () => fail(canceled(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    ws.once("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(c);
        size += c.length;
      });
      const done = () => {
        const e = classifyOpenAIError(res.statusCode ?? 502, Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY), res.headers);
        fail(new ProviderError({ kind: e.kind, status: e.status, retryAfterMs: e.retryAfterMs, providerCode: e.providerCode, message: `${conn.name} refused the realtime ${what}: ${e.message}`, unsent: true }));
      };
      res.once("end", done);
      res.once("error", done);
    });
    ws.once("error", (err: Error & { code?: string }) => {
      const timeout = /timed out|timeout/i.test(err.message);
      fail(new ProviderError({ kind: timeout ? "timeout" : "network", message: `${conn.name}: realtime connection failed (${err.code ?? (timeout ? "handshake timeout" : "error")})`, cause: err, unsent: true }));
    });
    ws.once("open", () => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      ws.removeAllListeners("unexpected-response");
      const inbox = new LinkInbox();
      const link: RealtimeLink = {
        start: (h) => inbox.start(h),
        send: (data, binary) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary });
        },
        close: (code, reason) => {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(closable(code), reason.slice(0, 120));
          // A provider that never answers the close frame is cut after a second.
          setTimeout(() => ws.terminate(), 1000).unref();
        },
      };
      let closed = false;
      ws.on("message", (data: Buffer, binary: boolean) => inbox.message(data, binary));
      ws.on("error", () => {});
      ws.once("close", (code: number, reason: Buffer) => {
        if (closed) return;
        closed = true;
        inbox.close(code, reason.toString("utf8"), code === 1006);
      });
      resolve(link);
    });
  });
}

// ---- WebRTC calls ----------------------------------------------------------------------------
//
// A WebRTC call (POST /v1/realtime/calls) carries its audio between the caller's browser and the
// provider directly; the gateway relays only the set-up (the caller's SDP offer, the provider's
// SDP answer) and then watches the call over a "sideband" WebSocket (/v1/realtime?call_id=…, the
// provider's own server-side control channel), where the same events as a WebSocket session's
// arrive, `response.done` with its usage among them. The sideband is the call's link: metering,
// ending it (hang-up) and relaying a caller's own sideband all go through it.

/** What the caller sent to start a WebRTC call: its SDP offer and the session's configuration. */
export interface RealtimeOffer {
  sdp: string;
  /** The `session` part (type "realtime"); the gateway sets `model` to the deployment's. */
  session: Record<string, unknown>;
}

/** A WebRTC call a provider accepted. */
export interface RealtimeCallInfo {
  /** The provider's call id (rtc_…). */
  id: string;
  /** The provider's SDP answer, for the caller. */
  answer: string;
  /** End the call at the provider (POST …/calls/{id}/hangup); an already ended call is not an error. */
  hangup(): Promise<void>;
  /** Open another sideband to the same call (after the gateway's was cut). */
  reattach(signal: AbortSignal): Promise<RealtimeLink>;
}

/** End a call at the provider (POST …/calls/{id}/hangup), best effort: an already ended call is not an error, and an unreachable provider ends the call by itself when the browser leaves. */
export async function hangupCall(conn: ProviderConfig, callId: string): Promise<number | undefined> {
  try {
    const r = await fetch(`${callsUrl(conn)}/${encodeURIComponent(callId)}/hangup`, { method: "POST", headers: authHeaders(conn), signal: AbortSignal.timeout(conn.timeouts.connectMs + conn.timeouts.headersMs) });
    await r.body?.cancel();
    return r.status;
  } catch {
    // Best effort (above): no status.
    return undefined;
  }
}

/** A sideband to a call at the provider (`/realtime?call_id=`), with the provider's credentials. */
export function openSideband(conn: ProviderConfig, callId: string, signal: AbortSignal): Promise<RealtimeLink> {
  return openSocket(conn, sidebandUrl(conn, callId), authHeaders(conn), signal, "call's sideband");
}

/** Provider types whose Realtime API takes WebRTC calls. */
export const CALL_TYPES: ReadonlySet<string> = new Set(["openai", "azure", "openai-compatible"]);

/** Most an SDP answer may be (they are a few kilobytes). */
const MAX_ANSWER_BYTES = 256 * 1024;

/** The provider's calls URL (http: or https:); Azure's is in its v1 API family. */
export function callsUrl(conn: ProviderConfig): string {
  const base = conn.baseUrl.replace(/\/+$/, "");
  return conn.type === "azure" ? `${base}/openai/v1/realtime/calls` : `${base}/realtime/calls`;
}

/** The provider's sideband URL for a call (ws: or wss:). */
export function sidebandUrl(conn: ProviderConfig, callId: string): string {
  const base = conn.baseUrl.replace(/\/+$/, "").replace(/^http(s?):/i, "ws$1:");
  return `${conn.type === "azure" ? `${base}/openai/v1/realtime` : `${base}/realtime`}?call_id=${encodeURIComponent(callId)}`;
}

/**
 * Start a WebRTC call with a provider: the offer goes to its calls endpoint (multipart: `sdp`
 * and `session` with the deployment's model), then the gateway's sideband is opened. Refusals
 * are ProviderErrors classified like any HTTP failure, before anything reached the caller, so the
 * router falls back as for a session. A call whose sideband cannot be opened is hung up: a call
 * the gateway cannot meter is not left running.
 */
export async function openRealtimeCall(conn: ProviderConfig, model: string, offer: RealtimeOffer, signal: AbortSignal, headers: Record<string, string> = {}): Promise<RealtimeLink> {
  if (!CALL_TYPES.has(conn.type)) {
    throw new ProviderError({ kind: "model_not_found", message: `provider "${conn.name}" (type ${conn.type}) takes no WebRTC calls${conn.type === "mock" ? "; the mock serves realtime sessions over the WebSocket (/v1/realtime?model=)" : ""}`, unsent: true });
  }
  if (conn.type === "azure" && /^\d{4}-\d{2}-\d{2}/.test(conn.apiVersion?.trim() ?? "")) {
    throw new ProviderError({ kind: "model_not_found", message: `provider "${conn.name}": WebRTC calls need Azure's v1 API (api_version "${conn.apiVersion}" is a dated preview)`, unsent: true });
  }
  const auth = authHeaders(conn);
  const form = new FormData();
  form.append("sdp", new Blob([offer.sdp], { type: "application/sdp" }), "");
  form.append("session", new Blob([JSON.stringify({ ...offer.session, type: "realtime", model })], { type: "application/json" }), "");
  const timeout = AbortSignal.timeout(conn.timeouts.connectMs + conn.timeouts.headersMs + conn.timeouts.bodyMs);
  let res: Response;
  try {
    res = await fetch(callsUrl(conn), { method: "POST", headers: { ...headers, ...auth, accept: "application/sdp" }, body: form, signal: AbortSignal.any([signal, timeout]) });
  } catch (err) {
    if (signal.aborted) throw canceled(signal);
    const code = (err as { cause?: { code?: string } })?.cause?.code;
    const timedOut = timeout.aborted;
    throw new ProviderError({ kind: timedOut ? "timeout" : "network", message: `${conn.name}: the realtime call could not be placed (${timedOut ? "timeout" : (code ?? "connection failed")})`, cause: err, unsent: !timedOut });
  }
  const head = Object.fromEntries(res.headers) as Record<string, string>;
  if (!res.ok) {
    const text = (await res.text().catch(() => "")).slice(0, MAX_ERROR_BODY);
    const e = classifyOpenAIError(res.status, text, head);
    throw new ProviderError({ kind: e.kind, status: e.status, retryAfterMs: e.retryAfterMs, providerCode: e.providerCode, message: `${conn.name} refused the realtime call: ${e.message}`, unsent: true });
  }
  const answer = await res.text();
  const id = /\/calls\/([^/?#]+)/.exec(res.headers.get("location") ?? "")?.[1];
  if (!id || answer.length > MAX_ANSWER_BYTES) throw new ProviderError({ kind: "unknown", message: `${conn.name} accepted the realtime call without ${id ? "a usable SDP answer" : "a Location header naming it"}` });
  const callId = decodeURIComponent(id);
  const hangup = async () => void (await hangupCall(conn, callId));
  const reattach = (s: AbortSignal) => openSideband(conn, callId, s);
  let link: RealtimeLink;
  try {
    link = await reattach(signal);
  } catch (err) {
    await hangup();
    throw err;
  }
  link.call = { id: callId, answer, hangup, reattach };
  return link;
}

/** A close code that may be sent in a close frame (1005 and 1006 only describe one). */
export function closable(code: number): number {
  return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999) ? code : 1000;
}

function canceled(signal: AbortSignal): ProviderError {
  const r = signal.reason;
  return r instanceof ProviderError ? r : new ProviderError({ kind: "canceled", message: "realtime session canceled before it opened", unsent: true });
}

/** The usage of a Realtime `response.done` event (OpenAI's shape), in the gateway's terms. */
export function realtimeUsage(u: unknown): Usage | undefined {
  if (!u || typeof u !== "object") return undefined;
  const o = u as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0);
  const inD = (o.input_token_details ?? {}) as Record<string, unknown>;
  const outD = (o.output_token_details ?? {}) as Record<string, unknown>;
  const cachedD = (inD.cached_tokens_details ?? {}) as Record<string, unknown>;
  const input = n(o.input_tokens);
  const output = n(o.output_tokens);
  const cached = Math.min(input, n(inD.cached_tokens));
  // Audio and image input that was not read from the cache, billed at their own prices.
  const audioIn = Math.max(0, n(inD.audio_tokens) - n(cachedD.audio_tokens));
  const imageIn = Math.max(0, n(inD.image_tokens) - n(cachedD.image_tokens));
  const audioOut = Math.min(output, n(outD.audio_tokens));
  return {
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    ...(audioIn ? { audioInputTokens: Math.min(audioIn, input - cached) } : {}),
    ...(audioOut ? { audioOutputTokens: audioOut } : {}),
    ...(imageIn ? { imageInputTokens: Math.min(imageIn, input - cached) } : {}),
  };
}

/**
 * The usage of an input-audio transcription (`conversation.item.input_audio_transcription.completed`),
 * billed by the transcription model, not the session's: tokens (the GPT-4o transcription models:
 * audio and text in, text out) or the audio's seconds (whisper-1).
 */
export function transcriptionUsage(u: unknown): Usage | undefined {
  if (!u || typeof u !== "object") return undefined;
  const o = u as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0);
  if (o.type === "duration") {
    const seconds = n(o.seconds);
    return seconds ? { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioSeconds: seconds } : undefined;
  }
  const input = n(o.input_tokens);
  const output = n(o.output_tokens);
  if (!input && !output) return undefined;
  const audio = Math.min(input, n(((o.input_token_details ?? {}) as Record<string, unknown>).audio_tokens));
  return { inputTokens: input, outputTokens: output, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, ...(audio ? { audioInputTokens: audio } : {}) };
}

/** The transcription model a session's configuration names (GA `audio.input.transcription`, or the beta's `input_audio_transcription`). */
export function transcriptionModelOf(session: unknown): string | null | undefined {
  if (!session || typeof session !== "object") return undefined;
  const s = session as { audio?: { input?: { transcription?: { model?: unknown } | null } }; input_audio_transcription?: { model?: unknown } | null };
  const t = s.audio?.input && "transcription" in s.audio.input ? s.audio.input.transcription : "input_audio_transcription" in s ? s.input_audio_transcription : undefined;
  if (t === undefined) return undefined;
  return t && typeof t.model === "string" ? t.model : null;
}
