// A gateway carries only what its configuration uses: the OpenTelemetry SDK, ioredis, the
// Google and AWS auth libraries, Ajv and the PDF reader are loaded when traces or usage logs,
// Redis, a Vertex or Bedrock deployment, a json_schema check, or a guardrail with a PDF to read
// first need them (about 26 MB of resident memory on the embedded defaults). Checked on the real
// process, with a module hook that records every package a module is resolved from.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const ROOT = new URL("../..", import.meta.url).pathname;
const OPTIONAL = ["ioredis", "google-auth-library", "@smithy/signature-v4", "@smithy/eventstream-codec", "@opentelemetry/sdk-trace", "@opentelemetry/sdk-logs", "@opentelemetry/otlp-exporter-base", "ajv", "unpdf", "ws"];

/** Start `node src/main.ts` with the hook; the packages it loaded until it listened, then stop it. */
async function packagesLoaded(env: Record<string, string>, request?: (origin: string) => Promise<void>): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), "signalbox-lazy-"));
  const list = join(dir, "packages.txt");
  writeFileSync(list, "");
  const hook = join(dir, "hook.mjs");
  writeFileSync(
    hook,
    `import { registerHooks } from "node:module";
import { appendFileSync } from "node:fs";
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
    if (m && !seen.has(m[1])) { seen.add(m[1]); appendFileSync(${JSON.stringify(list)}, m[1] + "\\n"); }
    return r;
  },
});
`,
  );
  const proc = spawn(process.execPath, ["--import", hook, "src/main.ts"], { cwd: ROOT, env: { ...process.env, PORT: "0", HOST: "127.0.0.1", SIGNALBOX_REQUEST_LOG: "off", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  try {
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout.on("data", (d) => {
        out += d;
        const m = /"msg":"signalbox listening".*"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      proc.once("exit", () => reject(new Error(`gateway exited early: ${out}`)));
    });
    if (request) await request(`http://127.0.0.1:${port}`);
  } finally {
    proc.kill("SIGTERM");
    await exited;
  }
  // require() of CommonJS goes through the same hook; the list names every package resolved.
  return new Set(readFileSync(list, "utf8").split("\n").filter(Boolean));
}

test("the embedded defaults load none of the optional integrations, and still answer", async () => {
  let answered = "";
  const loaded = await packagesLoaded({}, async (origin) => {
    const r = await fetch(`${origin}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hello" }] }) });
    answered = ((await r.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content;
  });
  assert.match(answered, /hello/);
  for (const p of ["@connectrpc/connect-node", "undici", "yaml"]) assert.ok(loaded.has(p), `${p} is loaded (the hook sees packages)`);
  for (const p of OPTIONAL) assert.ok(!loaded.has(p), `${p} is not loaded without a configuration that needs it`);
});

test("asking for traces and usage logs loads the OpenTelemetry SDK", async () => {
  // Nothing listens on the endpoint: export fails quietly in the background, as in production.
  const loaded = await packagesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_LOGS_EXPORTER: "otlp" });
  for (const p of ["@opentelemetry/sdk-trace", "@opentelemetry/sdk-logs", "@opentelemetry/otlp-exporter-base"]) assert.ok(loaded.has(p), `${p} is loaded when traces and logs are asked for`);
  assert.ok(!loaded.has("ioredis"));
});

test("the first realtime session loads ws (the WebSocket server and client)", async () => {
  const { default: WebSocket } = await import("ws");
  let said = "";
  const loaded = await packagesLoaded({}, async (origin) => {
    const sock = new WebSocket(`${origin.replace(/^http/, "ws")}/v1/realtime?model=realtime`);
    await new Promise<void>((resolve, reject) => {
      sock.on("message", (d: Buffer) => {
        const e = JSON.parse(d.toString());
        if (e.type === "session.created") {
          sock.send(JSON.stringify({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "lazy hello" }] } }));
          sock.send(JSON.stringify({ type: "response.create", response: { output_modalities: ["text"] } }));
        }
        if (e.type === "response.done") {
          said = JSON.stringify(e.response.output);
          sock.close();
          resolve();
        }
      });
      sock.once("error", reject);
    });
  });
  assert.match(said, /lazy hello/);
  assert.ok(loaded.has("ws"), "ws is loaded once a session opens");
});
