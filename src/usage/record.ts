// The usage record of one request, and the sink the serving path hands it to. Records are
// written off the response path; the sink decides how (in memory, or batched to Redis).

import type { GuardrailActionRecord } from "../guardrails/types.ts";
import type { FailureKind, FinishReason, Usage } from "../providers/types.ts";
import type { Adjustment, AttemptRecord, Operation, RoutingInfo } from "../router/types.ts";
import type { CostBreakdown } from "./cost.ts";

export interface UsageRecord {
  id: string;
  time: number;
  /** What the request asked for; absent: chat (records written before embeddings). */
  operation?: Operation | "tool_call" | "passthrough";
  key: string;
  team: string;
  user: string;
  model: string;
  routing: RoutingInfo;
  deployment: string;
  provider: string;
  attempts: AttemptRecord[];
  usage: Usage;
  usageEstimated: boolean;
  /** The bill (total) and the computed figure beside a provider-reported one (computed, providerReported); per attempt in attempts[].cost. */
  cost: CostBreakdown;
  latencyMs: number;
  ttftMs?: number;
  overheadUs: number;
  cacheHit: boolean;
  /** For a hit: the same request's answer (exact), a similar prompt's (semantic) or a concurrent identical request's (shared). */
  cacheKind?: "exact" | "semantic" | "shared";
  /** The Connect code name the request ended with ("ok", "unavailable", ...). */
  status: string;
  failureKind?: FailureKind;
  /** Refused before any upstream call by a rate limit or a budget. */
  refusal?: "rate_limit" | "budget";
  finishReason?: FinishReason;
  traceId: string;
  /** The request's root span (RPC or HTTP) when tracing is on: what logs of the request link to. */
  spanId?: string;
  tags: string[];
  metadata: Record<string, string>;
  streamed: boolean;
  /** Changes made to the request: caps, parameters the answering deployment's model does not accept. */
  adjustments?: Adjustment[];
  /** What guardrails did (blocks, redactions, flags), by guardrail, stage, action and category; absent when none acted. */
  guardrails?: GuardrailActionRecord[];
}

/**
 * What a chat request said and how it was answered, for the usage exports that capture content
 * (`capture_content`, src/usage/content.ts); never part of the record itself, nor kept by any store.
 */
export interface RequestContent {
  /** The messages as they were sent to the model (after the input guardrails' redactions), in OpenAI's chat shape. */
  input: unknown[];
  /** The answer as an assistant message in OpenAI's chat shape; absent when there was none. */
  output?: unknown;
  /** The request's sampling settings (temperature, max_tokens, …), as OpenAI names them. */
  parameters: Record<string, string | number | boolean>;
  /** Characters of text in input and output, for the exports' request sizes. */
  chars: number;
}

export interface UsageSink {
  /** Accept a record (with its content, when an export captures it); never throws and never waits on I/O. */
  record(r: UsageRecord, content?: RequestContent): void;
  /** Flush whatever is buffered (shutdown). */
  flush(): Promise<void>;
}

/** Keeps the most recent records in memory (the embedded default). */
export function createMemoryUsageSink(capacity = 10_000): UsageSink & { recent(): UsageRecord[] } {
  const ring: UsageRecord[] = [];
  let next = 0;
  return {
    record(r) {
      if (ring.length < capacity) ring.push(r);
      else ring[next] = r;
      next = (next + 1) % capacity;
    },
    async flush() {},
    recent() {
      return ring.length < capacity ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)];
    },
  };
}
