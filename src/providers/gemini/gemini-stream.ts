// Translates one streamGenerateContent?alt=sse response into provider-neutral events. Every SSE
// data is a whole GenerateContentResponse carrying only the new parts; usage is cumulative; the
// finishReason comes on the last chunk; the server then just closes the connection.

import type { SseEvent, StreamEvent, StreamTranslator, Usage } from "../types.ts";
import { ProviderError } from "../types.ts";
import { convertGeminiLogprobs, convertGeminiUsage, firstCandidate, parseGeminiResponse, promptBlockedError, readCandidateParts } from "./gemini-response.ts";
import { mapGeminiFinishReason } from "./map-gemini-finish-reason.ts";

/**
 * A translator for one stream. `secrets` are scrubbed from error messages.
 *
 * - start: on the first chunk (responseId, modelVersion).
 * - text / reasoning: non-thought / thought text parts; empty parts (signature carriers) are skipped.
 * - functionCall parts arrive whole: tool_call_start (id synthesised when absent, thoughtSignature
 *   kept) immediately followed by one tool_call_delta with the full JSON arguments.
 * - logprobs: with responseLogprobs, each chunk's logprobsResult (its own tokens), after its text.
 * - finish: on the chunk with a finishReason; STOP after any function call is tool_calls.
 * - usage: whenever a chunk's cumulative usageMetadata changes (the latest is the whole so far, hidden
 *   thoughts included), so that a stream cut short is still billed on what Gemini counted.
 * - `{"error":…}` chunks throw the classified error; a blocked prompt throws content_filtered; a stream
 *   that closes before a finishReason throws stream_interrupted.
 */
export function createGeminiStreamTranslator(secrets: string[] = []): StreamTranslator {
  let started = false;
  let finished = false;
  let responseId: string | undefined;
  let toolCalls = 0;
  let usage: Usage | undefined;

  return {
    event(e: SseEvent): StreamEvent[] {
      if (e.data.trim() === "") return [];
      const chunk = parseGeminiResponse(e.data, {}, secrets);
      const blocked = promptBlockedError(chunk);
      if (blocked) throw blocked;

      const out: StreamEvent[] = [];
      if (typeof chunk.responseId === "string" && responseId === undefined) responseId = chunk.responseId;
      if (!started) {
        started = true;
        out.push({
          type: "start",
          ...(responseId !== undefined ? { id: responseId } : {}),
          ...(typeof chunk.modelVersion === "string" ? { model: chunk.modelVersion } : {}),
        });
      }

      const candidate = firstCandidate(chunk);
      for (const piece of readCandidateParts(candidate, responseId, toolCalls)) {
        if (piece.type === "tool_call") {
          const { id, name, arguments: args, signature } = piece.call;
          const index = toolCalls++;
          out.push({ type: "tool_call_start", index, id, name, ...(signature !== undefined ? { signature } : {}) });
          out.push({ type: "tool_call_delta", index, argumentsDelta: args });
        } else {
          out.push({ type: piece.type, text: piece.text });
        }
      }
      // The chunk's tokens, after the text they belong to (never the stream's first content).
      const lp = convertGeminiLogprobs(candidate);
      if (lp) out.push({ type: "logprobs", content: lp });

      const raw = candidate?.finishReason;
      if (typeof raw === "string" && raw !== "" && !finished) {
        finished = true;
        out.push({ type: "finish", finishReason: mapGeminiFinishReason(raw, toolCalls > 0), rawFinishReason: raw });
      }
      // The chunk's count covers its own parts: it follows them.
      if (chunk.usageMetadata !== null && typeof chunk.usageMetadata === "object") {
        const u = convertGeminiUsage(chunk.usageMetadata);
        if (!usage || !sameUsage(usage, u)) out.push({ type: "usage", usage: (usage = u) });
      }
      return out;
    },

    end(): StreamEvent[] {
      if (!finished) {
        throw new ProviderError({
          kind: "stream_interrupted",
          message: started ? "gemini: stream ended without a finishReason" : "gemini: stream ended before any chunk",
        });
      }
      return [];
    },
  };
}

function sameUsage(a: Usage, b: Usage): boolean {
  return (
    a.inputTokens === b.inputTokens &&
    a.outputTokens === b.outputTokens &&
    a.cachedInputTokens === b.cachedInputTokens &&
    a.cacheWriteTokens === b.cacheWriteTokens &&
    a.reasoningTokens === b.reasoningTokens
  );
}
