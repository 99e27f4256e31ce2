// ChatService: validate, plan, execute, answer; record usage whatever the outcome.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ChatEventSchema, ChatService, type ChatEvent, type ChatRequest } from "../../gen/signalbox/v1/chat_pb.ts";
import type { GatewayCore } from "../gateway.ts";
import { executeStream, executeUnary, newExecution, type Execution } from "../router/execute.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall, Plan } from "../router/types.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey, type RequestInfo } from "./context.ts";
import { attemptToPb, costToPb, deltasToPb, finishToPb, outcomeToResponse, toChatCall, usageToPb } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateChatRequest } from "./validate.ts";
import { buildAdmission, buildSettlement, deploymentAdmission, refusal, type Admission } from "../limits/admission.ts";
import { log } from "../telemetry/log.ts";
import { attemptObserver, inSpan, planAttributes } from "../telemetry/tracing.ts";

function info(ctx: HandlerContext): RequestInfo {
  return ctx.values.get(requestInfoKey)!;
}

/** Record the request's usage; called exactly once per request, success or not. */
function record(core: GatewayCore, call: ChatCall, plan: Plan | undefined, ex: Execution, ri: RequestInfo, status: string, err?: unknown) {
  const last = ex.attempts[ex.attempts.length - 1];
  core.usage.record({
    id: call.id,
    time: Date.now(),
    key: call.caller.keyName,
    team: call.caller.team,
    user: call.user ?? "",
    model: call.model,
    routing: plan?.routing ?? { route: "", alias: "", strategy: "", variant: "" },
    deployment: ex.deployment?.deployment.id ?? last?.deployment ?? "",
    provider: ex.deployment?.provider.name ?? last?.provider ?? "",
    attempts: ex.attempts,
    usage: ex.usage,
    usageEstimated: ex.usageEstimated,
    cost: ex.cost,
    latencyMs: ex.latencyMs,
    ttftMs: ex.ttftMs,
    overheadUs: Math.max(0, ex.overheadUs),
    cacheHit: false,
    status,
    failureKind: err instanceof GatewayError ? err.details.failureKind : undefined,
    refusal: err instanceof GatewayError ? err.details.refusal : undefined,
    finishReason: ex.finishReason,
    traceId: ri.traceId,
    tags: call.tags,
    metadata: call.metadata,
    streamed: call.stream,
  });
}

const codeName = (c: Code) => Code[c].replace(/[A-Z]/g, (ch, i: number) => (i ? "_" : "") + ch.toLowerCase());

/**
 * The status a request ended with. When the caller's signal fired, the abort reason depends on
 * which side's timer won (stack notes), so the deadline is read from the context instead.
 */
function statusOf(e: ConnectError | undefined, ctx: HandlerContext): string {
  if (ctx.signal.aborted) {
    // A client usually gives up on its own timer a moment before ours fires: close to the
    // deadline (250 ms, for a loaded machine) counts as the deadline.
    const left = ctx.timeoutMs();
    return left !== undefined && left <= 250 ? "deadline_exceeded" : "canceled";
  }
  return e ? codeName(e.code) : "ok";
}

export function chatService(core: GatewayCore): Partial<ServiceImpl<typeof ChatService>> {
  function prepare(req: ChatRequest, ctx: HandlerContext, stream: boolean) {
    validateChatRequest(req);
    const ri = info(ctx);
    const call = toChatCall(req, ri.id, ctx.values.get(callerKey), stream);
    return { ri, call };
  }

  const warned = new Set<string>();
  /** Rate limits and budget reservation: the one state round trip before the upstream call. */
  async function admit(call: ChatCall, plan: Plan): Promise<Admission | undefined> {
    const a = buildAdmission(core.config, call, plan, Date.now());
    if (!a) return undefined;
    const r = await core.limits.admit(a.request);
    if (!r.ok) throw refusal(r);
    for (const s of r.soft) {
      const k = `${s.id}:${a.request.budgets.find((b) => b.id === s.id)?.period}`;
      if (!warned.has(k)) {
        warned.add(k);
        log("warn", "budget soft threshold reached", { budget: s.id, spent_nano_usd: s.spentNanos, limit_nano_usd: s.limitNanos });
        core.metrics.budgetSoftThreshold(s.id);
      }
    }
    return a;
  }
  /** Plan and admit, each in its own span when tracing; attempts get spans through the observer. */
  async function route(call: ChatCall, ri: RequestInfo, ex: Execution): Promise<{ plan: Plan; admission: Admission | undefined }> {
    const tracer = core.tracing?.tracer;
    if (!tracer || !ri.otel) {
      const plan = core.plan(call);
      return { plan, admission: await admitAll(call, plan) };
    }
    ex.observer = attemptObserver(tracer, ri.otel);
    const plan = await inSpan(tracer, ri.otel, `route ${call.model}`, { "signalbox.request.model": call.model }, () => core.plan(call), planAttributes);
    const admission = await inSpan(tracer, ri.otel, "limits.check", { "signalbox.key": call.caller.keyName, "signalbox.team": call.caller.team }, () => admitAll(call, plan), (span, a) =>
      span.setAttributes({ "signalbox.rate_checks": a?.request.rates.length ?? 0, "signalbox.budget_checks": a?.request.budgets.length ?? 0 }),
    );
    return { plan, admission };
  }

  /**
   * A deployment at its own rate limit (the provider's) is skipped, not the request: the plan's
   * next candidate serves it. The first check runs alongside the caller's admission (no extra
   * round trip); more only when a deployment is saturated.
   */
  async function admitDeployments(call: ChatCall, plan: Plan): Promise<void> {
    let retryAfterMs = Infinity;
    for (let i = 0; i < plan.candidates.length; ) {
      const req = deploymentAdmission(call, plan, i, Date.now());
      if (!req) return;
      const r = await core.limits.admit(req);
      if (r.ok) return;
      const [c] = plan.candidates.splice(i, 1);
      const wait = r.kind === "rate" ? r.retryAfterMs : 60_000;
      retryAfterMs = Math.min(retryAfterMs, wait);
      plan.excluded.push({ deployment: c.deployment.id, reason: "rate_limited", detail: `${r.kind === "rate" ? r.check.describe : "limit"} reached; frees in ${Math.ceil(wait / 1000)} s` });
    }
    throw new GatewayError("resource_exhausted", `every candidate deployment of "${call.model}" is at its rate limit; retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
      retryAfterMs,
      refusal: "rate_limit",
    });
  }
  async function admitAll(call: ChatCall, plan: Plan): Promise<Admission | undefined> {
    const [caller, deployments] = await Promise.allSettled([admit(call, plan), admitDeployments(call, plan)]);
    if (caller.status === "rejected") throw caller.reason;
    if (deployments.status === "rejected") {
      // Refused after all: release the caller's reservation at once.
      settle(caller.value, newExecution(performance.now()));
      throw deployments.reason;
    }
    return caller.value;
  }

  const settle = (a: Admission | undefined, ex: Execution) => {
    if (a) core.limits.settle(buildSettlement(a, ex, Date.now()));
  };

  return {
    async complete(req, ctx) {
      let ri = ctx.values.get(requestInfoKey)!;
      let call: ChatCall | undefined;
      let plan: Plan | undefined;
      let admission: Admission | undefined;
      const ex = newExecution(ri.arrivedAt);
      try {
        ({ ri, call } = prepare(req, ctx, false));
        ({ plan, admission } = await route(call, ri, ex));
        const outcome = await executeUnary(call, plan, ctx.signal, core.exec, ex);
        record(core, call, plan, ex, ri, "ok");
        return outcomeToResponse(outcome, {
          model: call.model,
          traceId: ri.traceId,
          routing: plan.routing,
          adjustments: plan.adjustments,
          usageEstimated: ex.usageEstimated,
        });
      } catch (err) {
        const ce = toConnectError(err, ctx.signal, ri.traceId);
        if (call) record(core, call, plan, ex, ri, statusOf(ce, ctx), err);
        throw ce;
      } finally {
        settle(admission, ex);
      }
    },

    async *stream(req, ctx): AsyncGenerator<ChatEvent> {
      let ri = ctx.values.get(requestInfoKey)!;
      let call: ChatCall | undefined;
      let plan: Plan | undefined;
      let admission: Admission | undefined;
      const ex = newExecution(ri.arrivedAt);
      let status = "ok";
      let failure: unknown;
      try {
        ({ ri, call } = prepare(req, ctx, true));
        ({ plan, admission } = await route(call, ri, ex));
        for await (const ev of executeStream(call, plan, ctx.signal, core.exec, ex)) {
          if (ev.type === "delta") {
            yield deltasToPb(ev.events);
          } else if (ev.type === "start") {
            const c = ev.candidate;
            yield create(ChatEventSchema, {
              event: {
                case: "start",
                value: {
                  id: call.id,
                  model: call.model,
                  deployment: c.deployment.id,
                  provider: c.provider.name,
                  providerModel: ev.providerModel,
                  routing: plan.routing,
                  adjustments: plan.adjustments,
                  traceId: ri.traceId,
                  priorAttempts: ev.priorAttempts.map(attemptToPb),
                },
              },
            });
          } else {
            yield create(ChatEventSchema, {
              event: {
                case: "finish",
                value: {
                  finishReason: finishToPb(ex.finishReason),
                  rawFinishReason: ex.rawFinishReason ?? "",
                  usage: usageToPb(ex.usage, ex.usageEstimated),
                  cost: costToPb(ex.cost),
                  attempts: ex.attempts.map(attemptToPb),
                  timing: { latencyMs: ex.latencyMs, ttftMs: ex.ttftMs, overheadUs: Math.max(0, ex.overheadUs) },
                  providerModel: ex.providerModel,
                },
              },
            });
          }
        }
      } catch (err) {
        const ce = toConnectError(err, ctx.signal, ri.traceId);
        status = statusOf(ce, ctx);
        failure = err;
        throw ce;
      } finally {
        // Also reached when the caller goes away mid-stream (the generator is returned early).
        if (call) {
          // The caller went away: the generator was returned early, with no error thrown here.
          if (status === "ok" && (ctx.signal.aborted || !ex.deployment)) status = ctx.signal.aborted ? statusOf(undefined, ctx) : "canceled";
          record(core, call, plan, ex, ri, status, failure);
        }
        settle(admission, ex);
      }
    },
  };
}
