// Batches: the Batch API's jobs (GET /v1/batches), newest first, a page at a time with Load more,
// refreshed every 2 s while one shown is still under way. A batch opens in a panel above the list
// (batches/{id}, so a link to it works): its times, counts, usage and cost, the lines that failed
// validation, Cancel, and its output and error files to download.

import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type Batch, type BatchStatus, cancelBatch, downloadFile, getBatch, isActive, isCancellable, listBatches } from "../batches.ts";
import { count, dateTime, relative, shortTime, usd } from "../format.ts";
import { Link, navigate } from "../router.tsx";
import { Badge, Card, Dialog, Empty, ErrorBox, Loading, PageHeader, type Tone } from "../ui.tsx";

const PAGE_SIZE = 20;
const REFRESH_MS = 2000;
const LIST_KEY = ["batches", "list"] as const;
const batchKey = (id: string) => ["batches", "get", id] as const;

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

const ms = (secs: number | null | undefined) => (secs ? secs * 1000 : undefined);

/** Completed and failed lines of the total, as a two-part bar. */
function Progress({ b }: { b: Batch }) {
  const { total, completed, failed } = b.request_counts;
  const pct = (n: number) => (total > 0 ? (n / total) * 100 : 0);
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={completed + failed} aria-label={`${completed + failed} of ${total} lines done`} title={`${count(completed)} completed, ${count(failed)} failed of ${count(total)}`}>
      <div className="progress-done" style={{ width: `${pct(completed)}%` }} />
      <div className="progress-failed" style={{ width: `${pct(failed)}%` }} />
    </div>
  );
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
  // One row per id: a batch made between two pages' fetches must not show twice.
  const byId = new Map<string, Batch>();
  for (const p of q.data?.pages ?? []) for (const b of p.data) if (!byId.has(b.id)) byId.set(b.id, b);
  const batches = [...byId.values()];
  const refreshing = batches.some((b) => isActive(b.status));
  const open = (b: Batch) => navigate(`batches/${encodeURIComponent(b.id)}`);

  return (
    <>
      <PageHeader
        title="Batches"
        subtitle={
          <>
            Batch API jobs (<code>/v1/batches</code>), newest first: progress, tokens and cost.
            {refreshing ? ` Refreshing every ${REFRESH_MS / 1000} s while one runs.` : ""}
          </>
        }
        actions={
          <button type="button" onClick={() => q.refetch()} disabled={q.isPending} data-testid="batches-refresh">
            Refresh
          </button>
        }
      />
      {selected && <BatchDetail id={selected} listed={byId.get(selected)} />}
      <ErrorBox error={q.error} />
      <Card>
        {q.isPending ? (
          <Loading what="Loading batches" />
        ) : batches.length === 0 ? (
          !q.error && (
            <Empty>
              No batches yet. Upload a JSONL file to <code>/v1/files</code> with purpose <code>batch</code>, then create one with <code>POST /v1/batches</code>.
            </Empty>
          )
        ) : (
          <div className="table-wrap">
            <table className="table dense clickable" data-testid="batches-table" data-refreshing={refreshing ? "true" : "false"}>
              <thead>
                <tr>
                  <th>Batch</th>
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
                {batches.map((b) => (
                  <tr
                    key={b.id}
                    onClick={() => open(b)}
                    tabIndex={0}
                    onKeyDown={(e) => e.key === "Enter" && open(b)}
                    className={b.id === selected ? "selected" : undefined}
                    aria-selected={b.id === selected}
                    data-testid="batch-row"
                    data-id={b.id}
                    data-status={b.status}
                    data-completed={b.request_counts.completed}
                    data-failed={b.request_counts.failed}
                    data-total={b.request_counts.total}
                  >
                    <td className="nowrap">
                      <code>{b.id}</code>
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
                ))}
              </tbody>
            </table>
          </div>
        )}
        {q.hasNextPage && (
          <div className="pager">
            <span className="muted">
              {count(batches.length)} shown · {PAGE_SIZE} per page
            </span>
            <button type="button" onClick={() => q.fetchNextPage()} disabled={q.isFetchingNextPage} data-testid="batches-load-more">
              {q.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          </div>
        )}
      </Card>
    </>
  );
}

/** One batch: from the list when it is there (the list's refresh keeps it current), else fetched. */
function BatchDetail({ id, listed }: { id: string; listed?: Batch }) {
  const queryClient = useQueryClient();
  const one = useQuery({
    queryKey: batchKey(id),
    queryFn: () => getBatch(id),
    enabled: !listed,
    refetchInterval: (query) => (query.state.data && isActive(query.state.data.status) ? REFRESH_MS : false),
  });
  const b = listed ?? one.data;
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState<"cancel" | "output" | "errors">();
  const [error, setError] = useState<unknown>();
  const act = async (what: "cancel" | "output" | "errors", fn: () => Promise<unknown>) => {
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
        queryClient.setQueryData(batchKey(id), await cancelBatch(id));
      } finally {
        // Whatever the answer, the batch may have moved on: show it as it is now.
        await queryClient.invalidateQueries({ queryKey: ["batches"] });
      }
    });

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
    <section className="stack" data-testid="batch-detail" data-id={id} data-status={b?.status ?? ""} aria-label={`Batch ${id}`}>
      <Card
        title={
          <>
            Batch <code>{id}</code> {b && <BatchStatusBadge status={b.status} />}
          </>
        }
        actions={
          <>
            {b && isCancellable(b.status) && (
              <button type="button" className="danger" onClick={() => setConfirm(true)} disabled={busy === "cancel"} data-testid="batch-cancel">
                {busy === "cancel" ? "Cancelling…" : "Cancel batch"}
              </button>
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
        <Dialog title={`Cancel batch ${b.id}`} onClose={() => setConfirm(false)}>
          <p>No more of its lines are started; those under way finish. The output file keeps what was answered, and the lines never run go to the error file as <code>batch_cancelled</code>.</p>
          <div className="dialog-actions">
            <button type="button" onClick={() => setConfirm(false)}>
              Keep running
            </button>
            <button type="button" className="danger" onClick={cancel} data-testid="batch-cancel-confirm">
              Cancel batch
            </button>
          </div>
        </Dialog>
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
