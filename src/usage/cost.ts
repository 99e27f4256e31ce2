// Cost of token usage under a deployment's pricing, in integer nano-USD so sums are exact.

import type { Pricing } from "../config/types.ts";
import type { Usage } from "../providers/types.ts";

export interface CostBreakdown {
  total: number;
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
}

export const ZERO_COST: Readonly<CostBreakdown> = Object.freeze({ total: 0, input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 });

/** tokens × micro-USD per million tokens = nano-USD × 1000; rounded half up per component. */
const nanos = (tokens: number, microPerM: number) => Math.round((tokens * microPerM) / 1000);

export function computeCost(u: Usage, p: Pricing): CostBreakdown {
  const uncached = Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens);
  const reasoningPrice = p.reasoning || p.output;
  const input = nanos(uncached, p.input);
  const cachedInput = nanos(u.cachedInputTokens, p.cachedInput);
  const cacheWrite = nanos(u.cacheWriteTokens, p.cacheWrite);
  const output = nanos(Math.max(0, u.outputTokens - u.reasoningTokens), p.output);
  const reasoning = nanos(u.reasoningTokens, reasoningPrice);
  return { total: input + cachedInput + cacheWrite + output + reasoning, input, cachedInput, cacheWrite, output, reasoning };
}

export function addCost(a: CostBreakdown, b: CostBreakdown): CostBreakdown {
  return {
    total: a.total + b.total,
    input: a.input + b.input,
    cachedInput: a.cachedInput + b.cachedInput,
    cacheWrite: a.cacheWrite + b.cacheWrite,
    output: a.output + b.output,
    reasoning: a.reasoning + b.reasoning,
  };
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}
