// RerankService: validate, then hand the call to the engine's rerank operation (the same one
// /v1/rerank uses) and translate its answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { RerankResponseSchema, RerankService, type RerankResponse } from "../../gen/signalbox/v1/rerank_pb.ts";
import { MAX_CACHE_TTL_SECONDS, type ChatEngine } from "../engine/chat-engine.ts";
import type { RerankAnswer } from "../engine/rerank.ts";
import { callerKey } from "./auth.ts";
import { CACHE_MODE, statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toRerankCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateCacheTtl, validateRerankCall } from "./validate.ts";

/** `documents`: the caller's own texts, when it asked for them back. */
export function rerankAnswerToPb(a: RerankAnswer, documents?: readonly string[]): RerankResponse {
  return create(RerankResponseSchema, {
    ...accountToPb(a),
    results: a.results.map((r) => ({ index: r.index, relevanceScore: r.score, ...(documents ? { document: documents[r.index] } : {}) })),
    cacheHit: a.cache === "hit",
  });
}

export function rerankService(engine: ChatEngine): Partial<ServiceImpl<typeof RerankService>> {
  return {
    async rerank(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toRerankCall(req, ri.id, ctx.values.get(callerKey));
        validateRerankCall(call);
        validateCacheTtl("cache.ttl_seconds", req.cache?.ttlSeconds || undefined, MAX_CACHE_TTL_SECONDS);
        const a = await engine.rerank({
          call,
          ri,
          signal: ctx.signal,
          cache: req.cache ? { mode: CACHE_MODE[req.cache.mode] ?? "default", ttlSeconds: req.cache.ttlSeconds || undefined } : undefined,
          statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
        });
        return rerankAnswerToPb(a, req.returnDocuments ? req.documents : undefined);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
