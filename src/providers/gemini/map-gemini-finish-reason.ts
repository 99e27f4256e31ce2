// Gemini finishReason → the unified finish reason. Gemini reports tool calls as a plain STOP, so
// the caller says whether functionCall parts were seen.

import type { FinishReason } from "../types.ts";

export function mapGeminiFinishReason(raw: string | undefined, hasToolCalls: boolean): FinishReason {
  switch (raw) {
    case "STOP":
      return hasToolCalls ? "tool_calls" : "stop";
    case "MAX_TOKENS":
      return "length";
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
    case "IMAGE_PROHIBITED_CONTENT":
    case "IMAGE_RECITATION":
      return "content_filter";
    case "MALFORMED_FUNCTION_CALL":
    case "UNEXPECTED_TOOL_CALL":
    case "TOO_MANY_TOOL_CALLS":
    case "MALFORMED_RESPONSE":
      return "error";
    default:
      // OTHER, LANGUAGE, FINISH_REASON_UNSPECIFIED, NO_IMAGE, IMAGE_OTHER, CONTINUATION and values
      // newer than this list.
      return "other";
  }
}
