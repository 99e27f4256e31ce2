// Small pieces the hand-written detectors share: character classes over UTF-16 code units, the
// length of a trailing run (how much a stream must hold back), Shannon entropy, and one rule
// that resolves overlapping findings.

import type { Finding } from "../types.ts";

/** A set of UTF-16 code units below 128, tested with one array lookup. */
export type AsciiClass = Uint8Array;

/** Builds an ASCII class from ranges ("a-z"), single characters and escapes written as they are. */
export function asciiClass(spec: string): AsciiClass {
  const set = new Uint8Array(128);
  for (let i = 0; i < spec.length; i++) {
    const from = spec.charCodeAt(i);
    if (spec[i + 1] === "-" && i + 2 < spec.length) {
      const to = spec.charCodeAt(i + 2);
      for (let c = from; c <= to; c++) set[c] = 1;
      i += 2;
    } else set[from] = 1;
  }
  return set;
}

/** Whether code unit `c` (any value; non-ASCII is never in an ASCII class) is in the class. */
export const inClass = (set: AsciiClass, c: number): boolean => c < 128 && set[c] === 1;

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isUpper = (c: number): boolean => c >= 65 && c <= 90;
export const isLower = (c: number): boolean => c >= 97 && c <= 122;
export const isAsciiLetter = (c: number): boolean => isUpper(c) || isLower(c);
export const isAsciiAlnum = (c: number): boolean => isDigit(c) || isAsciiLetter(c);
/** Letters, digits and `_`: what continues an identifier or a word in code. */
export const isWordCode = (c: number): boolean => isAsciiAlnum(c) || c === 95;

/** Code unit at `i`, or -1 outside the text, so boundary checks need no length tests. */
export const codeAt = (text: string, i: number): number => (i >= 0 && i < text.length ? text.charCodeAt(i) : -1);

/**
 * How many characters at the end of `text` belong to `set`, counting at most `cap`: the part of a
 * token that more text could still extend.
 */
export function trailingRun(text: string, set: AsciiClass, cap: number): number {
  let n = 0;
  for (let i = text.length - 1; i >= 0 && n < cap && inClass(set, text.charCodeAt(i)); i--) n++;
  return n;
}

/** Shannon entropy of `s` in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const k of counts.values()) {
    const p = k / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Sorted, non-overlapping findings: overlapping spans are joined into one, named after the longest
 * of them (on a tie, the one listed first, so callers list specific categories before generic
 * ones). Redacting the joined span never leaves a piece of either match behind.
 */
export function resolveFindings(findings: readonly Finding[]): Finding[] {
  if (findings.length <= 1) return findings.slice();
  const order = findings.map((f, i) => ({ f, i }));
  order.sort((a, b) => a.f.start - b.f.start || a.i - b.i);
  const out: Finding[] = [];
  let cur = { ...order[0].f };
  let bestLen = cur.end - cur.start;
  let bestIdx = order[0].i;
  for (let k = 1; k < order.length; k++) {
    const { f, i } = order[k];
    if (f.start < cur.end) {
      const len = f.end - f.start;
      if (len > bestLen || (len === bestLen && i < bestIdx)) {
        cur.category = f.category;
        bestLen = len;
        bestIdx = i;
      }
      if (f.end > cur.end) cur.end = f.end;
    } else {
      out.push(cur);
      cur = { ...f };
      bestLen = f.end - f.start;
      bestIdx = i;
    }
  }
  out.push(cur);
  return out;
}
