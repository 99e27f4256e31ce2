// The `usage` strategy (LiteLLM's usage-based routing, spread by headroom): the plan's order for a
// crafted health snapshot (a deployment at its limit last, one half used an instant ago, the same
// faded half a window later, one without limits), the draw's shares over many requests, and a real
// gateway whose two rate-limited deployments (10 and 40 requests a minute) share 40 requests in
// proportion to their limits, with none refused and the reason in RouteService.Route.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { createSignalboxClient, userText } from "@signalbox/client";
import { buildConfig } from "../../src/config/load.ts";
import { plan, seededRandom } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { ChatCall } from "../../src/router/types.ts";
import type { DeploymentHealth, HealthSnapshot } from "../../src/state/health.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const YAML = `
providers: [{ name: m, type: mock }]
deployments:
  - { id: small, provider: m, model: small, pricing: { input: 1, output: 2 }, limits: { requests_per_minute: 10 } }
  - { id: large, provider: m, model: large, pricing: { input: 1, output: 2 }, limits: { requests_per_minute: 40 } }
  - { id: full, provider: m, model: full, pricing: { input: 1, output: 2 }, limits: { tokens_per_minute: 100000 } }
  - { id: open, provider: m, model: open, pricing: { input: 1, output: 2 } }
routes:
  - { name: spread, strategy: usage, targets: [small, large] }
  - { name: mixed, strategy: usage, targets: [full, large, open] }
`;

const NOW = 50_000_000;
const snapshot = (h: Record<string, Partial<DeploymentHealth>>): HealthSnapshot => ({
  get: (d) => (h[d] ? { consecutiveFailures: 0, inFlight: 0, awaitingProbe: false, ...h[d] } : undefined),
  now: NOW,
});
const call = (model: string, id = "req_1"): ChatCall => ({
  id,
  model,
  request: { messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }] },
  routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
  tags: [],
  metadata: {},
  caller: { keyName: "k", team: "t", role: "service", allow: [] },
  stream: false,
});

describe("the usage strategy", () => {
  const registry = createModelRegistry(buildConfig(parse(YAML), {}));
  // full: at its limit just now; large: half used 30 s ago (a quarter now); open: no limits.
  const health = snapshot({ full: { usage: { fraction: 1, at: NOW } }, large: { usage: { fraction: 0.5, at: NOW - 30_000 } } });

  test("at its limit last; the others drawn by headroom, each reason saying why", () => {
    const p = plan({ call: call("mixed"), registry, health, rand: seededRandom("a") });
    assert.equal(p.candidates.at(-1)!.deployment.id, "full");
    const by = Object.fromEntries(p.candidates.map((c) => [c.deployment.id, c.reason]));
    assert.match(by.full, /^100% of its rate limit in use \(observed 0\.0 s ago\), headroom 0\.00: at its limit, last$/);
    assert.match(by.large, /^25% of its rate limit in use \(observed 30\.0 s ago\), headroom 0\.75, drawn/);
    assert.match(by.open, /^no rate limits: full headroom, drawn/);
    // Never observed: full headroom.
    const fresh = plan({ call: call("spread"), registry, health: snapshot({}), rand: seededRandom("a") });
    assert.ok(fresh.candidates.every((c) => /^usage not observed yet: full headroom, drawn/.test(c.reason)));
  });

  test("the first pick follows headroom: 0.75 against 1", () => {
    let large = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if (plan({ call: call("mixed", `r${i}`), registry, health, rand: seededRandom(`s${i}`) }).candidates[0].deployment.id === "large") large++;
    assert.ok(Math.abs(large / n - 0.75 / 1.75) < 0.03, `large first in ${large} of ${n}`);
  });

  describe("through a gateway", () => {
    let g: TestGateway;
    before(async () => {
      g = await startTestGateway(YAML);
    });
    after(() => g.close());

    test("40 requests over limits of 10 and 40 a minute: shared in proportion, none refused; the reason in Route", async () => {
      const c = createSignalboxClient({ baseUrl: g.url });
      const served: string[] = [];
      for (let i = 0; i < 40; i++) {
        const a = await c.chat.complete({ model: "spread", messages: [userText(`question ${i}`)] });
        served.push(a.deployment);
      }
      const small = served.filter((d) => d === "small").length;
      const large = served.filter((d) => d === "large").length;
      assert.equal(small + large, 40);
      // Priority would give small its 10 first; headroom spreads from the start.
      assert.ok(served.slice(0, 20).filter((d) => d === "large").length >= 5, served.join(" "));
      assert.ok(small >= 3 && small <= 10, `small ${small}, large ${large}`);
      // No request went to a deployment at its limit: nothing was skipped as rate limited.
      const skipped = g.usage.recent().filter((r) => r.attempts.length !== 1 || r.status !== "ok");
      assert.equal(skipped.length, 0);
      const route = await c.route.route({ model: "spread", messages: [userText("and now?")] });
      const reasons = route.candidates.map((x) => x.reason).join(" | ");
      assert.match(reasons, /\d+% of its rate limit in use \(observed \d+\.\d s ago\), headroom \d\.\d\d/);
    });
  });
});
