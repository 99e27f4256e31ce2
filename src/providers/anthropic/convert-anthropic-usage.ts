// Anthropic usage → the unified Usage (wire-formats §8.4). Anthropic's input_tokens EXCLUDES cache
// reads and writes, so the unified prompt total adds them back.

import type { Usage } from "../types.ts";
import type { AnthropicUsage } from "./anthropic-api-types.ts";

function n(v: number | null | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

export function convertAnthropicUsage(u: AnthropicUsage): Usage {
  // cache_creation splits the writes by time to live; 1-hour writes are billed at their own price.
  const write1h = n(u.cache_creation?.ephemeral_1h_input_tokens);
  const cacheWrite = Math.max(n(u.cache_creation_input_tokens), n(u.cache_creation?.ephemeral_5m_input_tokens) + write1h);
  const cacheRead = n(u.cache_read_input_tokens);
  const usage: Usage = {
    inputTokens: n(u.input_tokens) + cacheWrite + cacheRead,
    // output_tokens already includes thinking tokens.
    outputTokens: n(u.output_tokens),
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    // Only newer servers report a thinking split; otherwise it is unknown and counted as 0.
    reasoningTokens: n(u.output_tokens_details?.thinking_tokens),
  };
  if (write1h > 0) usage.cacheWrite1hTokens = write1h;
  return usage;
}

/**
 * Merge a later cumulative usage report into an earlier one: fields present (non-null) in `next`
 * replace those of `prev` (message_delta counts are final values, never increments).
 */
export function mergeAnthropicUsage(prev: AnthropicUsage, next: AnthropicUsage): AnthropicUsage {
  const out: AnthropicUsage = { ...prev };
  if (next.input_tokens != null) out.input_tokens = next.input_tokens;
  if (next.cache_creation_input_tokens != null) out.cache_creation_input_tokens = next.cache_creation_input_tokens;
  if (next.cache_read_input_tokens != null) out.cache_read_input_tokens = next.cache_read_input_tokens;
  if (next.cache_creation != null) {
    const cc = { ...prev.cache_creation };
    if (next.cache_creation.ephemeral_5m_input_tokens != null) cc.ephemeral_5m_input_tokens = next.cache_creation.ephemeral_5m_input_tokens;
    if (next.cache_creation.ephemeral_1h_input_tokens != null) cc.ephemeral_1h_input_tokens = next.cache_creation.ephemeral_1h_input_tokens;
    out.cache_creation = cc;
  }
  if (next.output_tokens != null) out.output_tokens = next.output_tokens;
  if (next.output_tokens_details?.thinking_tokens != null) out.output_tokens_details = { thinking_tokens: next.output_tokens_details.thinking_tokens };
  return out;
}
