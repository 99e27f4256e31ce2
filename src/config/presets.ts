// Presets (OpenRouter's): a named request configuration kept in the gateway instead of the
// caller's code (a model, a system prompt, generation parameters, provider preferences), used on
// the OpenAI-compatible endpoint as `model: "@preset/<name>"`, `preset: "<name>"`, or
// `model: "<model>@preset/<name>"` (the model given, the preset's other settings). The request's own
// fields win over the preset's; `provider` objects merge key by key; the preset's system prompt
// comes before the request's messages (src/compat/presets.ts applies them).
//
// A preset's fields are those of a chat completions request, as its body names them, checked here
// as strictly as the endpoint checks a request, so a preset the config (or AdminService) accepts
// never makes a request fail.

import { bool, ConfigError, join, list, num, str, type V } from "./schema.ts";

export interface PresetConfig {
  name: string;
  description?: string;
  /** A route, alias or deployment. */
  model: string;
  /** Sent as a system message before the request's messages. */
  system?: string;
  /** The request fields it sets, as the OpenAI-compatible body names them. */
  params: Record<string, unknown>;
}

const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "list" : typeof v);
const mapping = (v: unknown, p: string): Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(p, `expected a mapping, got ${typeName(v)}`);
  return v as Record<string, unknown>;
};
const strings = list(str({ min: 1 }));

const PROVIDER: Record<string, V<unknown>> = {
  order: strings,
  only: strings,
  ignore: strings,
  allow_fallbacks: bool,
  sort: str({ oneOf: ["price", "throughput", "latency"] }),
  require_parameters: bool,
  data_collection: str({ oneOf: ["allow", "deny"] }),
  zdr: bool,
  max_price: (v, p) => {
    const m = mapping(v, p);
    const out: Record<string, number> = {};
    for (const [k, x] of Object.entries(m)) {
      if (!["prompt", "completion", "request", "image"].includes(k)) throw new ConfigError(join(p, k), "must be one of prompt, completion, request, image (USD; per million tokens for prompt and completion)");
      out[k] = num({ min: 0 })(x, join(p, k));
    }
    return out;
  },
};

const RESPONSE_FORMAT: V<unknown> = (v, p) => {
  const m = mapping(v, p);
  const type = str({ oneOf: ["text", "json_object", "json_schema"] })(m.type, join(p, "type"));
  if (type !== "json_schema") {
    for (const k of Object.keys(m)) if (k !== "type") throw new ConfigError(join(p, k), `is not a field of response_format type ${type}`);
    return { type };
  }
  const js = mapping(m.json_schema, join(p, "json_schema"));
  str({ min: 1, pattern: /^[A-Za-z0-9_-]{1,64}$/ })(js.name, join(p, "json_schema.name"));
  mapping(js.schema, join(p, "json_schema.schema"));
  if (js.strict !== undefined) bool(js.strict, join(p, "json_schema.strict"));
  for (const k of Object.keys(js)) if (!["name", "schema", "strict", "description"].includes(k)) throw new ConfigError(join(p, `json_schema.${k}`), "is not a field of json_schema (name, description, schema, strict)");
  return { type, json_schema: js };
};

/** The request fields a preset may set, each checked as the endpoint checks it. */
const PARAMS: Record<string, V<unknown>> = {
  temperature: num({ min: 0, max: 2 }),
  top_p: num({ min: 0, max: 1 }),
  top_k: num({ min: 0, int: true }),
  max_tokens: num({ min: 1, int: true }),
  max_completion_tokens: num({ min: 1, int: true }),
  stop: (v, p) => {
    if (typeof v === "string") return v;
    const l = list(str())(v, p);
    if (l.length > 4) throw new ConfigError(p, `at most 4 stop sequences, got ${l.length}`);
    return l;
  },
  seed: num({ int: true }),
  presence_penalty: num({ min: -2, max: 2 }),
  frequency_penalty: num({ min: -2, max: 2 }),
  reasoning_effort: str({ oneOf: ["minimal", "low", "medium", "high"] }),
  parallel_tool_calls: bool,
  logprobs: bool,
  top_logprobs: num({ min: 0, max: 20, int: true }),
  response_format: RESPONSE_FORMAT,
  provider: (v, p) => {
    const m = mapping(v, p);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(m)) {
      const check = PROVIDER[k];
      if (!check) throw new ConfigError(join(p, k), `is not a provider preference (${Object.keys(PROVIDER).join(", ")})`);
      out[k] = check(x, join(p, k));
    }
    return out;
  },
};

/** The fields a preset may set beside name, description, model and system (for messages). */
export const PRESET_PARAMS: readonly string[] = Object.keys(PARAMS);

/** One preset (a presets[] entry, or a preset made at run time), its fields checked. */
export const presetSpec: V<PresetConfig> = (v, p) => {
  const m = mapping(v, p);
  const name = str({ min: 1, pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/ })(m.name, join(p, "name"));
  const model = str({ min: 1 })(m.model, join(p, "model"));
  if (model.includes("@preset/")) throw new ConfigError(join(p, "model"), "a preset's model is a route, alias or deployment, not another preset");
  const params: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(m)) {
    if (k === "name" || k === "model" || k === "description" || k === "system") continue;
    const check = PARAMS[k];
    if (!check) throw new ConfigError(join(p, k), `is not a field of a preset (name, description, model, system, ${PRESET_PARAMS.join(", ")})`);
    params[k] = check(x, join(p, k));
  }
  if (params.max_tokens !== undefined && params.max_completion_tokens !== undefined) throw new ConfigError(join(p, "max_tokens"), "give max_tokens or max_completion_tokens, not both");
  if (params.top_logprobs !== undefined && params.logprobs !== true) throw new ConfigError(join(p, "top_logprobs"), "needs logprobs: true");
  return {
    name,
    model,
    ...(m.description !== undefined ? { description: str()(m.description, join(p, "description")) } : {}),
    ...(m.system !== undefined ? { system: str({ min: 1 })(m.system, join(p, "system")) } : {}),
    params,
  };
};
