// `signalbox keys …` and `signalbox teams …`: AdminService. Secrets go to stdout alone (so
// `$(signalbox keys create …)` captures exactly the secret); what happened goes to stderr.

import { toJson } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Command, InvalidArgumentError } from "commander";
import {
  BlockKeyResponseSchema,
  BudgetPeriodSchema,
  CreateKeyResponseSchema,
  CreateTeamResponseSchema,
  GetCallerResponseSchema,
  GetKeyResponseSchema,
  KeyRoleSchema,
  ListKeysResponseSchema,
  ListTeamsResponseSchema,
  RevokeKeyResponseSchema,
  RotateKeyResponseSchema,
  SourceSchema,
  UnblockKeyResponseSchema,
  UpdateKeyResponseSchema,
  UpdateTeamResponseSchema,
  type ApiKey,
  type Budget,
  type KeyRole,
  type RateLimits,
  type SignalboxClient,
  type Team,
} from "@signalbox/client";
import { setup, usageError } from "../context.ts";
import { count, enumLabel, enumValue, listOf, seconds, time } from "../format.ts";
import { type Column, csv, fields, json, note, out, table, waiting } from "../output.ts";
import { type BudgetFlag, parseBudget, parseChoice, parseCount, parseCountOrNone, parseDuration, parseFutureTime, parseList } from "../parse.ts";

const ROLES = ["admin", "team", "service"] as const;
/** The page size of the listings the CLI reads whole (the gateway's maximum). */
export const LIST_PAGE = 500;

/**
 * A parsed count flag's value, or undefined for "none". parseCountOrNone returns null for "none",
 * but commander stores a parser's null as "" (its stand-in for a missing value): both clear.
 */
export const given = (v: number | null | undefined): number | undefined => (typeof v === "number" ? v : undefined);

/** A --budget flag as the API's Budget. */
export const budgetPb = (b: BudgetFlag): Budget => ({ $typeName: "signalbox.v1.Budget", limitUsd: b.limitUsd, period: enumValue(BudgetPeriodSchema, b.period) });
/** --rpm and --tpm as the API's RateLimits. */
export const limitsPb = (rpm: number | undefined, tpm: number | undefined): RateLimits => ({
  $typeName: "signalbox.v1.RateLimits",
  requestsPerMinute: rpm,
  tokensPerMinute: tpm === undefined ? undefined : BigInt(tpm),
});
/**
 * The limits an update sends: the --rpm/--tpm given ("none" clears one) over the current ones,
 * because a field mask naming "limits" replaces the whole message.
 */
export function mergedLimits(cur: RateLimits | undefined, o: { rpm?: number | null; tpm?: number | null }): RateLimits | undefined {
  const rpm = o.rpm === undefined ? cur?.requestsPerMinute : given(o.rpm);
  const tpm = o.tpm === undefined ? (cur?.tokensPerMinute === undefined ? undefined : Number(cur.tokensPerMinute)) : given(o.tpm);
  return rpm === undefined && tpm === undefined ? undefined : limitsPb(rpm, tpm);
}

const parseExpires = (s: string): Date | null => (s.trim() === "never" ? null : parseFutureTime(s));

// ── how keys and teams read ────────────────────────────────────────────────────────────────

/** "$10 / month" or "$100 lifetime" (never resets), with its warning threshold when set; "" for none. */
export function budgetText(b: Budget | undefined): string {
  if (!b) return "";
  const period = enumLabel(BudgetPeriodSchema, b.period);
  const amount = period === "lifetime" ? `$${b.limitUsd} lifetime` : `$${b.limitUsd} / ${period}`;
  return amount + (b.softThreshold !== undefined ? ` (warn at ${Math.round(b.softThreshold * 100)}%)` : "");
}

/** "600 requests/min, 50,000 tokens/min"; "" for none. */
export function limitsText(l: RateLimits | undefined): string {
  const parts = [];
  if (l?.requestsPerMinute !== undefined) parts.push(`${count(l.requestsPerMinute)} requests/min`);
  if (l?.tokensPerMinute !== undefined) parts.push(`${count(l.tokensPerMinute)} tokens/min`);
  return parts.join(", ");
}

const before = (t: Timestamp | undefined, now: number) => t !== undefined && timestampDate(t).getTime() <= now;

function keyState(k: ApiKey, now = Date.now()): string {
  if (k.revokeTime) return "revoked";
  // Before expiry and rotation: a blocked key is refused whatever else holds, until unblocked.
  if (k.blockTime) return "blocked";
  if (before(k.expireTime, now)) return "expired";
  if (k.previousSecretExpireTime && !before(k.previousSecretExpireTime, now)) return "rotating";
  return "active";
}

function describeKey(k: ApiKey): string {
  return fields([
    ["NAME", k.name],
    ["TEAM", k.team],
    ["ROLE", enumLabel(KeyRoleSchema, k.role)],
    ["PREFIX", k.prefix],
    ["STATE", keyState(k)],
    ["ALLOW", listOf(k.allow, "everything")],
    ["LIMITS", limitsText(k.limits)],
    ["PER USER", limitsText(k.perUserLimits)],
    ["BUDGET", budgetText(k.budget)],
    ["USER BUDGET", budgetText(k.perUserBudget)],
    ["MAX OUTPUT", k.maxOutputTokens !== undefined ? `${count(k.maxOutputTokens)} tokens` : ""],
    ["EXPIRES", time(k.expireTime)],
    ["OLD SECRET UNTIL", k.previousSecretExpireTime && !before(k.previousSecretExpireTime, Date.now()) ? time(k.previousSecretExpireTime) : ""],
    ["REVOKED", time(k.revokeTime)],
    ["BLOCKED", time(k.blockTime)],
    ["SOURCE", enumLabel(SourceSchema, k.source) + (k.createdBy ? ` (created by ${k.createdBy})` : "")],
    ["CREATED", time(k.createTime)],
    ["UPDATED", time(k.updateTime)],
    ["LAST USED", time(k.lastUsedTime)],
    ...Object.entries(k.metadata).map(([m, v]): [string, string] => [`META ${m}`, v]),
  ]);
}

const KEY_COLUMNS: Column<ApiKey>[] = [
  { header: "name", show: (k) => k.name },
  { header: "team", show: (k) => k.team },
  { header: "role", show: (k) => enumLabel(KeyRoleSchema, k.role) },
  { header: "prefix", show: (k) => k.prefix },
  { header: "state", show: (k) => keyState(k) },
  { header: "allow", show: (k) => listOf(k.allow, "*"), raw: (k) => k.allow.join(" ") },
  { header: "rpm", show: (k) => (k.limits?.requestsPerMinute !== undefined ? count(k.limits.requestsPerMinute) : ""), raw: (k) => k.limits?.requestsPerMinute ?? "", right: true },
  { header: "tpm", show: (k) => (k.limits?.tokensPerMinute !== undefined ? count(k.limits.tokensPerMinute) : ""), raw: (k) => k.limits?.tokensPerMinute ?? "", right: true },
  { header: "budget", show: (k) => budgetText(k.budget).replace(/ \(warn.*$/, "") },
  { header: "expires", show: (k) => time(k.expireTime) },
  { header: "last used", show: (k) => time(k.lastUsedTime) },
  { header: "source", show: (k) => enumLabel(SourceSchema, k.source) },
];

const TEAM_COLUMNS: Column<Team>[] = [
  { header: "name", show: (t) => t.name },
  { header: "budget", show: (t) => budgetText(t.budget).replace(/ \(warn.*$/, "") },
  { header: "key rpm", csv: "default_key_rpm", show: (t) => (t.defaultKeyLimits?.requestsPerMinute !== undefined ? count(t.defaultKeyLimits.requestsPerMinute) : ""), right: true },
  { header: "key tpm", csv: "default_key_tpm", show: (t) => (t.defaultKeyLimits?.tokensPerMinute !== undefined ? count(t.defaultKeyLimits.tokensPerMinute) : ""), right: true },
  { header: "keys", show: (t) => String(t.keyCount), right: true },
  { header: "source", show: (t) => enumLabel(SourceSchema, t.source) },
  { header: "created", show: (t) => time(t.createTime) },
];

function describeTeam(t: Team): string {
  return fields([
    ["NAME", t.name],
    ["BUDGET", budgetText(t.budget)],
    ["KEY LIMITS", limitsText(t.defaultKeyLimits)],
    ["KEYS", String(t.keyCount)],
    ["SOURCE", enumLabel(SourceSchema, t.source)],
    ["CREATED", time(t.createTime)],
    ["UPDATED", time(t.updateTime)],
  ]);
}

/** The secret, alone on stdout; how to use it on stderr. */
async function showSecret(secret: string, what: string): Promise<void> {
  note(`${what}\nThe secret below is shown this once: store it now. Callers send it as "Authorization: Bearer <secret>" (this CLI reads SIGNALBOX_API_KEY).`);
  await out(`${secret}\n`);
}

// ── keys ───────────────────────────────────────────────────────────────────────────────────

interface KeyFlags {
  allow?: string[];
  rpm?: number | null;
  tpm?: number | null;
  budget?: BudgetFlag | null;
  userBudget?: BudgetFlag | null;
  expires?: Date | null;
  maxOutputTokens?: number | null;
  role?: string;
}

export function keyCommands(program: Command): void {
  const keys = program.command("keys").description("caller keys: create, list, get, update, block, unblock, revoke, rotate (admin and team keys)");

  keys
    .command("create")
    .description("issue a key; its secret is printed once, alone on stdout")
    .requiredOption("--name <name>", "unique name, [a-z0-9][a-z0-9._-]*")
    .requiredOption("--team <team>", "the team it belongs to")
    .option("--role <role>", `${ROLES.join(", ")}`, parseChoice(ROLES), "service")
    .option("--allow <models>", "routes, aliases or deployments it may call, comma-separated (default: everything)", parseList)
    .option("--rpm <n>", "requests per minute", parseCount(1))
    .option("--tpm <n>", "tokens per minute", parseCount(1))
    .option("--budget <usd/period>", "spending limit, e.g. 10/month, 2.50/day, 100/lifetime (never resets)", (s) => nonNull(parseBudget(s), "--budget"))
    .option("--user-budget <usd/period>", "spending limit of each end user of the key (the requests' user), e.g. 1/day, 5/lifetime", (s) => nonNull(parseBudget(s), "--user-budget"))
    .option("--expires <time>", "when it stops working: a duration from now (30d) or RFC 3339", (s) => parseFutureTime(s))
    .option("--max-output-tokens <n>", "cap on every request's output tokens", parseCount(1))
    .addHelpText("after", "\nExample:\n  SECRET=$(signalbox keys create --name search-indexer --team search --role service --allow default --rpm 600 --budget 10/month --expires 90d)")
    .action(async (o: KeyFlags & { name: string; team: string; role: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("creating the key", () =>
        sb.admin.createKey({
          key: {
            name: o.name,
            team: o.team,
            role: enumValue(KeyRoleSchema, o.role),
            allow: o.allow ?? [],
            limits: o.rpm != null || o.tpm != null ? limitsPb(o.rpm ?? undefined, o.tpm ?? undefined) : undefined,
            budget: o.budget ? budgetPb(o.budget) : undefined,
            perUserBudget: o.userBudget ? budgetPb(o.userBudget) : undefined,
            expireTime: o.expires ? timestampFromDate(o.expires) : undefined,
            maxOutputTokens: given(o.maxOutputTokens),
          },
        }),
      );
      if (mode === "json") return json(toJson(CreateKeyResponseSchema, res));
      const k = res.key!;
      await showSecret(res.secret, `Created key "${k.name}" (team ${k.team}, role ${enumLabel(KeyRoleSchema, k.role)}, prefix ${k.prefix}).`);
    });

  keys
    .command("list")
    .description("keys (never their secrets), by name")
    .option("--team <team>", "only this team's keys")
    .option("--all", "include revoked keys")
    .action(async (o: { team?: string; all?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const list = await waiting("listing keys", () =>
        allPages(async (pageToken) => {
          const p = await sb.admin.listKeys({ team: o.team ?? "", includeRevoked: !!o.all, pageSize: LIST_PAGE, pageToken });
          return { items: p.keys, next: p.nextPageToken };
        }),
      );
      if (mode === "json") return json(toJson(ListKeysResponseSchema, { $typeName: "signalbox.v1.ListKeysResponse", keys: list, nextPageToken: "" }));
      if (mode === "csv") return out(csv(KEY_COLUMNS, list));
      await out(list.length ? table(KEY_COLUMNS, list) : "no keys\n");
    });

  keys
    .command("get")
    .description("one key")
    .argument("<name>", "the key's name")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("reading the key", () => sb.admin.getKey({ name }));
      if (mode === "json") return json(toJson(GetKeyResponseSchema, res));
      await out(describeKey(res.key!));
    });

  keys
    .command("update")
    .description("change a key: only the settings given are changed")
    .argument("<name>", "the key's name")
    .option("--allow <models>", 'routes, aliases or deployments, comma-separated ("" = everything)', parseList)
    .option("--rpm <n>", 'requests per minute ("none" removes the limit)', parseCountOrNone(1))
    .option("--tpm <n>", 'tokens per minute ("none" removes the limit)', parseCountOrNone(1))
    .option("--budget <usd/period>", 'e.g. 10/month, 100/lifetime ("none" removes it)', parseBudget)
    .option("--user-budget <usd/period>", 'each end user\'s spending limit, e.g. 1/day, 5/lifetime ("none" removes it)', parseBudget)
    .option("--expires <time>", 'a duration from now (30d), RFC 3339, or "never"', parseExpires)
    .option("--max-output-tokens <n>", '"none" removes the cap', parseCountOrNone(1))
    .option("--role <role>", `${ROLES.join(", ")}`, parseChoice(ROLES))
    .addHelpText("after", "\nExamples:\n  signalbox keys update search-indexer --rpm 60\n  signalbox keys update search-indexer --allow default,fast --budget none")
    .action(async (name: string, o: KeyFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("updating the key", async () => {
        const { key, paths } = await keyUpdate(sb, name, o);
        return sb.admin.updateKey({ key, updateMask: { paths } });
      });
      if (mode === "json") return json(toJson(UpdateKeyResponseSchema, res));
      await out(describeKey(res.key!));
    });

  keys
    .command("revoke")
    .description("stop a key everywhere within a second (it stays listed, as revoked)")
    .argument("<name>", "the key's name")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("revoking the key", () => sb.admin.revokeKey({ name }));
      if (mode === "json") return json(toJson(RevokeKeyResponseSchema, res));
      await out(`revoked key "${name}" at ${time(res.key?.revokeTime)}\n`);
    });

  keys
    .command("block")
    .description("refuse a key's requests everywhere within a second, until `keys unblock` (it keeps its secret and settings)")
    .argument("<name>", "the key's name")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("blocking the key", () => sb.admin.blockKey({ name }));
      if (mode === "json") return json(toJson(BlockKeyResponseSchema, res));
      await out(`blocked key "${name}" since ${time(res.key?.blockTime)}\n`);
    });

  keys
    .command("unblock")
    .description("let a blocked key call again")
    .argument("<name>", "the key's name")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("unblocking the key", () => sb.admin.unblockKey({ name }));
      if (mode === "json") return json(toJson(UnblockKeyResponseSchema, res));
      await out(`unblocked key "${name}"\n`);
    });

  keys
    .command("rotate")
    .description("issue a new secret; the old one keeps working for --grace")
    .argument("<name>", "the key's name")
    .option("--grace <duration>", "how long the old secret keeps working (0s to 30d)", parseDuration, 0)
    .action(async (name: string, o: { grace: number }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("rotating the key", () => sb.admin.rotateKey({ name, graceSeconds: Math.round(o.grace / 1000) }));
      if (mode === "json") return json(toJson(RotateKeyResponseSchema, res));
      const old = res.key?.previousSecretExpireTime;
      await showSecret(res.secret, `Rotated key "${name}". ${o.grace > 0 && old ? `The old secret works until ${time(old)} (${seconds(Math.round(o.grace / 1000))}).` : "The old secret stopped working."}`);
    });
}

/** The key to send and the mask naming what the flags change. */
/** The fields of an ApiKey an update may send. */
interface KeyPatch {
  name: string;
  allow?: string[];
  limits?: RateLimits;
  budget?: Budget;
  perUserBudget?: Budget;
  expireTime?: Timestamp;
  maxOutputTokens?: number;
  role?: KeyRole;
}

async function keyUpdate(sb: SignalboxClient, name: string, o: KeyFlags): Promise<{ key: KeyPatch; paths: string[] }> {
  const paths: string[] = [];
  const key: KeyPatch = { name };
  if (o.allow !== undefined) {
    paths.push("allow");
    key.allow = o.allow;
  }
  if (o.rpm !== undefined || o.tpm !== undefined) {
    paths.push("limits");
    key.limits = mergedLimits((await sb.admin.getKey({ name })).key?.limits, o);
  }
  if (o.budget !== undefined) {
    paths.push("budget");
    key.budget = o.budget ? budgetPb(o.budget) : undefined;
  }
  if (o.userBudget !== undefined) {
    paths.push("per_user_budget");
    key.perUserBudget = o.userBudget ? budgetPb(o.userBudget) : undefined;
  }
  if (o.expires !== undefined) {
    paths.push("expire_time");
    key.expireTime = o.expires ? timestampFromDate(o.expires) : undefined;
  }
  if (o.maxOutputTokens !== undefined) {
    paths.push("max_output_tokens");
    key.maxOutputTokens = given(o.maxOutputTokens);
  }
  if (o.role !== undefined) {
    paths.push("role");
    key.role = enumValue(KeyRoleSchema, o.role);
  }
  if (!paths.length) throw usageError("nothing to change", "name at least one of --allow, --rpm, --tpm, --budget, --user-budget, --expires, --max-output-tokens, --role");
  return { key, paths };
}

// ── teams ──────────────────────────────────────────────────────────────────────────────────

interface TeamFlags {
  budget?: BudgetFlag | null;
  rpm?: number | null;
  tpm?: number | null;
}

/** `signalbox whoami`: who the key in use is (AdminService.GetCaller; any key may ask). */
export function whoamiCommand(program: Command): void {
  program
    .command("whoami")
    .description("who the key in use is: name, team, role")
    .action(async (_o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("asking the gateway", () => sb.admin.getCaller({}));
      if (mode === "json") return json(toJson(GetCallerResponseSchema, res));
      await out(
        res.authEnabled
          ? fields([
              ["key", res.key],
              ["team", res.team],
              ["role", enumLabel(KeyRoleSchema, res.role)],
            ])
          : "auth is off on this gateway: every caller is anonymous and may do everything\n",
      );
    });
}

export function teamCommands(program: Command): void {
  const teams = program.command("teams").description("teams, their budgets and their keys' default limits: list, create, update, delete");

  teams
    .command("list")
    .description("teams, by name")
    .action(async (_o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const list = await waiting("listing teams", () => listTeams(sb));
      if (mode === "json") return json(toJson(ListTeamsResponseSchema, { $typeName: "signalbox.v1.ListTeamsResponse", teams: list, nextPageToken: "" }));
      if (mode === "csv") return out(csv(TEAM_COLUMNS, list));
      await out(list.length ? table(TEAM_COLUMNS, list) : "no teams\n");
    });

  teams
    .command("create")
    .description("create a team")
    .requiredOption("--name <name>", "unique name, [a-z0-9][a-z0-9._-]*")
    .option("--budget <usd/period>", "spending limit of the whole team, e.g. 500/month, 1000/lifetime (never resets)", (s) => nonNull(parseBudget(s), "--budget"))
    .option("--rpm <n>", "requests per minute of each key that sets none", parseCount(1))
    .option("--tpm <n>", "tokens per minute of each key that sets none", parseCount(1))
    .action(async (o: TeamFlags & { name: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("creating the team", () =>
        sb.admin.createTeam({
          team: {
            name: o.name,
            budget: o.budget ? budgetPb(o.budget) : undefined,
            defaultKeyLimits: o.rpm != null || o.tpm != null ? limitsPb(o.rpm ?? undefined, o.tpm ?? undefined) : undefined,
          },
        }),
      );
      if (mode === "json") return json(toJson(CreateTeamResponseSchema, res));
      await out(describeTeam(res.team!));
    });

  teams
    .command("update")
    .description("change a team: only the settings given are changed")
    .argument("<name>", "the team's name")
    .option("--budget <usd/period>", 'e.g. 500/month, 1000/lifetime ("none" removes it)', parseBudget)
    .option("--rpm <n>", 'default requests per minute of its keys ("none" removes it)', parseCountOrNone(1))
    .option("--tpm <n>", 'default tokens per minute of its keys ("none" removes it)', parseCountOrNone(1))
    .action(async (name: string, o: TeamFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const paths: string[] = [];
      if (o.budget !== undefined) paths.push("budget");
      if (o.rpm !== undefined || o.tpm !== undefined) paths.push("default_key_limits");
      if (!paths.length) throw usageError("nothing to change", "name at least one of --budget, --rpm, --tpm");
      const res = await waiting("updating the team", async () => {
        // AdminService has no GetTeam: the current limits come from the listing.
        const limits = paths.includes("default_key_limits") ? mergedLimits((await listTeams(sb)).find((t) => t.name === name)?.defaultKeyLimits, o) : undefined;
        return sb.admin.updateTeam({ team: { name, budget: o.budget ? budgetPb(o.budget) : undefined, defaultKeyLimits: limits }, updateMask: { paths } });
      });
      if (mode === "json") return json(toJson(UpdateTeamResponseSchema, res));
      await out(describeTeam(res.team!));
    });

  teams
    .command("delete")
    .description("delete a team (refused while it has keys, revoked ones included)")
    .argument("<name>", "the team's name")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      await waiting("deleting the team", () => sb.admin.deleteTeam({ name }));
      if (mode === "json") return json({ deleted: name });
      await out(`deleted team "${name}"\n`);
    });
}

function listTeams(sb: SignalboxClient): Promise<Team[]> {
  return allPages(async (pageToken) => {
    const p = await sb.admin.listTeams({ pageSize: LIST_PAGE, pageToken });
    return { items: p.teams, next: p.nextPageToken };
  });
}

/** Every item of a paginated listing, page after page. */
export async function allPages<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  do {
    const p = await page(token);
    all.push(...p.items);
    token = p.next;
  } while (token);
  return all;
}

/** A create flag's value: "none" (which only an update may send) is bad usage. */
export function nonNull<T>(v: T | null, flag: string): T {
  if (v === null) throw new InvalidArgumentError(`"none" only makes sense for updates: leave ${flag} out instead`);
  return v;
}
