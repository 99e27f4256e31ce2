// A local MCP server (`command`): the gateway starts it as a child process and talks to it over
// stdio with the official SDK, offers its tools at /mcp like any server's, gives it the configured
// environment, logs its stderr without its secrets, starts it again when it dies, and stops it
// when the gateway closes. The configuration's checks too.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const SCRIPT = fileURLToPath(new URL("../helpers/stdio-mcp.ts", import.meta.url));
const TOKEN = ["local", "token", "9e8d7c6b"].join("-");

let gw: TestGateway;
const logged: string[] = [];
const write = process.stdout.write.bind(process.stdout);

before(async () => {
  // The gateway's JSON log lines, as an operator would read them.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logged.push(String(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  gw = await startTestGateway(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a }
mcp_servers:
  - id: local
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(SCRIPT)}]
    env: { DEMO_VALUE: "from the config", DEMO_TOKEN: "${TOKEN}" }
    timeout_ms: 20000
`);
});

after(async () => {
  await gw?.close();
  process.stdout.write = write;
});

async function connect(): Promise<Client> {
  const c = new Client({ name: "test", version: "1" }, { versionNegotiation: { mode: "auto" } } as never);
  await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`)));
  return c;
}
const text = (r: unknown) => ((r as { content: { text: string }[] }).content ?? []).map((c) => c.text).join("");

test("a local server's tools through /mcp, its environment, and its stderr in the log without its token", async () => {
  const c = await connect();
  try {
    assert.deepEqual((await c.listTools()).tools.map((t) => t.name).sort(), ["local__echo", "local__env", "local__exit", "local__pid"]);
    assert.equal(text(await c.callTool({ name: "local__echo", arguments: { text: "over stdio" } })), "over stdio");
    assert.equal(text(await c.callTool({ name: "local__env", arguments: {} })), "from the config");
  } finally {
    await c.close();
  }
  const line = logged.find((l) => l.includes("a local server wrote to stderr"));
  assert.ok(line, "the server's stderr is logged");
  assert.match(line!, /local server starting with token \[redacted\]/);
  assert.ok(!logged.join("").includes(TOKEN), "the token is in no log line");
  const rec = gw.usage.recent().find((r) => r.operation === "tool_call" && r.deployment === "local");
  assert.ok(rec);
});

test("a local server that dies is started again: the call that killed it fails, the next one works on a new process", async () => {
  const c = await connect();
  try {
    const before = text(await c.callTool({ name: "local__pid", arguments: {} }));
    const died = await c.callTool({ name: "local__exit", arguments: {} });
    assert.equal(died.isError, true);
    assert.match(text(died), /MCP server "local"/);
    const after = text(await c.callTool({ name: "local__pid", arguments: {} }));
    assert.match(after, /^\d+$/);
    assert.notEqual(after, before, "a new process");
    // The first one is gone.
    assert.throws(() => process.kill(Number(before), 0));
  } finally {
    await c.close();
  }
});

test("the configuration: url or command, not both; headers only for url, args and env only for command", () => {
  const base = "providers: [{ name: mock, type: mock }]\ndeployments: [{ id: mock/a, provider: mock, model: mock-a }]\n";
  const refused: [string, RegExp][] = [
    [`mcp_servers: [{ id: a }]`, /mcp_servers\[0\]: needs url .* or command/],
    [`mcp_servers: [{ id: a, url: "https://x.example", command: node }]`, /mcp_servers\[0\]: needs url .* only one of them/],
    [`mcp_servers: [{ id: a, command: node, headers: { a: b } }]`, /mcp_servers\[0\]\.headers: only applies to an HTTP server/],
    [`mcp_servers: [{ id: a, url: "https://x.example", env: { a: b } }]`, /mcp_servers\[0\]\.env: only applies to a local server/],
  ];
  for (const [extra, message] of refused) assert.throws(() => buildConfig(parse(`${base}${extra}\n`), {}), message);
});
