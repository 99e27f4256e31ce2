// Active checks of deployments (AdminService.CheckDeployments, src/engine/checks.ts) against a fake
// OpenAI over real HTTP: what each deployment is sent, healthy and failed outcomes with the code a
// caller would get and no provider key anywhere, the time limit, unknown and unchecked deployments,
// admin only, billed and recorded with the tag "health-check", heard by the deployment's health
// (three failed checks cool it down), the last check in ListModels; and the background checks of
// `health_checks`, run by one replica of two sharing a Redis, whose results both replicas show.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createSignalboxClient, DeploymentHealth_State, SignalboxError, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

const ADMIN = ["adm", "checks", "secret"].join("-");
const TEAM = ["team", "checks", "secret"].join("-");

const config = (upstream: string, extra = "") => `
providers:
  - name: openai
    type: openai
    base_url: ${upstream}
    api_key: ${OPENAI_TEST_KEY}
deployments:
  - { id: oa/chat, provider: openai, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
  - { id: oa/other, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: oa/embed, provider: openai, model: text-embedding-3-small, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
  - { id: oa/images, provider: openai, model: dall-e-3, operations: [images] }
routes:
  - name: default
    targets: [oa/chat, oa/other]
teams:
  - name: search
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: lead, hash: "${hashKey(TEAM)}", team: search, role: team }
${extra}`;

const jsonText = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x));
const chatCalls = (f: FakeOpenAI) => f.requests.filter((r) => r.path.endsWith("/chat/completions"));

describe("AdminService.CheckDeployments", () => {
  let fake: FakeOpenAI;
  let g: TestGateway;
  const as = (apiKey: string): SignalboxClient => createSignalboxClient({ baseUrl: g.url, apiKey });

  before(async () => {
    fake = await startFakeOpenAI();
    g = await startTestGateway(config(fake.url));
  });
  after(async () => {
    await g.close();
    await fake.close();
  });

  test("every deployment: a one-word chat, one embedding; images-only is skipped; billed and recorded as health-check", async () => {
    fake.reset();
    const r = await as(ADMIN).admin.checkDeployments({});
    assert.deepEqual(
      r.checks.map((c) => [c.deployment, c.operation, c.healthy, c.status]),
      [
        ["oa/chat", "chat", true, ""],
        ["oa/other", "chat", true, ""],
        ["oa/embed", "embeddings", true, ""],
        ["oa/images", "", false, ""],
      ],
    );
    assert.match(r.checks[3].skipped, /serves only images/);
    // What each deployment was sent: itself alone, a short prompt and a few output tokens.
    const chats = chatCalls(fake).map((c) => c.body as { model: string; messages: unknown[]; max_completion_tokens?: number; max_tokens?: number });
    assert.deepEqual(chats.map((b) => b.model).sort(), ["gpt-4o", "gpt-4o-mini"]);
    for (const b of chats) assert.equal(b.max_completion_tokens ?? b.max_tokens, 5);
    const embeds = fake.requests.filter((x) => x.path.endsWith("/embeddings"));
    assert.equal(embeds.length, 1);
    assert.equal(fake.requests.filter((x) => x.path.includes("/images")).length, 0, "an images-only deployment is not sent anything");
    // Billed and recorded like any request, tagged, under the admin who asked, with the check's request id.
    for (const c of r.checks.slice(0, 3)) {
      assert.ok(c.costNanoUsd > 0n, `${c.deployment} has a cost`);
      assert.ok(c.latencyMs >= 0 && c.checkTime && c.requestId && c.traceId);
      const rec = g.usage.recent().find((x) => x.id === c.requestId);
      assert.ok(rec, `${c.deployment}'s check is recorded`);
      assert.deepEqual(rec.tags, ["health-check"]);
      assert.equal(rec.deployment, c.deployment);
      assert.equal(rec.key, "root");
      assert.equal(rec.status, "ok");
      assert.equal(BigInt(Math.round(rec.cost.total)), c.costNanoUsd);
    }
    // One trace for the asking RPC and its checks.
    assert.equal(new Set(r.checks.slice(0, 3).map((c) => c.traceId)).size, 1);
  });

  test("named deployments, in the order asked; an unknown id is not_found; no fallback to another deployment", async () => {
    fake.reset();
    fake.script({ kind: "error", error: "overloaded" });
    const r = await as(ADMIN).admin.checkDeployments({ deployments: ["oa/other", "nope"] });
    assert.equal(r.checks.length, 2);
    assert.equal(r.checks[0].deployment, "oa/other");
    assert.equal(r.checks[0].healthy, false);
    assert.equal(r.checks[0].status, "unavailable");
    assert.match(r.checks[0].error, /overload|503/i);
    assert.deepEqual([r.checks[1].deployment, r.checks[1].status], ["nope", "not_found"]);
    assert.equal(chatCalls(fake).length, 1, "one attempt, no retry, no fallback");
    const rec = g.usage.recent().find((x) => x.id === r.checks[0].requestId);
    assert.equal(rec?.status, "unavailable", "a failed check is recorded too");
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(metrics, /^signalbox_deployment_checks_total\{deployment="oa\/other",outcome="failed",error_type="unavailable"\} 1$/m);
    assert.match(metrics, /^signalbox_deployment_checks_total\{deployment="nope",outcome="failed",error_type="not_found"\} 1$/m);
  });

  test("a rejected provider key is unauthenticated, and the key appears nowhere", async () => {
    fake.reset();
    fake.script({ kind: "error", error: "invalid_api_key" });
    const r = await as(ADMIN).admin.checkDeployments({ deployments: ["oa/chat"] });
    assert.equal(r.checks[0].healthy, false);
    assert.ok(["unauthenticated", "permission_denied", "internal", "unavailable"].includes(r.checks[0].status), r.checks[0].status);
    assert.ok(!jsonText(r).includes(OPENAI_TEST_KEY));
    const models = await as(ADMIN).route.listModels({});
    assert.ok(!jsonText(models).includes(OPENAI_TEST_KEY));
  });

  test("a deployment that does not answer fails at the time limit, as deadline_exceeded", async () => {
    fake.reset();
    fake.script({ kind: "hang" });
    const t0 = performance.now();
    const r = await as(ADMIN).admin.checkDeployments({ deployments: ["oa/chat"], timeoutMs: 400 });
    const took = performance.now() - t0;
    assert.equal(r.checks[0].status, "deadline_exceeded");
    assert.match(r.checks[0].error, /400 ms/);
    assert.ok(took < 5_000, `took ${took} ms`);
  });

  test("three failed checks cool the deployment down; ListModels shows the last check; an answer ends it", async () => {
    fake.reset();
    fake.setDefault({ kind: "error", error: "server_error" });
    for (let i = 0; i < 3; i++) await as(ADMIN).admin.checkDeployments({ deployments: ["oa/other"] });
    let m = (await as(ADMIN).route.listModels({})).deployments.find((d) => d.id === "oa/other")!;
    assert.equal(m.health?.state, DeploymentHealth_State.COOLING_DOWN);
    assert.equal(m.health?.lastCheck?.healthy, false);
    assert.equal(m.health?.lastCheck?.status, "unavailable");
    fake.reset();
    // A cooling-down deployment is still checked (it is the only candidate): the answer is heard.
    const r = await as(ADMIN).admin.checkDeployments({ deployments: ["oa/other"] });
    assert.equal(r.checks[0].healthy, true);
    m = (await as(ADMIN).route.listModels({})).deployments.find((d) => d.id === "oa/other")!;
    assert.equal(m.health?.lastCheck?.healthy, true);
    assert.equal(timestampMs(m.health!.lastCheck!.checkTime!), timestampMs(r.checks[0].checkTime!));
    assert.notEqual(m.health?.state, DeploymentHealth_State.COOLING_DOWN);
  });

  test("admin only; bad arguments name their field and send nothing", async () => {
    fake.reset();
    await assert.rejects(as(TEAM).admin.checkDeployments({}), (e: SignalboxError) => e.code === Code.PermissionDenied);
    await assert.rejects(as(ADMIN).admin.checkDeployments({ timeoutMs: 500_000 }), (e: SignalboxError) => e.code === Code.InvalidArgument && e.field === "timeout_ms");
    await assert.rejects(as(ADMIN).admin.checkDeployments({ deployments: [""] }), (e: SignalboxError) => e.code === Code.InvalidArgument && e.field === "deployments[0]");
    assert.equal(fake.requests.length, 0);
  });
});

describe("health_checks: background checks", () => {
  let fake: FakeOpenAI;
  let redis: TestRedis | undefined;
  const gws: TestGateway[] = [];

  before(async () => {
    fake = await startFakeOpenAI();
    redis = await startRedis();
  });
  after(async () => {
    for (const g of gws) await g.close();
    await fake.close();
    await redis?.stop();
  });

  test("two replicas on one Redis: one runs each round, both show its results, a failure is logged in the record", async (t) => {
    if (!redis) return t.skip("redis-server is not installed");
    const yaml = config(fake.url, `store: { redis_url: "${redis.url}" }\nhealth_checks: { interval_seconds: 5, timeout_ms: 2000, deployments: [oa/chat, oa/embed] }\n`);
    gws.push(await startTestGateway(yaml), await startTestGateway(yaml));
    // The first round comes about two seconds after start, run by one replica only.
    const deadline = Date.now() + 10_000;
    const client = (g: TestGateway) => createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN });
    let seen: Awaited<ReturnType<SignalboxClient["route"]["listModels"]>>[] = [];
    while (Date.now() < deadline) {
      seen = await Promise.all(gws.map((g) => client(g).route.listModels({})));
      // Both checks of the round, as each replica shows them (they finish in either order).
      if (seen.every((m) => ["oa/chat", "oa/embed"].every((id) => m.deployments.find((d) => d.id === id)?.health?.lastCheck))) break;
      await sleep(100);
    }
    for (const m of seen) {
      const chat = m.deployments.find((d) => d.id === "oa/chat")!.health!.lastCheck!;
      const embed = m.deployments.find((d) => d.id === "oa/embed")!.health!.lastCheck!;
      assert.equal(chat.healthy, true);
      assert.equal(embed.operation, "embeddings");
      assert.equal(m.deployments.find((d) => d.id === "oa/other")!.health!.lastCheck, undefined, "only the deployments named are checked");
    }
    // One replica ran the round: one chat and one embedding reached the provider, not two of each.
    await sleep(500);
    assert.equal(chatCalls(fake).length, 1);
    assert.equal(fake.requests.filter((x) => x.path.endsWith("/embeddings")).length, 1);
    const recorded = gws.flatMap((g) => g.usage.recent().filter((r) => r.tags.includes("health-check")));
    assert.equal(recorded.length, 2);
    assert.ok(recorded.every((r) => r.key === "health-check"), "background checks are recorded under health-check");
    // The next round (five seconds later) finds the deployment failing: both replicas show it.
    fake.setDefault({ kind: "error", error: "overloaded" });
    const next = Date.now() + 12_000;
    let failed = false;
    while (Date.now() < next && !failed) {
      await sleep(200);
      const ms = await Promise.all(gws.map((g) => client(g).route.listModels({})));
      failed = ms.every((m) => m.deployments.find((d) => d.id === "oa/chat")?.health?.lastCheck?.healthy === false);
    }
    assert.ok(failed, "the failed round is shown by both replicas");
  });
});
