// Portkey's gateway configs and provider headers on the OpenAI-shaped doors, so an app that routes
// with them (the portkey-ai SDK's `config`, `virtualKey` and `provider` options, or the headers they
// become) keeps its fallbacks, load balancing, conditional routing, retries, timeouts and cache
// with only the base URL changed:
//
//   x-portkey-config          a config, as JSON; or a saved config's id ("pc-…"), which names a
//                             route of the gateway (make one of that name with the config's targets)
//   x-portkey-virtual-key     the provider to send to (a virtual key here names a configured provider)
//   x-portkey-provider        "@name" (Portkey's Model Catalog) or a configured provider's name
//   x-portkey-request-timeout each attempt's time limit, in ms
//   model "@provider/model"   Portkey's Model Catalog name for a provider's model
//
// A config is translated, before the door parses the body, into the gateway's own request options
// (the body's `model` and `signalbox` object: fallbacks, no_fallback, retry,
// fallback_on_status_codes, timeouts, cache, guardrails), so every check, limit, span and record of
// a request applies as it does to any other. A target's provider (virtual_key, provider) and model
// (override_params.model, else the request's) name the configured deployment of that provider and
// model; a target without a provider names a route, alias or deployment by its model. Strategies:
// `fallback` tries targets in order; `loadbalance` picks one by weight; `conditional` picks the
// target its first matching condition names (queries on `metadata.*` and `params.*`); `single` the
// first. Settings are inherited by nested targets, as in Portkey.
//
// What does not map is refused by name, never ignored: provider credentials and hosts (api_key,
// custom_host, aws_*, vertex_*, azure_*: here providers hold them), hooks, inline guardrail
// definitions (name the gateway's guardrails instead), and override_params other than `model`
// that differ between targets of one fallback chain (the gateway sends one body to every hop).

import type { DeploymentConfig } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { ModelRegistry } from "../router/registry.ts";

type Json = Record<string, unknown>;
type Mode = "single" | "fallback" | "loadbalance" | "conditional";

/** A parsed config node: the root, or a target (which may itself have a strategy and targets). */
interface Target {
  field: string;
  name?: string;
  /** The configured provider it sends to, and the field that named it. */
  provider?: { name: string; field: string };
  overrides?: Json;
  weight: number;
  mode?: Mode;
  onStatusCodes?: number[];
  conditions?: { query: Json; then: string; field: string }[];
  default?: string;
  targets?: Target[];
  retry?: { attempts: number; onStatusCodes?: number[] };
  requestTimeout?: number;
  cache?: { maxAge?: number };
  guardrails?: string[];
}

/** What a request's Portkey headers ask for: applied to its body by `applyPortkey`. */
export interface PortkeyRouting {
  root: Target;
}

/** Settings a target passes on to the targets under it. */
interface Inherited {
  overrides: Json;
  retry?: Target["retry"];
  requestTimeout?: number;
  cache?: Target["cache"];
  guardrails: string[];
}

/** One model name the translated request may be sent to, with the settings that reach it. */
interface Leaf extends Inherited {
  model: string;
  /** Sent to a provider named by the config: nothing else stands in for it. */
  pinned: boolean;
  field: string;
}

const bad = (field: string, message: string): never => {
  throw new GatewayError("invalid_argument", `${field}: ${message}`, { field });
};
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const snake = (k: string) => k.replace("ID", "Id").replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const FIELDS = new Set(["strategy", "targets", "name", "provider", "virtual_key", "override_params", "weight", "retry", "request_timeout", "cache", "input_guardrails", "output_guardrails"]);
const CREDENTIAL = /^(api_key|custom_host|forward_headers|aws_|vertex_|azure_|openai_|anthropic_|workers_ai_|huggingface_|fireworks_|deployment_|provider_file_name|provider_model)/;

/** Parsed configs by their header text: an app sends the same config with every request. */
const parsed = new Map<string, Target>();
const PARSED_MAX = 256;

/**
 * The Portkey routing a request's headers ask for, or undefined when they ask for none. Throws a
 * GatewayError naming the header (and the config's field) for anything it cannot honour.
 */
export function portkeyRouting(h: { config?: string; virtualKey?: string; provider?: string; requestTimeout?: string; route?: (name: string) => boolean }): PortkeyRouting | undefined {
  let root: Target | undefined;
  if (h.config !== undefined && h.config.trim() !== "") {
    const text = h.config.trim();
    root = parsed.get(text);
    if (!root) {
      // A saved config's id names a route of the gateway's (a route made with the config's id as
      // its name keeps the app's header working): it is the model, whatever the body names.
      if (!text.startsWith("{")) return { root: savedConfig(text, h.route) };
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        bad("x-portkey-config", "must be a JSON object");
      }
      if (!isObj(v)) bad("x-portkey-config", "must be a JSON object");
      root = parseTarget(v as Json, "x-portkey-config", 0);
      if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
      parsed.set(text, root);
    }
  }
  const header = h.virtualKey !== undefined && h.virtualKey !== "" ? { name: h.virtualKey, field: "x-portkey-virtual-key" } : h.provider !== undefined && h.provider !== "" ? { name: h.provider.replace(/^@/, ""), field: "x-portkey-provider" } : undefined;
  let timeout: number | undefined;
  if (h.requestTimeout !== undefined && h.requestTimeout !== "") {
    timeout = Number(h.requestTimeout);
    if (!Number.isInteger(timeout) || timeout <= 0) bad("x-portkey-request-timeout", `must be a positive number of ms, got "${h.requestTimeout}"`);
  }
  if (!root && !header && timeout === undefined) return undefined;
  root ??= { field: "x-portkey-config", weight: 1 };
  // The headers are the defaults of the config's top level (a config's own provider wins).
  if (header && !root.provider && !root.targets) root = { ...root, provider: header };
  if (timeout !== undefined && root.requestTimeout === undefined) root = { ...root, requestTimeout: timeout };
  return { root };
}

/** A saved config's id as a target: the route of that name. */
function savedConfig(id: string, route: ((name: string) => boolean) | undefined): Target {
  if (!route?.(id)) bad("x-portkey-config", `"${id.slice(0, 64)}" is a saved config's id and this gateway has no route of that name: make a route named "${id.slice(0, 64)}" with the config's targets, or send the config itself as JSON`);
  return { field: "x-portkey-config", weight: 1, overrides: { model: id } };
}

function parseTarget(raw: Json, field: string, depth: number): Target {
  if (depth > 4) bad(field, "targets nest at most 4 deep");
  const o: Json = {};
  for (const [k, v] of Object.entries(raw)) o[snake(k)] = v;
  for (const k of Object.keys(o)) {
    if (FIELDS.has(k)) continue;
    if (CREDENTIAL.test(k)) bad(`${field}.${k}`, "provider credentials and hosts are the gateway's own (its providers hold them); name a configured provider with virtual_key or provider \"@name\"");
    if (k === "before_request_hooks" || k === "after_request_hooks") bad(`${field}.${k}`, "hooks are not run here; name the gateway's guardrails in input_guardrails or output_guardrails");
    bad(`${field}.${k}`, `is not a config field the gateway reads (${[...FIELDS].join(", ")})`);
  }
  const t: Target = { field, weight: 1 };
  if (o.name !== undefined) t.name = str(o.name, `${field}.name`);
  if (o.virtual_key !== undefined) t.provider = { name: str(o.virtual_key, `${field}.virtual_key`), field: `${field}.virtual_key` };
  if (o.provider !== undefined) {
    if (t.provider) bad(`${field}.provider`, "give virtual_key or provider, not both");
    t.provider = { name: str(o.provider, `${field}.provider`).replace(/^@/, ""), field: `${field}.provider` };
  }
  if (o.override_params !== undefined) {
    if (!isObj(o.override_params)) bad(`${field}.override_params`, "must be an object of request parameters");
    const ov = o.override_params as Json;
    if (ov.model !== undefined && (typeof ov.model !== "string" || ov.model === "")) bad(`${field}.override_params.model`, "must be a model name");
    if (ov.stream !== undefined || ov.messages !== undefined || ov.input !== undefined) bad(`${field}.override_params`, "may not set stream, messages or input");
    t.overrides = ov;
  }
  if (o.weight !== undefined) {
    if (typeof o.weight !== "number" || !(o.weight >= 0)) bad(`${field}.weight`, "must be a number of 0 or more");
    t.weight = o.weight as number;
  }
  if (o.retry !== undefined) {
    const r = obj(o.retry, `${field}.retry`);
    const attempts = r.attempts ?? 0;
    if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 0 || attempts > 10) bad(`${field}.retry.attempts`, "must be an integer from 0 to 10");
    t.retry = { attempts: attempts as number, ...codes(r.on_status_codes ?? r.onStatusCodes, `${field}.retry.on_status_codes`) };
  }
  if (o.request_timeout !== undefined) {
    if (typeof o.request_timeout !== "number" || !Number.isInteger(o.request_timeout) || o.request_timeout <= 0) bad(`${field}.request_timeout`, "must be a positive number of ms");
    t.requestTimeout = o.request_timeout as number;
  }
  if (o.cache !== undefined) {
    const c = obj(o.cache, `${field}.cache`);
    const mode = c.mode ?? "simple";
    // "semantic" uses the route's cache, semantic when the route configures it (README: Semantic cache).
    if (mode !== "simple" && mode !== "semantic") bad(`${field}.cache.mode`, `must be simple or semantic, got ${JSON.stringify(mode)}`);
    const age = c.max_age ?? c.maxAge;
    if (age !== undefined && (typeof age !== "number" || !Number.isInteger(age) || age <= 0)) bad(`${field}.cache.max_age`, "must be a positive number of seconds");
    t.cache = age !== undefined ? { maxAge: age as number } : {};
  }
  const guards = [...guardrailNames(o.input_guardrails, `${field}.input_guardrails`), ...guardrailNames(o.output_guardrails, `${field}.output_guardrails`)];
  if (guards.length) t.guardrails = [...new Set(guards)];
  if (o.strategy !== undefined) {
    const s: Json = {};
    for (const [k, v] of Object.entries(obj(o.strategy, `${field}.strategy`))) s[snake(k)] = v;
    const mode = s.mode;
    if (mode !== "single" && mode !== "fallback" && mode !== "loadbalance" && mode !== "conditional") bad(`${field}.strategy.mode`, `must be single, fallback, loadbalance or conditional, got ${JSON.stringify(mode)}`);
    t.mode = mode as Mode;
    const sc = codes(s.on_status_codes, `${field}.strategy.on_status_codes`).onStatusCodes;
    if (sc) t.onStatusCodes = sc;
    if (mode === "conditional") {
      if (!Array.isArray(s.conditions) || s.conditions.length === 0) bad(`${field}.strategy.conditions`, "a conditional strategy needs conditions");
      t.conditions = (s.conditions as unknown[]).map((c, i) => {
        const f = `${field}.strategy.conditions[${i}]`;
        const cond = obj(c, f);
        if (!isObj(cond.query)) bad(`${f}.query`, "must be an object");
        checkQuery(cond.query as Json, `${f}.query`);
        return { query: cond.query as Json, then: str(cond.then, `${f}.then`), field: f };
      });
      if (s.default !== undefined) t.default = str(s.default, `${field}.strategy.default`);
    }
  }
  if (o.targets !== undefined) {
    if (!Array.isArray(o.targets) || o.targets.length === 0) bad(`${field}.targets`, "must be a non-empty array");
    if ((o.targets as unknown[]).length > 16) bad(`${field}.targets`, "at most 16 targets");
    if (!t.mode) bad(`${field}.strategy`, "is required with targets (mode: fallback, loadbalance, conditional or single)");
    if (t.provider) bad(t.provider.field, "a config with targets names its providers in its targets");
    t.targets = (o.targets as unknown[]).map((x, i) => parseTarget(obj(x, `${field}.targets[${i}]`), `${field}.targets[${i}]`, depth + 1));
    if (t.mode === "loadbalance" && !t.targets.some((x) => x.weight > 0)) bad(`${field}.targets`, "a loadbalance strategy needs a target with a weight above 0");
    if (t.mode === "conditional") {
      const names = new Set(t.targets.map((x) => x.name).filter(Boolean));
      for (const c of t.conditions!) if (!names.has(c.then)) bad(`${c.field}.then`, `names no target ("${c.then}"); give the target that name`);
      if (t.default !== undefined && !names.has(t.default)) bad(`${field}.strategy.default`, `names no target ("${t.default}")`);
    }
  } else if (t.mode && t.mode !== "single") bad(`${field}.targets`, `a ${t.mode} strategy needs targets`);
  return t;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "") bad(field, "must be a non-empty string");
  return v as string;
}

function obj(v: unknown, field: string): Json {
  if (!isObj(v)) bad(field, "must be an object");
  return v as Json;
}

function codes(v: unknown, field: string): { onStatusCodes?: number[] } {
  if (v === undefined || v === null) return {};
  if (!Array.isArray(v)) bad(field, "must be an array of HTTP statuses");
  const out = (v as unknown[]).map((c, i) => (typeof c === "number" && Number.isInteger(c) && c >= 400 && c <= 599 ? c : bad(`${field}[${i}]`, `must be an HTTP error status from 400 to 599, got ${JSON.stringify(c)}`)));
  if (out.length > 20) bad(field, "at most 20 status codes");
  return out.length ? { onStatusCodes: out } : {};
}

/** Guardrails by name (the gateway's own); Portkey's inline checks are refused by name. */
function guardrailNames(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(field, "must be an array of guardrail names");
  return (v as unknown[]).map((g, i) => (typeof g === "string" && g !== "" ? g : bad(`${field}[${i}]`, "name a guardrail of the gateway's configuration; inline checks are not run here")));
}

const OPS = new Set(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists"]);

/** A condition's query, checked once when the config is parsed. */
function checkQuery(q: Json, field: string): void {
  for (const [k, v] of Object.entries(q)) {
    if (k === "$and" || k === "$or") {
      if (!Array.isArray(v) || v.length === 0) bad(`${field}.${k}`, "must be a non-empty array of queries");
      (v as unknown[]).forEach((x, i) => checkQuery(obj(x, `${field}.${k}[${i}]`), `${field}.${k}[${i}]`));
      continue;
    }
    if (!k.startsWith("metadata.") && !k.startsWith("params.")) bad(`${field}.${k}`, "a condition reads metadata.<key> or params.<field>");
    if (isObj(v)) {
      for (const [op, x] of Object.entries(v)) {
        if (!OPS.has(op)) bad(`${field}.${k}.${op}`, `is not an operator (${[...OPS].join(", ")})`);
        if ((op === "$in" || op === "$nin") && !Array.isArray(x)) bad(`${field}.${k}.${op}`, "must be an array");
        if (op === "$regex") {
          if (typeof x !== "string") bad(`${field}.${k}.$regex`, "must be a regular expression as a string");
          try {
            new RegExp(x as string);
          } catch {
            bad(`${field}.${k}.$regex`, "is not a valid regular expression");
          }
        }
      }
    }
  }
}

/** The value a condition's path names: metadata.<key> from the request's metadata, params.<a.b> from its body. */
function lookup(path: string, body: Json, metadata: Record<string, string>): unknown {
  if (path.startsWith("metadata.")) return metadata[path.slice(9)];
  let v: unknown = body;
  for (const part of path.slice(7).split(".")) v = isObj(v) ? v[part] : undefined;
  return v;
}

function compare(a: unknown, b: unknown): number | undefined {
  const x = typeof a === "string" && a.trim() !== "" && Number.isFinite(Number(a)) ? Number(a) : a;
  const y = typeof b === "string" && b.trim() !== "" && Number.isFinite(Number(b)) ? Number(b) : b;
  if (typeof x === "number" && typeof y === "number") return x - y;
  if (typeof x === "string" && typeof y === "string") return x < y ? -1 : x > y ? 1 : 0;
  return undefined;
}

const same = (a: unknown, b: unknown) => a === b || (a !== undefined && b !== undefined && compare(a, b) === 0);

function matches(q: Json, body: Json, metadata: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(q)) {
    if (k === "$and") {
      if (!(v as Json[]).every((x) => matches(x, body, metadata))) return false;
      continue;
    }
    if (k === "$or") {
      if (!(v as Json[]).some((x) => matches(x, body, metadata))) return false;
      continue;
    }
    const actual = lookup(k, body, metadata);
    const ops: Json = isObj(v) ? v : { $eq: v };
    for (const [op, want] of Object.entries(ops)) {
      const c = compare(actual, want);
      const ok =
        op === "$eq" ? same(actual, want)
        : op === "$ne" ? !same(actual, want)
        : op === "$in" ? (want as unknown[]).some((w) => same(actual, w))
        : op === "$nin" ? !(want as unknown[]).some((w) => same(actual, w))
        : op === "$regex" ? typeof actual === "string" && new RegExp(want as string).test(actual)
        : op === "$exists" ? (actual !== undefined) === Boolean(want)
        : c !== undefined && (op === "$gt" ? c > 0 : op === "$gte" ? c >= 0 : op === "$lt" ? c < 0 : c <= 0);
      if (!ok) return false;
    }
  }
  return true;
}

/** Configured deployments of a provider serving a model (by upstream model or id), else a wildcard's name for it. */
function deploymentsOf(reg: ModelRegistry, provider: { name: string; field: string }, model: string, field: string): string[] {
  if (!reg.provider(provider.name)) {
    const names = reg.config.providers.map((p) => p.name);
    bad(provider.field, `"${provider.name}" is not a provider of this gateway (${names.slice(0, 12).join(", ")}${names.length > 12 ? ", …" : ""}); a virtual key here is a configured provider's name`);
  }
  const ids = reg.config.deployments.filter((d: DeploymentConfig) => d.provider === provider.name && (d.model === model || d.id === model)).map((d) => d.id);
  if (ids.length) return ids;
  for (const w of reg.config.wildcards ?? []) {
    if (w.provider !== provider.name) continue;
    const star = w.model.indexOf("*");
    const head = w.model.slice(0, star);
    const tail = w.model.slice(star + 1);
    if (model.length > head.length + tail.length && model.startsWith(head) && model.endsWith(tail)) return [w.prefix + model.slice(head.length, model.length - tail.length)];
  }
  return bad(field, `provider "${provider.name}" has no deployment of model "${model}"`);
}

/**
 * Apply a request's Portkey routing to its body: the returned body names the model the strategy
 * picked first and carries the rest in its `signalbox` options. `metadata` is what the request's
 * headers and body say of it (for conditions); `rand` draws the load balancer's pick.
 */
export function applyPortkey(r: PortkeyRouting | undefined, body: unknown, reg: ModelRegistry, metadata: Readonly<Record<string, string>>, rand: () => number = Math.random): unknown {
  if (!isObj(body)) return body;
  // Portkey's Model Catalog names a provider's model as "@provider/model" ("@preset/…" is OpenRouter's preset: src/compat/presets.ts).
  const model = typeof body.model === "string" ? body.model : undefined;
  if (!r && !(model?.startsWith("@") && model.includes("/") && !model.startsWith("@preset/"))) return body;
  const root = r?.root ?? { field: "model", weight: 1 };
  const bodyMeta = isObj(body.metadata) ? Object.fromEntries(Object.entries(body.metadata).map(([k, v]) => [k, String(v)])) : {};
  const meta = { ...metadata, ...bodyMeta };
  const leaves: Leaf[] = [];
  let fallbackCodes: number[] | undefined;

  const walk = (t: Target, up: Inherited): void => {
    const here: Inherited = {
      overrides: t.overrides ? { ...up.overrides, ...t.overrides } : up.overrides,
      retry: t.retry ?? up.retry,
      requestTimeout: t.requestTimeout ?? up.requestTimeout,
      cache: t.cache ?? up.cache,
      guardrails: t.guardrails ? [...up.guardrails, ...t.guardrails] : up.guardrails,
    };
    if (!t.targets) {
      let name = typeof here.overrides.model === "string" ? here.overrides.model : model;
      if (name === undefined) bad("model", "is required (the config names no model for this target)");
      let provider = t.provider;
      if (!provider && name!.startsWith("@") && name!.includes("/") && !name!.startsWith("@preset/")) {
        const slash = name!.indexOf("/");
        provider = { name: name!.slice(1, slash), field: typeof here.overrides.model === "string" ? `${t.field}.override_params.model` : "model" };
        name = name!.slice(slash + 1);
      }
      const field = typeof here.overrides.model === "string" ? `${t.field}.override_params.model` : t.field === "x-portkey-config" ? "model" : t.field;
      if (provider) for (const id of deploymentsOf(reg, provider, name!, field)) leaves.push({ ...here, model: id, pinned: true, field: t.field });
      else leaves.push({ ...here, model: name!, pinned: false, field: t.field });
      return;
    }
    const kids = t.targets;
    if (t.mode === "fallback") {
      fallbackCodes ??= t.onStatusCodes;
      for (const k of kids) walk(k, here);
      return;
    }
    if (t.mode === "loadbalance") {
      const total = kids.reduce((n, k) => n + k.weight, 0);
      let x = rand() * total;
      const pick = kids.find((k) => k.weight > 0 && (x -= k.weight) < 0) ?? kids.filter((k) => k.weight > 0).at(-1)!;
      return walk(pick, here);
    }
    if (t.mode === "conditional") {
      const hit = t.conditions!.find((c) => matches(c.query, body, meta));
      const name = hit?.then ?? t.default;
      if (name === undefined) bad(`${t.field}.strategy`, "no condition matched the request and the strategy has no default");
      return walk(kids.find((k) => k.name === name)!, here);
    }
    return walk(kids[0], here);
  };
  walk(root, { overrides: {}, guardrails: [] });

  const first = leaves[0];
  const { model: _m, ...params } = first.overrides;
  for (const l of leaves.slice(1)) {
    const { model: _x, ...other } = l.overrides;
    if (JSON.stringify(other) !== JSON.stringify(params)) bad(`${l.field}.override_params`, "targets of one fallback chain must override the same parameters (other than model): the gateway sends one request body to every fallback");
  }
  const names = [...new Set(leaves.map((l) => l.model))];
  const sb: Json = isObj(body.signalbox) ? { ...body.signalbox } : {};
  if (names.length > 1) sb.fallbacks = names.slice(1);
  else if (first.pinned) sb.no_fallback = true;
  if (fallbackCodes) sb.fallback_on_status_codes = fallbackCodes;
  if (first.retry) sb.retry = { attempts: first.retry.attempts, ...(first.retry.onStatusCodes ? { on_status_codes: first.retry.onStatusCodes } : {}) };
  if (r && sb.max_attempts === undefined) sb.max_attempts = Math.min(20, names.length * ((first.retry?.attempts ?? 1) + 1));
  if (first.requestTimeout !== undefined) sb.timeouts = { ...(isObj(sb.timeouts) ? sb.timeouts : {}), attempt_ms: first.requestTimeout };
  if (first.cache) sb.cache = { mode: "use", ...(first.cache.maxAge !== undefined ? { ttl_seconds: first.cache.maxAge } : {}) };
  if (first.guardrails.length) sb.guardrails = [...new Set([...(Array.isArray(sb.guardrails) ? (sb.guardrails as string[]) : []), ...first.guardrails])];
  return { ...body, ...params, model: names[0], signalbox: sb };
}
