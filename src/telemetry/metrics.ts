// Metrics through OpenTelemetry, scraped by Prometheus at GET /metrics on the gateway's port:
// the GenAI conventions (token usage, operation duration, time to first token) and the
// gateway's own counters (requests by outcome and deployment, fallbacks, cooldowns, refusals,
// cost, guardrail actions). Everything is derived from the one usage record per request, off the response path.

import { metrics as otelMetrics, type Attributes, type Counter, type Histogram } from "@opentelemetry/api";
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type Histogram as HistogramValue } from "@opentelemetry/sdk-metrics";
import type { UsageRecord, UsageSink } from "../usage/record.ts";
import { costsDisagree } from "../usage/cost.ts";

/** A reader that collects when Prometheus scrapes. */
class ScrapeReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
const SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

export interface GatewayMetrics {
  /** Record one finished request. */
  request(r: UsageRecord, providerTypes: ReadonlyMap<string, string>): void;
  cooldown(deployment: string, kind: string): void;
  budgetSoftThreshold(budget: string): void;
  /** The version of the configuration in force: the label of `signalbox_config_info`. */
  configVersion(version: string): void;
  /** One config reload (SIGHUP or AdminService.ReloadConfig): applied, or refused as invalid. */
  configReload(outcome: "ok" | "invalid"): void;
  /** The Prometheus text exposition. */
  scrape(): Promise<string>;
  shutdown(): Promise<void>;
}

const GENAI_PROVIDER: Record<string, string> = { azure: "azure.ai.openai", gemini: "gcp.gemini", mock: "signalbox.mock", "openai-compatible": "openai" };

export function createMetrics(): GatewayMetrics {
  const reader = new ScrapeReader();
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter("signalbox");
  const tokens: Histogram = meter.createHistogram("gen_ai.client.token.usage", { unit: "{token}", description: "Tokens used per upstream attempt", advice: { explicitBucketBoundaries: TOKEN_BUCKETS } });
  const duration: Histogram = meter.createHistogram("gen_ai.client.operation.duration", { unit: "s", description: "Duration of upstream attempts", advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const ttft: Histogram = meter.createHistogram("signalbox.time_to_first_token", { unit: "s", description: "Time from a request's arrival to its first content token", advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const reqDuration: Histogram = meter.createHistogram("signalbox.request.duration", { unit: "s", description: "Duration of requests through the gateway", advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const requests: Counter = meter.createCounter("signalbox.requests", { description: "Requests by outcome, route and deployment" });
  const fallbacks: Counter = meter.createCounter("signalbox.fallbacks", { description: "Requests answered by a deployment other than their first attempt's" });
  const attempts: Counter = meter.createCounter("signalbox.attempts", { description: "Upstream attempts by deployment and outcome" });
  const cost: Counter = meter.createCounter("signalbox.cost", { unit: "nUSD", description: "Cost billed, in nano-USD" });
  const costDisagreements: Counter = meter.createCounter("signalbox.cost.disagreements", {
    description: "Attempts whose provider-reported cost (the bill) differs from the cost computed from the deployment's prices by more than 1%",
  });
  const refusals: Counter = meter.createCounter("signalbox.refusals", { description: "Requests refused by a rate limit or budget" });
  const cooldowns: Counter = meter.createCounter("signalbox.cooldowns", { description: "Deployments put into cooldown" });
  const cacheHits: Counter = meter.createCounter("signalbox.cache.hits", { description: "Requests answered from the response cache (or by a concurrent identical request)" });
  const soft: Counter = meter.createCounter("signalbox.budget.soft_threshold", { description: "Budgets crossing their soft threshold" });
  const guardrails: Counter = meter.createCounter("signalbox.guardrail.actions", { description: "Guardrail actions: one per request, guardrail, stage and action taken" });
  const reloads: Counter = meter.createCounter("signalbox.config.reloads", { description: "Config reloads by outcome (ok: applied; invalid: refused, nothing changed)" });
  // Both outcomes are exported from the start, so a rate() over them has a zero to begin with.
  reloads.add(0, { outcome: "ok" });
  reloads.add(0, { outcome: "invalid" });
  // An info gauge with exactly one series (the version in force), rendered by hand: an OTel
  // observable gauge would keep exporting the previous version's series after a reload.
  let version = "";
  // Keep the API's global meter provider untouched: these instruments are ours alone.
  void otelMetrics;

  return {
    request(r, providerTypes) {
      const operation = r.operation ?? "chat";
      requests.add(1, { status: r.status, route: r.routing.route, deployment: r.deployment, streamed: r.streamed, operation });
      reqDuration.record(r.latencyMs / 1000, { status: r.status, route: r.routing.route });
      if (r.ttftMs !== undefined) ttft.record(r.ttftMs / 1000, { route: r.routing.route, deployment: r.deployment });
      if (r.attempts.length > 1 && r.status === "ok") fallbacks.add(1, { route: r.routing.route, deployment: r.deployment });
      if (r.cacheHit) cacheHits.add(1, { route: r.routing.route, deployment: r.deployment });
      if (r.refusal) refusals.add(1, { reason: r.refusal, team: r.team });
      if (r.cost.total > 0) cost.add(r.cost.total, { deployment: r.deployment, team: r.team });
      if (r.guardrails) {
        // A guardrail that acted on several categories at one stage is one action.
        const seen = new Set<string>();
        for (const g of r.guardrails) {
          const k = `${g.name}\0${g.stage}\0${g.action}`;
          if (seen.has(k)) continue;
          seen.add(k);
          guardrails.add(1, { guardrail: g.name, stage: g.stage, action: g.action });
        }
      }
      for (const a of r.attempts) {
        const type = providerTypes.get(a.provider) ?? "unknown";
        const attrs: Attributes = { "gen_ai.operation.name": operation, "gen_ai.provider.name": GENAI_PROVIDER[type] ?? type, "gen_ai.request.model": a.model };
        attempts.add(1, { deployment: a.deployment, outcome: a.outcome, ...(a.failureKind ? { "error.type": a.failureKind } : {}) });
        duration.record(a.latencyMs / 1000, a.failureKind ? { ...attrs, "error.type": a.failureKind } : attrs);
        if (a.usage.inputTokens) tokens.record(a.usage.inputTokens, { ...attrs, "gen_ai.token.type": "input" });
        if (a.usage.outputTokens) tokens.record(a.usage.outputTokens, { ...attrs, "gen_ai.token.type": "output" });
        const reported = a.cost.providerReported;
        if (reported !== undefined && costsDisagree(reported, a.cost.computed ?? a.cost.total)) costDisagreements.add(1, { provider: a.provider, deployment: a.deployment });
      }
    },
    cooldown(deployment, kind) {
      cooldowns.add(1, { deployment, "error.type": kind });
    },
    budgetSoftThreshold(budget) {
      soft.add(1, { budget });
    },
    configVersion(v) {
      version = v;
    },
    configReload(outcome) {
      reloads.add(1, { outcome });
    },
    async scrape() {
      const { resourceMetrics } = await reader.collect();
      const info = version
        ? `# HELP signalbox_config_info The configuration in force (version: a hash of it)\n# TYPE signalbox_config_info gauge\nsignalbox_config_info{version="${escape(version)}"} 1\n`
        : "";
      return renderPrometheus(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) + info;
    },
    shutdown: () => provider.shutdown(),
  };
}

const metricName = (n: string) => n.replace(/[^a-zA-Z0-9_]/g, "_");
const labelName = (n: string) => n.replace(/[^a-zA-Z0-9_]/g, "_");
const escape = (v: unknown) => String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labels = (a: Attributes, extra?: [string, string]) => {
  const parts = Object.entries(a).map(([k, v]) => `${labelName(k)}="${escape(v)}"`);
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

type AnyMetric = Awaited<ReturnType<MetricReader["collect"]>>["resourceMetrics"]["scopeMetrics"][number]["metrics"][number];

/** The Prometheus text format (0.0.4) for counters and histograms. */
export function renderPrometheus(ms: AnyMetric[]): string {
  const out: string[] = [];
  for (const m of ms) {
    const base = metricName(m.descriptor.name) + (m.descriptor.unit === "s" ? "_seconds" : "");
    if (m.dataPointType === DataPointType.SUM) {
      const name = `${base}_total`;
      out.push(`# HELP ${name} ${m.descriptor.description}`, `# TYPE ${name} counter`);
      for (const p of m.dataPoints) out.push(`${name}${labels(p.attributes)} ${p.value}`);
    } else if (m.dataPointType === DataPointType.HISTOGRAM) {
      out.push(`# HELP ${base} ${m.descriptor.description}`, `# TYPE ${base} histogram`);
      for (const p of m.dataPoints) {
        const h = p.value as HistogramValue;
        let cum = 0;
        h.buckets.boundaries.forEach((b, i) => {
          cum += h.buckets.counts[i];
          out.push(`${base}_bucket${labels(p.attributes, ["le", String(b)])} ${cum}`);
        });
        out.push(`${base}_bucket${labels(p.attributes, ["le", "+Inf"])} ${h.count}`);
        out.push(`${base}_sum${labels(p.attributes)} ${h.sum ?? 0}`, `${base}_count${labels(p.attributes)} ${h.count}`);
      }
    }
  }
  return `${out.join("\n")}\n`;
}

/**
 * The sink every request's record goes through: metrics, the request log line, then the store.
 * The log line carries ids, routing, outcome, tokens, cost and timings; never prompt or
 * completion text, never a key (records hold key names, not keys).
 */
export function observedSink(inner: UsageSink, m: GatewayMetrics, providerTypes: ReadonlyMap<string, string>, logLine: ((r: UsageRecord) => void) | undefined): UsageSink {
  return {
    record(r) {
      try {
        m.request(r, providerTypes);
        logLine?.(r);
      } catch {
        // Observability must never fail a request.
      }
      inner.record(r);
    },
    flush: () => inner.flush(),
  };
}
