// Translates one ConverseStream (event-stream messages, already framed by bedrock-event-stream.ts)
// into provider-neutral stream events. State lives in the translator, which serves one response.

import type { StreamEvent, StreamTranslator, SseEvent } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { BedrockContentBlockDelta, BedrockContentBlockStart, BedrockMessageStop, BedrockStreamMetadata } from "./bedrock-api-types.ts";
import { classifyBedrockError, type BedrockErrorContext } from "./bedrock-error.ts";
import { convertBedrockUsage } from "./convert-bedrock-usage.ts";
import { mapBedrockFinishReason } from "./map-bedrock-finish-reason.ts";

const EVENTS = new Set(["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]);

export function createBedrockStreamTranslator(ctx: BedrockErrorContext = {}): StreamTranslator {
  const label = ctx.label ? `${ctx.label}: ` : "";
  /** Content block index → tool-call index (tool calls are counted apart from other blocks). */
  const tools = new Map<number, number>();
  let toolCount = 0;
  let started = false;
  let stopped = false;

  function parse(e: SseEvent): Record<string, unknown> {
    try {
      const v: unknown = JSON.parse(e.data);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new ProviderError({ kind: "server_error", message: `${label}bedrock stream: "${e.event}" event is not a JSON object` });
  }

  function start(): StreamEvent[] {
    if (started) return [];
    started = true;
    // Bedrock names neither the response nor the model version: the deployment's model stands.
    return [{ type: "start" }];
  }

  function blockStart(d: BedrockContentBlockStart): StreamEvent[] {
    const tu = d.start?.toolUse;
    if (!tu) return [];
    const index = toolCount++;
    tools.set(Number(d.contentBlockIndex ?? -1), index);
    return [{ type: "tool_call_start", index, id: String(tu.toolUseId ?? ""), name: String(tu.name ?? "") }];
  }

  function blockDelta(d: BedrockContentBlockDelta): StreamEvent[] {
    const delta = d.delta ?? {};
    if (typeof delta.text === "string") return delta.text === "" ? [] : [{ type: "text", text: delta.text }];
    if (delta.toolUse) {
      const index = tools.get(Number(d.contentBlockIndex ?? -1));
      const input = delta.toolUse.input;
      if (index === undefined || typeof input !== "string" || input === "") return [];
      return [{ type: "tool_call_delta", index, argumentsDelta: input }];
    }
    const r = delta.reasoningContent;
    if (!r) return [];
    if (typeof r.text === "string") return r.text === "" ? [] : [{ type: "reasoning", text: r.text }];
    // Replay state: the signature closes the thinking block, redacted thinking is a whole block.
    if (typeof r.signature === "string" && r.signature !== "") return [{ type: "reasoning_signature", signature: r.signature }];
    if (typeof r.redactedContent === "string" && r.redactedContent !== "") return [{ type: "reasoning_redacted", data: r.redactedContent }];
    return [];
  }

  return {
    event(e) {
      if (!EVENTS.has(e.event)) {
        // Exception frames (their :exception-type) and `:message-type error` frames end the stream.
        if (e.event === "error" || /exception$/i.test(e.event)) {
          throw classifyBedrockError(undefined, e.data, {}, { ...ctx, type: e.event === "error" ? undefined : e.event, fallbackKind: "stream_interrupted" });
        }
        return []; // future event types
      }
      const d = parse(e);
      switch (e.event) {
        case "messageStart":
          return start();
        case "contentBlockStart":
          return [...start(), ...blockStart(d as BedrockContentBlockStart)];
        case "contentBlockDelta":
          return [...start(), ...blockDelta(d as BedrockContentBlockDelta)];
        case "messageStop": {
          if (stopped) return [];
          stopped = true;
          const raw = typeof (d as BedrockMessageStop).stopReason === "string" ? String((d as BedrockMessageStop).stopReason) : "";
          return [...start(), { type: "finish", finishReason: mapBedrockFinishReason(raw), rawFinishReason: raw }];
        }
        case "metadata": {
          const u = (d as BedrockStreamMetadata).usage;
          if (!u || typeof u !== "object") return [];
          return [{ type: "usage", usage: convertBedrockUsage(u) }];
        }
        default:
          return []; // contentBlockStop
      }
    },
    end() {
      // Usage comes after messageStop, in `metadata`; a stream cut between the two is still a
      // whole answer, billed on an estimate.
      if (!stopped) {
        throw new ProviderError({ kind: "stream_interrupted", message: `${label}bedrock stream ended before messageStop` });
      }
      return [];
    },
  };
}
