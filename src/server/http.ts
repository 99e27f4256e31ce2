// Listening: one port serving Connect, gRPC and gRPC-web over HTTP/1.1 and cleartext HTTP/2
// (prior knowledge) by sniffing the connection preface; GET /healthz; a request size limit;
// graceful shutdown that drains in-flight calls and streams within a grace period.

import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Gateway } from "../gateway.ts";
import { wireErrorOptions } from "./wire-errors.ts";
import { corsPolicyFor } from "./cors.ts";
import { createConsoleHandler } from "./console.ts";
import { MAX_AUDIO_REQUEST_BYTES, MAX_PASSTHROUGH_BYTES, PASSTHROUGH_PREFIX } from "./validate.ts";
import { bifrostPath } from "../compat/bifrost.ts";

export interface ServerOptions {
  port: number;
  host: string;
  maxRequestBytes: number;
}

export interface RunningServer {
  port: number;
  url: string;
  /** Stop accepting, drain in-flight requests for up to graceMs, then close everything. */
  shutdown(graceMs: number): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Connect streaming and gRPC-web bodies are enveloped messages written one by one. */
function isStreamingContentType(ct: string | undefined): boolean {
  return ct !== undefined && (ct.startsWith("application/connect+") || ct.startsWith("application/grpc"));
}

/**
 * HTTP/1.1 streams: messages produced in the same turn of the event loop (one upstream read often
 * carries several SSE events) leave in one write instead of one syscall each. The socket is
 * corked at the first write and uncorked once the current I/O phase is done, so nothing waits
 * for more than that.
 */
export function coalesceWrites(res: http.ServerResponse): void {
  // Module-level functions and a symbol on the response, not closures made per response: a
  // closure kept on the response (the wrapped write) made every stream's objects survive two
  // young collections (bench/alloc.ts PROMOTED=1).
  (res as Coalescing)[kWrite] = res.write;
  res.write = corkedWrite as typeof res.write;
}

const kWrite = Symbol("signalbox.write");
const kCorked = Symbol("signalbox.corked");
type Coalescing = http.ServerResponse & { [kWrite]?: http.ServerResponse["write"]; [kCorked]?: boolean };

function corkedWrite(this: Coalescing, ...args: unknown[]): boolean {
  if (!this[kCorked] && this.socket) {
    this[kCorked] = true;
    this.socket.cork();
    setImmediate(uncorkLater, this);
  }
  return (this[kWrite] as (...a: unknown[]) => boolean).apply(this, args);
}

function uncorkLater(res: Coalescing): void {
  res[kCorked] = false;
  res.socket?.uncork();
}

/** Paths whose requests may carry audio (25 MB) or a document for OCR (18 MB, base64 in JSON on /v1/ocr) up to 26 MB, whatever server.max_request_bytes says (see gateway.ts's routes for Connect's own limit). */
function carriesUpload(url: string | undefined): boolean {
  return url !== undefined && (url.startsWith("/v1/audio/transcriptions") || url.startsWith("/v1/audio/translations") || url.startsWith("/signalbox.v1.AudioService/") || url.startsWith("/signalbox.v1.OcrService/") || url.startsWith("/v1/ocr") || url.startsWith("/signalbox.v1.RouteService/"));
}

/** A plain HTTP answer to an upgrade request that is not accepted. */
function answerUpgrade(socket: net.Socket, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

export async function startServer(gw: Gateway, opts: ServerOptions): Promise<RunningServer> {
  // The web console under /console/ (server.console), read from the config in force per request.
  const serveConsole = createConsoleHandler(() => gw.core);
  const connect = connectNodeAdapter({
    routes: (r) => gw.routes(r),
    interceptors: gw.interceptors,
    readMaxBytes: opts.maxRequestBytes,
    // Connect GET for NO_SIDE_EFFECTS methods.
    requireConnectProtocolHeader: false,
    // Request bodies that do not decode or inflate: invalid_argument, not internal (wire-errors.ts).
    ...wireErrorOptions(),
    fallback(req, res) {
      if (req.url === "/metrics" && req.method === "GET") {
        gw.core.metrics.scrape().then(
          (text) => {
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      if ((req.url === "/healthz" || req.url === "/readyz") && (req.method === "GET" || req.method === "HEAD")) {
        const ok = gw.health.serving;
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify({ status: ok ? "serving" : "draining" }));
        return;
      }
      if (serveConsole(req, res)) return;
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "not_found", message: `no route for ${req.method} ${req.url}` }));
    },
  });

  let inFlight = 0;
  let drained: (() => void) | undefined;
  // server.cors, compiled once; undefined when not configured (no CORS headers at all).
  const cors = corsPolicyFor(gw.core.config.server.cors);
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    // Bifrost's integration paths (/openai/…, /anthropic/v1/…, /genai/v1beta/…) are the same doors.
    const c1 = req.url?.charCodeAt(1);
    if (c1 === 111 /* o */ || c1 === 97 /* a */ || c1 === 103 /* g */) req.url = bifrostPath(req.url!) ?? req.url;
    // CORS first, on every path: answers preflights and refuses disallowed origins itself.
    if (cors && cors.handle(req, res)) return;
    // Oversized bodies announced up front are refused before reading them (an audio upload may be
    // up to OpenAI's 25 MB whatever the limit of the other endpoints).
    const len = Number(req.headers["content-length"] ?? 0);
    if (len > opts.maxRequestBytes && !(len <= MAX_AUDIO_REQUEST_BYTES && carriesUpload(req.url)) && !(len <= (gw.core.config.server.maxPassthroughBytes ?? MAX_PASSTHROUGH_BYTES) && req.url?.startsWith(PASSTHROUGH_PREFIX))) {
      (res as http.ServerResponse).writeHead(413, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ code: "resource_exhausted", message: `request body of ${len} bytes exceeds the limit of ${opts.maxRequestBytes} bytes` }));
      return;
    }
    inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (--inFlight === 0) drained?.();
    };
    res.once("finish", finish);
    res.once("close", finish);
    if (res instanceof http.ServerResponse && isStreamingContentType(req.headers["content-type"])) coalesceWrites(res);
    // Plain-HTTP front door (the OpenAI-compatible endpoint) first, then Connect.
    if (gw.handleHttp(req, res)) return;
    connect(req as never, res as never);
  };

  const h1 = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handler);
  // WebSocket upgrades: the Realtime API (/v1/realtime); any other path is not found.
  h1.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (!gw.health.serving) return answerUpgrade(socket, 503, { code: "unavailable", message: "the gateway is draining" });
    req.url = bifrostPath(req.url ?? "") ?? req.url;
    if (gw.realtime.upgrade(req, socket, head)) return;
    answerUpgrade(socket, 404, { code: "not_found", message: `no WebSocket endpoint at ${(req.url ?? "").split("?")[0]}` });
  });
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } }, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });

  // Route each connection by its first bytes: the HTTP/2 preface, or HTTP/1.1.
  // noDelay: streamed messages are small writes; Nagle plus delayed ACKs would hold them ~40 ms.
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && head.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      if (isH2) {
        // The HTTP/2 session reads the buffered preface itself (on the next tick).
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const host = opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;

  let shuttingDown: Promise<void> | undefined;
  return {
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    shutdown(graceMs) {
      shuttingDown ??= (async () => {
        gw.health.setServing(false);
        server.close();
        // Realtime sessions last minutes: they are told to go away (1001) now, and reconnect elsewhere.
        // WebRTC calls are hung up (nobody would meter them); their records are written before the stores close.
        const realtimeClosed = gw.realtime.closeAll();
        // HTTP/2: GOAWAY lets in-flight streams finish; HTTP/1.1: close idle keep-alive sockets.
        for (const s of sessions) s.close();
        h1.closeIdleConnections();
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, graceMs);
            drained = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
        await realtimeClosed;
        await gw.close();
      })();
      return shuttingDown;
    },
  };
}
