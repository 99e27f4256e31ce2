// The usage store: a UsageSink that can also answer questions. Three implementations behind this
// one interface (memory-store.ts for one process, redis-store.ts for many replicas,
// postgres-store.ts durable); everything that decides what a query means lives here, so all of
// them answer the same question the same way.
//
// What a query means:
// - Aggregates are kept per hour and per day (calendar-aligned UTC), keyed by the record's full
//   dimension tuple (key, team, user, route, deployment, provider, variant, status, tag set).
// - The resolution is one hour: a range [start, end) covers every hour bucket it overlaps, so
//   partial hours at either end count whole. Whole days inside the range are read from the day
//   buckets and the partial days at its edges from hour buckets, so the cost of a query grows
//   with the length of the range (days + at most 46 hours), never with the number of requests.
//   Edge hours older than the hour retention are no longer kept: that edge widens to its whole
//   day. `from`/`to` of the result say which range was actually counted.
// - Granularity hour/day/month buckets rows by the calendar-aligned UTC start of the hour, day or
//   month; total gives one row per group whose bucketStart is the query's start.
// - Filters: values are OR-ed within a filter, filters AND-ed. A record with several tags counts
//   once under each of its tags when grouping by tag (only under the filtered tags when a tag
//   filter is present), and once otherwise. A record without tags has the tag "".
// - Counter sums are kept as integers (tokens, nano-USD, whole milliseconds) and summed as
//   bigint across buckets, so cost totals are exact.
// - Latency percentiles (p50, p95) come from a log-scale histogram kept beside the counters: every
//   request adds 1 to the bucket of its whole-millisecond latency (latencyBucket below: bucket 0 is
//   under 1 ms, bucket i >= 1 is [1.1^(i-1), 1.1^i) ms, the last one open-ended from about 10
//   minutes), and histograms are summed bucket by bucket across buckets, tuples and groups exactly
//   like the counters. A percentile is the geometric middle of the bucket where the cumulative
//   count crosses it (percentile below), so it is within about 5% of the true value. Aggregates
//   written before the histogram existed have none: percentiles count only the requests that have
//   one, and are 0 when none has.

import { createHash } from "node:crypto";
import { GatewayError } from "../router/errors.ts";
import type { UsageRecord, UsageSink } from "./record.ts";

export const DIMENSIONS = ["key", "team", "user", "route", "deployment", "provider", "variant", "tag", "status", "operation"] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export type Granularity = "hour" | "day" | "month" | "total";

export interface UsageFilter {
  dimension: Dimension;
  /** Any of these matches. */
  values: string[];
}

export interface UsageQuery {
  /** Inclusive, ms since the epoch. */
  start: number;
  /** Exclusive, ms since the epoch. */
  end: number;
  granularity: Granularity;
  groupBy: Dimension[];
  filters: UsageFilter[];
}

export interface TokenSums {
  inputTokens: bigint;
  outputTokens: bigint;
  cachedInputTokens: bigint;
  cacheWriteTokens: bigint;
  reasoningTokens: bigint;
  /** input + output. */
  totalTokens: bigint;
  /** What other operations bill by (Usage's units): rerank searches, images, audio seconds (kept as whole milliseconds), characters spoken, pages read. */
  searchUnits: bigint;
  images: bigint;
  audioSeconds: number;
  characters: bigint;
  /** Pages of documents processed (OCR). */
  pages: bigint;
}

/** Nano-USD sums, all seven components of CostBreakdown. */
export interface CostSums {
  total: bigint;
  input: bigint;
  cachedInput: bigint;
  cacheWrite: bigint;
  output: bigint;
  reasoning: bigint;
  /** Per-request fees and per-unit charges (searches, images, audio seconds, characters). */
  request: bigint;
}

export interface UsageRow {
  bucketStart: number;
  /** The group's value of each groupBy dimension, keyed by dimension name. */
  group: Partial<Record<Dimension, string>>;
  requests: number;
  /** Requests whose status is not "ok". */
  failures: number;
  /** Answered by another deployment than the first attempt's, or more than one deployment tried. */
  fallbacks: number;
  cacheHits: number;
  attempts: number;
  usage: TokenSums;
  cost: CostSums;
  /** Sum of whole-millisecond latencies. */
  latencyMsSum: bigint;
  meanLatencyMs: number;
  /** Requests per latency bucket (latencyBucket), sparse, in ascending bucket order. */
  latencyHist: Map<number, number>;
  /** Latency percentiles estimated from latencyHist (within ~5%); 0 when it is empty. */
  p50LatencyMs: number;
  p95LatencyMs: number;
  /** Requests that had a time to first token. */
  ttftCount: number;
  ttftMsSum: bigint;
  meanTtftMs: number;
}

export interface UsageResult {
  rows: UsageRow[];
  /** The range actually counted (the query's range widened to whole hours, or days; see above). */
  from: number;
  to: number;
  /** Records lost to buffer overflow whose time falls in [from, to) (whatever their dimensions). */
  dropped: number;
  /** Records lost to buffer overflow overall (persisted by the Redis store; this process for memory). */
  droppedTotal: number;
}

export interface ListQuery {
  start?: number;
  end?: number;
  filters: UsageFilter[];
  /** 1..1000; default 50. */
  pageSize?: number;
  /** From a previous page's nextPageToken, issued for the same filters and range. */
  pageToken?: string;
  /** Only the records of this trace. */
  traceId?: string;
}

/** One record by request id or by trace id (exactly one), within the caller's filters. */
export interface GetQuery {
  id?: string;
  /** The most recent record of this trace. */
  traceId?: string;
  filters: UsageFilter[];
}

export interface ListResult {
  /** Most recently stored first. */
  records: UsageRecord[];
  /** "" when there are no more. */
  nextPageToken: string;
}

export interface UsageStoreStats {
  /** Records accepted but not yet written. */
  buffered: number;
  /** Records written (by this process). */
  written: number;
  /** Records dropped by this process because the buffer was full. */
  dropped: number;
}

export interface UsageStore extends UsageSink {
  query(q: UsageQuery): Promise<UsageResult>;
  list(q: ListQuery): Promise<ListResult>;
  /** The record with this request id (or the most recent of this trace) that the filters admit. */
  get(q: GetQuery): Promise<UsageRecord | undefined>;
  stats(): UsageStoreStats;
  /** Flush, then stop background work. */
  close(): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const floorHour = (t: number) => Math.floor(t / HOUR) * HOUR;
export const ceilHour = (t: number) => Math.ceil(t / HOUR) * HOUR;
export const floorDay = (t: number) => Math.floor(t / DAY) * DAY;
export const floorMonth = (t: number) => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

// ---- Dimension tuples -------------------------------------------------------------------------

/** A record's dimensions (tags sorted and de-duplicated). */
export interface Tuple {
  key: string;
  team: string;
  user: string;
  route: string;
  deployment: string;
  provider: string;
  variant: string;
  status: string;
  tags: string[];
  /** chat or embeddings; "" in tuples stored before the operation was one of them (they mixed both). */
  operation: string;
}

export function tupleOf(r: UsageRecord): Tuple {
  const tags = r.tags.length <= 1 ? [...r.tags] : [...new Set(r.tags)].sort();
  return {
    key: r.key,
    team: r.team,
    user: r.user,
    route: r.routing.route,
    deployment: r.deployment,
    provider: r.provider,
    variant: r.routing.variant,
    status: r.status,
    tags,
    operation: r.operation ?? "chat",
  };
}

/** A stable string for a tuple (the map key in memory, hashed into the tuple id in Redis). */
export function tupleJson(t: Tuple): string {
  return JSON.stringify([t.key, t.team, t.user, t.route, t.deployment, t.provider, t.variant, t.status, t.tags, t.operation]);
}

export function tupleFromJson(s: string): Tuple {
  const a = JSON.parse(s) as [string, string, string, string, string, string, string, string, string[], string?];
  // Nine elements: a tuple stored before the operation was a dimension (chat and embeddings together).
  if (!Array.isArray(a) || (a.length !== 9 && a.length !== 10) || !Array.isArray(a[8])) throw new Error("malformed tuple");
  return { key: a[0], team: a[1], user: a[2], route: a[3], deployment: a[4], provider: a[5], variant: a[6], status: a[7], tags: a[8], operation: a[9] ?? "" };
}

/** 96-bit content id of a tuple (base64url, 16 characters): the same on every replica. */
export function tupleId(json: string): string {
  return createHash("sha1").update(json).digest("base64url").slice(0, 16);
}

// ---- Counters ---------------------------------------------------------------------------------

/** Counter names, in vector order; `code` is the short name used in Redis hash fields. */
export const COUNTERS = [
  { name: "requests", code: "r" },
  { name: "failures", code: "f" },
  { name: "fallbacks", code: "fb" },
  { name: "cacheHits", code: "ch" },
  { name: "attempts", code: "a" },
  { name: "inputTokens", code: "ti" },
  { name: "outputTokens", code: "to" },
  { name: "cachedInputTokens", code: "tc" },
  { name: "cacheWriteTokens", code: "tw" },
  { name: "reasoningTokens", code: "tr" },
  { name: "costTotal", code: "ct" },
  { name: "costInput", code: "ci" },
  { name: "costCachedInput", code: "cc" },
  { name: "costCacheWrite", code: "cw" },
  { name: "costOutput", code: "co" },
  { name: "costReasoning", code: "cr" },
  { name: "latencyMs", code: "l" },
  { name: "ttftMs", code: "t" },
  { name: "ttftCount", code: "tn" },
  // Added later, so at the end (older aggregates and rows simply have none):
  { name: "costRequest", code: "cq" },
  { name: "searchUnits", code: "su" },
  { name: "images", code: "im" },
  { name: "audioMs", code: "am" },
  { name: "characters", code: "cs" },
  { name: "pages", code: "pg" },
] as const;
export const N_COUNTERS = COUNTERS.length;
export const COUNTER_INDEX: ReadonlyMap<string, number> = new Map(COUNTERS.map((c, i) => [c.code, i]));

const int = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? Math.round(x) : 0);

/** Whether the request was answered by (or tried) another deployment than its first attempt's. */
export function isFallback(r: UsageRecord): boolean {
  const a = r.attempts;
  if (a.length === 0) return false;
  const first = a[0].deployment;
  if (r.deployment && r.deployment !== first) return true;
  for (let i = 1; i < a.length; i++) if (a[i].deployment !== first) return true;
  return false;
}

/** The counter vector of one record (integers). */
export function countersOf(r: UsageRecord): number[] {
  const u = r.usage;
  const c = r.cost;
  return [
    1,
    r.status === "ok" ? 0 : 1,
    isFallback(r) ? 1 : 0,
    r.cacheHit ? 1 : 0,
    r.attempts.length,
    int(u.inputTokens),
    int(u.outputTokens),
    int(u.cachedInputTokens),
    int(u.cacheWriteTokens),
    int(u.reasoningTokens),
    int(c.total),
    int(c.input),
    int(c.cachedInput),
    int(c.cacheWrite),
    int(c.output),
    int(c.reasoning),
    int(r.latencyMs),
    int(r.ttftMs),
    r.ttftMs !== undefined && Number.isFinite(r.ttftMs) ? 1 : 0,
    int(c.request),
    int(u.searchUnits),
    u.images ? int(u.images.count) : 0,
    u.audioSeconds ? int(u.audioSeconds * 1000) : 0,
    int(u.characters),
    int(u.pages),
  ];
}

export function addInto(into: number[], v: readonly number[]): void {
  for (let i = 0; i < N_COUNTERS; i++) into[i] += v[i];
}

// ---- Latency histogram --------------------------------------------------------------------------

/** Growth factor from one bucket bound to the next: buckets are about 10% wide. */
export const LATENCY_BASE = 1.1;
/**
 * Buckets: 0 holds latencies under 1 ms; bucket i (1 <= i < LATENCY_BUCKETS - 1) holds
 * [1.1^(i-1), 1.1^i) ms; the last, 141, everything from 1.1^140 ms (about 10.4 minutes) up.
 */
export const LATENCY_BUCKETS = 142;
/**
 * The lower bounds of buckets 1 .. LATENCY_BUCKETS - 1, ascending (1.1^0 .. 1.1^140): a latency's
 * bucket is how many of them are <= it. PostgreSQL's width_bucket(ms, LATENCY_BOUNDS) is the same
 * function, which is how the PostgreSQL store computes it in SQL.
 */
export const LATENCY_BOUNDS: readonly number[] = Array.from({ length: LATENCY_BUCKETS - 1 }, (_, k) => LATENCY_BASE ** k);

/** The histogram bucket of a latency in ms (stores pass whole milliseconds, like the latency counter). */
export function latencyBucket(ms: number): number {
  if (!(ms >= 1)) return 0; // under 1 ms, negative, NaN
  let lo = 0;
  let hi = LATENCY_BOUNDS.length;
  // The number of bounds <= ms: the first index whose bound is > ms.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (LATENCY_BOUNDS[mid] <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The bucket a record's latency counts in (its whole-millisecond latency, as countersOf keeps it). */
export const recordLatencyBucket = (r: UsageRecord) => latencyBucket(int(r.latencyMs));

/** What a percentile falling in bucket i is estimated as: the bucket's geometric middle. */
export function latencyEstimate(i: number): number {
  if (i <= 0) return 0.5; // [0, 1): its middle (a geometric one has no meaning at 0)
  if (i >= LATENCY_BUCKETS - 1) return LATENCY_BOUNDS[LATENCY_BUCKETS - 2]; // open-ended: its lower bound
  return LATENCY_BASE ** (i - 0.5);
}

/** Add a histogram (or [bucket, count] entries) into another. */
export function addHist(into: Map<number, number>, from: Iterable<readonly [number, number | bigint]>): void {
  for (const [i, n] of from) {
    const v = Number(n);
    if (v) into.set(i, (into.get(i) ?? 0) + v);
  }
}

/**
 * The p-quantile (0 < p <= 1) of a latency histogram: the estimate (latencyEstimate) of the bucket
 * where the cumulative count first reaches the nearest rank ceil(p * total); 0 for an empty one.
 */
export function percentile(hist: ReadonlyMap<number, number>, p: number): number {
  let total = 0;
  for (const n of hist.values()) total += n;
  if (total <= 0) return 0;
  const rank = Math.max(1, Math.ceil(p * total - 1e-9));
  const keys = [...hist.keys()].sort((a, b) => a - b);
  let seen = 0;
  for (const i of keys) {
    seen += hist.get(i)!;
    if (seen >= rank) return latencyEstimate(i);
  }
  return latencyEstimate(keys[keys.length - 1]);
}

// ---- Filters ----------------------------------------------------------------------------------

export interface CompiledFilters {
  byDim: Map<Dimension, Set<string>>;
}

export function compileFilters(filters: UsageFilter[]): CompiledFilters {
  // Several filters on one dimension AND together: a value must be in each of them.
  const byDim = new Map<Dimension, Set<string>>();
  for (const f of filters) {
    if (!DIMENSIONS.includes(f.dimension)) throw new GatewayError("invalid_argument", `filters: unknown dimension "${f.dimension}"`, { field: "filters" });
    const values = new Set(f.values);
    const prev = byDim.get(f.dimension);
    byDim.set(f.dimension, prev ? new Set([...prev].filter((v) => values.has(v))) : values);
  }
  return { byDim };
}

const tagsOf = (t: Tuple) => (t.tags.length ? t.tags : [""]);

export function tupleMatches(t: Tuple, f: CompiledFilters): boolean {
  for (const [d, set] of f.byDim) {
    if (d === "tag") {
      if (!tagsOf(t).some((x) => set.has(x))) return false;
    } else if (!set.has(t[d])) return false;
  }
  return true;
}

export const recordMatches = (r: UsageRecord, f: CompiledFilters) => f.byDim.size === 0 || tupleMatches(tupleOf(r), f);

// ---- Which buckets a query reads ----------------------------------------------------------------

export interface Retention {
  hourMs: number;
  dayMs: number;
}

export interface BucketRead {
  kind: "hour" | "day";
  start: number;
}

export interface BucketPlan {
  from: number;
  to: number;
  reads: BucketRead[];
}

/** Buckets whose start is this far in the future are still read (clock skew between replicas). */
const FUTURE_SLACK = DAY;

/**
 * The hour and day buckets that cover [q.start, q.end): whole days from day buckets, partial days
 * from hour buckets (or the whole day when those hours are past retention); hour granularity
 * reads hours only. Buckets past retention or in the future are not read (they hold nothing).
 */
export function planBuckets(q: Pick<UsageQuery, "start" | "end" | "granularity">, now: number, retention: Retention): BucketPlan {
  let from = floorHour(q.start);
  let to = ceilHour(q.end);
  if (to <= from) to = from + HOUR;
  const reads: BucketRead[] = [];
  const hourKept = (h: number) => h + HOUR > now - retention.hourMs;
  const dayKept = (d: number) => d + DAY > now - retention.dayMs;
  const horizon = now + FUTURE_SLACK;
  if (q.granularity === "hour") {
    for (let h = Math.max(from, floorHour(now - retention.hourMs)); h < to && h <= horizon; h += HOUR) reads.push({ kind: "hour", start: h });
    return { from, to, reads };
  }
  const firstDay = floorDay(from);
  let effFrom = from;
  let effTo = to;
  for (let d = Math.max(firstDay, floorDay(now - retention.dayMs)); d < to && d <= horizon; d += DAY) {
    const lo = Math.max(d, from);
    const hi = Math.min(d + DAY, to);
    if (lo === d && hi === d + DAY) {
      if (dayKept(d)) reads.push({ kind: "day", start: d });
    } else if (hourKept(lo)) {
      for (let h = lo; h < hi && h <= horizon; h += HOUR) if (hourKept(h)) reads.push({ kind: "hour", start: h });
    } else {
      // The edge's hours are gone: count its whole day.
      if (dayKept(d)) reads.push({ kind: "day", start: d });
      if (d < effFrom) effFrom = d;
      if (d + DAY > effTo) effTo = d + DAY;
    }
  }
  return { from: effFrom, to: effTo, reads };
}

// ---- Rows -------------------------------------------------------------------------------------

interface RowAcc {
  bucketStart: number;
  group: Partial<Record<Dimension, string>>;
  sums: bigint[];
  hist: Map<number, number>;
}

/** Accumulates (bucket, tuple, counters) into rows of a query. */
export class RowBuilder {
  readonly #q: UsageQuery;
  readonly #groupBy: Dimension[];
  readonly #filters: CompiledFilters;
  readonly #rows = new Map<string, RowAcc>();

  constructor(q: UsageQuery) {
    this.#q = q;
    this.#groupBy = [...new Set(q.groupBy)];
    this.#filters = compileFilters(q.filters);
  }

  matches(t: Tuple): boolean {
    return tupleMatches(t, this.#filters);
  }

  #rowStart(bucketStart: number): number {
    switch (this.#q.granularity) {
      case "hour":
        return bucketStart;
      case "day":
        return floorDay(bucketStart);
      case "month":
        return floorMonth(bucketStart);
      default:
        return this.#q.start;
    }
  }

  /** Add a tuple's counters (and latency histogram) from one bucket (skips tuples the filters exclude). */
  add(bucketStart: number, t: Tuple, counters: ArrayLike<number | bigint>, hist?: ReadonlyMap<number, number | bigint>): void {
    if (!this.matches(t)) return;
    const start = this.#rowStart(bucketStart);
    const byTag = this.#groupBy.includes("tag");
    if (!byTag) {
      this.#addRow(start, this.#groupOf(t, ""), counters, hist);
      return;
    }
    const tagFilter = this.#filters.byDim.get("tag");
    for (const tag of tagsOf(t)) if (!tagFilter || tagFilter.has(tag)) this.#addRow(start, this.#groupOf(t, tag), counters, hist);
  }

  #groupOf(t: Tuple, tag: string): Partial<Record<Dimension, string>> {
    const g: Partial<Record<Dimension, string>> = {};
    for (const d of this.#groupBy) g[d] = d === "tag" ? tag : t[d];
    return g;
  }

  #addRow(start: number, group: Partial<Record<Dimension, string>>, counters: ArrayLike<number | bigint>, hist: ReadonlyMap<number, number | bigint> | undefined) {
    const id = `${start}\u0000${JSON.stringify(this.#groupBy.map((d) => group[d]))}`;
    let row = this.#rows.get(id);
    if (!row) {
      row = { bucketStart: start, group, sums: new Array<bigint>(N_COUNTERS).fill(0n), hist: new Map() };
      this.#rows.set(id, row);
    }
    for (let i = 0; i < N_COUNTERS; i++) {
      const v = counters[i];
      if (v) row.sums[i] += typeof v === "bigint" ? v : BigInt(v);
    }
    if (hist) addHist(row.hist, hist);
  }

  /** Rows sorted by bucket, then by the group's values in groupBy order. */
  rows(): UsageRow[] {
    const accs = [...this.#rows.values()];
    const gb = this.#groupBy;
    accs.sort((a, b) => {
      if (a.bucketStart !== b.bucketStart) return a.bucketStart - b.bucketStart;
      for (const d of gb) {
        const x = a.group[d]!;
        const y = b.group[d]!;
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    });
    return accs.map((a) => usageRow(a.bucketStart, a.group, a.sums, a.hist));
  }
}

/**
 * A finished row from its counter sums (COUNTERS order) and latency histogram: every store's rows
 * are made here (means and percentiles included).
 */
export function usageRow(bucketStart: number, group: Partial<Record<Dimension, string>>, s: readonly bigint[], hist: ReadonlyMap<number, number>): UsageRow {
  const requests = Number(s[0]);
  const ttftCount = Number(s[18]);
  const latencyHist = new Map([...hist].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]));
  return {
    bucketStart,
    group,
    requests,
    failures: Number(s[1]),
    fallbacks: Number(s[2]),
    cacheHits: Number(s[3]),
    attempts: Number(s[4]),
    usage: {
      inputTokens: s[5],
      outputTokens: s[6],
      cachedInputTokens: s[7],
      cacheWriteTokens: s[8],
      reasoningTokens: s[9],
      totalTokens: s[5] + s[6],
      searchUnits: s[20] ?? 0n,
      images: s[21] ?? 0n,
      audioSeconds: Number(s[22] ?? 0n) / 1000,
      characters: s[23] ?? 0n,
      pages: s[24] ?? 0n,
    },
    cost: { total: s[10], input: s[11], cachedInput: s[12], cacheWrite: s[13], output: s[14], reasoning: s[15], request: s[19] ?? 0n },
    latencyMsSum: s[16],
    meanLatencyMs: requests ? Number(s[16]) / requests : 0,
    latencyHist,
    p50LatencyMs: percentile(latencyHist, 0.5),
    p95LatencyMs: percentile(latencyHist, 0.95),
    ttftCount,
    ttftMsSum: s[17],
    meanTtftMs: ttftCount ? Number(s[17]) / ttftCount : 0,
  };
}

// ---- Listing and page tokens --------------------------------------------------------------------

export function pageSizeOf(q: ListQuery): number {
  const n = q.pageSize ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw new GatewayError("invalid_argument", `page_size: must be between 1 and ${MAX_PAGE_SIZE}, got ${n}`, { field: "page_size" });
  }
  return n || DEFAULT_PAGE_SIZE;
}

/** A fingerprint of what a page token is valid for: the range and the filters (not the page size). */
export function listFingerprint(q: ListQuery): string {
  const filters = q.filters
    .map((f) => [f.dimension, [...new Set(f.values)].sort()] as const)
    .sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : JSON.stringify(a[1]) < JSON.stringify(b[1]) ? -1 : 1));
  const norm = JSON.stringify(q.traceId ? [q.start ?? null, q.end ?? null, filters, q.traceId] : [q.start ?? null, q.end ?? null, filters]);
  return createHash("sha256").update(norm).digest("hex").slice(0, 16);
}

const TOKEN = /^u1\.([0-9a-f]{16})\.([1-9][0-9]{0,15})\.([0-9a-f]{8})$/;
const check = (fingerprint: string, seq: string) => createHash("sha256").update(`${fingerprint}.${seq}`).digest("hex").slice(0, 8);

/**
 * An opaque token: the query's fingerprint and the sequence number of the last record returned,
 * with a check so that a truncated or edited token is refused rather than misread.
 */
export function encodePageToken(fingerprint: string, seq: number): string {
  return Buffer.from(`u1.${fingerprint}.${seq}.${check(fingerprint, String(seq))}`, "utf8").toString("base64url");
}

/** The sequence number to continue below; throws invalid_argument for a malformed or foreign token. */
export function decodePageToken(token: string, fingerprint: string): number {
  const m = /^[A-Za-z0-9_-]+$/.test(token) ? TOKEN.exec(Buffer.from(token, "base64url").toString("utf8")) : null;
  if (!m || check(m[1], m[2]) !== m[3]) {
    throw new GatewayError("invalid_argument", "page_token: malformed (pass next_page_token from a previous response unchanged)", { field: "page_token" });
  }
  if (m[1] !== fingerprint) {
    throw new GatewayError("invalid_argument", "page_token: was issued for a different query (filters or time range changed); start again without a page token", {
      field: "page_token",
    });
  }
  return Number(m[2]);
}

/** Whether a record falls in a list query's time range (and trace, when one is given). */
export const inListRange = (r: UsageRecord, q: ListQuery) =>
  (q.start === undefined || r.time >= q.start) && (q.end === undefined || r.time < q.end) && (!q.traceId || r.traceId === q.traceId);

/**
 * get() for stores whose list() reads a recent log (memory, Redis): page through it, newest first,
 * until the record turns up. A trace id is a list filter; a request id is a scan.
 */
export async function findInLog(list: (q: ListQuery) => Promise<ListResult>, q: GetQuery): Promise<UsageRecord | undefined> {
  let pageToken: string | undefined;
  do {
    const page = await list({ filters: q.filters, traceId: q.traceId || undefined, pageSize: MAX_PAGE_SIZE, pageToken });
    const hit = q.id ? page.records.find((r) => r.id === q.id) : page.records[0];
    if (hit) return hit;
    pageToken = page.nextPageToken || undefined;
  } while (pageToken);
  return undefined;
}
