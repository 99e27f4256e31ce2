// The Anthropic Messages adapter (POST /v1/messages): builds requests, parses answers, and hands
// out stream translators and error classification. Pure translation: no I/O, no state.

import type { ProviderConfig } from "../../config/types.ts";
import { header, tryJson, type Headers } from "../headers.ts";
import { MIN_THINKING_BUDGET, thinkingBlockedBy } from "../../config/model-params.ts";
import type { ChatResult, ProviderAdapter, ReasoningBlock, ReasoningEffort, ResponseFormat, ToolCall, UpstreamRequest } from "../types.ts";
import { ProviderError } from "../types.ts";
import type { AnthropicRequestBody, AnthropicResponse } from "./anthropic-api-types.ts";
import { classifyAnthropicError, type AnthropicErrorContext } from "./anthropic-error.ts";
import { createAnthropicStreamTranslator } from "./anthropic-stream.ts";
import { convertAnthropicUsage } from "./convert-anthropic-usage.ts";
import { convertToAnthropicMessages, prepareAnthropicTools, type AnthropicPrompt } from "./convert-to-anthropic-messages.ts";
import { mapAnthropicFinishReason } from "./map-anthropic-finish-reason.ts";

export const ANTHROPIC_VERSION = "2023-06-01";

/** Anthropic requires max_tokens: without a caller limit the model's maximum is sent, or this when it is unknown. */
export const DEFAULT_MAX_TOKENS = 4096;

/** The API's minimum thinking budget. */
export { MIN_THINKING_BUDGET };

/** Thinking budget (tokens) per reasoning effort. */
export const THINKING_BUDGETS: Record<ReasoningEffort, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
};

/**
 * Anthropic has no JSON-object mode, and JSON schemas only on models with structured outputs
 * (`output_config.format`, ModelParams.jsonByInstruction says which). Otherwise JSON is asked for
 * with an instruction appended to the system prompt: a request rather than a guarantee, so callers
 * that need validity must still validate (the router reports it as a note). Forcing a tool call
 * would guarantee JSON but turns the answer into a tool call.
 */
export function jsonInstruction(format: ResponseFormat): string | undefined {
  const base = "Respond with a single valid JSON object only: no prose, no Markdown code fences, nothing before or after it.";
  if (format.type === "json_object") return base;
  if (format.type === "json_schema") {
    return `${base} The object must conform to this JSON Schema (named "${format.name}"):\n${JSON.stringify(format.schema)}`;
  }
  return undefined;
}

/**
 * Anthropic accepts temperature 0..1 while OpenAI-shaped callers may send 0..2, and the API
 * answers a value above 1 with a 400. Values up to 1 pass unchanged (they mean roughly the same on
 * both); values above 1 are halved so the top of the OpenAI range (2) lands on Anthropic's top (1)
 * instead of failing the request. Note the mapping is not monotonic around 1 (1.2 → 0.6).
 */
export function anthropicTemperature(t: number): number {
  return t > 1 ? t / 2 : t;
}

/**
 * Whether the model has structured outputs (JSON schemas enforced, strict tools): the deployment's
 * rules say so (ModelParams.jsonByInstruction without json_schema); unknown rules say no.
 */
export function structuredOutputs(p: UpstreamRequest["params"]): boolean {
  return p?.jsonByInstruction !== undefined && !p.jsonByInstruction.includes("json_schema");
}

/** Reasoning effort → output_config.effort (adaptive thinking has no "minimal"). */
const ADAPTIVE_EFFORT: Record<ReasoningEffort, "low" | "medium" | "high"> = { minimal: "low", low: "low", medium: "medium", high: "high" };

/**
 * The request body, exported for tests. `req.params` (the deployment's rules) says how the model
 * thinks, whether JSON schemas are native and its output maximum; without it the shape is the
 * conservative one (manual thinking, JSON by instruction, a 4,096-token default).
 */
export function buildAnthropicRequestBody(req: UpstreamRequest, stream: boolean): AnthropicRequestBody {
  const p = req.params;
  const prompt = convertToAnthropicMessages(req.messages);
  let system = prompt.system;
  const format = req.responseFormat;
  const native = format?.type === "json_schema" && structuredOutputs(p);
  const json = format && !native ? jsonInstruction(format) : undefined;
  if (json) system = appendSystem(system, json);

  // No caller limit: the model's own maximum (Anthropic requires max_tokens).
  let maxTokens = req.maxOutputTokens ?? p?.maxOutputTokens ?? DEFAULT_MAX_TOKENS;
  let thinking: AnthropicRequestBody["thinking"];
  let effort: "low" | "medium" | "high" | undefined;
  // Thinking is a hint, so it gives way to what the API enforces with a 400 (the router reports it).
  const form = p?.thinking ?? (p ? undefined : "manual");
  if (req.reasoningEffort && form && !thinkingBlockedBy(req, form)) {
    if (form === "adaptive") {
      thinking = { type: "adaptive" };
      effort = ADAPTIVE_EFFORT[req.reasoningEffort];
    } else {
      // The caller's exact budget (Anthropic front door), else the effort's.
      const want = req.thinkingBudget ?? THINKING_BUDGETS[req.reasoningEffort];
      let budget: number;
      if (req.maxOutputTokens === undefined && !p) {
        // No caller limit and no model maximum known: leave the default room for the answer on top of the thinking.
        budget = want;
        maxTokens = DEFAULT_MAX_TOKENS + want;
      } else {
        // The limit covers everything generated, thinking included (as outputTokens does), and
        // the API requires budget < max_tokens.
        budget = Math.min(want, maxTokens - 1);
      }
      if (budget >= MIN_THINKING_BUDGET) thinking = { type: "enabled", budget_tokens: budget };
    }
  }

  const body: AnthropicRequestBody = {
    model: req.model,
    max_tokens: maxTokens,
    ...(system !== undefined ? { system } : {}),
    messages: prompt.messages,
  };
  Object.assign(body, prepareAnthropicTools(req.tools, req.toolChoice, req.parallelToolCalls, structuredOutputs(p)));

  // With thinking on, the API rejects a non-default temperature and top_p below 0.95: drop both.
  if (!thinking) {
    if (req.temperature !== undefined) body.temperature = anthropicTemperature(req.temperature);
    // Claude 4.5 and later reject temperature and top_p together; temperature wins.
    if (req.topP !== undefined && (req.temperature === undefined || p?.samplingExclusive === false)) body.top_p = req.topP;
    // Not sent while thinking either (the API rejects it then); models that deprecate it answer with their own 400.
    if (req.topK !== undefined) body.top_k = req.topK;
  }
  const stop = req.stop?.filter((s) => s.trim() !== "");
  if (stop && stop.length > 0) body.stop_sequences = stop;
  if (req.user) body.metadata = { user_id: req.user };
  if (thinking) body.thinking = thinking;
  if (native || effort) {
    body.output_config = {};
    if (native && format?.type === "json_schema") body.output_config.format = { type: "json_schema", schema: format.schema };
    if (effort) body.output_config.effort = effort;
  }
  if (stream) body.stream = true;
  // seed, presence/frequency penalties: Anthropic has none (the router drops and reports them).
  return body;
}

/** Add text at the end of the system prompt, as a string or as one more block. */
function appendSystem(system: AnthropicPrompt["system"], text: string): AnthropicPrompt["system"] {
  if (system === undefined) return text;
  if (typeof system === "string") return `${system}\n\n${text}`;
  return [...system, { type: "text", text }];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Parse a 2xx body into a ChatResult, exported for tests. */
export function parseAnthropicResponse(body: string, headers: Headers, ctx: AnthropicErrorContext = {}): ChatResult {
  const json = tryJson(body);
  if (!isObject(json)) {
    throw new ProviderError({
      kind: "server_error",
      message: `${ctx.label ? `${ctx.label}: ` : ""}anthropic returned a body that is not a JSON object`,
      requestId: header(headers, "request-id"),
    });
  }
  if (json.type === "error") throw classifyAnthropicError(undefined, body, headers, { ...ctx, fallbackKind: "server_error" });

  const r = json as unknown as AnthropicResponse;
  let text = "";
  let reasoning = "";
  const blocks: ReasoningBlock[] = [];
  const toolCalls: ToolCall[] = [];
  for (const b of Array.isArray(r.content) ? r.content : []) {
    if (!isObject(b)) continue;
    if (b.type === "text" && typeof b.text === "string") text += b.text;
    else if (b.type === "thinking" && typeof b.thinking === "string") {
      reasoning += b.thinking;
      blocks.push({ text: b.thinking, ...(typeof b.signature === "string" && b.signature !== "" ? { signature: b.signature } : {}) });
    } else if (b.type === "redacted_thinking" && typeof b.data === "string") blocks.push({ text: "", redacted: b.data });
    else if (b.type === "tool_use") {
      toolCalls.push({ id: String(b.id ?? ""), name: String(b.name ?? ""), arguments: JSON.stringify(b.input ?? {}) });
    }
    // Server-tool blocks and unknown types are ignored.
  }

  const raw = typeof r.stop_reason === "string" ? r.stop_reason : "";
  const result: ChatResult = {
    id: String(r.id ?? ""),
    model: String(r.model ?? ""),
    text,
    toolCalls,
    finishReason: mapAnthropicFinishReason(raw),
    rawFinishReason: raw,
  };
  if (reasoning !== "") result.reasoning = reasoning;
  if (blocks.length > 0) result.reasoningBlocks = blocks;
  const explanation = r.stop_details?.explanation;
  if (raw === "refusal" && typeof explanation === "string" && explanation !== "") result.refusal = explanation;
  if (isObject(r.usage)) result.usage = convertAnthropicUsage(r.usage);
  return result;
}

export function createAnthropicAdapter(conn: ProviderConfig): ProviderAdapter {
  const ctx: AnthropicErrorContext = { label: conn.name, apiKey: conn.apiKey };
  // Configured headers (e.g. anthropic-beta) may override the version; lower-cased so none is sent twice.
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(conn.headers ?? {})) extra[k.toLowerCase()] = v;

  return {
    buildRequest(req, stream) {
      const headers: Record<string, string> = {
        "anthropic-version": ANTHROPIC_VERSION,
        ...extra,
        "content-type": "application/json",
        accept: stream ? "text/event-stream" : "application/json",
      };
      if (conn.apiKey) headers["x-api-key"] = conn.apiKey;
      // The caller's betas (Anthropic front door) join the connection's own.
      if (req.anthropicBeta?.length) headers["anthropic-beta"] = [...new Set([...(extra["anthropic-beta"]?.split(",").map((b) => b.trim()) ?? []), ...req.anthropicBeta])].filter(Boolean).join(",");
      return { method: "POST", path: "/v1/messages", headers, body: JSON.stringify(buildAnthropicRequestBody(req, stream)) };
    },
    parseResponse(body, headers) {
      return parseAnthropicResponse(body, headers, ctx);
    },
    streamTranslator() {
      return createAnthropicStreamTranslator(ctx);
    },
    classifyError(status, body, headers) {
      return classifyAnthropicError(status, body, headers, ctx);
    },
  };
}
