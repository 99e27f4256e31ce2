// The `signalbox` command: global flags, the commands, and exit codes (0 ok, 1 the call failed,
// 2 bad usage). Built into one file, dist/signalbox.mjs, by build.mjs.

import { Command, CommanderError } from "commander";
import { alertCommands } from "./commands/alerts.ts";
import { exportCommands } from "./commands/exports.ts";
import { batchCommands } from "./commands/batch.ts";
import { vectorStoreCommands } from "./commands/vector-stores.ts";
import { responseCommands } from "./commands/responses.ts";
import { mcpCommands } from "./commands/mcp.ts";
import { promptCommands } from "./commands/prompts.ts";
import { chatCommand } from "./commands/chat.ts";
import { realtimeCommand } from "./commands/realtime.ts";
import { rerankCommand } from "./commands/rerank.ts";
import { moderateCommand } from "./commands/moderate.ts";
import { searchCommand } from "./commands/search.ts";
import { ocrCommand } from "./commands/ocr.ts";
import { imageCommand } from "./commands/image.ts";
import { speakCommand, transcribeCommand } from "./commands/audio.ts";
import { configCommands } from "./commands/config.ts";
import { entryCommands } from "./commands/entries.ts";
import { keyCommands, teamCommands, whoamiCommand } from "./commands/admin.ts";
import { endUserCommands } from "./commands/end-users.ts";
import { auditCommand } from "./commands/audit.ts";
import { guardrailCommands } from "./commands/guardrails.ts";
import { loginCommands } from "./commands/login.ts";
import { routeCommands } from "./commands/route.ts";
import { usageCommands } from "./commands/usage.ts";
import { feedbackCommands } from "./commands/feedback.ts";
import { mirrorCommands } from "./commands/mirrors.ts";
import { DEFAULT_URL, EXIT, globals, type Globals, report } from "./context.ts";
import { HELP_FOOTER } from "./help.ts";

declare const SIGNALBOX_CLI_VERSION: string | undefined;
const VERSION = typeof SIGNALBOX_CLI_VERSION === "string" ? SIGNALBOX_CLI_VERSION : "dev";

export function buildProgram(): Command {
  const program = new Command("signalbox")
    .description("Talk to a Signalbox LLM gateway: usage, requests, feedback, traffic mirrors, routing, models, budgets, keys, teams and end users, the audit log, alerts, usage exports to object storage, config entries made at run time, chat, realtime sessions, rerank, images, transcription and speech, moderation, web search, OCR, guardrails, batches, vector stores, stored responses and conversations, MCP tools, prompt templates, config checks.")
    .version(VERSION, "-V, --version")
    .option("--url <url>", `the gateway (default: $SIGNALBOX_URL, else ${DEFAULT_URL})`)
    .option("--api-key <key>", "a caller key (default: $SIGNALBOX_API_KEY, else the session `signalbox login` kept)")
    .option("--json", "print JSON (the API's own JSON form) for scripts")
    .option("--csv", "print CSV (commands that print one table: usage, requests, feedback summary, mirrors, models, models check, keys list, teams list, end-users list, audit, alerts list, exports, exports flush, guardrails list, batches, vector-stores ls, vector-stores search, mcp servers, mcp tools, prompts list, entries list, search)")
    .showSuggestionAfterError(true)
    .showHelpAfterError("(run `signalbox --help` or `signalbox <command> --help` for usage)")
    .addHelpText("after", HELP_FOOTER)
    .exitOverride();
  usageCommands(program);
  feedbackCommands(program);
  mirrorCommands(program);
  routeCommands(program);
  chatCommand(program);
  realtimeCommand(program);
  rerankCommand(program);
  imageCommand(program);
  transcribeCommand(program);
  speakCommand(program);
  moderateCommand(program);
  searchCommand(program);
  ocrCommand(program);
  guardrailCommands(program);
  batchCommands(program);
  vectorStoreCommands(program);
  responseCommands(program);
  mcpCommands(program);
  promptCommands(program);
  keyCommands(program);
  teamCommands(program);
  endUserCommands(program);
  whoamiCommand(program);
  loginCommands(program);
  auditCommand(program);
  alertCommands(program);
  exportCommands(program);
  entryCommands(program);
  configCommands(program);
  // Subcommands inherit exitOverride (commander throws instead of exiting, so run() picks the
  // exit code); each points at its own help after an error.
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      sub.showHelpAfterError(`(run \`signalbox ${path(sub)} --help\` for usage)`);
      walk(sub);
    }
  };
  walk(program);
  return program;
}

function path(c: Command): string {
  const names: string[] = [];
  for (let p: Command | null = c; p?.parent; p = p.parent) names.unshift(p.name());
  return names.join(" ");
}

/** Run one command line; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  let g: Globals | undefined;
  try {
    program.hook("preAction", (_root, action) => {
      g = globals(action);
    });
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with exitCode 0; everything else commander refuses is bad usage
      // (unknown command or flag, missing or bad value), and it has already said so on stderr.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return report(err, g);
  }
}

// A reader that went away (`signalbox requests | head -1`) is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? EXIT.ok : EXIT.failed));
// Output is awaited as it is written, so exiting here loses nothing; exiting (rather than waiting
// for the event loop to empty) also drops idle keep-alive connections at once.
process.exit(await run(process.argv.slice(2)));
