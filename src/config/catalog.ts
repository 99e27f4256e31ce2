// Built-in facts about common models: prices (USD per million tokens, as the providers published
// them; see PRICES_AS_OF), context windows, output limits and capabilities. A deployment's own
// config overrides any of these. Matching is by exact id, then by the longest known prefix, so
// pinned versions ("gpt-4o-2024-08-06") find their family.

import type { Capability } from "./types.ts";

export const PRICES_AS_OF = "2025-10-01";

export interface CatalogEntry {
  /** USD per million tokens: input, cached input, cache write, output. */
  price: [input: number, cached: number, cacheWrite: number, output: number];
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: Capability[];
  quality: number;
}

const chat: Capability[] = ["tools", "vision", "json_mode", "json_schema", "streaming"];
const reasoning: Capability[] = [...chat, "reasoning"];
const cached: Capability[] = [...chat, "prompt_caching"];
const cachedReasoning: Capability[] = [...reasoning, "prompt_caching"];

const e = (price: CatalogEntry["price"], contextWindow: number, maxOutputTokens: number, capabilities: Capability[], quality: number): CatalogEntry => ({
  price,
  contextWindow,
  maxOutputTokens,
  capabilities,
  quality,
});

export const CATALOG: Record<string, CatalogEntry> = {
  // OpenAI (cached input is billed at the listed discount; no cache-write charge).
  "gpt-4o": e([2.5, 1.25, 0, 10], 128_000, 16_384, cached, 0.75),
  "gpt-4o-mini": e([0.15, 0.075, 0, 0.6], 128_000, 16_384, cached, 0.55),
  "gpt-4.1": e([2, 0.5, 0, 8], 1_047_576, 32_768, cached, 0.8),
  "gpt-4.1-mini": e([0.4, 0.1, 0, 1.6], 1_047_576, 32_768, cached, 0.65),
  "gpt-4.1-nano": e([0.1, 0.025, 0, 0.4], 1_047_576, 32_768, cached, 0.45),
  "gpt-5": e([1.25, 0.125, 0, 10], 400_000, 128_000, cachedReasoning, 0.95),
  "gpt-5-mini": e([0.25, 0.025, 0, 2], 400_000, 128_000, cachedReasoning, 0.8),
  "gpt-5-nano": e([0.05, 0.005, 0, 0.4], 400_000, 128_000, cachedReasoning, 0.6),
  o3: e([2, 0.5, 0, 8], 200_000, 100_000, cachedReasoning, 0.93),
  "o4-mini": e([1.1, 0.275, 0, 4.4], 200_000, 100_000, cachedReasoning, 0.85),
  // Anthropic (cache reads 0.1x input, 5-minute cache writes 1.25x input).
  "claude-opus-4-1": e([15, 1.5, 18.75, 75], 200_000, 32_000, cachedReasoning, 0.95),
  "claude-opus-4-5": e([5, 0.5, 6.25, 25], 200_000, 64_000, cachedReasoning, 0.97),
  "claude-sonnet-4-5": e([3, 0.3, 3.75, 15], 200_000, 64_000, cachedReasoning, 0.93),
  "claude-sonnet-4": e([3, 0.3, 3.75, 15], 200_000, 64_000, cachedReasoning, 0.9),
  "claude-haiku-4-5": e([1, 0.1, 1.25, 5], 200_000, 64_000, cachedReasoning, 0.78),
  "claude-3-5-haiku": e([0.8, 0.08, 1, 4], 200_000, 8_192, cached, 0.6),
  // Google Gemini (prices for prompts up to 200k tokens).
  "gemini-2.5-pro": e([1.25, 0.125, 0, 10], 1_048_576, 65_536, cachedReasoning, 0.93),
  "gemini-2.5-flash": e([0.3, 0.03, 0, 2.5], 1_048_576, 65_536, cachedReasoning, 0.8),
  "gemini-2.5-flash-lite": e([0.1, 0.01, 0, 0.4], 1_048_576, 65_536, cachedReasoning, 0.62),
  "gemini-2.0-flash": e([0.1, 0.025, 0, 0.4], 1_048_576, 8_192, cached, 0.6),
};

/** The catalog entry for a model id: exact match, else the longest prefix match (after any "vendor/" prefix). */
export function lookupModel(model: string): CatalogEntry | undefined {
  const id = model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model;
  if (CATALOG[id]) return CATALOG[id];
  let best: string | undefined;
  for (const k of Object.keys(CATALOG)) {
    if (id.startsWith(k) && (best === undefined || k.length > best.length)) best = k;
  }
  return best === undefined ? undefined : CATALOG[best];
}
