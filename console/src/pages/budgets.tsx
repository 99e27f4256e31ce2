// Budgets & limits: GetBudget for a team and key (spent, held by requests in flight, remaining,
// when it resets) and the key's rate-limit windows. Admins pick any team and key, team keys the
// keys of their team; service keys see their own.

import { useQuery } from "@connectrpc/connect-query";
import { type BudgetStatus, BudgetPeriodSchema, type RateLimitStatus, ScopeSchema, UsageService } from "@signalbox/client";
import { useState } from "react";
import { count, dateTime, enumName, relative, usd } from "../format.ts";
import { KeyPicker, TeamPicker } from "../pickers.tsx";
import { type Identity, isAdmin } from "../session.ts";
import { Badge, Card, Empty, ErrorBox, Field, Loading, PageHeader } from "../ui.tsx";

export function BudgetsPage({ identity }: { identity: Identity }) {
  const admin = isAdmin(identity);
  const [team, setTeam] = useState(admin ? "" : identity.team);
  const [key, setKey] = useState("");
  const q = useQuery(UsageService.method.getBudget, { team, key });
  const budgets = q.data?.budgets ?? [];
  const rates = q.data?.rateLimits ?? [];
  return (
    <>
      <PageHeader title="Budgets & limits" subtitle="Spend against each budget in its current period, what requests in flight hold, and the rate-limit windows." />
      {identity.role !== "service" && (
        <Card>
          <div className="toolbar">
            <Field label="Team">{admin ? <TeamPicker value={team} onChange={(t) => (setTeam(t), setKey(""))} /> : <input value={identity.team} readOnly aria-label="Team" />}</Field>
            <Field label="Key">
              <KeyPicker team={team} value={key} onChange={setKey} />
            </Field>
          </div>
        </Card>
      )}
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : (
        q.data && (
          <>
            {budgets.length === 0 ? (
              <Empty>
                No budget applies {key ? `to key ${key}` : ""}
                {key && team ? " or " : ""}
                {team ? `to team ${team}` : ""}
                {!key && !team ? "to your key" : ""}.
              </Empty>
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

function BudgetCard({ b }: { b: BudgetStatus }) {
  const limit = Number(b.limitNanoUsd);
  const pct = (n: bigint) => (limit > 0 ? Math.min(100, (Number(n) / limit) * 100) : 0);
  const spent = pct(b.spentNanoUsd);
  const held = Math.min(100 - spent, pct(b.reservedNanoUsd));
  const scope = enumName(ScopeSchema, b.scope, "SCOPE_");
  return (
    <Card
      title={
        <>
          {scope} <strong>{b.name}</strong>
        </>
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
            <span className="muted">Limit</span> <strong>{usd(b.limitNanoUsd)}</strong> <span className="muted">per {enumName(BudgetPeriodSchema, b.period, "BUDGET_PERIOD_")}</span>
          </div>
        </div>
        <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(spent + held)} aria-label={`${b.name} budget used`}>
          <div className="meter-spent" style={{ width: `${spent}%` }} />
          <div className="meter-held" style={{ width: `${held}%` }} />
          <div className="meter-soft" style={{ left: `${b.softThreshold * 100}%` }} title={`warning at ${Math.round(b.softThreshold * 100)}%`} />
        </div>
        <div className="muted small">
          Resets {relative(b.resetTime)} ({dateTime(b.resetTime)})
        </div>
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
