// Image generation, the engine's fourth operation: a prompt in, images out. The same plan (routes,
// aliases, strategies, allow lists), admission (limits and budgets), execution (retries,
// fallbacks, cooldowns, attempt spans), usage record and settlement as chat, embeddings and
// rerank; the input guardrails scan the prompt before anything leaves the gateway (a redaction
// changes what is drawn from). Images are not cached: the same prompt is expected to draw anew.

import { guardEmbedInput } from "../guardrails/engine.ts";
import { executeImages } from "../router/execute.ts";
import type { ImageCall } from "../router/types.ts";
import type { GeneratedImage } from "../providers/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { EngineParts } from "./chat-engine.ts";

export interface ImageEngineRequest {
  call: ImageCall;
  ri: RequestInfo;
  signal: AbortSignal;
  /** The status name a failed request is recorded with. */
  statusOf(err: unknown): string;
}

/** What both image front doors answer with. */
export interface ImageAnswer extends AnswerAccount {
  created: number;
  images: GeneratedImage[];
  size?: string;
  quality?: string;
  background?: string;
  outputFormat?: string;
}

export function imagesOperation(e: EngineParts): (r: ImageEngineRequest) => Promise<ImageAnswer> {
  return (r) =>
    operationFrame(e, r, async (f) => {
      const { call } = r;
      await f.admit();
      // Input guardrails over the prompt: a block sends nothing; a redaction changes what is sent.
      const guard = f.startGuard();
      const sending = guard ? await guardEmbedInput(guard, f.plan, [call.request.prompt], r.signal) : undefined;
      const sent: ImageCall = sending && sending[0] !== call.request.prompt ? { ...call, request: { ...call.request, prompt: sending[0] } } : call;
      const out = await executeImages(sent, f.plan, r.signal, f.exec, f.ex);
      const c = f.ex.deployment!;
      f.ok();
      return {
        ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model }),
        created: out.created ?? Math.floor(Date.now() / 1000),
        images: out.images,
        ...(out.size ? { size: out.size } : {}),
        ...(out.quality ? { quality: out.quality } : {}),
        ...(out.background ? { background: out.background } : {}),
        ...(out.outputFormat ? { outputFormat: out.outputFormat } : {}),
      };
    });
}
