// Admission control before a request runs (rate limits and budget reservations) and settlement
// after it (actual tokens and cost). One call each; implementations: memory (one replica) and
// Redis (every replica, one Lua script round trip).

import type { Period } from "./periods.ts";

/** A sliding-window limit on requests or tokens per minute. */
export interface RateCheck {
  /** Stable id: "key:search-service:rpm", "user:search-service:alice:tpm", "deployment:openai/gpt-4o:tpm". */
  id: string;
  /** Where the counter lives for sharding (all checks of one admission share it in Redis). */
  limit: number;
  /** Requests (1) or estimated tokens this request takes. */
  cost: number;
  windowMs: number;
  /** For messages: "requests per minute of key search-service". */
  describe: string;
}

export interface BudgetCheck {
  /** "key:search-service" or "team:search". */
  id: string;
  period: Period;
  limitNanos: number;
  /** What this request may cost (reserved until it settles; a stream may extend it). */
  reserveNanos: number;
  softThreshold: number;
  describe: string;
  /**
   * Start (epoch ms) of the period the reservation is made in; settlement and extensions use it,
   * so a request that straddles a period boundary is charged to the period that reserved it.
   * Absent: the period of `now`.
   */
  periodStart?: number;
}

export interface AdmissionRequest {
  requestId: string;
  /** Groups checks that must be decided atomically (the caller's team). */
  shard: string;
  rates: RateCheck[];
  budgets: BudgetCheck[];
  now: number;
  /** How long a reservation survives if the request never settles (process died). */
  reservationTtlMs: number;
}

/** Where a rate check stands once the request is admitted: what its window holds now (this request included) and when the window ends. */
export interface RateStanding {
  check: RateCheck;
  /** Requests or tokens in the sliding window, this request's included (floored). */
  used: number;
  /** Milliseconds until the current window ends. */
  resetMs: number;
}

export type AdmissionResult =
  | { ok: true; soft: { id: string; spentNanos: number; limitNanos: number }[]; rates?: RateStanding[] }
  | { ok: false; kind: "rate"; check: RateCheck; retryAfterMs: number }
  | { ok: false; kind: "budget"; check: BudgetCheck; spentNanos: number; reservedNanos: number; resetAt: number };

export interface Settlement {
  requestId: string;
  shard: string;
  /** Token-rate checks to correct by (actual - estimated); request counts need no correction. */
  tokenAdjustments: { id: string; delta: number; windowMs: number }[];
  /** `periodStart`: the reservation's period (see BudgetCheck); absent, the period of `now`. */
  budgets: { id: string; period: Period; reservedNanos: number; actualNanos: number; periodStart?: number }[];
  now: number;
}

/** More budget for a request in flight (a stream that outgrew its reservation): all or nothing. */
export interface Extension {
  requestId: string;
  shard: string;
  /** The request's budgets, with the period each was reserved in. */
  budgets: { id: string; period: Period; periodStart: number; limitNanos: number }[];
  /** Added to the request's hold on every budget. */
  nanos: number;
  now: number;
}

/** Refused: `no_room` (the budget at `index` would pass its limit) or `unknown` (no reservation of this request there). */
export type ExtensionResult = { ok: true } | { ok: false; index: number; reason: "no_room" | "unknown"; spentNanos: number; reservedNanos: number };

export interface BudgetState {
  spentNanos: number;
  reservedNanos: number;
}

export interface RateState {
  used: number;
}

export interface Limiter {
  /** One round trip at most. */
  admit(req: AdmissionRequest): Promise<AdmissionResult>;
  /** Never waits: settlements are written in the background, batched. */
  settle(s: Settlement): void;
  /**
   * Extend a request's holds if every budget still has room (spent + held + nanos ≤ limit); one
   * round trip. A request whose reservation is gone (settled or expired) is refused.
   */
  extend(x: Extension): Promise<ExtensionResult>;
  budgetState(shard: string, id: string, period: Period, now: number): Promise<BudgetState>;
  rateState(shard: string, id: string, windowMs: number, now: number): Promise<RateState>;
  /** Write every settlement queued so far (after a batch already being written). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** "redis", "memory", or "memory (redis unavailable)". */
  mode(): string;
}
