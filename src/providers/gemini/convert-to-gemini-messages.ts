// Builds the Gemini request body from a provider-neutral UpstreamRequest: messages → contents and
// systemInstruction, tools → functionDeclarations, tool choice → toolConfig, sampling and output
// options → generationConfig. Pure: images are referenced or inlined, never downloaded.

import type { ChatMessage, ContentPart, ModelParams, ReasoningEffort, ToolChoice, ToolDef, UpstreamRequest } from "../types.ts";
import { geminiRule, nearestEffort } from "../../config/model-params.ts";
import { fileAsPromptText, ProviderError } from "../types.ts";
import type {
  GeminiContent,
  GeminiFunctionResponsePart,
  GeminiGenerationConfig,
  GeminiRequest,
  GeminiRequestPart,
  GeminiThinkingConfig,
  GeminiTool,
  GeminiToolConfig,
} from "./gemini-api-types.ts";

/**
 * The documented stand-in for a functionCall thoughtSignature the client no longer has. Gemini 3
 * rejects replayed function calls without a signature; this keeps such histories usable.
 */
export const SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator";

/** The model id without a leading `models/`. */
export function bareModel(model: string): string {
  return model.startsWith("models/") ? model.slice("models/".length) : model;
}

/** Whole request body. */
export function convertToGeminiRequest(req: UpstreamRequest): GeminiRequest {
  const body: GeminiRequest = convertToGeminiMessages(req.messages, { model: req.model });
  if (req.tools && req.tools.length > 0) {
    body.tools = convertToGeminiTools(req.tools);
    const toolConfig = convertToGeminiToolConfig(req.toolChoice);
    if (toolConfig) body.toolConfig = toolConfig;
  }
  const generationConfig = convertToGeminiGenerationConfig(req);
  if (generationConfig) body.generationConfig = generationConfig;
  return body;
}

/**
 * Messages → `systemInstruction` + `contents`.
 * - system/developer text goes to `systemInstruction.parts` wherever it appears in the
 *   conversation (Gemini has no in-place system turns); non-text parts of system messages are dropped.
 *   Gemma models reject system instructions, so for them the text is prefixed to the first user turn.
 * - user → `user`, assistant → `model`; adjacent contents of the same role are merged.
 * - tool results become `functionResponse` parts of a `user` content (consecutive results, and a user
 *   message right after them, share one content). The function name is required by Gemini: it is the
 *   message's `name`, else the name of the call with that id in the nearest earlier assistant message.
 */
export function convertToGeminiMessages(
  messages: ChatMessage[],
  options: { model: string },
): Pick<GeminiRequest, "contents" | "systemInstruction"> {
  const model = bareModel(options.model).toLowerCase();
  const isGemma = model.startsWith("gemma-");
  // Gemini 3 validates thought signatures on replayed function calls; its models think by level.
  const isGemini3 = geminiRule(model).thinkingControl === "level";
  const systemTexts: string[] = [];
  const contents: GeminiContent[] = [];

  function push(role: GeminiContent["role"], parts: GeminiRequestPart[]): void {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }

  messages.forEach((m, i) => {
    switch (m.role) {
      case "system":
      case "developer":
        for (const p of m.content) if (p.type === "text" && p.text !== "") systemTexts.push(p.text);
        break;
      case "user":
        push("user", m.content.flatMap(convertContentPart));
        break;
      case "assistant": {
        const parts: GeminiRequestPart[] = m.content.flatMap(convertContentPart);
        let batchSigned = false;
        for (const call of m.toolCalls ?? []) {
          // Gemini 3 signs only the first call of a parallel batch; later unsigned calls are fine.
          let signature = call.signature;
          if (signature === undefined && isGemini3 && !batchSigned) signature = SKIP_THOUGHT_SIGNATURE;
          batchSigned ||= call.signature !== undefined;
          parts.push({
            functionCall: { name: call.name, args: parseArguments(call.name, call.arguments), ...(call.id ? { id: call.id } : {}) },
            ...(signature !== undefined ? { thoughtSignature: signature } : {}),
          });
        }
        push("model", parts);
        break;
      }
      case "tool": {
        const parts: GeminiRequestPart[] = [functionResponse(messages, i)];
        // Images a tool returned ride along as ordinary inline parts after the response.
        for (const p of m.content) if (p.type === "image") parts.push(...convertContentPart(p));
        push("user", parts);
        break;
      }
    }
  });

  if (isGemma && systemTexts.length > 0) {
    const text = systemTexts.join("\n\n");
    if (contents[0]?.role === "user") contents[0].parts.unshift({ text: `${text}\n\n` });
    else contents.unshift({ role: "user", parts: [{ text }] });
    return { contents };
  }
  return systemTexts.length > 0 ? { systemInstruction: { parts: systemTexts.map((text) => ({ text })) }, contents } : { contents };
}

function convertContentPart(p: ContentPart): GeminiRequestPart[] {
  if (p.type === "text") return p.text === "" ? [] : [{ text: p.text }];
  if (p.type === "file") {
    // A PDF goes inline; a text document as its text.
    const text = fileAsPromptText(p);
    if (text !== undefined) return [{ text }];
    return [{ inlineData: { mimeType: p.mediaType, data: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString("base64") } }];
  }
  if (p.data !== undefined) {
    if (!p.mediaType) throw badRequest("an image given as bytes needs a mediaType");
    return [{ inlineData: { mimeType: p.mediaType, data: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString("base64") } }];
  }
  const url = p.url ?? "";
  if (url.startsWith("data:")) return [{ inlineData: parseDataUrl(url, p.mediaType) }];
  if (/^https?:\/\//i.test(url)) {
    // The adapter cannot download: the URL is handed to Gemini as fileData. Gemini fetches Files-API
    // and YouTube URIs (and, on newer models, public URLs); anything it cannot fetch is its 400.
    const mimeType = p.mediaType ?? guessImageMimeType(url);
    return [{ fileData: { fileUri: url, ...(mimeType ? { mimeType } : {}) } }];
  }
  throw badRequest("an image needs bytes, a data: URL or an https: URL");
}

/** `data:[<mime>][;base64],<data>` → inlineData; non-base64 (percent-encoded) payloads are re-encoded. */
function parseDataUrl(url: string, fallbackType: string | undefined): { mimeType: string; data: string } {
  const comma = url.indexOf(",");
  if (comma === -1) throw badRequest("malformed data: URL");
  const meta = url.slice("data:".length, comma).split(";");
  const payload = url.slice(comma + 1);
  const mimeType = meta[0].trim() || fallbackType || "application/octet-stream";
  const isBase64 = meta.slice(1).some((s) => s.trim().toLowerCase() === "base64");
  let data: string;
  if (isBase64) {
    data = payload.replace(/\s+/g, "");
  } else {
    try {
      data = Buffer.from(decodeURIComponent(payload), "latin1").toString("base64");
    } catch {
      throw badRequest("malformed data: URL");
    }
  }
  return { mimeType, data };
}

const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
};

function guessImageMimeType(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return ext ? IMAGE_TYPES[ext] : undefined;
}

/** ToolCall.arguments (JSON text) → the object Gemini requires; "" means no arguments. */
function parseArguments(name: string, args: string): { [k: string]: unknown } {
  if (args.trim() === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    throw badRequest(`arguments of tool call "${name}" are not valid JSON`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw badRequest(`arguments of tool call "${name}" must be a JSON object`);
  return v as { [k: string]: unknown };
}

/**
 * A tool message → functionResponse. `response` must be an object: a JSON-object result is sent
 * as-is, any other JSON value or plain text is wrapped as `{result: …}`, and a failed tool's output
 * as `{error: …}`.
 */
function functionResponse(messages: ChatMessage[], i: number): GeminiFunctionResponsePart {
  const m = messages[i];
  const name = m.name || findToolName(messages, i, m.toolCallId);
  if (!name) {
    throw badRequest(`tool result ${m.toolCallId ? `for call "${m.toolCallId}" ` : ""}has no name and no matching earlier tool call`);
  }
  const text = m.content.map((p) => (p.type === "text" ? p.text : "")).join("");
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // Plain text stays text.
  }
  let response: { [k: string]: unknown };
  if (m.isError) response = { error: value };
  else if (value !== null && typeof value === "object" && !Array.isArray(value)) response = value as { [k: string]: unknown };
  else response = { result: value };
  return { functionResponse: { name, response, ...(m.toolCallId ? { id: m.toolCallId } : {}) } };
}

/** The name of the call answered, from the nearest earlier assistant message that made it. */
function findToolName(messages: ChatMessage[], before: number, id: string | undefined): string | undefined {
  if (!id) return undefined;
  for (let j = before - 1; j >= 0; j--) {
    const m = messages[j];
    if (m.role !== "assistant") continue;
    const call = m.toolCalls?.find((c) => c.id === id);
    if (call) return call.name;
  }
  return undefined;
}

/**
 * Tools are sent with `parametersJsonSchema` (full JSON Schema, Gemini 2.5+), not the OpenAPI-subset
 * `parameters`: no lossy schema rewriting ($ref, type arrays, additionalProperties all pass through).
 * Only the top-level `$schema` is dropped, as a meta keyword that says nothing about the arguments.
 */
export function convertToGeminiTools(tools: ToolDef[]): GeminiTool[] {
  return [
    {
      functionDeclarations: tools.map((t) => {
        const decl: GeminiTool["functionDeclarations"][number] = { name: t.name };
        if (t.description) decl.description = t.description;
        if (t.parameters) {
          const { $schema: _dropped, ...schema } = t.parameters;
          decl.parametersJsonSchema = schema;
        }
        return decl;
      }),
    },
  ];
}

export function convertToGeminiToolConfig(choice: ToolChoice | undefined): GeminiToolConfig | undefined {
  switch (choice?.type) {
    case undefined:
      return undefined;
    case "auto":
      return { functionCallingConfig: { mode: "AUTO" } };
    case "none":
      return { functionCallingConfig: { mode: "NONE" } };
    case "required":
      return { functionCallingConfig: { mode: "ANY" } };
    case "tool":
      return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.name] } };
  }
}

/** Sampling, limits, output format and thinking. `user` has no Developer-API field and is dropped. */
export function convertToGeminiGenerationConfig(req: UpstreamRequest): GeminiGenerationConfig | undefined {
  const g: GeminiGenerationConfig = {};
  if (req.temperature !== undefined) g.temperature = req.temperature;
  if (req.topP !== undefined) g.topP = req.topP;
  if (req.maxOutputTokens !== undefined) g.maxOutputTokens = req.maxOutputTokens;
  if (req.stop && req.stop.length > 0) g.stopSequences = req.stop;
  if (req.seed !== undefined) g.seed = req.seed;
  if (req.presencePenalty !== undefined) g.presencePenalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) g.frequencyPenalty = req.frequencyPenalty;
  const rf = req.responseFormat;
  if (rf?.type === "json_object") {
    g.responseMimeType = "application/json";
  } else if (rf?.type === "json_schema") {
    g.responseMimeType = "application/json";
    g.responseJsonSchema = rf.schema;
  }
  if (req.logprobs) {
    g.responseLogprobs = true;
    if (req.topLogprobs) g.logprobs = req.topLogprobs;
  }
  if (req.reasoningEffort) {
    const t = convertToGeminiThinkingConfig(req.model, req.reasoningEffort, req.params);
    if (t) g.thinkingConfig = t;
  }
  return Object.keys(g).length > 0 ? g : undefined;
}

const THINKING_BUDGET: Record<ReasoningEffort, number> = {
  // 512 is inside every 2.5 model's range (Pro 128–32768, Flash 0–24576, Flash-Lite 512–24576).
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
};

/**
 * reasoningEffort → thinkingConfig, with `includeThoughts` so thought summaries come back as reasoning.
 * How a model is told (a level or a token budget) and which efforts it takes come from the
 * catalog's rules (src/config/model-params.ts), resolved once per deployment; the router has
 * already mapped an effort the model does not take to the nearest one, and dropped the effort
 * for models that do not think. Without resolved rules (a direct adapter call) the table is
 * consulted by model id.
 */
export function convertToGeminiThinkingConfig(model: string, effort: ReasoningEffort, params?: ModelParams): GeminiThinkingConfig | undefined {
  const rule = params ? { thinkingControl: params.thinkingControl, efforts: params.efforts, rejects: params.rejects } : geminiRule(model);
  if (!rule.thinkingControl || rule.rejects?.reasoning_effort) return undefined;
  if (rule.thinkingControl === "level") {
    const level = rule.efforts && !rule.efforts.includes(effort) ? nearestEffort(effort, rule.efforts) : effort;
    return { thinkingLevel: level, includeThoughts: true };
  }
  return { thinkingBudget: THINKING_BUDGET[effort], includeThoughts: true };
}


function badRequest(message: string): ProviderError {
  return new ProviderError({ kind: "bad_request", message: `gemini: ${message}`, retryable: false });
}
