// OcrService: validate, then hand the call to the engine's OCR operation (the same one /v1/ocr
// uses) and translate its answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { OcrResponseSchema, OcrService, type OcrResponse } from "../../gen/signalbox/v1/ocr_pb.ts";
import { MAX_CACHE_TTL_SECONDS, type ChatEngine } from "../engine/chat-engine.ts";
import type { OcrAnswer } from "../engine/ocr.ts";
import { callerKey } from "./auth.ts";
import { CACHE_MODE, statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toOcrCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateCacheTtl, validateOcrCall } from "./validate.ts";

export function ocrToPb(a: OcrAnswer): OcrResponse {
  return create(OcrResponseSchema, {
    ...accountToPb(a),
    pages: a.pages.map((p) => ({
      index: p.index,
      markdown: p.markdown,
      images: p.images.map((i) => ({ id: i.id, topLeftX: i.topLeftX, topLeftY: i.topLeftY, bottomRightX: i.bottomRightX, bottomRightY: i.bottomRightY, imageBase64: i.imageBase64 ?? "", imageAnnotation: i.imageAnnotation ?? "" })),
      tables: p.tables ?? [],
      hyperlinks: p.hyperlinks ?? [],
      header: p.header ?? "",
      footer: p.footer ?? "",
      dpi: p.dimensions?.dpi ?? 0,
      width: p.dimensions?.width ?? 0,
      height: p.dimensions?.height ?? 0,
    })),
    documentSizeBytes: BigInt(a.documentSizeBytes ?? 0),
    documentAnnotation: a.documentAnnotation ?? "",
    cacheHit: a.cache === "hit",
  });
}

export function ocrService(engine: ChatEngine): Partial<ServiceImpl<typeof OcrService>> {
  return {
    async ocr(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toOcrCall(req, ri.id, ctx.values.get(callerKey));
        validateOcrCall(call);
        validateCacheTtl("cache.ttl_seconds", req.cache?.ttlSeconds || undefined, MAX_CACHE_TTL_SECONDS);
        const cache = req.cache ? { mode: CACHE_MODE[req.cache.mode] ?? "default", ttlSeconds: req.cache.ttlSeconds || undefined } : undefined;
        const a = await engine.ocr({ call, ri, signal: ctx.signal, ...(cache ? { cache } : {}), statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx) });
        return ocrToPb(a);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
