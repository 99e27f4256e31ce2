// The built-in mock provider: deterministic replies with realistic usage, configurable latency,
// time to first token, chunking and failure injection, so the gateway runs (and fallbacks can be
// demonstrated) with no keys and no network. Embeddings are deterministic unit vectors derived
// from a hash of each text (same text, same vector), `mock.dimensions` long unless asked otherwise.
// Rerank scores each document by how many words it shares with the query (bags of words). Images
// are real PNGs of the size asked for (at most 1024 on a side), coloured by a hash of the prompt and
// their position, billed per image. Speech is a real WAV (or PCM, or silent MP3 frames) that carries
// its text, and transcription reads that text back (./audio.ts).

import type { MockSettings, ProviderConfig } from "../../config/types.ts";
import { createHash } from "node:crypto";
import { encodePng } from "./png.ts";
import { mockModerate } from "./moderation.ts";
import { mp3WithText, pcmFor, readRecording, wavWithText } from "./audio.ts";
import { mockSearchHits } from "./search.ts";
import { mockOcr } from "./ocr.ts";
import type { ChatResult, EmbedResult, ImageResult, OcrResult, Provider, RerankResult, SearchResult, SpeechStream, TranscriptionRequest, TranscriptionResult, TranscriptionStream, ModerationResult, StreamEvent, TokenLogprob, ToolCall, UpstreamRequest, Usage } from "../types.ts";
import { ProviderError } from "../types.ts";
import { countTextTokens, estimatePromptTokens } from "../tokens.ts";

const WORDS =
  "signalbox routes every request to the best deployment falls back when one fails streams the answer and accounts for every token".split(" ");


/** What the mock hears in a recording: its comment's text (else its length), in English with translate; segments and words spread evenly. */
function mockTranscript(req: TranscriptionRequest): TranscriptionResult {
  const heard = readRecording(req.audio);
  // Unknown formats: as long as 16 kB a second (128 kbit/s) says.
  const seconds = Math.round((heard.seconds ?? req.audio.byteLength / 16_000) * 100) / 100;
  const said = heard.text ?? `A ${seconds.toFixed(1)}-second recording.`;
  const text = req.translate ? `[en] ${said}` : said;
  const spread = (parts: string[]) => parts.map((t, i) => ({ start: (seconds * i) / parts.length, end: (seconds * (i + 1)) / parts.length, text: t }));
  return {
    model: req.model,
    text,
    language: req.translate ? "english" : (req.language ?? "english"),
    durationSeconds: seconds,
    ...(req.timestamps?.includes("segment") ? { segments: spread(text.match(/[^.!?]+[.!?]*\s*/g)?.map((x) => x.trim()).filter(Boolean) ?? [text]) } : {}),
    ...(req.timestamps?.includes("word") ? { words: spread(text.split(/\s+/).filter(Boolean)) } : {}),
    usage: { seconds: Math.ceil(seconds) },
  };
}

/** The mock's image size: the one asked for, each side at most 1024 (auto and absent: 1024x1024). */
function mockImageSize(size: string | undefined): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(size ?? "");
  if (!m) return [1024, 1024];
  return [Math.min(1024, Math.max(1, Number(m[1]))), Math.min(1024, Math.max(1, Number(m[2])))];
}

function lastUserText(req: UpstreamRequest): string {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    if (m.role !== "user") continue;
    const text = m.content.map((p) => (p.type === "text" ? p.text : p.type === "file" ? "[file]" : "[image]")).join(" ").trim();
    if (text) return text;
  }
  return "";
}

/**
 * The first web search result the gateway put in the prompt (src/engine/web-search.ts: a "URL: "
 * line of a system message, or of the result of a search the model asked for).
 */
function firstResultUrl(req: UpstreamRequest): string | undefined {
  for (const m of req.messages) {
    if (m.role !== "system" && !(m.role === "tool" && m.name === "web_search")) continue;
    for (const p of m.content) {
      const hit = p.type === "text" ? /^URL: (https?:\/\/\S+)$/m.exec(p.text) : null;
      if (hit) return hit[1];
    }
  }
  return undefined;
}

/** The first file the gateway's file search gave the model (a "[1] name (file-…" line of the search's result, or of the passages before the question). */
function firstResultFile(req: UpstreamRequest): string | undefined {
  for (const m of req.messages) {
    if (m.role !== "tool" && m.role !== "system") continue;
    for (const p of m.content) {
      const hit = p.type === "text" ? /^\[1\] (.+?) \(file-/m.exec(p.text) : null;
      if (hit) return hit[1];
    }
  }
  return undefined;
}

/**
 * The deterministic reply: an echo of the prompt's head followed by filler words up to `tokens`;
 * with web results in the prompt, the first one cited as a markdown link after the echo (as the
 * search prompt asks), so web search's citations can be tried on the mock.
 */
function replyText(s: MockSettings, req: UpstreamRequest, tokens: number): string {
  if (s.reply !== undefined) return s.reply;
  const head = lastUserText(req).slice(0, 80);
  const words = [`(${req.model})`, "You", "said:", JSON.stringify(head) + "."];
  const url = firstResultUrl(req);
  if (url) words.push("Source:", `[${new URL(url).hostname}](${url}).`);
  const file = firstResultFile(req);
  if (file) words.push("Source:", `[${file}].`);
  for (let i = 0; words.length < tokens; i++) words.push(WORDS[i % WORDS.length]);
  return words.slice(0, Math.max(tokens, 4)).join(" ");
}

function split(text: string, n: number): string[] {
  if (n <= 1 || text.length <= 1) return [text];
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(abortError(signal)) : Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new ProviderError({ kind: "canceled", message: "request aborted" });
}

const FAILURE_STATUS: Record<string, number> = {
  rate_limited: 429,
  overloaded: 529,
  timeout: 504,
  server_error: 500,
  upstream_auth: 401,
  quota_exhausted: 402,
  model_not_found: 404,
  context_length_exceeded: 400,
  content_filtered: 400,
  bad_request: 400,
};

/**
 * A bag of words as a unit vector of `n` floats: each word (lower case, letters and digits) adds
 * ±1 on one dimension, both from its hash. Texts that share most words have a cosine similarity
 * near 1, unrelated ones near 0: enough to try a semantic cache without a real embedding model.
 */
export function wordsEmbedding(text: string, n: number): Float32Array {
  const v = new Float32Array(n);
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    h >>>= 0;
    v[h % n] += h & 0x80000000 ? -1 : 1;
  }
  let norm = 0;
  for (let i = 0; i < n; i++) norm += v[i] * v[i];
  const k = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < n; i++) v[i] *= k;
  return v;
}

const ALTERNATIVES = [" the", " a", " and", " of", " to", " in", " is", " it", " that", " for", " on", " with", " as", " at", " by", " this", " from", " or", " an", " be"];

/**
 * Deterministic log probabilities for the mock's text: a token per word (with its leading space),
 * each with a log probability in (-2, 0] from a hash of the word, its UTF-8 bytes, and `top`
 * alternatives (the token itself first, then common words, each less likely than the last).
 */
export function mockLogprobs(text: string, top: number): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  for (const m of text.matchAll(/\s*\S+|\s+$/g)) {
    const token = m[0];
    let h = 2166136261;
    for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 16777619) >>> 0;
    const logprob = -(h % 2000) / 1000;
    const bytes = [...Buffer.from(token, "utf8")];
    const alts: TokenLogprob["top"] = [];
    for (let k = 0; k < top; k++) {
      if (k === 0) alts.push({ token, logprob, bytes });
      else {
        const alt = ALTERNATIVES[(h + k) % ALTERNATIVES.length];
        alts.push({ token: alt, logprob: logprob - k, bytes: [...Buffer.from(alt, "utf8")] });
      }
    }
    out.push({ token, logprob, bytes, top: alts });
  }
  return out;
}

/** `items` in at most `n` consecutive groups of near-equal size, none empty. */
function groups<T>(items: T[], n: number): T[][] {
  const k = Math.max(1, Math.min(n, items.length));
  const out: T[][] = [];
  for (let i = 0; i < k; i++) out.push(items.slice(Math.floor((i * items.length) / k), Math.floor(((i + 1) * items.length) / k)));
  return out.filter((g) => g.length > 0);
}

/** Documents one search unit covers, as Cohere and Bedrock count them. */
const MOCK_RERANK_DOCS_PER_SEARCH = 100;

/** Dimensions of the bags of words rerank compares: wide enough that distinct words rarely share one. */
const RERANK_DIMENSIONS = 1024;

/**
 * The mock's ranking: each document's relevance is the cosine of its bag of words with the query's
 * (clipped to [0, 1], as real rerankers score), best first, equal scores in document order.
 */
export function mockRerank(query: string, documents: string[], topN?: number): RerankResult["results"] {
  const q = wordsEmbedding(query, RERANK_DIMENSIONS);
  const ranked = documents.map((d, index) => {
    const v = wordsEmbedding(d, RERANK_DIMENSIONS);
    let dot = 0;
    for (let i = 0; i < RERANK_DIMENSIONS; i++) dot += q[i] * v[i];
    return { index, score: Math.min(1, Math.max(0, dot)) };
  });
  ranked.sort((a, b) => b.score - a.score);
  return topN !== undefined ? ranked.slice(0, topN) : ranked;
}

/** A unit vector of `n` floats seeded by the text's sha256 (mulberry32 from its first 4 bytes). */
export function mockEmbedding(text: string, n: number): Float32Array {
  let a = createHash("sha256").update(text).digest().readUInt32LE(0);
  const v = new Float32Array(n);
  let norm = 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    v[i] = ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
    norm += v[i] * v[i];
  }
  const k = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < n; i++) v[i] *= k;
  return v;
}

export function createMockProvider(conn: ProviderConfig): Provider {
  const s = conn.mock;
  let calls = 0;
  /** Deterministic failure schedule: with rate r, call n fails when floor((n+1)r) > floor(nr). */
  const shouldFail = () => {
    const n = calls++;
    return s.failureRate > 0 && Math.floor((n + 1) * s.failureRate) > Math.floor(n * s.failureRate);
  };
  const fail = () =>
    new ProviderError({
      kind: s.failureKind,
      status: FAILURE_STATUS[s.failureKind],
      message: `mock provider "${conn.name}" injected failure: ${s.failureKind}`,
      retryAfterMs: s.retryAfterMs,
    });

  function plan(req: UpstreamRequest) {
    const outTokens = Math.max(1, Math.min(s.outputTokens, req.maxOutputTokens ?? Infinity));
    // Offered the gateway's web search function and not yet given a result: a mock model that searches, with the user's words.
    const searches = req.toolChoice?.type !== "none" && req.tools?.some((t) => t.name === "web_search") && !req.messages.some((m) => m.role === "tool");
    // Likewise the file_search function of the Responses API's file_search tool.
    const searchesFiles = req.toolChoice?.type !== "none" && req.tools?.some((t) => t.name === "file_search") && !req.messages.some((m) => m.role === "tool");
    const toolCall: ToolCall | undefined = searches
      ? { id: "call_mock_search", name: "web_search", arguments: JSON.stringify({ query: lastUserText(req).slice(0, 200) }) }
      : searchesFiles
        ? { id: "call_mock_file_search", name: "file_search", arguments: JSON.stringify({ queries: [lastUserText(req).slice(0, 200)] }) }
      : req.tools?.length && req.toolChoice?.type !== "none" && (req.toolChoice?.type === "required" || req.toolChoice?.type === "tool" || /\btool\b|\bcall\b/i.test(lastUserText(req)))
        ? {
            id: "call_mock_0",
            name: req.toolChoice?.type === "tool" ? req.toolChoice.name : req.tools[0].name,
            arguments: JSON.stringify({ input: lastUserText(req).slice(0, 40) }),
          }
        : undefined;
    const text = toolCall ? "" : replyText(s, req, outTokens);
    const truncated = !toolCall && s.reply === undefined && req.maxOutputTokens !== undefined && req.maxOutputTokens < s.outputTokens;
    const usage: Usage = {
      inputTokens: estimatePromptTokens(req),
      outputTokens: toolCall ? 12 : outTokens,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    };
    return { text, toolCall, usage, finish: toolCall ? ("tool_calls" as const) : truncated ? ("length" as const) : ("stop" as const) };
  }

  const raw = { stop: "stop", length: "length", tool_calls: "tool_calls" };

  return {
    name: conn.name,
    type: "mock",
    async embed(req, signal): Promise<EmbedResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      const n = req.dimensions ?? s.dimensions ?? 16;
      return {
        model: req.model,
        embeddings: req.inputs.map((t) => (s.embedding === "words" ? wordsEmbedding(t, n) : mockEmbedding(t, n))),
        usage: { inputTokens: req.inputs.reduce((sum, t) => sum + countTextTokens(t, "o200k"), 0) },
      };
    },
    async rerank(req, signal): Promise<RerankResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      return {
        model: req.model,
        results: mockRerank(req.query, req.documents, req.topN),
        // Billed as Cohere and Bedrock bill: one search per query of up to 100 documents.
        usage: {
          inputTokens: [req.query, ...req.documents].reduce((sum, t) => sum + countTextTokens(t, "o200k"), 0),
          searchUnits: Math.max(1, Math.ceil(req.documents.length / MOCK_RERANK_DOCS_PER_SEARCH)),
        },
      };
    },
    async generateImages(req, signal): Promise<ImageResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      const [w, h] = mockImageSize(req.size);
      // An edit: its colours follow the images it starts from too, and the revised prompt says what it edited.
      const inputs = createHash("sha256");
      for (const im of req.images ?? []) inputs.update(im.bytes);
      if (req.mask) inputs.update(req.mask.bytes);
      const seed = req.images?.length ? inputs.digest("hex") : "";
      const revised = req.images?.length ? `${req.prompt} (an edit of ${req.images.length} image${req.images.length === 1 ? "" : "s"}${req.mask ? ", masked" : ""})` : req.prompt;
      return {
        model: req.model,
        created: Math.floor(Date.now() / 1000),
        images: Array.from({ length: req.n }, (_, i) => {
          const d = createHash("sha256").update(seed ? `${i}\0${req.prompt}\0${seed}` : `${i}\0${req.prompt}`).digest();
          return { b64: encodePng(w, h, [d[0], d[1], d[2]], [d[3], d[4], d[5]]).toString("base64"), revisedPrompt: revised };
        }),
        size: `${w}x${h}`,
        quality: req.quality ?? "standard",
        outputFormat: "png",
      };
    },
    async transcribe(req, signal): Promise<TranscriptionResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      return mockTranscript(req);
    },
    async transcribeStream(req, signal): Promise<TranscriptionStream | undefined> {
      // Like the GPT-4o transcription models: a translation or timestamps are not streamed.
      if (req.translate || req.timestamps?.length) return undefined;
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing && s.failAfterChunks < 0) throw fail();
      const out = mockTranscript(req);
      const words = out.text.match(/\S+\s*/g) ?? [out.text];
      async function* deltas(): AsyncGenerator<string> {
        for (let i = 0; i < words.length; i++) {
          if (i > 0) await sleep(s.interChunkMs, signal);
          if (failing && i === s.failAfterChunks) throw new ProviderError({ kind: "stream_interrupted", message: `mock provider "${conn.name}" cut the transcript after ${i} words` });
          yield words[i];
        }
      }
      return { model: req.model, deltas: deltas(), result: () => out };
    },
    async moderate(req, signal): Promise<ModerationResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      const images = req.imageUrls?.length ?? 0;
      return { model: req.model, results: images ? [mockModerate(req.inputs, images)] : req.inputs.map((t) => mockModerate([t], 0)) };
    },
    async ocr(req, signal): Promise<OcrResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      return mockOcr(req);
    },
    async search(req, signal): Promise<SearchResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing) throw fail();
      const results = req.queries.flatMap((q, i) => mockSearchHits(q, req.maxResults, req.allowedDomains, req.blockedDomains).map((h) => ({ ...h, snippet: h.snippet.slice(0, req.maxCharacters), ...(i ? { query: i } : {}) })));
      return { model: req.model, results, usage: { searchUnits: req.queries.length } };
    },
    async speak(req, signal): Promise<SpeechStream> {
      const make = req.format === "wav" ? wavWithText : req.format === "pcm" ? pcmFor : req.format === "mp3" ? mp3WithText : undefined;
      if (!make) throw new ProviderError({ kind: "bad_request", message: `the mock speaks mp3, wav and pcm, not ${req.format}`, unsent: true });
      const failing = shouldFail();
      await sleep(s.ttftMs, signal);
      if (failing && s.failAfterChunks < 0) throw fail();
      // The audio in `chunks` pieces, `inter_chunk_ms` apart, as a provider streams it; with
      // fail_after_chunks, cut after that many.
      const audio = make(req.input);
      const n = Math.max(1, s.chunks);
      const size = Math.ceil(audio.length / n);
      async function* chunks(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i * size < audio.length; i++) {
          if (i > 0) await sleep(s.interChunkMs, signal);
          if (failing && i === s.failAfterChunks) throw new ProviderError({ kind: "stream_interrupted", message: `mock provider "${conn.name}" cut the audio after ${i} chunks` });
          yield audio.subarray(i * size, (i + 1) * size);
        }
      }
      return { model: req.model, mediaType: req.format === "wav" ? "audio/wav" : req.format === "pcm" ? "audio/pcm" : "audio/mpeg", chunks: chunks(), usage: () => undefined };
    },
    async complete(req, signal): Promise<ChatResult> {
      const failing = shouldFail();
      await sleep(s.ttftMs + s.interChunkMs * Math.max(0, s.chunks - 1), signal);
      if (failing) throw fail();
      const p = plan(req);
      return {
        id: `mock-${calls}`,
        model: req.model,
        text: p.text,
        toolCalls: p.toolCall ? [p.toolCall] : [],
        finishReason: p.finish,
        rawFinishReason: raw[p.finish],
        usage: p.usage,
        ...(req.logprobs && p.text ? { logprobs: mockLogprobs(p.text, req.topLogprobs ?? 0) } : {}),
      };
    },
    // Each chunk is its own batch, as if each arrived in its own network read.
    async *stream(req, signal): AsyncGenerator<StreamEvent[]> {
      const failing = shouldFail();
      const p = plan(req);
      yield [{ type: "start", id: `mock-${calls}`, model: req.model }];
      await sleep(s.ttftMs, signal);
      if (failing && s.failAfterChunks < 0) throw fail();
      if (p.toolCall) {
        yield [
          { type: "tool_call_start", index: 0, id: p.toolCall.id, name: p.toolCall.name },
          { type: "tool_call_delta", index: 0, argumentsDelta: p.toolCall.arguments },
        ];
      } else {
        // With log probabilities, chunks end on token boundaries: the same tokens as a unary answer.
        const tokens = req.logprobs ? groups(mockLogprobs(p.text, req.topLogprobs ?? 0), s.chunks) : undefined;
        const parts = tokens ? tokens.map((g) => g.map((t) => t.token).join("")) : split(p.text, s.chunks);
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) await sleep(s.interChunkMs, signal);
          if (failing && i === s.failAfterChunks) {
            throw new ProviderError({ kind: "stream_interrupted", message: `mock provider "${conn.name}" cut the stream after ${i} chunks` });
          }
          yield tokens ? [{ type: "text", text: parts[i] }, { type: "logprobs", content: tokens[i] }] : [{ type: "text", text: parts[i] }];
        }
      }
      yield [
        { type: "finish", finishReason: p.finish, rawFinishReason: raw[p.finish] },
        { type: "usage", usage: p.usage },
      ];
    },
  };
}
