// The Playground's File search in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process whose vector stores embed with the mock's bags of words
// (mock/words). The stores are listed when File search is first checked; with no store yet the
// control then says so and is disabled; a store with two documents
// made through the REST API (POST /v1/files with purpose assistants, then POST /v1/vector_stores)
// shows in it once indexed. Picking it and sending a question streams an answer that cites the
// first passage's file (the mock model writes `Source: [cats.md]`) and lists the passages the
// model was given (the stream's start event's file_passages): cats.md first, with its score to 3
// decimals as POST …/search scores it, and a snippet of its text. Two stores can be searched at
// once; with no store picked, or the box unchecked, the request has no file search and no
// passages show. A gateway without vector stores (GET /v1/vector_stores answers 404) gets a
// disabled control that says so, not an error box.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "playground", "files", "secret"].join("-");

const KEYS = `
keys:
  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }
`;

const CONFIG = `
providers:
  - { name: mock, type: mock }
  - { name: words, type: mock, mock: { embedding: words, dimensions: 256 } }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
  - { id: mock/words, provider: words, model: mock-words-1, operations: [embeddings], pricing: { input: 0.02, output: 0 } }
routes:
  - { name: default, targets: [mock/chat] }
vector_stores: { embedding: mock/words }
${KEYS}`;

/** The same gateway without vector stores: GET /v1/vector_stores answers 404. */
const NO_STORES_CONFIG = `
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 1, output: 2 } }
routes:
  - { name: default, targets: [mock/chat] }
${KEYS}`;

const CATS = "# Cats\nCats purr and sleep in the sun for most of the day. A cat chases mice and naps on warm windowsills.\n";
const ROCKETS = "# Rockets\nRockets burn fuel and launch satellites into orbit. A rocket engine needs oxygen to burn its fuel.\n";
const OWLS = "# Owls\nOwls hunt at night and sleep in trees during the day.\n";
const QUESTION = "what do cats do in the sun?";

interface Store {
  id: string;
  file_counts: { in_progress: number; completed: number; failed: number; total: number };
}
interface Hit {
  filename: string;
  score: number;
}

describe("console: playground file search in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let bare: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  let handbook = "";
  let nature = "";

  async function ok<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(`${gw.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(typeof init.body === "string" ? { "content-type": "application/json" } : {}), ...init.headers } });
    const body = (await res.json()) as T;
    assert.ok(res.status < 300, `${init.method ?? "GET"} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }
  async function upload(name: string, text: string): Promise<string> {
    const form = new FormData();
    form.append("purpose", "assistants");
    form.append("file", new Blob([text], { type: "text/markdown" }), name);
    return (await ok<{ id: string }>("/v1/files", { method: "POST", body: form })).id;
  }
  /** A store of these documents, once all of them are indexed. */
  async function makeStore(name: string, docs: [string, string][]): Promise<string> {
    const fileIds = await Promise.all(docs.map(([n, t]) => upload(n, t)));
    const store = await ok<Store>("/v1/vector_stores", { method: "POST", body: JSON.stringify({ name, file_ids: fileIds }) });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await ok<Store>(`/v1/vector_stores/${store.id}`);
      assert.equal(s.file_counts.failed, 0, `${name}: a file failed to index`);
      if (s.file_counts.completed === docs.length) return store.id;
      assert.ok(Date.now() < deadline, `${name}: not indexed in time: ${JSON.stringify(s.file_counts)}`);
      await delay(50);
    }
  }
  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const control = () => page.getByTestId("file-search");
  async function openPlayground(p: Page): Promise<void> {
    await p.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Playground", exact: true }).click();
    await p.locator("select[name=model] option[value=default]").waitFor({ state: "attached" });
    await p.locator("select[name=model]").selectOption("default");
  }
  /** Send `text` and wait for this request's finish (the mock echoes the question, so an earlier answer cannot pass). */
  async function send(text: string): Promise<void> {
    await page.getByLabel("Message 1 text").fill(text);
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("answer").filter({ hasText: text }).waitFor();
    await page.getByTestId("stream-finish").waitFor();
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-playground-files-"));
    gw = await startTestGateway(CONFIG);
    bare = await startTestGateway(NO_STORES_CONFIG);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("playground file search", started, work, context, gw, bare));

  test("with no store yet the control says so and is disabled", async () => {
    await openPlayground(page);
    assert.equal(await control().getAttribute("data-state"), "idle");
    await page.locator("input[name=file_search]").click();
    await page.locator("[data-testid=file-search][data-state=empty]").waitFor();
    assert.match(await page.getByTestId("file-search-unavailable").innerText(), /No vector stores yet/);
    assert.equal(await page.locator("input[name=file_search]").isDisabled(), true);
    assert.equal(await page.locator(".error, [role=alert]").count(), 0, "no error box");
  });

  test("a store made through the API shows in the control once the page opens again", async () => {
    handbook = await makeStore("handbook", [
      ["cats.md", CATS],
      ["rockets.md", ROCKETS],
    ]);
    // Away and back: the page forgets the box, and checking it lists the stores again.
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Overview", exact: true }).click();
    await openPlayground(page);
    assert.equal(await control().getAttribute("data-state"), "idle");
    assert.equal(await page.locator("input[name=file_search]").isDisabled(), false);
    // Unchecked, the store list stays hidden.
    assert.equal(await page.locator("input[name=file_search_store]").count(), 0);
    await page.locator("input[name=file_search]").click();
    await page.locator("[data-testid=file-search][data-state=ready]").waitFor();
    await page.locator("input[name=file_search]:checked").waitFor();
  });

  test("with the store picked, the answer cites cats.md and the passages list shows it first with its score", async () => {
    // Checking the box picks the first store.
    const box = page.locator(`input[name=file_search_store][value="${handbook}"]`);
    await box.waitFor();
    assert.equal(await box.isChecked(), true);
    await send(QUESTION);
    const answer = await page.getByTestId("answer").innerText();
    assert.ok(answer.includes("Source: [cats.md]"), `the answer cites the first passage's file: ${answer}`);
    const passages = page.getByTestId("passage");
    await passages.first().waitFor();
    // As POST …/search ranks them for the same query.
    const want = await ok<{ data: Hit[] }>(`/v1/vector_stores/${handbook}/search`, { method: "POST", body: JSON.stringify({ query: QUESTION, max_num_results: 10 }) });
    assert.equal(want.data[0].filename, "cats.md");
    const shown = await passages.evaluateAll((rs) => rs.map((r) => ({ file: r.getAttribute("data-filename"), score: Number(r.getAttribute("data-score")) })));
    assert.equal(shown[0].file, "cats.md");
    assert.deepEqual(
      shown.map((s) => s.file),
      want.data.map((h) => h.filename),
    );
    const first = passages.first();
    assert.equal(await first.getByTestId("passage-file").innerText(), "cats.md");
    const score = (await first.getByTestId("passage-score").innerText()).trim();
    assert.match(score, /^\d\.\d{3}$/);
    assert.equal(score, shown[0].score.toFixed(3));
    assert.equal(score, want.data[0].score.toFixed(3));
    assert.ok(shown[0].score > 0 && shown[0].score <= 1, `score ${shown[0].score}`);
    assert.match(await first.getByTestId("passage-text").innerText(), /Cats purr and sleep in the sun/);
    // What was searched, in the start event's adjustments.
    assert.match(await page.locator("[data-testid=adjustment][data-field=file_search]").first().innerText(), /^file_search: \d+ passages? from the vector store added before the last user message/);
    await shot("playground-file-search");
  });

  test("Passages caps how many the model is given", async () => {
    await page.locator("input[name=file_search_results]").fill("1");
    await send("what do cats do on windowsills?");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=passage]").length === 1);
    assert.equal(await page.getByTestId("passage").first().getAttribute("data-filename"), "cats.md");
    await page.locator("input[name=file_search_results]").fill("");
  });

  test("two stores are searched at once", async () => {
    nature = await makeStore("nature", [["owls.md", OWLS]]);
    // The list is asked again on opening the page.
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Vector stores", exact: true }).click();
    await openPlayground(page);
    await page.locator("input[name=file_search]").click();
    await page.locator("[data-testid=file-search][data-state=ready]").waitFor();
    // Checking the box picks the first store listed: the newest.
    const newest = page.locator(`input[name=file_search_store][value="${nature}"]`);
    await newest.waitFor();
    assert.equal(await newest.isChecked(), true);
    await page.locator(`input[name=file_search_store][value="${handbook}"]`).check();
    assert.equal(await newest.isChecked(), true, "the first pick kept");
    await send("do owls sleep in the sun like cats?");
    await page.locator("[data-testid=adjustment][data-field=file_search]").filter({ hasText: "from 2 vector stores" }).waitFor();
    const files = await page.getByTestId("passage").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-filename")));
    assert.ok(files.includes("owls.md") && files.includes("cats.md"), `passages from both stores: ${files}`);
  });

  test("with no store picked (or the box unchecked) no passages list appears", async () => {
    for (const id of [handbook, nature]) await page.locator(`input[name=file_search_store][value="${id}"]`).uncheck();
    assert.match(await control().innerText(), /none picked, no file search/);
    await send("what do cats do at night?");
    assert.equal(await page.getByTestId("passages").count(), 0);
    assert.equal(await page.getByTestId("passage").count(), 0);
    assert.equal(await page.locator("[data-testid=adjustment][data-field=file_search]").count(), 0);
    assert.doesNotMatch(await page.getByTestId("answer").innerText(), /Source: \[/);
    await page.locator(`input[name=file_search_store][value="${handbook}"]`).check();
    await page.locator("input[name=file_search]").uncheck();
    await send("what do cats do in the rain?");
    assert.equal(await page.getByTestId("passages").count(), 0);
    assert.doesNotMatch(await page.getByTestId("answer").innerText(), /Source: \[/);
  });

  test("a gateway without vector stores: the control says so and is disabled, with no error box", async () => {
    const other = await signedInPage(context, bare.url, ADMIN, errors);
    const asked: string[] = [];
    other.on("request", (r) => {
      if (new URL(r.url()).pathname.startsWith("/v1/vector_stores")) asked.push(r.url());
    });
    try {
      await openPlayground(other);
      // Nothing asked until the box is checked.
      assert.equal(await other.getByTestId("file-search").getAttribute("data-state"), "idle");
      assert.deepEqual(asked, []);
      await other.locator("input[name=file_search]").click();
      await other.locator("[data-testid=file-search][data-state=unconfigured]").waitFor();
      assert.equal(asked.length, 1);
      assert.match(await other.getByTestId("file-search-unavailable").innerText(), /not configured/);
      assert.equal(await other.locator("input[name=file_search]").isDisabled(), true);
      assert.equal(await other.locator(".error, [role=alert]").count(), 0, "no error box");
      // The page still chats.
      await other.getByLabel("Message 1 text").fill("hello there");
      await other.getByRole("button", { name: "Send" }).click();
      await other.getByTestId("stream-finish").waitFor();
      assert.equal(await other.getByTestId("passages").count(), 0);
    } finally {
      await other.close();
    }
  });

  test("no errors in the browser console", () => {
    // The 404 of the gateway without stores is the browser's own report of that fetch, not a fault of the page.
    assert.deepEqual(
      errors.filter((e) => !/\/console\/playground: Failed to load resource: the server responded with a status of 404 \(Not Found\)$/.test(e)),
      [],
    );
  });
});
