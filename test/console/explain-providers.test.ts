// The Route explainer's provider preferences and middle-out in a real browser: Debian's Chromium
// (driven by playwright-core) signs in to a gateway started in process with two mock providers
// (alpha, beta), three deployments at different prices (one of them with a 300-token context
// window) and a priority route over them. The page explains the route with no preferences (route
// order), with order=beta (beta's deployments first, "routing.providers.order 1" in their reason),
// with ignore=alpha (alpha's deployment under the exclusions as "provider preference", with the
// gateway's detail), with a max prompt price and sort by price, with allow fallbacks off, and with
// a prompt too long for the small window: left out as "context too small" without middle-out, a
// candidate showing middle-out's adjustment with it. Each time the request the page sent
// (decoded from the wire) is replayed to RouteService.Route, and the page must show that plan.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { type ChatRequest, ChatRequestSchema, createSignalboxClient, DataCollection, ProviderSort, type RouteResponse, type SignalboxClient } from "@signalbox/client";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "explain", "providers", "secret"].join("_");

const CONFIG = `
providers:
  - { name: alpha, type: mock }
  - { name: beta, type: mock }
deployments:
  - { id: alpha/chat, provider: alpha, model: mock-alpha, pricing: { input: 1, output: 2 } }
  - { id: beta/chat, provider: beta, model: mock-beta, pricing: { input: 3, output: 4 } }
  - { id: beta/small, provider: beta, model: mock-small, context_window: 300, pricing: { input: 0.5, output: 1 } }
routes:
  - { name: pair, description: two providers, targets: [alpha/chat, beta/chat, beta/small] }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

const ROUTE_PATH = "/signalbox.v1.RouteService/Route";

interface Shown {
  candidates: { deployment: string; reason: string; adjustments: string }[];
  exclusions: { deployment: string; reason: string; detail: string }[];
}

describe("console: the Route explainer's provider preferences and middle-out", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const input = (name: string) => page.locator(`[name=${name}]`);

  /** What the page's plan shows: candidates in order with reason and adjustments, exclusions with reason label and detail. */
  const shown = (): Promise<Shown> =>
    page.evaluate(() => {
      const text = (el: Element | null | undefined) => ((el as HTMLElement | null)?.innerText ?? "").trim();
      return {
        candidates: [...document.querySelectorAll("[data-testid=candidate]")].map((r) => ({
          deployment: r.getAttribute("data-deployment") ?? "",
          reason: text(r.querySelector("[data-testid=candidate-reason]")),
          adjustments: text(r.querySelector("[data-testid=candidate-adjustments]")),
        })),
        exclusions: [...document.querySelectorAll("[data-testid=exclusion]")].map((r) => ({
          deployment: r.getAttribute("data-deployment") ?? "",
          reason: r.getAttribute("data-reason") ?? "",
          detail: text(r.querySelectorAll("td")[2]),
        })),
      };
    });

  /**
   * Presses Explain, decodes the RouteService.Route request the page sends, replays it to the API
   * and waits until the page shows that plan (same candidates and exclusions, in order).
   */
  async function explain(): Promise<{ sent: ChatRequest; plan: RouteResponse; view: Shown }> {
    const request = page.waitForRequest((r) => r.url().endsWith(ROUTE_PATH) && r.method() === "POST");
    await page.getByRole("button", { name: "Explain" }).click();
    const body = (await request).postDataBuffer();
    assert.ok(body, "the Route request has a body");
    const sent = fromBinary(ChatRequestSchema, body);
    const plan = await admin.route.route(sent);
    const want = {
      candidates: plan.candidates.map((c) => c.deployment),
      exclusions: plan.excluded.map((x) => x.deployment),
    };
    const end = Date.now() + 10_000;
    for (;;) {
      const view = await shown();
      if (
        JSON.stringify(view.candidates.map((c) => c.deployment)) === JSON.stringify(want.candidates) &&
        JSON.stringify(view.exclusions.map((x) => x.deployment)) === JSON.stringify(want.exclusions) &&
        view.candidates.every((c, i) => c.reason === plan.candidates[i].reason)
      ) {
        return { sent, plan, view };
      }
      if (Date.now() > end) assert.fail(`the page never showed the plan ${JSON.stringify(want)}; it shows ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-explain-"));
    gw = await startTestGateway(CONFIG);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1100 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Route explainer", exact: true }).click();
    await page.locator("select[name=model] option[value=pair]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("pair");
  });

  after(() => endSuite("explain-providers", started, work, context, gw));

  test("the Providers fieldset starts empty: no providers sent, the route's own order", async () => {
    const fieldset = page.getByRole("group", { name: "Providers" });
    await fieldset.waitFor();
    assert.equal(await input("providers_allow_fallbacks").isChecked(), true, "allow fallbacks is on by default");
    assert.equal(await input("middle_out").isChecked(), false);
    assert.equal(await input("providers_sort").inputValue(), String(ProviderSort.UNSPECIFIED));
    const { sent, view } = await explain();
    assert.equal(sent.routing?.providers, undefined, "nothing set: providers is not sent");
    assert.equal(sent.routing?.middleOut, false);
    assert.deepEqual(
      view.candidates.map((c) => [c.deployment, c.reason]),
      [
        ["alpha/chat", "priority 1"],
        ["beta/chat", "priority 2"],
        ["beta/small", "priority 3"],
      ],
    );
    assert.deepEqual(view.exclusions, []);
  });

  test("order=beta puts beta's deployments first, each reason naming providers.order 1", async () => {
    await input("providers_order").fill("beta");
    const { sent, view } = await explain();
    assert.deepEqual(sent.routing?.providers?.order, ["beta"]);
    assert.equal(sent.routing?.providers?.allowFallbacks, undefined, "allow fallbacks left to its default");
    assert.deepEqual(
      view.candidates.map((c) => [c.deployment, c.reason]),
      [
        ["beta/chat", "priority 2; routing.providers.order 1"],
        ["beta/small", "priority 3; routing.providers.order 1"],
        ["alpha/chat", "priority 1"],
      ],
    );
    assert.match(await page.locator("[data-testid=candidate][data-position='1']").innerText(), /routing\.providers\.order 1/);
    await shot("explain-providers-order");
  });

  test("order=beta without fallbacks leaves alpha out as a provider preference", async () => {
    await input("providers_allow_fallbacks").uncheck();
    const { sent, plan, view } = await explain();
    assert.equal(sent.routing?.providers?.allowFallbacks, false);
    assert.deepEqual(
      view.candidates.map((c) => c.deployment),
      ["beta/chat", "beta/small"],
    );
    assert.deepEqual(view.exclusions, [{ deployment: "alpha/chat", reason: "provider preference", detail: plan.excluded[0].detail }]);
    assert.match(view.exclusions[0].detail, /provider alpha is not in routing\.providers\.order and allow_fallbacks is false/);
    await input("providers_allow_fallbacks").check();
    await input("providers_order").fill("");
  });

  test("ignore=alpha lists alpha's deployment under the exclusions with a readable reason and the detail", async () => {
    await input("providers_ignore").fill("alpha");
    const { sent, view } = await explain();
    assert.deepEqual(sent.routing?.providers?.ignore, ["alpha"]);
    assert.deepEqual(sent.routing?.providers?.order, []);
    assert.deepEqual(
      view.candidates.map((c) => c.deployment),
      ["beta/chat", "beta/small"],
    );
    assert.deepEqual(view.exclusions, [{ deployment: "alpha/chat", reason: "provider preference", detail: 'provider alpha is in routing.providers.ignore ("alpha")' }]);
    const row = page.locator("[data-testid=exclusion][data-deployment='alpha/chat']");
    assert.match(await row.innerText(), /provider preference/);
    assert.doesNotMatch(await row.innerText(), /PROVIDER_PREFERENCE|provider_preference/);
    await shot("explain-providers-ignore");
    await input("providers_ignore").fill("");
  });

  test("a max prompt price and sort by price: the dear deployment over the cap, the rest cheapest first", async () => {
    await input("providers_max_prompt").fill("2");
    await input("providers_sort").selectOption(String(ProviderSort.PRICE));
    await input("providers_deny_data_collection").check();
    const { sent, view } = await explain();
    const prefs = sent.routing?.providers;
    assert.equal(prefs?.maxPrice?.prompt, 2);
    assert.equal(prefs?.maxPrice?.completion, undefined, "an empty price is not sent");
    assert.equal(prefs?.sort, ProviderSort.PRICE);
    assert.equal(prefs?.dataCollection, DataCollection.DENY);
    assert.deepEqual(
      view.candidates.map((c) => c.deployment),
      ["beta/small", "alpha/chat"],
    );
    assert.match(view.candidates[0].reason, /sorted by price: expected \d+ nano-USD/);
    assert.deepEqual(view.exclusions, [{ deployment: "beta/chat", reason: "over cost cap", detail: "prompt $3 per million tokens > routing.providers.max_price.prompt $2" }]);
    await input("providers_max_prompt").fill("");
    await input("providers_sort").selectOption(String(ProviderSort.UNSPECIFIED));
    await input("providers_deny_data_collection").uncheck();
  });

  test("a prompt too long for the small window: context too small without middle-out, a candidate with its adjustment with it", async () => {
    // A long user message in the middle, then an assistant turn and a short last question.
    await page.getByLabel("Message 2 text").fill("The quick brown fox jumps over the lazy dog. ".repeat(40));
    await page.getByRole("button", { name: "+ Add message" }).click();
    await page.getByLabel("Message 3 text").fill("Noted.");
    await page.getByRole("button", { name: "+ Add message" }).click();
    await page.getByLabel("Message 4 text").fill("Explain what a fallback is in one sentence.");
    assert.equal(await page.getByLabel("Message 3 role").inputValue(), "assistant");
    assert.equal(await page.getByLabel("Message 4 role").inputValue(), "user");

    const off = await explain();
    assert.equal(off.sent.routing?.providers, undefined, "everything cleared: providers is not sent again");
    assert.equal(off.sent.routing?.middleOut, false);
    assert.equal(off.sent.messages.length, 4);
    assert.ok(off.plan.estimatedInputTokens > 300, `the prompt is longer than the window (${off.plan.estimatedInputTokens})`);
    assert.deepEqual(
      off.view.candidates.map((c) => c.deployment),
      ["alpha/chat", "beta/chat"],
    );
    assert.equal(off.view.exclusions.length, 1);
    assert.equal(off.view.exclusions[0].deployment, "beta/small");
    assert.equal(off.view.exclusions[0].reason, "context too small");
    assert.equal(off.view.exclusions[0].detail, off.plan.excluded[0].detail);
    assert.match(off.view.exclusions[0].detail, /^context window 300 < estimated \d+ input/);

    await input("middle_out").check();
    const on = await explain();
    assert.equal(on.sent.routing?.middleOut, true);
    assert.equal(on.sent.routing?.providers, undefined);
    assert.deepEqual(
      on.view.candidates.map((c) => c.deployment),
      ["alpha/chat", "beta/chat", "beta/small"],
    );
    assert.deepEqual(on.view.exclusions, []);
    const small = on.view.candidates[2];
    const want = on.plan.candidates[2].adjustments.map((a) => `${a.field}: ${a.detail}`);
    assert.equal(want.length, 1);
    assert.match(want[0], /^messages: middle-out removed 1 of 4 messages from the middle to fit the 300-token context window \(\d+ prompt tokens\)$/);
    assert.equal(small.adjustments, want[0]);
    assert.equal(on.view.candidates[0].adjustments, "", "a deployment the prompt fits is left alone");
    await page.getByTestId("candidate-adjustments").getByText(/middle-out removed 1 of 4 messages/).waitFor();
    await shot("explain-providers-middle-out");
  });

  test("no errors in the browser console", () => {
    assert.deepEqual(errors, []);
  });
});
