// `signalbox end-users …`: AdminService's end users, the `user` of a team's requests given a
// budget, limits or a block of their own across all the team's keys. Written as `keys …` is
// (admin.ts): the same flags, output modes and errors. --team may be left out: the gateway takes
// the caller's team.

import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import {
  CreateEndUserResponseSchema,
  DeleteEndUserResponseSchema,
  GetEndUserResponseSchema,
  ListEndUsersResponseSchema,
  UpdateEndUserResponseSchema,
  type Budget,
  type EndUser,
  type RateLimits,
  type SignalboxClient,
} from "@signalbox/client";
import { setup, usageError } from "../context.ts";
import { count, time } from "../format.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";
import { type BudgetFlag, parseBudget, parseCount, parseCountOrNone } from "../parse.ts";
import { parsePair } from "../request.ts";
import { allPages, budgetPb, budgetText, LIST_PAGE, limitsPb, limitsText, mergedLimits, nonNull } from "./admin.ts";

const TEAM_HELP = "the team whose requests name the user (default: the key's own team)";

// ── how end users read ─────────────────────────────────────────────────────────────────────

const state = (u: EndUser) => (u.blocked ? "blocked" : "active");
/** `end user "ana" of team "search"`: how every message names one. */
const who = (u: { team: string; user: string }) => `end user "${u.user}"${u.team ? ` of team "${u.team}"` : ""}`;

function describeEndUser(u: EndUser): string {
  return fields([
    ["TEAM", u.team],
    ["USER", u.user],
    ["STATE", state(u)],
    ["BUDGET", budgetText(u.budget)],
    ["LIMITS", limitsText(u.limits)],
    ["BLOCKED", time(u.blockTime)],
    ["CREATED", time(u.createTime) + (u.createdBy ? ` (by ${u.createdBy})` : "")],
    ["UPDATED", time(u.updateTime)],
    ...Object.entries(u.metadata).map(([m, v]): [string, string] => [`META ${m}`, v]),
  ]);
}

const END_USER_COLUMNS: Column<EndUser>[] = [
  { header: "team", show: (u) => u.team },
  { header: "user", show: (u) => u.user },
  { header: "state", show: state },
  { header: "rpm", show: (u) => (u.limits?.requestsPerMinute !== undefined ? count(u.limits.requestsPerMinute) : ""), raw: (u) => u.limits?.requestsPerMinute ?? "", right: true },
  { header: "tpm", show: (u) => (u.limits?.tokensPerMinute !== undefined ? count(u.limits.tokensPerMinute) : ""), raw: (u) => u.limits?.tokensPerMinute ?? "", right: true },
  { header: "budget", show: (u) => budgetText(u.budget).replace(/ \(warn.*$/, "") },
  { header: "blocked since", csv: "block_time", show: (u) => time(u.blockTime) },
  { header: "created by", show: (u) => u.createdBy },
];

// ── the commands ───────────────────────────────────────────────────────────────────────────

interface EndUserFlags {
  team?: string;
  budget?: BudgetFlag | null;
  rpm?: number | null;
  tpm?: number | null;
  meta?: Record<string, string>;
}

export function endUserCommands(program: Command): void {
  const endUsers = program
    .command("end-users")
    .description("a team's end users (the requests' user) with a budget, limits or a block of their own: create, list, get, update, block, unblock, delete (admin and team keys)");

  endUsers
    .command("create")
    .description("give one user of a team rules of their own, beside their key's")
    .argument("<user>", "the requests' user, exactly (1 to 256 characters)")
    .option("--team <team>", TEAM_HELP)
    .option("--budget <usd/period>", "their spending limit across the team's keys, e.g. 5/day, 20/lifetime (never resets)", (s) => nonNull(parseBudget(s), "--budget"))
    .option("--rpm <n>", "their requests per minute", parseCount(1))
    .option("--tpm <n>", "their tokens per minute", parseCount(1))
    .option("--blocked", "refuse their requests from the start")
    .option("--meta <key=value>", "metadata entries of your own, repeatable", parsePair)
    .addHelpText("after", "\nExample:\n  signalbox end-users create ana@example.com --team search --budget 2/day --rpm 20")
    .action(async (user: string, o: EndUserFlags & { blocked?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("creating the end user", () =>
        sb.admin.createEndUser({
          endUser: {
            team: o.team ?? "",
            user,
            budget: o.budget ? budgetPb(o.budget) : undefined,
            limits: o.rpm != null || o.tpm != null ? limitsPb(o.rpm ?? undefined, o.tpm ?? undefined) : undefined,
            blocked: !!o.blocked,
            metadata: o.meta ?? {},
          },
        }),
      );
      if (mode === "json") return json(toJson(CreateEndUserResponseSchema, res));
      await out(describeEndUser(res.endUser!));
    });

  endUsers
    .command("list")
    .description("end users, by team then user")
    .option("--team <team>", "only this team's (a team key sees only its own team's)")
    .action(async (o: { team?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const list = await waiting("listing end users", () =>
        allPages(async (pageToken) => {
          const p = await sb.admin.listEndUsers({ team: o.team ?? "", pageSize: LIST_PAGE, pageToken });
          return { items: p.endUsers, next: p.nextPageToken };
        }),
      );
      if (mode === "json") return json(toJson(ListEndUsersResponseSchema, { $typeName: "signalbox.v1.ListEndUsersResponse", endUsers: list, nextPageToken: "" }));
      if (mode === "csv") return out(csv(END_USER_COLUMNS, list));
      await out(list.length ? table(END_USER_COLUMNS, list) : "no end users\n");
    });

  endUsers
    .command("get")
    .description("one end user")
    .argument("<user>", "the requests' user")
    .option("--team <team>", TEAM_HELP)
    .action(async (user: string, o: { team?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("reading the end user", () => sb.admin.getEndUser({ team: o.team ?? "", user }));
      if (mode === "json") return json(toJson(GetEndUserResponseSchema, res));
      await out(describeEndUser(res.endUser!));
    });

  endUsers
    .command("update")
    .description("change an end user: only the settings given are changed")
    .argument("<user>", "the requests' user")
    .option("--team <team>", TEAM_HELP)
    .option("--budget <usd/period>", 'e.g. 5/day, 20/lifetime ("none" removes it)', parseBudget)
    .option("--rpm <n>", 'requests per minute ("none" removes the limit)', parseCountOrNone(1))
    .option("--tpm <n>", 'tokens per minute ("none" removes the limit)', parseCountOrNone(1))
    .option("--meta <key=value>", 'set a metadata entry, repeatable ("key=" removes it)', parsePair)
    .addHelpText("after", "\nExamples:\n  signalbox end-users update ana@example.com --team search --rpm 60\n  signalbox end-users update ana@example.com --team search --budget none --tpm none")
    .action(async (user: string, o: EndUserFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("updating the end user", async () => {
        const { endUser, paths } = await endUserUpdate(sb, user, o);
        return sb.admin.updateEndUser({ endUser, updateMask: { paths } });
      });
      if (mode === "json") return json(toJson(UpdateEndUserResponseSchema, res));
      await out(describeEndUser(res.endUser!));
    });

  endUsers
    .command("block")
    .description("refuse a user's requests on every key of the team within a second, until `end-users unblock` (the team's other users go on)")
    .argument("<user>", "the requests' user")
    .option("--team <team>", TEAM_HELP)
    .action(async (user: string, o: { team?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("blocking the end user", () => sb.admin.updateEndUser({ endUser: { team: o.team ?? "", user, blocked: true }, updateMask: { paths: ["blocked"] } }));
      if (mode === "json") return json(toJson(UpdateEndUserResponseSchema, res));
      await out(`blocked ${who(res.endUser!)} since ${time(res.endUser?.blockTime)}\n`);
    });

  endUsers
    .command("unblock")
    .description("let a blocked user call again, held to their budget and limits")
    .argument("<user>", "the requests' user")
    .option("--team <team>", TEAM_HELP)
    .action(async (user: string, o: { team?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("unblocking the end user", () => sb.admin.updateEndUser({ endUser: { team: o.team ?? "", user, blocked: false }, updateMask: { paths: ["blocked"] } }));
      if (mode === "json") return json(toJson(UpdateEndUserResponseSchema, res));
      await out(`unblocked ${who(res.endUser!)}\n`);
    });

  endUsers
    .command("delete")
    .description("remove an end user's own rules: they are held to their key's rules only")
    .argument("<user>", "the requests' user")
    .option("--team <team>", TEAM_HELP)
    .action(async (user: string, o: { team?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("deleting the end user", () => sb.admin.deleteEndUser({ team: o.team ?? "", user }));
      if (mode === "json") return json(toJson(DeleteEndUserResponseSchema, res));
      await out(`deleted ${who(res.endUser ?? { team: o.team ?? "", user })}\n`);
    });
}

/** The fields of an EndUser an update may send. */
interface EndUserPatch {
  team: string;
  user: string;
  budget?: Budget;
  limits?: RateLimits;
  metadata?: Record<string, string>;
}

/** The end user to send and the mask naming what the flags change. */
async function endUserUpdate(sb: SignalboxClient, user: string, o: EndUserFlags): Promise<{ endUser: EndUserPatch; paths: string[] }> {
  const paths: string[] = [];
  const endUser: EndUserPatch = { team: o.team ?? "", user };
  if (o.budget === undefined && o.rpm === undefined && o.tpm === undefined && o.meta === undefined) {
    throw usageError("nothing to change", "name at least one of --budget, --rpm, --tpm, --meta (or use `end-users block`/`unblock`)");
  }
  // A mask naming "limits" or "metadata" replaces the whole message or map: the flags given are
  // laid over the current ones, so --tpm keeps the rpm that was set and --meta the other entries.
  const cur = o.rpm !== undefined || o.tpm !== undefined || o.meta !== undefined ? (await sb.admin.getEndUser({ team: endUser.team, user })).endUser : undefined;
  if (o.budget !== undefined) {
    paths.push("budget");
    endUser.budget = o.budget ? budgetPb(o.budget) : undefined;
  }
  if (o.rpm !== undefined || o.tpm !== undefined) {
    paths.push("limits");
    endUser.limits = mergedLimits(cur?.limits, o);
  }
  if (o.meta !== undefined) {
    paths.push("metadata");
    const merged = { ...cur?.metadata, ...o.meta };
    endUser.metadata = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== ""));
  }
  return { endUser, paths };
}
