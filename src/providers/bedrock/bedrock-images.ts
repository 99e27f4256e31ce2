// Image generation on Bedrock through InvokeModel (POST /model/{id}/invoke): Amazon Nova Canvas and
// Titan Image Generator, which share one body (`taskType: TEXT_IMAGE`, `textToImageParams`,
// `imageGenerationConfig`) and answer `{images: [base64…], error}`. Up to five images a call.
// Billed per image (the catalog's prices by quality and size). Pure translation.

import { tryJson } from "../headers.ts";
import type { HttpRequestSpec, ImageRequest, ImageResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { bedrockModelPath } from "./bedrock-path.ts";

/** The most images one InvokeModel call makes. */
export const BEDROCK_IMAGES_PER_CALL = 5;

/** Premium quality for the gateway's high-quality names; standard otherwise. */
const PREMIUM = new Set(["premium", "hd", "high"]);

/** A side in Nova Canvas's and Titan's range (320–4096) and a multiple of 16. */
const side = (v: number) => Math.min(4096, Math.max(320, Math.round(v / 16) * 16));

export function buildBedrockImageRequest(req: ImageRequest): HttpRequestSpec {
  // Titan and Nova Canvas edit through other task types (inpainting, variations) not wired here: refused unsent.
  if (req.images?.length) throw new ProviderError({ kind: "model_not_found", message: `${req.model} is not used for image edits by this gateway`, unsent: true });
  const m = /^(\d+)x(\d+)$/.exec(req.size ?? "");
  const [width, height] = m ? [side(Number(m[1])), side(Number(m[2]))] : [1024, 1024];
  const body = {
    taskType: "TEXT_IMAGE",
    textToImageParams: { text: req.prompt },
    imageGenerationConfig: { numberOfImages: req.n, width, height, quality: PREMIUM.has(req.quality ?? "") ? "premium" : "standard" },
  };
  return { method: "POST", path: `${bedrockModelPath(req.model)}/invoke`, headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) };
}

/** Parse a 2xx body: the images, at the size sent. `error` with no images is content_filtered. */
export function parseBedrockImageResponse(body: string, req: ImageRequest, label: string): ImageResult {
  const json = tryJson(body) as { images?: unknown; error?: unknown } | undefined;
  if (!json || typeof json !== "object") throw new ProviderError({ kind: "server_error", message: `${label}: the image answer is not a JSON object` });
  const images = Array.isArray(json.images) ? json.images.filter((i): i is string => typeof i === "string" && i !== "") : [];
  if (images.length === 0) {
    const why = typeof json.error === "string" && json.error !== "" ? json.error : "no images in the answer";
    throw new ProviderError({ kind: "content_filtered", status: 200, message: `${label}: ${why}`, retryable: false });
  }
  const spec = JSON.parse(buildBedrockImageRequest(req).body!) as { imageGenerationConfig: { width: number; height: number; quality: string } };
  const c = spec.imageGenerationConfig;
  return { model: "", images: images.map((b64) => ({ b64 })), size: `${c.width}x${c.height}`, quality: c.quality, outputFormat: "png" };
}

/** Whether a Bedrock model id (an inference-profile prefix or ARN allowed) is an image model. */
export function isBedrockImageModel(model: string): boolean {
  return /(^|[./])(amazon\.nova-canvas|amazon\.titan-image-generator)/.test(model);
}
