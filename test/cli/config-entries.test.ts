// `signalbox entries …` as users run it: the built bundle in a child process against a real
// gateway started in process (auth on, an admin key), and a fake OpenAI-compatible upstream that
// records the key it is called with. A provider put with its key from an environment variable
// (never on the command line) and a deployment put with --set serve a chat request through the
// gateway with the stored key; `list` as a table, --json (the typed client's own answer through
// toJson) and --csv; `get` and its spec put back with -f (the key kept); --dry-run writes nothing;
// bad usage exits 2 with nothing sent; deleting a provider still in use is refused as other
// server errors are (exit 1, the message and code on stderr); deleting in order works. The key
// never appears in anything the CLI prints.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { parse as parseYaml } from "yaml";
import type { SignalboxClient } from "@signalbox/client";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, type CliRun } from "../helpers/cli.ts";

// The client's dist and the bundle are built first when older than their sources (`npm test`
// builds both): the client's values come from its dist, so they are imported after that.
buildCliIfStale();
const { createSignalboxClient, ConfigEntryKind, ConfigEntrySchema, ListConfigEntriesResponseSchema } = await import("@signalbox/client");
const { applySets, parseKind, parseSet } = await import("../../clients/cli/src/commands/entries.ts");

// Key-shaped strings made at run time.
const ADMIN = ["sbx", "cli", "entries", "admin", "0123456789abcdef"].join("_");
const UPSTREAM_KEY = ["sk", "test", "cli", "entries", "upstream", "0123456789abcdef"].join("-");

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
    assert.throws(() => parseKind("widget"), /"widget" is not a kind of entry: use one of provider, deployment, route/);
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
});

describe("signalbox entries against a gateway", () => {
  let gw: TestGateway;
  let fake: FakeOpenAI;
  let tmp: string;
  let admin: SignalboxClient;
  /** Everything the CLI printed, to check the upstream key never appears in it. */
  const printed: string[] = [];

  const cli = async (args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliRun> => {
    const r = await runCli(gw.url, ["--api-key", ADMIN, ...args], { cwd: tmp, ...opts });
    printed.push(r.stdout, r.stderr);
    return r;
  };
  /** A table's rows as cells (split on two or more spaces), the header row left out. */
  const rowsOf = (stdout: string) =>
    stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/ {2,}/));
  const chat = (model: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-entries-"));
    fake = await startFakeUpstream();
    gw = await startTestGateway(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/a] }
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`);
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
    const r = ok(await cli(["entries", "list"]));
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^KIND +NAME +REVISION +UPDATED +BY +SECRETS +PROBLEM\n/);
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
    assert.equal(rows[1].length, 5, "no secrets, no problem");

    const j = ok(await cli(["entries", "list", "--json"]));
    assert.deepEqual(JSON.parse(j.stdout), toJson(ListConfigEntriesResponseSchema, await admin.admin.listConfigEntries({})));
    assert.equal((JSON.parse(j.stdout) as { entries: { spec: { api_key?: string } }[] }).entries[0].spec.api_key, "********");

    const c = ok(await cli(["entries", "list", "--csv", "--kind", "provider"]));
    const lines = c.stdout.trimEnd().split("\r\n");
    assert.equal(lines[0], "kind,name,revision,updated,by,secrets,problem");
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^provider,acme,1,\d{4}-\d\d-\d\dT[\d:.]+Z,root,api_key,$/);
    assert.match(ok(await cli(["entries", "list", "--kind", "route"])).stdout, /^no config entries made at run time\n$/);
  });

  test("get: the entry and its spec; the spec put back with -f keeps the stored key", async () => {
    const g = ok(await cli(["entries", "get", "provider", "acme"]));
    const f = fieldsOf(g.stdout);
    assert.equal(f.get("KIND"), "provider");
    assert.equal(f.get("NAME"), "acme");
    assert.equal(f.get("REVISION"), "1");
    assert.equal(f.get("SECRETS"), "api_key");
    assert.match(f.get("CREATED") ?? "", /Z by root$/);
    assert.match(g.stdout, /\nSPEC\n {2}type: openai\n/);
    assert.match(g.stdout, /\n {2}api_key: "\*{8}"\n/);

    const j = ok(await cli(["entries", "get", "provider", "acme", "--json"]));
    const entry = (await admin.admin.listConfigEntries({ kind: ConfigEntryKind.PROVIDER })).entries[0];
    assert.deepEqual(JSON.parse(j.stdout), toJson(ConfigEntrySchema, entry));

    const s = ok(await cli(["entries", "get", "provider", "acme", "--spec"]));
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
    const none = exited(await cli(["entries", "get", "route", "nope"]), 1);
    assert.match(none.stderr, /^error: no route "nope" was made at run time\n/);
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
      [["entries", "list", "--kind", "widget"], /"widget" is not a kind of entry: use one of provider, deployment, route/],
      [["entries", "put", "widget", "x", "--set", "a=1"], /"widget" is not a kind of entry/],
      [["entries", "put", "provider", "p2", "--set", "type"], /"type" is not a field: use --set <field>=<value>/],
      [["entries", "put", "provider", "p2", "--set", "type=openai", "--api-key-env", "P2_KEY", "--api-key-stdin"], /--api-key-env and --api-key-stdin cannot be used together/, { env: { P2_KEY: UPSTREAM_KEY }, stdin: UPSTREAM_KEY }],
      [["entries", "put", "provider", "p2", "--set", "type=openai", "--api-key-env", "SIGNALBOX_CLI_TEST_UNSET_VAR"], /--api-key-env SIGNALBOX_CLI_TEST_UNSET_VAR: the environment variable is not set/],
      [["entries", "put", "deployment", "d2", "--set", "provider=acme", "--api-key-env", "P2_KEY"], /set a provider's api_key: a deployment has none/, { env: { P2_KEY: UPSTREAM_KEY } }],
      [["entries", "put", "route", "r2"], /error: no spec/],
      [["entries", "put", "route", "r2", "-f", "missing.yaml"], /-f missing.yaml: no such file/],
      [["entries", "delete", "provider"], /missing required argument 'name'/],
    ];
    for (const [args, message, opts] of cases) {
      const r = exited(await cli(args, opts), 2, args.join(" "));
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

  test("the upstream key never appears in anything the CLI printed", () => {
    assert.ok(printed.length > 20);
    for (const text of printed) assert.ok(!text.includes(UPSTREAM_KEY), `the key leaked:\n${text}`);
  });
});
