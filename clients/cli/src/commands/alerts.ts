// `signalbox alerts …`: the alert sinks in force (AdminService.ListAlerts) and a test event sent
// to one of them (AdminService.TestAlert). Admin keys only; a sink's URL and headers never show.

import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ListAlertsResponseSchema, SendSpendReportResponseSchema, TestAlertResponseSchema, type AlertSink, type SpendReportInfo } from "@signalbox/client";
import { count, dollars, time } from "../format.ts";
import { failure, setup } from "../context.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";

const COLUMNS: Column<AlertSink>[] = [
  { header: "NAME", show: (a) => a.name },
  { header: "FORMAT", show: (a) => a.format },
  { header: "TIMEOUT", csv: "timeout_ms", show: (a) => `${a.timeoutMs} ms`, raw: (a) => a.timeoutMs, right: true },
  { header: "EVENTS", show: (a) => a.events.join(", "), raw: (a) => a.events.join(" ") },
];

const REPORTS: Column<SpendReportInfo>[] = [
  { header: "REPORT", show: (r) => r.name },
  { header: "PERIOD", show: (r) => r.period },
  { header: "SINK", show: (r) => r.alert },
  { header: "TOP", show: (r) => `${r.top} by ${r.groupBy}` },
];

export function alertCommands(program: Command): void {
  const alerts = program.command("alerts").description("alert sinks (webhooks, Slack): list them, send one a test event, send a spend report now");

  alerts
    .command("list")
    .description("the alert sinks in force: name, format, timeout, events (never their URL or headers)")
    .action(async (_o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("listing alerts", () => sb.admin.listAlerts({}));
      if (mode === "json") return json(toJson(ListAlertsResponseSchema, res));
      if (mode === "csv") return out(csv(COLUMNS, res.alerts));
      await out(res.alerts.length ? table(COLUMNS, res.alerts) : "no alerts configured (alerts: in the config file)\n");
      if (res.spendReports.length) await out(`\nspend reports:\n${table(REPORTS, res.spendReports)}`);
    });

  alerts
    .command("report")
    .description("send a spend report (spend_reports[].name) now, for the last period that closed; exit 1 when it is not delivered")
    .argument("<name>", "the report's name")
    .addHelpText("after", "\nExample:\n  signalbox alerts report weekly")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting(`sending spend report "${name}"`, () => sb.admin.sendSpendReport({ name }));
      if (mode === "json") json(toJson(SendSpendReportResponseSchema, res));
      else
        await out(
          fields([
            ["report", name],
            ["period", `${time(res.periodStart)} to ${time(res.periodEnd)}`],
            ["requests", count(res.requests)],
            ["cost", dollars(res.costNanoUsd)],
            ["delivered", res.delivered ? "yes" : "no"],
            ["error", res.error],
          ]),
        );
      if (!res.delivered) throw failure("", undefined);
    });

  alerts
    .command("test")
    .description("send a test event to one sink now, whatever events it subscribes to; exit 1 when it is not delivered")
    .argument("<name>", "the sink's name (alerts[].name)")
    .action(async (name: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting(`sending a test alert to "${name}"`, () => sb.admin.testAlert({ name }));
      if (mode === "json") json(toJson(TestAlertResponseSchema, res));
      else
        await out(
          fields([
            ["alert", name],
            ["delivered", res.delivered ? "yes" : "no"],
            ["error", res.error],
            ["latency", `${res.latencyMs} ms`],
          ]),
        );
      if (!res.delivered) throw failure("", undefined);
    });
}
