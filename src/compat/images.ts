// POST /v1/images/generations in OpenAI's shape: `{model, prompt, n, size, quality, style,
// background, output_format, output_compression, response_format, user}` → the engine's image
// operation → `{created, data: [{b64_json | url, revised_prompt?}], size, quality, background,
// output_format, usage?}`, so the official SDK's `images.generate` works against any deployment
// that serves images. The `signalbox` object carries the Connect API's routing options, tags and
// guardrails, as on /v1/chat/completions. Streaming partial images is refused by name.

import type { ChatEngine } from "../engine/chat-engine.ts";
import type { InputImage } from "../providers/types.ts";
import type { ImageAnswer } from "../engine/images.ts";
import type { Caller, ImageCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { sniffImageType, validateImageCall, type ImageFieldNames } from "../server/validate.ts";
import { bad, bool, int, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";
import { rateLimitHeaders } from "./response.ts";

const FIELDS: ImageFieldNames = { n: "n", size: "size", outputCompression: "output_compression", routing: "signalbox", images: "image", mask: "mask", inputFidelity: "input_fidelity" };
const RESPONSE_FORMATS = new Set(["url", "b64_json"]);
const KNOWN = new Set(["model", "prompt", "n", "size", "quality", "style", "background", "output_format", "output_compression", "response_format", "user", "safety_identifier", "moderation", "stream", "partial_images", "metadata", "signalbox"]);

/** Parse and validate one image generation body. */
export function parseImageRequest(body: unknown, id: string, caller: Caller): ImageCall {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k of Object.keys(body)) if (!KNOWN.has(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
  const model = str(body, "model", "model") ?? bad("model", "is required (a route, alias or deployment that serves images)");
  const prompt = str(body, "prompt", "prompt") ?? bad("prompt", "is required");
  if (bool(body, "stream", "stream")) bad("stream", "streaming partial images is not supported by this gateway");
  if (body.partial_images !== undefined && body.partial_images !== null && body.partial_images !== 0) bad("partial_images", "streaming partial images is not supported by this gateway");
  const responseFormat = str(body, "response_format", "response_format");
  if (responseFormat !== undefined && !RESPONSE_FORMATS.has(responseFormat)) bad("response_format", `must be url or b64_json, got "${responseFormat}"`);
  const n = int(body, "n", "n") ?? 1;
  const outputCompression = int(body, "output_compression", "output_compression");
  const user = str(body, "safety_identifier", "safety_identifier") || str(body, "user", "user") || undefined;
  const opt = (k: string) => str(body, k, k);
  const size = opt("size");
  const quality = opt("quality");
  const style = opt("style");
  const background = opt("background");
  const outputFormat = opt("output_format");
  const moderation = opt("moderation");
  if (moderation !== undefined && moderation !== "low" && moderation !== "auto") bad("moderation", `must be low or auto, got "${moderation}"`);
  const opts = signalboxOptions(body, model, user);
  const call: ImageCall = {
    operation: "images",
    id,
    model,
    request: {
      prompt,
      n,
      ...(size ? { size } : {}),
      ...(quality ? { quality } : {}),
      ...(style ? { style } : {}),
      ...(background ? { background } : {}),
      ...(outputFormat ? { outputFormat } : {}),
      ...(outputCompression !== undefined ? { outputCompression } : {}),
      ...(moderation ? { moderation } : {}),
      ...(responseFormat ? { responseFormat: responseFormat as "url" | "b64_json" } : {}),
      ...(user ? { user } : {}),
    },
    routing: opts.routing,
    user,
    tags: opts.tags,
    metadata: stringMetadata(body),
    caller,
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
  };
  validateImageCall(call, FIELDS);
  return call;
}

/**
 * The answer in OpenAI's ImagesResponse shape, and Signalbox's own account alongside. `usage` is
 * OpenAI's for GPT Image (the tokens the provider reported), absent where images are billed per
 * image; `signalbox.images` counts them either way.
 */
export function imagesJson(a: ImageAnswer, asked: ImageCall["request"]) {
  const wantsUrl = asked.responseFormat === "url";
  const reported = a.attempts.at(-1)?.usageSource?.output === "reported" && a.usage.outputTokens > 0;
  return {
    created: a.created,
    data: a.images.map((im) => ({
      // A URL when one was asked for and the provider made one; otherwise the bytes.
      ...(im.url && (wantsUrl || !im.b64) ? { url: im.url } : { b64_json: im.b64 }),
      ...(im.revisedPrompt ? { revised_prompt: im.revisedPrompt } : {}),
    })),
    ...(a.size ? { size: a.size } : {}),
    ...(a.quality ? { quality: a.quality } : {}),
    ...(a.background ? { background: a.background } : {}),
    ...(a.outputFormat ? { output_format: a.outputFormat } : {}),
    ...(reported
      ? {
          usage: {
            input_tokens: a.usage.inputTokens,
            input_tokens_details: { text_tokens: a.usage.inputTokens - (a.usage.imageInputTokens ?? 0), image_tokens: a.usage.imageInputTokens ?? 0 },
            output_tokens: a.usage.outputTokens,
            total_tokens: a.usage.inputTokens + a.usage.outputTokens,
          },
        }
      : {}),
    signalbox: {
      id: a.id,
      deployment: a.deployment,
      provider: a.provider,
      provider_model: a.providerModel,
      route: a.routing.route,
      variant: a.routing.variant,
      attempts: a.attempts.length,
      images: a.usage.images?.count ?? a.images.length,
      cost_nano_usd: a.cost.total,
      trace_id: a.traceId,
      // What the gateway changed (an input guardrail's redactions), as on /v1/chat/completions.
      adjustments: a.adjustments,
    },
  };
}

/** One image request, body already parsed: the engine's answer as the response body and headers. */
export async function serveImages(
  engine: ChatEngine,
  body: unknown,
  r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; statusOf(err: unknown): string },
): Promise<{ body: unknown; headers: Record<string, string> }> {
  const call = parseImageRequest(body, r.ri.id, r.caller);
  const a = await engine.generateImages({ call, ri: r.ri, signal: r.signal, statusOf: r.statusOf });
  return { body: imagesJson(a, call.request), headers: { "x-signalbox-deployment": a.deployment, ...rateLimitHeaders(a.limits) } };
}

/** The largest edit upload: GPT Image takes images of up to 50 MB each; the whole form is held to this. */
export const MAX_IMAGE_EDIT_BYTES = 64 * 1024 * 1024;
// An edit takes the generation's fields but style (DALL·E 3's, which has no edits) and moderation (generations only).
const EDIT_KNOWN = new Set([...[...KNOWN].filter((k) => k !== "style" && k !== "moderation"), "image", "image[]", "mask", "input_fidelity"]);
const FIDELITY = new Set(["high", "low"]);

/** An uploaded image: its type is what its bytes are (a declared type that disagrees is refused). */
async function inputImage(f: File, field: string): Promise<InputImage> {
  const bytes = new Uint8Array(await f.arrayBuffer());
  if (!bytes.length) bad(field, "is empty");
  const mediaType = sniffImageType(bytes);
  const declared = f.type && f.type !== "application/octet-stream" ? f.type.toLowerCase() : "";
  if (!mediaType) bad(field, `must be a PNG, JPEG or WebP image, got ${JSON.stringify(declared || f.name || "a file of no type")}`);
  if (declared && declared !== mediaType && !(declared === "image/jpg" && mediaType === "image/jpeg")) bad(field, `is declared ${declared} but its bytes are ${mediaType}`);
  return { bytes, filename: f.name && f.name !== "blob" ? f.name : `image.${mediaType.slice("image/".length)}`, mediaType };
}

/**
 * POST /v1/images/edits in OpenAI's shape (multipart, as the SDK's `images.edit` sends it): the
 * images to edit as `image` (one) or `image[]` (up to 16), an optional `mask`, and the
 * generation's fields plus `input_fidelity`. The same image operation, with the images attached.
 */
export async function parseImageEdit(raw: Buffer, contentType: string | undefined, id: string, caller: Caller): Promise<ImageCall> {
  if (!contentType?.toLowerCase().startsWith("multipart/form-data")) bad("body", "must be multipart/form-data (the images to edit and the prompt), as OpenAI's image edits take it");
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) as Uint8Array<ArrayBuffer>, { headers: { "content-type": contentType } }).formData();
  } catch {
    return bad("body", "could not parse the multipart/form-data body");
  }
  for (const k of new Set(form.keys())) if (!EDIT_KNOWN.has(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
  const files = [...form.getAll("image"), ...form.getAll("image[]")];
  if (!files.length) bad("image", "is required: the image (or images, as image[]) to edit");
  if (files.length > 16) bad("image", `at most 16 images, got ${files.length}`);
  const images: InputImage[] = [];
  for (const f of files) {
    if (typeof f === "string") return bad("image", "must be a file, not a text field");
    images.push(await inputImage(f, "image"));
  }
  const maskField = form.getAll("mask");
  if (maskField.length > 1) bad("mask", "one mask at most");
  const maskFile = maskField[0];
  if (maskFile !== undefined && typeof maskFile === "string") bad("mask", "must be a file, not a text field");
  const mask = maskFile ? await inputImage(maskFile as File, "mask") : undefined;
  if (mask && mask.mediaType !== "image/png") bad("mask", "must be a PNG (its transparent areas are where the image is edited)");
  const inputFidelity = form.get("input_fidelity");
  if (inputFidelity !== null && (typeof inputFidelity !== "string" || !FIDELITY.has(inputFidelity))) bad("input_fidelity", `must be high or low, got ${JSON.stringify(inputFidelity)}`);
  // The text fields as a JSON body, so that they are read (and refused) exactly as a generation's.
  const body: Record<string, unknown> = {};
  const json = (k: string) => {
    const v = form.get(k);
    if (typeof v !== "string") return undefined;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return bad(k, "must be a JSON object");
    }
  };
  for (const k of ["model", "prompt", "size", "quality", "background", "output_format", "response_format", "user", "safety_identifier"]) {
    const v = form.get(k);
    if (typeof v === "string") body[k] = v;
  }
  for (const k of ["n", "output_compression", "partial_images"]) {
    const v = form.get(k);
    if (typeof v === "string") {
      const n = Number(v);
      if (!Number.isInteger(n)) bad(k, `must be an integer, got "${v}"`);
      body[k] = n;
    }
  }
  const stream = form.get("stream");
  if (stream === "true") bad("stream", "streaming partial images is not supported by this gateway");
  for (const k of ["signalbox", "metadata"]) if (form.has(k)) body[k] = json(k);
  const call = parseImageRequest(body, id, caller);
  call.request = { ...call.request, images, ...(mask ? { mask } : {}), ...(inputFidelity ? { inputFidelity: inputFidelity as string } : {}) };
  validateImageCall(call, FIELDS);
  return call;
}

/** One /v1/images/edits request, the raw multipart body read: the engine's answer as the response body and headers. */
export async function serveImageEdit(
  engine: ChatEngine,
  raw: Buffer,
  contentType: string | undefined,
  r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; statusOf(err: unknown): string },
): Promise<{ body: unknown; headers: Record<string, string> }> {
  const call = await parseImageEdit(raw, contentType, r.ri.id, r.caller);
  const a = await engine.generateImages({ call, ri: r.ri, signal: r.signal, statusOf: r.statusOf });
  return { body: imagesJson(a, call.request), headers: { "x-signalbox-deployment": a.deployment, ...rateLimitHeaders(a.limits) } };
}
