// The Google Vertex AI provider adapter's public surface.

export { createVertexAdapter, vertexPublisher, VERTEX_ANTHROPIC_VERSION, type VertexAdapterOptions } from "./vertex-adapter.ts";
export { createVertexTokenSource, CLOUD_PLATFORM_SCOPE, GOOGLE_TOKEN_URL, REFRESH_MARGIN_MS, type VertexTokenSource } from "./vertex-auth.ts";
export { buildVertexEmbedBody, parseVertexEmbedResponse } from "./vertex-embed.ts";
export { classifyVertexError } from "./vertex-error.ts";
