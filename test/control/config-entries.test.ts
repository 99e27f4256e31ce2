// Providers, deployments, routes and guardrails made at run time (AdminService.PutConfigEntry):
// checked as the config file's are (errors name the field under `spec`), in force at once without a
// reload, their credentials never returned, logged or audited, sealed at rest with
// SIGNALBOX_MASTER_KEY (and sealed again with a new one: ResealConfigEntries), kept across restarts
// and a config reload, and on every replica within a second (PostgreSQL).
// Requests go over real HTTP, through the `openai` SDK and @signalbox/client, to a fake OpenAI
// upstream that refuses any key but the one stored at run time.

import assert from "node:assert/strict";
import { createCipheriv, hkdfSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
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
import { createSealer, masterKeyId, REDACTED, carrySecrets, parsePreviousKeys, redactSpec, secretPaths } from "../../src/control/sealed.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startFakeMcp } from "../helpers/fake-mcp.ts";
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
const G = ConfigEntryKind.GUARDRAIL;
const M = ConfigEntryKind.MCP_SERVER;
const A = ConfigEntryKind.ALIAS;
const AL = ConfigEntryKind.ALERT;
const NEXT_MASTER = ["next", "master", "key", "for", "the", "entries", "test", "0123456789"].join("-");
const HOOK_TOKEN = ["hook", "token", "0123456789abcdef"].join("-");

/** What the first version of the sealer wrote (no key id): still opened, and sealed again by a reseal. */
function sealV1(plain: string, bound: string, master: string): string {
  const key = Buffer.from(hkdfSync("sha256", master, "signalbox", "config-entry-secrets", 32));
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(bound, "utf8"));
  const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
  return `sealed:v1:${Buffer.concat([iv, body, c.getAuthTag()]).toString("base64url")}`;
}

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

  test("routes made at run time may name aliases made at run time; one naming an alias that fails fails too; a loop through an alias is refused", () => {
    const ok = extendConfig(base, [entry("alias", "quick", { target: "mock/a" }), entry("route", "chat2", { targets: ["mock/a"], fallbacks: ["quick"] })]);
    assert.deepEqual([...ok.problems.keys()], []);
    assert.deepEqual(ok.config.routes.find((r) => r.name === "chat2")?.fallbacks, ["quick"]);
    assert.equal(ok.config.aliases.quick, "mock/a");
    // The alias fails (its target does not exist): the route that names it fails with it, saying why.
    const lost = extendConfig(base, [entry("alias", "quick", { target: "nope" }), entry("route", "chat2", { targets: ["mock/a"], fallbacks: ["quick"] })]);
    assert.match(lost.problems.get("alias/quick")!.message, /unknown route or deployment "nope"/);
    assert.match(lost.problems.get("route/chat2")!.message, /names alias "quick", which is not in force \(.*unknown route or deployment "nope"\)/);
    assert.equal(lost.config.routes.some((r) => r.name === "chat2"), false);
    // A loop: a route's condition sends to an alias of the same route.
    const loop = extendConfig(base, [entry("alias", "back", { target: "spin" }), entry("route", "spin", { targets: ["mock/a"], conditions: [{ when: { team: ["a"] }, target: "back" }] })]);
    assert.match(loop.problems.get("route/spin")!.message, /cycle/);
    // ...and the alias that named the refused route is out too.
    assert.match(loop.problems.get("alias/back")!.message, /unknown route or deployment "spin"/);
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
    // Between runtime entries: the second to claim a name is told whose it is.
    const clash = extendConfig(base, [entry("deployment", "twin", { provider: "mock", model: "m" }), entry("route", "twin", { targets: ["mock/a"] }), entry("alias", "twin", { target: "mock/a" })]).problems;
    assert.equal(clash.has("deployment/twin"), false);
    assert.match(clash.get("route/twin")!.message, /"twin" is already a deployment, route or alias made at run time/);
    assert.match(clash.get("alias/twin")!.message, /"twin" is already a deployment, route or alias made at run time/);
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
    const id = masterKeyId(MASTER);
    assert.match(id, /^mk_[0-9a-f]{12}$/);
    assert.equal(s.keyId, id);
    assert.ok(!sealed.includes(UPSTREAM_KEY) && sealed.startsWith(`sealed:v2:${id}:`));
    assert.notEqual(s.seal(UPSTREAM_KEY, "provider/acme#api_key"), sealed, "a fresh nonce each time");
    assert.equal(s.open(sealed, "provider/acme#api_key"), UPSTREAM_KEY);
    assert.equal(s.keyOf(sealed, "provider/acme#api_key"), id);
    assert.throws(() => s.open(sealed, "provider/other#api_key"), /do not open with master key mk_/);
    assert.throws(() => createSealer(`${MASTER}-other`).open(sealed, "provider/acme#api_key"), new RegExp(`sealed with master key ${id}, which this replica does not have`));
    assert.throws(() => createSealer(undefined).open(sealed, "provider/acme#api_key"), /no SIGNALBOX_MASTER_KEY/);
    assert.throws(() => createSealer("short"), /at least 32 characters/);
    assert.throws(() => createSealer(MASTER, ["short"]), /every key of SIGNALBOX_MASTER_KEY_PREVIOUS must be at least 32/);
    assert.throws(() => createSealer(undefined, [MASTER]), /SIGNALBOX_MASTER_KEY_PREVIOUS is set without SIGNALBOX_MASTER_KEY/);
  });

  test("a rotation: the new key seals, the previous one still opens, and first-version values open with either", () => {
    const old = createSealer(MASTER);
    const rotated = createSealer(NEXT_MASTER, parsePreviousKeys(` ${MASTER},\n`));
    const underOld = old.seal(UPSTREAM_KEY, "provider/acme#api_key");
    assert.equal(rotated.open(underOld, "provider/acme#api_key"), UPSTREAM_KEY);
    assert.equal(rotated.keyOf(underOld, "provider/acme#api_key"), masterKeyId(MASTER));
    const underNew = rotated.seal(UPSTREAM_KEY, "provider/acme#api_key");
    assert.ok(underNew.startsWith(`sealed:v2:${masterKeyId(NEXT_MASTER)}:`), "the current key seals");
    assert.throws(() => old.open(underNew, "provider/acme#api_key"), /which this replica does not have/);
    const v1 = sealV1(UPSTREAM_KEY, "provider/acme#api_key", MASTER);
    assert.equal(old.open(v1, "provider/acme#api_key"), UPSTREAM_KEY);
    assert.equal(rotated.open(v1, "provider/acme#api_key"), UPSTREAM_KEY);
    assert.equal(rotated.keyOf(v1, "provider/acme#api_key"), masterKeyId(MASTER));
    assert.throws(() => createSealer(NEXT_MASTER).open(v1, "provider/acme#api_key"), /open with none of this replica's master keys/);
  });

  test("a webhook guardrail's headers are credentials too, whatever their names hold", () => {
    const spec = { kind: "webhook", action: "block", webhook: { url: "http://h/x", headers: { authorization: "Bearer t", "x.dotted": "v" } } };
    assert.deepEqual(secretPaths("guardrail", spec), ["webhook.headers.authorization", "webhook.headers.x.dotted"]);
    assert.deepEqual(redactSpec("guardrail", spec), { ...spec, webhook: { url: "http://h/x", headers: { authorization: REDACTED, "x.dotted": REDACTED } } });
    assert.equal(spec.webhook.headers.authorization, "Bearer t", "the original is left alone");
    const kept = carrySecrets("guardrail", { kind: "webhook", action: "flag", webhook: { url: "http://h/y", headers: { authorization: REDACTED, "x.dotted": "" } } }, spec);
    assert.deepEqual(kept.webhook, { url: "http://h/y", headers: { authorization: "Bearer t" } });
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

describe("guardrails made at run time (memory store)", () => {
  let fake: FakeOpenAI;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let hook: http.Server;
  let hookUrl = "";
  const seen: { text: string; authorization?: string }[] = [];
  const logs: string[] = [];
  before(async () => {
    setLogSink((line) => logs.push(line));
    fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
    // A moderation service that wants its token and refuses any text with "forbidden".
    hook = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const { text } = JSON.parse(raw) as { text: string };
        seen.push({ text, authorization: req.headers.authorization });
        if (req.headers.authorization !== `Bearer ${HOOK_TOKEN}`) return void res.writeHead(401).end();
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(text.includes("forbidden") ? { allow: false, category: "policy" } : { allow: true }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/moderate`;
    gw = await startTestGateway(FILE(`${KEYS}\nguardrails:\n  - { name: file-words, kind: deny, action: block, deny: { words: [verboten] } }`), { masterKey: MASTER });
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN });
    await admin.admin.putConfigEntry({ kind: P, name: "acme", spec: { type: "openai", base_url: fake.url, api_key: UPSTREAM_KEY } });
    await admin.admin.putConfigEntry({ kind: D, name: "acme/gpt-4o", spec: { provider: "acme", model: "gpt-4o" } });
  });
  after(async () => {
    await gw?.close();
    await fake?.close();
    await new Promise((r) => hook?.close(r));
    setLogSink((line) => process.stdout.write(`${line}\n`));
  });

  const ask = (model: string, text: string, extra: Record<string, unknown> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: text }], ...extra }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string; message: string }; choices?: { message: { content: string } }[] } }));

  test("a guardrail added at run time guards a runtime route at once; its webhook token is sealed, sent, and never shown", async () => {
    await refused(admin.admin.putConfigEntry({ kind: G, name: "mod", spec: { kind: "webhook", action: "redact", webhook: { url: hookUrl } } }), Code.InvalidArgument, /^spec\.action: kind webhook finds no span/);
    await refused(admin.admin.putConfigEntry({ kind: G, name: "file-words", spec: { kind: "deny", action: "block", deny: { words: ["x"] } } }), Code.InvalidArgument, /^name: .*defined in the config file/);
    await refused(admin.admin.putConfigEntry({ kind: G, name: "bad-re", spec: { kind: "deny", action: "block", deny: { patterns: ["(unclosed"] } } }), Code.InvalidArgument, /^spec\.deny: deny pattern "\(unclosed": /);
    const made = await admin.admin.putConfigEntry({ kind: G, name: "mod", spec: { kind: "webhook", action: "block", webhook: { url: hookUrl, headers: { authorization: `Bearer ${HOOK_TOKEN}` } } } });
    assert.deepEqual(made.changes, ["guardrail added: mod"]);
    assert.deepEqual(made.entry?.secretFields, ["webhook.headers.authorization"]);
    assert.deepEqual(made.entry?.sealedWith, [masterKeyId(MASTER)]);
    assert.equal(((made.entry?.spec?.webhook as Record<string, unknown>).headers as Record<string, unknown>).authorization, REDACTED);
    await admin.admin.putConfigEntry({ kind: R, name: "guarded", spec: { targets: ["acme/gpt-4o"], guardrails: ["mod", "file-words"], retry: { max_retries: 0 } } });

    const sent = fake.requests.length;
    const blocked = await ask("guarded", "something forbidden");
    assert.equal(blocked.status, 400);
    assert.equal(blocked.body.error?.code, "guardrail_blocked");
    assert.match(blocked.body.error!.message, /guardrail "mod" blocked the request/);
    assert.deepEqual(seen.at(-1), { text: "something forbidden", authorization: `Bearer ${HOOK_TOKEN}` });
    assert.equal((await ask("guarded", "this is verboten")).body.error?.code, "guardrail_blocked", "the file's guardrail on the same route");
    assert.equal(fake.requests.length, sent, "nothing blocked reached the provider");
    fake.script({ kind: "text", text: "allowed through" });
    const fine = await ask("guarded", "a fine question");
    assert.equal(fine.status, 200);
    assert.equal(fine.body.choices?.[0].message.content, "allowed through");
    // Named per request too, on a route that does not attach it.
    assert.equal((await ask("acme/gpt-4o", "forbidden again", { signalbox: { guardrails: ["mod"] } })).body.error?.code, "guardrail_blocked");

    // A replace that leaves the header redacted keeps the token; one that drops it fails closed.
    await admin.admin.putConfigEntry({ kind: G, name: "mod", spec: { kind: "webhook", action: "flag", webhook: { url: hookUrl, headers: { authorization: REDACTED } } } });
    fake.script({ kind: "text", text: "flagged, not blocked" });
    assert.equal((await ask("guarded", "forbidden but flagged")).body.choices?.[0].message.content, "flagged, not blocked");
    assert.equal(seen.at(-1)?.authorization, `Bearer ${HOOK_TOKEN}`);

    const got = await admin.admin.getConfigEntry({ kind: G, name: "mod" });
    assert.equal(got.entry?.revision, 2n);
    assert.equal(got.entry?.problem, "");
    await refused(admin.admin.getConfigEntry({ kind: G, name: "none-such" }), Code.NotFound, /^name: no guardrail "none-such"/);
    await refused(createSignalboxClient({ baseUrl: gw.url, apiKey: TEAM }).admin.getConfigEntry({ kind: G, name: "mod" }), Code.PermissionDenied, /needs an admin key/);
    await refused(admin.admin.deleteConfigEntry({ kind: G, name: "mod" }), Code.FailedPrecondition, /route\/guarded out of force \(spec\.guardrails\[0\]: unknown guardrail "mod"/);
    await admin.admin.deleteConfigEntry({ kind: R, name: "guarded" });
    const gone = await admin.admin.deleteConfigEntry({ kind: G, name: "mod" });
    assert.deepEqual(gone.changes, ["guardrail removed: mod"]);

    const everything = JSON.stringify(toJson(ListAuditEventsResponseSchema, await admin.admin.listAuditEvents({}))) + logs.join("\n");
    assert.ok(everything.includes("guardrail/mod"), "audited");
    assert.ok(!everything.includes(HOOK_TOKEN) && !everything.includes(UPSTREAM_KEY), "a credential leaked");
  });

  test("an MCP server added at run time: its header sealed and sent, listed with its tools, a local command refused, kept while a key allows it", async () => {
    const docs = await startFakeMcp("docs");
    try {
      await refused(admin.admin.putConfigEntry({ kind: M, name: "local", spec: { command: "/bin/sh", args: ["-c", "id"] } }), Code.InvalidArgument, /^spec\.command: a local MCP server runs a program on the gateway's host/);
      await refused(admin.admin.putConfigEntry({ kind: M, name: "docs", spec: { url: docs.url, guardrails: ["none-such"] } }), Code.InvalidArgument, /^spec\.guardrails\[0\]: unknown guardrail "none-such"/);
      await refused(admin.admin.putConfigEntry({ kind: M, name: "docs", spec: { description: "no url" } }), Code.InvalidArgument, /^spec: needs url/);
      const made = await admin.admin.putConfigEntry({ kind: M, name: "docs", spec: { url: docs.url, headers: { Authorization: `Bearer ${HOOK_TOKEN}` }, tools: ["echo", "whoami"], guardrails: ["file-words"] } });
      assert.deepEqual(made.changes, ["mcp server added: docs"]);
      assert.deepEqual(made.entry?.secretFields, ["headers.Authorization"]);
      const listed = await admin.route.listMcpServers({ includeTools: true });
      const server = listed.servers.find((x) => x.id === "docs")!;
      assert.equal(server.error, "");
      assert.deepEqual(server.tools.map((x) => x.name).sort(), ["echo", "whoami"]);
      assert.ok(docs.authorizations.length > 0 && docs.authorizations.every((a) => a === `Bearer ${HOOK_TOKEN}`), "the stored header went to the server");
      // A managed key allowed one of its tools keeps it from being deleted.
      await admin.admin.createKey({ key: { name: "docs-only", team: "build", role: KeyRole.SERVICE, allow: ["mcp:docs/echo"] } });
      await refused(admin.admin.deleteConfigEntry({ kind: M, name: "docs" }), Code.FailedPrecondition, /allow list of key "docs-only"/);
      await admin.admin.revokeKey({ name: "docs-only" });
      assert.deepEqual((await admin.admin.deleteConfigEntry({ kind: M, name: "docs" })).changes, ["mcp server removed: docs"]);
      assert.ok(!(await admin.route.listMcpServers({})).servers.some((x) => x.id === "docs"));
    } finally {
      await docs.close();
    }
  });

  test("an alias added at run time names a route or deployment (file or runtime); it cannot chain or shadow, and a key's allow list keeps it", async () => {
    await refused(admin.admin.putConfigEntry({ kind: A, name: "fast", spec: { target: "nope" } }), Code.InvalidArgument, /^spec\.target: unknown route or deployment "nope"/);
    await refused(admin.admin.putConfigEntry({ kind: A, name: "fast", spec: { target: "default", weight: 2 } }), Code.InvalidArgument, /^spec\.weight: unknown key/);
    await refused(admin.admin.putConfigEntry({ kind: A, name: "default", spec: { target: "mock/a" } }), Code.InvalidArgument, /^name: .*defined in the config file/);
    await refused(admin.admin.putConfigEntry({ kind: A, name: "fast", spec: {} }), Code.InvalidArgument, /^spec\.target: /);
    const made = await admin.admin.putConfigEntry({ kind: A, name: "fast", spec: { target: "acme/gpt-4o" } });
    assert.deepEqual(made.changes, ["alias added: fast"]);
    await refused(admin.admin.putConfigEntry({ kind: A, name: "faster", spec: { target: "fast" } }), Code.InvalidArgument, /^spec\.target: unknown route or deployment "fast"/);
    fake.script({ kind: "text", text: "through the alias" });
    const r = await ask("fast", "hi");
    assert.equal(r.body.choices?.[0].message.content, "through the alias");
    // Repointed at the file's route: in force at once.
    await admin.admin.putConfigEntry({ kind: A, name: "fast", spec: { target: "default" } });
    const viaMock = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] }) });
    assert.equal(viaMock.headers.get("x-signalbox-deployment"), "mock/a");
    await admin.admin.createKey({ key: { name: "fast-only", team: "build", role: KeyRole.SERVICE, allow: ["fast"] } });
    await refused(admin.admin.deleteConfigEntry({ kind: A, name: "fast" }), Code.FailedPrecondition, /allow list of key "fast-only"/);
    await admin.admin.revokeKey({ name: "fast-only" });
    assert.deepEqual((await admin.admin.deleteConfigEntry({ kind: A, name: "fast" })).changes, ["alias removed: fast"]);
  });

  test("an alert added at run time: its URL is a credential (sealed, never shown), and TestAlert reaches it", async () => {
    const got: { path?: string; body: Record<string, unknown>; auth?: string }[] = [];
    const sink = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        got.push({ path: req.url, body: JSON.parse(raw) as Record<string, unknown>, auth: req.headers.authorization });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const secretPath = ["services", "T000", "B000", HOOK_TOKEN].join("/");
    const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/${secretPath}`;
    try {
      await refused(admin.admin.putConfigEntry({ kind: AL, name: "ops", spec: { url, events: ["budget_exploded"] } }), Code.InvalidArgument, /^spec\.events\[0\]: /);
      const made = await admin.admin.putConfigEntry({ kind: AL, name: "ops", spec: { url, format: "json", events: ["budget_exhausted", "deployment_cooldown"], headers: { authorization: `Bearer ${HOOK_TOKEN}` } } });
      assert.deepEqual(made.changes, ["alert added: ops"]);
      assert.deepEqual(made.entry?.secretFields, ["url", "headers.authorization"]);
      assert.equal(made.entry?.spec?.url, REDACTED);
      const tested = await admin.admin.testAlert({ name: "ops" });
      assert.equal(tested.delivered, true, tested.error);
      assert.equal(got.at(-1)?.path, `/${secretPath}`);
      assert.equal(got.at(-1)?.auth, `Bearer ${HOOK_TOKEN}`);
      assert.ok((await admin.admin.listAlerts({})).alerts.some((x) => x.name === "ops"));
      // A replace that leaves the url out keeps it.
      await admin.admin.putConfigEntry({ kind: AL, name: "ops", spec: { format: "json", events: ["budget_exhausted"] } });
      assert.equal((await admin.admin.testAlert({ name: "ops" })).delivered, true);
      assert.equal(got.at(-1)?.path, `/${secretPath}`);
      const everything = JSON.stringify(toJson(ListAuditEventsResponseSchema, await admin.admin.listAuditEvents({}))) + logs.join("\n") + JSON.stringify((await admin.admin.listConfigEntries({})).entries.map((e) => e.spec));
      assert.ok(!everything.includes(HOOK_TOKEN), "the alert's URL or header leaked");
      await admin.admin.deleteConfigEntry({ kind: AL, name: "ops" });
    } finally {
      await new Promise((r) => sink.close(r));
    }
  });

  test("a reseal on the memory store: every credential already under the current key", async () => {
    const r = await admin.admin.resealConfigEntries({});
    assert.equal(r.keyId, masterKeyId(MASTER));
    assert.deepEqual(r.resealed, []);
    assert.equal(r.current, 1);
    await refused(createSignalboxClient({ baseUrl: gw.url, apiKey: TEAM }).admin.resealConfigEntries({}), Code.PermissionDenied, /needs an admin key/);
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
    assert.match(rows[0].spec, new RegExp(`"api_key": "sealed:v2:${masterKeyId(MASTER)}:`));
    assert.ok(!rows[0].spec.includes(UPSTREAM_KEY) && !audit.includes(UPSTREAM_KEY));
    // B restarts: the entries come back from the store.
    await B.close();
    B = await startTestGateway(rig.config);
    fake.script({ kind: "text", text: "after the restart" });
    const again = new OpenAI({ baseURL: `${B.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    assert.equal((await again.chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] })).choices[0].message.content, "after the restart");
  });

  test("a preset made on A is used on B (stored in PostgreSQL)", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const a = createSignalboxClient({ baseUrl: A.url, apiKey: ADMIN });
    await a.admin.putConfigEntry({ kind: ConfigEntryKind.PRESET, name: "acme-short", spec: { model: "acme/gpt-4o", system: "Be brief.", temperature: 0.3 } });
    const onB = new OpenAI({ baseURL: `${B.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    const deadline = Date.now() + 2000;
    for (;;) {
      fake.script({ kind: "text", text: "brief" });
      const r = await onB.chat.completions.create({ model: "@preset/acme-short", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      if (!(r instanceof Error)) break;
      assert.ok(Date.now() < deadline, `not on B within two seconds: ${r.message}`);
      fake.reset();
      await new Promise((res) => setTimeout(res, 50));
    }
    const sent = JSON.parse(fake.requests.at(-1)!.rawBody) as { messages: { role: string; content: string }[]; temperature: number };
    assert.deepEqual(sent.messages[0], { role: "system", content: "Be brief." });
    assert.equal(sent.temperature, 0.3);
  });

  test("a replica with another master key leaves the provider out and says why; none at all cannot store keys", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const other = await startTestGateway(rig.config, { masterKey: `${MASTER}-rotated` });
    try {
      const listed = (await createSignalboxClient({ baseUrl: other.url, apiKey: ADMIN }).admin.listConfigEntries({})).entries;
      assert.match(listed.find((e) => e.name === "acme")!.problem, new RegExp(`sealed with master key ${masterKeyId(MASTER)}, which this replica does not have`));
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

  test("rotating the master key: a replica with the new key and the old as previous serves, reseals, and then the old key is no longer needed", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const oldId = masterKeyId(MASTER);
    const newId = masterKeyId(NEXT_MASTER);
    const rotating = await startTestGateway(rig.config, { masterKey: NEXT_MASTER, previousMasterKeys: [MASTER] });
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    try {
      const admin = createSignalboxClient({ baseUrl: rotating.url, apiKey: ADMIN });
      const listed = (await admin.admin.listConfigEntries({ kind: P })).entries.find((e) => e.name === "acme")!;
      assert.equal(listed.problem, "");
      assert.deepEqual(listed.sealedWith, [oldId]);
      const sdk = new OpenAI({ baseURL: `${rotating.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
      fake.script({ kind: "text", text: "opened with the previous key" });
      assert.equal((await sdk.chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] })).choices[0].message.content, "opened with the previous key");

      const dry = await admin.admin.resealConfigEntries({ validateOnly: true });
      assert.deepEqual([dry.keyId, dry.resealed, dry.current, dry.failed], [newId, ["provider/acme"], 0, []]);
      const spec = async () => (await c.query("SELECT spec::text AS spec, revision FROM signalbox_config_entries WHERE kind = 'provider' AND name = 'acme'")).rows[0] as { spec: string; revision: string };
      assert.match((await spec()).spec, new RegExp(`sealed:v2:${oldId}:`), "validate_only wrote nothing");
      const done = await admin.admin.resealConfigEntries({});
      assert.deepEqual([done.resealed, done.current], [["provider/acme"], 0]);
      const after = await spec();
      assert.match(after.spec, new RegExp(`"api_key": "sealed:v2:${newId}:`));
      assert.ok(!after.spec.includes(UPSTREAM_KEY));
      assert.deepEqual((await admin.admin.getConfigEntry({ kind: P, name: "acme" })).entry?.sealedWith, [newId]);
      const again = await admin.admin.resealConfigEntries({});
      assert.deepEqual([again.resealed, again.current], [[], 1]);
      const audit = await admin.admin.listAuditEvents({ target: "provider/acme" });
      assert.equal(audit.events[0].action, "config_entry.reseal");
      assert.deepEqual(audit.events[0].before?.sealed_with, [oldId]);
      assert.deepEqual(audit.events[0].after?.sealed_with, [newId]);
      await refused(createSignalboxClient({ baseUrl: rotating.url, apiKey: TEAM }).admin.resealConfigEntries({}), Code.PermissionDenied, /needs an admin key/);
    } finally {
      await rotating.close();
      await c.end();
    }
    // The new key alone now opens everything; the old key alone no longer does.
    const rotated = await startTestGateway(rig.config, { masterKey: NEXT_MASTER, previousMasterKeys: [] });
    try {
      fake.script({ kind: "text", text: "the new key alone" });
      const sdk = new OpenAI({ baseURL: `${rotated.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
      assert.equal((await sdk.chat.completions.create({ model: "acme/gpt-4o", messages: [{ role: "user", content: "hi" }] })).choices[0].message.content, "the new key alone");
    } finally {
      await rotated.close();
    }
    const stale = await startTestGateway(rig.config, { masterKey: MASTER, previousMasterKeys: [] });
    try {
      const listed = (await createSignalboxClient({ baseUrl: stale.url, apiKey: ADMIN }).admin.listConfigEntries({ kind: P })).entries;
      assert.match(listed.find((e) => e.name === "acme")!.problem, new RegExp(`sealed with master key ${newId}, which this replica does not have`));
      const r = await createSignalboxClient({ baseUrl: stale.url, apiKey: ADMIN }).admin.resealConfigEntries({});
      assert.deepEqual(r.failed.map((f) => f.entry), ["provider/acme"]);
      assert.match(r.failed[0].reason, /which this replica does not have/);
    } finally {
      await stale.close();
    }
  });
});
