// The console's Batches page in a real browser: Debian's Chromium (driven by playwright-core) signs
// in to a gateway started in process, with batches made through the REST API (files.create, then
// batches.create): one that completes, one whose input file is malformed (it fails validation),
// and a slow one cancelled from the page. Checks what the page shows against GET /v1/batches:
// statuses, counts, cost, tokens and metadata; the failed batch's bad lines; Cancel; the output
// file downloaded under its own name; Load more; the refresh stopping once nothing runs; a missing
// batch's "not found". Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { count, usd } from "../../console/src/format.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { launchChromium, OUTPUT_DIR, prepareConsole, skipWithoutChromium } from "../helpers/browser.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "batches", "secret"].join("-");
const SLOW_LINES = 30;

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

describe("console: batches in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** GET /v1/batches list calls the page made. */
  const listCalls: number[] = [];
  const ids = { done: "", bad: "", slow: "" };

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

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-batches-"));
    gw = await startTestGateway(CONFIG);

    // One that completes, then one whose file is malformed (line 2 is not JSON, line 3 repeats a custom_id).
    ids.done = (await createBatch(jsonl([chatLine("a", "Say one"), chatLine("b", "Say two"), chatLine("c", "Say three")]), "three.jsonl")).id;
    ids.bad = (await createBatch([JSON.stringify(chatLine("x", "hi")), "{not json", JSON.stringify(chatLine("x", "again"))].join("\n") + "\n", "broken.jsonl")).id;
    assert.equal((await settle(ids.done)).status, "completed");
    assert.equal((await settle(ids.bad)).status, "failed");

    context = await launchChromium(join(work, "profile"), { width: 1280, height: 860 });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${page.url()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror on ${page.url()}: ${e.message}`));
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/v1/batches" && r.method() === "GET") listCalls.push(Date.now());
    });
    await page.goto(`${gw.url}/console/`);
    await page.locator("input[name=key]").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[data-testid=identity][data-role=admin]").waitFor();
  });

  after(async () => {
    await context?.close();
    await gw?.close();
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`# console batches suite: ${Math.round(performance.now() - started)} ms`);
  });

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
    assert.equal(cells[1].trim(), "completed");
    assert.equal(cells[2].trim(), "/v1/chat/completions");
    assert.match(cells[4], /^3 \/ 3/);
    assert.equal(cells[5].trim(), usd(done.signalbox.cost_nano_usd));
    assert.equal(cells[6].trim(), count(done.usage.total_tokens));
    assert.equal(cells[7].trim(), "job=x");
    assert.equal(await row(ids.bad).locator(".badge").innerText(), "failed");
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
    await page.waitForFunction((id) => document.querySelector(`[data-testid=batch-row][data-id="${id}"]`)?.getAttribute("data-status") === "in_progress", ids.slow);
    const seen = Number(await slow.getAttribute("data-completed"));
    await page.waitForFunction(
      ([id, n]) => Number(document.querySelector(`[data-testid=batch-row][data-id="${id}"]`)?.getAttribute("data-completed")) > Number(n),
      [ids.slow, seen] as const,
      { timeout: 5000 },
    );
    assert.equal(await page.getByTestId("batches-table").getAttribute("data-refreshing"), "true");
    assert.equal(await slow.getAttribute("data-total"), String(SLOW_LINES));

    await slow.click();
    const detail = page.locator(`[data-testid=batch-detail][data-id="${ids.slow}"]`);
    await detail.getByTestId("batch-cancel").click();
    await shot("batches-cancel");
    await page.getByTestId("batch-cancel-confirm").click();
    await page.locator(`[data-testid=batch-row][data-id="${ids.slow}"][data-status=cancelled]`).waitFor({ timeout: 10_000 });
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
    await new Promise((r) => setTimeout(r, 2600));
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

  test("a batch that is not there: the panel says so, as other pages show errors", async () => {
    await page.goto(`${gw.url}/console/batches/batch_nope`);
    const alert = page.locator("[data-testid=batch-detail] [role=alert][data-code=not_found]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Not found\.[\s\S]*no batch "batch_nope"/);
  });

  test("no errors in the browser console", () => {
    // The 404 just asked for is the browser's own report of that fetch, not a fault of the page.
    assert.deepEqual(
      errors.filter((e) => !/batches\/batch_nope: Failed to load resource: the server responded with a status of 404/.test(e)),
      [],
    );
  });
});
