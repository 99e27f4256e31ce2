// The price model through the whole gateway, against the fakes: what the caller sees (Cost), what
// the usage record keeps (the bill, and the computed figure beside a provider-reported one), and the
// disagreement metric. Hand-computed figures in nano-USD: tokens × USD per million × 1000.

import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { startFakeAnthropic, ANTHROPIC_TEST_KEY, type FakeAnthropic } from "../fakes/anthropic.ts";
import { startFakeOpenRouter, OPENROUTER_TEST_KEY, type FakeOpenRouter } from "../fakes/openrouter.ts";
import { clientFor, collect, gatewayPool, lastRecord, user } from "./anthropic-gemini-harness.ts";
import type { TestGateway } from "../helpers/gateway.ts";

let anthropic: FakeAnthropic;
let openrouter: FakeOpenRouter;

const config = () => `
providers:
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: openrouter, type: openrouter, base_url: "${openrouter.url}", api_key: ${OPENROUTER_TEST_KEY} }
deployments:
  # Built-in prices: $3 in, $0.30 cache read, $3.75 5-minute write, $6 1-hour write, $15 out; above 200k
  # input tokens $6, $0.60, $7.50, $12, $22.50.
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929 }
  - { id: or/sonnet, provider: openrouter, model: anthropic/claude-sonnet-4.5, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
  # Built-in gemini-2.5-flash prices: $0.30 in, $0.03 cached, writes at the input price, $2.50 out.
  - { id: or/flash, provider: openrouter, model: google/gemini-2.5-flash }
routes:
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: or-sonnet, targets: [or/sonnet], retry: { max_retries: 0 } }
  - { name: or-flash, targets: [or/flash], retry: { max_retries: 0 } }
`;

const gws = gatewayPool(config);
before(async () => {
  anthropic = await startFakeAnthropic();
  openrouter = await startFakeOpenRouter();
});
beforeEach(() => {
  anthropic.reset();
  openrouter.reset();
});
afterEach(() => gws.closeAll());
after(async () => {
  await anthropic.close();
  await openrouter.close();
});

/** The disagreement counter's value for a deployment (0 when absent). */
async function disagreements(t: TestGateway, deployment: string): Promise<number> {
  const text = await t.gw.core.metrics.scrape();
  const line = text.split("\n").find((l) => l.startsWith("signalbox_cost_disagreements_total{") && l.includes(`deployment="${deployment}"`));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

describe("OpenRouter: the provider-reported cost is the bill", () => {
  test("unary: usage.cost becomes the total; the record keeps the computed figure beside it; the disagreement is counted", async () => {
    const t = await gws.start();
    openrouter.script({ kind: "text", text: "42", usage: { input: 1_000, cached: 300, cacheWrite: 200, output: 400, reasoning: 100 }, cost: 0.0085 });
    const res = await clientFor(t).chat.complete({ model: "or-sonnet", messages: [user("meaning?")] });

    // Reported: $0.0085 → 8,500,000. Computed: 500 × 3 × 1000 = 1,500,000; 300 × 0.3 × 1000 = 90,000;
    // 200 × 3.75 × 1000 = 750,000; 300 × 15 × 1000 = 4,500,000; 100 reasoning × 15 × 1000 = 1,500,000 → 8,340,000.
    assert.equal(res.cost?.totalNanoUsd, 8_500_000n);
    assert.equal(res.cost?.providerReportedNanoUsd, 8_500_000n);
    assert.deepEqual(
      [res.cost?.inputNanoUsd, res.cost?.cachedInputNanoUsd, res.cost?.cacheWriteNanoUsd, res.cost?.outputNanoUsd, res.cost?.reasoningNanoUsd],
      [1_500_000n, 90_000n, 750_000n, 4_500_000n, 1_500_000n],
    );
    assert.equal(res.attempts[0].cost?.totalNanoUsd, 8_500_000n);

    const rec = await lastRecord(t, "or-sonnet");
    assert.deepEqual([rec.cost.total, rec.cost.computed, rec.cost.providerReported], [8_500_000, 8_340_000, 8_500_000]);
    assert.deepEqual([rec.attempts[0].cost.total, rec.attempts[0].cost.computed, rec.attempts[0].cost.providerReported], [8_500_000, 8_340_000, 8_500_000]);
    // 160,000 apart is 1.9% of the computed figure: more than 1%.
    assert.equal(await disagreements(t, "or/sonnet"), 1);
  });

  test("stream: the fake's own per-model price (cache writes with storage) is the bill; computed writes cost the input price", async () => {
    const t = await gws.start();
    openrouter.script({ kind: "text", text: "cached answer", usage: { input: 10_000, cached: 2_000, cacheWrite: 4_000, output: 500, reasoning: 200 } });
    const s = await collect(clientFor(t).chat.stream({ model: "or-flash", messages: [user("again")] }));
    assert.equal(s.error, undefined);

    // OpenRouter's google/gemini-2.5-flash row (test/fakes/openrouter.ts): $0.30 in, $0.03 read, $0.3833 write, $2.50 out:
    // 4,000 × 0.3 + 2,000 × 0.03 + 4,000 × 0.3833 = 2,793.2 µ$; 500 × 2.5 = 1,250 µ$ → $0.0040432 = 4,043,200 nano-USD.
    // Computed from the catalog: 4,000 × 0.3 × 1000 = 1,200,000; 2,000 × 0.03 × 1000 = 60,000; writes at the input price
    // 4,000 × 0.3 × 1000 = 1,200,000 (no longer free); 300 × 2.5 × 1000 = 750,000; 200 thoughts × 2.5 × 1000 = 500,000 → 3,710,000.
    assert.equal(s.finish?.cost?.totalNanoUsd, 4_043_200n);
    assert.equal(s.finish?.cost?.providerReportedNanoUsd, 4_043_200n);
    assert.equal(s.finish?.cost?.cacheWriteNanoUsd, 1_200_000n);
    const rec = await lastRecord(t, "or-flash");
    assert.deepEqual([rec.cost.total, rec.cost.computed, rec.cost.providerReported], [4_043_200, 3_710_000, 4_043_200]);
    assert.equal(await disagreements(t, "or/flash"), 1);
  });

  test("a reported cost within 1% of the computed one is not a disagreement", async () => {
    const t = await gws.start();
    // Computed: 100 × 3 × 1000 + 20 × 15 × 1000 = 600,000; reported $0.000603 = 603,000 (0.5% more).
    openrouter.script({ kind: "text", text: "ok", usage: { input: 100, output: 20 }, cost: 0.000603 });
    const res = await clientFor(t).chat.complete({ model: "or-sonnet", messages: [user("hi")] });
    assert.equal(res.cost?.totalNanoUsd, 603_000n);
    await lastRecord(t, "or-sonnet");
    assert.equal(await disagreements(t, "or/sonnet"), 0);
  });
});

describe("Anthropic: 1-hour cache writes and the 1M-context tier", () => {
  test("unary: 5-minute and 1-hour writes at their own prices", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "text", text: "cached", usage: { input: 10_000, cached: 2_000, cacheWrite: 6_000, cacheWrite1h: 4_000, output: 300 } });
    const res = await clientFor(t).chat.complete({ model: "claude", messages: [user("long prompt")] });

    assert.equal(res.usage?.cacheWriteTokens, 6_000n);
    assert.equal(res.usage?.cacheWrite1hTokens, 4_000n);
    // input_tokens 2,000 × 3 × 1000 = 6,000,000; reads 2,000 × 0.3 × 1000 = 600,000; 5-minute writes 2,000 × 3.75 × 1000 = 7,500,000;
    // 1-hour writes 4,000 × 6 × 1000 = 24,000,000; output 300 × 15 × 1000 = 4,500,000 → 42,600,000
    assert.deepEqual(
      [res.cost?.totalNanoUsd, res.cost?.inputNanoUsd, res.cost?.cachedInputNanoUsd, res.cost?.cacheWriteNanoUsd, res.cost?.outputNanoUsd, res.cost?.providerReportedNanoUsd],
      [42_600_000n, 6_000_000n, 600_000n, 31_500_000n, 4_500_000n, undefined],
    );
    const rec = await lastRecord(t, "claude");
    assert.equal(rec.cost.total, 42_600_000);
    assert.equal(rec.usage.cacheWrite1hTokens, 4_000);
    assert.equal(rec.cost.providerReported, undefined);
  });

  test("stream: the 1-hour split from message_start is kept; above 200k input tokens every price is the long-context one", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "text", text: "a long read", usage: { input: 240_000, cached: 80_000, cacheWrite: 10_000, cacheWrite1h: 4_000, output: 4_000 } });
    const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("the whole book")] }));
    assert.equal(s.error, undefined);

    // Prompt 240,000 > 200,000: input_tokens 150,000 × 6 × 1000 = 900,000,000; reads 80,000 × 0.6 × 1000 = 48,000,000;
    // 5-minute writes 6,000 × 7.5 × 1000 = 45,000,000; 1-hour writes 4,000 × 12 × 1000 = 48,000,000;
    // output 4,000 × 22.5 × 1000 = 90,000,000 → 1,131,000,000
    assert.equal(s.finish?.usage?.cacheWrite1hTokens, 4_000n);
    assert.equal(s.finish?.cost?.totalNanoUsd, 1_131_000_000n);
    assert.equal(s.finish?.cost?.cacheWriteNanoUsd, 93_000_000n);
    const rec = await lastRecord(t, "claude");
    assert.equal(rec.cost.total, 1_131_000_000);
  });
});
