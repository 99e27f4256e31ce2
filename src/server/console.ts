// The web console at /console/: the single-page app built into console/dist, its settings
// (/console/config.json). Everything else it shows, who the key is included, it reads from the RPCs.

import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/types.ts";
import type { Authenticator } from "./auth.ts";
import type { ConsoleSso } from "./sso.ts";

/** What the handler reads of a request (HTTP/1.1 and HTTP/2 compatibility requests alike). */
interface Req {
  url?: string;
  method?: string;
  headers: IncomingHttpHeaders;
}

/** What the handler uses of a response (HTTP/1.1 and HTTP/2 compatibility responses alike). */
interface Res {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: string | Uint8Array): unknown;
}

/** Where `npm run build` (console/build.mjs) writes the console. */
export const CONSOLE_DIST = fileURLToPath(new URL("../../console/dist/", import.meta.url));

/** The URL path the console lives under. */
export const CONSOLE_PATH = "/console/";

/** What the console needs of the gateway, read at request time (a reload replaces both). */
export interface ConsoleDeps {
  config: Pick<Config, "server" | "console">;
  auth: Authenticator;
  /** Sign-in through console.sso (/console/sso/login and /callback). */
  sso?: ConsoleSso;
}

/** Answers /console and everything under /console/; true when it did. */
export type ConsoleHandler = (req: Req, res: Res) => boolean;

/** What /console/config.json says: the settings the page cannot learn from the API. */
export interface ConsoleSettings {
  /** Trace link template with `{trace_id}`; absent when none is configured. */
  traceUrl?: string;
  /** False while no key exists: every caller is anonymous and the console needs no sign-in. */
  authEnabled: boolean;
  /** console.sso is configured: the sign-in offers the identity provider (never its client's secret). */
  sso?: { issuer: string };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** esbuild's `[name]-[hash]` file names (8 base32 characters): their content never changes. */
const HASHED = /-[A-Z0-9]{8}\.[a-z0-9]+$/;

/** Paths that name a file: a miss is a 404, not the app (a missing script must not come back as HTML). */
const ASSET = /\.(?:js|css|map|json|png|svg|ico|woff2|txt)$/;

// The page talks only to its own origin; styles set from scripts (uPlot) need 'unsafe-inline'.
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/**
 * The console's request handler. `deps` is called on every request, so a config reload (a new
 * `console.trace_url`) and keys created at run time take effect at once; `server.console` is
 * read the same way but only changes with a restart, like the rest of `server`.
 * - `/console` redirects to `/console/`; only GET and HEAD are served (405 otherwise);
 * - files of `dir` are served with their content type: `index.html` and unhashed files with
 *   `cache-control: no-cache`, hashed ones for a year; a `.gz` beside a file is sent to clients
 *   that accept gzip;
 * - any other path under /console/ is the app's own route: index.html (history routing), except
 *   paths that name a file, which are 404;
 * - paths that escape `dir` are 404; a missing build is 503 saying how to build it.
 */
export function createConsoleHandler(deps: () => ConsoleDeps, dir: string = CONSOLE_DIST): ConsoleHandler {
  const root = resolve(dir);
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    if (rawPath !== "/console" && !rawPath.startsWith(CONSOLE_PATH)) return false;
    const { config, auth, sso } = deps();
    if (config.server.console === false) return false;
    if (sso?.handle(rawPath, req as never, res as never)) return true;
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, req, 405, { "content-type": "application/json", allow: "GET, HEAD" }, JSON.stringify({ code: "unimplemented", message: `${req.method} is not served under /console/` }));
      return true;
    }
    if (rawPath === "/console") {
      send(res, req, 308, { location: CONSOLE_PATH + (q < 0 ? "" : url.slice(q)) }, "");
      return true;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(rawPath.slice(CONSOLE_PATH.length));
    } catch {
      send(res, req, 400, { "content-type": "text/plain; charset=utf-8" }, "bad path encoding");
      return true;
    }
    if (rel === "config.json") {
      const body: ConsoleSettings = {
        authEnabled: auth.enabled,
        ...(config.console.traceUrl ? { traceUrl: config.console.traceUrl } : {}),
        ...(config.console.sso ? { sso: { issuer: config.console.sso.issuer } } : {}),
      };
      send(res, req, 200, { "content-type": "application/json", "cache-control": "no-store" }, JSON.stringify(body));
      return true;
    }
    const index = join(root, "index.html");
    if (!existsSync(index)) {
      send(res, req, 503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, "console not built: run npm run build\n");
      return true;
    }
    const file = resolve(root, `.${sep}${rel}`);
    if (rel.includes("\0") || (file !== root && !file.startsWith(root + sep))) {
      send(res, req, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
      return true;
    }
    if (rel !== "" && rel !== "index.html" && isFile(file)) {
      sendFile(req, res, file, HASHED.test(file) ? "public, max-age=31536000, immutable" : "no-cache");
      return true;
    }
    if (ASSET.test(rel)) {
      send(res, req, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
      return true;
    }
    sendFile(req, res, index, "no-cache", PAGE_HEADERS);
    return true;
  };
}

/** True when the console has been built into `dir`. */
export function consoleBuilt(dir: string = CONSOLE_DIST): boolean {
  return existsSync(join(dir, "index.html"));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function send(res: Res, req: Req, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)), "x-content-type-options": "nosniff" });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** A file with its content type and cache policy; ETag revalidation; gzip when accepted and built. */
function sendFile(req: Req, res: Res, path: string, cacheControl: string, extra: Record<string, string> = {}): void {
  const gz = `${path}.gz`;
  const useGz = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? "")) && isFile(gz);
  const served = useGz ? gz : path;
  const st = statSync(served);
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${useGz ? "-gz" : ""}"`;
  const headers: Record<string, string> = {
    "content-type": TYPES[extname(path)] ?? "application/octet-stream",
    "cache-control": cacheControl,
    etag,
    vary: "accept-encoding",
    "x-content-type-options": "nosniff",
    ...extra,
  };
  if (useGz) headers["content-encoding"] = "gzip";
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  if (req.method === "HEAD") {
    res.writeHead(200, { ...headers, "content-length": String(st.size) });
    res.end();
    return;
  }
  // The build is a few hundred KiB: read whole, no streaming needed.
  readFile(served).then(
    (body) => {
      res.writeHead(200, { ...headers, "content-length": String(body.length) });
      res.end(body);
    },
    () => send(res, req, 500, { "content-type": "text/plain; charset=utf-8" }, "cannot read the console build\n"),
  );
}
