// The Google Vertex AI adapter: publisher models under one project and location, spoken in their
// publisher's own body (Gemini's generateContent, Anthropic's Messages via rawPredict, Mistral's
// OCR via rawPredict), with a
// Google OAuth access token added just before each send. Translation is the Gemini and Anthropic
// adapters'; this file owns only the Vertex paths, the body differences and the credentials.

import type { ProviderConfig } from "../../config/types.ts";
import { buildAnthropicRequestBody, createAnthropicAdapter } from "../anthropic/index.ts";
import { createGeminiAdapter } from "../gemini/index.ts";
import { buildMistralOcrBody, parseMistralOcrResponse } from "../openai/mistral-ocr.ts";
import type { EmbedRequest, EmbedResult, HttpRequestSpec, ImageRequest, OcrRequest, ProviderAdapter, UpstreamRequest } from "../types.ts";
import { ProviderError } from "../types.ts";
import { createVertexTokenSource, type VertexTokenSource } from "./vertex-auth.ts";
import { buildVertexEmbedBody, parseVertexEmbedResponse } from "./vertex-embed.ts";
import { buildImagenBody, IMAGEN_SAMPLES_PER_CALL, isImagen, parseImagenResponse } from "./vertex-imagen.ts";
import { classifyVertexError, type VertexPublisher } from "./vertex-error.ts";

/** What Claude on Vertex takes in the body instead of the `anthropic-version` header. */
export const VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16";

/**
 * Which publisher serves a model: an explicit `anthropic/`, `google/` or `mistralai/` prefix, else
 * Claude models (`claude-sonnet-4-5@20250929`) are Anthropic's, Mistral's OCR models
 * (`mistral-ocr-2505`) Mistral's, and everything else Google's.
 */
export function vertexPublisher(model: string): { publisher: VertexPublisher | "mistralai"; model: string } {
  const m = /^(anthropic|google|mistralai)\/(.+)$/.exec(model);
  if (m) return { publisher: m[1] as VertexPublisher | "mistralai", model: m[2] };
  return { publisher: /^claude-/i.test(model) ? "anthropic" : /^mistral-ocr-/i.test(model) ? "mistralai" : "google", model };
}

export interface VertexAdapterOptions {
  /** Token source override (tests); default: from the connection's vertex settings. */
  tokens?: VertexTokenSource;
}

export function createVertexAdapter(conn: ProviderConfig, opts: VertexAdapterOptions = {}): ProviderAdapter {
  const settings = conn.vertex;
  if (!settings) throw new Error(`provider "${conn.name}": type vertex needs vertex.project and vertex.location`);
  // Vertex takes no API key: the publisher adapters must not add theirs.
  const inner: ProviderConfig = { ...conn, apiKey: undefined };
  const gemini = createGeminiAdapter(inner);
  const anthropic = createAnthropicAdapter(inner);
  const tokens = opts.tokens ?? createVertexTokenSource(conn);
  const root = `${apiRoot(conn.baseUrl)}/projects/${seg(settings.project)}/locations/${seg(settings.location)}/publishers`;
  const modelUrl = (publisher: VertexPublisher | "mistralai", model: string, method: string) => `${root}/${publisher}/models/${seg(model)}:${method}`;
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(conn.headers ?? {})) extra[k.toLowerCase()] = v;

  // One adapter serves both publishers and keeps no state per request: answers are told apart by
  // their shape (Anthropic's carry `type`, its stream events are named).
  const of = (model: string) => vertexPublisher(model);

  function buildAnthropic(req: UpstreamRequest, model: string, stream: boolean): HttpRequestSpec {
    // Claude on Vertex: the Messages body, the model in the URL, the version in the body.
    const { model: _model, ...body } = buildAnthropicRequestBody({ ...req, model }, stream);
    return {
      method: "POST",
      path: modelUrl("anthropic", model, stream ? "streamRawPredict" : "rawPredict"),
      headers: { ...extra, "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" },
      body: JSON.stringify({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...body }),
    };
  }

  return {
    buildRequest(req, stream) {
      const { publisher, model } = of(req.model);
      if (publisher === "anthropic") return buildAnthropic(req, model, stream);
      if (publisher === "mistralai") throw new ProviderError({ kind: "bad_request", message: `${conn.name}: ${req.model} serves OCR only on Vertex`, retryable: false, unsent: true });
      const spec = gemini.buildRequest({ ...req, model }, stream);
      return { ...spec, path: modelUrl("google", model, stream ? "streamGenerateContent?alt=sse" : "generateContent") };
    },

    async authorize(spec, ctx) {
      const token = await tokens.token(ctx.signal);
      return { ...spec, headers: { ...spec.headers, authorization: `Bearer ${token}` } };
    },

    parseResponse(body, headers) {
      // A Messages answer has `type: "message"` (or an Anthropic error); anything else is Gemini's.
      return isAnthropicBody(body) ? anthropic.parseResponse(body, headers) : gemini.parseResponse(body, headers);
    },

    streamTranslator() {
      // Anthropic streams name their events; Gemini's never do. Decided on the first event.
      const g = gemini.streamTranslator();
      const a = anthropic.streamTranslator();
      let chosen: typeof g | undefined;
      return {
        event(e) {
          chosen ??= e.event && e.event !== "message" ? a : g;
          return chosen.event(e);
        },
        end() {
          return (chosen ?? g).end();
        },
      };
    },

    classifyError(status, body, headers) {
      const isClaude = isAnthropicBody(body);
      // A refused token is dropped so the next attempt (a retry, another request) fetches a new one.
      if (status === 401) tokens.invalidate();
      return classifyVertexError(status, body, headers, isClaude ? "anthropic" : "google", conn.name);
    },

    buildEmbedRequest(req: EmbedRequest): HttpRequestSpec {
      const { publisher, model } = of(req.model);
      if (publisher !== "google") {
        throw new ProviderError({ kind: "bad_request", message: `${conn.name}: ${req.model} has no embeddings on Vertex`, retryable: false, unsent: true });
      }
      return {
        method: "POST",
        path: modelUrl("google", model, "predict"),
        headers: { ...extra, "content-type": "application/json" },
        body: JSON.stringify(buildVertexEmbedBody(req)),
      };
    },

    parseEmbedResponse(body: string, req: EmbedRequest): EmbedResult {
      return parseVertexEmbedResponse(body, req, conn.name);
    },

    // Gemini's image models (generateContent with image output, one image a call) and Imagen
    // (:predict, four a call); Claude makes none.
    buildImageRequest(req: ImageRequest): HttpRequestSpec {
      const { publisher, model } = of(req.model);
      if (publisher !== "google") {
        throw new ProviderError({ kind: "bad_request", message: `${conn.name}: ${req.model} makes no images on Vertex`, retryable: false, unsent: true });
      }
      // Imagen: :predict, up to four samples a call.
      if (isImagen(model)) return { method: "POST", path: modelUrl("google", model, "predict"), headers: { ...extra, "content-type": "application/json" }, body: JSON.stringify(buildImagenBody(req)) };
      const spec = gemini.buildImageRequest!({ ...req, model });
      return { ...spec, path: modelUrl("google", model, "generateContent") };
    },
    // Imagen's predictions, or a Gemini image model's candidate.
    parseImageResponse: (body, req) => (isImagen(of(req.model).model) ? parseImagenResponse(body) : gemini.parseImageResponse!(body, req)),
    imagesPerCall: (model: string) => (isImagen(of(model).model) ? IMAGEN_SAMPLES_PER_CALL : 1),

    // Mistral OCR (mistral-ocr-2505 in the Model Garden): Mistral's OCR body via :rawPredict, the
    // model in the body too. Vertex's Mistral models reach no network, so documents go as bytes.
    buildOcrRequest(req: OcrRequest): HttpRequestSpec {
      const { publisher, model } = of(req.model);
      if (publisher !== "mistralai") {
        throw new ProviderError({ kind: "bad_request", message: `${conn.name}: ${req.model} has no OCR on Vertex (Mistral's OCR models do: mistral-ocr-2505)`, retryable: false, unsent: true });
      }
      if ("url" in req.document) {
        throw new ProviderError({ kind: "bad_request", message: `${conn.name}: Mistral OCR on Vertex reads documents sent as bytes, not a URL (it fetches nothing, nor does the gateway)`, retryable: false, unsent: true });
      }
      return { method: "POST", path: modelUrl("mistralai", model, "rawPredict"), headers: { ...extra, "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(buildMistralOcrBody({ ...req, model })) };
    },
    parseOcrResponse: (body: string) => parseMistralOcrResponse(body),

    // gemini-embedding-001 takes one instance per :predict call; the text-embedding models 250.
    embedBatchLimit: (model: string) => (/gemini-embedding/.test(model) ? 1 : 250),
  };
}

/** `/v1`, unless the base URL already names the API version (`…/v1`, `…/v1beta1`). */
function apiRoot(baseUrl: string): string {
  let path = "";
  try {
    path = new URL(baseUrl).pathname;
  } catch {
    // An unparsable base URL is the transport's error to report.
  }
  return /\/v1(?:beta\d*)?\/*$/.test(path) ? "" : "/v1";
}

/** A path segment; `@` stays literal (Claude's `model@version` ids), as Vertex's own clients send it. */
function seg(s: string): string {
  return encodeURIComponent(s).replace(/%40/g, "@");
}

/** Whether a body is Anthropic-shaped: a Messages answer or an Anthropic error. */
function isAnthropicBody(body: string): boolean {
  // Cheap prefix check first: both shapes put `type` at the top level.
  if (!body.includes('"type"')) return false;
  try {
    const v = JSON.parse(body) as { type?: unknown };
    return v !== null && typeof v === "object" && (v.type === "message" || v.type === "error");
  } catch {
    return false;
  }
}
