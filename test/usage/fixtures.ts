// Usage records for store tests (deterministic), and a naive reference that answers a usage query
// by scanning every record: what both stores must agree with.

import type { AttemptRecord } from "../../src/router/types.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { percentile, type Dimension, type UsageQuery, type UsageRow } from "../../src/usage/store.ts";

export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)];
  return { next, int, pick };
}

const KEYS = [
  { key: "k-alpha", team: "red" },
  { key: "k-beta", team: "red" },
  { key: "k-gamma", team: "blue" },
  { key: "k-delta", team: "green" },
] as const;
const DEPLOYMENTS = [
  { id: "openai/gpt", provider: "openai-prod" },
  { id: "anthropic/claude", provider: "anthropic" },
  { id: "mock/a", provider: "mock" },
] as const;

let n = 0;

export interface RecordOpts {
  time: number;
  key?: string;
  team?: string;
  tags?: string[];
  status?: string;
  /** Cost total (nano-USD); components split from it. */
  cost?: number;
}

/** One record; fields not given are drawn from `r`. */
export function makeRecord(r: ReturnType<typeof rng>, o: RecordOpts): UsageRecord {
  const k = KEYS.find((x) => x.key === o.key) ?? r.pick(KEYS);
  const nAttempts = r.int(1, 3);
  const attempts: AttemptRecord[] = [];
  for (let i = 0; i < nAttempts; i++) {
    const d = r.pick(DEPLOYMENTS);
    attempts.push({
      number: i + 1,
      deployment: d.id,
      provider: d.provider,
      model: d.id.split("/")[1],
      outcome: i === nAttempts - 1 ? "succeeded" : "failed",
      failureKind: i === nAttempts - 1 ? undefined : "overloaded",
      latencyMs: r.int(1, 500),
      reason: i === 0 ? "primary" : "retry",
      hedged: false,
      usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      cost: { total: 0, input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 },
      startTime: o.time,
    });
  }
  const last = attempts[attempts.length - 1];
  const input = r.int(0, 20_000);
  const output = r.int(0, 4_000);
  const cached = r.int(0, input);
  const cacheWrite = r.int(0, input - cached);
  const reasoning = r.int(0, output);
  const parts = [r.int(0, 1e9), r.int(0, 1e9), r.int(0, 1e9), r.int(0, 1e9), r.int(0, 1e9)];
  if (o.cost !== undefined) {
    // Most of it in input, the rest spread: components still add up to the total.
    parts[0] = o.cost - parts[1] - parts[2] - parts[3] - parts[4];
  }
  const ttft = r.next() < 0.7 ? r.int(5, 3000) : undefined;
  const status = o.status ?? (r.next() < 0.8 ? "ok" : r.pick(["unavailable", "canceled", "resource_exhausted"]));
  const tagPool = ["alpha", "beta", "gamma"];
  const tags = o.tags ?? (r.next() < 0.3 ? [] : Array.from({ length: r.int(1, 3) }, () => r.pick(tagPool)));
  const rec: UsageRecord = {
    id: `req_${++n}`,
    time: o.time,
    key: k.key,
    team: o.team ?? k.team,
    user: r.pick(["", "u1", "u2", "u3"]),
    model: r.pick(["default", "fast"]),
    routing: { route: r.pick(["default", "fallback", ""]), alias: "", strategy: "ordered", variant: r.pick(["", "A", "B"]) },
    deployment: last.deployment,
    provider: last.provider,
    attempts,
    usage: { inputTokens: input, outputTokens: output, cachedInputTokens: cached, cacheWriteTokens: cacheWrite, reasoningTokens: reasoning },
    usageEstimated: false,
    cost: { total: parts.reduce((a, b) => a + b, 0), input: parts[0], cachedInput: parts[1], cacheWrite: parts[2], output: parts[3], reasoning: parts[4] },
    latencyMs: r.int(1, 20_000),
    ttftMs: ttft,
    overheadUs: r.int(10, 900),
    cacheHit: r.next() < 0.1,
    status,
    failureKind: status === "ok" ? undefined : "overloaded",
    finishReason: status === "ok" ? "stop" : undefined,
    traceId: "0".repeat(31) + (n % 10),
    tags,
    metadata: { n: String(n) },
    streamed: r.next() < 0.5,
    // Without drawing from r (the sequence other tests rely on): one request in seven is an embedding.
    operation: n % 7 === 0 ? "embeddings" : "chat",
  };
  // Units and per-unit charges, also without drawing from r: some requests made images, audio,
  // speech or searches, and paid a per-request charge (in the total unless the total was given).
  if (n % 5 === 0) rec.usage.images = { count: 1 + (n % 3), size: "1024x1024", quality: "standard" };
  if (n % 11 === 0) rec.usage.audioSeconds = (n % 97) + 0.25;
  if (n % 13 === 0) rec.usage.characters = n * 3;
  if (n % 17 === 0) rec.usage.searchUnits = 1 + (n % 4);
  if (n % 4 === 0 && o.cost === undefined) {
    rec.cost.request = n * 1000;
    rec.cost.total += n * 1000;
  }
  return rec;
}

const floorHour = (t: number) => Math.floor(t / HOUR) * HOUR;
const ceilHour = (t: number) => Math.ceil(t / HOUR) * HOUR;
const floorDay = (t: number) => Math.floor(t / DAY) * DAY;
const floorMonth = (t: number) => Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth(), 1);

export interface PlainRow {
  bucketStart: number;
  group: Record<string, string>;
  requests: number;
  failures: number;
  fallbacks: number;
  cacheHits: number;
  attempts: number;
  tokens: string[];
  cost: string[];
  /** searchUnits, images, audioSeconds, characters, and the per-request charges (nano-USD). */
  units: string[];
  latencyMsSum: string;
  ttftMsSum: string;
  ttftCount: number;
  /** [bucket, requests], ascending. */
  latencyHist: [number, number][];
  p50LatencyMs: number;
  p95LatencyMs: number;
}

export function plain(r: UsageRow): PlainRow {
  const u = r.usage;
  const c = r.cost;
  return {
    bucketStart: r.bucketStart,
    group: { ...r.group } as Record<string, string>,
    requests: r.requests,
    failures: r.failures,
    fallbacks: r.fallbacks,
    cacheHits: r.cacheHits,
    attempts: r.attempts,
    tokens: [u.inputTokens, u.outputTokens, u.cachedInputTokens, u.cacheWriteTokens, u.reasoningTokens, u.totalTokens].map(String),
    cost: [c.total, c.input, c.cachedInput, c.cacheWrite, c.output, c.reasoning].map(String),
    units: [u.searchUnits, u.images, u.audioSeconds, u.characters, c.request].map(String),
    latencyMsSum: String(r.latencyMsSum),
    ttftMsSum: String(r.ttftMsSum),
    ttftCount: r.ttftCount,
    latencyHist: [...r.latencyHist].sort((a, b) => a[0] - b[0]),
    p50LatencyMs: r.p50LatencyMs,
    p95LatencyMs: r.p95LatencyMs,
  };
}

/**
 * The latency histogram bucket, written out naively from its definition (store.ts): 0 under 1 ms,
 * else 1 + the largest k <= 140 with 1.1^k <= ms.
 */
export function naiveLatencyBucket(ms: number): number {
  if (!(ms >= 1)) return 0;
  let b = 0;
  for (let k = 0; k <= 140; k++) if (1.1 ** k <= ms) b = k + 1;
  return b;
}

const dimValue = (r: UsageRecord, d: Exclude<Dimension, "tag">): string =>
  d === "route" ? r.routing.route : d === "variant" ? r.routing.variant : d === "operation" ? (r.operation ?? "chat") : (r[d] as string);

/**
 * The reference: scan every record in the hours the range overlaps. Tags: once per distinct tag
 * when grouping by tag (only the filtered tags if there is a tag filter), "" for no tags.
 */
export function reference(records: UsageRecord[], q: UsageQuery): PlainRow[] {
  const from = floorHour(q.start);
  const to = ceilHour(q.end);
  const groupBy = [...new Set(q.groupBy)];
  const rows = new Map<string, { bucketStart: number; group: Record<string, string>; s: bigint[]; h: Map<number, number> }>();
  for (const r of records) {
    if (r.time < from || r.time >= to) continue;
    const tags = r.tags.length ? [...new Set(r.tags)] : [""];
    let ok = true;
    for (const f of q.filters) {
      if (f.dimension === "tag" ? !tags.some((t) => f.values.includes(t)) : !f.values.includes(dimValue(r, f.dimension))) ok = false;
    }
    if (!ok) continue;
    const bucket =
      q.granularity === "hour" ? floorHour(r.time) : q.granularity === "day" ? floorDay(r.time) : q.granularity === "month" ? floorMonth(r.time) : q.start;
    const tagFilter = q.filters.filter((f) => f.dimension === "tag");
    const expand = groupBy.includes("tag") ? tags.filter((t) => tagFilter.every((f) => f.values.includes(t))) : [""];
    const firstDep = r.attempts[0]?.deployment;
    const fallback = r.attempts.length > 0 && (r.deployment !== firstDep || r.attempts.some((a) => a.deployment !== firstDep));
    for (const tag of expand) {
      const group: Record<string, string> = {};
      for (const d of groupBy) group[d] = d === "tag" ? tag : dimValue(r, d);
      const id = `${bucket}|${JSON.stringify(groupBy.map((d) => group[d]))}`;
      let row = rows.get(id);
      if (!row) rows.set(id, (row = { bucketStart: bucket, group, s: new Array<bigint>(25).fill(0n), h: new Map() }));
      const lb = naiveLatencyBucket(Math.round(r.latencyMs));
      row.h.set(lb, (row.h.get(lb) ?? 0) + 1);
      const v = [
        1,
        r.status === "ok" ? 0 : 1,
        fallback ? 1 : 0,
        r.cacheHit ? 1 : 0,
        r.attempts.length,
        r.usage.inputTokens,
        r.usage.outputTokens,
        r.usage.cachedInputTokens,
        r.usage.cacheWriteTokens,
        r.usage.reasoningTokens,
        r.usage.inputTokens + r.usage.outputTokens,
        r.cost.total,
        r.cost.input,
        r.cost.cachedInput,
        r.cost.cacheWrite,
        r.cost.output,
        r.cost.reasoning,
        Math.round(r.latencyMs),
        r.ttftMs === undefined ? 0 : Math.round(r.ttftMs),
        r.ttftMs === undefined ? 0 : 1,
        r.usage.searchUnits ?? 0,
        r.usage.images?.count ?? 0,
        Math.round((r.usage.audioSeconds ?? 0) * 1000),
        r.usage.characters ?? 0,
        r.cost.request ?? 0,
      ];
      v.forEach((x, i) => (row.s[i] += BigInt(x)));
    }
  }
  const out = [...rows.values()].map(
    ({ bucketStart, group, s, h }): PlainRow => ({
      bucketStart,
      group,
      requests: Number(s[0]),
      failures: Number(s[1]),
      fallbacks: Number(s[2]),
      cacheHits: Number(s[3]),
      attempts: Number(s[4]),
      tokens: s.slice(5, 11).map(String),
      cost: s.slice(11, 17).map(String),
      latencyMsSum: String(s[17]),
      ttftMsSum: String(s[18]),
      ttftCount: Number(s[19]),
      units: [String(s[20]), String(s[21]), String(Number(s[22]) / 1000), String(s[23]), String(s[24])],
      latencyHist: [...h].sort((a, b) => a[0] - b[0]),
      p50LatencyMs: percentile(h, 0.5),
      p95LatencyMs: percentile(h, 0.95),
    }),
  );
  out.sort((a, b) => {
    if (a.bucketStart !== b.bucketStart) return a.bucketStart - b.bucketStart;
    for (const d of groupBy) if (a.group[d] !== b.group[d]) return a.group[d] < b.group[d] ? -1 : 1;
    return 0;
  });
  return out;
}
