// `signalbox vector-stores` (alias `vs`) ls|create|show|add|rm|search: the gateway's vector stores,
// in OpenAI's Vector Stores API shape (REST: /v1/vector_stores…, see rest.ts). Documents are
// uploaded to /v1/files with purpose assistants, then added to a store, which cuts them into
// chunks and embeds them in the background; --wait follows the store every second
// (SIGNALBOX_POLL_MS sets another interval) until none of its files is being indexed, exiting 1
// when one failed. `search` runs POST …/search: the best chunks, their files and scores.

import { readFileSync, statSync } from "node:fs";
import { basename, extname } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { CliError, failure, globals, type Mode, modeOf, usageError } from "../context.ts";
import { count, dollars, unixRfc3339, unixTime } from "../format.ts";
import { type Column, csv, fields, json, note, out, section, table, waiting } from "../output.ts";
import { parseCount } from "../parse.ts";
import { type Rest, restOf } from "../rest.ts";
import { pollMs } from "./batch.ts";

/** The Vector Stores API's largest list page. */
const LIST_PAGE = 100;
/** OpenAI's attribute limits (checked here too, so nothing is uploaded for a bad flag). */
const MAX_ATTRIBUTES = { pairs: 16, key: 64, value: 512 };
/** How much of a hit's text the table shows. */
const SNIPPET = 80;

const HINTS = { not_found: "check the id: `signalbox vector-stores ls` lists the stores this key may see (a key sees only its own, or its team's)" };

export type Attributes = Record<string, string | number | boolean>;

/** A vector store as the API shows it (OpenAI's VectorStore, with the embedding deployment under `signalbox`). */
export interface VectorStore {
  id: string;
  object: "vector_store";
  created_at: number;
  name: string;
  usage_bytes: number;
  file_counts: { in_progress: number; completed: number; failed: number; cancelled: number; total: number };
  status: string;
  expires_after?: { anchor: string; days: number } | null;
  expires_at?: number | null;
  last_active_at?: number | null;
  metadata?: Record<string, string> | null;
  signalbox?: { embedding_deployment?: string | null } | null;
}

/** A file of a store; `filename` is the CLI's own, from GET /v1/files/{id}. */
export interface VectorStoreFile {
  id: string;
  object: "vector_store.file";
  usage_bytes: number;
  created_at: number;
  vector_store_id: string;
  status: string;
  last_error?: { code: string; message: string } | null;
  attributes?: Attributes | null;
  filename?: string;
}

export interface SearchHit {
  file_id: string;
  filename: string;
  score: number;
  attributes?: Attributes | null;
  content: { type: string; text: string }[];
}

interface SearchPage {
  object: string;
  search_query: string[];
  data: SearchHit[];
  signalbox?: { cost_nano_usd?: number } | null;
}

interface ListPage<T> {
  object: "list";
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

interface FileObject {
  id: string;
  bytes: number;
  filename: string;
  purpose: string;
}

/** A comparison on one attribute, or several joined by `and` (OpenAI's filters). */
export type Filter = { type: "eq" | "ne" | "gt" | "gte" | "lt" | "lte"; key: string; value: string | number | boolean } | { type: "and"; filters: Filter[] };

// ── flags ─────────────────────────────────────────────────────────────────────────────────────

/** A value as typed: true/false, a number, else the text (attributes and filters alike, so they compare). */
export function typedValue(v: string): string | number | boolean {
  if (v === "true" || v === "false") return v === "true";
  if (/^-?\d+(\.\d+)?$/.test(v) && Number.isFinite(Number(v))) return Number(v);
  return v;
}

/** --attr k=v, repeatable, within OpenAI's limits. */
export function parseAttr(s: string, acc: Attributes = {}): Attributes {
  const i = s.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected key=value, got "${s}"`);
  const k = s.slice(0, i).trim();
  const v = s.slice(i + 1).trim();
  if (k.length > MAX_ATTRIBUTES.key) throw new InvalidArgumentError(`key "${k.slice(0, 20)}…" is longer than ${MAX_ATTRIBUTES.key} characters`);
  if (v.length > MAX_ATTRIBUTES.value) throw new InvalidArgumentError(`the value of "${k}" is longer than ${MAX_ATTRIBUTES.value} characters`);
  const next = { ...acc, [k]: typedValue(v) };
  if (Object.keys(next).length > MAX_ATTRIBUTES.pairs) throw new InvalidArgumentError(`at most ${MAX_ATTRIBUTES.pairs} attributes`);
  return next;
}

const OPS: [string, "ne" | "gte" | "lte" | "eq" | "gt" | "lt"][] = [
  ["!=", "ne"],
  [">=", "gte"],
  ["<=", "lte"],
  ["=", "eq"],
  [">", "gt"],
  ["<", "lt"],
];

/** --filter key=value (or !=, >, >=, <, <=), repeatable: all must hold. */
export function parseSearchFilter(s: string, acc: Filter[] = []): Filter[] {
  let at = -1;
  let op: (typeof OPS)[number] | undefined;
  // The first operator in the text; at one place, the two-character one.
  for (const o of OPS) {
    const i = s.indexOf(o[0]);
    if (i > 0 && (at < 0 || i < at)) {
      at = i;
      op = o;
    }
  }
  if (!op) throw new InvalidArgumentError(`"${s}" is not a filter: use <attribute>=<value> (or !=, >, >=, <, <=), e.g. topic=pets or 'year>=2024' (quote > and < from the shell)`);
  const key = s.slice(0, at).trim();
  const value = typedValue(s.slice(at + op[0].length).trim());
  if (!key) throw new InvalidArgumentError(`"${s}" names no attribute`);
  if (op[1] !== "eq" && op[1] !== "ne" && typeof value === "boolean") throw new InvalidArgumentError(`"${s}": ${op[0]} compares numbers or text, not true/false`);
  return [...acc, { type: op[1], key, value }];
}

/** The filters of several --filter flags as the API's one filter. */
export const filterOf = (fs: Filter[] | undefined): Filter | undefined => (!fs?.length ? undefined : fs.length === 1 ? fs[0] : { type: "and", filters: fs });

/** A document to upload: its bytes and name; a path that is not a readable, non-empty file is bad usage. */
function documentOf(path: string): { content: Buffer; name: string } {
  let content: Buffer;
  try {
    if (!statSync(path).isFile()) throw usageError(`${path} is not a file`, "pass the path of a document (text, Markdown, HTML, JSON, PDF…)");
    content = readFileSync(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
  if (!content.length) throw usageError(`${path} is empty`, "a document to search must have some text");
  return { content, name: basename(path) };
}

const MEDIA_TYPES: Record<string, string> = { ".md": "text/markdown", ".txt": "text/plain", ".html": "text/html", ".htm": "text/html", ".json": "application/json", ".csv": "text/csv", ".pdf": "application/pdf" };

// ── how stores read ───────────────────────────────────────────────────────────────────────────

/** Bytes as "812 B", "12.4 KB", "3.1 MB". */
export function size(n: number | undefined): string {
  const v = n ?? 0;
  if (v < 1000) return `${v} B`;
  if (v < 1e6) return `${(v / 1e3).toFixed(1)} KB`;
  if (v < 1e9) return `${(v / 1e6).toFixed(1)} MB`;
  return `${(v / 1e9).toFixed(2)} GB`;
}

const attributesText = (a: Attributes | null | undefined) =>
  Object.entries(a ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
const attributesRaw = (a: Attributes | null | undefined) => (a && Object.keys(a).length ? JSON.stringify(a) : "");
const embedding = (s: VectorStore) => s.signalbox?.embedding_deployment ?? "";
const expiresText = (s: VectorStore) => (s.expires_at ? unixTime(s.expires_at) : "never");

function filesText(s: VectorStore): string {
  const c = s.file_counts;
  const rest = [c.in_progress && `${count(c.in_progress)} indexing`, c.failed && `${count(c.failed)} failed`, c.cancelled && `${count(c.cancelled)} cancelled`].filter(Boolean);
  return `${count(c.completed)} of ${count(c.total)} indexed${rest.length ? ` (${rest.join(", ")})` : ""}`;
}

const STORE_COLUMNS: Column<VectorStore>[] = [
  { header: "id", show: (s) => s.id },
  { header: "name", show: (s) => s.name },
  { header: "status", show: (s) => s.status },
  { header: "files", csv: "files_completed", show: (s) => `${count(s.file_counts.completed)}/${count(s.file_counts.total)}`, raw: (s) => s.file_counts.completed },
  { header: "total", csv: "files_total", show: (s) => count(s.file_counts.total), raw: (s) => s.file_counts.total, right: true },
  { header: "indexing", csv: "files_in_progress", show: (s) => count(s.file_counts.in_progress), raw: (s) => s.file_counts.in_progress, right: true },
  { header: "failed", csv: "files_failed", show: (s) => count(s.file_counts.failed), raw: (s) => s.file_counts.failed, right: true },
  { header: "size", csv: "usage_bytes", show: (s) => size(s.usage_bytes), raw: (s) => s.usage_bytes, right: true },
  { header: "embedding", show: embedding },
  { header: "created", show: (s) => unixTime(s.created_at), raw: (s) => unixRfc3339(s.created_at) },
  { header: "last active", show: (s) => unixTime(s.last_active_at), raw: (s) => unixRfc3339(s.last_active_at) },
  { header: "expires", show: expiresText, raw: (s) => unixRfc3339(s.expires_at) },
];

const FILE_COLUMNS: Column<VectorStoreFile>[] = [
  { header: "id", show: (f) => f.id },
  { header: "name", show: (f) => f.filename ?? "" },
  { header: "status", show: (f) => f.status },
  { header: "size", csv: "usage_bytes", show: (f) => size(f.usage_bytes), raw: (f) => f.usage_bytes, right: true },
  { header: "attributes", show: (f) => attributesText(f.attributes), raw: (f) => attributesRaw(f.attributes) },
  { header: "error", show: (f) => (f.last_error ? `${f.last_error.code}: ${f.last_error.message}` : "") },
];

/** A hit's text on one line, shortened for the table. */
export function snippet(h: SearchHit, n = SNIPPET): string {
  const text = h.content
    .map((c) => c.text)
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

const HIT_COLUMNS: Column<SearchHit & { rank: number }>[] = [
  { header: "#", csv: "rank", show: (h) => String(h.rank), right: true },
  { header: "file", csv: "filename", show: (h) => h.filename },
  { header: "score", show: (h) => h.score.toFixed(4), raw: (h) => h.score, right: true },
  { header: "attributes", show: (h) => attributesText(h.attributes), raw: (h) => attributesRaw(h.attributes) },
  // CSV: the whole text.
  { header: "text", show: (h) => snippet(h), raw: (h) => h.content.map((c) => c.text).join("\n") },
];

/** One store as "NAME  value" lines, then its files (if any) as a table. */
export function describeStore(s: VectorStore, files: VectorStoreFile[] = [], more = false): string {
  const head = fields([
    ["ID", s.id],
    ["NAME", s.name],
    ["STATUS", s.status],
    ["FILES", filesText(s)],
    ["SIZE", `${size(s.usage_bytes)} (${count(s.usage_bytes)} bytes of chunk text)`],
    ["EMBEDDING", embedding(s)],
    ["CREATED", unixTime(s.created_at)],
    ["LAST ACTIVE", unixTime(s.last_active_at)],
    ["EXPIRES", expiresText(s) + (s.expires_after ? ` (${s.expires_after.days} days after last active)` : "")],
    ...Object.entries(s.metadata ?? {}).map(([k, v]): [string, string] => [`META ${k}`, v]),
  ]);
  if (!files.length) return head;
  return `${head}\n${section("FILES")}${table(FILE_COLUMNS, files)}${more ? "(more files: --json lists them all)\n" : ""}`;
}

// ── calls ─────────────────────────────────────────────────────────────────────────────────────

const storePath = (id: string) => `/v1/vector_stores/${encodeURIComponent(id)}`;

/** Follow `has_more` pages, newest first, until `limit` items or the last page. */
async function listAll<T extends { id: string }>(rest: Rest, path: string, limit: number): Promise<{ data: T[]; hasMore: boolean }> {
  const data: T[] = [];
  let after: string | undefined;
  let hasMore = false;
  do {
    const page = await rest.get<ListPage<T>>(path, { limit: Math.min(LIST_PAGE, limit - data.length), after });
    data.push(...page.data);
    hasMore = page.has_more;
    after = page.last_id ?? page.data.at(-1)?.id;
  } while (hasMore && after && data.length < limit);
  return { data: data.slice(0, limit), hasMore: hasMore || data.length > limit };
}

/** The store's files with their names (GET /v1/files/{id}; a file deleted there keeps none). */
async function filesOf(rest: Rest, id: string, limit: number): Promise<{ data: VectorStoreFile[]; hasMore: boolean }> {
  const { data, hasMore } = await listAll<VectorStoreFile>(rest, `${storePath(id)}/files`, limit);
  const named = await Promise.all(
    data.map(async (f) => {
      try {
        return { ...f, filename: (await rest.get<FileObject>(`/v1/files/${encodeURIComponent(f.id)}`)).filename };
      } catch {
        return f;
      }
    }),
  );
  return { data: named, hasMore };
}

/** Upload each document (purpose assistants) and add it to the store; the files as added. */
async function addDocuments(rest: Rest, id: string, docs: { content: Buffer; name: string }[], attributes: Attributes | undefined, progress: (label: string) => void): Promise<(VectorStoreFile & { filename: string })[]> {
  const added: (VectorStoreFile & { filename: string })[] = [];
  for (const [i, d] of docs.entries()) {
    progress(`uploading ${d.name}${docs.length > 1 ? ` (${i + 1} of ${docs.length})` : ""}`);
    const form = new FormData();
    form.append("purpose", "assistants");
    form.append("file", new Blob([new Uint8Array(d.content)], { type: MEDIA_TYPES[extname(d.name).toLowerCase()] ?? "application/octet-stream" }), d.name);
    const uploaded = await rest.upload<FileObject>("/v1/files", form);
    const f = await rest.post<VectorStoreFile>(`${storePath(id)}/files`, { file_id: uploaded.id, ...(attributes && Object.keys(attributes).length ? { attributes } : {}) });
    added.push({ ...f, filename: uploaded.filename });
  }
  return added;
}

/** Follow a store until none of its files is being indexed: a look every second (or SIGNALBOX_POLL_MS). */
async function settle(rest: Rest, id: string, every: number): Promise<VectorStore> {
  const text = (s: VectorStore) => `vector store ${s.id}: ${filesText(s)}`;
  let cur = await rest.get<VectorStore>(storePath(id));
  return waiting(text(cur), async (progress) => {
    while (cur.file_counts.in_progress > 0) {
      await new Promise((r) => setTimeout(r, every));
      cur = await rest.get<VectorStore>(storePath(id));
      progress(text(cur));
    }
    return cur;
  });
}

/** After --wait: the store and the files just added as they ended; exit 1 when one failed or was cancelled. */
async function showSettled(rest: Rest, s: VectorStore, added: VectorStoreFile[], mode: Mode): Promise<void> {
  const names = new Map(added.map((f) => [f.id, f.filename]));
  const ended = await Promise.all(added.map(async (f) => ({ ...(await rest.get<VectorStoreFile>(`${storePath(s.id)}/files/${encodeURIComponent(f.id)}`)), filename: names.get(f.id) })));
  if (mode === "json") await json({ ...s, files: ended });
  else await out(describeStore(s, ended));
  const bad = ended.filter((f) => f.status !== "completed");
  if (bad.length) {
    const first = bad[0];
    throw failure(
      `${bad.length} of ${added.length} file${added.length === 1 ? "" : "s"} not indexed; the first, ${first.filename ?? first.id}: ${first.status}${first.last_error ? ` (${first.last_error.code}: ${first.last_error.message})` : ""}`,
      "only UTF-8 text files and PDFs can be searched: fix or convert the file and add it again",
    );
  }
}

// ── the commands ──────────────────────────────────────────────────────────────────────────────

interface AddFlags {
  attr?: Attributes;
  wait?: boolean;
}

export function vectorStoreCommands(program: Command): void {
  const vs = program
    .command("vector-stores")
    .alias("vs")
    .description("the gateway's vector stores (OpenAI Vector Stores API): ls, create, show, add documents, rm, search")
    .addHelpText(
      "after",
      [
        "",
        "Documents are uploaded to /v1/files with purpose assistants, then added to a store: it cuts them",
        "into chunks and embeds them in the background (with the gateway's vector_stores.embedding model).",
        "",
        "Examples:",
        "  signalbox vs create handbook --file leave.md --file travel.pdf --wait",
        "  signalbox vs add vs_68f1… notes/*.md --attr topic=notes --attr year=2026 --wait",
        "  signalbox vs search vs_68f1… \"how many days of leave\" --max 3 --filter 'year>=2025'",
      ].join("\n"),
    );

  vs.command("ls")
    .description("vector stores, newest first: id, name, status, files indexed/total, in progress, failed, size, embedding deployment, created, last active, expiry")
    .option("--limit <n>", "at most this many (pages are followed)", parseCount(1, 100_000), 20)
    .addHelpText("after", "\nExamples:\n  signalbox vector-stores ls\n  signalbox vs ls --limit 500 --csv > stores.csv\n  signalbox vs ls --json | jq -r '.data[] | select(.file_counts.failed > 0) | .id'")
    .action(async (o: { limit: number }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: true });
      const rest = restOf(g, HINTS);
      const { data, hasMore } = await waiting("listing vector stores", () => listAll<VectorStore>(rest, "/v1/vector_stores", o.limit));
      if (mode === "json") return json({ object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore });
      if (mode === "csv") return out(csv(STORE_COLUMNS, data));
      await out(data.length ? table(STORE_COLUMNS, data) : "no vector stores\n");
      if (hasMore) note(`showing the newest ${data.length}; raise --limit to see more`);
    });

  vs.command("create")
    .description("make a vector store, uploading each --file into it; its id and status on stdout")
    .argument("<name>", "the store's name")
    .option("--file <path>", "a document to upload and add (repeatable)", (v: string, acc: string[] = []) => [...acc, v])
    .option("--attr <key=value>", `attributes for every --file, repeatable (at most ${MAX_ATTRIBUTES.pairs}; true/false and numbers are typed)`, parseAttr)
    .option("--expires-days <n>", "expire the store this many days after it was last used", parseCount(1, 365))
    .option("--wait", "wait until its files are indexed (a look every second, or every $SIGNALBOX_POLL_MS ms), then print it as `show` does; exit 1 when one failed")
    .addHelpText(
      "after",
      [
        "",
        "Without --wait, stdout is the store's id, a tab and its status, so",
        "VS=$(signalbox vs create docs --file a.md | cut -f1) keeps the id. --json prints the API's store",
        "object (with --wait, its files as `files`).",
        "",
        "Examples:",
        "  signalbox vs create handbook --file leave.md --file travel.md --attr team=hr --wait",
        "  signalbox vs create scratch --expires-days 7",
      ].join("\n"),
    )
    .action(async (name: string, o: AddFlags & { file?: string[]; expiresDays?: number }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const every = o.wait ? pollMs() : 0;
      if (o.attr && !o.file?.length) throw usageError("--attr is given to the files added: pass --file too", "or add files later with `signalbox vs add <id> <path>… --attr k=v`");
      const docs = (o.file ?? []).map(documentOf);
      const { store, added } = await waiting("creating the vector store", async (progress) => {
        const store = await rest.post<VectorStore>("/v1/vector_stores", { name, ...(o.expiresDays ? { expires_after: { anchor: "last_active_at", days: o.expiresDays } } : {}) });
        try {
          return { store, added: await addDocuments(rest, store.id, docs, o.attr, progress) };
        } catch (err) {
          note(`vector store ${store.id} was created, but a document was not added`);
          throw err;
        }
      });
      const what = `vector store ${store.id} created${added.length ? ` with ${added.length} file${added.length === 1 ? "" : "s"} (${added.map((f) => f.filename).join(", ")})` : ""}`;
      if (!o.wait || !added.length) {
        if (mode === "json") await json(store);
        else await out(`${store.id}\t${store.status}\n`);
        note(added.length ? `${what}; indexing: \`signalbox vs show ${store.id}\` follows it` : what);
        return;
      }
      note(`${what}; waiting for the files to be indexed`);
      await showSettled(rest, await settle(rest, store.id, every), added, mode);
    });

  vs.command("show")
    .description("one vector store: status, file counts, size, embedding deployment, times, metadata, and its files (name, status, size, attributes, last error)")
    .argument("<id>", "the store's id (vs_…; `signalbox vs ls` lists them)")
    .option("--limit <n>", "at most this many files (pages are followed)", parseCount(1, 100_000), 100)
    .addHelpText("after", "\nExamples:\n  signalbox vs show vs_68f1…\n  signalbox vs show vs_68f1… --json | jq -r '.files[] | select(.status == \"failed\") | .filename'")
    .action(async (id: string, o: { limit: number }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const { s, files } = await waiting("reading the vector store", async () => {
        const s = await rest.get<VectorStore>(storePath(id));
        return { s, files: await filesOf(rest, id, o.limit) };
      });
      if (mode === "json") return json({ ...s, files: files.data });
      await out(describeStore(s, files.data, files.hasMore));
    });

  vs.command("add")
    .description("upload documents (purpose assistants) and add them to a store; one line each on stdout: file id, status, path")
    .argument("<id>", "the store's id")
    .argument("<paths...>", "the documents (text, Markdown, HTML, JSON, PDF…)")
    .option("--attr <key=value>", `attributes for every file, repeatable (at most ${MAX_ATTRIBUTES.pairs}; true/false and numbers are typed)`, parseAttr)
    .option("--wait", "wait until they are indexed, then print the store as `show` does (with just these files); exit 1 when one failed")
    .addHelpText("after", "\nExamples:\n  signalbox vs add vs_68f1… notes/*.md --attr topic=notes\n  signalbox vs add vs_68f1… report.pdf --attr year=2026 --wait")
    .action(async (id: string, paths: string[], o: AddFlags, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const every = o.wait ? pollMs() : 0;
      const docs = paths.map(documentOf);
      const added = await waiting("uploading", (progress) => addDocuments(rest, id, docs, o.attr, progress));
      if (o.wait) {
        note(`${added.length} file${added.length === 1 ? "" : "s"} added to ${id}; waiting for them to be indexed`);
        return showSettled(rest, await settle(rest, id, every), added, mode);
      }
      if (mode === "json") return json(added);
      await out(added.map((f, i) => `${f.id}\t${f.status}\t${paths[i]}\n`).join(""));
      note(`${added.length} file${added.length === 1 ? "" : "s"} added to ${id}; indexing: \`signalbox vs show ${id}\` follows it`);
    });

  vs.command("rm")
    .description("delete a vector store (its chunks and vectors; the uploaded files stay in /v1/files)")
    .argument("<id>", "the store's id")
    .addHelpText("after", "\nExamples:\n  signalbox vs rm vs_68f1…")
    .action(async (id: string, _o: object, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const r = await waiting("deleting the vector store", () => rest.delete<{ id: string; deleted: boolean }>(storePath(id)));
      if (mode === "json") return json(r);
      if (!r.deleted) throw failure(`vector store ${id} was not deleted`, undefined);
      await out(`deleted ${r.id}\n`);
    });

  vs.command("search")
    .description("search a store: the best chunks, best first — file, score (0 to 1), attributes and the start of the text")
    .argument("<id>", "the store's id")
    .argument("<query>", "what to look for")
    .option("--max <n>", "at most this many results (1 to 50)", parseCount(1, 50), 10)
    .option("--filter <attr=value>", "only files whose attribute compares so (=, !=, >, >=, <, <=; repeatable: all must hold)", parseSearchFilter)
    .addHelpText(
      "after",
      [
        "",
        "--csv has the whole text of each chunk; --json the API's answer.",
        "",
        "Examples:",
        "  signalbox vs search vs_68f1… \"paid leave\"",
        "  signalbox vs search vs_68f1… \"travel receipts\" --max 3 --filter topic=travel --filter 'year>=2025'",
        "  signalbox vs search vs_68f1… \"paid leave\" --json | jq -r '.data[0].content[0].text'",
      ].join("\n"),
    )
    .action(async (id: string, query: string, o: { max: number; filter?: Filter[] }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: true });
      const rest = restOf(g, HINTS);
      if (!query.trim()) throw usageError("the query is empty", "say what to look for");
      const filters = filterOf(o.filter);
      const r = await waiting("searching", () => rest.post<SearchPage>(`${storePath(id)}/search`, { query, max_num_results: o.max, ...(filters ? { filters } : {}) }));
      if (mode === "json") return json(r);
      const hits = r.data.map((h, i) => ({ ...h, rank: i + 1 }));
      if (mode === "csv") return out(csv(HIT_COLUMNS, hits));
      await out(hits.length ? table(HIT_COLUMNS, hits) : "no results\n");
      note(`${count(hits.length)} result${hits.length === 1 ? "" : "s"}${r.signalbox?.cost_nano_usd ? ` · ${dollars(r.signalbox.cost_nano_usd)}` : ""}`);
    });
}
