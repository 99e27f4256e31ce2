// Deployment health as the router reads it: cooldowns, consecutive failures, moving latency
// estimates and in-flight counts. This is the in-memory implementation (one process); the
// Redis-backed one shares the same interface so cooldowns hold across replicas.

import type { FailureKind } from "../providers/types.ts";

export interface DeploymentHealth {
  cooldownUntil?: number;
  consecutiveFailures: number;
  lastFailureKind?: FailureKind;
  /** Exponentially weighted moving averages, ms. */
  ttftMs?: number;
  latencyMs?: number;
  inFlight: number;
  /** A probe is in flight after a cooldown ended. */
  probing: boolean;
}

/** A read-only view taken once per request, before planning. */
export interface HealthSnapshot {
  get(deployment: string): DeploymentHealth | undefined;
  now: number;
}

export interface HealthStore {
  snapshot(): HealthSnapshot;
  /** An attempt started on a deployment (in-flight accounting). */
  begin(deployment: string): void;
  /** An attempt ended. */
  end(deployment: string, result: { ok: true; ttftMs?: number; latencyMs: number } | { ok: false; kind: FailureKind; cooldown: boolean; retryAfterMs?: number }): void;
}

export interface CooldownPolicy {
  /** Consecutive failures that trigger a cooldown. */
  failureThreshold: number;
  /** Cooldown length when no retry-after was given. */
  cooldownMs: number;
  /** Longest cooldown a retry-after may impose. */
  maxCooldownMs: number;
}

export const DEFAULT_COOLDOWN: CooldownPolicy = { failureThreshold: 3, cooldownMs: 30_000, maxCooldownMs: 300_000 };

const ALPHA = 0.2;
const ewma = (prev: number | undefined, x: number) => (prev === undefined ? x : prev + ALPHA * (x - prev));

export function createMemoryHealthStore(policy: CooldownPolicy = DEFAULT_COOLDOWN, clock: () => number = Date.now): HealthStore {
  const state = new Map<string, DeploymentHealth>();
  const get = (d: string) => {
    let h = state.get(d);
    if (!h) {
      h = { consecutiveFailures: 0, inFlight: 0, probing: false };
      state.set(d, h);
    }
    return h;
  };
  return {
    snapshot() {
      return { get: (d) => state.get(d), now: clock() };
    },
    begin(d) {
      const h = get(d);
      h.inFlight++;
      if (h.cooldownUntil !== undefined && h.cooldownUntil <= clock()) h.probing = true;
    },
    end(d, r) {
      const h = get(d);
      h.inFlight = Math.max(0, h.inFlight - 1);
      if (r.ok) {
        h.consecutiveFailures = 0;
        h.cooldownUntil = undefined;
        h.probing = false;
        h.lastFailureKind = undefined;
        if (r.ttftMs !== undefined) h.ttftMs = ewma(h.ttftMs, r.ttftMs);
        h.latencyMs = ewma(h.latencyMs, r.latencyMs);
        return;
      }
      if (!r.cooldown) return;
      h.consecutiveFailures++;
      h.lastFailureKind = r.kind;
      const now = clock();
      if (r.kind === "rate_limited" && r.retryAfterMs !== undefined) {
        h.cooldownUntil = now + Math.min(r.retryAfterMs, policy.maxCooldownMs);
      } else if (h.probing || h.consecutiveFailures >= policy.failureThreshold) {
        h.cooldownUntil = now + policy.cooldownMs;
      }
      h.probing = false;
    },
  };
}
