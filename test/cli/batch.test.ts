// `signalbox batches` and `signalbox batch create|get|cancel|output` as users run them: the built
// bundle in a child process (Node 24, and the system's Node 20), against a real gateway started in
// process with mock deployments and caller keys (the CLI's REST calls carry --api-key as
// "Authorization: Bearer …"). Also: reading an endpoint from a file's lines, on its own.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { type Batch, endpointOfLines } from "../../clients/cli/src/commands/batch.ts";
import { dollars } from "../../clients/cli/src/format.ts";

type Run = CliRun;

const k = (...p: string[]) => ["sbx", "test", "clibatch", ...p].join("_");
const KEYS = { admin: k("admin"), teamA: k("team", "a"), teamB: k("team", "b") };

let g: TestGateway;
let tmp: string;

/** How often --wait looks here (SIGNALBOX_POLL_MS; a user's CLI looks every second). */
const POLL_MS = "50";

/** Run the built CLI against the gateway as `key` (default: team a's key; null: no key). */
function cli(args: string[], opts: { key?: string | null; node?: string; stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const key = opts.key === undefined ? KEYS.teamA : opts.key;
  return runCli(g?.url ?? "http://127.0.0.1:9", [...(key ? ["--api-key", key] : []), ...args], { cwd: tmp, node: opts.node, stdin: opts.stdin, env: { SIGNALBOX_POLL_MS: POLL_MS, ...opts.env } });
}



/** The table's rows (header first), each split into its cells on runs of two or more spaces. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));

const jsonl = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
const chatLine = (id: string, text: string, extra: Record<string, unknown> = {}, model = "chat") => ({
  custom_id: id,
  method: "POST",
  url: "/v1/chat/completions",
  body: { model, messages: [{ role: "user", content: text }], ...extra },
});

/** Write a file in the scratch directory; its path. */
function file(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

/** A JSONL file's lines, parsed. */
const parsed = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: any } | null; error: { code: string } | null });

describe("the endpoint a file's lines name (no gateway)", () => {
  test("one endpoint a batch may target, named by every line that parses; else none", () => {
    assert.equal(endpointOfLines(jsonl([chatLine("a", "x"), chatLine("b", "y")])), "/v1/chat/completions");
    assert.equal(endpointOfLines(`{not json\n${JSON.stringify(chatLine("a", "x"))}\n\n`), "/v1/chat/completions", "a malformed line is the gateway's to name");
    assert.equal(endpointOfLines(jsonl([chatLine("a", "x"), { ...chatLine("b", "y"), url: "/v1/embeddings" }])), undefined, "two endpoints");
    assert.equal(endpointOfLines(jsonl([{ ...chatLine("a", "x"), url: "/v1/images/generations" }])), undefined, "not a batch endpoint");
    assert.equal(endpointOfLines("{not json\n"), undefined);
  });
});

describe("signalbox batch against a gateway", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-batch-"));
    g = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: slow, type: mock, mock: { ttft_ms: 200 } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: slow/chat, provider: slow, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: chat, targets: [mock/chat] }
  - { name: slow, targets: [slow/chat] }
batches: { concurrency: 1 }
keys:
  - { name: admin, hash: "${hashKey(KEYS.admin)}", team: ops, role: admin }
  - { name: team-a, hash: "${hashKey(KEYS.teamA)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(KEYS.teamB)}", team: b, role: team }
`);
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  let first: Batch;

  test("create --wait: uploads, creates, follows the batch to its end; the summary shows 3 completed", async () => {
    const input = file("three.jsonl", jsonl([chatLine("one", "Say one"), chatLine("two", "Say two"), chatLine("three", "Say three")]));
    const r = ok(await cli(["batch", "create", input, "--endpoint", "/v1/chat/completions", "--metadata", "job=nightly", "--metadata", "owner=ci", "--wait"]));
    const f = fieldsOf(r.stdout);
    assert.match(f.get("ID") ?? "", /^batch_[0-9a-f]+$/);
    assert.equal(f.get("STATUS"), "completed");
    assert.equal(f.get("ENDPOINT"), "/v1/chat/completions");
    assert.equal(f.get("REQUESTS"), "3 completed, 0 failed, 3 total");
    assert.match(f.get("TOKENS") ?? "", /^\d+ in, \d+ out$/);
    assert.match(f.get("COST") ?? "", /^\$0\.\d+$/);
    assert.match(f.get("INPUT FILE") ?? "", /^file-/);
    assert.match(f.get("OUTPUT FILE") ?? "", /^file-/);
    assert.ok(!f.has("ERROR FILE"), "no line failed: no error file");
    for (const t of ["CREATED", "IN PROGRESS", "FINALIZING", "COMPLETED", "EXPIRES"]) assert.match(f.get(t) ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/, t);
    assert.equal(f.get("META job"), "nightly");
    assert.equal(f.get("META owner"), "ci");
    assert.match(r.stderr, /three\.jsonl uploaded as file-\S+ \(\d[\d,]* bytes\); batch batch_\S+ created, waiting for it to finish/);

    // The same batch through the API (an admin key sees everything).
    const res = await fetch(`${g.url}/v1/batches/${f.get("ID")}`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
    first = (await res.json()) as Batch;
    assert.equal(first.status, "completed");
    assert.deepEqual(first.metadata, { job: "nightly", owner: "ci" });
    assert.equal(f.get("COST"), dollars(first.signalbox!.cost_nano_usd!));
    assert.ok(first.signalbox!.cost_nano_usd! > 0);
  });

  test("without --wait: the id and status, tab-separated, on stdout; the endpoint read from the lines; - is stdin", async () => {
    // Batches list newest first by created_at (whole seconds): the next ones are created in a later
    // second than the first, so it is the oldest (--wait no longer takes a second to look).
    await waitFor(() => (Math.floor(Date.now() / 1000) > first.created_at ? true : undefined), 2000);
    const input = file("one.jsonl", jsonl([chatLine("solo", "Say solo")]));
    const r = ok(await cli(["batch", "create", input]));
    assert.match(r.stdout, /^batch_[0-9a-f]+\tvalidating\n$/);
    assert.match(r.stderr, /follow the batch with `signalbox batch get batch_/);
    // The file on stdin (-), --json: the API's batch.
    const piped = ok(await cli(["batch", "create", "-", "--json"], { stdin: readFileSync(input, "utf8") }));
    assert.match(piped.stderr, /^stdin\.jsonl uploaded as file-/);
    const j = JSON.parse(piped.stdout) as Batch;
    assert.equal(j.object, "batch");
    assert.equal(j.endpoint, "/v1/chat/completions");
    assert.equal(j.status, "validating");
  });

  test("batches: newest first, as a table, CSV and JSON", async () => {
    // The listings only read: run at once, checked in turn.
    const [tableRun, jsonRun, csvRun, oneRun, twoRun, otherRun] = await Promise.all([
      cli(["batches"]),
      cli(["batches", "--json"]),
      cli(["batches", "--csv"]),
      cli(["batches", "--limit", "1"]),
      cli(["batches", "--limit", "2", "--json"]),
      cli(["batches"], { key: KEYS.teamB }),
    ]);
    const table = rowsOf(ok(tableRun).stdout);
    assert.deepEqual(table[0], ["ID", "STATUS", "ENDPOINT", "CREATED", "COMPLETED", "FAILED", "TOTAL", "COST", "METADATA"]);
    assert.equal(table.length, 4, "three batches so far");
    const row = table.find((c) => c[0] === first.id);
    assert.ok(row, "the first batch is listed");
    assert.deepEqual(row.slice(1), ["completed", "/v1/chat/completions", row[3], "3", "0", "3", dollars(first.signalbox!.cost_nano_usd!), "job=nightly, owner=ci"]);
    assert.equal(table.at(-1)![0], first.id, "the oldest last");

    const j = JSON.parse(ok(jsonRun).stdout) as { object: string; data: Batch[]; first_id: string; last_id: string; has_more: boolean };
    assert.equal(j.object, "list");
    assert.equal(j.has_more, false);
    assert.deepEqual(j.data.map((b) => b.id), table.slice(1).map((c) => c[0]));
    assert.equal(j.last_id, first.id);
    const mine = j.data.find((b) => b.id === first.id)!;
    assert.deepEqual(mine.request_counts, { total: 3, completed: 3, failed: 0 });
    assert.equal(mine.signalbox!.cost_nano_usd, first.signalbox!.cost_nano_usd);

    const csv = ok(csvRun).stdout.trimEnd().split("\r\n");
    assert.equal(csv[0], "id,status,endpoint,created,completed,failed,total,cost_usd,metadata");
    const line = csv.find((l) => l.startsWith(first.id))!;
    assert.match(line, /,completed,\/v1\/chat\/completions,\d{4}-\d\d-\d\dT[\d:.]+Z,3,0,3,0\.\d+,"\{""job"":""nightly"",""owner"":""ci""\}"$/);

    const one = ok(oneRun);
    assert.equal(rowsOf(one.stdout).length, 2);
    assert.match(one.stderr, /showing the newest 1; raise --limit to see more/);
    assert.equal(JSON.parse(ok(twoRun).stdout).has_more, true);

    // Another team's key sees none of them.
    assert.equal(ok(otherRun).stdout, "no batches\n");
  });

  test("batch get: counts, usage, cost, files and times; --json is the API's batch", async () => {
    const f = fieldsOf(ok(await cli(["batch", "get", first.id])).stdout);
    assert.equal(f.get("ID"), first.id);
    assert.equal(f.get("REQUESTS"), "3 completed, 0 failed, 3 total");
    assert.equal(f.get("TOKENS"), `${first.usage!.input_tokens} in, ${first.usage!.output_tokens} out`);
    assert.equal(f.get("OUTPUT FILE"), first.output_file_id);
    assert.equal(f.get("INPUT FILE"), first.input_file_id);
    assert.equal(f.get("COST"), dollars(first.signalbox!.cost_nano_usd!));
    const j = JSON.parse(ok(await cli(["batch", "get", first.id, "--json"])).stdout) as Batch;
    assert.deepEqual(j, first);
    assert.equal((await cli(["batch", "get", first.id, "--csv"])).code, 2, "--csv: not a table");
  });

  test("batch output: the output file's JSONL on stdout (or in a file), one line per custom_id", async () => {
    const r = ok(await cli(["batch", "output", first.id]));
    const lines = parsed(r.stdout);
    assert.equal(r.stdout.trimEnd().split("\n").length, 3);
    assert.deepEqual(lines.map((l) => l.custom_id).sort(), ["one", "three", "two"]);
    for (const l of lines) {
      assert.equal(l.response!.status_code, 200);
      assert.equal(l.response!.body.object, "chat.completion");
    }
    assert.match(r.stderr, new RegExp(`^— 3 lines, [\\d,]+ bytes: ${first.output_file_id}, the output file of ${first.id}\\n$`));

    const to = join(tmp, "out.jsonl");
    const w = ok(await cli(["batch", "output", first.id, "-o", to]));
    assert.equal(readFileSync(to, "utf8"), r.stdout);
    assert.match(w.stdout, new RegExp(`^${to.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\t3 lines, `));

    // No line failed: there is no error file.
    const none = exited(await cli(["batch", "output", first.id, "--errors"]), 1);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /has no error file: no line failed/);
    // A path in a directory that does not exist: bad usage, nothing asked for.
    assert.equal((await cli(["batch", "output", first.id, "-o", join(tmp, "nope", "x.jsonl")])).code, 2);
  });

  test("--errors: a line the endpoint refuses (temperature: \"hot\") is in the error file with status 400", async () => {
    const input = file(
      "with-bad.jsonl",
      jsonl([chatLine("a", "Say a"), chatLine("bad", "Say bad", { temperature: "hot" }), chatLine("b", "Say b"), chatLine("c", "Say c")]),
    );
    const r = ok(await cli(["batch", "create", input, "--wait"]), "a batch with a refused line still completes");
    const f = fieldsOf(r.stdout);
    assert.equal(f.get("STATUS"), "completed");
    assert.equal(f.get("REQUESTS"), "3 completed, 1 failed, 4 total");
    assert.match(f.get("ERROR FILE") ?? "", /^file-/);
    const id = f.get("ID")!;

    const e = ok(await cli(["batch", "output", id, "--errors"]));
    const errs = parsed(e.stdout);
    assert.equal(errs.length, 1);
    assert.equal(errs[0].custom_id, "bad");
    assert.equal(errs[0].response!.status_code, 400);
    assert.equal(errs[0].response!.body.error.param, "temperature");
    assert.match(e.stderr, /1 line, .* the error file of /);
    assert.deepEqual(parsed(ok(await cli(["batch", "output", id])).stdout).map((l) => l.custom_id).sort(), ["a", "b", "c"]);
  });

  test("a malformed input file: create --wait exits 1 and shows each invalid line with its number", async () => {
    const input = file(
      "malformed.jsonl",
      [JSON.stringify(chatLine("x", "hi")), "{not json", JSON.stringify(chatLine("x", "again")), JSON.stringify({ method: "POST", url: "/v1/chat/completions", body: {} })].join("\n"),
    );
    const r = exited(await cli(["batch", "create", input, "--endpoint", "/v1/chat/completions", "--wait"]), 1);
    assert.equal(fieldsOf(r.stdout).get("STATUS"), "failed");
    const errors = rowsOf(r.stdout.slice(r.stdout.indexOf("ERRORS\n") + "ERRORS\n".length));
    assert.deepEqual(errors[0], ["LINE", "CODE", "PARAM", "MESSAGE"]);
    assert.deepEqual(
      errors.slice(1).map((c) => c.slice(0, 2)),
      [
        ["2", "invalid_json_line"],
        ["3", "duplicate_custom_id"],
        ["4", "missing_required_parameter"],
      ],
    );
    assert.match(r.stderr, /error: batch batch_\S+ failed, no line was run: 3 invalid lines in its input file; the first: line 2, invalid_json_line: /);
    assert.match(r.stderr, /hint: fix the input file/);
    // --json: the failed batch, with its errors; still exit 1.
    const j = exited(await cli(["batch", "create", input, "--endpoint", "/v1/chat/completions", "--wait", "--json"]), 1);
    const b = JSON.parse(j.stdout) as Batch;
    assert.equal(b.status, "failed");
    assert.deepEqual(b.errors!.data!.map((e) => e.line), [2, 3, 4]);
    // Output of a failed batch: there is none.
    assert.match(exited(await cli(["batch", "output", b.id]), 1).stderr, /\(failed\) has no output file/);
  });

  test("cancel: a slow batch stops; what was answered stays, the rest are in the error file; create --wait on it exits 1", async () => {
    const input = file("slow.jsonl", jsonl(Array.from({ length: 20 }, (_, i) => chatLine(`s${i}`, `Say ${i}`, {}, "slow"))));
    // create --wait in the background; cancel it from another process once a line is answered.
    const waiting = cli(["batch", "create", input, "--wait"]);
    let b: Batch | undefined;
    for (let i = 0; i < 100 && !(b && b.request_counts!.completed >= 1); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const list = JSON.parse(ok(await cli(["batches", "--limit", "3", "--json"])).stdout) as { data: Batch[] };
      b = list.data.find((x) => x.request_counts!.total === 20);
    }
    assert.ok(b && b.request_counts!.completed >= 1, "the slow batch got going");
    const c = ok(await cli(["batch", "cancel", b.id]));
    assert.match(c.stdout, new RegExp(`^(cancelling|cancelled) batch ${b.id}: \\d+ of 20 lines answered`));

    const w = exited(await waiting, 1, "create --wait on a batch that was cancelled");
    assert.equal(fieldsOf(w.stdout).get("STATUS"), "cancelled");
    assert.match(w.stderr, new RegExp(`error: batch ${b.id} was cancelled: \\d+ of 20 lines answered`));

    // Cancelling again (with --wait): it is cancelled, exit 0.
    const again = fieldsOf(ok(await cli(["batch", "cancel", b.id, "--wait"])).stdout);
    assert.equal(again.get("STATUS"), "cancelled");
    assert.match(again.get("CANCELLED") ?? "", /Z$/);
    const done = Number(/^(\d+) completed/.exec(again.get("REQUESTS")!)![1]);
    assert.ok(done >= 1 && done < 20, `completed ${done}`);
    const answered = parsed(ok(await cli(["batch", "output", b.id])).stdout);
    const never = parsed(ok(await cli(["batch", "output", b.id, "--errors"])).stdout);
    assert.equal(answered.length, done);
    assert.equal(answered.length + never.length, 20);
    assert.ok(never.every((l) => l.error?.code === "batch_cancelled"));

    // A completed batch cannot be cancelled: the gateway's message, exit 1.
    const late = exited(await cli(["batch", "cancel", first.id]), 1);
    assert.match(late.stderr, /is completed and can no longer be cancelled/);
    assert.match(late.stderr, /hint: only a validating or in-progress batch can be cancelled/);
  });

  test("an unknown batch id, or another team's: not found, exit 1, with the field and a hint", async () => {
    const all = [["batch", "get", "batch_nope"], ["batch", "cancel", "batch_nope"], ["batch", "output", "batch_nope"]];
    const runs = await Promise.all(all.map((args) => cli(args)));
    for (const [i, args] of all.entries()) {
      const r = exited(runs[i], 1, args.join(" "));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^error: batch_id: no batch "batch_nope" \(or this key may not see it\) \(not_found\)\n {2}field: batch_id\n/);
      assert.match(r.stderr, /hint: check the id: `signalbox batches` lists the batches this key may see/);
    }
    const [other, admin] = await Promise.all([cli(["batch", "get", first.id], { key: KEYS.teamB }), cli(["batch", "get", first.id], { key: KEYS.admin })]);
    assert.match(exited(other, 1).stderr, /not_found/);
    assert.equal(ok(admin).code, 0);
  });

  test("no key, no gateway: the call fails (exit 1) and says what to do", async () => {
    const anon = exited(await cli(["batches"], { key: null }), 1);
    assert.match(anon.stderr, /\(unauthenticated\)/);
    assert.match(anon.stderr, /hint: pass a caller key with --api-key or set SIGNALBOX_API_KEY/);
    const gone = exited(await cli(["--url", "http://127.0.0.1:1", "batch", "get", first.id]), 1);
    assert.match(gone.stderr, /\(unavailable\)\nhint: is the gateway running at http:\/\/127\.0\.0\.1:1\?/);
  });

  test("bad usage: exit 2, the flag or file named, nothing uploaded", async () => {
    const before = (JSON.parse(ok(await cli(["batches", "--json", "--limit", "100"], { key: KEYS.admin })).stdout) as { data: Batch[] }).data.length;
    const ok3 = file("ok3.jsonl", jsonl([chatLine("a", "x")]));
    const mixed = file("mixed.jsonl", jsonl([chatLine("a", "x"), { ...chatLine("b", "y"), url: "/v1/embeddings" }]));
    const empty = file("empty.jsonl", "");
    const cases: [string[], RegExp][] = [
      [["batch", "create", ok3, "--endpoint", "/v1/images/generations"], /--endpoint <path>' argument '\/v1\/images\/generations' is invalid\. .*use one of \/v1\/chat\/completions, \/v1\/responses, \/v1\/completions, \/v1\/embeddings, \/v1\/moderations/],
      [["batch", "create", mixed], /--endpoint is required: the file's lines do not all name one endpoint/],
      [["batch", "create", join(tmp, "missing.jsonl")], /missing\.jsonl: no such file/],
      [["batch", "create", empty], /empty\.jsonl is empty/],
      [["batch", "create", tmp], /is not a file/],
      [["batch", "create", ok3, "--metadata", "nokey"], /--metadata <key=value>' argument 'nokey' is invalid\. expected key=value/],
      [["batch", "create", ok3, "--metadata", `k=${"v".repeat(513)}`], /--metadata .* longer than 512 characters/],
      [["batch", "create", ok3, "--csv"], /--csv is not available here/],
      [["batches", "--limit", "0"], /--limit <n>' argument '0' is invalid/],
      [["batch", "get"], /missing required argument 'id'/],
      [["batch", "frobnicate"], /unknown command 'frobnicate'/],
    ];
    // The runs are independent: started at once, checked in order.
    const [runs, badPoll] = await Promise.all([Promise.all(cases.map(([args]) => cli(args))), cli(["batch", "create", ok3, "--wait"], { env: { SIGNALBOX_POLL_MS: "soon" } })]);
    cases.forEach(([args, said], i) => {
      const r = exited(runs[i], 2, `signalbox ${args.join(" ")}`);
      assert.match(r.stderr, said, `signalbox ${args.join(" ")}`);
    });
    // A --wait poll interval that is not a number of milliseconds: bad usage too, before any upload.
    assert.match(exited(badPoll, 2, "SIGNALBOX_POLL_MS=soon").stderr, /SIGNALBOX_POLL_MS: "soon" is not a whole number of milliseconds/);
    const after = (JSON.parse(ok(await cli(["batches", "--json", "--limit", "100"], { key: KEYS.admin })).stdout) as { data: Batch[] }).data.length;
    assert.equal(after, before, "no batch was created");
  });

  test("help: the commands, their flags and examples", async () => {
    const [topRun, createRun, outputRun] = await Promise.all([cli(["--help"], { key: null }), cli(["batch", "create", "--help"], { key: null }), cli(["batch", "output", "--help"], { key: null })]);
    const top = ok(topRun).stdout;
    assert.match(top, /batches \[options\]/);
    assert.match(top, /batch +one batch \(OpenAI Batch API\)/);
    const create = ok(createRun).stdout;
    for (const flag of ["--endpoint <path>", "--metadata <key=value>", "--wait"]) assert.ok(create.includes(flag), flag);
    assert.match(create, /Examples:\n {2}signalbox batch create requests\.jsonl --endpoint \/v1\/chat\/completions/);
    assert.match(ok(outputRun).stdout, /--errors[\s\S]*-o, --output <file>/);
  });

  describe("on the system's Node 20", () => {
    const v20 = existsSync(SYSTEM_NODE) ? execFileSync(SYSTEM_NODE, ["--version"], { encoding: "utf8" }).trim() : "";
    test(`the same bundle uploads, waits and reads back (${v20 || "no /usr/bin/node"})`, { skip: !v20.startsWith("v20.") && "no Node 20 at /usr/bin/node" }, async () => {
      const node = SYSTEM_NODE;
      const input = file("node20.jsonl", jsonl([chatLine("n1", "Say n1"), chatLine("n2", "Say n2")]));
      const f = fieldsOf(ok(await cli(["batch", "create", input, "--wait", "--metadata", "node=20"], { node })).stdout);
      assert.equal(f.get("REQUESTS"), "2 completed, 0 failed, 2 total");
      assert.deepEqual(parsed(ok(await cli(["batch", "output", f.get("ID")!], { node })).stdout).map((l) => l.custom_id).sort(), ["n1", "n2"]);
      const list = JSON.parse(ok(await cli(["batches", "--json"], { node })).stdout) as { data: Batch[] };
      assert.ok(list.data.some((b) => b.id === f.get("ID")));
      assert.match(exited(await cli(["batch", "get", "batch_nope"], { node }), 1).stderr, /not_found/);
    });
  });
});
