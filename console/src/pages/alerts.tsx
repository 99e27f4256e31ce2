// Alerts: the sinks in force (AdminService.ListAlerts: name, format, timeout, events; never their
// URL or headers) and a test event sent to one of them (TestAlert), with whether it was delivered.
// Below them, the usage exports (ListUsageExports: where each archives usage records, what it has
// sent, what waits, what it dropped, and its error while sends fail), each sent now on demand
// (FlushUsageExports). Admin keys only.

import { createConnectQueryKey, useMutation, useQuery } from "@connectrpc/connect-query";
import { AdminService, type AlertSink, type FlushUsageExportsResponse, type SendSpendReportResponse, type SpendReportInfo, type TestAlertResponse, type UsageExportInfo } from "@signalbox/client";
import { useQueryClient } from "@tanstack/react-query";
import { count, dateTime, relative, shortTime, usd } from "../format.ts";
import { useState } from "react";
import { Badge, Card, Empty, ErrorBox, Loading, PageHeader } from "../ui.tsx";

export function AlertsPage() {
  const q = useQuery(AdminService.method.listAlerts, {});
  const alerts = q.data?.alerts ?? [];
  return (
    <>
      <PageHeader title="Alerts" subtitle="Where budget, cooldown and connection alerts go. Send a sink a test event to check it is wired up." />
      <ErrorBox error={q.error} />
      {q.isPending ? (
        <Loading />
      ) : alerts.length === 0 ? (
        <Empty>
          No alerts are configured. Add sinks under <code>alerts:</code> in the config file (a webhook, or Slack).
        </Empty>
      ) : (
        <Card>
          <table className="table" data-testid="alerts">
            <thead>
              <tr>
                <th>Name</th>
                <th>Format</th>
                <th className="num">Timeout</th>
                <th>Events</th>
                <th>Test</th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((a) => (
                <AlertRow key={a.name} a={a} />
              ))}
            </tbody>
          </table>
        </Card>
      )}
      {(q.data?.spendReports.length ?? 0) > 0 && (
        <Card title="Spend reports">
          <table className="table" data-testid="spend-reports">
            <thead>
              <tr>
                <th>Report</th>
                <th>Period</th>
                <th>Sink</th>
                <th>Top</th>
                <th>Send</th>
              </tr>
            </thead>
            <tbody>
              {q.data!.spendReports.map((r) => (
                <ReportRow key={r.name} r={r} />
              ))}
            </tbody>
          </table>
        </Card>
      )}
      <UsageExportsCard />
    </>
  );
}

const EXPORT_TYPES: Record<string, string> = { s3: "S3", gcs: "Cloud Storage", azure_blob: "Azure Blob", http: "HTTP", datadog: "Datadog", splunk: "Splunk", langfuse: "Langfuse", otlp: "OTLP" };

/** Seconds as "30 s", "5 min", "1 h". */
const every = (s: number) => (s >= 3600 && s % 3600 === 0 ? `${s / 3600} h` : s >= 60 && s % 60 === 0 ? `${s / 60} min` : `${s} s`);

function UsageExportsCard() {
  const q = useQuery(AdminService.method.listUsageExports, {});
  const exports = q.data?.exports ?? [];
  return (
    <Card title="Usage exports">
      <ErrorBox error={q.error} />
      <div data-testid="usage-exports" data-state={q.isPending ? "loading" : q.error ? "error" : exports.length ? "rows" : "empty"}>
        {q.isPending ? (
          <Loading what="Loading usage exports" />
        ) : q.error ? null : exports.length === 0 ? (
          <Empty>
            <span data-testid="usage-exports-empty">
              No usage exports: add <code>usage_export</code> to the config to archive every request to S3, Cloud Storage or Azure Blob, or send it to Datadog, Splunk or any HTTP endpoint.
            </span>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Export</th>
                  <th>Destination</th>
                  <th className="num">Every</th>
                  <th className="num">Exported</th>
                  <th className="num">Objects</th>
                  <th className="num">Waiting</th>
                  <th className="num">Dropped</th>
                  <th>Last export</th>
                  <th>Send</th>
                </tr>
              </thead>
              <tbody>
                {exports.map((e) => (
                  <ExportRow key={e.name} e={e} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </Card>
  );
}

function ExportRow({ e }: { e: UsageExportInfo }) {
  const [result, setResult] = useState<FlushUsageExportsResponse>();
  const queryClient = useQueryClient();
  const send = useMutation(AdminService.method.flushUsageExports, {
    onSuccess: (res) => {
      setResult(res);
      return queryClient.invalidateQueries({ queryKey: createConnectQueryKey({ schema: AdminService.method.listUsageExports, cardinality: undefined }) });
    },
  });
  const waiting = e.bufferedRecords + e.spooledRecords;
  const after = result?.exports.find((x) => x.name === e.name);
  return (
    <tr data-testid="usage-export" data-name={e.name} data-exported={String(e.exportedRecords)} data-objects={String(e.objects)} data-waiting={String(waiting)} data-dropped={String(e.droppedRecords)} data-failing={e.error ? "true" : "false"}>
      <td>
        <strong>{e.name}</strong>
        <div className="muted small">{EXPORT_TYPES[e.type] ?? e.type}</div>
      </td>
      <td>
        <code data-testid="usage-export-destination">{e.destination}</code>
        {e.when && <div className="muted small" data-testid="usage-export-when">only {e.when}</div>}
        {e.captureContent && (
          <div className="muted small" data-testid="usage-export-content">
            with prompts and answers
          </div>
        )}
        {e.error && (
          <div className="error" role="alert" data-testid="usage-export-error" style={{ marginTop: 8 }}>
            <strong>Failing{e.failingSince ? ` since ${dateTime(e.failingSince)} (${relative(e.failingSince)})` : ""}</strong>
            <div>{e.error}</div>
          </div>
        )}
      </td>
      <td className="num" title={`at most ${count(e.maxRecords)} records an object`}>
        {every(e.flushSeconds)}
      </td>
      <td className="num" data-testid="usage-export-exported">
        {count(e.exportedRecords)}
      </td>
      <td className="num" data-testid="usage-export-objects">
        {count(e.objects)}
      </td>
      <td className="num" data-testid="usage-export-waiting" title={`${count(e.bufferedRecords)} in memory, ${e.spool ? `${count(e.spooledRecords)} in the spool directory` : "no spool directory"}`}>
        {count(waiting)}
      </td>
      <td className="num" data-testid="usage-export-dropped">
        {e.droppedRecords > 0n ? <Badge tone="warn">{count(e.droppedRecords)}</Badge> : count(e.droppedRecords)}
      </td>
      <td className="nowrap" data-testid="usage-export-last" title={e.lastExportTime ? dateTime(e.lastExportTime) : undefined}>
        {e.lastExportTime ? shortTime(e.lastExportTime) : <span className="muted">never</span>}
      </td>
      <td>
        <div className="actions">
          <button type="button" disabled={send.isPending} onClick={() => (setResult(undefined), send.mutate({ name: e.name }))}>
            {send.isPending ? "Sending…" : "Send now"}
          </button>
          <span data-testid="usage-export-result" aria-live="polite">
            {after &&
              (after.error ? (
                <Badge tone="bad" title={after.error}>
                  not sent: {count(after.bufferedRecords + after.spooledRecords)} waiting
                </Badge>
              ) : (
                <Badge tone="ok">sent: {count(after.exportedRecords)} exported</Badge>
              ))}
          </span>
        </div>
        <ErrorBox error={send.error} />
      </td>
    </tr>
  );
}

function ReportRow({ r }: { r: SpendReportInfo }) {
  const [result, setResult] = useState<SendSpendReportResponse>();
  const send = useMutation(AdminService.method.sendSpendReport, { onSuccess: setResult });
  return (
    <tr data-testid="spend-report" data-name={r.name}>
      <td>
        <strong>{r.name}</strong>
      </td>
      <td>{r.period}</td>
      <td>{r.alert}</td>
      <td className="small">
        {r.top} by {r.groupBy}
      </td>
      <td>
        <div className="actions">
          <button type="button" disabled={send.isPending} onClick={() => (setResult(undefined), send.mutate({ name: r.name }))}>
            {send.isPending ? "Sending…" : "Send now"}
          </button>
          <span data-testid="spend-report-result" aria-live="polite">
            {result &&
              (result.delivered ? (
                <Badge tone="ok" title={`${dateTime(result.periodStart)} to ${dateTime(result.periodEnd)}`}>
                  sent: {usd(result.costNanoUsd)}, {count(result.requests)} requests
                </Badge>
              ) : (
                <Badge tone="bad" title={result.error}>
                  not delivered: {result.error}
                </Badge>
              ))}
          </span>
        </div>
        <ErrorBox error={send.error} />
      </td>
    </tr>
  );
}

function AlertRow({ a }: { a: AlertSink }) {
  const [result, setResult] = useState<TestAlertResponse>();
  const test = useMutation(AdminService.method.testAlert, { onSuccess: setResult });
  return (
    <tr data-testid="alert" data-name={a.name}>
      <td>
        <strong>{a.name}</strong>
      </td>
      <td>{a.format}</td>
      <td className="num">{a.timeoutMs} ms</td>
      <td className="small">{a.events.join(", ")}</td>
      <td>
        <div className="actions">
          <button type="button" disabled={test.isPending} onClick={() => (setResult(undefined), test.mutate({ name: a.name }))}>
            {test.isPending ? "Sending…" : "Send test"}
          </button>
          <span data-testid="alert-result" aria-live="polite">
            {result &&
              (result.delivered ? (
                <Badge tone="ok">delivered in {result.latencyMs} ms</Badge>
              ) : (
                <Badge tone="bad" title={result.error}>
                  not delivered: {result.error}
                </Badge>
              ))}
          </span>
        </div>
        <ErrorBox error={test.error} />
      </td>
    </tr>
  );
}
