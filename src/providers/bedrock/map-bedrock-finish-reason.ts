// Converse `stopReason` → the unified finish reason. Callers keep the raw value.

import type { FinishReason } from "../types.ts";

export function mapBedrockFinishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "guardrail_intervened":
    case "content_filtered":
      return "content_filter";
    // The model produced output Bedrock could not parse (text or a tool call): no usable answer.
    case "malformed_model_output":
    case "malformed_tool_use":
      return "error";
    default:
      return "other";
  }
}
