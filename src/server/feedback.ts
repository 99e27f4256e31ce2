// Scoring an answered request, for both doors (UsageService.SubmitFeedback and POST /v1/feedback):
// the request is found in the usage store within what the caller may read (a team key its team's
// requests, a service key its own), so a score can only be given to a request the caller could
// see, and is kept with that request's dimensions (src/control/feedback.ts).

import { checkFeedback, DEFAULT_FEEDBACK_DAYS, feedbackOf, isFeedbackDimension, type FeedbackInput } from "../control/feedback.ts";
import type { FeedbackDimension, FeedbackQuery, FeedbackRecord, FeedbackRow } from "../control/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import type { UsageRecord } from "../usage/record.ts";
import type { UsageFilter, UsageStore } from "../usage/store.ts";
import { authorizeUsageFilters } from "./usage-service.ts";
import { traceIdOfText } from "./context.ts";

export interface FeedbackDeps {
  usage?: UsageStore;
  control: { putFeedback(f: FeedbackRecord): Promise<void>; feedbackSummary(q: FeedbackQuery): Promise<FeedbackRow[]>; feedbackFor(requestId: string): Promise<FeedbackRecord[]>; feedbackById(id: string): Promise<FeedbackRecord | undefined> };
  now?: () => number;
  /**
   * How long a score waits for its request's usage record: a shared store (Redis, PostgreSQL) is
   * written in batches off the response path, maybe by another replica. Default 2 s; the gateway
   * gives the in-memory store, which has a record as its answer ends, a quarter of a second.
   */
  findWithinMs?: number;
  /** Told of every score given or changed, with the request's record when it was just read (the usage exports send it to Langfuse). */
  onFeedback?: (f: FeedbackRecord, record: UsageRecord | undefined) => void;
}

/**
 * The usage record with this request id (or the latest of this trace) that the caller may read.
 * A shared store is written in batches off the response path, maybe by another replica: it is
 * waited for (findWithinMs) before the answer is "none".
 */
export async function findReadable(d: FeedbackDeps, caller: Caller, q: { id?: string; traceId?: string }): Promise<UsageRecord | undefined> {
  if (!d.usage) return undefined;
  const filters = authorizeUsageFilters(caller, []);
  const deadline = Date.now() + (d.findWithinMs ?? 2_000);
  for (;;) {
    const record = await d.usage.get({ ...q, filters });
    if (record || Date.now() >= deadline) return record;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Score a request; `names`: how the door spells the fields, for errors. */
export async function submitFeedback(d: FeedbackDeps, caller: Caller, input: FeedbackInput, names = { requestId: "request_id", traceId: "trace_id", value: "value", weight: "weight", metadata: "metadata" }): Promise<FeedbackRecord> {
  const f = checkFeedback(input, names);
  if (!d.usage) throw new GatewayError("failed_precondition", "feedback needs the usage store, which finds the request scored");
  // A trace id of the caller's own naming (Portkey's x-portkey-trace-id) stands for the W3C id it was hashed to.
  const record = await findReadable(d, caller, { id: f.requestId, traceId: f.traceId === undefined ? undefined : traceIdOfText(f.traceId) });
  if (!record) {
    const field = f.requestId ? names.requestId : names.traceId;
    throw new GatewayError("not_found", `${field}: no request ${f.requestId ? `"${f.requestId}"` : `with trace ${f.traceId}`} that this key may read`, { field });
  }
  const rec = feedbackOf(record, caller, f, (d.now ?? Date.now)());
  await d.control.putFeedback(rec);
  d.onFeedback?.(rec, record);
  return rec;
}

/**
 * Change a score by its id (Portkey's PUT /feedback/{id}): its value, and its weight and metadata
 * when given (else kept). Only the key that gave it (or an admin key) may; any other is told the
 * score does not exist.
 */
export async function updateFeedback(d: FeedbackDeps, caller: Caller, id: string, input: { value: unknown; weight?: unknown; metadata?: unknown }): Promise<FeedbackRecord> {
  const before = await d.control.feedbackById(id);
  if (!before || (before.by !== caller.keyName && caller.role !== "admin")) throw new GatewayError("not_found", `feedback_id: no score "${id}" given by this key`, { field: "feedback_id" });
  const f = checkFeedback({ requestId: before.requestId, value: input.value, weight: input.weight ?? before.weight, metadata: input.metadata ?? before.metadata }, { requestId: "request_id", traceId: "trace_id", value: "value", weight: "weight", metadata: "metadata" });
  const after: FeedbackRecord = { ...before, value: f.value, weight: f.weight, metadata: f.metadata, time: (d.now ?? Date.now)() };
  await d.control.putFeedback(after);
  d.onFeedback?.(after, undefined);
  return after;
}

/** Scores over a range, grouped; a team key sees its team's, a service key its own key's requests' scores. */
export async function feedbackSummary(d: FeedbackDeps, caller: Caller, q: { start?: number; end?: number; groupBy: string[]; filters: UsageFilter[] }): Promise<FeedbackRow[]> {
  // Without an end, up to now inclusive (ranges end before their end): a score given this millisecond counts.
  const end = q.end ?? (d.now ?? Date.now)() + 1;
  const start = q.start ?? end - DEFAULT_FEEDBACK_DAYS * 86_400_000;
  if (end <= start) throw new GatewayError("invalid_argument", "end_time: must be after start_time", { field: "end_time" });
  q.groupBy.forEach((g, i) => {
    if (!isFeedbackDimension(g)) throw new GatewayError("invalid_argument", `group_by[${i}]: feedback is grouped by key, team, user, route, deployment, provider or variant, not ${g}`, { field: `group_by[${i}]` });
  });
  const filters = authorizeUsageFilters(caller, q.filters);
  filters.forEach((f, i) => {
    if (!isFeedbackDimension(f.dimension)) throw new GatewayError("invalid_argument", `filters[${i}].dimension: feedback is filtered by key, team, user, route, deployment, provider or variant, not ${f.dimension}`, { field: `filters[${i}].dimension` });
  });
  return d.control.feedbackSummary({ start, end, groupBy: q.groupBy as FeedbackDimension[], filters: filters as FeedbackQuery["filters"] });
}
