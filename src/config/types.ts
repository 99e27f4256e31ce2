// The validated configuration model: providers (connections), deployments, aliases, routes, keys.
// load.ts turns YAML into this; everything downstream trusts it.

import type { GuardrailAction, GuardrailKind, GuardrailStage } from "../guardrails/types.ts";
import type { FailureKind, ModelParams } from "../providers/types.ts";
import type { PresetConfig } from "./presets.ts";
export type { PresetConfig };

export type ProviderType = "openai" | "azure" | "anthropic" | "gemini" | "openrouter" | "openai-compatible" | "bedrock" | "vertex" | "cohere" | "exa" | "tavily" | "perplexity" | "brave" | "searxng" | "serper" | "mock";

/** Provider types that are search engines: their deployments serve the search operation only. */
export type SearchEngine = "exa" | "tavily" | "perplexity" | "brave" | "searxng" | "serper";
export const SEARCH_ENGINES: readonly SearchEngine[] = ["exa", "tavily", "perplexity", "brave", "searxng", "serper"];
export const isSearchEngine = (t: string): t is SearchEngine => (SEARCH_ENGINES as readonly string[]).includes(t);

/** Amazon Bedrock: region and credentials. Absent credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. */
export interface AwsSettings {
  region: string;
  accessKeyId?: string;
  /** Secret. Never logged, traced or returned. */
  secretAccessKey?: string;
  /** Secret. Never logged, traced or returned. */
  sessionToken?: string;
}

/** Google Vertex AI: project, location and service-account credentials. */
export interface VertexSettings {
  project: string;
  /** "us-central1", "europe-west4", … or "global". */
  location: string;
  /** Path of a service-account key file; absent: GOOGLE_APPLICATION_CREDENTIALS. */
  credentialsFile?: string;
  /** The key file's contents instead of its path. Secret. Never logged, traced or returned. */
  credentialsJson?: string;
  /** OAuth token endpoint override (tests point it at a fake); absent: the key file's token_uri. */
  tokenUrl?: string;
}

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
  /** Length of an embedding vector when the request sets no dimensions (default 16). */
  dimensions?: number;
  /** hash (default): a random unit vector per text; words: a bag of words (similar texts, similar vectors). */
  embedding?: "hash" | "words";
}

export interface ProviderConfig {
  name: string;
  /** The cap of all its deployments' spending together (src/engine/spend-caps.ts). */
  budget?: SpendCap;
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
  /** type bedrock only. */
  aws?: AwsSettings;
  /** type vertex only. */
  vertex?: VertexSettings;
  /**
   * What the provider does with prompts, as agreed with it: read by the provider preferences'
   * data_collection and zdr. Absent: it may collect (the mock: zero retention).
   */
  dataPolicy?: { collects: boolean; zeroRetention: boolean };
}

/** What a deployment serves: chat completions, embeddings (an embedding model serves only that). */
export type Operation = "chat" | "embeddings" | "rerank" | "images" | "transcription" | "speech" | "moderation" | "realtime" | "search" | "ocr";

export type Capability = "tools" | "vision" | "json_mode" | "json_schema" | "reasoning" | "streaming" | "prompt_caching";
export type Task = "coding" | "reasoning" | "creative" | "simple" | "multimodal";

/**
 * One set of token prices, in micro-USD per million tokens: what the provider bills for each kind
 * of token (src/usage/cost.ts). Every rate is a real price: a cache write without a surcharge costs
 * the input price, never 0 by omission (load.ts fills the rates a source leaves out).
 */
export interface PriceSet {
  /** Prompt tokens neither read from nor written to the prompt cache. */
  input: number;
  /** Prompt tokens read from the cache. */
  cachedInput: number;
  /** Prompt tokens written to the cache (Anthropic: 5-minute writes). */
  cacheWrite: number;
  /** 1-hour cache writes (Anthropic); absent: cacheWrite (the provider does not distinguish). */
  cacheWrite1h?: number;
  output: number;
  /** 0 = billed as output. */
  reasoning: number;
}

/** A second price set for requests whose prompt exceeds a threshold (long context). */
export interface PriceTier extends PriceSet {
  /** Applies when all prompt tokens (cache reads and writes included) exceed this many. */
  aboveInputTokens: number;
}

/** A deployment's price model (see PriceSet): base prices, per-request fee, long-context tiers. */
export interface Pricing extends PriceSet {
  /** Fee per billed attempt, in nano-USD; absent: none. */
  perRequestNanos?: number;
  /** Input images' tokens of an image edit (GPT Image prices them apart), micro-USD per million; absent: the input price. */
  imageInput?: number;
  /** Audio input tokens (the Realtime API, GPT-4o audio models), micro-USD per million; absent: the input price. */
  audioInput?: number;
  /** Audio output tokens, micro-USD per million; absent: the output price. */
  audioOutput?: number;
  /**
   * Price per generated image, in nano-USD, by "<quality> <size>", "<size>", "<quality>" or
   * "default" (the first that matches the request wins); absent: images are not billed per image.
   */
  perImageNanos?: Record<string, number>;
  /** Price per second of audio transcribed (whisper-1), in nano-USD; absent: none. */
  perAudioSecondNanos?: number;
  /** Price per character of text read aloud (tts-1), in nano-USD; absent: none. */
  perCharacterNanos?: number;
  /** Price per page of a document processed (OCR), in nano-USD; absent: none. */
  perPageNanos?: number;
  /** Price per page annotated (OCR with a document or bbox annotation), on top of perPageNanos, in nano-USD; absent: none. */
  perAnnotatedPageNanos?: number;
  /** Ascending thresholds; the whole request is billed at the highest tier its prompt exceeds. */
  tiers?: PriceTier[];
  /** "builtin:<PRICES_AS_OF>" (the catalog's), "config" (set or overridden in the config) or "none" (an unpriced mock). */
  source: string;
}

/**
 * The gateway's vector stores (src/vectors): `embedding` (a model, route or deployment id that
 * serves embeddings) embeds every chunk and every query, as requests of the key that made the
 * store; `rerank` (optional) orders the closest chunks again with a rerank model; `rewrite`
 * (optional) a chat model that rewrites a query asking for `rewrite_query`; the chunking a
 * file gets when its request names none; how many files one store may hold; how many files a
 * replica indexes at once.
 */
export interface VectorStoresConfig {
  embedding: string;
  rerank?: string;
  /** A chat model that rewrites a search's natural-language query into a search query (`rewrite_query`). */
  rewrite?: string;
  chunking: { maxChunkSizeTokens: number; chunkOverlapTokens: number };
  maxFiles: number;
  indexingConcurrency: number;
}

/** `web_search`: the search API asked before the model, for requests that want web results. */
export interface WebSearchConfig {
  /**
   * "mock": results made from the query, no key, no cost (the embedded default config's).
   * "routed": through `model`, a route, alias or deployment of search engines (the search
   * operation): fallbacks, cooldowns and each engine's price, as /v1/search has them.
   */
  engine: "exa" | "tavily" | "mock" | "routed";
  /** With engine "routed": what to search with (`web_search.model`). */
  model?: string;
  apiKey: string;
  baseUrl: string;
  /** Results when the request does not say (`max_results`, default 5). */
  maxResults: number;
  /** Characters of each result's text put in the prompt (`max_characters`, default 1,000). */
  maxCharacters: number;
  timeoutMs: number;
  /** What a search costs when the engine does not report it (nano-USD). */
  pricePerSearchNanos: number;
  pricePerResultNanos: number;
  /** A failed search: answer without results (saying so), or fail the request. */
  onFailure: "answer" | "fail";
  /**
   * Guardrails (named in guardrails[]) run on each result before the model reads it, as on an MCP
   * tool's result: output stage, prompt_injection included; a result one blocks is left out.
   */
  guardrails?: string[];
}

/** A cap on what a deployment (or a provider's deployments together) may spend per period, across callers: past it, routing skips them. */
export interface SpendCap {
  period: "day" | "week" | "month";
  limitUsd: number;
}

export interface DeploymentConfig {
  /** Id callers may name directly, e.g. "openai/gpt-4o". */
  id: string;
  /** Its spending cap (src/engine/spend-caps.ts). */
  budget?: SpendCap;
  provider: string;
  /** Pinned upstream model (Azure: deployment name). */
  model: string;
  pricing: Pricing;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: Capability[];
  /** What it serves (`operations`, default the catalog's, else [chat]): requests of another operation never route here. */
  operations: Operation[];
  strengths: Task[];
  /** 0..1, used by complexity and hybrid routing. */
  quality: number;
  /** The provider's own limits for this deployment (requests and tokens per minute). */
  limits?: RateLimits;
  /** The model whose parameter rules apply when `model` is a deployment name (Azure); default `model`. */
  baseModel?: string;
  /** What the model accepts (src/config/model-params.ts), resolved once at load. */
  params: ModelParams;
  /**
   * Output tokens a request without max_output_tokens reserves on this deployment until it has a
   * recent p95 (`expected_output_tokens`, default `limits.default_expected_output_tokens`, else 512).
   */
  expectedOutputTokens?: number;
}

/**
 * A wildcard deployment (`id: "openai/*"`, `model: "*"`): callers name `openai/<model>` and get
 * a deployment made for that model on first use, with the catalog's prices, context window and
 * capabilities (or the wildcard's own settings), as if it had been listed. Never a route target.
 */
export interface WildcardDeployment {
  /** As configured, ending in "*". */
  id: string;
  /** The id without its "*": a name starting with it (and longer) matches. */
  prefix: string;
  provider: string;
  /** The upstream model, with one "*" standing for what the caller's name adds to the prefix. */
  model: string;
  /** Distinct models made from it per configuration generation (`max_models`, default 1,000). */
  maxModels: number;
  /** Where it sits in the file, for error messages: `deployments[3]`. */
  path: string;
  /** Its validated settings (pricing, capabilities, limits…), so reloads and the config version see changes. */
  settings: Readonly<Record<string, unknown>>;
  /** Makes the deployment for one name (throws a ConfigError naming what is missing). */
  make(id: string, model: string): DeploymentConfig;
}

export type Strategy = "priority" | "weighted" | "latency" | "cost" | "least-busy" | "usage" | "task" | "complexity" | "hybrid";

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

/** A route's semantic cache: prompts compared by their embeddings. */
export interface SemanticCacheConfig {
  /** The deployment, route or alias that embeds prompts (it must serve embeddings). */
  embedding: string;
  /** Cosine similarity at or above which a cached answer serves the request (0.5–1). */
  threshold: number;
  /** Prompts the route's index keeps, per replica (the oldest go first). */
  maxEntries: number;
}

/** One routing condition: field → the values it may have (any of them). */
export interface RouteCondition {
  when: Record<string, string[]>;
  target: string;
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
  /**
   * Conditional routing, before the strategy: the first condition whose every `when` field matches
   * the request (team, key, user, tag, metadata.<name>: one of the listed values, "*" any value)
   * sends it to `target` (a route, alias or deployment), whose settings then apply.
   */
  conditions: RouteCondition[];
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
  cache: { enabled: boolean; ttlSeconds: number; shareAcrossTeams: boolean; dedupe: boolean; semantic?: SemanticCacheConfig };
  /**
   * Refuse (invalid_argument naming the field) a request with a parameter one of the planned
   * deployments' models does not accept, instead of dropping it and reporting an adjustment.
   */
  strictParams: boolean;
  /** Named guardrails every request to this route runs (mandatory for it). */
  guardrails?: string[];
  /**
   * Traffic mirroring: a share of the route's chat requests is sent again, after each has been
   * answered, to `target` (a route, alias or deployment), whose answer is compared with the
   * route's and recorded, never returned (src/engine/mirror.ts).
   */
  mirror?: MirrorConfig;
}

export interface MirrorConfig {
  /** A route, alias or deployment: the candidate being evaluated. */
  target: string;
  /** Share of the route's requests mirrored, 0..100. */
  percent: number;
  /** Mirrors running at once on one replica; a request beyond it is not mirrored (counted as skipped). */
  maxInFlight: number;
  /** A chat model (route, alias or deployment) that reads both answers and says which is better: the verdict goes in the mirror's record. */
  judge?: string;
  /** Only requests matching every field are mirrored (team, key, user, tag, metadata.<name>, as a condition's `when`); absent: all. */
  when?: Record<string, string[]>;
  /** An embedding model (route, alias or deployment): the two answers' meanings compared (the cosine of their embeddings) beside their words. */
  embedding?: string;
}

export type KeyRole = "admin" | "team" | "service";

export interface RateLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface BudgetConfig {
  /** lifetime: never resets. */
  period: "day" | "week" | "month" | "lifetime";
  limitUsd: number;
  softThreshold: number;
}

export const ALERT_EVENTS = [
  "budget_soft_threshold",
  "budget_exhausted",
  "deployment_cooldown",
  "redis_unavailable",
  "redis_recovered",
  "postgres_unavailable",
  "postgres_recovered",
  "usage_records_dropped",
  "spend_cap_reached",
  "budget_projected_exceeded",
  "secrets_unavailable",
  "secrets_recovered",
  "usage_export_failed",
  "usage_export_recovered",
] as const;
export type AlertEventName = (typeof ALERT_EVENTS)[number];

/**
 * One `usage_export[]` entry (src/usage/export): usage records archived as gzipped NDJSON objects
 * in a bucket. Keys, tokens and SAS tokens are secrets: never logged.
 */
export interface UsageExportConfig {
  name: string;
  type: "s3" | "gcs" | "azure_blob" | "http" | "datadog" | "splunk" | "langfuse" | "otlp";
  /** Object names start with it (no leading or trailing slash; may be empty). */
  prefix: string;
  flushMs: number;
  /** Records per object at most (a fuller buffer is sent at once). */
  maxRecords: number;
  /** Records held while the store cannot be reached; beyond it the oldest are dropped (and counted). */
  maxBufferedRecords: number;
  /** Objects that could not be sent are written here and sent later, also after a restart. */
  spoolDir?: string;
  /** Only records that match: each field (team, key, user, tag, route, deployment, provider, status, operation, metadata.<name>) one of its values ("*": any). Absent: every record. */
  when?: Record<string, string[]>;
  timeoutMs: number;
  /** S3, GCS. */
  bucket?: string;
  /** S3, GCS (its JSON API's base URL): another endpoint (S3-compatible stores, tests). */
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  credentialsFile?: string;
  credentialsJson?: string;
  tokenUrl?: string;
  /** Azure. */
  container?: string;
  accountUrl?: string;
  sasToken?: string;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  federatedTokenFile?: string;
  authorityUrl?: string;
  /** http: where batches are POSTed (splunk: the HEC's base URL; datadog: another intake URL than the site's; langfuse: its host; otlp: the traces endpoint). */
  url?: string;
  /** http: headers sent with every batch (secrets: an Authorization, say). */
  headers?: Record<string, string>;
  /** datadog: the site, the API key (secret), and every log's service and tags. */
  site?: string;
  apiKey?: string;
  service?: string;
  tags?: string[];
  /** splunk: the HEC token (secret), and every event's index and sourcetype. */
  token?: string;
  index?: string;
  sourcetype?: string;
  /** langfuse: the project's public key and secret key (a secret), and the environment its traces are filed under. */
  publicKey?: string;
  secretKey?: string;
  environment?: string;
  /** Each chat request's messages and answer go too (else no prompt or answer text leaves the gateway). */
  captureContent?: boolean;
  /** With captureContent: the longest text kept; a longer one is cut, saying how much was left out. */
  maxContentChars?: number;
}

/** One `spend_reports[]` entry (src/alerts/spend-reports.ts): a closed period's spending, sent to an alert sink. */
export interface SpendReportConfig {
  name: string;
  period: "day" | "week" | "month";
  /** The alerts[] sink it is sent to (its URL, format and headers). */
  alert: string;
  /** The dimension its top spenders are grouped by. */
  groupBy: "team" | "key" | "route" | "deployment" | "user" | "tag";
  top: number;
  /** Minutes after the period closes before it is sent (late records land). */
  delayMinutes: number;
}

/** One `alerts[]` webhook (src/alerts/alerts.ts). `url` and `headers` are secrets: never logged. */
export interface AlertConfig {
  name: string;
  url: string;
  /** `json` (the event object) or `slack` (`{"text": …}`, for Slack's incoming webhooks and the like). */
  format: "json" | "slack";
  events: AlertEventName[];
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * One `mcp_servers[]` entry (src/mcp): an MCP server (streamable HTTP) the gateway connects to with
 * its own credentials (`headers`, secrets: never logged or answered) and offers to callers' keys.
 */
export interface McpServerConfig {
  /** Letters, digits, `-` and single `_`: tools are offered at /mcp as `<id>__<tool>`. */
  id: string;
  /** A streamable HTTP server; or else `command`, a local server the gateway starts and talks to over stdio. */
  url?: string;
  command?: string;
  args?: string[];
  /** The local server's environment, added to the minimal one the SDK gives a child (secrets: never logged). */
  env?: Record<string, string>;
  description?: string;
  headers: Record<string, string>;
  /** Only these of the server's tools are offered and may be called (absent: all). */
  tools?: string[];
  /** Only keys of these teams may use it (absent: every key; an admin key always). */
  teams?: string[];
  /** A tool call's deadline. */
  timeoutMs: number;
  /** What one tool call costs, recorded on its usage record (nano-USD; absent: 0). */
  pricePerCallNanos?: number;
  /** Guardrails (`guardrails[]` names) run on its calls: the input stage on the arguments, the output stage on the results. */
  guardrails?: string[];
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
  /** A budget each end user of the key has (the request's `user`), apart from the key's own. */
  perUserBudget?: BudgetConfig;
  maxOutputTokens?: number;
  /** Named guardrails every request with this key runs (mandatory for it). */
  guardrails?: string[];
}

/**
 * A named guardrail (`guardrails[]`), validated by src/guardrails/config.ts and compiled once per
 * configuration by src/guardrails/engine.ts. Exactly the options block of its kind is set.
 */
export interface GuardrailConfig {
  name: string;
  kind: GuardrailKind;
  /** `stage: input | output | both`, as the stages it runs at. */
  stages: GuardrailStage[];
  /** What a match does (json_schema: on_failure decides instead; webhook, max_input_tokens: block or flag). */
  action: GuardrailAction;
  /** Runs for every request, whatever its route, team or key. */
  mandatory: boolean;
  pii?: { categories: string[] };
  secrets?: { categories: string[] };
  /** Patterns run on folded text (lower case); leetspeak (default true) also matches "k1ll" for "kill". */
  deny?: { words: string[]; phrases: string[]; patterns: string[]; leetspeak?: boolean };
  /** Families to look for (default all) and phrases of your own (reported as instruction_override). */
  promptInjection?: { categories?: string[]; phrases: string[] };
  webhook?: {
    url: string;
    timeoutMs: number;
    /** What a timeout, network error or non-2xx answer means: open lets the text through, closed blocks. */
    fail: "open" | "closed";
    headers: Record<string, string>;
    /** Body sent: `signalbox` ({text, stage, guardrail}) or `openai` (a moderation endpoint's {input, model}). */
    format: "signalbox" | "openai";
    /** Model named in the `openai` format's body. */
    model?: string;
  };
  maxInputTokens?: { limit: number };
  jsonSchema?: { onFailure: "retry" | "fallback" | "flag" };
  /** Amazon Bedrock Guardrails (ApplyGuardrail), signed with a configured Bedrock provider's region and credentials. */
  bedrockGuardrail?: RemoteGuardrailOptions & { provider: string; guardrailIdentifier: string; guardrailVersion: string };
  /** Azure AI Content Safety: text:analyze (severity per category), and text:shieldPrompt on the input when promptShield. */
  azureContentSafety?: RemoteGuardrailOptions & {
    endpoint: string;
    /** Secret. */
    apiKey: string;
    apiVersion: string;
    categories: string[];
    /** The severity (0–7) at or above which a category refuses. */
    threshold: number;
    blocklists: string[];
    promptShield: boolean;
  };
  /** Lakera Guard (v2 /guard). */
  lakera?: RemoteGuardrailOptions & {
    url: string;
    /** Secret. */
    apiKey: string;
    projectId?: string;
  };
}

/** What every guardrail that asks a service shares: how long to wait, and what no answer means. */
export interface RemoteGuardrailOptions {
  timeoutMs: number;
  /** What a timeout, network error or non-2xx answer means: open lets the text through, closed blocks. */
  fail: "open" | "closed";
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
  /** Largest upload /passthrough sends on as it is read (`server.max_passthrough_bytes`, default 512 MB). */
  maxPassthroughBytes: number;
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
  /** Sign-in to the console through an OpenID Connect provider (src/server/sso.ts). */
  sso?: SsoConfig;
}

/**
 * `auth.jwt[]`: an issuer whose signed tokens (a Kubernetes service account's, a cloud workload
 * identity's, an OIDC provider's client-credentials token) stand in for a key's secret: a token's
 * subject is bound to a key, whose team, role, limits, budget and allow list then apply.
 */
export interface JwtIssuerConfig {
  /** The token's `iss`, exactly. */
  issuer: string;
  /** Accepted `aud` values: the token must name one. */
  audiences: string[];
  /** Where the signing keys are; absent: the issuer's /.well-known/openid-configuration says. */
  jwksUrl?: string;
  /** The least time between two fetches of the signing keys for a key id not seen yet (default 5,000 ms). */
  jwksCooldownMs: number;
  /** The claim that names the caller (default `sub`). */
  claim: string;
  /** That claim's value → the name of the key the caller acts as. */
  subjects: Record<string, string>;
  /** Signature algorithms accepted (default RS256, ES256, PS256, EdDSA). */
  algorithms: string[];
}

/** Who may sign in: by e-mail address (exact, case-insensitive) or by a group the provider lists. */
export interface SsoMembers {
  emails: string[];
  groups: string[];
}

/** `console.sso`: the console's sign-in through the company's OpenID Connect provider. */
export interface SsoConfig {
  /** The provider's issuer URL (its /.well-known/openid-configuration is read once). */
  issuer: string;
  clientId: string;
  /** Secret. Never logged or returned. Absent: a public client (PKCE only). */
  clientSecret?: string;
  /** This gateway's /console/sso/callback as the provider knows it (registered there). */
  redirectUrl: string;
  scopes: string[];
  /** The ID token (or userinfo) claim that lists the user's groups. */
  groupsClaim: string;
  /** Signed-in users with the admin role. */
  admins: SsoMembers;
  /** Signed-in users with the team role of a team: the first entry that names them wins. */
  teams: (SsoMembers & { team: string })[];
  /** How long a console session lasts. */
  sessionHours: number;
}

export interface Config {
  /** OpenRouter's presets (src/config/presets.ts), by name (absent: none). */
  presets?: PresetConfig[];
  /** Where usage records are archived (absent: nowhere). */
  usageExport?: UsageExportConfig[];
  /** Scheduled spend reports (absent: none). */
  spendReports?: SpendReportConfig[];
  /**
   * With `${secret:…}` references (src/config/secrets.ts): how often every source is read again, and
   * a digest of the values read (a refresh that reads another digest reloads). Absent: none.
   */
  secrets?: { refreshMs: number; digest: string; sources: string[] };
  server: ServerConfig;
  console: ConsoleConfig;
  providers: ProviderConfig[];
  deployments: DeploymentConfig[];
  /** Wildcard deployments (`id: "openai/*"`), longest prefix first; absent or empty: none. */
  wildcards?: WildcardDeployment[];
  /** `limits.default_expected_output_tokens`, for deployments made at run time (absent: none). */
  defaultExpectedOutputTokens?: number;
  aliases: Record<string, string>;
  routes: RouteConfig[];
  keys: KeyConfig[];
  /** Callers that present a JWT of a trusted issuer instead of a key's secret (`auth.jwt`, src/server/jwt-auth.ts). */
  jwtIssuers?: JwtIssuerConfig[];
  teams: { name: string; budget?: BudgetConfig; guardrails?: string[] }[];
  /** Webhooks told about budgets and cooldowns (absent: none). */
  alerts?: AlertConfig[];
  /** Prompt templates the Responses API's `prompt` names (`prompts[]`). */
  prompts?: PromptConfig[];
  /** MCP servers the gateway fronts at /mcp and runs for the Responses API's `mcp` tool (`mcp_servers[]`; absent: none). */
  mcpServers?: McpServerConfig[];
  /** Named guardrails (absent: none); attached by routes, teams and keys, or `mandatory`. */
  guardrails?: GuardrailConfig[];
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
  /**
   * The Batch API: lines run at once per replica, shared by its batches (`batches.concurrency`,
   * default 4); batches run at once per replica (`batches.parallel`, default 4); the largest input
   * file (`batches.max_file_mb`, default 100).
   */
  batches: { concurrency: number; parallel: number; maxFileBytes: number };
  /** Vector stores and file search (`vector_stores`; absent: the Vector Stores API and `file_search` are refused). */
  vectorStores?: VectorStoresConfig;
  /**
   * Active checks of deployments in the background (`health_checks`): every `interval_seconds`,
   * one replica (a Redis claim when shared) sends each deployment named (default all) a minimal
   * request; absent: only AdminService.CheckDeployments checks.
   */
  healthChecks?: { intervalMs: number; timeoutMs: number; deployments: string[] };
  /** Spending caps of request tags (LiteLLM's tag budgets): a request with a spent tag is refused (src/engine/spend-caps.ts). */
  tagBudgets: (SpendCap & { tag: string })[];
  /** Web search before the model (`web_search`; absent: requests asking for it are refused). */
  webSearch?: WebSearchConfig;
  /**
   * Stored Responses API responses: whether a request's `store` (true unless it says false) keeps
   * its response (`responses.store`, default true), for how many days (`responses.retention_days`,
   * default 30, as OpenAI), and the memory store's bound without PostgreSQL (`responses.memory_mb`, default 64).
   */
  responses: { store: boolean; retentionDays: number; memoryBytes: number };
}

/** A prompt's {{placeholder}}: a name of letters, digits and underscores. */
export const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * A prompt template (`prompts[]`), kept with the configuration (reviewed and versioned with it):
 * a request names it by `prompt: {id, version, variables}` on the Responses API.
 */
export interface PromptConfig {
  id: string;
  /** Several entries may share an id with different versions; a request without one gets the last listed. */
  version: string;
  /** The route, alias or deployment used when the request names no model. */
  model?: string;
  /** Instructions (a system message), with {{variable}} placeholders. */
  instructions?: string;
  /** Messages before the request's input (a fixed opening, few-shot examples), with placeholders. */
  messages: { role: "user" | "assistant" | "system" | "developer"; content: string }[];
  /** The placeholders' names, in order of first use: every one must be given a value. */
  variables: string[];
}
