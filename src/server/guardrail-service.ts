// GuardrailService: the configuration's guardrails listed, and named ones run on a text without a
// model call (src/guardrails/engine.ts applyGuardrails), for any caller with a key: the same
// checks a request's text gets, so a guardrail can be tried before a route attaches it, and an
// application can screen text it handles itself. LiteLLM's /guardrails/list and
// /guardrails/apply_guardrail (src/compat/litellm.ts) answer from the same two functions.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ApplyGuardrailsResponseSchema, GuardrailService, GuardrailStage, ListGuardrailsResponseSchema } from "../../gen/signalbox/v1/guardrail_pb.ts";
import type { GatewayCore } from "../gateway.ts";
import { applyGuardrails } from "../guardrails/engine.ts";
import type { GuardrailStage as Stage } from "../guardrails/types.ts";
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
