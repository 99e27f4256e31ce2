// LiteLLM proxy's management API, for the scripts and tools platform teams wrote against it (the
// keys they mint for services, the budgets they set, the spend they pull), on the control plane
// AdminService uses: the same checks, roles, audit log and store.
//
//   POST /key/generate   a key: key_alias (the key's name), team_id, models (its allow list),
//                        rpm_limit, tpm_limit, max_budget and budget_duration, duration (expiry),
//                        user_id and metadata (kept as metadata); the secret comes back once
//   GET  /key/info       ?key= the secret, its token (sha256) or its alias: the key and its spend
//   POST /key/update     the same fields, for the key named by `key`
//   POST /key/delete     {keys: [...]} or {key_aliases: [...]}: revoked (kept, refused at once)
//   GET  /key/list       ?team_id=&page=&size=&return_full_object=
//   POST /team/new       team_id (or team_alias), max_budget and budget_duration, rpm_limit and
//                        tpm_limit (the team's keys' default limits)
//   POST /key/regenerate {key, grace_period} (or /key/{key}/regenerate): a new secret, shown once;
//                        the old one stops working (after grace_period when given); the body may
//                        carry /key/update's fields too
//   POST /key/block      {key}: refused everywhere at once until /key/unblock (AdminService.BlockKey)
//   POST /key/unblock    {key}: calls again; both answer the key's row with `blocked`, a revoked key is a 400
//   GET  /team/info      ?team_id=
//   POST /team/update    /team/new's fields, for the team named by team_id
//   POST /team/delete    {team_ids: [...]}: all or none; a team that has keys is refused
//   GET  /team/list      the teams this key may see
//   POST /customer/new   an end user of a team (the `user` its requests carry): user_id, alias
//                        (kept as metadata.alias), blocked, max_budget and budget_duration,
//                        rpm_limit, tpm_limit, metadata; team_id (an extension: LiteLLM's customers
//                        are global, here an end user belongs to a team) or the caller's team
//   GET  /customer/info  ?end_user_id=(&team_id=): the end user in LiteLLM_EndUserTable's shape, its spend
//   POST /customer/update  the same fields, for the end user named by user_id
//   POST /customer/delete, /customer/block, /customer/unblock  {user_ids: [...]}: all or none; block
//                        makes an end user, blocked, of an id that has none (as LiteLLM's upsert)
//   GET  /customer/list  (?team_id=) the end users this key may see; all also as /end_user/*
//   GET  /spend/logs     ?api_key=&start_date=&end_date=: the requests of a key, from the usage store
//   GET  /guardrails/list               the configuration's guardrails (GuardrailService.ListGuardrails)
//   POST /guardrails/apply_guardrail    {guardrail_name, text}: {response_text} (redactions applied),
//                                       or a 400 naming the guardrail and category that refused
//   GET  /model/info     (and /v1/model/info) the deployments this key may name, in LiteLLM's shape
//   POST /model/new      model_name + litellm_params {model: "provider/model", api_base, api_key,
//                        max_budget and budget_duration: its spending cap}: a deployment made at
//                        run time (and, with credentials, its provider)
//   POST /model/delete   {id}: a deployment /model/new (or PutConfigEntry) made
//   GET  /health         (?model= or ?model_id=) LiteLLM's model health check: each deployment (or
//                        those behind one model) sent a minimal real request (an active check,
//                        billed and recorded with tag health-check), answered as LiteLLM's
//                        healthy_endpoints / unhealthy_endpoints; admin only (it spends provider
//                        tokens). With health_checks configured, the background checks' latest
//                        results instead, as LiteLLM's background_health_checks
//   GET  /health/liveliness, /health/readiness: no key needed, as in LiteLLM
//   GET  /provider/budgets  LiteLLM's provider budget routing: each provider with a spending cap
//                        (`budget` in the config), its budget_limit, time_period (1d, 7d, 1mo),
//                        spend this period and budget_reset_at; admin only
//
// max_budget without budget_duration is LiteLLM's budget for the whole life of the key (team,
// customer): a lifetime budget here, which never resets. On an update, a missing (or null)
// budget_duration keeps the budget's period, as LiteLLM's does.
//
// Where LiteLLM and the gateway differ, the difference is refused in words rather than guessed:
// a budget resets by calendar day, ISO week or month (budget_duration 1d/24h, 7d/1w, 30d/1mo) or
// never, so another duration ("45d", "12h") is a 400 naming budget_duration; a key belongs to a
// team, so team_id is required unless a team "default" exists; a customer named without team_id
// is looked for in every team the key may see (found in several, team_id must say which). Fields
// LiteLLM has and the gateway does not are listed back in `signalbox.ignored`, never silently
// dropped.

import type { BudgetConfig, DeploymentConfig, Operation, RateLimits } from "../config/types.ts";
import { allowListAllows } from "../config/wildcards.ts";
import { MODE_OF, OPENAI_LIKE, OPENAI_LIKE_DEFAULTS, OPERATION_OF, PROVIDER_TYPE_OF } from "../config/import/litellm.ts";
import { END_USER_RULE, isEndUserId, type Actor, type EndUserInput, type EndUserPatch, type KeyInput, type KeyPatch, type TeamPatch } from "../control/control-plane.ts";
import { hashKey } from "../control/directory.ts";
import type { ManagedEndUser, ManagedKey, ManagedTeam } from "../control/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { endUserScopeId } from "../limits/admission.ts";
import { periodBounds } from "../limits/periods.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { authorizeUsageFilters } from "../server/usage-service.ts";
import type { UsageFilter, UsageStore } from "../usage/store.ts";
import { toOpenAIError } from "./response.ts";
import { applyGuardrails } from "../guardrails/engine.ts";
import { admitCheck } from "../server/guardrail-service.ts";
import { DEFAULT_CHECK_TIMEOUT_MS } from "../engine/checks.ts";
import type { RequestInfo } from "../server/context.ts";
import type { CheckOutcome } from "../state/health.ts";
import { deploymentsBehind } from "./openrouter.ts";

/** LiteLLM's regenerate names the key in its path: /key/{key}/regenerate (the secret or its token). */
const KEY_IN_PATH = /^\/key\/([^/]+)\/regenerate$/;
export const isLiteLLMPath = (p: string): boolean => GETS.has(p) || POSTS.has(p) || KEY_IN_PATH.test(p);
/** LiteLLM serves its customer endpoints under /end_user/* too (their first name); both are served here. */
const customerRoutes = (...verbs: string[]) => verbs.flatMap((v) => [`/customer/${v}`, `/end_user/${v}`]);
const GETS = new Set(["/health", "/provider/budgets", "/key/info", "/key/list", "/team/info", "/team/list", "/spend/logs", "/model/info", "/v1/model/info", "/guardrails/list", ...customerRoutes("info", "list")]);
const POSTS = new Set(["/key/generate", "/key/update", "/key/delete", "/key/regenerate", "/key/block", "/key/unblock", "/team/new", "/team/update", "/team/delete", "/model/new", "/model/delete", "/guardrails/apply_guardrail", ...customerRoutes("new", "update", "delete", "block", "unblock")]);
/** The route a trace names: the path form of /key/regenerate carries a secret, never traced. */
export const liteLLMRoute = (p: string): string => (KEY_IN_PATH.test(p) ? "/key/{key}/regenerate" : p);

/** The fields of LiteLLM's key and team requests that mean something here; anything else is listed back as ignored. */
const KEY_FIELDS = new Set(["key", "key_alias", "team_id", "models", "rpm_limit", "tpm_limit", "max_budget", "budget_duration", "duration", "user_id", "metadata"]);
const TEAM_FIELDS = new Set(["team_id", "team_alias", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata"]);
/** team_id is Signalbox's: LiteLLM's customers are global, an end user here belongs to a team. */
const CUSTOMER_FIELDS = new Set(["user_id", "alias", "blocked", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "metadata", "team_id"]);
const IDS_FIELDS = new Set(["user_ids", "team_id"]);
const REGENERATE_FIELDS = new Set([...KEY_FIELDS, "grace_period"]);
const MODEL_FIELDS = new Set(["model_name", "litellm_params", "model_info"]);
const PARAM_FIELDS = new Set(["model", "api_base", "api_key", "api_version", "rpm", "tpm", "max_budget", "budget_duration", "input_cost_per_token", "output_cost_per_token", "max_tokens", "max_input_tokens", "max_output_tokens"]);
const INFO_FIELDS = new Set(["id", "mode", "input_cost_per_token", "output_cost_per_token", "max_tokens", "max_input_tokens", "max_output_tokens", "base_model"]);

/** The provider /model/new makes for a deployment given credentials: named after it, so /model/delete removes both. */
const providerFor = (deployment: string) => `litellm-${deployment.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/-+$/g, "")}`;

export const isLiteLLMHealthPath = (p: string): boolean => p === "/health/liveliness" || p === "/health/liveness" || p === "/health/readiness";

/**
 * LiteLLM's probes, answered without a key as LiteLLM does. Readiness says what backs the control
 * store (not pinged per probe), and a 503 while the replica drains.
 */
export function liteLLMHealth(method: string, path: string, core: GatewayCore, serving: boolean): { status: number; body: unknown } {
  if (method !== "GET") return { status: 405, body: { error: { message: `${method} is not allowed on ${path}; use GET`, type: "invalid_request_error", param: null, code: "405" } } };
  if (path !== "/health/readiness") return { status: 200, body: "I'm alive!" };
  // A draining replica is not ready, as /readyz and the gRPC health service say.
  if (!serving) return { status: 503, body: { status: "draining", db: null, cache: null, litellm_version: null, success_callbacks: [] } };
  const db = core.control.storeKind === "postgres";
  return { status: 200, body: { status: db ? "connected" : "healthy", db: db ? "connected" : "Not connected", cache: null, litellm_version: null, success_callbacks: [], signalbox: { store: core.control.storeKind, replica: core.control.replica } } };
}

export interface LiteLLMDeps {
  core: GatewayCore;
  caller: Caller;
  traceId: string;
  usage?: UsageStore;
  query: URLSearchParams;
  readJson(): Promise<unknown>;
  send(status: number, body: unknown): void;
  now?: () => number;
  /** Aborts when the caller goes away (a guardrail's service call stops). */
  signal?: AbortSignal;
  /** The asking request: /health's checks are spans of its trace. */
  ri?: RequestInfo;
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

/**
 * max_budget and budget_duration → a budget. A duration maps to a calendar day, ISO week or month;
 * no duration is LiteLLM's budget for the whole life of the key (team, customer): a lifetime
 * budget. On an update (`current` given), an absent or null duration keeps the current period and
 * an absent max_budget the current limit, as LiteLLM's update drops a null budget_duration.
 */
function budgetOf(b: Record<string, unknown>, current?: BudgetConfig): BudgetConfig | undefined | null {
  const max = b.max_budget;
  const dur = b.budget_duration;
  if (max === undefined && dur === undefined) return undefined;
  if (max === null) return null;
  if (max === undefined && !current) throw bad("max_budget", "there is no budget for budget_duration to reset: give max_budget too");
  const limitUsd = max === undefined ? current!.limitUsd : max;
  if (typeof limitUsd !== "number" || !(limitUsd > 0)) throw bad("max_budget", "must be a number of USD above 0 (null removes the budget)");
  const softThreshold = current?.softThreshold ?? 0.8;
  if (dur === undefined || dur === null) return { period: current?.period ?? "lifetime", limitUsd, softThreshold };
  if (typeof dur !== "string") throw bad("budget_duration", "must be a string such as 30d");
  const period = calendarPeriod(dur, "budget_duration", "budgets here reset by calendar day (1d, 24h), ISO week (7d, 1w) or month (30d, 1mo), or never (no budget_duration)");
  return { period, limitUsd, softThreshold };
}

/** A LiteLLM duration as the calendar period it stands for: a day, an ISO week or a month (28 to 31 days); else a 400 naming `field`. */
function calendarPeriod(dur: string, field: string, why: string): "day" | "week" | "month" {
  const ms = durationMs(dur, field);
  const period = ms === 86_400_000 ? "day" : ms === 7 * 86_400_000 ? "week" : ms >= 28 * 86_400_000 && ms <= 31 * 86_400_000 ? "month" : undefined;
  if (!period) throw bad(field, `"${dur}": ${why}`);
  return period;
}

/**
 * A model's budget (litellm_params.max_budget and budget_duration, LiteLLM's model budget routing)
 * as the deployment's spending cap: a calendar day, ISO week or month; a cap needs its period.
 */
function modelBudgetOf(lp: Record<string, unknown>): { period: "day" | "week" | "month"; limit_usd: number } | undefined {
  const max = lp.max_budget;
  const dur = lp.budget_duration;
  if (max === undefined || max === null) {
    if (dur !== undefined && dur !== null) throw bad("litellm_params.max_budget", "there is no budget for budget_duration to reset: give max_budget too");
    return undefined;
  }
  if (typeof max !== "number" || !(max >= 0)) throw bad("litellm_params.max_budget", "must be a number of USD, 0 or more");
  if (typeof dur !== "string") throw bad("litellm_params.budget_duration", "required with max_budget: a model's budget resets by calendar day (1d, 24h), ISO week (7d, 1w) or month (30d, 1mo)");
  const period = calendarPeriod(dur, "litellm_params.budget_duration", "a model's budget resets by calendar day (1d, 24h), ISO week (7d, 1w) or month (30d, 1mo)");
  return { period, limit_usd: max };
}

/** LiteLLM's budget_duration of a budget period: a lifetime budget has none (null). */
const DURATION_OF = { day: "1d", week: "7d", month: "30d", lifetime: null } as const;

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

export async function serveLiteLLM(method: string, rawPath: string, d: LiteLLMDeps): Promise<number> {
  const inPath = KEY_IN_PATH.exec(rawPath);
  const path = inPath ? "/key/regenerate" : rawPath;
  const allowed = POSTS.has(path) ? "POST" : "GET";
  if (method !== allowed) {
    d.send(405, { error: { message: `${method} is not allowed on ${liteLLMRoute(rawPath)}; use ${allowed}`, type: "invalid_request_error", param: null, code: "405" } });
    return 405;
  }
  const cp = d.core.control;
  const a: Actor = { caller: d.caller, authEnabled: d.core.auth.enabled, traceId: d.traceId };
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
    return usageSpend(d, k.createdAt, now, [{ dimension: "key", values: [k.name] }]);
  };
  const keyJson = (k: ManagedKey, spend?: number) => ({
    token: token(k),
    key_alias: k.name,
    key_name: k.prefix ? `${k.prefix}…` : k.name,
    team_id: k.team,
    models: k.allow,
    max_budget: k.budget?.limitUsd ?? null,
    budget_duration: k.budget ? DURATION_OF[k.budget.period] : null,
    budget_reset_at: k.budget && k.budget.period !== "lifetime" ? new Date(periodBounds(k.budget.period, now).end).toISOString() : null,
    rpm_limit: k.limits.requestsPerMinute ?? null,
    tpm_limit: k.limits.tokensPerMinute ?? null,
    user_id: k.metadata.user_id ?? null,
    metadata: k.metadata,
    expires: k.expiresAt ? new Date(k.expiresAt).toISOString() : null,
    created_at: new Date(k.createdAt).toISOString(),
    // LiteLLM's `blocked` says the key is refused: a revoked key is too (LiteLLM deletes its row instead).
    blocked: k.blockedAt !== undefined || k.revokedAt !== undefined,
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
  const teamSpend = async (t: ManagedTeam) => (t.budget ? (await d.core.limits.budgetState(`team:${t.name}`, `team:${t.name}`, t.budget.period, now)).spentNanos / 1e9 : null);
  /** A team this key may see (its own, or any for an admin); others are not found, as on /team/info. */
  const teamNamed = (name: string, field: string): ManagedTeam => {
    const t = cp.listTeams(a, { limit: 1000 }).items.find((x) => x.name === name);
    if (!t) throw new GatewayError("not_found", `${field}: no team "${name}" that this key may see`, { field });
    return t;
  };
  /** /key/update's fields (also on /key/regenerate) as a patch of key k. */
  const keyPatchOf = (b: Record<string, unknown>, k: ManagedKey): KeyPatch => {
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
    return patch;
  };

  if (path.startsWith("/customer/") || path.startsWith("/end_user/")) {
    await serveCustomers(path.slice(path.indexOf("/", 1) + 1), d, a, body, now);
    return 200;
  }

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
      const after = await cp.updateKey(a, k.name, keyPatchOf(b, k));
      d.send(200, { ...keyJson(after), signalbox: { ignored: ignoredOf(b, KEY_FIELDS) } });
      return 200;
    }
    case "/key/regenerate": {
      let b: Record<string, unknown>;
      try {
        b = await body();
      } catch (err) {
        if (err instanceof GatewayError && err.details.field === "body") throw bad("body", "give a JSON object ({} when nothing else changes)");
        throw err;
      }
      // A secret is made here: one a caller picks (LiteLLM's new_key, new_master_key) is refused, not ignored.
      for (const f of ["new_key", "new_master_key"]) if (b[f] !== undefined) throw bad(f, "the gateway makes every secret itself (sbk_…); leave it out and the new secret comes back once");
      const k = keyNamed(b.key ?? (inPath ? decodeURIComponent(inPath[1]) : undefined), "key");
      const grace = graceSecondsOf(b.grace_period);
      const patch = keyPatchOf(b, k);
      if (Object.keys(patch).length) await cp.updateKey(a, k.name, patch);
      const out = await cp.rotateKey(a, k.name, grace).catch((err) => {
        throw err instanceof GatewayError && err.details.field === "grace_seconds" ? bad("grace_period", err.message.replace(/^[^:]*: /, "")) : err;
      });
      d.send(200, { key: out.secret, token_id: token(out.key), ...keyJson(out.key), signalbox: { ignored: ignoredOf(b, REGENERATE_FIELDS), grace_seconds: grace } });
      return 200;
    }
    case "/key/block":
    case "/key/unblock": {
      const b = await body();
      const k = keyNamed(b.key, "key");
      const after = await (path === "/key/block" ? cp.blockKey(a, k.name) : cp.unblockKey(a, k.name)).catch((err) => {
        // The control plane names AdminService's field; LiteLLM's caller sent `key`.
        throw err instanceof GatewayError && err.details.field === "name" ? new GatewayError(err.code, `key: ${err.message}`, { ...err.details, field: "key" }) : err;
      });
      // LiteLLM answers the key's row, with blocked true or false; both are idempotent here as there.
      d.send(200, keyJson(after));
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
      d.send(200, { team_id: t.name, team_info: { ...teamJson(t), spend: await teamSpend(t) }, keys: keys.map((k) => keyJson(k)) });
      return 200;
    }
    case "/team/update": {
      const b = await body();
      if (typeof b.team_id !== "string" || !b.team_id) throw bad("team_id", "required: the team to change");
      const t = teamNamed(b.team_id, "team_id");
      const patch: TeamPatch = {};
      const budget = budgetOf(b, t.budget);
      if (budget !== undefined) patch.budget = budget ?? undefined;
      const limits = limitsOf(b, t.defaultKeyLimits);
      if (limits) patch.defaultKeyLimits = limits;
      const metadata = metadataOf(b, t.metadata) ?? (typeof b.team_alias === "string" ? { ...t.metadata } : undefined);
      if (metadata && typeof b.team_alias === "string") metadata.team_alias = b.team_alias;
      if (metadata) patch.metadata = metadata;
      const after = await cp.updateTeam(a, t.name, patch);
      d.send(200, { team_id: after.name, data: teamJson(after), signalbox: { ignored: ignoredOf(b, TEAM_FIELDS) } });
      return 200;
    }
    case "/team/delete": {
      const b = await body();
      if (!Array.isArray(b.team_ids) || !b.team_ids.length || b.team_ids.some((x) => typeof x !== "string" || !x)) throw bad("team_ids", "give the teams to delete: a list of team ids");
      const names = [...new Set(b.team_ids as string[])];
      // All or none: every team is checked before any is deleted.
      cp.requireAdmin(a, "deleting a team");
      for (const name of names) {
        teamNamed(name, "team_ids");
        const n = cp.keyCount(name);
        if (n > 0) throw new GatewayError("failed_precondition", `team_ids: team "${name}" has ${n} key${n === 1 ? "" : "s"} (revoked ones stay on record), so it is not deleted: LiteLLM deletes a team's keys with it, the gateway keeps them`, { field: "team_ids" });
      }
      for (const name of names) await cp.deleteTeam(a, name);
      d.send(200, { deleted_teams: names, signalbox: { ignored: ignoredOf(b, new Set(["team_ids"])) } });
      return 200;
    }
    case "/team/list": {
      const teams: ManagedTeam[] = [];
      let cursor: string | undefined;
      do {
        const p = cp.listTeams(a, { limit: 500, cursor });
        teams.push(...p.items);
        cursor = p.next;
      } while (cursor);
      d.send(200, await Promise.all(teams.map(async (t) => ({ ...teamJson(t), spend: await teamSpend(t), keys: cp.listKeys(a, { team: t.name, limit: 500, includeRevoked: false }).items.map(token) }))));
      return 200;
    }
    case "/guardrails/list": {
      // LiteLLM's modes: pre_call is the input, post_call the answer.
      const mode = (stages: readonly string[]) => (stages.length === 2 ? "pre_call,post_call" : stages[0] === "output" ? "post_call" : "pre_call");
      d.send(200, { guardrails: d.core.guardrails.all.map((g) => ({ guardrail_name: g.name, litellm_params: { guardrail: g.config.kind, mode: mode(g.config.stages), default_on: g.config.mandatory }, guardrail_info: { action: g.action, stages: g.config.stages } })) });
      return 200;
    }
    case "/guardrails/apply_guardrail": {
      const b = await body();
      if (typeof b.guardrail_name !== "string" || !b.guardrail_name) throw bad("guardrail_name", "names a guardrail of the gateway's configuration");
      if (typeof b.text !== "string") throw bad("text", "must be a string");
      if (!d.core.guardrails.all.some((g) => g.name === b.guardrail_name)) throw bad("guardrail_name", `unknown guardrail "${b.guardrail_name}"`);
      await admitCheck(d.core, d.caller, d.traceId);
      const r = await applyGuardrails(d.core.guardrails, [b.guardrail_name], "input", b.text, d.signal ?? new AbortController().signal, "guardrail_name");
      if (r.blocked) throw new GatewayError("failed_precondition", r.message, { guardrail: r.guardrail, guardrailCategory: r.category });
      d.send(200, { response_text: r.text, signalbox: { actions: r.actions, ignored: ignoredOf(b, new Set(["guardrail_name", "text"])) } });
      return 200;
    }
    case "/health": {
      cp.requireAdmin(a, "checking deployments (/health: each check is a real, billed request)");
      const h = await modelHealth(d);
      d.send(h.status, h.body);
      return h.status;
    }
    case "/provider/budgets": {
      // LiteLLM's provider budget routing: each capped provider, its limit, period, spend and reset.
      cp.requireAdmin(a, "reading the providers' budgets (/provider/budgets)");
      const LITELLM_PERIOD = { day: "1d", week: "7d", month: "1mo" } as const;
      const providers: Record<string, unknown> = {};
      for (const [name, c] of d.core.spendCaps?.providers() ?? []) {
        providers[name] = { budget_limit: c.limitNanos / 1e9, time_period: LITELLM_PERIOD[c.period], spend: c.spentNanos / 1e9, budget_reset_at: new Date(c.resetAt).toISOString() };
      }
      d.send(200, { providers });
      return 200;
    }
    case "/model/info":
    case "/v1/model/info": {
      const cfg = d.core.registry.config;
      const made = new Set(cp.entries.list("deployment").map((e) => e.name));
      const data = cfg.deployments.filter((x) => allowListAllows(d.caller.allow, x.id)).map((x) => modelInfoOf(x, made.has(x.id), d.core));
      d.send(200, { data });
      return 200;
    }
    case "/model/new": {
      const b = await body();
      cp.requireAdmin(a, "adding a model (/model/new)");
      d.send(200, await newModel(b, a, d.core));
      return 200;
    }
    case "/model/delete": {
      const b = await body();
      if (typeof b.id !== "string" || !b.id) throw bad("id", "required: the model's id (model_info.id, its name here)");
      cp.requireAdmin(a, "deleting a model (/model/delete)");
      const id = b.id;
      let entry;
      try {
        entry = cp.getConfigEntry(a, "deployment", id);
      } catch (err) {
        if (err instanceof GatewayError && err.code === "not_found" && d.core.registry.config.deployments.some((x) => x.id === id)) {
          throw new GatewayError("failed_precondition", `id: "${id}" is defined in the config file and is read-only here: change it there`, { field: "id" });
        }
        if (err instanceof GatewayError && err.code === "not_found") throw new GatewayError("not_found", `id: no model "${id}" was added at run time`, { field: "id" });
        throw err;
      }
      await cp.deleteConfigEntry(a, "deployment", id);
      // The provider /model/new made for it goes with it (kept if something else uses it meanwhile).
      const provider = entry.spec.provider;
      if (provider === providerFor(id) && cp.entries.list("provider").some((e) => e.name === provider)) {
        await cp.deleteConfigEntry(a, "provider", provider).catch((err) => {
          if (!(err instanceof GatewayError && err.code === "failed_precondition")) throw err;
        });
      }
      d.send(200, { message: `Model: ${id} deleted successfully` });
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

/** What the usage store has of these requests since `since`, in USD (0 without a usage store). */
async function usageSpend(d: LiteLLMDeps, since: number, now: number, filters: UsageFilter[]): Promise<number> {
  if (!d.usage) return 0;
  const r = await d.usage.query({ start: since, end: now + 1, granularity: "total", groupBy: [], filters: authorizeUsageFilters(d.caller, filters) });
  return r.rows.reduce((s, x) => s + Number(x.cost.total) / 1e9, 0);
}

/** The control plane's end-user fields, as LiteLLM's customer requests name them. */
const CUSTOMER_PARAM: [string, string][] = [
  ["end_user.user", "user_id"],
  ["end_user.team", "team_id"],
  ["end_user.budget", "max_budget"],
  ["end_user.limits.requests_per_minute", "rpm_limit"],
  ["end_user.limits.tokens_per_minute", "tpm_limit"],
  ["end_user.metadata", "metadata"],
  ["team", "team_id"],
  ["user", "user_id"],
];

/** A control-plane refusal naming the field of LiteLLM's customer request it came from, its code kept. */
async function asCustomer<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const field = err instanceof GatewayError ? err.details.field : undefined;
    const mapped = typeof field === "string" ? CUSTOMER_PARAM.find(([f]) => field === f || field.startsWith(`${f}.`))?.[1] : undefined;
    if (!mapped) throw err;
    const e = err as GatewayError;
    throw new GatewayError(e.code, `${mapped}: ${e.message.startsWith(`${field}: `) ? e.message.slice(field!.length + 2) : e.message}`, { ...e.details, field: mapped });
  }
}

/** metadata and alias (kept as metadata.alias) of a customer request, over `base`; undefined: neither given. */
function customerMetadataOf(b: Record<string, unknown>, base: Record<string, string> = {}): Record<string, string> | undefined {
  const m = metadataOf({ metadata: b.metadata }, base);
  if (b.alias === undefined) return m;
  const out = m ?? { ...base };
  if (b.alias === null) delete out.alias;
  else if (typeof b.alias !== "string") throw bad("alias", "must be a string (null removes it)");
  else out.alias = b.alias;
  return out;
}

function blockedOf(v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw bad("blocked", "must be true or false");
  return v;
}

/**
 * LiteLLM's customers (/customer/* and /end_user/*) as the control plane's end users: the `user`
 * of a team's requests, with a budget, limits or a block of their own across the team's keys.
 * LiteLLM's customers are global; here the team is `team_id` (an extension) or the caller's. A
 * customer named without team_id is looked up in every team the key may see: found in one, it is
 * that one; in several, team_id must say which.
 */
async function serveCustomers(verb: string, d: LiteLLMDeps, a: Actor, body: () => Promise<Record<string, unknown>>, now: number): Promise<void> {
  const cp = d.core.control;
  const teamOf = (v: unknown): string | undefined => {
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw bad("team_id", "must be a string: the team whose end user this is (the caller's when left out)");
    return v;
  };
  /** The end users this key may see (admin: every team's; a team key: its own), of `team` when given. */
  const visible = (team: string | undefined): Promise<ManagedEndUser[]> =>
    asCustomer(() => {
      const all: ManagedEndUser[] = [];
      let cursor: string | undefined;
      do {
        const p = cp.listEndUsers(a, { team, limit: 1000, cursor });
        all.push(...p.items);
        cursor = p.next;
      } while (cursor);
      return all;
    });
  const userOf = (v: unknown, field: string): string => {
    if (typeof v !== "string" || !v) throw bad(field, "names the end user: the `user` their requests carry");
    return v;
  };
  /** Each id's end user (in `team`, else in whichever team the key may see has them); undefined: none. */
  const findAll = async (users: string[], team: string | undefined, field: string) => {
    const all = await visible(team);
    return users.map((user) => {
      const found = all.filter((u) => u.user === user);
      if (found.length > 1) throw bad("team_id", `end user "${user}" is in teams ${found.map((u) => `"${u.team}"`).join(", ")}: name one with team_id (${field} alone does not say which)`);
      return { user, found: found[0] };
    });
  };
  const notFound = (users: string[], team: string | undefined, field: string) =>
    new GatewayError("not_found", `${field}: no end user ${users.map((u) => `"${u}"`).join(", ")}${team ? ` in team "${team}"` : ""} that this key may see`, { field });
  /** All of them, or a 404 naming every one missing (nothing is written before this). */
  const existing = async (users: string[], team: string | undefined, field: string): Promise<ManagedEndUser[]> => {
    const r = await findAll(users, team, field);
    const missing = r.filter((x) => !x.found).map((x) => x.user);
    if (missing.length) throw notFound(missing, team, field);
    return r.map((x) => x.found!);
  };
  /** LiteLLM's user_ids: a non-empty list of ids, each once. */
  const idsOf = (v: unknown): string[] => {
    if (!Array.isArray(v) || !v.length || v.some((x) => typeof x !== "string" || !x)) throw bad("user_ids", "give the end users: a list of their user ids");
    // Every id is checked before any write: a block that makes users is all or none too.
    const wrong = (v as string[]).find((x) => !isEndUserId(x));
    if (wrong !== undefined) throw bad("user_ids", `${JSON.stringify(wrong.length > 40 ? `${wrong.slice(0, 40)}…` : wrong)}: ${END_USER_RULE}`);
    return [...new Set(v as string[])];
  };
  const spendOf = async (u: ManagedEndUser) => {
    if (u.budget) return (await d.core.limits.budgetState(`team:${u.team}`, endUserScopeId(u.team, u.user), u.budget.period, now)).spentNanos / 1e9;
    return usageSpend(d, u.createdAt, now, [
      { dimension: "team", values: [u.team] },
      { dimension: "user", values: [u.user] },
    ]);
  };
  /** LiteLLM_EndUserTable, with the team and what LiteLLM has no field for under `signalbox`. */
  const customerJson = async (u: ManagedEndUser) => {
    const rpm = u.limits?.requestsPerMinute;
    const tpm = u.limits?.tokensPerMinute;
    return {
      user_id: u.user,
      alias: u.metadata.alias ?? null,
      spend: await spendOf(u),
      allowed_model_region: null,
      default_model: null,
      budget_id: null,
      blocked: u.blockedAt !== undefined,
      litellm_budget_table:
        u.budget || rpm || tpm
          ? {
              budget_id: null,
              soft_budget: null,
              max_budget: u.budget?.limitUsd ?? null,
              max_parallel_requests: null,
              tpm_limit: tpm ?? null,
              rpm_limit: rpm ?? null,
              model_max_budget: null,
              budget_duration: u.budget ? DURATION_OF[u.budget.period] : null,
              budget_reset_at: u.budget && u.budget.period !== "lifetime" ? new Date(periodBounds(u.budget.period, now).end).toISOString() : null,
            }
          : null,
      object_permission_id: null,
      object_permission: null,
      signalbox: { team_id: u.team, metadata: u.metadata, created_at: new Date(u.createdAt).toISOString(), updated_at: new Date(u.updatedAt).toISOString(), created_by: u.createdBy },
    };
  };

  switch (verb) {
    case "new": {
      const b = await body();
      const user = userOf(b.user_id, "user_id");
      const budget = budgetOf(b);
      const limits = limitsOf(b);
      const blocked = blockedOf(b.blocked);
      const input: EndUserInput = {
        team: teamOf(b.team_id) ?? d.caller.team,
        user,
        ...(budget ? { budget } : {}),
        ...(limits && Object.keys(limits).length ? { limits } : {}),
        ...(blocked ? { blocked } : {}),
        metadata: customerMetadataOf(b) ?? {},
      };
      const u = await asCustomer(() => cp.createEndUser(a, input));
      const out = await customerJson(u);
      d.send(200, { ...out, signalbox: { ...out.signalbox, ignored: ignoredOf(b, CUSTOMER_FIELDS) } });
      return;
    }
    case "info": {
      const [u] = await existing([userOf(d.query.get("end_user_id"), "end_user_id")], teamOf(d.query.get("team_id")), "end_user_id");
      d.send(200, await customerJson(u));
      return;
    }
    case "list": {
      const users = await visible(teamOf(d.query.get("team_id")));
      d.send(200, await Promise.all(users.map(customerJson)));
      return;
    }
    case "update": {
      const b = await body();
      const [u] = await existing([userOf(b.user_id, "user_id")], teamOf(b.team_id), "user_id");
      const patch: EndUserPatch = {};
      const budget = budgetOf(b, u.budget);
      if (budget !== undefined) patch.budget = budget ?? undefined;
      const limits = limitsOf(b, u.limits);
      if (limits) patch.limits = Object.keys(limits).length ? limits : undefined;
      const metadata = customerMetadataOf(b, u.metadata);
      if (metadata) patch.metadata = metadata;
      const blocked = blockedOf(b.blocked);
      if (blocked !== undefined) patch.blocked = blocked;
      const after = await asCustomer(() => cp.updateEndUser(a, u.team, u.user, patch));
      const out = await customerJson(after);
      d.send(200, { ...out, signalbox: { ...out.signalbox, ignored: ignoredOf(b, CUSTOMER_FIELDS) } });
      return;
    }
    case "delete": {
      const b = await body();
      // All or none: every id is found before any is deleted.
      const users = await existing(idsOf(b.user_ids), teamOf(b.team_id), "user_ids");
      for (const u of users) await asCustomer(() => cp.deleteEndUser(a, u.team, u.user));
      const ids = users.map((u) => u.user);
      d.send(200, { deleted_customers: ids.length, message: `Successfully deleted customers with ids: [${ids.map((x) => `'${x}'`).join(", ")}]`, signalbox: { team_ids: [...new Set(users.map((u) => u.team))], ignored: ignoredOf(b, IDS_FIELDS) } });
      return;
    }
    case "block": {
      const b = await body();
      const team = teamOf(b.team_id);
      // As LiteLLM's: an id with no end user yet is made, blocked (in team_id, or the caller's team).
      // All or none: every id is looked up, and the key's right to each team checked, before any write.
      const users = await findAll(idsOf(b.user_ids), team, "user_ids");
      // The ones to make first: what may still be refused (the team, the id) is refused before any block.
      const after = new Map<string, ManagedEndUser>();
      for (const x of users) if (!x.found) after.set(x.user, await asCustomer(() => cp.createEndUser(a, { team: team ?? d.caller.team, user: x.user, blocked: true, metadata: {} })));
      for (const x of users) if (x.found) after.set(x.user, await asCustomer(() => cp.updateEndUser(a, x.found!.team, x.user, { blocked: true })));
      const made = users.filter((x) => !x.found).map((x) => x.user);
      d.send(200, { blocked_users: await Promise.all(users.map((x) => customerJson(after.get(x.user)!))), signalbox: { made, ignored: ignoredOf(b, IDS_FIELDS) } });
      return;
    }
    case "unblock": {
      const b = await body();
      const team = teamOf(b.team_id);
      const users = await existing(idsOf(b.user_ids), team, "user_ids");
      const unblocked: ManagedEndUser[] = [];
      for (const u of users) unblocked.push(await asCustomer(() => cp.updateEndUser(a, u.team, u.user, { blocked: false })));
      // LiteLLM answers the ids still blocked; here, those of the teams these users are in.
      const teams = new Set(unblocked.map((u) => u.team));
      const still = (await visible(team)).filter((u) => teams.has(u.team) && u.blockedAt !== undefined).map((u) => u.user);
      d.send(200, { blocked_users: still, signalbox: { unblocked_users: await Promise.all(unblocked.map(customerJson)), ignored: ignoredOf(b, IDS_FIELDS) } });
      return;
    }
    default:
      throw new GatewayError("not_found", `no route /customer/${verb}`);
  }
}

/** LiteLLM's grace_period ("24h", or seconds): how long the old secret keeps working; absent: not at all. */
function graceSecondsOf(v: unknown): number {
  if (v === undefined || v === null || v === "") return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === "string") return Math.ceil(durationMs(v, "grace_period") / 1000);
  throw bad("grace_period", "a duration such as 30m or 24h (or whole seconds)");
}

/** The prefix LiteLLM would write for a provider of each type ("openai/gpt-4o"). */
const PREFIX_OF: Record<string, string> = { "openai-compatible": "openai", vertex: "vertex_ai" };

/**
 * Where a deployment sends requests, as LiteLLM's litellm_params say it: model "<prefix>/<upstream
 * model>" and api_base (the provider's base_url, never for the mock). Never a credential.
 */
function whereOf(x: DeploymentConfig, core: GatewayCore): { prefix: string; model: string; api_base?: string } {
  const p = core.registry.config.providers.find((q) => q.name === x.provider);
  const prefix = p ? (PREFIX_OF[p.type] ?? p.type) : x.provider;
  return { prefix, model: `${prefix}/${x.model}`, ...(p && p.type !== "mock" ? { api_base: p.baseUrl } : {}) };
}

/** A deployment in /model/info's shape: never a credential, only where it sends requests. */
function modelInfoOf(x: DeploymentConfig, runtime: boolean, core: GatewayCore) {
  const { prefix, model, api_base } = whereOf(x, core);
  const perToken = (microPerMillion: number) => microPerMillion / 1e12;
  return {
    model_name: x.id,
    litellm_params: {
      model,
      ...(api_base !== undefined ? { api_base } : {}),
      ...(x.limits?.requestsPerMinute ? { rpm: x.limits.requestsPerMinute } : {}),
      ...(x.limits?.tokensPerMinute ? { tpm: x.limits.tokensPerMinute } : {}),
      ...(x.budget ? { max_budget: x.budget.limitUsd, budget_duration: DURATION_OF[x.budget.period] } : {}),
    },
    model_info: {
      id: x.id,
      db_model: runtime,
      mode: MODE_OF[x.operations[0] ?? "chat"],
      input_cost_per_token: perToken(x.pricing.input),
      output_cost_per_token: perToken(x.pricing.output),
      max_tokens: x.maxOutputTokens,
      max_input_tokens: x.contextWindow,
      max_output_tokens: x.maxOutputTokens,
      litellm_provider: prefix,
      supports_vision: x.capabilities.includes("vision"),
      supports_function_calling: x.capabilities.includes("tools"),
    },
    signalbox: { provider: x.provider, operations: x.operations },
  };
}

/** Where a config-entry field an error names came from in LiteLLM's request. */
const PROVIDER_PARAM: Record<string, string> = { name: "model_name", type: "litellm_params.model", base_url: "litellm_params.api_base", api_key: "litellm_params.api_key", api_version: "litellm_params.api_version" };
const DEPLOYMENT_PARAM: Record<string, string> = { name: "model_name", id: "model_name", provider: "litellm_params.model", model: "litellm_params.model", pricing: "model_info.input_cost_per_token", context_window: "model_info.max_input_tokens", max_output_tokens: "model_info.max_tokens", operations: "model_info.mode", limits: "litellm_params.rpm", budget: "litellm_params.max_budget", base_model: "model_info.base_model" };

/** A config-entry refusal, naming the field of LiteLLM's request it came from. */
async function asLiteLLM<T>(run: () => Promise<T>, params: Record<string, string>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const field = err instanceof GatewayError && err.code === "invalid_argument" ? err.details.field : undefined;
    const mapped = field !== undefined ? params[field.replace(/^spec\./, "").split(/[.[]/)[0]] : undefined;
    if (!mapped) throw err;
    throw bad(mapped, (err as Error).message.replace(/^[^:]*: /, ""));
  }
}

/**
 * /model/new: LiteLLM's deployment as run-time entries (AdminService.PutConfigEntry): a deployment
 * named model_name on the provider its prefix names, or, given api_key or api_base, on a provider
 * made for it (`litellm-<model_name>`, its credentials sealed as PutConfigEntry seals them).
 */
async function newModel(b: Record<string, unknown>, a: Actor, core: GatewayCore) {
  const cp = core.control;
  const obj = (v: unknown, field: string, required: boolean): Record<string, unknown> => {
    if (v === undefined || v === null) {
      if (required) throw bad(field, 'required: {"model": "provider/model", "api_key": …, "api_base": …}');
      return {};
    }
    if (typeof v !== "object" || Array.isArray(v)) throw bad(field, "must be an object");
    return v as Record<string, unknown>;
  };
  const lp = obj(b.litellm_params, "litellm_params", true);
  const info = obj(b.model_info, "model_info", false);
  const text = (v: unknown, field: string) => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" || !v) throw bad(field, "must be a non-empty string");
    return v;
  };
  const count = (v: unknown, field: string, int: boolean) => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !(v >= 0) || (int && (!Number.isInteger(v) || v === 0))) throw bad(field, int ? "must be a whole number above 0" : "must be a number of USD, 0 or more");
    return v;
  };
  const name = text(b.model_name, "model_name");
  if (!name) throw bad("model_name", "required: the name callers give as model");
  const model = text(lp.model, "litellm_params.model") ?? "";
  const slash = model.indexOf("/");
  if (slash <= 0 || slash === model.length - 1) throw bad("litellm_params.model", 'required: "provider/model", as openai/gpt-4o');
  const prefix = model.slice(0, slash);
  const upstream = model.slice(slash + 1);
  if (info.id !== undefined && info.id !== name) throw bad("model_info.id", `a model's id here is its model_name ("${name}"): leave id out`);
  const apiKey = text(lp.api_key, "litellm_params.api_key");
  const apiBase = text(lp.api_base, "litellm_params.api_base");
  const apiVersion = text(lp.api_version, "litellm_params.api_version");
  const inCost = count(lp.input_cost_per_token ?? info.input_cost_per_token, "model_info.input_cost_per_token", false);
  const outCost = count(lp.output_cost_per_token ?? info.output_cost_per_token, "model_info.output_cost_per_token", false);
  const maxOut = count(info.max_output_tokens ?? info.max_tokens ?? lp.max_output_tokens ?? lp.max_tokens, "model_info.max_tokens", true);
  const maxIn = count(info.max_input_tokens ?? lp.max_input_tokens, "model_info.max_input_tokens", true);
  const rpm = count(lp.rpm, "litellm_params.rpm", true);
  const tpm = count(lp.tpm, "litellm_params.tpm", true);
  // LiteLLM's model budget (max_budget and budget_duration in litellm_params): the deployment's spending cap.
  const cap = modelBudgetOf(lp);
  const mode = text(info.mode, "model_info.mode");
  if (mode !== undefined && !OPERATION_OF[mode]) throw bad("model_info.mode", `must be one of ${Object.keys(OPERATION_OF).join(", ")}`);
  if (core.registry.config.deployments.some((x) => x.id === name)) {
    throw new GatewayError("already_exists", `model_name: "${name}" already names a deployment. LiteLLM load-balances deployments that share a model_name; here each has its own name and a route spreads requests over them (PutConfigEntry, kind route)`, { field: "model_name" });
  }

  let provider = prefix;
  let made = false;
  if (apiKey !== undefined || apiBase !== undefined || apiVersion !== undefined) {
    const type = PROVIDER_TYPE_OF[prefix] ?? (OPENAI_LIKE.has(prefix) ? "openai-compatible" : undefined);
    if (!type) throw bad("litellm_params.model", `"${prefix}/…" with credentials does not map to a provider here (openai, azure, anthropic, gemini, openrouter, cohere and OpenAI-compatible servers such as hosted_vllm, ollama or groq do): make the provider with PutConfigEntry, then name it here as "<provider>/${upstream}" without credentials`);
    // An OpenAI-compatible vendor's address when none is given, and its quirks, as `signalbox config import` maps them.
    const known = type === "openai-compatible" ? OPENAI_LIKE_DEFAULTS[prefix] : undefined;
    const base = apiBase ?? known?.base;
    if (type === "openai-compatible" && !base) throw bad("litellm_params.api_base", `required for "${prefix}/…": the gateway knows no default address for it`);
    provider = providerFor(name);
    made = !cp.entries.list("provider").some((e) => e.name === provider);
    const spec = { type, ...(base ? { base_url: base } : {}), ...(apiKey ? { api_key: apiKey } : {}), ...(apiVersion ? { api_version: apiVersion } : {}), ...(known?.vendor ? { compat: { vendor: known.vendor } } : {}) };
    await asLiteLLM(() => cp.putConfigEntry(a, { kind: "provider", name: provider, spec, validateOnly: false }), PROVIDER_PARAM);
  } else if (!core.registry.config.providers.some((p) => p.name === prefix)) {
    const names = core.registry.config.providers.map((p) => p.name).join(", ");
    throw bad("litellm_params.model", `no provider "${prefix}" here (there are ${names}): name one of them, or give litellm_params.api_key (and api_base) to make one`);
  }
  // USD per token to USD per million, without float dust (0.0000025 → 2.5).
  const perMillion = (usd: number) => Math.round(usd * 1e12) / 1e6;
  const spec = {
    provider,
    model: upstream,
    ...(inCost !== undefined || outCost !== undefined ? { pricing: { ...(inCost !== undefined ? { input: perMillion(inCost) } : {}), ...(outCost !== undefined ? { output: perMillion(outCost) } : {}) } } : {}),
    ...(maxIn ? { context_window: maxIn } : {}),
    ...(maxOut ? { max_output_tokens: maxOut } : {}),
    ...(mode ? { operations: [OPERATION_OF[mode]] } : {}),
    ...(rpm || tpm ? { limits: { ...(rpm ? { requests_per_minute: rpm } : {}), ...(tpm ? { tokens_per_minute: tpm } : {}) } } : {}),
    ...(cap ? { budget: cap } : {}),
    ...(typeof info.base_model === "string" ? { base_model: info.base_model } : {}),
  };
  let changes: string[];
  try {
    ({ changes } = await asLiteLLM(() => cp.putConfigEntry(a, { kind: "deployment", name, spec, validateOnly: false }), DEPLOYMENT_PARAM));
  } catch (err) {
    // The provider made for it would be left with nothing on it.
    if (made) await cp.deleteConfigEntry(a, "provider", provider).catch(() => undefined);
    throw err;
  }
  const x = core.registry.config.deployments.find((y) => y.id === name);
  const ignored = [...ignoredOf(b, MODEL_FIELDS), ...ignoredOf(lp, PARAM_FIELDS).map((f) => `litellm_params.${f}`), ...ignoredOf(info, INFO_FIELDS).map((f) => `model_info.${f}`)];
  return { model_id: name, ...(x ? modelInfoOf(x, true, core) : { model_name: name }), signalbox: { provider, changes, ignored } };
}

/**
 * The deployments GET /health checks: every listed one this key may name; with model_id, that
 * deployment (LiteLLM's model_info.id is the deployment id here); with model, what a request for
 * that name reaches (a route's targets, an alias's target, a deployment, a model a wildcard makes),
 * else, as LiteLLM's health check also matches it, the deployments whose litellm_params.model
 * ("openai/gpt-4o") it is. A name that reaches nothing is a 404 naming the parameter.
 */
function healthTargets(d: LiteLLMDeps, model: string | undefined, modelId: string | undefined): DeploymentConfig[] {
  const core = d.core;
  const cfg = core.registry.config;
  const mine = (x: DeploymentConfig) => allowListAllows(d.caller.allow, x.id);
  if (modelId) {
    let x: DeploymentConfig | undefined;
    try {
      x = core.registry.deployment(modelId);
    } catch {
      // a wildcard that cannot make this model: no deployment
    }
    if (!x || !mine(x)) throw new GatewayError("not_found", `model_id: no deployment "${modelId}" that this key may name (model_info.id, as /model/info lists them)`, { field: "model_id" });
    return [x];
  }
  if (!model) return cfg.deployments.filter(mine);
  let found = deploymentsBehind(cfg, cfg.aliases[model] ?? model);
  if (!found.length) found = cfg.deployments.filter((x) => whereOf(x, core).model === model);
  if (!found.length) {
    const r = core.registry.resolve(model);
    if (r?.kind === "deployment") found = [r.deployment];
  }
  if (!allowListAllows(d.caller.allow, model)) found = found.filter(mine);
  if (!found.length) throw new GatewayError("not_found", `model: no model "${model}" that this key may name: give a route, alias or deployment (model_name), or a deployment's litellm_params.model, as /model/info lists them`, { field: "model" });
  return found;
}

/**
 * GET /health, LiteLLM's model health check: {healthy_endpoints, unhealthy_endpoints,
 * healthy_count, unhealthy_count}, each endpoint {model, model_id, api_base} and, when unhealthy,
 * error. Without health_checks, each deployment is sent a minimal real request now (core.checks:
 * billed to the caller and recorded with tag health-check); with health_checks, the background
 * checks' latest results are answered (from any replica), as LiteLLM answers its
 * background_health_checks' results rather than calling each model again; only when none of the
 * deployments asked about has a result yet are they checked now. As LiteLLM's, a request about
 * one model (?model= or ?model_id=) of which nothing is healthy is a 503, the body unchanged.
 *
 * `model` is LiteLLM's litellm_params.model, "<provider prefix>/<upstream model>" (what LiteLLM's
 * health check copies from the deployment, and what /model/info says here), not the deployment
 * id: LiteLLM clients (its admin UI, `litellm --health`, scripts) read and match it as that, and
 * `model_id` (LiteLLM's model_info.id, the deployment id here, which newer LiteLLM answers carry
 * too) names the deployment itself, since two deployments may share an upstream model. api_base is
 * the provider's base_url (never for the mock); credentials never appear.
 *
 * Deployments that no check covers (those serving only images, speech, transcription or realtime:
 * each check would be billed per unit) are in neither list: `signalbox.checks` says why. That
 * extension lists every outcome with its status, latency, request and trace ids and cost.
 */
async function modelHealth(d: LiteLLMDeps): Promise<{ status: number; body: unknown }> {
  const core = d.core;
  const checker = core.checks;
  if (!checker) throw new GatewayError("unavailable", "deployment checks are not available yet: try again in a moment");
  const model = d.query.get("model") || undefined;
  const modelId = d.query.get("model_id") || undefined;
  const targets = healthTargets(d, model, modelId);
  const byId = new Map(targets.map((x) => [x.id, x]));
  const hc = core.config.healthChecks;
  let source: "background" | "checked" = "checked";
  let outcomes: CheckOutcome[] = [];
  let notChecked: string[] = [];
  if (hc) {
    const last = await core.exec.health.lastChecks();
    const stored = targets.flatMap((x) => last.get(x.id) ?? []);
    if (stored.length) {
      source = "background";
      outcomes = stored;
      notChecked = targets.filter((x) => !last.has(x.id)).map((x) => x.id);
    }
  }
  // Never an empty list to check: that would check every deployment.
  if (source === "checked" && targets.length) outcomes = await checker.check([...byId.keys()], d.caller, hc?.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, d.ri);
  const endpoint = (o: CheckOutcome) => {
    const x = byId.get(o.deployment);
    const where = x ? whereOf(x, core) : undefined;
    return {
      model: where?.model ?? o.deployment,
      model_id: o.deployment,
      ...(where?.api_base !== undefined ? { api_base: where.api_base } : {}),
      ...(o.healthy ? {} : { error: o.error || o.status }),
    };
  };
  const healthy = outcomes.filter((o) => o.healthy).map(endpoint);
  const unhealthy = outcomes.filter((o) => !o.healthy && !o.skipped).map(endpoint);
  const body = {
    healthy_endpoints: healthy,
    unhealthy_endpoints: unhealthy,
    healthy_count: healthy.length,
    unhealthy_count: unhealthy.length,
    signalbox: {
      source,
      checks: outcomes.map((o) => ({
        deployment: o.deployment,
        provider: o.provider,
        operation: o.operation,
        healthy: o.healthy,
        status: o.skipped ? "skipped" : o.healthy ? "ok" : o.status,
        ...(o.error ? { error: o.error } : {}),
        ...(o.skipped ? { skipped: o.skipped } : {}),
        latency_ms: o.latencyMs,
        request_id: o.requestId,
        trace_id: o.traceId,
        cost_usd: o.costNanos / 1e9,
        checked_at: new Date(o.time).toISOString(),
      })),
      ...(notChecked.length ? { not_checked: notChecked } : {}),
    },
  };
  return { status: (model || modelId) && !healthy.length && unhealthy.length ? 503 : 200, body };
}

/** An error as LiteLLM's proxy gives one: OpenAI's shape with the HTTP status as the code. */
export function toLiteLLMError(err: unknown) {
  const e = toOpenAIError(err);
  return { ...e, body: { error: { ...e.body.error, code: String(e.status) } } };
}

