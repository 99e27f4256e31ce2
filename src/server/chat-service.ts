// ChatService: validate, then hand the call to the chat engine (the same one the OpenAI-compatible
// endpoint uses) and translate its answer and events into protobuf messages.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { CacheMode as PbCacheMode, ChatEventSchema, ChatService, type ChatEvent, type ChatRequest } from "../../gen/signalbox/v1/chat_pb.ts";
import { MAX_CACHE_TTL_SECONDS, type CacheMode, type ChatEngine, type EngineRequest } from "../engine/chat-engine.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey, type RequestInfo } from "./context.ts";
import type { PromptLibrary } from "../control/prompts.ts";
import { answerToResponse, attemptToPb, costToPb, deltasToPb, estimatedParts, finishToPb, checkedChatCall, usageToPb, passagesToPb } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateCacheTtl } from "./validate.ts";

/** A Connect code's name as usage records and checks say it: "deadline_exceeded", "unavailable". */
export const codeName = (c: Code) => Code[c].replace(/[A-Z]/g, (ch, i: number) => (i ? "_" : "") + ch.toLowerCase());

/**
 * The status a request ended with. When the caller's signal fired, the abort reason depends on
 * which side's timer won (stack notes), so the deadline is read from the context instead.
 */
export function statusOf(e: ConnectError | undefined, ctx: HandlerContext): string {
  if (ctx.signal.aborted) {
    // A client usually gives up on its own timer a moment before ours fires: close to the
    // deadline (250 ms, for a loaded machine) counts as the deadline.
    const left = ctx.timeoutMs();
    return left !== undefined && left <= 250 ? "deadline_exceeded" : "canceled";
  }
  return e ? codeName(e.code) : "ok";
}

export const CACHE_MODE: Record<number, CacheMode> = {
  [PbCacheMode.UNSPECIFIED]: "default",
  [PbCacheMode.USE]: "use",
  [PbCacheMode.BYPASS]: "bypass",
  [PbCacheMode.REFRESH]: "refresh",
};

export function chatService(engine: ChatEngine, prompts: PromptLibrary): Partial<ServiceImpl<typeof ChatService>> {
  function prepare(req: ChatRequest, ctx: HandlerContext, stream: boolean): EngineRequest {
    const ri: RequestInfo = ctx.values.get(requestInfoKey)!;
    const call = checkedChatCall(req, ri.id, ctx.values.get(callerKey), stream, prompts);
    validateCacheTtl("cache.ttl_seconds", req.cache?.ttlSeconds || undefined, MAX_CACHE_TTL_SECONDS);
    return {
      call,
      ri,
      signal: ctx.signal,
      cache: req.cache ? { mode: CACHE_MODE[req.cache.mode] ?? "default", ttlSeconds: req.cache.ttlSeconds || undefined } : undefined,
      statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
    };
  }

  return {
    async complete(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        return answerToResponse(await engine.complete(prepare(req, ctx, false)));
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },

    async *stream(req, ctx): AsyncGenerator<ChatEvent> {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        for await (const ev of engine.stream(prepare(req, ctx, true))) {
          if (ev.type === "delta") {
            yield deltasToPb(ev.events);
          } else if (ev.type === "start") {
            yield create(ChatEventSchema, {
              event: {
                case: "start",
                value: {
                  id: ev.id,
                  model: ev.model,
                  deployment: ev.deployment,
                  provider: ev.provider,
                  providerModel: ev.providerModel,
                  routing: ev.routing,
                  adjustments: ev.adjustments,
                  traceId: ev.traceId,
                  priorAttempts: ev.priorAttempts.map(attemptToPb),
                  cacheHit: ev.cache === "hit" || ev.cache === "semantic" || ev.cache === "shared",
                  cacheSimilarity: ev.cacheSimilarity,
                  ...(ev.fileSearch ? { filePassages: passagesToPb(ev.fileSearch) } : {}),
                },
              },
            });
          } else {
            const s = ev.summary;
            yield create(ChatEventSchema, {
              event: {
                case: "finish",
                value: {
                  finishReason: finishToPb(s.finishReason),
                  rawFinishReason: s.rawFinishReason ?? "",
                  usage: usageToPb(s.usage, s.usageEstimated, estimatedParts(s.attempts)),
                  cost: costToPb(s.cost),
                  attempts: s.attempts.map(attemptToPb),
                  timing: { latencyMs: s.latencyMs, ttftMs: s.ttftMs, overheadUs: s.overheadUs },
                  providerModel: s.providerModel,
                  adjustments: s.adjustments ?? [],
                  ...(s.citations ? { citations: s.citations } : {}),
                },
              },
            });
          }
        }
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
