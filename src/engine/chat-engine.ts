// The one engine behind every front door (ChatService and EmbeddingService over Connect, the
// OpenAI-compatible HTTP endpoints): plan, admit (rate limits, budget), look up the response cache,
// execute with retries and fallbacks, store the answer, record usage whatever the outcome, settle
// the budget. Chat lives here; embeddings (./embed.ts) are a second operation built from the same
// steps. The front doors only translate shapes and errors.

import { trace } from "@opentelemetry/api";
import { answerIdentity, answerTarget, CACHEABLE_FINISH, cacheKey, type CachedAnswer, type CacheStore } from "../cache/cache.ts";
import { createSemanticIndex, semanticIndexName, semanticText, unit, type SemanticIndex } from "../cache/semantic.ts";
import type { SemanticCacheConfig, WebSearchConfig } from "../config/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { buildAdmission, buildSettlement, deploymentAdmission, isUserBudget, refusal, StreamHold, type Admission } from "../limits/admission.ts";
import type { RateStanding } from "../limits/types.ts";
import type { FinishReason, ReasoningBlock, StreamEvent, TokenLogprob, ToolCall, Usage } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import { embedOperation, type EmbedAnswer, type EmbedEngineRequest } from "./embed.ts";
import { searchFilesBefore, type FilesSearched } from "./file-search.ts";
import { rerankOperation, type RerankAnswer, type RerankEngineRequest } from "./rerank.ts";
import { imagesOperation, type ImageAnswer, type ImageEngineRequest } from "./images.ts";
import { moderationOperation, type ModerationAnswer, type ModerationEngineRequest } from "./moderation.ts";
import { searchOperation, type SearchAnswer, type SearchEngineRequest } from "./search.ts";
import { ocrOperation, type OcrAnswer, type OcrEngineRequest } from "./ocr.ts";
import { readPdfs } from "./file-parser.ts";
import { realtimeOperation, type RealtimeAnswer, type RealtimeEngineRequest } from "./realtime.ts";
import { speechOperation, transcriptionOperation, type AudioEngineRequest, type SpeechAnswer, type TranscriptionAnswer } from "./audio.ts";
import { executeSearch, executeStream, executeUnary, newExecution, withFee, type Execution } from "../router/execute.ts";
import { isChat, operationOf, type Adjustment, type AttemptRecord, type Call, type ChatCall, type EmbedCall, type Plan, type RoutingInfo, type SearchCall, type SpeechCall, type TranscriptionCall } from "../router/types.ts";
import { callQuery, citationsIn, expectedSearchNanos, MAX_MODEL_SEARCHES, MAX_SEARCH_TURNS, offerSearch, searchByModel, searchCalls, searchForCall, searchForModel, searched, searchResultText, continueAfterSearch, MAX_WEB_RESULTS, type Citation, type RoutedSearch, type Searched, type SearchResult, type WebSearchOutcome, type WebSearchRequest } from "./web-search.ts";
import { applyRequestContext, newRequestId, type RequestInfo } from "../server/context.ts";
import { log } from "../telemetry/log.ts";
import { attemptObserver, inSpan, planAttributes } from "../telemetry/tracing.ts";
import { answerCheck, billed, guardAnswer, guardInput, guardReplay, guardTexts, hidesLogprobs, LOGPROBS_HIDDEN, schemaFailure, startRun, stopForGuardrail, streamGuard, type GuardrailRun } from "../guardrails/engine.ts";
import type { CostBreakdown } from "../usage/cost.ts";
import type { RequestContent } from "../usage/record.ts";
import { requestContent, type AnswerContent } from "../usage/content.ts";
import { contentAttributes } from "../usage/genai-spans.ts";
import type { MirrorConfig, UsageExportConfig } from "../config/types.ts";
import type { ChatMessage } from "../providers/types.ts";
import { createMirrors, type Mirrors, type PrimaryOutcome } from "./mirror.ts";
import { whenMatches } from "../router/plan.ts";
import { applyPresetToCall } from "../compat/request.ts";

export type CacheMode = "default" | "use" | "bypass" | "refresh";

/**
 * How the cache treated a request: off (not asked for), miss (looked up, stored after), hit
 * (answered from the cache), semantic (answered from the cache by a similar prompt's answer),
 * shared (answered by a concurrent identical request's upstream call), refresh (not looked up,
 * stored after), bypass (neither).
 */
export type CacheStatus = "off" | "miss" | "hit" | "semantic" | "shared" | "refresh" | "bypass";

export interface EngineRequest {
  call: ChatCall;
  ri: RequestInfo;
  signal: AbortSignal;
  cache?: { mode: CacheMode; ttlSeconds?: number };
  /** The status name a failed request is recorded with (front doors see deadlines differently). */
  statusOf(err: unknown): string;
  /** A stream's whole answer, gathered as it passes, is wanted in its finish event (a stored chat completion). */
  gather?: boolean;
  /**
   * Called with the answer's text, and waited for, just before the request's usage record is
   * written (a mirror puts its comparison, and its judge's verdict, in it).
   */
  onAnswer?(text: string): void | Promise<void>;
}

/** A streamed answer as a whole (the finish event's, when the request asked to gather it). */
export type GatheredAnswer = Pick<Answer, "text" | "reasoning" | "refusal" | "toolCalls">;

/** Everything both front doors report at the end of a request. */
export interface Summary {
  deployment: string;
  provider: string;
  providerModel: string;
  finishReason?: FinishReason;
  rawFinishReason?: string;
  usage: Usage;
  usageEstimated: boolean;
  cost: CostBreakdown;
  attempts: AttemptRecord[];
  latencyMs: number;
  ttftMs?: number;
  overheadUs: number;
  cache: CacheStatus;
  /** A semantic hit: the cosine similarity of this prompt's embedding to the cached answer's prompt. */
  cacheSimilarity?: number;
  /** With web search: the results the answer links to (src/engine/web-search.ts); absent without. */
  citations?: Citation[];
  /** With web search: what was searched for and the results' addresses (the Responses API's web_search_call item). */
  webSearch?: Searched;
  /** With file search before the model: what was searched for and the passages found (src/engine/file-search.ts). */
  fileSearch?: FilesSearched;
  /** Changes known only at the end (a stream's output guardrail redactions). */
  adjustments?: Adjustment[];
}

export interface Answer extends Summary {
  /** Where the caller's rate limits stand after this request (x-ratelimit-* headers); absent without limits. */
  limits?: RateStanding[];
  id: string;
  model: string;
  text: string;
  reasoning?: string;
  /** The reasoning with its replay state (Anthropic thinking signatures), also on cache hits of an answer that had it. */
  reasoningBlocks?: ReasoningBlock[];
  refusal?: string;
  toolCalls: ToolCall[];
  /** With request.logprobs, when the deployment returned them (never from the cache). */
  logprobs?: TokenLogprob[];
  routing: RoutingInfo;
  adjustments: Adjustment[];
  traceId: string;
}

export type EngineEvent =
  | {
      type: "start";
      /** As Answer.limits. */
      limits?: RateStanding[];
      id: string;
      model: string;
      deployment: string;
      provider: string;
      providerModel: string;
      routing: RoutingInfo;
      adjustments: Adjustment[];
      priorAttempts: AttemptRecord[];
      traceId: string;
      cache: CacheStatus;
      /** A semantic hit's similarity (cacheSimilarity of the summary). */
      cacheSimilarity?: number;
      /** With web search: what was searched for, before this answer (as the summary's). */
      webSearch?: Searched;
      /** With file search: the passages put before the question (as the summary's). */
      fileSearch?: FilesSearched;
      /**
       * Output guardrails scan this stream: text they hold back comes later than the events beside
       * it (a reasoning signature can precede the end of the thinking it signs), and may be changed.
       */
      outputGuarded?: true;
    }
  | { type: "delta"; events: StreamEvent[] }
  | { type: "finish"; summary: Summary; answer?: GatheredAnswer };

export interface ChatEngine {
  complete(r: EngineRequest): Promise<Answer>;
  stream(r: EngineRequest): AsyncGenerator<EngineEvent>;
  /** Embeddings: the same plan, admission, cache (per input), execution, record and settlement. */
  embed(r: EmbedEngineRequest): Promise<EmbedAnswer>;
  /** Rerank: the same plan, admission, input guardrails, execution, record and settlement. */
  rerank(r: RerankEngineRequest): Promise<RerankAnswer>;
  /** Image generation: the same plan, admission, input guardrails, execution, record and settlement. */
  generateImages(r: ImageEngineRequest): Promise<ImageAnswer>;
  /** Speech to text (and translation into English), then the output guardrails over the transcript. */
  transcribe(r: AudioEngineRequest<TranscriptionCall>): Promise<TranscriptionAnswer>;
  /** Text to speech, after the input guardrails over the text. */
  speak(r: AudioEngineRequest<SpeechCall>): Promise<SpeechAnswer>;
  /** Moderation: one verdict per input. */
  moderate(r: ModerationEngineRequest): Promise<ModerationAnswer>;
  /** Search: each query's results. */
  search(r: SearchEngineRequest): Promise<SearchAnswer>;
  /** OCR: a document's pages as Markdown, billed per page. */
  ocr(r: OcrEngineRequest): Promise<OcrAnswer>;
  /** A Realtime session: planned, admitted and opened once, relayed until it ends, one record. */
  realtime(r: RealtimeEngineRequest): Promise<RealtimeAnswer>;
  /** Traffic mirroring: the comparisons of mirrored requests (src/engine/mirror.ts). */
  readonly mirrors: Mirrors;
}

/** How a request's cache options and its route's cache settings combine (chat and embeddings alike). */
export interface CachePolicy {
  lookup: boolean;
  store: boolean;
  ttlSeconds: number;
  /** Concurrent identical requests share one upstream call (chat only). */
  dedupe: boolean;
  status: CacheStatus;
  /** Whose entries these are: the caller's team, or "*" when the route shares them across teams. */
  scope: string;
  /** The route's semantic cache, when it has one. */
  semanticConfig?: SemanticCacheConfig;
}

/** The cache decision for one request, made after planning (the key needs the resolved model). */
interface CachePlan extends CachePolicy {
  key: string;
  /** The route's semantic cache, when it has one and the request is looked up or stored. */
  semantic?: SemanticPlan;
}

interface SemanticPlan {
  config: SemanticCacheConfig;
  /** The route's index (semanticIndexName). */
  index: string;
  /** The exact key's parts but the messages: team, target, variant, parameters. */
  scope: string;
  /** After the lookup: the prompt's unit vector and the deployment that made it (stored with the answer). */
  vector?: Float32Array;
  deployment?: string;
  similarity?: number;
}

/** Longest TTL a request may ask for. */
export const MAX_CACHE_TTL_SECONDS = 30 * 86_400;
/** Answers replayed as a stream go out in pieces of this many characters. */
const REPLAY_CHUNK = 2048;
/** The most characters of a request's content (prompt and answer together) its span carries (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). */
const SPAN_CONTENT_CHARS = 100_000;

export function createChatEngine(core: GatewayCore, cache: CacheStore, semantic: SemanticIndex = cache.semantic ?? createSemanticIndex()): ChatEngine {
  const warned = new Set<string>();
  /** Concurrent identical requests (routes with cache.dedupe): key → the leader's answer. */
  const inflight = new Map<string, Promise<CachedAnswer | undefined>>();

  /** Rate limits and budget reservation: the one state round trip before the upstream call. */
  async function admit(call: Call, plan: Plan): Promise<Admission | undefined> {
    const a = buildAdmission(core.control.directory, call, plan, Date.now());
    if (!a) return undefined;
    const r = await core.limits.admit(a.request);
    if (!r.ok) {
      if (r.kind === "budget" && !isUserBudget(r.check.id)) {
        const b = r.check;
        core.alerts.emit({
          event: "budget_exhausted",
          budget: b.id,
          period: b.period,
          periodStart: b.periodStart ?? a.request.now,
          spentNanos: r.spentNanos,
          limitNanos: b.limitNanos,
          key: call.caller.keyName,
          team: call.caller.team,
          model: call.model,
        });
      }
      throw refusal(r);
    }
    a.rates = r.rates;
    for (const s of r.soft) {
      if (isUserBudget(s.id)) continue;
      const b = a.request.budgets.find((x) => x.id === s.id);
      const k = `${s.id}:${b?.period}:${b?.periodStart}`;
      if (!warned.has(k)) {
        warned.add(k);
        log("warn", "budget soft threshold reached", { budget: s.id, spent_nano_usd: s.spentNanos, limit_nano_usd: s.limitNanos });
        core.metrics.budgetSoftThreshold(s.id);
        if (b) core.alerts.emit({ event: "budget_soft_threshold", budget: s.id, period: b.period, periodStart: b.periodStart ?? a.request.now, spentNanos: s.spentNanos, limitNanos: s.limitNanos, threshold: b.softThreshold });
      }
    }
    return a;
  }

  /**
   * A deployment at its own rate limit (the provider's) is skipped, not the request: the plan's
   * next candidate serves it. The first check runs alongside the caller's admission (no extra
   * round trip); more only when a deployment is saturated.
   */
  async function admitDeployments(call: Call, plan: Plan): Promise<void> {
    let retryAfterMs = Infinity;
    for (let i = 0; i < plan.candidates.length; ) {
      const req = deploymentAdmission(call, plan, i, Date.now());
      if (!req) return;
      const r = await core.limits.admit(req);
      // What the limiter says of the deployment's limits: the usage strategy orders by it.
      const observe = core.exec.health.observeUsage;
      if (r.ok) {
        if (observe && r.rates?.length) {
          let f = 0;
          for (const s of r.rates) f = Math.max(f, s.used / s.check.limit);
          observe.call(core.exec.health, plan.candidates[i].deployment.id, Math.min(1, f));
        }
        return;
      }
      observe?.call(core.exec.health, plan.candidates[i].deployment.id, 1);
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

  async function admitAll(call: Call, plan: Plan): Promise<Admission | undefined> {
    // A mirror (src/engine/mirror.ts) is not the caller's traffic: only the deployments' own limits apply.
    const [caller, deployments] = await Promise.allSettled([call.mirrorOf !== undefined ? undefined : admit(call, plan), admitDeployments(call, plan)]);
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

  /**
   * An answer no cap cut short teaches its deployment's output p95: what a request without
   * max_output_tokens reserves there next.
   */
  const learnOutput = (exec: GatewayCore["exec"], plan: Plan, ex: Execution) => {
    // The last answer (a turn that only searched comes before it).
    const a = ex.attempts.findLast((x) => x.outcome === "succeeded");
    if (!a || (plan.maxOutputTokens !== undefined && ex.finishReason === "length")) return;
    exec.health.observeOutput?.(a.deployment, a.usage.outputTokens, a.ttftMs !== undefined ? a.latencyMs - a.ttftMs : a.latencyMs);
  };

  /** The request's cache options against its route's settings; undefined when the cache is not involved. */
  function cachePolicy(call: Call, opts: EngineRequest["cache"], plan: Plan): CachePolicy | undefined {
    const mode = opts?.mode ?? "default";
    const route = plan.routing.route ? core.registry.resolve(plan.routing.route) : undefined;
    const rc = route?.kind === "route" ? route.route.cache : undefined;
    const enabled = mode === "use" || mode === "refresh" || (mode === "default" && rc?.enabled === true);
    const dedupe = rc?.dedupe === true && mode !== "bypass" && mode !== "refresh";
    const scope = rc?.shareAcrossTeams ? "*" : call.caller.team;
    if (mode === "bypass") return { lookup: false, store: false, ttlSeconds: 0, dedupe: false, status: "bypass", scope };
    if (!enabled && !dedupe) return undefined;
    // The cache keeps text, not token probabilities: such a request always goes upstream.
    if (isChat(call) && call.request.logprobs) return { lookup: false, store: false, ttlSeconds: 0, dedupe: false, status: "bypass", scope };
    // Nor web results, which are what the web said at that moment.
    // Web results and file passages are of their moment (the web, the stores' files): neither looked up nor stored.
    if (isChat(call) && (call.webSearch || call.fileSearch)) return { lookup: false, store: false, ttlSeconds: 0, dedupe: false, status: "bypass", scope };
    return {
      ...(rc?.semantic ? { semanticConfig: rc.semantic } : {}),
      lookup: enabled && mode !== "refresh",
      store: enabled,
      ttlSeconds: Math.min(MAX_CACHE_TTL_SECONDS, opts?.ttlSeconds || rc?.ttlSeconds || 300),
      dedupe,
      status: mode === "refresh" ? "refresh" : enabled ? "miss" : "off",
      scope,
    };
  }

  function cachePlan(r: EngineRequest, plan: Plan): CachePlan | undefined {
    const p = cachePolicy(r.call, r.cache, plan);
    if (!p || p.status === "bypass") return p && { ...p, key: "" };
    const call = r.call;
    const parts = {
      scope: p.scope,
      ...answerTarget(core.config, plan, call.model),
      request: call.request,
      maxOutputTokens: plan.maxOutputTokens,
    };
    const key = cacheKey(parts);
    // Looked up (a hit may come from a similar prompt), or stored (refresh: the answer is indexed).
    const sem = p.lookup || p.store ? p.semanticConfig : undefined;
    if (!sem) return { ...p, key };
    return {
      ...p,
      key,
      semantic: {
        config: sem,
        index: semanticIndexName(plan.routing.route, answerIdentity(core.config, plan.routing.route)),
        scope: cacheKey({ ...parts, request: { ...call.request, messages: [] } }),
      },
    };
  }

  /**
   * The semantic cache, when the exact key missed: the prompt's text is embedded by the route's
   * embedding deployment (an embeddings request of the caller's own, recorded and billed like any
   * other, its spans under this request's) while the replica's copy of the route's index catches
   * up, and the closest cached prompt of the same team, route, variant and parameters at or above
   * the threshold serves its answer. Runs after the input guardrails (the prompt leaves the
   * gateway); a failure of any part is a miss. A refresh embeds the prompt only, to index the
   * fresh answer.
   */
  async function semanticLookup(r: EngineRequest, routed: Routed): Promise<void> {
    const cp = routed.cp;
    const sp = cp?.semantic;
    if (!sp || routed.cached) return;
    const { call, ri } = r;
    // The prompt as it will leave: the input guardrails' redactions are in the candidates' copies.
    const text = semanticText(routed.plan.candidates[0]?.request.messages ?? call.request.messages);
    if (text === undefined) return;
    const embedCall: EmbedCall = {
      operation: "embeddings",
      id: newRequestId(),
      model: sp.config.embedding,
      // The route's own embedding deployment: not subject to the key's allow list.
      caller: { ...call.caller, allow: [] },
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
      user: call.user,
      tags: call.tags,
      metadata: { ...call.metadata, "signalbox.semantic_cache_for": call.id },
      request: { inputs: [text] },
    };
    const [, embedded] = await Promise.all([
      semantic.sync(sp.index, sp.config.maxEntries),
      embed({ call: embedCall, ri: { ...ri, id: embedCall.id, arrivedAt: performance.now() }, signal: r.signal, statusOf: r.statusOf }).catch((err: unknown) => {
        log("warn", "semantic cache: the prompt could not be embedded; looked up by exact key only", { route: routed.plan.routing.route, embedding: sp.config.embedding, error: String((err as Error)?.message ?? err) });
        return undefined;
      }),
    ]);
    if (!embedded?.embeddings[0]) return;
    sp.vector = unit(embedded.embeddings[0]);
    sp.deployment = embedded.deployment;
    // Refresh: not looked up, only stored (and indexed) after the fresh answer.
    if (!cp.lookup) return;
    const match = semantic.search(sp.index, { scope: sp.scope, deployment: sp.deployment, vector: sp.vector, threshold: sp.config.threshold });
    const found = match && (await cache.get(match.key));
    core.metrics.semanticLookup(routed.plan.routing.route, found !== undefined);
    if (ri.otel) trace.getSpan(ri.otel)?.setAttributes(match ? { "signalbox.cache.similarity": match.similarity } : {});
    if (!found || !match) return;
    routed.cached = found;
    sp.similarity = match.similarity;
    cp.status = "semantic";
    if (ri.otel) trace.getSpan(ri.otel)?.setAttribute("signalbox.cache", "semantic");
  }

  /** Store an answer, and index its prompt when the route has a semantic cache. */
  function store(cp: CachePlan, answer: CachedAnswer): void {
    cache.set(cp.key, answer, cp.ttlSeconds);
    const sp = cp.semantic;
    if (sp?.vector && sp.deployment) {
      semantic.add(sp.index, { scope: sp.scope, deployment: sp.deployment, key: cp.key, vector: sp.vector, expires: Date.now() + cp.ttlSeconds * 1000 }, sp.config.maxEntries);
    }
  }

  interface Routed {
    plan: Plan;
    /** The executor's dependencies of the config the plan was made from (a reload may swap core's). */
    exec: GatewayCore["exec"];
    admission: Admission | undefined;
    cp: CachePlan | undefined;
    cached: CachedAnswer | undefined;
    /** The guardrails this request runs, when any applies. */
    guard: GuardrailRun | undefined;
    /** Log probabilities were asked for and an output guardrail rewrites text: they are withheld (the plan says so). */
    hideLogprobs: boolean;
    /** The route's traffic mirroring, when it has one and this request may be mirrored. */
    mirror: MirrorConfig | undefined;
  }

  /**
   * Plan, then admit and look up the cache side by side (one round trip's wait), each in its own
   * span when tracing; attempts get spans through the observer.
   */
  async function route(r: EngineRequest, ex: Execution): Promise<Routed> {
    const { call, ri } = r;
    // A preset named on a door that does not apply them itself (the OpenAI-compatible endpoint does).
    if (call.model.includes("@preset/")) applyPresetToCall(call, core.config.presets);
    // PDFs read into text first (file-parser.ts): the plan then needs no vision for them.
    if (isChat(call) && call.pdfReader) await readPdfs(call, call.pdfReader, { engine, ri, signal: r.signal, statusOf: r.statusOf });
    // Read in the same synchronous step as planning: a config reload swaps both at once.
    const exec = core.exec;
    const guardrails = core.guardrails;
    const plan = await planTraced(call, ri, ex);
    // A web search's price is held with the tokens' cost.
    if (isChat(call) && call.webSearch && core.config.webSearch) plan.feeNanos = expectedWebSearchNanos(core.config.webSearch, call);
    // Before any state round trip: a guardrail the request names must exist.
    const selected = guardrails.select(call, plan.routing.route);
    const cp = cachePlan(r, plan);
    const lookup = cp?.lookup ? cache.get(cp.key) : undefined;
    const admission = await admitTraced(call, ri, plan);
    const cached = lookup ? await lookup : undefined;
    if (cp) {
      if (cached) cp.status = "hit";
      if (ri.otel) trace.getSpan(ri.otel)?.setAttribute("signalbox.cache", cp.status);
    }
    const guard = selected && startRun(selected);
    const hideLogprobs = call.request.logprobs === true && guard !== undefined && hidesLogprobs(guard);
    if (hideLogprobs) plan.adjustments.push(LOGPROBS_HIDDEN);
    return { plan, exec, admission, cp, cached, guard, hideLogprobs, mirror: mirrorOf(call, plan) };
  }

  /** The plan's adjustments (caps) and those of the deployment that answered (parameters it does not accept). */
  const adjustmentsOf = (plan: Plan | undefined, ex: Execution): Adjustment[] => {
    const own = ex.deployment?.adjustments ?? [];
    return own.length === 0 ? (plan?.adjustments ?? []) : [...(plan?.adjustments ?? []), ...own];
  };

  /** The output guardrails' redactions after the other adjustments. */
  const withOutput = (adjustments: Adjustment[], guard: GuardrailRun | undefined): Adjustment[] => {
    const out = guard?.adjustments("output");
    return out?.length ? [...adjustments, ...out] : adjustments;
  };

  /**
   * The most characters per text that the content-capturing usage exports keep (src/usage/content.ts);
   * undefined when none captures content, the usual case, or the request said `no_log`: nothing is
   * gathered or built for it.
   */
  // The request spans carry the content too when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks (fixed for the process).
  const spanChars = core.tracing?.captureContent ? SPAN_CONTENT_CHARS : undefined;
  let captureOf: readonly UsageExportConfig[] | undefined;
  let captureMax: number | undefined = spanChars;
  const captureChars = (call: Call): number | undefined => {
    const exports = core.config.usageExport;
    // A request may ask that its text be kept out of them (metadata no_log, as LiteLLM's no-log).
    if ((exports === undefined && spanChars === undefined) || !(isChat(call) || call.operation === "search" || call.operation === "ocr") || call.metadata.no_log === "true") return undefined;
    // Worked out once per configuration (a reload makes a new list).
    if (exports !== captureOf) {
      captureOf = exports;
      captureMax = spanChars;
      for (const e of exports ?? []) if (e.captureContent) captureMax = Math.max(captureMax ?? 0, e.maxContentChars ?? 0);
    }
    return captureMax;
  };

  /** A chat request's content for those exports: the messages as sent (with the input guardrails' redactions), the answer when there is one. */
  const contentOf = (call: Call, plan: Plan | undefined, guard: GuardrailRun | undefined, answer: AnswerContent | undefined, maxChars: number | undefined): RequestContent | undefined =>
    maxChars === undefined || !isChat(call) ? undefined : requestContent(plan ? mirrorMessages(call, plan, guard) : call.request.messages, call.request, answer, maxChars);

  /** Record the request's usage; called exactly once per request, success or not. */
  function record(r: { call: Call; ri: RequestInfo }, plan: Plan | undefined, ex: Execution, status: string, err: unknown, hit?: Served, guard?: GuardrailRun, content?: RequestContent) {
    const { call, ri } = r;
    const guardrails = guard?.actions();
    guard?.trace(ri.otel);
    const last = ex.attempts[ex.attempts.length - 1];
    core.usage.record({
      id: call.id,
      time: Date.now(),
      operation: operationOf(call),
      key: call.caller.keyName,
      team: call.caller.team,
      user: call.user ?? "",
      model: call.model,
      routing: plan?.routing ?? { route: "", alias: "", strategy: "", variant: "" },
      deployment: hit?.deployment ?? ex.deployment?.deployment.id ?? last?.deployment ?? "",
      provider: hit?.provider ?? ex.deployment?.provider.name ?? last?.provider ?? "",
      attempts: ex.attempts,
      usage: ex.usage,
      usageEstimated: ex.usageEstimated,
      cost: ex.cost,
      latencyMs: ex.latencyMs,
      ttftMs: ex.ttftMs,
      overheadUs: Math.max(0, ex.overheadUs),
      cacheHit: hit !== undefined,
      ...(hit ? { cacheKind: hit.kind ?? "exact" } : {}),
      status,
      failureKind: err instanceof GatewayError ? err.details.failureKind : undefined,
      refusal: err instanceof GatewayError ? err.details.refusal : undefined,
      finishReason: hit?.finishReason ?? ex.finishReason,
      traceId: ri.traceId,
      spanId: ri.otel ? trace.getSpan(ri.otel)?.spanContext().spanId : undefined,
      tags: call.tags,
      metadata: call.metadata,
      streamed: isChat(call) && call.stream,
      adjustments: withOutput(hit ? (plan?.adjustments ?? []) : adjustmentsOf(plan, ex), guard),
      ...(guardrails?.length ? { guardrails } : {}),
    }, content);
    // On the request's span, as the GenAI conventions have it (the span is still open: it ends with the response).
    if (content && spanChars !== undefined && ri.otel) trace.getSpan(ri.otel)?.setAttributes(contentAttributes(content, hit?.finishReason ?? ex.finishReason, status === "ok"));
  }

  /** A hit (or a shared answer) as an execution: no attempts, no tokens, no cost. */
  function servedFromCache(ex: Execution, a: Served & { providerModel: string; rawFinishReason?: string }): void {
    ex.latencyMs = Math.round(performance.now() - ex.arrivedAt);
    ex.overheadUs = Math.round((performance.now() - ex.arrivedAt) * 1000);
    ex.ttftMs = ex.latencyMs;
    ex.providerModel = a.providerModel;
    ex.finishReason = a.finishReason;
    ex.rawFinishReason = a.rawFinishReason;
  }

  /**
   * Where the answer comes from: the cache (a hit), a concurrent identical request already
   * upstream (shared, when the route de-duplicates), or this request's own upstream call. When
   * this request leads for its key, `done` must be called with its answer (or undefined).
   */
  async function source(routed: Routed, signal: AbortSignal): Promise<{ hit?: CachedAnswer; status: CacheStatus; done?: (a: CachedAnswer | undefined) => void }> {
    const cp = routed.cp;
    const status: CacheStatus = cp?.status ?? "off";
    if (routed.cached || !cp?.dedupe) return { hit: routed.cached, status };
    const running = inflight.get(cp.key);
    if (running) {
      const hit = await untilAborted(running, signal);
      return hit ? { hit, status: "shared" } : { status };
    }
    let resolve!: (a: CachedAnswer | undefined) => void;
    const p = new Promise<CachedAnswer | undefined>((r) => (resolve = r));
    inflight.set(cp.key, p);
    const done = (a: CachedAnswer | undefined) => {
      if (inflight.get(cp.key) === p) inflight.delete(cp.key);
      resolve(a);
    };
    return { status, done };
  }

  function summary(ex: Execution, status: CacheStatus, hit?: CachedAnswer, similarity?: number): Summary {
    return {
      ...(similarity !== undefined ? { cacheSimilarity: similarity } : {}),
      deployment: hit?.deployment ?? ex.deployment?.deployment.id ?? "",
      provider: hit?.provider ?? ex.deployment?.provider.name ?? "",
      providerModel: ex.providerModel,
      finishReason: ex.finishReason,
      rawFinishReason: ex.rawFinishReason,
      usage: ex.usage,
      usageEstimated: ex.usageEstimated,
      cost: ex.cost,
      attempts: ex.attempts,
      latencyMs: ex.latencyMs,
      ttftMs: ex.ttftMs,
      overheadUs: Math.max(0, ex.overheadUs),
      cache: status,
    };
  }

  function toCached(ex: Execution, text: string, reasoning: string | undefined, refusal: string | undefined, toolCalls: ToolCall[], reasoningBlocks?: ReasoningBlock[]): CachedAnswer | undefined {
    if (!ex.deployment || !CACHEABLE_FINISH.has(ex.finishReason)) return undefined;
    return answerOf(ex, text, reasoning, refusal, toolCalls, reasoningBlocks);
  }

  /** A whole answer of an execution that succeeded, in the cache's form (what replay() streams). */
  function answerOf(ex: Execution, text: string, reasoning: string | undefined, refusal: string | undefined, toolCalls: ToolCall[], reasoningBlocks?: ReasoningBlock[]): CachedAnswer {
    return {
      deployment: ex.deployment!.deployment.id,
      provider: ex.deployment!.provider.name,
      providerModel: ex.providerModel,
      text,
      ...(reasoning ? { reasoning } : {}),
      ...(reasoningBlocks?.length ? { reasoningBlocks } : {}),
      ...(refusal ? { refusal } : {}),
      toolCalls,
      finishReason: ex.finishReason!,
      rawFinishReason: ex.rawFinishReason ?? "",
      usage: ex.usage,
      storedAt: Date.now(),
    };
  }

  /** Traced planning (a `route {model}` span) with attempt spans through the observer. */
  function planTraced(call: Call, ri: RequestInfo, ex: Execution): Plan | Promise<Plan> {
    if (ri.context) applyRequestContext(call, ri.context);
    const tracer = core.tracing?.tracer;
    if (!tracer || !ri.otel) return core.plan(call);
    ex.observer = attemptObserver(tracer, ri.otel, operationOf(call));
    return inSpan(tracer, ri.otel, `route ${call.model}`, { "signalbox.request.model": call.model }, () => core.plan(call), planAttributes);
  }

  /** Admission, in a `limits.check` span when tracing. */
  function admitTraced(call: Call, ri: RequestInfo, plan: Plan): Promise<Admission | undefined> {
    const tracer = core.tracing?.tracer;
    if (!tracer || !ri.otel) return admitAll(call, plan);
    return inSpan(tracer, ri.otel, "limits.check", { "signalbox.key": call.caller.keyName, "signalbox.team": call.caller.team }, () => admitAll(call, plan), (span, a) =>
      span.setAttributes({ "signalbox.rate_checks": a?.request.rates.length ?? 0, "signalbox.budget_checks": a?.request.budgets.length ?? 0 }),
    );
  }

  /** The configured guardrails over each search result (web_search.guardrails), or undefined. */
  function resultScreen(cfg: GatewayCore["config"]["webSearch"], r: EngineRequest) {
    // Read with the config in force now: a reload swaps both together.
    const selection = cfg?.guardrails?.length ? core.guardrails.named(cfg.guardrails) : undefined;
    return selection
      ? async (results: SearchResult[]) => {
          const kept: SearchResult[] = [];
          const dropped: string[] = [];
          let redacted = 0;
          for (const res of results) {
            // Each result on its own: a block leaves that one out, not the request.
            const run = startRun(selection);
            try {
              const [title, text] = await guardTexts(run, "output", [res.title, res.text], r.signal);
              if (title !== res.title || text !== res.text) redacted++;
              kept.push({ ...res, title, text });
            } catch (err) {
              if (!(err instanceof GatewayError && err.details.guardrail)) throw err;
              dropped.push(err.message.replace("blocked the answer", "blocked it"));
            } finally {
              run.trace(r.ri.otel);
            }
          }
          return { kept, dropped, redacted };
        }
      : undefined;
  }

  /**
   * The search a web search makes through `web_search.model`: the caller's, outside its allow list
   * (the platform chose the model, not the caller), with the request's data policy (provider
   * preferences), for the same results the engine would be asked for.
   */
  function webSearchCall(cfg: WebSearchConfig, call: ChatCall, query: string, n: number, ws: WebSearchRequest): SearchCall {
    return {
      operation: "search",
      id: call.id,
      model: cfg.model!,
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false, ...(call.routing.providers ? { providers: call.routing.providers } : {}) },
      tags: [],
      metadata: {},
      caller: { ...call.caller, allow: [] },
      request: {
        queries: [query],
        maxResults: n,
        maxCharacters: cfg.maxCharacters,
        ...(ws.allowedDomains?.length ? { allowedDomains: ws.allowedDomains } : {}),
        ...(ws.blockedDomains?.length ? { blockedDomains: ws.blockedDomains } : {}),
        ...(ws.country ? { country: ws.country } : {}),
        ...(ws.publishedAfter ? { publishedAfter: ws.publishedAfter } : {}),
        ...(ws.publishedBefore ? { publishedBefore: ws.publishedBefore } : {}),
      },
    };
  }

  /** With `web_search.model`: each search planned and executed as /v1/search's are (fallbacks, cooldowns, each engine's price), billed with the request. */
  function routedSearch(cfg: WebSearchConfig | undefined, call: ChatCall): RoutedSearch | undefined {
    if (!cfg?.model) return undefined;
    return async (query, n, ws, signal, otel) => {
      const search = webSearchCall(cfg, call, query, n, ws);
      const plan = core.plan(search);
      const ex = newExecution(performance.now());
      // Each engine tried is a CLIENT span of its own under the `web_search` span, as a model's attempts are.
      const tracer = core.tracing?.tracer;
      if (tracer && otel) ex.observer = attemptObserver(tracer, otel, "search");
      const out = await executeSearch(search, plan, signal, core.exec, ex);
      const c = ex.deployment!;
      return {
        results: out.results.map((h) => ({ title: h.title, url: h.url, text: h.snippet, ...(h.published ? { published: h.published } : {}) })),
        costNanos: ex.cost.total,
        engine: c.provider.type,
        deployment: c.deployment.id,
        attempts: ex.attempts.length,
      };
    };
  }

  /** What a web search is expected to cost, held by admission: the configured prices, or the costliest search deployment of `web_search.model`. */
  function expectedWebSearchNanos(cfg: WebSearchConfig, call: ChatCall): number {
    const ws = call.webSearch!;
    if (!cfg.model || ws.memo?.outcome) return expectedSearchNanos(cfg, ws);
    try {
      const p = core.plan(webSearchCall(cfg, call, "web search", Math.min(ws.maxResults ?? cfg.maxResults, MAX_WEB_RESULTS), ws));
      return Math.max(0, ...p.candidates.map((c) => c.expectedCostNanos));
    } catch {
      // No search deployment can serve it: the search will fail (and say so), costing nothing.
      return 0;
    }
  }

  /** Web results for a call that asks for them, in every candidate's prompt; what they cost is billed with the request. */
  async function webSearch(call: ChatCall, plan: Plan, ex: Execution, r: EngineRequest): Promise<WebSearchOutcome | undefined> {
    const cfg = core.config.webSearch;
    const screen = resultScreen(cfg, r);
    const web = await searchForCall(cfg, call, plan, r.signal, core.tracing?.tracer, r.ri.otel, undefined, screen, routedSearch(cfg, call)).catch((err) => {
      if (cfg && !r.signal.aborted && err instanceof GatewayError && err.code === "unavailable") core.metrics.webSearch(cfg.engine, "failed", 0);
      throw err;
    });
    if (web && !web.reused) core.metrics.webSearch(web.engine, web.failed ? "failed" : "ok", web.results.length);
    if (web?.costNanos) ex.cost = withFee(ex.cost, web.costNanos);
    return web;
  }

  /**
   * The searches a model asked for (its calls of the search function, at most the request's
   * max_uses): each one billed with the request and counted; the conversation continued with their
   * results for the next turn. Returns what they found, together (the first query; every result).
   */
  async function modelSearches(call: ChatCall, plan: Plan, ex: Execution, r: EngineRequest, turn: { text: string; reasoningBlocks?: ReasoningBlock[] }, calls: ToolCall[], before?: WebSearchOutcome, last = true): Promise<WebSearchOutcome> {
    const cfg = core.config.webSearch!;
    const screen = resultScreen(cfg, r);
    // max_uses counts every search of the request, whatever turn made it.
    const limit = call.webSearch?.maxUses ?? MAX_MODEL_SEARCHES;
    const all: WebSearchOutcome = before ?? { engine: cfg.engine, query: "", results: [], costNanos: 0, searches: 0, each: [] };
    const answers: { call: ToolCall; text: string }[] = [];
    for (const c of calls) {
      const query = callQuery(c);
      if (!query) {
        answers.push({ call: c, text: "The search needs a query (its arguments: {\"query\": \"…\"})." });
        continue;
      }
      if (all.searches! >= limit) {
        answers.push({ call: c, text: `No more searches in this request (max_uses ${limit}): answer with the results you have.` });
        continue;
      }
      const o = await searchForModel(cfg, call, plan, query, r.signal, core.tracing?.tracer, r.ri.otel, screen, routedSearch(cfg, call)).catch((err) => {
        if (!r.signal.aborted && err instanceof GatewayError && err.code === "unavailable") core.metrics.webSearch(cfg.engine, "failed", 0);
        throw err;
      });
      core.metrics.webSearch(o.engine, o.failed ? "failed" : "ok", o.results.length);
      if (o.costNanos) ex.cost = withFee(ex.cost, o.costNanos);
      all.searches! += 1;
      all.query ||= query;
      all.costNanos += o.costNanos;
      for (const res of o.results) if (!all.results.some((x) => x.url === res.url)) all.results.push(res);
      if (o.failed && !all.results.length) all.failed = o.failed;
      (all.each ??= []).push({ query, results: o.results, ...(o.failed ? { failed: true } : {}) });
      answers.push({ call: c, text: searchResultText(o) });
    }
    // With every search used, the next turn answers whatever turn this is.
    continueAfterSearch(plan, turn, answers, last || all.searches! >= limit);
    return all;
  }

  /** The route's mirror, unless the request is a mirror itself or searches (web or files) before its model. */
  function mirrorOf(call: ChatCall, plan: Plan): MirrorConfig | undefined {
    if (!plan.routing.route || call.mirrorOf !== undefined || call.webSearch || call.fileSearch) return undefined;
    const rr = core.registry.resolve(plan.routing.route);
    const m = rr?.kind === "route" ? rr.route.mirror : undefined;
    // Only the requests its `when` names (a team whose prompts must not reach the candidate is left out).
    return m && (!m.when || whenMatches(m.when, call)) ? m : undefined;
  }

  /** The prompt a mirror is sent: as it left for the route's deployments (the input guardrails' redactions in it). */
  const mirrorMessages = (call: ChatCall, plan: Plan, guard: GuardrailRun | undefined): ChatMessage[] => (guard ? (plan.candidates[0]?.request.messages ?? call.request.messages) : call.request.messages);

  /** How the route's own request ended, for its mirror's comparison. */
  const primaryOf = (call: ChatCall, ex: Execution, status: string, text: string | undefined, servedBy?: string): PrimaryOutcome => ({
    id: call.id,
    status,
    deployment: servedBy ?? ex.deployment?.deployment.id ?? "",
    latencyMs: ex.latencyMs,
    // Time to first token of a stream (a unary answer's is its latency).
    ...(call.stream && ex.ttftMs !== undefined ? { ttftMs: ex.ttftMs } : {}),
    outputTokens: ex.usage.outputTokens,
    costNanos: ex.cost.total,
    ...(text !== undefined ? { text } : {}),
  });

  const parts: EngineParts = { core, cache, planTraced, admitTraced, cachePolicy, record, captureChars, servedFromCache, settle };
  const embed = embedOperation(parts);
  const mirrors = createMirrors(core, () => engine);

  const engine: ChatEngine = {
    mirrors,
    embed,
    rerank: rerankOperation(parts),
    generateImages: imagesOperation(parts),
    transcribe: transcriptionOperation(parts),
    speak: speechOperation(parts),
    moderate: moderationOperation(parts),
    search: searchOperation(parts),
    ocr: ocrOperation(parts),
    realtime: realtimeOperation(parts),

    async complete(r) {
      const { call, ri } = r;
      let plan: Plan | undefined;
      let admission: Admission | undefined;
      let done: ((a: CachedAnswer | undefined) => void) | undefined;
      let stored: CachedAnswer | undefined;
      let guard: GuardrailRun | undefined;
      const ex = newExecution(ri.arrivedAt);
      // With a mirror: the prompt it is sent (once the input guardrails passed), and how this request ended.
      let mirror: { cfg: MirrorConfig; messages: ChatMessage[] } | undefined;
      let status = "ok";
      let answered: string | undefined;
      let servedBy: string | undefined;
      const capture = captureChars(call);
      try {
        const routed = await route(r, ex);
        plan = routed.plan;
        admission = routed.admission;
        guard = routed.guard;
        const hideLogprobs = routed.hideLogprobs;
        // Input guardrails: nothing reaches a provider (nor the cache) when one blocks.
        if (guard) await guardInput(guard, plan, call.request, r.signal);
        if (routed.mirror) mirror = { cfg: routed.mirror, messages: mirrorMessages(call, plan, guard) };
        // A hosted search tool: the model decides (offered a function); else the search runs before it.
        const byModel = isChat(call) && searchByModel(call, plan) && core.config.webSearch !== undefined;
        let web = call.webSearch && !byModel ? await webSearch(call, plan, ex, r) : undefined;
        const files = isChat(call) && call.fileSearch ? await searchFilesBefore(core.vectors, call, plan, ri, r.signal) : undefined;
        if (byModel) offerSearch(plan);
        if (routed.cp?.semantic) await semanticLookup(r, routed);
        const cp = routed.cp;
        const src = await source(routed, r.signal);
        const { hit, status } = src;
        done = src.done;
        if (hit) {
          servedFromCache(ex, hit);
          const a = guard ? await guardAnswer(guard, hit, r.signal) : hit;
          answered = a.text;
          servedBy = hit.deployment;
          if (r.onAnswer) await r.onAnswer(a.text);
          record(r, plan, ex, "ok", undefined, { deployment: hit.deployment, provider: hit.provider, finishReason: hit.finishReason, kind: hitKind(status) }, guard, contentOf(call, plan, guard, a, capture));
          return {
            ...summary(ex, status, hit, cp?.semantic?.similarity),
            ...(admission?.rates?.length ? { limits: admission.rates } : {}),
            id: call.id,
            model: call.model,
            text: a.text,
            reasoning: a.reasoning,
            ...(hit.reasoningBlocks ? { reasoningBlocks: hit.reasoningBlocks } : {}),
            refusal: a.refusal,
            toolCalls: a.toolCalls,
            routing: plan.routing,
            adjustments: withOutput(plan.adjustments, guard),
            traceId: ri.traceId,
          };
        }
        const check = guard && answerCheck(guard, call.request.responseFormat);
        const planned = plan;
        const run = (vet = check) =>
          executeUnary(call, planned, r.signal, routed.exec, ex, vet).catch((err) => {
            throw schemaFailure(guard, err);
          });
        // A turn that only searches has no answer for json_schema to check.
        const vetSearching = byModel && check ? (res: Parameters<NonNullable<typeof check>>[0], c: Parameters<NonNullable<typeof check>>[1], x: Parameters<NonNullable<typeof check>>[2]) => (searchCalls(res.toolCalls).length ? undefined : check(res, c, x)) : check;
        let o = await run(vetSearching);
        // The model searched: its searches run and it is asked again with their results, searching
        // again if it likes for MAX_SEARCH_TURNS turns, after which the next turn answers.
        for (let turn = 1, asked = byModel ? searchCalls(o.toolCalls) : []; asked.length; turn++) {
          const last = turn >= MAX_SEARCH_TURNS;
          web = await modelSearches(call, planned, ex, r, o, asked, web, last);
          const answering = planned.candidates[0]?.request.toolChoice?.type === "none";
          o = await run(answering ? check : vetSearching);
          asked = answering ? [] : searchCalls(o.toolCalls);
        }
        learnOutput(routed.exec, plan, ex);
        // Output guardrails on the whole answer: a block is an error instead of it (still billed).
        if (guard) o = await guardAnswer(guard, o, r.signal).catch((err) => {
          throw billed(err, ex);
        });
        answered = o.text;
        if (r.onAnswer) await r.onAnswer(o.text);
        record(r, plan, ex, "ok", undefined, undefined, guard, contentOf(call, plan, guard, o, capture));
        if (cp?.store || done) {
          stored = toCached(ex, o.text, o.reasoning, o.refusal, o.toolCalls, o.reasoningBlocks);
          if (stored && cp?.store) store(cp, stored);
        }
        return {
          ...summary(ex, status),
          ...(web ? { citations: citationsIn(o.text, web.results), ...(web.reused ? {} : { webSearch: searched(web) }) } : {}),
          ...(files ? { fileSearch: files } : {}),
          ...(admission?.rates?.length ? { limits: admission.rates } : {}),
          id: call.id,
          model: call.model,
          text: o.text,
          reasoning: o.reasoning,
          ...(o.reasoningBlocks ? { reasoningBlocks: o.reasoningBlocks } : {}),
          refusal: o.refusal,
          toolCalls: o.toolCalls,
          ...(o.logprobs && !hideLogprobs ? { logprobs: o.logprobs } : {}),
          routing: plan.routing,
          adjustments: withOutput(adjustmentsOf(plan, ex), guard),
          traceId: ri.traceId,
        };
      } catch (err) {
        status = r.statusOf(err);
        record(r, plan, ex, status, err, undefined, guard, contentOf(call, plan, guard, undefined, capture));
        throw err;
      } finally {
        done?.(stored);
        settle(admission, ex);
        if (mirror && plan) void mirrors.after(r, plan.routing.route, mirror.cfg, mirror.messages, primaryOf(call, ex, status, answered, servedBy));
      }
    },

    async *stream(r) {
      const { call, ri } = r;
      let plan: Plan | undefined;
      let admission: Admission | undefined;
      let done: ((a: CachedAnswer | undefined) => void) | undefined;
      let stored: CachedAnswer | undefined;
      let hit: CachedAnswer | undefined;
      let hitStatus: CacheStatus = "hit";
      const ex = newExecution(ri.arrivedAt);
      let status = "ok";
      let failure: unknown;
      let finished = false;
      let guard: GuardrailRun | undefined;
      let mirror: { cfg: MirrorConfig; messages: ChatMessage[] } | undefined;
      let answered: string | undefined;
      const capture = captureChars(call);
      // With a content-capturing export: the answer so far (all of it once finished, what was sent when cut off).
      let sofar: (() => AnswerContent) | undefined;
      try {
        const routed = await route(r, ex);
        plan = routed.plan;
        admission = routed.admission;
        guard = routed.guard;
        const hideLogprobs = routed.hideLogprobs;
        // Input guardrails: nothing reaches a provider (nor the cache) when one blocks.
        if (guard) await guardInput(guard, plan, call.request, r.signal);
        if (routed.mirror) mirror = { cfg: routed.mirror, messages: mirrorMessages(call, plan, guard) };
        // Output guardrails run inside the stream.
        const sg = guard && streamGuard(guard, call.request.responseFormat);
        // A hosted search tool: the model decides (offered a function), unless output guardrails
        // hold the stream back; else the search runs before it.
        const byModel = !sg && searchByModel(call, plan) && core.config.webSearch !== undefined;
        let web = call.webSearch && !byModel ? await webSearch(call, plan, ex, r) : undefined;
        const files = call.fileSearch ? await searchFilesBefore(core.vectors, call, plan, ri, r.signal) : undefined;
        if (routed.cp?.semantic) await semanticLookup(r, routed);
        const cp = routed.cp;
        const src = await source(routed, r.signal);
        hit = src.hit;
        const cacheStatus = src.status;
        hitStatus = cacheStatus;
        done = src.done;
        if (byModel && !hit) {
          // The turns that decide run whole; once the model must answer (or the searches ran out),
          // the next turn is the streamed answer.
          offerSearch(plan);
          for (let turn = 1; ; turn++) {
            const first = await executeUnary(call, plan, r.signal, routed.exec, ex);
            const asked = searchCalls(first.toolCalls);
            if (!asked.length) {
              // It answered without searching (again): that answer, as a stream.
              const c = ex.deployment!;
              const w = web ? searched(web) : undefined;
              yield { type: "start", ...(w ? { webSearch: w } : {}), ...(files ? { fileSearch: files } : {}), ...(admission?.rates?.length ? { limits: admission.rates } : {}), id: call.id, model: call.model, routing: plan.routing, adjustments: c.adjustments.length ? [...plan.adjustments, ...c.adjustments] : plan.adjustments, traceId: ri.traceId, cache: cacheStatus, deployment: c.deployment.id, provider: c.provider.name, providerModel: ex.providerModel, priorAttempts: ex.attempts.slice(0, -1) };
              for (const events of replay(answerOf(ex, first.text, first.reasoning, first.refusal, first.toolCalls, first.reasoningBlocks))) yield { type: "delta", events };
              finished = true;
              answered = first.text;
              if (r.onAnswer) await r.onAnswer(first.text);
              learnOutput(routed.exec, plan, ex);
              yield { type: "finish", summary: { ...summary(ex, cacheStatus), adjustments: withOutput([], guard), ...(web ? { citations: citationsIn(first.text, web.results), webSearch: w } : {}), ...(files ? { fileSearch: files } : {}) }, ...(r.gather ? { answer: gatheredAnswer(first.text, first.reasoning, first.refusal, first.toolCalls) } : {}) };
              return;
            }
            web = await modelSearches(call, plan, ex, r, first, asked, web, turn >= MAX_SEARCH_TURNS);
            if (plan.candidates[0]?.request.toolChoice?.type === "none") break;
          }
        }
        const start = { type: "start" as const, ...(web && !web.reused ? { webSearch: searched(web) } : {}), ...(files ? { fileSearch: files } : {}), ...(admission?.rates?.length ? { limits: admission.rates } : {}), id: call.id, model: call.model, routing: plan.routing, adjustments: plan.adjustments, traceId: ri.traceId, cache: cacheStatus, ...(cp?.semantic?.similarity !== undefined ? { cacheSimilarity: cp.semantic.similarity } : {}), ...(sg ? { outputGuarded: true as const } : {}) };
        if (hit) {
          servedFromCache(ex, hit);
          const batches = sg ? await guardReplay(sg, replay(hit), r.signal) : replay(hit);
          yield { ...start, deployment: hit.deployment, provider: hit.provider, providerModel: hit.providerModel, priorAttempts: [] };
          for (const events of batches) yield { type: "delta", events };
          finished = true;
          answered = hit.text;
          if (r.onAnswer) await r.onAnswer(hit.text);
          yield { type: "finish", summary: { ...summary(ex, cacheStatus, hit, cp?.semantic?.similarity), adjustments: withOutput([], guard) }, ...(r.gather ? { answer: gatheredAnswer(hit.text, hit.reasoning, hit.refusal, hit.toolCalls) } : {}) };
          return;
        }
        // Collect the answer as it passes, only when it is to be stored, shared or handed on whole.
        const collect = cp?.store || done !== undefined || r.gather || web !== undefined || mirror !== undefined || capture !== undefined;
        let text = "";
        let reasoning = "";
        let refusal = "";
        const toolCalls: ToolCall[] = [];
        // Reasoning blocks with their replay state, when a signature or a redacted block came by.
        const blocks: ReasoningBlock[] = [];
        let blockText = "";
        let replayState = false;
        if (capture !== undefined) sofar = () => ({ text, toolCalls: toolCalls.filter(Boolean), refusal, reasoning });
        const gather = (events: StreamEvent[]) => {
          for (const e of events) {
            if (e.type === "text") text += e.text;
            else if (e.type === "reasoning") {
              reasoning += e.text;
              blockText += e.text;
            } else if (e.type === "reasoning_signature") {
              blocks.push({ text: blockText, signature: e.signature });
              blockText = "";
              replayState = true;
            } else if (e.type === "reasoning_redacted") {
              if (blockText) blocks.push({ text: blockText });
              blocks.push({ text: "", redacted: e.data });
              blockText = "";
              replayState = true;
            } else if (e.type === "refusal") refusal += e.text;
            else if (e.type === "tool_call_start") toolCalls[e.index] = { id: e.id, name: e.name, arguments: "", ...(e.signature ? { signature: e.signature } : {}) };
            else if (e.type === "tool_call_delta" && toolCalls[e.index]) toolCalls[e.index].arguments += e.argumentsDelta;
          }
        };
        // The budget hold follows the output: extended in steps as the answer outgrows it.
        const hold = admission?.request.budgets.length ? new StreamHold(core.limits, admission) : undefined;
        const upstream = executeStream(call, plan, r.signal, routed.exec, ex);
        // With output guardrails the start waits for the first content they let through: a block
        // before it is an error the caller sees instead of a stream.
        let held: EngineEvent | undefined;
        for await (let ev of upstream) {
          if (ev.type === "delta") {
            const grow = hold?.delta(ev.events);
            if (grow) await grow;
            if (hideLogprobs) {
              const events = ev.events.filter((e) => e.type !== "logprobs");
              if (events.length === 0) continue;
              ev = { type: "delta", events };
            }
            if (sg) {
              let events: StreamEvent[];
              try {
                events = sg.batch(ev.events);
              } catch (err) {
                throw await stopForGuardrail(upstream, err, ex);
              }
              if (events.length === 0) continue;
              ev = { type: "delta", events };
              if (held) yield held;
              held = undefined;
            }
            if (collect) gather(ev.events);
            yield ev;
          } else if (ev.type === "start") {
            const c = ev.candidate;
            hold?.start(c, ex.cost.total);
            const adjustments = c.adjustments.length === 0 ? start.adjustments : [...start.adjustments, ...c.adjustments];
            const first: EngineEvent = { ...start, adjustments, deployment: c.deployment.id, provider: c.provider.name, providerModel: ev.providerModel, priorAttempts: ev.priorAttempts };
            if (sg) held = first;
            else yield first;
          } else {
            if (sg) {
              // What the scanner held back, then the checks on the whole answer (json_schema, webhooks).
              const tail = await sg.end(r.signal).catch((err) => {
                throw billed(err, ex);
              });
              if (held) yield held;
              held = undefined;
              if (tail.length) {
                if (collect) gather(tail);
                yield { type: "delta", events: tail };
              }
            }
            if (collect) {
              if (replayState && blockText) blocks.push({ text: blockText });
              stored = toCached(ex, text, reasoning, refusal, toolCalls.filter(Boolean), replayState ? blocks : undefined);
              if (stored && cp?.store) store(cp, stored);
            }
            finished = true;
            if (collect) {
              answered = text;
              if (r.onAnswer) await r.onAnswer(text);
            }
            learnOutput(routed.exec, plan, ex);
            yield {
              type: "finish",
              summary: { ...summary(ex, cacheStatus), adjustments: withOutput([], guard), ...(web ? { citations: citationsIn(text, web.results), ...(web.reused ? {} : { webSearch: searched(web) }) } : {}), ...(files ? { fileSearch: files } : {}) },
              ...(r.gather ? { answer: gatheredAnswer(text, reasoning, refusal, toolCalls.filter(Boolean)) } : {}),
            };
          }
        }
      } catch (err) {
        status = r.statusOf(err);
        failure = err;
        throw err;
      } finally {
        // Also reached when the caller goes away mid-stream (the generator is returned early,
        // with no error thrown here).
        if (status === "ok" && !finished) {
          status = r.statusOf(undefined);
          if (status === "ok") status = "canceled";
        }
        const answer = capture === undefined ? undefined : hit ? (finished ? hit : undefined) : (sofar?.() ?? (answered !== undefined ? { text: answered } : undefined));
        record(r, plan, ex, status, failure, hit && { deployment: hit.deployment, provider: hit.provider, finishReason: hit.finishReason, kind: hitKind(hitStatus) }, guard, contentOf(call, plan, guard, answer, capture));
        done?.(stored);
        settle(admission, ex);
        if (mirror && plan) void mirrors.after(r, plan.routing.route, mirror.cfg, mirror.messages, primaryOf(call, ex, status, answered, hit?.deployment));
      }
    },
  };
  return engine;
}

const gatheredAnswer = (text: string, reasoning: string | undefined, refusal: string | undefined, toolCalls: ToolCall[]): GatheredAnswer => ({
  text,
  toolCalls,
  ...(refusal ? { refusal } : {}),
  ...(reasoning ? { reasoning } : {}),
});

/** Where a request's answer was served from, when not upstream (a cached or shared answer, cached vectors). */
export interface Served {
  deployment: string;
  provider: string;
  finishReason?: FinishReason;
  /** How the hit was found (absent: exact). */
  kind?: "exact" | "semantic" | "shared";
}

/** A hit's kind for the usage record, from the cache status it was served under. */
const hitKind = (status: CacheStatus): Served["kind"] => (status === "semantic" ? "semantic" : status === "shared" ? "shared" : "exact");

/** The engine's steps an operation other than chat is built from (./embed.ts). */
export interface EngineParts {
  core: GatewayCore;
  cache: CacheStore;
  planTraced(call: Call, ri: RequestInfo, ex: Execution): Plan | Promise<Plan>;
  admitTraced(call: Call, ri: RequestInfo, plan: Plan): Promise<Admission | undefined>;
  cachePolicy(call: Call, opts: EngineRequest["cache"], plan: Plan): CachePolicy | undefined;
  record(r: { call: Call; ri: RequestInfo }, plan: Plan | undefined, ex: Execution, status: string, err: unknown, hit?: Served, guard?: GuardrailRun, content?: RequestContent): void;
  /** The most characters of a request's content the exports (or the request spans) capture; undefined when none does, or the request said no_log. */
  captureChars(call: Call): number | undefined;
  servedFromCache(ex: Execution, a: Served & { providerModel: string; rawFinishReason?: string }): void;
  settle(a: Admission | undefined, ex: Execution): void;
}

/** Wait for a concurrent request's answer, unless the caller gives up first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new GatewayError("canceled", "request canceled"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new GatewayError("canceled", "request canceled"));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener("abort", onAbort);
      resolve(v);
    });
  });
}

/**
 * A cached answer as stream batches: reasoning (block by block, each with its signature, when the
 * answer kept them), then the text in pieces, then refusal and tool calls.
 */
function* replay(a: CachedAnswer): Generator<StreamEvent[]> {
  const extras: StreamEvent[] = [];
  if (a.reasoningBlocks?.length) {
    for (const b of a.reasoningBlocks) {
      if (b.redacted !== undefined) extras.push({ type: "reasoning_redacted", data: b.redacted });
      else {
        if (b.text) extras.push({ type: "reasoning", text: b.text });
        if (b.signature) extras.push({ type: "reasoning_signature", signature: b.signature });
      }
    }
  } else if (a.reasoning) extras.push({ type: "reasoning", text: a.reasoning });
  for (let i = 0; i < a.text.length; i += REPLAY_CHUNK) {
    const piece: StreamEvent[] = [{ type: "text", text: a.text.slice(i, i + REPLAY_CHUNK) }];
    yield i === 0 ? [...extras.splice(0), ...piece] : piece;
  }
  if (a.refusal) extras.push({ type: "refusal", text: a.refusal });
  a.toolCalls.forEach((c, index) => {
    extras.push({ type: "tool_call_start", index, id: c.id, name: c.name, ...(c.signature ? { signature: c.signature } : {}) });
    if (c.arguments) extras.push({ type: "tool_call_delta", index, argumentsDelta: c.arguments });
  });
  if (extras.length) yield extras;
}

