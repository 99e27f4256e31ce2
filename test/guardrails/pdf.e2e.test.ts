// Input guardrails read PDFs: the text of every page is scanned like any other text (pdf.js through
// unpdf), so a key or a card number in an attached PDF is caught before it leaves. A block blocks;
// a redaction cannot be made inside a PDF, so a redact guardrail that finds something blocks too;
// a flag is recorded and the PDF sent as it came (byte for byte); a PDF that cannot be read blocks
// where a block or redact guardrail applies and is flagged otherwise; a route without guardrails
// never parses it.

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test, type TestContext } from "node:test";
import { Code } from "@connectrpc/connect";
import { pdfText } from "../../src/guardrails/pdf-text.ts";
import { makePdf } from "../helpers/pdf.ts";
import { awsKeyId, cardNumber, envFor, errorInfo, lastRecord, OA, rejected, useFakes } from "./harness.ts";

const fakes = useFakes();

const EXTRA = `
guardrails:
  - { name: no-keys, kind: secrets, stage: input, action: block }
  - { name: pii-in, kind: pii, stage: input, action: redact, pii: { categories: [card] } }
  - { name: words, kind: deny, stage: input, action: flag, deny: { words: [frobnicate] } }
routes:
  - { name: keys, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [no-keys] }
  - { name: pii, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [pii-in] }
  - { name: flagged, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [words] }
  - { name: open, targets: [${OA}], retry: { max_retries: 0 } }
`;
const env = (t: TestContext, extra = EXTRA) => envFor(t, fakes, extra);

const withPdf = (model: string, pdf: Buffer, filename = "q3.pdf") =>
  ({
    model,
    messages: [{ role: 2, content: [{ part: { case: "file", value: { data: pdf, mediaType: "application/pdf", filename } } }, { part: { case: "text", value: "Summarise the attachment." } }] }],
  }) as never;
/** The file part the upstream received, as OpenAI's file_data URL. */
const sentFile = () => {
  const body = fakes.openai.requests[0].body as { messages: { content: { type: string; file?: { file_data: string } }[] }[] };
  return body.messages[0].content.find((p) => p.type === "file")!.file!.file_data;
};
const UNREADABLE = Buffer.from("%PDF-1.4\n%%EOF\n");

describe("input guardrails read PDFs", () => {
  test("pdfText: every page's text, in order; an unreadable PDF says so; the caller's bytes are left intact", async () => {
    const pdf = makePdf(["First page", "Second page\nwith two lines"]);
    const copy = Buffer.from(pdf);
    assert.deepEqual(await pdfText(pdf), { text: "First page\nSecond page\nwith two lines", pages: 2 });
    assert.ok(pdf.equals(copy), "pdf.js worked on a copy");
    assert.deepEqual(await pdfText(UNREADABLE), { error: "the PDF could not be read" });
  });

  test("a key on page 2 of a PDF is blocked: nothing reaches the upstream, the error names the file", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.chat.complete(withPdf("keys", makePdf(["Quarterly report", `Deploy with ${awsKeyId()} tonight`]))));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.rawMessage, 'guardrail "no-keys" blocked the request (category aws_access_key): found in the PDF "q3.pdf"');
    assert.equal(errorInfo(err).guardrail, "no-keys");
    assert.equal(fakes.openai.requests.length, 0);
    assert.deepEqual((await lastRecord(e.t)).guardrails, [{ name: "no-keys", stage: "input", action: "block", category: "aws_access_key", count: 1 }]);
  });

  test("a redact guardrail that finds a card number in a PDF blocks: a PDF cannot be redacted", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.chat.complete(withPdf("pii", makePdf([`Pay with ${cardNumber()} please`]))));
    assert.equal(err.rawMessage, 'guardrail "pii-in" blocked the request (category card): found in the PDF "q3.pdf", and a PDF cannot be redacted');
    assert.equal(fakes.openai.requests.length, 0);
  });

  test("a clean PDF, and a flagged one, are sent byte for byte; the flag is recorded", async (t) => {
    const e = await env(t);
    const clean = makePdf(["Nothing sensitive here"]);
    await e.client.chat.complete(withPdf("pii", clean));
    assert.equal(sentFile(), `data:application/pdf;base64,${clean.toString("base64")}`);
    fakes.openai.reset();
    const flagged = makePdf(["Please frobnicate the widget"]);
    const res = await e.client.chat.complete(withPdf("flagged", flagged));
    assert.equal(sentFile(), `data:application/pdf;base64,${flagged.toString("base64")}`);
    assert.deepEqual(res.adjustments, []);
    assert.deepEqual((await lastRecord(e.t)).guardrails, [{ name: "words", stage: "input", action: "flag", category: "deny", count: 1 }]);
  });

  test("a PDF that cannot be read blocks where a block guardrail applies, is flagged where only flags do, and passes untouched where none do", async (t) => {
    const e = await env(t);
    const err = await rejected(e.client.chat.complete(withPdf("keys", UNREADABLE, "broken.pdf")));
    assert.equal(err.rawMessage, 'guardrail "no-keys" blocked the request (category unreadable_pdf): the PDF "broken.pdf": the PDF could not be read, so it could not be checked');
    assert.equal(fakes.openai.requests.length, 0);
    await e.client.chat.complete(withPdf("flagged", UNREADABLE));
    assert.deepEqual((await lastRecord(e.t)).guardrails, [{ name: "words", stage: "input", action: "flag", category: "unreadable_pdf", count: 1 }]);
    fakes.openai.reset();
    await e.client.chat.complete(withPdf("open", UNREADABLE));
    assert.equal(sentFile(), `data:application/pdf;base64,${UNREADABLE.toString("base64")}`);
  });

  test("an input webhook is sent the PDF's text with the prompt, and can refuse it", async (t) => {
    const bodies: { text: string }[] = [];
    const hook = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const body = JSON.parse(raw) as { text: string };
        bodies.push(body);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body.text.includes("forbidden") ? { allow: false, category: "policy" } : { allow: true }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    t.after(() => new Promise<void>((r) => (hook.closeAllConnections(), hook.close(() => r()))));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/moderate`;
    const e = await env(t, `
guardrails:
  - { name: mod, kind: webhook, stage: input, action: block, webhook: { url: "${url}", timeout_ms: 2000 } }
routes:
  - { name: hooked, targets: [${OA}], retry: { max_retries: 0 }, guardrails: [mod] }
`);
    await e.client.chat.complete(withPdf("hooked", makePdf(["Revenue grew 12 percent"])));
    assert.equal(bodies[0].text, "Revenue grew 12 percent\n\nSummarise the attachment.");
    const err = await rejected(e.client.chat.complete(withPdf("hooked", makePdf(["Something forbidden inside"]))));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(fakes.openai.requests.length, 1, "only the first request reached the provider");
  });
});
