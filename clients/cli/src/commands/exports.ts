// `signalbox exports …`: the usage exports in force (AdminService.ListUsageExports: where each
// archives usage records, never its credentials; what it has sent, what waits, what it dropped, its
// error while sends fail) and what waits sent now (FlushUsageExports), exiting 1 when an export is
// still failing after it. The counts are those of the replica that answers. Admin keys only.

import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { FlushUsageExportsResponseSchema, ListUsageExportsResponseSchema, type UsageExportInfo } from "@signalbox/client";
import { count, rfc3339, seconds, time } from "../format.ts";
import { failure, setup } from "../context.ts";
import { type Column, csv, json, out, table, waiting } from "../output.ts";

const COLUMNS: Column<UsageExportInfo>[] = [
  { header: "NAME", show: (e) => e.name },
  { header: "TYPE", show: (e) => e.type },
  { header: "DESTINATION", show: (e) => e.destination },
  { header: "CONTENT", csv: "capture_content", show: (e) => (e.captureContent ? "yes" : "no"), raw: (e) => e.captureContent },
  { header: "EVERY", csv: "flush_seconds", show: (e) => seconds(e.flushSeconds), raw: (e) => e.flushSeconds, right: true },
  { header: "EXPORTED", csv: "exported_records", show: (e) => count(e.exportedRecords), raw: (e) => e.exportedRecords, right: true },
  { header: "OBJECTS", show: (e) => count(e.objects), raw: (e) => e.objects, right: true },
  { header: "WAITING", csv: "waiting_records", show: (e) => count(e.bufferedRecords + e.spooledRecords), raw: (e) => e.bufferedRecords + e.spooledRecords, right: true },
  { header: "DROPPED", csv: "dropped_records", show: (e) => count(e.droppedRecords), raw: (e) => e.droppedRecords, right: true },
  { header: "LAST EXPORT", csv: "last_export_time", show: (e) => time(e.lastExportTime) || "never", raw: (e) => rfc3339(e.lastExportTime) },
  { header: "FAILING SINCE", csv: "failing_since", show: (e) => time(e.failingSince), raw: (e) => rfc3339(e.failingSince) },
  { header: "ERROR", show: (e) => e.error },
];

const NONE = "no usage exports (usage_export: in the config file archives every request to S3, Cloud Storage or Azure Blob, or sends it to Datadog, Splunk, Langfuse or an HTTP endpoint)\n";

export function exportCommands(program: Command): void {
  const exports = program
    .command("exports")
    .description("usage exports (usage_export: usage records archived to S3, Cloud Storage, Azure Blob, or sent to Datadog, Splunk, an HTTP endpoint): list them with what each sent, what waits and its error; send what waits now");

  exports
    .command("list", { isDefault: true })
    .description("the usage exports in force: name, type, destination (never a credential), flush interval, records exported, objects, records waiting (in memory and spooled) and dropped, the last export, and the error while sends fail; the counts are the answering replica's since it started")
    .addHelpText("after", "\nExamples:\n  signalbox exports\n  signalbox exports list --csv > exports.csv")
    .action(async (_o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("listing usage exports", () => sb.admin.listUsageExports({}));
      if (mode === "json") return json(toJson(ListUsageExportsResponseSchema, res));
      if (mode === "csv") return out(csv(COLUMNS, res.exports));
      await out(res.exports.length ? table(COLUMNS, res.exports) : NONE);
    });

  exports
    .command("flush")
    .description("send what waits now (every export, or the one named) on the replica that answers, and print each export's state after; exit 1 when one is still failing")
    .argument("[name]", "one export (usage_export[].name); every export when left out")
    .addHelpText("after", "\nExamples:\n  signalbox exports flush\n  signalbox exports flush archive || echo \"the archive's store is failing\"")
    .action(async (name: string | undefined, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting(name ? `sending usage export "${name}"` : "sending usage exports", () => sb.admin.flushUsageExports({ name: name ?? "" }));
      if (mode === "json") await json(toJson(FlushUsageExportsResponseSchema, res));
      else if (mode === "csv") await out(csv(COLUMNS, res.exports));
      else await out(res.exports.length ? table(COLUMNS, res.exports) : NONE);
      const failing = res.exports.filter((e) => e.error);
      if (failing.length)
        throw failure(
          failing.map((e) => `usage export "${e.name}" still failing (${count(e.bufferedRecords + e.spooledRecords)} waiting): ${e.error}`).join("; "),
          "what waits is kept and sent again at each flush (flush_seconds) until the store takes it: `signalbox exports` shows how it stands",
        );
    });
}
