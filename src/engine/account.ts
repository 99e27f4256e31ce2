// The operations other than chat (embeddings, rerank, images): the frame they run in (plan,
// guardrail selection, admission, record, settlement) and what every answer reports besides its
// payload, built once from the execution (the Connect services translate it with one function,
// server/convert.ts accountToPb).

import { startRun, type GuardrailRun } from "../guardrails/engine.ts";
import type { Admission } from "../limits/admission.ts";
import type { RateStanding } from "../limits/types.ts";
import type { Usage } from "../providers/types.ts";
import { newExecution, type ExecuteDeps, type Execution } from "../router/execute.ts";
import type { Adjustment, AttemptRecord, Call, Plan, RoutingInfo } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { RequestContent } from "../usage/record.ts";
import type { EngineParts, Served } from "./chat-engine.ts";

export interface AnswerAccount {
  id: string;
  /** The model the caller asked for. */
  model: string;
  deployment: string;
  provider: string;
  providerModel: string;
  usage: Usage;
  usageEstimated: boolean;
  cost: CostBreakdown;
  attempts: AttemptRecord[];
  latencyMs: number;
  overheadUs: number;
  routing: RoutingInfo;
  adjustments: Adjustment[];
  traceId: string;
  /** Where the caller's rate limits stand after this request (x-ratelimit-* headers); absent without limits. */
  limits?: RateStanding[];
}

/** The account of a finished execution, for the deployment that answered (or whose answer was cached). */
export function answerAccount(call: Call, ri: RequestInfo, plan: Plan, ex: Execution, served: { deployment: string; provider: string; providerModel: string }, limits?: RateStanding[]): AnswerAccount {
  return {
    ...(limits?.length ? { limits } : {}),
    id: call.id,
    model: call.model,
    deployment: served.deployment,
    provider: served.provider,
    providerModel: served.providerModel,
    usage: ex.usage,
    usageEstimated: ex.usageEstimated,
    cost: ex.cost,
    attempts: ex.attempts,
    latencyMs: ex.latencyMs,
    overheadUs: Math.max(0, ex.overheadUs),
    routing: plan.routing,
    adjustments: plan.adjustments,
    traceId: ri.traceId,
  };
}


/** What an operation's body is given by `operationFrame`. */
export interface OperationFrame {
  ex: Execution;
  /** Read in the same synchronous step as planning: a config reload swaps both at once. */
  exec: ExecuteDeps;
  plan: Plan;
  /** Admission (limits and budgets): called once by the body, where its own work (a cache lookup) should overlap it; the admission, when any check applies. */
  admit(): Promise<Admission | undefined>;
  /** The request's guardrails, started after admission; undefined when none apply. */
  startGuard(): GuardrailRun | undefined;
  /** The account of the answer, for the deployment that served it. */
  account(served: { deployment: string; provider: string; providerModel: string }): AnswerAccount;
  /** Record the request as answered (`served`: from the cache, by that deployment; `content`: what the exports that capture it keep). */
  ok(served?: Served, content?: RequestContent): void;
}

/**
 * The frame every operation but chat runs in: a fresh execution, the plan (traced), the guardrails
 * the request names checked before any state round trip, then the body; a failure is recorded
 * with its status, and the admission settled whatever happens.
 */
export async function operationFrame<A>(e: EngineParts, r: { call: Call; ri: RequestInfo; statusOf(err: unknown): string }, body: (f: OperationFrame) => Promise<A>): Promise<A> {
  const { call, ri } = r;
  const ex = newExecution(ri.arrivedAt);
  let plan: Plan | undefined;
  let admission: Admission | undefined;
  let guard: GuardrailRun | undefined;
  try {
    const exec = e.core.exec;
    const guardrails = e.core.guardrails;
    const p = (plan = await e.planTraced(call, ri, ex));
    // Before any state round trip: a guardrail the request names must exist.
    const selected = guardrails.select(call, p.routing.route);
    return await body({
      ex,
      exec,
      plan: p,
      admit: async () => (admission = await e.admitTraced(call, ri, p)),
      startGuard: () => (guard = selected && startRun(selected)),
      account: (served) => answerAccount(call, ri, p, ex, served, admission?.rates),
      ok: (served, content) => e.record(r, p, ex, "ok", undefined, served, guard, content),
    });
  } catch (err) {
    e.record(r, plan, ex, r.statusOf(err), err, undefined, guard);
    throw err;
  } finally {
    e.settle(admission, ex);
  }
}
