// Guardrails: the configuration's guardrails (GuardrailService.ListGuardrails: name, kind, stages,
// action, mandatory; never a service's URL or key) and "Try it": named ones run on a text at one
// stage with no model call (ApplyGuardrails), showing the block, or the text as it would leave with
// its redactions marked, and what each guardrail did. Any signed-in key.

import { useMutation, useQuery } from "@connectrpc/connect-query";
import { type ApplyGuardrailsResponse, type GuardrailInfo, GuardrailService, GuardrailStage } from "@signalbox/client";
import { type FormEvent, useState } from "react";
import { Badge, Card, Empty, ErrorBox, Field, Loading, PageHeader, Segmented, type Tone } from "../ui.tsx";

type StageName = "input" | "output";
const STAGES: { value: StageName; label: string }[] = [
  { value: "input", label: "Input (to the provider)" },
  { value: "output", label: "Output (the answer)" },
];
const STAGE_OF: Record<StageName, GuardrailStage> = { input: GuardrailStage.INPUT, output: GuardrailStage.OUTPUT };
const stageName = (s: GuardrailStage): string => (s === GuardrailStage.OUTPUT ? "output" : s === GuardrailStage.INPUT ? "input" : "unspecified");

const ACTION_TONE: Record<string, Tone> = { block: "bad", redact: "warn", flag: "info" };
const ActionBadge = ({ action }: { action: string }) => <Badge tone={ACTION_TONE[action] ?? "muted"}>{action}</Badge>;

/** What a redaction leaves in the text (src/guardrails/types.ts redactionFor). */
const REDACTION = /\[REDACTED:[^\]\s]+\]/g;

export function GuardrailsPage() {
  const q = useQuery(GuardrailService.method.listGuardrails, {});
  const guardrails = q.data?.guardrails ?? [];
  const [chosen, setChosen] = useState<string[]>([]);
  const toggle = (name: string) => setChosen((c) => (c.includes(name) ? c.filter((n) => n !== name) : [...c, name]));

  return (
    <>
      <PageHeader
        title="Guardrails"
        subtitle="The rules the gateway applies to what is sent to a provider and what comes back. Try them on a text here: no model is called and nothing is recorded."
        actions={
          <button type="button" onClick={() => q.refetch()} disabled={q.isFetching} data-testid="guardrails-refresh">
            {q.isFetching ? "Refreshing…" : "Refresh"}
          </button>
        }
      />
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading what="Loading the guardrails" />
      ) : guardrails.length === 0 ? (
        <Empty>
          <span data-testid="guardrails-empty">
            This gateway has no guardrails. Add them under <code>guardrails:</code> in the config file, or at run time as config entries.
          </span>
        </Empty>
      ) : (
        <>
          <Card>
            <div className="table-wrap">
              <table className="table clickable" data-testid="guardrails-table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Kind</th>
                    <th>Stages</th>
                    <th>Action</th>
                    <th>Mandatory</th>
                  </tr>
                </thead>
                <tbody>
                  {guardrails.map((g) => (
                    <GuardrailRow key={g.name} g={g} selected={chosen.includes(g.name)} onToggle={() => toggle(g.name)} />
                  ))}
                </tbody>
              </table>
            </div>
            <p className="muted small">Click a guardrail to add it to (or take it out of) the ones tried below.</p>
          </Card>
          <TryIt guardrails={guardrails} chosen={chosen} onToggle={toggle} />
        </>
      )}
    </>
  );
}

function GuardrailRow({ g, selected, onToggle }: { g: GuardrailInfo; selected: boolean; onToggle: () => void }) {
  const stages = g.stages.map(stageName);
  return (
    <tr
      onClick={onToggle}
      tabIndex={0}
      onKeyDown={(k) => k.key === "Enter" && onToggle()}
      className={selected ? "selected" : undefined}
      aria-selected={selected}
      data-testid="guardrail-row"
      data-name={g.name}
      data-kind={g.kind}
      data-stages={stages.join(",")}
      data-action={g.action}
      data-mandatory={g.mandatory ? "true" : "false"}
    >
      <td>
        <strong>{g.name}</strong>
      </td>
      <td>
        <code>{g.kind}</code>
      </td>
      <td>{stages.join(", ")}</td>
      <td>
        <ActionBadge action={g.action} />
      </td>
      <td>{g.mandatory ? <Badge tone="info" title="Runs for every request, whatever its route, team or key">mandatory</Badge> : <span className="muted">no</span>}</td>
    </tr>
  );
}

function TryIt({ guardrails, chosen, onToggle }: { guardrails: GuardrailInfo[]; chosen: string[]; onToggle: (name: string) => void }) {
  const [stage, setStage] = useState<StageName>("input");
  const [text, setText] = useState("");
  const apply = useMutation(GuardrailService.method.applyGuardrails);
  // In the list's order, whatever the order they were clicked in.
  const names = guardrails.map((g) => g.name).filter((n) => chosen.includes(n));
  // Chosen ones that do not run at this stage: the gateway skips them, so say so before the answer does.
  const idle = guardrails.filter((g) => names.includes(g.name) && !g.stages.includes(STAGE_OF[stage])).map((g) => g.name);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    apply.mutate({ guardrails: names, text, stage: STAGE_OF[stage] });
  };

  return (
    <Card title="Try it">
      <form className="stack" onSubmit={submit} aria-label="Try guardrails">
        <div className="field">
          <span className="field-label">Guardrails</span>
          <div className="guardrail-choices" data-testid="try-guardrails">
            {guardrails.map((g) => (
              <label key={g.name} className="check" data-testid="try-guardrail" data-name={g.name}>
                <input type="checkbox" checked={names.includes(g.name)} onChange={() => onToggle(g.name)} name="guardrail" value={g.name} /> {g.name}
              </label>
            ))}
          </div>
        </div>
        <div className="field">
          <span className="field-label">Stage</span>
          <div data-testid="try-stage" data-stage={stage}>
            <Segmented name="Stage" value={stage} options={STAGES} onChange={setStage} />
          </div>
          {idle.length > 0 && (
            <span className="field-hint" data-testid="try-idle">
              {idle.join(", ")} {idle.length === 1 ? "does" : "do"} not run at the {stage}: nothing will happen there.
            </span>
          )}
        </div>
        <Field label="Text" hint="Checked as a request's text would be: webhooks and partner services are asked, no model is.">
          <textarea value={text} onChange={(e) => setText(e.target.value)} name="text" rows={5} placeholder="mail ana@example.com about the invoice" data-testid="try-text" />
        </Field>
        <div className="actions">
          <button type="submit" className="primary" disabled={names.length === 0 || apply.isPending} data-testid="try-apply">
            {apply.isPending ? "Applying…" : "Apply"}
          </button>
          {names.length === 0 && <span className="muted small">Choose at least one guardrail.</span>}
        </div>
      </form>
      {apply.error && (
        <div className="guardrail-result">
          <ErrorBox error={apply.error} />
        </div>
      )}
      {apply.data && apply.variables && <TryResult result={apply.data} ran={apply.variables.guardrails ?? []} stage={stageName(apply.variables.stage ?? GuardrailStage.INPUT)} />}
    </Card>
  );
}

function TryResult({ result: r, ran, stage }: { result: ApplyGuardrailsResponse; ran: string[]; stage: string }) {
  return (
    <div className="stack guardrail-result" data-testid="try-result" data-blocked={r.blocked ? "true" : "false"}>
      <p className="muted small" data-testid="try-ran">
        Ran {ran.join(", ")} at the {stage}.
      </p>
      {r.blocked ? (
        <div className="error" role="alert" data-testid="try-blocked" data-guardrail={r.blockedBy} data-category={r.category}>
          <strong>
            Blocked by <span data-testid="try-blocked-by">{r.blockedBy}</span> (category <code data-testid="try-blocked-category">{r.category}</code>)
          </strong>
          <div data-testid="try-blocked-message">{r.message}</div>
        </div>
      ) : (
        <div className="field">
          <span className="field-label">The text as it would leave</span>
          <div className="guardrail-text" data-testid="try-text-out">
            <Redacted text={r.text} />
          </div>
        </div>
      )}
      <div>
        <span className="field-label">What each guardrail did</span>
        {r.actions.length === 0 ? (
          <Empty>
            <span data-testid="try-no-actions">No guardrail acted on this text.</span>
          </Empty>
        ) : (
          <table className="table dense" data-testid="try-actions">
            <thead>
              <tr>
                <th>Guardrail</th>
                <th>Stage</th>
                <th>Action</th>
                <th>Category</th>
                <th className="num">Count</th>
              </tr>
            </thead>
            <tbody>
              {r.actions.map((a, i) => (
                <tr key={i} data-testid="try-action" data-guardrail={a.guardrail} data-stage={stageName(a.stage)} data-action={a.action} data-category={a.category} data-count={a.count}>
                  <td>{a.guardrail}</td>
                  <td>{stageName(a.stage)}</td>
                  <td>
                    <ActionBadge action={a.action} />
                  </td>
                  <td>
                    <code>{a.category}</code>
                  </td>
                  <td className="num">{a.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </div>
  );
}

/** The text with each redaction placeholder marked. */
function Redacted({ text }: { text: string }) {
  if (!text) return <span className="muted">(empty)</span>;
  const parts: (string | { mark: string })[] = [];
  let at = 0;
  for (const m of text.matchAll(REDACTION)) {
    const start = m.index ?? 0;
    if (start > at) parts.push(text.slice(at, start));
    parts.push({ mark: m[0] });
    at = start + m[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return (
    <>
      {parts.map((p, i) =>
        typeof p === "string" ? (
          p
        ) : (
          <mark key={i} className="redaction" data-testid="redaction" data-category={p.mark.slice("[REDACTED:".length, -1)}>
            {p.mark}
          </mark>
        ),
      )}
    </>
  );
}
