// Deny-list patterns are written by operators, so each one is checked before it is compiled:
// no backreferences or lookarounds, no quantifier inside a repeated group or alternation (the
// shapes that backtrack exponentially), and every unbounded repetition capped, so a match has a
// known maximum length (what a stream holds back) and each start position costs bounded work.

export interface BoundedPattern {
  readonly regex: RegExp;
  /** Longest match, in UTF-16 code units of the text it runs on. */
  readonly maxLength: number;
}

/** How far `*`, `+` and `{n,}` may repeat once capped. */
export const REPEAT_CAP = 32;
/** Longest match a pattern may have once capped. */
export const PATTERN_MAX_LENGTH = 512;

interface Piece {
  max: number;
  /** Contains a quantifier or an alternation: repeating it could backtrack exponentially. */
  risky: boolean;
  quantifiable: boolean;
}

/**
 * Checks and rewrites `source`, then compiles it with flags `giu`. Throws an Error that names the
 * pattern and the reason when it is not accepted.
 */
export function compileBoundedPattern(source: string): BoundedPattern {
  const fail = (why: string): never => {
    throw new Error(`deny pattern ${JSON.stringify(source)}: ${why}`);
  };
  let i = 0;
  let out = "";
  const n = source.length;

  const alternation = (): Piece => {
    let piece = sequence();
    while (source[i] === "|") {
      out += "|";
      i++;
      const next = sequence();
      piece = { max: Math.max(piece.max, next.max), risky: true, quantifiable: true };
    }
    return piece;
  };

  const sequence = (): Piece => {
    let max = 0;
    let risky = false;
    while (i < n && source[i] !== "|" && source[i] !== ")") {
      const a = atom();
      const q = quantifier();
      if (q === undefined) {
        max += a.max;
        risky ||= a.risky;
        continue;
      }
      if (!a.quantifiable) fail("a quantifier follows nothing that can repeat");
      if (a.risky && q.max > 1) fail("a repeated group contains a quantifier or an alternation (may backtrack catastrophically)");
      const upper = Number.isFinite(q.max) ? q.max : Math.max(q.min, REPEAT_CAP);
      if (q.min > REPEAT_CAP * 4 || upper > REPEAT_CAP * 4) fail(`repetition above ${REPEAT_CAP * 4}`);
      out += `{${q.min},${upper}}${q.lazy ? "?" : ""}`;
      max += a.max * upper;
      risky = true;
    }
    return { max, risky, quantifiable: true };
  };

  const atom = (): Piece => {
    const c = source[i];
    if (c === "(") {
      if (source.startsWith("(?=", i) || source.startsWith("(?!", i) || source.startsWith("(?<=", i) || source.startsWith("(?<!", i))
        fail("lookarounds are not supported");
      if (source.startsWith("(?:", i)) {
        out += "(?:";
        i += 3;
      } else if (source.startsWith("(?<", i)) {
        const close = source.indexOf(">", i);
        if (close === -1) fail("unterminated group name");
        out += source.slice(i, close + 1);
        i = close + 1;
      } else if (source.startsWith("(?", i)) {
        fail("inline modifiers are not supported");
      } else {
        out += "(";
        i++;
      }
      const inner = alternation();
      if (source[i] !== ")") fail("unbalanced parenthesis");
      out += ")";
      i++;
      return { ...inner, quantifiable: true };
    }
    if (c === "[") {
      const start = i;
      i++;
      if (source[i] === "^") i++;
      if (source[i] === "]") i++;
      while (i < n && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      if (i >= n) fail("unterminated character class");
      i++;
      out += source.slice(start, i);
      return { max: 2, risky: false, quantifiable: true };
    }
    if (c === "\\") {
      const d = source[i + 1];
      if (d === undefined) fail("trailing backslash");
      if (/[1-9]/.test(d) || d === "k") fail("backreferences are not supported");
      if (d === "b" || d === "B") {
        out += source.slice(i, i + 2);
        i += 2;
        return { max: 0, risky: false, quantifiable: false };
      }
      let end = i + 2;
      if ((d === "p" || d === "P" || d === "u") && source[i + 2] === "{") {
        end = source.indexOf("}", i) + 1;
        if (end === 0) fail("unterminated escape");
      } else if (d === "u") end = i + 6;
      else if (d === "x") end = i + 4;
      else if (d === "c") end = i + 3;
      out += source.slice(i, end);
      i = end;
      return { max: 2, risky: false, quantifiable: true };
    }
    if (c === "^" || c === "$") {
      out += c;
      i++;
      return { max: 0, risky: false, quantifiable: false };
    }
    if (c === "*" || c === "+" || c === "?" || c === "{") fail("nothing to repeat");
    const cp = source.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    out += source.slice(i, i + width);
    i += width;
    return { max: c === "." ? 2 : width, risky: false, quantifiable: true };
  };

  const quantifier = (): { min: number; max: number; lazy: boolean } | undefined => {
    const c = source[i];
    let min: number;
    let max: number;
    if (c === "*" || c === "+" || c === "?") {
      min = c === "+" ? 1 : 0;
      max = c === "?" ? 1 : Infinity;
      i++;
    } else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
      if (m === null) fail("malformed repetition");
      min = Number(m![1]);
      max = m![2] === undefined ? min : m![3] === "" ? Infinity : Number(m![3]);
      i += m![0].length;
    } else return undefined;
    let lazy = false;
    if (source[i] === "?") {
      lazy = true;
      i++;
    }
    if (source[i] === "*" || source[i] === "+" || source[i] === "{" || source[i] === "?") fail("a quantifier follows a quantifier");
    return { min, max, lazy };
  };

  const top = alternation();
  if (i < n) fail("unbalanced parenthesis");
  if (top.max > PATTERN_MAX_LENGTH) fail(`a match could be ${top.max} characters long (at most ${PATTERN_MAX_LENGTH})`);
  let regex: RegExp;
  try {
    regex = new RegExp(out, "giu");
  } catch (err) {
    return fail((err as Error).message);
  }
  return { regex, maxLength: Math.max(top.max, 1) };
}
