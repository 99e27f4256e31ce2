// CORS (server.cors): config validation, origin matching, preflights and actual responses on every
// path of a real gateway, over HTTP/1.1 and h2c. HTTP-level only; no browser.

import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { cors as connectCors } from "@connectrpc/connect";
import { parse } from "yaml";
import { buildConfig, ConfigError, DEFAULT_CONFIG_PATH, DEFAULT_CORS_MAX_AGE_SECONDS, loadConfig } from "../../src/config/load.ts";
import type { CorsConfig } from "../../src/config/types.ts";
import { createCorsPolicy, GATEWAY_ALLOWED_HEADERS, GATEWAY_EXPOSED_HEADERS } from "../../src/server/cors.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const SERVER_LINE = "server: { max_request_bytes: 65536 }";
assert.ok(MOCK_CONFIG.includes(SERVER_LINE), "the mock config's server line moved");

/** MOCK_CONFIG with a `server.cors` block (YAML flow mapping), or the given server line. */
const withServer = (server: string) => MOCK_CONFIG.replace(SERVER_LINE, server);
const withCors = (cors: string) => withServer(`server: { max_request_bytes: 65536, cors: ${cors} }`);

/** Validate a `server.cors` flow mapping through the real config loader. */
const corsConfig = (cors: string): CorsConfig => buildConfig(parse(withCors(cors)), {}).server.cors!;

function rejects(cors: string, message: string | RegExp) {
  assert.throws(() => corsConfig(cors), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request with exactly these headers. */
function h1(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** One cleartext HTTP/2 (prior knowledge) request. */
function h2(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base);
    session.on("error", reject);
    const stream = session.request({ ":method": method, ":path": path, ...headers });
    let status = 0;
    let got: Record<string, string | string[] | undefined> = {};
    let text = "";
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      got = h as typeof got;
    });
    stream.setEncoding("utf8");
    stream.on("data", (c: string) => (text += c));
    stream.on("end", () => {
      session.close();
      resolve({ status, headers: got, body: text });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

const list = (v: string | string[] | undefined) => String(v ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
const noCorsHeaders = (r: Reply) => assert.deepEqual(Object.keys(r.headers).filter((k) => k.startsWith("access-control-")), []);

const COMPLETE = "/signalbox.v1.ChatService/Complete";
const COMPLETE_BODY = JSON.stringify({ model: "default", messages: [{ role: "ROLE_USER", content: [{ text: "hi from a page" }] }] });
const CHAT_BODY = JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi from a page" }] });

describe("config", () => {
  test("off by default: no cors key in the mock config or in config/default.yaml", () => {
    assert.equal(buildConfig(parse(MOCK_CONFIG), {}).server.cors, undefined);
    assert.equal(loadConfig(DEFAULT_CONFIG_PATH, {}).server.cors, undefined);
  });

  test("defaults, normalisation and extras", () => {
    const c = corsConfig(`{ allowed_origins: ["HTTPS://App.Example.com:443", "http://localhost:5173", "https://*.Example.com", "http://*.localhost:3000", "*"], allowed_headers: [X-Custom], exposed_headers: [X-Other] }`);
    assert.deepEqual(c, {
      allowedOrigins: ["https://app.example.com", "http://localhost:5173", "https://*.example.com", "http://*.localhost:3000", "*"],
      allowCredentials: false,
      maxAgeSeconds: DEFAULT_CORS_MAX_AGE_SECONDS,
      allowedHeaders: ["x-custom"],
      exposedHeaders: ["x-other"],
    });
    assert.equal(DEFAULT_CORS_MAX_AGE_SECONDS, 7200);
    const d = corsConfig(`{ allowed_origins: ["https://a.example.com"], allow_credentials: true, max_age_seconds: 600 }`);
    assert.equal(d.allowCredentials, true);
    assert.equal(d.maxAgeSeconds, 600);
  });

  test("errors name the field", () => {
    rejects(`{ allow_credentials: true }`, "server.cors.allowed_origins: is required");
    rejects(`{ allowed_origins: [] }`, "server.cors.allowed_origins: needs at least 1 entry");
    rejects(`{ allowed_origins: "*" }`, "server.cors.allowed_origins: expected a list, got string");
    rejects(`{ allowed_origins: ["https://a.example.com", "app.example.com"] }`, /^server\.cors\.allowed_origins\[1\]: "app\.example\.com" is not an origin/);
    rejects(`{ allowed_origins: ["https://a.example.com/"] }`, /^server\.cors\.allowed_origins\[0\]: .*no path, query or trailing slash \(use "https:\/\/a\.example\.com"\)/);
    rejects(`{ allowed_origins: ["https://a.example.com/app"] }`, /^server\.cors\.allowed_origins\[0\]: .*no path/);
    rejects(`{ allowed_origins: ["ftp://a.example.com"] }`, /^server\.cors\.allowed_origins\[0\]: .*scheme must be http or https/);
    rejects(`{ allowed_origins: ["https://a*.example.com"] }`, /^server\.cors\.allowed_origins\[0\]: .*wildcard may only stand for whole leading labels/);
    rejects(`{ allowed_origins: ["https://*.*.example.com"] }`, /^server\.cors\.allowed_origins\[0\]: .*wildcard/);
    rejects(`{ allowed_origins: ["https://*.com"] }`, /^server\.cors\.allowed_origins\[0\]: .*at least two labels/);
    rejects(`{ allowed_origins: ["https://user@a.example.com"] }`, /^server\.cors\.allowed_origins\[0\]: .*user name/);
    rejects(`{ allowed_origins: ["https://a.example.com:99999"] }`, /^server\.cors\.allowed_origins\[0\]: .*is not an origin/);
    rejects(`{ allowed_origins: ["null"] }`, /^server\.cors\.allowed_origins\[0\]: "null" is the opaque origin/);
    rejects(`{ allowed_origins: ["https://a.example.com", "*"], allow_credentials: true }`, /^server\.cors\.allowed_origins\[1\]: "\*" cannot be combined with allow_credentials: true/);
    rejects(`{ allowed_origins: ["*"], max_age_seconds: -1 }`, "server.cors.max_age_seconds: must be >= 0, got -1");
    rejects(`{ allowed_origins: ["*"], allowed_headers: ["x-ok", "bad header"] }`, /^server\.cors\.allowed_headers\[1\]: "bad header" is not a valid header name/);
    rejects(`{ allowed_origins: ["*"], exposed_headers: ["x-*"] }`, /^server\.cors\.exposed_headers\[0\]: .*wildcards are not supported/);
    rejects(`{ allowed_origins: ["*"], allow_origin: true }`, /^server\.cors\.allow_origin: unknown key/);
  });
});

describe("origin matching", () => {
  const p = createCorsPolicy(corsConfig(`{ allowed_origins: ["https://app.example.com", "https://*.example.com", "http://*.dev.test:8080"] }`));

  test("exact origins and wildcard subdomains at any depth", () => {
    for (const o of ["https://app.example.com", "https://a.example.com", "https://a.b.example.com", "https://x-1.example.com", "http://web.dev.test:8080", "http://a.b.dev.test:8080"]) {
      assert.ok(p.allows(o), o);
    }
  });

  test("refuses other origins, other schemes and ports, the apex, suffix tricks", () => {
    for (const o of [
      "https://other.org",
      "http://app.example.com", // scheme
      "https://app.example.com:8443", // port
      "https://a.example.com:443", // browsers never send the default port
      "https://example.com", // the apex is not a subdomain
      "https://evilexample.com", // suffix without the dot
      "https://example.com.evil.com", // the domain as a prefix
      "https://a.example.com.evil.com",
      "http://web.dev.test", // pattern has a port
      "http://web.dev.test:8081",
      "https://.example.com",
      "https://a..example.com",
      "https://evil.com/.example.com",
      "https://evil.com#.example.com",
      "https://user@a.example.com",
      "null",
      "",
    ]) {
      assert.ok(!p.allows(o), o);
    }
  });

  test("* allows any origin", () => {
    const any = createCorsPolicy(corsConfig(`{ allowed_origins: ["*"] }`));
    assert.ok(any.allows("https://anything.example"));
    assert.ok(any.allows("http://localhost:3000"));
  });

  test("header lists build on connect's cors constants and add the gateway's", () => {
    for (const m of connectCors.allowedMethods) assert.ok(p.allowedMethods.includes(m), m);
    for (const h of connectCors.allowedHeaders) assert.ok(p.allowedHeaders.includes(h.toLowerCase()), h);
    for (const h of connectCors.exposedHeaders) assert.ok(p.exposedHeaders.includes(h.toLowerCase()), h);
    for (const h of GATEWAY_ALLOWED_HEADERS) assert.ok(p.allowedHeaders.includes(h), h);
    for (const h of GATEWAY_EXPOSED_HEADERS) assert.ok(p.exposedHeaders.includes(h), h);
    for (const h of ["authorization", "traceparent", "tracestate", "x-signalbox-cache", "x-signalbox-cache-ttl", "cache-control", "x-api-key", "anthropic-version", "x-stainless-retry-count", "x-stainless-timeout", "openai-organization", "openai-project", "x-goog-api-key", "x-goog-api-client"]) {
      assert.ok(p.allowedHeaders.includes(h), h);
    }
    for (const h of ["x-signalbox-trace-id", "x-signalbox-deployment", "x-signalbox-cache", "x-request-id", "retry-after", "retry-after-ms", "grpc-status", "grpc-message"]) {
      assert.ok(p.exposedHeaders.includes(h), h);
    }
    const q = createCorsPolicy(corsConfig(`{ allowed_origins: ["*"], allowed_headers: [X-Custom], exposed_headers: [x-other] }`));
    assert.ok(q.allowedHeaders.includes("x-custom"));
    assert.ok(q.exposedHeaders.includes("x-other"));
    assert.equal(new Set(q.allowedHeaders).size, q.allowedHeaders.length, "no duplicates");
  });
});

describe("gateway with server.cors", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway(withCors(`{ allowed_origins: ["https://app.example.com", "https://*.example.org"], max_age_seconds: 600 }`));
  });
  after(() => t.close());

  const preflight = (origin: string, path = COMPLETE, requestHeaders = "content-type,connect-protocol-version,authorization") =>
    h1(t.url, "OPTIONS", path, { origin, "access-control-request-method": "POST", "access-control-request-headers": requestHeaders });

  function assertPreflightAllowed(r: Reply, origin: string) {
    assert.equal(r.status, 204, r.body);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    assert.deepEqual(list(r.headers["access-control-allow-methods"]), connectCors.allowedMethods.map((m) => m.toLowerCase()));
    const allowed = list(r.headers["access-control-allow-headers"]);
    for (const h of connectCors.allowedHeaders) assert.ok(allowed.includes(h.toLowerCase()), h);
    for (const h of ["authorization", "traceparent", "x-signalbox-cache", "x-stainless-retry-count"]) assert.ok(allowed.includes(h), h);
    assert.equal(r.headers["access-control-max-age"], "600");
    assert.equal(r.headers["access-control-allow-credentials"], undefined);
    assert.ok(list(r.headers.vary).includes("origin"));
    assert.equal(r.body, "");
  }

  test("preflight from an exact origin: 204 with the policy", async () => {
    assertPreflightAllowed(await preflight("https://app.example.com"), "https://app.example.com");
  });

  test("preflight from a wildcard subdomain, one or more labels deep", async () => {
    assertPreflightAllowed(await preflight("https://ui.example.org"), "https://ui.example.org");
    assertPreflightAllowed(await preflight("https://a.b.example.org"), "https://a.b.example.org");
  });

  test("preflight refused: other origin, scheme mismatch, suffix tricks, the apex", async () => {
    for (const origin of ["https://evil.com", "http://app.example.com", "https://evilexample.org", "https://example.org.evil.com", "https://example.org", "https://app.example.com:8443"]) {
      const r = await preflight(origin);
      assert.equal(r.status, 403, origin);
      noCorsHeaders(r);
      assert.equal(JSON.parse(r.body).code, "permission_denied");
    }
  });

  test("preflight allows SDK headers under known prefixes even when not listed, and nothing else", async () => {
    const r = await preflight("https://app.example.com", "/v1/chat/completions", "x-stainless-brand-new, openai-something, x-unrelated");
    const allowed = list(r.headers["access-control-allow-headers"]);
    assert.ok(allowed.includes("x-stainless-brand-new"));
    assert.ok(allowed.includes("openai-something"));
    assert.ok(!allowed.includes("x-unrelated"));
    // The Agents SDK's WebRTC transport posts its offer with X-OpenAI-Agents-SDK.
    const call = await preflight("https://app.example.com", "/v1/realtime/calls", "authorization, content-type, x-openai-agents-sdk");
    assert.ok(list(call.headers["access-control-allow-headers"]).includes("x-openai-agents-sdk"));
  });

  test("Connect JSON call with an allowed Origin gets ACAO and the exposed headers", async () => {
    const origin = "https://app.example.com";
    const r = await h1(t.url, "POST", COMPLETE, { origin, "content-type": "application/json" }, COMPLETE_BODY);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    assert.ok(list(r.headers.vary).includes("origin"));
    assert.equal(r.headers["access-control-allow-credentials"], undefined);
    const exposed = list(r.headers["access-control-expose-headers"]);
    for (const h of ["x-signalbox-trace-id", "x-signalbox-deployment", "x-request-id", "location", "retry-after", "grpc-status", "grpc-message"]) assert.ok(exposed.includes(h), h);
    assert.match(String(r.headers["x-signalbox-trace-id"]), /^[0-9a-f]{32}$/);
    assert.match(r.body, /hi from a page/);
  });

  test("the same over h2c (preflight and call)", async () => {
    const origin = "https://deep.sub.example.org";
    const pre = await h2(t.url, "OPTIONS", COMPLETE, { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], origin);
    assert.equal(pre.headers["access-control-max-age"], "600");
    const r = await h2(t.url, "POST", COMPLETE, { origin, "content-type": "application/json" }, COMPLETE_BODY);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    assert.ok(list(r.headers["access-control-expose-headers"]).includes("x-signalbox-trace-id"));
    const bad = await h2(t.url, "POST", COMPLETE, { origin: "https://evil.com", "content-type": "application/json" }, COMPLETE_BODY);
    assert.equal(bad.status, 403);
    noCorsHeaders(bad);
  });

  test("gRPC-web call with an allowed Origin exposes grpc-status", async () => {
    const origin = "https://app.example.com";
    const r = await h1(t.url, "POST", "/signalbox.v1.RouteService/ListModels", { origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, "\0\0\0\0\0");
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    assert.ok(list(r.headers["access-control-expose-headers"]).includes("grpc-status"));
  });

  test("/v1/chat/completions: preflight and actual call under the same policy", async () => {
    const origin = "https://app.example.com";
    assertPreflightAllowed(await preflight(origin, "/v1/chat/completions", "content-type,authorization,x-stainless-os,x-stainless-lang"), origin);
    const r = await h1(t.url, "POST", "/v1/chat/completions", { origin, "content-type": "application/json" }, CHAT_BODY);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    const exposed = list(r.headers["access-control-expose-headers"]);
    for (const h of ["x-signalbox-trace-id", "x-signalbox-deployment", "x-signalbox-cache", "x-request-id", "retry-after", "retry-after-ms"]) assert.ok(exposed.includes(h), h);
    assert.ok(r.headers["x-signalbox-deployment"]);
    const refused = await preflight("https://evil.com", "/v1/chat/completions");
    assert.equal(refused.status, 403);
    noCorsHeaders(refused);
  });

  test("a disallowed origin's simple request is refused before it runs", async () => {
    const before = t.usage.recent().length;
    const r = await h1(t.url, "POST", "/v1/chat/completions", { origin: "https://evil.com", "content-type": "text/plain" }, CHAT_BODY);
    assert.equal(r.status, 403);
    noCorsHeaders(r);
    assert.equal(JSON.parse(r.body).code, "permission_denied");
    const get = await h1(t.url, "GET", "/signalbox.v1.RouteService/ListModels?connect=v1&encoding=json&message=%7B%7D", { origin: "https://evil.com" });
    assert.equal(get.status, 403);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.usage.recent().length, before);
    // The same request from an allowed origin does run (so the count above can move).
    const ok = await h1(t.url, "POST", "/v1/chat/completions", { origin: "https://app.example.com", "content-type": "application/json" }, CHAT_BODY);
    assert.equal(ok.status, 200, ok.body);
    for (let i = 0; i < 50 && t.usage.recent().length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(t.usage.recent().length, before + 1);
  });

  test("the gateway's own pages (the console) are same-origin: allowed without being listed", async () => {
    const self = new URL(t.url);
    const r = await h1(t.url, "POST", "/v1/chat/completions", { origin: `${self.protocol}//${self.host}`, "content-type": "application/json" }, CHAT_BODY);
    assert.equal(r.status, 200, r.body);
    noCorsHeaders(r);
    // Another port on the same host is another origin.
    const other = await h1(t.url, "POST", "/v1/chat/completions", { origin: `${self.protocol}//${self.hostname}:1`, "content-type": "application/json" }, CHAT_BODY);
    assert.equal(other.status, 403);
  });

  test("/metrics and /healthz follow the policy", async () => {
    for (const path of ["/metrics", "/healthz"]) {
      const ok = await h1(t.url, "GET", path, { origin: "https://app.example.com" });
      assert.equal(ok.status, 200, path);
      assert.equal(ok.headers["access-control-allow-origin"], "https://app.example.com");
      const bad = await h1(t.url, "GET", path, { origin: "https://evil.com" });
      assert.equal(bad.status, 403, path);
      noCorsHeaders(bad);
    }
  });

  test("requests without Origin are unaffected", async () => {
    const r = await h1(t.url, "POST", "/v1/chat/completions", { "content-type": "application/json" }, CHAT_BODY);
    assert.equal(r.status, 200);
    noCorsHeaders(r);
    assert.equal(r.headers.vary, undefined);
    const h = await h1(t.url, "GET", "/healthz");
    assert.equal(h.status, 200);
    noCorsHeaders(h);
    // An OPTIONS without Origin is not a preflight: it reaches the routes as before.
    const o = await h1(t.url, "OPTIONS", COMPLETE);
    assert.notEqual(o.status, 204);
    noCorsHeaders(o);
  });

  test("errors (413 before the body is read) still carry ACAO so the page can read them", async () => {
    const origin = "https://app.example.com";
    const r = await h1(t.url, "POST", "/v1/chat/completions", { origin, "content-type": "application/json", "content-length": String(1 << 20) });
    assert.equal(r.status, 413);
    assert.equal(r.headers["access-control-allow-origin"], origin);
  });
});

describe("gateway with allow_credentials", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway(withCors(`{ allowed_origins: ["https://app.example.com"], allow_credentials: true }`));
  });
  after(() => t.close());

  test("echoes the origin (never *) with Allow-Credentials on preflight and call", async () => {
    const origin = "https://app.example.com";
    const pre = await h1(t.url, "OPTIONS", "/v1/chat/completions", { origin, "access-control-request-method": "POST" });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], origin);
    assert.equal(pre.headers["access-control-allow-credentials"], "true");
    assert.equal(pre.headers["access-control-max-age"], String(DEFAULT_CORS_MAX_AGE_SECONDS));
    const r = await h1(t.url, "POST", COMPLETE, { origin, "content-type": "application/json" }, COMPLETE_BODY);
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], origin);
    assert.equal(r.headers["access-control-allow-credentials"], "true");
    assert.ok(list(r.headers.vary).includes("origin"));
  });
});

describe("gateway without server.cors", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway(MOCK_CONFIG);
  });
  after(() => t.close());

  test("no CORS headers at all, and no refusals", async () => {
    const origin = "https://app.example.com";
    const pre = await h1(t.url, "OPTIONS", COMPLETE, { origin, "access-control-request-method": "POST" });
    noCorsHeaders(pre);
    const r = await h1(t.url, "POST", COMPLETE, { origin, "content-type": "application/json" }, COMPLETE_BODY);
    assert.equal(r.status, 200);
    noCorsHeaders(r);
    const v1 = await h1(t.url, "POST", "/v1/chat/completions", { origin: "https://evil.com", "content-type": "application/json" }, CHAT_BODY);
    assert.equal(v1.status, 200);
    noCorsHeaders(v1);
  });
});
