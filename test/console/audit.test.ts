// The console's Audit log page in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process with an admin key, after this test made admin changes
// through the typed client (a team, keys, an update of one). The page lists the events newest
// first with actor and action, as ListAuditEvents answers them, a page at a time with Load more;
// a target filter shows only that key's events; the update event opens a panel with before and
// after side by side, the changed field marked, its replica and trace link. A team key sees no
// menu entry and gets "no access" on the URL. No browser-console errors. A screenshot goes to
// test-output/console/audit.png.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AuditEvent, createSignalboxClient, KeyRole, type SignalboxClient } from "@signalbox/client";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["sbx", "test", "audit", "admin"].join("_");
const TEAM = ["sbx", "test", "audit", "team"].join("_");

const CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/chat] }
teams:
  - { name: search }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: console-team, hash: "${hashKey(TEAM)}", team: search, role: team }
console: { trace_url: "http://jaeger.test/trace/{trace_id}" }
`;

const NEW_TEAM = "audit-team";
const NEW_KEY = "audit-key";
/** Keys made only so the log has more than one page (the page asks for 50). */
const BULK = 50;

describe("console: the Audit log page", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let admin: SignalboxClient;
  let context: BrowserContext;
  let page: Page;
  /** Every event, newest first, as the API lists it. */
  let all: AuditEvent[] = [];
  const errors: string[] = [];

  const nav = (p: Page) => p.getByRole("navigation", { name: "Pages" });
  const rows = () => page.getByTestId("audit-row");
  const shown = () => rows().evaluateAll((els) => els.map((e) => ({ id: e.getAttribute("data-id"), actor: e.getAttribute("data-actor"), action: e.getAttribute("data-action"), target: e.getAttribute("data-target") })));
  const view = (e: AuditEvent) => ({ id: e.id, actor: e.actor, action: e.action, target: e.target });
  /** Waits until the table shows exactly `n` rows. */
  const rowCount = (n: number) => page.waitForFunction((n) => document.querySelectorAll("[data-testid=audit-row]").length === n, n);

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-audit-"));
    gw = await startTestGateway(CONFIG);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN, protocol: "connect", opentelemetry: false });

    await admin.admin.createTeam({ team: { name: NEW_TEAM } });
    for (let i = 0; i < BULK; i++) await admin.admin.createKey({ key: { name: `bulk-${String(i).padStart(2, "0")}`, team: NEW_TEAM, role: KeyRole.SERVICE } });
    await admin.admin.createKey({ key: { name: NEW_KEY, team: NEW_TEAM, role: KeyRole.SERVICE, maxOutputTokens: 128 } });
    await admin.admin.updateKey({ key: { name: NEW_KEY, maxOutputTokens: 256 }, updateMask: { paths: ["max_output_tokens"] } });

    let pageToken = "";
    do {
      const r = await admin.admin.listAuditEvents({ pageSize: 500, pageToken });
      all.push(...r.events);
      pageToken = r.nextPageToken;
    } while (pageToken);
    assert.ok(all.length >= BULK + 3, `the API lists ${all.length} events`);

    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("audit", started, work, context, gw));

  test("the menu leads to the Audit log: events newest first with actor and action, a page at a time", async () => {
    await nav(page).getByRole("link", { name: "Audit log", exact: true }).click();
    await page.waitForURL(`${gw.url}/console/audit`);
    await page.getByTestId("audit-table").waitFor();
    await rowCount(50);

    const first = await shown();
    assert.deepEqual(first, all.slice(0, 50).map(view), "the first page is the API's first 50, newest first");
    assert.deepEqual(first[0], { id: first[0].id, actor: "console-admin", action: "key.update", target: `key:${NEW_KEY}` }, "the newest is the key's update");
    assert.equal(first[1].action, "key.create");
    assert.equal(first[1].target, `key:${NEW_KEY}`);
    const times = all.map((e) => Number(e.time?.seconds ?? 0n) * 1e3 + (e.time?.nanos ?? 0) / 1e6);
    assert.ok(times.every((t, i) => i === 0 || t <= times[i - 1]), "newest first");
    const cells = await rows().first().locator("td").allInnerTexts();
    assert.equal(cells[1], "console-admin");
    assert.equal(cells[2], "key.update");
    assert.equal(cells[3], `key:${NEW_KEY}`);
    assert.equal(cells[4], all[0].replica);
    assert.ok(all[0].replica, "the event names its replica");

    await page.getByTestId("audit-load-more").click();
    await rowCount(all.length);
    assert.deepEqual(await shown(), all.map(view), "Load more appends the rest, in order");
    assert.equal(await page.getByTestId("audit-load-more").count(), 0, "nothing more to load");
    assert.ok((await shown()).some((e) => e.action === "team.create" && e.target === `team:${NEW_TEAM}`), "the team's creation is listed");
  });

  test("a target filter shows only that key's events", async () => {
    await page.getByTestId("audit-target").fill(`key:${NEW_KEY}`);
    await page.getByTestId("audit-apply").click();
    await rowCount(2);
    const got = await shown();
    assert.deepEqual(got.map((e) => [e.action, e.target, e.actor]), [
      ["key.update", `key:${NEW_KEY}`, "console-admin"],
      ["key.create", `key:${NEW_KEY}`, "console-admin"],
    ]);
    assert.equal(await page.getByTestId("audit-load-more").count(), 0);
  });

  test("the update event opens before and after side by side, the changed field marked, its replica and trace", async () => {
    const update = all.find((e) => e.action === "key.update" && e.target === `key:${NEW_KEY}`);
    assert.ok(update);
    await rows().filter({ hasText: "key.update" }).click();
    const detail = page.getByTestId("audit-detail");
    await detail.waitFor();
    assert.equal(await detail.getAttribute("data-id"), update.id);
    assert.equal(await detail.getByTestId("audit-changed").getAttribute("data-fields"), "max_output_tokens");
    assert.equal(await detail.getByTestId("audit-detail-actor").innerText(), "console-admin");
    assert.equal(await detail.getByTestId("audit-replica").innerText(), update.replica);

    for (const [side, value] of [["audit-before", 128], ["audit-after", 256]] as const) {
      const s = detail.getByTestId(side);
      assert.equal(await s.getAttribute("data-present"), "true");
      const fields = await s.getByTestId("audit-field").evaluateAll((els) => els.map((e) => [e.getAttribute("data-key"), e.getAttribute("data-changed")]));
      const marked = fields.filter(([, c]) => c === "true").map(([k]) => k);
      assert.deepEqual(marked, ["max_output_tokens"], `${side}: only the changed field is marked`);
      assert.ok(fields.some(([k, c]) => k === "name" && c === "false"), `${side}: unchanged fields are shown unmarked`);
      assert.match(await s.locator("[data-key=max_output_tokens]").innerText(), new RegExp(`"max_output_tokens": ${value}`));
      assert.equal(await s.locator(".audit-line.changed").count(), 1);
    }
    // The JSON on each side is the event's own.
    const json = async (side: string) => JSON.parse(await detail.getByTestId(side).locator("pre").innerText());
    assert.deepEqual(await json("audit-before"), update.before);
    assert.deepEqual(await json("audit-after"), update.after);

    const trace = detail.getByTestId("audit-trace");
    if (update.traceId) {
      assert.equal(await trace.getByTestId("audit-trace-link").getAttribute("href"), `http://jaeger.test/trace/${update.traceId}`);
    } else {
      assert.equal(await trace.innerText(), "none");
    }
    await page.screenshot({ path: join(OUTPUT_DIR, "audit.png"), fullPage: true });

    // The create event: nothing before.
    await rows().filter({ hasText: "key.create" }).click();
    await page.waitForFunction(() => document.querySelector("[data-testid=audit-detail]")?.getAttribute("data-action") === "key.create");
    assert.equal(await detail.getByTestId("audit-before").getAttribute("data-present"), "false");
    assert.match(await detail.getByTestId("audit-before").innerText(), /Did not exist before/);
    await detail.getByRole("button", { name: "Close" }).click();
    await detail.waitFor({ state: "detached" });
  });

  test("a team key sees no Audit log entry, and the URL says it has no access", async () => {
    const teamPage = await context.newPage();
    teamPage.on("console", (m) => {
      if (m.type() === "error") errors.push(`${teamPage.url()}: ${m.text()}`);
    });
    teamPage.on("pageerror", (e) => errors.push(`pageerror on ${teamPage.url()}: ${e.message}`));
    await teamPage.goto(`${gw.url}/console/`);
    await teamPage.locator("input[name=key]").fill(TEAM);
    await teamPage.getByRole("button", { name: "Sign in" }).click();
    await teamPage.locator("[data-testid=identity][data-role=team]").waitFor();
    await nav(teamPage).getByRole("link", { name: "Overview", exact: true }).waitFor();
    assert.equal(await nav(teamPage).getByRole("link", { name: "Audit log", exact: true }).count(), 0, "no menu entry");
    assert.equal(await nav(teamPage).getByRole("link", { name: "Alerts", exact: true }).count(), 0, "like the other admin pages");

    await teamPage.goto(`${gw.url}/console/audit`);
    await teamPage.locator("[data-testid=identity][data-role=team]").waitFor();
    await teamPage.getByText("Your key's role (team) has no access to this page.").waitFor();
    assert.equal(await teamPage.getByTestId("audit-table").count(), 0);
    // The same message as another admin page.
    await teamPage.goto(`${gw.url}/console/alerts`);
    await teamPage.getByText("Your key's role (team) has no access to this page.").waitFor();
    await teamPage.close();
  });

  test("no errors in the browser console", () => {
    assert.deepEqual(errors, []);
  });
});
