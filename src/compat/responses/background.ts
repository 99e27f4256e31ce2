// Background responses (`background: true`): answered at once as queued, run on this replica,
// detached from the request, and read back by GET /v1/responses/{id} as they move on (queued,
// in_progress, then completed, incomplete, failed or cancelled). This keeps the runs of one
// replica, so a cancel can stop the provider call, a shutdown can end each run with a status, and
// the replica can renew their heartbeat (HEARTBEAT_MS) while they run: a response still running
// past its heartbeat was left by a replica that died, and is read back as failed.

/** How often the runs' heartbeat is renewed, and how long each renewal vouches for them. */
export const HEARTBEAT_MS = 10_000;
export const HEARTBEAT_TTL_MS = 45_000;

/** Why a run was stopped before its end. */
export type StopReason = "cancelled" | "stopping";

export interface BackgroundRuns {
  /** Run `fn` detached; its signal aborts (with a StopReason) on cancel or shutdown. */
  start(id: string, fn: (signal: AbortSignal) => Promise<void>): void;
  /** Stop a run of this replica; whether it was running here. */
  cancel(id: string): boolean;
  /** Runs under way on this replica. */
  readonly size: number;
  ids(): string[];
  /** Stop every run and wait until each has recorded how it ended. */
  close(): Promise<void>;
}

export function createBackgroundRuns(onError: (id: string, err: unknown) => void): BackgroundRuns {
  const runs = new Map<string, { ac: AbortController; done: Promise<void> }>();
  return {
    start(id, fn) {
      const ac = new AbortController();
      const done = fn(ac.signal)
        .catch((err) => onError(id, err))
        .finally(() => runs.delete(id));
      runs.set(id, { ac, done });
    },
    cancel(id) {
      const r = runs.get(id);
      if (!r) return false;
      r.ac.abort("cancelled" satisfies StopReason);
      return true;
    },
    get size() {
      return runs.size;
    },
    ids() {
      return [...runs.keys()];
    },
    async close() {
      const all = [...runs.values()];
      for (const r of all) r.ac.abort("stopping" satisfies StopReason);
      await Promise.all(all.map((r) => r.done));
    },
  };
}
