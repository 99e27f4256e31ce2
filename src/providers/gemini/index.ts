// The Gemini (Developer API) provider adapter's public surface.

export { createGeminiAdapter } from "./gemini-adapter.ts";
export { classifyGeminiError, geminiStatusError } from "./gemini-error.ts";
export { createGeminiStreamTranslator } from "./gemini-stream.ts";
export { mapGeminiFinishReason } from "./map-gemini-finish-reason.ts";
export { convertGeminiUsage } from "./gemini-response.ts";
export {
  convertToGeminiMessages,
  convertToGeminiRequest,
  convertToGeminiThinkingConfig,
  SKIP_THOUGHT_SIGNATURE,
} from "./convert-to-gemini-messages.ts";
export type * from "./gemini-api-types.ts";
export { buildGeminiEmbedBody, geminiEmbedMethod, parseGeminiEmbedResponse } from "./gemini-embeddings.ts";
