import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mapGeminiFinishReason } from "../../../src/providers/gemini/map-gemini-finish-reason.ts";
import type { FinishReason } from "../../../src/providers/types.ts";

describe("mapGeminiFinishReason", () => {
  const table: [string | undefined, boolean, FinishReason][] = [
    ["STOP", false, "stop"],
    ["STOP", true, "tool_calls"],
    ["MAX_TOKENS", false, "length"],
    ["MAX_TOKENS", true, "length"],
    ["SAFETY", false, "content_filter"],
    ["RECITATION", false, "content_filter"],
    ["BLOCKLIST", false, "content_filter"],
    ["PROHIBITED_CONTENT", false, "content_filter"],
    ["SPII", false, "content_filter"],
    ["IMAGE_SAFETY", false, "content_filter"],
    ["IMAGE_PROHIBITED_CONTENT", false, "content_filter"],
    ["IMAGE_RECITATION", false, "content_filter"],
    ["MALFORMED_FUNCTION_CALL", false, "error"],
    ["UNEXPECTED_TOOL_CALL", true, "error"],
    ["TOO_MANY_TOOL_CALLS", true, "error"],
    ["OTHER", false, "other"],
    ["LANGUAGE", false, "other"],
    ["FINISH_REASON_UNSPECIFIED", false, "other"],
    ["NO_IMAGE", false, "other"],
    ["IMAGE_OTHER", false, "other"],
    ["SOMETHING_NEW", false, "other"],
    [undefined, false, "other"],
  ];
  for (const [raw, tools, want] of table) {
    it(`${raw ?? "(absent)"}${tools ? " with function calls" : ""} → ${want}`, () => {
      assert.equal(mapGeminiFinishReason(raw, tools), want);
    });
  }
});
