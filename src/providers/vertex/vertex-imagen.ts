// Imagen on Vertex AI: `:predict` with one instance (the prompt) and up to four samples a call,
// as @google/genai's generateImages sends it. Predictions carry each image's bytes and media type,
// and the prompt as Imagen rewrote it; a prediction filtered by the safety settings carries only
// its reason. Billed per image (the catalog's per-image prices). Pure translation.

import { geminiAspectRatio } from "../gemini/gemini-images.ts";
import { parseGeminiResponse } from "../gemini/gemini-response.ts";
import type { GeneratedImage, ImageRequest, ImageResult } from "../types.ts";
import { ProviderError } from "../types.ts";

/** Imagen's aspect ratios. */
const IMAGEN_RATIOS: [string, number][] = [
  ["1:1", 1],
  ["3:4", 3 / 4],
  ["4:3", 4 / 3],
  ["9:16", 9 / 16],
  ["16:9", 16 / 9],
];

/** The most samples one :predict makes. */
export const IMAGEN_SAMPLES_PER_CALL = 4;

export const isImagen = (model: string) => /^imagen-/i.test(model);

const MIME: Record<string, string> = { png: "image/png", jpeg: "image/jpeg", webp: "image/webp" };

export function buildImagenBody(req: ImageRequest): { instances: { prompt: string }[]; parameters: Record<string, unknown> } {
  // Imagen edits through its own edit models and reference images, not wired here: refused unsent.
  if (req.images?.length) throw new ProviderError({ kind: "model_not_found", message: `${req.model} is not used for image edits by this gateway`, unsent: true });
  const parameters: Record<string, unknown> = { sampleCount: req.n };
  const ratio = geminiAspectRatio(req.size, IMAGEN_RATIOS);
  if (ratio) parameters.aspectRatio = ratio;
  // A square image larger than 1024 a side asks for Imagen's 2K output.
  if (/^(\d+)x(\d+)$/.test(req.size ?? "") && Math.max(...req.size!.split("x").map(Number)) > 1024) parameters.sampleImageSize = "2K";
  const mimeType = req.outputFormat ? MIME[req.outputFormat] : undefined;
  if (mimeType) parameters.outputOptions = { mimeType, ...(req.outputCompression !== undefined && mimeType === "image/jpeg" ? { compressionQuality: req.outputCompression } : {}) };
  // Only the prompt's filtered images are explained; the others come back as bytes.
  parameters.includeRaiReason = true;
  return { instances: [{ prompt: req.prompt }], parameters };
}

/** Parse a 2xx body. Every image filtered is content_filtered (nothing made, nothing billed). */
export function parseImagenResponse(body: string, secrets: string[] = []): ImageResult {
  const r = parseGeminiResponse(body, {}, secrets) as { predictions?: unknown };
  const predictions = Array.isArray(r.predictions) ? r.predictions : [];
  const images: GeneratedImage[] = [];
  const filtered: string[] = [];
  let mime: string | undefined;
  for (const p of predictions as Record<string, unknown>[]) {
    if (p && typeof p.bytesBase64Encoded === "string" && p.bytesBase64Encoded !== "") {
      images.push({ b64: p.bytesBase64Encoded, ...(typeof p.prompt === "string" && p.prompt !== "" ? { revisedPrompt: p.prompt } : {}) });
      if (typeof p.mimeType === "string") mime ??= p.mimeType;
    } else if (p && typeof p.raiFilteredReason === "string") filtered.push(p.raiFilteredReason);
  }
  if (images.length === 0) {
    throw new ProviderError({ kind: "content_filtered", status: 200, message: `vertex: no image made${filtered.length ? ` (${filtered[0]})` : ""}`, retryable: false });
  }
  return { model: "", images, outputFormat: mime === "image/jpeg" ? "jpeg" : mime === "image/webp" ? "webp" : "png" };
}
