// The Gemini Developer API adapter: generateContent / streamGenerateContent?alt=sse with
// x-goog-api-key auth. Pure translation; the transport prefixes the connection's base URL.

import type { ProviderConfig } from "../../config/types.ts";
import type { ChatResult, HttpRequestSpec, ProviderAdapter, ToolCall } from "../types.ts";
import { bareModel, convertToGeminiRequest } from "./convert-to-gemini-messages.ts";
import { buildGeminiEmbedBody, geminiEmbedMethod, parseGeminiEmbedResponse } from "./gemini-embeddings.ts";
import { classifyGeminiError } from "./gemini-error.ts";
import { convertGeminiLogprobs, convertGeminiUsage, firstCandidate, parseGeminiResponse, promptBlockedError, readCandidateParts } from "./gemini-response.ts";
import { createGeminiStreamTranslator } from "./gemini-stream.ts";
import { buildGeminiImageBody, parseGeminiImageResponse } from "./gemini-images.ts";
import { mapGeminiFinishReason } from "./map-gemini-finish-reason.ts";

/**
 * The adapter for one connection. Its base URL is normally the bare origin
 * (`https://generativelanguage.googleapis.com`), to which `/v1beta` is added; a base URL that already
 * ends in `/v1beta` or `/v1` is used as the API root as it is.
 */
export function createGeminiAdapter(conn: ProviderConfig): ProviderAdapter {
  const secrets = conn.apiKey ? [conn.apiKey] : [];
  const root = apiRoot(conn.baseUrl);
  const headers = (): Record<string, string> => {
    const h: Record<string, string> = { ...lowerCaseKeys(conn.headers), "content-type": "application/json" };
    if (conn.apiKey) h["x-goog-api-key"] = conn.apiKey;
    return h;
  };

  return {
    buildRequest(req, stream): HttpRequestSpec {
      const method = stream ? "streamGenerateContent?alt=sse" : "generateContent";
      return {
        method: "POST",
        path: `${root}/${modelPath(req.model)}:${method}`,
        headers: headers(),
        body: JSON.stringify(convertToGeminiRequest(req)),
      };
    },

    buildImageRequest(req): HttpRequestSpec {
      return { method: "POST", path: `${root}/${modelPath(req.model)}:generateContent`, headers: headers(), body: JSON.stringify(buildGeminiImageBody(req)) };
    },
    parseImageResponse(body) {
      return parseGeminiImageResponse(body, secrets);
    },
    // Gemini's image models make one image a call.
    imagesPerCall: () => 1,

    buildEmbedRequest(req): HttpRequestSpec {
      return { method: "POST", path: `${root}/${modelPath(req.model)}:${geminiEmbedMethod(req)}`, headers: headers(), body: JSON.stringify(buildGeminiEmbedBody(req)) };
    },

    parseEmbedResponse(body, req) {
      return parseGeminiEmbedResponse(body, req, secrets);
    },
    // batchEmbedContents takes at most 100 requests.
    embedBatchLimit: () => 100,

    parseResponse(body, headers): ChatResult {
      const r = parseGeminiResponse(body, headers, secrets);
      const blocked = promptBlockedError(r);
      if (blocked) throw blocked;

      const candidate = firstCandidate(r);
      const responseId = typeof r.responseId === "string" ? r.responseId : undefined;
      let text = "";
      let reasoning: string | undefined;
      const toolCalls: ToolCall[] = [];
      for (const piece of readCandidateParts(candidate, responseId, 0)) {
        if (piece.type === "tool_call") toolCalls.push(piece.call);
        else if (piece.type === "reasoning") reasoning = (reasoning ?? "") + piece.text;
        else text += piece.text;
      }
      const raw = typeof candidate?.finishReason === "string" ? candidate.finishReason : "";
      const result: ChatResult = {
        id: responseId ?? "",
        model: typeof r.modelVersion === "string" ? r.modelVersion : "",
        text,
        toolCalls,
        finishReason: mapGeminiFinishReason(raw, toolCalls.length > 0),
        rawFinishReason: raw,
      };
      if (reasoning !== undefined) result.reasoning = reasoning;
      const lp = convertGeminiLogprobs(candidate);
      if (lp) result.logprobs = lp;
      if (r.usageMetadata !== null && typeof r.usageMetadata === "object") result.usage = convertGeminiUsage(r.usageMetadata);
      return result;
    },

    streamTranslator() {
      return createGeminiStreamTranslator(secrets);
    },

    classifyError(status, body, headers) {
      return classifyGeminiError(status, body, headers, secrets);
    },
  };
}

/** `/v1beta`, unless the base URL already names the API version. */
function apiRoot(baseUrl: string): string {
  let path = "";
  try {
    path = new URL(baseUrl).pathname;
  } catch {
    // An unparsable base URL is the transport's error to report.
  }
  return /\/v1(?:beta\d*|alpha\d*)?\/*$/.test(path) ? "" : "/v1beta";
}

/** `models/{model}`; names already carrying a collection (`tunedModels/x`) are used verbatim. */
function modelPath(model: string): string {
  const m = bareModel(model);
  return m.includes("/") ? m : `models/${encodeURIComponent(m)}`;
}

function lowerCaseKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
