// Fitting a request to one deployment's parameter rules: what the model rejects is dropped (or,
// for a reasoning effort it lacks, moved to the nearest it takes) and reported as an adjustment;
// under a route's strict_params the plan refuses the request instead. Pure; the plan runs it once
// per candidate, so RouteService explains exactly what ChatService sends.

import { acceptsEverything, nearestEffort, thinkingBlockedBy } from "../config/model-params.ts";
import type { ChatMessage, ModelParams, ParamName, ParamRule, ToolDef, UpstreamRequest } from "../providers/types.ts";
import type { Adjustment } from "./types.ts";

type Request = Omit<UpstreamRequest, "model">;

export interface Fit {
  /** What this deployment is sent (the caller's request when nothing had to change). */
  request: Request;
  /** Parameters the model does not accept, dropped or changed: refused under strict_params. */
  dropped: Adjustment[];
  /** Why, for each of `dropped` (what a strict_params refusal says). */
  reasons: string[];
  /** Changes that keep the caller's intent (JSON asked for by instruction, surplus cache hints): never refused. */
  notes: Adjustment[];
}

/** The request field behind each parameter name, in ChatRequest's order (the order adjustments are listed in). */
const FIELD: Record<ParamName, keyof Request> = {
  temperature: "temperature",
  top_p: "topP",
  max_output_tokens: "maxOutputTokens",
  stop: "stop",
  seed: "seed",
  presence_penalty: "presencePenalty",
  frequency_penalty: "frequencyPenalty",
  tools: "tools",
  tool_choice: "toolChoice",
  parallel_tool_calls: "parallelToolCalls",
  response_format: "responseFormat",
  reasoning_effort: "reasoningEffort",
  logprobs: "logprobs",
  logit_bias: "logitBias",
  user: "user",
};

const PARAMS = Object.keys(FIELD) as ParamName[];

function isSet(v: unknown): boolean {
  return v !== undefined && !(Array.isArray(v) && v.length === 0);
}

function show(v: unknown): string {
  return typeof v === "object" && v !== null && "type" in v ? String((v as { type: unknown }).type) : JSON.stringify(v);
}

/** Whether a rule still takes this value (the API's default, or a format type it knows). */
function kept(rule: ParamRule, v: unknown): boolean {
  if (rule.keepIf && typeof v === "number") return (rule.keepIf.min === undefined || v >= rule.keepIf.min) && (rule.keepIf.max === undefined || v <= rule.keepIf.max);
  if (rule.keepTypes && typeof v === "object" && v !== null && "type" in v) return rule.keepTypes.includes((v as { type: never }).type);
  return false;
}


/** Fit `req` to the rules `p` (undefined: sent as it is). */
export function fitRequest(req: Request, p: ModelParams | undefined): Fit {
  if (!p || acceptsEverything(p)) return { request: req, dropped: [], reasons: [], notes: [] };
  const out: Request = { ...req };
  const dropped: Adjustment[] = [];
  const reasons: string[] = [];
  const notes: Adjustment[] = [];
  const drop = (param: ParamName, why: string) => {
    const field = FIELD[param];
    dropped.push({ field: param, detail: `not sent (${show(out[field])}): ${why}` });
    reasons.push(why);
    delete out[field];
    // tool_choice and parallel_tool_calls mean nothing without tools.
    if (param === "tools") {
      delete out.toolChoice;
      delete out.parallelToolCalls;
    }
    // top_logprobs means nothing without logprobs.
    if (param === "logprobs") delete out.topLogprobs;
  };
  const apply = (rules: Partial<Record<ParamName, ParamRule>>) => {
    for (const param of PARAMS) {
      const rule = rules[param];
      const v = out[FIELD[param]];
      if (rule && isSet(v) && !kept(rule, v)) drop(param, rule.why);
    }
  };

  apply(p.rejects);

  const effort = out.reasoningEffort;
  if (effort && p.efforts && !p.efforts.includes(effort)) {
    const to = nearestEffort(effort, p.efforts);
    dropped.push({ field: "reasoning_effort", detail: `sent as ${to}: this model takes ${p.efforts.join(", ")}` });
    reasons.push(`${effort} is not among the efforts it takes (${p.efforts.join(", ")})`);
    out.reasoningEffort = to;
  }

  if (p.thinking && out.reasoningEffort) {
    const blocked = thinkingBlockedBy(out, p.thinking);
    if (blocked) drop("reasoning_effort", blocked);
    else if (p.rejectsWhileThinking) apply(p.rejectsWhileThinking);
  }

  if (p.samplingExclusive && out.temperature !== undefined && out.topP !== undefined) {
    drop("top_p", "this model takes temperature or top_p, not both (temperature is kept)");
  }

  if (p.jsonByInstruction?.includes("json_schema") && out.tools?.some((t) => t.strict)) {
    notes.push({ field: "tools", detail: "strict: this model has no strict tool use; the schemas guide its calls but are not enforced, validate the arguments" });
  }
  const format = out.responseFormat;
  if (format && p.jsonByInstruction?.includes(format.type)) {
    notes.push({ field: "response_format", detail: `${format.type}: asked for in the system prompt (this model has no native form for it); validate the JSON` });
  }

  // Placed at the deployment's asking: a change of the request, not one to report.
  let cached = false;
  if (p.autoCache) {
    const placed = autoCacheHints(out.messages, out.tools);
    if (placed) {
      out.messages = placed;
      cached = true;
    }
  }
  if (p.cacheBreakpoints !== undefined) {
    const trimmed = trimCacheHints(out.messages, p.cacheBreakpoints);
    if (trimmed) {
      out.messages = trimmed.messages;
      notes.push({ field: "messages", detail: `${trimmed.given} cache hints, the provider takes ${p.cacheBreakpoints}: the first ${trimmed.given - p.cacheBreakpoints} ignored` });
    }
  }

  return { request: dropped.length === 0 && notes.length === 0 && !cached ? req : out, dropped, reasons, notes };
}

/**
 * `prompt_cache: auto`: when the request has no cache hints of its own (on its messages or tools),
 * one after the last system (or developer) text, which reads the system prompt from the cache on
 * any request that shares it, and one after the last message's last part, which the next turn of
 * the same conversation reads its whole prefix from. Providers write nothing for a prefix below
 * their minimum (1,024 tokens for most Claude models), so short prompts cost the same. Undefined
 * when nothing was placed.
 */
function autoCacheHints(messages: ChatMessage[], tools: ToolDef[] | undefined): ChatMessage[] | undefined {
  if (tools?.some((t) => t.cache)) return undefined;
  for (const m of messages) for (const part of m.content) if (part.cache) return undefined;
  const at = new Set<number>();
  let system = -1;
  for (let i = 0; i < messages.length; i++) {
    const r = messages[i].role;
    if ((r === "system" || r === "developer") && messages[i].content.some((part) => part.type === "text")) system = i;
  }
  if (system >= 0) at.add(system);
  const last = messages.length - 1;
  if (last >= 0 && last !== system && messages[last].content.length > 0) at.add(last);
  if (at.size === 0) return undefined;
  return messages.map((m, i) => {
    if (!at.has(i)) return m;
    // The system text's last text part; the last message's last part (text, image, document).
    let k = m.content.length - 1;
    if (i === system) while (k >= 0 && m.content[k].type !== "text") k--;
    return { ...m, content: m.content.map((part, j) => (j === k ? { ...part, cache: {} } : part)) };
  });
}

/** Keep the last `limit` cache hints (the longest cached prefixes); undefined when there are no more than that. */
function trimCacheHints(messages: ChatMessage[], limit: number): { messages: ChatMessage[]; given: number } | undefined {
  let given = 0;
  for (const m of messages) for (const part of m.content) if (part.cache) given++;
  if (given <= limit) return undefined;
  let skip = given - limit;
  const out = messages.map((m) => {
    if (skip === 0 || !m.content.some((part) => part.cache)) return m;
    return {
      ...m,
      content: m.content.map((part) => {
        if (!part.cache || skip === 0) return part;
        skip--;
        const { cache: _ignored, ...rest } = part;
        return rest;
      }),
    };
  });
  return { messages: out, given };
}
