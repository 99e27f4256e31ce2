// Mirrors: UsageService.GetMirrorReport over a time range, optionally one route's. A route with
// `mirror` sends a copy of its chat requests to a candidate (the mirror's target) once each has
// ended; each route → target pair gets a card: how many were mirrored and compared, how alike the
// answers were, where one side answered and the other failed, the two sides side by side (answered,
// failed, latencies, output tokens, cost, deployments), and the least alike pairs, each request
// opening on the Requests page.

import { useQuery } from "@connectrpc/connect-query";
import { type MirrorPair, type MirrorSideSummary, type MirrorSummary, UsageService } from "@signalbox/client";
import { type FormEvent, useState } from "react";
import { useSession } from "../context.ts";
import { count, dateTime, ms, shortTime, usd } from "../format.ts";
import { Link } from "../router.tsx";
import { traceLink } from "../session.ts";
import { Card, Empty, ErrorBox, Field, Loading, PageHeader, Segmented } from "../ui.tsx";
import { type RangeName, windowFor, windowInput } from "../usage.ts";

type MirrorRange = Extract<RangeName, "1h" | "24h" | "7d">;
const RANGES: { value: MirrorRange; label: string }[] = [
  { value: "1h", label: "1 hour" },
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
];
const LEAST_ALIKE = 5;
const NO_SUMMARIES: MirrorSummary[] = [];

/** A request's page on the Requests page (its detail). */
const requestPath = (id: string) => `requests/${encodeURIComponent(id)}`;

export function MirrorsPage() {
  const [range, setRange] = useState<MirrorRange>("24h");
  const [draftRoute, setDraftRoute] = useState("");
  // The applied query: the window is fixed when asked for (a moving one would refetch forever).
  const [applied, setApplied] = useState(() => ({ route: "", win: windowFor("24h") }));
  const q = useQuery(UsageService.method.getMirrorReport, { ...windowInput(applied.win), route: applied.route, leastAlike: LEAST_ALIKE });
  const summaries = q.data?.summaries ?? NO_SUMMARIES;

  const apply = (e?: FormEvent) => {
    e?.preventDefault();
    setApplied({ route: draftRoute.trim(), win: windowFor(range) });
  };
  const pickRange = (r: MirrorRange) => {
    setRange(r);
    setApplied({ route: draftRoute.trim(), win: windowFor(r) });
  };
  const clearRoute = () => {
    setDraftRoute("");
    setApplied({ route: "", win: windowFor(range) });
  };
  const state = q.isPending ? "loading" : q.error ? "error" : summaries.length ? "rows" : "empty";

  return (
    <>
      <PageHeader
        title="Mirrors"
        subtitle="Routes' requests copied to a candidate model: how the copies fared against the route's own answers."
        actions={
          <>
            <Segmented name="Range" value={range} options={RANGES} onChange={pickRange} />
            <button type="button" onClick={() => apply()}>
              Refresh
            </button>
          </>
        }
      />
      <Card>
        <form className="toolbar" onSubmit={apply} aria-label="Mirror filters">
          <Field label="Route">
            <input name="route" value={draftRoute} onChange={(e) => setDraftRoute(e.target.value)} placeholder="every route" />
          </Field>
          <div className="filter-actions">
            <button type="submit" className="primary">
              Apply
            </button>
            <button type="button" onClick={clearRoute} disabled={!draftRoute && !applied.route}>
              Clear
            </button>
          </div>
        </form>
      </Card>
      <ErrorBox error={q.error} />
      <div data-testid="mirrors" data-state={state} data-route={applied.route} data-range={range} data-start={applied.win.start} data-records-read={q.data ? String(q.data.recordsRead) : ""}>
        {q.isPending ? (
          <Card>
            <Loading what="Loading mirrors" />
          </Card>
        ) : q.error ? null : (
          <>
            {q.data?.truncated && (
              <div className="warning" data-testid="mirrors-truncated" role="status">
                More mirrored requests fell in this range than one report reads: only the newest {count(q.data.recordsRead)} were read.
              </div>
            )}
            {summaries.length === 0 ? (
              <Card>
                <Empty>
                  <span data-testid="mirrors-empty">
                    No mirrored requests in this range{applied.route ? <> for route <code>{applied.route}</code></> : null}. Add <code>{"mirror: {target: …}"}</code> to a route to compare a candidate model on real traffic.
                  </span>
                </Empty>
              </Card>
            ) : (
              summaries.map((s) => <SummaryCard key={`${s.route}→${s.target}`} s={s} />)
            )}
          </>
        )}
      </div>
    </>
  );
}

function SummaryCard({ s }: { s: MirrorSummary }) {
  return (
    <div data-testid="mirror-summary" data-route={s.route} data-target={s.target} data-count={String(s.count)} data-compared={String(s.compared)} data-mirror-failed-only={String(s.mirrorFailedOnly)} data-mirror-answered-only={String(s.mirrorAnsweredOnly)}>
      <Card
        title={
          <>
            <code>{s.route}</code> → <code>{s.target}</code>
          </>
        }
      >
        <div className="stats" style={{ marginBottom: 12 }}>
          <Figure label="Mirrored" value={count(s.count)} testId="mirror-count" />
          <Figure label="Compared" value={count(s.compared)} hint="both answered" testId="mirror-compared" />
          <Figure label="Mean similarity" value={s.compared > 0n ? s.meanSimilarity.toFixed(3) : "–"} hint="words in common" testId="mirror-similarity" />
          {s.semanticCompared > 0n && <Figure label="Mean similarity in meaning" value={s.meanSemanticSimilarity.toFixed(3)} hint={`embeddings of ${count(s.semanticCompared)} pairs`} testId="mirror-semantic" />}
          <Figure label="Mirror failed where route answered" value={count(s.mirrorFailedOnly)} testId="mirror-failed-only" />
          <Figure label="Answered where route failed" value={count(s.mirrorAnsweredOnly)} testId="mirror-answered-only" />
          {s.judged > 0n && (
            <Figure
              label="Judge: mirror better / route better / tie"
              value={`${count(s.mirrorBetter)} / ${count(s.routeBetter)} / ${count(s.ties)}`}
              hint={`of ${count(s.judged)} judged${s.judged > s.mirrorBetter + s.routeBetter + s.ties ? `, ${count(s.judged - s.mirrorBetter - s.routeBetter - s.ties)} without a verdict` : ""}`}
              testId="mirror-verdicts"
            />
          )}
        </div>
        <div className="table-wrap">
          <table className="table dense" data-testid="mirror-sides">
            <thead>
              <tr>
                <th>Side</th>
                <th className="num">Answered</th>
                <th className="num">Failed</th>
                <th className="num">p50</th>
                <th className="num">p95</th>
                <th className="num">TTFT p50</th>
                <th className="num">Output tokens</th>
                <th className="num">Cost</th>
                <th>Answered by</th>
              </tr>
            </thead>
            <tbody>
              <SideRow side="route" label={`Route (${s.route})`} v={s.primary} />
              <SideRow side="mirror" label={`Mirror (${s.target})`} v={s.mirror} />
            </tbody>
          </table>
        </div>
        <h3>Least alike</h3>
        {s.leastAlike.length === 0 ? <Empty>No pair where both answered.</Empty> : <PairsTable pairs={s.leastAlike} testId="mirror-pairs" />}
        {s.judged > 0n && (
          <>
            <h3>Where the judge preferred the route's answer</h3>
            {s.routeBetterPairs.length === 0 ? <Empty>None: the mirror's answer was as good or better each time.</Empty> : <PairsTable pairs={s.routeBetterPairs} testId="mirror-route-better" />}
          </>
        )}
      </Card>
    </div>
  );
}

const VERDICT: Record<string, string> = { mirror: "mirror better", route: "route better", tie: "as good", failed: "no verdict" };

function PairsTable({ pairs, testId }: { pairs: MirrorPair[]; testId: string }) {
  const { settings } = useSession();
  const judged = pairs.some((p) => p.verdict);
  const meaning = pairs.some((p) => p.semanticSimilarity !== undefined);
  return (
      <div className="table-wrap">
        <table className="table dense" data-testid={testId}>
          <thead>
            <tr>
              <th>Time</th>
              <th>Request</th>
              <th>Mirror</th>
              <th className="num">Similarity</th>
              {meaning && <th className="num">In meaning</th>}
              {judged && <th>Verdict</th>}
              <th>Trace</th>
            </tr>
          </thead>
          <tbody>
            {pairs.map((p) => {
              const trace = traceLink(settings, p.mirrorTraceId);
              return (
                <tr key={p.mirrorRequestId || p.requestId} data-testid="mirror-pair" data-request-id={p.requestId} data-mirror-request-id={p.mirrorRequestId} data-similarity={p.similarity.toFixed(3)}>
                  <td className="nowrap" title={dateTime(p.time)}>
                    {shortTime(p.time)}
                  </td>
                  <td>
                    <Link to={requestPath(p.requestId)} data-testid="mirror-pair-request">
                      <code>{p.requestId}</code>
                    </Link>
                  </td>
                  <td>
                    {p.mirrorRequestId ? (
                      <Link to={requestPath(p.mirrorRequestId)} data-testid="mirror-pair-mirror">
                        <code>{p.mirrorRequestId}</code>
                      </Link>
                    ) : (
                      <span className="muted">–</span>
                    )}
                  </td>
                  <td className="num">{p.similarity.toFixed(3)}</td>
                  {meaning && <td className="num">{p.semanticSimilarity === undefined ? "–" : p.semanticSimilarity.toFixed(3)}</td>}
                  {judged && (
                    <td data-testid="mirror-pair-verdict" title={p.verdictReason}>
                      {p.verdict ? VERDICT[p.verdict] ?? p.verdict : "–"}
                      {p.verdictReason && <div className="muted small">{p.verdictReason}</div>}
                    </td>
                  )}
                  <td>
                    {trace ? (
                      <a href={trace} target="_blank" rel="noreferrer">
                        mirror's trace
                      </a>
                    ) : p.mirrorTraceId ? (
                      <code className="muted small">{p.mirrorTraceId}</code>
                    ) : (
                      <span className="muted">–</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
  );
}

function Figure({ label, value, hint, testId }: { label: string; value: string; hint?: string; testId: string }) {
  return (
    <div className="stat" data-testid={testId} data-value={value}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  );
}

function SideRow({ side, label, v }: { side: "route" | "mirror"; label: string; v: MirrorSideSummary | undefined }) {
  const deployments = Object.entries(v?.deployments ?? {}).sort((a, b) => Number(b[1] - a[1]) || a[0].localeCompare(b[0]));
  const answered = (v?.ok ?? 0n) > 0n;
  return (
    <tr data-testid="mirror-side" data-side={side} data-ok={String(v?.ok ?? 0n)} data-failed={String(v?.failed ?? 0n)}>
      <th scope="row" className="nowrap">
        {label}
      </th>
      <td className="num">{count(v?.ok)}</td>
      <td className="num">{count(v?.failed)}</td>
      <td className="num">{answered ? ms(v?.p50LatencyMs) : "–"}</td>
      <td className="num">{answered ? ms(v?.p95LatencyMs) : "–"}</td>
      <td className="num">{v?.p50TtftMs ? ms(v.p50TtftMs) : "–"}</td>
      <td className="num">{count(v?.outputTokens)}</td>
      <td className="num">{usd(v?.costNanoUsd)}</td>
      <td>{deployments.length ? deployments.map(([d, n]) => `${d} (${count(n)})`).join(", ") : <span className="muted">–</span>}</td>
    </tr>
  );
}
