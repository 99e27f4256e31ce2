// The gateway's vector stores at work: files indexed in the background (text read from the upload,
// cut into chunks, each chunk embedded by the configured embedding model through the engine, as
// requests of the key that added the file: routed, limited, billed and traced like any embeddings
// request, tagged `vector_store`), and searches (the query embedded by the same deployment as the
// store's chunks, the chunks ranked by ./search.ts, optionally reranked by the configured rerank
// model). Both the Vector Stores API (./http.ts) and the Responses API's `file_search` tool use it.
//
// A replica keeps each store's chunks it searched in memory, ready to rank, and reloads them when
// the store's revision (moved on by every change to its files) is not the one it holds; a file
// whose indexing went quiet (its replica stopped) is taken up again by a sweep on any replica.

import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import type { BatchStore, StoredFile } from "../batch/store.ts";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { GatewayCore } from "../gateway.ts";
import { pdfText } from "../guardrails/pdf-text.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller, ChatCall, EmbedCall, RerankCall, RoutingRequest } from "../router/types.ts";
import { newRequestId, traceIdFrom, type RequestInfo } from "../server/context.ts";
import { log } from "../telemetry/log.ts";
import { buildIndex, chunkText, KEYWORD_WEIGHT, TooLong, matches, rank, unitVector, type ChunkIndex, type Filter } from "./search.ts";
import { newVectorStoreId, type Attributes, type Chunk, type StaticChunking, type StoreExpiry, type VectorStoreFileRecord, type VectorStoreRecord, type VectorStoreStore } from "./store.ts";
import { secs, visibilityOf, visible } from "../batch/store.ts";

/** How often this replica tries a file again after its store was away (then a sweep anywhere takes it up). */
const STORE_RETRIES = 10;
/** How often an indexing request refused by a rate limit is made again (each after its retry-after). */
const INDEX_RETRIES = 20;
/** Chunks embedded per embeddings request. */
const EMBED_BATCH = 64;
/** An in_progress file whose indexing started this long ago is taken up again by a sweep. */
const STALE_MS = 10 * 60_000;
const SWEEP_MS = 30_000;
/** What a replica keeps of the stores' indexes it searched (vectors and text), at most. */
const INDEX_CACHE_BYTES = 256 * 1024 * 1024;
/** How often a search records a store's last use (and moves its expiry on). */
const ACTIVE_EVERY_S = 60;
/** The upload purposes a vector store takes (OpenAI's: assistants; user_data too). */
export const SEARCHABLE_PURPOSES = ["assistants", "user_data"] as const;

export interface SearchOptions {
  maxResults: number;
  filters?: Filter;
  /** "none": semantic similarity only, no keyword blend and no rerank. */
  ranker: "auto" | "none" | "default-2024-11-15";
  /** The share of the score keywords carry (ranking_options.hybrid_search); default KEYWORD_WEIGHT. */
  keywordWeight?: number;
  /** rewrite_query: the queries rewritten for search by `vector_stores.rewrite` (ignored without it). */
  rewrite?: boolean;
  /** Which door searches (the metrics' label): the Vector Stores API, the Responses tool, before the model, the MCP server. */
  via?: "api" | "file_search" | "before_model" | "mcp";
  scoreThreshold: number;
}

export interface SearchHit {
  file_id: string;
  filename: string;
  score: number;
  attributes: Attributes | null;
  content: { type: "text"; text: string }[];
  /** The store it came from. */
  vector_store_id: string;
}

export interface SearchOutcome {
  hits: SearchHit[];
  /** The queries searched: the request's, or their rewriting. */
  queries: string[];
  /** What the searches cost (their embedding and rerank requests), nano-USD. */
  costNanos: number;
}

export interface VectorStores {
  readonly store: VectorStoreStore;
  /** Whether the configuration has `vector_stores` (the API and the tool refuse without). */
  enabled(): boolean;
  create(caller: Caller, s: { name: string; metadata: Record<string, string> | null; expiresAfter?: StoreExpiry; chunking?: StaticChunking; fileIds: string[]; attributes?: Attributes | null }): Promise<VectorStoreRecord>;
  /** The store if the caller may see it, else a not_found naming `field`. */
  get(caller: Caller, id: string, field?: string): Promise<VectorStoreRecord>;
  addFile(caller: Caller, store: VectorStoreRecord, fileId: string, attributes: Attributes | null, chunking: StaticChunking | undefined, field: string): Promise<VectorStoreFileRecord>;
  /** Add several files (a file batch): every one is checked, and the store's file limit, before any is added. */
  addFiles(caller: Caller, store: VectorStoreRecord, items: readonly FileToAdd[]): Promise<VectorStoreFileRecord[]>;
  search(caller: Caller, ri: RequestInfo | undefined, storeIds: readonly string[], queries: readonly string[], o: SearchOptions, signal: AbortSignal): Promise<SearchOutcome>;
  /** Wait until nothing is being indexed (tests, shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** A file to add to a store: its upload's id, attributes, chunking, and the request field that named it. */
export interface FileToAdd {
  id: string;
  attributes: Attributes | null;
  chunking?: StaticChunking;
  field: string;
}

export interface VectorStoresOptions {
  store: VectorStoreStore;
  files: BatchStore;
  engine: ChatEngine;
  core: () => GatewayCore;
  callerOf(keyName: string): Caller | undefined;
  /** An in_progress file whose indexing started this long ago is taken up again (default 10 minutes). */
  staleMs?: number;
  /** How often the sweep looks for expired stores and quiet files (default 30 s). */
  sweepMs?: number;
}


const statusOf = (signal: AbortSignal) => (err: unknown) => (signal.aborted ? "canceled" : err === undefined ? "ok" : err instanceof GatewayError ? err.code : "internal");
const ROUTING = (pinned: boolean): RoutingRequest => ({ fallbacks: [], noFallback: pinned, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false });

/** A file's text: UTF-8 text as it is, a PDF's pages' text, a Word or PowerPoint document's; anything else cannot be searched. */
export async function fileText(bytes: Buffer): Promise<{ text: string } | { error: VectorStoreFileRecord["last_error"] }> {
  if (bytes.subarray(0, 4).toString("latin1") === "PK\x03\x04") {
    // A zip archive: a .docx or .pptx (read lazily: most stores hold text and PDFs).
    const r = (await import("./office.ts")).officeText(bytes);
    if ("error" in r) return { error: { code: r.error.startsWith("a zip archive") ? "unsupported_file" : "invalid_file", message: r.error === "a zip archive that is not a Word or PowerPoint document" ? "only text files (UTF-8), PDFs and Word or PowerPoint documents can be searched" : `the document could not be read: ${r.error}` } };
    if (!r.text.trim()) return { error: { code: "invalid_file", message: `the ${r.kind === "docx" ? "Word document" : "presentation"} has no text` } };
    return { text: r.text };
  }
  if (bytes.subarray(0, 5).toString("latin1") === "%PDF-") {
    const r = await pdfText(bytes);
    if ("error" in r) return { error: { code: "invalid_file", message: `the PDF could not be read: ${r.error}` } };
    if (!r.text.trim()) return { error: { code: "invalid_file", message: "the PDF has no text (a scan without a text layer?)" } };
    return { text: r.text };
  }
  if (bytes.includes(0)) return { error: { code: "unsupported_file", message: "only text files (UTF-8), PDFs and Word or PowerPoint documents can be searched" } };
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (!text.isWellFormed() || text.includes("\uFFFD")) return { error: { code: "unsupported_file", message: "the file is not UTF-8 text (only text files, PDFs and Word or PowerPoint documents can be searched)" } };
  if (!text.trim()) return { error: { code: "invalid_file", message: "the file is empty" } };
  return { text };
}

interface Job {
  storeId: string;
  fileId: string;
  caller: Caller;
  held?: boolean;
  tries?: number;
}

export function createVectorStores(o: VectorStoresOptions): VectorStores {
  const { store, files, engine } = o;
  const staleMs = o.staleMs ?? STALE_MS;
  const cfg = () => o.core().config.vectorStores;
  /** Per store this replica searched: its chunks ready to rank, as of a revision. */
  const cache = new Map<string, { revision: number; index: ChunkIndex; files: Map<string, { filename: string; attributes: Attributes | null }> }>();
  /** Files to index; `held`: this replica claimed it already (a retry after the store was away), `tries` so far. */
  const queue: Job[] = [];
  const running = new Set<Promise<void>>();
  let closed = false;
  // Shutdown stops indexing mid-file: the file stays in progress for a replica (or the next start) to take up.
  const stopping = new AbortController();

  function need(): NonNullable<ReturnType<typeof cfg>> {
    const c = cfg();
    if (!c) throw new GatewayError("failed_precondition", "vector stores are not configured on this gateway (vector_stores.embedding in the configuration)");
    return c;
  }

  /** Embed texts as the caller, with the store's deployment when it has one: the vectors and the deployment. */
  async function embed(caller: Caller, ri: RequestInfo, texts: string[], s: VectorStoreRecord, inputType: "query" | "document", meta: Record<string, string>, signal: AbortSignal): Promise<{ vectors: Float32Array[]; deployment: string; costNanos: number }> {
    const pinned = s.embedding?.deployment;
    const call: EmbedCall = {
      operation: "embeddings",
      id: ri.id,
      model: pinned ?? need().embedding,
      // The gateway's own embedding model: not subject to the key's allow list.
      caller: { ...caller, allow: [] },
      routing: ROUTING(pinned !== undefined),
      tags: ["vector_store"],
      metadata: { ...meta, "signalbox.vector_store_id": s.id },
      request: { inputs: texts, inputType },
    };
    const a = await engine.embed({ call, ri, signal, statusOf: statusOf(signal) });
    return { vectors: a.embeddings, deployment: a.deployment, costNanos: a.cost.total };
  }

  /**
   * An indexing request refused by the key's rate limits (or every deployment cooling down) waits
   * as its retry-after says and is made again, up to INDEX_RETRIES times: a large file indexes at
   * the pace the key's limits allow instead of failing. Any other failure is the file's.
   */
  async function embedWaiting<T>(call: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await call();
      } catch (err) {
        const e = err instanceof GatewayError ? err : undefined;
        // Rate limits (the key's, or every deployment's) pass; a budget does not, nor anything else.
        const waits = e && e.details.retryAfterMs !== undefined && (e.details.refusal === "rate_limit" || (e.code === "resource_exhausted" && e.details.refusal === undefined) || e.code === "unavailable");
        if (!waits || tries >= INDEX_RETRIES || closed) throw err;
        await new Promise((r) => setTimeout(r, Math.min(60_000, Math.max(100, e!.details.retryAfterMs!))));
      }
    }
  }

  /** A request of the gateway's own: its id, and a span of its own (or under `parent`). */
  function requestInfo(name: string, attributes: Record<string, string | number>, parent?: RequestInfo): { ri: RequestInfo; end(): void } {
    const ri: RequestInfo = parent ? { ...parent, id: newRequestId(), arrivedAt: performance.now() } : { id: newRequestId(), traceId: traceIdFrom(null), arrivedAt: performance.now() };
    const tracer = o.core().tracing?.tracer;
    const span = tracer?.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent?.otel ?? ROOT_CONTEXT);
    if (span) {
      ri.traceId = span.spanContext().traceId;
      ri.otel = trace.setSpan(parent?.otel ?? ROOT_CONTEXT, span);
    }
    return { ri, end: () => span?.end() };
  }

  async function index(job: Job): Promise<void> {
    const now = Date.now();
    // A file claimed by this replica before (a retry) is claimed again whatever its time; else only a quiet one.
    if (!(await store.claimFile(job.storeId, job.fileId, now, job.held ? Number.MAX_SAFE_INTEGER : now - staleMs + 1))) return;
    const { ri, end } = requestInfo("vector_store index", { "signalbox.vector_store.id": job.storeId, "signalbox.vector_store.file_id": job.fileId });
    try {
      let s = await store.getStore(job.storeId);
      const f = await store.getFile(job.storeId, job.fileId);
      if (!s || !f || f.status !== "in_progress") return;
      const bytes = await files.fileContent(job.fileId);
      if (!bytes) {
        await store.finishFile(s.id, f.id, { status: "failed", error: { code: "invalid_file", message: "the uploaded file was deleted before it was indexed" } });
        return;
      }
      const read = await fileText(bytes);
      if ("error" in read) {
        await store.finishFile(s.id, f.id, { status: "failed", error: read.error });
        o.core().metrics.vectorFileIndexed("failed", 0);
        return;
      }
      let pieces: Awaited<ReturnType<typeof chunkText>>;
      try {
        pieces = await chunkText(read.text, f.chunking_strategy.static);
      } catch (err) {
        if (!(err instanceof TooLong)) throw err;
        await store.finishFile(s.id, f.id, { status: "failed", error: { code: "invalid_file", message: err.message } });
        o.core().metrics.vectorFileIndexed("failed", 0);
        return;
      }
      for (let attempt = 0; ; attempt++) {
        const chunks: Chunk[] = [];
        let deployment: string | undefined;
        for (let i = 0; i < pieces.length; i += EMBED_BATCH) {
          const batch = pieces.slice(i, i + EMBED_BATCH);
          const cur = s;
          const e = await embedWaiting(() => embed(job.caller, { ...ri, id: newRequestId(), arrivedAt: performance.now() }, batch.map((p) => p.text), cur, "document", { "signalbox.vector_store_file_id": f.id }, stopping.signal));
          deployment ??= e.deployment;
          // Still at it: the claim renewed, so a sweep elsewhere does not take a long file up meanwhile.
          await store.claimFile(s.id, f.id, Date.now(), Number.MAX_SAFE_INTEGER).catch(() => false);
          // Kept as unit vectors: a search's cosine is then a dot product, with no copy to make.
          batch.forEach((p, j) => chunks.push({ fileId: f.id, n: i + j, text: p.text, tokens: p.tokens, vector: unitVector(e.vectors[j]) }));
        }
        if (!deployment) break;
        // The first file indexed sets the store's embedding deployment; a file indexed at the same
        // time by another deployment (a route with several) is embedded again by the store's.
        const dims = chunks[0]?.vector.length ?? 0;
        const set = await store.updateStore(s.id, (x) => (x.embedding ? x : { ...x, embedding: { deployment: deployment!, dimensions: dims } }));
        if (!set) return;
        s = set;
        if (s.embedding!.deployment === deployment || attempt > 0) {
          const bytesUsed = chunks.reduce((n, c) => n + Buffer.byteLength(c.text), 0);
          if (await store.finishFile(s.id, f.id, { chunks, usageBytes: bytesUsed })) o.core().metrics.vectorFileIndexed("completed", chunks.length);
          return;
        }
      }
      await store.finishFile(s.id, f.id, { chunks: [], usageBytes: 0 });
    } catch (err) {
      if (closed) return;
      const message = err instanceof GatewayError ? `${err.code}: ${err.message}` : "the file could not be indexed";
      if (!(err instanceof GatewayError)) log("warn", "vector store: indexing failed", { store: job.storeId, file: job.fileId, error: String((err as Error)?.message ?? err) });
      const recorded = await store.finishFile(job.storeId, job.fileId, { status: "failed", error: { code: "server_error", message } }).then(
        (done) => {
          if (done) o.core().metrics.vectorFileIndexed("failed", 0);
          return true;
        },
        () => false,
      );
      // The store itself was away (the failure could not even be recorded): the file is still this
      // replica's to index, tried again with a growing wait (5 s to a minute) while it is up.
      if (!recorded && !closed && (job.tries ?? 0) < STORE_RETRIES) {
        const tries = (job.tries ?? 0) + 1;
        setTimeout(() => {
          if (closed) return;
          queue.push({ ...job, held: true, tries });
          pump();
        }, Math.min(60_000, 5_000 * tries)).unref();
      }
    } finally {
      end();
    }
  }

  function pump(): void {
    const limit = cfg()?.indexingConcurrency ?? 2;
    while (!closed && running.size < limit && queue.length) {
      const job = queue.shift()!;
      const p = index(job)
        .catch((err: unknown) => log("warn", "vector store: indexing failed", { store: job.storeId, file: job.fileId, error: String((err as Error)?.message ?? err) }))
        .finally(() => {
          running.delete(p);
          pump();
        });
      running.add(p);
    }
  }

  async function sweep(): Promise<void> {
    // Without vector_stores in the config there is nothing to index here (and the store stays unopened).
    if (closed || !cfg()) return;
    await store.expireStores(secs(Date.now()));
    for (const f of await store.staleFiles(Date.now() - staleMs, 100)) {
      if (queue.some((j) => j.storeId === f.vector_store_id && j.fileId === f.id)) continue;
      const s = await store.getStore(f.vector_store_id);
      const caller = s && o.callerOf(s.owner.key);
      if (!s || !caller) {
        if (s) await store.finishFile(s.id, f.id, { status: "failed", error: { code: "server_error", message: `API key "${s.owner.key}" was revoked, expired or removed before the file was indexed` } });
        continue;
      }
      queue.push({ storeId: s.id, fileId: f.id, caller });
    }
    pump();
  }
  const timer = setInterval(() => void sweep().catch((err: unknown) => log("warn", "vector store: sweep failed", { error: String((err as Error)?.message ?? err) })), o.sweepMs ?? SWEEP_MS);
  timer.unref();

  async function get(caller: Caller, id: string, field = "vector_store_id"): Promise<VectorStoreRecord> {
    const s = await store.getStore(id);
    if (!s || !visible(s.owner, visibilityOf(caller))) throw new GatewayError("not_found", `${field}: no vector store "${id}" (or this key may not see it)`, { field });
    return s;
  }

  /** The upload a store may take, or the refusal naming `field`. */
  async function upload(caller: Caller, fileId: string, field: string): Promise<StoredFile> {
    const up: StoredFile | undefined = await files.getFile(fileId);
    const expired = up?.expires_at !== undefined && up.expires_at * 1000 <= Date.now();
    if (!up || expired || !visible(up.owner, visibilityOf(caller))) throw new GatewayError("not_found", `${field}: no file "${fileId}" (or this key may not see it)`, { field });
    if (!(SEARCHABLE_PURPOSES as readonly string[]).includes(up.purpose)) throw new GatewayError("invalid_argument", `${field}: the file's purpose is "${up.purpose}"; a vector store takes files uploaded with purpose "assistants" or "user_data"`, { field });
    return up;
  }

  async function addFiles(caller: Caller, s0: VectorStoreRecord, items: readonly FileToAdd[]): Promise<VectorStoreFileRecord[]> {
    const c = need();
    // Every file is checked before any is added: a refusal leaves the store as it was.
    const ups: StoredFile[] = [];
    for (const x of items) ups.push(await upload(caller, x.id, x.field));
    // The store as it stands now (its counts move on as files are added).
    const s = (await store.getStore(s0.id)) ?? s0;
    if (s.status === "expired") throw new GatewayError("failed_precondition", `vector_store_id: vector store "${s.id}" has expired`, { field: "vector_store_id" });
    let total = s.file_counts.total;
    for (const x of items) {
      if (await store.getFile(s.id, x.id)) continue; // replaced, not one more
      if (++total > c.maxFiles) throw new GatewayError("resource_exhausted", `${x.field}: vector store "${s.id}" would hold ${total} files, more than its most of ${c.maxFiles} (vector_stores.max_files)`, { field: x.field });
    }
    const out: VectorStoreFileRecord[] = [];
    for (const [i, x] of items.entries()) {
      const f: VectorStoreFileRecord = {
        id: x.id,
        object: "vector_store.file",
        usage_bytes: 0,
        created_at: secs(Date.now()),
        vector_store_id: s.id,
        status: "in_progress",
        last_error: null,
        chunking_strategy: { type: "static", static: x.chunking ?? { max_chunk_size_tokens: c.chunking.maxChunkSizeTokens, chunk_overlap_tokens: c.chunking.chunkOverlapTokens } },
        attributes: x.attributes,
        filename: ups[i].filename,
      };
      // The limit again, in the store's own step: another request adding files at the same time may have taken the room.
      if (!(await store.putFile(f, c.maxFiles))) {
        pump();
        throw new GatewayError("resource_exhausted", `${x.field}: vector store "${s.id}" holds ${c.maxFiles} files, its most (vector_stores.max_files)`, { field: x.field });
      }
      queue.push({ storeId: s.id, fileId: x.id, caller });
      out.push(f);
    }
    pump();
    return out;
  }

  async function addFile(caller: Caller, s: VectorStoreRecord, fileId: string, attributes: Attributes | null, chunking: StaticChunking | undefined, field: string): Promise<VectorStoreFileRecord> {
    const [f] = await addFiles(caller, s, [{ id: fileId, attributes, ...(chunking ? { chunking } : {}), field }]);
    return f;
  }

  async function chunksOf(s: VectorStoreRecord) {
    const held = cache.get(s.id);
    if (held && held.revision === s.revision) {
      // Most recently used last.
      cache.delete(s.id);
      cache.set(s.id, held);
      return held;
    }
    const { revision, chunks, files: meta } = await store.chunks(s.id);
    const entry = { revision, index: await buildIndex(chunks), files: meta };
    cache.delete(s.id);
    cache.set(s.id, entry);
    // Bounded by what the indexes hold: the stores searched least recently go first (the one just read stays).
    let bytes = 0;
    for (const e of cache.values()) bytes += e.index.bytes;
    for (const [id, e] of cache) {
      if (bytes <= INDEX_CACHE_BYTES || id === s.id) break;
      cache.delete(id);
      bytes -= e.index.bytes;
    }
    return entry;
  }

  /** Search stores: the queries embedded by each store's deployment, its chunks ranked, reranked when configured. */
  /**
   * rewrite_query: the queries, as a request of the caller's to `vector_stores.rewrite`, made into
   * one search query (OpenAI's rewriting turns a question into the words to look for). An empty
   * answer keeps the queries as they were.
   */
  async function rewritten(caller: Caller, ri: RequestInfo, model: string, queries: readonly string[], signal: AbortSignal): Promise<{ queries: string[]; costNanos: number }> {
    const call: ChatCall = {
      id: newRequestId(),
      model,
      caller: { ...caller, allow: [] },
      routing: ROUTING(false),
      tags: ["vector_store"],
      metadata: { "signalbox.vector_store_rewrite": "1" },
      stream: false,
      request: {
        messages: [
          { role: "system", content: [{ type: "text", text: "Rewrite the user's question as a short search query for a document search: the key words and names only, no explanation. Answer with the query alone, on one line." }] },
          { role: "user", content: [{ type: "text", text: queries.join("\n") }] },
        ],
        maxOutputTokens: 64,
        temperature: 0,
      },
    };
    const a = await engine.complete({ call, ri: { ...ri, id: call.id, arrivedAt: performance.now() }, signal, statusOf: statusOf(signal) });
    const line = a.text.split("\n").map((l) => l.trim().replace(/^["'`]+|["'`]+$/g, "")).find((l) => l) ?? "";
    return { queries: line ? [line.slice(0, 400)] : [...queries], costNanos: a.cost.total };
  }

  async function searchStores(caller: Caller, parent: RequestInfo | undefined, storeIds: readonly string[], asked: readonly string[], opts: SearchOptions, signal: AbortSignal): Promise<SearchOutcome> {
    const c = need();
    const stores = await Promise.all(storeIds.map((id, i) => get(caller, id, storeIds.length > 1 ? `vector_store_ids[${i}]` : "vector_store_id")));
    for (const s of stores) if (s.status === "expired") throw new GatewayError("failed_precondition", `vector store "${s.id}" has expired`, { field: "vector_store_id" });
    const { ri, end } = requestInfo("vector_store search", { "signalbox.vector_store.ids": storeIds.join(","), "signalbox.vector_store.queries": asked.length } as Record<string, string | number>, parent);
    try {
      let costNanos = 0;
      let queries: readonly string[] = asked;
      if (opts.rewrite && c.rewrite) {
        const r = await rewritten(caller, ri, c.rewrite, asked, signal);
        queries = r.queries;
        costNanos += r.costNanos;
      }
      // Queries embedded once per deployment the stores' chunks come from.
      const byDeployment = new Map<string, { text: string; unit: Float32Array }[]>();
      for (const s of stores) {
        const d = s.embedding?.deployment;
        if (!d || byDeployment.has(d)) continue;
        const e = await embed(caller, { ...ri, id: newRequestId(), arrivedAt: performance.now() }, [...queries], s, "query", {}, signal);
        costNanos += e.costNanos;
        byDeployment.set(d, queries.map((text, i) => ({ text, unit: unitVector(e.vectors[i]) })));
      }
      const ranked: { hit: SearchHit; score: number }[] = [];
      // What each store gives: the results asked for, or the rerank model's candidates.
      const keep = c.rerank && opts.ranker !== "none" ? Math.min(50, opts.maxResults * 4) : opts.maxResults;
      for (const s of stores) {
        const qs = s.embedding && byDeployment.get(s.embedding.deployment);
        if (!qs) continue; // nothing indexed yet
        const entry = await chunksOf(s);
        // A filter is decided per file, then marked on its chunks.
        let allowed: Uint8Array | undefined;
        if (opts.filters) {
          const pass = new Map<string, number>();
          for (const [id, m] of entry.files) pass.set(id, matches(opts.filters, m.attributes) ? 1 : 0);
          allowed = Uint8Array.from(entry.index.items, (x) => pass.get(x.fileId) ?? 0);
        }
        for (const { item, score } of rank(entry.index, qs, opts.ranker === "none" ? 0 : (opts.keywordWeight ?? KEYWORD_WEIGHT), keep, allowed)) {
          const meta = entry.files.get(item.fileId);
          ranked.push({ score, hit: { file_id: item.fileId, filename: meta?.filename ?? "", score, attributes: meta?.attributes ?? null, content: [{ type: "text", text: item.text }], vector_store_id: s.id } });
        }
        // Searching is using: the store's last use, and its expiry counted from it.
        const now = secs(Date.now());
        if (s.last_active_at === null || now - s.last_active_at >= ACTIVE_EVERY_S) {
          void store.updateStore(s.id, (x) => ({ ...x, last_active_at: now, expires_at: x.expires_after ? now + x.expires_after.days * 86_400 : x.expires_at })).catch(() => {});
        }
      }
      ranked.sort((a, b) => b.score - a.score);
      let top = ranked.slice(0, keep);
      // Even one candidate is reranked: its score is then the rerank model's, as score_threshold expects.
      if (c.rerank && opts.ranker !== "none" && top.length > 0) {
        const call: RerankCall = {
          operation: "rerank",
          id: newRequestId(),
          model: c.rerank,
          caller: { ...caller, allow: [] },
          routing: ROUTING(false),
          tags: ["vector_store"],
          metadata: { "signalbox.vector_store_id": storeIds.join(",") },
          request: { query: queries.join("\n"), documents: top.map((x) => x.hit.content[0].text) },
        };
        const a = await engine.rerank({ call, ri: { ...ri, id: call.id, arrivedAt: performance.now() }, signal, statusOf: statusOf(signal) });
        costNanos += a.cost.total;
        top = a.results.map((r) => ({ hit: { ...top[r.index].hit, score: r.score }, score: r.score }));
      }
      const hits = top
        .filter((x) => x.score >= opts.scoreThreshold)
        .slice(0, opts.maxResults)
        .map((x) => ({ ...x.hit, score: Math.round(x.score * 1e6) / 1e6 }));
      return { hits, queries: [...queries], costNanos };
    } finally {
      end();
    }
  }

  return {
    store,
    enabled: () => cfg() !== undefined,
    get,
    addFile,
    addFiles,

    async create(caller, x) {
      const c = need();
      const created = secs(Date.now());
      const s: VectorStoreRecord = {
        id: newVectorStoreId(),
        object: "vector_store",
        created_at: created,
        name: x.name,
        usage_bytes: 0,
        file_counts: { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 },
        status: "completed",
        ...(x.expiresAfter ? { expires_after: x.expiresAfter } : {}),
        expires_at: x.expiresAfter ? created + x.expiresAfter.days * 86_400 : null,
        last_active_at: created,
        metadata: x.metadata,
        revision: 0,
        owner: { key: caller.keyName, team: caller.team },
      };
      // Every file is checked, and the file limit, before the store is made: a refusal leaves nothing behind.
      const items: FileToAdd[] = x.fileIds.map((id, i) => ({ id, attributes: x.attributes ?? null, ...(x.chunking ? { chunking: x.chunking } : {}), field: `file_ids[${i}]` }));
      for (const it of items) await upload(caller, it.id, it.field);
      if (items.length > c.maxFiles) throw new GatewayError("resource_exhausted", `file_ids: ${items.length} files, more than a vector store's most of ${c.maxFiles} (vector_stores.max_files)`, { field: "file_ids" });
      await store.putStore(s);
      if (items.length) await addFiles(caller, s, items);
      return (await store.getStore(s.id)) ?? s;
    },

    async search(caller, parent, storeIds, queries, opts, signal) {
      const started = performance.now();
      const via = opts.via ?? "api";
      try {
        const out = await searchStores(caller, parent, storeIds, queries, opts, signal);
        o.core().metrics.vectorSearch(via, "ok", out.hits.length, (performance.now() - started) / 1000);
        return out;
      } catch (err) {
        o.core().metrics.vectorSearch(via, "failed", 0, (performance.now() - started) / 1000);
        throw err;
      }
    },

    async idle() {
      while (queue.length || running.size) await Promise.race([...running, new Promise((r) => setTimeout(r, 10))]);
    },

    async close() {
      closed = true;
      stopping.abort();
      clearInterval(timer);
      queue.length = 0;
      await Promise.allSettled([...running]);
    },
  };
}
