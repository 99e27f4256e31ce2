// `signalbox batches` and `signalbox batch create|get|cancel|output`: the gateway's OpenAI-compatible
// Files and Batch APIs (REST: POST /v1/files, /v1/batches, …; see rest.ts). `batch create` uploads
// a JSONL file of requests (purpose batch) and starts a batch on it; with --wait it follows the
// batch every second (progress on stderr; SIGNALBOX_POLL_MS sets another interval) and prints how
// it ended, exiting 1 when it failed, expired or was cancelled. `batch output` writes a finished
// batch's output (or error) file.

import { createWriteStream, readFileSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Command, InvalidArgumentError } from "commander";
import { CliError, failure, globals, type Mode, modeOf, readStdin, usageError } from "../context.ts";
import { count, dollars, unixRfc3339, unixTime, usd } from "../format.ts";
import { type Column, csv, fields, json, note, out, section, table, waiting } from "../output.ts";
import { parseCount } from "../parse.ts";
import { parsePair } from "../request.ts";
import { type Rest, restOf } from "../rest.ts";

/** The endpoints an OpenAI-style batch may target (the gateway's batch/http.ts; Anthropic's messages batch at /v1/messages/batches). */
export const BATCH_ENDPOINTS = ["/v1/chat/completions", "/v1/responses", "/v1/completions", "/v1/embeddings", "/v1/moderations", "/v1/ocr", "/v1/search"] as const;
/** Statuses a batch ends in. */
const FINAL = ["completed", "failed", "expired", "cancelled"];
/** The Batch API's largest list page. */
const LIST_PAGE = 100;
/** How often --wait looks: every second, or every SIGNALBOX_POLL_MS milliseconds (a whole number, 10 to 60000) when that is set. */
const DEFAULT_POLL_MS = 1000;
export function pollMs(): number {
  const raw = process.env.SIGNALBOX_POLL_MS?.trim();
  if (!raw) return DEFAULT_POLL_MS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 10 || n > 60_000) throw usageError(`SIGNALBOX_POLL_MS: "${raw}" is not a whole number of milliseconds from 10 to 60000`, "unset it to look every second");
  return n;
}
/** OpenAI's metadata limits (checked here too, so nothing is uploaded for a bad flag). */
const MAX_METADATA = { pairs: 16, key: 64, value: 512 };

const HINTS = { not_found: "check the id: `signalbox batches` lists the batches this key may see (a key sees only its own, or its team's)" };

/** A batch as the API shows it (OpenAI's Batch, with the gateway's cost under `signalbox`). */
export interface Batch {
  id: string;
  object: "batch";
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  created_at: number;
  in_progress_at?: number | null;
  expires_at?: number | null;
  finalizing_at?: number | null;
  completed_at?: number | null;
  failed_at?: number | null;
  expired_at?: number | null;
  cancelling_at?: number | null;
  cancelled_at?: number | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  metadata?: Record<string, string> | null;
  errors?: { object: "list"; data?: BatchError[] | null } | null;
  usage?: {
    input_tokens: number;
    input_tokens_details?: { cached_tokens?: number } | null;
    output_tokens: number;
    output_tokens_details?: { reasoning_tokens?: number } | null;
    total_tokens: number;
  } | null;
  signalbox?: { cost_nano_usd?: number } | null;
}

export interface BatchError {
  code?: string | null;
  message?: string | null;
  param?: string | null;
  line?: number | null;
}

interface FileObject {
  id: string;
  bytes: number;
  filename: string;
  purpose: string;
}

interface BatchList {
  object: "list";
  data: Batch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

// ── how batches read ──────────────────────────────────────────────────────────────────────────

const counts = (b: Batch) => b.request_counts ?? { total: 0, completed: 0, failed: 0 };
const costNano = (b: Batch) => BigInt(Math.round(b.signalbox?.cost_nano_usd ?? 0));
const metadataText = (m: Record<string, string> | null | undefined) =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

function requestsText(b: Batch): string {
  const c = counts(b);
  return `${count(c.completed)} completed, ${count(c.failed)} failed, ${count(c.total)} total`;
}

function tokensText(b: Batch): string {
  const u = b.usage;
  if (!u) return "";
  const cached = u.input_tokens_details?.cached_tokens ?? 0;
  const reasoning = u.output_tokens_details?.reasoning_tokens ?? 0;
  return `${count(u.input_tokens)} in, ${count(u.output_tokens)} out` + (cached || reasoning ? ` (cached ${count(cached)}, reasoning ${count(reasoning)})` : "");
}

const ERROR_COLUMNS: Column<BatchError>[] = [
  { header: "line", show: (e) => (e.line == null ? "" : String(e.line)), right: true },
  { header: "code", show: (e) => e.code ?? "" },
  { header: "param", show: (e) => e.param ?? "" },
  { header: "message", show: (e) => e.message ?? "" },
];

/** One batch as "NAME  value" lines, then its validation errors (if any) as a table. */
export function describeBatch(b: Batch): string {
  const head = fields([
    ["ID", b.id],
    ["STATUS", b.status],
    ["ENDPOINT", b.endpoint],
    ["REQUESTS", requestsText(b)],
    ["TOKENS", tokensText(b)],
    ["COST", dollars(costNano(b))],
    ["INPUT FILE", b.input_file_id],
    ["OUTPUT FILE", b.output_file_id ?? ""],
    ["ERROR FILE", b.error_file_id ?? ""],
    ["CREATED", unixTime(b.created_at)],
    ["IN PROGRESS", unixTime(b.in_progress_at)],
    ["FINALIZING", unixTime(b.finalizing_at)],
    ["COMPLETED", unixTime(b.completed_at)],
    ["FAILED", unixTime(b.failed_at)],
    ["EXPIRED", unixTime(b.expired_at)],
    ["CANCELLING", unixTime(b.cancelling_at)],
    ["CANCELLED", unixTime(b.cancelled_at)],
    ["EXPIRES", unixTime(b.expires_at)],
    ...Object.entries(b.metadata ?? {}).map(([k, v]): [string, string] => [`META ${k}`, v]),
  ]);
  const errors = b.errors?.data ?? [];
  return errors.length ? `${head}\n${section("ERRORS")}${table(ERROR_COLUMNS, errors)}` : head;
}

const BATCH_COLUMNS: Column<Batch>[] = [
  { header: "id", show: (b) => b.id },
  { header: "status", show: (b) => b.status },
  { header: "endpoint", show: (b) => b.endpoint },
  { header: "created", show: (b) => unixTime(b.created_at), raw: (b) => unixRfc3339(b.created_at) },
  { header: "completed", show: (b) => count(counts(b).completed), raw: (b) => counts(b).completed, right: true },
  { header: "failed", show: (b) => count(counts(b).failed), raw: (b) => counts(b).failed, right: true },
  { header: "total", show: (b) => count(counts(b).total), raw: (b) => counts(b).total, right: true },
  { header: "cost", csv: "cost_usd", show: (b) => dollars(costNano(b)), raw: (b) => usd(costNano(b)), right: true },
  // CSV: the metadata object as JSON (its values may hold anything).
  { header: "metadata", show: (b) => metadataText(b.metadata), raw: (b) => (b.metadata && Object.keys(b.metadata).length ? JSON.stringify(b.metadata) : "") },
];

/** What --wait shows while it waits: "batch_… in_progress: 12 of 40 lines done (1 failed)". */
function progressText(b: Batch): string {
  const c = counts(b);
  const done = c.completed + c.failed;
  return `batch ${b.id} ${b.status}` + (c.total ? `: ${count(done)} of ${count(c.total)} lines done${c.failed ? ` (${count(c.failed)} failed)` : ""}` : "");
}

// ── flags ─────────────────────────────────────────────────────────────────────────────────────

function parseEndpoint(s: string): string {
  const v = s.trim();
  if (!(BATCH_ENDPOINTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`"${s}" is not an endpoint a batch may target: use one of ${BATCH_ENDPOINTS.join(", ")}`);
  return v;
}

/** --metadata k=v, repeatable, within OpenAI's limits. */
function parseMetadata(s: string, acc: Record<string, string> = {}): Record<string, string> {
  const next = parsePair(s, acc);
  const k = s.slice(0, s.indexOf("=")).trim();
  const v = next[k];
  if (k.length > MAX_METADATA.key) throw new InvalidArgumentError(`key "${k.slice(0, 20)}…" is longer than ${MAX_METADATA.key} characters`);
  if (v.length > MAX_METADATA.value) throw new InvalidArgumentError(`the value of "${k}" is longer than ${MAX_METADATA.value} characters`);
  if (Object.keys(next).length > MAX_METADATA.pairs) throw new InvalidArgumentError(`at most ${MAX_METADATA.pairs} pairs`);
  return next;
}

/** The endpoint the file's lines name (their `url`), when they all name the same one. */
export function endpointOfLines(content: string): string | undefined {
  const urls = new Set<string>();
  for (const line of content.split("\n")) {
    if (!line.trim()) continue;
    try {
      const url = (JSON.parse(line) as { url?: unknown })?.url;
      if (typeof url === "string") urls.add(url);
    } catch {
      // A malformed line: the gateway names it when it validates the file.
    }
  }
  const [only] = urls;
  return urls.size === 1 && (BATCH_ENDPOINTS as readonly string[]).includes(only) ? only : undefined;
}

/** The input file: its bytes and name; a path that is not a readable, non-empty file is bad usage. */
async function inputOf(path: string): Promise<{ content: Buffer; name: string }> {
  if (path === "-") {
    const content = Buffer.from(await readStdin(), "utf8");
    if (!content.length) throw usageError("no input on stdin", "pipe the JSONL file in (… | signalbox batch create -) or pass its path");
    return { content, name: "stdin.jsonl" };
  }
  let content: Buffer;
  try {
    if (!statSync(path).isFile()) throw usageError(`${path} is not a file`, "pass the path of a JSONL file, one request a line");
    content = readFileSync(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
  if (!content.length) throw usageError(`${path} is empty`, "a batch's input is a JSONL file, one request a line");
  return { content, name: basename(path) };
}

/** Follow a batch until it ends: a look every second (or SIGNALBOX_POLL_MS), progress on stderr. */
async function settle(rest: Rest, b: Batch, every: number): Promise<Batch> {
  return waiting(progressText(b), async (progress) => {
    let cur = b;
    while (!FINAL.includes(cur.status)) {
      await new Promise((r) => setTimeout(r, every));
      cur = await rest.get<Batch>(batchPath(cur.id));
      progress(progressText(cur));
    }
    return cur;
  });
}

const batchPath = (id: string) => `/v1/batches/${encodeURIComponent(id)}`;

/** The batch, then exit 1 when it did not complete (said on stderr). */
async function showEnded(b: Batch, mode: Mode, okStatuses: readonly string[]): Promise<void> {
  if (mode === "json") await json(b);
  else await out(describeBatch(b));
  if (okStatuses.includes(b.status)) return;
  const c = counts(b);
  if (b.status === "failed") {
    const errors = b.errors?.data ?? [];
    const first = errors[0] ? `; the first: ${errors[0].line != null ? `line ${errors[0].line}, ` : ""}${errors[0].code ?? "error"}${errors[0].message ? `: ${errors[0].message}` : ""}` : "";
    const what = errors.length ? `${errors.length} invalid line${errors.length === 1 ? "" : "s"} in its input file${first}` : "its input file was refused";
    throw failure(`batch ${b.id} failed, no line was run: ${what}`, "fix the input file and create the batch again");
  }
  throw failure(
    `batch ${b.id} ${b.status === "expired" ? "expired before it finished" : `was ${b.status}`}: ${count(c.completed)} of ${count(c.total)} lines answered`,
    `\`signalbox batch output ${b.id}\` has the answered lines, \`--errors\` the rest`,
  );
}

// ── the commands ──────────────────────────────────────────────────────────────────────────────

interface CreateFlags {
  endpoint?: string;
  metadata?: Record<string, string>;
  wait?: boolean;
}

export function batchCommands(program: Command): void {
  program
    .command("batches")
    .description("batches (OpenAI Batch API), newest first: status, endpoint, lines completed/failed/total, cost, metadata")
    .option("--limit <n>", "at most this many (pages are followed)", parseCount(1, 100_000), 20)
    .addHelpText("after", "\nExamples:\n  signalbox batches\n  signalbox batches --limit 200 --csv > batches.csv\n  signalbox batches --json | jq -r '.data[] | select(.status == \"failed\") | .id'")
    .action(async (o: { limit: number }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: true });
      const rest = restOf(g, HINTS);
      const { data, hasMore } = await waiting("listing batches", () => listBatches(rest, o.limit));
      if (mode === "json") return json({ object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore });
      if (mode === "csv") return out(csv(BATCH_COLUMNS, data));
      await out(data.length ? table(BATCH_COLUMNS, data) : "no batches\n");
      if (hasMore) note(`showing the newest ${data.length}; raise --limit to see more`);
    });

  const batch = program.command("batch").description("one batch (OpenAI Batch API): create (upload a JSONL file and start), get, cancel, output");

  batch
    .command("create")
    .description("upload a JSONL file of requests (purpose batch) and start a batch on it; its id and status on stdout")
    .argument("<file>", "the JSONL file, one request a line: {custom_id, method: POST, url, body}; - reads it from stdin")
    .option("--endpoint <path>", `the endpoint its lines call: ${BATCH_ENDPOINTS.join(", ")} (default: the url of the file's lines)`, parseEndpoint)
    .option("--metadata <key=value>", `metadata entries, repeatable (at most ${MAX_METADATA.pairs})`, parseMetadata)
    .option("--wait", "follow it (a look every second, or every $SIGNALBOX_POLL_MS ms; progress on stderr) until it ends, then print how it ended; exit 1 when it failed, expired or was cancelled")
    .addHelpText(
      "after",
      [
        "",
        "Without --wait, stdout is the batch's id, a tab and its status (validating), so",
        "BATCH=$(signalbox batch create in.jsonl | cut -f1) keeps the id. With --wait, stdout is the",
        "finished batch as `signalbox batch get` shows it. --json prints the API's batch object.",
        "",
        "Examples:",
        "  signalbox batch create requests.jsonl --endpoint /v1/chat/completions --metadata job=nightly",
        "  signalbox batch create requests.jsonl --wait && signalbox batch output \"$(signalbox batches --json | jq -r '.data[0].id')\"",
        "  jq -c '{custom_id: .id, method: \"POST\", url: \"/v1/embeddings\", body: {model: \"embed\", input: .text}}' docs.json | signalbox batch create - --wait",
      ].join("\n"),
    )
    .action(async (file: string, o: CreateFlags, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const every = o.wait ? pollMs() : DEFAULT_POLL_MS;
      const { content, name } = await inputOf(file);
      const endpoint = o.endpoint ?? endpointOfLines(content.toString("utf8"));
      if (!endpoint) throw usageError("--endpoint is required: the file's lines do not all name one endpoint a batch may target in their url", `pass --endpoint ${BATCH_ENDPOINTS.join(" | ")}`);
      const { uploaded, created } = await waiting(`uploading ${name}`, async (progress) => {
        const form = new FormData();
        form.append("purpose", "batch");
        form.append("file", new Blob([new Uint8Array(content)], { type: "application/jsonl" }), name);
        const uploaded = await rest.upload<FileObject>("/v1/files", form);
        progress("creating the batch");
        const created = await rest.post<Batch>("/v1/batches", { input_file_id: uploaded.id, endpoint, completion_window: "24h", ...(o.metadata ? { metadata: o.metadata } : {}) });
        return { uploaded, created };
      });
      const what = `${name} uploaded as ${uploaded.id} (${count(uploaded.bytes)} bytes)`;
      if (!o.wait) {
        if (mode === "json") await json(created);
        else await out(`${created.id}\t${created.status}\n`);
        note(`${what}; follow the batch with \`signalbox batch get ${created.id}\``);
        return;
      }
      note(`${what}; batch ${created.id} created, waiting for it to finish (Ctrl-C stops the waiting, not the batch)`);
      await showEnded(await settle(rest, created, every), mode, ["completed"]);
    });

  batch
    .command("get")
    .description("one batch: status, lines completed/failed/total, tokens, cost, files, every timestamp, metadata, and its input file's invalid lines")
    .argument("<id>", "the batch's id (batch_…; `signalbox batches` lists them)")
    .addHelpText("after", "\nExamples:\n  signalbox batch get batch_4f0c…\n  signalbox batch get batch_4f0c… --json | jq .request_counts")
    .action(async (id: string, _o: object, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const b = await waiting("reading the batch", () => rest.get<Batch>(batchPath(id)));
      if (mode === "json") return json(b);
      await out(describeBatch(b));
    });

  batch
    .command("cancel")
    .description("stop a batch taking lines: lines under way finish; the rest go to its error file as batch_cancelled")
    .argument("<id>", "the batch's id")
    .option("--wait", "wait until it is cancelled (lines under way finish), then print it as `batch get` does")
    .addHelpText("after", "\nExamples:\n  signalbox batch cancel batch_4f0c…\n  signalbox batch cancel batch_4f0c… --wait && signalbox batch output batch_4f0c…")
    .action(async (id: string, o: { wait?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, { ...HINTS, invalid_argument: "only a validating or in-progress batch can be cancelled: `signalbox batch get` shows its status" });
      const every = o.wait ? pollMs() : DEFAULT_POLL_MS;
      const b = await waiting("cancelling the batch", () => rest.post<Batch>(`${batchPath(id)}/cancel`));
      // It may still complete, when its last lines were under way: that is not a failure.
      if (o.wait) return showEnded(await settle(rest, b, every), mode, ["cancelled", "completed"]);
      if (mode === "json") return json(b);
      const c = counts(b);
      await out(
        b.status === "cancelling"
          ? `cancelling batch ${b.id}: ${count(c.completed)} of ${count(c.total)} lines answered so far; lines under way finish, the rest go to its error file\n`
          : `${b.status} batch ${b.id}: ${count(c.completed)} of ${count(c.total)} lines answered; the rest are in its error file\n`,
      );
    });

  batch
    .command("output")
    .description("a finished batch's output file (the answered lines, JSONL), or with --errors its error file, to stdout or a file")
    .argument("<id>", "the batch's id")
    .option("--errors", "the error file: the lines that failed (status_code and error), or were never run (cancelled, expired)")
    .option("-o, --output <file>", "write it to this file instead of stdout (- is stdout)")
    .addHelpText(
      "after",
      [
        "",
        "Each line is {id, custom_id, response: {status_code, request_id, body}, error}, in no particular",
        "order: match them to the input's lines by custom_id. Exit 1 when the batch has not ended yet, or",
        "has no such file (no line answered; with --errors, no line failed).",
        "",
        "Examples:",
        "  signalbox batch output batch_4f0c… | jq -r '[.custom_id, .response.body.choices[0].message.content] | @tsv'",
        "  signalbox batch output batch_4f0c… --errors -o failed.jsonl",
      ].join("\n"),
    )
    .action(async (id: string, o: { errors?: boolean; output?: string }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const rest = restOf(g, HINTS);
      const target = o.output === undefined || o.output === "-" ? undefined : outFile(o.output);
      const b = await waiting("reading the batch", () => rest.get<Batch>(batchPath(id)));
      const kind = o.errors ? "error" : "output";
      const fileId = o.errors ? b.error_file_id : b.output_file_id;
      if (!fileId) {
        if (!FINAL.includes(b.status)) throw failure(`batch ${b.id} is ${b.status}: its ${kind} file is written when it ends`, `wait for it: \`signalbox batch get ${b.id}\` shows its progress`);
        throw failure(
          `batch ${b.id} (${b.status}) has no ${kind} file: ${o.errors ? "no line failed" : "no line was answered"}`,
          o.errors ? undefined : b.error_file_id ? "its error file has every line: pass --errors" : `\`signalbox batch get ${b.id}\` says why`,
        );
      }
      const res = await rest.download(`/v1/files/${encodeURIComponent(fileId)}/content`);
      const { bytes, lines } = await copyBody(res, target);
      const summary = `${count(lines)} line${lines === 1 ? "" : "s"}, ${count(bytes)} bytes: ${fileId}, the ${kind} file of ${b.id}`;
      if (!target) return note(`— ${summary}`);
      if (mode === "json") return json({ batch_id: b.id, file_id: fileId, file: target, bytes, lines });
      await out(`${target}\t${summary}\n`);
    });
}

/** Follow `has_more` pages, newest first, until `limit` batches or the last page. */
async function listBatches(rest: Rest, limit: number): Promise<{ data: Batch[]; hasMore: boolean }> {
  const data: Batch[] = [];
  let after: string | undefined;
  let hasMore = false;
  do {
    const page = await rest.get<BatchList>("/v1/batches", { limit: Math.min(LIST_PAGE, limit - data.length), after });
    data.push(...page.data);
    hasMore = page.has_more;
    after = page.last_id ?? page.data.at(-1)?.id;
  } while (hasMore && after && data.length < limit);
  return { data: data.slice(0, limit), hasMore: hasMore || data.length > limit };
}

/** -o: a file in a directory that exists (checked before anything is asked for). */
function outFile(path: string): string {
  if (path === "") throw usageError("-o/--output: empty path", "pass a file name, or - for stdout");
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // It need not exist yet.
  }
  if (isDir || /[/\\]$/.test(path)) throw usageError(`-o/--output ${path} is a directory`, "pass the path of the file to write");
  try {
    if (!statSync(dirname(path)).isDirectory()) throw new Error();
  } catch {
    throw usageError(`-o/--output ${path}: no such directory: ${dirname(path)}`, "create it first, or pass a path in an existing directory");
  }
  return path;
}

/** Copy a response's body to a file or stdout, as it arrives: how many bytes and lines. */
async function copyBody(res: Response, file: string | undefined): Promise<{ bytes: number; lines: number }> {
  let bytes = 0;
  let newlines = 0;
  let last = 0x0a;
  const counted = async function* (body: AsyncIterable<Uint8Array>) {
    for await (const chunk of body) {
      bytes += chunk.length;
      for (const c of chunk) if (c === 0x0a) newlines++;
      if (chunk.length) last = chunk[chunk.length - 1];
      yield chunk;
    }
  };
  const body = res.body ? (Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>) as AsyncIterable<Uint8Array>) : (async function* () {})();
  if (file) {
    try {
      await pipeline(counted(body), createWriteStream(file));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw failure(`writing ${file}: ${(err as Error).message}`, "check the --output path and its permissions");
    }
  } else {
    for await (const chunk of counted(body)) await new Promise<void>((resolve) => process.stdout.write(chunk, () => resolve()));
  }
  return { bytes, lines: newlines + (last === 0x0a ? 0 : 1) };
}
