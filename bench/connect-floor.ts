// The Connect floor: what connect-node itself costs, with none of the gateway. A ChatService on
// connectNodeAdapter whose handlers make the same upstream call as the undici floor (one POST
// through an undici Pool, the body read or streamed) and answer with messages built once at start:
// Complete returns one ChatResponse; Stream yields a start event, one delta event per upstream
// read and a finish event, the messages the gateway sends for the bench's answer (three and the
// end of stream), and a stream's messages leave in one write as the gateway's do (coalesceWrites).
// The difference between this and the undici floor is connect-node's own cost (routing, the
// protocol, envelopes, protobuf, its async-iterable pipeline, Headers); the difference between
// the gateway's Connect rows and this is the gateway's.
// Usage: node bench/connect-floor.ts <port> <upstream-origin>   (prints "ready <port>")

import { createServer } from "node:http";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Pool } from "undici";
import { coalesceWrites } from "../src/server/http.ts";
import { AttemptOutcome, ChatEventSchema, ChatResponseSchema, ChatService, FinishReason, Role } from "@signalbox/client";

const upstream = new Pool(process.argv[3], { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });
const body = (stream: boolean) =>
  JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Summarise the benefits of a gateway in one sentence." }], ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });
const unaryBody = body(false);
const streamBody = body(true);
const headers = { "content-type": "application/json" };

const text = "A gateway centralises routing, fallbacks, limits and accounting.";
const usage = { inputTokens: 24n, outputTokens: 16n, totalTokens: 40n };
const cost = { totalNanoUsd: 13_200n, inputNanoUsd: 3_600n, outputNanoUsd: 9_600n };
const attempts = [{ number: 1, deployment: "bench/gpt-4o-mini", provider: "upstream", model: "gpt-4o-mini", outcome: AttemptOutcome.SUCCEEDED, httpStatus: 200, latencyMs: 1, ttftMs: 1 }];
const response = create(ChatResponseSchema, {
  id: "req_floor",
  model: "bench",
  deployment: "bench/gpt-4o-mini",
  provider: "upstream",
  providerModel: "gpt-4o-mini",
  message: { role: Role.ASSISTANT, content: [{ part: { case: "text", value: text } }] },
  finishReason: FinishReason.STOP,
  usage,
  cost,
  attempts,
});
const start = create(ChatEventSchema, {
  event: { case: "start", value: { id: "req_floor", model: "bench", deployment: "bench/gpt-4o-mini", provider: "upstream", providerModel: "gpt-4o-mini", traceId: "0".repeat(32), routing: { route: "bench", strategy: "priority" } } },
});
const delta = create(ChatEventSchema, { event: { case: "delta", value: { text } } });
const finish = create(ChatEventSchema, { event: { case: "finish", value: { finishReason: FinishReason.STOP, rawFinishReason: "stop", usage, cost, attempts, timing: { latencyMs: 1, ttftMs: 1, overheadUs: 150 }, providerModel: "gpt-4o-mini" } } });

const routes = (router: ConnectRouter) =>
  router.service(ChatService, {
    async complete(_req, ctx) {
      const r = await upstream.request({ method: "POST", path: "/v1/chat/completions", headers, body: unaryBody, signal: ctx.signal });
      await r.body.arrayBuffer();
      return response;
    },
    async *stream(_req, ctx) {
      const r = await upstream.request({ method: "POST", path: "/v1/chat/completions", headers, body: streamBody, signal: ctx.signal });
      yield start;
      for await (const _ of r.body) yield delta;
      yield finish;
    },
  });

const adapter = connectNodeAdapter({ routes });
const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
  if (req.headers["content-type"]?.startsWith("application/connect+")) coalesceWrites(res);
  adapter(req, res);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
