// Overview: requests, errors, fallbacks, cost, tokens and latency (p50 / p95 from the usage store's
// latency histogram, and the mean) over 24 h / 7 d / 30 d, and the top teams, routes and
// deployments of the same window.

import { useQuery } from "@connectrpc/connect-query";
import { Dimension, Granularity, UsageService, type UsageRow } from "@signalbox/client";
import { useMemo, useState } from "react";
import { PALETTE, ShareBar, TimeChart } from "../chart.tsx";
import { count, ms, usd } from "../format.ts";
import { Card, Empty, ErrorBox, Loading, PageHeader, Segmented, Stat } from "../ui.tsx";
import { bucketTimes, granularityFor, latencySeries, RANGE_OPTIONS, type RangeName, seriesOf, sumRows, windowFor, windowInput } from "../usage.ts";

const NO_ROWS: UsageRow[] = [];
const nanoToUsd = (v: number) => `$${v < 0.01 && v > 0 ? v.toFixed(5) : v.toFixed(2)}`;
const compact = (v: number) => (Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : String(Math.round(v * 100) / 100));

export function OverviewPage() {
  const [range, setRange] = useState<RangeName>("24h");
  const [win, setWin] = useState(() => windowFor("24h"));
  const pick = (r: RangeName) => {
    setRange(r);
    setWin(windowFor(r));
  };
  const granularity = granularityFor(range);
  const base = windowInput(win);

  const series = useQuery(UsageService.method.getUsage, { ...base, granularity });
  const total = useQuery(UsageService.method.getUsage, { ...base, granularity: Granularity.TOTAL });

  const rows = series.data?.rows ?? NO_ROWS;
  const times = useMemo(() => bucketTimes(rows, win, granularity), [rows, win, granularity]);
  const charts = useMemo(() => {
    const n = (f: (r: UsageRow) => bigint | number | undefined) => seriesOf(rows, times, (r) => Number(f(r) ?? 0));
    return {
      traffic: [
        { label: "Requests", values: n((r) => r.requests), color: PALETTE[0] },
        { label: "Errors", values: n((r) => r.failures), color: PALETTE[1] },
        { label: "Fallbacks", values: n((r) => r.fallbacks), color: PALETTE[2] },
      ],
      cost: [{ label: "Cost (USD)", values: n((r) => r.cost?.totalNanoUsd).map((v) => v / 1e9), color: PALETTE[3], bars: true }],
      tokens: [
        { label: "Input tokens", values: n((r) => r.usage?.inputTokens), color: PALETTE[4] },
        { label: "Output tokens", values: n((r) => r.usage?.outputTokens), color: PALETTE[6] },
      ],
      latency: [
        { label: "p50", values: latencySeries(rows, times, (r) => r.p50LatencyMs || null), color: PALETTE[0], points: true },
        { label: "p95", values: latencySeries(rows, times, (r) => r.p95LatencyMs || null), color: PALETTE[1], points: true },
        { label: "mean", values: latencySeries(rows, times, (r) => r.meanLatencyMs), color: PALETTE[8], points: true },
      ],
    };
  }, [rows, times]);

  const all = total.data?.rows ?? NO_ROWS;
  const t = sumRows(all);
  const overall = all.length === 1 ? all[0] : undefined;
  const refreshing = series.isFetching || total.isFetching;

  return (
    <>
      <PageHeader
        title="Overview"
        subtitle={`Traffic through the gateway over the last ${RANGE_OPTIONS.find((o) => o.value === range)?.label}, in ${granularity === Granularity.HOUR ? "hourly" : "daily"} buckets.`}
        actions={
          <>
            <Segmented name="Range" value={range} options={RANGE_OPTIONS} onChange={pick} />
            <button type="button" onClick={() => setWin(windowFor(range))} disabled={refreshing}>
              {refreshing ? "Refreshing…" : "Refresh"}
            </button>
          </>
        }
      />
      <ErrorBox error={series.error ?? total.error} />
      <div
        className="stats"
        data-testid="totals"
        data-requests={t.requests}
        data-errors={t.failures}
        data-fallbacks={t.fallbacks}
        data-cache-hits={t.cacheHits}
        data-p50-ms={overall?.p50LatencyMs ?? 0}
        data-p95-ms={overall?.p95LatencyMs ?? 0}
        data-loaded={total.data ? "true" : "false"}
      >
        <Stat label="Requests" value={count(t.requests)} hint={`${count(t.cacheHits)} from cache`} testId="stat-requests" />
        <Stat label="Errors" value={count(t.failures)} hint={t.requests ? `${((t.failures / t.requests) * 100).toFixed(1)}% of requests` : "–"} testId="stat-errors" />
        <Stat label="Fallbacks" value={count(t.fallbacks)} hint={`${count(t.attempts)} upstream attempts`} testId="stat-fallbacks" />
        <Stat label="Cost" value={usd(t.costNanos)} hint="billed by providers" testId="stat-cost" />
        <Stat label="Tokens" value={compact(t.totalTokens)} hint={`${compact(t.inputTokens)} in · ${compact(t.outputTokens)} out`} testId="stat-tokens" />
        <Stat
          label="p50 / p95 latency"
          value={overall && overall.p95LatencyMs > 0 ? `${ms(overall.p50LatencyMs)} / ${ms(overall.p95LatencyMs)}` : "–"}
          hint={overall ? `mean ${ms(overall.meanLatencyMs)}${overall.p95LatencyMs > 0 ? "" : " (no latency histogram in this range)"}` : undefined}
          testId="stat-latency"
        />
      </div>

      {series.isPending ? (
        <Loading what="Loading usage" />
      ) : (
        <div className="grid-2">
          <Card title="Requests, errors and fallbacks">
            <TimeChart times={times} series={charts.traffic} format={compact} testId="chart-requests" />
          </Card>
          <Card title="Cost">
            <TimeChart times={times} series={charts.cost} format={nanoToUsd} testId="chart-cost" />
          </Card>
          <Card title="Tokens">
            <TimeChart times={times} series={charts.tokens} format={compact} testId="chart-tokens" />
          </Card>
          <Card title="Latency">
            <TimeChart times={times} series={charts.latency} format={(v) => ms(v)} testId="chart-latency" />
          </Card>
        </div>
      )}

      <div className="grid-3">
        <TopTable title="Top teams" dimension={Dimension.TEAM} name="team" base={base} />
        <TopTable title="Top routes" dimension={Dimension.ROUTE} name="route" base={base} />
        <TopTable title="Top deployments" dimension={Dimension.DEPLOYMENT} name="deployment" base={base} />
      </div>
    </>
  );
}

/** The ten largest groups of one dimension over the window, by requests. */
function TopTable({ title, dimension, name, base }: { title: string; dimension: Dimension; name: string; base: ReturnType<typeof windowInput> }) {
  const q = useQuery(UsageService.method.getUsage, { ...base, granularity: Granularity.TOTAL, groupBy: [dimension] });
  const rows = [...(q.data?.rows ?? [])].sort((a, b) => Number(b.requests - a.requests)).slice(0, 10);
  const max = Number(rows[0]?.requests ?? 0);
  return (
    <Card title={title}>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>No requests in this window.</Empty>
      ) : (
        <table className="table compact" data-testid={`top-${name}`}>
          <thead>
            <tr>
              <th>{name[0].toUpperCase() + name.slice(1)}</th>
              <th className="num">Requests</th>
              <th className="num">Errors</th>
              <th className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.group[name] ?? ""} data-name={r.group[name]} data-requests={String(r.requests)}>
                <td>
                  <div className="name">{r.group[name] || "(none)"}</div>
                  <ShareBar value={Number(r.requests)} max={max} />
                </td>
                <td className="num">{count(r.requests)}</td>
                <td className="num">{count(r.failures)}</td>
                <td className="num">{usd(r.cost?.totalNanoUsd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}
