// The planner's own cost per request, per strategy: plan() in a loop, in process. Run by
// `npm run bench` (and alone: node bench/planner.ts).

import { parse } from "yaml";
import { buildConfig } from "../src/config/load.ts";
import { plan, seededRandom } from "../src/router/plan.ts";
import { createModelRegistry } from "../src/router/registry.ts";
import type { ChatCall } from "../src/router/types.ts";
import { createMemoryHealthStore } from "../src/state/health.ts";
import { countTextTokens, estimatePromptTokens, type TokenFamily } from "../src/providers/tokens.ts";
import type { UpstreamRequest } from "../src/providers/types.ts";

const targets = "[d/a, d/b, d/c, d/d]";
const config = buildConfig(
  parse(`
providers: [{ name: m, type: mock }]
deployments:
  - { id: d/a, provider: m, model: a, pricing: { input: 0.1, output: 0.4 }, quality: 0.4, strengths: [simple] }
  - { id: d/b, provider: m, model: b, pricing: { input: 1, output: 4 }, quality: 0.7, strengths: [creative] }
  - { id: d/c, provider: m, model: c, pricing: { input: 3, output: 15 }, quality: 0.9, strengths: [coding, reasoning] }
  - { id: d/d, provider: m, model: d, pricing: { input: 0.5, output: 1 }, quality: 0.5, limits: { requests_per_minute: 600 } }
routes:
  - { name: priority, targets: ${targets} }
  - { name: weighted, strategy: weighted, targets: [{ deployment: d/a, weight: 4 }, { deployment: d/b, weight: 3 }, { deployment: d/c, weight: 2 }, { deployment: d/d, weight: 1 }] }
  - { name: latency, strategy: latency, targets: ${targets} }
  - { name: cost, strategy: cost, targets: ${targets} }
  - { name: least-busy, strategy: least-busy, targets: ${targets} }
  - { name: usage, strategy: usage, targets: ${targets} }
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
  health.observeUsage?.(d, 0.25);
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

/**
 * Counting a prompt's tokens (src/providers/tokens.ts), µs per request: a short prompt and one of
 * about 8k tokens, English and Chinese, first seen (each run a new text: the tokenizer's full
 * cost) and seen again (a system prompt or history that comes back: the per-text cache), for the
 * exact OpenAI count and an estimated family.
 */
export function tokenCountCosts(): { prompt: string; family: TokenFamily; tokens: number; usPerCount: number }[] {
  const para = "The committee met on Tuesday to review the proposal for the new library wing; several members raised concerns about the budget. ";
  const zhPara = "委员会周二开会审议了新图书馆侧楼的方案。几位委员对预算表示担忧，指出过去两年建筑成本大幅上涨。";
  const make = (unit: string, tokens: number, salt: number) => {
    let s = `${salt} `;
    while (countTextTokens(s, "o200k") < tokens) s += `${unit}${salt % 997} `;
    return s;
  };
  const req = (text: string): Pick<UpstreamRequest, "messages"> => ({ messages: [{ role: "user", content: [{ type: "text", text }] }] });
  const out: { prompt: string; family: TokenFamily; tokens: number; usPerCount: number }[] = [];
  const cases: [string, string, number, number][] = [
    ["short (one sentence)", "Summarise this paragraph in two sentences, please.", 1, 20_000],
    ["8k English, first seen", para, 8000, 100],
    ["8k Chinese, first seen", zhPara, 8000, 100],
    ["8k English, seen again", para, 8000, 500],
  ];
  for (const family of ["o200k", "anthropic"] as const) {
    for (const [name, unit, size, n] of cases) {
      const again = name.endsWith("again");
      // First seen: n texts for the timed loop and 20 others to warm up on (none cached before).
      // Seen again: the same text, but a new string each time (as parsed from each request), so
      // the cache lookup pays for hashing it.
      let texts: string[];
      if (size === 1) texts = [unit];
      else if (again) {
        const t = make(unit, size, 0);
        texts = Array.from({ length: n + 20 }, () => Buffer.from(t).toString());
      } else texts = Array.from({ length: n + 20 }, (_, i) => make(unit, size, i + 1));
      for (let i = 0; i < 50; i++) estimatePromptTokens(req(texts[size === 1 ? 0 : n + (i % 20)]), family);
      const t0 = performance.now();
      let tokens = 0;
      for (let i = 0; i < n; i++) tokens = estimatePromptTokens(req(texts[i % texts.length]), family);
      out.push({ prompt: name, family, tokens, usPerCount: ((performance.now() - t0) * 1000) / n });
    }
  }
  return out;
}

if (import.meta.main) {
  console.table(plannerCosts().map((r) => ({ strategy: r.strategy, "µs per plan": r.usPerPlan.toFixed(2) })));
  console.table(tokenCountCosts().map((r) => ({ prompt: r.prompt, family: r.family, tokens: r.tokens, "µs per request": r.usPerCount.toFixed(1) })));
}
