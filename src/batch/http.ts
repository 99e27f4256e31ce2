// OpenAI's Files and Batch APIs on the OpenAI-compatible endpoint, as the official SDK calls them:
//
//   POST   /v1/files                 multipart/form-data: file, purpose "batch" (JSONL), "assistants"/"user_data" (documents for vector stores) or "ocr" (documents for /v1/ocr), expires_after
//   GET    /v1/files                 ?purpose, limit (1..10000, default 10000), after, order (desc|asc)
//   GET    /v1/files/{id}            the file object
//   GET    /v1/files/{id}/content    the bytes (an input file, or a batch's output or error file)
//   DELETE /v1/files/{id}
//   POST   /v1/batches               {input_file_id, endpoint, completion_window: "24h", metadata}
//   GET    /v1/batches               ?limit (1..100, default 20), after
//   GET    /v1/batches/{id}
//   POST   /v1/batches/{id}/cancel
//
// A key sees what it may see of usage: an admin key (or anyone, with no keys) everything, a team
// key its team's files and batches, a service key its own. Anything else is "not found", so ids
// of others' files say nothing. The runner (runner.ts) does the work; this only records it.

import type { ServerResponse } from "node:http";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { bad, isObj } from "../compat/request.ts";
import type { BatchRunner } from "./runner.ts";
import { BATCH_ENDPOINTS, FILE_PURPOSES, newBatchId, visibilityOf, secs, storable, newFileId, type BatchEndpoint, type BatchRecord, type BatchStore, type FilePurpose, type StoredFile, type Visibility } from "./store.ts";

export interface BatchApi {
  store: BatchStore;
  runner: BatchRunner;
  maxFileBytes: number;
}

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;


/** What OpenAI's batches may call (Anthropic's messages are batched at /v1/messages/batches). */
const OPENAI_ENDPOINTS: readonly string[] = BATCH_ENDPOINTS.filter((e) => e !== "/v1/messages");

export { visibilityOf };

export const isBatchPath = (path: string) => path === "/v1/files" || path.startsWith("/v1/files/") || path === "/v1/batches" || path.startsWith("/v1/batches/");

export const canSee = (o: { team: string; key: string }, v: Visibility | undefined) => !v || ((v.team === undefined || o.team === v.team) && (v.key === undefined || o.key === v.key));

/** The file as OpenAI shows it (without its owner). */
export function fileJson(f: StoredFile) {
  const { owner: _owner, ...rest } = f;
  // Mistral's file object besides OpenAI's (its SDK requires them): what kind of sample and where from.
  return f.purpose === "ocr" ? { ...rest, sample_type: "ocr_input", source: "upload", num_lines: null, mimetype: f.mimetype ?? null } : rest;
}

/** The batch as OpenAI shows it, with what it cost under `signalbox` (without its owner). */
export function batchJson(b: BatchRecord) {
  const { owner: _owner, cost_nano_usd, unrun: _unrun, ...rest } = b;
  return { ...rest, signalbox: { cost_nano_usd } };
}

export function intParam(q: URLSearchParams, name: string, min: number, max: number, dflt: number): number {
  const raw = q.get(name);
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) bad(name, `must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** OpenAI's `metadata`: at most 16 string pairs, keys up to 64 characters, values up to 512. */
export function metadataOf(v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) return bad("metadata", "must be an object of strings");
  const entries = Object.entries(v);
  if (entries.length > 16) bad("metadata", `may hold at most 16 pairs, got ${entries.length}`);
  const out: Record<string, string> = {};
  for (const [k, x] of entries) {
    if (k.length > 64) bad(`metadata.${k.slice(0, 20)}…`, "keys are at most 64 characters");
    if (typeof x !== "string") return bad(`metadata.${k}`, "must be a string");
    if (!storable(k) || !storable(x)) bad("metadata", "keys and values may not hold a NUL character or invalid UTF-16");
    if (x.length > 512) bad(`metadata.${k}`, "values are at most 512 characters");
    out[k] = x;
  }
  return out;
}

/** OpenAI's `expires_after` / `output_expires_after`: `{anchor: "created_at", seconds}`, 1 hour to 30 days. */
function expiryOf(v: unknown, field: string): { anchor: "created_at"; seconds: number } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) return bad(field, 'must be an object {"anchor": "created_at", "seconds": n}');
  if (v.anchor !== "created_at") bad(`${field}.anchor`, 'must be "created_at"');
  const s = v.seconds;
  if (typeof s !== "number" || !Number.isInteger(s) || s < 3600 || s > 2_592_000) bad(`${field}.seconds`, `must be an integer from 3600 (1 hour) to 2592000 (30 days), got ${JSON.stringify(s ?? null)}`);
  return { anchor: "created_at", seconds: s as number };
}

/**
 * Move a batch to cancelling if it is still validating or in progress (compare and set: the runner
 * may move it on meanwhile, so look again and retry), and wake the runner; the batch as it stands.
 */
export async function requestCancel(api: BatchApi, b0: BatchRecord, reload: (id: string) => Promise<BatchRecord>): Promise<BatchRecord> {
  let b = b0;
  for (let i = 0; i < 5 && (b.status === "validating" || b.status === "in_progress"); i++) {
    const next = await api.store.updateBatch(b.id, [b.status], { ...b, status: "cancelling", cancelling_at: secs(Date.now()) });
    b = next ?? (await reload(b.id));
  }
  api.runner.kick();
  return b;
}

/** One request to either batch API, as the OpenAI-compatible handler passes it on. */
export interface BatchRequest {
  api: BatchApi;
  req: { method?: string; headers: Record<string, string | string[] | undefined> };
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  caller: Caller;
  readBody: (limit: number) => Promise<Buffer>;
  send: Send;
}

/** A stored file this caller may see (not expired), else not_found naming `field`. */
export async function visibleFile(store: BatchStore, id: string, v: Visibility | undefined, field = "file_id"): Promise<StoredFile> {
  const f = await store.getFile(id);
  // Past its expiry a file is gone, though the store deletes it only at its next sweep.
  const expired = f?.expires_at !== undefined && f.expires_at * 1000 <= Date.now();
  if (!f || expired || !canSee(f.owner, v)) throw new GatewayError("not_found", `${field}: no file "${id}" (or this key may not see it)`, { field });
  return f;
}

/** Serve one Files or Batches request; returns the HTTP status. */
export async function serveBatchApi({ api, req, res, path, query, caller, readBody, send }: BatchRequest): Promise<number> {
  const { store } = api;
  const v = visibilityOf(caller);
  const method = req.method ?? "GET";
  const notAllowed = (allow: string) => {
    send(405, { error: { message: `${method} is not allowed on ${path}; use ${allow}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow });
    return 405;
  };
  const fileFor = (id: string) => visibleFile(store, id, v);
  const batchFor = async (id: string) => {
    const b = await store.getBatch(id);
    if (!b || !canSee(b.owner, v)) throw new GatewayError("not_found", `batch_id: no batch "${id}" (or this key may not see it)`, { field: "batch_id" });
    return b;
  };
  const owner = { key: caller.keyName, team: caller.team };

  if (path === "/v1/files") {
    if (method === "GET") {
      const purpose = query.get("purpose") ?? undefined;
      if (purpose !== undefined && !(FILE_PURPOSES as readonly string[]).includes(purpose)) bad("purpose", `must be one of ${FILE_PURPOSES.join(", ")}, got "${purpose}"`);
      const order = query.get("order") ?? "desc";
      if (order !== "asc" && order !== "desc") return bad("order", `must be "asc" or "desc", got "${order}"`);
      const p = await store.listFiles({ visibility: v, purpose: purpose as FilePurpose | undefined, after: query.get("after") ?? undefined, limit: intParam(query, "limit", 1, 10_000, 10_000), order });
      send(200, { object: "list", data: p.data.map(fileJson), first_id: p.data[0]?.id ?? null, last_id: p.data.at(-1)?.id ?? null, has_more: p.hasMore });
      return 200;
    }
    if (method !== "POST") return notAllowed("GET, POST");
    const ct = String(req.headers["content-type"] ?? "");
    if (!ct.toLowerCase().startsWith("multipart/form-data")) bad("body", "must be multipart/form-data with a file and its purpose, as OpenAI's files endpoint takes it");
    const raw = await readBody(api.maxFileBytes + 64 * 1024);
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) as Uint8Array<ArrayBuffer>, { headers: { "content-type": ct } }).formData();
    } catch {
      return bad("body", "could not parse the multipart/form-data body");
    }
    const purpose = form.get("purpose");
    // Batch input, documents for vector stores (file search) and for OCR; batch_output files are the gateway's own.
    if (purpose !== "batch" && purpose !== "assistants" && purpose !== "user_data" && purpose !== "ocr") bad("purpose", `must be "batch" (the Batch API's input), "assistants" / "user_data" (documents for vector stores) or "ocr" (documents for /v1/ocr, as Mistral's), got ${JSON.stringify(typeof purpose === "string" ? purpose : null)}`);
    const file = form.get("file");
    if (!file || typeof file === "string") return bad("file", purpose === "batch" ? "is required: the JSONL file of requests" : "is required: the document");
    const content = Buffer.from(await file.arrayBuffer());
    if (content.length > api.maxFileBytes) bad("file", `is ${content.length} bytes; at most ${api.maxFileBytes} (batches.max_file_mb)`);
    if (!content.length) bad("file", "is empty");
    const anchor = form.get("expires_after[anchor]");
    const seconds = form.get("expires_after[seconds]");
    const created = secs(Date.now());
    const expiry = anchor === null && seconds === null ? undefined : expiryOf({ anchor, seconds: seconds === null || seconds === "" ? undefined : Number(seconds) }, "expires_after");
    const expiresAt = expiry ? created + expiry.seconds : undefined;
    const f: StoredFile = {
      id: newFileId(),
      object: "file",
      bytes: content.length,
      created_at: created,
      // A name is only a label: what cannot be kept as text becomes U+FFFD.
      filename: file.name && file.name !== "blob" ? file.name.toWellFormed().replaceAll("\u0000", "\ufffd") : purpose === "batch" ? "batch.jsonl" : "upload",
      purpose,
      status: "processed",
      ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
      ...(file.type ? { mimetype: file.type } : {}),
      owner,
    };
    await store.putFile(f, content);
    send(200, fileJson(f));
    return 200;
  }

  if (path.startsWith("/v1/files/")) {
    const rest = path.slice("/v1/files/".length);
    const content = rest.endsWith("/content");
    const id = decodeURIComponent(content ? rest.slice(0, -"/content".length) : rest);
    if (!id || id.includes("/")) throw new GatewayError("not_found", `no such path ${path}`);
    if (content) {
      if (method !== "GET") return notAllowed("GET");
      const f = await fileFor(id);
      const bytes = await store.fileContent(id);
      if (!bytes) throw new GatewayError("not_found", `file_id: no file "${id}"`, { field: "file_id" });
      res.writeHead(200, { "content-type": f.purpose === "batch" || f.purpose === "batch_output" ? "application/jsonl" : "application/octet-stream", "content-length": String(bytes.length), "content-disposition": `attachment; filename="${f.filename.replace(/["\\\r\n]/g, "_")}"` });
      res.end(bytes);
      return 200;
    }
    if (method === "GET") {
      send(200, fileJson(await fileFor(id)));
      return 200;
    }
    if (method !== "DELETE") return notAllowed("GET, DELETE");
    await fileFor(id);
    await store.deleteFile(id);
    send(200, { id, object: "file", deleted: true });
    return 200;
  }

  if (path === "/v1/batches") {
    if (method === "GET") {
      // OpenAI's batches only (Anthropic's message batches are listed at /v1/messages/batches).
      const p = await store.listBatches({ visibility: v, after: query.get("after") ?? undefined, limit: intParam(query, "limit", 1, 100, 20), idPrefix: "batch_" });
      send(200, { object: "list", data: p.data.map(batchJson), first_id: p.data[0]?.id ?? null, last_id: p.data.at(-1)?.id ?? null, has_more: p.hasMore });
      return 200;
    }
    if (method !== "POST") return notAllowed("GET, POST");
    let body: unknown;
    try {
      body = JSON.parse((await readBody(1024 * 1024)).toString("utf8"));
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      bad("body", "could not parse the JSON body of the request");
    }
    if (!isObj(body)) return bad("body", "must be a JSON object");
    for (const k of Object.keys(body)) if (!["input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"].includes(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
    const fileId = body.input_file_id;
    if (typeof fileId !== "string" || !fileId) return bad("input_file_id", "is required: the id of a file uploaded with purpose batch");
    const endpoint = body.endpoint;
    if (typeof endpoint !== "string" || !OPENAI_ENDPOINTS.includes(endpoint)) {
      return bad("endpoint", `must be one of ${OPENAI_ENDPOINTS.join(", ")}, got ${JSON.stringify(endpoint ?? null)}`);
    }
    if (body.completion_window !== "24h") bad("completion_window", `must be "24h", got ${JSON.stringify(body.completion_window ?? null)}`);
    const metadata = metadataOf(body.metadata);
    const outputExpiry = expiryOf(body.output_expires_after, "output_expires_after");
    const f = await store.getFile(fileId);
    if (!f || !canSee(f.owner, v)) throw new GatewayError("not_found", `input_file_id: no file "${fileId}" (or this key may not see it)`, { field: "input_file_id" });
    if (f.purpose !== "batch") bad("input_file_id", `the file's purpose is "${f.purpose}"; a batch's input must be uploaded with purpose "batch"`);
    const now = Date.now();
    const b: BatchRecord = {
      id: newBatchId(),
      object: "batch",
      endpoint: endpoint as BatchEndpoint,
      input_file_id: fileId,
      completion_window: "24h",
      status: "validating",
      created_at: secs(now),
      expires_at: secs(now) + 86_400,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata,
      ...(outputExpiry ? { output_expires_after: outputExpiry } : {}),
      usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
      cost_nano_usd: 0,
      owner,
    };
    await store.createBatch(b);
    api.runner.kick();
    send(200, batchJson(b));
    return 200;
  }

  // /v1/batches/{id} and /v1/batches/{id}/cancel
  const rest = path.slice("/v1/batches/".length);
  const cancel = rest.endsWith("/cancel");
  const id = decodeURIComponent(cancel ? rest.slice(0, -"/cancel".length) : rest);
  if (!id || id.includes("/")) throw new GatewayError("not_found", `no such path ${path}`);
  if (!cancel) {
    if (method !== "GET") return notAllowed("GET");
    send(200, batchJson(await batchFor(id)));
    return 200;
  }
  if (method !== "POST") return notAllowed("POST");
  const b = await requestCancel(api, await batchFor(id), batchFor);
  if (b.status !== "cancelling" && b.status !== "cancelled") {
    throw new GatewayError("failed_precondition", `batch_id: batch "${id}" is ${b.status} and can no longer be cancelled`, { field: "batch_id" });
  }
  send(200, batchJson(b));
  return 200;
}
