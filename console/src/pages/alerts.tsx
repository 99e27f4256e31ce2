// Alerts: the sinks in force (AdminService.ListAlerts: name, format, timeout, events; never their
// URL or headers) and a test event sent to one of them (TestAlert), with whether it was delivered.
// Admin keys only.

import { useMutation, useQuery } from "@connectrpc/connect-query";
import { AdminService, type AlertSink, type SendSpendReportResponse, type SpendReportInfo, type TestAlertResponse } from "@signalbox/client";
import { count, dateTime, usd } from "../format.ts";
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
    </>
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
