// The Batch APIs as the console calls them: OpenAI's REST Files and Batches endpoints on the gateway
// (/v1/batches, /v1/files; there is no Connect service for them) and Anthropic's Message Batches
// (/v1/messages/batches, on the same store), sending the session's caller key as a bearer token.
// A refusal comes back as a SignalboxError with the Connect code of its HTTP status, so ErrorBox
// and the query client's retry rule treat it like any other call's error.

import { Code, ConnectError, SignalboxError } from "@signalbox/client";
import { download } from "./csv.ts";
import { storedKey } from "./session.ts";

export type BatchStatus = "validating" | "in_progress" | "finalizing" | "completed" | "failed" | "expired" | "cancelling" | "cancelled";

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A batch as GET /v1/batches/{id} answers it. Times are seconds since the epoch. */
export interface Batch {
  id: string;
  object: "batch";
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id?: string | null;
  error_file_id?: string | null;
  created_at: number;
  in_progress_at?: number | null;
  expires_at: number;
  finalizing_at?: number | null;
  completed_at?: number | null;
  failed_at?: number | null;
  expired_at?: number | null;
  cancelling_at?: number | null;
  cancelled_at?: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  errors?: { object: "list"; data: BatchError[] } | null;
  usage?: {
    input_tokens: number;
    input_tokens_details?: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details?: { reasoning_tokens: number };
    total_tokens: number;
  };
  /** The gateway's own: what the batch's lines cost so far. */
  signalbox?: { cost_nano_usd: number };
}

export interface BatchList {
  object: "list";
  data: Batch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
}

/** Statuses with work still under way: the list refreshes while any shown batch has one. */
export const ACTIVE_STATUSES: readonly BatchStatus[] = ["validating", "in_progress", "finalizing", "cancelling"];
export const isActive = (s: BatchStatus): boolean => ACTIVE_STATUSES.includes(s);
/** What POST /v1/batches/{id}/cancel accepts (later states are refused). */
export const isCancellable = (s: BatchStatus): boolean => s === "validating" || s === "in_progress";

/** The Connect code an HTTP status of the OpenAI-compatible API stands for. */
function codeOf(status: number): Code {
  switch (status) {
    case 400:
    case 405:
    case 413:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 409:
      return Code.AlreadyExists;
    case 429:
      return Code.ResourceExhausted;
    case 499:
      return Code.Canceled;
    case 501:
      return Code.Unimplemented;
    case 502:
    case 503:
      return Code.Unavailable;
    case 504:
      return Code.DeadlineExceeded;
    default:
      return status >= 500 ? Code.Internal : Code.Unknown;
  }
}

/** A REST call on the gateway with the session's key; a refusal throws a SignalboxError (see above). */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const key = storedKey();
  let res: Response;
  try {
    res = await fetch(path, { cache: "no-store", ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...init.headers } });
  } catch (err) {
    throw new SignalboxError(new ConnectError(`${path}: ${(err as Error).message}`, Code.Unavailable));
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
  throw new SignalboxError(new ConnectError(body?.error?.message ?? `${path} answered HTTP ${res.status}`, codeOf(res.status), res.headers));
}

/** A REST call's JSON answer. */
export const json = async <T>(path: string, init?: RequestInit): Promise<T> => (await call(path, init)).json() as Promise<T>;
/** A path segment, encoded. */
export const seg = encodeURIComponent;

/** A page of batches, newest first; `after` is the last id of the page before. */
export function listBatches(after: string, limit: number): Promise<BatchList> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (after) q.set("after", after);
  return json<BatchList>(`/v1/batches?${q}`);
}

export const getBatch = (id: string): Promise<Batch> => json<Batch>(`/v1/batches/${seg(id)}`);

export const cancelBatch = (id: string): Promise<Batch> => json<Batch>(`/v1/batches/${seg(id)}/cancel`, { method: "POST" });

export const getFile = (id: string): Promise<FileObject> => json<FileObject>(`/v1/files/${seg(id)}`);

/** Save a file (a batch's output or error file) under its own name, fetched with the key. */
export async function downloadFile(id: string): Promise<void> {
  const [file, content] = await Promise.all([getFile(id), call(`/v1/files/${seg(id)}/content`).then((r) => r.blob())]);
  download(file.filename, content, "application/jsonl");
}

// Anthropic's Message Batches: the same store, ids `msgbatch_…`, Anthropic's shapes.

/** Sent with every Message Batches call, as Anthropic's SDKs do (the gateway does not require it). */
const ANTHROPIC = { "anthropic-version": "2023-06-01" };

export type MessageBatchStatus = "in_progress" | "canceling" | "ended";

export interface MessageBatchCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A message batch as GET /v1/messages/batches/{id} answers it. Times are RFC 3339 strings. */
export interface MessageBatch {
  id: string;
  type: "message_batch";
  processing_status: MessageBatchStatus;
  request_counts: MessageBatchCounts;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
  /** The gateway's own: what the batch's requests cost so far. */
  signalbox?: { cost_nano_usd: number };
}

export interface MessageBatchList {
  data: MessageBatch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** A message batch's id, as the gateway makes them: one route (batches/{id}) opens either kind. */
export const isMessageBatchId = (id: string): boolean => id.startsWith("msgbatch_");
export const isMessageBatchActive = (s: MessageBatchStatus): boolean => s !== "ended";
/** What POST /v1/messages/batches/{id}/cancel changes (an ended batch is answered as it is). */
export const isMessageBatchCancellable = (s: MessageBatchStatus): boolean => s === "in_progress";
/** All the batch's requests, whatever became of them. */
export const messageBatchTotal = (c: MessageBatchCounts): number => c.processing + c.succeeded + c.errored + c.canceled + c.expired;

/** A page of message batches, newest first; `after` is the last id of the page before. */
export function listMessageBatches(after: string, limit: number): Promise<MessageBatchList> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (after) q.set("after_id", after);
  return json<MessageBatchList>(`/v1/messages/batches?${q}`, { headers: ANTHROPIC });
}

export const getMessageBatch = (id: string): Promise<MessageBatch> => json<MessageBatch>(`/v1/messages/batches/${seg(id)}`, { headers: ANTHROPIC });

export const cancelMessageBatch = (id: string): Promise<MessageBatch> => json<MessageBatch>(`/v1/messages/batches/${seg(id)}/cancel`, { method: "POST", headers: ANTHROPIC });

/** Save an ended message batch's results (JSONL, in the order the requests were given) as `{id}_results.jsonl`. */
export async function downloadMessageBatchResults(id: string): Promise<void> {
  const content = await call(`/v1/messages/batches/${seg(id)}/results`, { headers: ANTHROPIC }).then((r) => r.blob());
  download(`${id}_results.jsonl`, content, "application/jsonl");
}
