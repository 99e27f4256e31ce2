// `signalbox entries …`: AdminService's config entries. Providers, deployments and routes added,
// replaced and deleted at run time, beside the config file's, in force on every replica within a
// second. `list` and `get` read them (credentials as "********"), `put` adds or replaces one from a
// YAML or JSON spec and --set fields (a provider's key from an environment variable or stdin, so
// it is never on the command line), `--dry-run` says what would change, and `delete` removes one.

import { readFileSync, statSync } from "node:fs";
import { type JsonObject, toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import { parse as parseYaml, stringify as yamlText } from "yaml";
import {
  ConfigEntryKindSchema,
  ConfigEntrySchema,
  DeleteConfigEntryResponseSchema,
  ListConfigEntriesResponseSchema,
  PutConfigEntryResponseSchema,
  type ConfigEntry,
  type ConfigEntryKind,
} from "@signalbox/client";
import { CliError, failure, readStdin, setup, usageError } from "../context.ts";
import { block, enumLabel, enumValue, listOf, rfc3339, time } from "../format.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";
import { parseCount } from "../parse.ts";
import { shortDescription } from "./mcp.ts";

/** What an entry may be. */
export const ENTRY_KINDS = ["provider", "deployment", "route"] as const;
export type EntryKindWord = (typeof ENTRY_KINDS)[number];

// ── the arguments and flags ────────────────────────────────────────────────────────────────────

/** `<kind>` and `--kind`: provider, deployment or route (a plural is taken too). */
export function parseKind(s: string): EntryKindWord {
  const v = s.trim().toLowerCase().replace(/s$/, "");
  if (!(ENTRY_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`"${s}" is not a kind of entry: use one of ${ENTRY_KINDS.join(", ")}`);
  return v as EntryKindWord;
}

const kindPb = (k: EntryKindWord): ConfigEntryKind => enumValue(ConfigEntryKindSchema, k);
const kindText = (k: ConfigEntryKind) => enumLabel(ConfigEntryKindSchema, k);

/** A --set value: JSON when it parses (0.5, true, null, ["a","b"], "quoted"), else the text as given. */
export function setValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** `--set pricing.input=0.5` (repeatable, in order): a dotted field path and its value. */
export function parseSet(s: string, prev: [string[], unknown][] = []): [string[], unknown][] {
  const i = s.indexOf("=");
  const path = i > 0 ? s.slice(0, i).trim().split(".") : [];
  if (!path.length || path.some((p) => !p.trim())) {
    throw new InvalidArgumentError(`"${s}" is not a field: use --set <field>=<value> with a dotted path, e.g. --set pricing.input=0.5 or --set model=gpt-4o`);
  }
  return [...prev, [path.map((p) => p.trim()), setValue(s.slice(i + 1))]];
}

/** The spec with each --set applied, making the objects on the way; a path through a non-object is bad usage. */
export function applySets(spec: Record<string, unknown>, sets: [string[], unknown][]): Record<string, unknown> {
  for (const [path, value] of sets) {
    let at = spec;
    for (const [n, key] of path.slice(0, -1).entries()) {
      const next = at[key];
      if (next === undefined || next === null) at = at[key] = {};
      else if (typeof next === "object" && !Array.isArray(next)) at = next as Record<string, unknown>;
      else throw usageError(`--set ${path.join(".")}: ${path.slice(0, n + 1).join(".")} is not an object`, "set the whole field instead, as JSON, e.g. --set targets='[\"a\", \"b\"]'");
    }
    at[path[path.length - 1]] = value;
  }
  return spec;
}

/** The spec of -f: a YAML or JSON mapping from a file ("-": stdin); unreadable or not a mapping is bad usage. */
async function specFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  if (path === "-") {
    if (process.stdin.isTTY) throw usageError("no spec on stdin", "pipe it in (… | signalbox entries put <kind> <name> -f -) or pass a file");
    text = await readStdin();
  } else {
    try {
      if (!statSync(path).isFile()) throw usageError(`-f ${path} is not a file`, "pass the path of a YAML or JSON file");
      text = readFileSync(path, "utf8");
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw usageError(`-f ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
    }
  }
  let v: unknown;
  try {
    // YAML reads JSON too.
    v = parseYaml(text);
  } catch (err) {
    throw usageError(`-f ${path} is not YAML or JSON: ${(err as Error).message.split("\n")[0]}`, "fix the file");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw usageError(`-f ${path} must hold a mapping: the entry's fields, as in the config file`, "e.g. {type: openai, base_url: https://api.openai.com/v1}");
  return v as Record<string, unknown>;
}

/** The provider key of --api-key-env or --api-key-stdin (undefined when neither is given). */
async function providerKey(o: PutFlags, kind: EntryKindWord): Promise<string | undefined> {
  if (o.apiKeyEnv === undefined && !o.apiKeyStdin) return undefined;
  if (o.apiKeyEnv !== undefined && o.apiKeyStdin) throw usageError("--api-key-env and --api-key-stdin cannot be used together", "pick one");
  if (kind !== "provider") throw usageError(`--api-key-env and --api-key-stdin set a provider's api_key: a ${kind} has none`, "leave them out, or put a provider");
  if (o.apiKeyEnv !== undefined) {
    const v = (process.env[o.apiKeyEnv] ?? "").trim();
    if (!v) throw usageError(`--api-key-env ${o.apiKeyEnv}: the environment variable is not set (or empty)`, `export ${o.apiKeyEnv}=… first, or use --api-key-stdin`);
    return v;
  }
  if (o.file === "-") throw usageError("-f - and --api-key-stdin cannot both read stdin", "pass the spec as a file");
  if (process.stdin.isTTY) throw usageError("no key on stdin", "pipe it in: … | signalbox entries put provider <name> --api-key-stdin");
  const v = (await readStdin()).trim();
  if (!v) throw usageError("--api-key-stdin: stdin is empty", "pipe the key in");
  return v;
}

// ── how entries read ───────────────────────────────────────────────────────────────────────────

const byText = (e: ConfigEntry) => e.updatedBy || e.createdBy;

const ENTRY_COLUMNS: Column<ConfigEntry>[] = [
  { header: "kind", show: (e) => kindText(e.kind) },
  { header: "name", show: (e) => e.name },
  { header: "revision", show: (e) => String(e.revision), raw: (e) => e.revision, right: true },
  { header: "updated", show: (e) => time(e.updateTime), raw: (e) => rfc3339(e.updateTime) },
  { header: "by", show: byText },
  { header: "secrets", show: (e) => listOf(e.secretFields), raw: (e) => e.secretFields.join(" ") },
  { header: "problem", show: (e) => shortDescription(e.problem, 60), raw: (e) => e.problem },
];

/** A spec as YAML, as the config file would hold it (credentials stay "********"). */
const specText = (spec: JsonObject | undefined) => yamlText(spec ?? {}, { lineWidth: 0 });

function describeEntry(e: ConfigEntry): string {
  return (
    fields([
      ["KIND", kindText(e.kind)],
      ["NAME", e.name],
      ["REVISION", String(e.revision)],
      ["CREATED", [time(e.createTime), e.createdBy ? `by ${e.createdBy}` : ""].filter(Boolean).join(" ")],
      ["UPDATED", [time(e.updateTime), e.updatedBy ? `by ${e.updatedBy}` : ""].filter(Boolean).join(" ")],
      ["SECRETS", listOf(e.secretFields, "none")],
      ["PROBLEM", e.problem],
    ]) + block("SPEC", specText(e.spec))
  );
}

/** What a change did (or, dry, would do): the configuration version, then the changes one a line. */
function changesText(head: string, pairs: [string, string][], changes: string[], dry: boolean): string {
  return `${head}\n${fields(pairs)}${block(dry ? "WOULD CHANGE" : "CHANGES", changes.length ? changes.join("\n") : "nothing")}`;
}

// ── the commands ───────────────────────────────────────────────────────────────────────────────

interface PutFlags {
  file?: string;
  set?: [string[], unknown][];
  apiKeyEnv?: string;
  apiKeyStdin?: boolean;
  expectRevision?: number;
  dryRun?: boolean;
}

export function entryCommands(program: Command): void {
  const entries = program
    .command("entries")
    .description("providers, deployments and routes added at run time, beside the config file's: list, get, put, delete (admin keys)")
    .addHelpText(
      "after",
      [
        "",
        "A spec is the entry as the config file would hold it (its snake_case fields); its name",
        "(a provider's name, a deployment's id, a route's name) comes from <name>. It is checked as",
        "the file is and in force on every replica within a second, without a reload. Credentials",
        '(api_key, aws.*, headers.*) are stored encrypted and shown as "********"; on a replace, one',
        'left out or given as "********" keeps its stored value. Entries of the config file are',
        "changed there, and cannot be shadowed.",
        "",
        "Examples:",
        "  signalbox entries put provider groq --set type=openai-compatible --set base_url=https://api.groq.com/openai/v1 --api-key-env GROQ_API_KEY",
        "  signalbox entries put deployment groq/llama-3.3-70b --set provider=groq --set model=llama-3.3-70b-versatile --set pricing.input=0.59 --set pricing.output=0.79",
        "  signalbox entries put route chat-fast -f chat-fast.yaml --dry-run",
        "  signalbox entries list",
        "  signalbox entries delete route chat-fast",
      ].join("\n"),
    );

  entries
    .command("list")
    .description("the entries made at run time, by kind and name: revision, last change, secrets held, why one is not in force")
    .option("--kind <kind>", `only one kind: ${ENTRY_KINDS.join(", ")}`, parseKind)
    .action(async (o: { kind?: EntryKindWord }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting("listing config entries", () => sb.admin.listConfigEntries(o.kind ? { kind: kindPb(o.kind) } : {}));
      if (mode === "json") return json(toJson(ListConfigEntriesResponseSchema, res));
      if (mode === "csv") return out(csv(ENTRY_COLUMNS, res.entries));
      await out(res.entries.length ? table(ENTRY_COLUMNS, res.entries) : "no config entries made at run time\n");
    });

  entries
    .command("get")
    .description("one entry: revision, who made and changed it and when, secrets held, problem, and its spec as YAML")
    .argument("<kind>", ENTRY_KINDS.join(", "), parseKind)
    .argument("<name>", "the provider's name, deployment's id or route's name")
    .option("--spec", "print only the spec, as YAML (to edit and put back with -f)")
    .action(async (kind: EntryKindWord, name: string, o: { spec?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("reading the entry", () => sb.admin.listConfigEntries({ kind: kindPb(kind) }));
      const e = res.entries.find((x) => x.name === name);
      if (!e) throw failure(`no ${kind} "${name}" was made at run time`, "`signalbox entries list` shows them (entries of the config file are not listed)");
      if (mode === "json") return json(toJson(ConfigEntrySchema, e));
      await out(o.spec ? specText(e.spec) : describeEntry(e));
    });

  entries
    .command("put")
    .description("add or replace an entry: its spec from -f and --set; prints what changed and the new config version")
    .argument("<kind>", ENTRY_KINDS.join(", "), parseKind)
    .argument("<name>", "the provider's name, deployment's id or route's name")
    .option("-f, --file <path>", "the spec, a YAML or JSON mapping of the entry's fields (- for stdin)")
    .option("--set <field=value>", "a field (repeatable; after -f): a dotted path, the value as JSON when it parses (0.5, true, [\"a\"]), else as text", parseSet)
    .option("--api-key-env <var>", "a provider's api_key from this environment variable (never on the command line)")
    .option("--api-key-stdin", "a provider's api_key from stdin")
    .option("--expect-revision <n>", "only if the entry is still at this revision (0: it must not exist yet)", parseCount(0))
    .option("--dry-run", "check it and print what would change; nothing is written")
    .addHelpText(
      "after",
      [
        "",
        "A replace sends the whole entry: start from `signalbox entries get <kind> <name> --spec > e.yaml`.",
        "",
        "Examples:",
        "  signalbox entries put provider acme --set type=openai --set base_url=https://api.acme.ai/v1 --api-key-env ACME_KEY",
        "  pass show acme | signalbox entries put provider acme -f acme.yaml --api-key-stdin --expect-revision 1",
        "  signalbox entries put deployment acme/gpt-4o --set provider=acme --set model=gpt-4o --set context_window=64000 --dry-run",
        "  signalbox entries put route smart --set targets='[\"acme/gpt-4o\"]' --set fallbacks='[\"default\"]'",
      ].join("\n"),
    )
    .action(async (kind: EntryKindWord, name: string, o: PutFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      if (o.file === undefined && !o.set?.length && o.apiKeyEnv === undefined && !o.apiKeyStdin) {
        throw usageError("no spec", `pass -f <file> and/or --set <field>=<value>, e.g. signalbox entries put ${kind} ${name} -f ${kind}.yaml`);
      }
      const key = await providerKey(o, kind);
      const spec = applySets(o.file !== undefined ? await specFile(o.file) : {}, o.set ?? []);
      if (key !== undefined) spec.api_key = key;
      const res = await waiting(o.dryRun ? "checking the entry" : "saving the entry", () =>
        sb.admin.putConfigEntry({
          kind: kindPb(kind),
          name,
          spec: spec as JsonObject,
          expectedRevision: o.expectRevision === undefined ? undefined : BigInt(o.expectRevision),
          validateOnly: !!o.dryRun,
        }),
      );
      if (mode === "json") return json(toJson(PutConfigEntryResponseSchema, res));
      const e = res.entry;
      await out(
        o.dryRun
          ? changesText(`dry run: ${kind} "${name}" is valid; nothing was written`, [["VERSION IF WRITTEN", res.configVersion]], res.changes, true)
          : changesText(
              `saved ${kind} "${name}" (revision ${e?.revision ?? "?"})`,
              [
                ["SECRETS", listOf(e?.secretFields ?? [])],
                ["PROBLEM", e?.problem ?? ""],
                ["CONFIG VERSION", res.configVersion],
              ],
              res.changes,
              false,
            ),
      );
    });

  entries
    .command("delete")
    .description("remove an entry made at run time (refused while a deployment, route or key's allow list still names it)")
    .argument("<kind>", ENTRY_KINDS.join(", "), parseKind)
    .argument("<name>", "the provider's name, deployment's id or route's name")
    .option("--expect-revision <n>", "only if the entry is still at this revision", parseCount(1))
    .addHelpText("after", "\nExamples:\n  signalbox entries delete route chat-fast\n  signalbox entries delete provider groq --expect-revision 2")
    .action(async (kind: EntryKindWord, name: string, o: { expectRevision?: number }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting("deleting the entry", () =>
        sb.admin.deleteConfigEntry({ kind: kindPb(kind), name, expectedRevision: o.expectRevision === undefined ? undefined : BigInt(o.expectRevision) }),
      );
      if (mode === "json") return json(toJson(DeleteConfigEntryResponseSchema, res));
      await out(changesText(`deleted ${kind} "${name}"`, [["CONFIG VERSION", res.configVersion]], res.changes, false));
    });
}
