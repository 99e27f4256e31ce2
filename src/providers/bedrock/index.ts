// The Amazon Bedrock adapter's public surface.

export { buildBedrockRequestBody, createBedrockAdapter, EVENT_STREAM_CONTENT_TYPE, isBedrockClaude, parseBedrockResponse } from "./bedrock-adapter.ts";
export { BEDROCK_SERVICE, createBedrockSigner, resolveAwsCredentials, type AwsCredentials } from "./bedrock-auth.ts";
export { bedrockEmbedFamily, buildBedrockEmbedRequest, parseBedrockEmbedResponse } from "./bedrock-embed.ts";
export { BEDROCK_RERANK_DOCS_PER_QUERY, bedrockRerankFamily, buildBedrockRerankRequest, parseBedrockRerankResponse } from "./bedrock-rerank.ts";
export { classifyBedrockError, normaliseErrorType, type BedrockErrorContext } from "./bedrock-error.ts";
export { createBedrockStreamDecoder } from "./bedrock-event-stream.ts";
export { bedrockModelPath } from "./bedrock-path.ts";
export { createBedrockStreamTranslator } from "./bedrock-stream.ts";
export { convertBedrockUsage } from "./convert-bedrock-usage.ts";
export { convertToBedrockMessages, convertToBedrockTools, prepareBedrockTools, type BedrockPrompt } from "./convert-to-bedrock-messages.ts";
export { mapBedrockFinishReason } from "./map-bedrock-finish-reason.ts";
