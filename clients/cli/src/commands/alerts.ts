// `signalbox alerts …`: the alert sinks in force (AdminService.ListAlerts) and a test event sent
// to one of them (AdminService.TestAlert). Admin keys only; a sink's URL and headers never show.

import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ListAlertsResponseSchema, TestAlertResponseSchema, type AlertSink } from "@signalbox/client";
import { failure, setup } from "../context.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";

const COLUMNS: Column<AlertSink>[] = [
  { header: "NAME", show: (a) => a.name },
  { header: "FORMAT", show: (a) => a.format },
  { header: "TIMEOUT", csv: "timeout_ms", show: (a) => `${a.timeoutMs} ms`, raw: (a) => a.timeoutMs, right: true },
  { header: "EVENTS", show: (a) => a.events.join(", "), raw: (a) => a.events.join(" ") },
];

export function alertCommands(program: Command): void {
  const alerts = program.command("alerts").description("alert sinks (webhooks, Slack): list them, send one a test event");

  alerts
    .command("list")
    .description("the alert sinks in force: name, format, timeout, events (never their URL or headers)")
    .action(async (_o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("listing alerts", () => sb.admin.listAlerts({}));
      if (mode === "json") return json(toJson(ListAlertsResponseSchema, res));
      if (mode === "csv") return out(csv(COLUMNS, res.alerts));
      await out(res.alerts.length ? table(COLUMNS, res.alerts) : "no alerts configured (alerts: in the config file)\n");
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
