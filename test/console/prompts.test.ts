// The console's Prompts page (PromptService) in a real browser: Debian's Chromium (driven by
// playwright-core) signs in to a gateway started in process with a config-file prompt, a mock
// provider and a `default` route. The list shows the config prompt as read-only; the page creates
// a prompt (a refusal naming its field first), adds a second version, moves the production label
// and removes another, renders the production version with its variable filled (RenderPrompt),
// runs it through POST /v1/responses with the session's key (the mock answers: text, deployment,
// cost), and deletes it after a confirm. A service key sees the prompts with no write controls.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, PromptSource, type SignalboxClient } from "@signalbox/client";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "prompts", "console", "secret"].join("_");
const SERVICE = ["svc", "prompts", "console", "secret"].join("_");

const CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/chat] }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: prompts-svc, hash: "${hashKey(SERVICE)}", team: platform, role: service }
prompts:
  - { id: cfg, version: 1, instructions: "Hi {{name}}" }
`;

const ID = "support-reply";

interface RunBody {
  prompt: { id: string; version: string; variables: Record<string, string> };
  input?: string;
  model?: string;
}

describe("console: the Prompts page", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (p: Page, name: string) => p.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const row = (id: string, p = page) => p.locator(`[data-testid=prompt-row][data-id="${id}"]`);
  const cells = (r: Locator) => r.locator("td").evaluateAll((tds) => tds.map((td) => (td as HTMLElement).innerText.trim()));
  const chips = (r: Locator) => r.getByTestId("prompt-label").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-label")}→${e.getAttribute("data-version")}`));
  const version = (v: string) => page.locator(`[data-testid=prompt-version][data-version="${v}"]`);
  const versionsShown = () => page.getByTestId("prompt-version").evaluateAll((els) => els.map((e) => [e.getAttribute("data-version"), e.getAttribute("data-labels")]));
  const dialog = () => page.getByRole("dialog");

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-prompts-"));
    gw = await startTestGateway(CONFIG);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("prompts", started, work, context, gw));

  test("the navigation leads to Prompts; the config file's prompt is listed, shared and read-only", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Prompts", exact: true }).click();
    await page.waitForURL(`${gw.url}/console/prompts`);
    await row("cfg").waitFor();
    assert.equal(await row("cfg").getAttribute("data-source"), "config");
    const [id, source, team, latest, labels, count] = await cells(row("cfg"));
    assert.equal(id, "cfg");
    assert.equal(source, "config");
    assert.equal(team, "shared");
    assert.equal(latest, "1");
    assert.equal(labels, "–");
    assert.equal(count, "1");

    await row("cfg").click();
    await page.waitForURL(`${gw.url}/console/prompts/cfg`);
    await page.getByTestId("prompt-readonly").waitFor();
    assert.equal((await page.getByTestId("prompt-readonly").innerText()).trim(), "read-only (config file)");
    await version("1").waitFor();
    assert.equal(await version("1").getByTestId("version-instructions").innerText(), "Hi {{name}}");
    assert.equal((await version("1").getByTestId("version-variables").innerText()).trim(), "name");
    // No write controls on a config prompt.
    assert.equal(await page.getByTestId("prompt-new-version").count(), 0);
    assert.equal(await page.getByTestId("prompt-delete").count(), 0);
    assert.equal(await page.getByRole("button", { name: "Set label" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: /^Remove label/ }).count(), 0);
    await shot(page, "prompts-config");
  });

  test("a new prompt: a refusal names its field inline; then version 1 with the production label", async () => {
    await page.getByTestId("prompt-new").click();
    const form = dialog().getByRole("form", { name: "New prompt" });
    await form.waitFor();
    await form.locator("input[name=prompt_id]").fill(ID);
    await form.locator("input[name=model]").fill("default");
    assert.equal(await form.locator("input[name=team]").count(), 1, "admins may name a team");
    await form.locator("textarea[name=instructions]").fill("You answer questions about {{topic}}.");
    await form.getByRole("button", { name: "+ Add message" }).click();
    await form.getByLabel("Message 1 role").selectOption("user");
    await form.getByLabel("Message 1 content").fill("Tell me one fact about {{topic}}.");
    await form.locator("input[name=description]").fill("first draft");
    // An upper-case label is refused: the gateway names the field, the form shows it.
    await form.locator("input[name=labels]").fill("Production!");
    await form.getByRole("button", { name: "Create prompt" }).click();
    const refusal = form.getByRole("alert");
    await refusal.waitFor();
    assert.equal(await refusal.getAttribute("data-code"), "invalid_argument");
    const said = await refusal.innerText();
    assert.match(said, /Field labels/, said);
    assert.equal(await form.locator("input[name=labels]").getAttribute("aria-invalid"), "true");
    await shot(page, "prompts-refused");

    await form.locator("input[name=labels]").fill("production");
    await form.getByRole("button", { name: "Create prompt" }).click();
    await page.waitForURL(`${gw.url}/console/prompts/${ID}`);
    await dialog().waitFor({ state: "detached" });
    await version("1").waitFor();
    assert.deepEqual(await versionsShown(), [["1", "production"]]);
    assert.equal(await version("1").getByTestId("version-instructions").innerText(), "You answer questions about {{topic}}.");
    assert.deepEqual(
      await version("1").getByTestId("version-messages").locator(".convo-item").evaluateAll((els) => els.map((e) => [e.getAttribute("data-role"), (e.querySelector(".convo-text") as HTMLElement).innerText])),
      [["user", "Tell me one fact about {{topic}}."]],
    );
    assert.equal((await version("1").getByTestId("version-variables").innerText()).trim(), "topic");
    assert.equal(await version("1").getByTestId("version-description").innerText(), "first draft");
    assert.match(await version("1").innerText(), /created by console-admin/);

    await row(ID).waitFor();
    const [id, source, team, latest, , count, , description] = await cells(row(ID));
    assert.deepEqual([id, source, team, latest, count, description], [ID, "store", "shared", "1", "1", "first draft"]);
    assert.deepEqual(await chips(row(ID)), ["production→1"]);
    assert.equal(await page.getByTestId("prompt-readonly").count(), 0);
    assert.equal(await page.getByTestId("prompt-delete").count(), 1);
  });

  test("a second version, starting from the newest; listed newest first", async () => {
    await page.getByTestId("prompt-new-version").click();
    const form = dialog().getByRole("form", { name: "New version" });
    await form.waitFor();
    assert.equal(await form.locator("input[name=prompt_id]").inputValue(), ID);
    assert.equal(await form.locator("input[name=prompt_id]").getAttribute("readonly"), "");
    assert.equal(await form.locator("input[name=team]").count(), 0, "the team of an existing prompt is not asked");
    assert.equal(await form.locator("textarea[name=instructions]").inputValue(), "You answer questions about {{topic}}.", "the newest version's text to start from");
    assert.equal(await form.getByLabel("Message 1 content").inputValue(), "Tell me one fact about {{topic}}.");
    await form.locator("textarea[name=instructions]").fill("You answer questions about {{topic}}, briefly.");
    await form.locator("input[name=description]").fill("shorter");
    await form.locator("input[name=labels]").fill("staging");
    // Model parameters: a typed non-number is caught here, a number out of range by the gateway (naming the field).
    await form.locator('input[name="parameters.temperature"]').fill("warm");
    await form.getByRole("button", { name: "Create version" }).click();
    await form.getByText('Temperature: "warm" is not a number.').waitFor();
    await form.locator('input[name="parameters.temperature"]').fill("5");
    await form.getByRole("button", { name: "Create version" }).click();
    await form.locator('input[name="parameters.temperature"][aria-invalid=true]').waitFor();
    await form.locator('input[name="parameters.temperature"]').fill("0.3");
    await form.locator('input[name="parameters.max_output_tokens"]').fill("200");
    await form.locator('textarea[name="parameters.stop"]').fill("END\n###");
    // (The mock model has no reasoning: reasoning_effort stays unset, or Try it's run below would be refused.)
    assert.equal(await form.locator('select[name="parameters.reasoning_effort"]').inputValue(), "");
    await form.getByRole("button", { name: "Create version" }).click();
    await dialog().waitFor({ state: "detached" });
    await page.locator('[data-testid=prompt-row][data-id="support-reply"][data-latest="2"]').waitFor();
    await version("2").waitFor();
    assert.deepEqual(await versionsShown(), [
      ["2", "staging"],
      ["1", "production"],
    ]);
    assert.equal(await version("2").getByTestId("version-description").innerText(), "shorter");
    const stored = (await admin.prompts.getPrompt({ promptId: ID })).versions.find((v) => v.version === "2")!.parameters;
    assert.deepEqual([stored?.temperature, stored?.maxOutputTokens, stored?.stop, stored?.reasoningEffort, stored?.topP], [0.3, 200, ["END", "###"], "", undefined]);
    assert.match(await version("2").getByTestId("version-parameters").innerText(), /0\.3/);
    assert.deepEqual((await chips(row(ID))).sort(), ["production→1", "staging→2"]);
  });

  test("labels: production moves to version 2; staging is removed", async () => {
    await version("2").getByLabel("Label for version 2").fill("production");
    await version("2").getByRole("button", { name: "Set label" }).click();
    await page.locator('[data-testid=prompt-version][data-version="2"][data-labels="production,staging"]').waitFor();
    assert.deepEqual(await versionsShown(), [
      ["2", "production,staging"],
      ["1", ""],
    ]);
    await version("2").getByRole("button", { name: "Remove label staging" }).click();
    await page.locator('[data-testid=prompt-version][data-version="2"][data-labels="production"]').waitFor();
    await page.locator('[data-testid=prompt-row][data-id="support-reply"] [data-testid=prompt-label]').nth(1).waitFor({ state: "detached" });
    assert.deepEqual(await chips(row(ID)), ["production→2"]);
    const got = await admin.prompts.getPrompt({ promptId: ID });
    assert.deepEqual({ ...got.prompt?.labels }, { production: "2" });
    await shot(page, "prompts-versions");
  });

  test("Try it: Render fills the variable of the production version", async () => {
    const panel = page.getByTestId("try-it");
    assert.equal(await panel.locator("select[name=try_version]").inputValue(), "production");
    await panel.getByLabel("Variable topic").fill("failover");
    await panel.getByTestId("try-render").click();
    const rendered = page.getByTestId("rendered");
    await rendered.waitFor();
    assert.equal(await rendered.getAttribute("data-version"), "2");
    assert.equal(await rendered.getAttribute("data-model"), "default");
    assert.equal(await page.getByTestId("rendered-instructions").innerText(), "You answer questions about failover, briefly.");
    assert.equal(await page.getByTestId("rendered-messages").locator(".convo-text").innerText(), "Tell me one fact about failover.");

    // Version 1, picked by number, renders its own text.
    await panel.locator("select[name=try_version]").selectOption("1");
    await panel.getByLabel("Variable topic").fill("retries");
    await panel.getByTestId("try-render").click();
    await page.locator("[data-testid=rendered][data-version='1']").waitFor();
    assert.equal(await page.getByTestId("rendered-instructions").innerText(), "You answer questions about retries.");
    await panel.locator("select[name=try_version]").selectOption("production");
    await panel.getByLabel("Variable topic").fill("failover");
  });

  test("Try it: Run sends the prompt to /v1/responses with the session's key and shows the answer, deployment and cost", async () => {
    const panel = page.getByTestId("try-it");
    await panel.locator("textarea[name=try_input]").fill("Keep it to one line.");
    const sent = page.waitForRequest((r) => new URL(r.url()).pathname === "/v1/responses" && r.method() === "POST");
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/responses");
    await panel.getByTestId("try-run").click();
    const req = await sent;
    assert.equal(req.headers().authorization, `Bearer ${ADMIN}`);
    assert.deepEqual(req.postDataJSON() as RunBody, { prompt: { id: ID, version: "production", variables: { topic: "failover" } }, input: "Keep it to one line." });
    const res = await answered;
    assert.equal(res.status(), 200, await res.text());
    const body = (await res.json()) as {
      prompt?: { id: string; version: string; variables: Record<string, string> };
      output: { type: string; content?: { type: string; text?: string }[] }[];
      signalbox: { deployment: string; cost_nano_usd: number };
    };
    // The label resolved to the version it points at now.
    assert.deepEqual(body.prompt, { id: ID, version: "2", variables: { topic: "failover" } });
    const text = body.output
      .filter((o) => o.type === "message")
      .flatMap((o) => o.content ?? [])
      .map((c) => c.text ?? "")
      .join("");
    assert.ok(text, "the mock answered");

    const answer = page.getByTestId("run-answer");
    await answer.waitFor();
    assert.equal(await page.getByTestId("run-text").innerText(), text);
    assert.equal(await page.getByTestId("run-deployment").innerText(), "mock/chat");
    assert.equal(body.signalbox.deployment, "mock/chat");
    const cost = await page.getByTestId("run-cost").innerText();
    assert.match(cost, /^\$\d/);
    assert.ok(body.signalbox.cost_nano_usd > 0, "a priced deployment costs something");
    assert.ok(Math.abs(Number(cost.slice(1)) - body.signalbox.cost_nano_usd / 1e9) < 1e-6, `${cost} vs ${body.signalbox.cost_nano_usd} nano-USD`);
    await shot(page, "prompts-try");
  });

  test("Delete, after a confirm: the prompt is gone; the config prompt stays", async () => {
    await page.getByTestId("prompt-delete").click();
    const confirm = page.getByRole("dialog", { name: `Delete prompt ${ID}` });
    await confirm.waitFor();
    // Cancel first: nothing happens.
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    assert.equal((await admin.prompts.listPrompts({})).prompts.some((p) => p.promptId === ID), true);

    await page.getByTestId("prompt-delete").click();
    await confirm.getByRole("button", { name: "Delete prompt" }).click();
    await page.waitForURL(`${gw.url}/console/prompts`);
    await row(ID).waitFor({ state: "detached" });
    await row("cfg").waitFor();
    const left = (await admin.prompts.listPrompts({})).prompts;
    assert.deepEqual(
      left.map((p) => [p.promptId, p.source]),
      [["cfg", PromptSource.CONFIG]],
    );
  });

  test("a service key reads and renders, and sees no write controls", async () => {
    const p = await context.newPage();
    p.on("console", (m) => {
      if (m.type() === "error") errors.push(`${p.url()}: ${m.text()}`);
    });
    p.on("pageerror", (e) => errors.push(`pageerror on ${p.url()}: ${e.message}`));
    try {
      await p.goto(`${gw.url}/console/`);
      // The admin's session is in the other tab's sessionStorage; this tab signs in by itself.
      await p.locator("input[name=key]").fill(SERVICE);
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.locator("[data-testid=identity][data-role=service]").waitFor();
      await p.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Prompts", exact: true }).click();
      await row("cfg", p).waitFor();
      assert.equal(await p.getByTestId("prompt-new").count(), 0);
      await row("cfg", p).click();
      await p.getByTestId("prompt-readonly").waitFor();
      const panel = p.getByTestId("try-it");
      await panel.getByLabel("Variable name").fill("Ada");
      await panel.getByTestId("try-render").click();
      await p.getByTestId("rendered-instructions").waitFor();
      assert.equal(await p.getByTestId("rendered-instructions").innerText(), "Hi Ada");
      await shot(p, "prompts-service");
    } finally {
      await p.close();
    }
  });

  test("no errors in the browser console", () => {
    // The refused creates (a bad prompt, a temperature out of range) are 400s that Chromium logs as failed resource loads.
    const refused = /\/console\/prompts(\/cfg|\/support-reply)?: Failed to load resource: the server responded with a status of 400 \(Bad Request\)$/;
    assert.equal(errors.filter((e) => refused.test(e)).length <= 2, true, errors.join("\n"));
    assert.deepEqual(
      errors.filter((e) => !refused.test(e)),
      [],
    );
  });
});
