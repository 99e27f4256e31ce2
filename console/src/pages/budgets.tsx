// Budgets & limits: GetBudget for a team and key (spent, held by requests in flight, remaining,
// when it resets) and the key's rate-limit windows. Admins pick any team and key, team keys the
// keys of their team; service keys see their own. With an end user named (the requests' `user`),
// that user's budget under the key's per-user budget shows too.

import { useQuery } from "@connectrpc/connect-query";
import { BudgetPeriod, type BudgetStatus, BudgetPeriodSchema, type RateLimitStatus, ScopeSchema, UsageService } from "@signalbox/client";
import { useDeferredValue, useState } from "react";
import { count, dateTime, enumName, relative, usd } from "../format.ts";
import { KeyPicker, TeamPicker } from "../pickers.tsx";
import { type Identity, isAdmin } from "../session.ts";
import { Badge, Card, Empty, ErrorBox, Field, Loading, PageHeader } from "../ui.tsx";

export function BudgetsPage({ identity }: { identity: Identity }) {
  const admin = isAdmin(identity);
  const [team, setTeam] = useState(admin ? "" : identity.team);
  const [key, setKey] = useState("");
  const [user, setUser] = useState("");
  // An end user's budget is a key's: it is asked for once a key is chosen (a service key: its own).
  const keyed = !!key || identity.role === "service";
  const askedUser = useDeferredValue(keyed ? user.trim() : "");
  const q = useQuery(UsageService.method.getBudget, { team, key, user: askedUser });
  const budgets = q.data?.budgets ?? [];
  const rates = q.data?.rateLimits ?? [];
  return (
    <>
      <PageHeader title="Budgets & limits" subtitle="Spend against each budget in its current period, what requests in flight hold, and the rate-limit windows." />
      <Card>
        <div className="toolbar">
          {identity.role !== "service" && (
            <>
              <Field label="Team">{admin ? <TeamPicker value={team} onChange={(t) => (setTeam(t), setKey(""))} /> : <input value={identity.team} readOnly aria-label="Team" />}</Field>
              <Field label="Key">
                <KeyPicker team={team} value={key} onChange={setKey} />
              </Field>
            </>
          )}
          <Field label="End user">
            <input
              value={user}
              onChange={(e) => setUser(e.target.value)}
              name="user"
              aria-label="End user"
              placeholder={keyed ? "the requests' user (optional)" : "choose a key first"}
              disabled={!keyed}
              title="Shows this end user's budget under the key's per-user budget"
            />
          </Field>
        </div>
      </Card>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : (
        q.data && (
          <>
            {budgets.length === 0 ? (
              <Empty>No budget applies to {appliesTo(key, team, askedUser)}.</Empty>
            ) : (
              <div className="grid-2">
                {budgets.map((b) => (
                  <BudgetCard key={`${b.scope}-${b.name}`} b={b} />
                ))}
              </div>
            )}
            <Card title="Rate limits">
              {rates.length === 0 ? <Empty>{key ? `Key ${key} has no rate limits.` : "Choose a key to see its rate-limit windows."}</Empty> : <RateTable rates={rates} />}
            </Card>
          </>
        )
      )}
    </>
  );
}

/** Whom the budgets asked for are of, for the empty state: "key k or team t", "end user u of key k". */
function appliesTo(key: string, team: string, user: string): string {
  const k = key ? `key ${key}` : "your key";
  const parts = [user ? `end user ${user} of ${k}` : key || !team ? k : "", team ? `team ${team}` : ""].filter(Boolean);
  return parts.join(" or ");
}

function BudgetCard({ b }: { b: BudgetStatus }) {
  const limit = Number(b.limitNanoUsd);
  const pct = (n: bigint) => (limit > 0 ? Math.min(100, (Number(n) / limit) * 100) : 0);
  const spent = pct(b.spentNanoUsd);
  const lifetime = b.period === BudgetPeriod.LIFETIME;
  const held = Math.min(100 - spent, pct(b.reservedNanoUsd));
  const scope = enumName(ScopeSchema, b.scope, "SCOPE_");
  // A user's budget is named "<key>:<user>": shown as the end user of the key.
  const sep = b.name.indexOf(":");
  return (
    <Card
      title={
        scope === "user" && sep > 0 ? (
          <>
            end user <strong>{b.name.slice(sep + 1)}</strong> <span className="muted">of key {b.name.slice(0, sep)}</span>
          </>
        ) : (
          <>
            {scope} <strong>{b.name}</strong>
          </>
        )
      }
      actions={b.exceeded ? <Badge tone="bad">exceeded</Badge> : spent >= b.softThreshold * 100 ? <Badge tone="warn">over {Math.round(b.softThreshold * 100)}%</Badge> : <Badge tone="ok">within budget</Badge>}
    >
      <div className="budget" data-testid="budget" data-scope={scope} data-name={b.name}>
        <div className="budget-figures">
          <div>
            <span className="muted">Spent</span> <strong>{usd(b.spentNanoUsd)}</strong>
          </div>
          <div>
            <span className="muted">Held</span> <strong>{usd(b.reservedNanoUsd)}</strong>
          </div>
          <div>
            <span className="muted">Remaining</span> <strong>{usd(b.remainingNanoUsd)}</strong>
          </div>
          <div>
            <span className="muted">Limit</span> <strong>{usd(b.limitNanoUsd)}</strong> <span className="muted">{lifetime ? "lifetime" : `per ${enumName(BudgetPeriodSchema, b.period, "BUDGET_PERIOD_")}`}</span>
          </div>
        </div>
        <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(spent + held)} aria-label={`${b.name} budget used`}>
          <div className="meter-spent" style={{ width: `${spent}%` }} />
          <div className="meter-held" style={{ width: `${held}%` }} />
          <div className="meter-soft" style={{ left: `${b.softThreshold * 100}%` }} title={`warning at ${Math.round(b.softThreshold * 100)}%`} />
        </div>
        <div className="muted small">
          {lifetime || !b.resetTime ? (
            "Never resets: a lifetime budget"
          ) : (
            <>
              Resets {relative(b.resetTime)} ({dateTime(b.resetTime)})
            </>
          )}
        </div>
        {b.projectedNanoUsd !== undefined && (
          <div className={`small ${b.projectedExhaustionTime ? "" : "muted"}`} data-testid="budget-projection">
            At this period's pace: {usd(b.projectedNanoUsd)} by its end
            {b.projectedExhaustionTime ? (
              <>
                , <strong>reaching the limit {relative(b.projectedExhaustionTime)}</strong> ({dateTime(b.projectedExhaustionTime)})
              </>
            ) : (
              ", within the limit"
            )}
          </div>
        )}
      </div>
    </Card>
  );
}

function RateTable({ rates }: { rates: RateLimitStatus[] }) {
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Applies to</th>
          <th className="num">Requests / min</th>
          <th className="num">Remaining</th>
          <th className="num">Tokens / min</th>
          <th className="num">Remaining</th>
          <th>Window resets</th>
        </tr>
      </thead>
      <tbody>
        {rates.map((r) => (
          <tr key={`${r.scope}-${r.name}`}>
            <td>
              {enumName(ScopeSchema, r.scope, "SCOPE_")} <strong>{r.name}</strong>
            </td>
            <td className="num">{r.requestsPerMinute ? count(r.requestsPerMinute) : "–"}</td>
            <td className="num">{r.requestsPerMinute ? count(r.remainingRequests) : "–"}</td>
            <td className="num">{r.tokensPerMinute ? count(r.tokensPerMinute) : "–"}</td>
            <td className="num">{r.tokensPerMinute ? count(r.remainingTokens) : "–"}</td>
            <td>{relative(r.resetTime)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
