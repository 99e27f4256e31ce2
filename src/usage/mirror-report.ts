// UsageService.GetMirrorReport: a route's requests against their mirrors (src/engine/mirror.ts),
// summed up from the mirrors' usage records. Each mirror's record carries, in its metadata, how the
// request it copies ended (status, deployment, latency, output tokens, cost) and how alike the two
// answers were, so one list query (tag "mirror", newest first, the caller's scope) holds both sides
// of every pair, from any usage store: memory, Redis or PostgreSQL.

import { MIRROR_META, MIRROR_TAG } from "../engine/mirror.ts";
import { GatewayError } from "../router/errors.ts";
import type { UsageRecord } from "./record.ts";
import type { UsageFilter, UsageStore } from "./store.ts";

/** Most mirror records one report reads (the newest). */
export const MIRROR_REPORT_MAX_RECORDS = 10_000;
const DEFAULT_RANGE_MS = 86_400_000;

export interface SideSummary {
  ok: number;
  failed: number;
  p50LatencyMs: number;
  p95LatencyMs: number;
  p50TtftMs: number;
  outputTokens: number;
  costNanos: number;
  deployments: Record<string, number>;
}

export interface MirrorPairRow {
  requestId: string;
  mirrorRequestId: string;
  similarity: number;
  time: number;
  mirrorTraceId: string;
  verdict: string;
  verdictReason: string;
  semanticSimilarity?: number;
}

export interface MirrorSummaryRow {
  route: string;
  target: string;
  count: number;
  primary: SideSummary;
  mirror: SideSummary;
  compared: number;
  meanSimilarity: number;
  mirrorFailedOnly: number;
  mirrorAnsweredOnly: number;
  leastAlike: MirrorPairRow[];
  judged: number;
  mirrorBetter: number;
  routeBetter: number;
  ties: number;
  routeBetterPairs: MirrorPairRow[];
  semanticCompared: number;
  meanSemanticSimilarity: number;
}

export interface MirrorReport {
  summaries: MirrorSummaryRow[];
  recordsRead: number;
  truncated: boolean;
}

interface Side {
  status: string;
  deployment: string;
  latencyMs: number;
  ttftMs?: number;
  outputTokens: number;
  costNanos: number;
}

const num = (v: string | undefined) => {
  const n = Number(v);
  return v !== undefined && v !== "" && Number.isFinite(n) ? n : undefined;
};

function primaryOf(r: UsageRecord): Side {
  const m = r.metadata;
  return {
    status: m[MIRROR_META.primaryStatus] ?? "",
    deployment: m[MIRROR_META.primaryDeployment] ?? "",
    latencyMs: num(m[MIRROR_META.primaryLatencyMs]) ?? 0,
    ...(num(m[MIRROR_META.primaryTtftMs]) !== undefined ? { ttftMs: num(m[MIRROR_META.primaryTtftMs]) } : {}),
    outputTokens: num(m[MIRROR_META.primaryOutputTokens]) ?? 0,
    costNanos: num(m[MIRROR_META.primaryCostNanos]) ?? 0,
  };
}

const mirrorOf = (r: UsageRecord): Side => ({
  status: r.status,
  deployment: r.deployment,
  latencyMs: r.latencyMs,
  ...(r.ttftMs !== undefined && r.streamed ? { ttftMs: r.ttftMs } : {}),
  outputTokens: r.usage.outputTokens,
  costNanos: r.cost.total,
});

/** The value at quantile q of sorted values (nearest rank), 0 when there are none. */
function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function summarise(sides: Side[]): SideSummary {
  const ok = sides.filter((s) => s.status === "ok");
  const latency = ok.map((s) => s.latencyMs).sort((a, b) => a - b);
  const ttft = ok.flatMap((s) => (s.ttftMs !== undefined ? [s.ttftMs] : [])).sort((a, b) => a - b);
  const deployments: Record<string, number> = {};
  for (const s of ok) if (s.deployment) deployments[s.deployment] = (deployments[s.deployment] ?? 0) + 1;
  return {
    ok: ok.length,
    failed: sides.length - ok.length,
    p50LatencyMs: quantile(latency, 0.5),
    p95LatencyMs: quantile(latency, 0.95),
    p50TtftMs: quantile(ttft, 0.5),
    outputTokens: sides.reduce((t, s) => t + s.outputTokens, 0),
    costNanos: sides.reduce((t, s) => t + s.costNanos, 0),
    deployments,
  };
}

/** Summaries by route and target from mirror records (any order). */
export function summariseMirrors(records: UsageRecord[], leastAlike: number): MirrorSummaryRow[] {
  const groups = new Map<string, UsageRecord[]>();
  for (const r of records) {
    const k = `${r.metadata[MIRROR_META.route] ?? ""}\u0000${r.model}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const rows = [...groups.values()].map((g): MirrorSummaryRow => {
    const primaries = g.map(primaryOf);
    const mirrors = g.map(mirrorOf);
    const pairs: MirrorPairRow[] = [];
    for (const r of g) {
      const sim = num(r.metadata[MIRROR_META.similarity]);
      if (sim === undefined || r.status !== "ok") continue;
      pairs.push({
        requestId: r.metadata[MIRROR_META.of] ?? "",
        mirrorRequestId: r.id,
        similarity: sim,
        time: r.time,
        mirrorTraceId: r.traceId,
        verdict: r.metadata[MIRROR_META.verdict] ?? "",
        verdictReason: r.metadata[MIRROR_META.verdictReason] ?? "",
        ...(num(r.metadata[MIRROR_META.semanticSimilarity]) !== undefined ? { semanticSimilarity: num(r.metadata[MIRROR_META.semanticSimilarity]) } : {}),
      });
    }
    const verdicts = { mirror: 0, route: 0, tie: 0, judged: 0 };
    for (const p of pairs) {
      if (!p.verdict) continue;
      verdicts.judged++;
      if (p.verdict === "mirror" || p.verdict === "route" || p.verdict === "tie") verdicts[p.verdict]++;
    }
    const routeBetterPairs = pairs.filter((p) => p.verdict === "route").sort((a, b) => b.time - a.time).slice(0, leastAlike);
    // Least alike first: by meaning where it was compared, else by words.
    const alike = (p: MirrorPairRow) => p.semanticSimilarity ?? p.similarity;
    pairs.sort((a, b) => alike(a) - alike(b) || b.time - a.time);
    const semantic = pairs.flatMap((p) => (p.semanticSimilarity !== undefined ? [p.semanticSimilarity] : []));
    let failedOnly = 0;
    let answeredOnly = 0;
    g.forEach((_, i) => {
      const p = primaries[i].status === "ok";
      const m = mirrors[i].status === "ok";
      if (p && !m) failedOnly++;
      if (!p && m) answeredOnly++;
    });
    return {
      route: g[0].metadata[MIRROR_META.route] ?? "",
      target: g[0].model,
      count: g.length,
      primary: summarise(primaries),
      mirror: summarise(mirrors),
      compared: pairs.length,
      meanSimilarity: pairs.length ? Number((pairs.reduce((t, p) => t + p.similarity, 0) / pairs.length).toFixed(4)) : 0,
      mirrorFailedOnly: failedOnly,
      mirrorAnsweredOnly: answeredOnly,
      leastAlike: pairs.slice(0, leastAlike),
      judged: verdicts.judged,
      mirrorBetter: verdicts.mirror,
      routeBetter: verdicts.route,
      ties: verdicts.tie,
      routeBetterPairs,
      semanticCompared: semantic.length,
      meanSemanticSimilarity: semantic.length ? Number((semantic.reduce((t, v) => t + v, 0) / semantic.length).toFixed(4)) : 0,
    };
  });
  return rows.sort((a, b) => a.route.localeCompare(b.route) || a.target.localeCompare(b.target));
}

/**
 * The report over [start, end) (default the last 24 hours): the newest mirror records the filters
 * (the caller's scope) admit, up to MIRROR_REPORT_MAX_RECORDS, one route's or every route's.
 */
export async function mirrorReport(store: UsageStore, q: { start?: number; end?: number; route?: string; leastAlike?: number; filters: UsageFilter[]; now: number }): Promise<MirrorReport> {
  const end = q.end ?? q.now;
  const start = q.start ?? end - DEFAULT_RANGE_MS;
  if (end <= start) throw new GatewayError("invalid_argument", "end_time: must be after start_time", { field: "end_time" });
  const leastAlike = q.leastAlike ?? 5;
  if (!Number.isInteger(leastAlike) || leastAlike < 0 || leastAlike > 50) throw new GatewayError("invalid_argument", "least_alike: 0 to 50", { field: "least_alike" });
  const filters: UsageFilter[] = [...q.filters, { dimension: "tag", values: [MIRROR_TAG] }];
  const records: UsageRecord[] = [];
  let read = 0;
  let truncated = false;
  let pageToken: string | undefined;
  do {
    const page = await store.list({ start, end, filters, pageSize: 1000, pageToken });
    for (const r of page.records) {
      // A record tagged "mirror" by its caller, not by the gateway, has no mirror_of: not a mirror.
      if (r.metadata[MIRROR_META.of] === undefined) continue;
      if (q.route && r.metadata[MIRROR_META.route] !== q.route) continue;
      if (read >= MIRROR_REPORT_MAX_RECORDS) {
        truncated = true;
        break;
      }
      read++;
      records.push(r);
    }
    pageToken = page.nextPageToken || undefined;
  } while (pageToken && !truncated);
  return { summaries: summariseMirrors(records, leastAlike), recordsRead: read, truncated };
}
