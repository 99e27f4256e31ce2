// The semantic cache's index: the embeddings of prompts whose answers are in the response cache,
// so a request the exact key misses can be answered by a cached answer to a prompt close enough in
// meaning (cosine similarity at or above the route's threshold). Each replica searches its own copy
// of a route's index in memory (a scan of at most `max_entries` unit vectors); with Redis the
// entries are shared through one stream per route (XADD … MAXLEN ~), which every replica reads
// from where it left off each time it searches, alongside the embedding call, so a prompt one
// replica answered serves a similar prompt on another. Entries only point at cache keys: the
// answers themselves stay in the response cache, with its TTL and its team isolation.

import { createHash } from "node:crypto";
import type { ChatMessage } from "../providers/types.ts";
import type { RedisClient } from "../state/redis.ts";
import { fromFloat32le, toFloat32le } from "../providers/vectors.ts";

/** Prompts longer than this (characters of role-tagged text) are not compared: an exact match only. */
export const SEMANTIC_MAX_CHARS = 24_000;

/**
 * The text a prompt is compared by: each message's role and text (tool calls and results
 * included), one per line. Undefined when a message carries anything but text (an image or a
 * file: the embedding would not see it, so two different pictures would look alike) or when the
 * text is longer than SEMANTIC_MAX_CHARS.
 */
export function semanticText(messages: readonly ChatMessage[]): string | undefined {
  const lines: string[] = [];
  let n = 0;
  for (const m of messages) {
    let text = "";
    for (const p of m.content) {
      if (p.type !== "text") return undefined;
      text += p.text;
    }
    for (const c of m.toolCalls ?? []) text += `\n[call ${c.name} ${c.arguments}]`;
    const line = `${m.role}${m.role === "tool" && m.name ? ` ${m.name}` : ""}: ${text}`;
    n += line.length + 1;
    if (n > SEMANTIC_MAX_CHARS) return undefined;
    lines.push(line);
  }
  return lines.length ? lines.join("\n") : undefined;
}

/** The vector scaled to length 1 (a zero vector stays zero and matches nothing). */
export function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const out = new Float32Array(v.length);
  if (s === 0) return out;
  const k = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * k;
  return out;
}

export interface SemanticEntry {
  /** The exact cache key's scope without the messages: team, route, variant and parameters. */
  scope: string;
  /** The deployment that made the vector: vectors of different models are never compared. */
  deployment: string;
  /** The response-cache key of the answer. */
  key: string;
  /** A unit vector. */
  vector: Float32Array;
  /** Epoch ms after which the answer is gone from the cache. */
  expires: number;
}

export interface SemanticMatch {
  key: string;
  similarity: number;
}

export interface SemanticIndex {
  /** Bring the replica's copy of an index up to date (Redis: the entries other replicas added). Never rejects. */
  sync(index: string, maxEntries: number): Promise<void>;
  /** The closest live entry of the same scope and deployment at or above the threshold. */
  search(index: string, q: { scope: string; deployment: string; vector: Float32Array; threshold: number }): SemanticMatch | undefined;
  /** Add an entry (and share it, with Redis); the index keeps its newest `maxEntries`. Fire and forget. */
  add(index: string, e: SemanticEntry, maxEntries: number): void;
  close(): void;
}

/** An index's name: the route and what decides its answers (a reload that changes them starts afresh). */
export function semanticIndexName(route: string, identity: string): string {
  return createHash("sha256").update(`s1\n${route}\n${identity}`).digest("base64url").slice(0, 22);
}

/** A replica's copy of one index: entries oldest first, and which answers they point at. */
interface Local {
  entries: SemanticEntry[];
  ids: Set<string>;
  /** The last stream id read (Redis). */
  last: string;
  syncing?: Promise<void>;
}

/** Indexes a replica keeps a copy of, at most (the least recently made go first). */
const MAX_INDEXES = 1000;

const idOf = (e: Pick<SemanticEntry, "deployment" | "key">) => `${e.deployment}\n${e.key}`;

/**
 * The index. `redis` absent: per replica, in memory. `now` for tests. A Redis failure leaves the
 * replica with what it has (searches go on over its own copy) and is reported once a minute.
 */
export function createSemanticIndex(opts: { redis?: RedisClient; prefix?: string; now?: () => number; onError?: (err: unknown) => void } = {}): SemanticIndex {
  const now = opts.now ?? Date.now;
  const redis = opts.redis;
  const prefix = opts.prefix ?? "sbx:sem:";
  const indexes = new Map<string, Local>();
  let warned = -Infinity;
  const failed = (err: unknown) => {
    if (now() - warned > 60_000) {
      warned = now();
      opts.onError?.(err);
    }
  };
  const local = (index: string): Local => {
    let l = indexes.get(index);
    if (!l) {
      l = { entries: [], ids: new Set(), last: "-" };
      indexes.set(index, l);
      if (indexes.size > MAX_INDEXES) indexes.delete(indexes.keys().next().value!);
    }
    return l;
  };
  const push = (l: Local, e: SemanticEntry, maxEntries: number) => {
    const id = idOf(e);
    if (l.ids.has(id)) {
      const at = l.entries.findIndex((x) => idOf(x) === id);
      if (at >= 0) l.entries.splice(at, 1);
    }
    l.entries.push(e);
    l.ids.add(id);
    if (l.entries.length > maxEntries) for (const gone of l.entries.splice(0, l.entries.length - maxEntries)) l.ids.delete(idOf(gone));
  };
  // One key per index, its name in a hash tag: on a Redis Cluster each stream is on one slot.
  const streamKey = (index: string) => `${prefix}{${index}}`;

  return {
    sync(index, maxEntries) {
      if (!redis) return Promise.resolve();
      const l = local(index);
      // Concurrent searches of one index share one read.
      l.syncing ??= redis
        .xrange(streamKey(index), l.last === "-" ? "-" : `(${l.last}`, "+", "COUNT", maxEntries)
        .then(
          (rows) => {
            const t = now();
            for (const [id, fields] of rows) {
              l.last = id;
              const f: Record<string, string> = {};
              for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
              const expires = Number(f.e);
              if (!(expires > t) || !f.k || !f.v) continue;
              const e = { scope: f.s ?? "", deployment: f.d ?? "", key: f.k, vector: fromFloat32le(Buffer.from(f.v, "base64")), expires };
              // An entry this replica added itself is already in its copy.
              if (!l.ids.has(idOf(e))) push(l, e, maxEntries);
            }
          },
          (err) => failed(err),
        )
        .finally(() => (l.syncing = undefined));
      return l.syncing;
    },

    search(index, q) {
      const l = indexes.get(index);
      if (!l) return undefined;
      const t = now();
      let best: SemanticMatch | undefined;
      const v = q.vector;
      for (const e of l.entries) {
        if (e.expires <= t || e.scope !== q.scope || e.deployment !== q.deployment || e.vector.length !== v.length) continue;
        let dot = 0;
        const w = e.vector;
        for (let i = 0; i < v.length; i++) dot += v[i] * w[i];
        if (dot >= q.threshold && (!best || dot > best.similarity)) best = { key: e.key, similarity: Math.min(1, dot) };
      }
      // What expired goes, now and then (a search is where the index is read).
      if (l.entries.length > 0 && l.entries[0].expires <= t) {
        l.entries = l.entries.filter((e) => e.expires > t || (l.ids.delete(idOf(e)), false));
      }
      return best;
    },

    add(index, e, maxEntries) {
      push(local(index), e, maxEntries);
      if (!redis) return;
      const key = streamKey(index);
      const until = Math.max(e.expires, now()) + 60_000;
      redis
        .multi()
        .xadd(key, "MAXLEN", "~", String(maxEntries), "*", "s", e.scope, "d", e.deployment, "k", e.key, "e", String(e.expires), "v", Buffer.from(toFloat32le(e.vector)).toString("base64"))
        // The stream outlives its longest-lived answer by a minute, then goes.
        .pexpireat(key, until, "NX")
        .pexpireat(key, until, "GT")
        .exec()
        .catch(failed);
    },

    close() {
      indexes.clear();
    },
  };
}
