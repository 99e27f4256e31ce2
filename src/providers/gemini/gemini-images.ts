// Image generation on Gemini's image models (gemini-2.5-flash-image, gemini-3-pro-image-preview,
// …): generateContent with `responseModalities: ["IMAGE"]`, the picture coming back as an
// inlineData part. Shared by the Gemini API adapter and Vertex AI (same body, its own URL). One
// call makes one image: n images are n calls (ProviderAdapter.imagesPerCall). Pure translation.

import type { ImageRequest, ImageResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { convertGeminiUsage, firstCandidate, parseGeminiResponse, promptBlockedError } from "./gemini-response.ts";
import type { GeminiRequest } from "./gemini-api-types.ts";

/** The aspect ratios Gemini's image models take. */
const RATIOS: [label: string, value: number][] = [
  ["1:1", 1],
  ["2:3", 2 / 3],
  ["3:2", 3 / 2],
  ["3:4", 3 / 4],
  ["4:3", 4 / 3],
  ["4:5", 4 / 5],
  ["5:4", 5 / 4],
  ["9:16", 9 / 16],
  ["16:9", 16 / 9],
  ["21:9", 21 / 9],
];

/**
 * WIDTHxHEIGHT as the nearest of `ratios` (by log ratio; Gemini's image models' by default);
 * auto or absent: none (the model's default, square).
 */
export function geminiAspectRatio(size: string | undefined, ratios: readonly [string, number][] = RATIOS): string | undefined {
  const m = /^(\d+)x(\d+)$/.exec(size ?? "");
  if (!m) return undefined;
  const want = Math.log(Number(m[1]) / Number(m[2]));
  let best = ratios[0];
  for (const r of ratios) if (Math.abs(Math.log(r[1]) - want) < Math.abs(Math.log(best[1]) - want)) best = r;
  return best[0];
}

/**
 * The body of one call: the prompt as the user turn (after the images to edit, as inline data: how
 * Gemini's image models edit), image output only, the aspect ratio of the size asked for. A mask
 * has no place in Gemini's request: refused unsent, so the router tries the next deployment.
 */
export function buildGeminiImageBody(req: ImageRequest): GeminiRequest & { generationConfig: Record<string, unknown> } {
  if (req.mask) throw new ProviderError({ kind: "model_not_found", message: `${req.model} takes no mask (describe the edit in the prompt)`, unsent: true });
  const aspectRatio = geminiAspectRatio(req.size);
  const images = (req.images ?? []).map((im) => ({ inlineData: { mimeType: im.mediaType, data: Buffer.from(im.bytes.buffer, im.bytes.byteOffset, im.bytes.byteLength).toString("base64") } }));
  return {
    contents: [{ role: "user", parts: [...images, { text: req.prompt }] }],
    generationConfig: { responseModalities: ["IMAGE"], ...(aspectRatio ? { imageConfig: { aspectRatio } } : {}) },
  };
}

/**
 * One call's answer: its inlineData images, the prompt and image tokens Gemini counted. A blocked
 * prompt or a candidate with no image (finishReason IMAGE_SAFETY, NO_IMAGE, …) is content_filtered,
 * billed on what Gemini counted.
 */
export function parseGeminiImageResponse(body: string, secrets: string[] = []): ImageResult {
  const r = parseGeminiResponse(body, {}, secrets);
  const blocked = promptBlockedError(r);
  if (blocked) throw blocked;
  const c = firstCandidate(r);
  const images: ImageResult["images"] = [];
  let mime: string | undefined;
  for (const p of Array.isArray(c?.content?.parts) ? c.content.parts : []) {
    const d = (p as { inlineData?: { mimeType?: unknown; data?: unknown } } | null)?.inlineData;
    if (d && typeof d.data === "string" && d.data !== "" && typeof d.mimeType === "string" && d.mimeType.startsWith("image/")) {
      images.push({ b64: d.data });
      mime ??= d.mimeType;
    }
  }
  const usage = r.usageMetadata !== null && typeof r.usageMetadata === "object" ? convertGeminiUsage(r.usageMetadata) : undefined;
  if (images.length === 0) {
    const reason = typeof c?.finishReason === "string" ? c.finishReason : "no finishReason";
    throw new ProviderError({
      kind: "content_filtered",
      status: 200,
      message: `gemini: no image in the answer (${reason}${typeof c?.finishMessage === "string" ? `: ${c.finishMessage}` : ""})`,
      providerCode: reason,
      retryable: false,
      ...(usage ? { usage } : {}),
    });
  }
  const out: ImageResult = { model: typeof r.modelVersion === "string" ? r.modelVersion : "", images, outputFormat: mime === "image/jpeg" ? "jpeg" : mime === "image/webp" ? "webp" : "png" };
  if (usage) out.usage = { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens };
  return out;
}
