// POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API on the chat engine.
// The compat handler authenticates (x-api-key or Bearer), reads the body and formats errors
// (toAnthropicError); this parses, drives the engine and writes the Message or its event stream.

import { ServerResponse } from "node:http";
import type { DoorDeps, Req, Res } from "../door.ts";
import { MAX_CACHE_TTL_SECONDS } from "../../engine/chat-engine.ts";
import { GatewayError } from "../../router/errors.ts";
import type { ChatCall, Plan } from "../../router/types.ts";
import { coalesceWrites } from "../../server/http.ts";
import { validateCacheTtl } from "../../server/validate.ts";
import { errorEvent, toAnthropicError } from "./errors.ts";
import { parseMessagesRequest } from "./request.ts";
import { messageJson, messageStreamWriter, PING } from "./response.ts";
import { anthropicRateLimitHeaders, cacheSimilarityHeader } from "../response.ts";
import { serveWithMcp } from "./mcp.ts";
import type { McpHub } from "../../mcp/hub.ts";


/** Quiet time after which a stream sends a ping, so proxies and clients see it alive. */
export const PING_INTERVAL_MS = 10_000;

/** What the compat handler gives this door for one request. */
export interface MessagesDeps extends DoorDeps {
  /** The router's plan for a call (count_tokens reads its token estimate). */
  plan(call: ChatCall): Plan;
  pingIntervalMs?: number;
  /** The MCP servers (`mcp_servers` of a request names them); absent when the gateway has none. */
  mcp?: McpHub;
}

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(",") : v;
}

/** Serve one request; returns the HTTP status sent. Errors before the first byte are thrown. */
export async function serveMessages(req: Req, res: Res, path: string, d: MessagesDeps): Promise<number> {
  if (req.method !== "POST") {
    const body = { type: "error", error: { type: "invalid_request_error", message: `${req.method} is not allowed on ${path}; use POST` }, request_id: d.ri.id };
    d.sendJson(res, 405, body, { allow: "POST", "request-id": d.ri.id });
    return 405;
  }
  let json: unknown;
  try {
    json = JSON.parse(d.body.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_argument", "body: There was an error parsing the body of your request. Please make sure it is valid JSON.", { field: "body" });
  }
  const { ri, signal } = d;
  const betas = header(req, "anthropic-beta")
    ?.split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  const countOnly = path === "/v1/messages/count_tokens";
  const parsed = parseMessagesRequest(json, ri.id, d.caller, { countOnly, betas, prompts: d.prompts });
  const common = { "request-id": ri.id, "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };

  if (countOnly) {
    // The router's own count for the deployment the call would go to first: exact for OpenAI
    // models, calibrated for Claude and Gemini (Anthropic's count_tokens is not called).
    const plan = d.plan(parsed.call);
    const first = plan.candidates[0];
    d.sendJson(res, 200, { input_tokens: first?.estimatedInputTokens ?? plan.estimatedInputTokens }, { ...common, ...(first ? { "x-signalbox-deployment": first.deployment.id } : {}) });
    return 200;
  }

  if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  const er = { call: parsed.call, ri, signal, cache: d.cache ?? parsed.cache, statusOf: d.statusOf };
  const stop = parsed.call.request.stop;

  if (parsed.mcp.length) {
    return serveWithMcp(res, { hub: d.mcp, caller: d.caller, ri, signal, complete: (e) => d.engine.complete(e), stream: (e) => d.engine.stream(e), sendJson: d.sendJson }, parsed, er, common);
  }

  if (!parsed.call.stream) {
    const a = await d.engine.complete(er);
    d.sendJson(res, 200, messageJson(a, stop), { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity), ...anthropicRateLimitHeaders(a.limits) });
    return 200;
  }

  // Nothing is written before the engine's start (the first content): a failure before it is a
  // plain HTTP error the SDK can retry or a fallback it never sees; after it, an error event.
  let w: ReturnType<typeof messageStreamWriter> | undefined;
  const out = res as ServerResponse;
  let lastWrite = Date.now();
  const write = (text: string) => {
    if (!text) return;
    lastWrite = Date.now();
    out.write(text);
  };
  const interval = d.pingIntervalMs ?? PING_INTERVAL_MS;
  let ping: NodeJS.Timeout | undefined;
  try {
    for await (const ev of d.engine.stream(er)) {
      if (ev.type === "start") {
        if (res instanceof ServerResponse) coalesceWrites(res);
        out.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          ...common,
          "x-signalbox-deployment": ev.deployment,
          "x-signalbox-cache": ev.cache,
          ...cacheSimilarityHeader(ev.cacheSimilarity),
          ...anthropicRateLimitHeaders(ev.limits),
        });
        w = messageStreamWriter(ri.id, ev.providerModel || ev.model, stop);
        write(w.start());
        if (ev.webSearch) write(w.searched(ev.webSearch));
        ping = setInterval(() => {
          if (Date.now() - lastWrite >= interval) write(PING);
        }, Math.max(10, Math.floor(interval / 2)));
        ping.unref();
      } else if (ev.type === "delta") {
        write(w!.delta(ev.events));
      } else {
        clearInterval(ping);
        res.end(w!.finish(ev.summary));
      }
    }
  } catch (err) {
    if (!w) throw err;
    const e = toAnthropicError(err, ri.id);
    if (!signal.aborted) res.end(errorEvent(e));
    return e.status;
  } finally {
    clearInterval(ping);
  }
  return 200;
}
