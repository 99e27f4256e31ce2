// The only code that does HTTP: undici, one connection pool per upstream origin, keep-alive,
// connect/headers/body timeouts, and the caller's abort signal on every request. Transport
// failures are classified here (network, timeout, canceled); HTTP statuses are the adapter's.

import { Pool, errors as undiciErrors } from "undici";
import type { ProviderConfig } from "../config/types.ts";
import type { HttpRequestSpec } from "./types.ts";
import { ProviderError } from "./types.ts";

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array> & { text(): Promise<string>; dump(): Promise<void> };
}

export interface Transport {
  request(conn: ProviderConfig, spec: HttpRequestSpec, signal: AbortSignal): Promise<UpstreamResponse>;
  /**
   * After a config reload: close the pools no connection in `active` uses any more (a removed
   * provider, or one whose base URL, timeouts or connection limit changed). Requests still in
   * flight on them finish first. Optional: a transport without pools has nothing to prune.
   */
  prune?(active: readonly ProviderConfig[]): Promise<void>;
  close(): Promise<void>;
}

/** Classify a transport-level failure (no HTTP status). */
export function classifyTransportError(err: unknown, signal: AbortSignal, conn: ProviderConfig): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal.aborted) {
    const r = signal.reason;
    if (r instanceof ProviderError) return r;
    return new ProviderError({ kind: "canceled", message: "request canceled", cause: r });
  }
  const code = (err as { code?: string })?.code ?? "";
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    const unsent = err instanceof undiciErrors.ConnectTimeoutError;
    return new ProviderError({ kind: "timeout", message: `${conn.name}: ${code || "timeout"} waiting for upstream`, cause: err, ...(unsent ? { unsent } : {}) });
  }
  return new ProviderError({
    kind: "network",
    message: `${conn.name}: connection failed (${code || (err as Error)?.name || "error"})`,
    cause: err,
  });
}

export function createTransport(): Transport {
  const pools = new Map<string, Pool>();

  const poolKey = (conn: ProviderConfig, origin: string) => {
    const t = conn.timeouts;
    return `${conn.name} ${origin} ${conn.maxConnections} ${t.connectMs}/${t.headersMs}/${t.bodyMs}`;
  };

  function poolFor(conn: ProviderConfig, origin: string): Pool {
    // The pool's own settings are part of its key: after a config reload changes a provider's
    // timeouts or connection limit, its requests go to a pool built with the new ones (prune
    // closes the old one once its requests are done).
    const key = poolKey(conn, origin);
    let pool = pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: conn.maxConnections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connectTimeout: conn.timeouts.connectMs,
        headersTimeout: conn.timeouts.headersMs,
        bodyTimeout: conn.timeouts.bodyMs,
      });
      pools.set(key, pool);
    }
    return pool;
  }

  // Base URLs are parsed once per connection config, not per request (keyed by the object, not
  // the name: a reload may give a provider of the same name a new base_url).
  const bases = new WeakMap<ProviderConfig, { origin: string; prefix: string }>();
  function base(conn: ProviderConfig) {
    let b = bases.get(conn);
    if (!b) {
      const u = new URL(conn.baseUrl);
      b = { origin: u.origin, prefix: u.pathname.replace(/\/+$/, "") };
      bases.set(conn, b);
    }
    return b;
  }

  return {
    async request(conn, spec, signal) {
      const { origin, prefix } = base(conn);
      try {
        const res = await poolFor(conn, origin).request({
          method: spec.method,
          path: prefix + spec.path,
          headers: spec.headers,
          body: spec.body,
          signal,
        });
        return { status: res.statusCode, headers: res.headers, body: res.body as unknown as UpstreamResponse["body"] };
      } catch (err) {
        throw classifyTransportError(err, signal, conn);
      }
    },
    async prune(active) {
      const keep = new Set<string>();
      for (const conn of active) {
        if (conn.type === "mock") continue;
        try {
          keep.add(poolKey(conn, base(conn).origin));
        } catch {
          // An unparsable base URL has no pool.
        }
      }
      const gone = [...pools.entries()].filter(([key]) => !keep.has(key));
      for (const [key] of gone) pools.delete(key);
      await Promise.all(gone.map(([, p]) => p.close().catch(() => p.destroy())));
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close().catch(() => p.destroy())));
      pools.clear();
    },
  };
}
