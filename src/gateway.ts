// Assembles the gateway from a Config: providers, registry, health, usage sink, the Connect
// services and interceptors. Building is separate from listening (server/http.ts), so tests
// can run it on port 0 or in memory.

import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { ChatService } from "../gen/signalbox/v1/chat_pb.ts";
import { EmbeddingService } from "../gen/signalbox/v1/embedding_pb.ts";
import { RerankService } from "../gen/signalbox/v1/rerank_pb.ts";
import { ImageService } from "../gen/signalbox/v1/image_pb.ts";
import { AudioService } from "../gen/signalbox/v1/audio_pb.ts";
import { ModerationService } from "../gen/signalbox/v1/moderation_pb.ts";
import { SearchService } from "../gen/signalbox/v1/search_pb.ts";
import { OcrService } from "../gen/signalbox/v1/ocr_pb.ts";
import { GuardrailService } from "../gen/signalbox/v1/guardrail_pb.ts";
import { RouteService } from "../gen/signalbox/v1/route_pb.ts";
import { UsageService } from "../gen/signalbox/v1/usage_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { AdminService } from "../gen/signalbox/v1/admin_pb.ts";
import { createControlPlane, type ControlPlane } from "./control/control-plane.ts";
import { createMemoryControlStore } from "./control/memory-store.ts";
import type { ControlStore } from "./control/types.ts";
import { adminService } from "./server/admin-service.ts";
import { createDeploymentChecker, type DeploymentChecker } from "./engine/checks.ts";
import { createSpendCaps, type SpendCaps } from "./engine/spend-caps.ts";
import { createBudgetForecast, type BudgetForecast } from "./alerts/budget-forecast.ts";
import { createSpendReports, type SpendReports } from "./alerts/spend-reports.ts";
import { vectorToolsServer } from "./mcp/vector-tools.ts";
import { searchToolsServer } from "./mcp/search-tools.ts";
import { promptService } from "./server/prompt-service.ts";
import { PromptService } from "../gen/signalbox/v1/prompt_pb.ts";
import { recodeClientDecodeError } from "./server/wire-errors.ts";
import type { Config } from "./config/types.ts";
import { extendConfig, isMcpAllowEntry, isPassthroughAllowEntry } from "./config/load.ts";
import { loadConfigWithSecrets, readSecretsDigest } from "./secrets/load.ts";
import type { ApplyEntries } from "./control/entries.ts";
import { MASTER_KEY_ENV, parsePreviousKeys, PREVIOUS_KEYS_ENV } from "./control/sealed.ts";
import { configVersion, reconcile, reuseUnchanged, type ReloadResult } from "./config/reload.ts";
import { GatewayError } from "./router/errors.ts";
import { createProvider } from "./providers/registry.ts";
import { createTransport, type Transport } from "./providers/transport.ts";
import type { Provider } from "./providers/types.ts";
import type { ExecuteDeps } from "./router/execute.ts";
import { plan as planCall, seededRandom } from "./router/plan.ts";
import { createModelRegistry, type ModelRegistry } from "./router/registry.ts";
import type { Call, Caller, Plan } from "./router/types.ts";
import { callerKey, type Authenticator } from "./server/auth.ts";
import { createMemoryBatchStore } from "./batch/store.ts";
import { createMemoryResponseStore } from "./compat/responses/store.ts";
import { createMemoryCompletionStore } from "./compat/chat-store.ts";
import { createMemoryConversationStore } from "./compat/responses/conversations.ts";
import { createBackgroundRuns, HEARTBEAT_MS, HEARTBEAT_TTL_MS } from "./compat/responses/background.ts";
import { createBatchRunner } from "./batch/runner.ts";
import { createMemoryVectorStoreStore, lazyVectorStoreStore } from "./vectors/store.ts";
import { createVectorStores, type VectorStores } from "./vectors/service.ts";
import type { BatchApi } from "./batch/http.ts";
import { chatService, codeName } from "./server/chat-service.ts";
import { embeddingService } from "./server/embedding-service.ts";
import { rerankService } from "./server/rerank-service.ts";
import { imageService } from "./server/image-service.ts";
import { audioService } from "./server/audio-service.ts";
import { moderationService } from "./server/moderation-service.ts";
import { searchService } from "./server/search-service.ts";
import { ocrService } from "./server/ocr-service.ts";
import { guardrailService } from "./server/guardrail-service.ts";
import { createRealtimeDoor, type RealtimeDoor } from "./compat/realtime.ts";
import { createPassthrough } from "./compat/passthrough.ts";
import { newRequestId, requestInfoKey, traceIdFrom } from "./server/context.ts";
import { toConnectError } from "./server/errors.ts";
import { createHealthState, healthService, type HealthState } from "./server/health-service.ts";
import { routeService } from "./server/route-service.ts";
import { usageService } from "./server/usage-service.ts";
import { MAX_AUDIO_REQUEST_BYTES } from "./server/validate.ts";
import { budgetService } from "./server/budget-service.ts";
import { createMemoryHealthStore, type HealthStore } from "./state/health.ts";
import { createRedisHealthStore } from "./state/redis-health.ts";
import type { UsageSink } from "./usage/record.ts";
import { createMemoryUsageStore } from "./usage/memory-store.ts";
import { createRedisUsageStore } from "./usage/redis-store.ts";
import type { UsageStore } from "./usage/store.ts";
import { createMemoryLimiter } from "./limits/memory.ts";
import { createRedisLimiter } from "./limits/redis.ts";
import type { Limiter } from "./limits/types.ts";
import { closeRedis, connectRedis, createRedisConnection, hasRedis, type RedisClient } from "./state/redis.ts";
import { log } from "./telemetry/log.ts";
import { endRpcSpan, extractContext, startRpcSpan, tracingRequested, type Tracing } from "./telemetry/tracing.ts";
import { createMetrics, observedSink, type GatewayMetrics } from "./telemetry/metrics.ts";
import { usageLogsRequested, type UsageLogs } from "./telemetry/usage-logs.ts";
import { createUsageExport, type UsageExport } from "./usage/export.ts";
import type { UsageRecord } from "./usage/record.ts";
import type { CooldownListener } from "./state/health.ts";
import { ConnectError } from "@connectrpc/connect";
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { createMemoryCacheStore, createRedisCacheStore, type CacheStore } from "./cache/cache.ts";
import { createSemanticIndex } from "./cache/semantic.ts";
import { createChatEngine, type ChatEngine } from "./engine/chat-engine.ts";
import { createCompatHandler } from "./compat/handler.ts";
import { createMcpHub, type McpHub } from "./mcp/hub.ts";
import { createMcpEndpoint } from "./mcp/http.ts";
import { compileGuardrails, type GuardrailSet } from "./guardrails/engine.ts";
import { createAlerter, type Alerter } from "./alerts/alerts.ts";
import { createConsoleSso, type ConsoleSso } from "./server/sso.ts";
import { createJwtAuth } from "./server/jwt-auth.ts";

/**
 * What the services need: the registry, the planner, the executor's dependencies, the usage sink.
 * A config reload replaces config, registry, exec (a new object; same health store), plan and
 * auth together in one assignment: read them at call time, never keep them from construction.
 * A request reads `plan` and `exec` once, together, and uses those to the end.
 */
export interface GatewayCore {
  config: Config;
  /** Console sign-in through console.sso (its session tokens are accepted as keys). */
  sso: ConsoleSso;
  /**
   * The caller of an Authorization header: a key (or console session) at once, a token of a
   * trusted issuer (auth.jwt) once verified: a promise only then, and only the first time a token is seen.
   */
  identify(authorization: string | null): Caller | Promise<Caller>;
  /** Present when traces are exported. */
  tracing?: Tracing;
  /** Present when usage records are also exported as OTLP logs (OTEL_LOGS_EXPORTER=otlp). */
  usageLogs?: UsageLogs;
  metrics: GatewayMetrics;
  limits: Limiter;
  registry: ModelRegistry;
  exec: ExecuteDeps;
  usage: UsageSink;
  /** The in-memory key directory (config file and control store): who a caller is, in no I/O. */
  auth: Authenticator;
  /** Keys, teams and the audit log, managed at run time (AdminService). */
  control: ControlPlane;
  /** Plans a chat or an embeddings call (only deployments serving its operation are candidates). */
  plan(call: Call): Plan;
  /** The configuration's guardrails, compiled with it (a reload swaps them with plan and exec). */
  guardrails: GuardrailSet;
  /** Webhooks told about budgets and cooldowns (the sinks in force: `config.alerts`). */
  alerts: Alerter;
  /** The MCP servers of `config.mcpServers`: their connections, tools and recorded tool calls. */
  mcp: McpHub;
  /** Active checks of deployments (AdminService.CheckDeployments, LiteLLM's /health, health_checks); set once the engine exists. */
  checks?: DeploymentChecker;
  /** Deployments' and providers' spending caps (`budget` on each), read from the usage store every few seconds. */
  spendCaps?: SpendCaps;
  /** The gateway's vector stores (file search before the model reads them); set once the engine exists. */
  vectors?: VectorStores;
}

export interface Gateway {
  core: GatewayCore;
  /** The one chat engine behind ChatService and the OpenAI-compatible endpoint. */
  engine: ChatEngine;
  /** The Batch API's files and batches, and the runner working through them. */
  batches: BatchApi;
  /** Vector stores and their indexing (src/vectors). */
  vectors: VectorStores;
  /** Plain-HTTP front door (the OpenAI-compatible endpoint); true when it answered the request. */
  handleHttp(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean;
  /** The Realtime API (/v1/realtime): HTTP/1.1 WebSocket upgrades, and the sessions they opened. */
  realtime: RealtimeDoor;
  health: HealthState;
  /** Registers every service on a Connect router. */
  routes(router: ConnectRouter): void;
  interceptors: Interceptor[];
  /** A short hash of the configuration in force (see config/reload.ts); a reload that changes it changes this. */
  readonly configVersion: string;
  /**
   * Re-read the config file the gateway started with (GatewayOptions.configPath) and swap in
   * providers, deployments, aliases, routes, keys and teams at once; requests in flight finish on
   * what they started with. `actor` is who asked (a key name, "SIGHUP"), for the log. Reloads run
   * one at a time. An invalid file changes nothing: the promise rejects with a GatewayError
   * (failed_precondition) whose message names the field as start-up does. Without a configPath
   * it rejects with failed_precondition too.
   */
  reload(actor?: string): Promise<ReloadResult>;
  /** Projections of budgets and spending caps to the end of their periods (alerted every few minutes). */
  budgetForecast: BudgetForecast;
  /** Scheduled spend reports (config spend_reports). */
  spendReports: SpendReports;
  /** The usage exports (usage_export): flush() sends what waits now. */
  usageExport: UsageExport;
  close(): Promise<void>;
}

export interface GatewayOptions {
  usage?: UsageSink;
  transport?: Transport;
  health?: HealthStore;
  /** Alerts (tests): instead of webhooks from config.alerts. */
  alerts?: Alerter;
  limits?: Limiter;
  /** Tracing to use instead of what the OTEL_* environment asks for (tests). */
  tracing?: Tracing | null;
  /** Usage logs to use instead of what OTEL_LOGS_EXPORTER asks for (tests); null for none. */
  usageLogs?: UsageLogs | null;
  /** Write one JSON log line per request (the server turns this on; tests leave it off). */
  requestLog?: boolean;
  /** Response cache store to use instead of the configured one (tests). */
  cache?: CacheStore;
  /** The file `config` was read from: what reload() re-reads. */
  configPath?: string;
  /** Seals the credentials of providers made at run time; default: the SIGNALBOX_MASTER_KEY environment variable. */
  masterKey?: string;
  /** Keys that only open sealed credentials (a rotation's old key); default: SIGNALBOX_MASTER_KEY_PREVIOUS, separated by commas. */
  previousMasterKeys?: string[];
  /** Vector stores' indexing (tests): when a quiet in-progress file is taken up again, and how often the sweep looks. */
  vectorIndexing?: { staleMs: number; sweepMs: number };
}

/** One line per request: ids, routing, outcome, tokens, cost, timings. No prompt or completion text, no key. */
function requestLogLine(r: UsageRecord): void {
  log(r.status === "ok" ? "info" : "warn", "request", {
    request_id: r.id,
    trace_id: r.traceId,
    key: r.key,
    team: r.team,
    user: r.user || undefined,
    model: r.model,
    route: r.routing.route || undefined,
    variant: r.routing.variant || undefined,
    deployment: r.deployment,
    provider: r.provider,
    status: r.status,
    failure_kind: r.failureKind,
    refusal: r.refusal,
    attempts: r.attempts.map((a) => `${a.deployment}:${a.outcome}${a.failureKind ? `:${a.failureKind}` : ""}`),
    input_tokens: r.usage.inputTokens,
    output_tokens: r.usage.outputTokens,
    cost_nano_usd: r.cost.total,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs,
    streamed: r.streamed,
    cache_hit: r.cacheHit || undefined,
    // Which rule acted, never what it matched.
    guardrails: r.guardrails?.map((g) => `${g.name}:${g.stage}:${g.action}:${g.category}`),
  });
}

/** The state stores: Redis when configured (shared by replicas), memory otherwise. */
async function createHealth(config: Config, onCooldown: CooldownListener): Promise<HealthStore> {
  return hasRedis(config.store) ? createRedisHealthStore(config.store, undefined, undefined, onCooldown) : createMemoryHealthStore(undefined, undefined, onCooldown);
}

/**
 * Usage records and their aggregates: PostgreSQL (durable, queryable for months; it wins over Redis,
 * which keeps limits, health and the cache), Redis (shared, batched writes) or memory.
 */
async function createUsageStore(config: Config, alerts: Alerter): Promise<UsageStore> {
  if (config.store.postgresUrl) {
    const { createPostgresUsageStore } = await import("./usage/postgres-store.ts");
    const replica = `${hostname()}:${process.pid}`;
    return createPostgresUsageStore(config.store.postgresUrl, {
      replica,
      retentionDays: config.store.usageRetentionDays,
      log: (level, msg, fields) => log(level, msg, fields),
      onState: (s) =>
        alerts.emit(
          s.kind === "unavailable"
            ? { event: "postgres_unavailable", replica, reason: s.reason }
            : s.kind === "recovered"
              ? { event: "postgres_recovered", replica, downMs: s.downMs }
              : { event: "usage_records_dropped", replica, maxBuffered: s.maxBuffered },
        ),
    });
  }
  if (!hasRedis(config.store)) return createMemoryUsageStore();
  const client = createRedisConnection(config.store);
  await connectRedis(client);
  const store = createRedisUsageStore(client, {
    // On a cluster, aggregates and the log spread over 16 hash tags (see usage/redis-store.ts).
    shards: config.store.redisCluster?.length ? 16 : 1,
    onDegraded: (d) =>
      log(d ? "warn" : "info", d ? "Redis unavailable: usage records wait in a bounded buffer" : "Redis is back: buffered usage records are being written"),
    onError: (m) => log("error", m),
  });
  return {
    ...store,
    record: (r) => store.record(r),
    query: (q) => store.query(q),
    list: (q) => store.list(q),
    get: (q) => store.get(q),
    stats: () => store.stats(),
    flush: () => store.flush(),
    async close() {
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * Where keys, teams and the audit log live: PostgreSQL when configured (every replica, durable),
 * memory otherwise (this process only; start-up says so).
 */
async function createControlStore(config: Config): Promise<ControlStore> {
  if (!config.store.postgresUrl) return createMemoryControlStore();
  const { createPostgresControlStore } = await import("./control/postgres-store.ts");
  return createPostgresControlStore(config.store.postgresUrl, { replica: `${hostname()}:${process.pid}`, log: (level, msg, fields) => log(level, msg, fields) });
}

/** The response cache: Redis when configured (shared by replicas), memory otherwise. */
async function createCache(config: Config): Promise<CacheStore> {
  if (!hasRedis(config.store)) return createMemoryCacheStore();
  const client = createRedisConnection(config.store);
  await connectRedis(client);
  const store = createRedisCacheStore(client, { onError: (err) => log("warn", "response cache unavailable: lookups are misses", { error: String((err as Error)?.message ?? err) }) });
  return {
    ...store,
    semantic: createSemanticIndex({ redis: client, onError: (err) => log("warn", "semantic cache index unavailable: searching this replica's copy", { error: String((err as Error)?.message ?? err) }) }),
    async close() {
      await store.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

async function createLimits(config: Config, alerts: Alerter): Promise<Limiter> {
  if (!hasRedis(config.store)) return createMemoryLimiter();
  const client = createRedisConnection(config.store);
  await connectRedis(client);
  const limiter = createRedisLimiter(client, {
    onDegraded: (d) => {
      log(d ? "warn" : "info", d ? "Redis unavailable: rate limits and budgets fall back to per-replica enforcement" : "Redis is back: limits are shared again");
      alerts.emit({ event: d ? "redis_unavailable" : "redis_recovered", replica: `${hostname()}:${process.pid}` });
    },
  });
  return {
    ...limiter,
    async close() {
      await limiter.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}


async function* endWithStream<T>(it: AsyncIterable<T>, span: import("@opentelemetry/api").Span, signal: AbortSignal): AsyncIterable<T> {
  let code = "ok";
  let message: string | undefined;
  try {
    yield* it;
    if (signal.aborted) code = "canceled";
  } catch (err) {
    const ce = ConnectError.from(err);
    code = codeName(ce.code);
    message = ce.rawMessage;
    throw err;
  } finally {
    endRpcSpan(span, code, message);
  }
}

export async function createGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  const transport = opts.transport ?? createTransport();
  const metrics = createMetrics();
  // The sinks of the configuration in force (a reload swaps core.config; until core exists, the first one).
  let coreRef: GatewayCore | undefined;
  // The engine, made after the core it runs on (the MCP hub's web_search server calls it).
  let engineRef: ChatEngine | undefined;
  // With Redis, one replica sends each alert: the condition is claimed with SET NX PX (a client
  // made at the first alert, so a gateway without alerts opens no connection for them).
  let alertRedis: Promise<RedisClient> | undefined;
  // Keys, teams and the audit log (and, without Redis, the claims below): memory, or PostgreSQL.
  const controlStore = await createControlStore(config);
  // Which replica sends an alert or a spend report: the first to claim its condition in Redis, or
  // (without Redis) in PostgreSQL, where a claim also outlives a restart; one replica alone otherwise.
  const claim = hasRedis(config.store)
    ? async (condition: string, ttlMs: number): Promise<boolean> => {
        const client = await (alertRedis ??= (async () => {
          const c = createRedisConnection(config.store);
          await connectRedis(c);
          return c;
        })());
        return (await client.set(`signalbox:alert:${condition.replace(/\n/g, ":")}`, "1", "PX", ttlMs, "NX")) === "OK";
      }
    : controlStore.claim
      ? (condition: string, ttlMs: number) => controlStore.claim!(condition, ttlMs)
      : undefined;
  const alerts = opts.alerts ?? createAlerter({ sinks: () => (coreRef?.config ?? config).alerts ?? [], claim });
  const onCooldown: CooldownListener = (d, kind, until) => {
    metrics.cooldown(d, kind);
    log("warn", "deployment cooling down", { deployment: d, failure_kind: kind, until: new Date(until).toISOString() });
    alerts.emit({ event: "deployment_cooldown", deployment: d, failureKind: kind, until });
  };
  const healthStore = opts.health ?? (await createHealth(config, onCooldown));
  // Deployments' and providers' spending caps, read from the usage store (made below) every few seconds.
  let usageStoreRef: UsageStore | undefined;
  const spendCaps = createSpendCaps({ config: () => coreRef?.config ?? config, store: () => usageStoreRef, alerts });
  /** The parts of the core one Config determines; a reload builds a new set and swaps it in. */
  const generation = (cfg: Config, provs: ReadonlyMap<string, Provider>): Pick<GatewayCore, "config" | "registry" | "exec" | "plan" | "guardrails"> => {
    const registry = createModelRegistry(cfg);
    const exec: ExecuteDeps = { providers: provs, health: healthStore };
    return {
      config: cfg,
      registry,
      exec,
      // Weighted draws are seeded by the sticky key (or the request id), so Route and Complete
      // agree for the same caller.
      plan: (call) => planCall({ call, registry, health: healthStore.snapshot(), rand: seededRandom(call.routing.stickyKey ?? call.id), overBudget: spendCaps.over, overTags: spendCaps.overTags }),
      // Detectors and patterns compiled once per configuration, never per request.
      guardrails: compileGuardrails(cfg),
    };
  };
  const control = await createControlPlane({
    masterKey: opts.masterKey ?? process.env[MASTER_KEY_ENV],
    previousMasterKeys: opts.previousMasterKeys ?? parsePreviousKeys(process.env[PREVIOUS_KEYS_ENV]),
    store: controlStore,
    configKeys: config.keys,
    configTeams: config.teams,
    configPrompts: () => core.registry.config.prompts,
    // Allow lists name what the config in force knows (read at call time: reloads change it).
    // A wildcard deployment's id ("openai/*") allows every model it makes.
    knownModel: (m) => {
      if (core.registry.wildcard(m) || isMcpAllowEntry(m, core.config.mcpServers) || isPassthroughAllowEntry(m, core.registry.config.providers)) return true;
      try {
        return core.registry.resolve(m) !== undefined;
      } catch {
        return false;
      }
    },
  });
  // Console sign-in (console.sso): its sessions are bearer tokens the directory accepts beside keys.
  // Sign-outs are kept by the control plane (its store: memory, or PostgreSQL shared by every replica).
  const consoleSso = createConsoleSso(() => (coreRef ? coreRef.config.console.sso : config.console.sso), opts.masterKey ?? process.env[MASTER_KEY_ENV], Date.now, {
    revoke: (actor, id, expiresAt) => control.revokeSession(actor, id, expiresAt, ""),
    revoked: (id) => control.sessionRevoked(id),
  });
  control.directory.setSessionVerifier((token) => consoleSso.verify(token));
  // Tokens of trusted issuers (auth.jwt) in place of keys' secrets.
  const jwtAuth = createJwtAuth(() => (coreRef ? coreRef.config.jwtIssuers : config.jwtIssuers), (name) => control.directory.callerByName(name));
  // The config file's configuration (what a reload re-reads), and in force: it with the providers,
  // deployments and routes made at run time (AdminService.PutConfigEntry).
  let base = config;
  const initial = extendConfig(base, control.entries.opened()).config;
  const providers = new Map<string, Provider>();
  for (const p of initial.providers) providers.set(p.name, createProvider(p, transport));
  // Only grows (a reload adds or retypes providers): requests in flight on a removed provider
  // still get their metric label.
  const providerTypes = new Map(initial.providers.map((p) => [p.name, p.type as string]));
  let version = configVersion(initial);
  metrics.configVersion(version);
  const limits = opts.limits ?? (await createLimits(config, alerts));
  const usageStore = await createUsageStore(config, alerts);
  usageStoreRef = usageStore;
  spendCaps.start();
  /** Usage records in Redis or PostgreSQL: written in batches, maybe by another replica (feedback waits for them). */
  const sharedUsage = hasRedis(config.store) || !!config.store.postgresUrl;
  // Tests may watch records through an extra sink of their own.
  const extra = opts.usage;
  const sink: UsageSink = extra
    ? {
        record(r) {
          usageStore.record(r);
          extra.record(r);
        },
        flush: async () => {
          await Promise.all([usageStore.flush(), extra.flush()]);
        },
      }
    : usageStore;
  // The OpenTelemetry SDK is loaded only when traces or usage logs are asked for.
  const sdk = (opts.tracing === undefined && tracingRequested()) || (opts.usageLogs === undefined && usageLogsRequested()) ? await import("./telemetry/otel-sdk.ts") : undefined;
  const tracing = opts.tracing === null ? undefined : (opts.tracing ?? sdk?.startTracing());
  const usageLogs = opts.usageLogs === null ? undefined : (opts.usageLogs ?? sdk?.startUsageLogs());
  // Usage records archived to buckets (usage_export): read from the config in force at each record.
  const usageExport = createUsageExport({ exports: () => (coreRef ?? { config: initial }).config.usageExport, metrics, alert: (e) => alerts.emit(e) });
  metrics.watchUsageExport(() => usageExport.stats().map((x) => ({ name: x.name, records: x.buffered + x.spooled })));
  const core: GatewayCore = {
    ...generation(initial, providers),
    alerts,
    tracing,
    usageLogs,
    metrics,
    limits,
    usage: observedSink(usageExport.sink(usageLogs ? usageLogs.sink(sink, providerTypes) : sink), metrics, providerTypes, opts.requestLog ? requestLogLine : undefined),
    auth: control.directory,
    sso: consoleSso,
    identify(authorization) {
      // Only a gateway that trusts issuers looks for a token (the key path stays as it was).
      if (authorization && core.config.jwtIssuers && control.directory.enabled) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
        if (m && jwtAuth.matches(m[1])) return jwtAuth.verify(m[1]);
      }
      return control.directory.authenticate(authorization);
    },
    control,
    mcp: createMcpHub({ config: () => coreRef?.config.mcpServers, usage: () => core.usage, tracing: () => core.tracing, limits: () => core.limits, teams: control.directory, guardrails: () => core.guardrails, alerts: () => core.alerts, builtins: [vectorToolsServer(() => core.vectors), searchToolsServer({ settings: () => core.config.webSearch, engine: () => engineRef! })] }),
  };
  coreRef = core;

  const cache = opts.cache ?? (await createCache(config));
  const engine = createChatEngine(core, cache);
  engineRef = engine;
  // Active checks of deployments: on demand (AdminService.CheckDeployments) and, with health_checks, in the background.
  const checker = createDeploymentChecker(core, engine, control.prompts);
  checker.start();
  core.checks = checker;
  core.spendCaps = spendCaps;
  // The Batch API: its store (PostgreSQL with store.postgres_url, else memory) and the runner that works through batches.
  const batchStore = config.store.postgresUrl
    ? await (await import("./batch/postgres-store.ts")).createPostgresBatchStore(config.store.postgresUrl, { log })
    : createMemoryBatchStore();
  const batchRunner = createBatchRunner({
    store: batchStore,
    engine,
    core: () => core,
    callerOf: (name) => control.directory.callerByName(name),
    concurrency: config.batches.concurrency,
    parallel: config.batches.parallel,
    // A batch is started at once by the replica that took it; the idle poll only finds batches
    // another replica left (or that outlived a restart): every 5 s is one small query on PostgreSQL.
    pollMs: batchStore.kind === "postgres" ? 5000 : 1000,
  });
  const batches: BatchApi = { store: batchStore, runner: batchRunner, maxFileBytes: config.batches.maxFileBytes };
  batchRunner.kick();
  // Vector stores (vector_stores in the config): their files are the Files API's uploads.
  // On PostgreSQL the store (its pool and migration) opens when vector stores are configured, or
  // when first used after a reload configures them.
  const postgresUrl = config.store.postgresUrl;
  const lazyVectors = postgresUrl ? lazyVectorStoreStore("postgres", async () => (await import("./vectors/postgres-store.ts")).createPostgresVectorStoreStore(postgresUrl, { log })) : undefined;
  if (config.vectorStores) await lazyVectors?.open();
  const vectorStore = lazyVectors ?? createMemoryVectorStoreStore();
  const vectors = createVectorStores({ store: vectorStore, files: batchStore, engine, core: () => core, callerOf: (name) => control.directory.callerByName(name), ...opts.vectorIndexing });
  core.vectors = vectors;
  // Stored Responses API responses (responses.store): PostgreSQL with store.postgres_url, else memory;
  // what has expired is dropped at start and every hour.
  const responsesPg = config.responses.store && config.store.postgresUrl ? await import("./compat/responses/postgres-store.ts") : undefined;
  const responseStore = !config.responses.store
    ? undefined
    : responsesPg
      ? await responsesPg.createPostgresResponseStore(config.store.postgresUrl!, { log })
      : createMemoryResponseStore({ maxBytes: config.responses.memoryBytes });
  // The Conversations API's conversations, beside them (memory: up to responses.memory_mb more, per replica).
  const conversationStore = !config.responses.store ? undefined : responsesPg ? await responsesPg.createPostgresConversationStore(config.store.postgresUrl!, { log }) : createMemoryConversationStore({ maxBytes: config.responses.memoryBytes });
  // Stored Chat Completions (store: true), beside them (memory: up to responses.memory_mb more, per replica).
  const chatStorePg = config.responses.store && config.store.postgresUrl ? await import("./compat/chat-store-postgres.ts") : undefined;
  const completionStore = !config.responses.store ? undefined : chatStorePg ? await chatStorePg.createPostgresCompletionStore(config.store.postgresUrl!, { log }) : createMemoryCompletionStore({ maxBytes: config.responses.memoryBytes });
  const sweepResponses = () => {
    void responseStore?.sweep().catch((err) => log("warn", "responses: could not drop expired responses", { reason: (err as Error).message }));
    void completionStore?.sweep().catch((err) => log("warn", "chat completions: could not drop expired completions", { reason: (err as Error).message }));
  };
  sweepResponses();
  const responseSweeper = responseStore ? setInterval(sweepResponses, 3_600_000).unref() : undefined;
  const backgroundRuns = createBackgroundRuns((id, err) => log("error", "responses: a background response could not record how it ended", { response: id, reason: (err as Error).message }));
  // While they run, this replica vouches for its background responses (one statement for all of them).
  const heartbeat = setInterval(() => {
    if (backgroundRuns.size) responseStore?.keepAlive(backgroundRuns.ids(), Date.now() + HEARTBEAT_TTL_MS).catch((err) => log("warn", "responses: could not renew the background responses' heartbeat", { reason: (err as Error).message }));
  }, HEARTBEAT_MS).unref();
  const retentionMs = config.responses.retentionDays * 86_400_000;
  const realtime = createRealtimeDoor(core, engine, opts.masterKey ?? process.env[MASTER_KEY_ENV]);
  metrics.watchRealtime(() => ({ websocket: realtime.open - realtime.calls, webrtc: realtime.calls }));
  metrics.watchSpendCaps(() => spendCaps.all());
  const health = createHealthState([ChatService.typeName, EmbeddingService.typeName, RerankService.typeName, ImageService.typeName, AudioService.typeName, ModerationService.typeName, SearchService.typeName, OcrService.typeName, GuardrailService.typeName, RouteService.typeName, UsageService.typeName, AdminService.typeName, PromptService.typeName]);
  const compat = createCompatHandler(core, engine, batches, responseStore && conversationStore && { store: responseStore, retentionMs, conversations: conversationStore, runs: backgroundRuns }, completionStore && { store: completionStore, retentionMs }, { usage: usageStore, control: core.control, findWithinMs: sharedUsage ? 2_000 : 250, onFeedback: (f, r) => usageExport.feedback(f, r) }, createPassthrough(core, transport), realtime, health, vectors);
  // The MCP gateway (/mcp): asked only what the OpenAI-compatible door did not answer.
  const mcpEndpoint = createMcpEndpoint(core, core.mcp);
  const handleHttp = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => compat(req, res) || ((core.config.mcpServers !== undefined || core.config.vectorStores !== undefined || core.config.webSearch?.model !== undefined) && mcpEndpoint(req, res));

  // Runs first for every RPC: request id, trace (continuing the caller's traceparent), and the
  // caller (health checks need no key).
  const identify: Interceptor = (next) => async (req) => {
    const arrivedAt = performance.now();
    const rpc = tracing && req.service.typeName !== Health.typeName ? startRpcSpan(tracing.tracer, req.service.typeName, req.method.name, extractContext(req.header)) : undefined;
    const traceId = rpc ? rpc.span.spanContext().traceId : traceIdFrom(req.header.get("traceparent"));
    req.contextValues.set(requestInfoKey, { id: newRequestId(), traceId, arrivedAt, otel: rpc?.ctx });
    let res;
    try {
      if (req.service.typeName !== Health.typeName) {
        const c = core.identify(req.header.get("authorization"));
        req.contextValues.set(callerKey, c instanceof Promise ? await c : c);
      }
      res = await next(req);
    } catch (err) {
      // A body connect-es could not decode is the caller's fault (invalid_argument), also in the span.
      recodeClientDecodeError(err);
      const ce = toConnectError(err, req.signal, traceId);
      if (rpc) endRpcSpan(rpc.span, codeName(ce.code), ce.rawMessage);
      throw ce;
    }
    res.header.set("x-signalbox-trace-id", traceId);
    if (!rpc) return res;
    if (!res.stream) {
      endRpcSpan(rpc.span, "ok");
      return res;
    }
    // A stream's RPC span ends when the stream does (the handler runs after next() returned).
    return { ...res, message: endWithStream(res.message, rpc.span, req.signal) };
  };

  /**
   * The one step: every request from here on plans and executes on the new generation; those in
   * flight keep the plan and exec they read at their start.
   */
  function commit(swap: Partial<GatewayCore>, next: Config): void {
    Object.assign(core, swap);
    control.directory.replaceConfig(next.keys, next.teams, Date.now());
    for (const p of next.providers) providerTypes.set(p.name, p.type);
    version = configVersion(next);
    // Connection pools of providers that are gone (or changed) close once their requests finish.
    void transport.prune?.(next.providers);
    metrics.configVersion(version);
  }
  const build = (next: Config) => generation(next, reuseUnchanged(core.config.providers, core.exec.providers, next.providers, (p) => createProvider(p, transport)));

  /** Entries made at run time, built into the file's configuration (dryRun: only what would change). */
  const applyEntries: ApplyEntries = (entries, dryRun) => {
    const { config: extended, problems } = extendConfig(base, entries);
    const next = reconcile(core.config, extended);
    if (dryRun) return { version: configVersion(next.config), changes: next.changes, problems };
    const previousVersion = version;
    commit(build(next.config), next.config);
    if (version !== previousVersion) log("info", "config entries applied", { config_version: version, previous_version: previousVersion, changes: next.changes });
    return { version, changes: next.changes, problems };
  };
  control.entries.attach(applyEntries);

  /** One reload: read and validate the whole file, build what changed, then swap in one step. */
  async function reloadNow(actor: string): Promise<ReloadResult> {
    const path = opts.configPath;
    if (!path) throw new GatewayError("failed_precondition", "reload: this gateway was started without a config file: there is no config file to re-read");
    const previousVersion = version;
    const prev = core.config;
    let next: ReturnType<typeof reconcile>;
    let file: Config;
    let swap: Partial<GatewayCore>;
    let problems: ReturnType<typeof extendConfig>["problems"];
    try {
      file = await loadConfigWithSecrets(path);
      const extended = extendConfig(file, control.entries.opened());
      problems = extended.problems;
      next = reconcile(prev, extended.config);
      swap = build(next.config);
    } catch (err) {
      metrics.configReload("invalid");
      const message = (err as Error)?.message ?? String(err);
      log("error", "config reload refused: the file is invalid, nothing changed", { config: path, actor: actor || undefined, config_version: previousVersion, error: message });
      throw new GatewayError("failed_precondition", `invalid configuration in ${path}: ${message}`, {}, err);
    }
    base = file;
    commit(swap, next.config);
    // A secrets section a reload brought in is refreshed from now on (one already refreshing goes on).
    if (secretsTimer === undefined) scheduleSecrets();
    control.entries.noteProblems(problems);
    // An entry made at run time that the file now shadows (or breaks) is left out: say so.
    const changes = [...next.changes, ...[...problems].map(([id, e]) => `${id} (made at run time) not in force: ${e.message}`)];
    metrics.configReload("ok");
    log("info", "config reloaded", { config: path, actor: actor || undefined, config_version: version, previous_version: previousVersion, changes });
    await control.audit(actor || "unknown", "config.reload", "config", { version: previousVersion }, { version, changes });
    return { version, previousVersion, changes };
  }
  let reloading: Promise<unknown> = Promise.resolve();

  // Secrets read from a secret manager (src/config/secrets.ts) are read again every refresh: a
  // value that changed (a rotated key) reloads the configuration, as SIGHUP would. A source that
  // cannot be read keeps the values in force, says so, and is tried again next time.
  let secretsTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Since when the sources could not be read (alerted once, and again when they are back). */
  let secretsDownSince: number | undefined;
  const secretsBack = () => {
    if (secretsDownSince === undefined) return;
    alerts.emit({ event: "secrets_recovered", replica: `${hostname()}:${process.pid}`, downMs: Date.now() - secretsDownSince });
    secretsDownSince = undefined;
  };
  const refreshSecrets = async () => {
    const path = opts.configPath;
    const s = core.config.secrets;
    if (!path || !s) return;
    try {
      const digest = await readSecretsDigest(path);
      if (digest === core.config.secrets?.digest) {
        metrics.secretRefresh("unchanged");
        secretsBack();
        return;
      }
      metrics.secretRefresh("changed");
      log("info", "secrets changed in their sources: reloading the configuration", { sources: s.sources });
      await gateway.reload("secrets");
      secretsBack();
    } catch (err) {
      metrics.secretRefresh("failed");
      const reason = (err as Error)?.message ?? String(err);
      log("warn", "secrets could not be read again: the values in force are kept", { sources: s.sources, error: reason });
      if (secretsDownSince === undefined) {
        secretsDownSince = Date.now();
        alerts.emit({ event: "secrets_unavailable", replica: `${hostname()}:${process.pid}`, reason: reason.slice(0, 300) });
      }
    }
  };
  const scheduleSecrets = () => {
    secretsTimer = undefined;
    const every = core.config.secrets?.refreshMs;
    if (!every || !opts.configPath || closed) return;
    secretsTimer = setTimeout(() => void refreshSecrets().finally(scheduleSecrets), every);
    secretsTimer.unref();
  };
  scheduleSecrets();

  // Budgets and spending caps that will run out before their period ends, alerted while there is
  // time (src/alerts/budget-forecast.ts): only while a sink subscribes to the event.
  const budgetForecast = createBudgetForecast({
    directory: () => control.directory,
    limits: () => core.limits,
    caps: spendCaps,
    alerts,
    wanted: () => (core.config.alerts ?? []).some((a) => a.events.includes("budget_projected_exceeded")),
  });
  budgetForecast.start();

  // Spend reports of closed periods, to the alert sinks they name (src/alerts/spend-reports.ts).
  const spendReports = createSpendReports({ reports: () => core.config.spendReports ?? [], sinks: () => core.config.alerts ?? [], store: () => usageStoreRef, alerts, claim });
  spendReports.start();

  const gateway: Gateway = {
    core,
    engine,
    batches,
    vectors,
    handleHttp,
    realtime,
    health,
    interceptors: [identify],
    get configVersion() {
      return version;
    },
    reload(actor = "") {
      // One at a time: each reload compares against what the previous one left in force.
      const run = reloading.then(() => reloadNow(actor));
      reloading = run.catch(() => undefined);
      return run;
    },
    routes(router) {
      router.service(ChatService, chatService(engine, control.prompts));
      router.service(EmbeddingService, embeddingService(engine));
      router.service(RerankService, rerankService(engine));
      router.service(ImageService, imageService(engine));
      // Audio may be up to 25 MB (OpenAI's limit), whatever server.max_request_bytes is: AudioService, and RouteService (RouteTranscription).
      const audioSized = { readMaxBytes: Math.max(config.server.maxRequestBytes, MAX_AUDIO_REQUEST_BYTES) };
      router.service(AudioService, audioService(engine), audioSized);
      router.service(ModerationService, moderationService(engine));
      router.service(SearchService, searchService(engine));
      router.service(OcrService, ocrService(engine), audioSized);
      router.service(GuardrailService, guardrailService(core));
      router.service(RouteService, routeService(core), audioSized);
      router.service(UsageService, { ...usageService({ store: usageStore, feedback: core.control, findWithinMs: sharedUsage ? 2_000 : 250, onFeedback: (f, r) => usageExport.feedback(f, r) }), ...budgetService(core) });
      router.service(
        AdminService,
        adminService(control, {
          authEnabled: () => control.directory.enabled,
          reload: (actor) => gateway.reload(actor),
          alerts: () => core.config.alerts ?? [],
          testAlert: (sink, by) => core.alerts.test(sink, by, `${hostname()}:${process.pid}`),
          spendReports: () => core.config.spendReports ?? [],
          sendSpendReport: (name) => spendReports.sendNow(name),
          usageExports: () => ({ configs: core.config.usageExport ?? [], stats: usageExport.stats() }),
          flushUsageExports: (name) => usageExport.flush(name),
          checkDeployments: (ids, caller, timeoutMs, ri) => checker.check(ids, caller, timeoutMs, ri),
        }),
      );
      router.service(PromptService, promptService(control, () => control.directory.enabled));
      router.service(Health, healthService(health));
    },
    budgetForecast,
    spendReports,
    usageExport,
    async close() {
      closed = true;
      clearTimeout(secretsTimer);
      budgetForecast.stop();
      spendReports.stop();
      checker.stop();
      spendCaps.stop();
      // Batch lines under way finish first (they record usage and write to the stores below).
      await batchRunner.stop().catch(() => {});
      // Mirrors under way are cut off and recorded (src/engine/mirror.ts).
      await engine.mirrors.close().catch(() => {});
      await vectors.close().catch(() => {});
      await vectorStore.close().catch(() => {});
      await batchStore.close().catch(() => {});
      clearInterval(responseSweeper);
      // Background responses under way end now, as failed (saying the gateway stopped), and record their usage.
      clearInterval(heartbeat);
      await backgroundRuns.close().catch(() => {});
      await Promise.all([responseStore?.close().catch(() => {}), conversationStore?.close().catch(() => {}), completionStore?.close().catch(() => {}), core.mcp.close().catch(() => {})]);
      // Each store closes whatever the others do: a Redis error must not lose pending spans.
      const results = await Promise.allSettled([core.usage.flush().then(() => usageStore.close()), limits.close(), healthStore.close(), cache.close(), control.close()]);
      await Promise.allSettled([usageExport.close(), tracing?.shutdown(), usageLogs?.shutdown(), metrics.shutdown(), transport.close(), alerts.flush().then(() => alertRedis?.then(closeRedis))]);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) log("warn", "a store did not close cleanly", { error: String((failed as PromiseRejectedResult).reason) });
    },
  };
  return gateway;
}
