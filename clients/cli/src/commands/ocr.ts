// `signalbox ocr`: a document's text as Markdown through the gateway's OCR models
// (OcrService.Ocr). The document is a file, stdin (-) or an http(s) URL the provider fetches.
//
// What it prints:
//   default   every page's Markdown on stdout, in page order, each page after a line of its own
//             `<!-- page N -->` (N counts from 1, as --pages does; an HTML comment, so the whole
//             output still renders as one Markdown document, and `csplit`/`awk` can split it).
//             Pages are separated by a blank line. With --header/--footer a page's header and
//             footer come as `<!-- header: … -->` right after its marker and `<!-- footer: … -->`
//             after its text. With --table-format html a table's link in the Markdown
//             (`[tbl-0.html](tbl-0.html)`) is replaced by the table itself.
//   --annotate SCHEMA.json
//             structured extraction (the document annotation): stdout is the answer's JSON only,
//             pretty-printed (no Markdown), so `signalbox ocr a.pdf --annotate invoice.json | jq
//             .total` works. The gateway checks the answer against the schema (one that does not
//             match fails its attempt, and the route falls back). The annotation's name is the
//             schema file's base name (letters, digits, _ and - kept; --annotate-name to choose),
//             --annotate-prompt guides it. --annotate-images SCHEMA.json asks each image found for
//             its own JSON (the bbox annotation): into --json, or files with --out.
//   --out DIR page-N.md per page in DIR (made when missing), the same text without the page marker;
//             with --images the images the pages hold (image_base64) and, with --table-format
//             html, the tables, as files named by their ids next to the pages (so the pages' links
//             to them work); with --annotate annotation.json, with --annotate-images `<image
//             id>.json` per image (img-0.png.json). The files' paths go to stdout, one a line.
//   --json    the API's JSON form of the response (toJson of OcrResponse: documentAnnotation and
//             each image's imageAnnotation as JSON text); nothing on stderr.
// Who read it, the pages, the cost, the time and the request and trace ids go to stderr, as for
// `signalbox search` (", from the cache" when the route's cache answered: it cost nothing).

import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { type JsonObject, toJson } from "@bufbuild/protobuf";
import { type Command, InvalidArgumentError } from "commander";
import { type OcrPage, type OcrResponse, OcrResponseSchema } from "@signalbox/client";
import { CliError, failure, responseSummary, setup, usageError } from "../context.ts";
import { count } from "../format.ts";
import { json, note, out, waiting } from "../output.ts";
import { parseChoice } from "../parse.ts";
import { type RequestFlags, requestFields, requestFlags, servedBy } from "../request.ts";

/** The largest document the gateway takes in one request (18 MiB). */
const MAX_DOCUMENT_BYTES = 18 * 1024 * 1024;
/** The most pages one request may name. */
const MAX_PAGES = 1_000;
/** The highest page number --pages takes (the gateway's page index limit, 99,999, plus one). */
const MAX_PAGE_NUMBER = 100_000;

const DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation";

/** The media types OCR reads, by file extension. */
export const DOCUMENT_TYPES: Record<string, string> = {
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".gif": "image/gif",
  ".docx": DOCX,
  ".pptx": PPTX,
};

const MEDIA_TYPES = [...new Set(Object.values(DOCUMENT_TYPES))];

/**
 * A --media-type value: a media type OCR reads ("application/pdf"), or a file extension standing
 * for one ("pdf", ".jpg", "docx").
 */
export function parseMediaType(v: string): string {
  const s = v.trim().toLowerCase();
  if (MEDIA_TYPES.includes(s)) return s;
  const byExt = DOCUMENT_TYPES[s.startsWith(".") ? s : `.${s}`];
  if (byExt) return byExt;
  throw new InvalidArgumentError(`"${v}" is not a media type OCR reads: use one of ${MEDIA_TYPES.join(", ")} (or an extension: ${Object.keys(DOCUMENT_TYPES).map((e) => e.slice(1)).join(", ")})`);
}

/**
 * A --pages value: page numbers counting from 1 and ranges, comma-separated ("1,3-5"), as the
 * request's page indices (from 0), in order, each once ("3-5,1,4" → [0, 2, 3, 4]).
 */
export function parsePages(v: string): number[] {
  const bad = (why: string) => new InvalidArgumentError(`"${v}" is not a page list: ${why}`);
  const parts = v.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === "")) throw bad("use page numbers from 1 and ranges, e.g. 1,3-5");
  const pages = new Set<number>();
  for (const part of parts) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw bad(`"${part}" is not a page number or a range (use page numbers from 1 and ranges, e.g. 1,3-5)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to < 1) throw bad("pages count from 1 (the first page is 1)");
    if (from > MAX_PAGE_NUMBER || to > MAX_PAGE_NUMBER) throw bad(`page numbers go up to ${count(MAX_PAGE_NUMBER)}`);
    if (to < from) throw bad(`the range ${part} runs backwards (write ${to}-${from})`);
    if (to - from + 1 > MAX_PAGES) throw bad(`at most ${count(MAX_PAGES)} pages in one request`);
    for (let p = from; p <= to; p++) pages.add(p - 1);
    if (pages.size > MAX_PAGES) throw bad(`at most ${count(MAX_PAGES)} pages in one request`);
  }
  return [...pages].sort((a, b) => a - b);
}

/** A document's media type from its first bytes: PDF, PNG, JPEG, GIF, WebP; undefined for others. */
export function sniffDocument(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (ascii(0, 5) === "%PDF-") return "application/pdf";
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === "PNG" && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return "image/png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a") return "image/gif";
  if (b.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  return undefined;
}

/** `-->` would end the comment a header or footer is printed in. */
const commentText = (s: string) => s.trim().replaceAll("-->", "--&gt;");

/**
 * One page's Markdown as printed: its header and footer (when the gateway extracted them) as HTML
 * comments around its text, and with tables apart (--table-format html) each table's link
 * replaced by the table (appended when the text does not link it).
 */
export function pageMarkdown(page: Pick<OcrPage, "markdown" | "tables" | "header" | "footer">, opts: { inlineTables: boolean }): string {
  let text = page.markdown.replace(/\s+$/, "");
  if (opts.inlineTables) {
    for (const t of page.tables) {
      const link = `[${t.id}](${t.id})`;
      const content = t.content.trim();
      text = text.includes(link) ? text.replaceAll(link, content) : `${text}${text ? "\n\n" : ""}${content}`;
    }
  }
  const parts = [page.header.trim() ? `<!-- header: ${commentText(page.header)} -->` : "", text, page.footer.trim() ? `<!-- footer: ${commentText(page.footer)} -->` : ""];
  return parts.filter(Boolean).join("\n\n");
}

/** Every page as printed on stdout: each after a `<!-- page N -->` line (N = index + 1), a blank line between pages. */
export function markdownOf(pages: Pick<OcrPage, "index" | "markdown" | "tables" | "header" | "footer">[]): string {
  return pages.map((p) => `<!-- page ${p.index + 1} -->\n${pageMarkdown(p, { inlineTables: true })}\n`).join("\n");
}

/** A file name of an image's or a table's id, safe to join to a directory: no path, no leading dot. */
export function safeName(id: string, fallback: string): string {
  const s = id.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[._]+/, "");
  return s || fallback;
}

/** An image's bytes from image_base64 (a data URL, or bare base64), with its media type when the data URL says. */
function decodeImage(v: string): { data: Buffer; mediaType: string } {
  const m = /^data:([^;,]*)(?:;[^,]*)?,(.*)$/s.exec(v);
  return m ? { data: Buffer.from(m[2], "base64"), mediaType: m[1] } : { data: Buffer.from(v, "base64"), mediaType: "" };
}

/** An annotation's name as the gateway takes it: 1 to 64 letters, digits, underscores or dashes. */
const ANNOTATION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A --annotate-name value: 1 to 64 letters, digits, underscores or dashes. */
export function parseAnnotationName(v: string): string {
  if (!ANNOTATION_NAME.test(v)) throw new InvalidArgumentError(`"${v}" is not an annotation name: use 1 to 64 letters, digits, underscores or dashes`);
  return v;
}

/**
 * The annotation's name from its schema file: the base name without its extension, other
 * characters than letters, digits, _ and - as _, at most 64 ("invoice.schema.json" →
 * "invoice_schema"); undefined when nothing is left (the gateway names it document_annotation).
 */
export function annotationNameOf(path: string): string | undefined {
  const name = basename(path, extname(path)).replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 64);
  return name || undefined;
}

/**
 * A JSON Schema object from its text; why it is not one otherwise (not JSON, or JSON that is not an
 * object). Whether it compiles is the gateway's to say.
 */
export function parseSchema(text: string): { schema: JsonObject } | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { problem: `not JSON (${(err as Error).message})` };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return { problem: `not a JSON Schema object (the file holds ${v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`})` };
  return { schema: v as JsonObject };
}

/** A schema file named by a flag, read and parsed; bad usage when it cannot be. */
function schemaFile(flag: string, path: string): JsonObject {
  if (path.trim() === "") throw usageError(`${flag}: empty path`, "name a JSON file holding a JSON Schema object");
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw usageError(`${flag} ${path}: is a directory`, "name a JSON file holding a JSON Schema object");
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
  const r = parseSchema(text);
  if ("problem" in r) throw usageError(`${flag} ${path}: ${r.problem}`, 'the file holds one JSON Schema object, e.g. {"type": "object", "properties": {"total": {"type": "number"}}}');
  return r.schema;
}

/** An annotation's JSON text as printed and written: pretty (two spaces), or the text as it came when it is not JSON. */
export function prettyAnnotation(text: string): string {
  try {
    return `${JSON.stringify(JSON.parse(text), null, 2)}\n`;
  } catch {
    return `${text.trim()}\n`;
  }
}

const IMAGE_EXTENSIONS: Record<string, string> = { "image/png": ".png", "image/jpeg": ".jpeg", "image/webp": ".webp", "image/gif": ".gif", "image/avif": ".avif" };

interface OcrFlags extends RequestFlags {
  model: string;
  pages?: number[];
  mediaType?: string;
  tableFormat?: "markdown" | "html";
  images?: boolean;
  header?: boolean;
  footer?: boolean;
  out?: string;
  annotate?: string;
  annotateName?: string;
  annotatePrompt?: string;
  annotateImages?: string;
}

interface Source {
  document?: Uint8Array;
  mediaType?: string;
  documentUrl?: string;
  documentName?: string;
}

export function ocrCommand(program: Command): void {
  requestFlags(
    program
      .command("ocr")
      .description("read a document's text (a PDF, an image, a DOCX or PPTX file) as Markdown through the gateway's OCR models; the pages on stdout, deployment, pages and cost on stderr")
      .argument("<document>", `the document: a file (${Object.keys(DOCUMENT_TYPES).join(" ")}, at most 18 MB), - for stdin, or an http(s) URL the provider fetches`)
      .option("--model <model>", "a route, alias or deployment id that serves ocr", "ocr")
      .option("--pages <list>", "only these pages, counting from 1: numbers and ranges, e.g. 1,3-5 (default: every page)", parsePages)
      .option("--media-type <type>", "the document's media type (application/pdf, image/png …, or just pdf, png …); default: by the file's extension, or on stdin by its first bytes (PDF, PNG, JPEG, GIF, WebP)", parseMediaType)
      .option("--table-format <format>", "tables inline in the Markdown (markdown), or apart as HTML (html: put back in place on stdout, files with --out)", parseChoice(["markdown", "html"] as const))
      .option("--images", "return the images the pages hold (written as files with --out, base64 in --json)")
      .option("--header", "extract each page's header apart from its text")
      .option("--footer", "extract each page's footer apart from its text")
      .option("--annotate <schema.json>", "structured extraction: a JSON file holding a JSON Schema object; stdout is the document's JSON in that shape (no Markdown), annotation.json with --out")
      .option("--annotate-name <name>", "the annotation's name (default: the schema file's base name)", parseAnnotationName)
      .option("--annotate-prompt <text>", "what to extract, in words, to guide the model (with --annotate)")
      .option("--annotate-images <schema.json>", "each image found as JSON of this JSON Schema (a file): into --json, or <image id>.json with --out")
      .option("-o, --out <dir>", "write page-N.md per page (and the images and tables) into this directory (made when missing); their paths on stdout"),
  )
    .addHelpText(
      "after",
      [
        "",
        "Output: every page's Markdown, in page order, each after a line `<!-- page N -->` (N counts",
        "from 1) and a blank line between pages; headers and footers (--header, --footer) as",
        "`<!-- header: … -->` and `<!-- footer: … -->` around a page's text. With --out, page-N.md",
        "files instead (no marker), and the paths written on stdout. With --json, the API's JSON form",
        "(there pages[].index counts from 0, as the API does; --pages and the markers count from 1).",
        "With --annotate, stdout is the document's JSON only (pretty, of the schema's shape: the",
        "gateway checks it, and an answer that does not match falls back to the route's next",
        "deployment); with --out, annotation.json next to the pages. --annotate-images writes each",
        "image's JSON as <image id>.json with --out (in --json: pages[].images[].imageAnnotation).",
        "A cached answer (the route's cache) costs nothing: the summary says `from the cache`.",
        "",
        "Exit codes: 0 the document was read; 1 the call failed (the gateway's error and the field at",
        "fault on stderr, stdout empty); 2 bad usage (no such file, an unknown extension without",
        "--media-type, a bad --pages, --images without --out or --json, a schema file missing or",
        "not a JSON object, --annotate-prompt without --annotate), and nothing is sent.",
        "",
        "Examples:",
        "  signalbox ocr invoice.pdf > invoice.md",
        "  signalbox ocr report.pdf --pages 1,3-5 --table-format html",
        "  signalbox ocr scan.pdf --images --out scan/",
        "  signalbox ocr invoice.pdf --annotate invoice.json | jq .total",
        "  signalbox ocr invoice.pdf --annotate invoice.json --annotate-prompt 'amounts in euros' --out invoice/",
        "  signalbox ocr slides.pdf --images --annotate-images figure.json --out slides/",
        "  curl -s https://example.com/a.pdf | signalbox ocr - --media-type pdf",
        "  signalbox ocr https://example.com/report.pdf --model mistral/mistral-ocr-latest",
        "  signalbox --json ocr slide.png | jq -r '.pages[].markdown'",
      ].join("\n"),
    )
    .action(async (document: string, o: OcrFlags, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: false });
      if (o.images && !o.out && mode !== "json") throw usageError("--images: the images go to files (--out DIR) or into --json", "add --out DIR, or --json");
      if (o.annotatePrompt !== undefined && o.annotate === undefined) throw usageError("--annotate-prompt needs --annotate", "pass the shape to extract as a JSON Schema file: --annotate schema.json");
      if (o.annotateName !== undefined && o.annotate === undefined) throw usageError("--annotate-name needs --annotate", "pass the shape to extract as a JSON Schema file: --annotate schema.json");
      if (o.annotateImages !== undefined && !o.out && mode !== "json") throw usageError("--annotate-images: the images' JSON goes to files (--out DIR) or into --json", "add --out DIR, or --json");
      const source = await sourceOf(document, o.mediaType);
      const docSchema = o.annotate === undefined ? undefined : schemaFile("--annotate", o.annotate);
      const imageSchema = o.annotateImages === undefined ? undefined : schemaFile("--annotate-images", o.annotateImages);
      const docName = o.annotate === undefined ? undefined : (o.annotateName ?? annotationNameOf(o.annotate));
      const dir = o.out === undefined ? undefined : outDir(o.out);

      const request = {
        model: o.model,
        ...source,
        ...(o.pages?.length ? { pages: o.pages } : {}),
        ...(o.images ? { includeImageBase64: true } : {}),
        ...(o.tableFormat ? { tableFormat: o.tableFormat } : {}),
        ...(o.header ? { extractHeader: true } : {}),
        ...(o.footer ? { extractFooter: true } : {}),
        ...(docSchema ? { documentAnnotationSchema: docSchema } : {}),
        ...(docName ? { documentAnnotationName: docName } : {}),
        ...(docSchema && o.annotatePrompt ? { documentAnnotationPrompt: o.annotatePrompt } : {}),
        ...(imageSchema ? { bboxAnnotationSchema: imageSchema } : {}),
        ...requestFields(o),
      };
      const response = await waiting("reading", () => sb.ocr.ocr(request));
      const pages = [...response.pages].sort((a, b) => a.index - b.index);
      const annotation = docSchema ? documentAnnotationOf(response) : undefined;
      const files = dir === undefined ? [] : writePages(dir, pages, annotation);
      if (mode === "json") return json(dir === undefined ? toJson(OcrResponseSchema, response) : { ...(toJson(OcrResponseSchema, response) as object), files });

      await out(dir !== undefined ? files.map((f) => `${f}\n`).join("") : annotation !== undefined ? prettyAnnotation(annotation) : markdownOf(pages));
      const billed = response.usage?.pages ?? 0n;
      note(
        responseSummary(
          [
            `— ${servedBy(response)}${response.cacheHit ? ", from the cache" : ""}`,
            `${count(pages.length)} page${pages.length === 1 ? "" : "s"}`,
            billed && billed !== BigInt(pages.length) ? `${count(billed)} billed` : "",
          ],
          response,
        ),
      );
    });
}

/** What is read: a URL as it is, stdin's bytes, or a file's (each with its media type). Bad usage when it cannot be. */
async function sourceOf(document: string, flagType: string | undefined): Promise<Source> {
  if (/^https?:\/\//i.test(document)) {
    if (flagType) throw usageError("--media-type applies to a file or stdin", "the provider learns a URL's type when it fetches it: drop --media-type");
    try {
      new URL(document);
    } catch {
      throw usageError(`${document}: not a valid URL`, "check the address");
    }
    return { documentUrl: document };
  }
  if (document === "-") {
    const data = await stdinBytes();
    const mediaType = flagType ?? sniffDocument(data);
    if (!mediaType) throw usageError("stdin: unknown document type", `pass --media-type (e.g. --media-type pdf); only PDF, PNG, JPEG, GIF and WebP are recognised by their bytes`);
    return { document: data, mediaType };
  }
  if (document === "") throw usageError("no document", "pass a file, - for stdin, or an http(s) URL");
  let data: Uint8Array;
  try {
    const st = statSync(document);
    if (st.isDirectory()) throw usageError(`${document}: is a directory`, "name a document file");
    if (st.size > MAX_DOCUMENT_BYTES) throw usageError(`${document}: larger than 18 MB`, "split the document (e.g. qpdf --pages … --split-pages) or send a URL");
    data = new Uint8Array(readFileSync(document));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw usageError(`${document}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, "check the path");
  }
  const ext = extname(document).toLowerCase();
  const mediaType = flagType ?? DOCUMENT_TYPES[ext];
  if (!mediaType) throw usageError(`${document}: unknown extension${ext ? ` ${ext}` : ""}: pass --media-type`, `OCR reads ${Object.keys(DOCUMENT_TYPES).join(" ")} files; name the type with --media-type (e.g. --media-type pdf)`);
  if (data.length === 0) throw usageError(`${document}: the file is empty`, "name a document with some content");
  return { document: data, mediaType, documentName: basename(document) };
}

/** The document piped in, at most 18 MB. */
async function stdinBytes(): Promise<Uint8Array> {
  if (process.stdin.isTTY) throw usageError("no document on stdin", "pipe one in (… | signalbox ocr - --media-type pdf) or pass a file");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DOCUMENT_BYTES) throw usageError("stdin: larger than 18 MB", "split the document, or send a URL");
    chunks.push(chunk);
  }
  const data = new Uint8Array(Buffer.concat(chunks));
  if (data.length === 0) throw usageError("no document on stdin", "pipe one in (… | signalbox ocr - --media-type pdf) or pass a file");
  return data;
}

/** --out: a directory, made when missing, before anything is sent (a path to a file is bad usage). */
function outDir(path: string): string {
  if (path.trim() === "") throw usageError("-o/--out: empty path", "pass a directory");
  try {
    if (!statSync(path).isDirectory()) throw usageError(`-o/--out ${path}: not a directory`, "pass a directory: the pages are written into it as page-N.md");
    return path;
  } catch (err) {
    if (err instanceof CliError) throw err;
  }
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    throw usageError(`-o/--out ${path}: cannot make the directory: ${(err as Error).message}`, "check the path and its permissions");
  }
  return path;
}

/** The document annotation asked for (--annotate): the gateway sends one (of the schema) or fails the call. */
function documentAnnotationOf(response: OcrResponse): string {
  if (!response.documentAnnotation.trim()) throw failure("the gateway answered without the document annotation asked for", "try again, or check the route's deployments support document annotations");
  return response.documentAnnotation;
}

/**
 * Write each page (page-N.md), its images (with image_base64), their annotations (`<image
 * id>.json`, with --annotate-images) and its tables into dir, then the document annotation
 * (annotation.json) when there is one; the paths written, in order.
 */
function writePages(dir: string, pages: OcrPage[], annotation?: string): string[] {
  const files: string[] = [];
  const write = (name: string, data: string | Uint8Array) => {
    const file = join(dir, name);
    try {
      writeFileSync(file, data);
    } catch (err) {
      throw failure(`writing ${file}: ${(err as Error).message}`, "check the --out directory and its permissions");
    }
    files.push(file);
  };
  for (const p of pages) {
    write(`page-${p.index + 1}.md`, `${pageMarkdown(p, { inlineTables: false })}\n`);
    p.images.forEach((im, i) => {
      const id = safeName(im.id, `page-${p.index + 1}-img-${i}`);
      if (im.imageBase64) {
        const { data, mediaType } = decodeImage(im.imageBase64);
        write(!extname(id) && IMAGE_EXTENSIONS[mediaType] ? id + IMAGE_EXTENSIONS[mediaType] : id, data);
      }
      if (im.imageAnnotation) write(`${id}.json`, prettyAnnotation(im.imageAnnotation));
    });
    p.tables.forEach((t, i) => {
      let name = safeName(t.id, `page-${p.index + 1}-tbl-${i}`);
      if (!extname(name)) name += t.format === "html" ? ".html" : ".md";
      write(name, `${t.content.replace(/\s+$/, "")}\n`);
    });
  }
  if (annotation !== undefined) write("annotation.json", prettyAnnotation(annotation));
  return files;
}
