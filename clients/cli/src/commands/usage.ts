// `signalbox usage`, `requests`, `request <id>` and `budget`: UsageService, read-only.

import { toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Command, InvalidArgumentError } from "commander";
import {
  AttemptOutcomeSchema,
  BudgetPeriodSchema,
  DimensionSchema,
  FailureKindSchema,
  FinishReasonSchema,
  GetBudgetResponseSchema,
  GetUsageResponseSchema,
  GranularitySchema,
  ListRequestsResponseSchema,
  RequestRecordSchema,
  ScopeSchema,
  type Attempt,
  type BudgetStatus,
  type DimensionFilter,
  type Feedback,
  type RateLimitStatus,
  type RequestRecord,
  type SignalboxClient,
  type UsageRow,
  Code,
  SignalboxError,
} from "@signalbox/client";
import { failure, setup, traceLink, usageError } from "../context.ts";
import { audioLength, count, dollars, enumLabel, enumValue, listOf, ms, rfc3339, time, usd } from "../format.ts";
import { type Column, csv, fields, json, out, section, table, waiting } from "../output.ts";
import { parseChoice, parseCount, parseFilter, parseList, parsePastTime } from "../parse.ts";

const DIMENSIONS = ["key", "team", "user", "route", "deployment", "provider", "variant", "tag", "status", "operation"] as const;
/** What a record's operation may be (the usage store's names). */
const OPERATIONS = ["chat", "embeddings", "rerank", "images", "transcription", "speech", "moderation", "tool_call", "realtime", "passthrough", "search", "ocr"] as const;
const GRANULARITIES = ["hour", "day", "month", "total"] as const;
/** Every Connect code a request can end with; "error" is all but "ok". */
const STATUSES = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
  "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
] as const;
/** ListRequests pages hold at most this many records. */
const MAX_PAGE = 1000;

const dimension = (word: string) => enumValue(DimensionSchema, word);
const filterOf = (dim: string, values: string[]): DimensionFilter => ({ $typeName: "signalbox.v1.DimensionFilter", dimension: dimension(dim), values });

export function usageCommands(program: Command): void {
  program
    .command("usage")
    .description("usage by time bucket and dimension: requests, failures, fallbacks, tokens, cost, latency")
    .option("--since <time>", "start: a duration back from now (30s, 15m, 2h, 7d) or RFC 3339 (default 24h)", (s) => parsePastTime(s))
    .option("--until <time>", "end (exclusive): a duration back from now or RFC 3339 (default now)", (s) => parsePastTime(s))
    .option("--group-by <dims>", `comma-separated, among ${DIMENSIONS.join(", ")}`, (s) => parseDims(s))
    .option("--granularity <g>", `bucket size: ${GRANULARITIES.join(", ")}`, parseChoice(GRANULARITIES), "total")
    .option("--filter <dim=values>", "keep only these values, e.g. team=search or deployment=a,b (repeatable)", parseFilter(DIMENSIONS))
    .addHelpText("after", "\nExamples:\n  signalbox usage --since 7d --group-by team,deployment\n  signalbox usage --since 2026-11-01T00:00:00Z --granularity day --filter team=search --csv")
    .action(async (o: { since?: Date; until?: Date; groupBy?: string[]; granularity: string; filter?: { dimension: string; values: string[] }[] }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const since = o.since ?? parsePastTime("24h");
      if (o.until && o.until <= since) throw usageError("--until must be after --since");
      const groupBy = o.groupBy ?? [];
      const res = await waiting("reading usage", () =>
        sb.usage.getUsage({
          startTime: timestampFromDate(since),
          endTime: o.until ? timestampFromDate(o.until) : undefined,
          granularity: enumValue(GranularitySchema, o.granularity),
          groupBy: groupBy.map(dimension),
          filters: (o.filter ?? []).map((f) => filterOf(f.dimension, f.values)),
        }),
      );
      if (mode === "json") return json(toJson(GetUsageResponseSchema, res));
      const cols: Column<UsageRow>[] = [];
      if (o.granularity !== "total") cols.push({ header: "bucket", show: (r) => time(r.bucketStart), raw: (r) => rfc3339(r.bucketStart) });
      for (const d of groupBy) cols.push({ header: d, show: (r) => r.group[d] ?? "" });
      cols.push(
        { header: "requests", show: (r) => count(r.requests), raw: (r) => r.requests, right: true },
        { header: "failures", show: (r) => count(r.failures), raw: (r) => r.failures, right: true },
        { header: "fallbacks", show: (r) => count(r.fallbacks), raw: (r) => r.fallbacks, right: true },
        { header: "cache hits", show: (r) => count(r.cacheHits), raw: (r) => r.cacheHits, right: true },
        { header: "tokens in", csv: "input_tokens", show: (r) => count(r.usage?.inputTokens ?? 0n), raw: (r) => r.usage?.inputTokens ?? 0n, right: true },
        { header: "tokens out", csv: "output_tokens", show: (r) => count(r.usage?.outputTokens ?? 0n), raw: (r) => r.usage?.outputTokens ?? 0n, right: true },
        { header: "cost", csv: "cost_usd", show: (r) => dollars(r.cost?.totalNanoUsd), raw: (r) => usd(r.cost?.totalNanoUsd), right: true },
        { header: "mean latency", csv: "mean_latency_ms", show: (r) => ms(r.meanLatencyMs), raw: (r) => r.meanLatencyMs.toFixed(1), right: true },
        { header: "p95 latency", csv: "p95_latency_ms", show: (r) => ms(r.p95LatencyMs), raw: (r) => r.p95LatencyMs.toFixed(1), right: true },
      );
      // What the other operations bill by: always in CSV (a fixed schema), in the table only when
      // some row has any.
      const units: Column<UsageRow>[] = [
        { header: "images", show: (r) => count(r.usage?.images ?? 0n), raw: (r) => r.usage?.images ?? 0n, right: true },
        { header: "audio", csv: "audio_seconds", show: (r) => audioLength(r.usage?.audioSeconds ?? 0), raw: (r) => r.usage?.audioSeconds ?? 0, right: true },
        { header: "characters", show: (r) => count(r.usage?.characters ?? 0n), raw: (r) => r.usage?.characters ?? 0n, right: true },
        { header: "searches", csv: "search_units", show: (r) => count(r.usage?.searchUnits ?? 0n), raw: (r) => r.usage?.searchUnits ?? 0n, right: true },
        { header: "pages", show: (r) => count(r.usage?.pages ?? 0n), raw: (r) => r.usage?.pages ?? 0n, right: true },
        { header: "unit cost", csv: "request_cost_usd", show: (r) => dollars(r.cost?.requestNanoUsd), raw: (r) => usd(r.cost?.requestNanoUsd), right: true },
      ];
      if (mode === "csv") return out(csv([...cols, ...units], res.rows));
      const hasUnits = (r: UsageRow) => Boolean(r.usage?.images || r.usage?.audioSeconds || r.usage?.characters || r.usage?.searchUnits || r.usage?.pages || r.cost?.requestNanoUsd);
      if (res.rows.some(hasUnits)) cols.splice(cols.findIndex((c) => c.header === "cost"), 0, ...units.slice(0, 5));
      await out(res.rows.length ? table(cols, res.rows) : "no usage in this range\n");
      if (res.droppedRecords > 0n) process.stderr.write(`note: ${res.droppedRecords} records in this range could not be stored and are not counted\n`);
    });

  program
    .command("requests")
    .description("recent requests, newest first")
    .option("--status <s>", `"ok", "error" (every failure) or a code (${STATUSES.slice(1, 5).join(", ")}, …)`, parseChoice(["error", ...STATUSES]))
    .option("--team <team>", "only this team's requests")
    .option("--key <key>", "only this key's requests (its name)")
    .option("--route <route>", "only requests served by this route")
    .option("--deployment <id>", "only requests answered by (or last tried on) this deployment")
    .option("--user <user>", "only requests made for this end user")
    .option("--operation <op>", `only requests of this operation (${OPERATIONS.join(", ")})`, parseChoice([...OPERATIONS]))
    .option("--trace <trace-id>", "only the requests of this trace (32 hex digits)", parseTraceId)
    .option("--since <time>", "a duration back from now (30s, 15m, 2h, 7d) or RFC 3339", (s) => parsePastTime(s))
    .option("--until <time>", "a duration back from now or RFC 3339", (s) => parsePastTime(s))
    .option("--limit <n>", "at most this many (pages are followed)", parseCount(1, 100_000), 50)
    .addHelpText("after", "\nExamples:\n  signalbox requests --status error --since 1h\n  signalbox requests --team search --deployment openai/gpt-4o --limit 200 --csv\n  signalbox requests --operation realtime --since 1d")
    .action(async (o: RequestsFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const { records, nextPageToken } = await waiting("listing requests", () => listRequests(sb, o));
      if (mode === "json") return json(toJson(ListRequestsResponseSchema, { $typeName: "signalbox.v1.ListRequestsResponse", records, nextPageToken }));
      const cols: Column<RequestRecord>[] = [
        { header: "time", show: (r) => time(r.time), raw: (r) => rfc3339(r.time) },
        { header: "id", show: (r) => r.id },
        { header: "key", show: (r) => r.key },
        { header: "team", show: (r) => r.team },
        { header: "model", show: (r) => r.model },
        { header: "deployment", show: (r) => r.deployment },
        { header: "status", show: (r) => (r.failureKind ? `${r.status} (${enumLabel(FailureKindSchema, r.failureKind)})` : r.status), raw: (r) => r.status },
        { header: "attempts", show: (r) => String(r.attempts.length), right: true },
        { header: "tokens in", csv: "input_tokens", show: (r) => count(r.usage?.inputTokens ?? 0n), raw: (r) => r.usage?.inputTokens ?? 0n, right: true },
        { header: "tokens out", csv: "output_tokens", show: (r) => count(r.usage?.outputTokens ?? 0n), raw: (r) => r.usage?.outputTokens ?? 0n, right: true },
        { header: "cost", csv: "cost_usd", show: (r) => dollars(r.cost?.totalNanoUsd), raw: (r) => usd(r.cost?.totalNanoUsd), right: true },
        { header: "latency", csv: "latency_ms", show: (r) => ms(r.timing?.latencyMs), raw: (r) => r.timing?.latencyMs ?? 0, right: true },
      ];
      if (mode === "csv") {
        cols.push(
          { header: "failure kind", show: (r) => (r.failureKind ? enumLabel(FailureKindSchema, r.failureKind) : "") },
          { header: "trace id", show: (r) => r.traceId },
        );
        return out(csv(cols, records));
      }
      await out(records.length ? table(cols, records) : "no requests match\n");
      if (nextPageToken) process.stderr.write(`showing the newest ${records.length}; raise --limit to see more\n`);
    });

  program
    .command("request")
    .description("one request: its attempts as a timeline, tokens, cost and trace")
    .argument("<id>", "a request id (`signalbox requests`, the x-request-id header) or a trace id (32 hex digits: that trace's latest request)")
    .action(async (id: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const { record: r, feedback } = await waiting("looking up the request", () => getRequest(sb, id));
      if (mode === "json") return json(toJson(RequestRecordSchema, r));
      await out(describeRequest(r) + describeFeedback(feedback));
    });

  program
    .command("budget")
    .description("budgets (spent, held, remaining, reset) and rate-limit windows of a key and its team (and of one end user of the key)")
    .option("--team <team>", "a team (admins: any; team keys: their own)")
    .option("--key <key>", "a key name (default: the calling key; admins may name any)")
    .option("--user <id>", "an end user of the key (the requests' user): their budget under the key's per-user budget too")
    .addHelpText("after", "\nExample:\n  signalbox budget --key search-indexer --user alice")
    .action(async (o: { team?: string; key?: string; user?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("reading budgets", () => sb.usage.getBudget({ team: o.team ?? "", key: o.key ?? "", user: o.user ?? "" }));
      if (mode === "json") return json(toJson(GetBudgetResponseSchema, res));
      const budgets: Column<BudgetStatus>[] = [
        { header: "scope", show: (b) => enumLabel(ScopeSchema, b.scope) },
        { header: "name", show: (b) => b.name },
        { header: "period", show: (b) => enumLabel(BudgetPeriodSchema, b.period) },
        { header: "limit", show: (b) => dollars(b.limitNanoUsd), right: true },
        { header: "spent", show: (b) => dollars(b.spentNanoUsd), right: true },
        { header: "held", show: (b) => dollars(b.reservedNanoUsd), right: true },
        { header: "remaining", show: (b) => dollars(b.remainingNanoUsd), right: true },
        { header: "resets", show: (b) => (b.resetTime ? time(b.resetTime) : enumLabel(BudgetPeriodSchema, b.period) === "lifetime" ? "never" : "") },
        { header: "projected", show: (b) => (b.projectedNanoUsd === undefined ? "" : `${dollars(b.projectedNanoUsd)}${b.projectedExhaustionTime ? ` (limit ${time(b.projectedExhaustionTime)})` : ""}`), raw: (b) => (b.projectedNanoUsd === undefined ? "" : usd(b.projectedNanoUsd)), right: true },
        { header: "state", show: (b) => (b.exceeded ? "exceeded" : b.limitNanoUsd > 0n && Number(b.spentNanoUsd) >= b.softThreshold * Number(b.limitNanoUsd) ? "over soft threshold" : "ok") },
      ];
      const rates: Column<RateLimitStatus>[] = [
        { header: "scope", show: (l) => enumLabel(ScopeSchema, l.scope) },
        { header: "name", show: (l) => l.name },
        { header: "rpm", show: (l) => (l.requestsPerMinute ? count(l.requestsPerMinute) : "-"), right: true },
        { header: "requests left", show: (l) => (l.requestsPerMinute ? count(l.remainingRequests) : "-"), right: true },
        { header: "tpm", show: (l) => (l.tokensPerMinute ? count(l.tokensPerMinute) : "-"), right: true },
        { header: "tokens left", show: (l) => (l.tokensPerMinute ? count(l.remainingTokens) : "-"), right: true },
        { header: "window resets", show: (l) => time(l.resetTime) },
      ];
      await out(
        [
          section("BUDGETS") + (res.budgets.length ? table(budgets, res.budgets) : "no budget applies\n"),
          section("RATE LIMITS") + (res.rateLimits.length ? table(rates, res.rateLimits) : "no rate limit applies\n"),
        ].join("\n"),
      );
    });
}

function parseDims(s: string): string[] {
  const dims = parseList(s);
  for (const d of dims) parseChoice(DIMENSIONS)(d);
  return dims;
}

interface RequestsFlags {
  status?: string;
  operation?: string;
  team?: string;
  key?: string;
  route?: string;
  deployment?: string;
  user?: string;
  trace?: string;
  since?: Date;
  until?: Date;
  limit: number;
}

/** Follow pages until --limit records or the last page. */
async function listRequests(sb: SignalboxClient, o: RequestsFlags): Promise<{ records: RequestRecord[]; nextPageToken: string }> {
  const filters: DimensionFilter[] = [];
  if (o.status) filters.push(filterOf("status", o.status === "error" ? STATUSES.filter((s) => s !== "ok") : [o.status]));
  for (const d of ["team", "key", "route", "deployment", "user", "operation"] as const) {
    const v = o[d];
    if (v) filters.push(filterOf(d, [v]));
  }
  const records: RequestRecord[] = [];
  let pageToken = "";
  do {
    const page = await sb.usage.listRequests({
      startTime: o.since ? timestampFromDate(o.since) : undefined,
      endTime: o.until ? timestampFromDate(o.until) : undefined,
      filters,
      pageSize: Math.min(MAX_PAGE, o.limit - records.length),
      pageToken,
      traceId: o.trace ?? "",
    });
    records.push(...page.records);
    pageToken = page.nextPageToken;
  } while (pageToken && records.length < o.limit);
  return { records: records.slice(0, o.limit), nextPageToken: pageToken };
}

const TRACE_ID = /^[0-9a-f]{32}$/;

function parseTraceId(s: string): string {
  const v = s.trim().toLowerCase();
  if (!TRACE_ID.test(v)) throw new InvalidArgumentError(`"${s}" is not a trace id: 32 hex digits, as in a traceparent header`);
  return v;
}

/**
 * One request by id, or a trace's latest request (UsageService.GetRequest). A gateway from before
 * GetRequest answers unimplemented: then page through ListRequests (newest first) for the id.
 */
async function getRequest(sb: SignalboxClient, id: string): Promise<{ record: RequestRecord; feedback: Feedback[] }> {
  const byTrace = TRACE_ID.test(id);
  try {
    const res = await sb.usage.getRequest(byTrace ? { traceId: id } : { id });
    if (res.record) return { record: res.record, feedback: res.feedback };
  } catch (err) {
    if (!(err instanceof SignalboxError && err.code === Code.Unimplemented) || byTrace) throw err;
    let pageToken = "";
    do {
      const page = await sb.usage.listRequests({ pageSize: MAX_PAGE, pageToken });
      const hit = page.records.find((r) => r.id === id);
      if (hit) return { record: hit, feedback: [] };
      pageToken = page.nextPageToken;
    } while (pageToken);
  }
  throw failure(`no request "${id}" among the records this key may read`, "check the id with `signalbox requests`");
}

function describeRequest(r: RequestRecord): string {
  const u = r.usage;
  const routing = [r.routing?.route && `route ${r.routing.route}`, r.routing?.alias && `alias ${r.routing.alias}`, r.routing?.strategy && `strategy ${r.routing.strategy}`, r.routing?.variant && `variant ${r.routing.variant}`]
    .filter(Boolean)
    .join(", ");
  const tokens = u
    ? `${count(u.inputTokens)} in, ${count(u.outputTokens)} out` +
      (u.cachedInputTokens || u.reasoningTokens ? ` (cached ${count(u.cachedInputTokens)}, reasoning ${count(u.reasoningTokens)})` : "") +
      (u.estimated ? ", estimated" : "")
    : "";
  const head = fields([
    ["ID", r.id],
    ["TIME", time(r.time)],
    ["KEY", r.key && `${r.key} (team ${r.team || "-"})`],
    ["USER", r.user],
    ["MODEL", r.model + (routing ? ` (${routing})` : "")],
    ["DEPLOYMENT", r.deployment && `${r.deployment} (provider ${r.provider})`],
    ["STATUS", r.status + (r.failureKind ? ` (${enumLabel(FailureKindSchema, r.failureKind)})` : "") + (r.cacheHit ? ", cache hit" : "")],
    ["FINISH", r.finishReason ? enumLabel(FinishReasonSchema, r.finishReason) : ""],
    ["TOKENS", tokens],
    ["COST", dollars(r.cost?.totalNanoUsd)],
    ["LATENCY", ms(r.timing?.latencyMs) + (r.timing?.ttftMs !== undefined ? ` (first token ${ms(r.timing.ttftMs)})` : "") + (r.streamed ? ", streamed" : "")],
    ["TAGS", listOf(r.tags)],
    ["TRACE", traceLink(r.traceId)],
  ]);
  if (!r.attempts.length) return `${head}\nno upstream attempts${r.cacheHit ? " (answered from the cache)" : ""}\n`;
  const t0 = Math.min(...r.attempts.map(startMs).filter((x): x is number => x !== undefined));
  const cols: Column<Attempt>[] = [
    { header: "#", show: (a) => String(a.number), right: true },
    { header: "start", show: (a) => (startMs(a) === undefined ? "" : `+${startMs(a)! - t0} ms`), right: true },
    { header: "deployment", show: (a) => a.deployment },
    { header: "outcome", show: (a) => enumLabel(AttemptOutcomeSchema, a.outcome) },
    { header: "failure", show: (a) => (a.failureKind ? enumLabel(FailureKindSchema, a.failureKind) : "") },
    { header: "http", show: (a) => (a.httpStatus ? String(a.httpStatus) : ""), right: true },
    { header: "latency", show: (a) => ms(a.latencyMs), right: true },
    { header: "retry-after", show: (a) => ms(a.retryAfterMs), right: true },
    { header: "hedged", show: (a) => (a.hedged ? "yes" : "") },
    { header: "reason", show: (a) => a.reason + (a.errorMessage ? ` — ${a.errorMessage}` : "") },
  ];
  return `${head}\n${section("ATTEMPTS")}${table(cols, r.attempts)}`;
}

/** The scores given to the request (`signalbox feedback give`), newest first; nothing when there are none. */
function describeFeedback(feedback: Feedback[]): string {
  if (!feedback.length) return "";
  const cols: Column<Feedback>[] = [
    { header: "value", show: (f) => (f.value > 0 ? `+${f.value}` : String(f.value)), right: true },
    { header: "weight", show: (f) => String(f.weight), right: true },
    { header: "by", show: (f) => f.givenBy },
    { header: "when", show: (f) => time(f.time) },
    { header: "comment", show: (f) => f.metadata.comment ?? "" },
  ];
  return `\n${section("FEEDBACK")}${table(cols, feedback)}`;
}

const startMs = (a: Attempt) => (a.startTime ? Number(a.startTime.seconds) * 1000 + Math.floor(a.startTime.nanos / 1e6) : undefined);
