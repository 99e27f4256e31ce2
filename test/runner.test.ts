// The suite's runner (test/run.ts) on files of its own (test/fixtures/runner/*.case.ts, which the
// suite's *.test.ts pattern leaves out): each file's hooks around its own tests, in order, in one
// lane; the environment put back after a file; a timer left open does not hold the lane; a file
// marked own-process runs in a child, after the lanes; a failure is counted, listed with its file, and makes the
// exit code 1.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CASES = ["a-hooks", "b-env", "c-fails", "d-own"].map((n) => `test/fixtures/runner/${n}.case.ts`);

test("one lane: hooks around each file, the environment put back, a failure listed, exit 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "signalbox-runner-"));
  const order = join(dir, "order");
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_LANES: "1", TEST_TIMES: "off", RUNNER_CASE_ORDER: order };
  delete env.NODE_TEST_CONTEXT; // run from `node --test`, this process is itself a test child
  delete env.RUNNER_CASE_LEAK;
  const child = spawn(process.execPath, [join(ROOT, "test/run.ts"), ...CASES], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  // A lane that never ends would hold the pipes open: the runner and its lanes go together.
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 30_000);
  const code = await new Promise<number | null>((r) => child.on("close", r));
  clearTimeout(timer);
  try {
    assert.equal(code, 1, out);
    assert.deepEqual(readFileSync(order, "utf8").trim().split("\n"), ["a:before", "a:test", "a:after", "b:test", "c:test", "d:test"], out);
    assert.match(out, /^# 4 files: 3 in 1 lanes, then 1 alone$/m);
    for (const f of CASES) assert.match(out, new RegExp(`^# ${f.replaceAll(".", "\\.")}: \\d+\\.\\d s$`, "m"));
    assert.match(out, /^ℹ files 4$/m);
    assert.match(out, /^ℹ tests 5$/m);
    assert.match(out, /^ℹ pass 4$/m);
    assert.match(out, /^ℹ fail 1$/m);
    assert.match(out, /^✖ test\/fixtures\/runner\/c-fails\.case\.ts: c fails on purpose \(test\/fixtures\/runner\/c-fails\.case\.ts:\d+\)$/m);
    assert.doesNotMatch(out, /c sees a clean environment \(test/, "the variable b set was gone for c");
    // node:test's own totals per file are replaced by the run's, printed once.
    assert.equal(out.match(/^ℹ tests /gm)?.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
