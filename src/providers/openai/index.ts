// The OpenAI Chat Completions family: OpenAI, Azure OpenAI, OpenRouter and OpenAI-compatible
// servers, one adapter configured per connection.

export { createOpenAIAdapter, resolveOpenAIDialect, type OpenAIDialect } from "./openai-adapter.ts";
export { createOpenAIStreamTranslator, convertOpenAIUsage, type OpenAIStreamOptions } from "./openai-stream.ts";
export { classifyOpenAIError, errorFromPayload, redactSecrets } from "./openai-error.ts";
export { convertToOpenAIMessages } from "./convert-to-openai-messages.ts";
export { mapOpenAIFinishReason } from "./map-openai-finish-reason.ts";
export { buildOpenAIEmbeddingBody, embeddingsPath, parseOpenAIEmbeddingResponse } from "./openai-embeddings.ts";
export { buildOpenAIRerankBody, parseOpenAIRerankResponse, RERANK_PATH } from "./openai-rerank.ts";
