// Shared by the benchmark scripts: start a child process that prints its port, and make the
// everything-on gateway's caller key.

import { spawn, type ChildProcess } from "node:child_process";

const ROOT = new URL("..", import.meta.url).pathname;

/** Start `node <args>` in the repository; resolves with its port once it prints "ready <port>" or the gateway's listening line. */
export function start(args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /ready (\d+)/.exec(out) ?? /"msg":"signalbox listening".*"port":(\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}: ${out}`)));
  });
}

/** Bootstrap the everything-on gateway's key through AdminService (auth is off until it exists). */
export async function createBenchKey(origin: string): Promise<string> {
  const call = async (method: string, body: unknown) => {
    const r = await fetch(`${origin}/signalbox.v1.AdminService/${method}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`AdminService.${method}: HTTP ${r.status}: ${text}`);
    return JSON.parse(text) as { secret?: string };
  };
  await call("CreateTeam", { team: { name: "bench" } });
  const { secret } = await call("CreateKey", {
    key: { name: "bench", team: "bench", role: "KEY_ROLE_SERVICE", limits: { requestsPerMinute: 100000000, tokensPerMinute: "100000000000" }, budget: { period: "BUDGET_PERIOD_MONTH", limitUsd: 100000000 } },
  });
  if (!secret) throw new Error("AdminService.CreateKey returned no secret");
  return secret;
}
