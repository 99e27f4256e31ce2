// GuardrailService: the configuration's guardrails listed, and named ones run on a text without a
// model call (src/guardrails/engine.ts applyGuardrails), for any caller with a key (each check
// counted against its requests-per-minute limit, as a request is): the same
// checks a request's text gets, so a guardrail can be tried before a route attaches it, and an
// application can screen text it handles itself. LiteLLM's /guardrails/list and
// /guardrails/apply_guardrail (src/compat/litellm.ts) answer from the same two functions.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ApplyGuardrailsResponseSchema, GuardrailService, GuardrailStage, ListGuardrailsResponseSchema } from "../../gen/signalbox/v1/guardrail_pb.ts";
import type { GatewayCore } from "../gateway.ts";
import { applyGuardrails } from "../guardrails/engine.ts";
import type { GuardrailStage as Stage } from "../guardrails/types.ts";
import type { Caller } from "../router/types.ts";
import { refusal, toolAdmission } from "../limits/admission.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey } from "./context.ts";
import { toConnectError } from "./errors.ts";

const STAGE: Record<Stage, GuardrailStage> = { input: GuardrailStage.INPUT, output: GuardrailStage.OUTPUT };

export function guardrailService(core: GatewayCore): Partial<ServiceImpl<typeof GuardrailService>> {
  return {
    listGuardrails() {
      return create(ListGuardrailsResponseSchema, {
        guardrails: core.guardrails.all.map((g) => ({ name: g.name, kind: g.config.kind, stages: g.config.stages.map((s) => STAGE[s]), action: g.action, mandatory: g.config.mandatory })),
      });
    },
    async applyGuardrails(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        // A check is a request of the key's (its requests-per-minute and its end user's): webhooks
        // and partner services answer it, so a key cannot call them faster than it may call models.
        await admitCheck(core, ctx.values.get(callerKey), ri.id);
        const stage: Stage = req.stage === GuardrailStage.OUTPUT ? "output" : "input";
        const a = await applyGuardrails(core.guardrails, req.guardrails, stage, req.text, ctx.signal);
        const actions = a.actions.map((x) => ({ guardrail: x.name, stage: STAGE[x.stage], action: x.action, category: x.category, count: x.count }));
        return create(ApplyGuardrailsResponseSchema, a.blocked ? { blocked: true, blockedBy: a.guardrail, category: a.category, message: a.message, actions } : { blocked: false, text: a.text, actions });
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}

/**
 * Count a guardrail check against the caller key's requests-per-minute limit (no budget: a check
 * costs no tokens); a key over its limit is refused as a request would be.
 */
export async function admitCheck(core: GatewayCore, caller: Caller, requestId: string): Promise<void> {
  const adm = toolAdmission(core.control.directory, caller, undefined, requestId, 0, 10_000, Date.now());
  if (!adm || adm.request.rates.length === 0) return;
  const r = await core.limits.admit({ ...adm.request, budgets: [] });
  if (!r.ok) throw refusal(r);
}
