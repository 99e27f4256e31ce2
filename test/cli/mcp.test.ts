// `signalbox mcp servers`, `signalbox mcp tools` and `signalbox mcp call` as users run them: the
// built bundle in a child process against a real gateway started in process, whose MCP gateway
// fronts two real MCP servers (the official SDK's, on loopback ports) and one that is down: the
// servers a key may use (RouteService.ListMcpServers, with --tools, --json and --csv), tools listed
// by key (every server at /mcp, one at /mcp/{server}), calls with --args and --arg, the --json
// forms, a tool error, bad flags, and the gateway's own refusals (no key, a server the key may not
// use, an unknown tool).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { FAKE_MCP_TOOLS, startFakeMcp, type FakeMcp } from "../helpers/fake-mcp.ts";
import { buildCliIfStale, exited, ok, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { argumentsOf, parseArg, parseArgsJson, resultText, shortDescription } from "../../clients/cli/src/commands/mcp.ts";

// Key-shaped strings made at run time.
const key = (name: string) => ["sk", "test", "climcp", name, "0123456789abcdef"].join("-");
const TEAM_A = key("team-a");
const TEAM_B = key("team-b");
const ADMIN = key("admin");
const NONE = key("none");
const GONE_SECRET = ["qs", "secret", "cli", "9d1e"].join("-");
const MATH_TOKEN = ["mcp", "secret", "cli", "77e2"].join("-");

describe("how tools and results read (no gateway)", () => {
  test("arguments, descriptions, results and the argument flags", () => {
    assert.equal(argumentsOf(FAKE_MCP_TOOLS[0]), "a, b");
    assert.equal(argumentsOf(FAKE_MCP_TOOLS.find((t) => t.name === "slow")!), "ms?");
    assert.equal(argumentsOf({ name: "bare" }), "");
    assert.equal(shortDescription("first line\nsecond"), "first line");
    assert.equal(shortDescription("x".repeat(100)), `${"x".repeat(79)}…`);
    assert.equal(shortDescription(undefined), "");
    // structuredContent is printed unless a text block already is it.
    assert.equal(resultText({ content: [{ type: "text", text: "5" }], structuredContent: { sum: 5 } }), '5\n{\n  "sum": 5\n}\n');
    assert.equal(resultText({ content: [{ type: "text", text: '{"sum":5}' }], structuredContent: { sum: 5 } }), '{"sum":5}\n');
    assert.equal(resultText({ content: [{ type: "text", text: "a" }, { type: "image", mimeType: "image/png", data: "AAAA" }, { type: "resource_link", uri: "file:///x" }] }), "a\n[image image/png, 3 bytes]\n[resource file:///x]\n");
    assert.deepEqual(parseArgsJson('{"a": 1}'), { a: 1 });
    assert.throws(() => parseArgsJson("{a: 1}"), /--args is not JSON/);
    assert.throws(() => parseArgsJson("[1]"), /--args must be a JSON object/);
    assert.deepEqual(parseArg("n=2", parseArg("s=hello world")), [["s", "hello world"], ["n", 2]]);
    assert.deepEqual(parseArg('q="2"'), [["q", "2"]]);
    assert.deepEqual(parseArg("e="), [["e", ""]]);
    assert.deepEqual(parseArg("t=a=b"), [["t", "a=b"]]);
    assert.throws(() => parseArg("novalue"), /is not an argument/);
    assert.throws(() => parseArg("=1"), /is not an argument/);
  });
});

describe("signalbox mcp against a gateway", () => {
  let math: FakeMcp;
  let docs: FakeMcp;
  let goneUrl: string;
  let gw: TestGateway;
  let tmp: string;

  const cli = (args: string[], apiKey: string | null = TEAM_A, node?: string): Promise<CliRun> => runCli(gw.url, [...(apiKey ? ["--api-key", apiKey] : []), ...args], { cwd: tmp, node });
  /** A table's rows as cells (split on two or more spaces), the header row left out. */
  const rowsOf = (stdout: string) =>
    stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/ {2,}/));

  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-mcp-"));
    math = await startFakeMcp("math");
    docs = await startFakeMcp("docs");
    // A server that is down (only an admin key may use it): started for its port, then closed.
    const gone = await startFakeMcp("gone");
    goneUrl = `${gone.url}/private?token=${GONE_SECRET}`;
    await gone.close();
    gw = await startTestGateway(
      `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a }
keys:
  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: none, hash: "${hashKey(NONE)}", team: a, role: service, allow: [mock/a] }
mcp_servers:
  - id: math
    url: ${math.url}
    headers: { Authorization: "Bearer \${MATH_TOKEN}" }
    tools: [add, echo, whoami, fail, slow]
  - id: docs
    description: Searches the docs
    url: ${docs.url}
    teams: [a]
    price_per_call_usd: 0.0005
    timeout_ms: 5000
  - { id: gone, url: "${goneUrl}", teams: [ops], timeout_ms: 2000 }
`,
      { env: { MATH_TOKEN } },
    );
  });

  after(async () => {
    await gw?.close();
    await math?.close();
    await docs?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("mcp servers: the servers this key may use, a table of id, host, teams, tools filter, price, timeout", async () => {
    // Reads only: at once, checked in turn.
    const [run, teamB, adminRun, jsonRun] = await Promise.all([cli(["mcp", "servers"]), cli(["mcp", "servers"], TEAM_B), cli(["mcp", "servers"], ADMIN), cli(["mcp", "servers", "--json"], ADMIN)]);
    const r = ok(run);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^ID +HOST +TEAMS +TOOLS FILTER +PRICE\/CALL +TIMEOUT +DESCRIPTION\n/);
    const host = new URL(math.url).host;
    assert.deepEqual(rowsOf(r.stdout), [
      ["math", host, "all", "add, echo, whoami, fail, slow", "$0.00", "60.0 s"],
      ["docs", new URL(docs.url).host, "a", "all", "$0.0005", "5000 ms", "Searches the docs"],
    ]);
    // Team b: not docs (team a's); an admin key: every server.
    assert.deepEqual(rowsOf(ok(teamB).stdout).map((c) => c[0]), ["math"]);
    assert.deepEqual(rowsOf(ok(adminRun).stdout).map((c) => c[0]), ["math", "docs", "gone"]);
    // Never the URL's path or query, nor the headers.
    const all = ok(jsonRun).stdout;
    for (const secret of [MATH_TOKEN, GONE_SECRET, "/private", "/mcp", "Bearer"]) assert.ok(!all.includes(secret), `${secret} in ${all}`);
  });

  test("mcp servers --tools: each server's tools, or why they could not be listed (exit 0, a note on stderr)", async () => {
    const r = ok(await cli(["mcp", "servers", "--tools"], ADMIN));
    const sections = r.stdout.split(/\n(?=TOOLS OF )/);
    assert.equal(sections.length, 4, r.stdout);
    assert.match(sections[1], /^TOOLS OF math\nNAME +ARGUMENTS +DESCRIPTION\n/);
    assert.deepEqual(rowsOf(sections[1].slice(sections[1].indexOf("\n") + 1)), [
      ["add", "a, b", "Adds two numbers"],
      ["echo", "text", "Echoes its text"],
      // No arguments: the empty cell is part of the gap.
      ["whoami", "Says which credential the server was sent"],
      ["fail", "Always fails"],
      ["slow", "ms?", "Waits"],
    ]);
    assert.match(sections[2], /^TOOLS OF docs\n/);
    assert.ok(sections[2].includes("secret"), "docs has no filter");
    assert.match(sections[3], /^TOOLS OF gone\nerror: MCP server "gone" (could not be reached|did not answer)/);
    assert.ok(!r.stdout.includes(GONE_SECRET) && !r.stdout.includes("/private"), r.stdout);
    assert.equal(r.stderr, "the tools of gone could not be listed: see above\n");

    const j = JSON.parse(ok(await cli(["mcp", "servers", "--tools", "--json"], ADMIN)).stdout) as {
      servers: { id: string; urlHost: string; pricePerCallNanoUsd?: string; teams?: string[]; allowedTools?: string[]; tools?: { name: string; description: string; inputSchema: { required?: string[] } }[]; error?: string }[];
    };
    assert.deepEqual(j.servers.map((s) => s.id), ["math", "docs", "gone"]);
    const [m, d, g] = j.servers;
    assert.equal(m.urlHost, new URL(math.url).host);
    assert.deepEqual(m.allowedTools, ["add", "echo", "whoami", "fail", "slow"]);
    assert.deepEqual(m.tools!.find((t) => t.name === "add")!.inputSchema.required, ["a", "b"]);
    assert.equal(d.pricePerCallNanoUsd, "500000");
    assert.deepEqual(d.teams, ["a"]);
    assert.equal(d.tools!.length, FAKE_MCP_TOOLS.length);
    assert.equal(g.tools, undefined);
    assert.match(g.error!, /MCP server "gone"/);
  });

  test("mcp servers --csv; a key that may use no server: nothing on stdout, a note, exit 0", async () => {
    const c = ok(await cli(["mcp", "servers", "--csv"]));
    assert.match(c.stdout, /^id,host,teams,allowed_tools,price_per_call_usd,timeout_ms,description\r\n/);
    assert.match(c.stdout, /\r\nmath,127\.0\.0\.1:\d+,,add echo whoami fail slow,0\.00,60000,\r\n/);
    assert.match(c.stdout, /\r\ndocs,127\.0\.0\.1:\d+,a,,0\.0005,5000,Searches the docs\r\n/);

    const n = ok(await cli(["mcp", "servers", "--tools"], NONE));
    assert.equal(n.stdout, "");
    assert.match(n.stderr, /no MCP servers: this key may use none/);
  });

  test("mcp tools: every server's tools the key may use, named server__tool, with arguments and descriptions", async () => {
    const r = ok(await cli(["mcp", "tools"]));
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^NAME +ARGUMENTS +DESCRIPTION\n/);
    const rows = rowsOf(r.stdout);
    const names = rows.map((c) => c[0]).sort();
    // math's filter hides boom and secret; docs offers every tool to team a.
    assert.deepEqual(
      names.filter((n) => n.startsWith("math__")),
      ["math__add", "math__echo", "math__fail", "math__slow", "math__whoami"],
    );
    assert.deepEqual(
      names.filter((n) => n.startsWith("docs__")),
      FAKE_MCP_TOOLS.map((t) => `docs__${t.name}`).sort(),
    );
    assert.deepEqual(
      rows.find((c) => c[0] === "math__add"),
      ["math__add", "a, b", "Adds two numbers"],
    );
    assert.deepEqual(
      rows.find((c) => c[0] === "math__slow"),
      ["math__slow", "ms?", "Waits"],
    );
    // A team the docs server is not for sees only math's tools.
    const b = rowsOf(ok(await cli(["mcp", "tools"], TEAM_B)).stdout).map((c) => c[0]);
    assert.ok(b.length > 0 && b.every((n) => n.startsWith("math__")), `team b sees no docs tool: ${b}`);
  });

  test("mcp tools <server>: that server's tools under their own names; --json the tools as listed; --csv", async () => {
    // Reads only: at once, checked in turn.
    const [run, docsJson, allJson, csvRun] = await Promise.all([cli(["mcp", "tools", "math"]), cli(["mcp", "tools", "docs", "--json"]), cli(["--json", "mcp", "tools"]), cli(["mcp", "tools", "math", "--csv"])]);
    const r = ok(run);
    assert.deepEqual(rowsOf(r.stdout).map((c) => c[0]).sort(), ["add", "echo", "fail", "slow", "whoami"]);

    const j = JSON.parse(ok(docsJson).stdout) as { name: string; description: string; inputSchema: { required?: string[] } }[];
    assert.ok(Array.isArray(j));
    assert.deepEqual(j.map((t) => t.name).sort(), FAKE_MCP_TOOLS.map((t) => t.name).sort());
    const add = j.find((t) => t.name === "add")!;
    assert.equal(add.description, "Adds two numbers");
    assert.deepEqual(add.inputSchema.required, ["a", "b"]);

    const all = JSON.parse(ok(allJson).stdout) as { name: string }[];
    assert.ok(all.some((t) => t.name === "math__add") && all.some((t) => t.name === "docs__secret"));

    const c = ok(csvRun);
    assert.match(c.stdout, /^name,arguments,description\r\n/);
    assert.match(c.stdout, /\r\nadd,"a, b",Adds two numbers\r\n/);
  });

  test("mcp tools <server> the key may not use, or that does not exist: not found, with a hint", async () => {
    const servers = ["docs", "nope"];
    const runs = await Promise.all(servers.map((server) => cli(["mcp", "tools", server], TEAM_B)));
    for (const [i, server] of servers.entries()) {
      const r = exited(runs[i], 1, `mcp tools ${server}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, new RegExp(`error: MCP server "${server}" does not exist or this key may not use it \\(not_found\\)`));
      assert.match(r.stderr, /hint: check the server id: `signalbox mcp tools` lists/);
    }
  });

  test("mcp call with --args: the text, then structuredContent as JSON; the server got the arguments", async () => {
    const from = math.calls.length;
    const r = ok(await cli(["mcp", "call", "math__add", "--args", '{"a": 2, "b": 3}']));
    assert.equal(r.stdout, '5\n{\n  "sum": 5\n}\n');
    assert.equal(r.stderr, "");
    assert.deepEqual(math.calls.slice(from), [{ name: "add", arguments: { a: 2, b: 3 } }]);
  });

  test("mcp call with --arg: values as JSON when they parse, else strings; overriding --args; --server for bare names", async () => {
    const from = math.calls.length;
    ok(await cli(["mcp", "call", "math__add", "--arg", "a=4", "--arg", "b=1.5"]));
    const r = ok(await cli(["mcp", "call", "math__add", "--args", '{"a": 1, "b": 1}', "--arg", "b=10"]));
    assert.match(r.stdout, /^11\n/);
    assert.deepEqual(math.calls.slice(from), [
      { name: "add", arguments: { a: 4, b: 1.5 } },
      { name: "add", arguments: { a: 1, b: 10 } },
    ]);

    const e = ok(await cli(["mcp", "call", "echo", "--server", "docs", "--arg", "text=hello world"]));
    assert.equal(e.stdout, "hello world\n");
    assert.deepEqual(docs.calls.at(-1), { name: "echo", arguments: { text: "hello world" } });
    // A value that parses as JSON is sent as that JSON; quoted, it stays a string.
    ok(await cli(["mcp", "call", "docs__echo", "--arg", 'text="42"']));
    assert.deepEqual(docs.calls.at(-1), { name: "echo", arguments: { text: "42" } });

    // The server gets the gateway's credential, never the caller's key.
    assert.equal(ok(await cli(["mcp", "call", "whoami", "--server", "math"])).stdout, `Bearer ${MATH_TOKEN}\n`);
    assert.ok(!math.authorizations.includes(`Bearer ${TEAM_A}`));
  });

  test("mcp call --json: the whole result", async () => {
    const j = JSON.parse(ok(await cli(["mcp", "call", "math__add", "--arg", "a=2", "--arg", "b=3", "--json"])).stdout) as { content: { type: string; text: string }[]; structuredContent: unknown; isError?: boolean };
    assert.deepEqual(j.content, [{ type: "text", text: "5" }]);
    assert.deepEqual(j.structuredContent, { sum: 5 });
    assert.ok(!j.isError);
  });

  test("a tool error (isError): its text on stderr, nothing on stdout, exit 1; --json prints the result and exits 1", async () => {
    // Two independent calls (different servers), at once.
    const [run, jsonRun] = await Promise.all([cli(["mcp", "call", "math__fail"]), cli(["mcp", "call", "fail", "--server", "docs", "--json"])]);
    const r = exited(run, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "the tool failed on purpose\n");

    const j = exited(jsonRun, 1);
    const body = JSON.parse(j.stdout) as { isError: boolean; content: { text: string }[] };
    assert.equal(body.isError, true);
    assert.equal(body.content[0].text, "the tool failed on purpose");
  });

  test("bad --args JSON, or a bad --arg: bad usage (exit 2) naming the flag, and nothing is sent", async () => {
    const from = math.calls.length + docs.calls.length;
    const bad = ["{a: 1}", "[1, 2]", ""];
    // Independent runs: at once, checked in order.
    const [runs, argRun] = await Promise.all([Promise.all(bad.map((args) => cli(["mcp", "call", "math__add", "--args", args]))), cli(["mcp", "call", "math__add", "--arg", "a"])]);
    for (const [i, args] of bad.entries()) {
      const r = exited(runs[i], 2, `--args ${JSON.stringify(args)}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /--args (is not JSON|must be a JSON object)/);
    }
    const a = exited(argRun, 2);
    assert.match(a.stderr, /"a" is not an argument: use --arg <name>=<value>/);
    assert.equal(math.calls.length + docs.calls.length, from, "no tool was called");
  });

  test("an unknown tool, no key, a gateway that is not there: the error, its code and a hint, exit 1", async () => {
    const from = math.calls.length;
    // Three independent failures, at once, checked in turn.
    const [unknownRun, noKeyRun, noGatewayRun] = await Promise.all([
      cli(["mcp", "call", "add", "--arg", "a=1"]),
      cli(["mcp", "tools"], null),
      runCli("http://127.0.0.1:1", ["--api-key", TEAM_A, "mcp", "tools"], { cwd: tmp }),
    ]);
    const u = exited(unknownRun, 1);
    assert.match(u.stderr, /error: Unknown tool: add \(invalid_argument\)/);
    assert.match(u.stderr, /hint: `signalbox mcp tools` lists the tools this key may use; at \/mcp tools are named <server>__<tool>/);
    assert.equal(math.calls.length, from);

    const n = exited(noKeyRun, 1);
    assert.match(n.stderr, /error: missing Authorization: Bearer <key> header \(unauthenticated\)/);
    assert.match(n.stderr, /hint: pass a caller key with --api-key or set SIGNALBOX_API_KEY/);

    const d = exited(noGatewayRun, 1);
    assert.match(d.stderr, /\(unavailable\)/);
    assert.match(d.stderr, /hint: is the gateway running at http:\/\/127\.0\.0\.1:1\?/);
  });

  test("the bundle runs mcp on Node 20", { skip: !existsSync(SYSTEM_NODE) }, async () => {
    const [call, tools, servers] = await Promise.all([
      cli(["mcp", "call", "math__add", "--args", '{"a": 20, "b": 22}'], TEAM_A, SYSTEM_NODE),
      cli(["mcp", "tools", "math"], TEAM_A, SYSTEM_NODE),
      cli(["mcp", "servers"], TEAM_A, SYSTEM_NODE),
    ]);
    const r = ok(call, "mcp call on Node 20");
    assert.match(r.stdout, /^42\n/);
    assert.ok(rowsOf(ok(tools).stdout).some((c) => c[0] === "add"));
    assert.deepEqual(rowsOf(ok(servers).stdout).map((c) => c[0]), ["math", "docs"]);
  });
});
