// Cost of each provider's usage shape (cached, cache-write and reasoning tokens) against
// hand-computed figures, and exact sums over many requests.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pricing } from "../../src/config/types.ts";
import { convertAnthropicUsage, mergeAnthropicUsage } from "../../src/providers/anthropic/convert-anthropic-usage.ts";
import { convertGeminiUsage } from "../../src/providers/gemini/gemini-response.ts";
import { convertOpenAIUsage } from "../../src/providers/openai/openai-stream.ts";
import { addCost, computeCost, ZERO_COST } from "../../src/usage/cost.ts";

// $3 input, $0.30 cached input, $3.75 cache write, $15 output per million tokens (micro-USD per M).
const P: Pricing = { input: 3_000_000, cachedInput: 300_000, cacheWrite: 3_750_000, output: 15_000_000, reasoning: 0, source: "test" };

test("OpenAI: prompt_tokens include cached tokens; completion tokens include reasoning", () => {
  const u = convertOpenAIUsage(
    { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500, prompt_tokens_details: { cached_tokens: 400 }, completion_tokens_details: { reasoning_tokens: 200 } },
    false,
  )!;
  assert.deepEqual([u.inputTokens, u.cachedInputTokens, u.cacheWriteTokens, u.outputTokens, u.reasoningTokens], [1000, 400, 0, 500, 200]);
  // 600 uncached × $3 = 1,800,000; 400 cached × $0.30 = 120,000; 300 output × $15 = 4,500,000;
  // 200 reasoning at the output price = 3,000,000 nano-USD.
  assert.deepEqual(computeCost(u, P), { input: 1_800_000, cachedInput: 120_000, cacheWrite: 0, output: 4_500_000, reasoning: 3_000_000, total: 9_420_000 });
});

test("Anthropic: input_tokens exclude cache reads and writes, which are added back", () => {
  const u = convertAnthropicUsage({ input_tokens: 100, cache_creation_input_tokens: 200, cache_read_input_tokens: 300, output_tokens: 50 });
  assert.deepEqual([u.inputTokens, u.cachedInputTokens, u.cacheWriteTokens, u.outputTokens], [600, 300, 200, 50]);
  // 100 × $3 = 300,000; 300 × $0.30 = 90,000; 200 × $3.75 = 750,000; 50 × $15 = 750,000.
  assert.deepEqual(computeCost(u, P), { input: 300_000, cachedInput: 90_000, cacheWrite: 750_000, output: 750_000, reasoning: 0, total: 1_890_000 });
});

test("Gemini: thinking tokens are counted apart and added to output", () => {
  const u = convertGeminiUsage({ promptTokenCount: 1000, cachedContentTokenCount: 250, candidatesTokenCount: 300, thoughtsTokenCount: 100, totalTokenCount: 1400 });
  assert.deepEqual([u.inputTokens, u.cachedInputTokens, u.outputTokens, u.reasoningTokens], [1000, 250, 400, 100]);
  // 750 × $3 = 2,250,000; 250 × $0.30 = 75,000; 300 × $15 = 4,500,000; 100 × $15 = 1,500,000.
  assert.deepEqual(computeCost(u, P), { input: 2_250_000, cachedInput: 75_000, cacheWrite: 0, output: 4_500_000, reasoning: 1_500_000, total: 8_325_000 });
});

test("Realtime: audio tokens in and out at their own prices, cached audio at the cached price", async () => {
  const { realtimeUsage } = await import("../../src/providers/realtime.ts");
  // gpt-realtime: $4 text in, $0.40 cached, $16 text out, $32 audio in, $64 audio out.
  const RT: Pricing = { input: 4_000_000, cachedInput: 400_000, cacheWrite: 4_000_000, output: 16_000_000, reasoning: 0, audioInput: 32_000_000, audioOutput: 64_000_000, source: "test" };
  const u = realtimeUsage({
    total_tokens: 1500,
    input_tokens: 1000,
    output_tokens: 500,
    input_token_details: { text_tokens: 400, audio_tokens: 600, image_tokens: 0, cached_tokens: 300, cached_tokens_details: { text_tokens: 100, audio_tokens: 200 } },
    output_token_details: { text_tokens: 100, audio_tokens: 400 },
  })!;
  assert.deepEqual([u.inputTokens, u.cachedInputTokens, u.audioInputTokens, u.outputTokens, u.audioOutputTokens], [1000, 300, 400, 500, 400]);
  // Uncached: 300 text × $4 = 1,200,000 and 400 audio × $32 = 12,800,000; 300 cached × $0.40 =
  // 120,000; 100 text out × $16 = 1,600,000 and 400 audio out × $64 = 25,600,000.
  assert.deepEqual(computeCost(u, RT), { input: 14_000_000, cachedInput: 120_000, cacheWrite: 0, output: 27_200_000, reasoning: 0, total: 41_320_000 });
  // Without audio prices, audio is billed as text.
  assert.equal(computeCost(u, { ...RT, audioInput: undefined, audioOutput: undefined }).total, 700 * 4000 + 300 * 400 + 500 * 16000);
});

test("a separate reasoning price applies when set", () => {
  const c = computeCost({ inputTokens: 0, outputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 4 }, { ...P, reasoning: 60_000_000 });
  assert.equal(c.output, 6 * 15_000);
  assert.equal(c.reasoning, 4 * 60_000);
});

test("fractional prices round per component, and sums over a million requests stay exact", () => {
  // $0.0375 per million cached tokens: 1 token costs 0.0375 nano-USD, rounded to 0.
  const cheap: Pricing = { input: 75_000, cachedInput: 37_500, cacheWrite: 0, output: 300_000, reasoning: 0, source: "test" };
  const one = computeCost({ inputTokens: 1234, outputTokens: 567, cachedInputTokens: 1000, cacheWriteTokens: 0, reasoningTokens: 0 }, cheap);
  assert.deepEqual(one, { input: Math.round(234 * 75), cachedInput: Math.round(1000 * 37.5), cacheWrite: 0, output: 567 * 300, reasoning: 0, total: Math.round(234 * 75) + 37_500 + 170_100 });
  let sum = { ...ZERO_COST };
  let floatUsd = 0;
  for (let i = 0; i < 1_000_000; i++) {
    sum = addCost(sum, one);
    floatUsd += one.total / 1e9;
  }
  assert.equal(sum.total, one.total * 1_000_000, "integer nano-USD sums are exact");
  assert.notEqual(floatUsd, (one.total * 1_000_000) / 1e9, "(a float dollar sum would have drifted)");
});

test("Anthropic: cache_creation splits writes into 5-minute and 1-hour ones; a later cumulative report keeps the split", () => {
  const start = { input_tokens: 10, cache_creation_input_tokens: 300, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 }, output_tokens: 1 };
  const u = convertAnthropicUsage(mergeAnthropicUsage(start, { output_tokens: 40, cache_creation_input_tokens: 300 }));
  assert.deepEqual([u.inputTokens, u.cacheWriteTokens, u.cacheWrite1hTokens, u.outputTokens], [310, 300, 200, 40]);
  // 10 × $3 = 30,000; 100 × $3.75 = 375,000 and 200 at a 1-hour price of $6 = 1,200,000; 40 × $15 = 600,000.
  assert.deepEqual(computeCost(u, { ...P, cacheWrite1h: 6_000_000 }), { input: 30_000, cachedInput: 0, cacheWrite: 1_575_000, output: 600_000, reasoning: 0, total: 2_205_000 });
  // Without a 1-hour price the writes are all billed as cache writes.
  assert.equal(computeCost(u, P).cacheWrite, 300 * 3_750);
  // An older server without cache_creation: all writes are 5-minute ones.
  assert.equal(convertAnthropicUsage({ input_tokens: 1, cache_creation_input_tokens: 5 }).cacheWrite1hTokens, undefined);
});
