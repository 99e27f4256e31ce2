// `signalbox guardrails`: the gateway's guardrails (GuardrailService.ListGuardrails), and named
// ones tried on a text without a model call (ApplyGuardrails): `signalbox guardrails check
// --guardrail no-pii "text"` prints the text as it would leave (redactions applied) and what each
// guardrail did; a block exits 1, naming the guardrail and category, so a script can gate on it.

import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ApplyGuardrailsResponseSchema, GuardrailStage, ListGuardrailsResponseSchema, type GuardrailInfo } from "@signalbox/client";
import { CliError, EXIT, readStdin, setup, usageError } from "../context.ts";
import { type Column, csv, json, out, table, waiting } from "../output.ts";

const STAGES: Record<number, string> = { 1: "input", 2: "output" };

const COLUMNS: Column<GuardrailInfo>[] = [
  { header: "NAME", show: (g) => g.name },
  { header: "KIND", show: (g) => g.kind },
  { header: "STAGES", show: (g) => g.stages.map((s) => STAGES[s] ?? "?").join(", ") },
  { header: "ACTION", show: (g) => g.action },
  { header: "MANDATORY", show: (g) => (g.mandatory ? "yes" : "no"), raw: (g) => g.mandatory },
];

const collect = (v: string, acc: string[] = []) => [...acc, v];

export function guardrailCommands(program: Command): void {
  const g = program.command("guardrails").description("the gateway's guardrails: list them, or check a text against named ones without a model call");
  g.command("list", { isDefault: true })
    .description("the guardrails of the gateway's configuration: name, kind, stages, action")
    .action(async (_o: unknown, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const r = await waiting("listing guardrails", () => sb.guardrails.listGuardrails({}));
      if (mode === "json") return json(toJson(ListGuardrailsResponseSchema, r));
      if (mode === "csv") return out(csv(COLUMNS, r.guardrails));
      await out(r.guardrails.length ? table(COLUMNS, r.guardrails) : "the gateway has no guardrails\n");
    });
  g.command("check")
    .description("run named guardrails on a text (the argument, or stdin with -) as a request's text would be: the text as it would leave, or the block (exit 1)")
    .argument("<text>", "the text, or - to read it from stdin")
    .requiredOption("-g, --guardrail <name>", "a guardrail to run (repeatable)", collect)
    .option("--stage <stage>", "input (what is sent to a provider) or output (an answer)", "input")
    .addHelpText("after", '\nExamples:\n  signalbox guardrails check -g no-pii "mail me at ana@example.com"\n  cat draft.txt | signalbox guardrails check -g azure-safety -g lakera --stage output -')
    .action(async (text: string, o: { guardrail: string[]; stage: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      if (o.stage !== "input" && o.stage !== "output") throw usageError(`--stage must be input or output, got "${o.stage}"`);
      const input = text === "-" ? await readStdin() : text;
      const r = await waiting("checking", () => sb.guardrails.applyGuardrails({ guardrails: o.guardrail, text: input, stage: o.stage === "output" ? GuardrailStage.OUTPUT : GuardrailStage.INPUT }));
      if (mode === "json") {
        await json(toJson(ApplyGuardrailsResponseSchema, r));
        if (r.blocked) throw new CliError("", undefined, EXIT.failed);
        return;
      }
      for (const a of r.actions) process.stderr.write(`${a.guardrail}: ${a.action} ${a.category}${a.count > 1 ? ` ×${a.count}` : ""}\n`);
      if (r.blocked) throw new CliError(`blocked by guardrail "${r.blockedBy}" (category ${r.category})`, undefined, EXIT.failed);
      await out(r.text.endsWith("\n") ? r.text : `${r.text}\n`);
    });
}
