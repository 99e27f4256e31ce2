// OpenAI's Vector Stores API on the OpenAI-compatible endpoint, as the official SDK calls it:
//
//   POST   /v1/vector_stores                        {name, file_ids, metadata, expires_after, chunking_strategy}
//   GET    /v1/vector_stores                        ?limit (1..100, default 20), order, after, before
//   GET    /v1/vector_stores/{id}
//   POST   /v1/vector_stores/{id}                   {name, metadata, expires_after}
//   DELETE /v1/vector_stores/{id}
//   POST   /v1/vector_stores/{id}/search            {query, max_num_results, filters, ranking_options, rewrite_query}
//   POST   /v1/vector_stores/{id}/files             {file_id, attributes, chunking_strategy}
//   GET    /v1/vector_stores/{id}/files             ?limit, order, after, before, filter (status)
//   GET    /v1/vector_stores/{id}/files/{file}
//   POST   /v1/vector_stores/{id}/files/{file}      {attributes}
//   DELETE /v1/vector_stores/{id}/files/{file}
//   GET    /v1/vector_stores/{id}/files/{file}/content
//   POST   /v1/vector_stores/{id}/file_batches      {file_ids | files, attributes, chunking_strategy}
//   GET    /v1/vector_stores/{id}/file_batches/{b}  (and /files, and POST …/cancel)
//
// Who sees what is as for files and batches: an admin key (or anyone, with no keys) everything, a
// team key its team's stores, a service key its own; anything else is "not found".

import type { ServerResponse } from "node:http";
import { bad, isObj } from "../compat/request.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { storable, visibilityOf } from "../batch/store.ts";
import { metadataOf } from "../batch/http.ts";
import type { RequestInfo } from "../server/context.ts";
import { parseFilter } from "./search.ts";
import type { VectorStores } from "./service.ts";
import { countFiles, newFileBatchId, page, type Attributes, type FileBatchRecord, type FileStatus, type StaticChunking, type StoreExpiry, type VectorStoreFileRecord, type VectorStoreRecord } from "./store.ts";

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

export const isVectorStorePath = (path: string) => path === "/v1/vector_stores" || path.startsWith("/v1/vector_stores/");

export interface VectorStoreRequest {
  api: VectorStores;
  method: string;
  path: string;
  query: URLSearchParams;
  caller: Caller;
  ri: RequestInfo;
  signal: AbortSignal;
  readBody: (limit: number) => Promise<Buffer>;
  send: Send;
  res: ServerResponse;
}

/** The store as OpenAI shows it (without its owner, revision or embedding). */
export function storeJson(s: VectorStoreRecord) {
  const { owner: _o, revision: _r, embedding, ...rest } = s;
  return { ...rest, ...(rest.expires_after ? {} : { expires_after: null }), signalbox: { embedding_deployment: embedding?.deployment ?? null } };
}

/** The store's file as OpenAI shows it, with the upload's name under `signalbox`. */
export function fileJson(f: VectorStoreFileRecord) {
  const { filename, indexing_since: _i, ...rest } = f;
  return { ...rest, signalbox: { filename } };
}

/** File attributes: up to 16 keys of at most 64 characters; strings of at most 512, numbers or booleans. */
export function attributesOf(v: unknown, field = "attributes"): Attributes | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) return bad(field, "must be an object of strings, numbers and booleans");
  const entries = Object.entries(v);
  if (entries.length > 16) bad(field, `may hold at most 16 pairs, got ${entries.length}`);
  const out: Attributes = {};
  for (const [k, x] of entries) {
    if (k.length > 64 || !storable(k)) bad(`${field}.${k.slice(0, 20)}`, "keys are at most 64 characters of text");
    if (typeof x === "string") {
      if (x.length > 512 || !storable(x)) bad(`${field}.${k}`, "strings are at most 512 characters of text");
    } else if (typeof x === "number") {
      if (!Number.isFinite(x)) bad(`${field}.${k}`, "must be a finite number");
    } else if (typeof x !== "boolean") return bad(`${field}.${k}`, "must be a string, a number or a boolean");
    out[k] = x as string | number | boolean;
  }
  return out;
}

function expiryOf(v: unknown): StoreExpiry | undefined | null {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!isObj(v)) return bad("expires_after", 'must be an object {"anchor": "last_active_at", "days": n}');
  if (v.anchor !== "last_active_at") bad("expires_after.anchor", 'must be "last_active_at"');
  const d = v.days;
  if (typeof d !== "number" || !Number.isInteger(d) || d < 1 || d > 365) bad("expires_after.days", `must be an integer from 1 to 365, got ${JSON.stringify(d ?? null)}`);
  return { anchor: "last_active_at", days: d as number };
}

/** `chunking_strategy`: auto (the configured default) or static, with OpenAI's bounds. */
export function chunkingOf(v: unknown, field = "chunking_strategy"): StaticChunking | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) return bad(field, 'must be {"type": "auto"} or {"type": "static", "static": {max_chunk_size_tokens, chunk_overlap_tokens}}');
  if (v.type === "auto") return undefined;
  if (v.type !== "static") return bad(`${field}.type`, `must be "auto" or "static", got ${JSON.stringify(v.type ?? null)}`);
  const s = v.static;
  if (!isObj(s)) return bad(`${field}.static`, "is required for a static strategy: {max_chunk_size_tokens, chunk_overlap_tokens}");
  const max = s.max_chunk_size_tokens;
  const overlap = s.chunk_overlap_tokens;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 100 || max > 4096) bad(`${field}.static.max_chunk_size_tokens`, `must be an integer from 100 to 4096, got ${JSON.stringify(max ?? null)}`);
  if (typeof overlap !== "number" || !Number.isInteger(overlap) || overlap < 0 || overlap > (max as number) / 2) bad(`${field}.static.chunk_overlap_tokens`, `must be an integer from 0 to half of max_chunk_size_tokens (${(max as number) / 2}), got ${JSON.stringify(overlap ?? null)}`);
  return { max_chunk_size_tokens: max as number, chunk_overlap_tokens: overlap as number };
}

function only(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
}

function listQuery(q: URLSearchParams): { limit: number; order: "asc" | "desc"; after?: string; before?: string } {
  const raw = q.get("limit");
  const limit = raw === null ? 20 : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) bad("limit", `must be an integer from 1 to 100, got "${raw}"`);
  const order = q.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") bad("order", `must be "asc" or "desc", got "${order}"`);
  return { limit, order, ...(q.get("after") ? { after: q.get("after")! } : {}), ...(q.get("before") ? { before: q.get("before")! } : {}) };
}

const listJson = <T extends { id: string }>(data: T[], hasMore: boolean, json: (x: T) => unknown) => ({ object: "list", data: data.map(json), first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore });

/** The search request's queries (a string or up to 10 strings) and options. */
export function searchOptionsOf(body: Record<string, unknown>) {
  const q = body.query;
  const queries = typeof q === "string" ? [q] : Array.isArray(q) ? q : bad("query", "is required: a string or an array of strings");
  if (queries.length === 0 || queries.length > 10) bad("query", `must hold 1 to 10 queries, got ${queries.length}`);
  queries.forEach((x, i) => {
    if (typeof x !== "string" || !x.trim()) bad(typeof q === "string" ? "query" : `query[${i}]`, "must be a non-empty string");
  });
  const max = body.max_num_results ?? 10;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 50) bad("max_num_results", `must be an integer from 1 to 50, got ${JSON.stringify(max)}`);
  const ro = body.ranking_options;
  if (ro !== undefined && ro !== null && !isObj(ro)) bad("ranking_options", "must be an object {ranker, score_threshold}");
  const ranker = (isObj(ro) ? ro.ranker : undefined) ?? "auto";
  if (ranker !== "auto" && ranker !== "none" && ranker !== "default-2024-11-15") bad("ranking_options.ranker", `must be auto, none or default-2024-11-15, got ${JSON.stringify(ranker)}`);
  const threshold = (isObj(ro) ? ro.score_threshold : undefined) ?? 0;
  if (typeof threshold !== "number" || threshold < 0 || threshold > 1) bad("ranking_options.score_threshold", `must be a number from 0 to 1, got ${JSON.stringify(threshold)}`);
  if (body.rewrite_query !== undefined && typeof body.rewrite_query !== "boolean") bad("rewrite_query", "must be a boolean");
  const rewrite = body.rewrite_query === true;
  const filters = body.filters === undefined || body.filters === null ? undefined : parseFilter(body.filters, "filters");
  return { queries: queries as string[], opts: { maxResults: max as number, ranker: ranker as "auto" | "none" | "default-2024-11-15", scoreThreshold: threshold as number, ...(filters ? { filters } : {}), ...(rewrite ? { rewrite } : {}) } };
}

/** A file batch as OpenAI shows it: its counts and status from its files as they stand. */
async function batchJson(api: VectorStores, b: FileBatchRecord) {
  const fs = await Promise.all(b.file_ids.map((id) => api.store.getFile(b.vector_store_id, id)));
  const counts = countFiles(fs.filter((f): f is VectorStoreFileRecord => f !== undefined));
  const status = counts.in_progress > 0 ? (b.cancelled_at ? "cancelling" : "in_progress") : b.cancelled_at ? "cancelled" : counts.failed > 0 && counts.completed === 0 ? "failed" : "completed";
  return { id: b.id, object: "vector_store.files_batch", created_at: b.created_at, vector_store_id: b.vector_store_id, status, file_counts: counts };
}

/** Chunks that overlap joined into one text: each one's longest start that ends the text so far is left out. */
export function joinChunks(texts: readonly string[]): string {
  let out = texts[0] ?? "";
  for (const t of texts.slice(1)) {
    let k = Math.min(t.length, out.length);
    while (k > 0 && !out.endsWith(t.slice(0, k))) k--;
    out += t.slice(k);
  }
  return out;
}

/** Serve one Vector Stores API request; returns the HTTP status. */
export async function serveVectorStores(r: VectorStoreRequest): Promise<number> {
  const { api, method, path, query, caller, send } = r;
  if (!api.enabled()) throw new GatewayError("not_found", "vector stores are not configured on this gateway (vector_stores.embedding in the configuration)");
  const notAllowed = (allow: string) => {
    send(405, { error: { message: `${method} is not allowed on ${path}; use ${allow}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow });
    return 405;
  };
  const json = async (): Promise<Record<string, unknown>> => {
    let body: unknown;
    try {
      body = JSON.parse((await r.readBody(1024 * 1024)).toString("utf8"));
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      bad("body", "could not parse the JSON body of the request");
    }
    return isObj(body) ? body : bad("body", "must be a JSON object");
  };
  const ok = (body: unknown) => {
    send(200, body);
    return 200;
  };

  if (path === "/v1/vector_stores") {
    if (method === "GET") {
      const p = await api.store.listStores({ ...listQuery(query), visibility: visibilityOf(caller) });
      return ok(listJson(p.data, p.hasMore, storeJson));
    }
    if (method !== "POST") return notAllowed("GET, POST");
    const body = await json();
    only(body, ["name", "file_ids", "metadata", "expires_after", "chunking_strategy", "description"]);
    const name = body.name ?? "";
    if (typeof name !== "string" || name.length > 256 || !storable(name)) bad("name", "must be a string of at most 256 characters");
    const ids = body.file_ids ?? [];
    if (!Array.isArray(ids) || ids.length > 500) bad("file_ids", "must be an array of at most 500 file ids");
    (ids as unknown[]).forEach((x, i) => typeof x === "string" && x ? undefined : bad(`file_ids[${i}]`, "must be a file id"));
    if (new Set(ids as string[]).size !== (ids as string[]).length) bad("file_ids", "holds a file twice");
    const chunking = chunkingOf(body.chunking_strategy);
    if (chunking && !(ids as string[]).length) bad("chunking_strategy", "applies to file_ids; none were given");
    const expiry = expiryOf(body.expires_after);
    const s = await api.create(caller, { name: name as string, metadata: metadataOf(body.metadata), ...(expiry ? { expiresAfter: expiry } : {}), ...(chunking ? { chunking } : {}), fileIds: ids as string[] });
    return ok(storeJson(s));
  }

  const parts = path.slice("/v1/vector_stores/".length).split("/").map(decodeURIComponent);
  const [id, sub, fileId, tail, extra] = parts;
  if (!id) throw new GatewayError("not_found", `no such path ${path}`);
  const s = await api.get(caller, id);

  if (sub === undefined) {
    if (method === "GET") return ok(storeJson(s));
    if (method === "DELETE") {
      await api.store.deleteStore(s.id);
      return ok({ id: s.id, object: "vector_store.deleted", deleted: true });
    }
    if (method !== "POST") return notAllowed("GET, POST, DELETE");
    const body = await json();
    only(body, ["name", "metadata", "expires_after"]);
    if (body.name !== undefined && body.name !== null && (typeof body.name !== "string" || body.name.length > 256 || !storable(body.name))) bad("name", "must be a string of at most 256 characters");
    const metadata = body.metadata === undefined ? undefined : metadataOf(body.metadata);
    const expiry = expiryOf(body.expires_after);
    const next = await api.store.updateStore(s.id, (x) => {
      const y: VectorStoreRecord = { ...x, ...(typeof body.name === "string" ? { name: body.name } : {}), ...(metadata !== undefined ? { metadata } : {}) };
      if (expiry === null) {
        delete y.expires_after;
        y.expires_at = null;
      } else if (expiry) {
        y.expires_after = expiry;
        y.expires_at = (y.last_active_at ?? y.created_at) + expiry.days * 86_400;
      }
      return y;
    });
    if (!next) throw new GatewayError("not_found", `vector_store_id: no vector store "${id}"`, { field: "vector_store_id" });
    return ok(storeJson(next));
  }

  if (sub === "search" && fileId === undefined) {
    if (method !== "POST") return notAllowed("POST");
    const body = await json();
    only(body, ["query", "max_num_results", "filters", "ranking_options", "rewrite_query"]);
    const { queries, opts } = searchOptionsOf(body);
    const out = await api.search(caller, r.ri, [s.id], queries, opts, r.signal);
    return ok({
      object: "vector_store.search_results.page",
      search_query: out.queries,
      data: out.hits.map(({ vector_store_id: _v, ...h }) => h),
      has_more: false,
      next_page: null,
      signalbox: { cost_nano_usd: out.costNanos },
    });
  }

  if (sub === "files") {
    if (fileId === undefined) {
      if (method === "GET") {
        const filter = query.get("filter") ?? undefined;
        if (filter !== undefined && !["in_progress", "completed", "failed", "cancelled"].includes(filter)) bad("filter", `must be in_progress, completed, failed or cancelled, got "${filter}"`);
        const p = await api.store.listFiles(s.id, { ...listQuery(query), ...(filter ? { status: filter as FileStatus } : {}) });
        return ok(listJson(p.data, p.hasMore, fileJson));
      }
      if (method !== "POST") return notAllowed("GET, POST");
      const body = await json();
      only(body, ["file_id", "attributes", "chunking_strategy"]);
      if (typeof body.file_id !== "string" || !body.file_id) bad("file_id", "is required: the id of a file uploaded with purpose assistants");
      const f = await api.addFile(caller, s, body.file_id as string, attributesOf(body.attributes), chunkingOf(body.chunking_strategy), "file_id");
      return ok(fileJson(f));
    }
    const f = await api.store.getFile(s.id, fileId);
    if (!f) throw new GatewayError("not_found", `file_id: no file "${fileId}" in vector store "${s.id}"`, { field: "file_id" });
    if (tail === "content" && extra === undefined) {
      if (method !== "GET") return notAllowed("GET");
      const chunks = await api.store.fileChunks(s.id, f.id);
      // The file's text as parsed, once: each chunk without the start it shares with the one before.
      return ok({ object: "vector_store.file_content.page", data: [{ type: "text", text: joinChunks(chunks.map((c) => c.text)) }].filter((d) => d.text), has_more: false, next_page: null });
    }
    if (tail !== undefined) throw new GatewayError("not_found", `no such path ${path}`);
    if (method === "GET") return ok(fileJson(f));
    if (method === "DELETE") {
      await api.store.deleteFile(s.id, f.id);
      return ok({ id: f.id, object: "vector_store.file.deleted", deleted: true });
    }
    if (method !== "POST") return notAllowed("GET, POST, DELETE");
    const body = await json();
    only(body, ["attributes"]);
    const next = await api.store.setAttributes(s.id, f.id, attributesOf(body.attributes));
    if (!next) throw new GatewayError("not_found", `file_id: no file "${fileId}" in vector store "${s.id}"`, { field: "file_id" });
    return ok(fileJson(next));
  }

  if (sub === "file_batches") {
    if (fileId === undefined) {
      if (method !== "POST") return notAllowed("POST");
      const body = await json();
      only(body, ["file_ids", "files", "attributes", "chunking_strategy"]);
      if ((body.file_ids === undefined) === (body.files === undefined)) bad("file_ids", "give either file_ids or files, not both (nor neither)");
      const attributes = attributesOf(body.attributes);
      const chunking = chunkingOf(body.chunking_strategy);
      const items: { id: string; attributes: Attributes | null; chunking?: StaticChunking; field: string }[] = [];
      if (body.file_ids !== undefined) {
        if (!Array.isArray(body.file_ids) || body.file_ids.length === 0 || body.file_ids.length > 500) bad("file_ids", "must be an array of 1 to 500 file ids");
        (body.file_ids as unknown[]).forEach((x, i) => (typeof x === "string" && x ? items.push({ id: x, attributes, ...(chunking ? { chunking } : {}), field: `file_ids[${i}]` }) : bad(`file_ids[${i}]`, "must be a file id")));
      } else {
        if (!Array.isArray(body.files) || body.files.length === 0 || body.files.length > 500) bad("files", "must be an array of 1 to 500 files");
        (body.files as unknown[]).forEach((x, i) => {
          if (!isObj(x) || typeof x.file_id !== "string" || !x.file_id) return bad(`files[${i}].file_id`, "is required");
          const c = chunkingOf(x.chunking_strategy, `files[${i}].chunking_strategy`) ?? chunking;
          items.push({ id: x.file_id, attributes: x.attributes === undefined ? attributes : attributesOf(x.attributes, `files[${i}].attributes`), ...(c ? { chunking: c } : {}), field: `files[${i}].file_id` });
        });
      }
      if (new Set(items.map((x) => x.id)).size !== items.length) bad(body.file_ids ? "file_ids" : "files", "holds a file twice");
      const b: FileBatchRecord = { id: newFileBatchId(), vector_store_id: s.id, created_at: Math.floor(Date.now() / 1000), file_ids: items.map((x) => x.id) };
      // Every file is checked before any is added (and the batch kept): a refusal leaves nothing behind.
      await api.addFiles(caller, s, items);
      await api.store.putFileBatch(b);
      return ok(await batchJson(api, b));
    }
    const b = await api.store.getFileBatch(s.id, fileId);
    if (!b) throw new GatewayError("not_found", `batch_id: no file batch "${fileId}" in vector store "${s.id}"`, { field: "batch_id" });
    if (tail === undefined) {
      if (method !== "GET") return notAllowed("GET");
      return ok(await batchJson(api, b));
    }
    if (tail === "cancel" && extra === undefined) {
      if (method !== "POST") return notAllowed("POST");
      const next = { ...b, cancelled_at: b.cancelled_at ?? Math.floor(Date.now() / 1000) };
      await api.store.putFileBatch(next);
      for (const id of b.file_ids) await api.store.finishFile(s.id, id, { status: "cancelled" });
      return ok(await batchJson(api, next));
    }
    if (tail === "files" && extra === undefined) {
      if (method !== "GET") return notAllowed("GET");
      const filter = query.get("filter") ?? undefined;
      if (filter !== undefined && !["in_progress", "completed", "failed", "cancelled"].includes(filter)) bad("filter", `must be in_progress, completed, failed or cancelled, got "${filter}"`);
      const q = listQuery(query);
      const fs = (await Promise.all(b.file_ids.map((x) => api.store.getFile(s.id, x)))).filter((f): f is VectorStoreFileRecord => f !== undefined && (!filter || f.status === filter));
      fs.sort((a, c) => (q.order === "asc" ? 1 : -1) * (a.created_at - c.created_at || (a.id < c.id ? -1 : a.id > c.id ? 1 : 0)));
      // The store's own paging: after (the last of the page before) or before (the first of the page after).
      const p = page(fs, q);
      return ok(listJson(p.data, p.hasMore, fileJson));
    }
  }
  throw new GatewayError("not_found", `no such path ${path}`);
}
