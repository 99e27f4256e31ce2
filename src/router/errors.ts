// The router's error: a gateway-level outcome with a closed set of codes (Connect's names), the
// attempts made, and details. The server maps it to a ConnectError in exactly one place.

import type { FailureKind, Usage } from "../providers/types.ts";
import { ProviderError } from "../providers/types.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { AttemptRecord } from "./types.ts";

export type GatewayCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

export interface GatewayErrorDetails {
  field?: string;
  failureKind?: FailureKind;
  attempts?: AttemptRecord[];
  retryAfterMs?: number;
  deliveredDeltas?: number;
  deliveredChars?: number;
  usage?: Usage;
  /** Refused by a rate limit or budget before any upstream call. */
  refusal?: "rate_limit" | "budget";
  /** The usage figures are the gateway's estimate (the provider reported none). */
  usageEstimated?: boolean;
  cost?: CostBreakdown;
  /** Refused by a guardrail: its name and the category that matched (never the matched text). */
  guardrail?: string;
  guardrailCategory?: string;
  /** A machine-readable reason the OpenAI-shaped doors give as the error's `code` (e.g. conversation_locked). */
  reason?: string;
}

export class GatewayError extends Error {
  readonly code: GatewayCode;
  readonly details: GatewayErrorDetails;
  constructor(code: GatewayCode, message: string, details: GatewayErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "GatewayError";
    this.code = code;
    this.details = details;
  }
}

/** The caller-facing code for a request whose last upstream failure was of this kind. */
export function codeForFailure(kind: FailureKind): GatewayCode {
  switch (kind) {
    case "rate_limited":
      return "resource_exhausted";
    case "timeout":
      return "deadline_exceeded";
    case "context_length_exceeded":
    case "content_filtered":
    case "bad_request":
      return "invalid_argument";
    case "canceled":
      return "canceled";
    // An answer no deployment gave in a shape the guardrails accept.
    case "guardrail":
      return "failed_precondition";
    // Upstream credentials, quota and unknown models are the gateway's problem, never the
    // caller's: they must not surface as unauthenticated or not_found.
    default:
      return "unavailable";
  }
}

/** What every front door's error mapping reads off a failure, whatever it is. */
export interface ErrorFacts {
  code: GatewayCode;
  message: string;
  field?: string;
  failureKind?: string;
  retryAfterMs?: number;
  refusal?: string;
  guardrail?: string;
  reason?: string;
  /** Some upstream attempt was made (else nothing could be tried at all). */
  attempted: boolean;
}

/** The facts of a GatewayError or a ProviderError; anything else is an internal error. */
export function errorFacts(err: unknown): ErrorFacts {
  if (err instanceof GatewayError) {
    const d = err.details;
    return { code: err.code, message: err.message, field: d.field, failureKind: d.failureKind, retryAfterMs: d.retryAfterMs, refusal: d.refusal, guardrail: d.guardrail, reason: d.reason, attempted: (d.attempts?.length ?? 0) > 0 };
  }
  if (err instanceof ProviderError) {
    return { code: codeForFailure(err.kind), message: err.kind === "canceled" ? "request canceled" : err.message, failureKind: err.kind, attempted: false };
  }
  return { code: "internal", message: "internal error", attempted: false };
}
