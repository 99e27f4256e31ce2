// Alerts: what a platform team wants to hear about without watching a dashboard, POSTed to the
// webhooks in `alerts` (Slack's incoming webhooks, or any endpoint taking JSON): a budget past its
// soft threshold, a budget exhausted (a request refused for it), a deployment put into cooldown,
// Redis unavailable to the limiter (limits and budgets fall back to each replica) and back,
// PostgreSQL unavailable to the usage writer (records wait in its buffer) and back, and that
// buffer full (records dropped).
//
// Off the request path: emit() queues and returns; delivery has a timeout and one retry, and a
// failure is logged by the sink's name, never its URL or headers (webhook URLs carry tokens). Each
// condition is sent once per replica (conditionOf): a budget's once per period, a deployment's
// cooldown at most once per quiet interval however often it flaps, a connection's each change of
// state. With a shared store (`claim`: Redis, SET NX PX) one replica sends a budget's or a
// deployment's; a replica's own connections are its own to report.

import type { AlertConfig, AlertEventName } from "../config/types.ts";
import { periodBounds, type Period } from "../limits/periods.ts";
import { log } from "../telemetry/log.ts";

export type AlertEvent =
  | { event: "budget_soft_threshold"; budget: string; period: Period; periodStart: number; spentNanos: number; limitNanos: number; threshold: number }
  | { event: "budget_exhausted"; budget: string; period: Period; periodStart: number; spentNanos: number; limitNanos: number; key: string; team: string; model: string }
  | { event: "deployment_cooldown"; deployment: string; failureKind: string; until: number }
  | { event: "redis_unavailable" | "redis_recovered"; replica: string }
  | { event: "postgres_unavailable"; replica: string; reason: string }
  | { event: "postgres_recovered"; replica: string; downMs: number }
  | { event: "usage_records_dropped"; replica: string; maxBuffered: number }
  /** The secret managers could not be read again (src/config/secrets.ts): the values in force are kept. `reason` names the reference and the source's error, never a value. */
  | { event: "secrets_unavailable"; replica: string; reason: string }
  | { event: "secrets_recovered"; replica: string; downMs: number }
  /** A usage export (src/usage/export.ts) cannot write to its bucket: its records wait (in memory, or in its spool directory). `reason` is the store's error, never a credential. */
  | { event: "usage_export_failed"; replica: string; export: string; reason: string; pendingRecords: number }
  | { event: "usage_export_recovered"; replica: string; export: string; downMs: number }
  /** A deployment's, provider's or tag's spending cap (src/engine/spend-caps.ts): `budget` is "deployment:<id>", "provider:<name>" or "tag:<tag>". */
  | { event: "spend_cap_reached"; budget: string; period: Period; periodStart: number; spentNanos: number; limitNanos: number }
  /** A budget or spending cap that, at the pace of its period so far, will pass its limit before the period ends (src/alerts/budget-forecast.ts). */
  | { event: "budget_projected_exceeded"; budget: string; period: Period; periodStart: number; spentNanos: number; limitNanos: number; projectedNanos: number; exhaustedAt: number }
  /** A scheduled spend report (src/alerts/spend-reports.ts), sent to the sink its `spend_reports` entry names. */
  | ({ event: "spend_report" } & SpendReport);

/** What a spend report says: one closed period's totals against the one before, and its biggest spenders. */
export interface SpendReport {
  report: string;
  period: Exclude<Period, "lifetime">;
  periodStart: number;
  periodEnd: number;
  total: ReportTotals;
  previous: ReportTotals;
  /** The dimension `top` is grouped by (team, key, route, deployment, user, tag). */
  groupBy: string;
  top: (ReportTotals & { name: string })[];
  /** The deployments that cost most. */
  deployments: (ReportTotals & { name: string })[];
}

export interface ReportTotals {
  requests: number;
  failures: number;
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
}

export interface Alerter {
  emit(e: AlertEvent): void;
  /** Resolves once every alert queued so far was delivered or given up on. */
  flush(): Promise<void>;
  /**
   * Send a test event to one sink now, whatever events it subscribes to: one attempt, no dedupe,
   * no claim. `by` is who asked (a key name), `replica` this replica.
   */
  test(sink: AlertConfig, by: string, replica: string): Promise<AlertTestResult>;
  /** Deliver an event to one sink, whatever events it subscribes to (a spend report): with the retry, no dedupe. Resolves to why it failed, or undefined. */
  deliverTo?(sink: AlertConfig, e: AlertEvent): Promise<string | undefined>;
}

export interface AlertTestResult {
  delivered: boolean;
  /** Why not (never the sink's URL or headers). */
  error?: string;
  latencyMs: number;
}

export interface AlerterOptions {
  /** The sinks in force (read at each emit: a reload changes them). */
  sinks: () => readonly AlertConfig[];
  /** A deployment's next cooldown alert (and a replica's next dropped-records one) waits at least this long (ms). */
  cooldownQuietMs?: number;
  /** Wait before the one retry (ms). */
  retryDelayMs?: number;
  /**
   * Claim a condition across replicas for `ttlMs` (true: this replica sends it). A claim that
   * fails (the store away) sends anyway: a duplicate is better than silence.
   */
  claim?: (condition: string, ttlMs: number) => Promise<boolean>;
  clock?: () => number;
}

/** Deliveries in flight or waiting per sink; past this, alerts are dropped (and logged). */
const MAX_PENDING = 100;
/** Conditions remembered for dedupe; the oldest are forgotten past this. */
const MAX_SEEN = 10_000;

const usd = (nanos: number) => `$${(nanos / 1e9).toFixed(2)}`;
const PERIOD_ADJ: Record<Period, string> = { day: "daily", week: "weekly", month: "monthly", lifetime: "lifetime" };
/** A lifetime budget's condition never ends on its own: it is told again after this long. */
const LIFETIME_REPEAT_MS = 30 * 86_400_000;

/** "team:a" → team "a"; "key:ci" → key "ci". */
function owner(budget: string): string {
  const i = budget.indexOf(":");
  return i < 0 ? budget : `${budget.slice(0, i)} "${budget.slice(i + 1)}"`;
}

/** The event as JSON: snake_case, amounts in USD, times in ISO 8601. */
export function alertJson(e: AlertEvent, at: number): Record<string, unknown> {
  const base = { event: e.event, at: new Date(at).toISOString() };
  switch (e.event) {
    case "budget_soft_threshold":
      return { ...base, budget: e.budget, period: e.period, period_start: new Date(e.periodStart).toISOString(), spent_usd: e.spentNanos / 1e9, limit_usd: e.limitNanos / 1e9, threshold: e.threshold };
    case "budget_exhausted":
      return { ...base, budget: e.budget, period: e.period, period_start: new Date(e.periodStart).toISOString(), spent_usd: e.spentNanos / 1e9, limit_usd: e.limitNanos / 1e9, key: e.key, team: e.team, model: e.model };
    case "deployment_cooldown":
      return { ...base, deployment: e.deployment, failure_kind: e.failureKind, until: new Date(e.until).toISOString() };
    case "redis_unavailable":
    case "redis_recovered":
      return { ...base, replica: e.replica };
    case "postgres_unavailable":
      return { ...base, replica: e.replica, reason: e.reason };
    case "postgres_recovered":
      return { ...base, replica: e.replica, down_seconds: Math.round(e.downMs / 1000) };
    case "usage_records_dropped":
      return { ...base, replica: e.replica, max_buffered: e.maxBuffered };
    case "secrets_unavailable":
      return { ...base, replica: e.replica, reason: e.reason };
    case "secrets_recovered":
      return { ...base, replica: e.replica, down_seconds: Math.round(e.downMs / 1000) };
    case "usage_export_failed":
      return { ...base, replica: e.replica, export: e.export, reason: e.reason, pending_records: e.pendingRecords };
    case "usage_export_recovered":
      return { ...base, replica: e.replica, export: e.export, down_seconds: Math.round(e.downMs / 1000) };
    case "spend_cap_reached":
      return { ...base, budget: e.budget, period: e.period, period_start: new Date(e.periodStart).toISOString(), spent_usd: e.spentNanos / 1e9, limit_usd: e.limitNanos / 1e9 };
    case "spend_report": {
      const totals = (t: ReportTotals) => ({ requests: t.requests, failures: t.failures, cost_usd: t.costNanos / 1e9, input_tokens: t.inputTokens, output_tokens: t.outputTokens });
      return {
        ...base,
        report: e.report,
        period: e.period,
        period_start: new Date(e.periodStart).toISOString(),
        period_end: new Date(e.periodEnd).toISOString(),
        total: totals(e.total),
        previous: totals(e.previous),
        group_by: e.groupBy,
        top: e.top.map((t) => ({ [e.groupBy]: t.name, ...totals(t) })),
        deployments: e.deployments.map((t) => ({ deployment: t.name, ...totals(t) })),
      };
    }
    case "budget_projected_exceeded":
      return { ...base, budget: e.budget, period: e.period, period_start: new Date(e.periodStart).toISOString(), spent_usd: e.spentNanos / 1e9, limit_usd: e.limitNanos / 1e9, projected_usd: e.projectedNanos / 1e9, exhausted_at: new Date(e.exhaustedAt).toISOString() };
  }
}

/** One line for a chat channel (Slack's `text`). */
export function alertText(e: AlertEvent): string {
  switch (e.event) {
    case "budget_soft_threshold":
      return `:warning: Signalbox: ${owner(e.budget)} has spent ${usd(e.spentNanos)} of its ${PERIOD_ADJ[e.period]} budget of ${usd(e.limitNanos)} (${Math.round((100 * e.spentNanos) / e.limitNanos)}%, alert threshold ${Math.round(e.threshold * 100)}%).`;
    case "budget_exhausted":
      return `:no_entry: Signalbox: the ${PERIOD_ADJ[e.period]} budget of ${owner(e.budget)} (${usd(e.limitNanos)}) is exhausted: requests are refused ${e.period === "lifetime" ? "until it is raised" : "until it resets"} (first refused: key "${e.key}", team "${e.team}", model "${e.model}").`;
    case "deployment_cooldown":
      return `:rotating_light: Signalbox: deployment "${e.deployment}" is in cooldown until ${new Date(e.until).toISOString()} after ${e.failureKind} failures; its traffic goes to fallbacks.`;
    case "redis_unavailable":
      return `:rotating_light: Signalbox: Redis is unavailable to replica ${e.replica}: its rate limits and budgets are enforced per replica until Redis is back.`;
    case "redis_recovered":
      return `:white_check_mark: Signalbox: Redis is back for replica ${e.replica}: limits and budgets are shared again.`;
    case "postgres_unavailable":
      return `:rotating_light: Signalbox: PostgreSQL is unavailable to replica ${e.replica} (${e.reason}): its usage records wait in a bounded buffer.`;
    case "postgres_recovered":
      return `:white_check_mark: Signalbox: PostgreSQL is back for replica ${e.replica} after ${Math.round(e.downMs / 1000)} s: buffered usage records are being written.`;
    case "secrets_unavailable":
      return `:rotating_light: Signalbox: replica ${e.replica} cannot read its secrets again (${e.reason}): it keeps the keys in force, and a key rotated meanwhile will not reach it until the source is back.`;
    case "secrets_recovered":
      return `:white_check_mark: Signalbox: replica ${e.replica} reads its secrets again after ${Math.round(e.downMs / 1000)} s.`;
    case "usage_export_failed":
      return `:rotating_light: Signalbox: replica ${e.replica} cannot write usage export "${e.export}" (${e.reason}): ${e.pendingRecords} records wait to be sent.`;
    case "usage_export_recovered":
      return `:white_check_mark: Signalbox: replica ${e.replica} writes usage export "${e.export}" again after ${Math.round(e.downMs / 1000)} s.`;
    case "usage_records_dropped":
      return `:no_entry: Signalbox: replica ${e.replica} buffered ${e.maxBuffered} usage records while PostgreSQL was away; new records are now dropped (and counted).`;
    case "spend_report":
      return reportText(e);
    case "budget_projected_exceeded":
      return `:chart_with_upwards_trend: Signalbox: at this period's pace ${owner(e.budget)} will spend ${usd(e.projectedNanos)} against its ${PERIOD_ADJ[e.period]} ${e.budget.startsWith("key:") || e.budget.startsWith("team:") ? "budget" : "cap"} of ${usd(e.limitNanos)} (${usd(e.spentNanos)} so far), reaching it around ${new Date(e.exhaustedAt).toISOString().slice(0, 16).replace("T", " ")} UTC.`;
    case "spend_cap_reached":
      return `:no_entry: Signalbox: ${owner(e.budget)} has spent ${usd(e.spentNanos)} of its ${PERIOD_ADJ[e.period]} cap of ${usd(e.limitNanos)}: ${e.budget.startsWith("tag:") ? "requests carrying it are refused" : `routing leaves ${e.budget.startsWith("provider:") ? "its deployments" : "it"} out`} until the cap resets.`;
  }
}

const count = (n: number) => n.toLocaleString("en-US");
const PERIOD_NAME: Record<SpendReport["period"], string> = { day: "day", week: "week", month: "month" };

/** A spend report as a chat message: the totals, the change against the period before, the top spenders. */
function reportText(e: SpendReport): string {
  const change = e.previous.costNanos > 0 ? ` (${e.total.costNanos >= e.previous.costNanos ? "up" : "down"} ${Math.abs(Math.round(((e.total.costNanos - e.previous.costNanos) / e.previous.costNanos) * 100))}% on the ${PERIOD_NAME[e.period]} before)` : "";
  const failed = e.total.requests > 0 ? `, ${((100 * e.total.failures) / e.total.requests).toFixed(1)}% failed` : "";
  const lines = [
    `:bar_chart: Signalbox ${PERIOD_ADJ[e.period]} spend report "${e.report}", ${new Date(e.periodStart).toISOString().slice(0, 10)} to ${new Date(e.periodEnd - 1).toISOString().slice(0, 10)}: ${usd(e.total.costNanos)}${change}, ${count(e.total.requests)} requests${failed}, ${count(e.total.inputTokens)} input and ${count(e.total.outputTokens)} output tokens.`,
  ];
  if (e.top.length) lines.push(`Top by ${e.groupBy}: ${e.top.map((t) => `${t.name || "(none)"} ${usd(t.costNanos)} (${count(t.requests)} requests)`).join(", ")}.`);
  if (e.deployments.length) lines.push(`Top deployments: ${e.deployments.map((t) => `${t.name || "(none)"} ${usd(t.costNanos)}`).join(", ")}.`);
  return lines.join("\n");
}

/**
 * What an event is about. A budget's events are sent once per period; a deployment's cooldown at
 * most once per quiet interval; a replica's connection (Redis, PostgreSQL) is a state, so each
 * change is sent (down, back, down again) and a repeat of the state last sent is not.
 */
function conditionOf(e: AlertEvent): string {
  switch (e.event) {
    case "deployment_cooldown":
      return `${e.event}\n${e.deployment}`;
    case "redis_unavailable":
    case "redis_recovered":
      return `redis\n${e.replica}`;
    case "postgres_unavailable":
    case "postgres_recovered":
      return `postgres\n${e.replica}`;
    case "usage_records_dropped":
      return `${e.event}\n${e.replica}`;
    case "secrets_unavailable":
    case "secrets_recovered":
      return `secrets\n${e.replica}`;
    case "usage_export_failed":
    case "usage_export_recovered":
      return `usage_export\n${e.export}\n${e.replica}`;
    case "spend_report":
      return `${e.event}\n${e.report}\n${e.periodStart}`;
    default:
      return `${e.event}\n${e.budget}\n${e.periodStart}`;
  }
}

/** Events about a replica's own connections: each replica sends its own (nothing to claim). */
const ownReplica = (e: AlertEvent) => "replica" in e;

export function createAlerter(opts: AlerterOptions): Alerter {
  const clock = opts.clock ?? Date.now;
  const quietMs = opts.cooldownQuietMs ?? 300_000;
  const retryDelayMs = opts.retryDelayMs ?? 1_000;
  /** Condition → what was last sent about it, and when. */
  const seen = new Map<string, { event: string; at: number }>();
  const repeat = (e: AlertEvent, last: { event: string; at: number } | undefined, now: number): boolean => {
    if (last === undefined) return false;
    if ("budget" in e) return e.period !== "lifetime" || now - last.at < LIFETIME_REPEAT_MS;
    if (e.event === "deployment_cooldown" || e.event === "usage_records_dropped") return now - last.at < quietMs;
    return last.event === e.event;
  };
  const pending = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();

  async function post(sink: AlertConfig, body: string): Promise<string | undefined> {
    try {
      const res = await fetch(sink.url, {
        method: "POST",
        headers: { "content-type": "application/json", ...sink.headers },
        body,
        signal: AbortSignal.timeout(sink.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: unknown } };
      if (e?.name === "TimeoutError") return `no answer within ${sink.timeoutMs} ms`;
      return typeof e?.cause?.code === "string" ? e.cause.code : "network error";
    }
  }

  async function deliver(sink: AlertConfig, e: AlertEvent, at: number): Promise<void> {
    const body = JSON.stringify(sink.format === "slack" ? { text: alertText(e) } : alertJson(e, at));
    let why = await post(sink, body);
    if (why !== undefined) {
      await new Promise((r) => setTimeout(r, retryDelayMs));
      why = await post(sink, body);
    }
    // The sink's name only: its URL and headers are secrets.
    if (why !== undefined) log("warn", "alert not delivered", { alert: sink.name, event: e.event, error: why });
  }

  return {
    emit(e) {
      const sinks = opts.sinks().filter((s) => s.events.includes(e.event as AlertEventName));
      if (sinks.length === 0) return;
      const now = clock();
      const cond = conditionOf(e);
      if (repeat(e, seen.get(cond), now)) return;
      seen.delete(cond);
      seen.set(cond, { event: e.event, at: now });
      if (seen.size > MAX_SEEN) seen.delete(seen.keys().next().value!);
      // How long the condition holds: a budget's to the end of its period, a cooldown's quiet interval.
      const ttlMs = "period" in e ? (e.period === "lifetime" ? LIFETIME_REPEAT_MS : Math.max(60_000, periodBounds(e.period, e.periodStart).end - now + 86_400_000)) : quietMs;
      // Each replica reports its own Redis connection: nothing to claim (and nowhere to claim it).
      const claimed = opts.claim && !ownReplica(e) ? opts.claim(cond, ttlMs).catch(() => true) : undefined;
      for (const sink of sinks) {
        const n = pending.get(sink.name) ?? 0;
        if (n >= MAX_PENDING) {
          log("warn", "alert dropped: too many undelivered", { alert: sink.name, event: e.event, pending: n });
          continue;
        }
        pending.set(sink.name, n + 1);
        const send = claimed ? claimed.then((mine) => (mine ? deliver(sink, e, now) : undefined)) : deliver(sink, e, now);
        const p: Promise<void> = send.finally(() => {
          pending.set(sink.name, (pending.get(sink.name) ?? 1) - 1);
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
    },
    async flush() {
      while (inFlight.size) await Promise.all([...inFlight]);
    },
    async deliverTo(sink, e) {
      const body = JSON.stringify(sink.format === "slack" ? { text: alertText(e) } : alertJson(e, clock()));
      let why = await post(sink, body);
      if (why !== undefined) {
        await new Promise((r) => setTimeout(r, retryDelayMs));
        why = await post(sink, body);
      }
      if (why !== undefined) log("warn", "alert not delivered", { alert: sink.name, event: e.event, error: why });
      return why;
    },
    async test(sink, by, replica) {
      const at = clock();
      const body = JSON.stringify(
        sink.format === "slack"
          ? { text: `:white_check_mark: Signalbox: a test alert from replica ${replica}, sent by "${by}". This sink receives: ${sink.events.join(", ")}.` }
          : { event: "test", at: new Date(at).toISOString(), replica, requested_by: by, events: sink.events },
      );
      const t0 = performance.now();
      const why = await post(sink, body);
      const latencyMs = Math.round(performance.now() - t0);
      if (why !== undefined) log("warn", "test alert not delivered", { alert: sink.name, error: why });
      return why === undefined ? { delivered: true, latencyMs } : { delivered: false, error: why, latencyMs };
    },
  };
}
