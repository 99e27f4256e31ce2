// OCR end to end, over real sockets: the official Mistral SDK's ocr.process against the gateway's
// /v1/ocr, OcrService over Connect (readDocument), RouteOcr; the gateway against the fake Mistral
// OCR API (test/fakes/mistral.ts, checked against the same SDK in mistral.sdk.test.ts) and the mock,
// which reads a real PDF's text layer: what Mistral is sent, billing per page (the catalog's price,
// the pages the provider reports), fallbacks, budgets held on the pages expected, the cache, input
// errors that name the field and reach no provider, upstream errors mapped without the key, usage
// records and queries, deployment checks, and configurations refused at load.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Mistral } from "@mistralai/mistralai";
import { createSignalboxClient, fileBytes, Operation, PdfReader, readDocument, textPart, user, type SignalboxClient } from "@signalbox/client";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { MISTRAL_TEST_KEY, startFakeMistral, type FakeMistral } from "../fakes/mistral.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startGoogleFakes, type GoogleFakes } from "../helpers/google-fakes.ts";
import { makePdf } from "../helpers/pdf.ts";

const KEY = ["sbx", "test", "ocr", "a"].join("_");
const POOR = ["sbx", "test", "ocr", "poor"].join("_");
const ADMIN = ["sbx", "test", "ocr", "admin"].join("_");

const PDF = makePdf(["Invoice 42\nTotal: 12 EUR", "Terms\nPay within 30 days", "Signed"]);
const PERSONAL = makePdf(["Contact jane@example.com", "Project zephyr budget"]);
const PDF_URL = `data:application/pdf;base64,${PDF.toString("base64")}`;
// A 2x3 PNG (its header is what the mock reads for the page size).
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAIAAAADCAYAAAC56t6BAAAAEklEQVR42mP8z8DwnwEJMKJzAFsFBf8QkqjUAAAAAElFTkSuQmCC", "base64");

let mistral: FakeMistral;
let openai: FakeOpenAI;
let google: GoogleFakes;
let t: TestGateway;
let sdk: Mistral;
let typed: SignalboxClient;

before(async () => {
  [mistral, openai, google] = await Promise.all([startFakeMistral(), startFakeOpenAI(), startGoogleFakes("ocr-project")]);
  t = await startTestGateway(`
providers:
  - { name: mistral, type: openai-compatible, base_url: "${mistral.url}/v1", api_key: ${MISTRAL_TEST_KEY}, compat: { vendor: mistral } }
  - { name: openai, type: openai, base_url: "${openai.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: foundry, type: openai-compatible, base_url: "${mistral.origin}/providers/mistral/azure", api_key: ${MISTRAL_TEST_KEY}, compat: { vendor: mistral } }
  - { name: mock, type: mock }${google.providersYaml}
deployments:
  - { id: mistral/ocr, provider: mistral, model: mistral-ocr-latest }
  - { id: mistral/ocr-2505, provider: mistral, model: mistral-ocr-2505 }
  # Azure AI Foundry's Mistral Document AI: Mistral's API under /providers/mistral/azure on the resource.
  - { id: foundry/document-ai, provider: foundry, model: mistral-document-ai-2512, operations: [ocr], pricing: { input: 0, output: 0, per_page: 0.003, per_annotated_page: 0.004 } }
  - { id: mock/ocr, provider: mock, model: mock-ocr-1, operations: [ocr], pricing: { input: 0, output: 0, per_page: 0.001 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
  - { id: vertex/ocr, provider: vertex, model: mistral-ocr-2505 }
  # A model without vision: it cannot take a PDF as it is, only its text.
  - { id: openai/text, provider: openai, model: gpt-4.1-mini, capabilities: [tools, streaming] }
routes:
  - { name: ocr, targets: [mistral/ocr], fallbacks: [mock/ocr], retry: { max_retries: 0 } }
  - { name: mistral-only, targets: [mistral/ocr], retry: { max_retries: 0 } }
  - { name: mock-ocr, targets: [mock/ocr] }
  - { name: cached-ocr, targets: [mistral/ocr-2505], cache: { enabled: true, ttl_seconds: 60 } }
  - { name: text-only, targets: [openai/text] }
  - { name: default, targets: [mock/chat] }
guardrails:
  - { name: no-email, kind: pii, stage: output, action: redact, pii: { categories: [email] } }
  - { name: no-zephyr, kind: deny, stage: output, action: block, deny: { phrases: [project zephyr] } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: poor, hash: "${hashKey(POOR)}", team: b, role: team, budget: { period: day, limit_usd: 0.005 } }
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
`);
  sdk = new Mistral({ apiKey: KEY, serverURL: t.url, retryConfig: { strategy: "none" } });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
beforeEach(() => {
  mistral.reset();
  openai.reset();
  google.vertex.reset();
});
after(async () => {
  await t.close();
  await Promise.all([mistral.close(), openai.close(), google.close()]);
});

const lastRecord = (): UsageRecord => t.usage.recent().at(-1)!;
const sentParts = () => openai.requests.find((r) => r.path === "/v1/chat/completions")!.body.messages[0].content;
const post = (body: unknown, key = KEY) => fetch(`${t.url}/v1/ocr`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });

describe("POST /v1/ocr with the Mistral SDK", () => {
  test("a PDF is read by Mistral through the gateway, billed per page at the catalog's price", async () => {
    const res = await sdk.ocr.process({ model: "ocr", document: { type: "document_url", documentUrl: PDF_URL, documentName: "invoice.pdf" }, pages: [0, 2], extractHeader: true, tableFormat: "html" });
    assert.deepEqual(
      res.pages.map((p) => [p.index, p.markdown, p.header]),
      [
        [0, "# Page 1\n\nInvoice 42\nTotal: 12 EUR", "Header 1"],
        [2, "# Page 3\n\nSigned", "Header 3"],
      ],
    );
    assert.deepEqual(res.pages[0].dimensions, { dpi: 200, width: 1700, height: 2200 });
    assert.equal(res.model, "mistral-ocr-latest");
    assert.equal(res.usageInfo.pagesProcessed, 2);
    assert.equal(res.usageInfo.docSizeBytes, PDF.length);
    // What Mistral was sent: its own wire, the deployment's model, the caller's key never.
    assert.equal(mistral.requests.length, 1);
    const sent = mistral.requests[0];
    assert.equal(sent.path, "/v1/ocr");
    assert.equal(sent.headers.authorization, `Bearer ${MISTRAL_TEST_KEY}`);
    assert.deepEqual(sent.body, { model: "mistral-ocr-latest", document: { type: "document_url", document_url: PDF_URL, document_name: "invoice.pdf" }, pages: [0, 2], table_format: "html", extract_header: true });
    const r = lastRecord();
    assert.equal(r.operation, "ocr");
    assert.equal(r.deployment, "mistral/ocr");
    assert.equal(r.usage.pages, 2);
    // mistral-ocr-latest: $2 per 1,000 pages.
    assert.equal(r.cost.total, 4_000_000);
    assert.equal(r.cost.request, 4_000_000);
  });

  test("an image goes as image_url, its data back with include_image_base64", async () => {
    const imageUrl = `data:image/png;base64,${PNG.toString("base64")}`;
    const res = await sdk.ocr.process({ model: "mistral-only", document: { type: "image_url", imageUrl }, includeImageBase64: true });
    assert.equal(res.pages.length, 1);
    assert.equal(res.pages[0].images[0].imageBase64, imageUrl);
    assert.deepEqual(mistral.requests[0].body.document, { type: "image_url", image_url: imageUrl });
    assert.equal(mistral.requests[0].body.include_image_base64, true);
    assert.equal(lastRecord().usage.pages, 1);
  });

  test("a document URL is passed on for the provider to fetch; the gateway fetches nothing", async () => {
    const res = await sdk.ocr.process({ model: "mistral-only", document: { type: "document_url", documentUrl: "https://docs.example.com/report.pdf" } });
    assert.equal(res.pages[0].markdown, "# Page 1\n\nDocument at https://docs.example.com/report.pdf");
    assert.equal(mistral.requests[0].body.document.document_url, "https://docs.example.com/report.pdf");
  });

  test("the mock reads the PDF's text layer when Mistral fails (503), and the fallback is recorded", async () => {
    mistral.script({ kind: "error", status: 503 });
    const res = await post({ document: { type: "document_url", document_url: PDF_URL } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "mock/ocr");
    const body = await res.json();
    assert.deepEqual(
      body.pages.map((p: { markdown: string }) => p.markdown),
      ["Invoice 42\nTotal: 12 EUR", "Terms\nPay within 30 days", "Signed"],
    );
    assert.equal(body.usage_info.pages_processed, 3);
    assert.equal(body.signalbox.attempts, 2);
    assert.equal(body.signalbox.pages, 3);
    // Only the mock's pages are billed ($1 per 1,000): the failed attempt read none.
    assert.equal(body.signalbox.cost_nano_usd, 3_000_000);
    const r = lastRecord();
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["mistral/ocr", "failed"],
        ["mock/ocr", "succeeded"],
      ],
    );
  });

  test("Mistral's errors map to the caller's codes, without its key", async () => {
    mistral.script({ kind: "error", status: 401 });
    const unauth = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL } });
    const u = await unauth.text();
    // The gateway's own key was refused: the caller's request was fine (502, upstream_auth).
    assert.equal(unauth.status, 502);
    assert.equal(JSON.parse(u).error.code, "upstream_auth");
    assert.ok(!u.includes(MISTRAL_TEST_KEY) && !u.includes(KEY), u);
    mistral.script({ kind: "error", status: 429, retryAfter: 7 });
    const limited = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL } });
    assert.equal(limited.status, 429);
    mistral.script({ kind: "error", status: 422 });
    const invalid = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL } });
    assert.equal(invalid.status, 400);
    // Every failure is recorded, none billed.
    assert.equal(lastRecord().cost.total, 0);
    assert.equal(lastRecord().operation, "ocr");
  });

  test("a document read once is cached where the route says so: the second read costs nothing and sends nothing", async () => {
    const first = await post({ model: "cached-ocr", document: { type: "document_url", document_url: PDF_URL } });
    assert.equal(first.headers.get("x-signalbox-cache"), "miss");
    // mistral-ocr-2505: $1 per 1,000 pages.
    assert.equal((await first.json()).signalbox.cost_nano_usd, 3_000_000);
    const second = await post({ model: "cached-ocr", document: { type: "document_url", document_url: PDF_URL } });
    assert.equal(second.headers.get("x-signalbox-cache"), "hit");
    const b = await second.json();
    assert.equal(b.signalbox.cost_nano_usd, 0);
    assert.equal(b.pages.length, 3);
    assert.equal(mistral.requests.length, 1);
    // Other options are another entry.
    const third = await post({ model: "cached-ocr", document: { type: "document_url", document_url: PDF_URL }, pages: [1] });
    assert.equal(third.headers.get("x-signalbox-cache"), "miss");
    assert.equal(mistral.requests.length, 2);
  });
});

describe("annotations: structured extraction, checked against its schema", () => {
  const INVOICE = { type: "object", properties: { number: { type: "string" }, total: { type: "number" } }, required: ["number", "total"], additionalProperties: false };
  const ask = (model: string) =>
    sdk.ocr.process({ model, document: { type: "document_url", documentUrl: PDF_URL }, documentAnnotationFormat: { type: "json_schema", jsonSchema: { name: "invoice", schemaDefinition: INVOICE } }, documentAnnotationPrompt: "The invoice's number and total" });

  test("Mistral's annotation of the schema comes back, and what was asked for went as Mistral takes it", async () => {
    mistral.script({ kind: "ocr", documentAnnotation: JSON.stringify({ number: "42", total: 12 }) });
    const res = await ask("mistral-only");
    assert.deepEqual(JSON.parse(res.documentAnnotation!), { number: "42", total: 12 });
    const sent = mistral.requests[0].body;
    assert.deepEqual(sent.document_annotation_format, { type: "json_schema", json_schema: { name: "invoice", schema: INVOICE } });
    assert.equal(sent.document_annotation_prompt, "The invoice's number and total");
    // Three pages read ($0.002 each), and every one annotated on top ($0.003 each: Mistral said nothing of how many).
    assert.equal(lastRecord().cost.total, 3 * 2_000_000 + 3 * 3_000_000);
  });

  test("annotated pages are billed at the annotation price on top of the page price: as many as Mistral says it annotated; usage_info says so too", async () => {
    mistral.script({ kind: "ocr", documentAnnotation: JSON.stringify({ number: "42", total: 12 }), annotatedPages: 2 });
    const res = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL }, document_annotation_format: { type: "json_schema", json_schema: { name: "invoice", schema: INVOICE } } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.usage_info, { pages_processed: 3, pages_processed_annotation: 2, doc_size_bytes: PDF.length });
    assert.equal(body.signalbox.cost_nano_usd, 3 * 2_000_000 + 2 * 3_000_000);
    assert.equal(lastRecord().cost.total, 12_000_000);
    assert.equal(lastRecord().cost.request, 12_000_000);
    // Without an annotation asked for, none is billed, whatever the provider says.
    mistral.script({ kind: "ocr", annotatedPages: 3 });
    const plain = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL } });
    const p = await plain.json();
    assert.equal(p.usage_info.pages_processed_annotation, undefined);
    assert.equal(p.signalbox.cost_nano_usd, 6_000_000);
    // Admission holds the annotation price too: a $0.005 budget takes two pages read ($0.004) but not two annotated ($0.010).
    const sent = mistral.requests.length;
    const poor = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL }, pages: [0, 1], document_annotation_format: { type: "json_schema", json_schema: { name: "invoice", schema: INVOICE } } }, POOR);
    assert.equal(poor.status, 429);
    assert.match((await poor.json()).error.message, /budget/);
    assert.equal(mistral.requests.length, sent, "nothing sent");
  });

  test("an annotation that does not match the schema fails the attempt, billed, and the plan goes on (the mock fills the schema's shape)", async () => {
    mistral.script({ kind: "ocr", documentAnnotation: JSON.stringify({ number: 42 }) });
    const res = await ask("ocr");
    assert.deepEqual(JSON.parse(res.documentAnnotation!), { number: "Invoice 42", total: 0 });
    const r = lastRecord();
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["mistral/ocr", "failed"],
        ["mock/ocr", "succeeded"],
      ],
    );
    assert.match(r.attempts[0].errorMessage ?? "", /does not match schema "invoice"/);
    // Mistral's three pages are billed, each read and annotated ($0.002 + $0.003), then the mock's ($0.001 each: no annotation price).
    assert.equal(r.cost.total, 18_000_000);
  });
});

describe("Azure AI Foundry's Mistral Document AI", () => {
  test("an openai-compatible provider at the resource's /providers/mistral/azure reads the document there, billed at its own page prices", async () => {
    mistral.script({ kind: "ocr", documentAnnotation: JSON.stringify({ total: 12 }) });
    const res = await post({ model: "foundry/document-ai", document: { type: "document_url", document_url: PDF_URL }, pages: [0, 1], document_annotation_format: { type: "json_schema", json_schema: { name: "t", schema: { type: "object", properties: { total: { type: "number" } }, required: ["total"] } } } });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(mistral.requests[0].path, "/providers/mistral/azure/ocr");
    assert.equal(mistral.requests[0].body.model, "mistral-document-ai-2512");
    // Two pages read ($0.003 each) and annotated ($0.004 each).
    assert.equal((await res.json()).signalbox.cost_nano_usd, 2 * 3_000_000 + 2 * 4_000_000);
  });
});

describe("Mistral's file documents: uploaded to the Files API, read by id", () => {
  test("the Mistral SDK uploads a PDF (purpose ocr) and reads it by its id; another team's key cannot; a batch file is refused by name", async () => {
    const up = await sdk.files.upload({ file: { fileName: "invoice.pdf", content: PDF }, purpose: "ocr" });
    assert.equal(up.purpose, "ocr");
    assert.equal(up.sampleType, "ocr_input");
    assert.equal(up.sizeBytes, PDF.length);
    const res = await sdk.ocr.process({ model: "mistral-only", document: { type: "file", fileId: up.id }, pages: [0] });
    assert.deepEqual(res.pages.map((p) => p.markdown), ["# Page 1\n\nInvoice 42\nTotal: 12 EUR"]);
    // The bytes went to Mistral (a file id of the gateway means nothing there), named as uploaded.
    const sent = mistral.requests[0].body.document;
    assert.equal(sent.type, "document_url");
    assert.match(sent.document_url, /^data:application\/pdf;base64,/);
    assert.equal(sent.document_name, "invoice.pdf");
    // An image uploaded with a media type OCR reads too; its type comes from the upload.
    const img = await sdk.files.upload({ file: new File([PNG], "scan.png", { type: "image/png" }), purpose: "ocr" });
    const read = await post({ model: "mock-ocr", document: { type: "file", file_id: img.id } });
    assert.equal(read.status, 200, await read.clone().text());
    assert.equal((await read.json()).pages.length, 1);

    const other = await post({ model: "mistral-only", document: { type: "file", file_id: up.id } }, POOR);
    assert.equal(other.status, 404);
    assert.equal((await other.json()).error.param, "document.file_id");
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob(['{"custom_id":"a","method":"POST","url":"/v1/ocr","body":{}}\n']), "lines.jsonl");
    const batchFile = await (await fetch(`${t.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form })).json();
    const refused = await post({ model: "mistral-only", document: { type: "file", file_id: batchFile.id } });
    assert.equal(refused.status, 400);
    assert.match((await refused.json()).error.message, /is a file of purpose "batch": upload the document with purpose "ocr"/);
    const unknown = await post({ model: "mistral-only", document: { type: "file", file_id: "file-nope" } });
    assert.equal(unknown.status, 404);
    assert.equal(mistral.requests.length, 1, "only the first read reached Mistral");
  });
});

describe("bad input names the field and reaches no provider", () => {
  const cases: [string, unknown, string][] = [
    ["no document", { model: "ocr" }, "document"],
    ["not a PDF", { document: { type: "document_url", document_url: `data:application/pdf;base64,${Buffer.from("hello").toString("base64")}` } }, "document.document_url"],
    ["an unknown media type", { document: { type: "document_url", document_url: "data:text/plain;base64,aGVsbG8=" } }, "document.document_url"],
    ["a file document without its id", { document: { type: "file" } }, "document.file_id"],
    ["a page twice", { document: { type: "document_url", document_url: PDF_URL }, pages: [1, 1] }, "pages[1]"],
    ["a negative page", { document: { type: "document_url", document_url: PDF_URL }, pages: [-1] }, "pages[0]"],
    ["a table format", { document: { type: "document_url", document_url: PDF_URL }, table_format: "latex" }, "table_format"],
    ["an annotation that is no JSON Schema", { document: { type: "document_url", document_url: PDF_URL }, document_annotation_format: { type: "text" } }, "document_annotation_format"],
    ["an annotation schema that does not compile", { document: { type: "document_url", document_url: PDF_URL }, document_annotation_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "wat" } } } }, "document_annotation_format"],
    ["an annotation prompt alone", { document: { type: "document_url", document_url: PDF_URL }, document_annotation_prompt: "the total" }, "document_annotation_prompt"],
    ["confidence scores", { document: { type: "document_url", document_url: PDF_URL }, confidence_scores_granularity: "page" }, "confidence_scores_granularity"],
    ["an unknown field", { document: { type: "document_url", document_url: PDF_URL }, confidence: 1 }, "confidence"],
    ["a URL that is not http", { document: { type: "document_url", document_url: "ftp://example.com/a.pdf" } }, "document.document_url"],
  ];
  for (const [name, body, param] of cases) {
    test(name, async () => {
      const res = await post(body);
      assert.equal(res.status, 400);
      const e = (await res.json()).error;
      assert.equal(e.param, param, e.message);
      assert.equal(mistral.requests.length, 0);
    });
  }

  test("a budget holds the pages expected before anything is sent", async () => {
    // Three pages at $0.002 is $0.006: over the key's $0.005 a day.
    const res = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL } }, POOR);
    assert.equal(res.status, 429);
    assert.match((await res.json()).error.message, /budget/i);
    assert.equal(mistral.requests.length, 0);
    // Two of the pages fit.
    const two = await post({ model: "mistral-only", document: { type: "document_url", document_url: PDF_URL }, pages: [0, 1] }, POOR);
    assert.equal(two.status, 200);
  });
});

describe("output guardrails read what was read", () => {
  const personal = (guardrails: string[], pages?: number[]) => post({ model: "mock-ocr", document: { type: "document_url", document_url: `data:application/pdf;base64,${PERSONAL.toString("base64")}` }, ...(pages ? { pages } : {}), signalbox: { guardrails } });

  test("a redaction changes the page's text that leaves, and says so", async () => {
    const res = await personal(["no-email"], [0]);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.ok(!body.pages[0].markdown.includes("jane@example.com"), body.pages[0].markdown);
    assert.match(body.pages[0].markdown, /^Contact /);
    assert.ok(body.signalbox.adjustments?.some((a: { field: string }) => /guardrail/.test(JSON.stringify(a))), JSON.stringify(body.signalbox));
  });

  test("annotations are read too: an email in the document's annotation is redacted inside its JSON", async () => {
    const schema = { type: "object", properties: { contact: { type: "string" } }, required: ["contact"], additionalProperties: false };
    const ask = (guardrails: string[]) =>
      post({
        model: "mock-ocr",
        document: { type: "document_url", document_url: `data:application/pdf;base64,${PERSONAL.toString("base64")}` },
        pages: [0],
        document_annotation_format: { type: "json_schema", json_schema: { name: "contact", schema } },
        signalbox: { guardrails },
      });
    const plain = await (await ask([])).json();
    assert.match(JSON.parse(plain.document_annotation).contact, /jane@example\.com/, "the mock fills the schema from the first line");
    const res = await ask(["no-email"]);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.ok(!body.document_annotation.includes("jane@example.com"), body.document_annotation);
    assert.match(JSON.parse(body.document_annotation).contact, /^Contact /, "still JSON of its schema's shape");
  });

  test("a block answers with an error instead, the pages billed", async () => {
    const res = await personal(["no-zephyr"]);
    assert.equal(res.status, 400, await res.clone().text());
    assert.match((await res.json()).error.message, /no-zephyr/);
    const r = lastRecord();
    assert.equal(r.operation, "ocr");
    assert.equal(r.usage.pages, 2);
    assert.equal(r.cost.total, 2_000_000);
  });
});

describe("OcrService over Connect", () => {
  test("readDocument: the pages' Markdown, usage and cost", async () => {
    const { markdown, response } = await readDocument(typed, PDF, "application/pdf", { model: "mock-ocr", documentName: "invoice.pdf" });
    assert.equal(markdown, "Invoice 42\nTotal: 12 EUR\n\nTerms\nPay within 30 days\n\nSigned");
    assert.equal(response.deployment, "mock/ocr");
    assert.equal(response.usage?.pages, 3n);
    assert.equal(response.cost?.totalNanoUsd, 3_000_000n);
    assert.equal(response.documentSizeBytes, BigInt(PDF.length));
    assert.deepEqual([response.pages[1].index, response.pages[1].width, response.pages[1].height, response.pages[1].dpi], [1, 1700, 2200, 200]);
    assert.equal(mistral.requests.length, 0);
  });

  test("annotations over Connect: the document's JSON and each image's, in their schemas' shapes", async () => {
    const { response } = await readDocument(typed, PNG, "image/png", {
      model: "mock-ocr",
      documentAnnotationSchema: { type: "object", properties: { kind: { enum: ["photo", "scan"] } } },
      bboxAnnotationSchema: { type: "object", properties: { caption: { type: "string" } } },
    });
    assert.deepEqual(JSON.parse(response.documentAnnotation), { kind: "photo" });
    assert.deepEqual(JSON.parse(response.pages[0].images[0].imageAnnotation), { caption: "img-0.png" });
    await assert.rejects(readDocument(typed, PDF, "application/pdf", { model: "mock-ocr", documentAnnotationPrompt: "the total" }), /document_annotation_prompt: needs document_annotation_schema/);
  });

  test("an image is one page, its size read from it", async () => {
    const { response } = await readDocument(typed, PNG, "image/png", { model: "mock-ocr", includeImageBase64: true });
    const p = response.pages[0];
    assert.equal(p.markdown, "![img-0.png](img-0.png)");
    assert.deepEqual([p.width, p.height, p.images[0].bottomRightX, p.images[0].bottomRightY], [2, 3, 2, 3]);
    assert.match(p.images[0].imageBase64, /^data:image\/png;base64,/);
  });

  test("bytes and a URL together, a media type the bytes contradict, a page past the end", async () => {
    await assert.rejects(typed.ocr.ocr({ model: "mock-ocr", document: PDF, mediaType: "application/pdf", documentUrl: "https://example.com/a.pdf" }), /document_url/);
    await assert.rejects(typed.ocr.ocr({ model: "mock-ocr", document: PNG, mediaType: "image/jpeg" }), /media_type: says image\/jpeg, but the bytes are image\/png/);
    await assert.rejects(typed.ocr.ocr({ model: "mock-ocr", document: PDF, mediaType: "application/pdf", pages: [5] }), /page 5 is past the document's 3 pages/);
    await assert.rejects(typed.ocr.ocr({ model: "mock-ocr", documentUrl: "https://example.com/a.pdf" }), /fetches nothing/);
  });

  test("RouteOcr prices the PDF's pages before anything is read", async () => {
    const plan = await typed.route.routeOcr({ model: "ocr", document: PDF, mediaType: "application/pdf" });
    assert.deepEqual(
      plan.candidates.map((c) => [c.deployment, c.expectedCostNanoUsd]),
      [
        ["mistral/ocr", BigInt(6_000_000)],
        ["mock/ocr", BigInt(3_000_000)],
      ],
    );
    assert.equal(mistral.requests.length, 0);
  });

  test("the request's record: operation OCR, its pages, by id", async () => {
    const { response } = await readDocument(typed, PDF, "application/pdf", { model: "mock-ocr" });
    await t.gw.core.usage.flush();
    const got = await typed.usage.getRequest({ id: response.id });
    assert.equal(got.record?.operation, Operation.OCR);
    assert.equal(got.record?.usage?.pages, 3n);
  });

  test("CheckDeployments reads one page: a 1x1 image", async () => {
    const admin = createSignalboxClient({ baseUrl: t.url, apiKey: ADMIN });
    const r = await admin.admin.checkDeployments({ deployments: ["mistral/ocr", "mock/ocr"] });
    assert.deepEqual(
      r.checks.map((c) => [c.deployment, c.operation, c.healthy]),
      [
        ["mistral/ocr", "ocr", true],
        ["mock/ocr", "ocr", true],
      ],
    );
    assert.equal(mistral.requests[0].body.document.type, "image_url");
  });
});

describe("configuration", () => {
  const load = (deployments: string) =>
    buildConfig(
      parse(`
providers:
  - { name: anthropic, type: anthropic, api_key: x }
  - { name: mistral, type: openai-compatible, base_url: "https://api.mistral.ai/v1", api_key: x, compat: { vendor: mistral } }
deployments:
${deployments}
`),
    );
  test("OCR needs a provider with an OCR API", () => {
    assert.throws(() => load("  - { id: a/ocr, provider: anthropic, model: claude-x, operations: [ocr], pricing: { input: 1, output: 1 } }"), /deployments\[0\]\.operations: .*no OCR API/);
  });
  test("Mistral's OCR models are priced per page from the catalog; per_page prices another", () => {
    const c = load(`  - { id: m/ocr, provider: mistral, model: mistral-ocr-2512 }
  - { id: m/other, provider: mistral, model: ocr-next, operations: [ocr], pricing: { per_page: 0.004 } }`);
    const [a, b] = c.deployments;
    assert.deepEqual(a.operations, ["ocr"]);
    assert.equal(a.pricing.perPageNanos, 2_000_000);
    assert.equal(b.pricing.perPageNanos, 4_000_000);
  });
});

describe("OpenRouter's file-parser plugin on /v1/chat/completions", () => {
  const ask = (engine: string | undefined, stream = false) =>
    fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      body: JSON.stringify({
        model: "openai/text",
        stream,
        messages: [{ role: "user", content: [{ type: "text", text: "What is the total?" }, { type: "file", file: { filename: "invoice.pdf", file_data: PDF_URL } }] }],
        ...(engine ? { plugins: [{ id: "file-parser", pdf: { engine } }] } : {}),
      }),
    });

  test("natively, a model without vision is no candidate for a PDF", async () => {
    const res = await ask(undefined);
    assert.equal(res.status, 400, await res.text());
    assert.equal(openai.requests.length, 0);
  });

  test("pdf-text: the PDF's text layer is sent instead, free, and any model takes it", async () => {
    const res = await ask("pdf-text");
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(sentParts(), [
      { type: "text", text: "What is the total?" },
      { type: "text", text: "invoice.pdf:\nInvoice 42\nTotal: 12 EUR\nTerms\nPay within 30 days\nSigned" },
    ]);
    assert.equal(mistral.requests.length, 0);
  });

  test("mistral-ocr: the PDF goes through the OCR route, its pages' Markdown to the model; the read is the caller's own OCR request in the same trace", async () => {
    const res = await ask("mistral-ocr", true);
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(mistral.requests.length, 1);
    assert.equal(mistral.requests[0].body.document.document_name, "invoice.pdf");
    const parts = sentParts();
    assert.equal(parts[1].type, "text");
    assert.equal(parts[1].text, "invoice.pdf:\n# Page 1\n\nInvoice 42\nTotal: 12 EUR\n\n# Page 2\n\nTerms\nPay within 30 days\n\n# Page 3\n\nSigned");
    const records = t.usage.recent().filter((r) => r.traceId === "0af7651916cd43dd8448eb211c80319c");
    const ocr = records.find((r) => r.operation === "ocr")!;
    assert.ok(ocr, "an OCR record in the chat's trace");
    assert.deepEqual([ocr.deployment, ocr.usage.pages, ocr.cost.total, ocr.tags.includes("file-parser"), ocr.key], ["mistral/ocr", 3, 6_000_000, true, "a"]);
    assert.ok(records.some((r) => (r.operation ?? "chat") === "chat" && r.deployment === "openai/text"));
  });

  test("pdf-text on a PDF without a text layer names the part", async () => {
    const scan = makePdf([""]);
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/text", messages: [{ role: "user", content: [{ type: "file", file: { filename: "scan.pdf", file_data: `data:application/pdf;base64,${scan.toString("base64")}` } }] }], plugins: [{ id: "file-parser", pdf: { engine: "pdf-text" } }] }),
    });
    assert.equal(res.status, 400);
    const e = (await res.json()).error;
    assert.equal(e.param, "messages[0].content[0]");
    assert.match(e.message, /no text layer/);
    assert.equal(openai.requests.length, 0);
  });

  test("the Responses API takes the plugin too: an input_file PDF as its text layer", async () => {
    const res = await fetch(`${t.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "openai/text",
        input: [{ role: "user", content: [{ type: "input_text", text: "What is the total?" }, { type: "input_file", filename: "invoice.pdf", file_data: PDF_URL }] }],
        plugins: [{ id: "file-parser", pdf: { engine: "pdf-text" } }],
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(sentParts()[1].text, "invoice.pdf:\nInvoice 42\nTotal: 12 EUR\nTerms\nPay within 30 days\nSigned");
  });

  test("an unknown engine is refused by name", async () => {
    const res = await ask("tesseract");
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.param, "plugins[0].pdf.engine");
  });
});

describe("signalbox.pdf_reader on every chat door", () => {
  const TEXT_LAYER = "invoice.pdf:\nInvoice 42\nTotal: 12 EUR\nTerms\nPay within 30 days\nSigned";

  test("Anthropic's Messages API: a document block's PDF as its text layer, to a model without vision", async () => {
    const claude = new Anthropic({ baseURL: t.url, apiKey: KEY, maxRetries: 0 });
    const params = {
      model: "openai/text",
      max_tokens: 100,
      messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "What is the total?" }, { type: "document" as const, title: "invoice.pdf", source: { type: "base64" as const, media_type: "application/pdf" as const, data: PDF.toString("base64") } }] }],
      signalbox: { pdf_reader: "pdf-text" },
    };
    const res = await claude.messages.create(params);
    assert.equal(res.type, "message");
    assert.equal(sentParts()[1].type, "text");
    assert.match(sentParts()[1].text, /Invoice 42\nTotal: 12 EUR/);
    // Natively, the same request has no candidate: the model cannot read a PDF.
    const { signalbox: _, ...native } = params;
    await assert.rejects(claude.messages.create(native), (e: { status: number }) => e.status === 400);
  });

  test("Gemini's generateContent: an inlineData PDF read through the OCR route", async () => {
    const res = await fetch(`${t.url}/v1beta/models/text-only:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "What is the total?" }, { inlineData: { mimeType: "application/pdf", data: PDF.toString("base64") } }] }], signalbox: { pdf_reader: "mistral-ocr" } }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(mistral.requests.length, 1);
    assert.match(sentParts()[1].text, /# Page 1\n\nInvoice 42/);
  });

  test("Chat Completions takes it too; with a file-parser plugin that says otherwise, a 400 naming it; an unknown reader is refused by name", async () => {
    const chat = (extra: object) =>
      fetch(`${t.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "openai/text", messages: [{ role: "user", content: [{ type: "text", text: "What is the total?" }, { type: "file", file: { filename: "invoice.pdf", file_data: PDF_URL } }] }], ...extra }),
      });
    const ok = await chat({ signalbox: { pdf_reader: "pdf-text" } });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(sentParts()[1].text, TEXT_LAYER);
    const both = await chat({ signalbox: { pdf_reader: "mistral-ocr" }, plugins: [{ id: "file-parser", pdf: { engine: "pdf-text" } }] });
    assert.equal(both.status, 400);
    const e = (await both.json()).error;
    assert.equal(e.param, "signalbox.pdf_reader");
    assert.match(e.message, /says "mistral-ocr" where plugins\[0\]\.pdf\.engine says "pdf-text"/);
    const unknown = await chat({ signalbox: { pdf_reader: "tesseract" } });
    assert.equal(unknown.status, 400);
    assert.equal((await unknown.json()).error.param, "signalbox.pdf_reader");
    assert.equal(openai.requests.length, 1, "only the first reached a model");
  });
});

describe("ChatRequest.pdf_reader over Connect", () => {
  const ask = (pdfReader: PdfReader) => typed.chat.complete({ model: "openai/text", messages: [user([textPart("What is the total?"), fileBytes(PDF, "application/pdf", "invoice.pdf")])], pdfReader });

  test("TEXT: the text layer, to a model without vision", async () => {
    const res = await ask(PdfReader.TEXT);
    assert.equal(res.deployment, "openai/text");
    assert.equal(sentParts()[1].text, "invoice.pdf:\nInvoice 42\nTotal: 12 EUR\nTerms\nPay within 30 days\nSigned");
  });

  test("OCR: through the ocr route; NATIVE needs vision", async () => {
    await ask(PdfReader.OCR);
    assert.equal(mistral.requests.length, 1);
    assert.match(sentParts()[1].text, /^invoice\.pdf:\n# Page 1\n\nInvoice 42/);
    await assert.rejects(ask(PdfReader.NATIVE), /vision/);
  });
});

describe("Mistral OCR on Vertex AI", () => {
  test("the document goes to the Model Garden's rawPredict with a Google token, billed per page", async () => {
    const res = await post({ model: "vertex/ocr", document: { type: "document_url", document_url: PDF_URL }, pages: [1] });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    assert.deepEqual(body.pages.map((p: { markdown: string }) => p.markdown), ["# Page 2\n\nTerms\nPay within 30 days"]);
    const sent = google.vertex.requests.find((r) => r.path.includes(":rawPredict"))!;
    assert.equal(sent.path, "/v1/projects/ocr-project/locations/us-central1/publishers/mistralai/models/mistral-ocr-2505:rawPredict");
    assert.match(String(sent.headers.authorization), /^Bearer ya29\./);
    assert.deepEqual(sent.body, { model: "mistral-ocr-2505", document: { type: "document_url", document_url: PDF_URL }, pages: [1] });
    // mistral-ocr-2505: $1 per 1,000 pages.
    assert.equal(body.signalbox.cost_nano_usd, 1_000_000);
  });

  test("a URL is refused before anything is sent: Vertex's Mistral models fetch nothing", async () => {
    const res = await post({ model: "vertex/ocr", document: { type: "document_url", document_url: "https://docs.example.com/a.pdf" } });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /bytes, not a URL/);
    assert.equal(google.vertex.requests.filter((r) => r.path.includes(":rawPredict")).length, 0);
  });
});
