// Alerts through a real gateway, to webhook receivers on loopback: a budget past its soft
// threshold and then exhausted (once each per period), a deployment put into cooldown (once, however
// many requests follow), Slack's text format, per-sink event lists, and a failing webhook that is
// retried once and logged by its name, never by its URL. Plus the config checks.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, beforeEach, describe, test, type TestContext } from "node:test";
import { parse } from "yaml";
import { toJsonString } from "@bufbuild/protobuf";
import { createSignalboxClient, ListAlertsResponseSchema, ListAuditEventsResponseSchema } from "@signalbox/client";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { createAlerter, type AlertEvent } from "../../src/alerts/alerts.ts";
import type { AlertConfig } from "../../src/config/types.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis } from "../helpers/redis.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { user } from "../e2e/anthropic-gemini-harness.ts";

// Key-shaped on purpose, assembled at runtime so that secret scanners do not flag the test.
const KEY = ["sk", "sbx", "alerts", "0123456789abcdef"].join("-");
const HOOK_TOKEN = ["T0", "B0", "hooktoken", "0123456789"].join("/");

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}
let server: Server;
let origin: string;
let received: Received[] = [];
/** Paths that answer 500. */
const failing = new Set<string>();

before(async () => {
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(data) as Record<string, unknown> });
      res.writeHead(failing.has(req.url ?? "") ? 500 : 200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(
  () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
);
beforeEach(() => {
  received = [];
  failing.clear();
});

const config = (alerts: string) => `
providers:
  - { name: mock, type: mock, mock: { output_tokens: 16 } }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
deployments:
  # $1,000 per million tokens: a request of about 26 tokens costs about $0.026.
  - { id: mock/pricey, provider: mock, model: m, pricing: { input: 1000, output: 1000 }, max_output_tokens: 16, expected_output_tokens: 16 }
  - { id: mock/flaky, provider: flaky, model: f, pricing: { input: 1, output: 1 }, expected_output_tokens: 16 }
routes:
  - { name: pricey, targets: [mock/pricey] }
  - { name: shaky, targets: [mock/flaky, mock/pricey], retry: { max_retries: 0 } }
keys:
  - { name: ci, hash: "${hashKey(KEY)}", team: qa, budget: { period: month, limit_usd: 0.5, soft_threshold: 0.5 } }
alerts:
${alerts}`;

async function gateway(t: TestContext, alerts: string): Promise<TestGateway> {
  const g = await startTestGateway(config(alerts));
  t.after(() => g.close());
  return g;
}
/** A gateway on a private store (Redis or PostgreSQL), closed before its store is stopped. */
async function gatewayOn(t: TestContext, alerts: string, store: string, stopStore: () => Promise<void>): Promise<TestGateway> {
  const g = await startTestGateway(config(alerts) + `\nstore: ${store}\n`);
  t.after(async () => {
    await g.close();
    await stopStore();
  });
  return g;
}
/** Resolves once the receiver has an alert of this event. */
const alerted = (event: string) => waitFor(() => (received.some((r) => r.body.event === event) ? true : undefined), event, 15_000);
const client = (g: TestGateway) => createSignalboxClient({ baseUrl: g.url, apiKey: KEY });
const ask = (model: string) => ({ model, messages: [user("how much is left?")] });

async function waitFor<T>(f: () => T | undefined, what: string, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("alerts", () => {
  test("a budget's soft threshold, then its exhaustion: one alert each, with the figures; Slack's text on the slack sink", async (t) => {
    const g = await gateway(
      t,
      `  - { name: ops, url: "${origin}/ops" }
  - { name: chat, url: "${origin}/slack", format: slack, events: [budget_exhausted], headers: { x-team: platform } }`,
    );
    let refused = 0;
    for (let i = 0; i < 60 && refused < 3; i++) {
      await client(g)
        .chat.complete(ask("pricey"))
        .catch(() => refused++);
    }
    assert.equal(refused, 3, "the budget ran out");
    await g.gw.core.alerts.flush();
    const ops = received.filter((r) => r.path === "/ops");
    assert.deepEqual(
      ops.map((r) => [r.body.event, r.body.budget]),
      [
        ["budget_soft_threshold", "key:ci"],
        ["budget_exhausted", "key:ci"],
      ],
    );
    const soft = ops[0].body;
    assert.equal(soft.period, "month");
    assert.equal(soft.limit_usd, 0.5);
    assert.equal(soft.threshold, 0.5);
    assert.ok((soft.spent_usd as number) >= 0.25 && (soft.spent_usd as number) < 0.5, `spent ${soft.spent_usd}`);
    assert.match(String(soft.period_start), /^\d{4}-\d{2}-01T00:00:00\.000Z$/);
    const out = ops[1].body;
    assert.deepEqual([out.key, out.team, out.model, out.limit_usd], ["ci", "qa", "pricey", 0.5]);
    // The Slack sink asked for exhaustion only, as text, with its own header.
    const slack = received.filter((r) => r.path === "/slack");
    assert.equal(slack.length, 1);
    assert.match(String(slack[0].body.text), /the monthly budget of key "ci" \(\$0\.50\) is exhausted: requests are refused until it resets/);
    assert.equal(slack[0].headers["x-team"], "platform");
  });

  test("a deployment put into cooldown: one alert, however many requests follow", async (t) => {
    const g = await gateway(t, `  - { name: ops, url: "${origin}/ops", events: [deployment_cooldown] }`);
    for (let i = 0; i < 6; i++) await client(g).chat.complete(ask("shaky"));
    await g.gw.core.alerts.flush();
    assert.deepEqual(
      received.map((r) => [r.body.event, r.body.deployment, r.body.failure_kind]),
      [["deployment_cooldown", "mock/flaky", "overloaded"]],
    );
    assert.ok(Date.parse(String(received[0].body.until)) > Date.now());
  });

  test("two replicas sharing Redis: each condition is sent by one of them", async (t) => {
    const redis = await startRedis();
    const yaml = config(`  - { name: ops, url: "${origin}/ops" }`) + `\nstore: { redis_url: "${redis.url}" }\n`;
    const a = await startTestGateway(yaml);
    const b = await startTestGateway(yaml);
    // Gateways first, then their Redis.
    t.after(async () => {
      await Promise.all([a.close(), b.close()]);
      await redis.stop();
    });
    // The shared cooldown first (while the budget lasts: the fallback is paid for), then the budget.
    for (let i = 0; i < 6; i++) await client(i % 2 ? b : a).chat.complete(ask("shaky"));
    let refused = 0;
    for (let i = 0; i < 60 && refused < 4; i++) {
      await client(i % 2 ? b : a)
        .chat.complete(ask("pricey"))
        .catch(() => refused++);
      // Spending reaches Redis in batches (every 50 ms): a request a tick later reads it.
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(refused, 4, "the shared budget ran out, on both replicas");
    await Promise.all([a.gw.core.alerts.flush(), b.gw.core.alerts.flush()]);
    assert.deepEqual(received.map((r) => r.body.event).sort(), ["budget_exhausted", "budget_soft_threshold", "deployment_cooldown"]);
  });

  test("Redis unavailable to the limiter, and back: one alert each, and requests are served meanwhile", async (t) => {
    const redis = await startRedis();
    const g = await gatewayOn(t, `  - { name: ops, url: "${origin}/ops", events: [redis_unavailable, redis_recovered] }`, `{ redis_url: "${redis.url}" }`, () => redis.stop());
    await client(g).chat.complete(ask("pricey"));
    await redis.stop();
    await client(g).chat.complete(ask("pricey"));
    await client(g).chat.complete(ask("pricey"));
    await redis.restart();
    // The limiter is shared again at the first admission that reaches Redis after it reconnects.
    for (let i = 0; i < 100 && !received.some((r) => r.body.event === "redis_recovered"); i++) {
      await client(g).chat.complete(ask("pricey"));
      await new Promise((r) => setTimeout(r, 100));
    }
    await g.gw.core.alerts.flush();
    assert.deepEqual(
      received.map((r) => r.body.event),
      ["redis_unavailable", "redis_recovered"],
    );
    assert.match(String(received[0].body.replica), /:\d+$/);
  });

  test("PostgreSQL unavailable to the usage writer, and back: one alert each; requests are served meanwhile", async (t) => {
    const pg = await startPostgres();
    if (!pg) return t.skip("no PostgreSQL binaries here");
    const g = await gatewayOn(t, `  - { name: ops, url: "${origin}/ops", events: [postgres_unavailable, postgres_recovered] }`, `{ postgres_url: "${pg.url}" }`, () => pg.destroy());
    await client(g).chat.complete(ask("pricey"));
    await pg.stop();
    await client(g).chat.complete(ask("pricey"));
    await alerted("postgres_unavailable");
    await client(g).chat.complete(ask("pricey"));
    await pg.start();
    await alerted("postgres_recovered");
    await g.gw.core.alerts.flush();
    assert.deepEqual(
      received.map((r) => r.body.event),
      ["postgres_unavailable", "postgres_recovered"],
    );
    assert.equal(typeof received[0].body.reason, "string");
    assert.ok(!JSON.stringify(received).includes(pg.url), "the database URL is not in an alert");
  });

  test("a failing webhook is retried once, then logged by its name: its URL (a token) appears nowhere", async (t) => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    t.after(() => setLogSink((l) => process.stdout.write(l)));
    failing.add(`/services/${HOOK_TOKEN}`);
    const g = await gateway(t, `  - { name: broken, url: "${origin}/services/${HOOK_TOKEN}", events: [deployment_cooldown] }`);
    for (let i = 0; i < 4; i++) await client(g).chat.complete(ask("shaky"));
    await waitFor(() => (received.length >= 2 ? true : undefined), "the retry");
    await g.gw.core.alerts.flush();
    assert.equal(received.length, 2);
    const warn = lines.find((l) => l.includes("alert not delivered"));
    assert.ok(warn, lines.join(""));
    assert.deepEqual([JSON.parse(warn).alert, JSON.parse(warn).error], ["broken", "HTTP 500"]);
    assert.ok(!lines.some((l) => l.includes("hooktoken")), "the webhook URL was logged");
  });

  test("what is sent again: a budget once per period, a cooldown after the quiet interval, a connection at each change of state", async () => {
    let now = Date.UTC(2026, 11, 5);
    const sink: AlertConfig = { name: "ops", url: `${origin}/rules`, format: "json", events: ["budget_soft_threshold", "deployment_cooldown", "redis_unavailable", "redis_recovered"], headers: {}, timeoutMs: 2000 };
    const alerter = createAlerter({ sinks: () => [sink], clock: () => now, cooldownQuietMs: 60_000 });
    const soft = (periodStart: number): AlertEvent => ({ event: "budget_soft_threshold", budget: "team:qa", period: "month", periodStart, spentNanos: 9, limitNanos: 10, threshold: 0.8 });
    const cooldown: AlertEvent = { event: "deployment_cooldown", deployment: "d", failureKind: "overloaded", until: now + 30_000 };
    const redis = (up: boolean): AlertEvent => ({ event: up ? "redis_recovered" : "redis_unavailable", replica: "h:1" });
    const steps: [AlertEvent, number][] = [
      [soft(Date.UTC(2026, 11, 1)), 0],
      [soft(Date.UTC(2026, 11, 1)), 10_000], // same period: not again
      [soft(Date.UTC(2027, 0, 1)), 0], // next period: again
      [cooldown, 0],
      [cooldown, 30_000], // within the quiet interval: not again
      [cooldown, 31_000], // past it: again
      [redis(false), 0],
      [redis(false), 1_000], // the same state: not again
      [redis(true), 1_000],
      [redis(false), 1_000], // down again, however soon: sent
    ];
    for (const [e, advance] of steps) {
      now += advance;
      alerter.emit(e);
    }
    await alerter.flush();
    assert.deepEqual(
      received.map((r) => r.body.event),
      ["budget_soft_threshold", "budget_soft_threshold", "deployment_cooldown", "deployment_cooldown", "redis_unavailable", "redis_recovered", "redis_unavailable"],
    );
  });

  test("ListAlerts and TestAlert: the sinks without their URLs; a test event delivered, or not, and audited; admins only", async (t) => {
    const ADMIN = ["sk", "sbx", "alerts", "admin", "0123456789"].join("-");
    const g = await startTestGateway(`
providers: [{ name: mock, type: mock }]
deployments: [{ id: mock/a, provider: mock, model: m, pricing: { input: 1, output: 1 } }]
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: ci, hash: "${hashKey(KEY)}", team: qa, role: service }
alerts:
  - { name: ops, url: "${origin}/ops/${HOOK_TOKEN}", headers: { authorization: "Bearer ${HOOK_TOKEN}" } }
  - { name: chat, url: "${origin}/slack", format: slack, events: [budget_exhausted], timeout_ms: 2000 }
  - { name: down, url: "${origin}/down" }
`);
    t.after(() => g.close());
    const admin = createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN }).admin;
    const list = await admin.listAlerts({});
    assert.deepEqual(
      list.alerts.map((a) => [a.name, a.format, a.events.length, a.timeoutMs]),
      [
        ["ops", "json", 14, 5000],
        ["chat", "slack", 1, 2000],
        ["down", "json", 14, 5000],
      ],
    );
    assert.ok(!toJsonString(ListAlertsResponseSchema, list).includes(HOOK_TOKEN), "no URL or header in the list");

    // Delivered: the JSON sink gets a test event (with its headers), Slack its text.
    const ok = await admin.testAlert({ name: "ops" });
    assert.equal(ok.delivered, true);
    assert.equal(ok.error, "");
    const got = received.find((r) => r.path.startsWith("/ops/"))!;
    assert.equal(got.body.event, "test");
    assert.equal(got.body.requested_by, "root");
    assert.equal(got.headers.authorization, `Bearer ${HOOK_TOKEN}`);
    assert.equal((await admin.testAlert({ name: "chat" })).delivered, true, "whatever events the sink subscribes to");
    assert.match(String(received.find((r) => r.path === "/slack")!.body.text), /test alert from replica .* sent by "root"/);

    // Not delivered: one attempt, the reason, never the URL.
    failing.add("/down");
    const bad = await admin.testAlert({ name: "down" });
    assert.deepEqual([bad.delivered, bad.error], [false, "HTTP 500"]);
    assert.equal(received.filter((r) => r.path === "/down").length, 1, "a test is one attempt");

    // Audited, with the outcome.
    const audit = await admin.listAuditEvents({});
    const tests = audit.events.filter((e) => e.action === "alert.test");
    assert.deepEqual(tests.map((e) => [e.actor, e.target]).sort(), [["root", "chat"], ["root", "down"], ["root", "ops"]]);
    assert.ok(!toJsonString(ListAuditEventsResponseSchema, audit).includes(HOOK_TOKEN));

    // An unknown name, a missing one, and a service key.
    await assert.rejects(admin.testAlert({ name: "nope" }), /no alert named "nope" \(alerts in force: ops, chat, down\)/);
    await assert.rejects(admin.testAlert({ name: "" }), /name: required/);
    const svc = createSignalboxClient({ baseUrl: g.url, apiKey: KEY }).admin;
    await assert.rejects(svc.testAlert({ name: "ops" }), (e: Error) => /permission|admin/i.test(e.message));
    await assert.rejects(svc.listAlerts({}), (e: Error) => /permission|admin/i.test(e.message));
  });

  test("configuration: defaults, and each mistake named by its field without echoing the URL", () => {
    const build = (alerts: string) => buildConfig(parse(`providers:\n  - { name: m, type: mock }\ndeployments:\n  - { id: d, provider: m, model: x }\nalerts:\n${alerts}`), {});
    const c = build(`  - { name: a, url: "https://hooks.example.com/x" }`);
    assert.deepEqual(c.alerts, [
      {
        name: "a",
        url: "https://hooks.example.com/x",
        format: "json",
        events: ["budget_soft_threshold", "budget_exhausted", "deployment_cooldown", "redis_unavailable", "redis_recovered", "postgres_unavailable", "postgres_recovered", "usage_records_dropped", "spend_cap_reached", "budget_projected_exceeded", "secrets_unavailable", "secrets_recovered", "usage_export_failed", "usage_export_recovered"],
        headers: {},
        timeoutMs: 5000,
      },
    ]);
    const refused = (alerts: string, path: string, message: RegExp) =>
      assert.throws(
        () => build(alerts),
        (e: unknown) => e instanceof ConfigError && e.path === path && message.test(e.message) && !e.message.includes("secret-token"),
      );
    refused(`  - { name: a, url: "hooks.example.com/secret-token" }`, "alerts[0].url", /is not a URL/);
    refused(`  - { name: a, url: "ftp://example.com/secret-token" }`, "alerts[0].url", /http or https/);
    refused(`  - { name: a, url: "https://x", events: [budget_spent] }`, "alerts[0].events[0]", /must be one of budget_soft_threshold, budget_exhausted, deployment_cooldown, redis_unavailable, redis_recovered, postgres_unavailable/);
    refused(`  - { name: a, url: "https://x", format: teams }`, "alerts[0].format", /must be one of json, slack/);
    refused(`  - { name: a, url: "https://x" }\n  - { name: a, url: "https://y" }`, "alerts[1].name", /duplicate alert "a"/);
  });
});
