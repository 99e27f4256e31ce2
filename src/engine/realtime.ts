// Realtime sessions, the engine's eighth operation: a WebSocket session with a provider's Realtime
// API (/v1/realtime), or a WebRTC call watched over its sideband (/v1/realtime/calls). Planned, admitted and opened once, with the same plan (routes, aliases,
// strategies, allow lists), admission (rate limits count the session as one request; its budget
// hold grows with the session), fallbacks on a refused handshake, attempt span and usage record as
// every other operation; then the caller's and the provider's events are relayed as they are
// (compat/realtime.ts) and every `response.done` the provider sends is metered, and every
// transcription of the caller's audio at its own model's prices. The session is one usage record,
// written when it ends, with the usage of all its responses.
//
// Guardrails read whole requests and answers; a session's events are relayed as they come, so a
// session that any guardrail applies to (the route's, the team's, the key's, a mandatory one, or
// one it names) is refused rather than let through unchecked.

import { GatewayError } from "../router/errors.ts";
import { executeRealtime } from "../router/execute.ts";
import type { RealtimeCall, RoutingInfo } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { periodBounds } from "../limits/periods.ts";
import { extendHold, usd, type Admission } from "../limits/admission.ts";
import type { Limiter } from "../limits/types.ts";
import type { RealtimeLink } from "../providers/realtime.ts";
import type { ProviderError, Usage } from "../providers/types.ts";
import { operationFrame, type AnswerAccount } from "./account.ts";
import type { EngineParts } from "./chat-engine.ts";
import type { Pricing } from "../config/types.ts";
import { lookupModel } from "../config/catalog.ts";
import { resolvePricing } from "../config/pricing.ts";
import { log } from "../telemetry/log.ts";

/** An open session, as the relay sees it. */
export interface RealtimeSession {
  link: RealtimeLink;
  deployment: string;
  provider: string;
  providerModel: string;
  routing: RoutingInfo;
  /**
   * Count one response's usage (a `response.done`), or with `transcriptionModel` a transcription
   * of the caller's audio, billed at that model's prices (a deployment of the same provider
   * connection serving it, else the catalog's). A promise when the session's budget hold had to
   * grow first; it rejects (resource_exhausted) when a budget has no room left, and the relay then
   * ends the session.
   */
  meter(u: Usage, transcriptionModel?: string): Promise<void> | undefined;
}

/** How a session ended, as the relay saw it. */
export interface RealtimeEnd {
  /** The provider's side failed (closed without a close frame, or with an error code). */
  providerError?: ProviderError;
  /** The gateway ended it (a budget ran out). */
  gatewayError?: GatewayError;
  /** Responses the provider completed. */
  responses: number;
  /** The model transcribing the caller's audio, as the session's configuration last said. */
  transcriptionModel?: string;
  /** Transcriptions metered. */
  transcriptions?: number;
  /** A transcription session (intent=transcription): its transcriptions are its own usage. */
  transcriptionSession?: boolean;
}

export interface RealtimeEngineRequest {
  call: RealtimeCall;
  ri: RequestInfo;
  signal: AbortSignal;
  statusOf(err: unknown): string;
  /** The caller's headers the provider is sent (OpenAI-Beta). */
  headers: Record<string, string>;
  /** The provider took the session: relay it; resolves when it is over. */
  relay(s: RealtimeSession): Promise<RealtimeEnd>;
}

export interface RealtimeAnswer extends AnswerAccount {
  responses: number;
}

/** Longest a session's budget hold is kept without a settlement (OpenAI ends sessions at 60 minutes). */
const SESSION_HOLD_MS = 65 * 60_000;

export function realtimeOperation(e: EngineParts): (r: RealtimeEngineRequest) => Promise<RealtimeAnswer> {
  return (r) =>
    operationFrame(e, r, async (f) => {
      const guard = f.startGuard();
      if (guard) {
        const names = guard.selection.guardrails.map((g) => g.name).join(", ");
        throw new GatewayError("failed_precondition", `guardrails apply to this request (${names}); a realtime session's events are relayed as they come and cannot be checked, so the session is refused`, { field: "model" });
      }
      // The hold outlives the handshake: it is kept (and grown) for the session's life.
      f.plan.timeouts = { ...f.plan.timeouts, totalMs: Math.max(f.plan.timeouts.totalMs, SESSION_HOLD_MS - 120_000) };
      const admission = await f.admit();
      const opened = await executeRealtime(r.call, f.plan, r.signal, f.exec, f.ex, r.headers);
      const c = opened.candidate;
      let spent = 0;
      const unpriced = new Set<string>();
      let end: RealtimeEnd | undefined;
      try {
        end = await r.relay({
          link: opened.link,
          deployment: c.deployment.id,
          provider: c.provider.name,
          providerModel: c.deployment.model,
          routing: f.plan.routing,
          meter(u, transcriptionModel) {
            if (transcriptionModel === undefined) spent += opened.meter(u).total;
            else {
              const p = transcriptionPricing(e, c.provider.name, transcriptionModel);
              if (!p) {
                if (!unpriced.has(transcriptionModel)) log("warn", "realtime: a transcription model has no price (neither a deployment of the provider nor the catalog): its transcriptions are not billed", { model: transcriptionModel, deployment: c.deployment.id });
                unpriced.add(transcriptionModel);
                return undefined;
              }
              spent += opened.meterFee(u, p).total;
            }
            if (!admission || admission.request.budgets.length === 0 || spent <= admission.holdNanos) return undefined;
            return growHold(e.core.limits, admission, spent);
          },
        });
      } finally {
        opened.end(end?.providerError);
      }
      if (end.gatewayError) throw end.gatewayError;
      if (end.providerError) throw new GatewayError("unavailable", `realtime session with ${c.deployment.id} ended: ${end.providerError.message}`, { failureKind: end.providerError.kind, attempts: f.ex.attempts, usage: f.ex.usage, usageEstimated: false, cost: f.ex.cost }, end.providerError);
      f.ok();
      return { ...f.account({ deployment: c.deployment.id, provider: c.provider.name, providerModel: c.deployment.model }), responses: end.responses };
    });
}

/** The prices of a transcription model a session uses: a deployment of the same provider connection serving it (Azure names its own), else the catalog's. */
function transcriptionPricing(e: EngineParts, provider: string, model: string): Pricing | undefined {
  const d = e.core.registry.config.deployments.find((x) => x.provider === provider && x.model === model);
  if (d) return d.pricing;
  const cat = lookupModel(model);
  return cat ? resolvePricing(cat, undefined).pricing : undefined;
}

/**
 * Grow a session's budget hold to cover what it has spent, and a quarter more for what comes next
 * (one limiter round trip per step); a budget without room ends the session.
 */
async function growHold(limiter: Limiter, a: Admission, spent: number): Promise<void> {
  const step = Math.ceil(Math.max(a.holdNanos / 4, spent - a.holdNanos + a.holdNanos / 4));
  const req = a.request;
  const r = await extendHold(limiter, a, step);
  if (r.ok) return;
  const b = req.budgets[r.index];
  throw new GatewayError(
    "resource_exhausted",
    `budget exhausted during a realtime session: ${b.describe}: spent ${usd(r.spentNanos)}, ${usd(r.reservedNanos)} held by requests in flight; the session has cost ${usd(spent)}; resets ${new Date(periodBounds(b.period, req.now).end).toISOString()}`,
    { retryAfterMs: Math.max(1000, periodBounds(b.period, req.now).end - Date.now()), refusal: "budget" },
  );
}
