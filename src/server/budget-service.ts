// UsageService.GetBudget: budgets (limit, spent, held by requests in flight, remaining, reset)
// and rate-limit state for a key and its team, as the shared limiter sees them.

import { projectedSpend } from "../alerts/budget-forecast.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { BudgetPeriod, GetBudgetResponseSchema, Scope, type BudgetStatus, type RateLimitStatus, type UsageService } from "../../gen/signalbox/v1/usage_pb.ts";
import type { BudgetConfig, KeyConfig } from "../config/types.ts";
import type { GatewayCore } from "../gateway.ts";
import { periodBounds } from "../limits/periods.ts";
import { endUserScopeId, userBudgetId } from "../limits/admission.ts";
import { GatewayError } from "../router/errors.ts";
import { callerKey } from "./auth.ts";
import { requestInfoKey } from "./context.ts";
import { toConnectError } from "./errors.ts";
import { validateGetBudget } from "./validate.ts";

const PERIOD = { day: BudgetPeriod.DAY, week: BudgetPeriod.WEEK, month: BudgetPeriod.MONTH, lifetime: BudgetPeriod.LIFETIME } as const;
const MINUTE = 60_000;

/** The budget's projection to the end of its period, as BudgetStatus fields (none when it cannot be projected). */
function projectionPb(period: BudgetConfig["period"], spentNanos: number, limitNanos: number, now: number) {
  const p = projectedSpend(period, spentNanos, limitNanos, now);
  if (!p) return {};
  return { projectedNanoUsd: BigInt(p.projectedNanos), ...(p.exhaustedAt !== undefined ? { projectedExhaustionTime: timestampFromMs(p.exhaustedAt) } : {}) };
}

export function budgetService(core: GatewayCore): Partial<ServiceImpl<typeof UsageService>> {
  // Keys and teams from the in-memory directory (config file and control plane), read at call
  // time: reloads and AdminService change them. A key without limits of its own has its team's.
  const keyNamed = (name: string): KeyConfig | undefined => {
    const k = core.control.directory.key(name);
    if (!k) return undefined;
    const own = k.limits.requestsPerMinute !== undefined || k.limits.tokensPerMinute !== undefined;
    const limits = own ? k.limits : (core.control.directory.team(k.team)?.defaultKeyLimits ?? k.limits);
    return { name: k.name, hash: "", team: k.team, role: k.role, allow: k.allow, limits, perUserLimits: k.perUserLimits, budget: k.budget, perUserBudget: k.perUserBudget, maxOutputTokens: k.maxOutputTokens };
  };
  const teamNamed = (name: string) => core.control.directory.team(name);

  async function budget(scope: Scope, name: string, shard: string, id: string, b: BudgetConfig, now: number): Promise<BudgetStatus> {
    const st = await core.limits.budgetState(shard, id, b.period, now);
    const limit = Math.round(b.limitUsd * 1e9);
    return {
      $typeName: "signalbox.v1.BudgetStatus",
      scope,
      name,
      period: PERIOD[b.period],
      limitNanoUsd: BigInt(limit),
      spentNanoUsd: BigInt(st.spentNanos),
      reservedNanoUsd: BigInt(st.reservedNanos),
      remainingNanoUsd: BigInt(Math.max(0, limit - st.spentNanos - st.reservedNanos)),
      resetTime: b.period === "lifetime" ? undefined : timestampFromMs(periodBounds(b.period, now).end),
      softThreshold: b.softThreshold,
      exceeded: st.spentNanos >= limit,
      ...projectionPb(b.period, st.spentNanos, limit, now),
    };
  }

  async function rates(k: KeyConfig, now: number): Promise<RateLimitStatus[]> {
    const shard = `team:${k.team}`;
    const rpm = k.limits.requestsPerMinute;
    const tpm = k.limits.tokensPerMinute;
    if (!rpm && !tpm) return [];
    const [r, t] = await Promise.all([
      rpm ? core.limits.rateState(shard, `key:${k.name}:rpm`, MINUTE, now) : undefined,
      tpm ? core.limits.rateState(shard, `key:${k.name}:tpm`, MINUTE, now) : undefined,
    ]);
    return [
      {
        $typeName: "signalbox.v1.RateLimitStatus",
        scope: Scope.KEY,
        name: k.name,
        requestsPerMinute: rpm ?? 0,
        remainingRequests: rpm ? Math.max(0, Math.floor(rpm - (r?.used ?? 0))) : 0,
        tokensPerMinute: BigInt(tpm ?? 0),
        remainingTokens: BigInt(tpm ? Math.max(0, Math.floor(tpm - (t?.used ?? 0))) : 0),
        resetTime: timestampFromMs(now - (now % MINUTE) + MINUTE),
      },
    ];
  }

  return {
    async getBudget(req, ctx) {
      const ri = ctx.values.get(requestInfoKey);
      try {
        validateGetBudget(req);
        const caller = ctx.values.get(callerKey);
        const now = Date.now();
        const keyName = req.key || (caller.role === "anonymous" ? "" : caller.keyName);
        const key = keyName ? keyNamed(keyName) : undefined;
        if (keyName && !key) throw new GatewayError("not_found", `key: unknown key "${keyName}"`, { field: "key" });
        const teamName = req.team || key?.team || (caller.role === "anonymous" ? "" : caller.team);
        // Who may see what: admins (and auth off) everything; a team key its own team and its
        // team's keys; a service key only itself and its team's budget.
        if (caller.role === "team" || caller.role === "service") {
          if (teamName && teamName !== caller.team) throw new GatewayError("permission_denied", `team: key "${caller.keyName}" may not read team "${teamName}"`, { field: "team" });
          if (key && key.team !== caller.team) throw new GatewayError("permission_denied", `key: key "${caller.keyName}" may not read key "${key.name}"`, { field: "key" });
          if (caller.role === "service" && key && key.name !== caller.keyName) {
            throw new GatewayError("permission_denied", `key: a service key may only read its own budget`, { field: "key" });
          }
        }
        const budgets: BudgetStatus[] = [];
        if (key?.budget) budgets.push(await budget(Scope.KEY, key.name, `team:${key.team}`, `key:${key.name}`, key.budget, now));
        if (req.user) {
          // Two budgets may hold an end user: their key's per_user_budget ("key:user") and the one
          // their team gave them (AdminService end users, "@team:user").
          const own = teamName ? core.control.directory.endUser(teamName, req.user)?.budget : undefined;
          if (!key && !own) throw new GatewayError("invalid_argument", `user: end user "${req.user}" has no budget of their own in team "${teamName}": name the key whose per_user_budget holds them, or call with it`, { field: "user" });
          if (key && !key.perUserBudget && !own) throw new GatewayError("failed_precondition", `user: key "${key.name}" has no per_user_budget, and team "${teamName}" gives end user "${req.user}" no budget`, { field: "user" });
          if (key?.perUserBudget) budgets.push(await budget(Scope.USER, `${key.name}:${req.user}`, `team:${key.team}`, userBudgetId(key.name, req.user), key.perUserBudget, now));
          if (own) budgets.push(await budget(Scope.USER, `@${teamName}:${req.user}`, `team:${teamName}`, endUserScopeId(teamName, req.user), own, now));
        }
        const team = teamName ? teamNamed(teamName) : undefined;
        if (team?.budget) budgets.push(await budget(Scope.TEAM, team.name, `team:${team.name}`, `team:${team.name}`, team.budget, now));
        return create(GetBudgetResponseSchema, { budgets, rateLimits: key ? await rates(key, now) : [] });
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri?.traceId ?? "");
      }
    },
  };
}
