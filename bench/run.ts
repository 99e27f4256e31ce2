// `npm run bench`: the gateway against a local OpenAI-style upstream, next to the floor (a bare
// undici pass-through proxy to the same upstream), interleaved in one invocation.
//
// Each gateway is measured through both front doors on its one port: Connect (ChatService) and the
// OpenAI-compatible endpoint (POST /v1/chat/completions, unary and SSE), same route, same key.
//
// Prints, per target: saturation requests/s and CPU time per 1,000 requests (from
// /proc/<pid>/stat, the steadiest figure here), added latency p50/p99 over calling the upstream
// directly at a fixed 200 req/s, added time to first byte of a stream, and resident memory.
//
// Options (env): BENCH_SECONDS (saturation phase length, default 5), BENCH_ROUNDS (default 2),
// BENCH_CONNECTIONS (default 32), BENCH_RATE (default 200), BENCH_PROVIDER (http | builtin),
// BENCH_SOAK_SECONDS (0 = no soak; 300 for the five-minute memory soak), BENCH_FULL_TRACING=off
// (the "everything on" gateway without trace export: tracing's cost is the difference), BENCH_PROFILE=dir
// (the gateway writes a --cpu-prof profile there; summarise with bench/profile-summary.ts),
// BENCH_NODE_FLAGS (the gateways' V8 flags instead of `npm start`'s, to compare heap settings).
// BENCH_ONLY selects what is measured: comma-separated tokens, AND across groups, OR within one:
//   unary | stream      one kind only (also skips the latency probes, as for profiling)
//   connect | compat    one front door (Connect ChatService, or OpenAI-compatible /v1/chat/completions)
//   plain | full        one gateway (on its own, or everything on)
// e.g. BENCH_ONLY=compat, BENCH_ONLY=compat,full, BENCH_ONLY=connect,stream. The floor always runs.

import { readFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import autocannon from "autocannon";
import { Pool } from "undici";
import { ChatEventSchema, ChatRequestSchema, ChatResponseSchema } from "@signalbox/client";
import { supportedProviderTypes } from "../src/providers/registry.ts";
import { benchConfig, createBenchKey, start, startFlags, startOtlpSink } from "./procs.ts";
import { hashKey } from "../src/server/auth.ts";
import { startRedis } from "../test/helpers/redis.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import pg from "pg";
import { plannerCosts } from "./planner.ts";
import { guardrailCosts, guardrailTable } from "./guardrails.ts";

const BENCH_KEY = "sbx_bench_key_not_secret";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const RATE = Number(process.env.BENCH_RATE ?? 200);
/** Fixed request rate at which CPU per request is measured (saturation inflates it with contention). */
const CPU_RATE = Number(process.env.BENCH_CPU_RATE ?? 1000);
const SOAK = Number(process.env.BENCH_SOAK_SECONDS ?? 0);
const ONLY_GROUPS = { kind: ["unary", "stream"], api: ["connect", "compat"], gateway: ["plain", "full"] } as const;
type Kind = (typeof ONLY_GROUPS.kind)[number];
/** BENCH_ONLY's tokens by group; an empty group selects everything in it. */
const ONLY = (() => {
  const tokens = (process.env.BENCH_ONLY ?? "").toLowerCase().split(/[\s,+]+/).filter(Boolean);
  const all: readonly string[] = Object.values(ONLY_GROUPS).flat();
  const bad = tokens.filter((t) => !all.includes(t));
  if (bad.length) throw new Error(`BENCH_ONLY: unknown ${bad.join(", ")}; use any of ${all.join(", ")}`);
  const pick = (g: readonly string[]) => tokens.filter((t) => g.includes(t));
  return { kinds: pick(ONLY_GROUPS.kind) as Kind[], api: pick(ONLY_GROUPS.api), gateway: pick(ONLY_GROUPS.gateway) };
})();
const KINDS: Kind[] = ONLY.kinds.length ? ONLY.kinds : ["unary", "stream"];
/** Target CPU per request as a multiple of the floor's (unary and stream alike). */
/** CPU per request as a multiple of the floor's, unary and stream (the performance issue's targets). */
const CPU_TARGET = { compat: { unary: 2, stream: 2 }, compatFull: { unary: 2.5, stream: 2.5 }, connectFull: { unary: 4, stream: 5 } };
/** Every gateway row: added p99 and added stream time to first byte at 200 req/s, resident memory. */
const LATENCY_TARGET = { p99Ms: 1.5, ttfbMs: 0.5, rssMb: 250 };
const PROVIDER = process.env.BENCH_PROVIDER ?? (supportedProviderTypes().includes("openai") ? "http" : "builtin");
const CLK_TCK = 100;

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

const prompt = [{ role: "user", content: "Summarise the benefits of a gateway in one sentence." }];
const openaiBody = (stream: boolean) => JSON.stringify({ model: "gpt-4o-mini", messages: prompt, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) });
/** The OpenAI-compatible endpoint's body: the same route ("bench") and prompt as the Connect request. */
const compatBody = (stream: boolean) => JSON.stringify({ model: "bench", messages: prompt, ...(stream ? { stream: true } : {}) });
const chatReq = toBinary(
  ChatRequestSchema,
  create(ChatRequestSchema, { model: "bench", messages: [{ role: 2, content: [{ part: { case: "text", value: prompt[0].content } }] }] }),
);
const envelope = Buffer.alloc(5 + chatReq.length);
envelope.writeUInt32BE(chatReq.length, 1);
envelope.set(chatReq, 5);

interface Target {
  name: string;
  /** BENCH_ONLY tokens this target answers to ("floor" always runs). */
  tags: string[];
  /** Target CPU per request, × floor, if the brief sets one. */
  cpuTarget?: { unary: number; stream: number };
  pid?: number;
  origin: string;
  unary: { path: string; headers: Record<string, string>; body: string | Uint8Array };
  stream: { path: string; headers: Record<string, string>; body: string | Uint8Array };
}

interface Acc {
  requests: number;
  seconds: number;
  cpu: number;
  streamRequests: number;
  streamCpu: number;
  /** Requests served during the fixed-rate CPU phases. */
  cpuRequests: number;
  streamCpuRequests: number;
  lat: number[];
  ttfb: number[];
  rss: number;
  errors: number;
}

async function saturate(t: Target, kind: "unary" | "stream", rate?: number): Promise<{ requests: number; errors: number }> {
  const spec = t[kind];
  const r = await autocannon({
    url: t.origin + spec.path,
    method: "POST",
    headers: spec.headers,
    body: Buffer.from(spec.body as Uint8Array),
    connections: CONNECTIONS,
    duration: SECONDS,
    ...(rate ? { overallRate: rate } : {}),
  });
  return { requests: r.requests.total, errors: r.errors + r.non2xx };
}

/** Open-loop requests at a fixed rate; per-request latency (ms, microsecond resolution) or time to first byte. */
async function probe(t: Target, kind: "unary" | "stream", count: number): Promise<number[]> {
  const spec = t[kind];
  const pool = new Pool(t.origin, { connections: 64, pipelining: 1 });
  const out: number[] = [];
  const interval = 1000 / RATE;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      (async () => {
        const s = performance.now();
        const res = await pool.request({ method: "POST", path: spec.path, headers: spec.headers, body: spec.body });
        if (kind === "stream") {
          for await (const _ of res.body) {
            out.push(performance.now() - s);
            break;
          }
          await res.body.dump();
        } else {
          await res.body.dump();
          out.push(performance.now() - s);
        }
        if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}`);
      })(),
    );
  }
  await Promise.all(pending);
  await pool.close();
  return out;
}

/**
 * What every row must answer before it is measured: the upstream's own text, its usage, and the
 * cost of that usage at the bench deployment's prices (0.15 and 0.6 USD per million tokens).
 * `cost` is undefined for the floor, which passes the upstream's answer through untouched.
 */
interface Expected {
  text: string;
  inputTokens: number;
  outputTokens: number;
  costNanos?: number;
}

async function expectedAnswer(upstreamOrigin: string): Promise<Expected> {
  const r = await fetch(`${upstreamOrigin}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: openaiBody(false) });
  const body = (await r.json()) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number; completion_tokens: number } };
  const { prompt_tokens: inputTokens, completion_tokens: outputTokens } = body.usage;
  return { text: body.choices[0].message.content, inputTokens, outputTokens, costNanos: Math.round(inputTokens * 150 + outputTokens * 600) };
}

/**
 * One unary and one streamed request to an OpenAI-compatible target (the stream asks for its usage
 * chunk); throws unless both carry the upstream's text, usage and, through the gateway, its cost
 * (`usage.cost`, in USD).
 */
async function checkCompat(t: Target, want: Expected): Promise<void> {
  const fail = (what: string): never => {
    throw new Error(`${t.name}: ${what}`);
  };
  type Usage = { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number; cost?: number };
  const checkUsage = (where: string, u: Usage | undefined) => {
    if (!u || u.prompt_tokens !== want.inputTokens || u.completion_tokens !== want.outputTokens || u.total_tokens !== want.inputTokens + want.outputTokens) {
      return fail(`${where}: usage ${JSON.stringify(u)}, expected ${want.inputTokens} in and ${want.outputTokens} out`);
    }
    if (!t.tags.includes("floor") && Math.round((u.cost ?? NaN) * 1e9) !== want.costNanos) fail(`${where}: cost ${u.cost} USD, expected ${want.costNanos! / 1e9}`);
  };
  const pool = new Pool(t.origin, { connections: 1 });
  try {
    const u = await pool.request({ method: "POST", path: t.unary.path, headers: t.unary.headers, body: t.unary.body });
    const text = await u.body.text();
    if (u.statusCode !== 200) fail(`unary: HTTP ${u.statusCode}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { object?: string; choices?: { message?: { role?: string; content?: unknown } }[]; usage?: Usage };
    const content = body.choices?.[0]?.message?.content;
    if (body.object !== "chat.completion" || body.choices?.[0]?.message?.role !== "assistant") fail(`unary: not a chat.completion from the assistant: ${text.slice(0, 300)}`);
    if (content !== want.text) fail(`unary: text ${JSON.stringify(content)}, expected ${JSON.stringify(want.text)}`);
    checkUsage("unary", body.usage);
    const streamBody = JSON.stringify({ ...(JSON.parse(String(t.stream.body)) as object), stream_options: { include_usage: true } });
    const s = await pool.request({ method: "POST", path: t.stream.path, headers: t.stream.headers, body: streamBody });
    const sse = await s.body.text();
    if (s.statusCode !== 200) fail(`stream: HTTP ${s.statusCode}: ${sse.slice(0, 300)}`);
    if (!String(s.headers["content-type"]).startsWith("text/event-stream")) fail(`stream: content-type ${s.headers["content-type"]}`);
    const events = sse.split("\n\n").filter(Boolean);
    if (events.at(-1) !== "data: [DONE]") fail(`stream: does not end with data: [DONE]: ${sse.slice(-300)}`);
    let streamed = "";
    let usage: Usage | undefined;
    for (const e of events.slice(0, -1)) {
      if (!e.startsWith("data: ")) fail(`stream: not an SSE data event: ${e.slice(0, 300)}`);
      const c = JSON.parse(e.slice(6)) as { object?: string; choices?: { delta?: { content?: string } }[]; usage?: Usage };
      if (c.object !== "chat.completion.chunk") fail(`stream: not a chat.completion.chunk: ${e.slice(0, 300)}`);
      streamed += c.choices?.[0]?.delta?.content ?? "";
      usage = c.usage ?? usage;
    }
    if (streamed !== want.text) fail(`stream: text ${JSON.stringify(streamed)}, expected ${JSON.stringify(want.text)}`);
    checkUsage("stream", usage);
  } finally {
    await pool.close();
  }
}

/**
 * One Complete and one Stream call to a Connect target (binary protobuf, as measured); throws
 * unless the answer is the upstream's text with its usage and cost, and the stream is a start
 * event, deltas that add up to that text and a finish event, then an end of stream without an
 * error. The reference row (connect-node alone) answers prebuilt messages: its shape is checked,
 * not its figures.
 */
async function checkConnect(t: Target, want: Expected): Promise<void> {
  const fail = (what: string): never => {
    throw new Error(`${t.name}: ${what}`);
  };
  const exact = !t.tags.includes("reference");
  const checkFigures = (where: string, usage: { inputTokens: bigint; outputTokens: bigint } | undefined, cost: { totalNanoUsd: bigint } | undefined) => {
    if (!exact) return;
    if (usage?.inputTokens !== BigInt(want.inputTokens) || usage.outputTokens !== BigInt(want.outputTokens)) fail(`${where}: usage ${usage?.inputTokens}/${usage?.outputTokens}, expected ${want.inputTokens}/${want.outputTokens}`);
    if (cost?.totalNanoUsd !== BigInt(want.costNanos!)) fail(`${where}: cost ${cost?.totalNanoUsd} nano-USD, expected ${want.costNanos}`);
  };
  const pool = new Pool(t.origin, { connections: 1 });
  try {
    const u = await pool.request({ method: "POST", path: t.unary.path, headers: t.unary.headers, body: t.unary.body });
    const ub = new Uint8Array(await u.body.arrayBuffer());
    if (u.statusCode !== 200) fail(`Complete: HTTP ${u.statusCode}: ${Buffer.from(ub).toString("utf8").slice(0, 300)}`);
    const res = fromBinary(ChatResponseSchema, ub);
    const text = res.message?.content.map((p) => (p.part.case === "text" ? p.part.value : "")).join("");
    if (exact && text !== want.text) fail(`Complete: text ${JSON.stringify(text)}, expected ${JSON.stringify(want.text)}`);
    if (!text) fail("Complete: no text");
    checkFigures("Complete", res.usage, res.cost);
    const s = await pool.request({ method: "POST", path: t.stream.path, headers: t.stream.headers, body: t.stream.body });
    const sb = Buffer.from(await s.body.arrayBuffer());
    if (s.statusCode !== 200) fail(`Stream: HTTP ${s.statusCode}: ${sb.toString("utf8").slice(0, 300)}`);
    const kinds: string[] = [];
    let streamed = "";
    let end: string | undefined;
    for (let i = 0; i < sb.length; ) {
      const flags = sb[i];
      const n = sb.readUInt32BE(i + 1);
      const data = sb.subarray(i + 5, i + 5 + n);
      i += 5 + n;
      if (flags & 2) {
        end = data.toString("utf8");
        continue;
      }
      const ev = fromBinary(ChatEventSchema, data).event;
      kinds.push(ev.case ?? "none");
      if (ev.case === "delta") streamed += ev.value.text;
      if (ev.case === "finish") checkFigures("Stream finish", ev.value.usage, ev.value.cost);
    }
    if (end !== "{}") fail(`Stream: end of stream ${JSON.stringify(end)}, expected {} (no error)`);
    if (kinds[0] !== "start" || kinds.at(-1) !== "finish" || kinds.slice(1, -1).some((k) => k !== "delta") || kinds.length < 3) fail(`Stream: events ${kinds.join(", ")}, expected start, deltas, finish`);
    if (exact && streamed !== want.text) fail(`Stream: text ${JSON.stringify(streamed)}, expected ${JSON.stringify(want.text)}`);
  } finally {
    await pool.close();
  }
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  const upstream = await start(["bench/upstream.ts", "0"]);
  const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
  const floor = await start(["bench/floor-proxy.ts", "0", upstreamOrigin]);
  // A reference, not a target: connect-node with the same upstream call and prebuilt messages.
  const connectFloor = await start([...startFlags(), "bench/connect-floor.ts", "0", upstreamOrigin]);
  const dir = mkdtempSync(join(tmpdir(), "signalbox-bench-"));
  const config = (extra: string) => {
    const file = join(dir, `bench-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, benchConfig(PROVIDER === "http" ? upstreamOrigin : "mock", extra));
    return file;
  };
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // The same V8 flags as `npm start` (package.json).
  const flags = process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? startFlags();
  const quiet = { PORT: "0", SIGNALBOX_REQUEST_LOG: "off" };
  const gateway = await start([...profile, ...flags, "src/main.ts", "--config", config("")], quiet);

  // "Everything on": a private Redis for limits, budgets, cooldowns and usage; a private
  // PostgreSQL for the control plane, where the caller key (rate limits and a budget) is created
  // through AdminService, so the hot path authenticates a run-time key; traces exported over
  // OTLP/HTTP to a sink that discards them.
  const redis = await startRedis();
  const postgres = await startPostgres();
  if (!postgres) console.error("bench: no PostgreSQL binaries here: the everything-on gateway keeps its key in the config file");
  const sink = await startOtlpSink();
  const full = await start(
    [
      ...profile,
      ...flags,
      "src/main.ts",
      "--config",
      config(
        postgres
          ? `store: { redis_url: "${redis.url}", postgres_url: "${postgres.url}" }\n`
          : `store: { redis_url: "${redis.url}" }
keys:
  - name: bench
    hash: "${hashKey(BENCH_KEY)}"
    team: bench
    limits: { requests_per_minute: 100000000, tokens_per_minute: 100000000000 }
    budget: { period: month, limit_usd: 100000000 }
`,
      ),
    ],
    process.env.BENCH_FULL_TRACING === "off"
      ? quiet
      : { ...quiet, OTEL_EXPORTER_OTLP_ENDPOINT: sink.origin, OTEL_SERVICE_NAME: "signalbox-bench" },
  );
  const procs = [upstream.proc, floor.proc, connectFloor.proc, gateway.proc, full.proc];
  const cleanup = () => procs.forEach((p) => p.kill("SIGTERM"));
  process.on("exit", cleanup);

  const json = { "content-type": "application/json" };
  const auth = { authorization: `Bearer ${postgres ? await createBenchKey(`http://127.0.0.1:${full.port}`) : BENCH_KEY}` };
  /** PostgreSQL transactions committed so far (the control plane's only traffic: resyncs, last-used batches). */
  const pgTransactions = async (): Promise<number> => {
    if (!postgres) return NaN;
    const c = new pg.Client({ connectionString: postgres.url });
    await c.connect();
    try {
      await c.query("SELECT pg_stat_force_next_flush()").catch(() => {});
      const r = await c.query("SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()");
      return Number(r.rows[0].n);
    } finally {
      await c.end();
    }
  };
  const floorTarget: Target = {
    name: "floor (undici pass-through)",
    tags: ["floor"],
    pid: floor.proc.pid,
    origin: `http://127.0.0.1:${floor.port}`,
    unary: { path: "/v1/chat/completions", headers: json, body: openaiBody(false) },
    stream: { path: "/v1/chat/completions", headers: json, body: openaiBody(true) },
  };
  const connectTarget = (name: string, tags: string[], pid: number | undefined, port: number, headers: Record<string, string>, cpuTarget?: Target["cpuTarget"]): Target => ({
    name,
    tags: ["connect", ...tags],
    cpuTarget,
    pid,
    origin: `http://127.0.0.1:${port}`,
    unary: { path: "/signalbox.v1.ChatService/Complete", headers: { "content-type": "application/proto", ...headers }, body: chatReq },
    stream: { path: "/signalbox.v1.ChatService/Stream", headers: { "content-type": "application/connect+proto", ...headers }, body: envelope },
  });
  const compatTarget = (name: string, tags: string[], pid: number | undefined, port: number, headers: Record<string, string>): Target => ({
    name,
    tags: ["compat", ...tags],
    cpuTarget: tags.includes("full") ? CPU_TARGET.compatFull : CPU_TARGET.compat,
    pid,
    origin: `http://127.0.0.1:${port}`,
    unary: { path: "/v1/chat/completions", headers: { ...json, ...headers }, body: compatBody(false) },
    stream: { path: "/v1/chat/completions", headers: { ...json, ...headers }, body: compatBody(true) },
  });
  const plainConnect = connectTarget(
    `gateway Connect (${PROVIDER === "http" ? "OpenAI adapter → HTTP upstream" : "built-in mock provider"})`,
    ["plain"],
    gateway.proc.pid,
    gateway.port,
    {},
  );
  const allTargets: Target[] = [
    floorTarget,
    connectTarget("connect-node alone (same upstream call, prebuilt messages)", ["reference"], connectFloor.proc.pid, connectFloor.port, {}),
    plainConnect,
    compatTarget("gateway OpenAI-compatible /v1/chat/completions", ["plain"], gateway.proc.pid, gateway.port, {}),
    connectTarget(`gateway Connect, everything on (Redis limits+budget, tracing, usage${postgres ? ", key in PostgreSQL" : ""})`, ["full"], full.proc.pid, full.port, auth, CPU_TARGET.connectFull),
    compatTarget("gateway OpenAI-compatible, everything on", ["full"], full.proc.pid, full.port, auth),
  ];
  const targets = allTargets.filter(
    (t) =>
      t.tags.includes("floor") ||
      ((ONLY.api.length === 0 || ONLY.api.some((x) => t.tags.includes(x))) && (t.tags.includes("reference") || ONLY.gateway.length === 0 || ONLY.gateway.some((x) => t.tags.includes(x)))),
  );
  const direct: Target = { name: "upstream direct", tags: [], origin: upstreamOrigin, unary: floorTarget.unary, stream: floorTarget.stream };

  // Correctness, once, on every row: the upstream's text, usage and cost through each door, unary
  // and streamed (with the built-in mock provider, the gateway rows answer the mock's own text).
  const want = await expectedAnswer(upstreamOrigin);
  for (const t of targets) {
    if (PROVIDER !== "http" && !t.tags.includes("floor") && !t.tags.includes("reference")) continue;
    await (t.tags.includes("connect") ? checkConnect(t, want) : checkCompat(t, want));
  }

  // Warm up (JIT, pools).
  for (const t of [direct, ...targets]) {
    await probe(t, "unary", 200);
    await probe(t, "stream", 200);
  }

  const pgBefore = await pgTransactions();
  const acc = new Map<string, Acc>();
  for (const t of [direct, ...targets]) acc.set(t.name, { requests: 0, seconds: 0, cpu: 0, streamRequests: 0, streamCpu: 0, cpuRequests: 0, streamCpuRequests: 0, lat: [], ttfb: [], rss: 0, errors: 0 });
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const a = acc.get(t.name)!;
      a.seconds += SECONDS;
      for (const kind of KINDS) {
        const sat = await saturate(t, kind);
        a.rss = Math.max(a.rss, rssMb(t.pid!));
        const c0 = cpuMs(t.pid!);
        const fixed = await saturate(t, kind, CPU_RATE);
        const cpu = cpuMs(t.pid!) - c0;
        a.errors += sat.errors + fixed.errors;
        if (kind === "unary") {
          a.requests += sat.requests;
          a.cpu += cpu;
          a.cpuRequests += fixed.requests;
        } else {
          a.streamRequests += sat.requests;
          a.streamCpu += cpu;
          a.streamCpuRequests += fixed.requests;
        }
      }
    }
    // Latency at a fixed rate, interleaved with the direct baseline.
    for (const t of ONLY.kinds.length ? [] : [direct, ...order]) {
      const a = acc.get(t.name)!;
      a.lat.push(...(await probe(t, "unary", RATE * 3)));
      a.ttfb.push(...(await probe(t, "stream", RATE * 3)));
    }
  }

  await new Promise((r) => setTimeout(r, 1000)); // pg_stat counters lag by up to a second
  // Our own two queries (before and after) count too: subtract them.
  const pgDuring = (await pgTransactions()) - pgBefore - 2;
  const d = acc.get(direct.name)!;
  const floorAcc = acc.get(targets[0].name)!;
  const floorCpu = (floorAcc.cpu / floorAcc.cpuRequests) * 1000;
  const floorStreamCpu = (floorAcc.streamCpu / floorAcc.streamCpuRequests) * 1000;
  const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  console.log(
    `\nSignalbox benchmark — ${ROUNDS} rounds; per target and kind: ${SECONDS}s saturation (req/s, RSS) and ${SECONDS}s at a fixed ${CPU_RATE} req/s (CPU per 1k) with ${CONNECTIONS} connections; latency probes at ${RATE} req/s; node ${process.version}`,
  );
  console.log(`upstream direct: p50 ${f2(pct(d.lat, 50))} ms, p99 ${f2(pct(d.lat, 99))} ms; stream TTFB p50 ${f2(pct(d.ttfb, 50))} ms\n`);
  const rows = targets.map((t) => {
    const a = acc.get(t.name)!;
    const cpu = (a.cpu / a.cpuRequests) * 1000;
    const scpu = (a.streamCpu / a.streamCpuRequests) * 1000;
    const u = cpu / floorCpu;
    const st = scpu / floorStreamCpu;
    const verdict = (ok: boolean | undefined) => (ok === undefined ? "-" : ok ? "met" : "MISSED");
    const cpuOk = !t.cpuTarget ? undefined : [Number.isFinite(u) ? u <= t.cpuTarget.unary : undefined, Number.isFinite(st) ? st <= t.cpuTarget.stream : undefined].filter((x) => x !== undefined);
    const goal = !t.cpuTarget ? "" : `≤ ${t.cpuTarget.unary}×/${t.cpuTarget.stream}× ${cpuOk!.length === 0 ? "-" : verdict(cpuOk!.every(Boolean))}`;
    const isFloor = t.tags.includes("floor") || t.tags.includes("reference");
    const p99 = pct(a.lat, 99) - pct(d.lat, 99);
    const ttfb = pct(a.ttfb, 50) - pct(d.ttfb, 50);
    const others = isFloor
      ? ""
      : [
          `p99 ${verdict(Number.isFinite(p99) ? p99 <= LATENCY_TARGET.p99Ms : undefined)}`,
          `TTFB ${verdict(Number.isFinite(ttfb) ? ttfb <= LATENCY_TARGET.ttfbMs : undefined)}`,
          `RSS ${verdict(a.rss > 0 ? a.rss <= LATENCY_TARGET.rssMb : undefined)}`,
        ].join(", ");
    return {
      target: t.name,
      "unary req/s": Math.round(a.requests / a.seconds),
      "CPU ms/1k unary": f2(cpu),
      "× floor": f2(cpu / floorCpu),
      "stream req/s": Math.round(a.streamRequests / a.seconds),
      "CPU ms/1k stream": f2(scpu),
      "× floor (stream)": f2(scpu / floorStreamCpu),
      "CPU goal": goal,
      "p99/TTFB/RSS goals": others,
      "added p50 ms": f2(pct(a.lat, 50) - pct(d.lat, 50)),
      "added p99 ms": f2(pct(a.lat, 99) - pct(d.lat, 99)),
      "added TTFB p50 ms": f2(pct(a.ttfb, 50) - pct(d.ttfb, 50)),
      // What the gateway adds beyond the bare proxy hop (the floor's own figures, same run).
      "p99 / TTFB over floor ms": isFloor ? "" : `${f2(pct(a.lat, 99) - pct(floorAcc.lat, 99))} / ${f2(pct(a.ttfb, 50) - pct(floorAcc.ttfb, 50))}`,
      "RSS MB": Math.round(a.rss),
      errors: a.errors,
    };
  });
  console.table(rows);
  console.log(
    `Targets: CPU per request as a multiple of the floor's (unary/stream): the OpenAI-compatible endpoint ≤ ${CPU_TARGET.compat.unary}×/${CPU_TARGET.compat.stream}× plain and ≤ ${CPU_TARGET.compatFull.unary}×/${CPU_TARGET.compatFull.stream}× with everything on, Connect with everything on ≤ ${CPU_TARGET.connectFull.unary}×/${CPU_TARGET.connectFull.stream}×; every gateway row: added p99 ≤ ${LATENCY_TARGET.p99Ms} ms and added stream TTFB ≤ ${LATENCY_TARGET.ttfbMs} ms at ${RATE} req/s, RSS ≤ ${LATENCY_TARGET.rssMb} MB.`,
  );
  if (postgres) {
    const fullRequests = [...acc.entries()].filter(([name]) => name.includes("everything on")).reduce((n, [, a]) => n + a.requests + a.streamRequests + a.cpuRequests + a.streamCpuRequests, 0);
    console.log(
      `\ncontrol plane: the everything-on gateway's key lives in PostgreSQL (created through AdminService); ${pgDuring} PostgreSQL transactions in all while it served ${fullRequests.toLocaleString("en")} requests (periodic resync and batched last-used writes, none per request).`,
    );
  }
  console.log("\nplanner cost per request (in process, a 4-deployment route, an 800-token prompt):");
  console.table(plannerCosts().map((r) => ({ strategy: r.strategy, "µs per plan": r.usPerPlan.toFixed(2) })));
  console.log("\nguardrail cost per request (in process; pii and secrets, redact, both stages):");
  console.table(guardrailTable(await guardrailCosts()));

  if (SOAK > 0) {
    const g = plainConnect;
    const samples: { at: number; mb: number }[] = [];
    const t0 = Date.now();
    const end = t0 + SOAK * 1000;
    while (Date.now() < end) {
      await saturate({ ...g }, "unary");
      samples.push({ at: Date.now() - t0, mb: rssMb(g.pid!) });
    }
    // RSS at each minute (the last sample of the minute), and whether it stayed flat (within 10 %
    // of the first minute's) and under the target.
    const minutes: number[] = [];
    for (const x of samples) minutes[Math.floor(x.at / 60_000)] = x.mb;
    const perMinute = minutes.filter((x) => x !== undefined);
    const flat = perMinute.length > 0 && Math.max(...perMinute) <= perMinute[0] * 1.1;
    const under = perMinute.length > 0 && Math.max(...perMinute) <= LATENCY_TARGET.rssMb;
    console.log(
      `soak ${SOAK}s under saturation: gateway RSS at each minute (MB): ${perMinute.map((x) => Math.round(x)).join(", ")}; flat (≤ +10 %): ${flat ? "met" : "MISSED"}; ≤ ${LATENCY_TARGET.rssMb} MB: ${under ? "met" : "MISSED"}`,
    );
  }
  cleanup();
  // Let the gateway drain and write its profile before we go.
  await Promise.all([gateway.proc, full.proc].map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)))));
  await redis.stop();
  await postgres?.destroy();
  sink.close();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
