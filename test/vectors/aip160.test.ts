// Gemini's metadataFilter (AIP-160) as the Vector Stores API's attribute filter: comparisons,
// AND and OR with OR binding tighter, parentheses, quoted strings, numbers and booleans; and each
// thing the syntax does not cover refused with where it is.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAip160 } from "../../src/vectors/aip160.ts";

const parse = (s: string) =>
  parseAip160(s, (msg) => {
    throw new Error(msg);
  });

test("comparisons, AND, OR (tighter than AND), parentheses, value types", () => {
  assert.deepEqual(parse('author = "Robert Graves"'), { type: "eq", key: "author", value: "Robert Graves" });
  assert.deepEqual(parse("year >= 1930 AND year < 1940"), { type: "and", filters: [{ type: "gte", key: "year", value: 1930 }, { type: "lt", key: "year", value: 1940 }] });
  assert.deepEqual(parse("a = 1 AND b = 2 OR c = 3"), { type: "and", filters: [{ type: "eq", key: "a", value: 1 }, { type: "or", filters: [{ type: "eq", key: "b", value: 2 }, { type: "eq", key: "c", value: 3 }] }] });
  assert.deepEqual(parse("(a = 1 AND b = 2) OR c != 'x y'"), { type: "or", filters: [{ type: "and", filters: [{ type: "eq", key: "a", value: 1 }, { type: "eq", key: "b", value: 2 }] }, { type: "ne", key: "c", value: "x y" }] });
  assert.deepEqual(parse("draft = false and score > -0.5"), { type: "and", filters: [{ type: "eq", key: "draft", value: false }, { type: "gt", key: "score", value: -0.5 }] });
  assert.deepEqual(parse('title = "say \\"hi\\""'), { type: "eq", key: "title", value: 'say "hi"' });
});

test("what the syntax does not cover is refused, saying where", () => {
  assert.throws(() => parse(""), /is empty/);
  assert.throws(() => parse("NOT a = 1"), /"NOT" at 1: a comparison .* \(NOT is not supported: use !=\)/);
  assert.throws(() => parse("a : 1"), /":" at 3 is not part of the filter syntax/);
  assert.throws(() => parse("a = 1 b = 2"), /"b" at 7 is not expected there/);
  assert.throws(() => parse("(a = 1"), /a "\(" at 1 is not closed/);
  assert.throws(() => parse('a = "x'), /an unterminated string at 5/);
  assert.throws(() => parse("a = Robert"), /the value "Robert" at 5 must be a quoted string, a number, true or false/);
  assert.throws(() => parse('a > "x"'), /compares a string: only = and != do/);
  assert.throws(() => parse("a ="), /has no value/);
});
