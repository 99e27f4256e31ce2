// The control plane: key and team operations (validated, role-checked, audited), kept in a store
// and mirrored into every replica's in-memory directory within a second. Off the hot path.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { BudgetConfig, RateLimits } from "../config/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { log } from "../telemetry/log.ts";
import { createDirectory, type Directory, hashKey } from "./directory.ts";
import {
  type AuditEvent,
  type ControlChange,
  type ControlStore,
  endUserId,
  type FeedbackQuery,
  type FeedbackRecord,
  type FeedbackRow,
  type ManagedEndUser,
  type ManagedKey,
  type ManagedPrompt,
  type ManagedTeam,
  type PromptVersionRecord,
  StoreError,
} from "./types.ts";
import { createPromptLibrary, mayUse, type PromptLibrary, type PromptVersionView, type PromptView } from "./prompts.ts";
import type { PromptConfig } from "../config/types.ts";
import type { EntryKind } from "../config/load.ts";
import { createEntryBook, type EntryBook, type EntryInput, type EntryView, type ResealReport } from "./entries.ts";
import { createSealer } from "./sealed.ts";

/** The fields a caller may set on a key. */
export type KeyInput = Pick<ManagedKey, "name" | "team" | "role" | "allow" | "limits" | "perUserLimits" | "budget" | "perUserBudget" | "maxOutputTokens" | "expiresAt" | "metadata">;

export type KeyPatch = Partial<Omit<KeyInput, "name" | "team">>;

export type TeamInput = Pick<ManagedTeam, "name" | "budget" | "defaultKeyLimits" | "metadata">;

export type TeamPatch = Partial<Omit<TeamInput, "name">>;

/** An end user as AdminService takes it: `blocked` rather than a time. */
export type EndUserInput = Pick<ManagedEndUser, "team" | "user" | "budget" | "limits" | "metadata"> & { blocked?: boolean };

export type EndUserPatch = Partial<Omit<EndUserInput, "team" | "user">>;

/** Who acts, for role checks and the audit log. */
export interface Actor {
  caller: Caller;
  /** Whether keys are required at all (false: the open embedded default, anyone may bootstrap). */
  authEnabled: boolean;
  traceId: string;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

/** A new version of a prompt (PromptService.CreatePromptVersion). */
export interface PromptInput {
  id: string;
  /** The owning team of a new prompt; undefined: the caller's (a team key's) or shared (an admin's). */
  team?: string;
  model?: string;
  instructions?: string;
  messages: PromptVersionRecord["messages"];
  parameters?: PromptVersionRecord["parameters"];
  description: string;
  labels: string[];
}

export interface ControlPlane {
  readonly directory: Directory;
  /** Prompt templates (config file and store), in memory: what requests resolve. */
  readonly prompts: PromptLibrary;
  createPromptVersion(a: Actor, input: PromptInput): Promise<{ prompt: PromptView; version: PromptVersionView }>;
  /** The prompts the caller may use (an admin may ask for one team's). */
  listPrompts(a: Actor, team?: string): PromptView[];
  getPrompt(a: Actor, id: string): PromptView;
  /** Points a label at a version; undefined removes it. */
  setPromptLabel(a: Actor, id: string, label: string, version: string | undefined): Promise<PromptView>;
  deletePrompt(a: Actor, id: string): Promise<void>;
  readonly storeKind: "memory" | "postgres";
  readonly replica: string;
  /** Providers, deployments, routes and guardrails made at run time. */
  readonly entries: EntryBook;
  putConfigEntry(a: Actor, input: EntryInput): Promise<{ entry: EntryView; version: string; changes: string[] }>;
  listConfigEntries(a: Actor, kind?: EntryKind): EntryView[];
  deleteConfigEntry(a: Actor, kind: EntryKind, name: string, expectedRevision?: number): Promise<{ version: string; changes: string[] }>;
  getConfigEntry(a: Actor, kind: EntryKind, name: string): EntryView;
  /** Scores of answered requests (feedback.ts): who may give and read them is the caller's business. */
  putFeedback(f: FeedbackRecord): Promise<void>;
  feedbackSummary(q: FeedbackQuery): Promise<FeedbackRow[]>;
  feedbackFor(requestId: string): Promise<FeedbackRecord[]>;
  feedbackById(id: string): Promise<FeedbackRecord | undefined>;
  resealConfigEntries(a: Actor, validateOnly: boolean): Promise<ResealReport>;
  createKey(a: Actor, input: KeyInput): Promise<{ key: ManagedKey; secret: string }>;
  listKeys(a: Actor, q: { team?: string; limit: number; cursor?: string; includeRevoked: boolean }): Page<ManagedKey>;
  getKey(a: Actor, name: string): ManagedKey;
  updateKey(a: Actor, name: string, patch: KeyPatch): Promise<ManagedKey>;
  /** Refuse the key's requests until unblocked (idempotent; a revoked key cannot be). Audited as key.block. */
  blockKey(a: Actor, name: string): Promise<ManagedKey>;
  /** Take a block off (idempotent). Audited as key.unblock. */
  unblockKey(a: Actor, name: string): Promise<ManagedKey>;
  revokeKey(a: Actor, name: string): Promise<ManagedKey>;
  rotateKey(a: Actor, name: string, graceSeconds: number): Promise<{ key: ManagedKey; secret: string }>;
  createTeam(a: Actor, input: TeamInput): Promise<ManagedTeam>;
  updateTeam(a: Actor, name: string, patch: TeamPatch): Promise<ManagedTeam>;
  listTeams(a: Actor, q: { limit: number; cursor?: string }): Page<ManagedTeam>;
  deleteTeam(a: Actor, name: string): Promise<void>;
  /** A team's end users with rules of their own (admin: every team's, or `team`'s), by team then user. */
  listEndUsers(a: Actor, q: { team?: string; limit: number; cursor?: string }): Page<ManagedEndUser>;
  getEndUser(a: Actor, team: string, user: string): ManagedEndUser;
  createEndUser(a: Actor, input: EndUserInput): Promise<ManagedEndUser>;
  updateEndUser(a: Actor, team: string, user: string, patch: EndUserPatch): Promise<ManagedEndUser>;
  deleteEndUser(a: Actor, team: string, user: string): Promise<ManagedEndUser>;
  keyCount(team: string): number;
  /**
   * Sign a console session out before its expiry (POST /console/sso/logout): refused at once on
   * this replica, on the others as the change notice reaches them; audited as `session.logout`.
   */
  revokeSession(actor: string, id: string, expiresAt: number, traceId: string): Promise<void>;
  /** Whether a console session (by its id) was signed out. Memory only: the hot path asks. */
  sessionRevoked(id: string): boolean;
  /** Record a reload (or any other event the gateway makes) in the audit log; never throws. */
  audit(a: Actor | string, action: string, target: string, before?: Record<string, unknown>, after?: Record<string, unknown>): Promise<void>;
  listAudit(a: Actor, q: { start?: number; end?: number; actor?: string; target?: string; limit: number; cursor?: string }): Promise<Page<AuditEvent>>;
  /** Require admin (or auth off); throws permission_denied. */
  requireAdmin(a: Actor, what: string): void;
  /** Reload everything from the store now. */
  resync(): Promise<void>;
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  store: ControlStore;
  /** The config file's keys and teams (read-only here). */
  configKeys: import("../config/types.ts").KeyConfig[];
  configTeams: { name: string; budget?: BudgetConfig }[];
  /** The config file's prompts[] in force (read at each lookup: reloads change it). */
  configPrompts?: () => readonly PromptConfig[] | undefined;
  /** Whether a name is a route, alias or deployment (allow lists are checked against it). */
  knownModel: (name: string) => boolean;
  now?: () => number;
  /** Seals the credentials of providers made at run time (SIGNALBOX_MASTER_KEY); absent: they cannot go to PostgreSQL. */
  masterKey?: string;
  /** Keys that open credentials but never seal them (SIGNALBOX_MASTER_KEY_PREVIOUS): a rotation's old key. */
  previousMasterKeys?: readonly string[];
  /** How often last-used times are written (ms). Default 15 000. */
  touchEveryMs?: number;
  replica?: string;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PROMPT_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const LABEL = /^[a-z0-9][a-z0-9_.-]{0,31}$/;
const PROMPT_ROLES = new Set(["system", "developer", "user", "assistant"]);
const MAX_PROMPT_TEXT = 100_000;
const MAX_PROMPT_MESSAGES = 256;

function checkLabel(l: string, field: string) {
  if (!LABEL.test(l)) throw bad(field, `"${l}": 1 to 32 characters: lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`);
  if (l === "latest") throw bad(field, `"latest" is reserved: it always means the newest version`);
  if (/^\d+$/.test(l)) throw bad(field, `"${l}": a label may not be a number (it would read as a version)`);
}
const MAX_GRACE_SECONDS = 30 * 86_400;
const MAX_METADATA = 64;
const SECRET_PREFIX = "sbk_";

/** A new secret: `sbk_` and 43 characters of base64url randomness (256 bits). */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64url");
}

/** The part of a secret safe to show: the scheme and 8 characters (48 of its 256 bits). */
export const secretPrefix = (secret: string) => secret.slice(0, SECRET_PREFIX.length + 8);

const bad = (field: string, message: string) => new GatewayError("invalid_argument", `${field}: ${message}`, { field });
const denied = (message: string, field?: string) => new GatewayError("permission_denied", message, field ? { field } : {});

/** A key as the audit log shows it: no hash, no secret. */
export function keyView(k: ManagedKey): Record<string, unknown> {
  const iso = (t?: number) => (t === undefined ? undefined : new Date(t).toISOString());
  return JSON.parse(
    JSON.stringify({
      name: k.name,
      team: k.team,
      role: k.role,
      prefix: k.prefix,
      allow: k.allow,
      limits: k.limits,
      per_user_limits: k.perUserLimits,
      budget: k.budget,
      per_user_budget: k.perUserBudget,
      max_output_tokens: k.maxOutputTokens,
      expire_time: iso(k.expiresAt),
      metadata: k.metadata,
      revoke_time: iso(k.revokedAt),
      block_time: iso(k.blockedAt),
      previous_secret_expire_time: iso(k.prevHashExpiresAt),
    }),
  );
}

/** An end user as the audit log shows it. */
export function endUserView(u: ManagedEndUser): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ team: u.team, user: u.user, budget: u.budget, limits: u.limits, block_time: u.blockedAt === undefined ? undefined : new Date(u.blockedAt).toISOString(), metadata: u.metadata }));
}

/** Longest end-user id: OpenAI's `user` and OpenRouter's are free text; this bounds memory and rows. */
const MAX_END_USER = 256;
/** Whether a text can name an end user: the request's `user` exactly, within the bound, no control characters. */
export const isEndUserId = (u: string): boolean => u.length > 0 && u.length <= MAX_END_USER && !/[\u0000-\u001f\u007f]/.test(u);
export const END_USER_RULE = `the request's \`user\` exactly: 1 to ${MAX_END_USER} characters, no control characters`;

export function teamView(t: ManagedTeam): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ name: t.name, budget: t.budget, default_key_limits: t.defaultKeyLimits, metadata: t.metadata }));
}

function checkLimits(l: RateLimits | undefined, field: string) {
  if (!l) return;
  if (l.requestsPerMinute !== undefined && !(Number.isInteger(l.requestsPerMinute) && l.requestsPerMinute > 0)) throw bad(`${field}.requests_per_minute`, "must be a whole number > 0");
  if (l.tokensPerMinute !== undefined && !(Number.isInteger(l.tokensPerMinute) && l.tokensPerMinute > 0)) throw bad(`${field}.tokens_per_minute`, "must be a whole number > 0");
}

function checkBudget(b: BudgetConfig | undefined, field: string) {
  if (!b) return;
  if (!["day", "week", "month", "lifetime"].includes(b.period)) throw bad(`${field}.period`, "must be day, week, month or lifetime");
  if (!(Number.isFinite(b.limitUsd) && b.limitUsd > 0)) throw bad(`${field}.limit_usd`, "must be > 0");
  if (!(b.softThreshold > 0 && b.softThreshold <= 1)) throw bad(`${field}.soft_threshold`, "must be in (0, 1]");
}

function checkMetadata(m: Record<string, string>, field: string) {
  const entries = Object.entries(m);
  if (entries.length > MAX_METADATA) throw bad(field, `at most ${MAX_METADATA} entries`);
  for (const [k, v] of entries) {
    if (!k || k.length > 128) throw bad(`${field}.${k}`, "keys are 1 to 128 characters");
    if (v.length > 1024) throw bad(`${field}.${k}`, "values are at most 1024 characters");
  }
}

/** Budgets compared as a daily-equivalent rate: lowering the period or the amount is never a raise. */
function raisesBudget(before: BudgetConfig | undefined, after: BudgetConfig | undefined): boolean {
  if (!before) return false; // no budget is no limit: any budget lowers it
  if (!after) return true; // removing a limit raises it
  // A lifetime budget and a periodic one cannot be compared (a lifetime's $100 is more than a
  // day's $10 for ten days, less ever after): a change between them counts as a raise.
  if ((before.period === "lifetime") !== (after.period === "lifetime")) return true;
  if (after.period === "lifetime") return after.limitUsd > before.limitUsd;
  const perDay = (b: BudgetConfig) => b.limitUsd / { day: 1, week: 7, month: 28 }[b.period as "day" | "week" | "month"];
  return perDay(after) > perDay(before) + 1e-12 || after.limitUsd > before.limitUsd;
}

function storeFailure(err: unknown): never {
  if (err instanceof StoreError) {
    switch (err.kind) {
      case "exists":
        throw new GatewayError("already_exists", err.message);
      case "not_found":
        throw new GatewayError("not_found", err.message);
      case "conflict":
        throw new GatewayError("failed_precondition", err.message);
      case "unavailable":
        throw new GatewayError("unavailable", err.message);
    }
  }
  throw err;
}

export async function createControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const { store } = opts;
  const now = opts.now ?? Date.now;
  const replica = opts.replica ?? `${hostname()}:${process.pid}`;
  const directory = createDirectory(now);
  directory.replaceConfig(opts.configKeys, opts.configTeams, now());
  const prompts = createPromptLibrary(opts.configPrompts ?? (() => []));
  const entries = createEntryBook(store, createSealer(opts.masterKey || undefined, opts.previousMasterKeys ?? []), now);
  /** Console sessions signed out, id → expiry; a notice from another replica carries no expiry (kept until the next full sync). */
  let revokedSessions = new Map<string, number>();

  let synced = false;
  let resyncing: Promise<void> | undefined;
  const resync = () =>
    (resyncing ??= (async () => {
      try {
        const all = await store.loadAll();
        const revoked = await store.revokedSessions();
        directory.replaceStore(all.keys, all.teams);
        directory.replaceEndUsers(all.endUsers);
        // Sign-outs made here since the read began are kept too.
        for (const [id, exp] of revokedSessions) if (!revoked.has(id) && exp > now()) revoked.set(id, exp);
        revokedSessions = revoked;
        prompts.replaceStore(all.prompts);
        entries.replaceAll(all.entries);
        if (!synced) log("info", "control plane in sync", { store: store.kind, keys: all.keys.length, teams: all.teams.length, prompts: all.prompts.length });
        synced = true;
      } catch (err) {
        log("warn", "control store unavailable: serving the keys already in memory", { error: (err as Error).message });
      } finally {
        resyncing = undefined;
      }
    })());

  // A change by any replica: re-read that one key or team. Reads run on a pool and may finish
  // out of order: only the newest read of a name is applied.
  const latest = new Map<string, number>();
  let reads = 0;
  const onChange = async (c: ControlChange) => {
    if (c.kind === "session") {
      if (!revokedSessions.has(c.name)) revokedSessions.set(c.name, Number.POSITIVE_INFINITY);
      return;
    }
    if (c.kind === "entry") {
      await entries.changed(c.name).catch(() => void resync());
      return;
    }
    if (c.kind === "end_user") {
      const colon = c.name.indexOf(":");
      const team = c.name.slice(0, colon);
      const user = c.name.slice(colon + 1);
      const n = ++reads;
      latest.set(`end_user:${c.name}`, n);
      try {
        const u = await store.getEndUser(team, user);
        if (latest.get(`end_user:${c.name}`) !== n) return;
        latest.delete(`end_user:${c.name}`);
        directory.setEndUser(team, user, u);
      } catch {
        void resync();
      }
      return;
    }
    const id = `${c.kind}:${c.name}`;
    const n = ++reads;
    latest.set(id, n);
    try {
      const v = c.kind === "key" ? await store.getKey(c.name) : c.kind === "team" ? await store.getTeam(c.name) : await store.getPrompt(c.name);
      if (latest.get(id) !== n) return;
      latest.delete(id);
      if (c.kind === "key") directory.setKey(c.name, v as ManagedKey | undefined);
      else if (c.kind === "team") directory.setTeam(c.name, v as ManagedTeam | undefined);
      else prompts.setStore(c.name, v as ManagedPrompt | undefined);
    } catch {
      void resync();
    }
  };
  store.subscribe((c) => void onChange(c), () => void resync());
  await resync();

  const touchTimer = setInterval(() => {
    const batch = directory.drainLastUsed();
    if (batch.size === 0) return;
    store.touchKeys(batch).catch(() => {
      // Keep them for the next try (newest wins).
      for (const [k, t] of batch) {
        const key = directory.key(k);
        if (key && (key.lastUsedAt ?? 0) < t) key.lastUsedAt = t;
      }
    });
    for (const [k, t] of batch) {
      const key = directory.key(k);
      if (key) key.lastUsedAt = t;
    }
  }, opts.touchEveryMs ?? 15_000);
  touchTimer.unref();

  // --- roles -------------------------------------------------------------------------------

  const isAdmin = (a: Actor) => a.caller.role === "admin" || (!a.authEnabled && a.caller.role === "anonymous");
  function requireAdmin(a: Actor, what: string) {
    if (!isAdmin(a)) throw denied(`${what} needs an admin key; key "${a.caller.keyName}" is a ${a.caller.role} key`);
  }
  function requireKeyManager(a: Actor, team: string, field = "key.team") {
    if (isAdmin(a)) return;
    if (a.caller.role !== "team") throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys manage keys`);
    if (team !== a.caller.team) throw denied(`key "${a.caller.keyName}" may only manage keys of team "${a.caller.team}"`, field);
  }
  function visibleKey(a: Actor, name: string): ManagedKey {
    const k = directory.key(name);
    if (!k) throw new GatewayError("not_found", `name: no key "${name}"`, { field: "name" });
    if (!isAdmin(a)) {
      if (a.caller.role !== "team" || k.team !== a.caller.team) {
        // Do not reveal keys of other teams.
        if (a.caller.role === "team") throw new GatewayError("not_found", `name: no key "${name}"`, { field: "name" });
        throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys manage keys`);
      }
    }
    return k;
  }
  function writableKey(a: Actor, name: string): ManagedKey {
    const k = visibleKey(a, name);
    if (k.source === "config") throw new GatewayError("failed_precondition", `key "${name}" is defined in the config file and is read-only here: change it there`, { field: "name" });
    if (!isAdmin(a) && k.role === "admin") throw denied(`a team key may not change admin key "${name}"`);
    return k;
  }

  // --- validation --------------------------------------------------------------------------

  function checkKeyFields(p: KeyPatch, field: string, a: Actor) {
    if (p.role !== undefined) {
      if (!["admin", "team", "service"].includes(p.role)) throw bad(`${field}.role`, "must be admin, team or service");
      if (p.role === "admin" && !isAdmin(a)) throw denied("only an admin key may create or grant admin keys", `${field}.role`);
    }
    p.allow?.forEach((m, i) => {
      if (!opts.knownModel(m)) throw bad(`${field}.allow[${i}]`, `unknown route, alias or deployment "${m}"`);
    });
    if (p.allow && new Set(p.allow).size !== p.allow.length) throw bad(`${field}.allow`, "duplicate entries");
    checkLimits(p.limits, `${field}.limits`);
    checkLimits(p.perUserLimits, `${field}.per_user_limits`);
    checkBudget(p.budget, `${field}.budget`);
    checkBudget(p.perUserBudget, `${field}.per_user_budget`);
    if (p.maxOutputTokens !== undefined && !(Number.isInteger(p.maxOutputTokens) && p.maxOutputTokens > 0)) throw bad(`${field}.max_output_tokens`, "must be > 0");
    if (p.expiresAt !== undefined && p.expiresAt <= now()) throw bad(`${field}.expire_time`, "is in the past");
    if (p.metadata) checkMetadata(p.metadata, `${field}.metadata`);
  }

  const auditOf = (a: Actor | string, action: string, target: string, before?: Record<string, unknown>, after?: Record<string, unknown>) => ({
    actor: typeof a === "string" ? a : a.caller.keyName,
    action,
    target,
    before,
    after,
    replica,
    traceId: typeof a === "string" ? "" : a.traceId,
  });

  function page<T extends { name: string }>(items: T[], limit: number, cursor?: string): Page<T> {
    return pageBy(items, (i) => i.name, limit, cursor);
  }
  /** Sorted by `id`, `limit` at a time; the cursor is the last id shown. */
  function pageBy<T>(items: T[], id: (i: T) => string, limit: number, cursor?: string): Page<T> {
    const ids = new Map(items.map((i) => [i, id(i)]));
    items.sort((x, y) => (ids.get(x)! < ids.get(y)! ? -1 : ids.get(x)! > ids.get(y)! ? 1 : 0));
    const after = cursor ? Buffer.from(cursor, "base64url").toString() : "";
    const start = after ? items.findIndex((i) => ids.get(i)! > after) : 0;
    const slice = start < 0 ? [] : items.slice(start, start + limit);
    const more = start >= 0 && start + limit < items.length;
    return { items: slice, next: more ? Buffer.from(ids.get(slice[slice.length - 1])!).toString("base64url") : undefined };
  }

  // --- end users ---------------------------------------------------------------------------

  /** Who may manage a team's end users: admin keys, and a team key its own team's; another team's are not revealed. */
  function endUserManager(a: Actor, team: string, field: string) {
    if (isAdmin(a)) return;
    if (a.caller.role !== "team") throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys manage end users`);
    if (team !== a.caller.team) throw new GatewayError("not_found", `${field}: no team "${team}"`, { field });
  }
  function existingEndUser(a: Actor, team: string, user: string): ManagedEndUser {
    endUserManager(a, team, "team");
    const u = directory.endUser(team, user);
    if (!u) throw new GatewayError("not_found", `user: no end user "${user}" in team "${team}"`, { field: "user" });
    return u;
  }
  function checkEndUserFields(p: EndUserPatch, field: string) {
    checkBudget(p.budget, `${field}.budget`);
    checkLimits(p.limits, `${field}.limits`);
    if (p.metadata) checkMetadata(p.metadata, `${field}.metadata`);
  }
  async function writeEndUser(a: Actor, team: string, user: string, action: string, fn: (before: ManagedEndUser | undefined) => ManagedEndUser): Promise<ManagedEndUser> {
    let out: { before?: ManagedEndUser; after: ManagedEndUser };
    try {
      out = await store.putEndUser(team, user, fn, (before, after) => auditOf(a, action, `end_user:${endUserId(team, user)}`, before && endUserView(before), endUserView(after)));
    } catch (err) {
      storeFailure(err);
    }
    directory.setEndUser(team, user, out.after);
    return out.after;
  }

  /**
   * Change a store key: read and written under the store's lock, audited in the same write. The
   * audit's before/after come from this replica's view, which the store's row matches unless
   * another replica changed the key within the last second.
   */
  async function mutateKey(a: Actor, name: string, action: string, fn: (k: ManagedKey) => ManagedKey): Promise<{ before: ManagedKey; after: ManagedKey }> {
    const current = writableKey(a, name);
    const stamp = (k: ManagedKey) => ({ ...fn(k), updatedAt: now() });
    let out: { before: ManagedKey; after: ManagedKey };
    try {
      out = await store.updateKey(name, stamp, auditOf(a, action, `key:${name}`, keyView(current), keyView(stamp(current))));
    } catch (err) {
      storeFailure(err);
    }
    directory.setKey(name, out.after);
    return out;
  }

  function keyCount(team: string): number {
    let n = 0;
    for (const k of directory.keys()) if (k.team === team) n++;
    return n;
  }

  // --- prompts -----------------------------------------------------------------------------

  /** A prompt the caller may see; others' are not found, never "forbidden" (names are not revealed). */
  function visiblePrompt(a: Actor, id: string): PromptView {
    const p = prompts.find(id);
    if (!p || !mayUse(p, a.caller)) throw new GatewayError("not_found", `prompt_id: no prompt "${id}"`, { field: "prompt_id" });
    return p;
  }
  /** Admins manage every store prompt; a team key its team's; service keys none. */
  function requirePromptWriter(a: Actor, team: string | undefined, field: string) {
    if (isAdmin(a)) return;
    if (a.caller.role !== "team") throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys manage prompts`);
    if (team !== undefined && team !== a.caller.team) throw denied(`key "${a.caller.keyName}" may only manage prompts of team "${a.caller.team}"`, field);
  }
  function writablePrompt(a: Actor, id: string): PromptView {
    const p = visiblePrompt(a, id);
    if (p.source === "config") throw new GatewayError("failed_precondition", `prompt_id: prompt "${id}" is defined in the config file (prompts[]) and is read-only here: change it there`, { field: "prompt_id" });
    requirePromptWriter(a, p.team, "prompt_id");
    return p;
  }
  /** Applies a store write to this replica at once (the change notice does it on the others). */
  const applyPrompt = (p: ManagedPrompt | undefined, id: string) => {
    prompts.setStore(id, p);
    return prompts.find(id);
  };

  return {
    directory,
    prompts,
    storeKind: store.kind,
    replica,
    requireAdmin,

    async createPromptVersion(a, input) {
      if (!PROMPT_ID.test(input.id)) throw bad("prompt_id", "1 to 128 characters: letters, digits, '_', '.', ':' or '-'");
      const existing = prompts.find(input.id);
      if (existing?.source === "config") throw new GatewayError("failed_precondition", `prompt_id: prompt "${input.id}" is defined in the config file (prompts[]) and is read-only here: change it there`, { field: "prompt_id" });
      if (existing && !mayUse(existing, a.caller)) throw denied(`prompt "${input.id}" belongs to another team`, "prompt_id");
      const team = existing ? existing.team : (input.team ?? (isAdmin(a) ? "" : a.caller.team));
      requirePromptWriter(a, existing ? existing.team : team, existing ? "prompt_id" : "team");
      if (!existing && team !== "" && !directory.team(team)) throw bad("team", `no team "${team}"`);
      if (input.model !== undefined && input.model !== "" && !opts.knownModel(input.model)) throw bad("model", `unknown route, alias or deployment "${input.model}"`);
      if (!input.instructions && input.messages.length === 0) throw bad("instructions", "a prompt needs instructions or at least one message");
      if ((input.instructions?.length ?? 0) > MAX_PROMPT_TEXT) throw bad("instructions", `at most ${MAX_PROMPT_TEXT} characters`);
      if (input.messages.length > MAX_PROMPT_MESSAGES) throw bad("messages", `at most ${MAX_PROMPT_MESSAGES} messages`);
      input.messages.forEach((m, i) => {
        if (!PROMPT_ROLES.has(m.role)) throw bad(`messages[${i}].role`, `must be system, developer, user or assistant, got "${m.role}"`);
        if (!m.content) throw bad(`messages[${i}].content`, "is required");
        if (m.content.length > MAX_PROMPT_TEXT) throw bad(`messages[${i}].content`, `at most ${MAX_PROMPT_TEXT} characters`);
      });
      input.labels.forEach((l, i) => checkLabel(l, `labels[${i}]`));
      const pp = input.parameters;
      if (pp?.temperature !== undefined && !(pp.temperature >= 0 && pp.temperature <= 2)) throw bad("parameters.temperature", `must be between 0 and 2, got ${pp.temperature}`);
      if (pp?.topP !== undefined && !(pp.topP >= 0 && pp.topP <= 1)) throw bad("parameters.top_p", `must be between 0 and 1, got ${pp.topP}`);
      if (pp?.maxOutputTokens !== undefined && !(Number.isInteger(pp.maxOutputTokens) && pp.maxOutputTokens >= 1 && pp.maxOutputTokens <= 1_000_000)) throw bad("parameters.max_output_tokens", "must be between 1 and 1000000");
      if ((pp?.stop?.length ?? 0) > 4) throw bad("parameters.stop", "at most 4 stop sequences");
      if (pp?.reasoningEffort !== undefined && !["minimal", "low", "medium", "high"].includes(pp.reasoningEffort)) throw bad("parameters.reasoning_effort", `must be minimal, low, medium or high, got "${pp.reasoningEffort}"`);
      if (input.description.length > 1_000) throw bad("description", "at most 1000 characters");
      const version: Omit<PromptVersionRecord, "version"> = {
        ...(input.model ? { model: input.model } : {}),
        ...(input.instructions ? { instructions: input.instructions } : {}),
        messages: input.messages,
        ...(pp && Object.values(pp).some((v) => v !== undefined && !(Array.isArray(v) && v.length === 0)) ? { parameters: pp } : {}),
        description: input.description,
        createdAt: now(),
        createdBy: a.caller.keyName,
      };
      let after: ManagedPrompt;
      try {
        after = await store.addPromptVersion(
          input.id,
          team,
          version,
          [...new Set(input.labels)],
          (before) => {
            // Another replica made it meanwhile, for a team this caller may not write.
            if (before && before.team !== team) requirePromptWriter(a, before.team, "prompt_id");
          },
          (p) => auditOf(a, "prompt.create_version", `prompt:${input.id}`, undefined, { version: p.versions.at(-1)!.version, team: p.team, model: version.model, parameters: version.parameters, description: version.description, labels: input.labels }),
        );
      } catch (err) {
        storeFailure(err);
      }
      const view = applyPrompt(after, input.id)!;
      return { prompt: view, version: view.versions[view.versions.length - 1] };
    },

    listPrompts(a, team) {
      if (team !== undefined && team !== "" && !isAdmin(a) && team !== a.caller.team) throw denied(`key "${a.caller.keyName}" may only list prompts of team "${a.caller.team}" and shared ones`, "team");
      return prompts.list().filter((p) => mayUse(p, a.caller) && (team === undefined || team === "" || p.team === team));
    },

    getPrompt: visiblePrompt,

    async setPromptLabel(a, id, label, version) {
      const p = writablePrompt(a, id);
      checkLabel(label, "label");
      if (version !== undefined && !p.versions.some((v) => v.version === version)) {
        throw bad("version", `prompt "${id}" has no version "${version}" (it has ${p.versions.map((v) => v.version).join(", ")})`);
      }
      if (version === undefined && p.labels[label] === undefined) throw new GatewayError("not_found", `label: prompt "${id}" has no label "${label}"`, { field: "label" });
      let after: ManagedPrompt;
      try {
        after = await store.setPromptLabel(id, label, version === undefined ? undefined : Number(version), (before) => requirePromptWriter(a, before.team, "prompt_id"), auditOf(a, "prompt.label", `prompt:${id}`, { [label]: p.labels[label] ?? null }, { [label]: version ?? null }));
      } catch (err) {
        storeFailure(err);
      }
      return applyPrompt(after, id)!;
    },

    async deletePrompt(a, id) {
      const p = writablePrompt(a, id);
      try {
        await store.deletePrompt(id, (before) => requirePromptWriter(a, before.team, "prompt_id"), auditOf(a, "prompt.delete", `prompt:${id}`, { team: p.team, versions: p.versions.length, labels: p.labels }, undefined));
      } catch (err) {
        storeFailure(err);
      }
      applyPrompt(undefined, id);
    },

    async createKey(a, input) {
      if (!NAME.test(input.name)) throw bad("key.name", "1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit");
      if (!input.team) throw bad("key.team", "required");
      if (!input.role) throw bad("key.role", "required");
      requireKeyManager(a, input.team);
      checkKeyFields(input, "key", a);
      if (!directory.team(input.team)) throw bad("key.team", `no team "${input.team}": create it first`);
      if (directory.key(input.name)) throw new GatewayError("already_exists", `key.name: a key named "${input.name}" already exists`, { field: "key.name" });
      // The first key turns auth on: were it not an admin key, nobody could manage keys afterwards.
      if (!a.authEnabled && input.role !== "admin") throw bad("key.role", "the first key turns auth on: make it an admin key (role admin), or nobody could manage keys afterwards");
      const secret = newSecret();
      const t = now();
      const key: ManagedKey = {
        ...input,
        hash: hashKey(secret),
        prefix: secretPrefix(secret),
        source: "store",
        createdAt: t,
        updatedAt: t,
        createdBy: a.caller.keyName,
      };
      try {
        await store.createKey(key, auditOf(a, "key.create", `key:${key.name}`, undefined, keyView(key)));
      } catch (err) {
        storeFailure(err);
      }
      directory.setKey(key.name, key);
      return { key, secret };
    },

    listKeys(a, q) {
      let team = q.team;
      if (!isAdmin(a)) {
        if (a.caller.role !== "team") throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys list keys`);
        if (team && team !== a.caller.team) throw denied(`key "${a.caller.keyName}" may only list keys of team "${a.caller.team}"`, "team");
        team = a.caller.team;
      }
      const items = [...directory.keys()].filter((k) => (!team || k.team === team) && (q.includeRevoked || k.revokedAt === undefined));
      return page(items, q.limit, q.cursor);
    },

    getKey: visibleKey,

    async updateKey(a, name, patch) {
      writableKey(a, name);
      checkKeyFields(patch, "key", a);
      return (await mutateKey(a, name, "key.update", (k) => ({ ...k, ...patch }))).after;
    },

    async revokeKey(a, name) {
      const k = writableKey(a, name);
      if (k.revokedAt !== undefined) return k;
      return (await mutateKey(a, name, "key.revoke", (k) => ({ ...k, revokedAt: now(), prevHash: undefined, prevHashExpiresAt: undefined }))).after;
    },

    async blockKey(a, name) {
      const k = writableKey(a, name);
      if (k.revokedAt !== undefined) throw new GatewayError("failed_precondition", `key "${name}" is revoked: it cannot be blocked or unblocked`, { field: "name" });
      // A key that blocked itself could not unblock itself: the one way out would be another admin.
      if (a.caller.keyName === name) throw new GatewayError("failed_precondition", `key "${name}" is the key of this request: a key may not block itself`, { field: "name" });
      if (k.blockedAt !== undefined) return k;
      return (await mutateKey(a, name, "key.block", (k) => ({ ...k, blockedAt: now() }))).after;
    },

    async unblockKey(a, name) {
      const k = writableKey(a, name);
      if (k.revokedAt !== undefined) throw new GatewayError("failed_precondition", `key "${name}" is revoked: it cannot be blocked or unblocked`, { field: "name" });
      if (k.blockedAt === undefined) return k;
      return (await mutateKey(a, name, "key.unblock", (k) => ({ ...k, blockedAt: undefined }))).after;
    },

    async rotateKey(a, name, graceSeconds) {
      const k = writableKey(a, name);
      if (!(Number.isInteger(graceSeconds) && graceSeconds >= 0 && graceSeconds <= MAX_GRACE_SECONDS)) throw bad("grace_seconds", `must be 0 to ${MAX_GRACE_SECONDS}`);
      if (k.revokedAt !== undefined) throw new GatewayError("failed_precondition", `key "${name}" is revoked: create a new one`, { field: "name" });
      const secret = newSecret();
      const t = now();
      const { after } = await mutateKey(a, name, "key.rotate", (k) => ({
        ...k,
        hash: hashKey(secret),
        prefix: secretPrefix(secret),
        prevHash: graceSeconds > 0 ? k.hash : undefined,
        prevHashExpiresAt: graceSeconds > 0 ? t + graceSeconds * 1000 : undefined,
      }));
      return { key: after, secret };
    },

    async createTeam(a, input) {
      requireAdmin(a, "creating a team");
      if (!NAME.test(input.name)) throw bad("team.name", "1 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit");
      if (directory.team(input.name)) throw new GatewayError("already_exists", `team.name: a team named "${input.name}" already exists`, { field: "team.name" });
      checkBudget(input.budget, "team.budget");
      checkLimits(input.defaultKeyLimits, "team.default_key_limits");
      checkMetadata(input.metadata, "team.metadata");
      const t = now();
      const team: ManagedTeam = { ...input, source: "store", createdAt: t, updatedAt: t };
      try {
        await store.createTeam(team, auditOf(a, "team.create", `team:${team.name}`, undefined, teamView(team)));
      } catch (err) {
        storeFailure(err);
      }
      directory.setTeam(team.name, team);
      return team;
    },

    async updateTeam(a, name, patch) {
      const current = directory.teamRecord(name);
      if (!current || (!isAdmin(a) && a.caller.team !== name)) throw new GatewayError("not_found", `team.name: no team "${name}"`, { field: "team.name" });
      if (!isAdmin(a) && a.caller.role !== "team") throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys manage teams`);
      if (current.source === "config") throw new GatewayError("failed_precondition", `team "${name}" is defined in the config file and is read-only here: change it there`, { field: "team.name" });
      if (patch.budget !== undefined || "budget" in patch) checkBudget(patch.budget, "team.budget");
      checkLimits(patch.defaultKeyLimits, "team.default_key_limits");
      if (patch.metadata) checkMetadata(patch.metadata, "team.metadata");
      if (!isAdmin(a) && "budget" in patch && raisesBudget(current.budget, patch.budget)) {
        throw denied(`a team key may not raise its own team's budget; ask an admin`, "team.budget");
      }
      let out: { before: ManagedTeam; after: ManagedTeam };
      try {
        out = await store.updateTeam(name, (t) => ({ ...t, ...patch, updatedAt: now() }), auditOf(a, "team.update", `team:${name}`, teamView(current), teamView({ ...current, ...patch })));
      } catch (err) {
        storeFailure(err);
      }
      directory.setTeam(name, out.after);
      return out.after;
    },

    listTeams(a, q) {
      let items = [...directory.teams()];
      if (!isAdmin(a)) {
        if (a.caller.role !== "team") throw denied(`key "${a.caller.keyName}" is a ${a.caller.role} key: only admin and team keys list teams`);
        items = items.filter((t) => t.name === a.caller.team);
      }
      return page(items, q.limit, q.cursor);
    },

    async deleteTeam(a, name) {
      requireAdmin(a, "deleting a team");
      const current = directory.teamRecord(name);
      if (!current) throw new GatewayError("not_found", `name: no team "${name}"`, { field: "name" });
      if (current.source === "config") throw new GatewayError("failed_precondition", `team "${name}" is defined in the config file and is read-only here: change it there`, { field: "name" });
      const n = keyCount(name);
      if (n > 0) throw new GatewayError("failed_precondition", `team "${name}" still has ${n} key${n === 1 ? "" : "s"}: revoke and move them first`, { field: "name" });
      let users = 0;
      for (const u of directory.endUsers()) if (u.team === name) users++;
      if (users > 0) throw new GatewayError("failed_precondition", `team "${name}" still has ${users} end user${users === 1 ? "" : "s"} with rules of their own: delete them first`, { field: "name" });
      try {
        await store.deleteTeam(name, auditOf(a, "team.delete", `team:${name}`, teamView(current), undefined));
      } catch (err) {
        storeFailure(err);
      }
      directory.setTeam(name, undefined);
    },

    listEndUsers(a, q) {
      let team = q.team;
      if (!isAdmin(a)) {
        endUserManager(a, team ?? a.caller.team, "team");
        team = a.caller.team;
      }
      const items = [...directory.endUsers()].filter((u) => !team || u.team === team);
      return pageBy(items, (u) => endUserId(u.team, u.user), q.limit, q.cursor);
    },

    getEndUser: existingEndUser,

    async createEndUser(a, input) {
      const { team, user } = input;
      if (!team) throw bad("end_user.team", "required");
      endUserManager(a, team, "end_user.team");
      if (!isEndUserId(user)) throw bad("end_user.user", END_USER_RULE);
      // The caller's own team needs no record (the embedded default's anonymous callers are team "default").
      if (!directory.team(team) && team !== a.caller.team) throw bad("end_user.team", `no team "${team}": create it first`);
      checkEndUserFields(input, "end_user");
      if (directory.endUser(team, user)) throw new GatewayError("already_exists", `end_user.user: end user "${user}" of team "${team}" already exists`, { field: "end_user.user" });
      const t = now();
      return writeEndUser(a, team, user, "end_user.create", (before) => {
        if (before) throw new StoreError("exists", `end user "${user}" of team "${team}" already exists`);
        const u: ManagedEndUser = { team, user, metadata: input.metadata ?? {}, createdAt: t, updatedAt: t, createdBy: a.caller.keyName };
        if (input.budget) u.budget = input.budget;
        if (input.limits) u.limits = input.limits;
        if (input.blocked) u.blockedAt = t;
        return u;
      });
    },

    async updateEndUser(a, team, user, patch) {
      existingEndUser(a, team, user);
      checkEndUserFields(patch, "end_user");
      const t = now();
      // Blocking or unblocking alone is audited as such: the log reads as what was done.
      const only = Object.keys(patch).length === 1 && patch.blocked !== undefined;
      const action = only ? (patch.blocked ? "end_user.block" : "end_user.unblock") : "end_user.update";
      return writeEndUser(a, team, user, action, (before) => {
        if (!before) throw new StoreError("not_found", `end user "${user}" of team "${team}" does not exist`);
        const u: ManagedEndUser = { ...before, updatedAt: t };
        if ("budget" in patch) patch.budget ? (u.budget = patch.budget) : delete u.budget;
        if ("limits" in patch) patch.limits ? (u.limits = patch.limits) : delete u.limits;
        if (patch.metadata) u.metadata = patch.metadata;
        if (patch.blocked === true && u.blockedAt === undefined) u.blockedAt = t;
        if (patch.blocked === false) delete u.blockedAt;
        return u;
      });
    },

    async deleteEndUser(a, team, user) {
      existingEndUser(a, team, user);
      let before: ManagedEndUser;
      try {
        before = await store.deleteEndUser(team, user, (b) => auditOf(a, "end_user.delete", `end_user:${endUserId(team, user)}`, endUserView(b), undefined));
      } catch (err) {
        storeFailure(err);
      }
      directory.setEndUser(team, user, undefined);
      return before;
    },

    keyCount,

    async revokeSession(actor, id, expiresAt, traceId) {
      revokedSessions.set(id, expiresAt);
      try {
        await store.revokeSession(id, expiresAt, { ...auditOf(actor, "session.logout", actor, undefined, { expire_time: new Date(expiresAt).toISOString() }), traceId });
      } catch (err) {
        storeFailure(err);
      }
    },
    sessionRevoked(id) {
      const exp = revokedSessions.get(id);
      if (exp === undefined) return false;
      if (exp > now()) return true;
      revokedSessions.delete(id);
      return false;
    },

    async audit(a, action, target, before, after) {
      try {
        await store.appendAudit(auditOf(a, action, target, before, after));
      } catch (err) {
        log("warn", "audit event not recorded: control store unavailable", { action, target, error: (err as Error).message });
      }
    },

    async listAudit(a, q) {
      requireAdmin(a, "reading the audit log");
      try {
        const r = await store.listAudit({ start: q.start, end: q.end, actor: q.actor, target: q.target, limit: q.limit, cursor: q.cursor });
        return { items: r.events, next: r.next };
      } catch (err) {
        if (err instanceof RangeError) throw bad("page_token", "not a token from a previous page");
        storeFailure(err);
      }
    },

    entries,

    async putConfigEntry(a, input) {
      requireAdmin(a, "changing config entries (providers, deployments, routes, guardrails, MCP servers)");
      try {
        return await entries.put(input, a.caller.keyName, (action, target, before, after) => auditOf(a, action, target, before, after));
      } catch (err) {
        storeFailure(err);
      }
    },

    listConfigEntries(a, kind) {
      requireAdmin(a, "listing config entries made at run time");
      return entries.list(kind);
    },

    async deleteConfigEntry(a, kind, name, expectedRevision) {
      requireAdmin(a, "deleting config entries");
      // A managed key allowed only this model would be left allowed nothing it names.
      const inUse = (k: EntryKind, n: string) => {
        if (k === "provider" || k === "guardrail" || k === "alert" || k === "preset") return undefined;
        // An MCP server is allowed as mcp:<id> or one of its tools as mcp:<id>/<tool>.
        const names = k === "mcp_server" ? (a: string) => a === `mcp:${n}` || a.startsWith(`mcp:${n}/`) : (a: string) => a === n;
        const users = [...directory.keys()].filter((key) => key.source === "store" && key.revokedAt === undefined && key.allow.some(names)).map((key) => `key "${key.name}"`);
        return users.length ? `the allow list of ${users.join(", ")}` : undefined;
      };
      try {
        return await entries.delete(kind, name, expectedRevision, (action, target, before) => auditOf(a, action, target, before, undefined), inUse);
      } catch (err) {
        storeFailure(err);
      }
    },

    async putFeedback(f) {
      try {
        await store.putFeedback(f);
      } catch (err) {
        storeFailure(err);
      }
    },

    async feedbackSummary(q) {
      try {
        return await store.feedbackSummary(q);
      } catch (err) {
        storeFailure(err);
      }
    },

    async feedbackFor(requestId) {
      try {
        return await store.feedbackFor(requestId);
      } catch (err) {
        storeFailure(err);
      }
    },

    async feedbackById(id) {
      try {
        return await store.feedbackById(id);
      } catch (err) {
        storeFailure(err);
      }
    },

    getConfigEntry(a, kind, name) {
      requireAdmin(a, "reading config entries made at run time");
      return entries.get(kind, name);
    },

    async resealConfigEntries(a, validateOnly) {
      requireAdmin(a, "sealing credentials again");
      try {
        return await entries.reseal(validateOnly, a.caller.keyName, (action, target, before, after) => auditOf(a, action, target, before, after));
      } catch (err) {
        storeFailure(err);
      }
    },

    resync,

    async close() {
      clearInterval(touchTimer);
      const batch = directory.drainLastUsed();
      if (batch.size) await store.touchKeys(batch).catch(() => {});
      await store.close();
    },
  };
}
