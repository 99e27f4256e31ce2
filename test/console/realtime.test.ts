// The console's Realtime page in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process (keys on, a `realtime` route on the mock), connects
// to `realtime` with instructions the way a browser app does (a client secret minted with the
// key, the WebSocket opened with the secret alone), holds a two-turn text conversation, sees the
// replies stream with their usage and the session's totals, disconnects (1000), and checks the
// gateway's one usage record of the session against the totals the page showed. Neither the key
// nor any client secret reaches the page's HTML. A model that is not there and a request the
// gateway refuses show readable errors. Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Secrets are built at run time so no literal key sits in the source.
const ADMIN = ["rt", "console", "admin", "secret"].join("-");

const CONFIG = `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 20, inter_chunk_ms: 30, chunks: 6 } }
deployments:
  - { id: mock/realtime, provider: mock, model: mock-realtime-1, operations: [realtime], pricing: { input: 0.6, output: 2.4 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: realtime, description: Realtime sessions through mock/realtime, targets: [mock/realtime] }
  - { name: chat, targets: [mock/chat] }
keys:
  - { name: rt-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

describe("console realtime page in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** Every WebSocket the page opened, by URL. */
  const sockets: string[] = [];

  const shot = (p: Page, name: string, fullPage = true) => p.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage });
  const totals = () => page.getByTestId("realtime-totals");
  const tokens = async () => ({ input: Number(await totals().getAttribute("data-input-tokens")), output: Number(await totals().getAttribute("data-output-tokens")) });

  async function connect(model: string, instructions: string): Promise<void> {
    await page.locator("input[name=model]").fill(model);
    await page.locator("textarea[name=instructions]").fill(instructions);
    await page.getByRole("button", { name: "Connect", exact: true }).click();
  }

  async function say(text: string, replies: number): Promise<void> {
    await page.locator("input[name=message]").fill(text);
    await page.getByRole("form", { name: "Message" }).getByRole("button", { name: "Send" }).click();
    await page.locator(`[data-testid=realtime-totals][data-replies="${replies}"]`).waitFor();
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-rt-"));
    gw = await startTestGateway(CONFIG);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 900 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
    page.on("websocket", (ws) => sockets.push(ws.url()));
  });

  after(() => endSuite("realtime", started, work, context, gw));

  test("a text conversation over a client secret: streamed replies, usage, totals, close 1000, one usage record", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Realtime", exact: true }).click();
    // Right after the Playground in the navigation.
    const nav = await page.getByRole("navigation", { name: "Pages" }).getByRole("link").allInnerTexts();
    assert.equal(nav[nav.indexOf("Playground") + 1], "Realtime");
    assert.equal(await page.locator("input[name=model]").inputValue(), "realtime", "the model defaults to the realtime route");

    // The secret is minted with the key and the session's configuration; the socket gets the secret only.
    const minted = page.waitForRequest((r) => r.url().endsWith("/v1/realtime/client_secrets"));
    await connect("realtime", "Be brief.");
    const mint = await minted;
    assert.equal(mint.method(), "POST");
    assert.equal(mint.headers().authorization, `Bearer ${ADMIN}`);
    assert.deepEqual(mint.postDataJSON(), { session: { type: "realtime", model: "realtime", instructions: "Be brief.", output_modalities: ["text"] }, expires_after: { anchor: "created_at", seconds: 60 } });
    await page.locator("[data-testid=realtime-status][data-phase=open]").waitFor();
    assert.equal(sockets.length, 1);
    assert.equal(new URL(sockets[0]).pathname, "/v1/realtime");
    assert.doesNotMatch(sockets[0], /ek_sbx_|rt-console/, "neither secret nor key in the socket's URL");

    // session.created, then session.updated with the secret's instructions.
    await page.locator("[data-testid=realtime-event][data-type='session.updated']").waitFor();
    const types = await page.getByTestId("realtime-event").evaluateAll((els) => els.map((e) => e.getAttribute("data-type")));
    assert.deepEqual(types.slice(0, 2), ["session.created", "session.updated"]);
    assert.match(await page.getByTestId("realtime-event").first().innerText(), /\+\d+ ms\s+session\.created/);
    assert.match(await totals().innerText(), /Be brief\./);

    // First turn: the reply streams in (a turn in progress, then done), with its usage.
    await page.locator("input[name=message]").fill("hello from the console");
    await page.getByRole("form", { name: "Message" }).getByRole("button", { name: "Send" }).click();
    await page.locator("[data-testid=assistant-turn][data-done=false]").waitFor();
    await page.locator(`[data-testid=realtime-totals][data-replies="1"]`).waitFor();
    await shot(page, "realtime-conversation");
    assert.equal(await page.getByTestId("user-turn").first().innerText().then((t) => t.includes("hello from the console")), true);
    const first = page.getByTestId("assistant-turn").first();
    assert.match(await first.innerText(), /You said: "hello from the console"/);
    const firstUsage = { input: Number(await first.getAttribute("data-input-tokens")), output: Number(await first.getAttribute("data-output-tokens")) };
    assert.ok(firstUsage.input > 0 && firstUsage.output > 0, JSON.stringify(firstUsage));
    assert.match(await first.innerText(), new RegExp(`${firstUsage.input} in · ${firstUsage.output} out`));
    assert.deepEqual(await tokens(), firstUsage);
    const deltas = await page.locator("[data-testid=realtime-event][data-type='response.output_text.delta']").count();
    assert.ok(deltas > 1, `the reply came as ${deltas} deltas`);

    // Second turn: the totals grow by its usage (the whole conversation is read again).
    await say("and a second one", 2);
    const second = page.getByTestId("assistant-turn").nth(1);
    assert.match(await second.innerText(), /You said: "and a second one"/);
    const secondUsage = { input: Number(await second.getAttribute("data-input-tokens")), output: Number(await second.getAttribute("data-output-tokens")) };
    const both = await tokens();
    assert.deepEqual(both, { input: firstUsage.input + secondUsage.input, output: firstUsage.output + secondUsage.output });
    assert.ok(both.input > firstUsage.input && secondUsage.input > firstUsage.input);
    assert.match(await totals().innerText(), new RegExp(`${both.input} in · ${both.output} out · ${both.input + both.output} total`));

    // Disconnect: closed with 1000, and a link to the Requests page.
    await page.getByRole("button", { name: "Disconnect" }).click();
    const closed = page.locator("[data-testid=realtime-closed][data-code='1000']");
    await closed.waitFor();
    assert.match(await closed.innerText(), /closed 1000/);
    assert.equal(await closed.getAttribute("data-had-session"), "true");
    assert.equal(await page.locator("main").getByRole("link", { name: "Requests", exact: true }).getAttribute("href"), "/console/requests");
    await shot(page, "realtime-closed");

    // Neither the key nor a client secret anywhere in the page.
    const html = await page.content();
    assert.ok(!html.includes(ADMIN), "the key is not in the page");
    assert.ok(!html.includes("ek_sbx_"), "no client secret in the page");

    // One realtime record for the key, its tokens the page's totals.
    const deadline = Date.now() + 5000;
    let records = gw.usage.recent().filter((r) => r.operation === "realtime");
    while (records.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      records = gw.usage.recent().filter((r) => r.operation === "realtime");
    }
    assert.equal(records.length, 1, JSON.stringify(records.map((r) => r.id)));
    const [rec] = records;
    assert.equal(rec.key, "rt-admin");
    assert.equal(rec.status, "ok");
    assert.deepEqual({ input: rec.usage.inputTokens, output: rec.usage.outputTokens }, both);
  });

  test("a model that is not there shows a readable error and no session", async () => {
    // The gateway refuses to mint a secret for a model it does not know: the page says so and opens no WebSocket.
    const before = sockets.length;
    await connect("no-such-model", "");
    const err = page.getByTestId("mint-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-status"), "404");
    assert.equal(await err.getAttribute("data-param"), "session.model");
    assert.match(await err.innerText(), /no-such-model/);
    assert.equal(sockets.length, before, "no WebSocket opened");
    assert.equal(await page.locator("[data-testid=realtime-event][data-type='session.created']").count(), 0);
    await page.locator("[data-testid=realtime-status][data-phase=closed], [data-testid=realtime-status][data-phase=idle]").waitFor();
    await shot(page, "realtime-unknown-model", false);
    const html = await page.content();
    assert.ok(!html.includes(ADMIN) && !html.includes("ek_sbx_"));
  });

  test("a request the gateway refuses shows its message and field, and opens no WebSocket", async () => {
    // Instructions over what a client secret carries (6 kB): a 400 naming `session`.
    const before = sockets.length;
    await connect("realtime", "Be brief. ".repeat(800));
    const err = page.getByTestId("mint-error");
    await err.waitFor();
    assert.equal(await err.getAttribute("data-status"), "400");
    assert.equal(await err.getAttribute("data-param"), "session");
    const text = await err.innerText();
    assert.match(text, /The request is not valid\./);
    assert.match(text, /Field session:/);
    assert.match(text, /HTTP 400/);
    assert.equal(sockets.length, before, "no WebSocket opened");
    assert.equal(await page.locator("[data-testid=realtime-status][data-phase=idle]").count(), 1);
    // The browser complained only of the refusals above (a refused handshake, a 400 or 404
    // answer), and never with the key or a secret in its words.
    assert.deepEqual(
      errors.filter((e) => !/WebSocket connection to .* failed|Failed to load resource: the server responded with a status of 40[04]/.test(e)),
      [],
    );
    assert.ok(!errors.some((e) => e.includes(ADMIN) || e.includes("ek_sbx_")));
  });
});
