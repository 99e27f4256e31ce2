// Feedback: a score an answered request's user gave it (UsageService.SubmitFeedback and Portkey's
// POST /v1/feedback), kept in the control store (memory, or PostgreSQL) with the request's own
// dimensions (key, team, user, route, deployment, provider, variant, model), read from its usage
// record when it is scored, so GetFeedbackSummary compares variants, deployments and routes by
// what their users thought, without a join. Off the request path: scoring is its own call.

import { createHash } from "node:crypto";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import type { UsageRecord } from "../usage/record.ts";
import { FEEDBACK_DIMENSIONS, type FeedbackDimension, type FeedbackQuery, type FeedbackRecord, type FeedbackRow } from "./types.ts";

export const MIN_FEEDBACK_VALUE = -10;
export const MAX_FEEDBACK_VALUE = 10;
const MAX_METADATA = 16;
const MAX_METADATA_CHARS = 1024;
/** A summary's range when none is given. */
export const DEFAULT_FEEDBACK_DAYS = 30;

/** One id per (request, key that scored it): scoring again replaces the score. */
export const feedbackId = (requestId: string, by: string) => `fb_${createHash("sha256").update(`${requestId}\n${by}`).digest("base64url").slice(0, 22)}`;

export interface FeedbackInput {
  requestId?: string;
  traceId?: string;
  value: unknown;
  weight?: unknown;
  metadata?: unknown;
}

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });

/** The input checked, naming the field (`names` maps the request's own spellings of them). */
export function checkFeedback(input: FeedbackInput, names: { requestId: string; traceId: string; value: string; weight: string; metadata: string }): { requestId?: string; traceId?: string; value: number; weight: number; metadata: Record<string, string> } {
  const { requestId, traceId } = input;
  if (!requestId && !traceId) throw bad(names.traceId, `give ${names.requestId} or ${names.traceId}: the request scored`);
  if (requestId && traceId) throw bad(names.traceId, `give ${names.requestId} or ${names.traceId}, not both`);
  const value = input.value;
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_FEEDBACK_VALUE || value > MAX_FEEDBACK_VALUE) {
    throw bad(names.value, `must be an integer from ${MIN_FEEDBACK_VALUE} to ${MAX_FEEDBACK_VALUE}, got ${JSON.stringify(value)}`);
  }
  const weight = input.weight ?? 1;
  if (typeof weight !== "number" || !(weight >= 0 && weight <= 1)) throw bad(names.weight, `must be a number from 0 to 1, got ${JSON.stringify(weight)}`);
  const metadata: Record<string, string> = {};
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== "object" || Array.isArray(input.metadata)) throw bad(names.metadata, "must be an object of strings");
    const entries = Object.entries(input.metadata as Record<string, unknown>);
    if (entries.length > MAX_METADATA) throw bad(names.metadata, `at most ${MAX_METADATA} entries`);
    for (const [k, v] of entries) {
      if (typeof v !== "string") throw bad(`${names.metadata}.${k}`, "must be a string");
      if (k.length + v.length > MAX_METADATA_CHARS) throw bad(`${names.metadata}.${k}`, `at most ${MAX_METADATA_CHARS} characters`);
      metadata[k] = v;
    }
  }
  return { ...(requestId ? { requestId } : {}), ...(traceId ? { traceId } : {}), value, weight, metadata };
}

/** The record of a score for `r`, given by `caller`. */
export function feedbackOf(r: UsageRecord, caller: Caller, f: { value: number; weight: number; metadata: Record<string, string> }, now: number): FeedbackRecord {
  return {
    id: feedbackId(r.id, caller.keyName),
    time: now,
    requestId: r.id,
    traceId: r.traceId,
    key: r.key,
    team: r.team,
    user: r.user,
    route: r.routing.route,
    deployment: r.deployment,
    provider: r.provider,
    variant: r.routing.variant,
    model: r.model,
    value: f.value,
    weight: f.weight,
    metadata: f.metadata,
    by: caller.keyName,
  };
}

/** Count and average scores by group (the memory store's summary; PostgreSQL does the same in SQL). */
export function summarizeFeedback(all: Iterable<FeedbackRecord>, q: FeedbackQuery): FeedbackRow[] {
  const groups = new Map<string, FeedbackRow & { sum: number; wsum: number; weights: number }>();
  for (const f of all) {
    if (f.time < q.start || f.time >= q.end) continue;
    if (!q.filters.every((x) => x.values.includes(f[x.dimension]))) continue;
    const group: Partial<Record<FeedbackDimension, string>> = {};
    for (const d of q.groupBy) group[d] = f[d];
    const k = JSON.stringify(q.groupBy.map((d) => f[d]));
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { group, count: 0, positive: 0, negative: 0, meanValue: 0, weightedMeanValue: 0, sum: 0, wsum: 0, weights: 0 }));
    g.count++;
    if (f.value > 0) g.positive++;
    if (f.value < 0) g.negative++;
    g.sum += f.value;
    g.wsum += f.value * f.weight;
    g.weights += f.weight;
  }
  return [...groups.values()]
    .map(({ sum, wsum, weights, ...row }) => ({ ...row, meanValue: sum / row.count, weightedMeanValue: weights > 0 ? wsum / weights : 0 }))
    .sort((a, b) => b.count - a.count);
}

export const isFeedbackDimension = (d: string): d is FeedbackDimension => (FEEDBACK_DIMENSIONS as readonly string[]).includes(d);
