// Rerank, the engine's third operation: a query and documents in, the documents ordered by
// relevance out. The same plan (routes, aliases, strategies, allow lists), admission (limits and
// budgets), execution (retries, fallbacks, cooldowns, attempt spans), usage record and settlement
// as chat and embeddings; the input guardrails scan the query and every document before anything
// leaves the gateway. Cached like chat answers, when the route (or the request) turns the cache
// on: a ranking is stored whole under its request (query, documents in order, top_n), looked up
// while admission runs, and a hit answers with the scores the provider gave, at no cost. The input
// guardrails run first either way: a block answers nothing, not even from the cache.

import { trace } from "@opentelemetry/api";
import { answerTarget, rankingKey, type CachedRanking } from "../cache/cache.ts";
import { guardEmbedInput } from "../guardrails/engine.ts";
import { executeRerank } from "../router/execute.ts";
import type { RerankCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { CacheMode, CacheStatus, EngineParts } from "./chat-engine.ts";

export interface RerankEngineRequest {
  call: RerankCall;
  ri: RequestInfo;
  signal: AbortSignal;
  cache?: { mode: CacheMode; ttlSeconds?: number };
  /** The status name a failed request is recorded with. */
  statusOf(err: unknown): string;
}

/** What both rerank front doors answer with. */
export interface RerankAnswer extends AnswerAccount {
  /** Best first, at most top_n: each document's position in the request and its relevance score. */
  results: { index: number; score: number }[];
  /** hit: answered from the cache; miss: looked up and not found; off, refresh, bypass as for chat. */
  cache: CacheStatus;
}

export function rerankOperation(e: EngineParts): (r: RerankEngineRequest) => Promise<RerankAnswer> {
  const { core, cache } = e;

  return (r) =>
    operationFrame(e, r, async (f) => {
      const { call, ri } = r;
      const { plan, ex } = f;
      const cp = e.cachePolicy(call, r.cache, plan);
      let key = "";
      if (cp && (cp.lookup || cp.store)) {
        // As chat's key: rankings never cross routes, reloads that change them, or A/B variants.
        const q = call.request;
        key = rankingKey({
          scope: cp.scope,
          ...answerTarget(core.config, plan, call.model),
          query: q.query,
          documents: q.documents,
          topN: q.topN,
          maxTokensPerDoc: q.maxTokensPerDoc,
        });
      }
      const lookup = cp?.lookup ? cache.getRanking(key) : undefined;
      await f.admit();
      // Input guardrails over the query and each document: a block sends nothing; redactions
      // change what is sent (the indexes the caller gets back are unchanged).
      const guard = f.startGuard();
      const texts = [call.request.query, ...call.request.documents];
      const sending = guard ? await guardEmbedInput(guard, plan, texts, r.signal) : texts;
      const hit = lookup ? await lookup : undefined;
      const status: CacheStatus = hit ? "hit" : (cp?.status ?? "off");
      if (ri.otel && cp) trace.getSpan(ri.otel)?.setAttribute("signalbox.cache", status);
      const answer = (deployment: string, provider: string, providerModel: string, results: RerankAnswer["results"]): RerankAnswer => ({
        ...f.account({ deployment, provider, providerModel }),
        results,
        cache: status,
      });
      if (hit) {
        const served = { deployment: hit.deployment, provider: hit.provider, providerModel: hit.providerModel, finishReason: "stop" as const };
        e.servedFromCache(ex, served);
        f.ok(served);
        return answer(hit.deployment, hit.provider, hit.providerModel, hit.results);
      }
      const sent: RerankCall = sending === texts ? call : { ...call, request: { ...call.request, query: sending[0], documents: sending.slice(1) } };
      const out = await executeRerank(sent, plan, r.signal, f.exec, ex);
      const c = ex.deployment!;
      if (cp?.store) {
        const v: CachedRanking = { deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model, results: out.results, usage: ex.usage, storedAt: Date.now() };
        cache.setRanking(key, v, cp.ttlSeconds);
      }
      f.ok();
      return answer(c.deployment.id, c.provider.name, out.model, out.results);
    });
}
