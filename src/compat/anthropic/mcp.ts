// Anthropic's MCP connector (`mcp_servers`) on the Messages API, for any model behind the gateway:
// the named servers (servers of the gateway's configuration) have their tools offered to the
// model as functions (`<server>__<tool>`), and the gateway runs the calls the model makes, turn
// after turn, within one message, as Anthropic does: each call is an `mcp_tool_use` block followed
// by its `mcp_tool_result`, then the model goes on. The message ends when the model answers, calls
// one of the request's own tools (a `tool_use` block, stop_reason tool_use, as without servers), or
// has made MAX_TURNS turns. Each model turn is its own usage record, each call too (the hub's); the
// message's usage is their sum. Streamed, every turn streams as it comes, one block index across them.

import { ServerResponse } from "node:http";
import type { McpServerConfig } from "../../config/types.ts";
import type { Answer, EngineRequest, Summary } from "../../engine/chat-engine.ts";
import type { McpHub } from "../../mcp/hub.ts";
import { MAX_TURNS, offerTools, runTool, usableServer, type Offered } from "../../mcp/offer.ts";
import { sumUsage } from "../choices.ts";
import type { ChatMessage, ReasoningBlock, StreamEvent, ToolCall } from "../../providers/types.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Caller } from "../../router/types.ts";
import { newRequestId, type RequestInfo } from "../../server/context.ts";
import { coalesceWrites } from "../../server/http.ts";
import type { Res } from "../door.ts";
import { bad } from "../request.ts";
import type { McpServerSpec, MessagesRequest } from "./request.ts";
import { messageId, messageJson, messageStreamWriter, searchUsage, stopReason, usageJson } from "./response.ts";
import { errorEvent, toAnthropicError } from "./errors.ts";


export interface McpMessageDeps {
  hub?: McpHub;
  caller: Caller;
  ri: RequestInfo;
  signal: AbortSignal;
  complete(er: EngineRequest): Promise<Answer>;
  stream(er: EngineRequest): AsyncIterable<import("../../engine/chat-engine.ts").EngineEvent>;
  sendJson(res: Res, status: number, body: unknown, headers?: Record<string, string>): void;
}

/** The configured server each spec names (by name; its URL must be the server's, or the gateway's own /mcp/{server}), or a 400. */
function resolve(hub: McpHub | undefined, caller: Caller, specs: readonly McpServerSpec[]): McpServerConfig[] {
  return specs.map((spec) => {
    if (!hub) bad(`${spec.path}`, "this gateway has no MCP servers (mcp_servers in its configuration)");
    const s = usableServer(hub, caller, spec.label) ?? bad(`${spec.path}.name`, `no MCP server "${spec.label}" that this key may use (the gateway runs only the MCP servers of its configuration)`);
    const url = spec.url.replace(/\/+$/, "");
    if (url !== s.url?.replace(/\/+$/, "") && !url.endsWith(`/mcp/${s.id}`)) bad(`${spec.path}.url`, `is neither the URL of MCP server "${s.id}" nor the gateway's own /mcp/${s.id}`);
    return s;
  });
}

type Exposed = Offered<McpServerSpec>;

/** One model turn as the next turn reads it: the model's message (text, calls, replay state) and the results of its MCP calls. */
function continuation(text: string, calls: readonly ToolCall[], blocks: readonly ReasoningBlock[] | undefined, results: readonly Result[]): ChatMessage[] {
  const msg: ChatMessage = { role: "assistant", content: text ? [{ type: "text", text }] : [], toolCalls: [...calls] };
  if (blocks?.length) msg.reasoningBlocks = [...blocks];
  return [
    msg,
    ...results.map(
      (r): ChatMessage => ({
        role: "tool",
        toolCallId: r.id,
        name: r.fn,
        content: [...(r.text ? [{ type: "text" as const, text: r.text }] : []), ...r.images.map((url) => ({ type: "image" as const, url }))],
        ...(r.isError ? { isError: true } : {}),
      }),
    ),
  ];
}

/** A call's result: its text (or error) and its images (data: URLs). */
interface Result {
  id: string;
  fn: string;
  text: string;
  isError: boolean;
  images: string[];
}

/** An mcp_tool_result's content blocks: the text, then the images as base64 image blocks. */
function resultContent(r: Result): Record<string, unknown>[] {
  const images = r.images.map((url) => {
    const m = /^data:([^;]+);base64,(.*)$/s.exec(url)!;
    return { type: "image", source: { type: "base64", media_type: m[1], data: m[2] } };
  });
  return [...(r.text || images.length === 0 ? [{ type: "text", text: r.text }] : []), ...images];
}

/** Serve a Messages request with mcp_servers; returns the HTTP status sent. Errors before the first byte are thrown. */
export async function serveWithMcp(res: Res, d: McpMessageDeps, parsed: MessagesRequest, er: EngineRequest, common: Record<string, string>): Promise<number> {
  const servers = resolve(d.hub, d.caller, parsed.mcp);
  const own = new Set((parsed.call.request.tools ?? []).map((t) => t.name));
  const { exposed, defs } = await offerTools(d.hub!, d.caller, parsed.mcp, servers, own, d.signal, "name");
  const stop = parsed.call.request.stop;
  const base = parsed.call.request.messages;
  /** What each model turn used; the message's usage is their sum. */
  const used: Pick<Summary, "usage" | "cost">[] = [];
  const extra: ChatMessage[] = [];
  // Web search: the first turn searches, the later ones reuse its results.
  const webSearch = parsed.call.webSearch && { ...parsed.call.webSearch, memo: {} };
  const turnCall = (n: number) => ({ ...er, call: { ...parsed.call, ...(webSearch ? { webSearch } : {}), id: n === 0 ? parsed.call.id : newRequestId(), request: { ...parsed.call.request, messages: [...base, ...extra], tools: [...(parsed.call.request.tools ?? []), ...defs] } } });
  const run = async (x: Exposed, c: ToolCall): Promise<Result> => {
    const r = await runTool(d.hub!, x, c.arguments, { caller: d.caller, traceId: d.ri.traceId, otel: d.ri.otel, via: "messages", signal: d.signal });
    return { id: c.id, fn: c.name, text: r.error !== undefined ? r.error : (r.output ?? ""), isError: r.error !== undefined, images: r.images ?? [] };
  };

  if (!parsed.call.stream) {
    const content: Record<string, unknown>[] = [];
    let last: Answer | undefined;
    let searched: Answer["webSearch"];
    for (let n = 0; n < MAX_TURNS; n++) {
      const a = await d.complete(turnCall(n));
      last = a;
      searched ??= a.webSearch;
      used.push(a);
      const m = messageJson(a, stop);
      const mine = a.toolCalls.filter((c) => exposed.has(c.name));
      const results = await Promise.all(mine.map((c) => run(exposed.get(c.name)!, c)));
      for (const b of m.content) {
        const x = b.type === "tool_use" ? exposed.get(b.name as string) : undefined;
        if (!x) {
          content.push(b);
          continue;
        }
        content.push({ type: "mcp_tool_use", id: b.id, name: x.tool, server_name: x.spec.label, input: b.input });
        const r = results.find((y) => y.id === b.id)!;
        content.push({ type: "mcp_tool_result", tool_use_id: r.id, is_error: r.isError, content: resultContent(r) });
      }
      if (d.signal.aborted) throw new GatewayError("canceled", "the caller went away");
      if (mine.length === 0 || mine.length < a.toolCalls.length || a.finishReason !== "tool_calls") break;
      extra.push(...continuation(a.text, a.toolCalls, a.reasoningBlocks, results));
    }
    const a = last!;
    d.sendJson(res, 200, { id: messageId(d.ri.id), type: "message", role: "assistant", model: a.providerModel || a.model, content, ...stopReason(a, stop), usage: { ...usageJson(sumUsage(used).usage), ...searchUsage(searched) } }, { ...common, "x-signalbox-deployment": a.deployment });
    return 200;
  }

  const out = res as ServerResponse;
  let w: ReturnType<typeof messageStreamWriter> | undefined;
  const mcp = (name: string) => {
    const x = exposed.get(name);
    return x && { server: x.spec.label, tool: x.tool };
  };
  try {
    let last: Summary | undefined;
    for (let n = 0; n < MAX_TURNS; n++) {
      // What the turn said, for the next one: its text, calls and signed thinking.
      let text = "";
      const calls = new Map<number, ToolCall>();
      const blocks: ReasoningBlock[] = [];
      let blockText = "";
      const collect = (events: readonly StreamEvent[]) => {
        for (const e of events) {
          if (e.type === "text") text += e.text;
          else if (e.type === "reasoning") blockText += e.text;
          else if (e.type === "reasoning_signature") {
            blocks.push({ text: blockText, signature: e.signature });
            blockText = "";
          } else if (e.type === "reasoning_redacted") blocks.push({ text: "", redacted: e.data });
          else if (e.type === "tool_call_start") calls.set(e.index, { id: e.id, name: e.name, arguments: "", ...(e.signature ? { signature: e.signature } : {}) });
          else if (e.type === "tool_call_delta") {
            const c = calls.get(e.index);
            if (c && e.argumentsDelta) c.arguments += e.argumentsDelta;
          }
        }
      };
      for await (const ev of d.stream(turnCall(n))) {
        if (ev.type === "start") {
          if (!w) {
            if (res instanceof ServerResponse) coalesceWrites(res);
            out.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...common, "x-signalbox-deployment": ev.deployment });
            w = messageStreamWriter(d.ri.id, ev.providerModel || ev.model, stop, mcp);
            out.write(w.start());
            if (ev.webSearch) out.write(w.searched(ev.webSearch));
          }
        } else if (ev.type === "delta") {
          collect(ev.events);
          const t = w!.delta(ev.events);
          if (t) out.write(t);
        } else {
          last = ev.summary;
          used.push(ev.summary);
          out.write(w!.endTurn());
        }
      }
      if (blockText) blocks.push({ text: blockText });
      const all = [...calls.values()];
      const mine = all.filter((c) => exposed.has(c.name));
      const results = await Promise.all(mine.map((c) => run(exposed.get(c.name)!, c)));
      for (const r of results) out.write(w!.mcpResult(r.id, r.isError, resultContent(r)));
      if (d.signal.aborted) throw new GatewayError("canceled", "the caller went away");
      if (mine.length === 0 || mine.length < all.length || last?.finishReason !== "tool_calls") break;
      extra.push(...continuation(text, all, blocks, results));
    }
    res.end(w!.finish({ ...last!, usage: sumUsage(used).usage }));
    return 200;
  } catch (err) {
    if (!w) throw err;
    const e = toAnthropicError(err, d.ri.id);
    if (!d.signal.aborted) res.end(errorEvent(e));
    return e.status;
  }
}
