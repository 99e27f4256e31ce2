// SearchService: validate, then hand the call to the engine's search operation (the same one
// /v1/search uses) and translate its answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { SearchResponseSchema, SearchService, type SearchResponse } from "../../gen/signalbox/v1/search_pb.ts";
import { MAX_CACHE_TTL_SECONDS, type ChatEngine } from "../engine/chat-engine.ts";
import type { SearchAnswer } from "../engine/search.ts";
import { callerKey } from "./auth.ts";
import { CACHE_MODE, statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toSearchCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateCacheTtl, validateSearchCall } from "./validate.ts";

export function searchToPb(a: SearchAnswer): SearchResponse {
  return create(SearchResponseSchema, {
    ...accountToPb(a),
    results: a.results.map((r) => ({ title: r.title, url: r.url, snippet: r.snippet, published: r.published ?? "", updated: r.updated ?? "", queryIndex: r.query ?? 0 })),
    cacheHit: a.cache === "hit",
  });
}

export function searchService(engine: ChatEngine): Partial<ServiceImpl<typeof SearchService>> {
  return {
    async search(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toSearchCall(req, ri.id, ctx.values.get(callerKey));
        validateSearchCall(call);
        validateCacheTtl("cache.ttl_seconds", req.cache?.ttlSeconds || undefined, MAX_CACHE_TTL_SECONDS);
        const cache = req.cache ? { mode: CACHE_MODE[req.cache.mode] ?? "default", ttlSeconds: req.cache.ttlSeconds || undefined } : undefined;
        const a = await engine.search({ call, ri, signal: ctx.signal, ...(cache ? { cache } : {}), statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx) });
        return searchToPb(a);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
