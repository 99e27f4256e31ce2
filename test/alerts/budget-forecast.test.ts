// Budgets projected to the end of their period (src/alerts/budget-forecast.ts): the projection's
// arithmetic and its guards (too early in the period, too little spent, already spent, lifetime),
// then a real gateway whose team spends through the mock provider: projected at noon of the same
// day, the team's daily budget and a deployment's daily cap will be passed, and one
// `budget_projected_exceeded` alert each reaches a webhook on loopback (JSON and Slack's text),
// once per period however often the forecast runs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, userText } from "@signalbox/client";
import { alertText } from "../../src/alerts/alerts.ts";
import { project, projectedSpend } from "../../src/alerts/budget-forecast.ts";
import { periodBounds } from "../../src/limits/periods.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startWebhook, type Webhook } from "../helpers/webhook.ts";
import { poll } from "../helpers/wait.ts";

const HOUR = 3_600_000;
const DAY_START = Date.UTC(2026, 11, 7);
const USD = 1e9;

describe("the projection", () => {
  test("spent at the period's pace so far, to its end; when the limit is reached", () => {
    // $6 of $10 by noon: $12 by midnight, $10 reached at 20:00.
    const p = project("team:qa", "day", 6 * USD, 10 * USD, DAY_START + 12 * HOUR)!;
    assert.deepEqual(p, { budget: "team:qa", period: "day", periodStart: DAY_START, spentNanos: 6 * USD, limitNanos: 10 * USD, projectedNanos: 12 * USD, exhaustedAt: DAY_START + 20 * HOUR });
    assert.match(alertText({ event: "budget_projected_exceeded", ...p }), /at this period's pace team "qa" will spend \$12\.00 against its daily budget of \$10\.00 \(\$6\.00 so far\), reaching it around 2026-12-07 20:00 UTC/);
    // On pace to stay under: nothing.
    assert.equal(project("team:qa", "day", 4 * USD, 10 * USD, DAY_START + 12 * HOUR), undefined);
    // Too early (under an hour, and under a tenth of the period), too little spent, already spent, no end.
    assert.equal(project("team:qa", "day", 2 * USD, 10 * USD, DAY_START + 2 * HOUR), undefined);
    assert.equal(project("team:qa", "month", 0.5 * USD, 10 * USD, Date.UTC(2026, 11, 20)), undefined);
    assert.equal(project("team:qa", "day", 10 * USD, 10 * USD, DAY_START + 12 * HOUR), undefined);
    assert.equal(project("team:qa", "lifetime", 9 * USD, 10 * USD, DAY_START + 12 * HOUR), undefined);
    // The same arithmetic for any budget (GetBudget shows it): under the limit, no exhaustion time.
    assert.deepEqual(projectedSpend("day", 4 * USD, 10 * USD, DAY_START + 12 * HOUR), { projectedNanos: 8 * USD });
    assert.deepEqual(projectedSpend("day", 6 * USD, 10 * USD, DAY_START + 12 * HOUR), { projectedNanos: 12 * USD, exhaustedAt: DAY_START + 20 * HOUR });
    assert.equal(projectedSpend("day", 6 * USD, 10 * USD, DAY_START + HOUR), undefined);
    // A week: 3 of 7 days gone, $5 of $10: $11.67.
    const w = project("key:ci", "week", 5 * USD, 10 * USD, periodBounds("week", Date.UTC(2026, 11, 10)).start + 3 * 24 * HOUR)!;
    assert.equal(Math.round(w.projectedNanos / 1e7) / 100, 11.67);
  });
});

describe("through a gateway", () => {
  const KEY = ["sk", "sbx", "forecast", "0123456789abcdef"].join("-");
  let hook: Webhook;
  const received = () => hook.received;
  let g: TestGateway;

  before(async () => {
    hook = await startWebhook();
    // Each request costs $0.02 on mock/pricey (its answer is short): the team's $1 a day and the deployment's $1 cap too.
    g = await startTestGateway(`
providers: [{ name: mock, type: mock, mock: { output_tokens: 10 } }]
deployments:
  - { id: mock/pricey, provider: mock, model: pricey, pricing: { input: 1000, output: 1000 }, budget: { period: day, limit_usd: 1 } }
routes: [{ name: chat, targets: [mock/pricey] }]
keys:
  - { name: qa-bot, hash: "${hashKey(KEY)}", team: qa }
teams:
  - { name: qa, budget: { period: day, limit_usd: 1 } }
alerts:
  - { name: json, url: "${hook.origin}/json", events: [budget_projected_exceeded] }
  - { name: chat, url: "${hook.origin}/slack", format: slack, events: [budget_projected_exceeded] }
`);
  });
  after(async () => {
    await g.close();
    await hook.close();
  });

  test("a team's budget and a deployment's cap on pace to be passed: one alert each, once per period", async () => {
    const c = createSignalboxClient({ baseUrl: g.url, apiKey: KEY });
    let spent = 0;
    // Spend between 55% and 90% of the team's $1: on pace to pass it if it is noon.
    while (spent < 0.55 * USD) {
      const a = await c.chat.complete({ model: "chat", messages: [userText("spend a little")] });
      spent += Number(a.cost!.totalNanoUsd);
    }
    assert.ok(spent < 0.9 * USD, `spent ${spent}`);
    const noon = periodBounds("day", Date.now()).start + 12 * HOUR;
    // The cap is read from the usage store every few seconds: wait for it to see the spending.
    const projections = await poll(async () => {
      const p = await g.gw.budgetForecast.tick(noon);
      return p.some((x) => x.budget === "deployment:mock/pricey") ? p : undefined;
    }, 15_000, "the cap's spending to be read");
    const team = projections.find((p) => p.budget === "team:qa")!;
    assert.equal(team.spentNanos, spent);
    assert.equal(team.projectedNanos, 2 * spent);
    assert.equal(team.exhaustedAt, Math.round(noon + ((1 * USD - spent) / spent) * 12 * HOUR));
    const cap = projections.find((p) => p.budget === "deployment:mock/pricey")!;
    assert.equal(cap.limitNanos, 1 * USD);
    // The key has no budget of its own: nothing about it.
    assert.ok(!projections.some((p) => p.budget.startsWith("key:")));

    await poll(async () => (received().length >= 4 ? true : undefined), 5_000, "the alerts");
    const json = received().filter((r) => r.path === "/json").map((r) => r.body);
    const teamAlert = json.find((b) => b.budget === "team:qa")!;
    assert.deepEqual(
      { ...teamAlert, at: undefined },
      { event: "budget_projected_exceeded", at: undefined, budget: "team:qa", period: "day", period_start: new Date(periodBounds("day", noon).start).toISOString(), spent_usd: spent / USD, limit_usd: 1, projected_usd: (2 * spent) / USD, exhausted_at: new Date(team.exhaustedAt).toISOString() },
    );
    assert.ok(json.some((b) => b.budget === "deployment:mock/pricey"));
    const slack = received().filter((r) => r.path === "/slack").map((r) => String(r.body.text));
    assert.ok(slack.some((t) => /team "qa" will spend \$\d\.\d\d against its daily budget of \$1\.00/.test(t)), slack.join("\n"));
    assert.ok(slack.some((t) => /deployment "mock\/pricey" will spend .* against its daily cap of \$1\.00/.test(t)), slack.join("\n"));

    // GetBudget shows the same projection (at the real time of day: none before a tenth of it has gone).
    const admin = createSignalboxClient({ baseUrl: g.url, apiKey: KEY });
    const b = (await admin.usage.getBudget({ team: "qa" })).budgets.find((x) => x.name === "qa")!;
    const expected = projectedSpend("day", spent, 1 * USD, Date.now());
    if (expected) {
      assert.ok(Math.abs(Number(b.projectedNanoUsd) - expected.projectedNanos) / expected.projectedNanos < 0.01, `${b.projectedNanoUsd} against ${expected.projectedNanos}`);
      assert.equal(b.projectedExhaustionTime !== undefined, expected.exhaustedAt !== undefined);
    } else assert.equal(b.projectedNanoUsd, undefined);

    // Again in the same period: projected again, not alerted again.
    await g.gw.budgetForecast.tick(noon + HOUR);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received().length, 4);
  });
});
