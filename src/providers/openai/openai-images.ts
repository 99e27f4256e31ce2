// The Images API (`POST /images/generations`) for OpenAI, Azure OpenAI (its deployments path and
// api-version, from the connection's dialect) and OpenAI-compatible servers. Pure translation.
//
// Each model family takes its own fields (the installed SDK's ImageGenerateParams): GPT Image
// models take size, quality, background, output_format and output_compression and always answer
// with the bytes (they refuse `response_format`); DALL·E 3 takes size, quality (standard, hd),
// style and response_format, one image at a time; DALL·E 2 size and response_format. Fields the
// model family does not take are left out rather than sent to be refused; an unknown model (an
// OpenAI-compatible server's) is sent every field the caller gave.

import { tryJson } from "../headers.ts";
import type { GeneratedImage, HttpRequestSpec, ImageRequest, ImageResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { multipartBody } from "./openai-audio.ts";
import { isObject } from "./openai-error.ts";

/** The images path of a dialect whose chat path is `chatPath` (same URL family, same query): generations, or edits. */
export function imagesPath(chatPath: string, kind: "generations" | "edits" = "generations"): string {
  return chatPath.replace("/chat/completions", `/images/${kind}`);
}

type Family = "gpt-image" | "dall-e-3" | "dall-e-2" | "other";

export function imageFamily(model: string): Family {
  const id = (model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model).toLowerCase();
  if (id.startsWith("gpt-image") || id.startsWith("chatgpt-image")) return "gpt-image";
  if (id.startsWith("dall-e-3")) return "dall-e-3";
  if (id.startsWith("dall-e-2")) return "dall-e-2";
  return "other";
}

/** The request body for `model` (the deployment's model, or the Azure deployment's base model when `family` is given). */
export function buildOpenAIImageBody(req: ImageRequest, family: Family = imageFamily(req.model)): Record<string, unknown> {
  const body: Record<string, unknown> = { model: req.model, prompt: req.prompt };
  if (req.n !== 1) body.n = req.n;
  if (req.size !== undefined) body.size = req.size;
  const all = family === "other";
  if (req.quality !== undefined && (all || family !== "dall-e-2")) body.quality = req.quality;
  if (req.style !== undefined && (all || family === "dall-e-3")) body.style = req.style;
  if (all || family === "gpt-image") {
    if (req.background !== undefined) body.background = req.background;
    if (req.outputFormat !== undefined) body.output_format = req.outputFormat;
    if (req.outputCompression !== undefined) body.output_compression = req.outputCompression;
    if (req.moderation !== undefined) body.moderation = req.moderation;
  }
  // GPT Image always answers with the bytes and refuses the field; DALL·E defaults to a URL, so
  // the bytes are asked for unless the caller wants the URL.
  if (family !== "gpt-image") body.response_format = req.responseFormat ?? "b64_json";
  if (req.user !== undefined) body.user = req.user;
  return body;
}

/** Parse a 2xx body: the images in order, what the provider says it made, and token usage (GPT Image). */
export function parseOpenAIImageResponse(body: string, req: ImageRequest): ImageResult {
  const json = tryJson(body);
  if (!isObject(json) || !Array.isArray(json.data)) throw new ProviderError({ kind: "server_error", message: "upstream sent an images answer without data" });
  const images: GeneratedImage[] = json.data.map((d: unknown, i: number) => {
    if (!isObject(d)) throw new ProviderError({ kind: "server_error", message: `upstream sent image ${i} that is not an object` });
    const img: GeneratedImage = {};
    if (typeof d.b64_json === "string" && d.b64_json !== "") img.b64 = d.b64_json;
    if (typeof d.url === "string" && d.url !== "") img.url = d.url;
    if (!img.b64 && !img.url) throw new ProviderError({ kind: "server_error", message: `upstream sent image ${i} with neither b64_json nor url` });
    if (typeof d.revised_prompt === "string" && d.revised_prompt !== "") img.revisedPrompt = d.revised_prompt;
    return img;
  });
  if (images.length === 0) throw new ProviderError({ kind: "server_error", message: `upstream sent no images for n=${req.n}` });
  const out: ImageResult = { model: "", images };
  if (typeof json.created === "number") out.created = json.created;
  for (const [k, f] of [
    ["size", "size"],
    ["quality", "quality"],
    ["background", "background"],
    ["outputFormat", "output_format"],
  ] as const) {
    if (typeof json[f] === "string") out[k] = json[f] as string;
  }
  const u = json.usage;
  if (isObject(u) && typeof u.input_tokens === "number" && typeof u.output_tokens === "number") {
    out.usage = { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
    // An edit's input images: their tokens are priced apart (GPT Image's image-input rate).
    const d = u.input_tokens_details;
    if (isObject(d) && typeof d.image_tokens === "number" && d.image_tokens > 0) out.usage.imageInputTokens = Math.min(d.image_tokens, u.input_tokens);
  }
  return out;
}

/**
 * An edit (`POST /images/edits`, multipart, as the SDK's images.edit sends it): GPT Image takes up
 * to 16 images as repeated `image[]` parts and `input_fidelity`; DALL·E 2 one square PNG as
 * `image`. DALL·E 3 has no edits: refused unsent, so the router tries the next deployment.
 */
export function buildOpenAIImageEdit(req: ImageRequest, path: string, headers: Record<string, string>, family: Family = imageFamily(req.model)): HttpRequestSpec {
  const images = req.images ?? [];
  if (family === "dall-e-3") throw new ProviderError({ kind: "model_not_found", message: `${req.model} does not edit images (gpt-image-1 and dall-e-2 do)`, unsent: true });
  if (family === "dall-e-2" && (images.length > 1 || images.some((im) => im.mediaType !== "image/png"))) {
    throw new ProviderError({ kind: "model_not_found", message: `${req.model} edits one PNG at a time`, unsent: true });
  }
  const body = buildOpenAIImageBody(req, family);
  if (req.inputFidelity !== undefined && (family === "gpt-image" || family === "other")) body.input_fidelity = req.inputFidelity;
  // The edit endpoint takes no style (DALL·E 3's) and no moderation level (generations only).
  delete body.style;
  delete body.moderation;
  const fields: [string, string][] = Object.entries(body).map(([k, v]) => [k, String(v)]);
  const name = family === "dall-e-2" ? "image" : "image[]";
  const files = images.map((im) => ({ name, filename: im.filename, mediaType: im.mediaType, bytes: im.bytes }));
  if (req.mask) files.push({ name: "mask", filename: req.mask.filename, mediaType: req.mask.mediaType, bytes: req.mask.bytes });
  const { body: bytes, contentType } = multipartBody(fields, files);
  return { method: "POST", path, headers: { ...headers, accept: "application/json", "content-type": contentType }, bytes };
}
