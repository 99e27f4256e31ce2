// Metrics at GET /metrics on the gateway's port, in the Prometheus text format: the GenAI
// conventions (token usage, operation duration, time to first token) and the gateway's own
// counters (requests by outcome and deployment, fallbacks, cooldowns, refusals, cost, guardrail
// actions). Everything is derived from the one usage record per request, off the response path.
//
// Counters and histograms are kept here rather than in the OpenTelemetry metrics SDK: the SDK
// sorts and serialises every measurement's attributes to find its series (about 9 KB of garbage
// and a sort per request for the eight measurements a request makes, measured with the sampling
// heap profiler), while a series here is found by its label values, passed positionally in the
// metric's fixed label order, through one Map per label: recording into an existing series
// allocates nothing (no label object, no key string; 3 KB a request less than a key string per
// measurement, `node bench/alloc.ts compat`). Names, units, buckets and the text exposition are
// the OpenTelemetry Prometheus exporter's.

import type { UsageRecord, UsageSink } from "../usage/record.ts";
import { costsDisagree } from "../usage/cost.ts";

const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304];
const SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

export interface GatewayMetrics {
  /** Record one finished request. */
  request(r: UsageRecord, providerTypes: ReadonlyMap<string, string>): void;
  cooldown(deployment: string, kind: string): void;
  budgetSoftThreshold(budget: string): void;
  /** A route's semantic-cache lookup: a hit (a similar prompt's answer served) or a miss (embedded, nothing close enough). */
  semanticLookup(route: string, hit: boolean): void;
  /** The version of the configuration in force: the label of `signalbox_config_info`. */
  configVersion(version: string): void;
  /** One config reload (SIGHUP or AdminService.ReloadConfig): applied, or refused as invalid. */
  configReload(outcome: "ok" | "invalid"): void;
  /** One active check of a deployment (src/engine/checks.ts): ok, failed (with the Connect code name) or skipped. */
  deploymentCheck(deployment: string, outcome: "ok" | "failed" | "skipped", status: string): void;
  /** One web search before a model (src/engine/web-search.ts): answered (with how many results), or failed. */
  webSearch(engine: string, outcome: "ok" | "failed", results: number): void;
  /** One search of the gateway's vector stores (src/vectors): its door, outcome, passages returned and duration. */
  vectorSearch(via: string, outcome: "ok" | "failed", results: number, seconds: number): void;
  /** One file of a vector store indexed: completed (with its chunks), failed or cancelled. */
  vectorFileIndexed(outcome: string, chunks: number): void;
  /** One mirrored request (src/engine/mirror.ts): answered, failed (with its duration and, when both answered, the answers' similarity) or skipped (the route's bound). */
  mirror(route: string, target: string, outcome: "ok" | "failed" | "skipped", seconds?: number, similarity?: number, verdict?: string, semantic?: number): void;
  /** One refresh of the secrets read from secret managers: unchanged, changed (the config reloaded) or failed (the values in force kept). */
  secretRefresh(outcome: "unchanged" | "changed" | "failed"): void;
  /** Records of a usage export (src/usage/export.ts): sent in objects, spooled to disk, or dropped past its buffer; and objects that failed to send. */
  usageExport(name: string, outcome: "exported" | "spooled" | "dropped" | "failed", records: number): void;
  /** Usage export records waiting to be sent (memory and spool), by export, read at scrape. */
  watchUsageExport(pending: () => readonly { name: string; records: number }[]): void;
  /** What reports the realtime sessions and WebRTC calls open now (signalbox_realtime_open). */
  watchRealtime(open: () => { websocket: number; webrtc: number }): void;
  /** What reports the spending caps of deployments and providers (signalbox_spend_cap_limit_usd, signalbox_spend_cap_spent_usd). */
  watchSpendCaps(caps: () => readonly { scope: string; name: string; period: string; limitNanos: number; spentNanos: number }[]): void;
  /** The Prometheus text exposition. */
  scrape(): Promise<string>;
  shutdown(): Promise<void>;
}

const GENAI_PROVIDER: Record<string, string> = { azure: "azure.ai.openai", gemini: "gcp.gemini", mock: "signalbox.mock", "openai-compatible": "openai" };

/** A label's value; undefined leaves the label out of that series (an optional label such as error.type). */
type LabelValue = string | number | boolean | undefined;

const metricName = (n: string) => n.replace(/[^a-zA-Z0-9_]/g, "_");
const labelName = (n: string) => n.replace(/[^a-zA-Z0-9_]/g, "_");
const escape = (v: unknown) => String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const braces = (inner: string, extra?: string) => {
  const all = inner && extra ? `${inner},${extra}` : inner || extra || "";
  return all ? `{${all}}` : "";
};

/**
 * A metric's series, found by its label values in the metric's fixed label order: a tree of Maps,
 * one level per label, so that recording allocates nothing once a series exists (no label object,
 * no key string). Values are compared as given (the string "true" and true are different series:
 * each call site passes one type).
 */
abstract class Metric<S> {
  private readonly root = new Map<LabelValue, unknown>();
  protected readonly series: { labels: string; s: S }[] = [];
  readonly name: string;
  readonly description: string;
  readonly unit?: string;
  readonly labels: readonly string[];
  constructor(name: string, description: string, unit: string | undefined, labels: readonly string[]) {
    this.name = name;
    this.description = description;
    this.unit = unit;
    this.labels = labels;
  }
  protected get(a?: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue, e?: LabelValue): S {
    const n = this.labels.length;
    let m: Map<LabelValue, unknown> = this.root;
    for (let i = 0; i < n - 1; i++) {
      const v = i === 0 ? a : i === 1 ? b : i === 2 ? c : d;
      let next = m.get(v) as Map<LabelValue, unknown> | undefined;
      if (!next) m.set(v, (next = new Map()));
      m = next;
    }
    const last = n === 0 ? undefined : n === 1 ? a : n === 2 ? b : n === 3 ? c : n === 4 ? d : e;
    let s = m.get(last) as S | undefined;
    if (s === undefined) {
      s = this.fresh();
      m.set(last, s);
      const values = [a, b, c, d, e];
      const rendered: string[] = [];
      for (let i = 0; i < n; i++) if (values[i] !== undefined) rendered.push(`${labelName(this.labels[i])}="${escape(values[i])}"`);
      this.series.push({ labels: rendered.join(","), s });
    }
    return s;
  }
  protected abstract fresh(): S;
  abstract render(out: string[]): void;
}

/** A monotonic counter (negative increments are ignored, as OpenTelemetry's are). */
class Counter extends Metric<{ v: number }> {
  protected fresh() {
    return { v: 0 };
  }
  /** The label values in the order the counter was made with (at most five). */
  add(v: number, a?: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue, e?: LabelValue): void {
    if (!(v >= 0)) return;
    this.get(a, b, c, d, e).v += v;
  }
  render(out: string[]): void {
    if (this.series.length === 0) return;
    const name = `${metricName(this.name)}${this.unit === "s" ? "_seconds" : ""}_total`;
    out.push(`# HELP ${name} ${this.description}`, `# TYPE ${name} counter`);
    for (const { labels, s } of this.series) out.push(`${name}${braces(labels)} ${s.v}`);
  }
}

/** An explicit-bucket histogram: bucket i counts values ≤ bounds[i] (above the last: +Inf). */
class Histogram extends Metric<{ counts: Float64Array; sum: number; count: number }> {
  private readonly bounds: readonly number[];
  constructor(name: string, description: string, unit: string, bounds: readonly number[], labels: readonly string[]) {
    super(name, description, unit, labels);
    this.bounds = bounds;
  }
  protected fresh() {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }
  /** The label values in the order the histogram was made with (at most five). */
  record(v: number, a?: LabelValue, b?: LabelValue, c?: LabelValue, d?: LabelValue, e?: LabelValue): void {
    if (!(v >= 0)) return;
    const h = this.get(a, b, c, d, e);
    h.count++;
    h.sum += v;
    // The first bound ≥ v (binary search).
    let lo = 0;
    let hi = this.bounds.length - 1;
    let idx = this.bounds.length;
    while (hi >= lo) {
      const mid = (lo + hi) >> 1;
      if (this.bounds[mid] < v) lo = mid + 1;
      else {
        idx = mid;
        hi = mid - 1;
      }
    }
    h.counts[idx]++;
  }
  render(out: string[]): void {
    if (this.series.length === 0) return;
    const base = `${metricName(this.name)}${this.unit === "s" ? "_seconds" : ""}`;
    out.push(`# HELP ${base} ${this.description}`, `# TYPE ${base} histogram`);
    for (const { labels, s } of this.series) {
      let cum = 0;
      this.bounds.forEach((b, i) => {
        cum += s.counts[i];
        out.push(`${base}_bucket${braces(labels, `le="${b}"`)} ${cum}`);
      });
      out.push(`${base}_bucket${braces(labels, `le="+Inf"`)} ${s.count}`);
      out.push(`${base}_sum${braces(labels)} ${s.sum}`, `${base}_count${braces(labels)} ${s.count}`);
    }
  }
}

export function createMetrics(): GatewayMetrics {
  const all: Metric<unknown>[] = [];
  const histogram = (name: string, unit: string, description: string, bounds: readonly number[], labels: readonly string[]) => {
    const h = new Histogram(name, description, unit, bounds, labels);
    all.push(h as Metric<unknown>);
    return h;
  };
  const counter = (name: string, description: string, labels: readonly string[], unit?: string) => {
    const c = new Counter(name, description, unit, labels);
    all.push(c as Metric<unknown>);
    return c;
  };
  // Label names in the order call sites pass their values; error.type last where it is optional.
  const GENAI = ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model"];
  const tokens = histogram("gen_ai.client.token.usage", "{token}", "Tokens used per upstream attempt", TOKEN_BUCKETS, [...GENAI, "gen_ai.token.type"]);
  const duration = histogram("gen_ai.client.operation.duration", "s", "Duration of upstream attempts", SECONDS_BUCKETS, [...GENAI, "error.type"]);
  const ttft = histogram("signalbox.time_to_first_token", "s", "Time from a request's arrival to its first content token", SECONDS_BUCKETS, ["route", "deployment"]);
  const reqDuration = histogram("signalbox.request.duration", "s", "Duration of requests through the gateway", SECONDS_BUCKETS, ["status", "route"]);
  const requests = counter("signalbox.requests", "Requests by outcome, route and deployment", ["status", "route", "deployment", "streamed", "operation"]);
  const fallbacks = counter("signalbox.fallbacks", "Requests answered by a deployment other than their first attempt's", ["route", "deployment"]);
  const attempts = counter("signalbox.attempts", "Upstream attempts by deployment and outcome", ["deployment", "outcome", "error.type"]);
  const cost = counter("signalbox.cost", "Cost billed, in nano-USD", ["deployment", "team"], "nUSD");
  const costDisagreements = counter(
    "signalbox.cost.disagreements",
    "Attempts whose provider-reported cost (the bill) differs from the cost computed from the deployment's prices by more than 1%",
    ["provider", "deployment"],
  );
  const refusals = counter("signalbox.refusals", "Requests refused by a rate limit or budget", ["reason", "team"]);
  const cooldowns = counter("signalbox.cooldowns", "Deployments put into cooldown", ["deployment", "error.type"]);
  const cacheHits = counter("signalbox.cache.hits", "Requests answered from the response cache (or by a concurrent identical request)", ["route", "deployment"]);
  const soft = counter("signalbox.budget.soft_threshold", "Budgets crossing their soft threshold", ["budget"]);
  const semantic = counter(
    "signalbox.cache.semantic_lookups",
    "Semantic-cache lookups by route and result (hit: a similar prompt's answer served; miss: embedded, nothing close enough)",
    ["route", "result"],
  );
  const guardrails = counter("signalbox.guardrail.actions", "Guardrail actions: one per request, guardrail, stage and action taken", ["guardrail", "stage", "action"]);
  const checks = counter("signalbox.deployment.checks", "Active checks of deployments by outcome (ok, failed, skipped) and, for a failure, its code", ["deployment", "outcome", "error.type"]);
  const searches = counter("signalbox.web_search.requests", "Web searches before a model by engine and outcome (ok, failed)", ["engine", "outcome"]);
  const searchResults = counter("signalbox.web_search.results", "Web search results put in prompts, by engine", ["engine"]);
  const vectorSearches = counter("signalbox.vector_store.searches", "Searches of the gateway's vector stores by door (api, file_search tool, before the model, mcp) and outcome", ["via", "outcome"]);
  const vectorSearchDuration = histogram("signalbox.vector_store.search.duration", "s", "Duration of vector store searches (the query's embedding, ranking, rerank)", SECONDS_BUCKETS, ["via"]);
  const vectorResults = counter("signalbox.vector_store.search.results", "Passages returned by vector store searches", ["via"]);
  const vectorFiles = counter("signalbox.vector_store.files", "Files of vector stores indexed, by outcome (completed, failed, cancelled)", ["outcome"]);
  const vectorChunks = counter("signalbox.vector_store.chunks", "Chunks embedded for vector stores", []);
  const mirrors = counter("signalbox.mirror.requests", "Mirrored requests by route, target and outcome (ok, failed, skipped: over the route's max_in_flight)", ["route", "target", "outcome"]);
  const mirrorSemantic = histogram(
    "signalbox.mirror.semantic_similarity",
    "1",
    "How alike in meaning a mirrored request's answer is to the route's own (cosine of their embeddings), with mirror.embedding",
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
    ["route", "target"],
  );
  const mirrorVerdicts = counter("signalbox.mirror.verdicts", "A mirror judge's verdicts by route, target and verdict (mirror: the candidate's answer better; route; tie; failed: no verdict)", ["route", "target", "verdict"]);
  const mirrorDuration = histogram("signalbox.mirror.duration", "s", "Duration of mirrored requests, by route and target", SECONDS_BUCKETS, ["route", "target"]);
  const mirrorSimilarity = histogram(
    "signalbox.mirror.similarity",
    "1",
    "How alike a mirrored request's answer is to the route's own (cosine of their word counts, 0..1), when both answered",
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
    ["route", "target"],
  );
  const exportRecords = counter("signalbox.usage_export.records", "Usage records of usage exports: exported (in an object the store accepted), spooled (written to the spool directory to send later), dropped (past max_buffered_records), failed (in an object a send failed, to be sent again)", ["export", "outcome"]);
  let exportPending: Parameters<GatewayMetrics["watchUsageExport"]>[0] | undefined;
  const secretRefreshes = counter("signalbox.secrets.refreshes", "Refreshes of the secrets read from secret managers, by outcome (unchanged; changed: the configuration reloaded; failed: the values in force kept)", ["outcome"]);
  const reloads = counter("signalbox.config.reloads", "Config reloads by outcome (ok: applied; invalid: refused, nothing changed)", ["outcome"]);
  // Both outcomes are exported from the start, so a rate() over them has a zero to begin with.
  reloads.add(0, "ok");
  reloads.add(0, "invalid");
  // An info gauge with exactly one series (the version in force).
  let version = "";
  let realtimeOpen: (() => { websocket: number; webrtc: number }) | undefined;
  let spendCaps: Parameters<GatewayMetrics["watchSpendCaps"]>[0] | undefined;

  return {
    request(r, providerTypes) {
      const operation = r.operation ?? "chat";
      const route = r.routing.route;
      requests.add(1, r.status, route, r.deployment, r.streamed, operation);
      reqDuration.record(r.latencyMs / 1000, r.status, route);
      if (r.ttftMs !== undefined) ttft.record(r.ttftMs / 1000, route, r.deployment);
      if (r.attempts.length > 1 && r.status === "ok") fallbacks.add(1, route, r.deployment);
      if (r.cacheHit) cacheHits.add(1, route, r.deployment);
      if (r.refusal) refusals.add(1, r.refusal, r.team);
      if (r.cost.total > 0) cost.add(r.cost.total, r.deployment, r.team);
      if (r.guardrails) {
        // A guardrail that acted on several categories at one stage is one action.
        const seen = new Set<string>();
        for (const g of r.guardrails) {
          const k = `${g.name}\0${g.stage}\0${g.action}`;
          if (seen.has(k)) continue;
          seen.add(k);
          guardrails.add(1, g.name, g.stage, g.action);
        }
      }
      for (const a of r.attempts) {
        const type = providerTypes.get(a.provider) ?? "unknown";
        const provider = GENAI_PROVIDER[type] ?? type;
        // error.type only on failed attempts (undefined leaves the label out).
        const fk = a.failureKind || undefined;
        attempts.add(1, a.deployment, a.outcome, fk);
        duration.record(a.latencyMs / 1000, operation, provider, a.model, fk);
        if (a.usage.inputTokens) tokens.record(a.usage.inputTokens, operation, provider, a.model, "input");
        if (a.usage.outputTokens) tokens.record(a.usage.outputTokens, operation, provider, a.model, "output");
        const reported = a.cost.providerReported;
        if (reported !== undefined && costsDisagree(reported, a.cost.computed ?? a.cost.total)) costDisagreements.add(1, a.provider, a.deployment);
      }
    },
    cooldown(deployment, kind) {
      cooldowns.add(1, deployment, kind);
    },
    budgetSoftThreshold(budget) {
      soft.add(1, budget);
    },
    semanticLookup(route, hit) {
      semantic.add(1, route, hit ? "hit" : "miss");
    },
    configVersion(v) {
      version = v;
    },
    secretRefresh(outcome) {
      secretRefreshes.add(1, outcome);
    },
    usageExport(name, outcome, records) {
      exportRecords.add(records, name, outcome);
    },
    watchUsageExport(pending) {
      exportPending = pending;
    },
    configReload(outcome) {
      reloads.add(1, outcome);
    },
    webSearch(engine, outcome, results) {
      searches.add(1, engine, outcome);
      if (results) searchResults.add(results, engine);
    },
    vectorSearch(via, outcome, results, seconds) {
      vectorSearches.add(1, via, outcome);
      vectorSearchDuration.record(seconds, via);
      if (results) vectorResults.add(results, via);
    },
    vectorFileIndexed(outcome, chunks) {
      vectorFiles.add(1, outcome);
      if (chunks) vectorChunks.add(chunks);
    },
    mirror(route, target, outcome, seconds, similarity, verdict, semantic) {
      if (semantic !== undefined) mirrorSemantic.record(semantic, route, target);
      mirrors.add(1, route, target, outcome);
      if (verdict !== undefined) mirrorVerdicts.add(1, route, target, verdict);
      if (seconds !== undefined) mirrorDuration.record(seconds, route, target);
      if (similarity !== undefined) mirrorSimilarity.record(similarity, route, target);
    },
    deploymentCheck(deployment, outcome, status) {
      checks.add(1, deployment, outcome, status || undefined);
    },
    watchRealtime(open) {
      realtimeOpen = open;
    },
    watchSpendCaps(caps) {
      spendCaps = caps;
    },
    async scrape() {
      const out: string[] = [];
      for (const m of all) m.render(out);
      const info = version
        ? `# HELP signalbox_config_info The configuration in force (version: a hash of it)\n# TYPE signalbox_config_info gauge\nsignalbox_config_info{version="${escape(version)}"} 1\n`
        : "";
      const rt = realtimeOpen?.();
      const open = rt
        ? `# HELP signalbox_realtime_open Realtime sessions (websocket) and WebRTC calls (webrtc) open now on this replica\n# TYPE signalbox_realtime_open gauge\nsignalbox_realtime_open{transport="websocket"} ${rt.websocket}\nsignalbox_realtime_open{transport="webrtc"} ${rt.webrtc}\n`
        : "";
      const caps = spendCaps?.() ?? [];
      const capLines = caps.length
        ? [
            "# HELP signalbox_spend_cap_limit_usd The spending cap of a deployment or provider per period (budget in the config)",
            "# TYPE signalbox_spend_cap_limit_usd gauge",
            ...caps.map((c) => `signalbox_spend_cap_limit_usd{scope="${c.scope}",name="${escape(c.name)}",period="${c.period}"} ${c.limitNanos / 1e9}`),
            "# HELP signalbox_spend_cap_spent_usd What a capped deployment or provider spent this period, as last read from the usage store",
            "# TYPE signalbox_spend_cap_spent_usd gauge",
            ...caps.map((c) => `signalbox_spend_cap_spent_usd{scope="${c.scope}",name="${escape(c.name)}",period="${c.period}"} ${c.spentNanos / 1e9}`),
          ].join("\n") + "\n"
        : "";
      const pend = exportPending?.() ?? [];
      const pendLines = pend.length
        ? ["# HELP signalbox_usage_export_pending_records Usage records of a usage export waiting to be sent (in memory and in its spool directory)", "# TYPE signalbox_usage_export_pending_records gauge", ...pend.map((p) => `signalbox_usage_export_pending_records{export="${escape(p.name)}"} ${p.records}`)].join("\n") + "\n"
        : "";
      return `${out.join("\n")}\n${info}${open}${capLines}${pendLines}`;
    },
    shutdown: async () => {},
  };
}

/**
 * The sink every request's record goes through: metrics, the request log line, then the store.
 * The log line carries ids, routing, outcome, tokens, cost and timings; never prompt or
 * completion text, never a key (records hold key names, not keys).
 */
export function observedSink(inner: UsageSink, m: GatewayMetrics, providerTypes: ReadonlyMap<string, string>, logLine: ((r: UsageRecord) => void) | undefined): UsageSink {
  return {
    record(r, content) {
      try {
        m.request(r, providerTypes);
        logLine?.(r);
      } catch {
        // Observability must never fail a request.
      }
      inner.record(r, content);
    },
    flush: () => inner.flush(),
  };
}
