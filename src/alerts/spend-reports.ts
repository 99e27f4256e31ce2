// Spend reports: a closed day's, week's or month's spending sent to an alert sink (a Slack channel,
// any JSON webhook), as LiteLLM's daily and weekly spend reports are: the period's requests,
// failures, tokens and cost against the period before, its top spenders by team (or key, route,
// deployment, user, tag) and its costliest deployments, read from the usage store (every replica's
// records: Redis or PostgreSQL when configured).
//
// When: the first check (every minute, off the request path) at least `delay_minutes` after the
// period closes (so the last records have landed), within the hour after. One replica sends it
// with Redis (the report's period is claimed, SET NX PX, as alerts are); without Redis each replica
// sends its own, and a gateway down for that whole hour sends none for that period.

import type { Alerter, ReportTotals, SpendReport } from "./alerts.ts";
import type { AlertConfig, SpendReportConfig } from "../config/types.ts";
import { periodBounds } from "../limits/periods.ts";
import { GatewayError } from "../router/errors.ts";
import { log } from "../telemetry/log.ts";
import type { UsageRow, UsageStore } from "../usage/store.ts";

/** How long after its time a report is still sent (a replica that was down for less still sends it). */
export const SEND_WINDOW_MS = 3_600_000;
const CHECK_EVERY_MS = 60_000;

const totalsOf = (rows: readonly UsageRow[]): ReportTotals =>
  rows.reduce<ReportTotals>(
    (t, r) => ({
      requests: t.requests + r.requests,
      failures: t.failures + r.failures,
      costNanos: t.costNanos + Number(r.cost.total),
      inputTokens: t.inputTokens + Number(r.usage.inputTokens),
      outputTokens: t.outputTokens + Number(r.usage.outputTokens),
    }),
    { requests: 0, failures: 0, costNanos: 0, inputTokens: 0, outputTokens: 0 },
  );

/** The period a report covers when checked at `now`: the last one closed, and when it is due. */
export function duePeriod(cfg: SpendReportConfig, now: number): { start: number; end: number; dueAt: number } {
  const current = periodBounds(cfg.period, now);
  const last = periodBounds(cfg.period, current.start - 1);
  return { start: last.start, end: last.end, dueAt: last.end + cfg.delayMinutes * 60_000 };
}

/** Build one report of the period [start, end) from the usage store. */
export async function buildReport(store: UsageStore, cfg: SpendReportConfig, start: number, end: number): Promise<SpendReport> {
  const previous = periodBounds(cfg.period, start - 1);
  const q = (s: number, e: number, groupBy: string[]) => store.query({ start: s, end: e, granularity: "total", groupBy: groupBy as never, filters: [] });
  const [total, before, groups, deployments] = await Promise.all([q(start, end, []), q(previous.start, previous.end, []), q(start, end, [cfg.groupBy]), q(start, end, ["deployment"])]);
  const ranked = (rows: readonly UsageRow[], dim: string) =>
    rows
      .map((r) => ({ name: (r.group as Record<string, string>)[dim] ?? "", ...totalsOf([r]) }))
      .sort((a, b) => b.costNanos - a.costNanos || b.requests - a.requests || a.name.localeCompare(b.name))
      .slice(0, cfg.top);
  return {
    report: cfg.name,
    period: cfg.period,
    periodStart: start,
    periodEnd: end,
    total: totalsOf(total.rows),
    previous: totalsOf(before.rows),
    groupBy: cfg.groupBy,
    top: ranked(groups.rows, cfg.groupBy),
    deployments: ranked(deployments.rows, "deployment").slice(0, 5),
  };
}

export interface SpendReports {
  /** Check every report now (the timer's work; tests pass a time of their own): resolves to the reports sent. */
  check(now?: number): Promise<SpendReport[]>;
  /** Build and send one report of the period that closed before `now`, whatever the time (AdminService.SendSpendReport, tests): the report, and why it was not delivered. */
  sendNow(name: string, now?: number): Promise<SpendReport & { error?: string }>;
  start(): void;
  stop(): void;
}

export function createSpendReports(deps: {
  reports: () => readonly SpendReportConfig[];
  sinks: () => readonly AlertConfig[];
  store: () => UsageStore | undefined;
  alerts: Alerter;
  claim?: (condition: string, ttlMs: number) => Promise<boolean>;
}): SpendReports {
  const sent = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  async function send(cfg: SpendReportConfig, start: number, end: number): Promise<SpendReport & { error?: string }> {
    const store = deps.store();
    if (!store) throw new Error("no usage store");
    const sink = deps.sinks().find((s) => s.name === cfg.alert);
    if (!sink) throw new Error(`spend report "${cfg.name}": no alert sink "${cfg.alert}"`);
    const report = await buildReport(store, cfg, start, end);
    const why = await deps.alerts.deliverTo?.(sink, { event: "spend_report", ...report });
    log(why === undefined ? "info" : "warn", why === undefined ? "spend report sent" : "spend report not delivered", { report: cfg.name, alert: sink.name, period_start: new Date(start).toISOString(), ...(why ? { error: why } : {}) });
    return why === undefined ? report : { ...report, error: why };
  }

  const reports: SpendReports = {
    async check(now = Date.now()) {
      const out: SpendReport[] = [];
      for (const cfg of deps.reports()) {
        const p = duePeriod(cfg, now);
        if (now < p.dueAt || now >= p.dueAt + SEND_WINDOW_MS) continue;
        const key = `${cfg.name}\n${cfg.period}\n${p.start}`;
        if (sent.has(key)) continue;
        sent.add(key);
        if (sent.size > 1000) sent.delete(sent.values().next().value!);
        // With Redis, the first replica to claim the period sends it; a claim that fails sends anyway.
        const mine = deps.claim ? await deps.claim(`spend_report\n${key}`, SEND_WINDOW_MS + 60_000).catch(() => true) : true;
        if (!mine) continue;
        out.push(await send(cfg, p.start, p.end));
      }
      return out;
    },
    async sendNow(name, now = Date.now()) {
      const cfg = deps.reports().find((r) => r.name === name);
      if (!cfg) throw new GatewayError("not_found", `name: no spend report "${name}" (spend_reports in force: ${deps.reports().map((r) => r.name).join(", ") || "none"})`, { field: "name" });
      const p = duePeriod(cfg, now);
      return send(cfg, p.start, p.end);
    },
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (deps.reports().length === 0) return;
        reports.check().catch((err: unknown) => log("warn", "spend reports failed", { error: String((err as Error)?.message ?? err) }));
      }, CHECK_EVERY_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
  return reports;
}
