// The interceptors every client gets (key, trace context, typed errors) and the optional retry
// for unary calls. An interceptor is an onion: (next) => async (req) => …

import { Code, type Interceptor } from "@connectrpc/connect";
import { SignalboxError } from "./errors.ts";

/** `Authorization: Bearer <key>` on every call. */
export function authInterceptor(apiKey: string): Interceptor {
  const value = `Bearer ${apiKey}`;
  return (next) => (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}

/** The minimal slice of `@opentelemetry/api` the client uses to read the active span. */
export interface OtelApi {
  context: { active(): unknown };
  trace: { getSpanContext(ctx: never): { traceId: string; spanId: string; traceFlags: number } | undefined };
}

/**
 * Forwards the W3C `traceparent` of the caller's active OpenTelemetry span, so the gateway's
 * spans join the caller's trace. A `traceparent` the caller set by hand is left alone.
 */
export function traceparentInterceptor(api: OtelApi): Interceptor {
  return (next) => (req) => {
    if (!req.header.has("traceparent")) {
      const sc = api.trace.getSpanContext(api.context.active() as never);
      if (sc && /^[0-9a-f]{32}$/.test(sc.traceId) && sc.traceId !== "0".repeat(32)) {
        req.header.set("traceparent", `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`);
      }
    }
    return next(req);
  };
}

/** Every failure, unary or mid-stream, surfaces as a SignalboxError. */
export const errorInterceptor: Interceptor = (next) => async (req) => {
  let res;
  try {
    res = await next(req);
  } catch (err) {
    throw SignalboxError.from(err);
  }
  if (!res.stream) return res;
  const inner = res.message;
  return {
    ...res,
    message: (async function* () {
      try {
        yield* inner;
      } catch (err) {
        throw SignalboxError.from(err);
      }
    })(),
  };
};

export interface RetryOptions {
  /** Total tries including the first. Default 3. */
  maxAttempts?: number;
  /** First backoff when the gateway gives no retry-after; doubles each try, with jitter. Default 250 ms. */
  baseDelayMs?: number;
  /** Longest wait between tries, including a retry-after. Default 10 s. */
  maxDelayMs?: number;
}

/**
 * Retries unary calls that failed for a reason that may pass: `unavailable` (every deployment
 * failed, the gateway is draining), and `resource_exhausted` only when the gateway said when to
 * come back (a rate limit; a spent budget carries no retry-after and is not retried). A
 * retry-after is honoured. Streams are never retried: once a stream has started, the caller has
 * seen part of an answer. Never waits past the call's deadline or after it was aborted.
 */
export function retryInterceptor(opts: RetryOptions = {}): Interceptor {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const base = opts.baseDelayMs ?? 250;
  const cap = opts.maxDelayMs ?? 10_000;
  return (next) => async (req) => {
    if (req.stream) return next(req);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        const e = SignalboxError.from(err);
        const retryable = e.code === Code.Unavailable || (e.code === Code.ResourceExhausted && e.retryAfterMs !== undefined);
        if (!retryable || attempt >= maxAttempts || req.signal.aborted) throw e;
        const backoff = base * 2 ** (attempt - 1);
        const delay = Math.min(cap, e.retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
        if (e.retryAfterMs !== undefined && e.retryAfterMs > cap) throw e;
        await sleep(delay, req.signal);
      }
    }
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(SignalboxError.from(signal.reason));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
