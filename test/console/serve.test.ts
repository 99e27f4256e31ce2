// How the gateway serves the console (src/server/console.ts) and reads its config: files and
// their cache headers, the app's routes, traversal, a missing build, server.console off,
// /console/config.json, who a key is (AdminService.GetCaller), and config errors that name the field.

import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { type Authenticator, hashKey } from "../../src/server/auth.ts";
import { createConsoleHandler } from "../../src/server/console.ts";
import { startTestGateway } from "../helpers/gateway.ts";

const BASE = `
providers: [{ name: mock, type: mock }]
deployments: [{ id: mock/a, provider: mock, model: mock-a }]
routes: [{ name: default, targets: [mock/a] }]
`;
const config = (extra: string): Config => buildConfig(parse(BASE + extra), {});

const SECRET = ["serve", "test", "key"].join("-");
const auth: Authenticator = {
  enabled: true,
  authenticate(h) {
    if (h !== `Bearer ${SECRET}`) throw new Error("unauthenticated: missing or unknown key");
    return { keyName: "ops", team: "platform", role: "admin", allow: [] };
  },
};

async function serve(handler: ReturnType<typeof createConsoleHandler>) {
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404).end("fallthrough");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())) };
}

describe("console site", () => {
  let dir: string;
  let site: Awaited<ReturnType<typeof serve>>;
  const cfg = config(`console: { trace_url: "http://jaeger:16686/trace/{trace_id}" }`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "signalbox-console-dist-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), "<!doctype html><title>console</title>");
    await writeFile(join(dir, "app-ABCD2345.js"), "console.log(1)");
    await writeFile(join(dir, "notes.txt"), "plain");
    site = await serve(createConsoleHandler(() => ({ config: cfg, auth }), dir));
  });
  after(async () => {
    await site.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("/console redirects to /console/, keeping the query", async () => {
    const r = await fetch(`${site.url}/console?from=x`, { redirect: "manual" });
    assert.equal(r.status, 308);
    assert.equal(r.headers.get("location"), "/console/?from=x");
  });

  test("index.html is not cached and carries a content security policy", async () => {
    const r = await fetch(`${site.url}/console/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(r.headers.get("cache-control"), "no-cache");
    assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(await r.text(), /<title>console/);
    const again = await fetch(`${site.url}/console/`, { headers: { "if-none-match": r.headers.get("etag")! } });
    assert.equal(again.status, 304);
  });

  test("hashed assets are cached for a year, others revalidated", async () => {
    const js = await fetch(`${site.url}/console/app-ABCD2345.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const txt = await fetch(`${site.url}/console/notes.txt`);
    assert.equal(txt.headers.get("cache-control"), "no-cache");
    const head = await fetch(`${site.url}/console/app-ABCD2345.js`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), "14");
    assert.equal(await head.text(), "");
  });

  test("the app's own routes get index.html; missing files and traversal are 404", async () => {
    for (const p of ["/console/requests", "/console/requests/req_1", "/console/keys/"]) {
      const r = await fetch(site.url + p);
      assert.equal(r.status, 200, p);
      assert.match(await r.text(), /<title>console/, p);
    }
    for (const p of ["/console/app-MISSING1.js", "/console/missing.css", "/console/..%2fsecret.txt", "/console/%2e%2e/%2e%2e/etc/passwd", "/console/assets/..%2f..%2f..%2fetc%2fpasswd"]) {
      const r = await fetch(site.url + p);
      assert.equal(r.status, 404, p);
    }
    assert.equal((await fetch(`${site.url}/consoles`)).status, 404);
    assert.equal(await (await fetch(`${site.url}/consoles`)).text(), "fallthrough");
  });

  test("only GET and HEAD", async () => {
    const r = await fetch(`${site.url}/console/`, { method: "POST", body: "x" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET, HEAD");
  });

  test("config.json says the trace link template and whether auth is on", async () => {
    const r = await fetch(`${site.url}/console/config.json`);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.deepEqual(await r.json(), { authEnabled: true, traceUrl: "http://jaeger:16686/trace/{trace_id}" });
  });

  test("a missing build is 503 saying how to build it", async () => {
    const empty = await mkdtemp(join(tmpdir(), "signalbox-console-empty-"));
    const s = await serve(createConsoleHandler(() => ({ config: cfg, auth }), join(empty, "dist")));
    try {
      const r = await fetch(`${s.url}/console/`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /console not built: run npm run build/);
      // config.json needs no build.
      assert.equal((await fetch(`${s.url}/console/config.json`)).status, 200);
    } finally {
      await s.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("console config", () => {
  test("server.console defaults to true; console.trace_url is optional", () => {
    assert.equal(config("server: { port: 8080 }").server.console, true);
    assert.notEqual(config("").server.console, false);
    assert.deepEqual(config("").console, {});
  });

  test("errors name the field", () => {
    const cases: [string, RegExp][] = [
      [`server: { console: maybe }`, /^server\.console: expected true or false/],
      [`console: { trace_url: "http://jaeger:16686/trace/" }`, /^console\.trace_url: .*no \{trace_id\} placeholder/],
      [`console: { trace_url: "ftp://jaeger/{trace_id}" }`, /^console\.trace_url: .*scheme must be http or https/],
      [`console: { trace_url: "not a url {trace_id}" }`, /^console\.trace_url: .*is not a URL/],
      [`console: { tracing: "x" }`, /^console\.tracing: unknown key/],
    ];
    for (const [yaml, message] of cases) {
      assert.throws(() => config(yaml), (e: unknown) => e instanceof ConfigError && message.test(e.message), yaml);
    }
  });

  test("through the gateway: server.console off is 404; on, /console/config.json answers", async () => {
    const key = `keys: [{ name: k, hash: "${hashKey(SECRET)}", team: t, role: admin }]\n`;
    const off = await startTestGateway(`${BASE}${key}server: { console: false }\n`);
    const on = await startTestGateway(`${BASE}${key}console: { trace_url: "https://traces.example.com/t/{trace_id}" }\n`);
    try {
      const r = await fetch(`${off.url}/console/config.json`);
      assert.equal(r.status, 404);
      assert.equal(((await r.json()) as { code: string }).code, "not_found");
      assert.deepEqual(await (await fetch(`${on.url}/console/config.json`)).json(), { authEnabled: true, traceUrl: "https://traces.example.com/t/{trace_id}" });
      const who = await fetch(`${on.url}/signalbox.v1.AdminService/GetCaller`, { method: "POST", headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" }, body: "{}" });
      assert.deepEqual(await who.json(), { key: "k", team: "t", role: "KEY_ROLE_ADMIN", authEnabled: true });
      const bad = await fetch(`${on.url}/signalbox.v1.AdminService/GetCaller`, { method: "POST", headers: { authorization: "Bearer nope", "content-type": "application/json" }, body: "{}" });
      assert.equal(bad.status, 401);
      assert.equal(((await bad.json()) as { code: string }).code, "unauthenticated");
    } finally {
      await Promise.all([off.close(), on.close()]);
    }
  });
});
