// Where the request path allocates, by package and by function: V8's sampling heap profiler over
// 3,000 requests through an in-process gateway (plain config, an OpenAI-style upstream), counting
// objects that garbage collection already freed too. PROMOTED=1 counts only what survived a young
// collection (what makes scavenges slow and feeds the old generation). WANT="fn url:line" prints
// the call chains of one allocation site. The test client runs in the same process (its undici
// shows up too).
// MOCK=1 serves from the built-in mock provider instead of the HTTP upstream.
// FULL=1 measures the everything-on gateway instead (a private Redis for limits and budgets, a
// private PostgreSQL for the caller key and usage records, spans exported over OTLP to a local sink).
// Usage: node bench/alloc.ts compat|connect [stream]
import { Session } from "node:inspector/promises";
import { createServer } from "node:http";
import { Pool, type Dispatcher } from "undici";
import { startTestGateway } from "../test/helpers/gateway.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { startRedis } from "../test/helpers/redis.ts";
import { startTracing } from "../src/telemetry/otel-sdk.ts";
import type { Tracing } from "../src/telemetry/tracing.ts";
import { benchConfig, createBenchKey, startOtlpSink } from "./procs.ts";
const door = process.argv[2] ?? "compat";
const TEXT = "Signalbox benchmark reply: routed, streamed and accounted for.";
const up = createServer((req, res) => {
  let raw = ""; req.on("data", (d) => (raw += d)); req.on("end", () => {
    const b = JSON.parse(raw);
    if (b.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const c = (delta: object, fin: string | null, usage?: object) => `data: ${JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: b.model, choices: usage ? [] : [{ index: 0, delta, finish_reason: fin }], ...(usage ? { usage } : {}) })}\n\n`;
      res.write(c({ role: "assistant", content: "" }, null));
      for (let i = 0; i < 8; i++) res.write(c({ content: TEXT.slice(i * 8, i * 8 + 8) }, null));
      res.write(c({}, "stop")); res.write(c({}, null, { prompt_tokens: 24, completion_tokens: 16, total_tokens: 40 })); res.end("data: [DONE]\n\n");
      return;
    }
    const out = JSON.stringify({ id: "x", object: "chat.completion", created: 1, model: b.model, choices: [{ index: 0, message: { role: "assistant", content: TEXT }, finish_reason: "stop" }], usage: { prompt_tokens: 24, completion_tokens: 16, total_tokens: 40 } });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) }); res.end(out);
  });
});
await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
const full = process.env.FULL === "1";
const redis = full ? await startRedis() : undefined;
const postgres = full ? await startPostgres() : undefined;
if (full && !postgres) throw new Error("FULL=1 needs PostgreSQL's binaries");
let tracing: Tracing | undefined;
if (full) {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = (await startOtlpSink()).origin;
  tracing = startTracing();
}
const gw = await startTestGateway(
  benchConfig(process.env.MOCK === "1" ? "mock" : `http://127.0.0.1:${(up.address() as any).port}`, full ? `store: { redis_url: "${redis!.url}", postgres_url: "${postgres!.url}" }` : ""),
  full ? { usage: undefined, tracing } : {},
);
const auth: Record<string, string> = full ? { authorization: `Bearer ${await createBenchKey(gw.url)}` } : {};
const pool = new Pool(gw.url, { connections: 8 });
const prompt = "Summarise the benefits of a gateway in one sentence.";
const stream = process.argv[3] === "stream";
const reqs: Record<string, () => { path: string; headers: Record<string, string>; body: string | Buffer }> = {
  compat: () => ({ path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "bench", stream, messages: [{ role: "user", content: prompt }] }) }),
  connect: () => {
    const json = Buffer.from(JSON.stringify({ model: "bench", messages: [{ role: "ROLE_USER", content: [{ text: prompt }] }] }));
    if (!stream) return { path: "/signalbox.v1.ChatService/Complete", headers: { "content-type": "application/json" }, body: json };
    const env = Buffer.alloc(5 + json.length); env.writeUInt32BE(json.length, 1); json.copy(env, 5);
    return { path: "/signalbox.v1.ChatService/Stream", headers: { "content-type": "application/connect+json" }, body: env };
  },
};
const spec = reqs[door]();
// The client uses undici's handler API: request() would add its own garbage (its per-response
// stream outlives two scavenges) to the whole-process figures.
const one = () =>
  new Promise<void>((resolve, reject) => {
    let status = 0;
    pool.dispatch({ method: "POST", ...spec, headers: { ...spec.headers, ...auth } }, {
      onRequestStart: () => {},
      onResponseStart: (_c: unknown, s: number) => void (status = s),
      onResponseData: () => {},
      onResponseEnd: () => (status === 200 ? resolve() : reject(new Error(String(status)))),
      onResponseError: (_c: unknown, e: Error) => reject(e),
    } as Dispatcher.DispatchHandler);
  });
for (let i = 0; i < 2000; i++) await one();
const s = new Session(); s.connect();
const N = 3000;
await s.post("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.PROMOTED ? false : true } as any);
for (let i = 0; i < N; i++) await one();
const { profile } = (await s.post("HeapProfiler.stopSampling")) as any;
const byFn = new Map<string, number>(), byPkg = new Map<string, number>();
let total = 0;
const chains = new Map<string, number>();
const stack: string[] = [];
const walk = (n: any) => {
  stack.push(`${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/work\/main\//, "")}:${n.callFrame.lineNumber + 1}`);
  const WANT = process.env.WANT ?? "sort :0";
  if (stack.at(-1) === WANT) { const k = stack.slice(-6, -1).reverse().join(" <- "); chains.set(k, (chains.get(k) ?? 0) + n.selfSize); }
  const url: string = n.callFrame.url;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  const pkg = m ? m[1] : url.startsWith("node:") ? "node:" + url.slice(5).split("/")[0] : /\/(src|test|bench)\/([^/]+)/.exec(url)?.slice(1).join("/") ?? (url || "(native)");
  const f = `${n.callFrame.functionName || "(anon)"} ${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/work\/main\//, "")}:${n.callFrame.lineNumber + 1}`;
  byFn.set(f, (byFn.get(f) ?? 0) + n.selfSize);
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + n.selfSize);
  total += n.selfSize;
  for (const c of n.children) walk(c);
  stack.pop();
};
walk(profile.head);
console.log(`${door} ${stream ? "stream" : "unary"}: ${(total / N / 1024).toFixed(1)} KB allocated per request (sampled, whole process incl. the test client)`);
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 18)) console.log(`${(v / N / 1024).toFixed(2).padStart(7)} KB  ${k}`);
console.log("--");
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(v / N / 1024).toFixed(2).padStart(7)} KB  ${k}`);
for (const [k, v] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`CHAIN ${(v / N / 1024).toFixed(2)} KB  ${k}`);
await pool.close(); await gw.close(); up.close(); await tracing?.shutdown(); await redis?.stop(); await postgres?.destroy(); process.exit(0);
