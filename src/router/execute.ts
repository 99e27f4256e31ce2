// Execution: the one loop over a plan's candidates. Retries and fallbacks are the same mechanism
// (the next action after a failure is decided by the policy table), with timeouts per attempt,
// a total deadline, the commit point for streams, and every attempt recorded with its usage
// and cost, whatever the outcome.
//
// Billing an attempt (billedUsage): usage the provider reported is never thrown away. A stream's
// usage events (Anthropic message_start/message_delta, Gemini's cumulative usageMetadata, an
// OpenAI usage chunk) are kept as they arrive, and usage carried by a failed response (a 200 with
// an error) comes on its ProviderError; a cut, cancelled or failed attempt is billed on the latest
// of them, and only what was not reported is estimated: output from the text the attempt delivered
// (by the deployment's tokenizer, src/providers/tokens.ts), the prompt from the plan's count. Each
// attempt says which of its figures were reported and which estimated (AttemptRecord.usageSource).
//
// Chat (unary and streamed) and embeddings share `walk`: an embeddings attempt is one unary call
// whose answer is the vectors; it has no output, and sends only the inputs its cache left.

import type { ChatResult, EmbedResult, FailureKind, ImageResult, OcrResult, Provider, RerankResult, ModerationResult, SearchResult, StreamEvent, TranscriptionResult, TranscriptionStream, UpstreamRequest, Usage } from "../providers/types.ts";
import { isContentEvent, ProviderError } from "../providers/types.ts";
import { countTextTokens, tokenFamily } from "../providers/tokens.ts";
import type { HealthStore } from "../state/health.ts";
import type { AttemptObserver, AttemptTrace } from "../telemetry/tracing.ts";
import { addCost, addUsage, computeCost, ZERO_COST, ZERO_USAGE } from "../usage/cost.ts";
import { codeForFailure, GatewayError } from "./errors.ts";
import { checkJsonAnswer } from "../guardrails/json-schema.ts";
import { POLICY } from "./policy.ts";
import { inputTokens } from "./plan.ts";
import type { AttemptRecord, Candidate, CallSummary, ChatCall, ChatOutcome, EmbedCall, ImageCall, ModerationCall, OcrCall, Plan, RealtimeCall, RerankCall, SearchCall, SpeechCall, TranscriptionCall, UsageSource } from "./types.ts";
import { openRealtimeLink, type RealtimeLink } from "../providers/realtime.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { Pricing } from "../config/types.ts";

export interface ExecuteDeps {
  /** Providers by connection name. */
  providers: ReadonlyMap<string, Provider>;
  health: HealthStore;
  /** Jitter source. */
  random?: () => number;
}

/** Mutable record of a request in progress; the caller keeps it to account for failures too. */
export interface Execution extends CallSummary {
  /** performance.now() when the request arrived. */
  arrivedAt: number;
  usageEstimated: boolean;
  /** Traces each attempt (when tracing is on). */
  observer?: AttemptObserver;
}

export function newExecution(arrivedAt: number): Execution {
  return {
    providerModel: "",
    attempts: [],
    usage: { ...ZERO_USAGE },
    cost: { ...ZERO_COST },
    latencyMs: 0,
    overheadUs: -1,
    arrivedAt,
    usageEstimated: false,
  };
}

/**
 * A check of a whole unary answer before it is accepted (the json_schema guardrail): a
 * ProviderError (kind "guardrail") makes the attempt a failed one, billed, and the walk goes on
 * as for any failure; `retryable: true` on it asks for one more try at the same deployment.
 */
export type AnswerCheck = (res: ChatResult, candidate: Candidate, ex: Execution) => ProviderError | undefined;

/** Stream events as the router emits them to the server. */
export type RouterStreamEvent =
  | { type: "start"; candidate: Candidate; providerModel: string; priorAttempts: AttemptRecord[] }
  /** Content events that arrived together (forwarded as one message). */
  | { type: "delta"; events: StreamEvent[] }
  | { type: "finish" };

interface AttemptCtx {
  record: AttemptRecord;
  candidate: Candidate;
  signal: AbortSignal;
  abort: (reason: ProviderError) => void;
  startedAt: number;
  /** Latest usage reported by the provider for this attempt. */
  usage?: Usage;
  /** That usage's output count is not final yet (Anthropic message_start): estimate the output. */
  outputPending?: boolean;
  /** Set by an attempt that received an answer and then fails it (a guardrail): bill that answer. */
  estimate?: Estimate;
  /** The prompt this attempt was sent, when not the candidate's planned count (an embeddings batch with cached inputs). */
  promptTokens?: number;
  /** Images an attempt made whose provider reported no tokens: billed per image with the estimated prompt. */
  imagesMade?: Usage["images"];
  ttftMs?: number;
  /** A stream's first-token deadline, cleared by cleanup (see executeStream). */
  firstTokenTimer?: ReturnType<typeof setTimeout>;
  cleanup: () => void;
  trace?: AttemptTrace;
}

const now = () => performance.now();

/** What an attempt may be billed on besides what its provider reported. */
interface Estimate {
  /**
   * Estimate the prompt if the provider reported no usage: the provider was sent it and most
   * likely did the prompt work (a timed-out attempt, a hedge that lost, a stream cut short).
   */
  prompt: boolean;
  /** What the attempt delivered (text, reasoning, tool calls): its output is estimated from this when not reported. */
  output?: () => Delivered;
}

/** Output an attempt delivered, as kept for an estimate: its beginning, and its length. */
interface Delivered {
  sample: string;
  chars: number;
}

/**
 * A stream keeps at most this much of what it delivered for the output estimate; a longer output
 * is estimated at the sample's tokens per character. Bounds what a long stream holds in memory.
 */
const SAMPLE_CHARS = 16_384;

const REPORTED: UsageSource = { input: "reported", output: "reported" };
const ESTIMATED: UsageSource = { input: "estimated", output: "estimated" };

/** Everything a unary answer generated, for estimating its output. */
function answerText(res: ChatResult): Delivered {
  const sample = [res.text, res.reasoning ?? "", res.refusal ?? "", ...res.toolCalls.flatMap((t) => [t.name, t.arguments])].join("");
  return { sample, chars: sample.length };
}

/** Output tokens of delivered text, by the deployment's tokenizer (exact for OpenAI models, calibrated otherwise). */
function estimateOutputTokens(c: Candidate, output: (() => Delivered) | undefined): number {
  const d = output?.();
  if (!d || d.sample === "") return 0;
  const tokens = countTextTokens(d.sample, tokenFamily(c.deployment.baseModel ?? c.deployment.model, c.provider.type));
  return d.chars <= d.sample.length ? tokens : Math.ceil((tokens * d.chars) / d.sample.length);
}

/**
 * What an attempt is billed: the latest usage its provider reported (on the failed response itself,
 * else from its stream), with only the parts not reported estimated; nothing when the provider
 * reported nothing and there is no reason to think it did any work.
 */
function billedUsage(ctx: AttemptCtx, err: ProviderError | undefined, est: Estimate | undefined): { usage: Usage; source: UsageSource } | undefined {
  const reported = err?.usage ?? ctx.usage;
  if (reported) {
    if (err?.usage || !ctx.outputPending) return { usage: reported, source: REPORTED };
    // Input and cache counts came early (Anthropic message_start); the final output count never did.
    const outputTokens = Math.max(reported.outputTokens, estimateOutputTokens(ctx.candidate, est?.output));
    return { usage: { ...reported, outputTokens }, source: { input: "reported", output: "estimated" } };
  }
  if (!est?.prompt) return undefined;
  return {
    usage: {
      ...ZERO_USAGE,
      inputTokens: ctx.promptTokens ?? ctx.candidate.estimatedInputTokens,
      outputTokens: estimateOutputTokens(ctx.candidate, est.output),
      ...(ctx.imagesMade ? { images: ctx.imagesMade } : {}),
    },
    source: ESTIMATED,
  };
}

/**
 * A failed attempt that timed out waiting for the provider after the request was sent (our attempt
 * or first-token timer, undici's headers or body timeout; not a connect timeout, not the provider's
 * own 408/504 answer) is billed at its estimated prompt: providers bill a request they received
 * and processed even when the caller stopped waiting, and the prompt is the work done before any
 * answer. Its output is not known and counted as 0.
 */
function workedBeforeTimeout(e: ProviderError): boolean {
  return e.kind === "timeout" && e.status === undefined && e.unsent !== true;
}

/** What the plan fitted for this candidate, with its model and parameter rules. */
function upstreamRequest(c: Candidate): UpstreamRequest {
  return { ...c.request, model: c.deployment.model, params: c.deployment.params };
}

function toProviderError(err: unknown, signal: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal.aborted && signal.reason instanceof ProviderError) return signal.reason;
  if (signal.aborted) return new ProviderError({ kind: "canceled", message: "request canceled", cause: err });
  // A bug in an adapter must not look like a provider outage to the caller.
  return new ProviderError({ kind: "unknown", message: `provider adapter error: ${(err as Error)?.message ?? String(err)}`, cause: err });
}

/** Failure kinds retried on the same deployment when a route does not say. */
export const DEFAULT_RETRY_ON: readonly FailureKind[] = ["rate_limited", "overloaded", "network", "server_error", "stream_interrupted"];

interface Running<T> {
  ctx: AttemptCtx;
  idx: number;
  /** Settles, never rejects. */
  done: Promise<{ run: Running<T>; ok: true; value: T } | { run: Running<T>; ok: false; err: ProviderError }>;
}

/**
 * Walk the plan: try candidates in order, retrying a candidate when the policy allows and the
 * deadline leaves room, falling back otherwise, and (when the route hedges) starting the next
 * candidate alongside a slow one. `attempt` does the provider call for one candidate and
 * resolves at the point of success (unary: the whole answer; stream: the first content event).
 * Retries, fallbacks and hedges are one loop and one attempt budget.
 */
async function walk<T>(
  plan: Plan,
  signal: AbortSignal,
  deps: ExecuteDeps,
  ex: Execution,
  attempt: (ctx: AttemptCtx) => Promise<T>,
): Promise<{ value: T; ctx: AttemptCtx }> {
  const deadline = ex.arrivedAt + plan.timeouts.totalMs;
  const rand = deps.random ?? Math.random;
  const retryOn = plan.retry.retryOn ?? DEFAULT_RETRY_ON;
  const retryStatuses = plan.retry.onStatusCodes;
  const fallbackStatuses = plan.fallbackOnStatusCodes;
  const snapshot = deps.health.snapshot();
  let idx = 0;
  let retriesUsed = 0;
  let reason = "primary";
  let lastError: ProviderError | undefined;
  let minContextWindow = 0;

  /** The next candidate index at or after i that may be tried now, or -1. */
  const nextUsable = async (i: number): Promise<number> => {
    for (; i < plan.candidates.length; i++) {
      const d = plan.candidates[i].deployment;
      if (d.contextWindow <= minContextWindow) continue;
      // After a cooldown, one probe decides: the other requests leave this deployment alone.
      if (snapshot.get(d.id)?.awaitingProbe && !(await deps.health.claimProbe(d.id))) continue;
      return i;
    }
    return -1;
  };

  const start = (i: number, why: string, hedged: boolean): Running<T> => {
    const candidate = plan.candidates[i];
    // The attempt's own controller, linked to the caller's signal by hand: AbortSignal.any costs
    // more per call (composite-signal bookkeeping) and this link is removed when the attempt ends.
    const ctl = new AbortController();
    const onCallerAbort = () => ctl.abort(signal.reason);
    signal.addEventListener("abort", onCallerAbort, { once: true });
    const record: AttemptRecord = {
      number: ex.attempts.length + 1,
      deployment: candidate.deployment.id,
      provider: candidate.provider.name,
      model: candidate.deployment.model,
      outcome: "failed",
      latencyMs: 0,
      reason: why,
      hedged,
      usage: ZERO_USAGE,
      cost: ZERO_COST,
      startTime: Date.now(),
    };
    ex.attempts.push(record);
    const limit = Math.max(1, Math.min(plan.timeouts.attemptMs, deadline - now()));
    const timer = setTimeout(() => ctl.abort(new ProviderError({ kind: "timeout", message: `attempt exceeded ${Math.round(limit)} ms` })), limit);
    const ctx: AttemptCtx = {
      record,
      candidate,
      signal: ctl.signal,
      abort: (r) => ctl.abort(r),
      startedAt: now(),
      cleanup: () => {
        clearTimeout(timer);
        clearTimeout(ctx.firstTokenTimer);
        signal.removeEventListener("abort", onCallerAbort);
      },
    };
    if (ex.overheadUs < 0) ex.overheadUs = Math.round((ctx.startedAt - ex.arrivedAt) * 1000);
    ctx.trace = ex.observer?.start(record, candidate);
    deps.health.begin(candidate.deployment.id);
    const run = { ctx, idx: i } as Running<T>;
    run.done = attempt(ctx).then(
      (value) => ({ run, ok: true as const, value }),
      (err) => ({ run, ok: false as const, err: toProviderError(err, ctl.signal) }),
    );
    return run;
  };

  /** A failed attempt: close its record and report it to the health store. */
  const fail = (run: Running<T>, e: ProviderError, canceled: boolean, est?: Estimate) => {
    run.ctx.cleanup();
    settleAttempt(ex, run.ctx, canceled ? "canceled" : "failed", e, est);
    deps.health.end(run.ctx.candidate.deployment.id, { ok: false, kind: e.kind, cooldown: !canceled && POLICY[e.kind].cooldown, retryAfterMs: e.retryAfterMs });
  };

  /** A hedge sibling that lost: stop it; bill the prompt it was sent (estimated). */
  const cancelLoser = (run: Running<T>) => {
    const e = new ProviderError({ kind: "canceled", message: "lost the hedge race" });
    run.ctx.abort(e);
    fail(run, e, true, { prompt: true });
  };

  idx = await nextUsable(0);
  while (idx >= 0 && ex.attempts.length < plan.maxAttempts) {
    if (signal.aborted) throw toProviderError(signal.reason, signal);
    if (deadline - now() <= 0) break;

    const running: Running<T>[] = [start(idx, reason, false)];
    let hedgeTimer: ReturnType<typeof setTimeout> | undefined;
    let hedgeFired: Promise<"hedge"> | undefined;
    if (plan.hedgeAfterMs > 0 && !plan.noFallback && idx + 1 < plan.candidates.length && ex.attempts.length < plan.maxAttempts) {
      hedgeFired = new Promise((resolve) => (hedgeTimer = setTimeout(() => resolve("hedge"), plan.hedgeAfterMs)));
    }

    let failure: ProviderError | undefined;
    let failedRun: Running<T> | undefined;
    try {
      while (running.length) {
        const next = hedgeFired
          ? await Promise.race<Awaited<Running<T>["done"]> | "hedge">([...running.map((r) => r.done), hedgeFired])
          : running.length === 1
            ? await running[0].done
            : await Promise.race(running.map((r) => r.done));
        if (next === "hedge") {
          hedgeFired = undefined;
          const h = await nextUsable(idx + 1);
          if (h >= 0 && ex.attempts.length < plan.maxAttempts) {
            idx = h;
            running.push(start(h, `hedge: no first token from ${running[0].ctx.candidate.deployment.id} after ${plan.hedgeAfterMs} ms`, true));
            running[0].ctx.record.hedged = true;
          }
          continue;
        }
        running.splice(running.indexOf(next.run), 1);
        if (next.ok) {
          for (const loser of running) cancelLoser(loser);
          return { value: next.value, ctx: next.run.ctx };
        }
        const canceledByCaller = signal.aborted;
        fail(next.run, next.err, canceledByCaller, next.run.ctx.estimate ?? { prompt: !canceledByCaller && workedBeforeTimeout(next.err) });
        if (canceledByCaller) {
          for (const other of running) fail(other, toProviderError(signal.reason, signal), true);
          throw next.err;
        }
        failure = next.err;
        failedRun = next.run;
        // A hedge sibling still running may yet succeed: wait for it before deciding.
      }
    } finally {
      clearTimeout(hedgeTimer);
    }

    const e = failure!;
    const candidate = failedRun!.ctx.candidate;
    lastError = e;
    const p = POLICY[e.kind];
    // An answer that failed a guardrail is retried when the guardrail says so (its on_failure),
    // at once: nothing upstream needs time to recover.
    const guardRetry = e.kind === "guardrail" && e.retryable === true;
    // Retry the last failed candidate?
    // A request's own retry statuses (Portkey's retry.on_status_codes) decide for upstream answers
    // that carry one; failures without a status (network, timeout) keep the policy's say.
    const retryable = retryStatuses && e.status !== undefined ? retryStatuses.includes(e.status) : p.retry && retryOn.includes(e.kind);
    if (guardRetry || (retryable && e.retryable !== false && retriesUsed < plan.retry.maxRetries)) {
      const backoff = Math.min(plan.retry.maxDelayMs, plan.retry.baseDelayMs * 2 ** retriesUsed) * (0.5 + rand() / 2);
      const delay = guardRetry ? 0 : (e.retryAfterMs ?? backoff);
      const hasNext = idx + 1 < plan.candidates.length;
      // A long retry-after is better spent on the next candidate; never sleep past the deadline.
      if (delay <= plan.retry.maxRetryAfterMs && now() + delay < deadline && !(hasNext && e.retryAfterMs !== undefined && e.retryAfterMs > plan.retry.baseDelayMs * 4)) {
        retriesUsed++;
        reason = `retry ${retriesUsed} after ${e.kind}${e.retryAfterMs !== undefined ? ` (retry-after ${e.retryAfterMs} ms)` : ""}`;
        await sleep(delay, signal);
        idx = failedRun!.idx;
        continue;
      }
    }
    // A request's fallback statuses (Portkey's strategy.on_status_codes) decide likewise.
    const fallback = fallbackStatuses && e.status !== undefined ? fallbackStatuses.includes(e.status) : e.kind === "content_filtered" ? plan.fallbackOnContentFilter : p.fallback;
    if (!fallback || plan.noFallback) break;
    if (e.kind === "context_length_exceeded") minContextWindow = Math.max(minContextWindow, candidate.deployment.contextWindow);
    retriesUsed = 0;
    reason = `fallback after ${e.kind} from ${candidate.deployment.id}`;
    idx = await nextUsable(idx + 1);
  }
  const e = lastError ?? new ProviderError({ kind: "timeout", message: "request deadline passed before any attempt" });
  const tried = ex.attempts.length;
  // Every attempt rate limited: the caller may retry when the soonest deployment frees up.
  let retryAfterMs = e.retryAfterMs;
  if (e.kind === "rate_limited") {
    for (const a of ex.attempts) if (a.failureKind === "rate_limited" && a.retryAfterMs !== undefined) retryAfterMs = Math.min(retryAfterMs ?? Infinity, a.retryAfterMs);
  }
  throw new GatewayError(
    codeForFailure(e.kind),
    tried <= 1 ? `${e.message}` : `all ${tried} attempts failed; last: ${e.message}`,
    // The provider's refusal of a field is passed on naming it (OpenAI's `param`).
    { failureKind: e.kind, attempts: ex.attempts, retryAfterMs, ...(e.kind === "bad_request" && e.param ? { field: e.param } : {}) },
    e,
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(toProviderError(signal.reason, signal));
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(toProviderError(signal.reason, signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A vector or ranking answer's attempt succeeded: the deployment that served it, its model, and
 *  usage as reported (else the inputs sent, estimated); the deployment's health hears of it. */
function succeedNonChat(ex: Execution, ctx: AttemptCtx, deps: ExecuteDeps, model: string): void {
  ex.deployment = ctx.candidate;
  ex.providerModel = model || ctx.candidate.deployment.model;
  ex.finishReason = "stop";
  ex.rawFinishReason = "";
  settleAttempt(ex, ctx, "succeeded", undefined, { prompt: true });
  deps.health.end(ctx.candidate.deployment.id, { ok: true, latencyMs: ctx.record.latencyMs });
}

/** Close an attempt's record: outcome, timing, usage billed (see billedUsage) and its cost; fold into the totals. */
function settleAttempt(ex: Execution, ctx: AttemptCtx, outcome: AttemptRecord["outcome"], err?: ProviderError, est?: Estimate): void {
  const r = ctx.record;
  r.outcome = outcome;
  r.latencyMs = Math.round(now() - ctx.startedAt);
  r.ttftMs = ctx.ttftMs;
  if (err) {
    r.failureKind = err.kind;
    r.errorMessage = err.message;
    r.httpStatus = err.status;
    r.retryAfterMs = err.retryAfterMs;
  }
  const billed = billedUsage(ctx, err, est);
  if (billed) {
    const u = billed.usage;
    r.usage = u;
    r.usageSource = billed.source;
    r.cost = computeCost(u, ctx.candidate.deployment.pricing);
    ex.usage = addUsage(ex.usage, u);
    ex.cost = addCost(ex.cost, r.cost);
    if (billed.source.input === "estimated" || billed.source.output === "estimated") ex.usageEstimated = true;
  }
  ctx.trace?.end(r, err, outcome === "succeeded" ? ex.providerModel : undefined, outcome === "succeeded" ? ex.rawFinishReason : undefined);
}

/** A cost with a fee added (to its request component, its total and, when it has one, its computed figure). */
export function withFee(c: CostBreakdown, fee: number): CostBreakdown {
  return { ...c, total: c.total + fee, request: (c.request ?? 0) + fee, ...(c.computed !== undefined ? { computed: c.computed + fee } : {}) };
}

function finishSummary(ex: Execution): void {
  ex.latencyMs = Math.round(now() - ex.arrivedAt);
  if (ex.overheadUs < 0) ex.overheadUs = 0;
}

/** Execute a plan for a unary call. `ex` is filled in whatever happens. `check` vets each answer. */
export async function executeUnary(call: ChatCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution, check?: AnswerCheck): Promise<ChatOutcome> {
  try {
    const { value: res, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const provider = deps.providers.get(ctx.candidate.provider.name)!;
      const res = await provider.complete(upstreamRequest(ctx.candidate), ctx.signal);
      const rejected = check?.(res, ctx.candidate, ex);
      if (rejected) {
        // The answer arrived and is billed, though it is not the one returned.
        ctx.usage = res.usage;
        ctx.estimate = { prompt: true, output: () => answerText(res) };
        throw rejected;
      }
      return res;
    });
    ctx.cleanup();
    ctx.usage = res.usage;
    ex.deployment = ctx.candidate;
    // Bedrock's Converse reports no model: the pinned one answered.
    ex.providerModel = res.model || ctx.candidate.deployment.model;
    ex.finishReason = res.finishReason;
    ex.rawFinishReason = res.rawFinishReason;
    // Without usage in the answer: the prompt and the answer's text, estimated.
    settleAttempt(ex, ctx, "succeeded", undefined, { prompt: true, output: () => answerText(res) });
    deps.health.end(ctx.candidate.deployment.id, { ok: true, latencyMs: ctx.record.latencyMs });
    finishSummary(ex);
    return {
      ...ex,
      id: call.id,
      text: res.text,
      reasoning: res.reasoning,
      ...(res.reasoningBlocks ? { reasoningBlocks: res.reasoningBlocks } : {}),
      refusal: res.refusal,
      toolCalls: res.toolCalls,
      ...(res.logprobs ? { logprobs: res.logprobs } : {}),
    };
  } finally {
    finishSummary(ex);
  }
}

/** A whole embeddings answer: the vectors of the inputs sent, and which inputs those were. */
export interface EmbedOutcome {
  /** The model version the provider reported. */
  model: string;
  /** Indexes into the call's inputs, in the order of `embeddings`. */
  sent: number[];
  embeddings: Float32Array[];
}

/**
 * Execute a plan for an embeddings call. `inputsFor` says which of the call's inputs an attempt
 * on a candidate sends (those its cache has no vector for from that deployment); the attempt is
 * billed on those alone: what the provider reports, else their tokens by the deployment's tokenizer.
 */
export async function executeEmbed(
  call: EmbedCall,
  plan: Plan,
  signal: AbortSignal,
  deps: ExecuteDeps,
  ex: Execution,
  inputsFor: (c: Candidate) => number[],
): Promise<EmbedOutcome> {
  const all = call.request.inputs;
  try {
    const { value, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.embed) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no embeddings endpoint`, unsent: true });
      const sent = inputsFor(c);
      if (sent.length < all.length) {
        const each = inputTokens(sent.map((i) => all[i]), tokenFamily(c.deployment.baseModel ?? c.deployment.model, c.provider.type));
        ctx.promptTokens = Math.max(1, each.reduce((a, b) => a + b, 0));
      }
      const res: EmbedResult = await provider.embed({ ...call.request, inputs: sent.map((i) => all[i]), model: c.deployment.model }, ctx.signal);
      if (res.embeddings.length !== sent.length) {
        throw new ProviderError({ kind: "unknown", message: `${c.deployment.id} returned ${res.embeddings.length} vectors for ${sent.length} inputs` });
      }
      return { res, sent };
    });
    ctx.cleanup();
    const { res, sent } = value;
    if (res.usage) ctx.usage = { ...ZERO_USAGE, inputTokens: res.usage.inputTokens, ...(res.usage.providerCostUsd !== undefined ? { providerCostUsd: res.usage.providerCostUsd } : {}) };
    succeedNonChat(ex, ctx, deps, res.model);
    return { model: ex.providerModel, sent, embeddings: res.embeddings };
  } finally {
    finishSummary(ex);
  }
}

/** A whole rerank answer. */
export interface RerankOutcome {
  /** The model version the provider reported. */
  model: string;
  /** Best first: positions in the call's documents, and relevance scores. */
  results: { index: number; score: number }[];
}

/**
 * Execute a plan for a rerank call. Billed on what the provider reports (tokens, searches or both),
 * else on the tokens of the query and documents sent (and one search).
 */
export async function executeRerank(call: RerankCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution): Promise<RerankOutcome> {
  const n = call.request.documents.length;
  try {
    const { value: res, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.rerank) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no rerank endpoint`, unsent: true });
      const res: RerankResult = await provider.rerank({ ...call.request, model: c.deployment.model }, ctx.signal);
      const want = Math.min(n, call.request.topN ?? n);
      const seen = new Set<number>();
      for (const r of res.results) {
        if (!Number.isInteger(r.index) || r.index < 0 || r.index >= n || seen.has(r.index) || !Number.isFinite(r.score)) {
          throw new ProviderError({ kind: "unknown", message: `${c.deployment.id} returned an invalid result (index ${r.index}, score ${r.score}) for ${n} documents` });
        }
        seen.add(r.index);
      }
      // Best first, whatever order the provider used; at most top_n.
      const results = [...res.results].sort((a, b) => b.score - a.score);
      if (results.length > want) results.length = want;
      return { ...res, results };
    });
    ctx.cleanup();
    const reported = res.usage;
    if (reported && (reported.inputTokens !== undefined || reported.searchUnits !== undefined || reported.providerCostUsd !== undefined)) {
      ctx.usage = {
        ...ZERO_USAGE,
        inputTokens: reported.inputTokens ?? 0,
        ...(reported.searchUnits !== undefined ? { searchUnits: reported.searchUnits } : {}),
        ...(reported.providerCostUsd !== undefined ? { providerCostUsd: reported.providerCostUsd } : {}),
      };
    }
    succeedNonChat(ex, ctx, deps, res.model);
    return { model: ex.providerModel, results: res.results };
  } finally {
    finishSummary(ex);
  }
}

/**
 * Execute a plan for an image generation call. Billed per image at the deployment's price for the
 * size and quality made (as the provider reports them, else as asked), plus the tokens the
 * provider reports (GPT Image), else the prompt's tokens, estimated.
 */
export async function executeImages(call: ImageCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution): Promise<ImageResult> {
  try {
    const { value: res, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.generateImages) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no image generation endpoint`, unsent: true });
      const res = await provider.generateImages({ ...call.request, model: c.deployment.model }, ctx.signal);
      if (res.images.length === 0 || res.images.length > call.request.n) {
        throw new ProviderError({ kind: "unknown", message: `${c.deployment.id} returned ${res.images.length} images for n=${call.request.n}` });
      }
      return res;
    });
    ctx.cleanup();
    const images = { count: res.images.length, ...sizeAndQuality(res.size ?? call.request.size, res.quality ?? call.request.quality) };
    ctx.usage = res.usage
      ? { ...ZERO_USAGE, inputTokens: res.usage.inputTokens, outputTokens: res.usage.outputTokens, ...(res.usage.imageInputTokens ? { imageInputTokens: res.usage.imageInputTokens } : {}), images }
      : undefined;
    // Without tokens reported, the prompt is estimated and the images still billed per image.
    if (!ctx.usage) ctx.imagesMade = images;
    succeedNonChat(ex, ctx, deps, res.model);
    return { ...res, model: ex.providerModel };
  } finally {
    finishSummary(ex);
  }
}

/** Where a transcript goes as it is made: the deployment once, then each piece of text. */
export interface TranscriptSink {
  start(deployment: string, provider: string): void;
  /** A promise when the caller is slower than the provider: the next read waits for it. */
  delta(text: string): void | Promise<void>;
}

/**
 * Execute a plan for a transcription (or translation). Billed by what the provider reports: seconds
 * of audio (whisper-1) or tokens (GPT-4o transcription models); a provider that reports neither is
 * billed the recording's length as the gateway estimated it.
 *
 * With a sink, the transcript is streamed where the deployment can (GPT-4o transcription models):
 * its first text is the commit point, as for chat streams (before it, a failure retries or falls
 * back; after it, the stream ends with an error saying how much was delivered). A deployment that
 * does not stream answers whole, handed to the sink as one piece.
 */
export async function executeTranscription(call: TranscriptionCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution, sink?: TranscriptSink): Promise<TranscriptionResult> {
  try {
    type Got = { whole: TranscriptionResult } | { stream: TranscriptionStream; it: AsyncIterator<string>; first: IteratorResult<string> };
    const { value, ctx } = await walk(plan, signal, deps, ex, async (ctx): Promise<Got> => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.transcribe) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no transcription endpoint`, unsent: true });
      const req = { ...call.request, model: c.deployment.model };
      const stream = sink && provider.transcribeStream ? await provider.transcribeStream(req, ctx.signal) : undefined;
      if (!stream) return { whole: await provider.transcribe(req, ctx.signal) };
      const it = stream.deltas[Symbol.asyncIterator]();
      let first = await it.next();
      while (!first.done && first.value === "") first = await it.next();
      ctx.ttftMs = Math.round(now() - ctx.startedAt);
      return { stream, it, first };
    });
    let res: TranscriptionResult;
    if ("whole" in value) {
      res = value.whole;
      if (sink) {
        sink.start(ctx.candidate.deployment.id, ctx.candidate.provider.name);
        await sink.delta(res.text);
      }
    } else {
      // Committed: the text is the caller's, and a failure cannot be retried elsewhere.
      const parts: string[] = [];
      try {
        sink!.start(ctx.candidate.deployment.id, ctx.candidate.provider.name);
        for (let r = value.first; !r.done; r = await value.it.next()) {
          parts.push(r.value);
          await sink!.delta(r.value);
        }
      } catch (err) {
        void value.it.return?.();
        ctx.cleanup();
        const e = toProviderError(err, ctx.signal);
        const canceled = signal.aborted;
        settleAttempt(ex, ctx, canceled ? "canceled" : "failed", e, { prompt: true });
        deps.health.end(ctx.candidate.deployment.id, { ok: false, kind: e.kind, cooldown: !canceled && POLICY[e.kind].cooldown });
        ex.deployment = ctx.candidate;
        if (canceled) throw e;
        const chars = parts.reduce((n, p) => n + p.length, 0);
        throw new GatewayError(
          e.kind === "timeout" ? "deadline_exceeded" : "unavailable",
          `transcript from ${ctx.candidate.deployment.id} failed after ${parts.length} deltas (${chars} characters): ${e.message}`,
          { failureKind: e.kind, attempts: ex.attempts, deliveredDeltas: parts.length, deliveredChars: chars, usage: ex.usage, usageEstimated: ex.usageEstimated, cost: ex.cost },
          e,
        );
      }
      res = value.stream.result() ?? { model: value.stream.model, text: parts.join("") };
      if (!res.model) res = { ...res, model: value.stream.model };
    }
    ctx.cleanup();
    const u = res.usage;
    ctx.usage =
      u && "seconds" in u
        ? { ...ZERO_USAGE, audioSeconds: u.seconds }
        : u
          ? { ...ZERO_USAGE, inputTokens: u.inputTokens, outputTokens: u.outputTokens }
          : { ...ZERO_USAGE, audioSeconds: res.durationSeconds ?? call.estimatedSeconds };
    succeedNonChat(ex, ctx, deps, res.model);
    return { ...res, model: ex.providerModel };
  } finally {
    finishSummary(ex);
  }
}

/** Where speech goes as it is made: the response's head once (its media type), then each chunk. */
export interface SpeechSink {
  /** `deployment` (of `provider`): the one whose audio follows. */
  start(mediaType: string, deployment: string, provider: string): void;
  /** A promise when the caller is slower than the provider: the next read waits for it. */
  write(chunk: Uint8Array): void | Promise<void>;
}

/**
 * Execute a plan for speech, streamed: the first audio chunk is the commit point (a failure before
 * it retries or falls back like any attempt; after it, the stream ends with an error saying how
 * much was delivered). Billed by the tokens the provider reports (gpt-4o-mini-tts, in its last
 * event), else per character of the text sent (tts-1, tts-1-hd, the mock).
 */
export async function executeSpeech(call: SpeechCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution, sink: SpeechSink): Promise<{ model: string; mediaType: string; bytes: number }> {
  try {
    const { value, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.speak) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no speech endpoint`, unsent: true });
      const stream = await provider.speak({ ...call.request, model: c.deployment.model }, ctx.signal);
      const it = stream.chunks[Symbol.asyncIterator]();
      let first = await it.next();
      while (!first.done && first.value.byteLength === 0) first = await it.next();
      if (first.done) throw new ProviderError({ kind: "server_error", message: `${c.deployment.id} sent no audio` });
      ctx.ttftMs = Math.round(now() - ctx.startedAt);
      return { stream, it, first: first.value };
    });
    // Committed: from here the audio is the caller's, and a failure cannot be retried elsewhere.
    let bytes = 0;
    try {
      sink.start(value.stream.mediaType, ctx.candidate.deployment.id, ctx.candidate.provider.name);
      bytes += value.first.byteLength;
      await sink.write(value.first);
      for (let r = await value.it.next(); !r.done; r = await value.it.next()) {
        bytes += r.value.byteLength;
        await sink.write(r.value);
      }
    } catch (err) {
      void value.it.return?.();
      ctx.cleanup();
      const e = toProviderError(err, ctx.signal);
      const canceled = signal.aborted;
      ctx.usage = { ...ZERO_USAGE, characters: call.request.input.length };
      settleAttempt(ex, ctx, canceled ? "canceled" : "failed", e, { prompt: true });
      deps.health.end(ctx.candidate.deployment.id, { ok: false, kind: e.kind, cooldown: !canceled && POLICY[e.kind].cooldown });
      ex.deployment = ctx.candidate;
      if (canceled) throw e;
      throw new GatewayError(
        e.kind === "timeout" ? "deadline_exceeded" : "unavailable",
        `speech from ${ctx.candidate.deployment.id} failed after ${bytes} bytes of audio: ${e.message}`,
        { failureKind: e.kind, attempts: ex.attempts, usage: ex.usage, usageEstimated: ex.usageEstimated, cost: ex.cost },
        e,
      );
    }
    ctx.cleanup();
    const u = value.stream.usage();
    ctx.usage = u ? { ...ZERO_USAGE, inputTokens: u.inputTokens, outputTokens: u.outputTokens } : { ...ZERO_USAGE, characters: call.request.input.length };
    succeedNonChat(ex, ctx, deps, value.stream.model);
    return { model: ex.providerModel, mediaType: value.stream.mediaType, bytes };
  } finally {
    finishSummary(ex);
  }
}

/** A Realtime session opened on a candidate, until it ends. */
export interface OpenedRealtime {
  link: RealtimeLink;
  candidate: Candidate;
  /** Count one response's reported usage on the session's attempt and the execution; its cost. */
  meter(u: Usage): CostBreakdown;
  /**
   * Count a transcription of the caller's audio, priced at the transcription model's `pricing`:
   * its cost joins the attempt's and the execution's as a fee (`cost.request`), not as the session
   * model's tokens (the record's tokens stay the session model's). Its cost.
   */
  meterFee(u: Usage, pricing: Pricing): CostBreakdown;
  /** The session is over: close its attempt (and span) with the usage metered; `err` when the provider's side failed. */
  end(err?: ProviderError): void;
}

/**
 * Execute a plan for a Realtime session: open the provider's WebSocket on the first candidate that
 * takes it, falling back (and retrying) on a refused or failed handshake as for any attempt; once
 * one is open the session is committed to it. The attempt stays open for the session's life, so
 * its span covers the session and carries its usage; its deadline ends with the handshake.
 */
export async function executeRealtime(call: RealtimeCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution, headers: Record<string, string>): Promise<OpenedRealtime> {
  let opened: { value: RealtimeLink; ctx: AttemptCtx };
  try {
    opened = await walk(plan, signal, deps, ex, async (ctx) => {
      const link = await openRealtimeLink(ctx.candidate.provider, ctx.candidate.deployment.model, ctx.signal, headers, call.request.offer, call.request.intent);
      if (ctx.signal.aborted) {
        link.close(1001, "going away");
        throw toProviderError(ctx.signal.reason, ctx.signal);
      }
      ctx.ttftMs = Math.round(now() - ctx.startedAt);
      return link;
    });
  } catch (err) {
    finishSummary(ex);
    throw err;
  }
  const { value: link, ctx } = opened;
  // The handshake is done: the attempt's timers no longer apply (a session lasts minutes).
  ctx.cleanup();
  ex.deployment = ctx.candidate;
  ex.providerModel = ctx.candidate.deployment.model;
  ex.finishReason = "stop";
  ex.rawFinishReason = "";
  let used: Usage | undefined;
  let ended = false;
  // What transcriptions of the caller's audio cost.
  let fees = 0;
  return {
    link,
    candidate: ctx.candidate,
    meter(u) {
      used = used ? addUsage(used, u) : u;
      return computeCost(u, ctx.candidate.deployment.pricing);
    },
    meterFee(u, pricing) {
      const c = computeCost(u, pricing);
      fees += c.total;
      return c;
    },
    end(err) {
      if (ended) return;
      ended = true;
      ctx.usage = used ?? { ...ZERO_USAGE };
      if (err) settleAttempt(ex, ctx, "failed", err);
      else settleAttempt(ex, ctx, "succeeded");
      if (fees) {
        ctx.record.cost = withFee(ctx.record.cost ?? { ...ZERO_COST }, fees);
        ex.cost = withFee(ex.cost, fees);
      }
      if (err) deps.health.end(ctx.candidate.deployment.id, { ok: false, kind: err.kind, cooldown: POLICY[err.kind].cooldown });
      else deps.health.end(ctx.candidate.deployment.id, { ok: true, latencyMs: ctx.ttftMs ?? ctx.record.latencyMs });
      finishSummary(ex);
    },
  };
}

/**
 * Execute a plan for a moderation call: one verdict per input text (one in all with images).
 * Providers report no usage: the inputs' tokens are estimated (free at OpenAI; a priced
 * deployment bills them).
 */
export async function executeModeration(call: ModerationCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution): Promise<ModerationResult> {
  try {
    const want = call.request.imageUrls?.length ? 1 : call.request.inputs.length;
    const { value: res, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.moderate) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no moderation endpoint`, unsent: true });
      const res = await provider.moderate({ ...call.request, model: c.deployment.model }, ctx.signal);
      if (res.results.length !== want) throw new ProviderError({ kind: "unknown", message: `${c.deployment.id} returned ${res.results.length} results for ${want} inputs` });
      return res;
    });
    ctx.cleanup();
    ctx.usage = { ...ZERO_USAGE, inputTokens: ctx.candidate.estimatedInputTokens };
    succeedNonChat(ex, ctx, deps, res.model);
    return { ...res, model: ex.providerModel };
  } finally {
    finishSummary(ex);
  }
}

/**
 * Execute a plan for a search call: each query one search. Billed per search at the deployment's
 * per-request price, or at the cost the engine reported (Exa). A hit without a web address is the
 * engine's fault (the attempt fails and the plan goes on).
 */
export async function executeSearch(call: SearchCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution): Promise<SearchResult> {
  try {
    const { value: res, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.search) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no search endpoint`, unsent: true });
      const res = await provider.search({ ...call.request, model: c.deployment.model }, ctx.signal);
      for (const r of res.results) if (!/^https?:\/\//.test(r.url)) throw new ProviderError({ kind: "unknown", message: `${c.deployment.id} returned a result without a web address` });
      return res;
    });
    ctx.cleanup();
    const u = res.usage;
    ctx.usage = {
      ...ZERO_USAGE,
      searchUnits: u?.searchUnits ?? call.request.queries.length,
      ...(u?.providerCostUsd !== undefined ? { providerCostUsd: u.providerCostUsd } : {}),
    };
    succeedNonChat(ex, ctx, deps, res.model);
    return { ...res, model: ex.providerModel };
  } finally {
    finishSummary(ex);
  }
}

/**
 * Execute a plan for an OCR call: the document to one deployment at a time. Billed per page at the
 * deployment's per-page price: the pages the provider says it processed, else the pages it
 * returned. An answer without pages, or without a document annotation of the schema asked for, is
 * the provider's fault (the attempt fails, its pages billed, and the plan goes on).
 */
export async function executeOcr(call: OcrCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution): Promise<OcrResult> {
  try {
    const { value: res, ctx } = await walk(plan, signal, deps, ex, async (ctx) => {
      const c = ctx.candidate;
      const provider = deps.providers.get(c.provider.name)!;
      if (!provider.ocr) throw new ProviderError({ kind: "model_not_found", message: `provider "${c.provider.name}" (type ${c.provider.type}) has no OCR endpoint`, unsent: true });
      const res = await provider.ocr({ ...call.request, model: c.deployment.model }, ctx.signal);
      if (!res.pages.length) throw new ProviderError({ kind: "unknown", message: `${c.deployment.id} returned no pages` });
      // A document annotation asked for must be JSON of its schema: else the attempt fails (billed) and the plan goes on.
      const a = call.request.documentAnnotation;
      if (a) {
        const check = res.documentAnnotation === undefined ? { ok: false as const, reason: "no document annotation came back" } : checkJsonAnswer(res.documentAnnotation, { type: "json_schema", ...a });
        if (!check.ok) throw new ProviderError({ kind: "unknown", message: `${c.deployment.id}: ${check.reason}`, usage: ocrUsage(call, res) });
      }
      return res;
    });
    ctx.cleanup();
    ctx.usage = ocrUsage(call, res);
    succeedNonChat(ex, ctx, deps, res.model);
    return { ...res, model: ex.providerModel };
  } finally {
    finishSummary(ex);
  }
}

/** An OCR answer's billed units: the pages processed and, with an annotation asked for, the pages annotated (the provider's count, else every page processed). */
function ocrUsage(call: OcrCall, res: OcrResult): Usage {
  const pages = res.pagesProcessed ?? res.pages.length;
  const annotatedPages = call.request.documentAnnotation || call.request.bboxAnnotation ? Math.min(pages, res.pagesAnnotated ?? pages) : 0;
  return { ...ZERO_USAGE, pages, ...(annotatedPages ? { annotatedPages } : {}) };
}

const sizeAndQuality = (size: string | undefined, quality: string | undefined) => ({ ...(size ? { size } : {}), ...(quality ? { quality } : {}) });

function abortWithoutFirstToken(c: AttemptCtx, ms: number): void {
  c.abort(new ProviderError({ kind: "timeout", message: `no first token within ${ms} ms` }));
}

/**
 * Execute a plan for a stream. Before the first content event, failures fall back like unary
 * calls; the first content event is the commit point, announced by a "start" event. After it, a
 * failure ends the stream with a GatewayError saying how much was delivered.
 */
export async function* executeStream(call: ChatCall, plan: Plan, signal: AbortSignal, deps: ExecuteDeps, ex: Execution): AsyncGenerator<RouterStreamEvent> {
  let deltas = 0;
  let chars = 0;
  // What the caller was sent (text, reasoning, refusal, tool names and arguments): the output
  // estimate's basis, its first SAMPLE_CHARS characters kept.
  const sample: string[] = [];
  let sampled = 0;
  let deliveredChars = 0;
  const deliver = (s: string) => {
    deliveredChars += s.length;
    if (sampled < SAMPLE_CHARS) {
      sample.push(s);
      sampled += s.length;
    }
  };
  const estimate: Estimate = { prompt: true, output: () => ({ sample: sample.join(""), chars: deliveredChars }) };
  let ctx: AttemptCtx | undefined;
  let it: AsyncIterator<StreamEvent[]> | undefined;
  let settled = false;
  try {
    const opened = await walk(plan, signal, deps, ex, async (c) => {
      const provider = deps.providers.get(c.candidate.provider.name)!;
      const iter = provider.stream(upstreamRequest(c.candidate), c.signal)[Symbol.asyncIterator]();
      // Cleared by the attempt's cleanup. No closure of this function is kept on the attempt: one
      // that outlives the call here (a cleanup wrapper did) made every stream's objects survive
      // two young collections (bench/alloc.ts PROMOTED=1: 13 KB a stream; now only its usage record).
      c.firstTokenTimer = setTimeout(abortWithoutFirstToken, plan.timeouts.firstTokenMs, c, plan.timeouts.firstTokenMs);
      const early: StreamEvent[] = [];
      try {
        for (;;) {
          const r = await iter.next();
          if (r.done) return { iter, early, rest: [] as StreamEvent[] };
          const batch = r.value;
          for (let i = 0; i < batch.length; i++) {
            const e = batch[i];
            if (isContentEvent(e)) {
              clearTimeout(c.firstTokenTimer);
              c.ttftMs = Math.round(now() - c.startedAt);
              c.trace?.firstToken();
              return { iter, early, rest: batch.slice(i) };
            }
            if (e.type === "usage") {
              c.usage = e.usage;
              c.outputPending = e.outputPending;
            }
            early.push(e);
          }
        }
      } catch (err) {
        iter.return?.().catch(() => {});
        throw err;
      }
    });
    ctx = opened.ctx;
    it = opened.value.iter;
    ex.deployment = ctx.candidate;
    ex.ttftMs = ctx.ttftMs === undefined ? undefined : Math.round(ctx.startedAt - ex.arrivedAt) + ctx.ttftMs;
    let providerModel = "";
    for (const e of opened.value.early) if (e.type === "start" && e.model) providerModel = e.model;
    ex.providerModel = providerModel || ctx.candidate.deployment.model;
    yield { type: "start", candidate: ctx.candidate, providerModel: ex.providerModel, priorAttempts: ex.attempts.slice(0, -1) };

    // Everything after the commit point: content flows straight through, a batch at a time;
    // finish and usage are kept for the end.
    const idleMs = plan.timeouts.idleMs;
    const attemptCtx = ctx;
    const idle = setTimeout(() => attemptCtx.abort(new ProviderError({ kind: "timeout", message: `stream idle for more than ${idleMs} ms` })), idleMs);
    const content = (batch: StreamEvent[]): StreamEvent[] => {
      const out: StreamEvent[] = [];
      for (const e of batch) {
        switch (e.type) {
          case "text":
          case "reasoning":
          case "refusal":
            chars += e.text.length;
            deliver(e.text);
            out.push(e);
            break;
          case "tool_call_start":
            deliver(e.name);
            out.push(e);
            break;
          case "tool_call_delta":
            deliver(e.argumentsDelta);
            out.push(e);
            break;
          // Reasoning replay state and token probabilities: passed on, not delivered text.
          case "reasoning_signature":
          case "reasoning_redacted":
          case "logprobs":
            out.push(e);
            break;
          case "finish":
            ex.finishReason = e.finishReason;
            ex.rawFinishReason = e.rawFinishReason;
            break;
          case "usage":
            attemptCtx.usage = e.usage;
            attemptCtx.outputPending = e.outputPending;
            break;
          case "start":
            if (e.model) ex.providerModel = e.model;
            break;
        }
      }
      return out;
    };
    try {
      // Events before the first content still count: a stream with no content at all ends
      // with its finish reason (length, content filter) taken from here.
      content(opened.value.early);
      // `deltas` counts the delta messages the caller receives (a batch is one message).
      let events = content(opened.value.rest);
      if (events.length) {
        deltas++;
        yield { type: "delta", events };
      }
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        idle.refresh();
        events = content(r.value);
        if (events.length) {
          deltas++;
          yield { type: "delta", events };
        }
      }
    } finally {
      clearTimeout(idle);
    }
    attemptCtx.cleanup();
    settleAttempt(ex, attemptCtx, "succeeded", undefined, estimate);
    settled = true;
    deps.health.end(attemptCtx.candidate.deployment.id, { ok: true, ttftMs: attemptCtx.ttftMs, latencyMs: attemptCtx.record.latencyMs });
    finishSummary(ex);
    yield { type: "finish" };
  } catch (err) {
    if (!ctx || settled) throw err;
    // Failed after the commit point: bill what the provider reported (estimating only what it
    // did not), say what was delivered.
    ctx.cleanup();
    const e = toProviderError(err, ctx.signal);
    const canceled = signal.aborted;
    settleAttempt(ex, ctx, canceled ? "canceled" : "failed", e, estimate);
    settled = true;
    deps.health.end(ctx.candidate.deployment.id, { ok: false, kind: e.kind, cooldown: !canceled && POLICY[e.kind].cooldown });
    finishSummary(ex);
    if (canceled) throw e;
    throw new GatewayError(
      e.kind === "timeout" ? "deadline_exceeded" : "unavailable",
      `stream from ${ctx.candidate.deployment.id} failed after ${deltas} deltas (${chars} characters): ${e.message}`,
      { failureKind: e.kind, attempts: ex.attempts, deliveredDeltas: deltas, deliveredChars: chars, usage: ex.usage, usageEstimated: ex.usageEstimated, cost: ex.cost },
      e,
    );
  } finally {
    // The consumer went away (cancel) or we failed: stop the upstream.
    if (ctx && !settled) {
      ctx.cleanup();
      ctx.abort(new ProviderError({ kind: "canceled", message: "stream consumer went away" }));
      const e = new ProviderError({ kind: "canceled", message: "stream consumer went away" });
      settleAttempt(ex, ctx, "canceled", e, estimate);
      deps.health.end(ctx.candidate.deployment.id, { ok: false, kind: "canceled", cooldown: false });
      finishSummary(ex);
    }
    it?.return?.().catch(() => {});
  }
}

