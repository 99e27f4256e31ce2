// The catalog's parameter rules: which request parameters each model (and each Azure api-version)
// accepts, and how it wants the rest said. Keyed by exact model id (a dated snapshot finds its
// model), with families only where the provider documents the rule for the family. Resolved once
// per deployment at config load (resolveModelParams); the router drops what a rule rejects and
// reports it, adapters read the rest. Sources: wire-formats §1.2, §2.3, §3.2, the installed
// openai and @anthropic-ai/sdk request types, and the providers' model pages (2026-08).

import type { ModelParams, ParamName, ParamRule, ReasoningEffort, ResponseFormat, UpstreamRequest } from "../providers/types.ts";
import type { CompatQuirks, ProviderType } from "./types.ts";

/** A model's rules before the connection's own (Azure api-version, compat drop_fields). */
interface ModelRule {
  /** Shown in adjustments and in `source`: "o3", "Claude after Opus 4.6". */
  label: string;
  rejects?: ModelParams["rejects"];
  rejectsWhileThinking?: ModelParams["rejectsWhileThinking"];
  samplingExclusive?: boolean;
  efforts?: ReasoningEffort[];
  maxTokensField?: ModelParams["maxTokensField"];
  thinking?: ModelParams["thinking"];
  thinkingControl?: ModelParams["thinkingControl"];
  jsonByInstruction?: ResponseFormat["type"][];
}

const LOW_MEDIUM_HIGH: ReasoningEffort[] = ["low", "medium", "high"];

// ---- OpenAI --------------------------------------------------------------------------------

/**
 * OpenAI reasoning models (o-series, gpt-5 family): sampling parameters are rejected (temperature
 * other than the default 1 with `unsupported_value`, the others with `unsupported_parameter`),
 * `stop` is not supported by the o-series and gpt-5, and the output limit is
 * `max_completion_tokens` (`max_tokens` is a 400). Efforts differ per model.
 */
function openaiReasoning(label: string, efforts: ReasoningEffort[], extra: ModelParams["rejects"] = {}): ModelRule {
  const why = `${label} is a reasoning model`;
  return {
    label,
    rejects: {
      temperature: { why: `${why}: only the default temperature 1 is accepted`, keepIf: { min: 1, max: 1 } },
      top_p: { why: `${why}: top_p is not supported` },
      presence_penalty: { why: `${why}: presence_penalty is not supported` },
      frequency_penalty: { why: `${why}: frequency_penalty is not supported` },
      stop: { why: `${why}: stop sequences are not supported` },
      logprobs: { why: `${why}: log probabilities are not supported` },
      logit_bias: { why: `${why}: logit_bias is not supported` },
      ...extra,
    },
    efforts,
    maxTokensField: "max_completion_tokens",
  };
}

const NO_PARALLEL = { parallel_tool_calls: { why: "parallel_tool_calls is not supported with this model" } };

/** Chat Completions models by exact id; a dated snapshot (`o3-2025-04-16`) finds its model. */
const OPENAI: Record<string, ModelRule> = {
  o1: openaiReasoning("o1", LOW_MEDIUM_HIGH, NO_PARALLEL),
  "o1-pro": openaiReasoning("o1-pro", LOW_MEDIUM_HIGH, NO_PARALLEL),
  "o3-mini": openaiReasoning("o3-mini", LOW_MEDIUM_HIGH, NO_PARALLEL),
  o3: openaiReasoning("o3", LOW_MEDIUM_HIGH),
  "o3-pro": openaiReasoning("o3-pro", LOW_MEDIUM_HIGH),
  "o4-mini": openaiReasoning("o4-mini", LOW_MEDIUM_HIGH),
  "codex-mini-latest": openaiReasoning("codex-mini-latest", LOW_MEDIUM_HIGH),
  // gpt-5 added `minimal`; gpt-5.1 replaced it with `none` (not an effort the gateway sends).
  "gpt-5": openaiReasoning("gpt-5", ["minimal", "low", "medium", "high"]),
  "gpt-5-mini": openaiReasoning("gpt-5-mini", ["minimal", "low", "medium", "high"]),
  "gpt-5-nano": openaiReasoning("gpt-5-nano", ["minimal", "low", "medium", "high"]),
  "gpt-5-codex": openaiReasoning("gpt-5-codex", LOW_MEDIUM_HIGH),
  "gpt-5-pro": openaiReasoning("gpt-5-pro", ["high"]),
  "gpt-5.1": openaiReasoning("gpt-5.1", LOW_MEDIUM_HIGH),
  "gpt-5.1-mini": openaiReasoning("gpt-5.1-mini", LOW_MEDIUM_HIGH),
  "gpt-5.1-codex": openaiReasoning("gpt-5.1-codex", LOW_MEDIUM_HIGH),
  "gpt-5.2": openaiReasoning("gpt-5.2", LOW_MEDIUM_HIGH),
  "gpt-5.2-pro": openaiReasoning("gpt-5.2-pro", ["medium", "high"]),
  "gpt-5.4": openaiReasoning("gpt-5.4", LOW_MEDIUM_HIGH),
  "gpt-5.4-mini": openaiReasoning("gpt-5.4-mini", LOW_MEDIUM_HIGH),
  "gpt-5.4-nano": openaiReasoning("gpt-5.4-nano", LOW_MEDIUM_HIGH),
  "gpt-5.4-pro": openaiReasoning("gpt-5.4-pro", ["medium", "high"]),
  "gpt-5.5": openaiReasoning("gpt-5.5", LOW_MEDIUM_HIGH),
  "gpt-5.5-pro": openaiReasoning("gpt-5.5-pro", ["medium", "high"]),
  // gpt-4o, gpt-4.1 and the *-chat-latest models take every parameter: no entry.
};

// ---- Anthropic -----------------------------------------------------------------------------

/** Every Claude model: no seed, no penalties (wire-formats §3.2); thinking takes temperature 1 and top_p >= 0.95 only. */
const ANTHROPIC_REJECTS: ModelParams["rejects"] = {
  seed: { why: "Anthropic has no seed" },
  presence_penalty: { why: "Anthropic has no presence_penalty" },
  frequency_penalty: { why: "Anthropic has no frequency_penalty" },
  logprobs: { why: "Anthropic has no log probabilities" },
  logit_bias: { why: "Anthropic has no logit_bias" },
};
const WHILE_THINKING: ModelParams["rejectsWhileThinking"] = {
  temperature: { why: "Claude accepts only temperature 1 while it thinks", keepIf: { min: 1, max: 1 } },
  top_p: { why: "Claude accepts only top_p of 0.95 or more while it thinks", keepIf: { min: 0.95 } },
};
/** Anthropic's request limit on cache_control breakpoints. */
export const ANTHROPIC_CACHE_BREAKPOINTS = 4;

interface ClaudeTraits {
  thinking?: "manual" | "adaptive";
  /** `output_config.format` (structured outputs): Claude Opus 4.1, the 4.5 models and later. */
  structured: boolean;
  /** temperature and top_p cannot both be specified (Haiku 4.5, Sonnet/Opus 4.5 and later). */
  exclusive: boolean;
  /** "Models released after Claude Opus 4.6": temperature other than 1, top_p below 0.99 are a 400. */
  noSampling?: boolean;
}

function claude(label: string, t: ClaudeTraits): ModelRule {
  const rejects: ModelParams["rejects"] = { ...ANTHROPIC_REJECTS };
  if (t.noSampling) {
    rejects.temperature = { why: `temperature is deprecated for ${label} (only 1 is accepted)`, keepIf: { min: 1, max: 1 } };
    rejects.top_p = { why: `top_p is deprecated for ${label} (only 0.99 or more is accepted)`, keepIf: { min: 0.99 } };
  }
  if (!t.thinking) rejects.reasoning_effort = { why: `${label} does not think` };
  return {
    label,
    rejects,
    rejectsWhileThinking: WHILE_THINKING,
    samplingExclusive: t.exclusive,
    thinking: t.thinking,
    // Adaptive thinking is steered by output_config.effort: low, medium, high (xhigh, max).
    efforts: t.thinking === "adaptive" ? LOW_MEDIUM_HIGH : undefined,
    // No JSON-object mode at all; JSON schemas natively where the model has structured outputs.
    jsonByInstruction: t.structured ? ["json_object"] : ["json_object", "json_schema"],
  };
}

/** Claude Opus 4.7 and later: adaptive thinking only (manual thinking is a 400), no sampling parameters. */
const AFTER_OPUS_4_6: ClaudeTraits = { thinking: "adaptive", structured: true, exclusive: true, noSampling: true };

/** Claude models by exact id or alias; a dated snapshot (`claude-sonnet-4-5-20250929`) finds its model. */
const ANTHROPIC: Record<string, ModelRule> = {
  "claude-3-haiku": claude("Claude Haiku 3", { structured: false, exclusive: false }),
  "claude-3-5-haiku": claude("Claude Haiku 3.5", { structured: false, exclusive: false }),
  "claude-3-7-sonnet": claude("Claude Sonnet 3.7", { thinking: "manual", structured: false, exclusive: false }),
  "claude-sonnet-4": claude("Claude Sonnet 4", { thinking: "manual", structured: false, exclusive: false }),
  "claude-opus-4": claude("Claude Opus 4", { thinking: "manual", structured: false, exclusive: false }),
  "claude-opus-4-1": claude("Claude Opus 4.1", { thinking: "manual", structured: true, exclusive: false }),
  "claude-haiku-4-5": claude("Claude Haiku 4.5", { thinking: "manual", structured: true, exclusive: true }),
  "claude-sonnet-4-5": claude("Claude Sonnet 4.5", { thinking: "manual", structured: true, exclusive: true }),
  "claude-opus-4-5": claude("Claude Opus 4.5", { thinking: "manual", structured: true, exclusive: true }),
  // 4.6: adaptive thinking (manual is deprecated there), temperature still accepted without thinking.
  "claude-opus-4-6": claude("Claude Opus 4.6", { thinking: "adaptive", structured: true, exclusive: true }),
  "claude-sonnet-4-6": claude("Claude Sonnet 4.6", { thinking: "adaptive", structured: true, exclusive: true }),
  "claude-opus-4-7": claude("Claude Opus 4.7", AFTER_OPUS_4_6),
  "claude-opus-4-8": claude("Claude Opus 4.8", AFTER_OPUS_4_6),
  "claude-mythos-preview": claude("Claude Mythos Preview", AFTER_OPUS_4_6),
  "claude-fable-5": claude("Claude Fable 5", AFTER_OPUS_4_6),
  "claude-fable-5-1": claude("Claude Fable 5.1", AFTER_OPUS_4_6),
  "claude-mythos-5": claude("Claude Mythos 5", AFTER_OPUS_4_6),
  "claude-mythos-5-1": claude("Claude Mythos 5.1", AFTER_OPUS_4_6),
  "claude-sonnet-5": claude("Claude Sonnet 5", AFTER_OPUS_4_6),
  "claude-opus-5": claude("Claude Opus 5", AFTER_OPUS_4_6),
  "claude-haiku-5-5": claude("Claude Haiku 5.5", AFTER_OPUS_4_6),
  "claude-sonnet-5-5": claude("Claude Sonnet 5.5", AFTER_OPUS_4_6),
  "claude-opus-5-5": claude("Claude Opus 5.5", AFTER_OPUS_4_6),
};

/** A Claude model the table does not name: today's conservative shape (manual thinking, JSON by instruction). */
const ANTHROPIC_UNKNOWN = claude("this Claude model", { thinking: "manual", structured: false, exclusive: true });

/** Anthropic's smallest manual thinking budget; budget_tokens must also stay below max_tokens. */
export const MIN_THINKING_BUDGET = 1024;

/**
 * Anthropic cannot think with a forced tool choice, nor mid tool loop (the last turn carries tool
 * results) unless the assistant turn that made the calls replays its thinking blocks (history from
 * the Anthropic front door carries them); manual thinking also needs room for its minimum budget. Returns why
 * thinking is off for this request, or undefined.
 */
export function thinkingBlockedBy(req: Pick<UpstreamRequest, "toolChoice" | "messages" | "maxOutputTokens">, form: "manual" | "adaptive"): string | undefined {
  if (req.toolChoice?.type === "required" || req.toolChoice?.type === "tool") return "Claude cannot think with a forced tool choice";
  if (form === "manual" && req.maxOutputTokens !== undefined && req.maxOutputTokens <= MIN_THINKING_BUDGET) {
    return `max_output_tokens ${req.maxOutputTokens} leaves no room for Claude's minimum thinking budget (${MIN_THINKING_BUDGET} tokens)`;
  }
  // Mid tool loop, the assistant turn that made the calls must replay its thinking blocks.
  let inLoop = false;
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    if (m.role === "tool") inLoop = true;
    else if (m.role === "assistant") {
      if (inLoop && !m.reasoningBlocks?.length) break;
      return undefined;
    }
  }
  return inLoop ? "Claude cannot think mid tool loop (the history has no thinking blocks to replay)" : undefined;
}

// ---- Amazon Bedrock (Converse) -------------------------------------------------------------

/** Converse has no seed, no penalties and no parallel-tool switch, for any model. */
const CONVERSE_REJECTS: ModelParams["rejects"] = {
  seed: { why: "Bedrock Converse has no seed" },
  presence_penalty: { why: "Bedrock Converse has no presence_penalty" },
  frequency_penalty: { why: "Bedrock Converse has no frequency_penalty" },
  parallel_tool_calls: { why: "Bedrock Converse has no parallel_tool_calls" },
  logprobs: { why: "Bedrock Converse has no log probabilities" },
  logit_bias: { why: "Bedrock Converse has no logit_bias" },
};

/** A Bedrock model id without its inference-profile ARN or geographic prefix: "anthropic.claude-sonnet-4-5-20250929-v1:0". */
function bedrockBaseId(model: string): string {
  const id = model.slice(model.lastIndexOf("/") + 1);
  return id.replace(/^(us|eu|apac|jp|au|ca|us-gov|global)\./, "");
}

/**
 * Claude models whose structured outputs Bedrock serves through Converse (`outputConfig.textFormat`):
 * Bedrock lists Sonnet 4.5, Haiku 4.5, Opus 4.5 and Opus 4.6, and the models after them; Opus 4.1
 * has them on Anthropic's API only.
 */
const BEDROCK_NOT_STRUCTURED = new Set(["claude-opus-4-1"]);

/**
 * Bedrock models through Converse. Claude keeps Claude's rules (its thinking goes through
 * additionalModelRequestFields), other models do not think through the gateway. JSON schemas go
 * as `outputConfig.textFormat` to the Claude models Bedrock serves structured outputs for; JSON
 * objects, and schemas for every other model, are asked for by instruction (Converse has no JSON
 * mode they all honour).
 */
export function bedrockRule(model: string): ModelRule {
  const id = bedrockBaseId(model);
  const claudeId = /^anthropic\.(claude-.+?)(-v\d+(:\d+)?)?$/.exec(id)?.[1];
  if (claudeId) {
    const found = lookup(ANTHROPIC, claudeId);
    const base = found?.rule ?? ANTHROPIC_UNKNOWN;
    const structured = base.jsonByInstruction?.includes("json_schema") === false && !BEDROCK_NOT_STRUCTURED.has(found?.id ?? "");
    return { ...base, label: `${base.label} on Bedrock`, rejects: { ...base.rejects, ...CONVERSE_REJECTS }, jsonByInstruction: structured ? ["json_object"] : ["json_object", "json_schema"] };
  }
  return {
    label: `Bedrock ${id}`,
    rejects: { ...CONVERSE_REJECTS, reasoning_effort: { why: `the gateway thinks only with Claude on Bedrock, not ${id}` } },
    jsonByInstruction: ["json_object", "json_schema"],
  };
}

/** Bedrock models that take cachePoint blocks: Claude and Amazon Nova. */
function bedrockCaches(model: string): boolean {
  return /^(anthropic\.claude-|amazon\.nova-)/.test(bedrockBaseId(model));
}

// ---- Gemini --------------------------------------------------------------------------------

const noThinking = (label: string): ModelRule => ({ label, rejects: { reasoning_effort: { why: `${label} does not think (thinkingConfig is rejected)` } } });

/**
 * Gemini thinking by model family, as the Gemini API documents it per family (ai.google.dev,
 * "Thinking"): 2.5 models take a token budget; Gemini 3 models take a level, 3 Pro only low and
 * high, 3 Flash also minimal and medium; 1.5, 2.0 and Gemma models do not think. Looked up by
 * the longest family prefix of the model id; an unknown Gemini model gets the current form (a level).
 */
const GEMINI_FAMILIES: [prefix: string, rule: ModelRule][] = [
  ["gemini-3-pro", { label: "Gemini 3 Pro", thinkingControl: "level", efforts: ["low", "high"] }],
  ["gemini-3.1-pro", { label: "Gemini 3.1 Pro", thinkingControl: "level", efforts: ["low", "medium", "high"] }],
  ["gemini-3-flash", { label: "Gemini 3 Flash", thinkingControl: "level" }],
  ["gemini-2.5-", { label: "Gemini 2.5", thinkingControl: "budget" }],
  ["gemini-2.0-", noThinking("Gemini 2.0")],
  ["gemini-1.5-", noThinking("Gemini 1.5")],
  ["gemini-1.0-", noThinking("Gemini 1.0")],
  ["gemini-pro", noThinking("Gemini 1.0")],
  ["gemma-", noThinking("Gemma")],
];
const GEMINI_UNKNOWN: ModelRule = { label: "this Gemini model", thinkingControl: "level" };

const EFFORT_ORDER: ReasoningEffort[] = ["minimal", "low", "medium", "high"];

/** The effort the model takes that is nearest to the one asked for (ties go to the higher effort). */
export function nearestEffort(want: ReasoningEffort, have: ReasoningEffort[]): ReasoningEffort {
  const w = EFFORT_ORDER.indexOf(want);
  let best = have[0];
  for (const e of have) {
    const d = Math.abs(EFFORT_ORDER.indexOf(e) - w);
    const bd = Math.abs(EFFORT_ORDER.indexOf(best) - w);
    if (d < bd || (d === bd && EFFORT_ORDER.indexOf(e) > EFFORT_ORDER.indexOf(best))) best = e;
  }
  return best;
}

/** The Gemini rule for a model id ("models/" and "vendor/" prefixes ignored). */
export function geminiRule(model: string): { label: string; thinkingControl?: ModelParams["thinkingControl"]; efforts?: ReasoningEffort[]; rejects?: ModelParams["rejects"] } {
  const id = (model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model).toLowerCase();
  let best: ModelRule | undefined;
  let bestLen = -1;
  for (const [prefix, rule] of GEMINI_FAMILIES) {
    if (id.startsWith(prefix) && prefix.length > bestLen) {
      best = rule;
      bestLen = prefix.length;
    }
  }
  return best ?? GEMINI_UNKNOWN;
}

/**
 * Gemini models that return log probabilities (`responseLogprobs`, `logprobs` 1..20): the 2.0
 * Flash family and the 1.5 models. Gemini 2.5 and 3 answer 400 "Logprobs is not enabled for
 * models/…" on the Gemini API (reported for 2.5 Flash, Flash-Lite and Pro, and for Gemini 3), so
 * there the parameter is dropped and reported rather than failing the attempt.
 */
export function geminiLogprobs(model: string): boolean {
  const id = (model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model).toLowerCase();
  return id.startsWith("gemini-2.0-flash") || id.startsWith("gemini-1.5-");
}

// ---- Azure OpenAI api-versions ----------------------------------------------------------------

/**
 * The dated api-version that introduced each request field (wire-formats §2.3: older versions
 * answer 400 "Unknown parameter"). The v1 API (no api-version, "v1", "preview") has them all.
 */
export const AZURE_FIELD_SINCE = {
  tools: "2023-12-01",
  tool_choice: "2023-12-01",
  response_format: "2023-12-01",
  logprobs: "2023-12-01",
  "response_format.json_schema": "2024-08-01",
  max_completion_tokens: "2024-09-01",
  seed: "2024-10-21",
  stream_options: "2024-10-21",
  parallel_tool_calls: "2024-12-01",
  reasoning_effort: "2024-12-01",
  developer_role: "2024-12-01",
  store: "2024-12-01",
  metadata: "2024-12-01",
  prediction: "2025-01-01",
} as const;

export type AzureField = keyof typeof AZURE_FIELD_SINCE;

/** Whether an Azure api-version ("" = the v1 family) knows a request field. */
export function azureSupports(apiVersion: string, field: AzureField): boolean {
  const date = /^\d{4}-\d{2}-\d{2}/.exec(apiVersion.trim())?.[0];
  return date === undefined || date >= AZURE_FIELD_SINCE[field];
}

/** The request parameters the gateway maps that an api-version gates. */
const AZURE_GATED: [ParamName, AzureField][] = [
  ["tools", "tools"],
  ["tool_choice", "tool_choice"],
  ["seed", "seed"],
  ["parallel_tool_calls", "parallel_tool_calls"],
  ["reasoning_effort", "reasoning_effort"],
  ["logprobs", "logprobs"],
];

function azureRejects(apiVersion: string): { rejects: ModelParams["rejects"]; note?: string } {
  const date = /^\d{4}-\d{2}-\d{2}/.exec(apiVersion.trim())?.[0];
  if (date === undefined) return { rejects: {} };
  const since = (f: AzureField) => `azure api-version ${apiVersion} predates ${f} (added in ${AZURE_FIELD_SINCE[f]})`;
  const rejects: ModelParams["rejects"] = {};
  for (const [param, field] of AZURE_GATED) if (!azureSupports(apiVersion, field)) rejects[param] = { why: since(field) };
  if (!azureSupports(apiVersion, "response_format")) rejects.response_format = { why: since("response_format") };
  else if (!azureSupports(apiVersion, "response_format.json_schema")) {
    rejects.response_format = { why: since("response_format.json_schema"), keepTypes: ["text", "json_object"] };
  }
  return { rejects, note: `azure api-version ${apiVersion}` };
}

// ---- resolution ----------------------------------------------------------------------------

/** Request fields of OpenAI-compatible servers' `drop_fields`, as parameter names. */
const WIRE_TO_PARAM: Record<string, ParamName> = {
  temperature: "temperature",
  top_p: "top_p",
  max_tokens: "max_output_tokens",
  max_completion_tokens: "max_output_tokens",
  stop: "stop",
  seed: "seed",
  presence_penalty: "presence_penalty",
  frequency_penalty: "frequency_penalty",
  tools: "tools",
  tool_choice: "tool_choice",
  parallel_tool_calls: "parallel_tool_calls",
  response_format: "response_format",
  reasoning_effort: "reasoning_effort",
  logprobs: "logprobs",
  top_logprobs: "logprobs",
  logit_bias: "logit_bias",
  user: "user",
};

/** `o3-2025-04-16` → `o3`, `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; a "vendor/" prefix is ignored. */
function lookup<T>(table: Record<string, T>, model: string): { id: string; rule: T } | undefined {
  const id = model.includes("/") ? model.slice(model.lastIndexOf("/") + 1) : model;
  if (Object.hasOwn(table, id)) return { id, rule: table[id] };
  // Vertex names Claude snapshots `claude-sonnet-4-5@20250929`.
  const base = id.replace(/(?:-|@)(\d{4}-\d{2}-\d{2}|\d{8})$/, "");
  return base !== id && Object.hasOwn(table, base) ? { id: base, rule: table[base] } : undefined;
}

/** The connection a deployment runs on, as far as its parameter rules care. */
export interface ParamsConnection {
  type: ProviderType;
  apiVersion?: string;
  compat?: Pick<CompatQuirks, "dropFields">;
}

/**
 * A deployment's parameter rules: its model's (by `model`, exact id or dated snapshot; Azure
 * deployments name theirs with `base_model`), then its connection's (Azure api-version, compat
 * drop_fields). OpenRouter maps parameters onto each upstream itself and silently ignores what a
 * model does not support, so it gets none; Gemini and the mock take every parameter the gateway maps.
 */
export function resolveModelParams(conn: ParamsConnection, model: string, maxOutputTokens: number): ModelParams {
  const sources: string[] = [];
  let rule: ModelRule | undefined;
  // Vertex serves Claude (Anthropic's rules) next to Gemini.
  const claude = conn.type === "anthropic" || (conn.type === "vertex" && /^(anthropic\/)?claude-/i.test(model));
  if (conn.type === "openai" || conn.type === "azure") {
    const hit = lookup(OPENAI, model);
    rule = hit?.rule;
  } else if (claude) {
    rule = lookup(ANTHROPIC, model)?.rule ?? ANTHROPIC_UNKNOWN;
  } else if (conn.type === "gemini" || conn.type === "vertex") {
    const g = geminiRule(model);
    rule = {
      ...g,
      rejects: {
        ...g.rejects,
        ...(geminiLogprobs(model) ? {} : { logprobs: { why: `${g.label} answers "Logprobs is not enabled" (responseLogprobs)` } }),
        logit_bias: { why: `${g.label} has no logit_bias` },
      },
    };
  } else if (conn.type === "bedrock") {
    rule = bedrockRule(model);
  }
  const params: ModelParams = { source: "", rejects: { ...rule?.rejects }, maxOutputTokens };
  if (rule) {
    sources.push(rule.label);
    if (rule.rejectsWhileThinking) params.rejectsWhileThinking = rule.rejectsWhileThinking;
    if (rule.samplingExclusive !== undefined) params.samplingExclusive = rule.samplingExclusive;
    if (rule.efforts) params.efforts = rule.efforts;
    if (rule.maxTokensField) params.maxTokensField = rule.maxTokensField;
    if (rule.thinking) params.thinking = rule.thinking;
    if (rule.thinkingControl) params.thinkingControl = rule.thinkingControl;
    if (rule.jsonByInstruction) params.jsonByInstruction = rule.jsonByInstruction;
  }
  if (claude) params.cacheBreakpoints = ANTHROPIC_CACHE_BREAKPOINTS;
  if (conn.type === "bedrock" && bedrockCaches(model)) params.cacheBreakpoints = ANTHROPIC_CACHE_BREAKPOINTS;
  if (conn.type === "azure") {
    const v = conn.apiVersion ?? "";
    const az = azureRejects(v);
    for (const [k, r] of Object.entries(az.rejects) as [ParamName, ParamRule][]) params.rejects[k] ??= r;
    if (params.maxTokensField === "max_completion_tokens" && !azureSupports(v, "max_completion_tokens")) {
      params.rejects.max_output_tokens ??= {
        why: `${rule?.label ?? model} takes only max_completion_tokens, which azure api-version ${v} predates (added in ${AZURE_FIELD_SINCE.max_completion_tokens})`,
      };
    }
    if (az.note) sources.push(az.note);
  }
  if (conn.type === "openai-compatible" || conn.type === "openai" || conn.type === "azure") {
    const dropped = (conn.compat?.dropFields ?? []).filter((f) => WIRE_TO_PARAM[f] !== undefined);
    for (const f of dropped) params.rejects[WIRE_TO_PARAM[f]] ??= { why: `the server does not accept ${f} (compat.drop_fields)` };
    if (dropped.length) sources.push("compat.drop_fields");
  }
  params.source = sources.join("; ");
  return params;
}

/** True when the rules change nothing about a request (the hot path skips fitting). */
export function acceptsEverything(p: ModelParams): boolean {
  return (
    Object.keys(p.rejects).length === 0 &&
    !p.rejectsWhileThinking &&
    !p.samplingExclusive &&
    !p.efforts &&
    !p.jsonByInstruction &&
    p.cacheBreakpoints === undefined &&
    !p.autoCache
  );
}
