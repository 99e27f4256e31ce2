// POST /v1/completions, OpenAI's legacy text completions, on the chat engine: the prompt is sent as
// one user message to whatever deployment the route picks (as LiteLLM does for chat models), and
// the answer comes back as a `text_completion` (unary) or its SSE chunks (`stream: true`, with
// `stream_options.include_usage`), so tools that still speak the legacy API (and the SDK's
// `completions.create`) work through every provider, with routing, fallbacks, limits, budgets,
// guardrails, cache, usage records and traces. Token log probabilities come back in the legacy
// shape (`logprobs: n` → tokens, token_logprobs, top_logprobs, text_offset). What only a raw
// completion model can do is refused by name: `echo`, `suffix` (fill-in-the-middle), `best_of` > 1,
// token-array prompts, several prompts. `n` (up to 16) is n calls through the engine, as on
// /v1/chat/completions (choices.ts).

import { ServerResponse } from "node:http";
import type { DoorDeps, Res } from "./door.ts";
import type { Answer, EngineRequest, Summary } from "../engine/chat-engine.ts";
import { MAX_CACHE_TTL_SECONDS } from "../engine/chat-engine.ts";
import type { FinishReason, StreamEvent, TokenLogprob, UpstreamRequest, Usage } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall } from "../router/types.ts";
import { coalesceWrites } from "../server/http.ts";
import { validateCacheTtl, validateCall, type FieldNames } from "../server/validate.ts";
import { bad, bool, doorCall, int, isObj, obj, samplingOptions, str, stringList, stringMetadata } from "./request.ts";
import { cacheSimilarityHeader, rateLimitHeaders, mergedSummary, toOpenAIError } from "./response.ts";
import { completeChoices, MAX_CHOICES, streamChoices } from "./choices.ts";

const KNOWN = new Set([
  "model",
  "prompt",
  "max_tokens",
  "temperature",
  "top_p",
  "n",
  "stream",
  "stream_options",
  "logprobs",
  "echo",
  "stop",
  "presence_penalty",
  "frequency_penalty",
  "best_of",
  "logit_bias",
  "user",
  "suffix",
  "seed",
  "metadata",
  "signalbox",
  "models",
  "provider",
  "transforms",
]);

const FIELDS: FieldNames = {
  maxOutputTokens: "max_tokens",
  image: "prompt",
  fileData: "prompt",
  fileMediaType: "prompt",
  responseFormatSchema: "response_format",
  responseFormatName: "response_format",
  toolChoiceTool: "tool_choice",
  routing: "signalbox",
};

/** OpenAI's legacy default when max_tokens is not given. */
const DEFAULT_MAX_TOKENS = 16;

export function parseCompletionRequest(body: unknown, id: string, caller: DoorDeps["caller"]): { call: ChatCall; includeUsage: boolean; n: number; logprobs?: number; cache?: ReturnType<typeof doorCall>["cache"] } {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k of Object.keys(body)) if (!KNOWN.has(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
  const model = str(body, "model", "model") ?? bad("model", "is required");
  let prompt: string;
  const p = body.prompt;
  if (typeof p === "string") prompt = p;
  else if (Array.isArray(p) && p.length === 1 && typeof p[0] === "string") prompt = p[0];
  else if (Array.isArray(p) && p.length > 1 && p.every((x) => typeof x === "string")) bad("prompt", "one prompt per request: several prompts are not supported by this gateway");
  else if (Array.isArray(p)) bad("prompt", "token-array prompts are not supported by this gateway: send the text");
  else bad("prompt", "is required: a string");
  if (prompt.trim() === "") bad("prompt", "must not be empty");
  if (bool(body, "echo", "echo") === true) bad("echo", "echoing the prompt is not supported by this gateway");
  if (str(body, "suffix", "suffix")) bad("suffix", "fill-in-the-middle (suffix) is not supported by this gateway");
  const n = int(body, "n", "n") ?? 1;
  if (n < 1) bad("n", `must be at least 1, got ${n}`);
  if (n > MAX_CHOICES) bad("n", `at most ${MAX_CHOICES} choices (each is its own upstream call), got ${n}`);
  const bestOf = int(body, "best_of", "best_of");
  if (bestOf !== undefined && bestOf !== 1) bad("best_of", "only best_of=1 is supported");

  const req: Omit<UpstreamRequest, "model"> = { messages: [{ role: "user", content: [{ type: "text", text: prompt }] }] };
  req.maxOutputTokens = int(body, "max_tokens", "max_tokens") ?? DEFAULT_MAX_TOKENS;
  samplingOptions(body, req);
  // Legacy logprobs is a count (0..5): the chosen token's, and that many alternatives.
  const logprobs = int(body, "logprobs", "logprobs");
  if (logprobs !== undefined && (logprobs < 0 || logprobs > 5)) bad("logprobs", `must be an integer between 0 and 5, got ${logprobs}`);
  if (logprobs !== undefined) {
    req.logprobs = true;
    if (logprobs > 0) req.topLogprobs = logprobs;
  }
  const user = str(body, "user", "user");
  if (user) req.user = user;
  const so = obj(body, "stream_options", "stream_options");
  const stream = bool(body, "stream", "stream") ?? false;
  if (so && !stream) bad("stream_options", "is only allowed when stream is true");
  const { call, cache } = doorCall(body, { id, model, request: req, user, metadata: stringMetadata(body), caller, stream, extraFallbacks: stringList(Array.isArray(body.models) ? body.models : undefined, "models") });
  validateCall(call, FIELDS);
  return { call, includeUsage: so ? bool(so, "include_usage", "stream_options.include_usage") === true : false, n, ...(logprobs !== undefined ? { logprobs } : {}), ...(cache ? { cache } : {}) };
}

const FINISH: Record<FinishReason, string> = { stop: "stop", length: "length", tool_calls: "stop", content_filter: "content_filter", error: "stop", other: "stop" };

const usageJson = (u: Usage) => ({
  prompt_tokens: u.inputTokens,
  completion_tokens: u.outputTokens,
  total_tokens: u.inputTokens + u.outputTokens,
  ...(u.cachedInputTokens ? { prompt_tokens_details: { cached_tokens: u.cachedInputTokens } } : {}),
});

/** Token log probabilities in the legacy shape, offsets counted from `offset` characters into the completion. */
function legacyLogprobs(lp: TokenLogprob[], offset: number) {
  const text_offset: number[] = [];
  let at = offset;
  for (const t of lp) {
    text_offset.push(at);
    at += t.token.length;
  }
  return {
    tokens: lp.map((t) => t.token),
    token_logprobs: lp.map((t) => t.logprob),
    top_logprobs: lp.map((t) => Object.fromEntries([[t.token, t.logprob], ...t.top.map((x) => [x.token, x.logprob] as const)])),
    text_offset,
  };
}

const cmplId = (id: string) => `cmpl-${id.replace(/^req_/, "")}`;

/** A text completion with one choice per answer (`n`), usage and cost summed. */
export function completionTextJson(answers: Answer | readonly Answer[], logprobs: number | undefined) {
  const list: readonly Answer[] = Array.isArray(answers) ? answers : [answers as Answer];
  const a = list[0];
  const all = mergedSummary(list);
  return {
    id: cmplId(a.id),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model: a.providerModel || a.model,
    choices: list.map((x, index) => ({ text: x.text, index, logprobs: logprobs !== undefined && x.logprobs ? legacyLogprobs(x.logprobs, 0) : null, finish_reason: FINISH[x.finishReason ?? "stop"] })),
    usage: usageJson(all.usage),
    signalbox: { deployment: a.deployment, provider: a.provider, route: a.routing.route, variant: a.routing.variant, attempts: all.attempts.length, cost_nano_usd: all.cost.total, cache: a.cache, trace_id: a.traceId, adjustments: a.adjustments, ...(list.length > 1 ? { choices: list.map((x) => ({ id: x.id, deployment: x.deployment, provider: x.provider, attempts: x.attempts.length, cost_nano_usd: x.cost.total })) } : {}) },
  };
}

/** Serve one request; returns the HTTP status sent. Errors before the first byte are thrown. */
export async function serveCompletions(res: Res, d: DoorDeps): Promise<number> {
  const { ri, signal } = d;
  const common = { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };
  let json: unknown;
  try {
    json = JSON.parse(d.body.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
  }
  const parsed = parseCompletionRequest(json, ri.id, d.caller);
  if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  const er = { call: parsed.call, ri, signal, cache: d.cache ?? parsed.cache, statusOf: d.statusOf };

  if (!parsed.call.stream) {
    const answers = await completeChoices(d.engine, er, parsed.n);
    const a = answers[0];
    d.sendJson(res, 200, completionTextJson(answers, parsed.logprobs), { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity), ...rateLimitHeaders(a.limits) });
    return 200;
  }

  if (parsed.n > 1) return streamTextChoices(res, d, er, parsed, common);

  // Nothing is written before the engine's start (the first content): a failure before it is a
  // plain HTTP error; after it, an error event and no [DONE], as on /v1/chat/completions.
  const out = res as ServerResponse;
  let started = false;
  let model = "";
  let offset = 0;
  const created = Math.floor(Date.now() / 1000);
  const id = cmplId(ri.id);
  const chunk = (text: string, lp: TokenLogprob[] | undefined, finish: string | null) => textChunk(id, created, model, 0, text, lp ? legacyLogprobs(lp, offset) : null, finish);
  try {
    for await (const ev of d.engine.stream(er)) {
      if (ev.type === "start") {
        if (res instanceof ServerResponse) coalesceWrites(res);
        out.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...common, "x-signalbox-deployment": ev.deployment, "x-signalbox-cache": ev.cache, ...cacheSimilarityHeader(ev.cacheSimilarity), ...rateLimitHeaders(ev.limits) });
        started = true;
        model = ev.providerModel || ev.model;
      } else if (ev.type === "delta") {
        const s = deltaText(ev.events, parsed.logprobs !== undefined);
        if (s.text || s.logprobs) {
          out.write(chunk(s.text, s.logprobs, null));
          offset += s.text.length;
        }
      } else {
        out.write(textChunk(id, created, model, 0, "", null, FINISH[ev.summary.finishReason ?? "stop"]));
        res.end(endChunks([ev.summary], id, created, model, parsed.includeUsage));
      }
    }
  } catch (err) {
    if (!started) throw err;
    const e = toOpenAIError(err);
    if (!signal.aborted) res.end(`data: ${JSON.stringify(e.body)}\n\n`);
    return e.status;
  }
  return 200;
}

function deltaText(events: StreamEvent[], wantLogprobs: boolean): { text: string; logprobs?: TokenLogprob[] } {
  let text = "";
  let logprobs: TokenLogprob[] | undefined;
  for (const e of events) {
    if (e.type === "text") text += e.text;
    else if (e.type === "logprobs" && wantLogprobs) (logprobs ??= []).push(...e.content);
  }
  return logprobs ? { text, logprobs } : { text };
}

const textChunk = (id: string, created: number, model: string, index: number, text: string, logprobs: unknown, finish: string | null) =>
  `data: ${JSON.stringify({ id, object: "text_completion", created, model, choices: [{ text, index, logprobs, finish_reason: finish }] })}\n\n`;

/** The end of a stream: the usage chunk when asked for (every choice's, summed), then [DONE]. */
function endChunks(parts: readonly Summary[], id: string, created: number, model: string, includeUsage: boolean): string {
  return (includeUsage ? `data: ${JSON.stringify({ id, object: "text_completion", created, model, choices: [], usage: usageJson(mergedSummary(parts).usage) })}\n\n` : "") + "data: [DONE]\n\n";
}

/** `n` > 1, streamed (choices.ts): each choice's chunks with its index, the usage of all of them at the end. */
function streamTextChoices(res: Res, d: DoorDeps, er: EngineRequest, parsed: { n: number; includeUsage: boolean; logprobs?: number }, common: Record<string, string>): Promise<number> {
  const out = res as ServerResponse;
  return streamChoices(out, d.engine, er, parsed.n, (starts) => {
    const first = starts[0];
    const id = cmplId(first.id);
    const created = Math.floor(Date.now() / 1000);
    const model = first.providerModel || first.model;
    const offsets = starts.map(() => 0);
    const summaries: Summary[] = [];
    if (res instanceof ServerResponse) coalesceWrites(res);
    out.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...common, "x-signalbox-deployment": first.deployment, "x-signalbox-cache": first.cache, ...rateLimitHeaders(first.limits) });
    return {
      each(i, ev) {
        if (ev.type === "delta") {
          const s = deltaText(ev.events, parsed.logprobs !== undefined);
          if (s.text || s.logprobs) {
            out.write(textChunk(id, created, model, i, s.text, s.logprobs ? legacyLogprobs(s.logprobs, offsets[i]) : null, null));
            offsets[i] += s.text.length;
          }
        } else if (ev.type === "finish") {
          summaries[i] = ev.summary;
          out.write(textChunk(id, created, model, i, "", null, FINISH[ev.summary.finishReason ?? "stop"]));
        }
      },
      end: () => endChunks(summaries, id, created, model, parsed.includeUsage),
      failed(err) {
        const e = toOpenAIError(err);
        return { status: e.status, text: `data: ${JSON.stringify(e.body)}\n\n` };
      },
    };
  });
}
