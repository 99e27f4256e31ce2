// The planner's own cost per request, per strategy: plan() in a loop, in process. Run by
// `npm run bench` (and alone: node bench/planner.ts).

import { parse } from "yaml";
import { buildConfig } from "../src/config/load.ts";
import { plan, seededRandom } from "../src/router/plan.ts";
import { createModelRegistry } from "../src/router/registry.ts";
import type { ChatCall } from "../src/router/types.ts";
import { createMemoryHealthStore } from "../src/state/health.ts";

const targets = "[d/a, d/b, d/c, d/d]";
const config = buildConfig(
  parse(`
providers: [{ name: m, type: mock }]
deployments:
  - { id: d/a, provider: m, model: a, pricing: { input: 0.1, output: 0.4 }, quality: 0.4, strengths: [simple] }
  - { id: d/b, provider: m, model: b, pricing: { input: 1, output: 4 }, quality: 0.7, strengths: [creative] }
  - { id: d/c, provider: m, model: c, pricing: { input: 3, output: 15 }, quality: 0.9, strengths: [coding, reasoning] }
  - { id: d/d, provider: m, model: d, pricing: { input: 0.5, output: 1 }, quality: 0.5 }
routes:
  - { name: priority, targets: ${targets} }
  - { name: weighted, strategy: weighted, targets: [{ deployment: d/a, weight: 4 }, { deployment: d/b, weight: 3 }, { deployment: d/c, weight: 2 }, { deployment: d/d, weight: 1 }] }
  - { name: latency, strategy: latency, targets: ${targets} }
  - { name: cost, strategy: cost, targets: ${targets} }
  - { name: least-busy, strategy: least-busy, targets: ${targets} }
  - { name: complexity, strategy: complexity, targets: ${targets} }
  - { name: hybrid, strategy: hybrid, targets: ${targets} }
  - { name: ab, variants: [{ name: x, weight: 1, targets: [d/a, d/b] }, { name: y, weight: 1, targets: [d/c, d/d] }] }
`),
  {},
);
const registry = createModelRegistry(config);
const health = createMemoryHealthStore();
for (const d of ["d/a", "d/b", "d/c", "d/d"]) {
  health.begin(d);
  health.end(d, { ok: true, ttftMs: 100 + d.charCodeAt(2), latencyMs: 400 });
}
const text = "Summarise the trade-offs between optimistic and pessimistic locking for a booking system, with an example. ".repeat(8);

export function plannerCosts(iterations = 20_000): { strategy: string; usPerPlan: number }[] {
  const out: { strategy: string; usPerPlan: number }[] = [];
  for (const r of config.routes) {
    const call: ChatCall = {
      id: "req_bench",
      model: r.name,
      request: { messages: [{ role: "user", content: [{ type: "text", text }] }], maxOutputTokens: 512 },
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false, stickyKey: "user-1" },
      tags: [],
      metadata: {},
      caller: { keyName: "anonymous", team: "default", role: "anonymous", allow: [] },
      stream: false,
    };
    for (let i = 0; i < 2000; i++) plan({ call, registry, health: health.snapshot(), rand: seededRandom(`u${i}`) });
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) plan({ call, registry, health: health.snapshot(), rand: seededRandom(`u${i}`) });
    out.push({ strategy: r.name, usPerPlan: ((performance.now() - t0) * 1000) / iterations });
  }
  return out;
}

if (import.meta.main) {
  console.table(plannerCosts().map((r) => ({ strategy: r.strategy, "µs per plan": r.usPerPlan.toFixed(2) })));
}
