// The Cohere provider adapter's public surface.

export { createCohereAdapter } from "./cohere-adapter.ts";
export { buildCohereEmbedBody, COHERE_EMBED_MAX_TEXTS, parseCohereEmbedResponse } from "./cohere-embed.ts";
export { classifyCohereError, redactCohere, type CohereErrorContext } from "./cohere-error.ts";
export { buildCohereRerankBody, parseCohereRerankResponse, rankedResults } from "./cohere-rerank.ts";
export type * from "./cohere-api-types.ts";
