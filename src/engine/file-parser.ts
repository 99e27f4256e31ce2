// How the PDFs of a chat request are read before the model sees them, before it is planned:
// OpenRouter's `file-parser` plugin on /v1/chat/completions (`plugins: [{id: "file-parser", pdf:
// {engine}}]`), ChatRequest.pdf_reader in Connect.
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
import type { ChatEngine } from "./chat-engine.ts";
import { pdfText } from "../guardrails/pdf-text.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall, PdfReading } from "../router/types.ts";
import { newRequestId, type RequestInfo } from "../server/context.ts";
import { toOcrCall } from "../server/convert.ts";
import { validateOcrCall } from "../server/validate.ts";

/** The route (or alias or deployment) an OCR request that names none takes, and the one `mistral-ocr` reads PDFs through. */
export const DEFAULT_OCR_MODEL = "ocr";

export const PDF_ENGINES: readonly string[] = ["native", "pdf-text", "mistral-ocr"];

/** Tag of the OCR requests the plugin makes. */
const FILE_PARSER_TAG = "file-parser";

export interface FileParserDeps {
  engine: ChatEngine;
  ri: RequestInfo;
  signal: AbortSignal;
  statusOf(err: unknown): string;
}

// Choices of one request (n > 1) share its request: its PDFs are read once.
const reading = new WeakMap<object, Promise<void>>();

/** Replace each PDF of the call's messages by its text, read as `call.pdfReader` says, once per request. */
export function readPdfs(call: ChatCall, how: PdfReading, d: FileParserDeps): Promise<void> {
  let p = reading.get(call.request);
  if (!p) reading.set(call.request, (p = readAll(call, how, d)));
  return p;
}

async function readAll(call: ChatCall, how: PdfReading, d: FileParserDeps): Promise<void> {
  const reads: Promise<void>[] = [];
  call.request.messages.forEach((m, i) => {
    m.content.forEach((p, j) => {
      if (p.type !== "file" || p.mediaType !== "application/pdf") return;
      const at = `messages[${i}].content[${j}]`;
      const name = p.filename || "document.pdf";
      reads.push(
        (how.engine === "pdf-text" ? viaTextLayer(p.data, at) : viaOcr(call, p.data, name, how.field, d)).then((text) => {
          m.content[j] = { type: "text", text: `${name}:\n${text}` };
        }),
      );
    });
  });
  await Promise.all(reads);
}

async function viaTextLayer(data: Uint8Array, at: string): Promise<string> {
  const r = await pdfText(data);
  if ("error" in r) throw new GatewayError("invalid_argument", `${at}: ${r.error} (the pdf-text engine reads a PDF's text layer)`, { field: at });
  if (!r.text.trim()) throw new GatewayError("invalid_argument", `${at}: the PDF has no text layer (a scan?): read it with OCR ("mistral-ocr") or send it as it is ("native")`, { field: at });
  return r.text;
}

async function viaOcr(call: ChatCall, data: Uint8Array, name: string, field: string, d: FileParserDeps): Promise<string> {
  const ri: RequestInfo = { id: newRequestId(), traceId: d.ri.traceId, arrivedAt: performance.now(), ...(d.ri.otel ? { otel: d.ri.otel } : {}) };
  const req = create(OcrRequestSchema, { model: DEFAULT_OCR_MODEL, document: data, mediaType: "application/pdf", documentName: name, user: call.user ?? "", tags: [...call.tags, FILE_PARSER_TAG], metadata: call.metadata });
  const ocr = toOcrCall(req, ri.id, call.caller);
  validateOcrCall(ocr);
  try {
    const a = await d.engine.ocr({ call: ocr, ri, signal: d.signal, statusOf: d.statusOf });
    return a.pages.map((p) => p.markdown).join("\n\n");
  } catch (err) {
    if (err instanceof GatewayError && err.code === "not_found") {
      throw new GatewayError("invalid_argument", `${field}: "mistral-ocr" reads PDFs through the route, alias or deployment "${DEFAULT_OCR_MODEL}", which this gateway does not have (${err.message})`, { field });
    }
    throw err;
  }
}
