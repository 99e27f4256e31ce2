// Small helpers shared by every adapter: header lookup, the retry-after rules of the official SDKs
// (retry-after-ms, then retry-after seconds or HTTP date), and what a status alone says of a failure.

import type { FailureKind } from "./types.ts";

export type Headers = Record<string, string | string[] | undefined>;

/** The first value of a header (names are lower-case, as node and undici deliver them). */
export function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Retry delay the provider asked for, in ms: `retry-after-ms` (float ms, Azure/OpenAI) first,
 * then `retry-after` as seconds or an HTTP date. Missing, negative or non-finite values give
 * undefined; the router applies its own cap.
 */
export function retryAfterMs(h: Headers, now = Date.now()): number | undefined {
  const ms = header(h, "retry-after-ms");
  if (ms !== undefined) {
    const v = Number.parseFloat(ms);
    if (Number.isFinite(v) && v >= 0) return Math.round(v);
  }
  const ra = header(h, "retry-after");
  if (ra !== undefined && ra.trim() !== "") {
    const secs = Number(ra);
    if (Number.isFinite(secs)) return secs >= 0 ? Math.round(secs * 1000) : undefined;
    const date = Date.parse(ra);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/** `x-should-retry: true|false` (OpenAI, Anthropic), if present. */
export function shouldRetryHeader(h: Headers): boolean | undefined {
  const v = header(h, "x-should-retry");
  if (v === "true") return true;
  if (v === "false") return false;
  return undefined;
}

/** Parse a JSON body, or undefined if it is not JSON. */
export function tryJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Cut a provider message to a sane length for error messages. */
export function clip(s: string, n = 500): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/**
 * What an HTTP status alone says of a failure, for providers whose error bodies add little to it
 * (Cohere, the search engines): each adds the statuses of its own before asking this.
 */
export function kindOfStatus(status: number): { kind: FailureKind; retryable?: boolean } {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return { kind: "bad_request" };
    case 401:
    case 403:
      return { kind: "upstream_auth" };
    case 402:
      return { kind: "quota_exhausted", retryable: false };
    case 404:
      return { kind: "model_not_found" };
    case 408:
    case 504:
      return { kind: "timeout" };
    case 429:
      return { kind: "rate_limited" };
    case 503:
      return { kind: "overloaded" };
  }
  if (status >= 500) return { kind: "server_error" };
  if (status >= 400) return { kind: "bad_request" };
  return { kind: "unknown" };
}
