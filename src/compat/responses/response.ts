// The engine's answers and stream events in the OpenAI Responses API's shapes: the response object
// (output items: reasoning, message, function_call) and the typed SSE event sequence, every event
// numbered by sequence_number. Errors use the OpenAI error shape of ../response.ts.

import type { Answer, Summary } from "../../engine/chat-engine.ts";
import { searchesOf, type Citation, type Searched } from "../../engine/web-search.ts";
import type { FinishReason, ReasoningBlock, StreamEvent, TokenLogprob, ToolCall, Usage } from "../../providers/types.ts";
import { extension, toOpenAIError } from "../response.ts";
import type { ResponsesEcho } from "./request.ts";

type Json = Record<string, unknown>;
type Status = "completed" | "incomplete";
type Extras = { routing: Answer["routing"]; traceId: string; adjustments: Answer["adjustments"] };

/** The response id for a gateway request id ("req_abc" → "resp_abc"); x-request-id keeps the original. */
export const responseId = (requestId: string) => `resp_${requestId.replace(/^req_/, "")}`;

/** What identifies one response: its id, when it was asked for, and the request settings it echoes. */
export interface ResponseContext {
  id: string;
  createdAt: number;
  echo: ResponsesEcho;
  /** The response this one continues. */
  previousResponseId?: string;
  /** The conversation it reads and adds to. */
  conversationId?: string;
  /** Run in the background (answered at once, read back by id). */
  background?: boolean;
  /** Whether it is to be stored (then retrievable by id, and continued by previous_response_id). */
  store: boolean;
  /**
   * Whether reasoning items carry the provider's replay state as `encrypted_content` (stored
   * responses always; otherwise when `include` asks for reasoning.encrypted_content).
   */
  replay?: boolean;
}

/** What marks replay state made here (anything else in encrypted_content is another gateway's, and dropped). */
const REPLAY_PREFIX = "sbx1.";

/** Replay state: the reasoning blocks with their signatures (Anthropic), and tool calls' signatures by call id (Gemini). */
export interface ReplayState {
  blocks?: ReasoningBlock[];
  calls?: Record<string, string>;
}

/**
 * The replay state of an answer as an opaque `encrypted_content` string, or undefined when there is
 * none to replay (no signed or redacted block, no signed call). It is not encrypted: it holds only
 * what the caller saw (the reasoning text) and the provider's signatures, which the provider checks.
 */
export function encodeReplay(blocks: readonly ReasoningBlock[] | undefined, calls: readonly Pick<ToolCall, "id" | "signature">[]): string | undefined {
  const signed = blocks?.some((b) => b.signature !== undefined || b.redacted !== undefined) ? blocks : undefined;
  let sigs: Record<string, string> | undefined;
  for (const c of calls) if (c.signature) (sigs ??= {})[c.id] = c.signature;
  if (!signed && !sigs) return undefined;
  const state: ReplayState = { ...(signed ? { blocks: signed.map((b) => ({ text: b.text, ...(b.signature !== undefined ? { signature: b.signature } : {}), ...(b.redacted !== undefined ? { redacted: b.redacted } : {}) })) } : {}), ...(sigs ? { calls: sigs } : {}) };
  return REPLAY_PREFIX + Buffer.from(JSON.stringify(state)).toString("base64url");
}

/** Replay state made by encodeReplay, or undefined for anything else (checked field by field). */
export function decodeReplay(v: unknown): ReplayState | undefined {
  if (typeof v !== "string" || !v.startsWith(REPLAY_PREFIX)) return undefined;
  let s: unknown;
  try {
    s = JSON.parse(Buffer.from(v.slice(REPLAY_PREFIX.length), "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!s || typeof s !== "object") return undefined;
  const { blocks, calls } = s as Record<string, unknown>;
  const out: ReplayState = {};
  if (Array.isArray(blocks)) {
    const ok = blocks.every((b) => b && typeof b === "object" && typeof b.text === "string" && (b.signature === undefined || typeof b.signature === "string") && (b.redacted === undefined || typeof b.redacted === "string"));
    if (ok) out.blocks = blocks as ReasoningBlock[];
  }
  if (calls && typeof calls === "object" && !Array.isArray(calls) && Object.values(calls).every((x) => typeof x === "string")) out.calls = calls as Record<string, string>;
  return out.blocks || out.calls ? out : undefined;
}

/** An answer's blocks, when they are the reasoning it returns (an output guardrail that changed the text leaves none to replay). */
const intactBlocks = (a: Pick<Answer, "reasoning" | "reasoningBlocks">) => (a.reasoningBlocks?.length && a.reasoningBlocks.map((b) => b.text).join("") === (a.reasoning ?? "") ? a.reasoningBlocks : undefined);

/** Response usage; cache writes are Anthropic's (the only provider that reports them), 0 elsewhere. */
export function responsesUsage(u: Usage) {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens, cache_write_tokens: u.cacheWriteTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** Cut short by the output cap or a content filter: "incomplete", with the reason; otherwise "completed". */
function outcome(f: FinishReason | undefined): { status: Status; incomplete_details: { reason: string } | null } {
  if (f === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (f === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** The response object around its output, in the field order OpenAI sends. */
function envelope(ctx: ResponseContext, model: string, status: string, output: Json[], rest: Json = {}): Json {
  const e = ctx.echo;
  return {
    id: ctx.id,
    object: "response",
    created_at: ctx.createdAt,
    status,
    background: ctx.background === true,
    error: null,
    incomplete_details: null,
    instructions: e.instructions,
    max_output_tokens: e.max_output_tokens,
    max_tool_calls: null,
    model,
    output,
    parallel_tool_calls: e.parallel_tool_calls,
    previous_response_id: ctx.previousResponseId ?? null,
    prompt_cache_key: e.prompt_cache_key,
    reasoning: e.reasoning,
    safety_identifier: e.safety_identifier,
    service_tier: "default",
    store: ctx.store,
    temperature: e.temperature,
    text: e.text,
    tool_choice: e.tool_choice,
    tools: e.tools,
    top_logprobs: e.top_logprobs,
    top_p: e.top_p,
    truncation: e.truncation,
    usage: null,
    ...(e.user !== undefined ? { user: e.user } : {}),
    metadata: e.metadata,
    ...(ctx.conversationId ? { conversation: { id: ctx.conversationId } } : {}),
    ...(e.prompt ? { prompt: e.prompt } : {}),
    ...rest,
  };
}

/** A response not yet answered (a background one, queued or in progress, or cancelled before its end). */
export const pendingJson = (ctx: ResponseContext, model: string, status: "queued" | "in_progress" | "cancelled"): Json => envelope(ctx, model, status, []);

/** A response that failed: its error in the Responses API's terms, with what output there was. */
export function failedJson(ctx: ResponseContext, model: string, err: unknown, output: Json[] = []): Json {
  const e = toOpenAIError(err).body.error;
  return envelope(ctx, model, "failed", output, { error: { code: e.code === "rate_limit_exceeded" ? "rate_limit_exceeded" : "server_error", message: e.message } });
}

/** Item ids: the response's own suffix, a kind prefix and the output index (unique within the response). */
export const itemId = (ctx: ResponseContext, prefix: string, index: number) => `${prefix}_${ctx.id.slice("resp_".length)}_${index}`;

const reasoningItem = (id: string, text: string, state?: string): Json => ({ id, type: "reasoning", summary: text ? [{ type: "summary_text", text }] : [], ...(state ? { encrypted_content: state } : {}) });
/** Token log probabilities as an output_text part carries them (bytes always an array). */
const partLogprobs = (lp: readonly TokenLogprob[] | undefined): Json[] =>
  (lp ?? []).map((t) => ({ token: t.token, bytes: t.bytes ?? [], logprob: t.logprob, top_logprobs: t.top.map((a) => ({ token: a.token, bytes: a.bytes ?? [], logprob: a.logprob })) }));
/** As a response.output_text.delta event carries them (no bytes). */
const deltaLogprobs = (lp: readonly TokenLogprob[]): Json[] =>
  lp.map((t) => ({ token: t.token, logprob: t.logprob, top_logprobs: t.top.map((a) => ({ token: a.token, logprob: a.logprob })) }));
const textPart = (text: string, lp?: readonly TokenLogprob[], cs?: readonly Citation[]): Json => ({ type: "output_text", annotations: cs ? urlCitations(cs) : [], logprobs: partLogprobs(lp), text });
/** Web search's citations as the Responses API's url_citation annotations. */
const urlCitations = (cs: readonly Citation[]): Json[] => cs.map((c) => ({ type: "url_citation", start_index: c.startIndex, end_index: c.endIndex, url: c.url, title: c.title }));
const refusalPart = (refusal: string): Json => ({ type: "refusal", refusal });
/** The gateway's web search as the hosted web_search tool's item: what was searched, and the results' addresses. */
const webSearchItem = (id: string, w: Pick<Searched, "query" | "results" | "failed">): Json => ({
  id,
  type: "web_search_call",
  status: w.failed ? "failed" : "completed",
  action: { type: "search", query: w.query, sources: w.results.map((r) => ({ type: "url", url: r.url })) },
});
const messageItem = (id: string, status: string, content: Json[]): Json => ({ id, type: "message", status, content, role: "assistant" });
const callItem = (id: string, status: string, c: Pick<ToolCall, "id" | "name" | "arguments">): Json => ({ id, type: "function_call", status, arguments: c.arguments, call_id: c.id, name: c.name });

/** A whole answer as a response object. */
export function responseJson(ctx: ResponseContext, a: Answer, firstIndex = 0): Json {
  const { status, incomplete_details } = outcome(a.finishReason);
  const output: Json[] = [];
  // Item ids count from firstIndex: a later model turn of one response (mcp-loop.ts) continues its numbering.
  const at = () => firstIndex + output.length;
  const state = ctx.replay ? encodeReplay(intactBlocks(a), a.toolCalls) : undefined;
  // The search came first (the gateway searches before the model).
  // One web_search_call item per search the model made, each with its own query and sources.
  if (a.webSearch) for (const one of searchesOf(a.webSearch)) output.push(webSearchItem(itemId(ctx, "ws", at()), one));
  if (a.reasoning || state) output.push(reasoningItem(itemId(ctx, "rs", at()), a.reasoning ?? "", state));
  if (a.text || a.refusal) {
    const content = [...(a.text ? [textPart(a.text, a.logprobs, a.citations)] : []), ...(a.refusal ? [refusalPart(a.refusal)] : [])];
    output.push(messageItem(itemId(ctx, "msg", at()), status, content));
  }
  for (const c of a.toolCalls) output.push(callItem(itemId(ctx, "fc", at()), "completed", c));
  return envelope(ctx, a.providerModel || a.model, status, output, {
    incomplete_details,
    completed_at: Math.floor(Date.now() / 1000),
    usage: responsesUsage(a.usage),
    signalbox: extension(a, a),
  });
}

/** The item being written: text and refusals go into a message, reasoning into its summary. */
type Open =
  | { kind: "message"; index: number; item: Json & { id: string; content: Json[] }; part?: Json & { type: string } }
  | { kind: "reasoning"; index: number; item: Json & { id: string }; text: string; blocks: ReasoningBlock[]; blockText: string }
  | { kind: "call"; index: number; item: Json & { id: string; arguments: string } }
  | { kind: "mcp"; index: number; item: Json & { id: string; arguments: string }; call: McpStreamCall };

/** A call of an mcp tool as a stream shows it (mcp-loop.ts): an mcp_call, or an mcp_approval_request. */
export interface McpStreamCall {
  /** The provider's call id and the function name the model called. */
  callId: string;
  fn: string;
  approval: boolean;
  /** A call of the gateway's file_search function: a file_search_call item, its arguments kept here. */
  fileSearch?: { args: string };
  index: number;
  item: Json & { id: string; arguments: string };
}

/** Options of a stream writer that writes one model turn of a longer response (mcp-loop.ts). */
export interface TurnOptions {
  /** The output index (and item id number) of the turn's first item. */
  base: number;
  /** The response's sequence numbers, shared by its turns. */
  seq: { n: number };
  /** Whether a function is an mcp tool's, and whether its calls wait for approval. */
  mcp(name: string): { label: string; tool: string; approval: boolean } | undefined;
  /** The name of the gateway's file_search function, when the response has the file_search tool. */
  fileSearch?: string;
  /** Annotations of the answer's text besides web citations (file citations), added when its part closes. */
  annotate?(text: string): Json[];
}

/**
 * The typed event stream of one response, as SSE text. Items open in the order their content
 * arrives and each is closed (its .done events) when the next one opens or the stream ends, as
 * OpenAI sends them; the terminal event carries the whole response with usage. With replay
 * (ctx.replay, and no output guardrail reordering or changing the text: `outputGuarded`), a
 * reasoning item carries its blocks' signatures as encrypted_content when it closes, and the
 * calls' signatures come in a reasoning item of their own at the end.
 */
export function responsesStreamWriter(ctx: ResponseContext, model: string, outputGuarded = false, turn?: TurnOptions) {
  const replay = ctx.replay === true && !outputGuarded;
  const base = turn?.base ?? 0;
  const counter = turn?.seq ?? { n: 0 };
  /** This turn's calls of mcp tools. */
  const mcpCalls: McpStreamCall[] = [];
  /** Signed tool calls (Gemini thought signatures), by call id. */
  const signedCalls: { id: string; signature: string }[] = [];
  const output: Json[] = [];
  /** The engine's tool call index → its function_call item. */
  const calls = new Map<number, Extract<Open, { kind: "call" | "mcp" }>>();
  let open: Open | undefined;
  let out = "";

  const emit = (type: string, fields: Json) => {
    out += `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: counter.n++ })}\n\n`;
  };
  const take = () => {
    const s = out;
    out = "";
    return s;
  };

  function closePart(o: Extract<Open, { kind: "message" }>) {
    const part = o.part;
    if (!part) return;
    const at = { item_id: o.item.id, output_index: o.index, content_index: o.item.content.length - 1 };
    if (part.type === "output_text") emit("response.output_text.done", { ...at, text: part.text, logprobs: part.logprobs });
    else emit("response.refusal.done", { ...at, refusal: part.refusal });
    emit("response.content_part.done", { ...at, part });
    o.part = undefined;
  }

  function close(status: string) {
    const o = open;
    if (!o) return;
    open = undefined;
    if (o.kind === "message") {
      closePart(o);
      o.item.status = status;
    } else if (o.kind === "reasoning") {
      const at = { item_id: o.item.id, output_index: o.index, summary_index: 0 };
      emit("response.reasoning_summary_text.done", { ...at, text: o.text });
      emit("response.reasoning_summary_part.done", { ...at, part: { type: "summary_text", text: o.text } });
      o.item.summary = [{ type: "summary_text", text: o.text }];
      if (replay) {
        if (o.blockText) o.blocks.push({ text: o.blockText });
        const state = encodeReplay(o.blocks, []);
        if (state) o.item.encrypted_content = state;
      }
    } else if (o.kind === "mcp") {
      // A file search or an mcp_call is done when the loop has run it (mcp-loop.ts); an approval request is whole now.
      if (o.call.fileSearch) return;
      if (!o.call.approval) {
        emit("response.mcp_call_arguments.done", { item_id: o.item.id, output_index: o.index, arguments: o.item.arguments });
        return;
      }
    } else {
      emit("response.function_call_arguments.done", { item_id: o.item.id, output_index: o.index, arguments: o.item.arguments });
      o.item.status = status;
    }
    emit("response.output_item.done", { output_index: o.index, item: o.item });
  }

  function add<T extends Open>(o: T): T {
    close("completed");
    output.push(o.item);
    emit("response.output_item.added", { output_index: o.index, item: o.item });
    open = o;
    return o;
  }

  function message(partType: "output_text" | "refusal"): Extract<Open, { kind: "message" }> {
    let o = open?.kind === "message" ? open : undefined;
    if (!o) {
      const index = base + output.length;
      o = add({ kind: "message", index, item: messageItem(itemId(ctx, "msg", index), "in_progress", []) as Json & { id: string; content: Json[] } });
    }
    if (o.part?.type !== partType) {
      closePart(o);
      const part = (partType === "output_text" ? textPart("") : refusalPart("")) as Json & { type: string };
      o.item.content.push(part);
      o.part = part;
      emit("response.content_part.added", { item_id: o.item.id, output_index: o.index, content_index: o.item.content.length - 1, part });
    }
    return o;
  }

  function reasoning(): Extract<Open, { kind: "reasoning" }> {
    if (open?.kind === "reasoning") return open;
    const index = base + output.length;
    const o = add({ kind: "reasoning", index, item: { id: itemId(ctx, "rs", index), type: "reasoning", summary: [] }, text: "", blocks: [], blockText: "" });
    emit("response.reasoning_summary_part.added", { item_id: o.item.id, output_index: index, summary_index: 0, part: { type: "summary_text", text: "" } });
    return o;
  }

  /** The output with what is still open as it stands (a failed stream's partial answer). */
  const snapshot = (itemStatus: string): Json[] =>
    output.map((item) => {
      const copy: Json = { ...item };
      if (copy.status === "in_progress") copy.status = itemStatus;
      if (open?.kind === "reasoning" && item === open.item) copy.summary = [{ type: "summary_text", text: open.text }];
      return copy;
    });

  return {
    /** response.created and response.in_progress: the first bytes of the stream. */
    start(): string {
      const r = envelope(ctx, model, "in_progress", []);
      emit("response.created", { response: r });
      emit("response.in_progress", { response: r });
      return take();
    },

    /** The web search made before the model: its web_search_call item, whole, with the hosted tool's events. */
    searched(w: Searched): string {
      close("completed");
      for (const one of searchesOf(w)) {
        const index = base + output.length;
        const item = webSearchItem(itemId(ctx, "ws", index), one);
        output.push(item);
        const at = { output_index: index, item_id: item.id };
        emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress" } });
        emit("response.web_search_call.in_progress", at);
        emit("response.web_search_call.searching", at);
        emit("response.web_search_call.completed", at);
        emit("response.output_item.done", { output_index: index, item });
      }
      return take();
    },

    delta(events: StreamEvent[]): string {
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        switch (e.type) {
          case "text": {
            const o = message("output_text");
            o.part!.text += e.text;
            // The text's token probabilities travel with it (the event right after it).
            const next = events[i + 1];
            const lp = next?.type === "logprobs" ? next.content : undefined;
            if (lp) {
              i++;
              (o.part!.logprobs as Json[]).push(...partLogprobs(lp));
            }
            emit("response.output_text.delta", { item_id: o.item.id, output_index: o.index, content_index: o.item.content.length - 1, delta: e.text, logprobs: lp ? deltaLogprobs(lp) : [] });
            break;
          }
          case "logprobs": {
            // Probabilities without text of their own: kept with the text part being written.
            if (open?.kind === "message" && open.part?.type === "output_text") (open.part.logprobs as Json[]).push(...partLogprobs(e.content));
            break;
          }
          case "refusal": {
            const o = message("refusal");
            o.part!.refusal += e.text;
            emit("response.refusal.delta", { item_id: o.item.id, output_index: o.index, content_index: o.item.content.length - 1, delta: e.text });
            break;
          }
          case "reasoning": {
            const o = reasoning();
            o.text += e.text;
            o.blockText += e.text;
            emit("response.reasoning_summary_text.delta", { item_id: o.item.id, output_index: o.index, summary_index: 0, delta: e.text });
            break;
          }
          case "reasoning_signature": {
            // The end of a thinking block: the text since the last one is what it signs.
            if (!replay) break;
            const o = reasoning();
            o.blocks.push({ text: o.blockText, signature: e.signature });
            o.blockText = "";
            break;
          }
          case "reasoning_redacted": {
            if (!replay) break;
            const o = reasoning();
            if (o.blockText) o.blocks.push({ text: o.blockText });
            o.blocks.push({ text: "", redacted: e.data });
            o.blockText = "";
            break;
          }
          case "tool_call_start": {
            if (replay && e.signature) signedCalls.push({ id: e.id, signature: e.signature });
            const index = base + output.length;
            if (turn?.fileSearch !== undefined && e.name === turn.fileSearch) {
              const item = { id: itemId(ctx, "fs", index), type: "file_search_call", status: "in_progress", queries: [], results: null } as unknown as Json & { id: string; arguments: string };
              const call: McpStreamCall = { callId: e.id, fn: e.name, approval: false, index, item, fileSearch: { args: "" } };
              mcpCalls.push(call);
              calls.set(e.index, add({ kind: "mcp", index, item, call }));
              emit("response.file_search_call.in_progress", { item_id: item.id, output_index: index });
              break;
            }
            const m = turn?.mcp(e.name);
            if (m) {
              const item = (
                m.approval
                  ? { id: itemId(ctx, "mcpr", index), type: "mcp_approval_request", server_label: m.label, name: m.tool, arguments: "" }
                  : { id: itemId(ctx, "mcp", index), type: "mcp_call", status: "in_progress", server_label: m.label, name: m.tool, arguments: "", output: null, error: null, approval_request_id: null }
              ) as Json & { id: string; arguments: string };
              const call: McpStreamCall = { callId: e.id, fn: e.name, approval: m.approval, index, item };
              mcpCalls.push(call);
              calls.set(e.index, add({ kind: "mcp", index, item, call }));
              if (!m.approval) emit("response.mcp_call.in_progress", { item_id: item.id, output_index: index });
              break;
            }
            const item = callItem(itemId(ctx, "fc", index), "in_progress", { id: e.id, name: e.name, arguments: "" }) as Json & { id: string; arguments: string };
            calls.set(e.index, add({ kind: "call", index, item }));
            break;
          }
          case "tool_call_delta": {
            const o = calls.get(e.index);
            if (!o || !e.argumentsDelta) break;
            if (o.kind === "mcp" && o.call.fileSearch) {
              o.call.fileSearch.args += e.argumentsDelta;
              break;
            }
            o.item.arguments += e.argumentsDelta;
            if (o.kind === "mcp") {
              if (!o.call.approval) emit("response.mcp_call_arguments.delta", { item_id: o.item.id, output_index: o.index, delta: e.argumentsDelta });
            } else emit("response.function_call_arguments.delta", { item_id: o.item.id, output_index: o.index, delta: e.argumentsDelta });
            break;
          }
          default:
            break;
        }
      }
      return take();
    },

    /**
     * Close what is open (its .done events wait for ended()), and the whole response with usage:
     * what the stream's last event carries, and what is stored.
     */
    finish(s: Summary, extras: Extras): Json {
      const { status, incomplete_details } = outcome(s.finishReason);
      // Web search's citations, known at the end: on the text part still open, each announced.
      const o = open;
      const more = turn?.annotate && o?.kind === "message" && o.part?.type === "output_text" ? turn.annotate(String(o.part.text)) : [];
      if ((s.citations?.length || more.length) && o?.kind === "message" && o.part?.type === "output_text") {
        const at = { item_id: o.item.id, output_index: o.index, content_index: o.item.content.length - 1 };
        const annotations = [...urlCitations(s.citations ?? []), ...more];
        o.part.annotations = annotations;
        annotations.forEach((annotation, annotation_index) => emit("response.output_text.annotation.added", { ...at, annotation_index, annotation }));
      }
      close(status);
      const calls = signedCalls.length ? encodeReplay(undefined, signedCalls) : undefined;
      if (calls) {
        const index = base + output.length;
        const item = reasoningItem(itemId(ctx, "rs", index), "", calls);
        output.push(item);
        emit("response.output_item.added", { output_index: index, item: { ...item, encrypted_content: undefined } });
        emit("response.output_item.done", { output_index: index, item });
      }
      return envelope(ctx, s.providerModel || model, status, output, {
        incomplete_details,
        completed_at: Math.floor(Date.now() / 1000),
        usage: responsesUsage(s.usage),
        signalbox: extension(s, extras),
      });
    },

    /** This turn's calls of mcp tools, in the order the model made them (a turn of mcp-loop.ts). */
    mcpCalls: (): readonly McpStreamCall[] => mcpCalls,
    /** Events written but not yet taken (finish's closing events, when a turn ends without ended()). */
    pending: (): string => take(),
    /** One more event of the response, numbered in its sequence (an mcp call's end). */
    event(type: string, fields: Json): string {
      emit(type, fields);
      return take();
    },

    /** The stream's end: the closing events, then response.completed (or response.incomplete). */
    ended(r: Json): string {
      emit(r.status === "completed" ? "response.completed" : "response.incomplete", { response: r });
      return take();
    },

    /**
     * A failure after the stream began: response.failed with the partial output and the error,
     * then an `error` event (which the SDK raises as an APIError).
     */
    fail(err: unknown): string {
      const e = toOpenAIError(err).body.error;
      emit("response.failed", { response: failedJson(ctx, model, err, snapshot("incomplete")) });
      emit("error", { code: e.code ?? e.type, message: e.message, param: e.param });
      return take();
    },
  };
}

/**
 * The events of a stream that would have produced this finished response, numbered from 0: what
 * GET /v1/responses/{id}?stream=true sends for a background response whose own event log is not on
 * this replica (another replica ran it, or its log has expired). Each text, refusal, reasoning
 * summary and arguments comes as one delta; the events are numbered in this replay's own sequence.
 */
export function replayEvents(r: Json): string[] {
  const frames: string[] = [];
  let n = 0;
  const emit = (type: string, fields: Json) => frames.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: n++ })}\n\n`);
  const head: Json = { ...r, output: [], usage: null };
  delete head.completed_at;
  delete head.signalbox;
  emit("response.created", { response: { ...head, status: "queued", error: null, incomplete_details: null } });
  emit("response.queued", { response: { ...head, status: "queued", error: null, incomplete_details: null } });
  emit("response.in_progress", { response: { ...head, status: "in_progress", error: null, incomplete_details: null } });
  const output = Array.isArray(r.output) ? (r.output as (Json & { id: string; type: string })[]) : [];
  output.forEach((item, index) => {
    const at = { item_id: item.id, output_index: index };
    if (item.type === "message") {
      emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress", content: [] } });
      ((item.content as Json[] | undefined) ?? []).forEach((part, content_index) => {
        const where = { ...at, content_index };
        if (part.type === "output_text") {
          emit("response.content_part.added", { ...where, part: { ...part, text: "", logprobs: [] } });
          emit("response.output_text.delta", { ...where, delta: part.text, logprobs: [] });
          emit("response.output_text.done", { ...where, text: part.text, logprobs: part.logprobs ?? [] });
        } else if (part.type === "refusal") {
          emit("response.content_part.added", { ...where, part: { ...part, refusal: "" } });
          emit("response.refusal.delta", { ...where, delta: part.refusal });
          emit("response.refusal.done", { ...where, refusal: part.refusal });
        }
        emit("response.content_part.done", { ...where, part });
      });
    } else if (item.type === "reasoning") {
      emit("response.output_item.added", { output_index: index, item: { ...item, summary: [], encrypted_content: undefined } });
      ((item.summary as Json[] | undefined) ?? []).forEach((part, summary_index) => {
        const where = { ...at, summary_index };
        emit("response.reasoning_summary_part.added", { ...where, part: { type: "summary_text", text: "" } });
        emit("response.reasoning_summary_text.delta", { ...where, delta: part.text });
        emit("response.reasoning_summary_text.done", { ...where, text: part.text });
        emit("response.reasoning_summary_part.done", { ...where, part });
      });
    } else if (item.type === "function_call") {
      emit("response.output_item.added", { output_index: index, item: { ...item, status: "in_progress", arguments: "" } });
      emit("response.function_call_arguments.delta", { ...at, delta: item.arguments });
      emit("response.function_call_arguments.done", { ...at, arguments: item.arguments });
    } else {
      emit("response.output_item.added", { output_index: index, item });
    }
    emit("response.output_item.done", { output_index: index, item });
  });
  if (r.status === "completed") emit("response.completed", { response: r });
  else if (r.status === "incomplete") emit("response.incomplete", { response: r });
  else if (r.status === "failed") {
    emit("response.failed", { response: r });
    const e = (r.error ?? {}) as Json;
    emit("error", { code: e.code ?? "server_error", message: e.message ?? "the response failed", param: null });
  } else emit("error", { code: "response_cancelled", message: `the response was ${String(r.status)}`, param: null });
  return frames;
}
