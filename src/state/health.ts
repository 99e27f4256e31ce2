// Deployment health as the router reads it: cooldowns, consecutive failures, moving latency
// estimates and in-flight counts. Reads are local and synchronous (a snapshot per request, no
// I/O on the hot path); this file holds the interface and the in-memory implementation (one
// process). redis-health.ts shares cooldowns and probes across replicas through Redis.

import type { FailureKind } from "../providers/types.ts";

export interface DeploymentHealth {
  /** Epoch ms until which plans skip the deployment. */
  cooldownUntil?: number;
  consecutiveFailures: number;
  lastFailureKind?: FailureKind;
  /** Exponentially weighted moving averages, ms. */
  ttftMs?: number;
  latencyMs?: number;
  /** When the moving averages were last updated (epoch ms). */
  observedAt?: number;
  /** Attempts in flight on this replica. */
  inFlight: number;
  /** The cooldown has ended and no attempt has reported since: the next one is the probe. */
  awaitingProbe: boolean;
  /**
   * p95 of the output tokens of recent answers (the last OUTPUT_WINDOW) that no cap cut short;
   * set once OUTPUT_MIN_SAMPLES were seen. What a request without max_output_tokens reserves.
   */
  outputP95?: number;
  /**
   * Output tokens a second after the first token (moving average of answers no cap cut short;
   * with Redis, blended with the other replicas' every few seconds): what provider preferences'
   * sort by throughput orders by.
   */
  tokensPerSecond?: number;
  /**
   * The largest share of its rate limits (requests or tokens per minute) the deployment had used
   * when the shared limiter last answered for it (1: at its limit), and when (epoch ms): what the
   * `usage` strategy orders by. Absent: never admitted, or without limits.
   */
  usage?: { fraction: number; at: number };
}

/** Answers a deployment's output p95 is taken over, and how many it needs before it is used. */
export const OUTPUT_WINDOW = 200;
export const OUTPUT_MIN_SAMPLES = 20;

/** A read-only view taken once per request, before planning. */
export interface HealthSnapshot {
  get(deployment: string): Readonly<DeploymentHealth> | undefined;
  now: number;
}

export type AttemptResult =
  | { ok: true; ttftMs?: number; latencyMs: number }
  | { ok: false; kind: FailureKind; cooldown: boolean; retryAfterMs?: number };

export interface HealthStore {
  snapshot(): HealthSnapshot;
  /** An attempt started on a deployment (in-flight accounting). */
  begin(deployment: string): void;
  /** An attempt ended. Never waits on I/O; shared stores replicate in the background. */
  end(deployment: string, result: AttemptResult): void;
  /**
   * Claim the probe of a deployment whose cooldown has ended: true for exactly one caller
   * (across replicas, for a shared store) until the probe reports or its claim expires.
   */
  claimProbe(deployment: string): Promise<boolean>;
  /**
   * The output tokens of an answer no cap cut short (per replica, in memory): feeds the
   * deployment's outputP95. Never waits.
   */
  observeOutput?(deployment: string, outputTokens: number, generationMs?: number): void;
  /** What the limiter said of a deployment's rate limits (the share used, 0..1): per replica, never waits. */
  observeUsage?(deployment: string, fraction: number): void;
  /** Keep the outcome of an active check (src/engine/checks.ts), for every replica to show. Never waits. */
  putCheck(check: CheckOutcome): void;
  /** The latest active check of each deployment checked (from any replica, for a shared store). */
  lastChecks(): Promise<ReadonlyMap<string, CheckOutcome>>;
  /**
   * Claim this period's background checks: true for one replica per period (for a shared store;
   * always true in memory, and when Redis is away).
   */
  claimChecks(periodMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** An active check of a deployment (proto signalbox.v1.DeploymentCheck). */
export interface CheckOutcome {
  deployment: string;
  provider: string;
  /** What was sent; "" when skipped. */
  operation: string;
  healthy: boolean;
  /** The Connect code name of a failure; "" when healthy or skipped. */
  status: string;
  error: string;
  latencyMs: number;
  /** Epoch ms. */
  time: number;
  costNanos: number;
  requestId: string;
  traceId: string;
  /** Why it was not checked; "" when it was. */
  skipped: string;
}

export interface CooldownPolicy {
  /** Consecutive failures that trigger a cooldown. */
  failureThreshold: number;
  /** Cooldown length when no retry-after was given. */
  cooldownMs: number;
  /** Longest cooldown a retry-after may impose. */
  maxCooldownMs: number;
  /** How long a probe claim lasts before another request may probe. */
  probeTimeoutMs: number;
}

export const DEFAULT_COOLDOWN: CooldownPolicy = { failureThreshold: 3, cooldownMs: 30_000, maxCooldownMs: 300_000, probeTimeoutMs: 30_000 };

const ALPHA = 0.2;
const ewma = (prev: number | undefined, x: number) => (prev === undefined ? x : prev + ALPHA * (x - prev));

/**
 * The local half every store shares: per-deployment state, EWMA updates, in-flight counts and
 * the cooldown decision. Returns what changed so a shared store can replicate it.
 */
export class LocalHealth {
  readonly state = new Map<string, DeploymentHealth>();
  private readonly probeClaims = new Map<string, number>();
  /** Recent output token counts per deployment: a ring of OUTPUT_WINDOW and how many were seen. */
  private readonly outputs = new Map<string, { ring: Float64Array; n: number }>();
  readonly policy: CooldownPolicy;
  readonly clock: () => number;
  /**
   * Set by a shared store: observations per deployment since its estimates were last shared
   * (latency, time to first token, tokens a second), what weighs them against the other replicas'.
   */
  fresh?: Map<string, [number, number, number]>;

  constructor(policy: CooldownPolicy, clock: () => number) {
    this.policy = policy;
    this.clock = clock;
  }

  get(d: string): DeploymentHealth {
    let h = this.state.get(d);
    if (!h) {
      h = { consecutiveFailures: 0, inFlight: 0, awaitingProbe: false };
      this.state.set(d, h);
    }
    return h;
  }

  snapshot(): HealthSnapshot {
    const now = this.clock();
    // Cooldowns that ended become "awaiting probe" (checked lazily, once per snapshot).
    for (const h of this.state.values()) {
      if (h.cooldownUntil !== undefined && h.cooldownUntil <= now && !h.awaitingProbe) h.awaitingProbe = true;
    }
    return { get: (d) => this.state.get(d), now };
  }

  private count(d: string, i: 0 | 2, ttft = false): void {
    let c = this.fresh!.get(d);
    if (!c) this.fresh!.set(d, (c = [0, 0, 0]));
    c[i]++;
    if (ttft) c[1]++;
  }

  claimLocal(d: string): boolean {
    const now = this.clock();
    const until = this.probeClaims.get(d);
    if (until !== undefined && until > now) return false;
    this.probeClaims.set(d, now + this.policy.probeTimeoutMs);
    return true;
  }

  /** Apply an attempt result; returns the cooldown set (epoch ms) or "recovered" or nothing. */
  apply(d: string, r: AttemptResult): { cooldownUntil: number; kind: FailureKind } | "recovered" | undefined {
    const h = this.get(d);
    const now = this.clock();
    if (r.ok) {
      const wasUnhealthy = h.consecutiveFailures > 0 || h.cooldownUntil !== undefined;
      h.consecutiveFailures = 0;
      h.cooldownUntil = undefined;
      h.awaitingProbe = false;
      h.lastFailureKind = undefined;
      this.probeClaims.delete(d);
      if (r.ttftMs !== undefined) h.ttftMs = ewma(h.ttftMs, r.ttftMs);
      h.latencyMs = ewma(h.latencyMs, r.latencyMs);
      h.observedAt = now;
      if (this.fresh) this.count(d, 0, r.ttftMs !== undefined);
      return wasUnhealthy ? "recovered" : undefined;
    }
    if (!r.cooldown) return undefined;
    h.consecutiveFailures++;
    h.lastFailureKind = r.kind;
    const probeFailed = h.awaitingProbe;
    let until: number | undefined;
    if (r.kind === "rate_limited" && r.retryAfterMs !== undefined && r.retryAfterMs > 0) {
      until = now + Math.min(r.retryAfterMs, this.policy.maxCooldownMs);
    } else if (probeFailed || h.consecutiveFailures >= this.policy.failureThreshold) {
      until = now + this.policy.cooldownMs;
    }
    if (until === undefined) return undefined;
    this.setCooldown(d, until, r.kind);
    return { cooldownUntil: until, kind: r.kind };
  }

  /** Record an answer's output tokens; the p95 is recomputed on each of the first 64, then every 8th. */
  observeOutput(d: string, tokens: number, generationMs?: number): void {
    if (!(tokens >= 0)) return;
    // Throughput needs a few tokens to mean anything; an answer that came in one read is timed as 1 ms.
    if (generationMs !== undefined && tokens >= 4) {
      const h = this.get(d);
      h.tokensPerSecond = ewma(h.tokensPerSecond, (tokens * 1000) / Math.max(1, generationMs));
      if (this.fresh) this.count(d, 2);
    }
    let o = this.outputs.get(d);
    if (!o) this.outputs.set(d, (o = { ring: new Float64Array(OUTPUT_WINDOW), n: 0 }));
    o.ring[o.n % OUTPUT_WINDOW] = tokens;
    o.n++;
    if (o.n < OUTPUT_MIN_SAMPLES || (o.n > 64 && o.n % 8 !== 0)) return;
    const sorted = o.ring.slice(0, Math.min(o.n, OUTPUT_WINDOW)).sort();
    this.get(d).outputP95 = sorted[Math.ceil(0.95 * sorted.length) - 1];
  }

  setCooldown(d: string, until: number, kind: FailureKind): void {
    const h = this.get(d);
    h.cooldownUntil = until;
    h.lastFailureKind = kind;
    h.awaitingProbe = false;
    this.probeClaims.delete(d);
  }

  recover(d: string): void {
    const h = this.get(d);
    h.consecutiveFailures = 0;
    h.cooldownUntil = undefined;
    h.awaitingProbe = false;
    h.lastFailureKind = undefined;
    this.probeClaims.delete(d);
  }
}

/** Notified when a deployment is put into cooldown (metrics). */
export type CooldownListener = (deployment: string, kind: FailureKind, until: number) => void;

export function createMemoryHealthStore(policy: CooldownPolicy = DEFAULT_COOLDOWN, clock: () => number = Date.now, onCooldown?: CooldownListener): HealthStore {
  const local = new LocalHealth(policy, clock);
  const checks = new Map<string, CheckOutcome>();
  return {
    snapshot: () => local.snapshot(),
    begin(d) {
      local.get(d).inFlight++;
    },
    end(d, r) {
      const h = local.get(d);
      h.inFlight = Math.max(0, h.inFlight - 1);
      const change = local.apply(d, r);
      if (change && change !== "recovered") onCooldown?.(d, change.kind, change.cooldownUntil);
    },
    async claimProbe(d) {
      return local.claimLocal(d);
    },
    observeOutput: (d, n, ms) => local.observeOutput(d, n, ms),
    observeUsage(d, fraction) {
      local.get(d).usage = { fraction, at: clock() };
    },
    putCheck(c) {
      checks.set(c.deployment, c);
    },
    async lastChecks() {
      return checks;
    },
    async claimChecks() {
      return true;
    },
    async close() {},
  };
}
