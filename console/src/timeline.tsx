// A request's attempts on one time axis: a bar per attempt from its start time for its latency,
// so retries and fallbacks line up one after another and hedged attempts overlap.

import { type Attempt, AttemptOutcome, FailureKindSchema } from "@signalbox/client";
import { enumName, ms, tsToMs, usd } from "./format.ts";

const OUTCOME: Record<number, { label: string; tone: string }> = {
  [AttemptOutcome.SUCCEEDED]: { label: "succeeded", tone: "ok" },
  [AttemptOutcome.FAILED]: { label: "failed", tone: "bad" },
  [AttemptOutcome.CANCELED]: { label: "cancelled", tone: "warn" },
};

export const outcomeName = (a: Attempt) => OUTCOME[a.outcome]?.label ?? "unknown";
export const failureName = (a: Attempt) => enumName(FailureKindSchema, a.failureKind, "FAILURE_KIND_");

export function AttemptTimeline({ attempts }: { attempts: readonly Attempt[] }) {
  if (attempts.length === 0) return <div className="empty">No upstream attempt (answered from the cache, or refused before any call).</div>;
  // Attempts without a start time are laid end to end.
  let cursor = 0;
  const spans = attempts.map((a) => {
    const start = tsToMs(a.startTime);
    const s = start ?? cursor;
    cursor = s + a.latencyMs;
    return { a, start: s };
  });
  const t0 = Math.min(...spans.map((x) => x.start));
  const total = Math.max(1, ...spans.map((x) => x.start - t0 + x.a.latencyMs));
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="timeline" data-testid="timeline">
      <div className="timeline-axis">
        <div />
        <div className="timeline-ticks">
          {ticks.map((t) => (
            <span key={t} style={{ left: `${t * 100}%` }}>
              {ms(t * total)}
            </span>
          ))}
        </div>
      </div>
      {spans.map(({ a, start }) => {
        const o = OUTCOME[a.outcome] ?? { label: "unknown", tone: "muted" };
        const left = ((start - t0) / total) * 100;
        const width = Math.max(0.6, (a.latencyMs / total) * 100);
        const why = failureName(a);
        return (
          <div
            className="timeline-row"
            key={a.number}
            data-testid="attempt-bar"
            data-number={a.number}
            data-deployment={a.deployment}
            data-outcome={o.label}
            data-failure-kind={why}
            data-hedged={a.hedged ? "true" : "false"}
          >
            <div className="timeline-label">
              <span className="muted">#{a.number}</span> <strong>{a.deployment}</strong>
              <div className="muted small">{a.reason || "primary"}</div>
            </div>
            <div className="timeline-track">
              <div className={`timeline-bar tone-${o.tone}`} style={{ left: `${left}%`, width: `${width}%` }} title={`${a.deployment}: ${ms(a.latencyMs)}, ${o.label}${why ? ` (${why})` : ""}`} />
              <div className="timeline-text" style={{ marginLeft: `${Math.min(left, 60)}%` }}>
                {ms(a.latencyMs)} · {o.label}
                {why && ` · ${why}`}
                {a.httpStatus ? ` · HTTP ${a.httpStatus}` : ""}
                {a.hedged && " · hedged"}
                {a.cost && a.cost.totalNanoUsd > 0n && ` · ${usd(a.cost.totalNanoUsd)}`}
              </div>
              {a.errorMessage && (
                <div className="timeline-error small" style={{ marginLeft: `${Math.min(left, 60)}%` }}>
                  {a.errorMessage}
                </div>
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}
