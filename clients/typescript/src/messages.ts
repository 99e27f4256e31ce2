// Message builders: the common request shapes in one line each, typed against the generated
// schemas (so a typo is a compile error, not a 400).

import { create } from "@bufbuild/protobuf";
import { type ContentPart, ContentPartSchema, ImageDetail, type Message, MessageSchema, Role, type ToolCall, ToolCallSchema } from "./gen/signalbox/v1/chat_pb.ts";

/** A text content part. */
export function textPart(text: string): ContentPart {
  return create(ContentPartSchema, { part: { case: "text", value: text } });
}

export interface ImageOptions {
  /** e.g. "image/png"; required for raw bytes, optional for URLs. */
  mediaType?: string;
  detail?: "auto" | "low" | "high";
}

const DETAIL = { auto: ImageDetail.AUTO, low: ImageDetail.LOW, high: ImageDetail.HIGH } as const;

/** An image part from an http(s) or data: URL. */
export function imageUrl(url: string, opts: ImageOptions = {}): ContentPart {
  return create(ContentPartSchema, {
    part: { case: "image", value: { source: { case: "url", value: url }, mediaType: opts.mediaType ?? "", detail: opts.detail ? DETAIL[opts.detail] : ImageDetail.UNSPECIFIED } },
  });
}

/** An image part from raw bytes (sent inline). */
export function imageBytes(data: Uint8Array, mediaType: string, opts: Omit<ImageOptions, "mediaType"> = {}): ContentPart {
  return create(ContentPartSchema, {
    part: { case: "image", value: { source: { case: "data", value: data }, mediaType, detail: opts.detail ? DETAIL[opts.detail] : ImageDetail.UNSPECIFIED } },
  });
}

/**
 * A document part from its bytes: a PDF ("application/pdf") or a text document ("text/plain",
 * "text/markdown", "text/csv", "text/html"), with its file name or title.
 */
export function fileBytes(data: Uint8Array, mediaType: string, filename = ""): ContentPart {
  return create(ContentPartSchema, { part: { case: "file", value: { data, mediaType, filename } } });
}

type Content = string | ContentPart | (string | ContentPart)[];

function parts(content: Content): ContentPart[] {
  const list = Array.isArray(content) ? content : [content];
  return list.map((p) => (typeof p === "string" ? textPart(p) : p));
}

/** A user message: text, parts, or a mix (`user(["What is this?", imageUrl(u)])`). */
export function user(content: Content): Message {
  return create(MessageSchema, { role: Role.USER, content: parts(content) });
}

/** A system message. */
export function system(content: Content): Message {
  return create(MessageSchema, { role: Role.SYSTEM, content: parts(content) });
}

/** A developer message (OpenAI's system role for reasoning models; mapped per provider). */
export function developer(content: Content): Message {
  return create(MessageSchema, { role: Role.DEVELOPER, content: parts(content) });
}

/** An assistant message: earlier answer text, and the tool calls it made if any. */
export function assistant(content: Content, toolCalls: { id: string; name: string; arguments: string | object }[] = []): Message {
  return create(MessageSchema, {
    role: Role.ASSISTANT,
    content: content === "" ? [] : parts(content),
    toolCalls: toolCalls.map(
      (c): ToolCall => create(ToolCallSchema, { id: c.id, name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments) }),
    ),
  });
}

/** The result of a tool call, answering the assistant's call `toolCallId`. Objects are sent as JSON. */
export function toolResult(toolCallId: string, result: string | object, opts: { isError?: boolean; name?: string } = {}): Message {
  return create(MessageSchema, {
    role: Role.TOOL,
    toolCallId,
    name: opts.name ?? "",
    isError: opts.isError ?? false,
    content: [textPart(typeof result === "string" ? result : JSON.stringify(result))],
  });
}

/** Shorthands kept from the first client: a user / system message with plain text. */
export const userText = (text: string): Message => user(text);
export const systemText = (text: string): Message => system(text);
export const assistantText = (text: string): Message => assistant(text);

/** Nano-USD (the gateway's exact integer unit) as dollars, for display. */
export function nanoUsdToUsd(nano: bigint | number): number {
  return Number(nano) / 1e9;
}
