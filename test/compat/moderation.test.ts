// Moderation end to end, over real sockets: the official OpenAI SDK's moderations.create against
// the gateway, the gateway against the fake OpenAI (its /moderations checked against the SDK in
// test/fakes/openai-moderation.sdk.test.ts) and the built-in mock; ModerationService over
// Connect; a webhook guardrail in OpenAI's format pointed at the gateway's own /v1/moderations.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ModerateRequestSchema, ModerationService } from "../../gen/signalbox/v1/moderation_pb.ts";
import { ExclusionReason, RouteService } from "../../gen/signalbox/v1/route_pb.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { MOCK_MODERATION_WORDS } from "../../src/providers/mock/moderation.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "moderation", "a"].join("_");

let fake: FakeOpenAI;
let t: TestGateway;
let sdk: OpenAI;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: openai/omni-moderation-latest, provider: openai, model: omni-moderation-latest }
  - { id: mock/moderation, provider: mock, model: mock-moderation-1, operations: [moderation], pricing: { input: 0, output: 0 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: moderation, targets: [mock/moderation] }
  - { name: omni, targets: [openai/omni-moderation-latest], retry: { max_retries: 0 } }
  - { name: omni-backup, targets: [openai/omni-moderation-latest, mock/moderation], retry: { max_retries: 0 } }
  - { name: default, targets: [mock/chat] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
beforeEach(() => fake.reset());
after(async () => {
  await t.close();
  await fake.close();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};
const moderationRequests = () => fake.requests.filter((r) => r.path === "/v1/moderations");
const CATEGORIES = Object.keys(MOCK_MODERATION_WORDS);

describe("POST /v1/moderations on the mock", () => {
  test("a clean text and a violent one: OpenAI's thirteen categories, scores, flagged", async () => {
    const res = await sdk.moderations.create({ model: "moderation", input: ["Have a nice day.", "I will attack you"] });
    assert.equal(res.results.length, 2);
    const [clean, violent] = res.results;
    assert.equal(clean.flagged, false);
    assert.deepEqual(Object.keys(clean.categories).sort(), [...CATEGORIES].sort());
    assert.equal(violent.flagged, true);
    assert.equal(violent.categories.violence, true);
    assert.equal(violent.categories.harassment, false);
    assert.ok(violent.category_scores.violence > 0.5 && clean.category_scores.violence < 0.01);
    const r = lastRecord();
    assert.equal(r.operation, "moderation");
    assert.equal(r.deployment, "mock/moderation");
    assert.equal(r.status, "ok");
    assert.equal(r.cost.total, 0);
  });

  test("bad input names the field and nothing is planned", async () => {
    const before = t.usage.recent().length;
    for (const [body, param] of [
      [{ model: "moderation" }, "input"],
      [{ model: "moderation", input: [] }, "input"],
      [{ model: "moderation", input: [""] }, "input[0]"],
      [{ model: "moderation", input: [{ type: "audio", audio: "x" }] }, "input[0].type"],
      [{ model: "moderation", input: [{ type: "image_url", image_url: { url: "ftp://x" } }] }, "input[0]"],
      [{ model: "moderation", input: "x", threshold: 0.3 }, "threshold"],
    ] as const) {
      const res = await fetch(`${t.url}/v1/moderations`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(((await res.json()) as { error: { param: string } }).error.param, param);
    }
    assert.equal(t.usage.recent().length, before);
    // A chat route serves no moderation: refused (and recorded as refused), nothing sent.
    const chat = await fetch(`${t.url}/v1/moderations`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "default", input: "x" }) });
    assert.equal(chat.status, 400);
    assert.match(((await chat.json()) as { error: { message: string } }).error.message, /moderation/);
    assert.equal(lastRecord().attempts.length, 0);
  });
});

describe("POST /v1/moderations through OpenAI", () => {
  test("the texts as OpenAI's input; its verdicts passed on; the provider key sent", async () => {
    const res = await sdk.moderations.create({ model: "omni", input: "I will kill the process" });
    const sent = moderationRequests();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    assert.deepEqual(sent[0].body, { model: "omni-moderation-latest", input: "I will kill the process" });
    assert.equal(res.results.length, 1);
    assert.equal(typeof res.results[0].flagged, "boolean");
    assert.ok(res.results[0].category_applied_input_types, "omni's applied input types are passed on");
    assert.match(res.model, /omni-moderation/);
    assert.equal(lastRecord().deployment, "openai/omni-moderation-latest");
  });

  test("text and images: one array of parts upstream, one result", async () => {
    const url = "data:image/png;base64,iVBORw0KGgo=";
    const res = await sdk.moderations.create({ model: "omni", input: [{ type: "text", text: "a picture" }, { type: "image_url", image_url: { url } }] });
    assert.equal(res.results.length, 1);
    assert.deepEqual(moderationRequests()[0].body.input, [
      { type: "text", text: "a picture" },
      { type: "image_url", image_url: { url } },
    ]);
  });

  test("a provider error falls back to the next deployment", async () => {
    fake.script({ kind: "error", error: "rate_limit" });
    const res = await sdk.moderations.create({ model: "omni-backup", input: "hello" });
    assert.equal(res.results.length, 1);
    assert.deepEqual(
      lastRecord().attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["openai/omni-moderation-latest", "failed"],
        ["mock/moderation", "succeeded"],
      ],
    );
  });
});

describe("ModerationService and a guardrail pointed at the gateway", () => {
  test("Moderate over Connect: a result per input, categories and scores as maps", async () => {
    const c = createClient(ModerationService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${KEY}`), next(req))] }));
    const res = await c.moderate(create(ModerateRequestSchema, { model: "moderation", inputs: ["You idiot", "fine"], tags: ["mod"] }));
    assert.equal(res.deployment, "mock/moderation");
    assert.deepEqual(
      res.results.map((r) => [r.flagged, r.categories.harassment]),
      [
        [true, true],
        [false, false],
      ],
    );
    assert.ok(res.results[0].categoryScores.harassment > 0.5);
    await assert.rejects(c.moderate(create(ModerateRequestSchema, { model: "moderation", inputs: [] })), /inputs: is required/);
  });

  test("RouteModeration: only deployments that serve moderation are candidates; bad input names its field", async () => {
    const route = createClient(RouteService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1", interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${KEY}`), next(req))] }));
    const plan = await route.routeModeration(create(ModerateRequestSchema, { model: "omni-backup", inputs: ["hello"] }));
    // (The OpenAI deployment may be cooling down after the fallback test above: then it is excluded for that.)
    const openai = plan.candidates.some((c) => c.deployment === "openai/omni-moderation-latest") || plan.excluded.some((e) => e.deployment === "openai/omni-moderation-latest" && e.reason === ExclusionReason.COOLING_DOWN);
    assert.ok(openai, JSON.stringify(plan.excluded, (_, v) => (typeof v === "bigint" ? String(v) : v)));
    assert.equal(plan.candidates.at(-1)?.deployment, "mock/moderation");
    assert.ok(plan.candidates.every((c) => c.deployment !== "mock/chat"));
    assert.equal(plan.routing?.route, "omni-backup");
    // Naming a chat deployment: refused, naming the field, as Moderate itself would.
    await assert.rejects(route.routeModeration(create(ModerateRequestSchema, { model: "mock/chat", inputs: ["hello"] })), /model: "mock\/chat" has no deployment that serves moderation/);
    await assert.rejects(route.routeModeration(create(ModerateRequestSchema, { model: "moderation", inputs: [] })), /inputs: is required/);
  });

  test("a webhook guardrail in OpenAI's format can use the gateway's own /v1/moderations", async () => {
    const g = await startTestGateway(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: default, targets: [mock/chat], guardrails: [moderated] }
guardrails:
  - { name: moderated, kind: webhook, stage: input, action: block, webhook: { url: "${t.url}/v1/moderations", format: openai, model: moderation, headers: { authorization: "Bearer ${KEY}" }, fail: closed } }
`);
    try {
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const ok = await client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "What is a gateway?" }] });
      assert.ok(ok.choices[0].message.content);
      await assert.rejects(client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "I will attack you" }] }), (e: { status?: number; message?: string }) => e.status === 400 && /violence/.test(e.message ?? ""));
    } finally {
      await g.close();
    }
  });
});
