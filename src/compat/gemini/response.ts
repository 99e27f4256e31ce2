// The engine's answers and stream events as Gemini's GenerateContentResponse, whichever provider
// answered: an OpenAI or Claude answer reads as a Gemini one. A stream is SSE whose every `data:`
// is a whole GenerateContentResponse carrying only the new parts, framed with CRLF CRLF as Google
// frames it; the last one has the finishReason and the usage.

import type { FilesSearched } from "../../engine/file-search.ts";
import { sumUsage } from "../choices.ts";
import type { Answer, Summary } from "../../engine/chat-engine.ts";
import { searchesOf, type Citation, type Searched } from "../../engine/web-search.ts";
import type { FinishReason, StreamEvent, TokenLogprob, ToolCall, Usage } from "../../providers/types.ts";

const FINISH_REASONS = new Set(["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"]);

const UNIFIED: Record<FinishReason, string> = {
  stop: "STOP",
  length: "MAX_TOKENS",
  tool_calls: "STOP",
  content_filter: "SAFETY",
  error: "OTHER",
  other: "OTHER",
};

/** Gemini's finishReason: a Gemini deployment's own value as it sent it, else the unified reason's. */
export function finishReason(s: Pick<Summary, "finishReason" | "rawFinishReason">): string {
  const raw = s.rawFinishReason ?? "";
  return FINISH_REASONS.has(raw) ? raw : UNIFIED[s.finishReason ?? "stop"];
}

/** usageMetadata: candidatesTokenCount excludes thinking, which thoughtsTokenCount holds; zeros left out, as Gemini does. */
export function usageMetadata(u: Usage): Record<string, number> {
  const thoughts = u.reasoningTokens ?? 0;
  const out: Record<string, number> = {};
  if (u.inputTokens) out.promptTokenCount = u.inputTokens;
  const candidates = Math.max(0, u.outputTokens - thoughts);
  if (candidates) out.candidatesTokenCount = candidates;
  if (thoughts) out.thoughtsTokenCount = thoughts;
  if (u.cachedInputTokens) out.cachedContentTokenCount = u.cachedInputTokens;
  out.totalTokenCount = u.inputTokens + u.outputTokens;
  return out;
}

function args(c: ToolCall): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(c.arguments || "{}");
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function callPart(c: ToolCall): Record<string, unknown> {
  const part: Record<string, unknown> = { functionCall: { id: c.id, name: c.name, args: args(c) } };
  if (c.signature) part.thoughtSignature = c.signature;
  return part;
}

/** Log probabilities as logprobsResult: each token chosen, and its alternatives when there are any. */
function logprobsResult(lp: TokenLogprob[]): { logprobsResult: Record<string, unknown>; avgLogprobs: number } {
  const tok = (t: { token: string; logprob: number }) => ({ token: t.token, logProbability: t.logprob });
  const result: Record<string, unknown> = { chosenCandidates: lp.map(tok) };
  if (lp.some((t) => t.top.length)) result.topCandidates = lp.map((t) => ({ candidates: t.top.map(tok) }));
  const sum = lp.reduce((s, t) => s + t.logprob, 0);
  return { logprobsResult: result, avgLogprobs: lp.length ? sum / lp.length : 0 };
}

/** `responseId`: the gateway's request id, which is also x-request-id. */
const responseId = (id: string) => id;

/**
 * The gateway's web search as Gemini's Google Search grounding: the query, the results as web
 * chunks, and each citation as a support (the answer's segment, in UTF-8 byte offsets of the
 * text part as Gemini counts, with the chunk it cites).
 */
export function groundingMetadata(w: Searched | undefined, citations: readonly Citation[] | undefined, text: string, files?: FilesSearched): Record<string, unknown> {
  const bytes = (i: number) => Buffer.byteLength(text.slice(0, i));
  // Web results first (the supports index them), then the file search's passages as retrieved context.
  const web = w?.results ?? [];
  return {
    ...(w ? { webSearchQueries: searchesOf(w).map((x) => x.query) } : {}),
    groundingChunks: [
      ...web.map((r) => ({ web: { uri: r.url, title: r.title } })),
      ...(files?.results ?? []).map((r) => ({ retrievedContext: { title: r.filename, text: r.text, fileSearchStore: `fileSearchStores/${r.vector_store_id}` } })),
    ],
    groundingSupports: (citations ?? []).map((c) => ({
      segment: { startIndex: bytes(c.startIndex), endIndex: bytes(c.endIndex), text: text.slice(c.startIndex, c.endIndex) },
      groundingChunkIndices: [web.findIndex((r) => r.url === c.url)].filter((i) => i >= 0),
    })),
  };
}

function candidateJson(a: Answer, index: number): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  if (a.reasoning) parts.push({ text: a.reasoning, thought: true });
  if (a.text) parts.push({ text: a.text });
  for (const c of a.toolCalls) parts.push(callPart(c));
  const candidate: Record<string, unknown> = { content: { role: "model", parts }, finishReason: finishReason(a), index };
  if (a.refusal) candidate.finishMessage = a.refusal;
  if (a.logprobs?.length) Object.assign(candidate, logprobsResult(a.logprobs));
  if (a.webSearch || a.fileSearch) candidate.groundingMetadata = groundingMetadata(a.webSearch, a.citations, a.text, a.fileSearch);
  return candidate;
}

/** A unary answer as a GenerateContentResponse; several (candidateCount) as its candidates, usage summed. */
export function generateContentJson(a: Answer | readonly Answer[]): Record<string, unknown> {
  const answers: readonly Answer[] = Array.isArray(a) ? a : [a as Answer];
  const first = answers[0];
  return { candidates: answers.map(candidateJson), usageMetadata: usageMetadata(sumUsage(answers).usage), modelVersion: first.providerModel || first.model, responseId: responseId(first.id) };
}

const chunk = (o: Record<string, unknown>) => `data: ${JSON.stringify(o)}\r\n\r\n`;

/**
 * Stream events as Gemini SSE. Text and thought text go as they come, one chunk per engine delta;
 * a tool call goes whole (Gemini sends function calls whole) once its arguments are complete, at
 * the end; log probabilities ride with the text of their delta.
 */
export function generateContentStreamWriter(id: string, model: string, index = 0, web?: Searched, files?: FilesSearched) {
  const calls = new Map<number, ToolCall>();
  let refusal = "";
  // With web search, the text is kept for the grounding supports' segments (known at the end).
  let text = "";
  const base = { modelVersion: model, responseId: responseId(id) };
  return {
    delta(events: StreamEvent[]): string {
      const parts: Record<string, unknown>[] = [];
      let lp: TokenLogprob[] | undefined;
      for (const e of events) {
        switch (e.type) {
          case "text":
            parts.push({ text: e.text });
            if (web) text += e.text;
            break;
          case "reasoning":
            parts.push({ text: e.text, thought: true });
            break;
          case "refusal":
            refusal += e.text;
            break;
          case "logprobs":
            (lp ??= []).push(...e.content);
            break;
          case "tool_call_start":
            calls.set(e.index, { id: e.id, name: e.name, arguments: "", ...(e.signature ? { signature: e.signature } : {}) });
            break;
          case "tool_call_delta": {
            const c = calls.get(e.index);
            if (c) c.arguments += e.argumentsDelta;
            break;
          }
          default:
            break;
        }
      }
      if (!parts.length) return "";
      const candidate: Record<string, unknown> = { content: { role: "model", parts }, index };
      if (lp?.length) Object.assign(candidate, logprobsResult(lp));
      return chunk({ candidates: [candidate], ...base });
    },
    /** The candidate's last chunk; `usage`: the request's so far (several candidates: those finished, summed), as Gemini's usageMetadata is a running total. */
    finish(s: Summary, usage = s.usage): string {
      const parts = [...calls.values()].map(callPart);
      const candidate: Record<string, unknown> = { content: { role: "model", parts: parts.length ? parts : [{ text: "" }] }, finishReason: finishReason(s), index };
      if (refusal) candidate.finishMessage = refusal;
      if (web || files) candidate.groundingMetadata = groundingMetadata(web, s.citations, text, files);
      return chunk({ candidates: [candidate], usageMetadata: usageMetadata(usage), ...base });
    },
  };
}
