// Embeddings, the engine's second operation: the same plan, admission, cache, execution, usage
// record and settlement as chat (chat-engine.ts hands its steps over), with the cache per input:
// each input's vector is stored under (scope, deployment, dimensions, input type, text), a batch
// looks all of its inputs up alongside admission, and only the inputs without a vector go upstream.
// Guardrails run their input stage on the texts before anything is answered, cached or not.

import { trace } from "@opentelemetry/api";
import { answerIdentity, embeddingKey, packVector, unpackVector, type CachedVector } from "../cache/cache.ts";
import { guardEmbedInput } from "../guardrails/engine.ts";
import { executeEmbed } from "../router/execute.ts";
import type { Candidate, EmbedCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { CacheMode, CacheStatus, EngineParts } from "./chat-engine.ts";

export interface EmbedEngineRequest {
  call: EmbedCall;
  ri: RequestInfo;
  signal: AbortSignal;
  cache?: { mode: CacheMode; ttlSeconds?: number };
  /** The status name a failed request is recorded with. */
  statusOf(err: unknown): string;
}

/** What both embeddings front doors answer with. */
export interface EmbedAnswer extends AnswerAccount {
  /** The deployment whose vectors these are (all of them: cached vectors of another model are never mixed in). */
  deployment: string;
  /** One per input, in input order. */
  embeddings: Float32Array[];
  /** Per input: answered from the cache. */
  cached: boolean[];
  /** hit: every input cached; miss: looked up (some may have hit); off, refresh, bypass as for chat. */
  cache: CacheStatus;
}

export function embedOperation(e: EngineParts): (r: EmbedEngineRequest) => Promise<EmbedAnswer> {
  const { core, cache } = e;

  return (r) =>
    operationFrame(e, r, async (f) => {
      const { call, ri } = r;
      const inputs = call.request.inputs;
      const { plan, ex } = f;
      const cp = e.cachePolicy(call, r.cache, plan);
      // The deployment's identity is part of the key: a reload that gives the id another model
      // never serves the old model's vectors.
      const config = core.config;
      const keyFor = (deployment: string) => {
        const who = `${deployment}\n${answerIdentity(config, deployment)}`;
        return (input: string) => embeddingKey({ scope: cp!.scope, deployment: who, dimensions: call.request.dimensions, inputType: call.request.inputType, input });
      };
      // The vectors of the deployment the plan tries first; looked up while admission runs.
      const primary: Candidate = plan.candidates[0];
      const lookup = cp?.lookup ? cache.getVectors(inputs.map(keyFor(primary.deployment.id))) : undefined;
      await f.admit();
      // Input guardrails: a block answers nothing, not even from the cache; redactions change
      // what is sent (the cache stays keyed on the inputs as the caller sent them, as for chat).
      const guard = f.startGuard();
      const sending = guard ? await guardEmbedInput(guard, plan, inputs, r.signal) : inputs;
      const found = lookup ? await lookup : [];
      const hits = inputs.map((_, i) => found[i]);
      const missing = inputs.flatMap((_, i) => (hits[i] ? [] : [i]));
      let status: CacheStatus = cp?.status ?? "off";
      if (cp?.lookup && missing.length === 0) status = "hit";
      if (ri.otel && cp) trace.getSpan(ri.otel)?.setAttributes({ "signalbox.cache": status, "signalbox.cache.inputs_hit": inputs.length - missing.length });

      const answer = (deployment: string, provider: string, providerModel: string, embeddings: Float32Array[], cached: boolean[]): EmbedAnswer => ({
        ...f.account({ deployment, provider, providerModel }),
        embeddings,
        cached,
        cache: status,
      });

      if (missing.length === 0) {
        const first = hits[0]!;
        const served = { deployment: first.deployment, provider: first.provider, providerModel: first.providerModel, finishReason: "stop" as const };
        e.servedFromCache(ex, served);
        f.ok(served);
        return answer(first.deployment, first.provider, first.providerModel, hits.map((h) => unpackVector(h!.vector)), inputs.map(() => true));
      }

      // The primary sends only what its cache lacks; any other deployment embeds the whole batch
      // (the cached vectors are the primary's model's, not its own).
      const sent = sending === inputs ? call : { ...call, request: { ...call.request, inputs: [...sending] } };
      const out = await executeEmbed(sent, plan, r.signal, f.exec, ex, (c) => (c.deployment.id === primary.deployment.id ? missing : inputs.map((_, i) => i)));
      const c = ex.deployment!;
      const vectors: Float32Array[] = new Array(inputs.length);
      const cached = inputs.map(() => false);
      if (out.sent.length < inputs.length) {
        hits.forEach((h, i) => {
          if (h) {
            vectors[i] = unpackVector(h.vector);
            cached[i] = true;
          }
        });
      }
      out.sent.forEach((i, j) => (vectors[i] = out.embeddings[j]));
      if (cp?.store) {
        const key = keyFor(c.deployment.id);
        const storedAt = Date.now();
        out.sent.forEach((i, j) => {
          const v: CachedVector = { deployment: c.deployment.id, provider: c.provider.name, providerModel: out.model, vector: packVector(out.embeddings[j]), storedAt };
          cache.setVector(key(inputs[i]), v, cp.ttlSeconds);
        });
      }
      f.ok();
      return answer(c.deployment.id, c.provider.name, out.model, vectors, cached);
    });
}
