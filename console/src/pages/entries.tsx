// Providers & routes: the providers, deployments, routes, guardrails, MCP servers, aliases, alerts and presets made at run time
// (AdminService's PutConfigEntry, ListConfigEntries and DeleteConfigEntry), beside the config
// file's. The list filtered by kind, with each entry's revision, last change, the credentials it
// holds (by field name only) and the master keys they are sealed with, and why it is not in force
// when it is not; "Add" and "Edit" with the spec as JSON, a "Check" that writes nothing, and Delete
// after a confirm; "Seal credentials again" (ResealConfigEntries), the last step of a master-key
// rotation, with a "Check" of its own. Admin only. An API key or a webhook's authorization header
// typed here goes to the gateway in the request only: those calls bypass the query cache on
// purpose, and the gateway answers every credential as "********" (kept as it is on a replace).

import type { JsonObject } from "@bufbuild/protobuf";
import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { AdminService, Code, type ConfigEntry, ConfigEntryKind, ConfigEntryKindSchema, type PutConfigEntryResponse, type ResealConfigEntriesResponse, SignalboxError } from "@signalbox/client";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";
import { useSession } from "../context.ts";
import { dateTime, enumName, relative } from "../format.ts";
import { Badge, Card, Dialog, DialogActions, Empty, ErrorBox, Field, Loading, PageHeader, Segmented } from "../ui.tsx";

const REDACTED = "********";
const KINDS = [ConfigEntryKind.PROVIDER, ConfigEntryKind.DEPLOYMENT, ConfigEntryKind.ROUTE, ConfigEntryKind.GUARDRAIL, ConfigEntryKind.MCP_SERVER, ConfigEntryKind.ALIAS, ConfigEntryKind.ALERT, ConfigEntryKind.PRESET] as const;
/**
 * The credential each kind takes in a password field of its own (never in the JSON, which the DOM
 * shows): where it goes in the spec, and how the field reads. Left empty, a stored one is kept.
 */
interface Credential {
  /** The input's name, and the spec path (dotted) it fills. */
  input: string;
  path: string[];
  label: string;
  placeholder: string;
  /** What the field is for, when nothing is stored yet. */
  hint: string;
  /** Set only when the spec is of this guardrail kind. */
  needsKind?: string;
}
const CREDENTIALS: Partial<Record<ConfigEntryKind, Credential>> = {
  [ConfigEntryKind.PROVIDER]: { input: "api_key", path: ["api_key"], label: "API key", placeholder: "sk-…", hint: "Sent once as the spec's api_key, stored encrypted and never shown again." },
  [ConfigEntryKind.GUARDRAIL]: {
    input: "webhook_authorization",
    path: ["webhook", "headers", "authorization"],
    label: "Webhook authorization header",
    placeholder: "Bearer …",
    hint: 'For a webhook guardrail: sent once as the spec\'s webhook.headers.authorization (e.g. "Bearer …"), stored encrypted and never shown again.',
    needsKind: "webhook",
  },
  [ConfigEntryKind.MCP_SERVER]: {
    input: "mcp_authorization",
    path: ["headers", "Authorization"],
    label: "Authorization header",
    placeholder: "Bearer …",
    hint: 'Sent once as the spec\'s headers.Authorization (e.g. "Bearer …"), stored encrypted and never shown again. An HTTP server only: a local command comes from the config file.',
  },
  [ConfigEntryKind.ALERT]: {
    input: "alert_url",
    path: ["url"],
    label: "Webhook URL",
    placeholder: "https://hooks.slack.com/services/…",
    hint: "Sent once as the spec's url (a Slack or Teams webhook's URL is its credential), stored encrypted and never shown again.",
  },
};

/** The spec with `value` at `path`, the objects on the way copied (or made). */
function withValue(spec: Record<string, unknown>, path: string[], value: string): Record<string, unknown> {
  const [head, ...rest] = path;
  if (!rest.length) return { ...spec, [head!]: value };
  const inner = spec[head!];
  return { ...spec, [head!]: withValue(inner && typeof inner === "object" && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {}, rest, value) };
}
const kindName = (k: ConfigEntryKind) => enumName(ConfigEntryKindSchema, k, "CONFIG_ENTRY_KIND_");

/** What a new entry of each kind starts from. */
const TEMPLATES: Record<number, object> = {
  [ConfigEntryKind.PROVIDER]: { type: "openai", base_url: "https://api.openai.com/v1" },
  [ConfigEntryKind.DEPLOYMENT]: { provider: "", model: "", pricing: { input: 0, output: 0 } },
  [ConfigEntryKind.ROUTE]: { strategy: "priority", targets: [{ deployment: "", weight: 1 }], fallbacks: [] },
  [ConfigEntryKind.GUARDRAIL]: { kind: "deny", action: "block", deny: { words: [] } },
  [ConfigEntryKind.MCP_SERVER]: { url: "https://", description: "", tools: [] },
  [ConfigEntryKind.ALIAS]: { target: "" },
  [ConfigEntryKind.ALERT]: { format: "slack", events: ["budget_exhausted", "deployment_cooldown"] },
  [ConfigEntryKind.PRESET]: { model: "", system: "", temperature: 0.2, provider: { sort: "price" } },
};
const pretty = (v: unknown) => JSON.stringify(v, null, 2);
const templateOf = (k: ConfigEntryKind) => pretty(TEMPLATES[k]);

/** What the name is called for each kind, as in the config file. */
const NAME_LABEL: Record<number, string> = {
  [ConfigEntryKind.PROVIDER]: "Provider name",
  [ConfigEntryKind.DEPLOYMENT]: "Deployment id",
  [ConfigEntryKind.ROUTE]: "Route name",
  [ConfigEntryKind.GUARDRAIL]: "Guardrail name",
  [ConfigEntryKind.MCP_SERVER]: "MCP server id",
  [ConfigEntryKind.ALIAS]: "Alias",
  [ConfigEntryKind.ALERT]: "Alert name",
  [ConfigEntryKind.PRESET]: "Preset name",
};

/** The last save or delete: what changed, and the configuration version now in force. */
interface Outcome {
  title: string;
  version: string;
  changes: string[];
}

/** Refetch every AdminService list after a change. */
function useAdminRefresh() {
  const qc = useQueryClient();
  return () => qc.invalidateQueries({ queryKey: createConnectQueryKey({ schema: AdminService, cardinality: undefined }) });
}

/** A refusal's headline in the words of this page (the gateway's message follows it). */
function refusalTitle(error: unknown, action: "save" | "delete"): string | undefined {
  if (!error) return undefined;
  const code = SignalboxError.from(error).code;
  if (code === Code.Aborted) return "Changed meanwhile: the entry is not at the revision this form started from. Close, look at the list again and retry.";
  if (code === Code.FailedPrecondition) return action === "delete" ? "Still in use: change or delete what names it first." : "Refused: this change would break other entries, or cannot be stored here.";
  return undefined;
}

export function EntriesPage() {
  const [dialog, setDialog] = useState<{ kind: "create" } | { kind: "edit" | "delete"; entry: ConfigEntry }>();
  const [outcome, setOutcome] = useState<Outcome>();
  const close = () => setDialog(undefined);
  const done = (o: Outcome) => {
    setOutcome(o);
    close();
  };
  return (
    <>
      <PageHeader
        title="Providers & routes"
        subtitle="Providers, deployments, routes, guardrails, MCP servers, aliases, alerts and presets added at run time, beside the config file's (which they may not replace), their credentials sealed with the master key. A change is in force on every replica within a second."
        actions={
          <button type="button" className="primary" onClick={() => setDialog({ kind: "create" })} data-testid="entry-new">
            Add entry
          </button>
        }
      />
      {outcome && <OutcomeCard outcome={outcome} onDismiss={() => setOutcome(undefined)} />}
      <EntriesCard onEdit={(entry) => setDialog({ kind: "edit", entry })} onDelete={(entry) => setDialog({ kind: "delete", entry })} />
      <ResealCard />
      {dialog?.kind === "create" && <EntryDialog onClose={close} onDone={done} />}
      {dialog?.kind === "edit" && <EntryDialog key={`${dialog.entry.kind}/${dialog.entry.name}`} entry={dialog.entry} onClose={close} onDone={done} />}
      {dialog?.kind === "delete" && <DeleteEntryDialog entry={dialog.entry} onClose={close} onDone={done} />}
    </>
  );
}

function Changes({ changes, testId }: { changes: string[]; testId: string }) {
  if (!changes.length) return <p className="muted">No change to the configuration in force.</p>;
  return (
    <ul className="entry-changes" data-testid={testId}>
      {changes.map((c, i) => (
        <li key={i} data-testid="entry-change">
          {c}
        </li>
      ))}
    </ul>
  );
}

function OutcomeCard({ outcome, onDismiss }: { outcome: Outcome; onDismiss: () => void }) {
  return (
    <Card
      title={outcome.title}
      actions={
        <button type="button" className="icon" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      }
    >
      <div data-testid="entry-outcome" data-version={outcome.version}>
        <Changes changes={outcome.changes} testId="entry-outcome-changes" />
        <div className="muted small">
          Configuration version now in force: <code data-testid="entry-outcome-version">{outcome.version || "–"}</code>
        </div>
      </div>
    </Card>
  );
}

type Filter = "all" | "provider" | "deployment" | "route" | "guardrail" | "mcp_server" | "alias" | "alert" | "preset";
const FILTERS: { value: Filter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "provider", label: "Providers" },
  { value: "deployment", label: "Deployments" },
  { value: "route", label: "Routes" },
  { value: "guardrail", label: "Guardrails" },
  { value: "mcp_server", label: "MCP servers" },
  { value: "alias", label: "Aliases" },
  { value: "alert", label: "Alerts" },
  { value: "preset", label: "Presets" },
];
const FILTER_KIND: Record<Filter, ConfigEntryKind> = {
  all: ConfigEntryKind.UNSPECIFIED,
  provider: ConfigEntryKind.PROVIDER,
  deployment: ConfigEntryKind.DEPLOYMENT,
  route: ConfigEntryKind.ROUTE,
  guardrail: ConfigEntryKind.GUARDRAIL,
  mcp_server: ConfigEntryKind.MCP_SERVER,
  alias: ConfigEntryKind.ALIAS,
  alert: ConfigEntryKind.ALERT,
  preset: ConfigEntryKind.PRESET,
};

function EntriesCard({ onEdit, onDelete }: { onEdit: (e: ConfigEntry) => void; onDelete: (e: ConfigEntry) => void }) {
  const [filter, setFilter] = useState<Filter>("all");
  const q = useQuery(AdminService.method.listConfigEntries, { kind: FILTER_KIND[filter] });
  const entries = q.data?.entries ?? [];
  return (
    <Card title="Entries made at run time" actions={<Segmented name="Kind" value={filter} options={FILTERS} onChange={setFilter} />}>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : entries.length === 0 ? (
        <Empty>{filter === "all" ? "No entries made at run time: the config file's providers, deployments, routes, guardrails, MCP servers, aliases, alerts and presets are all there is." : `No ${(FILTERS.find((f) => f.value === filter)?.label ?? filter).toLowerCase()} made at run time.`}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table dense" data-testid="entries-table">
            <thead>
              <tr>
                <th>Kind</th>
                <th>Name</th>
                <th className="num">Revision</th>
                <th>Updated</th>
                <th>Secrets</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => {
                const kind = kindName(e.kind);
                return (
                  <tr key={`${kind}/${e.name}`} data-testid="entry-row" data-kind={kind} data-name={e.name} data-revision={String(e.revision)} data-problem={e.problem || undefined}>
                    <td>
                      <Badge tone="info">{kind}</Badge>
                    </td>
                    <td>
                      <strong className="nowrap">{e.name}</strong>
                      <div className="muted small">
                        created {e.createTime ? relative(e.createTime) : "–"} by {e.createdBy || "–"}
                      </div>
                    </td>
                    <td className="num">{String(e.revision)}</td>
                    <td className="nowrap" title={e.updateTime ? dateTime(e.updateTime) : undefined}>
                      {e.updateTime ? relative(e.updateTime) : <span className="muted">–</span>}
                      <div className="muted small">by {e.updatedBy || "–"}</div>
                    </td>
                    <td>
                      {e.secretFields.length ? (
                        <>
                          <span className="chips small">
                            {e.secretFields.map((f) => (
                              <code key={f} className="chip" data-testid="entry-secret" title="Stored encrypted; never shown">
                                {f}
                              </code>
                            ))}
                          </span>
                          <SealedWith keys={e.sealedWith} />
                        </>
                      ) : (
                        <span className="muted">–</span>
                      )}
                    </td>
                    <td>
                      {e.problem ? (
                        <div className="warning" role="status" data-testid="entry-problem">
                          <Badge tone="warn">not in force</Badge> {e.problem}
                        </div>
                      ) : (
                        <Badge tone="ok">in force</Badge>
                      )}
                    </td>
                    <td className="row-actions">
                      <button type="button" onClick={() => onEdit(e)} aria-label={`Edit ${kind} ${e.name}`}>
                        Edit
                      </button>
                      <button type="button" className="danger" onClick={() => onDelete(e)} aria-label={`Delete ${kind} ${e.name}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

/** The ids of the master keys an entry's credentials are sealed with. */
function SealedWith({ keys }: { keys: string[] }) {
  return (
    <div className="muted small nowrap" data-testid="entry-sealed-with" data-keys={keys.join(" ")}>
      {keys.length ? (
        <>
          sealed with{" "}
          {keys.map((k, i) => (
            <span key={k}>
              {i > 0 && ", "}
              <code title="The id of a master key (it reveals nothing of the key)">{k}</code>
            </span>
          ))}
        </>
      ) : (
        <span title="This gateway has no SIGNALBOX_MASTER_KEY: the credentials are held unsealed, in memory only">not sealed</span>
      )}
    </div>
  );
}

/** The spec as typed, parsed: an object, or why not. */
function parseSpec(text: string): { spec?: Record<string, unknown>; problem?: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { problem: "it must be a JSON object ({ ... })" };
  return { spec: v as Record<string, unknown> };
}

/**
 * Add an entry, or replace `entry` (its kind and name fixed, expected_revision its revision). The
 * calls go straight to the client, not through the query cache: a typed API key is in them.
 */
function EntryDialog({ entry, onClose, onDone }: { entry?: ConfigEntry; onClose: () => void; onDone: (o: Outcome) => void }) {
  const { client } = useSession();
  const refresh = useAdminRefresh();
  const [kind, setKind] = useState<ConfigEntryKind>(entry?.kind ?? ConfigEntryKind.PROVIDER);
  const [name, setName] = useState(entry?.name ?? "");
  const [specText, setSpecText] = useState(entry ? pretty(entry.spec ?? {}) : templateOf(ConfigEntryKind.PROVIDER));
  // Uncontrolled on purpose: a controlled input mirrors its value into the DOM's value attribute.
  const secretRef = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState<"check" | "save">();
  const [error, setError] = useState<unknown>();
  const [specProblem, setSpecProblem] = useState<string>();
  const [checked, setChecked] = useState<PutConfigEntryResponse>();
  const credential = CREDENTIALS[kind];
  const storedSecret = credential !== undefined && (entry?.secretFields.includes(credential.path.join(".")) ?? false);

  // Any edit makes an earlier check (and its refusal) stale.
  const stale = () => {
    setChecked(undefined);
    setError(undefined);
    setSpecProblem(undefined);
  };
  const pickKind = (k: ConfigEntryKind) => {
    // An untouched template follows the kind.
    if (specText.trim() === templateOf(kind).trim()) setSpecText(templateOf(k));
    setKind(k);
    stale();
  };

  const bad = error ? SignalboxError.from(error).field : undefined;
  const invalid = (f: string) => (bad === f || bad?.startsWith(`${f}.`) || bad?.startsWith(`${f}[`) ? true : undefined);

  const send = async (validateOnly: boolean) => {
    stale();
    const parsed = parseSpec(specText);
    if (!parsed.spec) {
      setSpecProblem(parsed.problem);
      return;
    }
    let spec = { ...parsed.spec };
    const secret = secretRef.current?.value.trim() ?? "";
    if (credential && secret) {
      if (credential.needsKind && spec.kind !== credential.needsKind) {
        setSpecProblem(`the ${credential.label.toLowerCase()} is for a guardrail of kind "${credential.needsKind}" (this spec's kind is ${JSON.stringify(spec.kind ?? null)})`);
        return;
      }
      spec = withValue(spec, credential.path, secret);
    }
    setBusy(validateOnly ? "check" : "save");
    try {
      const res = await client.admin.putConfigEntry({ kind, name: name.trim(), spec: spec as JsonObject, expectedRevision: entry?.revision ?? 0n, validateOnly });
      if (validateOnly) {
        setChecked(res);
        return;
      }
      if (secretRef.current) secretRef.current.value = "";
      refresh();
      onDone({ title: `Saved ${kindName(kind)} ${res.entry?.name ?? name.trim()} (revision ${String(res.entry?.revision ?? "")})`, version: res.configVersion, changes: res.changes });
    } catch (err) {
      setError(err);
      // Changed meanwhile: show the list as it is now.
      if (SignalboxError.from(err).code === Code.Aborted) refresh();
    } finally {
      setBusy(undefined);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send(false);
  };
  const title = entry ? `Edit ${kindName(entry.kind)} ${entry.name}` : "Add entry";
  return (
    <Dialog title={title} onClose={onClose} wide>
      <form onSubmit={submit} className="form" aria-label={entry ? "Edit entry" : "Add entry"}>
        <div className="row">
          <Field label="Kind">
            <select value={kind} onChange={(e) => pickKind(Number(e.target.value) as ConfigEntryKind)} name="kind" disabled={!!entry} aria-invalid={invalid("kind")}>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {kindName(k)}
                </option>
              ))}
            </select>
          </Field>
          <Field label={NAME_LABEL[kind]} hint={entry ? `At revision ${String(entry.revision)}; a change made meanwhile is refused.` : "Must not be a name of the config file."}>
            <input value={name} onChange={(e) => (setName(e.target.value), stale())} name="name" required readOnly={!!entry} autoFocus={!entry} aria-invalid={invalid("name")} />
          </Field>
        </div>
        <Field label="Spec (JSON)" hint={`The entry as the config file would hold it (its snake_case fields). Credentials show as "${REDACTED}": left so, the stored value stays; "" removes one.`}>
          <textarea className="code-input" value={specText} onChange={(e) => (setSpecText(e.target.value), stale())} name="spec" rows={12} spellCheck={false} aria-invalid={specProblem || invalid("spec") ? true : undefined} />
        </Field>
        {credential && (
          <Field label={credential.label} hint={storedSecret ? "One is stored: leave this empty to keep it; what you type replaces it." : credential.hint}>
            {/* Keyed by kind: a value typed for one kind never goes with another. */}
            <input key={kind} type="password" ref={secretRef} defaultValue="" onChange={stale} name={credential.input} autoComplete="new-password" placeholder={storedSecret ? REDACTED : credential.placeholder} />
          </Field>
        )}
        {specProblem && <ErrorBox error={new Error(specProblem)} title={specProblem.startsWith("the ") ? "The spec does not take this credential." : "The spec is not valid JSON."} />}
        <ErrorBox error={error} title={refusalTitle(error, "save")} />
        {checked && (
          <div className="answer" data-testid="entry-check" data-version={checked.configVersion}>
            <strong>Check passed; nothing was written.</strong> Saving would make {checked.changes.length ? "these changes:" : "no change to the configuration in force."}
            {checked.changes.length > 0 && <Changes changes={checked.changes} testId="entry-check-changes" />}
          </div>
        )}
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" onClick={() => void send(true)} disabled={!!busy || !name.trim()} data-testid="entry-check-button">
            {busy === "check" ? "Checking…" : "Check"}
          </button>
          <button type="submit" className="primary" disabled={!!busy || !name.trim()}>
            {busy === "save" ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteEntryDialog({ entry, onClose, onDone }: { entry: ConfigEntry; onClose: () => void; onDone: (o: Outcome) => void }) {
  const refresh = useAdminRefresh();
  const kind = kindName(entry.kind);
  const del = useMutation(AdminService.method.deleteConfigEntry, {
    onSuccess: (res) => {
      refresh();
      onDone({ title: `Deleted ${kind} ${entry.name}`, version: res.configVersion, changes: res.changes });
    },
    onError: (err) => {
      if (SignalboxError.from(err).code === Code.Aborted) refresh();
    },
  });
  return (
    <Dialog title={`Delete ${kind} ${entry.name}`} onClose={onClose}>
      <p>
        The {kind} <strong>{entry.name}</strong> is removed on every replica within a second{entry.secretFields.length ? ", with its stored credentials" : ""}. It is refused while another entry or a key's allow list still names it.
      </p>
      <ErrorBox error={del.error} title={refusalTitle(del.error, "delete")} />
      <DialogActions onCancel={onClose} label="Delete" busyLabel="Deleting…" busy={del.isPending} onConfirm={() => del.mutate({ kind: entry.kind, name: entry.name, expectedRevision: entry.revision })} danger />
    </Dialog>
  );
}

/** ResealConfigEntries' refusal in the words of this page (the gateway's message follows it). */
function resealRefusalTitle(error: unknown): string | undefined {
  if (!error) return undefined;
  if (SignalboxError.from(error).code === Code.FailedPrecondition) return "Nothing to seal with: this gateway has no master key.";
  return undefined;
}

const entriesCount = (n: number) => `${n} ${n === 1 ? "entry" : "entries"}`;

/**
 * "Seal credentials again": every stored credential sealed with the current master key, the last
 * step of a rotation (each replica runs with the new key as SIGNALBOX_MASTER_KEY and the old one as
 * SIGNALBOX_MASTER_KEY_PREVIOUS; after this the old key is no longer needed). "Check" writes nothing.
 */
function ResealCard() {
  const refresh = useAdminRefresh();
  const reseal = useMutation(AdminService.method.resealConfigEntries, {
    onSuccess: (res, req) => {
      if (!req.validateOnly && res.resealed.length) refresh();
    },
  });
  const checking = reseal.isPending && reseal.variables?.validateOnly;
  const sealing = reseal.isPending && !reseal.variables?.validateOnly;
  return (
    <Card
      title="Seal credentials again"
      actions={
        <>
          <button type="button" onClick={() => reseal.mutate({ validateOnly: true })} disabled={reseal.isPending} data-testid="reseal-check">
            {checking ? "Checking…" : "Check"}
          </button>
          <button type="button" className="primary" onClick={() => reseal.mutate({ validateOnly: false })} disabled={reseal.isPending} data-testid="reseal-apply">
            {sealing ? "Sealing…" : "Seal again"}
          </button>
        </>
      }
    >
      <p className="muted small">
        The last step of a master-key rotation: with the new key as <code>SIGNALBOX_MASTER_KEY</code> and the old one as <code>SIGNALBOX_MASTER_KEY_PREVIOUS</code> on every replica, this seals every stored credential with the new key; then the old one is no longer needed. <strong>Check</strong> says what it would do and writes nothing.
      </p>
      <ErrorBox error={reseal.error} title={resealRefusalTitle(reseal.error)} />
      {reseal.data && <ResealResult result={reseal.data} validateOnly={!!reseal.variables?.validateOnly} />}
    </Card>
  );
}

function ResealResult({ result, validateOnly }: { result: ResealConfigEntriesResponse; validateOnly: boolean }) {
  return (
    <div className="answer" data-testid="reseal-result" data-key-id={result.keyId} data-validate-only={validateOnly ? "true" : "false"} data-current={result.current}>
      <div>
        <strong>{validateOnly ? "Checked; nothing was written." : "Done."}</strong> Current master key: <code data-testid="reseal-key">{result.keyId}</code>
      </div>
      <div data-testid="reseal-resealed">
        {validateOnly ? "Entries to seal again" : "Entries sealed again"}:{" "}
        {result.resealed.length ? (
          <span className="chips small">
            {result.resealed.map((id) => (
              <code key={id} className="chip" data-testid="reseal-entry">
                {id}
              </code>
            ))}
          </span>
        ) : (
          <span className="muted">none</span>
        )}
      </div>
      <div data-testid="reseal-current" data-count={result.current}>
        Already sealed with this key: {entriesCount(result.current)}
      </div>
      {result.failed.length > 0 && (
        <div className="warning" role="status" data-testid="reseal-failed">
          <Badge tone="warn">not sealed again</Badge> {entriesCount(result.failed.length)} whose credentials none of this replica's keys open, left as they are:
          <ul className="entry-changes">
            {result.failed.map((f) => (
              <li key={f.entry} data-testid="reseal-failure" data-entry={f.entry}>
                <code>{f.entry}</code>: {f.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
