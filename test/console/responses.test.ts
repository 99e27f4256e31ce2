// A request's page in the console shows its stored Responses API response as a Conversation card:
// Debian's Chromium (driven by playwright-core) signs in to a gateway started in process with a
// mock provider. Two responses made with the official `openai` SDK (instructions and input, then a
// continuation by previous_response_id); the second one's request page shows its input and the
// answer as GET /v1/responses answers them, with a link to the first one's request page, which
// shows its own conversation (a long input clipped with "Show all", markup shown as text). A
// /v1/chat/completions request's page has no Conversation card and no error.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "responses", "secret"].join("-");

const CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/chat] }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

/** The first turn's input: markup that must show as text, then enough to be clipped, then a tail. */
const MARKUP = "<b>not bold</b> & <script>window.__pwned = 1</script>";
const TAIL = "THE-END-OF-THE-LONG-INPUT";
const FIRST_INPUT = `Tell me about signal boxes. ${MARKUP}\n${"All work and no play. ".repeat(120)}${TAIL}`;
const SECOND_INPUT = "And what does a signalman do all day?";

const requestIdOf = (responseId: string) => `req_${responseId.replace(/^resp_/, "")}`;
const textOf = (r: OpenAI.Responses.Response) =>
  r.output
    .filter((o): o is OpenAI.Responses.ResponseOutputMessage => o.type === "message")
    .flatMap((m) => m.content)
    .map((c) => (c.type === "output_text" ? c.text : ""))
    .join("");

describe("console: a stored response's conversation on its request page", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** Paths of the page's calls to /v1/responses/…, with their authorization header. */
  const responseCalls: { path: string; search: string; authorization?: string }[] = [];
  let first: OpenAI.Responses.Response;
  let second: OpenAI.Responses.Response;
  let secondRequestId: string;
  let chatRequestId: string;

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const card = () => page.getByTestId("conversation");
  const items = () =>
    card()
      .getByTestId("convo-item")
      .evaluateAll((els) => els.map((e) => ({ side: e.getAttribute("data-side"), type: e.getAttribute("data-type"), role: e.getAttribute("data-role"), text: (e as HTMLElement).innerText })));

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-responses-"));
    gw = await startTestGateway(CONFIG);
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ADMIN, maxRetries: 0 });

    first = await sdk.responses.create({ model: "default", instructions: "Be brief.", input: FIRST_INPUT });
    const made = await sdk.responses.create({ model: "default", previous_response_id: first.id, input: SECOND_INPUT }).withResponse();
    second = made.data;
    secondRequestId = made.response.headers.get("x-request-id") ?? requestIdOf(second.id);
    assert.equal(secondRequestId, requestIdOf(second.id), "the request id is the response id's");
    assert.equal(second.previous_response_id, first.id);
    assert.ok(textOf(first) && textOf(second), "the mock answered both");

    const chat = await sdk.chat.completions.create({ model: "default", messages: [{ role: "user", content: "Hello there" }] }).withResponse();
    chatRequestId = chat.response.headers.get("x-request-id") ?? "";
    assert.match(chatRequestId, /^req_/);

    context = await launchChromium(join(work, "profile"), { width: 1280, height: 900 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/v1/responses")) responseCalls.push({ path: u.pathname, search: u.search, authorization: r.headers().authorization });
    });
  });

  after(() => endSuite("responses", started, work, context, gw));

  test("the continuation's page shows its input, the answer and the response it continues", async () => {
    await page.goto(`${gw.url}/console/requests/${secondRequestId}`);
    await card().waitFor();
    // The request's own cards are there too.
    await page.getByTestId("answered-by").waitFor();
    assert.equal(await card().getAttribute("data-response-id"), second.id);
    assert.equal(await card().getAttribute("data-status"), second.status);
    const facts = card().getByTestId("convo-facts");
    const factsText = await facts.innerText();
    assert.ok(factsText.includes(String(second.status)), factsText);
    assert.ok(factsText.includes(second.model), factsText);
    assert.equal(await card().getByTestId("convo-conversation").count(), 0, "no conversation id");

    const shown = await items();
    assert.deepEqual(
      shown.map((i) => [i.side, i.type, i.role]),
      [
        ["input", "message", "user"],
        ["output", "message", "assistant"],
      ],
    );
    assert.ok(shown[0].text.includes(SECOND_INPUT), shown[0].text);
    assert.ok(shown[1].text.includes(textOf(second)), `${shown[1].text} vs ${textOf(second)}`);
    // The earlier turn is not this request's input: it is behind the link.
    assert.ok(!shown.some((i) => i.text.includes(TAIL)));

    // The calls the page made: the response and its input items, ascending, 100 a page, with the key.
    const calls = responseCalls.filter((c) => c.path.includes(second.id));
    assert.ok(calls.some((c) => c.path === `/v1/responses/${second.id}`));
    const listed = calls.find((c) => c.path === `/v1/responses/${second.id}/input_items`);
    assert.ok(listed, "input items fetched");
    assert.equal(new URLSearchParams(listed.search).get("order"), "asc");
    assert.equal(new URLSearchParams(listed.search).get("limit"), "100");
    assert.ok(calls.every((c) => c.authorization === `Bearer ${ADMIN}`), "the session's key as a bearer token");
    await shot("responses-continuation");

    // The link to the first response goes to its request's page, which shows its own conversation.
    const link = card().getByTestId("previous-response");
    assert.equal((await link.innerText()).trim(), first.id);
    assert.equal(new URL(await link.evaluate((a) => (a as HTMLAnchorElement).href)).pathname, `/console/requests/${requestIdOf(first.id)}`);
    await link.click();
    await page.waitForURL(`**/console/requests/${requestIdOf(first.id)}`);
    await page.locator(`[data-testid=conversation][data-response-id="${first.id}"]`).waitFor();
    assert.equal(await card().getByTestId("previous-response").count(), 0, "the first turn continues nothing");
    const firstShown = await items();
    assert.deepEqual(
      firstShown.map((i) => [i.side, i.type]),
      [
        ["input", "message"],
        ["output", "message"],
      ],
    );
    assert.ok(firstShown[1].text.includes(textOf(first)));
  });

  test("a long input is clipped with Show all; markup shows as text", async () => {
    const input = card().locator("[data-testid=convo-item][data-side=input]");
    const clipped = await input.innerText();
    assert.ok(clipped.includes("Tell me about signal boxes."));
    assert.ok(clipped.includes(MARKUP), "the markup as written");
    assert.ok(!clipped.includes(TAIL), "clipped");
    assert.equal(await card().locator("b, script").count(), 0, "no element made from the text");
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    const toggle = input.getByTestId("convo-toggle");
    assert.match(await toggle.innerText(), /Show all/);
    await toggle.click();
    assert.ok((await input.innerText()).includes(TAIL), "shown whole");
    await shot("responses-first");
    await toggle.click();
    assert.ok(!(await input.innerText()).includes(TAIL), "clipped again");
  });

  test("a response with more than 100 input items: every page of them, in order", async () => {
    const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    const input = Array.from({ length: 205 }, (_, i) => ({ role: (i % 2 ? "assistant" : "user") as "user" | "assistant", content: `turn ${i}` }));
    const long = await sdk.responses.create({ model: "default", input });
    await page.goto(`${gw.url}/console/requests/${requestIdOf(long.id)}`);
    await page.locator(`[data-testid=conversation][data-response-id="${long.id}"]`).waitFor();
    const shown = await items();
    const inputs = shown.filter((i) => i.side === "input");
    assert.equal(inputs.length, 205);
    assert.deepEqual(
      inputs.map((i) => i.text.split("\n").at(-1)),
      input.map((m) => m.content),
    );
    assert.equal(shown.filter((i) => i.side === "output").length, 1);
    const pages = responseCalls.filter((c) => c.path === `/v1/responses/${long.id}/input_items`).map((c) => new URLSearchParams(c.search).get("after") ?? "");
    assert.equal(pages.length, 3, "three pages of 100");
    assert.equal(pages[0], "");
    assert.ok(pages[1] && pages[2] && pages[1] !== pages[2]);
  });

  test("a chat completions request's page has no Conversation card and no error", async () => {
    // The page looks for a response of that request (a 404) before anything is checked.
    const looked = `/v1/responses/resp_${chatRequestId.replace(/^req_/, "")}`;
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === looked);
    await page.goto(`${gw.url}/console/requests/${chatRequestId}`);
    await page.getByTestId("answered-by").waitFor();
    assert.equal((await answered).status(), 404);
    await page.waitForTimeout(200);
    assert.equal(await card().count(), 0);
    assert.equal(await page.locator("[role=alert]").count(), 0);
    assert.equal(await page.getByText("Conversation", { exact: true }).count(), 0);
    await shot("responses-chat");
  });

  test("no errors in the browser console", () => {
    // The 404 just asked for is the browser's own report of that fetch, not a fault of the page.
    assert.deepEqual(
      errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e)),
      [],
    );
  });
});
