// The Moderations API (`POST /moderations`) for OpenAI and OpenAI-compatible servers. Pure
// translation: texts as `input` (a string, or an array of them), or, with images, one array of
// text and image_url parts (omni-moderation: one result for all of it).

import { tryJson } from "../headers.ts";
import type { ModerationRequest, ModerationResult, ModerationVerdict } from "../types.ts";
import { ProviderError } from "../types.ts";
import { isObject } from "./openai-error.ts";

export const moderationsPath = (chatPath: string): string => chatPath.replace("/chat/completions", "/moderations");

export function buildOpenAIModerationBody(req: ModerationRequest): Record<string, unknown> {
  const input = req.imageUrls?.length
    ? [...req.inputs.map((text) => ({ type: "text", text })), ...req.imageUrls.map((url) => ({ type: "image_url", image_url: { url } }))]
    : req.inputs.length === 1
      ? req.inputs[0]
      : req.inputs;
  return { model: req.model, input };
}

const numbers = (o: unknown): Record<string, number> => (isObject(o) ? Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === "number")) as Record<string, number> : {});

export function parseOpenAIModerationResponse(body: string): ModerationResult {
  const json = tryJson(body);
  if (!isObject(json) || !Array.isArray(json.results)) throw new ProviderError({ kind: "server_error", message: "upstream sent a moderation answer without results" });
  const results: ModerationVerdict[] = json.results.map((r: unknown, i: number) => {
    if (!isObject(r) || typeof r.flagged !== "boolean") throw new ProviderError({ kind: "server_error", message: `upstream sent moderation result ${i} without flagged` });
    const categories = isObject(r.categories) ? (Object.fromEntries(Object.entries(r.categories).filter(([, v]) => typeof v === "boolean")) as Record<string, boolean>) : {};
    const v: ModerationVerdict = { flagged: r.flagged, categories, scores: numbers(r.category_scores) };
    if (isObject(r.category_applied_input_types)) {
      v.appliedInputTypes = Object.fromEntries(Object.entries(r.category_applied_input_types).filter(([, t]) => Array.isArray(t)).map(([k, t]) => [k, (t as unknown[]).map(String)]));
    }
    return v;
  });
  return { model: typeof json.model === "string" ? json.model : "", results };
}
