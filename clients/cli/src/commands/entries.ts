// `signalbox entries …`: AdminService's config entries. Providers, deployments, routes,
// guardrails, MCP servers, aliases and alerts added, replaced and deleted at run time, beside the
// config file's, in force on every replica within a second. `list` and `get` read them
// (credentials as "********"), `put` adds or replaces one from a YAML or JSON spec and --set fields
// (a provider's key, every header credential and an alert's URL come from environment variables
// or stdin, so they are never on the command line), `--dry-run` says what would change, `delete` removes one, and `reseal` seals every stored
// credential again with the gateway's current master key (the last step of rotating it).

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
  ResealConfigEntriesResponseSchema,
  type ResealConfigEntriesResponse,
  type ConfigEntry,
  type ConfigEntryKind,
} from "@signalbox/client";
import { CliError, failure, readStdin, setup, usageError } from "../context.ts";
import { block, enumLabel, enumValue, listOf, rfc3339, time } from "../format.ts";
import { type Column, csv, fields, json, out, table, waiting } from "../output.ts";
import { parseCount } from "../parse.ts";
import { shortDescription } from "./mcp.ts";

/** What an entry may be. */
export const ENTRY_KINDS = ["provider", "deployment", "route", "guardrail", "mcp_server", "alias", "alert", "preset"] as const;
export type EntryKindWord = (typeof ENTRY_KINDS)[number];

// ── the arguments and flags ────────────────────────────────────────────────────────────────────

/** `<kind>` and `--kind`: one of ENTRY_KINDS (a plural, and mcp-server for mcp_server, are taken too). */
export function parseKind(s: string): EntryKindWord {
  const w = s.trim().toLowerCase().replace(/-/g, "_");
  const v = ENTRY_KINDS.find((k) => w === k || w === (k.endsWith("s") ? `${k}es` : `${k}s`)) ?? w;
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

/** `--header-env authorization=HOOK_TOKEN` (repeatable, in order): a header's name and the environment variable holding its value. */
export function parseHeaderEnv(s: string, prev: [string, string][] = []): [string, string][] {
  const i = s.indexOf("=");
  const name = i > 0 ? s.slice(0, i).trim() : "";
  const env = i > 0 ? s.slice(i + 1).trim() : "";
  if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
    throw new InvalidArgumentError(`"${s}" is not a header from the environment: use --header-env <header>=<VAR>, e.g. --header-env authorization=HOOK_TOKEN`);
  }
  return [...prev, [name, env]];
}

/** Where --header-env puts headers: a provider's `headers`, a (webhook) guardrail's `webhook.headers`. */
const HEADERS_AT: Partial<Record<EntryKindWord, string[]>> = { provider: ["headers"], guardrail: ["webhook", "headers"], mcp_server: ["headers"], alert: ["headers"] };

/**
 * The spec with each --header-env set from its environment variable (after -f and --set): the
 * values are credentials, so they come from the environment, never the command line.
 */
export function applyHeaderEnv(spec: Record<string, unknown>, kind: EntryKindWord, headers: [string, string][], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  if (!headers.length) return spec;
  const path = HEADERS_AT[kind];
  if (!path) throw usageError(`--header-env sets the headers of a provider, an MCP server, an alert or a webhook guardrail: a ${kind} has none`, "leave it out");
  if (kind === "guardrail" && spec.kind !== undefined && spec.kind !== "webhook") {
    throw usageError(`--header-env sets webhook.headers: guardrail kind ${JSON.stringify(spec.kind)} calls no webhook`, "leave it out, or set kind: webhook");
  }
  const values: [string, string][] = headers.map(([name, v]) => {
    const value = (env[v] ?? "").trim();
    if (!value) throw usageError(`--header-env ${name}=${v}: the environment variable ${v} is not set (or empty)`, `export ${v}=… first`);
    return [name, value];
  });
  let at = spec;
  for (const [n, key] of path.entries()) {
    const next = at[key];
    if (next === undefined || next === null) at = at[key] = {};
    else if (typeof next === "object" && !Array.isArray(next)) at = next as Record<string, unknown>;
    else throw usageError(`--header-env: ${path.slice(0, n + 1).join(".")} is not an object`, `give ${path.join(".")} as a mapping of header names to values`);
  }
  for (const [name, value] of values) at[name] = value;
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

/** An alert's url from --url-env: a webhook's URL is often its credential, so never on the command line. */
function alertUrl(v: string, kind: EntryKindWord): string {
  if (kind !== "alert") throw usageError(`--url-env sets an alert's url: a ${kind} has none`, "leave it out, or put an alert");
  const url = (process.env[v] ?? "").trim();
  if (!url) throw usageError(`--url-env ${v}: the environment variable is not set (or empty)`, `export ${v}=… first`);
  return url;
}

/** The provider key of --api-key-env or --api-key-stdin (undefined when neither is given). */
async function providerKey(o: PutFlags, kind: EntryKindWord): Promise<string | undefined> {
  if (o.apiKeyEnv === undefined && !o.apiKeyStdin) return undefined;
  if (o.apiKeyEnv !== undefined && o.apiKeyStdin) throw usageError("--api-key-env and --api-key-stdin cannot be used together", "pick one");
  if (kind !== "provider") {
    const flag = o.apiKeyEnv !== undefined ? "--api-key-env" : "--api-key-stdin";
    throw usageError(`${flag} sets a provider's api_key: a ${kind} has none`, HEADERS_AT[kind] ? `leave it out; a ${kind === "guardrail" ? "webhook guardrail" : kind.replace("_", " ")}'s headers come from --header-env <header>=<VAR>` : "leave it out, or put a provider");
  }
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
  { header: "sealed with", show: (e) => listOf(e.sealedWith), raw: (e) => e.sealedWith.join(" ") },
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
      ["SEALED WITH", listOf(e.sealedWith)],
      ["PROBLEM", e.problem],
    ]) + block("SPEC", specText(e.spec))
  );
}

/** What a change did (or, dry, would do): the configuration version, then the changes one a line. */
function changesText(head: string, pairs: [string, string][], changes: string[], dry: boolean): string {
  return `${head}\n${fields(pairs)}${block(dry ? "WOULD CHANGE" : "CHANGES", changes.length ? changes.join("\n") : "nothing")}`;
}

const entriesCount = (n: number) => `${n} ${n === 1 ? "entry" : "entries"}`;

/** What a reseal did (or, dry, would do): the current key, the entries sealed again, those already current, the failures. */
function resealText(r: ResealConfigEntriesResponse, dry: boolean): string {
  const again = dry ? "WOULD SEAL AGAIN" : "SEALED AGAIN";
  const head = dry
    ? `dry run: ${entriesCount(r.resealed.length)} would be sealed again with master key ${r.keyId}; nothing was written`
    : `sealed ${entriesCount(r.resealed.length)} again with master key ${r.keyId}`;
  return (
    `${head}\n` +
    fields([
      ["MASTER KEY", r.keyId],
      [again, String(r.resealed.length)],
      ["ALREADY CURRENT", String(r.current)],
      ["FAILED", String(r.failed.length)],
    ]) +
    (r.resealed.length ? block(dry ? "ENTRIES TO SEAL AGAIN" : "ENTRIES SEALED AGAIN", r.resealed.join("\n")) : "") +
    (r.failed.length ? block("FAILURES", r.failed.map((f) => `${f.entry}: ${f.reason}`).join("\n")) : "")
  );
}

// ── the commands ───────────────────────────────────────────────────────────────────────────────

interface PutFlags {
  file?: string;
  set?: [string[], unknown][];
  headerEnv?: [string, string][];
  apiKeyEnv?: string;
  apiKeyStdin?: boolean;
  urlEnv?: string;
  expectRevision?: number;
  dryRun?: boolean;
}

export function entryCommands(program: Command): void {
  const entries = program
    .command("entries")
    .description("providers, deployments, routes, guardrails, MCP servers, aliases, alerts and presets added at run time, beside the config file's: list, get, put, delete, reseal (admin keys)")
    .addHelpText(
      "after",
      [
        "",
        "A spec is the entry as the config file would hold it (its snake_case fields); its name",
        "(a provider's name, a deployment's or MCP server's id, a route's, guardrail's, alias's or",
        "alert's name) comes from <name>; an alias's spec is {target: <route or deployment>}.",
        "It is checked as the file is and in force on every replica within a second, without a",
        "reload. Credentials (api_key, aws.*, vertex.credentials_json, headers.*, a webhook guardrail's",
        "webhook.headers.*, an alert's url) are",
        'stored sealed with SIGNALBOX_MASTER_KEY and shown as "********"; on a replace, one left out',
        'or given as "********" keeps its stored value. Entries of the config file are changed there,',
        "and cannot be shadowed.",
        "",
        "Rotating the master key: run every replica with the new key in SIGNALBOX_MASTER_KEY and the",
        "old one in SIGNALBOX_MASTER_KEY_PREVIOUS, run `signalbox entries reseal`, then remove",
        "SIGNALBOX_MASTER_KEY_PREVIOUS. `entries list` shows the key ids each entry is sealed with.",
        "",
        "Examples:",
        "  signalbox entries put provider groq --set type=openai-compatible --set base_url=https://api.groq.com/openai/v1 --api-key-env GROQ_API_KEY",
        "  signalbox entries put deployment groq/llama-3.3-70b --set provider=groq --set model=llama-3.3-70b-versatile --set pricing.input=0.59 --set pricing.output=0.79",
        "  signalbox entries put route chat-fast -f chat-fast.yaml --dry-run",
        "  signalbox entries put guardrail moderation -f moderation.yaml --header-env authorization=MODERATION_AUTH",
        "  signalbox entries list",
        "  signalbox entries get guardrail moderation --spec",
        "  signalbox entries delete route chat-fast",
        "  signalbox entries reseal --dry-run",
      ].join("\n"),
    );

  entries
    .command("list")
    .description("the entries made at run time, by kind and name: revision, last change, secrets held, the master keys they are sealed with, why one is not in force")
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
    .description("one entry: revision, who made and changed it and when, secrets held and the keys they are sealed with, problem, and its spec as YAML")
    .argument("<kind>", ENTRY_KINDS.join(", "), parseKind)
    .argument("<name>", "the provider's name, deployment's or MCP server's id, or the route's, guardrail's, alias's or alert's name")
    .option("--spec", "print only the spec, as YAML (to edit and put back with -f)")
    .action(async (kind: EntryKindWord, name: string, o: { spec?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      // No such entry is the gateway's not_found: exit 1, its message and a hint on stderr.
      const res = await waiting("reading the entry", () => sb.admin.getConfigEntry({ kind: kindPb(kind), name }));
      const e = res.entry;
      if (!e) throw failure(`no ${kind} "${name}" was made at run time`, "`signalbox entries list` shows them (entries of the config file are not listed)");
      if (mode === "json") return json(toJson(ConfigEntrySchema, e));
      await out(o.spec ? specText(e.spec) : describeEntry(e));
    });

  entries
    .command("put")
    .description("add or replace an entry: its spec from -f and --set; prints what changed and the new config version")
    .argument("<kind>", ENTRY_KINDS.join(", "), parseKind)
    .argument("<name>", "the provider's name, deployment's or MCP server's id, or the route's, guardrail's, alias's or alert's name")
    .option("-f, --file <path>", "the spec, a YAML or JSON mapping of the entry's fields (- for stdin)")
    .option("--set <field=value>", "a field (repeatable; after -f): a dotted path, the value as JSON when it parses (0.5, true, [\"a\"]), else as text", parseSet)
    .option("--api-key-env <var>", "a provider's api_key from this environment variable (never on the command line)")
    .option("--api-key-stdin", "a provider's api_key from stdin")
    .option("--header-env <header=VAR>", "a header from this environment variable (repeatable): headers.<header> of a provider, MCP server or alert, a webhook guardrail's webhook.headers.<header>", parseHeaderEnv)
    .option("--url-env <var>", "an alert's url from this environment variable (a Slack webhook's URL is its credential)")
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
        "  signalbox entries put guardrail words --set kind=deny --set action=block --set deny.words='[\"secret project\"]'",
        "  signalbox entries put guardrail mod --set kind=webhook --set action=block --set webhook.url=https://mod.internal/check --header-env authorization=MOD_AUTH",
        "  signalbox entries put mcp-server github --set url=https://api.githubcopilot.com/mcp/ --set tools='[\"search_issues\"]' --header-env Authorization=GITHUB_MCP_AUTH",
        "  signalbox entries put alias fast --set target=groq/llama-3.3-70b",
        "  signalbox entries put alert ops --set format=slack --url-env SLACK_WEBHOOK_URL --set events='[\"budget_exhausted\"]'",
      ].join("\n"),
    )
    .action(async (kind: EntryKindWord, name: string, o: PutFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      if (o.file === undefined && !o.set?.length && !o.headerEnv?.length && o.apiKeyEnv === undefined && !o.apiKeyStdin && o.urlEnv === undefined) {
        throw usageError("no spec", `pass -f <file> and/or --set <field>=<value>, e.g. signalbox entries put ${kind} ${name} -f ${kind}.yaml`);
      }
      const key = await providerKey(o, kind);
      const spec = applyHeaderEnv(applySets(o.file !== undefined ? await specFile(o.file) : {}, o.set ?? []), kind, o.headerEnv ?? []);
      if (key !== undefined) spec.api_key = key;
      if (o.urlEnv !== undefined) spec.url = alertUrl(o.urlEnv, kind);
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
    .argument("<name>", "the provider's name, deployment's or MCP server's id, or the route's, guardrail's, alias's or alert's name")
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

  entries
    .command("reseal")
    .description("seal every stored credential again with the gateway's current master key (the last step of rotating it); exit 1 if any could not be")
    .option("--dry-run", "say which entries would be sealed again; nothing is written")
    .addHelpText(
      "after",
      [
        "",
        "Credentials open with SIGNALBOX_MASTER_KEY or one of SIGNALBOX_MASTER_KEY_PREVIOUS; a reseal",
        "seals those under a previous key with the current one. Once it reports no failures, the",
        "previous keys are no longer needed. An entry whose credentials open with none of the keys",
        "is left as it is and listed with the reason.",
        "",
        "Examples:",
        "  signalbox entries reseal --dry-run",
        "  signalbox entries reseal",
      ].join("\n"),
    )
    .action(async (o: { dryRun?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      const res = await waiting(o.dryRun ? "checking the stored credentials" : "sealing the stored credentials again", () => sb.admin.resealConfigEntries({ validateOnly: !!o.dryRun }));
      if (mode === "json") await json(toJson(ResealConfigEntriesResponseSchema, res));
      else await out(resealText(res, !!o.dryRun));
      if (res.failed.length) {
        throw failure(
          `${entriesCount(res.failed.length)} could not be ${o.dryRun ? "opened" : "sealed again"}: ${res.failed.map((f) => f.entry).join(", ")}`,
          "their credentials open with none of this gateway's keys: add the key they were sealed with to SIGNALBOX_MASTER_KEY_PREVIOUS, or put them again with their credentials",
        );
      }
    });
}
