// The Grafana dashboard (deploy/grafana/signalbox-dashboard.json) and the Prometheus alerting rules
// (deploy/prometheus/signalbox-rules.yaml) against what the gateway really exports: every metric
// family and label their queries use is one /metrics serves (the metrics module made to record
// one of everything, then scraped), the queries' brackets balance, panels have unique ids and fit
// the grid, rules have unique names, a severity and a summary.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { parse } from "yaml";
import { createMetrics } from "../../src/telemetry/metrics.ts";
import { makeRecord, rng } from "../usage/fixtures.ts";

const ROOT = join(import.meta.dirname, "../..");

/** Families (name → their label names) of an exposition in which every metric has a series. */
async function exported(): Promise<Map<string, Set<string>>> {
  const m = createMetrics();
  const r = rng(7);
  for (let i = 0; i < 30; i++) {
    const rec = makeRecord(r, { time: Date.now() });
    rec.attempts = rec.attempts.map((a) => ({ ...a, usage: { ...a.usage, inputTokens: 10, outputTokens: 5 } }));
    m.request({ ...rec, cacheHit: i % 3 === 0, refusal: i % 5 === 0 ? "budget" : undefined, guardrails: [{ name: "pii", stage: "input", action: "redact", category: "email", count: 1 }] as never, ttftMs: 12 }, new Map());
  }
  m.cooldown("d", "overloaded");
  m.budgetSoftThreshold("team:a");
  m.semanticLookup("r", true);
  m.configVersion("v1");
  m.configReload("ok");
  m.deploymentCheck("d", "failed", "unavailable");
  m.webSearch("exa", "ok", 3);
  m.vectorSearch("api", "ok", 3, 0.1);
  m.vectorFileIndexed("completed", 10);
  m.mirror("r", "t", "ok", 0.2, 0.9, "tie", 0.8);
  m.secretRefresh("failed");
  m.usageExport("archive", "failed", 3);
  m.watchUsageExport(() => [{ name: "archive", records: 3 }]);
  m.watchRealtime(() => ({ websocket: 1, webrtc: 0 }));
  m.watchSpendCaps(() => [{ scope: "deployment", name: "d", period: "day", limitNanos: 1e9, spentNanos: 5e8 }]);
  const families = new Map<string, Set<string>>();
  const text = await m.scrape();
  for (const line of text.split("\n")) {
    const t = /^# TYPE (\S+) (\w+)/.exec(line);
    if (t) families.set(t[1], new Set());
  }
  for (const line of text.split("\n")) {
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line);
    if (!s) continue;
    const family = s[1].replace(/_(bucket|sum|count)$/, "");
    const labels = families.get(family) ?? families.get(s[1]);
    for (const l of (s[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels?.add(l[1]);
  }
  return families;
}

/** The metric families and label names a PromQL expression uses. */
function uses(expr: string): { families: string[]; labels: string[] } {
  const labels = new Set<string>();
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of m[1].split(",").map((x) => x.trim()).filter(Boolean)) labels.add(l);
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const l of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1]);
  // Metric names: identifiers of the gateway's prefixes that are not labels.
  const families = [...expr.matchAll(/\b((?:signalbox|gen_ai)_[a-zA-Z0-9_]+)/g)].map((m) => m[1]).filter((n) => !labels.has(n)).map((n) => n.replace(/_(bucket|sum|count)$/, ""));
  return { families, labels: [...labels] };
}

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: string[] = [];
  let quoted = false;
  for (const c of expr) {
    if (c === '"') quoted = !quoted;
    if (quoted) continue;
    if ("([{".includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0 && !quoted;
}

function check(families: Map<string, Set<string>>, where: string, expr: string): void {
  assert.ok(balanced(expr), `${where}: unbalanced: ${expr}`);
  const u = uses(expr);
  assert.ok(u.families.length > 0, `${where}: no Signalbox metric in ${expr}`);
  for (const f of u.families) assert.ok(families.has(f), `${where}: ${f} is not exported (have: ${[...families.keys()].join(", ")})`);
  const known = new Set(["le", ...u.families.flatMap((f) => [...(families.get(f) ?? [])])]);
  for (const l of u.labels) assert.ok(known.has(l), `${where}: label ${l} is on none of ${u.families.join(", ")}`);
}

describe("observability files", () => {
  let families: Map<string, Set<string>>;
  before(async () => {
    families = await exported();
  });

  test("the Grafana dashboard queries what the gateway exports", () => {
    const d = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/signalbox-dashboard.json"), "utf8")) as {
      uid: string;
      templating: { list: { name: string; query: unknown }[] };
      panels: { id: number; type: string; title: string; gridPos: { x: number; w: number; y: number; h: number }; datasource?: { uid: string }; targets?: { expr: string; refId: string }[] }[];
    };
    assert.equal(d.uid, "signalbox-gateway");
    assert.deepEqual(d.templating.list.map((v) => v.name), ["datasource", "route"]);
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
    let queries = 0;
    for (const p of d.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the grid`);
      if (p.type === "row") continue;
      assert.equal(p.datasource?.uid, "${datasource}", `${p.title}: the datasource variable`);
      assert.ok(p.targets?.length, `${p.title}: has queries`);
      for (const t of p.targets!) {
        check(families, `panel "${p.title}" ${t.refId}`, t.expr.replaceAll("$__rate_interval", "5m").replaceAll("$route", ".*"));
        queries++;
      }
    }
    assert.ok(queries >= 25, `${queries} queries`);
    // Every metric family the gateway exports is on the dashboard, but the few that only count things another panel shows.
    const shown = new Set(d.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => uses(t.expr).families)));
    const missing = [...families.keys()].filter((f) => !shown.has(f) && !["signalbox_deployment_checks_total", "signalbox_web_search_results_total", "signalbox_vector_store_search_results_total", "signalbox_vector_store_files_total", "signalbox_vector_store_chunks_total", "signalbox_vector_store_search_duration_seconds", "signalbox_mirror_duration_seconds", "signalbox_spend_cap_limit_usd"].includes(f));
    assert.deepEqual(missing, []);
  });

  test("the Prometheus rules alert on what the gateway exports", () => {
    const doc = parse(readFileSync(join(ROOT, "deploy/prometheus/signalbox-rules.yaml"), "utf8")) as { groups: { name: string; rules: { alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string } }[] }[] };
    const names = new Set<string>();
    for (const g of doc.groups) {
      for (const r of g.rules) {
        assert.ok(!names.has(r.alert), `${r.alert}: unique`);
        names.add(r.alert);
        assert.match(r.alert, /^Signalbox[A-Z][A-Za-z]+$/);
        assert.ok(["critical", "warning", "info"].includes(r.labels.severity), `${r.alert}: severity`);
        assert.ok(r.annotations.summary, `${r.alert}: a summary`);
        if (r.for !== undefined) assert.match(r.for, /^\d+[smh]$/);
        check(families, `rule ${r.alert}`, r.expr);
      }
    }
    assert.ok(names.size >= 10);
  });
});
