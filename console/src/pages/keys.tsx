// Keys & teams: AdminService's key, team and end-user calls. A created or rotated key's secret is shown once,
// in a dialog, and forgotten when it closes: those two calls bypass the query cache on purpose.

import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { AdminService, type ApiKey, BudgetPeriod, BudgetPeriodSchema, type EndUser, KeyRole, KeyRoleSchema, Source, type Team } from "@signalbox/client";
import { useQueryClient } from "@tanstack/react-query";
import type { DescMessage, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { type ChangeEventHandler, type FormEvent, type ReactNode, useState } from "react";
import { useSession } from "../context.ts";
import { count, dateTime, enumName, relative, splitList, tsToMs } from "../format.ts";
import { TeamPicker } from "../pickers.tsx";
import { isAdmin } from "../session.ts";
import { Badge, Card, CopyButton, Dialog, DialogActions, Empty, ErrorBox, Field, Loading, PageHeader, Pager, usePager } from "../ui.tsx";

const PAGE_SIZE = 25;
const roleName = (r: KeyRole) => enumName(KeyRoleSchema, r, "KEY_ROLE_");
const periodName = (p: BudgetPeriod) => enumName(BudgetPeriodSchema, p, "BUDGET_PERIOD_");
/** "$10 / month", or "$100 lifetime (never resets)"; `per` goes after the amount ("per end user"). */
const budgetLabel = (b: { limitUsd: number; period: BudgetPeriod }, per = "") =>
  b.period === BudgetPeriod.LIFETIME ? `$${b.limitUsd} lifetime${per} (never resets)` : `$${b.limitUsd} / ${periodName(b.period)}${per}`;

/** Refetch every AdminService list after a change. */
function useAdminRefresh() {
  const qc = useQueryClient();
  return () => qc.invalidateQueries({ queryKey: createConnectQueryKey({ schema: AdminService, cardinality: undefined }) });
}

/**
 * Confirm one AdminService call: what it does, its error if it fails, and the button that makes it
 * (red when `danger`). Every list is refetched when it succeeds.
 */
function ConfirmDialog<I extends DescMessage, O extends DescMessage>(p: {
  title: string;
  method: DescMethodUnary<I, O>;
  input: MessageInitShape<I>;
  label: string;
  busyLabel: string;
  danger?: boolean;
  children: ReactNode;
  onClose: () => void;
}) {
  const refresh = useAdminRefresh();
  const m = useMutation(p.method, { onSuccess: () => (refresh(), p.onClose()) });
  return (
    <Dialog title={p.title} onClose={p.onClose}>
      <p>{p.children}</p>
      <ErrorBox error={m.error} />
      <DialogActions onCancel={p.onClose} label={p.label} busyLabel={p.busyLabel} busy={m.isPending} onConfirm={() => m.mutate(p.input)} danger={p.danger} />
    </Dialog>
  );
}

type Secret = { title: string; name: string; secret: string };

export function KeysPage() {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const [secret, setSecret] = useState<Secret>();
  return (
    <>
      <PageHeader
        title="Keys & teams"
        subtitle={admin ? "Caller keys, teams and their end users. Keys from the config file are read-only here." : `Keys and end users of team ${identity.team}. Keys from the config file are read-only here.`}
      />
      <KeysCard onSecret={setSecret} />
      <TeamsCard />
      <EndUsersCard />
      {secret && <SecretDialog {...secret} onClose={() => setSecret(undefined)} />}
    </>
  );
}

function keyStatus(k: ApiKey, now = Date.now()): { label: string; tone: "ok" | "bad" | "warn" | "muted" } {
  if (k.revokeTime) return { label: "revoked", tone: "bad" };
  // Before expiry and rotation: a blocked key is refused whatever else holds, until unblocked.
  if (k.blockTime) return { label: "blocked", tone: "bad" };
  const exp = tsToMs(k.expireTime);
  if (exp !== undefined && exp <= now) return { label: "expired", tone: "bad" };
  const prev = tsToMs(k.previousSecretExpireTime);
  if (prev !== undefined && prev > now) return { label: "rotating", tone: "warn" };
  return { label: "active", tone: "ok" };
}

function KeysCard({ onSecret }: { onSecret: (s: Secret) => void }) {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const [team, setTeam] = useState("");
  const [revoked, setRevoked] = useState(false);
  const pager = usePager(`${team}|${revoked}`);
  const q = useQuery(AdminService.method.listKeys, { team, includeRevoked: revoked, pageSize: PAGE_SIZE, pageToken: pager.token });
  const [dialog, setDialog] = useState<{ kind: "create" } | { kind: "edit" | "rotate" | "revoke" | "block" | "unblock"; key: ApiKey }>();
  const keys = q.data?.keys ?? [];
  // A team key may not touch admin keys; nobody edits config-file keys here.
  const manageable = (k: ApiKey) => k.source !== Source.CONFIG && !k.revokeTime && (admin || k.role !== KeyRole.ADMIN);
  const close = () => setDialog(undefined);

  return (
    <Card
      title="Keys"
      actions={
        <>
          {admin && <TeamPicker value={team} onChange={setTeam} />}
          <label className="check">
            <input type="checkbox" checked={revoked} onChange={(e) => setRevoked(e.target.checked)} /> Show revoked
          </label>
          <button type="button" className="primary" onClick={() => setDialog({ kind: "create" })}>
            New key
          </button>
        </>
      }
    >
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : keys.length === 0 ? (
        <Empty>No keys.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table dense" data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Team</th>
                <th>Role</th>
                <th>Allows</th>
                <th>Limits</th>
                <th>Budget</th>
                <th>Last used</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => {
                const st = keyStatus(k);
                return (
                  <tr key={k.name} data-testid="key-row" data-name={k.name} data-team={k.team} data-status={st.label}>
                    <td>
                      <strong className="nowrap">{k.name}</strong>
                      <div className="muted small">
                        {k.prefix && <code>{k.prefix}… · </code>}
                        {k.source === Source.CONFIG ? "config file" : `created ${relative(k.createTime)} by ${k.createdBy || "–"}`}
                      </div>
                    </td>
                    <td>{k.team}</td>
                    <td>{roleName(k.role)}</td>
                    <td>{k.allow.length ? k.allow.join(", ") : <span className="muted">everything</span>}</td>
                    <td className="nowrap">
                      {k.limits?.requestsPerMinute !== undefined && <div>{count(k.limits.requestsPerMinute)} req/min</div>}
                      {k.limits?.tokensPerMinute !== undefined && <div>{count(k.limits.tokensPerMinute)} tok/min</div>}
                      {k.limits?.requestsPerMinute === undefined && k.limits?.tokensPerMinute === undefined && <span className="muted">team default</span>}
                    </td>
                    <td className="nowrap">
                      {k.budget ? <span data-testid="key-budget">{budgetLabel(k.budget)}</span> : <span className="muted">–</span>}
                      {k.perUserBudget && (
                        <div className="muted small" data-testid="per-user-budget">
                          {budgetLabel(k.perUserBudget, " per end user")}
                        </div>
                      )}
                    </td>
                    <td className="nowrap">{k.lastUsedTime ? relative(k.lastUsedTime) : <span className="muted">never</span>}</td>
                    <td>
                      <Badge tone={st.tone} title={k.blockTime ? `blocked since ${dateTime(k.blockTime)}` : k.expireTime ? `expires ${dateTime(k.expireTime)}` : undefined}>
                        {st.label}
                      </Badge>
                    </td>
                    <td className="row-actions">
                      {manageable(k) && (
                        <>
                          <button type="button" onClick={() => setDialog({ kind: "edit", key: k })}>
                            Edit
                          </button>
                          <button type="button" onClick={() => setDialog({ kind: "rotate", key: k })}>
                            Rotate
                          </button>
                          {k.blockTime ? (
                            <button type="button" onClick={() => setDialog({ kind: "unblock", key: k })}>
                              Unblock
                            </button>
                          ) : (
                            // The gateway refuses a key blocking itself: it could not sign in again to unblock.
                            k.name !== identity.key && (
                              <button type="button" className="danger" onClick={() => setDialog({ kind: "block", key: k })}>
                                Block
                              </button>
                            )
                          )}
                          <button type="button" className="danger" onClick={() => setDialog({ kind: "revoke", key: k })}>
                            Revoke
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager pager={pager} nextToken={q.data?.nextPageToken} />
      {dialog?.kind === "create" && <CreateKeyDialog onClose={close} onSecret={onSecret} />}
      {dialog?.kind === "edit" && <EditKeyDialog k={dialog.key} onClose={close} />}
      {dialog?.kind === "rotate" && <RotateKeyDialog k={dialog.key} onClose={close} onSecret={onSecret} />}
      {dialog?.kind === "revoke" && (
        <ConfirmDialog title={`Revoke key ${dialog.key.name}`} method={AdminService.method.revokeKey} input={{ name: dialog.key.name }} label="Revoke key" busyLabel="Revoking…" danger onClose={close}>
          Requests with <strong>{dialog.key.name}</strong> are refused everywhere within a second. This cannot be undone; the key stays listed as revoked.
        </ConfirmDialog>
      )}
      {dialog?.kind === "block" && (
        <ConfirmDialog title={`Block key ${dialog.key.name}`} method={AdminService.method.blockKey} input={{ name: dialog.key.name }} label="Block key" busyLabel="Blocking…" danger onClose={close}>
          Requests with <strong>{dialog.key.name}</strong> are refused everywhere within a second, until it is unblocked. The key keeps its secret and settings.
        </ConfirmDialog>
      )}
      {dialog?.kind === "unblock" && (
        <ConfirmDialog title={`Unblock key ${dialog.key.name}`} method={AdminService.method.unblockKey} input={{ name: dialog.key.name }} label="Unblock key" busyLabel="Unblocking…" onClose={close}>
          <strong>{dialog.key.name}</strong> may call again, with its current secret and settings.
        </ConfirmDialog>
      )}
    </Card>
  );
}

/** The fields a key shares between create and edit. */
interface KeyForm {
  allow: string;
  rpm: string;
  tpm: string;
  period: BudgetPeriod;
  limitUsd: string;
  /** The budget each end user of the key (the requests' `user`) has, beside the key's own. */
  userPeriod: BudgetPeriod;
  userLimitUsd: string;
  maxOutput: string;
}

const formOf = (k?: ApiKey): KeyForm => ({
  allow: k?.allow.join(", ") ?? "",
  rpm: k?.limits?.requestsPerMinute?.toString() ?? "",
  tpm: k?.limits?.tokensPerMinute?.toString() ?? "",
  period: k?.budget?.period ?? BudgetPeriod.MONTH,
  limitUsd: k?.budget ? String(k.budget.limitUsd) : "",
  userPeriod: k?.perUserBudget?.period ?? BudgetPeriod.DAY,
  userLimitUsd: k?.perUserBudget ? String(k.perUserBudget.limitUsd) : "",
  maxOutput: k?.maxOutputTokens?.toString() ?? "",
});

const optNum = (s: string) => (s.trim() === "" ? undefined : Number(s));

function keyFields(f: KeyForm) {
  const rpm = optNum(f.rpm);
  const tpm = optNum(f.tpm);
  const limit = optNum(f.limitUsd);
  const userLimit = optNum(f.userLimitUsd);
  return {
    allow: splitList(f.allow),
    limits: rpm === undefined && tpm === undefined ? undefined : { requestsPerMinute: rpm, tokensPerMinute: tpm === undefined ? undefined : BigInt(tpm) },
    budget: limit === undefined ? undefined : { period: f.period, limitUsd: limit },
    perUserBudget: userLimit === undefined ? undefined : { period: f.userPeriod, limitUsd: userLimit },
    maxOutputTokens: optNum(f.maxOutput),
  };
}

function KeyFormFields({ f, set }: { f: KeyForm; set: (f: KeyForm) => void }) {
  const on = (k: keyof KeyForm) => (e: { target: { value: string } }) => set({ ...f, [k]: k === "period" || k === "userPeriod" ? Number(e.target.value) : e.target.value });
  return (
    <>
      <Field label="Allowed models" hint="Routes, aliases or deployments, comma-separated; empty allows everything.">
        <input value={f.allow} onChange={on("allow")} name="allow" />
      </Field>
      <div className="row">
        <RateInputs rpm={f.rpm} tpm={f.tpm} onRpm={on("rpm")} onTpm={on("tpm")} placeholder="team default" />
      </div>
      <div className="row">
        <BudgetInputs amount={f.limitUsd} period={f.period} onAmount={on("limitUsd")} onPeriod={on("period")} />
        <Field label="Max output tokens">
          <input type="number" min={1} value={f.maxOutput} onChange={on("maxOutput")} name="max_output_tokens" placeholder="no cap" />
        </Field>
      </div>
      <div className="row">
        <BudgetInputs
          label="Budget per end user (USD)"
          hint="Each end user of the key (the requests' user) has this budget, beside the key's own; empty means none."
          amount={f.userLimitUsd}
          period={f.userPeriod}
          onAmount={on("userLimitUsd")}
          onPeriod={on("userPeriod")}
          names={["per_user_budget", "per_user_period"]}
        />
      </div>
    </>
  );
}

function CreateKeyDialog({ onClose, onSecret }: { onClose: () => void; onSecret: (s: Secret) => void }) {
  const { client, identity } = useSession();
  const admin = isAdmin(identity);
  const refresh = useAdminRefresh();
  const [name, setName] = useState("");
  const [team, setTeam] = useState(admin ? "" : identity.team);
  const [role, setRole] = useState<KeyRole>(KeyRole.SERVICE);
  const [f, setF] = useState(formOf());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Called directly, not through the query cache: the response carries the secret.
      const res = await client.admin.createKey({ key: { name: name.trim(), team, role, ...keyFields(f) } });
      onClose();
      onSecret({ title: "Key created", name: res.key?.name ?? name, secret: res.secret });
      refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="New key" onClose={onClose}>
      <form onSubmit={submit} className="form" aria-label="New key">
        <Field label="Name" hint="Lower-case letters, digits, dot, dash, underscore; shows in usage records.">
          <input value={name} onChange={(e) => setName(e.target.value)} name="name" required autoFocus pattern="[a-z0-9][a-z0-9._\-]{0,63}" />
        </Field>
        <div className="row">
          <Field label="Team">{admin ? <TeamPicker value={team} onChange={setTeam} allowAll={false} /> : <input value={team} readOnly name="team" />}</Field>
          <Field label="Role">
            <select value={role} onChange={(e) => setRole(Number(e.target.value) as KeyRole)} name="role">
              {admin && <option value={KeyRole.ADMIN}>admin: everything</option>}
              <option value={KeyRole.TEAM}>team: its team's usage and keys</option>
              <option value={KeyRole.SERVICE}>service: chat and its own usage</option>
            </select>
          </Field>
        </div>
        <KeyFormFields f={f} set={setF} />
        <ErrorBox error={error} />
        <DialogActions onCancel={onClose} label="Create key" busyLabel="Creating…" busy={busy} disabled={!name.trim() || !team} />
      </form>
    </Dialog>
  );
}

function EditKeyDialog({ k, onClose }: { k: ApiKey; onClose: () => void }) {
  const refresh = useAdminRefresh();
  const [f, setF] = useState(formOf(k));
  const update = useMutation(AdminService.method.updateKey, { onSuccess: () => (refresh(), onClose()) });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // The form shows every editable field, so every one is in the mask (an empty one clears it).
    update.mutate({ key: { name: k.name, ...keyFields(f) }, updateMask: { paths: ["allow", "limits", "budget", "per_user_budget", "max_output_tokens"] } });
  };
  return (
    <Dialog title={`Edit key ${k.name}`} onClose={onClose}>
      <form onSubmit={submit} className="form" aria-label="Edit key">
        <KeyFormFields f={f} set={setF} />
        <ErrorBox error={update.error} />
        <DialogActions onCancel={onClose} label="Save" busyLabel="Saving…" busy={update.isPending} />
      </form>
    </Dialog>
  );
}

function RotateKeyDialog({ k, onClose, onSecret }: { k: ApiKey; onClose: () => void; onSecret: (s: Secret) => void }) {
  const { client } = useSession();
  const refresh = useAdminRefresh();
  const [grace, setGrace] = useState(3600);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const rotate = async () => {
    setBusy(true);
    try {
      // Called directly, not through the query cache: the response carries the secret.
      const res = await client.admin.rotateKey({ name: k.name, graceSeconds: grace });
      onClose();
      onSecret({ title: "Key rotated", name: k.name, secret: res.secret });
      refresh();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Rotate key ${k.name}`} onClose={onClose}>
      <p>A new secret is issued. The current one keeps working for the grace period, then stops.</p>
      <Field label="Grace period">
        <select value={grace} onChange={(e) => setGrace(Number(e.target.value))} name="grace">
          <option value={0}>none: stop the old secret now</option>
          <option value={3600}>1 hour</option>
          <option value={86400}>1 day</option>
          <option value={604800}>7 days</option>
        </select>
      </Field>
      <ErrorBox error={error} />
      <DialogActions onCancel={onClose} label="Rotate" busyLabel="Rotating…" busy={busy} onConfirm={rotate} />
    </Dialog>
  );
}

/** The secret, once: copy it now; closing the dialog drops it for good. */
function SecretDialog({ title, name, secret, onClose }: Secret & { onClose: () => void }) {
  return (
    <Dialog title={title} onClose={onClose}>
      <p>
        The secret of <strong>{name}</strong>. Copy it now: it is shown only this once and cannot be retrieved later.
      </p>
      <div className="secret">
        <code data-testid="secret">{secret}</code>
        <CopyButton text={secret} />
      </div>
      <div className="dialog-actions">
        <button type="button" className="primary" onClick={onClose}>
          I have copied it
        </button>
      </div>
    </Dialog>
  );
}

function TeamsCard() {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const pager = usePager("");
  const q = useQuery(AdminService.method.listTeams, { pageSize: PAGE_SIZE, pageToken: pager.token });
  const [dialog, setDialog] = useState<{ kind: "create" } | { kind: "edit" | "delete"; team: Team }>();
  const teams = q.data?.teams ?? [];
  const close = () => setDialog(undefined);
  return (
    <Card
      title="Teams"
      actions={
        admin && (
          <button type="button" className="primary" onClick={() => setDialog({ kind: "create" })}>
            New team
          </button>
        )
      }
    >
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : teams.length === 0 ? (
        <Empty>No teams.</Empty>
      ) : (
        <table className="table" data-testid="teams-table">
          <thead>
            <tr>
              <th>Team</th>
              <th>Budget</th>
              <th>Default key limits</th>
              <th className="num">Keys</th>
              <th>Source</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {teams.map((t) => (
              <tr key={t.name} data-testid="team-row" data-name={t.name}>
                <td>
                  <strong>{t.name}</strong>
                </td>
                <td>{t.budget ? budgetLabel(t.budget) : <span className="muted">–</span>}</td>
                <td>
                  {t.defaultKeyLimits?.requestsPerMinute !== undefined && <div>{count(t.defaultKeyLimits.requestsPerMinute)} req/min</div>}
                  {t.defaultKeyLimits?.tokensPerMinute !== undefined && <div>{count(t.defaultKeyLimits.tokensPerMinute)} tok/min</div>}
                  {t.defaultKeyLimits?.requestsPerMinute === undefined && t.defaultKeyLimits?.tokensPerMinute === undefined && <span className="muted">–</span>}
                </td>
                <td className="num">{t.keyCount}</td>
                <td>{t.source === Source.CONFIG ? "config file" : "managed"}</td>
                <td className="row-actions">
                  {t.source !== Source.CONFIG && (
                    <>
                      <button type="button" onClick={() => setDialog({ kind: "edit", team: t })}>
                        {admin ? "Edit" : "Edit budget"}
                      </button>
                      {admin && (
                        <button type="button" className="danger" onClick={() => setDialog({ kind: "delete", team: t })} disabled={t.keyCount > 0} title={t.keyCount > 0 ? "Teams with keys cannot be deleted" : undefined}>
                          Delete
                        </button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} nextToken={q.data?.nextPageToken} />
      {(dialog?.kind === "create" || dialog?.kind === "edit") && <TeamDialog team={dialog.kind === "edit" ? dialog.team : undefined} onClose={close} />}
      {dialog?.kind === "delete" && (
        <ConfirmDialog title={`Delete team ${dialog.team.name}`} method={AdminService.method.deleteTeam} input={{ name: dialog.team.name }} label="Delete team" busyLabel="Deleting…" danger onClose={close}>
          The team and its budget are deleted. Teams that still have keys (revoked ones included) cannot be deleted.
        </ConfirmDialog>
      )}
    </Card>
  );
}

function TeamDialog({ team, onClose }: { team?: Team; onClose: () => void }) {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const refresh = useAdminRefresh();
  const [name, setName] = useState(team?.name ?? "");
  const [period, setPeriod] = useState<BudgetPeriod>(team?.budget?.period ?? BudgetPeriod.MONTH);
  const [limit, setLimit] = useState(team?.budget ? String(team.budget.limitUsd) : "");
  const [rpm, setRpm] = useState(team?.defaultKeyLimits?.requestsPerMinute?.toString() ?? "");
  const [tpm, setTpm] = useState(team?.defaultKeyLimits?.tokensPerMinute?.toString() ?? "");
  const done = { onSuccess: () => (refresh(), onClose()) };
  const create = useMutation(AdminService.method.createTeam, done);
  const update = useMutation(AdminService.method.updateTeam, done);
  const m = team ? update : create;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const l = optNum(limit);
    const r = optNum(rpm);
    const t = optNum(tpm);
    const body = {
      name: name.trim(),
      budget: l === undefined ? undefined : { period, limitUsd: l },
      defaultKeyLimits: r === undefined && t === undefined ? undefined : { requestsPerMinute: r, tokensPerMinute: t === undefined ? undefined : BigInt(t) },
    };
    if (team) update.mutate({ team: body, updateMask: { paths: admin ? ["budget", "default_key_limits"] : ["budget"] } });
    else create.mutate({ team: body });
  };
  return (
    <Dialog title={team ? `Edit team ${team.name}` : "New team"} onClose={onClose}>
      <form onSubmit={submit} className="form" aria-label={team ? "Edit team" : "New team"}>
        {!team && (
          <Field label="Name">
            <input value={name} onChange={(e) => setName(e.target.value)} name="name" required autoFocus />
          </Field>
        )}
        <div className="row">
          <BudgetInputs
            hint={admin ? undefined : "A team key may lower its team's budget, not raise it."}
            amount={limit}
            period={period}
            onAmount={(e) => setLimit(e.target.value)}
            onPeriod={(e) => setPeriod(Number(e.target.value) as BudgetPeriod)}
          />
        </div>
        {admin && (
          <div className="row">
            <RateInputs rpm={rpm} tpm={tpm} onRpm={(e) => setRpm(e.target.value)} onTpm={(e) => setTpm(e.target.value)} labelPrefix="Default " hint="For the team's keys that set none." />
          </div>
        )}
        <ErrorBox error={m.error} />
        <DialogActions onCancel={onClose} label={team ? "Save" : "Create team"} busy={m.isPending} disabled={!name.trim()} />
      </form>
    </Dialog>
  );
}

// ── end users ─────────────────────────────────────────────────────────────────────────────

// Team names have no "/": team and user together are unambiguous.
const endUserKey = (u: EndUser) => `${u.team}/${u.user}`;

/** The requests' `user` of a team, with a budget, limits or a block of their own across its keys. */
function EndUsersCard() {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const [team, setTeam] = useState("");
  const pager = usePager(team);
  // A team key lists its own team's whatever it asks: it sends none.
  const q = useQuery(AdminService.method.listEndUsers, { team, pageSize: PAGE_SIZE, pageToken: pager.token });
  const [dialog, setDialog] = useState<{ kind: "create" } | { kind: "edit" | "block" | "unblock" | "delete"; endUser: EndUser }>();
  const endUsers = q.data?.endUsers ?? [];
  const close = () => setDialog(undefined);
  return (
    <Card
      title="End users"
      actions={
        <>
          {admin && <TeamPicker value={team} onChange={setTeam} />}
          <button type="button" className="primary" onClick={() => setDialog({ kind: "create" })}>
            New end user
          </button>
        </>
      }
    >
      <p className="muted small">The user named by a team's requests, with a budget, limits or a block of their own across all the team's keys, beside each key's rules.</p>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : endUsers.length === 0 ? (
        <Empty>No end users.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table dense" data-testid="end-users-table">
            <thead>
              <tr>
                <th>User</th>
                <th>Team</th>
                <th>Budget</th>
                <th>Limits</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {endUsers.map((u) => (
                <tr key={endUserKey(u)} data-testid="end-user-row" data-team={u.team} data-user={u.user} data-status={u.blocked ? "blocked" : "active"}>
                  <td>
                    <strong className="nowrap">{u.user}</strong>
                    <div className="muted small">
                      created {relative(u.createTime)} by {u.createdBy || "–"}
                    </div>
                  </td>
                  <td>{u.team}</td>
                  <td className="nowrap">{u.budget ? budgetLabel(u.budget) : <span className="muted">–</span>}</td>
                  <td className="nowrap">
                    {u.limits?.requestsPerMinute !== undefined && <div>{count(u.limits.requestsPerMinute)} req/min</div>}
                    {u.limits?.tokensPerMinute !== undefined && <div>{count(u.limits.tokensPerMinute)} tok/min</div>}
                    {u.limits?.requestsPerMinute === undefined && u.limits?.tokensPerMinute === undefined && <span className="muted">key's only</span>}
                  </td>
                  <td>
                    <Badge tone={u.blocked ? "bad" : "ok"} title={u.blockTime ? `blocked since ${dateTime(u.blockTime)}` : undefined}>
                      {u.blocked ? "blocked" : "active"}
                    </Badge>
                  </td>
                  <td className="row-actions">
                    <button type="button" onClick={() => setDialog({ kind: "edit", endUser: u })}>
                      Edit
                    </button>
                    {u.blocked ? (
                      <button type="button" onClick={() => setDialog({ kind: "unblock", endUser: u })}>
                        Unblock
                      </button>
                    ) : (
                      <button type="button" className="danger" onClick={() => setDialog({ kind: "block", endUser: u })}>
                        Block
                      </button>
                    )}
                    <button type="button" className="danger" onClick={() => setDialog({ kind: "delete", endUser: u })}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager pager={pager} nextToken={q.data?.nextPageToken} />
      {dialog?.kind === "create" && <CreateEndUserDialog onClose={close} />}
      {dialog?.kind === "edit" && <EditEndUserDialog u={dialog.endUser} onClose={close} />}
      {/* Block and unblock name `blocked` alone in the mask: audited as a block or an unblock. */}
      {dialog?.kind === "block" && (
        <ConfirmDialog title={`Block end user ${dialog.endUser.user}`} method={AdminService.method.updateEndUser} input={{ endUser: { team: dialog.endUser.team, user: dialog.endUser.user, blocked: true }, updateMask: { paths: ["blocked"] } }} label="Block end user" busyLabel="Blocking…" danger onClose={close}>
          Requests of <strong>{dialog.endUser.user}</strong> are refused on every key of team {dialog.endUser.team} within a second, until unblocked. The team's other users go on.
        </ConfirmDialog>
      )}
      {dialog?.kind === "unblock" && (
        <ConfirmDialog title={`Unblock end user ${dialog.endUser.user}`} method={AdminService.method.updateEndUser} input={{ endUser: { team: dialog.endUser.team, user: dialog.endUser.user, blocked: false }, updateMask: { paths: ["blocked"] } }} label="Unblock end user" busyLabel="Unblocking…" onClose={close}>
          <strong>{dialog.endUser.user}</strong> may call again, held to their budget and limits.
        </ConfirmDialog>
      )}
      {dialog?.kind === "delete" && (
        <ConfirmDialog title={`Delete end user ${dialog.endUser.user}`} method={AdminService.method.deleteEndUser} input={{ team: dialog.endUser.team, user: dialog.endUser.user }} label="Delete end user" busyLabel="Deleting…" danger onClose={close}>
          The budget, limits and block of <strong>{dialog.endUser.user}</strong> in team {dialog.endUser.team} are removed: they are held to their key's rules only.
        </ConfirmDialog>
      )}
    </Card>
  );
}

/** The fields an end user shares between create and edit. */
interface EndUserForm {
  period: BudgetPeriod;
  limitUsd: string;
  rpm: string;
  tpm: string;
}

const endUserFormOf = (u?: EndUser): EndUserForm => ({
  period: u?.budget?.period ?? BudgetPeriod.DAY,
  limitUsd: u?.budget ? String(u.budget.limitUsd) : "",
  rpm: u?.limits?.requestsPerMinute?.toString() ?? "",
  tpm: u?.limits?.tokensPerMinute?.toString() ?? "",
});

function endUserFields(f: EndUserForm) {
  const l = optNum(f.limitUsd);
  const r = optNum(f.rpm);
  const t = optNum(f.tpm);
  return {
    budget: l === undefined ? undefined : { period: f.period, limitUsd: l },
    limits: r === undefined && t === undefined ? undefined : { requestsPerMinute: r, tokensPerMinute: t === undefined ? undefined : BigInt(t) },
  };
}

type EndUserFields = ReturnType<typeof endUserFields>;
const sameBudget = (a: EndUserFields["budget"], b: EndUserFields["budget"]) => a === b || (!!a && !!b && a.period === b.period && a.limitUsd === b.limitUsd);
const sameLimits = (a: EndUserFields["limits"], b: EndUserFields["limits"]) =>
  a === b || (!!a && !!b && a.requestsPerMinute === b.requestsPerMinute && a.tokensPerMinute === b.tokensPerMinute);

function EndUserFormFields({ f, set }: { f: EndUserForm; set: (f: EndUserForm) => void }) {
  const on = (k: keyof EndUserForm) => (e: { target: { value: string } }) => set({ ...f, [k]: k === "period" ? Number(e.target.value) : e.target.value });
  return (
    <>
      <div className="row">
        <BudgetInputs amount={f.limitUsd} period={f.period} onAmount={on("limitUsd")} onPeriod={on("period")} />
      </div>
      <div className="row">
        <RateInputs rpm={f.rpm} tpm={f.tpm} onRpm={on("rpm")} onTpm={on("tpm")} placeholder="key's only" />
      </div>
    </>
  );
}

function CreateEndUserDialog({ onClose }: { onClose: () => void }) {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const refresh = useAdminRefresh();
  const [team, setTeam] = useState(admin ? "" : identity.team);
  const [user, setUser] = useState("");
  const [f, setF] = useState(endUserFormOf());
  const [blocked, setBlocked] = useState(false);
  const create = useMutation(AdminService.method.createEndUser, { onSuccess: () => (refresh(), onClose()) });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // Not trimmed: the user is matched against the requests' `user` exactly.
    create.mutate({ endUser: { team, user, ...endUserFields(f), blocked } });
  };
  return (
    <Dialog title="New end user" onClose={onClose}>
      <form onSubmit={submit} className="form" aria-label="New end user">
        <div className="row">
          <Field label="Team">{admin ? <TeamPicker value={team} onChange={setTeam} allowAll={false} /> : <input value={team} readOnly name="team" />}</Field>
          <Field label="User" hint="The requests' user, exactly (OpenAI's user, Anthropic's metadata.user_id).">
            <input value={user} onChange={(e) => setUser(e.target.value)} name="user" required autoFocus maxLength={256} />
          </Field>
        </div>
        <EndUserFormFields f={f} set={setF} />
        <label className="check">
          <input type="checkbox" checked={blocked} onChange={(e) => setBlocked(e.target.checked)} name="blocked" /> Blocked from the start: their requests are refused until unblocked
        </label>
        <ErrorBox error={create.error} />
        <DialogActions onCancel={onClose} label="Create end user" busyLabel="Creating…" busy={create.isPending} disabled={!user || !team} />
      </form>
    </Dialog>
  );
}

/** Budget and limits: UpdateEndUser with the mask naming only what changed (the block and metadata are left alone). */
function EditEndUserDialog({ u, onClose }: { u: EndUser; onClose: () => void }) {
  const refresh = useAdminRefresh();
  const [f, setF] = useState(endUserFormOf(u));
  const update = useMutation(AdminService.method.updateEndUser, { onSuccess: () => (refresh(), onClose()) });
  const was = endUserFields(endUserFormOf(u));
  const now = endUserFields(f);
  const paths = [...(sameBudget(was.budget, now.budget) ? [] : ["budget"]), ...(sameLimits(was.limits, now.limits) ? [] : ["limits"])];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (paths.length === 0) return;
    // A changed budget keeps the end user's soft threshold; a path named with its field unset clears it.
    const budget = now.budget && { ...now.budget, softThreshold: u.budget?.softThreshold };
    update.mutate({ endUser: { team: u.team, user: u.user, budget, limits: now.limits }, updateMask: { paths } });
  };
  return (
    <Dialog title={`Edit end user ${u.user}`} onClose={onClose}>
      <form onSubmit={submit} className="form" aria-label="Edit end user">
        <p className="muted small">
          Team {u.team}. An empty field removes the budget or limit: the user is then held to their key's rules only.
        </p>
        <EndUserFormFields f={f} set={setF} />
        <ErrorBox error={update.error} />
        <DialogActions onCancel={onClose} label="Save" busyLabel="Saving…" busy={update.isPending} disabled={paths.length === 0} />
      </form>
    </Dialog>
  );
}

type OnInput = (e: { target: { value: string } }) => void;

/** A budget's amount (USD; empty: none) and period, as two fields of a row. */
function BudgetInputs(p: { label?: string; hint?: string; amount: string; period: BudgetPeriod; onAmount: OnInput; onPeriod: OnInput; names?: [string, string] }) {
  const [amountName, periodName] = p.names ?? ["budget", "period"];
  return (
    <>
      <Field label={p.label ?? "Budget (USD)"} hint={p.hint}>
        <input type="number" min={0} step="0.01" value={p.amount} onChange={p.onAmount} name={amountName} placeholder="none" />
      </Field>
      <Field label="Per">
        <PeriodSelect value={p.period} onChange={p.onPeriod} name={periodName} />
      </Field>
    </>
  );
}

/** Requests and tokens per minute (empty: none), as two fields of a row. */
function RateInputs(p: { rpm: string; tpm: string; onRpm: OnInput; onTpm: OnInput; placeholder?: string; labelPrefix?: string; hint?: string }) {
  const pre = p.labelPrefix ?? "";
  return (
    <>
      <Field label={`${pre}${pre ? "requests" : "Requests"} per minute`} hint={p.hint}>
        <input type="number" min={1} value={p.rpm} onChange={p.onRpm} name="rpm" placeholder={p.placeholder} />
      </Field>
      <Field label={`${pre}${pre ? "tokens" : "Tokens"} per minute`}>
        <input type="number" min={1} value={p.tpm} onChange={p.onTpm} name="tpm" placeholder={p.placeholder} />
      </Field>
    </>
  );
}

/** A budget's period: a calendar day, ISO week or month (UTC), or lifetime, which never resets. */
function PeriodSelect(p: { value: string | number; onChange: ChangeEventHandler<HTMLSelectElement>; name: string }) {
  return (
    <select value={p.value} onChange={p.onChange} name={p.name}>
      <option value={BudgetPeriod.DAY}>day</option>
      <option value={BudgetPeriod.WEEK}>week</option>
      <option value={BudgetPeriod.MONTH}>month</option>
      <option value={BudgetPeriod.LIFETIME}>lifetime (never resets)</option>
    </select>
  );
}
