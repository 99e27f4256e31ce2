// The suite's runner (`npm test` runs it after the build and the type checks):
//
//   node test/run.ts                      every test/**/*.test.ts
//   node test/run.ts test/compat test/cli/cli.test.ts   folders or files
//   TEST_LANES=2 node test/run.ts         lanes (default: one more than the cores, at most 6)
//   TEST_TIMES=off node test/run.ts       plan with the built-in estimates only, record nothing
//
// Why not `node --test` with a process per file: 262 files each paid Node's start and the import of
// the gateway (about 0.6 s of CPU: ~800 modules) before their first test, a quarter of the suite's
// CPU. Here a few lanes, each one Node process, run their share of the files one after the other
// with node:test's own `run()` (`isolation: "none"`), so a lane loads the gateway's modules once.
// Each file is its own run: its top-level `before`/`after` hooks open and close around its own
// tests (with `node --test --test-isolation=none` every file's `before` runs first and every
// `after` last), `process.env` is put back after it, and its output is printed whole when it ends,
// with its path. A file whose first lines say `// test-runner: own-process` (one that measures time
// or memory, or must start from a fresh process) runs in a child process of its own, after the
// lanes, one at a time, when nothing else of the suite is running.
//
// Files go to lanes longest first, each to the lane with the least work so far (estimates per
// folder, below, or the times of the last local run, kept in node_modules/.cache), so a lane's
// share and order are the same on every run of the same files. The summary at the end has the
// same lines as `node --test`'s (ℹ tests, pass, fail, duration_ms) and lists every failure.

import { fork } from "node:child_process";
import { globSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { availableParallelism } from "node:os";
import { join, relative, resolve } from "node:path";
import { run } from "node:test";
import { spec } from "node:test/reporters";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TIMES = join(ROOT, "node_modules/.cache/signalbox-test-times.json");
/** A test (any test, at any depth) that runs longer than this fails, so a hung test cannot stall its lane. */
const TEST_TIMEOUT_MS = 300_000;
/**
 * In a lane, the files' `node:test` is test/helpers/node-test-lane.ts: node:test itself, with each
 * `after` hook counted while it runs, so that a file ends only once its hooks have (node:test ends a
 * run's report before its files' top-level `after` hooks are done).
 */
const LANE_NODE_TEST = pathToFileURL(join(ROOT, "test/helpers/node-test-lane.ts")).href;
const RUNNING_AFTER_HOOKS = Symbol.for("signalbox.test.runningAfterHooks");
const OWN_PROCESS = /^\/\/ test-runner: own-process/m;
const ownProcess = (file: string) => OWN_PROCESS.test(readFileSync(join(ROOT, file), "utf8").slice(0, 2000));

/**
 * Seconds a file takes in a lane, roughly (measured 2026-12-07, two lanes on two cores): the
 * slowest files by name, the rest by folder's average; a file of an unknown folder, 1.
 */
const FILE_SECONDS: Record<string, number> = {
  "test/cli/cli.test.ts": 37,
  "test/console/console.test.ts": 28,
  "test/usage/postgres-durable.test.ts": 21,
  "test/cli/config-entries.test.ts": 16,
  "test/cli/batch.test.ts": 14,
  "test/guardrails/pathological.test.ts": 13,
  "test/console/batches.test.ts": 13,
  "test/console/config-entries.test.ts": 13,
  "test/usage/postgres-store.test.ts": 13,
  "test/cli/prompts.test.ts": 13,
  "test/console/sso.browser.test.ts": 11,
  "test/vectors/postgres-store.test.ts": 11,
  "test/cli/vector-stores.test.ts": 10,
};
const FOLDER_SECONDS: Record<string, number> = {
  alerts: 3.3,
  batch: 2.3,
  browser: 5.1,
  cache: 1.7,
  cli: 6.5,
  client: 5.6,
  compat: 0.8,
  config: 1.9,
  console: 6,
  control: 4.6,
  deploy: 0.3,
  e2e: 2.6,
  fakes: 0.4,
  guardrails: 0.6,
  limits: 1.3,
  mcp: 0.6,
  providers: 0.2,
  router: 0.3,
  server: 1.6,
  state: 4.6,
  telemetry: 0.7,
  usage: 2.6,
  vectors: 2.3,
};

interface FileResult {
  file: string;
  output: string;
  tests: number;
  passed: number;
  failed: number;
  cancelled: number;
  skipped: number;
  todo: number;
  suites: number;
  ms: number;
  failures: string[];
}

type FromLane = { kind: "file"; result: FileResult } | { kind: "done" };

if (process.argv[2] === "--lane") await lane();
else await main();

async function main(): Promise<void> {
  const started = performance.now();
  const args = process.argv.slice(2);
  const files = testFiles(args.length ? args : ["test"]);
  if (files.length === 0) {
    console.error(`no test files under ${args.join(" ") || "test"}`);
    process.exit(1);
  }
  // Files that want a process of their own measure time or memory: they run after the lanes, one
  // at a time, on a machine nothing else of the suite is using.
  const alone = files.filter(ownProcess);
  const shared = files.filter((f) => !alone.includes(f));
  // One lane more than there are cores: a lane often waits (on a browser, a child process, a
  // server's start), and on two cores three lanes took 275 s where two took 317.
  const lanes = Math.max(1, Math.min(Number(process.env.TEST_LANES) || Math.min(availableParallelism() + 1, 6), shared.length));
  const plan = shared.length ? assign(shared, lanes) : [];
  console.log(`# ${files.length} files: ${shared.length} in ${plan.length} lanes${alone.length ? `, then ${alone.length} alone` : ""}`);

  const results: FileResult[] = [];
  const runLanes = (shares: string[][]) =>
    Promise.all(
      shares.map(
      (share) =>
        new Promise<number>((done) => {
          const child = fork(fileURLToPath(import.meta.url), ["--lane"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
          let finished = false;
          child.on("message", (m: FromLane) => {
            if (m.kind === "done") {
              finished = true;
              return;
            }
            results.push(m.result);
            process.stdout.write(m.result.output);
          });
          child.on("exit", (code, signal) => {
            if (!finished) console.log(`✖ a lane ended early (exit ${code ?? signal}) with ${share.length - results.filter((r) => share.includes(r.file)).length} of its files not reported`);
            done(finished ? 0 : 1);
          });
          child.send(share);
        }),
      ),
    );
  const exits = [...(await runLanes(plan)), ...(alone.length ? await runLanes([alone]) : [])];
  saveTimes(results);

  const sum = (k: keyof FileResult) => results.reduce((s, r) => s + (r[k] as number), 0);
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.file}: ${f}`));
  const missing = files.length - results.length;
  if (failures.length || missing) {
    console.log("\n✖ failing tests:");
    for (const f of failures) console.log(`✖ ${f}`);
    if (missing) console.log(`✖ ${missing} files did not report`);
  }
  console.log(`ℹ files ${results.length}`);
  console.log(`ℹ tests ${sum("tests")}`);
  console.log(`ℹ suites ${sum("suites")}`);
  console.log(`ℹ pass ${sum("passed")}`);
  console.log(`ℹ fail ${sum("failed")}`);
  console.log(`ℹ cancelled ${sum("cancelled")}`);
  console.log(`ℹ skipped ${sum("skipped")}`);
  console.log(`ℹ todo ${sum("todo")}`);
  console.log(`ℹ duration_ms ${Math.round(performance.now() - started)}`);
  const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 5);
  console.log(`# slowest: ${slowest.map((r) => `${r.file} ${(r.ms / 1000).toFixed(1)} s`).join(", ")}`);
  process.exitCode = failures.length || missing || sum("cancelled") || exits.some((e) => e !== 0) ? 1 : 0;
}

/** The test files named by `args` (files, or folders searched for *.test.ts), relative to the root, sorted. */
function testFiles(args: string[]): string[] {
  const out = new Set<string>();
  for (const a of args) {
    const abs = resolve(a);
    if (statSync(abs).isDirectory()) for (const f of globSync("**/*.test.ts", { cwd: abs })) out.add(relative(ROOT, join(abs, f)));
    else out.add(relative(ROOT, abs));
  }
  return [...out].sort();
}

/** Longest first, each to the least loaded lane: the same shares for the same files every time. */
function assign(files: string[], lanes: number): string[][] {
  let known: Record<string, number> = {};
  try {
    if (process.env.TEST_TIMES !== "off") known = JSON.parse(readFileSync(TIMES, "utf8"));
  } catch {
    // No local run yet (a clean clone, CI): the folders' estimates.
  }
  const estimate = (f: string) => known[f] ?? (FILE_SECONDS[f] ?? FOLDER_SECONDS[f.split("/")[1]] ?? 1) * 1000;
  const shares = Array.from({ length: lanes }, () => ({ files: [] as string[], ms: 0 }));
  for (const f of [...files].sort((a, b) => estimate(b) - estimate(a) || a.localeCompare(b))) {
    const least = shares.reduce((m, s) => (s.ms < m.ms ? s : m));
    least.files.push(f);
    least.ms += estimate(f);
  }
  return shares.map((s) => s.files);
}

function saveTimes(results: FileResult[]): void {
  if (process.env.TEST_TIMES === "off") return;
  let known: Record<string, number> = {};
  try {
    known = JSON.parse(readFileSync(TIMES, "utf8"));
  } catch {
    // First run.
  }
  for (const r of results) known[r.file] = Math.round(r.ms);
  try {
    mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
    writeFileSync(TIMES, JSON.stringify(known));
  } catch {
    // Only an estimate for the next run.
  }
}


/** Until no `after` hook is running (one that never ends holds the file at most a minute). */
async function afterHooksDone(): Promise<void> {
  const running = (globalThis as Record<symbol, Set<Promise<unknown>> | undefined>)[RUNNING_AFTER_HOOKS];
  if (!running) return;
  const until = Date.now() + 60_000;
  // A root hook may start a moment after the run's report ended: quiet twice in a row.
  for (let quiet = 0; quiet < 2 && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 10));
    if (running.size === 0) quiet++;
    else {
      quiet = 0;
      await Promise.race([Promise.allSettled([...running]), new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())))]);
    }
  }
}

/** A lane: its files one after the other in this process, each reported whole when it ends. */
async function lane(): Promise<void> {
  process.setMaxListeners(0); // helpers add an exit listener per private server they start
  registerHooks({
    resolve: (specifier, context, next) =>
      specifier === "node:test" && context.parentURL !== LANE_NODE_TEST ? { url: LANE_NODE_TEST, shortCircuit: true } : next(specifier, context),
  });
  const share = await new Promise<string[]>((r) => process.once("message", (m) => r(m as string[])));
  // The channel to the main process keeps the lane alive until it is done (with no listener it is
  // unreferenced, and a lane waiting for a send to finish would exit).
  process.channel?.ref();
  for (const file of share) {
    const result = await runFile(file);
    await new Promise<void>((r) => process.send!({ kind: "file", result } satisfies FromLane, () => r()));
  }
  await new Promise<void>((r) => process.send!({ kind: "done" } satisfies FromLane, () => r()));
  // Whatever a file left open (a timer, a socket) must not keep the lane alive.
  process.exit(0);
}

async function runFile(file: string): Promise<FileResult> {
  const env = { ...process.env };
  const own = ownProcess(file);
  const started = performance.now();
  const result: FileResult = { file, output: "", tests: 0, passed: 0, failed: 0, cancelled: 0, skipped: 0, todo: 0, suites: 0, ms: 0, failures: [] };
  const listening = new Set(process.listeners("beforeExit"));
  const stream = run({ files: [join(ROOT, file)], isolation: own ? "process" : "none", timeout: TEST_TIMEOUT_MS, cwd: ROOT });
  if (!own) {
    // In this mode node:test ends its run when the process is about to exit ('beforeExit': once
    // nothing is left to do), which a lane never is: what an earlier file left open (a pool's idle
    // socket, a timer) would keep this run from ending. Its handler waits for the run's tests to
    // finish, then reports and ends the run; it is called once the file's tests are known (they
    // start only after the file is imported), instead of when the event loop empties.
    const endRun = process.listeners("beforeExit").filter((l) => !listening.has(l));
    let called = false;
    stream.on("test:dequeue", () => {
      if (called) return;
      called = true;
      for (const l of endRun) (l as (code: number) => void).call(process, 0);
    });
  }
  stream.on("test:summary", (ev) => {
    if (ev.file !== undefined) return; // a per-file summary of the child process (own-process files); the run's own comes last
    const c = ev.counts as typeof ev.counts & { failed: number }; // @types/node leaves out `failed`
    Object.assign(result, { tests: c.tests, passed: c.passed, failed: c.failed, cancelled: c.cancelled, skipped: c.skipped, todo: c.todo, suites: c.suites });
  });
  stream.on("test:fail", (ev) => {
    if (ev.details.type === "suite" || (ev.details.error as { failureType?: string })?.failureType === "subtestsFailed") return;
    const where = ev.line ? `:${ev.line}` : "";
    result.failures.push(`${ev.name} (${relative(ROOT, ev.file ?? file)}${where})`);
  });
  let out = "";
  const reporter = stream.compose(new spec());
  for await (const chunk of reporter) out += chunk;
  if (!own) await afterHooksDone();
  result.ms = performance.now() - started;
  // The spec reporter's per-run totals: the lane's summary replaces them.
  out = out.replace(/^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+\n/gm, "");
  result.output = `# ${file}: ${(result.ms / 1000).toFixed(1)} s\n${out}`;
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  Object.assign(process.env, env);
  return result;
}
