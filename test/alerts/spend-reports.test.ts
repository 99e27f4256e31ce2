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
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, SignalboxError } from "@signalbox/client";
import { buildCliIfStale, exited, ok, runCli } from "../helpers/cli.ts";
import { poll } from "../helpers/wait.ts";

const DAY = 86_400_000;
const A = ["sk", "sbx", "report", "a", "0123456789"].join("-");
const B = ["sk", "sbx", "report", "b", "0123456789"].join("-");
const ADMIN = ["sk", "sbx", "report", "admin", "0123456789"].join("-");

describe("spend reports", () => {
  let hook: Webhook;
  const received = () => hook.received;
  let g: TestGateway;

  before(async () => {
    hook = await startWebhook();
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
  - { name: finops-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
alerts:
  - { name: finops, url: "${hook.origin}/json", events: [budget_exhausted] }
  - { name: slack, url: "${hook.origin}/slack", format: slack, events: [budget_exhausted] }
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
    await poll(async () => (received().some((r) => r.path === "/json") ? true : undefined), 5_000, "the report");
    const body = received().find((r) => r.path === "/json")!.body;
    assert.equal(body.event, "spend_report");
    assert.equal(body.report, "daily");
    assert.equal(body.period_start, new Date(today.start).toISOString());
    assert.deepEqual((body.top as Record<string, unknown>[]).map((t) => [t.team, t.requests]), [
      ["alpha", 3],
      ["beta", 5],
    ]);
    assert.equal((body.total as { cost_usd: number }).cost_usd, cost(() => true) / 1e9);

    await g.gw.spendReports.sendNow("daily-chat", today.start + DAY + 3_600_000);
    await poll(async () => (received().some((r) => r.path === "/slack") ? true : undefined), 5_000, "the Slack report");
    const text = String(received().find((r) => r.path === "/slack")!.body.text);
    assert.match(text, new RegExp(`^:bar_chart: Signalbox daily spend report "daily-chat", ${new Date(today.start).toISOString().slice(0, 10)} to ${new Date(today.start).toISOString().slice(0, 10)}: \\$\\d+\\.\\d\\d, 8 requests, 12\\.5% failed`));
    assert.match(text, /\nTop by key: a-bot \$\d+\.\d\d \(3 requests\), b-bot \$\d+\.\d\d \(5 requests\)\.\nTop deployments: mock\/big/);
  });

  test("the schedule: not before its delay, once within its hour, not after", async () => {
    const tomorrow = periodBounds("day", Date.now()).start + DAY;
    const before = received().length;
    assert.deepEqual(await g.gw.spendReports.check(tomorrow + 5 * 60_000), []);
    const sent = await g.gw.spendReports.check(tomorrow + 11 * 60_000);
    assert.deepEqual(sent.map((r) => r.report).sort(), ["daily", "daily-chat"]);
    assert.deepEqual(await g.gw.spendReports.check(tomorrow + 20 * 60_000), []);
    // The day after: its hour passed for tomorrow's... and today's report is not sent twice.
    assert.deepEqual(await g.gw.spendReports.check(tomorrow + 3 * 3_600_000), []);
    await poll(async () => (received().length === before + 2 ? true : undefined), 5_000, "two reports");
  });

  test("AdminService.SendSpendReport sends one now (admins only); ListAlerts lists the reports; the CLI's alerts report and list", async () => {
    const admin = createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN });
    const listed = await admin.admin.listAlerts({});
    assert.deepEqual(listed.spendReports.map((r) => [r.name, r.period, r.alert, r.groupBy, r.top]), [
      ["daily", "day", "finops", "team", 5],
      ["daily-chat", "day", "slack", "key", 10],
    ]);
    const before = received().length;
    const r = await admin.admin.sendSpendReport({ name: "daily" });
    const yesterday = periodBounds("day", periodBounds("day", Date.now()).start - 1);
    assert.deepEqual([r.delivered, r.error, timestampMs(r.periodStart!), timestampMs(r.periodEnd!)], [true, "", yesterday.start, yesterday.end]);
    await poll(async () => (received().length > before ? true : undefined), 5_000, "the report");
    assert.equal(received().at(-1)!.body.report, "daily");
    const missing = await admin.admin.sendSpendReport({ name: "nope" }).catch((e: unknown) => e);
    assert.ok(missing instanceof SignalboxError && missing.code === Code.NotFound && missing.field === "name", String(missing));
    const denied = await createSignalboxClient({ baseUrl: g.url, apiKey: A }).admin.sendSpendReport({ name: "daily" }).catch((e: unknown) => e);
    assert.ok(denied instanceof SignalboxError && denied.code === Code.PermissionDenied, String(denied));

    buildCliIfStale();
    const tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-reports-"));
    try {
      const cli = (args: string[]) => runCli(g.url, ["--api-key", ADMIN, ...args], { cwd: tmp });
      const sent = ok(await cli(["alerts", "report", "daily-chat"]));
      assert.match(sent.stdout, /^report +daily-chat\nperiod +\S+ \S+ to \S+ \S+\nrequests +\d+\ncost +\$[\d.]+\ndelivered +yes\n$/);
      const list = ok(await cli(["alerts", "list"]));
      assert.match(list.stdout, /\nspend reports:\nREPORT +PERIOD +SINK +TOP\ndaily +day +finops +5 by team\ndaily-chat +day +slack +10 by key\n/);
      assert.match(exited(await cli(["alerts", "report", "nope"]), 1).stderr, /no spend report "nope"/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("an entry naming no alert sink, or a name twice, is refused naming the field", () => {
    const base = "providers: [{ name: m, type: mock }]\ndeployments: [{ id: m/a, provider: m, model: a }]\nalerts: [{ name: finops, url: 'http://127.0.0.1:9/x' }]\n";
    assert.throws(() => buildConfig(parse(`${base}spend_reports: [{ name: r, alert: nope }]`)), /spend_reports\[0\]\.alert: unknown alert sink "nope" \(alerts: finops\)/);
    assert.throws(() => buildConfig(parse(`${base}spend_reports: [{ name: r, alert: finops }, { name: r, alert: finops }]`)), /spend_reports\[1\]\.name: duplicate spend report "r"/);
    assert.throws(() => buildConfig(parse(`${base}spend_reports: [{ name: r, alert: finops, period: year }]`)), /spend_reports\[0\]\.period/);
    assert.deepEqual(buildConfig(parse(`${base}spend_reports: [{ name: r, alert: finops }]`)).spendReports, [{ name: "r", period: "week", alert: "finops", groupBy: "team", top: 10, delayMinutes: 10 }]);
  });
});
