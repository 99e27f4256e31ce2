// Vector stores: the gateway's own, in OpenAI's shape (the Vector Stores API and the Responses API's
// `file_search` tool), for any embedding model behind the gateway. This file holds their records and
// the store that keeps them; two stores behind one interface: memory (the embedded default, lost
// with the process like its usage) and PostgreSQL (postgres-store.ts, with `store.postgres_url`:
// durable and shared by replicas). What a store holds:
//
//   - a vector store: its name, metadata, expiry, owner, the embedding deployment its vectors come
//     from (set when its first file is indexed: a query is embedded by the same one), and a revision
//     that moves on with every change of its files (a replica's in-process index of its chunks is
//     reloaded when the revision it holds is not the store's);
//   - its files: an uploaded file (the Files API's id) added to the store, with attributes for
//     filtering, how it is chunked and its indexing status;
//   - each file's chunks: the text and its embedding.

import { randomBytes } from "node:crypto";
import type { Owner, Visibility } from "../batch/store.ts";
import { visible } from "../batch/store.ts";

export type { Owner, Visibility };

/** `{anchor: "last_active_at", days}`: the store expires that many days after it was last used. */
export interface StoreExpiry {
  anchor: "last_active_at";
  days: number;
}

export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/** A vector store as OpenAI shows it, plus the gateway's own fields. Times are seconds since the epoch. */
export interface VectorStoreRecord {
  id: string;
  object: "vector_store";
  created_at: number;
  name: string;
  /** Bytes of the chunks' text (what OpenAI bills storage by). */
  usage_bytes: number;
  file_counts: FileCounts;
  status: "expired" | "in_progress" | "completed";
  expires_after?: StoreExpiry;
  expires_at: number | null;
  last_active_at: number | null;
  metadata: Record<string, string> | null;
  /** The deployment whose vectors the chunks are (unset until a file is indexed). */
  embedding?: { deployment: string; dimensions: number };
  /** Moves on with every change to the store's files or chunks. */
  revision: number;
  owner: Owner;
}

export type FileStatus = "in_progress" | "completed" | "cancelled" | "failed";

export interface StaticChunking {
  max_chunk_size_tokens: number;
  chunk_overlap_tokens: number;
}

export type Attributes = Record<string, string | number | boolean>;

/** A file of a vector store, as OpenAI shows it (`id` is the uploaded file's id). */
export interface VectorStoreFileRecord {
  id: string;
  object: "vector_store.file";
  usage_bytes: number;
  created_at: number;
  vector_store_id: string;
  status: FileStatus;
  last_error: { code: "server_error" | "unsupported_file" | "invalid_file"; message: string } | null;
  chunking_strategy: { type: "static"; static: StaticChunking };
  attributes: Attributes | null;
  /** The uploaded file's name, kept for search results and citations. */
  filename: string;
  /** When indexing last started (ms since the epoch): an in_progress file whose indexing went quiet is taken up again. */
  indexing_since?: number;
}

/** Files added to a store together (OpenAI's file batches): their statuses make the batch's. */
export interface FileBatchRecord {
  id: string;
  vector_store_id: string;
  created_at: number;
  file_ids: string[];
  /** Set when the batch was cancelled (its files still in progress were cancelled). */
  cancelled_at?: number;
}

/** One chunk of a file: its text and its embedding. */
export interface Chunk {
  fileId: string;
  /** Its place in the file, from 0. */
  n: number;
  text: string;
  tokens: number;
  vector: Float32Array;
}

export interface ListPage<T> {
  data: T[];
  hasMore: boolean;
}

export interface ListQuery {
  limit: number;
  order?: "asc" | "desc";
  /** The id of the last item of the previous page. */
  after?: string;
  /** The id of the first item of the next page (paging backwards). */
  before?: string;
}

export interface VectorStoreStore {
  readonly kind: "memory" | "postgres";
  putStore(s: VectorStoreRecord): Promise<void>;
  getStore(id: string): Promise<VectorStoreRecord | undefined>;
  /** Newest first ("desc", the default) or oldest first. */
  listStores(q: ListQuery & { visibility?: Visibility }): Promise<ListPage<VectorStoreRecord>>;
  /** The store with its files and chunks: false when there was none. */
  deleteStore(id: string): Promise<boolean>;
  /**
   * Change a store's own fields (name, metadata, expiry, last use, embedding): the store as it now
   * is, or undefined when there is none. Counts and revision are the store's own business.
   */
  updateStore(id: string, change: (s: VectorStoreRecord) => VectorStoreRecord): Promise<VectorStoreRecord | undefined>;

  /**
   * Add a file (or replace it, chunks dropped) with status in_progress; the store's counts and
   * revision follow. With `maxFiles`, a file more is added only while the store holds fewer (checked
   * in the same step, so concurrent adds cannot pass it): false when refused, or no such store.
   */
  putFile(f: VectorStoreFileRecord, maxFiles?: number): Promise<boolean>;
  getFile(storeId: string, fileId: string): Promise<VectorStoreFileRecord | undefined>;
  listFiles(storeId: string, q: ListQuery & { status?: FileStatus }): Promise<ListPage<VectorStoreFileRecord>>;
  /** Change a file's attributes: the file, or undefined when there is none. The revision moves on. */
  setAttributes(storeId: string, fileId: string, attributes: Attributes | null): Promise<VectorStoreFileRecord | undefined>;
  /** The file with its chunks: false when there was none. */
  deleteFile(storeId: string, fileId: string): Promise<boolean>;
  /**
   * Finish indexing a file still in_progress: its chunks kept and status completed, or (no chunks)
   * the status and error given. False when the file is gone or no longer in progress (deleted or
   * cancelled meanwhile: the chunks are not kept).
   */
  finishFile(storeId: string, fileId: string, outcome: { chunks: Chunk[]; usageBytes: number } | { status: "failed" | "cancelled"; error?: VectorStoreFileRecord["last_error"] }): Promise<boolean>;
  /** Mark a file's indexing as (re)started at `now`, if it is in_progress and its last start is older than `staleBefore`: false otherwise. */
  claimFile(storeId: string, fileId: string, now: number, staleBefore: number): Promise<boolean>;
  /** Files in_progress whose indexing started before `staleBefore` (or never): what a sweep takes up. */
  staleFiles(staleBefore: number, limit: number): Promise<VectorStoreFileRecord[]>;
  /** A store's chunks, with each chunk's file's attributes and name (only completed files). */
  chunks(storeId: string): Promise<{ revision: number; chunks: Chunk[]; files: Map<string, { filename: string; attributes: Attributes | null }> }>;
  /** A file's chunks in order (its parsed content). */
  fileChunks(storeId: string, fileId: string): Promise<Chunk[]>;
  /** Stores whose expires_at has passed: marked expired, their chunks dropped. Returns how many. */
  expireStores(nowSecs: number): Promise<number>;
  /** Keep (or replace) a file batch; it goes with its store. */
  putFileBatch(b: FileBatchRecord): Promise<void>;
  getFileBatch(storeId: string, id: string): Promise<FileBatchRecord | undefined>;
  close(): Promise<void>;
}

export const newFileBatchId = () => `vsfb_${randomBytes(12).toString("hex")}`;

const METHODS = ["putStore", "getStore", "listStores", "deleteStore", "updateStore", "putFile", "getFile", "listFiles", "setAttributes", "deleteFile", "finishFile", "claimFile", "staleFiles", "chunks", "fileChunks", "expireStores", "putFileBatch", "getFileBatch"] as const;

/**
 * A store opened when it is first used (`open()` opens it at once): a gateway whose configuration
 * has no vector stores opens no database pool for them. A failed opening is tried again next time.
 */
export function lazyVectorStoreStore(kind: VectorStoreStore["kind"], make: () => Promise<VectorStoreStore>): VectorStoreStore & { open(): Promise<VectorStoreStore> } {
  let opening: Promise<VectorStoreStore> | undefined;
  const open = () =>
    (opening ??= make().catch((err: unknown) => {
      opening = undefined;
      throw err;
    }));
  const lazy: Record<string, unknown> = { kind, open };
  for (const m of METHODS) lazy[m] = async (...args: unknown[]) => ((await open())[m] as (...a: unknown[]) => unknown)(...args);
  lazy.close = async () => {
    const s = opening && (await opening.catch(() => undefined));
    await s?.close();
  };
  return lazy as unknown as VectorStoreStore & { open(): Promise<VectorStoreStore> };
}

export const newVectorStoreId = () => `vs_${randomBytes(12).toString("hex")}`;

const byNewest = <T extends { created_at: number; id: string }>(a: T, b: T) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** One page of a sorted list, by `after` (the last id of the page before) or `before` (the first id of the page after). */
export function page<T extends { id: string }>(sorted: T[], q: ListQuery): ListPage<T> {
  if (q.before) {
    const i = sorted.findIndex((x) => x.id === q.before);
    const end = i < 0 ? 0 : i;
    const start = Math.max(0, end - q.limit);
    return { data: sorted.slice(start, end), hasMore: start > 0 };
  }
  let start = 0;
  if (q.after) {
    const i = sorted.findIndex((x) => x.id === q.after);
    start = i < 0 ? sorted.length : i + 1;
  }
  return { data: sorted.slice(start, start + q.limit), hasMore: start + q.limit < sorted.length };
}

/** File counts from a store's files. */
export function countFiles(files: Iterable<{ status: FileStatus }>): FileCounts {
  const c: FileCounts = { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
  for (const f of files) {
    c[f.status]++;
    c.total++;
  }
  return c;
}

/** A store's status from its counts: in_progress while any file is being indexed. */
export const storeStatus = (s: Pick<VectorStoreRecord, "status">, c: FileCounts): VectorStoreRecord["status"] => (s.status === "expired" ? "expired" : c.in_progress > 0 ? "in_progress" : "completed");

/** The embedded default: everything in this process. */
export function createMemoryVectorStoreStore(): VectorStoreStore {
  const stores = new Map<string, VectorStoreRecord>();
  /** Per store: its files by id, and their chunks. */
  const files = new Map<string, Map<string, { f: VectorStoreFileRecord; chunks: Chunk[]; usageBytes: number }>>();
  const batches = new Map<string, FileBatchRecord>();
  const copy = <T>(x: T): T => structuredClone(x);

  /** Counts, bytes, status and revision of a store after its files changed. */
  function touch(id: string): void {
    const s = stores.get(id);
    const fs = files.get(id);
    if (!s || !fs) return;
    const entries = [...fs.values()];
    s.file_counts = countFiles(entries.map((e) => e.f));
    s.usage_bytes = entries.reduce((n, e) => n + e.usageBytes, 0);
    s.status = storeStatus(s, s.file_counts);
    s.revision++;
  }

  return {
    kind: "memory",
    async putStore(s) {
      stores.set(s.id, copy(s));
      if (!files.has(s.id)) files.set(s.id, new Map());
    },
    async getStore(id) {
      const s = stores.get(id);
      return s ? copy(s) : undefined;
    },
    async listStores(q) {
      const all = [...stores.values()].filter((s) => visible(s.owner, q.visibility)).sort(byNewest);
      if (q.order === "asc") all.reverse();
      return page(all.map(copy), q);
    },
    async deleteStore(id) {
      files.delete(id);
      for (const [k, b] of batches) if (b.vector_store_id === id) batches.delete(k);
      return stores.delete(id);
    },
    async updateStore(id, change) {
      const s = stores.get(id);
      if (!s) return undefined;
      const next = change(copy(s));
      // Counts, bytes, status and revision stay the store's own.
      const kept: VectorStoreRecord = { ...next, id, file_counts: s.file_counts, usage_bytes: s.usage_bytes, status: next.status === "expired" ? "expired" : s.status, revision: s.revision };
      stores.set(id, kept);
      return copy(kept);
    },
    async putFile(f, maxFiles) {
      const fs = files.get(f.vector_store_id);
      if (!fs) return false;
      if (maxFiles !== undefined && !fs.has(f.id) && fs.size >= maxFiles) return false;
      fs.set(f.id, { f: copy(f), chunks: [], usageBytes: 0 });
      touch(f.vector_store_id);
      return true;
    },
    async getFile(storeId, fileId) {
      const e = files.get(storeId)?.get(fileId);
      return e ? { ...copy(e.f), usage_bytes: e.usageBytes } : undefined;
    },
    async listFiles(storeId, q) {
      const all = [...(files.get(storeId)?.values() ?? [])]
        .filter((e) => !q.status || e.f.status === q.status)
        .map((e) => ({ ...copy(e.f), usage_bytes: e.usageBytes }))
        .sort(byNewest);
      if (q.order === "asc") all.reverse();
      return page(all, q);
    },
    async setAttributes(storeId, fileId, attributes) {
      const e = files.get(storeId)?.get(fileId);
      if (!e) return undefined;
      e.f.attributes = attributes ? { ...attributes } : null;
      touch(storeId);
      return { ...copy(e.f), usage_bytes: e.usageBytes };
    },
    async deleteFile(storeId, fileId) {
      const fs = files.get(storeId);
      if (!fs?.delete(fileId)) return false;
      touch(storeId);
      return true;
    },
    async finishFile(storeId, fileId, outcome) {
      const e = files.get(storeId)?.get(fileId);
      if (!e || e.f.status !== "in_progress") return false;
      if ("chunks" in outcome) {
        e.chunks = outcome.chunks;
        e.usageBytes = outcome.usageBytes;
        e.f.status = "completed";
        e.f.last_error = null;
      } else {
        e.f.status = outcome.status;
        e.f.last_error = outcome.error ?? null;
      }
      e.f.usage_bytes = e.usageBytes;
      delete e.f.indexing_since;
      touch(storeId);
      return true;
    },
    async claimFile(storeId, fileId, now, staleBefore) {
      const e = files.get(storeId)?.get(fileId);
      if (!e || e.f.status !== "in_progress" || (e.f.indexing_since !== undefined && e.f.indexing_since >= staleBefore)) return false;
      e.f.indexing_since = now;
      return true;
    },
    async staleFiles(staleBefore, limit) {
      const out: VectorStoreFileRecord[] = [];
      for (const fs of files.values()) {
        for (const e of fs.values()) {
          if (out.length >= limit) return out;
          if (e.f.status === "in_progress" && (e.f.indexing_since === undefined || e.f.indexing_since < staleBefore)) out.push({ ...copy(e.f), usage_bytes: e.usageBytes });
        }
      }
      return out;
    },
    async chunks(storeId) {
      const s = stores.get(storeId);
      const out: Chunk[] = [];
      const meta = new Map<string, { filename: string; attributes: Attributes | null }>();
      for (const e of files.get(storeId)?.values() ?? []) {
        if (e.f.status !== "completed") continue;
        meta.set(e.f.id, { filename: e.f.filename, attributes: e.f.attributes ? { ...e.f.attributes } : null });
        // Chunks are never changed in place (a file's are replaced whole), so they are shared, not copied.
        for (const c of e.chunks) out.push(c);
      }
      return { revision: s?.revision ?? 0, chunks: out, files: meta };
    },
    async fileChunks(storeId, fileId) {
      return [...(files.get(storeId)?.get(fileId)?.chunks ?? [])];
    },
    async expireStores(nowSecs) {
      let n = 0;
      for (const s of stores.values()) {
        if (s.status !== "expired" && s.expires_at !== null && s.expires_at <= nowSecs) {
          s.status = "expired";
          for (const e of files.get(s.id)?.values() ?? []) e.chunks = [];
          s.revision++;
          n++;
        }
      }
      return n;
    },
    async putFileBatch(b) {
      if (stores.has(b.vector_store_id)) batches.set(b.id, copy(b));
    },
    async getFileBatch(storeId, id) {
      const b = batches.get(id);
      return b && b.vector_store_id === storeId ? copy(b) : undefined;
    },
    async close() {},
  };
}
