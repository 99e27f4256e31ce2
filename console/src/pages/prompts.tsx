// Prompts: PromptService's templates. The list (ListPrompts), one prompt's versions newest first
// (GetPrompt), a new version (CreatePromptVersion), labels set and removed (SetPromptLabel), a
// store prompt deleted (DeletePrompt), and "Try it": a version or label rendered with its variables
// (RenderPrompt) or run through POST /v1/responses with the session's key. Prompts of the config
// file are read-only here; a service key reads and renders, and sees no write controls.

import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { type Prompt, type PromptMessage, promptParametersText, PromptService, PromptSource, type PromptVersion, SignalboxError } from "@signalbox/client";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { json } from "../batches.ts";
import { ModelSelect } from "../compose.tsx";
import { useSession } from "../context.ts";
import { dateTime, relative, splitList, usd } from "../format.ts";
import { TeamPicker } from "../pickers.tsx";
import { requestIdOf } from "../responses.ts";
import { Link, navigate } from "../router.tsx";
import { type Identity, isAdmin } from "../session.ts";
import { Badge, Card, Dialog, DialogActions, Empty, ErrorBox, Field, Loading, PageHeader } from "../ui.tsx";

const ROLES = ["system", "developer", "user", "assistant"] as const;
type DraftMessage = { role: string; content: string };

/** Refetch every PromptService query after a change. */
function usePromptsRefresh() {
  const qc = useQueryClient();
  return () => qc.invalidateQueries({ queryKey: createConnectQueryKey({ schema: PromptService, cardinality: undefined }) });
}

/** May this key change prompts at all (service keys only read and render)? */
const mayWrite = (id: Identity): boolean => id.role !== "service";
/** May this key change this prompt: a store prompt, and an admin's, or the key's own team's. */
const mayChange = (id: Identity, p: Prompt): boolean => mayWrite(id) && p.source === PromptSource.STORE && (isAdmin(id) || p.team === id.team);

/** Labels sorted by name, as [label, version]. */
const labelsOf = (p: Prompt): [string, string][] => Object.entries(p.labels).sort(([a], [b]) => a.localeCompare(b));

const open = (id: string) => navigate(`prompts/${encodeURIComponent(id)}`);

/** The field a refusal names, compared loosely (prompt_id / promptId, messages[1].content). */
function fieldOf(error: unknown): string | undefined {
  if (!error) return undefined;
  const f = SignalboxError.from(error).field;
  return f ? f.replaceAll("_", "").toLowerCase() : undefined;
}
const names = (field: string | undefined, name: string): boolean => {
  if (!field) return false;
  const n = name.replaceAll("_", "").toLowerCase();
  return field === n || field.startsWith(`${n}[`) || field.startsWith(`${n}.`);
};

export function PromptsPage({ selected }: { selected?: string }) {
  const { identity } = useSession();
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader
        title="Prompts"
        subtitle="Prompt templates with versions and labels; requests name one by id and a version or label. Prompts of the config file are read-only here."
        actions={
          mayWrite(identity) && (
            <button type="button" className="primary" onClick={() => setCreating(true)} data-testid="prompt-new">
              New prompt
            </button>
          )
        }
      />
      <PromptsCard selected={selected} />
      {selected && <PromptDetail key={selected} id={selected} />}
      {creating && <VersionDialog onClose={() => setCreating(false)} />}
    </>
  );
}

function PromptsCard({ selected }: { selected?: string }) {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const [team, setTeam] = useState("");
  const q = useQuery(PromptService.method.listPrompts, { team });
  const prompts = q.data?.prompts ?? [];
  return (
    <Card title="Prompts" actions={admin && <TeamPicker value={team} onChange={setTeam} />}>
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : prompts.length === 0 ? (
        <Empty>No prompts{team ? ` of team ${team}` : ""}. Create one, or list them under prompts: in the config file.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table dense clickable" data-testid="prompts-table">
            <thead>
              <tr>
                <th>Prompt</th>
                <th>Source</th>
                <th>Team</th>
                <th>Latest</th>
                <th>Labels</th>
                <th className="num">Versions</th>
                <th>Updated</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {prompts.map((p) => (
                <tr
                  key={p.promptId}
                  onClick={() => open(p.promptId)}
                  tabIndex={0}
                  onKeyDown={(e) => e.key === "Enter" && open(p.promptId)}
                  className={p.promptId === selected ? "selected" : undefined}
                  aria-selected={p.promptId === selected}
                  data-testid="prompt-row"
                  data-id={p.promptId}
                  data-source={p.source === PromptSource.CONFIG ? "config" : "store"}
                  data-latest={p.latestVersion}
                >
                  <td>
                    <strong className="nowrap">{p.promptId}</strong>
                  </td>
                  <td>{p.source === PromptSource.CONFIG ? <Badge tone="muted">config</Badge> : <Badge tone="info">store</Badge>}</td>
                  <td>{p.team || <span className="muted">shared</span>}</td>
                  <td>{p.latestVersion}</td>
                  <td>
                    <LabelChips prompt={p} />
                  </td>
                  <td className="num">{p.versionCount}</td>
                  <td className="nowrap" title={p.updateTime ? dateTime(p.updateTime) : undefined}>
                    {p.updateTime ? relative(p.updateTime) : <span className="muted">–</span>}
                  </td>
                  <td>{p.description || <span className="muted">–</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function LabelChips({ prompt }: { prompt: Prompt }) {
  const labels = labelsOf(prompt);
  if (!labels.length) return <span className="muted">–</span>;
  return (
    <span className="chips small">
      {labels.map(([l, v]) => (
        <span key={l} className="chip" data-testid="prompt-label" data-label={l} data-version={v}>
          {l} → {v}
        </span>
      ))}
    </span>
  );
}

function PromptDetail({ id }: { id: string }) {
  const { identity } = useSession();
  const q = useQuery(PromptService.method.getPrompt, { promptId: id });
  const [dialog, setDialog] = useState<"version" | "delete">();
  const [tryVersion, setTryVersion] = useState<string>();
  const p = q.data?.prompt;
  const versions = q.data?.versions ?? [];
  const writable = p ? mayChange(identity, p) : false;
  return (
    <>
      <Card
        title={
          <>
            Prompt <code>{id}</code>
          </>
        }
        actions={
          p &&
          (p.source === PromptSource.CONFIG ? (
            <span className="muted" data-testid="prompt-readonly">
              read-only (config file)
            </span>
          ) : (
            writable && (
              <>
                <button type="button" className="primary" onClick={() => setDialog("version")} data-testid="prompt-new-version">
                  New version
                </button>
                <button type="button" className="danger" onClick={() => setDialog("delete")} data-testid="prompt-delete">
                  Delete prompt
                </button>
              </>
            )
          ))
        }
      >
        <ErrorBox error={q.error} />
        {q.isPending ? (
          <Loading />
        ) : (
          p && (
            <dl className="facts" data-testid="prompt-facts" data-id={p.promptId} data-source={p.source === PromptSource.CONFIG ? "config" : "store"}>
              <dt>Source</dt>
              <dd>{p.source === PromptSource.CONFIG ? "config file" : "PromptService"}</dd>
              <dt>Team</dt>
              <dd>{p.team || "shared"}</dd>
              <dt>Latest version</dt>
              <dd>{p.latestVersion}</dd>
              <dt>Labels</dt>
              <dd>
                <LabelChips prompt={p} />
              </dd>
            </dl>
          )
        )}
      </Card>
      {p && (
        <div className="grid-2 wide-left">
          <Card title={`Versions (${versions.length})`}>
            <div className="stack">
              {versions.map((v) => (
                <VersionView key={v.version} prompt={p} v={v} writable={writable} onTry={() => setTryVersion(v.version)} />
              ))}
            </div>
          </Card>
          <TryPanel key={tryVersion ?? ""} prompt={p} versions={versions} initial={tryVersion} />
        </div>
      )}
      {p && dialog === "version" && <VersionDialog prompt={p} base={versions[0]} onClose={() => setDialog(undefined)} />}
      {p && dialog === "delete" && <DeletePromptDialog prompt={p} onClose={() => setDialog(undefined)} />}
    </>
  );
}

function Messages({ messages, testId }: { messages: PromptMessage[]; testId: string }) {
  return (
    <div className="convo" data-testid={testId}>
      {messages.map((m, i) => (
        <div key={i} className="convo-item convo-input" data-role={m.role}>
          <div className="convo-who">{m.role}</div>
          <div className="convo-text">{m.content}</div>
        </div>
      ))}
    </div>
  );
}

function VersionView({ prompt, v, writable, onTry }: { prompt: Prompt; v: PromptVersion; writable: boolean; onTry: () => void }) {
  const refresh = usePromptsRefresh();
  const [label, setLabel] = useState("");
  const set = useMutation(PromptService.method.setPromptLabel, { onSuccess: () => (setLabel(""), refresh()) });
  const remove = useMutation(PromptService.method.setPromptLabel, { onSuccess: () => refresh() });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    set.mutate({ promptId: prompt.promptId, label: label.trim(), version: v.version });
  };
  return (
    <section className="prompt-version" data-testid="prompt-version" data-version={v.version} data-labels={[...v.labels].sort().join(",")}>
      <div className="card-head">
        <h3>Version {v.version}</h3>
        <div className="actions">
          <span className="chips small">
            {v.labels.map((l) => (
              <span key={l} className="chip on" data-testid="version-label" data-label={l}>
                {l}
                {writable && (
                  <button type="button" className="icon" aria-label={`Remove label ${l}`} disabled={remove.isPending} onClick={() => remove.mutate({ promptId: prompt.promptId, label: l, version: "" })}>
                    ×
                  </button>
                )}
              </span>
            ))}
          </span>
          <button type="button" onClick={onTry} data-testid="version-try">
            Try it
          </button>
        </div>
      </div>
      <div className="muted small">
        {v.model ? (
          <>
            model <code>{v.model}</code>
          </>
        ) : (
          "no model (requests name one)"
        )}{" "}
        · created by {v.createdBy || "–"} <span title={dateTime(v.createTime)}>{v.createTime ? relative(v.createTime) : ""}</span>
      </div>
      {v.description && <p data-testid="version-description">{v.description}</p>}
      {v.instructions && (
        <>
          <div className="field-label">Instructions</div>
          <div className="answer prompt-text" data-testid="version-instructions">
            {v.instructions}
          </div>
        </>
      )}
      {v.messages.length > 0 && (
        <>
          <div className="field-label">Messages</div>
          <Messages messages={v.messages} testId="version-messages" />
        </>
      )}
      <div className="small">
        Variables:{" "}
        {v.variables.length ? (
          <span className="chips small" data-testid="version-variables">
            {v.variables.map((n) => (
              <code key={n} className="chip">
                {n}
              </code>
            ))}
          </span>
        ) : (
          <span className="muted">none</span>
        )}
      </div>
      {promptParametersText(v.parameters) && (
        <div className="small" data-testid="version-parameters">
          Parameters: {promptParametersText(v.parameters, " · ")}
        </div>
      )}
      {writable && (
        <form className="actions" onSubmit={submit} aria-label={`Set a label on version ${v.version}`}>
          <input value={label} onChange={(e) => setLabel(e.target.value)} name="label" placeholder="production" aria-label={`Label for version ${v.version}`} />
          <button type="submit" disabled={!label.trim() || set.isPending}>
            {set.isPending ? "Setting…" : "Set label"}
          </button>
        </form>
      )}
      <ErrorBox error={set.error ?? remove.error} />
    </section>
  );
}

/** A typed number, or undefined when the field is empty. */
const number = (text: string): number | undefined => (text.trim() === "" ? undefined : Number(text));

/** CreatePromptVersion: a new prompt (id, and a team for admins) or the next version of `prompt`, starting from `base`. */
function VersionDialog({ prompt, base, onClose }: { prompt?: Prompt; base?: PromptVersion; onClose: () => void }) {
  const { identity } = useSession();
  const admin = isAdmin(identity);
  const refresh = usePromptsRefresh();
  const [id, setId] = useState(prompt?.promptId ?? "");
  const [model, setModel] = useState(base?.model ?? "");
  const [instructions, setInstructions] = useState(base?.instructions ?? "");
  const [messages, setMessages] = useState<DraftMessage[]>(base?.messages.map((m) => ({ role: m.role, content: m.content })) ?? []);
  const [description, setDescription] = useState("");
  // Model parameters the version sets, as typed (empty: not set; a request's own values win).
  const bp = base?.parameters;
  const [temperature, setTemperature] = useState(bp?.temperature === undefined ? "" : String(bp.temperature));
  const [topP, setTopP] = useState(bp?.topP === undefined ? "" : String(bp.topP));
  const [maxOutput, setMaxOutput] = useState(bp?.maxOutputTokens === undefined ? "" : String(bp.maxOutputTokens));
  const [stop, setStop] = useState(bp?.stop.join("\n") ?? "");
  const [effort, setEffort] = useState(bp?.reasoningEffort ?? "");
  const [labels, setLabels] = useState("");
  const [team, setTeam] = useState("");
  const create = useMutation(PromptService.method.createPromptVersion, {
    onSuccess: (res) => {
      refresh();
      onClose();
      open(res.prompt?.promptId ?? id.trim());
    },
  });
  const bad = fieldOf(create.error);
  const invalid = (name: string) => (names(bad, name) ? true : undefined);
  const setMessage = (i: number, m: Partial<DraftMessage>) => setMessages(messages.map((x, j) => (j === i ? { ...x, ...m } : x)));
  const [notNumber, setNotNumber] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const typed = { Temperature: temperature, "Top p": topP, "Max output tokens": maxOutput };
    const wrong = Object.entries(typed).find(([, v]) => Number.isNaN(number(v) ?? 0));
    setNotNumber(wrong ? `${wrong[0]}: "${wrong[1]}" is not a number.` : "");
    if (wrong) return;
    create.mutate({
      promptId: id.trim(),
      model: model.trim(),
      instructions,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      description: description.trim(),
      labels: splitList(labels),
      team: prompt ? "" : team.trim(),
      parameters: {
        temperature: number(temperature),
        topP: number(topP),
        maxOutputTokens: number(maxOutput),
        stop: stop.split("\n").filter((l) => l !== ""),
        reasoningEffort: effort,
      },
    });
  };
  return (
    <Dialog title={prompt ? `New version of ${prompt.promptId}` : "New prompt"} onClose={onClose} wide>
      <form onSubmit={submit} className="form" aria-label={prompt ? "New version" : "New prompt"}>
        <div className="row">
          <Field label="Prompt id" hint={prompt ? undefined : "Letters, digits and _ . : - (up to 128)."}>
            <input value={id} onChange={(e) => setId(e.target.value)} name="prompt_id" readOnly={!!prompt} required autoFocus={!prompt} aria-invalid={invalid("prompt_id")} />
          </Field>
          <Field label="Model" hint="A route, alias or deployment; empty: requests name one.">
            <input value={model} onChange={(e) => setModel(e.target.value)} name="model" placeholder="default" aria-invalid={invalid("model")} />
          </Field>
          {!prompt && admin && (
            <Field label="Team" hint="Empty: shared.">
              <input value={team} onChange={(e) => setTeam(e.target.value)} name="team" placeholder="shared" aria-invalid={invalid("team")} />
            </Field>
          )}
        </div>
        <Field label="Instructions" hint="A system message; {{name}} is a variable.">
          <textarea value={instructions} onChange={(e) => setInstructions(e.target.value)} name="instructions" rows={5} aria-invalid={invalid("instructions")} />
        </Field>
        <div className="field">
          <span className="field-label">Messages</span>
          <div className="messages" data-testid="draft-messages">
            {messages.map((m, i) => (
              <div className="message" key={i}>
                <select value={m.role} onChange={(e) => setMessage(i, { role: e.target.value })} aria-label={`Message ${i + 1} role`} name={`messages[${i}].role`} aria-invalid={invalid(`messages[${i}].role`)}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
                <textarea value={m.content} rows={2} onChange={(e) => setMessage(i, { content: e.target.value })} aria-label={`Message ${i + 1} content`} name={`messages[${i}].content`} aria-invalid={invalid(`messages[${i}]`)} />
                <button type="button" className="icon" aria-label={`Remove message ${i + 1}`} onClick={() => setMessages(messages.filter((_, j) => j !== i))}>
                  ×
                </button>
              </div>
            ))}
            <button type="button" className="link" onClick={() => setMessages([...messages, { role: messages.at(-1)?.role === "user" ? "assistant" : "user", content: "" }])}>
              + Add message
            </button>
          </div>
        </div>
        <div className="row" data-testid="draft-parameters">
          <Field label="Temperature" hint="0 to 2; empty: not set.">
            <input value={temperature} onChange={(e) => setTemperature(e.target.value)} name="parameters.temperature" inputMode="decimal" aria-invalid={invalid("parameters.temperature")} />
          </Field>
          <Field label="Top p" hint="0 to 1.">
            <input value={topP} onChange={(e) => setTopP(e.target.value)} name="parameters.top_p" inputMode="decimal" aria-invalid={invalid("parameters.top_p")} />
          </Field>
          <Field label="Max output tokens">
            <input value={maxOutput} onChange={(e) => setMaxOutput(e.target.value)} name="parameters.max_output_tokens" inputMode="numeric" aria-invalid={invalid("parameters.max_output_tokens")} />
          </Field>
          <Field label="Reasoning effort">
            <select value={effort} onChange={(e) => setEffort(e.target.value)} name="parameters.reasoning_effort" aria-invalid={invalid("parameters.reasoning_effort")}>
              {["", "minimal", "low", "medium", "high"].map((x) => (
                <option key={x} value={x}>
                  {x || "not set"}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field label="Stop sequences" hint="One per line, at most 4.">
          <textarea value={stop} onChange={(e) => setStop(e.target.value)} name="parameters.stop" rows={2} aria-invalid={invalid("parameters.stop")} />
        </Field>
        <div className="row">
          <Field label="Description" hint="What this version changes.">
            <input value={description} onChange={(e) => setDescription(e.target.value)} name="description" aria-invalid={invalid("description")} />
          </Field>
          <Field label="Labels" hint="Comma-separated, e.g. production, staging.">
            <input value={labels} onChange={(e) => setLabels(e.target.value)} name="labels" placeholder="production" aria-invalid={invalid("labels")} />
          </Field>
        </div>
        {notNumber && (
          <div className="error" role="alert">
            {notNumber}
          </div>
        )}
        <ErrorBox error={create.error} />
        <DialogActions onCancel={onClose} label={prompt ? "Create version" : "Create prompt"} busyLabel="Creating…" busy={create.isPending} disabled={!id.trim()} />
      </form>
    </Dialog>
  );
}

function DeletePromptDialog({ prompt, onClose }: { prompt: Prompt; onClose: () => void }) {
  const refresh = usePromptsRefresh();
  const del = useMutation(PromptService.method.deletePrompt, {
    onSuccess: () => {
      onClose();
      navigate("prompts");
      refresh();
    },
  });
  return (
    <Dialog title={`Delete prompt ${prompt.promptId}`} onClose={onClose}>
      <p>
        The prompt <strong>{prompt.promptId}</strong> and its {prompt.versionCount} version(s) are deleted everywhere within a second; requests naming it are refused from then on. This cannot be undone.
      </p>
      <ErrorBox error={del.error} />
      <DialogActions onCancel={onClose} label="Delete prompt" busyLabel="Deleting…" busy={del.isPending} onConfirm={() => del.mutate({ promptId: prompt.promptId })} danger />
    </Dialog>
  );
}

/** What the console reads of a POST /v1/responses answer. */
interface RunAnswer {
  id: string;
  status: string;
  model: string;
  output: { type: string; content?: { type: string; text?: string; refusal?: string }[] }[];
  usage?: { input_tokens: number; output_tokens: number } | null;
  signalbox?: { deployment?: string; cost_nano_usd?: number };
}

const answerText = (r: RunAnswer): string =>
  r.output
    .filter((o) => o.type === "message")
    .flatMap((o) => o.content ?? [])
    .map((c) => (c.type === "output_text" ? (c.text ?? "") : (c.refusal ?? "")))
    .join("");

/** Render a version or label with its variables (RenderPrompt), or run it (POST /v1/responses). */
function TryPanel({ prompt, versions, initial }: { prompt: Prompt; versions: PromptVersion[]; initial?: string }) {
  const labels = labelsOf(prompt);
  const fallback = prompt.labels.production ? "production" : prompt.latestVersion;
  const [chosen, setPick] = useState(initial ?? fallback);
  // A label removed (or a prompt changed) since it was picked: back to the default.
  const pick = chosen in prompt.labels || versions.some((x) => x.version === chosen) ? chosen : fallback;
  const [values, setValues] = useState<Record<string, string>>({});
  const [input, setInput] = useState("");
  const [model, setModel] = useState("default");
  const [answer, setAnswer] = useState<RunAnswer>();
  const [runError, setRunError] = useState<unknown>();
  const [running, setRunning] = useState(false);
  const render = useMutation(PromptService.method.renderPrompt);
  const resolved = prompt.labels[pick] ?? pick;
  const v = versions.find((x) => x.version === resolved);
  const variables = Object.fromEntries((v?.variables ?? []).filter((n) => n in values).map((n) => [n, values[n]]));

  const doRender = (e: FormEvent) => {
    e.preventDefault();
    render.mutate({ promptId: prompt.promptId, version: pick, variables });
  };
  const run = async () => {
    setRunning(true);
    setRunError(undefined);
    setAnswer(undefined);
    try {
      const body = { prompt: { id: prompt.promptId, version: pick, variables }, ...(input.trim() ? { input } : {}), ...(v && !v.model ? { model } : {}) };
      setAnswer(await json<RunAnswer>("/v1/responses", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
    } catch (err) {
      setRunError(err);
    } finally {
      setRunning(false);
    }
  };
  const r = render.data;
  return (
    <Card title="Try it">
      <form className="form" onSubmit={doRender} aria-label="Try it" data-testid="try-it">
        <Field label="Version or label">
          <select value={pick} onChange={(e) => (setPick(e.target.value), render.reset())} name="try_version">
            {labels.length > 0 && (
              <optgroup label="Labels">
                {labels.map(([l, ver]) => (
                  <option key={`l:${l}`} value={l}>
                    {l} → {ver}
                  </option>
                ))}
              </optgroup>
            )}
            <optgroup label="Versions">
              {versions.map((x) => (
                <option key={`v:${x.version}`} value={x.version}>
                  version {x.version}
                </option>
              ))}
            </optgroup>
          </select>
        </Field>
        {v?.variables.map((n) => (
          <Field key={n} label={`{{${n}}}`}>
            <input value={values[n] ?? ""} onChange={(e) => setValues({ ...values, [n]: e.target.value })} name={`var_${n}`} aria-label={`Variable ${n}`} />
          </Field>
        ))}
        {v && !v.model && (
          <Field label="Model" hint="This version names no model.">
            <ModelSelect value={model} onChange={setModel} />
          </Field>
        )}
        <Field label="Input (optional)" hint="Sent as the request's input when you run it.">
          <textarea value={input} onChange={(e) => setInput(e.target.value)} name="try_input" rows={2} />
        </Field>
        <div className="actions">
          <button type="submit" disabled={render.isPending} data-testid="try-render">
            {render.isPending ? "Rendering…" : "Render"}
          </button>
          <button type="button" className="primary" onClick={run} disabled={running} data-testid="try-run">
            {running ? "Running…" : "Run"}
          </button>
        </div>
      </form>
      <ErrorBox error={render.error} />
      {r && (
        <div className="stack" data-testid="rendered" data-version={r.version?.version} data-model={r.model}>
          <h3>
            Rendered: version {r.version?.version}
            {r.model ? (
              <>
                {" "}
                · model <code>{r.model}</code>
              </>
            ) : null}
          </h3>
          {r.instructions && (
            <div className="answer prompt-text" data-testid="rendered-instructions">
              {r.instructions}
            </div>
          )}
          {r.messages.length > 0 && <Messages messages={r.messages} testId="rendered-messages" />}
        </div>
      )}
      <ErrorBox error={runError} />
      {answer && (
        <div className="stack" data-testid="run-answer" data-deployment={answer.signalbox?.deployment ?? ""} data-status={answer.status}>
          <h3>Answer</h3>
          <div className="answer" data-testid="run-text">
            {answerText(answer)}
          </div>
          <dl className="facts">
            <dt>Deployment</dt>
            <dd data-testid="run-deployment">{answer.signalbox?.deployment || "–"}</dd>
            <dt>Cost</dt>
            <dd data-testid="run-cost">{usd(answer.signalbox?.cost_nano_usd)}</dd>
            <dt>Tokens</dt>
            <dd>
              {answer.usage ? `${answer.usage.input_tokens} in · ${answer.usage.output_tokens} out` : "–"}
            </dd>
            <dt>Request</dt>
            <dd>
              <Link to={`requests/${encodeURIComponent(requestIdOf(answer.id))}`}>{requestIdOf(answer.id)}</Link>
            </dd>
          </dl>
        </div>
      )}
    </Card>
  );
}
