// `signalbox exports` as users run it: the built bundle in a child process (Node 24, and the
// system's Node 20) against a real gateway whose config archives usage records to two S3 buckets
// (the fake S3 of test/fakes/object-stores.ts, SigV4 checked). The list shows each export's
// destination (never a credential), what it sent and what waits, as a table, CSV or the API's own
// JSON; `exports flush [name]` sends what waits (the one named, or every export) and prints each
// export's state after: the record is then in the bucket. While the store fails, flush prints the
// error and exits 1, the record still waiting; once the store is back it is sent. An unknown
// export is not found, a team key is refused, extra arguments are bad usage (exit 2), and a gateway
// without exports says so.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { toJson } from "@bufbuild/protobuf";
import { createSignalboxClient, ListUsageExportsResponseSchema, type SignalboxClient, userText } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { FAKE_S3_CREDS, startFakeS3, type FakeObjectStore, objectLines } from "../fakes/object-stores.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, ok, runCli, SYSTEM_NODE } from "../helpers/cli.ts";
import { poll } from "../helpers/wait.ts";

// Built at run time so no literal key sits in the source.
const key = (...p: string[]) => ["sbx", "test", "cliexports", ...p].join("_");
const ADMIN = key("admin");
const TEAM = key("team");

const config = (exportsYaml: string) => `
providers:
  - { name: mock, type: mock, mock: { ttft_ms: 0, chunks: 2 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
routes:
  - { name: chat, targets: [mock/a] }
keys:
  - { name: admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
  - { name: team-a, hash: "${hashKey(TEAM)}", team: a, role: team }
${exportsYaml}
`;

const HEADER = ["NAME", "TYPE", "DESTINATION", "CONTENT", "EVERY", "EXPORTED", "OBJECTS", "WAITING", "DROPPED", "LAST EXPORT", "FAILING SINCE", "ERROR"];

let s3: FakeObjectStore & { region: string };
let g: TestGateway;
let tmp: string;
let admin: SignalboxClient;
const cli = (args: string[], apiKey = ADMIN, node?: string, url = g.url) => runCli(url, ["--api-key", apiKey, ...args], { cwd: tmp, ...(node ? { node } : {}) });
/** The table's rows, cells split on two or more spaces (an empty FAILING SINCE and ERROR leave a row short). */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));
const rowOf = (stdout: string, name: string) => {
  const rows = rowsOf(stdout);
  const r = rows.find((x) => x[0] === name);
  assert.ok(r, `a row for ${name} in:\n${stdout}`);
  return Object.fromEntries(rows[0].map((h, i) => [h, r[i] ?? ""]));
};
/** The ids of the records in a bucket's objects. */
const archivedIds = (bucket: string) => objectLines(s3.objects(bucket)).map((l) => l.id as string);
/** One chat request; resolves with its id once its record is kept (and so queued for export). */
async function ask(text: string): Promise<string> {
  const before = g.usage.recent().length;
  const res = await admin.chat.complete({ model: "chat", messages: [userText(text)] });
  await poll(async () => (g.usage.recent().length > before ? true : undefined), 5000, "the request's record");
  return res.id;
}

describe("signalbox exports", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-exports-"));
    s3 = await startFakeS3({ buckets: ["usage-archive", "usage-cold"] });
    const s3Export = (name: string, bucket: string, prefix: string) =>
      `  - { name: ${name}, type: s3, bucket: ${bucket}, prefix: ${prefix}, region: ${s3.region}, endpoint: ${s3.url}, access_key_id: ${FAKE_S3_CREDS.accessKeyId}, secret_access_key: "${FAKE_S3_CREDS.secretAccessKey}", flush_seconds: 3600 }`;
    g = await startTestGateway(config(`usage_export:\n${s3Export("archive", "usage-archive", "archive/cli")}\n${s3Export("cold", "usage-cold", "cold")}`));
    admin = createSignalboxClient({ baseUrl: g.url, apiKey: ADMIN, opentelemetry: false });
  });
  after(async () => {
    s3?.failNext(0);
    await g?.close();
    await s3?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("the list: each export's destination (no credential), nothing sent yet; CSV; --json the API's answer", async () => {
    const [listRun, csvRun, jsonRun] = await Promise.all([cli(["exports"]), cli(["exports", "list", "--csv"]), cli(["exports", "--json"])]);
    const list = ok(listRun).stdout;
    assert.deepEqual(rowsOf(list)[0], HEADER);
    const archive = rowOf(list, "archive");
    assert.equal(archive.TYPE, "s3");
    assert.equal(archive.CONTENT, "no");
    assert.match(archive.DESTINATION, /^s3:\/\/usage-archive\/archive\/cli \(127\.0\.0\.1:\d+\)$/);
    assert.deepEqual([archive.EVERY, archive.EXPORTED, archive.OBJECTS, archive.WAITING, archive.DROPPED, archive["LAST EXPORT"]], ["1h", "0", "0", "0", "0", "never"]);
    assert.match(rowOf(list, "cold").DESTINATION, /^s3:\/\/usage-cold\/cold /);
    assert.ok(!list.includes(FAKE_S3_CREDS.accessKeyId) && !list.includes(FAKE_S3_CREDS.secretAccessKey), "no credential");

    const lines = ok(csvRun).stdout.trimEnd().split("\r\n").map((l) => l.split(","));
    assert.deepEqual(lines[0], ["name", "type", "destination", "capture_content", "flush_seconds", "exported_records", "objects", "waiting_records", "dropped_records", "last_export_time", "failing_since", "error"]);
    assert.deepEqual(lines.slice(1).map((l) => [l[0], l[3], l[4], l[5], l[7]]), [
      ["archive", "false", "3600", "0", "0"],
      ["cold", "false", "3600", "0", "0"],
    ]);

    assert.deepEqual(JSON.parse(ok(jsonRun).stdout), toJson(ListUsageExportsResponseSchema, await admin.admin.listUsageExports({})));
  });

  test("flush one export: its state after, the record in its bucket; the other still waits; flush every export on Node 20", async () => {
    const id = await ask("archive me from the command line");
    const waitingRow = rowOf(ok(await cli(["exports"])).stdout, "archive");
    assert.equal(waitingRow.WAITING, "1");
    assert.equal(s3.objects("usage-archive").length, 0, "nothing is sent before a flush");

    const flushed = ok(await cli(["exports", "flush", "archive"])).stdout;
    assert.deepEqual(rowsOf(flushed)[0], HEADER);
    assert.equal(rowsOf(flushed).length, 2, "only the export named");
    const archive = rowOf(flushed, "archive");
    assert.deepEqual([archive.EXPORTED, archive.OBJECTS, archive.WAITING], ["1", "1", "0"]);
    assert.match(archive["LAST EXPORT"], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    assert.deepEqual(archivedIds("usage-archive"), [id]);
    assert.ok(s3.objects("usage-archive")[0].key.startsWith("archive/cli/dt="));
    assert.equal(s3.objects("usage-cold").length, 0);
    assert.equal(rowOf(ok(await cli(["exports"])).stdout, "cold").WAITING, "1");

    const every = ok(await cli(["exports", "flush"], ADMIN, existsSync(SYSTEM_NODE) ? SYSTEM_NODE : undefined), "flush on Node 20").stdout;
    assert.deepEqual(
      rowsOf(every)
        .slice(1)
        .map((r) => [r[0], r[5], r[7]]),
      [
        ["archive", "1", "0"],
        ["cold", "1", "0"],
      ],
    );
    assert.deepEqual(archivedIds("usage-cold"), [id]);
    if (existsSync(SYSTEM_NODE)) assert.equal(rowOf(ok(await cli(["exports"], ADMIN, SYSTEM_NODE), "list on Node 20").stdout, "cold").EXPORTED, "1");
  });

  test("while the store fails, flush prints the error and exits 1, the record kept; once it is back, flush sends it", async () => {
    s3.failNext(1000, 503);
    const id = await ask("archive me while the store is down");
    // Three tries, 0.5 s and 2 s apart, then the answer.
    const down = exited(await cli(["exports", "flush", "archive"]), 1);
    const archive = rowOf(down.stdout, "archive");
    assert.deepEqual([archive.EXPORTED, archive.WAITING], ["1", "1"]);
    assert.match(archive["FAILING SINCE"], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    assert.match(archive.ERROR, /S3 answered HTTP 503/);
    assert.match(down.stderr, /^error: usage export "archive" still failing \(1 waiting\): .*S3 answered HTTP 503/m);
    assert.match(down.stderr, /^hint: /m);

    const downJson = exited(await cli(["exports", "flush", "archive", "--json"]), 1);
    const parsed = JSON.parse(downJson.stdout) as { exports: { name: string; error: string; bufferedRecords: string; failingSince: string }[] };
    assert.equal(parsed.exports.length, 1);
    assert.match(parsed.exports[0].error, /S3 answered HTTP 503/);
    assert.equal(parsed.exports[0].bufferedRecords, "1");
    assert.match(parsed.exports[0].failingSince, /^\d{4}-/);
    assert.ok(!archivedIds("usage-archive").includes(id));

    s3.failNext(0);
    const back = ok(await cli(["exports", "flush", "archive"])).stdout;
    const after = rowOf(back, "archive");
    assert.deepEqual([after.EXPORTED, after.WAITING, after["FAILING SINCE"], after.ERROR], ["2", "0", "", ""]);
    assert.ok(archivedIds("usage-archive").includes(id));
  });

  test("an unknown export is not found; a team key is refused; extra arguments are bad usage", async () => {
    const [unknown, team, teamList, extra] = await Promise.all([cli(["exports", "flush", "nope"]), cli(["exports", "flush"], TEAM), cli(["exports"], TEAM), cli(["exports", "flush", "archive", "cold"])]);
    exited(unknown, 1);
    assert.match(unknown.stderr, /no usage export named "nope" \(usage exports in force: archive, cold\) \(not_found\)/);
    exited(team, 1);
    assert.match(team.stderr, /\(permission_denied\)/);
    exited(teamList, 1);
    assert.match(teamList.stderr, /\(permission_denied\)/);
    exited(extra, 2);
    assert.match(extra.stderr, /too many arguments/);
  });

  test("a gateway without usage_export says so", async () => {
    const bare = await startTestGateway(config(""));
    try {
      const r = ok(await cli(["exports"], ADMIN, undefined, bare.url));
      assert.equal(r.stdout, "no usage exports (usage_export: in the config file archives every request to S3, Cloud Storage or Azure Blob, or sends it to Datadog, Splunk, Langfuse or an HTTP endpoint)\n");
      assert.deepEqual(JSON.parse(ok(await cli(["exports", "--json"], ADMIN, undefined, bare.url)).stdout), {});
    } finally {
      await bare.close();
    }
  });
});
