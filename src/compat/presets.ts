// OpenRouter's presets on the OpenAI-compatible endpoint (src/config/presets.ts defines them):
// `model: "@preset/<name>"`, `preset: "<name>"` (with the request's own model, or the preset's),
// or `model: "<model>@preset/<name>"`. The preset's fields are the request's defaults: the
// request's own win, `provider` objects merge key by key, and the preset's system prompt is sent
// before the request's messages. The request's usage record carries `signalbox.preset` in its
// metadata and the tag `preset:<name>`, so spend and latency can be read (and capped, with a tag
// budget) by preset.

import type { PresetConfig } from "../config/presets.ts";
import { GatewayError } from "../router/errors.ts";

type Json = Record<string, unknown>;

const MARK = "@preset/";
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const bad = (field: string, message: string): never => {
  throw new GatewayError("invalid_argument", `${field}: ${message}`, { field });
};

/** Whether a chat completions body names a preset (a property read and a substring test otherwise). */
export const namesPreset = (body: Json) => (body.preset !== undefined && body.preset !== null) || (typeof body.model === "string" && body.model.includes(MARK));

/** The body with its preset applied (the body itself when it names none). */
export function withPreset(body: Json, presets: readonly PresetConfig[] | undefined): Json {
  if (!namesPreset(body)) return body;
  const model = typeof body.model === "string" ? body.model : undefined;
  const at = model === undefined ? -1 : model.indexOf(MARK);
  const byField = body.preset !== undefined && body.preset !== null;
  if (byField && at >= 0) bad("preset", `give preset or a model of ${MARK}<name>, not both`);
  const field = byField ? "preset" : "model";
  const name = byField ? (typeof body.preset === "string" && body.preset ? body.preset : bad("preset", "must be a preset's name")) : model!.slice(at + MARK.length);
  if (!name) bad("model", `name a preset after ${MARK}`);
  const p = presets?.find((x) => x.name === name) ?? bad(field, `no preset "${name}"${presets?.length ? ` (presets: ${presets.map((x) => x.name).join(", ")})` : " (none is configured)"}`);
  const { preset: _named, ...own } = body;
  const merged: Json = { ...p.params, ...own, model: byField ? (model ?? p.model) : at > 0 ? model!.slice(0, at) : p.model };
  // max_tokens and max_completion_tokens are one setting: the request's, by either name, wins.
  if ((own.max_tokens ?? own.max_completion_tokens) !== undefined && (own.max_tokens ?? own.max_completion_tokens) !== null) {
    if (own.max_tokens === undefined) delete merged.max_tokens;
    if (own.max_completion_tokens === undefined) delete merged.max_completion_tokens;
  }
  if (isObj(p.params.provider) && isObj(own.provider)) merged.provider = { ...p.params.provider, ...own.provider };
  if (p.system && Array.isArray(own.messages)) merged.messages = [{ role: "system", content: p.system }, ...own.messages];
  if (own.metadata === undefined || own.metadata === null || isObj(own.metadata)) merged.metadata = { ...(isObj(own.metadata) ? own.metadata : {}), "signalbox.preset": p.name };
  // A tag too: usage by tag (GetUsage, the console) and tag budgets then see each preset.
  if (own.tags === undefined || own.tags === null || Array.isArray(own.tags)) merged.tags = [...(Array.isArray(own.tags) ? own.tags : []), `preset:${p.name}`];
  return merged;
}
