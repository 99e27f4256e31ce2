// The OpenAI Responses API on the chat engine. The compat handler authenticates, reads the body and
// formats errors; this parses, drives the engine and writes the response object or its typed event
// stream, and serves the stored responses (store.ts):
//   POST   /v1/responses                       store (unless store: false), previous_response_id, item_reference
//   GET    /v1/responses/{id}                  a stored response; ?stream=true&starting_after=N a background one's events
//   GET    /v1/responses/{id}/input_items      its request's input items (after, limit, order)
//   DELETE /v1/responses/{id}
//   POST   /v1/responses/{id}/cancel           a background response (background.ts) still queued or in progress
// A key sees the responses it may see of batches (../../batch/http.ts): an admin key (or anyone,
// with no keys) every one, a team key its team's, a service key its own; anything else is not found.

import { ServerResponse } from "node:http";
import type { DoorDeps, Req, Res } from "../door.ts";
import { MAX_CACHE_TTL_SECONDS } from "../../engine/chat-engine.ts";
import { canSee, visibilityOf } from "../../batch/http.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Adjustment, Caller } from "../../router/types.ts";
import type { EngineRequest } from "../../engine/chat-engine.ts";
import type { PromptLibrary } from "../../control/prompts.ts";
import { coalesceWrites } from "../../server/http.ts";
import { validateCacheTtl } from "../../server/validate.ts";
import { log } from "../../telemetry/log.ts";
import { cacheSimilarityHeader, rateLimitHeaders, toOpenAIError } from "../response.ts";
import { isObj } from "../request.ts";
import { parseResponsesRequest, type ResponsesRequest } from "./request.ts";
import { runApprovals, runMcpTurns } from "./mcp-loop.ts";
import type { McpHub } from "../../mcp/hub.ts";
import type { VectorStores } from "../../vectors/service.ts";
import { failedJson, pendingJson, replayEvents, responseId, responseJson, responsesStreamWriter, type ResponseContext } from "./response.ts";
import { MAX_CHAIN, withIds, type ResponseStore, type StoredResponse } from "./store.ts";
import { MAX_CONVERSATION_ITEMS, type ConversationStore, type ConversationUsage } from "./conversations.ts";
import { HEARTBEAT_TTL_MS, type BackgroundRuns, type StopReason, type StreamLog } from "./background.ts";
import { storeCall, visibleConversation } from "./conversations-http.ts";

type Json = Record<string, unknown>;

/** The stored responses and conversations, when the gateway keeps them (`responses.store`). */
export interface StoredResponses {
  store: ResponseStore;
  retentionMs: number;
  conversations: ConversationStore;
  /** This replica's background responses under way. */
  runs: BackgroundRuns;
}

/** What the compat handler gives this door for one request. */
export type ResponsesDeps = DoorDeps & { responses?: StoredResponses; prompts?: PromptLibrary; mcp?: McpHub; vectors?: VectorStores };

export const isStoredResponsePath = (path: string) => path.startsWith("/v1/responses/") && path.length > "/v1/responses/".length;

const notFound = (id: string) => new GatewayError("not_found", `response_id: no response "${id}" (it was not stored, has expired or was deleted, or this key may not see it)`, { field: "response_id" });

/** How long a response holds its conversation at most (a holder that died lets go then). */
const LOCK_MS = 10 * 60_000;
const BACKGROUND_LOCK_MS = 60 * 60_000;

const running = (r: StoredResponse) => r.response.status === "queued" || r.response.status === "in_progress";

/**
 * A stored response the caller may see, or a 404. A background response still running past its
 * heartbeat was left by a replica that died: it is failed now (in the store too), saying so.
 */
async function visible(s: StoredResponses, id: string, caller: Caller): Promise<StoredResponse> {
  const r = await storeCall(s.store.get(id), "response");
  if (!r || !canSee(r.owner, visibilityOf(caller))) throw notFound(id);
  if (running(r) && r.aliveUntil !== undefined && r.aliveUntil < Date.now()) {
    const failed = { ...r.response, status: "failed", error: { code: "server_error", message: "the gateway replica running this background response stopped before it was answered; create it again" } };
    await storeCall(s.store.update(id, failed, ["queued", "in_progress"]), "response");
    return { ...r, response: failed };
  }
  return r;
}

/** Item ids made here end with the response's suffix and the item's place: `msg_<suffix>_2`, `msg_<suffix>_i0`. */
function responseOfItem(itemId: string): string | undefined {
  const first = itemId.indexOf("_");
  const last = itemId.lastIndexOf("_");
  return first > 0 && last > first + 1 ? `resp_${itemId.slice(first + 1, last)}` : undefined;
}

interface Context {
  /** The conversation before this request, oldest first. */
  history: unknown[];
  /** Where the history came from, for an error in it. */
  historyPath: string;
  /** The body with its item_reference inputs replaced by the items they name. */
  body: Json;
  previousId?: string;
  conversationId?: string;
}

/**
 * What comes before a request: a previous response's conversation (its chain's input and output
 * items, oldest first), or a conversation's items; and its item_reference inputs resolved.
 */
async function context(body: Json, s: StoredResponses | undefined, caller: Caller, holder: string, background: boolean): Promise<Context> {
  const prev = body.previous_response_id;
  const conv = body.conversation;
  const input = body.input;
  const refs = Array.isArray(input) && input.some((it) => isObj(it) && it.type === "item_reference");
  const hasPrev = prev !== undefined && prev !== null;
  const hasConv = conv !== undefined && conv !== null;
  if (!hasPrev && !hasConv && !refs) return { history: [], historyPath: "input", body };
  if (!s) {
    const field = hasPrev ? "previous_response_id" : hasConv ? "conversation" : "input";
    throw new GatewayError("invalid_argument", `${field}: this gateway does not store responses or conversations (responses.store is false); send the conversation as input items`, { field });
  }
  if (hasPrev && hasConv) throw new GatewayError("invalid_argument", "previous_response_id: cannot be used together with conversation (a conversation already holds the earlier turns)", { field: "previous_response_id" });
  const history: unknown[] = [];
  let previousId: string | undefined;
  let conversationId: string | undefined;
  if (hasConv) {
    const id = typeof conv === "string" ? conv : isObj(conv) ? conv.id : undefined;
    if (typeof id !== "string" || !id) throw new GatewayError("invalid_argument", 'conversation: must be a conversation id, or {"id": ...}', { field: "conversation" });
    await visibleConversation(s.conversations, id, caller).catch((err) => {
      throw err instanceof GatewayError && err.code === "not_found" ? new GatewayError("not_found", `conversation: no conversation "${id}" (it does not exist or was deleted, or this key may not see it)`, { field: "conversation" }) : err;
    });
    // Held from before its items are read until this response's turn is added (the caller lets go).
    if (!(await storeCall(s.conversations.lock(id, holder, Date.now() + (background ? BACKGROUND_LOCK_MS : LOCK_MS)), "conversation"))) {
      throw new GatewayError("invalid_argument", "conversation: another response is currently operating on this conversation; retry in a few seconds", { field: "conversation", reason: "conversation_locked" });
    }
    conversationId = id;
    try {
      history.push(...(await storeCall(s.conversations.items(id), "conversation")));
      const adding = Array.isArray(input) ? input.length : 1;
      if (history.length + adding > MAX_CONVERSATION_ITEMS) throw new GatewayError("invalid_argument", `conversation: "${id}" holds ${history.length} items, and a conversation holds at most ${MAX_CONVERSATION_ITEMS}`, { field: "conversation" });
      return await resolveReferences({ history, historyPath: "conversation", body, conversationId }, s, caller);
    } catch (err) {
      await s.conversations.unlock(id, holder).catch(() => {});
      throw err;
    }
  }
  if (hasPrev) {
    if (typeof prev !== "string" || !prev) throw new GatewayError("invalid_argument", "previous_response_id: must be a response id (a non-empty string)", { field: "previous_response_id" });
    const chain = await storeCall(s.store.chain(prev), "response");
    const head = chain[chain.length - 1];
    if (!head || !canSee(head.owner, visibilityOf(caller))) {
      throw new GatewayError("invalid_argument", `previous_response_id: no response "${prev}" (it was not stored, has expired or was deleted, or this key may not see it)`, { field: "previous_response_id" });
    }
    if (running(head)) throw new GatewayError("invalid_argument", `previous_response_id: "${prev}" is a background response still ${head.response.status}; continue from it once it has ended`, { field: "previous_response_id" });
    if (chain[0].previousId) {
      const why = chain.length >= MAX_CHAIN ? `is longer than ${MAX_CHAIN} turns` : `lost its turns before "${chain[0].id}" (expired or deleted)`;
      throw new GatewayError("invalid_argument", `previous_response_id: the conversation of "${prev}" ${why}; send the conversation as input items`, { field: "previous_response_id" });
    }
    for (const r of chain) history.push(...r.inputItems, ...((r.response.output as unknown[]) ?? []));
    previousId = prev;
  }
  return resolveReferences({ history, historyPath: "previous_response_id", body, previousId }, s, caller);
}

/** The body with its item_reference inputs replaced by the stored items they name. */
async function resolveReferences(c: Context, s: StoredResponses, caller: Caller): Promise<Context> {
  const input = c.body.input;
  if (!Array.isArray(input) || !input.some((it) => isObj(it) && it.type === "item_reference")) return c;
  const found = new Map<string, StoredResponse | undefined>();
  const resolved = await Promise.all(
    (input as unknown[]).map(async (it, i) => {
      if (!isObj(it) || it.type !== "item_reference") return it;
      const id = it.id;
      if (typeof id !== "string" || !id) throw new GatewayError("invalid_argument", `input[${i}].id: must be the id of a stored item`, { field: `input[${i}].id` });
      const rid = responseOfItem(id);
      if (rid && !found.has(rid)) {
        const r = await storeCall(s.store.get(rid), "response");
        found.set(rid, r && canSee(r.owner, visibilityOf(caller)) ? r : undefined);
      }
      const r = rid ? found.get(rid) : undefined;
      const item = r && [...((r.response.output as Json[]) ?? []), ...r.inputItems].find((x) => x.id === id);
      if (!item) throw new GatewayError("invalid_argument", `input[${i}].id: no stored item "${id}" (its response was not stored, has expired or was deleted, or this key may not see it)`, { field: `input[${i}].id` });
      return item;
    }),
  );
  return { ...c, body: { ...c.body, input: resolved } };
}

/** A response's usage and cost, as its conversation adds them up. */
function usageOf(r: Json): ConversationUsage {
  const u = r.usage as { input_tokens?: number; output_tokens?: number } | null | undefined;
  const cost = (r.signalbox as { cost_nano_usd?: number } | undefined)?.cost_nano_usd ?? 0;
  return { responses: 1, inputTokens: u?.input_tokens ?? 0, outputTokens: u?.output_tokens ?? 0, costNanos: cost };
}

/**
 * Before a response is answered: store it (when that fails it is answered with store: false), and
 * add its input and output items to its conversation (when that fails the answer still goes out,
 * and the log says which conversation lacks the turn).
 */
async function keep(s: StoredResponses, r: Json, ctx: ResponseContext, caller: Caller, items: Json[]): Promise<void> {
  const now = Date.now();
  await Promise.all([
    ctx.store &&
      s.store.put({ id: ctx.id, owner: { team: caller.team, key: caller.keyName }, createdAt: now, expiresAt: now + s.retentionMs, ...(ctx.previousResponseId ? { previousId: ctx.previousResponseId } : {}), response: r, inputItems: items }).catch((err) => {
        log("warn", "responses: a response could not be stored; answered with store: false", { response: ctx.id, reason: (err as Error).message });
        r.store = false;
      }),
    ctx.conversationId &&
      s.conversations.append(ctx.conversationId, [...items, ...((r.output as Json[]) ?? [])], usageOf(r)).catch((err) => {
        log("error", "responses: a turn could not be added to its conversation; the answer went out without it", { response: ctx.id, conversation: ctx.conversationId, reason: (err as Error).message });
      }),
  ]);
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
  if (raw.background !== undefined && raw.background !== null && typeof raw.background !== "boolean") throw new GatewayError("invalid_argument", "background: must be a boolean", { field: "background" });
  const background = raw.background === true;
  if (background) {
    if (!d.responses) throw new GatewayError("invalid_argument", "background: this gateway does not store responses (responses.store is false), and a background response is read back by id", { field: "background" });
    if (raw.store === false) throw new GatewayError("invalid_argument", "background: requires store (a background response is read back by id)", { field: "background" });
  }
  const { ri, caller } = d;
  const id = responseId(ri.id);
  const c = await context(raw, d.responses, caller, id, background);
  // A conversation is held from before its items were read until this response's turn is added
  // (a background run lets go when it ends).
  const hold = { handedOff: false };
  try {
    return await answer(res, d, raw, c, id, background, hold);
  } finally {
    if (c.conversationId && !hold.handedOff) await d.responses!.conversations.unlock(c.conversationId, id).catch(() => {});
  }
}

async function answer(res: Res, d: ResponsesDeps, raw: Json, c: Context, id: string, background: boolean, hold: { handedOff: boolean }): Promise<number> {
  const { ri, signal, caller } = d;
  const { history, historyPath, body, previousId, conversationId } = c;
  const parsed = parseResponsesRequest(body, ri.id, caller, history, historyPath, d.prompts);
  if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  const er = { call: parsed.call, ri, signal, cache: d.cache ?? parsed.cache, statusOf: d.statusOf };
  const store = d.responses !== undefined && raw.store !== false;
  const kept = store || conversationId !== undefined ? d.responses : undefined;
  // Stored responses and conversations keep their replay state (their reasoning items' encrypted_content), so the next turn has it.
  const ctx: ResponseContext = { id, createdAt: Math.floor(Date.now() / 1000), echo: parsed.echo, previousResponseId: previousId, conversationId, store, replay: kept !== undefined || parsed.encryptedReasoning, background };
  const suffix = ctx.id.slice("resp_".length);
  const items = kept ? withIds(body.input, (prefix, i) => `${prefix}_${suffix}_i${i}`) : [];
  const common = { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };

  if (parsed.mcp.length || parsed.fileSearch || hasApprovalAnswers(body)) return answerWithMcp(res, d, { body, history, historyPath, parsed, ctx, er, kept, items, common, background });
  if (background) return runInBackground(res, d, d.responses!, ctx, er, items, common, hold, parsed.call.stream);

  if (!parsed.call.stream) {
    const a = await d.engine.complete(er);
    const r = responseJson(ctx, a);
    if (kept) await keep(kept, r, ctx, caller, items);
    d.sendJson(res, 200, r, { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity), ...rateLimitHeaders(a.limits) });
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
          ...rateLimitHeaders(ev.limits),
        });
        w = responsesStreamWriter(ctx, ev.providerModel || ev.model, ev.outputGuarded);
        out.write(w.start());
        if (ev.webSearch) out.write(w.searched(ev.webSearch));
      } else if (ev.type === "delta") {
        const text = w!.delta(ev.events);
        if (text) out.write(text);
      } else {
        // Output guardrails' redactions are known only now.
        const all = ev.summary.adjustments?.length ? [...adjustments, ...ev.summary.adjustments] : adjustments;
        const r = w!.finish(ev.summary, { routing, traceId: ri.traceId, adjustments: all });
        // Stored before its last event: a client that has it may continue from it at once.
        if (kept) await keep(kept, r, ctx, caller, items);
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

const hasApprovalAnswers = (body: Json) => Array.isArray(body.input) && body.input.some((it) => isObj(it) && it.type === "mcp_approval_response");

/**
 * A response with mcp tools (mcp-loop.ts): approvals answered in the input run first, then the
 * model's turns and the calls they make; unary, or streamed as each step happens.
 */
async function answerWithMcp(
  res: Res,
  d: ResponsesDeps,
  x: { body: Json; history: unknown[]; historyPath: string; parsed: ResponsesRequest; ctx: ResponseContext; er: EngineRequest; kept?: StoredResponses; items: Json[]; common: Record<string, string>; background: boolean },
): Promise<number> {
  const { ri, caller, signal } = d;
  const { history, historyPath, ctx, er, kept, items, common } = x;
  const what = x.parsed.mcp.length ? "mcp tools" : "the file_search tool";
  if (x.background) throw new GatewayError("invalid_argument", `background: a response with ${what} cannot run in the background on this gateway`, { field: "background" });
  const hub = d.mcp;
  if (x.parsed.mcp.length === 0 && hasApprovalAnswers(x.body)) throw new GatewayError("invalid_argument", "input: mcp_approval_response items need the request's mcp tools (send the tools again, as with OpenAI)", { field: "input" });
  const approvals = x.parsed.mcp.length ? await runApprovals({ hub: hub!, caller, ri }, ctx, x.body, history, x.parsed.mcp, signal) : { body: x.body, approved: [] };
  const reparse = (extra: Json[], id: string) => {
    const input = approvals.body.input;
    const all = [...(Array.isArray(input) ? input : [{ type: "message", role: "user", content: input }]), ...extra];
    return parseResponsesRequest({ ...approvals.body, input: all }, id, caller, history, historyPath, d.prompts);
  };
  const parsed = approvals.body !== x.body ? reparse([], ri.id) : x.parsed;
  const listedBefore = new Set(history.filter((h): h is Json => isObj(h) && h.type === "mcp_list_tools").map((h) => String(h.server_label)));
  const turns = { hub, vectors: d.vectors, caller, ri, run: (e: EngineRequest) => d.engine.complete(e), reparse, listedBefore, approvedCalls: approvals.approved };
  const model = er.call.model;

  if (!er.call.stream) {
    const r = await runMcpTurns(turns, ctx, { ...er, call: parsed.call }, parsed, undefined, []);
    if (kept) await keep(kept, r, ctx, caller, items);
    d.sendJson(res, 200, r, { ...common, "x-signalbox-deployment": String((r.signalbox as Json).deployment) });
    return 200;
  }

  const out = res as ServerResponse;
  if (res instanceof ServerResponse) coalesceWrites(res);
  out.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...common });
  const seq = { n: 0 };
  const emit = (type: string, fields: Json) => {
    out.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: seq.n++ })}\n\n`);
  };
  const started = pendingJson(ctx, model, "in_progress");
  emit("response.created", { response: started });
  emit("response.in_progress", { response: started });
  const partial: Json[] = [];
  try {
    const r = await runMcpTurns({ ...turns, stream: (e) => d.engine.stream(e) }, ctx, { ...er, call: parsed.call }, parsed, { seq, emit, write: (text) => out.write(text) }, partial);
    if (kept) await keep(kept, r, ctx, caller, items);
    emit(r.status === "completed" ? "response.completed" : "response.incomplete", { response: r });
    res.end();
    return 200;
  } catch (err) {
    if (!signal.aborted) {
      const e = toOpenAIError(err).body.error;
      emit("response.failed", { response: failedJson(ctx, model, err, partial) });
      emit("error", { code: e.code ?? e.type, message: e.message, param: e.param });
      res.end();
    }
    return toOpenAIError(err).status;
  }
}

/**
 * A background response: stored as queued and answered at once; then run on this replica with a
 * signal of its own (the caller may go away), moving to in_progress and to its end in the store.
 * Each move is conditional, so a cancel (from any replica) wins over a late end; a run stopped by
 * the gateway's shutdown ends failed, saying so. With `stream`, the answer is the run's events as
 * they come, from its event log (background.ts): a caller that goes away stops following, not the
 * run, and may follow again with GET ?stream=true&starting_after=N.
 */
async function runInBackground(res: Res, d: ResponsesDeps, s: StoredResponses, ctx: ResponseContext, er: EngineRequest, items: Json[], common: Record<string, string>, hold: { handedOff: boolean }, stream: boolean): Promise<number> {
  const model = er.call.model;
  const queued = pendingJson(ctx, model, "queued");
  const now = Date.now();
  await storeCall(s.store.put({ id: ctx.id, owner: { team: d.caller.team, key: d.caller.keyName }, createdAt: now, expiresAt: now + s.retentionMs, ...(ctx.previousResponseId ? { previousId: ctx.previousResponseId } : {}), response: queued, inputItems: items, aliveUntil: now + HEARTBEAT_TTL_MS }), "response");
  hold.handedOff = true;
  const unlock = () => (ctx.conversationId ? s.conversations.unlock(ctx.conversationId, ctx.id) : undefined);
  if (!stream) {
    d.sendJson(res, 200, queued, common);
    s.runs.start(ctx.id, (signal) => run(signal).finally(unlock));
    return 200;
  }
  const shared = s.store.events;
  const log = s.runs.openLog(ctx.id, shared && { append: (frames, ended) => shared.append(ctx.id, frames, ended) });
  const w = responsesStreamWriter(ctx, model);
  log.push(w.event("response.created", { response: queued }) + w.event("response.queued", { response: queued }));
  s.runs.start(ctx.id, (signal) => runStreamed(signal).finally(() => (log.end(), unlock())));
  await followLog(res as ServerResponse, d.signal, log, -1, common);
  return 200;

  /** The end of a run: stored if it still may be (a cancel wins), and the conversation continued. */
  async function end(done: Json): Promise<void> {
    if ((await s.store.update(ctx.id, done, ["in_progress"])) && ctx.conversationId && done.status !== "failed") {
      await s.conversations.append(ctx.conversationId, [...items, ...((done.output as Json[]) ?? [])], usageOf(done));
    }
  }
  function stopped(): GatewayError {
    return new GatewayError("unavailable", "the gateway stopped before this background response was answered; create it again");
  }
  function statusOf(signal: AbortSignal): (err: unknown) => string {
    return (err) => (signal.aborted ? "canceled" : d.statusOf(err));
  }

  async function run(signal: AbortSignal): Promise<void> {
    if (!(await s.store.update(ctx.id, pendingJson(ctx, model, "in_progress"), ["queued"]))) return;
    let done: Json;
    try {
      done = responseJson(ctx, await d.engine.complete({ ...er, signal, statusOf: statusOf(signal) }));
    } catch (err) {
      if (signal.aborted && (signal.reason as StopReason) === "cancelled") return;
      done = failedJson(ctx, model, signal.aborted ? stopped() : err);
    }
    await end(done);
  }

  async function runStreamed(signal: AbortSignal): Promise<void> {
    const cancelled = () => log.push(w.event("error", { code: "response_cancelled", message: "the response was cancelled", param: null }));
    if (!(await s.store.update(ctx.id, pendingJson(ctx, model, "in_progress"), ["queued"]))) return cancelled();
    log.push(w.event("response.in_progress", { response: pendingJson(ctx, model, "in_progress") }));
    let routing = { route: "", alias: "", strategy: "", variant: "" };
    let adjustments: Adjustment[] = [];
    try {
      for await (const ev of d.engine.stream({ ...er, signal, statusOf: statusOf(signal) })) {
        if (ev.type === "start") {
          routing = ev.routing;
          adjustments = ev.adjustments;
          if (ev.webSearch) log.push(w.searched(ev.webSearch));
        } else if (ev.type === "delta") {
          log.push(w.delta(ev.events));
        } else {
          const all = ev.summary.adjustments?.length ? [...adjustments, ...ev.summary.adjustments] : adjustments;
          const r = w.finish(ev.summary, { routing, traceId: d.ri.traceId, adjustments: all });
          // Stored before its last event, as a streamed response is.
          await end(r);
          log.push(w.ended(r));
        }
      }
    } catch (err) {
      if (signal.aborted && (signal.reason as StopReason) === "cancelled") return cancelled();
      const why = signal.aborted ? stopped() : err;
      await end(failedJson(ctx, model, why));
      log.push(w.fail(why));
    }
  }
}

/** Keep-alive comments while a stream waits (proxies close idle connections). */
const KEEPALIVE_MS = 15_000;

/**
 * Write a background response's events after sequence_number `after` from its log, then each new
 * one, until the log ends or the caller goes away (which stops the following, not the run).
 */
function followLog(res: ServerResponse, signal: AbortSignal, log: StreamLog, after: number, headers: Record<string, string>): Promise<void> {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
  return new Promise<void>((resolve) => {
    let stop = () => {};
    const keepalive = setInterval(() => res.write(": keep-alive\n\n"), KEEPALIVE_MS);
    const done = () => {
      clearInterval(keepalive);
      signal.removeEventListener("abort", gone);
      stop();
      resolve();
    };
    const gone = () => done();
    signal.addEventListener("abort", gone, { once: true });
    stop = log.follow(after, (text) => {
      if (text === undefined) {
        res.end();
        done();
      } else res.write(text);
    });
  });
}

/**
 * GET /v1/responses/{id}?stream=true: a background response's events after `starting_after`. From
 * its log when it runs (or ran) here; else from the events its replica shares in the store (the
 * same events, numbered alike); else, once it has ended, its events replayed from what is stored
 * (numbered in that replay), keep-alive comments meanwhile.
 */
async function streamStored(res: ServerResponse, s: StoredResponses, id: string, query: URLSearchParams, caller: Caller, signal: AbortSignal): Promise<number> {
  const raw = query.get("starting_after");
  const after = raw === null || raw === "" ? -1 : Number(raw);
  if (!Number.isInteger(after) || after < -1) throw new GatewayError("invalid_argument", `starting_after: must be a sequence_number (an integer, 0 or more), got "${raw}"`, { field: "starting_after" });
  const r = await visible(s, id, caller);
  if (r.response.background !== true) throw new GatewayError("invalid_argument", `stream: response "${id}" was not created with background: true; only a background response's stream can be followed again`, { field: "stream" });
  const log = s.runs.log(id);
  if (log && !(log.truncated && after < 0)) {
    await followLog(res, signal, log, after, {});
    return 200;
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  if (s.store.events && (await followShared(res, signal, s, id, after, caller))) return 200;
  let last = r.response;
  try {
    while (last.status === "queued" || last.status === "in_progress") {
      if (signal.aborted) return 200;
      res.write(": waiting for the response to end (it runs on another replica)\n\n");
      await new Promise((ok) => setTimeout(ok, 250));
      last = (await visible(s, id, caller)).response;
    }
  } catch (err) {
    // Deleted meanwhile, or the store went away: the stream has begun, so the error is an event.
    const e = toOpenAIError(err).body.error;
    res.end(`event: error\ndata: ${JSON.stringify({ type: "error", code: e.code ?? e.type, message: e.message, param: e.param, sequence_number: 0 })}\n\n`);
    return toOpenAIError(err).status;
  }
  res.end(replayEvents(last).slice(after + 1).join(""));
  return 200;
}

/** How often another replica's shared events are read while following them. */
const SHARED_POLL_MS = 250;
/** How long a response may have ended without its stream's end marker before the following stops (its replica died mid-write). */
const SHARED_END_GRACE_MS = 2_000;

/**
 * Follow a background response run by another replica through the events it shares in the store
 * (background.ts mirrors its log there): the same frames, numbered as they were, from after
 * `after`, live until the end's marker. False when nothing was shared for it and it has ended (a
 * response from before the store shared events, or whose events were swept): the caller replays it
 * from the stored response instead.
 */
async function followShared(res: ServerResponse, signal: AbortSignal, s: StoredResponses, id: string, after: number, caller: Caller): Promise<boolean> {
  const events = s.store.events!;
  let last = after;
  let sawAny = false;
  let endedAt: number | undefined;
  let quietSince = Date.now();
  for (let poll = 0; !signal.aborted; poll++) {
    const { frames, ended } = await events.read(id, last);
    if (frames.length) {
      res.write(frames.map((f) => f.frame).join(""));
      last = frames.at(-1)!.seq;
      sawAny = true;
      quietSince = Date.now();
    }
    if (ended) {
      res.end();
      return true;
    }
    // Now and then: has the response ended without the marker (or was its stream never shared)?
    if (poll % 4 === 0) {
      const r = (await visible(s, id, caller)).response;
      if (r.status !== "queued" && r.status !== "in_progress") {
        if (!sawAny && last === after && poll === 0) {
          const { frames: any } = await events.read(id, -1);
          if (any.length === 0) return false;
        }
        endedAt ??= Date.now();
        if (Date.now() - endedAt > SHARED_END_GRACE_MS) {
          res.end();
          return true;
        }
      }
    }
    if (Date.now() - quietSince >= KEEPALIVE_MS) {
      res.write(": keep-alive\n\n");
      quietSince = Date.now();
    }
    await new Promise((ok) => setTimeout(ok, SHARED_POLL_MS));
  }
  return true;
}

/** GET, DELETE and cancel of a stored response, and its input items; returns the status sent. */
export async function serveStoredResponse(req: Req, res: Res, path: string, query: URLSearchParams, d: { caller: Caller; responses?: StoredResponses; sendJson: DoorDeps["sendJson"]; signal: AbortSignal }): Promise<number> {
  const rest = path.slice("/v1/responses/".length);
  const slash = rest.indexOf("/");
  const id = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
  const sub = slash < 0 ? "" : rest.slice(slash + 1);
  const method = req.method ?? "GET";
  const send = (body: unknown) => {
    d.sendJson(res, 200, body);
    return 200;
  };
  const allow = (methods: string) => {
    d.sendJson(res, 405, { error: { message: `${method} is not allowed on ${path}; use ${methods.replace(", ", " or ")}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: methods });
    return 405;
  };
  if (sub !== "" && sub !== "input_items" && sub !== "cancel") throw new GatewayError("not_found", `${path}: no such endpoint`, { field: "path" });
  if (!d.responses) throw new GatewayError("not_found", `response_id: no response "${id}" (this gateway does not store responses: responses.store is false)`, { field: "response_id" });
  if (sub === "cancel") {
    if (method !== "POST") return allow("POST");
    const r = await visible(d.responses, id, d.caller);
    if (r.response.background !== true) throw new GatewayError("invalid_argument", `response_id: "${id}" was not created with background: true; only background responses can be cancelled`, { field: "response_id" });
    if (r.response.status === "cancelled") return send(r.response);
    const cancelled = { ...r.response, status: "cancelled" };
    if (!(await storeCall(d.responses.store.update(id, cancelled, ["queued", "in_progress"]), "response"))) {
      throw new GatewayError("invalid_argument", `response_id: "${id}" has already ended (${(await visible(d.responses, id, d.caller)).response.status}); it cannot be cancelled`, { field: "response_id" });
    }
    // Stops the provider call when the run is on this replica; on another, its answer is dropped when it comes.
    d.responses.runs.cancel(id);
    return send(cancelled);
  }
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
    if (query.get("stream") === "true") return streamStored(res as ServerResponse, d.responses, id, query, d.caller, d.signal);
    const r = await visible(d.responses, id, d.caller);
    d.sendJson(res, 200, r.response);
    return 200;
  }
  if (method === "DELETE") {
    await visible(d.responses, id, d.caller);
    if (!(await storeCall(d.responses.store.delete(id), "response"))) throw notFound(id);
    d.sendJson(res, 200, { id, object: "response", deleted: true });
    return 200;
  }
  return allow("GET, DELETE");
}
