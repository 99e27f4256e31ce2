// A response with `mcp` tools (mcp-tool.ts): the gateway lists the servers' tools, offers them to
// the model as functions (`<label>__<tool>`), and runs the calls the model makes itself, turn
// after turn, until the model answers, calls one of the caller's own functions, asks for a call
// that waits for approval, or has made MAX_TURNS turns. The output is OpenAI's:
// `mcp_list_tools` (once per server a conversation, as OpenAI lists them), `mcp_call` (arguments,
// output or error), `mcp_approval_request` (answered by an `mcp_approval_response` input item in
// the next request, which the handler runs before the model is called: `approvedCalls`), and
// the model's own items. Each model turn is its own usage record; each tool call too (the hub's);
// the response's usage and cost are their sums.
//
// Streamed, the events come as each step happens: the list, then every model turn as it streams
// (the Responses stream writer, told which functions are mcp tools, writes their calls as mcp_call
// items), and each call's completed (or failed) once it has run; one sequence across the turns.

import type { McpServerConfig } from "../../config/types.ts";
import type { Answer, EngineEvent, EngineRequest, Summary } from "../../engine/chat-engine.ts";
import type { McpHub } from "../../mcp/hub.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Adjustment, Caller } from "../../router/types.ts";
import { newRequestId, type RequestInfo } from "../../server/context.ts";
import { bad, isObj, type Json } from "../request.ts";
import type { McpToolSpec } from "./mcp-tool.ts";
import { MAX_TURNS, mcpFunctionName, offerTools, runTool, usableServer, type Offered } from "../../mcp/offer.ts";
import { sumUsage } from "../choices.ts";
import { FILE_SEARCH_FUNCTION, type FileSearchSpec, type ResponsesRequest } from "./request.ts";
import type { ToolDef } from "../../providers/types.ts";
import type { SearchHit, VectorStores } from "../../vectors/service.ts";
import { passageBlock } from "../../engine/file-search.ts";
import { itemId, responseJson, responsesStreamWriter, responsesUsage, type ResponseContext } from "./response.ts";


type Exposed = Offered<McpToolSpec>;

/** The MCP servers of a request's mcp tools: configured ones this key may use, or a 400 naming the tool. */
export function resolveServers(hub: McpHub | undefined, caller: Caller, specs: readonly McpToolSpec[]): McpServerConfig[] {
  return specs.map((spec) => {
    if (!hub) bad(`${spec.path}.type`, "mcp tools are not run here (a batch's lines, or a gateway without mcp_servers)");
    const s = usableServer(hub, caller, spec.label) ?? bad(`${spec.path}.server_label`, `no MCP server "${spec.label}" that this key may use (the gateway runs only the MCP servers of its configuration, mcp_servers[])`);
    // Its configured URL, or the gateway's own /mcp/<id> (the built-in vector_stores has only that).
    if (spec.url !== undefined && s.url !== spec.url && !spec.url.replace(/\/+$/, "").endsWith(`/mcp/${s.id}`)) bad(`${spec.path}.server_url`, `is neither the URL of MCP server "${s.id}" nor the gateway's own /mcp/${s.id}; leave server_url out to use it`);
    return s;
  });
}

/** What the events of a streamed response are written through (undefined: unary). */
export interface McpEvents {
  /** The response's sequence numbers, shared with its turns' writers. */
  seq: { n: number };
  /** Write one event, numbered next. */
  emit(type: string, fields: Json): void;
  /** Write SSE text a turn's writer made (numbered from `seq`). */
  write(text: string): void;
}

/** The events of an item that is whole when it is written: a tool list, an approved call. */
function itemEvents(ev: McpEvents, item: Json, index: number): void {
  ev.emit("response.output_item.added", { output_index: index, item: item.type === "mcp_list_tools" ? { ...item, tools: [] } : item });
  if (item.type === "mcp_list_tools") {
    ev.emit("response.mcp_list_tools.in_progress", { item_id: item.id, output_index: index });
    ev.emit("response.mcp_list_tools.completed", { item_id: item.id, output_index: index });
  }
  ev.emit("response.output_item.done", { output_index: index, item });
}

export interface McpTurnDeps {
  /** Absent: the response has no mcp tools (only file_search). */
  hub?: McpHub;
  /** The gateway's vector stores, for the file_search tool. */
  vectors?: VectorStores;
  caller: Caller;
  ri: RequestInfo;
  run: (er: EngineRequest) => Promise<Answer>;
  /** A streamed request's model turns are streamed too (their text token by token). */
  stream?: (er: EngineRequest) => AsyncIterable<EngineEvent>;
  /** The request parsed again with items after its input (the turns so far), under a new record id. */
  reparse(extra: Json[], id: string): ResponsesRequest;
  /** Labels whose tools the conversation already listed (an mcp_list_tools item in its history). */
  listedBefore: ReadonlySet<string>;
  /** Calls run from this request's mcp_approval_response items (approved), before the first turn. */
  approvedCalls: Json[];
}

/** One model turn: what the caller sees, what the next turn sees, the calls to run, and what it used. */
interface Turn {
  response: Json;
  /** The caller's items: the model's, with mcp_call and mcp_approval_request items for its calls of mcp tools. */
  shown: Json[];
  /** The next turn's: the model's own items (function calls with their provider ids and replay state). */
  internal: Json[];
  /** Calls the gateway runs: an mcp tool's (x), or a file search (no x). */
  calls: { x?: Exposed; item: Json; callId: string; index: number; args?: string }[];
  /** The turn ends the response: an approval to wait for, or a call of the caller's own function. */
  stop: boolean;
  /** What the turn used and cost (its usage record's), and how many attempts it made. */
  used: Pick<Summary, "usage" | "cost">;
  attempts: number;
  finishReason?: string;
}

/**
 * Run the turns of a response with mcp tools; returns the whole response. `ev` (a stream) is told
 * each step as it happens. A failure before any output is thrown; after it, the caller writes
 * response.failed with `partial` (the output so far).
 */
export async function runMcpTurns(d: McpTurnDeps, ctx: ResponseContext, er: EngineRequest, parsed: ResponsesRequest, ev: McpEvents | undefined, partial: Json[]): Promise<Json> {
  const servers = parsed.mcp.length ? resolveServers(d.hub, d.caller, parsed.mcp) : [];
  const fs = parsed.fileSearch;
  const search = fs ? await fileSearchOf(d, fs) : undefined;
  const output = partial;
  const push = (item: Json) => {
    output.push(item);
    if (ev) itemEvents(ev, item, output.length - 1);
  };
  for (const item of d.approvedCalls) push(item);
  const own = new Set((parsed.call.request.tools ?? []).map((t) => t.name));
  const { exposed, defs, offered } = parsed.mcp.length ? await offerTools(d.hub!, d.caller, parsed.mcp, servers, own, er.signal, "server_label") : { exposed: new Map<string, Exposed>(), defs: [], offered: [] };
  if (search) defs.push(FILE_SEARCH_TOOL);
  offered.forEach((list, i) => {
    const spec = parsed.mcp[i];
    if (!d.listedBefore.has(spec.label)) {
      push({ id: itemId(ctx, "mcpl", output.length), type: "mcp_list_tools", server_label: spec.label, tools: list.map((t) => ({ name: t.name, description: t.description ?? null, input_schema: t.inputSchema, annotations: t.annotations ?? null })), error: null });
    }
  });

  const used: Pick<Summary, "usage" | "cost">[] = [];
  let attempts = 0;
  // What the later turns see after the request's input: each turn's own items and the results of its calls.
  const turns: Json[] = [];
  let last: Json | undefined;
  // Web search: the first turn searches, the later ones reuse its results.
  const searchMemo = {};
  for (let n = 0; n < MAX_TURNS; n++) {
    const p = n === 0 ? parsed : d.reparse(turns, newRequestId());
    p.call.request.tools = [...(p.call.request.tools ?? []), ...defs];
    if (n === 0 && fs?.firstChoice) p.call.request.toolChoice = fs.firstChoice;
    if (p.call.webSearch) p.call.webSearch = { ...p.call.webSearch, memo: searchMemo };
    const turnEr = { ...er, call: p.call };
    const annotate = search ? (text: string) => search.citations(text) : undefined;
    const t = ev && d.stream ? await streamedTurn(d.stream, turnEr, ctx, exposed, output.length, ev, d.ri.traceId, annotate) : await unaryTurn(d.run, turnEr, ctx, exposed, output.length, search !== undefined);
    last = t.response;
    used.push(t.used);
    attempts += t.attempts;
    output.push(...t.shown);
    if (!ev && search) for (const item of t.shown) if (item.type === "message") annotateMessage(item, search.citations);
    const results: Json[] = [];
    await Promise.all(
      t.calls.map(async (c) => {
        if (!c.x) {
          // The gateway's file_search function: the model's queries searched in the request's stores.
          if (ev) ev.emit("response.file_search_call.searching", { item_id: c.item.id, output_index: c.index });
          const text = await search!.run(c.item, c.args ?? "{}", er.signal);
          results.push({ type: "function_call_output", call_id: c.callId, output: text });
          if (ev) {
            ev.emit(c.item.status === "failed" ? "response.file_search_call.failed" : "response.file_search_call.completed", { item_id: c.item.id, output_index: c.index });
            ev.emit("response.output_item.done", { output_index: c.index, item: c.item });
          }
          return;
        }
        const images = await runCall(d, c.x, c.item, er.signal);
        const text = c.item.error ? `Error: ${c.item.error}` : (c.item.output as string);
        // The result's images go to the model with its text (the mcp_call item carries the text).
        const output = images?.length ? [...(text ? [{ type: "input_text", text }] : []), ...images.map((url) => ({ type: "input_image", image_url: url }))] : text;
        results.push({ type: "function_call_output", call_id: c.callId, output });
        if (ev) {
          ev.emit(c.item.error ? "response.mcp_call.failed" : "response.mcp_call.completed", { item_id: c.item.id, output_index: c.index });
          ev.emit("response.output_item.done", { output_index: c.index, item: c.item });
        }
      }),
    );
    if (er.signal.aborted) throw new GatewayError("canceled", "the caller went away");
    if (t.stop || t.calls.length === 0 || t.finishReason === "length" || t.finishReason === "content_filter") break;
    turns.push(...t.internal, ...results);
  }
  const r = last!;
  const total = sumUsage(used);
  // The searches' embedding (and rerank) requests are records of their own; the response's cost counts them.
  const searchCost = search?.costNanos() ?? 0;
  return { ...r, output, usage: responsesUsage(total.usage), signalbox: { ...(r.signalbox as Json), cost_nano_usd: total.cost.total + searchCost, attempts, ...(search ? { file_search_cost_nano_usd: searchCost } : {}) } };
}

/** The function the model searches the request's vector stores with (the file_search tool). */
const FILE_SEARCH_TOOL: ToolDef = {
  name: FILE_SEARCH_FUNCTION,
  description: "Search the user's uploaded files for passages relevant to the question. Results come with the file's name: cite a file you use by its name in square brackets, as [name].",
  parameters: { type: "object", properties: { queries: { type: "array", items: { type: "string" }, description: "One or more search queries" } }, required: ["queries"] },
};

/** The queries of a file_search call ("[]" when it names none). */
function searchQueries(args: string): string[] {
  try {
    const j = JSON.parse(args) as { queries?: unknown; query?: unknown };
    const list = Array.isArray(j.queries) ? j.queries : typeof j.query === "string" ? [j.query] : [];
    return list.filter((q): q is string => typeof q === "string" && q.trim() !== "").slice(0, 10).map((q) => q.slice(0, 4_000));
  } catch {
    return [];
  }
}

/** What the model reads as a file search's result. */
function resultsText(hits: readonly SearchHit[]): string {
  if (!hits.length) return "The file search found nothing relevant.";
  return `Results of the file search. Cite a file you use by its name in square brackets, as [name].\n\n${hits.map(passageBlock).join("\n\n")}`;
}

interface FileSearchRun {
  /** Search with a call's queries and fill in its item; returns what the model reads. */
  run(item: Json, args: string, signal: AbortSignal): Promise<string>;
  /** The answer's file citations: each `[name]` of a file the searches found. */
  citations(text: string): Json[];
  costNanos(): number;
}

/** The file_search tool of a request: its stores checked before any model turn (a 404 names the one not found). */
async function fileSearchOf(d: McpTurnDeps, fs: FileSearchSpec): Promise<FileSearchRun> {
  const vectors = d.vectors;
  if (!vectors?.enabled()) bad(`${fs.field}.type`, "file_search needs the gateway's vector stores (vector_stores in its configuration)");
  await Promise.all(fs.storeIds.map((id, i) => vectors!.get(d.caller, id, `${fs.field}.vector_store_ids[${i}]`)));
  const found = new Map<string, string>();
  let cost = 0;
  return {
    async run(item, args, signal) {
      const queries = searchQueries(args);
      item.queries = queries;
      if (!queries.length) {
        item.status = "failed";
        return 'The search needs queries (its arguments: {"queries": ["…"]}).';
      }
      try {
        const out = await vectors!.search(d.caller, d.ri, fs.storeIds, queries, { via: "file_search", maxResults: fs.maxResults, ranker: fs.ranker, scoreThreshold: fs.scoreThreshold, ...(fs.filters ? { filters: fs.filters } : {}), ...(fs.keywordWeight !== undefined ? { keywordWeight: fs.keywordWeight } : {}) }, signal);
        cost += out.costNanos;
        for (const h of out.hits) found.set(h.filename, h.file_id);
        item.status = "completed";
        item.results = fs.results ? out.hits.map((h) => ({ file_id: h.file_id, filename: h.filename, score: h.score, text: h.content.map((c) => c.text).join("\n"), attributes: h.attributes ?? {} })) : null;
        return resultsText(out.hits);
      } catch (err) {
        if (signal.aborted) throw err;
        item.status = "failed";
        return `The file search failed (${(err as Error).message}). Answer without it.`;
      }
    },
    citations(text) {
      const out: Json[] = [];
      for (const [filename, fileId] of found) {
        const marker = `[${filename}]`;
        for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + marker.length)) out.push({ type: "file_citation", file_id: fileId, filename, index: at + marker.length });
      }
      return out.sort((a, b) => (a.index as number) - (b.index as number));
    },
    costNanos: () => cost,
  };
}

/** File citations on a message item's text parts (a unary turn's answer). */
function annotateMessage(item: Json, citations: (text: string) => Json[]): void {
  for (const part of (item.content as Json[] | undefined) ?? []) {
    if (part.type !== "output_text") continue;
    const more = citations(String(part.text));
    if (more.length) part.annotations = [...((part.annotations as Json[] | undefined) ?? []), ...more];
  }
}

/** A model turn answered whole (a unary request). */
async function unaryTurn(run: McpTurnDeps["run"], er: EngineRequest, ctx: ResponseContext, exposed: ReadonlyMap<string, Exposed>, base: number, fileSearch: boolean): Promise<Turn> {
  const a = await run(er);
  // Replay state always (the next turn needs Claude's signed thinking and Gemini's call
  // signatures); shown to the caller only when the response keeps it (ctx.replay).
  const response = responseJson({ ...ctx, replay: true }, a, base);
  const internal = response.output as Json[];
  const shown: Json[] = [];
  const calls: Turn["calls"] = [];
  let stop = false;
  for (const item of internal) {
    const index = base + shown.length;
    if (fileSearch && item.type === "function_call" && item.name === FILE_SEARCH_FUNCTION) {
      const call: Json = { id: itemId(ctx, "fs", index), type: "file_search_call", status: "in_progress", queries: [], results: null };
      shown.push(call);
      calls.push({ item: call, callId: item.call_id as string, index, args: String(item.arguments ?? "{}") });
      continue;
    }
    const x = item.type === "function_call" ? exposed.get(item.name as string) : undefined;
    if (!x) {
      if (item.type === "function_call") stop = true; // the caller's own function: the caller runs it
      if (item.type === "reasoning" && !ctx.replay) {
        if ((item.summary as Json[]).length) shown.push({ ...item, encrypted_content: undefined });
      } else shown.push(item);
      continue;
    }
    if (x.spec.needsApproval(x.def)) {
      stop = true;
      shown.push({ id: itemId(ctx, "mcpr", index), type: "mcp_approval_request", server_label: x.spec.label, name: x.tool, arguments: item.arguments });
      continue;
    }
    const call: Json = { id: itemId(ctx, "mcp", index), type: "mcp_call", status: "in_progress", server_label: x.spec.label, name: x.tool, arguments: item.arguments, output: null, error: null, approval_request_id: null };
    shown.push(call);
    calls.push({ x, item: call, callId: item.call_id as string, index });
  }
  return { response, shown, internal, calls, stop, used: a, attempts: a.attempts.length, finishReason: a.finishReason };
}

/** A model turn streamed: its items' events as they come (mcp calls as mcp_call items), through the Responses stream writer. */
async function streamedTurn(stream: NonNullable<McpTurnDeps["stream"]>, er: EngineRequest, ctx: ResponseContext, exposed: ReadonlyMap<string, Exposed>, base: number, ev: McpEvents, traceId: string, annotate?: (text: string) => Json[]): Promise<Turn> {
  let w: ReturnType<typeof responsesStreamWriter> | undefined;
  let routing = { route: "", alias: "", strategy: "", variant: "" };
  let adjustments: Adjustment[] = [];
  let response: Json | undefined;
  let summary: Summary | undefined;
  const mcp = (name: string) => {
    const x = exposed.get(name);
    return x && { label: x.spec.label, tool: x.tool, approval: x.spec.needsApproval(x.def) };
  };
  for await (const e of stream(er)) {
    if (e.type === "start") {
      routing = e.routing;
      adjustments = e.adjustments;
      w = responsesStreamWriter({ ...ctx, replay: true }, e.providerModel || e.model, e.outputGuarded, { base, seq: ev.seq, mcp, ...(annotate ? { fileSearch: FILE_SEARCH_FUNCTION, annotate } : {}) });
    } else if (e.type === "delta") {
      const text = w!.delta(e.events);
      if (text) ev.write(text);
    } else {
      const all = e.summary.adjustments?.length ? [...adjustments, ...e.summary.adjustments] : adjustments;
      response = w!.finish(e.summary, { routing, traceId, adjustments: all });
      ev.write(w!.pending());
      summary = e.summary;
    }
  }
  if (!w || !response || !summary) throw new GatewayError("unavailable", "the model's stream ended without its end");
  const shown = response.output as Json[];
  const byItem = new Map(w.mcpCalls().map((c) => [c.item, c]));
  const internal: Json[] = [];
  const calls: Turn["calls"] = [];
  let stop = false;
  for (const item of shown) {
    const c = byItem.get(item as Json & { id: string; arguments: string });
    if (!c) {
      if (item.type === "function_call") stop = true;
      internal.push(item);
    } else if (c.approval) stop = true;
    else if (c.fileSearch) {
      internal.push({ type: "function_call", call_id: c.callId, name: c.fn, arguments: c.fileSearch.args });
      calls.push({ item: c.item, callId: c.callId, index: c.index, args: c.fileSearch.args });
    } else {
      internal.push({ type: "function_call", call_id: c.callId, name: c.fn, arguments: c.item.arguments });
      calls.push({ x: exposed.get(c.fn)!, item: c.item, callId: c.callId, index: c.index });
    }
  }
  return { response, shown, internal, calls, stop, used: summary, attempts: summary.attempts.length, finishReason: summary.finishReason };
}

/** Run one call and fill in its item: output, or error (a tool's own error, or the server's failure); returns the result's images (data: URLs), which the model is shown. */
async function runCall(d: Pick<McpTurnDeps, "hub" | "caller" | "ri">, x: Pick<Exposed, "server" | "tool">, call: Json, signal: AbortSignal): Promise<string[] | undefined> {
  const r = await runTool(d.hub!, x, call.arguments as string, { caller: d.caller, traceId: d.ri.traceId, otel: d.ri.otel, via: "responses", signal });
  if (r.error !== undefined) {
    call.error = r.error;
    call.status = "failed";
    return undefined;
  }
  call.output = r.output;
  call.status = "completed";
  return r.images;
}

/**
 * This request's mcp_approval_response items, run before the model is called: each names an
 * mcp_approval_request of the conversation (its history); an approved call runs now and becomes an
 * mcp_call of this response's output; the input the model sees has, in place of each answer, the
 * call and its result (or that it was not approved). A 400 names an answer that names no request,
 * or whose server is not among this request's mcp tools.
 */
export async function runApprovals(d: Pick<McpTurnDeps, "hub" | "caller" | "ri">, ctx: ResponseContext, body: Json, history: readonly unknown[], specs: readonly McpToolSpec[], signal: AbortSignal): Promise<{ body: Json; approved: Json[] }> {
  const input = body.input;
  if (!Array.isArray(input) || !input.some((it) => isObj(it) && it.type === "mcp_approval_response")) return { body, approved: [] };
  const requests = new Map<string, Json>();
  for (const h of history) if (isObj(h) && h.type === "mcp_approval_request" && typeof h.id === "string") requests.set(h.id, h);
  for (const it of input) if (isObj(it) && it.type === "mcp_approval_request" && typeof it.id === "string") requests.set(it.id, it);
  const approved: Json[] = [];
  const servers = resolveServers(d.hub, d.caller, specs);
  const replaced: unknown[] = [];
  for (const [i, it] of input.entries()) {
    if (!isObj(it) || it.type !== "mcp_approval_response") {
      replaced.push(it);
      continue;
    }
    const path = `input[${i}]`;
    const rid = typeof it.approval_request_id === "string" ? it.approval_request_id : bad(`${path}.approval_request_id`, "is required");
    if (typeof it.approve !== "boolean") bad(`${path}.approve`, "is required (true or false)");
    const req = requests.get(rid) ?? bad(`${path}.approval_request_id`, `names no mcp_approval_request of this conversation ("${rid}")`);
    const at = specs.findIndex((s) => s.label === req.server_label);
    if (at < 0) bad(`${path}.approval_request_id`, `asks for a call on MCP server "${String(req.server_label)}", which is not among this request's mcp tools`);
    const spec = specs[at];
    const tool = String(req.name);
    const name = mcpFunctionName(spec.label, tool);
    const args = typeof req.arguments === "string" ? req.arguments : "{}";
    let text: string;
    if (it.approve) {
      // The approved calls lead the response's output (runMcpTurns): their ids count from 0.
      const call: Json = { id: itemId(ctx, "mcp", approved.length), type: "mcp_call", status: "in_progress", server_label: spec.label, name: tool, arguments: args, output: null, error: null, approval_request_id: rid };
      await runCall(d, { server: servers[at], tool }, call, signal);
      approved.push(call);
      text = call.error ? `Error: ${call.error}` : String(call.output);
    } else {
      text = `The user did not approve this call of ${tool}${typeof it.reason === "string" && it.reason ? `: ${it.reason}` : "."}`;
    }
    replaced.push({ type: "function_call", call_id: rid, name, arguments: args }, { type: "function_call_output", call_id: rid, output: text });
  }
  return { body: { ...body, input: replaced }, approved };
}

