// AdminService: translates the Protobuf API to control-plane calls and back. Every rule (roles,
// validation, audit) lives in src/control/control-plane.ts; this file only maps shapes and fields.

import type { SpendReportConfig, UsageExportConfig } from "../config/types.ts";
import { hostname } from "node:os";
import { destinationOf, type UsageExportStats } from "../usage/export.ts";
import type { SpendReport } from "../alerts/alerts.ts";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { type FieldMask, type Timestamp, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type AdminService,
  type ApiKey,
  ApiKeySchema,
  type AuditEvent as PbAuditEvent,
  AuditEventSchema,
  type Budget,
  type ConfigEntry as PbConfigEntry,
  ConfigEntryKind,
  ConfigEntrySchema,
  type EndUser as PbEndUser,
  EndUserSchema,
  KeyRole,
  type RateLimits as PbRateLimits,
  Source,
  type Team,
  TeamSchema,
  UsageExportInfoSchema,
} from "../../gen/signalbox/v1/admin_pb.ts";
import { BudgetPeriod } from "../../gen/signalbox/v1/usage_pb.ts";
import type { AlertTestResult } from "../alerts/alerts.ts";
import type { AlertConfig, BudgetConfig, KeyRole as DomainRole, RateLimits } from "../config/types.ts";
import type { Actor, ControlPlane, EndUserPatch, KeyPatch, TeamPatch } from "../control/control-plane.ts";
import type { AuditEvent, ManagedEndUser, ManagedKey, ManagedTeam } from "../control/types.ts";
import type { EntryView } from "../control/entries.ts";
import { checkImported, type EntryKind } from "../config/load.ts";
import { IMPORT_FORMATS, importConfig, importedYaml, type ImportFormat, type ImportResult } from "../config/import/index.ts";
import { parse as parseYaml } from "yaml";
import { GatewayError } from "../router/errors.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey, type RequestInfo } from "./context.ts";
import { toConnectError } from "./errors.ts";
import { checkToPb } from "./convert.ts";
import { DEFAULT_CHECK_TIMEOUT_MS, MAX_CHECK_TIMEOUT_MS } from "../engine/checks.ts";
import type { CheckOutcome } from "../state/health.ts";
import type { Caller } from "../router/types.ts";

const ROLE_TO_PB: Record<DomainRole, KeyRole> = { admin: KeyRole.ADMIN, team: KeyRole.TEAM, service: KeyRole.SERVICE };
const ROLE_FROM_PB: Record<number, DomainRole | undefined> = { [KeyRole.ADMIN]: "admin", [KeyRole.TEAM]: "team", [KeyRole.SERVICE]: "service" };
const PERIOD_TO_PB = { day: BudgetPeriod.DAY, week: BudgetPeriod.WEEK, month: BudgetPeriod.MONTH, lifetime: BudgetPeriod.LIFETIME } as const;
const PERIOD_FROM_PB: Record<number, BudgetConfig["period"] | undefined> = { [BudgetPeriod.DAY]: "day", [BudgetPeriod.WEEK]: "week", [BudgetPeriod.MONTH]: "month", [BudgetPeriod.LIFETIME]: "lifetime" };

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });
const ts = (ms: number | undefined): Timestamp | undefined => (ms === undefined ? undefined : timestampFromMs(ms));

function pageSize(n: number, field = "page_size"): number {
  if (n > MAX_PAGE) throw bad(field, `at most ${MAX_PAGE}`);
  return n || DEFAULT_PAGE;
}

function cursor(token: string, field = "page_token"): string | undefined {
  if (!token) return undefined;
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(token)) throw bad(field, "not a token from a previous page");
  return token;
}

function limitsToPb(l: RateLimits | undefined): PbRateLimits | undefined {
  if (!l || (l.requestsPerMinute === undefined && l.tokensPerMinute === undefined)) return undefined;
  return { $typeName: "signalbox.v1.RateLimits", requestsPerMinute: l.requestsPerMinute, tokensPerMinute: l.tokensPerMinute === undefined ? undefined : BigInt(l.tokensPerMinute) };
}

function limitsFromPb(l: PbRateLimits | undefined): RateLimits {
  const out: RateLimits = {};
  if (l?.requestsPerMinute !== undefined) out.requestsPerMinute = l.requestsPerMinute;
  if (l?.tokensPerMinute !== undefined) out.tokensPerMinute = Number(l.tokensPerMinute);
  return out;
}

function budgetToPb(b: BudgetConfig | undefined): Budget | undefined {
  return b && { $typeName: "signalbox.v1.Budget", period: PERIOD_TO_PB[b.period], limitUsd: b.limitUsd, softThreshold: b.softThreshold };
}

function budgetFromPb(b: Budget | undefined, field: string): BudgetConfig | undefined {
  if (!b) return undefined;
  const period = PERIOD_FROM_PB[b.period];
  if (!period) throw bad(`${field}.period`, "required: BUDGET_PERIOD_DAY, _WEEK, _MONTH or _LIFETIME");
  return { period, limitUsd: b.limitUsd, softThreshold: b.softThreshold ?? 0.8 };
}

const KIND_TO_PB: Record<EntryKind, ConfigEntryKind> = { provider: ConfigEntryKind.PROVIDER, deployment: ConfigEntryKind.DEPLOYMENT, route: ConfigEntryKind.ROUTE, guardrail: ConfigEntryKind.GUARDRAIL, mcp_server: ConfigEntryKind.MCP_SERVER, alias: ConfigEntryKind.ALIAS, alert: ConfigEntryKind.ALERT, preset: ConfigEntryKind.PRESET };
const KIND_FROM_PB: Record<number, EntryKind | undefined> = { [ConfigEntryKind.PROVIDER]: "provider", [ConfigEntryKind.DEPLOYMENT]: "deployment", [ConfigEntryKind.ROUTE]: "route", [ConfigEntryKind.GUARDRAIL]: "guardrail", [ConfigEntryKind.MCP_SERVER]: "mcp_server", [ConfigEntryKind.ALIAS]: "alias", [ConfigEntryKind.ALERT]: "alert", [ConfigEntryKind.PRESET]: "preset" };

function kindFromPb(k: ConfigEntryKind, field = "kind"): EntryKind {
  const kind = KIND_FROM_PB[k];
  if (!kind) throw bad(field, "required: CONFIG_ENTRY_KIND_PROVIDER, _DEPLOYMENT, _ROUTE, _GUARDRAIL, _MCP_SERVER, _ALIAS or _ALERT");
  return kind;
}

export function entryToPb(e: EntryView): PbConfigEntry {
  return create(ConfigEntrySchema, {
    kind: KIND_TO_PB[e.kind],
    name: e.name,
    spec: e.spec as JsonObject,
    secretFields: e.secretFields,
    revision: BigInt(e.revision),
    createTime: ts(e.createdAt),
    updateTime: ts(e.updatedAt),
    createdBy: e.createdBy,
    updatedBy: e.updatedBy,
    problem: e.problem,
    sealedWith: e.sealedWith,
  });
}

function timeFromPb(t: Timestamp | undefined): number | undefined {
  return t ? timestampDate(t).getTime() : undefined;
}

export function keyToPb(k: ManagedKey): ApiKey {
  return create(ApiKeySchema, {
    name: k.name,
    team: k.team,
    role: ROLE_TO_PB[k.role],
    prefix: k.prefix,
    allow: k.allow,
    limits: limitsToPb(k.limits),
    perUserLimits: limitsToPb(k.perUserLimits),
    budget: budgetToPb(k.budget),
    perUserBudget: budgetToPb(k.perUserBudget),
    maxOutputTokens: k.maxOutputTokens,
    expireTime: ts(k.expiresAt),
    metadata: k.metadata,
    source: k.source === "config" ? Source.CONFIG : Source.STORE,
    createTime: ts(k.createdAt),
    updateTime: ts(k.updatedAt),
    lastUsedTime: ts(k.lastUsedAt),
    revokeTime: ts(k.revokedAt),
    blockTime: ts(k.blockedAt),
    previousSecretExpireTime: ts(k.prevHashExpiresAt),
    createdBy: k.createdBy,
  });
}

export function endUserToPb(u: ManagedEndUser): PbEndUser {
  return create(EndUserSchema, {
    team: u.team,
    user: u.user,
    budget: budgetToPb(u.budget),
    limits: limitsToPb(u.limits),
    blocked: u.blockedAt !== undefined,
    blockTime: ts(u.blockedAt),
    metadata: u.metadata,
    createTime: ts(u.createdAt),
    updateTime: ts(u.updatedAt),
    createdBy: u.createdBy,
  });
}

export function teamToPb(t: ManagedTeam, keyCount: number): Team {
  return create(TeamSchema, {
    name: t.name,
    budget: budgetToPb(t.budget),
    defaultKeyLimits: limitsToPb(t.defaultKeyLimits),
    metadata: t.metadata,
    source: t.source === "config" ? Source.CONFIG : Source.STORE,
    createTime: ts(t.createdAt),
    updateTime: ts(t.updatedAt),
    keyCount,
  });
}

function auditToPb(e: AuditEvent): PbAuditEvent {
  return create(AuditEventSchema, {
    id: e.id,
    time: timestampFromMs(e.time),
    actor: e.actor,
    action: e.action,
    target: e.target,
    before: e.before as JsonObject | undefined,
    after: e.after as JsonObject | undefined,
    replica: e.replica,
    traceId: e.traceId,
  });
}

/** Field-mask paths, snake_case (JSON clients may send camelCase). */
function maskPaths(mask: FieldMask | undefined, allowed: readonly string[], field: string): Set<string> {
  if (!mask || mask.paths.length === 0) throw bad(field, `required: name the fields to change among ${allowed.join(", ")}`);
  const out = new Set<string>();
  for (const p of mask.paths) {
    const snake = p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!allowed.includes(snake)) throw bad(field, `cannot change "${p}": allowed are ${allowed.join(", ")}`);
    out.add(snake);
  }
  return out;
}

const KEY_PATHS = ["allow", "limits", "per_user_limits", "budget", "per_user_budget", "max_output_tokens", "expire_time", "metadata", "role"] as const;
const TEAM_PATHS = ["budget", "default_key_limits", "metadata"] as const;
const END_USER_PATHS = ["budget", "limits", "blocked", "metadata"] as const;

function endUserPatch(u: PbEndUser, paths: Set<string>): EndUserPatch {
  const p: EndUserPatch = {};
  if (paths.has("budget")) p.budget = budgetFromPb(u.budget, "end_user.budget");
  if (paths.has("limits")) p.limits = u.limits ? limitsFromPb(u.limits) : undefined;
  if (paths.has("blocked")) p.blocked = u.blocked;
  if (paths.has("metadata")) p.metadata = u.metadata;
  return p;
}

function keyPatch(k: ApiKey, paths: Set<string>): KeyPatch {
  const p: KeyPatch = {};
  if (paths.has("allow")) p.allow = k.allow;
  if (paths.has("limits")) p.limits = limitsFromPb(k.limits);
  if (paths.has("per_user_limits")) p.perUserLimits = k.perUserLimits ? limitsFromPb(k.perUserLimits) : undefined;
  if (paths.has("budget")) p.budget = budgetFromPb(k.budget, "key.budget");
  if (paths.has("per_user_budget")) p.perUserBudget = budgetFromPb(k.perUserBudget, "key.per_user_budget");
  if (paths.has("max_output_tokens")) p.maxOutputTokens = k.maxOutputTokens;
  if (paths.has("expire_time")) p.expiresAt = timeFromPb(k.expireTime);
  if (paths.has("metadata")) p.metadata = k.metadata;
  if (paths.has("role")) {
    const role = ROLE_FROM_PB[k.role];
    if (!role) throw bad("key.role", "required: KEY_ROLE_ADMIN, _TEAM or _SERVICE");
    p.role = role;
  }
  return p;
}

export interface AdminDeps {
  authEnabled: () => boolean;
  reload: (actor: string) => Promise<{ version: string; previousVersion: string; changes: string[] }>;
  /** The alert sinks in force (a reload changes them). */
  alerts: () => readonly AlertConfig[];
  /** Send a test event to one sink (Alerter.test). */
  testAlert: (sink: AlertConfig, by: string) => Promise<AlertTestResult>;
  /** The spend reports in force, and one sent now (src/alerts/spend-reports.ts). */
  spendReports?: () => readonly SpendReportConfig[];
  sendSpendReport?: (name: string) => Promise<SpendReport & { error?: string }>;
  /** The usage exports in force and this replica's state of each (src/usage/export.ts); one flushed now (all when no name). */
  usageExports?: () => { configs: readonly UsageExportConfig[]; stats: readonly UsageExportStats[] };
  flushUsageExports?: (name?: string) => Promise<void>;
  /** Active checks of deployments (src/engine/checks.ts); `ri` is the asking request's. */
  checkDeployments: (ids: string[], caller: Caller, timeoutMs: number, ri: RequestInfo | undefined) => Promise<CheckOutcome[]>;
}

/** Each export in force with this replica's state of it (zeros before its first record). */
function usageExportInfos(x: { configs: readonly UsageExportConfig[]; stats: readonly UsageExportStats[] } | undefined) {
  const replica = `${hostname()}:${process.pid}`;
  return (x?.configs ?? []).map((c) => {
    const st = x!.stats.find((s) => s.name === c.name);
    return create(UsageExportInfoSchema, {
      name: c.name,
      type: c.type,
      destination: destinationOf(c),
      flushSeconds: Math.round(c.flushMs / 1000),
      maxRecords: c.maxRecords,
      bufferedRecords: BigInt(st?.buffered ?? 0),
      spooledRecords: BigInt(st?.spooled ?? 0),
      exportedRecords: BigInt(st?.exported ?? 0),
      objects: BigInt(st?.objects ?? 0),
      droppedRecords: BigInt(st?.dropped ?? 0),
      error: st?.failing ?? "",
      ...(st?.failingSince !== undefined ? { failingSince: timestampFromMs(st.failingSince) } : {}),
      ...(st?.lastExportAt !== undefined ? { lastExportTime: timestampFromMs(st.lastExportAt) } : {}),
      replica,
      spool: !!c.spoolDir,
      captureContent: c.captureContent === true,
      when: Object.entries(c.when ?? {})
        .map(([f, v]) => (v.length === 1 ? `${f}=${v[0]}` : `${f} in [${v.join(", ")}]`))
        .join(", "),
    });
  });
}

export function adminService(cp: ControlPlane, deps: AdminDeps): ServiceImpl<typeof AdminService> {
  const actor = (ctx: HandlerContext): Actor => ({
    caller: ctx.values.get(callerKey),
    authEnabled: deps.authEnabled(),
    traceId: ctx.values.get(requestInfoKey)?.traceId ?? "",
  });
  /** Run one handler: errors become Connect errors in the one place that decides codes. */
  const run = async <T>(ctx: HandlerContext, fn: (a: Actor) => T | Promise<T>): Promise<T> => {
    const a = actor(ctx);
    try {
      return await fn(a);
    } catch (err) {
      throw toConnectError(err, ctx.signal, a.traceId);
    }
  };
  const need = (v: string, field: string) => {
    if (!v) throw bad(field, "required");
    return v;
  };

  return {
    createKey: (req, ctx) =>
      run(ctx, async (a) => {
        const k = req.key;
        if (!k) throw bad("key", "required");
        const role = ROLE_FROM_PB[k.role];
        if (!role) throw bad("key.role", "required: KEY_ROLE_ADMIN, _TEAM or _SERVICE");
        const out = await cp.createKey(a, {
          name: need(k.name, "key.name"),
          team: need(k.team, "key.team"),
          role,
          allow: k.allow,
          limits: limitsFromPb(k.limits),
          perUserLimits: k.perUserLimits ? limitsFromPb(k.perUserLimits) : undefined,
          budget: budgetFromPb(k.budget, "key.budget"),
          perUserBudget: budgetFromPb(k.perUserBudget, "key.per_user_budget"),
          maxOutputTokens: k.maxOutputTokens,
          expiresAt: timeFromPb(k.expireTime),
          metadata: k.metadata,
        });
        return { key: keyToPb(out.key), secret: out.secret };
      }),
    listKeys: (req, ctx) =>
      run(ctx, (a) => {
        const p = cp.listKeys(a, { team: req.team || undefined, limit: pageSize(req.pageSize), cursor: cursor(req.pageToken), includeRevoked: req.includeRevoked });
        return { keys: p.items.map(keyToPb), nextPageToken: p.next ?? "" };
      }),
    getKey: (req, ctx) => run(ctx, (a) => ({ key: keyToPb(cp.getKey(a, need(req.name, "name"))) })),
    updateKey: (req, ctx) =>
      run(ctx, async (a) => {
        if (!req.key) throw bad("key", "required");
        const paths = maskPaths(req.updateMask, KEY_PATHS, "update_mask");
        return { key: keyToPb(await cp.updateKey(a, need(req.key.name, "key.name"), keyPatch(req.key, paths))) };
      }),
    revokeKey: (req, ctx) => run(ctx, async (a) => ({ key: keyToPb(await cp.revokeKey(a, need(req.name, "name"))) })),
    blockKey: (req, ctx) => run(ctx, async (a) => ({ key: keyToPb(await cp.blockKey(a, need(req.name, "name"))) })),
    unblockKey: (req, ctx) => run(ctx, async (a) => ({ key: keyToPb(await cp.unblockKey(a, need(req.name, "name"))) })),
    rotateKey: (req, ctx) =>
      run(ctx, async (a) => {
        const out = await cp.rotateKey(a, need(req.name, "name"), req.graceSeconds);
        return { key: keyToPb(out.key), secret: out.secret };
      }),
    createTeam: (req, ctx) =>
      run(ctx, async (a) => {
        const t = req.team;
        if (!t) throw bad("team", "required");
        const team = await cp.createTeam(a, {
          name: need(t.name, "team.name"),
          budget: budgetFromPb(t.budget, "team.budget"),
          defaultKeyLimits: t.defaultKeyLimits ? limitsFromPb(t.defaultKeyLimits) : undefined,
          metadata: t.metadata,
        });
        return { team: teamToPb(team, 0) };
      }),
    updateTeam: (req, ctx) =>
      run(ctx, async (a) => {
        const t = req.team;
        if (!t) throw bad("team", "required");
        const paths = maskPaths(req.updateMask, TEAM_PATHS, "update_mask");
        const patch: TeamPatch = {};
        if (paths.has("budget")) patch.budget = budgetFromPb(t.budget, "team.budget");
        if (paths.has("default_key_limits")) patch.defaultKeyLimits = t.defaultKeyLimits ? limitsFromPb(t.defaultKeyLimits) : undefined;
        if (paths.has("metadata")) patch.metadata = t.metadata;
        const team = await cp.updateTeam(a, need(t.name, "team.name"), patch);
        return { team: teamToPb(team, cp.keyCount(team.name)) };
      }),
    listTeams: (req, ctx) =>
      run(ctx, (a) => {
        const p = cp.listTeams(a, { limit: pageSize(req.pageSize), cursor: cursor(req.pageToken) });
        return { teams: p.items.map((t) => teamToPb(t, cp.keyCount(t.name))), nextPageToken: p.next ?? "" };
      }),
    deleteTeam: (req, ctx) =>
      run(ctx, async (a) => {
        await cp.deleteTeam(a, need(req.name, "name"));
        return {};
      }),
    createEndUser: (req, ctx) =>
      run(ctx, async (a) => {
        const u = req.endUser;
        if (!u) throw bad("end_user", "required");
        const made = await cp.createEndUser(a, {
          team: u.team || a.caller.team,
          user: u.user,
          budget: budgetFromPb(u.budget, "end_user.budget"),
          limits: u.limits ? limitsFromPb(u.limits) : undefined,
          blocked: u.blocked,
          metadata: u.metadata,
        });
        return { endUser: endUserToPb(made) };
      }),
    getEndUser: (req, ctx) => run(ctx, (a) => ({ endUser: endUserToPb(cp.getEndUser(a, req.team || a.caller.team, need(req.user, "user"))) })),
    listEndUsers: (req, ctx) =>
      run(ctx, (a) => {
        const p = cp.listEndUsers(a, { team: req.team || undefined, limit: pageSize(req.pageSize), cursor: cursor(req.pageToken) });
        return { endUsers: p.items.map(endUserToPb), nextPageToken: p.next ?? "" };
      }),
    updateEndUser: (req, ctx) =>
      run(ctx, async (a) => {
        const u = req.endUser;
        if (!u) throw bad("end_user", "required");
        const paths = maskPaths(req.updateMask, END_USER_PATHS, "update_mask");
        return { endUser: endUserToPb(await cp.updateEndUser(a, u.team || a.caller.team, need(u.user, "end_user.user"), endUserPatch(u, paths))) };
      }),
    deleteEndUser: (req, ctx) => run(ctx, async (a) => ({ endUser: endUserToPb(await cp.deleteEndUser(a, req.team || a.caller.team, need(req.user, "user"))) })),
    reloadConfig: (_req, ctx) =>
      run(ctx, async (a) => {
        cp.requireAdmin(a, "reloading the config");
        const r = await deps.reload(a.caller.keyName);
        return { configVersion: r.version, previousVersion: r.previousVersion, changes: r.changes };
      }),
    listAlerts: (_req, ctx) =>
      run(ctx, (a) => {
        cp.requireAdmin(a, "listing alerts");
        return {
          alerts: deps.alerts().map((x) => ({ name: x.name, format: x.format, events: [...x.events], timeoutMs: x.timeoutMs })),
          spendReports: (deps.spendReports?.() ?? []).map((r) => ({ name: r.name, period: r.period, alert: r.alert, groupBy: r.groupBy, top: r.top })),
        };
      }),
    testAlert: (req, ctx) =>
      run(ctx, async (a) => {
        cp.requireAdmin(a, "sending a test alert");
        const name = need(req.name, "name");
        const sink = deps.alerts().find((x) => x.name === name);
        if (!sink) throw new GatewayError("not_found", `name: no alert named "${name}" (alerts in force: ${deps.alerts().map((x) => x.name).join(", ") || "none"})`, { field: "name" });
        const r = await deps.testAlert(sink, a.caller.keyName);
        await cp.audit(a, "alert.test", name, undefined, { delivered: r.delivered, ...(r.error ? { error: r.error } : {}) });
        return { delivered: r.delivered, error: r.error ?? "", latencyMs: r.latencyMs };
      }),
    sendSpendReport: (req, ctx) =>
      run(ctx, async (a) => {
        cp.requireAdmin(a, "sending a spend report");
        const name = need(req.name, "name");
        if (!deps.sendSpendReport) throw new GatewayError("failed_precondition", "spend reports are not available here");
        const r = await deps.sendSpendReport(name);
        await cp.audit(a, "spend_report.send", name, undefined, { delivered: r.error === undefined, period_start: new Date(r.periodStart).toISOString(), ...(r.error ? { error: r.error } : {}) });
        return { delivered: r.error === undefined, error: r.error ?? "", periodStart: timestampFromMs(r.periodStart), periodEnd: timestampFromMs(r.periodEnd), requests: BigInt(r.total.requests), costNanoUsd: BigInt(r.total.costNanos) };
      }),
    listUsageExports: (_req, ctx) =>
      run(ctx, (a) => {
        cp.requireAdmin(a, "listing usage exports");
        return { exports: usageExportInfos(deps.usageExports?.()) };
      }),
    flushUsageExports: (req, ctx) =>
      run(ctx, async (a) => {
        cp.requireAdmin(a, "flushing usage exports");
        const known = deps.usageExports?.().configs ?? [];
        if (req.name && !known.some((c) => c.name === req.name)) throw new GatewayError("not_found", `name: no usage export named "${req.name}" (usage exports in force: ${known.map((c) => c.name).join(", ") || "none"})`, { field: "name" });
        await deps.flushUsageExports?.(req.name || undefined);
        const exports = usageExportInfos(deps.usageExports?.()).filter((e) => !req.name || e.name === req.name);
        await cp.audit(a, "usage_export.flush", req.name || "*", undefined, { exports: exports.map((e) => e.name).join(","), waiting: exports.reduce((n, e) => n + Number(e.bufferedRecords + e.spooledRecords), 0), ...(exports.some((e) => e.error) ? { error: exports.find((e) => e.error)!.error } : {}) });
        return { exports };
      }),
    checkDeployments: (req, ctx) =>
      run(ctx, async (a) => {
        cp.requireAdmin(a, "checking deployments");
        const timeoutMs = req.timeoutMs || DEFAULT_CHECK_TIMEOUT_MS;
        if (timeoutMs > MAX_CHECK_TIMEOUT_MS) throw bad("timeout_ms", `at most ${MAX_CHECK_TIMEOUT_MS}`);
        req.deployments.forEach((d, i) => need(d, `deployments[${i}]`));
        const results = await deps.checkDeployments(req.deployments, a.caller, timeoutMs, ctx.values.get(requestInfoKey));
        return { checks: results.map(checkToPb) };
      }),
    getCaller: (_req, ctx) =>
      run(ctx, (a) => ({
        key: a.caller.keyName,
        team: a.caller.team,
        role: a.caller.role === "anonymous" ? KeyRole.UNSPECIFIED : ROLE_TO_PB[a.caller.role],
        authEnabled: a.authEnabled,
      })),
    putConfigEntry: (req, ctx) =>
      run(ctx, async (a) => {
        const kind = kindFromPb(req.kind);
        const name = need(req.name, "name");
        if (!req.spec) throw bad("spec", `required: the ${kind}'s fields, as in the config file`);
        const r = await cp.putConfigEntry(a, {
          kind,
          name,
          spec: req.spec as Record<string, unknown>,
          expectedRevision: req.expectedRevision === undefined ? undefined : Number(req.expectedRevision),
          validateOnly: req.validateOnly,
        });
        return { entry: entryToPb(r.entry), configVersion: r.version, changes: r.changes };
      }),
    listConfigEntries: (req, ctx) => run(ctx, (a) => ({ entries: cp.listConfigEntries(a, req.kind === ConfigEntryKind.UNSPECIFIED ? undefined : kindFromPb(req.kind)).map(entryToPb) })),
    deleteConfigEntry: (req, ctx) =>
      run(ctx, async (a) => {
        const r = await cp.deleteConfigEntry(a, kindFromPb(req.kind), need(req.name, "name"), req.expectedRevision === undefined ? undefined : Number(req.expectedRevision));
        return { configVersion: r.version, changes: r.changes };
      }),
    getConfigEntry: (req, ctx) => run(ctx, (a) => ({ entry: entryToPb(cp.getConfigEntry(a, kindFromPb(req.kind), need(req.name, "name"))) })),
    importConfig: (req, ctx) =>
      run(ctx, (a) => {
        cp.requireAdmin(a, "importing a configuration");
        return importForConsole(req.text, req.format, req.fileName);
      }),
    resealConfigEntries: (req, ctx) =>
      run(ctx, async (a) => {
        const r = await cp.resealConfigEntries(a, req.validateOnly);
        return { keyId: r.keyId, resealed: r.resealed, current: r.current, failed: r.failed };
      }),
    listAuditEvents: (req, ctx) =>
      run(ctx, async (a) => {
        const start = timeFromPb(req.startTime);
        const end = timeFromPb(req.endTime);
        if (start !== undefined && end !== undefined && end <= start) throw bad("end_time", "must be after start_time");
        const p = await cp.listAudit(a, { start, end, actor: req.actor || undefined, target: req.target || undefined, limit: pageSize(req.pageSize), cursor: cursor(req.pageToken) });
        return { events: p.items.map(auditToPb), nextPageToken: p.next ?? "" };
      }),
  };
}

/** The most text ImportConfig reads: a configuration file, not a dataset. */
const MAX_IMPORT_BYTES = 1024 * 1024;

/**
 * AdminService.ImportConfig: `signalbox config import` for the console. Pure: nothing is applied,
 * stored, or read from this process's environment (a LiteLLM master key named by a variable stays
 * a TO DO); the file's literal secrets are masked in what comes back.
 */
function importForConsole(text: string, format: string, fileName: string) {
  if (!text.trim()) throw bad("text", "required: the LiteLLM config.yaml or Bifrost config.json to import");
  if (Buffer.byteLength(text) > MAX_IMPORT_BYTES) throw bad("text", `at most ${MAX_IMPORT_BYTES} bytes`);
  if (format && !(IMPORT_FORMATS as readonly string[]).includes(format)) throw bad("format", `must be ${IMPORT_FORMATS.join(" or ")} (or empty: told by the file's shape), got "${format}"`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw bad("text", `is neither YAML nor JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  let r: ImportResult;
  try {
    r = importConfig(doc, (format || undefined) as ImportFormat | undefined);
  } catch (err) {
    throw bad(format ? "text" : "format", (err as Error).message);
  }
  // Nothing of this process's environment: stand-ins for every variable.
  const problem = checkImported(r.config, {});
  // The file's literal secrets masked in every string of the config (longest first, so a secret inside another goes with it).
  const secrets = [...new Set(r.secretValues)].filter((x) => x.length >= 4).sort((x, y) => y.length - x.length);
  const mask = (v: unknown): unknown =>
    typeof v === "string" ? secrets.reduce((t, x) => t.split(x).join("********"), v) : Array.isArray(v) ? v.map(mask) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)])) : v;
  return {
    format: r.from,
    yaml: importedYaml({ ...r, config: mask(r.config) as Record<string, unknown> }, fileName || "config.yaml"),
    notes: r.notes.map((n) => ({ path: n.path, kind: n.kind, detail: n.detail })),
    env: r.env,
    literalSecrets: r.literalSecrets,
    valid: !problem,
    field: problem?.path ?? "",
    error: problem?.message ?? "",
  };
}

