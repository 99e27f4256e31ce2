// The in-process usage store (the embedded default, one process): hour and day aggregates keyed
// by each record's full dimension tuple (counters and a sparse latency histogram), and a bounded
// log of recent records. record() is a few map look-ups and additions; queries read aggregates
// (see store.ts for what a query means), never every record. Nothing is buffered, so nothing is ever dropped; the log forgets the
// oldest records past its capacity, the aggregates keep counting them.

import type { UsageRecord } from "./record.ts";
import {
  addInto,
  compileFilters,
  countersOf,
  DAY,
  decodePageToken,
  encodePageToken,
  floorDay,
  floorHour,
  HOUR,
  inListRange,
  listFingerprint,
  pageSizeOf,
  planBuckets,
  recordLatencyBucket,
  recordMatches,
  RowBuilder,
  tupleJson,
  tupleOf,
  type GetQuery,
  type ListQuery,
  type ListResult,
  type Retention,
  type Tuple,
  type UsageQuery,
  type UsageResult,
  type UsageStore,
} from "./store.ts";

export interface MemoryUsageStoreOptions {
  /** Recent records kept for list(); default 10,000. */
  logCapacity?: number;
  /** How long hour buckets are kept; default 7 days (older edges of a range widen to days). */
  hourRetentionMs?: number;
  /** How long day buckets are kept; default 400 days. */
  dayRetentionMs?: number;
  now?: () => number;
}

interface Cell {
  tuple: Tuple;
  c: number[];
  /** Requests per latency bucket (store.ts latencyBucket). */
  h: Map<number, number>;
}

export function createMemoryUsageStore(opts: MemoryUsageStoreOptions = {}): UsageStore {
  const capacity = Math.max(1, opts.logCapacity ?? 10_000);
  const retention: Retention = { hourMs: opts.hourRetentionMs ?? 7 * DAY, dayMs: opts.dayRetentionMs ?? 400 * DAY };
  const now = opts.now ?? Date.now;
  const hours = new Map<number, Map<string, Cell>>();
  const days = new Map<number, Map<string, Cell>>();
  // The log: a ring; the record with sequence number s sits at s % capacity.
  const log: UsageRecord[] = [];
  let seq = 0;
  let written = 0;
  let prunedAt = 0;

  const prune = (t: number) => {
    for (const h of hours.keys()) if (h + HOUR <= t - retention.hourMs) hours.delete(h);
    for (const d of days.keys()) if (d + DAY <= t - retention.dayMs) days.delete(d);
  };

  const add = (buckets: Map<number, Map<string, Cell>>, start: number, key: string, tuple: Tuple, c: number[], lb: number) => {
    let cells = buckets.get(start);
    if (!cells) buckets.set(start, (cells = new Map()));
    let cell = cells.get(key);
    if (cell) addInto(cell.c, c);
    else cells.set(key, (cell = { tuple, c: c.slice(), h: new Map() }));
    cell.h.set(lb, (cell.h.get(lb) ?? 0) + 1);
  };

  return {
    record(r) {
      try {
        const t = now();
        const hourNow = floorHour(t);
        if (hourNow !== prunedAt) {
          prunedAt = hourNow;
          prune(t);
        }
        const tuple = tupleOf(r);
        const key = tupleJson(tuple);
        const c = countersOf(r);
        const lb = recordLatencyBucket(r);
        const h = floorHour(r.time);
        const d = floorDay(r.time);
        if (h + HOUR > t - retention.hourMs) add(hours, h, key, tuple, c, lb);
        if (d + DAY > t - retention.dayMs) add(days, d, key, tuple, c, lb);
        seq++;
        log[seq % capacity] = r;
        written++;
      } catch {
        // A malformed record must not break the serving path; it is simply not counted.
      }
    },
    async flush() {},
    async close() {},
    stats: () => ({ buffered: 0, written, dropped: 0 }),

    async query(q: UsageQuery): Promise<UsageResult> {
      const plan = planBuckets(q, now(), retention);
      const rb = new RowBuilder(q);
      for (const read of plan.reads) {
        const cells = (read.kind === "hour" ? hours : days).get(read.start);
        if (!cells) continue;
        for (const cell of cells.values()) rb.add(read.start, cell.tuple, cell.c, cell.h);
      }
      return { rows: rb.rows(), from: plan.from, to: plan.to, dropped: 0, droppedTotal: 0 };
    },

    async list(q: ListQuery): Promise<ListResult> {
      const size = pageSizeOf(q);
      const fp = listFingerprint(q);
      const below = q.pageToken ? decodePageToken(q.pageToken, fp) : seq + 1;
      const filters = compileFilters(q.filters);
      const oldest = Math.max(1, seq - capacity + 1);
      const records: UsageRecord[] = [];
      let last = 0;
      for (let s = Math.min(seq, below - 1); s >= oldest; s--) {
        const r = log[s % capacity];
        if (!inListRange(r, q) || !recordMatches(r, filters)) continue;
        if (records.length === size) return { records, nextPageToken: encodePageToken(fp, last) };
        records.push(r);
        last = s;
      }
      return { records, nextPageToken: "" };
    },

    async get(q: GetQuery): Promise<UsageRecord | undefined> {
      const filters = compileFilters(q.filters);
      for (let s = seq, oldest = Math.max(1, seq - capacity + 1); s >= oldest; s--) {
        const r = log[s % capacity];
        if ((q.id ? r.id === q.id : r.traceId === q.traceId) && recordMatches(r, filters)) return r;
      }
      return undefined;
    },
  };
}
