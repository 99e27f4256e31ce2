// Spending caps of deployments and providers (`budget` on each; src/engine/spend-caps.ts), over
// real HTTP to a fake OpenAI, with two gateway replicas sharing a private Redis usage store: what
// one replica's callers spent takes the capped deployment out of the other's routing (the plan
// falls back, and Route shows why); a deployment named alone past its cap, or one of a provider
// whose cap is spent, is refused with 429 naming the cap and when it resets.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, ExclusionReason, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

const KEY = ["caps", "caller", "secret"].join("-");
const ADMIN = ["caps", "admin", "secret"].join("-");

let openai: FakeOpenAI;
let redis: TestRedis;
let a: TestGateway;
let b: TestGateway;
/** The alerts a webhook receiver got. */
const alerts: Record<string, unknown>[] = [];
let hook: Server;

const config = (redisUrl: string) => `
store: { redis_url: "${redisUrl}" }
providers:
  - { name: openai, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
  - { name: backup, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY} }
  - { name: frozen, type: openai, base_url: ${openai.url}, api_key: ${OPENAI_TEST_KEY}, budget: { period: month, limit_usd: 0 } }
deployments:
  - { id: openai/capped, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 }, budget: { period: day, limit_usd: 0.0005 } }
  - { id: backup/gpt-4o, provider: backup, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: frozen/gpt-4o, provider: frozen, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: chat, targets: [openai/capped, backup/gpt-4o] }
tag_budgets:
  - { tag: "product:chat-bot", period: week, limit_usd: 0.001 }
keys:
  - { name: caller, hash: "${hashKey(KEY)}", team: caps }
  - { name: admin, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
alerts:
  - { name: ops, url: "http://127.0.0.1:${(hook.address() as { port: number }).port}/hook", events: [spend_cap_reached] }
`;

before(async () => {
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      alerts.push(JSON.parse(body));
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  openai = await startFakeOpenAI();
  redis = await startRedis();
  a = await startTestGateway(config(redis.url));
  b = await startTestGateway(config(redis.url));
});
after(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
  await openai?.close();
  hook?.close();
});

const sdk = (g: TestGateway) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
const ask = (g: TestGateway, model = "chat") => sdk(g).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }).withResponse();

test("past its day's cap, a deployment is left out of every replica's routing: the plan falls back, Route says why; named alone it is a 429", async () => {
  // 100 input and 100 output tokens of gpt-4o: $0.00125, over the $0.0005 cap.
  openai.setDefault({ kind: "text", text: "hello", usage: { input: 100, output: 100 } });
  const first = await ask(a);
  assert.equal(first.response.headers.get("x-signalbox-deployment"), "openai/capped");
  // Replica b has not read the spending yet: the cap is soft, within a refresh.
  await a.gw.core.usage.flush();
  await b.gw.core.spendCaps!.refresh();
  const second = await ask(b);
  assert.equal(second.response.headers.get("x-signalbox-deployment"), "backup/gpt-4o");

  const plan = await createSignalboxClient({ baseUrl: b.url, apiKey: KEY }).route.route({ model: "chat", messages: [userText("hi")] });
  const out = plan.excluded.find((e) => e.deployment === "openai/capped")!;
  assert.equal(out.reason, ExclusionReason.OVER_BUDGET);
  assert.match(out.detail, /^its day budget of \$0\.0005 is spent \(\$0\.0013\); resets \d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
  assert.deepEqual(plan.candidates.map((c) => c.deployment), ["backup/gpt-4o"]);

  // Told once, though both replicas read it spent, again and again.
  await a.gw.core.spendCaps!.refresh();
  await b.gw.core.spendCaps!.refresh();
  await a.gw.core.alerts.flush();
  await b.gw.core.alerts.flush();
  const told = alerts.filter((x) => x.budget === "deployment:openai/capped");
  assert.equal(told.length, 1, JSON.stringify(alerts));
  assert.equal(told[0].event, "spend_cap_reached");
  assert.equal(told[0].period, "day");
  assert.equal(told[0].limit_usd, 0.0005);
  assert.equal(told[0].spent_usd, 0.00125);
  // A cap of $0 (a provider switched off) is not alerted.
  assert.ok(!alerts.some((x) => x.budget === "provider:frozen"));

  // Named alone: nothing to fall back to, so refused as a spent budget is, before any upstream call.
  const before = openai.requests.length;
  await assert.rejects(ask(b, "openai/capped"), (e: { status: number; message: string }) => e.status === 429 && /openai\/capped: over_budget \(its day budget of \$0\.0005 is spent/.test(e.message));
  assert.equal(openai.requests.length, before);
});

test("a provider's cap covers all its deployments; a cap of $0 keeps them out from the start", async () => {
  await a.gw.core.spendCaps!.refresh();
  const before = openai.requests.length;
  await assert.rejects(ask(a, "frozen/gpt-4o"), (e: { status: number; message: string }) => e.status === 429 && /frozen\/gpt-4o: over_budget \(provider "frozen"'s month budget of \$0\.00 is spent \(\$0\.00\); resets \d{4}-\d{2}-01T00:00:00\.000Z\)/.test(e.message));
  assert.equal(openai.requests.length, before);
});

test("what the caps stand at: ListModels, LiteLLM's /provider/budgets (admins), /metrics", async () => {
  await a.gw.core.spendCaps!.refresh();
  const models = await createSignalboxClient({ baseUrl: a.url, apiKey: KEY }).route.listModels({});
  const capped = models.deployments.find((d) => d.id === "openai/capped")!;
  assert.deepEqual(
    capped.spendCaps.map((c) => [c.scope, c.period, c.limitNanoUsd, c.spentNanoUsd, c.over]),
    [["deployment", "day", 500_000n, 1_250_000n, true]],
  );
  assert.ok(capped.spendCaps[0].resetTime!.seconds > BigInt(Math.floor(Date.now() / 1000)));
  const frozen = models.deployments.find((d) => d.id === "frozen/gpt-4o")!;
  assert.deepEqual(frozen.spendCaps.map((c) => [c.scope, c.period, c.limitNanoUsd, c.over]), [["provider", "month", 0n, true]]);
  assert.deepEqual(models.deployments.find((d) => d.id === "backup/gpt-4o")!.spendCaps, []);

  const budgets = await fetch(`${a.url}/provider/budgets`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(budgets.status, 200);
  const body = (await budgets.json()) as { providers: Record<string, Record<string, unknown>> };
  assert.deepEqual(Object.keys(body.providers), ["frozen"]);
  assert.equal(body.providers.frozen.budget_limit, 0);
  assert.equal(body.providers.frozen.time_period, "1mo");
  assert.equal(body.providers.frozen.spend, 0);
  assert.match(String(body.providers.frozen.budget_reset_at), /^\d{4}-\d{2}-01T00:00:00\.000Z$/);
  assert.equal((await fetch(`${a.url}/provider/budgets`, { headers: { authorization: `Bearer ${KEY}` } })).status, 403);

  const metrics = await (await fetch(`${a.url}/metrics`)).text();
  assert.match(metrics, /signalbox_spend_cap_limit_usd\{scope="deployment",name="openai\/capped",period="day"\} 0\.0005/);
  assert.match(metrics, /signalbox_spend_cap_spent_usd\{scope="deployment",name="openai\/capped",period="day"\} 0\.00125/);
  assert.match(metrics, /signalbox_spend_cap_limit_usd\{scope="provider",name="frozen",period="month"\} 0/);
});

test("a tag's cap (LiteLLM's tag budgets): past it, a request carrying the tag is refused naming it, whatever it asks for; others go on", async () => {
  openai.setDefault({ kind: "text", text: "hello", usage: { input: 100, output: 100 } });
  const tagged = (g: TestGateway, model = "backup/gpt-4o") => sdk(g).chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], metadata: { tags: ["product:chat-bot"] } } as never);
  await tagged(a);
  await a.gw.core.usage.flush();
  await b.gw.core.spendCaps!.refresh();
  const before = openai.requests.length;
  await assert.rejects(tagged(b), (e: { status: number; message: string }) => e.status === 429 && /tags: tag "product:chat-bot"'s week budget of \$0\.001 is spent \(\$0\.0013\); resets /.test(e.message));
  await assert.rejects(tagged(b, "chat"), (e: { status: number }) => e.status === 429);
  assert.equal(openai.requests.length, before, "nothing sent");
  // Without the tag, the same caller goes on.
  assert.equal((await ask(b, "backup/gpt-4o")).response.status, 200);
  const metrics = await (await fetch(`${b.url}/metrics`)).text();
  assert.match(metrics, /signalbox_spend_cap_spent_usd\{scope="tag",name="product:chat-bot",period="week"\} 0\.00125/);
});

test("a check of a deployment past its cap sends nothing: skipped, saying why, not unhealthy", async () => {
  await a.gw.core.spendCaps!.refresh();
  const before = openai.requests.length;
  const r = await createSignalboxClient({ baseUrl: a.url, apiKey: ADMIN }).admin.checkDeployments({ deployments: ["openai/capped", "backup/gpt-4o"] });
  assert.match(r.checks[0].skipped, /^over its spending cap: its day budget of \$0\.0005 is spent/);
  assert.equal(r.checks[0].healthy, false);
  assert.equal(r.checks[0].status, "");
  assert.equal(r.checks[1].healthy, true);
  assert.equal(openai.requests.length, before + 1, "only the uncapped deployment was sent its check");
});

test("a budget's period and limit are checked at load, naming the field", async () => {
  await assert.rejects(
    startTestGateway(config(redis.url).replace("budget: { period: day, limit_usd: 0.0005 }", "budget: { period: hour, limit_usd: 1 }")),
    (e: Error) => /deployments\[0\]\.budget\.period/.test(e.message),
  );
  await assert.rejects(
    startTestGateway(config(redis.url).replace("budget: { period: month, limit_usd: 0 }", "budget: { period: month, limit_usd: -1 }")),
    (e: Error) => /providers\[2\]\.budget\.limit_usd/.test(e.message),
  );
});
