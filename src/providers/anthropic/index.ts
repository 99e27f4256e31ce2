// The Anthropic Messages adapter's public surface.

export {
  ANTHROPIC_VERSION,
  DEFAULT_MAX_TOKENS,
  MIN_THINKING_BUDGET,
  THINKING_BUDGETS,
  anthropicTemperature,
  buildAnthropicRequestBody,
  createAnthropicAdapter,
  jsonInstruction,
  structuredOutputs,
  parseAnthropicResponse,
} from "./anthropic-adapter.ts";
export { classifyAnthropicError, type AnthropicErrorContext } from "./anthropic-error.ts";
export { createAnthropicStreamTranslator } from "./anthropic-stream.ts";
export { convertAnthropicUsage } from "./convert-anthropic-usage.ts";
export { convertToAnthropicMessages, convertToAnthropicTools, prepareAnthropicTools, type AnthropicPrompt } from "./convert-to-anthropic-messages.ts";
export { mapAnthropicFinishReason } from "./map-anthropic-finish-reason.ts";
