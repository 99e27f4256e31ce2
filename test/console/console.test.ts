// The web console in a real browser: Debian's Chromium (driven by playwright-core) signs in to a
// gateway started in process, after this test has sent it real traffic (two teams, a fallback, a
// failure, a cache hit), and checks what the pages show against the API itself: overview
// figures, usage totals, a request's fallback timeline and trace link, the route explainer's
// candidates, a key created and revoked in the console, what a team key may see, a streamed
// chat in the playground, and deployment checks made on Models & health. Screenshots of every
// page go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BudgetPeriod, Code, createSignalboxClient, Dimension, Granularity, KeyRole, SignalboxError, type SignalboxClient, system, UpdateEndUserRequestSchema, user } from "@signalbox/client";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, skipWithoutChromium } from "../helpers/browser.ts";
import { poll } from "../helpers/wait.ts";

// Secrets are built at run time so no literal key sits in the source.
const ADMIN = ["adm", "console", "secret"].join("-");
const SEARCH = ["search", "team", "secret"].join("-");
const ADS = ["ads", "svc", "secret"].join("-");
const FALLBACK_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

const CONFIG = `
server:
  max_request_bytes: 65536
  # Another origin is allowed; the console's own requests are same-origin and must still pass.
  cors: { allowed_origins: ["https://app.example.com"] }
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 40 } }
  - { name: flaky, type: mock, mock: { ttft_ms: 25, failure_rate: 1, failure_kind: overloaded } }
  - { name: trickle, type: mock, mock: { ttft_ms: 20, inter_chunk_ms: 80, chunks: 8 } }
  # Spending caps: a provider's of $0 (over from the start) and, below, two deployments' own.
  - { name: frozen, type: mock, budget: { period: month, limit_usd: 0 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/b, provider: mock, model: mock-b, pricing: { input: 3, output: 4 }, budget: { period: day, limit_usd: 10 } }
  - { id: mock/flaky, provider: flaky, model: mock-flaky, pricing: { input: 1, output: 1 } }
  - { id: mock/trickle, provider: trickle, model: mock-trickle, pricing: { input: 1, output: 1 } }
  - { id: mock/rerank, provider: mock, model: mock-rerank, operations: [rerank], pricing: { input: 0, output: 0, per_request: 0.002 } }
  # In no route; serves only images, so checks skip it.
  - { id: mock/frozen, provider: frozen, model: mock-frozen, operations: [images], pricing: { input: 0, output: 0, per_image: { default: 0.04 } }, budget: { period: week, limit_usd: 0.0005 } }
aliases:
  fast: mock/a
routes:
  - { name: default, description: everyday chat, targets: [mock/a], conditions: [{ when: { metadata.tier: pro }, target: mock/b }] }
  - { name: fallback, description: flaky first then a fallback, targets: [mock/flaky, mock/b], retry: { max_retries: 0 } }
  - { name: cached, description: answers cached, targets: [mock/a], cache: { enabled: true } }
  - { name: broken, description: always fails, targets: [mock/flaky], retry: { max_retries: 0 } }
  - { name: trickle, description: slow stream, targets: [mock/trickle] }
  - { name: rerank, description: ranks documents, targets: [mock/rerank] }
teams:
  - { name: search, budget: { period: month, limit_usd: 50 } }
  - { name: ads }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: search-team, hash: "${hashKey(SEARCH)}", team: search, role: team, budget: { period: day, limit_usd: 5 }, limits: { requests_per_minute: 600 } }
  - { name: ads-svc, hash: "${hashKey(ADS)}", team: ads, role: service }
console: { trace_url: "http://jaeger.test/trace/{trace_id}" }
# Only requests that ask for web search use it (the playground's test of it).
web_search: { engine: mock, max_results: 3 }
`;

// 7 requests of team search, 22 of team ads: more than one page of ListRequests (25).
const EXPECTED = { requests: 29, errors: 1, fallbacks: 1, cacheHits: 1, search: 7, ads: 22 };

describe("console in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  let admin: SignalboxClient;
  let sink: Server;
  const sunk: string[] = [];
  const errors: string[] = [];
  const timings: string[] = [];

  const client = (apiKey: string) => createSignalboxClient({ baseUrl: gw.url, apiKey, protocol: "connect", opentelemetry: false });
  const chat = (c: SignalboxClient, model: string, text: string, traceparent?: string) =>
    c.chat.complete({ model, messages: [user(text)] }, traceparent ? { headers: { traceparent } } : {});

  async function newPage(): Promise<Page> {
    const p = await context.newPage();
    p.on("console", (m) => {
      if (m.type() === "error") errors.push(`${p.url()}: ${m.text()}`);
    });
    p.on("pageerror", (e) => errors.push(`pageerror on ${p.url()}: ${e.message}`));
    return p;
  }

  async function signIn(p: Page, key: string, role: string): Promise<void> {
    await p.goto(`${gw.url}/console/`);
    await p.locator("input[name=key]").fill(key);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.locator(`[data-testid=identity][data-role=${role}]`).waitFor();
  }

  async function go(p: Page, label: string): Promise<void> {
    await p.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: label, exact: true }).click();
  }

  const shot = (p: Page, name: string, fullPage = true) => p.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage });

  before(async () => {
    let t = performance.now();
    await prepareConsole();
    timings.push(`build check ${Math.round(performance.now() - t)} ms`);
    work = await mkdtemp(join(tmpdir(), "signalbox-console-"));
    // Alert sinks on loopback: /ops answers 200, /down 500.
    sink = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        sunk.push(req.url ?? "");
        res.writeHead(req.url === "/down" ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    gw = await startTestGateway(`${CONFIG}alerts:\n  - { name: ops, url: "${hook}/ops", format: slack, events: [budget_exhausted] }\n  - { name: down, url: "${hook}/down", events: [budget_exhausted] }\nspend_reports:\n  - { name: weekly, period: week, alert: ops }\n`);
    admin = client(ADMIN);

    // Real traffic: team search (successes, a cache hit, a fallback, a failure) and team ads.
    t = performance.now();
    const search = client(SEARCH);
    const ads = client(ADS);
    for (let i = 0; i < 3; i++) await chat(search, "default", `hello ${i}`);
    await chat(search, "cached", "the same question");
    const hit = await chat(search, "cached", "the same question");
    assert.equal(hit.cacheHit, true);
    const fb = await chat(search, "fallback", "please fall back", `00-${FALLBACK_TRACE}-00f067aa0ba902b7-01`);
    assert.equal(fb.deployment, "mock/b");
    await assert.rejects(chat(search, "broken", "this fails"), (e: unknown) => e instanceof SignalboxError && e.code === Code.Unavailable);
    await Promise.all(Array.from({ length: EXPECTED.ads }, (_, i) => chat(ads, "default", `ads ${i}`)));
    await poll(
      async () => {
        const r = await admin.usage.getUsage({ startTime: timestampFromMs(Date.now() - 3_600_000), granularity: Granularity.TOTAL });
        return Number(r.rows[0]?.requests ?? 0) === EXPECTED.requests ? true : undefined;
      },
      5000,
      "the usage records",
    );
    timings.push(`traffic ${Math.round(performance.now() - t)} ms`);

    t = performance.now();
    context = await launchChromium(join(work, "profile"), { width: 1200, height: 800 });
    page = await newPage();
    timings.push(`browser ${Math.round(performance.now() - t)} ms`);
  });

  after(async () => {
    await context?.close();
    await gw?.close();
    sink?.closeAllConnections();
    sink?.close();
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`# console suite: ${Math.round(performance.now() - started)} ms (${timings.join(", ")})`);
  });

  test("signs in with a caller key kept in sessionStorage only", async () => {
    await page.goto(`${gw.url}/console`);
    assert.equal(new URL(page.url()).pathname, "/console/", "/console redirects to /console/");
    await page.locator("input[name=key]").waitFor();
    await shot(page, "signin", false);
    await signIn(page, ADMIN, "admin");
    const identity = page.getByTestId("identity");
    assert.match(await identity.innerText(), /console-admin/);
    const storage = await page.evaluate(() => ({ session: JSON.stringify(sessionStorage), local: JSON.stringify(localStorage), url: location.href }));
    assert.match(storage.session, new RegExp(ADMIN));
    assert.doesNotMatch(storage.local, new RegExp(ADMIN));
    assert.doesNotMatch(storage.url, new RegExp(ADMIN));
  });

  test("overview shows the requests, errors, fallbacks and cache hits the test made", async () => {
    const totals = page.locator('[data-testid=totals][data-loaded="true"]');
    await totals.waitFor();
    assert.deepEqual(
      {
        requests: Number(await totals.getAttribute("data-requests")),
        errors: Number(await totals.getAttribute("data-errors")),
        fallbacks: Number(await totals.getAttribute("data-fallbacks")),
        cacheHits: Number(await totals.getAttribute("data-cache-hits")),
      },
      { requests: EXPECTED.requests, errors: EXPECTED.errors, fallbacks: EXPECTED.fallbacks, cacheHits: EXPECTED.cacheHits },
    );
    // The figures as rendered, not only the attributes.
    assert.match(await page.getByTestId("stat-requests").innerText(), new RegExp(`\\b${EXPECTED.requests}\\b`));
    assert.match(await page.getByTestId("stat-errors").innerText(), /\b1\b/);
    // Latency percentiles from the usage store's histogram: real figures, not "–".
    const p50 = Number(await totals.getAttribute("data-p50-ms"));
    const p95 = Number(await totals.getAttribute("data-p95-ms"));
    assert.ok(p50 > 0 && p95 >= p50, `p50 ${p50}, p95 ${p95}`);
    assert.match(await page.getByTestId("stat-latency").innerText(), /\d+(\.\d)? m?s \/ \d+(\.\d+)? m?s/);
    for (const chart of ["chart-requests", "chart-cost", "chart-tokens", "chart-latency"]) {
      await page.locator(`[data-testid=${chart}] canvas`).first().waitFor();
    }
    await page.locator("[data-testid=top-team] tr[data-name=search]").waitFor();
    assert.equal(await page.locator("[data-testid=top-team] tr[data-name=search]").getAttribute("data-requests"), String(EXPECTED.search));
    assert.equal(await page.locator("[data-testid=top-team] tr[data-name=ads]").getAttribute("data-requests"), String(EXPECTED.ads));
    await page.locator("[data-testid=top-route] tr[data-name=fallback]").waitFor();
    await page.locator("[data-testid=top-deployment] tr[data-name='mock/b']").waitFor();
    await shot(page, "overview", false);
  });

  test("the usage table's totals equal GetUsage's, and export as CSV", async () => {
    await go(page, "Usage");
    const totals = page.getByTestId("usage-totals");
    await totals.waitFor();
    const res = await admin.usage.getUsage({ startTime: timestampFromMs(Date.now() - 86_400_000), granularity: Granularity.TOTAL, groupBy: [Dimension.TEAM] });
    const sum = (f: (r: (typeof res.rows)[number]) => bigint | undefined) => res.rows.reduce((a, r) => a + (f(r) ?? 0n), 0n);
    assert.deepEqual(
      {
        requests: await totals.getAttribute("data-requests"),
        failures: await totals.getAttribute("data-failures"),
        input: await totals.getAttribute("data-input-tokens"),
        output: await totals.getAttribute("data-output-tokens"),
        cost: await totals.getAttribute("data-cost-nanos"),
      },
      {
        requests: String(sum((r) => r.requests)),
        failures: String(sum((r) => r.failures)),
        input: String(sum((r) => r.usage?.inputTokens)),
        output: String(sum((r) => r.usage?.outputTokens)),
        cost: String(sum((r) => r.cost?.totalNanoUsd)),
      },
    );
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    const csv = await readFile((await download.path())!, "utf8");
    const lines = csv.trim().split(/\r\n/);
    assert.match(lines[0], /^bucket_start,team,requests,failures/);
    // What other operations bill by: always in the CSV; in the table only when some row has any
    // (these requests were all chat).
    assert.match(lines[0], /,images,audio_seconds,characters,search_units,pages,request_cost_usd$/);
    assert.equal(await page.getByTestId("usage-table").locator("th", { hasText: "Units" }).count(), 0);
    assert.equal(await totals.getAttribute("data-images"), "0");
    assert.equal(lines.length, 1 + res.rows.length);
    assert.ok(lines.some((l) => l.includes(",search,7,")), csv);
    // Hourly buckets per team: the chart.
    await page.getByRole("radiogroup", { name: "Granularity" }).getByRole("radio", { name: "Hour" }).click();
    await page.locator("[data-testid=usage-chart] canvas").first().waitFor();
    await shot(page, "usage");
  });

  test("a request's timeline shows its fallback hop and links to its trace", async () => {
    await go(page, "Requests");
    const row = page.locator('[data-testid=request-row][data-fallback="true"]');
    await row.first().waitFor();
    // A page at a time: 25, then the rest, and back.
    assert.equal(await page.getByTestId("request-row").count(), 25);
    await shot(page, "requests");
    await page.getByRole("button", { name: "Older →" }).click();
    await page.getByText("Page 2").waitFor();
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=request-row]").length === n, EXPECTED.requests - 25);
    assert.ok(await page.getByRole("button", { name: "Older →" }).isDisabled());
    await page.getByRole("button", { name: "← Newer" }).click();
    await page.getByText("Page 1").waitFor();
    await row.first().click();
    const bars = page.getByTestId("attempt-bar");
    await bars.first().waitFor();
    assert.equal(await bars.count(), 2);
    assert.deepEqual(
      [await bars.nth(0).getAttribute("data-deployment"), await bars.nth(0).getAttribute("data-outcome"), await bars.nth(0).getAttribute("data-failure-kind")],
      ["mock/flaky", "failed", "overloaded"],
    );
    assert.deepEqual([await bars.nth(1).getAttribute("data-deployment"), await bars.nth(1).getAttribute("data-outcome")], ["mock/b", "succeeded"]);
    assert.match(await bars.nth(1).innerText(), /fallback/i, "the second attempt says why it happened");
    assert.equal(await page.getByTestId("trace-link").getAttribute("href"), `http://jaeger.test/trace/${FALLBACK_TRACE}`);
    assert.match(page.url(), /\/console\/requests\/[^/]+$/);
    await shot(page, "request");
    // A reload of the deep link works (history routing, GetRequest by id).
    await page.reload();
    await page.getByTestId("attempt-bar").nth(1).waitFor();
  });

  test("the route explainer lists Route's candidates in order, and Run answers from the plan", async () => {
    await go(page, "Route explainer");
    await page.locator("select[name=model] option[value=fallback]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("fallback");
    await page.getByRole("button", { name: "Explain" }).click();
    const cands = page.getByTestId("candidate");
    await cands.first().waitFor();
    const shown = await cands.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-deployment")));
    const plan = await admin.route.route({ model: "fallback", messages: [system("You are a concise assistant."), user("Explain what a fallback is in one sentence.")] });
    assert.deepEqual(shown, plan.candidates.map((c) => c.deployment));
    assert.deepEqual(shown, ["mock/flaky", "mock/b"]);
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const summary = page.getByTestId("run-summary");
    await summary.waitFor();
    assert.equal(await summary.getAttribute("data-deployment"), "mock/b");
    assert.equal(await page.locator("[data-testid=candidate][data-deployment='mock/flaky']").getAttribute("data-run"), "failed");
    assert.equal(await page.locator("[data-testid=candidate][data-deployment='mock/b']").getAttribute("data-run"), "answered");
    await shot(page, "explain");
    // Metadata reaches the planner: the default route's condition sends tier=pro to mock/b.
    await page.locator("select[name=model]").selectOption("default");
    await page.locator("input[name=metadata]").fill("tier=pro, region=eu");
    await page.getByRole("button", { name: "Explain" }).click();
    const picked = page.locator("[data-testid=candidate][data-deployment='mock/b']");
    await picked.waitFor();
    assert.match(await picked.innerText(), /condition 1 \(metadata\.tier=pro\) -> deployment mock\/b/);
    await page.locator("input[name=metadata]").fill("");
  });

  test("models, health and budgets render", async () => {
    await go(page, "Models & health");
    await page.locator("[data-testid=deployments] tr[data-id='mock/trickle']").waitFor();
    assert.equal(await page.locator("[data-testid=deployments] tbody tr").count(), 6);
    // Budget: each spending cap, spent of limit and period, the provider's marked, "over" once reached; — when none.
    const caps = (id: string) => page.locator(`[data-testid=deployments] tr[data-id='${id}'] [data-testid=spend-caps]`);
    assert.match(await caps("mock/b").innerText(), /^\$[\d.]+ of \$10\.000 day$/);
    assert.equal(await caps("mock/a").innerText(), "—");
    assert.deepEqual(await caps("mock/frozen").getByTestId("spend-cap").allInnerTexts(), ["$0 of $0.000500 week", "provider: $0 of $0 month over"]);
    assert.equal(await caps("mock/frozen").locator("[data-testid=spend-cap][data-scope=provider][data-over=true] .badge-bad").innerText(), "over");
    assert.equal(await caps("mock/frozen").locator(".badge").count(), 1, "the deployment's own cap is not reached");
    assert.match((await caps("mock/frozen").locator("[data-scope=provider]").getAttribute("title")) ?? "", /^resets \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    await page.locator("[data-testid=routes] tr[data-name=cached]").waitFor();
    assert.equal(await page.locator("[data-testid=routes] tr[data-name=default] [data-testid=route-condition]").innerText(), "if metadata.tier = pro → mock/b");
    await shot(page, "models");
    await go(page, "Budgets & limits");
    await page.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await page.locator("select[aria-label=Team]").selectOption("search");
    await page.locator("select[aria-label=Key] option[value=search-team]").waitFor({ state: "attached" });
    await page.locator("select[aria-label=Key]").selectOption("search-team");
    await page.locator("[data-testid=budget][data-name=search]").waitFor();
    await page.locator("[data-testid=budget][data-name=search-team]").waitFor();
    await shot(page, "budgets");
  });

  test("alerts: the sinks without their URLs; Send test says delivered, or not and why", async () => {
    await go(page, "Alerts");
    await page.locator("[data-testid=alert][data-name=ops]").waitFor();
    assert.deepEqual(await page.getByTestId("alert").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name"))), ["ops", "down"]);
    assert.ok(!(await page.getByTestId("alerts").innerText()).includes("127.0.0.1"), "no URL on the page");
    const ops = page.locator("[data-testid=alert][data-name=ops]");
    await ops.getByRole("button", { name: "Send test" }).click();
    await ops.getByTestId("alert-result").getByText(/delivered in \d+ ms/).waitFor();
    assert.deepEqual(sunk, ["/ops"]);
    const down = page.locator("[data-testid=alert][data-name=down]");
    await down.getByRole("button", { name: "Send test" }).click();
    await down.getByTestId("alert-result").getByText("not delivered: HTTP 500").waitFor();
    // A spend report, sent now to its sink.
    const weekly = page.locator("[data-testid=spend-report][data-name=weekly]");
    assert.match(await weekly.innerText(), /week\s+ops\s+10 by team/);
    await weekly.getByRole("button", { name: "Send now" }).click();
    await weekly.getByTestId("spend-report-result").getByText(/sent: \$[\d.]+, \d+ requests/).waitFor();
    assert.deepEqual(sunk, ["/ops", "/down", "/ops"]);
    await shot(page, "alerts");
  });

  test("a key created in the console works until it is revoked in the console", async () => {
    await go(page, "Keys & teams");
    await page.locator("[data-testid=key-row][data-name=search-team]").waitFor();
    await page.getByRole("button", { name: "New key" }).click();
    const form = page.getByRole("form", { name: "New key" });
    await form.locator("input[name=name]").fill("console-made");
    await form.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await form.locator("select[aria-label=Team]").selectOption("search");
    // A budget per end user, beside the key's own.
    await form.locator("input[name=per_user_budget]").fill("1.5");
    await form.locator("select[name=per_user_period]").selectOption({ label: "week" });
    await form.getByRole("button", { name: "Create key" }).click();
    const secretEl = page.getByTestId("secret");
    await secretEl.waitFor();
    const secret = (await secretEl.innerText()).trim();
    assert.ok(secret.length > 16, secret);
    await shot(page, "key-created", false);
    await page.getByRole("button", { name: "I have copied it" }).click();
    await secretEl.waitFor({ state: "detached" });
    // Shown once: gone from the page and from storage once the dialog closed.
    assert.ok(!(await page.content()).includes(secret));
    assert.ok(!(await page.evaluate(() => JSON.stringify(sessionStorage) + JSON.stringify(localStorage))).includes(secret));

    const made = client(secret);
    const ok = await chat(made, "default", "from a console-made key");
    assert.ok(ok.deployment);

    const row = page.locator("[data-testid=key-row][data-name=console-made]");
    await row.waitFor();
    assert.equal(await row.getByTestId("per-user-budget").innerText(), "$1.5 / week per end user");
    const perUser = (await admin.admin.getKey({ name: "console-made" })).key?.perUserBudget;
    assert.equal(perUser?.limitUsd, 1.5);
    assert.equal(perUser?.period, BudgetPeriod.WEEK);
    await shot(page, "keys");

    // The budgets page shows an end user's budget under the key when one is named.
    await made.chat.complete({ model: "default", messages: [user("from an end user")], user: "alice" });
    await go(page, "Budgets & limits");
    const endUser = page.locator("input[aria-label='End user']");
    assert.ok(await endUser.isDisabled(), "no end user before a key is chosen");
    await page.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await page.locator("select[aria-label=Team]").selectOption("search");
    await page.locator("select[aria-label=Key] option[value=console-made]").waitFor({ state: "attached" });
    await page.locator("select[aria-label=Key]").selectOption("console-made");
    await page.locator("[data-testid=budget][data-name=search]").waitFor();
    assert.equal(await page.locator("[data-testid=budget][data-scope=user]").count(), 0);
    await endUser.fill("alice");
    const userBudget = page.locator("[data-testid=budget][data-scope=user][data-name='console-made:alice']");
    await userBudget.waitFor();
    assert.match(await userBudget.innerText(), /Limit\s*\$1\.50*\s*per week/);
    await page.locator("[data-testid=budget][data-scope=team][data-name=search]").waitFor();
    await shot(page, "budgets-end-user");

    // Emptying the field in the edit form removes the per-user budget.
    await go(page, "Keys & teams");
    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("form", { name: "Edit key" });
    assert.equal(await edit.locator("input[name=per_user_budget]").inputValue(), "1.5");
    await edit.locator("input[name=per_user_budget]").fill("");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    assert.equal((await admin.admin.getKey({ name: "console-made" })).key?.perUserBudget, undefined);
    await row.getByTestId("per-user-budget").waitFor({ state: "detached" });
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("button", { name: "Revoke key" }).click();
    await row.waitFor({ state: "detached" });
    const refused = await poll(
      () =>
        chat(made, "default", "after revoking").then(
          () => undefined,
          (e: unknown) => (e instanceof SignalboxError && e.code === Code.Unauthenticated ? e : undefined),
        ),
      3000,
      "the revoked key to be refused",
    );
    assert.equal(refused.code, Code.Unauthenticated);
  });

  test("a lifetime budget set in the console: the API holds BudgetPeriod.LIFETIME, the pages show it never resets", async () => {
    await go(page, "Keys & teams");
    await page.getByRole("button", { name: "New key" }).click();
    const form = page.getByRole("form", { name: "New key" });
    await form.locator("input[name=name]").fill("console-lifetime");
    await form.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await form.locator("select[aria-label=Team]").selectOption("search");
    await form.locator("input[name=budget]").fill("100");
    await form.locator("select[name=period]").selectOption({ label: "lifetime (never resets)" });
    await form.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("button", { name: "I have copied it" }).click();
    const budget = (await admin.admin.getKey({ name: "console-lifetime" })).key?.budget;
    assert.deepEqual([budget?.limitUsd, budget?.period], [100, BudgetPeriod.LIFETIME]);
    const row = page.locator("[data-testid=key-row][data-name=console-lifetime]");
    assert.equal(await row.getByTestId("key-budget").innerText(), "$100 lifetime (never resets)");

    // The edit form starts from lifetime and keeps it.
    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("form", { name: "Edit key" });
    assert.equal(await edit.locator("select[name=period]").inputValue(), String(BudgetPeriod.LIFETIME));
    await edit.locator("input[name=budget]").fill("200");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    const edited = (await admin.admin.getKey({ name: "console-lifetime" })).key?.budget;
    assert.deepEqual([edited?.limitUsd, edited?.period], [200, BudgetPeriod.LIFETIME]);
    await poll(async () => ((await row.getByTestId("key-budget").innerText()) === "$200 lifetime (never resets)" ? true : undefined), 3000, "the edited budget");

    // The budgets page: a lifetime limit with no reset time.
    await go(page, "Budgets & limits");
    await page.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await page.locator("select[aria-label=Team]").selectOption("search");
    await page.locator("select[aria-label=Key] option[value=console-lifetime]").waitFor({ state: "attached" });
    await page.locator("select[aria-label=Key]").selectOption("console-lifetime");
    const card = page.locator("[data-testid=budget][data-scope=key][data-name=console-lifetime]");
    await card.waitFor();
    const text = await card.innerText();
    assert.match(text, /Limit\s*\$200\.00*\s*lifetime/);
    assert.match(text, /Never resets/);
    assert.doesNotMatch(text, /Resets in|1970|9999/);
    await shot(page, "budgets-lifetime");
    await admin.admin.revokeKey({ name: "console-lifetime" });
  });

  test("a key blocked in the console is refused, shown blocked, and calls again once unblocked", async () => {
    const { secret } = await admin.admin.createKey({ key: { name: "console-blocked", team: "search", role: KeyRole.SERVICE } });
    const k = client(secret);
    await chat(k, "default", "before blocking");
    await go(page, "Keys & teams");
    // Made through the API, not the page: reload so the cached list (10 s fresh) is read again.
    await page.reload();
    const row = page.locator("[data-testid=key-row][data-name=console-blocked]");
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "active");
    await row.getByRole("button", { name: "Block", exact: true }).click();
    await page.getByRole("button", { name: "Block key" }).click();
    await page.locator("[data-testid=key-row][data-name=console-blocked][data-status=blocked]").waitFor();
    assert.ok(await row.getByText("blocked", { exact: true }).isVisible(), "the status badge says blocked");
    assert.equal(await row.getByRole("button", { name: "Block", exact: true }).count(), 0, "Unblock replaces Block");
    assert.ok((await admin.admin.getKey({ name: "console-blocked" })).key?.blockTime, "the gateway has it blocked");
    const refused = await poll(
      () =>
        chat(k, "default", "while blocked").then(
          () => undefined,
          (e: unknown) => (e instanceof SignalboxError && e.code === Code.Unauthenticated ? e : undefined),
        ),
      3000,
      "the blocked key to be refused",
    );
    assert.match(refused.rawMessage, /API key "console-blocked" is blocked/);
    await shot(page, "key-blocked");

    await row.getByRole("button", { name: "Unblock" }).click();
    await page.getByRole("button", { name: "Unblock key" }).click();
    await page.locator("[data-testid=key-row][data-name=console-blocked][data-status=active]").waitFor();
    assert.equal((await admin.admin.getKey({ name: "console-blocked" })).key?.blockTime, undefined);
    await poll(() => chat(k, "default", "unblocked").then(() => true, () => undefined), 3000, "the unblocked key to call again");
    await admin.admin.revokeKey({ name: "console-blocked" });
  });

  test("an end user made and blocked in the console is refused while the key's other users go on, and calls again once unblocked", async () => {
    const { secret } = await admin.admin.createKey({ key: { name: "console-eu", team: "search", role: KeyRole.SERVICE } });
    const k = client(secret);
    const ask = (who: string) => k.chat.complete({ model: "default", messages: [user(`hello from ${who}`)], user: who });
    await go(page, "Keys & teams");
    await page.getByTestId("end-users-table").or(page.getByText("No end users.")).waitFor();
    await page.getByRole("button", { name: "New end user" }).click();
    const form = page.getByRole("form", { name: "New end user" });
    await form.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await form.locator("select[aria-label=Team]").selectOption("search");
    await form.locator("input[name=user]").fill("dana@example.com");
    await form.locator("input[name=budget]").fill("2");
    await form.locator("select[name=period]").selectOption({ label: "day" });
    await form.locator("input[name=rpm]").fill("30");
    await form.getByRole("button", { name: "Create end user" }).click();
    await form.waitFor({ state: "detached" });
    const row = page.locator("[data-testid=end-user-row][data-team=search][data-user='dana@example.com']");
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "active");
    assert.match(await row.innerText(), /\$2 \/ day[\s\S]*30 req\/min/);
    const made = (await admin.admin.getEndUser({ team: "search", user: "dana@example.com" })).endUser;
    assert.deepEqual([made?.budget?.limitUsd, made?.budget?.period, made?.limits?.requestsPerMinute, made?.createdBy], [2, BudgetPeriod.DAY, 30, "console-admin"]);
    await ask("dana@example.com");

    await row.getByRole("button", { name: "Block", exact: true }).click();
    await page.getByRole("button", { name: "Block end user" }).click();
    await page.locator("[data-testid=end-user-row][data-user='dana@example.com'][data-status=blocked]").waitFor();
    assert.equal(await row.getByRole("button", { name: "Block", exact: true }).count(), 0, "Unblock replaces Block");
    const refused = await poll(
      () =>
        ask("dana@example.com").then(
          () => undefined,
          (e: unknown) => (e instanceof SignalboxError && e.code === Code.PermissionDenied ? e : undefined),
        ),
      3000,
      "the blocked end user to be refused",
    );
    assert.match(refused.rawMessage, /end user "dana@example\.com" is blocked/);
    assert.equal(refused.field, "user");
    await ask("someone-else"); // the key's other users go on
    await shot(page, "end-user-blocked");

    await row.getByRole("button", { name: "Unblock" }).click();
    await page.getByRole("button", { name: "Unblock end user" }).click();
    await page.locator("[data-testid=end-user-row][data-user='dana@example.com'][data-status=active]").waitFor();
    assert.equal((await admin.admin.getEndUser({ team: "search", user: "dana@example.com" })).endUser?.blocked, false);
    await poll(() => ask("dana@example.com").then(() => true, () => undefined), 3000, "the unblocked end user to call again");

    await row.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("button", { name: "Delete end user" }).click();
    await row.waitFor({ state: "detached" });
    await assert.rejects(admin.admin.getEndUser({ team: "search", user: "dana@example.com" }), (e: unknown) => e instanceof SignalboxError && e.code === Code.NotFound);
    await admin.admin.revokeKey({ name: "console-eu" });
  });

  test("an end user edited in the console: UpdateEndUser names only what changed; one made blocked from the start is blocked", async () => {
    await admin.admin.createEndUser({ endUser: { team: "search", user: "erin@example.com", budget: { period: BudgetPeriod.DAY, limitUsd: 1 }, metadata: { plan: "free" } } });
    const get = async (who: string) => (await admin.admin.getEndUser({ team: "search", user: who })).endUser;
    const UPDATE = "/signalbox.v1.AdminService/UpdateEndUser";
    /** Presses Save in the edit form and decodes the UpdateEndUser request the page sends. */
    const save = async (form: Locator) => {
      const request = page.waitForRequest((r) => r.url().endsWith(UPDATE) && r.method() === "POST");
      await form.getByRole("button", { name: "Save" }).click();
      const body = (await request).postDataBuffer();
      assert.ok(body, "the UpdateEndUser request has a body");
      await form.waitFor({ state: "detached" });
      return fromBinary(UpdateEndUserRequestSchema, body);
    };

    // A gateway error shows in the dialog, naming the field. On a page of its own whose console is
    // not watched: Chromium logs the gateway's 400 as a failed resource load.
    const ep = await context.newPage();
    await signIn(ep, ADMIN, "admin");
    await go(ep, "Keys & teams");
    const erinThere = ep.locator("[data-testid=end-user-row][data-team=search][data-user='erin@example.com']");
    await erinThere.getByRole("button", { name: "Edit" }).click();
    const bad = ep.getByRole("form", { name: "Edit end user" });
    assert.ok(await bad.getByRole("button", { name: "Save" }).isDisabled(), "nothing changed yet");
    await bad.locator("input[name=budget]").fill("0");
    await bad.getByRole("button", { name: "Save" }).click();
    const alert = bad.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Field end_user\.budget\.limit_usd: .*must be > 0/);
    assert.equal((await get("erin@example.com"))?.budget?.limitUsd, 1, "nothing saved");
    await ep.close();

    await go(page, "Keys & teams");
    // Made through the API, not the page: reload so the cached list (10 s fresh) is read again.
    await page.reload();
    const row = page.locator("[data-testid=end-user-row][data-team=search][data-user='erin@example.com']");
    await row.waitFor();
    await row.getByRole("button", { name: "Edit" }).click();
    let form = page.getByRole("form", { name: "Edit end user" });
    assert.equal(await form.locator("input[name=budget]").inputValue(), "1");
    assert.equal(await form.locator("select[name=period]").inputValue(), String(BudgetPeriod.DAY));
    assert.equal(await form.locator("input[name=rpm]").inputValue(), "");
    await form.locator("input[name=budget]").fill("3");
    await form.locator("select[name=period]").selectOption({ label: "week" });
    await form.locator("input[name=rpm]").fill("5");
    let sent = await save(form);
    assert.deepEqual([...(sent.updateMask?.paths ?? [])].sort(), ["budget", "limits"]);
    let got = await get("erin@example.com");
    assert.deepEqual([got?.budget?.limitUsd, got?.budget?.period, got?.limits?.requestsPerMinute, got?.limits?.tokensPerMinute], [3, BudgetPeriod.WEEK, 5, undefined]);
    assert.deepEqual(got?.metadata, { plan: "free" }, "metadata is left alone");
    await poll(async () => (/\$3 \/ week[\s\S]*5 req\/min/.test(await row.innerText()) ? true : undefined), 3000, "the edited budget and limits");

    // Emptying the rpm clears the limits, and only they are sent.
    await row.getByRole("button", { name: "Edit" }).click();
    form = page.getByRole("form", { name: "Edit end user" });
    assert.equal(await form.locator("input[name=rpm]").inputValue(), "5");
    assert.equal(await form.locator("select[name=period]").inputValue(), String(BudgetPeriod.WEEK));
    await form.locator("input[name=rpm]").fill("");
    sent = await save(form);
    assert.deepEqual(sent.updateMask?.paths, ["limits"]);
    got = await get("erin@example.com");
    assert.equal(got?.limits, undefined, "no limits");
    assert.deepEqual([got?.budget?.limitUsd, got?.budget?.period, got?.blocked], [3, BudgetPeriod.WEEK, false]);
    await poll(async () => ((await row.innerText()).includes("key's only") ? true : undefined), 3000, "the cleared limits");
    await shot(page, "end-user-edited");

    // Blocked from the start.
    await page.getByRole("button", { name: "New end user" }).click();
    const create = page.getByRole("form", { name: "New end user" });
    await create.locator("select[aria-label=Team] option[value=search]").waitFor({ state: "attached" });
    await create.locator("select[aria-label=Team]").selectOption("search");
    await create.locator("input[name=user]").fill("frank@example.com");
    await create.getByLabel(/Blocked from the start/).check();
    await create.getByRole("button", { name: "Create end user" }).click();
    await create.waitFor({ state: "detached" });
    await page.locator("[data-testid=end-user-row][data-team=search][data-user='frank@example.com'][data-status=blocked]").waitFor();
    const frank = await get("frank@example.com");
    assert.equal(frank?.blocked, true);
    assert.ok(frank?.blockTime, "blocked since its creation");

    for (const who of ["erin@example.com", "frank@example.com"]) await admin.admin.deleteEndUser({ team: "search", user: who });
  });

  test("the playground renders streamed deltas before the finish", async () => {
    await go(page, "Playground");
    await page.locator("select[name=model] option[value=trickle]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("trickle");
    await page.getByRole("button", { name: "Send" }).click();
    // Seen while streaming: deltas on the page and no finish yet.
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=deltas]")?.getAttribute("data-count") ?? 0) >= 2 && !document.querySelector("[data-testid=stream-finish]"), undefined, { polling: 10, timeout: 10_000 });
    assert.equal(await page.getByTestId("stream-start").getAttribute("data-deployment"), "mock/trickle");
    const finish = page.getByTestId("stream-finish");
    await finish.waitFor();
    assert.ok(Number(await finish.getAttribute("data-deltas")) >= 2);
    await shot(page, "playground");
  });

  test("the playground attaches documents to a user message and sends them with it", async () => {
    await go(page, "Playground");
    await page.locator("select[name=model] option[value=default]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("default");
    await page.getByLabel("Message 1 text").fill("Summarise this");
    await page.getByLabel("Attach documents to message 1").setInputFiles([
      { name: "q3.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n") },
      { name: "notes.md", mimeType: "", buffer: Buffer.from("# Notes\nShip Friday.\n") },
    ]);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=attachment]").length === 2);
    assert.deepEqual((await page.getByTestId("attachment").allInnerTexts()).map((t) => t.replace("×", "").trim()), ["q3.pdf", "notes.md"]);
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("stream-finish").waitFor();
    // The mock says what it got: two files, then the text.
    assert.match(await page.getByTestId("answer").innerText(), /You said: "\[file\] \[file\] Summarise this"/);
    // Removing one leaves the other.
    await page.getByRole("button", { name: "Remove q3.pdf" }).click();
    assert.deepEqual((await page.getByTestId("attachment").allInnerTexts()).map((t) => t.replace("×", "").trim()), ["notes.md"]);
    await shot(page, "playground-files");
  });

  test("the playground shades each token by its probability, with the alternatives on hover", async () => {
    await go(page, "Playground");
    await page.locator("select[name=model] option[value=default]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("default");
    await page.getByLabel("Message 1 text").fill("How sure are you?");
    await page.locator("input[name=logprobs]").check();
    await page.locator("select[name=top_logprobs]").selectOption("3");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("stream-finish").waitFor();
    const tokens = page.getByTestId("token");
    const n = await tokens.count();
    assert.ok(n >= 3, `${n} tokens`);
    // The tokens spell the answer, each with a probability in (0, 1] and its alternatives.
    assert.equal((await tokens.allTextContents()).join(""), await page.getByTestId("answer").textContent());
    for (let i = 0; i < n; i++) {
      const p = Number(await tokens.nth(i).getAttribute("data-p"));
      assert.ok(p > 0 && p <= 1, `token ${i}: ${p}`);
      assert.match((await tokens.nth(i).getAttribute("title")) ?? "", /%\nalternatives: .+%, .+%/);
    }
    assert.match((await page.getByTestId("token-summary").textContent()) ?? "", new RegExp(`^${n} tokens · mean probability [\\d.]+% · perplexity [\\d.]+`));
    await shot(page, "playground-logprobs");
  });

  test("the playground searches the web first and lists the sources the answer cites", async () => {
    await go(page, "Playground");
    await page.locator("select[name=model] option[value=default]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("default");
    const question = "What changed in Node 24?";
    await page.getByLabel("Message 1 text").fill(question);
    await page.locator("input[name=logprobs]").uncheck();
    await page.locator("input[name=web_search]").check();
    await page.locator("input[name=web_search_results]").fill("2");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("stream-finish").waitFor();
    // The mock engine's first result, which the mock model cites as a markdown link.
    const first = "https://what-changed-in-node-24-1.example.com/";
    const sources = page.getByTestId("source");
    assert.equal(await sources.count(), 1);
    const link = sources.first().getByRole("link");
    assert.equal(await link.getAttribute("href"), first);
    assert.equal(await link.getAttribute("target"), "_blank");
    assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
    assert.match(await sources.first().innerText(), /^Mock result 1 for "What changed in Node 24\?" what-changed-in-node-24-1\.example\.com$/);
    assert.ok((await page.getByTestId("answer").innerText()).includes(first), "the answer links to it");
    // The adjustment says what was searched, with the results asked for.
    assert.match(await page.locator("[data-testid=adjustment][data-field=web_search]").innerText(), /^web_search: 2 results from mock added before the last user message/);
    await shot(page, "playground-web-search");
    // Without a number, the gateway's max_results (3).
    await page.locator("input[name=web_search_results]").fill("");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator("[data-testid=adjustment][data-field=web_search]").filter({ hasText: "3 results from mock" }).waitFor();
    await page.locator("input[name=web_search]").uncheck();
  });

  test("requests filter by operation, and a ranking shows its operation", async () => {
    const ranked = await admin.rerank.rerank({ model: "rerank", query: "capital of France", documents: ["Paris is in France", "Bananas"] });
    await go(page, "Requests");
    const rows = page.getByTestId("request-row");
    await rows.first().waitFor();
    for (const op of ["rerank", "chat"]) {
      await page.locator("select[name=operation]").selectOption(op);
      await page.getByRole("button", { name: "Apply" }).click();
      await page.waitForFunction((o) => {
        const r = [...document.querySelectorAll("[data-testid=request-row]")];
        return r.length > 0 && r.every((x) => x.getAttribute("data-operation") === o);
      }, op);
    }
    await page.locator("select[name=operation]").selectOption("rerank");
    await page.getByRole("button", { name: "Apply" }).click();
    const row = page.locator(`[data-testid=request-row][data-id="${ranked.id}"]`);
    await row.waitFor();
    assert.equal(await rows.count(), 1);
    assert.match(await row.innerText(), /rerank/);
    await shot(page, "requests-rerank");
    await page.getByRole("button", { name: "Clear" }).click();
  });

  test("a team key sees only its team, and no admin-only controls", async () => {
    const tp = await newPage();
    await signIn(tp, SEARCH, "team");
    assert.equal(await tp.getByTestId("identity").getAttribute("data-team"), "search");
    await go(tp, "Requests");
    await tp.getByTestId("request-row").first().waitFor();
    const teams = await tp.getByTestId("request-row").evaluateAll((rows) => [...new Set(rows.map((r) => r.getAttribute("data-team")))]);
    assert.deepEqual(teams, ["search"]);
    await go(tp, "Usage");
    await tp.getByTestId("usage-table").waitFor();
    const groups = await tp.locator("[data-testid=usage-table] tbody tr td:first-child").allInnerTexts();
    assert.deepEqual([...new Set(groups.map((g) => g.trim()))], ["search"]);
    await go(tp, "Keys & teams");
    await tp.getByTestId("key-row").first().waitFor();
    const keyTeams = await tp.getByTestId("key-row").evaluateAll((rows) => [...new Set(rows.map((r) => r.getAttribute("data-team")))]);
    assert.deepEqual(keyTeams, ["search"]);
    await tp.getByTestId("team-row").first().waitFor();
    assert.deepEqual(await tp.getByTestId("team-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name"))), ["search"]);
    assert.equal(await tp.getByRole("button", { name: "New team" }).count(), 0);
    assert.equal(await tp.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Alerts", exact: true }).count(), 0, "alerts are for admins");
    assert.equal(await tp.locator("[data-testid=key-row][data-name=search-team]").getByRole("button").count(), 0, "config-file keys are read-only");
    await shot(tp, "team-keys");
    // Sign out forgets the key.
    await tp.getByRole("button", { name: "Sign out" }).click();
    await tp.locator("input[name=key]").waitFor();
    assert.equal(await tp.evaluate(() => sessionStorage.length), 0);
    await tp.close();
  });

  // Last here: the checks are recorded requests (a rerank among them) and count towards mock/flaky's cooldown.
  test("models: Check all shows each deployment's check, ok or failed and why, kept across a reload; Check checks one; a team key may not check", async () => {
    const p = await newPage();
    await signIn(p, ADMIN, "admin");
    await go(p, "Models & health");
    const cell = (id: string) => p.locator(`[data-testid=deployments] tr[data-id='${id}'] [data-testid=last-check]`);
    await cell("mock/a").waitFor();
    assert.equal(await cell("mock/a").getAttribute("data-result"), "none");
    assert.match(await cell("mock/a").innerText(), /^—/);
    // The button's progress, however short the checks: seen by an observer set before the click.
    await p.evaluate(() => {
      const w = window as unknown as { sawChecking: boolean };
      w.sawChecking = false;
      new MutationObserver(() => {
        const b = document.querySelector<HTMLButtonElement>("[data-testid=check-all]");
        if (b?.disabled && b.textContent === "Checking…") w.sawChecking = true;
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    const checkAll = p.getByRole("button", { name: "Check all" });
    await checkAll.click();
    const summary = p.getByTestId("check-summary");
    await summary.waitFor({ timeout: 30_000 });
    assert.equal(await p.evaluate(() => (window as unknown as { sawChecking: boolean }).sawChecking), true, "Checking… while it ran");
    assert.ok(await checkAll.isEnabled());
    assert.deepEqual(
      { ok: await summary.getAttribute("data-ok"), failed: await summary.getAttribute("data-failed"), skipped: await summary.getAttribute("data-skipped") },
      { ok: "4", failed: "1", skipped: "1" },
    );
    assert.match(await summary.innerText(), /Checked 6 deployments in .*\(mock\/flaky\)/);
    const shown = async () => {
      await p.locator("[data-testid=deployments] tr[data-id='mock/a'] [data-testid=last-check][data-result=ok]").waitFor();
      await p.locator("[data-testid=deployments] tr[data-id='mock/flaky'] [data-testid=last-check][data-result=failed]").waitFor();
      assert.match(await cell("mock/a").innerText(), /^ok · [\d.]+ m?s · \d+ s ago/);
      assert.match(await cell("mock/flaky").innerText(), /^failed · unavailable · \d+ s ago/);
      assert.match((await cell("mock/flaky").getByTestId("check-error").getAttribute("title")) ?? "", /injected failure: overloaded/);
      assert.equal(await cell("mock/trickle").getAttribute("data-result"), "ok");
    };
    await shown();
    await shot(p, "models-checked");
    // What ListModels says: the page links each check's request.
    const listed = async (id: string) => (await admin.route.listModels({})).deployments.find((d) => d.id === id)?.health?.lastCheck;
    const flaky = await listed("mock/flaky");
    assert.equal(flaky?.status, "unavailable");
    assert.equal(await cell("mock/flaky").locator("a").getAttribute("href"), `/console/requests/${flaky?.requestId}`);

    // Reloaded, the last checks come from ListModels.
    await p.reload();
    await cell("mock/a").waitFor();
    assert.equal(await p.getByTestId("check-summary").count(), 0);
    await shown();

    // Check one deployment: its check changes, the others' do not.
    const a = await listed("mock/a");
    const b = await listed("mock/b");
    await cell("mock/b").getByRole("button", { name: "Check" }).click();
    await poll(async () => ((await listed("mock/b"))?.requestId !== b?.requestId ? true : undefined), 10_000, "mock/b's new check");
    const b2 = await listed("mock/b");
    assert.equal(b2?.healthy, true);
    await p.locator(`[data-testid=deployments] tr[data-id='mock/b'] [data-testid=last-check] a[href='/console/requests/${b2?.requestId}']`).waitFor();
    assert.equal((await listed("mock/a"))?.requestId, a?.requestId);
    await p.close();

    // A team key sees the last checks, and no way to make one.
    const tp = await newPage();
    await signIn(tp, SEARCH, "team");
    await go(tp, "Models & health");
    await tp.locator("[data-testid=deployments] tr[data-id='mock/flaky'] [data-testid=last-check][data-result=failed]").waitFor();
    assert.match(await tp.locator("[data-testid=deployments] tr[data-id='mock/flaky'] [data-testid=last-check]").innerText(), /^failed · unavailable/);
    assert.equal(await tp.getByRole("button", { name: "Check all" }).count(), 0);
    assert.equal(await tp.getByTestId("check-one").count(), 0);
    await tp.close();
  });

  test("no errors in the browser console", () => {
    // A request's page asks for its stored Responses API response; a request of another API has
    // none, and Chromium logs that 404 as a failed resource load (the page shows nothing for it:
    // test/console/responses.test.ts).
    const expected = /\/console\/requests\/req_[^:]+: Failed to load resource: the server responded with a status of 404 \(Not Found\)$/;
    assert.deepEqual(
      errors.filter((e) => !expected.test(e)),
      [],
    );
  });
});
