// `signalbox mirrors`: UsageService.GetMirrorReport, a route's requests against their mirrors (the
// candidate a route's `mirror` copies them to): each side's answers, failures, latency, output
// tokens and cost, how alike the answers were, and the least alike pairs to read. Scoped like the
// usage commands (a team key sees its team's mirrors).

import { toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { GetMirrorReportResponseSchema, type MirrorPair, type MirrorSideSummary, type MirrorSummary } from "@signalbox/client";
import { setup, usageError } from "../context.ts";
import { count, dollars, ms, rfc3339, time, usd } from "../format.ts";
import { type Column, csv, json, out, section, table, waiting } from "../output.ts";
import { parseCount, parsePastTime } from "../parse.ts";

interface Flags {
  route?: string;
  since?: Date;
  until?: Date;
  leastAlike?: number;
}

/** One side of a summary as a table row. */
interface SideRow {
  route: string;
  target: string;
  side: "route" | "mirror";
  s: MirrorSideSummary;
}

/** The deployments that answered, most first: "openai/gpt-4o-mini 40, azure/gpt-4o-mini 2". */
const deploymentsOf = (s: MirrorSideSummary) =>
  Object.entries(s.deployments)
    .sort((a, b) => Number(b[1] - a[1]) || a[0].localeCompare(b[0]))
    .map(([d, n]) => `${d} ${count(n)}`)
    .join(", ");

const similarity = (v: number) => v.toFixed(3);

const VERDICT: Record<string, string> = { mirror: "mirror better", route: "route better", tie: "as good", failed: "no verdict" };

/** A table of pairs: the verdict columns only when a judge gave any. */
function pairColumns(pairs: MirrorPair[]): Column<MirrorPair>[] {
  const cols: Column<MirrorPair>[] = [
    { header: "SIMILARITY", show: (p) => similarity(p.similarity), right: true },
    ...(pairs.some((p) => p.semanticSimilarity !== undefined) ? [{ header: "MEANING", show: (p: MirrorPair) => (p.semanticSimilarity === undefined ? "" : similarity(p.semanticSimilarity)), right: true }] : []),
    { header: "REQUEST", show: (p) => p.requestId },
    { header: "MIRROR REQUEST", show: (p) => p.mirrorRequestId },
    { header: "TIME", show: (p) => time(p.time), raw: (p) => rfc3339(p.time) },
  ];
  if (pairs.some((p) => p.verdict)) cols.push({ header: "VERDICT", show: (p) => VERDICT[p.verdict] ?? p.verdict }, { header: "WHY", show: (p) => p.verdictReason });
  return cols;
}

export function mirrorCommands(program: Command): void {
  program
    .command("mirrors")
    .description("traffic mirroring: a route's requests against their mirrors (answers, failures, latency, tokens, cost, how alike), and the least alike pairs")
    .option("--route <route>", "only the mirrors of this route's requests")
    .option("--since <time>", "start: a duration back from now (30m, 2h, 7d) or RFC 3339 (default 24h)", (s) => parsePastTime(s))
    .option("--until <time>", "end (exclusive): a duration back from now or RFC 3339 (default now)", (s) => parsePastTime(s))
    .option("--least-alike <n>", "how many of the least alike pairs to list per route and target, 0 to 50 (default 5)", parseCount(0, 50))
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  signalbox mirrors",
        "  signalbox mirrors --route chat --since 7d --least-alike 10",
        "  signalbox mirrors --csv > mirrors.csv",
        "  signalbox request req_…   (either id of a pair: that request's record)",
      ].join("\n"),
    )
    .action(async (o: Flags, cmd: Command) => {
      if (o.since && o.until && o.until <= o.since) throw usageError("--until must be after --since");
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("reading mirrors", () =>
        sb.usage.getMirrorReport({
          ...(o.route ? { route: o.route } : {}),
          ...(o.since ? { startTime: timestampFromDate(o.since) } : {}),
          ...(o.until ? { endTime: timestampFromDate(o.until) } : {}),
          ...(o.leastAlike !== undefined ? { leastAlike: o.leastAlike } : {}),
        }),
      );
      if (mode === "json") return json(toJson(GetMirrorReportResponseSchema, res));
      if (mode === "csv") {
        // One row per route and target, both sides' figures side by side.
        const side = (name: "route" | "mirror", pick: (m: MirrorSummary) => MirrorSideSummary | undefined): Column<MirrorSummary>[] => [
          { header: `${name}_ok`, show: (m) => String(pick(m)?.ok ?? 0n) },
          { header: `${name}_failed`, show: (m) => String(pick(m)?.failed ?? 0n) },
          { header: `${name}_p50_latency_ms`, show: (m) => String(pick(m)?.p50LatencyMs ?? 0) },
          { header: `${name}_p95_latency_ms`, show: (m) => String(pick(m)?.p95LatencyMs ?? 0) },
          { header: `${name}_p50_ttft_ms`, show: (m) => String(pick(m)?.p50TtftMs ?? 0) },
          { header: `${name}_output_tokens`, show: (m) => String(pick(m)?.outputTokens ?? 0n) },
          { header: `${name}_cost_usd`, show: (m) => usd(pick(m)?.costNanoUsd) },
        ];
        const cols: Column<MirrorSummary>[] = [
          { header: "route", show: (m) => m.route },
          { header: "target", show: (m) => m.target },
          { header: "count", show: (m) => String(m.count) },
          { header: "compared", show: (m) => String(m.compared) },
          { header: "mean_similarity", show: (m) => String(Number(m.meanSimilarity.toFixed(4))) },
          { header: "semantic_compared", show: (m) => String(m.semanticCompared) },
          { header: "mean_semantic_similarity", show: (m) => (m.semanticCompared > 0n ? String(Number(m.meanSemanticSimilarity.toFixed(4))) : "") },
          { header: "mirror_failed_only", show: (m) => String(m.mirrorFailedOnly) },
          { header: "mirror_answered_only", show: (m) => String(m.mirrorAnsweredOnly) },
          { header: "judged", show: (m) => String(m.judged) },
          { header: "mirror_better", show: (m) => String(m.mirrorBetter) },
          { header: "route_better", show: (m) => String(m.routeBetter) },
          { header: "ties", show: (m) => String(m.ties) },
          ...side("route", (m) => m.primary),
          ...side("mirror", (m) => m.mirror),
        ];
        return out(csv(cols, res.summaries));
      }
      if (!res.summaries.length) return out(`no mirrored requests in this range${o.route ? ` for route ${o.route}` : ""}\n`);
      const rows: SideRow[] = res.summaries.flatMap((m) => [
        { route: m.route, target: m.target, side: "route" as const, s: m.primary! },
        { route: "", target: "", side: "mirror" as const, s: m.mirror! },
      ]);
      const cols: Column<SideRow>[] = [
        { header: "ROUTE", show: (r) => r.route },
        { header: "MIRROR", show: (r) => r.target },
        { header: "SIDE", show: (r) => r.side },
        { header: "OK", show: (r) => count(r.s.ok), right: true },
        { header: "FAILED", show: (r) => count(r.s.failed), right: true },
        { header: "P50", show: (r) => (r.s.ok ? ms(r.s.p50LatencyMs) : ""), right: true },
        { header: "P95", show: (r) => (r.s.ok ? ms(r.s.p95LatencyMs) : ""), right: true },
        { header: "TTFT P50", show: (r) => (r.s.p50TtftMs ? ms(r.s.p50TtftMs) : ""), right: true },
        { header: "OUTPUT TOKENS", show: (r) => count(r.s.outputTokens), right: true },
        { header: "COST", show: (r) => dollars(r.s.costNanoUsd), right: true },
        { header: "ANSWERED BY", show: (r) => deploymentsOf(r.s) },
      ];
      let text = table(cols, rows);
      for (const m of res.summaries) {
        text += `\n${section(`${m.route} → ${m.target}: ${count(m.count)} mirrored, ${count(m.compared)} compared, mean similarity ${m.compared ? similarity(m.meanSimilarity) : "-"}${m.semanticCompared > 0n ? ` (in meaning ${similarity(m.meanSemanticSimilarity)})` : ""}; the mirror failed where the route answered ${count(m.mirrorFailedOnly)}, answered where it failed ${count(m.mirrorAnsweredOnly)}`)}`;
        if (m.judged > 0n) {
          const without = m.judged - m.mirrorBetter - m.routeBetter - m.ties;
          text += section(`judge: the mirror's answer better ${count(m.mirrorBetter)}, the route's ${count(m.routeBetter)}, as good ${count(m.ties)}, of ${count(m.judged)} judged${without > 0n ? ` (${count(without)} without a verdict)` : ""}`);
        }
        if (m.leastAlike.length) text += `least alike:\n${table(pairColumns(m.leastAlike), m.leastAlike)}`;
        if (m.routeBetterPairs.length) text += `the judge preferred the route's answer:\n${table(pairColumns(m.routeBetterPairs), m.routeBetterPairs)}`;
      }
      if (res.truncated) text += `\n(only the newest ${count(res.recordsRead)} mirrored requests of the range were read: narrow it with --since/--until)\n`;
      await out(text);
    });
}
