// Moderation, the engine's seventh operation: texts (and images) classified against content policy
// categories. The same plan, admission, execution (retries, fallbacks, cooldowns, attempt spans),
// usage record and settlement as every other operation. No guardrails run on it (what would they
// guard: the text is being judged, not sent to a model), and nothing is cached.

import { executeModeration } from "../router/execute.ts";
import type { ModerationCall } from "../router/types.ts";
import type { ModerationVerdict } from "../providers/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { EngineParts } from "./chat-engine.ts";

export interface ModerationEngineRequest {
  call: ModerationCall;
  ri: RequestInfo;
  signal: AbortSignal;
  statusOf(err: unknown): string;
}

export interface ModerationAnswer extends AnswerAccount {
  results: ModerationVerdict[];
}

export function moderationOperation(e: EngineParts): (r: ModerationEngineRequest) => Promise<ModerationAnswer> {
  return (r) =>
    operationFrame(e, r, async (f) => {
      await f.admit();
      const out = await executeModeration(r.call, f.plan, r.signal, f.exec, f.ex);
      const c = f.ex.deployment!;
      f.ok();
      return { ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }), results: out.results };
    });
}
