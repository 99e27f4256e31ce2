// Conditional routing: a route's `conditions` send a request to another route, alias or deployment
// by who sends it (team, key, user), its tags and its metadata, before the route's strategy. The
// planner's candidates and reasons, the picked route's settings, fallbacks, chains through task
// routes, the config checks, and the whole gateway over HTTP with the OpenAI SDK's metadata.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient } from "@signalbox/client";
import { parse } from "yaml";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { plan } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { ChatCall } from "../../src/router/types.ts";
import type { HealthSnapshot } from "../../src/state/health.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const YAML = `
providers: [{ name: m, type: mock }]
deployments:
  - { id: cheap, provider: m, model: cheap, pricing: { input: 1, output: 1 } }
  - { id: premium-a, provider: m, model: premium-a, pricing: { input: 5, output: 5 } }
  - { id: premium-b, provider: m, model: premium-b, pricing: { input: 6, output: 6 } }
  - { id: beta, provider: m, model: beta, pricing: { input: 2, output: 2 } }
  - { id: coder, provider: m, model: coder, pricing: { input: 3, output: 3 } }
aliases: { best: premium }
routes:
  - name: chat
    targets: [cheap]
    fallbacks: [beta]
    conditions:
      - { when: { metadata.tier: [pro, enterprise] }, target: best }
      - { when: { team: research, tag: experimental }, target: beta }
      - { when: { user: "*", metadata.region: eu }, target: tasks }
  - { name: premium, targets: [premium-a, premium-b], max_output_tokens: 777, fallbacks: [cheap] }
  - { name: tiered, targets: [cheap], cache: { enabled: true }, conditions: [{ when: { metadata.tier: pro }, target: premium-b }] }
  - name: tasks
    strategy: task
    targets: [cheap]
    task_routes: { coding: coder }
`;
const config = buildConfig(parse(YAML), {});
const registry = createModelRegistry(config);
const healthy: HealthSnapshot = { get: () => undefined, now: 1_000 };

function call(over: Partial<ChatCall> = {}, text = "hello"): ChatCall {
  return {
    id: "req_1",
    model: "chat",
    request: { messages: [{ role: "user", content: [{ type: "text", text }] }] },
    routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
    tags: [],
    metadata: {},
    caller: { keyName: "k", team: "t", role: "service", allow: [] },
    stream: false,
    ...over,
  };
}
const planFor = (c: ChatCall) => plan({ call: c, registry, health: healthy, rand: Math.random });
const ids = (p: ReturnType<typeof plan>) => p.candidates.map((c) => c.deployment.id);

describe("conditional routing: the planner", () => {
  test("no condition matches: the route's own targets and fallbacks", () => {
    const p = planFor(call({ metadata: { tier: "free" } }));
    assert.deepEqual(ids(p), ["cheap", "beta"]);
    assert.deepEqual(p.candidates.map((c) => c.reason), ["priority 1", "fallback to beta"]);
  });

  test("metadata matches one of the values: the alias's route plans, its settings apply, then its fallbacks and the route's", () => {
    const p = planFor(call({ metadata: { tier: "enterprise" } }));
    assert.deepEqual(ids(p), ["premium-a", "premium-b", "cheap", "beta"]);
    assert.equal(p.candidates[0].reason, "condition 1 (metadata.tier in [pro, enterprise]) -> route best: priority 1");
    assert.equal(p.maxOutputTokens, 777, "the picked route's output cap");
    assert.equal(p.routing.route, "chat", "the route called is reported");
  });

  test("every field of a condition must match; a condition picks a deployment; conditions are tried in order", () => {
    assert.deepEqual(ids(planFor(call({ caller: { keyName: "k", team: "research", role: "team", allow: [] } }))), ["cheap", "beta"], "team alone is not enough");
    const p = planFor(call({ caller: { keyName: "k", team: "research", role: "team", allow: [] }, tags: ["a", "experimental"], metadata: { tier: "pro" } }));
    assert.equal(p.candidates[0].deployment.id, "premium-a", "condition 1 comes first");
    const beta = planFor(call({ caller: { keyName: "k", team: "research", role: "team", allow: [] }, tags: ["experimental"] }));
    assert.deepEqual(ids(beta), ["beta"]);
    assert.equal(beta.candidates[0].reason, "condition 2 (team=research, tag=experimental) -> deployment beta");
  });

  test('"*" matches any value but not a missing one; a picked task route dispatches by task', () => {
    assert.deepEqual(ids(planFor(call({ metadata: { region: "eu" } }))), ["cheap", "beta"], "no user");
    const p = planFor(call({ user: "u1", metadata: { region: "eu" }, routing: { ...call().routing, task: "coding" } }));
    assert.deepEqual(ids(p), ["coder", "beta"]);
    assert.equal(p.candidates[0].reason, "condition 3 (user=*, metadata.region=eu) -> route tasks -> task coding (hinted) -> deployment coder");
  });

  test("a conditional route as a fallback applies its conditions too", () => {
    const c = buildConfig(parse(`${YAML}\n  - { name: outer, targets: [coder], fallbacks: [chat] }\n`), {});
    const p = plan({ call: call({ model: "outer", metadata: { tier: "pro" } }), registry: createModelRegistry(c), health: healthy, rand: Math.random });
    assert.deepEqual(ids(p), ["coder", "premium-a", "premium-b", "cheap", "beta"]);
    assert.match(p.candidates[1].reason, /^fallback via route chat: condition 1 .* -> route best: priority 1$/);
  });
});

describe("conditional routing: configuration", () => {
  const bad = (conditions: string, path: string, message: RegExp) =>
    assert.throws(
      () => buildConfig(parse(YAML.replace(/    conditions:\n(      - .*\n)+/, `    conditions: ${conditions}\n`)), {}),
      (e: unknown) => e instanceof ConfigError && e.path === path && message.test(e.message),
    );

  test("unknown targets and fields, empty conditions, a route sending to itself, and cycles are refused, naming the field", () => {
    bad('[{ when: { team: a }, target: nowhere }]', "routes[0].conditions[0].target", /unknown route, alias or deployment "nowhere"/);
    bad('[{ when: { team: a }, target: chat }]', "routes[0].conditions[0].target", /cannot send a condition to itself/);
    bad('[{ when: {}, target: beta }]', "routes[0].conditions[0].when", /at least one field/);
    bad('[{ when: { tier: pro }, target: beta }]', "routes[0].conditions[0].when.tier", /unknown field/);
    bad('[{ when: { team: [] }, target: beta }]', "routes[0].conditions[0].when.team", /at least 1/);
    bad('[{ target: beta }]', "routes[0].conditions[0].when", /is required/);
    const loop = `${YAML}\n  - { name: back, targets: [cheap], conditions: [{ when: { team: x }, target: chat2 }] }\n  - { name: chat2, targets: [cheap], conditions: [{ when: { team: y }, target: back }] }\n`;
    assert.throws(() => buildConfig(parse(loop), {}), (e: unknown) => e instanceof ConfigError && /conditions form a cycle: (back -> chat2 -> back|chat2 -> back -> chat2)/.test(e.message));
    // A single value may be written bare, a number or a boolean as its text.
    const ok = buildConfig(parse(YAML.replace("metadata.tier: [pro, enterprise]", "metadata.tier: 7")), {});
    assert.deepEqual(ok.routes[0].conditions[0].when, { "metadata.tier": ["7"] });
  });
});

describe("conditional routing: through the gateway", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway(YAML);
  });
  after(() => t.close());

  test("/v1 metadata picks the premium route; the answer and the usage record say which deployment served it; the cache keeps them apart", async () => {
    const sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const pro = await sdk.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }], metadata: { tier: "pro" }, store: true }).withResponse();
    assert.equal(pro.response.headers.get("x-signalbox-deployment"), "premium-a");
    const free = await sdk.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }], metadata: { tier: "free" }, store: true }).withResponse();
    assert.equal(free.response.headers.get("x-signalbox-deployment"), "cheap");
    // The same prompt, same team, same parameters: the cache keeps the two conditions' answers apart.
    const tiered = (tier: string) => sdk.chat.completions.create({ model: "tiered", messages: [{ role: "user", content: "hello" }], metadata: { tier }, store: true }).withResponse();
    const headers = (r: Awaited<ReturnType<typeof tiered>>) => [r.response.headers.get("x-signalbox-cache"), r.response.headers.get("x-signalbox-deployment")];
    assert.deepEqual(headers(await tiered("pro")), ["miss", "premium-b"]);
    assert.deepEqual(headers(await tiered("free")), ["miss", "cheap"]);
    assert.deepEqual(headers(await tiered("pro")), ["hit", "premium-b"]);
    assert.deepEqual(headers(await tiered("free")), ["hit", "cheap"]);
    const rec = t.usage.recent().find((r) => r.id === pro.response.headers.get("x-request-id"))!;
    assert.deepEqual([rec.routing.route, rec.deployment, rec.metadata.tier], ["chat", "premium-a", "pro"]);
  });

  test("ListModels shows each route's conditions in order", async () => {
    const m = await createSignalboxClient({ baseUrl: t.url }).route.listModels({});
    const chat = m.routes.find((r) => r.name === "chat")!;
    assert.deepEqual(
      chat.conditions.map((c) => [c.target, c.when.map((w) => [w.field, w.values])]),
      [
        ["best", [["metadata.tier", ["pro", "enterprise"]]]],
        ["beta", [["team", ["research"]], ["tag", ["experimental"]]]],
        ["tasks", [["user", ["*"]], ["metadata.region", ["eu"]]]],
      ],
    );
    assert.deepEqual(m.routes.find((r) => r.name === "premium")!.conditions, []);
  });
});
