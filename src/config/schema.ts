// A small declarative validator for the YAML config: every failure names the path of the bad
// field ("routes[1].targets[0].deployment: ..."). YAML keys are snake_case; validated objects
// come out camelCase.

export class ConfigError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = "ConfigError";
    this.path = path;
  }
}

export type V<T> = (value: unknown, path: string) => T;

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "list" : typeof v);
export const join = (path: string, key: string | number) =>
  typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;

export function str(opts: { min?: number; pattern?: RegExp; oneOf?: readonly string[] } = {}): V<string> {
  return (v, p) => {
    if (typeof v !== "string") throw new ConfigError(p, `expected a string, got ${typeName(v)}`);
    if (opts.min !== undefined && v.length < opts.min) throw new ConfigError(p, "must not be empty");
    if (opts.oneOf && !opts.oneOf.includes(v)) throw new ConfigError(p, `must be one of ${opts.oneOf.join(", ")}, got "${v}"`);
    if (opts.pattern && !opts.pattern.test(v)) throw new ConfigError(p, `"${v}" does not match ${opts.pattern}`);
    return v;
  };
}

export function num(opts: { min?: number; max?: number; int?: boolean } = {}): V<number> {
  return (v, p) => {
    // Env substitution yields strings; accept numeric strings there.
    const n = typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n)) throw new ConfigError(p, `expected a number, got ${typeName(v)}`);
    if (opts.int && !Number.isInteger(n)) throw new ConfigError(p, `expected an integer, got ${n}`);
    if (opts.min !== undefined && n < opts.min) throw new ConfigError(p, `must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw new ConfigError(p, `must be <= ${opts.max}, got ${n}`);
    return n;
  };
}

export const bool: V<boolean> = (v, p) => {
  if (v === "true") return true;
  if (v === "false") return false;
  if (typeof v !== "boolean") throw new ConfigError(p, `expected true or false, got ${typeName(v)}`);
  return v;
};

export function list<T>(item: V<T>, opts: { min?: number } = {}): V<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) throw new ConfigError(p, `expected a list, got ${typeName(v)}`);
    if (opts.min !== undefined && v.length < opts.min) throw new ConfigError(p, `needs at least ${opts.min} entr${opts.min === 1 ? "y" : "ies"}`);
    return v.map((x, i) => item(x, join(p, i)));
  };
}

export function record<T>(item: V<T>): V<Record<string, T>> {
  return (v, p) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(p, `expected a mapping, got ${typeName(v)}`);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) out[k] = item(x, join(p, k));
    return out;
  };
}

type Field<T> = { v: V<T>; optional?: false; def?: undefined } | { v: V<T>; optional: true; def?: T };
type Spec = Record<string, Field<any>>;

/** A field that must be present. */
export const req = <T>(v: V<T>): Field<T> => ({ v });
/** A field that may be absent; `def` fills it in. */
export const opt = <T>(v: V<T>, def?: T): Field<T> => ({ v, optional: true, def });

const isEmptyMapping = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

/** An object with exactly these (snake_case) keys; unknown keys are errors. Output keys are camelCase. */
export function obj<T>(spec: Spec): V<T> {
  return (v, p) => {
    if (v === undefined || v === null) v = {};
    if (typeof v !== "object" || Array.isArray(v)) throw new ConfigError(p, `expected a mapping, got ${typeName(v)}`);
    const input = v as Record<string, unknown>;
    for (const k of Object.keys(input)) {
      if (!(k in spec)) {
        throw new ConfigError(join(p, k), `unknown key (expected one of: ${Object.keys(spec).join(", ")})`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(spec)) {
      const x = input[k];
      if (x === undefined || x === null) {
        if (!f.optional) throw new ConfigError(join(p, k), "is required");
        // An empty mapping's default goes through its validator, so the fields inside get their
        // defaults too (`server:` left out still gets server.host and server.port).
        if (f.def !== undefined) out[camel(k)] = isEmptyMapping(f.def) ? f.v({}, join(p, k)) : structuredClone(f.def);
        continue;
      }
      out[camel(k)] = f.v(x, join(p, k));
    }
    return out as T;
  };
}

/** Replace `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree. */
export function substituteEnv(v: unknown, env: Record<string, string | undefined>, path = ""): unknown {
  if (typeof v === "string") {
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, def: string | undefined) => {
      const val = env[name];
      if (val !== undefined && val !== "") return val;
      if (def !== undefined) return def;
      throw new ConfigError(path, `environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteEnv(x, env, join(path, i)));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = substituteEnv(x, env, join(path, k));
    return out;
  }
  return v;
}

/** An http or https URL (webhooks: guardrails, alerts). Not echoed when bad: webhook URLs carry tokens. */
export const httpUrl: V<string> = (v, p) => {
  const s = str({ min: 1 })(v, p);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(p, "is not a URL (an http or https URL was expected)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(p, `must be an http or https URL, got ${u.protocol}`);
  return s;
};
