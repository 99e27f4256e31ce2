// POST /v1/ocr in the shape of Mistral's OCR API (which LiteLLM's /v1/ocr follows too):
// `{model, document: {type: "document_url", document_url, document_name?} | {type: "image_url",
// image_url}, pages, include_image_base64, image_limit, image_min_size, table_format,
// extract_header, extract_footer, document_annotation_format, document_annotation_prompt,
// bbox_annotation_format}` → `{pages: [{index, markdown, images, tables, hyperlinks,
// header, footer, dimensions}], model, document_annotation, usage_info: {pages_processed,
// doc_size_bytes}}`, so the official Mistral SDK pointed at the gateway works unchanged, against any
// OCR model the gateway routes to. A document is a data URL (its bytes, checked like
// OcrService's) or an http(s) URL the provider fetches (the gateway never does). Without `model`,
// the route, alias or deployment called `ocr`. The `signalbox` object carries routing options,
// tags and cache options, as on /v1/chat/completions; the answer's `signalbox` object says which
// deployment read it, at what cost.

import { MAX_CACHE_TTL_SECONDS, type CacheMode, type ChatEngine } from "../engine/chat-engine.ts";
import { DEFAULT_OCR_MODEL } from "../engine/file-parser.ts";
import type { OcrAnswer } from "../engine/ocr.ts";
import type { JsonObject } from "../providers/types.ts";
import type { Caller, OcrCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { estimatedOcrPages } from "../server/convert.ts";
import { GatewayError } from "../router/errors.ts";
import { OCR_MEDIA_TYPES, sniffImageType, validateCacheTtl, validateOcrCall } from "../server/validate.ts";
import { visibleFile } from "../batch/http.ts";
import { visibilityOf, type BatchStore } from "../batch/store.ts";
import { bad, bool, int, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";
import { accountJson, rateLimitHeaders } from "./response.ts";


const KNOWN = new Set([
  "model",
  "id",
  "document",
  "pages",
  "include_image_base64",
  "image_limit",
  "image_min_size",
  "table_format",
  "extract_header",
  "extract_footer",
  "document_annotation_format",
  "document_annotation_prompt",
  "bbox_annotation_format",
  "user",
  "metadata",
  "signalbox",
]);

/** Mistral's fields the gateway does not run: refused by name rather than ignored. */
const UNSUPPORTED: Record<string, string> = {
  confidence_scores_granularity: "is not supported: the gateway's OCR models do not share confidence scores",
};

/** An annotation format, Mistral's `{type: "json_schema", json_schema: {name, schema, strict}}`. */
function annotationFormat(body: Record<string, unknown>, k: string, fallbackName: string): { name: string; schema: JsonObject; strict?: boolean } | undefined {
  const f = body[k];
  if (f === undefined || f === null) return undefined;
  if (!isObj(f) || f.type !== "json_schema") bad(k, 'must be {"type": "json_schema", "json_schema": {"name", "schema"}} (only a JSON Schema is run)');
  const js = f.json_schema;
  if (!isObj(js) || !isObj(js.schema)) bad(`${k}.json_schema.schema`, "is required: a JSON Schema object");
  const strict = bool(js, "strict", `${k}.json_schema.strict`);
  return { name: str(js, "name", `${k}.json_schema.name`) || fallbackName, schema: js.schema as JsonObject, ...(strict !== undefined ? { strict } : {}) };
}

/** A `data:` URL's media type and bytes; undefined for any other URL. */
function dataUrl(url: string, field: string): { mediaType: string; data: Uint8Array } | undefined {
  if (!url.startsWith("data:")) return undefined;
  const comma = url.indexOf(",");
  const head = comma < 0 ? "" : url.slice(5, comma);
  if (comma < 0 || !head.endsWith(";base64")) bad(field, "a data URL must be base64 (data:<media type>;base64,<data>)");
  const mediaType = head.slice(0, -";base64".length).split(";")[0].toLowerCase();
  const b64 = url.slice(comma + 1);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) bad(field, "is not valid base64");
  return { mediaType, data: Buffer.from(b64, "base64") };
}

/** A document uploaded to the gateway's Files API, read for `{"type": "file", "file_id"}`. */
export interface UploadedDocument {
  mediaType: string;
  data: Uint8Array;
  name: string;
}

const fileType = (d: Record<string, unknown>) => d.type ?? (d.document_url !== undefined ? "document_url" : d.image_url !== undefined ? "image_url" : d.file_id !== undefined ? "file" : undefined);

/**
 * Mistral's `{"type": "file", "file_id"}` document: a file uploaded to the gateway's Files API
 * (`purpose` "ocr", as Mistral's SDK uploads them, or "user_data"/"assistants"), that this key may
 * see; its media type is the upload's when OCR reads that kind, else told by its bytes (and a
 * ZIP's name: .docx or .pptx). Undefined for any other document.
 */
export async function uploadedDocument(body: unknown, store: BatchStore, caller: Caller): Promise<UploadedDocument | undefined> {
  if (!isObj(body) || !isObj(body.document) || fileType(body.document) !== "file") return undefined;
  const id = str(body.document, "file_id", "document.file_id");
  if (!id) bad("document.file_id", 'is required with {"type": "file"}: the id of a file uploaded to /v1/files');
  const f = await visibleFile(store, id, visibilityOf(caller), "document.file_id");
  if (f.purpose !== "ocr" && f.purpose !== "user_data" && f.purpose !== "assistants") bad("document.file_id", `is a file of purpose "${f.purpose}": upload the document with purpose "ocr"`);
  const bytes = await store.fileContent(id);
  if (!bytes) throw new GatewayError("not_found", `document.file_id: no file "${id}"`, { field: "document.file_id" });
  const b = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ext = /\.([a-z0-9]+)$/i.exec(f.filename)?.[1]?.toLowerCase();
  const starts = (s: string) => b.length >= s.length && [...s].every((c, i) => b[i] === c.charCodeAt(0));
  const sniffed = starts("%PDF-")
    ? "application/pdf"
    : sniffImageType(b) || (starts("GIF8") ? "image/gif" : b.length >= 12 && String.fromCharCode(...b.subarray(4, 12)) === "ftypavif" ? "image/avif" : starts("PK\x03\x04") ? (ext === "docx" ? "application/vnd.openxmlformats-officedocument.wordprocessingml.document" : ext === "pptx" ? "application/vnd.openxmlformats-officedocument.presentationml.presentation" : "") : "");
  const mediaType = f.mimetype && OCR_MEDIA_TYPES.has(f.mimetype) ? f.mimetype : sniffed;
  if (!mediaType) bad("document.file_id", `"${f.filename}" is not a document OCR reads (a PDF, an image, a .docx or a .pptx file)`);
  return { mediaType, data: b, name: f.filename };
}

function document(body: Record<string, unknown>, uploaded: UploadedDocument | undefined): { doc: OcrCall["request"]["document"]; name?: string; field: string } {
  const d = body.document;
  if (!isObj(d)) bad("document", 'is required: {"type": "document_url", "document_url": …}, {"type": "image_url", "image_url": …} or {"type": "file", "file_id": …}');
  const type = fileType(d);
  if (type === "file") {
    if (!uploaded) bad("document.file_id", "uploaded file ids are not read here: send the document as a data URL, or a URL the provider can fetch");
    return { doc: { mediaType: uploaded.mediaType, data: uploaded.data }, name: uploaded.name, field: "document.file_id" };
  }
  if (type === "document_url") {
    const url = str(d, "document_url", "document.document_url");
    if (!url) bad("document.document_url", "is required");
    const name = str(d, "document_name", "document.document_name") ?? undefined;
    const bytes = dataUrl(url, "document.document_url");
    return { doc: bytes ?? { url }, ...(name ? { name } : {}), field: "document.document_url" };
  }
  if (type === "image_url") {
    const v = d.image_url;
    const url = typeof v === "string" ? v : isObj(v) && typeof v.url === "string" ? v.url : bad("document.image_url", "must be a URL, or an object with a url");
    const bytes = dataUrl(url, "document.image_url");
    if (bytes && !bytes.mediaType.startsWith("image/")) bad("document.image_url", `must be an image, got ${bytes.mediaType}`);
    return { doc: bytes ?? { url }, field: "document.image_url" };
  }
  return bad("document.type", `must be "document_url", "image_url" or "file", got ${JSON.stringify(type)}`);
}

export function parseOcrRequest(body: unknown, id: string, caller: Caller, uploaded?: UploadedDocument): { call: OcrCall; cache?: { mode: CacheMode; ttlSeconds?: number } } {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k of Object.keys(body)) {
    if (UNSUPPORTED[k] !== undefined && body[k] !== null) bad(k, UNSUPPORTED[k]);
    if (!KNOWN.has(k) && UNSUPPORTED[k] === undefined) bad(k, `Unrecognized request argument supplied: ${k}`);
  }
  const model = str(body, "model", "model") || DEFAULT_OCR_MODEL;
  const { doc, name, field } = document(body, uploaded);
  const pages = body.pages;
  if (pages !== undefined && pages !== null && !(Array.isArray(pages) && pages.every((p) => typeof p === "number"))) bad("pages", "must be an array of page indices (from 0)");
  const tableFormat = str(body, "table_format", "table_format");
  const imageLimit = int(body, "image_limit", "image_limit");
  const imageMinSize = int(body, "image_min_size", "image_min_size");
  const user = str(body, "user", "user") || undefined;
  const opts = signalboxOptions(body, model, user);
  const docNote = annotationFormat(body, "document_annotation_format", "document_annotation");
  const prompt = str(body, "document_annotation_prompt", "document_annotation_prompt");
  if (prompt && !docNote) bad("document_annotation_prompt", "needs document_annotation_format (the shape to extract)");
  const boxNote = annotationFormat(body, "bbox_annotation_format", "bbox_annotation");
  const request: OcrCall["request"] = {
    document: doc,
    ...(name ? { documentName: name } : {}),
    ...(Array.isArray(pages) && pages.length ? { pages: pages as number[] } : {}),
    ...(bool(body, "include_image_base64", "include_image_base64") ? { includeImageBase64: true } : {}),
    ...(imageLimit ? { imageLimit } : {}),
    ...(imageMinSize ? { imageMinSize } : {}),
    ...(tableFormat ? { tableFormat: tableFormat as "markdown" | "html" } : {}),
    ...(bool(body, "extract_header", "extract_header") ? { extractHeader: true } : {}),
    ...(bool(body, "extract_footer", "extract_footer") ? { extractFooter: true } : {}),
    ...(docNote ? { documentAnnotation: { ...docNote, ...(prompt ? { prompt } : {}) } } : {}),
    ...(boxNote ? { bboxAnnotation: boxNote } : {}),
  };
  const call: OcrCall = {
    operation: "ocr",
    id,
    model,
    request,
    estimatedPages: estimatedOcrPages(request),
    routing: opts.routing,
    user,
    tags: opts.tags,
    metadata: stringMetadata(body),
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
    caller,
  };
  validateOcrCall(call, { document: field, mediaType: field, documentUrl: field, pages: "pages", tableFormat: "table_format", imageLimit: "image_limit", imageMinSize: "image_min_size", documentAnnotation: "document_annotation_format", bboxAnnotation: "bbox_annotation_format", routing: "signalbox" });
  if (opts.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", opts.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  return { call, ...(opts.cache ? { cache: opts.cache } : {}) };
}

/** The answer in Mistral's shape, with the gateway's own account under `signalbox`. */
export function ocrJson(a: OcrAnswer, r: OcrCall["request"]) {
  return {
    pages: a.pages.map((p) => ({
      index: p.index,
      markdown: p.markdown,
      images: p.images.map((i) => ({ id: i.id, top_left_x: i.topLeftX, top_left_y: i.topLeftY, bottom_right_x: i.bottomRightX, bottom_right_y: i.bottomRightY, ...(r.includeImageBase64 ? { image_base64: i.imageBase64 ?? null } : {}), ...(r.bboxAnnotation ? { image_annotation: i.imageAnnotation ?? null } : {}) })),
      tables: p.tables ?? [],
      hyperlinks: p.hyperlinks ?? [],
      header: p.header ?? null,
      footer: p.footer ?? null,
      dimensions: p.dimensions ?? null,
    })),
    model: a.providerModel,
    document_annotation: a.documentAnnotation ?? null,
    usage_info: { pages_processed: a.usage.pages ?? a.pages.length, ...(a.usage.annotatedPages ? { pages_processed_annotation: a.usage.annotatedPages } : {}), doc_size_bytes: a.documentSizeBytes ?? null },
    signalbox: accountJson(a, { pages: a.usage.pages ?? 0 }),
  };
}

export async function serveOcr(engine: ChatEngine, body: unknown, r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; cache?: { mode: CacheMode; ttlSeconds?: number }; files?: BatchStore; statusOf(err: unknown): string }): Promise<{ body: unknown; headers: Record<string, string> }> {
  const parsed = parseOcrRequest(body, r.ri.id, r.caller, r.files ? await uploadedDocument(body, r.files, r.caller) : undefined);
  const cache = r.cache ?? parsed.cache;
  const a = await engine.ocr({ call: parsed.call, ri: r.ri, signal: r.signal, ...(cache ? { cache } : {}), statusOf: r.statusOf });
  return { body: ocrJson(a, parsed.call.request), headers: { "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...rateLimitHeaders(a.limits) } };
}
