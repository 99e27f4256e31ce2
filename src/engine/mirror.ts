// Traffic mirroring (shadow traffic): a route's `mirror` sends a share of its chat requests again,
// once each has been answered, to a candidate (a route, alias or deployment) the platform team
// wants to evaluate on real traffic, and compares the two answers; the mirror's answer is never
// returned. LiteLLM's traffic mirroring fires the copy and logs it; here the copy is a request of
// the engine like any other (planned, retried, traced, its usage recorded under the caller's key
// and team, tagged `mirror`, with `signalbox.mirror_of` naming the request it copies), and the
// comparison (both outcomes, latencies, output tokens, costs, and how alike the two answers are)
// goes into the mirror's usage record (so UsageService.GetMirrorReport can sum it up from any usage
// store, across replicas and restarts), the metrics, a log line and the mirror's span.
//
// What a mirror does not do: count against the caller's rate limits or budgets (it is the platform
// team's experiment, not the caller's traffic; a budget on the tag `mirror` caps what mirrors
// spend, and deployments' own limits and spending caps apply), read or fill the response cache,
// run web or file search again (a request that asked for either is not mirrored), or outlive a
// replica's bound: at most `max_in_flight` mirrors run at once per route and replica, and a
// request beyond it is counted as skipped, never queued.

import { randomBytes } from "node:crypto";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from "@opentelemetry/api";
import type { MirrorConfig } from "../config/types.ts";
import type { GatewayCore } from "../gateway.ts";
import type { ChatMessage } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall, EmbedCall } from "../router/types.ts";
import { newRequestId } from "../server/context.ts";
import { log } from "../telemetry/log.ts";
import { unit } from "../cache/semantic.ts";
import { dot } from "../vectors/search.ts";
import type { ChatEngine, EngineRequest, Summary } from "./chat-engine.ts";

/** One side of a comparison: how a request (the route's, or its mirror) ended. */
export interface MirrorSide {
  id: string;
  /** "ok", or the failure's status (its Connect code name, canceled, …). */
  status: string;
  deployment: string;
  latencyMs: number;
  ttftMs?: number;
  outputTokens: number;
  costNanos: number;
}

/** What the route's own request was, when it ended. */
export interface PrimaryOutcome extends MirrorSide {
  /** The answer's text, when it answered. */
  text?: string;
}

/** What a mirror's usage record says of the comparison, in its metadata (read back by the report, src/usage/mirror-report.ts). */
export const MIRROR_META = {
  of: "signalbox.mirror_of",
  route: "signalbox.mirror.route",
  similarity: "signalbox.mirror.similarity",
  /** The cosine of the two answers' embeddings (with `mirror.embedding`). */
  semanticSimilarity: "signalbox.mirror.semantic_similarity",
  /** On an embeddings record: the mirror whose answers it embedded. */
  embeddingOf: "signalbox.mirror.embedding_of",
  primaryStatus: "signalbox.mirror.primary_status",
  primaryDeployment: "signalbox.mirror.primary_deployment",
  primaryLatencyMs: "signalbox.mirror.primary_latency_ms",
  primaryTtftMs: "signalbox.mirror.primary_ttft_ms",
  primaryOutputTokens: "signalbox.mirror.primary_output_tokens",
  primaryCostNanos: "signalbox.mirror.primary_cost_nano_usd",
  /** The judge's verdict: "mirror" (the candidate's answer is better), "route", "tie", or "failed" (no verdict). */
  verdict: "signalbox.mirror.verdict",
  verdictReason: "signalbox.mirror.verdict_reason",
  /** On the judge's own record: the mirror it judged. */
  judgeOf: "signalbox.mirror.judge_of",
} as const;

export type Verdict = "mirror" | "route" | "tie" | "failed";

/** The tag every mirror's usage record carries. */
export const MIRROR_TAG = "mirror";

export interface MirrorOutcome {
  mirror: MirrorSide;
  /** The mirror's own trace (linked to the request it copies). */
  traceId: string;
  similarity?: number;
  semanticSimilarity?: number;
  verdict?: Verdict;
}

export interface Mirrors {
  /**
   * A request of a route with `mirror` has ended (after its input guardrails passed): mirror it, if
   * it is drawn and the route's bound allows. The promise (for tests) settles with the outcome, or
   * undefined when the request was not mirrored.
   */
  after(r: EngineRequest, route: string, cfg: MirrorConfig, messages: ChatMessage[], primary: PrimaryOutcome): Promise<MirrorOutcome | undefined>;
  /** Mirrors running now. */
  running(): number;
  /** On shutdown: no more mirrors; those running are cut off (and recorded as canceled). */
  close(): Promise<void>;
}

export function createMirrors(core: GatewayCore, engine: () => Pick<ChatEngine, "complete" | "stream" | "embed">): Mirrors {
  const inFlight = new Map<string, number>();
  const runs = new Set<Promise<unknown>>();
  const stopping = new AbortController();

  async function run(r: EngineRequest, route: string, cfg: MirrorConfig, messages: ChatMessage[], primary: PrimaryOutcome): Promise<MirrorOutcome> {
    const src = r.call;
    const call: ChatCall = {
      id: newRequestId(),
      model: cfg.target,
      // The mirror's own routing: the caller's fallbacks and sticky key were for the route's targets;
      // its provider preferences go along (a request that forbids data collection, or asks for
      // zero retention, is copied only to a provider that keeps that promise, or fails).
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: src.routing.requiredCapabilities, timeouts: {}, fallbackOnContentFilter: false, ...(src.routing.providers ? { providers: src.routing.providers } : {}) },
      ...(src.user !== undefined ? { user: src.user } : {}),
      tags: src.tags.includes(MIRROR_TAG) ? src.tags : [...src.tags, MIRROR_TAG],
      metadata: {
        ...src.metadata,
        [MIRROR_META.of]: src.id,
        [MIRROR_META.route]: route,
        [MIRROR_META.primaryStatus]: primary.status,
        [MIRROR_META.primaryDeployment]: primary.deployment,
        [MIRROR_META.primaryLatencyMs]: String(primary.latencyMs),
        ...(primary.ttftMs !== undefined ? { [MIRROR_META.primaryTtftMs]: String(primary.ttftMs) } : {}),
        [MIRROR_META.primaryOutputTokens]: String(primary.outputTokens),
        [MIRROR_META.primaryCostNanos]: String(primary.costNanos),
      },
      // The route's owner chose the target: the key's allow list is not asked.
      caller: { ...src.caller, allow: [] },
      ...(src.guardrails ? { guardrails: src.guardrails } : {}),
      request: messages === src.request.messages ? src.request : { ...src.request, messages },
      stream: src.stream,
      mirrorOf: src.id,
    };
    // A trace of its own, linked to the request it copies: the request's trace (and GetRequest by
    // its trace id) stays the request's, and Jaeger shows the mirror one click away.
    const tracer = core.tracing?.tracer;
    const from = r.ri.otel ? trace.getSpan(r.ri.otel)?.spanContext() : undefined;
    const span = tracer?.startSpan(
      `mirror ${cfg.target}`,
      { kind: SpanKind.INTERNAL, root: true, ...(from ? { links: [{ context: from, attributes: { "signalbox.link": "mirror_of" } }] } : {}), attributes: { "signalbox.mirror.of": src.id, "signalbox.mirror.route": route, "signalbox.mirror.target": cfg.target, "signalbox.request.id": call.id } },
      ROOT_CONTEXT,
    );
    const traceId = span?.spanContext().traceId ?? randomBytes(16).toString("hex");
    const started = performance.now();
    let similarity: number | undefined;
    let verdict: Verdict | undefined;
    let semantic: number | undefined;
    const ctx = span ? trace.setSpan(ROOT_CONTEXT, span) : undefined;
    const req: EngineRequest = {
      call,
      ri: { id: call.id, traceId, arrivedAt: started, ...(ctx ? { otel: ctx } : {}) },
      signal: stopping.signal,
      cache: { mode: "bypass" },
      statusOf: r.statusOf,
      gather: true,
      // Before the mirror's usage record is written: how alike the two answers are, and the judge's
      // verdict, go in it.
      async onAnswer(text) {
        if (primary.text === undefined) return;
        similarity = wordSimilarity(primary.text, text);
        call.metadata[MIRROR_META.similarity] = similarity.toFixed(3);
        const [j, s] = await Promise.all([
          cfg.judge ? judge(cfg.judge, r, route, call, messages, primary.text, text, traceId, ctx) : undefined,
          cfg.embedding ? meaning(cfg.embedding, r, route, call, primary.text, text, traceId, ctx) : undefined,
        ]);
        if (s !== undefined) {
          semantic = s;
          call.metadata[MIRROR_META.semanticSimilarity] = s.toFixed(3);
        }
        if (!j) return;
        verdict = j.verdict;
        call.metadata[MIRROR_META.verdict] = j.verdict;
        if (j.reason) call.metadata[MIRROR_META.verdictReason] = j.reason;
      },
    };
    let mirror: MirrorSide;
    try {
      let s: Summary | undefined;
      if (call.stream) {
        for await (const ev of engine().stream(req)) if (ev.type === "finish") s = ev.summary;
      } else s = await engine().complete(req);
      mirror = side(call.id, "ok", s!);
    } catch (err) {
      const status = r.statusOf(err);
      mirror = { id: call.id, status: status === "ok" ? "internal" : status, deployment: "", latencyMs: Math.round(performance.now() - started), outputTokens: 0, costNanos: 0 };
      span?.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof GatewayError ? err.message : String(err) });
    }
    const { text: _, ...p } = primary;
    span?.setAttributes({
      "signalbox.mirror.status": mirror.status,
      "signalbox.mirror.deployment": mirror.deployment,
      "signalbox.mirror.primary_status": primary.status,
      "signalbox.mirror.primary_deployment": primary.deployment,
      ...(similarity !== undefined ? { "signalbox.mirror.similarity": similarity } : {}),
      ...(verdict !== undefined ? { "signalbox.mirror.verdict": verdict } : {}),
      ...(semantic !== undefined ? { "signalbox.mirror.semantic_similarity": semantic } : {}),
    });
    span?.end();
    core.metrics.mirror(route, cfg.target, mirror.status === "ok" ? "ok" : "failed", mirror.latencyMs / 1000, similarity, verdict, semantic);
    log("info", "mirror compared", {
      route,
      target: cfg.target,
      request_id: src.id,
      mirror_request_id: call.id,
      trace_id: r.ri.traceId,
      mirror_trace_id: traceId,
      primary: p,
      mirror,
      ...(similarity !== undefined ? { similarity: Number(similarity.toFixed(3)) } : {}),
      ...(verdict !== undefined ? { verdict } : {}),
      ...(semantic !== undefined ? { semantic_similarity: Number(semantic.toFixed(3)) } : {}),
    });
    return { mirror, traceId, ...(similarity !== undefined ? { similarity } : {}), ...(semantic !== undefined ? { semanticSimilarity: semantic } : {}), ...(verdict !== undefined ? { verdict } : {}) };
  }

  /**
   * How alike the two answers mean (the cosine of their embeddings, one embeddings request of the
   * caller's, outside its limits, tagged mirror); undefined when either is empty or the request fails.
   */
  async function meaning(model: string, r: EngineRequest, route: string, mirrorCall: ChatCall, routeText: string, mirrorText: string, traceId: string, ctx: Context | undefined): Promise<number | undefined> {
    if (!routeText.trim() || !mirrorText.trim()) return undefined;
    const call: EmbedCall = {
      operation: "embeddings",
      id: newRequestId(),
      model,
      // The request's data policy holds for whatever reads its text (provider preferences).
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false, ...(r.call.routing.providers ? { providers: r.call.routing.providers } : {}) },
      tags: [MIRROR_TAG],
      metadata: { [MIRROR_META.embeddingOf]: mirrorCall.id, [MIRROR_META.route]: route },
      caller: { ...r.call.caller, allow: [] },
      request: { inputs: [routeText.slice(0, EMBED_CHARS), mirrorText.slice(0, EMBED_CHARS)] },
      mirrorOf: r.call.id,
    };
    try {
      const a = await engine().embed({ call, ri: { id: call.id, traceId, arrivedAt: performance.now(), ...(ctx ? { otel: ctx } : {}) }, signal: stopping.signal, statusOf: r.statusOf });
      const [x, y] = a.embeddings;
      return x && y ? Math.max(-1, Math.min(1, dot(unit(x), unit(y)))) : undefined;
    } catch (err) {
      log("warn", "mirror embedding failed", { route, embedding: model, mirror_request_id: mirrorCall.id, error: String((err as Error)?.message ?? err) });
      return undefined;
    }
  }

  /**
   * The judge: a chat request of the caller's (outside its limits, like the mirror; tagged mirror,
   * its record naming the mirror it judged) that reads the question and both answers, in an order
   * drawn each time (judges favour a position), and says which is better. Whatever goes wrong is
   * the verdict "failed", never the mirror's failure.
   */
  async function judge(model: string, r: EngineRequest, route: string, mirrorCall: ChatCall, messages: ChatMessage[], routeText: string, mirrorText: string, traceId: string, ctx: Context | undefined): Promise<{ verdict: Verdict; reason?: string }> {
    const mirrorFirst = Math.random() < 0.5;
    const [one, two] = mirrorFirst ? [mirrorText, routeText] : [routeText, mirrorText];
    const call: ChatCall = {
      id: newRequestId(),
      model,
      // The request's data policy holds for whatever reads its text (provider preferences).
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false, ...(r.call.routing.providers ? { providers: r.call.routing.providers } : {}) },
      tags: [MIRROR_TAG],
      metadata: { [MIRROR_META.judgeOf]: mirrorCall.id, [MIRROR_META.route]: route },
      caller: { ...r.call.caller, allow: [] },
      request: {
        messages: [
          { role: "system", content: [{ type: "text", text: JUDGE_PROMPT }] },
          { role: "user", content: [{ type: "text", text: judgeInput(messages, one, two) }] },
        ],
        temperature: 0,
        maxOutputTokens: 400,
      },
      stream: false,
      mirrorOf: r.call.id,
    };
    try {
      const a = await engine().complete({ call, ri: { id: call.id, traceId, arrivedAt: performance.now(), ...(ctx ? { otel: ctx } : {}) }, signal: stopping.signal, cache: { mode: "bypass" }, statusOf: r.statusOf });
      const v = readVerdict(a.text);
      if (!v) {
        log("warn", "mirror judge: no verdict in its answer", { route, judge: model, mirror_request_id: mirrorCall.id, judge_request_id: call.id });
        return { verdict: "failed" };
      }
      const verdict: Verdict = v.better === "tie" ? "tie" : (v.better === "1") === mirrorFirst ? "mirror" : "route";
      return { verdict, ...(v.reason ? { reason: v.reason } : {}) };
    } catch (err) {
      log("warn", "mirror judge failed", { route, judge: model, mirror_request_id: mirrorCall.id, error: String((err as Error)?.message ?? err) });
      return { verdict: "failed" };
    }
  }

  return {
    after(r, route, cfg, messages, primary) {
      if (stopping.signal.aborted) return Promise.resolve(undefined);
      if (cfg.percent < 100 && !(Math.random() * 100 < cfg.percent)) return Promise.resolve(undefined);
      const n = inFlight.get(route) ?? 0;
      if (n >= cfg.maxInFlight) {
        core.metrics.mirror(route, cfg.target, "skipped");
        return Promise.resolve(undefined);
      }
      inFlight.set(route, n + 1);
      const p = run(r, route, cfg, messages, primary)
        .catch((err: unknown) => {
          log("warn", "mirror failed", { route, target: cfg.target, request_id: r.call.id, error: String((err as Error)?.message ?? err) });
          return undefined;
        })
        .finally(() => {
          runs.delete(p);
          const left = (inFlight.get(route) ?? 1) - 1;
          if (left > 0) inFlight.set(route, left);
          else inFlight.delete(route);
        });
      runs.add(p);
      return p;
    },
    running: () => runs.size,
    async close() {
      stopping.abort();
      await Promise.all([...runs]);
    },
  };
}

function side(id: string, status: string, s: Summary): MirrorSide {
  return { id, status, deployment: s.deployment, latencyMs: s.latencyMs, ...(s.ttftMs !== undefined ? { ttftMs: s.ttftMs } : {}), outputTokens: s.usage.outputTokens, costNanos: s.cost.total };
}

const WORD = /[\p{L}\p{N}]+/gu;

function counts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of text.toLowerCase().match(WORD) ?? []) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

/**
 * How alike two answers are, 0..1: the cosine of their word counts (case-folded letters and
 * digits). 1 for the same words in any order, 0 for none in common; two empty answers are alike.
 */
export function wordSimilarity(a: string, b: string): number {
  const x = counts(a);
  const y = counts(b);
  if (x.size === 0 || y.size === 0) return x.size === y.size ? 1 : 0;
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (const [w, n] of x) {
    nx += n * n;
    dot += n * (y.get(w) ?? 0);
  }
  for (const n of y.values()) ny += n * n;
  return Math.min(1, dot / Math.sqrt(nx * ny));
}

/** Characters of each answer embedded (their start). */
const EMBED_CHARS = 8000;


/** What the judge is told. */
export const JUDGE_PROMPT =
  "You compare two answers to the same request. Judge which answer serves the user better: correct, complete, following the request's instructions, and clear. Length is not merit. " +
  'Reply with one line of JSON only: {"better": "1" | "2" | "tie", "reason": "<one short sentence>"}.';

/** Characters of the request and of each answer the judge reads (the start of each). */
const JUDGE_CHARS = { request: 6000, answer: 8000 };

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}\n[… cut]` : s);

/** The request (its system and user text, the last turns first to go) and the two answers, as the judge reads them. */
export function judgeInput(messages: readonly ChatMessage[], one: string, two: string): string {
  const turns = messages
    .filter((m) => m.role === "system" || m.role === "user" || m.role === "developer")
    .map((m) => `${m.role}: ${m.content.map((p) => (p.type === "text" ? p.text : `[${p.type}]`)).join(" ")}`);
  let request = turns.join("\n");
  if (request.length > JUDGE_CHARS.request) request = `[… earlier turns cut]\n${request.slice(-JUDGE_CHARS.request)}`;
  return `<request>\n${request}\n</request>\n\n<answer_1>\n${cut(one, JUDGE_CHARS.answer)}\n</answer_1>\n\n<answer_2>\n${cut(two, JUDGE_CHARS.answer)}\n</answer_2>`;
}

/** The judge's verdict from its answer: the JSON object it was asked for (in a code fence or prose too), else undefined. */
export function readVerdict(text: string): { better: "1" | "2" | "tie"; reason?: string } | undefined {
  for (const m of text.matchAll(/\{[^{}]*\}/g)) {
    try {
      const o = JSON.parse(m[0]) as { better?: unknown; reason?: unknown };
      const b = String(o.better ?? "").trim().toLowerCase();
      if (b === "1" || b === "2" || b === "tie") return { better: b, ...(typeof o.reason === "string" && o.reason.trim() ? { reason: o.reason.trim().slice(0, 300) } : {}) };
    } catch {
      // not this one
    }
  }
  const loose = /"better"\s*:\s*"?(1|2|tie)"?/i.exec(text);
  return loose ? { better: loose[1].toLowerCase() as "1" | "2" | "tie" } : undefined;
}
