// Shared by the benchmark scripts: start a child process that prints its port, the bench config,
// the local OTLP sink, and the everything-on gateway's caller key.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

const ROOT = new URL("..", import.meta.url).pathname;

/** The V8 flags `npm start` runs the gateway with (package.json), so the benchmarks measure the same heap. */
export function startFlags(): string[] {
  const start = (JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { scripts: { start: string } }).scripts.start;
  return start.split(/\s+/).filter((a) => a.startsWith("--"));
}

/**
 * Start `node <args>` in the repository (or in another checkout of it, `cwd`); resolves with its
 * port once it prints "ready <port>" or the gateway's listening line.
 */
export function start(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out) ?? /"msg":"signalbox listening".*"port":(\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}: ${out}`)));
  });
}

/**
 * Bootstrap the everything-on gateway's key through AdminService: auth is off until the first key
 * exists, and the first must be an admin key (it turns auth on); that one then makes the bench's
 * service key, with its limits and budget.
 */
export async function createBenchKey(origin: string): Promise<string> {
  const call = async (method: string, body: unknown, bearer?: string) => {
    const r = await fetch(`${origin}/signalbox.v1.AdminService/${method}`, { method: "POST", headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`AdminService.${method}: HTTP ${r.status}: ${text}`);
    return JSON.parse(text) as { secret?: string };
  };
  await call("CreateTeam", { team: { name: "bench" } });
  const { secret: admin } = await call("CreateKey", { key: { name: "bench-admin", team: "bench", role: "KEY_ROLE_ADMIN" } });
  if (!admin) throw new Error("AdminService.CreateKey returned no secret");
  const { secret } = await call(
    "CreateKey",
    { key: { name: "bench", team: "bench", role: "KEY_ROLE_SERVICE", limits: { requestsPerMinute: 100000000, tokensPerMinute: "100000000000" }, budget: { period: "BUDGET_PERIOD_MONTH", limitUsd: 100000000 } } },
    admin,
  );
  if (!secret) throw new Error("AdminService.CreateKey returned no secret");
  return secret;
}

/** The bench route: one deployment on the OpenAI-style upstream at `upstreamOrigin` ("mock": the built-in mock), then `extra`. */
export function benchConfig(upstreamOrigin: string | "mock", extra = ""): string {
  const provider =
    upstreamOrigin === "mock"
      ? "  - { name: upstream, type: mock, mock: { chunks: 8, output_tokens: 16 } }"
      : `  - { name: upstream, type: openai-compatible, base_url: "${upstreamOrigin}/v1", api_key: bench-not-a-key }`;
  return `server: { port: 0, host: 127.0.0.1 }
providers:
${provider}
deployments:
  - { id: bench/gpt-4o-mini, provider: upstream, model: gpt-4o-mini, pricing: { input: 0.15, output: 0.6 } }
routes:
  - { name: bench, targets: [bench/gpt-4o-mini] }
${extra}`;
}

/** An OTLP/HTTP endpoint that accepts and discards whatever is exported to it. */
export async function startOtlpSink(): Promise<{ origin: string; close(): void }> {
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end());
  });
  await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
  sink.unref();
  return { origin: `http://127.0.0.1:${(sink.address() as { port: number }).port}`, close: () => sink.close() };
}
