// Reading a GenerateContentResponse, shared by the unary and the streaming path: usage
// normalisation, the candidate, tool-call ids, and errors carried inside a 200.

import type { Headers } from "../headers.ts";
import type { TokenLogprob, ToolCall, Usage } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { GeminiCandidate, GeminiLogprobsCandidate, GeminiResponse, GeminiResponsePart, GeminiUsageMetadata } from "./gemini-api-types.ts";
import { geminiErrorStatusOf, geminiStatusError, redact } from "./gemini-error.ts";

/**
 * Parse one response body or stream chunk. Throws the classified error for `{"error":…}` (its `code`
 * stands in for the HTTP status; 500 when absent), and server_error for text that is not a JSON object.
 */
export function parseGeminiResponse(text: string, headers: Headers, secrets: string[]): GeminiResponse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProviderError({ kind: "server_error", message: `gemini: response is not JSON: ${redact(text.slice(0, 100), secrets)}` });
  }
  const err = geminiErrorStatusOf(v);
  if (err) throw geminiStatusError(typeof err.code === "number" ? err.code : 500, err, headers, secrets);
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ProviderError({ kind: "server_error", message: "gemini: response is not a JSON object" });
  }
  return v as GeminiResponse;
}

/** The candidate the gateway reads (it never asks for more than one), or undefined. */
export function firstCandidate(r: GeminiResponse): GeminiCandidate | undefined {
  const c = Array.isArray(r.candidates) ? r.candidates[0] : undefined;
  return c !== null && typeof c === "object" ? c : undefined;
}

function candidateParts(c: GeminiCandidate | undefined): GeminiResponsePart[] {
  const parts = c?.content?.parts;
  return Array.isArray(parts) ? parts.filter((p) => p !== null && typeof p === "object") : [];
}

/** What one response part means to the gateway. */
export type GeminiPiece = { type: "text" | "reasoning"; text: string } | { type: "tool_call"; call: ToolCall };

/**
 * The candidate's parts in order: text, thought text (reasoning) and whole function calls, numbered
 * from `firstToolIndex`. Empty text parts (signature carriers) and unknown part kinds are skipped.
 */
export function readCandidateParts(c: GeminiCandidate | undefined, responseId: string | undefined, firstToolIndex: number): GeminiPiece[] {
  const out: GeminiPiece[] = [];
  for (const part of candidateParts(c)) {
    const fc = part.functionCall;
    if (fc !== null && typeof fc === "object" && typeof fc.name === "string") {
      const call: ToolCall = {
        id: toolCallId(fc.id, responseId, firstToolIndex++),
        name: fc.name,
        arguments: JSON.stringify(fc.args !== null && typeof fc.args === "object" ? fc.args : {}),
      };
      if (typeof part.thoughtSignature === "string") call.signature = part.thoughtSignature;
      out.push({ type: "tool_call", call });
    } else if (typeof part.text === "string" && part.text !== "") {
      out.push({ type: part.thought === true ? "reasoning" : "text", text: part.text });
    }
  }
  return out;
}

/**
 * A blocked prompt: 200 with promptFeedback.blockReason and no candidates. Returns the error to throw,
 * or undefined.
 */
export function promptBlockedError(r: GeminiResponse): ProviderError | undefined {
  const reason = r.promptFeedback?.blockReason;
  if (typeof reason !== "string" || reason === "" || firstCandidate(r) !== undefined) return undefined;
  const detail = typeof r.promptFeedback?.blockReasonMessage === "string" ? `: ${r.promptFeedback.blockReasonMessage}` : "";
  return new ProviderError({
    kind: "content_filtered",
    status: 200,
    message: `gemini: prompt blocked (${reason})${detail}`,
    providerCode: reason,
    retryable: false,
    // The prompt was read (and counted) before it was blocked: the attempt is billed on it.
    ...(r.usageMetadata !== null && typeof r.usageMetadata === "object" ? { usage: convertGeminiUsage(r.usageMetadata) } : {}),
  });
}

/**
 * A tool-call id: Gemini's own when it sends one, else `call_<responseId>_<n>` (n counts calls in the
 * response or stream). Deterministic, and unique across turns since responseIds are; the history
 * converter echoes it back as functionCall.id / functionResponse.id, which Gemini accepts.
 */
function toolCallId(id: unknown, responseId: string | undefined, n: number): string {
  if (typeof id === "string" && id !== "") return id;
  return responseId ? `call_${responseId}_${n}` : `call_${n}`;
}

/**
 * usageMetadata → Usage. promptTokenCount already includes cached tokens; tool-use prompt tokens are
 * input too. candidatesTokenCount excludes thinking, so thoughts are added to output.
 */
export function convertGeminiUsage(u: GeminiUsageMetadata): Usage {
  const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : 0);
  const thoughts = n(u.thoughtsTokenCount);
  return {
    inputTokens: n(u.promptTokenCount) + n(u.toolUsePromptTokenCount),
    outputTokens: n(u.candidatesTokenCount) + thoughts,
    cachedInputTokens: n(u.cachedContentTokenCount),
    cacheWriteTokens: 0,
    reasoningTokens: thoughts,
  };
}

/**
 * `logprobsResult` → tokens as OpenAI gives them: step i's chosen token with its log probability,
 * its UTF-8 bytes, and step i's top candidates as the alternatives. A missing logProbability is 0
 * (proto3 JSON leaves zeros out: the model was certain). Undefined when there are none.
 */
export function convertGeminiLogprobs(c: GeminiCandidate | undefined): TokenLogprob[] | undefined {
  const r = c?.logprobsResult;
  const chosen = r !== null && typeof r === "object" && Array.isArray(r.chosenCandidates) ? r.chosenCandidates : undefined;
  if (!chosen || chosen.length === 0) return undefined;
  const tops = Array.isArray(r!.topCandidates) ? r!.topCandidates : [];
  const out: TokenLogprob[] = [];
  for (let i = 0; i < chosen.length; i++) {
    const t = geminiToken(chosen[i]);
    if (!t) continue;
    const alts = tops[i]?.candidates;
    const top: TokenLogprob["top"] = [];
    if (Array.isArray(alts)) {
      for (const a of alts) {
        const x = geminiToken(a);
        if (x) top.push(x);
      }
    }
    out.push({ ...t, top });
  }
  return out.length ? out : undefined;
}

function geminiToken(v: GeminiLogprobsCandidate | null | undefined): { token: string; logprob: number; bytes: number[] } | undefined {
  if (v === null || typeof v !== "object" || typeof v.token !== "string") return undefined;
  const lp = v.logProbability === undefined ? 0 : v.logProbability;
  if (typeof lp !== "number" || !Number.isFinite(lp)) return undefined;
  return { token: v.token, logprob: lp, bytes: [...Buffer.from(v.token, "utf8")] };
}
