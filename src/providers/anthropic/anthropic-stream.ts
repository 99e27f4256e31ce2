// Translates one Anthropic Messages SSE stream (named events, §3.4) into provider-neutral stream
// events. State lives in the translator, which serves exactly one response.

import type { StreamEvent, StreamTranslator, SseEvent } from "../types.ts";
import { ProviderError } from "../types.ts";
import type {
  AnthropicContentBlockDeltaEvent,
  AnthropicContentBlockStartEvent,
  AnthropicContentBlockStopEvent,
  AnthropicMessageDeltaEvent,
  AnthropicMessageStartEvent,
  AnthropicUsage,
} from "./anthropic-api-types.ts";
import { classifyAnthropicError, type AnthropicErrorContext } from "./anthropic-error.ts";
import { convertAnthropicUsage, mergeAnthropicUsage } from "./convert-anthropic-usage.ts";
import { mapAnthropicFinishReason } from "./map-anthropic-finish-reason.ts";

type Block =
  | { kind: "text" }
  | { kind: "thinking" }
  // `input` from content_block_start, replayed only if no input_json_delta follows.
  | { kind: "tool"; toolIndex: number; sawDelta: boolean; startInput?: string }
  | { kind: "other" };

export function createAnthropicStreamTranslator(ctx: AnthropicErrorContext = {}): StreamTranslator {
  const label = ctx.label ? `${ctx.label}: ` : "";
  const blocks = new Map<number, Block>();
  let toolCount = 0;
  let started = false;
  let finished = false;
  let stopped = false;
  let usage: AnthropicUsage | undefined;
  /** What the last usage event said: none yet, input only (output still counting), or final. */
  let reported: "none" | "pending" | "final" = "none";

  function parse(e: SseEvent): Record<string, unknown> {
    try {
      const v: unknown = JSON.parse(e.data);
      if (v !== null && typeof v === "object") return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new ProviderError({ kind: "server_error", message: `${label}anthropic stream: "${e.event}" event is not a JSON object` });
  }

  function mergeUsage(u: AnthropicUsage | undefined): boolean {
    if (!u || typeof u !== "object") return false;
    usage = mergeAnthropicUsage(usage ?? {}, u);
    return true;
  }

  /**
   * Usage as soon as it is known: message_start gives the input and cache counts (its
   * output_tokens is a running count, not final), message_delta the final output. A stream cut
   * in between is billed on the reported input and an estimate of its output.
   */
  function usageEvent(final: boolean): StreamEvent[] {
    if (!usage) return [];
    reported = final ? "final" : "pending";
    return [final ? { type: "usage", usage: convertAnthropicUsage(usage) } : { type: "usage", usage: convertAnthropicUsage(usage), outputPending: true }];
  }

  function messageStart(d: AnthropicMessageStartEvent): StreamEvent[] {
    const hasUsage = mergeUsage(d.message?.usage);
    if (started) return []; // some proxies repeat message_start
    started = true;
    return [{ type: "start", id: d.message?.id, model: d.message?.model }, ...(hasUsage ? usageEvent(false) : [])];
  }

  function blockStart(d: AnthropicContentBlockStartEvent): StreamEvent[] {
    const cb = d.content_block ?? { type: "" };
    switch (cb.type) {
      case "text": {
        blocks.set(d.index, { kind: "text" });
        const text = (cb as { text?: unknown }).text;
        return typeof text === "string" && text !== "" ? [{ type: "text", text }] : [];
      }
      case "thinking": {
        blocks.set(d.index, { kind: "thinking" });
        const thinking = (cb as { thinking?: unknown }).thinking;
        return typeof thinking === "string" && thinking !== "" ? [{ type: "reasoning", text: thinking }] : [];
      }
      case "tool_use": {
        const { id, name, input } = cb as { id?: unknown; name?: unknown; input?: unknown };
        // The tool-call index counts tool calls only; the block index counts every block.
        const toolIndex = toolCount++;
        const startInput =
          input !== null && typeof input === "object" && Object.keys(input).length > 0 ? JSON.stringify(input) : undefined;
        blocks.set(d.index, { kind: "tool", toolIndex, sawDelta: false, startInput });
        return [{ type: "tool_call_start", index: toolIndex, id: String(id ?? ""), name: String(name ?? "") }];
      }
      case "redacted_thinking": {
        blocks.set(d.index, { kind: "other" });
        const data = (cb as { data?: unknown }).data;
        return typeof data === "string" ? [{ type: "reasoning_redacted", data }] : [];
      }
      default:
        // Server-tool blocks, future block types.
        blocks.set(d.index, { kind: "other" });
        return [];
    }
  }

  function blockDelta(d: AnthropicContentBlockDeltaEvent): StreamEvent[] {
    const delta = d.delta ?? { type: "" };
    switch (delta.type) {
      case "text_delta": {
        const text = (delta as { text?: unknown }).text;
        return typeof text === "string" && text !== "" ? [{ type: "text", text }] : [];
      }
      case "thinking_delta": {
        const thinking = (delta as { thinking?: unknown }).thinking;
        return typeof thinking === "string" && thinking !== "" ? [{ type: "reasoning", text: thinking }] : [];
      }
      case "input_json_delta": {
        const b = blocks.get(d.index);
        const json = (delta as { partial_json?: unknown }).partial_json;
        if (b?.kind !== "tool" || typeof json !== "string" || json === "") return [];
        b.sawDelta = true;
        return [{ type: "tool_call_delta", index: b.toolIndex, argumentsDelta: json }];
      }
      case "signature_delta": {
        const signature = (delta as { signature?: unknown }).signature;
        return typeof signature === "string" && signature !== "" ? [{ type: "reasoning_signature", signature }] : [];
      }
      default:
        // citations_delta, future types.
        return [];
    }
  }

  function blockStop(d: AnthropicContentBlockStopEvent): StreamEvent[] {
    const b = blocks.get(d.index);
    if (b?.kind === "tool" && !b.sawDelta && b.startInput !== undefined) {
      return [{ type: "tool_call_delta", index: b.toolIndex, argumentsDelta: b.startInput }];
    }
    return [];
  }

  function messageDelta(d: AnthropicMessageDeltaEvent): StreamEvent[] {
    const u = mergeUsage(d.usage) ? usageEvent(true) : [];
    const reason = d.delta?.stop_reason;
    if (finished || typeof reason !== "string") return u;
    finished = true;
    const out: StreamEvent[] = [];
    const explanation = d.delta?.stop_details?.explanation;
    if (reason === "refusal" && typeof explanation === "string" && explanation !== "") out.push({ type: "refusal", text: explanation });
    out.push({ type: "finish", finishReason: mapAnthropicFinishReason(reason), rawFinishReason: reason });
    return [...out, ...u];
  }

  function messageStop(): StreamEvent[] {
    stopped = true;
    const out: StreamEvent[] = [];
    // A well-formed stream always sends stop_reason first; if a server did not, still close the answer.
    if (!finished) {
      finished = true;
      out.push({ type: "finish", finishReason: "other", rawFinishReason: "" });
    }
    // A stream that completed without a message_delta usage: what was reported is all there is.
    if (reported !== "final") out.push(...usageEvent(true));
    return out;
  }

  return {
    event(e) {
      if (stopped) return [];
      let type = e.event;
      if (type === "ping") return [];
      const known =
        type === "message_start" ||
        type === "content_block_start" ||
        type === "content_block_delta" ||
        type === "content_block_stop" ||
        type === "message_delta" ||
        type === "message_stop" ||
        type === "error";
      // Without an `event:` line the parser says "message": fall back to the payload's own type.
      if (!known && type !== "message") return [];
      const d = parse(e);
      if (type === "message") type = typeof d.type === "string" ? d.type : "";
      switch (type) {
        case "message_start":
          return messageStart(d as unknown as AnthropicMessageStartEvent);
        case "content_block_start":
          return blockStart(d as unknown as AnthropicContentBlockStartEvent);
        case "content_block_delta":
          return blockDelta(d as unknown as AnthropicContentBlockDeltaEvent);
        case "content_block_stop":
          return blockStop(d as unknown as AnthropicContentBlockStopEvent);
        case "message_delta":
          return messageDelta(d as unknown as AnthropicMessageDeltaEvent);
        case "message_stop":
          return messageStop();
        case "error":
          // In-band failure after the 200: classified by its error type like the HTTP error would be.
          throw classifyAnthropicError(undefined, e.data, {}, { ...ctx, fallbackKind: "stream_interrupted" });
        default:
          return []; // ping and unknown event types
      }
    },
    end() {
      if (!stopped) {
        throw new ProviderError({ kind: "stream_interrupted", message: `${label}anthropic stream ended before message_stop` });
      }
      return [];
    },
  };
}
