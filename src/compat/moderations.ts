// POST /v1/moderations in OpenAI's shape: `{input, model}` → `{id, model, results: [{flagged,
// categories, category_scores, category_applied_input_types?}]}`, so the official SDK's
// `moderations.create` works against any deployment that serves moderation (and a webhook
// guardrail with `format: openai` can point at the gateway itself). `input` is a string, an array
// of strings (one result each), or an array of text and image_url parts (one result for all).
// The `signalbox` object carries routing options and tags, as on /v1/chat/completions.

import type { ChatEngine } from "../engine/chat-engine.ts";
import type { ModerationAnswer } from "../engine/moderation.ts";
import type { Caller, ModerationCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { validateModerationCall } from "../server/validate.ts";
import { bad, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";
import { rateLimitHeaders } from "./response.ts";

const KNOWN = new Set(["model", "input", "user", "metadata", "signalbox"]);

export function parseModerationRequest(body: unknown, id: string, caller: Caller): ModerationCall {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k of Object.keys(body)) if (!KNOWN.has(k)) bad(k, `Unrecognized request argument supplied: ${k}`);
  // OpenAI's default; a route or alias of that name serves it, or the catalog's deployment.
  const model = str(body, "model", "model") ?? "omni-moderation-latest";
  const inputs: string[] = [];
  const imageUrls: string[] = [];
  const input = body.input;
  if (typeof input === "string") inputs.push(input);
  else if (Array.isArray(input)) {
    if (input.length === 0) bad("input", "must not be empty");
    const parts = input.some((x) => isObj(x));
    input.forEach((x, i) => {
      if (!parts) {
        if (typeof x !== "string") bad(`input[${i}]`, "must be a string");
        inputs.push(x);
        return;
      }
      if (!isObj(x)) bad(`input[${i}]`, "must be a text or image_url part");
      if (x.type === "text") inputs.push(str(x, "text", `input[${i}].text`) ?? bad(`input[${i}].text`, "is required"));
      else if (x.type === "image_url") {
        const u = isObj(x.image_url) ? str(x.image_url, "url", `input[${i}].image_url.url`) : undefined;
        imageUrls.push(u ?? bad(`input[${i}].image_url.url`, "is required"));
      } else bad(`input[${i}].type`, `must be text or image_url, got ${JSON.stringify(x.type)}`);
    });
  } else bad("input", "is required: a string, an array of strings, or an array of text and image_url parts");
  const user = str(body, "user", "user") || undefined;
  const opts = signalboxOptions(body, model, user);
  const call: ModerationCall = {
    operation: "moderation",
    id,
    model,
    request: { inputs, ...(imageUrls.length ? { imageUrls } : {}) },
    routing: opts.routing,
    user,
    tags: opts.tags,
    metadata: stringMetadata(body),
    caller,
  };
  validateModerationCall(call, { inputs: "input", imageUrls: "input", routing: "signalbox" });
  return call;
}

export function moderationsJson(a: ModerationAnswer) {
  return {
    id: `modr-${a.id.replace(/^req_/, "")}`,
    model: a.providerModel,
    results: a.results.map((r) => ({
      flagged: r.flagged,
      categories: r.categories,
      category_scores: r.scores,
      ...(r.appliedInputTypes ? { category_applied_input_types: r.appliedInputTypes } : {}),
    })),
    signalbox: {
      id: a.id,
      deployment: a.deployment,
      provider: a.provider,
      route: a.routing.route,
      variant: a.routing.variant,
      attempts: a.attempts.length,
      cost_nano_usd: a.cost.total,
      trace_id: a.traceId,
    },
  };
}

export async function serveModerations(engine: ChatEngine, body: unknown, r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; statusOf(err: unknown): string }): Promise<{ body: unknown; headers: Record<string, string> }> {
  const call = parseModerationRequest(body, r.ri.id, r.caller);
  const a = await engine.moderate({ call, ri: r.ri, signal: r.signal, statusOf: r.statusOf });
  return { body: moderationsJson(a), headers: { "x-signalbox-deployment": a.deployment, ...rateLimitHeaders(a.limits) } };
}
