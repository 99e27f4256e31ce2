// Background responses (`background: true`): answered at once as queued, run on this replica,
// detached from the request, and read back by GET /v1/responses/{id} as they move on (queued,
// in_progress, then completed, incomplete, failed or cancelled). This keeps the runs of one
// replica, so a cancel can stop the provider call, a shutdown can end each run with a status, and
// the replica can renew their heartbeat (HEARTBEAT_MS) while they run: a response still running
// past its heartbeat was left by a replica that died, and is read back as failed.
// A background response created with `stream: true` keeps the events of its stream in a log on
// this replica while it runs and for LOG_KEEP_MS after: the request that created it follows the
// log (and may go away: the run goes on), and GET /v1/responses/{id}?stream=true&starting_after=N
// on this replica follows it from any event on. With a shared store (PostgreSQL) the log is
// mirrored there every MIRROR_EVERY_MS, so another replica follows the same events, numbered alike.

import { log as logLine } from "../../telemetry/log.ts";

/** How often the runs' heartbeat is renewed, and how long each renewal vouches for them. */
export const HEARTBEAT_MS = 10_000;
export const HEARTBEAT_TTL_MS = 45_000;

/** How long a finished run's event log is kept for a resumed stream, and the most it holds. */
export const LOG_KEEP_MS = 5 * 60_000;
export const LOG_MAX_BYTES = 8 * 1024 * 1024;

/** The events of a streamed background response, by sequence_number. */
export interface StreamLog {
  /** Each event's SSE frame, at its sequence_number. */
  readonly frames: readonly string[];
  readonly ended: boolean;
  /** Grew past LOG_MAX_BYTES: its early events are gone, it cannot be followed from the start. */
  readonly truncated: boolean;
  /** Frames after sequence_number `after`, then each new batch as it comes, then undefined at the end; returns how to stop. */
  follow(after: number, fn: (text: string | undefined) => void): () => void;
}

export interface StreamLogWriter extends StreamLog {
  /** One or more SSE frames (`event: …\ndata: …\n\n`), numbered in order. */
  push(text: string): void;
  end(): void;
}

/** Where a log's events are shared with the other replicas (the response store's), batched. */
export interface LogMirror {
  append(frames: readonly { seq: number; frame: string }[], ended: boolean): Promise<void>;
}

/** How often a log's new events are written to its mirror (and so how far behind another replica follows). */
export const MIRROR_EVERY_MS = 100;
/** Most frames one mirror write carries. */
const MIRROR_BATCH = 1000;

function createStreamLog(onEnd: () => void, mirror?: LogMirror, onMirrorError?: (err: unknown) => void): StreamLogWriter {
  let frames: string[] = [];
  /** sequence_number of frames[0] (past 0 once truncated). */
  let first = 0;
  let bytes = 0;
  let ended = false;
  let truncated = false;
  const followers = new Set<(text: string | undefined) => void>();
  // Frames not yet written to the mirror, and the writes in order.
  let unshared: { seq: number; frame: string }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writes: Promise<void> = Promise.resolve();
  const share = (end: boolean) => {
    clearTimeout(timer);
    timer = undefined;
    const batch = unshared;
    unshared = [];
    writes = writes.then(async () => {
      for (let i = 0; i < batch.length || (end && i === 0); i += MIRROR_BATCH) {
        const part = batch.slice(i, i + MIRROR_BATCH);
        await mirror!.append(part, end && i + MIRROR_BATCH >= batch.length);
      }
    }).catch((err) => onMirrorError?.(err));
  };
  return {
    get frames() {
      return frames;
    },
    get ended() {
      return ended;
    },
    get truncated() {
      return truncated;
    },
    push(text) {
      if (!text || ended) return;
      for (const f of text.split("\n\n")) {
        if (!f) continue;
        frames.push(`${f}\n\n`);
        bytes += f.length + 2;
        if (mirror) unshared.push({ seq: first + frames.length - 1, frame: `${f}\n\n` });
      }
      if (mirror && unshared.length && !timer) timer = setTimeout(() => share(false), MIRROR_EVERY_MS);
      while (bytes > LOG_MAX_BYTES && frames.length > 1) {
        bytes -= frames[0]!.length;
        frames = frames.slice(1);
        first++;
        truncated = true;
      }
      for (const fn of followers) fn(text);
    },
    end() {
      if (ended) return;
      ended = true;
      if (mirror) share(true);
      for (const fn of followers) fn(undefined);
      followers.clear();
      onEnd();
    },
    follow(after, fn) {
      const from = Math.max(0, after + 1 - first);
      if (from < frames.length) fn(frames.slice(from).join(""));
      if (ended) {
        fn(undefined);
        return () => {};
      }
      followers.add(fn);
      return () => followers.delete(fn);
    },
  };
}

/** Why a run was stopped before its end. */
export type StopReason = "cancelled" | "stopping";

export interface BackgroundRuns {
  /** Run `fn` detached; its signal aborts (with a StopReason) on cancel or shutdown. */
  start(id: string, fn: (signal: AbortSignal) => Promise<void>): void;
  /** Stop a run of this replica; whether it was running here. */
  cancel(id: string): boolean;
  /** A new event log for a streamed run (kept LOG_KEEP_MS after it ends), shared through `mirror` when given. */
  openLog(id: string, mirror?: LogMirror): StreamLogWriter;
  /** The event log of a streamed run of this replica, while it runs and for LOG_KEEP_MS after. */
  log(id: string): StreamLog | undefined;
  /** Runs under way on this replica. */
  readonly size: number;
  ids(): string[];
  /** Stop every run and wait until each has recorded how it ended. */
  close(): Promise<void>;
}

export function createBackgroundRuns(onError: (id: string, err: unknown) => void): BackgroundRuns {
  const runs = new Map<string, { ac: AbortController; done: Promise<void> }>();
  const logs = new Map<string, StreamLogWriter>();
  return {
    openLog(id, mirror) {
      const log: StreamLogWriter = createStreamLog(
        () => setTimeout(() => logs.get(id) === log && logs.delete(id), LOG_KEEP_MS).unref(),
        mirror,
        // Another replica then follows what was shared, and the rest once the response ends (from the store).
        (err) => logLine("warn", "responses: a background stream's events could not be shared with the other replicas", { response: id, reason: (err as Error)?.message }),
      );
      logs.set(id, log);
      return log;
    },
    log: (id) => logs.get(id),
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
