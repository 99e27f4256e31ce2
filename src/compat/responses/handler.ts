// POST /v1/responses: the OpenAI Responses API on the chat engine, stateless. The compat handler
// authenticates, reads the body and formats errors; this parses, drives the engine and writes the
// response object or its typed event stream.

import { ServerResponse } from "node:http";
import type { DoorDeps, Req, Res } from "../door.ts";
import { MAX_CACHE_TTL_SECONDS } from "../../engine/chat-engine.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Adjustment } from "../../router/types.ts";
import { coalesceWrites } from "../../server/http.ts";
import { validateCacheTtl } from "../../server/validate.ts";
import { cacheSimilarityHeader, toOpenAIError } from "../response.ts";
import { parseResponsesRequest } from "./request.ts";
import { responseId, responseJson, responsesStreamWriter, type ResponseContext } from "./response.ts";


/** What the compat handler gives this door for one request. */
export type ResponsesDeps = DoorDeps;

/** Serve one request; returns the HTTP status sent. Errors before the first byte are thrown. */
export async function serveResponses(_req: Req, res: Res, d: ResponsesDeps): Promise<number> {
  let body: unknown;
  try {
    body = JSON.parse(d.body.toString("utf8"));
  } catch {
    throw new GatewayError("invalid_argument", "body: could not parse the JSON body of the request", { field: "body" });
  }
  const { ri, signal } = d;
  const parsed = parseResponsesRequest(body, ri.id, d.caller);
  if (parsed.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", parsed.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  const er = { call: parsed.call, ri, signal, cache: d.cache ?? parsed.cache, statusOf: d.statusOf };
  const ctx: ResponseContext = { id: responseId(ri.id), createdAt: Math.floor(Date.now() / 1000), echo: parsed.echo };
  const common = { "x-request-id": ri.id, "x-signalbox-trace-id": ri.traceId };

  if (!parsed.call.stream) {
    const a = await d.engine.complete(er);
    d.sendJson(res, 200, responseJson(ctx, a), { ...common, "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...cacheSimilarityHeader(a.cacheSimilarity) });
    return 200;
  }

  // Nothing is written before the engine's start: a failure before it is a plain HTTP error the
  // SDK can retry; after it, response.failed and an error event end the stream.
  let w: ReturnType<typeof responsesStreamWriter> | undefined;
  let routing = { route: "", alias: "", strategy: "", variant: "" };
  let adjustments: Adjustment[] = [];
  const out = res as ServerResponse;
  try {
    for await (const ev of d.engine.stream(er)) {
      if (ev.type === "start") {
        routing = ev.routing;
        adjustments = ev.adjustments;
        if (res instanceof ServerResponse) coalesceWrites(res);
        out.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          ...common,
          "x-signalbox-deployment": ev.deployment,
          "x-signalbox-cache": ev.cache,
            ...cacheSimilarityHeader(ev.cacheSimilarity),
        });
        w = responsesStreamWriter(ctx, ev.providerModel || ev.model);
        out.write(w.start());
      } else if (ev.type === "delta") {
        const text = w!.delta(ev.events);
        if (text) out.write(text);
      } else {
        // Output guardrails' redactions are known only now.
        const all = ev.summary.adjustments?.length ? [...adjustments, ...ev.summary.adjustments] : adjustments;
        res.end(w!.finish(ev.summary, { routing, traceId: ri.traceId, adjustments: all }));
      }
    }
  } catch (err) {
    if (!w) throw err;
    if (!signal.aborted) res.end(w.fail(err));
    return toOpenAIError(err).status;
  }
  return 200;
}
