// The OpenAI Responses API on the chat engine. The compat handler authenticates, reads the body and
// formats errors; this parses, drives the engine and writes the response object or its typed event
// stream, and serves the stored responses (store.ts):
//   POST   /v1/responses                       store (unless store: false), previous_response_id, item_reference
//   GET    /v1/responses/{id}                  a stored response
//   GET    /v1/responses/{id}/input_items      its request's input items (after, limit, order)
//   DELETE /v1/responses/{id}
//   POST   /v1/responses/{id}/cancel           only background responses can be: this gateway runs none
// A key sees the responses it may see of batches (../../batch/http.ts): an admin key (or anyone,
// with no keys) every one, a team key its team's, a service key its own; anything else is not found.

import { ServerResponse } from "node:http";
import type { DoorDeps, Req, Res } from "../door.ts";
import { MAX_CACHE_TTL_SECONDS } from "../../engine/chat-engine.ts";
import { canSee, visibilityOf } from "../../batch/http.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Adjustment, Caller } from "../../router/types.ts";
import { coalesceWrites } from "../../server/http.ts";
import { validateCacheTtl } from "../../server/validate.ts";
import { log } from "../../telemetry/log.ts";
import { cacheSimilarityHeader, toOpenAIError } from "../response.ts";
import { isObj } from "../request.ts";
import { parseResponsesRequest } from "./request.ts";
import { responseId, responseJson, responsesStreamWriter, type ResponseContext } from "./response.ts";
import { MAX_CHAIN, type ResponseStore, type StoredResponse } from "./store.ts";

type Json = Record<string, unknown>;

/** The stored responses, when the gateway keeps them (`responses.store`). */
export interface StoredResponses {
  store: ResponseStore;
  retentionMs: number;
}

/** What the compat handler gives this door for one request. */
export type ResponsesDeps = DoorDeps & { responses?: StoredResponses };

export const isStoredResponsePath = (path: string) => path.startsWith("/v1/responses/") && path.length > "/v1/responses/".length;

const notFound = (id: string) => new GatewayError("not_found", `response_id: no response "${id}" (it was not stored, has expired or was deleted, or this key may not see it)`, { field: "response_id" });

/** A read of the store; its failure (PostgreSQL away) is a 503 that says so, never a 500. */
async function reading<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    log("warn", "responses: the response store could not be read", { reason: (err as Error).message });
    throw new GatewayError("unavailable", "the response store is unavailable; try again shortly", {});
  }
}

/** A stored response the caller may see, or a 404. */
async function visible(s: StoredResponses, id: string, caller: Caller): Promise<StoredResponse> {
  const r = await reading(s.store.get(id));
  if (!r || !canSee(r.owner, visibilityOf(caller))) throw notFound(id);
  return r;
}

/** Item ids made here end with the response's suffix and the item's place: `msg_<suffix>_2`, `msg_<suffix>_i0`. */
function responseOfItem(itemId: string): string | undefined {
  const first = itemId.indexOf("_");
  const last = itemId.lastIndexOf("_");
  return first > 0 && last > first + 1 ? `resp_${itemId.slice(first + 1, last)}` : undefined;
}

/**
 * This request's input as input items, each with an id (the caller's, else one made here), as
 * `input_items` lists them and a later turn reads them back.
 */
function inputItems(input: unknown, suffix: string): Json[] {
  if (typeof input === "string") return [{ id: `msg_${suffix}_i0`, type: "message", status: "completed", role: "user", content: [{ type: "input_text", text: input }] }];
  if (!Array.isArray(input)) return [];
  return input.map((it, i): Json => {
    const item = it as Json;
    const type = (item.type as string | undefined) ?? "message";
    const id = typeof item.id === "string" && item.id ? item.id : `${type === "message" ? "msg" : type === "function_call" ? "fc" : type === "function_call_output" ? "fco" : "item"}_${suffix}_i${i}`;
    if (type !== "message") return { ...item, id };
    const role = item.role;
    const content = typeof item.content === "string" ? [{ type: role === "assistant" ? "output_text" : "input_text", text: item.content, ...(role === "assistant" ? { annotations: [] } : {}) }] : item.content;
    return { id, type: "message", status: "completed", ...item, content };
  });
}

/**
 * A previous response's conversation (its chain's input and output items, oldest first) and the
 * body with its item_reference inputs replaced by the items they name.
 */
async function conversation(body: Json, s: StoredResponses | undefined, caller: Caller): Promise<{ history: unknown[]; body: Json; previousId?: string }> {
  const prev = body.previous_response_id;
  const input = body.input;
  const refs = Array.isArray(input) && input.some((it) => isObj(it) && it.type === "item_reference");
  if ((prev === undefined || prev === null) && !refs) return { history: [], body };
  if (!s) {
    const field = prev !== undefined && prev !== null ? "previous_response_id" : "input";
    throw new GatewayError("invalid_argument", `${field}: this gateway does not store responses (responses.store is false); send the conversation as input items`, { field });
  }
  const history: unknown[] = [];
  let previousId: string | undefined;
  if (prev !== undefined && prev !== null) {
    if (typeof prev !== "string" || !prev) throw new GatewayError("invalid_argument", "previous_response_id: must be a response id (a non-empty string)", { field: "previous_response_id" });
    const chain = await reading(s.store.chain(prev));
    const head = chain[chain.length - 1];
    if (!head || !canSee(head.owner, visibilityOf(caller))) {
      throw new GatewayError("invalid_argument", `previous_response_id: no response "${prev}" (it was not stored, has expired or was deleted, or this key may not see it)`, { field: "previous_response_id" });
    }
    if (chain[0].previousId) {
      const why = chain.length >= MAX_CHAIN ? `is longer than ${MAX_CHAIN} turns` : `lost its turns before "${chain[0].id}" (expired or deleted)`;
      throw new GatewayError("invalid_argument", `previous_response_id: the conversation of "${prev}" ${why}; send the conversation as input items`, { field: "previous_response_id" });
    }
    for (const r of chain) history.push(...r.inputItems, ...((r.response.output as unknown[]) ?? []));
    previousId = prev;
  }
  if (!refs) return { history, body, previousId };
  const found = new Map<string, StoredResponse | undefined>();
  const resolved = await Promise.all(
    (input as unknown[]).map(async (it, i) => {
      if (!isObj(it) || it.type !== "item_reference") return it;
      const id = it.id;
      if (typeof id !== "string" || !id) throw new GatewayError("invalid_argument", `input[${i}].id: must be the id of a stored item`, { field: `input[${i}].id` });
      const rid = responseOfItem(id);
      if (rid && !found.has(rid)) {
        const r = await reading(s.store.get(rid));
        found.set(rid, r && canSee(r.owner, visibilityOf(caller)) ? r : undefined);
      }
      const r = rid ? found.get(rid) : undefined;
      const item = r && [...((r.response.output as Json[]) ?? []), ...r.inputItems].find((x) => x.id === id);
      if (!item) throw new GatewayError("invalid_argument", `input[${i}].id: no stored item "${id}" (its response was not stored, has expired or was deleted, or this key may not see it)`, { field: `input[${i}].id` });
      return item;
    }),
  );
  return { history, body: { ...body, input: resolved }, previousId };
}

/** Store a response before it is answered; when that fails it is answered with store: false. */
async function keep(s: StoredResponses, r: Json, ctx: ResponseContext, caller: Caller, items: Json[]): Promise<void> {
  const now = Date.now();
  try {
    await s.store.put({ id: ctx.id, owner: { team: caller.team, key: caller.keyName }, createdAt: now, expiresAt: now + s.retentionMs, ...(ctx.previousResponseId ? { previousId: ctx.previousResponseId } : {}), response: r, inputItems: items });
  } catch (err) {
    log("warn", "responses: a response could not be stored; answered with store: false", { response: ctx.id, reason: (err as Error).message });
    r.store = false;
  }
}

/** Serve one POST /v1/responses; returns the HTTP status sent. Errors before the first byte are thrown. */
export async function serveResponses(_req: Req, res: Res, d: ResponsesDeps): Promise<number> {
  let raw: unknown;
  try {
    raw = JSON.parse(d.body.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
  }
  if (!isObj(raw)) throw new GatewayError("invalid_argument", "body: must be a JSON object", { field: "body" });
  if (raw.store !== undefined && raw.store !== null && typeof raw.store !== "boolean") throw new GatewayError("invalid_argument", "store: must be a boolean", { field: "store" });
  const { ri, signal, caller } = d;
  const { history, body, previousId } = await conversation(raw, d.responses, caller);
  const parsed = parseResponsesRequest(body, ri.id, caller, history);
  if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  const er = { call: parsed.call, ri, signal, cache: d.cache ?? parsed.cache, statusOf: d.statusOf };
  const stored = d.responses && raw.store !== false ? d.responses : undefined;
  // Stored responses keep their replay state (their reasoning items' encrypted_content), so the next turn has it.
  const ctx: ResponseContext = { id: responseId(ri.id), createdAt: Math.floor(Date.now() / 1000), echo: parsed.echo, previousResponseId: previousId, store: stored !== undefined, replay: stored !== undefined || parsed.encryptedReasoning };
  const items = stored ? inputItems(body.input, ctx.id.slice("resp_".length)) : [];
  const common = { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };

  if (!parsed.call.stream) {
    const a = await d.engine.complete(er);
    const r = responseJson(ctx, a);
    if (stored) await keep(stored, r, ctx, caller, items);
    d.sendJson(res, 200, r, { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity) });
    return 200;
  }

  // Nothing is written before the engine's start: a failure before it is a plain HTTP error the
  // SDK can retry; after it, response.failed and an error event end the stream.
  let w: ReturnType<typeof responsesStreamWriter> | undefined;
  let routing = { route: "", alias: "", strategy: "", variant: "" };
  let adjustments: Adjustment[] = [];
  const out = res as ServerResponse;
  try {
    for await (const ev of d.engine.stream(er)) {
      if (ev.type === "start") {
        routing = ev.routing;
        adjustments = ev.adjustments;
        if (res instanceof ServerResponse) coalesceWrites(res);
        out.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          ...common,
          "x-signalbox-deployment": ev.deployment,
          "x-signalbox-cache": ev.cache,
          ...cacheSimilarityHeader(ev.cacheSimilarity),
        });
        w = responsesStreamWriter(ctx, ev.providerModel || ev.model, ev.outputGuarded);
        out.write(w.start());
      } else if (ev.type === "delta") {
        const text = w!.delta(ev.events);
        if (text) out.write(text);
      } else {
        // Output guardrails' redactions are known only now.
        const all = ev.summary.adjustments?.length ? [...adjustments, ...ev.summary.adjustments] : adjustments;
        const r = w!.finish(ev.summary, { routing, traceId: ri.traceId, adjustments: all });
        // Stored before its last event: a client that has it may continue from it at once.
        if (stored) await keep(stored, r, ctx, caller, items);
        res.end(w!.ended(r));
      }
    }
  } catch (err) {
    if (!w) throw err;
    if (!signal.aborted) res.end(w.fail(err));
    return toOpenAIError(err).status;
  }
  return 200;
}

/** GET, DELETE and cancel of a stored response, and its input items; returns the status sent. */
export async function serveStoredResponse(req: Req, res: Res, path: string, query: URLSearchParams, d: { caller: Caller; responses?: StoredResponses; sendJson: DoorDeps["sendJson"] }): Promise<number> {
  const rest = path.slice("/v1/responses/".length);
  const slash = rest.indexOf("/");
  const id = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  const sub = slash < 0 ? "" : rest.slice(slash + 1);
  const method = req.method ?? "GET";
  const allow = (methods: string) => {
    d.sendJson(res, 405, { error: { message: `${method} is not allowed on ${path}; use ${methods.replace(", ", " or ")}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: methods });
    return 405;
  };
  if (sub === "cancel") {
    if (method !== "POST") return allow("POST");
    throw new GatewayError("invalid_argument", "response_id: only background responses can be cancelled, and this gateway runs none (background is not supported)", { field: "response_id" });
  }
  if (sub !== "" && sub !== "input_items") throw new GatewayError("not_found", `${path}: no such endpoint`, { field: "path" });
  if (!d.responses) throw new GatewayError("not_found", `response_id: no response "${id}" (this gateway does not store responses: responses.store is false)`, { field: "response_id" });
  if (sub === "input_items") {
    if (method !== "GET") return allow("GET");
    const r = await visible(d.responses, id, d.caller);
    const order = query.get("order") ?? "desc";
    if (order !== "asc" && order !== "desc") throw new GatewayError("invalid_argument", `order: must be asc or desc, got "${order}"`, { field: "order" });
    const limitText = query.get("limit");
    const limit = limitText === null ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new GatewayError("invalid_argument", `limit: must be an integer from 1 to 100, got "${limitText}"`, { field: "limit" });
    const all = order === "asc" ? r.inputItems : [...r.inputItems].reverse();
    const after = query.get("after");
    let from = 0;
    if (after) {
      const at = all.findIndex((x) => x.id === after);
      if (at < 0) throw new GatewayError("invalid_argument", `after: no input item "${after}" in response "${id}"`, { field: "after" });
      from = at + 1;
    }
    const data = all.slice(from, from + limit);
    d.sendJson(res, 200, { object: "list", data, first_id: (data[0]?.id as string | undefined) ?? null, last_id: (data[data.length - 1]?.id as string | undefined) ?? null, has_more: from + limit < all.length });
    return 200;
  }
  if (method === "GET" || method === "HEAD") {
    const r = await visible(d.responses, id, d.caller);
    d.sendJson(res, 200, r.response);
    return 200;
  }
  if (method === "DELETE") {
    await visible(d.responses, id, d.caller);
    if (!(await reading(d.responses.store.delete(id)))) throw notFound(id);
    d.sendJson(res, 200, { id, object: "response", deleted: true });
    return 200;
  }
  return allow("GET, DELETE");
}
