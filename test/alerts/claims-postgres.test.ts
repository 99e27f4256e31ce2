// Alerts and spend reports on replicas that share PostgreSQL but no Redis: each condition is
// claimed in PostgreSQL (signalbox_claims, src/control/postgres-store.ts), so two replicas send a
// budget's alert and a closed period's spend report once between them, and a replica restarted
// within the claim's time does not send them again. Real gateways on a private PostgreSQL, a
// webhook on loopback.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { periodBounds } from "../../src/limits/periods.ts";
import { startPostgresReplicas } from "../helpers/postgres.ts";
import { startTestGateway } from "../helpers/gateway.ts";
import { poll } from "../helpers/wait.ts";
import { startWebhook, type Webhook } from "../helpers/webhook.ts";


describe("alert and report claims in PostgreSQL (no Redis)", () => {
  let hook: Webhook;
  let rig: Awaited<ReturnType<typeof startPostgresReplicas>>;

  before(async () => {
    hook = await startWebhook();
    rig = await startPostgresReplicas(
      "claims",
      (openai, url) => `
store: { postgres_url: "${url}" }
providers: [{ name: up, type: openai, base_url: "${openai}", api_key: test-key-openai }]
deployments: [{ id: up/mini, provider: up, model: gpt-4o-mini, pricing: { input: 1, output: 1 } }]
alerts:
  - { name: ops, url: "${hook.origin}/ops", events: [budget_exhausted, spend_cap_reached] }
spend_reports:
  - { name: daily, period: day, alert: ops }
`,
    );
  });
  after(async () => {
    await rig?.close();
    await hook?.close();
  });

  test("a spend report is sent once by two replicas, and not again by one restarted", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const [a, b] = rig.replicas;
    // Both replicas check the same moment after yesterday closed (its report's hour).
    const at = periodBounds("day", Date.now()).start + 11 * 60_000;
    const [sentA, sentB] = await Promise.all([a.gw.spendReports.check(at), b.gw.spendReports.check(at)]);
    assert.equal(sentA.length + sentB.length, 1, `sent by ${sentA.length} and ${sentB.length}`);
    await poll(async () => (hook.received.some((r) => r.body.event === "spend_report") ? true : undefined), 5000, "the report");
    // B restarts and checks again within the period's window: the claim holds.
    await b.close();
    rig.replicas[1] = await startTestGateway(rig.config);
    assert.deepEqual(await rig.replicas[1].gw.spendReports.check(at + 5 * 60_000), []);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(hook.received.filter((r) => r.body.event === "spend_report").length, 1);
  });

  test("a budget's alert is sent once by two replicas", async (t) => {
    if (!rig) return t.skip("PostgreSQL binaries not installed");
    const [a, b] = rig.replicas;
    const period = periodBounds("day", Date.now());
    const event = { event: "spend_cap_reached" as const, budget: "deployment:up/mini", period: "day" as const, periodStart: period.start, spentNanos: 2e9, limitNanos: 1e9 };
    a.gw.core.alerts.emit(event);
    b.gw.core.alerts.emit(event);
    await poll(async () => (hook.received.some((r) => r.body.event === "spend_cap_reached") ? true : undefined), 5000, "the alert");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hook.received.filter((r) => r.body.event === "spend_cap_reached").length, 1);
  });
});
