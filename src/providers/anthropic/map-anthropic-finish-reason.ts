// Anthropic `stop_reason` → the unified finish reason (wire-formats §8.5). Callers keep the raw value.

import type { FinishReason } from "../types.ts";

export function mapAnthropicFinishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
    // A server-tool turn paused; the text so far is a complete answer to this request.
    case "pause_turn":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "other";
  }
}
