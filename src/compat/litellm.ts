// LiteLLM proxy's management API, for the scripts and tools platform teams wrote against it (the
// keys they mint for services, the budgets they set, the spend they pull), on the control plane
// AdminService uses: the same checks, roles, audit log and store.
//
//   POST /key/generate   a key: key_alias (the key's name), team_id, models (its allow list),
//                        rpm_limit, tpm_limit, max_budget with budget_duration, duration (expiry),
//                        user_id and metadata (kept as metadata); the secret comes back once
//   GET  /key/info       ?key= the secret, its token (sha256) or its alias: the key and its spend
//   POST /key/update     the same fields, for the key named by `key`
//   POST /key/delete     {keys: [...]} or {key_aliases: [...]}: revoked (kept, refused at once)
//   GET  /key/list       ?team_id=&page=&size=&return_full_object=
//   POST /team/new       team_id (or team_alias), max_budget with budget_duration, rpm_limit and
//                        tpm_limit (the team's keys' default limits)
//   GET  /team/info      ?team_id=
//   GET  /spend/logs     ?api_key=&start_date=&end_date=: the requests of a key, from the usage store
//
// Where LiteLLM and the gateway differ, the difference is refused in words rather than guessed:
// a budget resets by calendar day, ISO week or month (budget_duration 1d/24h, 7d/1w, 30d/1mo), so
// a budget without a duration (LiteLLM's lifetime budget) is a 400; a key belongs to a team, so
// team_id is required unless a team "default" exists. Fields LiteLLM has and the gateway does not
// are listed back in `signalbox.ignored`, never silently dropped.

import type { BudgetConfig, RateLimits } from "../config/types.ts";
import type { KeyInput, KeyPatch } from "../control/control-plane.ts";
import { hashKey } from "../control/directory.ts";
import type { ManagedKey, ManagedTeam } from "../control/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { periodBounds } from "../limits/periods.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { authorizeUsageFilters } from "../server/usage-service.ts";
import type { UsageStore } from "../usage/store.ts";
import { toOpenAIError } from "./response.ts";

export const isLiteLLMPath = (p: string): boolean => LITELLM_PATHS.has(p);
const LITELLM_PATHS = new Set(["/key/generate", "/key/info", "/key/update", "/key/delete", "/key/list", "/team/new", "/team/info", "/spend/logs"]);
const POSTS = new Set(["/key/generate", "/key/update", "/key/delete", "/team/new"]);

/** The fields of LiteLLM's key and team requests that mean something here; anything else is listed back as ignored. */
const KEY_FIELDS = new Set(["key", "key_alias", "team_id", "models", "rpm_limit", "tpm_limit", "max_budget", "budget_duration", "duration", "user_id", "metadata"]);
const TEAM_FIELDS = new Set(["team_id", "team_alias", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata"]);

export interface LiteLLMDeps {
  core: GatewayCore;
  caller: Caller;
  traceId: string;
  usage?: UsageStore;
  query: URLSearchParams;
  readJson(): Promise<unknown>;
  send(status: number, body: unknown): void;
  now?: () => number;
}

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });

/** LiteLLM's durations ("30s", "15m", "24h", "30d", "1w", "1mo"), in ms. */
function durationMs(v: string, field: string): number {
  const m = /^(\d+)\s*(s|m|h|d|w|mo)$/.exec(v.trim());
  if (!m) throw bad(field, `"${v}" is not a duration like 30s, 15m, 24h, 30d, 1w or 1mo`);
  const n = Number(m[1]);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, mo: 30 * 86_400_000 }[m[2] as "s"];
  return n * unit;
}

/** max_budget with budget_duration → a calendar budget; what does not map is said so. */
function budgetOf(b: Record<string, unknown>, current?: BudgetConfig): BudgetConfig | undefined | null {
  const max = b.max_budget;
  const dur = b.budget_duration;
  if (max === undefined && dur === undefined) return undefined;
  if (max === null) return null;
  if (typeof max !== "number" || !(max > 0)) throw bad("max_budget", "must be a number of USD above 0 (null removes the budget)");
  if (dur === undefined || dur === null) {
    if (current) return { ...current, limitUsd: max };
    throw bad("budget_duration", "a budget here resets by calendar day, ISO week or month: give budget_duration 1d, 7d or 30d (a budget that never resets is not kept)");
  }
  if (typeof dur !== "string") throw bad("budget_duration", "must be a string such as 30d");
  const ms = durationMs(dur, "budget_duration");
  const period = ms === 86_400_000 ? "day" : ms === 7 * 86_400_000 ? "week" : ms >= 28 * 86_400_000 && ms <= 31 * 86_400_000 ? "month" : undefined;
  if (!period) throw bad("budget_duration", `"${dur}": budgets here reset by calendar day (1d, 24h), ISO week (7d, 1w) or month (30d, 1mo)`);
  return { period, limitUsd: max, softThreshold: current?.softThreshold ?? 0.8 };
}

const DURATION_OF = { day: "1d", week: "7d", month: "30d" } as const;

function limitsOf(b: Record<string, unknown>, current?: RateLimits): RateLimits | undefined {
  if (b.rpm_limit === undefined && b.tpm_limit === undefined) return undefined;
  const n = (v: unknown, field: string) => {
    if (v === undefined) return field === "rpm_limit" ? current?.requestsPerMinute : current?.tokensPerMinute;
    if (v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw bad(field, "must be a whole number above 0 (null removes it)");
    return v;
  };
  const rpm = n(b.rpm_limit, "rpm_limit");
  const tpm = n(b.tpm_limit, "tpm_limit");
  return { ...(rpm !== undefined ? { requestsPerMinute: rpm } : {}), ...(tpm !== undefined ? { tokensPerMinute: tpm } : {}) };
}

function metadataOf(b: Record<string, unknown>, base: Record<string, string> = {}): Record<string, string> | undefined {
  if (b.metadata === undefined && b.user_id === undefined) return undefined;
  if (b.metadata !== undefined && b.metadata !== null && (typeof b.metadata !== "object" || Array.isArray(b.metadata))) throw bad("metadata", "must be an object");
  const out: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries((b.metadata ?? {}) as Record<string, unknown>)) {
    if (v === null || v === undefined) delete out[k];
    else out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  if (b.user_id !== undefined) {
    if (b.user_id === null) delete out.user_id;
    else if (typeof b.user_id !== "string") throw bad("user_id", "must be a string");
    else out.user_id = b.user_id;
  }
  return out;
}

function modelsOf(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === null) return [];
  if (!Array.isArray(v) || v.some((m) => typeof m !== "string")) throw bad("models", "must be a list of model names");
  // LiteLLM's "all models" marker is the empty allow list here.
  return (v as string[]).includes("all-proxy-models") ? [] : (v as string[]);
}

const ignoredOf = (b: Record<string, unknown>, known: Set<string>) => Object.keys(b).filter((k) => !known.has(k));
const token = (k: ManagedKey) => k.hash.replace(/^sha256:/, "");

export async function serveLiteLLM(method: string, path: string, d: LiteLLMDeps): Promise<number> {
  const allowed = POSTS.has(path) ? "POST" : "GET";
  if (method !== allowed) {
    d.send(405, { error: { message: `${method} is not allowed on ${path}; use ${allowed}`, type: "invalid_request_error", param: null, code: "405" } });
    return 405;
  }
  const cp = d.core.control;
  const a = { caller: d.caller, authEnabled: d.core.auth.enabled, traceId: d.traceId };
  const now = (d.now ?? Date.now)();
  const body = async () => {
    const b = await d.readJson();
    if (!b || typeof b !== "object" || Array.isArray(b)) throw bad("body", "must be a JSON object");
    return b as Record<string, unknown>;
  };
  /** A key named by its secret, its token (sha256 hex, with or without the scheme) or its alias. */
  const keyNamed = (ref: unknown, field: string): ManagedKey => {
    if (typeof ref !== "string" || !ref) throw bad(field, "names the key: its secret, its token or its alias");
    const hashes = new Set([hashKey(ref), ref.startsWith("sha256:") ? ref : `sha256:${ref}`]);
    // A key may always read itself (LiteLLM's /key/info with the caller's own key); others as AdminService allows.
    for (const k of cp.directory.keys()) if (hashes.has(k.hash) || k.name === ref) return k.name === d.caller.keyName ? k : cp.getKey(a, k.name);
    throw new GatewayError("not_found", `${field}: no key with that secret, token or alias that this key may see`, { field });
  };
  const spendOf = async (k: ManagedKey) => {
    if (k.budget) return (await d.core.limits.budgetState(`team:${k.team}`, `key:${k.name}`, k.budget.period, now)).spentNanos / 1e9;
    if (!d.usage) return 0;
    const r = await d.usage.query({ start: k.createdAt, end: now + 1, granularity: "total", groupBy: [], filters: authorizeUsageFilters(d.caller, [{ dimension: "key", values: [k.name] }]) });
    return r.rows.reduce((s, x) => s + Number(x.cost.total) / 1e9, 0);
  };
  const keyJson = (k: ManagedKey, spend?: number) => ({
    token: token(k),
    key_alias: k.name,
    key_name: k.prefix ? `${k.prefix}…` : k.name,
    team_id: k.team,
    models: k.allow,
    max_budget: k.budget?.limitUsd ?? null,
    budget_duration: k.budget ? DURATION_OF[k.budget.period] : null,
    budget_reset_at: k.budget ? new Date(periodBounds(k.budget.period, now).end).toISOString() : null,
    rpm_limit: k.limits.requestsPerMinute ?? null,
    tpm_limit: k.limits.tokensPerMinute ?? null,
    user_id: k.metadata.user_id ?? null,
    metadata: k.metadata,
    expires: k.expiresAt ? new Date(k.expiresAt).toISOString() : null,
    created_at: new Date(k.createdAt).toISOString(),
    blocked: k.revokedAt !== undefined,
    ...(spend !== undefined ? { spend } : {}),
  });
  const teamJson = (t: ManagedTeam) => ({
    team_id: t.name,
    team_alias: t.metadata.team_alias ?? t.name,
    max_budget: t.budget?.limitUsd ?? null,
    budget_duration: t.budget ? DURATION_OF[t.budget.period] : null,
    rpm_limit: t.defaultKeyLimits?.requestsPerMinute ?? null,
    tpm_limit: t.defaultKeyLimits?.tokensPerMinute ?? null,
    metadata: t.metadata,
    created_at: new Date(t.createdAt).toISOString(),
  });

  switch (path) {
    case "/key/generate": {
      const b = await body();
      const team = typeof b.team_id === "string" && b.team_id ? b.team_id : cp.directory.team("default") ? "default" : undefined;
      if (!team) throw bad("team_id", "required: a key here belongs to a team (or create a team named default)");
      const name = typeof b.key_alias === "string" && b.key_alias ? b.key_alias : `key-${now.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
      const budget = budgetOf(b);
      const input: KeyInput = {
        name,
        team,
        role: "service",
        allow: modelsOf(b.models) ?? [],
        limits: limitsOf(b) ?? {},
        ...(budget ? { budget } : {}),
        ...(typeof b.duration === "string" && b.duration !== "permanent" ? { expiresAt: now + durationMs(b.duration, "duration") } : {}),
        metadata: metadataOf(b) ?? {},
      };
      const out = await cp.createKey(a, input);
      d.send(200, { key: out.secret, ...keyJson(out.key, 0), signalbox: { ignored: ignoredOf(b, KEY_FIELDS) } });
      return 200;
    }
    case "/key/update": {
      const b = await body();
      const k = keyNamed(b.key, "key");
      const patch: KeyPatch = {};
      const models = modelsOf(b.models);
      if (models) patch.allow = models;
      const limits = limitsOf(b, k.limits);
      if (limits) patch.limits = limits;
      const budget = budgetOf(b, k.budget);
      if (budget !== undefined) patch.budget = budget ?? undefined;
      if (b.duration !== undefined) patch.expiresAt = b.duration === null || b.duration === "permanent" ? undefined : now + durationMs(String(b.duration), "duration");
      const metadata = metadataOf(b, k.metadata);
      if (metadata) patch.metadata = metadata;
      if (b.team_id !== undefined && b.team_id !== k.team) throw bad("team_id", "a key's team cannot change here: make a key in the other team");
      const after = await cp.updateKey(a, k.name, patch);
      d.send(200, { ...keyJson(after), signalbox: { ignored: ignoredOf(b, KEY_FIELDS) } });
      return 200;
    }
    case "/key/delete": {
      const b = await body();
      const refs = [...(Array.isArray(b.keys) ? b.keys : []), ...(Array.isArray(b.key_aliases) ? b.key_aliases : [])];
      if (!refs.length) throw bad("keys", "give keys (secrets or tokens) or key_aliases");
      const keys = refs.map((r, i) => keyNamed(r, i < (Array.isArray(b.keys) ? b.keys.length : 0) ? "keys" : "key_aliases"));
      for (const k of keys) await cp.revokeKey(a, k.name);
      // Named by alias and token, never by the secrets a caller may have sent.
      d.send(200, { deleted_keys: keys.map((k) => k.name), deleted_tokens: keys.map(token) });
      return 200;
    }
    case "/key/info": {
      const k = d.query.get("key") ? keyNamed(d.query.get("key"), "key") : d.caller.role !== "anonymous" ? cp.getKey(a, d.caller.keyName) : undefined;
      if (!k) throw bad("key", "required while auth is off");
      d.send(200, { key: token(k), info: keyJson(k, await spendOf(k)) });
      return 200;
    }
    case "/key/list": {
      const size = Math.min(100, Math.max(1, Number(d.query.get("size") ?? 10) || 10));
      const page = Math.max(1, Number(d.query.get("page") ?? 1) || 1);
      const team = d.query.get("team_id") || undefined;
      const all: ManagedKey[] = [];
      let cursor: string | undefined;
      do {
        const p = cp.listKeys(a, { team, limit: 500, cursor, includeRevoked: false });
        all.push(...p.items);
        cursor = p.next;
      } while (cursor);
      const items = all.slice((page - 1) * size, page * size);
      const full = d.query.get("return_full_object") === "true";
      d.send(200, { keys: full ? items.map((k) => keyJson(k)) : items.map(token), total_count: all.length, current_page: page, total_pages: Math.max(1, Math.ceil(all.length / size)) });
      return 200;
    }
    case "/team/new": {
      const b = await body();
      const name = typeof b.team_id === "string" && b.team_id ? b.team_id : typeof b.team_alias === "string" ? b.team_alias.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") : "";
      if (!name) throw bad("team_id", "give team_id or team_alias");
      const budget = budgetOf(b);
      const limits = limitsOf(b);
      const metadata = metadataOf(b) ?? {};
      if (typeof b.team_alias === "string") metadata.team_alias = b.team_alias;
      const t = await cp.createTeam(a, { name, ...(budget ? { budget } : {}), ...(limits ? { defaultKeyLimits: limits } : {}), metadata });
      d.send(200, { ...teamJson(t), signalbox: { ignored: ignoredOf(b, TEAM_FIELDS) } });
      return 200;
    }
    case "/team/info": {
      const name = d.query.get("team_id") || (d.caller.role !== "anonymous" ? d.caller.team : "");
      if (!name) throw bad("team_id", "required");
      const page = cp.listTeams(a, { limit: 1000 });
      const t = page.items.find((x) => x.name === name);
      if (!t) throw new GatewayError("not_found", `team_id: no team "${name}" that this key may see`, { field: "team_id" });
      const keys = cp.listKeys(a, { team: name, limit: 500, includeRevoked: false }).items;
      const spent = t.budget ? (await d.core.limits.budgetState(`team:${t.name}`, `team:${t.name}`, t.budget.period, now)).spentNanos / 1e9 : null;
      d.send(200, { team_id: t.name, team_info: { ...teamJson(t), spend: spent }, keys: keys.map((k) => keyJson(k)) });
      return 200;
    }
    default: {
      // /spend/logs: a key's requests (the caller's own, or any it may read), newest first.
      if (!d.usage) throw new GatewayError("failed_precondition", "spend logs need the usage store");
      const ref = d.query.get("api_key");
      const k = ref ? keyNamed(ref, "api_key") : undefined;
      const day = (v: string | null, field: string) => {
        if (!v) return undefined;
        const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
        if (!Number.isFinite(t)) throw bad(field, `"${v}" is not a date (YYYY-MM-DD)`);
        return t;
      };
      const start = day(d.query.get("start_date"), "start_date");
      const endDay = day(d.query.get("end_date"), "end_date");
      const filters = authorizeUsageFilters(d.caller, k ? [{ dimension: "key", values: [k.name] }] : []);
      const res = await d.usage.list({ start, end: endDay !== undefined ? endDay + 86_400_000 : undefined, filters, pageSize: 1000 });
      d.send(
        200,
        res.records.map((r) => ({
          request_id: r.id,
          call_type: r.operation ?? "chat",
          api_key: k && r.key === k.name ? token(k) : r.key,
          key_alias: r.key,
          team_id: r.team,
          user: r.user,
          model: r.attempts.at(-1)?.model || r.model,
          model_group: r.routing.route || r.model,
          custom_llm_provider: r.provider,
          spend: r.cost.total / 1e9,
          prompt_tokens: r.usage.inputTokens,
          completion_tokens: r.usage.outputTokens,
          total_tokens: r.usage.inputTokens + r.usage.outputTokens,
          startTime: new Date(r.time).toISOString(),
          endTime: new Date(r.time + r.latencyMs).toISOString(),
          status: r.status === "ok" ? "success" : "failure",
          cache_hit: String(r.cacheHit),
          metadata: r.metadata,
          request_tags: r.tags,
        })),
      );
      return 200;
    }
  }
}

/** An error as LiteLLM's proxy gives one: OpenAI's shape with the HTTP status as the code. */
export function toLiteLLMError(err: unknown) {
  const e = toOpenAIError(err);
  return { ...e, body: { error: { ...e.body.error, code: String(e.status) } } };
}

