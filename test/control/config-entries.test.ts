// Providers, deployments and routes made at run time (AdminService.PutConfigEntry): checked as the
// config file's are (errors name the field under `spec`), in force at once without a reload, their
// credentials never returned, logged or audited, sealed at rest with SIGNALBOX_MASTER_KEY, kept
// across restarts and a config reload, and on every replica within a second (PostgreSQL).
// Requests go over real HTTP, through the `openai` SDK and @signalbox/client, to a fake OpenAI
// upstream that refuses any key but the one stored at run time.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConnectError, Code } from "@connectrpc/connect";
import OpenAI from "openai";
import pg from "pg";
import { parse } from "yaml";
import { toJson } from "@bufbuild/protobuf";
import { createSignalboxClient, ConfigEntryKind, KeyRole, ListAuditEventsResponseSchema, type SignalboxClient } from "@signalbox/client";
import { buildConfig, extendConfig, type RuntimeEntry } from "../../src/config/load.ts";
import { createSealer, REDACTED, carrySecrets } from "../../src/control/sealed.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startPostgresReplicas } from "../helpers/postgres.ts";

// Key-shaped strings made at run time.
const UPSTREAM_KEY = ["sk", "test", "entries", "upstream", "0123456789abcdef"].join("-");
const ADMIN = ["sbx", "entries", "admin"].join("_");
const TEAM = ["sbx", "entries", "team"].join("_");
const MASTER = ["master", "key", "for", "the", "entries", "test", "0123456789"].join("-");

const FILE = (extra = "") => `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/a] }
${extra}
`;
const KEYS = `
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: builders, hash: "${hashKey(TEAM)}", team: build, role: team }
`;

const P = ConfigEntryKind.PROVIDER;
const D = ConfigEntryKind.DEPLOYMENT;
const R = ConfigEntryKind.ROUTE;

async function refused(p: Promise<unknown>, code: Code, text: RegExp): Promise<ConnectError> {
  const err = await p.then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => ConnectError.from(e),
  );
  assert.equal(err.code, code, err.message);
  assert.match(err.rawMessage, text);
  return err;
}

describe("extendConfig: entries checked as the file's are", () => {
  const base = buildConfig(parse(FILE()), {});
  const entry = (kind: RuntimeEntry["kind"], name: string, spec: Record<string, unknown>): RuntimeEntry => ({ kind, name, spec });

  test("an entry's errors name the field under spec; the rest stay in force", () => {
    const { config, problems } = extendConfig(base, [
      entry("provider", "acme", { type: "openai", base_url: "http://127.0.0.1:1/v1", api_key: "x" }),
      entry("deployment", "acme/gpt", { provider: "acme", model: "gpt-4o" }),
      entry("deployment", "bad/one", { provider: "nope", model: "gpt-4o" }),
      entry("deployment", "bad/two", { provider: "acme", model: "unknown-model" }),
      entry("provider", "typo", { type: "openai", base_url: "http://x", api_key: "x", colour: "red" }),
      entry("route", "mine", { targets: ["acme/gpt"], fallbacks: ["default"] }),
    ]);
    assert.deepEqual(config.providers.map((p) => p.name), ["mock", "acme"]);
    assert.deepEqual(config.deployments.map((d) => d.id), ["mock/a", "acme/gpt"]);
    assert.deepEqual(config.routes.map((r) => r.name), ["default", "mine"]);
    assert.equal(problems.get("deployment/bad/one")?.path, "spec.provider");
    assert.equal(problems.get("deployment/bad/two")?.path, "spec.pricing");
    assert.equal(problems.get("provider/typo")?.path, "spec.colour");
    // Priced from the catalog, defaults filled as for the file's.
    assert.equal(config.deployments[1].contextWindow, 128_000);
  });

  test("the file's names are never shadowed, a name field must agree, and loops of routes are refused", () => {
    const { problems } = extendConfig(base, [
      entry("provider", "mock", { type: "mock" }),
      entry("deployment", "default", { provider: "mock", model: "m" }),
      entry("route", "r1", { strategy: "task", targets: ["mock/a"], task_routes: { coding: "r2" } }),
      entry("route", "r2", { strategy: "task", targets: ["mock/a"], task_routes: { coding: "r1" } }),
      entry("route", "r3", { name: "other", targets: ["mock/a"] }),
    ]);
    assert.match(problems.get("provider/mock")!.message, /defined in the config file/);
    assert.match(problems.get("deployment/default")!.message, /defined in the config file/);
    assert.match(problems.get("route/r1")!.message, /cycle: r1 -> r2 -> r1/);
    assert.equal(problems.has("route/r2"), false);
    assert.equal(problems.get("route/r3")?.path, "spec.name");
  });

  test("a wildcard deployment made at run time serves the models a runtime route names", () => {
    const { config, problems } = extendConfig(base, [entry("deployment", "mockx/*", { provider: "mock", model: "*" }), entry("route", "wild", { targets: ["mockx/one"] })]);
    assert.equal(problems.size, 0, [...problems.values()].join("; "));
    assert.ok(config.deployments.some((d) => d.id === "mockx/one"));
    assert.ok(config.wildcards?.some((w) => w.id === "mockx/*"));
  });
});

describe("sealed credentials", () => {
  test("sealed for one place, opened only there and only with the same key", () => {
    const s = createSealer(MASTER);
    const sealed = s.seal(UPSTREAM_KEY, "provider/acme#api_key");
    assert.ok(!sealed.includes(UPSTREAM_KEY) && sealed.startsWith("sealed:v1:"));
    assert.notEqual(s.seal(UPSTREAM_KEY, "provider/acme#api_key"), sealed, "a fresh nonce each time");
    assert.equal(s.open(sealed, "provider/acme#api_key"), UPSTREAM_KEY);
    assert.throws(() => s.open(sealed, "provider/other#api_key"), /do not open/);
    assert.throws(() => createSealer(`${MASTER}-other`).open(sealed, "provider/acme#api_key"), /do not open/);
    assert.throws(() => createSealer(undefined).open(sealed, "provider/acme#api_key"), /no SIGNALBOX_MASTER_KEY/);
    assert.throws(() => createSealer("short"), /at least 32 characters/);
  });

  test("a replace keeps the credentials it leaves out or redacts, and drops an emptied one", () => {
    const prev = { type: "openai", api_key: "k1", headers: { "x-org": "o1", "x-a": "a" } };
    const next = carrySecrets("provider", { type: "openai", headers: { "x-org": REDACTED, "x-a": "" } }, prev);
    assert.deepEqual(next, { type: "openai", api_key: "k1", headers: { "x-org": "o1" } });
    assert.throws(() => carrySecrets("provider", { type: "openai", api_key: REDACTED }, undefined), /there is none to keep/);
  });
});

describe("config entries on one gateway (memory store)", () => {
  let fake: FakeOpenAI;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let dir: string;
  const logs: string[] = [];
  before(async () => {
    setLogSink((line) => logs.push(line));
    fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
    dir = mkdtempSync(join(tmpdir(), "entries-"));
    writeFileSync(join(dir, "config.yaml"), FILE(KEYS));
    gw = await startTestGateway(FILE(KEYS), { configPath: join(dir, "config.yaml") });
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN });
  });
  after(async () => {
    await gw?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
    setLogSink((line) => process.stdout.write(`${line}\n`));
  });

  const sdk = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ADMIN, maxRetries: 0 });

  test("a provider and a deployment added at run time serve requests at once, with the stored key", async () => {
    const checked = await admin.admin.putConfigEntry({ kind: P, name: "acme", spec: { type: "openai", base_url: `${fake.url}`, api_key: UPSTREAM_KEY }, validateOnly: true });
    assert.deepEqual(checked.changes, ["provider added: acme"]);
    assert.equal((await admin.admin.listConfigEntries({})).entries.length, 0, "validate_only writes nothing");
    const before = gw.gw.configVersion;
    const made = await admin.admin.putConfigEntry({ kind: P, name: "acme", spec: { type: "openai", base_url: `${fake.url}`, api_key: UPSTREAM_KEY, timeouts: { connect_ms: 1000 } } });
    assert.equal(made.entry?.spec?.api_key, REDACTED);
    assert.deepEqual(made.entry?.secretFields, ["api_key"]);
    assert.equal(made.entry?.revision, 1n);
    assert.notEqual(made.configVersion, before);
    await admin.admin.putConfigEntry({ kind: D, name: "acme/gpt-4o", spec: { provider: "acme", model: "gpt-4o", context_window: 64000 } });
    fake.script({ kind: "text", text: "from the runtime deployment" });
    const answer = await sdk().chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] });
    assert.equal(answer.choices[0].message.content, "from the runtime deployment");
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const models = await sdk().models.list();
    assert.ok(models.data.some((m) => m.id === "acme/gpt-4o"), "listed with the file's models");
  });

  test("bad entries are refused naming the field, and nothing reaches a provider", async () => {
    const sent = fake.requests.length;
    await refused(admin.admin.putConfigEntry({ kind: D, name: "x/y", spec: { provider: "nope", model: "gpt-4o" } }), Code.InvalidArgument, /^spec\.provider: unknown provider "nope"/);
    await refused(admin.admin.putConfigEntry({ kind: P, name: "Bad Name", spec: { type: "openai", api_key: "k" } }), Code.InvalidArgument, /^name: /);
    await refused(admin.admin.putConfigEntry({ kind: P, name: "mock", spec: { type: "mock" } }), Code.InvalidArgument, /defined in the config file/);
    await refused(admin.admin.putConfigEntry({ kind: P, name: "acme2", spec: { type: "openai", base_url: "ftp://x" , api_key: "k"} }), Code.InvalidArgument, /^spec\.base_url: /);
    await refused(admin.admin.putConfigEntry({ kind: ConfigEntryKind.UNSPECIFIED, name: "x", spec: {} }), Code.InvalidArgument, /^kind: /);
    await refused(admin.admin.putConfigEntry({ kind: R, name: "r", spec: { targets: ["mock/a"], guardrails: ["none-such"] } }), Code.InvalidArgument, /^spec\.guardrails\[0\]: unknown guardrail/);
    const team = createSignalboxClient({ baseUrl: gw.url, apiKey: TEAM });
    await refused(team.admin.putConfigEntry({ kind: P, name: "t", spec: { type: "mock" } }), Code.PermissionDenied, /needs an admin key/);
    await refused(team.admin.listConfigEntries({}), Code.PermissionDenied, /needs an admin key/);
    assert.equal(fake.requests.length, sent);
    assert.deepEqual((await admin.admin.listConfigEntries({})).entries.map((e) => e.name), ["acme", "acme/gpt-4o"]);
  });

  test("a replace keeps the stored key, revisions guard concurrent changes, and routes name runtime deployments", async () => {
    const entry = (await admin.admin.listConfigEntries({ kind: P })).entries.find((e) => e.name === "acme")!;
    await refused(admin.admin.putConfigEntry({ kind: P, name: "acme", spec: { type: "openai", base_url: fake.url }, expectedRevision: 7n }), Code.Aborted, /^expected_revision: provider "acme" is at revision 1, not 7/);
    await refused(admin.admin.putConfigEntry({ kind: P, name: "new-one", spec: { type: "mock" }, expectedRevision: 1n }), Code.Aborted, /is at revision 0/);
    const r = await admin.admin.putConfigEntry({ kind: P, name: "acme", spec: { ...(entry.spec as object), headers: { "x-team": "gw" } }, expectedRevision: entry.revision });
    assert.equal(r.entry?.revision, 2n);
    assert.deepEqual(r.changes, ["provider changed: acme"]);
    assert.deepEqual(r.entry?.secretFields, ["api_key", "headers.x-team"]);
    await admin.admin.putConfigEntry({ kind: R, name: "smart", spec: { targets: ["acme/gpt-4o"], fallbacks: ["default"], retry: { max_retries: 0 } } });
    fake.script({ kind: "text", text: "via the runtime route" });
    const answer = await sdk().chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    assert.equal(answer.choices[0].message.content, "via the runtime route");
    const last = fake.requests.at(-1)!;
    assert.equal(last.headers.authorization, `Bearer ${UPSTREAM_KEY}`, "the key kept through the replace");
    assert.equal(last.headers["x-team"], "gw");
    // The upstream failing: the runtime route falls back to the file's route.
    fake.script({ kind: "error", error: "server_error" });
    const fell = await sdk().chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    assert.equal((fell as unknown as { signalbox: { deployment: string } }).signalbox.deployment, "mock/a");
  });

  test("deletes are refused while anything names the entry", async () => {
    await refused(admin.admin.deleteConfigEntry({ kind: P, name: "acme" }), Code.FailedPrecondition, /deployment\/acme\/gpt-4o out of force/);
    await refused(admin.admin.deleteConfigEntry({ kind: D, name: "acme/gpt-4o" }), Code.FailedPrecondition, /route\/smart out of force/);
    await refused(admin.admin.deleteConfigEntry({ kind: D, name: "mock/a" }), Code.NotFound, /config file are changed there/);
    const made = await admin.admin.createKey({ key: { name: "narrow", team: "build", role: KeyRole.SERVICE, allow: ["smart"] } });
    assert.ok(made.secret);
    await refused(admin.admin.deleteConfigEntry({ kind: R, name: "smart" }), Code.FailedPrecondition, /allow list of key "narrow"/);
    await admin.admin.revokeKey({ name: "narrow" });
  });

  test("a reload keeps the entries; a file that now defines the same name wins, and says so", async () => {
    writeFileSync(join(dir, "config.yaml"), FILE(`${KEYS}\n  # reloaded`));
    const same = await admin.admin.reloadConfig({});
    assert.deepEqual(same.changes, []);
    assert.ok((await sdk().models.list()).data.some((m) => m.id === "acme/gpt-4o"));
    writeFileSync(join(dir, "config.yaml"), FILE(KEYS).replace("routes:", "  - { id: other/x, provider: mock, model: mock-x, pricing: { input: 1, output: 1 } }\nroutes:\n  - { name: smart, targets: [mock/a] }"));
    const r = await admin.admin.reloadConfig({});
    assert.ok(r.changes.includes("route changed: smart"), r.changes.join("; "));
    assert.ok(r.changes.some((c) => /^route\/smart \(made at run time\) not in force: name: .*defined in the config file/.test(c)), r.changes.join("; "));
    const listed = (await admin.admin.listConfigEntries({ kind: R })).entries;
    assert.match(listed[0].problem, /defined in the config file/);
    writeFileSync(join(dir, "config.yaml"), FILE(KEYS));
    await admin.admin.reloadConfig({});
    assert.equal((await admin.admin.listConfigEntries({ kind: R })).entries[0].problem, "");
  });

  test("the key never appears in responses, the audit log or the logs; deletes work in order", async () => {
    const audit = await admin.admin.listAuditEvents({ target: "provider/acme" });
    assert.deepEqual(audit.events.map((e) => e.action), ["config_entry.update", "config_entry.create"]);
    assert.equal((audit.events[1].after?.spec as Record<string, unknown>).api_key, REDACTED);
    await admin.admin.deleteConfigEntry({ kind: R, name: "smart" });
    await admin.admin.deleteConfigEntry({ kind: D, name: "acme/gpt-4o" });
    const gone = await admin.admin.deleteConfigEntry({ kind: P, name: "acme", expectedRevision: 2n });
    assert.deepEqual(gone.changes, ["provider removed: acme"]);
    const err = await sdk().chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] }).then(
      () => assert.fail("the deployment is gone"),
      (e: { status: number }) => e,
    );
    assert.equal(err.status, 404);
    const everything = JSON.stringify(toJson(ListAuditEventsResponseSchema, await admin.admin.listAuditEvents({}))) + logs.join("\n");
    assert.ok(!everything.includes(UPSTREAM_KEY), "the upstream key leaked");
    assert.ok(logs.some((l) => l.includes("config entry saved")));
  });
});

describe("config entries on PostgreSQL, two replicas", () => {
  let rig: Awaited<ReturnType<typeof startPostgresReplicas>>;
  let A: TestGateway;
  let B: TestGateway;
  let fake: FakeOpenAI;
  let dbUrl = "";
  const saved = process.env.SIGNALBOX_MASTER_KEY;
  before(async () => {
    process.env.SIGNALBOX_MASTER_KEY = MASTER;
    rig = await startPostgresReplicas("config_entries", (_openai, url) => {
      dbUrl = url;
      return FILE(`store: { postgres_url: "${url}" }\n${KEYS}`);
    });
    if (rig) [A, B] = rig.replicas;
    fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
  });
  after(async () => {
    if (rig) rig.replicas[1] = B;
    await rig?.close();
    await fake?.close();
    if (saved === undefined) delete process.env.SIGNALBOX_MASTER_KEY;
    else process.env.SIGNALBOX_MASTER_KEY = saved;
  });

  test("made on A, in force on B within a second, sealed at rest, and still there after B restarts", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const a = createSignalboxClient({ baseUrl: A.url, apiKey: ADMIN });
    await a.admin.putConfigEntry({ kind: P, name: "acme", spec: { type: "openai", base_url: fake.url, api_key: UPSTREAM_KEY } });
    await a.admin.putConfigEntry({ kind: D, name: "acme/gpt-4o", spec: { provider: "acme", model: "gpt-4o" } });
    const onB = new OpenAI({ baseURL: `${B.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    const deadline = Date.now() + 1000;
    while (!(await onB.models.list()).data.some((m) => m.id === "acme/gpt-4o")) {
      assert.ok(Date.now() < deadline, "not on B within a second");
      await new Promise((r) => setTimeout(r, 20));
    }
    fake.script({ kind: "text", text: "B served it" });
    assert.equal((await onB.chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] })).choices[0].message.content, "B served it");
    // At rest: sealed, never the key.
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    const rows = (await c.query("SELECT spec::text AS spec FROM signalbox_config_entries WHERE kind = 'provider'")).rows;
    const audit = (await c.query("SELECT coalesce(before::text, '') || coalesce(after::text, '') AS t FROM signalbox_audit")).rows.map((r) => r.t).join("\n");
    await c.end();
    assert.match(rows[0].spec, /"api_key": "sealed:v1:/);
    assert.ok(!rows[0].spec.includes(UPSTREAM_KEY) && !audit.includes(UPSTREAM_KEY));
    // B restarts: the entries come back from the store.
    await B.close();
    B = await startTestGateway(rig.config);
    fake.script({ kind: "text", text: "after the restart" });
    const again = new OpenAI({ baseURL: `${B.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    assert.equal((await again.chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] })).choices[0].message.content, "after the restart");
  });

  test("a replica with another master key leaves the provider out and says why; none at all cannot store keys", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const other = await startTestGateway(rig.config, { masterKey: `${MASTER}-rotated` });
    try {
      const listed = (await createSignalboxClient({ baseUrl: other.url, apiKey: ADMIN }).admin.listConfigEntries({})).entries;
      assert.match(listed.find((e) => e.name === "acme")!.problem, /do not open with this replica's SIGNALBOX_MASTER_KEY/);
      assert.match(listed.find((e) => e.name === "acme/gpt-4o")!.problem, /unknown provider "acme"/);
      const sdk = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
      assert.ok(!(await sdk.models.list()).data.some((m) => m.id === "acme/gpt-4o"));
    } finally {
      await other.close();
    }
    const none = await startTestGateway(rig.config, { masterKey: "" });
    try {
      const c = createSignalboxClient({ baseUrl: none.url, apiKey: ADMIN });
      await refused(c.admin.putConfigEntry({ kind: P, name: "plain", spec: { type: "openai", base_url: fake.url, api_key: UPSTREAM_KEY } }), Code.FailedPrecondition, /no SIGNALBOX_MASTER_KEY/);
      // Without credentials an entry needs no key.
      await c.admin.putConfigEntry({ kind: P, name: "local", spec: { type: "openai-compatible", base_url: fake.url } });
      await c.admin.deleteConfigEntry({ kind: P, name: "local" });
    } finally {
      await none.close();
    }
  });
});
