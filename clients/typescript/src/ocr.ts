// A document read in one line: `readDocument(client, bytes, "application/pdf")` returns its pages'
// text as Markdown through the gateway's OCR models, with the whole answer (which model answered,
// pages billed, cost, trace id).

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import type { SignalboxClient } from "./client.ts";
import { OcrRequestSchema, type OcrRequest, type OcrResponse } from "./gen/signalbox/v1/ocr_pb.ts";

/** Every OcrRequest field but the document, as plain init values; `model` defaults to the route `ocr`. */
export type OcrOptions = Omit<Exclude<MessageInitShape<typeof OcrRequestSchema>, OcrRequest>, "$typeName" | "document" | "mediaType" | "documentUrl">;

export interface ReadDocumentResult {
  /** Every processed page's Markdown, joined by a blank line, in page order. */
  markdown: string;
  /** The whole answer: pages (index, markdown, images, tables), usage (pages), cost, attempts, trace id. */
  response: OcrResponse;
}

/**
 * Read a document through the gateway's OcrService: its bytes and media type (a PDF, an image, a
 * DOCX or PPTX file), or a public https URL the provider fetches (`document` a URL, no media
 * type). `options` takes any other OcrRequest field (model, document_name, pages,
 * include_image_base64, table_format, extract_header/footer, routing, cache, user, tags,
 * metadata).
 */
export async function readDocument(client: SignalboxClient, document: Uint8Array | URL, mediaType?: string, options: OcrOptions = {}, callOptions?: CallOptions): Promise<ReadDocumentResult> {
  const source = document instanceof URL ? { documentUrl: document.href } : { document, mediaType: mediaType ?? "" };
  const response = await client.ocr.ocr(create(OcrRequestSchema, { model: "ocr", ...options, ...source }), callOptions);
  return { markdown: response.pages.map((p) => p.markdown).join("\n\n"), response };
}
