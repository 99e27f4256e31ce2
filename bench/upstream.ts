// The benchmark's upstream: a minimal OpenAI-style chat completions server (unary JSON and SSE
// streams), run in its own process so its CPU is not counted against anyone.
// Usage: node bench/upstream.ts <port>   (prints "ready <port>")

import { createServer } from "node:http";

const TEXT = "Signalbox benchmark reply: routed, streamed and accounted for.";
const CHUNKS = 8;

const unary = (model: string) =>
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: TEXT, refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 24, completion_tokens: 16, total_tokens: 40, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
  });

const size = Math.ceil(TEXT.length / CHUNKS);
const pieces = Array.from({ length: CHUNKS }, (_, i) => TEXT.slice(i * size, (i + 1) * size));
const chunk = (model: string, delta: object, finish: string | null, usage?: object) =>
  `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1_700_000_000, model, choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;

const server = createServer((req, res) => {
  if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
    res.writeHead(404).end();
    return;
  }
  const parts: Buffer[] = [];
  req.on("data", (d: Buffer) => parts.push(d));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as { model: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    if (!body.stream) {
      const out = unary(body.model);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out), "x-request-id": "req_bench" });
      res.end(out);
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": "req_bench" });
    res.write(chunk(body.model, { role: "assistant", content: "" }, null));
    for (const p of pieces) res.write(chunk(body.model, { content: p }, null));
    res.write(chunk(body.model, {}, "stop"));
    if (body.stream_options?.include_usage) res.write(chunk(body.model, {}, null, { prompt_tokens: 24, completion_tokens: 16, total_tokens: 40 }));
    res.end("data: [DONE]\n\n");
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
