// The Chat Completions adapter: one translator for OpenAI, Azure OpenAI, OpenRouter and
// OpenAI-compatible servers. What differs between them is data (an OpenAIDialect resolved once per
// connection from its type, api-version and compat quirks), not code.

import { buildMistralOcrRequest, ocrPath, parseMistralOcrResponse } from "./mistral-ocr.ts";
import { azureSupports } from "../../config/model-params.ts";
import type { CompatQuirks, ProviderConfig } from "../../config/types.ts";
import { header, tryJson } from "../headers.ts";
import type { ChatResult, HttpRequestSpec, ProviderAdapter, ToolChoice, UpstreamRequest } from "../types.ts";
import { ProviderError } from "../types.ts";
import { convertToOpenAIMessages } from "./convert-to-openai-messages.ts";
import { buildOpenAIEmbeddingBody, embeddingsPath, parseOpenAIEmbeddingResponse } from "./openai-embeddings.ts";
import { finishReasonFor } from "./map-openai-finish-reason.ts";
import { buildOpenAIRerankBody, parseOpenAIRerankResponse, RERANK_PATH } from "./openai-rerank.ts";
import { buildOpenAIImageBody, buildOpenAIImageEdit, imagesPath, parseOpenAIImageResponse } from "./openai-images.ts";
import { buildOpenAIModerationBody, moderationsPath, parseOpenAIModerationResponse } from "./openai-moderation.ts";
import { audioPath, buildOpenAISpeech, buildOpenAITranscription, buildOpenAITranscriptionStream, openAISpeechDecoder, openAITranscriptionDecoder, parseOpenAITranscription } from "./openai-audio.ts";
import type {
  OpenAIChatRequest,
  OpenAIChatResponseWire,
  OpenAIResponseFormat,
  OpenAIToolCallWire,
  OpenAIToolChoice,
} from "./openai-api-types.ts";
import { classifyOpenAIError, errorFromPayload, isObject } from "./openai-error.ts";
import {
  argumentsText,
  convertOpenAILogprobs,
  convertOpenAIUsage,
  createOpenAIStreamTranslator,
  readPath,
  reasoningText,
  splitContent,
  withUsage,
} from "./openai-stream.ts";

/** Everything that differs between the dialects, as data. */
export interface OpenAIDialect {
  /** Chat completions path and query relative to the base URL; `{model}` stands for the URL-encoded model. */
  path: string;
  /** Where the API key goes: `authorization: Bearer <key>`, or Azure's `api-key: <key>`. */
  authHeader: "authorization" | "api-key";
  quirks: CompatQuirks;
  /** `reasoning_effort: "low"`, or OpenRouter's `reasoning: {effort: "low"}`. */
  reasoningField: "reasoning_effort" | "reasoning";
  /** The dialect reports `usage.cost` in USD (OpenRouter). */
  reportsCost: boolean;
}

/** Resolve a connection's dialect: its type picks the base, its compat quirks and api-version refine it. */
export function resolveOpenAIDialect(conn: ProviderConfig): OpenAIDialect {
  const bearer = { authHeader: "authorization" as const, reasoningField: "reasoning_effort" as const, reportsCost: false };
  switch (conn.type) {
    case "openai":
    case "openai-compatible":
      return { ...bearer, path: "/chat/completions", quirks: conn.compat };
    case "openrouter":
      return {
        path: "/chat/completions",
        authHeader: "authorization",
        // Usage is always in the last chunk (stream_options is a documented no-op); `system` and
        // `max_tokens` are what OpenRouter maps onto every upstream.
        quirks: { maxTokensField: "max_tokens", streamUsage: false, developerRole: false, dropFields: conn.compat.dropFields, usagePaths: [] },
        reasoningField: "reasoning",
        reportsCost: true,
      };
    case "azure":
      return { ...bearer, authHeader: "api-key", ...azureDialect(conn.apiVersion?.trim() ?? "", conn.compat.dropFields) };
    default:
      throw new Error(`the OpenAI adapter does not speak provider type "${conn.type}"`);
  }
}

/**
 * Azure: the api-version picks the URL family and which fields exist (the table in
 * config/model-params.ts). Parameters a version lacks are dropped by the router, which reports
 * them; here only the wire details follow (field names, stream_options, the developer role), and
 * the gated parameters are dropped again for callers that bypass the router.
 */
function azureDialect(apiVersion: string, dropFields: string[]): Pick<OpenAIDialect, "path" | "quirks"> {
  const current: CompatQuirks = { maxTokensField: "max_completion_tokens", streamUsage: true, developerRole: true, dropFields, usagePaths: [] };
  if (apiVersion === "") return { path: "/openai/v1/chat/completions", quirks: current };
  const query = `?api-version=${encodeURIComponent(apiVersion)}`;
  // "v1" / "preview" select the v1 family with an explicit api-version.
  if (!/^\d{4}-\d{2}-\d{2}/.test(apiVersion)) return { path: `/openai/v1/chat/completions${query}`, quirks: current };
  const gated = (["seed", "parallel_tool_calls", "reasoning_effort"] as const).filter((f) => !azureSupports(apiVersion, f));
  return {
    path: `/openai/deployments/{model}/chat/completions${query}`,
    quirks: {
      maxTokensField: azureSupports(apiVersion, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
      streamUsage: azureSupports(apiVersion, "stream_options"),
      developerRole: azureSupports(apiVersion, "developer_role"),
      dropFields: [...gated, ...dropFields],
      usagePaths: [],
    },
  };
}

/** The adapter for a connection of type openai, azure, openrouter or openai-compatible. */
export function createOpenAIAdapter(conn: ProviderConfig): ProviderAdapter {
  const dialect = resolveOpenAIDialect(conn);
  const q = dialect.quirks;
  const baseHeaders: Record<string, string> = { "content-type": "application/json" };
  if (conn.apiKey) baseHeaders[dialect.authHeader] = dialect.authHeader === "api-key" ? conn.apiKey : `Bearer ${conn.apiKey}`;
  for (const [k, v] of Object.entries(conn.headers)) baseHeaders[k.toLowerCase()] = v;
  const embedPath = embeddingsPath(dialect.path);
  // Only OpenAI-compatible servers (vLLM, Jina, Infinity) have a /rerank: the others get no rerank at all.
  const rerank: Pick<ProviderAdapter, "buildRerankRequest" | "parseRerankResponse"> =
    conn.type === "openai-compatible"
      ? {
          buildRerankRequest: (req) => ({
            method: "POST",
            path: RERANK_PATH,
            headers: { ...baseHeaders, accept: "application/json" },
            body: JSON.stringify(buildOpenAIRerankBody(req)),
          }),
          parseRerankResponse: (body, req, headers) => parseOpenAIRerankResponse(body, req, headers, conn.name),
        }
      : {};

  // Image generation: OpenAI's, Azure's and OpenAI-compatible servers' /images/generations (OpenRouter has none).
  const imagePath = imagesPath(dialect.path);
  const editPath = imagesPath(dialect.path, "edits");
  const images: Pick<ProviderAdapter, "buildImageRequest" | "parseImageResponse"> =
    conn.type === "openrouter"
      ? {}
      : {
          buildImageRequest: (req) =>
            req.images?.length
              ? buildOpenAIImageEdit(req, editPath.replace("{model}", encodeURIComponent(req.model)), baseHeaders)
              : {
                  method: "POST",
                  path: imagePath.replace("{model}", encodeURIComponent(req.model)),
                  headers: { ...baseHeaders, accept: "application/json" },
                  body: JSON.stringify(buildOpenAIImageBody(req)),
                },
          parseImageResponse: (body, req) => parseOpenAIImageResponse(body, req),
        };

  // Audio: OpenAI's, Azure's and OpenAI-compatible servers' /audio/* (OpenRouter has none).
  const audio: Pick<ProviderAdapter, "buildTranscriptionRequest" | "parseTranscriptionResponse" | "buildTranscriptionStreamRequest" | "transcriptionDecoder" | "buildSpeechRequest" | "speechDecoder"> =
    conn.type === "openrouter"
      ? {}
      : {
          buildTranscriptionRequest: (req) =>
            buildOpenAITranscription(req, audioPath(dialect.path, req.translate ? "translations" : "transcriptions").replace("{model}", encodeURIComponent(req.model)), baseHeaders),
          parseTranscriptionResponse: (body) => parseOpenAITranscription(body),
          buildTranscriptionStreamRequest: (req) => buildOpenAITranscriptionStream(req, audioPath(dialect.path, "transcriptions").replace("{model}", encodeURIComponent(req.model)), baseHeaders),
          transcriptionDecoder: () => openAITranscriptionDecoder(),
          buildSpeechRequest: (req) => buildOpenAISpeech(req, audioPath(dialect.path, "speech").replace("{model}", encodeURIComponent(req.model)), baseHeaders),
          speechDecoder: (req, headers) => openAISpeechDecoder(req, headers),
        };

  // Moderation: OpenAI's and OpenAI-compatible servers' /moderations (Azure's content filters are not an API of this shape).
  const moderation: Pick<ProviderAdapter, "buildModerationRequest" | "parseModerationResponse"> =
    conn.type === "openai" || conn.type === "openai-compatible"
      ? {
          buildModerationRequest: (req) => ({
            method: "POST",
            path: moderationsPath(dialect.path),
            headers: { ...baseHeaders, accept: "application/json" },
            body: JSON.stringify(buildOpenAIModerationBody(req)),
          }),
          parseModerationResponse: (body) => parseOpenAIModerationResponse(body),
        }
      : {};

  // OCR: Mistral's /ocr, on OpenAI-compatible servers (Mistral's API is one).
  const ocr: Pick<ProviderAdapter, "buildOcrRequest" | "parseOcrResponse"> =
    conn.type === "openai-compatible" ? { buildOcrRequest: (req) => buildMistralOcrRequest(req, ocrPath(dialect.path), baseHeaders), parseOcrResponse: (body) => parseMistralOcrResponse(body) } : {};

  return {
    ...rerank,
    ...images,
    ...audio,
    ...moderation,
    ...ocr,
    buildEmbedRequest(req): HttpRequestSpec {
      return {
        method: "POST",
        path: embedPath.replace("{model}", encodeURIComponent(req.model)),
        headers: { ...baseHeaders, accept: "application/json" },
        body: JSON.stringify(buildOpenAIEmbeddingBody(req)),
      };
    },

    parseEmbedResponse(body, req) {
      return parseOpenAIEmbeddingResponse(body, req, {}, dialect.reportsCost);
    },
    // OpenAI takes at most 2,048 inputs per request.
    embedBatchLimit: () => 2048,

    buildRequest(req: UpstreamRequest, stream: boolean): HttpRequestSpec {
      return {
        method: "POST",
        path: dialect.path.replace("{model}", encodeURIComponent(req.model)),
        headers: { ...baseHeaders, accept: stream ? "text/event-stream" : "application/json" },
        body: JSON.stringify(buildBody(req, stream, dialect)),
      };
    },

    parseResponse(body, headers): ChatResult {
      const json = tryJson(body);
      const requestId = header(headers, "x-request-id") ?? header(headers, "apim-request-id");
      if (!isObject(json)) throw new ProviderError({ kind: "server_error", message: "upstream sent a response that is not a JSON object", requestId });
      const res = json as OpenAIChatResponseWire;
      const usage = convertOpenAIUsage(res.usage ?? q.usagePaths.map((p) => readPath(res, p)).find(isObject), dialect.reportsCost);
      // OpenRouter: a 200 can carry an error, at the top level or on the choice; the usage it still
      // reports (partial output) goes with the error, for the failed attempt to be billed on.
      if (res.error !== undefined && res.error !== null) throw withUsage(errorFromPayload(res, "server_error", headers), usage);
      const choice = Array.isArray(res.choices) ? res.choices[0] : undefined;
      if (!isObject(choice)) throw withUsage(new ProviderError({ kind: "server_error", message: "upstream response has no choices", requestId }), usage);
      if (choice.error !== undefined && choice.error !== null) throw withUsage(errorFromPayload(choice.error, "server_error", headers), usage);
      if (choice.finish_reason === "error") throw withUsage(errorFromPayload({ message: "upstream finished with an error" }, "server_error", headers), usage);

      const msg = isObject(choice.message) ? choice.message : {};
      const content = splitContent(msg.content);
      const wireCalls: OpenAIToolCallWire[] = Array.isArray(msg.tool_calls) ? msg.tool_calls.filter((tc) => isObject(tc)) : [];
      const toolCalls = wireCalls.map((tc, i) => ({
        id: typeof tc.id === "string" && tc.id !== "" ? tc.id : `call_${i}`,
        name: typeof tc.function?.name === "string" ? tc.function.name : "",
        arguments: argumentsText(tc.function?.arguments),
      }));
      const raw = typeof choice.finish_reason === "string" ? choice.finish_reason : "";
      const result: ChatResult = {
        id: typeof res.id === "string" ? res.id : "",
        model: typeof res.model === "string" ? res.model : "",
        text: content.text,
        toolCalls,
        finishReason: finishReasonFor(raw, toolCalls.length > 0),
        // OpenRouter normalises finish_reason; the raw value is the upstream provider's own.
        rawFinishReason: typeof choice.native_finish_reason === "string" && choice.native_finish_reason !== "" ? choice.native_finish_reason : raw,
      };
      const reasoning = reasoningText(msg) || content.reasoning;
      if (reasoning !== "") result.reasoning = reasoning;
      if (typeof msg.refusal === "string" && msg.refusal !== "") result.refusal = msg.refusal;
      if (usage) result.usage = usage;
      const lp = convertOpenAILogprobs((choice.logprobs as { content?: unknown } | null | undefined)?.content);
      if (lp) result.logprobs = lp;
      return result;
    },

    streamTranslator() {
      return createOpenAIStreamTranslator({ usagePaths: q.usagePaths, reportsCost: dialect.reportsCost });
    },

    classifyError(status, body, headers) {
      return classifyOpenAIError(status, body, headers);
    },
  };
}

/** The request body: mapped fields only (OpenAI rejects unknown ones), then the dialect's drops. */
function buildBody(req: UpstreamRequest, stream: boolean, dialect: OpenAIDialect): OpenAIChatRequest {
  const q = dialect.quirks;
  const body: OpenAIChatRequest = {
    model: req.model,
    messages: convertToOpenAIMessages(req.messages, { developerRole: q.developerRole }),
  };
  // tool_choice and parallel_tool_calls without tools are a 400 at OpenAI.
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => {
      const fn: NonNullable<OpenAIChatRequest["tools"]>[number]["function"] = { name: t.name };
      if (t.description !== undefined) fn.description = t.description;
      if (t.parameters !== undefined) fn.parameters = t.parameters;
      if (t.strict !== undefined) fn.strict = t.strict;
      return { type: "function", function: fn };
    });
    if (req.toolChoice) body.tool_choice = toolChoice(req.toolChoice);
    if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  }
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  // The model's field wins (reasoning models take only max_completion_tokens).
  if (req.maxOutputTokens !== undefined) body[req.params?.maxTokensField ?? q.maxTokensField] = req.maxOutputTokens;
  if (req.stop && req.stop.length > 0) body.stop = req.stop;
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.responseFormat) body.response_format = responseFormat(req.responseFormat);
  if (req.presencePenalty !== undefined) body.presence_penalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) body.frequency_penalty = req.frequencyPenalty;
  if (req.logitBias) body.logit_bias = req.logitBias;
  if (req.logprobs) {
    body.logprobs = true;
    if (req.topLogprobs !== undefined) body.top_logprobs = req.topLogprobs;
  }
  if (req.reasoningEffort !== undefined) {
    if (dialect.reasoningField === "reasoning") body.reasoning = { effort: req.reasoningEffort };
    else body.reasoning_effort = req.reasoningEffort;
  }
  if (req.user !== undefined) body.user = req.user;
  // stream_options on a unary request is a 400 at OpenAI: only ever with stream: true.
  if (stream) {
    body.stream = true;
    if (q.streamUsage) body.stream_options = { include_usage: true };
  }
  for (const f of q.dropFields) delete (body as unknown as Record<string, unknown>)[f];
  return body;
}

function toolChoice(c: ToolChoice): OpenAIToolChoice {
  return c.type === "tool" ? { type: "function", function: { name: c.name } } : c.type;
}

function responseFormat(f: NonNullable<UpstreamRequest["responseFormat"]>): OpenAIResponseFormat {
  if (f.type !== "json_schema") return { type: f.type };
  const js: { name: string; schema: typeof f.schema; strict?: boolean } = { name: f.name, schema: f.schema };
  if (f.strict !== undefined) js.strict = f.strict;
  return { type: "json_schema", json_schema: js };
}
