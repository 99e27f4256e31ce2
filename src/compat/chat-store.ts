// Stored Chat Completions (OpenAI's `store: true` on /v1/chat/completions): the completion as it was
// returned, with its metadata and the request's messages, for GET, list, update and DELETE under
// /v1/chat/completions (chat-stored.ts). Two stores behind one interface: memory (the embedded
// default: per replica, bounded by size, lost with the process) and PostgreSQL (chat-store-postgres.ts,
// with `store.postgres_url`: shared by replicas, survives restarts). Kept `responses.retention_days`.

import { ExpiringMap, type Json } from "./responses/store.ts";

export interface StoredCompletion {
  /** `chatcmpl-…`: the completion's own id. */
  id: string;
  owner: { team: string; key: string };
  /** Milliseconds since the epoch. */
  createdAt: number;
  expiresAt: number;
  /** The model the completion reports (what list's `model` filter matches). */
  model: string;
  metadata: Record<string, string>;
  /** The chat.completion object as returned (without its metadata: it is `metadata` above). */
  completion: Json;
  /** The request's messages, each with an id (`<id>-<index>`), as `/messages` lists them. */
  messages: Json[];
}

export interface CompletionQuery {
  /** Whose: a team's, a key's, or (absent) everyone's (admin keys). */
  owner?: { team?: string; key?: string };
  model?: string;
  /** Every entry must match. */
  metadata?: Record<string, string>;
  /** A completion id: the page starts after it. */
  after?: string;
  limit: number;
  order: "asc" | "desc";
}

export interface CompletionStore {
  readonly kind: "memory" | "postgres";
  put(c: StoredCompletion): Promise<void>;
  get(id: string, now?: number): Promise<StoredCompletion | undefined>;
  /** A page, and whether more follow. */
  list(q: CompletionQuery, now?: number): Promise<{ items: StoredCompletion[]; more: boolean }>;
  /** Replaces the metadata; the completion after, or undefined when it is gone. */
  setMetadata(id: string, metadata: Record<string, string>): Promise<StoredCompletion | undefined>;
  delete(id: string): Promise<boolean>;
  /** Drop what has expired; how many. */
  sweep(now?: number): Promise<number>;
  close(): Promise<void>;
}

const sizeOf = (c: StoredCompletion) => JSON.stringify(c.completion).length + JSON.stringify(c.messages).length + JSON.stringify(c.metadata).length + 200;

/** Whether a stored completion passes a list query's filters. */
export function matches(c: StoredCompletion, q: CompletionQuery): boolean {
  if (q.owner?.team !== undefined && c.owner.team !== q.owner.team) return false;
  if (q.owner?.key !== undefined && c.owner.key !== q.owner.key) return false;
  if (q.model !== undefined && c.model !== q.model) return false;
  for (const [k, v] of Object.entries(q.metadata ?? {})) if (c.metadata[k] !== v) return false;
  return true;
}

/** Per replica, newest kept: past `maxBytes`, the oldest go first. */
export function createMemoryCompletionStore(opts: { maxBytes: number }): CompletionStore {
  const byId = new ExpiringMap<StoredCompletion>(opts.maxBytes);
  const live = (id: string, now: number) => byId.live(id, now);
  return {
    kind: "memory",
    async put(c) {
      byId.add(c.id, c, sizeOf(c), "completion");
    },
    async get(id, now = Date.now()) {
      return live(id, now);
    },
    async list(q, now = Date.now()) {
      // Insertion order is creation order.
      const all: StoredCompletion[] = [];
      for (const id of [...byId.keys()]) {
        const c = live(id, now);
        if (c && matches(c, q)) all.push(c);
      }
      if (q.order === "desc") all.reverse();
      const start = q.after === undefined ? 0 : all.findIndex((c) => c.id === q.after) + 1;
      const page = all.slice(start, start + q.limit);
      return { items: page, more: start + q.limit < all.length };
    },
    async setMetadata(id, metadata) {
      const c = live(id, Date.now());
      if (!c) return undefined;
      const next = { ...c, metadata };
      byId.update(id, next, JSON.stringify(metadata).length - JSON.stringify(c.metadata).length);
      return next;
    },
    async delete(id) {
      return byId.delete(id);
    },
    async sweep(now = Date.now()) {
      let n = 0;
      for (const id of [...byId.keys()]) if (byId.get(id)!.expiresAt <= now && byId.delete(id)) n++;
      return n;
    },
    async close() {
      byId.clear();
    },
  };
}
