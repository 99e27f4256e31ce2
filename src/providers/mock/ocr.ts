// The mock OCR model: reads what a document says without a model. A PDF's text layer, page by
// page (pdf.js through unpdf, loaded the first time the mock reads one), each page's lines as its
// Markdown, its size at 200 dpi as Mistral reports it; an image is one page holding that image
// (no text is recognized in it). It fetches nothing: a URL, a Word or a PowerPoint file is refused.
// Annotations asked for come back in their schema's shape, filled from the text (mockValueOf).

import type { OcrPage, OcrRequest, OcrResult } from "../types.ts";
import { ProviderError } from "../types.ts";

const DPI = 200;
let unpdf: Promise<typeof import("unpdf")> | undefined;

const refuse = (message: string) => new ProviderError({ kind: "bad_request", message, unsent: true });

/** An image's width and height from its header (PNG's IHDR, a JPEG's first SOF marker); zeros for others. */
function imageSize(b: Uint8Array): { width: number; height: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50) return { width: v.getUint32(16), height: v.getUint32(20) };
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i + 9 < b.length; ) {
      if (b[i] !== 0xff) break;
      const marker = b[i + 1];
      const len = v.getUint16(i + 2);
      // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC).
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: v.getUint16(i + 7), height: v.getUint16(i + 5) };
      i += 2 + len;
    }
  }
  return { width: 0, height: 0 };
}

async function readPdf(data: Uint8Array, wanted: number[] | undefined): Promise<OcrPage[]> {
  const { getDocumentProxy } = await (unpdf ??= import("unpdf"));
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // pdf.js takes over the buffer it is given: a copy, so the caller's bytes stay as they are.
    pdf = await getDocumentProxy(new Uint8Array(data), { stopAtErrors: true, verbosity: 0 });
  } catch (err) {
    throw refuse((err as Error)?.name === "PasswordException" ? "the PDF is encrypted" : "the PDF could not be read");
  }
  try {
    const indices = wanted ?? Array.from({ length: pdf.numPages }, (_, i) => i);
    const past = indices.find((i) => i >= pdf.numPages);
    if (past !== undefined) throw refuse(`page ${past} is past the document's ${pdf.numPages} pages (pages count from 0)`);
    const pages: OcrPage[] = [];
    for (const index of indices) {
      const page = await pdf.getPage(index + 1);
      const { width, height } = page.getViewport({ scale: 1 });
      const content = await page.getTextContent();
      let markdown = "";
      for (const item of content.items) {
        if (!("str" in item)) continue;
        markdown += item.str + (item.hasEOL ? "\n" : "");
      }
      pages.push({ index, markdown: markdown.trim().replace(/\n{3,}/g, "\n\n"), images: [], dimensions: { dpi: DPI, width: Math.round((width * DPI) / 72), height: Math.round((height * DPI) / 72) } });
    }
    return pages;
  } finally {
    await pdf.loadingTask.destroy();
  }
}

/**
 * A value of a JSON schema, made up from the document's text: each string the text's first line
 * (its enum's first value, its const), numbers 0 (or the minimum), booleans false, arrays empty
 * (or `minItems` of their item), objects every property. No model reads anything: it shows the shape.
 */
export function mockValueOf(schema: unknown, text: string): unknown {
  if (!schema || typeof schema !== "object") return null;
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants) && variants.length) return mockValueOf(variants[0], text);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type ?? (s.properties ? "object" : undefined)) {
    case "object": {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, mockValueOf(v, text)]));
    }
    case "array":
      return Array.from({ length: typeof s.minItems === "number" ? s.minItems : 0 }, () => mockValueOf(s.items, text));
    case "string":
      return text.split("\n").find((l) => l.trim())?.trim() ?? "";
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 0;
    case "boolean":
      return false;
    default:
      return null;
  }
}

export async function mockOcr(req: OcrRequest): Promise<OcrResult> {
  const d = req.document;
  if ("url" in d) throw refuse("the mock reads documents sent as bytes: it fetches nothing");
  if (d.mediaType === "application/pdf") {
    const pages = await readPdf(d.data, req.pages);
    const note = req.documentAnnotation ? { documentAnnotation: JSON.stringify(mockValueOf(req.documentAnnotation.schema, pages.map((p) => p.markdown).join("\n"))) } : {};
    return { model: req.model, pages, pagesProcessed: pages.length, documentSizeBytes: d.data.byteLength, ...note };
  }
  if (!d.mediaType.startsWith("image/")) throw refuse(`the mock reads PDFs and images, not ${d.mediaType}`);
  if (req.pages?.some((p) => p !== 0)) throw refuse("an image has one page, page 0");
  const { width, height } = imageSize(d.data);
  const id = `img-0.${d.mediaType.slice("image/".length)}`;
  const base64 = req.includeImageBase64 ? { imageBase64: `data:${d.mediaType};base64,${Buffer.from(d.data.buffer, d.data.byteOffset, d.data.byteLength).toString("base64")}` } : {};
  const imageNote = req.bboxAnnotation ? { imageAnnotation: JSON.stringify(mockValueOf(req.bboxAnnotation.schema, id)) } : {};
  const page: OcrPage = { index: 0, markdown: `![${id}](${id})`, images: [{ id, topLeftX: 0, topLeftY: 0, bottomRightX: width, bottomRightY: height, ...base64, ...imageNote }], dimensions: { dpi: DPI, width, height } };
  const note = req.documentAnnotation ? { documentAnnotation: JSON.stringify(mockValueOf(req.documentAnnotation.schema, id)) } : {};
  return { model: req.model, pages: [page], pagesProcessed: 1, documentSizeBytes: d.data.byteLength, ...note };
}
