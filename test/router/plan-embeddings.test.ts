// Planning an embeddings call: the same planner as chat, over the deployments that serve
// embeddings only; inputs counted one by one (each must fit), no output planned.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { GatewayError } from "../../src/router/errors.ts";
import { plan } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { EmbedCall } from "../../src/router/types.ts";
import type { HealthSnapshot } from "../../src/state/health.ts";

const config = buildConfig(
  parse(`
providers: [{ name: m, type: mock }]
deployments:
  - { id: chat, provider: m, model: chat, pricing: { input: 1, output: 1 } }
  - { id: small, provider: m, model: small, operations: [embeddings], pricing: { input: 0.02, output: 0 }, context_window: 8 }
  - { id: big, provider: m, model: big, operations: [embeddings], pricing: { input: 0.13, output: 0 }, context_window: 8000 }
  - { id: both, provider: m, model: both, operations: [chat, embeddings], pricing: { input: 1, output: 2 } }
routes:
  - { name: mixed, targets: [chat, small, big] }
  - { name: chat-only, targets: [chat] }
`),
  {},
);
const registry = createModelRegistry(config);
const healthy: HealthSnapshot = { get: () => undefined, now: 1_000 };

function call(model: string, inputs: string[]): EmbedCall {
  return {
    operation: "embeddings",
    id: "req_e",
    model,
    request: { inputs },
    routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
    tags: [],
    metadata: {},
    caller: { keyName: "k", team: "t", role: "service", allow: [] },
  };
}

test("only deployments serving embeddings are candidates; the others are excluded as wrong_operation", () => {
  const p = plan({ call: call("mixed", ["hello world", "again"]), registry, health: healthy, rand: Math.random });
  assert.equal(p.operation, "embeddings");
  assert.deepEqual(
    p.candidates.map((c) => c.deployment.id),
    ["small", "big"],
  );
  assert.deepEqual(
    p.excluded.map((e) => [e.deployment, e.reason]),
    [["chat", "wrong_operation"]],
  );
  // Inputs summed (mock: o200k), no output planned; cost at the input price only.
  assert.equal(p.candidates[0].estimatedInputTokens, 3);
  assert.equal(p.candidates[0].expectedOutputTokens, 0);
  assert.equal(p.candidates[0].expectedCostNanos, Math.round((3 * 20_000) / 1000));
  assert.equal(p.maxOutputTokens, undefined);
});

test("each input must fit the model's input limit on its own", () => {
  const long = "one two three four five six seven eight nine ten";
  const p = plan({ call: call("mixed", ["short", long]), registry, health: healthy, rand: Math.random });
  assert.deepEqual(
    p.candidates.map((c) => c.deployment.id),
    ["big"],
  );
  const ex = p.excluded.find((e) => e.deployment === "small")!;
  assert.equal(ex.reason, "context_too_small");
  assert.match(ex.detail, /input limit 8 tokens < estimated 10 tokens of the longest input/);
});

test("a model with no deployment for the operation is invalid_argument naming model", () => {
  assert.throws(
    () => plan({ call: call("chat-only", ["x"]), registry, health: healthy, rand: Math.random }),
    (e: unknown) => e instanceof GatewayError && e.code === "invalid_argument" && e.details.field === "model" && /no deployment that serves embeddings \(its deployments serve chat\)/.test(e.message),
  );
  // A deployment serving both operations plans for either.
  assert.equal(plan({ call: call("both", ["x"]), registry, health: healthy, rand: Math.random }).candidates[0].deployment.id, "both");
});
