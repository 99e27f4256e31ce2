// `signalbox feedback give` and `feedback summary`: UsageService.SubmitFeedback (score an answered
// request, by its request id or its trace id) and GetFeedbackSummary (count and average the scores
// by variant, deployment, route, …: which side of an A/B split its users prefer). A key scores and
// reads the requests it may read (a team key its team's).

import { toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Command, InvalidArgumentError, Option } from "commander";
import { DimensionSchema, GetFeedbackSummaryResponseSchema, SubmitFeedbackResponseSchema, type DimensionFilter, type FeedbackRow } from "@signalbox/client";
import { setup, usageError } from "../context.ts";
import { count, enumValue } from "../format.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";
import { parseChoice, parseFilter, parseList, parseNumber, parsePastTime } from "../parse.ts";
import { parsePair } from "../request.ts";

/** What feedback is grouped and filtered by (its request's dimensions). */
export const FEEDBACK_DIMENSIONS = ["key", "team", "user", "route", "deployment", "provider", "variant"] as const;
type FeedbackDimension = (typeof FEEDBACK_DIMENSIONS)[number];
/** The gateway's limits on a score (checked here too, so nothing is sent for a bad flag). */
export const MIN_VALUE = -10;
export const MAX_VALUE = 10;
const MAX_METADATA = { pairs: 16, chars: 1024 };

const TRACE_ID = /^[0-9a-f]{32}$/;

/** The request scored: "req_…" is a request id, 32 hex digits a trace id; anything else is bad usage. */
export function parseScored(s: string): { requestId: string } | { traceId: string } {
  const v = s.trim();
  if (v.startsWith("req_") && v.length > 4) return { requestId: v };
  if (TRACE_ID.test(v.toLowerCase())) return { traceId: v.toLowerCase() };
  throw new InvalidArgumentError(`"${s}" is neither a request id (req_…, the x-request-id header) nor a trace id (32 hex digits, the x-signalbox-trace-id header)`);
}

/** --value: a whole number from -10 to 10 ("-1", "+3"). */
export function parseValue(s: string): number {
  const v = s.trim();
  const n = Number(v);
  if (!/^[+-]?\d+$/.test(v) || n < MIN_VALUE || n > MAX_VALUE) throw new InvalidArgumentError(`"${s}" is not a score: a whole number from ${MIN_VALUE} to ${MAX_VALUE} (1 and -1 for a thumbs up and down)`);
  return n;
}

/** --meta k=v, repeatable, within the gateway's limits. */
export function parseMeta(s: string, acc: Record<string, string> = {}): Record<string, string> {
  const next = parsePair(s, acc);
  const k = s.slice(0, s.indexOf("=")).trim();
  if (k.length + next[k].length > MAX_METADATA.chars) throw new InvalidArgumentError(`"${k}" and its value are longer than ${MAX_METADATA.chars} characters`);
  if (Object.keys(next).length > MAX_METADATA.pairs) throw new InvalidArgumentError(`at most ${MAX_METADATA.pairs} entries`);
  return next;
}

/** --by: comma-separated feedback dimensions; an unknown one is bad usage naming it. */
function parseDims(s: string): FeedbackDimension[] {
  const dims = parseList(s);
  if (!dims.length) throw new InvalidArgumentError(`"${s}" names no dimension: use some of ${FEEDBACK_DIMENSIONS.join(", ")}`);
  return dims.map((d) => parseChoice(FEEDBACK_DIMENSIONS)(d));
}

const dimension = (word: string) => enumValue(DimensionSchema, word);
const filterOf = (dim: string, values: string[]): DimensionFilter => ({ $typeName: "signalbox.v1.DimensionFilter", dimension: dimension(dim), values });

/** A mean as a table shows it: two decimals, a sign when above 0 ("+0.50", "-1.00", "0.00"). */
export const mean = (v: number) => `${v > 0 ? "+" : ""}${v.toFixed(2)}`;
/** A mean in CSV: at most four decimals, no sign ("0.3333", "-1"). */
const meanRaw = (v: number) => Number(v.toFixed(4));

interface GiveFlags {
  value?: number;
  up?: boolean;
  down?: boolean;
  weight?: number;
  meta?: Record<string, string>;
  metadata?: Record<string, string>;
}

interface SummaryFlags {
  by?: FeedbackDimension[];
  groupBy?: FeedbackDimension[];
  since?: Date;
  until?: Date;
  filter?: { dimension: string; values: string[] }[];
  key?: string;
  team?: string;
  user?: string;
  route?: string;
  deployment?: string;
  provider?: string;
  variant?: string;
}

export function feedbackCommands(program: Command): void {
  const feedback = program.command("feedback").description("feedback on answered requests: score one (-10 to 10), compare scores by variant, deployment, route, …");

  feedback
    .command("give")
    .description("score an answered request, by its request id or its trace id; scoring it again with the same key replaces the score")
    .argument("<id>", "a request id (req_…, the x-request-id header) or a trace id (32 hex digits, the x-signalbox-trace-id header)", parseScored)
    .option("--value <n>", `the score, a whole number from ${MIN_VALUE} to ${MAX_VALUE}`, parseValue)
    .option("--up", "a thumbs up: --value 1")
    .option("--down", "a thumbs down: --value -1")
    .option("--weight <w>", "how much the score counts, 0 to 1 (default 1)", parseNumber(0, 1))
    .option("--meta <key=value>", `metadata entries of your own (a comment, the UI it came from), repeatable (at most ${MAX_METADATA.pairs})`, parseMeta)
    // `--metadata`, as the other commands spell it, works too.
    .addOption(new Option("--metadata <key=value>").argParser(parseMeta).hideHelp())
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  signalbox feedback give req_579cba1dmx8kg7ez2 --up",
        "  signalbox feedback give 4bf92f3577b34da6a3ce929d0e0e4736 --value -3 --weight 0.5 --meta comment=\"too long\" --meta ui=web",
        "  signalbox feedback give \"$REQUEST_ID\" --value 8 --json",
      ].join("\n"),
    )
    .action(async (scored: { requestId: string } | { traceId: string }, o: GiveFlags, cmd: Command) => {
      const given = [o.value !== undefined && "--value", o.up && "--up", o.down && "--down"].filter(Boolean);
      if (given.length > 1) throw usageError(`${given.join(" and ")} cannot be used together`, "give one score: --value <n>, --up or --down");
      if (!given.length) throw usageError("no score given", `pass --value <n> (${MIN_VALUE} to ${MAX_VALUE}), --up or --down`);
      const value = o.value ?? (o.up ? 1 : -1);
      const metadata = { ...o.metadata, ...o.meta };
      if (Object.keys(metadata).length > MAX_METADATA.pairs) throw usageError(`--meta: at most ${MAX_METADATA.pairs} entries`);
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("sending feedback", () =>
        sb.usage.submitFeedback({
          ...("requestId" in scored ? { requestId: scored.requestId } : { traceId: scored.traceId }),
          value,
          ...(o.weight !== undefined ? { weight: o.weight } : {}),
          metadata,
        }),
      );
      if (mode === "json") return json(toJson(SubmitFeedbackResponseSchema, res));
      await out(
        fields([
          ["FEEDBACK", res.feedbackId],
          ["REQUEST", res.requestId],
          ["VALUE", String(value)],
          ["WEIGHT", String(o.weight ?? 1)],
          ...Object.entries(metadata).map(([k, v]): [string, string] => [`META ${k}`, v]),
        ]),
      );
    });

  feedback
    .command("summary")
    .description("feedback counted and averaged by group: count, positive and negative scores, mean and weighted mean")
    .option("--by <dims>", `group by these, comma-separated, among ${FEEDBACK_DIMENSIONS.join(", ")} (none: one row)`, parseDims)
    .addOption(new Option("--group-by <dims>").argParser(parseDims).hideHelp())
    .option("--since <time>", "start: a duration back from now (30s, 15m, 2h, 7d) or RFC 3339 (default 30d)", (s) => parsePastTime(s))
    .option("--until <time>", "end (exclusive): a duration back from now or RFC 3339 (default now)", (s) => parsePastTime(s))
    .option("--key <key>", "only feedback on this key's requests (its name)")
    .option("--team <team>", "only feedback on this team's requests")
    .option("--user <user>", "only feedback on requests made for this end user")
    .option("--route <route>", "only feedback on requests served by this route")
    .option("--deployment <id>", "only feedback on requests answered by this deployment")
    .option("--provider <name>", "only feedback on requests answered by this provider")
    .option("--variant <name>", "only feedback on requests sent to this variant of an A/B split")
    .option("--filter <dim=values>", "keep only these values, e.g. variant=control,candidate (repeatable)", parseFilter(FEEDBACK_DIMENSIONS))
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  signalbox feedback summary --by variant --route ab --since 7d",
        "  signalbox feedback summary --by variant,deployment --team search --csv",
        "  signalbox feedback summary --by route --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z --json",
      ].join("\n"),
    )
    .action(async (o: SummaryFlags, cmd: Command) => {
      if (o.since && o.until && o.until <= o.since) throw usageError("--until must be after --since");
      const groupBy = [...new Set([...(o.by ?? []), ...(o.groupBy ?? [])])];
      const filters = (o.filter ?? []).map((f) => filterOf(f.dimension, f.values));
      for (const d of FEEDBACK_DIMENSIONS) {
        const v = o[d];
        if (v) filters.push(filterOf(d, [v]));
      }
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("reading feedback", () =>
        sb.usage.getFeedbackSummary({
          startTime: o.since ? timestampFromDate(o.since) : undefined,
          endTime: o.until ? timestampFromDate(o.until) : undefined,
          groupBy: groupBy.map(dimension),
          filters,
        }),
      );
      if (mode === "json") return json(toJson(GetFeedbackSummaryResponseSchema, res));
      const cols: Column<FeedbackRow>[] = groupBy.map((d) => ({ header: d, show: (r: FeedbackRow) => r.group[d] ?? "" }));
      cols.push(
        { header: "count", show: (r) => count(r.count), raw: (r) => r.count, right: true },
        { header: "+", csv: "positive", show: (r) => count(r.positive), raw: (r) => r.positive, right: true },
        { header: "−", csv: "negative", show: (r) => count(r.negative), raw: (r) => r.negative, right: true },
        { header: "mean", csv: "mean_value", show: (r) => mean(r.meanValue), raw: (r) => meanRaw(r.meanValue), right: true },
        { header: "weighted mean", csv: "weighted_mean_value", show: (r) => mean(r.weightedMeanValue), raw: (r) => meanRaw(r.weightedMeanValue), right: true },
      );
      if (mode === "csv") return out(csv(cols, res.rows));
      await out(res.rows.length ? table(cols, res.rows) : "no feedback in this range\n");
    });
}
