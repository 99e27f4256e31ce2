// RouteService.Route returns the order ChatService.Complete then follows, for every strategy:
// every target but the last fails, so Complete walks the whole plan and its attempts must
// list exactly Route's candidates, in order.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createSignalboxClient, Task, userText } from "@signalbox/client";
import { startTestGateway } from "../helpers/gateway.ts";

const deployments = `
providers:
  - { name: ok, type: mock }
  - { name: bad1, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: bad2, type: mock, mock: { failure_rate: 1, failure_kind: server_error } }
  - { name: bad3, type: mock, mock: { failure_rate: 1, failure_kind: network } }
deployments:
  - { id: d/cheap-bad, provider: bad1, model: m1, pricing: { input: 0.1, output: 0.1 }, quality: 0.3, strengths: [simple] }
  - { id: d/mid-bad, provider: bad2, model: m2, pricing: { input: 1, output: 2 }, quality: 0.6, strengths: [creative] }
  - { id: d/pricey-bad, provider: bad3, model: m3, pricing: { input: 5, output: 15 }, quality: 0.95, strengths: [coding, reasoning] }
  - { id: d/good, provider: ok, model: m4, pricing: { input: 20, output: 60 }, quality: 0.1 }
`;

const all = "[d/cheap-bad, d/mid-bad, d/pricey-bad]";
const strategies: Record<string, string> = {
  priority: `{ name: r, strategy: priority, targets: ${all}, fallbacks: [d/good], retry: { max_retries: 0 } }`,
  weighted: `{ name: r, strategy: weighted, targets: [{ deployment: d/cheap-bad, weight: 5 }, { deployment: d/mid-bad, weight: 3 }, { deployment: d/pricey-bad, weight: 2 }], fallbacks: [d/good], retry: { max_retries: 0 } }`,
  latency: `{ name: r, strategy: latency, targets: ${all}, fallbacks: [d/good], retry: { max_retries: 0 } }`,
  cost: `{ name: r, strategy: cost, targets: [d/pricey-bad, d/cheap-bad, d/mid-bad], fallbacks: [d/good], retry: { max_retries: 0 } }`,
  "least-busy": `{ name: r, strategy: least-busy, targets: ${all}, fallbacks: [d/good], retry: { max_retries: 0 } }`,
  complexity: `{ name: r, strategy: complexity, targets: ${all}, fallbacks: [d/good], retry: { max_retries: 0 } }`,
  hybrid: `{ name: r, strategy: hybrid, targets: ${all}, fallbacks: [d/good], retry: { max_retries: 0 } }`,
  "a/b": `{ name: r, strategy: priority, variants: [{ name: one, weight: 50, targets: [d/cheap-bad, d/mid-bad] }, { name: two, weight: 50, targets: [d/pricey-bad, d/mid-bad] }], fallbacks: [d/good], retry: { max_retries: 0 } }`,
};

for (const [name, route] of Object.entries(strategies)) {
  test(`${name}: Complete follows exactly the plan Route returned`, async () => {
    const t = await startTestGateway(`${deployments}\nroutes:\n  - ${route}\n`);
    try {
      const client = createSignalboxClient({ baseUrl: t.url });
      for (const [i, key] of ["alice", "bob", "carol"].entries()) {
        const req = {
          model: "r",
          messages: [userText(i === 1 ? "Prove that the square root of 2 is irrational, step by step." : "hi")],
          routing: { stickyKey: `${name}-${key}`, task: i === 2 ? Task.CODING : Task.UNSPECIFIED, maxAttempts: 10 },
        };
        const plan = await client.route.route(req);
        const res = await client.chat.complete(req);
        assert.deepEqual(
          res.attempts.map((a) => a.deployment),
          plan.candidates.map((c) => c.deployment),
          `attempts follow the plan (${plan.candidates.map((c) => `${c.deployment}: ${c.reason}`).join("; ")})`,
        );
        assert.equal(res.deployment, "d/good");
        assert.equal(res.routing?.strategy, plan.routing?.strategy);
        assert.equal(res.routing?.variant, plan.routing?.variant);
        if (name === "a/b") assert.ok(res.routing?.variant === "one" || res.routing?.variant === "two");
      }
    } finally {
      await t.close();
    }
  });
}

test("task routing: the hint picks the route, and Complete follows it", async () => {
  const t = await startTestGateway(`${deployments}
routes:
  - { name: code, targets: [d/pricey-bad], fallbacks: [d/good], retry: { max_retries: 0 } }
  - { name: chit, targets: [d/cheap-bad], fallbacks: [d/good], retry: { max_retries: 0 } }
  - name: r
    strategy: task
    targets: [d/mid-bad]
    task_routes: { coding: code, simple: chit }
    fallbacks: [d/good]
    retry: { max_retries: 0 }
`);
  try {
    const client = createSignalboxClient({ baseUrl: t.url });
    for (const [task, first] of [[Task.CODING, "d/pricey-bad"], [Task.SIMPLE, "d/cheap-bad"]] as const) {
      const req = { model: "r", messages: [userText("hi")], routing: { task, stickyKey: "k" } };
      const plan = await client.route.route(req);
      assert.equal(plan.candidates[0].deployment, first);
      const res = await client.chat.complete(req);
      assert.deepEqual(res.attempts.map((a) => a.deployment), plan.candidates.map((c) => c.deployment));
    }
  } finally {
    await t.close();
  }
});
