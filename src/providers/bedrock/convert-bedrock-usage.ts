// Bedrock usage → the unified Usage. Converse's inputTokens EXCLUDES cache reads and writes
// (totalTokens = inputTokens + outputTokens + cacheReadInputTokens + cacheWriteInputTokens), so
// the unified prompt total adds them back, as for Anthropic.

import type { Usage } from "../types.ts";
import type { BedrockUsage } from "./bedrock-api-types.ts";

function n(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0;
}

export function convertBedrockUsage(u: BedrockUsage): Usage {
  const cacheRead = n(u.cacheReadInputTokens);
  const cacheWrite = n(u.cacheWriteInputTokens);
  // cacheDetails splits the writes by time to live; 1-hour writes are billed at their own price.
  let write1h = 0;
  if (Array.isArray(u.cacheDetails)) for (const d of u.cacheDetails) if (d?.ttl === "1h") write1h += n(d.inputTokens);
  const usage: Usage = {
    inputTokens: n(u.inputTokens) + cacheRead + cacheWrite,
    // outputTokens includes reasoning; Bedrock reports no split.
    outputTokens: n(u.outputTokens),
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: 0,
  };
  if (write1h > 0) usage.cacheWrite1hTokens = Math.min(write1h, cacheWrite);
  return usage;
}
