// The one table that decides, per failure kind, what the router does next: retry the same
// deployment, fall back to the next candidate, cool the deployment down, or return to the caller.

import type { FailureKind } from "../providers/types.ts";

export interface KindPolicy {
  /** Retry the same deployment (after backoff / retry-after), if retries remain. */
  retry: boolean;
  /** Move on to the next candidate. */
  fallback: boolean;
  /** Count toward the deployment's cooldown. */
  cooldown: boolean;
}

export const POLICY: Record<FailureKind, KindPolicy> = {
  rate_limited: { retry: true, fallback: true, cooldown: true },
  overloaded: { retry: true, fallback: true, cooldown: true },
  // A slow first token moves on rather than waiting again on the same deployment.
  timeout: { retry: false, fallback: true, cooldown: true },
  network: { retry: true, fallback: true, cooldown: true },
  server_error: { retry: true, fallback: true, cooldown: true },
  stream_interrupted: { retry: true, fallback: true, cooldown: true },
  // The gateway's own misconfiguration or billing: another deployment may work; never retry.
  upstream_auth: { retry: false, fallback: true, cooldown: true },
  quota_exhausted: { retry: false, fallback: true, cooldown: true },
  model_not_found: { retry: false, fallback: true, cooldown: true },
  // Only to a candidate with a larger context window (the executor filters).
  context_length_exceeded: { retry: false, fallback: true, cooldown: false },
  // Policy decisions are not bypassed by routing elsewhere unless the route says so.
  content_filtered: { retry: false, fallback: false, cooldown: false },
  bad_request: { retry: false, fallback: false, cooldown: false },
  canceled: { retry: false, fallback: false, cooldown: false },
  unknown: { retry: false, fallback: true, cooldown: true },
  // An answer that failed a json_schema guardrail: the guardrail's on_failure decides a retry
  // (the error says retryable); another deployment may answer well; the deployment is not sick.
  guardrail: { retry: false, fallback: true, cooldown: false },
};
