// Runs batches: each line of a batch's input file goes through the same engine as a request to
// its endpoint would (routing, fallbacks, retries, limits, budgets, guardrails, usage records,
// traces), as the key that made the batch, a few lines at a time, so that a batch never crowds
// out interactive traffic. Any provider, including those without a batch API of their own.
//
// - One batch at a time per replica, oldest first, while this replica holds its lease (store.ts);
//   other replicas take other batches. Lines finished are kept as they finish (in small groups),
//   so a batch whose replica stopped is taken up again from the first line not yet finished.
// - A line refused by a rate limit, or by every deployment cooling down, waits as the refusal says
//   (retry-after) and is tried again, while the batch has time: a batch is meant to run at the
//   pace the limits allow. Every other error is the line's answer, in the error file, with the
//   status and body the endpoint would have answered.
// - Cancelling stops taking lines; the lines under way finish. Past its completion window a batch
//   expires. Either way the output file holds what was answered, and the error file the rest.
// - A key revoked (or expired) while its batch runs: its remaining lines fail as unauthenticated.

import { randomBytes } from "node:crypto";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { GatewayCore } from "../gateway.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { newRequestId, traceIdFrom, type RequestInfo } from "../server/context.ts";
import { serveEmbeddings } from "../compat/embeddings.ts";
import { serveModerations } from "../compat/moderations.ts";
import { serveOcr } from "../compat/ocr.ts";
import { serveSearch } from "../compat/search.ts";
import { parseChatRequest } from "../compat/request.ts";
import { completionJson, mergedSummary, toOpenAIError } from "../compat/response.ts";
import { completeChoices } from "../compat/choices.ts";
import { toAnthropicError } from "../compat/anthropic/errors.ts";
import { parseMessagesRequest } from "../compat/anthropic/request.ts";
import { messageJson } from "../compat/anthropic/response.ts";
import { completionTextJson, parseCompletionRequest } from "../compat/completions.ts";
import { parseResponsesRequest } from "../compat/responses/request.ts";
import { responseId, responseJson } from "../compat/responses/response.ts";
import { log } from "../telemetry/log.ts";
import { isObj } from "../compat/request.ts";
import { ACTIVE, jsonlLines, newFileId, secs, storable, type BatchEndpoint, type BatchError, type BatchRecord, type BatchStatus, type BatchStore, type LineResult, type StoredFile } from "./store.ts";

/** OpenAI's limit of requests in one batch. */
export const MAX_BATCH_LINES = 50_000;
/** How many of the input file's errors a failed validation lists. */
const MAX_ERRORS = 100;
const LEASE_MS = 30_000;
/** Results are kept in groups of this many, or every FLUSH_MS, whichever comes first. */
const FLUSH_LINES = 50;
/** Finished lines read at a time (resuming a batch, writing its files). */
const RESULT_PAGE = 1000;
const FLUSH_MS = 500;
/** Store errors in a row under one batch before it fails (rather than hold up the batches behind it). */
const MAX_STORE_FAILURES = 5;
/** Tries of a line refused by a rate limit or a cooldown (then the refusal is its answer). */
const MAX_WAITS = 30;
const MAX_WAIT_MS = 60_000;

export interface BatchRunnerOptions {
  store: BatchStore;
  engine: ChatEngine;
  /** Read at call time: a reload swaps the configuration and its keys. */
  core: () => GatewayCore;
  /** The caller a batch runs as, by key name (undefined: revoked, expired or gone). */
  callerOf(keyName: string): Caller | undefined;
  /** Lines run at once by this replica, shared by its batches (`batches.concurrency`). */
  concurrency: number;
  /** Batches run at once by this replica (`batches.parallel`, default 4): a long batch does not hold up a short one. */
  parallel?: number;
  /** How often an idle replica looks for batches to run. */
  pollMs?: number;
  /** This replica's name in leases. */
  holder?: string;
  /** How often finished lines are kept and the batch's counts updated (default 500 ms). */
  flushMs?: number;
  now?: () => number;
}

export interface BatchRunner {
  /** Look for work now (a batch was created or cancelled). */
  kick(): void;
  /** Stop taking lines; the lines under way get `graceMs` to finish, then are cut (and run again by whoever takes the batch up). */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when no batch is being run (tests). */
  idle(): Promise<void>;
}

/**
 * One request of the input file. Its bytes are a view into the file (no copy), and its body is
 * parsed when it runs: a large file's requests never sit in the V8 heap all at once.
 */
export interface Line {
  line: number;
  customId: string;
  bytes: Buffer;
}

/** A line's request body (its JSON parsed again; parseInput checked it is an object). */
export const bodyOf = (l: Line): Record<string, unknown> => (JSON.parse(l.bytes.toString("utf8")) as { body: Record<string, unknown> }).body;

type Parsed = { lines: Line[]; errors: BatchError[] };


/** The input file's lines, or why it cannot run (OpenAI's validation: the whole batch fails). */
export function parseInput(content: Buffer, endpoint: BatchEndpoint): Parsed {
  const lines: Line[] = [];
  const errors: BatchError[] = [];
  const seen = new Set<string>();
  const err = (line: number | null, code: string, message: string, param: string | null = null) => {
    if (errors.length < MAX_ERRORS) errors.push({ code, message, param, line });
  };
  // Line by line over the bytes: each line is decoded and parsed on its own, then let go.
  for (const { n, bytes } of jsonlLines(content)) {
    const s = bytes.toString("utf8").trim();
    if (!s) continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      err(n, "invalid_json_line", `line ${n} is not valid JSON`);
      continue;
    }
    if (!isObj(v)) {
      err(n, "invalid_json_line", `line ${n} must be a JSON object with custom_id, method, url and body`);
      continue;
    }
    const customId = v.custom_id;
    if (typeof customId !== "string" || !customId) {
      err(n, "missing_required_parameter", `line ${n}: custom_id must be a non-empty string`, "custom_id");
      continue;
    }
    // Kept as text by the stores (PostgreSQL holds no NUL and no half of a surrogate pair).
    if (!storable(customId)) {
      err(n, "invalid_request", `line ${n}: custom_id holds a NUL character or invalid UTF-16`, "custom_id");
      continue;
    }
    if (seen.has(customId)) {
      err(n, "duplicate_custom_id", `line ${n}: custom_id "${customId}" is used by an earlier line; each must be unique`, "custom_id");
      continue;
    }
    seen.add(customId);
    if (v.method !== "POST") {
      err(n, "invalid_request", `line ${n}: method must be "POST"`, "method");
      continue;
    }
    if (v.url !== endpoint) {
      err(n, "mismatched_endpoint", `line ${n}: url must be the batch's endpoint "${endpoint}", got ${JSON.stringify(v.url)}`, "url");
      continue;
    }
    if (!isObj(v.body)) {
      err(n, "invalid_request", `line ${n}: body must be a JSON object`, "body");
      continue;
    }
    lines.push({ line: n, customId, bytes });
  }
  if (!lines.length && !errors.length) err(null, "empty_file", "the input file holds no requests");
  if (lines.length > MAX_BATCH_LINES) err(null, "too_many_requests", `the input file holds ${lines.length} requests; a batch may hold at most ${MAX_BATCH_LINES}`);
  return { lines, errors };
}

/** Running sums of a batch's finished lines. */
export interface Sums {
  completed: number;
  failed: number;
  input: number;
  cached: number;
  output: number;
  reasoning: number;
  cost: number;
}

export const sumsOf = (results: readonly LineResult[]): Sums => {
  const s: Sums = { completed: 0, failed: 0, input: 0, cached: 0, output: 0, reasoning: 0, cost: 0 };
  for (const r of results) addLine(s, r);
  return s;
};

function addLine(s: Sums, r: LineResult): void {
  if (r.ok) s.completed++;
  else s.failed++;
  s.input += r.inputTokens;
  s.cached += r.cachedInputTokens;
  s.output += r.outputTokens;
  s.reasoning += r.reasoningTokens;
  s.cost += r.costNanos;
}

/** The batch with its counts, usage and cost as the sums say. */
export function tally(b: BatchRecord, s: Sums): BatchRecord {
  return {
    ...b,
    request_counts: { total: b.request_counts.total, completed: s.completed, failed: s.failed },
    usage: { input_tokens: s.input, input_tokens_details: { cached_tokens: s.cached }, output_tokens: s.output, output_tokens_details: { reasoning_tokens: s.reasoning }, total_tokens: s.input + s.output },
    cost_nano_usd: s.cost,
  };
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

type Used = Pick<LineResult, "inputTokens" | "cachedInputTokens" | "outputTokens" | "reasoningTokens" | "costNanos">;
const NOTHING_USED: Used = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, costNanos: 0 };

/** What an engine answer used and cost. */
const usedBy = (a: { usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number; reasoningTokens: number }; cost: { total: number } }): Used => ({
  inputTokens: a.usage.inputTokens,
  cachedInputTokens: a.usage.cachedInputTokens,
  outputTokens: a.usage.outputTokens,
  reasoningTokens: a.usage.reasoningTokens,
  costNanos: a.cost.total,
});

/** What a line's response body says it used and cost (embeddings, moderations). */
function usageOf(body: unknown): Used {
  const b = isObj(body) ? body : {};
  const u = isObj(b.usage) ? b.usage : {};
  const pd = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  const cd = isObj(u.completion_tokens_details) ? u.completion_tokens_details : {};
  const sb = isObj(b.signalbox) ? b.signalbox : {};
  return {
    inputTokens: num(u.prompt_tokens),
    cachedInputTokens: num(pd.cached_tokens),
    outputTokens: num(u.completion_tokens),
    reasoningTokens: num(cd.reasoning_tokens),
    costNanos: num(sb.cost_nano_usd),
  };
}

const requestLineId = () => `batch_req_${randomBytes(12).toString("hex")}`;

/** A line that was never run (cancelled or expired): in the error file, with the reason. */
function unrunLine(l: Line, code: "batch_cancelled" | "batch_expired"): LineResult {
  const message = code === "batch_cancelled" ? "the batch was cancelled before this request ran" : "the batch expired before this request ran";
  return {
    line: l.line,
    customId: l.customId,
    ok: false,
    json: JSON.stringify({ id: requestLineId(), custom_id: l.customId, response: null, error: { code, message } }),
    inputTokens: 0,
    cachedInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    costNanos: 0,
  };
}

const statusOf = (signal: AbortSignal) => (err: unknown) => (signal.aborted ? "canceled" : err === undefined ? "ok" : err instanceof GatewayError ? err.code : "internal");

export function createBatchRunner(o: BatchRunnerOptions): BatchRunner {
  const { store } = o;
  const now = o.now ?? Date.now;
  const holder = o.holder ?? `${process.pid}-${randomBytes(4).toString("hex")}`;
  const flushMs = o.flushMs ?? FLUSH_MS;
  const parallel = Math.max(1, o.parallel ?? 4);
  /** The claim loop, while it looks for batches. */
  let claiming: Promise<void> | undefined;
  /** The batches this replica runs, by id. */
  const runs = new Map<string, Promise<void>>();
  /** Store errors in a row, by batch. */
  const storeFailures = new Map<string, number>();
  let stopping = false;
  let again = false;
  /** Cuts every line under way (a stop past its grace); each batch also has its own (a lost lease). */
  let cut = new AbortController();
  const slots = semaphore(Math.max(1, o.concurrency));
  /** Files past their expires_at are deleted at most once a minute, by whichever replica polls. */
  let expiredAt = 0;
  const timer = setInterval(() => {
    if (now() - expiredAt >= 60_000) {
      expiredAt = now();
      store.expireFiles(expiredAt).catch((err: unknown) => log("warn", "batches: could not delete expired files", { error: (err as Error).message }));
    }
    kick();
  }, o.pollMs ?? 1000);
  timer.unref();

  function kick() {
    if (stopping) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = claim().finally(() => {
      claiming = undefined;
      if (again && !stopping) {
        again = false;
        kick();
      }
    });
  }

  /** Take batches (oldest first, passing over those this replica runs) while there is room. */
  async function claim() {
    while (!stopping && runs.size < parallel) {
      let id: string | undefined;
      try {
        id = await store.claim(holder, LEASE_MS, now(), [...runs.keys()]);
      } catch (err) {
        log("warn", "batches: could not look for work", { error: (err as Error).message });
        return;
      }
      if (!id) return;
      const batchId = id;
      runs.set(
        batchId,
        runOne(batchId).finally(() => {
          runs.delete(batchId);
          // Room for another.
          kick();
        }),
      );
    }
  }

  async function runOne(id: string) {
    try {
      await runBatch(id);
      storeFailures.delete(id);
    } catch (err) {
      // The store failed under the batch: it runs again from its last finished line at the next
      // poll. A batch the store keeps refusing would hold up the batches behind it (the oldest
      // are taken first): after a few tries in a row it fails, saying why.
      const n = (storeFailures.get(id) ?? 0) + 1;
      storeFailures.set(id, n);
      const message = (err as Error).message;
      log("warn", "batches: a batch stopped on a store error; it is tried again at the next poll", { batch: id, error: message, tries: n });
      if (n >= MAX_STORE_FAILURES) {
        const b = await store.getBatch(id).catch(() => undefined);
        const failed = b
          ? await store
              .updateBatch(id, ACTIVE, { ...b, status: "failed", failed_at: secs(now()), errors: { object: "list", data: [{ code: "store_error", message: `the batch could not be kept: ${message}`, param: null, line: null }] } })
              .catch(() => undefined)
          : undefined;
        if (failed) storeFailures.delete(id);
      }
    } finally {
      await store.release(id, holder).catch(() => {});
    }
  }

  async function input(b: BatchRecord): Promise<Parsed> {
    const content = await store.fileContent(b.input_file_id);
    if (!content) return { lines: [], errors: [{ code: "file_not_found", message: `the input file ${b.input_file_id} no longer exists`, param: "input_file_id", line: null }] };
    return parseInput(content, b.endpoint);
  }

  async function runBatch(id: string) {
    let b = await store.getBatch(id);
    if (!b) return;
    if (b.status === "validating") {
      const parsed = await input(b);
      if (parsed.errors.length) {
        await store.updateBatch(id, ["validating"], { ...b, status: "failed", failed_at: secs(now()), errors: { object: "list", data: parsed.errors } });
        return;
      }
      const next = await store.updateBatch(id, ["validating"], { ...b, status: "in_progress", in_progress_at: secs(now()), request_counts: { total: parsed.lines.length, completed: 0, failed: 0 } });
      if (!next) b = await store.getBatch(id);
      else b = next;
      if (!b) return;
    }
    if (b.status === "in_progress") b = await runLines(b);
    if (!b) return;
    if (b.status === "cancelling" || b.status === "finalizing") await finish(b);
  }

  /** Run the lines not yet finished; returns the batch as it stands after (finalizing, cancelling) or undefined when the lease was lost. */
  async function runLines(b0: BatchRecord): Promise<BatchRecord | undefined> {
    let b = b0;
    const { lines, errors } = await input(b);
    if (errors.length) {
      // The input file went away under the batch (deleted): what ran stands, the rest cannot run.
      const failed = await store.updateBatch(b.id, ["in_progress"], { ...b, status: "failed", failed_at: secs(now()), errors: { object: "list", data: errors } });
      return failed ? undefined : await store.getBatch(b.id);
    }
    const sums = sumsOf([]);
    const done = new Set<number>();
    for await (const page of resultPages(b.id)) {
      for (const r of page) {
        done.add(r.line);
        addLine(sums, r);
      }
    }
    const todo = lines.filter((l) => !done.has(l.line));
    let next = 0;
    let pending: LineResult[] = [];
    let flushing: Promise<void> = Promise.resolve();
    let halted: "cancelling" | "expired" | "lease" | "stopping" | undefined;
    let lastFlush = now();
    let lastRenew = now();
    // This batch's lines are cut when its lease is lost, or when the replica's stop runs out of grace.
    const batchCut = new AbortController();
    const stopCut = cut.signal;
    const onStopCut = () => batchCut.abort();
    stopCut.addEventListener("abort", onStopCut, { once: true });

    const flush = async () => {
      const rs = pending;
      pending = [];
      lastFlush = now();
      if (rs.length) await store.addResults(b.id, rs);
      for (const r of rs) addLine(sums, r);
      // The counts as they stand (the status check also sees a cancel made on any replica).
      const cur = await store.updateBatch(b.id, ["in_progress"], tally(b, sums));
      if (cur) b = cur;
      else if (!halted) {
        const fresh = await store.getBatch(b.id);
        if (fresh?.status === "cancelling") halted = "cancelling";
        else halted = "lease";
        if (fresh) b = fresh;
      }
      if (now() - lastRenew > LEASE_MS / 3) {
        lastRenew = now();
        if (!(await store.renew(b.id, holder, LEASE_MS, now())) && !halted) {
          halted = "lease";
          batchCut.abort();
        }
      }
    };
    const queueFlush = () => {
      flushing = flushing.then(flush, flush);
      return flushing;
    };

    const worker = async () => {
      while (!halted && !stopping && next < todo.length) {
        if (now() >= b.expires_at * 1000) {
          halted = "expired";
          break;
        }
        const l = todo[next++];
        // One of the replica's line slots, shared fairly (first come, first served) by its batches.
        const release = await slots.acquire();
        let r: LineResult | undefined;
        try {
          r = halted || stopping ? undefined : await runLine(b, l, batchCut.signal);
        } finally {
          release();
        }
        if (!r) continue; // cut or halted: not finished, runs again
        pending.push(r);
        if (pending.length >= FLUSH_LINES || now() - lastFlush >= flushMs) await queueFlush();
      }
    };
    const heartbeat = setInterval(() => {
      if (now() - lastFlush >= flushMs) void queueFlush().catch(() => {});
    }, flushMs);
    heartbeat.unref();
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, todo.length)) }, worker));
    } finally {
      clearInterval(heartbeat);
      stopCut.removeEventListener("abort", onStopCut);
    }
    await queueFlush();
    if (stopping && !halted) halted = "stopping";
    if (halted === "lease" || halted === "stopping") return undefined;
    if (halted === "expired") {
      await finish({ ...b, status: "finalizing", finalizing_at: secs(now()) }, "expired");
      return undefined;
    }
    if (halted === "cancelling") return (await store.getBatch(b.id)) ?? undefined;
    const fin = await store.updateBatch(b.id, ["in_progress"], { ...b, status: "finalizing", finalizing_at: secs(now()) });
    return fin ?? (await store.getBatch(b.id));
  }

  /** Write the output and error files and end the batch: completed, cancelled or expired. */
  async function finish(b: BatchRecord, as?: "expired") {
    const final: BatchStatus = as ?? (b.status === "cancelling" ? "cancelled" : "completed");
    const { lines } = await input(b);
    // One pass over the finished lines, a page at a time: the files are built off the V8 heap (a
    // batch's output may be far larger than the heap), with the sums and the unrun counts.
    const sums = sumsOf([]);
    const unrun = { cancelled: 0, expired: 0 };
    const done = new Set<number>();
    const chunks: Record<"output" | "error", Buffer[]> = { output: [], error: [] };
    const take = (r: LineResult) => {
      done.add(r.line);
      addLine(sums, r);
      chunks[r.ok ? "output" : "error"].push(Buffer.from(`${r.json}\n`, "utf8"));
      if (r.ok) return;
      // Of the failed lines, those never run (Anthropic's results count them apart).
      const code = (JSON.parse(r.json) as { error?: { code?: string } | null }).error?.code;
      if (code === "batch_cancelled") unrun.cancelled++;
      else if (code === "batch_expired") unrun.expired++;
    };
    for await (const page of resultPages(b.id)) for (const r of page) take(r);
    if (final !== "completed") {
      // Every line not answered, wherever it was when the batch stopped, is in the error file.
      const rest = lines.filter((l) => !done.has(l.line)).map((l) => unrunLine(l, final === "cancelled" ? "batch_cancelled" : "batch_expired"));
      if (rest.length) await store.addResults(b.id, rest);
      for (const r of rest) take(r);
    }
    const t = now();
    const file = async (suffix: "output" | "error"): Promise<string | undefined> => {
      if (!chunks[suffix].length) return undefined;
      const content = Buffer.concat(chunks[suffix]);
      chunks[suffix] = [];
      const f: StoredFile = {
        id: newFileId(),
        object: "file",
        bytes: content.length,
        created_at: secs(t),
        filename: `${b.id}_${suffix}.jsonl`,
        purpose: "batch_output",
        status: "processed",
        ...(b.output_expires_after ? { expires_at: secs(t) + b.output_expires_after.seconds } : {}),
        owner: b.owner,
      };
      await store.putFile(f, content);
      return f.id;
    };
    const outputFileId = await file("output");
    const errorFileId = await file("error");
    const counted = tally(b, sums);
    const end: BatchRecord = {
      ...counted,
      request_counts: { ...counted.request_counts, total: Math.max(counted.request_counts.total, lines.length) },
      status: final,
      ...(unrun.cancelled || unrun.expired ? { unrun } : {}),
      ...(outputFileId ? { output_file_id: outputFileId } : {}),
      ...(errorFileId ? { error_file_id: errorFileId } : {}),
      finalizing_at: b.finalizing_at ?? secs(t),
      ...(final === "completed" ? { completed_at: secs(t) } : final === "cancelled" ? { cancelled_at: secs(t) } : { expired_at: secs(t) }),
    };
    const from: BatchStatus[] = final === "cancelled" ? ["cancelling"] : final === "expired" ? ["in_progress", "finalizing"] : ["finalizing"];
    if (await store.updateBatch(b.id, from, end)) await store.dropResults(b.id);
    else {
      // Another replica finished it first (or it was cancelled meanwhile): our files are spare.
      if (outputFileId) await store.deleteFile(outputFileId);
      if (errorFileId) await store.deleteFile(errorFileId);
    }
  }

  /** A batch's finished lines, a page at a time. */
  async function* resultPages(batchId: string): AsyncGenerator<LineResult[]> {
    for (let after = 0; ; ) {
      const page = await store.results(batchId, after, RESULT_PAGE);
      if (!page.length) return;
      yield page;
      after = page[page.length - 1].line;
      if (page.length < RESULT_PAGE) return;
    }
  }

  /** One line through the engine; undefined when it was cut (stop, lost lease) and must run again. */
  async function runLine(b: BatchRecord, l: Line, signal: AbortSignal): Promise<LineResult | undefined> {
    for (let tries = 1; ; tries++) {
      const ri: RequestInfo = { id: newRequestId(), traceId: traceIdFrom(null), arrivedAt: performance.now() };
      const tracer = o.core().tracing?.tracer;
      const span = tracer?.startSpan(`batch ${b.endpoint}`, { kind: SpanKind.INTERNAL, attributes: { "signalbox.batch.id": b.id, "signalbox.batch.custom_id": l.customId, "signalbox.batch.line": l.line } });
      if (span) {
        ri.traceId = span.spanContext().traceId;
        ri.otel = trace.setSpan(ROOT_CONTEXT, span);
      }
      let status = 200;
      let body: unknown;
      let used: Used = NOTHING_USED;
      let wait: number | undefined;
      try {
        const caller = o.callerOf(b.owner.key);
        if (!caller) throw new GatewayError("unauthenticated", `API key "${b.owner.key}" was revoked, expired or removed while its batch ran`);
        ({ body, used } = await serve(b, l, ri, caller, signal));
      } catch (err) {
        if (signal.aborted) {
          span?.end();
          return undefined;
        }
        // The error as the endpoint itself would answer it (OpenAI's shape, or Anthropic's).
        const e = b.endpoint === "/v1/messages" ? toAnthropicError(err, ri.id) : toOpenAIError(err);
        status = e.status;
        body = e.body;
        // A rate limit (not a spent budget) or no deployment to try right now: wait as told, and try again.
        const retryable = (status === 429 && e.headers["x-should-retry"] !== "false") || status === 503 || status === 529;
        if (retryable && tries < MAX_WAITS) wait = Math.min(MAX_WAIT_MS, Number(e.headers["retry-after-ms"] ?? 1000));
        span?.setStatus({ code: SpanStatusCode.ERROR, message: e.body.error.message });
      }
      span?.setAttribute("http.response.status_code", status);
      span?.end();
      // Stopping: a line waiting out a refusal is left to whoever takes the batch up.
      if (wait !== undefined && stopping) return undefined;
      if (wait !== undefined && now() + wait < b.expires_at * 1000) {
        await sleep(wait, signal);
        if (signal.aborted) return undefined;
        continue;
      }
      const ok = status >= 200 && status < 300;
      return {
        line: l.line,
        customId: l.customId,
        ok,
        json: JSON.stringify({ id: requestLineId(), custom_id: l.customId, response: { status_code: status, request_id: ri.id, body }, error: null }),
        ...used,
      };
    }
  }

  /** One line's answer, and what it used (from the engine's answer where the body does not say). */
  async function serve(b: BatchRecord, l: Line, ri: RequestInfo, caller: Caller, signal: AbortSignal): Promise<{ body: unknown; used: Used }> {
    const ctx = { ri, caller, signal, statusOf: statusOf(signal) };
    const body = bodyOf(l);
    if (body.stream === true) throw new GatewayError("invalid_argument", "stream: a batch request cannot be streamed", { field: "stream" });
    switch (b.endpoint) {
      case "/v1/chat/completions": {
        const parsed = parseChatRequest(body, ri.id, caller, o.core().control.prompts, o.core().config.presets);
        const answers = await completeChoices(o.engine, { call: inBatch(parsed.call, b, l), ri, signal, cache: parsed.cache, statusOf: ctx.statusOf }, parsed.n);
        return { body: completionJson(answers, Math.floor(now() / 1000)), used: usedBy(mergedSummary(answers)) };
      }
      case "/v1/responses": {
        // A batch's responses are not stored (as OpenAI's), so they neither continue one nor join a conversation.
        for (const field of ["previous_response_id", "conversation", "background"]) {
          const v = body[field];
          if (v !== undefined && v !== null && v !== false) throw new GatewayError("invalid_argument", `${field}: a batch's responses are not stored (a batch is itself run in the background); send the conversation as input items`, { field });
        }
        const parsed = parseResponsesRequest(body, ri.id, caller, [], "input", o.core().control.prompts);
        if (parsed.mcp.length) throw new GatewayError("invalid_argument", `${parsed.mcp[0].path}.type: mcp tools are not run in a batch's lines; send them to /v1/responses`, { field: `${parsed.mcp[0].path}.type` });
        if (parsed.fileSearch) throw new GatewayError("invalid_argument", `${parsed.fileSearch.field}.type: the file_search tool is not run in a batch's lines; send it to /v1/responses`, { field: `${parsed.fileSearch.field}.type` });
        const a = await o.engine.complete({ call: inBatch(parsed.call, b, l), ri, signal, cache: parsed.cache, statusOf: ctx.statusOf });
        return { body: responseJson({ id: responseId(ri.id), createdAt: Math.floor(now() / 1000), echo: parsed.echo, store: false }, a), used: usedBy(a) };
      }
      case "/v1/completions": {
        const parsed = parseCompletionRequest(body, ri.id, caller);
        const answers = await completeChoices(o.engine, { call: inBatch(parsed.call, b, l), ri, signal, cache: parsed.cache, statusOf: ctx.statusOf }, parsed.n);
        return { body: completionTextJson(answers, parsed.logprobs), used: usedBy(mergedSummary(answers)) };
      }
      case "/v1/embeddings": {
        const out = (await serveEmbeddings(o.engine, tagged(body, l, b), ctx)).body;
        return { body: out, used: usageOf(out) };
      }
      case "/v1/moderations": {
        const out = (await serveModerations(o.engine, tagged(body, l, b), ctx)).body;
        return { body: out, used: usageOf(out) };
      }
      // Documents read and searches made in the background: each line one request, billed as one.
      case "/v1/ocr": {
        // A line's document may be a file uploaded to the Files API (Mistral's {"type": "file", "file_id"}).
        const out = (await serveOcr(o.engine, tagged(body, l, b), { ...ctx, files: o.store })).body;
        return { body: out, used: usageOf(out) };
      }
      case "/v1/search": {
        const out = (await serveSearch(o.engine, tagged(body, l, b), ctx)).body;
        return { body: out, used: usageOf(out) };
      }
      case "/v1/messages": {
        // Anthropic's metadata holds only user_id: the batch goes on the parsed call instead.
        const parsed = parseMessagesRequest(body, ri.id, caller);
        const a = await o.engine.complete({ call: inBatch(parsed.call, b, l), ri, signal, cache: parsed.cache, statusOf: ctx.statusOf });
        return { body: messageJson(a, parsed.call.request.stop), used: usedBy(a) };
      }
    }
  }

  return {
    kick,
    async stop(graceMs = 10_000) {
      stopping = true;
      clearInterval(timer);
      const t = setTimeout(() => cut.abort(), graceMs);
      try {
        await claiming;
        await Promise.all(runs.values());
      } finally {
        clearTimeout(t);
        cut = new AbortController();
      }
    },
    async idle() {
      while (claiming || runs.size) {
        await claiming;
        await Promise.all(runs.values());
      }
    },
  };
}

/** A parsed call with the batch in its metadata and the tag "batch" (doors whose metadata has a shape of its own). */
function inBatch<C extends { metadata: Record<string, string>; tags: string[] }>(call: C, b: BatchRecord, l: Line): C {
  return { ...call, metadata: { ...call.metadata, batch_id: b.id, batch_custom_id: l.customId }, tags: [...call.tags, "batch"] };
}

/** The line's body with the batch in its metadata and the tag "batch" (recorded with its usage, never sent upstream). */
function tagged(body: Record<string, unknown>, l: Line, b: BatchRecord): Record<string, unknown> {
  const md = isObj(body.metadata) ? body.metadata : {};
  const sb = isObj(body.signalbox) ? body.signalbox : {};
  const tags = Array.isArray(sb.tags) ? sb.tags : [];
  return { ...body, metadata: { ...md, batch_id: b.id, batch_custom_id: l.customId }, signalbox: { ...sb, tags: [...tags, "batch"] } };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** N slots, handed out first come, first served: acquire() resolves to the slot's release. */
function semaphore(n: number): { acquire(): Promise<() => void> } {
  let free = n;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    acquire() {
      if (free > 0) {
        free--;
        return Promise.resolve(release);
      }
      return new Promise((resolve) => waiting.push(() => resolve(release)));
    },
  };
}
