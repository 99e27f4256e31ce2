// Usage: GetUsage with any grouping and filters, as a chart (per group over time) and a table with
// totals, exported as CSV from the rows already loaded; and a Feedback card: GetFeedbackSummary over
// the same range, grouped by a dimension picked (variant by default), to compare an A/B split's
// variants (or deployments, routes, teams, keys) by what their users thought.

import { useQuery } from "@connectrpc/connect-query";
import { Dimension, type FeedbackRow, Granularity, UsageService, type UsageRow } from "@signalbox/client";
import { useMemo, useState } from "react";
import { PALETTE, ShareBar, TimeChart } from "../chart.tsx";
import { download, nanosToDecimal, toCsv } from "../csv.ts";
import { count, dateTime, ms, tsToMs, usd } from "../format.ts";
import { Card, Empty, ErrorBox, Loading, PageHeader, Segmented } from "../ui.tsx";
import { bucketTimes, DIMENSIONS, dimensionName, groupLabel, type RangeName, RANGE_OPTIONS, rowUnits, seriesOf, sumRows, unitsLabel, type Window, windowFor, windowInput } from "../usage.ts";

const NO_ROWS: UsageRow[] = [];
const NO_FEEDBACK: FeedbackRow[] = [];
const PAGE = 50;
const MAX_SERIES = 6;

type Metric = "requests" | "failures" | "cost" | "tokens";
const METRICS: { value: Metric; label: string; of: (r: UsageRow) => number; format: (v: number) => string }[] = [
  { value: "requests", label: "Requests", of: (r) => Number(r.requests), format: (v) => count(v) },
  { value: "failures", label: "Errors", of: (r) => Number(r.failures), format: (v) => count(v) },
  { value: "cost", label: "Cost", of: (r) => Number(r.cost?.totalNanoUsd ?? 0n) / 1e9, format: (v) => `$${v.toFixed(v < 0.01 && v > 0 ? 6 : 4)}` },
  { value: "tokens", label: "Tokens", of: (r) => Number(r.usage?.totalTokens ?? 0n), format: (v) => count(v) },
];

const GRANULARITIES: { value: string; label: string; g: Granularity }[] = [
  { value: "hour", label: "Hour", g: Granularity.HOUR },
  { value: "day", label: "Day", g: Granularity.DAY },
  { value: "month", label: "Month", g: Granularity.MONTH },
  { value: "total", label: "Total", g: Granularity.TOTAL },
];

interface Filter {
  dimension: Dimension;
  values: string[];
}

export function UsagePage() {
  const [range, setRange] = useState<RangeName>("24h");
  const [win, setWin] = useState(() => windowFor("24h"));
  const [gran, setGran] = useState("total");
  const [groupBy, setGroupBy] = useState<Dimension[]>([DIMENSIONS[0].value]);
  const [filters, setFilters] = useState<Filter[]>([]);
  const [metric, setMetric] = useState<Metric>("requests");
  const [page, setPage] = useState(1);

  const granularity = GRANULARITIES.find((x) => x.value === gran)!.g;
  const input = { ...windowInput(win), granularity, groupBy, filters };
  const q = useQuery(UsageService.method.getUsage, input);
  const rows = q.data?.rows ?? NO_ROWS;
  const dims = groupBy.map(dimensionName);
  const m = METRICS.find((x) => x.value === metric)!;

  const sorted = useMemo(
    () => [...rows].sort((a, b) => (tsToMs(b.bucketStart) ?? 0) - (tsToMs(a.bucketStart) ?? 0) || Number(b.requests - a.requests)),
    [rows],
  );
  const totals = sumRows(rows);
  // The units column only when some row has images, audio, characters, searches or pages.
  const withUnits = Boolean(unitsLabel(totals));
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE));
  const shown = sorted.slice((page - 1) * PAGE, page * PAGE);
  const lead = (granularity !== Granularity.TOTAL ? 1 : 0) + dims.length;
  const maxRequests = Math.max(0, ...rows.map((r) => Number(r.requests)));

  const chart = useMemo(() => {
    if (granularity === Granularity.TOTAL) return undefined;
    const times = bucketTimes(rows, win, granularity);
    // The largest groups get a line each; the rest are summed into "other".
    const byGroup = new Map<string, number>();
    for (const r of rows) byGroup.set(groupLabel(r, dims), (byGroup.get(groupLabel(r, dims)) ?? 0) + m.of(r));
    const top = [...byGroup.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
    const named = top.slice(0, MAX_SERIES);
    const series = named.map((g, i) => ({ label: g, values: seriesOf(rows, times, m.of, (r) => groupLabel(r, dims) === g), color: PALETTE[i % PALETTE.length] }));
    if (top.length > MAX_SERIES) {
      const rest = new Set(top.slice(MAX_SERIES));
      series.push({ label: `other (${rest.size})`, values: seriesOf(rows, times, m.of, (r) => rest.has(groupLabel(r, dims))), color: PALETTE[8] });
    }
    return { times, series };
  }, [rows, win, granularity, dims.join(","), m]);

  const toggleGroup = (d: Dimension) => {
    setPage(1);
    setGroupBy((g) => (g.includes(d) ? g.filter((x) => x !== d) : [...g, d].sort((a, b) => DIMENSIONS.findIndex((x) => x.value === a) - DIMENSIONS.findIndex((x) => x.value === b))));
  };

  const exportCsv = () => {
    const header = ["bucket_start", ...dims, "requests", "failures", "fallbacks", "cache_hits", "attempts", "input_tokens", "output_tokens", "total_tokens", "cost_usd", "mean_latency_ms", "p50_latency_ms", "p95_latency_ms", "mean_ttft_ms", "images", "audio_seconds", "characters", "search_units", "pages", "request_cost_usd"];
    const body = sorted.map((r) => [
      new Date(tsToMs(r.bucketStart) ?? 0).toISOString(),
      ...dims.map((d) => r.group[d] ?? ""),
      String(r.requests),
      String(r.failures),
      String(r.fallbacks),
      String(r.cacheHits),
      String(r.attempts),
      String(r.usage?.inputTokens ?? 0n),
      String(r.usage?.outputTokens ?? 0n),
      String(r.usage?.totalTokens ?? 0n),
      nanosToDecimal(r.cost?.totalNanoUsd ?? 0n),
      r.meanLatencyMs.toFixed(1),
      r.p50LatencyMs.toFixed(1),
      r.p95LatencyMs.toFixed(1),
      r.meanTtftMs.toFixed(1),
      String(r.usage?.images ?? 0n),
      String(r.usage?.audioSeconds ?? 0),
      String(r.usage?.characters ?? 0n),
      String(r.usage?.searchUnits ?? 0n),
      String(r.usage?.pages ?? 0n),
      nanosToDecimal(r.cost?.requestNanoUsd ?? 0n),
    ]);
    download(`signalbox-usage-${new Date(win.start).toISOString().slice(0, 16)}-${gran}${dims.length ? `-by-${dims.join("-")}` : ""}.csv`, toCsv(header, body));
  };

  return (
    <>
      <PageHeader
        title="Usage"
        subtitle="Aggregated usage by time bucket and any combination of dimensions."
        actions={
          <>
            <Segmented name="Range" value={range} options={[{ value: "1h", label: "1 hour" }, ...RANGE_OPTIONS]} onChange={(r) => (setRange(r), setWin(windowFor(r)), setPage(1))} />
            <button type="button" onClick={() => setWin(windowFor(range))}>
              Refresh
            </button>
          </>
        }
      />
      <Card>
        <div className="toolbar">
          <div className="toolbar-group">
            <span className="field-label">Buckets</span>
            <Segmented name="Granularity" value={gran} options={GRANULARITIES} onChange={(g) => (setGran(g), setPage(1))} />
          </div>
          <div className="toolbar-group" role="group" aria-label="Group by">
            <span className="field-label">Group by</span>
            <div className="chips">
              {DIMENSIONS.map((d) => (
                <label key={d.value} className={`chip ${groupBy.includes(d.value) ? "on" : ""}`}>
                  <input type="checkbox" checked={groupBy.includes(d.value)} onChange={() => toggleGroup(d.value)} />
                  {d.label}
                </label>
              ))}
            </div>
          </div>
        </div>
        <FilterEditor filters={filters} onChange={(f) => (setFilters(f), setPage(1))} />
      </Card>
      <ErrorBox error={q.error} />
      {chart && (
        <Card title={`${m.label} per ${dims.length ? dims.join(" · ") : "bucket"}`} actions={<Segmented name="Metric" value={metric} options={METRICS} onChange={setMetric} />}>
          {q.isPending ? <Loading /> : <TimeChart times={chart.times} series={chart.series} format={m.format} testId="usage-chart" />}
        </Card>
      )}
      <Card
        title={`${count(rows.length)} rows`}
        actions={
          <button type="button" onClick={exportCsv} disabled={rows.length === 0}>
            Export CSV
          </button>
        }
      >
        {q.isPending ? (
          <Loading />
        ) : rows.length === 0 ? (
          <Empty>No usage matches.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table dense" data-testid="usage-table">
              <thead>
                <tr>
                  {lead === 0 && <th>Group</th>}
                  {granularity !== Granularity.TOTAL && <th>Bucket</th>}
                  {dims.map((d) => (
                    <th key={d}>{d}</th>
                  ))}
                  <th className="num">Requests</th>
                  <th className="num">Errors</th>
                  <th className="num">Fallbacks</th>
                  <th className="num">Cached</th>
                  <th className="num">In tok.</th>
                  <th className="num">Out tok.</th>
                  {withUnits && <th title="Images, seconds of audio, characters spoken, searches and pages read">Units</th>}
                  <th className="num">Cost</th>
                  <th className="num">Mean</th>
                  <th className="num">p50 / p95</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((r, i) => (
                  <tr key={`${tsToMs(r.bucketStart)}-${groupLabel(r, dims)}-${i}`}>
                    {lead === 0 && <td className="muted">all</td>}
                    {granularity !== Granularity.TOTAL && <td className="nowrap">{dateTime(r.bucketStart).slice(0, 16)}</td>}
                    {dims.map((d, j) => (
                      <td key={d}>
                        {r.group[d] || <span className="muted">(none)</span>}
                        {j === 0 && granularity === Granularity.TOTAL && <ShareBar value={Number(r.requests)} max={maxRequests} />}
                      </td>
                    ))}
                    <td className="num">{count(r.requests)}</td>
                    <td className="num">{count(r.failures)}</td>
                    <td className="num">{count(r.fallbacks)}</td>
                    <td className="num">{count(r.cacheHits)}</td>
                    <td className="num">{count(r.usage?.inputTokens)}</td>
                    <td className="num">{count(r.usage?.outputTokens)}</td>
                    {withUnits && <td className="nowrap">{unitsLabel(rowUnits(r)) || <span className="muted">–</span>}</td>}
                    <td className="num">{usd(r.cost?.totalNanoUsd)}</td>
                    <td className="num">{ms(r.meanLatencyMs)}</td>
                    <td className="num">{r.p95LatencyMs ? `${ms(r.p50LatencyMs)} / ${ms(r.p95LatencyMs)}` : "–"}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr
                  data-testid="usage-totals"
                  data-requests={totals.requests}
                  data-failures={totals.failures}
                  data-fallbacks={totals.fallbacks}
                  data-cache-hits={totals.cacheHits}
                  data-input-tokens={totals.inputTokens}
                  data-output-tokens={totals.outputTokens}
                  data-cost-nanos={String(totals.costNanos)}
                  data-images={totals.images}
                  data-audio-seconds={totals.audioSeconds}
                  data-characters={totals.characters}
                  data-searches={totals.searches}
                  data-pages={totals.pages}
                  data-request-cost-nanos={String(totals.requestCostNanos)}
                >
                  <th colSpan={Math.max(1, lead)}>Total</th>
                  <th className="num">{count(totals.requests)}</th>
                  <th className="num">{count(totals.failures)}</th>
                  <th className="num">{count(totals.fallbacks)}</th>
                  <th className="num">{count(totals.cacheHits)}</th>
                  <th className="num">{count(totals.inputTokens)}</th>
                  <th className="num">{count(totals.outputTokens)}</th>
                  {withUnits && <th className="nowrap">{unitsLabel(totals)}</th>}
                  <th className="num">{usd(totals.costNanos)}</th>
                  <th colSpan={2} />
                </tr>
              </tfoot>
            </table>
          </div>
        )}
        {pages > 1 && (
          <div className="pager">
            <button type="button" onClick={() => setPage(page - 1)} disabled={page <= 1}>
              ← Previous
            </button>
            <span className="muted">
              Rows {(page - 1) * PAGE + 1}–{Math.min(page * PAGE, sorted.length)} of {sorted.length}
            </span>
            <button type="button" onClick={() => setPage(page + 1)} disabled={page >= pages}>
              Next →
            </button>
          </div>
        )}
      </Card>
      <FeedbackCard win={win} filters={filters} />
    </>
  );
}

/** What the Feedback card groups by (variant first: comparing an A/B split's variants). */
const FEEDBACK_GROUPS: { value: string; label: string; d: Dimension }[] = [
  { value: "variant", label: "Variant", d: Dimension.VARIANT },
  { value: "deployment", label: "Deployment", d: Dimension.DEPLOYMENT },
  { value: "route", label: "Route", d: Dimension.ROUTE },
  { value: "team", label: "Team", d: Dimension.TEAM },
  { value: "key", label: "Key", d: Dimension.KEY },
];
/** The dimensions feedback is kept by: the page's filters on others (tag, status, operation) do not apply to it. */
const FEEDBACK_FILTERABLE = new Set<Dimension>([Dimension.KEY, Dimension.TEAM, Dimension.USER, Dimension.ROUTE, Dimension.DEPLOYMENT, Dimension.PROVIDER, Dimension.VARIANT]);
/** A mean score, signed, to two places: "+0.50", "-1.00", "0.00". */
const score = (v: number) => `${v > 0 ? "+" : ""}${v.toFixed(2)}`;

/** Scores given in the page's range (by when they were given), grouped by one dimension; the page's filters on feedback's dimensions apply. */
function FeedbackCard({ win, filters }: { win: Window; filters: Filter[] }) {
  const [group, setGroup] = useState("variant");
  const g = FEEDBACK_GROUPS.find((x) => x.value === group)!;
  const applied = filters.filter((f) => FEEDBACK_FILTERABLE.has(f.dimension));
  const ignored = filters.filter((f) => !FEEDBACK_FILTERABLE.has(f.dimension));
  const q = useQuery(UsageService.method.getFeedbackSummary, { ...windowInput(win), groupBy: [g.d], filters: applied });
  const rows = useMemo(() => [...(q.data?.rows ?? NO_FEEDBACK)].sort((a, b) => Number(b.count - a.count) || (a.group[g.value] ?? "").localeCompare(b.group[g.value] ?? "")), [q.data, g.value]);
  const total = rows.reduce((n, r) => n + Number(r.count), 0);
  return (
    <div data-testid="feedback-summary" data-group-by={g.value} data-state={q.isPending ? "loading" : q.error ? "error" : rows.length ? "rows" : "empty"}>
      <Card title="Feedback" actions={<Segmented name="Feedback group by" value={group} options={FEEDBACK_GROUPS} onChange={setGroup} />}>
        <p className="muted small">
          Scores given in this range (SubmitFeedback, or POST /v1/feedback): -10 to 10, a thumbs up being +1 and down -1; the weighted mean counts each score by its weight.
          {ignored.length > 0 && ` The ${ignored.map((f) => dimensionName(f.dimension)).join(" and ")} filter does not apply to feedback.`}
        </p>
        <ErrorBox error={q.error} />
        {q.isPending ? (
          <Loading />
        ) : q.error ? null : rows.length === 0 ? (
          <Empty>No feedback in this range.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table dense" data-testid="feedback-table">
              <thead>
                <tr>
                  <th>{g.value}</th>
                  <th className="num">Count</th>
                  <th className="num" title="Scores above 0 (👍)">Positive</th>
                  <th className="num" title="Scores below 0 (👎)">Negative</th>
                  <th className="num">Mean</th>
                  <th className="num">Weighted mean</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => {
                  const name = r.group[g.value] ?? "";
                  return (
                    <tr
                      key={name}
                      data-testid="feedback-row"
                      data-group={name}
                      data-count={String(r.count)}
                      data-positive={String(r.positive)}
                      data-negative={String(r.negative)}
                      data-mean={String(r.meanValue)}
                      data-weighted-mean={String(r.weightedMeanValue)}
                    >
                      <td>
                        {name || <span className="muted">(none)</span>}
                        <ShareBar value={Number(r.count)} max={total} />
                      </td>
                      <td className="num">{count(r.count)}</td>
                      <td className="num">{count(r.positive)}</td>
                      <td className="num">{count(r.negative)}</td>
                      <td className="num">{score(r.meanValue)}</td>
                      <td className="num">{score(r.weightedMeanValue)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

/** Filters as chips; a new one is a dimension and comma-separated values. */
function FilterEditor({ filters, onChange }: { filters: Filter[]; onChange: (f: Filter[]) => void }) {
  const [dim, setDim] = useState<Dimension>(DIMENSIONS[0].value);
  const [values, setValues] = useState("");
  const add = () => {
    const vs = values
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean);
    if (!vs.length) return;
    onChange([...filters.filter((f) => f.dimension !== dim), { dimension: dim, values: vs }]);
    setValues("");
  };
  return (
    <form
      className="toolbar filters"
      onSubmit={(e) => {
        e.preventDefault();
        add();
      }}
    >
      <span className="field-label">Filters</span>
      {filters.map((f) => (
        <span key={f.dimension} className="chip on">
          {dimensionName(f.dimension)} = {f.values.join(" | ")}
          <button type="button" className="icon" aria-label={`Remove ${dimensionName(f.dimension)} filter`} onClick={() => onChange(filters.filter((x) => x !== f))}>
            ×
          </button>
        </span>
      ))}
      <select value={dim} onChange={(e) => setDim(Number(e.target.value) as Dimension)} aria-label="Filter dimension">
        {DIMENSIONS.map((d) => (
          <option key={d.value} value={d.value}>
            {d.label}
          </option>
        ))}
      </select>
      <input value={values} onChange={(e) => setValues(e.target.value)} placeholder="values, comma-separated" aria-label="Filter values" />
      <button type="submit" disabled={!values.trim()}>
        Add filter
      </button>
    </form>
  );
}
