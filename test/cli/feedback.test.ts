// `signalbox feedback give` and `feedback summary` as users run them: the built bundle in a child
// process against a real gateway started in process, with an A/B route on the mock provider and
// keys for two teams. Requests are made over HTTP (their ids from the x-request-id and
// x-signalbox-trace-id headers), scored from the command line by request id and by trace id, and
// compared by variant as a table, CSV and the API's JSON; bad flags are bad usage (exit 2) with
// nothing sent, and another team's request is not found (exit 1).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { createSignalboxClient, Dimension, GetFeedbackSummaryResponseSchema, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, type CliRun } from "../helpers/cli.ts";
import { abConfig, askAb, askBoth, type Answered } from "../helpers/ab-route.ts";

const key = (...p: string[]) => ["sbx", "test", "clifb", ...p].join("_");
const TEAM_A = key("team", "a");
const TEAM_B = key("team", "b");

const YAML = abConfig(`  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }`);

let g: TestGateway;
let tmp: string;
let a: SignalboxClient;
const answered: Answered[] = [];
let other: Answered;

/** Run the built CLI as `apiKey` (team a's by default). */
const cli = (args: string[], apiKey = TEAM_A): Promise<CliRun> => runCli(g.url, ["--api-key", apiKey, ...args], { cwd: tmp });

/** The table's rows (header first), each split into its cells on runs of two or more spaces. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));

/** CSV as the CLI writes it (CRLF lines; these cells are never quoted). */
const csvRows = (text: string) =>
  text
    .trimEnd()
    .split("\r\n")
    .map((l) => l.split(","));

/** How many scores team a's key sees in all. */
const total = async () => (await a.usage.getFeedbackSummary({})).rows[0]?.count ?? 0n;

const n = (variant: string) => answered.filter((x) => x.variant === variant).length;

describe("signalbox feedback", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-feedback-"));
    g = await startTestGateway(YAML);
    a = createSignalboxClient({ baseUrl: g.url, apiKey: TEAM_A });
    answered.push(...(await askBoth(g.url, TEAM_A, 8)));
    other = await askAb(g.url, TEAM_B, "someone-else");
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("give: by request id (the ids as fields) and by trace id (the API's JSON), --up, --down, --value, --weight and --meta", async () => {
    // Candidates get a thumbs up, controls -2 (every other one as --down with weight 0: the
    // weighted mean counts only the -2s). Each scores its own request: all given at once, checked in turn.
    const scoreOf = (r: (typeof answered)[number], i: number) => (r.variant === "candidate" ? ["--up"] : i % 4 < 2 ? ["--value", "-2"] : ["--down", "--weight", "0"]);
    const runs = await Promise.all(
      answered.map((r, i) =>
        i % 2 === 0
          ? cli(["feedback", "give", r.requestId, ...scoreOf(r, i), "--meta", "comment=fine, thanks", "--meta", "ui=cli"])
          : cli(["feedback", "give", r.traceId.toUpperCase(), ...scoreOf(r, i), "--json"]),
      ),
    );
    for (const [i, r] of answered.entries()) {
      if (i % 2 === 0) {
        const run = ok(runs[i], `give ${r.requestId}`);
        const f = fieldsOf(run.stdout);
        assert.match(f.get("FEEDBACK") ?? "", /^fb_[\w-]{22}$/, run.stdout);
        assert.equal(f.get("REQUEST"), r.requestId);
        assert.equal(f.get("META comment"), "fine, thanks");
        assert.equal(run.stderr, "");
      } else {
        const run = ok(runs[i], `give ${r.traceId}`);
        const body = JSON.parse(run.stdout) as { feedbackId: string; requestId: string };
        assert.match(body.feedbackId, /^fb_/);
        assert.equal(body.requestId, r.requestId, "the trace's request");
      }
    }
    assert.equal(await total(), BigInt(answered.length));
  });

  test("summary --by variant: a table with the group, COUNT, +, −, MEAN and WEIGHTED MEAN; CSV; the API's JSON; filters", async () => {
    const controls = answered.map((r, i) => ({ r, i })).filter(({ r }) => r.variant === "control");
    const minusTwo = controls.filter(({ i }) => i % 4 < 2).length;
    const expectMean = (controls.filter(({ i }) => i % 4 < 2).length * -2 + controls.filter(({ i }) => i % 4 >= 2).length * -1) / controls.length;
    const expectWeighted = minusTwo ? -2 : 0;

    // Summaries only read: all at once, checked in turn.
    const [tableRun, csvRun, jsonRun, filteredRun, viaFilterRun, oneRun, emptyRun] = await Promise.all([
      cli(["feedback", "summary", "--by", "variant", "--since", "1h"]),
      cli(["feedback", "summary", "--by", "variant,deployment", "--csv"]),
      cli(["feedback", "summary", "--by", "variant", "--json"]),
      cli(["feedback", "summary", "--by", "deployment", "--variant", "candidate", "--route", "ab", "--team", "a"]),
      cli(["feedback", "summary", "--filter", "variant=control", "--json"]),
      cli(["feedback", "summary"]),
      cli(["feedback", "summary", "--since", "2h", "--until", "1h"]),
    ]);
    const rows = rowsOf(ok(tableRun).stdout);
    assert.deepEqual(rows[0], ["VARIANT", "COUNT", "+", "−", "MEAN", "WEIGHTED MEAN"]);
    const by = new Map(rows.slice(1).map((r) => [r[0], r]));
    assert.deepEqual(by.get("candidate"), ["candidate", String(n("candidate")), String(n("candidate")), "0", "+1.00", "+1.00"]);
    assert.deepEqual(by.get("control"), ["control", String(n("control")), "0", String(n("control")), expectMean.toFixed(2), expectWeighted.toFixed(2)]);

    const csv = csvRows(ok(csvRun).stdout);
    assert.deepEqual(csv[0], ["variant", "deployment", "count", "positive", "negative", "mean_value", "weighted_mean_value"]);
    const control = csv.find((r) => r[0] === "control")!;
    assert.deepEqual(control.slice(0, 5), ["control", "mock/a", String(n("control")), "0", String(n("control"))]);
    assert.equal(Number(control[5]), Number(expectMean.toFixed(4)));
    assert.deepEqual(csv.find((r) => r[0] === "candidate"), ["candidate", "mock/b", String(n("candidate")), String(n("candidate")), "0", "1", "1"]);

    const json = JSON.parse(ok(jsonRun).stdout);
    assert.deepEqual(json, toJson(GetFeedbackSummaryResponseSchema, await a.usage.getFeedbackSummary({ groupBy: [Dimension.VARIANT] })));

    const filtered = rowsOf(ok(filteredRun).stdout);
    assert.deepEqual(filtered, [["DEPLOYMENT", "COUNT", "+", "−", "MEAN", "WEIGHTED MEAN"], ["mock/b", String(n("candidate")), String(n("candidate")), "0", "+1.00", "+1.00"]]);
    const viaFilter = JSON.parse(ok(viaFilterRun).stdout) as { rows: { count: string }[] };
    assert.deepEqual(viaFilter.rows.map((r) => r.count), [String(n("control"))]);
    const one = rowsOf(ok(oneRun).stdout);
    assert.deepEqual(one[0], ["COUNT", "+", "−", "MEAN", "WEIGHTED MEAN"], "no --by: one row");
    assert.equal(one[1][0], String(answered.length));
    assert.equal(ok(emptyRun).stdout, "no feedback in this range\n");
  });

  test("scoring a request again replaces its score", async () => {
    const r = answered.find((x) => x.variant === "candidate")!;
    ok(await cli(["feedback", "give", r.requestId, "--value", "-10", "--meta", "comment=changed my mind"]));
    const json = JSON.parse(ok(await cli(["feedback", "summary", "--variant", "candidate", "--json"])).stdout) as { rows: { count: string; negative: string; meanValue: number }[] };
    assert.equal(json.rows[0].count, String(n("candidate")), "replaced, not added");
    assert.equal(json.rows[0].negative, "1");
    assert.equal(json.rows[0].meanValue, (n("candidate") - 1 - 10) / n("candidate"));
    // `signalbox request` shows the request's scores under its attempts.
    const shown = ok(await cli(["request", r.requestId])).stdout;
    assert.match(shown, /\nFEEDBACK\n/);
    assert.match(shown, /-10 +1 +team-a .*changed my mind/);
  });

  test("bad usage exits 2 naming what is wrong, and nothing is sent", async () => {
    const before = await total();
    const r = answered[0];
    // The flags' own checks, in process (each spawned run costs half a second)…
    const { parseMeta, parseScored, parseValue } = await import("../../clients/cli/src/commands/feedback.ts");
    for (const v of ["-11", "0.5", "one", "11"]) assert.throws(() => parseValue(v), new RegExp(`"${v}" is not a score: a whole number from -10 to 10`));
    assert.equal(parseValue("+3"), 3);
    assert.throws(() => parseMeta("no-equals-sign"), /expected key=value, got "no-equals-sign"/);
    assert.throws(() => parseScored(r.traceId.slice(1)), /is neither a request id/);
    assert.deepEqual(parseScored(r.traceId.toUpperCase()), { traceId: r.traceId });
    // …and, through the built CLI, what the commands check (one case of each kind).
    const cases: [string[], RegExp][] = [
      [["feedback", "give", r.requestId, "--value", "11"], /"11" is not a score: a whole number from -10 to 10/],
      [["feedback", "give", r.requestId, "--up", "--weight", "1.5"], /"1.5" is not a number between 0 and 1/],
      [["feedback", "give", r.requestId], /no score given/],
      [["feedback", "give", r.requestId, "--up", "--value", "3"], /--value and --up cannot be used together/],
      [["feedback", "give", "not-an-id", "--up"], /"not-an-id" is neither a request id \(req_…, the x-request-id header\) nor a trace id/],
      [["feedback", "give", r.requestId, "--up", "--csv"], /--csv is not available here/],
      [["feedback", "summary", "--by", "variant,tag"], /"tag" is not one of key, team, user, route, deployment, provider, variant/],
      [["feedback", "summary", "--filter", "status=ok"], /"status=ok" is not a filter/],
      [["feedback", "summary", "--since", "1h", "--until", "2h"], /--until must be after --since/],
    ];
    // Independent runs: at once, checked in order.
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = exited(runs[i], 2, args.join(" "));
      assert.match(run.stderr, message, args.join(" "));
      assert.equal(run.stdout, "", args.join(" "));
    }
    assert.equal(await total(), before, "nothing was stored");
  });

  test("another team's request is not found (exit 1, the field named); that team sees no feedback", async () => {
    // Three refusals (nothing is stored), at once, checked in turn.
    const [byIdRun, byTraceRun, crossRun] = await Promise.all([
      cli(["feedback", "give", answered[0].requestId, "--up"], TEAM_B),
      cli(["feedback", "give", answered[0].traceId, "--down"], TEAM_B),
      // Team a may not score team b's request either.
      cli(["feedback", "give", other.requestId, "--up"]),
    ]);
    const byId = exited(byIdRun, 1);
    assert.equal(byId.stdout, "");
    assert.match(byId.stderr, new RegExp(`^error: request_id: no request "${answered[0].requestId}" that this key may read \\(not_found\\)\\n  field: request_id\\n(  trace: [0-9a-f]{32}\\n)?hint: check the name or id`));
    const byTrace = exited(byTraceRun, 1);
    assert.match(byTrace.stderr, new RegExp(`^error: trace_id: no request with trace ${answered[0].traceId} that this key may read \\(not_found\\)`));
    exited(crossRun, 1);
    // Team b may score its own.
    assert.equal(fieldsOf(ok(await cli(["feedback", "give", other.traceId, "--value", "4"], TEAM_B)).stdout).get("REQUEST"), other.requestId);
    const [rowsBRun, deniedRun] = await Promise.all([cli(["feedback", "summary", "--by", "team"], TEAM_B), cli(["feedback", "summary", "--team", "a"], TEAM_B)]);
    const rowsB = rowsOf(ok(rowsBRun).stdout);
    assert.deepEqual(rowsB, [["TEAM", "COUNT", "+", "−", "MEAN", "WEIGHTED MEAN"], ["b", "1", "1", "0", "+4.00", "+4.00"]]);
    const denied = exited(deniedRun, 1);
    assert.match(denied.stderr, /\(permission_denied\)/);
  });
});
