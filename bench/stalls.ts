// What stalls the event loop: one gateway at a fixed request rate under --cpu-prof (250 µs
// samples), then its busy stretches (samples between two idle ones) of 3 ms or more, with their
// time split by what was on the stack: garbage collection, a socket system call (a long one means
// the process lost its core meanwhile), span encoding for export, ioredis, pg, or other (request
// work, mostly requests queued behind a stall). Prints the latency percentiles of the run too.
//
// Usage: node bench/stalls.ts [plain|full|floor]   (full: Redis limits and budget, a key in PostgreSQL,
// traces to a local sink; as the benchmark's "everything on" gateway; floor: the bare undici
// pass-through instead of the gateway, or connect-node alone with STALLS_DOOR=connect, to compare)
// Options (env): STALLS_RATE (default 200), STALLS_COUNT (default 4000), STALLS_KIND (unary|stream),
// STALLS_DOOR (compat, the default: /v1/chat/completions; connect: ChatService in binary Connect),
// STALLS_MIN_MS (default 3), STALLS_NODE_FLAGS (the gateway's V8 flags; default npm start's),
// STALLS_PROFILE=0 (no profile: latency and run-queue waits only, without the profiler's own cost),
// STALLS_PIN=1 (the gateway's main thread on CPU 0, this process, the upstream, Redis, PostgreSQL and
// the trace sink on CPU 1: takes the competition for cores out of the gateway's latency).
// It also reports, from /proc/<pid>/task/*/schedstat, how long the gateway's main thread waited on
// the run queue (runnable, but another process had the core) during the measured requests.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Pool } from "undici";
import { ChatRequestSchema } from "@signalbox/client";
import { startPostgres } from "../test/helpers/postgres.ts";
import { startRedis } from "../test/helpers/redis.ts";
import { benchConfig, createBenchKey, start, startFlags, startOtlpSink } from "./procs.ts";

const full = process.argv[2] === "full";
const floor = process.argv[2] === "floor";
const RATE = Number(process.env.STALLS_RATE ?? 200);
const COUNT = Number(process.env.STALLS_COUNT ?? 4000);
const stream = process.env.STALLS_KIND === "stream";
const connect = process.env.STALLS_DOOR === "connect";
const MIN_MS = Number(process.env.STALLS_MIN_MS ?? 3);
const pin = process.env.STALLS_PIN === "1";
const profile = process.env.STALLS_PROFILE !== "0";
const flags = process.env.STALLS_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? startFlags();

/** Per thread of a process: ns on a core, ns runnable but waiting for one, time slices. */
function schedstat(pid: number): Map<number, { runNs: number; waitNs: number; slices: number }> {
  const out = new Map<number, { runNs: number; waitNs: number; slices: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [run, wait, slices] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(" ").map(Number);
      out.set(Number(tid), { runNs: run, waitNs: wait, slices });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** Busy stretches of at least `minMs`, after the first `skipMs` (start-up and warm-up), by category. */
export function stalls(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, minMs: number, skipMs: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const category = (id: number): string => {
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === "(garbage collector)") return "garbage collection";
    const urls: string[] = [];
    for (let p: number | undefined = id; p !== undefined; p = parent.get(p)) urls.push(byId.get(p)!.callFrame.url);
    if (urls.some((u) => u.includes("otlp-transformer"))) return "span encoding (OTLP export)";
    if (!leaf.url && /^(writev|writeUtf8String|writeLatin1String|writeBuffer|read)$/.test(leaf.functionName)) return "socket system call";
    if (urls.some((u) => u.includes("/ioredis/"))) return "ioredis";
    if (urls.some((u) => /\/pg(-[a-z]+)?\//.test(u))) return "pg";
    return "other (request work)";
  };
  const found: { ms: number; by: Map<string, number> }[] = [];
  let cur: { ms: number; by: Map<string, number> } | undefined;
  let t = 0;
  profile.samples.forEach((id, i) => {
    const d = (profile.timeDeltas[i] ?? 0) / 1000;
    t += d;
    if (t < skipMs) return;
    if (byId.get(id)!.callFrame.functionName === "(idle)") {
      if (cur && cur.ms >= minMs) found.push(cur);
      cur = undefined;
      return;
    }
    cur ??= { ms: 0, by: new Map() };
    cur.ms += d;
    const c = category(id);
    cur.by.set(c, (cur.by.get(c) ?? 0) + d);
  });
  const total = new Map<string, number>();
  for (const s of found) for (const [k, v] of s.by) total.set(k, (total.get(k) ?? 0) + v);
  return { stretches: found, seconds: (t - skipMs) / 1000, total };
}

async function main() {
  // Everything started from here inherits CPU 1; the gateway is moved to CPU 0 once started.
  if (pin) execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  const upstream = await start(["bench/upstream.ts", "0"]);
  const redis = full ? await startRedis() : undefined;
  const postgres = full ? await startPostgres() : undefined;
  const sink = await startOtlpSink();
  const dir = mkdtempSync(join(tmpdir(), "signalbox-stalls-"));
  const config = join(dir, "config.yaml");
  const store = redis ? `store: { redis_url: "${redis.url}"${postgres ? `, postgres_url: "${postgres.url}"` : ""} }` : "";
  writeFileSync(config, benchConfig(`http://127.0.0.1:${upstream.port}`, store));
  const profDir = join(dir, "profile");
  const env: Record<string, string> = { PORT: "0", SIGNALBOX_REQUEST_LOG: "off" };
  if (full) Object.assign(env, { OTEL_EXPORTER_OTLP_ENDPOINT: sink.origin, OTEL_SERVICE_NAME: "signalbox-stalls" });
  const gatewayStarted = performance.now();
  const prof = profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-interval=250"] : [];
  const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
  const gateway = floor
    ? await start([...prof, ...flags, connect ? "bench/connect-floor.ts" : "bench/floor-proxy.ts", "0", upstreamOrigin])
    : await start([...prof, ...flags, "src/main.ts", "--config", config], env);
  if (pin) {
    execFileSync("taskset", ["-p", "-c", "0", String(gateway.proc.pid)], { stdio: "ignore" });
  }
  const origin = `http://127.0.0.1:${gateway.port}`;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (full && postgres) headers.authorization = `Bearer ${await createBenchKey(origin)}`;
  if (full && !postgres) throw new Error("bench/stalls.ts full needs PostgreSQL's binaries (Debian's postgresql)");
  const text = "Summarise the benefits of a gateway in one sentence.";
  let path = "/v1/chat/completions";
  let body: string | Buffer = JSON.stringify({ model: floor ? "gpt-4o-mini" : "bench", stream, messages: [{ role: "user", content: text }] });
  if (connect) {
    const msg = Buffer.from(toBinary(ChatRequestSchema, create(ChatRequestSchema, { model: "bench", messages: [{ role: 2, content: [{ part: { case: "text", value: text } }] }] })));
    path = stream ? "/signalbox.v1.ChatService/Stream" : "/signalbox.v1.ChatService/Complete";
    headers["content-type"] = stream ? "application/connect+proto" : "application/proto";
    body = msg;
    if (stream) {
      body = Buffer.alloc(5 + msg.length);
      body.writeUInt32BE(msg.length, 1);
      msg.copy(body, 5);
    }
  }
  const pool = new Pool(origin, { connections: 64 });

  const run = async (n: number, rate: number) => {
    const lat: number[] = [];
    const t0 = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      pending.push(
        (async () => {
          const s = performance.now();
          const res = await pool.request({ method: "POST", path, headers, body });
          if (stream) {
            for await (const _ of res.body) break;
            lat.push(performance.now() - s);
            await res.body.dump();
          } else {
            await res.body.dump();
            lat.push(performance.now() - s);
          }
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        })(),
      );
    }
    await Promise.all(pending);
    return lat.sort((a, b) => a - b);
  };
  await run(2000, 400);
  // The profile starts with the process: its start-up and the warm-up are left out.
  const skipMs = performance.now() - gatewayStarted;
  const before = schedstat(gateway.proc.pid!);
  const runStarted = performance.now();
  const lat = await run(COUNT, RATE);
  const ranMs = performance.now() - runStarted;
  const after = schedstat(gateway.proc.pid!);
  gateway.proc.kill("SIGTERM");
  await new Promise((r) => gateway.proc.once("exit", r));
  upstream.proc.kill("SIGTERM");
  await pool.close();
  sink.close();
  await redis?.stop();
  await postgres?.destroy();

  const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(2);
  console.log(`${floor ? (connect ? "connect-node alone" : "the bare floor") : full ? "everything on gateway" : "plain gateway"}${floor ? "" : connect ? ", Connect" : ", /v1"}, ${stream ? "stream (time to first byte)" : "unary"}, ${COUNT} requests at ${RATE} req/s: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, p99.9 ${p(0.999)} ms`);
  const main = after.get(gateway.proc.pid!)!;
  const main0 = before.get(gateway.proc.pid!)!;
  const waitMs = (main.waitNs - main0.waitNs) / 1e6;
  const slices = main.slices - main0.slices;
  let others = 0;
  for (const [tid, t] of after) if (tid !== gateway.proc.pid) others += (t.waitNs - (before.get(tid)?.waitNs ?? 0)) / 1e6;
  console.log(
    `its main thread, over the ${(ranMs / 1000).toFixed(1)} s of measured requests: on a core ${((main.runNs - main0.runNs) / 1e6).toFixed(0)} ms, ` +
      `waiting on the run queue ${waitMs.toFixed(0)} ms in ${slices} time slices (${((1000 * waitMs) / Math.max(1, slices)).toFixed(0)} µs a slice); its other threads waited ${others.toFixed(0)} ms${pin ? " (pinned: the gateway's main thread on CPU 0, the rest on CPU 1)" : ""}`,
  );
  if (!profile) process.exit(0);
  const file = join(profDir, readdirSync(profDir)[0]);
  const { stretches, seconds, total } = stalls(JSON.parse(readFileSync(file, "utf8")), MIN_MS, skipMs);
  const sum = [...total.values()].reduce((a, b) => a + b, 0);
  console.log(`${stretches.length} busy stretches of ${MIN_MS} ms or more in ${seconds.toFixed(0)} s (${(stretches.length / seconds).toFixed(1)} a second), ${sum.toFixed(0)} ms in all; the longest ${Math.max(0, ...stretches.map((s) => s.ms)).toFixed(1)} ms`);
  for (const [k, v] of [...total].sort((a, b) => b[1] - a[1])) console.log(`  ${((100 * v) / sum).toFixed(0).padStart(3)} %  ${k}`);
  console.log(`profile: ${file}`);
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
