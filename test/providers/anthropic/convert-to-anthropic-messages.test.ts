import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { convertToAnthropicMessages } from "../../../src/providers/anthropic/convert-to-anthropic-messages.ts";
import type { ChatMessage } from "../../../src/providers/types.ts";
import { ProviderError } from "../../../src/providers/types.ts";

const text = (t: string) => ({ type: "text" as const, text: t });

describe("convertToAnthropicMessages", () => {
  it("converts the §3.2 example conversation: image, tool_use with object input, tool_result", () => {
    const msgs: ChatMessage[] = [
      { role: "system", content: [text("You are terse.")] },
      { role: "user", content: [text("Weather in Paris?"), { type: "image", url: "data:image/png;base64,iVBORw0KGgo=" }] },
      { role: "assistant", content: [], toolCalls: [{ id: "toolu_01D7FLrfh4GYq7yT1ULFeyMV", name: "get_weather", arguments: '{"city":"Paris"}' }] },
      { role: "tool", toolCallId: "toolu_01D7FLrfh4GYq7yT1ULFeyMV", name: "get_weather", content: [text('{"temp_c":21}')] },
    ];
    assert.deepEqual(convertToAnthropicMessages(msgs), {
      system: "You are terse.",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Weather in Paris?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          ],
        },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_01D7FLrfh4GYq7yT1ULFeyMV", name: "get_weather", input: { city: "Paris" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01D7FLrfh4GYq7yT1ULFeyMV", content: '{"temp_c":21}' }] },
      ],
    });
  });

  it("batches consecutive tool results into ONE user message, results first, with is_error", () => {
    const msgs: ChatMessage[] = [
      { role: "user", content: [text("do both")] },
      {
        role: "assistant",
        content: [text("On it.")],
        toolCalls: [
          { id: "t1", name: "a", arguments: '{"x":1}' },
          { id: "t2", name: "b", arguments: "" },
        ],
      },
      { role: "tool", toolCallId: "t1", content: [text("one")] },
      { role: "tool", toolCallId: "t2", content: [text("boom")], isError: true },
      { role: "user", content: [text("and then?")] },
    ];
    const { messages, system } = convertToAnthropicMessages(msgs);
    assert.equal(system, undefined);
    assert.deepEqual(messages, [
      { role: "user", content: [{ type: "text", text: "do both" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "On it." },
          { type: "tool_use", id: "t1", name: "a", input: { x: 1 } },
          { type: "tool_use", id: "t2", name: "b", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t1", content: "one" },
          { type: "tool_result", tool_use_id: "t2", content: "boom", is_error: true },
          { type: "text", text: "and then?" },
        ],
      },
    ]);
  });

  it("tool_result blocks lead the user turn even when a user message precedes them", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "assistant", content: [], toolCalls: [{ id: "t1", name: "a", arguments: "{}" }] },
      { role: "user", content: [text("note")] },
      { role: "tool", toolCallId: "t1", content: [] },
    ]);
    assert.deepEqual(messages[1], {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "t1" },
        { type: "text", text: "note" },
      ],
    });
  });

  it("invalid or non-object tool arguments become {} and conversion keeps going", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: [text("x")] },
      {
        role: "assistant",
        content: [],
        toolCalls: [
          { id: "t1", name: "a", arguments: '{"broken":' },
          { id: "t2", name: "b", arguments: "[1,2]" },
          { id: "t3", name: "c", arguments: '{"ok":true}' },
        ],
      },
    ]);
    assert.deepEqual(
      messages[1].content.map((b) => (b.type === "tool_use" ? b.input : null)),
      [{}, {}, { ok: true }],
    );
  });

  it("merges consecutive same-role messages and drops empty ones", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: [text("a")] },
      { role: "user", content: [text("")] },
      { role: "user", content: [text("b")] },
      { role: "assistant", content: [text("c")] },
      { role: "assistant", content: [] },
      { role: "assistant", content: [text("d")] },
      { role: "user", content: [text("e")] },
    ]);
    assert.deepEqual(messages, [
      { role: "user", content: [text("a"), text("b")] },
      { role: "assistant", content: [text("c"), text("d")] },
      { role: "user", content: [text("e")] },
    ]);
  });

  it("a final assistant prefill loses trailing whitespace (the API rejects it)", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "user", content: [text("json please")] },
      { role: "assistant", content: [text("{ \n")] },
    ]);
    assert.deepEqual(messages.at(-1), { role: "assistant", content: [text("{")] });
  });

  it("images: bytes → base64, https → url source, jpg normalised, pdf → document; other schemes rejected", () => {
    const { messages } = convertToAnthropicMessages([
      {
        role: "user",
        content: [
          { type: "image", data: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), mediaType: "image/png" },
          { type: "image", url: "https://example.com/cat.jpg" },
          { type: "image", url: "data:image/jpg;base64,/9j/\n4AAQ" },
          { type: "image", data: new Uint8Array([0x25, 0x50, 0x44, 0x46]), mediaType: "application/pdf" },
        ],
      },
    ]);
    assert.deepEqual(messages[0].content, [
      { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw==" } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
      { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
      { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERg==" } },
    ]);
    for (const url of ["http://example.com/a.png", "ftp://x/y.png", "data:image/png,rawpixels"]) {
      assert.throws(
        () => convertToAnthropicMessages([{ role: "user", content: [{ type: "image", url }] }]),
        (e: unknown) => e instanceof ProviderError && e.kind === "bad_request",
        url,
      );
    }
    assert.throws(
      () => convertToAnthropicMessages([{ role: "user", content: [{ type: "image", data: new Uint8Array([1]) }] }]),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request",
    );
  });

  it("tool results with images are sent as a block list", () => {
    const { messages } = convertToAnthropicMessages([
      { role: "tool", toolCallId: "t1", content: [text("see"), { type: "image", url: "https://x.test/p.png" }] },
    ]);
    assert.deepEqual(messages, [
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "t1",
            content: [
              { type: "text", text: "see" },
              { type: "image", source: { type: "url", url: "https://x.test/p.png" } },
            ],
          },
        ],
      },
    ]);
  });

  it("a tool message without toolCallId is a bad_request", () => {
    assert.throws(
      () => convertToAnthropicMessages([{ role: "tool", content: [text("x")] }]),
      (e: unknown) => e instanceof ProviderError && e.kind === "bad_request",
    );
  });
});
