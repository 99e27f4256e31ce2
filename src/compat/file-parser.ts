// OpenRouter's `file-parser` plugin (`plugins: [{id: "file-parser", pdf: {engine}}]`): how the PDFs
// of a chat request are read before the model sees them.
// - `native` (the default): each provider gets the PDF in its own form (a model with vision).
// - `pdf-text`: the gateway reads the PDF's text layer (pdf.js) and sends that text instead, free:
//   any model can take it, vision or not; a scanned PDF has no text to read.
// - `mistral-ocr`: the PDF goes through the gateway's OCR route (the route, alias or deployment
//   named `ocr`: Mistral OCR, or whatever the platform routes OCR to, with its fallbacks) and the
//   pages' Markdown is sent instead. That read is the caller's own OCR request: its limits,
//   budgets and usage record (tagged `file-parser`, in the chat request's trace), billed per page.
// Either way the part becomes a text part, "<file name>:\n<text>", as a text document is sent to
// providers without a document form; the planner then no longer needs vision for it.

import { create } from "@bufbuild/protobuf";
import { OcrRequestSchema } from "../../gen/signalbox/v1/ocr_pb.ts";
import type { ChatEngine } from "../engine/chat-engine.ts";
import { pdfText } from "../guardrails/pdf-text.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall } from "../router/types.ts";
import { newRequestId, type RequestInfo } from "../server/context.ts";
import { toOcrCall } from "../server/convert.ts";
import { validateOcrCall } from "../server/validate.ts";
import { DEFAULT_OCR_MODEL } from "./ocr.ts";

export type PdfEngine = "pdf-text" | "mistral-ocr";
export const PDF_ENGINES: readonly string[] = ["native", "pdf-text", "mistral-ocr"];

/** Tag of the OCR requests the plugin makes. */
export const FILE_PARSER_TAG = "file-parser";

export interface FileParserDeps {
  engine: ChatEngine;
  ri: RequestInfo;
  signal: AbortSignal;
  statusOf(err: unknown): string;
  /** Where the engine was named, for errors. */
  field: string;
}

/** Replace each PDF of the call's messages by its text, read by `how`; returns how many were read. */
export async function readPdfs(call: ChatCall, how: PdfEngine, d: FileParserDeps): Promise<number> {
  const reads: Promise<void>[] = [];
  call.request.messages.forEach((m, i) => {
    m.content.forEach((p, j) => {
      if (p.type !== "file" || p.mediaType !== "application/pdf") return;
      const at = `messages[${i}].content[${j}]`;
      const name = p.filename || "document.pdf";
      reads.push(
        (how === "pdf-text" ? viaTextLayer(p.data, at) : viaOcr(call, p.data, name, d)).then((text) => {
          m.content[j] = { type: "text", text: `${name}:\n${text}` };
        }),
      );
    });
  });
  await Promise.all(reads);
  return reads.length;
}

async function viaTextLayer(data: Uint8Array, at: string): Promise<string> {
  const r = await pdfText(data);
  if ("error" in r) throw new GatewayError("invalid_argument", `${at}: ${r.error} (the pdf-text engine reads a PDF's text layer)`, { field: at });
  return r.text;
}

async function viaOcr(call: ChatCall, data: Uint8Array, name: string, d: FileParserDeps): Promise<string> {
  const ri: RequestInfo = { id: newRequestId(), traceId: d.ri.traceId, arrivedAt: performance.now(), ...(d.ri.otel ? { otel: d.ri.otel } : {}) };
  const req = create(OcrRequestSchema, { model: DEFAULT_OCR_MODEL, document: data, mediaType: "application/pdf", documentName: name, user: call.user ?? "", tags: [...call.tags, FILE_PARSER_TAG], metadata: call.metadata });
  const ocr = toOcrCall(req, ri.id, call.caller);
  validateOcrCall(ocr);
  try {
    const a = await d.engine.ocr({ call: ocr, ri, signal: d.signal, statusOf: d.statusOf });
    return a.pages.map((p) => p.markdown).join("\n\n");
  } catch (err) {
    if (err instanceof GatewayError && err.code === "not_found") {
      throw new GatewayError("invalid_argument", `${d.field}: "mistral-ocr" reads PDFs through the route, alias or deployment "${DEFAULT_OCR_MODEL}", which this gateway does not have (${err.message})`, { field: d.field });
    }
    throw err;
  }
}
