// OpenRouter's response-healing plugin: a JSON answer (response_format json_object or json_schema,
// not streamed) that does not parse is repaired with jsonrepair (markdown fences, prose around the
// JSON, trailing commas, unquoted keys, single quotes, a truncated end) and, when the repair
// parses, answered instead, with an adjustment saying so. An answer that parses is left as it is;
// one that cannot be repaired too (the caller sees what the model wrote).

import type { Answer } from "../engine/chat-engine.ts";

const parses = (s: string): boolean => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

/**
 * The part of an answer that is meant as JSON: a fenced block's content (```json … ```, or an
 * unclosed fence's rest), else from the first { or [ to the last } or ] (or to the end, when the
 * answer was cut short): the prose a model puts around JSON is not part of it.
 */
export function jsonPart(text: string): string {
  const fence = /```[A-Za-z]*[ \t]*\r?\n?([\s\S]*?)(?:```|$)/.exec(text);
  if (fence) return fence[1]!.trim();
  const start = text.search(/[{[]/);
  if (start < 0) return text;
  const end = Math.max(text.lastIndexOf("}"), text.lastIndexOf("]"));
  // What follows the last bracket is prose only when it holds nothing of JSON's (a cut-short
  // answer's tail, `, "b": "x`, is kept for the repair to close).
  return end > start && !/["{}[\]:,]/.test(text.slice(end + 1)) ? text.slice(start, end + 1) : text.slice(start);
}

/** The module is loaded with the first answer that needs it. */
let repairer: Promise<(text: string) => string> | undefined;

/** The answer with its JSON repaired, or the answer itself when it parses or cannot be repaired. */
export async function healJson(a: Answer): Promise<Answer> {
  if (!a.text || parses(a.text)) return a;
  const repair = await (repairer ??= import("jsonrepair").then((m) => m.jsonrepair));
  let fixed: string;
  try {
    fixed = repair(jsonPart(a.text));
  } catch {
    return a;
  }
  if (!parses(fixed)) return a;
  return { ...a, text: fixed, adjustments: [...a.adjustments, { field: "plugins.response-healing", detail: `repaired the answer's JSON (${a.text.length} → ${fixed.length} characters)` }] };
}
