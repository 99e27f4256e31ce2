// `signalbox config check`: the gateway's own validator (src/config/load.ts, bundled in), run
// without a gateway. An invalid file is a failed check (exit 1); a path that is not a readable
// file is bad usage (exit 2).

import { statSync } from "node:fs";
import type { Command } from "commander";
import { ConfigError, loadConfigUnread } from "../../../../src/config/load.ts";
import { configVersion } from "../../../../src/config/reload.ts";
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
        const { config: c, secretRefs } = loadConfigUnread(file, process.env);
        const summary = { providers: c.providers.length, deployments: c.deployments.length, routes: c.routes.length, aliases: Object.keys(c.aliases).length, keys: c.keys.length, teams: c.teams.length };
        const version = configVersion(c);
        if (mode === "json") return await json({ ok: true, file, version, ...summary, ...(secretRefs ? { secret_refs: secretRefs } : {}) });
        await out(`ok: ${summary.providers} providers, ${summary.deployments} deployments, ${summary.routes} routes, version ${version}${secretRefs ? ` (${secretRefs} \${secret:…} reference${secretRefs === 1 ? "" : "s"} not read: the gateway reads ${secretRefs === 1 ? "it" : "them"} from ${secretRefs === 1 ? "its source" : "their sources"} at start-up)` : ""}\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (mode === "json") await json({ ok: false, file, field: err.path, error: err.message });
        note(`error: invalid configuration in ${file}\n  ${err.message}`);
        throw new CliError("", undefined, EXIT.failed);
      }
    });
}
