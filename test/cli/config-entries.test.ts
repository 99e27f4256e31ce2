// `signalbox entries …` as users run it: the built bundle in a child process against a real
// gateway started in process (auth on, an admin key), and a fake OpenAI-compatible upstream that
// records the key it is called with. A provider put with its key from an environment variable
// (never on the command line) and a deployment put with --set serve a chat request through the
// gateway with the stored key; `list` as a table, --json (the typed client's own answer through
// toJson) and --csv; `get` and its spec put back with -f (the key kept); --dry-run writes nothing;
// bad usage exits 2 with nothing sent; deleting a provider still in use is refused as other
// server errors are (exit 1, the message and code on stderr); deleting in order works. The key
// never appears in anything the CLI prints. `get` is GetConfigEntry (an unknown entry is its
// not_found). With a master key: a webhook guardrail put from YAML with its authorization header
// from --header-env guards a route (the webhook gets the header; the value is never printed),
// `list` and `get` show the key the credentials are sealed with, and `reseal` (--dry-run, --json)
// reports them current; without one, `reseal` is the gateway's failed_precondition; failures a
// reseal reports (from a stand-in gateway) are listed and exit 1.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import type { SignalboxClient } from "@signalbox/client";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { hashKey } from "../../src/server/auth.ts";
import { masterKeyId } from "../../src/control/sealed.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, type CliRun } from "../helpers/cli.ts";

// The client's dist and the bundle are built first when older than their sources (`npm test`
// builds both): the client's values come from its dist, so they are imported after that.
buildCliIfStale();
const { createSignalboxClient, ConfigEntryKind, ConfigEntrySchema, ListConfigEntriesResponseSchema, ResealConfigEntriesResponseSchema } = await import("@signalbox/client");
const { applyHeaderEnv, applySets, parseHeaderEnv, parseKind, parseSet } = await import("../../clients/cli/src/commands/entries.ts");

// Key-shaped strings made at run time.
const ADMIN = ["sbx", "cli", "entries", "admin", "0123456789abcdef"].join("_");
const UPSTREAM_KEY = ["sk", "test", "cli", "entries", "upstream", "0123456789abcdef"].join("-");
const HOOK_TOKEN = ["whk", "test", "cli", "entries", "hook", "0123456789abcdef"].join("_");
const MASTER = ["master", "key", "for", "the", "cli", "entries", "tests", "0123456789"].join("-");

/** The fake OpenAI upstream, answering with this text and accepting only the key stored at run time. */
async function startFakeUpstream(): Promise<FakeOpenAI> {
  const fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY, models: ["my-model"] });
  fake.setDefault({ kind: "text", text: "hello from the fake upstream" });
  return fake;
}

/** The Authorization header of every chat request the fake received. */
const auths = (fake: FakeOpenAI) => fake.requests.filter((r) => r.path === "/v1/chat/completions").map((r) => r.headers.authorization);

describe("the entries flags (no gateway)", () => {
  test("<kind>, --set and how sets build a spec", () => {
    assert.equal(parseKind("Provider"), "provider");
    assert.equal(parseKind("routes"), "route");
    assert.equal(parseKind("guardrail"), "guardrail");
    assert.equal(parseKind("Guardrails"), "guardrail");
    assert.equal(parseKind("mcp-server"), "mcp_server");
    assert.equal(parseKind("MCP_Servers"), "mcp_server");
    assert.equal(parseKind("aliases"), "alias");
    assert.equal(parseKind("alerts"), "alert");
    assert.throws(() => parseKind("widget"), /"widget" is not a kind of entry: use one of provider, deployment, route, guardrail, mcp_server, alias, alert, preset$/);
    const sets = parseSet("aws.region=eu-west-1", parseSet("targets=[\"a\",\"b\"]", parseSet("stream=true", parseSet("pricing.input=0.5", parseSet("model=gpt-4o")))));
    assert.deepEqual(applySets({ provider: "acme", pricing: { output: 2 } }, sets), {
      provider: "acme",
      model: "gpt-4o",
      pricing: { input: 0.5, output: 2 },
      stream: true,
      targets: ["a", "b"],
      aws: { region: "eu-west-1" },
    });
    assert.throws(() => parseSet("model"), /"model" is not a field: use --set <field>=<value>/);
    assert.throws(() => parseSet("pricing..input=1"), /is not a field/);
    assert.throws(() => applySets({ model: "x" }, parseSet("model.name=y")), /model is not an object/);
  });

  test("--header-env: a provider's headers, a webhook guardrail's webhook.headers, from the environment", () => {
    const headers = parseHeaderEnv("x.dotted=DOTTED", parseHeaderEnv(" authorization = HOOK_AUTH "));
    assert.deepEqual(headers, [
      ["authorization", "HOOK_AUTH"],
      ["x.dotted", "DOTTED"],
    ]);
    const env = { HOOK_AUTH: " Bearer t \n", DOTTED: "v" };
    assert.deepEqual(applyHeaderEnv({ kind: "webhook", webhook: { url: "http://h/x", headers: { "x-team": "a" } } }, "guardrail", headers, env), {
      kind: "webhook",
      webhook: { url: "http://h/x", headers: { "x-team": "a", authorization: "Bearer t", "x.dotted": "v" } },
    });
    assert.deepEqual(applyHeaderEnv({ type: "openai" }, "provider", headers.slice(0, 1), env), { type: "openai", headers: { authorization: "Bearer t" } });
    assert.deepEqual(applyHeaderEnv({ model: "m" }, "deployment", [], env), { model: "m" }, "nothing to set: any kind");
    for (const bad of ["authorization", "=VAR", "authorization=", "authorization=not-a-var"]) assert.throws(() => parseHeaderEnv(bad), /is not a header from the environment: use --header-env <header>=<VAR>/, bad);
    assert.throws(() => applyHeaderEnv({}, "route", headers, env), /--header-env sets the headers of a provider, an MCP server, an alert or a webhook guardrail: a route has none/);
    assert.throws(() => applyHeaderEnv({ kind: "deny" }, "guardrail", headers, env), /guardrail kind "deny" calls no webhook/);
    assert.throws(() => applyHeaderEnv({}, "guardrail", [["authorization", "NOPE_VAR"]], env), /--header-env authorization=NOPE_VAR: the environment variable NOPE_VAR is not set/);
    assert.throws(() => applyHeaderEnv({ webhook: { headers: "x" } }, "guardrail", headers, env), /--header-env: webhook.headers is not an object/);
  });
});

/** The built CLI as the admin key, in `cwd`; what it printed kept in `printed` (no credential may show in it). */
async function adminCli(url: string, cwd: string, printed: string[], args: string[], opts: { env?: Record<string, string>; stdin?: string }): Promise<CliRun> {
  const r = await runCli(url, ["--api-key", ADMIN, ...args], { cwd, ...opts });
  printed.push(r.stdout, r.stderr);
  return r;
}

/** A table's rows as cells (split on two or more spaces), the header row left out. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/ {2,}/));

describe("signalbox entries against a gateway", () => {
  let gw: TestGateway;
  let fake: FakeOpenAI;
  let tmp: string;
  let admin: SignalboxClient;
  /** Everything the CLI printed, to check the upstream key never appears in it. */
  const printed: string[] = [];

  const cli = (args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}) => adminCli(gw.url, tmp, printed, args, opts);
  const chat = (model: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-entries-"));
    fake = await startFakeUpstream();
    gw = await startTestGateway(
      `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/a] }
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`,
      { masterKey: "" },
    );
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN });
  });

  after(async () => {
    await gw?.close();
    await fake?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("put a provider (its key from an environment variable) and a deployment (--set); a request reaches the upstream with the stored key", async () => {
    const p = ok(await cli(["entries", "put", "provider", "acme", "--set", "type=openai", "--set", `base_url=${fake.url}`, "--api-key-env", "ACME_TEST_KEY"], { env: { ACME_TEST_KEY: UPSTREAM_KEY } }));
    assert.match(p.stdout, /^saved provider "acme" \(revision 1\)\n/);
    const pf = fieldsOf(p.stdout.split("\n").slice(1).join("\n"));
    assert.equal(pf.get("SECRETS"), "api_key");
    assert.match(pf.get("CONFIG VERSION") ?? "", /^\S+$/);
    assert.match(p.stdout, /\nCHANGES\n {2}provider added: acme\n$/);

    const d = ok(await cli(["entries", "put", "deployment", "acme/my-model", "--set", "provider=acme", "--set", "model=my-model", "--set", "pricing.input=0.5", "--set", "pricing.output=1.5", "--set", "context_window=32000"]));
    assert.match(d.stdout, /^saved deployment "acme\/my-model" \(revision 1\)\n/);
    assert.match(d.stdout, /\nCHANGES\n {2}deployment added: acme\/my-model\n/);
    const spec = (await admin.admin.listConfigEntries({ kind: ConfigEntryKind.DEPLOYMENT })).entries[0].spec as Record<string, unknown>;
    assert.deepEqual(spec.pricing, { input: 0.5, output: 1.5 }, "numbers are sent as numbers");
    assert.equal(spec.context_window, 32000);

    const res = await chat("acme/my-model");
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0].message.content, "hello from the fake upstream");
    assert.deepEqual(auths(fake), [`Bearer ${UPSTREAM_KEY}`]);
  });

  test("list: a table, --json as the API gives it, --csv, --kind", async () => {
    // Reads only: run at once, checked in turn.
    const [listRun, jsonRun, csvRun, routeRun] = await Promise.all([
      cli(["entries", "list"]),
      cli(["entries", "list", "--json"]),
      cli(["entries", "list", "--csv", "--kind", "provider"]),
      cli(["entries", "list", "--kind", "route"]),
    ]);
    const r = ok(listRun);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^KIND +NAME +REVISION +UPDATED +BY +SECRETS +SEALED WITH +PROBLEM\n/);
    const rows = rowsOf(r.stdout);
    assert.deepEqual(
      rows.map((c) => c.slice(0, 3)),
      [
        ["provider", "acme", "1"],
        ["deployment", "acme/my-model", "1"],
      ],
    );
    assert.match(rows[0][3], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.equal(rows[0][4], "root");
    assert.equal(rows[0][5], "api_key");
    assert.equal(rows[0].length, 6, "no master key: not sealed");
    assert.equal(rows[1].length, 5, "no secrets, no problem");

    const j = ok(jsonRun);
    assert.deepEqual(JSON.parse(j.stdout), toJson(ListConfigEntriesResponseSchema, await admin.admin.listConfigEntries({})));
    assert.equal((JSON.parse(j.stdout) as { entries: { spec: { api_key?: string } }[] }).entries[0].spec.api_key, "********");

    const c = ok(csvRun);
    const lines = c.stdout.trimEnd().split("\r\n");
    assert.equal(lines[0], "kind,name,revision,updated,by,secrets,sealed_with,problem");
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^provider,acme,1,\d{4}-\d\d-\d\dT[\d:.]+Z,root,api_key,,$/);
    assert.match(ok(routeRun).stdout, /^no config entries made at run time\n$/);
  });

  test("get: the entry and its spec; the spec put back with -f keeps the stored key", async () => {
    // Reads only: run at once, checked in turn.
    const [getRun, jsonRun, specRun] = await Promise.all([cli(["entries", "get", "provider", "acme"]), cli(["entries", "get", "provider", "acme", "--json"]), cli(["entries", "get", "provider", "acme", "--spec"])]);
    const g = ok(getRun);
    const f = fieldsOf(g.stdout);
    assert.equal(f.get("KIND"), "provider");
    assert.equal(f.get("NAME"), "acme");
    assert.equal(f.get("REVISION"), "1");
    assert.equal(f.get("SECRETS"), "api_key");
    assert.match(f.get("CREATED") ?? "", /Z by root$/);
    assert.match(g.stdout, /\nSPEC\n {2}type: openai\n/);
    assert.match(g.stdout, /\n {2}api_key: "\*{8}"\n/);

    const j = ok(jsonRun);
    const entry = (await admin.admin.listConfigEntries({ kind: ConfigEntryKind.PROVIDER })).entries[0];
    assert.deepEqual(JSON.parse(j.stdout), toJson(ConfigEntrySchema, entry));

    const s = ok(specRun);
    const spec = parseYaml(s.stdout) as Record<string, unknown>;
    assert.equal(spec.api_key, "********");
    assert.equal(spec.base_url, fake.url);
    writeFileSync(join(tmp, "acme.yaml"), s.stdout + "headers:\n  x-team: cli\n");
    const p = ok(await cli(["entries", "put", "provider", "acme", "-f", "acme.yaml", "--expect-revision", "1"]));
    assert.match(p.stdout, /^saved provider "acme" \(revision 2\)\n/);
    assert.match(p.stdout, /\nCHANGES\n {2}provider changed: acme\n/);
    assert.equal(fieldsOf(p.stdout.split("\n").slice(1).join("\n")).get("SECRETS"), "api_key, headers.x-team");
    assert.equal((await chat("acme/my-model")).status, 200);
    assert.equal(auths(fake).at(-1), `Bearer ${UPSTREAM_KEY}`, "the key kept through the replace");

    // A stale revision is the server's refusal (exit 1), naming the field.
    const stale = exited(await cli(["entries", "put", "provider", "acme", "-f", "acme.yaml", "--expect-revision", "1"]), 1);
    assert.match(stale.stderr, /^error: expected_revision: provider "acme" is at revision 2, not 1 \(aborted\)\n {2}field: expected_revision\n/);
    // GetConfigEntry's not_found, as the gateway words it (two reads, at once).
    const [noneRun, noGuardrailRun] = await Promise.all([cli(["entries", "get", "route", "nope"]), cli(["entries", "get", "guardrails", "nope", "--spec"])]);
    const none = exited(noneRun, 1);
    assert.match(none.stderr, /^error: name: no route "nope" was made at run time \(not_found\)\n {2}field: name\n(?: {2}trace: \S+\n)?hint: check the name or id/);
    assert.equal(none.stdout, "");
    const noGuardrail = exited(noGuardrailRun, 1);
    assert.match(noGuardrail.stderr, /^error: name: no guardrail "nope" was made at run time \(not_found\)\n/);
  });

  test("--dry-run says what would change and writes nothing; a bad spec names the field", async () => {
    writeFileSync(join(tmp, "smart.json"), JSON.stringify({ targets: ["acme/my-model"], fallbacks: ["default"] }));
    const r = ok(await cli(["entries", "put", "route", "smart", "-f", "smart.json", "--dry-run"]));
    assert.match(r.stdout, /^dry run: route "smart" is valid; nothing was written\n/);
    assert.match(r.stdout, /\nWOULD CHANGE\n {2}route added: smart\n$/);
    assert.deepEqual(
      (await admin.admin.listConfigEntries({})).entries.map((e) => e.name),
      ["acme", "acme/my-model"],
    );
    const j = JSON.parse(ok(await cli(["entries", "put", "route", "smart", "-f", "smart.json", "--dry-run", "--json"])).stdout) as { changes: string[] };
    assert.deepEqual(j.changes, ["route added: smart"]);
    assert.equal((await admin.admin.listConfigEntries({ kind: ConfigEntryKind.ROUTE })).entries.length, 0);

    const bad = exited(await cli(["entries", "put", "deployment", "x/y", "--set", "provider=nope", "--set", "model=my-model", "--dry-run"]), 1);
    assert.match(bad.stderr, /^error: spec\.provider: unknown provider "nope".*\(invalid_argument\)\n {2}field: spec\.provider\n/);
  });

  test("bad usage exits 2 with a clear message, and nothing is written", async () => {
    const cases: [string[], RegExp, { env?: Record<string, string>; stdin?: string }?][] = [
      [["entries", "list", "--kind", "widget"], /"widget" is not a kind of entry: use one of provider, deployment, route, guardrail/],
      [["entries", "put", "widget", "x", "--set", "a=1"], /"widget" is not a kind of entry/],
      [["entries", "put", "provider", "p2", "--set", "type"], /"type" is not a field: use --set <field>=<value>/],
      [["entries", "put", "provider", "p2", "--set", "type=openai", "--api-key-env", "P2_KEY", "--api-key-stdin"], /--api-key-env and --api-key-stdin cannot be used together/, { env: { P2_KEY: UPSTREAM_KEY }, stdin: UPSTREAM_KEY }],
      [["entries", "put", "provider", "p2", "--set", "type=openai", "--api-key-env", "SIGNALBOX_CLI_TEST_UNSET_VAR"], /--api-key-env SIGNALBOX_CLI_TEST_UNSET_VAR: the environment variable is not set/],
      [["entries", "put", "deployment", "d2", "--set", "provider=acme", "--api-key-env", "P2_KEY"], /--api-key-env sets a provider's api_key: a deployment has none/, { env: { P2_KEY: UPSTREAM_KEY } }],
      [["entries", "put", "guardrail", "g2", "--set", "kind=webhook", "--api-key-stdin"], /--api-key-stdin sets a provider's api_key: a guardrail has none\nhint: .*--header-env <header>=<VAR>/, { stdin: UPSTREAM_KEY }],
      [["entries", "put", "route", "r2", "--set", "targets=[\"mock/a\"]", "--header-env", "authorization=P2_KEY"], /--header-env sets the headers of a provider, an MCP server, an alert or a webhook guardrail: a route has none/, { env: { P2_KEY: UPSTREAM_KEY } }],
      [["entries", "put", "guardrail", "g2", "--set", "kind=webhook", "--header-env", "authorization=SIGNALBOX_CLI_TEST_UNSET_VAR"], /--header-env authorization=SIGNALBOX_CLI_TEST_UNSET_VAR: the environment variable SIGNALBOX_CLI_TEST_UNSET_VAR is not set/],
      [["entries", "put", "guardrail", "g2", "--header-env", "authorization"], /"authorization" is not a header from the environment/],
      [["entries", "put", "guardrail", "g2", "--set", "kind=deny", "--header-env", "authorization=P2_KEY"], /guardrail kind "deny" calls no webhook/, { env: { P2_KEY: UPSTREAM_KEY } }],
      [["entries", "put", "route", "r2"], /error: no spec/],
      [["entries", "put", "route", "r2", "-f", "missing.yaml"], /-f missing.yaml: no such file/],
      [["entries", "delete", "provider"], /missing required argument 'name'/],
    ];
    // Independent runs (none writes): started at once, checked in order.
    const runs = await Promise.all(cases.map(([args, , opts]) => cli(args, opts)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = exited(runs[i], 2, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    }
    // A key from stdin: the CLI reads it, and the replace keeps it as the stored key.
    const p = ok(await cli(["entries", "put", "provider", "p2", "--set", "type=openai", "--set", `base_url=${fake.url}`, "--api-key-stdin", "--dry-run"], { stdin: `${UPSTREAM_KEY}\n` }));
    assert.match(p.stdout, /\nWOULD CHANGE\n {2}provider added: p2\n/);
    assert.deepEqual(
      (await admin.admin.listConfigEntries({})).entries.map((e) => e.name),
      ["acme", "acme/my-model"],
    );
  });

  test("delete: a provider in use is refused (exit 1, the reason on stderr); the deployment then the provider go", async () => {
    const refused = exited(await cli(["entries", "delete", "provider", "acme"]), 1);
    assert.match(refused.stderr, /^error: provider "acme" is still used: deleting it would take deployment\/acme\/my-model out of force .*\(failed_precondition\)\n/);
    assert.equal(refused.stdout, "");
    assert.ok(!/\n\s+at /.test(refused.stderr), `no stack trace:\n${refused.stderr}`);

    const d = ok(await cli(["entries", "delete", "deployment", "acme/my-model"]));
    assert.match(d.stdout, /^deleted deployment "acme\/my-model"\nCONFIG VERSION +\S+\nCHANGES\n {2}deployment removed: acme\/my-model\n$/);
    const p = JSON.parse(ok(await cli(["entries", "delete", "provider", "acme", "--expect-revision", "2", "--json"])).stdout) as { configVersion: string; changes: string[] };
    assert.deepEqual(p.changes, ["provider removed: acme"]);
    assert.ok(p.configVersion);
    assert.equal((await admin.admin.listConfigEntries({})).entries.length, 0);
    assert.equal((await chat("acme/my-model")).status, 404);
    exited(await cli(["entries", "delete", "provider", "acme"]), 1);
  });

  test("reseal without a master key is the gateway's failed_precondition (exit 1)", async () => {
    const [run, dry] = await Promise.all([cli(["entries", "reseal"]), cli(["entries", "reseal", "--dry-run", "--json"])]);
    const r = exited(run, 1);
    assert.match(r.stderr, /^error: this gateway has no SIGNALBOX_MASTER_KEY: there is no key to seal with \(failed_precondition\)\n/);
    assert.equal(r.stdout, "");
    exited(dry, 1);
  });

  test("the upstream key never appears in anything the CLI printed", () => {
    assert.ok(printed.length > 20);
    for (const text of printed) assert.ok(!text.includes(UPSTREAM_KEY), `the key leaked:\n${text}`);
  });
});

describe("signalbox entries: guardrails and sealed credentials, against a gateway with a master key", () => {
  let gw: TestGateway;
  let hook: http.Server;
  let hookUrl = "";
  let tmp: string;
  let admin: SignalboxClient;
  const keyId = masterKeyId(MASTER);
  /** The Authorization header of every call the webhook received. */
  const hookAuths: (string | undefined)[] = [];
  const printed: string[] = [];

  const cli = (args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}) => adminCli(gw.url, tmp, printed, args, opts);

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-entries-sealed-"));
    // A moderation webhook that allows everything, and records the token it was called with.
    hook = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        hookAuths.push(req.headers.authorization);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ allow: true }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/moderate`;
    gw = await startTestGateway(
      `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/a] }
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`,
      { masterKey: MASTER, previousMasterKeys: [] },
    );
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN });
  });

  after(async () => {
    await gw?.close();
    await new Promise((r) => hook?.close(r));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("put a webhook guardrail from YAML, its authorization header from --header-env: sealed, sent to the webhook, never printed", async () => {
    writeFileSync(join(tmp, "mod.yaml"), `kind: webhook\naction: block\nwebhook:\n  url: ${hookUrl}\n`);
    const g = ok(await cli(["entries", "put", "guardrail", "mod", "-f", "mod.yaml", "--header-env", "authorization=MOD_AUTH"], { env: { MOD_AUTH: `Bearer ${HOOK_TOKEN}` } }));
    assert.match(g.stdout, /^saved guardrail "mod" \(revision 1\)\n/);
    assert.equal(fieldsOf(g.stdout.split("\n").slice(1).join("\n")).get("SECRETS"), "webhook.headers.authorization");
    assert.match(g.stdout, /\nCHANGES\n {2}guardrail added: mod\n$/);
    const entry = (await admin.admin.getConfigEntry({ kind: ConfigEntryKind.GUARDRAIL, name: "mod" })).entry;
    assert.deepEqual(entry?.sealedWith, [keyId]);

    // A provider with a key and a header, both from the environment.
    const p = ok(
      await cli(["entries", "put", "provider", "vault", "--set", "type=openai", "--set", "base_url=http://127.0.0.1:9/v1", "--api-key-env", "VAULT_KEY", "--header-env", "x-org=VAULT_ORG"], {
        env: { VAULT_KEY: UPSTREAM_KEY, VAULT_ORG: "org-cli" },
      }),
    );
    assert.equal(fieldsOf(p.stdout.split("\n").slice(1).join("\n")).get("SECRETS"), "api_key, headers.x-org");

    // The guardrail on a route made at run time: the webhook gets the header the CLI read.
    ok(await cli(["entries", "put", "route", "guarded", "--set", "targets=[\"mock/a\"]", "--set", "guardrails=[\"mod\"]"]));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ model: "guarded", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(hookAuths.length >= 1, "the webhook was called");
    for (const a of hookAuths) assert.equal(a, `Bearer ${HOOK_TOKEN}`);
  });

  test("list and get show the guardrail and the master key its credentials are sealed with", async () => {
    // Reads only: run at once, checked in turn.
    const [listRun, kindRun, jsonRun, csvRun, getRun, specRun] = await Promise.all([
      cli(["entries", "list"]),
      cli(["entries", "list", "--kind", "guardrails"]),
      cli(["entries", "list", "--json", "--kind", "guardrail"]),
      cli(["entries", "list", "--csv", "--kind", "guardrail"]),
      cli(["entries", "get", "guardrail", "mod"]),
      cli(["entries", "get", "guardrail", "mod", "--spec"]),
    ]);
    const r = ok(listRun);
    assert.match(r.stdout, /^KIND +NAME +REVISION +UPDATED +BY +SECRETS +SEALED WITH +PROBLEM\n/);
    const rows = rowsOf(r.stdout);
    const mod = rows.find((c) => c[0] === "guardrail");
    assert.deepEqual([mod?.[1], mod?.[2], mod?.[5], mod?.[6]], ["mod", "1", "webhook.headers.authorization", keyId]);
    assert.deepEqual(rows.find((c) => c[1] === "vault")?.slice(5), ["api_key, headers.x-org", keyId]);
    assert.equal(rows.find((c) => c[1] === "guarded")?.length, 5, "a route holds no credentials");

    const k = ok(kindRun);
    assert.deepEqual(
      rowsOf(k.stdout).map((c) => c[1]),
      ["mod"],
    );
    const j = JSON.parse(ok(jsonRun).stdout) as { entries: { name: string; sealedWith: string[]; spec: { webhook: { headers: Record<string, string> } } }[] };
    assert.deepEqual(j, toJson(ListConfigEntriesResponseSchema, await admin.admin.listConfigEntries({ kind: ConfigEntryKind.GUARDRAIL })));
    assert.deepEqual(j.entries[0].sealedWith, [keyId]);
    assert.equal(j.entries[0].spec.webhook.headers.authorization, "********");
    const c = ok(csvRun);
    assert.match(c.stdout.split("\r\n")[1], new RegExp(`^guardrail,mod,1,[^,]+,root,webhook.headers.authorization,${keyId},$`));

    const g = ok(getRun);
    const f = fieldsOf(g.stdout);
    assert.equal(f.get("KIND"), "guardrail");
    assert.equal(f.get("SECRETS"), "webhook.headers.authorization");
    assert.equal(f.get("SEALED WITH"), keyId);
    const spec = parseYaml(ok(specRun).stdout) as Record<string, unknown>;
    assert.deepEqual(spec, { kind: "webhook", action: "block", webhook: { url: hookUrl, headers: { authorization: "********" } } });
  });

  test("reseal --dry-run and reseal: every credential already under the current key; --json is the API's answer", async () => {
    const dry = ok(await cli(["entries", "reseal", "--dry-run"]));
    assert.equal(dry.stderr, "");
    assert.match(dry.stdout, new RegExp(`^dry run: 0 entries would be sealed again with master key ${keyId}; nothing was written\n`));
    const df = fieldsOf(dry.stdout.split("\n").slice(1).join("\n"));
    assert.equal(df.get("MASTER KEY"), keyId);
    assert.equal(df.get("WOULD SEAL AGAIN"), "0");
    assert.equal(df.get("ALREADY CURRENT"), "2");
    assert.equal(df.get("FAILED"), "0");

    const done = ok(await cli(["entries", "reseal"]));
    assert.match(done.stdout, new RegExp(`^sealed 0 entries again with master key ${keyId}\n`));
    assert.equal(fieldsOf(done.stdout.split("\n").slice(1).join("\n")).get("ALREADY CURRENT"), "2");
    assert.ok(!/\n(ENTRIES SEALED AGAIN|FAILURES)\n/.test(done.stdout), "nothing listed");

    const j = JSON.parse(ok(await cli(["entries", "reseal", "--json"])).stdout) as Record<string, unknown>;
    assert.deepEqual(j, toJson(ResealConfigEntriesResponseSchema, await admin.admin.resealConfigEntries({ validateOnly: true })));
    assert.equal(j.keyId, keyId);
    assert.equal(j.current, 2);
    const dj = JSON.parse(ok(await cli(["entries", "reseal", "--dry-run", "--json"])).stdout) as Record<string, unknown>;
    assert.deepEqual(dj, j);
    assert.deepEqual((await admin.admin.getConfigEntry({ kind: ConfigEntryKind.PROVIDER, name: "vault" })).entry?.sealedWith, [keyId]);
  });

  test("an MCP server, an alias and an alert: kinds by their CLI names, the alert's URL from --url-env, never printed", async () => {
    const secretPath = ["hooks", HOOK_TOKEN].join("/");
    ok(await cli(["entries", "put", "mcp-server", "docs", "--set", `url=${hookUrl}`, "--header-env", "Authorization=MCP_AUTH", "--dry-run"], { env: { MCP_AUTH: `Bearer ${HOOK_TOKEN}` } }));
    ok(await cli(["entries", "put", "alias", "fast", "--set", "target=default"]));
    const alert = ok(await cli(["entries", "put", "alert", "ops", "--url-env", "OPS_HOOK", "--set", "events=[\"deployment_cooldown\"]"], { env: { OPS_HOOK: `${hookUrl.replace("/moderate", "")}/${secretPath}` } }));
    assert.equal(fieldsOf(alert.stdout.split("\n").slice(1).join("\n")).get("SECRETS"), "url");
    const got = (await admin.admin.getConfigEntry({ kind: ConfigEntryKind.ALERT, name: "ops" })).entry;
    assert.deepEqual([got?.spec?.url, got?.sealedWith], ["********", [keyId]]);
    const listed = ok(await cli(["entries", "list", "--kind", "aliases"]));
    assert.deepEqual(rowsOf(listed.stdout).map((r) => r.slice(0, 2)), [["alias", "fast"]]);
    const misuse = await cli(["entries", "put", "alias", "slow", "--url-env", "OPS_HOOK"], { env: { OPS_HOOK: "http://x" } });
    assert.equal(misuse.code, 2);
    assert.match(misuse.stderr, /--url-env sets an alert.s url: a alias has none/);
    ok(await cli(["entries", "delete", "alert", "ops"]));
    ok(await cli(["entries", "delete", "alias", "fast"]));
    assert.ok(!printed.join("\n").includes(secretPath), "the alert's URL was printed");
  });

  test("the webhook token and the provider key never appear in anything the CLI printed", () => {
    assert.ok(printed.length > 10);
    for (const text of printed) {
      assert.ok(!text.includes(HOOK_TOKEN), `the webhook token leaked:\n${text}`);
      assert.ok(!text.includes(UPSTREAM_KEY), `the key leaked:\n${text}`);
    }
  });
});

describe("signalbox entries reseal: failures it reports (a stand-in gateway)", () => {
  let server: http.Server;
  let url = "";
  let tmp: string;
  /** What the stand-in answers ResealConfigEntries with. */
  const answer = {
    keyId: "mk_0123456789ab",
    resealed: ["provider/groq"],
    current: 1,
    failed: [{ entry: "guardrail/mod", reason: "sealed with master key mk_ba9876543210, which this replica does not have" }],
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-entries-reseal-"));
    // Connect unary over HTTP/1.1 with the binary format, as the CLI's client sends it.
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.url !== "/signalbox.v1.AdminService/ResealConfigEntries") return void res.writeHead(404).end();
        res.writeHead(200, { "content-type": "application/proto" }).end(Buffer.from(toBinary(ResealConfigEntriesResponseSchema, create(ResealConfigEntriesResponseSchema, answer))));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((r) => server?.close(r));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("each failure with its reason, and exit 1 (--json too)", async () => {
    // Three independent runs against the stand-in: at once, checked in turn.
    const [run, dryRun, jsonRun] = await Promise.all([
      runCli(url, ["--api-key", ADMIN, "entries", "reseal"], { cwd: tmp }),
      runCli(url, ["--api-key", ADMIN, "entries", "reseal", "--dry-run"], { cwd: tmp }),
      runCli(url, ["--api-key", ADMIN, "entries", "reseal", "--json"], { cwd: tmp }),
    ]);
    const r = exited(run, 1);
    assert.match(r.stdout, /^sealed 1 entry again with master key mk_0123456789ab\n/);
    const f = fieldsOf(r.stdout.split("\n").slice(1).join("\n"));
    assert.deepEqual([f.get("SEALED AGAIN"), f.get("ALREADY CURRENT"), f.get("FAILED")], ["1", "1", "1"]);
    assert.match(r.stdout, /\nENTRIES SEALED AGAIN\n {2}provider\/groq\nFAILURES\n {2}guardrail\/mod: sealed with master key mk_ba9876543210, which this replica does not have\n$/);
    assert.match(r.stderr, /^error: 1 entry could not be sealed again: guardrail\/mod\nhint: .*SIGNALBOX_MASTER_KEY_PREVIOUS/);

    const d = exited(dryRun, 1);
    assert.match(d.stdout, /^dry run: 1 entry would be sealed again with master key mk_0123456789ab; nothing was written\n/);
    assert.match(d.stdout, /\nENTRIES TO SEAL AGAIN\n {2}provider\/groq\n/);

    const j = exited(jsonRun, 1);
    assert.deepEqual(JSON.parse(j.stdout), toJson(ResealConfigEntriesResponseSchema, create(ResealConfigEntriesResponseSchema, answer)));
  });
});
