// Images in one line: `generateImages(client, model, prompt, { n, size, quality })` returns each
// image's bytes (or the URL where the provider hosts it) with its media type and revised prompt;
// `editImages(client, model, prompt, [png], { mask })` edits images the same way.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import type { SignalboxClient } from "./client.ts";
import { GenerateImagesRequestSchema, type GenerateImagesRequest, type GenerateImagesResponse } from "./gen/signalbox/v1/image_pb.ts";

/** Every GenerateImagesRequest field but the model and the prompt, as plain init values. */
export type ImageOptions = Omit<Exclude<MessageInitShape<typeof GenerateImagesRequestSchema>, GenerateImagesRequest>, "$typeName" | "model" | "prompt">;

export interface Image {
  /** The image's bytes (empty when only a URL came back). */
  data: Uint8Array;
  /** "image/png", "image/jpeg" or "image/webp" (with data). */
  mediaType: string;
  /** Where the provider hosts it, when return_url was set and the model returns URLs. */
  url?: string;
  /** The prompt the model used, when it rewrote it. */
  revisedPrompt?: string;
}

export interface GenerateImagesResult {
  images: Image[];
  /** The whole answer: deployment, usage (images, tokens), cost, attempts, trace id. */
  response: GenerateImagesResponse;
}

/**
 * Generate images through the gateway's ImageService. `options` takes any other
 * GenerateImagesRequest field (n, size, quality, style, background, output_format, return_url,
 * routing, guardrails, user, tags, metadata).
 */
export async function generateImages(client: SignalboxClient, model: string, prompt: string, options: ImageOptions = {}, callOptions?: CallOptions): Promise<GenerateImagesResult> {
  const response = await client.images.generate(create(GenerateImagesRequestSchema, { ...options, model, prompt }), callOptions);
  return {
    images: response.images.map((im) => ({
      data: im.data,
      mediaType: im.mediaType,
      ...(im.url ? { url: im.url } : {}),
      ...(im.revisedPrompt ? { revisedPrompt: im.revisedPrompt } : {}),
    })),
    response,
  };
}

/** An image to edit: its bytes, or its bytes with a media type and file name (read from the bytes when not given). */
export type ImageInput = Uint8Array | { data: Uint8Array; mediaType?: string; filename?: string };

const inputOf = (im: ImageInput) => (im instanceof Uint8Array ? { data: im } : im);

/**
 * Edit images through the gateway's ImageService: `images` are the images to start from (GPT
 * Image takes up to 16, DALL·E 2 one square PNG), `options.mask` a PNG whose transparent areas
 * are where the first image is edited, `options.inputFidelity` "high" or "low".
 */
export async function editImages(
  client: SignalboxClient,
  model: string,
  prompt: string,
  images: ImageInput[],
  options: Omit<ImageOptions, "images" | "mask"> & { mask?: ImageInput } = {},
  callOptions?: CallOptions,
): Promise<GenerateImagesResult> {
  const { mask, ...rest } = options;
  return generateImages(client, model, prompt, { ...rest, images: images.map(inputOf), ...(mask ? { mask: inputOf(mask) } : {}) }, callOptions);
}
