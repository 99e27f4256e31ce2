// Running the built CLI as users do: the bundle (clients/cli/dist/signalbox.mjs) in a child process
// against a gateway, with no key and no colours, and building what it bundles when it is older than
// its sources (`npm test` builds both first; a single test file run may not have).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI_DIR = join(ROOT, "clients/cli");
const CLIENT_DIR = join(ROOT, "clients/typescript");
export const BUNDLE = join(CLI_DIR, "dist/signalbox.mjs");
export const NODE24 = existsSync(join(ROOT, "node_modules/.bin/node")) ? join(ROOT, "node_modules/.bin/node") : process.execPath;
export const SYSTEM_NODE = "/usr/bin/node";

export interface CliRun {
  code: number | null;
  stdout: string;
  /** stdout as bytes (audio written to `-o -`). */
  bytes: Buffer;
  stderr: string;
}

/** Run the built CLI with `SIGNALBOX_URL=url` (no key: SIGNALBOX_API_KEY and SIGNALBOX_TRACE_URL unset), killed after 30 s. */
export function runCli(url: string, args: string[], opts: { cwd: string; env?: Record<string, string>; node?: string; stdin?: string | Uint8Array }): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, SIGNALBOX_URL: url, NO_COLOR: "1", ...opts.env };
  delete env.SIGNALBOX_API_KEY;
  delete env.SIGNALBOX_TRACE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(opts.node ?? NODE24, [BUNDLE, ...args], { cwd: opts.cwd, env, stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      const bytes = Buffer.concat(out);
      resolve({ code, stdout: bytes.toString("utf8"), bytes, stderr });
    });
  });
}

/** The newest modification time of any file under dir. */
function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

/** Build the client's dist (the bundle takes @signalbox/client from there), then the bundle, each only when older than its sources. */
export function buildCliIfStale(): void {
  const clientDist = join(CLIENT_DIR, "dist/node.js");
  if (!existsSync(clientDist) || statSync(clientDist).mtimeMs < newest(join(CLIENT_DIR, "src"))) {
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    execFileSync(NODE24, [tsc, "-p", join(CLIENT_DIR, "tsconfig.json")], { cwd: ROOT, stdio: "inherit" });
  }
  const sources = Math.max(newest(join(CLI_DIR, "src")), statSync(join(CLI_DIR, "build.mjs")).mtimeMs, statSync(clientDist).mtimeMs);
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= sources) return;
  execFileSync(NODE24, [join(CLI_DIR, "build.mjs")], { cwd: ROOT, stdio: "inherit" });
}

/** The run, after checking it exited with `code` (its output in the message when not). */
export function exited(r: CliRun, code: number, what = "the command"): CliRun {
  assert.equal(r.code, code, `${what} exited ${r.code}, not ${code}\nstdout:\n${r.stdout.slice(0, 3000)}\nstderr:\n${r.stderr}`);
  return r;
}
export const ok = (r: CliRun, what?: string) => exited(r, 0, what);

/** The usage records of one end user, once the gateway lists any (a command's request is recorded after it answers): at most two seconds. */
export async function recordsOfUser<R extends { user: string }>(list: () => Promise<{ records: R[] }>, user: string): Promise<R[]> {
  let records: R[] = [];
  for (let i = 0; i < 100 && records.length === 0; i++) {
    records = (await list()).records.filter((r) => r.user === user);
    if (records.length === 0) await new Promise((res) => setTimeout(res, 20));
  }
  return records;
}

/** A fields view ("NAME  value" lines) as a map; a table below it (after a blank line) is left out. */
export function fieldsOf(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split("\n\n")[0].split("\n")) {
    const [name, value] = line.split(/ {2,}/);
    if (name) m.set(name, value ?? "");
  }
  return m;
}
