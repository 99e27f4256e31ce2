// ImageService: validate, then hand the call to the engine's image operation (the same one
// /v1/images/generations uses) and translate its answer into protobuf.

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GenerateImagesResponseSchema, ImageService, type GenerateImagesResponse } from "../../gen/signalbox/v1/image_pb.ts";
import type { ChatEngine } from "../engine/chat-engine.ts";
import type { ImageAnswer } from "../engine/images.ts";
import { callerKey } from "./auth.ts";
import { statusOf } from "./chat-service.ts";
import { requestInfoKey } from "./context.ts";
import { accountToPb, toImageCall } from "./convert.ts";
import { toConnectError } from "./errors.ts";
import { validateImageCall } from "./validate.ts";

const MEDIA_TYPES: Record<string, string> = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" };

export function imageAnswerToPb(a: ImageAnswer): GenerateImagesResponse {
  const mediaType = MEDIA_TYPES[a.outputFormat ?? "png"] ?? "image/png";
  return create(GenerateImagesResponseSchema, {
    ...accountToPb(a),
    images: a.images.map((im) => ({
      ...(im.b64 ? { data: Buffer.from(im.b64, "base64"), mediaType } : {}),
      ...(im.url ? { url: im.url } : {}),
      ...(im.revisedPrompt ? { revisedPrompt: im.revisedPrompt } : {}),
    })),
    size: a.size ?? "",
    quality: a.quality ?? "",
    background: a.background ?? "",
    outputFormat: a.outputFormat ?? "",
  });
}

export function imageService(engine: ChatEngine): Partial<ServiceImpl<typeof ImageService>> {
  return {
    async generate(req, ctx) {
      const ri = ctx.values.get(requestInfoKey)!;
      try {
        const call = toImageCall(req, ri.id, ctx.values.get(callerKey));
        validateImageCall(call);
        const a = await engine.generateImages({
          call,
          ri,
          signal: ctx.signal,
          statusOf: (err) => statusOf(err === undefined ? undefined : toConnectError(err, ctx.signal, ri.traceId), ctx),
        });
        return imageAnswerToPb(a);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ri.traceId);
      }
    },
  };
}
