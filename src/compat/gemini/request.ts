// Gemini's generateContent request JSON → the router's ChatCall, so that an application written
// against the Gemini API (the @google/genai SDK, or REST) can point its base URL at the gateway
// and be routed to any provider. Shapes are checked as they are read and a bad one is a 400
// naming the field the way Gemini does ("contents[1].parts[0].inline_data"); ranges and limits
// are the validation every front door runs.
//
// Mapped: contents (user and model turns; text, inlineData images, PDFs and plain text,
// functionCall and functionResponse parts, thought parts of model turns kept as reasoning),
// systemInstruction, tools[].functionDeclarations (`parametersJsonSchema` as it is; `parameters`,
// Gemini's OpenAPI schema with upper-case types, as JSON Schema), toolConfig.functionCallingConfig,
// generationConfig (temperature, topP, topK, maxOutputTokens, stopSequences, seed, penalties,
// responseMimeType with responseJsonSchema or responseSchema, thinkingConfig, responseLogprobs
// and logprobs), and a `signalbox` object with the same routing options as the other doors.
// googleSearch is the gateway's web search (src/engine/web-search.ts), decided by the model, answered with groundingMetadata.
// Refused with a 400 naming the field: other tools (googleSearchRetrieval, codeExecution, urlContext, …),
// fileData (the gateway does not fetch files), cachedContent, candidateCount above 16 (up to 16
// candidates are answered, each its own call: ../choices.ts), and
// response modalities other than text. safetySettings are accepted and not forwarded (a Gemini
// deployment answers with its own defaults; the gateway's guardrails are the policy here).

import { parseAip160 } from "../../vectors/aip160.ts";
import type { FileSearchRequest } from "../../vectors/types.ts";
import type { CacheMode } from "../../engine/chat-engine.ts";
import { domainList, rangeInstant, type WebSearchRequest } from "../../engine/web-search.ts";
import type { ChatMessage, ContentPart, JsonObject, ReasoningBlock, ReasoningEffort, ToolChoice, ToolDef, UpstreamRequest } from "../../providers/types.ts";
import type { Caller, ChatCall } from "../../router/types.ts";
import { validateCall, type FieldNames } from "../../server/validate.ts";
import { effortForBudget } from "../anthropic/request.ts";
import { MAX_CHOICES } from "../choices.ts";
import { arr, bad, bool, int, isObj, num, obj, pdfReading, signalboxOptions, signalboxPrompt, str, stringList, type Json } from "../request.ts";
import { applyPrompt, validatePrompted, type PromptLibrary } from "../../control/prompts.ts";

export interface GenerateContentRequest {
  call: ChatCall;
  /** candidateCount: each candidate is its own call through the engine (../choices.ts). */
  n: number;
  cache?: { mode: CacheMode; ttlSeconds?: number };
}

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/gif"]);
const FILE_TYPES = new Set(["application/pdf", "text/plain"]);
const LEVELS: Record<string, ReasoningEffort> = { minimal: "minimal", low: "low", medium: "medium", high: "high" };
/** Gemini's Google Search grounding tool: the gateway's web search (src/engine/web-search.ts). */
const SEARCH_TOOLS = ["googleSearch", "google_search"];
const OTHER_TOOLS = ["googleSearchRetrieval", "google_search_retrieval", "codeExecution", "code_execution", "urlContext", "url_context", "googleMaps", "google_maps", "computerUse", "computer_use", "retrieval", "enterpriseWebSearch", "enterprise_web_search"];

/** A field in camelCase or, as Gemini's REST API also takes it, snake_case. */
function pick(o: Json, camel: string): unknown {
  if (o[camel] !== undefined) return o[camel];
  return o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}
const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const pObj = (o: Json, k: string, path: string) => obj({ [k]: pick(o, k) }, k, path);
const pStr = (o: Json, k: string, path: string) => str({ [k]: pick(o, k) }, k, path);
const pArr = (o: Json, k: string, path: string) => arr({ [k]: pick(o, k) }, k, path);
const pNum = (o: Json, k: string, path: string) => num({ [k]: pick(o, k) }, k, path);
const pInt = (o: Json, k: string, path: string) => int({ [k]: pick(o, k) }, k, path);
const pBool = (o: Json, k: string, path: string) => bool({ [k]: pick(o, k) }, k, path);

/**
 * Gemini's OpenAPI-subset Schema (type "OBJECT", "STRING", …; `nullable`) as the JSON Schema every
 * provider's tools take. Keys other than the ones changed are kept as they are.
 */
export function openApiToJsonSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(openApiToJsonSchema);
  if (!isObj(s)) return s;
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "type" && typeof v === "string") out.type = v.toLowerCase();
    else if (k === "nullable") continue;
    else if (k === "properties" && isObj(v)) out.properties = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, openApiToJsonSchema(p)]));
    else if (k === "items" || k === "anyOf" || k === "additionalProperties") out[k] = openApiToJsonSchema(v);
    else if (k === "propertyOrdering") continue;
    else out[k] = v;
  }
  if (s.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  return out;
}

function inlinePart(p: Json, path: string): ContentPart {
  const d = pObj(p, "inlineData", `${path}.inline_data`)!;
  const mt = pStr(d, "mimeType", `${path}.inline_data.mime_type`) ?? bad(`${path}.inline_data.mime_type`, "mime_type is not specified");
  const data = str(d, "data", `${path}.inline_data.data`) ?? bad(`${path}.inline_data.data`, "data is not specified");
  if (IMAGE_TYPES.has(mt)) return { type: "image", url: `data:${mt};base64,${data}` };
  if (FILE_TYPES.has(mt)) return { type: "file", data: Buffer.from(data, "base64"), mediaType: mt };
  return bad(`${path}.inline_data.mime_type`, `Unsupported MIME type: ${mt} (the gateway takes images, application/pdf and text/plain)`);
}

/** A functionCall's or functionResponse's `id`, else one made from its position, so a response can name its call. */
const callId = (id: unknown, turn: number, n: number) => (typeof id === "string" && id !== "" ? id : `call_${turn}_${n}`);

/**
 * The conversation. A user turn's functionResponse parts become tool messages (matched to the
 * previous model turn's calls by id, else by name in order), its other parts one user message;
 * a model turn's thought parts reasoning (with their signatures), text and functionCall parts one
 * assistant message.
 */
function conversation(v: unknown, system: ChatMessage[]): ChatMessage[] {
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) bad("contents", "contents is not specified");
  if (!Array.isArray(v)) bad("contents", "must be an array of Content");
  const out: ChatMessage[] = [...system];
  let open: { id: string; name: string }[] = [];
  v.forEach((c, i) => {
    const path = `contents[${i}]`;
    if (!isObj(c)) bad(path, "must be a Content object");
    const role = c.role ?? "user";
    if (role !== "user" && role !== "model") bad(`${path}.role`, "Please use a valid role: user, model.");
    const parts = arr(c, "parts", `${path}.parts`) ?? bad(`${path}.parts`, "contents.parts must not be empty.");
    if (parts.length === 0) bad(`${path}.parts`, "contents.parts must not be empty.");
    if (role === "model") {
      const msg: ChatMessage = { role: "assistant", content: [] };
      const reasoning: ReasoningBlock[] = [];
      open = [];
      parts.forEach((p, j) => {
        const pp = `${path}.parts[${j}]`;
        if (!isObj(p)) bad(pp, "must be a Part object");
        const sig = pStr(p, "thoughtSignature", `${pp}.thought_signature`);
        const fc = pObj(p, "functionCall", `${pp}.function_call`);
        if (fc) {
          const name = str(fc, "name", `${pp}.function_call.name`) || bad(`${pp}.function_call.name`, "Name cannot be empty.");
          const args = obj(fc, "args", `${pp}.function_call.args`) ?? {};
          const id = callId(fc.id, i, open.length);
          (msg.toolCalls ??= []).push({ id, name, arguments: JSON.stringify(args), ...(sig ? { signature: sig } : {}) });
          open.push({ id, name });
          return;
        }
        if (pick(p, "functionResponse") !== undefined) bad(`${pp}.function_response`, "function responses belong in a user turn");
        const text = str(p, "text", `${pp}.text`);
        if (text === undefined) {
          if (pick(p, "inlineData") !== undefined) bad(`${pp}.inline_data`, "images and files are only taken in user turns");
          return dataField(p, pp);
        }
        if (pBool(p, "thought", `${pp}.thought`) === true) reasoning.push({ text, ...(sig ? { signature: sig } : {}) });
        else if (text !== "") msg.content.push({ type: "text", text });
      });
      if (reasoning.length) msg.reasoningBlocks = reasoning;
      if (msg.content.length || msg.toolCalls?.length || reasoning.length) out.push(msg);
      return;
    }
    const user: ContentPart[] = [];
    parts.forEach((p, j) => {
      const pp = `${path}.parts[${j}]`;
      if (!isObj(p)) bad(pp, "must be a Part object");
      const fr = pObj(p, "functionResponse", `${pp}.function_response`);
      if (fr) {
        const name = str(fr, "name", `${pp}.function_response.name`) || bad(`${pp}.function_response.name`, "Name cannot be empty.");
        const at = typeof fr.id === "string" && fr.id !== "" ? open.findIndex((o) => o.id === fr.id) : open.findIndex((o) => o.name === name);
        if (at < 0) bad(`${pp}.function_response`, `no function call named "${name}"${typeof fr.id === "string" ? ` with id "${fr.id}"` : ""} in the previous model turn answers this response`);
        const [call] = open.splice(at, 1);
        const response = fr.response ?? {};
        if (!isObj(response)) bad(`${pp}.function_response.response`, "must be an object (google.protobuf.Struct)");
        out.push({ role: "tool", toolCallId: call.id, name, content: [{ type: "text", text: JSON.stringify(response) }] });
        return;
      }
      if (pick(p, "functionCall") !== undefined) bad(`${pp}.function_call`, "function calls belong in a model turn");
      const text = str(p, "text", `${pp}.text`);
      if (text !== undefined) {
        if (text !== "") user.push({ type: "text", text });
        return;
      }
      if (pick(p, "inlineData") !== undefined) {
        user.push(inlinePart(p, pp));
        return;
      }
      dataField(p, pp);
    });
    open = [];
    if (user.length) out.push({ role: "user", content: user });
  });
  return out;
}

/** A part with none of the data fields the gateway maps: name what it has. */
function dataField(p: Json, path: string): void {
  if (pick(p, "fileData") !== undefined) bad(`${path}.file_data`, "file_data (Files API and URI references) is not supported by this gateway (it does not fetch files): send the bytes as inline_data");
  for (const k of ["executableCode", "codeExecutionResult", "videoMetadata"]) {
    if (pick(p, k) !== undefined) bad(`${path}.${snake(k)}`, `${snake(k)} parts are not supported by this gateway`);
  }
  if (pick(p, "thoughtSignature") !== undefined) return; // an empty signature carrier
  bad(`${path}.data`, "required oneof field 'data' must have one initialized field");
}

function systemMessages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) return [];
  // The SDK sends Content; a bare string is also taken.
  if (typeof v === "string") return v === "" ? [] : [{ role: "system", content: [{ type: "text", text: v }] }];
  if (!isObj(v)) bad("system_instruction", "must be a Content object");
  const parts = arr(v, "parts", "system_instruction.parts") ?? [];
  const text = parts
    .map((p, i) => {
      if (!isObj(p)) bad(`system_instruction.parts[${i}]`, "must be a Part object");
      return str(p, "text", `system_instruction.parts[${i}].text`) ?? bad(`system_instruction.parts[${i}]`, "only text parts are taken in a system instruction");
    })
    .join("\n");
  return text === "" ? [] : [{ role: "system", content: [{ type: "text", text }] }];
}

/** GoogleSearch's timeRangeFilter (an Interval: startTime, endTime; either may be left open) as the range of publication dates. */
function timeRange(v: unknown, p: string): { publishedAfter?: string; publishedBefore?: string } {
  if (!isObj(v)) bad(p, "must be an Interval object (start_time, end_time)");
  const i = v as Json;
  for (const f of Object.keys(i)) if (!["startTime", "start_time", "endTime", "end_time"].includes(f)) bad(`${p}.${snake(f)}`, "is not a field of Interval (start_time, end_time)");
  const after = rangeInstant(i.startTime ?? i.start_time, `${p}.start_time`);
  const before = rangeInstant(i.endTime ?? i.end_time, `${p}.end_time`);
  if (after && before && after > before) bad(`${p}.end_time`, "must not be before start_time");
  return { ...(after ? { publishedAfter: after } : {}), ...(before ? { publishedBefore: before } : {}) };
}

function tools(v: unknown[] | undefined, web: { search?: WebSearchRequest; files?: FileSearchRequest }): ToolDef[] | undefined {
  if (!v) return undefined;
  const out: ToolDef[] = [];
  v.forEach((t, i) => {
    const p = `tools[${i}]`;
    if (!isObj(t)) bad(p, "must be a Tool object");
    // File Search: the gateway's vector stores (fileSearchStores/vs_…), searched before the model
    // with the last user message; the passages come back as the grounding's retrieved context.
    const fs = pick(t, "fileSearch");
    if (fs !== undefined && fs !== null) {
      const fp = `${p}.file_search`;
      if (!isObj(fs)) bad(fp, "must be a FileSearch object");
      if (web.files) bad(fp, "one file_search tool per request");
      // AIP-160, as Gemini takes it: the stores' file attributes (src/vectors/aip160.ts).
      const mf = pick(fs, "metadataFilter");
      if (mf !== undefined && mf !== null && typeof mf !== "string") bad(`${fp}.metadata_filter`, "must be a string (AIP-160: key = \"value\" AND year >= 2020)");
      const filters = typeof mf === "string" && mf.trim() ? parseAip160(mf, (msg) => bad(`${fp}.metadata_filter`, msg)) : undefined;
      for (const k of Object.keys(fs)) if (!["fileSearchStoreNames", "file_search_store_names", "topK", "top_k", "metadataFilter", "metadata_filter"].includes(k)) bad(`${fp}.${snake(k)}`, "is not a field of FileSearch");
      const names = pArr(fs, "fileSearchStoreNames", `${fp}.file_search_store_names`) ?? [];
      if (names.length < 1 || names.length > 2) bad(`${fp}.file_search_store_names`, "must name 1 or 2 stores (fileSearchStores/vs_…, the gateway's vector stores)");
      const storeIds = names.map((n, j) => (typeof n === "string" && n ? n.replace(/^fileSearchStores\//, "") : bad(`${fp}.file_search_store_names[${j}]`, "must be a store name")));
      const k = pick(fs, "topK");
      if (k !== undefined && (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > 50)) bad(`${fp}.top_k`, `must be an integer from 1 to 50, got ${JSON.stringify(k)}`);
      web.files = { storeIds, maxResults: (k as number | undefined) ?? 5, ranker: "auto", scoreThreshold: 0, field: fp, ...(filters ? { filters } : {}) };
      if (Object.keys(t).length === 1) return;
    }
    // Google Search grounding: as at Google, the model decides whether and what to search (the
    // engine offers it a web_search function; a model that cannot call tools, or a request with
    // functions of its own, gets one search before it instead); exclude_domains and
    // time_range_filter go to the search engine.
    for (const k of SEARCH_TOOLS) {
      const g = t[k];
      if (g === undefined || g === null) continue;
      if (!isObj(g)) bad(`${p}.${snake(k)}`, "must be a GoogleSearch object");
      let blocked: string[] | undefined;
      let range: { publishedAfter?: string; publishedBefore?: string } = {};
      for (const f of Object.keys(g)) {
        if (f === "excludeDomains" || f === "exclude_domains") blocked = domainList(g[f], `${p}.${snake(k)}.exclude_domains`);
        else if (f === "timeRangeFilter" || f === "time_range_filter") range = timeRange(g[f], `${p}.${snake(k)}.time_range_filter`);
        else bad(`${p}.${snake(k)}.${snake(f)}`, "is not applied by the gateway's web search");
      }
      web.search = { byModel: true, ...(blocked?.length ? { blockedDomains: blocked } : {}), ...range };
    }
    for (const k of OTHER_TOOLS) if (t[k] !== undefined) bad(`${p}.${snake(k)}`, `${snake(k)} tools are not supported by this gateway; declare functions instead`);
    const decls = pArr(t, "functionDeclarations", `${p}.function_declarations`) ?? [];
    decls.forEach((d, j) => {
      const dp = `${p}.function_declarations[${j}]`;
      if (!isObj(d)) bad(dp, "must be a FunctionDeclaration object");
      const name = str(d, "name", `${dp}.name`) ?? "";
      if (!/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/.test(name)) {
        bad(`${dp}.name`, "Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 128.");
      }
      const jsonSchema = pObj(d, "parametersJsonSchema", `${dp}.parameters_json_schema`);
      const openApi = obj(d, "parameters", `${dp}.parameters`);
      const parameters = (jsonSchema ?? (openApi ? openApiToJsonSchema(openApi) : { type: "object", properties: {} })) as JsonObject;
      const def: ToolDef = { name, parameters };
      const description = str(d, "description", `${dp}.description`);
      if (description) def.description = description;
      out.push(def);
    });
  });
  return out;
}

function toolChoice(v: Json | undefined): ToolChoice | undefined {
  const fc = v && pObj(v, "functionCallingConfig", "tool_config.function_calling_config");
  if (!fc) return undefined;
  const mode = str(fc, "mode", "tool_config.function_calling_config.mode") ?? "AUTO";
  const allowed = stringList(pArr(fc, "allowedFunctionNames", "tool_config.function_calling_config.allowed_function_names"), "tool_config.function_calling_config.allowed_function_names");
  switch (mode) {
    case "AUTO":
    case "MODE_UNSPECIFIED":
      return { type: "auto" };
    case "NONE":
      return { type: "none" };
    case "ANY":
    case "VALIDATED":
      if (allowed.length === 1) return { type: "tool", name: allowed[0] };
      if (allowed.length > 1) bad("tool_config.function_calling_config.allowed_function_names", "the gateway forces one function or any: name one, or none");
      return { type: "required" };
    default:
      return bad("tool_config.function_calling_config.mode", `Invalid value ${JSON.stringify(mode)}: must be AUTO, ANY, NONE or VALIDATED`);
  }
}

/** thinkingConfig → the neutral effort (a budget maps to the nearest; 0 turns thinking off; -1 is dynamic: medium). */
function thinking(gc: Json, req: Omit<UpstreamRequest, "model">): void {
  const t = pObj(gc, "thinkingConfig", "generation_config.thinking_config");
  if (!t) return;
  const level = pStr(t, "thinkingLevel", "generation_config.thinking_config.thinking_level");
  const budget = pInt(t, "thinkingBudget", "generation_config.thinking_config.thinking_budget");
  if (level !== undefined) {
    const e = LEVELS[level.toLowerCase()];
    if (!e) bad("generation_config.thinking_config.thinking_level", `Invalid value ${JSON.stringify(level)}: must be minimal, low, medium or high`);
    req.reasoningEffort = e;
  } else if (budget !== undefined && budget !== 0) {
    req.reasoningEffort = budget < 0 ? "medium" : effortForBudget(budget);
  }
}

/** Reads generationConfig into `req`; returns candidateCount (1 when absent). */
function generationConfig(gc: Json | undefined, req: Omit<UpstreamRequest, "model">): number {
  if (!gc) return 1;
  const g = "generation_config";
  const temperature = pNum(gc, "temperature", `${g}.temperature`);
  if (temperature !== undefined) req.temperature = temperature;
  const topP = pNum(gc, "topP", `${g}.top_p`);
  if (topP !== undefined) req.topP = topP;
  const topK = pInt(gc, "topK", `${g}.top_k`);
  if (topK !== undefined) {
    if (topK < 1) bad(`${g}.top_k`, `must be a positive integer, got ${topK}`);
    req.topK = topK;
  }
  const max = pInt(gc, "maxOutputTokens", `${g}.max_output_tokens`);
  if (max !== undefined) req.maxOutputTokens = max;
  const stop = stringList(pArr(gc, "stopSequences", `${g}.stop_sequences`), `${g}.stop_sequences`);
  if (stop.length > 5) bad(`${g}.stop_sequences`, `at most 5 stop sequences, got ${stop.length}`);
  if (stop.length) req.stop = stop;
  const seed = pInt(gc, "seed", `${g}.seed`);
  if (seed !== undefined) req.seed = seed;
  const pp = pNum(gc, "presencePenalty", `${g}.presence_penalty`);
  if (pp !== undefined) req.presencePenalty = pp;
  const fp = pNum(gc, "frequencyPenalty", `${g}.frequency_penalty`);
  if (fp !== undefined) req.frequencyPenalty = fp;
  const n = pInt(gc, "candidateCount", `${g}.candidate_count`) ?? 1;
  if (n < 1 || n > MAX_CHOICES) bad(`${g}.candidate_count`, `must be 1 to ${MAX_CHOICES} (each candidate is its own upstream call), got ${n}`);
  const modalities = stringList(pArr(gc, "responseModalities", `${g}.response_modalities`), `${g}.response_modalities`);
  if (modalities.some((m) => m.toUpperCase() !== "TEXT")) bad(`${g}.response_modalities`, "only TEXT responses are supported by this gateway");
  const mime = pStr(gc, "responseMimeType", `${g}.response_mime_type`);
  const jsonSchema = pObj(gc, "responseJsonSchema", `${g}.response_json_schema`);
  const openApi = pObj(gc, "responseSchema", `${g}.response_schema`);
  if ((jsonSchema || openApi) && mime !== "application/json") bad(`${g}.response_mime_type`, "a response schema needs response_mime_type application/json");
  if (mime !== undefined && mime !== "text/plain" && mime !== "application/json") bad(`${g}.response_mime_type`, `Unsupported MIME type: ${mime} (text/plain or application/json)`);
  if (mime === "application/json") {
    const schema = jsonSchema ?? (openApi ? (openApiToJsonSchema(openApi) as Json) : undefined);
    req.responseFormat = schema ? { type: "json_schema", name: "response", schema: schema as JsonObject, strict: false } : { type: "json_object" };
  }
  const logprobs = pBool(gc, "responseLogprobs", `${g}.response_logprobs`);
  const top = pInt(gc, "logprobs", `${g}.logprobs`);
  if (top !== undefined && logprobs !== true) bad(`${g}.logprobs`, "logprobs needs response_logprobs: true");
  if (logprobs) {
    req.logprobs = true;
    if (top !== undefined) req.topLogprobs = top;
  }
  thinking(gc, req);
  return n;
}

const FIELDS: FieldNames = {
  maxOutputTokens: "generation_config.max_output_tokens",
  image: "inline_data",
  fileData: "inline_data.data",
  fileMediaType: "inline_data.mime_type",
  responseFormatSchema: "generation_config.response_json_schema",
  responseFormatName: "generation_config.response_json_schema",
  toolChoiceTool: "tool_config.function_calling_config.allowed_function_names",
  routing: "signalbox",
};

/**
 * Parse a generateContent (or streamGenerateContent) body for the model named in the path. With
 * `countOnly` (countTokens) the body is `{contents}` or `{generateContentRequest}`.
 */
export function parseGenerateContentRequest(body: unknown, model: string, id: string, caller: Caller, opts: { stream: boolean; countOnly?: boolean; prompts?: PromptLibrary }): GenerateContentRequest {
  if (!isObj(body)) bad("body", "Invalid JSON payload received. Expected an object.");
  if (opts.countOnly) {
    const inner = pObj(body, "generateContentRequest", "generate_content_request");
    if (inner) body = inner;
  }
  const b = body as Json;
  if (pick(b, "cachedContent") !== undefined) bad("cached_content", "cached contents are not supported by this gateway");
  // A template of the prompt library, put before the request's own system instruction and contents.
  const template = signalboxPrompt(b, caller, opts.prompts);
  const req: Omit<UpstreamRequest, "model"> = {
    messages: template && (b.contents === undefined || b.contents === null) ? systemMessages(pick(b, "systemInstruction")) : conversation(b.contents, systemMessages(pick(b, "systemInstruction"))),
  };
  const web: { search?: WebSearchRequest; files?: FileSearchRequest } = {};
  const t = tools(arr(b, "tools", "tools"), web);
  if (t?.length) req.tools = t;
  const tc = toolChoice(pObj(b, "toolConfig", "tool_config"));
  if (tc && t?.length) req.toolChoice = tc;
  const n = generationConfig(pObj(b, "generationConfig", "generation_config"), req);

  const pdf = pdfReading(b);
  const sb = signalboxOptions(b, model, undefined);
  const call: ChatCall = {
    id,
    model,
    request: req,
    routing: sb.routing,
    tags: sb.tags,
    // The usage record says which front door the request came through.
    metadata: { door: "gemini" },
    caller,
    stream: opts.countOnly ? false : opts.stream,
    ...(sb.guardrails ? { guardrails: sb.guardrails } : {}),
    ...(web.search ? { webSearch: web.search } : {}),
    // signalbox.pdf_reader: document blocks' PDFs read into text before the call is planned.
    ...(pdf ? { pdfReader: pdf } : {}),
    ...(web.files ? { fileSearch: web.files } : {}),
  };
  const offset = template ? applyPrompt(call, template) : 0;
  validatePrompted(offset, () => validateCall(call, FIELDS));
  return { call, n, ...(sb.cache ? { cache: sb.cache } : {}) };
}
