// Cost of token usage under a deployment's price model, in integer nano-USD so sums are exact.
//
// The price model (src/config/types.ts Pricing): input, cached input, cache writes (5-minute and
// 1-hour), output and reasoning prices, a per-request fee (per search for rerank), a per-image price by size and
// quality (image generation), a price per second of audio (transcription) and per character (speech), and long-context tiers whose prices
// apply to the whole request when its prompt exceeds their threshold. When the provider reports
// its own bill (OpenRouter's usage.cost), that figure is the total; the computed one is kept beside
// it (`computed`) so that disagreements can be seen.

import type { PriceSet, Pricing } from "../config/types.ts";
import type { Usage } from "../providers/types.ts";

export interface CostBreakdown {
  /** The bill: the provider's reported cost where it reports one, else the computed cost. */
  total: number;
  /** Uncached input tokens (computed, as are the components below). */
  input: number;
  cachedInput: number;
  /** Cache writes, 5-minute and 1-hour. */
  cacheWrite: number;
  output: number;
  reasoning: number;
  /** Per-request fees; absent: none. */
  request?: number;
  /** The price model's figure (the sum of the components); absent: equal to total. */
  computed?: number;
  /** What the provider reported, for the attempts that reported one (OpenRouter usage.cost); absent: none did. */
  providerReported?: number;
}

export const ZERO_COST: Readonly<CostBreakdown> = Object.freeze({ total: 0, input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 });

/** tokens × micro-USD per million tokens = nano-USD × 1000; rounded half up per component. */
const nanos = (tokens: number, microPerM: number) => Math.round((tokens * microPerM) / 1000);

/** The price set a request with this many prompt tokens (cache reads and writes included) is billed at. */
export function pricesFor(p: Pricing, inputTokens: number): PriceSet {
  let set: PriceSet = p;
  for (const t of p.tiers ?? []) if (inputTokens > t.aboveInputTokens) set = t;
  return set;
}

/** USD (a provider's float) → nano-USD, exactly as reported. */
export function usdToNanos(usd: number): number {
  return Math.round(usd * 1e9);
}

/** The cost computed from the price model; the sum of the components, with per-request fees. */
export function computedTotal(c: CostBreakdown): number {
  return c.computed ?? c.total;
}

export function computeCost(u: Usage, p: Pricing): CostBreakdown {
  const s = pricesFor(p, u.inputTokens);
  const writes1h = Math.min(Math.max(0, u.cacheWrite1hTokens ?? 0), u.cacheWriteTokens);
  const uncached = Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens);
  // An image edit's input images, at the image-input price where the model has one (GPT Image).
  const imageIn = Math.min(uncached, Math.max(0, u.imageInputTokens ?? 0));
  // Realtime audio in and out, at the audio prices where the model has them.
  const audioIn = Math.min(uncached - imageIn, Math.max(0, u.audioInputTokens ?? 0));
  const audioOut = Math.min(Math.max(0, u.outputTokens - u.reasoningTokens), Math.max(0, u.audioOutputTokens ?? 0));
  const input = nanos(uncached - imageIn - audioIn, s.input) + (imageIn ? nanos(imageIn, p.imageInput ?? s.input) : 0) + (audioIn ? nanos(audioIn, p.audioInput ?? s.input) : 0);
  const cachedInput = nanos(u.cachedInputTokens, s.cachedInput);
  const cacheWrite = nanos(u.cacheWriteTokens - writes1h, s.cacheWrite) + nanos(writes1h, s.cacheWrite1h ?? s.cacheWrite);
  const output = nanos(Math.max(0, u.outputTokens - u.reasoningTokens) - audioOut, s.output) + (audioOut ? nanos(audioOut, p.audioOutput ?? s.output) : 0);
  const reasoning = nanos(u.reasoningTokens, s.reasoning || s.output);
  // A per-request fee is charged per search where the provider bills searches (Cohere rerank);
  // generated images at their per-image price, audio by its seconds and speech per character, with the fees.
  const request =
    (p.perRequestNanos ?? 0) * (u.searchUnits ?? 1) +
    (u.images ? imageNanos(p, u.images) : 0) +
    (u.audioSeconds ? Math.round((p.perAudioSecondNanos ?? 0) * u.audioSeconds) : 0) +
    (u.characters ? (p.perCharacterNanos ?? 0) * u.characters : 0) +
    (u.pages ? (p.perPageNanos ?? 0) * u.pages : 0) +
    (u.annotatedPages ? (p.perAnnotatedPageNanos ?? 0) * u.annotatedPages : 0);
  const computed = input + cachedInput + cacheWrite + output + reasoning + request;
  const c: CostBreakdown = { total: computed, input, cachedInput, cacheWrite, output, reasoning };
  if (request) c.request = request;
  if (u.providerCostUsd !== undefined) {
    c.providerReported = usdToNanos(u.providerCostUsd);
    c.total = c.providerReported;
    c.computed = computed;
  }
  return c;
}

/** The per-image price for a size and quality ("<quality> <size>", "<size>", "<quality>", "default"). */
export function perImageNanos(p: Pick<Pricing, "perImageNanos">, size: string | undefined, quality: string | undefined): number {
  const t = p.perImageNanos;
  if (!t) return 0;
  const keys = [quality && size ? `${quality} ${size}` : "", size ?? "", quality ?? "", "default"];
  for (const k of keys) if (k && t[k] !== undefined) return t[k];
  return 0;
}

const imageNanos = (p: Pricing, im: NonNullable<Usage["images"]>) => perImageNanos(p, im.size, im.quality) * im.count;

/**
 * Whether a reported and a computed figure disagree: by more than 1% of the computed one (and more
 * than one nano-USD, the rounding of the reported float).
 */
export function costsDisagree(reported: number, computed: number): boolean {
  const diff = Math.abs(reported - computed);
  return diff > 1 && diff > computed * 0.01;
}

export function addCost(a: CostBreakdown, b: CostBreakdown): CostBreakdown {
  const out: CostBreakdown = {
    total: a.total + b.total,
    input: a.input + b.input,
    cachedInput: a.cachedInput + b.cachedInput,
    cacheWrite: a.cacheWrite + b.cacheWrite,
    output: a.output + b.output,
    reasoning: a.reasoning + b.reasoning,
  };
  if (a.request !== undefined || b.request !== undefined) out.request = (a.request ?? 0) + (b.request ?? 0);
  if (a.computed !== undefined || b.computed !== undefined) out.computed = computedTotal(a) + computedTotal(b);
  if (a.providerReported !== undefined || b.providerReported !== undefined) out.providerReported = (a.providerReported ?? 0) + (b.providerReported ?? 0);
  return out;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });

export function addUsage(a: Usage, b: Usage): Usage {
  const out: Usage = {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
  if (a.cacheWrite1hTokens || b.cacheWrite1hTokens) out.cacheWrite1hTokens = (a.cacheWrite1hTokens ?? 0) + (b.cacheWrite1hTokens ?? 0);
  if (a.imageInputTokens || b.imageInputTokens) out.imageInputTokens = (a.imageInputTokens ?? 0) + (b.imageInputTokens ?? 0);
  if (a.audioInputTokens || b.audioInputTokens) out.audioInputTokens = (a.audioInputTokens ?? 0) + (b.audioInputTokens ?? 0);
  if (a.audioOutputTokens || b.audioOutputTokens) out.audioOutputTokens = (a.audioOutputTokens ?? 0) + (b.audioOutputTokens ?? 0);
  if (a.searchUnits !== undefined || b.searchUnits !== undefined) out.searchUnits = (a.searchUnits ?? 0) + (b.searchUnits ?? 0);
  if (a.images || b.images) out.images = { ...(b.images ?? a.images!), count: (a.images?.count ?? 0) + (b.images?.count ?? 0) };
  if (a.audioSeconds || b.audioSeconds) out.audioSeconds = (a.audioSeconds ?? 0) + (b.audioSeconds ?? 0);
  if (a.characters || b.characters) out.characters = (a.characters ?? 0) + (b.characters ?? 0);
  if (a.pages || b.pages) out.pages = (a.pages ?? 0) + (b.pages ?? 0);
  if (a.annotatedPages || b.annotatedPages) out.annotatedPages = (a.annotatedPages ?? 0) + (b.annotatedPages ?? 0);
  return out;
}
