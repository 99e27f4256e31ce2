// `signalbox vector-stores` (alias `vs`) ls|create|show|add|rm|search as users run them: the built
// bundle in a child process (Node 24, and the system's Node 20 once), against a real gateway
// started in process whose stores embed with the mock's bags of words (mock/words), with team keys
// (the CLI's REST calls carry --api-key as "Authorization: Bearer …"; another team's store is
// "not found"). Also: the flag parsers (attributes, filters) and the snippet, on their own.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { buildCliIfStale, exited, fieldsOf, ok, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { filterOf, parseAttr, parseSearchFilter, type SearchHit, snippet, typedValue, type VectorStore, type VectorStoreFile } from "../../clients/cli/src/commands/vector-stores.ts";

const k = (...p: string[]) => ["sbx", "test", "clivs", ...p].join("_");
const KEYS = { admin: k("admin"), teamA: k("team", "a"), teamB: k("team", "b") };

let g: TestGateway;
let tmp: string;

/** Run the built CLI against the gateway as `key` (default: team a's key). */
function cli(args: string[], opts: { key?: string; node?: string } = {}): Promise<CliRun> {
  return runCli(g?.url ?? "http://127.0.0.1:9", ["--api-key", opts.key ?? KEYS.teamA, ...args], { cwd: tmp, node: opts.node, env: { SIGNALBOX_POLL_MS: "50" } });
}

/** The table's rows (header first), each split into its cells on runs of two or more spaces. */
const rowsOf = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.trim().split(/ {2,}/));
/** The FILES table below a `show`. */
const filesTable = (stdout: string) => rowsOf(stdout.split("FILES\n")[1] ?? "");

function file(name: string, content: string | Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${g.url}${path}`, { ...init, headers: { authorization: `Bearer ${KEYS.admin}`, ...(init.body ? { "content-type": "application/json" } : {}) } });
  const text = await res.text();
  assert.ok(res.ok, `${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const CATS = "# Cats\nCats purr and sleep in the sun for most of the day. A cat chases mice and naps on warm windowsills.\n";
const ROCKETS = "# Rockets\nRockets burn fuel and launch satellites into orbit. A rocket engine needs oxygen to burn its fuel.\n";

describe("the flags of vector-stores (no gateway)", () => {
  test("values are typed: true/false, numbers, else text", () => {
    assert.equal(typedValue("true"), true);
    assert.equal(typedValue("false"), false);
    assert.equal(typedValue("2024"), 2024);
    assert.equal(typedValue("-1.5"), -1.5);
    assert.equal(typedValue("v2"), "v2");
    assert.equal(typedValue(""), "");
  });

  test("--attr k=v gathers typed attributes within OpenAI's limits", () => {
    assert.deepEqual(parseAttr("draft=false", parseAttr("year=2024", parseAttr("topic=pets"))), { topic: "pets", year: 2024, draft: false });
    assert.throws(() => parseAttr("nokey"), /expected key=value/);
    assert.throws(() => parseAttr(`${"k".repeat(65)}=v`), /longer than 64/);
    assert.throws(() => parseAttr(`k=${"v".repeat(513)}`), /longer than 512/);
    let acc = {};
    for (let i = 0; i < 16; i++) acc = parseAttr(`k${i}=v`, acc);
    assert.throws(() => parseAttr("k16=v", acc), /at most 16/);
  });

  test("--filter: =, !=, >, >=, <, <= on an attribute; several are joined with and", () => {
    assert.deepEqual(parseSearchFilter("topic=pets"), [{ type: "eq", key: "topic", value: "pets" }]);
    assert.deepEqual(parseSearchFilter("topic!=pets"), [{ type: "ne", key: "topic", value: "pets" }]);
    assert.deepEqual(parseSearchFilter("year>=2024"), [{ type: "gte", key: "year", value: 2024 }]);
    assert.deepEqual(parseSearchFilter("year<2024"), [{ type: "lt", key: "year", value: 2024 }]);
    assert.deepEqual(parseSearchFilter("year>2024"), [{ type: "gt", key: "year", value: 2024 }]);
    assert.deepEqual(parseSearchFilter("year<=2024"), [{ type: "lte", key: "year", value: 2024 }]);
    assert.deepEqual(parseSearchFilter("url=a=b"), [{ type: "eq", key: "url", value: "a=b" }], "the first operator splits");
    assert.throws(() => parseSearchFilter("nope"), /not a filter/);
    assert.throws(() => parseSearchFilter("=x"), /not a filter/);
    assert.throws(() => parseSearchFilter("draft>true"), /not true\/false/);
    const two = parseSearchFilter("year>=2024", parseSearchFilter("topic=pets"));
    assert.deepEqual(filterOf(two), { type: "and", filters: two });
    assert.deepEqual(filterOf(two.slice(0, 1)), two[0]);
    assert.equal(filterOf(undefined), undefined);
  });

  test("a hit's snippet is its text on one line, shortened", () => {
    const hit = (text: string): SearchHit => ({ file_id: "f", filename: "a.md", score: 1, content: [{ type: "text", text }] });
    assert.equal(snippet(hit("# Title\n\nSome   text\n")), "# Title Some text");
    assert.equal(snippet(hit("x".repeat(100)), 10), `${"x".repeat(9)}…`);
  });
});

describe("signalbox vector-stores against a gateway", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-vs-"));
    g = await startTestGateway(`
providers:
  - { name: mock, type: mock }
  - { name: words, type: mock, mock: { embedding: words } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: mock/words, provider: words, model: mock-words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
routes:
  - { name: chat, targets: [mock/chat] }
vector_stores: { embedding: mock/words }
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

  let store = "";
  let empty = "";

  test("create --file … --attr … --wait: uploads, adds, waits for the indexing and shows the store", async () => {
    const r = ok(await cli(["vector-stores", "create", "handbook", "--file", file("cats.md", CATS), "--file", file("rockets.md", ROCKETS), "--attr", "topic=pets", "--attr", "year=2024", "--wait"]));
    const f = fieldsOf(r.stdout);
    store = f.get("ID") ?? "";
    assert.match(store, /^vs_/);
    assert.equal(f.get("NAME"), "handbook");
    assert.equal(f.get("STATUS"), "completed");
    assert.equal(f.get("FILES"), "2 of 2 indexed");
    assert.equal(f.get("EMBEDDING"), "mock/words");
    assert.equal(f.get("EXPIRES"), "never");
    assert.match(r.stderr, /vector store vs_\S+ created with 2 files \(cats\.md, rockets\.md\); waiting for the files to be indexed/);
    const rows = filesTable(r.stdout);
    assert.deepEqual(rows[0], ["ID", "NAME", "STATUS", "SIZE", "ATTRIBUTES", "ERROR"]);
    assert.deepEqual(rows.slice(1).map((c) => [c[1], c[2], c[4]]).sort(), [
      ["cats.md", "completed", "topic=pets, year=2024"],
      ["rockets.md", "completed", "topic=pets, year=2024"],
    ]);
    // As the API has it: typed attributes, both indexed.
    const s = await api<VectorStore>(`/v1/vector_stores/${store}`);
    assert.equal(s.name, "handbook");
    assert.equal(f.get("SIZE"), `${s.usage_bytes} B (${s.usage_bytes} bytes of chunk text)`);
    const files = await api<{ data: VectorStoreFile[] }>(`/v1/vector_stores/${store}/files`);
    assert.deepEqual(files.data.map((x) => x.attributes), [
      { topic: "pets", year: 2024 },
      { topic: "pets", year: 2024 },
    ]);
  });

  test("create without files or --wait: the id and status on stdout; --json the API's store", async () => {
    const r = ok(await cli(["vs", "create", "scratch", "--expires-days", "7"]));
    const [id, status] = r.stdout.trim().split("\t");
    assert.match(id, /^vs_/);
    assert.equal(status, "completed");
    empty = id;
    const s = await api<VectorStore>(`/v1/vector_stores/${id}`);
    assert.deepEqual(s.expires_after, { anchor: "last_active_at", days: 7 });
    const j = ok(await cli(["vs", "create", "json-one", "--json"]));
    const made = JSON.parse(j.stdout) as VectorStore;
    assert.equal(made.object, "vector_store");
    assert.equal(made.name, "json-one");
    ok(await cli(["vs", "rm", made.id]));
  });

  test("ls: a table of the key's stores, newest first; --json the API's list; --csv the same rows", async () => {
    const want = await api<{ data: VectorStore[] }>("/v1/vector_stores");
    const r = ok(await cli(["vs", "ls"]));
    const rows = rowsOf(r.stdout);
    assert.deepEqual(rows[0], ["ID", "NAME", "STATUS", "FILES", "TOTAL", "INDEXING", "FAILED", "SIZE", "EMBEDDING", "CREATED", "LAST ACTIVE", "EXPIRES"]);
    assert.deepEqual(rows.slice(1).map((c) => c[0]), want.data.map((s) => s.id));
    const hb = rows.find((c) => c[0] === store)!;
    assert.deepEqual(hb.slice(1, 9), ["handbook", "completed", "2/2", "2", "0", "0", `${want.data.find((s) => s.id === store)!.usage_bytes} B`, "mock/words"]);
    assert.match(rows.find((c) => c[0] === empty)!.at(-1)!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/, "expires in 7 days");
    const j = JSON.parse(ok(await cli(["vs", "ls", "--json"])).stdout) as { data: VectorStore[]; has_more: boolean };
    assert.deepEqual(j.data, want.data);
    assert.equal(j.has_more, false);
    const c = ok(await cli(["vs", "ls", "--csv"])).stdout.trimEnd().split("\r\n");
    assert.equal(c[0], "id,name,status,files_completed,files_total,files_in_progress,files_failed,usage_bytes,embedding,created,last_active,expires");
    assert.equal(c.length, want.data.length + 1);
    // --limit 1: the newest, and a note that there are more.
    const one = ok(await cli(["vs", "ls", "--limit", "1"]));
    assert.equal(rowsOf(one.stdout).length, 2);
    assert.match(one.stderr, /showing the newest 1; raise --limit/);
  });

  test("another team does not see the store: not found, exit 1, with a hint", async () => {
    const r = exited(await cli(["vs", "show", store], { key: KEYS.teamB }), 1);
    assert.match(r.stderr, /not_found/);
    assert.match(r.stderr, /hint: check the id: `signalbox vector-stores ls`/);
    assert.equal(rowsOf(ok(await cli(["vs", "ls"], { key: KEYS.teamB })).stdout)[0][0], "no vector stores");
  });

  test("search: a table of file, score, attributes and snippet, the right file first, as the API ranks them", async () => {
    const query = "a cat that sleeps in the sun";
    const want = await api<{ data: SearchHit[] }>(`/v1/vector_stores/${store}/search`, { method: "POST", body: JSON.stringify({ query }) });
    const r = ok(await cli(["vs", "search", store, query]));
    const rows = rowsOf(r.stdout);
    assert.deepEqual(rows[0], ["#", "FILE", "SCORE", "ATTRIBUTES", "TEXT"]);
    assert.deepEqual(rows.slice(1).map((c) => [c[1], c[2]]), want.data.map((h) => [h.filename, h.score.toFixed(4)]));
    assert.equal(rows[1][1], "cats.md");
    assert.equal(rows[1][3], "topic=pets, year=2024");
    assert.equal(rows[1][4], snippet(want.data[0]));
    assert.match(r.stderr, /^2 results · \$0\.\d+/m);
    // --json: the API's answer; --max 1: only the best; --csv: the whole text.
    const j = JSON.parse(ok(await cli(["vs", "search", store, query, "--json"])).stdout) as { data: SearchHit[] };
    assert.deepEqual(j.data, want.data);
    assert.equal(rowsOf(ok(await cli(["vs", "search", store, query, "--max", "1"])).stdout).length, 2);
    const c = ok(await cli(["vs", "search", store, query, "--csv"])).stdout;
    assert.ok(c.startsWith("rank,filename,score,attributes,text\r\n"));
    assert.ok(c.includes(CATS.trim().split("\n")[1]), "the whole text");
  });

  test("add PATH… --attr: one line per file; search --filter keeps only the files that match", async () => {
    const r = ok(await cli(["vs", "add", store, file("space.md", ROCKETS.replace("Rockets", "Spaceships")), file("more-cats.md", CATS), "--attr", "topic=space", "--attr", "year=2026"]));
    const lines = r.stdout.trim().split("\n").map((l) => l.split("\t"));
    assert.equal(lines.length, 2);
    assert.ok(lines.every(([id, status, path]) => /^file-/.test(id) && ["in_progress", "completed"].includes(status) && path.startsWith(tmp)));
    // Wait for them through the API.
    for (let i = 0; i < 200; i++) {
      const s = await api<VectorStore>(`/v1/vector_stores/${store}`);
      if (s.file_counts.in_progress === 0) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    const shown = filesTable(ok(await cli(["vs", "show", store])).stdout);
    assert.equal(shown.length, 5);
    const space = rowsOf(ok(await cli(["vs", "search", store, "cats purring in the sun", "--filter", "topic=space"])).stdout);
    assert.deepEqual(space.slice(1).map((c) => c[1]), ["more-cats.md", "space.md"]);
    const newer = rowsOf(ok(await cli(["vs", "search", store, "rockets", "--filter", "year>=2025", "--filter", "topic!=pets"])).stdout);
    assert.deepEqual(newer.slice(1).map((c) => c[1]), ["space.md", "more-cats.md"]);
    const none = ok(await cli(["vs", "search", store, "rockets", "--filter", "year>2030"]));
    assert.equal(none.stdout, "no results\n");
  });

  test("show --json: the store with its files, each with its name", async () => {
    const j = JSON.parse(ok(await cli(["vs", "show", store, "--json"])).stdout) as VectorStore & { files: VectorStoreFile[] };
    assert.equal(j.id, store);
    assert.equal(j.files.length, 4);
    assert.deepEqual(j.files.map((f) => f.filename).sort(), ["cats.md", "more-cats.md", "rockets.md", "space.md"]);
  });

  test("add --wait of a file that cannot be indexed: the store shown with its error, exit 1", async () => {
    const r = exited(await cli(["vs", "add", store, file("blob.bin", Buffer.from([0, 1, 2, 3])), "--wait"]), 1);
    const rows = filesTable(r.stdout);
    assert.deepEqual(rows.slice(1).map((c) => [c[1], c[2]]), [["blob.bin", "failed"]]);
    assert.match(rows[1].at(-1)!, /^unsupported_file: /);
    assert.match(r.stderr, /error: 1 of 1 file not indexed; the first, blob\.bin: failed \(unsupported_file: /);
  });

  test("bad usage, exit 2, nothing sent: --attr without --file, a missing file, a bad filter, an empty query, --csv on show", async () => {
    const before = (await api<{ data: VectorStore[] }>("/v1/vector_stores?limit=100")).data.length;
    for (const [args, msg] of [
      [["vs", "create", "x", "--attr", "a=b"], /--attr is given to the files added/],
      [["vs", "create", "x", "--file", join(tmp, "missing.md")], /no such file/],
      [["vs", "add", store, tmp], /is not a file/],
      [["vs", "add", store, file("empty.md", "")], /is empty/],
      [["vs", "search", store, "q", "--filter", "nope"], /is not a filter/],
      [["vs", "search", store, "q", "--max", "51"], /is not a whole number/],
      [["vs", "search", store, "  "], /the query is empty/],
      [["vs", "show", store, "--csv"], /--csv is not available here/],
    ] as [string[], RegExp][]) {
      const r = exited(await cli(args), 2, args.join(" "));
      assert.match(r.stderr, msg, args.join(" "));
    }
    assert.equal((await api<{ data: VectorStore[] }>("/v1/vector_stores?limit=100")).data.length, before);
  });

  test("rm deletes the store; again, it is not found (exit 1)", async () => {
    assert.equal(ok(await cli(["vs", "rm", empty])).stdout, `deleted ${empty}\n`);
    const again = exited(await cli(["vs", "rm", empty]), 1);
    assert.match(again.stderr, /not_found/);
    const j = JSON.parse(ok(await cli(["vector-stores", "rm", store, "--json"])).stdout);
    assert.deepEqual(j, { id: store, object: "vector_store.deleted", deleted: true });
  });

  test("the system's Node 20 runs it too", { skip: existsSync(SYSTEM_NODE) ? false : `${SYSTEM_NODE} is missing` }, async () => {
    const r = ok(await cli(["vs", "create", "node20", "--file", file("n20.md", CATS), "--wait"], { node: SYSTEM_NODE }));
    const id = fieldsOf(r.stdout).get("ID")!;
    assert.equal(fieldsOf(r.stdout).get("FILES"), "1 of 1 indexed");
    assert.equal(rowsOf(ok(await cli(["vs", "search", id, "cat"], { node: SYSTEM_NODE })).stdout)[1][1], "n20.md");
  });
});
