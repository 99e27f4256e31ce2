// The price model, table-driven: for each provider and usage shape, the wire usage goes through the
// provider's own usage parser, the deployment's prices come from the config as start-up builds them
// (catalog, overrides, tiers), and the recorded cost must equal a figure computed by hand, in
// nano-USD. Arithmetic: tokens × USD per million tokens × 1000 = nano-USD.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import type { Usage } from "../../src/providers/types.ts";
import { convertAnthropicUsage } from "../../src/providers/anthropic/convert-anthropic-usage.ts";
import { convertGeminiUsage } from "../../src/providers/gemini/gemini-response.ts";
import { convertOpenAIUsage } from "../../src/providers/openai/openai-stream.ts";
import { setLogSink } from "../../src/telemetry/log.ts";
import { computeCost, computedTotal, costsDisagree } from "../../src/usage/cost.ts";

const CONFIG = `
providers:
  - { name: openai, type: openai, api_key: k }
  - { name: anthropic, type: anthropic, api_key: k }
  - { name: gemini, type: gemini, api_key: k }
  - { name: azure, type: azure, api_key: k, base_url: "https://example.openai.azure.com", api_version: "2024-10-21" }
  - { name: openrouter, type: openrouter, api_key: k }
  - { name: selfhosted, type: openai-compatible, base_url: "http://127.0.0.1:1/v1" }
  - { name: mock, type: mock }
deployments:
  # Built-in prices (src/config/catalog.ts), exact names and dated snapshots.
  - { id: openai/gpt-5.2, provider: openai, model: gpt-5.2-2025-12-11 }
  - { id: openai/gpt-4.1, provider: openai, model: gpt-4.1 }
  - { id: openai/gpt-5-pro, provider: openai, model: gpt-5-pro }
  - { id: openai/gpt-5.5, provider: openai, model: gpt-5.5 }
  - { id: claude/sonnet-4-5, provider: anthropic, model: claude-sonnet-4-5-20250929 }
  - { id: claude/opus-5-5, provider: anthropic, model: claude-opus-5-5 }
  - { id: gemini/flash, provider: gemini, model: gemini-2.5-flash }
  - { id: gemini/pro, provider: gemini, model: gemini-2.5-pro }
  # Azure: a freely named deployment priced as its base_model; and one priced in the config.
  - { id: azure/4o, provider: azure, model: prod-4o, base_model: gpt-4o-2024-11-20 }
  - { id: azure/4o-priced, provider: azure, model: prod-4o-eu, pricing: { input: 2.75, cached_input: 1.375, output: 11 } }
  # Overrides of catalog models: with cache rates, and with input/output only (catalog ratios kept).
  - { id: override/gpt-5-cache, provider: openai, model: gpt-5, pricing: { input: 1, cached_input: 0.2, output: 8 } }
  - { id: override/gpt-5.2, provider: openai, model: gpt-5.2, pricing: { input: 1.5, output: 12 } }
  - { id: override/haiku, provider: anthropic, model: claude-haiku-4-5, pricing: { input: 0.8, output: 4 } }
  - { id: override/gemini-pro, provider: gemini, model: gemini-2.5-pro, pricing: { input: 1, output: 8 } }
  # Models the catalog does not know: the rates left out fall back to the input price.
  - { id: house/seven, provider: selfhosted, model: house-model-7, pricing: { input: 2, output: 6 } }
  - { id: house/seven-cached, provider: selfhosted, model: house-model-7b, pricing: { input: 2, cached_input: 0.5, output: 6 } }
  - { id: house/search, provider: selfhosted, model: search-1, pricing: { input: 1, output: 2, per_request: 0.005 } }
  - id: house/long
    provider: selfhosted
    model: long-1
    pricing: { input: 1, cached_input: 0.1, cache_write: 1.25, output: 4, tiers: [{ above_input_tokens: 100000, input: 2, output: 6 }] }
  # OpenRouter reports its own bill (usage.cost).
  - { id: openrouter/sonnet, provider: openrouter, model: anthropic/claude-sonnet-4.5, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
  - { id: mock/free, provider: mock, model: mock-a }
`;

const warnings: string[] = [];
setLogSink((line) => {
  const l = JSON.parse(line);
  if (l.level === "warn") warnings.push(l.msg);
});
const config = buildConfig(parse(CONFIG), {});
setLogSink((line) => process.stdout.write(line));
const pricing = (id: string) => {
  const d = config.deployments.find((x) => x.id === id);
  assert.ok(d, id);
  return d.pricing;
};

const openai = (u: object): Usage => convertOpenAIUsage(u, false)!;
const openrouter = (u: object): Usage => convertOpenAIUsage(u, true)!;
const anthropic = (u: object): Usage => convertAnthropicUsage(u);
const gemini = (u: object): Usage => convertGeminiUsage(u);

interface Row {
  name: string;
  deployment: string;
  usage: Usage;
  /** The recorded cost (the bill), nano-USD, computed by hand. */
  total: number;
  /** The price model's own figure when it differs from the bill (provider-reported cost). */
  computed?: number;
}

const ROWS: Row[] = [
  {
    name: "OpenAI gpt-5.2 snapshot: cached and reasoning tokens",
    deployment: "openai/gpt-5.2",
    usage: openai({ prompt_tokens: 50_000, completion_tokens: 2_000, prompt_tokens_details: { cached_tokens: 45_000 }, completion_tokens_details: { reasoning_tokens: 1_500 } }),
    // $1.75 in, $0.175 cached, $14 out: 5,000 × 1.75 × 1000 = 8,750,000; 45,000 × 0.175 × 1000 = 7,875,000;
    // 500 × 14 × 1000 = 7,000,000; 1,500 reasoning × 14 × 1000 = 21,000,000 → 44,625,000
    total: 44_625_000,
  },
  {
    name: "OpenAI gpt-4.1: cache_write_tokens cost the input price (no surcharge, not free)",
    deployment: "openai/gpt-4.1",
    usage: openai({ prompt_tokens: 10_000, completion_tokens: 1_000, prompt_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 3_000 } }),
    // $2 in, $0.50 cached, $8 out: 5,000 × 2 × 1000 = 10,000,000; 2,000 × 0.5 × 1000 = 1,000,000;
    // 3,000 written × 2 × 1000 = 6,000,000; 1,000 × 8 × 1000 = 8,000,000 → 25,000,000
    total: 25_000_000,
  },
  {
    name: "OpenAI gpt-5-pro: its own price, not gpt-5's (no cache discount)",
    deployment: "openai/gpt-5-pro",
    usage: openai({ prompt_tokens: 1_000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 400 }, completion_tokens_details: { reasoning_tokens: 300 } }),
    // $15 in (cached too), $120 out: 600 × 15 × 1000 = 9,000,000; 400 × 15 × 1000 = 6,000,000;
    // 200 × 120 × 1000 = 24,000,000; 300 × 120 × 1000 = 36,000,000 → 75,000,000
    total: 75_000_000,
  },
  {
    name: "OpenAI gpt-5.5 above 272k prompt tokens: the whole request at the long-context prices",
    deployment: "openai/gpt-5.5",
    usage: openai({ prompt_tokens: 300_000, completion_tokens: 2_000, prompt_tokens_details: { cached_tokens: 100_000 }, completion_tokens_details: { reasoning_tokens: 500 } }),
    // 300,000 > 272,000: $10 in: 200,000 × 10 × 1000 = 2,000,000,000; $1 cached: 100,000 × 1 × 1000 = 100,000,000;
    // $45 out (reasoning included): 2,000 × 45 × 1000 = 90,000,000 → 2,190,000,000
    total: 2_190_000_000,
  },
  {
    name: "Anthropic Sonnet 4.5: cache read, 5-minute and 1-hour writes",
    deployment: "claude/sonnet-4-5",
    usage: anthropic({
      input_tokens: 1_000,
      cache_read_input_tokens: 20_000,
      cache_creation_input_tokens: 6_000,
      cache_creation: { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 4_000 },
      output_tokens: 500,
    }),
    // Prompt 27,000 (≤ 200k). $3 in: 1,000 × 3 × 1000 = 3,000,000; $0.30 read: 20,000 × 0.3 × 1000 = 6,000,000;
    // $3.75 5m write: 2,000 × 3.75 × 1000 = 7,500,000; $6 1h write: 4,000 × 6 × 1000 = 24,000,000;
    // $15 out: 500 × 15 × 1000 = 7,500,000 → 48,000,000
    total: 48_000_000,
  },
  {
    name: "Anthropic Sonnet 4.5 1M-context tier: above 200k input tokens every price is the long-context one",
    deployment: "claude/sonnet-4-5",
    usage: anthropic({
      input_tokens: 150_000,
      cache_read_input_tokens: 80_000,
      cache_creation_input_tokens: 10_000,
      cache_creation: { ephemeral_5m_input_tokens: 6_000, ephemeral_1h_input_tokens: 4_000 },
      output_tokens: 4_000,
    }),
    // Prompt 240,000 > 200,000: $6 in: 150,000 × 6 × 1000 = 900,000,000; $0.60 read: 80,000 × 0.6 × 1000 = 48,000,000;
    // $7.50 5m write: 6,000 × 7.5 × 1000 = 45,000,000; $12 1h write: 4,000 × 12 × 1000 = 48,000,000;
    // $22.50 out: 4,000 × 22.5 × 1000 = 90,000,000 → 1,131,000,000
    total: 1_131_000_000,
  },
  {
    name: "Anthropic Opus 5.5: its own cache-read ratio (0.05× input), one price across its 1M window",
    deployment: "claude/opus-5-5",
    usage: anthropic({
      input_tokens: 200_000,
      cache_read_input_tokens: 100_000,
      cache_creation_input_tokens: 3_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 1_000,
    }),
    // $4 in: 200,000 × 4 × 1000 = 800,000,000; $0.20 read: 100,000 × 0.2 × 1000 = 20,000,000;
    // $5 5m write: 1,000 × 5 × 1000 = 5,000,000; $8 1h write: 2,000 × 8 × 1000 = 16,000,000;
    // $20 out: 1,000 × 20 × 1000 = 20,000,000 → 861,000,000 (303k prompt tokens, no tier)
    total: 861_000_000,
  },
  {
    name: "Gemini 2.5 Flash: thoughts and cached content",
    deployment: "gemini/flash",
    usage: gemini({ promptTokenCount: 10_000, cachedContentTokenCount: 4_000, candidatesTokenCount: 800, thoughtsTokenCount: 1_200, totalTokenCount: 12_000 }),
    // $0.30 in: 6,000 × 0.3 × 1000 = 1,800,000; $0.03 cached: 4,000 × 0.03 × 1000 = 120,000;
    // $2.50 out: 800 × 2.5 × 1000 = 2,000,000; thoughts at the output price: 1,200 × 2.5 × 1000 = 3,000,000 → 6,920,000
    total: 6_920_000,
  },
  {
    name: "Gemini 2.5 Pro at exactly 200k prompt tokens: still the base prices",
    deployment: "gemini/pro",
    usage: gemini({ promptTokenCount: 200_000, candidatesTokenCount: 1_000, totalTokenCount: 201_000 }),
    // $1.25 in: 200,000 × 1.25 × 1000 = 250,000,000; $10 out: 1,000 × 10 × 1000 = 10,000,000 → 260,000,000
    total: 260_000_000,
  },
  {
    name: "Gemini 2.5 Pro above 200k prompt tokens: the long-context tier",
    deployment: "gemini/pro",
    usage: gemini({ promptTokenCount: 250_000, cachedContentTokenCount: 50_000, candidatesTokenCount: 2_000, thoughtsTokenCount: 3_000, totalTokenCount: 255_000 }),
    // $2.50 in: 200,000 × 2.5 × 1000 = 500,000,000; $0.25 cached: 50,000 × 0.25 × 1000 = 12,500,000;
    // $15 out: 2,000 × 15 × 1000 = 30,000,000; thoughts 3,000 × 15 × 1000 = 45,000,000 → 587,500,000
    total: 587_500_000,
  },
  {
    name: "Azure deployment priced as its base_model (gpt-4o-2024-11-20)",
    deployment: "azure/4o",
    usage: openai({ prompt_tokens: 3_000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 1_024 } }),
    // $2.50 in: 1,976 × 2.5 × 1000 = 4,940,000; $1.25 cached: 1,024 × 1.25 × 1000 = 1,280,000; $10 out: 200 × 10 × 1000 = 2,000,000 → 8,220,000
    total: 8_220_000,
  },
  {
    name: "Azure deployment priced in the config (regional prices)",
    deployment: "azure/4o-priced",
    usage: openai({ prompt_tokens: 3_000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 1_024 }, completion_tokens_details: { reasoning_tokens: 0 } }),
    // $2.75 in: 1,976 × 2.75 × 1000 = 5,434,000; $1.375 cached: 1,024 × 1.375 × 1000 = 1,408,000; $11 out: 200 × 11 × 1000 = 2,200,000 → 9,042,000
    total: 9_042_000,
  },
  {
    name: "override with cache rates: the configured cached price",
    deployment: "override/gpt-5-cache",
    usage: openai({ prompt_tokens: 10_000, completion_tokens: 1_000, prompt_tokens_details: { cached_tokens: 5_000 } }),
    // $1 in: 5,000 × 1 × 1000 = 5,000,000; $0.20 cached: 5,000 × 0.2 × 1000 = 1,000,000; $8 out: 1,000 × 8 × 1000 = 8,000,000 → 14,000,000
    total: 14_000_000,
  },
  {
    name: "override without cache rates keeps the catalog's cached/input ratio (gpt-5.2: 0.1)",
    deployment: "override/gpt-5.2",
    usage: openai({ prompt_tokens: 50_000, completion_tokens: 1_000, prompt_tokens_details: { cached_tokens: 45_000 } }),
    // $1.50 in: 5,000 × 1.5 × 1000 = 7,500,000; cached 1.5 × 0.175/1.75 = $0.15: 45,000 × 0.15 × 1000 = 6,750,000;
    // $12 out: 1,000 × 12 × 1000 = 12,000,000 → 26,250,000 (cached at the input price it would be 87,000,000: +231%)
    total: 26_250_000,
  },
  {
    name: "Anthropic override without cache rates keeps reads 0.1×, 5-minute writes 1.25×, 1-hour writes 2×",
    deployment: "override/haiku",
    usage: anthropic({
      input_tokens: 1_000,
      cache_read_input_tokens: 10_000,
      cache_creation_input_tokens: 5_000,
      cache_creation: { ephemeral_5m_input_tokens: 3_000, ephemeral_1h_input_tokens: 2_000 },
      output_tokens: 500,
    }),
    // $0.80 in: 1,000 × 0.8 × 1000 = 800,000; $0.08 read: 10,000 × 0.08 × 1000 = 800,000; $1.00 5m write: 3,000 × 1 × 1000 = 3,000,000;
    // $1.60 1h write: 2,000 × 1.6 × 1000 = 3,200,000; $4 out: 500 × 4 × 1000 = 2,000,000 → 9,800,000
    total: 9_800_000,
  },
  {
    name: "override of a tiered model scales its long-context tier (gemini-2.5-pro: input 2×, output 1.5×)",
    deployment: "override/gemini-pro",
    usage: gemini({ promptTokenCount: 300_000, cachedContentTokenCount: 100_000, candidatesTokenCount: 1_000, totalTokenCount: 301_000 }),
    // Tier: $2 in, $0.20 cached, $12 out. 200,000 × 2 × 1000 = 400,000,000; 100,000 × 0.2 × 1000 = 20,000,000;
    // 1,000 × 12 × 1000 = 12,000,000 → 432,000,000
    total: 432_000_000,
  },
  {
    name: "unknown model priced with input/output only: reads and writes at the input price",
    deployment: "house/seven",
    usage: openai({ prompt_tokens: 10_000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 4_000, cache_write_tokens: 1_000 } }),
    // $2 in: 5,000 × 2 × 1000 = 10,000,000; cached at $2: 4,000 × 2 × 1000 = 8,000,000; writes at $2: 1,000 × 2 × 1000 = 2,000,000;
    // $6 out: 500 × 6 × 1000 = 3,000,000 → 23,000,000
    total: 23_000_000,
  },
  {
    name: "unknown model with a cached price: writes alone fall back to the input price",
    deployment: "house/seven-cached",
    usage: openai({ prompt_tokens: 10_000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 4_000, cache_write_tokens: 1_000 } }),
    // 5,000 × 2 × 1000 = 10,000,000; 4,000 × 0.5 × 1000 = 2,000,000; 1,000 × 2 × 1000 = 2,000,000; 500 × 6 × 1000 = 3,000,000 → 17,000,000
    total: 17_000_000,
  },
  {
    name: "per-request fee",
    deployment: "house/search",
    usage: openai({ prompt_tokens: 1_000, completion_tokens: 100 }),
    // 1,000 × 1 × 1000 = 1,000,000; 100 × 2 × 1000 = 200,000; $0.005 per request = 5,000,000 → 6,200,000
    total: 6_200_000,
  },
  {
    name: "a tier set in the config: rates it leaves out keep the base set's ratio to input",
    deployment: "house/long",
    usage: openai({ prompt_tokens: 120_000, completion_tokens: 1_000, prompt_tokens_details: { cached_tokens: 20_000, cache_write_tokens: 10_000 } }),
    // Above 100k: $2 in, cached 2 × 0.1 = $0.20, writes 2 × 1.25 = $2.50, $6 out.
    // 90,000 × 2 × 1000 = 180,000,000; 20,000 × 0.2 × 1000 = 4,000,000; 10,000 × 2.5 × 1000 = 25,000,000; 1,000 × 6 × 1000 = 6,000,000 → 215,000,000
    total: 215_000_000,
  },
  {
    name: "OpenRouter: the provider-reported cost is the bill; the computed figure is kept beside it",
    deployment: "openrouter/sonnet",
    usage: openrouter({
      prompt_tokens: 1_000,
      completion_tokens: 400,
      prompt_tokens_details: { cached_tokens: 300, cache_write_tokens: 200 },
      completion_tokens_details: { reasoning_tokens: 100 },
      cost: 0.0085,
    }),
    // Reported $0.0085 = 8,500,000 nano-USD (Math.round(0.0085 × 1e9)).
    // Computed: 500 × 3 × 1000 = 1,500,000; 300 × 0.3 × 1000 = 90,000; 200 × 3.75 × 1000 = 750,000;
    // 300 × 15 × 1000 = 4,500,000; 100 reasoning × 15 × 1000 = 1,500,000 → 8,340,000
    total: 8_500_000,
    computed: 8_340_000,
  },
  {
    name: "OpenRouter: a float cost converts exactly",
    deployment: "openrouter/sonnet",
    usage: openrouter({ prompt_tokens: 100, completion_tokens: 20, cost: 0.00123 }),
    // Reported $0.00123 = 1,230,000. Computed: 100 × 3 × 1000 = 300,000; 20 × 15 × 1000 = 300,000 → 600,000
    total: 1_230_000,
    computed: 600_000,
  },
  {
    name: "OpenRouter BYOK: its fee plus what the provider bills the caller's own key",
    deployment: "openrouter/sonnet",
    usage: openrouter({ prompt_tokens: 100, completion_tokens: 20, cost: 0.00003, is_byok: true, cost_details: { upstream_inference_cost: 0.0006 } }),
    // Reported $0.00003 fee + $0.0006 upstream = $0.00063 = 630,000. Computed: 300,000 + 300,000 → 600,000
    total: 630_000,
    computed: 600_000,
  },
  {
    name: "mock deployment: free",
    deployment: "mock/free",
    usage: openai({ prompt_tokens: 1_000, completion_tokens: 100 }),
    total: 0,
  },
];

describe("cost table", () => {
  for (const r of ROWS) {
    test(r.name, () => {
      const c = computeCost(r.usage, pricing(r.deployment));
      assert.equal(c.total, r.total, "the recorded cost");
      assert.equal(computedTotal(c), r.computed ?? r.total, "the computed cost");
      // The components always add up to the computed figure.
      assert.equal(c.input + c.cachedInput + c.cacheWrite + c.output + c.reasoning + (c.request ?? 0), computedTotal(c));
      if (r.computed !== undefined) assert.equal(c.providerReported, r.total);
      else assert.equal(c.providerReported, undefined);
    });
  }
});

test("start-up warns which rates of a model the catalog does not know fell back to the input price", () => {
  assert.deepEqual(
    warnings.filter((w) => w.includes("input price")),
    [
      'deployment "azure/4o-priced": model "prod-4o-eu" is not in the built-in price table; cache_write, cache_write_1h billed at the input price (set them in deployments[9].pricing)',
      'deployment "house/seven": model "house-model-7" is not in the built-in price table; cached_input, cache_write, cache_write_1h billed at the input price (set them in deployments[14].pricing)',
      'deployment "house/seven-cached": model "house-model-7b" is not in the built-in price table; cache_write, cache_write_1h billed at the input price (set them in deployments[15].pricing)',
      'deployment "house/search": model "search-1" is not in the built-in price table; cached_input, cache_write, cache_write_1h billed at the input price (set them in deployments[16].pricing)',
    ],
  );
});

test("a disagreement is more than 1% of the computed cost", () => {
  assert.equal(costsDisagree(8_500_000, 8_340_000), true, "1.9%");
  assert.equal(costsDisagree(8_400_000, 8_340_000), false, "0.7%");
  assert.equal(costsDisagree(600_001, 600_000), false, "rounding of the reported float");
  assert.equal(costsDisagree(5, 0), true, "a bill where the prices say nothing");
});
