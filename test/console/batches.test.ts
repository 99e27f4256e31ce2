// The console's Batches page in a real browser: Debian's Chromium (driven by playwright-core) signs
// in to a gateway started in process, with batches made through the REST API (files.create, then
// batches.create): one that completes, one whose input file is malformed (it fails validation),
// and a slow one cancelled from the page. Checks what the page shows against GET /v1/batches:
// statuses, counts, cost, tokens and metadata; the failed batch's bad lines; Cancel; the output
// file downloaded under its own name; Load more; the refresh stopping once nothing runs; a missing
// batch's "not found". Then Anthropic message batches made with the official SDK
// (messages.batches.create) on the same page: listed with their API, status, counts and cost; an
// ended one's results downloaded; a running one refreshed and cancelled from its panel (the
// Anthropic endpoints, with the key as a bearer token); a missing one's "not found".
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type { BrowserContext, Page } from "playwright-core";
import { count, usd } from "../../console/src/format.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, endSuite, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "batches", "secret"].join("-");
const SLOW_LINES = 30;
/** The page's refresh while a batch runs (REFRESH_MS in console/src/pages/batches.tsx). */
const REFRESH_MS = 2000;

const CONFIG = `
providers:
  - { name: mock, type: mock }
  - { name: slow, type: mock, mock: { ttft_ms: 200 } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: slow/chat, provider: slow, model: mock-slow, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/chat] }
  - { name: slow, targets: [slow/chat] }
batches: { concurrency: 1 }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

interface Batch {
  id: string;
  status: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  errors?: { data: { line: number | null; code: string; param: string | null; message: string }[] };
  usage: { total_tokens: number };
  signalbox: { cost_nano_usd: number };
}

/** The console's sources are newer than its build (or there is no build). */
const jsonl = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
const chatLine = (id: string, text: string, model = "default") => ({ custom_id: id, method: "POST", url: "/v1/chat/completions", body: { model, messages: [{ role: "user", content: text }] } });
const FINAL = ["completed", "failed", "expired", "cancelled"];
const msgParams = (text: string, extra: Record<string, unknown> = {}, model = "default") => ({ model, max_tokens: 32, messages: [{ role: "user" as const, content: text }], ...extra });
type MessageBatch = Anthropic.Messages.MessageBatch & { signalbox: { cost_nano_usd: number } };

describe("console: batches in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** GET /v1/batches list calls the page made. */
  const listCalls: number[] = [];
  /** GET /v1/messages/batches list calls the page made. */
  const messageListCalls: number[] = [];
  /** Headers of the page's calls to /v1/messages/batches…, by method and path. */
  const messageCalls: { method: string; path: string; headers: Record<string, string> }[] = [];
  const ids = { done: "", bad: "", slow: "", msgDone: "", msgSlow: "" };
  let sdk: Anthropic;

  async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...init.headers } });
    const text = await res.text();
    assert.ok(res.ok, `${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async function createBatch(content: string, name: string): Promise<Batch> {
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob([content], { type: "application/jsonl" }), name);
    const file = await api<{ id: string; filename: string }>("/v1/files", { method: "POST", body: form });
    assert.equal(file.filename, name);
    return api<Batch>("/v1/batches", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { job: "x" } }),
    });
  }

  async function settle(id: string): Promise<Batch> {
    for (let i = 0; i < 400; i++) {
      const b = await api<Batch>(`/v1/batches/${id}`);
      if (FINAL.includes(b.status)) return b;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`batch ${id} did not finish`);
  }

  /** Every batch the key sees, newest first, paged as the page pages. */
  async function allBatches(): Promise<Batch[]> {
    const out: Batch[] = [];
    let after = "";
    for (;;) {
      const p = await api<{ data: Batch[]; has_more: boolean; last_id: string | null }>(`/v1/batches?limit=20${after ? `&after=${after}` : ""}`);
      out.push(...p.data);
      if (!p.has_more || !p.last_id) return out;
      after = p.last_id;
    }
  }

  const rows = () => page.getByTestId("batch-row");
  const row = (id: string) => page.locator(`[data-testid=batch-row][data-id="${id}"]`);
  const shown = () =>
    rows().evaluateAll((rs) =>
      rs.map((r) => ({ id: r.getAttribute("data-id"), status: r.getAttribute("data-status"), completed: Number(r.getAttribute("data-completed")), failed: Number(r.getAttribute("data-failed")), total: Number(r.getAttribute("data-total")) })),
    );
  const asShown = (b: Batch) => ({ id: b.id, status: b.status, ...b.request_counts });
  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });

  /**
   * Until `fn(arg)` holds in the page: look, and when it does not, move the page's clock on by one
   * refresh (its timers fire as if 2 s had passed) and let the refresh land.
   */
  async function refreshUntil<A>(fn: (arg: A) => boolean, arg: A, what: string, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      if (await page.evaluate(fn as (arg: unknown) => boolean, arg as unknown)) return;
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await page.clock.runFor(REFRESH_MS);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The list calls the page makes in `REFRESH_MS + 600` ms of its clock (moved on at once), once nothing runs: none, when it stopped refreshing. */
  async function callsWhileIdle(): Promise<void> {
    await page.clock.runFor(REFRESH_MS + 600);
    // A call those timers started is sent, and seen here, well within this.
    await new Promise((r) => setTimeout(r, 300));
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-batches-"));
    gw = await startTestGateway(CONFIG);
    sdk = new Anthropic({ baseURL: gw.url, apiKey: ADMIN, maxRetries: 0 });

    // One that completes, then one whose file is malformed (line 2 is not JSON, line 3 repeats a custom_id).
    ids.done = (await createBatch(jsonl([chatLine("a", "Say one"), chatLine("b", "Say two"), chatLine("c", "Say three")]), "three.jsonl")).id;
    ids.bad = (await createBatch([JSON.stringify(chatLine("x", "hi")), "{not json", JSON.stringify(chatLine("x", "again"))].join("\n") + "\n", "broken.jsonl")).id;
    assert.equal((await settle(ids.done)).status, "completed");
    assert.equal((await settle(ids.bad)).status, "failed");

    context = await launchChromium(join(work, "profile"), { width: 1280, height: 860 });
    // The page's timers run on a clock the tests can move on (it also runs as time passes): its 2 s
    // refresh is brought forward rather than waited for.
    await context.clock.install();
    page = await signedInPage(context, gw.url, ADMIN, errors);
    page.on("request", (r) => {
      const path = new URL(r.url()).pathname;
      if (path === "/v1/batches" && r.method() === "GET") listCalls.push(Date.now());
      if (path === "/v1/messages/batches" && r.method() === "GET") messageListCalls.push(Date.now());
      if (path.startsWith("/v1/messages/batches")) messageCalls.push({ method: r.method(), path, headers: r.headers() });
    });
  });

  after(() => endSuite("batches", started, work, context, gw));

  test("the table lists the batches newest first, with status, counts, cost, tokens and metadata as the API says", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Batches", exact: true }).click();
    await page.getByTestId("batches-table").waitFor();
    const listed = await allBatches();
    // (Made in the same second, the two are in the API's order, which is not theirs.)
    assert.deepEqual(listed.map((b) => b.id).sort(), [ids.bad, ids.done].sort());
    assert.deepEqual(await shown(), listed.map(asShown));
    const done = listed.find((b) => b.id === ids.done)!;
    assert.deepEqual(done.request_counts, { total: 3, completed: 3, failed: 0 });
    assert.ok(done.usage.total_tokens > 0 && done.signalbox.cost_nano_usd > 0);
    const cells = await row(ids.done).locator("td").allInnerTexts();
    assert.equal(cells[0].trim(), ids.done);
    assert.equal(cells[1].trim(), "OpenAI");
    assert.equal(cells[2].trim(), "completed");
    assert.equal(cells[3].trim(), "/v1/chat/completions");
    assert.match(cells[5], /^3 \/ 3/);
    assert.equal(cells[6].trim(), usd(done.signalbox.cost_nano_usd));
    assert.equal(cells[7].trim(), count(done.usage.total_tokens));
    assert.equal(cells[8].trim(), "job=x");
    assert.deepEqual(await rows().evaluateAll((rs) => [...new Set(rs.map((r) => r.getAttribute("data-kind")))]), ["batch"]);
    assert.equal(await row(ids.bad).locator("td").nth(2).locator(".badge").innerText(), "failed");
    // Nothing runs: no refresh, and no Load more for two batches.
    assert.equal(await page.getByTestId("batches-table").getAttribute("data-refreshing"), "false");
    assert.equal(await page.getByTestId("batches-load-more").count(), 0);
  });

  test("a failed batch's panel lists the lines that failed validation", async () => {
    await row(ids.bad).click();
    const detail = page.locator(`[data-testid=batch-detail][data-id="${ids.bad}"]`);
    await detail.waitFor();
    assert.match(page.url(), new RegExp(`/console/batches/${ids.bad}$`));
    assert.equal(await row(ids.bad).getAttribute("aria-selected"), "true");
    const api_ = await api<Batch>(`/v1/batches/${ids.bad}`);
    const want = api_.errors!.data.map((e) => [String(e.line ?? ""), e.code, e.param ?? ""]);
    assert.deepEqual(want, [
      ["2", "invalid_json_line", ""],
      ["3", "duplicate_custom_id", "custom_id"],
    ]);
    const errs = detail.getByTestId("batch-error");
    await errs.first().waitFor();
    assert.deepEqual(await errs.evaluateAll((rs) => rs.map((r) => [r.getAttribute("data-line"), r.getAttribute("data-code"), r.getAttribute("data-param")])), want);
    const first = await errs.first().locator("td").allInnerTexts();
    assert.deepEqual(first.slice(0, 2).map((t) => t.trim()), ["2", "invalid_json_line"]);
    assert.equal(first[3].trim(), api_.errors!.data[0].message);
    // Nothing to cancel or download.
    for (const b of ["batch-cancel", "batch-download-output"]) assert.equal(await detail.getByTestId(b).count(), 0, b);
    assert.match(await detail.getByTestId("batch-times").innerText(), /Failed/);
    await shot("batches-failed");
  });

  test("Download output saves the output file under its name, with the batch's custom_ids", async () => {
    await row(ids.done).click();
    const detail = page.locator(`[data-testid=batch-detail][data-id="${ids.done}"]`);
    await detail.waitFor();
    assert.equal(await detail.getByTestId("batch-cancel").count(), 0, "a completed batch cannot be cancelled");
    assert.equal(await detail.getByTestId("batch-errors").count(), 0);
    assert.equal(await detail.getByTestId("batch-download-errors").count(), 0, "no line failed: no error file");
    const b = await api<Batch>(`/v1/batches/${ids.done}`);
    assert.ok(b.output_file_id);
    assert.equal(await detail.getByTestId("batch-cost").innerText(), usd(b.signalbox.cost_nano_usd));
    const file = await api<{ filename: string }>(`/v1/files/${b.output_file_id}`);
    const [download] = await Promise.all([page.waitForEvent("download"), detail.getByTestId("batch-download-output").click()]);
    assert.equal(download.suggestedFilename(), file.filename);
    assert.equal(file.filename, `${ids.done}_output.jsonl`);
    const text = await readFile((await download.path())!, "utf8");
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number } });
    assert.deepEqual(lines.map((l) => l.custom_id).sort(), ["a", "b", "c"]);
    assert.ok(lines.every((l) => l.response.status_code === 200));
    const res = await fetch(`${gw.url}/v1/files/${b.output_file_id}/content`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(text, await res.text(), "the bytes the API serves");
    await shot("batches-completed");
  });

  test("a running batch refreshes as it goes; Cancel in its panel cancels it, then the refresh stops", async () => {
    ids.slow = (await createBatch(jsonl(Array.from({ length: SLOW_LINES }, (_, i) => chatLine(`s${i}`, `Say ${i}`, "slow"))), "slow.jsonl")).id;
    // Nothing was running, so the page was not refreshing: Refresh shows the new batch.
    await page.getByTestId("batches-refresh").click();
    const slow = row(ids.slow);
    await slow.waitFor();
    assert.equal((await shown())[0].id, ids.slow, "newest first");
    // Seen under way, then seen again further on without a reload: the 2 s refresh.
    await refreshUntil((id) => document.querySelector(`[data-testid=batch-row][data-id="${id}"]`)?.getAttribute("data-status") === "in_progress", ids.slow, "in_progress");
    const seen = Number(await slow.getAttribute("data-completed"));
    await refreshUntil(
      ([id, n]) => Number(document.querySelector(`[data-testid=batch-row][data-id="${id}"]`)?.getAttribute("data-completed")) > Number(n),
      [ids.slow, seen] as const,
      "more lines completed",
      5000,
    );
    assert.equal(await page.getByTestId("batches-table").getAttribute("data-refreshing"), "true");
    assert.equal(await slow.getAttribute("data-total"), String(SLOW_LINES));

    await slow.click();
    const detail = page.locator(`[data-testid=batch-detail][data-id="${ids.slow}"]`);
    await detail.getByTestId("batch-cancel").click();
    await shot("batches-cancel");
    await page.getByTestId("batch-cancel-confirm").click();
    await refreshUntil((id) => !!document.querySelector(`[data-testid=batch-row][data-id="${id}"][data-status=cancelled]`), ids.slow, "cancelled");
    const b = await api<Batch>(`/v1/batches/${ids.slow}`);
    assert.equal(b.status, "cancelled");
    assert.ok(b.request_counts.completed > 0 && b.request_counts.completed < SLOW_LINES, `completed ${b.request_counts.completed}`);
    assert.deepEqual((await shown()).find((r) => r.id === ids.slow), asShown(b));
    await page.locator(`[data-testid=batch-detail][data-id="${ids.slow}"][data-status=cancelled]`).waitFor();
    assert.equal(await detail.getByTestId("batch-cancel").count(), 0, "no Cancel once cancelled");
    await detail.getByTestId("batch-download-errors").waitFor();
    assert.equal(await detail.getByTestId("batch-counts").getAttribute("data-completed"), String(b.request_counts.completed));
    await shot("batches-cancelled");

    // Nothing runs now: no more list calls.
    assert.equal(await page.getByTestId("batches-table").getAttribute("data-refreshing"), "false");
    const calls = listCalls.length;
    await callsWhileIdle();
    assert.equal(listCalls.length, calls, "the page stopped refreshing");
  });

  test("Load more pages through more than 20 batches, in the API's order", async () => {
    // 20 more that fail validation at once (nothing runs): 23 in all.
    for (let i = 0; i < 20; i++) await createBatch("{nope\n", `filler-${i}.jsonl`);
    await page.getByTestId("batch-close").click();
    await page.locator("[data-testid=batch-detail]").waitFor({ state: "detached" });
    await page.getByTestId("batches-refresh").click();
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=batch-row]").length === 20 && document.querySelector("[data-testid=batches-load-more]"));
    await page.getByTestId("batches-load-more").click();
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=batch-row]").length === 23);
    assert.equal(await page.getByTestId("batches-load-more").count(), 0, "no more pages");
    const listed = await allBatches();
    assert.equal(listed.length, 23);
    assert.deepEqual(
      (await shown()).map((r) => r.id),
      listed.map((b) => b.id),
    );
    const last = (await shown()).slice(-3).map((r) => r.id);
    assert.equal(last[0], ids.slow);
    assert.deepEqual(last.sort(), [ids.slow, ids.bad, ids.done].sort());
  });

  /** A message batch row's counts as the page shows them, or the API's counts, to compare. */
  const msgShown = (id: string) =>
    row(id).evaluate((r) => ({
      kind: r.getAttribute("data-kind"),
      status: r.getAttribute("data-status"),
      ...Object.fromEntries(["processing", "succeeded", "errored", "canceled", "expired"].map((k) => [k, Number(r.getAttribute(`data-${k}`))])),
    }));
  const msgAsShown = (b: Anthropic.Messages.MessageBatch) => ({ kind: "message_batch", status: b.processing_status, ...b.request_counts });
  const retrieve = async (id: string) => (await sdk.messages.batches.retrieve(id)) as MessageBatch;
  async function ended(id: string): Promise<MessageBatch> {
    for (let i = 0; i < 400; i++) {
      const b = await retrieve(id);
      if (b.processing_status === "ended") return b;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`message batch ${id} did not end`);
  }
  const lastCall = (method: string, path: string) => messageCalls.findLast((c) => c.method === method && c.path === path);

  test("an Anthropic message batch is listed with the OpenAI ones, marked Anthropic; its panel shows its counts and downloads its results", async () => {
    const created = await sdk.messages.batches.create({
      requests: [
        { custom_id: "m1", params: msgParams("Say one") },
        { custom_id: "m2", params: msgParams("Say two", { temperature: "hot" }) },
        { custom_id: "m3", params: msgParams("Say three") },
      ],
    });
    assert.match(created.id, /^msgbatch_/);
    ids.msgDone = created.id;
    const b = await ended(ids.msgDone);
    assert.deepEqual(b.request_counts, { processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 });
    assert.ok(b.signalbox.cost_nano_usd > 0);

    // Nothing was running: Refresh shows it, among the 23 OpenAI batches.
    await page.getByTestId("batches-refresh").click();
    await row(ids.msgDone).waitFor();
    assert.equal(await rows().count(), 24);
    assert.deepEqual(await msgShown(ids.msgDone), msgAsShown(b));
    const cells = (await row(ids.msgDone).locator("td").allInnerTexts()).map((t) => t.trim());
    assert.equal(cells[0], ids.msgDone);
    assert.equal(cells[1], "Anthropic");
    assert.equal(cells[2], "ended");
    assert.equal(cells[3], "/v1/messages");
    assert.match(cells[5], /^3 \/ 3 \(1 errored\)/);
    assert.equal(cells[6], usd(b.signalbox.cost_nano_usd));
    // The OpenAI ones are still there, marked OpenAI, in the API's order.
    const openai = await page.locator("[data-testid=batch-row][data-kind=batch]").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-id")));
    assert.deepEqual(openai, (await allBatches()).map((x) => x.id));
    assert.equal((await row(ids.done).locator("td").nth(1).innerText()).trim(), "OpenAI");
    const list = lastCall("GET", "/v1/messages/batches");
    assert.equal(list?.headers.authorization, `Bearer ${ADMIN}`, "the session's key as a bearer token");

    await row(ids.msgDone).click();
    const detail = page.locator(`[data-testid=batch-detail][data-kind=message_batch][data-id="${ids.msgDone}"]`);
    await detail.waitFor();
    assert.match(page.url(), new RegExp(`/console/batches/${ids.msgDone}$`));
    assert.equal(await detail.getAttribute("data-status"), "ended");
    const counts = detail.getByTestId("batch-counts");
    assert.deepEqual(
      await counts.evaluate((d) => Object.fromEntries(["processing", "succeeded", "errored", "canceled", "expired", "total"].map((k) => [k, Number(d.getAttribute(`data-${k}`))]))),
      { ...b.request_counts, total: 3 },
    );
    assert.match(await counts.innerText(), /Succeeded\s+2\s+Errored\s+1\s+Canceled\s+0/);
    assert.equal(await detail.getByTestId("batch-cost").innerText(), usd(b.signalbox.cost_nano_usd));
    assert.match(await detail.getByTestId("batch-times").innerText(), /Ended/);
    assert.equal(await detail.getByTestId("batch-cancel").count(), 0, "an ended batch cannot be cancelled");

    const [download] = await Promise.all([page.waitForEvent("download"), detail.getByTestId("batch-download-results").click()]);
    assert.equal(download.suggestedFilename(), `${ids.msgDone}_results.jsonl`);
    const text = await readFile((await download.path())!, "utf8");
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Anthropic.Messages.MessageBatchIndividualResponse);
    assert.deepEqual(
      lines.map((l) => [l.custom_id, l.result.type]),
      [
        ["m1", "succeeded"],
        ["m2", "errored"],
        ["m3", "succeeded"],
      ],
    );
    const res = await fetch(`${gw.url}/v1/messages/batches/${ids.msgDone}/results`, { headers: { "x-api-key": ADMIN, "anthropic-version": "2023-06-01" } });
    assert.equal(text, await res.text(), "the bytes the API serves");
    const fetched = lastCall("GET", `/v1/messages/batches/${ids.msgDone}/results`);
    assert.equal(fetched?.headers.authorization, `Bearer ${ADMIN}`);
    assert.equal(fetched?.headers["anthropic-version"], "2023-06-01");
    await shot("batches-message-ended");
  });

  test("a running message batch refreshes as it goes; Cancel in its panel cancels it through the Anthropic API, then the refresh stops", async () => {
    const created = await sdk.messages.batches.create({ requests: Array.from({ length: SLOW_LINES }, (_, i) => ({ custom_id: `s${i}`, params: msgParams(`Say ${i}`, {}, "slow") })) });
    ids.msgSlow = created.id;
    await page.getByTestId("batch-close").click();
    await page.locator("[data-testid=batch-detail]").waitFor({ state: "detached" });
    await page.getByTestId("batches-refresh").click();
    const slow = row(ids.msgSlow);
    await slow.waitFor();
    assert.equal(await slow.getAttribute("data-kind"), "message_batch");
    await refreshUntil((id) => document.querySelector(`[data-testid=batch-row][data-id="${id}"]`)?.getAttribute("data-status") === "in_progress", ids.msgSlow, "in_progress");
    // Seen again further on without a reload: the 2 s refresh of the message batches.
    const seen = Number(await slow.getAttribute("data-succeeded"));
    await refreshUntil(
      ([id, n]) => Number(document.querySelector(`[data-testid=batch-row][data-id="${id}"]`)?.getAttribute("data-succeeded")) > Number(n),
      [ids.msgSlow, seen] as const,
      "more requests succeeded",
      5000,
    );
    assert.equal(await page.getByTestId("batches-table").getAttribute("data-refreshing"), "true");
    assert.equal(await slow.getAttribute("data-total"), String(SLOW_LINES));
    assert.equal((await slow.locator("td").nth(1).innerText()).trim(), "Anthropic");

    await slow.click();
    const detail = page.locator(`[data-testid=batch-detail][data-kind=message_batch][data-id="${ids.msgSlow}"]`);
    await detail.waitFor();
    assert.equal(await detail.getByTestId("batch-download-results").count(), 0, "no results before it ends");
    await detail.getByTestId("batch-cancel").click();
    await shot("batches-message-cancel");
    await page.getByTestId("batch-cancel-confirm").click();
    await refreshUntil((id) => !!document.querySelector(`[data-testid=batch-row][data-id="${id}"][data-status=ended]`), ids.msgSlow, "ended");
    const cancel = lastCall("POST", `/v1/messages/batches/${ids.msgSlow}/cancel`);
    assert.ok(cancel, "the page called the Anthropic cancel endpoint");
    assert.equal(cancel.headers.authorization, `Bearer ${ADMIN}`);
    const b = await retrieve(ids.msgSlow);
    assert.equal(b.processing_status, "ended");
    assert.ok(b.cancel_initiated_at);
    assert.ok(b.request_counts.succeeded > 0 && b.request_counts.canceled > 0, JSON.stringify(b.request_counts));
    assert.equal(b.request_counts.succeeded + b.request_counts.canceled + b.request_counts.errored, SLOW_LINES);
    assert.deepEqual(await msgShown(ids.msgSlow), msgAsShown(b));
    await page.locator(`[data-testid=batch-detail][data-id="${ids.msgSlow}"][data-status=ended]`).waitFor();
    assert.equal(await detail.getByTestId("batch-cancel").count(), 0, "no Cancel once ended");
    await detail.getByTestId("batch-download-results").waitFor();
    assert.equal(await detail.getByTestId("batch-counts").getAttribute("data-canceled"), String(b.request_counts.canceled));
    assert.match(await detail.getByTestId("batch-times").innerText(), /Cancel requested[\s\S]*Ended/);
    await shot("batches-message-cancelled");

    // Nothing runs now: neither list is fetched again.
    assert.equal(await page.getByTestId("batches-table").getAttribute("data-refreshing"), "false");
    const calls = [listCalls.length, messageListCalls.length];
    await callsWhileIdle();
    assert.deepEqual([listCalls.length, messageListCalls.length], calls, "the page stopped refreshing");
  });

  test("Load more pages through both kinds at once: newest first, each in its API's order, only ever adding rows below", async () => {
    // 20 more message batches (22 in all) and the 23 OpenAI ones: each API pages 20 at a time.
    const more: string[] = [];
    for (let i = 0; i < 20; i++) more.push((await sdk.messages.batches.create({ requests: [{ custom_id: "only", params: msgParams(`Say ${i}`) }] })).id);
    for (const id of more) await ended(id);
    const messages: MessageBatch[] = [];
    for await (const b of sdk.messages.batches.list({ limit: 20 })) messages.push(b as MessageBatch);
    assert.equal(messages.length, 22);
    const openai = await allBatches();
    assert.equal(openai.length, 23);
    // The whole list as it should end up: by creation time, newest first, each API's order kept.
    type Item = { id: string; at: number };
    const a: Item[] = openai.map((b) => ({ id: b.id, at: (b as unknown as { created_at: number }).created_at * 1000 }));
    const m: Item[] = messages.map((b) => ({ id: b.id, at: Date.parse(b.created_at) }));
    const want: string[] = [];
    while (a.length && m.length) want.push((m[0].at > a[0].at ? m.shift()! : a.shift()!).id);
    want.push(...a.map((x) => x.id), ...m.map((x) => x.id));

    // A fresh page: one page of each.
    await page.goto(`${gw.url}/console/batches`);
    await page.getByTestId("batches-table").waitFor();
    await page.getByTestId("batches-load-more").waitFor();
    let seen = (await shown()).map((r) => r.id);
    assert.ok(seen.length >= 20 && seen.length < want.length, `first view: ${seen.length} rows`);
    assert.deepEqual(seen, want.slice(0, seen.length), "the first view is the head of the whole list");
    for (let i = 0; (await page.getByTestId("batches-load-more").count()) > 0; i++) {
      assert.ok(i < 4, "Load more ends");
      const before = seen.length;
      await page.getByTestId("batches-load-more").click();
      await page.waitForFunction((n) => document.querySelectorAll("[data-testid=batch-row]").length > n, before);
      seen = (await shown()).map((r) => r.id);
      assert.deepEqual(seen, want.slice(0, seen.length), `after Load more ${i + 1}: rows only added below`);
    }
    assert.deepEqual(seen, want);
    assert.equal(await page.locator("[data-testid=batch-row][data-kind=message_batch]").count(), 22);
    assert.equal(await page.locator("[data-testid=batch-row][data-kind=batch]").count(), 23);
  });

  test("a batch that is not there: the panel says so, as other pages show errors", async () => {
    await page.goto(`${gw.url}/console/batches/batch_nope`);
    const alert = page.locator("[data-testid=batch-detail] [role=alert][data-code=not_found]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Not found\.[\s\S]*no batch "batch_nope"/);
  });

  test("a message batch that is not there: its panel says so the same way", async () => {
    await page.goto(`${gw.url}/console/batches/msgbatch_nope`);
    const alert = page.locator("[data-testid=batch-detail][data-kind=message_batch] [role=alert][data-code=not_found]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Not found\.[\s\S]*no message batch "msgbatch_nope"/);
  });

  test("no errors in the browser console", () => {
    // The 404s just asked for are the browser's own report of those fetches, not a fault of the page.
    assert.deepEqual(
      errors.filter((e) => !/batches\/(msg)?batch_nope: Failed to load resource: the server responded with a status of 404/.test(e)),
      [],
    );
  });
});
