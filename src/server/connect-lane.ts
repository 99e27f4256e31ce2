// The POST calls of Connect, gRPC (HTTP/2) and gRPC-web (unary, and server streaming) served by the gateway
// itself, on the same service implementations connect-node serves: Connect GET, grpc-web-text, gRPC over
// HTTP/1.1 and every request this lane does not take are left to connect-node, which answers them as before.
//
// Why: connect-node alone costs more CPU per stream than the gateway's whole target for a stream
// (README, "What connect-node costs by itself"): a universal request with WHATWG Headers made from
// Node's headers, a pipeline of down-levelled async generators per call (whose objects V8 promotes),
// and two DOMExceptions per call from aborting finished calls' AbortControllers. This lane reads the
// body once, decodes it with connect-es's own serialization (so the same bytes parse the same way),
// calls the implementation, and writes one buffer per message.
//
// What it takes: POST to a method of a registered service; a Connect content type matching the
// method's kind (application/proto or application/json for unary, application/connect+proto or
// +json for server streaming), or gRPC's over HTTP/2, or gRPC-web's (binary or JSON); a compression
// connect-node also accepts (or none); and a valid connect-timeout-ms or grpc-timeout (or none). Anything else is passed on before a byte of the body is read, so
// connect-node answers it exactly as it did (HTTP 415, unimplemented compression, bad timeouts,
// unknown methods). Errors are written with connect-es's own serializers (errorToJsonBytes, the
// end-stream serialization, setTrailerStatus and the gRPC-web trailer), status mapping and compression. test/server/connect-lane.test.ts
// compares this lane's answers with connect-node's, byte for byte where nothing varies per request.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { create, isMessage, type DescMessage, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { compressedFlag, compressionNegotiate, createMethodSerializationLookup, mergeNonProtocolHeaders, type Compression, type MethodSerializationLookup } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeStreamJson,
  contentTypeStreamProto,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  createEndStreamSerialization,
  endStreamFlag,
  errorToJsonBytes,
  parseContentType,
  parseTimeout,
} from "@connectrpc/connect/protocol-connect";
import {
  contentTypeJson as grpcJson,
  contentTypeProto as grpcProto,
  grpcStatusOk,
  parseContentType as parseGrpcContentType,
  parseTimeout as parseGrpcTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import {
  contentTypeJson as grpcWebJson,
  contentTypeProto as grpcWebProto,
  parseContentType as parseGrpcWebContentType,
  trailerFlag,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";
import { recodeClientDecodeError } from "./wire-errors.ts";
import { log } from "../telemetry/log.ts";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** One call as the gateway sees it: what its identify step opened (request id, trace, caller). */
export interface RpcCall {
  traceId: string;
}

/**
 * What the gateway does around every RPC (the identify interceptor's work, for this lane): open the
 * call (request id, trace span, caller), and close it with its outcome.
 */
export interface RpcHooks<C extends RpcCall = RpcCall> {
  /** Request id, trace and span; the request info goes into `values`. Never throws. */
  open(service: string, method: string, headers: IncomingHttpHeaders, values: ContextValues): C;
  /** The caller, into `values`; throws when the credentials are refused. */
  authenticate(call: C, headers: IncomingHttpHeaders, values: ContextValues): void;
  /** A unary call answered. */
  ok(call: C): void;
  /** A call that failed before its answer (or its stream) began: the error to send; the span ends with it. */
  fail(call: C, err: unknown, signal: AbortSignal): ConnectError;
  /** A stream's messages, ending the call's span when the stream ends. */
  stream<T>(call: C, it: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T>;
}

export interface ConnectLaneOptions {
  /** Every service with its implementation, as registered on connect-node's router. */
  services: ReadonlyArray<readonly [DescService, object]>;
  hooks: RpcHooks;
  readMaxBytes: number;
  /** The compressions connect-node accepts (wireErrorOptions().acceptCompression), in its order. */
  compression: Compression[];
}

interface LaneMethod {
  service: DescService;
  method: DescMethod;
  stream: boolean;
  impl: (input: Message, ctx: HandlerContext) => unknown;
  ser: MethodSerializationLookup<DescMessage, DescMessage>;
}

/** connect-es' default: messages below 1 KiB are not worth compressing. */
const COMPRESS_MIN_BYTES = 1024;
const WRITE_MAX_BYTES = 0xffffffff;
const endStream = createEndStreamSerialization(undefined);
/** The end of a stream with no error and no trailers: `{}` in an end-stream envelope. */
const END_OK = Buffer.from([endStreamFlag, 0, 0, 0, 2, 0x7b, 0x7d]);

/**
 * The lane: a function that takes a request (returning true) or leaves it to connect-node (false,
 * nothing read).
 */
export function createConnectLane(opts: ConnectLaneOptions): (req: Req, res: Res) => boolean {
  const methods = new Map<string, LaneMethod>();
  for (const [service, impl] of opts.services) {
    for (const method of service.methods) {
      const fn = (impl as Record<string, unknown>)[method.localName];
      if (typeof fn !== "function") continue; // unimplemented: connect-node answers
      if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") continue;
      methods.set(`/${service.typeName}/${method.name}`, {
        service,
        method,
        stream: method.methodKind === "server_streaming",
        impl: fn.bind(impl) as LaneMethod["impl"],
        ser: createMethodSerializationLookup(method, undefined, undefined, { readMaxBytes: opts.readMaxBytes, writeMaxBytes: WRITE_MAX_BYTES }),
      });
    }
  }
  const env: Env = { hooks: opts.hooks, readMaxBytes: opts.readMaxBytes };

  return function lane(req, res) {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const m = methods.get(q < 0 ? url : url.slice(0, q));
    if (m === undefined) return false;
    const h = req.headers;
    const ct = h["content-type"] ?? null;
    let protocol: Protocol;
    let binary: boolean;
    let encoding: string | undefined;
    let accept: string | undefined;
    let acceptName: string;
    let timeout: { timeoutMs?: number; error?: ConnectError };
    const type = parseContentType(ct);
    if (type !== undefined) {
      if (type.stream !== m.stream) return false;
      protocol = "connect";
      binary = type.binary;
      encoding = first(m.stream ? h["connect-content-encoding"] : h["content-encoding"]);
      accept = first(m.stream ? h["connect-accept-encoding"] : h["accept-encoding"]);
      acceptName = m.stream ? "connect-accept-encoding" : "accept-encoding";
      timeout = parseTimeout(first(h["connect-timeout-ms"]) ?? null, Number.MAX_SAFE_INTEGER);
    } else {
      const grpc = parseGrpcContentType(ct);
      const web = grpc === undefined ? parseGrpcWebContentType(ct) : undefined;
      // gRPC needs HTTP/2's trailers; grpc-web-text (base64 bodies) is rare: both left to connect-node.
      if (grpc !== undefined && req.httpVersion === "2.0") protocol = "grpc";
      else if (web !== undefined && !web.text) protocol = "grpc-web";
      else return false;
      binary = (grpc ?? web)!.binary;
      encoding = first(h["grpc-encoding"]);
      accept = first(h["grpc-accept-encoding"]);
      acceptName = "grpc-accept-encoding";
      timeout = parseGrpcTimeout(first(h["grpc-timeout"]) ?? null, Number.MAX_SAFE_INTEGER);
    }
    const compression = compressionNegotiate(opts.compression, encoding ?? null, accept ?? null, acceptName);
    if (compression.error || timeout.error) return false;
    const call = new LaneCall(m, protocol, req, res, binary, compression.request, compression.response, timeout.timeoutMs);
    guard(protocol !== "connect" ? serveGrpc(env, call, protocol) : m.stream ? serveStream(env, call) : serveUnary(env, call), call);
    return true;
  };
}

type Protocol = "connect" | "grpc" | "grpc-web";

/**
 * Every error a call can meet is answered in its protocol's form; what is left (a write that throws)
 * must not become an unhandled rejection, which would stop the process: the call is aborted and its
 * connection reset, and the error logged.
 */
function guard(p: Promise<void>, c: LaneCall): void {
  p.catch((err: unknown) => {
    log("error", "RPC handler failed while answering", { rpc: `${c.m.service.typeName}/${c.m.method.name}`, protocol: c.protocolName, error: (err as Error)?.message ?? String(err) });
    c.done();
    if (!c.signal.aborted) c.ac.abort(new ConnectError("internal error", Code.Internal));
    if (!c.res.destroyed) (c.res as ServerResponse).destroy();
  });
}

interface Env {
  hooks: RpcHooks;
  readMaxBytes: number;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const kCall = Symbol("signalbox.laneCall");

/** The call's state and its HandlerContext: one object per call, no closures kept on it. */
class LaneCall implements HandlerContext {
  readonly values: ContextValues = createContextValues();
  readonly signal: AbortSignal;
  readonly ac = new AbortController();
  readonly deadline: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Set when the call's work is over (see done()).  */
  answered = false;
  /** Set once the status line and headers are written. */
  started = false;
  private reqHeader: Headers | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  readonly requestMethod = "POST";
  readonly protocolName: Protocol;

  readonly m: LaneMethod;
  readonly req: Req;
  readonly res: Res;
  readonly binary: boolean;
  readonly decompress: Compression | null;
  readonly compress: Compression | null;

  constructor(m: LaneMethod, protocol: Protocol, req: Req, res: Res, binary: boolean, decompress: Compression | null, compress: Compression | null, timeoutMs: number | undefined) {
    this.m = m;
    this.protocolName = protocol;
    this.req = req;
    this.res = res;
    this.binary = binary;
    this.decompress = decompress;
    this.compress = compress;
    this.signal = this.ac.signal;
    if (timeoutMs !== undefined) {
      this.deadline = Date.now() + timeoutMs;
      this.timer = setTimeout(onDeadline, timeoutMs, this);
    }
    (res as Res & { [kCall]?: LaneCall })[kCall] = this;
    res.once("close", onClose);
  }

  get method(): DescMethod {
    return this.m.method;
  }
  get service(): DescService {
    return this.m.service;
  }
  timeoutMs(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - Date.now();
  }
  get url(): string {
    const h = this.req.headers;
    return `http://${first(h[":authority"]) ?? h.host ?? "localhost"}${this.req.url ?? ""}`;
  }
  get requestHeader(): Headers {
    if (!this.reqHeader) {
      const out = new Headers();
      for (const [k, v] of Object.entries(this.req.headers)) {
        if (k.startsWith(":") || v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) out.append(k, x);
        else out.set(k, v);
      }
      this.reqHeader = out;
    }
    return this.reqHeader;
  }
  get responseHeader(): Headers {
    return (this.resHeader ??= new Headers());
  }
  get responseTrailer(): Headers {
    return (this.resTrailer ??= new Headers());
  }

  /** Response headers: the content type, then what handlers added (and, unary, trailers as `trailer-*`). */
  headers(contentType: string, extra: Record<string, string> | undefined, error: ConnectError | undefined, trailers: boolean): Record<string, string> {
    const out: Record<string, string> = { "content-type": contentType, ...extra };
    const add = (h: Headers | undefined, prefix: string) => h?.forEach((v, k) => (out[prefix + k] = v));
    if (this.resHeader || (error && !error.isWireError && hasKeys(error.metadata))) {
      const h = new Headers(this.resHeader);
      if (error && !error.isWireError) mergeNonProtocolHeaders(h, error.metadata);
      h.delete("content-type");
      add(h, "");
    }
    if (trailers) add(this.resTrailer, "trailer-");
    return out;
  }

  /** A streaming answer's status line and headers, written once, when its first bytes are ready. */
  begin(contentType: string, extra: Record<string, string>): void {
    if (this.started) return;
    this.started = true;
    (this.res as ServerResponse).writeHead(200, this.headers(contentType, extra, undefined, false));
  }

  /** Trailers a handler set, if any. */
  trailers(): Headers | undefined {
    return this.resTrailer !== undefined && hasKeys(this.resTrailer) ? this.resTrailer : undefined;
  }

  /** The call's work is over (its answer, or its error, is being written): a close from here on cancels nothing. */
  done(): void {
    this.answered = true;
    this.clearTimer();
  }

  clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function hasKeys(h: Headers): boolean {
  for (const _ of h.keys()) return true;
  return false;
}

function onDeadline(call: LaneCall): void {
  call.timer = undefined;
  if (!call.signal.aborted) call.ac.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
}

/** The response closed: before it finished, the client went away. `this` is the response. */
function onClose(this: Res & { [kCall]?: LaneCall }): void {
  const call = this[kCall];
  if (!call) return;
  call.clearTimer();
  // Our own flag, not writableFinished: an HTTP/2 response reset by the client reads as finished.
  if (!call.answered && !call.signal.aborted) call.ac.abort(new ConnectError("the client closed the call", Code.Canceled));
}

/** The whole request body, within the size limit, checked against its declared length (as connect-es does). */
function readBody(req: Req, readMaxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = req.headers["content-length"];
    const hint = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined;
    if (hint !== undefined && hint > readMaxBytes) {
      req.resume();
      reject(new ConnectError(`message size ${hint} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (hint !== undefined && size > hint) {
        failed = true;
        reject(new ConnectError(`protocol error: promised ${hint} bytes, received ${size}`, Code.InvalidArgument));
      } else if (size > readMaxBytes) {
        failed = true;
        reject(new ConnectError(`message size is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted));
      } else chunks.push(chunk);
    });
    req.once("end", () => {
      if (failed) return;
      if (hint !== undefined && size < hint) reject(new ConnectError(`protocol error: promised ${hint} bytes, received ${size}`, Code.InvalidArgument));
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.once("error", (e) => {
      if (!failed) reject(ConnectError.from(e, Code.Canceled));
      failed = true;
    });
  });
}

function asError(err: unknown): ConnectError {
  if (err instanceof ConnectError) {
    recodeClientDecodeError(err);
    return err;
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}

function output(m: LaneMethod, out: unknown): Message {
  return isMessage(out, m.method.output) ? out : create(m.method.output as DescMessage, out as never);
}

async function serveUnary(env: Env, c: LaneCall): Promise<void> {
  const { m, res } = c;
  let status = 200;
  let body: Uint8Array;
  let headers: Record<string, string>;
  try {
    // As connect-es: the body is read and parsed before the call is identified.
    let bytes = await readBody(c.req, env.readMaxBytes);
    if (c.decompress) bytes = await c.decompress.decompress(bytes, env.readMaxBytes);
    const input = m.ser.getI(c.binary).parse(bytes);
    const rpc = env.hooks.open(m.service.typeName, m.method.name, c.req.headers, c.values);
    let out: unknown;
    try {
      env.hooks.authenticate(rpc, c.req.headers, c.values);
      out = await m.impl(input, c);
    } catch (err) {
      throw env.hooks.fail(rpc, err, c.signal);
    }
    env.hooks.ok(rpc);
    body = m.ser.getO(c.binary).serialize(output(m, out));
    headers = c.headers(c.binary ? contentTypeUnaryProto : contentTypeUnaryJson, { "x-signalbox-trace-id": rpc.traceId }, undefined, true);
  } catch (err) {
    const error = asError(err);
    status = codeToHttpStatus(error.code);
    body = errorToJsonBytes(error, undefined);
    headers = c.headers(contentTypeUnaryJson, undefined, error, true);
  }
  c.done();
  if (c.compress && body.byteLength >= COMPRESS_MIN_BYTES) {
    body = await c.compress.compress(body);
    headers["content-encoding"] = c.compress.name;
  }
  headers["content-length"] = String(body.byteLength);
  if (res.destroyed) return;
  (res as ServerResponse).writeHead(status, headers);
  res.end(body);
}

/** One envelope: flags, the 4-byte big-endian length, the data; compressed when asked and worth it. */
async function envelope(c: LaneCall, flags: number, data: Uint8Array): Promise<Buffer> {
  if (c.compress && data.byteLength >= COMPRESS_MIN_BYTES) {
    data = await c.compress.compress(data);
    flags |= compressedFlag;
  }
  return frame(flags, data);
}

function frame(flags: number, data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + data.byteLength);
  b[0] = flags;
  b.writeUInt32BE(data.byteLength, 1);
  b.set(data, 5);
  return b;
}

/**
 * The one request message of a call, from its envelopes (as connect-es reads them): envelopes flagged
 * `skip` (a Connect end-stream, a gRPC-web trailer) are passed over.
 */
async function singleInput(env: Env, c: LaneCall, bytes: Uint8Array, skip: number | undefined = endStreamFlag): Promise<Message> {
  const kind = c.m.stream ? "server-streaming" : "unary";
  let input: Message | undefined;
  let at = 0;
  while (at < bytes.byteLength) {
    if (bytes.byteLength - at < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    const flags = bytes[at];
    const len = ((bytes[at + 1] << 24) | (bytes[at + 2] << 16) | (bytes[at + 3] << 8) | bytes[at + 4]) >>> 0;
    if (len > env.readMaxBytes) throw new ConnectError(`message size ${len} is larger than configured readMaxBytes ${env.readMaxBytes}`, Code.ResourceExhausted);
    if (bytes.byteLength - at - 5 < len) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    let data = bytes.subarray(at + 5, at + 5 + len);
    at += 5 + len;
    if ((flags & compressedFlag) === compressedFlag) {
      if (!c.decompress) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.InvalidArgument);
      data = await c.decompress.decompress(data, env.readMaxBytes);
    }
    if (skip !== undefined && (flags & skip) === skip) continue; // an end-stream (trailer) envelope from a client is passed over
    if (input !== undefined) throw new ConnectError(`protocol error: received extra input message for ${kind} method`, Code.Unimplemented);
    input = c.m.ser.getI(c.binary).parse(data);
  }
  if (input === undefined) throw new ConnectError(`protocol error: missing input message for ${kind} method`, Code.Unimplemented);
  return input;
}

/** Resolves when the response can take more, or has closed. */
function drained(res: Res): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** A stream's messages, enveloped, one write each (with backpressure); the headers go with the first. */
async function pump(env: Env, c: LaneCall, rpc: RpcCall, messages: AsyncIterable<unknown>, contentType: string, base: Record<string, string>): Promise<void> {
  const { m, res } = c;
  const ser = m.ser.getO(c.binary);
  for await (const msg of env.hooks.stream(rpc, messages, c.signal)) {
    if (res.destroyed) break; // the client went away: return() ends the handler's stream
    const env5 = await envelope(c, 0, ser.serialize(output(m, msg)));
    c.begin(contentType, base);
    if (!(res as ServerResponse).write(env5) && !res.destroyed) await drained(res);
  }
}

async function serveStream(env: Env, c: LaneCall): Promise<void> {
  const { m, res } = c;
  const contentType = c.binary ? contentTypeStreamProto : contentTypeStreamJson;
  const base: Record<string, string> = {};
  if (c.compress) base["connect-content-encoding"] = c.compress.name;
  let error: ConnectError | undefined;
  try {
    // As connect-es: the call is identified before its body is read.
    const rpc = env.hooks.open(m.service.typeName, m.method.name, c.req.headers, c.values);
    let messages: AsyncIterable<unknown>;
    try {
      env.hooks.authenticate(rpc, c.req.headers, c.values);
      const input = await singleInput(env, c, await readBody(c.req, env.readMaxBytes));
      messages = m.impl(input, c) as AsyncIterable<unknown>;
    } catch (err) {
      throw env.hooks.fail(rpc, err, c.signal);
    }
    base["x-signalbox-trace-id"] = rpc.traceId;
    await pump(env, c, rpc, messages, contentType, base);
  } catch (err) {
    error = asError(err);
  }
  c.done();
  if (res.destroyed) return;
  c.begin(contentType, base);
  const trailers = c.trailers();
  if (error === undefined && trailers === undefined) {
    res.end(END_OK);
    return;
  }
  const data = endStream.serialize({ metadata: new Headers(trailers), error });
  res.end(await envelope(c, endStreamFlag, data));
}

/** The trailers of a gRPC or gRPC-web call: grpc-status (and the error), with what handlers added. */
function grpcTrailers(c: LaneCall, error: ConnectError | undefined): Headers {
  const t = new Headers(c.trailers());
  t.set("grpc-status", grpcStatusOk);
  return setTrailerStatus(t, error);
}

/**
 * gRPC (HTTP/2, trailers) and gRPC-web (a trailer envelope at the end of the body): unary and server
 * streaming alike, as connect-es serves them: the call is identified before the body is read, exactly
 * one request message, the messages enveloped, the status in the trailers (HTTP 200 either way).
 */
async function serveGrpc(env: Env, c: LaneCall, protocol: "grpc" | "grpc-web"): Promise<void> {
  const { m, res } = c;
  const web = protocol === "grpc-web";
  const base: Record<string, string> = {};
  if (c.compress) base["grpc-encoding"] = c.compress.name;
  const contentType = web ? (c.binary ? grpcWebProto : grpcWebJson) : c.binary ? grpcProto : grpcJson;
  let error: ConnectError | undefined;
  try {
    const rpc = env.hooks.open(m.service.typeName, m.method.name, c.req.headers, c.values);
    let messages: AsyncIterable<unknown> | undefined;
    let single: unknown;
    try {
      env.hooks.authenticate(rpc, c.req.headers, c.values);
      const input = await singleInput(env, c, await readBody(c.req, env.readMaxBytes), web ? trailerFlag : undefined);
      if (m.stream) messages = m.impl(input, c) as AsyncIterable<unknown>;
      else single = await m.impl(input, c);
    } catch (err) {
      throw env.hooks.fail(rpc, err, c.signal);
    }
    if (!m.stream) env.hooks.ok(rpc);
    base["x-signalbox-trace-id"] = rpc.traceId;
    if (messages === undefined) {
      const env5 = await envelope(c, 0, m.ser.getO(c.binary).serialize(output(m, single)));
      c.begin(contentType, base);
      if (!res.destroyed) (res as ServerResponse).write(env5);
    } else await pump(env, c, rpc, messages, contentType, base);
  } catch (err) {
    error = asError(err);
  }
  c.done();
  if (res.destroyed) return;
  c.begin(contentType, base);
  const trailers = grpcTrailers(c, error);
  if (web) {
    res.end(await envelope(c, trailerFlag, trailerSerialize(trailers)));
    return;
  }
  const out: Record<string, string> = {};
  trailers.forEach((v, k) => (out[k] = v));
  (res as Http2ServerResponse).addTrailers(out);
  res.end();
}
