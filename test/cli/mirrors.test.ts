// `signalbox mirrors` as users run it: the built bundle in a child process (Node 24, and the
// system's Node 20) against a real gateway whose route `chat` (the mock's mock-a) is mirrored to
// mock-b; a failing route mirrored too. The table shows both sides of each route and target, the
// summary line and the least alike pairs; CSV one row per route and target; --json the API's own
// answer; bad flags are bad usage (exit 2) with nothing sent; another team sees no mirrors.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { createSignalboxClient, GetMirrorReportResponseSchema, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { mirrorConfig } from "../helpers/mirror-config.ts";
import { buildCliIfStale, exited, ok, runCli, SYSTEM_NODE } from "../helpers/cli.ts";

const key = (...p: string[]) => ["sbx", "test", "climirror", ...p].join("_");
const TEAM_A = key("team", "a");
const TEAM_B = key("team", "b");

const YAML = mirrorConfig('The second one. {"better": "2", "reason": "It is longer."}', `  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }`);

let g: TestGateway;
let tmp: string;
const cli = (args: string[], apiKey = TEAM_A, node?: string) => runCli(g.url, ["--api-key", apiKey, ...args], { cwd: tmp, ...(node ? { node } : {}) });
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));

describe("signalbox mirrors", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-mirrors-"));
    g = await startTestGateway(YAML);
    const a = createSignalboxClient({ baseUrl: g.url, apiKey: TEAM_A });
    for (let i = 0; i < 3; i++) await a.chat.complete({ model: "chat", messages: [userText(`question number ${i}`)] });
    await a.chat.complete({ model: "down", messages: [userText("will it answer")] }).catch(() => {});
    await a.chat.complete({ model: "judged", messages: [userText("judge this")] });
    for (let i = 0; i < 300 && g.gw.engine.mirrors.running() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  });
  after(async () => {
    await g.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("the table: each route and its mirror side by side, the summary, the least alike pairs", async () => {
    const r = ok(await cli(["mirrors"]));
    const rows = rowsOf(r.stdout);
    assert.deepEqual(rows[0], ["ROUTE", "MIRROR", "SIDE", "OK", "FAILED", "P50", "P95", "TTFT P50", "OUTPUT TOKENS", "COST", "ANSWERED BY"]);
    const chat = rows.findIndex((x) => x[0] === "chat");
    assert.deepEqual(rows[chat].slice(1, 5), ["mock/b", "route", "3", "0"]);
    assert.equal(rows[chat].at(-1), "mock/a 3");
    assert.deepEqual(rows[chat + 1].slice(0, 3), ["mirror", "3", "0"]);
    assert.equal(rows[chat + 1].at(-1), "mock/b 3");
    const down = rows.findIndex((x) => x[0] === "down");
    assert.deepEqual(rows[down].slice(1, 5), ["mock/b", "route", "0", "1"]);
    assert.match(r.stdout, /chat → mock\/b: 3 mirrored, 3 compared, mean similarity \d\.\d{3}; the mirror failed where the route answered 0, answered where it failed 0/);
    assert.match(r.stdout, /down → mock\/b: 1 mirrored, 0 compared, mean similarity -; the mirror failed where the route answered 0, answered where it failed 1/);
    assert.match(r.stdout, /least alike:\nSIMILARITY +REQUEST +MIRROR REQUEST +TIME\n +\d\.\d{3} +req_/);
    // The judged route: the judge's line, and the verdict on its pair (answer 2 is the mirror's or the route's, as drawn).
    assert.match(r.stdout, /judged → mock\/b: 1 mirrored, 1 compared, mean similarity \d\.\d{3} \(in meaning \d\.\d{3}\)/);
    assert.match(r.stdout, /judge: the mirror's answer better [01], the route's [01], as good 0, of 1 judged\n/);
    assert.match(r.stdout, /SIMILARITY +MEANING +REQUEST +MIRROR REQUEST +TIME +VERDICT +WHY\n +\d\.\d{3} +\d\.\d{3} +req_\S+ +req_\S+ +.+ +(mirror|route) better +It is longer\./);
  });

  test("--route, --least-alike; --csv one row per route and target; --json the API's answer; on Node 20 too", async () => {
    const only = ok(await cli(["mirrors", "--route", "chat", "--least-alike", "1"]));
    assert.doesNotMatch(only.stdout, /^down/m);
    assert.equal(only.stdout.split("least alike:\n")[1].trimEnd().split("\n").length, 2);

    const c = ok(await cli(["mirrors", "--csv"]));
    const lines = c.stdout.trimEnd().split("\r\n").map((l) => l.split(","));
    assert.deepEqual(lines[0].slice(0, 14), ["route", "target", "count", "compared", "mean_similarity", "semantic_compared", "mean_semantic_similarity", "mirror_failed_only", "mirror_answered_only", "judged", "mirror_better", "route_better", "ties", "route_ok"]);
    assert.deepEqual(lines.slice(1).map((l) => [l[0], l[1], l[2], l[9]]), [
      ["chat", "mock/b", "3", "0"],
      ["down", "mock/b", "1", "0"],
      ["judged", "mock/b", "1", "1"],
    ]);

    const j = ok(await cli(["mirrors", "--json"]));
    const api = await createSignalboxClient({ baseUrl: g.url, apiKey: TEAM_A }).usage.getMirrorReport({});
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.summaries.length, 3);
    assert.deepEqual(
      parsed.summaries.map((s: { route: string; count: string }) => [s.route, s.count]),
      (toJson(GetMirrorReportResponseSchema, api) as { summaries: { route: string; count: string }[] }).summaries.map((s) => [s.route, s.count]),
    );

    if (existsSync(SYSTEM_NODE)) {
      const old = ok(await cli(["mirrors", "--route", "chat"], TEAM_A, SYSTEM_NODE), "on Node 20");
      assert.match(old.stdout, /chat → mock\/b: 3 mirrored/);
    }
  });

  test("bad flags are bad usage; another team sees no mirrors", async () => {
    const bad = exited(await cli(["mirrors", "--least-alike", "99"]), 2);
    assert.match(bad.stderr, /least-alike/);
    const backwards = exited(await cli(["mirrors", "--since", "1h", "--until", "2h"]), 2);
    assert.match(backwards.stderr, /--until must be after --since/);
    const b = ok(await cli(["mirrors"], TEAM_B));
    assert.equal(b.stdout, "no mirrored requests in this range\n");
  });
});
