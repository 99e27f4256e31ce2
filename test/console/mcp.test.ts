// The console's "Models & health" page lists the MCP servers the key may use (RouteService
// ListMcpServers): Debian's Chromium (driven by playwright-core) signs in to a gateway started in
// process whose mcp_servers are a real MCP server (the official SDK's, on a loopback port) and one
// that is down. The table shows each server's host (never its URL's path or query), teams, tools
// filter and price; "Show tools" lists each server's tools with their descriptions, or the error
// of the one that is down. A gateway without mcp_servers shows no such section.
// Screenshots go to test-output/console/.
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
import { startFakeMcp, type FakeMcp } from "../helpers/fake-mcp.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key or secret sits in the source.
const ADMIN = ["adm", "mcp", "console", "secret"].join("-");
const MATH_TOKEN = ["mcp", "secret", "console", "31c7"].join("-");
const QUERY_SECRET = ["qs", "secret", "console", "8a0b"].join("-");

const BASE = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

describe("console: the MCP servers on the Models & health page", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let math: FakeMcp;
  let goneUrl: string;
  let gw: TestGateway;
  let plain: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const table = () => page.getByTestId("mcp-servers");
  const row = (id: string) => table().locator(`tr[data-id="${id}"]`);
  const cells = (id: string) => row(id).locator("td").evaluateAll((tds) => tds.map((td) => (td as HTMLElement).innerText.trim()));

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-mcp-"));
    math = await startFakeMcp("math");
    const gone = await startFakeMcp("gone");
    goneUrl = `${gone.url}/private?token=${QUERY_SECRET}`;
    await gone.close();
    gw = await startTestGateway(
      `${BASE}
mcp_servers:
  - id: math
    description: Arithmetic for agents
    url: "${math.url}?token=${QUERY_SECRET}"
    headers: { Authorization: "Bearer \${MATH_TOKEN}" }
    tools: [add, echo]
    teams: [platform, support]
    price_per_call_usd: 0.002
  - { id: gone, url: "${goneUrl}", timeout_ms: 2000 }
`,
      { env: { MATH_TOKEN } },
    );
    plain = await startTestGateway(BASE);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 900 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("mcp", started, work, context, gw, plain, math));

  test("the MCP servers table: id, host, teams, tools filter, price per call; no URL path, query or header", async () => {
    await page.goto(`${gw.url}/console/models`);
    await table().waitFor();
    await page.getByTestId("deployments").waitFor();
    assert.deepEqual(await table().locator("tbody tr[data-id]").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-id"))), ["math", "gone"]);
    const host = new URL(math.url).host;
    const [id, shownHost, teams, filter, price] = await cells("math");
    assert.match(id, /^math\nArithmetic for agents$/);
    assert.equal(shownHost, host);
    assert.equal(teams, "platform, support");
    assert.match(filter, /^add\s+echo$/);
    assert.equal(price, "$0.002000");
    const gone = await cells("gone");
    assert.equal(gone[1], new URL(goneUrl).host);
    assert.equal(gone[2], "all");
    assert.equal(gone[3], "all");
    assert.equal(gone[4], "$0");
    assert.match(await page.locator(".card", { has: table() }).locator("h2").innerText(), /MCP servers \(2\)/);
    // No tools until asked for.
    assert.equal(await page.locator("[data-tools-of]").count(), 0);
    const html = await page.content();
    for (const secret of [QUERY_SECRET, MATH_TOKEN, "/private", "/mcp?"]) assert.ok(!html.includes(secret), `the page shows ${secret}`);
    await shot("mcp-servers");
  });

  test('"Show tools" lists each server\'s tools with their descriptions, or why they could not be listed', async () => {
    // The console speaks binary Connect: include_tools = true is the two bytes 08 01 (false: none).
    const asked = page.waitForRequest((r) => new URL(r.url()).pathname === "/signalbox.v1.RouteService/ListMcpServers" && r.postDataBuffer()?.toString("hex") === "0801");
    const toggle = page.getByTestId("mcp-show-tools");
    assert.equal((await toggle.innerText()).trim(), "Show tools");
    await toggle.click();
    await asked;
    const mathTools = page.locator('[data-tools-of="math"] [data-testid=mcp-tools]');
    await mathTools.waitFor();
    assert.deepEqual(
      await mathTools.locator("tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => (td as HTMLElement).innerText.trim()))),
      [
        ["add", "Adds two numbers"],
        ["echo", "Echoes its text"],
      ],
    );
    const error = page.locator('[data-tools-of="gone"] [data-testid=mcp-tools-error]');
    await error.waitFor();
    const said = await error.innerText();
    assert.match(said, /MCP server "gone" (could not be reached|did not answer)/);
    assert.ok(!said.includes(QUERY_SECRET) && !said.includes("/private"), said);
    assert.equal((await toggle.innerText()).trim(), "Hide tools");
    await shot("mcp-servers-tools");

    await toggle.click();
    await page.locator("[data-tools-of]").first().waitFor({ state: "detached" });
    assert.equal((await toggle.innerText()).trim(), "Show tools");
  });

  test("a gateway without MCP servers shows no MCP servers section", async () => {
    const other = await signedInPage(context, plain.url, ADMIN, errors);
    try {
      const listed = other.waitForResponse((r) => new URL(r.url()).pathname === "/signalbox.v1.RouteService/ListMcpServers");
      await other.goto(`${plain.url}/console/models`);
      await other.getByTestId("deployments").waitFor();
      assert.equal((await listed).status(), 200);
      await other.waitForTimeout(200);
      assert.equal(await other.getByTestId("mcp-servers").count(), 0);
      assert.equal(await other.getByText("MCP servers").count(), 0);
    } finally {
      await other.close();
    }
  });

  test("no errors in the browser console", () => {
    assert.deepEqual(errors, []);
  });
});
