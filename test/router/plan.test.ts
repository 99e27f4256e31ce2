// Planning: order, reasons and exclusions, from config and a health snapshot.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { plan, seededRandom } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { ChatCall } from "../../src/router/types.ts";
import type { DeploymentHealth, HealthSnapshot } from "../../src/state/health.ts";

const config = buildConfig(
  parse(`
providers: [{ name: m, type: mock }]
deployments:
  - { id: a, provider: m, model: a, pricing: { input: 1, output: 1 }, context_window: 1000 }
  - { id: b, provider: m, model: b, pricing: { input: 5, output: 5 }, context_window: 100000, capabilities: [streaming] }
  - { id: c, provider: m, model: c, pricing: { input: 2, output: 2 }, context_window: 100000 }
aliases: { best: r }
routes:
  - { name: r, targets: [a, b], fallbacks: [c] }
  - name: w
    strategy: weighted
    targets: [{ deployment: a, weight: 70 }, { deployment: b, weight: 20 }, { deployment: c, weight: 10 }]
  - { name: capped, targets: [a], max_output_tokens: 100 }
  - { name: hedged, targets: [a, c], hedge_after_ms: 800, retry: { retry_on: [overloaded, timeout] } }
  - name: w0
    strategy: weighted
    targets: [{ deployment: a, weight: 1 }, { deployment: b, weight: 0 }]
`),
  {},
);
const registry = createModelRegistry(config);

function call(over: Partial<ChatCall> & { text?: string } = {}): ChatCall {
  return {
    id: "req_1",
    model: "r",
    request: { messages: [{ role: "user", content: [{ type: "text", text: over.text ?? "hello" }] }] },
    routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
    tags: [],
    metadata: {},
    caller: { keyName: "k", team: "t", role: "service", allow: [] },
    stream: false,
    ...over,
  };
}

const healthy: HealthSnapshot = { get: () => undefined, now: 1_000 };
const snapshot = (h: Record<string, Partial<DeploymentHealth>>, now = 1_000): HealthSnapshot => ({
  get: (d) => (h[d] ? { consecutiveFailures: 0, inFlight: 0, awaitingProbe: false, ...h[d] } : undefined),
  now,
});
const ids = (p: ReturnType<typeof plan>) => p.candidates.map((c) => c.deployment.id);

test("priority: targets in order, then route fallbacks, each with a reason", () => {
  const p = plan({ call: call(), registry, health: healthy, rand: Math.random });
  assert.deepEqual(ids(p), ["a", "b", "c"]);
  assert.deepEqual(p.candidates.map((c) => c.reason), ["priority 1", "priority 2", "fallback to c"]);
  assert.deepEqual(p.candidates.map((c) => c.source), ["route", "route", "route fallbacks"]);
  assert.equal(p.routing.route, "r");
});

test("aliases resolve and are reported", () => {
  const p = plan({ call: call({ model: "best" }), registry, health: healthy, rand: Math.random });
  assert.equal(p.routing.alias, "best");
  assert.deepEqual(ids(p), ["a", "b", "c"]);
});

test("per-request fallbacks come before the route's", () => {
  const p = plan({ call: call({ model: "a", routing: { ...call().routing, fallbacks: ["c", "b"] } }), registry, health: healthy, rand: Math.random });
  assert.deepEqual(ids(p), ["a", "c", "b"]);
  assert.equal(p.routing.strategy, "direct");
});

test("weighted: the first pick follows the weights over many seeds", () => {
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 5000; i++) counts[ids(plan({ call: call({ model: "w" }), registry, health: healthy, rand: seededRandom(`user-${i}`) }))[0]]++;
  assert.ok(Math.abs(counts.a / 5000 - 0.7) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts.b / 5000 - 0.2) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts.c / 5000 - 0.1) < 0.03, JSON.stringify(counts));
});

test("weighted: the same seed gives the same order (Route and Complete agree)", () => {
  const a = ids(plan({ call: call({ model: "w" }), registry, health: healthy, rand: seededRandom("alice") }));
  const b = ids(plan({ call: call({ model: "w" }), registry, health: healthy, rand: seededRandom("alice") }));
  assert.deepEqual(a, b);
  assert.equal(a.length, 3);
});

test("a deployment cooling down is excluded, with until", () => {
  const p = plan({ call: call(), registry, health: snapshot({ a: { cooldownUntil: 5_000, lastFailureKind: "overloaded" } }), rand: Math.random });
  assert.deepEqual(ids(p), ["b", "c"]);
  assert.deepEqual(p.excluded.map((e) => [e.deployment, e.reason, e.until]), [["a", "cooling_down", 5_000]]);
});

test("all candidates cooling down: the one recovering soonest is still tried", () => {
  const p = plan({
    call: call(),
    registry,
    health: snapshot({ a: { cooldownUntil: 9_000 }, b: { cooldownUntil: 3_000 }, c: { cooldownUntil: 7_000 } }),
    rand: Math.random,
  });
  assert.deepEqual(ids(p), ["b"]);
  assert.match(p.candidates[0].reason, /recovers soonest/);
});

test("context window and capabilities exclude, with details", () => {
  const long = "x".repeat(8_000); // ~2000 tokens > a's 1000 window
  const p = plan({ call: call({ text: long, request: { messages: [{ role: "user", content: [{ type: "text", text: long }] }], tools: [{ name: "t" }] } }), registry, health: healthy, rand: Math.random });
  assert.deepEqual(ids(p), ["c"]);
  const why = Object.fromEntries(p.excluded.map((e) => [e.deployment, e.reason]));
  assert.deepEqual(why, { a: "context_too_small", b: "missing_capability" });
});

test("no_fallback keeps only the first candidate", () => {
  const p = plan({ call: call({ routing: { ...call().routing, noFallback: true } }), registry, health: healthy, rand: Math.random });
  assert.deepEqual(ids(p), ["a"]);
  assert.ok(p.noFallback);
});

test("a route's output cap is applied and reported", () => {
  const p = plan({ call: call({ model: "capped", request: { messages: call().request.messages, maxOutputTokens: 5000 } }), registry, health: healthy, rand: Math.random });
  assert.equal(p.maxOutputTokens, 100);
  assert.deepEqual(p.adjustments, [{ field: "max_output_tokens", detail: 'capped from 5000 to 100 by route "capped" limit' }]);
});

test("a key's allow list is enforced", () => {
  assert.throws(
    () => plan({ call: call({ caller: { keyName: "k", team: "t", role: "service", allow: ["c"] } }), registry, health: healthy, rand: Math.random }),
    /key "k" may not use "r"/,
  );
});

test("hedging is planned, not refused: the route's or the request's threshold", () => {
  const p = plan({ call: call({ model: "hedged" }), registry, health: healthy, rand: Math.random });
  assert.equal(p.hedgeAfterMs, 800);
  const q = plan({ call: call({ routing: { ...call().routing, hedgeAfterMs: 300 } }), registry, health: healthy, rand: Math.random });
  assert.equal(q.hedgeAfterMs, 300);
});

test("the route's retry_on reaches the plan (default when unset)", () => {
  assert.deepEqual(plan({ call: call({ model: "hedged" }), registry, health: healthy, rand: Math.random }).retry.retryOn, ["overloaded", "timeout"]);
  assert.deepEqual(plan({ call: call(), registry, health: healthy, rand: Math.random }).retry.retryOn, ["rate_limited", "overloaded", "network", "server_error", "stream_interrupted"]);
  assert.deepEqual(plan({ call: call({ model: "c" }), registry, health: healthy, rand: Math.random }).retry.retryOn, ["rate_limited", "overloaded", "network", "server_error", "stream_interrupted"]);
});

test("a weight-0 target is reported as not selected, unless a fallback plans it", () => {
  const p = plan({ call: call({ model: "w0" }), registry, health: healthy, rand: Math.random });
  assert.deepEqual(ids(p), ["a"]);
  assert.deepEqual(p.excluded.map((e) => [e.deployment, e.reason, e.detail]), [["b", "not_selected", "route w0: weight 0"]]);
  const q = plan({ call: call({ model: "w0", routing: { ...call().routing, fallbacks: ["b"] } }), registry, health: healthy, rand: Math.random });
  assert.deepEqual(ids(q), ["a", "b"]);
  assert.deepEqual(q.excluded, []);
});

test("a latency cap excludes deployments observed slower than it", () => {
  const p = plan({ call: call({ routing: { ...call().routing, maxLatencyMs: 500 } }), registry, health: snapshot({ a: { latencyMs: 900 }, b: { latencyMs: 300 } }), rand: Math.random });
  assert.deepEqual(ids(p), ["b", "c"]);
  assert.deepEqual(p.excluded.map((e) => [e.deployment, e.reason, e.detail]), [["a", "over_latency_cap", "observed 900 ms > cap 500 ms"]]);
});

test("a PDF needs vision (models read its pages as images); a text document does not", async () => {
  const { requiredCapabilities } = await import("../../src/router/plan.ts");
  const withFile = (mediaType: string) =>
    call({ request: { messages: [{ role: "user", content: [{ type: "file", data: Buffer.from(mediaType === "application/pdf" ? "%PDF-1.4" : "notes"), mediaType }, { type: "text", text: "Summarise" }] }] } });
  assert.ok(requiredCapabilities(withFile("application/pdf")).has("vision"));
  assert.ok(!requiredCapabilities(withFile("text/plain")).has("vision"));
});
