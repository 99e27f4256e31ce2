// @signalbox/client in a real browser: Debian's Chromium (driven by playwright-core) loads a page
// from another origin than the gateway, bundled by esbuild for the browser, and streams chats over
// Connect and gRPC-web through the gateway's CORS. Proves: the "browser" export condition is what
// a bundler picks (no connect-node / http2 in the bundle); deltas are rendered as they arrive,
// before the finish event's usage and cost; an origin not in server.cors.allowed_origins is
// refused before anything reaches a provider; abort() in the page cancels the upstream request.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../helpers/wait.ts";
import { build } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { parse } from "yaml";
import { buildConfig, DEFAULT_CONFIG_PATH, loadConfig } from "../../src/config/load.ts";
import { createGateway, type Gateway } from "../../src/gateway.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { createMemoryUsageSink } from "../../src/usage/record.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PAGE_DIR = fileURLToPath(new URL("./page/", import.meta.url));
const OUTPUT_DIR = join(ROOT, "test-output", "browser");

const haveChromium = existsSync(CHROMIUM);
const skip = !haveChromium && !process.env.CI ? `${CHROMIUM} is missing (apt-get install -y chromium); set CI=1 to make this a failure` : false;

// ---------------------------------------------------------------------------------------------
// Servers: the page's origin(s), a slow OpenAI-compatible upstream that sees aborts, the gateway

interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves index.html at / and the esbuild output at /bundle.js; nothing else. */
async function startStatic(files: Record<string, { type: string; body: Buffer }>): Promise<StaticServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const f = files[path === "/" ? "/index.html" : path];
    if (!f || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": f.type, "cache-control": "no-store" }).end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface UpstreamCall {
  startedAt: number;
  chunksSent: number;
  finished: boolean;
  /** Date.now() when the gateway's connection went away before the stream was finished. */
  closedEarlyAt?: number;
}

const UPSTREAM_CHUNKS = 40;
const UPSTREAM_GAP_MS = 100;

/**
 * A tiny OpenAI Chat Completions upstream: streams UPSTREAM_CHUNKS chat.completion.chunk events
 * UPSTREAM_GAP_MS apart (4 s in all) and records when the caller hangs up before the end.
 * (test/fakes/openai.ts does not record closed connections.)
 */
async function startSlowUpstream() {
  const calls: UpstreamCall[] = [];
  const server = http.createServer(async (req, res) => {
    for await (const _ of req); // the request body does not matter
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
      return;
    }
    const call: UpstreamCall = { startedAt: Date.now(), chunksSent: 0, finished: false };
    calls.push(call);
    res.on("close", () => {
      if (!call.finished) call.closedEarlyAt = Date.now();
    });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const base = { id: "chatcmpl-browser", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: "gpt-4o-mini" };
    const send = (o: object) => res.write(`data: ${JSON.stringify({ ...base, ...o })}\n\n`);
    send({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
    for (let i = 0; i < UPSTREAM_CHUNKS; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, UPSTREAM_GAP_MS));
      if (res.destroyed || call.closedEarlyAt !== undefined) return;
      send({ choices: [{ index: 0, delta: { content: `tick ${i} ` }, finish_reason: null }] });
      call.chunksSent++;
    }
    send({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
    send({ choices: [], usage: { prompt_tokens: 12, completion_tokens: UPSTREAM_CHUNKS * 2, total_tokens: 12 + UPSTREAM_CHUNKS * 2 } });
    call.finished = true;
    res.end("data: [DONE]\n\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * config/default.yaml as shipped (its mock deployments, mock/slow among them), plus what this test
 * adds, parsed by the real config loader: server.cors for the page's origin only, and an openai
 * provider pointed at the slow upstream (route "browser-cancel").
 */
function gatewayConfig(pageOrigin: string, upstreamUrl: string) {
  const env = { BROWSER_TEST_OPENAI_KEY: "sk-fake-browser-test" };
  const config = loadConfig(DEFAULT_CONFIG_PATH, env);
  const extra = buildConfig(
    parse(`
server:
  cors:
    allowed_origins: ["${pageOrigin}"]
    allow_credentials: false
    max_age_seconds: 60
providers:
  - name: slow-upstream
    type: openai
    base_url: ${upstreamUrl}
    api_key: \${BROWSER_TEST_OPENAI_KEY}
    timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 10000 }
deployments:
  - { id: upstream/gpt-4o-mini, provider: slow-upstream, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
routes:
  - name: browser-cancel
    targets: [upstream/gpt-4o-mini]
    retry: { max_retries: 0 }
`),
    env,
  );
  config.server.cors = extra.server.cors;
  config.providers.push(...extra.providers);
  config.deployments.push(...extra.deployments);
  config.routes.push(...extra.routes);
  return config;
}

// ---------------------------------------------------------------------------------------------

interface PageEvent {
  kind: "start" | "delta" | "finish" | "abort" | "error";
  t: number;
  spans: number;
  usageShown: boolean;
}

interface PageRun {
  page: Page;
  status: string;
  consoleErrors: string[];
  failedRequests: string[];
  events: PageEvent[];
}

describe("@signalbox/client in Chromium, cross-origin", { skip }, () => {
  const started = performance.now();
  let work: string;
  let bundle: string;
  let allowed: StaticServer;
  let disallowed: StaticServer;
  let upstream: Awaited<ReturnType<typeof startSlowUpstream>>;
  let gw: Gateway;
  let server: RunningServer;
  let usage: ReturnType<typeof createMemoryUsageSink>;
  let context: BrowserContext;

  before(async () => {
    if (!haveChromium) throw new Error(`CI is set but ${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
    work = await mkdtemp(join(tmpdir(), "signalbox-browser-"));
    await mkdir(OUTPUT_DIR, { recursive: true });

    const result = await build({
      entryPoints: [join(PAGE_DIR, "main.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      target: "es2022",
      outfile: join(work, "bundle.js"),
      metafile: true,
      logLevel: "silent",
    });
    assert.deepEqual(result.errors, []);
    bundle = await readFile(join(work, "bundle.js"), "utf8");
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.some((p) => p.endsWith("clients/typescript/dist/web.js")),
      `esbuild should resolve @signalbox/client to dist/web.js (the "browser" condition); inputs: ${inputs.filter((p) => p.includes("clients/")).join(", ")}`,
    );

    const html = await readFile(join(PAGE_DIR, "index.html"));
    const files = {
      "/index.html": { type: "text/html; charset=utf-8", body: html },
      "/bundle.js": { type: "text/javascript; charset=utf-8", body: Buffer.from(bundle) },
    };
    allowed = await startStatic(files);
    disallowed = await startStatic(files);
    upstream = await startSlowUpstream();

    const config = gatewayConfig(allowed.origin, upstream.url);
    usage = createMemoryUsageSink();
    gw = await createGateway(config, { usage });
    server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: config.server.maxRequestBytes });

    context = await chromium.launchPersistentContext(join(work, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 820, height: 560 },
    });
  });

  after(async () => {
    await context?.close();
    await server?.shutdown(0);
    await Promise.all([allowed?.close(), disallowed?.close(), upstream?.close()]);
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`# browser suite: ${Math.round(performance.now() - started)} ms (bundle ${Math.round((bundle?.length ?? 0) / 1024)} KiB)`);
  });

  /** Open the page at `origin` with these query parameters and wait for it to finish (or fail). */
  async function openPage(origin: string, params: Record<string, string>): Promise<PageRun> {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const failedRequests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (r) => failedRequests.push(`${r.url()} ${r.failure()?.errorText ?? ""}`));
    const query = new URLSearchParams({ gateway: server.url, ...params });
    await page.goto(`${origin}/?${query}`);
    await page.waitForFunction(() => /^(done|error|aborted)/.test(document.title), undefined, { timeout: 15_000 });
    const status = (await page.textContent("#status")) ?? "";
    const events = await page.evaluate(() => window.__events);
    return { page, status, consoleErrors, failedRequests, events };
  }

  test("the bundle is the browser build: connect-web, no connect-node or node:http2", () => {
    assert.ok(bundle.includes("createGrpcWebTransport") || bundle.includes("application/grpc-web"), "the gRPC-web transport should be bundled");
    for (const s of ["node:http2", "node:http", "connect-node", "Http2SessionManager"]) {
      assert.ok(!bundle.includes(s), `the browser bundle must not contain ${JSON.stringify(s)}`);
    }
  });

  for (const protocol of ["connect", "grpc-web"] as const) {
    test(`${protocol}: the page streams mock/slow, rendering deltas before the finish event's usage and cost`, async (t) => {
      const n0 = usage.recent().length;
      const run = await openPage(allowed.origin, { protocol, model: "mock/slow", mode: "stream" });
      assert.equal(run.status, "done", `page status: ${run.status}`);
      const finish = run.events.find((e) => e.kind === "finish");
      assert.ok(finish, `no finish event in ${JSON.stringify(run.events)}`);
      const deltas = run.events.filter((e) => e.kind === "delta");
      // mock-slow: 20 chunks 10 ms apart after a 300 ms first token.
      assert.ok(deltas.length >= 10, `expected ~20 deltas, got ${deltas.length}`);
      // Rendered live: at least two deltas were on screen, with no usage shown yet, well before the
      // finish event was rendered (a buffered response would render them all in the same instant).
      const early = deltas.filter((d) => d.t < finish.t - 50 && !d.usageShown);
      assert.ok(early.length >= 2, `deltas rendered >= 50 ms before finish: ${early.length}; timeline ${JSON.stringify(run.events)}`);
      assert.ok(early[1].spans >= 2);
      assert.ok(deltas.at(-1)!.t - deltas[0].t >= 100, `deltas spread over ${deltas.at(-1)!.t - deltas[0].t} ms`);
      assert.equal(await run.page.locator("#out .delta").count(), deltas.length);
      t.diagnostic(`${deltas.length} deltas; first rendered ${Math.round(finish.t - deltas[0].t)} ms before the finish event`);

      const deployment = await run.page.textContent("#deployment");
      assert.equal(deployment, "mock/slow");
      const u = await run.page.locator("#usage").evaluate((el: HTMLElement) => ({ inputTokens: el.dataset.inputTokens, outputTokens: el.dataset.outputTokens, text: el.textContent }));
      assert.ok(Number(u.inputTokens) > 0 && Number(u.outputTokens) > 0, `usage shown: ${JSON.stringify(u)}`);
      assert.match(u.text ?? "", /^\d+ input \+ \d+ output tokens$/);
      const c = await run.page.locator("#cost").evaluate((el: HTMLElement) => ({ nano: el.dataset.nanoUsd, text: el.textContent }));
      assert.ok(Number(c.nano) > 0, `cost shown: ${JSON.stringify(c)}`);
      assert.match(c.text ?? "", /^\$0\.\d{9}$/);
      // mock/slow is priced 0.10 / 0.40 USD per million tokens.
      assert.equal(Number(c.nano), Number(u.inputTokens) * 100 + Number(u.outputTokens) * 400);

      const rec = await waitFor(() => usage.recent().slice(n0).find((r) => r.deployment === "mock/slow"), 2000);
      assert.equal(rec.status, "ok");
      assert.equal(rec.streamed, true);

      const shot = join(OUTPUT_DIR, `${protocol}.png`);
      await run.page.screenshot({ path: shot, fullPage: true });
      assert.ok((await stat(shot)).size > 1000, `${shot} should be a real screenshot`);
      assert.deepEqual(run.consoleErrors, [], "no console errors on the allowed origin");
      assert.deepEqual(run.failedRequests, [], "no failed requests on the allowed origin");
      await run.page.close();
    });
  }

  test("a page on an origin not in server.cors.allowed_origins is refused before any provider call", async (t) => {
    const n0 = usage.recent().length;
    const run = await openPage(disallowed.origin, { protocol: "connect", model: "mock/slow", mode: "stream" });
    assert.match(run.status, /^error: \S+ /, `page status: ${run.status}`);
    t.diagnostic(`page status: ${run.status}`);
    assert.equal(run.events.filter((e) => e.kind === "delta").length, 0);
    assert.equal(await run.page.locator("#out .delta").count(), 0);
    assert.equal(await run.page.textContent("#usage"), "");
    // The browser itself saw the call to the gateway fail (the 403 preflight), and says why.
    assert.ok(
      run.failedRequests.some((r) => r.startsWith(server.url)),
      `a failed request to the gateway: ${JSON.stringify(run.failedRequests)}`,
    );
    assert.ok(
      run.consoleErrors.some((m) => /CORS/i.test(m)),
      `a CORS message in the console: ${JSON.stringify(run.consoleErrors)}`,
    );
    // Nothing was routed: no request reached the chat handler or the mock provider.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(usage.recent().slice(n0), []);
    await run.page.screenshot({ path: join(OUTPUT_DIR, "disallowed-origin.png"), fullPage: true });
    await run.page.close();
  });

  test("abort() in the page after the first delta cancels the upstream OpenAI request", async (t) => {
    const n0 = usage.recent().length;
    const c0 = upstream.calls.length;
    const run = await openPage(allowed.origin, { protocol: "connect", model: "browser-cancel", mode: "cancel" });
    assert.match(run.status, /^aborted: canceled/, `page status: ${run.status}`);
    // The page aborts on its first delta; a second may already be in the same read under load.
    const deltas = run.events.filter((e) => e.kind === "delta").length;
    assert.ok(deltas >= 1 && deltas < UPSTREAM_CHUNKS, `${deltas} deltas before the abort`);
    const abortedAt = await run.page.evaluate(() => window.__abortedAt);
    assert.ok(typeof abortedAt === "number");

    assert.equal(upstream.calls.length, c0 + 1, "one upstream request");
    const call = upstream.calls[c0];
    const closedAt = await waitFor(() => call.closedEarlyAt, 5000);
    assert.equal(call.finished, false);
    assert.ok(closedAt - abortedAt < 3000, `the upstream connection closed ${closedAt - abortedAt} ms after the page aborted`);
    t.diagnostic(`upstream connection closed ${closedAt - abortedAt} ms after abort(), after ${call.chunksSent}/${UPSTREAM_CHUNKS} chunks`);
    assert.ok(call.chunksSent < UPSTREAM_CHUNKS, `upstream sent ${call.chunksSent}/${UPSTREAM_CHUNKS} chunks`);

    const rec = await waitFor(() => usage.recent().slice(n0).find((r) => r.model === "browser-cancel"), 3000);
    assert.equal(rec.status, "canceled");
    assert.equal(rec.attempts[0]?.outcome, "canceled");
    assert.deepEqual(run.consoleErrors, [], "no console errors on the allowed origin");
    await run.page.close();
  });
});
