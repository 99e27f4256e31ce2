// The response cache: exact match on the normalised request (model resolved by the planner,
// messages, parameters), stored in Redis (shared by replicas) or in memory (the embedded
// default), with a TTL per route and per request. A lookup never fails a request: any error,
// timeout or missing Redis is a miss. Embeddings are cached per input: one entry per (scope,
// deployment, dimensions, input type, input text), so a batch reuses whatever inputs it shares
// with earlier ones. Rankings are cached whole: one entry per (scope, route or deployment and its
// identity, variant, query, documents in order, top_n, max_tokens_per_doc).

import { createHash } from "node:crypto";
import type { Config, DeploymentConfig } from "../config/types.ts";
import { wildcardFor } from "../config/wildcards.ts";
import type { RedisClient } from "../state/redis.ts";
import type { FinishReason, OcrPage, OcrRequest, ReasoningBlock, SearchHit, SearchRequest, ToolCall, UpstreamRequest, Usage } from "../providers/types.ts";
import { fromFloat32le, toFloat32le } from "../providers/vectors.ts";
import type { SemanticIndex } from "./semantic.ts";
import type { Plan } from "../router/types.ts";

/** What a cached answer holds: enough to answer unary or replay a stream. */
export interface CachedAnswer {
  deployment: string;
  provider: string;
  providerModel: string;
  text: string;
  reasoning?: string;
  /**
   * The reasoning with its replay state (Anthropic thinking signatures, redacted blocks), when the
   * provider sent any: a client replays them in a tool loop, and a provider refuses them unsigned.
   */
  reasoningBlocks?: ReasoningBlock[];
  refusal?: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  rawFinishReason: string;
  /** What the original answer cost in tokens (a hit itself costs nothing). */
  usage: Usage;
  /** Epoch ms when the answer was stored. */
  storedAt: number;
}

/** One input's embedding as cached: the vector and the deployment that made it. */
export interface CachedVector {
  deployment: string;
  provider: string;
  providerModel: string;
  /** The vector as little-endian float32 bytes, base64 (compact in Redis, exact on the way back). */
  vector: string;
  /** Epoch ms when the vector was stored. */
  storedAt: number;
}

/** A ranking as cached: the results (best first, at most top_n) and the deployment that ranked them. */
export interface CachedRanking {
  deployment: string;
  provider: string;
  providerModel: string;
  results: { index: number; score: number }[];
  /** What the original ranking was billed (a hit itself costs nothing). */
  usage: Usage;
  /** Epoch ms when the ranking was stored. */
  storedAt: number;
}

/** A search as cached: every query's results and the deployment that found them. */
export interface CachedSearch {
  deployment: string;
  provider: string;
  providerModel: string;
  results: SearchHit[];
  /** What the original search was billed (a hit itself costs nothing). */
  usage: Usage;
  /** Epoch ms when the search was stored. */
  storedAt: number;
}

/** A document's OCR as cached: its pages and the deployment that read them. */
export interface CachedOcr {
  deployment: string;
  provider: string;
  providerModel: string;
  pages: OcrPage[];
  documentAnnotation?: string;
  documentSizeBytes?: number;
  /** What the original OCR was billed (a hit itself costs nothing). */
  usage: Usage;
  /** Epoch ms when it was stored. */
  storedAt: number;
}

export interface CacheStore {
  /** The stored answer, or undefined on a miss, an error or a timeout. Never rejects. */
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Store with a TTL; fire and forget, never throws. */
  set(key: string, value: CachedAnswer, ttlSeconds: number): void;
  /** Embedding vectors by key (embeddingKey), looked up together; a miss, error or timeout is undefined. Never rejects. */
  getVectors(keys: readonly string[]): Promise<(CachedVector | undefined)[]>;
  /** Store one vector with a TTL; fire and forget, never throws. */
  setVector(key: string, value: CachedVector, ttlSeconds: number): void;
  /** A ranking by key (rankingKey); a miss, error or timeout is undefined. Never rejects. */
  getRanking(key: string): Promise<CachedRanking | undefined>;
  /** Store a ranking with a TTL; fire and forget, never throws. */
  setRanking(key: string, value: CachedRanking, ttlSeconds: number): void;
  /** A search by key (searchKey); a miss, error or timeout is undefined. Never rejects. */
  getSearch(key: string): Promise<CachedSearch | undefined>;
  /** Store a search with a TTL; fire and forget, never throws. */
  setSearch(key: string, value: CachedSearch, ttlSeconds: number): void;
  /** A document's OCR by key (ocrKey); a miss, error or timeout is undefined. Never rejects. */
  getOcr(key: string): Promise<CachedOcr | undefined>;
  /** Store an OCR with a TTL; fire and forget, never throws. */
  setOcr(key: string, value: CachedOcr, ttlSeconds: number): void;
  close(): Promise<void>;
  /** The semantic cache's index that shares this store's Redis (absent: each engine keeps one in memory). */
  semantic?: SemanticIndex;
}

/** Only finished answers worth replaying are stored. */
export const CACHEABLE_FINISH: ReadonlySet<FinishReason | undefined> = new Set<FinishReason | undefined>(["stop", "length", "tool_calls"]);

/** JSON with sorted object keys and bytes as base64: one text per meaning. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return v === undefined ? "null" : JSON.stringify(v);
  if (v instanceof Uint8Array) return JSON.stringify({ $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") });
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}

export interface CacheKeyParts {
  /** The caller's team, or "*" when the route shares answers across teams. */
  scope: string;
  /** The resolved model (the route that served the plan, or the deployment named directly) and its answerIdentity. */
  target: string;
  /** The A/B variant (answers never cross variants, or the experiment would be blurred), and what a condition or task route picked. */
  variant: string;
  /** The request as sent upstream (minus the model); the end-user id is not part of the key. */
  request: Omit<UpstreamRequest, "model">;
  /** max_output_tokens after key and route caps. */
  maxOutputTokens?: number;
}

/** Identities per config generation (a reload builds a new Config object: its entries start afresh). */
const identities = new WeakMap<Config, Map<string, string>>();

/**
 * What decides the answers of a route or a deployment in one config generation, as a short hash:
 * for a deployment its provider (name, type, base URL, mock settings; never credentials), model,
 * base model and accepted parameters; for a route its own settings and every deployment its
 * targets and variants name. Part of every cache key, so a reload that changes what answers a
 * route (another model, another provider) starts that route's cache afresh while the others
 * keep theirs. Computed once per generation and target.
 */
export function answerIdentity(config: Config, target: string): string {
  let m = identities.get(config);
  if (!m) identities.set(config, (m = new Map()));
  let id = m.get(target);
  if (id === undefined) {
    const providerOf = (name: string) => {
      const p = config.providers.find((x) => x.name === name);
      return p ? { name: p.name, type: p.type, baseUrl: p.baseUrl, mock: (p as { mock?: unknown }).mock } : name;
    };
    const deployment = (name: string) => {
      const d = config.deployments.find((x) => x.id === name);
      if (!d) {
        // A model made from a wildcard deployment: its provider and the wildcard's model pattern.
        const w = wildcardFor(config.wildcards, name);
        return w ? { id: name, wildcard: w.id, model: w.model, provider: providerOf(w.provider) } : name;
      }
      const provider = providerOf(d.provider);
      const { id: did, model, baseModel, params } = d as DeploymentConfig;
      return { id: did, model, baseModel, params, provider };
    };
    const route = config.routes.find((r) => r.name === target);
    const body = route ? { route, deployments: [...route.targets, ...route.variants.flatMap((v) => v.targets)].map((t) => deployment(t.deployment)) } : { deployment: deployment(target) };
    id = createHash("sha256").update(JSON.stringify(body)).digest("base64url").slice(0, 16);
    m.set(target, id);
  }
  return id;
}

/**
 * What a cached answer (or ranking) is kept under besides the request itself: the route that
 * served the plan (or the deployment named directly) with its answerIdentity, so a reload that
 * changes what answers it starts afresh; and the A/B variant with what a condition or task route
 * picked (another model, other answers).
 */
export function answerTarget(config: Config, plan: Pick<Plan, "routing" | "candidates" | "picked">, model: string): { target: string; variant: string } {
  const target = plan.routing.route || plan.candidates[0]?.deployment.id || model;
  return {
    target: `${target}\n${answerIdentity(config, target)}`,
    variant: plan.picked === undefined ? plan.routing.variant : `${plan.routing.variant}\n${plan.picked}`,
  };
}

/** sha256 over the normalised request; 43 base64url characters. */
export function cacheKey(p: CacheKeyParts): string {
  const { user: _user, ...request } = p.request;
  const h = createHash("sha256");
  h.update(`v1\n${p.scope}\n${p.target}\n${p.variant}\n${p.maxOutputTokens ?? ""}\n`);
  h.update(canonicalJson({ ...request, maxOutputTokens: undefined }));
  return h.digest("base64url");
}

export interface EmbeddingKeyParts {
  /** The caller's team, or "*" when the route shares answers across teams. */
  scope: string;
  /** The deployment whose vector it is: vectors of different models never mix. */
  deployment: string;
  dimensions?: number;
  inputType?: string;
  input: string;
}

/** sha256 over one input and what shapes its vector; 43 base64url characters (never equal to a cacheKey: its own prefix). */
export function embeddingKey(p: EmbeddingKeyParts): string {
  const h = createHash("sha256");
  h.update(`e1\n${p.scope}\n${p.deployment}\n${p.dimensions ?? ""}\n${p.inputType ?? ""}\n`);
  h.update(p.input);
  return h.digest("base64url");
}

export interface RankingKeyParts {
  /** The caller's team, or "*" when the route shares answers across teams. */
  scope: string;
  /** The resolved model (route or deployment) and its answerIdentity. */
  target: string;
  /** The A/B variant: rankings never cross variants. */
  variant: string;
  query: string;
  documents: readonly string[];
  topN?: number;
  maxTokensPerDoc?: number;
}

/** sha256 over a rerank request as sent (documents in order, lengths framed); its own prefix, never equal to the other keys. */
export function rankingKey(p: RankingKeyParts): string {
  const h = createHash("sha256");
  h.update(`r1\n${p.scope}\n${p.target}\n${p.variant}\n${p.topN ?? ""}\n${p.maxTokensPerDoc ?? ""}\n${p.documents.length}\n`);
  // Each text with its length in front: no choice of texts makes two requests' keys collide by concatenation.
  for (const t of [p.query, ...p.documents]) h.update(`${t.length}:`).update(t);
  return h.digest("base64url");
}

export interface SearchKeyParts {
  /** The caller's team, or "*" when the route shares answers across teams. */
  scope: string;
  /** The resolved model (route or deployment) and its answerIdentity. */
  target: string;
  /** The A/B variant: searches never cross variants. */
  variant: string;
  request: Omit<SearchRequest, "model">;
}

/** sha256 over a search request as sent (queries in order, lengths framed, every filter); its own prefix, never equal to the other keys. */
export function searchKey(p: SearchKeyParts): string {
  const r = p.request;
  const h = createHash("sha256");
  h.update(`s1\n${p.scope}\n${p.target}\n${p.variant}\n${r.maxResults}\n${r.maxCharacters}\n${r.country ?? ""}\n${r.publishedAfter ?? ""}\n${r.publishedBefore ?? ""}\n`);
  h.update(`${(r.allowedDomains ?? []).join(",")}\n${(r.blockedDomains ?? []).join(",")}\n${r.queries.length}\n`);
  // Each query with its length in front: no choice of queries makes two requests' keys collide by concatenation.
  for (const q of r.queries) h.update(`${q.length}:`).update(q);
  return h.digest("base64url");
}

/** As a search's: the scope, target and variant, and the request. */
export interface OcrKeyParts extends Omit<SearchKeyParts, "request"> {
  request: Omit<OcrRequest, "model">;
}

/** sha256 over an OCR request (the document's bytes and media type, or its URL, and every option); its own prefix, never equal to the other keys. */
export function ocrKey(p: OcrKeyParts): string {
  const r = p.request;
  const h = createHash("sha256");
  h.update(`o1\n${p.scope}\n${p.target}\n${p.variant}\n${(r.pages ?? []).join(",")}\n${r.includeImageBase64 ? 1 : 0}\n${r.imageLimit ?? ""}\n${r.imageMinSize ?? ""}\n`);
  h.update(`${r.tableFormat ?? ""}\n${r.extractHeader ? 1 : 0}\n${r.extractFooter ? 1 : 0}\n`);
  // Annotations: their schemas and prompt, as JSON (framed by length).
  const notes = r.documentAnnotation || r.bboxAnnotation ? JSON.stringify([r.documentAnnotation ?? null, r.bboxAnnotation ?? null]) : "";
  h.update(`${notes.length}:`).update(notes);
  const d = r.document;
  if ("url" in d) h.update(`u${d.url.length}:`).update(d.url);
  else h.update(`d${d.mediaType}\n${d.data.byteLength}:`).update(d.data);
  return h.digest("base64url");
}

/** A vector as cached (little-endian float32 bytes, base64) and back. */
export const packVector = (v: Float32Array): string => Buffer.from(toFloat32le(v)).toString("base64");
export const unpackVector = (s: string): Float32Array => fromFloat32le(Buffer.from(s, "base64"));

/**
 * In-process cache: a Map in insertion order doubles as an LRU (a hit re-inserts), bounded by
 * entries and by approximate bytes. Expired entries are dropped when read or evicted.
 */
export function createMemoryCacheStore(opts: { maxEntries?: number; maxBytes?: number; now?: () => number } = {}): CacheStore & { size(): number } {
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const now = opts.now ?? Date.now;
  const map = new Map<string, { value: CachedAnswer | CachedVector | CachedRanking | CachedSearch | CachedOcr; expires: number; bytes: number }>();
  let bytes = 0;
  const drop = (k: string) => {
    const e = map.get(k);
    if (!e) return;
    bytes -= e.bytes;
    map.delete(k);
  };
  const read = (key: string) => {
    const e = map.get(key);
    if (!e) return undefined;
    if (e.expires <= now()) {
      drop(key);
      return undefined;
    }
    map.delete(key);
    map.set(key, e);
    return e.value;
  };
  const write = (key: string, value: CachedAnswer | CachedVector | CachedRanking | CachedSearch | CachedOcr, size: number, ttlSeconds: number) => {
    drop(key);
    if (size > maxBytes) return;
    map.set(key, { value, expires: now() + ttlSeconds * 1000, bytes: size });
    bytes += size;
    for (const k of map.keys()) {
      if (map.size <= maxEntries && bytes <= maxBytes) break;
      drop(k);
    }
  };
  return {
    async get(key) {
      return read(key) as CachedAnswer | undefined;
    },
    set(key, value, ttlSeconds) {
      write(key, value, 256 + 2 * (value.text.length + (value.reasoning?.length ?? 0) + value.toolCalls.reduce((n, c) => n + c.arguments.length + c.name.length, 0)), ttlSeconds);
    },
    async getVectors(keys) {
      return keys.map((k) => read(k) as CachedVector | undefined);
    },
    setVector(key, value, ttlSeconds) {
      write(key, value, 256 + value.vector.length, ttlSeconds);
    },
    async getRanking(key) {
      return read(key) as CachedRanking | undefined;
    },
    setRanking(key, value, ttlSeconds) {
      write(key, value, 256 + 48 * value.results.length, ttlSeconds);
    },
    async getSearch(key) {
      return read(key) as CachedSearch | undefined;
    },
    setSearch(key, value, ttlSeconds) {
      write(key, value, 256 + value.results.reduce((n, r) => n + 64 + 2 * (r.title.length + r.url.length + r.snippet.length), 0), ttlSeconds);
    },
    async getOcr(key) {
      return read(key) as CachedOcr | undefined;
    },
    setOcr(key, value, ttlSeconds) {
      write(key, value, 256 + value.pages.reduce((n, p) => n + 128 + 2 * (p.markdown.length + p.images.reduce((m, i) => m + 64 + (i.imageBase64?.length ?? 0), 0)), 0), ttlSeconds);
    },
    size: () => map.size,
    async close() {
      map.clear();
      bytes = 0;
    },
  };
}

/**
 * Redis cache: one GET per lookup, SET PX per store. The client fails fast when Redis is away
 * (no offline queue), and a lookup gives up after `timeoutMs` either way: a miss, never an error.
 * Keys are `<prefix><sha256, base64url>` with no hash tag (base64url has no braces, and the prefix
 * must have none): on a Redis Cluster entries spread over every slot, each command one key.
 */
export function createRedisCacheStore(client: RedisClient, opts: { prefix?: string; timeoutMs?: number; onError?: (err: unknown) => void } = {}): CacheStore {
  const prefix = opts.prefix ?? "sbx:cache:";
  if (/[{}]/.test(prefix)) throw new Error(`cache prefix "${prefix}" must not contain a hash tag: entries would all land on one cluster slot`);
  const timeoutMs = opts.timeoutMs ?? 250;
  let warned = false;
  const failed = (err: unknown) => {
    if (!warned) {
      warned = true;
      opts.onError?.(err);
      setTimeout(() => (warned = false), 30_000).unref();
    }
    return undefined;
  };
  const lookup = <T>(key: string): Promise<T | undefined> =>
    new Promise<T | undefined>((resolve) => {
      const t = setTimeout(() => resolve(failed(new Error(`cache lookup took over ${timeoutMs} ms`))), timeoutMs);
      client.get(prefix + key).then(
        (s) => {
          clearTimeout(t);
          try {
            resolve(s ? (JSON.parse(s) as T) : undefined);
          } catch (err) {
            resolve(failed(err));
          }
        },
        (err) => {
          clearTimeout(t);
          resolve(failed(err));
        },
      );
    });
  const store = (key: string, value: unknown, ttlSeconds: number) => {
    client.set(prefix + key, JSON.stringify(value), "PX", ttlSeconds * 1000).catch(failed);
  };
  return {
    get: (key) => lookup<CachedAnswer>(key),
    set: store,
    // One GET per input, all sent at once (one network round; keys spread over cluster slots, so no MGET).
    getVectors: (keys) => Promise.all(keys.map((k) => lookup<CachedVector>(k))),
    setVector: store,
    getRanking: (key) => lookup<CachedRanking>(key),
    setRanking: store,
    getSearch: (key) => lookup<CachedSearch>(key),
    setSearch: store,
    getOcr: (key) => lookup<CachedOcr>(key),
    setOcr: store,
    async close() {},
  };
}
