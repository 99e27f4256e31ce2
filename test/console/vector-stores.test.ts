// The console's Vector stores page in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process whose stores embed with the mock's bags of words
// (mock/words). A store is made from the page (New store, with a document uploaded into it and an
// attribute), a second document is uploaded from the store's page; the files' rows refresh until
// both are indexed, and show their names (from the Files API), statuses, attributes and sizes as
// the API says. The search box finds the right document first (as POST …/search ranks them), and a
// filter on an attribute keeps only the files that have it. The list shows the stores as
// GET /v1/vector_stores does (newest first, a page at a time with Load more). A file removed and
// the store deleted from the page are gone from the API too; a missing store says "not found".
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "vectors", "secret"].join("-");

const CONFIG = `
providers:
  - { name: mock, type: mock }
  - { name: words, type: mock, mock: { embedding: words } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: mock/words, provider: words, model: mock-words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
routes:
  - { name: default, targets: [mock/chat] }
vector_stores: { embedding: mock/words }
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

const CATS = "# Cats\nCats purr and sleep in the sun for most of the day. A cat chases mice and naps on warm windowsills.\n";
const ROCKETS = "# Rockets\nRockets burn fuel and launch satellites into orbit. A rocket engine needs oxygen to burn its fuel.\n";

interface Store {
  id: string;
  name: string;
  status: string;
  usage_bytes: number;
  file_counts: { in_progress: number; completed: number; failed: number; cancelled: number; total: number };
  signalbox: { embedding_deployment: string | null };
}
interface StoreFile {
  id: string;
  status: string;
  usage_bytes: number;
  attributes: Record<string, string | number | boolean> | null;
}
interface Hit {
  file_id: string;
  filename: string;
  score: number;
  attributes: Record<string, string | number | boolean> | null;
  content: { text: string }[];
}

describe("console: vector stores in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  /** The store made from the page. */
  let storeId = "";
  /** Stores made through the API, for the list's paging. */
  const extra: string[] = [];

  async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(typeof init.body === "string" ? { "content-type": "application/json" } : {}), ...init.headers } });
    return { status: res.status, body: (await res.json()) as T };
  }
  async function ok<T>(path: string, init: RequestInit = {}): Promise<T> {
    const r = await api<T>(path, init);
    assert.ok(r.status < 300, `${init.method ?? "GET"} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
  async function allStores(): Promise<Store[]> {
    const out: Store[] = [];
    let after = "";
    for (;;) {
      const p = await ok<{ data: Store[]; has_more: boolean; last_id: string | null }>(`/v1/vector_stores?limit=20${after ? `&after=${after}` : ""}`);
      out.push(...p.data);
      if (!p.has_more || !p.last_id) return out;
      after = p.last_id;
    }
  }
  const files = (id: string) => ok<{ data: StoreFile[] }>(`/v1/vector_stores/${id}/files?limit=100`).then((p) => p.data);
  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const storeRows = () => page.getByTestId("vector-store-row");
  const fileRow = (name: string) => page.locator(`[data-testid=vector-store-file][data-name="${name}"]`);
  const doc = (name: string, text: string) => ({ name, mimeType: "text/markdown", buffer: Buffer.from(text) });

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-vectors-"));
    gw = await startTestGateway(CONFIG);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 900 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("vector stores", started, work, context, gw));

  test("with no stores the page says how to make one", async () => {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Vector stores", exact: true }).click();
    await page.getByText("No vector stores yet").waitFor();
    assert.match(page.url(), /\/console\/vector-stores$/);
  });

  test("New store makes a store with a document in it, and opens it", async () => {
    await page.getByTestId("vector-store-new").click();
    const dialog = page.getByRole("dialog", { name: "New vector store" });
    await dialog.getByTestId("vector-store-name").fill("handbook");
    await dialog.getByTestId("vector-store-documents").setInputFiles([doc("cats.md", CATS)]);
    await dialog.getByTestId("vector-store-attributes").fill("topic=pets, year=2024, draft=false");
    await dialog.getByRole("button", { name: "Create and upload 1" }).click();
    const view = page.getByTestId("vector-store");
    await view.waitFor();
    storeId = (await view.getAttribute("data-id"))!;
    assert.match(storeId, /^vs_/);
    assert.match(page.url(), new RegExp(`/console/vector-stores/${storeId}$`));
    // The heading is "Vector store" until the store has loaded.
    await page.locator("h1", { hasText: "handbook" }).waitFor();
    assert.equal(await page.locator("h1").innerText(), "handbook");
    const [f] = await files(storeId);
    assert.deepEqual(f.attributes, { topic: "pets", year: 2024, draft: false }, "attributes typed as the page says");
    await fileRow("cats.md").waitFor();
  });

  test("Upload adds a second document; the files refresh until both are indexed, as the API says", async () => {
    await page.getByTestId("vector-store-upload").click();
    const dialog = page.getByRole("dialog", { name: "Upload documents" });
    await dialog.getByTestId("vector-store-documents").setInputFiles([doc("rockets.md", ROCKETS)]);
    await dialog.getByTestId("vector-store-attributes").fill("topic=space");
    await dialog.getByRole("button", { name: "Upload", exact: true }).click();
    await dialog.waitFor({ state: "detached" });
    await page.locator("[data-testid=vector-store-file][data-status=completed]").nth(1).waitFor({ timeout: 20_000 });
    await page.locator("[data-testid=vector-store-files][data-refreshing=false]").waitFor();
    const listed = await files(storeId);
    assert.equal(listed.length, 2);
    assert.ok(listed.every((f) => f.status === "completed" && f.usage_bytes > 0));
    const shown = await page.getByTestId("vector-store-file").evaluateAll((rs) => rs.map((r) => ({ id: r.getAttribute("data-id"), name: r.getAttribute("data-name"), status: r.getAttribute("data-status"), bytes: Number(r.getAttribute("data-usage-bytes")) })));
    // Newest first, as the API lists them, with their names from the Files API.
    assert.deepEqual(shown.map((r) => r.id), listed.map((f) => f.id));
    assert.deepEqual(shown.map((r) => r.name).sort(), ["cats.md", "rockets.md"]);
    assert.deepEqual(shown.map((r) => r.bytes), listed.map((f) => f.usage_bytes));
    assert.deepEqual(await fileRow("rockets.md").getByTestId("file-attribute").allInnerTexts(), ["topic=space"]);
    assert.deepEqual(await fileRow("cats.md").getByTestId("file-attribute").allInnerTexts(), ["topic=pets", "year=2024", "draft=false"]);
    assert.equal((await fileRow("cats.md").locator(".badge").innerText()).trim(), "completed");
    // The store's facts, once refreshed: both files counted, its size and its embedding deployment.
    const store = await ok<Store>(`/v1/vector_stores/${storeId}`);
    assert.equal(store.signalbox.embedding_deployment, "mock/words");
    await page.locator(`[data-testid=vector-store-counts][data-completed="2"]`).waitFor();
    assert.equal(await page.getByTestId("vector-store-embedding").innerText(), "mock/words");
    assert.equal(Number(await page.getByTestId("vector-store-usage").getAttribute("data-bytes")), store.usage_bytes);
    await shot("vector-store");
  });

  test("the search box finds the right document first, as POST …/search ranks them", async () => {
    const query = "a cat that sleeps in the sun";
    await page.getByTestId("vector-store-query").fill(query);
    await page.getByTestId("vector-store-search").click();
    const results = page.locator(`[data-testid=vector-store-results]`);
    await results.waitFor();
    const want = await ok<{ data: Hit[] }>(`/v1/vector_stores/${storeId}/search`, { method: "POST", body: JSON.stringify({ query, max_num_results: 10 }) });
    assert.equal(want.data[0].filename, "cats.md");
    const hits = await page.getByTestId("vector-store-hit").evaluateAll((rs) => rs.map((r) => ({ file: r.getAttribute("data-filename"), score: Number(r.getAttribute("data-score")) })));
    assert.deepEqual(hits, want.data.map((h) => ({ file: h.filename, score: h.score })));
    assert.equal(hits[0].file, "cats.md");
    const first = page.getByTestId("vector-store-hit").first();
    const cells = await first.locator("td").allInnerTexts();
    assert.equal(cells[0].trim(), "1");
    assert.match(cells[1], /cats\.md/);
    assert.equal(cells[2].trim(), want.data[0].score.toFixed(3));
    assert.deepEqual(await first.getByTestId("hit-attribute").allInnerTexts(), ["topic=pets", "year=2024", "draft=false"]);
    assert.equal((await first.getByTestId("vector-store-hit-text").innerText()).trim(), CATS.trim().replace(/\n/g, "\n"));
    await shot("vector-store-search");
  });

  test("a filter on an attribute keeps only the files that have it", async () => {
    await page.getByTestId("vector-store-query").fill("cats and rockets");
    await page.getByTestId("vector-store-filter").fill("topic=space");
    await page.getByTestId("vector-store-search").click();
    // The earlier search's hits include rockets.md too: wait for this search's (one hit).
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=vector-store-hit]").length === 1);
    await page.locator("[data-testid=vector-store-results] [data-testid=vector-store-hit][data-filename='rockets.md']").waitFor();
    assert.deepEqual(await page.getByTestId("vector-store-hit").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-filename"))), ["rockets.md"]);
    // A filter that is not key=value is refused before any call.
    await page.getByTestId("vector-store-filter").fill("space");
    assert.equal(await page.getByTestId("vector-store-search").isDisabled(), true);
    await page.getByTestId("vector-store-filter").fill("");
  });

  test("the list shows the stores as the API lists them, newest first, with Load more", async () => {
    for (let i = 0; i < 21; i++) extra.push((await ok<Store>("/v1/vector_stores", { method: "POST", body: JSON.stringify({ name: `extra-${i}` }) })).id);
    await page.getByTestId("vector-store-back").click();
    await page.getByTestId("vector-stores-table").waitFor();
    const want = await allStores();
    assert.equal(want.length, 22);
    // The table may first show the list it had (one store) while it reads the stores again.
    await storeRows().nth(19).waitFor();
    assert.equal(await storeRows().count(), 20);
    await page.getByTestId("vector-stores-load-more").click();
    await page.locator("[data-testid=vector-store-row]").nth(21).waitFor();
    const shown = await storeRows().evaluateAll((rs) => rs.map((r) => r.getAttribute("data-id")));
    assert.deepEqual(shown, want.map((s) => s.id));
    assert.equal(await page.getByTestId("vector-stores-load-more").count(), 0);
    const row = page.locator(`[data-testid=vector-store-row][data-id="${storeId}"]`);
    const store = want.find((s) => s.id === storeId)!;
    assert.equal(await row.getAttribute("data-completed"), "2");
    assert.equal(await row.getAttribute("data-total"), "2");
    assert.equal(Number(await row.getAttribute("data-usage-bytes")), store.usage_bytes);
    const cells = await row.locator("td").allInnerTexts();
    assert.match(cells[0], /^handbook\s+vs_/);
    assert.equal(cells[1].trim(), "completed");
    assert.match(cells[2], /^2 \/ 2/);
    assert.equal(cells[4].trim(), "mock/words");
    assert.equal(cells[7].trim(), "never");
    await shot("vector-stores");
  });

  test("Remove takes a file out of the store", async () => {
    await page.locator(`[data-testid=vector-store-row][data-id="${storeId}"]`).click();
    await fileRow("rockets.md").waitFor();
    await fileRow("rockets.md").getByTestId("vector-store-file-remove").click();
    const dialog = page.getByRole("dialog", { name: "Remove rockets.md" });
    await dialog.getByRole("button", { name: "Remove file" }).click();
    await fileRow("rockets.md").waitFor({ state: "detached" });
    assert.deepEqual((await files(storeId)).length, 1);
    await page.locator(`[data-testid=vector-store-counts][data-total="1"]`).waitFor();
  });

  test("Delete store deletes it and goes back to the list", async () => {
    await page.getByTestId("vector-store-delete").click();
    await page.getByRole("dialog", { name: "Delete handbook" }).getByRole("button", { name: "Delete store" }).click();
    await page.getByTestId("vector-stores-table").waitFor();
    assert.match(page.url(), /\/console\/vector-stores$/);
    await page.locator(`[data-testid=vector-store-row][data-id="${storeId}"]`).waitFor({ state: "detached" });
    assert.equal((await api(`/v1/vector_stores/${storeId}`)).status, 404);
  });

  test("a store that is not there: its page says so, as other pages show errors", async () => {
    await page.goto(`${gw.url}/console/vector-stores/vs_nope`);
    const alert = page.locator("[data-testid=vector-store] [role=alert][data-code=not_found]");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Not found\.[\s\S]*vs_nope/);
  });

  test("no errors in the browser console", () => {
    // The 404s just asked for are the browser's own report of those fetches, not a fault of the page.
    assert.deepEqual(
      errors.filter((e) => !/vector-stores\/vs_nope: Failed to load resource: the server responded with a status of 404/.test(e)),
      [],
    );
  });
});
