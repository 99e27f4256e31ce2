// Files (documents) end to end: a PDF or a text document sent through each front door (the openai
// SDK's file part on /v1/chat/completions and input_file on /v1/responses, the Anthropic SDK's
// document blocks, the typed client's FilePart) reaches each provider in its own form, checked by
// the fakes as the real APIs check it: OpenAI's file part (a text document as text), Anthropic's
// document block (base64 PDF, or a plain-text source, with its title), Gemini's inline data.
// Bad files are a 400 naming the field and reach no provider; the planner estimates a PDF by its
// pages; input guardrails read text documents.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, fileBytes, textPart, type SignalboxClient } from "@signalbox/client";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { cardNumber } from "../guardrails/harness.ts";

/** A two-page PDF, small and valid enough for every provider's checks (and the page count). */
const PDF = Buffer.from(
  [
    "%PDF-1.4",
    "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj",
    "2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj",
    "3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj",
    "4 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj",
    "trailer << /Root 1 0 R >>",
    "%%EOF",
  ].join("\n"),
);
const PDF_B64 = PDF.toString("base64");
const PDF_URL = `data:application/pdf;base64,${PDF_B64}`;

function config(anthropic: string, openai: string, gemini: string): string {
  const t = "timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }";
  return `
server: { max_request_bytes: 1048576 }
providers:
  - { name: anthropic, type: anthropic, base_url: "${anthropic}", api_key: ${ANTHROPIC_TEST_KEY}, ${t} }
  - { name: openai, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, ${t} }
  - { name: gemini, type: gemini, base_url: "${gemini}", api_key: ${GEMINI_TEST_KEY}, ${t} }
deployments:
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929 }
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o }
  - { id: gemini/flash, provider: gemini, model: gemini-2.5-flash }
guardrails:
  - { name: pii-in, kind: pii, stage: input, action: redact, pii: { categories: [card] } }
routes:
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: gpt, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: gemini, targets: [gemini/flash], retry: { max_retries: 0 } }
  - { name: guarded, targets: [claude/sonnet], retry: { max_retries: 0 }, guardrails: [pii-in] }
`;
}

let claude: FakeAnthropic;
let gpt: FakeOpenAI;
let gemini: FakeGemini;
let t: TestGateway;
let openai: OpenAI;
let anthropic: Anthropic;
let typed: SignalboxClient;

before(async () => {
  [claude, gpt, gemini] = await Promise.all([startFakeAnthropic(), startFakeOpenAI(), startFakeGemini()]);
  t = await startTestGateway(config(claude.url, gpt.url, gemini.url));
  openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "unused", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: t.url, apiKey: "unused", maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url });
});
after(async () => {
  await t.close();
  await Promise.all([claude.close(), gpt.close(), gemini.close()]);
});
beforeEach(() => {
  claude.reset();
  gpt.reset();
  gemini.reset();
});

const userContent = (f: { requests: { body: any }[] }, i = 0) => f.requests[f.requests.length - 1].body.messages[i].content;
const geminiParts = () => gemini.requests.at(-1)!.body.contents[0].parts;

describe("a PDF reaches every provider in its own form", () => {
  const ask = (model: string) =>
    openai.chat.completions.create({
      model,
      messages: [{ role: "user", content: [{ type: "text", text: "Summarise the report." }, { type: "file", file: { file_data: PDF_URL, filename: "report.pdf" } }] }],
    });

  test("openai SDK → OpenAI: a file part with the data URL and its name", async () => {
    const res = await ask("gpt");
    assert.ok(res.choices[0].message.content);
    assert.deepEqual(userContent(gpt), [
      { type: "text", text: "Summarise the report." },
      { type: "file", file: { filename: "report.pdf", file_data: PDF_URL } },
    ]);
  });

  test("openai SDK → Anthropic: a base64 document block titled with the file's name", async () => {
    await ask("claude");
    assert.deepEqual(userContent(claude)[1], { type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF_B64 }, title: "report.pdf" });
  });

  test("openai SDK → Gemini: inline data", async () => {
    await ask("gemini");
    assert.deepEqual(geminiParts()[1], { inlineData: { mimeType: "application/pdf", data: PDF_B64 } });
  });

  test("Anthropic SDK document block → OpenAI: a file part; → Anthropic: the block unchanged", async () => {
    const doc: Anthropic.DocumentBlockParam = { type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF_B64 }, title: "Q3" };
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: [doc, { type: "text", text: "Key figures?" }] }];
    await anthropic.messages.create({ model: "gpt", max_tokens: 100, messages });
    assert.deepEqual(userContent(gpt)[0], { type: "file", file: { filename: "Q3", file_data: PDF_URL } });
    await anthropic.messages.create({ model: "claude", max_tokens: 100, messages });
    assert.deepEqual(userContent(claude)[0], doc);
  });

  test("Responses API input_file → OpenAI chat completions' file part", async () => {
    await openai.responses.create({ model: "gpt", input: [{ role: "user", content: [{ type: "input_file", file_data: PDF_URL, filename: "r.pdf" }, { type: "input_text", text: "Summary?" }] }] });
    assert.deepEqual(userContent(gpt)[0], { type: "file", file: { filename: "r.pdf", file_data: PDF_URL } });
  });

  test("Connect FilePart → Gemini, and the planner estimates the PDF by its pages (2,000 tokens each)", async () => {
    // The client's helper builds the part.
    const req = { model: "gemini", messages: [{ role: 2, content: [fileBytes(PDF, "application/pdf", "r.pdf"), textPart("Summary?")] }] } as never;
    const res = await typed.chat.complete(req);
    assert.ok(res.message?.content[0]?.part.value);
    assert.deepEqual(geminiParts()[0], { inlineData: { mimeType: "application/pdf", data: PDF_B64 } });
    const plan = await typed.route.route(req);
    const est = plan.estimatedInputTokens;
    assert.ok(est >= 4_000 && est < 4_100, `two pages and a short question: ${est}`);
  });
});

describe("a text document", () => {
  const notes = "Meeting notes: ship on Friday.";
  test("Anthropic SDK text document → Anthropic: a plain-text document; → OpenAI and Gemini: its text, after its name", async () => {
    const doc: Anthropic.DocumentBlockParam = { type: "document", source: { type: "text", media_type: "text/plain", data: notes }, title: "notes.txt" };
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: [doc, { type: "text", text: "When do we ship?" }] }];
    await anthropic.messages.create({ model: "claude", max_tokens: 100, messages });
    assert.deepEqual(userContent(claude)[0], doc);
    await anthropic.messages.create({ model: "gpt", max_tokens: 100, messages });
    assert.deepEqual(userContent(gpt)[0], { type: "text", text: `notes.txt:\n${notes}` });
    await anthropic.messages.create({ model: "gemini", max_tokens: 100, messages });
    assert.deepEqual(geminiParts()[0], { text: `notes.txt:\n${notes}` });
  });

  test("input guardrails read it: a card number in a text document is redacted before it leaves", async () => {
    const card = cardNumber();
    const req = { model: "guarded", messages: [{ role: 2, content: [{ part: { case: "file" as const, value: { data: Buffer.from(`Pay with ${card} please.`), mediaType: "text/plain" } } }] }] } as never;
    const res = await typed.chat.complete(req);
    assert.deepEqual(
      res.adjustments.map((a) => a.detail),
      ["input: 1 redaction (card)"],
    );
    assert.deepEqual(userContent(claude)[0].source, { type: "text", media_type: "text/plain", data: "Pay with [REDACTED:card] please." });
    assert.ok(!claude.requests[0].rawBody.includes(card.slice(0, 4) + " " + card.slice(5, 9)));
  });
});

describe("bad files are refused naming the field, and reach no provider", () => {
  const none = () => assert.equal(claude.requests.length + gpt.requests.length + gemini.requests.length, 0);

  test("/v1: not a PDF, an unknown media type, an uploaded file id, a file in an assistant message", async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ type: "file", file: { file_data: "data:application/pdf;base64,AAAA" } }, "messages[0].content[0].file.file_data", /is not a PDF/],
      [{ type: "file", file: { file_data: "data:application/zip;base64,UEsDBA==" } }, "messages[0].content[0].file.file_data", /must be one of application\/pdf/],
      [{ type: "file", file: { file_id: "file-abc" } }, "messages[0].content[0].file.file_id", /uploaded files are not supported/],
      [{ type: "file", file: { file_data: "https://example.com/x.pdf" } }, "messages[0].content[0].file.file_data", /base64 data: URL/],
    ];
    for (const [part, param, message] of cases) {
      const err = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: [part as never] }] }).catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.equal((err.error as { param: string }).param, param);
      assert.match(err.message, message);
    }
    const refused = (req: unknown) =>
      typed.chat.complete(req as never).then(
        () => assert.fail("expected invalid_argument"),
        (e: unknown) => ConnectError.from(e),
      );
    const typedErr = await refused({ model: "gpt", messages: [{ role: 3, content: [{ part: { case: "file", value: { data: PDF, mediaType: "application/pdf" } } }] }] });
    assert.equal(typedErr.code, Code.InvalidArgument);
    assert.match(typedErr.rawMessage, /^messages\[0\]\.content\[0\]: files are only allowed in user messages/);
    const badText = await refused({ model: "gpt", messages: [{ role: 2, content: [{ part: { case: "file", value: { data: Buffer.from([0xff, 0xfe, 0x00]), mediaType: "text/plain" } } }] }] });
    assert.match(badText.rawMessage, /^messages\[0\]\.content\[0\]\.file\.data: is not UTF-8 text/);
    none();
  });

  test("Anthropic: URL sources, document context and citations", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ type: "document", source: { type: "url", url: "https://example.com/a.pdf" } }, /messages\.0\.content\.0\.source\.type: url sources are not supported/],
      [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF_B64 }, context: "from legal" }, /messages\.0\.content\.0\.context: document context is not supported/],
      [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: PDF_B64 }, citations: { enabled: true } }, /messages\.0\.content\.0\.citations: citations are not supported/],
      [{ type: "document", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }, /messages\.0\.content\.0\.source\.media_type: Input should be 'application\/pdf'/],
    ];
    for (const [block, message] of cases) {
      const err = await anthropic.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: [block as never] }] }).catch((e: unknown) => e);
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.message, message);
    }
    none();
  });
});
