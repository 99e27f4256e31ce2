// Anthropic's Message Batches API on the Anthropic front door, as the official SDK calls it
// (`client.messages.batches.create`, `retrieve`, `list`, `cancel`, `results`, `delete`):
//
//   POST   /v1/messages/batches               {requests: [{custom_id, params}]}
//   GET    /v1/messages/batches               ?limit (1..1000, default 20), after_id
//   GET    /v1/messages/batches/{id}
//   POST   /v1/messages/batches/{id}/cancel
//   GET    /v1/messages/batches/{id}/results  JSONL: {custom_id, result: succeeded | errored | canceled | expired}
//   DELETE /v1/messages/batches/{id}          an ended batch, with its files
//
// The same store and runner as OpenAI's Batch API (http.ts): the requests are kept as the batch's
// input file (lines to /v1/messages), each runs through the engine as a /v1/messages request would,
// and the results are read from the output and error files, in the order the requests were given.
// Who sees what is the same rule.

import { GatewayError } from "../router/errors.ts";
import { bad, isObj } from "../compat/request.ts";
import { canSee, intParam, requestCancel, visibilityOf, type BatchRequest } from "./http.ts";
import { MAX_BATCH_LINES, parseInput } from "./runner.ts";
import { jsonlLines, newFileId, newMessageBatchId, secs, type BatchRecord, type BatchStatus, type StoredFile } from "./store.ts";

export const isMessageBatchPath = (path: string) => path === "/v1/messages/batches" || path.startsWith("/v1/messages/batches/");

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const ENDED: readonly BatchStatus[] = ["completed", "failed", "expired", "cancelled"];
const rfc3339 = (s: number | undefined) => (s === undefined ? null : new Date(s * 1000).toISOString());

/** Where this gateway is, as the caller reached it: the results_url the SDK fetches. */
function originOf(headers: Record<string, string | string[] | undefined>): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(",")[0]?.trim();
  const proto = first(headers["x-forwarded-proto"]) || "http";
  const host = first(headers["x-forwarded-host"]) || first(headers.host) || "localhost";
  return `${proto}://${host}`;
}

/** A batch as Anthropic's MessageBatch, and what it cost under `signalbox`. */
export function messageBatchJson(b: BatchRecord, origin: string) {
  const ended = ENDED.includes(b.status);
  const canceled = b.unrun?.cancelled ?? 0;
  const expired = b.unrun?.expired ?? 0;
  const c = b.request_counts;
  return {
    id: b.id,
    type: "message_batch",
    processing_status: ended ? "ended" : b.status === "cancelling" ? "canceling" : "in_progress",
    request_counts: {
      processing: ended ? 0 : Math.max(0, c.total - c.completed - c.failed),
      succeeded: c.completed,
      // A batch whose requests could not be read at all (its input gone): every one errored.
      errored: b.status === "failed" ? c.total - c.completed : c.failed - canceled - expired,
      canceled,
      expired,
    },
    ended_at: ended ? rfc3339(b.completed_at ?? b.cancelled_at ?? b.expired_at ?? b.failed_at) : null,
    created_at: rfc3339(b.created_at),
    expires_at: rfc3339(b.expires_at),
    archived_at: null,
    cancel_initiated_at: rfc3339(b.cancelling_at),
    results_url: ended ? `${origin}/v1/messages/batches/${b.id}/results` : null,
    signalbox: { cost_nano_usd: b.cost_nano_usd },
  };
}

/** One output or error file line as Anthropic's result. */
function resultOf(line: { custom_id: string; response: { status_code: number; body: unknown } | null; error: { code: string; message: string } | null }) {
  if (line.error?.code === "batch_cancelled") return { custom_id: line.custom_id, result: { type: "canceled" } };
  if (line.error?.code === "batch_expired") return { custom_id: line.custom_id, result: { type: "expired" } };
  const r = line.response;
  if (r && r.status_code >= 200 && r.status_code < 300) return { custom_id: line.custom_id, result: { type: "succeeded", message: r.body } };
  const body = isObj(r?.body) ? r.body : { type: "error", error: { type: "api_error", message: line.error?.message ?? "the request failed" } };
  return { custom_id: line.custom_id, result: { type: "errored", error: { type: "error", error: body.error } } };
}

/** Serve one Message Batches request; returns the HTTP status. */
export async function serveMessageBatches({ api, req, res, path, query, caller, readBody, send }: BatchRequest): Promise<number> {
  const { store } = api;
  const v = visibilityOf(caller);
  const method = req.method ?? "GET";
  const origin = originOf(req.headers);
  const notAllowed = (allow: string) => {
    send(405, { type: "error", error: { type: "invalid_request_error", message: `${method} is not allowed on ${path}; use ${allow}` } }, { allow });
    return 405;
  };
  const batchFor = async (id: string) => {
    const b = await store.getBatch(id);
    if (!b || !b.id.startsWith("msgbatch_") || !canSee(b.owner, v)) throw new GatewayError("not_found", `message_batch_id: no message batch "${id}" (or this key may not see it)`, { field: "message_batch_id" });
    return b;
  };

  if (path === "/v1/messages/batches") {
    if (method === "GET") {
      if (query.has("before_id")) bad("before_id", "is not supported by this gateway: page forward with after_id");
      const p = await store.listBatches({ visibility: v, after: query.get("after_id") ?? undefined, limit: intParam(query, "limit", 1, 1000, 20), idPrefix: "msgbatch_" });
      send(200, { data: p.data.map((b) => messageBatchJson(b, origin)), has_more: p.hasMore, first_id: p.data[0]?.id ?? null, last_id: p.data.at(-1)?.id ?? null });
      return 200;
    }
    if (method !== "POST") return notAllowed("GET, POST");
    let body: unknown;
    try {
      body = JSON.parse((await readBody(api.maxFileBytes)).toString("utf8"));
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      bad("body", "There was an error parsing the body of your request. Please make sure it is valid JSON.");
    }
    if (!isObj(body)) return bad("body", "must be a JSON object");
    for (const k of Object.keys(body)) if (k !== "requests") bad(k, "Extra inputs are not permitted");
    const requests = body.requests;
    if (!Array.isArray(requests) || requests.length === 0) return bad("requests", "is required: a list of {custom_id, params}");
    if (requests.length > MAX_BATCH_LINES) bad("requests", `at most ${MAX_BATCH_LINES} requests, got ${requests.length}`);
    const seen = new Set<string>();
    const lines = requests.map((r: unknown, i: number) => {
      if (!isObj(r)) return bad(`requests.${i}`, "must be an object {custom_id, params}");
      for (const k of Object.keys(r)) if (k !== "custom_id" && k !== "params") bad(`requests.${i}.${k}`, "Extra inputs are not permitted");
      const id = r.custom_id;
      if (typeof id !== "string" || !CUSTOM_ID.test(id)) return bad(`requests.${i}.custom_id`, "must be 1 to 64 letters, digits, hyphens or underscores");
      if (seen.has(id)) bad(`requests.${i}.custom_id`, `"${id}" is used by an earlier request; each must be unique`);
      seen.add(id);
      if (!isObj(r.params)) return bad(`requests.${i}.params`, "must be the Messages API request (an object)");
      if (r.params.stream === true) bad(`requests.${i}.params.stream`, "a batch request cannot be streamed");
      return JSON.stringify({ custom_id: id, method: "POST", url: "/v1/messages", body: r.params });
    });
    const content = Buffer.from(`${lines.join("\n")}\n`, "utf8");
    // The same reading the runner will do: nothing it would refuse is accepted here.
    const check = parseInput(content, "/v1/messages");
    if (check.errors.length) bad(`requests.${Math.max(0, (check.errors[0].line ?? 1) - 1)}`, check.errors[0].message);
    const now = secs(Date.now());
    const owner = { key: caller.keyName, team: caller.team };
    const id = newMessageBatchId();
    const file: StoredFile = { id: newFileId(), object: "file", bytes: content.length, created_at: now, filename: `${id}_requests.jsonl`, purpose: "batch", status: "processed", owner };
    await store.putFile(file, content);
    const b: BatchRecord = {
      id,
      object: "batch",
      endpoint: "/v1/messages",
      input_file_id: file.id,
      completion_window: "24h",
      status: "validating",
      created_at: now,
      expires_at: now + 86_400,
      request_counts: { total: lines.length, completed: 0, failed: 0 },
      metadata: null,
      usage: { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 },
      cost_nano_usd: 0,
      owner,
    };
    await store.createBatch(b);
    api.runner.kick();
    send(200, messageBatchJson(b, origin));
    return 200;
  }

  const rest = path.slice("/v1/messages/batches/".length);
  const [rawId, action, ...more] = rest.split("/");
  const id = decodeURIComponent(rawId ?? "");
  if (!id || more.length || (action !== undefined && action !== "cancel" && action !== "results")) throw new GatewayError("not_found", `no such path ${path}`);

  if (action === undefined) {
    if (method === "GET") {
      send(200, messageBatchJson(await batchFor(id), origin));
      return 200;
    }
    if (method !== "DELETE") return notAllowed("GET, DELETE");
    const b = await batchFor(id);
    if (!ENDED.includes(b.status)) throw new GatewayError("failed_precondition", `message_batch_id: batch "${id}" is still processing; cancel it first, then delete it once it has ended`, { field: "message_batch_id" });
    for (const f of [b.input_file_id, b.output_file_id, b.error_file_id]) if (f) await store.deleteFile(f);
    await store.deleteBatch(id);
    send(200, { id, type: "message_batch_deleted" });
    return 200;
  }

  if (action === "cancel") {
    if (method !== "POST") return notAllowed("POST");
    // An ended batch is answered as it is, as Anthropic does.
    const b = await requestCancel(api, await batchFor(id), batchFor);
    send(200, messageBatchJson(b, origin));
    return 200;
  }

  // results
  if (method !== "GET") return notAllowed("GET");
  const b = await batchFor(id);
  if (!ENDED.includes(b.status)) throw new GatewayError("failed_precondition", `message_batch_id: batch "${id}" has not ended; its results are ready when processing_status is "ended"`, { field: "message_batch_id" });
  // Each output and error line by its custom id, as a view into its file (nothing copied), then
  // converted one at a time in the order the requests were given: a large batch's results never
  // sit in the V8 heap all at once.
  const byId = new Map<string, Buffer>();
  for (const fileId of [b.output_file_id, b.error_file_id]) {
    const content = fileId ? await store.fileContent(fileId) : undefined;
    if (!content) continue;
    for (const { bytes } of jsonlLines(content)) if (bytes.length) byId.set((JSON.parse(bytes.toString("utf8")) as { custom_id: string }).custom_id, bytes);
  }
  const input = await store.fileContent(b.input_file_id);
  const order = input ? parseInput(input, "/v1/messages").lines.map((l) => l.customId) : [...byId.keys()];
  const chunks: Buffer[] = [];
  for (const c of order) {
    const line = byId.get(c);
    if (line) chunks.push(Buffer.from(`${JSON.stringify(resultOf(JSON.parse(line.toString("utf8")) as Parameters<typeof resultOf>[0]))}\n`, "utf8"));
  }
  const bytes = Buffer.concat(chunks);
  res.writeHead(200, { "content-type": "application/binary", "content-length": String(bytes.length) });
  res.end(bytes);
  return 200;
}
