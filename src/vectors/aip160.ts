// Gemini's File Search `metadataFilter`: a filter string in the syntax of Google's AIP-160
// (`author = "Robert Graves" AND year >= 1930`), turned into the Vector Stores API's attribute
// filter that the gateway's search applies. Comparisons `=`, `!=`, `<`, `<=`, `>`, `>=` of a key
// with a quoted string, a number or true/false; `AND` and `OR` (OR binds tighter, as AIP-160
// says: `a AND b OR c` is `a AND (b OR c)`); parentheses. Anything else (NOT, `:`, functions,
// wildcards) is refused naming the field, never silently ignored.

import type { Comparison, Filter } from "./types.ts";

type Token = { kind: "word" | "string" | "op" | "(" | ")"; text: string; at: number };

const OPS: Record<string, Comparison["type"]> = { "=": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte" };

function tokens(s: string, fail: (msg: string) => never): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")") {
      out.push({ kind: c, text: c, at: i });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let v = "";
      while (j < s.length && s[j] !== c) {
        if (s[j] === "\\" && j + 1 < s.length) j++;
        v += s[j++];
      }
      if (j >= s.length) fail(`an unterminated string at ${i + 1}`);
      out.push({ kind: "string", text: v, at: i });
      i = j + 1;
      continue;
    }
    const op = /^(<=|>=|!=|=|<|>)/.exec(s.slice(i));
    if (op) {
      out.push({ kind: "op", text: op[1], at: i });
      i += op[1].length;
      continue;
    }
    const w = /^[A-Za-z0-9_.\-+]+/.exec(s.slice(i));
    if (!w) fail(`"${c}" at ${i + 1} is not part of the filter syntax (comparisons with = != < <= > >=, AND, OR, parentheses)`);
    out.push({ kind: "word", text: w[0], at: i });
    i += w[0].length;
  }
  return out;
}

/** The attribute filter of an AIP-160 filter string; `fail` throws the door's error (naming its field). */
export function parseAip160(s: string, fail: (msg: string) => never): Filter {
  const t = tokens(s, fail);
  let p = 0;
  const peek = () => t[p];
  const isWord = (w: string) => peek()?.kind === "word" && peek()!.text.toUpperCase() === w;

  // expr := and ; and := or (AND or)* ; or := term (OR term)* ; term := ( expr ) | comparison
  function and(): Filter {
    const parts = [or()];
    while (isWord("AND")) {
      p++;
      parts.push(or());
    }
    return parts.length === 1 ? parts[0] : { type: "and", filters: parts };
  }
  function or(): Filter {
    const parts = [term()];
    while (isWord("OR")) {
      p++;
      parts.push(term());
    }
    return parts.length === 1 ? parts[0] : { type: "or", filters: parts };
  }
  function term(): Filter {
    const tok = peek();
    if (!tok) fail("ends where a comparison was expected");
    if (tok.kind === "(") {
      p++;
      const f = and();
      if (peek()?.kind !== ")") fail(`a "(" at ${tok.at + 1} is not closed`);
      p++;
      return f;
    }
    if (tok.kind !== "word" || ["AND", "OR", "NOT"].includes(tok.text.toUpperCase())) fail(`"${tok.text}" at ${tok.at + 1}: a comparison (key = value) was expected${tok.text.toUpperCase() === "NOT" ? " (NOT is not supported: use !=)" : ""}`);
    p++;
    const op = peek();
    if (!op || op.kind !== "op") fail(`"${tok.text}" at ${tok.at + 1} must be followed by = != < <= > or >=`);
    p++;
    const v = peek();
    if (!v || (v.kind !== "string" && v.kind !== "word")) fail(`"${tok.text} ${op.text}" at ${tok.at + 1} has no value`);
    p++;
    let value: string | number | boolean;
    if (v.kind === "string") value = v.text;
    else if (v.text === "true" || v.text === "false") value = v.text === "true";
    else if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v.text)) value = Number(v.text);
    else fail(`the value "${v.text}" at ${v.at + 1} must be a quoted string, a number, true or false`);
    const type = OPS[op.text];
    if (typeof value === "string" && !["eq", "ne"].includes(type)) fail(`"${tok.text} ${op.text}" compares a string: only = and != do`);
    return { type, key: tok.text, value } as Comparison;
  }

  if (t.length === 0) fail("is empty");
  const f = and();
  if (p < t.length) fail(`"${t[p].text}" at ${t[p].at + 1} is not expected there (join comparisons with AND or OR)`);
  return f;
}
