// The console's Guardrails page in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process with guardrails in its config file (pii redact on both
// stages, secrets block on input and mandatory, deny flag on output) and one added at run time.
// The table lists them as ListGuardrails does; "Try it" runs chosen ones through ApplyGuardrails:
// a pii redaction shows the text as it would leave with the placeholder marked and the action; a
// secrets-shaped string shows the block (guardrail, category, message) without echoing the text;
// the output stage runs the output-only guardrail, which does nothing at the input; a guardrail
// removed meanwhile is refused in words naming the field. A service key sees the page too; a
// gateway without guardrails says so. No browser-console errors but the one expected refusal.
// A screenshot goes to test-output/console/guardrails.png.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigEntryKind, createSignalboxClient, GuardrailStage, type SignalboxClient } from "@signalbox/client";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["sbx", "test", "guardcon", "admin"].join("_");
const APP = ["sbx", "test", "guardcon", "app"].join("_");
/** Shaped like an AWS access key id, so the secrets detector blocks it. */
const AWS = ["AK", "IA", "Z7QK3M9W", "2XH4PL6D"].join("");

const KEYS = `keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: app, hash: "${hashKey(APP)}", team: a, role: service }
`;
const CONFIG = `${MOCK_CONFIG}guardrails:
  - { name: no-pii, kind: pii, stage: both, action: redact, pii: { categories: [email] } }
  - { name: no-keys, kind: secrets, stage: input, action: block, mandatory: true }
  - { name: words, kind: deny, stage: output, action: flag, deny: { words: [frobnicate] } }
${KEYS}`;
/** Added at run time, and removed while the page still offers it. */
const TEMP = "temp-words";

type Row = string[];

describe("console: the Guardrails page", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const nav = (p: Page) => p.getByRole("navigation", { name: "Pages" });
  const attrs = (testId: string, names: string[], p: Page = page) =>
    p.getByTestId(testId).evaluateAll((els, names) => els.map((e) => names.map((n) => e.getAttribute(n) ?? "")), names) as Promise<Row[]>;
  const tableRows = (p: Page = page) => attrs("guardrail-row", ["data-name", "data-kind", "data-stages", "data-action", "data-mandatory"], p);
  const actionRows = () => attrs("try-action", ["data-guardrail", "data-stage", "data-action", "data-category", "data-count"]);
  const stageName = (s: GuardrailStage) => (s === GuardrailStage.OUTPUT ? "output" : "input");

  /** Chooses exactly `names` in Try it, the stage and the text, presses Apply and waits for this answer. */
  async function tryIt(names: string[], stage: "input" | "output", text: string, p: Page = page): Promise<void> {
    for (const box of await p.getByTestId("try-guardrail").all()) {
      await box.locator("input").setChecked(names.includes((await box.getAttribute("data-name")) ?? ""));
    }
    await p.getByRole("radio", { name: stage === "input" ? /^Input/ : /^Output/ }).click();
    await p.locator(`[data-testid=try-stage][data-stage=${stage}]`).waitFor();
    await p.getByTestId("try-text").fill(text);
    await p.getByTestId("try-apply").click();
    await p.getByTestId("try-ran").filter({ hasText: `Ran ${names.join(", ")} at the ${stage}.` }).waitFor();
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-guardrails-"));
    gw = await startTestGateway(CONFIG);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    await admin.admin.putConfigEntry({ kind: ConfigEntryKind.GUARDRAIL, name: TEMP, spec: { kind: "deny", stage: "input", action: "flag", deny: { words: ["zork"] } } });
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1100 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("guardrails", started, work, context, gw));

  test("the menu leads to Guardrails: the table lists them as ListGuardrails does", async () => {
    await nav(page).getByRole("link", { name: "Guardrails", exact: true }).click();
    await page.waitForURL(`${gw.url}/console/guardrails`);
    await page.getByTestId("guardrails-table").waitFor();
    const api = (await admin.guardrails.listGuardrails({})).guardrails;
    const rows = await tableRows();
    assert.deepEqual(
      rows,
      api.map((g) => [g.name, g.kind, g.stages.map(stageName).join(","), g.action, String(g.mandatory)]),
      "the table is the API's list",
    );
    assert.deepEqual(rows, [
      ["no-pii", "pii", "input,output", "redact", "false"],
      ["no-keys", "secrets", "input", "block", "true"],
      ["words", "deny", "output", "flag", "false"],
      [TEMP, "deny", "input", "flag", "false"],
    ]);
    const cells = await page.locator("[data-testid=guardrail-row][data-name=no-keys] td").allInnerTexts();
    assert.deepEqual(cells, ["no-keys", "secrets", "input", "block", "mandatory"]);
    assert.deepEqual(await page.locator("[data-testid=guardrail-row][data-name=no-pii] td").allInnerTexts(), ["no-pii", "pii", "input, output", "redact", "no"]);
    // Nothing chosen yet: Apply waits for a guardrail.
    assert.equal(await page.getByTestId("try-apply").isDisabled(), true);
  });

  test("a row click chooses it; a pii redaction shows the text as it would leave, the placeholder marked, and the action", async () => {
    await page.locator("[data-testid=guardrail-row][data-name=no-pii]").click();
    await page.locator("[data-testid=guardrail-row][data-name=no-pii][aria-selected=true]").waitFor();
    assert.equal(await page.locator("[data-testid=try-guardrail][data-name=no-pii] input").isChecked(), true, "the row click ticks its box");

    await page.getByTestId("try-text").fill("mail ana@example.com please");
    await page.getByTestId("try-apply").click();
    await page.getByTestId("try-ran").filter({ hasText: "Ran no-pii at the input." }).waitFor();
    assert.equal(await page.getByTestId("try-result").getAttribute("data-blocked"), "false");
    assert.equal(await page.getByTestId("try-text-out").innerText(), "mail [REDACTED:email] please");
    const marks = await attrs("redaction", ["data-category"]);
    assert.deepEqual(marks, [["email"]]);
    assert.equal(await page.getByTestId("redaction").innerText(), "[REDACTED:email]");
    assert.equal(await page.getByTestId("redaction").evaluate((e) => e.tagName), "MARK", "the redaction is marked");
    assert.deepEqual(await actionRows(), [["no-pii", "input", "redact", "email", "1"]]);
    assert.deepEqual(await page.getByTestId("try-action").locator("td").allInnerTexts(), ["no-pii", "input", "redact", "email", "1"]);
    assert.equal(await page.getByTestId("try-blocked").count(), 0);
    await page.screenshot({ path: join(OUTPUT_DIR, "guardrails.png"), fullPage: true });
  });

  test("a secrets-shaped string shows the block: guardrail, category and message, in an error box, never the text", async () => {
    await tryIt(["no-pii", "no-keys"], "input", `mail ana@example.com, my key is ${AWS}`);
    const result = page.getByTestId("try-result");
    assert.equal(await result.getAttribute("data-blocked"), "true");
    const blocked = page.getByTestId("try-blocked");
    assert.equal(await blocked.getAttribute("data-guardrail"), "no-keys");
    assert.equal(await blocked.getAttribute("data-category"), "aws_access_key");
    assert.equal(await blocked.getAttribute("role"), "alert");
    assert.equal(await blocked.evaluate((e) => e.classList.contains("error")), true, "error-styled");
    assert.equal(await page.getByTestId("try-blocked-by").innerText(), "no-keys");
    assert.equal(await page.getByTestId("try-blocked-category").innerText(), "aws_access_key");
    assert.match(await page.getByTestId("try-blocked-message").innerText(), /^guardrail "no-keys" blocked the request \(category aws_access_key\)/);
    assert.equal(await page.getByTestId("try-text-out").count(), 0, "no text when blocked");
    assert.doesNotMatch(await result.innerText(), new RegExp(AWS), "the key is not echoed");
    const api = await admin.guardrails.applyGuardrails({ guardrails: ["no-pii", "no-keys"], text: `mail ana@example.com, my key is ${AWS}` });
    const rows = await actionRows();
    assert.deepEqual(rows, api.actions.map((a) => [a.guardrail, stageName(a.stage), a.action, a.category, String(a.count)]), "the actions are the API's");
    assert.ok(rows.some((r) => r.join() === "no-keys,input,block,aws_access_key,1"), rows.join("\n"));
  });

  test("the output stage runs the output-only guardrail, which does nothing at the input", async () => {
    await tryIt(["words"], "input", "frobnicate the widget");
    assert.match(await page.getByTestId("try-idle").innerText(), /words does not run at the input/);
    assert.equal(await page.getByTestId("try-text-out").innerText(), "frobnicate the widget");
    await page.getByTestId("try-no-actions").waitFor();
    assert.equal(await page.getByTestId("try-action").count(), 0);

    await tryIt(["words"], "output", "frobnicate the widget");
    assert.equal(await page.getByTestId("try-idle").count(), 0, "words runs at the output");
    assert.equal(await page.getByTestId("try-text-out").innerText(), "frobnicate the widget", "a flag lets the text through");
    assert.deepEqual(await actionRows(), [["words", "output", "flag", "deny", "1"]]);

    // The pii guardrail runs at both; the secrets one at the input only.
    await tryIt(["no-pii", "no-keys", "words"], "output", "frobnicate ana@example.com");
    assert.match(await page.getByTestId("try-idle").innerText(), /no-keys does not run at the output/);
    assert.equal(await page.getByTestId("try-text-out").innerText(), "frobnicate [REDACTED:email]");
    const api = await admin.guardrails.applyGuardrails({ guardrails: ["no-pii", "no-keys", "words"], text: "frobnicate ana@example.com", stage: GuardrailStage.OUTPUT });
    const rows = await actionRows();
    assert.deepEqual(rows, api.actions.map((a) => [a.guardrail, stageName(a.stage), a.action, a.category, String(a.count)]));
    assert.deepEqual(rows.map((r) => r.join()).sort(), ["no-pii,output,redact,email,1", "words,output,flag,deny,1"]);
  });

  test("a guardrail removed meanwhile is refused in words naming the field; Refresh drops it", async () => {
    for (const box of await page.getByTestId("try-guardrail").all()) await box.locator("input").setChecked((await box.getAttribute("data-name")) === TEMP);
    await admin.admin.deleteConfigEntry({ kind: ConfigEntryKind.GUARDRAIL, name: TEMP });
    await page.getByTestId("try-text").fill("zork");
    await page.getByTestId("try-apply").click();
    const alert = page.locator("[role=alert][data-code=invalid_argument]");
    await alert.waitFor();
    const said = await alert.innerText();
    assert.match(said, /guardrails\[0\]/);
    assert.match(said, new RegExp(`unknown guardrail "${TEMP}"`));
    assert.equal(await page.getByTestId("try-result").count(), 0, "the last answer is gone");

    await page.getByTestId("guardrails-refresh").click();
    await page.waitForFunction((n) => !document.querySelector(`[data-testid=guardrail-row][data-name="${n}"]`), TEMP);
    assert.deepEqual((await tableRows()).map((r) => r[0]), ["no-pii", "no-keys", "words"]);
    assert.equal(await page.getByTestId("try-apply").isDisabled(), true, "nothing left chosen");
  });

  test("a service key sees the page and can try a guardrail", async () => {
    const p = await context.newPage();
    p.on("console", (m) => {
      if (m.type() === "error") errors.push(`${p.url()}: ${m.text()}`);
    });
    p.on("pageerror", (e) => errors.push(`pageerror on ${p.url()}: ${e.message}`));
    await p.goto(`${gw.url}/console/`);
    await p.locator("input[name=key]").fill(APP);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.locator("[data-testid=identity][data-role=service]").waitFor();
    await nav(p).getByRole("link", { name: "Guardrails", exact: true }).click();
    await p.getByTestId("guardrails-table").waitFor();
    assert.deepEqual((await tableRows(p)).map((r) => r[0]), ["no-pii", "no-keys", "words"]);
    await tryIt(["no-pii"], "output", "ana@example.com", p);
    assert.equal(await p.getByTestId("try-text-out").innerText(), "[REDACTED:email]");
    await p.close();
  });

  test("a gateway without guardrails says so", async () => {
    const bare = await startTestGateway(`${MOCK_CONFIG}${KEYS}`);
    try {
      const p = await signedInPage(context, bare.url, ADMIN, errors);
      await nav(p).getByRole("link", { name: "Guardrails", exact: true }).click();
      await p.getByTestId("guardrails-empty").waitFor();
      assert.equal(await p.getByTestId("guardrails-table").count(), 0);
      assert.equal(await p.getByTestId("try-apply").count(), 0, "nothing to try");
      await p.close();
    } finally {
      await bare.close();
    }
  });

  test("no errors in the browser console but the one expected refusal", () => {
    const refused = /\/console\/guardrails: Failed to load resource: the server responded with a status of 400 \(Bad Request\)$/;
    assert.ok(errors.filter((e) => refused.test(e)).length <= 1, errors.join("\n"));
    assert.deepEqual(
      errors.filter((e) => !refused.test(e)),
      [],
    );
  });
});
