// OCR on Mistral's wire (`POST {base_url}/ocr`, what Mistral's API, and LiteLLM after it, speak):
// the request body of the official SDK's `ocr.process` and the parse of its OCRResponse. A
// document given as bytes goes as a data URL (`document_url` for a PDF, DOCX or PPTX,
// `image_url` for an image); a URL goes as it is, for the provider to fetch.

import { tryJson } from "../headers.ts";
import { isObject } from "./openai-error.ts";
import type { HttpRequestSpec, OcrImage, OcrPage, OcrRequest, OcrResult } from "../types.ts";
import { ProviderError } from "../types.ts";

/** The OCR path next to the chat path ("/chat/completions" → "/ocr"). */
export const ocrPath = (chatPath: string): string => chatPath.replace("/chat/completions", "/ocr");

const isImage = (mediaType: string) => mediaType.startsWith("image/");

/** The request body, snake_case, only the fields asked for (Mistral refuses unknown ones with a 422). */
export function buildMistralOcrBody(req: OcrRequest): Record<string, unknown> {
  const d = req.document;
  const url = "url" in d ? d.url : `data:${d.mediaType};base64,${Buffer.from(d.data.buffer, d.data.byteOffset, d.data.byteLength).toString("base64")}`;
  const image = "url" in d ? /\.(png|jpe?g|webp|avif|gif)(\?|#|$)/i.test(new URL(d.url).pathname) : isImage(d.mediaType);
  const document = image ? { type: "image_url", image_url: url } : { type: "document_url", document_url: url, ...(req.documentName ? { document_name: req.documentName } : {}) };
  return {
    model: req.model,
    document,
    ...(req.pages?.length ? { pages: req.pages } : {}),
    ...(req.includeImageBase64 ? { include_image_base64: true } : {}),
    ...(req.imageLimit ? { image_limit: req.imageLimit } : {}),
    ...(req.imageMinSize ? { image_min_size: req.imageMinSize } : {}),
    ...(req.tableFormat ? { table_format: req.tableFormat } : {}),
    ...(req.extractHeader ? { extract_header: true } : {}),
    ...(req.extractFooter ? { extract_footer: true } : {}),
    ...(req.documentAnnotation ? { document_annotation_format: jsonSchemaFormat(req.documentAnnotation) } : {}),
    ...(req.documentAnnotation?.prompt ? { document_annotation_prompt: req.documentAnnotation.prompt } : {}),
    ...(req.bboxAnnotation ? { bbox_annotation_format: jsonSchemaFormat(req.bboxAnnotation) } : {}),
  };
}

/** An annotation's schema as Mistral's response format. */
const jsonSchemaFormat = (a: { name: string; schema: Record<string, unknown>; strict?: boolean }) => ({ type: "json_schema", json_schema: { name: a.name, schema: a.schema, ...(a.strict !== undefined ? { strict: a.strict } : {}) } });

export function buildMistralOcrRequest(req: OcrRequest, path: string, headers: Record<string, string>): HttpRequestSpec {
  return { method: "POST", path, headers: { ...headers, accept: "application/json" }, body: JSON.stringify(buildMistralOcrBody(req)) };
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0);
const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function image(v: unknown, page: number, i: number): OcrImage {
  if (!isObject(v) || typeof v.id !== "string") throw new ProviderError({ kind: "server_error", message: `upstream sent image ${i} of page ${page} without an id` });
  const b64 = text(v.image_base64);
  const note = text(v.image_annotation);
  return { id: v.id, topLeftX: num(v.top_left_x), topLeftY: num(v.top_left_y), bottomRightX: num(v.bottom_right_x), bottomRightY: num(v.bottom_right_y), ...(b64 ? { imageBase64: b64 } : {}), ...(note ? { imageAnnotation: note } : {}) };
}

function page(v: unknown, i: number): OcrPage {
  if (!isObject(v) || typeof v.index !== "number" || typeof v.markdown !== "string") throw new ProviderError({ kind: "server_error", message: `upstream sent OCR page ${i} without an index or markdown` });
  const p: OcrPage = { index: v.index, markdown: v.markdown, images: Array.isArray(v.images) ? v.images.map((x, k) => image(x, v.index as number, k)) : [] };
  if (Array.isArray(v.tables) && v.tables.length) {
    p.tables = v.tables.filter(isObject).map((t) => ({ id: String(t.id ?? ""), content: String(t.content ?? ""), format: String(t.format ?? "") }));
  }
  if (Array.isArray(v.hyperlinks) && v.hyperlinks.length) p.hyperlinks = v.hyperlinks.filter((h): h is string => typeof h === "string");
  const header = text(v.header);
  const footer = text(v.footer);
  if (header) p.header = header;
  if (footer) p.footer = footer;
  if (isObject(v.dimensions)) p.dimensions = { dpi: num(v.dimensions.dpi), width: num(v.dimensions.width), height: num(v.dimensions.height) };
  return p;
}

export function parseMistralOcrResponse(body: string): OcrResult {
  const json = tryJson(body);
  if (!isObject(json) || !Array.isArray(json.pages)) throw new ProviderError({ kind: "server_error", message: "upstream sent an OCR answer without pages" });
  const usage = isObject(json.usage_info) ? json.usage_info : {};
  const processed = typeof usage.pages_processed === "number" ? num(usage.pages_processed) : undefined;
  const annotated = typeof usage.pages_processed_annotation === "number" ? num(usage.pages_processed_annotation) : undefined;
  const size = typeof usage.doc_size_bytes === "number" ? num(usage.doc_size_bytes) : undefined;
  const annotation = text(json.document_annotation);
  return {
    ...(annotation ? { documentAnnotation: annotation } : {}),
    model: typeof json.model === "string" ? json.model : "",
    pages: json.pages.map(page),
    ...(processed !== undefined ? { pagesProcessed: processed } : {}),
    ...(annotated !== undefined ? { pagesAnnotated: annotated } : {}),
    ...(size !== undefined ? { documentSizeBytes: size } : {}),
  };
}
