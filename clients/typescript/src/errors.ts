// The one error type callers see: a ConnectError whose gateway details (ErrorInfo) are read out
// into plain fields, so nobody has to decode error details by hand.

import { Code, ConnectError } from "@connectrpc/connect";
import { type Attempt, type Cost, ErrorInfoSchema, FailureKind, FailureKindSchema, type Usage } from "./gen/signalbox/v1/common_pb.ts";

/** Lower-case name of a FailureKind, e.g. "rate_limited"; "" when unspecified. */
export function failureKindName(kind: FailureKind): string {
  if (kind === FailureKind.UNSPECIFIED) return "";
  const name = FailureKindSchema.value[kind]?.name ?? "FAILURE_KIND_UNKNOWN";
  return name.slice("FAILURE_KIND_".length).toLowerCase();
}

/** Lower-case name of a Connect code, e.g. "resource_exhausted". */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
}

/**
 * An error from the gateway. It is a ConnectError (`code`, `rawMessage`, `metadata` all work),
 * with the gateway's ErrorInfo exposed as fields:
 * - `failureKind`: why the upstream failed (rate_limited, overloaded, …), when it did;
 * - `attempts`: every deployment tried, with outcome and latency;
 * - `retryAfterMs`: when to try again (rate limits), if the gateway knows;
 * - `field`: the request field that was invalid (invalid_argument);
 * - `deliveredDeltas`/`deliveredChars`, `usage`, `cost`: what a stream had delivered and cost
 *   before it was cut;
 * - `traceId`: the trace of the request, for Jaeger.
 */
export class SignalboxError extends ConnectError {
  // ConnectError's own instanceof check accepts subclasses only under its name, so keep it:
  // `err instanceof ConnectError` stays true for code written against connect-es.
  override name = "ConnectError";
  readonly failureKind: FailureKind;
  readonly attempts: Attempt[];
  readonly retryAfterMs: number | undefined;
  readonly field: string | undefined;
  readonly deliveredDeltas: number;
  readonly deliveredChars: number;
  readonly usage: Usage | undefined;
  readonly cost: Cost | undefined;
  readonly traceId: string | undefined;

  constructor(err: ConnectError) {
    super(err.rawMessage, err.code, err.metadata, undefined, err.cause ?? err);
    // Keep the wire details so findDetails() still works on the typed error.
    (this as { details: ConnectError["details"] }).details = err.details;
    const info = err.findDetails(ErrorInfoSchema)[0];
    this.failureKind = info?.failureKind ?? FailureKind.UNSPECIFIED;
    this.attempts = info?.attempts ?? [];
    this.field = info?.field || undefined;
    this.deliveredDeltas = info?.deliveredDeltas ?? 0;
    this.deliveredChars = info?.deliveredChars ?? 0;
    this.usage = info?.usage;
    this.cost = info?.cost;
    this.traceId = info?.traceId || err.metadata.get("x-signalbox-trace-id") || undefined;
    this.retryAfterMs = info?.retryAfterMs ?? retryAfterFromHeaders(err.metadata);
  }

  /** A real SignalboxError (not any ConnectError, which the inherited check would accept). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(SignalboxError, v);
  }

  /** The Connect code as a lower-case name, e.g. "unavailable". */
  get codeName(): string {
    return codeName(this.code);
  }

  /** The failure kind as a lower-case name, e.g. "overloaded"; "" when none. */
  get failureKindName(): string {
    return failureKindName(this.failureKind);
  }

  /** Anything thrown by a call, as a SignalboxError (an abort stays a `canceled` one). */
  static from(reason: unknown): SignalboxError {
    if (reason instanceof SignalboxError) return reason;
    return new SignalboxError(ConnectError.from(reason));
  }
}

function retryAfterFromHeaders(h: Headers): number | undefined {
  const ms = h.get("retry-after-ms");
  if (ms && /^\d+$/.test(ms)) return Number(ms);
  const s = h.get("retry-after");
  if (s && /^\d+$/.test(s)) return Number(s) * 1000;
  return undefined;
}
