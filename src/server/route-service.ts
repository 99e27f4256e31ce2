// RouteService: the plan for a request (without calling any provider), the model listing
// with live health, and the MCP servers a key may use.

import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { DeploymentHealth_State, ExclusionReason, ListMcpServersResponseSchema, ListModelsResponseSchema, RouteResponseSchema, RouteService, type McpServerSchema, type RouteResponse } from "../../gen/signalbox/v1/route_pb.ts";
import { Operation as PbOperation } from "../../gen/signalbox/v1/common_pb.ts";
import type { McpServerConfig } from "../config/types.ts";
import type { GatewayCore } from "../gateway.ts";
import type { McpHub } from "../mcp/hub.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller, ExclusionReason as Reason, Operation, Plan } from "../router/types.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey } from "./context.ts";
import { CAPABILITY_TO_PB, FAILURE_TO_PB, checkToPb, TASK_TO_PB, checkedChatCall, toEmbedCall, toImageCall, toModerationCall, toRerankCall, toSearchCall, toOcrCall, toSpeechCall, toTranscriptionCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { applyPresetToCall } from "../compat/request.ts";
import { validateEmbedCall, validateImageCall, validateModerationCall, validateRerankCall, validateSearchCall, validateOcrCall, validateSpeechCall, validateTranscriptionCall } from "./validate.ts";

const EXCLUSION: Record<Reason, ExclusionReason> = {
  cooling_down: ExclusionReason.COOLING_DOWN,
  context_too_small: ExclusionReason.CONTEXT_TOO_SMALL,
  over_budget: ExclusionReason.OVER_BUDGET,
  over_cost_cap: ExclusionReason.OVER_COST_CAP,
  over_latency_cap: ExclusionReason.OVER_LATENCY_CAP,
  missing_capability: ExclusionReason.MISSING_CAPABILITY,
  not_allowed: ExclusionReason.NOT_ALLOWED,
  rate_limited: ExclusionReason.RATE_LIMITED,
  not_selected: ExclusionReason.NOT_SELECTED,
  over_attempt_limit: ExclusionReason.OVER_ATTEMPT_LIMIT,
  wrong_operation: ExclusionReason.WRONG_OPERATION,
  provider_preference: ExclusionReason.PROVIDER_PREFERENCE,
};

export const OPERATION_TO_PB: Record<Operation | "tool_call" | "passthrough", PbOperation> = {
  chat: PbOperation.CHAT,
  embeddings: PbOperation.EMBEDDINGS,
  rerank: PbOperation.RERANK,
  images: PbOperation.IMAGES,
  transcription: PbOperation.TRANSCRIPTION,
  speech: PbOperation.SPEECH,
  moderation: PbOperation.MODERATION,
  tool_call: PbOperation.TOOL_CALL,
  realtime: PbOperation.REALTIME,
  search: PbOperation.SEARCH,
  ocr: PbOperation.OCR,
  passthrough: PbOperation.PASSTHROUGH,
};

/** A plan as RouteService explains it (chat and embeddings plans alike). */
function planToPb(p: Plan): RouteResponse {
  return create(RouteResponseSchema, {
    routing: p.routing,
    candidates: p.candidates.map((c, i) => ({
      position: i + 1,
      deployment: c.deployment.id,
      provider: c.provider.name,
      model: c.deployment.model,
      reason: c.reason,
      score: c.score,
      expectedCostNanoUsd: BigInt(c.expectedCostNanos),
      ttftMsEstimate: c.ttftEstimateMs,
      latencyMsEstimate: c.latencyEstimateMs,
      source: c.source,
      adjustments: c.adjustments,
    })),
    excluded: p.excluded.map((e) => ({
      deployment: e.deployment,
      reason: EXCLUSION[e.reason],
      detail: e.detail,
      until: e.until !== undefined ? timestampFromMs(e.until) : undefined,
    })),
    estimatedInputTokens: p.estimatedInputTokens,
    noFallback: p.noFallback,
    hedgeAfterMs: p.hedgeAfterMs,
    maxAttempts: p.maxAttempts,
    adjustments: p.adjustments,
    operation: OPERATION_TO_PB[p.operation],
  });
}

/** Only the host (and port) of an MCP server's URL: its path and query may carry a token. */
function urlHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}

/**
 * An MCP server as ListMcpServers shows it: its configuration without URL path, query or headers;
 * with `withTools`, its tools the caller may call as the hub lists them (cached a minute), or why they could not be.
 */
async function mcpServerToPb(hub: McpHub, caller: Caller, s: McpServerConfig, withTools: boolean): Promise<MessageInitShape<typeof McpServerSchema>> {
  const out: MessageInitShape<typeof McpServerSchema> = {
    id: s.id,
    description: s.description ?? "",
    urlHost: s.url ? urlHost(s.url) : "",
    transport: s.url ? "http" : "stdio",
    teams: s.teams ?? [],
    allowedTools: s.tools ?? [],
    timeoutMs: s.timeoutMs,
    pricePerCallNanoUsd: BigInt(s.pricePerCallNanos ?? 0),
  };
  if (!withTools) return out;
  try {
    const tools = await hub.toolsFor(caller, s);
    out.tools = tools.map((t) => ({
      name: t.name,
      description: t.description ?? "",
      // Through JSON: a Struct holds JSON values only.
      inputSchema: JSON.parse(JSON.stringify(t.inputSchema ?? {})) as JsonObject,
    }));
  } catch (err) {
    // The hub's errors name the server, never its URL's path or credentials; anything else is not shown.
    out.error = err instanceof GatewayError ? err.message : `MCP server "${s.id}": the tools could not be listed`;
  }
  return out;
}

export function routeService(core: GatewayCore): Partial<ServiceImpl<typeof RouteService>> {
  return {
    async route(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = checkedChatCall(req, ri.id, ctx.values.get(callerKey), false, core.control.prompts);
        // A preset's model is what is planned (as the engine does before planning).
        applyPresetToCall(call, core.config.presets);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeEmbedding(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toEmbedCall(req, ri.id, ctx.values.get(callerKey));
        validateEmbedCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeRerank(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toRerankCall(req, ri.id, ctx.values.get(callerKey));
        validateRerankCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeImages(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toImageCall(req, ri.id, ctx.values.get(callerKey));
        validateImageCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeTranscription(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toTranscriptionCall(req, ri.id, ctx.values.get(callerKey));
        validateTranscriptionCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeSpeech(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toSpeechCall(req, ri.id, ctx.values.get(callerKey));
        validateSpeechCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeModeration(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toModerationCall(req, ri.id, ctx.values.get(callerKey));
        validateModerationCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeSearch(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toSearchCall(req, ri.id, ctx.values.get(callerKey));
        validateSearchCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async routeOcr(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toOcrCall(req, ri.id, ctx.values.get(callerKey));
        validateOcrCall(call);
        return planToPb(core.plan(call));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async listModels() {
      const cfg = core.registry.config;
      const snap = core.exec.health.snapshot();
      const checks = await core.exec.health.lastChecks();
      return create(ListModelsResponseSchema, {
        // The listed deployments, then those wildcard deployments made so far (openai/gpt-4.1).
        deployments: [...cfg.deployments, ...core.registry.made()].map((d) => {
          const h = snap.get(d.id);
          const cooling = h?.cooldownUntil !== undefined && h.cooldownUntil > snap.now;
          const state = cooling
            ? DeploymentHealth_State.COOLING_DOWN
            : h?.awaitingProbe
              ? DeploymentHealth_State.PROBING
              : DeploymentHealth_State.HEALTHY;
          return {
            id: d.id,
            provider: d.provider,
            providerType: core.registry.provider(d.provider)!.type,
            model: d.model,
            pricing: {
              inputMicroUsdPerMtok: BigInt(d.pricing.input),
              cachedInputMicroUsdPerMtok: BigInt(d.pricing.cachedInput),
              cacheWriteMicroUsdPerMtok: BigInt(d.pricing.cacheWrite),
              outputMicroUsdPerMtok: BigInt(d.pricing.output),
              reasoningMicroUsdPerMtok: BigInt(d.pricing.reasoning),
              source: d.pricing.source,
              cacheWrite1hMicroUsdPerMtok: BigInt(d.pricing.cacheWrite1h ?? d.pricing.cacheWrite),
              perRequestNanoUsd: BigInt(d.pricing.perRequestNanos ?? 0),
              tiers: (d.pricing.tiers ?? []).map((t) => ({
                aboveInputTokens: BigInt(t.aboveInputTokens),
                inputMicroUsdPerMtok: BigInt(t.input),
                cachedInputMicroUsdPerMtok: BigInt(t.cachedInput),
                cacheWriteMicroUsdPerMtok: BigInt(t.cacheWrite),
                cacheWrite1hMicroUsdPerMtok: BigInt(t.cacheWrite1h ?? t.cacheWrite),
                outputMicroUsdPerMtok: BigInt(t.output),
                reasoningMicroUsdPerMtok: BigInt(t.reasoning),
              })),
            },
            contextWindow: d.contextWindow,
            maxOutputTokens: d.maxOutputTokens,
            capabilities: d.capabilities.map((c) => CAPABILITY_TO_PB[c]),
            operations: d.operations.map((o) => OPERATION_TO_PB[o]),
            strengths: d.strengths.map((t) => TASK_TO_PB[t]),
            quality: d.quality,
            health: {
              state,
              cooldownUntil: cooling ? timestampFromMs(h!.cooldownUntil!) : undefined,
              consecutiveFailures: h?.consecutiveFailures ?? 0,
              ttftMs: h?.ttftMs,
              latencyMs: h?.latencyMs,
              inFlight: h?.inFlight ?? 0,
              lastFailureKind: h?.lastFailureKind ? FAILURE_TO_PB[h.lastFailureKind] : 0,
              lastCheck: checks.has(d.id) ? checkToPb(checks.get(d.id)!) : undefined,
            },
            spendCaps: (core.spendCaps?.standing(d) ?? []).map((c) => ({
              scope: c.scope,
              period: c.period,
              limitNanoUsd: BigInt(c.limitNanos),
              spentNanoUsd: BigInt(c.spentNanos),
              over: c.over,
              resetTime: timestampFromMs(c.resetAt),
            })),
          };
        }),
        aliases: Object.entries(cfg.aliases).map(([name, target]) => ({ name, target })),
        routes: cfg.routes.map((r) => ({
          name: r.name,
          description: r.description,
          strategy: r.strategy,
          targets: r.targets,
          fallbacks: r.fallbacks,
          variants: r.variants,
          maxAttempts: r.maxAttempts,
          hedgeAfterMs: r.hedgeAfterMs,
          noFallback: r.noFallback,
          cacheEnabled: r.cache.enabled,
          conditions: r.conditions.map((c) => ({ target: c.target, when: Object.entries(c.when).map(([field, values]) => ({ field, values })) })),
          semanticCacheEmbedding: r.cache.semantic?.embedding ?? "",
          ...(r.mirror ? { mirror: { target: r.mirror.target, percent: r.mirror.percent, maxInFlight: r.mirror.maxInFlight, judge: r.mirror.judge ?? "", embedding: r.mirror.embedding ?? "" } } : {}),
        })),
      });
    },

    async listMcpServers(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const caller = ctx.values.get(callerKey);
        const servers = core.mcp.serversFor(caller);
        // Each server's tools listed at once: a slow or unreachable one holds up only itself.
        return create(ListMcpServersResponseSchema, { servers: await Promise.all(servers.map((s) => mcpServerToPb(core.mcp, caller, s, req.includeTools))) });
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
