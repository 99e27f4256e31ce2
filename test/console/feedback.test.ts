// The console's feedback controls in a real browser (Debian's Chromium driven by playwright-core):
// a gateway with an A/B route (variants control and candidate, on two mock deployments) answers
// chat requests; on a request's page the Feedback card gives it a thumbs up with a comment
// (UsageService.SubmitFeedback, checked through the API to land on the request's variant), another
// a thumbs up then a thumbs down (scoring again replaces), and a refusal shows in the error box.
// The usage page's Feedback card then shows GetFeedbackSummary by variant (the default),
// deployment and key, and its empty state under a filter that matches nothing. Screenshots go to
// test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, Dimension, type SignalboxClient } from "@signalbox/client";
import type { BrowserContext, Page } from "playwright-core";
import { feedbackId } from "../../src/control/feedback.ts";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { abConfig, askBoth, type Answered } from "../helpers/ab-route.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "feedback", "console", "secret"].join("_");

const CONFIG = abConfig(`  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }`);

describe("console: feedback on a request and the usage page's Feedback card", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const answered: Answered[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const one = (variant: string) => answered.find((a) => a.variant === variant)!;
  const summary = async (groupBy: Dimension[]) =>
    (await admin.usage.getFeedbackSummary({ groupBy })).rows
      .map((r) => ({ group: { ...r.group }, count: r.count, positive: r.positive, negative: r.negative, mean: r.meanValue }))
      .sort((a, b) => JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)));
  /** The usage page's Feedback rows as shown: group, count, up, down, mean, weighted mean (attributes) and the cells' text. */
  const feedbackRows = () =>
    page.getByTestId("feedback-row").evaluateAll((trs) =>
      trs.map((tr) => ({
        group: tr.getAttribute("data-group"),
        count: tr.getAttribute("data-count"),
        positive: tr.getAttribute("data-positive"),
        negative: tr.getAttribute("data-negative"),
        mean: tr.getAttribute("data-mean"),
        weightedMean: tr.getAttribute("data-weighted-mean"),
        cells: [...tr.querySelectorAll("td")].map((td) => (td as HTMLElement).innerText.trim()),
      })),
    );
  const openRequest = async (id: string) => {
    await page.goto(`${gw.url}/console/requests/${encodeURIComponent(id)}`);
    await page.getByTestId("feedback").waitFor();
  };

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-feedback-"));
    gw = await startTestGateway(CONFIG);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    answered.push(...(await askBoth(gw.url, ADMIN, 6)));
    assert.equal(new Set(answered.map((a) => a.variant)).size, 2, "both variants answered");
    // Usage records are written off the response path: wait until every request is listed.
    for (let t = Date.now(); ; ) {
      const { records } = await admin.usage.listRequests({ pageSize: 100 });
      if (answered.every((a) => records.some((r) => r.id === a.requestId))) break;
      assert.ok(Date.now() - t < 5000, "the requests were recorded");
      await new Promise((r) => setTimeout(r, 50));
    }
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("feedback", started, work, context, gw));

  test("a request's page: thumbs up with a comment is saved on the request's variant", async () => {
    const r = one("control");
    await openRequest(r.requestId);
    const card = page.getByTestId("feedback");
    assert.equal(await page.getByTestId("feedback-saved").count(), 0, "nothing saved yet");
    await card.locator("input[name=comment]").fill("clear and short");
    await card.getByRole("button", { name: "Thumbs up" }).click();
    const saved = page.getByTestId("feedback-saved");
    await saved.waitFor();
    assert.equal(await saved.getAttribute("data-value"), "1");
    assert.equal(await saved.getAttribute("data-comment"), "clear and short");
    assert.equal(await saved.getAttribute("data-feedback-id"), feedbackId(r.requestId, "console-admin"));
    assert.match(await saved.innerText(), /Saved 👍 \+1 with the comment “clear and short”/);
    assert.equal(await card.getByRole("button", { name: "Thumbs up" }).getAttribute("aria-pressed"), "true");
    assert.equal(await card.getByRole("alert").count(), 0);
    await shot("feedback-request");

    assert.deepEqual(await summary([Dimension.VARIANT, Dimension.DEPLOYMENT]), [{ group: { variant: "control", deployment: "mock/a" }, count: 1n, positive: 1n, negative: 0n, mean: 1 }]);
  });

  test("another request, opened from the Requests list: thumbs up, then thumbs down replaces it", async () => {
    const r = one("candidate");
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Requests", exact: true }).click();
    await page.locator(`[data-testid=request-row][data-id="${r.requestId}"]`).click();
    await page.waitForURL(`${gw.url}/console/requests/${encodeURIComponent(r.requestId)}`);
    const card = page.getByTestId("feedback");
    await card.waitFor();
    const saved = page.getByTestId("feedback-saved");

    await card.getByRole("button", { name: "Thumbs up" }).click();
    await page.locator("[data-testid=feedback-saved][data-value='1']").waitFor();
    assert.equal(await saved.getAttribute("data-comment"), "");
    assert.match(await saved.innerText(), /without a comment/);
    await card.getByRole("button", { name: "Thumbs down" }).click();
    await page.locator("[data-testid=feedback-saved][data-value='-1']").waitFor();
    assert.match(await saved.innerText(), /Saved 👎 -1/);
    assert.equal(await card.getByRole("button", { name: "Thumbs down" }).getAttribute("aria-pressed"), "true");
    assert.equal(await card.getByRole("button", { name: "Thumbs up" }).getAttribute("aria-pressed"), "false");

    assert.deepEqual(await summary([Dimension.VARIANT]), [
      { group: { variant: "candidate" }, count: 1n, positive: 0n, negative: 1n, mean: -1 },
      { group: { variant: "control" }, count: 1n, positive: 1n, negative: 0n, mean: 1 },
    ]);
    // Opened again later, the page lists the score already given, and whose it is.
    await openRequest(one("control").requestId);
    const entry = page.getByTestId("feedback-entry");
    await entry.waitFor();
    assert.deepEqual([await entry.getAttribute("data-value"), await entry.getAttribute("data-by")], ["1", "console-admin"]);
    assert.match(await entry.innerText(), /\+1 by console-admin \(you\).*“clear and short”/);
  });

  test("a refusal shows in the error box, and nothing is shown as saved", async () => {
    const r = answered.find((a) => a !== one("control") && a !== one("candidate"))!;
    await openRequest(r.requestId);
    // The gateway refuses (as it would a request this key may not read): answered here in its place.
    await page.route("**/signalbox.v1.UsageService/SubmitFeedback", (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ code: "not_found", message: `request_id: no request "${r.requestId}" that this key may read` }) }),
    );
    try {
      const card = page.getByTestId("feedback");
      await card.getByRole("button", { name: "Thumbs down" }).click();
      const alert = card.getByRole("alert");
      await alert.waitFor();
      assert.equal(await alert.getAttribute("data-code"), "not_found");
      assert.match(await alert.innerText(), /Not found\.[\s\S]*that this key may read/);
      assert.equal(await page.getByTestId("feedback-saved").count(), 0);
      assert.equal(await card.getByRole("button", { name: "Thumbs down" }).isEnabled(), true);
    } finally {
      await page.unroute("**/signalbox.v1.UsageService/SubmitFeedback");
    }
    assert.equal((await summary([])).at(0)?.count, 2n, "nothing stored");
  });

  test("the usage page's Feedback card: by variant (default), deployment and key; empty under a filter matching nothing", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Usage", exact: true }).click();
    await page.waitForURL(`${gw.url}/console/usage`);
    const box = page.getByTestId("feedback-summary");
    await page.locator("[data-testid=feedback-summary][data-state=rows]").waitFor();
    assert.equal(await box.getAttribute("data-group-by"), "variant");
    const byVariant = (await feedbackRows()).sort((a, b) => a.group!.localeCompare(b.group!));
    assert.deepEqual(byVariant, [
      { group: "candidate", count: "1", positive: "0", negative: "1", mean: "-1", weightedMean: "-1", cells: ["candidate", "1", "0", "1", "-1.00", "-1.00"] },
      { group: "control", count: "1", positive: "1", negative: "0", mean: "1", weightedMean: "1", cells: ["control", "1", "1", "0", "+1.00", "+1.00"] },
    ]);
    assert.deepEqual(await box.locator("thead th").allTextContents(), ["variant", "Count", "Positive", "Negative", "Mean", "Weighted mean"]);
    await shot("feedback-usage");

    await box.getByRole("radiogroup", { name: "Feedback group by" }).getByRole("radio", { name: "Deployment" }).click();
    await page.locator("[data-testid=feedback-summary][data-group-by=deployment][data-state=rows]").waitFor();
    assert.deepEqual((await feedbackRows()).map((r) => [r.group, r.count, r.mean]).sort(), [["mock/a", "1", "1"], ["mock/b", "1", "-1"]]);

    await box.getByRole("radiogroup", { name: "Feedback group by" }).getByRole("radio", { name: "Key" }).click();
    await page.locator("[data-testid=feedback-summary][data-group-by=key][data-state=rows]").waitFor();
    assert.deepEqual((await feedbackRows()).map((r) => [r.group, r.count, r.positive, r.negative, r.mean]), [["console-admin", "2", "1", "1", "0"]]);

    // A route filter on the page applies to the card too: none of the feedback is on route "nope".
    await page.getByLabel("Filter dimension").selectOption(String(Dimension.ROUTE));
    await page.getByLabel("Filter values").fill("nope");
    await page.getByRole("button", { name: "Add filter" }).click();
    await page.locator("[data-testid=feedback-summary][data-state=empty]").waitFor();
    assert.match(await box.innerText(), /No feedback in this range\./);
    await page.getByRole("button", { name: "Remove route filter" }).click();
    await page.locator("[data-testid=feedback-summary][data-state=rows]").waitFor();
  });

  test("no errors in the browser console", () => {
    // A request's page asks for its stored Responses API response; a chat request has none, and
    // Chromium logs that 404 as a failed resource load; so is the refusal the test answered itself.
    const expected = /\/console\/requests\/req_[^:]+: Failed to load resource: the server responded with a status of 404 \(Not Found\)$/;
    assert.deepEqual(
      errors.filter((e) => !expected.test(e)),
      [],
    );
  });
});

