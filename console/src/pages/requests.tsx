// Requests: ListRequests with filters, a page at a time; a request opens its attempts as a
// timeline with tokens, cost and a link to its trace, and, when it was a stored Responses API
// response, its conversation: the request's input items and the response's output items; and a
// Feedback card scoring it (SubmitFeedback: thumbs up or down, with an optional comment).

import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { Code, Dimension, FailureKindSchema, FinishReasonSchema, Operation, OperationSchema, type Feedback, type RequestRecord, SignalboxError, UsageService } from "@signalbox/client";
import { useQuery as useRestQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type ReactNode, useState } from "react";
import { count, dateTime, enumName, ms, relative, shortTime, usd } from "../format.ts";
import { allInputItems, type ContentPart, getStoredResponse, requestIdOf, type ResponseItem, responseIdOf, type StoredResponse } from "../responses.ts";
import { useSession } from "../context.ts";
import { Link, navigate } from "../router.tsx";
import { type Settings, traceLink } from "../session.ts";
import { AttemptTimeline } from "../timeline.tsx";
import { Badge, Card, Empty, ErrorBox, Field, Loading, PageHeader, Pager, StatusBadge, type Tone, usePager } from "../ui.tsx";
import { RANGE_MS, type RangeName } from "../usage.ts";

const PAGE_SIZE = 25;
const ERROR_CODES = [
  "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied", "resource_exhausted",
  "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
];
const STATUS_OPTIONS = [
  { value: "", label: "Any status" },
  { value: "ok", label: "ok" },
  { value: "errors", label: "Any error" },
  ...ERROR_CODES.map((c) => ({ value: c, label: c })),
];

interface Filters {
  status: string;
  operation: string;
  team: string;
  key: string;
  route: string;
  deployment: string;
  range: RangeName | "all";
}
/** The filters typed as text: field, dimension, label. */
const TEXT_FILTERS: ["team" | "key" | "route" | "deployment", Dimension, string][] = [
  ["team", Dimension.TEAM, "Team"],
  ["key", Dimension.KEY, "Key"],
  ["route", Dimension.ROUTE, "Route"],
  ["deployment", Dimension.DEPLOYMENT, "Deployment"],
];
const NO_FILTERS: Filters = { status: "", operation: "", team: "", key: "", route: "", deployment: "", range: "24h" };
const OPERATIONS = ["chat", "embeddings", "rerank", "images", "transcription", "speech", "moderation", "tool_call", "realtime", "passthrough", "search"];
/** A row's operation, when it is not chat: shown as a badge next to the model. */
const otherOperation = (r: RequestRecord) =>
  (({ [Operation.EMBEDDINGS]: "embeddings", [Operation.RERANK]: "rerank", [Operation.IMAGES]: "images", [Operation.TRANSCRIPTION]: "transcription", [Operation.SPEECH]: "speech", [Operation.MODERATION]: "moderation", [Operation.TOOL_CALL]: "tool call", [Operation.REALTIME]: "realtime", [Operation.PASSTHROUGH]: "pass-through", [Operation.SEARCH]: "search", [Operation.OCR]: "ocr" }) as Partial<Record<Operation, string>>)[r.operation];

function requestInput(f: Filters, end: number) {
  const filters: { dimension: Dimension; values: string[] }[] = [];
  if (f.status) filters.push({ dimension: Dimension.STATUS, values: f.status === "errors" ? ERROR_CODES : [f.status] });
  if (f.operation) filters.push({ dimension: Dimension.OPERATION, values: [f.operation] });
  for (const [k, d] of TEXT_FILTERS) if (f[k]) filters.push({ dimension: d, values: [f[k]] });
  return {
    filters,
    startTime: f.range === "all" ? undefined : timestampFromMs(end - RANGE_MS[f.range]),
    endTime: f.range === "all" ? undefined : timestampFromMs(end),
  };
}

/** Fell back: answered by an attempt other than the first, or more than one deployment tried. */
export const fellBack = (r: RequestRecord) => new Set(r.attempts.map((a) => a.deployment)).size > 1;

export function RequestsPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState({ filters: NO_FILTERS, end: Date.now() });
  const pager = usePager(JSON.stringify(applied));
  const q = useQuery(UsageService.method.listRequests, { ...requestInput(applied.filters, applied.end), pageSize: PAGE_SIZE, pageToken: pager.token });

  const apply = (e?: FormEvent) => {
    e?.preventDefault();
    setApplied({ filters: draft, end: Date.now() });
  };
  // The detail page fetches the request again: its answer carries the request's feedback too.
  const open = (r: RequestRecord) => navigate(`requests/${encodeURIComponent(r.id)}`);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const records = q.data?.records ?? [];

  return (
    <>
      <PageHeader title="Requests" subtitle="Every request the gateway served, newest first: who sent it, where it went, what it cost." />
      <Card>
        <form className="filter-grid" onSubmit={apply} aria-label="Request filters">
          <Field label="Status">
            <select value={draft.status} onChange={set("status")} name="status">
              {STATUS_OPTIONS.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Operation">
            <select value={draft.operation} onChange={set("operation")} name="operation">
              <option value="">Any operation</option>
              {OPERATIONS.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          </Field>
          {TEXT_FILTERS.map(([k, , label]) => (
            <Field key={k} label={label}>
              <input value={draft[k]} onChange={set(k)} name={k} placeholder="any" />
            </Field>
          ))}
          <Field label="Time">
            <select value={draft.range} onChange={set("range")} name="range">
              <option value="1h">Last hour</option>
              <option value="24h">Last 24 hours</option>
              <option value="7d">Last 7 days</option>
              <option value="30d">Last 30 days</option>
              <option value="all">All kept</option>
            </select>
          </Field>
          <div className="filter-actions">
            <button type="submit" className="primary">
              Apply
            </button>
            <button type="button" onClick={() => (setDraft(NO_FILTERS), setApplied({ filters: NO_FILTERS, end: Date.now() }))}>
              Clear
            </button>
          </div>
        </form>
      </Card>
      <ErrorBox error={q.error} />
      <Card>
        {q.isPending ? (
          <Loading what="Loading requests" />
        ) : records.length === 0 ? (
          <Empty>No requests match.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table dense clickable" data-testid="requests-table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Status</th>
                  <th>Team</th>
                  <th>Key</th>
                  <th>Model</th>
                  <th>Deployment</th>
                  <th className="num">Attempts</th>
                  <th className="num">Tokens</th>
                  <th className="num">Cost</th>
                  <th className="num">Latency</th>
                </tr>
              </thead>
              <tbody>
                {records.map((r) => (
                  <tr
                    key={r.id}
                    onClick={() => open(r)}
                    tabIndex={0}
                    onKeyDown={(e) => e.key === "Enter" && open(r)}
                    data-testid="request-row"
                    data-id={r.id}
                    data-team={r.team}
                    data-status={r.status}
                    data-route={r.routing?.route ?? ""}
                    data-operation={otherOperation(r) ?? "chat"}
                    data-fallback={fellBack(r) ? "true" : "false"}
                  >
                    <td className="nowrap" title={dateTime(r.time)}>
                      {shortTime(r.time)}
                    </td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td className="nowrap">{r.team}</td>
                    <td className="nowrap">{r.key}</td>
                    <td className="nowrap">
                      {r.model}
                      {r.routing?.route && r.routing.route !== r.model && <span className="muted"> → {r.routing.route}</span>}
                      {otherOperation(r) && (
                        <>
                          {" "}
                          <Badge tone="muted">{otherOperation(r)}</Badge>
                        </>
                      )}
                    </td>
                    <td className="nowrap">
                      {r.deployment || <span className="muted">–</span>}
                      {r.cacheHit && (
                        <>
                          {" "}
                          <Badge tone="info">{r.cacheKind && r.cacheKind !== "exact" ? `cache: ${r.cacheKind}` : "cache"}</Badge>
                        </>
                      )}
                      {fellBack(r) && (
                        <>
                          {" "}
                          <Badge tone="warn">fallback</Badge>
                        </>
                      )}
                    </td>
                    <td className="num">{r.attempts.length}</td>
                    <td className="num">{count(r.usage?.totalTokens)}</td>
                    <td className="num">{usd(r.cost?.totalNanoUsd)}</td>
                    <td className="num">{ms(r.timing?.latencyMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager pager={pager} nextToken={q.data?.nextPageToken} label={`${PAGE_SIZE} per page`} />
      </Card>
    </>
  );
}

/** One request: who, where, what it cost, and its attempts on a timeline. */
export function RequestPage({ id, settings }: { id: string; settings: Settings }) {
  // Records never change; their feedback does (a score given here refreshes it).
  const q = useQuery(UsageService.method.getRequest, { id }, { retry: false });
  const r = q.data?.record;
  const trace = r ? traceLink(settings, r.traceId) : undefined;
  return (
    <>
      <PageHeader
        title="Request"
        subtitle={<code>{id}</code>}
        actions={
          <>
            {trace && (
              <a className="button" href={trace} target="_blank" rel="noopener noreferrer" data-testid="trace-link">
                Open trace ↗
              </a>
            )}
            <Link to="requests" className="button">
              ← All requests
            </Link>
          </>
        }
      />
      <ErrorBox error={q.error} />
      {q.isPending && <Loading />}
      {r && (
        <>
          <div className="grid-3">
            <Card title="Request">
              <dl className="facts">
                <dt>Time</dt>
                <dd>{dateTime(r.time)}</dd>
                <dt>Status</dt>
                <dd>
                  <StatusBadge status={r.status} />
                  {r.failureKind ? <span className="muted"> {enumName(FailureKindSchema, r.failureKind, "FAILURE_KIND_")}</span> : null}
                </dd>
                <dt>Key / team</dt>
                <dd>
                  {r.key} · {r.team}
                </dd>
                {r.user && (
                  <>
                    <dt>User</dt>
                    <dd>{r.user}</dd>
                  </>
                )}
                <dt>Operation</dt>
                <dd data-testid="operation">{enumName(OperationSchema, r.operation, "OPERATION_") || "chat"}</dd>
                <dt>Streamed</dt>
                <dd>{r.streamed ? "yes" : "no"}</dd>
                {r.tags.length > 0 && (
                  <>
                    <dt>Tags</dt>
                    <dd>{r.tags.join(", ")}</dd>
                  </>
                )}
              </dl>
            </Card>
            <Card title="Routing">
              <dl className="facts">
                <dt>Asked for</dt>
                <dd>{r.model}</dd>
                <dt>Route</dt>
                <dd>
                  {r.routing?.route || "–"}
                  {r.routing?.strategy && <span className="muted"> ({r.routing.strategy})</span>}
                </dd>
                {r.routing?.variant && (
                  <>
                    <dt>Variant</dt>
                    <dd>{r.routing.variant}</dd>
                  </>
                )}
                <dt>Answered by</dt>
                <dd data-testid="answered-by">
                  {r.deployment || "–"}
                  {r.cacheHit && (
                    <>
                      {" "}
                      <Badge tone="info">{r.cacheKind ? `cache hit (${r.cacheKind})` : "cache hit"}</Badge>
                    </>
                  )}
                </dd>
                <dt>Finish</dt>
                <dd>{enumName(FinishReasonSchema, r.finishReason, "FINISH_REASON_") || "–"}</dd>
                <dt>Trace</dt>
                <dd>
                  <code className="small">{r.traceId || "–"}</code>
                </dd>
              </dl>
            </Card>
            <Card title="Tokens, cost, time">
              <dl className="facts">
                <dt>Input tokens</dt>
                <dd>
                  {count(r.usage?.inputTokens)}
                  {r.usage?.cachedInputTokens ? <span className="muted"> ({count(r.usage.cachedInputTokens)} cached)</span> : null}
                </dd>
                <dt>Output tokens</dt>
                <dd>
                  {count(r.usage?.outputTokens)}
                  {r.usage?.reasoningTokens ? <span className="muted"> ({count(r.usage.reasoningTokens)} reasoning)</span> : null}
                  {r.usage?.estimated && <span className="muted"> estimated</span>}
                </dd>
                <dt>Cost</dt>
                <dd data-testid="request-cost">
                  {usd(r.cost?.totalNanoUsd)}
                  <span className="muted">
                    {" "}
                    ({usd(r.cost?.inputNanoUsd)} in, {usd(r.cost?.outputNanoUsd)} out)
                  </span>
                </dd>
                <dt>Latency</dt>
                <dd>{ms(r.timing?.latencyMs)}</dd>
                <dt>First token</dt>
                <dd>{ms(r.timing?.ttftMs)}</dd>
                <dt>Gateway overhead</dt>
                <dd>{r.timing ? `${(r.timing.overheadUs / 1000).toFixed(2)} ms` : "–"}</dd>
              </dl>
            </Card>
          </div>
          <Card title={`Attempts (${r.attempts.length})`}>
            <AttemptTimeline attempts={r.attempts} />
          </Card>
          <FeedbackCard requestId={r.id} given={q.data?.feedback ?? []} />
        </>
      )}
      <Conversation requestId={id} />
    </>
  );
}

/** What a score was saved as: the value given, its comment, and the stored feedback's id. */
interface SavedFeedback {
  value: number;
  comment: string;
  feedbackId: string;
}

/**
 * Score this request: thumbs up (+1) or down (-1), with an optional comment (metadata.comment).
 * The score is this key's: scoring again replaces it. Summaries on the usage page are refreshed.
 */
function FeedbackCard({ requestId, given }: { requestId: string; given: readonly Feedback[] }) {
  const { identity } = useSession();
  const [comment, setComment] = useState("");
  const [saved, setSaved] = useState<SavedFeedback>();
  const queryClient = useQueryClient();
  const submit = useMutation(UsageService.method.submitFeedback, {
    onMutate: () => setSaved(undefined),
    onSuccess: (res, input) => {
      setSaved({ value: input.value ?? 0, comment: input.metadata?.comment ?? "", feedbackId: res.feedbackId });
      return Promise.all([
        queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: UsageService.method.getFeedbackSummary, cardinality: undefined }) }),
        queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: UsageService.method.getRequest, input: { id: requestId }, cardinality: undefined }) }),
      ]);
    },
  });
  const score = (value: number) => {
    const text = comment.trim();
    submit.mutate({ requestId, value, metadata: text ? { comment: text } : {} });
  };
  return (
    <div data-testid="feedback">
      <Card title="Feedback">
        <form className="toolbar" aria-label="Feedback" onSubmit={(e) => e.preventDefault()}>
          <Field label="Comment (optional)">
            <input name="comment" value={comment} onChange={(e) => setComment(e.target.value)} placeholder="What was good or bad about the answer" maxLength={1000} size={48} />
          </Field>
          <div className="actions">
            <button type="button" data-testid="feedback-up" aria-label="Thumbs up" aria-pressed={saved?.value === 1} className={saved?.value === 1 ? "primary" : ""} disabled={submit.isPending} onClick={() => score(1)}>
              👍 Good
            </button>
            <button type="button" data-testid="feedback-down" aria-label="Thumbs down" aria-pressed={saved?.value === -1} className={saved?.value === -1 ? "primary" : ""} disabled={submit.isPending} onClick={() => score(-1)}>
              👎 Bad
            </button>
            {submit.isPending && <span className="muted">Saving…</span>}
          </div>
        </form>
        <p className="muted small">Your key's score for this request; scoring it again replaces the earlier one. The usage page's Feedback card sums scores by variant, deployment, route, team or key.</p>
        {saved && (
          <div data-testid="feedback-saved" data-value={saved.value} data-comment={saved.comment} data-feedback-id={saved.feedbackId} aria-live="polite">
            Saved <Badge tone={saved.value > 0 ? "ok" : "bad"}>{saved.value > 0 ? `👍 +${saved.value}` : `👎 ${saved.value}`}</Badge>
            {saved.comment ? <> with the comment “{saved.comment}”</> : " without a comment"} <code className="small muted">{saved.feedbackId}</code>
          </div>
        )}
        <ErrorBox error={submit.error} />
        {given.length > 0 && (
          <ul className="plain" data-testid="feedback-given">
            {given.map((f) => (
              <li key={f.feedbackId} data-testid="feedback-entry" data-value={f.value} data-by={f.givenBy}>
                <Badge tone={f.value > 0 ? "ok" : f.value < 0 ? "bad" : undefined}>{f.value > 0 ? `+${f.value}` : String(f.value)}</Badge> by <code>{f.givenBy}</code>
                {f.givenBy === identity.key ? " (you)" : ""}
                {f.time ? `, ${relative(timestampMs(f.time))}` : ""}
                {f.metadata.comment ? <> — “{f.metadata.comment}”</> : null}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}

/** Longer texts than this show their start, with "Show all". */
const CLIP_CHARS = 2000;
/** A background response under way is read again this often. */
const RUNNING_REFRESH_MS = 2000;

const RESPONSE_TONES: Record<string, Tone> = { completed: "ok", failed: "bad", incomplete: "warn", cancelled: "warn", queued: "info", in_progress: "info" };

/** Text kept as written (new lines, spaces), cut at CLIP_CHARS with a toggle to show it all. */
function ClippedText({ text, className }: { text: string; className?: string }) {
  const [all, setAll] = useState(false);
  const long = text.length > CLIP_CHARS;
  return (
    <div className={`convo-text ${className ?? ""}`}>
      {long && !all ? `${text.slice(0, CLIP_CHARS)}…` : text}
      {long && (
        <div>
          <button type="button" className="link small" onClick={() => setAll(!all)} data-testid="convo-toggle">
            {all ? "Show less" : `Show all (${count(text.length)} characters)`}
          </button>
        </div>
      )}
    </div>
  );
}

/** A function call's output, as text. */
const outputText = (o: unknown): string => (typeof o === "string" ? o : Array.isArray(o) ? o.map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : JSON.stringify(p))).join("") : JSON.stringify(o) ?? "");

/** A message's content part: its text, a refusal, or what it is (an image, a file). */
function Part({ part }: { part: ContentPart & { filename?: string } }) {
  if (part.type === "refusal") return <ClippedText className="convo-refusal" text={`Refused: ${part.refusal ?? part.text ?? ""}`} />;
  if (typeof part.text === "string") return <ClippedText text={part.text} />;
  return <div className="muted small">[{part.type.replace(/^input_/, "")}{part.filename ? `: ${part.filename}` : ""}]</div>;
}

/** One input or output item: who, and what it says. */
function Item({ item, side }: { item: ResponseItem; side: "input" | "output" }) {
  let who: string;
  let body: ReactNode;
  switch (item.type) {
    case "message":
      who = item.role ?? (side === "output" ? "assistant" : "user");
      body = typeof item.content === "string" ? <ClippedText text={item.content} /> : (item.content ?? []).map((p, i) => <Part key={i} part={p} />);
      break;
    case "function_call":
      who = "call";
      body = <ClippedText className="convo-code" text={`${item.name ?? "?"}(${item.arguments ?? ""})`} />;
      break;
    case "function_call_output":
      who = "result";
      body = <ClippedText className="convo-code" text={outputText(item.output)} />;
      break;
    case "reasoning":
      who = "reasoning";
      body = <ClippedText className="muted" text={(item.summary ?? []).map((s) => s.text).join("\n\n") || "(no summary)"} />;
      break;
    default:
      who = item.type;
      body = <ClippedText className="convo-code muted" text={JSON.stringify(item)} />;
  }
  return (
    <div className={`convo-item convo-${side}${item.type === "reasoning" ? " muted" : ""}`} data-testid="convo-item" data-side={side} data-type={item.type} data-role={item.role ?? ""}>
      <div className="convo-who">{who}</div>
      <div className="convo-body">{body}</div>
    </div>
  );
}

/** The header line: status, model, the response it continues, its conversation, background. */
function ResponseFacts({ resp }: { resp: StoredResponse }) {
  return (
    <div className="convo-facts" data-testid="convo-facts">
      <Badge tone={RESPONSE_TONES[resp.status] ?? "muted"}>{resp.status.replace("_", " ")}</Badge>
      <span>{resp.model}</span>
      {resp.previous_response_id && (
        <span>
          <span className="muted">continues </span>
          <Link to={`requests/${encodeURIComponent(requestIdOf(resp.previous_response_id))}`} data-testid="previous-response">
            <code>{resp.previous_response_id}</code>
          </Link>
        </span>
      )}
      {resp.conversation?.id && (
        <span data-testid="convo-conversation">
          <span className="muted">conversation </span>
          <code>{resp.conversation.id}</code>
        </span>
      )}
      {resp.background === true && <Badge tone="info">background</Badge>}
      {resp.usage && (
        <span className="muted small">
          {count(resp.usage.input_tokens)} in · {count(resp.usage.output_tokens)} out
        </span>
      )}
    </div>
  );
}

/**
 * A request's stored Responses API response, when it has one: its input items (all pages), then
 * its output items. Nothing at all when there is none (a 404: another API, store: false, expired).
 */
function Conversation({ requestId }: { requestId: string }) {
  const id = responseIdOf(requestId);
  const q = useRestQuery({
    queryKey: ["responses", "conversation", id],
    queryFn: async () => {
      try {
        const response = await getStoredResponse(id);
        return { response, input: await allInputItems(id) };
      } catch (err) {
        if (SignalboxError.from(err).code === Code.NotFound) return null;
        throw err;
      }
    },
    refetchInterval: (query) => (query.state.data && ["queued", "in_progress"].includes(query.state.data.response.status) ? RUNNING_REFRESH_MS : false),
  });
  if (q.error)
    return (
      <div data-testid="conversation" data-response-id={id} data-status="error">
        <Card title="Conversation">
          <ErrorBox error={q.error} />
        </Card>
      </div>
    );
  if (q.isPending || !q.data) return null;
  const { response, input } = q.data;
  return (
    <div data-testid="conversation" data-response-id={response.id} data-status={response.status}>
      <Card title="Conversation" actions={<code className="small muted">{response.id}</code>}>
        <ResponseFacts resp={response} />
        {response.error?.message && (
          <div className="convo-error" data-testid="convo-response-error">
            {response.error.code ? `${response.error.code}: ` : ""}
            {response.error.message}
          </div>
        )}
        <div className="convo">
          {input.map((item, i) => (
            <Item key={`${response.id}-in-${item.id ?? i}`} item={item} side="input" />
          ))}
          {response.output.length === 0 ? (
            <Empty>No output{["queued", "in_progress"].includes(response.status) ? " yet" : ""}.</Empty>
          ) : (
            response.output.map((item, i) => <Item key={`${response.id}-out-${item.id ?? i}`} item={item} side="output" />)
          )}
        </div>
      </Card>
    </div>
  );
}
