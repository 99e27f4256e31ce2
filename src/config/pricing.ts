// A deployment's price model from the catalog and its config override (`deployments[i].pricing`).
//
// - Every rate is a price: a catalog entry without a cache-write surcharge bills writes at the
//   input price, one without a cache discount bills reads at the input price.
// - An override keeps the catalog's ratios for the rates it does not give: `input: 2` on a model
//   whose catalog cached/input ratio is 0.1 bills cached input at 0.2; its 1-hour writes, fees and
//   long-context tiers scale the same way.
// - A model the catalog does not know bills the rates the override leaves out at the input price;
//   `fellBack` names them so that start-up can warn.

import { PRICES_AS_OF, type CatalogEntry, type CatalogPrices } from "./catalog.ts";
import type { PriceSet, PriceTier, Pricing } from "./types.ts";

/** The override as the config spells it (USD per million tokens; per_request in USD). */
export interface RawPricing {
  input?: number;
  cachedInput?: number;
  cacheWrite?: number;
  cacheWrite1h?: number;
  output?: number;
  reasoning?: number;
  perRequest?: number;
  /** USD per million input-image tokens of an image edit. */
  imageInput?: number;
  /** USD per million audio input and output tokens (the Realtime API). */
  audioInput?: number;
  audioOutput?: number;
  /** USD per image by "<quality> <size>", "<size>", "<quality>" or "default" (a number: the default). */
  perImage?: number | Record<string, number>;
  /** USD per minute of audio transcribed. */
  perMinute?: number;
  /** USD per million characters read aloud. */
  perMillionCharacters?: number;
  /** USD per page of a document processed (OCR). */
  perPage?: number;
  /** USD per page annotated (OCR with a document or bbox annotation), on top of perPage. */
  perAnnotatedPage?: number;
  tiers?: RawTier[];
}

export interface RawTier {
  aboveInputTokens: number;
  input: number;
  output: number;
  cachedInput?: number;
  cacheWrite?: number;
  cacheWrite1h?: number;
  reasoning?: number;
}

export interface ResolvedPricing {
  pricing: Pricing;
  /** Config names of the rates billed at the input price because neither the config nor the catalog gives them. */
  fellBack: string[];
}

/** USD per million tokens → micro-USD per million tokens (integer). */
const micro = (usd: number) => Math.round(usd * 1e6);

/** The catalog's set with every rate explicit (micro-USD per million tokens). */
function catalogSet(p: CatalogPrices): Required<PriceSet> {
  const input = micro(p.input);
  const cacheWrite = micro(p.cacheWrite ?? p.input);
  return {
    input,
    cachedInput: micro(p.cached ?? p.input),
    cacheWrite,
    cacheWrite1h: p.cacheWrite1h !== undefined ? micro(p.cacheWrite1h) : cacheWrite,
    output: micro(p.output),
    reasoning: p.reasoning !== undefined ? micro(p.reasoning) : 0,
  };
}

/** `rate` scaled by how the override moved `base` from the catalog's `catBase`. */
const scaled = (rate: number, base: number, catBase: number) => (catBase > 0 ? Math.round((rate * base) / catBase) : rate);

const RATE_NAMES = { cachedInput: "cached_input", cacheWrite: "cache_write", cacheWrite1h: "cache_write_1h" } as const;

/**
 * The pricing of a deployment: the catalog's (cat), the override's (raw), or both merged. Without
 * either (a mock deployment) every price is 0. The caller has already required input and output
 * of a model the catalog does not know.
 */
export function resolvePricing(cat: CatalogEntry | undefined, raw: RawPricing | undefined): ResolvedPricing {
  const o = raw ?? {};
  const fellBack: string[] = [];
  const c = cat ? catalogSet(cat.price) : undefined;
  const input = o.input !== undefined ? micro(o.input) : (c?.input ?? 0);
  const output = o.output !== undefined ? micro(o.output) : (c?.output ?? 0);
  // A derived rate: given, else the catalog's scaled by the input override, else the input price.
  const derived = (k: "cachedInput" | "cacheWrite", given: number | undefined): number => {
    if (given !== undefined) return micro(given);
    if (c) return scaled(c[k], input, c.input);
    if (raw) fellBack.push(RATE_NAMES[k]);
    return input;
  };
  const cachedInput = derived("cachedInput", o.cachedInput);
  const cacheWrite = derived("cacheWrite", o.cacheWrite);
  let cacheWrite1h: number;
  if (o.cacheWrite1h !== undefined) cacheWrite1h = micro(o.cacheWrite1h);
  else if (c) cacheWrite1h = scaled(c.cacheWrite1h, cacheWrite, c.cacheWrite);
  else {
    // Unknown model: 1-hour writes cost what the config says writes cost, else the input price.
    if (raw && o.cacheWrite === undefined) fellBack.push(RATE_NAMES.cacheWrite1h);
    cacheWrite1h = cacheWrite;
  }
  const reasoning = o.reasoning !== undefined ? micro(o.reasoning) : c && c.reasoning > 0 ? scaled(c.reasoning, output, c.output) : 0;
  const base: Required<PriceSet> = { input, cachedInput, cacheWrite, cacheWrite1h, output, reasoning };

  const perRequestUsd = o.perRequest ?? cat?.price.perRequest ?? 0;
  const perRequestNanos = Math.round(perRequestUsd * 1e9);
  const imageInputUsd = o.imageInput ?? cat?.price.imageInput;
  const audioInputUsd = o.audioInput ?? cat?.price.audioInput;
  const audioOutputUsd = o.audioOutput ?? cat?.price.audioOutput;
  // Per-image prices: the config's (a number is the default for every size and quality), else the catalog's.
  const perImageUsd = typeof o.perImage === "number" ? { default: o.perImage } : (o.perImage ?? cat?.price.perImage);
  const perImageNanos = perImageUsd ? Object.fromEntries(Object.entries(perImageUsd).map(([k, v]) => [k, Math.round(v * 1e9)])) : undefined;

  // Audio: per second transcribed (the config's, else the catalog's per minute), per character read aloud.
  const perMinute = o.perMinute ?? cat?.price.perMinute;
  const perAudioSecondNanos = perMinute ? (perMinute * 1e9) / 60 : undefined;
  const perMillionChars = o.perMillionCharacters ?? cat?.price.perMillionCharacters;
  const perCharacterNanos = perMillionChars ? Math.round((perMillionChars * 1e9) / 1e6) : undefined;
  const perPageUsd = o.perPage ?? cat?.price.perPage;
  const perPageNanos = perPageUsd ? Math.round(perPageUsd * 1e9) : undefined;
  const perAnnotatedPageUsd = o.perAnnotatedPage ?? cat?.price.perAnnotatedPage;
  const perAnnotatedPageNanos = perAnnotatedPageUsd ? Math.round(perAnnotatedPageUsd * 1e9) : undefined;

  let tiers: PriceTier[] = [];
  if (o.tiers) {
    // Rates a tier leaves out keep the base set's ratio to its input price.
    tiers = o.tiers.map((t) => {
      const ti = micro(t.input);
      const to = micro(t.output);
      return {
        aboveInputTokens: t.aboveInputTokens,
        input: ti,
        cachedInput: t.cachedInput !== undefined ? micro(t.cachedInput) : scaled(base.cachedInput, ti, base.input),
        cacheWrite: t.cacheWrite !== undefined ? micro(t.cacheWrite) : scaled(base.cacheWrite, ti, base.input),
        cacheWrite1h: t.cacheWrite1h !== undefined ? micro(t.cacheWrite1h) : scaled(base.cacheWrite1h, ti, base.input),
        output: to,
        reasoning: t.reasoning !== undefined ? micro(t.reasoning) : base.reasoning > 0 ? scaled(base.reasoning, to, base.output) : 0,
      };
    });
  } else if (cat?.tiers && c) {
    // The catalog's tiers, each rate moved by the factor the override moved the base rate.
    tiers = cat.tiers.map((t) => {
      const ct = catalogSet(t);
      return {
        aboveInputTokens: t.aboveInputTokens,
        input: scaled(ct.input, base.input, c.input),
        cachedInput: scaled(ct.cachedInput, base.cachedInput, c.cachedInput),
        cacheWrite: scaled(ct.cacheWrite, base.cacheWrite, c.cacheWrite),
        cacheWrite1h: scaled(ct.cacheWrite1h, base.cacheWrite1h, c.cacheWrite1h),
        output: scaled(ct.output, base.output, c.output),
        reasoning: ct.reasoning > 0 ? scaled(ct.reasoning, base.output, c.output) : 0,
      };
    });
  }
  tiers.sort((a, b) => a.aboveInputTokens - b.aboveInputTokens);

  return {
    pricing: {
      ...base,
      ...(perRequestNanos > 0 ? { perRequestNanos } : {}),
      ...(imageInputUsd !== undefined ? { imageInput: micro(imageInputUsd) } : {}),
      ...(audioInputUsd !== undefined ? { audioInput: micro(audioInputUsd) } : {}),
      ...(audioOutputUsd !== undefined ? { audioOutput: micro(audioOutputUsd) } : {}),
      ...(perImageNanos ? { perImageNanos } : {}),
      ...(perAudioSecondNanos ? { perAudioSecondNanos } : {}),
      ...(perCharacterNanos ? { perCharacterNanos } : {}),
      ...(perPageNanos ? { perPageNanos } : {}),
      ...(perAnnotatedPageNanos ? { perAnnotatedPageNanos } : {}),
      ...(tiers.length ? { tiers } : {}),
      source: raw ? "config" : cat ? `builtin:${PRICES_AS_OF}` : "none",
    },
    // Nothing falls back on a free deployment.
    fellBack: input > 0 ? fellBack : [],
  };
}
