// The shared usage store: aggregates and the recent-request log in Redis, so every replica reports
// one set of figures. record() only pushes into an in-memory buffer; a flusher pre-aggregates the
// buffer and writes it every `flushEveryMs` (or as soon as `batchSize` records wait) as ONE Lua
// script per batch (per shard, see below): atomic (key types are checked before anything is
// written, so a batch lands whole or not at all; Redis has no rollback, so only an increment on a
// field someone overwrote with a non-integer can fail alone, and is reported) and idempotent (each
// writer numbers its batches and Redis remembers the last one applied, so a batch whose reply was
// lost is not counted twice when it is sent again). While Redis is away the batch waits and new
// records queue behind it, up to `maxBuffered` records in all; what does not fit is counted as
// dropped (per hour of the record's time, and in total), and those counts are written with the
// next batch.
//
// Key layout, per shard. With `shards: 1` (the default, and what the gateway uses on one Redis)
// there is one shard and <p> is the prefix itself, so every key is in one slot. With N shards (the
// gateway uses 16 on a Redis Cluster) the prefix's hash tag gets the shard number, {usage} ->
// {usage:0} ... {usage:15}, so the shards spread over the cluster's masters, and each shard is a
// complete copy of the layout below for its part of the data:
//   - aggregates (hour, day and tuple hashes) go to the shard of their dimension tuple (a hash of
//     the tuple id modulo N): one tuple is always on one shard, for every hour and day;
//   - the recent-request log goes to the shard of the record id (a hash modulo N), each shard a
//     list of its own sequence, trimmed to logMax / N (so about logMax records in all);
//   - overflow counts ("dropped" fields and <p>:dropped) go to shard 0.
// A batch is split per shard and written as one script per shard, in parallel (the script's keys
// are all in its shard's slot: atomic and idempotent per shard, each shard remembering the
// writer's last batch number, so a retried batch re-sends only what may not have landed and never
// counts twice). A query reads each bucket from every shard (one pipeline per shard) and adds
// them up; ListRequests merges the shard logs newest first, its page token carrying one position
// per shard.
//
//   <p>:h:<hour start ms>    HASH  "<counter>|<tuple id>" -> integer, "lh:<i>|<tuple id>" ->
//                                  requests in latency bucket i (store.ts latencyBucket; only
//                                  buckets that have some), plus "dropped" -> integer.
//                                  EXPIREAT hour end + hourRetention (default 35 days).
//   <p>:d:<day start ms>     HASH  the same per UTC day. EXPIREAT day end + dayRetention (400 days).
//   <p>:t:<day start ms>     HASH  "<tuple id>" -> JSON [key, team, user, route, deployment,
//                                  provider, variant, status, [tags]] for the tuples seen that day
//                                  (HSETNX; expires with the day bucket).
//   <p>:log                  LIST  "<seq>|<time ms>|<record JSON>", newest first; LPUSH + LTRIM to
//                                  `logMax` (default 100,000).
//   <p>:seq                  STRING  last log sequence number (INCRBY per batch).
//   <p>:dropped              STRING  records dropped on buffer overflow, all replicas, ever.
//   <p>:w:<writer id>        STRING  number of the last batch applied by that writer (process);
//                                  expires 7 days after its last batch.
//
// <p> is the `prefix` option, default "sbx:usage:{usage}" (with N shards "sbx:usage:{usage:<n>}").
// Counters (short names in store.ts COUNTERS): r requests, f failures, fb fallbacks, ch cache hits,
// a attempts, ti/to/tc/tw/tr token sums, ct/ci/cc/cw/co/cr nano-USD sums, l latency ms, t ttft ms,
// tn requests with a ttft, cq nano-USD of per-request and per-unit charges, su searches, im images,
// am audio milliseconds, cs characters spoken, pg pages read; lh:<i> the latency histogram (written in the same script as the
// counters, summed across buckets and shards like them). Tuple ids are 96-bit content hashes of
// the tuple JSON, the same on every replica. All increments are integers (HINCRBY, 64-bit), so
// sums are exact.
//
// Queries read hour hashes for partial days and hour granularity, day hashes for whole days (see
// planBuckets in store.ts): their cost grows with the range, not with the number of requests.

import { createHash, randomBytes } from "node:crypto";
import type { RedisClient } from "../state/redis.ts";
import { GatewayError } from "../router/errors.ts";
import type { UsageRecord } from "./record.ts";
import {
  COUNTER_INDEX,
  COUNTERS,
  compileFilters,
  countersOf,
  DAY,
  decodePageToken,
  encodePageToken,
  findInLog,
  floorDay,
  floorHour,
  HOUR,
  listFingerprint,
  N_COUNTERS,
  pageSizeOf,
  planBuckets,
  recordLatencyBucket,
  recordMatches,
  RowBuilder,
  tupleFromJson,
  tupleId,
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

// One batch, applied whole or not at all: key types are checked before anything is written (a key
// of the wrong type refuses the batch, {-1, key}); a batch this writer already applied is skipped
// ({0, 0}); otherwise everything is written ({1, n}: n increments Redis refused, e.g. a field
// someone overwrote with a non-integer; the rest of the batch still lands).
const APPLY = `
local function is(k, want)
  local t = redis.call('TYPE', k)['ok']
  return t == 'none' or t == want
end
for k = 1, #KEYS do
  local want = 'hash'
  if k == 2 then want = 'list' elseif k < 5 then want = 'string' end
  if not is(KEYS[k], want) then return {-1, KEYS[k]} end
end
local batch = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[4]) or '0') >= batch then return {0, 0} end
redis.call('SET', KEYS[4], ARGV[1], 'EX', 604800)
local nt = tonumber(ARGV[3]); local ni = tonumber(ARGV[4]); local nl = tonumber(ARGV[5])
local failed = 0
local a = 7
for i = 1, nt do redis.call('HSETNX', KEYS[tonumber(ARGV[a])], ARGV[a + 1], ARGV[a + 2]); a = a + 3 end
for i = 1, ni do
  local r = redis.pcall('HINCRBY', KEYS[tonumber(ARGV[a])], ARGV[a + 1], ARGV[a + 2])
  if type(r) == 'table' and r.err then failed = failed + 1 end
  a = a + 3
end
for k = 5, #KEYS do redis.call('EXPIREAT', KEYS[k], ARGV[a]); a = a + 1 end
if ARGV[6] ~= '0' then
  local r = redis.pcall('INCRBY', KEYS[3], ARGV[6])
  if type(r) == 'table' and r.err then failed = failed + 1 end
end
if nl > 0 then
  local first = redis.call('INCRBY', KEYS[1], nl) - nl
  local chunk = {}
  for i = 1, nl do
    chunk[#chunk + 1] = string.format('%d', first + i) .. '|' .. ARGV[a]
    a = a + 1
    if #chunk == 500 then redis.call('LPUSH', KEYS[2], unpack(chunk)); chunk = {} end
  end
  if #chunk > 0 then redis.call('LPUSH', KEYS[2], unpack(chunk)) end
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
end
return {1, failed}
`;

export interface RedisUsageStoreOptions {
  /** Key prefix; must contain a hash tag. Default "sbx:usage:{usage}". */
  prefix?: string;
  /**
   * Shards, each on its own hash tag (see the key layout); default 1. A Redis Cluster wants more
   * shards than masters (the gateway uses 16). The number must stay the same for the life of the
   * data: another number reads other keys.
   */
  shards?: number;
  /** Batch window, ms; default 200. */
  flushEveryMs?: number;
  /**
   * Write as soon as this many records wait; also the most records per script. Default 500: a
   * script blocks Redis while it runs (~40 µs a record when no two records share an aggregate),
   * and the limiter's admissions wait behind it.
   */
  batchSize?: number;
  /** Records waiting for Redis, at most; past this they are dropped and counted. Default 100,000. */
  maxBuffered?: number;
  /** Recent records kept in the log; default 100,000. */
  logMax?: number;
  /** How long hour buckets are kept; default 35 days. */
  hourRetentionMs?: number;
  /** How long day buckets (and tuple maps) are kept; default 400 days. */
  dayRetentionMs?: number;
  /** Retry period while Redis is away, ms; default 1,000 (and at once when it reconnects). */
  retryEveryMs?: number;
  /** How long flush() keeps trying to reach Redis before giving up; default 3,000 ms. */
  flushTimeoutMs?: number;
  now?: () => number;
  /** Called when writes start failing (true) and when they succeed again (false). */
  onDegraded?: (degraded: boolean, err?: unknown) => void;
  /**
   * Redis refused writes (not a connection problem): a whole batch (a key of the wrong type, or an
   * error three times over; its records are counted as dropped), or single counter increments.
   */
  onError?: (message: string, err?: unknown) => void;
}

export interface RedisUsageStore extends UsageStore {
  /** Whether the last write failed (records are waiting in the buffer). */
  readonly degraded: boolean;
}

/** The part of a batch for one shard: one script call. */
interface ShardBatch {
  shard: number;
  /** Records whose aggregates (or, past retention, whose log entry) are in this part. */
  records: number;
  keys: string[];
  args: (string | number)[];
  failures: number;
  done: boolean;
}

interface Batch {
  no: number;
  records: number;
  droppedTotal: number;
  parts: ShardBatch[];
  /** Records of parts Redis refused for good. */
  refused: number;
}

/** FNV-1a, 32 bits: which shard a tuple id or a record id goes to, the same on every replica. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A position per shard in the merged log (the sequence to continue below, in each shard). */
const SHARD_TOKEN = /^u2\.([0-9a-f]{16})\.([0-9]{1,16}(?:-[0-9]{1,16})*)\.([0-9a-f]{8})$/;
const shardTokenCheck = (fingerprint: string, floors: string) => createHash("sha256").update(`u2.${fingerprint}.${floors}`).digest("hex").slice(0, 8);
function encodeShardToken(fingerprint: string, floors: number[]): string {
  const f = floors.join("-");
  return Buffer.from(`u2.${fingerprint}.${f}.${shardTokenCheck(fingerprint, f)}`, "utf8").toString("base64url");
}
function decodeShardToken(token: string, fingerprint: string, shards: number): number[] {
  const m = /^[A-Za-z0-9_-]+$/.test(token) ? SHARD_TOKEN.exec(Buffer.from(token, "base64url").toString("utf8")) : null;
  const floors = m ? m[2].split("-").map(Number) : [];
  if (!m || shardTokenCheck(m[1], m[2]) !== m[3] || floors.length !== shards) {
    throw new GatewayError("invalid_argument", "page_token: malformed (pass next_page_token from a previous response unchanged)", { field: "page_token" });
  }
  if (m[1] !== fingerprint) {
    throw new GatewayError("invalid_argument", "page_token: was issued for a different query (filters or time range changed); start again without a page token", {
      field: "page_token",
    });
  }
  return floors;
}

/** An HGETALL reply as a flat array (an object if ioredis transformed it after all). */
const toPairs = (reply: unknown): string[] => (Array.isArray(reply) ? (reply as string[]) : Object.entries((reply ?? {}) as Record<string, string>).flat());
const bump = (m: Map<number, number>, k: number, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
const intStr = (v: number) => (Number.isSafeInteger(v) ? String(v) : BigInt(Math.round(v)).toString());
/** Redis refused the batch for a reason that will not go away by retrying. */
class BatchRefused extends Error {}
const isReplyError = (err: unknown) => err instanceof Error && err.name === "ReplyError" && /^(ERR|WRONGTYPE)/.test(err.message);
/** Hash fields of the latency histogram: "lh:<bucket>|<tuple id>". */
const HIST_FIELD = "lh:";

export function createRedisUsageStore(redis: RedisClient, opts: RedisUsageStoreOptions = {}): RedisUsageStore {
  const p = opts.prefix ?? "sbx:usage:{usage}";
  if (!/\{[^}]+\}/.test(p)) throw new Error(`usage store prefix "${p}" must contain a hash tag such as {usage}`);
  const S = Math.max(1, Math.floor(opts.shards ?? 1));
  const every = opts.flushEveryMs ?? 200;
  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const maxBuffered = Math.max(0, opts.maxBuffered ?? 100_000);
  const logMax = Math.max(0, opts.logMax ?? 100_000);
  const retention: Retention = { hourMs: opts.hourRetentionMs ?? 35 * DAY, dayMs: opts.dayRetentionMs ?? 400 * DAY };
  const retryEvery = opts.retryEveryMs ?? 1_000;
  const flushTimeout = opts.flushTimeoutMs ?? 3_000;
  const now = opts.now ?? Date.now;

  const writerId = randomBytes(8).toString("hex");
  const keysOf = (ps: string) => ({
    seq: `${ps}:seq`,
    log: `${ps}:log`,
    dropped: `${ps}:dropped`,
    writer: `${ps}:w:${writerId}`,
    hour: (h: number) => `${ps}:h:${h}`,
    day: (d: number) => `${ps}:d:${d}`,
    tuples: (d: number) => `${ps}:t:${d}`,
  });
  /** Each shard's keys; shard s has the prefix's hash tag {x} as {x:s} (one shard: the prefix as is). */
  const KS = Array.from({ length: S }, (_, s) => keysOf(S === 1 ? p : p.replace(/\{([^}]+)\}/, (_m, tag: string) => `{${tag}:${s}}`)));
  const K = KS[0];
  const shardOf = (id: string) => (S === 1 ? 0 : fnv1a(id) % S);
  const logMaxPerShard = Math.ceil(logMax / S);
  const CMD = "sbxUsageApply";
  if (!(CMD in redis)) redis.defineCommand(CMD, { lua: APPLY });
  // One flat array argument: a batch can carry far more arguments than a JS call may spread.
  const apply = async (keys: string[], args: (string | number)[]) => {
    const [code, info] = await (redis as unknown as Record<string, (n: number, a: (string | number)[]) => Promise<[number, number | string]>>)[CMD](
      keys.length,
      (keys as (string | number)[]).concat(args),
    );
    if (code === -1) throw new BatchRefused(`usage batch refused: Redis key ${info} has the wrong type`);
    if (code === 1 && Number(info) > 0) opts.onError?.(`usage store: Redis refused ${info} counter increments (a field holds a non-integer)`);
  };

  let queue: UsageRecord[] = [];
  let pending: Batch | undefined;
  let batchNo = 0;
  let written = 0;
  let dropped = 0;
  // Overflow counts not yet handed to a batch.
  let droppedHours = new Map<number, number>();
  let droppedUnsaved = 0;
  let degraded = false;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  let running: Promise<void> | undefined;

  // Tuple ids are content hashes: cache both directions (bounded).
  let idOf = new Map<string, string>();
  let tupleOfId = new Map<string, Tuple>();

  const setDegraded = (d: boolean, err?: unknown) => {
    if (d !== degraded) {
      degraded = d;
      opts.onDegraded?.(d, err);
    }
  };

  const buffered = () => queue.length + (pending?.records ?? 0);

  const hourKept = (h: number, t: number) => h + HOUR > t - retention.hourMs;
  const dayKept = (d: number, t: number) => d + DAY > t - retention.dayMs;

  function buildBatch(): Batch | undefined {
    if (queue.length === 0 && droppedUnsaved === 0) return undefined;
    const take = queue.length <= batchSize ? queue : queue.slice(0, batchSize);
    queue = queue.length <= batchSize ? [] : queue.slice(batchSize);
    const t = now();
    const no = ++batchNo;
    /** One shard's part: its keys (Lua's KEYS, 1-based), their expiry, and its arguments. */
    const parts = new Map<
      number,
      {
        records: number;
        keys: string[];
        expireAt: number[];
        keyIndex: Map<string, number>;
        cells: Map<string, { c: number[]; h: Map<number, number> }>;
        tupleArgs: (string | number)[];
        seenTuple: Set<string>;
        logArgs: string[];
        incr: (string | number)[];
      }
    >();
    const part = (s: number) => {
      let x = parts.get(s);
      if (!x) {
        const k = KS[s];
        x = { records: 0, keys: [k.seq, k.log, k.dropped, k.writer], expireAt: [], keyIndex: new Map(), cells: new Map(), tupleArgs: [], seenTuple: new Set(), logArgs: [], incr: [] };
        parts.set(s, x);
      }
      return x;
    };
    const keyOf = (x: ReturnType<typeof part>, k: string, expiresMs: number) => {
      let i = x.keyIndex.get(k);
      if (i === undefined) {
        x.keys.push(k);
        i = x.keys.length; // Lua's KEYS is 1-based
        x.keyIndex.set(k, i);
        x.expireAt.push(Math.ceil(expiresMs / 1000));
      }
      return i;
    };
    const cell = (x: ReturnType<typeof part>, ki: number, id: string) => {
      const k = `${ki}|${id}`;
      let c = x.cells.get(k);
      if (!c) x.cells.set(k, (c = { c: new Array<number>(N_COUNTERS).fill(0), h: new Map() }));
      return c;
    };
    for (const r of take) {
      const h = floorHour(r.time);
      const d = floorDay(r.time);
      const logShard = S === 1 ? 0 : shardOf(String(r.id ?? ""));
      if (logMax > 0) part(logShard).logArgs.push(`${r.time}|${JSON.stringify(r)}`);
      if (!dayKept(d, t)) {
        part(logShard).records++;
        continue;
      }
      const json = tupleJson(tupleOf(r));
      let id = idOf.get(json);
      if (id === undefined) {
        if (idOf.size >= 50_000) idOf = new Map();
        idOf.set(json, (id = tupleId(json)));
      }
      const sh = shardOf(id);
      const x = part(sh);
      x.records++;
      const k = KS[sh];
      const tk = keyOf(x, k.tuples(d), d + DAY + retention.dayMs);
      if (!x.seenTuple.has(`${tk}|${id}`)) {
        x.seenTuple.add(`${tk}|${id}`);
        x.tupleArgs.push(tk, id, json);
      }
      const c = countersOf(r);
      const lb = recordLatencyBucket(r);
      const dc = cell(x, keyOf(x, k.day(d), d + DAY + retention.dayMs), id);
      for (let i = 0; i < N_COUNTERS; i++) dc.c[i] += c[i];
      bump(dc.h, lb);
      if (hourKept(h, t)) {
        const hc = cell(x, keyOf(x, k.hour(h), h + HOUR + retention.hourMs), id);
        for (let i = 0; i < N_COUNTERS; i++) hc.c[i] += c[i];
        bump(hc.h, lb);
      }
    }
    for (const x of parts.values()) {
      for (const [k, { c, h }] of x.cells) {
        const bar = k.indexOf("|");
        const ki = Number(k.slice(0, bar));
        const id = k.slice(bar + 1);
        for (let i = 0; i < N_COUNTERS; i++) if (c[i] !== 0) x.incr.push(ki, `${COUNTERS[i].code}|${id}`, intStr(c[i]));
        for (const [i, n] of h) x.incr.push(ki, `${HIST_FIELD}${i}|${id}`, n);
      }
    }
    // Overflow counts ride with this batch, on shard 0 (and are put back if it is rejected for good).
    const droppedTotal = droppedUnsaved;
    const droppedBy = droppedHours;
    droppedUnsaved = 0;
    droppedHours = new Map();
    if (droppedTotal > 0 || droppedBy.size > 0) {
      const x0 = part(0);
      const byDay = new Map<number, number>();
      for (const [h, n] of droppedBy) {
        if (hourKept(h, t)) x0.incr.push(keyOf(x0, K.hour(h), h + HOUR + retention.hourMs), "dropped", n);
        bump(byDay, floorDay(h), n);
      }
      for (const [d, n] of byDay) if (dayKept(d, t)) x0.incr.push(keyOf(x0, K.day(d), d + DAY + retention.dayMs), "dropped", n);
    }
    const out: ShardBatch[] = [];
    for (const [sh, x] of parts) {
      const args: (string | number)[] = [no, logMaxPerShard, x.tupleArgs.length / 3, x.incr.length / 3, x.logArgs.length, sh === 0 ? droppedTotal : 0];
      for (const a of x.tupleArgs) args.push(a);
      for (const a of x.incr) args.push(a);
      for (const a of x.expireAt) args.push(a);
      for (const a of x.logArgs) args.push(a);
      out.push({ shard: sh, records: x.records, keys: x.keys, args, failures: 0, done: false });
    }
    return { no, records: take.length, droppedTotal, parts: out, refused: 0 };
  }

  /** Write one batch; false when there was nothing to write or Redis failed. */
  async function writeOne(): Promise<boolean> {
    pending ??= buildBatch();
    const b = pending;
    if (!b) return false;
    // One script per shard, in parallel; a part that landed is not sent again (and if its reply was
    // lost, the shard's writer key makes the second send a no-op).
    const todo = b.parts.filter((x) => !x.done);
    const results = await Promise.allSettled(todo.map((x) => apply(x.keys, x.args)));
    let failed: { err: unknown } | undefined;
    let landed = false;
    results.forEach((res, i) => {
      const x = todo[i];
      if (res.status === "fulfilled") {
        x.done = landed = true;
        return;
      }
      const err: unknown = res.reason;
      if (err instanceof BatchRefused || (isReplyError(err) && ++x.failures >= 3)) {
        // Redis refuses this part (not a connection problem): count its records as dropped and
        // go on with the rest. The counts go into the total with the next batch (not into hour
        // buckets, one of which may be what Redis refuses); a refused part that carried only
        // counts is given up (and reported) rather than retried forever.
        x.done = true;
        b.refused += x.records;
        dropped += x.records;
        if (x.records > 0) droppedUnsaved += x.records + (x.shard === 0 ? b.droppedTotal : 0);
        opts.onError?.(`usage store: a batch of ${x.records} records was refused by Redis and counted as dropped${S > 1 ? ` (shard ${x.shard})` : ""}`, err);
        return;
      }
      failed ??= { err };
    });
    if (failed) {
      setDegraded(true, failed.err);
      return false;
    }
    if (landed) setDegraded(false);
    pending = undefined;
    written += b.records - b.refused;
    return true;
  }

  const clearTimers = () => {
    clearTimeout(timer);
    timer = undefined;
    if (immediate) clearImmediate(immediate);
    immediate = undefined;
  };

  function run(): Promise<void> {
    if (running) return running;
    clearTimers();
    running = (async () => {
      while (await writeOne());
    })().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  }

  function schedule() {
    if (closed || timer || immediate || running) return;
    if (!pending && queue.length === 0 && droppedUnsaved === 0) return;
    if (!degraded && queue.length >= batchSize) {
      immediate = setImmediate(() => {
        immediate = undefined;
        void run();
      });
      return;
    }
    timer = setTimeout(
      () => {
        timer = undefined;
        void run();
      },
      degraded ? retryEvery : every,
    );
    timer.unref();
  }

  const onReady = () => {
    if (degraded && !running) {
      clearTimers();
      void run();
    }
  };
  redis.on("ready", onReady);

  const waitForRedis = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        redis.off("ready", done);
        resolve();
      };
      const t = setTimeout(done, redis.status === "ready" ? Math.min(ms, 50) : ms);
      redis.on("ready", done);
    });

  async function flush(): Promise<void> {
    const deadline = Date.now() + flushTimeout;
    for (;;) {
      if (running) await running;
      await run();
      if (!pending && queue.length === 0 && droppedUnsaved === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      await waitForRedis(Math.min(left, 250));
    }
  }

  const unavailable = (err: unknown) =>
    err instanceof GatewayError ? err : new GatewayError("unavailable", "usage store unavailable: Redis did not answer; try again shortly", {}, err);

  async function resolveTuples(needed: Map<number, Set<string>>): Promise<void> {
    if (tupleOfId.size >= 100_000) tupleOfId = new Map();
    // A tuple's map entry is on the tuple's shard: one pipeline per shard, in parallel.
    const asks: [number, string[]][][] = KS.map(() => []);
    for (const [d, ids] of needed) {
      const missing = new Map<number, string[]>();
      for (const id of ids) {
        if (tupleOfId.has(id)) continue;
        const sh = shardOf(id);
        const list = missing.get(sh);
        if (list) list.push(id);
        else missing.set(sh, [id]);
      }
      for (const [sh, list] of missing) for (let i = 0; i < list.length; i += 1000) asks[sh].push([d, list.slice(i, i + 1000)]);
    }
    await Promise.all(
      asks.map(async (shardAsks, sh) => {
        if (shardAsks.length === 0) return;
        const pl = redis.pipeline();
        for (const [d, ids] of shardAsks) pl.hmget(KS[sh].tuples(d), ...ids);
        const res = (await pl.exec()) ?? [];
        shardAsks.forEach(([, ids], i) => {
          const [err, vals] = res[i] ?? [new Error("no reply")];
          if (err) throw err;
          (vals as (string | null)[]).forEach((v, j) => {
            if (v === null) return;
            try {
              tupleOfId.set(ids[j], tupleFromJson(v));
            } catch {
              // A malformed entry: its counters cannot be attributed and are skipped.
            }
          });
        });
      }),
    );
  }

  /**
   * list() over several shard logs: a merge, newest record time first, of the shards' lists. Each
   * list is in strictly decreasing order of its own sequence, and each shard has its own floor (only
   * entries below it are taken): the page token carries the floors as they were after the last
   * record returned, so a page never returns a record twice nor skips one, whatever is pushed
   * meanwhile. A first page takes each shard's head as its floor, so later pages never pick up
   * records pushed after the first.
   */
  async function listSharded(q: ListQuery): Promise<ListResult> {
    const size = pageSizeOf(q);
    const fp = listFingerprint(q);
    const filters = compileFilters(q.filters);
    const floors = q.pageToken ? decodeShardToken(q.pageToken, fp, S) : new Array<number>(S).fill(Number.MAX_SAFE_INTEGER);
    type Entry = { seq: number; time: number; e: string; at: number };
    // Chunks start small (a page spread over S shards) and double, up to 1,000 entries.
    const cur = KS.map(() => ({ idx: 0, buf: [] as Entry[], pos: 0, done: false, chunk: Math.min(1000, Math.max(16, Math.ceil((2 * size) / S))) }));
    const fill = async (sh: number) => {
      const c = cur[sh];
      while (c.pos >= c.buf.length && !c.done) {
        const chunk = await redis.lrange(KS[sh].log, c.idx, c.idx + c.chunk - 1);
        if (floors[sh] === Number.MAX_SAFE_INTEGER) floors[sh] = chunk.length ? parseInt(chunk[0], 10) + 1 : 1;
        c.idx += chunk.length;
        if (chunk.length < c.chunk) c.done = true;
        c.chunk = Math.min(1000, c.chunk * 2);
        c.buf = [];
        c.pos = 0;
        for (const e of chunk) {
          const b1 = e.indexOf("|");
          const seq = Number(e.slice(0, b1));
          if (!(seq < floors[sh])) continue;
          const b2 = e.indexOf("|", b1 + 1);
          c.buf.push({ seq, time: Number(e.slice(b1 + 1, b2)), e, at: b2 + 1 });
        }
      }
    };
    const out: UsageRecord[] = [];
    try {
      if (q.pageToken) {
        const heads = await Promise.all(KS.map((k) => redis.lindex(k.log, 0)));
        heads.forEach((h, sh) => {
          if (h === null) cur[sh].done = true;
          else cur[sh].idx = Math.max(0, parseInt(h, 10) - floors[sh] + 1);
        });
      }
      await Promise.all(cur.map((_, sh) => fill(sh)));
      let last = floors.slice();
      for (;;) {
        let best = -1;
        for (let sh = 0; sh < S; sh++) {
          const c = cur[sh];
          if (c.pos < c.buf.length && (best < 0 || c.buf[c.pos].time > cur[best].buf[cur[best].pos].time)) best = sh;
        }
        if (best < 0) break;
        const x = cur[best].buf[cur[best].pos++];
        floors[best] = x.seq;
        if (cur[best].pos >= cur[best].buf.length) await fill(best);
        if ((q.start !== undefined && x.time < q.start) || (q.end !== undefined && x.time >= q.end)) continue;
        if (q.traceId && !x.e.includes(q.traceId)) continue;
        let r: UsageRecord;
        try {
          r = JSON.parse(x.e.slice(x.at)) as UsageRecord;
        } catch {
          continue;
        }
        if (!recordMatches(r, filters) || (q.traceId && r.traceId !== q.traceId)) continue;
        if (out.length === size) return { records: out, nextPageToken: encodeShardToken(fp, last) };
        out.push(r);
        last = floors.slice();
      }
    } catch (err) {
      throw unavailable(err);
    }
    return { records: out, nextPageToken: "" };
  }

  return {
    record(r) {
      if (buffered() >= maxBuffered) {
        dropped++;
        droppedUnsaved++;
        bump(droppedHours, floorHour(Number.isFinite(r?.time) ? r.time : Date.now()));
      } else queue.push(r);
      schedule();
    },
    flush,
    async close() {
      await flush();
      closed = true;
      clearTimers();
      redis.off("ready", onReady);
    },
    stats: () => ({ buffered: buffered(), written, dropped }),
    get degraded() {
      return degraded;
    },

    async query(q: UsageQuery): Promise<UsageResult> {
      const plan = planBuckets(q, now(), retention);
      const rb = new RowBuilder(q);
      try {
        let droppedInRange = 0;
        type Cell = { c: (number | bigint)[]; h: Map<number, number> };
        const perRead: { start: number; cells: Map<string, Cell> }[] = [];
        const needed = new Map<number, Set<string>>();
        const parse = (start: number, h: string[]) => {
          const cells = new Map<string, Cell>();
          const cellOf = (id: string) => {
            let c = cells.get(id);
            if (!c) cells.set(id, (c = { c: new Array<number | bigint>(N_COUNTERS).fill(0), h: new Map() }));
            return c;
          };
          for (let j = 0; j < h.length; j += 2) {
            const field = h[j];
            const v = h[j + 1];
            if (field === "dropped") {
              droppedInRange += Number(v);
              continue;
            }
            const bar = field.indexOf("|");
            const code = field.slice(0, bar);
            const ci = COUNTER_INDEX.get(code);
            if (ci !== undefined) cellOf(field.slice(bar + 1)).c[ci] = v.length < 16 ? Number(v) : BigInt(v);
            else if (code.startsWith(HIST_FIELD)) {
              const i = Number(code.slice(HIST_FIELD.length));
              if (Number.isInteger(i) && i >= 0) cellOf(field.slice(bar + 1)).h.set(i, Number(v));
            }
          }
          if (cells.size === 0) return;
          perRead.push({ start, cells });
          const d = floorDay(start);
          let ids = needed.get(d);
          if (!ids) needed.set(d, (ids = new Set()));
          for (const id of cells.keys()) ids.add(id);
        };
        // A few buckets per round trip (4 days or 24 hours): each reply is decoded before the next
        // is asked for, so no command waits behind a long decode (the client's command timeout
        // stays meaningful for large ranges).
        const trips: (typeof plan.reads)[] = [[]];
        let weight = 0;
        for (const read of plan.reads) {
          const w = read.kind === "day" ? 6 : 1;
          if (weight + w > 24) {
            trips.push([]);
            weight = 0;
          }
          trips[trips.length - 1].push(read);
          weight += w;
        }
        let droppedTotal = 0;
        for (let i = 0; i < trips.length; i++) {
          const reads = trips[i];
          // One pipeline per shard (a cluster pipeline stays on one slot), in parallel.
          const replies = await Promise.all(
            KS.map(async (k, sh) => {
              const withDropped = i === 0 && sh === 0;
              const pl = redis.pipeline();
              // HGETALL through call(): the flat [field, value, ...] reply, without building an object.
              for (const read of reads) pl.call("HGETALL", read.kind === "hour" ? k.hour(read.start) : k.day(read.start));
              if (withDropped) pl.get(k.dropped);
              const res = (await pl.exec()) ?? [];
              if (res.length !== reads.length + (withDropped ? 1 : 0)) throw new Error("incomplete pipeline reply");
              for (const [err] of res) if (err) throw err;
              return res;
            }),
          );
          replies.forEach((res, sh) => {
            reads.forEach((read, j) => parse(read.start, toPairs(res[j][1])));
            if (i === 0 && sh === 0) droppedTotal = Number(res[reads.length][1] ?? 0);
          });
        }
        await resolveTuples(needed);
        for (const { start, cells } of perRead) {
          for (const [id, c] of cells) {
            const t = tupleOfId.get(id);
            if (t) rb.add(start, t, c.c, c.h);
          }
        }
        return { rows: rb.rows(), from: plan.from, to: plan.to, dropped: droppedInRange, droppedTotal };
      } catch (err) {
        throw unavailable(err);
      }
    },

    async list(q: ListQuery): Promise<ListResult> {
      if (S > 1) return listSharded(q);
      const size = pageSizeOf(q);
      const fp = listFingerprint(q);
      // Entries are in strictly decreasing sequence order; only ever accept one below `floor`
      // (records pushed meanwhile shift the list: they are skipped, never returned twice).
      let floor = q.pageToken ? decodePageToken(q.pageToken, fp) : Number.MAX_SAFE_INTEGER;
      const filters = compileFilters(q.filters);
      const CHUNK = 1000;
      const out: UsageRecord[] = [];
      let last = 0;
      try {
        let idx = 0;
        if (q.pageToken) {
          const head = await redis.lindex(K.log, 0);
          if (head === null) return { records: [], nextPageToken: "" };
          idx = Math.max(0, parseInt(head, 10) - floor + 1);
        }
        for (;;) {
          const chunk = await redis.lrange(K.log, idx, idx + CHUNK - 1);
          idx += chunk.length;
          for (const e of chunk) {
            const b1 = e.indexOf("|");
            const s = Number(e.slice(0, b1));
            if (!(s < floor)) continue;
            floor = s;
            const b2 = e.indexOf("|", b1 + 1);
            const time = Number(e.slice(b1 + 1, b2));
            if ((q.start !== undefined && time < q.start) || (q.end !== undefined && time >= q.end)) continue;
            if (q.traceId && !e.includes(q.traceId)) continue;
            let r: UsageRecord;
            try {
              r = JSON.parse(e.slice(b2 + 1)) as UsageRecord;
            } catch {
              continue;
            }
            if (!recordMatches(r, filters) || (q.traceId && r.traceId !== q.traceId)) continue;
            if (out.length === size) return { records: out, nextPageToken: encodePageToken(fp, last) };
            out.push(r);
            last = s;
          }
          if (chunk.length < CHUNK) break;
        }
      } catch (err) {
        throw unavailable(err);
      }
      return { records: out, nextPageToken: "" };
    },

    /** A scan of the recent log (list pages), newest first. */
    get(q: GetQuery): Promise<UsageRecord | undefined> {
      return findInLog((lq) => this.list(lq), q);
    },
  };
}
