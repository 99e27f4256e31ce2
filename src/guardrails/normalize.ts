// Folding text for matching: look-alike spellings of the same words (other widths, cases, accents,
// homoglyphs, invisible characters, leetspeak) become one form, and every folded character keeps
// the span of the original text it came from, so a match can be reported in original offsets.

/** A folded text and, for each of its characters, where it came from. */
export interface FoldedText {
  /**
   * NFKC-compatible forms, lower case, combining accents (U+0300–U+036F) dropped, common Cyrillic
   * and Greek homoglyphs mapped to Latin, invisible characters removed, every run of whitespace
   * made one space.
   */
  readonly text: string;
  /** Folded character i came from original characters [starts[i], ends[i]). */
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

/**
 * A view of folded text made for whole-word matching: words (runs of letters and digits) separated
 * by exactly one space, punctuation and symbols turned into that space. `toFolded[i]` is the
 * folded index character i came from.
 */
export interface WordView {
  readonly text: string;
  readonly toFolded: Int32Array;
}

/**
 * Characters that render as nothing and are used to split words invisibly: soft hyphen,
 * zero-width space/joiners, direction marks and embeddings, word joiner and invisible operators,
 * BOM, Mongolian vowel separator, combining grapheme joiner, variation selectors, tag characters.
 */
export function isIgnorable(cp: number): boolean {
  return (
    cp === 0x00ad ||
    cp === 0x034f ||
    cp === 0x061c ||
    cp === 0x180e ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2064) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0xfeff ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xe0000 && cp <= 0xe007f) ||
    (cp >= 0xe0100 && cp <= 0xe01ef)
  );
}

/**
 * Cyrillic, Greek and Latin letters that look like a different Latin letter once lower-cased
 * (upper-case homoglyphs such as Cyrillic "В" or "Н" are listed by their lower-case forms).
 */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: "a", в: "b", е: "e", к: "k", м: "m", н: "h", о: "o", п: "n", р: "p", с: "c", т: "t", у: "y",
  х: "x", ь: "b", ѕ: "s", і: "i", ј: "j", ԁ: "d", ԛ: "q", ԝ: "w", һ: "h", ӏ: "l", ґ: "r", ѵ: "v",
  // Greek
  α: "a", β: "b", γ: "y", ε: "e", η: "n", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", τ: "t", υ: "u",
  χ: "x", ω: "w", ϲ: "c", ϳ: "j",
  // Latin look-alikes without a decomposition
  ı: "i", ȷ: "j", ł: "l", ø: "o", đ: "d", ħ: "h", ɡ: "g", ɑ: "a", ɩ: "i", ʏ: "y",
  // Dashes and minus signs
  "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
};

const MARKS = /\p{M}*/uy;
const COMBINING_ACCENTS = /[\u0300-\u036f]/g;
const WHITESPACE = /\s/;

// Folding one segment (a code point and its combining marks) is pure; non-ASCII text repeats the
// same few segments, so their folds are remembered (bounded, process-wide).
const segmentCache = new Map<string, string>();
const SEGMENT_CACHE_MAX = 8192;

function foldSegment(seg: string): string {
  const hit = segmentCache.get(seg);
  if (hit !== undefined) return hit;
  const base = seg.normalize("NFKD").toLowerCase().replace(COMBINING_ACCENTS, "").normalize("NFC");
  let out = "";
  for (const ch of base) {
    const cp = ch.codePointAt(0)!;
    if (isIgnorable(cp)) continue;
    out += CONFUSABLES[ch] ?? ch;
  }
  if (segmentCache.size >= SEGMENT_CACHE_MAX) segmentCache.clear();
  segmentCache.set(seg, out);
  return out;
}

/**
 * A growable buffer of UTF-16 code units with two offset arrays, turned into a string once. A
 * caller that folds many texts (a stream) passes its own buffers to `foldText` and `wordView` so
 * nothing is allocated per call; the arrays returned are then valid until the buffer is reused.
 */
export class CodeBuffer {
  codes: Uint16Array;
  a: Int32Array;
  b: Int32Array;
  len = 0;
  constructor(capacity = 256) {
    this.codes = new Uint16Array(capacity);
    this.a = new Int32Array(capacity);
    this.b = new Int32Array(capacity);
  }
  reset(): this {
    this.len = 0;
    return this;
  }
  push(code: number, a: number, b: number): void {
    if (this.len === this.codes.length) {
      const grow = <T extends Uint16Array | Int32Array>(x: T, y: T): T => (y.set(x), y);
      const size = this.codes.length * 2 + 16;
      this.codes = grow(this.codes, new Uint16Array(size));
      this.a = grow(this.a, new Int32Array(size));
      this.b = grow(this.b, new Int32Array(size));
    }
    this.codes[this.len] = code;
    this.a[this.len] = a;
    this.b[this.len] = b;
    this.len++;
  }
  /** The code units as a string (a lone surrogate becomes U+FFFD: same length, never a match). */
  text(): string {
    return UTF16.decode(this.codes.subarray(0, this.len));
  }
}

const UTF16 = new TextDecoder("utf-16le");

/** Folds `text` (see `FoldedText`); linear in its length. */
export function foldText(text: string, buffer?: CodeBuffer): FoldedText {
  const n = text.length;
  const out = buffer?.reset() ?? new CodeBuffer(n + 16);
  let lastSpace = false;
  const push = (code: number, start: number, end: number): void => {
    if (code === 32) {
      if (lastSpace) {
        out.b[out.len - 1] = end;
        return;
      }
      lastSpace = true;
    } else lastSpace = false;
    out.push(code, start, end);
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      push(c === 32 || (c >= 9 && c <= 13) ? 32 : c >= 65 && c <= 90 ? c + 32 : c, i, i + 1);
      i++;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (isIgnorable(cp)) {
      i += width;
      continue;
    }
    MARKS.lastIndex = i + width;
    MARKS.exec(text);
    const j = Math.max(MARKS.lastIndex, i + width);
    const seg = foldSegment(text.slice(i, j));
    for (let k = 0; k < seg.length; k++) push(WHITESPACE.test(seg[k]) ? 32 : seg.charCodeAt(k), i, j);
    i = j;
  }
  return { text: out.text(), starts: out.a.subarray(0, out.len), ends: out.b.subarray(0, out.len) };
}

/** Leetspeak digits and symbols, and "l", folded onto the letter they stand for (by code unit). */
const LEET = new Uint16Array(128);
for (const [from, to] of Object.entries({ 0: "o", 1: "i", 3: "e", 4: "a", 5: "s", 7: "t", 8: "b", 9: "g", "@": "a", $: "s", "!": "i", "|": "i", l: "i" }))
  LEET[from.charCodeAt(0)] = to.charCodeAt(0);
/** Symbols that stand for letters inside a token and are punctuation elsewhere. */
const LEET_SYMBOL = new Uint8Array(128);
for (const ch of "@$!|") LEET_SYMBOL[ch.charCodeAt(0)] = 1;
export const isLeetSymbol = (c: number): boolean => c < 128 && LEET_SYMBOL[c] === 1;

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;
const NUMBER_CHAR = /\p{N}/u;

const isWordChar = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i);
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
  if (c >= 0xd800 && c <= 0xdfff) return true; // astral letters; symbols there were folded by NFKC or stay inside a word
  return WORD_CHAR.test(s[i]);
};
const isLetter = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i);
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  return isWordChar(s, i) && !NUMBER_CHAR.test(s[i]);
};

/** Whether folded character i belongs to a word token (with `leet`, leetspeak symbols do too). */
export const isTokenChar = (s: string, i: number, leet: boolean): boolean => isWordChar(s, i) || (leet && isLeetSymbol(s.charCodeAt(i)));

/**
 * The word view of folded text. With `leet`, a token (a run of letters, digits and @ $ ! |)
 * that contains a letter has its leetspeak characters folded ("h3ll0" → "heiio"; "l" and "1" both
 * become "i"); a token without letters ("2024", "$5") keeps its digits, so numbers do not turn
 * into words; symbols that end a token ("wow!") are punctuation.
 */
export function wordView(folded: string, leet: boolean, buffer?: CodeBuffer): WordView {
  const n = folded.length;
  const out = buffer?.reset() ?? new CodeBuffer(n + 1);
  const space = (at: number): void => {
    if (out.len === 0 || out.codes[out.len - 1] !== 32) out.push(32, at, 0);
  };
  let i = 0;
  while (i < n) {
    if (!isTokenChar(folded, i, leet)) {
      space(i);
      i++;
      continue;
    }
    let j = i;
    let hasLetter = false;
    while (j < n && isTokenChar(folded, j, leet)) {
      if (!hasLetter && isLetter(folded, j)) hasLetter = true;
      j++;
    }
    // Symbols ending a token are punctuation ("f@lc0n!"), not letters.
    let core = j;
    while (leet && core > i && isLeetSymbol(folded.charCodeAt(core - 1))) core--;
    for (let k = i; k < j; k++) {
      const c = folded.charCodeAt(k);
      if (k >= core || (leet && !hasLetter && isLeetSymbol(c))) space(k);
      else out.push(leet && hasLetter && c < 128 && LEET[c] !== 0 ? LEET[c] : c, k, 0);
    }
    i = j;
  }
  return { text: out.text(), toFolded: out.a.subarray(0, out.len) };
}

/** One needle (a deny word or phrase) in the form a word view holds it. */
export function foldNeedle(needle: string, leet: boolean): string {
  return wordView(foldText(needle).text, leet).text.trim();
}
