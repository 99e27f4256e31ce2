// CORS for every path on the gateway's port (Connect, gRPC-web, /v1, /metrics, /healthz): origin
// matching compiled once from `server.cors`, preflight answers, and the headers of actual responses.

import type * as http from "node:http";
import type * as http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import type { CorsConfig } from "../config/types.ts";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Request headers the gateway accepts from browsers besides Connect's own (`cors.allowedHeaders`
 * of @connectrpc/connect: content-type, connect-protocol-version, connect-timeout-ms,
 * x-grpc-web, x-user-agent, grpc-timeout, ...). Besides the gateway's headers, these are what the
 * `openai` SDK (v7, `dangerouslyAllowBrowser`), `@anthropic-ai/sdk` and `@google/genai` send from a browser.
 */
export const GATEWAY_ALLOWED_HEADERS: readonly string[] = [
  "authorization",
  "traceparent",
  "tracestate",
  "x-signalbox-cache",
  "x-signalbox-cache-ttl",
  "cache-control",
  // openai SDK (client.mjs buildHeaders, internal/detect-platform.mjs, lib/polling.mjs).
  "openai-organization",
  "openai-project",
  "openai-beta",
  "x-stainless-lang",
  "x-stainless-package-version",
  "x-stainless-os",
  "x-stainless-arch",
  "x-stainless-runtime",
  "x-stainless-runtime-version",
  "x-stainless-retry-count",
  "x-stainless-timeout",
  "x-stainless-helper-method",
  "x-stainless-poll-helper",
  "x-stainless-custom-poll-interval",
  // Anthropic-style clients.
  "x-api-key",
  "anthropic-version",
  "anthropic-beta",
  "anthropic-dangerous-direct-browser-access",
  // @google/genai (its API key and client headers).
  "x-goog-api-key",
  "x-goog-api-client",
];

/**
 * Requested header names with these prefixes are allowed too, even when not listed above: SDKs add
 * such headers from release to release, and a preflight that leaves one out fails every call.
 */
export const GATEWAY_ALLOWED_HEADER_PREFIXES: readonly string[] = ["x-stainless-", "openai-", "x-openai-", "anthropic-", "x-goog-", "x-portkey-", "x-bf-"];

/** Response headers scripts may read besides Connect's (`cors.exposedHeaders`: grpc-status, grpc-message, ...). */
export const GATEWAY_EXPOSED_HEADERS: readonly string[] = [
  "x-signalbox-trace-id",
  "x-signalbox-deployment",
  "x-signalbox-cache",
  "x-signalbox-cache-similarity",
  "x-request-id",
  // A WebRTC call's id (POST /v1/realtime/calls answers 201 with it), for a page that hangs up or hands it to its server.
  "location",
  "retry-after",
  "retry-after-ms",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
  "anthropic-ratelimit-requests-limit",
  "anthropic-ratelimit-requests-remaining",
  "anthropic-ratelimit-requests-reset",
  "anthropic-ratelimit-tokens-limit",
  "anthropic-ratelimit-tokens-remaining",
  "anthropic-ratelimit-tokens-reset",
];

/** A wildcard-subdomain pattern split into the fixed parts an Origin must start and end with. */
interface SubdomainPattern {
  /** "https://" */
  prefix: string;
  /** ".example.com" or ".example.com:8443" */
  suffix: string;
}

/** What the labels in front of a wildcard pattern's domain may look like (one or more). */
const SUBDOMAIN_LABELS = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const HEADER_TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

const lower = (names: readonly string[]) => [...new Set(names.map((h) => h.toLowerCase()))];

/** A compiled `server.cors` policy. */
export interface CorsPolicy {
  /** Methods answered in Access-Control-Allow-Methods (Connect's `cors.allowedMethods`). */
  readonly allowedMethods: readonly string[];
  /** Every allowed request header, lowercase: Connect's, the gateway's, then the configured extras. */
  readonly allowedHeaders: readonly string[];
  /** Every exposed response header, lowercase: Connect's, the gateway's, then the configured extras. */
  readonly exposedHeaders: readonly string[];
  /** Whether a browser page at `origin` (an Origin header value, as sent) may call the gateway. */
  allows(origin: string): boolean;
  /**
   * Apply the policy to one request, before anything else looks at it. Returns true when the
   * request has been answered (the caller must stop), false when it should be served normally.
   *
   * - No Origin header (servers, curl, same-document navigations): untouched, false.
   * - Preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin:
   *   204 with Access-Control-Allow-Origin (the origin echoed, never `*`), -Allow-Methods,
   *   -Allow-Headers, -Max-Age, -Allow-Credentials when configured, and Vary; true. The allowed
   *   headers are the fixed list plus any requested `x-stainless-*`, `openai-*` or `anthropic-*`
   *   names; a requested method or header outside the lists is not refused here, the browser
   *   refuses it against the answer (and says which one in its console).
   * - Any other request from an allowed origin: Access-Control-Allow-Origin, -Expose-Headers,
   *   -Allow-Credentials when configured and `Vary: Origin` are set on `res`; false.
   * - Any request, preflight or not, from an origin not allowed: 403 with a JSON body
   *   `{code: "permission_denied", message}` and no Access-Control-* headers; true.
   *
   * Refusing (rather than only omitting the headers, which already keeps the browser from reading
   * the answer) is deliberate: a page on any site can send "simple" cross-origin requests without a
   * preflight (a Connect GET, a text/plain POST to /v1/chat/completions), and with auth off, or a
   * key in a cookie-authenticating proxy in front, those would still run and spend. Only browsers
   * send Origin on such requests, so servers and curl are unaffected; a page served from the
   * gateway's own origin (the console) is always allowed: its Origin names the Host it calls.
   */
  handle(req: Req, res: Res): boolean;
}

/**
 * Compile `server.cors` (already validated and normalised by src/config/load.ts) into a policy.
 * Everything per request is a Set lookup or a couple of string comparisons; the header values are
 * built here once.
 */
export function createCorsPolicy(config: CorsConfig): CorsPolicy {
  const anyOrigin = config.allowedOrigins.includes("*");
  const exact = new Set<string>();
  const patterns: SubdomainPattern[] = [];
  for (const o of config.allowedOrigins) {
    if (o === "*") continue;
    const i = o.indexOf("://*.");
    if (i < 0) {
      exact.add(o);
      continue;
    }
    patterns.push({ prefix: o.slice(0, i + 3), suffix: o.slice(i + 4) });
  }
  if (anyOrigin && config.allowCredentials) throw new Error('server.cors: "*" cannot be combined with allow_credentials');

  const allowedMethods = [...connectCors.allowedMethods];
  const allowedHeaders = lower([...connectCors.allowedHeaders, ...GATEWAY_ALLOWED_HEADERS, ...config.allowedHeaders]);
  const exposedHeaders = lower([...connectCors.exposedHeaders, ...GATEWAY_EXPOSED_HEADERS, ...config.exposedHeaders]);
  const allowedHeaderSet = new Set(allowedHeaders);

  const ALLOW_METHODS = allowedMethods.join(", ");
  const ALLOW_HEADERS = allowedHeaders.join(", ");
  const EXPOSE_HEADERS = exposedHeaders.join(", ");
  const MAX_AGE = String(config.maxAgeSeconds);
  const credentials = config.allowCredentials;
  const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

  const matchesPattern = (origin: string, p: SubdomainPattern): boolean => {
    if (origin.length <= p.prefix.length + p.suffix.length || !origin.startsWith(p.prefix) || !origin.endsWith(p.suffix)) return false;
    // The labels in front: "a" or "a.b", never empty, never carrying a port, path or userinfo.
    return SUBDOMAIN_LABELS.test(origin.slice(p.prefix.length, origin.length - p.suffix.length));
  };

  const allows = (origin: string): boolean => {
    if (anyOrigin) return true;
    if (exact.has(origin)) return true;
    for (const p of patterns) if (matchesPattern(origin, p)) return true;
    return false;
  };

  /** The fixed list, plus requested names under an allowed prefix that the list does not hold. */
  const allowHeadersFor = (requested: string | undefined): string => {
    if (!requested) return ALLOW_HEADERS;
    let extra = "";
    for (const raw of requested.split(",")) {
      const name = raw.trim().toLowerCase();
      if (name === "" || allowedHeaderSet.has(name) || !HEADER_TOKEN.test(name)) continue;
      if (GATEWAY_ALLOWED_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix))) extra += `, ${name}`;
    }
    return extra ? ALLOW_HEADERS + extra : ALLOW_HEADERS;
  };

  const refuse = (res: Res, origin: string, preflight: boolean) => {
    const body = JSON.stringify({
      code: "permission_denied",
      message: `origin ${JSON.stringify(origin)} is not allowed to call this gateway from a browser (server.cors.allowed_origins)`,
    });
    res.statusCode = 403;
    res.setHeader("content-type", "application/json");
    res.setHeader("vary", preflight ? PREFLIGHT_VARY : "Origin");
    res.end(body);
  };

  return {
    allowedMethods,
    allowedHeaders,
    exposedHeaders,
    allows,
    handle(req, res) {
      const origin = req.headers.origin;
      if (origin === undefined || sameOrigin(origin, req)) return false;
      const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      if (!allows(origin)) {
        refuse(res, origin, preflight);
        return true;
      }
      res.setHeader("access-control-allow-origin", origin);
      if (credentials) res.setHeader("access-control-allow-credentials", "true");
      if (!preflight) {
        res.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
        res.setHeader("vary", "Origin");
        return false;
      }
      const requested = req.headers["access-control-request-headers"];
      res.setHeader("access-control-allow-methods", ALLOW_METHODS);
      res.setHeader("access-control-allow-headers", allowHeadersFor(Array.isArray(requested) ? requested.join(",") : requested));
      res.setHeader("access-control-max-age", MAX_AGE);
      res.setHeader("vary", PREFLIGHT_VARY);
      res.statusCode = 204;
      res.end();
      return true;
    },
  };
}

/**
 * A page served by the gateway itself (the console) calling it: browsers send Origin on
 * same-origin POSTs too, and such a request needs no CORS answer. Origin's host[:port] equal to
 * the request's own Host (or :authority) cannot come from another site's page.
 */
function sameOrigin(origin: string, req: Req): boolean {
  const host = (req.headers as Record<string, string | string[] | undefined>)[":authority"] ?? req.headers.host;
  if (typeof host !== "string" || host === "") return false;
  const i = origin.indexOf("://");
  return i > 0 && origin.length === i + 3 + host.length && origin.endsWith(host) && (origin.startsWith("http://") || origin.startsWith("https://"));
}

/** The policy for `server.cors`, or undefined when CORS is off (no `cors` key: no CORS headers at all). */
export function corsPolicyFor(config: CorsConfig | undefined): CorsPolicy | undefined {
  return config ? createCorsPolicy(config) : undefined;
}
