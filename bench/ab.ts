// Interleaved A/B of gateway variants: how to decide whether a change is kept on a machine whose
// neighbours move every figure by ±15–40 % from run to run. Each variant is a gateway started
// from its own checkout (a `git worktree` of the previous commit, say) and/or with extra V8
// flags, all against the same upstream; the load alternates between them in phases (the order
// reversed every other round), and the table gives each variant's own CPU per request (from
// /proc/<pid>/stat, µs) phase by phase, with the median, and its resident memory after each phase.
//
// Usage:
//   VARIANTS='[{"name":"before","cwd":"/tmp/prev"},{"name":"after"}]' node bench/ab.ts compat-stream,compat-unary
//   VARIANTS='[{"name":"on","flags":["--allocation-site-pretenuring"]},{"name":"off"}]' node bench/ab.ts connect-unary
//   VARIANTS='[{"name":"connect-node","reference":"connect-node"},{"name":"gateway"}]' node bench/ab.ts connect-unary,connect-stream
// Kinds: connect-unary, connect-stream, grpcweb-unary, grpcweb-stream, compat-unary, compat-stream. Every variant runs with
// `npm start`'s V8 flags first (package.json), then its own (a later flag wins).
// RATE (default 1000 req/s, open loop) or CLOSED=1 (32 connections, saturated); SECS per phase
// (5); ROUNDS (4); FULL=1 gives each variant a private Redis and PostgreSQL, a caller key with
// limits and a budget, and traces exported to a local OTLP sink (the bench's "everything on").
// A checkout given as cwd needs its node_modules (a symlink to this one's will do).

import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Pool } from "undici";
import { ChatRequestSchema } from "@signalbox/client";
import { startRedis } from "../test/helpers/redis.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { benchConfig, createBenchKey, start, startFlags, startOtlpSink } from "./procs.ts";

interface Variant {
  name: string;
  flags?: string[];
  cwd?: string;
  /** "connect-node": bench/connect-floor.ts (connect-node alone, the bench's reference row) instead of the gateway. */
  reference?: "connect-node";
  env?: Record<string, string>;
}
const FULL = process.env.FULL === "1";
const RATE = Number(process.env.RATE ?? 1000);
const SECS = Number(process.env.SECS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const CLOSED = process.env.CLOSED === "1";
const variants = JSON.parse(process.env.VARIANTS ?? '[{"name":"a"},{"name":"b"}]') as Variant[];
const kinds = (process.argv[2] ?? "compat-stream").split(",");

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;

const prompt = "Summarise the benefits of a gateway in one sentence.";
const chatReq = toBinary(ChatRequestSchema, create(ChatRequestSchema, { model: "bench", messages: [{ role: 2, content: [{ part: { case: "text", value: prompt } }] }] }));
function envelopeOf(data: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + data.length);
  b.writeUInt32BE(data.length, 1);
  b.set(data, 5);
  return b;
}
const envelope = envelopeOf(chatReq);
const openai = (stream: boolean) => JSON.stringify({ model: "bench", messages: [{ role: "user", content: prompt }], ...(stream ? { stream: true } : {}) });
const SPECS: Record<string, { path: string; headers: Record<string, string>; body: string | Uint8Array }> = {
  "connect-unary": { path: "/signalbox.v1.ChatService/Complete", headers: { "content-type": "application/proto" }, body: chatReq },
  "connect-stream": { path: "/signalbox.v1.ChatService/Stream", headers: { "content-type": "application/connect+proto" }, body: envelope },
  "grpcweb-unary": { path: "/signalbox.v1.ChatService/Complete", headers: { "content-type": "application/grpc-web+proto" }, body: envelopeOf(chatReq) },
  "grpcweb-stream": { path: "/signalbox.v1.ChatService/Stream", headers: { "content-type": "application/grpc-web+proto" }, body: envelope },
  "compat-unary": { path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: openai(false) },
  "compat-stream": { path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: openai(true) },
};
for (const k of kinds) if (!SPECS[k]) throw new Error(`unknown kind "${k}" (one of ${Object.keys(SPECS).join(", ")})`);

const upstream = await start(["bench/upstream.ts", "0"]);
const dir = mkdtempSync(join(tmpdir(), "signalbox-ab-"));
const gateways: { name: string; pid: number; proc: ChildProcess; pool: Pool; auth: Record<string, string>; stop: () => Promise<void> }[] = [];
for (const v of variants) {
  const redis = FULL ? await startRedis() : undefined;
  const postgres = FULL ? await startPostgres() : undefined;
  const sink = FULL ? await startOtlpSink() : undefined;
  const file = join(dir, `${v.name.replace(/\W/g, "_")}.yaml`);
  const config = benchConfig(`http://127.0.0.1:${upstream.port}`, FULL ? `store: { redis_url: "${redis!.url}", postgres_url: "${postgres!.url}" }\n` : "");
  writeFileSync(file, config);
  const env = { PORT: "0", SIGNALBOX_REQUEST_LOG: "off", ...(sink ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.origin, OTEL_SERVICE_NAME: "signalbox-ab" } : {}), ...v.env };
  const script = v.reference === "connect-node" ? ["bench/connect-floor.ts", "0", `http://127.0.0.1:${upstream.port}`] : ["src/main.ts", "--config", file];
  const { proc, port } = await start([...startFlags(), ...(v.flags ?? []), ...script], env, v.cwd);
  const origin = `http://127.0.0.1:${port}`;
  const auth: Record<string, string> = FULL && !v.reference ? { authorization: `Bearer ${await createBenchKey(origin)}` } : {};
  gateways.push({
    name: v.name,
    pid: proc.pid!,
    proc,
    pool: new Pool(origin, { connections: 32 }),
    auth,
    stop: async () => {
      sink?.close();
      await redis?.stop();
      await postgres?.destroy();
    },
  });
}

/** One phase against one gateway: CPU µs per request, requests, errors, RSS after. */
async function phase(g: (typeof gateways)[number], kind: string, secs: number) {
  const spec = SPECS[kind];
  let done = 0;
  let errors = 0;
  const one = async () => {
    try {
      const r = await g.pool.request({ method: "POST", path: spec.path, headers: { ...spec.headers, ...g.auth }, body: spec.body });
      if (kind.startsWith("grpcweb")) {
        // gRPC-web answers 200 either way: the status is in the trailer at the end of the body.
        if (!(await r.body.text()).includes("grpc-status: 0")) errors++;
      } else await r.body.dump();
      if (r.statusCode !== 200) errors++;
    } catch {
      errors++;
    }
    done++;
  };
  const c0 = cpuMs(g.pid);
  const t0 = performance.now();
  if (CLOSED) {
    const stop = t0 + secs * 1000;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (performance.now() < stop) await one();
    }));
  } else {
    const n = Math.round(RATE * secs);
    let sent = 0;
    const inflight: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * RATE));
        while (sent < due) {
          sent++;
          inflight.push(one());
        }
        if (sent >= n) resolve();
        else setTimeout(tick, 2);
      };
      tick();
    });
    await Promise.all(inflight);
  }
  return { us: ((cpuMs(g.pid) - c0) * 1000) / done, errors, rss: rssMb(g.pid) };
}

try {
  // Warm-up: every variant and kind once, unmeasured.
  for (const g of gateways) for (const k of kinds) await phase(g, k, 2);
  const cpu = new Map<string, number[]>();
  const rss = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const k of kinds) {
      for (const g of round % 2 ? [...gateways].reverse() : gateways) {
        const r = await phase(g, k, SECS);
        if (r.errors) console.error(`${g.name} ${k}: ${r.errors} errors`);
        const key = `${k} ${g.name}`;
        cpu.set(key, [...(cpu.get(key) ?? []), Math.round(r.us)]);
        rss.set(g.name, [...(rss.get(g.name) ?? []), Math.round(r.rss)]);
      }
    }
  }
  console.log(`interleaved A/B: ${ROUNDS} rounds of ${SECS} s phases, ${CLOSED ? "saturated (32 connections)" : `${RATE} req/s`}${FULL ? ", everything on" : ""}; gateway CPU µs per request`);
  for (const [key, xs] of cpu) {
    const sorted = [...xs].sort((a, b) => a - b);
    console.log(`  ${key.padEnd(32)} median ${String(sorted[Math.floor(sorted.length / 2)]).padStart(5)}   phases ${xs.join(" ")}`);
  }
  for (const [name, xs] of rss) console.log(`  RSS MB after each phase, ${name}: ${xs.join(" ")}`);
} finally {
  for (const g of gateways) {
    await g.pool.close();
    g.proc.kill("SIGTERM");
    await g.stop();
  }
  upstream.proc.kill("SIGTERM");
}
process.exit(0);
