// `signalbox moderate` as users run it: the built bundle in a child process (Node 24, and the
// system's Node 20), against a real gateway started in process on the embedded default config
// (config/default.yaml: the `moderation` route on mock/moderation, which flags a text by a few
// words per category: "attack" is violence, "idiot" harassment). Also the verdict formatting on
// its own (no gateway).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { createSignalboxClient, ModerateResponseSchema, Operation, type SignalboxClient } from "@signalbox/client";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, recordsOfUser, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { score, verdict } from "../../clients/cli/src/commands/moderate.ts";

type Run = CliRun;

let g: TestGateway;
let sb: SignalboxClient;
let tmp: string;

/** Run the built CLI against the gateway (no key: the default config has none). */
function cli(args: string[], opts: { env?: Record<string, string>; node?: string; stdin?: string } = {}): Promise<Run> {
  return runCli(g?.url ?? "http://127.0.0.1:9", args, { ...opts, cwd: tmp });
}

/** The table's rows (header first), each split into its cells on runs of two or more spaces. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));


describe("moderation verdicts (no gateway)", () => {
  test("flagged categories with their scores, highest first; else the highest-scoring category", () => {
    assert.equal(
      verdict({ flagged: true, categories: { violence: true, harassment: true, hate: false }, categoryScores: { violence: 0.93, harassment: 0.97, hate: 0.2 } }),
      "harassment 0.97, violence 0.93",
    );
    assert.equal(verdict({ flagged: false, categories: { violence: false, hate: false }, categoryScores: { violence: 0.0001, hate: 0.003 } }), "hate 0.003");
    assert.equal(verdict({ flagged: true, categories: { sexual: true }, categoryScores: {} }), "sexual", "a category without a score");
    assert.equal(verdict({ flagged: false, categories: {}, categoryScores: {} }), "");
  });

  test("scores: two decimals, one significant digit below 0.01", () => {
    assert.deepEqual([0.93, 1, 0.5, 0.0001, 0.00042, 0].map(score), ["0.93", "1.00", "0.50", "0.0001", "0.0004", "0.00"]);
  });
});

describe("signalbox moderate against a gateway on the default config", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-moderate-"));
    g = await startTestGateway(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
    sb = createSignalboxClient({ baseUrl: g.url });
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("a clean text: exit 0, one row not flagged with its highest-scoring category; the summary on stderr", async () => {
    const r = exited(await cli(["moderate", "Have a nice day"]), 0);
    const rows = rowsOf(r.stdout);
    assert.deepEqual(rows[0], ["#", "INPUT", "FLAGGED", "CATEGORIES"]);
    assert.equal(rows.length, 2, r.stdout);
    assert.deepEqual(rows[1].slice(0, 3), ["1", "Have a nice day", "no"]);
    assert.match(rows[1][3], /^[a-z/-]+ \d\S*$/, "one category and its score");
    assert.match(r.stderr, /^— mock\/moderation \(route moderation\) · 0 of 1 flagged · \$\d+\.\d+ · \d+ ms · request \S+ · trace [0-9a-f]{32}\n$/);
  });

  test("a flagged text: exit 1, the flagged categories and scores in its row, no error printed", async () => {
    const r = exited(await cli(["moderate", "I will attack you", "You idiot", "Have a nice day"]), 1);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 4, r.stdout);
    assert.deepEqual(rows[1], ["1", "I will attack you", "yes", "violence 0.93"]);
    assert.deepEqual(rows[2], ["2", "You idiot", "yes", "harassment 0.93"]);
    assert.deepEqual(rows[3].slice(0, 3), ["3", "Have a nice day", "no"]);
    assert.match(r.stderr, /^— mock\/moderation \(route moderation\) · 2 of 3 flagged · /);
    assert.doesNotMatch(r.stderr, /error/);

    // A parent category comes with its subcategory; a long input is shortened in the table.
    const long = `There was blood everywhere ${"and more ".repeat(10)}`;
    const l = exited(await cli(["moderate", long]), 1);
    const [, row] = rowsOf(l.stdout);
    assert.equal(row[1].length, 48);
    assert.ok(row[1].endsWith("…"));
    assert.equal(row[3], "violence 0.93, violence/graphic 0.93");
  });

  test("stdin, one text per line (blank lines skipped), with no arguments or with -; --csv", async () => {
    for (const args of [["moderate"], ["moderate", "-"]]) {
      const r = exited(await cli(args, { stdin: "Have a nice day\n\n  \nI will attack you\r\n" }), 1, args.join(" "));
      const rows = rowsOf(r.stdout);
      assert.equal(rows.length, 3, r.stdout);
      assert.deepEqual(rows[1].slice(0, 3), ["1", "Have a nice day", "no"]);
      assert.deepEqual(rows[2], ["2", "I will attack you", "yes", "violence 0.93"]);
      assert.match(r.stderr, / · 1 of 2 flagged · /);
    }
    const c = exited(await cli(["--csv", "moderate"], { stdin: "Fine, thanks\nYou idiot, \"really\"\n" }), 1);
    const lines = c.stdout.split("\r\n");
    assert.equal(lines[0], "index,input,flagged,categories");
    assert.match(lines[1], /^1,"Fine, thanks",false,\S/);
    assert.equal(lines[2], '2,"You idiot, ""really""",true,harassment 0.93');
    assert.equal(lines[3], "");
  });

  test("--json: the API's JSON form, equal in content to a direct client call; the exit code still says flagged", async () => {
    const inputs = ["I will attack you", "Have a nice day"];
    const r = exited(await cli(["--json", "moderate", ...inputs]), 1);
    assert.equal(r.stderr, "", "nothing but the JSON");
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    const direct = toJson(ModerateResponseSchema, await sb.moderation.moderate({ model: "moderation", inputs })) as Record<string, unknown>;
    // The same answer; only what differs per request (its id, trace, timing, attempts) aside.
    const content = (x: Record<string, unknown>) => {
      const { id, traceId, timing, attempts, ...rest } = x;
      assert.match(String(id), /\S/);
      assert.ok(timing && Array.isArray(attempts));
      return rest;
    };
    assert.deepEqual(content(j), content(direct));
    assert.equal(j.deployment, "mock/moderation");
    assert.equal((j.routing as { route: string }).route, "moderation");
    const results = j.results as { flagged?: boolean; categories: Record<string, boolean>; categoryScores: Record<string, number> }[];
    assert.equal(results.length, 2);
    assert.equal(results[0].flagged, true);
    assert.equal(results[0].categories.violence, true);
    assert.equal(results[0].categoryScores.violence, 0.93);
    assert.ok(!results[1].flagged);

    const clean = exited(await cli(["--json", "moderate", "Have a nice day"]), 0);
    assert.equal((JSON.parse(clean.stdout).results as unknown[]).length, 1);
  });

  test("--image: one result for the texts and images together", async () => {
    const r = exited(await cli(["moderate", "I will attack you", "Hello", "--image", "https://example.com/a.png", "--image", "data:image/png;base64,iVBORw0KGgo="]), 1);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 2, r.stdout);
    assert.deepEqual(rows[1], ["all", "I will attack you / Hello + 2 images", "yes", "violence 0.93"]);
    assert.match(r.stderr, / · flagged · /);
    const alone = exited(await cli(["moderate", "--image", "https://example.com/cat.png"]), 0, "images alone");
    assert.deepEqual(rowsOf(alone.stdout)[1].slice(0, 3), ["all", "1 image", "no"]);
  });

  test("bad usage is refused before any call (exit 2, the problem named, nothing on stdout)", async () => {
    const unreachable = { env: { SIGNALBOX_URL: "http://127.0.0.1:9" } };
    const cases: [string, string[], string?][] = [
      ["no input", ["moderate"], ""],
      ["no input", ["moderate", "-"], "\n \n"],
      ["input 1 is empty", ["moderate", ""]],
      ["input 2 is empty", ["moderate", "fine", "   "]],
      ["at most 32", ["moderate", ...Array.from({ length: 33 }, (_, i) => `text ${i}`)]],
      ["cannot be combined", ["moderate", "fine", "-"]],
      ["--image", ["moderate", "fine", "--image", "ftp://example.com/a.png"]],
      ["--metadata", ["moderate", "fine", "--metadata", "novalue"]],
      ["--json and --csv", ["--json", "--csv", "moderate", "fine"]],
      ["--bogus", ["moderate", "fine", "--bogus"]],
    ];
    for (const [named, args, stdin] of cases) {
      const r = await cli(args, { ...unreachable, ...(stdin !== undefined ? { stdin } : {}) });
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes(named), `${args.join(" ").slice(0, 80)} says "${named}": ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
  });

  test("a failed call is exit 1 with the gateway's error (an unknown model), stdout empty", async () => {
    const r = exited(await cli(["moderate", "fine", "--model", "no-such-model"]), 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: /);
  });

  test("the routing, tag, user and metadata flags reach the gateway; the usage record's operation is moderation", async () => {
    exited(await cli(["moderate", "Have a nice day", "--tag", "cli-moderate,gate", "--user", "u-moderate", "--metadata", "ticket=7", "--no-fallback", "--fallbacks", "mock/moderation"]), 0);
    const records = await recordsOfUser(() => sb.usage.listRequests({ pageSize: 100 }), "u-moderate");
    assert.equal(records.length, 1, JSON.stringify(records.map((r) => ({ tags: r.tags, op: r.operation }))));
    const [rec] = records;
    assert.equal(rec.operation, Operation.MODERATION);
    assert.deepEqual([...rec.tags].sort(), ["cli-moderate", "gate"]);
    assert.equal(rec.deployment, "mock/moderation");
    assert.equal(rec.metadata.ticket, "7");
  });

  test("the system's Node 20 runs it too", { skip: !existsSync(SYSTEM_NODE) }, async () => {
    const r = exited(await cli(["moderate", "You idiot"], { node: SYSTEM_NODE }), 1);
    assert.deepEqual(rowsOf(r.stdout)[1], ["1", "You idiot", "yes", "harassment 0.93"]);
  });
});
