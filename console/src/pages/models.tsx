// Models & health: every deployment with its prices, context window, capabilities, live health
// (cooldowns, latency estimates, in flight), spending caps (its own and its provider's: spent of
// the limit this period, over once reached) and its last active check (ListModels' health.last_check,
// made here, by another replica, the CLI or the background checks), refreshed every few seconds; an
// admin may check every deployment, or one, now (AdminService.CheckDeployments); then aliases and
// routes; then the MCP servers the key may use (when there are any), whose tools are listed on demand.

import { createConnectQueryKey, skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import {
  AdminService,
  CapabilitySchema,
  Code,
  type DeploymentCheck,
  DeploymentHealth_State,
  DeploymentHealth_StateSchema,
  type DeploymentHealth,
  FailureKindSchema,
  type McpServer,
  RouteService,
  SignalboxError,
  type SpendCap,
  TaskSchema,
} from "@signalbox/client";
import { useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useSession } from "../context.ts";
import { count, dateTime, enumName, ms, pricePerMtok, relative, tsToMs, usd } from "../format.ts";
import { Link } from "../router.tsx";
import { isAdmin } from "../session.ts";
import { Badge, Card, ErrorBox, Loading, PageHeader } from "../ui.tsx";

const REFRESH_MS = 3000;

function HealthBadge({ h }: { h: DeploymentHealth | undefined }) {
  switch (h?.state) {
    case DeploymentHealth_State.COOLING_DOWN:
      return (
        <Badge tone="bad" title={h.cooldownUntil ? `until ${dateTime(h.cooldownUntil)}` : undefined}>
          cooling down {h.cooldownUntil ? relative(h.cooldownUntil) : ""}
        </Badge>
      );
    case DeploymentHealth_State.PROBING:
      return <Badge tone="warn">probing</Badge>;
    default:
      return <Badge tone="ok">healthy</Badge>;
  }
}

/** A deployment's spending caps: "$0.001200 of $2.000 day", its provider's marked "provider:", an "over" badge once reached; "—" when it has none. */
function SpendCaps({ caps }: { caps: SpendCap[] }) {
  if (caps.length === 0) return <span className="muted">—</span>;
  return (
    <>
      {caps.map((c) => (
        <div key={c.scope} className="nowrap" data-testid="spend-cap" data-scope={c.scope} data-over={c.over} title={c.resetTime ? `resets ${dateTime(c.resetTime)}` : undefined}>
          {c.scope === "provider" && <span className="muted">provider: </span>}
          {usd(c.spentNanoUsd)} of {usd(c.limitNanoUsd)} <span className="muted">{c.period}</span>
          {c.over && (
            <>
              {" "}
              <Badge tone="bad" title="Routing leaves this deployment out until the period resets.">
                over
              </Badge>
            </>
          )}
        </div>
      ))}
    </>
  );
}

type CheckResult = "ok" | "failed" | "skipped" | "none";
const resultOf = (c: DeploymentCheck | undefined): CheckResult => (!c ? "none" : c.skipped ? "skipped" : c.healthy ? "ok" : "failed");

/** The later of two checks of a deployment: one just made here may be ahead of ListModels' copy. */
function later(a: DeploymentCheck | undefined, b: DeploymentCheck | undefined): DeploymentCheck | undefined {
  if (!a || !b) return a ?? b;
  return (tsToMs(b.checkTime) ?? 0) > (tsToMs(a.checkTime) ?? 0) ? b : a;
}

/** "ok · 30 ms · 2 min ago", "failed · unavailable · 2 min ago" with the error, "skipped" with why, or "—". */
function LastCheck({ c, admin }: { c: DeploymentCheck | undefined; admin: boolean }) {
  if (!c) return <span className="muted">—</span>;
  const at = c.checkTime ? `checked ${dateTime(c.checkTime)}` : undefined;
  // The check is a recorded request: an admin may open it (other keys may not see it).
  const when = !c.checkTime ? null : admin && c.requestId ? (
    <Link to={`requests/${encodeURIComponent(c.requestId)}`} title={`${at}: the check's request`}>
      {relative(c.checkTime)}
    </Link>
  ) : (
    <span title={at}>{relative(c.checkTime)}</span>
  );
  if (c.skipped) {
    return (
      <>
        <Badge tone="muted" title={c.skipped}>
          skipped
        </Badge>
        <span className="small muted nowrap"> · {when}</span>
        <div className="muted small check-detail" title={c.skipped}>
          {c.skipped}
        </div>
      </>
    );
  }
  const what = [c.operation, c.costNanoUsd ? usd(c.costNanoUsd) : ""].filter(Boolean).join(", ");
  if (c.healthy) {
    return (
      <>
        <Badge tone="ok" title={what || undefined}>
          ok
        </Badge>
        <span className="small nowrap">
          {" "}
          · {ms(c.latencyMs)} · {when}
        </span>
      </>
    );
  }
  return (
    <>
      <Badge tone="bad" title={c.error || undefined}>
        failed · {c.status || "unknown"}
      </Badge>
      <span className="small muted nowrap"> · {when}</span>
      {c.error && (
        <div className="muted small check-detail" title={c.error} data-testid="check-error">
          {c.error}
        </div>
      )}
    </>
  );
}

/** A deployment's last check and, for an admin, a Check action for it alone. */
function CheckCell({ id, last, admin, busy, onChecked }: { id: string; last: DeploymentCheck | undefined; admin: boolean; busy: boolean; onChecked: (checks: DeploymentCheck[]) => void }) {
  const one = useMutation(AdminService.method.checkDeployments, { onSuccess: (r) => onChecked(r.checks) });
  const pending = busy || one.isPending;
  return (
    <td data-testid="last-check" data-result={resultOf(last)} aria-busy={pending}>
      <LastCheck c={last} admin={admin} />
      {admin && (
        <div>
          <button type="button" className="link small" disabled={pending} onClick={() => one.mutate({ deployments: [id] })} title={`Send ${id} a minimal real request now`} data-testid="check-one">
            {pending ? "Checking…" : "Check"}
          </button>
        </div>
      )}
      <ErrorBox error={one.error} />
    </td>
  );
}

/** What Check all found: how many answered, failed and were skipped, and which failed. */
function CheckSummary({ checks, tookMs }: { checks: DeploymentCheck[]; tookMs: number }) {
  const failed = checks.filter((c) => !c.healthy && !c.skipped);
  const ok = checks.filter((c) => c.healthy).length;
  const skipped = checks.length - ok - failed.length;
  return (
    <p className="small" data-testid="check-summary" data-ok={ok} data-failed={failed.length} data-skipped={skipped} aria-live="polite">
      Checked {checks.length} deployment{checks.length === 1 ? "" : "s"} in {ms(tookMs)}: <Badge tone="ok">{ok} ok</Badge> <Badge tone={failed.length ? "bad" : "muted"}>{failed.length} failed</Badge>
      {skipped > 0 && <Badge tone="muted">{skipped} skipped</Badge>}
      {failed.length > 0 && <span className="muted"> ({failed.map((c) => c.deployment).join(", ")})</span>}
    </p>
  );
}

/** A server's tools (name and description), or why they could not be listed. */
function McpTools({ server }: { server: McpServer | undefined }) {
  if (!server) return <span className="muted">Not listed.</span>;
  if (server.error) {
    return (
      <div className="error" role="alert" data-testid="mcp-tools-error">
        {server.error}
      </div>
    );
  }
  if (server.tools.length === 0) return <span className="muted">This server offers no tools.</span>;
  return (
    <table className="table compact" data-testid="mcp-tools">
      <tbody>
        {server.tools.map((t) => (
          <tr key={t.name} data-name={t.name}>
            <td>
              <code>{t.name}</code>
            </td>
            <td>{t.description || <span className="muted">–</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The MCP servers (mcp_servers) the key may use, without URLs or credentials; nothing when there are none. */
function McpServers() {
  const q = useQuery(RouteService.method.listMcpServers, { includeTools: false });
  const [showTools, setShowTools] = useState(false);
  // Asked only when shown: listing tools asks every server.
  const tools = useQuery(RouteService.method.listMcpServers, showTools ? { includeTools: true } : skipToken, { staleTime: 30_000 });
  // A gateway without ListMcpServers (an older version) has nothing to show here.
  if (q.error && SignalboxError.from(q.error).code !== Code.Unimplemented) return <ErrorBox error={q.error} title="The MCP servers could not be listed." />;
  const servers = q.data?.servers ?? [];
  if (servers.length === 0) return null;
  const listed = new Map((tools.data?.servers ?? []).map((s) => [s.id, s]));
  return (
    <Card
      title={`MCP servers (${servers.length})`}
      actions={
        <button type="button" onClick={() => setShowTools(!showTools)} aria-pressed={showTools} data-testid="mcp-show-tools">
          {showTools ? "Hide tools" : "Show tools"}
        </button>
      }
    >
      <p className="muted small">
        Served at <code>/mcp</code> (every tool, as <code>server__tool</code>) and <code>/mcp/&lt;server&gt;</code>; only the host of a server's URL is shown.
      </p>
      <ErrorBox error={showTools ? tools.error : undefined} />
      <div className="table-wrap">
        <table className="table" data-testid="mcp-servers">
          <thead>
            <tr>
              <th>Server</th>
              <th>Host</th>
              <th>Teams</th>
              <th>Tools filter</th>
              <th className="num">Price / call</th>
              <th className="num">Timeout</th>
            </tr>
          </thead>
          <tbody>
            {servers.flatMap((s) => {
              const row = (
                <tr key={s.id} data-id={s.id}>
                  <td>
                    <strong>{s.id}</strong>
                    {s.description && <div className="muted small">{s.description}</div>}
                  </td>
                  <td>
                    <code>{s.transport === "stdio" ? "local (stdio)" : s.urlHost}</code>
                  </td>
                  <td>{s.teams.length ? s.teams.join(", ") : <span className="muted">all</span>}</td>
                  <td>
                    {s.allowedTools.length ? (
                      <div className="chips small">
                        {s.allowedTools.map((t) => (
                          <span key={t} className="chip">
                            {t}
                          </span>
                        ))}
                      </div>
                    ) : (
                      <span className="muted">all</span>
                    )}
                  </td>
                  <td className="num">{usd(s.pricePerCallNanoUsd)}</td>
                  <td className="num">{ms(s.timeoutMs)}</td>
                </tr>
              );
              if (!showTools) return [row];
              return [
                row,
                <tr key={`${s.id}/tools`} data-tools-of={s.id}>
                  <td colSpan={6}>{tools.isPending ? <Loading what="Listing tools" /> : <McpTools server={listed.get(s.id)} />}</td>
                </tr>,
              ];
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

export function ModelsPage() {
  const q = useQuery(RouteService.method.listModels, {}, { refetchInterval: REFRESH_MS });
  const m = q.data;
  const admin = isAdmin(useSession().identity);
  const qc = useQueryClient();
  // Checks made from this page, until ListModels has them (it keeps the later of the two).
  const [checked, setChecked] = useState<ReadonlyMap<string, DeploymentCheck>>(new Map());
  const onChecked = (checks: DeploymentCheck[]) => {
    setChecked((prev) => {
      const next = new Map(prev);
      for (const c of checks) next.set(c.deployment, later(next.get(c.deployment), c) ?? c);
      return next;
    });
    void qc.invalidateQueries({ queryKey: createConnectQueryKey({ schema: RouteService.method.listModels, cardinality: undefined }) });
  };
  const [summary, setSummary] = useState<{ checks: DeploymentCheck[]; tookMs: number }>();
  const startedAt = useRef(0);
  const all = useMutation(AdminService.method.checkDeployments, {
    onSuccess: (r) => (setSummary({ checks: r.checks, tookMs: performance.now() - startedAt.current }), onChecked(r.checks)),
  });
  const checkAll = () => {
    setSummary(undefined);
    startedAt.current = performance.now();
    // No names: every deployment the gateway lists.
    all.mutate({});
  };
  return (
    <>
      <PageHeader
        title="Models & health"
        subtitle={
          <>
            What callers may name as <code>model</code>, with live health from the shared state store. Refreshes every {REFRESH_MS / 1000} s
            {q.dataUpdatedAt ? ` (last ${new Date(q.dataUpdatedAt).toLocaleTimeString()})` : ""}.
          </>
        }
      />
      <ErrorBox error={q.error} />
      {!m ? (
        q.isPending && <Loading />
      ) : (
        <>
          <Card
            title={`Deployments (${m.deployments.length})`}
            actions={
              admin && (
                <button
                  type="button"
                  disabled={all.isPending}
                  onClick={checkAll}
                  title="Send every deployment a minimal real request now (no fallback): billed and recorded with the tag health-check; failures count towards its cooldown."
                  data-testid="check-all"
                >
                  {all.isPending ? "Checking…" : "Check all"}
                </button>
              )
            }
          >
            <ErrorBox error={all.error} title="The deployments could not be checked." />
            {all.isPending && <Loading what={`Checking ${m.deployments.length} deployments`} />}
            {summary && !all.isPending && <CheckSummary {...summary} />}
            <div className="table-wrap">
              <table className="table dense" data-testid="deployments">
                <thead>
                  <tr>
                    <th>Deployment</th>
                    <th>Provider</th>
                    <th className="num">Price / 1M tok.</th>
                    <th className="num">Context</th>
                    <th>Capabilities</th>
                    <th>Health</th>
                    <th>Budget</th>
                    <th>Last check</th>
                    <th className="num">Failures</th>
                    <th className="num">TTFT est.</th>
                    <th className="num">Latency est.</th>
                    <th className="num">In flight</th>
                  </tr>
                </thead>
                <tbody>
                  {m.deployments.map((d) => (
                    <tr key={d.id} data-id={d.id} data-state={enumName(DeploymentHealth_StateSchema, d.health?.state ?? 0, "STATE_")}>
                      <td>
                        <strong>{d.id}</strong>
                        <div className="muted small">{d.model}</div>
                      </td>
                      <td>
                        {d.provider}
                        <div className="muted small">{d.providerType}</div>
                      </td>
                      <td className="num">
                        {d.pricing ? (
                          <>
                            {pricePerMtok(d.pricing.inputMicroUsdPerMtok)} in
                            <div className="muted small">{pricePerMtok(d.pricing.outputMicroUsdPerMtok)} out</div>
                          </>
                        ) : (
                          "–"
                        )}
                      </td>
                      <td className="num">
                        {d.contextWindow ? count(d.contextWindow) : "–"}
                        {d.maxOutputTokens ? <div className="muted small">{count(d.maxOutputTokens)} out</div> : null}
                      </td>
                      <td className="caps">
                        <div className="chips small">
                          {d.capabilities.map((c) => (
                            <span key={c} className="chip">
                              {enumName(CapabilitySchema, c, "CAPABILITY_").replaceAll("_", " ")}
                            </span>
                          ))}
                          {d.strengths.map((t) => (
                            <span key={`t${t}`} className="chip strength" title="strength">
                              {enumName(TaskSchema, t, "TASK_")}
                            </span>
                          ))}
                        </div>
                      </td>
                      <td>
                        <HealthBadge h={d.health} />
                        {d.health?.lastFailureKind ? <div className="muted small">last: {enumName(FailureKindSchema, d.health.lastFailureKind, "FAILURE_KIND_")}</div> : null}
                      </td>
                      <td data-testid="spend-caps">
                        <SpendCaps caps={d.spendCaps} />
                      </td>
                      <CheckCell id={d.id} last={later(d.health?.lastCheck, checked.get(d.id))} admin={admin} busy={all.isPending} onChecked={onChecked} />
                      <td className="num">{d.health?.consecutiveFailures ?? 0}</td>
                      <td className="num">{ms(d.health?.ttftMs)}</td>
                      <td className="num">{ms(d.health?.latencyMs)}</td>
                      <td className="num">{d.health?.inFlight ?? 0}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Card>
          <div className="grid-2 wide-left">
            <Card title={`Routes (${m.routes.length})`}>
              <div className="table-wrap">
                <table className="table" data-testid="routes">
                  <thead>
                    <tr>
                      <th>Route</th>
                      <th>Strategy</th>
                      <th>Targets</th>
                      <th>Fallbacks</th>
                      <th>Options</th>
                    </tr>
                  </thead>
                  <tbody>
                    {m.routes.map((r) => (
                      <tr key={r.name} data-name={r.name}>
                        <td>
                          <strong>{r.name}</strong>
                          {r.description && <div className="muted small">{r.description}</div>}
                        </td>
                        <td>{r.strategy}</td>
                        <td>
                          {r.conditions.map((c, i) => (
                            <div key={`c${i}`} data-testid="route-condition">
                              <span className="muted">if {c.when.map((w) => `${w.field} ${w.values.length === 1 ? `= ${w.values[0]}` : `in [${w.values.join(", ")}]`}`).join(" and ")} →</span> {c.target}
                            </div>
                          ))}
                          {r.conditions.length > 0 && <div className="muted small">otherwise:</div>}
                          {r.variants.length > 0
                            ? r.variants.map((v) => (
                                <div key={v.name}>
                                  <span className="muted">{v.name} ({v.weight}):</span> {v.targets.map((t) => t.deployment).join(", ")}
                                </div>
                              ))
                            : r.targets.map((t) => (
                                <div key={t.deployment}>
                                  {t.deployment}
                                  {r.strategy === "weighted" && <span className="muted"> ×{t.weight}</span>}
                                </div>
                              ))}
                        </td>
                        <td>{r.fallbacks.length ? r.fallbacks.join(", ") : <span className="muted">–</span>}</td>
                        <td>
                          <div className="chips small">
                            {r.cacheEnabled && <span className="chip">cached</span>}
                            {r.semanticCacheEmbedding && <span className="chip" title={`prompts compared by ${r.semanticCacheEmbedding}`}>semantic cache</span>}
                            {r.noFallback && <span className="chip">no fallback</span>}
                            {r.maxAttempts > 0 && <span className="chip">≤ {r.maxAttempts} attempts</span>}
                            {r.hedgeAfterMs > 0 && <span className="chip">hedge {r.hedgeAfterMs} ms</span>}
                            {r.mirror && (
                              <Link to="mirrors" className="chip" data-testid="route-mirror" title={`${r.mirror.percent}% of its requests copied to ${r.mirror.target}${r.mirror.judge ? `, judged by ${r.mirror.judge}` : ""}, compared on the Mirrors page`}>
                                mirror → {r.mirror.target}
                                {r.mirror.percent < 100 ? ` (${r.mirror.percent}%)` : ""}
                              </Link>
                            )}
                          </div>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Card>
            <Card title={`Aliases (${m.aliases.length})`}>
              {m.aliases.length === 0 ? (
                <p className="muted">No aliases.</p>
              ) : (
                <table className="table compact">
                  <tbody>
                    {m.aliases.map((a) => (
                      <tr key={a.name}>
                        <td>
                          <strong>{a.name}</strong>
                        </td>
                        <td>→ {a.target}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Card>
          </div>
          <McpServers />
        </>
      )}
    </>
  );
}
