// Precision and recall of the pii, secrets and deny detectors on the labelled corpus, per
// category; fails below the thresholds docs/guardrails-detectors.md states.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createDenyDetector } from "../../src/guardrails/detectors/deny.ts";
import { PII_CATEGORIES, createPiiDetector } from "../../src/guardrails/detectors/pii.ts";
import { SECRET_CATEGORIES, createSecretsDetector } from "../../src/guardrails/detectors/secrets.ts";
import { scanText } from "../../src/guardrails/scanner.ts";
import { buildCorpus, CORPUS_DENY } from "./corpus.ts";

/** The thresholds in docs/guardrails-detectors.md. */
const MIN_PRECISION = 0.95;
const MIN_RECALL = 0.9;
/** Share of correct findings whose span is exactly the labelled one. */
const MIN_EXACT = 0.95;

const corpus = buildCorpus();
const detectors = [createPiiDetector(), createSecretsDetector(), createDenyDetector(CORPUS_DENY)];

interface Tally {
  tp: number;
  fp: number;
  fn: number;
  exact: number;
}

function evaluate() {
  const tally = new Map<string, Tally>();
  const of = (c: string): Tally => {
    let t = tally.get(c);
    if (t === undefined) tally.set(c, (t = { tp: 0, fp: 0, fn: 0, exact: 0 }));
    return t;
  };
  for (const c of [...PII_CATEGORIES, ...SECRET_CATEGORIES, "deny"]) of(c);
  const errors: string[] = [];
  for (const entry of corpus) {
    const found = scanText(detectors, entry.text);
    const used = new Set<number>();
    const next = new Map<string, number>();
    for (const [category, match] of entry.expect) {
      const start = entry.text.indexOf(match, next.get(match) ?? 0);
      assert.notEqual(start, -1, `corpus label ${JSON.stringify(match)} not in ${JSON.stringify(entry.text)}`);
      next.set(match, start + 1);
      const end = start + match.length;
      const k = found.findIndex((f, i) => !used.has(i) && f.category === category && f.start < end && f.end > start);
      if (k === -1) {
        of(category).fn++;
        errors.push(`miss ${category} in [${entry.group}] ${JSON.stringify(entry.text.slice(0, 160))}`);
        continue;
      }
      used.add(k);
      of(category).tp++;
      if (found[k].start === start && found[k].end === end) of(category).exact++;
      else errors.push(`span ${category}: ${JSON.stringify(entry.text.slice(found[k].start, found[k].end).slice(0, 80))} for ${JSON.stringify(match.slice(0, 80))}`);
    }
    found.forEach((f, i) => {
      if (used.has(i)) return;
      of(f.category).fp++;
      errors.push(`false ${f.category} ${JSON.stringify(entry.text.slice(f.start, f.end).slice(0, 80))} in [${entry.group}] ${JSON.stringify(entry.text.slice(0, 160))}`);
    });
  }
  return { tally, errors };
}

test("the corpus has at least 300 texts, positives and near-misses for every category", () => {
  assert.ok(corpus.length >= 300, `corpus has ${corpus.length} texts`);
  const nearMisses = corpus.filter((e) => e.expect.length === 0).length;
  assert.ok(nearMisses >= 100, `${nearMisses} near-misses`);
  for (const c of [...PII_CATEGORIES, ...SECRET_CATEGORIES, "deny"]) {
    const positives = corpus.filter((e) => e.expect.some(([cat]) => cat === c)).length;
    assert.ok(positives >= 10, `${c}: only ${positives} positives`);
  }
});

test("precision and recall per category meet the documented thresholds", () => {
  const { tally, errors } = evaluate();
  const rows: string[] = [];
  let exact = 0;
  let tps = 0;
  const failing: string[] = [];
  rows.push(`corpus: ${corpus.length} texts`);
  rows.push("category             labelled  found  tp  fp  fn  precision  recall");
  for (const [c, t] of tally) {
    const precision = t.tp + t.fp === 0 ? 1 : t.tp / (t.tp + t.fp);
    const recall = t.tp + t.fn === 0 ? 1 : t.tp / (t.tp + t.fn);
    exact += t.exact;
    tps += t.tp;
    rows.push(
      `${c.padEnd(20)} ${String(t.tp + t.fn).padStart(8)} ${String(t.tp + t.fp).padStart(6)} ${String(t.tp).padStart(3)} ${String(t.fp).padStart(3)} ${String(t.fn).padStart(3)}  ${precision.toFixed(3).padStart(9)}  ${recall.toFixed(3).padStart(6)}`,
    );
    if (precision < MIN_PRECISION || recall < MIN_RECALL) failing.push(`${c} (precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)})`);
  }
  rows.push(`exact spans: ${exact}/${tps}`);
  console.log(rows.join("\n"));
  if (errors.length > 0) console.log(`labelled cases the detectors get wrong:\n  ${errors.join("\n  ")}`);
  assert.deepEqual(failing, [], `below precision ${MIN_PRECISION} / recall ${MIN_RECALL}`);
  assert.ok(exact / tps >= MIN_EXACT, `exact spans ${exact}/${tps}`);
});
