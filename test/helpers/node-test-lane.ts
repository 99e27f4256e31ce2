// node:test as the files of a lane of test/run.ts import it: the same module, with every `after`
// hook counted while it runs. A file's top-level `after` hooks (closing its servers and databases,
// putting back a log sink) belong to node:test's root, which ends the run's report without waiting
// for them: the next file of the lane would start beside them, and whatever they change late (a
// log sink set back to stdout) would land in that file. The runner ends a file only once no hook
// counted here is running (test/run.ts, afterHooksDone). Outside a lane nothing imports this.

import * as nodeTest from "node:test";

// Everything else as node:test has it (its typings are `export =`, which `export *` cannot re-export).
export const { afterEach, before, beforeEach, describe, it, mock, only, run, skip, snapshot, suite, test, todo } = nodeTest;
export default nodeTest.default;
export type { TestContext, SuiteContext } from "node:test";

/** The hooks running now, shared with the runner. */
export const runningAfterHooks: Set<Promise<unknown>> = ((globalThis as Record<symbol, unknown>)[Symbol.for("signalbox.test.runningAfterHooks")] ??= new Set<Promise<unknown>>()) as Set<Promise<unknown>>;

type Hook = (...args: unknown[]) => unknown;

export const after: typeof nodeTest.after = (fn, options) =>
  nodeTest.after(
    // A hook that takes node:test's `done` callback keeps its own signature (none in this suite).
    !fn || fn.length > 1
      ? fn
      : function (this: unknown, ...args: unknown[]) {
          const p = Promise.resolve().then(() => (fn as Hook).apply(this, args));
          runningAfterHooks.add(p);
          const forget = () => runningAfterHooks.delete(p);
          p.then(forget, forget);
          return p;
        },
    options,
  );
