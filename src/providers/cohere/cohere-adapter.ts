// The Cohere adapter (type cohere): rerank through POST /v2/rerank and embeddings through POST
// /v2/embed, with the API key as a bearer token. Cohere's chat is not served by this build: a chat
// request is refused before anything is sent (config load refuses such deployments first).

import type { ProviderConfig } from "../../config/types.ts";
import type { HttpRequestSpec, ProviderAdapter } from "../types.ts";
import { ProviderError } from "../types.ts";
import { buildCohereEmbedBody, COHERE_EMBED_MAX_TEXTS, parseCohereEmbedResponse } from "./cohere-embed.ts";
import { classifyCohereError, type CohereErrorContext } from "./cohere-error.ts";
import { buildCohereRerankBody, parseCohereRerankResponse } from "./cohere-rerank.ts";

export function createCohereAdapter(conn: ProviderConfig): ProviderAdapter {
  const ctx: CohereErrorContext = { label: conn.name, secrets: conn.apiKey ? [conn.apiKey] : [] };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(conn.headers ?? {})) headers[k.toLowerCase()] = v;
  Object.assign(headers, { "content-type": "application/json", accept: "application/json" });
  if (conn.apiKey) headers.authorization = `Bearer ${conn.apiKey}`;
  const post = (path: string, body: unknown): HttpRequestSpec => ({ method: "POST", path, headers: { ...headers }, body: JSON.stringify(body) });
  const noChat = () =>
    new ProviderError({
      kind: "model_not_found",
      message: `${conn.name}: Cohere deployments serve rerank and embeddings only; chat is not supported for provider type cohere`,
      unsent: true,
    });

  return {
    buildRerankRequest(req) {
      return post("/v2/rerank", buildCohereRerankBody(req));
    },
    parseRerankResponse(body, req, h) {
      return parseCohereRerankResponse(body, req, h, conn.name);
    },
    buildEmbedRequest(req) {
      return post("/v2/embed", buildCohereEmbedBody(req, conn.name));
    },
    parseEmbedResponse(body, req, h) {
      return parseCohereEmbedResponse(body, req, h, conn.name);
    },
    embedBatchLimit: () => COHERE_EMBED_MAX_TEXTS,
    buildRequest() {
      throw noChat();
    },
    parseResponse() {
      throw noChat();
    },
    streamTranslator() {
      throw noChat();
    },
    classifyError(status, body, h) {
      return classifyCohereError(status, body, h, ctx);
    },
  };
}
