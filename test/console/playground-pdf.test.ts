// The Playground's "PDFs" choice in a real browser: Debian's Chromium (driven by playwright-core)
// signs in to a gateway started in process on the embedded default config (config/default.yaml:
// the `default` route through mock/fast, which has vision and echoes the head of the last user
// message, a file part as "[file]"; the `ocr` route through mock/ocr, which reads a PDF's text
// layer page by page at $0.002 a page), with an admin key added. The choice shows only while a
// user message carries a PDF (not for a Markdown file alone). With OCR, a real one-page PDF
// (test/helpers/pdf.ts) goes through the `ocr` route first: the gateway records an OCR request
// tagged file-parser in the chat's trace, billed one page, and the model is sent the page's text
// (the mock's echo names the PDF and quotes its sentence). With the text layer, the model gets the
// same text and no OCR request is recorded; as they are, the model gets the file itself ("[file]")
// and no OCR request either.
// Screenshots go to test-output/console/.
//
// Skipped (with a message) when /usr/bin/chromium is missing, unless CI is set: then it fails.

import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { endSuite, launchChromium, OUTPUT_DIR, prepareConsole, signedInPage, skipWithoutChromium } from "../helpers/browser.ts";
import { makePdf } from "../helpers/pdf.ts";

// Built at run time so no literal key sits in the source.
const ADMIN = ["adm", "playground", "pdf", "secret"].join("-");

// Short, so the mock's 80-character echo holds the file name, the sentence and the question.
const OCR_SENTENCE = "Purple otters audit lighthouses";
const TEXT_SENTENCE = "Velvet comets sort the mail";
const NATIVE_SENTENCE = "Quiet anvils hum at dusk";
const QUESTION = "Summarise.";

describe("console: playground PDF reading in Chromium", { skip: skipWithoutChromium }, () => {
  const started = performance.now();
  let work: string;
  let gw: TestGateway;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  const shot = (name: string) => page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  const choice = () => page.getByTestId("pdf-reader");
  const records = (): UsageRecord[] => gw.usage.recent();
  const ocrRecords = () => records().filter((r) => r.operation === "ocr");

  async function writePdf(name: string, sentence: string): Promise<string> {
    const path = join(work, name);
    await writeFile(path, makePdf([sentence]));
    return path;
  }

  async function openPlayground(): Promise<void> {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Playground", exact: true }).click();
    await page.locator("select[name=model] option[value=default]").waitFor({ state: "attached" });
    await page.locator("select[name=model]").selectOption("default");
  }

  /** Leave the page and come back: a fresh draft (no attachments, the choice back to "as they are"). */
  async function freshPlayground(): Promise<void> {
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Overview", exact: true }).click();
    await openPlayground();
  }

  /**
   * Send the draft and wait for its finish and for the gateway's chat record of it (written as the
   * stream ends): the new chat record, found by the trace shown in the Start card.
   */
  async function sendAndRecord(before: number): Promise<{ answer: string; chat: UsageRecord }> {
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("stream-finish").waitFor();
    assert.equal(await page.getByRole("alert").count(), 0, `an error: ${(await page.getByRole("alert").allInnerTexts()).join()}`);
    const answer = await page.getByTestId("answer").innerText();
    // The Start card's trace: the whole id, or its first 12 characters in a link.
    const shown = (await page.getByTestId("stream-start").locator("dd").last().innerText()).replace(/… ↗$/, "").trim();
    assert.ok(shown.length >= 12, `a trace id shown: ${shown}`);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const chat = records()
        .slice(before)
        .find((r) => (r.operation ?? "chat") === "chat" && r.traceId.startsWith(shown));
      if (chat) return { answer, chat };
      assert.ok(Date.now() < deadline, `no chat record in trace ${shown}: ${JSON.stringify(records().slice(before).map((r) => [r.operation, r.traceId]))}`);
      await delay(25);
    }
  }

  before(async () => {
    await prepareConsole();
    work = await mkdtemp(join(tmpdir(), "signalbox-console-playground-pdf-"));
    // The embedded default config has no caller keys: one admin key added, so the console signs in as the other suites do.
    const yaml = `${await readFile(DEFAULT_CONFIG_PATH, "utf8")}\nkeys:\n  - { name: console-admin, hash: "${hashKey(ADMIN)}", team: platform, role: admin }\n`;
    gw = await startTestGateway(yaml);
    context = await launchChromium(join(work, "profile"), { width: 1280, height: 1000 });
    page = await signedInPage(context, gw.url, ADMIN, errors);
  });

  after(() => endSuite("playground pdf", started, work, context, gw));

  test("the choice shows only while a user message carries a PDF", async () => {
    await openPlayground();
    assert.equal(await choice().count(), 0, "nothing attached: no choice");
    await page.getByLabel("Attach documents to message 1").setInputFiles([{ name: "notes.md", mimeType: "", buffer: Buffer.from("# Notes\nShip Friday.\n") }]);
    await page.getByTestId("attachment").filter({ hasText: "notes.md" }).waitFor();
    assert.equal(await choice().count(), 0, "a Markdown file alone: no choice");
    await page.getByLabel("Attach documents to message 1").setInputFiles(await writePdf("shown.pdf", "Shown"));
    await choice().waitFor();
    assert.equal(await choice().getAttribute("data-value"), "native", "as they are by default");
    const group = choice().getByRole("radiogroup", { name: "PDFs" });
    assert.deepEqual(await group.getByRole("radio").allInnerTexts(), ["as they are", "text layer", "OCR"]);
    assert.equal(await group.getByRole("radio", { name: "as they are" }).getAttribute("aria-checked"), "true");
    assert.match(await choice().innerText(), /needs vision/);
    // Removing the PDF hides it again.
    await page.getByRole("button", { name: "Remove shown.pdf" }).click();
    await choice().waitFor({ state: "detached" });
  });

  test("OCR: the PDF goes through the ocr route first, recorded as an OCR request tagged file-parser in the chat's trace", async () => {
    await freshPlayground();
    await page.getByLabel("Message 1 text").fill(QUESTION);
    await page.getByLabel("Attach documents to message 1").setInputFiles(await writePdf("otters.pdf", OCR_SENTENCE));
    await choice().waitFor();
    await choice().getByRole("radio", { name: "OCR" }).click();
    assert.equal(await choice().getAttribute("data-value"), "ocr");
    assert.equal(await choice().getByRole("radio", { name: "OCR" }).getAttribute("aria-checked"), "true");
    assert.match(await choice().innerText(), /ocr route/);
    const before = records().length;
    const { answer, chat } = await sendAndRecord(before);
    await shot("playground-pdf-ocr");

    // The model got the page's text in place of the file, named by the file.
    assert.ok(answer.includes(OCR_SENTENCE), `the PDF's text reached the model: ${answer}`);
    assert.ok(answer.includes("otters.pdf:"), `the text is named by its file: ${answer}`);
    assert.ok(!answer.includes("[file]"), `no file part reached the model: ${answer}`);
    assert.equal(chat.status, "ok");
    assert.equal(chat.deployment, "mock/fast");

    const ocr = records()
      .slice(before)
      .filter((r) => r.operation === "ocr");
    assert.equal(ocr.length, 1, `one OCR request: ${JSON.stringify(ocr.map((r) => [r.id, r.traceId, r.tags]))}`);
    const [o] = ocr;
    assert.ok(o.tags.includes("file-parser"), `tagged file-parser: ${o.tags}`);
    assert.equal(o.traceId, chat.traceId, "in the chat's trace");
    assert.notEqual(o.id, chat.id, "a request of its own");
    assert.equal(o.deployment, "mock/ocr");
    assert.equal(o.routing.route, "ocr");
    assert.equal(o.status, "ok");
    assert.equal(o.usage.pages, 1);
    assert.equal(o.cost.total, 2_000_000, "one page at $0.002 (nano-USD)");
  });

  test("text layer: the model gets the PDF's text, and no OCR request is recorded", async () => {
    await freshPlayground();
    assert.equal(await choice().count(), 0);
    await page.getByLabel("Message 1 text").fill(QUESTION);
    await page.getByLabel("Attach documents to message 1").setInputFiles(await writePdf("comets.pdf", TEXT_SENTENCE));
    await choice().waitFor();
    assert.equal(await choice().getAttribute("data-value"), "native", "a fresh draft: as they are");
    await choice().getByRole("radio", { name: "text layer" }).click();
    assert.equal(await choice().getAttribute("data-value"), "text");
    assert.match(await choice().innerText(), /text layer/);
    const before = records().length;
    const ocrBefore = ocrRecords().length;
    const { answer, chat } = await sendAndRecord(before);
    await shot("playground-pdf-text");
    assert.ok(answer.includes(TEXT_SENTENCE), `the PDF's text reached the model: ${answer}`);
    assert.ok(answer.includes("comets.pdf:"), `the text is named by its file: ${answer}`);
    assert.ok(!answer.includes("[file]"), `no file part reached the model: ${answer}`);
    assert.equal(chat.status, "ok");
    assert.equal(ocrRecords().length, ocrBefore, "no OCR request");
    assert.equal(records().filter((r) => r.traceId === chat.traceId).length, 1, "the chat alone in its trace");
  });

  test("as they are: the model gets the PDF itself, and no OCR request is recorded", async () => {
    await freshPlayground();
    await page.getByLabel("Message 1 text").fill(QUESTION);
    await page.getByLabel("Attach documents to message 1").setInputFiles(await writePdf("anvils.pdf", NATIVE_SENTENCE));
    await choice().waitFor();
    // Picked and picked back: nothing sent.
    await choice().getByRole("radio", { name: "OCR" }).click();
    await choice().getByRole("radio", { name: "as they are" }).click();
    assert.equal(await choice().getAttribute("data-value"), "native");
    const before = records().length;
    const ocrBefore = ocrRecords().length;
    const { answer, chat } = await sendAndRecord(before);
    assert.match(answer, /You said: "\[file\] Summarise\."/);
    assert.ok(!answer.includes(NATIVE_SENTENCE), `the model got the file, not its text: ${answer}`);
    assert.equal(chat.status, "ok");
    assert.equal(ocrRecords().length, ocrBefore, "no OCR request");
  });

  test("no errors in the browser console", () => {
    assert.deepEqual(errors, []);
  });
});
