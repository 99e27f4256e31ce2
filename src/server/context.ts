// Per-request values carried through Connect's contextValues: the caller and the trace id.

import { createHash, randomBytes } from "node:crypto";
import { createContextKey } from "@connectrpc/connect";
import type { Context } from "@opentelemetry/api";
import { GatewayError } from "../router/errors.ts";
import type { Call } from "../router/types.ts";
import { LIMITS } from "./validate.ts";

export interface RequestInfo {
  /** The gateway's request id. */
  id: string;
  /** W3C trace id (32 hex) continued from traceparent or freshly made. */
  traceId: string;
  /** performance.now() at arrival. */
  arrivedAt: number;
  /** The RPC span's context, when tracing is on: the explicit parent of every span of the request. */
  otel?: Context;
  /** What the request's headers said of it (Portkey's x-portkey-metadata): merged into the call before it is planned. */
  context?: RequestContext;
}

/** Metadata and an end user a request carries in headers rather than in its body. */
export interface RequestContext {
  metadata: Record<string, string>;
  user?: string;
}

/** Merge a request's header context into its call, before planning: the body's own metadata and user win. */
export function applyRequestContext(call: Call, ctx: RequestContext): void {
  const merged: Record<string, string> = { ...ctx.metadata, ...call.metadata };
  if (Object.keys(merged).length > LIMITS.metadata) throw new GatewayError("invalid_argument", `metadata: at most ${LIMITS.metadata} entries, x-portkey-metadata's included`, { field: "metadata" });
  call.metadata = merged;
  if (!call.user && ctx.user) {
    call.user = ctx.user;
    // The end user is the A/B split's sticky key when nothing else names one, as the body's `user` is.
    if (!call.routing.stickyKey) call.routing.stickyKey = ctx.user;
  }
}

/** The W3C trace id a trace id of the caller's own naming stands for: itself when it is one (32 hex, not all zero), else its SHA-256's first 16 bytes. */
export function traceIdOfText(v: string): string {
  const lower = v.toLowerCase();
  if (/^[0-9a-f]{32}$/.test(lower) && lower !== "0".repeat(32)) return lower;
  return createHash("sha256").update(v).digest("hex").slice(0, 32);
}

export const requestInfoKey = createContextKey<RequestInfo | undefined>(undefined, { description: "signalbox request info" });

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

// Random bytes are drawn 4 KiB at a time: one call to the CSPRNG per 256 trace ids instead of
// one per request (it showed as 6% of the unary path's CPU).
const POOL = 4096;
let pool = randomBytes(POOL);
let offset = 0;

/** 16 random bytes as 32 hex characters. */
export function randomId128(): string {
  if (offset + 16 > POOL) {
    pool = randomBytes(POOL);
    offset = 0;
  }
  const s = pool.toString("hex", offset, offset + 16);
  offset += 16;
  return s;
}

/** The trace id of an incoming traceparent header, or a new one. */
export function traceIdFrom(traceparent: string | null): string {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (m && m[1] !== "0".repeat(32)) return m[1];
  return randomId128();
}

let seq = 0;
const prefix = randomBytes(4).toString("hex");
/** A request id unique across replicas (random prefix per process, counter within). */
export function newRequestId(): string {
  seq = (seq + 1) >>> 0;
  return `req_${prefix}${Date.now().toString(36)}${seq.toString(36)}`;
}
