// Route explainer: write a request, see RouteService.Route's plan (candidates with reasons,
// exclusions with why), then run it with ChatService.Complete and see which candidate answered.

import { type MessageInitShape } from "@bufbuild/protobuf";
import { skipToken, useMutation, useQuery } from "@connectrpc/connect-query";
import {
  type ChatRequestSchema,
  ChatService,
  DataCollection,
  DeploymentHealth_State,
  ExclusionReason,
  ExclusionReasonSchema,
  type ProviderPreferencesSchema,
  ProviderSort,
  RouteService,
  Task,
} from "@signalbox/client";
import { type FormEvent, useState } from "react";
import { type DraftMessage, MessagesEditor, ModelSelect, toMessages } from "../compose.tsx";
import { dateTime, enumName, ms, splitList, usd } from "../format.ts";
import { AttemptTimeline, outcomeName } from "../timeline.tsx";
import { Badge, Card, Empty, ErrorBox, Field, Loading, PageHeader } from "../ui.tsx";

type ChatRequestInit = MessageInitShape<typeof ChatRequestSchema>;
type ProvidersInit = MessageInitShape<typeof ProviderPreferencesSchema>;

const SORTS: { value: ProviderSort; label: string }[] = [
  { value: ProviderSort.UNSPECIFIED, label: "route's strategy" },
  { value: ProviderSort.PRICE, label: "price" },
  { value: ProviderSort.THROUGHPUT, label: "throughput" },
  { value: ProviderSort.LATENCY, label: "latency" },
];

/** Readable names of the exclusion reasons; any other falls back to the enum's own name. */
const EXCLUSION_LABELS: Partial<Record<ExclusionReason, string>> = {
  [ExclusionReason.COOLING_DOWN]: "cooling down",
  [ExclusionReason.CONTEXT_TOO_SMALL]: "context too small",
  [ExclusionReason.OVER_BUDGET]: "over budget",
  [ExclusionReason.OVER_COST_CAP]: "over cost cap",
  [ExclusionReason.OVER_LATENCY_CAP]: "over latency cap",
  [ExclusionReason.MISSING_CAPABILITY]: "missing capability",
  [ExclusionReason.NOT_ALLOWED]: "not allowed",
  [ExclusionReason.RATE_LIMITED]: "rate limited",
  [ExclusionReason.NOT_SELECTED]: "not selected",
  [ExclusionReason.OVER_ATTEMPT_LIMIT]: "over attempt limit",
  [ExclusionReason.WRONG_OPERATION]: "wrong operation",
  [ExclusionReason.PROVIDER_PREFERENCE]: "provider preference",
};
const exclusionLabel = (r: ExclusionReason) => EXCLUSION_LABELS[r] ?? (enumName(ExclusionReasonSchema, r, "EXCLUSION_REASON_").replaceAll("_", " ") || "unspecified");

/** The Providers fieldset's state. */
interface ProviderDraft {
  order: string;
  only: string;
  ignore: string;
  sort: ProviderSort;
  allowFallbacks: boolean;
  maxPrompt: string;
  maxCompletion: string;
  requireParameters: boolean;
  denyDataCollection: boolean;
  zdr: boolean;
}

const NO_PREFERENCES: ProviderDraft = {
  order: "",
  only: "",
  ignore: "",
  sort: ProviderSort.UNSPECIFIED,
  allowFallbacks: true,
  maxPrompt: "",
  maxCompletion: "",
  requireParameters: false,
  denyDataCollection: false,
  zdr: false,
};

/** An optional price field: a number when filled in, else undefined. */
const price = (s: string): number | undefined => (s.trim() === "" || !Number.isFinite(Number(s)) ? undefined : Number(s));

/** RoutingOptions.providers from the draft, or undefined when it asks for nothing (the route plans as before). */
function toProviders(d: ProviderDraft): ProvidersInit | undefined {
  const out: ProvidersInit = {};
  const order = splitList(d.order);
  const only = splitList(d.only);
  const ignore = splitList(d.ignore);
  if (order.length) out.order = order;
  if (only.length) out.only = only;
  if (ignore.length) out.ignore = ignore;
  if (d.sort !== ProviderSort.UNSPECIFIED) out.sort = d.sort;
  if (!d.allowFallbacks) out.allowFallbacks = false;
  const prompt = price(d.maxPrompt);
  const completion = price(d.maxCompletion);
  if (prompt !== undefined || completion !== undefined) out.maxPrice = { ...(prompt !== undefined ? { prompt } : {}), ...(completion !== undefined ? { completion } : {}) };
  if (d.requireParameters) out.requireParameters = true;
  if (d.denyDataCollection) out.dataCollection = DataCollection.DENY;
  if (d.zdr) out.zdr = true;
  return Object.keys(out).length ? out : undefined;
}

const TASKS: { value: Task; label: string }[] = [
  { value: Task.UNSPECIFIED, label: "(classify)" },
  { value: Task.CODING, label: "coding" },
  { value: Task.REASONING, label: "reasoning" },
  { value: Task.CREATIVE, label: "creative" },
  { value: Task.SIMPLE, label: "simple" },
  { value: Task.MULTIMODAL, label: "multimodal" },
];

export function ExplainPage() {
  const [model, setModel] = useState("default");
  const [messages, setMessages] = useState<DraftMessage[]>([
    { role: "system", text: "You are a concise assistant." },
    { role: "user", text: "Explain what a fallback is in one sentence." },
  ]);
  const [task, setTask] = useState<Task>(Task.UNSPECIFIED);
  const [sticky, setSticky] = useState("");
  const [fallbacks, setFallbacks] = useState("");
  const [noFallback, setNoFallback] = useState(false);
  const [user, setUser] = useState("");
  const [tags, setTags] = useState("");
  const [metadata, setMetadata] = useState("");
  const [prov, setProv] = useState<ProviderDraft>(NO_PREFERENCES);
  const [middleOut, setMiddleOut] = useState(false);
  const setP = (patch: Partial<ProviderDraft>) => setProv((d) => ({ ...d, ...patch }));
  const [request, setRequest] = useState<ChatRequestInit>();

  const plan = useQuery(RouteService.method.route, request ?? skipToken, { staleTime: 0 });
  const models = useQuery(RouteService.method.listModels, {}, { refetchInterval: 5000 });
  const run = useMutation(ChatService.method.complete);

  const explain = (e: FormEvent) => {
    e.preventDefault();
    run.reset();
    const providers = toProviders(prov);
    setRequest({
      model,
      messages: toMessages(messages),
      routing: { task, stickyKey: sticky, fallbacks: splitList(fallbacks), noFallback, ...(providers ? { providers } : {}), middleOut },
      // What a route's conditions test: the end user, tags and metadata.
      user,
      tags: splitList(tags),
      metadata: parsePairs(metadata),
    });
  };

  const health = new Map(models.data?.deployments.map((d) => [d.id, d.health]) ?? []);
  const healthy = (id: string) => {
    const s = health.get(id)?.state;
    return s === undefined || s === DeploymentHealth_State.HEALTHY || s === DeploymentHealth_State.UNSPECIFIED;
  };
  const p = plan.data;
  const firstHealthy = p?.candidates.find((c) => healthy(c.deployment));
  const answer = run.data;
  const ranFor = (deployment: string) => {
    const tries = answer?.attempts.filter((a) => a.deployment === deployment) ?? [];
    if (!answer) return undefined;
    if (answer.deployment === deployment && tries.some((a) => outcomeName(a) === "succeeded")) return "answered";
    if (tries.length) return outcomeName(tries[tries.length - 1]);
    return "not tried";
  };

  return (
    <>
      <PageHeader title="Route explainer" subtitle="Where would a request go, and why? The plan comes from the same planner that serves chats; no provider is called until you run it." />
      <Card>
        <form className="compose" onSubmit={explain} aria-label="Request">
          <div className="compose-side">
            <Field label="Model">
              <ModelSelect value={model} onChange={setModel} />
            </Field>
            <Field label="Task hint">
              <select value={task} onChange={(e) => setTask(Number(e.target.value) as Task)} name="task">
                {TASKS.map((t) => (
                  <option key={t.value} value={t.value}>
                    {t.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Sticky key" hint="Keeps A/B assignment stable for this value.">
              <input value={sticky} onChange={(e) => setSticky(e.target.value)} name="sticky_key" />
            </Field>
            <Field label="Fallbacks" hint="Models to try after the route's own, comma-separated.">
              <input value={fallbacks} onChange={(e) => setFallbacks(e.target.value)} name="fallbacks" />
            </Field>
            <Field label="User">
              <input value={user} onChange={(e) => setUser(e.target.value)} name="user" />
            </Field>
            <Field label="Tags" hint="Comma-separated.">
              <input value={tags} onChange={(e) => setTags(e.target.value)} name="tags" />
            </Field>
            <Field label="Metadata" hint="key=value, comma-separated: what a route's conditions test.">
              <input value={metadata} onChange={(e) => setMetadata(e.target.value)} name="metadata" placeholder="tier=pro, region=eu" />
            </Field>
            <label className="check">
              <input type="checkbox" checked={noFallback} onChange={(e) => setNoFallback(e.target.checked)} name="no_fallback" /> No fallback (first candidate only)
            </label>
            <fieldset className="providers" aria-label="Providers">
              <legend>Providers</legend>
              <Field label="Order" hint="Providers tried first, comma-separated.">
                <input value={prov.order} onChange={(e) => setP({ order: e.target.value })} name="providers_order" />
              </Field>
              <Field label="Only">
                <input value={prov.only} onChange={(e) => setP({ only: e.target.value })} name="providers_only" />
              </Field>
              <Field label="Ignore">
                <input value={prov.ignore} onChange={(e) => setP({ ignore: e.target.value })} name="providers_ignore" />
              </Field>
              <Field label="Sort">
                <select value={prov.sort} onChange={(e) => setP({ sort: Number(e.target.value) as ProviderSort })} name="providers_sort">
                  {SORTS.map((s) => (
                    <option key={s.value} value={s.value}>
                      {s.label}
                    </option>
                  ))}
                </select>
              </Field>
              <div className="providers-prices">
                <Field label="Max prompt $/M">
                  <input type="number" min={0} step="any" value={prov.maxPrompt} onChange={(e) => setP({ maxPrompt: e.target.value })} name="providers_max_prompt" placeholder="any" />
                </Field>
                <Field label="Max completion $/M">
                  <input type="number" min={0} step="any" value={prov.maxCompletion} onChange={(e) => setP({ maxCompletion: e.target.value })} name="providers_max_completion" placeholder="any" />
                </Field>
              </div>
              <label className="check">
                <input type="checkbox" checked={prov.allowFallbacks} onChange={(e) => setP({ allowFallbacks: e.target.checked })} name="providers_allow_fallbacks" /> Allow fallbacks (to providers not in order)
              </label>
              <label className="check">
                <input type="checkbox" checked={prov.requireParameters} onChange={(e) => setP({ requireParameters: e.target.checked })} name="providers_require_parameters" /> Require parameters
              </label>
              <label className="check">
                <input type="checkbox" checked={prov.denyDataCollection} onChange={(e) => setP({ denyDataCollection: e.target.checked })} name="providers_deny_data_collection" /> Deny data collection
              </label>
              <label className="check">
                <input type="checkbox" checked={prov.zdr} onChange={(e) => setP({ zdr: e.target.checked })} name="providers_zdr" /> Zero retention only
              </label>
            </fieldset>
            <label className="check">
              <input type="checkbox" checked={middleOut} onChange={(e) => setMiddleOut(e.target.checked)} name="middle_out" /> Middle-out (drop the middle of a prompt too long for a deployment)
            </label>
          </div>
          <div className="compose-main">
            <span className="field-label">Messages</span>
            <MessagesEditor messages={messages} onChange={setMessages} />
            <div className="actions">
              <button type="submit" className="primary">
                Explain
              </button>
              <button type="button" disabled={!request || !p || run.isPending} onClick={() => request && run.mutate(request)}>
                {run.isPending ? "Running…" : "Run"}
              </button>
            </div>
          </div>
        </form>
      </Card>
      <ErrorBox error={plan.error} />
      {plan.isFetching && !p && <Loading what="Planning" />}
      {!request && <Empty>Write a request and press Explain to see its plan.</Empty>}
      {p && (
        <>
          <Card title="Plan">
            <p className="plan-summary" data-testid="plan-summary">
              <strong>{request?.model}</strong>
              {p.routing?.alias && <> (alias of {p.routing.route})</>} → route <strong>{p.routing?.route || "–"}</strong>
              {p.routing?.strategy && <> by {p.routing.strategy}</>}
              {p.routing?.variant && <>, variant {p.routing.variant}</>}. About {p.estimatedInputTokens} input tokens; at most {p.maxAttempts} attempts
              {p.hedgeAfterMs ? `, hedging after ${p.hedgeAfterMs} ms` : ""}
              {p.noFallback ? "; fallbacks off" : ""}.
            </p>
            {p.adjustments.length > 0 && (
              <ul className="small">
                {p.adjustments.map((a) => (
                  <li key={a.field}>
                    <code>{a.field}</code>: {a.detail}
                  </li>
                ))}
              </ul>
            )}
            <div className="table-wrap">
              <table className="table" data-testid="candidates">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Deployment</th>
                    <th>Why here</th>
                    <th>From</th>
                    <th className="num">Expected cost</th>
                    <th className="num">TTFT est.</th>
                    <th className="num">Latency est.</th>
                    <th>Health</th>
                    {answer && <th>Run</th>}
                  </tr>
                </thead>
                <tbody>
                  {p.candidates.map((c) => {
                    const outcome = ranFor(c.deployment);
                    return (
                      <tr key={c.position} data-testid="candidate" data-deployment={c.deployment} data-position={c.position} data-run={outcome ?? ""}>
                        <td>{c.position}</td>
                        <td>
                          <strong>{c.deployment}</strong>
                          <div className="muted small">
                            {c.provider} · {c.model}
                          </div>
                        </td>
                        <td>
                          <span data-testid="candidate-reason">{c.reason}</span>
                          {c.adjustments.length > 0 && (
                            <ul className="small muted candidate-adjustments" data-testid="candidate-adjustments">
                              {c.adjustments.map((a, i) => (
                                <li key={i}>
                                  <code>{a.field}</code>: {a.detail}
                                </li>
                              ))}
                            </ul>
                          )}
                        </td>
                        <td className="muted">{c.source}</td>
                        <td className="num">{usd(c.expectedCostNanoUsd)}</td>
                        <td className="num">{ms(c.ttftMsEstimate)}</td>
                        <td className="num">{ms(c.latencyMsEstimate)}</td>
                        <td>{healthy(c.deployment) ? <Badge tone="ok">healthy</Badge> : <Badge tone="warn">cooling down</Badge>}</td>
                        {answer && <td>{outcome && <Badge tone={outcome === "answered" ? "ok" : outcome === "not tried" ? "muted" : "bad"}>{outcome}</Badge>}</td>}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </Card>
          <Card title={`Excluded (${p.excluded.length})`}>
            {p.excluded.length === 0 ? (
              <Empty>Nothing was left out.</Empty>
            ) : (
              <table className="table" data-testid="exclusions">
                <thead>
                  <tr>
                    <th>Deployment</th>
                    <th>Why</th>
                    <th>Detail</th>
                    <th>Until</th>
                  </tr>
                </thead>
                <tbody>
                  {p.excluded.map((x) => (
                    <tr key={x.deployment} data-testid="exclusion" data-deployment={x.deployment} data-reason={exclusionLabel(x.reason)}>
                      <td>{x.deployment}</td>
                      <td>
                        <Badge tone="warn">{exclusionLabel(x.reason)}</Badge>
                      </td>
                      <td>{x.detail}</td>
                      <td>{x.until ? dateTime(x.until) : "–"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Card>
        </>
      )}
      <ErrorBox error={run.error} title="The run failed." />
      {answer && (
        <Card title="Run">
          <p className="plan-summary" data-testid="run-summary" data-deployment={answer.deployment} data-first-healthy={firstHealthy?.deployment ?? ""}>
            Answered by <strong>{answer.deployment}</strong> after {answer.attempts.length} attempt{answer.attempts.length === 1 ? "" : "s"}
            {answer.cacheHit && " (from the cache)"}.{" "}
            {firstHealthy &&
              (answer.deployment === firstHealthy.deployment ? (
                <Badge tone="ok">the first healthy candidate (#{firstHealthy.position})</Badge>
              ) : (
                <Badge tone="warn">
                  not the first healthy candidate ({firstHealthy.deployment}, #{firstHealthy.position}): see the attempts
                </Badge>
              ))}
          </p>
          <AttemptTimeline attempts={answer.attempts} />
          <h3>Answer</h3>
          <div className="answer">{answer.message?.content.map((c) => (c.part.case === "text" ? c.part.value : "")).join("")}</div>
          <p className="muted small">
            {String(answer.usage?.inputTokens ?? 0)} input + {String(answer.usage?.outputTokens ?? 0)} output tokens · {usd(answer.cost?.totalNanoUsd)} · {ms(answer.timing?.latencyMs)}
          </p>
        </Card>
      )}
    </>
  );
}

/** "tier=pro, region=eu" → { tier: "pro", region: "eu" }; entries without "=" are left out. */
function parsePairs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of splitList(s)) {
    const i = pair.indexOf("=");
    if (i > 0) out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}
