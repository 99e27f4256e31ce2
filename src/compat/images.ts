// POST /v1/images/generations in OpenAI's shape: `{model, prompt, n, size, quality, style,
// background, output_format, output_compression, response_format, user}` → the engine's image
// operation → `{created, data: [{b64_json | url, revised_prompt?}], size, quality, background,
// output_format, usage?}`, so the official SDK's `images.generate` works against any deployment
// that serves images. The `signalbox` object carries the Connect API's routing options, tags and
// guardrails, as on /v1/chat/completions. Streaming partial images is refused by name.

import type { ChatEngine } from "../engine/chat-engine.ts";
import type { ImageAnswer } from "../engine/images.ts";
import type { Caller, ImageCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { validateImageCall, type ImageFieldNames } from "../server/validate.ts";
import { bad, bool, int, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";

const FIELDS: ImageFieldNames = { n: "n", size: "size", outputCompression: "output_compression", routing: "signalbox" };
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
            input_tokens_details: { text_tokens: a.usage.inputTokens, image_tokens: 0 },
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
  return { body: imagesJson(a, call.request), headers: { "x-signalbox-deployment": a.deployment } };
}
