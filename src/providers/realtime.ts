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

export async function openRealtimeLink(conn: ProviderConfig, model: string, signal: AbortSignal, headers: Record<string, string> = {}): Promise<RealtimeLink> {
  if (conn.type === "mock") return mockRealtimeLink(conn, model, signal);
  if (!REALTIME_TYPES.has(conn.type)) {
    return Promise.reject(new ProviderError({ kind: "model_not_found", message: `provider "${conn.name}" (type ${conn.type}) has no Realtime API`, unsent: true }));
  }
  const h: Record<string, string> = { ...headers };
  if (conn.apiKey) {
    if (conn.type === "azure") h["api-key"] = conn.apiKey;
    else h.authorization = `Bearer ${conn.apiKey}`;
  }
  for (const [k, v] of Object.entries(conn.headers)) h[k.toLowerCase()] = v;
  const url = realtimeUrl(conn, model);
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
        fail(new ProviderError({ kind: e.kind, status: e.status, retryAfterMs: e.retryAfterMs, providerCode: e.providerCode, message: `${conn.name} refused the realtime session: ${e.message}`, unsent: true }));
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
