// `signalbox prompts …`: PromptService. Prompt templates the gateway keeps: each change is a new
// immutable version, and labels (production, staging, …) point at versions. `list` and `get`
// read them, `create` adds a version, `label` moves or removes a label, `delete` removes a prompt
// and every version, and `render` fills a version's {{placeholders}} as a request naming it would.

import { readFileSync, statSync } from "node:fs";
import { toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import {
  promptParametersText,
  CreatePromptVersionResponseSchema,
  GetPromptResponseSchema,
  ListPromptsResponseSchema,
  PromptSourceSchema,
  RenderPromptResponseSchema,
  SetPromptLabelResponseSchema,
  type Prompt,
  type PromptMessage,
  type PromptVersion,
} from "@signalbox/client";
import { CliError, readStdin, setup, usageError } from "../context.ts";
import { block, count, enumLabel, listOf, rfc3339, time } from "../format.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";
import { parseChoice, parseCount, parseList, parseNumber } from "../parse.ts";
import { parsePair } from "../request.ts";
import { shortDescription } from "./mcp.ts";

/** The roles a template's message may have. */
export const PROMPT_ROLES = ["system", "developer", "user", "assistant"] as const;

// ── the flags ──────────────────────────────────────────────────────────────────────────────────

/** `--message role=content` (repeatable, in order): role one of PROMPT_ROLES, content as given. */
export function parseMessage(s: string, prev: { role: string; content: string }[] = []): { role: string; content: string }[] {
  const i = s.indexOf("=");
  const role = i > 0 ? s.slice(0, i).trim().toLowerCase() : "";
  if (!role) throw new InvalidArgumentError(`"${s}" is not a message: use --message <role>=<content>, e.g. --message user="Summarize {{topic}}"`);
  if (!(PROMPT_ROLES as readonly string[]).includes(role)) throw new InvalidArgumentError(`"${s.slice(0, i).trim()}" is not a role: use one of ${PROMPT_ROLES.join(", ")}`);
  return [...prev, { role, content: s.slice(i + 1) }];
}

/** `--label production --label staging` or `--label production,staging`. */
export function parseLabels(s: string, prev: string[] = []): string[] {
  const labels = parseList(s);
  if (!labels.length) throw new InvalidArgumentError(`"${s}" names no label: e.g. --label production`);
  return [...prev, ...labels.filter((l) => !prev.includes(l))];
}

/** The instructions of --instructions-file: the file's text ("-": stdin); unreadable is bad usage. */
async function instructionsFile(path: string): Promise<string> {
  if (path === "-") {
    if (process.stdin.isTTY) throw usageError("no instructions on stdin", "pipe them in (… | signalbox prompts create <id> --instructions-file -) or pass a file");
    return readStdin();
  }
  try {
    if (!statSync(path).isFile()) throw usageError(`--instructions-file ${path} is not a file`, "pass the path of a text file");
    return readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`--instructions-file ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
}

// ── how prompts read ───────────────────────────────────────────────────────────────────────────

/** Labels as "production=3, staging=4" (by label name); `empty` when there is none. */
export function labelsText(labels: Record<string, string>, empty = "", sep = ", "): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return pairs.length ? pairs.map(([l, v]) => `${l}=${v}`).join(sep) : empty;
}

const teamText = (team: string) => team || "shared";
const sourceText = (p: Prompt) => enumLabel(PromptSourceSchema, p.source);

const PROMPT_COLUMNS: Column<Prompt>[] = [
  { header: "id", show: (p) => p.promptId },
  { header: "source", show: sourceText },
  { header: "team", show: (p) => teamText(p.team), raw: (p) => p.team },
  { header: "latest", show: (p) => p.latestVersion, right: true },
  { header: "versions", show: (p) => count(p.versionCount), raw: (p) => p.versionCount, right: true },
  { header: "labels", show: (p) => labelsText(p.labels), raw: (p) => labelsText(p.labels, "", " ") },
  { header: "updated", show: (p) => time(p.updateTime), raw: (p) => rfc3339(p.updateTime) },
  { header: "description", show: (p) => shortDescription(p.description, 60), raw: (p) => p.description },
];

/** Messages as "role: content", a message's further lines indented under its first. */
const messagesText = (ms: PromptMessage[]) => ms.map((m) => `${m.role}: ${m.content.replace(/\n/g, `\n${" ".repeat(m.role.length + 2)}`)}`).join("\n");

/** A template's body: its instructions and its messages, each a block (left out when empty). */
function body(instructions: string, messages: PromptMessage[]): string {
  return (instructions ? block("INSTRUCTIONS", instructions) : "") + (messages.length ? block("MESSAGES", messagesText(messages)) : "");
}

function describePrompt(p: Prompt): string {
  return fields([
    ["ID", p.promptId],
    ["SOURCE", sourceText(p)],
    ["TEAM", teamText(p.team)],
    ["LATEST", p.latestVersion],
    ["VERSIONS", count(p.versionCount)],
    ["LABELS", labelsText(p.labels, "none")],
    ["UPDATED", time(p.updateTime)],
    ["DESCRIPTION", p.description],
  ]);
}

function describeVersion(v: PromptVersion): string {
  const created = [time(v.createTime), v.createdBy ? `by ${v.createdBy}` : ""].filter(Boolean).join(" ");
  return (
    fields([
      ["VERSION", v.version],
      ["LABELS", listOf(v.labels)],
      ["MODEL", v.model],
      ["CREATED", created],
      ["DESCRIPTION", v.description],
      ["VARIABLES", listOf(v.variables)],
      ["PARAMETERS", promptParametersText(v.parameters)],
    ]) + body(v.instructions, v.messages)
  );
}

// ── the commands ───────────────────────────────────────────────────────────────────────────────

interface CreateFlags {
  model?: string;
  instructions?: string;
  instructionsFile?: string;
  message?: { role: string; content: string }[];
  description?: string;
  label?: string[];
  team?: string;
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stop?: string[];
  reasoningEffort?: string;
}

export function promptCommands(program: Command): void {
  const prompts = program
    .command("prompts")
    .description("prompt templates: versions, labels (production, staging, …) and rendering: list, get, create, label, delete, render")
    .addHelpText(
      "after",
      [
        "",
        "Each change is a new immutable version (1, 2, …); a label points at a version and moves",
        "without a deploy. Requests name a prompt by id and a version or label. Admin keys manage",
        "every prompt, a team key its team's; service keys read and render theirs and the shared",
        "ones. The config file's prompts[] are listed (source config) and read-only.",
        "",
        "Examples:",
        "  signalbox prompts list",
        "  signalbox prompts create support --model default --instructions 'You help {{customer}}.' --label staging",
        "  signalbox prompts label support production 2",
        "  signalbox prompts render support --prompt-version staging --var customer=Ada",
      ].join("\n"),
    );

  prompts
    .command("list")
    .description("the prompts this key may use, by id: source, team, latest version, versions, labels")
    .option("--team <team>", "only this team's prompts (admin keys)")
    .addHelpText("after", "\nTEAM is \"shared\" for a prompt no team owns (made by an admin, or in the config file); in CSV it is empty.")
    .action(async (o: { team?: string }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("listing prompts", () => sb.prompts.listPrompts({ team: o.team ?? "" }));
      if (mode === "json") return json(toJson(ListPromptsResponseSchema, res));
      if (mode === "csv") return out(csv(PROMPT_COLUMNS, res.prompts));
      await out(res.prompts.length ? table(PROMPT_COLUMNS, res.prompts) : "no prompts\n");
    });

  prompts
    .command("get")
    .description("one prompt, then every version, newest first: labels, model, who made it and when, instructions, messages, variables")
    .argument("<id>", "the prompt's id")
    .action(async (id: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("reading the prompt", () => sb.prompts.getPrompt({ promptId: id }));
      if (mode === "json") return json(toJson(GetPromptResponseSchema, res));
      await out([describePrompt(res.prompt!), ...res.versions.map(describeVersion)].join("\n"));
    });

  prompts
    .command("create")
    .description("add a version to a prompt (creating it with version 1) and point the labels given at it")
    .argument("<id>", "the prompt's id, [A-Za-z0-9_.:-]{1,128}")
    .option("--model <model>", "the route, alias or deployment used when a request names no model")
    .option("--instructions <text>", "instructions (a system message), with {{variable}} placeholders")
    .option("--instructions-file <path>", "the instructions from a text file (- for stdin)")
    .option("--message <role=content>", `a message placed before the request's own (repeatable, in order); role one of ${PROMPT_ROLES.join(", ")}`, parseMessage)
    .option("--description <text>", "what this version changes")
    .option("--label <labels>", 'labels to point at the new version (repeatable or comma-separated; "latest" is reserved)', parseLabels)
    .option("--team <team>", "the owning team of a new prompt (default: a team key's own; admin keys: shared)")
    .option("--temperature <t>", "the version's temperature, 0 to 2 (a request's own wins)", parseNumber(0, 2))
    .option("--top-p <p>", "the version's top_p, 0 to 1", parseNumber(0, 1))
    .option("--max-output-tokens <n>", "the version's output cap", parseCount(1))
    .option("--stop <sequences>", "the version's stop sequences, comma-separated", parseList)
    .option("--reasoning-effort <effort>", "minimal, low, medium or high", parseChoice(["minimal", "low", "medium", "high"] as const))
    .addHelpText(
      "after",
      [
        "",
        "At least one of --instructions (or --instructions-file) and --message is required.",
        "",
        "Examples:",
        "  signalbox prompts create support --model default --instructions 'You help {{customer}}.' --label production",
        "  signalbox prompts create support --instructions-file support.md --message user='My order {{order}}' --label staging --description 'asks for the order'",
      ].join("\n"),
    )
    .action(async (id: string, o: CreateFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      if (o.instructions !== undefined && o.instructionsFile !== undefined) throw usageError("--instructions and --instructions-file cannot be used together", "pick one");
      const instructions = o.instructionsFile !== undefined ? await instructionsFile(o.instructionsFile) : (o.instructions ?? "");
      const messages = o.message ?? [];
      if (!instructions.trim() && !messages.length) throw usageError("a prompt version needs instructions or a message", "pass --instructions, --instructions-file or --message <role>=<content>");
      const res = await waiting("creating the prompt version", () =>
        sb.prompts.createPromptVersion({
          promptId: id,
          model: o.model ?? "",
          instructions,
          messages,
          description: o.description ?? "",
          labels: o.label ?? [],
          team: o.team ?? "",
          parameters: { temperature: o.temperature, topP: o.topP, maxOutputTokens: o.maxOutputTokens, stop: o.stop ?? [], reasoningEffort: o.reasoningEffort ?? "" },
        }),
      );
      if (mode === "json") return json(toJson(CreatePromptVersionResponseSchema, res));
      const v = res.version!;
      await out(
        fields([
          ["PROMPT", v.promptId || id],
          ["VERSION", v.version],
          ["LABELS", listOf(v.labels, "none")],
          ["VARIABLES", listOf(v.variables)],
          ["TEAM", res.prompt ? teamText(res.prompt.team) : ""],
        ]),
      );
    });

  prompts
    .command("label")
    .description("point a label at a version of a prompt, or remove it with --remove")
    .argument("<id>", "the prompt's id")
    .argument("<label>", "the label, e.g. production ([a-z0-9_.-]{1,32})")
    .argument("[version]", "the version it points at from now on")
    .option("--remove", "remove the label (no version)")
    .addHelpText("after", "\nExamples:\n  signalbox prompts label support production 3\n  signalbox prompts label support staging --remove")
    .action(async (id: string, label: string, version: string | undefined, o: { remove?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      if (o.remove && version !== undefined) throw usageError("a version and --remove cannot be used together", "pass the version to move the label, or --remove to remove it");
      if (!o.remove && (version === undefined || version.trim() === "")) throw usageError("which version?", `pass one (signalbox prompts label ${id} ${label} 2), or --remove to remove the label`);
      const res = await waiting(o.remove ? "removing the label" : "moving the label", () => sb.prompts.setPromptLabel({ promptId: id, label, version: o.remove ? "" : version!.trim() }));
      if (mode === "json") return json(toJson(SetPromptLabelResponseSchema, res));
      const what = o.remove ? `removed label ${label} of prompt "${id}"` : `label ${label} of prompt "${id}" → version ${version!.trim()}`;
      await out(`${what}\n${fields([["LABELS", labelsText(res.prompt?.labels ?? {}, "none")]])}`);
    });

  prompts
    .command("delete")
    .description("delete a prompt and every version of it (no confirmation)")
    .argument("<id>", "the prompt's id")
    .action(async (id: string, _o: object, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      await waiting("deleting the prompt", () => sb.prompts.deletePrompt({ promptId: id }));
      if (mode === "json") return json({ deleted: id });
      await out(`deleted prompt "${id}"\n`);
    });

  prompts
    .command("render")
    .description("fill a version's {{placeholders}} as a request naming it would (no model is called): model, instructions, messages")
    .argument("<id>", "the prompt's id")
    // Not --version: that is the global flag printing the CLI's own version, wherever it is written.
    .option("--prompt-version <version>", 'a version or a label (default: the "production" label if set, else the newest version)')
    .option("--var <name=value>", "a variable's value (repeatable); every placeholder must be given", parsePair)
    .addHelpText("after", "\nExamples:\n  signalbox prompts render support --var customer=Ada --var order=A-113\n  signalbox prompts render support --prompt-version staging --var customer=Ada --var order=A-113")
    .action(async (id: string, o: { promptVersion?: string; var?: Record<string, string> }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("rendering the prompt", () => sb.prompts.renderPrompt({ promptId: id, version: o.promptVersion ?? "", variables: o.var ?? {} }));
      if (mode === "json") return json(toJson(RenderPromptResponseSchema, res));
      const v = res.version;
      await out(
        fields([
          ["PROMPT", v?.promptId || id],
          ["VERSION", v ? `${v.version}${v.labels.length ? ` (${v.labels.join(", ")})` : ""}` : ""],
          ["MODEL", res.model],
        ]) + body(res.instructions, res.messages),
      );
    });
}
