// Audit log: recorded admin actions and reloads (AdminService.ListAuditEvents), newest first, with
// filters on actor and target and a time range, "Load more" a page at a time. An event opens a
// panel with the target before and after side by side, the changed top-level fields marked, its
// trace (a link when a trace URL is configured) and the replica that made the change. Admin only.
// Actors are shown as the gateway records them: a key's name, "sso:<email>" for a console SSO
// user, "SIGHUP" for a reload by signal.

import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useInfiniteQuery } from "@connectrpc/connect-query";
import { AdminService, type AuditEvent } from "@signalbox/client";
import { type FormEvent, useState } from "react";
import { useSession } from "../context.ts";
import { count, dateTime, relative } from "../format.ts";
import { traceLink } from "../session.ts";
import { Card, Empty, ErrorBox, Field, Loading, PageHeader } from "../ui.tsx";
import { RANGE_MS, RANGE_OPTIONS, type RangeName } from "../usage.ts";

const PAGE_SIZE = 50;

interface Filters {
  actor: string;
  target: string;
  range: RangeName;
}
const NO_FILTERS: Filters = { actor: "", target: "", range: "24h" };

/** The RPC's input: the range's start only, so events made since the page opened show on a refresh. */
function auditInput(f: Filters, now: number) {
  return { actor: f.actor.trim(), target: f.target.trim(), startTime: timestampFromMs(now - RANGE_MS[f.range]), pageSize: PAGE_SIZE, pageToken: "" };
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState({ filters: NO_FILTERS, now: Date.now() });
  const [selected, setSelected] = useState<string>();
  const q = useInfiniteQuery(AdminService.method.listAuditEvents, auditInput(applied.filters, applied.now), {
    pageParamKey: "pageToken",
    getNextPageParam: (l) => l.nextPageToken || undefined,
  });
  const events = q.data?.pages.flatMap((p) => p.events) ?? [];
  const event = selected ? events.find((e) => e.id === selected) : undefined;

  const apply = (e?: FormEvent) => {
    e?.preventDefault();
    setSelected(undefined);
    setApplied({ filters: draft, now: Date.now() });
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setSelected(undefined);
    setApplied({ filters: NO_FILTERS, now: Date.now() });
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const toggle = (e: AuditEvent) => setSelected(selected === e.id ? undefined : e.id);

  return (
    <>
      <PageHeader
        title="Audit log"
        subtitle="Who changed what, newest first: keys and teams created, updated, rotated or revoked, config reloads and entries, alert tests."
        actions={
          <button type="button" onClick={() => setApplied({ ...applied, now: Date.now() })} disabled={q.isFetching} data-testid="audit-refresh">
            {q.isFetching && !q.isFetchingNextPage ? "Refreshing…" : "Refresh"}
          </button>
        }
      />
      <Card>
        <form className="filter-grid" onSubmit={apply} aria-label="Audit filters">
          <Field label="Actor" hint="a key name, sso:<email> or SIGHUP">
            <input value={draft.actor} onChange={set("actor")} name="actor" placeholder="any" data-testid="audit-actor" />
          </Field>
          <Field label="Target" hint="e.g. key:search-service, team:search, config">
            <input value={draft.target} onChange={set("target")} name="target" placeholder="any" data-testid="audit-target" />
          </Field>
          <Field label="Time">
            <select value={draft.range} onChange={set("range")} name="range" data-testid="audit-range">
              {RANGE_OPTIONS.map((o) => (
                <option key={o.value} value={o.value}>
                  Last {o.label}
                </option>
              ))}
            </select>
          </Field>
          <div className="filter-actions">
            <button type="submit" className="primary" data-testid="audit-apply">
              Apply
            </button>
            <button type="button" onClick={clear}>
              Clear
            </button>
          </div>
        </form>
      </Card>
      <ErrorBox error={q.error} />
      {event && <AuditDetail event={event} onClose={() => setSelected(undefined)} />}
      <Card>
        {q.isPending ? (
          <Loading what="Loading the audit log" />
        ) : events.length === 0 ? (
          <Empty>No audit events match.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="table dense clickable" data-testid="audit-table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Actor</th>
                  <th>Action</th>
                  <th>Target</th>
                  <th>Replica</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr
                    key={e.id}
                    onClick={() => toggle(e)}
                    tabIndex={0}
                    onKeyDown={(k) => k.key === "Enter" && toggle(e)}
                    className={e.id === selected ? "selected" : undefined}
                    aria-selected={e.id === selected}
                    data-testid="audit-row"
                    data-id={e.id}
                    data-actor={e.actor}
                    data-action={e.action}
                    data-target={e.target}
                  >
                    <td className="nowrap" title={relative(e.time)}>
                      {dateTime(e.time)}
                    </td>
                    <td className="nowrap" data-testid="audit-row-actor">
                      {e.actor || <span className="muted">–</span>}
                    </td>
                    <td className="nowrap" data-testid="audit-row-action">
                      <code>{e.action}</code>
                    </td>
                    <td className="nowrap" data-testid="audit-row-target">
                      {e.target || <span className="muted">–</span>}
                    </td>
                    <td className="nowrap small">{e.replica || <span className="muted">–</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {events.length > 0 && (
          <div className="pager">
            <span className="muted" data-testid="audit-shown">
              {count(events.length)} shown{q.hasNextPage ? ` · ${PAGE_SIZE} per page` : ""}
            </span>
            {q.hasNextPage && (
              <button type="button" onClick={() => q.fetchNextPage()} disabled={q.isFetchingNextPage} data-testid="audit-load-more">
                {q.isFetchingNextPage ? "Loading…" : "Load more"}
              </button>
            )}
          </div>
        )}
      </Card>
    </>
  );
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
function stable(v: JsonValue | undefined): string {
  if (v === undefined) return "undefined";
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The top-level fields whose value differs between before and after (added and removed ones too), sorted. */
export function changedFields(before: JsonObject | undefined, after: JsonObject | undefined): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...keys].filter((k) => stable(before?.[k]) !== stable(after?.[k])).sort();
}

function AuditDetail({ event: e, onClose }: { event: AuditEvent; onClose: () => void }) {
  const { settings } = useSession();
  const changed = changedFields(e.before, e.after);
  const trace = traceLink(settings, e.traceId);
  return (
    <div data-testid="audit-detail" data-id={e.id} data-action={e.action} data-target={e.target}>
      <Card
        className="audit-detail"
        title={
          <>
            <code>{e.action}</code> · {e.target || "–"}
          </>
        }
        actions={
          <button type="button" className="icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        }
      >
        <div>
          <dl className="facts">
            <dt>Time</dt>
            <dd>
              {dateTime(e.time)} <span className="muted">({relative(e.time)})</span>
            </dd>
            <dt>Actor</dt>
            <dd data-testid="audit-detail-actor">{e.actor || "–"}</dd>
            <dt>Replica</dt>
            <dd data-testid="audit-replica">{e.replica || <span className="muted">–</span>}</dd>
            <dt>Trace</dt>
            <dd data-testid="audit-trace">
              {!e.traceId ? (
                <span className="muted">none</span>
              ) : trace ? (
                <a href={trace} target="_blank" rel="noreferrer" data-testid="audit-trace-link">
                  {e.traceId}
                </a>
              ) : (
                <code>{e.traceId}</code>
              )}
            </dd>
            <dt>Changed</dt>
            <dd data-testid="audit-changed" data-fields={changed.join(",")}>
              {changed.length ? (
                changed.map((k, i) => (
                  <span key={k}>
                    {i > 0 && ", "}
                    <code>{k}</code>
                  </span>
                ))
              ) : (
                <span className="muted">nothing</span>
              )}
            </dd>
          </dl>
          <div className="audit-diff">
            <JsonSide label="Before" value={e.before} changed={changed} missing="Did not exist before." testId="audit-before" />
            <JsonSide label="After" value={e.after} changed={changed} missing="Does not exist after." testId="audit-after" />
          </div>
        </div>
      </Card>
    </div>
  );
}

/** One side of the diff: the object pretty-printed a top-level field per block, the changed ones marked. */
function JsonSide({ label, value, changed, missing, testId }: { label: string; value: JsonObject | undefined; changed: string[]; missing: string; testId: string }) {
  const keys = value ? Object.keys(value) : [];
  return (
    <div className="audit-side" data-testid={testId} data-present={value ? "true" : "false"}>
      <div className="field-label">{label}</div>
      {!value ? (
        <div className="audit-json muted">{missing}</div>
      ) : (
        <pre className="audit-json">
          {"{"}
          {keys.length === 0 ? "}" : "\n"}
          {keys.map((k, i) => {
            const text = `  ${JSON.stringify(k)}: ${JSON.stringify(value[k], null, 2).replaceAll("\n", "\n  ")}${i < keys.length - 1 ? "," : ""}`;
            const isChanged = changed.includes(k);
            return (
              <span key={k} className={isChanged ? "audit-line changed" : "audit-line"} data-testid="audit-field" data-key={k} data-changed={isChanged ? "true" : "false"}>
                {text}
                {"\n"}
              </span>
            );
          })}
          {keys.length > 0 && "}"}
        </pre>
      )}
    </div>
  );
}
