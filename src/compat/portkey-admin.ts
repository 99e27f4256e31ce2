// Portkey's admin API for API keys and virtual keys (the portkey-ai SDK's apiKeys and virtualKeys),
// so a platform team's Portkey provisioning scripts work unchanged against the gateway's /v1:
//
//   POST   /v1/api-keys/{type}/{sub-type}   type organisation|workspace, sub-type user|service:
//                                           {name, description, workspace_id, user_id, usage_limits,
//                                           rate_limits, defaults, scopes, expires_at}: a service key;
//                                           {id, key, object}, the one time the secret is shown
//   GET    /v1/api-keys                     ?workspace_id=&page_size=&current_page=: {object, total, data}
//   GET    /v1/api-keys/{id}                the key (its secret's first characters only)
//   PUT    /v1/api-keys/{id}                the same fields: the key
//   DELETE /v1/api-keys/{id}                revokes it (refused at once, kept on record): {}
//   POST   /v1/virtual-keys                 {name, provider, key, custom_host, apiVersion,
//                                           resourceName, deploymentConfig, note}: a provider made
//                                           at run time, named by the slug: {id, slug, object}
//   GET    /v1/virtual-keys                 {object, total, data}
//   GET|PUT|DELETE /v1/virtual-keys/{slug}  retrieve; update (a new `key`); delete
//
// API keys are the control plane's service keys, with AdminService's checks, roles and audit log:
// admin keys manage every team's, team keys their own team's, service keys get a 403. `id` is the
// gateway's key name (made from `name`, kept as display_name metadata); `workspace_id` is the team.
// usage_limits {credit_limit (USD), periodic_reset monthly|weekly, alert_threshold (USD)} is the
// key's budget: no periodic_reset never resets (lifetime); alert_threshold / credit_limit is its
// soft threshold. rate_limits [{type requests|tokens, unit rpm, value}] are its per-minute limits;
// another unit is a 400 naming it. defaults.metadata is the key's metadata. scopes (Portkey's admin
// permissions: a service key here has none) and defaults.config_id are listed back as ignored.
//
// A virtual key is a provider made at run time (AdminService.PutConfigEntry, its key sealed) named
// by the slug, with a wildcard deployment `<slug>/*` on it, so `x-portkey-virtual-key: <slug>` (or
// model "@<slug>/<model>") sends the request's model to it. Virtual keys are an admin key's. The
// provider key never comes back (masked_api_key is asterisks only). Budgets and rate limits on a
// virtual key are a 400 naming the field: here they are per API key, team or end user, and a
// budget silently not kept would be worse than a refusal. `name` is the slug's source (the slug
// stays when it changes); note and workspace_id are listed back as ignored (providers serve every team).
// Errors keep Portkey's shape: {success: false, message, data: {message, errorCode, param}}.

import type { BudgetConfig, RateLimits } from "../config/types.ts";
import type { Actor, KeyInput, KeyPatch } from "../control/control-plane.ts";
import type { ManagedKey } from "../control/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { liveServiceKey, withFreeName } from "./labels.ts";
import { toOpenAIError, type OpenAIError } from "./response.ts";

const API_KEYS = "/v1/api-keys";
const VIRTUAL_KEYS = "/v1/virtual-keys";

/** Whether servePortkeyAdmin answers a path. */
export const isPortkeyAdminPath = (p: string): boolean => p === API_KEYS || p.startsWith(`${API_KEYS}/`) || p === VIRTUAL_KEYS || p.startsWith(`${VIRTUAL_KEYS}/`);

export interface PortkeyAdminDeps {
  core: GatewayCore;
  caller: Caller;
  traceId: string;
  query: URLSearchParams;
  readJson(): Promise<unknown>;
  send(status: number, body: unknown, headers?: Record<string, string>): void;
}

type Obj = Record<string, unknown>;
const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const given = (v: unknown) => v !== undefined && v !== null;
const iso = (t: number) => new Date(t).toISOString();

const DISPLAY = "display_name";
const DESCRIPTION = "description";
const TYPE = "portkey_type";
const USER = "portkey_user_id";
const RESERVED = new Set([DISPLAY, DESCRIPTION, TYPE, USER]);
const PAGE_MAX = 1000;
const MASK = "********";

const KEY_FIELDS = new Set(["type", "sub-type", "name", "description", "workspace_id", "user_id", "rate_limits", "usage_limits", "scopes", "defaults", "expires_at", "id"]);
const VK_FIELDS = new Set(["name", "provider", "key", "note", "workspace_id", "custom_host", "apiVersion", "resourceName", "deploymentName", "deploymentConfig", "usage_limits", "rate_limits", "slug"]);

function text(v: unknown, field: string, max = 1024): string | undefined {
  if (!given(v)) return undefined;
  if (typeof v !== "string") throw bad(field, `must be a string, got ${JSON.stringify(typeof v)}`);
  if (v.length > max) throw bad(field, `at most ${max} characters`);
  return v;
}

/** The control plane's field names as Portkey's requests name them. */
function portkeyField(from: string): string | undefined {
  if (from === "key.team" || from === "team") return "workspace_id";
  if (from === "name" || from === "key.name") return "id";
  if (from === "key.role") return "type";
  if (from === "key.expire_time") return "expires_at";
  if (from.startsWith("key.metadata")) return `defaults.metadata${from.slice("key.metadata".length)}`;
  const m = /^key\.(budget|limits)\.(\w+)$/.exec(from);
  if (!m) return undefined;
  if (m[1] === "budget") return m[2] === "limit_usd" ? "usage_limits.credit_limit" : m[2] === "period" ? "usage_limits.periodic_reset" : m[2] === "soft_threshold" ? "usage_limits.alert_threshold" : "usage_limits";
  return "rate_limits";
}

/** A control plane call whose errors name Portkey's fields rather than AdminService's. */
async function inPortkeyTerms<T>(fn: () => T | Promise<T>, map: (from: string) => string | undefined = portkeyField): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const from = err instanceof GatewayError ? err.details.field : undefined;
    const to = from === undefined ? undefined : map(from);
    if (!(err instanceof GatewayError) || from === undefined || to === undefined) throw err;
    const message = err.message.startsWith(`${from}:`) ? `${to}:${err.message.slice(from.length + 1)}` : `${to}: ${err.message}`;
    throw new GatewayError(err.code, message, { ...err.details, field: to }, err);
  }
}

// --- API keys --------------------------------------------------------------------------------

const RESET_OF: Record<string, BudgetConfig["period"]> = { monthly: "month", weekly: "week" };
const RESET_NAME = { month: "monthly", week: "weekly" } as Record<string, string>;

/**
 * usage_limits as a budget: undefined leaves it as it is, null removes it. `current` (an update):
 * an alert threshold or reset left out keeps the current one.
 */
function budgetFrom(v: unknown, current: BudgetConfig | undefined): BudgetConfig | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!isObj(v)) throw bad("usage_limits", "must be an object {credit_limit, periodic_reset, alert_threshold}");
  if (given(v.periodic_reset_days)) throw bad("usage_limits.periodic_reset_days", "budgets here reset by calendar week or month: give periodic_reset weekly or monthly (or neither: never)");
  const limit = v.credit_limit;
  if (!given(limit)) {
    if (given(v.alert_threshold) || given(v.periodic_reset)) throw bad("usage_limits.credit_limit", "required: the budget in USD");
    return null;
  }
  if (typeof limit !== "number" || !Number.isFinite(limit) || !(limit > 0)) throw bad("usage_limits.credit_limit", `must be a number of USD above 0, got ${JSON.stringify(limit)}`);
  let period: BudgetConfig["period"] = current && !("periodic_reset" in v) ? current.period : "lifetime";
  if (given(v.periodic_reset)) {
    const p = typeof v.periodic_reset === "string" ? RESET_OF[v.periodic_reset] : undefined;
    if (!p) throw bad("usage_limits.periodic_reset", `${JSON.stringify(v.periodic_reset)}: must be monthly or weekly (or left out: the budget never resets)`);
    period = p;
  }
  let softThreshold = current?.softThreshold ?? 0.8;
  if (given(v.alert_threshold)) {
    const t = v.alert_threshold;
    if (typeof t !== "number" || !Number.isFinite(t) || !(t > 0) || !(t < limit)) throw bad("usage_limits.alert_threshold", `must be a number of USD above 0 and below credit_limit (${limit}), got ${JSON.stringify(t)}`);
    softThreshold = t / limit;
  }
  return { period, limitUsd: limit, softThreshold };
}

/** rate_limits as per-minute limits: undefined leaves them as they are; null or [] removes them. */
function limitsFrom(v: unknown): RateLimits | undefined {
  if (v === undefined) return undefined;
  if (v === null) return {};
  if (!Array.isArray(v)) throw bad("rate_limits", 'must be a list of {type: "requests" | "tokens", unit: "rpm", value}');
  const out: RateLimits = {};
  v.forEach((r, i) => {
    const f = `rate_limits[${i}]`;
    if (!isObj(r)) throw bad(f, 'must be an object {type, unit: "rpm", value}');
    const type = r.type ?? "requests";
    if (type !== "requests" && type !== "tokens") throw bad(`${f}.type`, `${JSON.stringify(type)}: must be requests or tokens`);
    if (r.unit !== "rpm") throw bad(`${f}.unit`, `${JSON.stringify(r.unit)}: limits here are per minute (rpm)`);
    if (typeof r.value !== "number" || !Number.isInteger(r.value) || r.value <= 0) throw bad(`${f}.value`, `must be a whole number above 0, got ${JSON.stringify(r.value)}`);
    const k = type === "requests" ? "requestsPerMinute" : "tokensPerMinute";
    if (out[k] !== undefined) throw bad(f, `a second ${type} limit: give one per type`);
    out[k] = r.value;
  });
  return out;
}

function expiresFrom(v: unknown): number | undefined {
  if (!given(v)) return undefined;
  const t = typeof v === "string" ? Date.parse(v) : typeof v === "number" ? v : NaN;
  if (!Number.isFinite(t)) throw bad("expires_at", `must be an ISO 8601 time, got ${JSON.stringify(v)}`);
  return t;
}

/** defaults: its metadata (strings; numbers and booleans as text), and what else it holds, ignored. */
function defaultsFrom(v: unknown, ignored: string[]): Record<string, string> | undefined {
  if (!given(v)) return undefined;
  if (!isObj(v)) throw bad("defaults", "must be an object {metadata, config_id}");
  for (const k of Object.keys(v)) if (k !== "metadata" && given(v[k])) ignored.push(`defaults.${k}`);
  if (!given(v.metadata)) return undefined;
  if (!isObj(v.metadata)) throw bad("defaults.metadata", "must be an object of strings");
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v.metadata)) {
    if (!given(x)) continue;
    if (typeof x !== "string" && typeof x !== "number" && typeof x !== "boolean") throw bad(`defaults.metadata.${k}`, "must be a string");
    if (RESERVED.has(k)) throw bad(`defaults.metadata.${k}`, "is reserved here (the key's name, description and type)");
    out[k] = String(x);
  }
  return out;
}

function ignoredOf(b: Obj, known: Set<string>, ignored: string[]): string[] {
  for (const k of Object.keys(b)) if (!known.has(k) && given(b[k])) ignored.push(k);
  if (Array.isArray(b.scopes) ? b.scopes.length > 0 : given(b.scopes)) ignored.push("scopes");
  return ignored;
}

function apiKeyJson(k: ManagedKey) {
  const b = k.budget;
  const metadata = Object.fromEntries(Object.entries(k.metadata).filter(([x]) => !RESERVED.has(x)));
  const rateLimits = [
    ...(k.limits.requestsPerMinute !== undefined ? [{ type: "requests", unit: "rpm", value: k.limits.requestsPerMinute }] : []),
    ...(k.limits.tokensPerMinute !== undefined ? [{ type: "tokens", unit: "rpm", value: k.limits.tokensPerMinute }] : []),
  ];
  return {
    id: k.name,
    // The secret's first characters only: it is shown whole once, in the create answer.
    key: `${k.prefix}${MASK}`,
    name: k.metadata[DISPLAY] ?? k.name,
    description: k.metadata[DESCRIPTION] ?? null,
    type: k.metadata[TYPE] ?? "workspace-service",
    organisation_id: null,
    workspace_id: k.team,
    user_id: k.metadata[USER] ?? null,
    status: k.revokedAt !== undefined ? "deleted" : k.blockedAt !== undefined ? "blocked" : k.expiresAt !== undefined && k.expiresAt <= Date.now() ? "expired" : "active",
    created_at: iso(k.createdAt),
    last_updated_at: iso(k.updatedAt),
    creation_mode: k.source === "config" ? "config" : "api",
    rate_limits: rateLimits,
    usage_limits: b ? { credit_limit: b.limitUsd, periodic_reset: RESET_NAME[b.period] ?? null, alert_threshold: Math.round(b.limitUsd * b.softThreshold * 1e6) / 1e6 } : null,
    scopes: [],
    defaults: { metadata },
    expires_at: k.expiresAt !== undefined ? iso(k.expiresAt) : null,
    object: "api-key",
    signalbox: { role: k.role, allow: k.allow, budget_period: b?.period ?? null, created_by: k.createdBy },
  };
}

async function serveApiKeys(method: string, rest: string[], d: PortkeyAdminDeps, a: Actor): Promise<number> {
  const { core, caller } = d;
  const body = async (): Promise<Obj> => {
    const b = await d.readJson();
    if (!isObj(b)) throw bad("body", "must be a JSON object");
    return b;
  };
  // POST /v1/api-keys/{type}/{sub-type}
  if (rest.length === 2) {
    if (method !== "POST") return notAllowed(d, method, `${API_KEYS}/{type}/{sub-type}`, ["POST"]);
    const [type, sub] = rest;
    if (type !== "organisation" && type !== "workspace") throw bad("type", `${JSON.stringify(type)}: must be organisation or workspace`);
    if (sub !== "user" && sub !== "service") throw bad("sub-type", `${JSON.stringify(sub)}: must be user or service`);
    const b = await body();
    if (given(b.type) && b.type !== type) throw bad("type", `the body's "${String(b.type)}" differs from the path's "${type}"`);
    if (given(b["sub-type"]) && b["sub-type"] !== sub) throw bad("sub-type", `the body's "${String(b["sub-type"])}" differs from the path's "${sub}"`);
    const label = text(b.name, "name", 256);
    if (!label?.trim()) throw bad("name", "is required: a non-empty string");
    const description = text(b.description, "description");
    const userId = text(b.user_id, "user_id", 256);
    if (sub === "user" && !userId) throw bad("user_id", "required for a user key");
    const ws = text(b.workspace_id, "workspace_id", 64);
    // No workspace_id: the calling team key's team, or a team named "default".
    const team = ws || (caller.role === "team" ? caller.team : core.control.directory.team("default") ? "default" : undefined);
    if (!team) throw bad("workspace_id", "required: an API key here belongs to a team (the workspace), or create a team named default");
    const ignored = ignoredOf(b, KEY_FIELDS, []);
    const budget = budgetFrom(b.usage_limits, undefined);
    const limits = limitsFrom(b.rate_limits) ?? {};
    const expiresAt = expiresFrom(b.expires_at);
    const metadata = {
      ...defaultsFrom(b.defaults, ignored),
      [DISPLAY]: label,
      [TYPE]: `${type}-${sub}`,
      ...(description ? { [DESCRIPTION]: description } : {}),
      ...(userId ? { [USER]: userId } : {}),
    };
    const input: KeyInput = { name: "", team, role: "service", allow: [], limits, ...(budget ? { budget } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}), metadata };
    const out = await withFreeName(label, "key", (n) => core.control.directory.key(n) !== undefined, (name) => inPortkeyTerms(() => core.control.createKey(a, { ...input, name })));
    d.send(200, { id: out.key.name, key: out.secret, object: "api-key", signalbox: { ignored } });
    return 200;
  }
  if (rest.length === 0) {
    if (method !== "GET") return notAllowed(d, method, API_KEYS, ["GET"]);
    const num = (name: string, dflt: number) => {
      const raw = d.query.get(name);
      if (raw === null || raw === "") return dflt;
      if (!/^\d{1,6}$/.test(raw)) throw bad(name, `must be a whole number, 0 or more; got "${raw}"`);
      return Number(raw);
    };
    const size = Math.max(1, num("page_size", 100));
    const current = num("current_page", 0);
    const team = d.query.get("workspace_id") || undefined;
    const all: ManagedKey[] = [];
    let cursor: string | undefined;
    do {
      const p = await inPortkeyTerms(() => core.control.listKeys(a, { team, limit: PAGE_MAX, cursor, includeRevoked: false }));
      all.push(...p.items);
      cursor = p.next;
    } while (cursor);
    const keys = all.filter((k) => k.role === "service").sort((x, y) => x.createdAt - y.createdAt || (x.name < y.name ? -1 : 1));
    d.send(200, { object: "list", total: keys.length, data: keys.slice(current * size, current * size + size).map(apiKeyJson) });
    return 200;
  }
  if (rest.length !== 1) throw new GatewayError("not_found", `${API_KEYS}/…: no such endpoint (POST ${API_KEYS}/{type}/{sub-type}, GET ${API_KEYS}, GET|PUT|DELETE ${API_KEYS}/{id})`);
  if (method !== "GET" && method !== "PUT" && method !== "DELETE") return notAllowed(d, method, `${API_KEYS}/{id}`, ["GET", "PUT", "DELETE"]);
  const id = rest[0]!;
  const keyOf = () =>
    liveServiceKey(
      () => inPortkeyTerms(() => core.control.getKey(a, id)),
      () => new GatewayError("not_found", "id: API key not found (none with this id that this key may see)", { field: "id" }),
    );
  const k = await keyOf();
  if (method === "GET") {
    d.send(200, apiKeyJson(k));
    return 200;
  }
  if (method === "DELETE") {
    await inPortkeyTerms(() => core.control.revokeKey(a, k.name));
    d.send(200, {});
    return 200;
  }
  // PUT: everything is checked before anything is written.
  const b = await body();
  if (given(b.workspace_id) && b.workspace_id !== k.team) throw bad("workspace_id", "an API key's workspace (team) cannot change here: make a key in the other workspace");
  const ignored = ignoredOf(b, KEY_FIELDS, []);
  const patch: KeyPatch = {};
  const reserved = Object.fromEntries(Object.entries(k.metadata).filter(([x]) => RESERVED.has(x)));
  const userMeta = defaultsFrom(b.defaults, ignored);
  const metadata = { ...(userMeta ?? Object.fromEntries(Object.entries(k.metadata).filter(([x]) => !RESERVED.has(x)))), ...reserved };
  const label = text(b.name, "name", 256);
  if (label !== undefined) {
    if (!label.trim()) throw bad("name", "must be a non-empty string");
    metadata[DISPLAY] = label;
  }
  const description = text(b.description, "description");
  if (description !== undefined) {
    if (description) metadata[DESCRIPTION] = description;
    else delete metadata[DESCRIPTION];
  }
  if (label !== undefined || description !== undefined || userMeta !== undefined) patch.metadata = metadata;
  const budget = budgetFrom(b.usage_limits, k.budget);
  if (budget !== undefined) patch.budget = budget ?? undefined;
  const limits = limitsFrom(b.rate_limits);
  if (limits !== undefined) patch.limits = limits;
  const expiresAt = expiresFrom(b.expires_at);
  if (expiresAt !== undefined) patch.expiresAt = expiresAt;
  const after = apiKeyJson(Object.keys(patch).length ? await inPortkeyTerms(() => core.control.updateKey(a, k.name, patch)) : k);
  d.send(200, { ...after, signalbox: { ...after.signalbox, ignored } });
  return 200;
}

// --- virtual keys ----------------------------------------------------------------------------

/** Portkey's provider names and the provider type each is here; OpenAI-compatible ones with their address. */
const TYPE_OF: Record<string, string> = { openai: "openai", anthropic: "anthropic", "azure-openai": "azure", google: "gemini", cohere: "cohere", openrouter: "openrouter" };
const COMPATIBLE: Record<string, string> = {
  groq: "https://api.groq.com/openai/v1",
  "together-ai": "https://api.together.xyz/v1",
  "mistral-ai": "https://api.mistral.ai/v1",
  deepseek: "https://api.deepseek.com/v1",
  "fireworks-ai": "https://api.fireworks.ai/inference/v1",
  "x-ai": "https://api.x.ai/v1",
  "perplexity-ai": "https://api.perplexity.ai",
};
const PORTKEY_NAME_OF: Record<string, string> = Object.fromEntries(Object.entries(TYPE_OF).map(([n, t]) => [t, n]));
/** Providers Portkey names that have a counterpart here, but with credentials a virtual key's `key` does not carry. */
const ELSEWHERE: Record<string, string> = {
  bedrock: "a bedrock provider needs aws.region and AWS credentials",
  "vertex-ai": "a vertex provider needs vertex.project, vertex.location and a service account",
};
const wildcardOf = (slug: string) => `${slug}/*`;

/** PutConfigEntry's fields as a virtual key's request names them. */
const vkField = (from: string): string | undefined =>
  from === "name" ? "name" : from === "spec.api_key" || from === "spec" ? "key" : from === "spec.base_url" ? "custom_host" : from === "spec.api_version" ? "apiVersion" : from.startsWith("spec.") ? "provider" : undefined;

function noLimits(b: Obj) {
  const set = (v: unknown) => (Array.isArray(v) ? v.length > 0 : isObj(v) ? Object.values(v).some(given) : given(v));
  if (set(b.usage_limits)) throw bad("usage_limits", "a virtual key here has no budget of its own (budgets are per API key, team or end user): put usage_limits on the API key (POST /v1/api-keys/{type}/{sub-type})");
  if (set(b.rate_limits)) throw bad("rate_limits", "a virtual key here has no rate limits of its own (they are per API key, team or end user): put rate_limits on the API key");
}

async function serveVirtualKeys(method: string, rest: string[], d: PortkeyAdminDeps, a: Actor): Promise<number> {
  const cp = d.core.control;
  // Providers are the whole gateway's: making, reading and removing them is an admin key's.
  cp.requireAdmin(a, "managing virtual keys (providers made at run time)");
  const body = async (): Promise<Obj> => {
    const b = await d.readJson();
    if (!isObj(b)) throw bad("body", "must be a JSON object");
    return b;
  };
  /** The slugs: providers made at run time with the wildcard deployment a virtual key has. */
  const slugs = () => {
    const wild = new Set(cp.entries.list("deployment").filter((e) => e.name === wildcardOf(String(e.spec.provider))).map((e) => String(e.spec.provider)));
    return cp.entries.list("provider").filter((e) => wild.has(e.name));
  };
  const vkJson = (e: ReturnType<typeof slugs>[number]) => {
    const type = String(e.spec.type);
    const base = typeof e.spec.base_url === "string" ? e.spec.base_url : undefined;
    const vendor = type === "openai-compatible" ? Object.entries(COMPATIBLE).find(([, u]) => u === base)?.[0] : undefined;
    return {
      id: e.name,
      slug: e.name,
      name: e.name,
      ai_provider_name: vendor ?? PORTKEY_NAME_OF[type] ?? type,
      model_config: {},
      // Never any character of the provider key.
      masked_api_key: MASK,
      usage_limits: null,
      rate_limits: null,
      status: e.problem ? "exhausted" : "active",
      note: null,
      created_at: iso(e.createdAt),
      object: "virtual-key",
      signalbox: { provider_type: type, ...(base && !vendor ? { base_url: base } : {}), deployment: wildcardOf(e.name), ...(e.problem ? { problem: e.problem } : {}) },
    };
  };
  if (rest.length === 0 && method === "GET") {
    const data = slugs().map(vkJson);
    d.send(200, { object: "list", total: data.length, data });
    return 200;
  }
  if (rest.length === 0 && method === "POST") {
    const b = await body();
    const label = text(b.name, "name", 256);
    if (!label?.trim()) throw bad("name", "is required: a non-empty string");
    const provider = text(b.provider, "provider", 64);
    if (!provider) throw bad("provider", "is required: the provider the key is for (openai, anthropic, azure-openai, google, …)");
    const type = TYPE_OF[provider] ?? (COMPATIBLE[provider] ? "openai-compatible" : undefined);
    if (!type) {
      const known = [...Object.keys(TYPE_OF), ...Object.keys(COMPATIBLE)].join(", ");
      throw bad("provider", ELSEWHERE[provider] ? `"${provider}": ${ELSEWHERE[provider]}, which a virtual key does not carry: make the provider with AdminService.PutConfigEntry, then name it in x-portkey-virtual-key` : `"${provider}" has no counterpart here (virtual keys are made for ${known})`);
    }
    const key = text(b.key, "key", 8192);
    if (!key) throw bad("key", "is required: the provider's API key");
    noLimits(b);
    const ignored = ignoredOf(b, VK_FIELDS, []);
    if (given(b.note)) ignored.push("note");
    if (given(b.workspace_id)) ignored.push("workspace_id");
    const host = text(b.custom_host, "custom_host", 2048);
    let baseUrl = host ?? COMPATIBLE[provider];
    let apiVersion = text(b.apiVersion, "apiVersion", 64);
    if (type === "azure") {
      const resource = text(b.resourceName, "resourceName", 128);
      if (!host && !resource) throw bad("resourceName", "required for azure-openai: the Azure OpenAI resource (https://<resourceName>.openai.azure.com)");
      if (resource && !/^[a-z0-9][a-z0-9-]*$/i.test(resource)) throw bad("resourceName", "letters, digits and '-' only");
      baseUrl ??= `https://${resource}.openai.azure.com`;
      const dc = b.deploymentConfig;
      if (given(dc) && !Array.isArray(dc)) throw bad("deploymentConfig", "must be a list of {deploymentName, apiVersion, is_default}");
      const first = Array.isArray(dc) ? ((dc.find((x) => isObj(x) && x.is_default) ?? dc[0]) as Obj | undefined) : undefined;
      apiVersion ??= first ? text(first.apiVersion, "deploymentConfig.apiVersion", 64) : undefined;
      if (!apiVersion) throw bad("apiVersion", "required for azure-openai (or in deploymentConfig): the Azure OpenAI API version");
      // Here the request's model names the Azure deployment, as a wildcard deployment's model does.
      if (given(b.deploymentName) || given(dc)) ignored.push("deploymentName (the request's model names the Azure deployment)");
    }
    const spec = { type, api_key: key, ...(baseUrl ? { base_url: baseUrl } : {}), ...(apiVersion ? { api_version: apiVersion } : {}) };
    const taken = (n: string) => d.core.registry.config.providers.some((p) => p.name === n) || cp.entries.list("provider").some((e) => e.name === n);
    const slug = await withFreeName(label, provider, taken, async (name) => {
      try {
        await inPortkeyTerms(() => cp.putConfigEntry(a, { kind: "provider", name, spec, expectedRevision: 0, validateOnly: false }), vkField);
      } catch (err) {
        // Made meanwhile (by another replica): try another name.
        if (err instanceof GatewayError && err.code === "aborted") throw new GatewayError("already_exists", `slug: "${name}" is taken`, { field: "slug" });
        throw err;
      }
      return name;
    });
    try {
      // The caller's model, whatever it is, goes to this provider: a deployment made per model on first use.
      await inPortkeyTerms(() => cp.putConfigEntry(a, { kind: "deployment", name: wildcardOf(slug), spec: { provider: slug, model: "*" }, validateOnly: false }), vkField);
    } catch (err) {
      await cp.deleteConfigEntry(a, "provider", slug).catch(() => undefined);
      throw err;
    }
    d.send(200, { id: slug, slug, object: "virtual-key", success: true, data: { slug }, signalbox: { provider_type: type, deployment: wildcardOf(slug), ignored } });
    return 200;
  }
  if (rest.length === 0) return notAllowed(d, method, VIRTUAL_KEYS, ["GET", "POST"]);
  if (rest.length !== 1) throw new GatewayError("not_found", `${VIRTUAL_KEYS}/…: no such endpoint (GET|POST ${VIRTUAL_KEYS}, GET|PUT|DELETE ${VIRTUAL_KEYS}/{slug})`);
  if (method !== "GET" && method !== "PUT" && method !== "DELETE") return notAllowed(d, method, `${VIRTUAL_KEYS}/{slug}`, ["GET", "PUT", "DELETE"]);
  const slug = rest[0]!;
  const e = slugs().find((x) => x.name === slug);
  if (!e) throw new GatewayError("not_found", `slug: virtual key not found (no virtual key "${slug}")`, { field: "slug" });
  if (method === "GET") {
    d.send(200, vkJson(e));
    return 200;
  }
  if (method === "DELETE") {
    await inPortkeyTerms(() => cp.deleteConfigEntry(a, "deployment", wildcardOf(slug)), () => "slug");
    await inPortkeyTerms(() => cp.deleteConfigEntry(a, "provider", slug), () => "slug");
    d.send(200, {});
    return 200;
  }
  const b = await body();
  noLimits(b);
  if (given(b.provider) && b.provider !== vkJson(e).ai_provider_name) throw bad("provider", "a virtual key's provider cannot change: make another virtual key");
  const ignored = ignoredOf(b, VK_FIELDS, []);
  if (given(b.name)) ignored.push("name (the slug stays)");
  if (given(b.note)) ignored.push("note");
  const key = text(b.key, "key", 8192);
  const host = text(b.custom_host, "custom_host", 2048);
  const apiVersion = text(b.apiVersion, "apiVersion", 64);
  if (key !== undefined && !key) throw bad("key", "must be the provider's API key, not empty");
  if (key || host || apiVersion) {
    // The stored spec's plain fields, with what changed; the key left out keeps the sealed one.
    const was = e.spec;
    const spec: Obj = { type: was.type, ...(typeof was.base_url === "string" ? { base_url: was.base_url } : {}), ...(typeof was.api_version === "string" ? { api_version: was.api_version } : {}) };
    if (host) spec.base_url = host;
    if (apiVersion) spec.api_version = apiVersion;
    if (key) spec.api_key = key;
    await inPortkeyTerms(() => cp.putConfigEntry(a, { kind: "provider", name: slug, spec, validateOnly: false }), vkField);
  }
  d.send(200, { id: slug, slug, object: "virtual-key", signalbox: { ignored } });
  return 200;
}

function notAllowed(d: PortkeyAdminDeps, method: string, route: string, allowed: string[]): number {
  const message = `${method} is not allowed on ${route}; use ${allowed.join(", ")}`;
  d.send(405, { success: false, message, data: { message, errorCode: "method_not_allowed" }, error: { message, type: "invalid_request_error", param: null, code: "method_not_allowed" } }, { allow: allowed.join(", ") });
  return 405;
}

/** Serves Portkey's /v1/api-keys and /v1/virtual-keys; errors are thrown (toPortkeyAdminError shapes them). */
export async function servePortkeyAdmin(method: string, path: string, d: PortkeyAdminDeps): Promise<number> {
  const apiKeys = path === API_KEYS || path.startsWith(`${API_KEYS}/`);
  let rest: string[];
  try {
    rest = path
      .slice((apiKeys ? API_KEYS : VIRTUAL_KEYS).length + 1)
      .split("/")
      .filter(Boolean)
      .map(decodeURIComponent);
  } catch {
    throw bad(apiKeys ? "id" : "slug", "is not a valid path segment");
  }
  // Portkey's admin API is its administrators': admin keys, and team keys for their own team.
  if (d.caller.role === "service") throw new GatewayError("permission_denied", `key "${d.caller.keyName}" is a service key: only admin and team keys manage API keys and virtual keys`);
  const a: Actor = { caller: d.caller, authEnabled: d.core.auth.enabled, traceId: d.traceId };
  return apiKeys ? serveApiKeys(method, rest, d, a) : serveVirtualKeys(method, rest, d, a);
}

/**
 * An error in the shape of Portkey's admin API, {success: false, data: {message, errorCode}}, with
 * the message on top too (the SDK's error.message reads it) and OpenAI's `error` beside (the field as `param`).
 */
export function toPortkeyAdminError(err: unknown): OpenAIError & { body: { success: false; message: string; data: { message: string; errorCode: string } } } {
  const e = toOpenAIError(err);
  const { message, type, code } = e.body.error;
  return { ...e, body: { success: false, message, data: { message, errorCode: code ?? type }, error: e.body.error } };
}
