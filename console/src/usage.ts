// Usage arithmetic shared by the overview and usage pages: time ranges, bucket grids for charts,
// totals of rows, and dimension names.

import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Dimension, Granularity, type UsageRow } from "@signalbox/client";
import { tsToMs } from "./format.ts";

export type RangeName = "1h" | "24h" | "7d" | "30d";
export const RANGE_MS: Record<RangeName, number> = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };
export const RANGE_OPTIONS: { value: RangeName; label: string }[] = [
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
];

/** Hourly buckets up to a week, daily beyond. */
export const granularityFor = (r: RangeName): Granularity => (RANGE_MS[r] <= RANGE_MS["7d"] ? Granularity.HOUR : Granularity.DAY);

/** A fixed window ending now; recomputed only when asked (a moving start would refetch forever). */
export interface Window {
  start: number;
  end: number;
}
export const windowFor = (r: RangeName, now = Date.now()): Window => ({ start: now - RANGE_MS[r], end: now });
export const windowInput = (w: Window) => ({ startTime: timestampFromMs(w.start), endTime: timestampFromMs(w.end) });

export const DIMENSIONS: { value: Dimension; name: string; label: string }[] = [
  { value: Dimension.TEAM, name: "team", label: "Team" },
  { value: Dimension.KEY, name: "key", label: "Key" },
  { value: Dimension.USER, name: "user", label: "User" },
  { value: Dimension.ROUTE, name: "route", label: "Route" },
  { value: Dimension.DEPLOYMENT, name: "deployment", label: "Deployment" },
  { value: Dimension.PROVIDER, name: "provider", label: "Provider" },
  { value: Dimension.VARIANT, name: "variant", label: "Variant" },
  { value: Dimension.TAG, name: "tag", label: "Tag" },
  { value: Dimension.STATUS, name: "status", label: "Status" },
  { value: Dimension.OPERATION, name: "operation", label: "Operation" },
];
export const dimensionName = (d: Dimension) => DIMENSIONS.find((x) => x.value === d)?.name ?? String(d);

export interface Totals {
  requests: number;
  failures: number;
  fallbacks: number;
  cacheHits: number;
  attempts: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costNanos: bigint;
  /** What the other operations bill by, and their per-request and per-unit charges. */
  images: number;
  audioSeconds: number;
  characters: number;
  searches: number;
  pages: number;
  requestCostNanos: bigint;
}

/** A row's (or the totals') units as one short label: "4 images · 2.6 s of audio · 88 characters · 1 search · 3 pages"; "" when none. */
export function unitsLabel(u: { images: number; audioSeconds: number; characters: number; searches: number; pages: number }): string {
  const parts: string[] = [];
  const n = (x: number, one: string, many: string) => `${x.toLocaleString("en-US")} ${x === 1 ? one : many}`;
  if (u.images) parts.push(n(u.images, "image", "images"));
  if (u.audioSeconds) parts.push(`${u.audioSeconds < 60 ? `${u.audioSeconds.toFixed(1)} s` : u.audioSeconds < 3600 ? `${(u.audioSeconds / 60).toFixed(1)} min` : `${(u.audioSeconds / 3600).toFixed(1)} h`} of audio`);
  if (u.characters) parts.push(n(u.characters, "character", "characters"));
  if (u.searches) parts.push(n(u.searches, "search", "searches"));
  if (u.pages) parts.push(n(u.pages, "page", "pages"));
  return parts.join(" · ");
}

/** A row's units (unitsLabel's input). */
export const rowUnits = (r: UsageRow) => ({
  images: Number(r.usage?.images ?? 0n),
  audioSeconds: r.usage?.audioSeconds ?? 0,
  characters: Number(r.usage?.characters ?? 0n),
  searches: Number(r.usage?.searchUnits ?? 0n),
  pages: Number(r.usage?.pages ?? 0n),
});

export function sumRows(rows: readonly UsageRow[]): Totals {
  const t: Totals = {
    requests: 0,
    failures: 0,
    fallbacks: 0,
    cacheHits: 0,
    attempts: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    costNanos: 0n,
    images: 0,
    audioSeconds: 0,
    characters: 0,
    searches: 0,
    pages: 0,
    requestCostNanos: 0n,
  };
  for (const r of rows) {
    t.requests += Number(r.requests);
    t.failures += Number(r.failures);
    t.fallbacks += Number(r.fallbacks);
    t.cacheHits += Number(r.cacheHits);
    t.attempts += Number(r.attempts);
    t.inputTokens += Number(r.usage?.inputTokens ?? 0n);
    t.outputTokens += Number(r.usage?.outputTokens ?? 0n);
    t.totalTokens += Number(r.usage?.totalTokens ?? 0n);
    t.costNanos += r.cost?.totalNanoUsd ?? 0n;
    const u = rowUnits(r);
    t.images += u.images;
    t.audioSeconds += u.audioSeconds;
    t.characters += u.characters;
    t.searches += u.searches;
    t.pages += u.pages;
    t.requestCostNanos += r.cost?.requestNanoUsd ?? 0n;
  }
  return t;
}

const STEP: Partial<Record<Granularity, number>> = { [Granularity.HOUR]: 3_600_000, [Granularity.DAY]: 86_400_000 };

/**
 * The chart's x values (epoch seconds): every bucket of the window, empty ones included, so a
 * quiet hour shows as zero rather than a line drawn across it; plus any bucket a row reports that
 * is not on that grid (months, or a store that aligns differently).
 */
export function bucketTimes(rows: readonly UsageRow[], w: Window, g: Granularity): number[] {
  const set = new Set<number>();
  const step = STEP[g];
  if (step) for (let t = Math.floor(w.start / step) * step; t < w.end; t += step) set.add(t);
  for (const r of rows) {
    const t = tsToMs(r.bucketStart);
    if (t !== undefined) set.add(t);
  }
  return [...set].sort((a, b) => a - b).map((t) => t / 1000);
}

/** One value per bucket time (null-free: empty buckets are 0), summed over the rows of each bucket. */
export function seriesOf(rows: readonly UsageRow[], times: number[], value: (r: UsageRow) => number, keep: (r: UsageRow) => boolean = () => true): number[] {
  const index = new Map(times.map((t, i) => [t, i]));
  const out = times.map(() => 0);
  for (const r of rows) {
    if (!keep(r)) continue;
    const i = index.get((tsToMs(r.bucketStart) ?? 0) / 1000);
    if (i !== undefined) out[i] += value(r);
  }
  return out;
}

/**
 * Like seriesOf, but for values that cannot be summed (latency): null in buckets without
 * requests, and where `value` gives null (a figure the store does not report).
 */
export function latencySeries(rows: readonly UsageRow[], times: number[], value: (r: UsageRow) => number | null): (number | null)[] {
  const index = new Map(times.map((t, i) => [t, i]));
  const out: (number | null)[] = times.map(() => null);
  for (const r of rows) {
    const i = index.get((tsToMs(r.bucketStart) ?? 0) / 1000);
    if (i !== undefined && Number(r.requests) > 0) out[i] = value(r);
  }
  return out;
}

/** A group's label, e.g. "search · default". */
export const groupLabel = (r: UsageRow, dims: string[]) => dims.map((d) => r.group[d] || "(none)").join(" · ") || "all";
