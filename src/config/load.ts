// Loads and validates the YAML configuration. Start-up either gets a complete, cross-checked
// Config or a ConfigError naming the path of the first problem; it never starts half-configured.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { hasSecretRefs, placeholderSecrets, secretsOf } from "./secrets.ts";
import { lookupModel, lookupSearchModel } from "./catalog.ts";
import { resolvePricing, type RawPricing } from "./pricing.ts";
import { log } from "../telemetry/log.ts";
import { resolveModelParams } from "./model-params.ts";
import { bool, ConfigError, httpUrl, join, list, num, obj, opt, record, req, str, substituteEnv, type V } from "./schema.ts";
import { ALERT_EVENTS, isSearchEngine, PLACEHOLDER } from "./types.ts";
import type {
  SpendReportConfig,
  UsageExportConfig,
  McpServerConfig,
  WebSearchConfig,
  VectorStoresConfig,
  AlertConfig,
  PromptConfig,
  Capability,
  CompatQuirks,
  Config,
  ComplexityOptions,
  CorsConfig,
  DeploymentConfig,
  HybridOptions,
  KeyConfig,
  LatencyOptions,
  MockSettings,
  Operation,
  ProviderConfig,
  ProviderType,
  RouteConfig,
  Strategy,
  Task,
  WildcardDeployment,
  SpendCap,
} from "./types.ts";
import type { FailureKind, ModelParams } from "../providers/types.ts";
import { parseRedisNode } from "./redis-nodes.ts";
import { presetSpec, type PresetConfig } from "./presets.ts";
import { wildcardFor, wildcardPart } from "./wildcards.ts";
import { buildGuardrails, checkGuardrailProvider, guardrailEntry, guardrailNames } from "../guardrails/config.ts";
import { checkGuardrail } from "../guardrails/engine.ts";
import { detectFormat, importConfig, placeholderEnv, type ImportResult } from "./import/index.ts";

export { ConfigError } from "./schema.ts";

/** The embedded default: the mock provider, no keys, in-memory store. */
export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL("../../config/default.yaml", import.meta.url));

const PROVIDER_TYPES = ["openai", "azure", "anthropic", "gemini", "openrouter", "openai-compatible", "bedrock", "vertex", "cohere", "exa", "tavily", "perplexity", "brave", "searxng", "serper", "mock"] as const;
const CAPABILITIES = ["tools", "vision", "json_mode", "json_schema", "reasoning", "streaming", "prompt_caching"] as const;
const TASKS = ["coding", "reasoning", "creative", "simple", "multimodal"] as const;
const OPERATIONS = ["chat", "embeddings", "rerank", "images", "transcription", "speech", "moderation", "realtime", "search", "ocr"] as const;
const RERANK_TYPES: ReadonlySet<ProviderType> = new Set<ProviderType>(["cohere", "bedrock", "openai-compatible", "mock"]);
/** Image generation APIs: OpenAI's /images/generations (also Azure's and OpenAI-compatible servers'), Gemini's image models (Gemini API, Vertex), Imagen (Vertex), Nova Canvas and Titan Image (Bedrock). */
const IMAGE_TYPES: ReadonlySet<ProviderType> = new Set<ProviderType>(["openai", "azure", "openai-compatible", "gemini", "vertex", "bedrock", "mock"]);
const AUDIO_TYPES: ReadonlySet<ProviderType> = new Set<ProviderType>(["openai", "azure", "openai-compatible", "mock"]);
const MODERATION_TYPES: ReadonlySet<ProviderType> = new Set<ProviderType>(["openai", "openai-compatible", "mock"]);
// OCR speaks Mistral's API (POST /ocr): Mistral is an openai-compatible provider here; Vertex AI
// serves Mistral's OCR models through :rawPredict.
const OCR_TYPES: ReadonlySet<ProviderType> = new Set<ProviderType>(["openai-compatible", "vertex", "mock"]);
const STRATEGIES = ["priority", "weighted", "latency", "cost", "least-busy", "usage", "task", "complexity", "hybrid"] as const;
const FAILURE_KINDS = [
  "rate_limited", "overloaded", "timeout", "network", "upstream_auth", "quota_exhausted", "model_not_found",
  "context_length_exceeded", "content_filtered", "bad_request", "canceled", "unknown", "server_error", "stream_interrupted",
] as const;

/** Failure kinds a route retries on the same deployment unless `retry.retry_on` says otherwise. */
export const DEFAULT_RETRY_ON: readonly FailureKind[] = ["rate_limited", "overloaded", "network", "server_error", "stream_interrupted"];

/** Defaults of the per-strategy route options. */
export const DEFAULT_LATENCY: LatencyOptions = { epsilon: 0.1, staleAfterMs: 300_000 };
export const DEFAULT_HYBRID: HybridOptions = { qualityWeight: 0.5, costWeight: 0.3, latencyWeight: 0.2, strengthBonus: 0.15 };
export const DEFAULT_COMPLEXITY: ComplexityOptions = { threshold: 0.35 };

const DEFAULT_BASE_URL: Record<ProviderType, string> = {
  openai: "https://api.openai.com/v1",
  azure: "",
  anthropic: "https://api.anthropic.com",
  gemini: "https://generativelanguage.googleapis.com",
  openrouter: "https://openrouter.ai/api/v1",
  "openai-compatible": "",
  // Derived from aws.region and vertex.location in finishProvider.
  bedrock: "",
  vertex: "",
  cohere: "https://api.cohere.com",
  exa: "https://api.exa.ai",
  tavily: "https://api.tavily.com",
  perplexity: "https://api.perplexity.ai",
  brave: "https://api.search.brave.com",
  // Self-hosted: base_url is required.
  searxng: "",
  serper: "https://google.serper.dev",
  mock: "mock://local",
};

/** Known quirks of OpenAI-compatible vendors; `compat.vendor` picks one, other compat keys override. */
export const VENDOR_QUIRKS: Record<string, Partial<CompatQuirks>> = {
  generic: {},
  ollama: { maxTokensField: "max_tokens", developerRole: false },
  vllm: { maxTokensField: "max_tokens", developerRole: false },
  groq: { maxTokensField: "max_completion_tokens", streamUsage: false, usagePaths: ["x_groq.usage"], developerRole: false },
  // Mistral answers unknown keys with 422 and always sends usage in the last chunk; its seed is
  // called random_seed, which a drop-only quirk cannot express, so seed is dropped.
  mistral: { maxTokensField: "max_tokens", streamUsage: false, developerRole: false, dropFields: ["parallel_tool_calls", "seed", "user", "reasoning_effort"] },
  together: { maxTokensField: "max_tokens", developerRole: false },
};

/** OpenAI itself. */
const OPENAI_QUIRKS: CompatQuirks = {
  maxTokensField: "max_completion_tokens",
  streamUsage: true,
  dropFields: [],
  usagePaths: [],
  developerRole: true,
};

/** An unknown OpenAI-compatible server: the conservative dialect (wire-formats §6). */
const COMPAT_QUIRKS: CompatQuirks = { ...OPENAI_QUIRKS, maxTokensField: "max_tokens", developerRole: false };

const DEFAULT_MOCK: MockSettings = {
  ttftMs: 0,
  interChunkMs: 0,
  chunks: 8,
  failureRate: 0,
  failureKind: "overloaded",
  failAfterChunks: -1,
  outputTokens: 24,
  dimensions: 16,
};

const timeoutsSpec = obj<ProviderConfig["timeouts"]>({
  connect_ms: opt(num({ min: 1, int: true }), 5_000),
  headers_ms: opt(num({ min: 1, int: true }), 60_000),
  body_ms: opt(num({ min: 1, int: true }), 300_000),
});

// A deployment's or provider's spending cap: routing skips it past the limit, until the period resets.
const spendCapSpec = obj({
  period: req(str({ oneOf: ["day", "week", "month"] })),
  limit_usd: req(num({ min: 0 })),
});

const providerSpec = obj<Omit<ProviderConfig, "compat" | "mock"> & { compat?: Partial<CompatQuirks> & { vendor?: string }; mock?: Partial<MockSettings> }>({
  name: req(str({ min: 1, pattern: /^[a-z0-9][a-z0-9_.-]*$/ })),
  type: req(str({ oneOf: PROVIDER_TYPES })),
  base_url: opt(str({ pattern: /^(https?|mock):\/\/\S+$/ })),
  api_key: opt(str()),
  api_version: opt(str()),
  budget: opt(spendCapSpec),
  aws: opt(
    obj({
      region: req(str({ min: 1, pattern: /^[a-z]{2}(-[a-z]+)+-\d+$/ })),
      access_key_id: opt(str()),
      secret_access_key: opt(str()),
      session_token: opt(str()),
    }),
  ),
  vertex: opt(
    obj({
      project: req(str({ min: 1 })),
      location: req(str({ min: 1, pattern: /^(global|[a-z]+-[a-z]+\d+)$/ })),
      credentials_file: opt(str({ min: 1 })),
      // The key file's contents (a secret: sealed when the provider is made at run time).
      credentials_json: opt(str({ min: 1 })),
      token_url: opt(str({ pattern: /^https?:\/\/\S+$/ })),
    }),
  ),
  headers: opt(record(str()), {}),
  timeouts: opt(timeoutsSpec, { connectMs: 5_000, headersMs: 60_000, bodyMs: 300_000 }),
  max_connections: opt(num({ min: 1, max: 10_000, int: true }), 128),
  // What the provider does with prompts (the provider preferences' data_collection and zdr read it).
  data_policy: opt(obj({ collects: opt(bool), zero_retention: opt(bool) })),
  compat: opt(
    obj({
      vendor: opt(str({ oneOf: Object.keys(VENDOR_QUIRKS) })),
      max_tokens_field: opt(str({ oneOf: ["max_completion_tokens", "max_tokens"] })),
      stream_usage: opt(bool),
      drop_fields: opt(list(str())),
      usage_paths: opt(list(str())),
      developer_role: opt(bool),
    }),
  ),
  mock: opt(
    obj({
      ttft_ms: opt(num({ min: 0, int: true })),
      inter_chunk_ms: opt(num({ min: 0, int: true })),
      chunks: opt(num({ min: 1, max: 10_000, int: true })),
      reply: opt(str()),
      failure_rate: opt(num({ min: 0, max: 1 })),
      failure_kind: opt(str({ oneOf: FAILURE_KINDS })),
      fail_after_chunks: opt(num({ min: -1, int: true })),
      retry_after_ms: opt(num({ min: 0, int: true })),
      output_tokens: opt(num({ min: 1, max: 1_000_000, int: true })),
      // Length of the mock's embedding vectors (a request's dimensions wins).
      dimensions: opt(num({ min: 1, max: 65_536, int: true })),
      // How the mock embeds a text: hash (a random unit vector per text) or words (a bag of words:
      // texts that share words point the same way, so a semantic cache can be tried on it).
      embedding: opt(str({ oneOf: ["hash", "words"] })),
    }),
  ),
});

const usdPerM = num({ min: 0, max: 10_000 });

const limitsSpec = obj({
  requests_per_minute: opt(num({ min: 1, int: true })),
  tokens_per_minute: opt(num({ min: 1, int: true })),
});

const deploymentSpec = obj<Omit<DeploymentConfig, "pricing" | "contextWindow" | "maxOutputTokens" | "capabilities" | "operations" | "quality" | "params"> & {
  operations?: Operation[];
  pricing?: RawPricing;
  contextWindow?: number;
  maxOutputTokens?: number;
  capabilities?: Capability[];
  quality?: number;
  maxModels?: number;
}>({
  // A trailing "*" makes a wildcard deployment ("openai/*", or "*" alone): see WildcardDeployment.
  id: req(str({ min: 1, pattern: /^(?:\*|[A-Za-z0-9][A-Za-z0-9_.:\/-]*\*?)$/ })),
  provider: req(str({ min: 1 })),
  model: req(str({ min: 1 })),
  // USD per million tokens (per_request: USD per request); rates left out keep the catalog's ratios (src/config/pricing.ts).
  pricing: opt(
    obj({
      input: opt(usdPerM),
      cached_input: opt(usdPerM),
      cache_write: opt(usdPerM),
      cache_write_1h: opt(usdPerM),
      output: opt(usdPerM),
      reasoning: opt(usdPerM),
      per_request: opt(num({ min: 0, max: 1_000 })),
      // USD per million input-image tokens of an image edit (gpt-image-1: 10); absent: the input price.
      image_input: opt(usdPerM),
      // USD per million audio input and output tokens (the Realtime API; gpt-realtime: 32 and 64); absent: the input and output prices.
      audio_input: opt(usdPerM),
      audio_output: opt(usdPerM),
      // USD per generated image: one price, or by "<quality> <size>", "<size>", "<quality>" and "default".
      per_image: opt((v: unknown, p: string) => (typeof v === "number" ? num({ min: 0, max: 1_000 })(v, p) : record(num({ min: 0, max: 1_000 }))(v, p))),
      // USD per minute of audio transcribed (whisper-1: 0.006), and per million characters read aloud (tts-1: 15).
      per_minute: opt(num({ min: 0, max: 1_000 })),
      per_million_characters: opt(num({ min: 0, max: 100_000 })),
      // USD per page of a document processed (OCR; mistral-ocr-2512: 0.002).
      per_page: opt(num({ min: 0, max: 1_000 })),
      // USD per page annotated on top of its per-page price (Mistral's Document AI annotations: 0.003).
      per_annotated_page: opt(num({ min: 0, max: 1_000 })),
      // Long context: above above_input_tokens prompt tokens the whole request is billed at the tier's prices.
      tiers: opt(
        list(
          obj({
            above_input_tokens: req(num({ min: 1, int: true })),
            input: req(usdPerM),
            output: req(usdPerM),
            cached_input: opt(usdPerM),
            cache_write: opt(usdPerM),
            cache_write_1h: opt(usdPerM),
            reasoning: opt(usdPerM),
          }),
        ),
      ),
    }),
  ),
  context_window: opt(num({ min: 1, int: true })),
  max_output_tokens: opt(num({ min: 1, int: true })),
  capabilities: opt(list(str({ oneOf: CAPABILITIES }) as any)),
  // What it serves: [chat] (default), [embeddings] (the catalog says so for embedding models), or both.
  operations: opt(list(str({ oneOf: OPERATIONS }) as any, { min: 1 })),
  strengths: opt(list(str({ oneOf: TASKS }) as any), []),
  quality: opt(num({ min: 0, max: 1 })),
  // The provider's own limits for this deployment, enforced across replicas.
  limits: opt(limitsSpec),
  budget: opt(spendCapSpec),
  // The model an Azure deployment (named freely) runs: picks the catalog's parameter rules.
  base_model: opt(str({ min: 1 })),
  // Output tokens a request without max_output_tokens reserves until the deployment has a p95.
  expected_output_tokens: opt(num({ min: 1, int: true })),
  // auto: cache breakpoints after the system prompt and the last message of a request that has
  // none (Claude on anthropic, bedrock or vertex), so each turn of a conversation reads the last one's.
  prompt_cache: opt(str({ oneOf: ["auto", "off"] }), "off"),
  // Wildcard deployments only: distinct models made from it per configuration generation.
  max_models: opt(num({ min: 1, max: 100_000, int: true })),
});

const targetSpec = (v: unknown, p: string) => {
  if (typeof v === "string") return { deployment: str({ min: 1 })(v, p), weight: 1 };
  return obj<{ deployment: string; weight: number }>({
    deployment: req(str({ min: 1 })),
    weight: opt(num({ min: 0, max: 1_000_000, int: true }), 1),
  })(v, p);
};

/** A string or a list of strings (at least one, none empty), as a list. */
const oneOrMore = (v: unknown, p: string): string[] => {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return [str({ min: 1 })(String(v), p)];
  return list(str({ min: 1 }), { min: 1 })(v, p);
};

const routeSpec = obj<RouteConfig>({
  name: req(str({ min: 1, pattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/ })),
  description: opt(str(), ""),
  strategy: opt(str({ oneOf: STRATEGIES }) as any, "priority"),
  targets: opt(list(targetSpec), []),
  fallbacks: opt(list(str({ min: 1 })), []),
  variants: opt(
    list(obj({ name: req(str({ min: 1 })), weight: req(num({ min: 0, max: 1_000_000, int: true })), targets: req(list(targetSpec, { min: 1 })) })),
    [],
  ),
  task_routes: opt(
    obj({ coding: opt(str()), reasoning: opt(str()), creative: opt(str()), simple: opt(str()), multimodal: opt(str()) }),
    {},
  ),
  // Conditional routing: the first condition whose `when` all match sends the request to `target`.
  conditions: opt(list(obj({ when: req(record(oneOrMore)), target: req(str({ min: 1 })) })), []),
  max_attempts: opt(num({ min: 1, max: 20, int: true }), 4),
  hedge_after_ms: opt(num({ min: 0, int: true }), 0),
  no_fallback: opt(bool, false),
  fallback_on_content_filter: opt(bool, false),
  timeouts: opt(
    obj({
      first_token_ms: opt(num({ min: 1, int: true }), 30_000),
      idle_ms: opt(num({ min: 1, int: true }), 30_000),
      attempt_ms: opt(num({ min: 1, int: true }), 300_000),
      total_ms: opt(num({ min: 1, int: true }), 600_000),
    }),
    { firstTokenMs: 30_000, idleMs: 30_000, attemptMs: 300_000, totalMs: 600_000 },
  ),
  retry: opt(
    obj({
      max_retries: opt(num({ min: 0, max: 10, int: true }), 1),
      base_delay_ms: opt(num({ min: 0, int: true }), 200),
      max_delay_ms: opt(num({ min: 0, int: true }), 5_000),
      max_retry_after_ms: opt(num({ min: 0, int: true }), 10_000),
      retry_on: opt(list(str({ oneOf: FAILURE_KINDS }) as V<FailureKind>), [...DEFAULT_RETRY_ON]),
    }),
    { maxRetries: 1, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 10_000, retryOn: [...DEFAULT_RETRY_ON] },
  ),
  latency: opt(
    obj({
      epsilon: opt(num({ min: 0, max: 1 }), DEFAULT_LATENCY.epsilon),
      stale_after_ms: opt(num({ min: 1, int: true }), DEFAULT_LATENCY.staleAfterMs),
    }),
  ),
  hybrid: opt(
    obj({
      quality_weight: opt(num({ min: 0, max: 1000 }), DEFAULT_HYBRID.qualityWeight),
      cost_weight: opt(num({ min: 0, max: 1000 }), DEFAULT_HYBRID.costWeight),
      latency_weight: opt(num({ min: 0, max: 1000 }), DEFAULT_HYBRID.latencyWeight),
      strength_bonus: opt(num({ min: 0, max: 1 }), DEFAULT_HYBRID.strengthBonus),
    }),
  ),
  complexity: opt(obj({ threshold: opt(num({ min: 0, max: 1 }), DEFAULT_COMPLEXITY.threshold) })),
  max_output_tokens: opt(num({ min: 1, int: true })),
  cache: opt(
    obj({
      enabled: opt(bool, false),
      ttl_seconds: opt(num({ min: 1, int: true }), 300),
      share_across_teams: opt(bool, false),
      dedupe: opt(bool, false),
      // Semantic: a request the exact key misses is answered by a cached answer to a prompt whose
      // embedding is this close (cosine similarity), same route, parameters and team.
      semantic: opt(
        obj({
          embedding: req(str({ min: 1 })),
          threshold: opt(num({ min: 0.5, max: 1 }), 0.95),
          max_entries: opt(num({ min: 1, max: 100_000, int: true }), 1000),
        }),
      ),
    }),
    { enabled: false, ttlSeconds: 300, shareAcrossTeams: false, dedupe: false },
  ),
  strict_params: opt(bool, false),
  guardrails: opt(guardrailNames),
  mirror: opt(
    obj({
      target: req(str({ min: 1 })),
      percent: opt(num({ min: 0, max: 100 }), 100),
      max_in_flight: opt(num({ min: 1, max: 10_000, int: true }), 16),
      judge: opt(str({ min: 1 })),
      when: opt(record(oneOrMore)),
      embedding: opt(str({ min: 1 })),
    }),
  ),
});


const budgetSpec = obj({
  period: req(str({ oneOf: ["day", "week", "month", "lifetime"] })),
  limit_usd: req(num({ min: 0 })),
  soft_threshold: opt(num({ min: 0, max: 1 }), 0.8),
});

const keySpec = obj<KeyConfig>({
  name: req(str({ min: 1 })),
  hash: req(str({ pattern: /^sha256:[0-9a-f]{64}$/ })),
  team: opt(str({ min: 1 }), "default"),
  role: opt(str({ oneOf: ["admin", "team", "service"] }) as any, "service"),
  allow: opt(list(str({ min: 1 })), []),
  limits: opt(limitsSpec, {}),
  per_user_limits: opt(limitsSpec),
  budget: opt(budgetSpec),
  per_user_budget: opt(budgetSpec),
  max_output_tokens: opt(num({ min: 1, int: true })),
  guardrails: opt(guardrailNames),
});

/** Default of server.cors.max_age_seconds: Chromium caps preflight caching at 2 hours anyway. */
export const DEFAULT_CORS_MAX_AGE_SECONDS = 7200;

const ORIGIN_HINT = 'expected an origin like "https://app.example.com", a pattern like "https://*.example.com", or "*"';

/**
 * One `server.cors.allowed_origins` entry, normalised the way browsers serialise an Origin header
 * (lowercase, punycode, no default port) so matching is plain string comparison.
 */
const corsOrigin: V<string> = (v, p) => {
  const s = str({ min: 1 })(v, p).trim();
  if (s === "*") return s;
  if (s === "null") throw new ConfigError(p, `"null" is the opaque origin of sandboxed frames and local files: any page can send it, so it cannot be allowed`);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\*\.)?([^/?#]*)(.*)$/.exec(s);
  if (!m) throw new ConfigError(p, `"${s}" is not an origin: ${ORIGIN_HINT}`);
  const [, scheme, wildcard, authority, rest] = m;
  if (!/^https?$/i.test(scheme)) throw new ConfigError(p, `"${s}": the scheme must be http or https`);
  if (rest !== "") throw new ConfigError(p, `"${s}": an origin has no path, query or trailing slash (use "${scheme.toLowerCase()}://${wildcard ?? ""}${authority}")`);
  if (authority.includes("*")) throw new ConfigError(p, `"${s}": a wildcard may only stand for whole leading labels, as in "https://*.example.com"`);
  if (authority.includes("@")) throw new ConfigError(p, `"${s}": an origin has no user name or password`);
  let url: URL;
  try {
    url = new URL(`${scheme}://${wildcard ? "x." : ""}${authority}`);
  } catch {
    throw new ConfigError(p, `"${s}" is not an origin: ${ORIGIN_HINT}`);
  }
  if (!wildcard) return url.origin;
  const base = url.hostname.slice(2);
  // "*.com" would let any site in; a single-label base is only sensible for localhost.
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(base) && base !== "localhost") {
    throw new ConfigError(p, `"${s}": a wildcard needs a domain of at least two labels after "*." (like "https://*.example.com")`);
  }
  return url.origin.replace("://x.", "://*.");
};

/** An HTTP header name (RFC 9110 token), lowercased. */
const headerName: V<string> = (v, p) => {
  const s = str({ min: 1 })(v, p).trim();
  if (s.includes("*")) throw new ConfigError(p, `"${s}": wildcards are not supported, list the header names`);
  if (!/^[A-Za-z0-9!#$%&'+.^_`|~-]+$/.test(s)) throw new ConfigError(p, `"${s}" is not a valid header name`);
  return s.toLowerCase();
};

const corsFields = obj<CorsConfig>({
  allowed_origins: req(list(corsOrigin, { min: 1 })),
  allow_credentials: opt(bool, false),
  max_age_seconds: opt(num({ min: 0, max: 86_400, int: true }), DEFAULT_CORS_MAX_AGE_SECONDS),
  allowed_headers: opt(list(headerName), []),
  exposed_headers: opt(list(headerName), []),
});

const corsSpec: V<CorsConfig> = (v, p) => {
  const c = corsFields(v, p);
  const any = c.allowedOrigins.indexOf("*");
  if (any >= 0 && c.allowCredentials) {
    throw new ConfigError(join(join(p, "allowed_origins"), any), `"*" cannot be combined with allow_credentials: true (browsers refuse a wildcard with credentials): list the origins instead`);
  }
  return c;
};

/** `console.trace_url`: an http(s) URL with `{trace_id}` where the trace id goes. */
const traceUrlTemplate: V<string> = (v, p) => {
  const s = str({ min: 1 })(v, p).trim();
  if (!s.includes("{trace_id}")) throw new ConfigError(p, `"${s}" has no {trace_id} placeholder (e.g. "http://jaeger:16686/trace/{trace_id}")`);
  let url: URL;
  try {
    url = new URL(s.replaceAll("{trace_id}", "0"));
  } catch {
    throw new ConfigError(p, `"${s}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(p, `"${s}": the scheme must be http or https`);
  return s;
};

/** An https URL, or plain http to this machine (a development identity provider). */
const secureUrl: V<string> = (v, p) => {
  const s = httpUrl(v, p);
  const u = new URL(s);
  if (u.protocol !== "https:" && !["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) throw new ConfigError(p, `"${s}" must be https (plain http only to this machine)`);
  return s;
};

const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/** One entry per issuer: a token's `iss` picks its entry. */
function uniqueIssuers<T extends { issuer: string }>(list: T[]): T[] {
  list.forEach((x, i) => {
    if (list.findIndex((y) => y.issuer === x.issuer) !== i) throw new ConfigError(`auth.jwt[${i}].issuer`, `"${x.issuer}" is listed twice: put its subjects in one entry`);
  });
  return list;
}

/** `auth.jwt[]`: an issuer whose tokens stand in for keys' secrets. */
const jwtIssuerSpec: V<any> = (v, p) => {
  const s = obj<any>({
    issuer: req(str({ min: 1 })),
    audience: req((x, q) => (Array.isArray(x) ? list(str({ min: 1 }), { min: 1 })(x, q) : [str({ min: 1 })(x, q)])),
    jwks_url: opt(secureUrl),
    jwks_cooldown_ms: opt(num({ min: 0, max: 600_000, int: true }), 5_000),
    claim: opt(str({ min: 1 }), "sub"),
    subjects: req(record(str({ min: 1 }))),
    algorithms: opt(list(str({ oneOf: JWT_ALGORITHMS })), ["RS256", "ES256", "PS256", "EdDSA"]),
  })(v, p);
  if (!s.jwksUrl) secureUrl(s.issuer, join(p, "issuer"));
  if (Object.keys(s.subjects).length === 0) throw new ConfigError(join(p, "subjects"), "binds nobody: map a claim value to a key name");
  const { audience, ...rest } = s;
  return { ...rest, audiences: audience };
};

/** `console.sso`'s members: e-mail addresses (stored lower-case) and group names. */
const ssoMembers = obj({
  emails: opt(list(str({ min: 3 }) as V<string>), []),
  groups: opt(list(str({ min: 1 })), []),
});
const lowerEmails = <T extends { emails: string[] }>(m: T): T => ({ ...m, emails: m.emails.map((e) => e.trim().toLowerCase()) });

/** `console.sso`: OpenID Connect sign-in to the console. */
const ssoSpec: V<any> = (v, p) => {
  const s = obj<any>({
    issuer: req(httpUrl),
    client_id: req(str({ min: 1 })),
    client_secret: opt(str({ min: 1 })),
    redirect_url: req(httpUrl),
    scopes: opt(list(str({ min: 1 })), ["openid", "email", "profile"]),
    groups_claim: opt(str({ min: 1 }), "groups"),
    admins: opt(ssoMembers, { emails: [], groups: [] }),
    teams: opt(list(obj({ team: req(str({ min: 1 })), emails: opt(list(str({ min: 3 })), []), groups: opt(list(str({ min: 1 })), []) })), []),
    session_hours: opt(num({ min: 0.1, max: 720 }), 8),
  })(v, p);
  if (!s.scopes.includes("openid")) throw new ConfigError(join(p, "scopes"), 'must include "openid"');
  if (!new URL(s.redirectUrl).pathname.endsWith("/console/sso/callback")) throw new ConfigError(join(p, "redirect_url"), "must be this gateway's /console/sso/callback URL");
  const admins = lowerEmails(s.admins);
  const teams = s.teams.map((t: any) => lowerEmails(t));
  if (!admins.emails.length && !admins.groups.length && !teams.some((t: any) => t.emails.length || t.groups.length)) {
    throw new ConfigError(p, "names nobody: give admins or teams emails or groups, or nobody could sign in");
  }
  teams.forEach((t: any, i: number) => {
    if (!t.emails.length && !t.groups.length) throw new ConfigError(join(join(p, "teams"), i), "names nobody: give emails or groups");
  });
  return { ...s, admins, teams };
};

/** One seed node of `store.redis_cluster`: "host:port" or a redis:// / rediss:// URL. */
const redisNode: V<string> = (v, p) => {
  const s = str({ min: 1 })(v, p).trim();
  try {
    parseRedisNode(s);
  } catch (err) {
    throw new ConfigError(p, (err as Error).message);
  }
  return s;
};

/**
 * One Redis or a Redis Cluster, from the file or the environment (REDIS_URL, REDIS_CLUSTER_NODES
 * comma-separated); both at once is an error that says where each came from.
 */
function redisStore(store: { redisUrl?: string; redisCluster?: string[] }, env: Record<string, string | undefined>): { redisUrl?: string; redisCluster?: string[] } {
  const fromEnv = (env.REDIS_CLUSTER_NODES ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  fromEnv.forEach((n, i) => redisNode(n, `REDIS_CLUSTER_NODES[${i}]`));
  const redisUrl = store.redisUrl || env.REDIS_URL || undefined;
  const redisCluster = store.redisCluster ?? (fromEnv.length ? fromEnv : undefined);
  if (redisUrl && redisCluster) {
    const clusterFrom = store.redisCluster ? "store.redis_cluster" : "REDIS_CLUSTER_NODES";
    const urlFrom = store.redisUrl ? "store.redis_url" : "REDIS_URL";
    throw new ConfigError(
      store.redisUrl && !store.redisCluster ? "store.redis_url" : "store.redis_cluster",
      `${clusterFrom} (a Redis Cluster) and ${urlFrom} (one Redis) are both set: set only one`,
    );
  }
  return redisCluster ? { redisCluster } : { redisUrl };
}

/** Spend reports, each naming a sink of the file's alerts (by name) and a name of its own. */
function spendReportsOf(reports: SpendReportConfig[], alerts: readonly AlertConfig[]): SpendReportConfig[] {
  const names = new Set<string>();
  reports.forEach((r, i) => {
    if (names.has(r.name)) throw new ConfigError(`spend_reports[${i}].name`, `duplicate spend report "${r.name}"`);
    names.add(r.name);
    if (!alerts.some((a) => a.name === r.alert)) throw new ConfigError(`spend_reports[${i}].alert`, `unknown alert sink "${r.alert}" (alerts: ${alerts.map((a) => a.name).join(", ") || "none"})`);
  });
  return reports;
}

/** One entry of alerts (and an alert made at run time). */
const alertSpec = obj<any>({
  name: req(str({ min: 1 })),
  url: req(httpUrl),
  format: opt(str({ oneOf: ["json", "slack"] }), "json"),
  events: opt(list(str({ oneOf: ALERT_EVENTS }), { min: 1 }), [...ALERT_EVENTS]),
  headers: opt(record(str()), {}),
  timeout_ms: opt(num({ min: 1, max: 60_000, int: true }), 5_000),
});

/** One entry of usage_export: where usage records are archived, and how often. */
const usageExportSpec = obj<any>({
  name: req(str({ min: 1, pattern: /^[A-Za-z0-9_.-]+$/ })),
  type: req(str({ oneOf: ["s3", "gcs", "azure_blob", "http", "datadog", "splunk", "langfuse", "otlp"] })),
  // S3 and GCS: the bucket; Azure: the container.
  bucket: opt(str({ min: 1 })),
  container: opt(str({ min: 1 })),
  prefix: opt(str({ pattern: /^[^\s]*$/ }), "signalbox/usage"),
  // 60 (5 for langfuse).
  flush_seconds: opt(num({ min: 1, max: 3600, int: true })),
  // 10,000 (1,000 for datadog, its intake's limit per request).
  max_records: opt(num({ min: 1, max: 1_000_000, int: true })),
  // 200,000 (20,000 for langfuse).
  max_buffered_records: opt(num({ min: 1, max: 10_000_000, int: true })),
  spool_dir: opt(str({ min: 1 })),
  timeout_ms: opt(num({ min: 100, max: 600_000, int: true }), 30_000),
  // Only the records that match (every field one of its values; "*" any): team, key, user, tag, route, deployment, provider, status, operation, metadata.<name>.
  when: opt(record(oneOrMore)),
  // S3: region, an S3-compatible endpoint (MinIO, R2, Ceph) with path-style addressing, keys (else AWS_* from the environment).
  region: opt(str({ min: 1 })),
  endpoint: opt(httpUrl),
  path_style: opt(bool),
  access_key_id: opt(str({ min: 1 })),
  secret_access_key: opt(str({ min: 1 })),
  session_token: opt(str({ min: 1 })),
  // GCS: a service-account key (file or contents), else Application Default Credentials; token_url for tests.
  credentials_file: opt(str({ min: 1 })),
  credentials_json: opt(str({ min: 1 })),
  token_url: opt(httpUrl),
  // Azure: the account's blob endpoint (https://<account>.blob.core.windows.net), and a SAS token or an Entra ID app (client secret or federated token).
  account_url: opt(httpUrl),
  sas_token: opt(str({ min: 1 })),
  tenant_id: opt(str({ min: 1 })),
  client_id: opt(str({ min: 1 })),
  client_secret: opt(str({ min: 1 })),
  federated_token_file: opt(str({ min: 1 })),
  authority_url: opt(httpUrl),
  // http: where NDJSON batches are POSTed, and headers (an Authorization, say); splunk: the HEC's base URL; datadog: another intake URL.
  url: opt(httpUrl),
  headers: opt(record(str())),
  // datadog: its site (datadoghq.com, datadoghq.eu, us3.datadoghq.com, …) and API key; service and tags of every log.
  site: opt(str({ pattern: /^[a-z0-9.-]+$/ })),
  api_key: opt(str({ min: 1 })),
  service: opt(str({ min: 1 })),
  tags: opt(list(str({ min: 1 }))),
  // splunk: the HTTP Event Collector's token, and the index and sourcetype of every event.
  token: opt(str({ min: 1 })),
  index: opt(str({ min: 1 })),
  sourcetype: opt(str({ min: 1 })),
  // langfuse: the project's keys, its host as url (Langfuse Cloud EU by default), the environment.
  // Any type: each chat request's messages and answer go too (off unless set), texts cut at max_content_chars.
  public_key: opt(str({ min: 1 })),
  secret_key: opt(str({ min: 1 })),
  environment: opt(str({ pattern: /^[a-z0-9_-]{1,40}$/ })),
  capture_content: opt(bool),
  max_content_chars: opt(num({ min: 100, max: 1_000_000, int: true })),
});

/** The fields of a usage export's `when`. */
const EXPORT_WHEN_FIELD = /^(team|key|user|tag|route|deployment|provider|status|operation|metadata\..+)$/;

/** usage_export entries, checked for what their type needs. */
function usageExportsOf(raw: any[]): UsageExportConfig[] {
  const names = new Set<string>();
  return raw.map((e, i): UsageExportConfig => {
    const at = (f: string) => `usage_export[${i}].${f}`;
    if (names.has(e.name)) throw new ConfigError(at("name"), `duplicate usage export "${e.name}"`);
    names.add(e.name);
    const only = (fields: string[], type: string) => {
      for (const f of fields) if (e[f.replace(/_([a-z])/g, (_: string, c: string) => c.toUpperCase())] !== undefined) throw new ConfigError(at(f), `is not a setting of type ${e.type} (it belongs to ${type})`);
    };
    const S3 = ["region", "endpoint", "path_style", "access_key_id", "secret_access_key", "session_token"];
    const GCS = ["credentials_file", "credentials_json", "token_url"];
    const AZ = ["account_url", "sas_token", "tenant_id", "client_id", "client_secret", "federated_token_file", "authority_url", "container"];
    const LOGS = ["url", "headers", "site", "api_key", "service", "tags", "token", "index", "sourcetype"];
    const LANGFUSE = ["public_key", "secret_key", "environment"];
    const BUCKETS = ["bucket", "prefix", ...S3, ...GCS, ...AZ];
    if (e.when) {
      const fields = Object.keys(e.when);
      if (fields.length === 0) throw new ConfigError(at("when"), "needs at least one field (team, key, user, tag, route, deployment, provider, status, operation or metadata.<name>)");
      for (const f of fields) if (!EXPORT_WHEN_FIELD.test(f)) throw new ConfigError(at(`when.${f}`), "unknown field: one of team, key, user, tag, route, deployment, provider, status, operation, metadata.<name>");
    }
    const langfuse = e.type === "langfuse";
    // Traces (Langfuse, OTLP): small, frequent requests.
    const traces = langfuse || e.type === "otlp";
    // Langfuse: small, frequent requests (a trace shows up within seconds), and with content a
    // smaller buffer (each record may carry a conversation).
    const maxRecords = e.maxRecords ?? (e.type === "datadog" ? 1000 : traces ? 500 : 10_000);
    const flushSeconds: number = e.flushSeconds ?? (traces ? 5 : 60);
    const maxBuffered: number = e.maxBufferedRecords ?? (traces ? 20_000 : 200_000);
    if (e.maxContentChars !== undefined && !e.captureContent) throw new ConfigError(at("max_content_chars"), "goes with capture_content: true");
    // Any type may carry each chat request's messages and answer (off unless asked).
    const content = { captureContent: e.captureContent === true, ...(e.captureContent ? { maxContentChars: e.maxContentChars ?? 100_000 } : {}) };
    const common = { ...(e.when ? { when: e.when as Record<string, string[]> } : {}), name: e.name, type: e.type, prefix: String(e.prefix).replace(/^\/+|\/+$/g, ""), flushMs: flushSeconds * 1000, maxRecords, maxBufferedRecords: Math.max(maxBuffered, maxRecords), timeoutMs: e.timeoutMs, ...(e.spoolDir ? { spoolDir: e.spoolDir } : {}), ...content };
    if (!langfuse) only(LANGFUSE, "langfuse");
    if (e.type === "otlp") {
      only(BUCKETS.filter((f) => f !== "prefix"), "the object stores (s3, gcs, azure_blob)");
      if (e.prefix !== "signalbox/usage") throw new ConfigError(at("prefix"), "is not a setting of type otlp (it belongs to the object stores)");
      only(LOGS.filter((f) => f !== "url" && f !== "headers"), "datadog or splunk");
      if (!e.url) throw new ConfigError(at("url"), "is required for type otlp (the OTLP/HTTP traces endpoint, https://collector.example.com:4318/v1/traces)");
      return { ...common, prefix: "", url: e.url, ...(e.headers ? { headers: e.headers } : {}) };
    }
    if (langfuse) {
      only(BUCKETS.filter((f) => f !== "prefix"), "the object stores (s3, gcs, azure_blob)");
      if (e.prefix !== "signalbox/usage") throw new ConfigError(at("prefix"), "is not a setting of type langfuse (it belongs to the object stores)");
      only(LOGS.filter((f) => f !== "url" && f !== "headers"), "datadog or splunk");
      if (!e.publicKey) throw new ConfigError(at("public_key"), "is required for type langfuse (the project's public key, pk-lf-…)");
      if (!e.secretKey) throw new ConfigError(at("secret_key"), "is required for type langfuse (the project's secret key, sk-lf-…)");
      return {
        ...common,
        prefix: "",
        url: (e.url ?? "https://cloud.langfuse.com").replace(/\/+$/, ""),
        ...(e.headers ? { headers: e.headers } : {}),
        publicKey: e.publicKey,
        secretKey: e.secretKey,
        ...(e.environment ? { environment: e.environment } : {}),
      };
    }
    if (e.type === "http" || e.type === "datadog" || e.type === "splunk") {
      // prefix has a default: only a value other than it is a mistake here.
      only(BUCKETS.filter((f) => f !== "prefix"), "the object stores (s3, gcs, azure_blob)");
      if (e.prefix !== "signalbox/usage") throw new ConfigError(at("prefix"), `is not a setting of type ${e.type} (it belongs to the object stores)`);
      const mine = { http: ["url", "headers"], datadog: ["url", "site", "api_key", "service", "tags"], splunk: ["url", "token", "index", "sourcetype"] }[e.type as "http"];
      only(LOGS.filter((f) => !mine.includes(f)), e.type === "http" ? "datadog or splunk" : e.type === "datadog" ? "http or splunk" : "http or datadog");
      if (e.type === "http" && !e.url) throw new ConfigError(at("url"), "is required for type http (where NDJSON batches are POSTed)");
      if (e.type === "splunk" && !e.url) throw new ConfigError(at("url"), "is required for type splunk (the HTTP Event Collector, https://splunk.example.com:8088)");
      if (e.type === "splunk" && !e.token) throw new ConfigError(at("token"), "is required for type splunk (an HTTP Event Collector token)");
      if (e.type === "datadog" && !e.apiKey) throw new ConfigError(at("api_key"), "is required for type datadog");
      if (e.type === "datadog" && e.url && e.site) throw new ConfigError(at("site"), "give site or url, not both");
      // Datadog's logs intake takes at most 1,000 logs a request.
      if (e.type === "datadog" && maxRecords > 1000) throw new ConfigError(at("max_records"), "at most 1000 for type datadog (its intake's limit per request)");
      return {
        ...common,
        prefix: "",
        ...(e.url ? { url: e.url } : {}),
        ...(e.headers ? { headers: e.headers } : {}),
        ...(e.type === "datadog" ? { site: e.site ?? "datadoghq.com", apiKey: e.apiKey, service: e.service ?? "signalbox", tags: e.tags ?? [] } : {}),
        ...(e.type === "splunk" ? { token: e.token, ...(e.index ? { index: e.index } : {}), sourcetype: e.sourcetype ?? "signalbox:request" } : {}),
      };
    }
    only(LOGS, "http, datadog or splunk");
    if (e.type === "s3") {
      only(GCS, "gcs");
      only(AZ, "azure_blob");
      if (!e.bucket) throw new ConfigError(at("bucket"), "is required for type s3");
      if ((e.accessKeyId === undefined) !== (e.secretAccessKey === undefined)) throw new ConfigError(at(e.accessKeyId === undefined ? "access_key_id" : "secret_access_key"), "give access_key_id and secret_access_key together (or neither: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
      if (e.sessionToken !== undefined && e.accessKeyId === undefined) throw new ConfigError(at("session_token"), "goes with access_key_id and secret_access_key");
      return { ...common, bucket: e.bucket, region: e.region ?? "us-east-1", ...(e.endpoint ? { endpoint: e.endpoint } : {}), pathStyle: e.pathStyle ?? !!e.endpoint, ...(e.accessKeyId ? { accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey, ...(e.sessionToken ? { sessionToken: e.sessionToken } : {}) } : {}) };
    }
    if (e.type === "gcs") {
      only(["region", "path_style", "access_key_id", "secret_access_key", "session_token"], "s3");
      only(AZ, "azure_blob");
      if (!e.bucket) throw new ConfigError(at("bucket"), "is required for type gcs");
      if (e.credentialsFile !== undefined && e.credentialsJson !== undefined) throw new ConfigError(at("credentials_json"), "give credentials_file or credentials_json, not both");
      if (e.credentialsJson !== undefined) checkVertexCredentials({ credentialsJson: e.credentialsJson }, `usage_export[${i}]`);
      return { ...common, bucket: e.bucket, ...(e.endpoint ? { endpoint: e.endpoint } : {}), ...(e.credentialsFile ? { credentialsFile: e.credentialsFile } : {}), ...(e.credentialsJson ? { credentialsJson: e.credentialsJson } : {}), ...(e.tokenUrl ? { tokenUrl: e.tokenUrl } : {}) };
    }
    only(S3, "s3");
    only(GCS, "gcs");
    if (e.bucket !== undefined) throw new ConfigError(at("bucket"), "type azure_blob names a container, not a bucket");
    if (!e.container) throw new ConfigError(at("container"), "is required for type azure_blob");
    if (!e.accountUrl) throw new ConfigError(at("account_url"), "is required for type azure_blob (https://<account>.blob.core.windows.net)");
    const app = e.tenantId !== undefined || e.clientId !== undefined || e.clientSecret !== undefined || e.federatedTokenFile !== undefined;
    if (e.sasToken !== undefined && app) throw new ConfigError(at("sas_token"), "give a SAS token or an Entra ID app (tenant_id, client_id, client_secret or federated_token_file), not both");
    if (e.sasToken === undefined) {
      if (!app) throw new ConfigError(at("sas_token"), "give a SAS token, or an Entra ID app: tenant_id, client_id and client_secret or federated_token_file");
      if (!e.tenantId) throw new ConfigError(at("tenant_id"), "is required with client_id");
      if (!e.clientId) throw new ConfigError(at("client_id"), "is required with tenant_id");
      if ((e.clientSecret === undefined) === (e.federatedTokenFile === undefined)) throw new ConfigError(at("client_secret"), "give client_secret or federated_token_file (exactly one)");
    }
    return {
      ...common,
      container: e.container,
      accountUrl: e.accountUrl.replace(/\/+$/, ""),
      ...(e.sasToken !== undefined ? { sasToken: String(e.sasToken).replace(/^\?/, "") } : { tenantId: e.tenantId, clientId: e.clientId, ...(e.clientSecret ? { clientSecret: e.clientSecret } : { federatedTokenFile: e.federatedTokenFile }), ...(e.authorityUrl ? { authorityUrl: e.authorityUrl } : {}) }),
    };
  });
}

/** One entry of mcp_servers (and an MCP server made at run time). */
const mcpServerSpec = obj<any>({
  id: req(str({ min: 1, pattern: /^[A-Za-z0-9-]+(_[A-Za-z0-9-]+)*$/ })),
  url: opt(httpUrl),
  command: opt(str({ min: 1 })),
  args: opt(list(str())),
  env: opt(record(str())),
  description: opt(str({ min: 1 })),
  headers: opt(record(str()), {}),
  tools: opt(list(str({ min: 1 }), { min: 1 })),
  teams: opt(list(str({ min: 1 }), { min: 1 })),
  timeout_ms: opt(num({ min: 1, max: 600_000, int: true }), 60_000),
  price_per_call_usd: opt(num({ min: 0, max: 1000 })),
  guardrails: opt(guardrailNames),
});

const rootSpec = obj<any>({
  server: opt(
    obj({
      port: opt(num({ min: 0, max: 65_535, int: true }), 8080),
      host: opt(str(), "0.0.0.0"),
      max_request_bytes: opt(num({ min: 1024, int: true }), 4 * 1024 * 1024),
      // A pass-through upload (a fine-tuning file, a vector-store document): OpenAI's file limit by default.
      max_passthrough_bytes: opt(num({ min: 1024, int: true }), 512 * 1024 * 1024),
      shutdown_grace_ms: opt(num({ min: 0, int: true }), 10_000),
      cors: opt(corsSpec),
      console: opt(bool, true),
    }),
    {},
  ),
  console: opt(obj({ trace_url: opt(traceUrlTemplate), sso: opt(ssoSpec) }), {}),
  providers: req(list(providerSpec, { min: 1 })),
  deployments: req(list(deploymentSpec, { min: 1 })),
  aliases: opt(record(str({ min: 1 })), {}),
  routes: opt(list(routeSpec), []),
  keys: opt(list(keySpec), []),
  auth: opt(obj({ jwt: opt(list(jwtIssuerSpec), []) }), { jwt: [] }),
  teams: opt(list(obj({ name: req(str({ min: 1 })), budget: opt(budgetSpec), guardrails: opt(guardrailNames) })), []),
  // Validated by buildGuardrails (src/guardrails/config.ts), which knows each kind's options.
  guardrails: opt((v: unknown) => v),
  // Webhooks told about budgets and cooldowns (src/alerts/alerts.ts).
  alerts: opt(list(alertSpec), []),
  // Scheduled spend reports (src/alerts/spend-reports.ts), each sent to an alerts[] sink.
  spend_reports: opt(
    list(
      obj({
        name: req(str({ min: 1 })),
        period: opt(str({ oneOf: ["day", "week", "month"] }), "week"),
        alert: req(str({ min: 1 })),
        group_by: opt(str({ oneOf: ["team", "key", "route", "deployment", "user", "tag"] }), "team"),
        top: opt(num({ min: 1, max: 50, int: true }), 10),
        delay_minutes: opt(num({ min: 0, max: 1440, int: true }), 10),
      }),
    ),
    [],
  ),
  // Usage records archived to object storage (src/usage/export): S3 (and S3-compatible), Google Cloud Storage, Azure Blob Storage.
  usage_export: opt(list(usageExportSpec), []),
  store: opt(obj({ redis_url: opt(str()), redis_cluster: opt(list(redisNode, { min: 1 })), postgres_url: opt(str()), usage_retention_days: opt(num({ min: 1, max: 3650, int: true })) }), {}),
  // The default of every deployment's expected_output_tokens.
  limits: opt(obj({ default_expected_output_tokens: opt(num({ min: 1, int: true })) }), {}),
  // Web search before the model (src/engine/web-search.ts): the engine, its key, and defaults.
  web_search: opt(
    obj({
      // One engine of its own (with its key), or `model`: a route, alias or deployment of search engines.
      engine: opt(str({ oneOf: ["exa", "tavily", "mock"] })),
      model: opt(str({ min: 1 })),
      api_key: opt(str({ min: 1 })),
      base_url: opt(str({ pattern: /^https?:\/\/\S+$/ })),
      max_results: opt(num({ min: 1, max: 20, int: true }), 5),
      max_characters: opt(num({ min: 100, max: 20_000, int: true }), 1_000),
      timeout_ms: opt(num({ min: 100, max: 60_000, int: true }), 10_000),
      price_per_search: opt(num({ min: 0, max: 10 })),
      price_per_result: opt(num({ min: 0, max: 10 })),
      on_failure: opt(str({ oneOf: ["answer", "fail"] }), "answer"),
      guardrails: opt(guardrailNames),
    }),
  ),
  // Spending caps of request tags (LiteLLM's tag budgets): past its cap, a request with the tag is refused.
  tag_budgets: opt(list(obj({ tag: req(str({ min: 1 })), period: req(str({ oneOf: ["day", "week", "month"] })), limit_usd: req(num({ min: 0 })) })), []),
  // Active checks of deployments in the background (src/engine/checks.ts): how often, each one's time limit, which (default all).
  health_checks: opt(
    obj({
      interval_seconds: req(num({ min: 5, max: 86_400, int: true })),
      timeout_ms: opt(num({ min: 100, max: 120_000, int: true }), 20_000),
      deployments: opt(list(str({ min: 1 })), []),
    }),
  ),
  // Vector stores and file search (src/vectors): the embedding model that indexes files and queries, an optional rerank model, chunking defaults.
  vector_stores: opt(
    obj({
      embedding: req(str({ min: 1 })),
      rerank: opt(str({ min: 1 })),
      rewrite: opt(str({ min: 1 })),
      max_chunk_size_tokens: opt(num({ min: 100, max: 4096, int: true }), 800),
      chunk_overlap_tokens: opt(num({ min: 0, max: 2048, int: true })),
      max_files: opt(num({ min: 1, max: 100_000, int: true }), 10_000),
      indexing_concurrency: opt(num({ min: 1, max: 64, int: true }), 2),
    }),
  ),
  // The Batch API (src/batch): lines run at once per replica, batches run at once per replica, and the largest input file.
  batches: opt(obj({ concurrency: opt(num({ min: 1, max: 256, int: true }), 4), parallel: opt(num({ min: 1, max: 64, int: true }), 4), max_file_mb: opt(num({ min: 1, max: 512, int: true }), 100) }), {}),
  // Prompt templates the Responses API's `prompt` names: id, version, model, instructions, messages ({{variable}} placeholders).
  prompts: opt(
    list(
      obj({
        id: req(str({ min: 1, pattern: /^[A-Za-z0-9_.:-]{1,128}$/ })),
        version: opt((v: unknown, p: string) => (typeof v === "number" && Number.isFinite(v) ? String(v) : str({ min: 1 })(v, p)), "1"),
        model: opt(str({ min: 1 })),
        instructions: opt(str({ min: 1 })),
        messages: opt(list(obj({ role: req(str({ oneOf: ["user", "assistant", "system", "developer"] })), content: req(str({ min: 1 })) })), []),
      }),
    ),
    [],
  ),
  // MCP servers (src/mcp): fronted at /mcp and run for the Responses API's `mcp` tool.
  mcp_servers: opt(list(mcpServerSpec), []),
  // OpenRouter's presets (src/config/presets.ts): a model, a system prompt, parameters and provider preferences by name.
  presets: opt(list(presetSpec), []),
  // Stored Responses API responses (src/compat/responses/store.ts): whether store: true keeps them, for how long, and the memory store's bound.
  responses: opt(obj({ store: opt(bool, true), retention_days: opt(num({ min: 1, max: 3650, int: true }), 30), memory_mb: opt(num({ min: 1, max: 65_536, int: true }), 64) }), {}),
});

/** A Vertex key given inline: one source of credentials, and JSON of a kind Google issues (its text never in a message). */
function checkVertexCredentials(v: { credentialsFile?: string; credentialsJson?: string }, path: string): void {
  if (v.credentialsJson === undefined) return;
  if (v.credentialsFile !== undefined) throw new ConfigError(join(path, "credentials_json"), "give credentials_file or credentials_json, not both");
  let key: unknown;
  try {
    key = JSON.parse(v.credentialsJson);
  } catch {
    throw new ConfigError(join(path, "credentials_json"), "is not JSON: give the contents of a Google credentials file (a service-account key)");
  }
  const k = key as Record<string, unknown> | null;
  if (!k || typeof k !== "object" || Array.isArray(k) || typeof k.type !== "string") throw new ConfigError(join(path, "credentials_json"), 'is not a Google credentials file (no "type")');
  if (k.type === "service_account" && (typeof k.client_email !== "string" || typeof k.private_key !== "string")) {
    throw new ConfigError(join(path, "credentials_json"), "a service-account key needs client_email and private_key");
  }
}

function finishProvider(p: any, path: string): ProviderConfig {
  const type = p.type as ProviderType;
  if (p.aws && type !== "bedrock") throw new ConfigError(join(path, "aws"), "only applies to type bedrock");
  if (p.vertex && type !== "vertex") throw new ConfigError(join(path, "vertex"), "only applies to type vertex");
  if (type === "bedrock" && !p.aws) throw new ConfigError(join(path, "aws"), "is required for type bedrock (aws.region; credentials default to the AWS_* environment variables)");
  if (type === "vertex" && !p.vertex) throw new ConfigError(join(path, "vertex"), "is required for type vertex (vertex.project and vertex.location)");
  if (type === "vertex") checkVertexCredentials(p.vertex, join(path, "vertex"));
  let defaultBase = DEFAULT_BASE_URL[type];
  if (type === "bedrock") defaultBase = `https://bedrock-runtime.${p.aws.region}.amazonaws.com`;
  if (type === "vertex") defaultBase = p.vertex.location === "global" ? "https://aiplatform.googleapis.com" : `https://${p.vertex.location}-aiplatform.googleapis.com`;
  const baseUrl: string = (p.baseUrl ?? defaultBase).replace(/\/+$/, "");
  if (!baseUrl) throw new ConfigError(join(path, "base_url"), `is required for type ${type}`);
  if (type !== "mock" && type !== "openai-compatible" && type !== "bedrock" && type !== "vertex" && type !== "searxng" && !p.apiKey) {
    throw new ConfigError(join(path, "api_key"), `is required for type ${type} (use \${ENV_VAR} to read it from the environment)`);
  }
  if (p.compat && type !== "openai-compatible" && type !== "openai" && type !== "azure") {
    throw new ConfigError(join(path, "compat"), `only applies to types openai, azure and openai-compatible`);
  }
  if (p.mock && type !== "mock") throw new ConfigError(join(path, "mock"), "only applies to type mock");
  if (p.dataPolicy?.zeroRetention === true && p.dataPolicy.collects === true) {
    throw new ConfigError(join(path, "data_policy.collects"), "cannot be true with zero_retention: a provider that keeps nothing collects nothing");
  }
  const zeroRetention: boolean = p.dataPolicy?.zeroRetention ?? type === "mock";
  const dataPolicy = { zeroRetention, collects: p.dataPolicy?.collects ?? (!zeroRetention && type !== "mock") };
  const { vendor, ...compatOverrides } = p.compat ?? {};
  const base = type === "openai-compatible" ? COMPAT_QUIRKS : OPENAI_QUIRKS;
  const compat: CompatQuirks = { ...base, ...VENDOR_QUIRKS[vendor ?? "generic"], ...compatOverrides };
  return { ...p, baseUrl, compat, dataPolicy, mock: { ...DEFAULT_MOCK, ...(p.mock ?? {}) } };
}

function finishDeployment(d: any, providers: Map<string, ProviderConfig>, path: string): DeploymentConfig {
  const provider = providers.get(d.provider);
  if (!provider) throw new ConfigError(join(path, "provider"), `unknown provider "${d.provider}"`);
  // Exact names only (src/config/catalog.ts); an Azure deployment is priced as its base_model.
  const priced = d.baseModel ?? d.model;
  // A search engine's deployment is priced by its mode, never as a chat model of the same name.
  const cat = isSearchEngine(provider.type) ? lookupSearchModel(provider.type, d.model) : lookupModel(priced);
  let pr: RawPricing = d.pricing ?? {};
  // An audio price alone prices an audio model the catalog does not know (Groq's whisper-large-v3): no tokens billed.
  if (!cat && (pr.perMinute !== undefined || pr.perMillionCharacters !== undefined || pr.perPage !== undefined || pr.perAnnotatedPage !== undefined)) pr = d.pricing = { input: 0, output: 0, ...pr };
  if (!cat && provider.type !== "mock" && (pr.input === undefined || pr.output === undefined)) {
    throw new ConfigError(
      join(path, "pricing"),
      `model "${priced}" is not in the built-in price table (exact names and dated snapshots only): set pricing.input and pricing.output (USD per million tokens)`,
    );
  }
  const { pricing, fellBack } = resolvePricing(cat, d.pricing);
  if (fellBack.length && provider.type !== "mock") {
    log("warn", `deployment "${d.id}": model "${priced}" is not in the built-in price table; ${fellBack.join(", ")} billed at the input price (set them in ${join(path, "pricing")})`, {
      deployment: d.id,
      model: priced,
      rates: fellBack,
    });
  }
  const maxOutputTokens: number = d.maxOutputTokens ?? cat?.maxOutputTokens ?? 8_192;
  const operations: Operation[] = d.operations ?? cat?.operations ?? ["chat"];
  // Anthropic's API has no embeddings endpoint: a deployment there can only chat.
  if (operations.includes("embeddings") && provider.type === "anthropic") {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type anthropic, which has no embeddings API`);
  }
  // Rerank APIs: Cohere's, Bedrock's rerank models, and the /rerank of OpenAI-compatible servers (vLLM, Jina, TEI).
  if (operations.includes("rerank") && !RERANK_TYPES.has(provider.type)) {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no rerank API (rerank needs cohere, bedrock, openai-compatible or mock)`);
  }
  if (operations.includes("images") && !IMAGE_TYPES.has(provider.type)) {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no image generation API (images needs openai, azure, openai-compatible, gemini, vertex, bedrock or mock)`);
  }
  for (const op of ["transcription", "speech"] as const) {
    if (operations.includes(op) && !AUDIO_TYPES.has(provider.type)) {
      throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no ${op} API (${op} needs openai, azure, openai-compatible or mock)`);
    }
  }
  if (operations.includes("realtime") && !AUDIO_TYPES.has(provider.type)) {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no Realtime API (realtime needs openai, azure, openai-compatible or mock)`);
  }
  if (operations.includes("moderation") && !MODERATION_TYPES.has(provider.type)) {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no moderation API (moderation needs openai, openai-compatible or mock)`);
  }
  if (operations.includes("ocr") && !OCR_TYPES.has(provider.type)) {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no OCR API (ocr needs openai-compatible, Mistral's API, vertex or mock)`);
  }
  if (isSearchEngine(provider.type) && (operations.length !== 1 || operations[0] !== "search")) {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, a search engine: its deployments serve search only (operations: [search])`);
  }
  if (operations.includes("search") && !isSearchEngine(provider.type) && provider.type !== "mock") {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type ${provider.type}, which has no search API (search needs exa, tavily, perplexity, brave, searxng, serper or mock)`);
  }
  if (operations.includes("chat") && provider.type === "cohere") {
    throw new ConfigError(join(path, "operations"), `provider "${provider.name}" is of type cohere, whose deployments serve rerank and embeddings only (set operations: [rerank] or [embeddings])`);
  }
  return {
    id: d.id,
    provider: d.provider,
    model: d.model,
    pricing,
    contextWindow: d.contextWindow ?? cat?.contextWindow ?? 128_000,
    maxOutputTokens,
    capabilities: d.capabilities ?? cat?.capabilities ?? ["tools", "vision", "json_mode", "json_schema", "streaming"],
    operations,
    strengths: d.strengths as Task[],
    quality: d.quality ?? cat?.quality ?? 0.5,
    ...(d.limits && (d.limits.requestsPerMinute || d.limits.tokensPerMinute) ? { limits: d.limits } : {}),
    ...(d.budget ? { budget: d.budget } : {}),
    ...(d.baseModel ? { baseModel: d.baseModel } : {}),
    ...(d.expectedOutputTokens ? { expectedOutputTokens: d.expectedOutputTokens } : {}),
    params: promptCache(resolveModelParams(provider, d.baseModel ?? d.model, maxOutputTokens), d.promptCache, path),
  };
}

/** `prompt_cache: auto` needs a model whose prompt cache takes breakpoints. */
function promptCache(params: ModelParams, mode: "auto" | "off" | undefined, path: string): ModelParams {
  if (mode !== "auto") return params;
  if (params.cacheBreakpoints === undefined) {
    throw new ConfigError(join(path, "prompt_cache"), "auto needs a model whose prompt cache takes breakpoints (Claude, on an anthropic, bedrock or vertex provider); other providers cache prompts by themselves or not at all");
  }
  return { ...params, autoCache: true };
}

/**
 * A wildcard deployment: checked now as far as it can be without a model (its provider, the one
 * "*" in its model, its operations against the provider's type), then made per model on first use
 * by finishDeployment, so a model the catalog does not price is refused then, naming the setting.
 */
function finishWildcard(d: any, providers: Map<string, ProviderConfig>, path: string): WildcardDeployment {
  if (d.model.split("*").length !== 2) throw new ConfigError(join(path, "model"), `a wildcard deployment's model has one "*" for the part of the caller's name after "${d.id.slice(0, -1)}" (e.g. "*"), got "${d.model}"`);
  if (d.baseModel !== undefined) throw new ConfigError(join(path, "base_model"), "a wildcard deployment serves many models: base_model would price them all as one");
  // Everything but the price table, checked with a stand-in model and prices.
  const standIn: RawPricing = { input: 0, cachedInput: 0, cacheWrite: 0, cacheWrite1h: 0, output: 0, reasoning: 0, ...d.pricing };
  finishDeployment({ ...d, model: d.model.replace("*", "x"), pricing: standIn }, providers, path);
  const { maxModels = 1_000, ...spec } = d;
  return {
    id: d.id,
    prefix: d.id.slice(0, -1),
    provider: d.provider,
    model: d.model,
    maxModels,
    path,
    settings: spec,
    make: (id, model) => finishDeployment({ ...spec, id, model }, providers, path),
  };
}

/** Which strategy each per-strategy option block belongs to. */
/** What a routing condition may test. */
export const CONDITION_FIELD = /^(team|key|user|tag|metadata\.[^\s]+)$/;

const STRATEGY_OPTIONS = { latency: "latency", hybrid: "hybrid", complexity: "complexity" } as const satisfies Record<string, Strategy>;

/** Cross-check one route against the deployments and names, and fill its strategy options. */
function finishRoute(r: RouteConfig, path: string, deployments: Map<string, DeploymentConfig>, known: (m: string) => boolean): void {
  r.targets.forEach((t, j) => {
    if (!deployments.has(t.deployment)) throw new ConfigError(`${path}.targets[${j}]`, `unknown deployment "${t.deployment}"`);
  });
  const variantNames = new Set<string>();
  r.variants.forEach((v, j) => {
    if (variantNames.has(v.name)) throw new ConfigError(`${path}.variants[${j}].name`, `duplicate variant "${v.name}"`);
    variantNames.add(v.name);
    v.targets.forEach((t, k) => {
      if (!deployments.has(t.deployment)) throw new ConfigError(`${path}.variants[${j}].targets[${k}]`, `unknown deployment "${t.deployment}"`);
    });
  });
  r.fallbacks.forEach((f, j) => {
    if (!known(f)) throw new ConfigError(`${path}.fallbacks[${j}]`, `unknown route, alias or deployment "${f}"`);
    if (f === r.name) throw new ConfigError(`${path}.fallbacks[${j}]`, "a route cannot fall back to itself");
  });
  const mapped = Object.entries(r.taskRoutes).filter(([, target]) => target !== undefined);
  for (const [task, target] of mapped) {
    if (!known(target!)) throw new ConfigError(`${path}.task_routes.${task}`, `unknown route, alias or deployment "${target}"`);
    if (target === r.name) throw new ConfigError(`${path}.task_routes.${task}`, "a route cannot send a task to itself");
  }
  const sem = r.cache.semantic;
  if (sem) {
    const where = `${path}.cache.semantic.embedding`;
    const d = deployments.get(sem.embedding);
    if (d) {
      if (!d.operations.includes("embeddings")) throw new ConfigError(where, `deployment "${sem.embedding}" does not serve embeddings (operations: ${d.operations.join(", ")})`);
    } else if (!known(sem.embedding)) throw new ConfigError(where, `unknown route, alias or deployment "${sem.embedding}"`);
    if (sem.embedding === r.name) throw new ConfigError(where, "a route cannot embed its own prompts");
  }
  if (r.mirror) {
    const where = `${path}.mirror.target`;
    if (!known(r.mirror.target)) throw new ConfigError(where, `unknown route, alias or deployment "${r.mirror.target}"`);
    if (r.mirror.target === r.name) throw new ConfigError(where, "a route cannot mirror its requests to itself");
    const d = deployments.get(r.mirror.target);
    if (d && !d.operations.includes("chat")) throw new ConfigError(where, `deployment "${r.mirror.target}" does not serve chat (operations: ${d.operations.join(", ")})`);
    if (r.mirror.when) {
      const fields = Object.keys(r.mirror.when);
      if (fields.length === 0) throw new ConfigError(`${path}.mirror.when`, "needs at least one field (team, key, user, tag or metadata.<name>)");
      for (const f of fields) if (!CONDITION_FIELD.test(f)) throw new ConfigError(`${path}.mirror.when.${f}`, "unknown field: one of team, key, user, tag, metadata.<name>");
    }
    const emb = r.mirror.embedding;
    if (emb !== undefined) {
      const at = `${path}.mirror.embedding`;
      const e = deployments.get(emb);
      if (e) {
        if (!e.operations.includes("embeddings")) throw new ConfigError(at, `deployment "${emb}" does not serve embeddings (operations: ${e.operations.join(", ")})`);
      } else if (!known(emb)) throw new ConfigError(at, `unknown route, alias or deployment "${emb}"`);
    }
    const judge = r.mirror.judge;
    if (judge !== undefined) {
      const at = `${path}.mirror.judge`;
      if (!known(judge)) throw new ConfigError(at, `unknown route, alias or deployment "${judge}"`);
      if (judge === r.name) throw new ConfigError(at, "a route cannot judge its own mirror");
      const j = deployments.get(judge);
      if (j && !j.operations.includes("chat")) throw new ConfigError(at, `deployment "${judge}" does not serve chat (operations: ${j.operations.join(", ")})`);
    }
  }
  r.conditions.forEach((c, j) => {
    const where = `${path}.conditions[${j}]`;
    if (!known(c.target)) throw new ConfigError(`${where}.target`, `unknown route, alias or deployment "${c.target}"`);
    if (c.target === r.name) throw new ConfigError(`${where}.target`, "a route cannot send a condition to itself");
    const fields = Object.keys(c.when);
    if (fields.length === 0) throw new ConfigError(`${where}.when`, "needs at least one field (team, key, user, tag or metadata.<name>)");
    for (const f of fields) if (!CONDITION_FIELD.test(f)) throw new ConfigError(`${where}.when.${f}`, "unknown field: one of team, key, user, tag, metadata.<name>");
  });
  if (r.variants.length > 0) {
    if (r.targets.length > 0) throw new ConfigError(`${path}.variants`, "a route has either targets or variants, not both");
    if (r.variants.every((v) => v.weight === 0)) throw new ConfigError(`${path}.variants`, "at least one variant needs a weight above 0");
    if (r.strategy === "task") throw new ConfigError(`${path}.variants`, "strategy task picks a route per task; put the variants in the routes it picks");
  }
  if (r.strategy === "task") {
    if (mapped.length === 0) throw new ConfigError(`${path}.task_routes`, "strategy task needs task_routes");
    // A task with no entry uses the route's own targets: without targets every task needs one.
    const missing = TASKS.filter((t) => !r.taskRoutes[t]);
    if (r.targets.length === 0 && missing.length > 0) {
      throw new ConfigError(`${path}.task_routes`, `no entry for ${missing.join(", ")}: map every task or give the route targets for unmapped tasks`);
    }
  } else if (mapped.length > 0) {
    throw new ConfigError(`${path}.task_routes`, `only applies to strategy task (this route's strategy is ${r.strategy})`);
  }
  if (r.targets.length === 0 && r.variants.length === 0 && r.strategy !== "task") {
    throw new ConfigError(`${path}.targets`, "a route needs targets, variants or (strategy task) task_routes");
  }
  // An option block for another strategy would be silently ignored: refuse it instead.
  for (const [key, strategy] of Object.entries(STRATEGY_OPTIONS)) {
    if ((r as any)[key] !== undefined && r.strategy !== strategy) {
      throw new ConfigError(`${path}.${key}`, `only applies to strategy ${strategy} (this route's strategy is ${r.strategy})`);
    }
  }
  r.latency ??= { ...DEFAULT_LATENCY };
  r.hybrid ??= { ...DEFAULT_HYBRID };
  r.complexity ??= { ...DEFAULT_COMPLEXITY };
  const h = r.hybrid;
  if (h.qualityWeight + h.costWeight + h.latencyWeight <= 0) throw new ConfigError(`${path}.hybrid`, "at least one weight must be above 0");
}

/** Task routes may chain (a task route picking another task route) but never loop. */
function checkTaskCycles(routes: Map<string, RouteConfig>, aliases: Record<string, string>): void {
  const routeOf = (name: string) => routes.get(name) ?? routes.get(aliases[name] ?? "");
  const state = new Map<string, "visiting" | "done">();
  const visit = (r: RouteConfig, trail: string[]) => {
    if (state.get(r.name) === "done") return;
    if (state.get(r.name) === "visiting") {
      const loop = [...trail.slice(trail.indexOf(r.name)), r.name].join(" -> ");
      const i = [...routes.keys()].indexOf(trail[trail.length - 1]);
      const from = routes.get(trail[trail.length - 1])!;
      const byConditions = from.conditions.some((c) => routeOf(c.target) === r);
      throw new ConfigError(`routes[${i}].${byConditions ? "conditions" : "task_routes"}`, `${byConditions ? "conditions" : "task routes"} form a cycle: ${loop}`);
    }
    state.set(r.name, "visiting");
    for (const target of [...Object.values(r.taskRoutes), ...r.conditions.map((c) => c.target)]) {
      const next = target ? routeOf(target) : undefined;
      if (next) visit(next, [...trail, r.name]);
    }
    state.set(r.name, "done");
  };
  for (const r of routes.values()) visit(r, []);
}

/** Validate a parsed YAML document (after env substitution) into a Config. */
export function buildConfig(doc: unknown, env: Record<string, string | undefined> = process.env): Config {
  // The secrets section is checked on its own (secrets.ts); its references are read before this,
  // by loadConfigWithSecrets: one left here was never read.
  const secrets = secretsOf(doc, env);
  const left = hasSecretRefs(doc);
  if (left) throw new ConfigError(left, "a ${secret:…} reference is read from its source when the file is loaded (start the gateway with the file, or use loadConfigWithSecrets)");
  const { secrets: _s, ...rest } = (doc ?? {}) as Record<string, unknown>;
  const raw = rootSpec(substituteEnv(rest, env), "");
  const providers = new Map<string, ProviderConfig>();
  raw.providers.forEach((p: any, i: number) => {
    const path = `providers[${i}]`;
    if (providers.has(p.name)) throw new ConfigError(join(path, "name"), `duplicate provider "${p.name}"`);
    providers.set(p.name, finishProvider(p, path));
  });
  const deployments = new Map<string, DeploymentConfig>();
  const wildcards = new Map<string, WildcardDeployment>();
  raw.deployments.forEach((d: any, i: number) => {
    const path = `deployments[${i}]`;
    if (deployments.has(d.id) || wildcards.has(d.id)) throw new ConfigError(join(path, "id"), `duplicate deployment "${d.id}"`);
    d.expectedOutputTokens ??= raw.limits.defaultExpectedOutputTokens;
    if (d.id.endsWith("*")) wildcards.set(d.id, finishWildcard(d, providers, path));
    else if (d.maxModels !== undefined) throw new ConfigError(join(path, "max_models"), `only a wildcard deployment (an id ending in "*") makes models: "${d.id}" is one model`);
    else if (d.model.includes("*")) throw new ConfigError(join(path, "model"), `"*" in a model needs a wildcard id (ending in "*", e.g. "${d.provider}/*") to fill it from`);
    else deployments.set(d.id, finishDeployment(d, providers, path));
  });
  const routes = new Map<string, RouteConfig>();
  raw.routes.forEach((r: RouteConfig, i: number) => {
    const path = `routes[${i}]`;
    if (routes.has(r.name) || deployments.has(r.name)) throw new ConfigError(join(path, "name"), `duplicate name "${r.name}"`);
    routes.set(r.name, r);
  });
  const aliases: Record<string, string> = raw.aliases;
  // A model a wildcard makes, named by a route (targets, variants, fallbacks, task routes) or an
  // alias, is made now and listed like any other deployment.
  // Longest prefix first: "openai/gpt-*" answers before "openai/*", and "*" last.
  const byPrefix = [...wildcards.values()].sort((a, b) => b.prefix.length - a.prefix.length);
  const listWildcardModel = (name: string | undefined, path: string) => {
    if (name === undefined || deployments.has(name) || routes.has(name) || name in aliases) return;
    const w = wildcardFor(byPrefix, name);
    if (!w) return;
    const part = wildcardPart(w, name);
    if (part === undefined) throw new ConfigError(path, `"${name.slice(w.prefix.length)}" is not a model name (wildcard deployment "${w.id}")`);
    try {
      deployments.set(name, w.make(name, w.model.replace("*", part)));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new ConfigError(path, `"${name}" matches wildcard deployment "${w.id}", which cannot serve it: ${err.message}`);
    }
  };
  if (wildcards.size) {
    raw.routes.forEach((r: RouteConfig, i: number) => {
      const path = `routes[${i}]`;
      r.targets.forEach((t, j) => listWildcardModel(t.deployment, `${path}.targets[${j}]`));
      r.variants.forEach((v, j) => v.targets.forEach((t, k) => listWildcardModel(t.deployment, `${path}.variants[${j}].targets[${k}]`)));
      r.fallbacks.forEach((f, j) => listWildcardModel(f, `${path}.fallbacks[${j}]`));
      for (const [task, target] of Object.entries(r.taskRoutes)) listWildcardModel(target, `${path}.task_routes.${task}`);
      r.conditions.forEach((c, j) => listWildcardModel(c.target, `${path}.conditions[${j}].target`));
      if (r.mirror) listWildcardModel(r.mirror.target, `${path}.mirror.target`);
      if (r.mirror?.judge) listWildcardModel(r.mirror.judge, `${path}.mirror.judge`);
      if (r.mirror?.embedding) listWildcardModel(r.mirror.embedding, `${path}.mirror.embedding`);
    });
    for (const [name, target] of Object.entries(aliases)) listWildcardModel(target, `aliases.${name}`);
  }
  // The deployments the background checks name: listed, or a model a wildcard deployment makes (made here, so a bad one is an error now, not a failed check every round).
  (raw.healthChecks?.deployments ?? []).forEach((id: string, i: number) => {
    const path = `health_checks.deployments[${i}]`;
    listWildcardModel(id, path);
    if (!deployments.has(id)) throw new ConfigError(path, `unknown deployment "${id}"${routes.has(id) || id in aliases ? " (a route or alias: name its deployments)" : ""}`);
  });
  for (const [name, target] of Object.entries(aliases)) {
    if (routes.has(name) || deployments.has(name)) throw new ConfigError(`aliases.${name}`, `"${name}" is already a route or deployment`);
    if (!routes.has(target) && !deployments.has(target)) {
      throw new ConfigError(`aliases.${name}`, `unknown route or deployment "${target}"`);
    }
  }
  // `mcp:<id>` (or `mcp:*`) allows an MCP server of mcp_servers[].
  const known = (m: string) => routes.has(m) || deployments.has(m) || m in aliases || isMcpAllowEntry(m, raw.mcpServers);
  const passes = (m: string) => isPassthroughAllowEntry(m, [...providers.values()]);
  // A key may be allowed a wildcard ("openai/*": every model it makes) or one model it makes.
  const matchesWildcard = (m: string) => wildcards.has(m) || wildcardFor(byPrefix, m) !== undefined;
  raw.routes.forEach((r: RouteConfig, i: number) => finishRoute(r, `routes[${i}]`, deployments, known));
  checkTaskCycles(routes, aliases);
  if (raw.vectorStores) {
    for (const [field, op] of [["embedding", "embeddings"], ["rerank", "rerank"], ["rewrite", "chat"]] as const) {
      const m = raw.vectorStores[field];
      if (m === undefined) continue;
      const d = deployments.get(m);
      if (d && !d.operations.includes(op)) throw new ConfigError(`vector_stores.${field}`, `deployment "${m}" does not serve ${op} (operations: ${d.operations.join(", ")})`);
      if (!d && !known(m) && !matchesWildcard(m)) throw new ConfigError(`vector_stores.${field}`, `unknown route, alias or deployment "${m}"`);
    }
  }
  const webModel = raw.webSearch?.model as string | undefined;
  if (webModel !== undefined) {
    const d = deployments.get(webModel);
    if (d && !d.operations.includes("search")) throw new ConfigError("web_search.model", `deployment "${webModel}" does not serve search (operations: ${d.operations.join(", ")})`);
    if (!d && !known(webModel)) throw new ConfigError("web_search.model", `unknown route, alias or deployment "${webModel}"`);
  }
  const keyNames = new Set<string>();
  const hashes = new Set<string>();
  (raw.keys as KeyConfig[]).forEach((k, i) => {
    const path = `keys[${i}]`;
    if (keyNames.has(k.name)) throw new ConfigError(`${path}.name`, `duplicate key name "${k.name}"`);
    if (hashes.has(k.hash)) throw new ConfigError(`${path}.hash`, "duplicate key hash");
    keyNames.add(k.name);
    hashes.add(k.hash);
    k.allow.forEach((a, j) => {
      if (!known(a) && !matchesWildcard(a) && !passes(a)) throw new ConfigError(`${path}.allow[${j}]`, `unknown route, alias or deployment "${a}"${a.startsWith("passthrough:") ? " (passthrough: names a provider connection)" : ""}`);
    });
  });
  const guardrails = buildGuardrails(
    raw.guardrails,
    [
      ...raw.routes.map((r: RouteConfig, i: number) => ({ path: `routes[${i}].guardrails`, names: r.guardrails })),
      ...raw.teams.map((t: { guardrails?: string[] }, i: number) => ({ path: `teams[${i}].guardrails`, names: t.guardrails })),
      ...(raw.keys as KeyConfig[]).map((k, i) => ({ path: `keys[${i}].guardrails`, names: k.guardrails })),
      ...(raw.mcpServers as { guardrails?: string[] }[]).map((m, i) => ({ path: `mcp_servers[${i}].guardrails`, names: m.guardrails })),
      ...(raw.webSearch?.guardrails ? [{ path: "web_search.guardrails", names: raw.webSearch.guardrails as string[] }] : []),
    ],
    checkGuardrail,
  );
  guardrails.forEach((g, i) => checkGuardrailProvider(g, `guardrails[${i}]`, providers));
  const alertNames = new Set<string>();
  (raw.alerts as AlertConfig[]).forEach((a, i) => {
    if (alertNames.has(a.name)) throw new ConfigError(`alerts[${i}].name`, `duplicate alert "${a.name}"`);
    alertNames.add(a.name);
  });
  const prompts = finishPrompts(raw.prompts, (m) => routes.has(m) || m in aliases || deployments.has(m));
  const presets = finishPresets(raw.presets, (m) => routes.has(m) || m in aliases || deployments.has(m) || wildcardFor(byPrefix, m) !== undefined, "presets", new Set());
  const mcpServers = finishMcpServers(raw.mcpServers);
  return {
    ...(secrets ? { secrets: { refreshMs: secrets.refreshMs, digest: "", sources: secrets.sources.map((x) => x.name) } } : {}),
    ...(mcpServers.length ? { mcpServers } : {}),
    ...(guardrails.length ? { guardrails } : {}),
    ...(raw.alerts.length ? { alerts: raw.alerts as AlertConfig[] } : {}),
    ...(raw.usageExport.length ? { usageExport: usageExportsOf(raw.usageExport) } : {}),
    ...(raw.spendReports.length ? { spendReports: spendReportsOf(raw.spendReports, raw.alerts as AlertConfig[]) } : {}),
    ...(prompts.length ? { prompts } : {}),
    ...(presets.length ? { presets } : {}),
    server: raw.server,
    console: raw.console,
    providers: [...providers.values()],
    deployments: [...deployments.values()],
    ...(wildcards.size ? { wildcards: byPrefix } : {}),
    ...(raw.limits.defaultExpectedOutputTokens ? { defaultExpectedOutputTokens: raw.limits.defaultExpectedOutputTokens } : {}),
    aliases,
    routes: [...routes.values()],
    keys: raw.keys,
    ...(raw.auth.jwt.length ? { jwtIssuers: uniqueIssuers(raw.auth.jwt) } : {}),
    teams: raw.teams,
    store: {
      ...redisStore(raw.store, env),
      postgresUrl: raw.store.postgresUrl || env.DATABASE_URL || undefined,
      usageRetentionDays: raw.store.usageRetentionDays,
    },
    ...(raw.webSearch ? { webSearch: webSearchConfig(raw.webSearch) } : {}),
    tagBudgets: tagBudgetsOf(raw.tagBudgets),
    ...(raw.healthChecks ? { healthChecks: { intervalMs: raw.healthChecks.intervalSeconds * 1000, timeoutMs: raw.healthChecks.timeoutMs ?? 20_000, deployments: raw.healthChecks.deployments ?? [] } } : {}),
    ...(raw.vectorStores ? { vectorStores: vectorStoresConfig(raw.vectorStores) } : {}),
    batches: { concurrency: raw.batches.concurrency ?? 4, parallel: raw.batches.parallel ?? 4, maxFileBytes: (raw.batches.maxFileMb ?? 100) * 1024 * 1024 },
    responses: { store: raw.responses.store ?? true, retentionDays: raw.responses.retentionDays ?? 30, memoryBytes: (raw.responses.memoryMb ?? 64) * 1024 * 1024 },
  };
}

/** `vector_stores`: an overlap of at most half a chunk, as OpenAI's static chunking allows. */
function vectorStoresConfig(v: { embedding: string; rerank?: string; rewrite?: string; maxChunkSizeTokens?: number; chunkOverlapTokens?: number; maxFiles?: number; indexingConcurrency?: number }): VectorStoresConfig {
  const size = v.maxChunkSizeTokens ?? 800;
  const overlap = v.chunkOverlapTokens ?? Math.min(400, size / 2);
  if (overlap > size / 2) throw new ConfigError("vector_stores.chunk_overlap_tokens", `must be at most half of max_chunk_size_tokens (${size / 2}), got ${overlap}`);
  return { embedding: v.embedding, ...(v.rerank ? { rerank: v.rerank } : {}), ...(v.rewrite ? { rewrite: v.rewrite } : {}), chunking: { maxChunkSizeTokens: size, chunkOverlapTokens: overlap }, maxFiles: v.maxFiles ?? 10_000, indexingConcurrency: v.indexingConcurrency ?? 2 };
}

/** tag_budgets: one cap per tag. */
function tagBudgetsOf(list: { tag: string; period: SpendCap["period"]; limitUsd: number }[]): Config["tagBudgets"] {
  list.forEach((b, i) => {
    if (list.findIndex((x) => x.tag === b.tag) !== i) throw new ConfigError(`tag_budgets[${i}].tag`, `"${b.tag}" has a budget already (tag_budgets[${list.findIndex((x) => x.tag === b.tag)}])`);
  });
  return list.map((b) => ({ tag: b.tag, period: b.period, limitUsd: b.limitUsd }));
}

/**
 * `web_search`, with each engine's defaults: its API's address, and its list prices when the
 * config gives none (Exa reports each search's cost itself, which is used instead when present;
 * Tavily's basic search is one credit, $0.008).
 */
function webSearchConfig(w: { guardrails?: string[]; engine?: string; model?: string; apiKey?: string; baseUrl?: string; maxResults?: number; maxCharacters?: number; timeoutMs?: number; pricePerSearch?: number; pricePerResult?: number; onFailure?: string }): WebSearchConfig {
  const exa = w.engine === "exa";
  const mock = w.engine === "mock";
  const nanos = (usd: number) => Math.round(usd * 1e9);
  if (w.model !== undefined) {
    if (w.engine !== undefined) throw new ConfigError("web_search.engine", `cannot be given with web_search.model: the model's search deployments are the engines`);
    for (const k of ["apiKey", "baseUrl", "pricePerSearch", "pricePerResult"] as const) {
      if (w[k] !== undefined) throw new ConfigError(`web_search.${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, "does not apply with web_search.model: each search deployment has its provider's key and its own price");
    }
    return {
      engine: "routed",
      model: w.model,
      apiKey: "",
      baseUrl: "",
      maxResults: w.maxResults ?? 5,
      maxCharacters: w.maxCharacters ?? 1_000,
      timeoutMs: w.timeoutMs ?? 10_000,
      pricePerSearchNanos: 0,
      pricePerResultNanos: 0,
      onFailure: w.onFailure === "fail" ? "fail" : "answer",
      ...(w.guardrails?.length ? { guardrails: w.guardrails } : {}),
    };
  }
  if (w.engine === undefined) throw new ConfigError("web_search.engine", "is required (exa, tavily or mock), or give web_search.model: a route, alias or deployment of search engines");
  if (!mock && !w.apiKey) throw new ConfigError("web_search.api_key", `is required for engine ${w.engine} (use \${ENV_VAR} to read it from the environment)`);
  return {
    engine: w.engine as WebSearchConfig["engine"],
    apiKey: w.apiKey ?? "",
    baseUrl: (w.baseUrl ?? (exa ? "https://api.exa.ai" : "https://api.tavily.com")).replace(/\/+$/, ""),
    maxResults: w.maxResults ?? 5,
    maxCharacters: w.maxCharacters ?? 1_000,
    timeoutMs: w.timeoutMs ?? 10_000,
    pricePerSearchNanos: nanos(w.pricePerSearch ?? (mock ? 0 : exa ? 0.005 : 0.008)),
    pricePerResultNanos: nanos(w.pricePerResult ?? (exa ? 0.001 : 0)),
    onFailure: w.onFailure === "fail" ? "fail" : "answer",
    ...(w.guardrails?.length ? { guardrails: w.guardrails } : {}),
  };
}

/** Presets, each naming a model the configuration knows, their names unique (`taken`: names already used). */
function finishPresets(presets: PresetConfig[], known: (m: string) => boolean, path: string, taken: ReadonlySet<string>): PresetConfig[] {
  const names = new Set(taken);
  presets.forEach((x, i) => {
    const at = path === "spec" ? "spec" : `${path}[${i}]`;
    if (names.has(x.name)) throw new ConfigError(`${at}.name`, `duplicate preset "${x.name}"`);
    names.add(x.name);
    if (!known(x.model)) throw new ConfigError(`${at}.model`, `unknown route, alias or deployment "${x.model}"`);
  });
  return presets;
}

/** What may be added to a configuration at run time (AdminService.PutConfigEntry). */
export type EntryKind = "provider" | "deployment" | "route" | "guardrail" | "mcp_server" | "alias" | "alert" | "preset";

/** A provider, deployment or route made at run time: its spec as the config file would hold it (snake_case, secrets in the clear). */
export interface RuntimeEntry {
  kind: EntryKind;
  name: string;
  spec: Record<string, unknown>;
}

export const entryKey = (kind: EntryKind, name: string) => `${kind}/${name}`;

const NAME_FIELD: Record<EntryKind, string> = { provider: "name", deployment: "id", route: "name", guardrail: "name", mcp_server: "id", alias: "name", alert: "name", preset: "name" };

/**
 * A configuration with entries made at run time added: each checked as the config file's would be
 * (the same validators, so the same errors, with paths under `spec`), against the file's entries
 * and the other runtime ones. An entry that fails is left out and reported in `problems` (by
 * `entryKey`); the rest are in force. Entries never shadow the file's: a name the file defines is
 * a problem of the entry. No `${VAR}` substitution: a stored spec cannot read the environment.
 */
export function extendConfig(base: Config, entries: readonly RuntimeEntry[]): { config: Config; problems: Map<string, ConfigError> } {
  const problems = new Map<string, ConfigError>();
  if (entries.length === 0) return { config: base, problems };
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const of = (k: EntryKind) => sorted.filter((e) => e.kind === k);
  const attempt = (e: RuntimeEntry, f: () => void) => {
    try {
      f();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.set(entryKey(e.kind, e.name), err);
    }
  };
  /** The spec with its name field filled from the entry's name (a different one is refused). */
  const named = (e: RuntimeEntry): Record<string, unknown> => {
    // A stored spec reads neither the environment nor a secret manager: a reference would be sent as written.
    const ref = hasSecretRefs(e.spec);
    if (ref) throw new ConfigError(`spec.${ref}`, "${secret:…} references are read from the config file only; an entry made at run time takes its values as given");
    const field = NAME_FIELD[e.kind];
    const given = e.spec[field];
    if (given !== undefined && given !== e.name) throw new ConfigError(`spec.${field}`, `"${String(given)}" differs from the entry's name "${e.name}" (leave it out)`);
    return { ...e.spec, [field]: e.name };
  };
  const inFile = (what: string, name: string) => new ConfigError("name", `${what} "${name}" is defined in the config file, which a runtime entry cannot shadow: change it there`);

  const providers = new Map(base.providers.map((p) => [p.name, p]));
  for (const e of of("provider")) {
    attempt(e, () => {
      if (providers.has(e.name)) throw inFile("provider", e.name);
      providers.set(e.name, finishProvider(providerSpec(named(e), "spec"), "spec"));
    });
  }

  const deployments = new Map(base.deployments.map((d) => [d.id, d]));
  const wildcards = new Map((base.wildcards ?? []).map((w) => [w.id, w]));
  const routes = new Map(base.routes.map((r) => [r.name, r]));
  // Deployments, routes and aliases share one namespace: a name the file uses is the file's to
  // change; one another runtime entry took first (or a model a runtime wildcard made) is refused too.
  const fileNames = new Set([...deployments.keys(), ...wildcards.keys(), ...routes.keys(), ...Object.keys(base.aliases)]);
  const claim = (name: string, runtime: boolean) => {
    if (fileNames.has(name)) throw inFile("deployment, route or alias", name);
    if (runtime) throw new ConfigError("name", `"${name}" is already a deployment, route or alias made at run time`);
  };
  const taken = (name: string) => deployments.has(name) || wildcards.has(name) || routes.has(name) || name in base.aliases;
  for (const e of of("deployment")) {
    attempt(e, () => {
      claim(e.name, taken(e.name));
      const d = deploymentSpec(named(e), "spec") as any;
      d.expectedOutputTokens ??= base.defaultExpectedOutputTokens;
      if (d.id.endsWith("*")) wildcards.set(d.id, finishWildcard(d, providers, "spec"));
      else if (d.maxModels !== undefined) throw new ConfigError("spec.max_models", `only a wildcard deployment (an id ending in "*") makes models: "${d.id}" is one model`);
      else if (d.model.includes("*")) throw new ConfigError("spec.model", `"*" in a model needs a wildcard id (ending in "*", e.g. "${d.provider}/*") to fill it from`);
      else deployments.set(d.id, finishDeployment(d, providers, "spec"));
    });
  }
  const byPrefix = [...wildcards.values()].sort((a, b) => b.prefix.length - a.prefix.length);

  // Aliases made at run time, by name, as their specs say: routes made at run time may name them
  // (they are checked below, after the routes they may name; a route naming one that fails fails too).
  const runtimeAliases = new Map<string, string>();
  for (const e of of("alias")) {
    const t = (e.spec as { target?: unknown } | undefined)?.target;
    if (typeof t === "string" && t && !(e.name in base.aliases)) runtimeAliases.set(e.name, t);
  }
  // Routes may name each other: all names first, then each checked; one that fails is taken out
  // and the rest checked again, until none fails.
  const pending = new Map<string, { e: RuntimeEntry; r: RouteConfig }>();
  for (const e of of("route")) {
    attempt(e, () => {
      claim(e.name, taken(e.name));
      pending.set(e.name, { e, r: routeSpec(named(e), "spec") });
    });
  }
  // Guardrails stand alone (a kind and its options); routes made at run time may name them.
  const guardrails = new Map((base.guardrails ?? []).map((g) => [g.name, g]));
  for (const e of of("guardrail")) {
    attempt(e, () => {
      if (guardrails.has(e.name)) throw inFile("guardrail", e.name);
      const g = guardrailEntry(checkGuardrail)(named(e), "spec");
      checkGuardrailProvider(g, "spec", providers);
      guardrails.set(e.name, g);
    });
  }
  // MCP servers: HTTP ones only. A local server (command) runs a program on the gateway's host,
  // which only the config file may ask for.
  const mcpServers = new Map((base.mcpServers ?? []).map((m) => [m.id, m]));
  for (const e of of("mcp_server")) {
    attempt(e, () => {
      if (mcpServers.has(e.name)) throw inFile("MCP server", e.name);
      const spec = named(e);
      for (const f of ["command", "args", "env"]) {
        if (spec[f] !== undefined) throw new ConfigError(`spec.${f}`, "a local MCP server runs a program on the gateway's host, which only the config file may start: give the url of an HTTP server");
      }
      const [m] = finishMcpServers([mcpServerSpec(spec, "spec")], () => "spec");
      (m!.guardrails ?? []).forEach((g, j) => {
        if (!guardrails.has(g)) throw new ConfigError(`spec.guardrails[${j}]`, `unknown guardrail "${g}"`);
      });
      mcpServers.set(e.name, m!);
    });
  }
  const allServers = [...mcpServers.values()];
  const wildcardModel = (name: string | undefined, path: string) => {
    if (name === undefined || deployments.has(name) || routes.has(name) || pending.has(name) || name in base.aliases || runtimeAliases.has(name)) return;
    const w = wildcardFor(byPrefix, name);
    const part = w && wildcardPart(w, name);
    if (w && part !== undefined) deployments.set(name, w.make(name, w.model.replace("*", part)));
    else if (w) throw new ConfigError(path, `"${name.slice(w.prefix.length)}" is not a model name (wildcard deployment "${w.id}")`);
  };
  for (let again = true; again; ) {
    again = false;
    const known = (m: string) => routes.has(m) || pending.has(m) || deployments.has(m) || m in base.aliases || runtimeAliases.has(m) || isMcpAllowEntry(m, allServers);
    for (const [name, { e, r }] of pending) {
      const route = structuredClone(r);
      attempt(e, () => {
        route.targets.forEach((t, j) => wildcardModel(t.deployment, `spec.targets[${j}]`));
        route.variants.forEach((v, j) => v.targets.forEach((t, k) => wildcardModel(t.deployment, `spec.variants[${j}].targets[${k}]`)));
        route.fallbacks.forEach((f, j) => wildcardModel(f, `spec.fallbacks[${j}]`));
        finishRoute(route, "spec", deployments, known);
        (route.guardrails ?? []).forEach((g, j) => {
          if (!guardrails.has(g)) throw new ConfigError(`spec.guardrails[${j}]`, `unknown guardrail "${g}"${guardrails.size ? ` (defined: ${[...guardrails.keys()].join(", ")})` : " (none is defined)"}`);
        });
      });
      if (problems.has(entryKey("route", name))) {
        pending.delete(name);
        again = true;
        break;
      }
      pending.get(name)!.r = route;
    }
  }
  const checked = new Map(routes);
  for (const [name, { r }] of pending) checked.set(name, r);
  // A loop of task routes or conditions through runtime routes (the file alone has none): the
  // first runtime route in it is the problem, and the rest are checked again without it.
  for (;;) {
    try {
      checkTaskCycles(checked, { ...Object.fromEntries(runtimeAliases), ...base.aliases });
      break;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const loop = err.message.slice(err.message.indexOf("cycle: ") + 7).split(" -> ");
      const culprit = loop.find((n) => pending.has(n) && checked.has(n));
      if (culprit === undefined) throw err;
      problems.set(entryKey("route", culprit), new ConfigError(err.path.replace(/^routes\[\d+\]/, "spec"), err.message.replace(/^[^:]*: /, "")));
      checked.delete(culprit);
    }
  }
  // Aliases name a route or deployment (the file's or a runtime one, or a model a wildcard
  // makes), never another alias. Routes made at run time may name them: a runtime route that
  // names an alias which fails (or whose route failed) fails too, until nothing changes.
  let aliases: Record<string, string> = {};
  for (let again = true; again; ) {
    again = false;
    aliases = { ...base.aliases };
    for (const e of of("alias")) {
      if (problems.has(entryKey("alias", e.name))) continue;
      attempt(e, () => {
        claim(e.name, deployments.has(e.name) || wildcards.has(e.name) || checked.has(e.name));
        const spec = named(e);
        for (const k of Object.keys(spec)) if (k !== "name" && k !== "target") throw new ConfigError(`spec.${k}`, "unknown key (an alias has only a target)");
        const target = str({ min: 1 })(spec.target, "spec.target");
        wildcardModel(target, "spec.target");
        if (!checked.has(target) && !deployments.has(target)) throw new ConfigError("spec.target", `unknown route or deployment "${target}"`);
        aliases[e.name] = target;
      });
    }
    for (const [name, { e }] of pending) {
      if (!checked.has(name)) continue;
      const r = checked.get(name)!;
      const refs = [...r.fallbacks, ...Object.values(r.taskRoutes), ...r.conditions.map((c) => c.target), ...(r.mirror ? [r.mirror.target, ...(r.mirror.judge ? [r.mirror.judge] : []), ...(r.mirror.embedding ? [r.mirror.embedding] : [])] : [])];
      const lost = refs.find((m) => runtimeAliases.has(m) && !(m in aliases));
      if (lost === undefined) continue;
      attempt(e, () => {
        throw new ConfigError("spec", `names alias "${lost}", which is not in force (${problems.get(entryKey("alias", lost))?.message ?? "it failed"})`);
      });
      checked.delete(name);
      again = true;
    }
  }
  const alerts = new Map((base.alerts ?? []).map((a) => [a.name, a]));
  for (const e of of("alert")) {
    attempt(e, () => {
      if (alerts.has(e.name)) throw inFile("alert", e.name);
      alerts.set(e.name, alertSpec(named(e), "spec") as AlertConfig);
    });
  }
  // Presets name a route, alias or deployment in force (the file's or one made at run time).
  const presets = new Map((base.presets ?? []).map((x) => [x.name, x]));
  for (const e of of("preset")) {
    attempt(e, () => {
      if (presets.has(e.name)) throw inFile("preset", e.name);
      const x = presetSpec(named(e), "spec");
      wildcardModel(x.model, "spec.model");
      finishPresets([x], (m) => checked.has(m) || deployments.has(m) || m in aliases, "spec", new Set());
      presets.set(e.name, x);
    });
  }
  return {
    config: {
      ...base,
      providers: [...providers.values()],
      deployments: [...deployments.values()],
      ...(byPrefix.length ? { wildcards: byPrefix } : {}),
      ...(presets.size ? { presets: [...presets.values()] } : {}),
      routes: [...checked.values()],
      ...(guardrails.size ? { guardrails: [...guardrails.values()] } : {}),
      ...(allServers.length ? { mcpServers: allServers } : {}),
      ...(alerts.size ? { alerts: [...alerts.values()] } : {}),
      aliases,
    },
    problems,
  };
}

/** An allow-list entry naming MCP servers or tools: `mcp:*`, `mcp:<id>`, or `mcp:<id>/<tool>` (`mcp:<id>/get_*`) of a configured server. */
export function isMcpAllowEntry(m: string, servers: readonly { id: string }[] | undefined): boolean {
  if (!m.startsWith("mcp:")) return false;
  const rest = m.slice(4);
  const slash = rest.indexOf("/");
  const id = slash < 0 ? rest : rest.slice(0, slash);
  if (slash >= 0 && slash === rest.length - 1) return false;
  return (id === "*" && slash < 0) || (servers ?? []).some((s) => s.id === id);
}

/** An allow-list entry granting pass-through to providers: `passthrough:*`, `passthrough:<name>` of a provider connection, or a prefix pattern (`passthrough:openai-*`). */
export function isPassthroughAllowEntry(m: string, providers: readonly { name: string }[]): boolean {
  if (!m.startsWith("passthrough:")) return false;
  const rest = m.slice("passthrough:".length);
  if (rest === "*" || (rest.endsWith("*") && rest.length > 1)) return true;
  return providers.some((p) => p.name === rest);
}

/** MCP servers checked: ids once each; the price in nano-USD. (Teams may live in the control plane only: not checked.) */
function finishMcpServers(raw: any[], pathOf: (i: number) => string = (i) => `mcp_servers[${i}]`): McpServerConfig[] {
  const seen = new Set<string>();
  return raw.map((m, i): McpServerConfig => {
    const path = pathOf(i);
    if (seen.has(m.id)) throw new ConfigError(join(path, "id"), `duplicate MCP server "${m.id}"`);
    // The gateway's own MCP server of its vector stores (src/mcp/http.ts) goes by this id.
    if (m.id === "vector_stores") throw new ConfigError(join(path, "id"), '"vector_stores" is the gateway\'s own MCP server (its vector stores\' search): choose another id');
    if (m.id === "web_search") throw new ConfigError(join(path, "id"), '"web_search" is the gateway\'s own MCP server (its web search): choose another id');
    seen.add(m.id);
    if ((m.url === undefined) === (m.command === undefined)) throw new ConfigError(path, "needs url (a streamable HTTP server) or command (a local server over stdio), and only one of them");
    if (m.url !== undefined && (m.args || m.env)) throw new ConfigError(join(path, m.args ? "args" : "env"), "only applies to a local server (command)");
    if (m.command !== undefined && Object.keys(m.headers).length) throw new ConfigError(join(path, "headers"), "only applies to an HTTP server (url); give a local server its credentials in env");
    return {
      id: m.id,
      ...(m.url !== undefined ? { url: m.url } : { command: m.command, args: m.args ?? [], env: m.env ?? {} }),
      ...(m.description ? { description: m.description } : {}),
      headers: m.headers,
      ...(m.tools ? { tools: m.tools } : {}),
      ...(m.teams ? { teams: m.teams } : {}),
      timeoutMs: m.timeoutMs,
      ...(m.pricePerCallUsd ? { pricePerCallNanos: Math.round(m.pricePerCallUsd * 1e9) } : {}),
      ...(m.guardrails?.length ? { guardrails: m.guardrails } : {}),
    };
  });
}

/** Prompts checked: (id, version) once each, a model that exists, placeholders collected. */
function finishPrompts(raw: any[], known: (model: string) => boolean): PromptConfig[] {
  const seen = new Set<string>();
  return raw.map((p, i): PromptConfig => {
    const path = `prompts[${i}]`;
    const key = `${p.id}@${p.version}`;
    if (seen.has(key)) throw new ConfigError(join(path, "version"), `prompt "${p.id}" version "${p.version}" is listed twice`);
    seen.add(key);
    if (p.model !== undefined && !known(p.model)) throw new ConfigError(join(path, "model"), `"${p.model}" is not a route, alias or deployment`);
    if (p.instructions === undefined && p.messages.length === 0) throw new ConfigError(path, "needs instructions or messages");
    const variables: string[] = [];
    for (const text of [p.instructions ?? "", ...p.messages.map((m: { content: string }) => m.content)]) {
      for (const m of text.matchAll(PLACEHOLDER)) if (!variables.includes(m[1])) variables.push(m[1]);
    }
    return { id: p.id, version: p.version, ...(p.model ? { model: p.model } : {}), ...(p.instructions ? { instructions: p.instructions } : {}), messages: p.messages, variables };
  });
}

/**
 * What start-up and a reload say of a config in a peer's format: one line, with each note of the
 * import (what needs a hand first), as `signalbox config import` lists them.
 */
export function logImport(path: string): (r: ImportResult) => void {
  return (r) => {
    const order = { manual: 0, changed: 1, dropped: 2 } as const;
    const notes = [...r.notes].sort((a, b) => order[a.kind] - order[b.kind]).map((n) => `${n.kind === "manual" ? "TO DO" : n.kind}: ${n.path}: ${n.detail}`);
    log(notes.some((n) => n.startsWith("TO DO")) ? "warn" : "info", `config ${path} is ${r.from === "litellm" ? "LiteLLM's" : "Bifrost's"} format: imported (signalbox config import writes it as a Signalbox file)`, { from: r.from, notes });
  };
}

/**
 * Whether an imported config passes the validator, as at start-up: the variables it references
 * that `env` does not set get stand-ins shaped by the fields that use them. The problem, or
 * undefined. The config itself is left as it was.
 */
export function checkImported(config: Record<string, unknown>, env: Record<string, string | undefined>): ConfigError | undefined {
  try {
    buildConfig(structuredClone(config), placeholderEnv(config, env));
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err;
  }
}

/** Read, parse and validate a config file. */
export function loadConfig(path: string, env: Record<string, string | undefined> = process.env, onImport?: (r: ImportResult) => void): Config {
  return buildConfig(readConfigDoc(path, env, onImport), env);
}

/**
 * Check a config file without reading its secrets (`signalbox config check`): each
 * `${secret:…}` reference must name a source of the secrets section, and stands for a placeholder.
 */
export function loadConfigUnread(path: string, env: Record<string, string | undefined> = process.env): { config: Config; secretRefs: number; imported?: ImportResult } {
  let imported: ImportResult | undefined;
  const { doc, refs } = placeholderSecrets(
    readConfigDoc(path, env, (r) => (imported = r)),
    env,
  );
  return { config: buildConfig(doc, env), secretRefs: refs, ...(imported ? { imported } : {}) };
}

/**
 * A config file, read and parsed (errors name the file). A LiteLLM config.yaml or a Bifrost
 * config.json is taken as it is: imported (src/config/import/) into the Signalbox document it
 * stands for, its master key hashed from this environment when it names a variable, and what the
 * import changed or left out handed to `onImport` (start-up and reloads log it).
 */
export function readConfigDoc(path: string, env: Record<string, string | undefined> = process.env, onImport?: (r: ImportResult) => void): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError("", `cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError("", `${path} is not valid YAML: ${(err as Error).message}`);
  }
  const from = detectFormat(doc);
  if (!from) return doc;
  let r: ImportResult;
  try {
    r = importConfig(doc, from, { masterKey: (name) => env[name] || undefined });
  } catch (err) {
    throw new ConfigError("", `${path} looks like ${from === "litellm" ? "a LiteLLM config" : "a Bifrost config.json"}, which could not be imported: ${(err as Error).message}`);
  }
  onImport?.(r);
  return r.config;
}
