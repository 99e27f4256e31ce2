// What a vector store does with text, without I/O: a file's text cut into chunks of so many tokens
// (OpenAI's static chunking, counted with o200k), attribute filters (OpenAI's comparison and
// compound filters) parsed and matched, and the ranking of chunks against queries: semantic
// (cosine similarity of the embeddings) blended with keywords (BM25 over the chunks searched), as
// OpenAI's file search ranks (its "hybrid search"), unless the ranker is "none" (semantic only).

import { bad, isObj } from "../compat/request.ts";
import { decodeO200k, encodeO200k } from "../providers/tokens.ts";
import type { Attributes, Chunk, StaticChunking } from "./store.ts";
import type { Comparison, FileSearchRequest, Filter } from "./types.ts";

// ---- chunking ----

/** Texts are encoded a slice at a time, cut at a line or space, yielding to the event loop between slices. */
const SLICE_CHARS = 32_768;

function sliceEnd(text: string, from: number): number {
  const end = from + SLICE_CHARS;
  if (end >= text.length) return text.length;
  const nl = text.lastIndexOf("\n", end);
  if (nl > from + SLICE_CHARS / 2) return nl + 1;
  const sp = text.lastIndexOf(" ", end);
  return sp > from + SLICE_CHARS / 2 ? sp + 1 : end;
}

/** The most tokens a file may have (OpenAI's limit for a vector store's file). */
export const MAX_FILE_TOKENS = 5_000_000;

/** A file over MAX_FILE_TOKENS: it fails, rather than hold its tokens in memory. */
export class TooLong extends Error {
  constructor(max: number) {
    super(`the file has more than ${max.toLocaleString("en")} tokens`);
  }
}

/** A decoded window cut inside a character leaves U+FFFD at its edges: dropped. */
const trimBroken = (s: string) => s.replace(/^\uFFFD+|\uFFFD+$/g, "");

/**
 * A text cut into windows of at most `max_chunk_size_tokens` tokens, each starting
 * `max - overlap` tokens after the one before (so neighbours share `chunk_overlap_tokens`).
 * Async: a long file is encoded a slice at a time, with the event loop served between slices.
 */
export async function chunkText(text: string, c: StaticChunking, maxTokens = MAX_FILE_TOKENS): Promise<{ text: string; tokens: number }[]> {
  const tokens: number[] = [];
  for (let at = 0; at < text.length; ) {
    const end = sliceEnd(text, at);
    for (const t of encodeO200k(text.slice(at, end))) tokens.push(t);
    if (tokens.length > maxTokens) throw new TooLong(maxTokens);
    at = end;
    if (at < text.length) await new Promise((r) => setImmediate(r));
  }
  const out: { text: string; tokens: number }[] = [];
  const step = Math.max(1, c.max_chunk_size_tokens - c.chunk_overlap_tokens);
  for (let start = 0; start < tokens.length; start += step) {
    const window = tokens.slice(start, start + c.max_chunk_size_tokens);
    const s = trimBroken(decodeO200k(window));
    if (s.trim()) out.push({ text: s, tokens: window.length });
    if (start + c.max_chunk_size_tokens >= tokens.length) break;
  }
  return out;
}

// ---- filters ----

export type { Comparison, Filter } from "./types.ts";

const COMPARE = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"] as const;

/** OpenAI's `filters` (a comparison or a compound of them), checked: a bad one names its field. */
export function parseFilter(v: unknown, field: string, depth = 0): Filter {
  if (!isObj(v)) return bad(field, "must be a filter object: {type, key, value} or {type: and|or, filters}");
  if (depth > 8) return bad(field, "filters nest at most 8 deep");
  if (v.type === "and" || v.type === "or") {
    if (!Array.isArray(v.filters) || v.filters.length === 0) return bad(`${field}.filters`, "must be a non-empty array of filters");
    return { type: v.type, filters: v.filters.map((f, i) => parseFilter(f, `${field}.filters[${i}]`, depth + 1)) };
  }
  if (typeof v.type !== "string" || !(COMPARE as readonly string[]).includes(v.type)) return bad(`${field}.type`, `must be one of ${COMPARE.join(", ")}, and, or; got ${JSON.stringify(v.type ?? null)}`);
  if (typeof v.key !== "string" || !v.key) return bad(`${field}.key`, "must be an attribute's name");
  if (v.type === "in" || v.type === "nin") {
    if (!Array.isArray(v.value) || v.value.some((x) => typeof x !== "string" && typeof x !== "number")) return bad(`${field}.value`, `must be an array of strings and numbers for ${v.type}`);
    return { type: v.type, key: v.key, value: v.value as (string | number)[] };
  }
  if (typeof v.value !== "string" && typeof v.value !== "number" && typeof v.value !== "boolean") return bad(`${field}.value`, "must be a string, a number or a boolean");
  if ((v.type === "gt" || v.type === "gte" || v.type === "lt" || v.type === "lte") && typeof v.value === "boolean") return bad(`${field}.value`, `cannot be a boolean for ${v.type}`);
  return { type: v.type as Exclude<Comparison["type"], "in" | "nin">, key: v.key, value: v.value };
}

/** Whether a file's attributes pass a filter. A missing attribute fails every comparison but ne and nin. */
export function matches(f: Filter, a: Attributes | null): boolean {
  switch (f.type) {
    case "and":
      return f.filters.every((x) => matches(x, a));
    case "or":
      return f.filters.some((x) => matches(x, a));
    case "in":
    case "nin": {
      const v = a?.[f.key];
      const found = v !== undefined && typeof v !== "boolean" && f.value.includes(v);
      return f.type === "in" ? found : !found;
    }
    default: {
      const v = a?.[f.key];
      if (v === undefined) return f.type === "ne";
      if (f.type === "eq") return v === f.value;
      if (f.type === "ne") return v !== f.value;
      // Order compares numbers with numbers and strings with strings (dates as ISO text sort right).
      if (typeof v !== typeof f.value || typeof v === "boolean") return false;
      const x = v as number | string;
      const y = f.value as number | string;
      return f.type === "gt" ? x > y : f.type === "gte" ? x >= y : f.type === "lt" ? x < y : x <= y;
    }
  }
}

/** The `file_search` tool of a request (the Responses API's, and /v1/chat/completions' as LiteLLM takes it), checked, with the tool as the response echoes it. */
export interface FileSearchTool extends Omit<FileSearchRequest, "field"> {
  echo: Record<string, unknown>;
}

/** The tool as a request's file search, named by its place in the request (`tools[0]`). */
export const fileSearchRequest = (t: FileSearchTool, field: string): FileSearchRequest => ({
  storeIds: t.storeIds,
  maxResults: t.maxResults,
  ...(t.filters ? { filters: t.filters } : {}),
  ranker: t.ranker,
  scoreThreshold: t.scoreThreshold,
  ...(t.keywordWeight !== undefined ? { keywordWeight: t.keywordWeight } : {}),
  field,
});

/** `{type: "file_search", vector_store_ids (1 or 2, as OpenAI allows), max_num_results, filters, ranking_options}`; a bad field is named. */
export function parseFileSearchTool(t: Record<string, unknown>, path: string): FileSearchTool {
  for (const k of Object.keys(t)) if (!["type", "vector_store_ids", "max_num_results", "filters", "ranking_options"].includes(k)) bad(`${path}.${k}`, "is not a field of the file_search tool (type, vector_store_ids, max_num_results, filters, ranking_options)");
  const ids = t.vector_store_ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 2) bad(`${path}.vector_store_ids`, "must name 1 or 2 vector stores");
  (ids as unknown[]).forEach((x, i) => (typeof x === "string" && x ? undefined : bad(`${path}.vector_store_ids[${i}]`, "must be a vector store id")));
  const max = t.max_num_results ?? 10;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 50) bad(`${path}.max_num_results`, `must be an integer from 1 to 50, got ${JSON.stringify(max)}`);
  const filters = t.filters === undefined || t.filters === null ? undefined : parseFilter(t.filters, `${path}.filters`);
  const ro = t.ranking_options;
  if (ro !== undefined && ro !== null && !isObj(ro)) bad(`${path}.ranking_options`, "must be an object {ranker, score_threshold, hybrid_search}");
  const ranker = (isObj(ro) ? ro.ranker : undefined) ?? "auto";
  if (ranker !== "auto" && ranker !== "none" && ranker !== "default-2024-11-15") bad(`${path}.ranking_options.ranker`, `must be auto, none or default-2024-11-15, got ${JSON.stringify(ranker)}`);
  const threshold = (isObj(ro) ? ro.score_threshold : undefined) ?? 0;
  if (typeof threshold !== "number" || threshold < 0 || threshold > 1) bad(`${path}.ranking_options.score_threshold`, `must be a number from 0 to 1, got ${JSON.stringify(threshold)}`);
  const hybrid = isObj(ro) ? ro.hybrid_search : undefined;
  let keywordWeight: number | undefined;
  if (hybrid !== undefined && hybrid !== null) {
    if (!isObj(hybrid)) return bad(`${path}.ranking_options.hybrid_search`, "must be an object {embedding_weight, text_weight}");
    const e = hybrid.embedding_weight;
    const x = hybrid.text_weight;
    if (typeof e !== "number" || e < 0) bad(`${path}.ranking_options.hybrid_search.embedding_weight`, "must be a number of at least 0");
    if (typeof x !== "number" || x < 0) bad(`${path}.ranking_options.hybrid_search.text_weight`, "must be a number of at least 0");
    if ((e as number) + (x as number) <= 0) bad(`${path}.ranking_options.hybrid_search`, "the weights may not both be 0");
    keywordWeight = (x as number) / ((e as number) + (x as number));
  }
  return {
    storeIds: ids as string[],
    maxResults: max as number,
    ...(filters ? { filters } : {}),
    ranker: ranker as FileSearchTool["ranker"],
    scoreThreshold: threshold as number,
    ...(keywordWeight !== undefined ? { keywordWeight } : {}),
    echo: { type: "file_search", vector_store_ids: ids, max_num_results: max, filters: t.filters ?? null, ranking_options: { ranker, score_threshold: threshold, ...(hybrid ? { hybrid_search: hybrid } : {}) } },
  };
}

// ---- ranking ----

/** Lower-cased words and numbers of a text (letters of any script). */
export function terms(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** A chunk ready to be ranked: where it is, its text, its embedding as a unit vector, its length in terms. */
export interface Indexed {
  fileId: string;
  n: number;
  text: string;
  unit: Float32Array;
  length: number;
}

/** A store's chunks ready to rank: each one indexed, and the keyword postings (term → the chunks that hold it, with counts). */
export interface ChunkIndex {
  items: Indexed[];
  postings: Map<string, { at: number[]; tf: number[] }>;
  avgLength: number;
  /** What the index holds, about: its vectors' bytes (what a replica's cache of indexes is bounded by). */
  bytes: number;
}

export function unitVector(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  // Already of length 1 (the stores keep unit vectors): the same array, no copy.
  if (Math.abs(norm - 1) < 1e-4) return v;
  return v.map((x) => x / norm);
}

/**
 * Index chunks once (per store revision): unit vectors and postings, so a search scores only what
 * it must. A large store takes a while (about 0.1 ms a chunk of 800 tokens): the event loop is
 * served between every 256 chunks.
 */
export async function buildIndex(chunks: readonly Chunk[]): Promise<ChunkIndex> {
  const items: Indexed[] = [];
  const postings = new Map<string, { at: number[]; tf: number[] }>();
  let total = 0;
  let bytes = 0;
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0 && i % 256 === 0) await new Promise((r) => setImmediate(r));
    const chunk = chunks[i];
    const counts = new Map<string, number>();
    const ts = terms(chunk.text);
    for (const t of ts) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [t, f] of counts) {
      let p = postings.get(t);
      if (!p) postings.set(t, (p = { at: [], tf: [] }));
      p.at.push(i);
      p.tf.push(f);
    }
    total += ts.length;
    const unit = unitVector(chunk.vector);
    bytes += unit.byteLength + chunk.text.length * 2;
    items.push({ fileId: chunk.fileId, n: chunk.n, text: chunk.text, unit, length: ts.length });
  }
  return { items, postings, avgLength: total / (chunks.length || 1) || 1, bytes };
}

/** The dot product of two vectors (of unit vectors: their cosine). */
export function dot(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  // Four running sums: independent additions the CPU can overlap.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return s0 + s1 + s2 + s3;
}

/** How much of the score keywords carry in hybrid ranking (OpenAI does not publish its blend). */
export const KEYWORD_WEIGHT = 0.3;

/**
 * The best `limit` chunks against the queries, best first, each scored from 0 to 1 (its best over
 * the queries): its cosine similarity (negatives as 0), blended with its BM25 score normalised by
 * the best of the chunks searched, keywords carrying `keywordWeight` of it (0: semantic only).
 * Only chunks with `allowed[i]` (a filter's) are scored; IDF counts the chunks searched. Scores go
 * into typed arrays and only the best `limit` are kept in order (no sort of every chunk).
 */
export function rank(index: ChunkIndex, queries: readonly { text: string; unit: Float32Array }[], keywordWeight: number, limit: number, allowed?: Uint8Array): { item: Indexed; score: number }[] {
  const chunks = index.items;
  const n = chunks.length;
  if (n === 0 || limit <= 0) return [];
  let searched = n;
  if (allowed) {
    searched = 0;
    for (let i = 0; i < n; i++) searched += allowed[i];
  }
  const best = new Float64Array(n);
  const semantic = new Float64Array(n);
  const keyword = new Float64Array(n);
  const k1 = 1.2;
  const b = 0.75;
  for (const q of queries) {
    for (let i = 0; i < n; i++) {
      if (allowed && !allowed[i]) continue;
      const d = dot(q.unit, chunks[i].unit);
      semantic[i] = d > 0 ? d : 0;
    }
    let top = 0;
    if (keywordWeight > 0) {
      keyword.fill(0);
      for (const t of new Set(terms(q.text))) {
        const p = index.postings.get(t);
        if (!p) continue;
        let df = p.at.length;
        if (allowed) {
          df = 0;
          for (const i of p.at) df += allowed[i];
        }
        if (df === 0) continue;
        const idf = Math.log(1 + (searched - df + 0.5) / (df + 0.5));
        for (let j = 0; j < p.at.length; j++) {
          const i = p.at[j];
          if (allowed && !allowed[i]) continue;
          const f = p.tf[j];
          keyword[i] += idf * ((f * (k1 + 1)) / (f + k1 * (1 - b + (b * chunks[i].length) / index.avgLength)));
          if (keyword[i] > top) top = keyword[i];
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const s = top > 0 ? (1 - keywordWeight) * semantic[i] + (keywordWeight * keyword[i]) / top : semantic[i];
      if (s > best[i]) best[i] = s;
    }
  }
  // The best `limit`, kept in order by insertion (limit is small: at most 200 in practice).
  const k = Math.min(limit, searched);
  const idx: number[] = [];
  const before = (i: number, j: number) => best[i] > best[j] || (best[i] === best[j] && (chunks[i].fileId < chunks[j].fileId || (chunks[i].fileId === chunks[j].fileId && chunks[i].n < chunks[j].n)));
  for (let i = 0; i < n && k > 0; i++) {
    if (allowed && !allowed[i]) continue;
    if (idx.length === k && !before(i, idx[k - 1])) continue;
    let at = idx.length === k ? k - 1 : idx.length;
    while (at > 0 && before(i, idx[at - 1])) at--;
    idx.splice(at, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx.map((i) => ({ item: chunks[i], score: Math.min(1, best[i]) }));
}
