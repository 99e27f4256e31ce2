import assert from "node:assert/strict";
import { it } from "node:test";
import { mapAnthropicFinishReason } from "../../../src/providers/anthropic/map-anthropic-finish-reason.ts";

it("maps every documented stop_reason (§8.5)", () => {
  const table: [string | null, string][] = [
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["pause_turn", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["something_new", "other"],
    [null, "other"],
  ];
  for (const [raw, unified] of table) assert.equal(mapAnthropicFinishReason(raw), unified, String(raw));
});
