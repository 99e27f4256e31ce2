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
import type { GeneratedImage, ImageRequest, ImageResult } from "../types.ts";
import { ProviderError } from "../types.ts";
import { isObject } from "./openai-error.ts";

/** The images path of a dialect whose chat path is `chatPath` (same URL family, same query). */
export function imagesPath(chatPath: string): string {
  return chatPath.replace("/chat/completions", "/images/generations");
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
  if (isObject(u) && typeof u.input_tokens === "number" && typeof u.output_tokens === "number") out.usage = { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
  return out;
}
