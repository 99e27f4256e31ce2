// Maps the dialect's finish_reason to the unified one (wire-formats §8.5); callers keep the raw value.

import type { FinishReason } from "../types.ts";

export function mapOpenAIFinishReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    case "stop":
      return "stop";
    case "length":
    case "model_length": // Mistral
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    case "error": // OpenRouter, Mistral
      return "error";
    default:
      return "other";
  }
}

/**
 * The unified reason for a finished answer. OpenAI reports "stop" when tool_choice forced a named
 * function, and some compat servers always do: an answer that carries tool calls ended for them.
 */
export function finishReasonFor(raw: string | null | undefined, hasToolCalls: boolean): FinishReason {
  const mapped = mapOpenAIFinishReason(raw);
  return mapped === "stop" && hasToolCalls ? "tool_calls" : mapped;
}
