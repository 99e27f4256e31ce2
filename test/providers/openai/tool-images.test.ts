// Chat Completions' tool messages take text only: images a tool returned go in one user message
// after all of the turn's tool messages (a user message between tool messages would break the
// tool_calls answer sequence), each group introduced by a line naming its call.

import assert from "node:assert/strict";
import { test } from "node:test";
import { convertToOpenAIMessages } from "../../../src/providers/openai/convert-to-openai-messages.ts";
import type { ChatMessage } from "../../../src/providers/types.ts";

test("images from two tool results follow both tool messages, in one user message", () => {
  const messages: ChatMessage[] = [
    { role: "user", content: [{ type: "text", text: "Compare the two screens." }] },
    {
      role: "assistant",
      content: [],
      toolCalls: [
        { id: "c1", name: "shot", arguments: "{}" },
        { id: "c2", name: "shot", arguments: "{}" },
      ],
    },
    { role: "tool", toolCallId: "c1", name: "shot", content: [{ type: "image", url: "data:image/png;base64,AAAA" }] },
    { role: "tool", toolCallId: "c2", name: "shot", content: [{ type: "text", text: "second" }, { type: "image", url: "https://example.com/b.png" }] },
    { role: "user", content: [{ type: "text", text: "Well?" }] },
  ];
  const out = convertToOpenAIMessages(messages, { developerRole: true });
  assert.deepEqual(
    out.map((m) => m.role),
    ["user", "assistant", "tool", "tool", "user", "user"],
  );
  assert.deepEqual(out[2], { role: "tool", tool_call_id: "c1", content: "(the result is the image(s) in the next user message)" });
  assert.deepEqual(out[3], { role: "tool", tool_call_id: "c2", content: "second" });
  assert.deepEqual(out[4], {
    role: "user",
    content: [
      { type: "text", text: "Image(s) returned by tool call c1 (shot):" },
      { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
      { type: "text", text: "Image(s) returned by tool call c2 (shot):" },
      { type: "image_url", image_url: { url: "https://example.com/b.png" } },
    ],
  });
  assert.deepEqual(out[5], { role: "user", content: "Well?" });
});

test("a tool message with text only is unchanged; an image in an assistant message is still refused", () => {
  const out = convertToOpenAIMessages([{ role: "tool", toolCallId: "c1", content: [{ type: "text", text: "ok" }] }], { developerRole: true });
  assert.deepEqual(out, [{ role: "tool", tool_call_id: "c1", content: "ok" }]);
  assert.throws(() => convertToOpenAIMessages([{ role: "assistant", content: [{ type: "image", url: "https://example.com/a.png" }] }], { developerRole: true }), /text only/);
});
