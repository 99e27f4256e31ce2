// UsageService.GetUsage, ListRequests and GetRequest over the usage store. Every request is
// validated first; then the caller's role decides what it may see (authorizeUsageFilters): admin
// and anonymous (auth off, single tenant) see everything, a team key its own team, a service key
// its own key.
// GetBudget is answered by budget-service.ts (here it stays unimplemented).

import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { Dimension as PbDimension, Granularity as PbGranularity } from "../../gen/signalbox/v1/common_pb.ts";
import {
  GetFeedbackSummaryResponseSchema,
  SubmitFeedbackResponseSchema,
  type GetFeedbackSummaryRequest,
  type SubmitFeedbackRequest,
  GetRequestResponseSchema,
  GetUsageResponseSchema,
  ListRequestsResponseSchema,
  RequestRecordSchema,
  UsageRowSchema,
  type DimensionFilter,
  type GetRequestRequest,
  type GetUsageRequest,
  type ListRequestsRequest,
  type RequestRecord,
  type UsageRow as PbUsageRow,
  type UsageService,
  GetMirrorReportResponseSchema,
  type GetMirrorReportRequest,
} from "../../gen/signalbox/v1/usage_pb.ts";
import { mirrorReport, type MirrorPairRow, type SideSummary } from "../usage/mirror-report.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import type { UsageRecord } from "../usage/record.ts";
import type { Dimension, Granularity, UsageFilter, UsageRow, UsageStore } from "../usage/store.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey } from "./context.ts";
import { attemptToPb, costToPb, estimatedParts, FAILURE_TO_PB, finishToPb, usageToPb } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { feedbackSummary, submitFeedback, type FeedbackDeps } from "./feedback.ts";
import { OPERATION_TO_PB } from "./route-service.ts";
import { validateGetBudget, validateGetRequest, validateGetUsage, validateListRequests } from "./validate.ts";

export const DIMENSION_NAME: Record<number, Dimension> = {
  [PbDimension.KEY]: "key",
  [PbDimension.TEAM]: "team",
  [PbDimension.USER]: "user",
  [PbDimension.ROUTE]: "route",
  [PbDimension.DEPLOYMENT]: "deployment",
  [PbDimension.PROVIDER]: "provider",
  [PbDimension.VARIANT]: "variant",
  [PbDimension.TAG]: "tag",
  [PbDimension.STATUS]: "status",
  [PbDimension.OPERATION]: "operation",
};

const GRANULARITY: Record<number, Granularity> = {
  [PbGranularity.UNSPECIFIED]: "total",
  [PbGranularity.HOUR]: "hour",
  [PbGranularity.DAY]: "day",
  [PbGranularity.MONTH]: "month",
  [PbGranularity.TOTAL]: "total",
};

const denied = (message: string) => new GatewayError("permission_denied", message);
const badDimension = (field: string): never => {
  throw new GatewayError("invalid_argument", `${field}: a dimension is required`, { field });
};

/**
 * The filters a caller's usage query runs with. Admin and anonymous callers (auth off: one
 * tenant) see everything. A team key sees only its team: a team filter is added, and a filter
 * naming another team is permission_denied (grouping by team then yields its own team only). A
 * service key sees only its own key's records, the same way with the key dimension.
 */
export function authorizeUsageFilters(caller: Caller, filters: UsageFilter[]): UsageFilter[] {
  const pin = (dimension: "team" | "key", own: string, what: string) => {
    for (const f of filters) {
      const other = f.dimension === dimension ? f.values.find((v) => v !== own) : undefined;
      if (other !== undefined) throw denied(`filters: ${caller.role} key "${caller.keyName}" may only read the usage of its own ${what} ("${own}"), not "${other}"`);
    }
    return [...filters, { dimension, values: [own] }];
  };
  switch (caller.role) {
    case "admin":
    case "anonymous":
      return filters;
    case "team":
      return pin("team", caller.team, "team");
    case "service":
      return pin("key", caller.keyName, "key");
    default:
      throw denied(`keys with role "${String((caller as { role: unknown }).role)}" may not read usage`);
  }
}

const tsMs = (t: Timestamp | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);
const filtersOf = (fs: DimensionFilter[]): UsageFilter[] => fs.map((f) => ({ dimension: DIMENSION_NAME[f.dimension], values: [...f.values] }));
const u32 = (n: number | undefined) => Math.max(0, Math.min(0xffffffff, Math.round(n ?? 0)));

export function rowToPb(r: UsageRow): PbUsageRow {
  return create(UsageRowSchema, {
    bucketStart: timestampFromMs(r.bucketStart),
    group: r.group as Record<string, string>,
    requests: BigInt(r.requests),
    failures: BigInt(r.failures),
    fallbacks: BigInt(r.fallbacks),
    cacheHits: BigInt(r.cacheHits),
    attempts: BigInt(r.attempts),
    usage: { ...r.usage },
    cost: {
      totalNanoUsd: r.cost.total,
      inputNanoUsd: r.cost.input,
      cachedInputNanoUsd: r.cost.cachedInput,
      cacheWriteNanoUsd: r.cost.cacheWrite,
      outputNanoUsd: r.cost.output,
      reasoningNanoUsd: r.cost.reasoning,
      requestNanoUsd: r.cost.request,
    },
    meanLatencyMs: r.meanLatencyMs,
    meanTtftMs: r.meanTtftMs,
    p50LatencyMs: r.p50LatencyMs,
    p95LatencyMs: r.p95LatencyMs,
  });
}

const pairToPb = (p: MirrorPairRow) => ({ requestId: p.requestId, mirrorRequestId: p.mirrorRequestId, similarity: p.similarity, time: timestampFromMs(p.time), mirrorTraceId: p.mirrorTraceId, verdict: p.verdict, verdictReason: p.verdictReason, ...(p.semanticSimilarity !== undefined ? { semanticSimilarity: p.semanticSimilarity } : {}) });

export function recordToPb(r: UsageRecord): RequestRecord {
  return create(RequestRecordSchema, {
    id: r.id,
    time: timestampFromMs(r.time),
    key: r.key,
    team: r.team,
    user: r.user,
    model: r.model,
    routing: { ...r.routing },
    deployment: r.deployment,
    provider: r.provider,
    attempts: r.attempts.map(attemptToPb),
    usage: usageToPb(r.usage, r.usageEstimated, estimatedParts(r.attempts)),
    cost: costToPb(r.cost),
    timing: { latencyMs: u32(r.latencyMs), ttftMs: r.ttftMs === undefined ? undefined : u32(r.ttftMs), overheadUs: u32(r.overheadUs) },
    cacheHit: r.cacheHit,
    cacheKind: r.cacheKind ?? "",
    status: r.status,
    failureKind: r.failureKind ? FAILURE_TO_PB[r.failureKind] : 0,
    traceId: r.traceId,
    tags: [...r.tags],
    metadata: { ...r.metadata },
    streamed: r.streamed,
    finishReason: finishToPb(r.finishReason),
    adjustments: r.adjustments ?? [],
    operation: OPERATION_TO_PB[r.operation ?? "chat"],
  });
}

export interface UsageServiceDeps {
  /** Without a store, GetUsage and ListRequests answer unimplemented (after validation). */
  store?: UsageStore;
  now?: () => number;
  /** Where feedback is kept (the control store); without it, SubmitFeedback and GetFeedbackSummary are unimplemented. */
  feedback?: FeedbackDeps["control"];
  findWithinMs?: number;
  onFeedback?: FeedbackDeps["onFeedback"];
}

const notYet = (rpc: string) =>
  new ConnectError(`${rpc} is not implemented yet: usage queries arrive with the usage store (keys, usage, budgets and rate limits)`, Code.Unimplemented);

export function usageService(core: UsageServiceDeps = {}): Partial<ServiceImpl<typeof UsageService>> {
  const now = core.now ?? Date.now;
  const handle =
    <Req, Res>(rpc: string, validate: (r: Req) => void, serve?: (r: Req, caller: Caller, store: UsageStore) => Promise<Res>) =>
    async (req: Req, ctx: HandlerContext): Promise<Res> => {
      try {
        validate(req);
        if (!serve || !core.store) throw notYet(rpc);
        return await serve(req, ctx.values.get(callerKey), core.store);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ctx.values.get(requestInfoKey)?.traceId ?? "");
      }
    };

  return {
    getUsage: handle("GetUsage", validateGetUsage, async (req: GetUsageRequest, caller, store) => {
      const res = await store.query({
        start: tsMs(req.startTime)!,
        // Until now, the present millisecond included (a request recorded in it is counted).
        end: tsMs(req.endTime) ?? now() + 1,
        granularity: GRANULARITY[req.granularity],
        groupBy: req.groupBy.map((d) => DIMENSION_NAME[d]),
        filters: authorizeUsageFilters(caller, filtersOf(req.filters)),
      });
      return create(GetUsageResponseSchema, { rows: res.rows.map(rowToPb), droppedRecords: BigInt(res.dropped) });
    }),
    listRequests: handle("ListRequests", validateListRequests, async (req: ListRequestsRequest, caller, store) => {
      const res = await store.list({
        start: tsMs(req.startTime),
        end: tsMs(req.endTime),
        filters: authorizeUsageFilters(caller, filtersOf(req.filters)),
        pageSize: req.pageSize || undefined,
        pageToken: req.pageToken || undefined,
        traceId: req.traceId || undefined,
      });
      return create(ListRequestsResponseSchema, { records: res.records.map(recordToPb), nextPageToken: res.nextPageToken });
    }),
    // Scoped like ListRequests; a record outside the caller's scope is not_found (its existence is not revealed).
    getRequest: handle("GetRequest", validateGetRequest, async (req: GetRequestRequest, caller, store) => {
      const record = await store.get({ id: req.id || undefined, traceId: req.traceId || undefined, filters: authorizeUsageFilters(caller, []) });
      if (!record) {
        throw new GatewayError("not_found", req.id ? `id: no request record "${req.id}"` : `trace_id: no request record for trace ${req.traceId}`, {
          field: req.id ? "id" : "trace_id",
        });
      }
      // The record is the answer; its scores come from the control store, and a control store that
      // is away costs them, not the record.
      const feedback = core.feedback ? await core.feedback.feedbackFor(record.id).catch(() => []) : [];
      return create(GetRequestResponseSchema, {
        record: recordToPb(record),
        feedback: feedback.map((f) => ({ feedbackId: f.id, value: f.value, weight: f.weight, metadata: f.metadata, givenBy: f.by, time: timestampFromMs(f.time) })),
      });
    }),
    getMirrorReport: handle("GetMirrorReport", () => {}, async (req: GetMirrorReportRequest, caller, store) => {
      const r = await mirrorReport(store, {
        start: tsMs(req.startTime),
        end: tsMs(req.endTime),
        route: req.route || undefined,
        leastAlike: req.leastAlike,
        filters: authorizeUsageFilters(caller, []),
        now: now(),
      });
      const side = (s: SideSummary) => ({
        ok: BigInt(s.ok),
        failed: BigInt(s.failed),
        p50LatencyMs: s.p50LatencyMs,
        p95LatencyMs: s.p95LatencyMs,
        p50TtftMs: s.p50TtftMs,
        outputTokens: BigInt(s.outputTokens),
        costNanoUsd: BigInt(s.costNanos),
        deployments: Object.fromEntries(Object.entries(s.deployments).map(([k, v]) => [k, BigInt(v)])),
      });
      return create(GetMirrorReportResponseSchema, {
        summaries: r.summaries.map((m) => ({
          route: m.route,
          target: m.target,
          count: BigInt(m.count),
          primary: side(m.primary),
          mirror: side(m.mirror),
          compared: BigInt(m.compared),
          meanSimilarity: m.meanSimilarity,
          mirrorFailedOnly: BigInt(m.mirrorFailedOnly),
          mirrorAnsweredOnly: BigInt(m.mirrorAnsweredOnly),
          leastAlike: m.leastAlike.map(pairToPb),
          judged: BigInt(m.judged),
          mirrorBetter: BigInt(m.mirrorBetter),
          routeBetter: BigInt(m.routeBetter),
          ties: BigInt(m.ties),
          routeBetterPairs: m.routeBetterPairs.map(pairToPb),
          semanticCompared: BigInt(m.semanticCompared),
          meanSemanticSimilarity: m.meanSemanticSimilarity,
        })),
        recordsRead: BigInt(r.recordsRead),
        truncated: r.truncated,
      });
    }),
    getBudget: handle("GetBudget", validateGetBudget),
    submitFeedback: async (req: SubmitFeedbackRequest, ctx: HandlerContext) => {
      try {
        if (!core.feedback) throw notYet("SubmitFeedback");
        const f = await submitFeedback({ usage: core.store, control: core.feedback, now, findWithinMs: core.findWithinMs, onFeedback: core.onFeedback }, ctx.values.get(callerKey), {
          requestId: req.requestId || undefined,
          traceId: req.traceId || undefined,
          value: req.value,
          weight: req.weight,
          metadata: req.metadata,
        });
        return create(SubmitFeedbackResponseSchema, { feedbackId: f.id, requestId: f.requestId });
      } catch (err) {
        throw toConnectError(err, ctx.signal, ctx.values.get(requestInfoKey)?.traceId ?? "");
      }
    },
    getFeedbackSummary: async (req: GetFeedbackSummaryRequest, ctx: HandlerContext) => {
      try {
        if (!core.feedback) throw notYet("GetFeedbackSummary");
        const rows = await feedbackSummary({ usage: core.store, control: core.feedback, now }, ctx.values.get(callerKey), {
          start: tsMs(req.startTime),
          end: tsMs(req.endTime),
          groupBy: req.groupBy.map((g, i) => DIMENSION_NAME[g] ?? badDimension(`group_by[${i}]`)),
          filters: req.filters.map((f, i) => ({ dimension: DIMENSION_NAME[f.dimension] ?? badDimension(`filters[${i}].dimension`), values: [...f.values] })),
        });
        return create(GetFeedbackSummaryResponseSchema, { rows: rows.map((r) => ({ group: r.group as Record<string, string>, count: BigInt(r.count), positive: BigInt(r.positive), negative: BigInt(r.negative), meanValue: r.meanValue, weightedMeanValue: r.weightedMeanValue })) });
      } catch (err) {
        throw toConnectError(err, ctx.signal, ctx.values.get(requestInfoKey)?.traceId ?? "");
      }
    },
  };
}
