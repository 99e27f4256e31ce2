// Token counts of a request's prompt before any provider has counted it: for planning (context
// windows, expected cost), admission (rate limits, budget reservations) and by the mock.
//
// OpenAI models are counted exactly with their own BPE ranks (gpt-tokenizer: o200k_base for
// gpt-4o, gpt-4.1, gpt-5, the o-series and gpt-oss; cl100k_base for gpt-4 and gpt-3.5), with the
// chat framing OpenAI adds (3 tokens a message, 1 for the role, 3 to prime the reply) and tool
// definitions counted the way OpenAI renders them (gpt-tokenizer's countChatCompletionTokens).
//
// Other providers publish no tokenizer. Their counts are estimated from the o200k count, split
// into Latin text (prose and code: o200k tokens × a factor that moves from `prose` to `code` with
// the share of ASCII punctuation, the mark of code and JSON) and CJK text (Han, kana, Hangul and
// full-width punctuation: per character and/or per o200k token), plus each provider's framing:
//
// | family         | Latin prose | code/JSON | CJK                  | framing                             | error bound | source |
// |----------------|-------------|-----------|----------------------|-------------------------------------|-------------|--------|
// | gemini         | 1.02        | 1.10      | 0.62 per character   | none (countTokens: text only)        | ±10 %       | Gemma 3 tokenizer = Gemini 2.0+ vocabulary (Gemma 3 report §2.1), counted on test/providers/token-samples.ts |
// | anthropic      | 1.16        | 1.30      | 1.43 × o200k         | 6 a request + 1 a turn after the first; tools: +346 (tool-use system prompt) | ±10 % text, ±15 % CJK | count_tokens labels in Anthropic's docs (14, 403) and measurements: Claude 3.5 vs GPT-4o +16 % English, +30 % Python (Gupta, 2025); Chinese 1.65 vs 1.15 on one text (Komatsuzaki, 2026) |
// | anthropic-2026 | 1.55        | 1.60      | 1.43 × o200k         | as anthropic                          | ±15 %       | Opus 4.7's tokenizer: 1.0–1.35× 4.6 per Anthropic; measured 1.20–1.46 English, 1.13–1.36 code, 1.00 CJK (claudecodecamp.com, sol.ava.dev, April 2026) |
// | generic        | 1.10        | 1.20      | 1.00 per character   | 4 a message                          | ±20 %, not validated | OpenAI-compatible vendors (Llama, Mistral, Qwen, DeepSeek): 128k–150k vocabularies; a guard band, not a measurement |
//
// The bounds are per text on the labelled sample; over a whole request the errors of different
// parts partly cancel. Images are counted by each provider's published rule (imageTokens below).

import { createRequire } from "node:module";
import { loadO200k } from "./o200k.ts";
import type { ContentPart, UpstreamRequest } from "./types.ts";
import { fileText } from "./types.ts";

/**
 * gpt-tokenizer's o200k_base encoder with gpt-4o's chat framing (./o200k.ts), built at its first
 * use (a quarter of a second of CPU: a process that never counts, a test or the command line, never
 * pays it); the gateway's process builds it as it starts (warmTokenizer, src/main.ts).
 */
let o200k: ReturnType<typeof loadO200k> | undefined;
const enc = () => (o200k ??= loadO200k());
/** Build the encoder now rather than at the first request. */
export const warmTokenizer = (): void => void enc();
const rawO200k: ReturnType<typeof loadO200k>["countTokens"] = (text, o) => enc().countTokens(text, o);
const countChatCompletionTokens: ReturnType<typeof loadO200k>["countChatCompletionTokens"] = (r) => enc().countChatCompletionTokens(r);
/** A text as o200k tokens (special tokens' text read as plain text) and back. */
export const encodeO200k = (text: string): number[] => enc().encode(text, { disallowedSpecial: new Set() });
export const decodeO200k = (tokens: Iterable<number>): string => enc().decode(tokens);

/** Which tokenizer (exact) or calibration (estimated) counts a model's tokens. */
export type TokenFamily = "o200k" | "cl100k" | "anthropic" | "anthropic-2026" | "gemini" | "generic";

export interface Calibration {
  /** o200k tokens × this for Latin prose (no punctuation)… */
  prose: number;
  /** …moving to this for code and JSON (ASCII punctuation ≥ 15 % of the characters). */
  code: number;
  /** Tokens per CJK character (Han, kana, Hangul, CJK and full-width punctuation). */
  cjkPerChar: number;
  /** Tokens per o200k token of CJK text (added to cjkPerChar's). */
  cjkPerO200k: number;
  /** Framing tokens a request, and a message. */
  perRequest: number;
  perMessage: number;
  /** Tokens a provider adds when the request declares tools (Anthropic's tool-use system prompt). */
  toolPrompt: number;
  /** Largest relative error per text on the labelled sample (test/providers/tokens.test.ts checks it). */
  errorBound: number;
}

export const CALIBRATION: Readonly<Record<Exclude<TokenFamily, "o200k" | "cl100k">, Calibration>> = {
  gemini: { prose: 1.02, code: 1.1, cjkPerChar: 0.62, cjkPerO200k: 0, perRequest: 0, perMessage: 0, toolPrompt: 0, errorBound: 0.1 },
  anthropic: { prose: 1.16, code: 1.3, cjkPerChar: 0, cjkPerO200k: 1.43, perRequest: 6, perMessage: 1, toolPrompt: 346, errorBound: 0.1 },
  "anthropic-2026": { prose: 1.55, code: 1.6, cjkPerChar: 0, cjkPerO200k: 1.43, perRequest: 6, perMessage: 1, toolPrompt: 346, errorBound: 0.15 },
  generic: { prose: 1.1, code: 1.2, cjkPerChar: 1, cjkPerO200k: 0, perRequest: 0, perMessage: 4, toolPrompt: 0, errorBound: 0.2 },
};

/** Share of ASCII punctuation at which text counts as code (the `code` factor applies in full). */
const CODE_DENSITY = 0.15;

/**
 * The family of a deployment's model. OpenRouter-style names ("anthropic/claude-sonnet-4.5")
 * are read by their vendor prefix.
 */
export function tokenFamily(model: string, providerType?: string): TokenFamily {
  const slash = model.lastIndexOf("/");
  const vendor = slash >= 0 ? model.slice(0, model.indexOf("/")).toLowerCase() : "";
  const m = (slash >= 0 ? model.slice(slash + 1) : model).toLowerCase();
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|chatgpt|o\d|codex)/.test(m)) return "o200k";
  if (/^(gpt-4|gpt-3\.5|text-embedding-(ada|3))/.test(m)) return "cl100k";
  if (/claude/.test(m)) {
    // Opus 4.7 brought a new tokenizer; later models keep it.
    const v = /claude-(?:[a-z]+-)?(\d+)(?:[-.](\d{1,2})(?!\d))?/.exec(m);
    const major = v ? Number(v[1]) : 0;
    const minor = v?.[2] ? Number(v[2]) : 0;
    return major > 4 || (major === 4 && minor >= 7) ? "anthropic-2026" : "anthropic";
  }
  if (/^(gemini|gemma)/.test(m) || vendor === "google") return "gemini";
  if (vendor === "openai") return "o200k";
  if (vendor === "anthropic") return "anthropic";
  if (providerType === "openai" || providerType === "azure") return "o200k";
  if (providerType === "anthropic") return "anthropic";
  if (providerType === "gemini") return "gemini";
  // The mock reports what this module counts; o200k keeps its figures exact.
  if (providerType === "mock") return "o200k";
  return "generic";
}

// ---- text ----

/** User text is counted as text: "<|endoftext|>" typed by a caller is not a special token. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

// Byte-pair merging is quadratic in the length of one pre-token: 200,000 letters without a space
// take 44 s. Runs of RUN or more characters with no space or punctuation (where the tokenizer's
// own pre-tokenizer would split) are counted in pieces of PIECE; a cut costs at most a token,
// and ordinary text, which has no such runs, is counted whole and exactly. One linear pass.
const RUN = 256;
const PIECE = 128;

/** Where o200k/cl100k's pre-tokenizer splits anyway: whitespace, ASCII and CJK punctuation. */
const isBreak = (c: number) =>
  c <= 32 || (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 127) || c === 0xa0 || (c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xff20);

function countRuns(text: string, count: (t: string) => number): number {
  if (text.length < RUN) return count(text);
  let n = 0;
  let last = 0;
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && !isBreak(text.charCodeAt(i))) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start >= RUN) {
      n += count(text.slice(last, start));
      for (let k = start; k < i; k += PIECE) n += count(text.slice(k, Math.min(i, k + PIECE)));
      last = i;
    }
    start = -1;
  }
  return last === 0 ? count(text) : n + count(text.slice(last));
}

// Past EXACT_CHARS (about 60k tokens of prose, 60 ms), one block in four is counted and the rest
// extrapolated from them: a 4 MB prompt costs about 40 ms instead of 600, within a percent or so.
const EXACT_CHARS = 262_144;
const BLOCK = 32_768;

function countBounded(text: string, count: (t: string) => number): number {
  if (text.length <= EXACT_CHARS) return countRuns(text, count);
  let sampled = 0;
  let sampledChars = 0;
  for (let i = EXACT_CHARS, k = 0; i < text.length; i += BLOCK, k++) {
    if (k % 4 !== 0) continue;
    const b = text.slice(i, i + BLOCK);
    sampled += countRuns(b, count);
    sampledChars += b.length;
  }
  return countRuns(text.slice(0, EXACT_CHARS), count) + Math.ceil((sampled * (text.length - EXACT_CHARS)) / sampledChars);
}

const o200kText = (t: string) => rawO200k(t, AS_TEXT);
/** o200k_base tokens of a text: exact up to EXACT_CHARS, linear in its length whatever it holds. */
const countO200k = (text: string) => countBounded(text, o200kText);

let cl100kRaw: ((text: string, o?: typeof AS_TEXT) => number) | undefined;
const cl100k = (text: string) => countBounded(text, (t) => cl100kRaw!(t, AS_TEXT));
let cl100kChat: ((r: { messages: { role: "user"; content: string }[]; functions?: unknown[] }) => number) | undefined;
/** cl100k_base is loaded on first use (its ranks cost 6 MB of heap): few deployments still need it. */
function loadCl100k(): void {
  if (cl100kRaw) return;
  const mod = createRequire(import.meta.url)("gpt-tokenizer/cjs/model/gpt-4-turbo") as { countTokens: typeof cl100kRaw; countChatCompletionTokens: typeof cl100kChat };
  cl100kRaw = mod.countTokens;
  cl100kChat = mod.countChatCompletionTokens;
}

/** What a text is made of, for every family at once. */
export interface TextStats {
  /** Exact o200k_base tokens. */
  o200k: number;
  /** o200k tokens of the Latin (non-CJK) part, split by how code-like it is. */
  prose: number;
  code: number;
  /** CJK characters, and the o200k tokens they took. */
  cjkChars: number;
  cjkO200k: number;
}

const isCjk = (c: number) =>
  (c >= 0x3000 && c <= 0x30ff) || // CJK punctuation, hiragana, katakana
  (c >= 0x3400 && c <= 0x4dbf) ||
  (c >= 0x4e00 && c <= 0x9fff) ||
  (c >= 0xac00 && c <= 0xd7af) || // Hangul syllables
  (c >= 0xf900 && c <= 0xfaff) ||
  (c >= 0xff00 && c <= 0xffef); // full-width forms
const CJK_RUNS = /[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+/g;

// Long texts are counted once: a system prompt or a conversation's history comes back on every
// turn. Bounded by entries and by characters kept (oldest out first).
const CACHE_MIN_CHARS = 256;
const CACHE_MAX_ENTRIES = 2048;
const CACHE_MAX_CHARS = 4_000_000;
const statsCache = new Map<string, TextStats>();
let cachedChars = 0;

function computeStats(text: string): TextStats {
  const o200k = countO200k(text);
  let cjkChars = 0;
  let punct = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      // ASCII punctuation and symbols (not letters, digits or whitespace).
      if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) punct++;
    } else if (isCjk(c)) cjkChars++;
  }
  let latin = o200k;
  let cjkO200k = 0;
  if (cjkChars > 0) {
    latin = cjkChars === text.length ? 0 : countO200k(text.replace(CJK_RUNS, " "));
    cjkO200k = Math.max(0, o200k - latin);
  }
  const latinChars = text.length - cjkChars;
  const w = latinChars > 0 ? Math.min(1, punct / latinChars / CODE_DENSITY) : 0;
  return { o200k, prose: latin * (1 - w), code: latin * w, cjkChars, cjkO200k };
}

// Short texts come back too (a one-line system prompt, a fixed instruction, a classifier's
// question): a small cache of their own, so that they never push the long ones out. A miss costs a
// string hash and an insertion beside the count itself.
const SHORT_CACHE_MAX_ENTRIES = 4096;
const shortCache = new Map<string, TextStats>();

/** The stats of one text (cached). */
export function textStats(text: string): TextStats {
  if (text.length < CACHE_MIN_CHARS) {
    let s = shortCache.get(text);
    if (s) return s;
    s = computeStats(text);
    if (shortCache.size >= SHORT_CACHE_MAX_ENTRIES) shortCache.delete(shortCache.keys().next().value as string);
    shortCache.set(text, s);
    return s;
  }
  const hit = statsCache.get(text);
  if (hit) return hit;
  const s = computeStats(text);
  statsCache.set(text, s);
  cachedChars += text.length;
  while (statsCache.size > CACHE_MAX_ENTRIES || cachedChars > CACHE_MAX_CHARS) {
    const oldest = statsCache.keys().next().value as string;
    statsCache.delete(oldest);
    cachedChars -= oldest.length;
  }
  return s;
}

/** Tokens of a text in an estimated family (fractional: rounded once per request). */
export function calibratedTokens(s: TextStats, c: Calibration): number {
  return s.prose * c.prose + s.code * c.code + s.cjkChars * c.cjkPerChar + s.cjkO200k * c.cjkPerO200k;
}

/** Tokens of one text for a family: exact for OpenAI's, estimated otherwise. */
export function countTextTokens(text: string, family: TokenFamily): number {
  if (family === "o200k") return countO200k(text);
  if (family === "cl100k") {
    loadCl100k();
    return cl100k(text);
  }
  return Math.ceil(calibratedTokens(textStats(text), CALIBRATION[family]));
}

// ---- images ----

/** Dimensions assumed when an image's size cannot be read (a URL, or bytes of an unknown format). */
export const DEFAULT_IMAGE_SIZE = { width: 1024, height: 1024 } as const;

/**
 * Image tokens by each provider's published rule:
 * - OpenAI (gpt-4o, gpt-4.1, gpt-5, o-series): detail "low" 85; otherwise the image is fitted
 *   into 2048×2048, its shorter side scaled down to 768, and each 512 px tile costs 170 on top of
 *   a base of 85 ("auto" is counted as "high"). 1024×1024 → 765.
 * - Anthropic: width × height / 750 after scaling down to the model's native resolution (long
 *   edge 1568 px and about 1.2 MP, i.e. 1600 tokens: 1092×1092 is the largest square; Opus 4.7 and
 *   later 2576 px and 3.75 MP). 1024×1024 → 1399.
 * - Gemini: 258 when both sides are ≤ 384 px, otherwise 258 per 768×768 tile. 1024×1024 → 1032.
 * - Others: as OpenAI.
 * An image whose size cannot be read (a URL) is counted at DEFAULT_IMAGE_SIZE.
 */
export function imageTokens(part: Extract<ContentPart, { type: "image" }>, family: TokenFamily): number {
  const { width, height } = imageSize(part) ?? DEFAULT_IMAGE_SIZE;
  switch (family) {
    case "anthropic":
    case "anthropic-2026": {
      const [edge, pixels] = family === "anthropic" ? [1568, 1_200_000] : [2576, 3_750_000];
      let s = Math.min(1, edge / Math.max(width, height));
      s = Math.min(s, Math.sqrt(pixels / (width * height)));
      return Math.min(Math.ceil((width * s * (height * s)) / 750), Math.floor(pixels / 750));
    }
    case "gemini":
      return width <= 384 && height <= 384 ? 258 : Math.ceil(width / 768) * Math.ceil(height / 768) * 258;
    default: {
      if (part.detail === "low") return 85;
      let w = width;
      let h = height;
      const fit = Math.min(1, 2048 / Math.max(w, h));
      w *= fit;
      h *= fit;
      const short = Math.min(1, 768 / Math.min(w, h));
      w *= short;
      h *= short;
      return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
    }
  }
}

/** Width and height from the first bytes of a PNG, GIF, WebP or JPEG (inline bytes or a data: URL). */
export function imageSize(part: { url?: string; data?: Uint8Array }): { width: number; height: number } | undefined {
  let b = part.data;
  if (!b && part.url?.startsWith("data:")) {
    const comma = part.url.indexOf(",");
    if (comma < 0 || !part.url.slice(0, comma).endsWith(";base64")) return undefined;
    // 64 KB of image is enough to reach a JPEG's frame header past its EXIF block.
    b = Buffer.from(part.url.slice(comma + 1, comma + 1 + 87_384), "base64");
  }
  if (!b || b.length < 24) return undefined;
  const u16be = (i: number) => (b[i] << 8) | b[i + 1];
  const u32be = (i: number) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  const u16le = (i: number) => b[i] | (b[i + 1] << 8);
  const ok = (w: number, h: number) => (w > 0 && h > 0 ? { width: w, height: h } : undefined);
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return ok(u32be(16), u32be(20));
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return ok(u16le(6), u16le(8));
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50 && b.length >= 30) {
    const kind = String.fromCharCode(b[12], b[13], b[14], b[15]);
    if (kind === "VP8 ") return ok(u16le(26) & 0x3fff, u16le(28) & 0x3fff);
    if (kind === "VP8L") return ok(1 + (((b[22] & 0x3f) << 8) | b[21]), 1 + (((b[24] & 0x0f) << 10) | (b[23] << 2) | ((b[22] & 0xc0) >> 6)));
    if (kind === "VP8X") return ok(1 + (b[24] | (b[25] << 8) | (b[26] << 16)), 1 + (b[27] | (b[28] << 8) | (b[29] << 16)));
    return undefined;
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i + 9 < b.length; ) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1];
      if (marker === 0xff) {
        i++;
        continue;
      }
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): height, then width.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return ok(u16be(i + 7), u16be(i + 5));
      i += 2 + u16be(i + 2);
    }
  }
  return undefined;
}

// ---- requests ----

/**
 * What a prompt is made of, counted once and read for any family (the planner asks for each
 * candidate's family; the o200k pass is shared).
 */
export interface PromptStats {
  /** Every text of the prompt (message parts, tool-call names and arguments). */
  text: TextStats;
  /** Texts, for families that need a second tokenizer (cl100k), counted only when asked. */
  texts: string[];
  messages: number;
  /** System and developer messages. */
  system: number;
  /** Messages with a participant name (OpenAI adds a token each). */
  named: number;
  images: Extract<ContentPart, { type: "image" }>[];
  /** PDF pages of the prompt's file parts (text documents count as their text). */
  pdfPages: number;
  /** Tool definitions as OpenAI renders them (o200k, exact; the measure for other families too). */
  tools?: { openai: number; count: number };
}

const sum = (a: TextStats, b: TextStats): TextStats => ({
  o200k: a.o200k + b.o200k,
  prose: a.prose + b.prose,
  code: a.code + b.code,
  cjkChars: a.cjkChars + b.cjkChars,
  cjkO200k: a.cjkO200k + b.cjkO200k,
});
const ZERO_STATS: TextStats = { o200k: 0, prose: 0, code: 0, cjkChars: 0, cjkO200k: 0 };

// Tool lists come back unchanged on every request of a service: counted once per distinct list.
const toolCache = new Map<string, { openai: number; count: number }>();

export function promptStats(req: Pick<UpstreamRequest, "messages" | "tools"> & Partial<Pick<UpstreamRequest, "responseFormat">>): PromptStats {
  let text = ZERO_STATS;
  const texts: string[] = [];
  const images: PromptStats["images"] = [];
  let pdfPages = 0;
  let named = 0;
  let system = 0;
  for (const m of req.messages) {
    if (m.name) named++;
    if (m.role === "system" || m.role === "developer") system++;
    for (const p of m.content) {
      if (p.type === "text") {
        if (p.text) {
          text = sum(text, textStats(p.text));
          texts.push(p.text);
        }
      } else if (p.type === "file") {
        const t = fileText(p);
        if (t === undefined) pdfPages += pdfPageCount(p.data);
        else if (t) {
          text = sum(text, textStats(t));
          texts.push(t);
        }
      } else images.push(p);
    }
    for (const c of m.toolCalls ?? []) {
      const s = `${c.name} ${c.arguments}`;
      text = sum(text, textStats(s));
      texts.push(s);
    }
  }
  // A JSON schema for structured output is part of the prompt too.
  if (req.responseFormat?.type === "json_schema") {
    const s = JSON.stringify(req.responseFormat.schema);
    text = sum(text, textStats(s));
    texts.push(s);
  }
  let tools: PromptStats["tools"];
  if (req.tools?.length) {
    const functions = req.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters ?? { type: "object", properties: {} } }));
    const json = JSON.stringify(functions);
    tools = toolCache.get(json);
    if (!tools) {
      const probe = { messages: [{ role: "user" as const, content: "" }] };
      const openai = countChatCompletionTokens!({ ...probe, functions: functions as never }) - countChatCompletionTokens!(probe);
      tools = { openai, count: functions.length };
      if (toolCache.size >= 256) toolCache.delete(toolCache.keys().next().value as string);
      toolCache.set(json, tools);
    }
  }
  return { text, texts, messages: req.messages.length, system, named, images, pdfPages, tools };
}

/**
 * Input tokens a PDF page is estimated at, whatever the family: providers read each page as text
 * and as an image (Anthropic documents 1,500-3,000 tokens a page); the provider's count replaces
 * the estimate when it answers.
 */
export const PDF_PAGE_TOKENS = 2_000;

/**
 * The pages of a PDF, from its page objects (`/Type /Page`, not `/Pages`), without parsing it; at
 * least 1. Compressed object streams can hide them: those count as one page per 100 KB.
 */
export function pdfPageCount(data: Uint8Array): number {
  // A byte search, not a string and a regex: 0.1 ms for a 3 MB file instead of 1-8 ms.
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pages = 0;
  for (let i = b.indexOf("/Type"); i !== -1; i = b.indexOf("/Type", i + 5)) {
    let j = i + 5;
    // PDF white space: NUL, tab, line feed, form feed, carriage return, space.
    while (j < b.length && (b[j] === 0x20 || b[j] === 0x0a || b[j] === 0x0d || b[j] === 0x09 || b[j] === 0x0c || b[j] === 0x00)) j++;
    // "/Page" not followed by a letter ("/Pages" is the page tree).
    if (b[j] === 0x2f && b[j + 1] === 0x50 && b[j + 2] === 0x61 && b[j + 3] === 0x67 && b[j + 4] === 0x65) {
      const c = b[j + 5] ?? 0;
      if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) pages++;
    }
  }
  return Math.max(1, pages || Math.ceil(data.byteLength / 102_400));
}

/**
 * An upper bound on any family's count of a prompt, from its length alone (no tokenizing): a BPE
 * token is at least one UTF-8 byte (at most 3 per UTF-16 unit), and no calibration gives more than
 * 1.6 tokens per o200k token (CJK: 1 a character plus 1.43 per o200k token), so 6 a character
 * covers every family; framing and Anthropic's tool prompt on top. Undefined with images, whose
 * counts depend on their size: those prompts are counted.
 */
export function promptTokenBound(req: Pick<UpstreamRequest, "messages" | "tools"> & Partial<Pick<UpstreamRequest, "responseFormat">>): number | undefined {
  let chars = 0;
  for (const m of req.messages) {
    for (const p of m.content) {
      if (p.type !== "text") return undefined;
      chars += p.text.length;
    }
    for (const c of m.toolCalls ?? []) chars += c.name.length + c.arguments.length + 1;
    if (m.name) chars += m.name.length;
  }
  if (req.responseFormat?.type === "json_schema") chars += JSON.stringify(req.responseFormat.schema).length;
  if (req.tools?.length) chars += JSON.stringify(req.tools).length;
  return 6 * chars + 8 * req.messages.length + 400;
}

/** Prompt tokens of a request for a family, from its stats. */
export function promptTokensFor(s: PromptStats, family: TokenFamily): number {
  let images = s.pdfPages * PDF_PAGE_TOKENS;
  for (const p of s.images) images += imageTokens(p, family);
  if (family === "o200k" || family === "cl100k") {
    let textTokens = s.text.o200k;
    let toolTokens = s.tools?.openai ?? 0;
    if (family === "cl100k") {
      loadCl100k();
      textTokens = 0;
      for (const t of s.texts) textTokens += cl100k(t);
      if (s.tools) toolTokens = Math.ceil(s.tools.openai * 1.1);
    }
    // OpenAI's chat framing: <|start|>{role}<|message|>…<|end|> a message, 3 to prime the reply.
    return textTokens + 4 * s.messages + s.named + 3 + toolTokens + images;
  }
  const c = CALIBRATION[family];
  // Anthropic takes system prompts apart from the turns, and frames the turns after the first.
  const framed = family.startsWith("anthropic") ? Math.max(0, s.messages - s.system - 1) : s.messages;
  let t = calibratedTokens(s.text, c) + c.perRequest + c.perMessage * framed;
  // Tools are rendered compactly (not as JSON) by every provider that says how: OpenAI's
  // rendering is the measure, at the family's prose rate (Anthropic's documented 403: 424 here).
  if (s.tools) t += s.tools.openai * c.prose + c.toolPrompt;
  return Math.ceil(t) + images;
}

/** Prompt tokens of a request for a family (o200k by default: the mock counts so). */
export function estimatePromptTokens(req: Pick<UpstreamRequest, "messages" | "tools"> & Partial<Pick<UpstreamRequest, "responseFormat">>, family: TokenFamily = "o200k"): number {
  return Math.max(1, promptTokensFor(promptStats(req), family));
}

/**
 * A cheap running estimate of output tokens from streamed text, without a tokenizer: 3.5 Latin
 * characters or 1 CJK character a token, on the high side of every family above for prose (so
 * a budget hold is extended a little early rather than late).
 */
export function quickTokens(text: string): number {
  let cjk = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x3000 && isCjk(text.charCodeAt(i))) cjk++;
  return (text.length - cjk) / 3.5 + cjk;
}

/**
 * The old rough estimate (four characters a token, 16 a message, 765 an image), kept for the
 * classifier: its complexity features were tuned on it, and it must stay cheap on huge prompts.
 */
export function roughPromptTokens(req: Pick<UpstreamRequest, "messages" | "tools">): number {
  let chars = 0;
  let images = 0;
  for (const m of req.messages) {
    chars += 16;
    for (const p of m.content) {
      if (p.type === "text") chars += p.text.length;
      else images++;
    }
    for (const c of m.toolCalls ?? []) chars += c.name.length + c.arguments.length;
  }
  for (const t of req.tools ?? []) chars += t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.parameters ?? {}).length;
  return Math.max(1, Math.ceil(chars / 4)) + images * 765;
}
