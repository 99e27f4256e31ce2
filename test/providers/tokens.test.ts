// Token counting: exact o200k/cl100k counts (checked against gpt-tokenizer's own documented
// fixtures), the calibration of the other families against labelled counts within the bounds the
// table in src/providers/tokens.ts states, and the published image rules.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CALIBRATION,
  calibratedTokens,
  countTextTokens,
  DEFAULT_IMAGE_SIZE,
  estimatePromptTokens,
  imageSize,
  imageTokens,
  textStats,
  tokenFamily,
  type TokenFamily,
} from "../../src/providers/tokens.ts";
import type { ChatMessage, ToolDef } from "../../src/providers/types.ts";
import { SAMPLES } from "./token-samples.ts";

const user = (text: string): ChatMessage => ({ role: "user", content: [{ type: "text", text }] });
const within = (est: number, label: number, bound: number, what: string) =>
  assert.ok(Math.abs(est / label - 1) <= bound, `${what}: estimated ${est.toFixed(1)}, labelled ${label.toFixed(1)} (${((est / label - 1) * 100).toFixed(1)} %, bound ±${bound * 100} %)`);

test("o200k_base and cl100k_base count exactly (gpt-tokenizer's documented fixtures)", () => {
  // src/GptEncoding.test.ts of gpt-tokenizer 4.0.0: the token ids listed per encoding.
  const o200k: [string, number][] = [
    ["This is some text", 4],
    ["indivisible", 3],
    ["hello 👋 world 🌍", 6],
    ["toString constructor hasOwnProperty valueOf", 8],
    ["hello, I am a text, and I have commas. a,b,c", 15],
    ["What's", 1],
  ];
  for (const [s, n] of o200k) assert.equal(countTextTokens(s, "o200k"), n, s);
  const cl100k: [string, number][] = [
    ["This is some text", 4],
    ["hello 👋 world 🌍", 7],
    ["toString constructor hasOwnProperty valueOf", 6],
    ["hello, I am a text, and I have commas. a,b,c", 15],
  ];
  for (const [s, n] of cl100k) assert.equal(countTextTokens(s, "cl100k"), n, s);
  // A caller's text is text: a special token's spelling does not throw and is not one token.
  assert.ok(countTextTokens("hello <|endoftext|> world", "o200k") > 3);
});

test("a Chinese prompt is counted by its tokens, not a quarter of its characters", () => {
  const zh = SAMPLES.find((s) => s.name === "chinese prose")!.text;
  const exact = countTextTokens(zh, "o200k");
  assert.ok(exact > zh.length / 2, `${exact} tokens for ${zh.length} characters`);
  // The prompt: text + OpenAI's framing (3 + 1 for the message, 3 for the reply).
  assert.equal(estimatePromptTokens({ messages: [user(zh)] }, "o200k"), exact + 7);
  assert.ok(estimatePromptTokens({ messages: [user(zh)] }, "o200k") > 2.5 * Math.ceil(zh.length / 4));
});

test("model names map to token families", () => {
  const cases: [string, string | undefined, TokenFamily][] = [
    ["gpt-4o", "openai", "o200k"],
    ["gpt-4o-mini", "openai", "o200k"],
    ["gpt-4.1-nano", "azure", "o200k"],
    ["gpt-5.2", "openai", "o200k"],
    ["o3-pro", "openai", "o200k"],
    ["o4-mini", "openai", "o200k"],
    ["gpt-4-turbo", "openai", "cl100k"],
    ["gpt-3.5-turbo", "azure", "cl100k"],
    ["claude-sonnet-4-5-20250929", "anthropic", "anthropic"],
    ["claude-3-5-haiku-20241022", "anthropic", "anthropic"],
    ["claude-opus-4-20250514", "anthropic", "anthropic"],
    ["claude-opus-4-7", "anthropic", "anthropic-2026"],
    ["claude-fable-5", "anthropic", "anthropic-2026"],
    ["gemini-2.5-pro", "gemini", "gemini"],
    ["anthropic/claude-sonnet-4.5", "openrouter", "anthropic"],
    ["anthropic/claude-opus-4.7", "openrouter", "anthropic-2026"],
    ["google/gemini-2.5-flash", "openrouter", "gemini"],
    ["openai/gpt-4o", "openrouter", "o200k"],
    ["meta-llama/llama-3.3-70b-instruct", "openrouter", "generic"],
    ["mistral-large-latest", "openai-compatible", "generic"],
    ["mock-a", "mock", "o200k"],
  ];
  for (const [model, type, family] of cases) assert.equal(tokenFamily(model, type), family, model);
});

test("Gemini: the calibration holds on the labelled sample (Gemma 3 tokenizer counts)", () => {
  const c = CALIBRATION.gemini;
  const byKind = new Map<string, number>();
  for (const s of SAMPLES) {
    assert.ok(s.gemini > 0, `${s.name} has no label`);
    const est = calibratedTokens(textStats(s.text), c);
    within(est, s.gemini, c.errorBound, `gemini ${s.name}`);
    byKind.set(s.kind, Math.max(byKind.get(s.kind) ?? 0, Math.abs(est / s.gemini - 1)));
  }
  // Every kind is in the sample.
  assert.deepEqual([...byKind.keys()].sort(), ["cjk", "code", "latin", "tool"]);
  // Counted as the API counts a prompt: "The quick brown fox jumps over the lazy dog." is 10
  // tokens in Gemini's countTokens documentation (and in the Gemma 3 vocabulary).
  within(estimatePromptTokens({ messages: [user("The quick brown fox jumps over the lazy dog.")] }, "gemini"), 10, c.errorBound + 0.01, "gemini fox");
});

test("Anthropic: the calibration holds against count_tokens labels and published ratios", () => {
  const c = CALIBRATION.anthropic;
  // count_tokens results printed in Anthropic's token-counting guide (claude-sonnet-4-5) and the
  // claude-token-count README: whole requests, framing and tool-use system prompt included.
  const weather: ToolDef = {
    name: "get_weather",
    description: "Get the current weather in a given location",
    parameters: { type: "object", properties: { location: { type: "string", description: "The city and state, e.g. San Francisco, CA" } }, required: ["location"] },
  };
  within(estimatePromptTokens({ messages: [{ role: "system", content: [{ type: "text", text: "You are a scientist" }] }, user("Hello, Claude")] }, "anthropic"), 14, 0.1, "system + Hello, Claude");
  within(estimatePromptTokens({ messages: [user("What's the weather like in San Francisco?")], tools: [weather] }, "anthropic"), 403, 0.1, "get_weather");
  within(estimatePromptTokens({ messages: [user("Hello, world")] }, "anthropic"), 10, 0.1, "Hello, world");
  // Text: the same content measured on Claude and o200k: English +16 %, Python +30 % (Claude 3.5
  // Sonnet vs GPT-4o); Chinese 1.65 vs 1.15 of an English baseline (× 1.43). Labels derived from
  // those ratios and each sample's exact o200k count.
  const ratio = { latin: 1.16, code: 1.3, tool: 1.3, cjk: 1.65 / 1.15 };
  for (const s of SAMPLES) {
    const st = textStats(s.text);
    within(calibratedTokens(st, c), st.o200k * ratio[s.kind], c.errorBound, `anthropic ${s.name}`);
  }
  // Opus 4.7's tokenizer against 4.6's, measured: prose ×1.20–1.46, code ×1.13–1.36, CJK ×1.00.
  const c26 = CALIBRATION["anthropic-2026"];
  const newer = { latin: 1.33, code: 1.25, tool: 1.25, cjk: 1 };
  for (const s of SAMPLES) {
    const st = textStats(s.text);
    within(calibratedTokens(st, c26), st.o200k * ratio[s.kind] * newer[s.kind], c26.errorBound, `anthropic-2026 ${s.name}`);
  }
});

test("every estimated family overestimates a Chinese prompt rather than missing most of it", () => {
  const zh = SAMPLES.filter((s) => s.kind === "cjk");
  for (const family of ["gemini", "anthropic", "anthropic-2026", "generic"] as const) {
    for (const s of zh) {
      const est = countTextTokens(s.text, family);
      const floor = family === "gemini" ? s.gemini : countTextTokens(s.text, "o200k");
      assert.ok(est >= floor * (1 - CALIBRATION[family].errorBound), `${family} ${s.name}: ${est} < ${floor}`);
    }
  }
});

test("texts are counted once: long ones in a cache, short ones in a cache of their own that cannot push the long ones out", () => {
  const long = SAMPLES[0].text.repeat(2);
  const first = textStats(long);
  assert.equal(textStats(long), first);
  assert.equal(textStats("short text"), textStats("short text"));
  // Many distinct short texts (user messages) come and go; the long one stays counted once.
  for (let i = 0; i < 10_000; i++) textStats(`message number ${i}`);
  assert.equal(textStats(long), first);
  assert.deepEqual(textStats("message number 3"), textStats(`message number ${3}`));
});

// ---- images ----

const png = (w: number, h: number) => {
  const b = new Uint8Array(33);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, w);
  new DataView(b.buffer).setUint32(20, h);
  return b;
};
const jpeg = (w: number, h: number) => {
  // SOI, an APP0 segment of 16 bytes, then SOF0 with height and width.
  const b = new Uint8Array(2 + 18 + 19);
  b.set([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]);
  const sof = 20;
  b.set([0xff, 0xc0, 0x00, 0x11, 0x08], sof);
  new DataView(b.buffer).setUint16(sof + 5, h);
  new DataView(b.buffer).setUint16(sof + 7, w);
  return b;
};
const gif = (w: number, h: number) => {
  const b = new Uint8Array(24);
  b.set([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]);
  new DataView(b.buffer).setUint16(6, w, true);
  new DataView(b.buffer).setUint16(8, h, true);
  return b;
};

test("image sizes are read from PNG, JPEG and GIF headers, inline or in a data: URL", () => {
  assert.deepEqual(imageSize({ data: png(640, 480) }), { width: 640, height: 480 });
  assert.deepEqual(imageSize({ data: jpeg(1920, 1080) }), { width: 1920, height: 1080 });
  assert.deepEqual(imageSize({ data: gif(32, 16) }), { width: 32, height: 16 });
  assert.deepEqual(imageSize({ url: `data:image/png;base64,${Buffer.from(png(800, 600)).toString("base64")}` }), { width: 800, height: 600 });
  assert.equal(imageSize({ url: "https://example.com/cat.png" }), undefined);
});

test("image tokens follow each provider's published rule", () => {
  const img = (w: number, h: number, detail?: "low" | "high" | "auto") => ({ type: "image" as const, data: png(w, h), mediaType: "image/png", ...(detail ? { detail } : {}) });
  // OpenAI (vision guide): low is 85 whatever the size; 1024×1024 high is 4 tiles, 765;
  // 2048×4096 high is fitted to 1024×2048, then 768×1536: 6 tiles, 1105.
  assert.equal(imageTokens(img(4096, 8192, "low"), "o200k"), 85);
  assert.equal(imageTokens(img(1024, 1024, "high"), "o200k"), 765);
  assert.equal(imageTokens(img(2048, 4096, "high"), "o200k"), 1105);
  assert.equal(imageTokens(img(512, 512, "auto"), "o200k"), 255);
  // Anthropic (vision guide): width × height / 750; 1092×1092 is about 1590; larger images are
  // scaled down to about 1.2 MP (1600 tokens) first (Opus 4.7 and later: 3.75 MP).
  assert.equal(imageTokens(img(1000, 1000), "anthropic"), 1334);
  assert.equal(imageTokens(img(1092, 1092), "anthropic"), 1590);
  assert.ok(imageTokens(img(4000, 3000), "anthropic") <= 1600);
  assert.ok(imageTokens(img(4000, 3000), "anthropic-2026") <= 5000);
  assert.ok(imageTokens(img(4000, 3000), "anthropic-2026") > 4000);
  // Gemini: 258 when both sides are ≤ 384, else 258 per 768×768 tile.
  assert.equal(imageTokens(img(384, 300), "gemini"), 258);
  assert.equal(imageTokens(img(768, 768), "gemini"), 258);
  assert.equal(imageTokens(img(1024, 1024), "gemini"), 1032);
  // An image whose size is unknown (a URL) counts as DEFAULT_IMAGE_SIZE.
  assert.deepEqual(DEFAULT_IMAGE_SIZE, { width: 1024, height: 1024 });
  const url = { type: "image" as const, url: "https://example.com/cat.png" };
  assert.equal(imageTokens(url, "o200k"), 765);
  assert.equal(imageTokens(url, "anthropic"), 1399);
  assert.equal(imageTokens(url, "gemini"), 1032);
  // In a prompt: text plus the image by the family's rule.
  const prompt = { messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "What is in this picture?" }, url] }] };
  assert.equal(estimatePromptTokens(prompt, "o200k"), countTextTokens("What is in this picture?", "o200k") + 7 + 765);
});

describe("the length bound the planner uses instead of counting", () => {
  test("is never below any family's count, for every labelled sample, with tools and many turns", async () => {
    const { promptTokenBound, promptStats, promptTokensFor } = await import("../../src/providers/tokens.ts");
    const families = ["o200k", "cl100k", "anthropic", "anthropic-2026", "gemini", "generic"] as const;
    const tools = [{ name: "search_orders", description: "Search orders", parameters: { type: "object", properties: { q: { type: "string" } } } }];
    for (const s of SAMPLES) {
      for (const req of [
        { messages: [{ role: "user" as const, content: [{ type: "text" as const, text: s.text }] }] },
        { messages: Array.from({ length: 6 }, (_, i) => ({ role: (i % 2 ? "assistant" : "user") as "user" | "assistant", content: [{ type: "text" as const, text: s.text.slice(0, 40 + i) }] })), tools },
      ]) {
        const bound = promptTokenBound(req);
        assert.ok(bound !== undefined);
        const st = promptStats(req);
        for (const f of families) assert.ok(promptTokensFor(st, f) <= bound, `${s.name} (${f}): ${promptTokensFor(st, f)} > bound ${bound}`);
      }
    }
    // Images are counted, not bounded.
    assert.equal(promptTokenBound({ messages: [{ role: "user", content: [{ type: "image", url: "https://example.com/a.png" }] }] }), undefined);
  });
});

describe("PDF pages", () => {
  test("counted from the page objects: /Type /Page with any white space, never the /Pages tree", async () => {
    const { pdfPageCount, estimatePromptTokens, PDF_PAGE_TOKENS } = await import("../../src/providers/tokens.ts");
    const pdf = (body: string) => Buffer.from(`%PDF-1.7\n${body}\n%%EOF`);
    assert.equal(pdfPageCount(pdf("1 0 obj << /Type /Pages /Count 3 >> endobj 2 0 obj << /Type /Page >> endobj 3 0 obj <</Type/Page/Parent 1 0 R>> endobj 4 0 obj << /Type\r\n  /Page >> endobj")), 3);
    // Page objects hidden in compressed object streams: one page per 100 KB, at least one.
    assert.equal(pdfPageCount(pdf("stream x endstream")), 1);
    assert.equal(pdfPageCount(Buffer.concat([pdf(""), Buffer.alloc(250_000)])), 3);
    // A prompt with a two-page PDF: 2,000 tokens a page on top of the text.
    const two = pdf("<< /Type /Page >> << /Type /Page >>");
    const withPdf = estimatePromptTokens({ messages: [{ role: "user", content: [{ type: "file", data: two, mediaType: "application/pdf" }, { type: "text", text: "Summarise" }] }] });
    const without = estimatePromptTokens({ messages: [{ role: "user", content: [{ type: "text", text: "Summarise" }] }] });
    assert.equal(withPdf - without, 2 * PDF_PAGE_TOKENS);
  });
});
