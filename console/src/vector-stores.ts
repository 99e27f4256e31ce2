// The Vector Stores API as the console calls it: OpenAI's REST endpoints on the gateway
// (/v1/vector_stores…, and /v1/files for the documents, uploaded with purpose "assistants"), with
// the session's caller key as a bearer token (batches.ts's `call`, so a refusal is a SignalboxError
// like any other call's).

import { type FileObject, json, seg } from "./batches.ts";

export type StoreStatus = "expired" | "in_progress" | "completed";
export type FileStatus = "in_progress" | "completed" | "cancelled" | "failed";
export type Attributes = Record<string, string | number | boolean>;

export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/** A vector store as GET /v1/vector_stores/{id} answers it. Times are seconds since the epoch. */
export interface VectorStore {
  id: string;
  object: "vector_store";
  created_at: number;
  name: string;
  usage_bytes: number;
  file_counts: FileCounts;
  status: StoreStatus;
  expires_after: { anchor: "last_active_at"; days: number } | null;
  expires_at: number | null;
  last_active_at: number | null;
  metadata: Record<string, string> | null;
  /** The gateway's own: the deployment whose vectors the chunks are (null until a file is indexed). */
  signalbox?: { embedding_deployment: string | null };
}

/** A file of a store (`id` is the uploaded file's id; its name is the Files API's). */
export interface VectorStoreFile {
  id: string;
  object: "vector_store.file";
  usage_bytes: number;
  created_at: number;
  vector_store_id: string;
  status: FileStatus;
  last_error: { code: string; message: string } | null;
  chunking_strategy?: { type: string; static?: { max_chunk_size_tokens: number; chunk_overlap_tokens: number } };
  attributes: Attributes | null;
}

export interface Page<T> {
  object: "list";
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** One hit of a search: the chunk's text, the file it is from and how well it matched (0 to 1). */
export interface SearchHit {
  file_id: string;
  filename: string;
  score: number;
  attributes: Attributes | null;
  content: { type: "text"; text: string }[];
}

export interface SearchResults {
  object: "vector_store.search_results.page";
  search_query: string[];
  data: SearchHit[];
  has_more: boolean;
  next_page: string | null;
  signalbox?: { cost_nano_usd: number };
}

/** A comparison filter on a file attribute (OpenAI's ComparisonFilter). */
export interface ComparisonFilter {
  type: "eq" | "ne" | "gt" | "gte" | "lt" | "lte";
  key: string;
  value: string | number | boolean;
}

const JSON_HEADERS = { "content-type": "application/json" };
const post = <T>(path: string, body: unknown) => json<T>(path, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) });
const storePath = (id: string) => `/v1/vector_stores/${seg(id)}`;

/** A page of stores, newest first; `after` is the last id of the page before. */
export function listStores(after: string, limit: number): Promise<Page<VectorStore>> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (after) q.set("after", after);
  return json<Page<VectorStore>>(`/v1/vector_stores?${q}`);
}

export const getStore = (id: string): Promise<VectorStore> => json<VectorStore>(storePath(id));

export const createStore = (name: string): Promise<VectorStore> => post<VectorStore>("/v1/vector_stores", { name });

export const deleteStore = (id: string): Promise<{ id: string; deleted: boolean }> => json(storePath(id), { method: "DELETE" });

/** A page of a store's files, newest first. */
export function listStoreFiles(id: string, after: string, limit: number): Promise<Page<VectorStoreFile>> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (after) q.set("after", after);
  return json<Page<VectorStoreFile>>(`${storePath(id)}/files?${q}`);
}

/** Take a file out of the store (the uploaded file itself stays in the Files API). */
export const removeStoreFile = (id: string, fileId: string): Promise<{ id: string; deleted: boolean }> => json(`${storePath(id)}/files/${seg(fileId)}`, { method: "DELETE" });

/** Upload a document (purpose assistants). */
export async function uploadDocument(file: File): Promise<FileObject> {
  const form = new FormData();
  form.append("purpose", "assistants");
  form.append("file", file, file.name);
  return json<FileObject>("/v1/files", { method: "POST", body: form });
}

/** Add an uploaded file to the store: it is indexed in the background (status in_progress until then). */
export const addStoreFile = (id: string, fileId: string, attributes?: Attributes): Promise<VectorStoreFile> =>
  post<VectorStoreFile>(`${storePath(id)}/files`, { file_id: fileId, ...(attributes && Object.keys(attributes).length ? { attributes } : {}) });

export function searchStore(id: string, query: string, maxResults: number, filter?: ComparisonFilter): Promise<SearchResults> {
  return post<SearchResults>(`${storePath(id)}/search`, { query, max_num_results: maxResults, ...(filter ? { filters: filter } : {}) });
}

/**
 * "k=v, k2=v2" (commas or new lines) as attributes: true/false as booleans, numbers as numbers,
 * the rest as strings; a part without "=" is a problem, said in words.
 */
export function parseAttributes(text: string): { attributes?: Attributes; problem?: string } {
  const out: Attributes = {};
  for (const part of text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    if (i <= 0) return { problem: `"${part}" is not key=value` };
    out[part.slice(0, i).trim()] = attributeValue(part.slice(i + 1).trim());
  }
  return { attributes: out };
}

/** An attribute's value as typed: true/false, a number, else the text. */
export function attributeValue(v: string): string | number | boolean {
  if (v === "true" || v === "false") return v === "true";
  if (/^-?\d+(\.\d+)?$/.test(v) && Number.isFinite(Number(v))) return Number(v);
  return v;
}

/** Bytes as "812 B", "12.4 KB", "3.1 MB". */
export function bytes(n: number | undefined): string {
  const v = n ?? 0;
  if (v < 1000) return `${v} B`;
  if (v < 1e6) return `${(v / 1e3).toFixed(1)} KB`;
  if (v < 1e9) return `${(v / 1e6).toFixed(1)} MB`;
  return `${(v / 1e9).toFixed(2)} GB`;
}
