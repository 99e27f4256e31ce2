// The console's Providers & routes page (AdminService's config entries) in a real browser:
// Debian's Chromium (driven by playwright-core) signs in to a gateway started in process, adds a
// provider pointing at a fake OpenAI upstream (its API key typed into a password field) and a
// deployment on it, "Check"ing first (nothing is written; a bad field is named), lists and filters
// them, and never shows the key. A chat request through the gateway reaches the fake with that
// key; the deployment is edited (revision 2), a concurrent change is refused readably, deleting the
// provider while the deployment uses it is refused readably, and both are deleted in order.
// Guardrails: a deny one, then a webhook one whose authorization header is typed into a password
// field (sent to a fake moderation service, never shown). The gateway has a master key: each
// entry's credentials show the key id they are sealed with, and "Seal credentials again" (Check,
// then Seal again) finds them all current; a gateway without a master key refuses it readably.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigEntryKind, createSignalboxClient, type SignalboxClient } from "@signalbox/client";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startFakeMcp } from "../helpers/fake-mcp.ts";
import { hashKey } from "../../src/server/auth.ts";
import { masterKeyId } from "../../src/control/sealed.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "entries", "console", "secret"].join("_");
const UPSTREAM_KEY = ["sk", "test", "console", "entries", "0123456789abcdef"].join("-");
const HOOK_TOKEN = ["hook", "token", "console", "entries", "fedcba9876543210"].join("-");
const TEAM = ["team", "entries", "console", "secret"].join("_");
const MASTER = ["master", "key", "console", "entries", "0123456789abcdef0123"].join("-");
const KEY_ID = masterKeyId(MASTER);

const CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/chat] }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: console-team, hash: "${hashKey(TEAM)}", team: search, role: team }
`;

const PROVIDER = "acme";
const DEPLOYMENT = "acme/gpt-4o";

/** The fake OpenAI upstream, answering with this text and accepting only the key stored at run time. */
async function startFakeUpstream(): Promise<FakeOpenAI> {
  const fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
  fake.setDefault({ kind: "text", text: "hello from the fake upstream" });
  return fake;
}

describe("console: the Providers & routes page", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  /** A gateway without a master key. */
  let keyless: TestGateway;
  let fake: FakeOpenAI;
  let admin: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  let hook: http.Server;
  let hookUrl = "";
  /** What the fake moderation service was asked, with the authorization header it got. */
  const hookSeen: { text: string; authorization?: string }[] = [];
  const errors: string[] = [];

  const shot = (p: Page, name: string) => p.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const row = (kind: string, name: string) => page.locator(`[data-testid=entry-row][data-kind="${kind}"][data-name="${name}"]`);
  const rowsShown = () => page.getByTestId("entry-row").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-kind")}/${e.getAttribute("data-name")}@${e.getAttribute("data-revision")}`));
  const cells = (r: Locator) => r.locator("td").evaluateAll((tds) => tds.map((td) => (td as HTMLElement).innerText.trim()));
  const dialog = () => page.getByRole("dialog");
  const outcomeChanges = () => page.getByTestId("entry-outcome").getByTestId("entry-change").allInnerTexts();
  const stored = async () => (await admin.admin.listConfigEntries({})).entries.map((e) => `${e.name}@${e.revision}`);
  const chat = (model: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    });
  /** The page's HTML (attributes included) never holds the upstream key, nor the webhook's token. */
  const assertNoKey = async (when: string) => {
    const html = await page.content();
    assert.ok(!html.includes(UPSTREAM_KEY), `the key is in the page's HTML ${when}`);
    assert.ok(!html.includes(HOOK_TOKEN), `the webhook token is in the page's HTML ${when}`);
  };

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-entries-"));
    fake = await startFakeUpstream();
    // A moderation service that wants its token and allows everything.
    hook = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        hookSeen.push({ text: (JSON.parse(raw) as { text: string }).text, authorization: req.headers.authorization });
        if (req.headers.authorization !== `Bearer ${HOOK_TOKEN}`) return void res.writeHead(401).end();
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ allow: true }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/moderate`;
    await writeFile(join(work, "config.yaml"), CONFIG);
    // The gateway, a second one without a master key (for the reseal refusal) and Chromium start at once.
    [gw, keyless, context] = await Promise.all([
      startTestGateway(CONFIG, { configPath: join(work, "config.yaml"), masterKey: MASTER }),
      startTestGateway(CONFIG),
      launchChromium(join(work, "profile"), { width: 1280, height: 1000 }),
    ]);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(async () => {
    await context?.close();
    await gw?.close();
    await keyless?.close();
    await fake?.close();
    if (hook) await new Promise((r) => hook.close(r));
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`# console config entries suite: ${Math.round(performance.now() - started)} ms`);
  });

  test("the navigation leads to Providers & routes; nothing is made at run time yet", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Providers & routes", exact: true }).click();
    await page.waitForURL(`${gw.url}/console/entries`);
    await page.getByText("No entries made at run time").waitFor();
    assert.equal(await page.getByTestId("entries-table").count(), 0);
  });

  test("a provider: Check writes nothing and shows the change; Save adds it, its key typed in a password field", async () => {
    await page.getByTestId("entry-new").click();
    const form = dialog().getByRole("form", { name: "Add entry" });
    await form.waitFor();
    assert.equal(await form.locator("select[name=kind]").inputValue(), String(ConfigEntryKind.PROVIDER));
    await form.locator("input[name=name]").fill(PROVIDER);
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ type: "openai", base_url: `${fake.url}` }, null, 2));
    const keyInput = form.locator("input[name=api_key]");
    assert.equal(await keyInput.getAttribute("type"), "password");
    await keyInput.fill(UPSTREAM_KEY);

    await form.getByTestId("entry-check-button").click();
    const check = form.getByTestId("entry-check");
    await check.waitFor();
    assert.deepEqual(await check.getByTestId("entry-change").allInnerTexts(), [`provider added: ${PROVIDER}`]);
    assert.deepEqual(await stored(), [], "Check writes nothing");
    await assertNoKey("with the key typed in the form");
    assert.equal(fake.requests.length, 0, "nothing reached the upstream");
    await shot(page, "entries-check");

    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await page.getByTestId("entry-outcome").waitFor();
    assert.deepEqual(await outcomeChanges(), [`provider added: ${PROVIDER}`]);
    const version = await page.getByTestId("entry-outcome").getAttribute("data-version");
    assert.ok(version, "the new config version is shown");
    assert.equal(await page.getByTestId("entry-outcome-version").innerText(), version);
    assert.equal(version, gw.gw.configVersion);

    await row("provider", PROVIDER).waitFor();
    assert.equal(await row("provider", PROVIDER).getAttribute("data-revision"), "1");
    assert.deepEqual(await row("provider", PROVIDER).getByTestId("entry-secret").allInnerTexts(), ["api_key"]);
    const sealed = row("provider", PROVIDER).getByTestId("entry-sealed-with");
    assert.equal(await sealed.getAttribute("data-keys"), KEY_ID);
    assert.equal(await sealed.innerText(), `sealed with ${KEY_ID}`);
    await assertNoKey("after the provider was saved");
    assert.deepEqual(await stored(), [`${PROVIDER}@1`]);
  });

  test("a deployment on it: a bad field is named inline; then saved; the table lists and filters both", async () => {
    await page.getByTestId("entry-new").click();
    const form = dialog().getByRole("form", { name: "Add entry" });
    await form.waitFor();
    await form.locator("select[name=kind]").selectOption(String(ConfigEntryKind.DEPLOYMENT));
    assert.equal(await form.locator("input[name=api_key]").count(), 0, "only providers have an API key field");
    assert.equal(await form.locator("input[name=webhook_authorization]").count(), 0, "only guardrails have a webhook header field");
    assert.deepEqual(JSON.parse(await form.locator("textarea[name=spec]").inputValue()), { provider: "", model: "", pricing: { input: 0, output: 0 } }, "the deployment template");
    await form.locator("input[name=name]").fill(DEPLOYMENT);
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ provider: "nope", model: "gpt-4o", context_window: 64000 }));
    await form.getByTestId("entry-check-button").click();
    const refusal = form.getByRole("alert");
    await refusal.waitFor();
    assert.equal(await refusal.getAttribute("data-code"), "invalid_argument");
    assert.match(await refusal.innerText(), /spec\.provider: unknown provider "nope"/);
    assert.equal(await form.locator("textarea[name=spec]").getAttribute("aria-invalid"), "true");
    assert.equal(await form.getByTestId("entry-check").count(), 0);

    // Not JSON: said before anything is sent.
    await form.locator("textarea[name=spec]").fill("{ provider: acme");
    await form.getByTestId("entry-check-button").click();
    await form.getByRole("alert").filter({ hasText: "The spec is not valid JSON." }).waitFor();

    await form.locator("textarea[name=spec]").fill(JSON.stringify({ provider: PROVIDER, model: "gpt-4o", context_window: 64000 }, null, 2));
    await form.getByTestId("entry-check-button").click();
    await form.getByTestId("entry-check").waitFor();
    assert.deepEqual(await form.getByTestId("entry-check").getByTestId("entry-change").allInnerTexts(), [`deployment added: ${DEPLOYMENT}`]);
    assert.deepEqual(await stored(), [`${PROVIDER}@1`], "Check writes nothing");
    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await row("deployment", DEPLOYMENT).waitFor();
    assert.deepEqual(await outcomeChanges(), [`deployment added: ${DEPLOYMENT}`]);

    assert.deepEqual((await rowsShown()).sort(), [`deployment/${DEPLOYMENT}@1`, `provider/${PROVIDER}@1`]);
    const [kind, name, revision, updated, secrets, status] = await cells(row("deployment", DEPLOYMENT));
    assert.deepEqual([kind, revision, secrets, status], ["deployment", "1", "–", "in force"]);
    assert.match(name, new RegExp(`^${DEPLOYMENT}\\s+created .* by console-admin$`));
    assert.match(updated, /ago\s+by console-admin$/);
    assert.equal(await page.getByTestId("entry-problem").count(), 0);

    // Filter by kind.
    // Each filter is a query of its own: wait for its rows, not only for the others to go.
    await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "Providers" }).click();
    await row("deployment", DEPLOYMENT).waitFor({ state: "detached" });
    await row("provider", PROVIDER).waitFor();
    assert.deepEqual(await rowsShown(), [`provider/${PROVIDER}@1`]);
    await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "Deployments" }).click();
    await row("provider", PROVIDER).waitFor({ state: "detached" });
    await row("deployment", DEPLOYMENT).waitFor();
    assert.deepEqual(await rowsShown(), [`deployment/${DEPLOYMENT}@1`]);
    await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "All" }).click();
    await row("provider", PROVIDER).waitFor();
    await assertNoKey("with both listed");
    await shot(page, "entries-listed");
  });

  test("a chat request through the gateway reaches the fake upstream with the stored key", async () => {
    const res = await chat(DEPLOYMENT);
    const body = (await res.json()) as { choices: { message: { content: string } }[]; signalbox?: { deployment?: string } };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.choices[0].message.content, "hello from the fake upstream");
    assert.equal(body.signalbox?.deployment, DEPLOYMENT);
    const last = fake.requests.at(-1);
    assert.equal(last?.path, "/v1/chat/completions");
    assert.equal(last?.body?.model, "gpt-4o");
    assert.equal(last?.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  });

  test("edit: the provider's spec shows its key redacted and keeps it; the deployment goes to revision 2", async () => {
    // The provider, saved unchanged: the "********" the server sent back keeps the stored key.
    await page.getByRole("button", { name: `Edit provider ${PROVIDER}` }).click();
    let form = dialog().getByRole("form", { name: "Edit entry" });
    await form.waitFor();
    assert.equal(await form.locator("input[name=name]").getAttribute("readonly"), "");
    assert.equal(await form.locator("select[name=kind]").isDisabled(), true);
    const spec = JSON.parse(await form.locator("textarea[name=spec]").inputValue()) as Record<string, unknown>;
    assert.equal(spec.api_key, "********");
    assert.equal(spec.base_url, `${fake.url}`);
    assert.equal(await form.locator("input[name=api_key]").inputValue(), "", "the key is never filled back in");
    await assertNoKey("in the provider's edit form");
    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await page.locator(`[data-testid=entry-row][data-kind=provider][data-name="${PROVIDER}"][data-revision="2"]`).waitFor();
    const again = await chat(DEPLOYMENT);
    assert.equal(again.status, 200, await again.text());
    assert.equal(fake.requests.at(-1)?.headers.authorization, `Bearer ${UPSTREAM_KEY}`, "the key kept through the replace");

    // The deployment: context_window changed.
    await page.getByRole("button", { name: `Edit deployment ${DEPLOYMENT}` }).click();
    form = dialog().getByRole("form", { name: "Edit entry" });
    await form.waitFor();
    const dep = JSON.parse(await form.locator("textarea[name=spec]").inputValue()) as Record<string, unknown>;
    assert.equal(dep.provider, PROVIDER);
    assert.equal(dep.context_window, 64000);
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ ...dep, context_window: 32000 }, null, 2));
    await form.getByTestId("entry-check-button").click();
    await form.getByTestId("entry-check").waitFor();
    assert.deepEqual(await form.getByTestId("entry-check").getByTestId("entry-change").allInnerTexts(), [`deployment changed: ${DEPLOYMENT}`]);
    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await page.locator(`[data-testid=entry-row][data-kind=deployment][data-name="${DEPLOYMENT}"][data-revision="2"]`).waitFor();
    assert.deepEqual(await outcomeChanges(), [`deployment changed: ${DEPLOYMENT}`]);
    const saved = (await admin.admin.listConfigEntries({ kind: ConfigEntryKind.DEPLOYMENT })).entries[0];
    assert.equal(saved.revision, 2n);
    assert.equal(saved.spec?.context_window, 32000);
    assert.equal(saved.updatedBy, "console-admin");
  });

  test("a change made meanwhile is refused with a readable message", async () => {
    await page.getByRole("button", { name: `Edit deployment ${DEPLOYMENT}` }).click();
    const form = dialog().getByRole("form", { name: "Edit entry" });
    await form.waitFor();
    const dep = JSON.parse(await form.locator("textarea[name=spec]").inputValue()) as Record<string, unknown>;
    // Someone else changes it now (revision 3).
    await admin.admin.putConfigEntry({ kind: ConfigEntryKind.DEPLOYMENT, name: DEPLOYMENT, spec: { ...dep, context_window: 16000 } as never, expectedRevision: 2n });
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ ...dep, context_window: 8000 }, null, 2));
    await form.getByRole("button", { name: "Save" }).click();
    const refusal = form.getByRole("alert");
    await refusal.waitFor();
    assert.equal(await refusal.getAttribute("data-code"), "aborted");
    const said = await refusal.innerText();
    assert.match(said, /Changed meanwhile/);
    assert.match(said, /at revision 3, not 2/);
    await shot(page, "entries-conflict");
    await form.getByRole("button", { name: "Cancel" }).click();
    await dialog().waitFor({ state: "detached" });
    await page.locator(`[data-testid=entry-row][data-kind=deployment][data-name="${DEPLOYMENT}"][data-revision="3"]`).waitFor();
    assert.equal((await admin.admin.listConfigEntries({ kind: ConfigEntryKind.DEPLOYMENT })).entries[0].spec?.context_window, 16000);
  });

  test("deleting the provider while the deployment uses it is refused readably; then both go, in order", async () => {
    await page.getByRole("button", { name: `Delete provider ${PROVIDER}` }).click();
    let confirm = page.getByRole("dialog", { name: `Delete provider ${PROVIDER}` });
    await confirm.waitFor();
    await confirm.getByRole("button", { name: "Delete" }).click();
    const refusal = confirm.getByRole("alert");
    await refusal.waitFor();
    assert.equal(await refusal.getAttribute("data-code"), "failed_precondition");
    const said = await refusal.innerText();
    assert.match(said, /Still in use/);
    assert.match(said, new RegExp(`deployment/${DEPLOYMENT} out of force`));
    await shot(page, "entries-in-use");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    assert.deepEqual((await stored()).sort(), [`${DEPLOYMENT}@3`, `${PROVIDER}@2`]);

    await page.getByRole("button", { name: `Delete deployment ${DEPLOYMENT}` }).click();
    confirm = page.getByRole("dialog", { name: `Delete deployment ${DEPLOYMENT}` });
    await confirm.getByRole("button", { name: "Delete" }).click();
    await confirm.waitFor({ state: "detached" });
    await row("deployment", DEPLOYMENT).waitFor({ state: "detached" });
    assert.deepEqual(await outcomeChanges(), [`deployment removed: ${DEPLOYMENT}`]);

    await page.getByRole("button", { name: `Delete provider ${PROVIDER}` }).click();
    confirm = page.getByRole("dialog", { name: `Delete provider ${PROVIDER}` });
    await confirm.getByRole("button", { name: "Delete" }).click();
    await confirm.waitFor({ state: "detached" });
    await page.getByText("No entries made at run time").waitFor();
    assert.deepEqual(await outcomeChanges(), [`provider removed: ${PROVIDER}`]);
    assert.equal(await page.getByTestId("entry-outcome").getAttribute("data-version"), gw.gw.configVersion);
    assert.deepEqual(await stored(), []);
    const gone = await chat(DEPLOYMENT);
    assert.equal(gone.status, 404, await gone.text());
    await assertNoKey("at the end");
  });

  test("an entry the config file now shadows is listed with its problem, in a warning", async () => {
    await admin.admin.putConfigEntry({ kind: ConfigEntryKind.ROUTE, name: "smart", spec: { targets: ["mock/chat"] } });
    // The file now defines a route of the same name: the file wins, the entry says why it is not in force.
    await writeFile(join(work, "config.yaml"), CONFIG.replace("routes:\n", "routes:\n  - { name: smart, targets: [mock/chat] }\n"));
    await admin.admin.reloadConfig({});
    await page.reload();
    const r = row("route", "smart");
    await r.waitFor();
    assert.match(await r.getAttribute("data-problem") ?? "", /defined in the config file/);
    const warning = r.getByTestId("entry-problem");
    assert.match(await warning.innerText(), /^not in force .*defined in the config file/);
    assert.equal(await warning.evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(253, 243, 225)", "the warning's colour");
    await shot(page, "entries-problem");
    await page.getByRole("button", { name: "Delete route smart" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete route smart" });
    await confirm.getByRole("button", { name: "Delete" }).click();
    await confirm.waitFor({ state: "detached" });
    await page.getByText("No entries made at run time").waitFor();
  });

  test("guardrails: a deny one, then a webhook one whose authorization header is typed in a password field and never shown", async () => {
    // A deny guardrail, from the kind's template.
    await page.getByTestId("entry-new").click();
    let form = dialog().getByRole("form", { name: "Add entry" });
    await form.waitFor();
    await form.locator("select[name=kind]").selectOption(String(ConfigEntryKind.GUARDRAIL));
    assert.deepEqual(JSON.parse(await form.locator("textarea[name=spec]").inputValue()), { kind: "deny", action: "block", deny: { words: [] } }, "the guardrail template");
    assert.equal(await form.locator("input[name=api_key]").count(), 0);
    assert.equal(await form.getByText("Guardrail name").count(), 1);
    await form.locator("input[name=name]").fill("words");
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ kind: "deny", action: "block", deny: { words: ["verboten"] } }, null, 2));
    await form.getByTestId("entry-check-button").click();
    await form.getByTestId("entry-check").waitFor();
    assert.deepEqual(await form.getByTestId("entry-check").getByTestId("entry-change").allInnerTexts(), ["guardrail added: words"]);
    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await row("guardrail", "words").waitFor();
    assert.deepEqual(await outcomeChanges(), ["guardrail added: words"]);
    const [kind, , revision, , secrets, status] = await cells(row("guardrail", "words"));
    assert.deepEqual([kind, revision, secrets, status], ["guardrail", "1", "–", "in force"]);

    // A webhook guardrail: the token typed into the password field becomes webhook.headers.authorization.
    await page.getByTestId("entry-new").click();
    form = dialog().getByRole("form", { name: "Add entry" });
    await form.waitFor();
    await form.locator("select[name=kind]").selectOption(String(ConfigEntryKind.GUARDRAIL));
    await form.locator("input[name=name]").fill("mod");
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ kind: "webhook", action: "block", webhook: { url: hookUrl } }, null, 2));
    const auth = form.locator("input[name=webhook_authorization]");
    assert.equal(await auth.getAttribute("type"), "password");
    await auth.fill(`Bearer ${HOOK_TOKEN}`);
    await form.getByTestId("entry-check-button").click();
    await form.getByTestId("entry-check").waitFor();
    assert.deepEqual(await form.getByTestId("entry-check").getByTestId("entry-change").allInnerTexts(), ["guardrail added: mod"]);
    assert.deepEqual((await stored()).sort(), ["words@1"], "Check writes nothing");
    await assertNoKey("with the webhook token typed in the form");
    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await row("guardrail", "mod").waitFor();
    assert.deepEqual(await outcomeChanges(), ["guardrail added: mod"]);
    assert.deepEqual(await row("guardrail", "mod").getByTestId("entry-secret").allInnerTexts(), ["webhook.headers.authorization"]);
    assert.equal(await row("guardrail", "mod").getByTestId("entry-sealed-with").getAttribute("data-keys"), KEY_ID);
    await assertNoKey("after the webhook guardrail was saved");
    const got = (await admin.admin.getConfigEntry({ kind: ConfigEntryKind.GUARDRAIL, name: "mod" })).entry;
    assert.deepEqual([got?.secretFields, got?.sealedWith], [["webhook.headers.authorization"], [KEY_ID]]);
    assert.equal(((got?.spec?.webhook as Record<string, unknown>).headers as Record<string, unknown>).authorization, "********");

    // Named on a request: the moderation service gets the token typed in the page.
    const asked = async (text: string) => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "mock/chat", messages: [{ role: "user", content: text }], signalbox: { guardrails: ["mod"] } }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.deepEqual(hookSeen.at(-1), { text, authorization: `Bearer ${HOOK_TOKEN}` });
    };
    await asked("checked by the hook");

    // The Guardrails filter lists both, and only them.
    await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "Guardrails" }).click();
    await page.waitForFunction(() => {
      // The filtered list, once loaded (an empty list while it loads would pass the check).
      const rows = [...document.querySelectorAll("[data-testid=entry-row]")];
      return rows.length > 0 && rows.every((r) => r.getAttribute("data-kind") === "guardrail");
    });
    assert.deepEqual(await rowsShown(), ["guardrail/mod@1", "guardrail/words@1"]);

    // Edited with the header left blank: the stored token stays.
    await page.getByRole("button", { name: "Edit guardrail mod" }).click();
    form = dialog().getByRole("form", { name: "Edit entry" });
    await form.waitFor();
    const spec = JSON.parse(await form.locator("textarea[name=spec]").inputValue()) as { webhook: { headers: Record<string, string> } };
    assert.equal(spec.webhook.headers.authorization, "********");
    assert.equal(await form.locator("input[name=webhook_authorization]").inputValue(), "", "the token is never filled back in");
    assert.equal(await form.locator("input[name=webhook_authorization]").getAttribute("placeholder"), "********");
    await form.locator("textarea[name=spec]").fill(JSON.stringify({ ...spec, action: "flag" }, null, 2));
    await form.getByRole("button", { name: "Save" }).click();
    await dialog().waitFor({ state: "detached" });
    await page.locator(`[data-testid=entry-row][data-kind=guardrail][data-name=mod][data-revision="2"]`).waitFor();
    assert.deepEqual(await outcomeChanges(), ["guardrail changed: mod"]);
    await asked("still checked by the hook");
    await assertNoKey("with the guardrails listed");
    await shot(page, "entries-guardrails");
    await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "All" }).click();
  });

  test("seal credentials again: Check and Seal again find every credential already under the current key", async () => {
    const card = page.locator("section.card").filter({ has: page.getByRole("heading", { name: "Seal credentials again" }) });
    const before = await stored();
    await card.getByTestId("reseal-check").click();
    let result = card.locator("[data-testid=reseal-result][data-validate-only=true]");
    await result.waitFor();
    assert.equal(await result.getAttribute("data-key-id"), KEY_ID);
    assert.equal(await result.getByTestId("reseal-key").innerText(), KEY_ID);
    assert.equal(await result.getByTestId("reseal-current").getAttribute("data-count"), "1", "the webhook guardrail's token, sealed with this key");
    assert.equal(await result.getByTestId("reseal-current").innerText(), "Already sealed with this key: 1 entry");
    assert.equal(await result.getByTestId("reseal-entry").count(), 0);
    assert.match(await result.getByTestId("reseal-resealed").innerText(), /^Entries to seal again: none$/);
    assert.match(await result.innerText(), /Checked; nothing was written\./);
    assert.equal(await card.getByTestId("reseal-failed").count(), 0);

    await card.getByTestId("reseal-apply").click();
    result = card.locator("[data-testid=reseal-result][data-validate-only=false]");
    await result.waitFor();
    assert.equal(await result.getAttribute("data-key-id"), KEY_ID);
    assert.equal(await result.getByTestId("reseal-current").getAttribute("data-count"), "1");
    assert.match(await result.getByTestId("reseal-resealed").innerText(), /^Entries sealed again: none$/);
    assert.deepEqual(await stored(), before, "nothing needed writing");
    assert.equal(await card.getByRole("alert").count(), 0);
    await shot(page, "entries-reseal");
  });

  test("seal credentials again on a gateway without a master key: refused readably", async () => {
    const other = await signedInPage(context, keyless.url, ADMIN, errors);
    try {
      await other.goto(`${keyless.url}/console/entries`);
      const card = other.locator("section.card").filter({ has: other.getByRole("heading", { name: "Seal credentials again" }) });
      await card.getByTestId("reseal-check").click();
      const refusal = card.getByRole("alert");
      await refusal.waitFor();
      assert.equal(await refusal.getAttribute("data-code"), "failed_precondition");
      const said = await refusal.innerText();
      assert.match(said, /Nothing to seal with: this gateway has no master key/);
      assert.match(said, /no SIGNALBOX_MASTER_KEY/);
      assert.equal(await card.getByTestId("reseal-result").count(), 0);
      await other.screenshot({ path: join(OUTPUT_DIR, "entries-reseal-no-key.png"), fullPage: true });
    } finally {
      await other.close();
    }
  });

  test("an MCP server: its Authorization header typed in a password field, never shown; a local command refused readably", async () => {
    const MCP_TOKEN = ["mcp", "token", "console", "0123456789abcdef"].join("-");
    const docs = await startFakeMcp("docs");
    try {
      await page.getByTestId("entry-new").click();
      const form = dialog().getByRole("form", { name: "Add entry" });
      await form.waitFor();
      await form.locator("select[name=kind]").selectOption(String(ConfigEntryKind.MCP_SERVER));
      assert.equal(await form.getByText("MCP server id").count(), 1);
      await form.locator("input[name=name]").fill("docs");
      // A local server is the config file's to start.
      await form.locator("textarea[name=spec]").fill(JSON.stringify({ command: "/bin/sh" }, null, 2));
      await form.getByTestId("entry-check-button").click();
      await form.getByText(/a local MCP server runs a program on the gateway's host/).waitFor();
      await form.locator("textarea[name=spec]").fill(JSON.stringify({ url: docs.url, tools: ["echo", "whoami"] }, null, 2));
      const auth = form.locator("input[name=mcp_authorization]");
      assert.equal(await auth.getAttribute("type"), "password");
      await auth.fill(`Bearer ${MCP_TOKEN}`);
      await form.getByRole("button", { name: "Save" }).click();
      await dialog().waitFor({ state: "detached" });
      await row("mcp_server", "docs").waitFor();
      assert.deepEqual(await outcomeChanges(), ["mcp server added: docs"]);
      assert.deepEqual(await row("mcp_server", "docs").getByTestId("entry-secret").allInnerTexts(), ["headers.Authorization"]);
      assert.ok(!(await page.content()).includes(MCP_TOKEN), "the MCP token is in the page's HTML");
      const listed = await admin.route.listMcpServers({ includeTools: true });
      assert.deepEqual(listed.servers.find((x) => x.id === "docs")?.tools.map((x) => x.name).sort(), ["echo", "whoami"]);
      assert.ok(docs.authorizations.length > 0 && docs.authorizations.every((a) => a === `Bearer ${MCP_TOKEN}`), "the typed header reached the server");
      await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "MCP servers" }).click();
      await page.waitForFunction(() => {
      // The filtered list, once loaded (an empty list while it loads would pass the check).
      const rows = [...document.querySelectorAll("[data-testid=entry-row]")];
      return rows.length > 0 && rows.every((r) => r.getAttribute("data-kind") === "mcp_server");
    });
      assert.deepEqual(await rowsShown(), ["mcp_server/docs@1"]);
      await page.getByRole("radiogroup", { name: "Kind" }).getByRole("radio", { name: "All" }).click();
      await admin.admin.deleteConfigEntry({ kind: ConfigEntryKind.MCP_SERVER, name: "docs" });
    } finally {
      await docs.close();
    }
  });

  test("an alias and an alert: the alert's webhook URL typed in a password field, never shown, and TestAlert reaches it", async () => {
    const addEntry = async (kind: ConfigEntryKind, name: string, spec: object, secret?: [string, string]) => {
      await page.getByTestId("entry-new").click();
      const form = dialog().getByRole("form", { name: "Add entry" });
      await form.waitFor();
      await form.locator("select[name=kind]").selectOption(String(kind));
      await form.locator("input[name=name]").fill(name);
      await form.locator("textarea[name=spec]").fill(JSON.stringify(spec, null, 2));
      if (secret) {
        assert.equal(await form.locator(`input[name=${secret[0]}]`).getAttribute("type"), "password");
        await form.locator(`input[name=${secret[0]}]`).fill(secret[1]);
      }
      await form.getByRole("button", { name: "Save" }).click();
      await dialog().waitFor({ state: "detached" });
    };
    await addEntry(ConfigEntryKind.ALIAS, "quick", { target: "mock/chat" });
    await row("alias", "quick").waitFor();
    assert.deepEqual(await outcomeChanges(), ["alias added: quick"]);
    const viaAlias = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ model: "quick", messages: [{ role: "user", content: "hi" }] }) });
    assert.equal(viaAlias.status, 200, await viaAlias.clone().text());

    const paths: string[] = [];
    const sink = http.createServer((req, res) => {
      paths.push(req.url ?? "");
      req.resume();
      req.on("end", () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const secretPath = `/services/${HOOK_TOKEN}`;
    try {
      await addEntry(ConfigEntryKind.ALERT, "ops", { format: "json", events: ["budget_exhausted"] }, ["alert_url", `http://127.0.0.1:${(sink.address() as AddressInfo).port}${secretPath}`]);
      await row("alert", "ops").waitFor();
      assert.deepEqual(await row("alert", "ops").getByTestId("entry-secret").allInnerTexts(), ["url"]);
      await assertNoKey("after the alert was saved");
      assert.equal((await admin.admin.testAlert({ name: "ops" })).delivered, true);
      assert.deepEqual(paths, [secretPath]);
    } finally {
      await new Promise((r) => sink.close(r));
    }
    await admin.admin.deleteConfigEntry({ kind: ConfigEntryKind.ALERT, name: "ops" });
    await admin.admin.deleteConfigEntry({ kind: ConfigEntryKind.ALIAS, name: "quick" });
  });

  test("a team key: no Providers & routes in the navigation; the page itself says it has no access, and shows no entry", async () => {
    await admin.admin.putConfigEntry({ kind: ConfigEntryKind.ALIAS, name: "team-visible", spec: { target: "mock/chat" } });
    const teamErrors: string[] = [];
    const p = await context.newPage();
    p.on("console", (m) => {
      if (m.type() === "error") teamErrors.push(m.text());
    });
    try {
      await p.goto(`${gw.url}/console/`);
      await p.locator("input[name=key]").fill(TEAM);
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.locator("[data-testid=identity][data-role=team]").waitFor();
      const nav = p.getByRole("navigation", { name: "Pages" });
      await nav.getByRole("link").first().waitFor();
      assert.equal(await nav.getByRole("link", { name: "Providers & routes" }).count(), 0);
      await p.goto(`${gw.url}/console/entries`);
      await p.getByText("Your key's role (team) has no access to this page.").waitFor();
      assert.equal(await p.getByTestId("entry-row").count(), 0);
      assert.ok(!(await p.content()).includes("team-visible"), "an entry reached a team key's page");
      assert.ok(teamErrors.every((e) => /status of 403|Forbidden/.test(e)), teamErrors.join("\n"));
    } finally {
      await p.close();
      await admin.admin.deleteConfigEntry({ kind: ConfigEntryKind.ALIAS, name: "team-visible" });
    }
  });

  test("no errors in the browser console", () => {
    // The refusals (invalid_argument, failed_precondition: 400; aborted: 409) are logged by Chromium as failed loads.
    const refused = /\/console\/entries: Failed to load resource: the server responded with a status of 40[09] \((Bad Request|Conflict)\)$/;
    assert.ok(errors.filter((e) => refused.test(e)).length <= 5, errors.join("\n"));
    assert.deepEqual(
      errors.filter((e) => !refused.test(e)),
      [],
    );
  });
});
