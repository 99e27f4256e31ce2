// `signalbox ocr` as users run it: the built bundle in a child process (Node 24, and the system's
// Node 20), against a real gateway started in process on the embedded default config
// (config/default.yaml: the `ocr` route on mock/ocr, which reads a PDF's text layer page by page
// and gives an image one page holding it, at $0.002 a page, with the route's cache on for an hour).
// Each test reads PDFs of its own (their text differs), so which run is a cache hit is known. The
// mock answers an annotation schema (--annotate, --annotate-images) in its shape, filled from the
// document's first line (strings), or the image's id. Also the flag parsing, the schema files and
// the page rendering on their own (no gateway).

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createSignalboxClient, Operation, type SignalboxClient } from "@signalbox/client";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { makePdf } from "../helpers/pdf.ts";
import { buildCliIfStale, exited, recordsOfUser, runCli, SYSTEM_NODE, type CliRun } from "../helpers/cli.ts";
import { annotationNameOf, markdownOf, pageMarkdown, parseAnnotationName, parseMediaType, parsePages, parseSchema, prettyAnnotation, safeName, sniffDocument } from "../../clients/cli/src/commands/ocr.ts";

let g: TestGateway;
let sb: SignalboxClient;
let tmp: string;

/** Run the built CLI against the gateway (no key: the default config has none), in the temp dir. */
function cli(args: string[], opts: { env?: Record<string, string>; node?: string; stdin?: string | Uint8Array } = {}): Promise<CliRun> {
  return runCli(g?.url ?? "http://127.0.0.1:9", args, { ...opts, cwd: tmp });
}

/** A two-page PDF in the temp dir whose text names `tag` (so no other test has read it: no cache hit). */
function twoPages(tag: string, name = `${tag}.pdf`): { file: string; bytes: Buffer } {
  const bytes = makePdf([`First page of ${tag}\nsecond line`, `Second page of ${tag}`]);
  writeFileSync(join(tmp, name), bytes);
  return { file: name, bytes };
}

/** The Markdown printed for twoPages(tag): each page after its marker, a blank line between. */
const printed = (tag: string) => `<!-- page 1 -->\nFirst page of ${tag}\nsecond line\n\n<!-- page 2 -->\nSecond page of ${tag}\n`;

/** A PNG's signature and header (1×1): all the mock reads of an image. */
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");

/** A JSON Schema of an invoice: one property of each kind the mock fills. */
const INVOICE_SCHEMA = {
  type: "object",
  properties: {
    vendor: { type: "string" },
    total: { type: "number", minimum: 1 },
    count: { type: "integer" },
    currency: { enum: ["EUR", "USD"] },
    paid: { type: "boolean" },
    lines: { type: "array", items: { type: "string" } },
    address: { type: "object", properties: { city: { type: "string" } } },
  },
  required: ["vendor", "total", "currency"],
};

/** What the mock answers INVOICE_SCHEMA with for a document whose first line is `first`. */
const invoiceOf = (first: string) => ({ vendor: first, total: 1, count: 0, currency: "EUR", paid: false, lines: [], address: { city: first } });

/** Write a schema file (a JSON value as it is, or text) into the temp dir; its name. */
function schemaFile(name: string, v: unknown): string {
  writeFileSync(join(tmp, name), typeof v === "string" ? v : JSON.stringify(v));
  return name;
}

/** The summary on stderr: who read it (and whether the cache did), the pages, the cost. */
const summary = (pages: number, cost: string, cached = false) =>
  new RegExp(`^— mock/ocr \\(route ocr\\)${cached ? ", from the cache" : ""} · ${pages} pages? · \\$${cost.replace(".", "\\.")} · \\d+ ms · request req_\\S+ · trace [0-9a-f]{32}\\n$`);

describe("ocr flags and rendering (no gateway)", () => {
  test("--pages: numbers from 1 and ranges, as indices from 0, sorted, each once; anything else refused", () => {
    assert.deepEqual(parsePages("1"), [0]);
    assert.deepEqual(parsePages("1,3-5"), [0, 2, 3, 4]);
    assert.deepEqual(parsePages(" 3-5 , 1,4 "), [0, 2, 3, 4]);
    assert.deepEqual(parsePages("2 - 3"), [1, 2]);
    assert.deepEqual(parsePages("7-7"), [6]);
    assert.equal(parsePages("1-1000").length, 1000);
    const cases: [string, RegExp][] = [
      ["0", /pages count from 1/],
      ["0-2", /pages count from 1/],
      ["", /use page numbers from 1 and ranges/],
      ["a", /"a" is not a page number or a range/],
      ["1,,2", /"" is not a page number/],
      ["1-", /"1-" is not a page number/],
      ["-2", /"-2" is not a page number/],
      ["1.5", /"1.5" is not a page number/],
      ["5-3", /the range 5-3 runs backwards \(write 3-5\)/],
      ["1-1001", /at most 1,000 pages/],
      ["1-600,601-1200", /at most 1,000 pages/],
      ["100001", /page numbers go up to 100,000/],
    ];
    for (const [bad, why] of cases) assert.throws(() => parsePages(bad), (e: Error) => e.message.startsWith(`"${bad}" is not a page list: `) && why.test(e.message), bad);
  });

  test("--media-type: a media type OCR reads, or an extension standing for one", () => {
    assert.equal(parseMediaType("application/pdf"), "application/pdf");
    assert.equal(parseMediaType("pdf"), "application/pdf");
    assert.equal(parseMediaType(".JPG"), "image/jpeg");
    assert.equal(parseMediaType("jpeg"), "image/jpeg");
    assert.equal(parseMediaType(" Image/PNG "), "image/png");
    assert.equal(parseMediaType("docx"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    assert.equal(parseMediaType("pptx"), "application/vnd.openxmlformats-officedocument.presentationml.presentation");
    for (const bad of ["text/plain", "bmp", "", "image/tiff"]) assert.throws(() => parseMediaType(bad), /is not a media type OCR reads/, bad);
  });

  test("a document's type from its first bytes: PDF, PNG, JPEG, GIF, WebP; else none", () => {
    assert.equal(sniffDocument(makePdf(["x"])), "application/pdf");
    assert.equal(sniffDocument(PNG), "image/png");
    assert.equal(sniffDocument(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10])), "image/jpeg");
    assert.equal(sniffDocument(Buffer.from("GIF89a\x01\x00", "latin1")), "image/gif");
    assert.equal(sniffDocument(Buffer.from("RIFF\x00\x00\x00\x00WEBPVP8 ", "latin1")), "image/webp");
    assert.equal(sniffDocument(Buffer.from("RIFF\x00\x00\x00\x00WAVEfmt ", "latin1")), undefined);
    assert.equal(sniffDocument(Buffer.from("PK\x03\x04", "latin1")), undefined, "a DOCX is a ZIP: --media-type says which");
    assert.equal(sniffDocument(Buffer.from("hello")), undefined);
    assert.equal(sniffDocument(new Uint8Array()), undefined);
  });

  test("pages as printed: markers from 1, headers and footers as comments, HTML tables put back where linked", () => {
    const page = (index: number, markdown: string, extra: Partial<Parameters<typeof pageMarkdown>[0]> = {}) => ({ index, markdown, tables: [], header: "", footer: "", ...extra });
    assert.equal(markdownOf([page(0, "one\n"), page(4, "five")]), "<!-- page 1 -->\none\n\n<!-- page 5 -->\nfive\n");
    assert.equal(markdownOf([]), "");
    assert.equal(
      pageMarkdown(page(0, "Body", { header: " ACME --> Ltd ", footer: "p. 1" }), { inlineTables: true }),
      "<!-- header: ACME --&gt; Ltd -->\n\nBody\n\n<!-- footer: p. 1 -->",
      "a header cannot end its comment early",
    );
    const tables = [
      { id: "tbl-0.html", content: "<table><tr><td>a</td></tr></table>\n", format: "html" },
      { id: "tbl-1.html", content: "<table><tr><td>b</td></tr></table>", format: "html" },
    ] as Parameters<typeof pageMarkdown>[0]["tables"];
    assert.equal(
      pageMarkdown(page(0, "Before\n\n[tbl-0.html](tbl-0.html)\n\nAfter", { tables }), { inlineTables: true }),
      "Before\n\n<table><tr><td>a</td></tr></table>\n\nAfter\n\n<table><tr><td>b</td></tr></table>",
      "a linked table in place, an unlinked one after the text",
    );
    assert.equal(pageMarkdown(page(0, "[tbl-0.html](tbl-0.html)", { tables }), { inlineTables: false }), "[tbl-0.html](tbl-0.html)", "--out keeps the links (the tables are files)");
  });

  test("annotation schema files: a JSON object, else why not; the name from the file's base name; JSON printed pretty", () => {
    assert.deepEqual(parseSchema('{"type": "object"}'), { schema: { type: "object" } });
    assert.match((parseSchema("{type: object}") as { problem: string }).problem, /^not JSON \(/);
    assert.match((parseSchema("") as { problem: string }).problem, /^not JSON \(/);
    assert.deepEqual(parseSchema("[1]"), { problem: "not a JSON Schema object (the file holds an array)" });
    assert.deepEqual(parseSchema('"x"'), { problem: "not a JSON Schema object (the file holds a string)" });
    assert.deepEqual(parseSchema("null"), { problem: "not a JSON Schema object (the file holds null)" });
    assert.deepEqual(parseSchema("true"), { problem: "not a JSON Schema object (the file holds a boolean)" });

    assert.equal(annotationNameOf("schemas/invoice.json"), "invoice");
    assert.equal(annotationNameOf("invoice.schema.json"), "invoice_schema");
    assert.equal(annotationNameOf("my invoice (v2).json"), "my_invoice_v2");
    assert.equal(annotationNameOf("a".repeat(80) + ".json"), "a".repeat(64));
    assert.equal(annotationNameOf("été.json"), "t");
    assert.equal(annotationNameOf("日本.json"), undefined, "nothing left: the gateway's default name");

    assert.equal(parseAnnotationName("invoice_v2-b"), "invoice_v2-b");
    for (const bad of ["", "a b", "a.b", "x".repeat(65)]) assert.throws(() => parseAnnotationName(bad), /is not an annotation name/, bad);

    assert.equal(prettyAnnotation('{"a":1,"b":[]}'), '{\n  "a": 1,\n  "b": []\n}\n');
    assert.equal(prettyAnnotation(" not json "), "not json\n");
  });

  test("file names of image and table ids: no path, no leading dot", () => {
    assert.equal(safeName("img-0.jpeg", "x"), "img-0.jpeg");
    assert.equal(safeName("../../etc/passwd", "x"), "etc_passwd");
    assert.equal(safeName(".hidden", "x"), "hidden");
    assert.equal(safeName("", "page-1-img-0"), "page-1-img-0");
    assert.equal(safeName("..", "page-1-img-0"), "page-1-img-0");
  });
});

describe("signalbox ocr against a gateway on the default config", () => {
  before(async () => {
    buildCliIfStale();
    tmp = mkdtempSync(join(tmpdir(), "signalbox-cli-ocr-"));
    g = await startTestGateway(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
    sb = createSignalboxClient({ baseUrl: g.url });
  });

  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("a two-page PDF: both pages' Markdown on stdout, deployment, pages and cost on stderr; read again, from the cache at no cost", async () => {
    const { file } = twoPages("alpha");
    const r = exited(await cli(["ocr", file]), 0);
    assert.equal(r.stdout, printed("alpha"));
    assert.match(r.stderr, summary(2, "0.004"));

    const again = exited(await cli(["ocr", file]), 0);
    assert.equal(again.stdout, printed("alpha"), "the same pages");
    assert.match(again.stderr, summary(2, "0.00", true));
  });

  test("--pages: only those pages (counting from 1), billed alone", async () => {
    const { file } = twoPages("bravo");
    const r = exited(await cli(["ocr", file, "--pages", "2"]), 0);
    assert.equal(r.stdout, "<!-- page 2 -->\nSecond page of bravo\n");
    assert.match(r.stderr, summary(1, "0.002"));
    const both = exited(await cli(["ocr", file, "--pages", "2,1"]), 0);
    assert.equal(both.stdout, printed("bravo"));
    assert.match(both.stderr, summary(2, "0.004"), "other pages, another cache entry");
  });

  test("--json: the API's JSON form (pages, usage, cost, deployment, route, ids); nothing on stderr", async () => {
    const { file } = twoPages("charlie");
    const r = exited(await cli(["--json", "ocr", file]), 0);
    assert.equal(r.stderr, "", "nothing but the JSON");
    const j = JSON.parse(r.stdout) as {
      id: string;
      traceId: string;
      deployment: string;
      routing: { route: string };
      pages: { index?: number; markdown: string }[];
      usage: { pages: string };
      cost: { totalNanoUsd: string };
      documentSizeBytes: string;
      cacheHit?: boolean;
    };
    assert.equal(j.deployment, "mock/ocr");
    assert.equal(j.routing.route, "ocr");
    assert.match(j.id, /^req_/);
    assert.match(j.traceId, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      j.pages.map((p) => [p.index ?? 0, p.markdown]),
      [
        [0, "First page of charlie\nsecond line"],
        [1, "Second page of charlie"],
      ],
    );
    assert.equal(j.usage.pages, "2");
    assert.equal(j.cost.totalNanoUsd, "4000000");
    assert.equal(j.documentSizeBytes, String(readFileSync(join(tmp, file)).length));
    assert.equal(j.cacheHit, undefined);
    const again = JSON.parse(exited(await cli(["--json", "ocr", file]), 0).stdout) as typeof j;
    assert.equal(again.cacheHit, true);
    assert.equal(again.cost.totalNanoUsd ?? "0", "0");
  });

  test("--out DIR: page-N.md per page (made when missing), their paths on stdout; with --images an image's bytes as a file", async () => {
    const { file } = twoPages("delta");
    const dir = join("out", "delta");
    const r = exited(await cli(["ocr", file, "--out", dir]), 0);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), [join(dir, "page-1.md"), join(dir, "page-2.md")]);
    assert.equal(readFileSync(join(tmp, dir, "page-1.md"), "utf8"), "First page of delta\nsecond line\n");
    assert.equal(readFileSync(join(tmp, dir, "page-2.md"), "utf8"), "Second page of delta\n");
    assert.match(r.stderr, summary(2, "0.004"));

    writeFileSync(join(tmp, "scan.png"), PNG);
    const im = exited(await cli(["ocr", "scan.png", "--images", "-o", "imgs"]), 0);
    assert.deepEqual(im.stdout.trimEnd().split("\n"), [join("imgs", "page-1.md"), join("imgs", "img-0.png")]);
    assert.equal(readFileSync(join(tmp, "imgs", "page-1.md"), "utf8"), "![img-0.png](img-0.png)\n", "the page links the image next to it");
    assert.deepEqual(readFileSync(join(tmp, "imgs", "img-0.png")), PNG);
    assert.deepEqual(readdirSync(join(tmp, "imgs")).sort(), ["img-0.png", "page-1.md"]);
    assert.match(im.stderr, summary(1, "0.002"));

    // --json with --images: the image as a data URL; with --out too, the files written.
    const j = JSON.parse(exited(await cli(["--json", "ocr", "scan.png", "--images", "--out", "imgs2"]), 0).stdout) as { pages: { images: { id: string; imageBase64: string }[] }[]; files: string[] };
    assert.equal(j.pages[0].images[0].imageBase64, `data:image/png;base64,${PNG.toString("base64")}`);
    assert.deepEqual(j.files, [join("imgs2", "page-1.md"), join("imgs2", "img-0.png")]);
  });

  test("--annotate: stdout is the document's JSON only, pretty, in the schema's shape (the mock's fill); --json has it as text", async () => {
    const { file } = twoPages("india");
    const schema = schemaFile("invoice.json", INVOICE_SCHEMA);
    const r = exited(await cli(["ocr", file, "--annotate", schema]), 0);
    assert.equal(r.stdout, `${JSON.stringify(invoiceOf("First page of india"), null, 2)}\n`, "no Markdown, the JSON alone");
    assert.deepEqual(JSON.parse(r.stdout), invoiceOf("First page of india"));
    assert.match(r.stderr, summary(2, "0.004"));

    // A prompt and a name of one's own; --pages: only those pages are read, the strings from page 2.
    const prompted = exited(await cli(["ocr", file, "--pages", "2", "--annotate", schema, "--annotate-name", "bill", "--annotate-prompt", "amounts in euros"]), 0);
    assert.deepEqual(JSON.parse(prompted.stdout), invoiceOf("Second page of india"));

    const j = JSON.parse(exited(await cli(["--json", "ocr", file, "--annotate", schema]), 0).stdout) as { documentAnnotation: string; pages: unknown[] };
    assert.deepEqual(JSON.parse(j.documentAnnotation), invoiceOf("First page of india"), "the API's form: the JSON as text");
    assert.equal(j.pages.length, 2, "and the pages");

    // Without --annotate, the same document's pages as before: no annotation asked, none printed.
    assert.equal(exited(await cli(["ocr", file]), 0).stdout, printed("india"));
  });

  test("--out with --annotate: annotation.json next to the pages; --annotate-images: <image id>.json per image (and in --json)", async () => {
    const { file } = twoPages("juliet");
    const schema = schemaFile("juliet-schema.json", INVOICE_SCHEMA);
    const r = exited(await cli(["ocr", file, "--annotate", schema, "--out", "juliet"]), 0);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), [join("juliet", "page-1.md"), join("juliet", "page-2.md"), join("juliet", "annotation.json")]);
    assert.equal(readFileSync(join(tmp, "juliet", "annotation.json"), "utf8"), `${JSON.stringify(invoiceOf("First page of juliet"), null, 2)}\n`);
    assert.equal(readFileSync(join(tmp, "juliet", "page-1.md"), "utf8"), "First page of juliet\nsecond line\n");
    assert.match(r.stderr, summary(2, "0.004"));

    const figure = schemaFile("figure.json", { type: "object", properties: { caption: { type: "string" }, kind: { enum: ["chart", "photo"] } } });
    writeFileSync(join(tmp, "figure.png"), PNG);
    const im = exited(await cli(["ocr", "figure.png", "--images", "--annotate-images", figure, "--annotate", schema, "-o", "fig"]), 0);
    assert.deepEqual(im.stdout.trimEnd().split("\n"), [join("fig", "page-1.md"), join("fig", "img-0.png"), join("fig", "img-0.png.json"), join("fig", "annotation.json")]);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, "fig", "img-0.png.json"), "utf8")), { caption: "img-0.png", kind: "chart" });
    assert.deepEqual(readFileSync(join(tmp, "fig", "img-0.png")), PNG);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, "fig", "annotation.json"), "utf8")), invoiceOf("img-0.png"));

    const j = JSON.parse(exited(await cli(["--json", "ocr", "figure.png", "--annotate-images", figure]), 0).stdout) as { pages: { images: { id: string; imageAnnotation: string }[] }[] };
    assert.deepEqual(JSON.parse(j.pages[0].images[0].imageAnnotation), { caption: "img-0.png", kind: "chart" });
  });

  test("stdin (-): with --media-type, or its type from its first bytes", async () => {
    const bytes = makePdf(["Piped page one", "Piped page two"]);
    const r = exited(await cli(["ocr", "-", "--media-type", "pdf"], { stdin: bytes }), 0);
    assert.equal(r.stdout, "<!-- page 1 -->\nPiped page one\n\n<!-- page 2 -->\nPiped page two\n");
    assert.match(r.stderr, summary(2, "0.004"));
    const sniffed = exited(await cli(["ocr", "-"], { stdin: bytes }), 0);
    assert.equal(sniffed.stdout, r.stdout);
    assert.match(sniffed.stderr, summary(2, "0.00", true), "the same document: the cache");
    const png = exited(await cli(["ocr", "-"], { stdin: PNG }), 0);
    assert.equal(png.stdout, "<!-- page 1 -->\n![img-0.png](img-0.png)\n");
  });

  test("the routing, tag, user and metadata flags reach the gateway; the usage record's operation is ocr", async () => {
    const { file } = twoPages("echo");
    exited(await cli(["ocr", file, "--tag", "cli-ocr,scan", "--user", "u-ocr", "--metadata", "ticket=7", "--no-fallback", "--fallbacks", "mock/ocr"]), 0);
    const records = await recordsOfUser(() => sb.usage.listRequests({ pageSize: 100 }), "u-ocr");
    assert.equal(records.length, 1, JSON.stringify(records.map((r) => ({ tags: r.tags, op: r.operation }))));
    const [rec] = records;
    assert.equal(rec.operation, Operation.OCR);
    assert.deepEqual([...rec.tags].sort(), ["cli-ocr", "scan"]);
    assert.equal(rec.deployment, "mock/ocr");
    assert.equal(rec.metadata.ticket, "7");
    assert.equal(rec.cost?.totalNanoUsd, 4_000_000n);
  });

  test("bad usage is refused before any call (exit 2, the problem named, nothing on stdout)", async () => {
    twoPages("foxtrot");
    writeFileSync(join(tmp, "notes.txt"), "plain text");
    writeFileSync(join(tmp, "empty.pdf"), "");
    writeFileSync(join(tmp, "a-file"), "x");
    schemaFile("good.json", INVOICE_SCHEMA);
    schemaFile("not-json.json", "{type: object");
    schemaFile("list.json", [{ type: "object" }]);
    schemaFile("empty.json", "");
    const unreachable = { env: { SIGNALBOX_URL: "http://127.0.0.1:9" } };
    const cases: [string, string[], (string | Uint8Array)?][] = [
      ["missing required argument 'document'", ["ocr"]],
      ["missing.pdf: no such file", ["ocr", "missing.pdf"]],
      ["notes.txt: unknown extension .txt: pass --media-type", ["ocr", "notes.txt"]],
      ["empty.pdf: the file is empty", ["ocr", "empty.pdf"]],
      ["is a directory", ["ocr", "."]],
      ["'--pages <list>' argument '0' is invalid. \"0\" is not a page list: pages count from 1", ["ocr", "foxtrot.pdf", "--pages", "0"]],
      ['"3-1" is not a page list', ["ocr", "foxtrot.pdf", "--pages", "3-1"]],
      ['"x" is not a page list', ["ocr", "foxtrot.pdf", "--pages", "x"]],
      ["'--media-type <type>' argument 'text/plain' is invalid", ["ocr", "notes.txt", "--media-type", "text/plain"]],
      ["'--table-format <format>' argument 'csv' is invalid", ["ocr", "foxtrot.pdf", "--table-format", "csv"]],
      ["--media-type applies to a file or stdin", ["ocr", "https://example.com/a.pdf", "--media-type", "pdf"]],
      ["--images: the images go to files (--out DIR) or into --json", ["ocr", "foxtrot.pdf", "--images"]],
      ["-o/--out a-file: not a directory", ["ocr", "foxtrot.pdf", "--out", "a-file"]],
      ["stdin: unknown document type", ["ocr", "-"], "just some text"],
      ["no document on stdin", ["ocr", "-", "--media-type", "pdf"], ""],
      ["--csv is not available here", ["--csv", "ocr", "foxtrot.pdf"]],
      ["--annotate-prompt needs --annotate", ["ocr", "foxtrot.pdf", "--annotate-prompt", "the total"]],
      ["--annotate-name needs --annotate", ["ocr", "foxtrot.pdf", "--annotate-name", "bill"]],
      ["'--annotate-name <name>' argument 'a b' is invalid. \"a b\" is not an annotation name", ["ocr", "foxtrot.pdf", "--annotate", "good.json", "--annotate-name", "a b"]],
      ["--annotate missing.json: no such file", ["ocr", "foxtrot.pdf", "--annotate", "missing.json"]],
      ["--annotate not-json.json: not JSON (", ["ocr", "foxtrot.pdf", "--annotate", "not-json.json"]],
      ["--annotate empty.json: not JSON (", ["ocr", "foxtrot.pdf", "--annotate", "empty.json"]],
      ["--annotate list.json: not a JSON Schema object (the file holds an array)", ["ocr", "foxtrot.pdf", "--annotate", "list.json"]],
      ["--annotate .: is a directory", ["ocr", "foxtrot.pdf", "--annotate", "."]],
      ["--annotate-images not-json.json: not JSON (", ["ocr", "foxtrot.pdf", "--annotate-images", "not-json.json", "--json"]],
      ["--annotate-images: the images' JSON goes to files (--out DIR) or into --json", ["ocr", "foxtrot.pdf", "--annotate-images", "good.json"]],
      ["--bogus", ["ocr", "foxtrot.pdf", "--bogus"]],
    ];
    for (const [named, args, stdin] of cases) {
      const r = await cli(args, { ...unreachable, ...(stdin !== undefined ? { stdin } : {}) });
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.ok(r.stderr.includes(named), `${args.join(" ")} says "${named}": ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
  });

  test("the gateway's refusals are exit 1 with its error, stdout empty: a URL (the mock fetches nothing), a page past the end, a PDF that is not one", async () => {
    const url = exited(await cli(["ocr", "https://example.com/report.pdf"]), 1);
    assert.equal(url.stdout, "");
    assert.match(url.stderr, /^error: the mock reads documents sent as bytes: it fetches nothing \(invalid_argument\)\n/);

    const { file } = twoPages("golf");
    const past = exited(await cli(["ocr", file, "--pages", "3"]), 1);
    assert.equal(past.stdout, "");
    assert.match(past.stderr, /page 2 is past the document's 2 pages/);

    writeFileSync(join(tmp, "fake.pdf"), "not a pdf at all");
    const fake = exited(await cli(["ocr", "fake.pdf"]), 1);
    assert.match(fake.stderr, /\(invalid_argument\)\n {2}field: document\n/);
    assert.match(fake.stderr, /^hint: fix the value of document/m);

    // A schema that is JSON but not one that compiles: the gateway names the field.
    writeFileSync(join(tmp, "wat.json"), JSON.stringify({ type: "wat" }));
    const wat = exited(await cli(["ocr", file, "--annotate", "wat.json"]), 1);
    assert.equal(wat.stdout, "");
    assert.match(wat.stderr, /^error: .*document_annotation_schema.*\(invalid_argument\)\n {2}field: document_annotation_schema\n/);
    const watImages = exited(await cli(["--json", "ocr", file, "--annotate-images", "wat.json"]), 1);
    assert.equal(watImages.stdout, "");
    assert.match(watImages.stderr, /field: bbox_annotation_schema/);

    const model = exited(await cli(["ocr", file, "--model", "no-such-model"]), 1);
    assert.equal(model.stdout, "");
    assert.match(model.stderr, /^error: /);
  });

  test("the system's Node 20 runs it too", { skip: !existsSync(SYSTEM_NODE) }, async () => {
    const { file } = twoPages("hotel");
    const r = exited(await cli(["ocr", file], { node: SYSTEM_NODE }), 0);
    assert.equal(r.stdout, printed("hotel"));
    assert.match(r.stderr, summary(2, "0.004"));
  });
});
