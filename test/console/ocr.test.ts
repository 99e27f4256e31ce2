// The console's OCR page in a real browser: Debian's Chromium (driven by playwright-core) signs in
// to a gateway started in process on the embedded default config (config/default.yaml: the `ocr`
// route through mock/ocr, which reads a PDF's text layer page by page at $0.002 a page, its route
// cache on), with an admin key added. The page is in the navigation right after Search; its model
// picker offers what serves ocr (the `ocr` route, the mock/ocr deployment) and not the chat or
// search routes. A real two-page PDF (test/helpers/pdf.ts) picked in the file input comes back as
// two pages, each its text shown as text (an HTML tag in it stays a tag's text, a Markdown heading
// stays a `#` line), its size at 200 dpi, with the deployment (mock/ocr), the route, two pages
// billed and their cost ($0.004); read again, it is a cache hit costing nothing. The pages option
// reads one page; a bad page list is refused before sending. An image comes back as one page whose
// image has a thumbnail when its base64 is asked for. A text file named .pdf gets the gateway's
// invalid_argument naming `document`; a .docx that is not a ZIP archive likewise; a URL gets the
// mock's refusal (it fetches nothing): each an error box, and no pages. Extract JSON: a JSON Schema
// with the PDF brings an Annotation card (the mock fills the schema's shape from the first line),
// pretty-printed as text; text that is not a JSON object is refused before sending; a schema that
// does not compile gets the gateway's invalid_argument naming `document_annotation_schema`.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { makePdf } from "../helpers/pdf.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "console", "ocr", "secret"].join("-");

const PAGE_ONE = "# Quarterly report\nRevenue rose <b>12%</b> in Q3";
const PAGE_TWO = "Second page\nSigned: the board";
// A 1x1 PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");

describe("console: OCR page in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  let pdfPath: string;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const nav = () => page.getByRole("navigation", { name: "Pages" });
  const readButton = () => page.getByRole("button", { name: "Read", exact: true });
  /**
   * Click Read, then wait for this read's outcome (not the last one's still on the page): a new
   * request id in the answer, or the error box.
   */
  const read = async (expect: "answer" | "error") => {
    const requestLink = page.getByTestId("ocr-request");
    const prev = (await requestLink.count()) ? await requestLink.innerText() : "";
    // An error box already shown is a node of its own: the next error's box is a new one.
    const prevAlert = await page.$("[role=alert]");
    await readButton().click();
    await page.waitForFunction(
      ({ prev, prevAlert }) => {
        const alert = document.querySelector("[role=alert]");
        return (alert !== null && alert !== prevAlert) || (document.querySelector("[data-testid=ocr-request]")?.textContent ?? prev) !== prev;
      },
      { prev, prevAlert },
    );
    if (expect === "answer") {
      assert.equal(await page.getByRole("alert").count(), 0, `an error: ${(await page.getByRole("alert").allInnerTexts()).join()}`);
      await page.getByTestId("ocr-answer").waitFor();
    } else {
      await page.getByRole("alert").waitFor();
    }
  };
  const markdownOf = (i: number) => page.getByTestId("ocr-page").nth(i).getByTestId("ocr-page-markdown").innerText();

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-ocr-"));
    pdfPath = join(work, "two-pages.pdf");
    await writeFile(pdfPath, makePdf([PAGE_ONE, PAGE_TWO]));
    // The embedded default config has no caller keys: one admin key added, so the console signs in as the other suites do.
    const yaml = `${await readFile(DEFAULT_CONFIG_PATH, "utf8")}\nkeys:\n  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }\n`;
    gw = await startTestGateway(yaml);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("ocr", started, work, context, gw));

  test("the page is in the navigation right after Search; its picker offers what serves ocr", async () => {
    const labels = await nav().getByRole("link").allInnerTexts();
    const at = labels.indexOf("Search");
    assert.ok(at >= 0, `no Search in ${labels.join(", ")}`);
    assert.equal(labels[at + 1], "OCR", `the navigation: ${labels.join(", ")}`);
    await nav().getByRole("link", { name: "OCR", exact: true }).click();
    assert.equal(new URL(page.url()).pathname, "/console/ocr");
    await page.getByRole("heading", { name: "OCR", exact: true }).waitFor();
    await page.locator("select[name=model] option[value='mock/ocr']").waitFor({ state: "attached" });
    assert.equal(await page.locator("select[name=model]").inputValue(), "ocr", "the default model");
    const options = await page.locator("select[name=model] option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.ok(options.includes("ocr"), `options: ${options}`);
    assert.ok(options.includes("mock/ocr"), `options: ${options}`);
    for (const other of ["default", "mock/fast", "embed", "rerank", "search", "mock/search"]) assert.ok(!options.includes(other), `${other} does not serve ocr: ${options}`);
    assert.equal(await readButton().isDisabled(), true, "nothing to read yet");
  });

  test("a two-page PDF: both pages' text (as text), the deployment, two pages billed and their cost", async () => {
    await page.getByTestId("ocr-file").setInputFiles(pdfPath);
    await page.getByText("two-pages.pdf · application/pdf").waitFor();
    await read("answer");
    await shot("ocr-results");

    const answer = page.getByTestId("ocr-answer");
    assert.equal(await answer.getAttribute("data-deployment"), "mock/ocr");
    assert.equal(await answer.getAttribute("data-cache-hit"), "false");
    assert.match(await page.getByTestId("ocr-deployment").innerText(), /^mock\/ocr$/, "one attempt: no attempt count");
    assert.equal(await page.getByTestId("ocr-route").innerText(), "ocr");
    assert.equal(await page.getByTestId("ocr-pages-billed").innerText(), "2");
    assert.equal(await page.getByTestId("ocr-cost").innerText(), "$0.004000", "two pages at $0.002, formatted as the console formats cost");
    assert.match(await page.getByTestId("ocr-latency").innerText(), /\d+(\.\d+)? (ms|s)$/);
    assert.match(await page.getByTestId("ocr-cache").innerText(), /miss/);
    assert.ok((await page.getByTestId("ocr-trace").innerText()).trim().length > 0);

    const pages = page.getByTestId("ocr-page");
    assert.equal(await pages.count(), 2);
    assert.deepEqual(await pages.evaluateAll((ps) => ps.map((p) => p.getAttribute("data-index"))), ["0", "1"]);
    assert.equal(await markdownOf(0), PAGE_ONE, "the first page's lines, as they are");
    assert.equal(await markdownOf(1), PAGE_TWO);
    // Shown as text: the tag is text, not an element; the heading is a `#` line, not a heading.
    const first = pages.nth(0).getByTestId("ocr-page-markdown");
    assert.equal(await first.evaluate((el) => el.tagName), "PRE");
    assert.equal(await first.locator("b").count(), 0, "no HTML rendered from the Markdown");
    assert.equal(await pages.nth(0).locator("h1").count(), 0);
    // US Letter (612x792 pt) at 200 dpi.
    assert.deepEqual(await page.getByTestId("ocr-page-size").allInnerTexts(), ["1700×2200 px at 200 dpi", "1700×2200 px at 200 dpi"]);
    assert.equal(await page.getByRole("alert").count(), 0, "no error");

    // The request link names the read's request record (the gateway's usage record of it).
    const requestId = await page.getByTestId("ocr-request").innerText();
    const record = gw.usage.recent().find((r) => r.id === requestId);
    assert.ok(record, `no usage record ${requestId}`);
    assert.equal(record.deployment, "mock/ocr");
  });

  test("read again: a cache hit, costing nothing", async () => {
    const before = await page.getByTestId("ocr-request").innerText();
    await readButton().click();
    await page.locator("[data-testid=ocr-answer][data-cache-hit=true]").waitFor();
    await shot("ocr-cache-hit");
    assert.notEqual(await page.getByTestId("ocr-request").innerText(), before, "a new request");
    assert.match(await page.getByTestId("ocr-cache").innerText(), /cache hit/);
    assert.equal(await page.getByTestId("ocr-cost").innerText(), "$0");
    assert.equal(await page.getByTestId("ocr-page").count(), 2);
    assert.equal(await markdownOf(1), PAGE_TWO);
  });

  test("the pages option: only page 1 read and billed; a bad page list is refused before sending", async () => {
    const pagesInput = page.locator("input[name=pages]");
    await pagesInput.fill("1-x");
    await page.getByText('"1-x" is not a page or a range like 2-3').waitFor();
    assert.equal(await readButton().isDisabled(), true, "a bad page list: no read");
    await pagesInput.fill("2-1");
    await page.getByText("2-1: the range ends before it starts").waitFor();
    assert.equal(await readButton().isDisabled(), true);

    await pagesInput.fill("1");
    assert.equal(await readButton().isDisabled(), false);
    await read("answer");
    const pages = page.getByTestId("ocr-page");
    assert.equal(await pages.count(), 1);
    assert.equal(await pages.first().getAttribute("data-index"), "1");
    assert.equal(await markdownOf(0), PAGE_TWO);
    assert.equal(await page.getByTestId("ocr-pages-billed").innerText(), "1");
    assert.equal(await page.getByTestId("ocr-cost").innerText(), "$0.002000");

    // A page past the end: the mock's refusal, shown as an error box.
    await pagesInput.fill("0,5");
    await read("error");
    assert.match(await page.getByRole("alert").innerText(), /page 5 is past the document's 2 pages/);
    assert.equal(await page.getByTestId("ocr-page").count(), 0);
    await pagesInput.fill("");
  });

  test("an image: one page, its image box, a thumbnail when its base64 is asked for", async () => {
    await page.getByTestId("ocr-file").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: PNG });
    await read("answer");
    assert.equal(await page.getByTestId("ocr-page").count(), 1);
    assert.equal(await markdownOf(0), "![img-0.png](img-0.png)", "the image's Markdown, as text");
    assert.equal(await page.getByTestId("ocr-image").count(), 1);
    assert.equal(await page.getByTestId("ocr-image-thumb").count(), 0, "no base64 asked for: no thumbnail");
    assert.match(await page.getByTestId("ocr-image").innerText(), /img-0\.png\s*\(0, 0\)–\(1, 1\)/);

    await page.locator("input[name=include_image_base64]").check();
    await read("answer");
    await page.getByTestId("ocr-image-thumb").waitFor();
    assert.match((await page.getByTestId("ocr-image-thumb").getAttribute("src")) ?? "", /^data:image\/png;base64,iVBORw0KGgo/);
    assert.equal(await page.getByTestId("ocr-page-markdown").locator("img").count(), 0, "no image rendered from the Markdown");
    await shot("ocr-image");
    await page.locator("input[name=include_image_base64]").uncheck();
  });

  test("errors: a text file named .pdf, a .docx that is not one, a URL the mock does not fetch", async () => {
    const notes = join(work, "notes.pdf");
    await writeFile(notes, "just some notes, not a PDF\n");
    await page.getByTestId("ocr-file").setInputFiles(notes);
    await read("error");
    await shot("ocr-error");
    const alert = page.getByRole("alert");
    assert.equal(await alert.getAttribute("data-code"), "invalid_argument");
    let text = await alert.innerText();
    assert.match(text, /The request is not valid/);
    assert.match(text, /document/);
    assert.match(text, /is not a PDF/);
    assert.equal(await page.getByTestId("ocr-answer").count(), 0, "the earlier answer is gone");
    assert.equal(await page.getByTestId("ocr-page").count(), 0);

    // No type from the browser: the media type from the extension.
    await page.getByTestId("ocr-file").setInputFiles({ name: "memo.docx", mimeType: "", buffer: Buffer.from("not a zip archive") });
    await page.getByText("memo.docx · application/vnd.openxmlformats-officedocument.wordprocessingml.document").waitFor();
    await readButton().click();
    await page.getByRole("alert").filter({ hasText: "DOCX" }).waitFor();
    text = await alert.innerText();
    assert.equal(await alert.getAttribute("data-code"), "invalid_argument");
    assert.match(text, /is not a DOCX file/);

    // A URL: the mock reads bytes only.
    await page.getByRole("radio", { name: "URL" }).click();
    assert.equal(await readButton().isDisabled(), true, "no URL yet");
    await page.locator("input[name=document_url]").fill("https://example.com/report.pdf");
    await readButton().click();
    await page.getByRole("alert").filter({ hasText: "fetches nothing" }).waitFor();
    assert.equal(await page.getByTestId("ocr-page").count(), 0);

    // Back to the file: the PDF reads again (from the cache).
    await page.getByRole("radio", { name: "File" }).click();
    await page.getByTestId("ocr-file").setInputFiles(pdfPath);
    await read("answer");
    assert.equal(await alert.count(), 0);
    assert.equal(await page.getByTestId("ocr-page").count(), 2);
  });

  test("extract JSON: a schema brings an Annotation card; a bad one is refused before sending or by the gateway", async () => {
    const schemaInput = page.locator("textarea[name=document_annotation_schema]");
    const nameInput = page.locator("input[name=document_annotation_name]");
    const promptInput = page.locator("textarea[name=document_annotation_prompt]");
    assert.equal(await page.getByTestId("ocr-annotation").count(), 0, "no schema: no annotation");
    assert.equal(await promptInput.isDisabled(), true, "no schema: no prompt");
    assert.equal(await nameInput.isDisabled(), true, "no schema: no name");

    // Not JSON, then JSON that is not an object: refused before sending, the reason under the field.
    await schemaInput.fill('{"type": "object",');
    await page.getByText(/^Not valid JSON: /).waitFor();
    assert.equal(await readButton().isDisabled(), true, "invalid JSON: no read");
    assert.equal(await schemaInput.getAttribute("aria-invalid"), "true");
    assert.equal(await promptInput.isDisabled(), true, "no valid schema: no prompt");
    await schemaInput.fill("[1, 2]");
    await page.getByText("A schema is a JSON object, not an array").waitFor();
    assert.equal(await readButton().isDisabled(), true);

    // A schema: the annotation has its shape, filled from the document's first line.
    const schema = { type: "object", properties: { title: { type: "string" }, total: { type: "number" } } };
    await schemaInput.fill(JSON.stringify(schema));
    assert.equal(await readButton().isDisabled(), false);
    assert.equal(await promptInput.isDisabled(), false, "a schema: the prompt is open");
    await nameInput.fill("report");
    await promptInput.fill("The report's title, and its total");
    await read("answer");
    const annotation = page.getByTestId("ocr-annotation");
    await annotation.waitFor();
    await shot("ocr-annotation");
    assert.equal(await annotation.evaluate((el) => el.tagName), "PRE");
    const firstLine = PAGE_ONE.split("\n")[0];
    const text = await annotation.innerText();
    assert.deepEqual(JSON.parse(text), { title: firstLine, total: 0 });
    assert.equal(text, JSON.stringify({ title: firstLine, total: 0 }, null, 2), "pretty-printed");
    assert.equal(await annotation.locator("*").count(), 0, "text only: no element rendered from it");
    const card = page.locator(".card").filter({ has: annotation });
    await card.getByRole("heading", { name: "Annotation", exact: true }).waitFor();
    await card.getByRole("button", { name: "Copy", exact: true }).waitFor();
    assert.equal(await page.getByTestId("ocr-page").count(), 2, "the pages as well");

    // A schema that does not compile: the gateway's invalid_argument names the field; no annotation.
    await schemaInput.fill('{"type": "wat"}');
    await read("error");
    const alert = page.getByRole("alert");
    assert.equal(await alert.getAttribute("data-code"), "invalid_argument");
    assert.match(await alert.innerText(), /document_annotation_schema/);
    assert.equal(await page.getByTestId("ocr-annotation").count(), 0);

    // Emptied: no schema, no annotation, the prompt closed again.
    await schemaInput.fill("");
    assert.equal(await promptInput.isDisabled(), true);
    await read("answer");
    assert.equal(await page.getByTestId("ocr-annotation").count(), 0);
  });

  test("no errors in the browser console", () => {
    // The invalid reads answer 400, which the browser logs as a failed resource: those are expected.
    const unexpected = errors.filter((e) => !/status of 400/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
