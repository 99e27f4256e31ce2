// OpenAI Chat Completions request JSON → the router's ChatCall. Shapes only, checked as they are
// read: a wrong type is a 400 naming the parameter the way OpenAI does ("messages[1].content").
// Everything else (ranges, tool-call pairing, limits) is the same validation ChatService runs.
//
// Accepted beyond OpenAI's own parameters:
//   - OpenRouter's `models` (models tried in order after `model`), `reasoning.effort`, its
//     `provider` preferences (order, only, ignore, allow_fallbacks, sort, max_price,
//     require_parameters, data_collection, zdr: src/router/provider-preferences.ts), its
//     `transforms: ["middle-out"]` (src/router/middle-out.ts), its `plugins` (response-healing;
//     file-parser with the native engine), and its hints `route` and `usage`, which are accepted
//     and ignored;
//   - LiteLLM's and Bifrost's `fallbacks` (model names, or {model}), LiteLLM's `num_retries`,
//     `timeout` (seconds), `tags` and `metadata.tags`, and `cache` controls (no-cache, no-store, ttl);
//   - a `signalbox` object with the Connect API's routing options (`providers` is `provider`),
//     tags and cache options;
//   - Anthropic's `cache_control: {"type": "ephemeral", "ttl"?: "5m" | "1h"}` on a content part
//     (what OpenRouter and LiteLLM accept too): the part's cache hint.

import { PDF_ENGINES } from "../engine/file-parser.ts";
import type { FileSearchRequest } from "../engine/file-search.ts";
import { fileSearchRequest, parseFileSearchTool } from "../vectors/search.ts";
import { MAX_CHOICES } from "./choices.ts";
import type { CacheMode } from "../engine/chat-engine.ts";
import { CONTEXT_RESULTS, locationCountry, MAX_WEB_RESULTS, type WebSearchRequest } from "../engine/web-search.ts";
import type { CacheHint, ChatMessage, ContentPart, JsonObject, ReasoningEffort, ResponseFormat, ToolChoice, ToolDef, UpstreamRequest } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller, ChatCall, PdfEngine, PdfReading, ProviderPreferences } from "../router/types.ts";
import { finishPreferences } from "../router/provider-preferences.ts";
import { applyPrompt, findPrompt, pickVersion, renderPrompt, validatePrompted, type PromptLibrary, type RenderedPrompt } from "../control/prompts.ts";
import { validateCall, type FieldNames } from "../server/validate.ts";
import type { PresetConfig, Task } from "../config/types.ts";
import { namesPreset, withPreset } from "./presets.ts";

export type Json = Record<string, unknown>;

export interface CompatRequest {
  call: ChatCall;
  /** stream_options.include_usage */
  includeUsage: boolean;
  cache?: { mode: CacheMode; ttlSeconds?: number };
  /** How many choices (`n`, 1–MAX_CHOICES): each is its own call through the engine (choices.ts). */
  n: number;
  /** OpenAI's `store`: keep the completion for GET /v1/chat/completions (chat-stored.ts). */
  store: boolean;
  /** OpenRouter's response-healing plugin on a JSON answer given whole: repair it (heal.ts). */
  healJson?: boolean;
}

export function bad(param: string, message: string): never {
  throw new GatewayError("invalid_argument", `${param}: ${message}`, { field: param });
}

export const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export function str(o: Json, k: string, path: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") bad(path, `must be a string, got ${typeof v}`);
  return v;
}
export function num(o: Json, k: string, path: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) bad(path, `must be a number`);
  return v;
}
export function int(o: Json, k: string, path: string): number | undefined {
  const v = num(o, k, path);
  if (v !== undefined && !Number.isInteger(v)) bad(path, `must be an integer, got ${v}`);
  return v;
}
export function bool(o: Json, k: string, path: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") bad(path, "must be a boolean");
  return v;
}
export function arr(o: Json, k: string, path: string): unknown[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) bad(path, "must be an array");
  return v;
}
export function obj(o: Json, k: string, path: string): Json | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) bad(path, "must be an object");
  return v;
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);
const DETAILS = new Set(["auto", "low", "high"]);
const EFFORTS = new Set(["minimal", "low", "medium", "high"]);
const TASKS = new Set(["coding", "reasoning", "creative", "simple", "multimodal"]);
const CACHE_MODES = new Set(["use", "bypass", "refresh"]);

/** Parameters that change what OpenAI would return and that the gateway cannot honour: refused, never silently dropped. */
const UNSUPPORTED: Record<string, string> = {
  audio: "audio output is not supported by the gateway",
  prediction: "predicted outputs are not supported by the gateway",
  functions: "the deprecated functions parameter is not supported; use tools",
  function_call: "the deprecated function_call parameter is not supported; use tool_choice",
};

/**
 * OpenRouter's `plugins`: `file-parser` picks how PDFs are read (engine/file-parser.ts: `native`, each
 * provider in its own form; `pdf-text`; `mistral-ocr`, through the gateway's OCR route),
 * `response-healing` repairs a JSON answer (./heal.ts), `web` is read with the call; the rest is
 * refused by name (moderation: not run here).
 */
function openRouterPlugins(body: Json): { heal: boolean; pdf?: PdfReading } {
  let heal = false;
  (arr(body, "plugins", "plugins") ?? []).forEach((p, i) => {
    const at = `plugins[${i}]`;
    if (!isObj(p)) bad(at, "must be an object with an id");
    const id = str(p, "id", `${at}.id`);
    if (id === "response-healing" || id === "response_healing") {
      heal = true;
      return;
    }
    // file-parser: pdfPlugin; web: read with the call (webSearchRequest), on every door that takes plugins.
    if (id === "file-parser" || id === "web") return;
    bad(`${at}.id`, `OpenRouter's ${JSON.stringify(id ?? "")} plugin is not run by the gateway`);
  });
  const pdf = pdfReading(body);
  return { heal, ...(pdf ? { pdf } : {}) };
}

/**
 * How PDFs are read before the call is planned: OpenRouter's `file-parser` plugin in `plugins` (on
 * the doors that take plugins), or the gateway's own `signalbox.pdf_reader` (on every chat door:
 * Chat Completions, Responses, Messages, Gemini); undefined for `native` or neither.
 */
export function pdfReading(body: Json): PdfReading | undefined {
  const plugin = pdfPlugin(body);
  const sb = obj(body, "signalbox", "signalbox");
  const own = sb ? str(sb, "pdf_reader", "signalbox.pdf_reader") : undefined;
  if (own === undefined) return plugin;
  if (!PDF_ENGINES.includes(own)) bad("signalbox.pdf_reader", `must be ${PDF_ENGINES.join(", ")}; got "${own}"`);
  if (plugin && plugin.engine !== own) bad("signalbox.pdf_reader", `says "${own}" where ${plugin.field} says "${plugin.engine}": give one`);
  return own === "native" ? undefined : (plugin ?? { engine: own as PdfEngine, field: "signalbox.pdf_reader" });
}

/** OpenRouter's `file-parser` plugin in `plugins`: how PDFs are read; undefined for `native` or none. */
function pdfPlugin(body: Json): PdfReading | undefined {
  let pdf: PdfReading | undefined;
  (arr(body, "plugins", "plugins") ?? []).forEach((p, i) => {
    if (!isObj(p) || p.id !== "file-parser") return;
    const at = `plugins[${i}]`;
    const engine = str(obj(p, "pdf", `${at}.pdf`) ?? {}, "engine", `${at}.pdf.engine`);
    if (engine === undefined || engine === "native") return;
    if (!PDF_ENGINES.includes(engine)) bad(`${at}.pdf.engine`, `must be ${PDF_ENGINES.join(", ")}; got "${engine}"`);
    pdf = { engine: engine as PdfEngine, field: `${at}.pdf.engine` };
  });
  return pdf;
}

/** A content part's `cache_control`, Anthropic's shape. */
function cacheControl(p: Json, path: string): { cache?: CacheHint } {
  const cc = obj(p, "cache_control", path);
  if (!cc) return {};
  if (cc.type !== "ephemeral") bad(`${path}.type`, `must be "ephemeral", got ${JSON.stringify(cc.type)}`);
  const ttl = str(cc, "ttl", `${path}.ttl`);
  if (ttl !== undefined && ttl !== "5m" && ttl !== "1h") bad(`${path}.ttl`, `must be "5m" or "1h", got "${ttl}"`);
  return { cache: ttl ? { ttl } : {} };
}

/** A file part from a base64 data: URL (`data:application/pdf;base64,…`), as OpenAI's file_data is. */
export function fileFromDataUrl(url: string, path: string, filename: string | undefined): Extract<ContentPart, { type: "file" }> {
  const m = /^data:([a-z]+\/[a-z0-9.+-]+)((?:;[^;,]*)*);base64,(.*)$/is.exec(url);
  if (!m) bad(path, "must be a base64 data: URL (data:application/pdf;base64,...)");
  return { type: "file", data: Buffer.from(m[3], "base64"), mediaType: m[1].toLowerCase(), ...(filename ? { filename } : {}) };
}

function content(v: unknown, path: string, role: string): ContentPart[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return v === "" ? [] : [{ type: "text", text: v }];
  if (!Array.isArray(v)) bad(path, "must be a string or an array of content parts");
  return v.map((p, j): ContentPart => {
    const pp = `${path}[${j}]`;
    if (!isObj(p)) bad(pp, "must be an object");
    switch (p.type) {
      case "text":
        return { type: "text", text: str(p, "text", `${pp}.text`) ?? bad(`${pp}.text`, "is required"), ...cacheControl(p, `${pp}.cache_control`) };
      case "refusal":
        // An assistant's earlier refusal, sent back as history: it is text to the next turn.
        if (role !== "assistant") bad(`${pp}.type`, "refusal parts are only allowed in assistant messages");
        return { type: "text", text: str(p, "refusal", `${pp}.refusal`) ?? "" };
      case "image_url": {
        const img = obj(p, "image_url", `${pp}.image_url`) ?? bad(`${pp}.image_url`, "is required");
        const url = str(img, "url", `${pp}.image_url.url`) ?? bad(`${pp}.image_url.url`, "is required");
        const detail = str(img, "detail", `${pp}.image_url.detail`);
        if (detail !== undefined && !DETAILS.has(detail)) bad(`${pp}.image_url.detail`, `must be auto, low or high, got "${detail}"`);
        return { type: "image", url, ...(detail ? { detail: detail as "auto" | "low" | "high" } : {}), ...cacheControl(p, `${pp}.cache_control`) };
      }
      case "file": {
        const f = obj(p, "file", `${pp}.file`) ?? bad(`${pp}.file`, "is required");
        if (f.file_id !== undefined) bad(`${pp}.file.file_id`, "uploaded files are not supported by the gateway; send the file's bytes as file_data (a base64 data: URL)");
        const data = str(f, "file_data", `${pp}.file.file_data`) ?? bad(`${pp}.file.file_data`, "is required");
        const filename = str(f, "filename", `${pp}.file.filename`);
        return { ...fileFromDataUrl(data, `${pp}.file.file_data`, filename), ...cacheControl(p, `${pp}.cache_control`) };
      }
      case "input_audio":
        bad(`${pp}.type`, `${p.type} content is not supported by the gateway`);
      // falls through (bad never returns)
      default:
        bad(`${pp}.type`, `must be text, image_url or file, got ${JSON.stringify(p.type)}`);
    }
  });
}

function messages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) bad("messages", "is required");
  if (!Array.isArray(v)) bad("messages", "must be an array");
  return v.map((m, i): ChatMessage => {
    const path = `messages[${i}]`;
    if (!isObj(m)) bad(path, "must be an object");
    const role = str(m, "role", `${path}.role`);
    if (role === "function") bad(`${path}.role`, "the deprecated function role is not supported; use tool");
    if (!role || !ROLES.has(role)) bad(`${path}.role`, `must be system, developer, user, assistant or tool, got ${JSON.stringify(m.role)}`);
    const out: ChatMessage = { role: role as ChatMessage["role"], content: content(m.content, `${path}.content`, role) };
    const name = str(m, "name", `${path}.name`);
    if (name) out.name = name;
    const calls = arr(m, "tool_calls", `${path}.tool_calls`);
    if (calls?.length) {
      out.toolCalls = calls.map((c, j) => {
        const cp = `${path}.tool_calls[${j}]`;
        if (!isObj(c)) bad(cp, "must be an object");
        if (c.type !== undefined && c.type !== "function") bad(`${cp}.type`, `must be function, got ${JSON.stringify(c.type)}`);
        const fn = obj(c, "function", `${cp}.function`) ?? bad(`${cp}.function`, "is required");
        return {
          id: str(c, "id", `${cp}.id`) ?? "",
          name: str(fn, "name", `${cp}.function.name`) ?? "",
          arguments: str(fn, "arguments", `${cp}.function.arguments`) ?? "",
        };
      });
    }
    const toolCallId = str(m, "tool_call_id", `${path}.tool_call_id`);
    if (toolCallId) out.toolCallId = toolCallId;
    return out;
  });
}

/**
 * The `file_search` tool on Chat Completions (as LiteLLM takes it there): passages of the gateway's
 * vector stores before the model (src/engine/file-search.ts); one per request.
 */
function fileSearchOf(v: unknown[] | undefined): FileSearchRequest | undefined {
  let out: FileSearchRequest | undefined;
  v?.forEach((t, i) => {
    if (!isObj(t) || t.type !== "file_search") return;
    const path = `tools[${i}]`;
    if (out) bad(`${path}.type`, "one file_search tool per request");
    const f = parseFileSearchTool(t, path);
    out = fileSearchRequest(f, path);
  });
  return out;
}

function tools(v: unknown[] | undefined): ToolDef[] | undefined {
  const fns = v?.filter((t) => !(isObj(t) && t.type === "file_search"));
  if (!fns?.length) return undefined;
  return v!.flatMap((t, i): ToolDef[] => {
    const path = `tools[${i}]`;
    if (!isObj(t)) bad(path, "must be an object");
    if (t.type === "file_search") return [];
    if (t.type !== "function") bad(`${path}.type`, `must be function or file_search, got ${JSON.stringify(t.type)}`);
    const fn = obj(t, "function", `${path}.function`) ?? bad(`${path}.function`, "is required");
    const name = str(fn, "name", `${path}.function.name`) ?? bad(`${path}.function.name`, "is required");
    const description = str(fn, "description", `${path}.function.description`);
    const parameters = obj(fn, "parameters", `${path}.function.parameters`);
    const strict = bool(fn, "strict", `${path}.function.strict`);
    return [{ name, ...(description ? { description } : {}), ...(parameters ? { parameters: parameters as JsonObject } : {}), ...(strict ? { strict } : {}) }];
  });
}

function toolChoice(v: unknown): ToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === "auto" || v === "none" || v === "required") return { type: v };
  if (isObj(v) && v.type === "function") {
    const fn = obj(v, "function", "tool_choice.function") ?? bad("tool_choice.function", "is required");
    return { type: "tool", name: str(fn, "name", "tool_choice.function.name") ?? bad("tool_choice.function.name", "is required") };
  }
  bad("tool_choice", 'must be "none", "auto", "required" or {"type": "function", "function": {"name": ...}}');
}

function responseFormat(v: Json | undefined): ResponseFormat | undefined {
  if (!v) return undefined;
  switch (v.type) {
    case "text":
      return { type: "text" };
    case "json_object":
      return { type: "json_object" };
    case "json_schema": {
      const js = obj(v, "json_schema", "response_format.json_schema") ?? bad("response_format.json_schema", "is required for type json_schema");
      const strict = bool(js, "strict", "response_format.json_schema.strict");
      return {
        type: "json_schema",
        name: str(js, "name", "response_format.json_schema.name") ?? "",
        schema: (obj(js, "schema", "response_format.json_schema.schema") ?? undefined) as JsonObject,
        ...(strict ? { strict } : {}),
      };
    }
    default:
      bad("response_format.type", `must be text, json_object or json_schema, got ${JSON.stringify(v.type)}`);
  }
}

export function stringList(v: unknown[] | undefined, path: string): string[] {
  return (v ?? []).map((s, i) => (typeof s === "string" ? s : bad(`${path}[${i}]`, "must be a string")));
}

/** Parse and validate one chat completion request body. */
export function parseChatRequest(raw: unknown, id: string, caller: Caller, prompts?: PromptLibrary, presets?: readonly PresetConfig[]): CompatRequest {
  if (!isObj(raw)) bad("body", "must be a JSON object");
  // OpenRouter's presets: the preset's fields as the request's defaults (presets.ts).
  const body = namesPreset(raw) ? withPreset(raw, presets) : raw;
  // LiteLLM's prompt_id, prompt_version and prompt_variables: a template of the prompt library.
  const template = chatPrompt(body, caller, prompts);
  for (const k in UNSUPPORTED) {
    const v = body[k];
    if (v !== undefined && v !== null && v !== false) bad(k, UNSUPPORTED[k]);
  }
  const { heal, pdf } = openRouterPlugins(body);
  const model = str(body, "model", "model") ?? template?.model ?? bad("model", template ? `is required (prompt "${template.id}" names no model)` : "is required");
  const n = int(body, "n", "n") ?? 1;
  if (n < 1) bad("n", `must be at least 1, got ${n}`);
  if (n > MAX_CHOICES) bad("n", `at most ${MAX_CHOICES} choices (each is its own upstream call), got ${n}`);
  const modalities = arr(body, "modalities", "modalities");
  if (modalities && modalities.some((m) => m !== "text")) bad("modalities", "only text output is supported");

  const req: Omit<UpstreamRequest, "model"> = { messages: template && (body.messages === undefined || body.messages === null) ? [] : messages(body.messages) };
  const t = tools(arr(body, "tools", "tools"));
  if (t) req.tools = t;
  const tc = toolChoice(body.tool_choice);
  if (tc) req.toolChoice = tc;
  const ptc = bool(body, "parallel_tool_calls", "parallel_tool_calls");
  if (ptc !== undefined) req.parallelToolCalls = ptc;
  // max_completion_tokens is the current name; max_tokens the deprecated one (still what most
  // OpenAI-compatible clients send).
  const maxName = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = int(body, maxName, maxName);
  if (maxTokens !== undefined) req.maxOutputTokens = maxTokens;
  samplingOptions(body, req);
  if (bool(body, "logprobs", "logprobs") === true) req.logprobs = true;
  const topLogprobs = int(body, "top_logprobs", "top_logprobs");
  if (topLogprobs !== undefined) req.topLogprobs = topLogprobs;
  const rf = responseFormat(obj(body, "response_format", "response_format"));
  if (rf) req.responseFormat = rf;
  // OpenAI's reasoning_effort, or OpenRouter's reasoning.effort.
  const effort = str(body, "reasoning_effort", "reasoning_effort") ?? str(obj(body, "reasoning", "reasoning") ?? {}, "effort", "reasoning.effort");
  if (effort !== undefined && effort !== "none") {
    if (!EFFORTS.has(effort)) bad("reasoning_effort", `must be minimal, low, medium or high, got "${effort}"`);
    req.reasoningEffort = effort as ReasoningEffort;
  }
  const user = str(body, "user", "user");
  if (user) req.user = user;

  const so = obj(body, "stream_options", "stream_options");
  const stream = bool(body, "stream", "stream") ?? false;
  if (so && !stream) bad("stream_options", "is only allowed when stream is true");

  const { call, cache } = doorCall(body, { id, model, request: req, user, metadata: stringMetadata(body), caller, stream, extraFallbacks: stringList(arr(body, "models", "models"), "models") });
  const fileSearch = fileSearchOf(arr(body, "tools", "tools"));
  if (fileSearch) call.fileSearch = fileSearch;
  if (pdf) call.pdfReader = pdf;
  const offset = template ? applyPrompt(call, template) : 0;
  validatePrompted(offset, () => validateCall(call, fieldNames(maxName)));
  // Response healing applies to JSON answers given whole (OpenRouter's rule: not to streams).
  const healJson = heal && !stream && (call.request.responseFormat?.type === "json_object" || call.request.responseFormat?.type === "json_schema");
  return { call, includeUsage: so ? bool(so, "include_usage", "stream_options.include_usage") === true : false, cache, n, store: bool(body, "store", "store") === true, ...(healJson ? { healJson } : {}) };
}

/** A preset's fields in the router's terms, worked out once per preset (a reload makes new ones). */
const PRESET_DEFAULTS = new WeakMap<PresetConfig, { request: Omit<UpstreamRequest, "model" | "messages">; providers?: ProviderPreferences }>();

function presetDefaults(p: PresetConfig, caller: Caller) {
  let d = PRESET_DEFAULTS.get(p);
  if (!d) {
    // Parsed as the endpoint parses a request of those fields (they were checked as strictly at load).
    const { call } = parseChatRequest({ ...p.params, model: p.model, messages: [{ role: "user", content: "-" }] }, "preset", caller);
    const { messages: _m, ...request } = call.request;
    d = { request, ...(call.routing.providers ? { providers: call.routing.providers } : {}) };
    PRESET_DEFAULTS.set(p, d);
  }
  return d;
}

/**
 * A preset named by a call's model (`@preset/<name>`, or `<model>@preset/<name>`) on the doors
 * that build calls of their own (the Connect API, the Anthropic Messages and Responses APIs): its
 * model, its system prompt before the call's messages, its parameters where the call sets none,
 * its provider preferences when the call gives none (the OpenAI-compatible endpoint merges them key
 * by key: withPreset), and its tag and metadata. The engine calls it before planning.
 */
/**
 * A request's provider preferences over a preset's, key by key: what the request sets wins, and
 * where it leaves a key at its default (an empty order, only or ignore list, fallbacks allowed, no
 * sort or price cap, parameters not required, data collection allowed, no zdr), the preset's holds.
 * (A Connect request cannot say a key apart from its default: proto3's fields have no presence.)
 */
export function mergePreferences(request: ProviderPreferences, preset: ProviderPreferences): ProviderPreferences {
  return {
    order: request.order.length ? request.order : preset.order,
    only: request.only.length ? request.only : preset.only,
    ignore: request.ignore.length ? request.ignore : preset.ignore,
    allowFallbacks: request.allowFallbacks && preset.allowFallbacks,
    ...((request.sort ?? preset.sort) ? { sort: request.sort ?? preset.sort } : {}),
    ...((request.maxPrice ?? preset.maxPrice) ? { maxPrice: { ...preset.maxPrice, ...request.maxPrice } } : {}),
    requireParameters: request.requireParameters || preset.requireParameters,
    dataCollection: request.dataCollection === "deny" || preset.dataCollection === "deny" ? "deny" : "allow",
    zdr: request.zdr || preset.zdr,
    field: request.field,
  };
}

export function applyPresetToCall(call: ChatCall, presets: readonly PresetConfig[] | undefined): void {
  const at = call.model.indexOf("@preset/");
  if (at < 0) return;
  const name = call.model.slice(at + "@preset/".length);
  const p = presets?.find((x) => x.name === name) ?? bad("model", `no preset "${name}"${presets?.length ? ` (presets: ${presets.map((x) => x.name).join(", ")})` : " (none is configured)"}`);
  const d = presetDefaults(p, call.caller);
  call.model = at > 0 ? call.model.slice(0, at) : p.model;
  const req = call.request as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(d.request)) if (req[k] === undefined) req[k] = v;
  if (p.system) call.request.messages = [{ role: "system", content: [{ type: "text", text: p.system }] }, ...call.request.messages];
  if (d.providers) call.routing.providers = call.routing.providers ? mergePreferences(call.routing.providers, d.providers) : d.providers;
  call.tags = [...call.tags, `preset:${p.name}`];
  call.metadata = { ...call.metadata, "signalbox.preset": p.name };
}

/** LiteLLM's prompt fields on Chat Completions (or the signalbox object's prompt), rendered; undefined without one. */
function chatPrompt(body: Json, caller: Caller, prompts: PromptLibrary | undefined): RenderedPrompt | undefined {
  const id = str(body, "prompt_id", "prompt_id");
  if (id === undefined) {
    for (const k of ["prompt_version", "prompt_variables"]) if (body[k] !== undefined && body[k] !== null) bad(k, "needs prompt_id");
    return signalboxPrompt(body, caller, prompts);
  }
  if (isObj(body.signalbox) && body.signalbox.prompt !== undefined && body.signalbox.prompt !== null) bad("signalbox.prompt", "give prompt_id or signalbox.prompt, not both");
  if (!prompts) bad("prompt_id", `no prompt "${id}"`);
  const v = body.prompt_version;
  const version = v === undefined || v === null ? undefined : typeof v === "number" ? String(v) : str(body, "prompt_version", "prompt_version");
  const p = findPrompt(prompts, caller, id, "prompt_id");
  return renderPrompt(p, pickVersion(p, version, "prompt_version"), obj(body, "prompt_variables", "prompt_variables") ?? {}, "prompt_variables");
}

/**
 * The signalbox object's `prompt` ({id, version, variables}): a template of the prompt library on
 * any door (the Anthropic and Gemini doors have no prompt field of their own), rendered; undefined
 * without one. Errors name `signalbox.prompt.<field>`.
 */
export function signalboxPrompt(body: Json, caller: Caller, prompts: PromptLibrary | undefined): RenderedPrompt | undefined {
  const sb = obj(body, "signalbox", "signalbox");
  const p = sb && obj(sb, "prompt", "signalbox.prompt");
  if (!p) return undefined;
  for (const k of Object.keys(p)) if (k !== "id" && k !== "version" && k !== "variables") bad(`signalbox.prompt.${k}`, "unknown field (a prompt takes id, version and variables)");
  const id = str(p, "id", "signalbox.prompt.id") ?? bad("signalbox.prompt.id", "is required");
  if (!prompts) bad("signalbox.prompt.id", `no prompt "${id}"`);
  const v = p.version;
  const version = v === undefined || v === null ? undefined : typeof v === "number" ? String(v) : str(p, "version", "signalbox.prompt.version");
  const found = findPrompt(prompts, caller, id, "signalbox.prompt.id");
  return renderPrompt(found, pickVersion(found, version, "signalbox.prompt.version"), obj(p, "variables", "signalbox.prompt.variables") ?? {}, "signalbox.prompt.variables");
}

/**
 * The sampling fields OpenAI's chat and legacy completions share: temperature, top_p, stop (a
 * string or a list), seed, the presence and frequency penalties, logit_bias.
 */
export function samplingOptions(body: Json, req: Omit<UpstreamRequest, "model">): void {
  const temperature = num(body, "temperature", "temperature");
  if (temperature !== undefined) req.temperature = temperature;
  const topP = num(body, "top_p", "top_p");
  if (topP !== undefined) req.topP = topP;
  const stop = body.stop;
  if (typeof stop === "string") req.stop = [stop];
  else if (Array.isArray(stop)) req.stop = stringList(stop, "stop");
  else if (stop !== undefined && stop !== null) bad("stop", "must be a string or an array of strings");
  const seed = int(body, "seed", "seed");
  if (seed !== undefined) req.seed = seed;
  const pp = num(body, "presence_penalty", "presence_penalty");
  if (pp !== undefined) req.presencePenalty = pp;
  const fp = num(body, "frequency_penalty", "frequency_penalty");
  if (fp !== undefined) req.frequencyPenalty = fp;
  const bias = obj(body, "logit_bias", "logit_bias");
  if (bias && Object.keys(bias).length) req.logitBias = bias as Record<string, number>;
}

/** OpenAI's `metadata`: string values only (recorded with usage, never sent upstream). */
export function stringMetadata(body: Json): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(body, "metadata", "metadata") ?? {})) {
    // LiteLLM's metadata.tags (a list) are the request's tags (signalboxOptions).
    if (k === "tags" && Array.isArray(v)) continue;
    if (typeof v !== "string") bad(`metadata.${k}`, "must be a string");
    metadata[k] = v;
  }
  // LiteLLM's `no-log: true`: this request's text stays out of the exports that capture content.
  const noLog = body["no-log"];
  if (noLog !== undefined) {
    if (typeof noLog !== "boolean") bad("no-log", "must be a boolean");
    if (noLog) metadata.no_log = "true";
  }
  return metadata;
}

/** What a front door knows of a call besides its `signalbox` object. */
export interface DoorCall {
  id: string;
  model: string;
  request: ChatCall["request"];
  user?: string;
  metadata: Record<string, string>;
  caller: Caller;
  stream: boolean;
  /** The sticky key when the `signalbox` object names none (default: the user). */
  sticky?: string;
  /** Models tried after `model`, before the `signalbox` object's fallbacks. */
  extraFallbacks?: string[];
}

/**
 * What a request asks of web search (src/engine/web-search.ts): OpenRouter's `web` plugin
 * (`max_results`, `search_prompt`; `engine` exa or tavily, whichever the gateway has, not
 * `native`), its `:online` model suffix, or OpenAI's `web_search_options` (`search_context_size`
 * low, medium or high: 3, 5 or 10 results; `user_location`'s country goes to the engine).
 */
function webSearchRequest(body: Json, online: boolean): WebSearchRequest | undefined {
  let out: WebSearchRequest | undefined = online ? {} : undefined;
  (arr(body, "plugins", "plugins") ?? []).forEach((p, i) => {
    if (!isObj(p) || p.id !== "web") return;
    const at = `plugins[${i}]`;
    if (out && Object.keys(out).length) bad(at, "one web plugin per request");
    const engine = str(p, "engine", `${at}.engine`);
    if (engine !== undefined && engine !== "exa" && engine !== "tavily") bad(`${at}.engine`, `"${engine}" is not run by the gateway: its web search asks the search engine of its config (exa or tavily), not the model's own`);
    const max = int(p, "max_results", `${at}.max_results`);
    if (max !== undefined && (max < 1 || max > MAX_WEB_RESULTS)) bad(`${at}.max_results`, `must be 1 to ${MAX_WEB_RESULTS}, got ${max}`);
    const prompt = str(p, "search_prompt", `${at}.search_prompt`);
    if (prompt !== undefined && !prompt.trim()) bad(`${at}.search_prompt`, "must not be empty");
    out = { ...(max !== undefined ? { maxResults: max } : {}), ...(prompt !== undefined ? { searchPrompt: prompt } : {}) };
  });
  const wso = body.web_search_options;
  if (wso !== undefined && wso !== null) {
    if (!isObj(wso)) bad("web_search_options", "must be an object");
    const size = str(wso, "search_context_size", "web_search_options.search_context_size");
    if (size !== undefined && !(size in CONTEXT_RESULTS)) bad("web_search_options.search_context_size", `must be low, medium or high, got "${size}"`);
    const country = locationCountry(wso.user_location, "web_search_options.user_location");
    out = { ...(out ?? {}), ...(size !== undefined && out?.maxResults === undefined ? { maxResults: CONTEXT_RESULTS[size] } : {}), ...(country ? { country } : {}) };
  }
  return out;
}

/** OpenRouter's `:online` suffix: web search before the model (as its `web` plugin). */
const ONLINE = /:online$/;

/** OpenRouter's model suffixes that stand for a provider sort (`:free` and the rest name nothing here). */
const MODEL_VARIANT = /:(nitro|floor)$/;
const VARIANT_SORT: Record<string, "throughput" | "price"> = { nitro: "throughput", floor: "price" };

/** A front door's ChatCall: what it parsed, with the routing, tags, guardrails and cache of its `signalbox` object. */
export function doorCall(body: Json, door: DoorCall): { call: ChatCall; cache?: CompatRequest["cache"] } {
  // OpenRouter's ":online": web search (it may follow another shortcut: "model:nitro:online").
  const online = ONLINE.test(door.model);
  const named = online ? { ...door, model: door.model.slice(0, -":online".length) } : door;
  // OpenRouter's shortcuts: "model:nitro" sorts providers by throughput, "model:floor" by price.
  const variant = MODEL_VARIANT.exec(named.model);
  const d = variant ? { ...named, model: named.model.slice(0, variant.index) } : named;
  const webSearch = webSearchRequest(body, online);
  const opts = signalboxOptions(body, d.model, d.sticky ?? d.user, d.extraFallbacks);
  // OpenRouter's transforms: ["middle-out"] (and [] for none, its default here).
  const transforms = stringList(arr(body, "transforms", "transforms"), "transforms");
  transforms.forEach((t, i) => {
    if (t !== "middle-out") bad(`transforms[${i}]`, `unknown transform "${t}" (the one there is: middle-out)`);
  });
  if (transforms.length) opts.routing.middleOut = true;
  // OpenRouter's `provider` object; the `signalbox` object's `providers` is the same thing.
  const provider = obj(body, "provider", "provider");
  if (provider) {
    if (opts.routing.providers) bad("provider", "give provider or signalbox.providers, not both");
    const prefs = providerPreferences(provider, "provider");
    if (prefs) opts.routing.providers = prefs;
  }
  if (variant) {
    const sort = VARIANT_SORT[variant[1]!]!;
    const given = opts.routing.providers;
    if (given?.sort && given.sort !== sort) bad("model", `the ${variant[0]} shortcut sorts providers by ${sort}, and ${given.field}.sort says ${given.sort}: give one`);
    opts.routing.providers = given ? { ...given, sort } : providerPreferences({ sort }, "model");
  }
  const call: ChatCall = {
    id: d.id,
    model: d.model,
    request: d.request,
    routing: opts.routing,
    user: d.user || undefined,
    tags: opts.tags,
    metadata: d.metadata,
    caller: d.caller,
    stream: d.stream,
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
    ...(webSearch ? { webSearch } : {}),
  };
  return { call, ...(opts.cache ? { cache: opts.cache } : {}) };
}

/**
 * The `signalbox` extension object of the OpenAI-shaped doors (the Connect API's routing options,
 * tags, guardrails and cache options). `extraFallbacks` are models tried after `model` before the
 * object's own fallbacks; `sticky` is the sticky key when the object names none.
 */
export function signalboxOptions(body: Json, model: string, sticky: string | undefined, extraFallbacks: string[] = []): Pick<ChatCall, "routing" | "tags" | "guardrails"> & { cache?: CompatRequest["cache"] } {
  const sb = obj(body, "signalbox", "signalbox") ?? {};
  const tm = obj(sb, "timeouts", "signalbox.timeouts") ?? {};
  const task = str(sb, "task", "signalbox.task");
  if (task !== undefined && !TASKS.has(task)) bad("signalbox.task", `must be one of ${[...TASKS].join(", ")}, got "${task}"`);
  // LiteLLM's and Bifrost's top-level `fallbacks` (model names; LiteLLM also takes {model}) come
  // after OpenRouter's `models`, before the signalbox object's own.
  const peerFallbacks = (arr(body, "fallbacks", "fallbacks") ?? []).map((f, i) => (typeof f === "string" && f ? f : isObj(f) && typeof f.model === "string" && f.model ? f.model : bad(`fallbacks[${i}]`, "must be a model name (or {\"model\": name})")));
  const fallbacks = [...extraFallbacks, ...peerFallbacks, ...stringList(arr(sb, "fallbacks", "signalbox.fallbacks"), "signalbox.fallbacks")].filter((m) => m !== model);
  const cacheOpts = obj(sb, "cache", "signalbox.cache") ?? liteLLMCache(body);
  let cache: CompatRequest["cache"];
  if (cacheOpts) {
    const mode = str(cacheOpts, "mode", "signalbox.cache.mode");
    if (mode !== undefined && !CACHE_MODES.has(mode)) bad("signalbox.cache.mode", `must be use, bypass or refresh, got "${mode}"`);
    cache = { mode: (mode ?? "use") as CacheMode, ttlSeconds: int(cacheOpts, "ttl_seconds", "signalbox.cache.ttl_seconds") };
  }
  const maxCost = int(sb, "max_cost_nano_usd", "signalbox.max_cost_nano_usd");
  const guardrails = stringList(arr(sb, "guardrails", "signalbox.guardrails"), "signalbox.guardrails");
  const providersObj = obj(sb, "providers", "signalbox.providers");
  const providers = providersObj ? providerPreferences(providersObj, "signalbox.providers") : undefined;
  const retryObj = obj(sb, "retry", "signalbox.retry");
  // LiteLLM's num_retries is the same count, without statuses.
  const numRetries = int(body, "num_retries", "num_retries");
  const retry = retryObj ? { attempts: int(retryObj, "attempts", "signalbox.retry.attempts") ?? 1, ...optionalCodes(retryObj, "on_status_codes", "signalbox.retry.on_status_codes", "onStatusCodes") } : numRetries !== undefined ? { attempts: numRetries } : undefined;
  // LiteLLM's timeout: the whole request's, in seconds.
  const timeoutS = num(body, "timeout", "timeout");
  if (timeoutS !== undefined && !(timeoutS > 0)) bad("timeout", `must be a number of seconds above 0, got ${timeoutS}`);
  const fallbackOnStatus = statusList(sb, "fallback_on_status_codes", "signalbox.fallback_on_status_codes");

  return {
    routing: {
      fallbacks,
      noFallback: bool(sb, "no_fallback", "signalbox.no_fallback") ?? false,
      task: task as Task | undefined,
      maxCostNanos: maxCost,
      maxLatencyMs: int(sb, "max_latency_ms", "signalbox.max_latency_ms"),
      requiredCapabilities: [],
      stickyKey: str(sb, "sticky_key", "signalbox.sticky_key") || sticky || undefined,
      timeouts: {
        firstTokenMs: int(tm, "first_token_ms", "signalbox.timeouts.first_token_ms"),
        idleMs: int(tm, "idle_ms", "signalbox.timeouts.idle_ms"),
        attemptMs: int(tm, "attempt_ms", "signalbox.timeouts.attempt_ms"),
        totalMs: int(tm, "total_ms", "signalbox.timeouts.total_ms") ?? (timeoutS !== undefined ? Math.ceil(timeoutS * 1000) : undefined),
      },
      maxAttempts: int(sb, "max_attempts", "signalbox.max_attempts") || undefined,
      fallbackOnContentFilter: bool(sb, "fallback_on_content_filter", "signalbox.fallback_on_content_filter") ?? false,
      hedgeAfterMs: int(sb, "hedge_after_ms", "signalbox.hedge_after_ms") || undefined,
      ...(providers ? { providers } : {}),
      ...(bool(sb, "middle_out", "signalbox.middle_out") ? { middleOut: true } : {}),
      ...(retry ? { retry } : {}),
      ...(fallbackOnStatus?.length ? { fallbackOnStatusCodes: fallbackOnStatus } : {}),
    },
    tags: [...stringList(arr(sb, "tags", "signalbox.tags"), "signalbox.tags"), ...peerTags(body)],
    ...(guardrails.length ? { guardrails: { names: guardrails, field: "signalbox.guardrails" } } : {}),
    ...(cache ? { cache } : {}),
  };
}

/** LiteLLM's tags: top-level `tags` and `metadata.tags`, lists of strings. */
function peerTags(body: Json): string[] {
  const meta = isObj(body.metadata) ? body.metadata : {};
  return [...stringList(arr(body, "tags", "tags"), "tags"), ...stringList(arr(meta, "tags", "metadata.tags"), "metadata.tags")];
}

/** LiteLLM's `cache` controls as the signalbox object's cache options: no-store bypasses, no-cache refreshes, ttl is the TTL. */
function liteLLMCache(body: Json): Json | undefined {
  const c = obj(body, "cache", "cache");
  if (!c) return undefined;
  for (const k of Object.keys(c)) if (k !== "no-cache" && k !== "no-store" && k !== "ttl") bad(`cache.${k}`, "is not supported (no-cache, no-store and ttl are)");
  const mode = bool(c, "no-store", "cache.no-store") ? "bypass" : bool(c, "no-cache", "cache.no-cache") ? "refresh" : "use";
  const ttl = int(c, "ttl", "cache.ttl");
  return { mode, ...(ttl !== undefined ? { ttl_seconds: ttl } : {}) };
}

/** A list of HTTP statuses (validated with the routing options: 400 to 599). */
function statusList(o: Json, k: string, path: string): number[] | undefined {
  const a = arr(o, k, path);
  if (!a) return undefined;
  return a.map((v, i) => (typeof v === "number" ? v : bad(`${path}[${i}]`, "must be an HTTP status number")));
}

function optionalCodes<K extends string>(o: Json, k: string, path: string, as: K): Partial<Record<K, number[]>> {
  const codes = statusList(o, k, path);
  return codes?.length ? ({ [as]: codes } as Record<K, number[]>) : {};
}

const PREFERENCE_KEYS = new Set(["order", "only", "ignore", "allow_fallbacks", "sort", "max_price", "require_parameters", "data_collection", "zdr", "quantizations", "enforce_distillable_text", "preferred_min_throughput", "preferred_max_latency"]);
const SORTS = new Set(["price", "throughput", "latency"]);

/** A price of OpenRouter's max_price: a number, or a number in a string (its SDKs send strings). */
function price(o: Json, k: string, path: string): number | undefined {
  const v = o[k];
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  const n = num(o, k, path);
  if (n !== undefined && n < 0) bad(path, `must be 0 or more, got ${n}`);
  return n;
}

/**
 * OpenRouter's provider preferences. What the gateway cannot honour is refused, never ignored:
 * quantizations and distillation (it does not know them of its deployments) and the soft
 * throughput and latency preferences (sort says the same thing).
 */
export function providerPreferences(o: Json, field: string): ProviderPreferences | undefined {
  for (const k of Object.keys(o)) if (!PREFERENCE_KEYS.has(k)) bad(`${field}.${k}`, "is not a provider preference (order, only, ignore, allow_fallbacks, sort, max_price, require_parameters, data_collection, zdr)");
  if ((arr(o, "quantizations", `${field}.quantizations`) ?? []).length > 0) bad(`${field}.quantizations`, "is not supported: the gateway does not know its deployments' quantization");
  if (bool(o, "enforce_distillable_text", `${field}.enforce_distillable_text`) === true) bad(`${field}.enforce_distillable_text`, "is not supported: the gateway does not know which models allow distillation");
  for (const k of ["preferred_min_throughput", "preferred_max_latency"]) {
    if (o[k] !== undefined && o[k] !== null) bad(`${field}.${k}`, `is not supported; sort by ${k.endsWith("throughput") ? "throughput" : "latency"} instead`);
  }
  // sort: "price", or the newer {by: "price", partition?}.
  let sort: unknown = o.sort;
  if (isObj(sort)) sort = str(sort, "by", `${field}.sort.by`);
  if (sort !== undefined && sort !== null && (typeof sort !== "string" || !SORTS.has(sort))) bad(`${field}.sort`, `must be price, throughput or latency, got ${JSON.stringify(sort)}`);
  const dc = str(o, "data_collection", `${field}.data_collection`);
  if (dc !== undefined && dc !== "allow" && dc !== "deny") bad(`${field}.data_collection`, `must be allow or deny, got "${dc}"`);
  const mp = obj(o, "max_price", `${field}.max_price`);
  if (mp) for (const k of Object.keys(mp)) if (!["prompt", "completion", "request", "image"].includes(k)) bad(`${field}.max_price.${k}`, "must be one of prompt, completion, request, image (USD; per million tokens for prompt and completion)");
  return finishPreferences({
    order: stringList(arr(o, "order", `${field}.order`), `${field}.order`),
    only: stringList(arr(o, "only", `${field}.only`), `${field}.only`),
    ignore: stringList(arr(o, "ignore", `${field}.ignore`), `${field}.ignore`),
    allowFallbacks: bool(o, "allow_fallbacks", `${field}.allow_fallbacks`) ?? true,
    ...(typeof sort === "string" ? { sort: sort as ProviderPreferences["sort"] } : {}),
    ...(mp
      ? {
          maxPrice: {
            prompt: price(mp, "prompt", `${field}.max_price.prompt`),
            completion: price(mp, "completion", `${field}.max_price.completion`),
            request: price(mp, "request", `${field}.max_price.request`),
            image: price(mp, "image", `${field}.max_price.image`),
          },
        }
      : {}),
    requireParameters: bool(o, "require_parameters", `${field}.require_parameters`) ?? false,
    dataCollection: (dc ?? "allow") as ProviderPreferences["dataCollection"],
    zdr: bool(o, "zdr", `${field}.zdr`) ?? false,
    field,
  });
}

const FIELDS: Record<string, FieldNames> = {};
function fieldNames(maxName: string): FieldNames {
  return (FIELDS[maxName] ??= {
    maxOutputTokens: maxName,
    image: "image_url",
    fileData: "file.file_data",
    fileMediaType: "file.file_data",
    responseFormatSchema: "response_format.json_schema.schema",
    responseFormatName: "response_format.json_schema.name",
    toolChoiceTool: "tool_choice.function.name",
    routing: "signalbox",
  });
}
