// Realtime sessions, the engine's eighth operation: a WebSocket session with a provider's Realtime
// API (/v1/realtime), or a WebRTC call watched over its sideband (/v1/realtime/calls). Planned, admitted and opened once, with the same plan (routes, aliases,
// strategies, allow lists), admission (rate limits count the session as one request; its budget
// hold is settled and taken afresh turn by turn), fallbacks on a refused handshake, attempt span and usage record as
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
import { periodBounds, resetText } from "../limits/periods.ts";
import { usd, type Admission } from "../limits/admission.ts";
import type { AdmissionRequest, Limiter } from "../limits/types.ts";
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
   * connection serving it, else the catalog's). A promise while the session's budgets are settled
   * for it and the next turn held (with budgets); it rejects (resource_exhausted) when a budget has
   * no room for the next turn, and the relay then ends the session.
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
      // The hold outlives the handshake: it is kept (and taken afresh turn by turn) for the session's life.
      f.plan.timeouts = { ...f.plan.timeouts, totalMs: Math.max(f.plan.timeouts.totalMs, SESSION_HOLD_MS - 120_000) };
      const admission = await f.admit();
      const opened = await executeRealtime(r.call, f.plan, r.signal, f.exec, f.ex, r.headers);
      const c = opened.candidate;
      // What the session spent since its last checkpoint, and the checkpoints in order.
      let unsettled = 0;
      let seq = 0;
      let checkpoints: Promise<void> = Promise.resolve();
      const initialHold = admission?.holdNanos ?? 0;
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
            let cost: number;
            if (transcriptionModel === undefined) cost = opened.meter(u).total;
            else {
              const p = transcriptionPricing(e, c.provider.name, transcriptionModel);
              if (!p) {
                if (!unpriced.has(transcriptionModel)) log("warn", "realtime: a transcription model has no price (neither a deployment of the provider nor the catalog): its transcriptions are not billed", { model: transcriptionModel, deployment: c.deployment.id });
                unpriced.add(transcriptionModel);
                return undefined;
              }
              cost = opened.meterFee(u, p).total;
            }
            if (!admission || admission.request.budgets.length === 0) return undefined;
            unsettled += cost;
            // The next turn is held at what this one cost, a quarter more (at least the first turn's hold).
            const next = Math.max(initialHold, Math.ceil(cost * 1.25));
            checkpoints = checkpoints.then(() => {
              const charge = unsettled;
              unsettled = 0;
              return checkpoint(e.core.limits, admission, charge, next, `${r.call.id}.${++seq}`);
            });
            return checkpoints;
          },
        });
      } finally {
        opened.end(end?.providerError);
        // A checkpoint under way finishes before the session settles (its hold would outlive it).
        await checkpoints.catch(() => {});
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
 * A session's budget checkpoint, after each response (or transcription) it was billed for: what
 * it spent since the last one is settled (the hold released, the spend charged: two limiter round
 * trips with the hold taken next), and the next turn is held afresh, as an admission of budgets
 * only under `holdId`. So a budget shows a session's spend as it goes, and a gateway that dies
 * mid-session loses at most the turn under way, not the session's spend. A budget without room
 * for the next turn ends the session.
 */
async function checkpoint(limiter: Limiter, a: Admission, charge: number, next: number, holdId: string): Promise<void> {
  const req = a.request;
  const now = Date.now();
  limiter.settle({ requestId: req.requestId, shard: req.shard, tokenAdjustments: [], budgets: req.budgets.map((b) => ({ id: b.id, period: b.period, reservedNanos: a.holdNanos, actualNanos: charge, ...(b.periodStart !== undefined ? { periodStart: b.periodStart } : {}) })), now });
  a.chargedNanos = (a.chargedNanos ?? 0) + charge;
  a.holdNanos = 0;
  // The settlement is written before the next hold is asked for, so the two are never counted together.
  await limiter.flush().catch(() => {});
  const hold: AdmissionRequest = { requestId: holdId, shard: req.shard, rates: [], budgets: req.budgets.map((b) => ({ ...b, reserveNanos: next, periodStart: periodBounds(b.period, now).start })), now, reservationTtlMs: req.reservationTtlMs };
  a.request = hold;
  let r;
  try {
    r = await limiter.admit(hold);
  } catch (err) {
    // The limiter failing is not the budget running out: the session goes on, unheld until the next turn.
    log("warn", "realtime: a session's next turn could not be held", { hold: holdId, reason: (err as Error)?.message });
    return;
  }
  if (r.ok) {
    a.holdNanos = next;
    return;
  }
  if (r.kind !== "budget") return;
  const b = r.check;
  throw new GatewayError(
    "resource_exhausted",
    `budget exhausted during a realtime session: ${b.describe}: spent ${usd(r.spentNanos)}, ${usd(r.reservedNanos)} held by requests in flight, the next turn needs ${usd(next)}; the session has cost ${usd(a.chargedNanos)}; ${resetText(b.period, now)}`,
    { retryAfterMs: b.period === "lifetime" ? undefined : Math.max(1000, r.resetAt - Date.now()), refusal: "budget" },
  );
}
