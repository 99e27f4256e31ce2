// RouteService.ListMcpServers through the typed client (@signalbox/client) against a real gateway
// whose mcp_servers are real MCP servers (the official SDK's, on loopback ports): which servers each
// key sees (team, allow list, admin), the configuration without the URL's path and query or the
// servers' headers (in the typed answer and in the bytes on the wire), and include_tools: each
// server's tools (its filter applied), or its error when it cannot be reached, the others listed.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, createSignalboxClient, ListMcpServersResponseSchema, type ListMcpServersResponse } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startFakeMcp, type FakeMcp } from "../helpers/fake-mcp.ts";

// Key-shaped strings made at run time.
const key = (name: string) => ["sk", "test", "lms", name, "0123456789abcdef"].join("-");
const TEAM_A = key("team-a");
const TEAM_B = key("team-b");
const NARROW = key("narrow");
const NONE = key("none");
const ADMIN = key("admin");
const MATH_TOKEN = ["mcp", "secret", "hdr", "5b2e91"].join("-");
const QUERY_SECRET = ["qs", "secret", "a81f3c"].join("-");
const PATH_SECRET = ["tenant", "c0ffee42"].join("-");

let math: FakeMcp;
let docs: FakeMcp;
let ops: FakeMcp;
let gone: FakeMcp;
let goneUrl: string;
let mathUrl: string;
let gw: TestGateway;

before(async () => {
  math = await startFakeMcp("math");
  docs = await startFakeMcp("docs");
  ops = await startFakeMcp("ops");
  // A server that is down: started for its port, then closed.
  gone = await startFakeMcp("gone");
  goneUrl = `${gone.url}/${PATH_SECRET}?access_token=${QUERY_SECRET}`;
  await gone.close();
  // The fake serves MCP on any path: the URL's path and query are the secrets to keep.
  mathUrl = `${math.url}/${PATH_SECRET}?access_token=${QUERY_SECRET}`;
  gw = await startTestGateway(
    `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a }
keys:
  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }
  - { name: narrow, hash: "${hashKey(NARROW)}", team: a, role: service, allow: [mock/a, "mcp:math"] }
  - { name: none, hash: "${hashKey(NONE)}", team: a, role: service, allow: [mock/a] }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
mcp_servers:
  - id: math
    description: Arithmetic for agents
    url: "${mathUrl}"
    headers: { Authorization: "Bearer \${MATH_TOKEN}", X-Tenant: "\${MATH_TOKEN}" }
    tools: [add, echo]
    timeout_ms: 5000
    price_per_call_usd: 0.002
  - id: docs
    url: ${docs.url}
    teams: [a]
  - id: gone
    url: "${goneUrl}"
    headers: { Authorization: "Bearer \${MATH_TOKEN}" }
    teams: [a]
    timeout_ms: 2000
  - { id: ops, url: "${ops.url}", teams: [ops] }
`,
    { env: { MATH_TOKEN } },
  );
});

after(async () => {
  await gw?.close();
  await math?.close();
  await docs?.close();
  await ops?.close();
});

const client = (apiKey?: string) => createSignalboxClient({ baseUrl: gw.url, apiKey, opentelemetry: false, timeoutMs: 20_000 });
const ids = (r: ListMcpServersResponse) => r.servers.map((s) => s.id);
const asked = () => math.authorizations.length + docs.authorizations.length + ops.authorizations.length;

/** None of the configuration's secrets: the URL's path and query, the headers' values. */
function assertNoSecrets(text: string, what: string): void {
  for (const secret of [MATH_TOKEN, QUERY_SECRET, PATH_SECRET, "access_token", "X-Tenant", "x-tenant", "Authorization", "Bearer", mathUrl, goneUrl, math.url, docs.url]) {
    assert.ok(!text.includes(secret), `${what} carries "${secret}": ${text}`);
  }
}

test("each key sees the servers it may use, in the configuration's order; an admin key all of them", async () => {
  assert.deepEqual(ids(await client(TEAM_A).route.listMcpServers({})), ["math", "docs", "gone"]);
  // Team b: neither docs nor gone (team a's), nor ops.
  assert.deepEqual(ids(await client(TEAM_B).route.listMcpServers({})), ["math"]);
  // An allow list that names mcp:math only.
  assert.deepEqual(ids(await client(NARROW).route.listMcpServers({})), ["math"]);
  // An allow list without any mcp: entry: no server.
  assert.deepEqual(ids(await client(NONE).route.listMcpServers({ includeTools: true })), []);
  assert.deepEqual(ids(await client(ADMIN).route.listMcpServers({})), ["math", "docs", "gone", "ops"]);
  // Keys are configured: no key is refused.
  await assert.rejects(client().route.listMcpServers({}), (err: unknown) => ConnectError.from(err).code === Code.Unauthenticated);
});

test("the configuration only, without asking any server: host, teams, tools filter, timeout, price", async () => {
  const before = asked();
  const r = await client(ADMIN).route.listMcpServers({});
  assert.equal(asked(), before, "no server was asked");
  const [m, d, g, o] = r.servers;
  assert.equal(m.id, "math");
  assert.equal(m.description, "Arithmetic for agents");
  assert.equal(m.urlHost, new URL(math.url).host);
  assert.match(m.urlHost, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(m.teams, []);
  assert.deepEqual(m.allowedTools, ["add", "echo"]);
  assert.equal(m.timeoutMs, 5000);
  assert.equal(m.pricePerCallNanoUsd, 2_000_000n);
  assert.deepEqual(m.tools, []);
  assert.equal(m.error, "");
  assert.equal(d.description, "");
  assert.deepEqual(d.teams, ["a"]);
  assert.deepEqual(d.allowedTools, []);
  assert.equal(d.pricePerCallNanoUsd, 0n);
  assert.equal(d.timeoutMs, 60_000, "the default deadline");
  assert.equal(g.urlHost, new URL(goneUrl).host);
  assert.deepEqual(o.teams, ["ops"]);
  assertNoSecrets(toJsonString(ListMcpServersResponseSchema, r), "the answer");
});

test("include_tools: each server's tools (its filter applied), and a server that is down has its error", async () => {
  const started = performance.now();
  const r = await client(TEAM_A).route.listMcpServers({ includeTools: true });
  const ms = performance.now() - started;
  assert.deepEqual(ids(r), ["math", "docs", "gone"]);
  const [m, d, g] = r.servers;
  // math: only its filter's tools, with descriptions and input schemas.
  assert.deepEqual(
    m.tools.map((t) => t.name),
    ["add", "echo"],
  );
  assert.equal(m.error, "");
  const add = m.tools[0];
  assert.equal(add.description, "Adds two numbers");
  assert.deepEqual(add.inputSchema, { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] });
  // The gateway asked math with its own credential, at the configured path and query.
  assert.ok(math.authorizations.includes(`Bearer ${MATH_TOKEN}`));
  // docs: every tool.
  assert.deepEqual(
    d.tools.map((t) => t.name),
    ["add", "echo", "whoami", "fail", "boom", "slow", "secret"],
  );
  assert.equal(d.error, "");
  // gone: no tools, an error that names it, without its URL or credential.
  assert.deepEqual(g.tools, []);
  assert.match(g.error, /MCP server "gone"/);
  assert.match(g.error, /could not be reached|did not answer/);
  assertNoSecrets(g.error, "the error");
  assertNoSecrets(toJsonString(ListMcpServersResponseSchema, r), "the answer");
  assert.ok(ms < 15_000, `listed in ${Math.round(ms)} ms`);
});

test("the bytes on the wire carry no URL path, query or header (Connect JSON and binary)", async () => {
  for (const [contentType, body] of [
    ["application/json", JSON.stringify({ includeTools: true })],
    ["application/proto", new Uint8Array([0x08, 0x01])],
  ] as const) {
    const res = await fetch(`${gw.url}/signalbox.v1.RouteService/ListMcpServers`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${ADMIN}` },
      body,
    });
    assert.equal(res.status, 200, contentType);
    const text = Buffer.from(await res.arrayBuffer()).toString("latin1");
    assert.ok(text.includes("math") && text.includes("gone") && text.includes(new URL(math.url).host), text);
    assertNoSecrets(text, contentType);
  }
});
