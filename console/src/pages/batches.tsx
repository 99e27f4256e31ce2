// Batches: the Batch API's jobs (GET /v1/batches) and Anthropic's message batches (GET
// /v1/messages/batches) in one list, each marked with its API, newest first, a page at a time with
// Load more, each kind refreshed every 2 s while one of it shown is still under way. A batch opens in
// a panel above the list (batches/{id}, so a link to it works): its times, counts, usage and cost,
// the lines that failed validation, Cancel, and its output and error files to download; a message
// batch's panel has its request counts, Cancel while in progress and its results once ended.

import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { type KeyboardEvent, type ReactNode, useState } from "react";
import {
  type Batch,
  type BatchStatus,
  cancelBatch,
  cancelMessageBatch,
  downloadFile,
  downloadMessageBatchResults,
  getBatch,
  getMessageBatch,
  isActive,
  isCancellable,
  isMessageBatchActive,
  isMessageBatchCancellable,
  isMessageBatchId,
  listBatches,
  listMessageBatches,
  type MessageBatch,
  messageBatchTotal,
  type MessageBatchStatus,
} from "../batches.ts";
import { count, dateTime, relative, shortTime, usd } from "../format.ts";
import { Link, navigate } from "../router.tsx";
import { Badge, Card, Dialog, Empty, ErrorBox, Loading, PageHeader, type Tone } from "../ui.tsx";

const PAGE_SIZE = 20;
const REFRESH_MS = 2000;
const LIST_KEY = ["batches", "list"] as const;
const MESSAGE_LIST_KEY = ["batches", "messages"] as const;
const batchKey = (id: string) => ["batches", "get", id] as const;
const messageBatchKey = (id: string) => ["batches", "message", id] as const;

const TONES: Record<BatchStatus, Tone> = {
  validating: "info",
  in_progress: "info",
  finalizing: "info",
  completed: "ok",
  failed: "bad",
  expired: "bad",
  cancelling: "warn",
  cancelled: "warn",
};

function BatchStatusBadge({ status }: { status: BatchStatus }) {
  return <Badge tone={TONES[status] ?? "muted"}>{status.replace("_", " ")}</Badge>;
}

/** An ended message batch: green when all succeeded, amber when some were canceled or expired, red when none succeeded. */
function messageTone(b: MessageBatch): Tone {
  if (b.processing_status === "in_progress") return "info";
  if (b.processing_status === "canceling") return "warn";
  const c = b.request_counts;
  if (c.succeeded === 0 && messageBatchTotal(c) > 0) return "bad";
  return c.canceled + c.expired + c.errored > 0 ? "warn" : "ok";
}

function MessageBatchStatusBadge({ b }: { b: MessageBatch }) {
  return <Badge tone={messageTone(b)}>{b.processing_status.replace("_", " ")}</Badge>;
}

export type BatchKind = "batch" | "message_batch";

/** Which API a batch was made through. */
function KindBadge({ kind }: { kind: BatchKind }) {
  return kind === "message_batch" ? (
    <Badge tone="muted" title="Anthropic's Message Batches API (/v1/messages/batches)">
      Anthropic
    </Badge>
  ) : (
    <Badge tone="muted" title="OpenAI's Batch API (/v1/batches)">
      OpenAI
    </Badge>
  );
}

const ms = (secs: number | null | undefined) => (secs ? secs * 1000 : undefined);
/** An RFC 3339 time (a message batch's) as milliseconds. */
const isoMs = (t: string | null | undefined) => (t ? Date.parse(t) : undefined);

/** Done and failed of a total, as a two-part bar. */
function Bar({ total, done, failed, label, title }: { total: number; done: number; failed: number; label: string; title: string }) {
  const pct = (n: number) => (total > 0 ? (n / total) * 100 : 0);
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={done + failed} aria-label={label} title={title}>
      <div className="progress-done" style={{ width: `${pct(done)}%` }} />
      <div className="progress-failed" style={{ width: `${pct(failed)}%` }} />
    </div>
  );
}

/** Completed and failed lines of the total. */
function Progress({ b }: { b: Batch }) {
  const { total, completed, failed } = b.request_counts;
  return <Bar total={total} done={completed} failed={failed} label={`${completed + failed} of ${total} lines done`} title={`${count(completed)} completed, ${count(failed)} failed of ${count(total)}`} />;
}

/** Succeeded requests, and those that ended otherwise (errored, canceled, expired), of the total. */
function MessageProgress({ b }: { b: MessageBatch }) {
  const c = b.request_counts;
  const total = messageBatchTotal(c);
  const other = c.errored + c.canceled + c.expired;
  return (
    <Bar
      total={total}
      done={c.succeeded}
      failed={other}
      label={`${c.succeeded + other} of ${total} requests done`}
      title={`${count(c.succeeded)} succeeded, ${count(c.errored)} errored, ${count(c.canceled)} canceled, ${count(c.expired)} expired of ${count(total)}`}
    />
  );
}

/** A row of the list: either kind, with its creation time in ms for the merge. */
type Row = { kind: "batch"; b: Batch; at: number } | { kind: "message_batch"; b: MessageBatch; at: number };

/** Two newest-first lists as one, each keeping its own order (ties: the first list's first). */
function mergeNewest(a: Row[], b: Row[]): Row[] {
  const out: Row[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(b[j].at > a[i].at ? b[j++] : a[i++]);
  return out.concat(a.slice(i), b.slice(j));
}

/** One row per id: a batch made between two pages' fetches must not show twice. */
function uniq<T extends { id: string }>(pages: { data: T[] }[] | undefined): Map<string, T> {
  const byId = new Map<string, T>();
  for (const p of pages ?? []) for (const b of p.data) if (!byId.has(b.id)) byId.set(b.id, b);
  return byId;
}

function MetadataChips({ metadata }: { metadata: Batch["metadata"] }) {
  const entries = Object.entries(metadata ?? {});
  if (!entries.length) return <span className="muted">–</span>;
  return (
    <div className="chips small">
      {entries.map(([k, v]) => (
        <span key={k} className="chip" data-testid="batch-metadata">
          {k}={v}
        </span>
      ))}
    </div>
  );
}

export function BatchesPage({ selected }: { selected?: string }) {
  const q = useInfiniteQuery({
    queryKey: LIST_KEY,
    queryFn: ({ pageParam }) => listBatches(pageParam, PAGE_SIZE),
    initialPageParam: "",
    getNextPageParam: (last) => (last.has_more && last.last_id ? last.last_id : undefined),
    // Refresh while any batch shown has work under way; once all are done, stop.
    refetchInterval: (query) => (query.state.data?.pages.some((p) => p.data.some((b) => isActive(b.status))) ? REFRESH_MS : false),
  });
  const m = useInfiniteQuery({
    queryKey: MESSAGE_LIST_KEY,
    queryFn: ({ pageParam }) => listMessageBatches(pageParam, PAGE_SIZE),
    initialPageParam: "",
    getNextPageParam: (last) => (last.has_more && last.last_id ? last.last_id : undefined),
    refetchInterval: (query) => (query.state.data?.pages.some((p) => p.data.some((b) => isMessageBatchActive(b.processing_status))) ? REFRESH_MS : false),
  });
  const byId = uniq(q.data?.pages);
  const messagesById = uniq(m.data?.pages);
  const openai: Row[] = [...byId.values()].map((b) => ({ kind: "batch", b, at: b.created_at * 1000 }));
  const messages: Row[] = [...messagesById.values()].map((b) => ({ kind: "message_batch", b, at: isoMs(b.created_at) ?? 0 }));
  // Each list is paged on its own: a row shows once no page not yet loaded of the other list could
  // hold a newer one, so Load more only ever adds rows below those shown.
  const tail = (rows: Row[], more: boolean) => (more && rows.length ? rows[rows.length - 1].at : -Infinity);
  const openaiTail = tail(openai, q.hasNextPage);
  const messagesTail = tail(messages, m.hasNextPage);
  const batches = mergeNewest(
    openai.filter((r) => r.at >= messagesTail),
    messages.filter((r) => r.at >= openaiTail),
  );
  const refreshing = batches.some((r) => (r.kind === "batch" ? isActive(r.b.status) : isMessageBatchActive(r.b.processing_status)));
  const open = (r: Row) => navigate(`batches/${encodeURIComponent(r.b.id)}`);
  const pending = q.isPending || m.isPending;
  const hasMore = q.hasNextPage || m.hasNextPage;
  const fetchingMore = q.isFetchingNextPage || m.isFetchingNextPage;
  // The list whose last loaded row is the newest of those with more holds back the other's rows.
  const loadMore = () => {
    const newest = Math.max(openaiTail, messagesTail);
    if (q.hasNextPage && openaiTail === newest) void q.fetchNextPage();
    if (m.hasNextPage && messagesTail === newest) void m.fetchNextPage();
  };

  return (
    <>
      <PageHeader
        title="Batches"
        subtitle={
          <>
            Batch API jobs (<code>/v1/batches</code>) and Anthropic message batches (<code>/v1/messages/batches</code>), newest first: progress, tokens and cost.
            {refreshing ? ` Refreshing every ${REFRESH_MS / 1000} s while one runs.` : ""}
          </>
        }
        actions={
          <button
            type="button"
            onClick={() => {
              void q.refetch();
              void m.refetch();
            }}
            disabled={pending}
            data-testid="batches-refresh"
          >
            Refresh
          </button>
        }
      />
      {selected && (isMessageBatchId(selected) ? <MessageBatchDetail id={selected} listed={messagesById.get(selected)} /> : <BatchDetail id={selected} listed={byId.get(selected)} />)}
      <ErrorBox error={q.error} />
      <ErrorBox error={m.error} />
      <Card>
        {pending ? (
          <Loading what="Loading batches" />
        ) : batches.length === 0 ? (
          !q.error &&
          !m.error && (
            <Empty>
              No batches yet. Upload a JSONL file to <code>/v1/files</code> with purpose <code>batch</code>, then create one with <code>POST /v1/batches</code>; or send Anthropic message batches to{" "}
              <code>POST /v1/messages/batches</code>.
            </Empty>
          )
        ) : (
          <div className="table-wrap">
            <table className="table dense clickable" data-testid="batches-table" data-refreshing={refreshing ? "true" : "false"}>
              <thead>
                <tr>
                  <th>Batch</th>
                  <th>API</th>
                  <th>Status</th>
                  <th>Endpoint</th>
                  <th>Created</th>
                  <th>Progress</th>
                  <th className="num">Cost</th>
                  <th className="num">Tokens</th>
                  <th>Metadata</th>
                </tr>
              </thead>
              <tbody>
                {batches.map((r) => {
                  const row = {
                    onClick: () => open(r),
                    tabIndex: 0,
                    onKeyDown: (e: KeyboardEvent) => e.key === "Enter" && open(r),
                    className: r.b.id === selected ? "selected" : undefined,
                    "aria-selected": r.b.id === selected,
                    "data-testid": "batch-row",
                    "data-id": r.b.id,
                    "data-kind": r.kind,
                  };
                  if (r.kind === "message_batch") {
                    const b = r.b;
                    const c = b.request_counts;
                    const total = messageBatchTotal(c);
                    const other = c.errored + c.canceled + c.expired;
                    return (
                      <tr
                        {...row}
                        key={b.id}
                        data-status={b.processing_status}
                        data-processing={c.processing}
                        data-succeeded={c.succeeded}
                        data-errored={c.errored}
                        data-canceled={c.canceled}
                        data-expired={c.expired}
                        data-total={total}
                      >
                        <td className="nowrap">
                          <code>{b.id}</code>
                        </td>
                        <td>
                          <KindBadge kind="message_batch" />
                        </td>
                        <td>
                          <MessageBatchStatusBadge b={b} />
                        </td>
                        <td className="nowrap">
                          <code>/v1/messages</code>
                        </td>
                        <td className="nowrap" title={dateTime(r.at)}>
                          {shortTime(r.at)}
                        </td>
                        <td className="nowrap">
                          {count(c.succeeded + other)} / {count(total)}
                          {other > 0 && (
                            <span className="muted small">
                              {" "}
                              ({[c.errored && `${count(c.errored)} errored`, c.canceled && `${count(c.canceled)} canceled`, c.expired && `${count(c.expired)} expired`].filter(Boolean).join(", ")})
                            </span>
                          )}
                          <MessageProgress b={b} />
                        </td>
                        <td className="num">{usd(b.signalbox?.cost_nano_usd)}</td>
                        <td className="num">
                          <span className="muted" title="Anthropic's MessageBatch does not carry token counts">
                            –
                          </span>
                        </td>
                        <td>
                          <span className="muted">–</span>
                        </td>
                      </tr>
                    );
                  }
                  const b = r.b;
                  return (
                    <tr {...row} key={b.id} data-status={b.status} data-completed={b.request_counts.completed} data-failed={b.request_counts.failed} data-total={b.request_counts.total}>
                      <td className="nowrap">
                        <code>{b.id}</code>
                      </td>
                      <td>
                        <KindBadge kind="batch" />
                      </td>
                      <td>
                        <BatchStatusBadge status={b.status} />
                      </td>
                      <td className="nowrap">
                        <code>{b.endpoint}</code>
                      </td>
                      <td className="nowrap" title={dateTime(ms(b.created_at))}>
                        {shortTime(ms(b.created_at))}
                      </td>
                      <td className="nowrap">
                        {count(b.request_counts.completed + b.request_counts.failed)} / {count(b.request_counts.total)}
                        {b.request_counts.failed > 0 && <span className="muted small"> ({count(b.request_counts.failed)} failed)</span>}
                        <Progress b={b} />
                      </td>
                      <td className="num">{usd(b.signalbox?.cost_nano_usd)}</td>
                      <td className="num">{count(b.usage?.total_tokens)}</td>
                      <td>
                        <MetadataChips metadata={b.metadata} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {hasMore && (
          <div className="pager">
            <span className="muted">
              {count(batches.length)} shown · {PAGE_SIZE} per page
            </span>
            <button type="button" onClick={loadMore} disabled={fetchingMore} data-testid="batches-load-more">
              {fetchingMore ? "Loading…" : "Load more"}
            </button>
          </div>
        )}
      </Card>
    </>
  );
}

/** A panel's batch: the list's copy when it has one (the list's refresh keeps it current), else fetched and refreshed while `active`. */
function usePanelBatch<T>(key: readonly unknown[], get: () => Promise<T>, listed: T | undefined, active: (b: T) => boolean) {
  const one = useQuery({
    queryKey: key,
    queryFn: get,
    enabled: !listed,
    refetchInterval: (query) => (query.state.data && active(query.state.data) ? REFRESH_MS : false),
  });
  return { one, b: listed ?? one.data };
}

/**
 * A batch panel's actions, one at a time, with the last one's error: `act` runs one (a download);
 * `cancel` (after its dialog, `confirm`) stores the batch as the cancel answers it and refreshes
 * every batch query, whatever the answer, since the batch may have moved on.
 */
function usePanelActions<A extends string>(key: readonly unknown[], cancelCall: () => Promise<unknown>) {
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState<A | "cancel">();
  const [error, setError] = useState<unknown>();
  const act = async (what: A | "cancel", fn: () => Promise<unknown>) => {
    setBusy(what);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };
  const cancel = () =>
    act("cancel", async () => {
      setConfirm(false);
      try {
        queryClient.setQueryData(key, await cancelCall());
      } finally {
        await queryClient.invalidateQueries({ queryKey: ["batches"] });
      }
    });
  return { confirm, setConfirm, busy, error, act, cancel };
}

/** A batch panel's Cancel button (it asks first: CancelDialog). */
function CancelButton({ busy, onClick }: { busy: boolean; onClick: () => void }) {
  return (
    <button type="button" className="danger" onClick={onClick} disabled={busy} data-testid="batch-cancel">
      {busy ? "Cancelling…" : "Cancel batch"}
    </button>
  );
}

/** What cancelling a batch does (`children`), and the choice: keep it running or cancel it. */
function CancelDialog({ title, onKeep, onCancel, children }: { title: string; onKeep: () => void; onCancel: () => void; children: ReactNode }) {
  return (
    <Dialog title={title} onClose={onKeep}>
      <p>{children}</p>
      <div className="dialog-actions">
        <button type="button" onClick={onKeep}>
          Keep running
        </button>
        <button type="button" className="danger" onClick={onCancel} data-testid="batch-cancel-confirm">
          Cancel batch
        </button>
      </div>
    </Dialog>
  );
}

/** One batch: from the list when it is there (the list's refresh keeps it current), else fetched. */
function BatchDetail({ id, listed }: { id: string; listed?: Batch }) {
  const { one, b } = usePanelBatch(batchKey(id), () => getBatch(id), listed, (x) => isActive(x.status));
  const { confirm, setConfirm, busy, error, act, cancel } = usePanelActions<"output" | "errors">(batchKey(id), () => cancelBatch(id));

  const u = b?.usage;
  const times: [string, number | null | undefined][] = b
    ? [
        ["Created", b.created_at],
        ["Started", b.in_progress_at],
        ["Finalizing", b.finalizing_at],
        ["Completed", b.completed_at],
        ["Failed", b.failed_at],
        ["Cancelling", b.cancelling_at],
        ["Cancelled", b.cancelled_at],
        ["Expired", b.expired_at],
      ]
    : [];
  const errors = b?.errors?.data ?? [];

  return (
    <section className="stack" data-testid="batch-detail" data-kind="batch" data-id={id} data-status={b?.status ?? ""} aria-label={`Batch ${id}`}>
      <Card
        title={
          <>
            Batch <code>{id}</code> <KindBadge kind="batch" /> {b && <BatchStatusBadge status={b.status} />}
          </>
        }
        actions={
          <>
            {b && isCancellable(b.status) && (
              <CancelButton busy={busy === "cancel"} onClick={() => setConfirm(true)} />
            )}
            {b?.output_file_id && (
              <button type="button" onClick={() => act("output", () => downloadFile(b.output_file_id!))} disabled={busy === "output"} data-testid="batch-download-output">
                {busy === "output" ? "Downloading…" : "Download output"}
              </button>
            )}
            {b?.error_file_id && (
              <button type="button" onClick={() => act("errors", () => downloadFile(b.error_file_id!))} disabled={busy === "errors"} data-testid="batch-download-errors">
                {busy === "errors" ? "Downloading…" : "Download errors"}
              </button>
            )}
            <Link to="batches" className="button" data-testid="batch-close">
              Close
            </Link>
          </>
        }
      >
        <ErrorBox error={listed ? undefined : one.error} />
        <ErrorBox error={error} />
        {!b ? (
          one.isPending && !one.error && <Loading what="Loading the batch" />
        ) : (
          <div className="grid-3">
            <dl className="facts">
              <dt>Endpoint</dt>
              <dd>
                <code>{b.endpoint}</code>
              </dd>
              <dt>Input file</dt>
              <dd>
                <code>{b.input_file_id}</code>
              </dd>
              <dt>Output file</dt>
              <dd>{b.output_file_id ? <code>{b.output_file_id}</code> : <span className="muted">–</span>}</dd>
              <dt>Error file</dt>
              <dd>{b.error_file_id ? <code>{b.error_file_id}</code> : <span className="muted">–</span>}</dd>
              <dt>Metadata</dt>
              <dd>
                <MetadataChips metadata={b.metadata} />
              </dd>
            </dl>
            <dl className="facts" data-testid="batch-counts" data-total={b.request_counts.total} data-completed={b.request_counts.completed} data-failed={b.request_counts.failed}>
              <dt>Lines</dt>
              <dd>
                {count(b.request_counts.total)}
                <Progress b={b} />
              </dd>
              <dt>Completed</dt>
              <dd>{count(b.request_counts.completed)}</dd>
              <dt>Failed</dt>
              <dd>{count(b.request_counts.failed)}</dd>
              <dt>Input tokens</dt>
              <dd>
                {count(u?.input_tokens)}
                {u?.input_tokens_details?.cached_tokens ? <span className="muted"> ({count(u.input_tokens_details.cached_tokens)} cached)</span> : null}
              </dd>
              <dt>Output tokens</dt>
              <dd>
                {count(u?.output_tokens)}
                {u?.output_tokens_details?.reasoning_tokens ? <span className="muted"> ({count(u.output_tokens_details.reasoning_tokens)} reasoning)</span> : null}
              </dd>
              <dt>Total tokens</dt>
              <dd>{count(u?.total_tokens)}</dd>
              <dt>Cost</dt>
              <dd data-testid="batch-cost">{usd(b.signalbox?.cost_nano_usd)}</dd>
            </dl>
            <dl className="facts" data-testid="batch-times">
              {times
                .filter(([, t]) => t)
                .sort((a, b) => a[1]! - b[1]!)
                .map(([label, t]) => (
                  <Fact key={label} label={label} value={dateTime(ms(t))} />
                ))}
              <dt>Window ends</dt>
              <dd>
                {dateTime(ms(b.expires_at))}
                {isActive(b.status) && <span className="muted"> ({relative(ms(b.expires_at))})</span>}
              </dd>
            </dl>
          </div>
        )}
      </Card>
      {errors.length > 0 && (
        <Card title={`Validation errors (${errors.length})`}>
          <p className="muted small">The input file was refused before any line ran. Fix these lines and upload it again.</p>
          <div className="table-wrap">
            <table className="table dense" data-testid="batch-errors">
              <thead>
                <tr>
                  <th className="num">Line</th>
                  <th>Code</th>
                  <th>Param</th>
                  <th>Message</th>
                </tr>
              </thead>
              <tbody>
                {errors.map((e, i) => (
                  <tr key={i} data-testid="batch-error" data-line={e.line ?? ""} data-code={e.code} data-param={e.param ?? ""}>
                    <td className="num">{e.line ?? "–"}</td>
                    <td>
                      <code>{e.code}</code>
                    </td>
                    <td>{e.param ? <code>{e.param}</code> : <span className="muted">–</span>}</td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}
      {confirm && b && (
        <CancelDialog title={`Cancel batch ${b.id}`} onKeep={() => setConfirm(false)} onCancel={cancel}>
          No more of its lines are started; those under way finish. The output file keeps what was answered, and the lines never run go to the error file as <code>batch_cancelled</code>.
        </CancelDialog>
      )}
    </section>
  );
}

/** One message batch: from the list when it is there (the list's refresh keeps it current), else fetched. */
function MessageBatchDetail({ id, listed }: { id: string; listed?: MessageBatch }) {
  const { one, b } = usePanelBatch(messageBatchKey(id), () => getMessageBatch(id), listed, (x) => isMessageBatchActive(x.processing_status));
  const { confirm, setConfirm, busy, error, act, cancel } = usePanelActions<"results">(messageBatchKey(id), () => cancelMessageBatch(id));

  const c = b?.request_counts;
  const total = c ? messageBatchTotal(c) : 0;
  const times: [string, number | undefined][] = b
    ? [
        ["Created", isoMs(b.created_at)],
        ["Cancel requested", isoMs(b.cancel_initiated_at)],
        ["Ended", isoMs(b.ended_at)],
      ]
    : [];
  const status: MessageBatchStatus | "" = b?.processing_status ?? "";

  return (
    <section className="stack" data-testid="batch-detail" data-kind="message_batch" data-id={id} data-status={status} aria-label={`Message batch ${id}`}>
      <Card
        title={
          <>
            Message batch <code>{id}</code> <KindBadge kind="message_batch" /> {b && <MessageBatchStatusBadge b={b} />}
          </>
        }
        actions={
          <>
            {b && isMessageBatchCancellable(b.processing_status) && (
              <CancelButton busy={busy === "cancel"} onClick={() => setConfirm(true)} />
            )}
            {b?.processing_status === "ended" && (
              <button type="button" onClick={() => act("results", () => downloadMessageBatchResults(b.id))} disabled={busy === "results"} data-testid="batch-download-results">
                {busy === "results" ? "Downloading…" : "Download results"}
              </button>
            )}
            <Link to="batches" className="button" data-testid="batch-close">
              Close
            </Link>
          </>
        }
      >
        <ErrorBox error={listed ? undefined : one.error} />
        <ErrorBox error={error} />
        {!b || !c ? (
          one.isPending && !one.error && <Loading what="Loading the batch" />
        ) : (
          <div className="grid-3">
            <dl className="facts">
              <dt>API</dt>
              <dd>
                Anthropic Message Batches (<code>/v1/messages/batches</code>)
              </dd>
              <dt>Endpoint</dt>
              <dd>
                <code>/v1/messages</code>
              </dd>
              <dt>Results</dt>
              <dd data-testid="batch-results-url">{b.results_url ? <code>{b.results_url}</code> : <span className="muted">when the batch has ended</span>}</dd>
            </dl>
            <dl
              className="facts"
              data-testid="batch-counts"
              data-total={total}
              data-processing={c.processing}
              data-succeeded={c.succeeded}
              data-errored={c.errored}
              data-canceled={c.canceled}
              data-expired={c.expired}
            >
              <dt>Requests</dt>
              <dd>
                {count(total)}
                <MessageProgress b={b} />
              </dd>
              <dt>Processing</dt>
              <dd>{count(c.processing)}</dd>
              <dt>Succeeded</dt>
              <dd>{count(c.succeeded)}</dd>
              <dt>Errored</dt>
              <dd>{count(c.errored)}</dd>
              <dt>Canceled</dt>
              <dd>{count(c.canceled)}</dd>
              <dt>Expired</dt>
              <dd>{count(c.expired)}</dd>
              <dt>Cost</dt>
              <dd data-testid="batch-cost">{usd(b.signalbox?.cost_nano_usd)}</dd>
            </dl>
            <dl className="facts" data-testid="batch-times">
              {times
                .filter(([, t]) => t)
                .sort((x, y) => x[1]! - y[1]!)
                .map(([label, t]) => (
                  <Fact key={label} label={label} value={dateTime(t)} />
                ))}
              <dt>Window ends</dt>
              <dd>
                {dateTime(isoMs(b.expires_at))}
                {isMessageBatchActive(b.processing_status) && <span className="muted"> ({relative(isoMs(b.expires_at))})</span>}
              </dd>
            </dl>
          </div>
        )}
      </Card>
      {confirm && b && (
        <CancelDialog title={`Cancel message batch ${b.id}`} onKeep={() => setConfirm(false)} onCancel={cancel}>
          No more of its requests are started; those under way finish. It then ends, and the requests never run are in its results as <code>canceled</code>.
        </CancelDialog>
      )}
    </section>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
}
