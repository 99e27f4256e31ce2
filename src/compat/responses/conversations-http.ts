// The Conversations API's endpoints (conversations.ts has the store):
//   POST   /v1/conversations                              {items?, metadata?}
//   GET    /v1/conversations/{id}
//   POST   /v1/conversations/{id}                         {metadata}
//   DELETE /v1/conversations/{id}
//   POST   /v1/conversations/{id}/items                   {items}
//   GET    /v1/conversations/{id}/items                   after, limit (1–100, 20), order (desc)
//   GET    /v1/conversations/{id}/items/{item_id}
//   DELETE /v1/conversations/{id}/items/{item_id}         answers the conversation
// A key sees the conversations it may see of batches and stored responses: an admin key (or
// anyone, with no keys) all, a team key its team's, a service key its own; others are not found.

import type { DoorDeps, Req, Res } from "../door.ts";
import { canSee, visibilityOf } from "../../batch/http.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Caller } from "../../router/types.ts";
import { log } from "../../telemetry/log.ts";
import { bad, isObj, stringMetadata } from "../request.ts";
import { conversationId, conversationItemId, MAX_CONVERSATION_ITEMS, type ConversationStore, type StoredConversation } from "./conversations.ts";
import { checkItems } from "./request.ts";
import { withIds, type Json } from "./store.ts";

/** Items given at once, as OpenAI allows. */
const MAX_ITEMS_AT_ONCE = 20;

export const isConversationPath = (path: string) => path === "/v1/conversations" || path.startsWith("/v1/conversations/");

export interface ConversationDeps {
  caller: Caller;
  conversations?: ConversationStore;
  body: () => Promise<Buffer>;
  sendJson: DoorDeps["sendJson"];
}

/** A read or write of the store; its failure (PostgreSQL away) is a 503 that says so, never a 500. */
export async function storeCall<T>(p: Promise<T>, what: string): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    log("warn", `${what}: the store could not be reached`, { reason: (err as Error).message });
    throw new GatewayError("unavailable", `the ${what} store is unavailable; try again shortly`, {});
  }
}

const notFound = (id: string) => new GatewayError("not_found", `conversation_id: no conversation "${id}" (it does not exist or was deleted, or this key may not see it)`, { field: "conversation_id" });

/** A conversation the caller may see, or a 404. */
export async function visibleConversation(store: ConversationStore, id: string, caller: Caller): Promise<StoredConversation> {
  const c = await storeCall(store.get(id), "conversation");
  if (!c || !canSee(c.owner, visibilityOf(caller))) throw notFound(id);
  return c;
}

/** The conversation as OpenAI shows it, and under `signalbox` what its responses used and cost. */
export const conversationJson = (c: StoredConversation) => ({
  id: c.id,
  object: "conversation",
  created_at: c.createdAt,
  metadata: c.metadata,
  signalbox: { responses: c.usage?.responses ?? 0, input_tokens: c.usage?.inputTokens ?? 0, output_tokens: c.usage?.outputTokens ?? 0, cost_nano_usd: c.usage?.costNanos ?? 0 },
});

/** Items for a conversation: checked as a response's input would be (after `history`), each given an id. */
function newItems(v: unknown, history: readonly unknown[], required: boolean): Json[] {
  if (v === undefined || v === null) {
    if (required) bad("items", "is required");
    return [];
  }
  if (!Array.isArray(v)) bad("items", "must be an array of input items");
  if (required && v.length === 0) bad("items", "must contain at least one item");
  if (v.length > MAX_ITEMS_AT_ONCE) bad("items", `at most ${MAX_ITEMS_AT_ONCE} items at once, got ${v.length}`);
  if (v.length) checkItems(v, history);
  return withIds(v, conversationItemId);
}

async function jsonBody(d: ConversationDeps): Promise<Json> {
  const raw = await d.body();
  if (raw.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
  }
  if (!isObj(v)) bad("body", "must be a JSON object");
  return v;
}

function page(all: Json[], query: URLSearchParams, owner: string): { object: "list"; data: Json[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  const order = query.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") bad("order", `must be asc or desc, got "${order}"`);
  const limitText = query.get("limit");
  const limit = limitText === null ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) bad("limit", `must be an integer from 1 to 100, got "${limitText}"`);
  const list = order === "asc" ? all : [...all].reverse();
  const after = query.get("after");
  let from = 0;
  if (after) {
    const at = list.findIndex((x) => x.id === after);
    if (at < 0) bad("after", `no item "${after}" in ${owner}`);
    from = at + 1;
  }
  const data = list.slice(from, from + limit);
  return { object: "list", data, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data[data.length - 1]?.id as string | undefined) ?? null, has_more: from + limit < list.length };
}

/** Serve one Conversations API request; returns the status sent. */
export async function serveConversations(req: Req, res: Res, path: string, query: URLSearchParams, d: ConversationDeps): Promise<number> {
  const method = req.method ?? "GET";
  const allow = (methods: string) => {
    d.sendJson(res, 405, { error: { message: `${method} is not allowed on ${path}; use ${methods.replace(/, (\w+)$/, " or $1")}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: methods });
    return 405;
  };
  const store = d.conversations;
  if (!store) throw new GatewayError("not_found", `${path}: this gateway keeps no conversations (responses.store is false)`, { field: "path" });
  const send = (body: unknown) => {
    d.sendJson(res, 200, body);
    return 200;
  };

  if (path === "/v1/conversations") {
    if (method !== "POST") return allow("POST");
    const body = await jsonBody(d);
    const metadata = stringMetadata(body);
    const items = newItems(body.items, [], false);
    const c: StoredConversation = { id: conversationId(), owner: { team: d.caller.team, key: d.caller.keyName }, createdAt: Math.floor(Date.now() / 1000), metadata };
    await storeCall(store.create(c, items), "conversation");
    return send(conversationJson(c));
  }

  const parts = path.slice("/v1/conversations/".length).split("/").map(decodeURIComponent);
  const [id, sub, itemId, extra] = parts;
  if (!id || (sub !== undefined && sub !== "items") || extra !== undefined || (sub === "items" && itemId === "")) throw new GatewayError("not_found", `${path}: no such endpoint`, { field: "path" });
  const c = await visibleConversation(store, id, d.caller);

  if (sub === undefined) {
    if (method === "GET" || method === "HEAD") return send(conversationJson(c));
    if (method === "POST") {
      const body = await jsonBody(d);
      if (body.metadata === undefined) bad("metadata", "is required");
      const updated = await storeCall(store.setMetadata(id, stringMetadata(body)), "conversation");
      if (!updated) throw notFound(id);
      return send(conversationJson(updated));
    }
    if (method === "DELETE") {
      if (!(await storeCall(store.delete(id), "conversation"))) throw notFound(id);
      return send({ id, object: "conversation.deleted", deleted: true });
    }
    return allow("GET, POST, DELETE");
  }

  if (itemId === undefined) {
    if (method === "GET" || method === "HEAD") return send(page(await storeCall(store.items(id), "conversation"), query, `conversation "${id}"`));
    if (method === "POST") {
      const body = await jsonBody(d);
      const have = await storeCall(store.items(id), "conversation");
      const items = newItems(body.items, have, true);
      if (have.length + items.length > MAX_CONVERSATION_ITEMS) bad("items", `a conversation holds at most ${MAX_CONVERSATION_ITEMS} items; "${id}" has ${have.length}`);
      await storeCall(store.append(id, items), "conversation");
      return send({ object: "list", data: items, first_id: items[0].id, last_id: items[items.length - 1].id, has_more: false });
    }
    return allow("GET, POST");
  }

  if (method === "GET" || method === "HEAD") {
    const item = (await storeCall(store.items(id), "conversation")).find((i) => i.id === itemId);
    if (!item) throw new GatewayError("not_found", `item_id: no item "${itemId}" in conversation "${id}"`, { field: "item_id" });
    return send(item);
  }
  if (method === "DELETE") {
    if (!(await storeCall(store.deleteItem(id, itemId), "conversation"))) throw new GatewayError("not_found", `item_id: no item "${itemId}" in conversation "${id}"`, { field: "item_id" });
    return send(conversationJson(c));
  }
  return allow("GET, DELETE");
}
