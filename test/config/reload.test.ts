// Config reload: a valid file swaps providers, deployments, aliases and routes at once for new
// requests while requests in flight finish on what they started with; an invalid file changes
// nothing and names the field; the version shows in /metrics; SIGHUP does it in a real process.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, userText } from "@signalbox/client";
import { parse, stringify } from "yaml";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../../src/config/load.ts";
import { configVersion, reconcile } from "../../src/config/reload.ts";
import { createGateway, type Gateway } from "../../src/gateway.ts";
import type { AdmissionRequest } from "../../src/limits/types.ts";
import { GatewayError } from "../../src/router/errors.ts";
import { startServer, type RunningServer } from "../../src/server/http.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { MOCK_CONFIG, startTestGateway } from "../helpers/gateway.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "signalbox-reload-"));
after(() => rmSync(dir, { recursive: true, force: true }));

type Doc = Record<string, any>;

/** config/default.yaml, with fixed server values (the test's environment may set PORT or HOST). */
function baseDoc(): Doc {
  const doc = parse(readFileSync(DEFAULT_CONFIG_PATH, "utf8")) as Doc;
  doc.server = { port: 8080, host: "127.0.0.1" };
  return doc;
}

/** The first config: a route "chat" on the slow mock, whose deployment has its own rate limit (so admission runs between planning and execution). */
function firstDoc(): Doc {
  const doc = baseDoc();
  doc.deployments.find((d: Doc) => d.id === "mock/slow").limits = { requests_per_minute: 100_000 };
  doc.routes.push({ name: "chat", targets: ["mock/slow"] });
  return doc;
}

/** The second: a new provider and deployment, the chat route moved to it, the slow mock changed. */
function secondDoc(): Doc {
  const doc = firstDoc();
  doc.providers.push({ name: "mock-new", type: "mock", mock: { reply: "from the new deployment" } });
  doc.providers.find((p: Doc) => p.name === "mock-slow").mock.reply = "the changed slow mock";
  doc.deployments.push({ id: "mock/new", provider: "mock-new", model: "mock-new-1", pricing: { input: 1, output: 1 } });
  doc.routes.find((r: Doc) => r.name === "chat").targets = ["mock/new"];
  return doc;
}

const write = (path: string, doc: Doc) => writeFileSync(path, stringify(doc));
const textOf = (res: { message?: { content: { part: { value?: unknown } }[] } }) => String(res.message?.content[0]?.part.value ?? "");

describe("reload in process", () => {
  const path = join(dir, "in-process.yaml");
  const logs: Doc[] = [];
  let gw: Gateway;
  let server: RunningServer;
  let url: string;

  before(async () => {
    setLogSink((line) => logs.push(JSON.parse(line)));
    write(path, firstDoc());
    gw = await createGateway(loadConfig(path), { configPath: path, tracing: null });
    server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: 1 << 20 });
    url = server.url;
  });
  after(async () => {
    await server.shutdown(0);
    setLogSink((line) => process.stdout.write(line));
  });

  test("a valid file takes effect for new requests; a stream planned before it finishes on the old plan and providers", async () => {
    const client = createSignalboxClient({ baseUrl: url });
    const prompt = "tell me about reloads";
    // What the slow mock answers this prompt with before any change (its reply follows the prompt).
    const expected = await client.chat.complete({ model: "mock/slow", messages: [userText(prompt)] });
    assert.equal(expected.deployment, "mock/slow");

    // Hold the next stream between its plan and its execution: the deployment's rate-limit check
    // runs in between. The reload happens while it waits.
    const limits = gw.core.limits as { admit(r: AdmissionRequest): Promise<unknown> };
    const admit = limits.admit;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held!: () => void;
    const planned = new Promise<void>((r) => (held = r));
    limits.admit = async (r) => {
      if (r.shard === "deployment:mock/slow") {
        limits.admit = admit;
        held();
        await gate;
      }
      return admit.call(limits, r);
    };

    const execBefore = gw.core.exec;
    const providersBefore = execBefore.providers;
    const before = gw.configVersion;
    const events: { case?: string; value?: any }[] = [];
    const streaming = (async () => {
      for await (const ev of client.chat.stream({ model: "chat", messages: [userText(prompt)] })) events.push(ev.event);
    })();
    await planned;

    write(path, secondDoc());
    const result = await gw.reload("test");
    assert.equal(result.previousVersion, before);
    assert.notEqual(result.version, before);
    assert.equal(gw.configVersion, result.version);
    assert.deepEqual(new Set(result.changes), new Set(["provider changed: mock-slow", "provider added: mock-new", "deployment added: mock/new", "route changed: chat"]));
    // Unchanged providers are the same objects (their pools and state kept); changed ones are new.
    assert.equal(gw.core.exec.providers.get("mock"), providersBefore.get("mock"));
    assert.notEqual(gw.core.exec.providers.get("mock-slow"), providersBefore.get("mock-slow"));
    // A new exec object (the old one stays with the requests that read it); the same health store.
    assert.notEqual(gw.core.exec, execBefore);
    assert.equal(gw.core.exec.health, execBefore.health);

    // New requests see the new config at once, while the old stream is still held.
    const route = await client.route.route({ model: "chat", messages: [userText("x")] });
    assert.deepEqual(route.candidates.map((c) => c.deployment), ["mock/new"]);
    const fresh = await client.chat.complete({ model: "chat", messages: [userText(prompt)] });
    assert.equal(fresh.deployment, "mock/new");
    assert.equal(textOf(fresh), "from the new deployment");
    const slowNow = await client.chat.complete({ model: "mock/slow", messages: [userText(prompt)] });
    assert.equal(textOf(slowNow), "the changed slow mock");

    release();
    await streaming;
    const start = events.find((e) => e.case === "start");
    assert.equal(start?.value.deployment, "mock/slow");
    assert.equal(events.at(-1)?.case, "finish");
    const text = events.filter((e) => e.case === "delta").map((e) => e.value.text).join("");
    assert.equal(text, textOf(expected), "the stream ran on the provider of the config it was planned with");

    const line = logs.find((l) => l.msg === "config reloaded");
    assert.equal(line?.level, "info");
    assert.equal(line?.config_version, result.version);
    assert.equal(line?.actor, "test");
    assert.ok(line?.changes.includes("route changed: chat"));
  });

  test("an invalid file changes nothing and the error names the field", async () => {
    const client = createSignalboxClient({ baseUrl: url });
    const version = gw.configVersion;
    const config = gw.core.config;
    const doc = secondDoc();
    doc.routes.find((r: Doc) => r.name === "chat").targets = ["mock/nope"];
    doc.aliases.newer = "mock/new";
    const i = doc.routes.findIndex((r: Doc) => r.name === "chat");
    write(path, doc);
    await assert.rejects(gw.reload("test"), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, "failed_precondition");
      assert.ok(err.message.includes(`routes[${i}].targets[0]: unknown deployment "mock/nope"`), err.message);
      assert.ok(err.message.includes(path), err.message);
      return true;
    });
    assert.equal(gw.configVersion, version);
    assert.equal(gw.core.config, config);
    const res = await client.chat.complete({ model: "chat", messages: [userText("still there?")] });
    assert.equal(res.deployment, "mock/new");
    await assert.rejects(client.chat.complete({ model: "newer", messages: [userText("x")] }), (err: unknown) => ConnectError.from(err).rawMessage.includes('unknown route, alias or deployment "newer"'));
    const line = logs.findLast((l) => l.level === "error");
    assert.match(String(line?.error), /unknown deployment "mock\/nope"/);
    assert.equal(line?.config_version, version);
  });

  test("/metrics carries the version in force and counts reloads by outcome", async () => {
    const metrics = async () => (await fetch(`${url}/metrics`)).text();
    const m1 = await metrics();
    assert.ok(m1.includes(`signalbox_config_info{version="${gw.configVersion}"} 1`), m1);
    assert.match(m1, /^signalbox_config_reloads_total\{outcome="ok"\} 1$/m);
    assert.match(m1, /^signalbox_config_reloads_total\{outcome="invalid"\} 1$/m);

    const doc = secondDoc();
    doc.aliases.newer = "mock/new";
    write(path, doc);
    const before = gw.configVersion;
    const r = await gw.reload();
    assert.deepEqual(r.changes, ["alias added: newer"]);
    const m2 = await metrics();
    assert.ok(m2.includes(`signalbox_config_info{version="${r.version}"} 1`), m2);
    assert.ok(!m2.includes(`version="${before}"`), "only the version in force is exported");
    assert.equal(m2.match(/^signalbox_config_info\{/gm)?.length, 1);
    assert.match(m2, /^signalbox_config_reloads_total\{outcome="ok"\} 2$/m);
    const res = await createSignalboxClient({ baseUrl: url }).chat.complete({ model: "newer", messages: [userText("x")] });
    assert.equal(res.deployment, "mock/new");
  });

  test("concurrent reloads run one at a time; an unchanged file keeps the version", async () => {
    const [a, b] = await Promise.all([gw.reload(), gw.reload()]);
    assert.equal(a.version, a.previousVersion);
    assert.deepEqual(a.changes, []);
    assert.equal(b.previousVersion, a.version);
    // A comment changes nothing either: the version is of the validated config, not the bytes.
    writeFileSync(path, `# a comment\n${readFileSync(path, "utf8")}`);
    const c = await gw.reload();
    assert.equal(c.version, a.version);
  });

  test("server and store changes are reported as needing a restart and otherwise ignored", async () => {
    const doc = parse(readFileSync(path, "utf8")) as Doc;
    doc.server.port = 9999;
    doc.server.max_request_bytes = 2048;
    write(path, doc);
    const r = await gw.reload();
    assert.deepEqual(r.changes, ["server.port changed: requires restart", "server.max_request_bytes changed: requires restart"]);
    assert.equal(gw.core.config.server.port, 8080);
    assert.equal(r.version, r.previousVersion);
  });

  test("batches and responses settings too: the runner and the response stores are built at start-up", async () => {
    const doc = parse(readFileSync(path, "utf8")) as Doc & { batches?: unknown; responses?: unknown };
    doc.batches = { concurrency: 9 };
    doc.responses = { store: false, retention_days: 7 };
    write(path, doc);
    const r = await gw.reload();
    assert.deepEqual(
      r.changes.filter((c) => /^(batches|responses)\./.test(c)),
      ["batches.concurrency changed: requires restart", "responses.store changed: requires restart", "responses.retention_days changed: requires restart"],
    );
    assert.equal(gw.core.config.batches.concurrency, 4);
    assert.equal(gw.core.config.responses.store, true);
    delete doc.batches;
    delete doc.responses;
    write(path, doc);
    await gw.reload();
  });
});

test("the response cache across a reload: a route whose deployment changed answers afresh, an unchanged route still hits", async () => {
  const path = join(dir, "cache.yaml");
  const doc = baseDoc();
  doc.providers.push({ name: "mock-one", type: "mock", mock: { reply: "answer one" } }, { name: "mock-two", type: "mock", mock: { reply: "answer two" } });
  doc.deployments.push(
    { id: "mock/one", provider: "mock-one", model: "one", pricing: { input: 1, output: 1 } },
    { id: "mock/two", provider: "mock-two", model: "two", pricing: { input: 1, output: 1 } },
  );
  doc.routes.push({ name: "moved", targets: ["mock/one"], cache: { enabled: true } }, { name: "kept", targets: ["mock/one"], cache: { enabled: true } });
  write(path, doc);
  const gw = await createGateway(loadConfig(path), { configPath: path, tracing: null });
  const server = await startServer(gw, { port: 0, host: "127.0.0.1", maxRequestBytes: 1 << 20 });
  try {
    const client = createSignalboxClient({ baseUrl: server.url });
    const ask = (model: string) => client.chat.complete({ model, messages: [userText("the same question")] });
    for (const route of ["moved", "kept"]) {
      const first = await ask(route);
      assert.equal(textOf(first), "answer one");
      assert.equal(first.cacheHit, false);
      assert.equal((await ask(route)).cacheHit, true);
    }
    // Only "moved" changes: it now answers from the other deployment.
    doc.routes.find((r: Doc) => r.name === "moved").targets = ["mock/two"];
    write(path, doc);
    const r = await gw.reload();
    assert.ok(r.changes.some((c) => c.includes("moved")), JSON.stringify(r.changes));
    const moved = await ask("moved");
    assert.equal(moved.cacheHit, false, "the old deployment's answer is not served for the new one");
    assert.equal(textOf(moved), "answer two");
    assert.equal((await ask("moved")).cacheHit, true);
    const kept = await ask("kept");
    assert.equal(kept.cacheHit, true, "a route the reload did not touch keeps its cached answers");
    assert.equal(textOf(kept), "answer one");
  } finally {
    await server.shutdown(0);
  }
});

test("reload without a config file is a failed precondition", async () => {
  const t = await startTestGateway(MOCK_CONFIG, { tracing: null });
  try {
    await assert.rejects(t.gw.reload(), (err: unknown) => err instanceof GatewayError && err.code === "failed_precondition" && /no config file/.test(err.message));
  } finally {
    await t.close();
  }
});

test("reconcile and configVersion: keys and teams change live, the version follows the content", () => {
  const path = join(dir, "pure.yaml");
  const doc = baseDoc();
  write(path, doc);
  const a = loadConfig(path);
  doc.keys = [{ name: "svc", hash: `sha256:${"0".repeat(64)}` }];
  doc.teams = [{ name: "search" }];
  delete doc.aliases.smart;
  doc.deployments = doc.deployments.filter((d: Doc) => d.id !== "mock/flaky");
  doc.routes = doc.routes.filter((r: Doc) => r.name !== "fallback-demo");
  doc.store = { redis_url: "redis://127.0.0.1:1" };
  write(path, doc);
  const b = loadConfig(path);
  const { config, changes } = reconcile(a, b);
  assert.deepEqual(changes, ["deployment removed: mock/flaky", "alias removed: smart", "route removed: fallback-demo", "key added: svc", "team added: search", "store.redis_url changed: requires restart"]);
  assert.equal(config.store.redisUrl, undefined);
  assert.equal(config.keys.length, 1);
  assert.match(configVersion(a), /^[0-9a-f]{12}$/);
  assert.notEqual(configVersion(a), configVersion(config));
});

describe("SIGHUP on a real process", () => {
  const path = join(dir, "process.yaml");
  let child: ChildProcess;
  const lines: Doc[] = [];
  const waiters: { match: (l: Doc) => boolean; resolve: (l: Doc) => void }[] = [];
  /** The next log line (from now on, or already seen after `from`) that matches. */
  const nextLine = (match: (l: Doc) => boolean, from: number, timeoutMs = 10_000) =>
    new Promise<Doc>((resolve, reject) => {
      const seen = lines.slice(from).find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; got:\n${lines.map((l) => JSON.stringify(l)).join("\n")}`)), timeoutMs);
      waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });

  const complete = async (base: string, model: string) => {
    const res = await fetch(`${base}/signalbox.v1.ChatService/Complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "ROLE_USER", content: [{ text: "over plain HTTP" }] }] }),
    });
    return { status: res.status, body: (await res.json()) as Doc };
  };

  before(() => {
    write(path, baseDoc());
    const env: Record<string, string | undefined> = { ...process.env, PORT: "0", SIGNALBOX_REQUEST_LOG: "off" };
    for (const k of Object.keys(env)) if (k.startsWith("OTEL_") || k === "REDIS_URL") delete env[k];
    child = spawn(process.execPath, ["src/main.ts", "--config", path], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const raw = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let l: Doc;
        try {
          l = JSON.parse(raw);
        } catch {
          continue;
        }
        lines.push(l);
        for (const w of waiters.splice(0)) (w.match(l) ? w.resolve(l) : waiters.push(w));
      }
    });
    child.stderr!.resume();
  });
  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(child.pid!, "SIGTERM");
      await exited;
    }
  });

  test("SIGHUP applies a valid edit and survives an invalid one", async () => {
    const listening = await nextLine((l) => l.msg === "signalbox listening", 0, 20_000);
    assert.match(listening.config_version, /^[0-9a-f]{12}$/);
    const base = `http://127.0.0.1:${listening.port}`;
    const first = await complete(base, "default");
    assert.equal(first.status, 200);
    assert.equal(first.body.deployment, "mock/fast");

    const doc = baseDoc();
    doc.routes.find((r: Doc) => r.name === "default").targets = ["mock/smart"];
    write(path, doc);
    let from = lines.length;
    process.kill(child.pid!, "SIGHUP");
    const ok = await nextLine((l) => l.msg === "config reloaded", from);
    assert.equal(ok.level, "info");
    assert.equal(ok.actor, "SIGHUP");
    assert.equal(ok.previous_version, listening.config_version);
    assert.notEqual(ok.config_version, listening.config_version);
    assert.deepEqual(ok.changes, ["route changed: default"]);
    const second = await complete(base, "default");
    assert.equal(second.body.deployment, "mock/smart");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.ok(metrics.includes(`signalbox_config_info{version="${ok.config_version}"} 1`));

    doc.routes.find((r: Doc) => r.name === "default").targets = ["mock/nope"];
    write(path, doc);
    from = lines.length;
    process.kill(child.pid!, "SIGHUP");
    const bad = await nextLine((l) => l.level === "error", from);
    assert.match(bad.error, /routes\[0\]\.targets\[0\]: unknown deployment "mock\/nope"/);
    assert.equal(bad.config_version, ok.config_version);
    assert.equal(child.exitCode, null, "the process keeps running");
    const third = await complete(base, "default");
    assert.equal(third.status, 200);
    assert.equal(third.body.deployment, "mock/smart");
  });
});
