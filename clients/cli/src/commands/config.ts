// `signalbox config check`: the gateway's own validator (src/config/load.ts, bundled in), run
// without a gateway. An invalid file is a failed check (exit 1); a path that is not a readable
// file is bad usage (exit 2).
// `signalbox config import`: a LiteLLM config.yaml or a Bifrost config.json as a Signalbox config
// (src/config/import/, bundled in), checked by the same validator before it is written, with what
// changed or was left out as comments at its top (and on stderr).

import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { checkImported, ConfigError, loadConfigUnread } from "../../../../src/config/load.ts";
import { configVersion } from "../../../../src/config/reload.ts";
import { IMPORT_FORMATS, importConfig, importedYaml, type ImportFormat, type ImportResult } from "../../../../src/config/import/index.ts";
import { CliError, EXIT, globals, modeOf, usageError } from "../context.ts";
import { json, note, out } from "../output.ts";

export function configCommands(program: Command): void {
  const config = program.command("config").description("gateway configuration files");
  config
    .command("check")
    .description("validate a gateway config file as the gateway would at start-up (no gateway needed)")
    .argument("<file>", "the YAML file; ${VAR} references are filled from this environment")
    .addHelpText("after", "\nExit codes: 0 valid, 1 invalid (the field path is printed), 2 the file cannot be read.\n\nExample:\n  signalbox config check config/multi-provider.yaml")
    .action(async (file: string, _o: object, cmd: Command) => {
      const mode = modeOf(globals(cmd), { csv: false });
      let isFile = false;
      try {
        isFile = statSync(file).isFile();
      } catch (err) {
        throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "pass the path of a YAML config file");
      }
      if (!isFile) throw usageError(`${file} is not a file`, "pass the path of a YAML config file");
      try {
        const { config: c, secretRefs, imported } = loadConfigUnread(file, process.env);
        const summary = { providers: c.providers.length, deployments: c.deployments.length, routes: c.routes.length, aliases: Object.keys(c.aliases).length, keys: c.keys.length, teams: c.teams.length };
        const version = configVersion(c);
        if (mode === "json") return await json({ ok: true, file, version, ...summary, ...(secretRefs ? { secret_refs: secretRefs } : {}), ...(imported ? { imported_from: imported.from, notes: imported.notes } : {}) });
        // A LiteLLM or Bifrost file runs as it is: say so, and how much of it needs a hand.
        const todo = imported?.notes.filter((n) => n.kind === "manual").length ?? 0;
        const importedNote = imported ? ` (${imported.from === "litellm" ? "LiteLLM's" : "Bifrost's"} format, imported: ${imported.notes.length} note${imported.notes.length === 1 ? "" : "s"}, ${todo} to do; signalbox config import lists them)` : "";
        await out(`ok: ${summary.providers} providers, ${summary.deployments} deployments, ${summary.routes} routes, version ${version}${secretRefs ? ` (${secretRefs} \${secret:…} reference${secretRefs === 1 ? "" : "s"} not read: the gateway reads ${secretRefs === 1 ? "it" : "them"} from ${secretRefs === 1 ? "its source" : "their sources"} at start-up)` : ""}${importedNote}\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (mode === "json") await json({ ok: false, file, field: err.path, error: err.message });
        note(`error: invalid configuration in ${file}\n  ${err.message}`);
        throw new CliError("", undefined, EXIT.failed);
      }
    });

  config
    .command("import")
    .description("convert a LiteLLM config.yaml or a Bifrost config.json into a Signalbox config file (no gateway needed)")
    .argument("<file>", "the peer gateway's configuration (YAML or JSON)")
    .option("--from <format>", "the format: litellm or bifrost (default: told by the file's shape)")
    .option("-o, --out <file>", "write the config here instead of stdout (an existing file is kept unless --force)")
    .option("--force", "overwrite --out")
    .addHelpText(
      "after",
      "\nThe result is checked with the gateway's own validator, with stand-ins for environment variables that are not set here.\n" +
        "What changed or was left out is listed at the top of the file, and on stderr.\n\n" +
        "Exit codes: 0 converted and valid, 1 converted but invalid (the field path is printed), 2 the file cannot be read or is neither format.\n\n" +
        "Examples:\n  signalbox config import litellm_config.yaml -o signalbox.yaml\n  signalbox config import bifrost/config.json --from bifrost --json | jq .notes",
    )
    .action(async (file: string, o: { from?: string; out?: string; force?: boolean }, cmd: Command) => {
      const mode = modeOf(globals(cmd), { csv: false });
      if (o.from !== undefined && !(IMPORT_FORMATS as readonly string[]).includes(o.from)) throw usageError(`--from: "${o.from}" is not a format this reads`, `use ${IMPORT_FORMATS.join(" or ")}`);
      if (o.out && existsSync(o.out) && !o.force) throw usageError(`${o.out} exists`, "pass --force to overwrite it, or another --out");
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "pass the path of a LiteLLM config.yaml or a Bifrost config.json");
      }
      let doc: unknown;
      try {
        doc = parseYaml(text, { prettyErrors: true });
      } catch (err) {
        throw usageError(`${file} is neither YAML nor JSON: ${(err as Error).message.split("\n")[0]}`);
      }
      let r: ImportResult;
      try {
        // LiteLLM's master key from this environment, when set, becomes an admin key by its hash (the key itself is never written).
        r = importConfig(doc, o.from as ImportFormat | undefined, { masterKey: (name) => process.env[name] || undefined });
      } catch (err) {
        throw usageError(`${file}: ${(err as Error).message}`, o.from ? undefined : "name it with --from litellm or --from bifrost");
      }
      // The gateway's validator, as at start-up; unset variables get stand-ins of their shape.
      const problem = checkImported(r.config, process.env);
      const yaml = importedYaml(r, basename(file));
      if (o.out) writeFileSync(o.out, yaml, { mode: 0o600 });
      if (mode === "json") await json({ ok: !problem, from: r.from, file, ...(o.out ? { out: o.out } : {}), config: r.config, notes: r.notes, env: r.env, literal_secrets: r.literalSecrets, ...(problem ? { field: problem.path, error: problem.message } : {}) });
      else if (!o.out) await out(yaml);
      if (mode !== "json") {
        const d = (r.config.deployments as unknown[] | undefined)?.length ?? 0;
        const p = (r.config.providers as unknown[] | undefined)?.length ?? 0;
        const rt = (r.config.routes as unknown[] | undefined)?.length ?? 0;
        note(`imported ${r.from === "litellm" ? "LiteLLM" : "Bifrost"} config ${file}: ${p} provider${p === 1 ? "" : "s"}, ${d} deployment${d === 1 ? "" : "s"}, ${rt} route${rt === 1 ? "" : "s"}${o.out ? ` → ${o.out}` : ""}`);
        for (const n of r.notes) note(`  ${n.kind === "manual" ? "TO DO" : n.kind}: ${n.path}: ${n.detail}`);
        if (r.env.length) note(`  set in the gateway's environment: ${r.env.join(", ")}`);
        if (r.literalSecrets.length) note(`  secrets written in the file as they were (move them into the environment): ${r.literalSecrets.join(", ")}`);
      }
      if (problem) {
        if (mode !== "json") note(`error: the imported config does not pass the gateway's check\n  ${problem.message}`);
        throw new CliError("", undefined, EXIT.failed);
      }
    });
}
