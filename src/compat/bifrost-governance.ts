// Bifrost's governance API, for the provisioning scripts and tools platform teams wrote against
// Bifrost's management API (transports/bifrost-http/handlers/governance.go), on the control plane
// AdminService uses: the same checks, roles, audit log and store. Admin keys manage everything,
// team keys their own team's virtual keys (and read their team), service keys get a 403.
//
//   GET    /api/governance/virtual-keys            ?team_id=&search=&limit=&offset=:
//                                                  {virtual_keys, count, total_count, limit, offset}
//   POST   /api/governance/virtual-keys            {name, description, team_id, budget | budgets,
//                                                  rate_limit, provider_configs, is_active}: a
//                                                  service key; {message, virtual_key} with its
//                                                  `value`, the one time the secret is shown
//   GET    /api/governance/virtual-keys/{vk_id}    {virtual_key}
//   PUT    /api/governance/virtual-keys/{vk_id}    the same fields: {message, virtual_key};
//                                                  is_active false blocks, true unblocks
//   DELETE /api/governance/virtual-keys/{vk_id}    revokes (refused at once, kept on record): {message}
//   GET    /api/governance/teams                   ?search=&limit=&offset=: {teams, count, total_count, limit, offset}
//   POST   /api/governance/teams                   {name, budget, rate_limit}: {message, team}
//   GET    /api/governance/teams/{team_id}         {team}
//   PUT    /api/governance/teams/{team_id}         {name, budget, rate_limit}: {message, team}
//   DELETE /api/governance/teams/{team_id}         {message}; a team that has keys (revoked ones too) is refused
//   *      /api/governance/customers[/{id}]        501: Signalbox has no organisations above teams
//   GET    /api/governance/providers[/{provider}]  each provider with its spending cap (budget in the
//                                                  config) as Bifrost's provider budget; read-only
//   *      /api/governance/… (budgets, rate-limits, routing-rules, model-configs, pricing-overrides,
//          writes to providers)                    501, naming what the gateway has instead
//
// A virtual key is a service key (admin and team keys are neither listed nor changed here). Its
// `id` is the gateway's key name (made from Bifrost's free-text `name`, which is kept as the
// key's display_name metadata; `description` as description), a team's `id` its team name
// (likewise). `value` is the key's secret, shown only in the create answer; later answers
// give its first characters (signalbox.value_prefix). A budget {max_limit, reset_duration}
// resets by calendar day (1d, 24h), ISO week (1w, 7d) or month (1M), or never (no
// reset_duration): a lifetime budget; `budgets` may carry at most one. A rate_limit's request
// and token limits are per minute (reset durations 1m or 60s). Another duration is a 400 naming
// the field. A team's rate_limit becomes the default limits of its keys (each key counts on its
// own). provider_configs become the key's allow list: a provider's allowed_models (upstream
// model names, or the gateway's names) become the deployments serving them; ["*"] or none, every
// deployment of that provider; no provider_configs (or an empty list) leaves the key free to name
// any model. Per-provider budgets and rate limits are refused (set them on the key); weight,
// key_ids and mcp_configs are listed back in `signalbox.ignored`, never silently dropped.
// Errors keep Bifrost's shape: {is_bifrost_error: false, status_code, error: {message, type}},
// the message starting with the field it is about.

import type { BudgetConfig, RateLimits } from "../config/types.ts";
import type { Actor, KeyInput, KeyPatch, TeamInput, TeamPatch } from "../control/control-plane.ts";
import type { ManagedKey, ManagedTeam } from "../control/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { periodBounds } from "../limits/periods.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { liveServiceKey, withFreeName } from "./labels.ts";
import { toOpenAIError, type OpenAIError } from "./response.ts";
import { PER_MINUTE, PERIOD_OF } from "../config/import/bifrost.ts";

const PREFIX = "/api/governance/";
const PATH = /^\/api\/governance\/([a-z-]+)(?:\/([^/]+))?$/;
/** Bifrost's other governance sections, and what the gateway has in their place. */
const ELSEWHERE: Record<string, string> = {
  customers: "Signalbox has no customers (no organisations above teams): group virtual keys by team (/api/governance/teams)",
  budgets: "budgets are read on their virtual key or team (GET /api/governance/virtual-keys/{vk_id}, /api/governance/teams/{team_id})",
  "rate-limits": "rate limits are read on their virtual key (GET /api/governance/virtual-keys/{vk_id})",
  "routing-rules": "routing is the configuration's routes (the config file, or PutConfigEntry)",
  "model-configs": "model budgets and limits are the configuration's (the config file, or PutConfigEntry)",
  providers: "providers, and their budgets (budget on a provider), are the configuration's (the config file, or PutConfigEntry): GET lists them",
  "pricing-overrides": "prices are the configuration's deployments' (the config file, or PutConfigEntry)",
};
const PARAM = { "virtual-keys": "vk_id", teams: "team_id", customers: "customer_id" } as Record<string, string>;

/** Whether serveBifrostGovernance answers a path: everything under Bifrost's /api/governance/. */
export const isBifrostGovernancePath = (p: string): boolean => p.startsWith(PREFIX) && PATH.test(p);

/** The route a trace names: ids are not routes. */
export function bifrostGovernanceRoute(p: string): string {
  const m = p.startsWith(PREFIX) ? PATH.exec(p) : null;
  return m && m[2] !== undefined ? `${PREFIX}${m[1]}/{${PARAM[m[1]!] ?? "id"}}` : p;
}

export interface BifrostGovernanceDeps {
  core: GatewayCore;
  caller: Caller;
  traceId: string;
  query: URLSearchParams;
  readJson(): Promise<unknown>;
  send(status: number, body: unknown, headers?: Record<string, string>): void;
  now?: () => number;
}

const DISPLAY = "display_name";
const DESCRIPTION = "description";
const MAX_LABEL = 256;
const PAGE_MAX = 1000;

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
/** Go's JSON: a null pointer field is an absent one. */
const given = (v: unknown) => v !== undefined && v !== null;

const VK_FIELDS = new Set(["name", "description", "provider_configs", "mcp_configs", "team_id", "customer_id", "budget", "budgets", "rate_limit", "is_active", "calendar_aligned"]);
const TEAM_FIELDS = new Set(["name", "customer_id", "budget", "rate_limit"]);
const PROVIDER_FIELDS = new Set(["id", "provider", "allowed_models", "budgets", "rate_limit"]);

/** The control plane's field names as Bifrost's requests name them; `param` is the path's id (vk_id, team_id). */
function bifrostField(from: string, param: string): string | undefined {
  if (from === "name" || from === "key.name" || from === "team.name") return from === "name" ? param : "name";
  if (from === "key.team") return "team_id";
  if (from.startsWith("key.allow")) return "provider_configs";
  if (from.startsWith("key.metadata") || from.startsWith("team.metadata")) return "name";
  const m = /^(?:key|team)\.(budget|limits|default_key_limits)\.(\w+)$/.exec(from);
  if (!m) return from === "team" ? "team_id" : undefined;
  if (m[1] === "budget") return m[2] === "limit_usd" ? "budget.max_limit" : m[2] === "period" ? "budget.reset_duration" : "budget";
  return m[2] === "requests_per_minute" ? "rate_limit.request_max_limit" : m[2] === "tokens_per_minute" ? "rate_limit.token_max_limit" : "rate_limit";
}

/** A control plane call whose errors name Bifrost's fields rather than AdminService's; `param` names the path's id. */
async function inBifrostTerms<T>(param: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const from = err instanceof GatewayError ? err.details.field : undefined;
    const to = from === undefined ? undefined : bifrostField(from, param);
    if (!(err instanceof GatewayError) || from === undefined || to === undefined) throw err;
    const message = err.message.startsWith(`${from}:`) ? `${to}:${err.message.slice(from.length + 1)}` : `${to}: ${err.message}`;
    throw new GatewayError(err.code, message, { ...err.details, field: to }, err);
  }
}

/** Bifrost's free-text `name`. */
function labelOf(v: unknown): string {
  if (typeof v !== "string" || !v.trim()) throw bad("name", `is required: a non-empty string, got ${JSON.stringify(v)}`);
  if (v.length > MAX_LABEL) throw bad("name", `at most ${MAX_LABEL} characters`);
  return v;
}

/** Bifrost's budget reset durations the gateway's calendar periods are. */
const DURATION_OF = { day: "1d", week: "1w", month: "1M", lifetime: null } as const;

function periodOf(v: unknown, field: string): BudgetConfig["period"] {
  const p = typeof v === "string" ? PERIOD_OF[v.trim()] : undefined;
  if (!p) throw bad(field, `${JSON.stringify(v)}: budgets here reset by calendar day (1d), ISO week (1w) or month (1M), or never (leave reset_duration out)`);
  return p;
}

/**
 * A budget object as a budget: undefined leaves it as it is, null removes it (Bifrost's budget
 * with neither field). `partial` (an update of `current`): a missing field keeps the current one.
 */
function budgetFrom(v: unknown, field: string, current: BudgetConfig | undefined, partial: boolean): BudgetConfig | null | undefined {
  if (!given(v)) return undefined;
  if (!isObj(v)) throw bad(field, "must be an object {max_limit, reset_duration}");
  if (!given(v.max_limit) && !given(v.reset_duration)) return null;
  const limitUsd = given(v.max_limit) ? v.max_limit : partial ? current?.limitUsd : undefined;
  if (limitUsd === undefined) throw bad(`${field}.max_limit`, "required: the budget in USD");
  if (typeof limitUsd !== "number" || !Number.isFinite(limitUsd) || !(limitUsd > 0)) throw bad(`${field}.max_limit`, `must be a number of USD above 0, got ${JSON.stringify(limitUsd)}`);
  const period = given(v.reset_duration) ? periodOf(v.reset_duration, `${field}.reset_duration`) : partial && current ? current.period : "lifetime";
  return { period, limitUsd, softThreshold: current?.softThreshold ?? 0.8 };
}

/** A key's `budget` or `budgets` (at most one here): as budgetFrom. */
function keyBudgetFrom(b: Obj, current: BudgetConfig | undefined, partial: boolean): BudgetConfig | null | undefined {
  if (given(b.budget) && given(b.budgets)) throw bad("budgets", "give budget or budgets, not both");
  if (!given(b.budgets)) return budgetFrom(b.budget, "budget", current, partial);
  if (!Array.isArray(b.budgets)) throw bad("budgets", "must be a list of {max_limit, reset_duration}");
  if (b.budgets.length === 0) return null;
  if (b.budgets.length > 1) throw bad("budgets", `a virtual key here has one budget, got ${b.budgets.length}: keep the tightest, or put the others on its team`);
  const one = b.budgets[0];
  if (isObj(one) && !given(one.max_limit)) throw bad("budgets[0].max_limit", "required: the budget in USD");
  // A budget of the same period keeps its soft threshold, as Bifrost keeps one of the same duration.
  return budgetFrom(one, "budgets[0]", current, false);
}

/**
 * A rate_limit object as per-minute limits: undefined leaves them as they are. Neither max limit
 * (nor any duration): no limits. `partial` (a key's update): a missing max limit keeps the current one.
 */
function limitsFrom(v: unknown, field: string, current: RateLimits | undefined, partial: boolean): RateLimits | undefined {
  if (!given(v)) return undefined;
  if (!isObj(v)) throw bad(field, "must be an object {request_max_limit, request_reset_duration, token_max_limit, token_reset_duration}");
  const one = (kind: "request" | "token", was: number | undefined): number | undefined => {
    const max = v[`${kind}_max_limit`];
    const dur = v[`${kind}_reset_duration`];
    if (given(dur) && !(typeof dur === "string" && PER_MINUTE.has(dur.trim()))) throw bad(`${field}.${kind}_reset_duration`, `${JSON.stringify(dur)}: limits here are per minute (1m)`);
    if (!given(max)) return partial ? was : undefined;
    if (typeof max !== "number" || !Number.isInteger(max) || max <= 0) throw bad(`${field}.${kind}_max_limit`, `must be a whole number above 0, got ${JSON.stringify(max)}`);
    if (!given(dur) && !(partial && was !== undefined)) throw bad(`${field}.${kind}_reset_duration`, `required with ${kind}_max_limit: limits here are per minute (1m)`);
    return max;
  };
  if (!given(v.request_max_limit) && !given(v.token_max_limit)) {
    one("request", undefined);
    one("token", undefined);
    return given(v.request_reset_duration) || given(v.token_reset_duration) ? (partial ? undefined : {}) : {};
  }
  const rpm = one("request", current?.requestsPerMinute);
  const tpm = one("token", current?.tokensPerMinute);
  return { ...(rpm !== undefined ? { requestsPerMinute: rpm } : {}), ...(tpm !== undefined ? { tokensPerMinute: tpm } : {}) };
}

function flagOf(v: unknown, field: string): boolean | undefined {
  if (v !== undefined && v !== null && typeof v !== "boolean") throw bad(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v ?? undefined;
}

function noCustomer(v: unknown) {
  if (given(v)) throw bad("customer_id", "Signalbox has no customers (no organisations above teams): attach the virtual key to a team (team_id)");
}

/** Whether the gateway knows a name (a route, alias, deployment or wildcard). */
function known(core: GatewayCore, name: string): boolean {
  if (core.registry.wildcard(name)) return true;
  try {
    return core.registry.resolve(name) !== undefined;
  } catch {
    return false;
  }
}

/** provider_configs as an allow list, and the fields of it the gateway does not keep. Undefined: as it is. */
function allowFrom(core: GatewayCore, v: unknown, ignored: string[]): string[] | undefined {
  if (!given(v)) return undefined;
  if (!Array.isArray(v)) throw bad("provider_configs", "must be a list of {provider, allowed_models}");
  const cfg = core.registry.config;
  const allow: string[] = [];
  v.forEach((pc, i) => {
    const f = `provider_configs[${i}]`;
    if (!isObj(pc)) throw bad(f, "must be an object {provider, allowed_models}");
    if (typeof pc.provider !== "string" || !pc.provider) throw bad(`${f}.provider`, "required: a provider's name");
    const p = pc.provider;
    if (Array.isArray(pc.budgets) ? pc.budgets.length > 0 : given(pc.budgets)) throw bad(`${f}.budgets`, "budgets per provider are not kept here: set the budget on the virtual key");
    if (given(pc.rate_limit)) throw bad(`${f}.rate_limit`, "rate limits per provider are not kept here: set the rate_limit on the virtual key");
    for (const k of Object.keys(pc)) if (!PROVIDER_FIELDS.has(k) && given(pc[k])) ignored.push(`${f}.${k}`);
    const ofProvider = [...cfg.deployments.filter((d) => d.provider === p).map((d) => d.id), ...(cfg.wildcards ?? []).filter((w) => w.provider === p).map((w) => w.id)];
    const models = pc.allowed_models;
    if (given(models) && (!Array.isArray(models) || models.some((m) => typeof m !== "string"))) throw bad(`${f}.allowed_models`, 'must be a list of model names, or ["*"]');
    const list = (models ?? []) as string[];
    if (list.length === 0 || list.includes("*")) {
      if (!ofProvider.length) throw bad(`${f}.provider`, `no deployments of provider "${p}" here`);
      allow.push(...ofProvider);
      return;
    }
    list.forEach((m, j) => {
      // An upstream model name (Bifrost's) is every deployment of the provider that serves it; else a name the gateway knows.
      const serving = cfg.deployments.filter((d) => d.provider === p && d.model === m).map((d) => d.id);
      if (serving.length) allow.push(...serving);
      else if (known(core, `${p}/${m}`)) allow.push(`${p}/${m}`);
      else if (known(core, m)) allow.push(m);
      else throw bad(`${f}.allowed_models[${j}]`, `no model "${m}" of provider "${p}" here (an upstream model, or a route, alias or deployment)`);
    });
  });
  return [...new Set(allow)];
}

/** An allow list as Bifrost's provider_configs: deployments by their provider and upstream model; routes and aliases under "signalbox". */
function providerConfigsOf(core: GatewayCore, k: ManagedKey) {
  const cfg = core.registry.config;
  const by = new Map<string, string[]>();
  for (const e of k.allow) {
    const d = cfg.deployments.find((x) => x.id === e);
    const w = d ? undefined : (cfg.wildcards ?? []).find((x) => x.id === e);
    const [provider, model] = d ? [d.provider, d.model] : w ? [w.provider, "*"] : ["signalbox", e];
    by.set(provider, [...(by.get(provider) ?? []), model]);
  }
  return [...by].map(([provider, models], i) => ({ id: i + 1, virtual_key_id: k.name, provider, weight: null, allowed_models: [...new Set(models)], allow_all_keys: true, keys: [] }));
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * GET /api/governance/providers[/{provider}]: each provider of the configuration with its spending
 * cap as Bifrost's provider budget ({max_limit, reset_duration, current_usage, last_reset}; null
 * without one) and no rate limit (limits are per deployment here). Read-only: a provider's budget
 * is the configuration's. Admin and team keys, as the rest of this API.
 */
function listProviders(d: BifrostGovernanceDeps, name: string | undefined): number {
  const { core, caller } = d;
  if (caller.role === "service") throw new GatewayError("permission_denied", `key "${caller.keyName}" is a service key: only admin and team keys read the governance API`);
  const caps = new Map(core.spendCaps?.providers() ?? []);
  const json = (p: string) => {
    const c = caps.get(p);
    return {
      provider: p,
      budget: c ? { id: `provider:${p}`, max_limit: c.limitNanos / 1e9, reset_duration: DURATION_OF[c.period], current_usage: c.spentNanos / 1e9, last_reset: iso(periodBounds(c.period, (d.now ?? Date.now)()).start), calendar_aligned: true } : null,
      rate_limit: null,
    };
  };
  const names = core.registry.config.providers.map((p) => p.name);
  if (name !== undefined) {
    if (!names.includes(name)) throw new GatewayError("not_found", `provider: no provider "${name}" here`, { field: "provider" });
    d.send(200, json(name));
    return 200;
  }
  const providers = names.map(json);
  d.send(200, { providers, count: providers.length });
  return 200;
}

export async function serveBifrostGovernance(method: string, path: string, d: BifrostGovernanceDeps): Promise<number> {
  const m = PATH.exec(path)!;
  const section = m[1]!;
  let id: string | undefined;
  try {
    id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  } catch {
    throw bad(PARAM[section] ?? "id", "is not a valid path segment");
  }
  if (section === "providers" && method === "GET") return listProviders(d, id);
  if (section !== "virtual-keys" && section !== "teams") {
    throw new GatewayError("unimplemented", `${PREFIX}${section}: not served here: ${ELSEWHERE[section] ?? "Signalbox's governance API covers virtual-keys and teams"}`);
  }
  const allowed = id === undefined ? ["GET", "POST"] : ["GET", "PUT", "DELETE"];
  if (!allowed.includes(method)) {
    d.send(405, { is_bifrost_error: false, status_code: 405, error: { message: `${method} is not allowed on ${bifrostGovernanceRoute(path)}; use ${allowed.join(", ")}` } }, { allow: allowed.join(", ") });
    return 405;
  }
  const { core, caller } = d;
  // Bifrost's governance API is its administrators': admin keys, and team keys for their own team.
  if (caller.role === "service") throw new GatewayError("permission_denied", `key "${caller.keyName}" is a service key: only admin and team keys manage virtual keys and teams`);
  const a: Actor = { caller, authEnabled: core.auth.enabled, traceId: d.traceId };
  const now = (d.now ?? Date.now)();
  const body = async (): Promise<Obj> => {
    const b = await d.readJson();
    if (!isObj(b)) throw bad("body", "must be a JSON object");
    return b;
  };
  const page = <T>(items: T[]) => {
    const num = (name: string) => {
      const raw = d.query.get(name);
      if (raw === null || raw === "") return undefined;
      if (!/^\d{1,9}$/.test(raw)) throw bad(name, `must be a whole number, 0 or more; got "${raw}"`);
      return Number(raw);
    };
    const limit = num("limit");
    const offset = num("offset") ?? 0;
    const shown = items.slice(offset, limit === undefined ? undefined : offset + limit);
    return { shown, count: shown.length, total_count: items.length, limit: limit ?? shown.length, offset };
  };
  const search = (d.query.get("search") ?? "").toLowerCase();
  const matches = (...names: string[]) => !search || names.some((n) => n.toLowerCase().includes(search));
  const spentUsd = async (shard: string, scope: string, b: BudgetConfig) => (await core.limits.budgetState(shard, scope, b.period, now)).spentNanos / 1e9;
  const budgetJson = async (b: BudgetConfig, shard: string, scope: string, since: number) => ({
    id: scope,
    max_limit: b.limitUsd,
    reset_duration: DURATION_OF[b.period],
    current_usage: await spentUsd(shard, scope, b),
    last_reset: iso(b.period === "lifetime" ? since : periodBounds(b.period, now).start),
    calendar_aligned: true,
  });
  const rateLimitJson = (l: RateLimits | undefined, rid: string) =>
    l && (l.requestsPerMinute !== undefined || l.tokensPerMinute !== undefined)
      ? {
          id: rid,
          token_max_limit: l.tokensPerMinute ?? null,
          token_reset_duration: l.tokensPerMinute !== undefined ? "1m" : null,
          request_max_limit: l.requestsPerMinute ?? null,
          request_reset_duration: l.requestsPerMinute !== undefined ? "1m" : null,
        }
      : undefined;

  if (section === "virtual-keys") {
    const vkJson = async (k: ManagedKey) => {
      const budgets = k.budget ? [await budgetJson(k.budget, `team:${k.team}`, `key:${k.name}`, k.createdAt)] : [];
      const rateLimit = rateLimitJson(k.limits, `key:${k.name}`);
      const team = core.control.directory.teamRecord(k.team);
      return {
        id: k.name,
        name: k.metadata[DISPLAY] ?? k.name,
        description: k.metadata[DESCRIPTION] ?? "",
        is_active: k.blockedAt === undefined && k.revokedAt === undefined,
        provider_configs: providerConfigsOf(core, k),
        mcp_configs: [],
        team_id: k.team,
        team: { id: k.team, name: team?.metadata?.[DISPLAY] ?? k.team },
        ...(rateLimit ? { rate_limit_id: rateLimit.id, rate_limit: rateLimit } : {}),
        budgets,
        ...(budgets[0] ? { budget_id: budgets[0].id, budget: budgets[0] } : {}),
        calendar_aligned: true,
        config_hash: "",
        created_at: iso(k.createdAt),
        updated_at: iso(k.updatedAt),
        // The gateway's own: the secret's first characters, the allow list (empty: every model), who made it.
        signalbox: { value_prefix: k.prefix, allow: k.allow, role: k.role, created_by: k.createdBy, ...(k.blockedAt !== undefined ? { block_time: iso(k.blockedAt) } : {}) },
      };
    };
    if (id === undefined && method === "GET") {
      if (given(d.query.get("customer_id")) && d.query.get("customer_id") !== "") {
        d.send(200, { virtual_keys: [], count: 0, total_count: 0, limit: 0, offset: 0 });
        return 200;
      }
      const team = d.query.get("team_id") || undefined;
      const all: ManagedKey[] = [];
      let cursor: string | undefined;
      do {
        const p = await inBifrostTerms("vk_id", () => core.control.listKeys(a, { team, limit: PAGE_MAX, cursor, includeRevoked: false }));
        all.push(...p.items);
        cursor = p.next;
      } while (cursor);
      const sorted = all.filter((k) => k.role === "service" && matches(k.name, k.metadata[DISPLAY] ?? "")).sort((x, y) => x.createdAt - y.createdAt || (x.name < y.name ? -1 : 1));
      const p = page(sorted);
      d.send(200, { virtual_keys: await Promise.all(p.shown.map(vkJson)), count: p.count, total_count: p.total_count, limit: p.limit, offset: p.offset });
      return 200;
    }
    if (id === undefined) {
      const b = await body();
      const label = labelOf(b.name);
      noCustomer(b.customer_id);
      if (given(b.description) && typeof b.description !== "string") throw bad("description", "must be a string");
      if (given(b.team_id) && (typeof b.team_id !== "string" || !b.team_id)) throw bad("team_id", "must be a team's id");
      // No team_id: the calling team key's team, or a team named "default".
      const team = typeof b.team_id === "string" ? b.team_id : caller.role === "team" ? caller.team : core.control.directory.team("default") ? "default" : undefined;
      if (!team) throw bad("team_id", "required: a virtual key here belongs to a team (or create a team named default)");
      const ignored = Object.keys(b).filter((k) => !VK_FIELDS.has(k));
      if (Array.isArray(b.mcp_configs) ? b.mcp_configs.length > 0 : given(b.mcp_configs)) ignored.push("mcp_configs");
      const budget = keyBudgetFrom(b, undefined, false);
      const active = flagOf(b.is_active, "is_active");
      flagOf(b.calendar_aligned, "calendar_aligned");
      const input: KeyInput = {
        name: "",
        team,
        role: "service",
        allow: allowFrom(core, b.provider_configs, ignored) ?? [],
        limits: limitsFrom(b.rate_limit, "rate_limit", undefined, false) ?? {},
        ...(budget ? { budget } : {}),
        metadata: { [DISPLAY]: label, ...(typeof b.description === "string" && b.description ? { [DESCRIPTION]: b.description } : {}) },
      };
      const out = await withFreeName(label, "vk", (n) => core.control.directory.key(n) !== undefined, (name) => inBifrostTerms("vk_id", () => core.control.createKey(a, { ...input, name })));
      const k = active === false ? await inBifrostTerms("vk_id", () => core.control.blockKey(a, out.key.name)) : out.key;
      d.send(200, { message: "Virtual key created successfully", virtual_key: { ...(await vkJson(k)), value: out.secret }, signalbox: { ignored } });
      return 200;
    }
    /** The key by its id, when this caller may see it; a revoked key is a deleted one. */
    const keyOf = () =>
      liveServiceKey(
        () => inBifrostTerms("vk_id", () => core.control.getKey(a, id!)),
        () => new GatewayError("not_found", "vk_id: Virtual key not found (none with this id that this key may see)", { field: "vk_id" }),
      );
    const k = await keyOf();
    if (method === "GET") {
      d.send(200, { virtual_key: await vkJson(k) });
      return 200;
    }
    if (method === "DELETE") {
      await inBifrostTerms("vk_id", () => core.control.revokeKey(a, k.name));
      d.send(200, { message: "Virtual key deleted successfully" });
      return 200;
    }
    // PUT: everything is checked before anything is written.
    const b = await body();
    noCustomer(b.customer_id);
    if (given(b.team_id) && b.team_id !== k.team) throw bad("team_id", "a virtual key's team cannot change here: make a virtual key in the other team");
    const ignored = Object.keys(b).filter((f) => !VK_FIELDS.has(f));
    if (Array.isArray(b.mcp_configs) ? b.mcp_configs.length > 0 : given(b.mcp_configs)) ignored.push("mcp_configs");
    const patch: KeyPatch = {};
    const metadata = { ...k.metadata };
    if (given(b.name)) metadata[DISPLAY] = labelOf(b.name);
    if (given(b.description)) {
      if (typeof b.description !== "string") throw bad("description", "must be a string");
      if (b.description) metadata[DESCRIPTION] = b.description;
      else delete metadata[DESCRIPTION];
    }
    if (given(b.name) || given(b.description)) patch.metadata = metadata;
    const budget = keyBudgetFrom(b, k.budget, true);
    if (budget !== undefined) patch.budget = budget ?? undefined;
    const limits = limitsFrom(b.rate_limit, "rate_limit", k.limits, true);
    if (limits !== undefined) patch.limits = limits;
    const allow = allowFrom(core, b.provider_configs, ignored);
    if (allow !== undefined) patch.allow = allow;
    const active = flagOf(b.is_active, "is_active");
    flagOf(b.calendar_aligned, "calendar_aligned");
    if (Object.keys(patch).length) await inBifrostTerms("vk_id", () => core.control.updateKey(a, k.name, patch));
    if (active === false) await inBifrostTerms("vk_id", () => core.control.blockKey(a, k.name));
    if (active === true) await inBifrostTerms("vk_id", () => core.control.unblockKey(a, k.name));
    d.send(200, { message: "Virtual key updated successfully", virtual_key: await vkJson(await keyOf()), signalbox: { ignored } });
    return 200;
  }

  // Teams.
  const teamJson = async (t: ManagedTeam) => {
    const budget = t.budget ? await budgetJson(t.budget, `team:${t.name}`, `team:${t.name}`, t.createdAt) : undefined;
    const rateLimit = rateLimitJson(t.defaultKeyLimits, `team:${t.name}`);
    const keys = [...core.control.directory.keys()].filter((k) => k.team === t.name && k.role === "service" && k.revokedAt === undefined);
    return {
      id: t.name,
      name: t.metadata?.[DISPLAY] ?? t.name,
      ...(budget ? { budget_id: budget.id, budget } : {}),
      ...(rateLimit ? { rate_limit_id: rateLimit.id, rate_limit: rateLimit } : {}),
      virtual_keys: keys.map((k) => ({ id: k.name, name: k.metadata[DISPLAY] ?? k.name, is_active: k.blockedAt === undefined, team_id: t.name })),
      config_hash: "",
      created_at: iso(t.createdAt),
      updated_at: iso(t.updatedAt),
      // rate_limit is the default of the team's keys (each key counts on its own), not one shared limit.
      signalbox: { source: t.source, rate_limit_is_per_key_default: true },
    };
  };
  const teams = () => inBifrostTerms("team_id", () => core.control.listTeams(a, { limit: PAGE_MAX }).items);
  if (id === undefined && method === "GET") {
    if (d.query.get("customer_id")) {
      d.send(200, { teams: [], count: 0, total_count: 0, limit: 0, offset: 0 });
      return 200;
    }
    const all = (await teams()).filter((t) => matches(t.name, t.metadata?.[DISPLAY] ?? "")).sort((x, y) => x.createdAt - y.createdAt || (x.name < y.name ? -1 : 1));
    const p = page(all);
    d.send(200, { teams: await Promise.all(p.shown.map(teamJson)), count: p.count, total_count: p.total_count, limit: p.limit, offset: p.offset });
    return 200;
  }
  if (id === undefined) {
    const b = await body();
    const label = labelOf(b.name);
    if (given(b.customer_id)) throw bad("customer_id", "Signalbox has no customers (no organisations above teams): a team stands on its own");
    const budget = budgetFrom(b.budget, "budget", undefined, false);
    const limits = limitsFrom(b.rate_limit, "rate_limit", undefined, false);
    const input: TeamInput = {
      name: "",
      ...(budget ? { budget } : {}),
      ...(limits && Object.keys(limits).length ? { defaultKeyLimits: limits } : {}),
      metadata: { [DISPLAY]: label },
    };
    const t = await withFreeName(label, "team", (n) => core.control.directory.team(n) !== undefined, (name) => inBifrostTerms("team_id", () => core.control.createTeam(a, { ...input, name })));
    d.send(200, { message: "Team created successfully", team: await teamJson(t), signalbox: { ignored: Object.keys(b).filter((k) => !TEAM_FIELDS.has(k)) } });
    return 200;
  }
  const teamOf = async (): Promise<ManagedTeam> => {
    const t = (await teams()).find((x) => x.name === id);
    if (!t) throw new GatewayError("not_found", `team_id: Team not found (no team "${id}" that this key may see)`, { field: "team_id" });
    return t;
  };
  const t = await teamOf();
  if (method === "GET") {
    d.send(200, { team: await teamJson(t) });
    return 200;
  }
  if (method === "DELETE") {
    await inBifrostTerms("team_id", () => core.control.deleteTeam(a, t.name));
    d.send(200, { message: "Team deleted successfully" });
    return 200;
  }
  const b = await body();
  if (given(b.customer_id) && b.customer_id !== "") throw bad("customer_id", "Signalbox has no customers (no organisations above teams): a team stands on its own");
  const patch: TeamPatch = {};
  if (given(b.name)) patch.metadata = { ...t.metadata, [DISPLAY]: labelOf(b.name) };
  const budget = budgetFrom(b.budget, "budget", t.budget, true);
  if (budget !== undefined) patch.budget = budget ?? undefined;
  // Bifrost's team update replaces the rate limit whole.
  const limits = limitsFrom(b.rate_limit, "rate_limit", undefined, false);
  if (limits !== undefined) patch.defaultKeyLimits = Object.keys(limits).length ? limits : undefined;
  const after = Object.keys(patch).length ? await inBifrostTerms("team_id", () => core.control.updateTeam(a, t.name, patch)) : t;
  d.send(200, { message: "Team updated successfully", team: await teamJson(after), signalbox: { ignored: Object.keys(b).filter((k) => !TEAM_FIELDS.has(k)) } });
  return 200;
}

/** An error in Bifrost's shape (schemas.BifrostError): the status, and the message naming the field. */
export function toBifrostError(err: unknown): OpenAIError & { body: { is_bifrost_error: boolean; status_code: number; error: { message: string; type: string; code?: string; param?: string } } } {
  const e = toOpenAIError(err);
  const { message, type, param, code } = e.body.error;
  return { ...e, body: { is_bifrost_error: false, status_code: e.status, error: { message, type, ...(code ? { code } : {}), ...(param ? { param } : {}) } } } as never;
}
