// EmbeddingService: validate, then hand the call to the engine's embeddings operation (the same
// one /v1/embeddings uses) and translate its answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { EmbeddingEncoding, EmbedResponseSchema, EmbeddingService, type EmbedResponse } from "../../gen/signalbox/v1/embedding_pb.ts";
import { MAX_CACHE_TTL_SECONDS, type ChatEngine } from "../engine/chat-engine.ts";
import type { EmbedAnswer } from "../engine/embed.ts";
import { callerKey } from "./auth.ts";
import { CACHE_MODE, statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toEmbedCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { toFloat32le } from "../providers/vectors.ts";
import { validateCacheTtl, validateEmbedCall } from "./validate.ts";

export function embedAnswerToPb(a: EmbedAnswer, packed: boolean): EmbedResponse {
  return create(EmbedResponseSchema, {
    ...accountToPb(a),
    embeddings: a.embeddings.map((v, index) => (packed ? { index, packed: toFloat32le(v), cacheHit: a.cached[index] } : { index, values: Array.from(v), cacheHit: a.cached[index] })),
    cachedInputs: a.cached.filter(Boolean).length,
    dimensions: a.embeddings[0]?.length ?? 0,
  });
}

export function embeddingService(engine: ChatEngine): Partial<ServiceImpl<typeof EmbeddingService>> {
  return {
    async embed(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toEmbedCall(req, ri.id, ctx.values.get(callerKey));
        validateEmbedCall(call);
        validateCacheTtl("cache.ttl_seconds", req.cache?.ttlSeconds || undefined, MAX_CACHE_TTL_SECONDS);
        const a = await engine.embed({
          call,
          ri,
          signal: ctx.signal,
          cache: req.cache ? { mode: CACHE_MODE[req.cache.mode] ?? "default", ttlSeconds: req.cache.ttlSeconds || undefined } : undefined,
          statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
        });
        return embedAnswerToPb(a, req.encoding === EmbeddingEncoding.BASE64);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
