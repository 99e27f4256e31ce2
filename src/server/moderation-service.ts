// ModerationService: validate, then hand the call to the engine's moderation operation (the same
// one /v1/moderations uses) and translate its answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ModerateResponseSchema, ModerationService, type ModerateResponse } from "../../gen/signalbox/v1/moderation_pb.ts";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { ModerationAnswer } from "../engine/moderation.ts";
import { callerKey } from "./auth.ts";
import { statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toModerationCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateModerationCall } from "./validate.ts";

export function moderationToPb(a: ModerationAnswer): ModerateResponse {
  return create(ModerateResponseSchema, {
    ...accountToPb(a),
    results: a.results.map((r) => ({ flagged: r.flagged, categories: r.categories, categoryScores: r.scores })),
  });
}

export function moderationService(engine: ChatEngine): Partial<ServiceImpl<typeof ModerationService>> {
  return {
    async moderate(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toModerationCall(req, ri.id, ctx.values.get(callerKey));
        validateModerationCall(call);
        const a = await engine.moderate({ call, ri, signal: ctx.signal, statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx) });
        return moderationToPb(a);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
