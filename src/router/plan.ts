// Planning: one pure function from (call, registry, health snapshot, random source) to the
// ordered candidates with a reason for each and the excluded deployments with why.
// RouteService.Route returns exactly this; ChatService executes exactly this. Chat and embeddings
// calls plan alike: only deployments that serve the call's operation are candidates, and an
// embeddings call counts its inputs' tokens, plans no output and has no parameters to fit.

import { DEFAULT_COMPLEXITY, DEFAULT_RETRY_ON } from "../config/load.ts";
import type { Capability, DeploymentConfig, RouteConfig, Task } from "../config/types.ts";
import { allowListAllows } from "../config/wildcards.ts";
import { countTextTokens, promptStats, promptTokenBound, promptTokensFor, tokenFamily, type PromptStats, type TokenFamily } from "../providers/tokens.ts";
import type { DeploymentHealth, HealthSnapshot } from "../state/health.ts";
import { type Classification, classify } from "./classifier.ts";
import { GatewayError } from "./errors.ts";
import type { ModelRegistry, Resolved } from "./registry.ts";
import { orderTargets, pickVariant, routeData, type StrategyContext } from "./strategies.ts";
import { fitRequest, type Fit } from "./fit-params.ts";
import { orderByPreferences, orderRank, preferenceExclusion, resolvePreferences } from "./provider-preferences.ts";
import { middleOut, type Compressed } from "./middle-out.ts";
import { isChat, operationOf, type Adjustment, type Call, type Candidate, type ChatCall, type Exclusion, type ImageCall, type Plan, type RoutingRequest, type SpeechCall, type TranscriptionCall } from "./types.ts";
import { perImageNanos, pricesFor } from "../usage/cost.ts";

/**
 * Output tokens assumed for a request that sets no limit, on a deployment with no recent p95 yet
 * and no `expected_output_tokens` of its own (nor `limits.default_expected_output_tokens`).
 */
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 512;

/**
 * Output tokens a request without max_output_tokens is expected to produce on a deployment: the
 * deployment's recent p95 (health store) once it has one, else its configured default. Budgets
 * reserve this; a stream that outgrows it extends its hold as it goes.
 */
export function expectedOutputTokens(d: DeploymentConfig, h: Readonly<DeploymentHealth> | undefined): number {
  return h?.outputP95 ?? d.expectedOutputTokens ?? DEFAULT_EXPECTED_OUTPUT_TOKENS;
}

/** A deployment's token family, worked out once per deployment object (a reload makes new ones). */
const families = new WeakMap<DeploymentConfig, TokenFamily>();

/** Capabilities the request's own content demands. */
export function requiredCapabilities(call: Call): Set<Capability> {
  const need = new Set<Capability>(call.routing.requiredCapabilities);
  if (!isChat(call)) return need;
  const r = call.request;
  if (r.tools?.length) need.add("tools");
  if (r.responseFormat?.type === "json_schema") need.add("json_schema");
  if (r.responseFormat?.type === "json_object") need.add("json_mode");
  if (r.reasoningEffort) need.add("reasoning");
  if (call.stream) need.add("streaming");
  // A PDF is read page by page as images too (Anthropic, OpenAI, Gemini): a model without vision cannot take one.
  if (r.messages.some((m) => m.content.some((p) => p.type === "image" || (p.type === "file" && p.mediaType === "application/pdf")))) need.add("vision");
  return need;
}

/** What a request is billed besides tokens: images per image (DALL·E) at the price of the size and quality asked for, audio by its length (whisper-1), text read per character (tts-1). */
function unitNanos(call: Call, d: DeploymentConfig): number {
  if (call.operation === "images") return perImageNanos(d.pricing, call.request.size, call.request.quality) * call.request.n;
  if (call.operation === "transcription") return Math.round((d.pricing.perAudioSecondNanos ?? 0) * call.estimatedSeconds);
  if (call.operation === "speech") return (d.pricing.perCharacterNanos ?? 0) * call.request.input.length;
  // One search per query: the per-request fee (in expectedCostNanos) once, the others here.
  if (call.operation === "search") return (d.pricing.perRequestNanos ?? 0) * (call.request.queries.length - 1);
  if (call.operation === "ocr") return ((d.pricing.perPageNanos ?? 0) + (call.request.documentAnnotation || call.request.bboxAnnotation ? (d.pricing.perAnnotatedPageNanos ?? 0) : 0)) * call.estimatedPages;
  return 0;
}
const NO_UNITS = (): number => 0;

/**
 * What an audio request reserves before it is answered, for models billed by tokens: OpenAI's
 * GPT-4o models take about ten audio tokens a second of input audio; a second of speech is about
 * three tokens of text; gpt-4o-mini-tts makes about 1.4 audio tokens a character read (its $0.015 a
 * minute at $12 per million, at 15 characters a second). Estimates for budgets and the cost
 * strategy only: the bill is what the provider reports.
 */
const AUDIO_TOKENS_PER_SECOND = 10;
const SPOKEN_TOKENS_PER_SECOND = 3;
const SPEECH_TOKENS_PER_CHARACTER = 1.4;
/** What a Realtime session reserves when it opens: one turn of about a minute's conversation. */
const REALTIME_RESERVE_INPUT_TOKENS = 1_000;
const REALTIME_RESERVE_OUTPUT_TOKENS = 600;

/**
 * Output tokens GPT Image bills per 1024x1024 image by quality (OpenAI's image generation guide);
 * a larger image (1536 on a side) costs half as many again. What a token-priced image request
 * reserves against budgets before it is answered; per-image-priced models bill no tokens.
 */
const IMAGE_TOKENS: Record<string, number> = { low: 272, medium: 1056, high: 4160 };

function imageOutputTokens(call: ImageCall, d: DeploymentConfig): number {
  if (d.pricing.output === 0) return 0;
  // Gemini's image models: 1,290 tokens an image (2.5 Flash Image; 3 Pro Image 1,120 at 1K and 2K).
  if (/gemini/i.test(d.baseModel ?? d.model)) return 1290 * call.request.n;
  const per = IMAGE_TOKENS[call.request.quality ?? ""] ?? IMAGE_TOKENS.high;
  const large = call.request.size?.includes("1536") ? 1.5 : 1;
  return Math.round(per * large) * call.request.n;
}

export function expectedCostNanos(d: DeploymentConfig, inputTokens: number, outputTokens: number): number {
  // At the prices of the tier the prompt falls in (long context), plus any per-request fee.
  const p = pricesFor(d.pricing, inputTokens);
  return Math.round((inputTokens * p.input + outputTokens * p.output) / 1000) + (d.pricing.perRequestNanos ?? 0);
}

/**
 * The request as the classifier and the chat request slot of a candidate see it: a chat call's
 * own; for embeddings, the inputs as one user message (task and complexity routing read the text).
 */
function chatView(call: Call): ChatCall["request"] {
  if (isChat(call)) return call.request;
  const texts =
    call.operation === "embeddings"
      ? call.request.inputs
      : call.operation === "images"
        ? [call.request.prompt]
        : call.operation === "speech"
          ? [call.request.input]
          : call.operation === "transcription"
            ? [call.request.prompt ?? ""]
            : call.operation === "moderation"
              ? call.request.inputs
              : call.operation === "search"
                ? call.request.queries
              : call.operation === "realtime" || call.operation === "ocr"
                ? []
                : [call.request.query, ...call.request.documents];
  return { messages: [{ role: "user", content: texts.map((text) => ({ type: "text" as const, text })) }] };
}

/** Tokens of each input of an embeddings call, by one tokenizer family. */
export function inputTokens(inputs: readonly string[], family: TokenFamily): number[] {
  return inputs.map((t) => countTextTokens(t, family));
}

export interface PlanInput {
  call: Call;
  registry: ModelRegistry;
  health: HealthSnapshot;
  /** Source of randomness for weighted choices (seeded per request so Route and Complete agree). */
  rand: () => number;
  /** Why a deployment is left out for its spending cap or its provider's (src/engine/spend-caps.ts), or undefined. */
  overBudget?: (d: DeploymentConfig) => string | undefined;
  /** Why a request with these tags is refused (a tag's spending cap is spent), or undefined. */
  overTags?: (tags: readonly string[]) => string | undefined;
}

/** Task routes and conditions may chain (config forbids loops); this bounds the walk all the same. */
const MAX_TASK_HOPS = 4;

/** Where a task route or a route's conditions send a request: the route or deployment picked, and why. */
interface Dispatch {
  /** "task coding (classified, complexity 0.72) -> route code", "condition 1 (team=search) -> route fast" (one hop per chained route). */
  note: string;
  /** The route or deployment picked, or undefined: `home`'s own targets (no condition matched, task unmapped). */
  target?: Resolved;
  /** The route whose own targets serve the request when nothing was picked. */
  home: RouteConfig;
}

/** The values a condition field has for this call (tags: all of them). */
function conditionValues(call: Call, field: string): readonly string[] {
  switch (field) {
    case "team":
      return [call.caller.team];
    case "key":
      return [call.caller.keyName];
    case "user":
      return call.user ? [call.user] : [];
    case "tag":
      return call.tags;
    default: {
      const v = field.startsWith("metadata.") ? call.metadata[field.slice(9)] : undefined;
      return v === undefined || v === "" ? [] : [v];
    }
  }
}

/** Whether every field of a condition's `when` matches the request (one of its values; "*" any value). */
export function whenMatches(when: Record<string, string[]>, call: Call): boolean {
  for (const [field, want] of Object.entries(when)) {
    const have = conditionValues(call, field);
    if (!have.some((v) => v !== "" && (want.includes(v) || want.includes("*")))) return false;
  }
  return true;
}

/** The first of a route's conditions whose every field matches, by index. */
function matchCondition(r: RouteConfig, call: Call): number {
  for (let i = 0; i < r.conditions.length; i++) if (whenMatches(r.conditions[i].when, call)) return i;
  return -1;
}

/** "team=search", "metadata.tier in [pro, enterprise]". */
function describeCondition(when: Record<string, string[]>): string {
  return Object.entries(when)
    .map(([f, v]) => (v.length === 1 ? `${f}=${v[0]}` : `${f} in [${v.join(", ")}]`))
    .join(", ");
}

export function plan({ call, registry, health, rand, overBudget, overTags }: PlanInput): Plan {
  const resolved = registry.resolve(call.model);
  if (!resolved) {
    throw new GatewayError("not_found", `model: unknown route, alias or deployment "${call.model}"`, { field: "model" });
  }
  const allow = call.caller.allow;
  const allowed = (name: string) => allowListAllows(allow, name);
  if (!allowed(call.model) && !(resolved.alias && allowed(resolved.kind === "route" ? resolved.route.name : resolved.deployment.id))) {
    throw new GatewayError("permission_denied", `model: key "${call.caller.keyName}" may not use "${call.model}"`, { field: "model" });
  }
  const spentTag = call.tags.length ? overTags?.(call.tags) : undefined;
  if (spentTag) throw new GatewayError("resource_exhausted", `tags: ${spentTag}`, { field: "tags", refusal: "budget" });
  const route = resolved.kind === "route" ? resolved.route : undefined;
  const prefs = call.routing.providers && resolvePreferences(call.routing.providers, registry.config.providers);
  const adjustments: Adjustment[] = [];
  const operation = operationOf(call);
  // What a deployment must serve: a realtime transcription session is served by transcription models.
  const serves = call.operation === "realtime" && call.request.intent === "transcription" ? "transcription" : operation;
  const stream = isChat(call) ? call.stream : false;

  // The classifier runs at most once, and only for strategies that need it.
  let classification: Classification | undefined;
  const classified = () => (classification ??= classify(chatView(call), DEFAULT_COMPLEXITY.threshold));
  const taskOf = () => (call.routing.task ? { task: call.routing.task, hinted: true } : { task: classified().task, hinted: false });
  const taskNote = () => {
    const t = taskOf();
    return `task ${t.task} (${t.hinted ? "hinted" : `classified, complexity ${classified().complexity.toFixed(2)}`})`;
  };

  // A route's conditions, then a task route's task, hand the request to the route (or deployment)
  // they pick; that route's own settings (timeouts, retries, caps, fallbacks) then apply, ahead of
  // the picking route's. Returns undefined for a route that picks nothing by either.
  const dispatches = (r: RouteConfig) => r.conditions.length > 0 || r.strategy === "task";
  const dispatch = (r: RouteConfig): Dispatch | undefined => {
    let note = "";
    let home = r;
    for (let hop = 0; hop < MAX_TASK_HOPS; hop++) {
      const c = home.conditions.length ? matchCondition(home, call) : -1;
      let name: string | undefined;
      if (c >= 0) {
        name = home.conditions[c].target;
        note += `${note ? " -> " : ""}condition ${c + 1} (${describeCondition(home.conditions[c].when)})`;
      } else if (home.strategy === "task") {
        name = home.taskRoutes[taskOf().task];
        note += `${note ? " -> " : ""}${taskNote()}`;
        if (!name) return { note: `${note} has no task route: own targets`, home };
      } else {
        return hop === 0 ? undefined : { note: `${note}: own targets`, home };
      }
      const target = registry.resolve(name);
      if (!target) throw new GatewayError("internal", `route "${home.name}" names unknown "${name}"`);
      note += ` -> ${target.kind === "route" ? "route" : "deployment"} ${name}`;
      if (target.kind === "route" && dispatches(target.route)) {
        home = target.route;
        continue;
      }
      return { note, target, home };
    }
    throw new GatewayError("internal", `route "${r.name}": task routes and conditions nest more than ${MAX_TASK_HOPS} deep`);
  };
  const primaryDispatch = route && dispatches(route) ? dispatch(route) : undefined;
  // The route whose settings apply: the one a task route picked, else the route called.
  const effective = primaryDispatch ? (primaryDispatch.target?.kind === "route" ? primaryDispatch.target.route : primaryDispatch.home) : route;

  // Output cap: the smallest of the request's, the key's and the route's (and the picked route's).
  // An embedding has no output.
  let maxOutputTokens = isChat(call) ? call.request.maxOutputTokens : undefined;
  if (isChat(call)) for (const [cap, who] of [
    [call.caller.maxOutputTokens, `key "${call.caller.keyName}"`],
    [route?.maxOutputTokens, `route "${route?.name}"`],
    [effective !== route ? effective?.maxOutputTokens : undefined, `route "${effective?.name}"`],
  ] as const) {
    if (cap !== undefined && (maxOutputTokens === undefined || maxOutputTokens > cap)) {
      adjustments.push({
        field: "max_output_tokens",
        detail: maxOutputTokens === undefined ? `set to ${cap} by ${who} limit` : `capped from ${maxOutputTokens} to ${cap} by ${who} limit`,
      });
      maxOutputTokens = cap;
    }
  }

  // Input tokens by each deployment's own tokenizer (exact for OpenAI's, calibrated for the
  // others): the prompt is counted once, lazily, and read per family.
  // An embeddings call's inputs are counted one by one (each must fit the model on its own).
  let stats: PromptStats | undefined;
  let promptBound: number | undefined;
  const byFamily = new Map<TokenFamily, number>();
  const largestByFamily = new Map<TokenFamily, number>();
  const familyOf = (d: DeploymentConfig): TokenFamily => {
    let f = families.get(d);
    if (f === undefined) families.set(d, (f = tokenFamily(d.baseModel ?? d.model, registry.provider(d.provider)?.type)));
    return f;
  };
  const inputFor = (d: DeploymentConfig): number => {
    const f = familyOf(d);
    let n = byFamily.get(f);
    if (n === undefined) {
      if (call.operation === "embeddings") {
        const each = inputTokens(call.request.inputs, f);
        largestByFamily.set(f, Math.max(0, ...each));
        n = Math.max(1, each.reduce((a, b) => a + b, 0));
      } else if (call.operation === "images") {
        n = Math.max(1, inputTokens([call.request.prompt], f)[0]);
      } else if (call.operation === "speech") {
        n = Math.max(1, inputTokens([call.request.input], f)[0]);
      } else if (call.operation === "moderation") {
        n = Math.max(1, inputTokens(call.request.inputs, f).reduce((a, b) => a + b, 0));
      } else if (call.operation === "search") {
        n = Math.max(1, inputTokens(call.request.queries, f).reduce((a, b) => a + b, 0));
      } else if (call.operation === "transcription") {
        // Audio tokens: about ten a second of recording (GPT-4o transcription models), and the prompt.
        n = Math.max(1, Math.ceil(call.estimatedSeconds * AUDIO_TOKENS_PER_SECOND) + (call.request.prompt ? inputTokens([call.request.prompt], f)[0] : 0));
      } else if (call.operation === "ocr") {
        // No tokens: an OCR model bills pages (unitNanos).
        n = 0;
      } else if (call.operation === "realtime") {
        // A session's first turn: what admission reserves before the provider reports usage (the
        // hold then grows with the session's responses).
        n = REALTIME_RESERVE_INPUT_TOKENS;
      } else if (call.operation === "rerank") {
        // The query and every document; providers truncate long documents instead of refusing them.
        n = Math.max(1, inputTokens([call.request.query, ...call.request.documents], f).reduce((a, b) => a + b, 0));
      } else {
        n = Math.max(1, promptTokensFor((stats ??= promptStats(call.request)), f));
      }
      byFamily.set(f, n);
    }
    return n;
  };
  const outputFor = (d: DeploymentConfig): number =>
    operation === "images"
      ? imageOutputTokens(call as ImageCall, d)
      : operation === "transcription"
        ? Math.ceil((call as TranscriptionCall).estimatedSeconds * SPOKEN_TOKENS_PER_SECOND)
        : operation === "speech"
          ? Math.ceil((call as SpeechCall).request.input.length * SPEECH_TOKENS_PER_CHARACTER)
          : operation === "realtime"
            ? REALTIME_RESERVE_OUTPUT_TOKENS
          : operation !== "chat"
            ? 0
            : (maxOutputTokens ?? expectedOutputTokens(d, health.get(d.id)));
  const need = requiredCapabilities(call);

  const candidates: Candidate[] = [];
  const excluded: Exclusion[] = [];
  const seen = new Set<string>();
  const cooling: Candidate[] = [];
  /** Targets left out by an A/B split or a zero weight: reported unless planned some other way. */
  const notSelected = new Map<string, string>();

  // The request each deployment is sent: fitted to its model's parameter rules, once per deployment.
  // An embeddings call has no parameters to fit: its candidates carry no chat request.
  const chatRequest = isChat(call) ? call.request : NO_CHAT;
  const capped = maxOutputTokens === chatRequest.maxOutputTokens ? chatRequest : { ...chatRequest, maxOutputTokens };
  const fits = new Map<string, Fit>();
  const fitFor = (d: DeploymentConfig) => {
    let f = fits.get(d.id);
    if (f === undefined) fits.set(d.id, (f = operation !== "chat" ? { request: NO_CHAT, dropped: [], notes: [], reasons: [] } : fitRequest(capped, d.params)));
    return f;
  };

  // Deployments whose window the prompt fits only with its middle removed (middle-out), and how.
  let compressed: Map<string, Compressed> | undefined;
  const promptFor = (d: DeploymentConfig) => (compressed === undefined ? inputFor(d) : (compressed.get(d.id)?.tokens ?? inputFor(d)));
  /** The prompt made to fit `d`'s window by middle-out, or undefined when even its ends do not fit. */
  const compressFor = (d: DeploymentConfig): Compressed | undefined => {
    const f = familyOf(d);
    const fit = fitFor(d).request;
    const c = middleOut(fit, d.contextWindow - (maxOutputTokens ?? 0), (messages) => Math.max(1, promptTokensFor(promptStats({ ...fit, messages }), f)));
    if (c) (compressed ??= new Map()).set(d.id, c);
    return c;
  };

  // A chat call is billed by tokens alone: no closure made for it.
  const unitsOf = operation === "chat" ? NO_UNITS : (d: DeploymentConfig) => unitNanos(call, d);
  const costs = new Map<string, number>();
  const costOf = (d: DeploymentConfig) => {
    let c = costs.get(d.id);
    if (c === undefined) {
      c = expectedCostNanos(d, promptFor(d), outputFor(d)) + unitsOf(d);
      costs.set(d.id, c);
    }
    return c;
  };
  const ctx: StrategyContext = { health, rand, stream, cost: costOf, classification: classified, task: taskOf };
  const counts: Counts = { input: promptFor, cost: costOf, units: unitsOf };

  /** The hard filters: capabilities, context window, cost and latency caps. Records exclusions. */
  const eligible = (d: DeploymentConfig): boolean => {
    if (seen.has(d.id)) return false;
    seen.add(d.id);
    if (!d.operations.includes(serves)) {
      excluded.push({ deployment: d.id, reason: "wrong_operation", detail: `serves ${d.operations.join(" and ")}, not ${serves}` });
      return false;
    }
    const missing = [...need].filter((c) => !d.capabilities.includes(c));
    if (missing.length) {
      excluded.push({ deployment: d.id, reason: "missing_capability", detail: `lacks ${missing.join(", ")}` });
      return false;
    }
    const spent = overBudget?.(d);
    if (spent) {
      excluded.push({ deployment: d.id, reason: "over_budget", detail: spent });
      return false;
    }
    // A prompt whose length alone proves it fits is not tokenized here: its count is taken only
    // when something reads it (a cost strategy or cap, a budget, a token rate limit, Route).
    const bound = operation !== "chat" ? undefined : (promptBound ??= promptTokenBound(call.request as ChatCall["request"]) ?? Infinity);
    // A rerank's documents are truncated by the provider (max_tokens_per_doc), never refused for
    // length; an image prompt's limit is the provider's to enforce.
    const fitsByLength = operation === "rerank" || operation === "images" || operation === "transcription" || operation === "speech" || operation === "moderation" || operation === "realtime" || operation === "search" || operation === "ocr" || (bound !== undefined && bound + (maxOutputTokens ?? 0) <= d.contextWindow);
    const inputTokens = fitsByLength ? 0 : inputFor(d);
    const largest = largestByFamily.get(familyOf(d));
    if (fitsByLength) {
      // Fits whatever the exact count.
    } else if (largest !== undefined) {
      if (largest > d.contextWindow) {
        excluded.push({ deployment: d.id, reason: "context_too_small", detail: `input limit ${d.contextWindow} tokens < estimated ${largest} tokens of the longest input` });
        return false;
      }
    } else if (inputTokens + (maxOutputTokens ?? 0) > d.contextWindow) {
      if (!call.routing.middleOut || operation !== "chat" || !compressFor(d)) {
        excluded.push({
          deployment: d.id,
          reason: "context_too_small",
          detail: `context window ${d.contextWindow} < estimated ${inputTokens} input + ${maxOutputTokens ?? 0} output tokens${call.routing.middleOut && operation === "chat" ? " (middle-out cannot fit it: the leading system messages and the last turn alone are too long)" : ""}`,
        });
        return false;
      }
    }
    if (call.routing.maxCostNanos !== undefined) {
      const cost = costOf(d);
      if (cost > call.routing.maxCostNanos) {
        excluded.push({ deployment: d.id, reason: "over_cost_cap", detail: `expected ${cost} nano-USD > cap ${call.routing.maxCostNanos}` });
        return false;
      }
    }
    const h = health.get(d.id);
    if (call.routing.maxLatencyMs !== undefined && h?.latencyMs !== undefined && h.latencyMs > call.routing.maxLatencyMs) {
      excluded.push({ deployment: d.id, reason: "over_latency_cap", detail: `observed ${Math.round(h.latencyMs)} ms > cap ${call.routing.maxLatencyMs} ms` });
      return false;
    }
    if (prefs) {
      const out = preferenceExclusion(prefs, d, registry.provider(d.provider)!, () => fitFor(d).dropped, () => inputFor(d));
      if (out) {
        excluded.push({ deployment: d.id, ...out });
        return false;
      }
    }
    return true;
  };

  /** Add an eligible deployment in plan order (or set it aside while it cools down). */
  const add = (d: DeploymentConfig, source: Candidate["source"], reason: string, score: number) => {
    const h = health.get(d.id);
    const fit = fitFor(d);
    const squeezed = compressed?.get(d.id);
    const fitted = fit.dropped.length === 0 && fit.notes.length === 0 ? [] : [...fit.dropped, ...fit.notes];
    const c = new PlannedCandidate(
      d,
      registry.provider(d.provider)!,
      reason,
      source,
      score,
      outputFor(d),
      h,
      squeezed ? squeezed.request : fit.request,
      squeezed ? [...fitted, { field: "messages", detail: squeezedNote(squeezed, fit.request.messages.length, d.contextWindow) }] : fitted,
      counts,
    );
    if (h?.cooldownUntil !== undefined && h.cooldownUntil > health.now) {
      excluded.push({ deployment: d.id, reason: "cooling_down", detail: `${h.lastFailureKind ?? "failures"}; cooling down`, until: h.cooldownUntil });
      cooling.push(c);
      return;
    }
    candidates.push(c);
  };

  /** A deployment named directly (or as a fallback, or picked by a task route). */
  const addOne = (d: DeploymentConfig, source: Candidate["source"], reason: string) => {
    if (eligible(d)) add(d, source, reason, candidates.length + 1);
  };

  /** The A/B key: the sticky key (which defaults to the user), else the request id (not sticky). */
  const abKey = (): { key: string; why: string } => {
    if (call.routing.stickyKey) return { key: call.routing.stickyKey, why: call.routing.stickyKey === call.user ? "by user" : "by sticky key" };
    if (call.user) return { key: call.user, why: "by user" };
    return { key: call.id, why: "by request id, not sticky: set routing.sticky_key or user" };
  };

  /**
   * A route's deployments in order: the picked variant's (A/B) or the route's own targets,
   * filtered, then ordered by the route's strategy. Task routes dispatch first. Returns the
   * variant picked, if any.
   */
  const addRoute = (r: RouteConfig, source: Candidate["source"], prefix: string, fallbackDepth: number | undefined, d0?: Dispatch): string => {
    const t = d0 ?? (dispatches(r) ? dispatch(r) : undefined);
    if (t) {
      const note = `${prefix}${t.note}`;
      if (t.target) {
        // A picked route picks nothing further (dispatch followed its conditions and task routes).
        const v = t.target.kind === "deployment" ? (addOne(t.target.deployment, source, note), "") : addRoute(t.target.route, source, `${note}: `, fallbackDepth);
        // As a fallback, the picking route's own fallbacks follow what it picked.
        if (fallbackDepth !== undefined && fallbackDepth < 3) for (const f of r.fallbacks) expand(f, source, fallbackDepth + 1);
        return v;
      }
      // Nothing picked: the home route's own targets (a task route's in priority order).
      r = t.home;
      prefix = `${note}, `;
    }
    const data = routeData(r, registry.deployment);
    let items = data.items;
    let variant = "";
    if (data.variants.length > 0) {
      const { key, why } = abKey();
      const v = pickVariant(data.variants, key);
      variant = v.name;
      items = v.items;
      prefix = `${prefix}variant ${v.name} (${why}): `;
      for (const o of data.variants) {
        if (o !== v) for (const it of o.items) if (!notSelected.has(it.d.id)) notSelected.set(it.d.id, `route ${r.name}: A/B variant ${o.name} not selected (variant ${v.name} was)`);
      }
    }
    if (r.strategy === "weighted") {
      for (const it of items) if (it.weight === 0 && !notSelected.has(it.d.id)) notSelected.set(it.d.id, `route ${r.name}: weight 0`);
      items = items.filter((it) => it.weight > 0);
    }
    const ok = items.filter((it) => eligible(it.d));
    for (const { item, reason, score } of orderTargets(r, ok, ctx)) {
      add(item.d, source, `${prefix}${reason}`, source === "route" ? score : candidates.length + 1);
    }
    // A fallback route's own fallbacks follow it, a few levels deep (the called route's are added by plan()).
    if (fallbackDepth !== undefined && fallbackDepth < 3) for (const f of r.fallbacks) expand(f, source, fallbackDepth + 1);
    return variant;
  };

  // Expand a fallback name (route, alias or deployment) into deployments, in order.
  const expand = (name: string, source: Candidate["source"], depth: number) => {
    const r = registry.resolve(name);
    if (!r) throw new GatewayError("invalid_argument", `routing.fallbacks: unknown route, alias or deployment "${name}"`, { field: "routing.fallbacks" });
    if (source === "request fallbacks" && !allowed(name)) {
      const ids = r.kind === "route" ? [...r.route.targets, ...r.route.variants.flatMap((v) => v.targets)].map((t) => t.deployment) : [r.deployment.id];
      for (const id of ids) if (!seen.has(id)) excluded.push({ deployment: id, reason: "not_allowed", detail: `key may not use "${name}"` });
      return;
    }
    if (r.kind === "deployment") {
      addOne(r.deployment, source, `fallback to ${name}`);
      return;
    }
    addRoute(r.route, source, `fallback via route ${r.route.name}: `, depth);
  };

  // Where each model's candidates start (the model asked for, then each fallback): provider
  // preferences reorder within a model, never across.
  const groups: number[] = [0];
  const group = () => groups.push(candidates.length);
  let variant = "";
  if (route) {
    variant = addRoute(route, "route", "", undefined, primaryDispatch);
  } else if (resolved.kind === "deployment") {
    addOne(resolved.deployment, "direct", "named directly");
  }
  for (const f of call.routing.fallbacks) (group(), expand(f, "request fallbacks", 0));
  // The picked route's fallbacks come before the task route's own.
  if (effective && effective !== route) for (const f of effective.fallbacks) (group(), expand(f, "route fallbacks", 0));
  if (route) for (const f of route.fallbacks) (group(), expand(f, "route fallbacks", 0));
  for (const [id, detail] of notSelected) if (!seen.has(id)) excluded.push({ deployment: id, reason: "not_selected", detail });
  if (prefs) excluded.push(...orderByPreferences(prefs, candidates, groups, { health, stream }));

  // Every candidate cooling down: rather than fail at once, try the one that recovers soonest
  // (of the providers in the preferences' order, when nothing else may serve).
  if (prefs && !prefs.prefs.allowFallbacks && prefs.order.length > 0) {
    for (let i = cooling.length - 1; i >= 0; i--) if (orderRank(prefs, cooling[i].provider.name) === prefs.order.length) cooling.splice(i, 1);
  }
  if (candidates.length === 0 && cooling.length > 0) {
    const until = (c: Candidate) => health.get(c.deployment.id)?.cooldownUntil ?? 0;
    const soonest = cooling.reduce((a, b) => (until(b) < until(a) ? b : a));
    soonest.reason = `all candidates cooling down; recovers soonest`;
    candidates.push(soonest);
    const i = excluded.findIndex((e) => e.deployment === soonest.deployment.id && e.reason === "cooling_down");
    if (i >= 0) excluded.splice(i, 1);
  }
  if (candidates.length === 0 && excluded.length > 0 && excluded.every((e) => e.reason === "wrong_operation" || e.reason === "not_selected")) {
    const serves = [...new Set(excluded.flatMap((e) => registry.deployment(e.deployment)?.operations ?? []))].join(" and ");
    throw new GatewayError(
      "invalid_argument",
      `model: "${call.model}" has no deployment that serves ${operation}${serves ? ` (its deployments serve ${serves})` : ""}; name a model that serves ${operation}`,
      { field: "model" },
    );
  }
  if (candidates.length === 0) {
    const why = excluded.map((e) => `${e.deployment}: ${e.reason} (${e.detail})`).join("; ");
    // A spent cap is a budget's refusal, as a caller's: resource_exhausted.
    if (excluded.some((e) => e.reason === "over_budget")) throw new GatewayError("resource_exhausted", `no deployment can serve "${call.model}": ${why}`, { refusal: "budget" });
    throw new GatewayError("failed_precondition", `no deployment can serve "${call.model}": ${why || "no targets"}`);
  }

  const noFallback = call.routing.noFallback || (route?.noFallback ?? false) || (effective?.noFallback ?? false);
  const maxAttempts = Math.max(1, Math.min(call.routing.maxAttempts || (effective?.maxAttempts ?? 4), 20));
  const keep = noFallback ? 1 : candidates.length;
  for (const c of candidates.splice(keep)) {
    excluded.push({ deployment: c.deployment.id, reason: "over_attempt_limit", detail: "fallbacks are switched off for this request" });
  }

  // strict_params: a parameter some planned deployment would not be sent refuses the request.
  const strict = operation === "chat" && ((effective?.strictParams ?? false) || (route?.strictParams ?? false));
  if (strict) {
    for (const c of candidates) {
      const { dropped, reasons } = fitFor(c.deployment);
      if (dropped.length > 0) {
        const by = effective?.strictParams ? effective.name : route!.name;
        throw new GatewayError(
          "invalid_argument",
          `${dropped[0].field}: deployment "${c.deployment.id}" does not accept it (${reasons[0]}); route "${by}" has strict_params, so the request is refused instead of sent without it`,
          { field: dropped[0].field },
        );
      }
    }
  }

  const rt = effective?.timeouts ?? { firstTokenMs: 30_000, idleMs: 30_000, attemptMs: 300_000, totalMs: 600_000 };
  const min = (a: number, b: number | undefined) => (b !== undefined && b > 0 && b < a ? b : a);
  return new PlannedPlan({
    routing: {
      route: route?.name ?? "",
      alias: resolved.alias,
      strategy: route?.strategy ?? "direct",
      variant,
    },
    candidates,
    excluded,
    noFallback,
    maxAttempts,
    hedgeAfterMs: call.routing.hedgeAfterMs || (effective?.hedgeAfterMs ?? 0),
    fallbackOnContentFilter: call.routing.fallbackOnContentFilter || (effective?.fallbackOnContentFilter ?? false) || (route?.fallbackOnContentFilter ?? false),
    timeouts: {
      firstTokenMs: min(rt.firstTokenMs, call.routing.timeouts.firstTokenMs),
      idleMs: min(rt.idleMs, call.routing.timeouts.idleMs),
      attemptMs: min(rt.attemptMs, call.routing.timeouts.attemptMs),
      totalMs: min(rt.totalMs, call.routing.timeouts.totalMs),
    },
    retry: retryOf(effective?.retry ?? DEFAULT_RETRY, call.routing.retry),
    ...(call.routing.fallbackOnStatusCodes?.length ? { fallbackOnStatusCodes: call.routing.fallbackOnStatusCodes } : {}),
    maxOutputTokens,
    adjustments,
    operation,
    ...(primaryDispatch ? { picked: primaryDispatch.target ? (primaryDispatch.target.kind === "route" ? primaryDispatch.target.route.name : primaryDispatch.target.deployment.id) : primaryDispatch.home.name } : {}),
  });
}

const DEFAULT_RETRY: Plan["retry"] = Object.freeze({ maxRetries: 1, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 10_000, retryOn: DEFAULT_RETRY_ON });

/** The route's retry policy with the request's own count and statuses, when it gives them. */
function retryOf(base: Plan["retry"], asked: RoutingRequest["retry"]): Plan["retry"] {
  if (!asked) return base;
  return { ...base, maxRetries: asked.attempts, ...(asked.onStatusCodes?.length ? { onStatusCodes: asked.onStatusCodes } : {}) };
}

/** The adjustment middle-out makes: what it removed to fit which window. */
function squeezedNote(c: Compressed, messages: number, window: number): string {
  const what = [c.removed > 0 ? `removed ${c.removed} of ${messages} messages from the middle` : "", c.cut > 0 ? `cut ${c.cut} characters from the middle of the longest text` : ""].filter(Boolean).join(" and ");
  return `middle-out ${what} to fit the ${window}-token context window (${c.tokens} prompt tokens)`;
}

/** What a plan counts only when read: the prompt's tokens (by tokenizer family) and each deployment's expected cost. */
interface Counts {
  input(d: DeploymentConfig): number;
  cost(d: DeploymentConfig): number;
  units(d: DeploymentConfig): number;
}

/**
 * A planned candidate. Its input count and expected cost are read through the plan's memoized
 * counters, so a request nobody asks them of (no cost strategy or cap, no budget, no token rate
 * limit) is never tokenized. A class with prototype getters: an object literal with accessors
 * would be built through V8's slow path on every request.
 */
class PlannedCandidate implements Candidate {
  deployment: DeploymentConfig;
  provider: Candidate["provider"];
  reason: string;
  source: Candidate["source"];
  score: number;
  expectedOutputTokens: number;
  ttftEstimateMs?: number;
  latencyEstimateMs?: number;
  request: Candidate["request"];
  adjustments: Adjustment[];
  readonly #counts: Counts;
  constructor(
    deployment: DeploymentConfig,
    provider: Candidate["provider"],
    reason: string,
    source: Candidate["source"],
    score: number,
    expectedOutputTokens: number,
    h: DeploymentHealth | undefined,
    request: Candidate["request"],
    adjustments: Adjustment[],
    counts: Counts,
  ) {
    this.deployment = deployment;
    this.provider = provider;
    this.reason = reason;
    this.source = source;
    this.score = score;
    this.expectedOutputTokens = expectedOutputTokens;
    this.ttftEstimateMs = h?.ttftMs;
    this.latencyEstimateMs = h?.latencyMs;
    this.request = request;
    this.adjustments = adjustments;
    this.#counts = counts;
  }
  get estimatedInputTokens(): number {
    return this.#counts.input(this.deployment);
  }
  get expectedCostNanos(): number {
    return this.#counts.cost(this.deployment);
  }
  get unitCostNanos(): number {
    return this.#counts.units(this.deployment);
  }
}

type PlanFields = Omit<Plan, "estimatedInputTokens">;
// Declaration merging: a PlannedPlan has every field of Plan (assigned in its constructor).
interface PlannedPlan extends PlanFields {}
/** A plan whose input estimate (the largest candidate's count) is taken when first read. */
class PlannedPlan {
  constructor(fields: PlanFields) {
    Object.assign(this, fields);
  }
  /** The largest of the candidates' counts: what rate limits and unreported usage fall back on. */
  get estimatedInputTokens(): number {
    return this.candidates.reduce((n, c) => Math.max(n, c.estimatedInputTokens), 1);
  }
}

/** The chat request slot of an embeddings plan's candidates: nothing to fit, nothing sent. */
const NO_CHAT: ChatCall["request"] = Object.freeze({ messages: [] }) as ChatCall["request"];

/** A small seeded PRNG (mulberry32) so a request's weighted draws are reproducible from its seed. */
export function seededRandom(seed: string): () => number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
