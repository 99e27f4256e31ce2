// The console's Mirrors page in a real browser: Debian's Chromium (driven by playwright-core) signs
// in to a gateway started in process whose routes mirror their requests to mock/b. Three requests
// on `chat` (answered by mock/a, mirrored to mock/b) and one on `down` (its only deployment always
// fails; its mirror answers) are sent with the typed client; once the mirrors have run, the page
// shows one card per route → target with the counts GetMirrorReport gives (chat: 3 mirrored, 3
// answered on both sides, compared 3; down: the route failed, the mirror answered), the two sides'
// table, and the least alike pairs, whose request ids open the Requests page's detail. The route
// filter narrows the page to one route, and a route without mirrors shows the empty state.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, type GetMirrorReportResponse, type SignalboxClient, user } from "@signalbox/client";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { mirrorConfig } from "../helpers/mirror-config.ts";
import { poll } from "../helpers/wait.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "mirrors", "secret"].join("-");

const CONFIG = mirrorConfig('{"better": "tie", "reason": "Both say the same."}', `  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }`);

describe("console: mirrors in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let client: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** The report as the API gives it, once every mirror has been recorded. */
  let report: GetMirrorReportResponse;

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const results = () => page.getByTestId("mirrors");
  const summary = (route: string) => page.locator(`[data-testid=mirror-summary][data-route="${route}"]`);
  const figure = (card: Locator, id: string) => card.getByTestId(id).locator(".stat-value");
  const side = (card: Locator, s: "route" | "mirror") => card.locator(`[data-testid=mirror-side][data-side=${s}]`);
  /** Apply a route filter (empty: every route), then wait for the answer to that very query. */
  async function filterRoute(route: string) {
    await page.getByRole("form", { name: "Mirror filters" }).locator("input[name=route]").fill(route);
    await page.getByRole("form", { name: "Mirror filters" }).getByRole("button", { name: "Apply" }).click();
    await page.locator(`[data-testid=mirrors][data-route="${route}"]:is([data-state=rows], [data-state=empty])`).waitFor();
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-mirrors-"));
    gw = await startTestGateway(CONFIG);
    client = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    for (const text of ["What is the capital of France?", "Name three primes.", "Say hello in Spanish."]) await client.chat.complete({ model: "chat", messages: [user(text)] });
    await assert.rejects(client.chat.complete({ model: "down", messages: [user("Is anyone there?")] }));
    await client.chat.complete({ model: "plain", messages: [user("not mirrored")] });
    await client.chat.complete({ model: "judged", messages: [user("Which is better?")] });
    // Every mirror has ended and been recorded.
    report = await poll(
      async () => {
        if (gw.gw.engine.mirrors.running() !== 0) return undefined;
        const r = await client.usage.getMirrorReport({ startTime: timestampFromMs(Date.now() - 3_600_000), endTime: timestampFromMs(Date.now() + 1000) });
        const n = (route: string) => Number(r.summaries.find((s) => s.route === route)?.count ?? 0n);
        return n("chat") === 3 && n("down") === 1 && n("judged") === 1 ? r : undefined;
      },
      10_000,
      "the mirrors to be recorded",
    );
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("mirrors", started, work, context, gw));

  test("the page shows each route → target with its counts and both sides", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Mirrors", exact: true }).click();
    assert.match(page.url(), /\/console\/mirrors$/);
    await page.locator("[data-testid=mirrors][data-state=rows]").waitFor();
    assert.equal(await page.getByTestId("mirror-summary").count(), 3);
    assert.equal(await page.getByTestId("mirrors-truncated").count(), 0);

    const chat = summary("chat");
    assert.equal(await chat.getAttribute("data-target"), "mock/b");
    assert.match((await chat.locator(".card-head").innerText()).replace(/\s+/g, " "), /chat → mock\/b/);
    assert.equal(await figure(chat, "mirror-count").innerText(), "3");
    assert.equal(await figure(chat, "mirror-compared").innerText(), "3");
    const chatApi = report.summaries.find((s) => s.route === "chat")!;
    assert.equal(await figure(chat, "mirror-similarity").innerText(), chatApi.meanSimilarity.toFixed(3));
    assert.equal(await figure(chat, "mirror-failed-only").innerText(), "0");
    assert.equal(await figure(chat, "mirror-answered-only").innerText(), "0");
    assert.equal(await side(chat, "route").getAttribute("data-ok"), "3");
    assert.equal(await side(chat, "route").getAttribute("data-failed"), "0");
    assert.equal(await side(chat, "mirror").getAttribute("data-ok"), "3");
    assert.match(await side(chat, "route").innerText(), /mock\/a \(3\)/);
    assert.match(await side(chat, "mirror").innerText(), /mock\/b \(3\)/);

    const down = summary("down");
    assert.equal(await figure(down, "mirror-count").innerText(), "1");
    assert.equal(await figure(down, "mirror-compared").innerText(), "0");
    assert.equal(await side(down, "route").getAttribute("data-ok"), "0");
    assert.equal(await side(down, "route").getAttribute("data-failed"), "1");
    assert.equal(await side(down, "mirror").getAttribute("data-ok"), "1");
    assert.equal(await figure(down, "mirror-answered-only").innerText(), "1");
    assert.match(await down.getByTestId("mirror-answered-only").innerText(), /Answered where route failed\s*1/i);
    assert.equal(await figure(down, "mirror-failed-only").innerText(), "0");
    assert.equal(await down.getByTestId("mirror-pair").count(), 0);
    await shot("mirrors");
  });

  test("a judged route shows the judge's verdicts, on the card and on each pair", async () => {
    const judged = summary("judged");
    assert.equal(await figure(judged, "mirror-verdicts").innerText(), "0 / 0 / 1");
    assert.match(await figure(judged, "mirror-semantic").innerText(), /^\d\.\d{3}$/);
    assert.match(await judged.getByTestId("mirror-verdicts").innerText(), /of 1 judged/);
    assert.match(await judged.getByTestId("mirror-pair-verdict").innerText(), /as good\s*Both say the same\./);
    assert.match(await judged.innerText(), /Where the judge preferred the route's answer\s*None/);
    // A route without a judge shows neither.
    assert.equal(await summary("chat").getByTestId("mirror-verdicts").count(), 0);
    assert.equal(await summary("chat").getByTestId("mirror-pair-verdict").count(), 0);
  });

  test("a least alike pair's request id opens the request's page", async () => {
    const chatApi = report.summaries.find((s) => s.route === "chat")!;
    const pairs = summary("chat").getByTestId("mirror-pair");
    assert.equal(await pairs.count(), chatApi.leastAlike.length);
    assert.ok(chatApi.leastAlike.length > 0);
    const first = chatApi.leastAlike[0];
    assert.equal(await pairs.first().getAttribute("data-request-id"), first.requestId);
    assert.equal(await pairs.first().getAttribute("data-similarity"), first.similarity.toFixed(3));
    const link = pairs.first().getByTestId("mirror-pair-request");
    assert.equal(await link.getAttribute("href"), `/console/requests/${encodeURIComponent(first.requestId)}`);
    await link.click();
    await page.getByRole("heading", { level: 1, name: "Request", exact: true }).waitFor();
    await page.locator(".page-header code", { hasText: first.requestId }).waitFor();
    assert.match(page.url(), new RegExp(`/console/requests/${first.requestId}$`));
    await page.getByText("mock/a").first().waitFor();
    await page.goBack();
    await page.locator("[data-testid=mirrors][data-state=rows]").waitFor();
  });

  test("the route filter narrows to one route; a route without mirrors shows the empty state", async () => {
    await filterRoute("down");
    assert.equal(await page.getByTestId("mirror-summary").count(), 1);
    assert.equal(await summary("down").count(), 1);

    await filterRoute("plain");
    await page.getByTestId("mirrors-empty").waitFor();
    assert.match(await page.getByTestId("mirrors-empty").innerText(), /No mirrored requests in this range.*Add mirror: \{target: …\} to a route to compare a candidate model on real traffic\./);
    assert.equal(await page.getByTestId("mirror-summary").count(), 0);
    await shot("mirrors-empty");

    await filterRoute("chat");
    assert.equal(await page.getByTestId("mirror-summary").count(), 1);
    assert.equal(await figure(summary("chat"), "mirror-count").innerText(), "3");

    // Another range refetches (and still finds this hour's mirrors).
    await page.getByRole("radiogroup", { name: "Range" }).getByRole("radio", { name: "1 hour" }).click();
    await page.locator('[data-testid=mirrors][data-range="1h"][data-route=chat][data-state=rows]').waitFor();
    assert.equal(await page.getByTestId("mirror-summary").count(), 1);
  });

  test("the Models page marks each mirrored route, linking to this page", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Models & health", exact: true }).click();
    const chip = page.getByTestId("route-mirror").filter({ hasText: "mirror → mock/b" });
    await chip.first().waitFor();
    assert.equal(await page.getByTestId("route-mirror").count(), 3);
    assert.match((await chip.first().getAttribute("title")) ?? "", /100% of its requests copied to mock\/b/);
    assert.equal(await chip.first().getAttribute("href"), "/console/mirrors");
    await chip.first().click();
    await page.locator("[data-testid=mirrors]:is([data-state=rows], [data-state=empty])").waitFor();
    assert.match(page.url(), /\/console\/mirrors$/);
  });

  test("no errors in the browser console", () => {
    // A request's page asks for its stored Responses API response; a chat completion has none, and
    // Chromium logs that 404 as a failed resource load (the page shows nothing for it).
    const expected = /\/console\/requests\/req_[^:]+: Failed to load resource: the server responded with a status of 404 \(Not Found\)$/;
    assert.deepEqual(
      errors.filter((e) => !expected.test(e)),
      [],
    );
  });
});
