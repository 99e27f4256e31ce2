// Image generation, the engine's fourth operation: a prompt in, images out. The same plan (routes,
// aliases, strategies, allow lists), admission (limits and budgets), execution (retries,
// fallbacks, cooldowns, attempt spans), usage record and settlement as chat, embeddings and
// rerank; the input guardrails scan the prompt before anything leaves the gateway (a redaction
// changes what is drawn from). Images are not cached: the same prompt is expected to draw anew.

import { guardEmbedInput, startRun, type GuardrailRun } from "../guardrails/engine.ts";
import { executeImages, newExecution } from "../router/execute.ts";
import type { Adjustment, AttemptRecord, ImageCall, Plan, RoutingInfo } from "../router/types.ts";
import type { GeneratedImage, Usage } from "../providers/types.ts";
import type { RequestInfo } from "../server/context.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { Admission } from "../limits/admission.ts";
import type { EngineParts } from "./chat-engine.ts";

export interface ImageEngineRequest {
  call: ImageCall;
  ri: RequestInfo;
  signal: AbortSignal;
  /** The status name a failed request is recorded with. */
  statusOf(err: unknown): string;
}

/** What both image front doors answer with. */
export interface ImageAnswer {
  id: string;
  model: string;
  deployment: string;
  provider: string;
  providerModel: string;
  created: number;
  images: GeneratedImage[];
  size?: string;
  quality?: string;
  background?: string;
  outputFormat?: string;
  usage: Usage;
  usageEstimated: boolean;
  cost: CostBreakdown;
  attempts: AttemptRecord[];
  latencyMs: number;
  overheadUs: number;
  routing: RoutingInfo;
  adjustments: Adjustment[];
  traceId: string;
}

export function imagesOperation(e: EngineParts): (r: ImageEngineRequest) => Promise<ImageAnswer> {
  const { core } = e;

  return async function generateImages(r) {
    const { call, ri } = r;
    const ex = newExecution(ri.arrivedAt);
    let plan: Plan | undefined;
    let admission: Admission | undefined;
    let guard: GuardrailRun | undefined;
    try {
      // Read in the same synchronous step as planning: a config reload swaps both at once.
      const exec = core.exec;
      const guardrails = core.guardrails;
      plan = await e.planTraced(call, ri, ex);
      // Before any state round trip: a guardrail the request names must exist.
      const selected = guardrails.select(call, plan.routing.route);
      admission = await e.admitTraced(call, ri, plan);
      // Input guardrails over the prompt: a block sends nothing; a redaction changes what is sent.
      guard = selected && startRun(selected);
      const sending = guard ? await guardEmbedInput(guard, plan, [call.request.prompt], r.signal) : undefined;
      const sent: ImageCall = sending && sending[0] !== call.request.prompt ? { ...call, request: { ...call.request, prompt: sending[0] } } : call;
      const out = await executeImages(sent, plan, r.signal, exec, ex);
      const c = ex.deployment!;
      e.record(r, plan, ex, "ok", undefined, undefined, guard);
      return {
        id: call.id,
        model: call.model,
        deployment: c.deployment.id,
        provider: c.provider.name,
        providerModel: out.model,
        created: out.created ?? Math.floor(Date.now() / 1000),
        images: out.images,
        ...(out.size ? { size: out.size } : {}),
        ...(out.quality ? { quality: out.quality } : {}),
        ...(out.background ? { background: out.background } : {}),
        ...(out.outputFormat ? { outputFormat: out.outputFormat } : {}),
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
    } catch (err) {
      e.record(r, plan, ex, r.statusOf(err), err, undefined, guard);
      throw err;
    } finally {
      e.settle(admission, ex);
    }
  };
}
