// Search, the engine's ninth operation: queries in, the pages search engines found out (Exa,
// Tavily, Perplexity, Brave, SearXNG, the mock). The same plan (routes, aliases, strategies, allow
// lists), admission (limits and budgets: a search's price is held like a model's), execution
// (retries, fallbacks, cooldowns, attempt spans), usage record and settlement as every other
// operation. The input guardrails scan the queries before anything leaves the gateway: a block
// searches nothing, a redaction changes what is searched (and says so in the adjustments).
// Searches are cached only when the route's cache is on (or the request asks): what the web says
// changes, so a route that caches them chooses for how long. A search is stored whole under its
// request (queries in order, every filter), looked up while admission runs, and a hit answers with
// the pages the engine found, at no cost. The input guardrails run first either way.

import { trace } from "@opentelemetry/api";
import { answerTarget, searchKey, type CachedSearch } from "../cache/cache.ts";
import { guardEmbedInput } from "../guardrails/engine.ts";
import type { SearchHit } from "../providers/types.ts";
import { executeSearch } from "../router/execute.ts";
import { searchContent } from "../usage/content.ts";
import type { SearchCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { CacheMode, CacheStatus, EngineParts } from "./chat-engine.ts";

export interface SearchEngineRequest {
  call: SearchCall;
  ri: RequestInfo;
  signal: AbortSignal;
  cache?: { mode: CacheMode; ttlSeconds?: number };
  statusOf(err: unknown): string;
}

export interface SearchAnswer extends AnswerAccount {
  /** Each query's results, in query order (`query`: the query's index, absent for the first). */
  results: SearchHit[];
  /** hit: answered from the cache; miss: looked up and not found; off, refresh, bypass as for chat. */
  cache: CacheStatus;
}

export function searchOperation(e: EngineParts): (r: SearchEngineRequest) => Promise<SearchAnswer> {
  const { core, cache } = e;

  return (r) =>
    operationFrame(e, r, async (f) => {
      const { plan, ex } = f;
      const cp = e.cachePolicy(r.call, r.cache, plan);
      // As chat's key: searches never cross routes, reloads that change them, or A/B variants.
      const key = cp && (cp.lookup || cp.store) ? searchKey({ scope: cp.scope, ...answerTarget(core.config, plan, r.call.model), request: r.call.request }) : "";
      const lookup = cp?.lookup ? cache.getSearch(key) : undefined;
      await f.admit();
      const guard = f.startGuard();
      const queries = r.call.request.queries;
      const sending = guard ? await guardEmbedInput(guard, plan, queries, r.signal) : queries;
      const hit = lookup ? await lookup : undefined;
      const status: CacheStatus = hit ? "hit" : (cp?.status ?? "off");
      if (r.ri.otel && cp) trace.getSpan(r.ri.otel)?.setAttribute("signalbox.cache", status);
      // The exports that capture content keep what was searched and found.
      const capture = e.captureChars(r.call);
      const content = (results: SearchHit[]) => (capture === undefined ? undefined : searchContent(sending, results, capture));
      if (hit) {
        const served = { deployment: hit.deployment, provider: hit.provider, providerModel: hit.providerModel, finishReason: "stop" as const };
        e.servedFromCache(ex, served);
        f.ok(served, content(hit.results));
        return { ...f.account(served), results: hit.results, cache: status };
      }
      const call: SearchCall = sending === queries ? r.call : { ...r.call, request: { ...r.call.request, queries: [...sending] } };
      const out = await executeSearch(call, plan, r.signal, f.exec, ex);
      const c = ex.deployment!;
      // What was searched is what is stored: a redacted query's pages are not the original's.
      if (cp?.store && sending === queries) {
        const v: CachedSearch = { deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model, results: out.results, usage: ex.usage, storedAt: Date.now() };
        cache.setSearch(key, v, cp.ttlSeconds);
      }
      f.ok(undefined, content(out.results));
      return { ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }), results: out.results, cache: status };
    });
}
