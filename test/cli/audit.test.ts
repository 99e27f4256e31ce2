// `signalbox audit` as users run it: the built bundle in a child process against a real gateway
// started in process (the in-memory control store). An admin key creates a team and keys and
// updates one of them, through the typed client and through the CLI; the audit log then lists
// those changes newest first with actor, action, target and the fields changed, filters by target
// and actor, follows pages up to --limit, and prints the API's JSON and CSV; a service key is
// refused (exit 1) and bad flags are bad usage (exit 2).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { BudgetPeriod, createSignalboxClient, KeyRole, ListAuditEventsResponseSchema, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, ok, runCli, type CliRun } from "../helpers/cli.ts";

const key = (...p: string[]) => ["sbx", "test", "cliaudit", ...p].join("_");
const ADMIN = key("admin");
const SVC = key("svc");

const YAML = `${MOCK_CONFIG}teams:
  - name: ops
keys:
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
  - { name: ops-svc, hash: "${hashKey(SVC)}", team: ops, role: service }
`;

let g: TestGateway;
let tmp: string;
let admin: SignalboxClient;

const cli = (args: string[], apiKey = ADMIN): Promise<CliRun> => runCli(g.url, ["--api-key", apiKey, ...args], { cwd: tmp });

/** The table's rows (header first), each split into its cells on runs of two or more spaces. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));

describe("signalbox audit", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-audit-"));
    g = await startTestGateway(YAML);
    admin = createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN });
    // Through the typed client: a team, two keys, a budget on one of them.
    await admin.admin.createTeam({ team: { name: "audited" } });
    await admin.admin.createKey({ key: { name: "audited-key", team: "audited", role: KeyRole.SERVICE } });
    await admin.admin.createKey({ key: { name: "bystander", team: "audited", role: KeyRole.SERVICE } });
    await admin.admin.updateKey({ key: { name: "audited-key", budget: { period: BudgetPeriod.MONTH, limitUsd: 10 } }, updateMask: { paths: ["budget"] } });
    // Through the CLI: a rate limit on it.
    ok(await cli(["keys", "update", "audited-key", "--rpm", "60"]), "keys update");
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("lists every change newest first: time, actor, action, target, changes", async () => {
    const r = ok(await cli(["audit"]));
    const [head, ...rows] = rowsOf(r.stdout);
    assert.deepEqual(head, ["TIME", "ACTOR", "ACTION", "TARGET", "CHANGES"]);
    assert.deepEqual(
      rows.map((c) => c.slice(1)),
      [
        ["root", "key.update", "key:audited-key", "limits"],
        ["root", "key.update", "key:audited-key", "budget"],
        ["root", "key.create", "key:bystander", "created"],
        ["root", "key.create", "key:audited-key", "created"],
        ["root", "team.create", "team:audited", "created"],
      ],
    );
    const times = rows.map((c) => c[0]);
    for (const t of times) assert.match(t, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual([...times].sort().reverse(), times, "newest first");
    assert.equal(r.stderr, "");
  });

  test("--target key:<name>: only that key's changes; --actor; a time range", async () => {
    const r = ok(await cli(["audit", "--target", "key:audited-key"]));
    assert.deepEqual(
      rowsOf(r.stdout)
        .slice(1)
        .map((c) => [c[2], c[3], c[4]]),
      [
        ["key.update", "key:audited-key", "limits"],
        ["key.update", "key:audited-key", "budget"],
        ["key.create", "key:audited-key", "created"],
      ],
    );
    assert.equal(rowsOf(ok(await cli(["audit", "--actor", "root", "--since", "10m"])).stdout).length - 1, 5);
    assert.equal(ok(await cli(["audit", "--actor", "ops-svc"])).stdout, "no audit events match\n");
    assert.equal(ok(await cli(["audit", "--until", "1h"])).stdout, "no audit events match\n");
  });

  test("--limit follows pages up to n and says when there are more", async () => {
    const r = ok(await cli(["audit", "--limit", "2"]));
    assert.deepEqual(
      rowsOf(r.stdout)
        .slice(1)
        .map((c) => c[4]),
      ["limits", "budget"],
    );
    assert.match(r.stderr, /showing the newest 2; raise --limit/);
    const all = ok(await cli(["audit", "--limit", "5"]));
    assert.equal(rowsOf(all.stdout).length - 1, 5);
  });

  test("--json is the API's JSON; --csv has a header and a row per event", async () => {
    const r = ok(await cli(["audit", "--target", "key:audited-key", "--json"]));
    const res = await admin.admin.listAuditEvents({ target: "key:audited-key" });
    const got = JSON.parse(r.stdout) as { events: { action: string; actor: string; after: { limits?: unknown } }[] };
    const events = got.events;
    assert.deepEqual(got, toJson(ListAuditEventsResponseSchema, res));
    assert.deepEqual(
      events.map((e: { action: string; actor: string }) => [e.actor, e.action]),
      [
        ["root", "key.update"],
        ["root", "key.update"],
        ["root", "key.create"],
      ],
    );
    assert.deepEqual(events[0]!.after.limits, { requestsPerMinute: 60 });

    const c = ok(await cli(["audit", "--csv", "--target", "key:audited-key"]));
    const lines = c.stdout.trimEnd().split("\r\n");
    assert.equal(lines[0], "id,time,actor,action,target,changes,replica,trace_id");
    assert.equal(lines.length, 4);
    assert.match(lines[1], /^[^,]+,\d{4}-\d{2}-\d{2}T[\d:.]+Z,root,key.update,key:audited-key,limits,/);
  });

  test("a service key is refused (exit 1, permission_denied); bad flags are bad usage (exit 2)", async () => {
    const r = exited(await cli(["audit"], SVC), 1, "audit as a service key");
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /permission_denied/);
    assert.match(r.stderr, /hint: .*admin key/);
    exited(await cli(["audit", "--limit", "0"]), 2, "--limit 0");
    exited(await cli(["audit", "--since", "yesterday"]), 2, "--since yesterday");
    exited(await cli(["audit", "--target", "key:"]), 2, "--target key:");
    exited(await cli(["audit", "--since", "1h", "--until", "2h"]), 2, "--until before --since");
  });
});
