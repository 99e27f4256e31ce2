// The OpenAI-compatible front door, on the gateway's own port:
//   POST /v1/chat/completions   (unary, or SSE with stream: true; stream_options.include_usage)
//   POST /v1/embeddings         (OpenAI's shape, the engine's embeddings operation: embeddings.ts)
//   POST /v1/rerank, /v2/rerank (Cohere's and Jina's shape, the engine's rerank operation: rerank.ts)
//   POST /v1/images/generations (OpenAI's shape, the engine's image operation: images.ts)
//   POST /v1/audio/transcriptions, /v1/audio/translations, /v1/audio/speech (OpenAI's Audio API: audio.ts)
//   POST /v1/moderations        (OpenAI's shape, the engine's moderation operation: moderations.ts)
//   POST /v1/search[/{tool}]     (Perplexity's Search API shape, LiteLLM's path: the engine's search operation, search.ts)
//   POST /v1/ocr                 (Mistral's OCR API shape, LiteLLM's path: the engine's OCR operation, ocr.ts)
//   POST /v1/completions        (the legacy text completions, on the chat engine: completions.ts)
//   POST /v1/responses          (the Responses API: responses/handler.ts; stored responses:
//   GET|DELETE /v1/responses/{id}[/input_items], POST /v1/responses/{id}/cancel)
//   /v1/conversations[/{id}[/items[/{item_id}]]] (the Conversations API: responses/conversations-http.ts)
//   POST /v1/messages[/count_tokens] (Anthropic's Messages API: anthropic/handler.ts; its errors in Anthropic's shape)
//   GET  /v1beta/models[/{model}] (Gemini's model list, the models the key may name)
//   POST /v1beta/models/{model}:generateContent, :streamGenerateContent, :countTokens (and under /v1:
//        Gemini's API: gemini/handler.ts; its errors as google.rpc.Status)
//   POST /v1/feedback           (Portkey's shape: a score for an answered request, ../server/feedback.ts)
//   PUT  /v1/feedback/{id}      (Portkey's update of a score)
//   GET  /v1/generation, POST /v1/generation/feedback, GET /v1/key, /v1/credits, /v1/providers,
//        /v1/endpoints/zdr, /v1/models/count, /v1/models/user, /v1/models/{id}/endpoints,
//        GET|POST /v1/keys, GET|PATCH|DELETE /v1/keys/{hash} (OpenRouter's, ./openrouter.ts)
//   /v1/api-keys[/{id}], /v1/virtual-keys[/{slug}] (Portkey's admin API, ./portkey-admin.ts)
//   /key/*, /team/*, /customer/* (and /end_user/*), /spend/logs, /model/*, /v1/model/info,
//        /provider/budgets, /health/{liveliness,readiness} (LiteLLM's management API, ./litellm.ts)
//   /api/governance/virtual-keys[/{vk_id}], /api/governance/teams[/{team_id}] (Bifrost's governance API, ./bifrost-governance.ts)
//   *    /passthrough/{provider}/{path} (a request as it is to a provider, with its credentials: passthrough.ts)
//   GET  /v1/realtime           (the Realtime API, a WebSocket: realtime.ts; a plain request is a 426)
//   POST /v1/realtime/calls, /v1/realtime/calls/{id}/hangup, /v1/realtime/client_secrets
//                               (WebRTC calls and client secrets: realtime.ts, realtime-secrets.ts)
//   GET  /v1/models             (what the caller's key may use: routes, aliases, deployments)
//   GET  /v1/models/{id}
// It authenticates, parses and validates, then hands the call to the same chat engine as
// ChatService: one router, one set of keys, limits, budgets, usage records, cache and traces.

import { ServerResponse, type IncomingMessage } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { CacheMode, ChatEngine, EngineRequest, Summary } from "../engine/chat-engine.ts";
import { MAX_CACHE_TTL_SECONDS } from "../engine/chat-engine.ts";
import type { DeploymentConfig } from "../config/types.ts";
import { allowListAllows } from "../config/wildcards.ts";
import type { GatewayCore } from "../gateway.ts";
import { submitFeedback, updateFeedback, type FeedbackDeps } from "../server/feedback.ts";
import { GatewayError } from "../router/errors.ts";
import type { Adjustment, Caller } from "../router/types.ts";
import { log } from "../telemetry/log.ts";
import { newRequestId, traceIdFrom, type RequestInfo } from "../server/context.ts";
import { coalesceWrites } from "../server/http.ts";
import { validateCacheTtl } from "../server/validate.ts";
import { endHttpSpan, startHttpSpan } from "../telemetry/tracing.ts";
import { parseChatRequest } from "./request.ts";
import { completeChoices, streamChoices } from "./choices.ts";
import { cacheSimilarityHeader, rateLimitHeaders, chunkWriter, completionJson, toOpenAIError } from "./response.ts";
import { serveEmbeddings } from "./embeddings.ts";
import { serveRerank } from "./rerank.ts";
import { MAX_IMAGE_EDIT_BYTES, serveImageEdit, serveImages } from "./images.ts";
import { serveModerations } from "./moderations.ts";
import { searchPath, serveSearch } from "./search.ts";
import { serveOcr } from "./ocr.ts";
import { serveCompletions } from "./completions.ts";
import { isAudioPath, serveSpeech, serveTranscription } from "./audio.ts";
import { MAX_AUDIO_BYTES, MAX_AUDIO_REQUEST_BYTES } from "../server/validate.ts";
import { isStoredResponsePath, serveResponses, serveStoredResponse, type StoredResponses } from "./responses/handler.ts";
import { isStoredCompletionPath, serveStoredCompletions } from "./chat-stored.ts";
import type { CompletionStore, StoredCompletion } from "./chat-store.ts";
import { isConversationPath, serveConversations } from "./responses/conversations-http.ts";
import { serveMessages } from "./anthropic/handler.ts";
import { toAnthropicError } from "./anthropic/errors.ts";
import { toGeminiError } from "./gemini/errors.ts";
import { geminiPath, serveGenerateContent } from "./gemini/handler.ts";
import { isBatchPath, serveBatchApi, type BatchApi } from "../batch/http.ts";
import { isVectorStorePath, serveVectorStores } from "../vectors/http.ts";
import type { VectorStores } from "../vectors/service.ts";
import { PASSTHROUGH_PREFIX, type Passthrough } from "./passthrough.ts";
import { isCallsPath, type RealtimeDoor } from "./realtime.ts";
import { deploymentsBehind, isOpenRouterPath, openRouterModelFields, openRouterRoute, serveOpenRouter, toOpenRouterError, type ListedModel } from "./openrouter.ts";
import { portkeyContext, portkeyTraceparent } from "./portkey.ts";
import { applyPortkey, portkeyRouting, type PortkeyRouting } from "./portkey-config.ts";
import { healJson } from "./heal.ts";
import { isLiteLLMHealthPath, isLiteLLMPath, liteLLMHealth, liteLLMRoute, serveLiteLLM, toLiteLLMError } from "./litellm.ts";
import { bifrostGovernanceRoute, isBifrostGovernancePath, serveBifrostGovernance, toBifrostError } from "./bifrost-governance.ts";
import { isPortkeyAdminPath, servePortkeyAdmin, toPortkeyAdminError } from "./portkey-admin.ts";
import { isMessageBatchPath, serveMessageBatches } from "../batch/anthropic-http.ts";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

const JSON_HEADERS = { "content-type": "application/json" };

/** Read the body up to `max` bytes; a larger one is a 413. */
export function readBody(req: Req, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new GatewayError("resource_exhausted", `request body exceeds the limit of ${max} bytes`, { field: "body" }));
        req.removeAllListeners("data");
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/** Gemini's `?key=` query parameter (its REST API and SDK take the key there too). */
function queryKey(url: string): string | undefined {
  const q = url.indexOf("?");
  if (q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get("key") ?? undefined;
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** The doors Portkey's routing headers apply to (their bodies name a model and take the `signalbox` options). */
const PORTKEY_DOORS = new Set(["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages", "/v1/messages/count_tokens", "/v1/embeddings", "/v1/rerank", "/v2/rerank", "/v1/images/generations", "/v1/moderations"]);

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Cache options from headers: `x-signalbox-cache: use | bypass | refresh` and
 * `x-signalbox-cache-ttl: <seconds>`, or the standard Cache-Control request directives
 * (no-store: bypass, no-cache: refresh, max-age=N: use with that TTL).
 */
function cacheFromHeaders(req: Req): { mode: CacheMode; ttlSeconds?: number } | undefined {
  const h = header(req, "x-signalbox-cache");
  const ttlText = header(req, "x-signalbox-cache-ttl");
  const cc = header(req, "cache-control");
  // Portkey's SDK: cacheForceRefresh answers afresh and refreshes the cached answer.
  const pkRefresh = header(req, "x-portkey-cache-force-refresh");
  if (h === undefined && ttlText === undefined && cc === undefined && pkRefresh === undefined) return undefined;
  let mode: CacheMode | undefined;
  let ttlSeconds: number | undefined;
  if (cc) {
    const d = cc.toLowerCase();
    if (/\bno-store\b/.test(d)) mode = "bypass";
    else if (/\bno-cache\b/.test(d)) mode = "refresh";
    const m = /\bmax-age=(\d+)/.exec(d);
    if (m) {
      ttlSeconds = Number(m[1]);
      mode ??= "use";
    }
  }
  if (pkRefresh !== undefined) {
    const v = pkRefresh.trim().toLowerCase();
    if (v !== "true" && v !== "false") throw new GatewayError("invalid_argument", `x-portkey-cache-force-refresh: must be true or false, got "${pkRefresh}"`, { field: "x-portkey-cache-force-refresh" });
    if (v === "true") mode = "refresh";
  }
  if (h !== undefined) {
    if (h !== "use" && h !== "bypass" && h !== "refresh") throw new GatewayError("invalid_argument", `x-signalbox-cache: must be use, bypass or refresh, got "${h}"`, { field: "x-signalbox-cache" });
    mode = h;
  }
  if (ttlText !== undefined) {
    ttlSeconds = Number(ttlText);
    validateCacheTtl("x-signalbox-cache-ttl", ttlSeconds, MAX_CACHE_TTL_SECONDS);
  }
  if (ttlSeconds !== undefined) ttlSeconds = Math.min(ttlSeconds, MAX_CACHE_TTL_SECONDS);
  return mode || ttlSeconds ? { mode: mode ?? "use", ttlSeconds: ttlSeconds || undefined } : undefined;
}

/** A model in Gemini's shape (models/{id}); the generation methods only where the gateway serves chat. */
function geminiModel(m: Record<string, unknown>) {
  const id = String(m.id);
  const sb = (m.signalbox ?? {}) as { kind?: string; description?: string };
  const arch = m.architecture as { output_modalities?: string[] } | undefined;
  const chat = sb.kind === "route" || sb.kind === "alias" || sb.kind === "wildcard" || (arch?.output_modalities ?? ["text"]).includes("text");
  const top = m.top_provider as { max_completion_tokens?: number | null } | undefined;
  return {
    name: `models/${id}`,
    baseModelId: id,
    version: "signalbox",
    displayName: typeof m.name === "string" && m.name ? m.name : id,
    description: sb.description ?? "",
    inputTokenLimit: typeof m.context_length === "number" ? m.context_length : 0,
    outputTokenLimit: top?.max_completion_tokens ?? 0,
    supportedGenerationMethods: chat ? ["generateContent", "streamGenerateContent", "countTokens"] : [],
  };
}

/** Anthropic's model fields beside OpenAI's (its SDK's models.list and retrieve read them). */
function anthropicModelFields<M extends Record<string, unknown>>(m: M): M & { type: "model"; display_name: string; created_at: string } {
  const name = typeof m.name === "string" && m.name ? m.name : String(m.id);
  return { ...m, type: "model", display_name: name, created_at: new Date(Number(m.created) * 1000).toISOString() };
}

/** A request's JSON body; one that does not parse is a 400 naming the body. */
async function readJsonBody(req: Req, maxBytes: number): Promise<unknown> {
  try {
    return JSON.parse((await readBody(req, maxBytes)).toString("utf8"));
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
  }
}

/** A request's query parameters. */
function queryOf(req: Req): URLSearchParams {
  const u = req.url ?? "";
  const q = u.indexOf("?");
  return new URLSearchParams(q < 0 ? "" : u.slice(q + 1));
}

/** The status a failed request is recorded with: the caller going away is "canceled". */
function statusOf(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return "canceled";
  if (err === undefined) return "ok";
  if (err instanceof GatewayError) return err.code;
  return "internal";
}

/** The head of a chat stream's answer. The chunks of one upstream read leave in one write (HTTP/1.1; HTTP/2 frames them itself). */
function openEventStream(res: Res, headers: Record<string, string>): void {
  if (res instanceof ServerResponse) coalesceWrites(res);
  (res as ServerResponse).writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
}

/** Stored chat completions (store: true) and how long they are kept. */
export interface StoredCompletions {
  store: CompletionStore;
  retentionMs: number;
}

export function createCompatHandler(core: GatewayCore, engine: ChatEngine, batches?: BatchApi, responses?: StoredResponses, completions?: StoredCompletions, feedback?: FeedbackDeps, passthrough?: Passthrough, realtime?: RealtimeDoor, health?: { readonly serving: boolean }, vectors?: VectorStores): (req: Req, res: Res) => boolean {
  const maxBytes = core.config.server.maxRequestBytes;
  const started = Math.floor(Date.now() / 1000);

  /** Whether a caller's key may name a model (or, for an alias, its target). */
  function allowedFor(caller: Caller, name: string, target?: string): boolean {
    return allowListAllows(caller.allow, name) || (target !== undefined && allowListAllows(caller.allow, target));
  }

  /**
   * Models the caller may name, in OpenAI's list shape, with OpenRouter's fields beside (prices per
   * token, context, modalities, parameters: ./openrouter.ts), which model pickers read.
   */
  function models(caller: Caller) {
    const cfg = core.registry.config;
    const allowed = (name: string, target?: string) => allowedFor(caller, name, target);
    const behind = (name: string) => deploymentsBehind(cfg, name);
    const out: Record<string, unknown>[] = [];
    for (const r of cfg.routes) if (allowed(r.name)) out.push({ id: r.name, object: "model", created: started, owned_by: "signalbox", ...openRouterModelFields(r.name, r.description || r.name, behind(r.name)), signalbox: { kind: "route", strategy: r.strategy, description: r.description } });
    for (const [name, target] of Object.entries(cfg.aliases)) if (allowed(name, target)) out.push({ id: name, object: "model", created: started, owned_by: "signalbox", ...openRouterModelFields(name, `${name} (${target})`, behind(target)), signalbox: { kind: "alias", target } });
    for (const d of cfg.deployments) {
      if (allowed(d.id)) out.push(deploymentModel(d));
    }
    // A wildcard deployment is listed by its id ("openai/*"); the models it made so far are found by id below.
    for (const w of cfg.wildcards ?? []) if (allowed(w.id)) out.push({ id: w.id, object: "model", created: started, owned_by: w.provider, ...openRouterModelFields(w.id, w.id, []), signalbox: { kind: "wildcard", model: w.model } });
    return out;
  }
  const deploymentModel = (d: DeploymentConfig) => ({
    id: d.id,
    object: "model",
    created: started,
    owned_by: d.provider,
    ...openRouterModelFields(d.id, d.model, [d]),
    signalbox: { kind: "deployment", model: d.model, capabilities: d.capabilities },
  });
  /** A model the caller may name, from its list or (made now if it was not yet) a wildcard deployment's. */
  function findModel(caller: Caller, id: string, list: Record<string, unknown>[]): Record<string, unknown> | undefined {
    const m = list.find((x) => x.id === id);
    if (m || !core.registry.config.wildcards?.length || !allowedFor(caller, id)) return m;
    const r = core.registry.resolve(id);
    return r?.kind === "deployment" ? deploymentModel(r.deployment) : undefined;
  }

  function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}) {
    if (res.headersSent) return;
    // Encoded once: the length and the bytes written come from the same buffer.
    const buf = Buffer.from(JSON.stringify(body));
    (res as ServerResponse).writeHead(status, { ...JSON_HEADERS, ...headers, "content-length": String(buf.length) });
    res.end(buf);
  }

  /** A chat completion made with store: true, kept with its metadata and the request's messages; a store that fails is logged, never the answer's failure. */
  async function keepCompletion(completion: Record<string, unknown>, metadata: Record<string, string>, caller: Caller, messages: unknown): Promise<void> {
    if (!completions) return;
    const id = String(completion.id);
    const now = Date.now();
    const c: StoredCompletion = {
      id,
      owner: { team: caller.team, key: caller.keyName },
      createdAt: now,
      expiresAt: now + completions.retentionMs,
      model: String(completion.model),
      metadata,
      completion,
      messages: (Array.isArray(messages) ? messages : []).map((m, i) => ({ id: `${id}-${i}`, ...(m as Record<string, unknown>) })),
    };
    await completions.store.put(c).catch((err) => log("warn", "chat completions: could not store a completion (store: true)", { id, reason: (err as Error).message }));
  }

  /** A request's body with Portkey's routing (or a Model Catalog name) applied (./portkey-config.ts). */
  const portkeyed = (pk: PortkeyRouting | undefined, ri: RequestInfo, body: unknown) => applyPortkey(pk, body, core.registry, ri.context?.metadata ?? NO_METADATA);
  /** The same for a door that parses its own body: rewritten only when there is something to apply (one that is not JSON is left for the door to refuse). */
  const portkeyedRaw = (pk: PortkeyRouting | undefined, ri: RequestInfo, raw: Buffer): Buffer => {
    if (!pk && !raw.includes('"@')) return raw;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch {
      return raw;
    }
    const out = portkeyed(pk, ri, parsed);
    return out === parsed ? raw : Buffer.from(JSON.stringify(out));
  };

  async function chat(req: Req, res: Res, ri: RequestInfo, caller: Caller, signal: AbortSignal, pk: PortkeyRouting | undefined): Promise<number> {
    const raw = await readBody(req, maxBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
    }
    body = portkeyed(pk, ri, body);
    const parsed = parseChatRequest(body, ri.id, caller, core.control.prompts, core.config.presets);
    if (parsed.store) {
      if (!completions) throw new GatewayError("invalid_argument", "store: this gateway keeps no chat completions (responses.store is false in its configuration)", { field: "store" });
      if (parsed.call.stream && parsed.n > 1) throw new GatewayError("invalid_argument", "store: a streamed answer of several choices (n > 1) is not stored; store it unstreamed or with n = 1", { field: "store" });
    }
    const keep = (completion: Record<string, unknown>) => keepCompletion(completion, parsed.call.metadata, caller, (body as { messages?: unknown }).messages);
    const cache = cacheFromHeaders(req) ?? parsed.cache;
    if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
    // store: true on a stream has the engine gather the answer as it goes, kept once the stream has ended.
    const er: EngineRequest = { call: parsed.call, ri, signal, cache, statusOf: (err: unknown) => statusOf(err, signal), gather: parsed.store };
    const created = Math.floor(Date.now() / 1000);
    const common = { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };

    if (!parsed.call.stream) {
      let answers = await completeChoices(engine, er, parsed.n);
      if (parsed.healJson) answers = await Promise.all(answers.map(healJson));
      const a = answers[0];
      const answer = completionJson(answers, created);
      // Stored before it is answered, so a GET right after finds it.
      if (parsed.store) await keep(answer);
      sendJson(res, 200, answer, { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity), ...rateLimitHeaders(a.limits) });
      return 200;
    }
    if (parsed.n > 1) return streamChatChoices(res, er, parsed.n, parsed.includeUsage, created, common);

    // Nothing is written before the commit point: a failure before it is a plain HTTP error
    // the SDK can retry; after it, an error event ends the stream.
    let w: ReturnType<typeof chunkWriter> | undefined;
    let routing = { route: "", alias: "", strategy: "", variant: "" };
    let adjustments: Adjustment[] = [];
    let started: { id: string; model: string } | undefined;
    try {
      for await (const ev of engine.stream(er)) {
        if (ev.type === "start") {
          routing = ev.routing;
          adjustments = ev.adjustments;
          started = ev;
          openEventStream(res, { ...common, "x-signalbox-deployment": ev.deployment, "x-signalbox-cache": ev.cache, ...cacheSimilarityHeader(ev.cacheSimilarity), ...rateLimitHeaders(ev.limits) });
          w = chunkWriter(ev.id, created, ev.providerModel || ev.model, parsed.includeUsage);
          (res as ServerResponse).write(w.start());
        } else if (ev.type === "delta") {
          (res as ServerResponse).write(w!.delta(ev.events));
        } else {
          // Output guardrails' redactions are known only now.
          const all = ev.summary.adjustments?.length ? [...adjustments, ...ev.summary.adjustments] : adjustments;
          res.end(w!.finish(ev.summary, { routing, traceId: ri.traceId, adjustments: all }));
          if (ev.answer) await keep(completionJson({ ...ev.summary, ...started!, ...ev.answer, routing, adjustments: all, traceId: ri.traceId }, created));
        }
      }
    } catch (err) {
      if (!w) throw err;
      if (!signal.aborted) {
        const e = toOpenAIError(err);
        res.end(`data: ${JSON.stringify(e.body)}\n\n`);
      }
      return toOpenAIError(err).status;
    }
    return 200;
  }

  /**
   * A stream of several choices (`n`, choices.ts): every choice's stream has started before the
   * answer's head is written (a refusal of any is a plain HTTP error), then each one's chunks go
   * out as they come, tagged with its index; its finish chunk when it ends; the usage of all of
   * them (summed) and [DONE] after the last. A choice that fails after the head ends the stream
   * with an error event and cancels the others.
   */
  function streamChatChoices(res: Res, er: EngineRequest, n: number, includeUsage: boolean, created: number, common: Record<string, string>): Promise<number> {
    const out = res as ServerResponse;
    return streamChoices(out, engine, er, n, (starts) => {
      const first = starts[0];
      const writers = starts.map((st, i) => chunkWriter(first.id, created, st.providerModel || st.model, includeUsage, i));
      const summaries: Summary[] = [];
      const adjustments: Adjustment[] = [...first.adjustments];
      openEventStream(res, { ...common, "x-signalbox-deployment": first.deployment, "x-signalbox-cache": first.cache, ...rateLimitHeaders(first.limits) });
      for (const w of writers) out.write(w.start());
      return {
        each(i, ev) {
          if (ev.type === "delta") out.write(writers[i].delta(ev.events));
          else if (ev.type === "finish") {
            summaries[i] = ev.summary;
            if (ev.summary.adjustments?.length) adjustments.push(...ev.summary.adjustments);
            out.write(writers[i].finishChoice(ev.summary));
          }
        },
        end: () => writers[0].end(summaries, { routing: first.routing, traceId: er.ri.traceId, adjustments }, starts.map((st) => st.id)),
        failed(err) {
          const e = toOpenAIError(err);
          return { status: e.status, text: `data: ${JSON.stringify(e.body)}\n\n` };
        },
      };
    });
  }

  async function serve(req: Req, res: Res, path: string): Promise<void> {
    const arrivedAt = performance.now();
    const tracer = core.tracing?.tracer;
    const gemini = geminiPath(path);
    const route = gemini
      ? `${path.slice(0, path.indexOf("/models/"))}/models/{model}:${gemini.method}`
      : path.startsWith("/v1/models/")
        ? "/v1/models/{id}"
        : path.startsWith("/v1/files/")
          ? `/v1/files/{id}${path.endsWith("/content") ? "/content" : ""}`
          : path.startsWith("/v1/batches/")
            ? `/v1/batches/{id}${path.endsWith("/cancel") ? "/cancel" : ""}`
            : path.startsWith("/v1/messages/batches/")
              ? `/v1/messages/batches/{id}${path.endsWith("/cancel") ? "/cancel" : path.endsWith("/results") ? "/results" : ""}`
              : isStoredCompletionPath(path)
                ? `/v1/chat/completions/{id}${path.endsWith("/messages") ? "/messages" : ""}`
                : path.startsWith("/v1/responses/")
                ? `/v1/responses/{id}${path.endsWith("/input_items") ? "/input_items" : path.endsWith("/cancel") ? "/cancel" : ""}`
                : path.startsWith("/v1/conversations/")
                  ? `/v1/conversations/{id}${/\/items\/[^/]+$/.test(path) ? "/items/{item_id}" : path.endsWith("/items") ? "/items" : ""}`
                  : path.startsWith("/v1/feedback/")
                    ? "/v1/feedback/{id}"
                    : path.startsWith("/v1/realtime/calls/")
                    ? "/v1/realtime/calls/{call_id}/hangup"
                    : bifrostGovernanceRoute(openRouterRoute(liteLLMRoute(path)));
    // Portkey's x-portkey-trace-id, when no traceparent is given, names the trace (./portkey.ts).
    const pkTrace = header(req, "traceparent") === undefined ? header(req, "x-portkey-trace-id") : undefined;
    const traceparent = pkTrace ? portkeyTraceparent(pkTrace) : undefined;
    const span = tracer ? startHttpSpan(tracer, req.method ?? "GET", route, traceparent ? { ...req.headers, traceparent } : req.headers) : undefined;
    const traceId = span ? span.span.spanContext().traceId : traceIdFrom(traceparent ?? header(req, "traceparent") ?? null);
    const ri: RequestInfo = { id: newRequestId(), traceId, arrivedAt, otel: span?.ctx };
    const ac = new AbortController();
    const onClose = () => {
      if (!res.writableEnded) ac.abort();
    };
    res.once("close", onClose);
    let status = 200;
    let message: string | undefined;
    try {
      // Azure's api-key and Anthropic's x-api-key carry the same keys as Authorization: Bearer.
      // Gemini's x-goog-api-key (or its ?key= query parameter) too.
      // Portkey's SDK sends its key as x-portkey-api-key, with no Authorization header.
      // A peer gateway's own key header (Bifrost's x-bf-vk, Portkey's x-portkey-api-key) wins over
      // Authorization, which their SDKs fill with a placeholder or a provider's key.
      const gatewayKey = header(req, "x-bf-vk") ?? header(req, "x-portkey-api-key");
      const apiKey = header(req, "x-api-key") ?? header(req, "api-key") ?? (gemini || path.startsWith("/v1beta/") || path.startsWith(PASSTHROUGH_PREFIX) ? (header(req, "x-goog-api-key") ?? queryKey(req.url ?? "")) : undefined);
      const auth = gatewayKey !== undefined ? `Bearer ${gatewayKey}` : (header(req, "authorization") ?? (apiKey ? `Bearer ${apiKey}` : undefined));
      if (realtime && isCallsPath(path)) {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        const raw = await readBody(req, maxBytes);
        // The calls endpoints take a client secret too: the realtime door authenticates.
        message = await realtime.serveCall(req as IncomingMessage, res as ServerResponse, path, raw, { ri, authorization: auth ?? null, signal: ac.signal, query: queryOf(req), span: span?.span });
        status = res.statusCode;
        return;
      }
      const who = core.identify(auth ?? null);
      const caller = who instanceof Promise ? await who : who;
      const pkMetadata = header(req, "x-portkey-metadata");
      if (pkMetadata !== undefined) ri.context = portkeyContext(pkMetadata);
      // Portkey's routing: a config, a virtual key or provider, a timeout (./portkey-config.ts).
      const pkConfig = header(req, "x-portkey-config");
      const pkVirtualKey = header(req, "x-portkey-virtual-key");
      const pkProvider = header(req, "x-portkey-provider");
      const pkTimeout = header(req, "x-portkey-request-timeout");
      const pk = pkConfig === undefined && pkVirtualKey === undefined && pkProvider === undefined && pkTimeout === undefined ? undefined : portkeyRouting({ config: pkConfig, virtualKey: pkVirtualKey, provider: pkProvider, requestTimeout: pkTimeout, route: (name) => core.registry.resolve(name)?.kind === "route" });
      if (pk && !PORTKEY_DOORS.has(path)) {
        const named = pkConfig !== undefined ? "x-portkey-config" : pkVirtualKey !== undefined ? "x-portkey-virtual-key" : pkProvider !== undefined ? "x-portkey-provider" : "x-portkey-request-timeout";
        throw new GatewayError("invalid_argument", `${named}: Portkey's routing applies here to ${[...PORTKEY_DOORS].join(", ")}, not to ${path}`, { field: named });
      }
      if (path === "/v1/chat/completions" && req.method === "POST") {
        status = await chat(req, res, ri, caller, ac.signal, pk);
        return;
      }
      if (passthrough && path.startsWith(PASSTHROUGH_PREFIX)) {
        status = await passthrough(req, res, req.url ?? path, ri, caller, ac.signal);
        return;
      }
      // Stored chat completions (store: true): the list, and one by id.
      if (path === "/v1/chat/completions" || isStoredCompletionPath(path)) {
        if (path === "/v1/chat/completions" && req.method !== "GET") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST or GET`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST, GET" });
          return;
        }
        status = await serveStoredCompletions(req, res, path, queryOf(req), {
          caller,
          store: completions?.store,
          sendJson: (r, st, b, h) => sendJson(r, st, b, { ...h, "x-request-id": ri.id }),
          readJson: () => readJsonBody(req, maxBytes),
        });
        return;
      }
      // The Batch APIs (after chat: the hot path checks nothing more).
      if (vectors && isVectorStorePath(path)) {
        status = await serveVectorStores({ api: vectors, method: req.method ?? "GET", path, query: queryOf(req), caller, ri, signal: ac.signal, readBody: (limit) => readBody(req, limit), res: res as ServerResponse, send: (s, b, h) => sendJson(res, s, b, { ...h, "x-request-id": ri.id }) });
        return;
      }
      if (batches && (isBatchPath(path) || isMessageBatchPath(path))) {
        const query = queryOf(req);
        const read = (limit: number) => readBody(req, limit);
        const r = { api: batches, req, res: res as ServerResponse, path, query, caller, readBody: read };
        status = isMessageBatchPath(path)
          ? await serveMessageBatches({ ...r, send: (s, b, h) => sendJson(res, s, b, { ...h, "request-id": ri.id, "x-request-id": ri.id }) })
          : await serveBatchApi({ ...r, send: (s, b, h) => sendJson(res, s, b, { ...h, "x-request-id": ri.id }) });
        return;
      }
      if (gemini) {
        const body = req.method === "POST" ? await readBody(req, maxBytes) : Buffer.alloc(0);
        status = await serveGenerateContent(req, res, gemini, { engine, plan: (call) => core.plan(call), ri, caller, signal: ac.signal, body, cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal), sendJson, prompts: core.control.prompts });
        return;
      }
      if (path === "/v1/messages" || path === "/v1/messages/count_tokens") {
        const body = req.method === "POST" ? portkeyedRaw(pk, ri, await readBody(req, maxBytes)) : Buffer.alloc(0);
        status = await serveMessages(req, res, path, { engine, plan: (call) => core.plan(call), ri, caller, signal: ac.signal, body, cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal), sendJson, mcp: core.config.mcpServers || core.mcp.builtins().length ? core.mcp : undefined, prompts: core.control.prompts });
        return;
      }
      const search = searchPath(path);
      if (search || path === "/v1/embeddings" || path === "/v1/rerank" || path === "/v2/rerank" || path === "/v1/images/generations" || path === "/v1/moderations") {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        const body: unknown = portkeyed(pk, ri, await readJsonBody(req, maxBytes));
        const out = search
          ? await serveSearch(engine, body, { ri, caller, signal: ac.signal, ...(search.tool ? { tool: search.tool } : {}), cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal) })
          : path === "/v1/embeddings"
            ? await serveEmbeddings(engine, body, { ri, caller, signal: ac.signal, cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal) })
            : path === "/v1/images/generations"
              ? await serveImages(engine, body, { ri, caller, signal: ac.signal, statusOf: (err) => statusOf(err, ac.signal) })
              : path === "/v1/moderations"
                ? await serveModerations(engine, body, { ri, caller, signal: ac.signal, statusOf: (err) => statusOf(err, ac.signal) })
                : await serveRerank(engine, body, { ri, caller, signal: ac.signal, cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal) });
        sendJson(res, 200, out.body, { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId, ...out.headers });
        return;
      }
      if (path === "/v1/ocr") {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        // A document, base64 in JSON, may be larger than the JSON endpoints' limit.
        const body: unknown = portkeyed(pk, ri, await readJsonBody(req, Math.max(maxBytes, MAX_AUDIO_REQUEST_BYTES)));
        const out = await serveOcr(engine, body, { ri, caller, signal: ac.signal, cache: cacheFromHeaders(req), ...(batches ? { files: batches.store } : {}), statusOf: (err) => statusOf(err, ac.signal) });
        sendJson(res, 200, out.body, { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId, ...out.headers });
        return;
      }
      if (path === "/v1/images/edits") {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        // The images to edit may be larger than the JSON endpoints' limit.
        const raw = await readBody(req, Math.max(maxBytes, MAX_IMAGE_EDIT_BYTES));
        const out = await serveImageEdit(engine, raw, header(req, "content-type"), { ri, caller, signal: ac.signal, statusOf: (err) => statusOf(err, ac.signal) });
        sendJson(res, 200, out.body, { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId, ...out.headers });
        return;
      }
      if (isAudioPath(path)) {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        const ctx = { ri, caller, signal: ac.signal, statusOf: (err: unknown) => statusOf(err, ac.signal) };
        if (path === "/v1/audio/speech") {
          const body: unknown = await readJsonBody(req, maxBytes);
          // Streamed: the head goes out with the first audio chunk.
          try {
            await serveSpeech(engine, body, res as ServerResponse, ctx);
          } catch (err) {
            // Under way, the audio cannot turn into an error answer: the response is cut.
            if (res.headersSent) {
              status = 502;
              message = (err as Error)?.message;
              res.destroy();
              return;
            }
            throw err;
          }
          return;
        }
        // A recording may be up to 25 MB (OpenAI's limit), whatever the JSON endpoints' limit is.
        const raw = await readBody(req, Math.max(maxBytes, MAX_AUDIO_BYTES + 1024 * 1024));
        try {
          await serveTranscription(engine, raw, header(req, "content-type"), path === "/v1/audio/translations", res as ServerResponse, ctx);
        } catch (err) {
          // A streamed transcript under way cannot turn into an error answer: it ends with an error event.
          if (res.headersSent) {
            const e = toOpenAIError(err);
            status = e.status;
            message = e.body.error.message;
            if (!ac.signal.aborted) res.end(`data: ${JSON.stringify(e.body)}\n\n`);
            return;
          }
          throw err;
        }
        return;
      }
      // Bifrost's governance API: virtual keys and teams, on the control plane.
      if (feedback && isBifrostGovernancePath(path)) {
        status = await serveBifrostGovernance(req.method ?? "GET", path, { core, caller, traceId: ri.traceId, query: queryOf(req), readJson: () => readJsonBody(req, maxBytes), send: (st, b, h) => sendJson(res, st, b, { ...h, "x-request-id": ri.id }) });
        return;
      }
      // LiteLLM's management API: keys, teams and spend logs, on the control plane.
      if (feedback && isLiteLLMPath(path)) {
                status = await serveLiteLLM(req.method ?? "GET", path, {
          core,
          caller,
          traceId: ri.traceId,
          usage: feedback.usage,
          query: queryOf(req),
          readJson: () => readJsonBody(req, maxBytes),
          send: (st, b) => sendJson(res, st, b, { "x-request-id": ri.id }),
          signal: ac.signal,
          ri,
        });
        return;
      }
      // Portkey's admin API: API keys and virtual keys, on the control plane.
      if (feedback && isPortkeyAdminPath(path)) {
        status = await servePortkeyAdmin(req.method ?? "GET", path, { core, caller, traceId: ri.traceId, query: queryOf(req), readJson: () => readJsonBody(req, maxBytes), send: (st, b, h) => sendJson(res, st, b, { ...h, "x-request-id": ri.id }) });
        return;
      }
      // OpenRouter's account endpoints: a generation's stats, a report on it, the calling key.
      if (feedback && isOpenRouterPath(path)) {
                status = await serveOpenRouter(req.method ?? "GET", path, {
          core,
          feedback,
          caller,
          traceId: ri.traceId,
          query: queryOf(req),
          readJson: () => readJsonBody(req, maxBytes),
          send: (st, b, h) => sendJson(res, st, b, { ...h, "x-request-id": ri.id }),
          models: () => models(caller) as ListedModel[],
          model: (id) => findModel(caller, id, models(caller)) as ListedModel | undefined,
        });
        return;
      }
      // Portkey's feedback endpoint: a score for an answered request, by trace id or request id.
      if ((path === "/v1/feedback" || path.startsWith("/v1/feedback/")) && feedback) {
        const one = path !== "/v1/feedback";
        const method = one ? "PUT" : "POST";
        if (req.method !== method) {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use ${method}`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: method });
          return;
        }
        const body = (await readJsonBody(req, maxBytes)) as Record<string, unknown>;
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new GatewayError("invalid_argument", "body: must be a JSON object", { field: "body" });
        const text = (v: unknown, field: string) => {
          if (v === undefined || v === null || v === "") return undefined;
          if (typeof v !== "string") throw new GatewayError("invalid_argument", `${field}: must be a string`, { field });
          return v;
        };
        // Portkey's SDKs may send metadata as a JSON string.
        let metadata = body.metadata;
        if (typeof metadata === "string") {
          try {
            metadata = JSON.parse(metadata);
          } catch {
            throw new GatewayError("invalid_argument", "metadata: must be an object (or a JSON string of one)", { field: "metadata" });
          }
        }
        if (one) {
          // Portkey's update: a score by its id.
          const f = await updateFeedback(feedback, caller, decodeURIComponent(path.slice("/v1/feedback/".length)), { value: body.value, weight: body.weight, metadata });
          sendJson(res, 200, { status: "success", message: "feedback updated", feedback_ids: [f.id], request_id: f.requestId }, { "x-request-id": ri.id });
          return;
        }
        const f = await submitFeedback(feedback, caller, { requestId: text(body.request_id, "request_id"), traceId: text(body.trace_id, "trace_id"), value: body.value, weight: body.weight, metadata });
        sendJson(res, 200, { status: "success", message: "feedback accepted", feedback_ids: [f.id], request_id: f.requestId }, { "x-request-id": ri.id });
        return;
      }
      if (path === "/v1/completions") {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        const body = portkeyedRaw(pk, ri, await readBody(req, maxBytes));
        status = await serveCompletions(res, { engine, ri, caller, signal: ac.signal, body, cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal), sendJson });
        return;
      }
      if (path === "/v1/responses") {
        if (req.method !== "POST") {
          status = 405;
          sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use POST`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "POST" });
          return;
        }
        const body = portkeyedRaw(pk, ri, await readBody(req, maxBytes));
        status = await serveResponses(req, res, { engine, ri, caller, signal: ac.signal, body, cache: cacheFromHeaders(req), statusOf: (err) => statusOf(err, ac.signal), sendJson, responses, prompts: core.control.prompts, mcp: core.config.mcpServers || core.mcp.builtins().length ? core.mcp : undefined, vectors });
        return;
      }
      if (isConversationPath(path)) {
        status = await serveConversations(req, res, path, queryOf(req), {
          caller,
          conversations: responses?.conversations,
          body: () => (req.method === "POST" ? readBody(req, maxBytes) : Promise.resolve(Buffer.alloc(0))),
          sendJson: (r, st, b, h) => sendJson(r, st, b, { ...h, "x-request-id": ri.id }),
        });
        return;
      }
      if (isStoredResponsePath(path)) {
        status = await serveStoredResponse(req, res, path, queryOf(req), { caller, responses, signal: ac.signal, sendJson: (r, st, b, h) => sendJson(r, st, b, { ...h, "x-request-id": ri.id }) });
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        status = 405;
        sendJson(res, 405, { error: { message: `${req.method} is not allowed on ${path}; use GET`, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: "GET" });
        return;
      }
      const list = models(caller);
      if (path === "/v1/models") {
        // OpenRouter's list adds its links and count, Anthropic's its paging fields (one page: every
        // model the key may name); each model carries Anthropic's type, display name and creation time.
        const data = list.map(anthropicModelFields);
        sendJson(res, 200, { object: "list", data, links: { next: null }, total_count: data.length, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
        return;
      }
      // Gemini's model list and model (@google/genai's models.list and get), one page.
      const geminiModels = path === "/v1beta/models" || path.startsWith("/v1beta/models/");
      if (path === "/v1beta/models") {
        sendJson(res, 200, { models: list.map(geminiModel) });
        return;
      }
      const id = decodeURIComponent(path.slice(geminiModels ? "/v1beta/models/".length : "/v1/models/".length));
      const m = findModel(caller, id, list);
      if (!m) throw new GatewayError("not_found", `model: the model "${id}" does not exist or this key may not use it`, { field: "model" });
      sendJson(res, 200, geminiModels ? geminiModel(m) : anthropicModelFields(m));
    } catch (err) {
      const e = gemini || path.startsWith("/v1beta/models") ? toGeminiError(err) : path.startsWith("/v1/messages") ? toAnthropicError(err, ri.id) : isOpenRouterPath(path) ? toOpenRouterError(err) : isLiteLLMPath(path) ? toLiteLLMError(err) : isBifrostGovernancePath(path) ? toBifrostError(err) : isPortkeyAdminPath(path) ? toPortkeyAdminError(err) : toOpenAIError(err);
      status = e.status;
      message = e.body.error.message;
      sendJson(res, e.status, e.body, { ...e.headers, "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId });
    } finally {
      res.off("close", onClose);
      if (span) endHttpSpan(span.span, ac.signal.aborted ? 499 : status, message);
    }
  }

  return (req, res) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    if (!url.startsWith("/v1/") && !url.startsWith("/v2/rerank") && !url.startsWith("/v1beta/models") && !(passthrough && url.startsWith(PASSTHROUGH_PREFIX))) {
      // LiteLLM's management API lives at the root (/key/…, /team/…, /customer/…, /spend/logs, /model/…); its probes need no key.
      if (url.startsWith("/health/") && isLiteLLMHealthPath(q < 0 ? url : url.slice(0, q))) {
        const h = liteLLMHealth(req.method ?? "GET", q < 0 ? url : url.slice(0, q), core, health?.serving ?? true);
        sendJson(res, h.status, h.body, { "cache-control": "no-store" });
        return true;
      }
      const bifrostGovernance = feedback !== undefined && isBifrostGovernancePath(q < 0 ? url : url.slice(0, q));
      // GET /health (LiteLLM's model health check, unlike its probes) needs a key: served as the rest.
      if (!bifrostGovernance && !(feedback && (url.startsWith("/key/") || url === "/health" || url.startsWith("/health?") || url.startsWith("/team/") || url.startsWith("/provider/") || url.startsWith("/spend/") || url.startsWith("/model/") || url.startsWith("/guardrails/") || url.startsWith("/customer/") || url.startsWith("/end_user/")) && isLiteLLMPath(q < 0 ? url : url.slice(0, q)))) return false;
      serve(req, res, q < 0 ? url : url.slice(0, q)).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: "internal error", type: "api_error", param: null, code: "500" } });
        else res.destroy();
      });
      return true;
    }
    const path = q < 0 ? url : url.slice(0, q);
    // The Realtime API is a WebSocket (compat/realtime.ts takes the upgrades); a plain request is told so.
    if (path === "/v1/realtime") {
      sendJson(res, 426, { error: { message: "The Realtime API is a WebSocket: connect with Upgrade: websocket (ws:// or wss:// to /v1/realtime?model=...)", type: "invalid_request_error", param: null, code: "upgrade_required" } }, { upgrade: "websocket" });
      return true;
    }
    if (path !== "/v1/chat/completions" && !isStoredCompletionPath(path) && path !== "/v1/embeddings" && path !== "/v1/rerank" && path !== "/v2/rerank" && path !== "/v1/images/generations" && path !== "/v1/images/edits" && path !== "/v1/moderations" && path !== "/v1/ocr" && !searchPath(path) && path !== "/v1/completions" && !(feedback && (path === "/v1/feedback" || path.startsWith("/v1/feedback/") || isOpenRouterPath(path) || isLiteLLMPath(path) || isPortkeyAdminPath(path))) && !isAudioPath(path) && path !== "/v1/responses" && !isStoredResponsePath(path) && !isConversationPath(path) && path !== "/v1/messages" && path !== "/v1/messages/count_tokens" && path !== "/v1/models" && !path.startsWith("/v1/models/") && path !== "/v1beta/models" && !path.startsWith("/v1beta/models/") && !(batches && (isBatchPath(path) || isMessageBatchPath(path))) && !(vectors && isVectorStorePath(path)) && !(passthrough && path.startsWith(PASSTHROUGH_PREFIX)) && !(realtime && isCallsPath(path))) return false;
    serve(req, res, path).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: "internal error", type: "api_error", param: null, code: null } });
      else res.destroy();
    });
    return true;
  };
}

