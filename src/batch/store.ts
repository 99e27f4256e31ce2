// The Batch API's state: uploaded files, batches, and each batch's finished lines. Two stores behind
// one interface: memory (the embedded default: lost with the process, like its usage) and
// PostgreSQL (postgres-store.ts, with `store.postgres_url`: durable, shared by replicas, and a batch
// under way when its replica stops is taken up by another, or by the same one restarted, from the
// first line not yet finished).
//
// Leases: a replica runs a batch only while it holds the batch's lease (claim, then renew before it
// runs out). A lease that ran out (its replica stopped or lost its database) lets any replica
// claim the batch; lines already finished are never run again, because results are kept per line
// and addResults is idempotent by (batch, line).

import { randomBytes } from "node:crypto";

/** Who made a file or batch: only they (their key, or their team's key of role team) and admins see it. */
export interface Owner {
  key: string;
  team: string;
}

/** batch and batch_output: the Batch API's; assistants and user_data: documents for vector stores (src/vectors); ocr: documents for /v1/ocr (Mistral's purpose). */
export type FilePurpose = "batch" | "batch_output" | "assistants" | "user_data" | "ocr";
export const FILE_PURPOSES: readonly FilePurpose[] = ["batch", "batch_output", "assistants", "user_data", "ocr"];

/** An uploaded (or produced) file, as OpenAI's FileObject plus its owner. */
export interface StoredFile {
  id: string;
  object: "file";
  bytes: number;
  /** Seconds since the epoch. */
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  status: "processed";
  /** Seconds since the epoch; absent: kept until deleted. */
  expires_at?: number;
  /** The upload's media type as its multipart part said it (absent when it said none). */
  mimetype?: string;
  owner: Owner;
}

export type BatchStatus = "validating" | "failed" | "in_progress" | "finalizing" | "completed" | "expired" | "cancelling" | "cancelled";
/**
 * What a batch's lines may call: OpenAI's batch endpoints, the gateway's OCR and search (as
 * Mistral's batch API takes OCR), and Anthropic's messages (its Message Batches API).
 */
export const BATCH_ENDPOINTS = ["/v1/chat/completions", "/v1/responses", "/v1/completions", "/v1/embeddings", "/v1/moderations", "/v1/ocr", "/v1/search", "/v1/messages"] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];
/** Statuses a runner still has work in. */
export const ACTIVE: readonly BatchStatus[] = ["validating", "in_progress", "finalizing", "cancelling"];

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A batch, as OpenAI's Batch plus its owner and what it cost. Times are seconds since the epoch. */
export interface BatchRecord {
  id: string;
  object: "batch";
  endpoint: BatchEndpoint;
  input_file_id: string;
  completion_window: "24h";
  status: BatchStatus;
  output_file_id?: string;
  error_file_id?: string;
  created_at: number;
  in_progress_at?: number;
  expires_at: number;
  finalizing_at?: number;
  completed_at?: number;
  failed_at?: number;
  expired_at?: number;
  cancelling_at?: number;
  cancelled_at?: number;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  /** When the output and error files expire, counted from their creation (absent: kept until deleted). */
  output_expires_after?: { anchor: "created_at"; seconds: number };
  errors?: { object: "list"; data: BatchError[] };
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  };
  /** What the batch's lines cost so far, nano-USD (the gateway's own field). */
  cost_nano_usd: number;
  /** Of request_counts.failed, the lines never run because the batch was cancelled or expired (set when it ends). */
  unrun?: { cancelled: number; expired: number };
  owner: Owner;
}

/** One finished line: its output (or error) file line, and what it used. */
export interface LineResult {
  /** 1-based line number in the input file. */
  line: number;
  customId: string;
  /** 2xx: the output file; else the error file. */
  ok: boolean;
  /** The JSONL line written to the output or error file (no newline). */
  json: string;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costNanos: number;
}

export interface ListPage<T> {
  data: T[];
  hasMore: boolean;
}

/** Which files or batches a caller may see: undefined sees all (admin, or no keys). */
export interface Visibility {
  team?: string;
  key?: string;
}

export const visible = (o: Owner, v: Visibility | undefined) => !v || ((v.team === undefined || o.team === v.team) && (v.key === undefined || o.key === v.key));

/** What a caller may see: an admin key (or anyone, with no keys) everything, a team key its team's, a service key its own. */
export const visibilityOf = (caller: { role: string; team: string; keyName: string }): Visibility | undefined =>
  caller.role === "admin" || caller.role === "anonymous" ? undefined : caller.role === "team" ? { team: caller.team } : { key: caller.keyName };

export interface BatchStore {
  readonly kind: "memory" | "postgres";
  putFile(f: StoredFile, content: Buffer): Promise<void>;
  getFile(id: string): Promise<StoredFile | undefined>;
  fileContent(id: string): Promise<Buffer | undefined>;
  /** Newest first (order "desc", the default) or oldest first; `after` is the id of the last file of the previous page. */
  listFiles(q: { visibility?: Visibility; purpose?: FilePurpose; after?: string; limit: number; order?: "asc" | "desc" }): Promise<ListPage<StoredFile>>;
  /** False when there was no such file. */
  deleteFile(id: string): Promise<boolean>;

  createBatch(b: BatchRecord): Promise<void>;
  getBatch(id: string): Promise<BatchRecord | undefined>;
  /** Newest first; `after` is the id of the last batch of the previous page; `idPrefix` keeps one API's batches ("batch_", "msgbatch_"). */
  listBatches(q: { visibility?: Visibility; after?: string; limit: number; idPrefix?: string }): Promise<ListPage<BatchRecord>>;
  /**
   * Replace a batch's record when its status is one of `from` (compare and set): the new record,
   * or undefined when the status had moved on (or there is no such batch).
   */
  updateBatch(id: string, from: readonly BatchStatus[], next: BatchRecord): Promise<BatchRecord | undefined>;

  /** Forget a batch, with its finished lines (its files are deleted on their own): false when there was none. */
  deleteBatch(id: string): Promise<boolean>;

  /** Keep finished lines; a line already kept is kept once (the first one wins). */
  addResults(batchId: string, results: LineResult[]): Promise<void>;
  /** A batch's finished lines, by line number: those after line `after` (default 0), at most `limit` (default all). */
  results(batchId: string, after?: number, limit?: number): Promise<LineResult[]>;
  /** Forget a batch's finished lines (once its output and error files are written). */
  dropResults(batchId: string): Promise<void>;

  /**
   * Lease the oldest batch with work left (an ACTIVE status) whose lease is free or ran out, for
   * `leaseMs`, to `holder`, passing over `exclude` (the batches the holder already runs): its id,
   * or undefined when there is none.
   */
  claim(holder: string, leaseMs: number, now: number, exclude?: readonly string[]): Promise<string | undefined>;
  /** Extend a lease `holder` still holds: false when it lost it (ran out and taken, or released). */
  renew(batchId: string, holder: string, leaseMs: number, now: number): Promise<boolean>;
  release(batchId: string, holder: string): Promise<void>;
  /** Files whose expires_at has passed: deleted. Returns how many. */
  expireFiles(now: number): Promise<number>;
  close(): Promise<void>;
}

/** Seconds since the epoch, as the records keep times. */
export const secs = (ms: number) => Math.floor(ms / 1000);

/** Whether a string can be kept as text by every store (no NUL, no lone surrogate: PostgreSQL holds neither). */
export const storable = (s: string) => !s.includes("\u0000") && s.isWellFormed();

/** `file-…` and `batch_…` ids, as OpenAI's look (24 random bytes, base62-ish via hex). */
export const newFileId = () => `file-${randomBytes(12).toString("hex")}`;
export const newBatchId = () => `batch_${randomBytes(12).toString("hex")}`;
/** Anthropic's Message Batches: `msgbatch_…`. */
export const newMessageBatchId = () => `msgbatch_${randomBytes(12).toString("hex")}`;

const byNewest = <T extends { created_at: number; id: string }>(a: T, b: T) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

function page<T extends { id: string }>(sorted: T[], after: string | undefined, limit: number): ListPage<T> {
  let start = 0;
  if (after) {
    const i = sorted.findIndex((x) => x.id === after);
    start = i < 0 ? sorted.length : i + 1;
  }
  return { data: sorted.slice(start, start + limit), hasMore: start + limit < sorted.length };
}

/** The embedded default: everything in this process. */
export function createMemoryBatchStore(): BatchStore {
  const files = new Map<string, { f: StoredFile; content: Buffer }>();
  const batches = new Map<string, BatchRecord>();
  const results = new Map<string, Map<number, LineResult>>();
  const leases = new Map<string, { holder: string; until: number }>();
  const copy = <T>(x: T): T => structuredClone(x);
  return {
    kind: "memory",
    async putFile(f, content) {
      files.set(f.id, { f: copy(f), content });
    },
    async getFile(id) {
      const e = files.get(id);
      return e ? copy(e.f) : undefined;
    },
    async fileContent(id) {
      return files.get(id)?.content;
    },
    async listFiles(q) {
      const all = [...files.values()].map((e) => e.f).filter((f) => visible(f.owner, q.visibility) && (!q.purpose || f.purpose === q.purpose));
      all.sort(byNewest);
      if (q.order === "asc") all.reverse();
      return page(all.map(copy), q.after, q.limit);
    },
    async deleteFile(id) {
      return files.delete(id);
    },
    async createBatch(b) {
      batches.set(b.id, copy(b));
    },
    async getBatch(id) {
      const b = batches.get(id);
      return b ? copy(b) : undefined;
    },
    async listBatches(q) {
      const all = [...batches.values()].filter((b) => visible(b.owner, q.visibility) && (!q.idPrefix || b.id.startsWith(q.idPrefix))).sort(byNewest);
      return page(all.map(copy), q.after, q.limit);
    },
    async updateBatch(id, from, next) {
      const b = batches.get(id);
      if (!b || !from.includes(b.status)) return undefined;
      batches.set(id, copy(next));
      return copy(next);
    },
    async deleteBatch(id) {
      results.delete(id);
      leases.delete(id);
      return batches.delete(id);
    },
    async addResults(batchId, rs) {
      let m = results.get(batchId);
      if (!m) results.set(batchId, (m = new Map()));
      for (const r of rs) if (!m.has(r.line)) m.set(r.line, { ...r });
    },
    async results(batchId, after = 0, limit = Infinity) {
      return [...(results.get(batchId)?.values() ?? [])]
        .filter((r) => r.line > after)
        .sort((a, b) => a.line - b.line)
        .slice(0, limit)
        .map((r) => ({ ...r }));
    },
    async dropResults(batchId) {
      results.delete(batchId);
    },
    async claim(holder, leaseMs, now, exclude = []) {
      const ready = [...batches.values()]
        .filter((b) => ACTIVE.includes(b.status) && !exclude.includes(b.id))
        .filter((b) => {
          const l = leases.get(b.id);
          return !l || l.until <= now || l.holder === holder;
        })
        .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
      const b = ready[0];
      if (!b) return undefined;
      leases.set(b.id, { holder, until: now + leaseMs });
      return b.id;
    },
    async renew(batchId, holder, leaseMs, now) {
      const l = leases.get(batchId);
      if (!l || l.holder !== holder) return false;
      l.until = now + leaseMs;
      return true;
    },
    async release(batchId, holder) {
      if (leases.get(batchId)?.holder === holder) leases.delete(batchId);
    },
    async expireFiles(now) {
      let n = 0;
      for (const [id, e] of files) {
        if (e.f.expires_at !== undefined && e.f.expires_at * 1000 <= now) {
          files.delete(id);
          n++;
        }
      }
      return n;
    },
    async close() {},
  };
}

/** The lines of a JSONL buffer, each a view into it (nothing copied), with its 1-based number. */
export function* jsonlLines(content: Buffer): Generator<{ n: number; bytes: Buffer }> {
  let n = 0;
  for (let start = 0; start < content.length; ) {
    let end = content.indexOf(0x0a, start);
    if (end < 0) end = content.length;
    n++;
    yield { n, bytes: content.subarray(start, end) };
    start = end + 1;
  }
}
