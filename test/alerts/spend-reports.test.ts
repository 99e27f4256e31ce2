// Spend reports (src/alerts/spend-reports.ts) through a real gateway: two teams spend through the
// mock provider today; the daily report of today, as sent tomorrow, reaches a webhook on loopback
// with the totals of the usage records, the teams ranked by cost and the costliest deployments, as
// JSON and as Slack's text; the schedule sends it once, after its delay and within its hour; bad
// entries are refused naming the field.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { createSignalboxClient, userText } from "@signalbox/client";
import { buildConfig } from "../../src/config/load.ts";
import { periodBounds } from "../../src/limits/periods.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startWebhook, type Webhook } from "../helpers/webhook.ts";
import { poll } from "../helpers/wait.ts";

const DAY = 86_400_000;
const A = ["sk", "sbx", "report", "a", "0123456789"].join("-");
const B = ["sk", "sbx", "report", "b", "0123456789"].join("-");

describe("spend reports", () => {
  let hook: Webhook;
  let origin: string;
  let received: Webhook["received"];
  let g: TestGateway;

  before(async () => {
    hook = await startWebhook();
    origin = hook.origin;
    received = hook.received;
    g = await startTestGateway(`
providers: [{ name: mock, type: mock, mock: { output_tokens: 10 } }, { name: down, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }]
deployments:
  - { id: mock/big, provider: mock, model: big, pricing: { input: 100, output: 100 } }
  - { id: mock/small, provider: mock, model: small, pricing: { input: 1, output: 1 } }
  - { id: mock/down, provider: down, model: down, pricing: { input: 1, output: 1 } }
routes: [{ name: broken, targets: [mock/down], retry: { max_retries: 0 } }]
keys:
  - { name: a-bot, hash: "${hashKey(A)}", team: alpha }
  - { name: b-bot, hash: "${hashKey(B)}", team: beta }
alerts:
  - { name: finops, url: "${origin}/json", events: [budget_exhausted] }
  - { name: slack, url: "${origin}/slack", format: slack, events: [budget_exhausted] }
spend_reports:
  - { name: daily, period: day, alert: finops, group_by: team, top: 5 }
  - { name: daily-chat, period: day, alert: slack, group_by: key }
`);
    const a = createSignalboxClient({ baseUrl: g.url, apiKey: A });
    const b = createSignalboxClient({ baseUrl: g.url, apiKey: B });
    for (let i = 0; i < 3; i++) await a.chat.complete({ model: "mock/big", messages: [userText(`alpha spends ${i}`)] });
    for (let i = 0; i < 4; i++) await b.chat.complete({ model: "mock/small", messages: [userText(`beta spends ${i}`)] });
    await b.chat.complete({ model: "broken", messages: [userText("this fails")] }).catch(() => {});
  });
  after(async () => {
    await g.close();
    await hook.close();
  });

  test("today's report as sent tomorrow: totals of the records, teams by cost, the costliest deployments; JSON and Slack", async () => {
    const today = periodBounds("day", Date.now());
    const records = g.usage.recent();
    const cost = (f: (r: (typeof records)[number]) => boolean) => records.filter(f).reduce((t, r) => t + r.cost.total, 0);
    const report = await g.gw.spendReports.sendNow("daily", today.start + DAY + 3_600_000);
    assert.deepEqual([report.periodStart, report.periodEnd], [today.start, today.end]);
    assert.deepEqual([report.total.requests, report.total.failures, report.total.costNanos], [8, 1, cost(() => true)]);
    assert.deepEqual(report.previous, { requests: 0, failures: 0, costNanos: 0, inputTokens: 0, outputTokens: 0 });
    assert.deepEqual(report.top.map((t) => [t.name, t.requests, t.costNanos]), [
      ["alpha", 3, cost((r) => r.team === "alpha")],
      ["beta", 5, cost((r) => r.team === "beta")],
    ]);
    assert.equal(report.deployments[0].name, "mock/big");
    await poll(async () => (received.some((r) => r.path === "/json") ? true : undefined), 5_000, "the report");
    const body = received.find((r) => r.path === "/json")!.body;
    assert.equal(body.event, "spend_report");
    assert.equal(body.report, "daily");
    assert.equal(body.period_start, new Date(today.start).toISOString());
    assert.deepEqual((body.top as Record<string, unknown>[]).map((t) => [t.team, t.requests]), [
      ["alpha", 3],
      ["beta", 5],
    ]);
    assert.equal((body.total as { cost_usd: number }).cost_usd, cost(() => true) / 1e9);

    await g.gw.spendReports.sendNow("daily-chat", today.start + DAY + 3_600_000);
    await poll(async () => (received.some((r) => r.path === "/slack") ? true : undefined), 5_000, "the Slack report");
    const text = String(received.find((r) => r.path === "/slack")!.body.text);
    assert.match(text, new RegExp(`^:bar_chart: Signalbox daily spend report "daily-chat", ${new Date(today.start).toISOString().slice(0, 10)} to ${new Date(today.start).toISOString().slice(0, 10)}: \\$\\d+\\.\\d\\d, 8 requests, 12\\.5% failed`));
    assert.match(text, /\nTop by key: a-bot \$\d+\.\d\d \(3 requests\), b-bot \$\d+\.\d\d \(5 requests\)\.\nTop deployments: mock\/big/);
  });

  test("the schedule: not before its delay, once within its hour, not after", async () => {
    const tomorrow = periodBounds("day", Date.now()).start + DAY;
    const before = received.length;
    assert.deepEqual(await g.gw.spendReports.check(tomorrow + 5 * 60_000), []);
    const sent = await g.gw.spendReports.check(tomorrow + 11 * 60_000);
    assert.deepEqual(sent.map((r) => r.report).sort(), ["daily", "daily-chat"]);
    assert.deepEqual(await g.gw.spendReports.check(tomorrow + 20 * 60_000), []);
    // The day after: its hour passed for tomorrow's... and today's report is not sent twice.
    assert.deepEqual(await g.gw.spendReports.check(tomorrow + 3 * 3_600_000), []);
    await poll(async () => (received.length === before + 2 ? true : undefined), 5_000, "two reports");
  });

  test("an entry naming no alert sink, or a name twice, is refused naming the field", () => {
    const base = "providers: [{ name: m, type: mock }]\ndeployments: [{ id: m/a, provider: m, model: a }]\nalerts: [{ name: finops, url: 'http://127.0.0.1:9/x' }]\n";
    assert.throws(() => buildConfig(parse(`${base}spend_reports: [{ name: r, alert: nope }]`)), /spend_reports\[0\]\.alert: unknown alert sink "nope" \(alerts: finops\)/);
    assert.throws(() => buildConfig(parse(`${base}spend_reports: [{ name: r, alert: finops }, { name: r, alert: finops }]`)), /spend_reports\[1\]\.name: duplicate spend report "r"/);
    assert.throws(() => buildConfig(parse(`${base}spend_reports: [{ name: r, alert: finops, period: year }]`)), /spend_reports\[0\]\.period/);
    assert.deepEqual(buildConfig(parse(`${base}spend_reports: [{ name: r, alert: finops }]`)).spendReports, [{ name: "r", period: "week", alert: "finops", groupBy: "team", top: 10, delayMinutes: 10 }]);
  });
});
