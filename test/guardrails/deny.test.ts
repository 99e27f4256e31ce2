// Deny lists on folded text: evasions fail, offsets point into the original text.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createDenyDetector } from "../../src/guardrails/detectors/deny.ts";
import { foldText, wordView } from "../../src/guardrails/normalize.ts";

test("folding maps every folded character back to the original span", () => {
  const text = "Ｆａ\u200bl\u00ADcón  \n𝐗";
  const f = foldText(text);
  assert.equal(f.text, "falcon x");
  assert.deepEqual([...f.starts], [0, 1, 3, 5, 6, 7, 8, 11]);
  assert.deepEqual([...f.ends], [1, 2, 4, 6, 7, 8, 11, 13]);
  assert.equal(text.slice(f.starts[7], f.ends[7]), "𝐗");
  assert.equal(text.slice(f.starts[6], f.ends[6]), "  \n");
});

test("the leet view folds tokens with letters only", () => {
  assert.equal(wordView("h3ll0 w0rld 2024 $5 wow!", true).text, "heiio worid 2024 5 wow ");
  assert.equal(wordView("h3ll0, world!", false).text, "h3ll0 world ");
});

test("words match whole words after folding, and the finding covers the original characters", () => {
  const d = createDenyDetector({ words: ["falcon"], phrases: ["project bluebird"] });
  const check = (text: string, expected: string[]) =>
    assert.deepEqual(
      d.scan(text).map((f) => text.slice(f.start, f.end)),
      expected,
      JSON.stringify(text),
    );
  check("A FALCON!", ["FALCON"]);
  check("fаlcоn", ["fаlcоn"]); // Cyrillic а, о
  check("f\u200ba\u2060l\ufeffc\u00adon", ["f\u200ba\u2060l\ufeffc\u00adon"]);
  check("F4LC0N and f@lcon", ["F4LC0N", "f@lcon"]);
  check("falcons falconry unfalcon", []);
  check("Project_Bluebird; project\n\tbluebird", ["Project_Bluebird", "project\n\tbluebird"]);
  check("bluebird project", []);
});

test("patterns run on folded text, capped", () => {
  const d = createDenyDetector({ patterns: ["\\bcase-\\d+\\b"] });
  const text = "see CASE‐42 and case-7";
  assert.deepEqual(
    d.scan(text).map((f) => text.slice(f.start, f.end)),
    ["CASE‐42", "case-7"],
  );
});

test("leetspeak can be turned off", () => {
  const d = createDenyDetector({ words: ["falcon"], leetspeak: false });
  assert.deepEqual(d.scan("f4lc0n"), []);
  assert.equal(d.scan("falcon").length, 1);
});

test("pendingLength holds a needle prefix, a short letterless token, and nothing else", () => {
  const d = createDenyDetector({ words: ["falcon"], phrases: ["project bluebird"] });
  assert.equal(d.pendingLength("the sky is blue "), 0);
  assert.equal(d.pendingLength("a fal"), 3);
  assert.equal(d.pendingLength("about project "), "project ".length);
  assert.equal(d.pendingLength("f4"), 2);
  assert.equal(d.pendingLength("f@lc0n!"), "f@lc0n!".length);
});
