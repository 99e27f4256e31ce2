// The validated configuration model: providers (connections), deployments, aliases, routes, keys.
// load.ts turns YAML into this; everything downstream trusts it.

import type { FailureKind } from "../providers/types.ts";

export type ProviderType = "openai" | "azure" | "anthropic" | "gemini" | "openrouter" | "openai-compatible" | "mock";

/** Vendor quirks of OpenAI-compatible servers: configuration, not code. */
export interface CompatQuirks {
  /** Which field carries the output-token limit. */
  maxTokensField: "max_completion_tokens" | "max_tokens";
  /** Send stream_options.include_usage on streams. */
  streamUsage: boolean;
  /** Top-level request fields the server rejects; dropped before sending. */
  dropFields: string[];
  /** Where usage may arrive in a stream besides `usage` (Groq: "x_groq.usage"). */
  usagePaths: string[];
  /** Accept `developer` role; if false it is sent as `system`. */
  developerRole: boolean;
}

/** Settings of the built-in mock provider. */
export interface MockSettings {
  /** Delay before the first token (ms). */
  ttftMs: number;
  /** Delay between chunks (ms). */
  interChunkMs: number;
  /** Number of text chunks a stream is split into. */
  chunks: number;
  /** Fixed reply text; by default the reply is derived deterministically from the prompt. */
  reply?: string;
  /** Fraction of requests (0..1) that fail with failureKind, decided deterministically per request. */
  failureRate: number;
  failureKind: FailureKind;
  /** Fail after this many content chunks of a stream (mid-stream cut), -1 never. */
  failAfterChunks: number;
  /** Retry-after reported on injected rate_limited failures (ms). */
  retryAfterMs?: number;
  /** Output tokens per response when not derived from max tokens. */
  outputTokens: number;
}

export interface ProviderConfig {
  name: string;
  type: ProviderType;
  baseUrl: string;
  /** Secret. Never logged, traced or returned. */
  apiKey?: string;
  /** Azure api-version (dated URL family); empty means the v1 URL family. */
  apiVersion?: string;
  headers: Record<string, string>;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  /** Connections per upstream origin. */
  maxConnections: number;
  compat: CompatQuirks;
  mock: MockSettings;
}

export type Capability = "tools" | "vision" | "json_mode" | "json_schema" | "reasoning" | "streaming" | "prompt_caching";
export type Task = "coding" | "reasoning" | "creative" | "simple" | "multimodal";

/** Prices in micro-USD per million tokens. */
export interface Pricing {
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  /** 0 = billed as output. */
  reasoning: number;
  source: string;
}

export interface DeploymentConfig {
  /** Id callers may name directly, e.g. "openai/gpt-4o". */
  id: string;
  provider: string;
  /** Pinned upstream model (Azure: deployment name). */
  model: string;
  pricing: Pricing;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: Capability[];
  strengths: Task[];
  /** 0..1, used by complexity and hybrid routing. */
  quality: number;
  /** The provider's own limits for this deployment (requests and tokens per minute). */
  limits?: RateLimits;
}

export type Strategy = "priority" | "weighted" | "latency" | "cost" | "least-busy" | "task" | "complexity" | "hybrid";

export interface RouteTarget {
  deployment: string;
  weight: number;
}

export interface RouteVariant {
  name: string;
  weight: number;
  targets: RouteTarget[];
}

/** Options of strategy "latency". */
export interface LatencyOptions {
  /** Probability (0..1) that a deployment not observed recently is tried first (exploration). */
  epsilon: number;
  /** An estimate older than this counts as "not observed recently" (ms). */
  staleAfterMs: number;
}

/** Options of strategy "hybrid": weights of the score's three terms (normalised to sum 1). */
export interface HybridOptions {
  qualityWeight: number;
  costWeight: number;
  latencyWeight: number;
  /** Added to a deployment's quality when its strengths include the request's task. */
  strengthBonus: number;
}

/** Options of strategy "complexity". */
export interface ComplexityOptions {
  /** Classifier scores at or above this are complex (strongest first); below, simple (cheapest first). */
  threshold: number;
}

export interface RouteConfig {
  name: string;
  description: string;
  strategy: Strategy;
  targets: RouteTarget[];
  /** Models (routes, aliases, deployments) tried after the targets. */
  fallbacks: string[];
  variants: RouteVariant[];
  /** For strategy "task": task → route name. */
  taskRoutes: Partial<Record<Task, string>>;
  maxAttempts: number;
  hedgeAfterMs: number;
  noFallback: boolean;
  fallbackOnContentFilter: boolean;
  timeouts: { firstTokenMs: number; idleMs: number; attemptMs: number; totalMs: number };
  retry: {
    maxRetries: number;
    baseDelayMs: number;
    maxDelayMs: number;
    maxRetryAfterMs: number;
    /** Failure kinds retried on the same deployment (the rest move on or return to the caller). */
    retryOn: FailureKind[];
  };
  /** Per-strategy options (always filled with defaults). */
  latency: LatencyOptions;
  hybrid: HybridOptions;
  complexity: ComplexityOptions;
  maxOutputTokens?: number;
  cache: { enabled: boolean; ttlSeconds: number; shareAcrossTeams: boolean; dedupe: boolean };
}

export type KeyRole = "admin" | "team" | "service";

export interface RateLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface BudgetConfig {
  period: "day" | "week" | "month";
  limitUsd: number;
  softThreshold: number;
}

export interface KeyConfig {
  name: string;
  /** sha256 hex of the key; the key itself is never stored. */
  hash: string;
  team: string;
  role: KeyRole;
  /** Routes, aliases or deployments this key may call; empty = all. */
  allow: string[];
  limits: RateLimits;
  perUserLimits?: RateLimits;
  budget?: BudgetConfig;
  maxOutputTokens?: number;
}

/** Cross-origin access for browsers (`server.cors`); src/server/cors.ts enforces it. */
export interface CorsConfig {
  /**
   * Normalised origins: exact (`https://app.example.com`, lowercase, no default port), wildcard
   * subdomain patterns (`https://*.example.com`: one or more labels in front, same scheme and
   * port), or `*` (any origin; never together with allowCredentials).
   */
  allowedOrigins: string[];
  /** Send Access-Control-Allow-Credentials: true (cookies, client certificates). */
  allowCredentials: boolean;
  /** How long browsers may cache a preflight answer (Access-Control-Max-Age). */
  maxAgeSeconds: number;
  /** Request headers allowed on top of the built-in list (lowercase). */
  allowedHeaders: string[];
  /** Response headers exposed to scripts on top of the built-in list (lowercase). */
  exposedHeaders: string[];
}

export interface ServerConfig {
  port: number;
  host: string;
  maxRequestBytes: number;
  shutdownGraceMs: number;
  /** Absent: no CORS headers at all (browsers on other origins cannot read responses). */
  cors?: CorsConfig;
  /** Serve the web console at /console/ (`server.console`, default true; absent also means on). */
  console?: boolean;
}

/** The web console's settings (`console`); src/server/console.ts serves them as /console/config.json. */
export interface ConsoleConfig {
  /** Link template for a request's trace, with `{trace_id}` in it (e.g. `http://jaeger:16686/trace/{trace_id}`). */
  traceUrl?: string;
}

export interface Config {
  server: ServerConfig;
  console: ConsoleConfig;
  providers: ProviderConfig[];
  deployments: DeploymentConfig[];
  aliases: Record<string, string>;
  routes: RouteConfig[];
  keys: KeyConfig[];
  teams: { name: string; budget?: BudgetConfig }[];
  store: {
    /** One Redis (`store.redis_url` or REDIS_URL). Never set together with redisCluster. */
    redisUrl?: string;
    /** Seed nodes of a Redis Cluster, "host:port" or redis:// URLs (`store.redis_cluster` or REDIS_CLUSTER_NODES). */
    redisCluster?: string[];
    /** PostgreSQL for keys, teams and the audit log (`store.postgres_url` or DATABASE_URL), and for usage records. */
    postgresUrl?: string;
    /** Days of request records kept in PostgreSQL (`store.usage_retention_days`, default 90). */
    usageRetentionDays?: number;
  };
}
