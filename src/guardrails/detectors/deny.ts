// The `deny` detector: words and phrases matched as whole words, and bounded patterns, all on
// folded text (see normalize.ts) so other widths, cases, accents, homoglyphs, invisible characters,
// punctuation between words and leetspeak do not get a banned word through. Findings are reported
// in offsets of the original text.

import { CodeBuffer, type FoldedText, foldNeedle, foldText, isLeetSymbol, isTokenChar, type WordView, wordView } from "../normalize.ts";
import type { Finding, StreamingTextDetector } from "../types.ts";
import { type BoundedPattern, compileBoundedPattern } from "./bounded-pattern.ts";
import { resolveFindings } from "./text-scan.ts";
import { createWordAutomaton, type WordAutomaton } from "./word-automaton.ts";

export interface DenyDetectorOptions {
  /** Matched as whole words: "bomb" matches "B0MB!" and "bоmb" (Cyrillic о), not "bombastic". */
  words?: readonly string[];
  /** Word sequences; any run of spaces or punctuation between the words matches. */
  phrases?: readonly string[];
  /**
   * Regular expressions run on the folded text (lower case, Latin look-alikes, one space per
   * whitespace run), so write them in lower case. Checked when the detector is created:
   * no backreferences, lookarounds or repeated groups that contain a quantifier; `*`, `+` and
   * `{n,}` are capped at 32 repetitions. A pattern that fails the check throws.
   */
  patterns?: readonly string[];
  /** Also match leetspeak spellings of words and phrases ("k1ll", "$ecret"). Default true. */
  leetspeak?: boolean;
}

/**
 * How many original characters one folded character may stand for when we bound a match's
 * length: room for invisible characters and combining marks inserted between letters. A match
 * padded beyond this is still found in one piece by a one-shot scan; in a stream it may be split.
 */
const ORIGINAL_PER_FOLDED = 16;

/** What one text yields; scan() and pendingLength() of one stream step share it. */
interface Analysis {
  text: string;
  findings: Finding[];
  /** How many characters at the end are still undecided. */
  pending: number;
}

/** Creates a `deny` detector; needles are folded and patterns checked and compiled here, once. */
export function createDenyDetector(options: DenyDetectorOptions = {}): StreamingTextDetector {
  const leet = options.leetspeak ?? true;
  const needles = [...(options.words ?? []), ...(options.phrases ?? [])];
  const plainAc = createWordAutomaton(needles.map((w) => foldNeedle(w, false)));
  const leetAc: WordAutomaton | undefined = leet ? createWordAutomaton(needles.map((w) => foldNeedle(w, true))) : undefined;
  const patterns: BoundedPattern[] = (options.patterns ?? []).map(compileBoundedPattern);
  const maxPattern = Math.max(0, ...patterns.map((p) => p.maxLength));
  const maxFolded = Math.max(plainAc.maxLength, leetAc?.maxLength ?? 0, maxPattern);
  const maxMatchLength = (maxFolded + 1) * ORIGINAL_PER_FOLDED;

  /** Whole-word matches of `ac` in `view`, in original offsets; returns the first view index still pending. */
  const wordMatches = (f: FoldedText, view: WordView, ac: WordAutomaton, out: Finding[], probe?: { at: number; value: number }): number => {
    const t = view.text;
    const depth = ac.run(
      t,
      (s, e) => {
        if ((s === 0 || t.charCodeAt(s - 1) === 32) && (e === t.length || t.charCodeAt(e) === 32)) {
          out.push({ category: "deny", start: f.starts[view.toFolded[s]], end: f.ends[view.toFolded[e - 1]] });
        }
      },
      probe,
    );
    return t.length - depth;
  };

  // Reused by every analysis (it is synchronous): a stream step allocates no arrays.
  const buffers = { folded: new CodeBuffer(), plain: new CodeBuffer(), leet: new CodeBuffer() };
  const analyze = (text: string): Analysis => {
    const f = foldText(text, buffers.folded);
    const findings: Finding[] = [];
    let foldedFrom = f.text.length; // first folded index that could still be part of a match
    const fromView = (view: WordView, viewFrom: number): void => {
      if (viewFrom < view.text.length) foldedFrom = Math.min(foldedFrom, view.toFolded[viewFrom]);
    };
    const plain = wordView(f.text, false, buffers.plain);
    fromView(plain, wordMatches(f, plain, plainAc, findings));
    if (leetAc !== undefined) {
      const view = wordView(f.text, true, buffers.leet);
      // How the trailing token folds can still change: a letter arriving folds its digits
      // ("133" + "7x"), a letter after "!" makes it a letter ("f@lc0n!" + "x"). While it is short
      // enough to become a needle word, hold it whole with any needle prefix before it.
      let ts = f.text.length;
      while (ts > 0 && isTokenChar(f.text, ts - 1, true)) ts--;
      let core = f.text.length;
      while (core > ts && isLeetSymbol(f.text.charCodeAt(core - 1))) core--;
      const tokenAt = ts < f.text.length && core - ts <= leetAc.maxLength ? lowerBound(view.toFolded, ts) : -1;
      const probe = { at: tokenAt, value: 0 };
      fromView(view, wordMatches(f, view, leetAc, findings, probe));
      if (tokenAt !== -1) {
        if (tokenAt < view.text.length) fromView(view, Math.max(0, tokenAt - probe.value));
        foldedFrom = Math.min(foldedFrom, ts);
      }
    }
    for (const { regex } of patterns) {
      regex.lastIndex = 0;
      for (let m = regex.exec(f.text); m !== null; m = regex.exec(f.text)) {
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        findings.push({ category: "deny", start: f.starts[m.index], end: f.ends[m.index + m[0].length - 1] });
      }
    }
    if (patterns.length > 0) foldedFrom = Math.min(foldedFrom, Math.max(0, f.text.length - maxPattern - 1));
    // A combining mark arriving next could change how the last non-ASCII character folds.
    if (text.length > 0 && text.charCodeAt(text.length - 1) >= 0x80) foldedFrom = Math.min(foldedFrom, f.text.length - 1);
    const pending = foldedFrom >= f.text.length || foldedFrom < 0 ? 0 : Math.min(text.length - f.starts[foldedFrom], maxMatchLength - 1);
    return { text, findings: resolveFindings(findings), pending };
  };

  // A stream step asks for the pending length and then the findings of the same text.
  let last: Analysis | undefined;
  const analysisOf = (text: string): Analysis => {
    if (last === undefined || last.text !== text) last = analyze(text);
    return last;
  };

  return {
    kind: "deny",
    maxMatchLength,
    scan: (text) => analysisOf(text).findings.slice(),
    pendingLength: (text) => analysisOf(text).pending,
  };
}

const noop = (): void => {};

/** First index whose value is at least `x` in an ascending array (its length if none). */
function lowerBound(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
