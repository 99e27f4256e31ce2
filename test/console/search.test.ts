// The console's Search page in a real browser: Debian's Chromium (driven by playwright-core) signs
// in to a gateway started in process on the embedded default config (config/default.yaml: the
// `search` route through mock/search, which makes pages up about each query on example.com
// addresses at $0.005 a search), with an admin key added. The page is in the navigation after
// the Playground and Realtime; its model picker offers what serves search (the `search` route, the mock/search
// deployment) and not the chat routes. Two queries come back grouped by query, each page a link to
// its example.com URL opening in a new tab, with the deployment (mock/search), two searches billed
// and their cost ($0.0100). Domains in both fields get the gateway's invalid_argument naming
// blocked_domains, shown as an error box, and no results.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { readFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "console", "search", "secret"].join("-");

const QUERIES = ["signalbox gateway", "llm routing fallbacks"];

describe("console: search page in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const nav = () => page.getByRole("navigation", { name: "Pages" });

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-search-"));
    // The embedded default config has no caller keys: one admin key added, so the console signs in as the other suites do.
    const yaml = `${await readFile(DEFAULT_CONFIG_PATH, "utf8")}\nkeys:\n  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }\n`;
    gw = await startTestGateway(yaml);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("search", started, work, context, gw));

  test("the page is in the navigation after the Playground and Realtime; its picker offers what serves search", async () => {
    const labels = await nav().getByRole("link").allInnerTexts();
    const at = labels.indexOf("Playground");
    assert.ok(at >= 0, `no Playground in ${labels.join(", ")}`);
    assert.deepEqual(labels.slice(at, at + 3), ["Playground", "Realtime", "Search"], `the navigation: ${labels.join(", ")}`);
    await nav().getByRole("link", { name: "Search", exact: true }).click();
    assert.equal(new URL(page.url()).pathname, "/console/search");
    await page.getByRole("heading", { name: "Search", exact: true }).waitFor();
    await page.locator("select[name=model] option[value='mock/search']").waitFor({ state: "attached" });
    assert.equal(await page.locator("select[name=model]").inputValue(), "search", "the default model");
    const options = await page.locator("select[name=model] option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.ok(options.includes("search"), `options: ${options}`);
    assert.ok(options.includes("mock/search"), `options: ${options}`);
    for (const chat of ["default", "mock/fast", "embed", "rerank"]) assert.ok(!options.includes(chat), `${chat} does not serve search: ${options}`);
    assert.equal(await page.getByRole("button", { name: "Search", exact: true }).isDisabled(), true, "nothing to search yet");
  });

  test("two queries: the pages grouped by query, the deployment, two searches and their cost", async () => {
    await page.locator("textarea[name=queries]").fill(QUERIES.join("\n"));
    await page.locator("input[name=max_results]").fill("3");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByTestId("search-answer").waitFor();
    await shot("search-results");

    assert.equal(await page.getByTestId("search-answer").getAttribute("data-deployment"), "mock/search");
    assert.match(await page.getByTestId("search-deployment").innerText(), /^mock\/search$/, "one attempt: no attempt count");
    assert.equal(await page.getByTestId("search-units").innerText(), "2");
    assert.equal(await page.getByTestId("search-cost").innerText(), "$0.0100", "two searches at $0.005, formatted as the console formats cost");
    assert.match(await page.getByTestId("search-latency").innerText(), /\d+(\.\d+)? (ms|s)$/);
    assert.ok((await page.getByTestId("search-trace").innerText()).trim().length > 0);

    const groups = page.getByTestId("search-query");
    assert.equal(await groups.count(), 2);
    for (const [i, q] of QUERIES.entries()) {
      const g = groups.nth(i);
      assert.equal(await g.getAttribute("data-query"), q);
      assert.equal(await g.getAttribute("data-count"), "3");
      const slug = q.replace(/ /g, "-");
      const hits = g.getByTestId("search-hit");
      assert.equal(await hits.count(), 3);
      for (let n = 0; n < 3; n++) {
        const url = `https://${slug}-${n + 1}.example.com/`;
        const hit = hits.nth(n);
        assert.equal(await hit.getAttribute("data-url"), url);
        const link = hit.getByRole("link");
        assert.equal(await link.getAttribute("href"), url);
        assert.equal(await link.getAttribute("target"), "_blank");
        assert.equal(await link.getAttribute("rel"), "noreferrer noopener");
        assert.equal(await link.innerText(), `Mock result ${n + 1} for "${q}"`);
        assert.equal(await hit.getByTestId("search-hit-url").innerText(), url);
        assert.match(await hit.getByTestId("search-hit-snippet").innerText(), new RegExp(`A made-up page about ${q}`));
      }
    }
    // Grouped by query: the first group's card names the first query, and holds none of the second query's pages.
    assert.match(await page.locator(".search-query").nth(0).innerText(), /Query 1:\s*signalbox gateway/);
    assert.equal(await groups.nth(0).locator("a[href*='llm-routing']").count(), 0);
    assert.equal(await page.getByRole("alert").count(), 0, "no error");

    // The request link names the search's request record (the gateway's usage record of it).
    const requestId = await page.getByTestId("search-request").innerText();
    const record = gw.usage.recent().find((r) => r.id === requestId);
    assert.ok(record, `no usage record ${requestId}`);
    assert.equal(record.deployment, "mock/search");
  });

  test("domains in both fields: the gateway's error names blocked_domains", async () => {
    await page.locator("input[name=allowed_domains]").fill("example.com");
    await page.locator("input[name=blocked_domains]").fill("example.org");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    await shot("search-error");
    assert.equal(await alert.getAttribute("data-code"), "invalid_argument");
    const text = await alert.innerText();
    assert.match(text, /The request is not valid/);
    assert.match(text, /blocked_domains/);
    assert.equal(await page.getByTestId("search-answer").count(), 0, "the earlier answer is gone");
    assert.equal(await page.getByTestId("search-hit").count(), 0);

    // One field only: searches again, on the allowed domain.
    await page.locator("input[name=blocked_domains]").fill("");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByTestId("search-answer").waitFor();
    assert.equal(await alert.count(), 0);
    assert.equal(await page.getByTestId("search-hit").first().getAttribute("data-url"), "https://signalbox-gateway-1.example.com/");
  });

  test("no errors in the browser console", () => {
    // The invalid search answers 400, which the browser logs as a failed resource: that one is expected.
    const unexpected = errors.filter((e) => !/status of 400/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
