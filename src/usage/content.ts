// A chat request's content for the usage exports that capture it (`capture_content: true`, today the
// `langfuse` type): the messages as they were sent to the model and the answer, in OpenAI's chat shape
// (what LLM observability tools render as a conversation), and the sampling settings.
//
// Captured only when such an export is configured: otherwise the engine never builds it, and a
// stream's text is not even gathered. What is sent is what the provider saw: the input guardrails'
// redactions are in it. Bytes never are: an image or a document becomes a line saying what it was
// (a data URL's bytes too); an https image URL stays. A text longer than the export's
// `max_content_chars` is cut, with how much was left out.

import { fileAsPromptText, type ChatMessage, type OcrPage, type OcrRequest, type SearchHit, type ToolCall, type UpstreamRequest } from "../providers/types.ts";
import type { RequestContent } from "./record.ts";

/** The answer as the engine has it, whole. */
export interface AnswerContent {
  text: string;
  toolCalls?: readonly ToolCall[];
  refusal?: string;
  /** The model's reasoning as the provider returned it (summaries, or the thinking text), when it did. */
  reasoning?: string;
}

const cut = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max)}… [${s.length - max} more characters]`);

/** `image/png, 12.3 KB`. */
const described = (mediaType: string | undefined, bytes: number | undefined): string => `${mediaType ?? "unknown type"}${bytes === undefined ? "" : `, ${bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`}`}`;

function messageOf(m: ChatMessage, max: number, count: { chars: number }): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role };
  const parts: Record<string, unknown>[] = [];
  let plain = true;
  for (const p of m.content) {
    if (p.type === "text") {
      const text = cut(p.text, max);
      count.chars += text.length;
      parts.push({ type: "text", text });
    } else if (p.type === "image") {
      plain = false;
      if (p.url && !p.url.startsWith("data:")) parts.push({ type: "image_url", image_url: { url: p.url } });
      else {
        const mediaType = p.mediaType ?? (p.url ? /^data:([^;,]+)/.exec(p.url)?.[1] : undefined);
        parts.push({ type: "text", text: `[image: ${described(mediaType, p.data?.length ?? (p.url ? Math.floor((p.url.length - p.url.indexOf(",") - 1) * 0.75) : undefined))}]` });
      }
    } else {
      plain = false;
      // A text document is text the model read; a PDF is named only.
      const text = fileAsPromptText(p);
      if (text !== undefined) {
        const t = cut(text, max);
        count.chars += t.length;
        parts.push({ type: "text", text: t });
      } else parts.push({ type: "text", text: `[file${p.filename ? ` ${p.filename}` : ""}: ${described(p.mediaType, p.data.length)}]` });
    }
  }
  // One text part reads as a plain string, as most callers send it.
  out.content = plain && parts.length <= 1 ? ((parts[0]?.text as string | undefined) ?? "") : parts;
  if (m.toolCalls?.length) out.tool_calls = toolCallsOf(m.toolCalls, max, count);
  if (m.toolCallId) out.tool_call_id = m.toolCallId;
  if (m.name) out.name = m.name;
  return out;
}

function toolCallsOf(calls: readonly ToolCall[], max: number, count: { chars: number }): Record<string, unknown>[] {
  return calls.map((c) => {
    const args = cut(c.arguments, max);
    count.chars += args.length;
    return { id: c.id, type: "function", function: { name: c.name, arguments: args } };
  });
}

/** The sampling settings a request set, by OpenAI's names. */
function parametersOf(r: Omit<UpstreamRequest, "model">): Record<string, string | number | boolean> {
  const p: Record<string, string | number | boolean> = {};
  if (r.temperature !== undefined) p.temperature = r.temperature;
  if (r.topP !== undefined) p.top_p = r.topP;
  if (r.topK !== undefined) p.top_k = r.topK;
  if (r.maxOutputTokens !== undefined) p.max_tokens = r.maxOutputTokens;
  if (r.stop?.length) p.stop = r.stop.join(", ");
  if (r.seed !== undefined) p.seed = r.seed;
  if (r.presencePenalty !== undefined) p.presence_penalty = r.presencePenalty;
  if (r.frequencyPenalty !== undefined) p.frequency_penalty = r.frequencyPenalty;
  if (r.reasoningEffort !== undefined) p.reasoning_effort = r.reasoningEffort;
  if (r.responseFormat) p.response_format = r.responseFormat.type;
  if (r.tools?.length) p.tools = r.tools.map((t) => t.name).join(", ");
  if (r.toolChoice) p.tool_choice = r.toolChoice.type === "tool" ? r.toolChoice.name : r.toolChoice.type;
  return p;
}

/**
 * A search's content: the queries as they were searched (after the input guardrails' redactions)
 * as the user's message, and the pages found as the answer (each its number, title, address and
 * text), texts cut at `maxChars`.
 */
export function searchContent(queries: readonly string[], results: readonly SearchHit[], maxChars: number): RequestContent {
  const count = { chars: 0 };
  const input = [{ role: "user", content: cut(queries.join("\n"), maxChars) }];
  count.chars += (input[0].content as string).length;
  const pages = cut(results.map((r, i) => `[${i + 1}] ${r.title}\n${r.url}${r.published ? `\nPublished ${r.published}` : ""}\n${r.snippet}`).join("\n\n"), maxChars);
  count.chars += pages.length;
  return { input, output: { role: "assistant", content: pages }, parameters: { max_results: results.length }, chars: count.chars };
}

/**
 * An OCR's content: the document named as the user's message (its name, media type and size, or
 * its URL: never its bytes), and the pages read as the answer, each after a `<!-- page N -->` line,
 * cut at `maxChars`.
 */
export function ocrContent(r: Omit<OcrRequest, "model">, pages: readonly OcrPage[], maxChars: number): RequestContent {
  const d = r.document;
  const doc = "url" in d ? d.url : `${r.documentName ? `${r.documentName} ` : ""}(${d.mediaType}, ${d.data.byteLength} bytes)`;
  const input = [{ role: "user", content: cut(`[document] ${doc}`, maxChars) }];
  const text = cut(pages.map((p) => `<!-- page ${p.index + 1} -->\n${p.markdown}`).join("\n\n"), maxChars);
  return { input, output: { role: "assistant", content: text }, parameters: { ...(r.pages?.length ? { pages: r.pages.join(",") } : {}), ...(r.tableFormat ? { table_format: r.tableFormat } : {}) }, chars: (input[0].content as string).length + text.length };
}

/**
 * A request's content: `sent` the messages as they left for the model, `request` its settings,
 * `answer` what came back (absent when nothing did), texts cut at `maxChars`.
 */
export function requestContent(sent: readonly ChatMessage[], request: Omit<UpstreamRequest, "model">, answer: AnswerContent | undefined, maxChars: number): RequestContent {
  const count = { chars: 0 };
  const input = sent.map((m) => messageOf(m, maxChars, count));
  let output: Record<string, unknown> | undefined;
  if (answer) {
    const text = cut(answer.text, maxChars);
    count.chars += text.length;
    output = { role: "assistant", content: text };
    // As OpenAI-compatible servers name it (DeepSeek, vLLM): what observability tools show as reasoning.
    if (answer.reasoning) {
      const r = cut(answer.reasoning, maxChars);
      count.chars += r.length;
      output.reasoning_content = r;
    }
    if (answer.toolCalls?.length) output.tool_calls = toolCallsOf(answer.toolCalls, maxChars, count);
    if (answer.refusal) output.refusal = answer.refusal;
  }
  return { input, ...(output ? { output } : {}), parameters: parametersOf(request), chars: count.chars };
}
