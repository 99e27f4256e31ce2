// Consumer tests outside the repository (issue 12): build and `npm pack` @signalbox/client,
// install the tarball into a fresh project in the system temp dir with the machine's npm, and use
// it from there as a customer would: a plain .mjs script on the system Node (v20) and on Node 24
// against a gateway started as the README says, and a strict TypeScript project type-checked
// against the shipped .d.ts. Also measures what the install weighs.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLIENT_DIR = join(ROOT, "clients/typescript");
const BIN = join(ROOT, "node_modules/.bin");
const TSC = join(BIN, "tsc");
const NODE24 = existsSync(join(BIN, "node")) ? join(BIN, "node") : process.execPath;
const SYSTEM_NODE = "/usr/bin/node";
const INSTALL_TIMEOUT_MS = 180_000;
/** The dependencies the package may bring (nothing of the gateway's). */
const EXPECTED_DEPS = ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-node", "@connectrpc/connect-web"];

/** PATH without any node_modules/.bin, so `npm` is the machine's npm on the machine's node. */
const PLAIN_PATH = (process.env.PATH ?? "")
  .split(delimiter)
  .filter((p) => p && !p.includes("node_modules/.bin"))
  .join(delimiter);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (never throws on a non-zero exit; the caller asserts). */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function mustSucceed(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Bytes of every file under dir. */
function sizeOf(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? sizeOf(p) : statSync(p).size;
  }
  return total;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Every installed package (a folder with a package.json) under a node_modules, scoped and nested ones included. */
function packagesUnder(nodeModules: string): { name: string; version: string; dir: string }[] {
  if (!existsSync(nodeModules)) return [];
  const out: { name: string; version: string; dir: string }[] = [];
  const visit = (dir: string) => {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) return;
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name: string; version: string };
    out.push({ name: pkg.name, version: pkg.version, dir });
    out.push(...packagesUnder(join(dir, "node_modules")));
  };
  for (const e of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith(".")) continue;
    if (e.name.startsWith("@")) {
      for (const s of readdirSync(join(nodeModules, e.name), { withFileTypes: true })) if (s.isDirectory()) visit(join(nodeModules, e.name, s.name));
    } else visit(join(nodeModules, e.name));
  }
  return out;
}

let packDir: string;
let project: string;
let gateway: ChildProcess | undefined;
let gatewayLog = "";
let baseUrl: string;
let npmNode = "";

before(
  async () => {
    packDir = mkdtempSync(join(tmpdir(), "signalbox-pack-"));
    project = mkdtempSync(join(tmpdir(), "signalbox-consumer-"));

    // `npm test` builds dist before any test runs; rebuilding here would rewrite files other test
    // files may be importing at that moment, so build only when dist is missing, and pack without
    // the prepack build.
    if (!existsSync(join(CLIENT_DIR, "dist", "node.js"))) mustSucceed(await run(TSC, ["-p", join(CLIENT_DIR, "tsconfig.json")], { cwd: ROOT }), "tsc -p clients/typescript");
    mustSucceed(
      await run("npm", ["pack", "--ignore-scripts", "--pack-destination", packDir], { cwd: CLIENT_DIR, env: { ...process.env, PATH: `${BIN}${delimiter}${PLAIN_PATH}` }, timeoutMs: 120_000 }),
      "npm pack",
    );
    const tarballs = readdirSync(packDir).filter((f) => f.endsWith(".tgz"));
    assert.equal(tarballs.length, 1, `one tarball expected, got ${tarballs.join(", ")}`);

    // A project that has never seen the repository, installed by the machine's own npm.
    writeFileSync(join(project, "package.json"), `${JSON.stringify({ type: "module", private: true }, null, 2)}\n`);
    const plainEnv = { ...process.env, PATH: PLAIN_PATH };
    npmNode = (await run("node", ["--version"], { cwd: project, env: plainEnv })).stdout.trim();
    mustSucceed(
      await run("npm", ["install", join(packDir, tarballs[0]), "--no-audit", "--no-fund"], { cwd: project, env: plainEnv, timeoutMs: INSTALL_TIMEOUT_MS }),
      "npm install <tarball>",
    );

    // The gateway as the README's Quickstart starts it: `node src/main.ts`, embedded defaults.
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: "127.0.0.1" };
    delete env.SIGNALBOX_CONFIG;
    gateway = spawn(NODE24, ["src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start in 30 s:\n${gatewayLog}`)), 30_000);
      gateway!.stderr!.on("data", (d) => (gatewayLog += d));
      gateway!.stdout!.on("data", (d) => {
        gatewayLog += d;
        for (const line of gatewayLog.split("\n")) {
          if (!line.includes("signalbox listening")) continue;
          const entry = JSON.parse(line) as { msg: string; port: number };
          if (entry.msg !== "signalbox listening") continue;
          clearTimeout(timer);
          resolve(`http://127.0.0.1:${entry.port}`);
        }
      });
      gateway!.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`gateway exited ${code}:\n${gatewayLog}`));
      });
    });
  },
  { timeout: INSTALL_TIMEOUT_MS + 120_000 },
);

after(async () => {
  const g = gateway;
  if (g?.pid !== undefined && g.exitCode === null && g.signalCode === null) {
    const exited = new Promise((r) => g.once("exit", r));
    process.kill(g.pid, "SIGTERM");
    const timer = setTimeout(() => g.pid !== undefined && g.exitCode === null && process.kill(g.pid, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  for (const dir of [project, packDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

// A customer's script: plain JavaScript, no TypeScript, no type stripping.
const SCRIPT = `
import { createSignalboxClient, streamText, system, user } from "@signalbox/client";

const baseUrl = process.argv[2];
const protocols = [
  ["connect", { protocol: "connect" }],
  ["grpc", { protocol: "grpc", httpVersion: "2" }],
  ["grpc-web", { protocol: "grpc-web" }],
];
const results = [];
for (const [name, opts] of protocols) {
  const sb = createSignalboxClient({ baseUrl, ...opts });
  const request = { model: "mock/fast", messages: [system("Be brief."), user("Hello from " + name + " on Node " + process.version)] };
  try {
    const res = await sb.chat.complete(request);
    const text = (res.message?.content ?? []).map((p) => (p.part.case === "text" ? p.part.value : "")).join("");
    results.push({ protocol: name, call: "unary", ok: true, textLength: text.length, deployment: res.deployment,
      inputTokens: Number(res.usage?.inputTokens ?? 0n), outputTokens: Number(res.usage?.outputTokens ?? 0n), costNanoUsd: String(res.cost?.totalNanoUsd ?? "") });
  } catch (e) {
    results.push({ protocol: name, call: "unary", ok: false, error: String(e) });
  }
  try {
    const h = streamText(sb.chat, request);
    let fragments = 0;
    for await (const _ of h.textStream) fragments++;
    const r = await h.result;
    results.push({ protocol: name, call: "stream", ok: true, fragments, textLength: r.text.length, deployment: r.deployment,
      inputTokens: Number(r.usage?.inputTokens ?? 0n), outputTokens: Number(r.usage?.outputTokens ?? 0n), costNanoUsd: String(r.cost?.totalNanoUsd ?? "") });
  } catch (e) {
    results.push({ protocol: name, call: "stream", ok: false, error: String(e) });
  }
}
console.log(JSON.stringify({ node: process.version, results }));
`;

interface ScriptResult {
  protocol: string;
  call: "unary" | "stream";
  ok: boolean;
  error?: string;
  textLength?: number;
  fragments?: number;
  deployment?: string;
  inputTokens?: number;
  outputTokens?: number;
  costNanoUsd?: string;
}

async function runScript(node: string): Promise<{ node: string; results: ScriptResult[] }> {
  const file = join(project, "consume.mjs");
  writeFileSync(file, SCRIPT);
  const r = mustSucceed(await run(node, [file, baseUrl], { cwd: project, env: { ...process.env, PATH: PLAIN_PATH } }), `${node} consume.mjs`);
  const last = r.stdout.trim().split("\n").at(-1)!;
  return JSON.parse(last) as { node: string; results: ScriptResult[] };
}

function checkResults(out: { node: string; results: ScriptResult[] }) {
  assert.equal(out.results.length, 6, "unary and stream over three protocols");
  for (const r of out.results) {
    const what = `${r.protocol} ${r.call} on Node ${out.node}`;
    assert.ok(r.ok, `${what}: ${r.error}`);
    assert.ok((r.textLength ?? 0) > 0, `${what}: text`);
    assert.equal(r.deployment, "mock/fast", `${what}: deployment`);
    assert.ok((r.inputTokens ?? 0) > 0 && (r.outputTokens ?? 0) > 0, `${what}: usage`);
    assert.match(r.costNanoUsd ?? "", /^[1-9]\d*$/, `${what}: cost`);
    if (r.call === "stream") assert.ok((r.fragments ?? 0) >= 2, `${what}: fragments`);
  }
  assert.deepEqual(
    out.results.map((r) => `${r.protocol}/${r.call}`),
    ["connect/unary", "connect/stream", "grpc/unary", "grpc/stream", "grpc-web/unary", "grpc-web/stream"],
  );
}

test("the installed package is the client only: dist/, package.json, four dependencies, one consistent Connect", (t) => {
  const pkgDir = join(project, "node_modules/@signalbox/client");
  const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const deps = Object.keys(manifest.dependencies ?? {}).sort();
  const installed = packagesUnder(join(project, "node_modules"));
  const bytes = sizeOf(pkgDir);
  const versions = installed.map((p) => `${p.name}@${p.version}`).sort();
  t.diagnostic(`npm ran on Node ${npmNode}`);
  t.diagnostic(`@signalbox/client installed size: ${bytes} bytes`);
  t.diagnostic(`packages under node_modules: ${installed.length} (${versions.join(", ")})`);
  t.diagnostic(`runtime dependencies: ${deps.map((d) => `${d}@${manifest.dependencies[d]}`).join(", ")}`);
  console.log(`[consumer] npm on Node ${npmNode}; @signalbox/client ${bytes} bytes; ${installed.length} packages: ${versions.join(", ")}`);

  assert.deepEqual(deps, EXPECTED_DEPS);
  const top = readdirSync(pkgDir).sort();
  assert.ok(top.includes("dist") && top.includes("package.json"), top.join(", "));
  assert.deepEqual(
    top.filter((f) => !["dist", "package.json", "README.md"].includes(f)),
    [],
    "only dist/, package.json and the README ship",
  );
  for (const f of filesUnder(pkgDir)) {
    const text = readFileSync(f, "utf8");
    assert.ok(!text.includes("src/gateway") && !text.includes("ioredis"), `${f} mentions server code`);
  }
  // The package, its four dependencies, and nothing else; one copy of Connect that every Connect
  // package was built for (connect-node and connect-web pin @connectrpc/connect exactly).
  assert.deepEqual([...new Set(installed.map((p) => p.name))].sort(), ["@signalbox/client", ...EXPECTED_DEPS].sort());
  const connect = installed.filter((p) => p.name.startsWith("@connectrpc/"));
  assert.equal(new Set(connect.map((p) => p.version)).size, 1, `mismatched Connect versions: ${versions.join(", ")}`);
  assert.equal(installed.filter((p) => p.name === "@connectrpc/connect").length, 1, "a single @connectrpc/connect");
});

test("a plain .mjs script on the system Node (v20) calls the gateway over Connect, gRPC and gRPC-web", async (t) => {
  const version = existsSync(SYSTEM_NODE) ? (await run(SYSTEM_NODE, ["--version"], { cwd: project })).stdout.trim() : "";
  if (!version.startsWith("v20.")) {
    t.skip(`no Node 20 at ${SYSTEM_NODE} (${version || "absent"})`);
    return;
  }
  const out = await runScript(SYSTEM_NODE);
  t.diagnostic(JSON.stringify(out));
  assert.match(out.node, /^v20\./);
  checkResults(out);
});

test("the same script on Node 24", async (t) => {
  const out = await runScript(process.execPath);
  t.diagnostic(JSON.stringify(out));
  assert.equal(out.node, process.version);
  checkResults(out);
});

// A TypeScript customer: strict, nodenext, the API with its types.
const GOOD_TS = `
import {
  Code,
  ConnectError,
  createSignalboxClient,
  FailureKind,
  SignalboxError,
  streamText,
  system,
  user,
  type Attempt,
  type ChatResponse,
  type SignalboxClient,
  type SignalboxClientOptions,
  type StreamTextResult,
} from "@signalbox/client";

const options: SignalboxClientOptions = {
  baseUrl: "http://127.0.0.1:8080",
  apiKey: "sbx_example",
  protocol: "grpc",
  httpVersion: "2",
  json: false,
  timeoutMs: 5_000,
  streamTimeoutMs: 60_000,
  retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2_000 },
  opentelemetry: false,
};
const client: SignalboxClient = createSignalboxClient(options);

export async function complete(prompt: string): Promise<string> {
  const res: ChatResponse = await client.chat.complete({ model: "mock/fast", messages: [system("Be brief."), user(prompt)], temperature: 0.2 }, { timeoutMs: 1_000 });
  const part = res.message?.content[0]?.part;
  const text: string = part?.case === "text" ? part.value : "";
  const tokens: bigint = (res.usage?.inputTokens ?? 0n) + (res.usage?.outputTokens ?? 0n);
  return \`\${res.deployment} \${tokens} \${text}\`;
}

export async function stream(prompt: string): Promise<StreamTextResult> {
  const h = streamText(client.chat, { model: "mock/fast", messages: [user(prompt)] }, { onText: (delta: string, soFar: string) => void [delta, soFar] });
  for await (const fragment of h.textStream) {
    const f: string = fragment;
    void f;
  }
  const r = await h.result;
  const usd: number = r.costUsd;
  const nano: bigint | undefined = r.cost?.totalNanoUsd;
  const out: bigint | undefined = r.usage?.outputTokens;
  const attempts: Attempt[] = r.attempts;
  const deployment: string = r.deployment;
  void [usd, nano, out, attempts, deployment, r.text, r.traceId, r.finishReason];
  return r;
}

export function explain(err: unknown): string {
  if (err instanceof SignalboxError) {
    const kind: FailureKind = err.failureKind;
    const attempts: Attempt[] = err.attempts;
    const retryAfterMs: number | undefined = err.retryAfterMs;
    const field: string | undefined = err.field;
    const code: Code = err.code;
    if (code === Code.ResourceExhausted && retryAfterMs !== undefined) return \`retry in \${retryAfterMs} ms\`;
    if (code === Code.InvalidArgument) return \`bad field \${field ?? "?"}\`;
    if (kind === FailureKind.OVERLOADED) return \`overloaded after \${attempts.length} attempts\`;
    return \`\${err.codeName} \${err.failureKindName} \${err.traceId ?? ""}\`;
  }
  if (err instanceof ConnectError) return err.rawMessage;
  return String(err);
}
`;

// One line that must not type-check: the .d.ts are what the compiler reads.
const BAD_TS = `
import { createSignalboxClient } from "@signalbox/client";
export const client = createSignalboxClient({ baseUrl: "http://127.0.0.1:8080", protocol: "grpx" });
`;

function tsconfig(file: string): string {
  return JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        lib: ["es2022", "dom", "dom.iterable", "esnext.asynciterable"],
        types: [],
        verbatimModuleSyntax: true,
        skipLibCheck: true,
        noEmit: true,
      },
      files: [file],
    },
    null,
    2,
  );
}

test("a strict TypeScript consumer type-checks against the shipped .d.ts; a wrong protocol does not", async (t) => {
  writeFileSync(join(project, "consumer.ts"), GOOD_TS);
  writeFileSync(join(project, "tsconfig.json"), tsconfig("consumer.ts"));
  writeFileSync(join(project, "bad.ts"), BAD_TS);
  writeFileSync(join(project, "tsconfig.bad.json"), tsconfig("bad.ts"));

  const good = await run(TSC, ["-p", join(project, "tsconfig.json"), "--noEmit"], { cwd: project });
  assert.equal(good.code, 0, `the consumer must type-check:\n${good.stdout}${good.stderr}`);

  const bad = await run(TSC, ["-p", join(project, "tsconfig.bad.json"), "--noEmit"], { cwd: project });
  t.diagnostic(`tsc on bad.ts: ${bad.stdout.trim()}`);
  assert.notEqual(bad.code, 0, "protocol: \"grpx\" must not type-check");
  assert.match(bad.stdout, /bad\.ts.*error TS2322.*"grpx"/s);
});
