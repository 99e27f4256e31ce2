// `signalbox prompts …` as users run it: the built bundle in a child process against a real
// gateway started in process, with a prompt in the config file. Versions made with `create`
// (labels, messages, --instructions-file), the list as a table, --json (the typed client's own
// answer through toJson) and --csv, `get` with every version newest first, labels moved and
// removed, `render` filling {{placeholders}} (and naming a missing variable), the config file's
// prompt listed and read-only, what a team key sees, `delete`, and bad usage (exit 2).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import type { SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, type CliRun } from "../helpers/cli.ts";

// The client's dist and the bundle are built first when older than their sources (`npm test`
// builds both): the client's values come from its dist, so they are imported after that.
buildCliIfStale();
const { createSignalboxClient, GetPromptResponseSchema, ListPromptsResponseSchema, RenderPromptResponseSchema } = await import("@signalbox/client");
const { labelsText, parseLabels, parseMessage } = await import("../../clients/cli/src/commands/prompts.ts");

// Key-shaped strings made at run time.
const key = (name: string) => ["sk", "test", "cliprompts", name, "0123456789abcdef"].join("_");
const ADMIN = key("admin");
const SEARCH = key("search");
const OTHER = key("other");

describe("the prompt flags and labels (no gateway)", () => {
  test("--message, --label and how labels read", () => {
    assert.deepEqual(parseMessage("assistant=ok", parseMessage("user=Tell me about {{topic}}")), [
      { role: "user", content: "Tell me about {{topic}}" },
      { role: "assistant", content: "ok" },
    ]);
    assert.deepEqual(parseMessage("User=a=b"), [{ role: "user", content: "a=b" }]);
    assert.throws(() => parseMessage("bot=hi"), /"bot" is not a role: use one of system, developer, user, assistant/);
    assert.throws(() => parseMessage("hello"), /is not a message/);
    assert.deepEqual(parseLabels("staging", parseLabels("production, canary")), ["production", "canary", "staging"]);
    assert.deepEqual(parseLabels("production", ["production"]), ["production"]);
    assert.throws(() => parseLabels(" , "), /names no label/);
    assert.equal(labelsText({ staging: "4", production: "3" }), "production=3, staging=4");
    assert.equal(labelsText({}, "none"), "none");
  });
});

describe("signalbox prompts against a gateway", () => {
  let gw: TestGateway;
  let tmp: string;
  let admin: SignalboxClient;

  const cli = (args: string[], apiKey: string | null = ADMIN, stdin?: string): Promise<CliRun> => runCli(gw.url, [...(apiKey ? ["--api-key", apiKey] : []), ...args], { cwd: tmp, stdin });
  /** A table's rows as cells (split on two or more spaces), the header row left out. */
  const rowsOf = (stdout: string) =>
    stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => l.trim().split(/ {2,}/));
  const idsOf = (stdout: string) => rowsOf(stdout).map((c) => c[0]);
  /** `get`'s sections: the prompt's fields, then one per version. */
  const sectionsOf = (stdout: string) => stdout.trimEnd().split("\n\n");

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-prompts-"));
    gw = await startTestGateway(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/a, provider: mock, model: mock-a }
  - { id: mock/b, provider: mock, model: mock-b }
routes:
  - { name: default, targets: [mock/a] }
teams:
  - { name: search }
  - { name: other }
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: search-lead, hash: "${hashKey(SEARCH)}", team: search, role: team }
  - { name: other-lead, hash: "${hashKey(OTHER)}", team: other, role: team }
prompts:
  - { id: cfg, version: 1, instructions: "Hi {{name}}" }
`);
    admin = createSignalboxClient({ baseUrl: gw.url, apiKey: ADMIN });
  });

  after(async () => {
    await gw?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("create: version 1 with --label production, then version 2 with --label staging", async () => {
    const r1 = ok(
      await cli(["prompts", "create", "greet", "--model", "default", "--instructions", "Hello {{name}}, welcome to {{place}}.", "--message", "user=Tell me about {{topic}}", "--description", "first", "--label", "production"]),
    );
    const f1 = fieldsOf(r1.stdout);
    assert.equal(f1.get("PROMPT"), "greet");
    assert.equal(f1.get("VERSION"), "1");
    assert.equal(f1.get("LABELS"), "production");
    assert.equal(f1.get("VARIABLES"), "name, place, topic");
    assert.equal(f1.get("TEAM"), "shared");

    // Instructions from a file; --json is the API's answer.
    writeFileSync(join(tmp, "v2.md"), "Hi {{name}}, from {{place}}.\n");
    const r2 = ok(await cli(["prompts", "create", "greet", "--model", "mock/b", "--instructions-file", "v2.md", "--message", "user=Now {{topic}}", "--message", "assistant=Sure.", "--description", "second", "--label", "staging", "--temperature", "0.3", "--max-output-tokens", "200", "--stop", "END", "--json"]));
    const j = JSON.parse(r2.stdout) as { version: { promptId: string; version: string; labels: string[]; model: string; messages: { role: string; content: string }[] }; prompt: { labels: Record<string, string>; latestVersion: string; versionCount: number } };
    assert.equal(j.version.promptId, "greet");
    assert.equal(j.version.version, "2");
    assert.deepEqual(j.version.labels, ["staging"]);
    assert.equal(j.version.model, "mock/b");
    assert.deepEqual(j.version.messages, [
      { role: "user", content: "Now {{topic}}" },
      { role: "assistant", content: "Sure." },
    ]);
    assert.deepEqual(j.prompt.labels, { production: "1", staging: "2" });
    assert.equal(j.prompt.latestVersion, "2");
    assert.equal(j.prompt.versionCount, 2);
    assert.deepEqual((j.version as unknown as { parameters: unknown }).parameters, { temperature: 0.3, maxOutputTokens: 200, stop: ["END"] });
    assert.equal((await cli(["prompts", "create", "greet", "--instructions", "x", "--temperature", "3"])).code, 2, "a temperature out of range is bad usage");
  });

  test("list: a table (the config file's prompt too), --json as the API gives it, --csv", async () => {
    // Reads only: at once, checked in turn.
    const [listRun, jsonRun, csvRun] = await Promise.all([cli(["prompts", "list"]), cli(["prompts", "list", "--json"]), cli(["prompts", "list", "--csv"])]);
    const r = ok(listRun);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^ID +SOURCE +TEAM +LATEST +VERSIONS +LABELS +UPDATED +DESCRIPTION\n/);
    const rows = rowsOf(r.stdout);
    assert.deepEqual(
      rows.map((c) => c[0]),
      ["cfg", "greet"],
    );
    const [cfg, greet] = rows;
    assert.deepEqual(cfg.slice(0, 5), ["cfg", "config", "shared", "1", "1"]);
    assert.deepEqual(greet.slice(0, 6), ["greet", "store", "shared", "2", "2", "production=1, staging=2"]);
    assert.match(greet[6], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.equal(greet[7], "second");

    const j = ok(jsonRun).stdout;
    assert.deepEqual(JSON.parse(j), toJson(ListPromptsResponseSchema, await admin.prompts.listPrompts({})));

    const c = ok(csvRun).stdout.split("\r\n");
    assert.equal(c[0], "id,source,team,latest,versions,labels,updated,description");
    const greetCsv = c.find((l) => l.startsWith("greet,"))!;
    assert.match(greetCsv, /^greet,store,,2,2,production=1 staging=2,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,second$/);
    assert.ok(c.some((l) => l.startsWith("cfg,config,,1,1,")), c.join("\n"));
  });

  test("get: the prompt, then every version newest first (labels, model, who and when, instructions, messages, variables)", async () => {
    const r = ok(await cli(["prompts", "get", "greet"]));
    const [head, v2, v1, ...rest] = sectionsOf(r.stdout);
    assert.deepEqual(rest, [], r.stdout);
    const h = fieldsOf(head);
    assert.equal(h.get("ID"), "greet");
    assert.equal(h.get("SOURCE"), "store");
    assert.equal(h.get("TEAM"), "shared");
    assert.equal(h.get("LATEST"), "2");
    assert.equal(h.get("VERSIONS"), "2");
    assert.equal(h.get("LABELS"), "production=1, staging=2");
    assert.equal(h.get("DESCRIPTION"), "second");

    const f2 = fieldsOf(v2);
    assert.equal(f2.get("VERSION"), "2");
    assert.equal(f2.get("LABELS"), "staging");
    assert.equal(f2.get("MODEL"), "mock/b");
    assert.match(f2.get("CREATED") ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ by root$/);
    assert.equal(f2.get("DESCRIPTION"), "second");
    assert.equal(f2.get("VARIABLES"), "name, place, topic");
    assert.equal(f2.get("PARAMETERS"), 'temperature 0.3, max output tokens 200, stop "END"');
    assert.ok(v2.includes("\nINSTRUCTIONS\n  Hi {{name}}, from {{place}}.\nMESSAGES\n  user: Now {{topic}}\n  assistant: Sure."), v2);

    const f1 = fieldsOf(v1);
    assert.equal(f1.get("VERSION"), "1");
    assert.equal(f1.get("LABELS"), "production");
    assert.equal(f1.get("MODEL"), "default");
    assert.equal(f1.get("DESCRIPTION"), "first");
    assert.ok(v1.includes("\nINSTRUCTIONS\n  Hello {{name}}, welcome to {{place}}.\nMESSAGES\n  user: Tell me about {{topic}}"), v1);

    const j = ok(await cli(["prompts", "get", "greet", "--json"])).stdout;
    assert.deepEqual(JSON.parse(j), toJson(GetPromptResponseSchema, await admin.prompts.getPrompt({ promptId: "greet" })));
  });

  test("label: production moves to version 2; --remove removes a label", async () => {
    const r = ok(await cli(["prompts", "label", "greet", "production", "2"]));
    assert.equal(r.stdout, 'label production of prompt "greet" → version 2\nLABELS  production=2, staging=2\n');
    const got = await admin.prompts.getPrompt({ promptId: "greet" });
    assert.deepEqual(got.prompt?.labels, { production: "2", staging: "2" });
    assert.deepEqual(got.versions.map((v) => [v.version, [...v.labels].sort()]), [
      ["2", ["production", "staging"]],
      ["1", []],
    ]);

    const removed = ok(await cli(["prompts", "label", "greet", "staging", "--remove"]));
    assert.equal(removed.stdout, 'removed label staging of prompt "greet"\nLABELS  production=2\n');
    const j = JSON.parse(ok(await cli(["prompts", "label", "greet", "staging", "1", "--json"])).stdout) as { prompt: { labels: Record<string, string> } };
    assert.deepEqual(j.prompt.labels, { production: "2", staging: "1" });
    // A version that does not exist is the gateway's refusal.
    const bad = exited(await cli(["prompts", "label", "greet", "production", "9"]), 1);
    assert.match(bad.stderr, /^error: .*\((invalid_argument|not_found|failed_precondition)\)/);
  });

  test("render: --var fills the placeholders (production by default, or --prompt-version); a missing variable is named", async () => {
    const vars = { name: "Ada", place: "Paris", topic: "trains" };
    // Renders change nothing: all at once, checked in turn.
    const [run, v1Run, stagingRun, jsonRun, missingRun] = await Promise.all([
      cli(["prompts", "render", "greet", "--var", "name=Ada", "--var", "place=Paris", "--var", "topic=trains"]),
      cli(["prompts", "render", "greet", "--prompt-version", "1", "--var", "name=Ada", "--var", "place=Paris", "--var", "topic=trains"]),
      cli(["prompts", "render", "greet", "--prompt-version", "staging", "--var", "name=A", "--var", "place=B", "--var", "topic=C"]),
      cli(["prompts", "render", "greet", "--json", ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}=${v}`])]),
      cli(["prompts", "render", "greet", "--var", "name=Ada", "--var", "topic=trains"]),
    ]);
    const r = ok(run);
    const f = fieldsOf(r.stdout);
    assert.equal(f.get("PROMPT"), "greet");
    assert.match(f.get("VERSION") ?? "", /^2\b/);
    assert.equal(f.get("MODEL"), "mock/b");
    assert.ok(r.stdout.includes("\nINSTRUCTIONS\n  Hi Ada, from Paris.\nMESSAGES\n  user: Now trains\n  assistant: Sure.\n"), r.stdout);

    const v1 = ok(v1Run);
    assert.equal(fieldsOf(v1.stdout).get("MODEL"), "default");
    assert.ok(v1.stdout.includes("\nINSTRUCTIONS\n  Hello Ada, welcome to Paris.\nMESSAGES\n  user: Tell me about trains\n"), v1.stdout);
    // A label names a version too (staging → 1 since the test above).
    assert.match(fieldsOf(ok(stagingRun).stdout).get("VERSION") ?? "", /^1\b/);

    const j = ok(jsonRun).stdout;
    assert.deepEqual(JSON.parse(j), toJson(RenderPromptResponseSchema, await admin.prompts.renderPrompt({ promptId: "greet", variables: vars })));

    const missing = exited(missingRun, 1);
    assert.equal(missing.stdout, "");
    assert.match(missing.stderr, /^error: .*place/);
    assert.match(missing.stderr, /\((invalid_argument|failed_precondition)\)/);
    assert.ok(!/\n\s+at /.test(missing.stderr), `no stack trace:\n${missing.stderr}`);
  });

  test("chat --template: the answer starts from the prompt, on the template's model; --var without --template is bad usage", async () => {
    const r = ok(await cli(["chat", "--template", "greet", "--var", "name=Ada", "--var", "place=Paris", "--var", "topic=trains", "and briefly"]));
    assert.match(r.stdout, /and briefly/, "the mock answers the last user message");
    assert.match(r.stderr, /mock\/b/, "production is version 2, whose model is mock/b");
    const only = ok(await cli(["chat", "--template", "greet", "--template-version", "1", "--var", "name=Ada", "--var", "place=Paris", "--var", "topic=trains"]));
    assert.match(only.stdout, /Tell me about trains/, "the template alone is the whole request");
    exited(await cli(["chat", "--var", "name=Ada", "hi"]), 2);
  });

  test("the config file's prompt: read and rendered, but read-only", async () => {
    const g = ok(await cli(["prompts", "get", "cfg"]));
    const [head, v1] = sectionsOf(g.stdout);
    assert.equal(fieldsOf(head).get("SOURCE"), "config");
    assert.equal(fieldsOf(v1).get("VERSION"), "1");
    assert.match(fieldsOf(v1).get("CREATED") ?? "", /by config$/);
    const r = ok(await cli(["prompts", "render", "cfg", "--var", "name=Bo"]));
    assert.ok(r.stdout.includes("\nINSTRUCTIONS\n  Hi Bo\n"), r.stdout);

    const refused = exited(await cli(["prompts", "create", "cfg", "--instructions", "Bye {{name}}"]), 1);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^error: .*config/i);
    assert.match(refused.stderr, /\((failed_precondition|permission_denied|invalid_argument|already_exists)\)/);
    const del = exited(await cli(["prompts", "delete", "cfg"]), 1);
    assert.match(del.stderr, /^error: .*config/i);
    // Still there, unchanged.
    assert.equal((await admin.prompts.getPrompt({ promptId: "cfg" })).versions.length, 1);
  });

  test("a team key sees its team's prompts and the shared ones, not another team's", async () => {
    // The two creates are independent: at once.
    const [otherRun, mineRun] = await Promise.all([
      cli(["prompts", "create", "other-notes", "--team", "other", "--instructions", "Notes for {{who}}"]),
      // A team key's new prompt is its team's.
      cli(["prompts", "create", "search-notes", "--instructions", "Search for {{q}}", "--label", "production"], SEARCH),
    ]);
    const other = ok(otherRun);
    assert.equal(fieldsOf(other.stdout).get("TEAM"), "other");
    const mine = ok(mineRun);
    assert.equal(fieldsOf(mine.stdout).get("TEAM"), "search");

    // Then reads (and refusals that change nothing), at once, checked in turn.
    const [searchList, otherList, adminList, onlyRun, hiddenRun, renderRun, sharedRun] = await Promise.all([
      cli(["prompts", "list"], SEARCH),
      cli(["prompts", "list"], OTHER),
      cli(["prompts", "list"]),
      // An admin key may ask for one team's.
      cli(["prompts", "list", "--team", "other"]),
      cli(["prompts", "get", "other-notes"], SEARCH),
      cli(["prompts", "render", "other-notes", "--var", "who=x"], SEARCH),
      // A team key may not change a shared prompt.
      cli(["prompts", "create", "greet", "--instructions", "Mine now"], SEARCH),
    ]);
    assert.deepEqual(idsOf(ok(searchList).stdout), ["cfg", "greet", "search-notes"]);
    assert.deepEqual(idsOf(ok(otherList).stdout), ["cfg", "greet", "other-notes"]);
    assert.deepEqual(idsOf(ok(adminList).stdout), ["cfg", "greet", "other-notes", "search-notes"]);
    const only = rowsOf(ok(onlyRun).stdout);
    assert.deepEqual(only.map((c) => c.slice(0, 3)), [["other-notes", "store", "other"]]);

    const hidden = exited(hiddenRun, 1);
    assert.match(hidden.stderr, /\((not_found|permission_denied)\)/);
    exited(renderRun, 1);
    const shared = exited(sharedRun, 1);
    assert.match(shared.stderr, /\((permission_denied|not_found|failed_precondition)\)/);
  });

  test("delete: the prompt and every version are gone", async () => {
    const r = ok(await cli(["prompts", "delete", "greet"]));
    assert.equal(r.stdout, 'deleted prompt "greet"\n');
    const gone = exited(await cli(["prompts", "get", "greet"]), 1);
    assert.match(gone.stderr, /\(not_found\)/);
    assert.ok(!idsOf(ok(await cli(["prompts", "list"])).stdout).includes("greet"));
    exited(await cli(["prompts", "delete", "greet"]), 1);
    assert.deepEqual(JSON.parse(ok(await cli(["prompts", "delete", "other-notes", "--json"])).stdout), { deleted: "other-notes" });
  });

  test("bad usage exits 2 and says why, before calling the gateway", async () => {
    const cases: [string[], RegExp][] = [
      [["prompts", "create", "x", "--message", "bot=hi"], /"bot" is not a role: use one of system, developer, user, assistant/],
      [["prompts", "create", "x", "--message", "hi"], /is not a message/],
      [["prompts", "create", "x"], /needs instructions or a message/],
      [["prompts", "create", "x", "--label", "production"], /needs instructions or a message/],
      [["prompts", "create", "x", "--instructions", "a", "--instructions-file", "v2.md"], /cannot be used together/],
      [["prompts", "create", "x", "--instructions-file", "missing.md"], /missing\.md: no such file/],
      [["prompts", "label", "greet", "production"], /which version\?/],
      [["prompts", "label", "greet", "production", "2", "--remove"], /cannot be used together/],
      [["prompts", "render", "greet", "--var", "novalue"], /expected key=value/],
      [["prompts", "get", "greet", "--csv"], /--csv is not available here/],
      [["prompts", "frobnicate"], /unknown command/],
    ];
    // Independent runs (refused before any call): at once, checked in order.
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = exited(runs[i], 2, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    }
    // Nothing was made by the refused commands.
    assert.ok(!idsOf(ok(await cli(["prompts", "list"])).stdout).includes("x"));
  });

  test("--instructions-file - reads stdin; --help lists the commands", async () => {
    const r = ok(await cli(["prompts", "create", "piped", "--instructions-file", "-"], ADMIN, "From stdin, {{who}}.\n"));
    assert.equal(fieldsOf(r.stdout).get("VARIABLES"), "who");
    assert.equal((await admin.prompts.getPrompt({ promptId: "piped" })).versions[0].instructions.trimEnd(), "From stdin, {{who}}.");
    const [helpRun, topRun] = await Promise.all([cli(["prompts", "--help"], null), cli(["--help"], null)]);
    const help = ok(helpRun).stdout;
    for (const c of ["list", "get", "create", "label", "delete", "render"]) assert.match(help, new RegExp(`^  ${c}\\b`, "m"));
    assert.match(ok(topRun).stdout, /prompts create/);
  });
});
