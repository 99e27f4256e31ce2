// The MCP gateway in the gateway as the README starts it (`node src/main.ts --config …`), with
// traces and usage logs exported to a loopback OTLP receiver: a tool call through /mcp is a CLIENT
// span `execute_tool <tool>` under the request's `POST /mcp` span, with the GenAI attributes, and
// an OTLP log record on the same trace; the server's credential (from the environment) appears in
// no span, log record, log line or answer.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startOtlpReceiver, type OtlpReceiver } from "../helpers/otlp-receiver.ts";
import { freePort } from "../helpers/redis.ts";
import { startFakeMcp, type FakeMcp } from "../helpers/fake-mcp.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const TOKEN = ["mcp", "token", "c0ffee1234"].join("-");

let stop: (() => Promise<void>) | undefined;
let receiver: OtlpReceiver | undefined;
let fake: FakeMcp | undefined;
after(async () => {
  await stop?.();
  await receiver?.close();
  await fake?.close();
});

test("a tool call through /mcp is traced under its request, and the server's credential is nowhere", async () => {
  fake = await startFakeMcp("tools");
  receiver = await startOtlpReceiver();
  const dir = mkdtempSync(join(tmpdir(), "signalbox-mcp-"));
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a }
mcp_servers:
  - id: tools
    url: ${fake.url}
    headers: { Authorization: "Bearer \${TOOLS_TOKEN}" }
`,
  );
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OTEL_") && k !== "REDIS_URL") env[k] = v;
  const proc = spawn(process.execPath, ["src/main.ts", "--config", config, "--port", String(port)], {
    cwd: ROOT,
    env: { ...env, TOOLS_TOKEN: TOKEN, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_LOGS_EXPORTER: "otlp", OTEL_SERVICE_NAME: "signalbox-mcp-test" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  stop = async () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await exited;
  };
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => out.includes("signalbox listening") && (clearInterval(t), resolve()), 50);
    proc.once("exit", (c) => reject(new Error(`gateway exited ${c}:\n${out}`)));
  });

  const client = new Client({ name: "test", version: "1" }, { versionNegotiation: { mode: "auto" } } as never);
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  const listed = await client.listTools();
  assert.ok(listed.tools.some((t) => t.name === "tools__whoami"));
  const r = await client.callTool({ name: "tools__whoami", arguments: {} });
  // The server got the credential; the caller is never shown it by the gateway except as the tool's own answer.
  assert.equal((r.content as { text: string }[])[0].text, `Bearer ${TOKEN}`);
  await client.callTool({ name: "tools__add", arguments: { a: 1, b: 2 } });
  await client.close();

  const spans = await receiver.waitForSpans((s) => s.filter((x) => x.name.startsWith("execute_tool")).length >= 2, 5000);
  const tool = spans.find((s) => s.name === "execute_tool add")!;
  assert.ok(tool, spans.map((s) => s.name).join(", "));
  assert.equal(tool.kind, "CLIENT");
  assert.equal(tool.attributes["gen_ai.operation.name"], "execute_tool");
  assert.equal(tool.attributes["gen_ai.tool.name"], "add");
  assert.equal(tool.attributes["mcp.server"], "tools");
  const parent = spans.find((s) => s.spanId === tool.parentSpanId)!;
  assert.ok(parent, "the tool span has its request's span as parent");
  assert.equal(parent.name, "POST /mcp");
  assert.equal(parent.traceId, tool.traceId);
  assert.equal(parent.attributes["http.response.status_code"], 200);

  // The usage records as OTLP logs: GenAI's execute_tool, tied to the tool's trace.
  const logs = await receiver.waitForLogs((l) => l.some((x) => x.attributes["gen_ai.tool.name"] === "add"), 5000);
  const log = logs.find((x) => x.attributes["gen_ai.tool.name"] === "add")!;
  assert.equal(log.attributes["gen_ai.operation.name"], "execute_tool");
  assert.equal(log.attributes["mcp.server"], "tools");
  assert.equal(log.traceId, tool.traceId);

  await stop();
  const everything = JSON.stringify([spans, logs], (_k, v) => (typeof v === "bigint" ? String(v) : v)) + out;
  assert.ok(!everything.includes(TOKEN), "the server's credential is in no span and no log line");
});
