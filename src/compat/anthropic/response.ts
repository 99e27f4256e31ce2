// The engine's answers and stream events in Anthropic's Message shape and its named-event stream
// (message_start, content_block_start/delta/stop, message_delta, message_stop), whichever
// provider answered: an OpenAI or Gemini answer reads as a Claude one.

import type { Answer, Summary } from "../../engine/chat-engine.ts";
import { replayText, searchesOf, type Citation, type Searched } from "../../engine/web-search.ts";
import type { FinishReason, ReasoningBlock, StreamEvent, ToolCall, Usage } from "../../providers/types.ts";

const STOP_REASONS = new Set(["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"]);

const UNIFIED: Record<FinishReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "refusal",
  error: "end_turn",
  other: "end_turn",
};

/**
 * Anthropic's stop_reason: an Anthropic deployment's own value as it sent it (no other provider's
 * raw values collide with Anthropic's names), else the unified reason's. The matched stop
 * sequence is known only when the request had exactly one.
 */
export function stopReason(s: Pick<Summary, "finishReason" | "rawFinishReason">, stop: string[] | undefined): { stop_reason: string; stop_sequence: string | null } {
  const raw = s.rawFinishReason ?? "";
  const reason = STOP_REASONS.has(raw) ? raw : UNIFIED[s.finishReason ?? "stop"];
  return { stop_reason: reason, stop_sequence: reason === "stop_sequence" && stop?.length === 1 ? stop[0] : null };
}

/** Anthropic's usage: input_tokens excludes cache reads and writes (the gateway's includes them). */
export function usageJson(u: Usage) {
  const write1h = u.cacheWrite1hTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.inputTokens - u.cachedInputTokens - u.cacheWriteTokens),
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_read_input_tokens: u.cachedInputTokens,
    cache_creation: { ephemeral_5m_input_tokens: Math.max(0, u.cacheWriteTokens - write1h), ephemeral_1h_input_tokens: write1h },
    output_tokens: u.outputTokens,
  };
}

/** A tool call's arguments as the object Anthropic's `input` is; text that is not one becomes {}. */
function toolInput(c: ToolCall): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(c.arguments || "{}");
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function reasoningBlocks(a: Pick<Answer, "reasoning" | "reasoningBlocks">): Record<string, unknown>[] {
  const blocks = a.reasoningBlocks;
  // Blocks whose text an output guardrail changed would replay what it removed: the plain text then.
  if (blocks?.length && blocks.map((b) => b.text).join("") === (a.reasoning ?? "")) {
    return blocks.map((b: ReasoningBlock) => (b.redacted !== undefined ? { type: "redacted_thinking", data: b.redacted } : { type: "thinking", thinking: b.text, signature: b.signature ?? "" }));
  }
  return a.reasoning ? [{ type: "thinking", thinking: a.reasoning, signature: "" }] : [];
}

/** A refusal's explanation (Anthropic's stop_details), when the answer was refused. */
const stopDetails = (refusal: string | undefined) => (refusal ? { stop_details: { type: "refusal", category: null, explanation: refusal } } : {});

/** The server_tool_use block's id for a request's web search (Anthropic's srvtoolu_ prefix); the second and later searches numbered. */
const searchId = (id: string, n = 0) => `srvtoolu_${id.replace(/[^A-Za-z0-9_]/g, "")}${n ? `_${n}` : ""}`;

/** The web search tool's result block: the results found (their text in encrypted_content, for a later turn to give the model again), or the error. */
const searchResultBlock = (id: string, w: Pick<Searched, "results" | "failed">, n = 0) => ({
  type: "web_search_tool_result",
  tool_use_id: searchId(id, n),
  content: w.failed
    ? { type: "web_search_tool_result_error", error_code: "unavailable" }
    : w.results.map((r) => ({ type: "web_search_result", url: r.url, title: r.title, encrypted_content: replayText(r), page_age: r.published ?? null })),
});

/** A citation of a web search result in a text block (Anthropic's web_search_result_location). */
const citationJson = (c: Citation) => ({ type: "web_search_result_location", url: c.url, title: c.title, encrypted_index: "", cited_text: c.content.slice(0, 150) });

/** The web search's count in usage, as Anthropic reports its server tool. */
/** Usage's count of web searches: one when the message searched. */
export const searchUsage = (w: Searched | undefined) => (w ? { server_tool_use: { web_search_requests: w.searches ?? 1 } } : {});

/** A unary answer as an Anthropic Message. */
export function messageJson(a: Answer, stop: string[] | undefined) {
  const content: Record<string, unknown>[] = [];
  // The gateway's web search came first: the server tool's call and its results, as Anthropic's.
  // One server_tool_use and its result per search the model made.
  if (a.webSearch) searchesOf(a.webSearch).forEach((one, n) => content.push({ type: "server_tool_use", id: searchId(a.id, n), name: "web_search", input: { query: one.query } }, searchResultBlock(a.id, one, n)));
  content.push(...reasoningBlocks(a));
  if (a.text) content.push({ type: "text", text: a.text, ...(a.citations?.length ? { citations: a.citations.map(citationJson) } : {}) });
  for (const c of a.toolCalls) content.push({ type: "tool_use", id: c.id, name: c.name, input: toolInput(c) });
  return {
    id: messageId(a.id),
    type: "message",
    role: "assistant",
    model: a.providerModel || a.model,
    content,
    ...stopReason(a, stop),
    ...stopDetails(a.refusal),
    usage: { ...usageJson(a.usage), ...searchUsage(a.webSearch) },
  };
}

/** Anthropic's message ids start with msg_; the gateway's request id follows. */
export const messageId = (id: string) => (id.startsWith("msg_") ? id : `msg_${id}`);

const sse = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** The ping Anthropic sends while a stream waits. */
export const PING = sse("ping", {});

/**
 * Stream events as Anthropic SSE text. Blocks open and close as the kind of content changes
 * (block indexes count every block); a tool call's argument fragments that arrive after another
 * block opened still go to its own index, which the SDK's accumulator follows.
 */
export function messageStreamWriter(id: string, model: string, stop: string[] | undefined, mcp?: (name: string) => { server: string; tool: string } | undefined) {
  let index = -1;
  let open: "text" | "thinking" | "tool" | undefined;
  let openTool = -1;
  const toolBlocks = new Map<number, number>();
  let refusal = "";
  let searchedWith: Searched | undefined;

  const close = () => {
    if (open === undefined) return "";
    open = undefined;
    return sse("content_block_stop", { index });
  };
  const start = (kind: "text" | "thinking" | "tool", block: Record<string, unknown>) => {
    const out = close() + sse("content_block_start", { index: ++index, content_block: block });
    open = kind;
    return out;
  };
  const delta = (i: number, d: Record<string, unknown>) => sse("content_block_delta", { index: i, delta: d });

  return {
    start: () =>
      sse("message_start", {
        message: {
          id: messageId(id),
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          // Counted only when the answer ends: message_delta carries the final figures.
          usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
        },
      }),
    delta(events: StreamEvent[]): string {
      let out = "";
      for (const e of events) {
        switch (e.type) {
          case "text":
            if (open !== "text") out += start("text", { type: "text", text: "" });
            out += delta(index, { type: "text_delta", text: e.text });
            break;
          case "reasoning":
            if (open !== "thinking") out += start("thinking", { type: "thinking", thinking: "", signature: "" });
            out += delta(index, { type: "thinking_delta", thinking: e.text });
            break;
          case "reasoning_signature":
            if (open !== "thinking") out += start("thinking", { type: "thinking", thinking: "", signature: "" });
            // The signature ends its block: more thinking after it is a new block.
            out += delta(index, { type: "signature_delta", signature: e.signature }) + close();
            break;
          case "reasoning_redacted":
            out += close() + sse("content_block_start", { index: ++index, content_block: { type: "redacted_thinking", data: e.data } }) + sse("content_block_stop", { index });
            break;
          case "refusal":
            refusal += e.text;
            break;
          case "tool_call_start": {
            // A call of an MCP server's tool (mcp.ts) shows as an mcp_tool_use block of that server.
            const m = mcp?.(e.name);
            out += start("tool", m ? { type: "mcp_tool_use", id: e.id, name: m.tool, server_name: m.server, input: {} } : { type: "tool_use", id: e.id, name: e.name, input: {} });
            openTool = e.index;
            toolBlocks.set(e.index, index);
            break;
          }
          case "tool_call_delta": {
            const i = open === "tool" && openTool === e.index ? index : toolBlocks.get(e.index);
            if (i !== undefined && e.argumentsDelta) out += delta(i, { type: "input_json_delta", partial_json: e.argumentsDelta });
            break;
          }
          default:
            break;
        }
      }
      return out;
    },
    /** The gateway's web search, before the answer: the server tool's call and its result, each a whole block. */
    searched(w: Searched): string {
      searchedWith = w;
      let out = close();
      searchesOf(w).forEach((one, n) => {
        out +=
          sse("content_block_start", { index: ++index, content_block: { type: "server_tool_use", id: searchId(id, n), name: "web_search", input: {} } }) +
          delta(index, { type: "input_json_delta", partial_json: JSON.stringify({ query: one.query }) }) +
          sse("content_block_stop", { index }) +
          sse("content_block_start", { index: ++index, content_block: searchResultBlock(id, one, n) }) +
          sse("content_block_stop", { index });
      });
      return out;
    },
    /** The end of a model turn of a longer message (mcp.ts): its open block closes; the next turn's calls count from 0 again. */
    endTurn(): string {
      toolBlocks.clear();
      return close();
    },
    /** An MCP call's result, as the block after its mcp_tool_use. */
    mcpResult(toolUseId: string, isError: boolean, content: Record<string, unknown>[]): string {
      return close() + sse("content_block_start", { index: ++index, content_block: { type: "mcp_tool_result", tool_use_id: toolUseId, is_error: isError, content } }) + sse("content_block_stop", { index });
    },
    finish(s: Summary): string {
      // Web search's citations, known at the end: on the text block still open, as Anthropic's citations_delta.
      let cites = "";
      if (s.citations?.length && open === "text") for (const c of s.citations) cites += delta(index, { type: "citations_delta", citation: citationJson(c) });
      return (
        cites +
        close() +
        sse("message_delta", { delta: { ...stopReason(s, stop), ...stopDetails(refusal || undefined) }, usage: { ...usageJson(s.usage), ...searchUsage(searchedWith) } }) +
        sse("message_stop", {})
      );
    },
  };
}
