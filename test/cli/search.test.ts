// `signalbox search` as users run it: the built bundle in a child process (Node 24, and the system's
// Node 20), against a real gateway started in process on the embedded default config
// (config/default.yaml: the `search` route on mock/search, which makes pages up about the query on
// example.com addresses, or on the first allowed domain, at $0.005 a search). Also the date and
// country parsing and the row numbering on their own (no gateway).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, Operation, type SearchHit, type SignalboxClient } from "@signalbox/client";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, recordsOfUser, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { parseCountry, parseDate, parseEngineOption, rowsOf as searchRows } from "../../clients/cli/src/commands/search.ts";

let g: TestGateway;
let sb: SignalboxClient;
let tmp: string;

/** Run the built CLI against the gateway (no key: the default config has none). */
function cli(args: string[], opts: { env?: Record<string, string>; node?: string; stdin?: string } = {}): Promise<CliRun> {
  return runCli(g?.url ?? "http://127.0.0.1:9", args, { ...opts, cwd: tmp });
}

/** The table's rows (header first), each split into its cells on runs of two or more spaces. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));

/** The summary on stderr: who served it, the results, one search each query, $0.005 each. */
const summary = (results: number, searches: number, cost: string) =>
  new RegExp(
    `^— mock/search \\(route search\\) · ${results} results? · ${searches} search(es)? · \\$${cost.replace(".", "\\.")} · \\d+ ms · request \\S+( · trace [0-9a-f]{32})?\\n$`,
  );

describe("search flags and rows (no gateway)", () => {
  test("dates: YYYY-MM-DD is the start of that day in UTC; RFC 3339 as written; anything else refused", () => {
    assert.equal(parseDate("2025-01-31"), "2025-01-31T00:00:00Z");
    assert.equal(parseDate(" 2024-02-29 "), "2024-02-29T00:00:00Z", "a leap day");
    assert.equal(parseDate("2025-01-31T12:30:00Z"), "2025-01-31T12:30:00Z");
    assert.equal(parseDate("2025-01-31 12:30:00.5+02:00"), "2025-01-31T12:30:00.5+02:00");
    assert.equal(parseDate("2025-01-31t12:30:00z"), "2025-01-31T12:30:00Z");
    for (const bad of ["2025-02-30", "2025-13-01", "31/01/2025", "2025-1-31", "yesterday", "2025-01-31T12:30Z", "2025-01-31T25:00:00Z", ""]) {
      assert.throws(() => parseDate(bad), /is not a date: use YYYY-MM-DD/, bad);
    }
  });

  test("countries: two letters, upper-cased", () => {
    assert.equal(parseCountry("us"), "US");
    assert.equal(parseCountry("GB"), "GB");
    for (const bad of ["USA", "U", "1A", ""]) assert.throws(() => parseCountry(bad), /is not a country code/, bad);
  });

  test("rows: numbered by result for one query, by query for several", () => {
    const hit = (queryIndex: number) => ({ title: "t", url: "u", snippet: "", published: "", updated: "", queryIndex }) as SearchHit;
    assert.deepEqual(searchRows([hit(0), hit(0), hit(0)], 1).map((r) => r.index), [1, 2, 3]);
    assert.deepEqual(searchRows([hit(0), hit(0), hit(1), hit(2)], 3).map((r) => r.index), [1, 1, 2, 3]);
  });
});

describe("signalbox search against a gateway on the default config", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-search-"));
    g = await startTestGateway(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
    sb = createSignalboxClient({ baseUrl: g.url });
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("one query: exit 0, one row per page (#, title, URL, published); deployment, searches and cost on stderr", async () => {
    const r = exited(await cli(["search", "signalbox gateway", "--max-results", "3"]), 0);
    const rows = rowsOf(r.stdout);
    assert.deepEqual(rows[0], ["#", "TITLE", "URL", "PUBLISHED"]);
    assert.equal(rows.length, 4, r.stdout);
    rows.slice(1).forEach((row, i) => {
      assert.deepEqual(row, [String(i + 1), `Mock result ${i + 1} for "signalbox gateway"`, `https://signalbox-gateway-${i + 1}.example.com/`, "-"]);
    });
    assert.match(r.stderr, summary(3, 1, "0.005"));

    // The gateway's default: 10 results.
    const d = exited(await cli(["search", "failover"]), 0);
    assert.equal(rowsOf(d.stdout).length, 11, d.stdout);
    assert.match(d.stderr, summary(10, 1, "0.005"));
  });

  test("two queries: the # column is the query's number; two searches billed", async () => {
    const r = exited(await cli(["search", "rust async", "go generics", "--max-results", "2"]), 0);
    const rows = rowsOf(r.stdout);
    assert.equal(rows.length, 5, r.stdout);
    assert.deepEqual(
      rows.slice(1).map((row) => [row[0], row[2]]),
      [
        ["1", "https://rust-async-1.example.com/"],
        ["1", "https://rust-async-2.example.com/"],
        ["2", "https://go-generics-1.example.com/"],
        ["2", "https://go-generics-2.example.com/"],
      ],
    );
    assert.match(r.stderr, summary(4, 2, "0.01"));
  });

  test("stdin, one query per line (blank lines skipped), with no arguments or with -; --csv", async () => {
    for (const args of [["search", "--max-results", "1"], ["search", "-", "--max-results", "1"]]) {
      const r = exited(await cli(args, { stdin: "first question\n\n  \nsecond question\r\n" }), 0, args.join(" "));
      const rows = rowsOf(r.stdout);
      assert.deepEqual(
        rows.slice(1).map((row) => [row[0], row[2]]),
        [
          ["1", "https://first-question-1.example.com/"],
          ["2", "https://second-question-1.example.com/"],
        ],
      );
      assert.match(r.stderr, / · 2 searches · /);
    }
    const c = exited(await cli(["--csv", "search", 'commas, and "quotes"', "--max-results", "2"]), 0);
    const lines = c.stdout.split("\r\n");
    assert.equal(lines[0], "index,title,url,published");
    assert.equal(lines[1], '1,"Mock result 1 for ""commas, and ""quotes""""",https://commas-and-quotes-1.example.com/,');
    assert.equal(lines.length, 4, c.stdout);
    assert.equal(lines[3], "");
  });

  test("--domain puts the pages on it; --exclude-domain leaves pages on it out", async () => {
    const r = exited(await cli(["search", "release notes", "--domain", "nodejs.org", "--domain", "deno.com", "--max-results", "2"]), 0);
    assert.deepEqual(
      rowsOf(r.stdout).slice(1).map((row) => row[2]),
      ["https://release-notes-1.nodejs.org/", "https://release-notes-2.nodejs.org/"],
    );
    const x = exited(await cli(["search", "release notes", "--exclude-domain", "example.com"]), 0);
    assert.deepEqual(rowsOf(x.stdout), [["#", "TITLE", "URL", "PUBLISHED"]], "every mock page is on example.com");
    assert.match(x.stderr, /· 0 results · 1 search · /);
  });

  test("--json: the API's JSON form with the URLs, snippets and usage; nothing on stderr", async () => {
    const r = exited(await cli(["--json", "search", "signalbox gateway", "node 24", "--max-results", "2", "--max-characters", "100", "--country", "us", "--after", "2025-01-01", "--before", "2025-06-30T12:00:00Z"]), 0);
    assert.equal(r.stderr, "", "nothing but the JSON");
    const j = JSON.parse(r.stdout) as { deployment: string; routing: { route: string }; results: { title: string; url: string; snippet: string; queryIndex?: number }[]; usage: { searchUnits: string }; cost: { totalNanoUsd: string } };
    assert.equal(j.deployment, "mock/search");
    assert.equal(j.routing.route, "search");
    assert.deepEqual(
      j.results.map((h) => [h.queryIndex ?? 0, h.url]),
      [
        [0, "https://signalbox-gateway-1.example.com/"],
        [0, "https://signalbox-gateway-2.example.com/"],
        [1, "https://node-24-1.example.com/"],
        [1, "https://node-24-2.example.com/"],
      ],
    );
    assert.ok(j.results.every((h) => h.snippet.length > 0 && h.snippet.length <= 100), "snippets cut to --max-characters");
    assert.equal(j.usage.searchUnits, "2");
    assert.equal(j.cost.totalNanoUsd, "10000000");
  });

  test("bad usage is refused before any call (exit 2, the problem named, nothing on stdout)", async () => {
    const unreachable = { env: { SIGNALBOX_URL: "http://127.0.0.1:9" } };
    const cases: [string, string[], string?][] = [
      ["no query", ["search"], ""],
      ["no query", ["search", "-"], "\n \n"],
      ["query 1 is empty", ["search", ""]],
      ["query 2 is empty", ["search", "fine", "   "]],
      ["at most 5", ["search", "a", "b", "c", "d", "e", "f"]],
      ["cannot be combined", ["search", "fine", "-"]],
      ['"0" is not a whole number >= 1 <= 20', ["search", "q", "--max-results", "0"]],
      ['"21" is not a whole number', ["search", "q", "--max-results", "21"]],
      ['"ten" is not a whole number', ["search", "q", "--max-results", "ten"]],
      ['"50" is not a whole number >= 100 <= 20000', ["search", "q", "--max-characters", "50"]],
      ['"2025-02-30" is not a date', ["search", "q", "--after", "2025-02-30"]],
      ['"last week" is not a date', ["search", "q", "--before", "last week"]],
      ["is not before --before", ["search", "q", "--after", "2025-06-01", "--before", "2025-01-01"]],
      ['"USA" is not a country code', ["search", "q", "--country", "USA"]],
      ['"https://a.com/x" is not a domain', ["search", "q", "--domain", "https://a.com/x"]],
      ["--json and --csv", ["--json", "--csv", "search", "q"]],
      ["--bogus", ["search", "q", "--bogus"]],
    ];
    for (const [named, args, stdin] of cases) {
      const r = await cli(args, { ...unreachable, ...(stdin !== undefined ? { stdin } : {}) });
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes(named), `${args.join(" ").slice(0, 80)} says "${named}": ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
  });

  test("the gateway's own validation (both --domain and --exclude-domain): exit 1, its message and the field named", async () => {
    const r = exited(await cli(["search", "q", "--domain", "a.com", "--exclude-domain", "b.com"]), 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: .*\(invalid_argument\)\n/);
    assert.match(r.stderr, /^ {2}field: (allowed_domains|blocked_domains)$/m);
    assert.match(r.stderr, /^hint: fix the value of (allowed_domains|blocked_domains)/m);
  });

  test("--engine-option: one engine's own parameter, gathered by engine, JSON where it reads as JSON; one that sets a request field is the gateway's error", async () => {
    assert.deepEqual(parseEngineOption("exa.numResults=5", parseEngineOption("tavily.topic=news", parseEngineOption("tavily.days=3"))), { tavily: { days: 3, topic: "news" }, exa: { numResults: 5 } });
    assert.deepEqual(parseEngineOption('perplexity.search_language_filter=["en","de"]'), { perplexity: { search_language_filter: ["en", "de"] } });
    assert.throws(() => parseEngineOption("topic=news"), /is not engine\.parameter=value/);
    exited(await cli(["search", "markets", "--engine-option", "tavily.topic=finance"]), 0);
    const r = exited(await cli(["search", "markets", "--engine-option", "tavily.max_results=5"]), 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^ {2}field: engine_options\.tavily\.max_results$/m);
  });

  test("a failed call is exit 1 with the gateway's error (an unknown model), stdout empty", async () => {
    const r = exited(await cli(["search", "q", "--model", "no-such-model"]), 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error: /);
  });

  test("the routing, tag, user and metadata flags reach the gateway; the usage record's operation is search", async () => {
    exited(await cli(["search", "tagged query", "--tag", "cli-search,web", "--user", "u-search", "--metadata", "ticket=9", "--no-fallback", "--fallbacks", "mock/search"]), 0);
    const records = await recordsOfUser(() => sb.usage.listRequests({ pageSize: 100 }), "u-search");
    assert.equal(records.length, 1, JSON.stringify(records.map((r) => ({ tags: r.tags, op: r.operation }))));
    const [rec] = records;
    assert.equal(rec.operation, Operation.SEARCH);
    assert.deepEqual([...rec.tags].sort(), ["cli-search", "web"]);
    assert.equal(rec.deployment, "mock/search");
    assert.equal(rec.metadata.ticket, "9");
  });

  test("the system's Node 20 runs it too", { skip: !existsSync(SYSTEM_NODE) }, async () => {
    const r = exited(await cli(["search", "old node", "--max-results", "1"], { node: SYSTEM_NODE }), 0);
    assert.deepEqual(rowsOf(r.stdout)[1], ["1", 'Mock result 1 for "old node"', "https://old-node-1.example.com/", "-"]);
  });
});
