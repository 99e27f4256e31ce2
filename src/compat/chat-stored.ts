// OpenAI's stored Chat Completions: `store: true` on POST /v1/chat/completions keeps the completion
// (chat-store.ts), and these read and change it:
//   GET    /v1/chat/completions                  (list: after, limit, order, model, metadata[k]=v)
//   GET    /v1/chat/completions/{id}             (the completion, with its metadata)
//   POST   /v1/chat/completions/{id}             (replace its metadata: {"metadata": {...}})
//   DELETE /v1/chat/completions/{id}
//   GET    /v1/chat/completions/{id}/messages    (the request's messages: after, limit, order)
// A key sees what it may see of batches and responses: admin keys everything, team keys their
// team's, service keys their own; anything else is not found.

import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { canSee, visibilityOf } from "../batch/http.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import type { CompletionStore, StoredCompletion } from "./chat-store.ts";
import type { DoorDeps } from "./door.ts";
import { storeCall } from "./responses/conversations-http.ts";
import type { Json } from "./responses/store.ts";

type Req = IncomingMessage | Http2ServerRequest;

const PREFIX = "/v1/chat/completions/";
const MAX_METADATA = 16;

export const isStoredCompletionPath = (path: string): boolean => path.startsWith(PREFIX) && path.length > PREFIX.length;

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });
const notFound = (id: string) => new GatewayError("not_found", `completion_id: no stored chat completion "${id}"`, { field: "completion_id" });

/** The completion as GET returns it: the object answered, with its metadata. */
export const completionView = (c: StoredCompletion): Json => ({ ...c.completion, metadata: c.metadata });

/** OpenAI's metadata: at most 16 string values (keys up to 64 characters, values up to 512). */
export function checkMetadata(v: unknown, field = "metadata"): Record<string, string> {
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw bad(field, "must be an object of strings");
  const out: Record<string, string> = {};
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_METADATA) throw bad(field, `at most ${MAX_METADATA} entries, got ${entries.length}`);
  for (const [k, x] of entries) {
    if (typeof x !== "string") throw bad(`${field}.${k}`, "must be a string");
    if (k.length > 64) throw bad(`${field}.${k}`, "keys are at most 64 characters");
    if (x.length > 512) throw bad(`${field}.${k}`, "values are at most 512 characters");
    out[k] = x;
  }
  return out;
}

function page(query: URLSearchParams): { limit: number; order: "asc" | "desc"; after?: string } {
  const order = query.get("order") ?? "asc";
  if (order !== "asc" && order !== "desc") throw bad("order", `must be asc or desc, got "${order}"`);
  const text = query.get("limit");
  const limit = text === null ? 20 : Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw bad("limit", `must be an integer from 1 to 100, got "${text}"`);
  return { limit, order, ...(query.get("after") ? { after: query.get("after")! } : {}) };
}

/** `metadata[key]=value` query parameters (what the OpenAI SDKs send for a metadata filter). */
function metadataFilter(query: URLSearchParams): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of query) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m) (out ??= {})[m[1]] = v;
  }
  return out;
}

const list = (data: Json[], more: boolean) => ({ object: "list", data, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data[data.length - 1]?.id as string | undefined) ?? null, has_more: more });

export async function serveStoredCompletions(
  req: Req,
  res: Parameters<DoorDeps["sendJson"]>[0],
  path: string,
  query: URLSearchParams,
  d: { caller: Caller; store?: CompletionStore; sendJson: DoorDeps["sendJson"]; readJson: () => Promise<unknown> },
): Promise<number> {
  const method = req.method ?? "GET";
  const send = (body: unknown) => {
    d.sendJson(res, 200, body);
    return 200;
  };
  const allow = (methods: string) => {
    d.sendJson(res, 405, { error: { message: `${method} is not allowed on ${path}; use ${methods.replace(", ", " or ")}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: methods });
    return 405;
  };
  const store = d.store;
  const visibility = visibilityOf(d.caller);
  if (path === "/v1/chat/completions") {
    if (!store) return send(list([], false));
    const p = page(query);
    const model = query.get("model") ?? undefined;
    const metadata = metadataFilter(query);
    const r = await storeCall(store.list({ ...p, ...(visibility ? { owner: visibility } : {}), ...(model ? { model } : {}), ...(metadata ? { metadata } : {}) }), "chat completion");
    return send(list(r.items.map(completionView), r.more));
  }
  const rest = path.slice(PREFIX.length);
  const slash = rest.indexOf("/");
  const id = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  const sub = slash < 0 ? "" : rest.slice(slash + 1);
  if (sub !== "" && sub !== "messages") throw new GatewayError("not_found", `${path}: no such endpoint`, { field: "path" });
  if (!store) throw notFound(id);
  const visible = async () => {
    const c = await storeCall(store.get(id), "chat completion");
    if (!c || !canSee(c.owner, visibility)) throw notFound(id);
    return c;
  };
  if (sub === "messages") {
    if (method !== "GET") return allow("GET");
    const c = await visible();
    const p = page(query);
    const all = p.order === "asc" ? c.messages : [...c.messages].reverse();
    let from = 0;
    if (p.after) {
      const at = all.findIndex((m) => m.id === p.after);
      if (at < 0) throw bad("after", `no message "${p.after}" in chat completion "${id}"`);
      from = at + 1;
    }
    return send(list(all.slice(from, from + p.limit), from + p.limit < all.length));
  }
  if (method === "GET") return send(completionView(await visible()));
  if (method === "POST") {
    await visible();
    const body = await d.readJson();
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("body", "must be a JSON object");
    for (const k of Object.keys(body)) if (k !== "metadata") throw bad(k, "only metadata can be changed on a stored chat completion");
    const after = await storeCall(store.setMetadata(id, checkMetadata((body as Json).metadata)), "chat completion");
    if (!after) throw notFound(id);
    return send(completionView(after));
  }
  if (method === "DELETE") {
    await visible();
    await storeCall(store.delete(id), "chat completion");
    return send({ object: "chat.completion.deleted", id, deleted: true });
  }
  return allow("GET, POST, DELETE");
}
