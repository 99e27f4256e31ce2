// Built-in facts about common models: prices (USD per million tokens, as the providers publish
// them; see PRICES_AS_OF and PRICE_SOURCES), context windows, output limits and capabilities. A
// deployment's own config overrides any of these.
//
// Names are exact: a model id (after any "vendor/" prefix, as OpenRouter spells them) matches
// only an entry of the same name, and every dated snapshot the catalog prices is listed. A name
// the catalog does not list ("gpt-5-pro" is not "gpt-5", "o3-pro" is not "o3") has no built-in
// price, and start-up requires one in the config (src/config/load.ts).
//
// What a price means (src/usage/cost.ts): `cached` is the price of prompt tokens read from the
// cache, absent when the provider gives no discount (billed at the input price); `cacheWrite` the
// price of tokens written to it (Anthropic: 5-minute writes), absent when the provider charges no
// surcharge (billed at the input price, never free); `cacheWrite1h` Anthropic's 1-hour writes;
// `reasoning` absent = the output price. `tiers` are long-context prices: a request whose prompt
// (cache reads and writes included) exceeds `aboveInputTokens` is billed entirely at the tier's.
// Retired models are removed (Claude 3.x, Claude Sonnet 4 and Opus 4 (retired 2026-06-15), Opus 4.1
// (2026-08-05), Gemini 2.0); a removed name needs a price in the config.

import type { Capability, Operation } from "./types.ts";

/** The day the prices below were read from PRICE_SOURCES. */
export const PRICES_AS_OF = "2025-12-15";

/** Where the prices come from: each provider's published price list (standard tier, text tokens). */
export const PRICE_SOURCES = {
  openai: "OpenAI API pricing, https://platform.openai.com/docs/pricing (Standard processing); the gpt-5.4 and gpt-5.5 lines as published in 2026 (long context above 272k)",
  anthropic: "Anthropic Claude pricing, https://docs.claude.com/en/docs/about-claude/pricing (incl. long context pricing); Claude 4.6 and later from each model's overview page on platform.claude.com, read 2026-12-04",
  gemini: "Google Gemini Developer API pricing, https://ai.google.dev/gemini-api/docs/pricing (paid tier, text/image/video input)",
  vertex:
    "Vertex AI pricing, https://cloud.google.com/vertex-ai/generative-ai/pricing: Gemini as the Gemini API's paid tier; Claude at Anthropic's prices on the global endpoint, regional endpoints 10% above for Claude 4.5 and later (set pricing on such deployments)",
  bedrock:
    "Amazon Bedrock pricing, https://aws.amazon.com/bedrock/pricing/ (on-demand, us-east-1); Claude 4.5 in-Region and geographic-profile prices are 10% above the global profile's (https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html); rerank models per 1,000 queries (a query is up to 100 documents), added 2026-12-05",
  cohere:
    "Cohere pricing, https://cohere.com/pricing: Rerank per 1,000 searches (a search is one query and up to 100 documents), Embed per 1M text tokens; added 2026-12-05",
  mistral:
    "Mistral AI pricing, https://mistral.ai/pricing: OCR per 1,000 pages (OCR 3, mistral-ocr-2512, from its launch announcement of 2025-12); added 2026-12-07, not re-read today: check it",
} as const;

/** One published price set, USD per million tokens (perRequest: USD per request). */
export interface CatalogPrices {
  input: number;
  /** Cache reads; absent: no discount, the input price. */
  cached?: number;
  /** Cache writes (Anthropic: 5-minute); absent: no surcharge, the input price. */
  cacheWrite?: number;
  /** 1-hour cache writes (Anthropic); absent: cacheWrite. */
  cacheWrite1h?: number;
  output: number;
  /** Reasoning (thinking) tokens; absent: the output price. */
  reasoning?: number;
  /** A fee per request, USD; absent: none. */
  perRequest?: number;
  /** An image edit's input-image tokens, USD per million; absent: the input price. */
  imageInput?: number;
  /** Audio input tokens (Realtime), USD per million; absent: the input price. */
  audioInput?: number;
  /** Audio output tokens (Realtime), USD per million; absent: the output price. */
  audioOutput?: number;
  /** Image generation: USD per image by "<quality> <size>", "<size>", "<quality>" or "default"; absent: none. */
  perImage?: Record<string, number>;
  /** Transcription: USD per minute of audio; absent: none. */
  perMinute?: number;
  /** Speech: USD per million characters read; absent: none. */
  perMillionCharacters?: number;
  /** OCR: USD per page processed; absent: none. */
  perPage?: number;
  /** OCR: USD per page annotated, on top of perPage; absent: none. */
  perAnnotatedPage?: number;
}

export interface CatalogEntry {
  price: CatalogPrices;
  /** Long-context prices, ascending: above `aboveInputTokens` prompt tokens the whole request is billed at the tier's. */
  tiers?: (CatalogPrices & { aboveInputTokens: number })[];
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: Capability[];
  quality: number;
  /** What the model serves; absent: chat. Embedding and rerank models say so ([embeddings], [rerank]), so their deployments need no `operations`. */
  operations?: Operation[];
}

const chat: Capability[] = ["tools", "vision", "json_mode", "json_schema", "streaming"];
const reasoning: Capability[] = [...chat, "reasoning"];
const cached: Capability[] = [...chat, "prompt_caching"];
const cachedReasoning: Capability[] = [...reasoning, "prompt_caching"];
/** OpenAI's "pro" reasoning models: no cache discount, no streaming. */
const proReasoning: Capability[] = ["tools", "vision", "json_mode", "json_schema", "reasoning"];
/** o3-mini: no image input. */
const textReasoning: Capability[] = ["tools", "json_mode", "json_schema", "streaming", "reasoning", "prompt_caching"];

const e = (
  price: CatalogPrices,
  contextWindow: number,
  maxOutputTokens: number,
  capabilities: Capability[],
  quality: number,
  tiers?: CatalogEntry["tiers"],
): CatalogEntry => ({ price, ...(tiers ? { tiers } : {}), contextWindow, maxOutputTokens, capabilities, quality });

// ---- OpenAI (PRICE_SOURCES.openai). Cached input at the listed discount; cache writes carry no
// surcharge (billed at the input price); reasoning tokens at the output price. ----
const gpt4o = e({ input: 2.5, cached: 1.25, output: 10 }, 128_000, 16_384, cached, 0.75);
const gpt4oMini = e({ input: 0.15, cached: 0.075, output: 0.6 }, 128_000, 16_384, cached, 0.55);
const gpt41 = e({ input: 2, cached: 0.5, output: 8 }, 1_047_576, 32_768, cached, 0.8);
const gpt41Mini = e({ input: 0.4, cached: 0.1, output: 1.6 }, 1_047_576, 32_768, cached, 0.65);
const gpt41Nano = e({ input: 0.1, cached: 0.025, output: 0.4 }, 1_047_576, 32_768, cached, 0.45);
const gpt5 = e({ input: 1.25, cached: 0.125, output: 10 }, 400_000, 128_000, cachedReasoning, 0.95);
const gpt5Mini = e({ input: 0.25, cached: 0.025, output: 2 }, 400_000, 128_000, cachedReasoning, 0.8);
const gpt5Nano = e({ input: 0.05, cached: 0.005, output: 0.4 }, 400_000, 128_000, cachedReasoning, 0.6);
const gpt5Pro = e({ input: 15, output: 120 }, 400_000, 272_000, proReasoning, 0.97);
const gpt51 = e({ input: 1.25, cached: 0.125, output: 10 }, 400_000, 128_000, cachedReasoning, 0.96);
const gpt52 = e({ input: 1.75, cached: 0.175, output: 14 }, 400_000, 128_000, cachedReasoning, 0.97);
const gpt52Pro = e({ input: 21, output: 168 }, 400_000, 128_000, proReasoning, 0.98);
// The 5.4 and 5.5 lines (added 2026-12-04): a 1M window; a prompt above 272k tokens bills the whole
// request at 2× input (and cached input) and 1.5× output.
const long272 = (input: number, cached: number, output: number) => [{ aboveInputTokens: 272_000, input: input * 2, cached: cached * 2, output: output * 1.5 }];
const gpt55 = e({ input: 5, cached: 0.5, output: 30 }, 1_050_000, 128_000, cachedReasoning, 0.99, long272(5, 0.5, 30));
const gpt54 = e({ input: 2.5, cached: 0.25, output: 15 }, 1_050_000, 128_000, cachedReasoning, 0.98, long272(2.5, 0.25, 15));
const gpt54Mini = e({ input: 0.75, cached: 0.075, output: 4.5 }, 400_000, 128_000, cachedReasoning, 0.86);
const gpt54Nano = e({ input: 0.2, cached: 0.02, output: 1.25 }, 400_000, 128_000, cachedReasoning, 0.7);
const gpt5xPro = e({ input: 30, output: 180 }, 1_050_000, 128_000, proReasoning, 0.99);
const o3 = e({ input: 2, cached: 0.5, output: 8 }, 200_000, 100_000, cachedReasoning, 0.93);
const o3Pro = e({ input: 20, output: 80 }, 200_000, 100_000, proReasoning, 0.95);
const o3Mini = e({ input: 1.1, cached: 0.55, output: 4.4 }, 200_000, 100_000, textReasoning, 0.8);
const o4Mini = e({ input: 1.1, cached: 0.275, output: 4.4 }, 200_000, 100_000, cachedReasoning, 0.85);

// ---- Anthropic (PRICE_SOURCES.anthropic). Cache reads 0.1× input, 5-minute writes 1.25×, 1-hour
// writes 2×. Sonnet 4 and 4.5 with the 1M-context window: a request above 200k input tokens is
// billed at the long-context prices (input 2×, output 1.5×, cache prices scaled likewise). ----
const sonnetLong = [{ aboveInputTokens: 200_000, input: 6, cached: 0.6, cacheWrite: 7.5, cacheWrite1h: 12, output: 22.5 }];
/** The standard Anthropic ratios on an input and output price. */
const claudePrices = (input: number, output: number): CatalogPrices => ({ input, cached: input * 0.1, cacheWrite: input * 1.25, cacheWrite1h: input * 2, output });
const opus45 = e({ input: 5, cached: 0.5, cacheWrite: 6.25, cacheWrite1h: 10, output: 25 }, 200_000, 64_000, cachedReasoning, 0.97);
const sonnet45 = e({ input: 3, cached: 0.3, cacheWrite: 3.75, cacheWrite1h: 6, output: 15 }, 200_000, 64_000, cachedReasoning, 0.93, sonnetLong);
const haiku45 = e({ input: 1, cached: 0.1, cacheWrite: 1.25, cacheWrite1h: 2, output: 5 }, 200_000, 64_000, cachedReasoning, 0.78);
// 4.6 and later: a 1M-token window at one price, 128k output (the models' overview pages).
const opus46 = e(claudePrices(5, 25), 1_000_000, 128_000, cachedReasoning, 0.97);
const sonnet46 = e(claudePrices(3, 15), 1_000_000, 128_000, cachedReasoning, 0.94);
const opus5 = e(claudePrices(5, 25), 1_000_000, 128_000, cachedReasoning, 0.98);
// Opus 5.5 reads the cache at 0.05× input (its overview page: $0.20 read, $5 / $8 writes).
const opus55 = e({ input: 4, cached: 0.2, cacheWrite: 5, cacheWrite1h: 8, output: 20 }, 1_000_000, 128_000, cachedReasoning, 0.99);
const sonnet55 = e(claudePrices(2, 10), 1_000_000, 128_000, cachedReasoning, 0.96);
const fable51 = e(claudePrices(10, 50), 1_000_000, 128_000, cachedReasoning, 0.99);

// ---- Google Gemini (PRICE_SOURCES.gemini). Cached input at the context-caching price (cache
// storage per hour is billed by Google apart, not per request); writes carry no surcharge;
// thinking tokens at the output price. 2.5 Pro and 3 Pro: prompts above 200k tokens at the
// higher prices. ----
const gemini25Pro = e({ input: 1.25, cached: 0.125, output: 10 }, 1_048_576, 65_536, cachedReasoning, 0.93, [
  { aboveInputTokens: 200_000, input: 2.5, cached: 0.25, output: 15 },
]);
const gemini25Flash = e({ input: 0.3, cached: 0.03, output: 2.5 }, 1_048_576, 65_536, cachedReasoning, 0.8);
const gemini25FlashLite = e({ input: 0.1, cached: 0.01, output: 0.4 }, 1_048_576, 65_536, cachedReasoning, 0.62);
const gemini3Pro = e({ input: 2, cached: 0.2, output: 12 }, 1_048_576, 65_536, cachedReasoning, 0.96, [
  { aboveInputTokens: 200_000, input: 4, cached: 0.4, output: 18 },
]);
const gemini3Flash = e({ input: 0.5, cached: 0.05, output: 3 }, 1_048_576, 65_536, cachedReasoning, 0.85);

// ---- Embedding models: input tokens only (output 0); the context window is the limit of one
// input. OpenAI (PRICE_SOURCES.openai); Gemini API (PRICE_SOURCES.gemini); text-embedding-004/005
// are Vertex AI models billed per character ($0.025 per 1M characters), priced here at the
// equivalent $0.10 per 1M tokens. ----
const embedding = (input: number, contextWindow: number, quality: number): CatalogEntry => ({ price: { input, output: 0 }, contextWindow, maxOutputTokens: 0, capabilities: [], quality, operations: ["embeddings"] });
const embedding3Small = embedding(0.02, 8_191, 0.6);
const embedding3Large = embedding(0.13, 8_191, 0.8);
const embeddingAda = embedding(0.1, 8_191, 0.5);
const geminiEmbedding = embedding(0.15, 2_048, 0.85);
const vertexTextEmbedding = embedding(0.1, 2_048, 0.6);
// Cohere (PRICE_SOURCES.cohere): Embed 4 takes up to 128k tokens per input; Embed v3 (512) is
// cohereEmbedV3 below, the same price on Cohere and on Bedrock.
const cohereEmbedV4 = embedding(0.12, 128_000, 0.85);

// ---- Rerank models: a fee per search (`perRequest`, USD; charged per search unit the provider
// reports: src/usage/cost.ts), no token prices; the context window is one document's (the
// provider truncates longer ones, so it never excludes a deployment). Cohere (PRICE_SOURCES.cohere)
// bills searches; Bedrock (PRICE_SOURCES.bedrock) bills queries the same way. ----
const rerank = (perRequest: number, contextWindow: number, quality: number): CatalogEntry => ({
  price: { input: 0, output: 0, perRequest },
  contextWindow,
  maxOutputTokens: 0,
  capabilities: [],
  quality,
  operations: ["rerank"],
});
// ---- Search engines (the search operation): a deployment's model is the engine's mode, priced
// per search (per query) from each engine's published price list, read 2026-12-07: Exa $5 per
// 1,000 searches of up to 25 results plus $1 per 1,000 pages of text (each answer reports its own
// cost, which is the bill: the catalog's figure is what admission holds, a search of five pages);
// Tavily one credit ($0.008 pay-as-you-go) a basic, fast or ultra-fast search, two an advanced one;
// Perplexity's Search API $5 per 1,000 requests; Brave's Search plan (its Web Search API, mode
// "web") $5 per 1,000 requests, with a $5 monthly credit not counted here (as listed on Brave's
// pricing page, quoted in Brave's dashboard documentation of September 2026; read 2026-12-07);
// SearXNG is self-hosted: $0 (mode "search"). ----
const SEARCH_PRICES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  exa: { auto: 0.01, neural: 0.01, fast: 0.01, keyword: 0.01, hybrid: 0.01, instant: 0.01, "deep-lite": 0.01, deep: 0.015, "deep-reasoning": 0.015 },
  tavily: { basic: 0.008, fast: 0.008, "ultra-fast": 0.008, advanced: 0.016 },
  perplexity: { search: 0.005 },
  brave: { web: 0.005 },
  searxng: { search: 0 },
  // Serper (Google results, mode "search"), 2026-12-07: $0.001 a search, its pay-as-you-go credits at
  // the smallest top-up ($50 for 50,000, one credit a search; larger top-ups go down to $0.30 per
  // 1,000). Recalled from serper.dev's pricing page, not re-read today: check it. A search Serper
  // counts as more than one credit (its answer's `credits`) is billed as that many.
  serper: { search: 0.001 },
};

/** The modes each search engine has a built-in price for. */
export const searchModes = (engine: string): string[] => Object.keys(SEARCH_PRICES[engine] ?? {});

/** A search engine's mode (Exa's type, Tavily's depth, Perplexity's "search"), priced per search; undefined for a mode it does not list. */
export function lookupSearchModel(engine: string, mode: string): CatalogEntry | undefined {
  const perRequest = SEARCH_PRICES[engine]?.[mode];
  return perRequest === undefined ? undefined : { price: { input: 0, output: 0, perRequest }, contextWindow: 1_000_000, maxOutputTokens: 0, capabilities: [], quality: 0.5, operations: ["search"] };
}

// ---- Image generation models (PRICE_SOURCES.openai, "Image generation"): GPT Image bills the
// prompt's text tokens and the image's output tokens; DALL·E bills per image by quality and size.
// The context window is the prompt's limit in characters' worth of tokens (never a reason to
// exclude a deployment: the provider refuses an overlong prompt). ----
const imageModel = (price: CatalogPrices, quality: number): CatalogEntry => ({ price, contextWindow: 32_000, maxOutputTokens: 0, capabilities: [], quality, operations: ["images"] });
const gptImage1 = imageModel({ input: 5, cached: 1.25, output: 40, imageInput: 10 }, 0.9);
const gptImage1Mini = imageModel({ input: 2, cached: 0.2, output: 8, imageInput: 2.5 }, 0.75);
const dallE3 = imageModel(
  { input: 0, output: 0, perImage: { "standard 1024x1024": 0.04, "standard 1792x1024": 0.08, "standard 1024x1792": 0.08, "hd 1024x1024": 0.08, "hd 1792x1024": 0.12, "hd 1024x1792": 0.12, "1792x1024": 0.08, "1024x1792": 0.08, hd: 0.08, default: 0.04 } },
  0.7,
);
// Gemini's image models (PRICE_SOURCES.gemini): text input tokens, and image output tokens (1,290
// an image for 2.5 Flash Image, $0.039; 1,120 for a 1K or 2K image of 3 Pro Image, $0.134).
const gemini25FlashImage = imageModel({ input: 0.3, output: 30 }, 0.8);
const gemini3ProImage = imageModel({ input: 2, output: 120 }, 0.9);
// Imagen on Vertex AI (PRICE_SOURCES.vertex): per image.
const imagen = (usd: number, quality: number) => imageModel({ input: 0, output: 0, perImage: { default: usd } }, quality);
// Bedrock's image models (PRICE_SOURCES.bedrock): per image, by quality and size (2048 a side
// costs more; other sizes up to 1024² are the standard price).
const novaCanvas = imageModel({ input: 0, output: 0, perImage: { default: 0.04, premium: 0.06, hd: 0.06, high: 0.06, "2048x2048": 0.06, "premium 2048x2048": 0.08, "hd 2048x2048": 0.08, "high 2048x2048": 0.08 } }, 0.8);
const titanImageV2 = imageModel({ input: 0, output: 0, perImage: { default: 0.01, "512x512": 0.008, premium: 0.012, hd: 0.012, high: 0.012, "premium 512x512": 0.01, "hd 512x512": 0.01, "high 512x512": 0.01 } }, 0.6);
const dallE2 = imageModel({ input: 0, output: 0, perImage: { "256x256": 0.016, "512x512": 0.018, default: 0.02 } }, 0.5);

// ---- Audio models (PRICE_SOURCES.openai, "Transcription and speech generation"): whisper-1 bills
// the audio's minutes; the GPT-4o transcription models bill tokens (here at their audio-input
// rate: a prompt's few text tokens cost less); tts-1 and tts-1-hd bill characters; gpt-4o-mini-tts
// bills text input and audio output tokens. ----
const audioModel = (price: CatalogPrices, quality: number, op: "transcription" | "speech"): CatalogEntry => ({ price, contextWindow: 16_000, maxOutputTokens: 0, capabilities: [], quality, operations: [op] });
const whisper1 = audioModel({ input: 0, output: 0, perMinute: 0.006 }, 0.7, "transcription");
const gpt4oTranscribe = audioModel({ input: 6, output: 10 }, 0.9, "transcription");
const gpt4oMiniTranscribe = audioModel({ input: 3, output: 5 }, 0.8, "transcription");
const tts1 = audioModel({ input: 0, output: 0, perMillionCharacters: 15 }, 0.6, "speech");
const tts1Hd = audioModel({ input: 0, output: 0, perMillionCharacters: 30 }, 0.75, "speech");
const gpt4oMiniTts = audioModel({ input: 0.6, output: 12 }, 0.85, "speech");
// ---- OCR models (PRICE_SOURCES.mistral): billed per page processed. mistral-ocr-latest names
// Mistral OCR 3 (mistral-ocr-2512, $2 per 1,000 pages; the Batch API's half price is not used
// here); mistral-ocr-2505 is OCR 2 ($1 per 1,000). Document AI's annotations (a document or bbox
// annotation asked for) add $3 per 1,000 pages annotated, the same for both. ----
const ocrModel = (perPage: number, quality: number): CatalogEntry => ({ price: { input: 0, output: 0, perPage, perAnnotatedPage: 0.003 }, contextWindow: 1_000_000, maxOutputTokens: 0, capabilities: [], quality, operations: ["ocr"] });
const mistralOcr3 = ocrModel(0.002, 0.9);
const mistralOcr2 = ocrModel(0.001, 0.8);
// ---- Realtime models (the Realtime API over a WebSocket, /v1/realtime): text and audio tokens
// priced apart, cached input (text or audio) at the cached price; a 32k context. Added 2026-12-06
// from OpenAI's pricing page. ----
const realtimeModel = (price: CatalogPrices, quality: number): CatalogEntry => ({ price, contextWindow: 32_000, maxOutputTokens: 4_096, capabilities: ["tools"], quality, operations: ["realtime"] });
const gptRealtime = realtimeModel({ input: 4, cached: 0.4, output: 16, audioInput: 32, audioOutput: 64, imageInput: 5 }, 0.9);
const gptRealtimeMini = realtimeModel({ input: 0.6, cached: 0.06, output: 2.4, audioInput: 10, audioOutput: 20, imageInput: 0.8 }, 0.75);
const gpt4oRealtime = realtimeModel({ input: 5, cached: 2.5, output: 20, audioInput: 40, audioOutput: 80 }, 0.85);
const gpt4oMiniRealtime = realtimeModel({ input: 0.6, cached: 0.3, output: 2.4, audioInput: 10, audioOutput: 20 }, 0.7);
// ---- Moderation models (free at OpenAI). ----
const moderationModel = (quality: number): CatalogEntry => ({ price: { input: 0, output: 0 }, contextWindow: 32_768, maxOutputTokens: 0, capabilities: [], quality, operations: ["moderation"] });

const cohereRerank35 = rerank(0.002, 4_096, 0.85);
const cohereRerankV3 = rerank(0.002, 4_096, 0.75);
const amazonRerankV1 = rerank(0.001, 4_096, 0.7);

// ---- Amazon Bedrock (PRICE_SOURCES.bedrock). Model ids as Bedrock names them; an inference
// profile's geographic prefix ("us.", "eu.", "apac.", …) finds the base id (same price), while
// "global." profiles of Claude 4.5 are listed apart (10% cheaper). Claude keeps Anthropic's cache
// ratios; Nova reads its cache at 0.25× input with no write surcharge; Titan and Cohere embed. ----
const bedrockSonnet45 = e(claudePrices(3.3, 16.5), 200_000, 64_000, cachedReasoning, 0.93);
const bedrockSonnet45Global = e(claudePrices(3, 15), 200_000, 64_000, cachedReasoning, 0.93);
const bedrockHaiku45 = e(claudePrices(1.1, 5.5), 200_000, 64_000, cachedReasoning, 0.78);
const bedrockHaiku45Global = e(claudePrices(1, 5), 200_000, 64_000, cachedReasoning, 0.78);
const bedrockOpus45 = e(claudePrices(5.5, 27.5), 200_000, 64_000, cachedReasoning, 0.97);
const bedrockOpus45Global = e(claudePrices(5, 25), 200_000, 64_000, cachedReasoning, 0.97);
const novaCaps: Capability[] = ["tools", "vision", "json_mode", "json_schema", "streaming", "prompt_caching"];
const novaPro = e({ input: 0.8, cached: 0.2, output: 3.2 }, 300_000, 10_000, novaCaps, 0.7);
const novaLite = e({ input: 0.06, cached: 0.015, output: 0.24 }, 300_000, 10_000, novaCaps, 0.55);
const novaMicro = e({ input: 0.035, cached: 0.00875, output: 0.14 }, 128_000, 10_000, ["tools", "json_mode", "json_schema", "streaming", "prompt_caching"], 0.45);
const textTools: Capability[] = ["tools", "json_mode", "json_schema", "streaming"];
const llama33_70b = e({ input: 0.72, output: 0.72 }, 128_000, 8_192, textTools, 0.7);
const mistralLarge2 = e({ input: 2, output: 6 }, 128_000, 8_192, textTools, 0.72);
const titanEmbedV2 = embedding(0.02, 8_192, 0.6);
const cohereEmbedV3 = embedding(0.1, 512, 0.65);

export const CATALOG: Readonly<Record<string, CatalogEntry>> = {
  "gpt-4o": gpt4o,
  "gpt-4o-2024-08-06": gpt4o,
  "gpt-4o-2024-11-20": gpt4o,
  "gpt-4o-mini": gpt4oMini,
  "gpt-4o-mini-2024-07-18": gpt4oMini,
  "gpt-4.1": gpt41,
  "gpt-4.1-2025-04-14": gpt41,
  "gpt-4.1-mini": gpt41Mini,
  "gpt-4.1-mini-2025-04-14": gpt41Mini,
  "gpt-4.1-nano": gpt41Nano,
  "gpt-4.1-nano-2025-04-14": gpt41Nano,
  "gpt-5": gpt5,
  "gpt-5-2025-08-07": gpt5,
  "gpt-5-mini": gpt5Mini,
  "gpt-5-mini-2025-08-07": gpt5Mini,
  "gpt-5-nano": gpt5Nano,
  "gpt-5-nano-2025-08-07": gpt5Nano,
  "gpt-5-pro": gpt5Pro,
  "gpt-5-pro-2025-10-06": gpt5Pro,
  "gpt-5.1": gpt51,
  "gpt-5.1-2025-11-13": gpt51,
  "gpt-5.2": gpt52,
  "gpt-5.2-2025-12-11": gpt52,
  "gpt-5.5": gpt55,
  "gpt-5.5-pro": gpt5xPro,
  "gpt-5.4": gpt54,
  "gpt-5.4-pro": gpt5xPro,
  "gpt-5.4-mini": gpt54Mini,
  "gpt-5.4-nano": gpt54Nano,
  "gpt-5.2-pro": gpt52Pro,
  "gpt-5.2-pro-2025-12-11": gpt52Pro,
  o3,
  "o3-2025-04-16": o3,
  "o3-pro": o3Pro,
  "o3-pro-2025-06-10": o3Pro,
  "o3-mini": o3Mini,
  "o3-mini-2025-01-31": o3Mini,
  "o4-mini": o4Mini,
  "o4-mini-2025-04-16": o4Mini,

  "claude-fable-5-1": fable51,
  "claude-opus-5-5": opus55,
  "claude-opus-5": opus5,
  "claude-sonnet-5-5": sonnet55,
  "claude-opus-4-8": opus46,
  "claude-opus-4-7": opus46,
  "claude-opus-4-6": opus46,
  "claude-sonnet-4-6": sonnet46,
  "claude-opus-4-5": opus45,
  "claude-opus-4-5-20251101": opus45,
  "claude-sonnet-4-5": sonnet45,
  "claude-sonnet-4-5-20250929": sonnet45,
  "claude-haiku-4-5": haiku45,
  "claude-haiku-4-5-20251001": haiku45,
  // Claude on Vertex AI names a version with "@"; global-endpoint prices (PRICE_SOURCES.vertex).
  "claude-opus-4-5@20251101": opus45,
  "claude-sonnet-4-5@20250929": sonnet45,
  "claude-haiku-4-5@20251001": haiku45,

  "gemini-2.5-pro": gemini25Pro,
  "gemini-2.5-flash": gemini25Flash,
  "gemini-2.5-flash-lite": gemini25FlashLite,
  "gemini-3-pro-preview": gemini3Pro,
  "gemini-3-flash-preview": gemini3Flash,

  "text-embedding-3-small": embedding3Small,
  "text-embedding-3-large": embedding3Large,
  "text-embedding-ada-002": embeddingAda,
  "gemini-embedding-001": geminiEmbedding,
  "text-embedding-004": vertexTextEmbedding,
  "text-embedding-005": vertexTextEmbedding,
  "embed-v4.0": cohereEmbedV4,
  "embed-english-v3.0": cohereEmbedV3,
  "embed-multilingual-v3.0": cohereEmbedV3,

  "gemini-2.5-flash-image": gemini25FlashImage,
  "amazon.nova-canvas-v1:0": novaCanvas,
  "amazon.titan-image-generator-v2:0": titanImageV2,
  "imagen-4.0-generate-001": imagen(0.04, 0.85),
  "imagen-4.0-fast-generate-001": imagen(0.02, 0.75),
  "imagen-4.0-ultra-generate-001": imagen(0.06, 0.9),
  "imagen-3.0-generate-002": imagen(0.04, 0.8),
  "gemini-3-pro-image-preview": gemini3ProImage,
  "gpt-image-1": gptImage1,
  "gpt-image-1-mini": gptImage1Mini,
  "dall-e-3": dallE3,
  "dall-e-2": dallE2,
  "omni-moderation-latest": moderationModel(0.9),
  "omni-moderation-2024-09-26": moderationModel(0.9),
  "text-moderation-latest": moderationModel(0.7),
  "text-moderation-stable": moderationModel(0.7),
  "whisper-1": whisper1,
  "mistral-ocr-latest": mistralOcr3,
  "mistral-ocr-2512": mistralOcr3,
  "mistral-ocr-2505": mistralOcr2,
  "gpt-4o-transcribe": gpt4oTranscribe,
  "gpt-4o-mini-transcribe": gpt4oMiniTranscribe,
  "gpt-4o-mini-transcribe-2025-12-15": gpt4oMiniTranscribe,
  "tts-1": tts1,
  "tts-1-hd": tts1Hd,
  "gpt-4o-mini-tts": gpt4oMiniTts,
  "gpt-4o-mini-tts-2025-12-15": gpt4oMiniTts,
  "gpt-realtime": gptRealtime,
  "gpt-realtime-2025-08-28": gptRealtime,
  "gpt-realtime-mini": gptRealtimeMini,
  "gpt-realtime-mini-2025-10-06": gptRealtimeMini,
  "gpt-4o-realtime-preview": gpt4oRealtime,
  "gpt-4o-realtime-preview-2025-06-03": gpt4oRealtime,
  "gpt-4o-mini-realtime-preview": gpt4oMiniRealtime,
  "gpt-4o-mini-realtime-preview-2024-12-17": gpt4oMiniRealtime,
  "rerank-v3.5": cohereRerank35,
  "rerank-english-v3.0": cohereRerankV3,
  "rerank-multilingual-v3.0": cohereRerankV3,

  "anthropic.claude-sonnet-4-5-20250929-v1:0": bedrockSonnet45,
  "global.anthropic.claude-sonnet-4-5-20250929-v1:0": bedrockSonnet45Global,
  "anthropic.claude-haiku-4-5-20251001-v1:0": bedrockHaiku45,
  "global.anthropic.claude-haiku-4-5-20251001-v1:0": bedrockHaiku45Global,
  "anthropic.claude-opus-4-5-20251101-v1:0": bedrockOpus45,
  "global.anthropic.claude-opus-4-5-20251101-v1:0": bedrockOpus45Global,
  "amazon.nova-pro-v1:0": novaPro,
  "amazon.nova-lite-v1:0": novaLite,
  "amazon.nova-micro-v1:0": novaMicro,
  "meta.llama3-3-70b-instruct-v1:0": llama33_70b,
  "mistral.mistral-large-2407-v1:0": mistralLarge2,
  "amazon.titan-embed-text-v2:0": titanEmbedV2,
  "cohere.embed-english-v3": cohereEmbedV3,
  "cohere.embed-multilingual-v3": cohereEmbedV3,
  "cohere.rerank-v3-5:0": cohereRerank35,
  "amazon.rerank-v1:0": amazonRerankV1,
};

/** Bedrock's geographic inference-profile prefixes ("us.anthropic.claude-…"): priced as the base model id. */
const BEDROCK_GEO_PROFILE = /^(us|eu|apac|jp|au|ca|us-gov)\./;

/** The catalog entry of a model id, by exact name after any "vendor/" prefix; never a prefix match. */
export function lookupModel(model: string): CatalogEntry | undefined {
  // A Bedrock inference-profile ARN ends in "/<profile id>" like a vendor prefix.
  const id = model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model;
  if (Object.hasOwn(CATALOG, id)) return CATALOG[id];
  const base = id.replace(BEDROCK_GEO_PROFILE, "");
  return base !== id && Object.hasOwn(CATALOG, base) ? CATALOG[base] : undefined;
}
