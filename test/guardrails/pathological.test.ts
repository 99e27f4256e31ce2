// test-runner: own-process (it measures time or memory: a lane's heap and neighbours would blur it)
// Inputs built to make pattern matching backtrack or rescan: every detector scans 50 KB of each in
// well under 100 ms, and four times as much in less than eight times as long: linear work grows 4×,
// quadratic 16× (a busy machine blurs a 2× step, not a 4× one; best of five runs each).

import assert from "node:assert/strict";
import { test } from "node:test";
import { compileBoundedPattern } from "../../src/guardrails/detectors/bounded-pattern.ts";
import { createDenyDetector } from "../../src/guardrails/detectors/deny.ts";
import { createPiiDetector } from "../../src/guardrails/detectors/pii.ts";
import { createSecretsDetector } from "../../src/guardrails/detectors/secrets.ts";
import type { TextDetector } from "../../src/guardrails/types.ts";

const LIMIT_MS = 200;
const SMALL = 50_000;
const LARGE = 200_000;
const MAX_RATIO = 8;

const detectors: [string, TextDetector][] = [
  ["pii", createPiiDetector()],
  ["secrets", createSecretsDetector()],
  ["deny", createDenyDetector({ words: ["nightingale", "aaaa"], phrases: ["a a a a b"], patterns: ["\\bticket-\\d{4}\\b", "a+b", "[a-z]{3,}@x"] })],
];

/** Repeats `unit` to `size` characters. */
const fill = (unit: string, size: number): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

const inputs: [string, string][] = [
  ["a×", "a"],
  ["digits", "1"],
  ["digits and spaces", "1 "],
  ["a@×", "a@"],
  ["a.@", "a.@"],
  ["-----BEGIN without END", "-----BEGIN "],
  ["BEGIN PRIVATE KEY then base64", "-----BEGIN PRIVATE KEY-----\n" + "QUJD".repeat(20000)],
  ["long base64", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkrLw=="],
  ["long base64url", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODktXw"],
  ["eyJ.", "eyJ."],
  ["password=", "password="],
  ['"api_key": "', '"api_key": "'],
  ["::", "::"],
  ["1.1.", "1.1."],
  ["+1 ", "+1 "],
  ["(1", "(1"],
  ["DE89", "DE89"],
  ["AKIA", "AKIA"],
  ["sk-", "sk-"],
  ["zero-width", "\u200b"],
  ["n + zero-width", "n\u200b"],
  ["Cyrillic", "нічого не сталося "],
  ["leet", "f@lc0n!"],
  ["a a a a ", "a a a a "],
];

function timeScan(d: TextDetector, text: string, runs = 5): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    // A new string each time, so no detector can answer from a cache of the last text.
    const t = text + String(i);
    const t0 = performance.now();
    d.scan(t);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

test("every detector scans pathological input in linear time", () => {
  const rows: string[] = [];
  const slow: string[] = [];
  for (const [, d] of detectors) d.scan(fill("warm up 4111 1111 1111 1111 a@b.co ", 20000));
  for (const [name, unit] of inputs) {
    const cells: string[] = [];
    for (const [dname, d] of detectors) {
      const smallText = unit.length > 1000 ? unit.slice(0, SMALL) : fill(unit, SMALL);
      const largeText = unit.length > 1000 ? unit.repeat(5).slice(0, LARGE) : fill(unit, LARGE);
      let small = timeScan(d, smallText);
      let large = timeScan(d, largeText);
      // below 5 ms, timer and GC dominate (backtracking shows as far more)
      let ratio = large / Math.max(small, 5);
      if (small > LIMIT_MS || ratio > MAX_RATIO) {
        // A neighbour on the other core can slow one sample: measure again, longer. Real
        // backtracking is slow every time (16x for 4x the input), noise is not.
        small = Math.min(small, timeScan(d, smallText, 10));
        large = Math.min(large, timeScan(d, largeText, 10));
        ratio = large / Math.max(small, 5);
      }
      cells.push(`${dname} ${small.toFixed(1)}/${large.toFixed(1)} ms`);
      if (small > LIMIT_MS || ratio > MAX_RATIO) slow.push(`${dname} on ${name}: ${small.toFixed(1)} ms for 50 KB, ${large.toFixed(1)} ms for 200 KB`);
    }
    rows.push(`${name.padEnd(30)} ${cells.join("  ")}`);
  }
  console.log(`scan time, 50 KB / 200 KB:\n${rows.join("\n")}`);
  assert.deepEqual(slow, []);
});

test("deny patterns that could backtrack catastrophically are refused when the detector is created", () => {
  for (const p of ["(a+)+b", "(a*)*", "(a|a)*b", "(.*a){20}", "(a|b)+", "(\\w+\\s?)+$", "(a)\\1", "(?=a)a", "(?<!x)a", "a**"]) {
    assert.throws(() => compileBoundedPattern(p), /deny pattern/, p);
  }
  const capped = compileBoundedPattern("ab+c*");
  assert.equal(capped.regex.source, "ab{1,32}c{0,32}");
  assert.equal(capped.maxLength, 1 + 32 + 32);
  assert.throws(() => createDenyDetector({ patterns: ["(x+x+)+y"] }), /may backtrack/);
});
