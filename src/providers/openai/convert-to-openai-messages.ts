// Converts provider-neutral chat messages to Chat Completions messages (wire-formats §1.2, §8.2).
// Invalid input (an image in a system or assistant message, a tool result without its call id)
// throws a bad_request ProviderError rather than being silently dropped; images a tool returned
// move to a user message after the turn's tool messages.

import type { ChatMessage, ContentPart } from "../types.ts";
import { fileAsPromptText, ProviderError } from "../types.ts";
import type { OpenAIContentPart, OpenAIMessage } from "./openai-api-types.ts";

export interface ConvertMessagesOptions {
  /** Send `developer` messages as `developer`; if false they become `system`. */
  developerRole: boolean;
}

export function convertToOpenAIMessages(messages: ChatMessage[], opts: ConvertMessagesOptions): OpenAIMessage[] {
  const out: OpenAIMessage[] = [];
  // Chat Completions' tool messages take text only. Images a tool returned (a screenshot, a file it
  // read) follow the turn's tool messages in one user message, each after a line naming its call:
  // a user message between two tool messages would break the tool_calls answer sequence.
  let images: OpenAIContentPart[] = [];
  const flush = () => {
    if (images.length) out.push({ role: "user", content: images });
    images = [];
  };
  messages.forEach((m, i) => {
    if (m.role !== "tool") flush();
    if (m.role === "tool" && m.content.some((p) => p.type === "image")) {
      const text = m.content.filter((p) => p.type === "text");
      out.push(convertMessage({ ...m, content: text.length ? text : [{ type: "text", text: "(the result is the image(s) in the next user message)" }] }, i, opts));
      images.push({ type: "text", text: `Image(s) returned by tool call ${m.toolCallId}${m.name ? ` (${m.name})` : ""}:` });
      for (const p of m.content) if (p.type === "image") images.push(convertUserPart(p, i));
      return;
    }
    out.push(convertMessage(m, i, opts));
  });
  flush();
  return out;
}

function convertMessage(m: ChatMessage, i: number, opts: ConvertMessagesOptions): OpenAIMessage {
  switch (m.role) {
    case "system":
    case "developer": {
      const role = m.role === "developer" && !opts.developerRole ? "system" : m.role;
      return withName({ role, content: textOnly(m, i) }, m.name);
    }
    case "user": {
      const parts = m.content;
      // A lone text part goes as a plain string: every compat server accepts that form.
      if (parts.length === 1 && parts[0].type === "text") return withName({ role: "user", content: parts[0].text }, m.name);
      return withName({ role: "user", content: parts.map((p) => convertUserPart(p, i)) }, m.name);
    }
    case "assistant": {
      const text = textOnly(m, i);
      const calls = m.toolCalls ?? [];
      const out: OpenAIMessage = { role: "assistant", content: text === "" && calls.length > 0 ? null : text };
      if (calls.length > 0) {
        out.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
      }
      return withName(out, m.name);
    }
    case "tool": {
      if (!m.toolCallId) throw badRequest(`messages[${i}]: a tool message needs toolCallId`);
      // Chat Completions has no name or error flag on tool messages (OpenAI rejects extra keys).
      return { role: "tool", tool_call_id: m.toolCallId, content: textOnly(m, i) };
    }
  }
}

function convertUserPart(p: ContentPart, i: number): OpenAIContentPart {
  if (p.type === "text") return { type: "text", text: p.text };
  if (p.type === "file") {
    // Chat Completions reads PDFs as file parts; a text document goes as its text.
    const text = fileAsPromptText(p);
    if (text !== undefined) return { type: "text", text };
    const data = `data:${p.mediaType};base64,${Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString("base64")}`;
    return { type: "file", file: { ...(p.filename ? { filename: p.filename } : {}), file_data: data } };
  }
  const url = imageUrl(p, i);
  return { type: "image_url", image_url: p.detail ? { url, detail: p.detail } : { url } };
}

function imageUrl(p: Extract<ContentPart, { type: "image" }>, i: number): string {
  if (p.url) return p.url;
  if (p.data) {
    if (!p.mediaType) throw badRequest(`messages[${i}]: image bytes need a mediaType`);
    return `data:${p.mediaType};base64,${Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString("base64")}`;
  }
  throw badRequest(`messages[${i}]: image part has neither url nor data`);
}

/** The text of a message whose role only takes text in Chat Completions. */
function textOnly(m: ChatMessage, i: number): string {
  let text = "";
  for (const p of m.content) {
    if (p.type !== "text") throw badRequest(`messages[${i}]: ${m.role} messages take text only (images and files go in user messages)`);
    text += p.text;
  }
  return text;
}

function withName<T extends OpenAIMessage>(msg: T, name: string | undefined): T {
  if (name !== undefined && msg.role !== "tool") (msg as { name?: string }).name = name;
  return msg;
}

function badRequest(message: string): ProviderError {
  return new ProviderError({ kind: "bad_request", message });
}
