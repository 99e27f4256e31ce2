// Small helpers over upstream response headers shared by every adapter: header lookup and the
// retry-after rules of the official SDKs (retry-after-ms, then retry-after seconds or HTTP date).

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
