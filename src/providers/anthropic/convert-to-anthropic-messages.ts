// Provider-neutral messages, tools and tool choice → Anthropic Messages shapes: system text moves
// to the top-level `system`, tool results are batched into one user turn, turns alternate.

import { Buffer } from "node:buffer";
import type { CacheHint, ChatMessage, ContentPart, ToolChoice, ToolDef } from "../types.ts";
import { fileText, ProviderError } from "../types.ts";
import type {
  AnthropicCacheControl,
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessage,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
} from "./anthropic-api-types.ts";

export interface AnthropicPrompt {
  /**
   * All system and developer text, in order; undefined when there is none. One text block per
   * message instead of a string when one of them carries a cache hint.
   */
  system?: string | AnthropicTextBlock[];
  messages: AnthropicMessage[];
}

/** A content part's cache hint as Anthropic's cache_control. */
function cacheControl(hint: CacheHint | undefined): { cache_control?: AnthropicCacheControl } {
  if (!hint) return {};
  return { cache_control: hint.ttl ? { type: "ephemeral", ttl: hint.ttl } : { type: "ephemeral" } };
}

function badRequest(message: string): ProviderError {
  return new ProviderError({ kind: "bad_request", message: `anthropic: ${message}` });
}

/** "image/jpg" is a common misspelling the API rejects. */
function normaliseMediaType(mt: string): string {
  const m = mt.trim().toLowerCase();
  return m === "image/jpg" ? "image/jpeg" : m;
}

function mediaBlock(mediaType: string, source: AnthropicImageBlock["source"]): AnthropicImageBlock | AnthropicDocumentBlock {
  // PDFs are sent as documents: the API accepts them as such and rejects them as images.
  return mediaType === "application/pdf" ? { type: "document", source } : { type: "image", source };
}

function convertImage(part: Extract<ContentPart, { type: "image" }>): AnthropicImageBlock | AnthropicDocumentBlock {
  if (part.data !== undefined) {
    if (!part.mediaType) throw badRequest("image bytes need a media type");
    const mt = normaliseMediaType(part.mediaType);
    return mediaBlock(mt, { type: "base64", media_type: mt, data: Buffer.from(part.data).toString("base64") });
  }
  const url = part.url ?? "";
  if (url.startsWith("data:")) {
    const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
    if (!m || !m[2].split(";").includes("base64")) throw badRequest("image data URLs must be base64-encoded");
    const mt = normaliseMediaType(m[1] || part.mediaType || "");
    if (!mt) throw badRequest("image data URL has no media type");
    return mediaBlock(mt, { type: "base64", media_type: mt, data: m[3].replace(/\s+/g, "") });
  }
  if (/^https:\/\//i.test(url)) {
    return mediaBlock(part.mediaType ? normaliseMediaType(part.mediaType) : "", { type: "url", url });
  }
  throw badRequest("images must be https: or data: URLs, or bytes");
}

/** A document: a PDF as base64, a text document (Markdown, CSV and HTML too) as plain text. */
function convertFile(part: Extract<ContentPart, { type: "file" }>): AnthropicDocumentBlock {
  const text = fileText(part);
  const source: AnthropicDocumentBlock["source"] =
    text !== undefined ? { type: "text", media_type: "text/plain", data: text } : { type: "base64", media_type: part.mediaType, data: Buffer.from(part.data).toString("base64") };
  return { type: "document", source, ...(part.filename ? { title: part.filename } : {}) };
}

/** Text, image and file parts as blocks; empty text is dropped (the API rejects empty text blocks). */
function convertParts(parts: ContentPart[]): (AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock)[] {
  const out: (AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock)[] = [];
  for (const p of parts) {
    if (p.type === "text") {
      if (p.text !== "") out.push({ type: "text", text: p.text, ...cacheControl(p.cache) });
    } else if (p.type === "file") {
      out.push({ ...convertFile(p), ...cacheControl(p.cache) });
    } else {
      out.push({ ...convertImage(p), ...cacheControl(p.cache) });
    }
  }
  return out;
}

/** Anthropic wants `input` as an object; arguments that are not a JSON object become `{}`. */
function parseArguments(args: string): Record<string, unknown> {
  if (args.trim() === "") return {};
  try {
    const v: unknown = JSON.parse(args);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    // The model's own malformed arguments must not fail the whole conversation.
    return {};
  }
}

function toolResult(m: ChatMessage): AnthropicToolResultBlock {
  if (!m.toolCallId) throw badRequest("a tool message needs the id of the call it answers");
  const block: AnthropicToolResultBlock = { type: "tool_result", tool_use_id: m.toolCallId };
  const parts = convertParts(m.content);
  // A lone text result goes as a string; its cache breakpoint then sits on the tool_result block.
  if (parts.length === 1 && parts[0].type === "text") {
    block.content = parts[0].text;
    if (parts[0].cache_control) block.cache_control = parts[0].cache_control;
  } else if (parts.length > 0) block.content = parts;
  if (m.isError) block.is_error = true;
  return block;
}

function textOf(m: ChatMessage): string {
  return m.content
    .filter((p): p is Extract<ContentPart, { type: "text" }> => p.type === "text")
    .map((p) => p.text)
    .join("\n");
}

/**
 * Convert the conversation. System and developer messages, wherever they stand, are concatenated
 * into `system` (Anthropic cannot place system text mid-conversation). Consecutive turns of the
 * same role are merged, so tool messages following an assistant turn become ONE user turn whose
 * tool_result blocks come first.
 */
export function convertToAnthropicMessages(messages: ChatMessage[]): AnthropicPrompt {
  const system: AnthropicTextBlock[] = [];
  const out: AnthropicMessage[] = [];

  const push = (role: AnthropicMessage["role"], blocks: AnthropicContentBlock[]) => {
    if (blocks.length === 0) return; // the API rejects empty turns
    const last = out.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };

  for (const m of messages) {
    switch (m.role) {
      case "system":
      case "developer": {
        const t = textOf(m);
        const hint = m.content.findLast((p) => p.cache)?.cache;
        if (t.trim() !== "") system.push({ type: "text", text: t, ...cacheControl(hint) });
        break;
      }
      case "user":
        push("user", convertParts(m.content));
        break;
      case "assistant": {
        // Thinking comes first in its turn, replayed as it was received.
        const blocks: AnthropicContentBlock[] = (m.reasoningBlocks ?? []).map((r) =>
          r.redacted !== undefined ? { type: "redacted_thinking", data: r.redacted } : { type: "thinking", thinking: r.text, signature: r.signature ?? "" },
        );
        blocks.push(...convertParts(m.content));
        for (const c of m.toolCalls ?? []) blocks.push({ type: "tool_use", id: c.id, name: c.name, input: parseArguments(c.arguments) });
        push("assistant", blocks);
        break;
      }
      case "tool":
        push("user", [toolResult(m)]);
        break;
    }
  }

  // tool_result blocks must lead their user turn (a user message after the tool messages merges in).
  for (const m of out) {
    if (m.role !== "user") continue;
    const results = m.content.filter((b) => b.type === "tool_result");
    if (results.length > 0 && results.length < m.content.length) {
      m.content = [...results, ...m.content.filter((b) => b.type !== "tool_result")];
    }
  }

  // A final assistant turn is a prefill, which the API rejects if it ends with whitespace.
  const last = out.at(-1);
  if (last?.role === "assistant") {
    const tail = last.content.at(-1);
    if (tail?.type === "text") {
      tail.text = tail.text.trimEnd();
      if (tail.text === "") last.content.pop();
      if (last.content.length === 0) out.pop();
    }
  }

  let sys: AnthropicPrompt["system"];
  if (system.some((b) => b.cache_control)) sys = system;
  else if (system.length > 0) sys = system.map((b) => b.text).join("\n\n");
  return { system: sys, messages: out };
}

/** `strict`: the model has structured outputs, so a tool's `strict` is sent (its calls then follow its schema). */
export function convertToAnthropicTools(tools: ToolDef[], strict = false): AnthropicTool[] {
  return tools.map((t) => {
    const schema: Record<string, unknown> = t.parameters ? { ...t.parameters } : { type: "object", properties: {} };
    if (schema.type === undefined) schema.type = "object";
    const tool: AnthropicTool = { name: t.name, input_schema: schema };
    if (t.description) tool.description = t.description;
    if (t.strict && strict) tool.strict = true;
    return { ...tool, ...cacheControl(t.cache) };
  });
}

/**
 * Tools and tool_choice together: tool_choice is only sent with tools (the API rejects it alone).
 * parallelToolCalls=false becomes `disable_parallel_tool_use`, which Anthropic puts on tool_choice.
 */
export function prepareAnthropicTools(
  tools: ToolDef[] | undefined,
  toolChoice: ToolChoice | undefined,
  parallelToolCalls: boolean | undefined,
  strict = false,
): { tools?: AnthropicTool[]; tool_choice?: AnthropicToolChoice } {
  if (!tools || tools.length === 0) return {};
  const serial = parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  let choice: AnthropicToolChoice | undefined;
  switch (toolChoice?.type) {
    case undefined:
      choice = parallelToolCalls === false ? { type: "auto", ...serial } : undefined;
      break;
    case "auto":
      choice = { type: "auto", ...serial };
      break;
    case "none":
      choice = { type: "none" };
      break;
    case "required":
      choice = { type: "any", ...serial };
      break;
    case "tool":
      choice = { type: "tool", name: toolChoice.name, ...serial };
      break;
  }
  const out: { tools?: AnthropicTool[]; tool_choice?: AnthropicToolChoice } = { tools: convertToAnthropicTools(tools, strict) };
  if (choice) out.tool_choice = choice;
  return out;
}
