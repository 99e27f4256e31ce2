// Search, the engine's ninth operation: queries in, the pages search engines found out (Exa,
// Tavily, Perplexity, the mock). The same plan (routes, aliases, strategies, allow lists),
// admission (limits and budgets: a search's price is held like a model's), execution (retries,
// fallbacks, cooldowns, attempt spans), usage record and settlement as every other operation. The
// input guardrails scan the queries before anything leaves the gateway: a block searches nothing, a
// redaction changes what is searched (and says so in the adjustments). Nothing is cached: what the
// web says changes.

import { guardEmbedInput } from "../guardrails/engine.ts";
import type { SearchHit } from "../providers/types.ts";
import { executeSearch } from "../router/execute.ts";
import type { SearchCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { EngineParts } from "./chat-engine.ts";

export interface SearchEngineRequest {
  call: SearchCall;
  ri: RequestInfo;
  signal: AbortSignal;
  statusOf(err: unknown): string;
}

export interface SearchAnswer extends AnswerAccount {
  /** Each query's results, in query order (`query`: the query's index, absent for the first). */
  results: SearchHit[];
}

export function searchOperation(e: EngineParts): (r: SearchEngineRequest) => Promise<SearchAnswer> {
  return (r) =>
    operationFrame(e, r, async (f) => {
      await f.admit();
      const guard = f.startGuard();
      const queries = r.call.request.queries;
      const sending = guard ? await guardEmbedInput(guard, f.plan, queries, r.signal) : queries;
      const call: SearchCall = sending === queries ? r.call : { ...r.call, request: { ...r.call.request, queries: [...sending] } };
      const out = await executeSearch(call, f.plan, r.signal, f.exec, f.ex);
      const c = f.ex.deployment!;
      f.ok();
      return { ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }), results: out.results };
    });
}
