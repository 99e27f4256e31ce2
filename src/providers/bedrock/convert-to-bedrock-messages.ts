// Provider-neutral messages, tools and tool choice → Converse shapes: system text moves to the
// top-level `system`, tool results become toolResult blocks of one user turn, turns alternate,
// cache hints become cachePoint blocks placed after the part they close.

import { Buffer } from "node:buffer";
import type { CacheHint, ChatMessage, ContentPart, ToolChoice, ToolDef } from "../types.ts";
import { ProviderError } from "../types.ts";
import type {
  BedrockCachePoint,
  BedrockContentBlock,
  BedrockDocumentBlock,
  BedrockDocumentFormat,
  BedrockImageBlock,
  BedrockImageFormat,
  BedrockMessage,
  BedrockSystemBlock,
  BedrockTextBlock,
  BedrockToolChoice,
  BedrockToolResultBlock,
  BedrockToolSpec,
} from "./bedrock-api-types.ts";

export interface BedrockPrompt {
  system?: BedrockSystemBlock[];
  messages: BedrockMessage[];
}

export interface ConvertOptions {
  /** Send cache hints as cachePoint blocks (false: the model has no prompt cache, hints are dropped). */
  cachePoints: boolean;
  /** The model has structured outputs: a tool's `strict` is sent (its calls then follow its schema). */
  strictTools?: boolean;
}

function badRequest(message: string): ProviderError {
  return new ProviderError({ kind: "bad_request", message: `bedrock: ${message}` });
}

const IMAGE_FORMATS: Record<string, BedrockImageFormat> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/jpg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp",
};

function mediaBlock(mediaType: string, b64: string, n: number): BedrockImageBlock | BedrockDocumentBlock {
  const mt = mediaType.trim().toLowerCase();
  // Converse names documents; the name must be unique in the request.
  if (mt === "application/pdf") return { document: { format: "pdf", name: `document-${n}`, source: { bytes: b64 } } };
  const format = IMAGE_FORMATS[mt];
  if (!format) throw badRequest(`image media type "${mediaType}" is not supported (png, jpeg, gif, webp or pdf)`);
  return { image: { format, source: { bytes: b64 } } };
}

const DOCUMENT_FORMATS: Record<string, BedrockDocumentFormat> = {
  "application/pdf": "pdf",
  "text/plain": "txt",
  "text/markdown": "md",
  "text/csv": "csv",
  "text/html": "html",
};

/**
 * A file as a Converse document. Its name (unique in the request; Converse allows letters, digits,
 * single spaces, hyphens, parentheses and square brackets) is the file's, cleaned, numbered.
 */
function convertFile(part: Extract<ContentPart, { type: "file" }>, n: number): BedrockDocumentBlock {
  const format = DOCUMENT_FORMATS[part.mediaType];
  if (!format) throw badRequest(`file media type "${part.mediaType}" is not supported`);
  const base = (part.filename ?? "")
    .replace(/\.[A-Za-z0-9]{1,5}$/, "")
    .replace(/[^A-Za-z0-9\s\-()[\]]/g, "-")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 100);
  return { document: { format, name: `${base || "document"}-${n}`, source: { bytes: Buffer.from(part.data).toString("base64") } } };
}

/** Converse takes image bytes only: an https URL is refused here rather than by a 400 upstream. */
function convertImage(part: Extract<ContentPart, { type: "image" }>, n: number): BedrockImageBlock | BedrockDocumentBlock {
  if (part.data !== undefined) {
    if (!part.mediaType) throw badRequest("image bytes need a media type");
    return mediaBlock(part.mediaType, Buffer.from(part.data).toString("base64"), n);
  }
  const url = part.url ?? "";
  if (url.startsWith("data:")) {
    const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
    if (!m || !m[2].split(";").includes("base64")) throw badRequest("image data URLs must be base64-encoded");
    const mt = m[1] || part.mediaType || "";
    if (!mt) throw badRequest("image data URL has no media type");
    return mediaBlock(mt, m[3].replace(/\s+/g, ""), n);
  }
  if (/^https?:\/\//i.test(url)) {
    throw badRequest("Converse does not fetch image URLs: send the image as bytes or a base64 data: URL");
  }
  throw badRequest("images must be data: URLs or bytes");
}

function cachePoint(hint: CacheHint): BedrockCachePoint {
  return { cachePoint: hint.ttl === "1h" ? { type: "default", ttl: "1h" } : { type: "default" } };
}

/** Numbering of documents across the request (their names must be unique). */
interface Counter {
  docs: number;
}

/** Text and image parts as blocks, each followed by its cache point; empty text is dropped (the API rejects blank text). */
function convertParts(parts: ContentPart[], opts: ConvertOptions, c: Counter): (BedrockTextBlock | BedrockImageBlock | BedrockDocumentBlock | BedrockCachePoint)[] {
  const out: (BedrockTextBlock | BedrockImageBlock | BedrockDocumentBlock | BedrockCachePoint)[] = [];
  for (const p of parts) {
    if (p.type === "text") {
      if (p.text.trim() === "") continue;
      out.push({ text: p.text });
    } else if (p.type === "file") {
      out.push(convertFile(p, ++c.docs));
    } else {
      out.push(convertImage(p, ++c.docs));
    }
    if (p.cache && opts.cachePoints) out.push(cachePoint(p.cache));
  }
  return out;
}

/** Converse wants `input` as a JSON object; arguments that are not one become `{}`. */
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

function toolResult(m: ChatMessage, opts: ConvertOptions, c: Counter): BedrockContentBlock[] {
  if (!m.toolCallId) throw badRequest("a tool message needs the id of the call it answers");
  const parts = convertParts(m.content, opts, c);
  // A cache point cannot sit inside a tool result: it follows the result block instead.
  const inner = parts.filter((b): b is BedrockTextBlock | BedrockImageBlock | BedrockDocumentBlock => !("cachePoint" in b));
  const points = parts.filter((b): b is BedrockCachePoint => "cachePoint" in b);
  const block: BedrockToolResultBlock = {
    toolResult: { toolUseId: m.toolCallId, content: inner.length > 0 ? inner : [{ text: "(empty)" }], ...(m.isError ? { status: "error" as const } : {}) },
  };
  return points.length > 0 ? [block, points.at(-1)!] : [block];
}

function textOf(m: ChatMessage): string {
  return m.content
    .filter((p): p is Extract<ContentPart, { type: "text" }> => p.type === "text")
    .map((p) => p.text)
    .join("\n");
}

/**
 * Convert the conversation. System and developer messages, wherever they stand, become `system`
 * blocks (Converse has no system role in `messages`). Consecutive turns of the same role are
 * merged, so tool messages after an assistant turn become ONE user turn, tool results first.
 */
export function convertToBedrockMessages(messages: ChatMessage[], opts: ConvertOptions = { cachePoints: true }): BedrockPrompt {
  const system: BedrockSystemBlock[] = [];
  const out: BedrockMessage[] = [];
  const counter: Counter = { docs: 0 };

  const push = (role: BedrockMessage["role"], blocks: BedrockContentBlock[]) => {
    if (blocks.every((b) => "cachePoint" in b)) return; // the API rejects empty turns
    const last = out.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };

  for (const m of messages) {
    switch (m.role) {
      case "system":
      case "developer": {
        const t = textOf(m);
        if (t.trim() === "") break;
        system.push({ text: t });
        const hint = m.content.findLast((p) => p.cache)?.cache;
        if (hint && opts.cachePoints) system.push(cachePoint(hint));
        break;
      }
      case "user":
        push("user", convertParts(m.content, opts, counter));
        break;
      case "assistant": {
        // Reasoning blocks lead their turn, as the model produced them.
        const blocks: BedrockContentBlock[] = (m.reasoningBlocks ?? []).map(
          (r): BedrockContentBlock =>
            r.redacted !== undefined
              ? { reasoningContent: { redactedContent: r.redacted } }
              : { reasoningContent: { reasoningText: r.signature ? { text: r.text, signature: r.signature } : { text: r.text } } },
        );
        blocks.push(...convertParts(m.content, opts, counter));
        for (const c of m.toolCalls ?? []) blocks.push({ toolUse: { toolUseId: c.id, name: c.name, input: parseArguments(c.arguments) } });
        push("assistant", blocks);
        break;
      }
      case "tool":
        push("user", toolResult(m, opts, counter));
        break;
    }
  }

  // Tool results must lead their user turn (a user message after the tool messages merges in).
  for (const m of out) {
    if (m.role !== "user") continue;
    const isResult = (b: BedrockContentBlock, i: number, all: BedrockContentBlock[]) =>
      "toolResult" in b || ("cachePoint" in b && i > 0 && "toolResult" in all[i - 1]);
    const results = m.content.filter(isResult);
    if (results.length > 0 && results.length < m.content.length) m.content = [...results, ...m.content.filter((b, i, all) => !isResult(b, i, all))];
  }

  // A final assistant turn is a prefill, which Claude rejects if it ends with whitespace.
  const last = out.at(-1);
  if (last?.role === "assistant") {
    const tail = last.content.at(-1);
    if (tail && "text" in tail) {
      tail.text = tail.text.trimEnd();
      if (tail.text === "") last.content.pop();
      if (last.content.length === 0) out.pop();
    }
  }
  return { ...(system.length > 0 ? { system } : {}), messages: out };
}

/** Tool definitions as toolSpecs (the schema defaults to an empty object schema). */
export function convertToBedrockTools(tools: ToolDef[], opts: ConvertOptions = { cachePoints: true }): (BedrockToolSpec | BedrockCachePoint)[] {
  const out: (BedrockToolSpec | BedrockCachePoint)[] = [];
  for (const t of tools) {
    const json: Record<string, unknown> = t.parameters ? { ...t.parameters } : { type: "object", properties: {} };
    if (json.type === undefined) json.type = "object";
    out.push({ toolSpec: { name: t.name, ...(t.description ? { description: t.description } : {}), inputSchema: { json }, ...(t.strict && opts.strictTools ? { strict: true } : {}) } });
    // A cache hint on a tool caches the definitions up to it.
    if (t.cache && opts.cachePoints) out.push(cachePoint(t.cache));
  }
  return out;
}

/** Names of the tools the history used (toolUse blocks), in first-use order. */
function historyToolNames(messages: BedrockMessage[]): string[] {
  const names = new Set<string>();
  for (const m of messages) for (const b of m.content) if ("toolUse" in b) names.add(b.toolUse.name);
  return [...names];
}

function hasToolBlocks(messages: BedrockMessage[]): boolean {
  return messages.some((m) => m.content.some((b) => "toolUse" in b || "toolResult" in b));
}

/**
 * The toolConfig, if any. Converse rejects toolUse and toolResult blocks without a toolConfig, so
 * a history with tool blocks always gets one (tools the request no longer lists are declared with
 * an open schema). Converse has no "none" choice: with "none" the tools are only sent when the
 * history needs them, and then without a choice (the model may still call one).
 */
export function prepareBedrockTools(
  tools: ToolDef[] | undefined,
  toolChoice: ToolChoice | undefined,
  messages: BedrockMessage[],
  opts: ConvertOptions = { cachePoints: true },
): { toolConfig?: { tools: (BedrockToolSpec | BedrockCachePoint)[]; toolChoice?: BedrockToolChoice } } {
  const needed = hasToolBlocks(messages);
  let specs = tools && tools.length > 0 ? convertToBedrockTools(tools, opts) : [];
  if (toolChoice?.type === "none" && !needed) return {};
  if (needed) {
    const declared = new Set(specs.map((s) => ("toolSpec" in s ? s.toolSpec.name : "")));
    for (const name of historyToolNames(messages)) {
      if (!declared.has(name)) specs = [...specs, { toolSpec: { name, inputSchema: { json: { type: "object", properties: {} } } } }];
    }
  }
  if (!specs.some((s) => "toolSpec" in s)) return {};
  let choice: BedrockToolChoice | undefined;
  switch (toolChoice?.type) {
    case "auto":
      choice = { auto: {} };
      break;
    case "required":
      choice = { any: {} };
      break;
    case "tool":
      choice = { tool: { name: toolChoice.name } };
      break;
    default:
      choice = undefined;
  }
  return { toolConfig: { tools: specs, ...(choice ? { toolChoice: choice } : {}) } };
}
