// Bad bytes at the front doors: request bodies that do not decode (protobuf, envelope flags, compression) are
// answered as invalid_argument, never internal, over Connect, gRPC and gRPC-web alike (connectNodeAdapter options).

import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { Compression } from "@connectrpc/connect/protocol";

// How it works. connect-es decodes the request before any interceptor runs and raises a few errors that the
// client caused as Code.Internal: `parse binary: …` (serialization.js), a compressed envelope without an
// encoding (envelope.js), and zlib failures other than Z_DATA_ERROR, e.g. a truncated gzip body (connect-node's
// compression.js). Every protocol handler then calls `context.abort(error)` *before* it serializes that error
// (Connect unary JSON body and HTTP status, Connect end-stream envelope, gRPC trailers, gRPC-web trailer
// envelope). A request gate (a documented UniversalHandlerOptions hook that runs once per call, before the body
// is read) puts one shared listener on the call's signal; when the signal aborts with such an error, the
// listener re-codes that same error object, and connect-es writes invalid_argument in each protocol's own form.
// The happy path costs one addEventListener per call and one cheap check when the call's signal is aborted at
// its end; no body, trailer or JSON is parsed. Decompression failures are re-coded at their source instead:
// the Compression objects are wrapped, so their rejection already carries invalid_argument.
// test/server/bad-bytes.test.ts fuzzes all of it per protocol; it fails loudly if a connect-es upgrade changes
// the order of abort and serialization or the messages matched here.
//
// Left as connect-es answers them (all client-side codes, none internal):
// - unknown compression: unimplemented (gRPC compression spec; Connect returns HTTP 501), with the accepted
//   encodings in the accept-encoding header;
// - a content type no protocol serves (or none): HTTP 415 with no body, as the Connect and gRPC specs say;
//   clients report that as unknown. A JSON content type with protobuf bytes parses as JSON: invalid_argument;
// - an envelope declaring more bytes than sent (truncated frame) or a unary length mismatch: invalid_argument;
// - an envelope or body over the size limit: resource_exhausted;
// - no message or two messages for a unary/server-streaming method: unimplemented (as connect-go does).

/** Client-caused decode errors that connect-es raises as Code.Internal, by their raw message. */
function isClientDecodeError(rawMessage: string): boolean {
  return rawMessage.startsWith("parse binary:") || rawMessage === "received compressed envelope, but do not know how to decompress";
}

/**
 * Re-code a request decode error that connect-es raised as internal to invalid_argument, in place (the error
 * object is the one the protocol handler is about to serialize). Any other value is left alone.
 * Returns true when it re-coded the error.
 */
export function recodeClientDecodeError(err: unknown): boolean {
  if (!(err instanceof ConnectError) || err.code !== Code.Internal || !isClientDecodeError(err.rawMessage)) return false;
  // `code` is readonly in the typings only; `message` carries the code name ("[internal] …").
  (err as { code: Code }).code = Code.InvalidArgument;
  err.message = new ConnectError(err.rawMessage, Code.InvalidArgument).message;
  return true;
}

const ONCE = { once: true } as const;

/** Shared by every call: `this` is the call's (aborted) signal. No closure is allocated per request. */
function onCallAbort(this: AbortSignal): void {
  recodeClientDecodeError(this.reason);
}

/**
 * Request gate that makes request decode errors of this call come back as invalid_argument.
 * Pass it as `requestGate` to connectNodeAdapter (or createConnectRouter); to add a gate of your own, call
 * `wireErrorGate(context)` first inside it.
 */
export function wireErrorGate(context: HandlerContext): void {
  context.signal.addEventListener("abort", onCallAbort, ONCE);
}

/**
 * Wrap a Compression so that any decompression failure other than the size limit (resource_exhausted) rejects
 * as invalid_argument: the bytes came from the client. connect-node reports a truncated gzip or brotli body
 * (zlib Z_BUF_ERROR and the like) as internal.
 */
export function clientSafeCompression(inner: Compression): Compression {
  return {
    name: inner.name,
    compress: (bytes) => inner.compress(bytes),
    decompress: (bytes, readMaxBytes) =>
      inner.decompress(bytes, readMaxBytes).catch((e: unknown) => {
        const ce = ConnectError.from(e, Code.InvalidArgument);
        if (ce.code === Code.ResourceExhausted || ce.code === Code.InvalidArgument) throw ce;
        const cause = ce.cause instanceof Error ? ce.cause.message : "";
        throw new ConnectError(cause ? `${ce.rawMessage}: ${cause}` : ce.rawMessage, Code.InvalidArgument, undefined, undefined, ce.cause ?? e);
      }),
  };
}

/**
 * The connectNodeAdapter / createConnectRouter options that keep client-caused decode errors off `internal`:
 * the request gate above and gzip and brotli (connectNodeAdapter's default set) wrapped by clientSafeCompression.
 */
export function wireErrorOptions(): { requestGate: (context: HandlerContext) => void; acceptCompression: Compression[] } {
  return {
    requestGate: wireErrorGate,
    acceptCompression: [clientSafeCompression(compressionGzip), clientSafeCompression(compressionBrotli)],
  };
}
