// The console's Import config page in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process on the embedded default config (config/default.yaml),
// with an admin key added. The page is in the navigation right after Providers & routes. A LiteLLM
// config.yaml pasted in (two deployments under one model_name at 600 and 300 requests a minute, one
// with its API key written literally, router_settings.allowed_fails) converts through
// AdminService.ImportConfig: the validator takes it, the format is LiteLLM, the notes table lists
// the TO DO first and the dropped router_settings.allowed_fails, the YAML (text in a <pre>) routes
// the group weighted 2:1 and holds the key only as "********", and a warning names where the file
// wrote it. The YAML downloads as signalbox.yaml. A Bifrost config.json loaded through the file
// input is told to be Bifrost by its shape. Text that is neither gets the gateway's invalid_argument
// naming `format` in the error box; a result the validator refuses (an embedding mode on a Claude
// model) says so, naming deployments[0].operations. Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "console", "import", "secret"].join("-");
const LITERAL = ["sk", "console", "import", "literal"].join("-");

/** Two deployments behind gpt-4o (600 and 300 requests a minute), the first with its key written in the file. */
const LITELLM = `model_list:
  - model_name: gpt-4o
    litellm_params: { model: openai/gpt-4o, api_key: ${LITERAL}, rpm: 600 }
  - model_name: gpt-4o
    litellm_params: { model: azure/gpt-4o-prod, api_base: os.environ/AZURE_API_BASE, api_key: os.environ/AZURE_API_KEY, api_version: "2024-10-21", rpm: 300 }
    model_info: { base_model: azure/gpt-4o }
router_settings: { allowed_fails: 3 }
`;
const BIFROST = { providers: { anthropic: { keys: [{ value: "env.ANTHROPIC_API_KEY", models: ["claude-sonnet-4-5-20250929"], weight: 1 }] } } };
/** LiteLLM's embedding mode on a chat model: converted, but the validator refuses it. */
const REFUSED = "model_list:\n  - { model_name: e, litellm_params: { model: anthropic/claude-haiku-4-5-20251001 }, model_info: { mode: embedding } }\n";

describe("console: Import config page in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const nav = () => page.getByRole("navigation", { name: "Pages" });
  const convertButton = () => page.getByRole("button", { name: "Convert", exact: true });
  const textBox = () => page.getByLabel("LiteLLM config.yaml or Bifrost config.json");
  const yamlText = () => page.getByTestId("import-yaml").innerText();
  /** Click Convert, then wait for this conversion's outcome (the page clears the last one first): a result, or the error box. */
  const convert = async (expect: "result" | "error") => {
    await convertButton().click();
    await page.waitForFunction(() => document.querySelector("[data-testid=import-result]") !== null || document.querySelector("main [role=alert]") !== null);
    if (expect === "result") {
      await page.getByTestId("import-result").waitFor();
    } else {
      await page.getByRole("alert").waitFor();
      assert.equal(await page.getByTestId("import-result").count(), 0, "no result with the error");
    }
  };

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-import-"));
    // The embedded default config has no caller keys: one admin key added, so the console signs in as the other suites do.
    const yaml = `${await readFile(DEFAULT_CONFIG_PATH, "utf8")}\nkeys:\n  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }\n`;
    gw = await startTestGateway(yaml);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gw.url });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("import", started, work, context, gw));

  test("the page is in the navigation right after Providers & routes; Convert waits for text", async () => {
    const labels = await nav().getByRole("link").allInnerTexts();
    const at = labels.indexOf("Providers & routes");
    assert.ok(at >= 0, `no Providers & routes in ${labels.join(", ")}`);
    assert.equal(labels[at + 1], "Import config", `the navigation: ${labels.join(", ")}`);
    await nav().getByRole("link", { name: "Import config", exact: true }).click();
    assert.equal(new URL(page.url()).pathname, "/console/import");
    await page.getByRole("heading", { name: "Import config", exact: true }).waitFor();
    assert.match(await page.getByTestId("import-intro").innerText(), /npm start -- --config litellm_config\.yaml[\s\S]*signalbox config import/);
    const formats = await page.locator("select[name=format] option").evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
    assert.deepEqual(formats, [
      ["", "Told by its shape"],
      ["litellm", "LiteLLM"],
      ["bifrost", "Bifrost"],
    ]);
    assert.equal(await convertButton().isDisabled(), true, "nothing to convert yet");
    await textBox().fill("   \n");
    assert.equal(await convertButton().isDisabled(), true, "blank text is nothing to convert");
  });

  test("a LiteLLM config.yaml: valid, weighted 2:1, allowed_fails dropped, the literal key masked and named", async () => {
    await textBox().fill(LITELLM);
    await convert("result");
    await shot("import-litellm");

    assert.equal(await page.getByTestId("import-status").getAttribute("data-valid"), "true");
    assert.match(await page.getByTestId("import-status").innerText(), /The gateway's validator takes it\./);
    assert.equal(await page.getByTestId("import-format").innerText(), "LiteLLM");
    assert.equal(await page.getByRole("alert").count(), 0, "no error");

    // The notes: TO DO first (the server lists the dropped one first), each kind counted.
    const rows = page.getByTestId("import-note");
    const kinds = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute("data-kind")));
    assert.ok(kinds.includes("dropped") && kinds.includes("manual"), `kinds: ${kinds}`);
    const order = ["manual", "changed", "dropped"];
    assert.deepEqual(
      kinds,
      [...kinds].sort((a, b) => order.indexOf(a!) - order.indexOf(b!)),
      "TO DO, then changed, then dropped",
    );
    const dropped = page.locator("[data-testid=import-note][data-path='router_settings.allowed_fails']");
    assert.equal(await dropped.getAttribute("data-kind"), "dropped");
    assert.match(await dropped.innerText(), /dropped/);
    assert.equal(await dropped.locator("code").innerText(), "router_settings.allowed_fails", "the path in monospace");
    assert.match(await rows.first().innerText(), /^TO DO/, "a manual note reads TO DO");
    for (const k of order) assert.equal(await page.locator(`[data-testid=import-count][data-kind=${k}]`).getAttribute("data-count"), String(kinds.filter((x) => x === k).length), k);

    // The YAML: text in a <pre>, the group weighted by its rpm, the literal key masked.
    const out = page.getByTestId("import-yaml");
    assert.equal(await out.evaluate((el) => el.tagName), "PRE");
    const yaml = await yamlText();
    assert.match(yaml, /strategy: weighted/);
    assert.match(yaml, /weight: 2/);
    assert.ok(!yaml.includes(LITERAL), "the literal key is not shown");
    assert.match(yaml, /api_key: "?\*{8}"?/);
    const shown = await page.locator("main").evaluate((m) => {
      const copy = m.cloneNode(true) as HTMLElement;
      for (const t of copy.querySelectorAll("textarea")) t.remove();
      return copy.textContent ?? "";
    });
    assert.ok(!shown.includes(LITERAL), "the key is in no text shown (only in the pasted text)");

    // The file's literal secrets: a warning naming where, and the variables to set.
    const warning = page.getByTestId("import-literal-secrets");
    assert.match(await warning.innerText(), /Secrets written in the file itself \(masked below\): move them into the environment/);
    assert.deepEqual(await page.getByTestId("import-literal-secret").allInnerTexts(), ["model_list[0].litellm_params.api_key"]);
    assert.match(await page.getByTestId("import-env").innerText(), /^Set in the gateway's environment: AZURE_API_BASE, AZURE_API_KEY$/);

    // Download: the YAML as signalbox.yaml; Copy puts it on the clipboard.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("import-download").click()]);
    assert.equal(download.suggestedFilename(), "signalbox.yaml");
    const saved = join(work, "signalbox.yaml");
    await download.saveAs(saved);
    assert.equal((await readFile(saved, "utf8")).trim(), yaml.trim());
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await page.getByRole("button", { name: "Copied", exact: true }).waitFor();
    assert.equal((await page.evaluate(() => navigator.clipboard.readText())).trim(), yaml.trim());
  });

  test("a Bifrost config.json loaded through the file input: told by its shape", async () => {
    const file = join(work, "config.json");
    await writeFile(file, JSON.stringify(BIFROST, null, 2));
    await page.getByTestId("import-file").setInputFiles(file);
    await page.getByText("Loaded from config.json").waitFor();
    assert.equal(JSON.parse(await textBox().inputValue()).providers.anthropic.keys[0].value, "env.ANTHROPIC_API_KEY", "the file's text in the box");
    await convert("result");
    await shot("import-bifrost");
    assert.equal(await page.getByTestId("import-format").innerText(), "Bifrost");
    assert.equal(await page.getByTestId("import-status").getAttribute("data-valid"), "true");
    const yaml = await yamlText();
    assert.match(yaml, /^# Imported from Bifrost's config\.json/, "the file's name in the first comment");
    assert.match(yaml, /- name: anthropic\n\s+type: anthropic/);
    assert.match(yaml, /api_key: \$\{ANTHROPIC_API_KEY\}/);
    assert.equal(await page.getByTestId("import-literal-secrets").count(), 0, "no literal secrets");
  });

  test("text that is neither format: the gateway's refusal naming format", async () => {
    // Emptied first, as a user starting over: the loaded file's name goes with its text.
    await textBox().fill("");
    assert.equal(await page.getByText("Loaded from config.json").count(), 0, "the file's name is forgotten");
    await textBox().fill("hello: world\n");
    await convert("error");
    await shot("import-error");
    const alert = page.getByRole("alert");
    assert.equal(await alert.getAttribute("data-code"), "invalid_argument");
    assert.match(await alert.innerText(), /format/);
    assert.match(await alert.innerText(), /not a LiteLLM config/);
    assert.match(await alert.innerText(), /pick LiteLLM or Bifrost under Format/, "the page's own headline");
  });

  test("a result the validator refuses: the invalid status names the field", async () => {
    await textBox().fill(REFUSED);
    await page.locator("select[name=format]").selectOption("litellm");
    await convert("result");
    await shot("import-invalid");
    assert.equal(await page.getByTestId("import-status").getAttribute("data-valid"), "false");
    const invalid = page.getByTestId("import-invalid");
    assert.equal(await invalid.getAttribute("data-field"), "deployments[0].operations");
    const said = await invalid.innerText();
    assert.match(said, /deployments\[0\]\.operations: \S/);
    assert.equal(said.split("deployments[0].operations").length - 1, 1, `the field named once: ${said}`);
    assert.equal(await page.getByTestId("import-format").innerText(), "LiteLLM");
    // Still shown, to fix by hand; no file's name in it (the text was typed).
    const yaml = await yamlText();
    assert.match(yaml, /^# Imported from LiteLLM's config\.yaml by/);
    assert.match(yaml, /deployments:/);
  });

  test("no errors in the browser console", () => {
    // The refused conversion answers 400, which the browser logs as a failed resource: that is expected.
    const unexpected = errors.filter((e) => !/status of 400/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
