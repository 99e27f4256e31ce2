// The json_schema guardrail's check: does an answer parse as JSON and validate against the
// request's response-format schema? Ajv compiles each distinct schema once; compiled validators
// are kept by the schema's hash in a bounded, least-recently-used cache.

import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Ajv, ValidateFunction } from "ajv";
import type { JsonObject, ResponseFormat } from "../providers/types.ts";

/** How many distinct schemas stay compiled. */
export const SCHEMA_CACHE_SIZE = 256;

// One Ajv for every schema: `addUsedSchema: false` keeps a schema's $id from registering (two
// callers' schemas may share an $id); unknown keywords and formats are ignored, not refused (the
// provider was sent the schema as it is; the check is on structure and types).
// Ajv (CommonJS, so require() and import give the same module) is loaded with the first schema
// checked: a gateway with no json_schema guardrail never carries it.
let ajvInstance: Ajv | undefined;
const ajv = (): Ajv =>
  (ajvInstance ??= new (createRequire(import.meta.url)("ajv") as typeof import("ajv")).Ajv({ strict: false, addUsedSchema: false, validateFormats: false, allErrors: false, logger: false }));

interface Entry {
  schema: JsonObject;
  validate?: ValidateFunction;
  /** Why the schema could not be compiled (then the answer is only checked to be JSON). */
  error?: string;
}

const compiled = new Map<string, Entry>();

/** The validator of a schema, compiled at most once while it stays in the cache. */
function validatorFor(schema: JsonObject): Entry {
  const key = createHash("sha256").update(JSON.stringify(schema)).digest("base64url");
  let e = compiled.get(key);
  if (e) {
    // Most recently used goes last.
    compiled.delete(key);
    compiled.set(key, e);
    return e;
  }
  try {
    e = { schema, validate: ajv().compile(schema) };
  } catch (err) {
    e = { schema, error: (err as Error)?.message ?? String(err) };
  }
  compiled.set(key, e);
  if (compiled.size > SCHEMA_CACHE_SIZE) {
    const [oldKey, old] = compiled.entries().next().value!;
    compiled.delete(oldKey);
    // Ajv keeps its own cache by schema object: let it go too.
    if (old.validate) ajv().removeSchema(old.schema);
  }
  return e;
}

/** Whether a schema compiles (true), or why not. */
export function schemaCompiles(schema: JsonObject): true | string {
  const e = validatorFor(schema);
  return e.validate ? true : (e.error ?? "it does not compile");
}

/** Compiled schemas held now (for tests and the benchmark). */
export const compiledSchemaCount = () => compiled.size;

export type SchemaCheck =
  | { ok: true; skipped?: string }
  | { ok: false; reason: string };

/**
 * Check an answer against a response format: json_object must parse to a JSON object; json_schema
 * must parse and validate. Reasons name the path and the rule that failed, never the value.
 */
export function checkJsonAnswer(text: string, format: ResponseFormat | undefined): SchemaCheck {
  if (!format || format.type === "text") return { ok: true, skipped: "no JSON response format" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the text: not repeated.
    return { ok: false, reason: "the answer is not valid JSON" };
  }
  if (format.type === "json_object") {
    return value !== null && typeof value === "object" && !Array.isArray(value) ? { ok: true } : { ok: false, reason: "the answer is JSON but not an object" };
  }
  const v = validatorFor(format.schema);
  if (!v.validate) return { ok: true, skipped: `schema "${format.name}" does not compile: ${v.error}` };
  if (v.validate(value)) return { ok: true };
  return { ok: false, reason: `the answer does not match schema "${format.name}": ${ajv().errorsText(v.validate.errors, { dataVar: "answer" })}` };
}
