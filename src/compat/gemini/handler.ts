// POST /v1beta/models/{model}:generateContent, :streamGenerateContent and :countTokens (and the
// same under /v1): Gemini's API on the chat engine. The compat handler authenticates
// (x-goog-api-key, ?key= or Bearer), reads the body and formats errors (toGeminiError); this
// parses, drives the engine and writes the GenerateContentResponse or its SSE stream.

import { ServerResponse } from "node:http";
import type { DoorDeps, Req, Res } from "../door.ts";
import { MAX_CACHE_TTL_SECONDS } from "../../engine/chat-engine.ts";
import { GatewayError } from "../../router/errors.ts";
import type { ChatCall, Plan } from "../../router/types.ts";
import { coalesceWrites } from "../../server/http.ts";
import { validateCacheTtl } from "../../server/validate.ts";
import { completeChoices, streamChoices, sumUsage } from "../choices.ts";
import type { EngineRequest, Summary } from "../../engine/chat-engine.ts";
import { cacheSimilarityHeader } from "../response.ts";
import { errorChunk, toGeminiError } from "./errors.ts";
import { parseGenerateContentRequest } from "./request.ts";
import { generateContentJson, generateContentStreamWriter } from "./response.ts";

/** `/v1beta/models/gemini-2.0-flash:generateContent` → its model and method, or undefined. */
export function geminiPath(path: string): { model: string; method: "generateContent" | "streamGenerateContent" | "countTokens" } | undefined {
  // Every other path of the door has no ":" (checked first: this runs on every /v1 request).
  if (!path.includes(":")) return undefined;
  const m = /^\/(?:v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/.exec(path);
  if (!m) return undefined;
  let model: string;
  try {
    model = decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
  return { model, method: m[2] as "generateContent" | "streamGenerateContent" | "countTokens" };
}

export interface GenerateContentDeps extends DoorDeps {
  /** The router's plan for a call (countTokens reads its token estimate). */
  plan(call: ChatCall): Plan;
}

/** Serve one request; returns the HTTP status sent. Errors before the first byte are thrown. */
export async function serveGenerateContent(req: Req, res: Res, target: NonNullable<ReturnType<typeof geminiPath>>, d: GenerateContentDeps): Promise<number> {
  const { ri, signal } = d;
  const common = { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };
  if (req.method !== "POST") {
    d.sendJson(res, 405, { error: { code: 405, message: `${req.method} is not allowed; use POST`, status: "INVALID_ARGUMENT" } }, { allow: "POST", ...common });
    return 405;
  }
  let json: unknown;
  try {
    json = JSON.parse(d.body.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_argument", "body: Invalid JSON payload received.", { field: "body" });
  }
  const countOnly = target.method === "countTokens";
  const stream = target.method === "streamGenerateContent";
  const parsed = parseGenerateContentRequest(json, target.model, ri.id, d.caller, { stream, countOnly, prompts: d.prompts });

  if (countOnly) {
    // The router's own count for the deployment the call would go to first (Gemini's countTokens is not called).
    const plan = d.plan(parsed.call);
    const first = plan.candidates[0];
    d.sendJson(res, 200, { totalTokens: first?.estimatedInputTokens ?? plan.estimatedInputTokens }, { ...common, ...(first ? { "x-signalbox-deployment": first.deployment.id } : {}) });
    return 200;
  }

  if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  const er = { call: parsed.call, ri, signal, cache: d.cache ?? parsed.cache, statusOf: d.statusOf };

  if (!stream) {
    const answers = await completeChoices(d.engine, er, parsed.n);
    const a = answers[0];
    d.sendJson(res, 200, generateContentJson(answers), { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity) });
    return 200;
  }

  if (parsed.n > 1) return streamCandidates(res, er, parsed.n, d, common);

  // Nothing is written before the engine's start (the first content): a failure before it is a
  // plain HTTP error the SDK can retry or a fallback it never sees; after it, an error chunk.
  let w: ReturnType<typeof generateContentStreamWriter> | undefined;
  const out = res as ServerResponse;
  try {
    for await (const ev of d.engine.stream(er)) {
      if (ev.type === "start") {
        if (res instanceof ServerResponse) coalesceWrites(res);
        out.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
          ...common,
          "x-signalbox-deployment": ev.deployment,
          "x-signalbox-cache": ev.cache,
          ...cacheSimilarityHeader(ev.cacheSimilarity),
        });
        w = generateContentStreamWriter(ri.id, ev.providerModel || ev.model, 0, ev.webSearch, ev.fileSearch);
      } else if (ev.type === "delta") {
        const text = w!.delta(ev.events);
        if (text) out.write(text);
      } else {
        res.end(w!.finish(ev.summary));
      }
    }
  } catch (err) {
    if (!w) throw err;
    const e = toGeminiError(err);
    if (!signal.aborted) res.end(errorChunk(e));
    return e.status;
  }
  return 200;
}

/**
 * Several candidates, streamed (candidateCount, ../choices.ts): every candidate's stream has started
 * before the head is written, then each one's chunks with its index; each finish chunk carries the
 * usage of the candidates finished so far, so the last one's is the request's.
 */
function streamCandidates(res: Res, er: EngineRequest, n: number, d: GenerateContentDeps, common: Record<string, string>): Promise<number> {
  const out = res as ServerResponse;
  return streamChoices(out, d.engine, er, n, (starts) => {
    const first = starts[0];
    const writers = starts.map((st, i) => generateContentStreamWriter(d.ri.id, st.providerModel || st.model, i, st.webSearch, st.fileSearch));
    const finished: Summary[] = [];
    if (res instanceof ServerResponse) coalesceWrites(res);
    out.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...common, "x-signalbox-deployment": first.deployment, "x-signalbox-cache": first.cache });
    return {
      each(i, ev) {
        if (ev.type === "delta") {
          const text = writers[i].delta(ev.events);
          if (text) out.write(text);
        } else if (ev.type === "finish") {
          finished.push(ev.summary);
          out.write(writers[i].finish(ev.summary, sumUsage(finished).usage));
        }
      },
      end: () => "",
      failed(err) {
        const e = toGeminiError(err);
        return { status: e.status, text: errorChunk(e) };
      },
    };
  });
}
