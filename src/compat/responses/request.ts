// OpenAI Responses API request JSON → the router's ChatCall (the same neutral call as the other
// doors). Shapes are checked as they are read: a wrong one is a 400 naming the parameter the way
// OpenAI does ("input[2].content[0].image_url"); ranges and limits are ChatService's validation.
//
// Stored responses (store.ts) are read by the handler before this: a `previous_response_id`'s
// conversation arrives here as `history` (the earlier turns' input and output items, oldest
// first) and `item_reference` inputs already replaced by the items they name (`background` is
// the handler's too). Stored `prompt`s are refused. Input items become chat messages: instructions
// lead as a system message (a previous response's are not carried over, as OpenAI does),
// function_call items join the assistant turn before them, function_call_output items become tool
// results, and reasoning items give their turn the replay state this gateway put in them
// (encrypted_content: signed thinking blocks, calls' signatures), or are dropped.

import type { CacheMode } from "../../engine/chat-engine.ts";
import { CONTEXT_RESULTS, domainList, locationCountry, type WebSearchRequest } from "../../engine/web-search.ts";
import type { ChatMessage, ContentPart, JsonObject, ReasoningBlock, ReasoningEffort, ResponseFormat, ToolChoice, ToolDef, UpstreamRequest } from "../../providers/types.ts";
import { GatewayError } from "../../router/errors.ts";
import type { Caller, ChatCall } from "../../router/types.ts";
import { validateCall, type FieldNames } from "../../server/validate.ts";
import { decodeReplay } from "./response.ts";
import { parseMcpTool, type McpToolSpec } from "./mcp-tool.ts";
import { fileSearchRequest, parseFileSearchTool } from "../../vectors/search.ts";
import type { FileSearchRequest } from "../../vectors/types.ts";
import { mcpFunctionName } from "../../mcp/offer.ts";
import { applyPromptParameters, findPrompt, pickVersion, promptTag, renderPrompt, type PromptLibrary, type RenderedPrompt } from "../../control/prompts.ts";
import { arr, bad, bool, doorCall, fileFromDataUrl, int, isObj, num, obj, pdfReading, str, stringList, stringMetadata, type Json } from "../request.ts";

/** What the response echoes of the request (OpenAI returns the request's settings with the answer). */
export interface ResponsesEcho {
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  reasoning: { effort: string | null; summary: string | null };
  temperature: number | null;
  top_p: number | null;
  text: { format: Json; verbosity?: string };
  tool_choice: unknown;
  tools: Json[];
  truncation: string;
  user?: string;
  /** The prompt template used: its id, version and the variables given. */
  prompt?: { id: string; version: string; variables: Record<string, string> };
  safety_identifier: string | null;
  prompt_cache_key: string | null;
  top_logprobs: number;
}

/** The request's `file_search` tool, which the gateway runs on its own vector stores (mcp-loop.ts, src/vectors); `field` is the tool's place, `tools[i]`. */
export interface FileSearchSpec extends FileSearchRequest {
  /** `include` asks for file_search_call.results: the results in the output items. */
  results: boolean;
  /**
   * tool_choice {"type": "file_search"} (the file_search function) or "required" with no function
   * tools of the request's own: held out of the request (its functions are added by the loop) and
   * applied to the first turn only.
   */
  firstChoice?: ToolChoice;
}

export interface ResponsesRequest {
  call: ChatCall;
  /** The request's `mcp` tools, which the gateway runs (mcp-loop.ts); empty: none. */
  mcp: McpToolSpec[];
  fileSearch?: FileSearchSpec;
  echo: ResponsesEcho;
  /** `include` asks for reasoning.encrypted_content: the replay state in reasoning items. */
  encryptedReasoning: boolean;
  cache?: { mode: CacheMode; ttlSeconds?: number };
}

/** Parameters that need stored state or features the gateway does not have: refused, never dropped. */
const UNSUPPORTED: Record<string, string> = {
  context_management: "server-side context management is not supported by the gateway",
};

const MESSAGE_ROLES = new Set(["user", "assistant", "system", "developer"]);
const EFFORTS = new Set(["minimal", "low", "medium", "high"]);
const SUMMARIES = new Set(["auto", "concise", "detailed"]);
const DETAILS = new Set(["auto", "low", "high"]);
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IMAGE_URL = /^(https?:|data:image\/[a-z0-9+.-]+;base64,)/i;

/** Input item types that belong to OpenAI's hosted tools or stored state: named in the refusal. */
const HOSTED_ITEMS = new Set([
  "computer_call",
  "computer_call_output",
  "image_generation_call",
  "code_interpreter_call",
  "local_shell_call",
  "local_shell_call_output",
  "shell_call",
  "shell_call_output",
  "apply_patch_call",
  "apply_patch_call_output",
  "custom_tool_call",
  "custom_tool_call_output",
  "tool_search_call",
  "tool_search_output",
]);

function contentParts(v: unknown, path: string, role: string): ContentPart[] {
  if (v === undefined || v === null) bad(path, "is required");
  if (typeof v === "string") return v === "" ? [] : [{ type: "text", text: v }];
  if (!Array.isArray(v)) bad(path, "must be a string or an array of content parts");
  return v.map((p, j): ContentPart => {
    const pp = `${path}[${j}]`;
    if (!isObj(p)) bad(pp, "must be an object");
    switch (p.type) {
      case "input_text":
        return { type: "text", text: str(p, "text", `${pp}.text`) ?? bad(`${pp}.text`, "is required") };
      case "output_text":
        // An earlier answer sent back as history.
        if (role !== "assistant") bad(`${pp}.type`, "output_text parts are only allowed in assistant messages");
        return { type: "text", text: str(p, "text", `${pp}.text`) ?? bad(`${pp}.text`, "is required") };
      case "refusal":
        if (role !== "assistant") bad(`${pp}.type`, "refusal parts are only allowed in assistant messages");
        return { type: "text", text: str(p, "refusal", `${pp}.refusal`) ?? "" };
      case "input_image": {
        if (role !== "user") bad(`${pp}.type`, "images are only allowed in user messages");
        if (str(p, "file_id", `${pp}.file_id`)) bad(`${pp}.file_id`, "uploaded files are not supported by the gateway; send the image as image_url (an https: or data: URL)");
        const url = str(p, "image_url", `${pp}.image_url`) ?? bad(`${pp}.image_url`, "is required");
        if (!IMAGE_URL.test(url)) bad(`${pp}.image_url`, "must be an http(s) URL or a data:image/...;base64, URL");
        const detail = str(p, "detail", `${pp}.detail`);
        if (detail !== undefined && !DETAILS.has(detail)) bad(`${pp}.detail`, `must be auto, low or high, got "${detail}"`);
        return { type: "image", url, ...(detail ? { detail: detail as "auto" | "low" | "high" } : {}) };
      }
      case "input_file": {
        if (role !== "user") bad(`${pp}.type`, "files are only allowed in user messages");
        if (p.file_id !== undefined) bad(`${pp}.file_id`, "uploaded files are not supported by the gateway; send the file's bytes as file_data (a base64 data: URL)");
        if (p.file_url !== undefined) bad(`${pp}.file_url`, "the gateway does not fetch files; send the file's bytes as file_data (a base64 data: URL)");
        const data = str(p, "file_data", `${pp}.file_data`) ?? bad(`${pp}.file_data`, "is required");
        return fileFromDataUrl(data, `${pp}.file_data`, str(p, "filename", `${pp}.filename`));
      }
      default:
        bad(`${pp}.type`, `must be input_text, input_image, input_file${role === "assistant" ? ", output_text or refusal" : ""}, got ${JSON.stringify(p.type)}`);
    }
  });
}

/** A function_call_output's output: a string, or input_text parts (the only kind a tool result carries here). */
function toolOutput(v: unknown, path: string): ContentPart[] {
  if (typeof v === "string") return v === "" ? [] : [{ type: "text", text: v }];
  if (!Array.isArray(v)) bad(path, "must be a string or an array of input_text and input_image parts");
  return v.map((p, j): ContentPart => {
    const pp = `${path}[${j}]`;
    if (!isObj(p)) bad(pp, "must be an object");
    if (p.type === "input_image") {
      // A tool's image (a screenshot): kept in the tool result where the provider takes it there.
      if (str(p, "file_id", `${pp}.file_id`)) bad(`${pp}.file_id`, "uploaded files are not supported by the gateway; send the image as image_url (an https: or data: URL)");
      const url = str(p, "image_url", `${pp}.image_url`) ?? bad(`${pp}.image_url`, "is required");
      if (!IMAGE_URL.test(url)) bad(`${pp}.image_url`, "must be an http(s) URL or a data:image/...;base64, URL");
      return { type: "image", url };
    }
    if (p.type !== "input_text") bad(`${pp}.type`, `only input_text and input_image are supported in function call outputs, got ${JSON.stringify(p.type)}`);
    return { type: "text", text: str(p, "text", `${pp}.text`) ?? bad(`${pp}.text`, "is required") };
  });
}

/**
 * Input items → chat messages, with `origins[m]`: the request path message m came from, so a
 * problem ChatService's validation finds in a message is reported at the item that made it.
 * `history` (a previous response's conversation) comes first, after the instructions.
 */
function messages(body: Json, instructions: string | undefined, history: readonly unknown[], historyPath = "previous_response_id", inputName = "input", inputOptional = false): { messages: ChatMessage[]; origins: string[] } {
  const out: ChatMessage[] = [];
  const origins: string[] = [];
  // call_id → the name of the function it called: tool results carry it (Gemini needs it).
  const calls = new Map<string, string>();
  // Replay state of reasoning items: blocks waiting for their assistant turn, calls' signatures.
  const pending: ReasoningBlock[] = [];
  const signatures = new Map<string, string>();
  const push = (m: ChatMessage, origin: string) => {
    if (m.role === "assistant" && pending.length) m.reasoningBlocks = pending.splice(0);
    out.push(m);
    origins.push(origin);
  };
  const item = (it: unknown, path: string) => {
    if (!isObj(it)) bad(path, "must be an object");
    const type = it.type ?? (it.role !== undefined ? "message" : undefined);
    switch (type) {
      case "message": {
        const role = str(it, "role", `${path}.role`) ?? bad(`${path}.role`, "is required");
        if (!MESSAGE_ROLES.has(role)) bad(`${path}.role`, `must be user, assistant, system or developer, got "${role}"`);
        push({ role: role as ChatMessage["role"], content: contentParts(it.content, `${path}.content`, role) }, path);
        return;
      }
      case "function_call": {
        const callId = str(it, "call_id", `${path}.call_id`) || bad(`${path}.call_id`, "is required");
        const name = str(it, "name", `${path}.name`) ?? bad(`${path}.name`, "is required");
        if (!TOOL_NAME.test(name)) bad(`${path}.name`, "must match [A-Za-z0-9_-]{1,64}");
        const call = { id: callId, name, arguments: str(it, "arguments", `${path}.arguments`) ?? "" };
        calls.set(callId, name);
        // Calls belong to the assistant turn they follow (one message with text and calls, as
        // chat APIs have it); a call with no such turn before it starts one.
        const last = out[out.length - 1];
        if (last?.role === "assistant") (last.toolCalls ??= []).push(call);
        else push({ role: "assistant", content: [], toolCalls: [call] }, path);
        return;
      }
      case "function_call_output": {
        const callId = str(it, "call_id", `${path}.call_id`) || bad(`${path}.call_id`, "is required");
        const name = calls.get(callId) ?? bad(`${path}.call_id`, `"${callId}" answers no earlier function_call item`);
        if (it.output === undefined || it.output === null) bad(`${path}.output`, "is required");
        push({ role: "tool", toolCallId: callId, name, content: toolOutput(it.output, `${path}.output`) }, path);
        return;
      }
      case "reasoning": {
        // Replay state made here (encrypted_content, response.ts) goes back to the provider with
        // the assistant turn it belongs to; anything else (another gateway's, or OpenAI's own
        // encrypted reasoning) is nothing a neutral call can carry, and is dropped.
        const state = decodeReplay(it.encrypted_content);
        if (!state) return;
        for (const [id, sig] of Object.entries(state.calls ?? {})) signatures.set(id, sig);
        if (state.blocks?.length) {
          // The turn under way (after a user or tool message, every assistant item is one turn).
          const last = out[out.length - 1];
          if (last?.role === "assistant") (last.reasoningBlocks ??= []).push(...state.blocks);
          else pending.push(...state.blocks);
        }
        return;
      }
      case "mcp_call": {
        // A call the gateway ran (mcp-loop.ts): the model sees it as its own call and the result.
        const callId = str(it, "id", `${path}.id`) || bad(`${path}.id`, "is required");
        const label = str(it, "server_label", `${path}.server_label`) ?? bad(`${path}.server_label`, "is required");
        const tool = str(it, "name", `${path}.name`) ?? bad(`${path}.name`, "is required");
        const name = mcpFunctionName(label, tool);
        const call = { id: callId, name, arguments: str(it, "arguments", `${path}.arguments`) ?? "{}" };
        const last = out[out.length - 1];
        if (last?.role === "assistant") (last.toolCalls ??= []).push(call);
        else push({ role: "assistant", content: [], toolCalls: [call] }, path);
        const error = it.error === undefined || it.error === null ? undefined : typeof it.error === "string" ? it.error : JSON.stringify(it.error);
        const output = typeof it.output === "string" ? it.output : "";
        push({ role: "tool", toolCallId: callId, name, content: [{ type: "text", text: error !== undefined ? `Error: ${error}` : output }] }, path);
        return;
      }
      case "mcp_list_tools":
      case "mcp_approval_request":
      case "mcp_approval_response":
        // A tool list is the request's tools; an approval request and its answer become the call
        // that follows it (an mcp_call, or the handler's replacement of the answer under way).
        return;
      case "web_search_call":
      case "file_search_call":
        // An earlier turn's search (the gateway's web_search or file_search tool): its results are
        // not replayed; the answer that used them is, and the model may search again.
        return;
      case "item_reference":
        // The handler replaces the references it can resolve; one left here names nothing stored.
        bad(`${path}.id`, "names no stored item (stored responses are kept only when store is not false, for responses.retention_days)");
      // falls through (bad never returns)
      default:
        if (typeof type === "string" && HOSTED_ITEMS.has(type)) bad(`${path}.type`, `${type} items (OpenAI's hosted tools) are not supported by the gateway`);
        bad(`${path}.type`, `must be message, function_call, function_call_output, reasoning, item_reference or an mcp item, got ${JSON.stringify(type)}`);
    }
  };
  if (instructions) push({ role: "system", content: [{ type: "text", text: instructions }] }, "instructions");
  for (const h of history) item(h, historyPath);
  const input = body[inputName];
  // A prompt template may be the whole request (its instructions and messages), as at OpenAI.
  if ((input === undefined || input === null) && inputOptional && out.length > 0) return { messages: out, origins };
  if (input === undefined || input === null) bad(inputName, "is required");
  if (typeof input === "string") {
    if (input === "") bad(inputName, "must not be empty");
    push({ role: "user", content: [{ type: "text", text: input }] }, inputName);
  } else {
    if (!Array.isArray(input)) bad(inputName, "must be a string or an array of input items");
    if (input.length === 0) bad(inputName, "must contain at least one item");
    input.forEach((it, i) => item(it, `${inputName}[${i}]`));
  }
  // A call's signature may come in a reasoning item after the call (a stream's last item).
  if (signatures.size) for (const m of out) for (const c of m.toolCalls ?? []) c.signature ??= signatures.get(c.id);
  return { messages: out, origins };
}

/** OpenAI's hosted web search tool, under each name it has had. */
const WEB_SEARCH_TOOLS = new Set(["web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"]);

/**
 * The hosted `web_search` tool, run by the gateway (src/engine/web-search.ts): a search before the
 * model rather than one the model decides on; search_context_size low, medium or high is 3, 5 or
 * 10 results; user_location's country and filters.allowed_domains go to the engine.
 */
function webSearchTool(t: Json, path: string): { web: WebSearchRequest; echo: Json } {
  const size = str(t, "search_context_size", `${path}.search_context_size`);
  if (size !== undefined && !(size in CONTEXT_RESULTS)) bad(`${path}.search_context_size`, `must be low, medium or high, got "${size}"`);
  const loc = t.user_location;
  const country = locationCountry(loc, `${path}.user_location`);
  const filters = obj(t, "filters", `${path}.filters`);
  for (const k of Object.keys(filters ?? {})) if (k !== "allowed_domains") bad(`${path}.filters.${k}`, "the filter there is: allowed_domains");
  const allowed = filters?.allowed_domains !== undefined && filters.allowed_domains !== null ? domainList(filters.allowed_domains, `${path}.filters.allowed_domains`) : undefined;
  return {
    web: { byModel: true, ...(size !== undefined ? { maxResults: CONTEXT_RESULTS[size] } : {}), ...(allowed?.length ? { allowedDomains: allowed } : {}), ...(country ? { country } : {}) },
    echo: { type: t.type, search_context_size: size ?? "medium", user_location: loc ?? null, ...(filters ? { filters: { allowed_domains: allowed ?? null } } : {}) },
  };
}

function tools(v: unknown[] | undefined): { defs?: ToolDef[]; echo: Json[]; mcp: McpToolSpec[]; web?: WebSearchRequest; files?: FileSearchRequest } {
  if (!v?.length) return { echo: [], mcp: [] };
  const echo: Json[] = [];
  const mcp: McpToolSpec[] = [];
  const defs: ToolDef[] = [];
  let web: WebSearchRequest | undefined;
  let files: FileSearchRequest | undefined;
  v.forEach((t, i) => {
    const path = `tools[${i}]`;
    if (!isObj(t)) bad(path, "must be an object");
    if (t.type === "file_search") {
      if (files) bad(`${path}.type`, "one file_search tool per request");
      const f = parseFileSearchTool(t, path);
      files = fileSearchRequest(f, path);
      echo.push(f.echo);
      return;
    }
    if (typeof t.type === "string" && WEB_SEARCH_TOOLS.has(t.type)) {
      if (web) bad(`${path}.type`, "one web_search tool per request");
      const w = webSearchTool(t, path);
      web = w.web;
      echo.push(w.echo);
      return;
    }
    if (t.type === "mcp") {
      const m = parseMcpTool(t, path);
      if (mcp.some((x) => x.label === m.spec.label)) bad(`${path}.server_label`, `"${m.spec.label}" is named by two mcp tools`);
      mcp.push(m.spec);
      echo.push(m.echo);
      return;
    }
    if (t.type !== "function") {
      bad(`${path}.type`, `only function tools are supported by the gateway, got ${JSON.stringify(t.type)}${typeof t.type === "string" && t.type !== "custom" ? " (an OpenAI hosted tool)" : ""}`);
    }
    // Chat Completions' nesting is a common slip: name it.
    if (isObj(t.function)) bad(`${path}.function`, "Responses function tools are flat: put name, description and parameters on the tool itself");
    const name = str(t, "name", `${path}.name`) ?? bad(`${path}.name`, "is required");
    const description = str(t, "description", `${path}.description`);
    const parameters = obj(t, "parameters", `${path}.parameters`);
    const strict = bool(t, "strict", `${path}.strict`);
    echo.push({ type: "function", name, description: description ?? null, parameters: parameters ?? null, strict: strict ?? null });
    defs.push({ name, ...(description ? { description } : {}), ...(parameters ? { parameters: parameters as JsonObject } : {}), ...(strict ? { strict } : {}) });
  });
  if (files && defs.some((d) => d.name === FILE_SEARCH_FUNCTION)) bad("tools", `a function named "${FILE_SEARCH_FUNCTION}" cannot be given with the file_search tool (the gateway offers the model a function of that name)`);
  return { ...(defs.length ? { defs } : {}), echo, mcp, ...(web ? { web } : {}), ...(files ? { files } : {}) };
}

/** The function the gateway offers a model for the file_search tool (mcp-loop.ts). */
export const FILE_SEARCH_FUNCTION = "file_search";

function toolChoice(v: unknown, fileSearch: boolean): ToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === "auto" || v === "none" || v === "required") return { type: v };
  if (isObj(v) && v.type === "function") return { type: "tool", name: str(v, "name", "tool_choice.name") ?? bad("tool_choice.name", "is required") };
  if (isObj(v) && v.type === "file_search") {
    if (!fileSearch) bad("tool_choice.type", "file_search needs the file_search tool in tools");
    return { type: "tool", name: FILE_SEARCH_FUNCTION };
  }
  if (isObj(v) && typeof v.type === "string") bad("tool_choice.type", `only "function" and "file_search" are supported by the gateway, got "${v.type}"`);
  bad("tool_choice", 'must be "none", "auto", "required" or {"type": "function", "name": ...}');
}

function textFormat(text: Json | undefined): { format?: ResponseFormat; echo: ResponsesEcho["text"] } {
  const verbosity = text ? str(text, "verbosity", "text.verbosity") : undefined;
  const f = text ? obj(text, "format", "text.format") : undefined;
  const echo = (format: Json) => ({ format, ...(verbosity ? { verbosity } : {}) });
  if (!f) return { echo: echo({ type: "text" }) };
  switch (f.type) {
    case "text":
      return { format: { type: "text" }, echo: echo({ type: "text" }) };
    case "json_object":
      return { format: { type: "json_object" }, echo: echo({ type: "json_object" }) };
    case "json_schema": {
      const name = str(f, "name", "text.format.name") ?? bad("text.format.name", "is required for json_schema");
      const schema = obj(f, "schema", "text.format.schema") ?? bad("text.format.schema", "is required for json_schema");
      const strict = bool(f, "strict", "text.format.strict");
      const description = str(f, "description", "text.format.description");
      return {
        format: { type: "json_schema", name, schema: schema as JsonObject, ...(strict ? { strict } : {}) },
        echo: echo({ type: "json_schema", name, schema, strict: strict ?? null, ...(description ? { description } : {}) }),
      };
    }
    default:
      bad("text.format.type", `must be text, json_object or json_schema, got ${JSON.stringify(f.type)}`);
  }
}

const FIELDS: FieldNames = {
  maxOutputTokens: "max_output_tokens",
  image: "image_url",
  fileData: "file_data",
  fileMediaType: "file_data",
  responseFormatSchema: "text.format.schema",
  responseFormatName: "text.format.name",
  toolChoiceTool: "tool_choice.name",
  routing: "signalbox",
};

/** ChatService's validation, with a message's path ("messages[3].content") put back as the input item's. */
function validate(call: ChatCall, origins: string[]): void {
  try {
    validateCall(call, FIELDS);
  } catch (err) {
    const field = err instanceof GatewayError ? err.details.field : undefined;
    if (!field || !(err instanceof GatewayError)) throw err;
    const m = /^messages(?:\[(\d+)\])?/.exec(field);
    if (!m) throw err;
    const origin = m[1] === undefined ? "input" : (origins[Number(m[1])] ?? "input");
    const rest = field.slice(m[0].length).replace(/^\.tool_call_id/, ".call_id");
    const mapped = origin + rest;
    throw new GatewayError(err.code, mapped + err.message.slice(field.length), { ...err.details, field: mapped });
  }
}

/** A template named by `prompt` (the config file's prompts[] or PromptService's), rendered: its placeholders filled from `prompt.variables`. */
function promptOf(body: Json, caller: Caller, prompts: PromptLibrary | undefined): RenderedPrompt | undefined {
  const p = obj(body, "prompt", "prompt");
  if (!p) return undefined;
  const id = str(p, "id", "prompt.id") ?? bad("prompt.id", "is required");
  const version = p.version === undefined || p.version === null ? undefined : typeof p.version === "number" ? String(p.version) : (str(p, "version", "prompt.version") ?? undefined);
  if (!prompts) bad("prompt.id", `no prompt "${id}"`);
  const t = findPrompt(prompts, caller, id, "prompt.id");
  // A string, or an input_text part (the SDK's other text form).
  const text = (v: unknown, path: string) => (typeof v === "string" ? v : isObj(v) && v.type === "input_text" && typeof v.text === "string" ? v.text : bad(path, "must be a string or an input_text part"));
  return renderPrompt(t, pickVersion(t, version, "prompt.version"), obj(p, "variables", "prompt.variables") ?? {}, "prompt.variables", text);
}

/**
 * Check items given to a conversation (`items[i]`, after the conversation's `history`) as a
 * response's input would be: a 400 naming the bad one.
 */
export function checkItems(items: unknown[], history: readonly unknown[]): void {
  messages({ items }, undefined, history, "conversation", "items");
}

/**
 * Parse and validate one `POST /v1/responses` body; `history` is the conversation before it (its
 * previous response's, or its `conversation`'s items), reported as `historyPath` if it is bad.
 */
export function parseResponsesRequest(body: unknown, id: string, caller: Caller, history: readonly unknown[] = [], historyPath = "previous_response_id", prompts?: PromptLibrary): ResponsesRequest {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k in UNSUPPORTED) {
    const v = body[k];
    if (v !== undefined && v !== null && v !== false) bad(k, UNSUPPORTED[k]);
  }
  // store: whether the handler keeps the response (store.ts); a batch's never are.
  bool(body, "store", "store");
  const template = promptOf(body, caller, prompts);
  const model = str(body, "model", "model") ?? template?.model ?? bad("model", template ? `is required (prompt "${template.id}" names no model)` : "is required");
  const instructions = str(body, "instructions", "instructions");
  // A template's instructions lead, then the request's own; its messages come before the conversation.
  const before = template ? [...template.messages, ...history] : history;
  const { messages: msgs, origins } = messages(body, template?.instructions && instructions ? `${template.instructions}\n\n${instructions}` : (template?.instructions ?? instructions), before, historyPath, "input", template !== undefined);

  const req: Omit<UpstreamRequest, "model"> = { messages: msgs };
  const t = tools(arr(body, "tools", "tools"));
  if (t.defs) req.tools = t.defs;
  const tc = toolChoice(body.tool_choice, t.files !== undefined);
  const heldChoice = t.files && tc && ((tc.type === "tool" && tc.name === FILE_SEARCH_FUNCTION) || (tc.type === "required" && !t.defs?.length)) ? tc : undefined;
  if (tc && !heldChoice) req.toolChoice = tc;
  const ptc = bool(body, "parallel_tool_calls", "parallel_tool_calls");
  if (ptc !== undefined) req.parallelToolCalls = ptc;
  const temperature = num(body, "temperature", "temperature");
  if (temperature !== undefined) req.temperature = temperature;
  const topP = num(body, "top_p", "top_p");
  if (topP !== undefined) req.topP = topP;
  const maxTokens = int(body, "max_output_tokens", "max_output_tokens");
  if (maxTokens !== undefined) req.maxOutputTokens = maxTokens;
  const text = textFormat(obj(body, "text", "text"));
  if (text.format) req.responseFormat = text.format;

  const reasoning = obj(body, "reasoning", "reasoning") ?? {};
  const effort = str(reasoning, "effort", "reasoning.effort");
  if (effort !== undefined && effort !== "none") {
    if (!EFFORTS.has(effort)) bad("reasoning.effort", `must be none, minimal, low, medium or high, got "${effort}"`);
    req.reasoningEffort = effort as ReasoningEffort;
  }
  // generate_summary: the deprecated name of summary.
  const summaryName = reasoning.summary !== undefined && reasoning.summary !== null ? "summary" : "generate_summary";
  const summary = str(reasoning, summaryName, `reasoning.${summaryName}`);
  if (summary !== undefined && !SUMMARIES.has(summary)) bad(`reasoning.${summaryName}`, `must be auto, concise or detailed, got "${summary}"`);

  // safety_identifier is the current name of the end-user id; user the deprecated one.
  const safety = str(body, "safety_identifier", "safety_identifier");
  const userField = str(body, "user", "user");
  const user = safety || userField;
  if (user) req.user = user;
  const promptCacheKey = str(body, "prompt_cache_key", "prompt_cache_key");
  const truncation = str(body, "truncation", "truncation");
  if (truncation !== undefined && truncation !== "auto" && truncation !== "disabled") bad("truncation", `must be auto or disabled, got "${truncation}"`);
  // include: message.output_text.logprobs asks for the text's token log probabilities (with
  // top_logprobs alternatives each); the rest is accepted and not acted on (encrypted reasoning
  // and other extras), as is stream_options (obfuscation padding).
  const include = stringList(arr(body, "include", "include"), "include");
  const topLogprobs = int(body, "top_logprobs", "top_logprobs");
  if (topLogprobs !== undefined && (topLogprobs < 0 || topLogprobs > 20)) bad("top_logprobs", `must be an integer between 0 and 20, got ${topLogprobs}`);
  if (include?.includes("message.output_text.logprobs")) {
    req.logprobs = true;
    if (topLogprobs !== undefined) req.topLogprobs = topLogprobs;
  }
  obj(body, "stream_options", "stream_options");
  const stream = bool(body, "stream", "stream") ?? false;

  const metadata = stringMetadata(body);
  // prompt_cache_key asks OpenAI to send like requests to the same cache: routing stickiness is
  // the same wish across deployments.
  const { call, cache } = doorCall(body, { id, model, request: req, user, metadata, caller, stream, sticky: user || promptCacheKey });
  // The hosted web_search tool: the gateway's web search (OpenRouter's plugin and :online too, read by doorCall).
  if (t.web) call.webSearch = { ...t.web, ...call.webSearch };
  // OpenRouter's file-parser plugin (or signalbox.pdf_reader): input_file PDFs read into text before the call is planned.
  const pdf = pdfReading(body);
  if (pdf) call.pdfReader = pdf;
  validate(call, origins);
  const echo: ResponsesEcho = {
    instructions: instructions ?? null,
    max_output_tokens: maxTokens ?? null,
    metadata,
    parallel_tool_calls: ptc ?? true,
    reasoning: { effort: effort ?? null, summary: summary ?? null },
    temperature: temperature ?? null,
    top_p: topP ?? null,
    text: text.echo,
    tool_choice: body.tool_choice ?? "auto",
    tools: t.echo,
    truncation: truncation ?? "disabled",
    ...(userField ? { user: userField } : {}),
    safety_identifier: safety ?? null,
    prompt_cache_key: promptCacheKey ?? null,
    top_logprobs: topLogprobs ?? 0,
    ...(template ? { prompt: { id: template.id, version: template.version, variables: template.variables } } : {}),
  };
  // Usage by prompt version: a tag, so GetUsage groups by it.
  if (template) {
    call.tags = [...call.tags, promptTag(template)];
    applyPromptParameters(call.request, template.parameters);
  }
  const fileSearch = t.files ? { ...t.files, results: include?.includes("file_search_call.results") ?? false, ...(heldChoice ? { firstChoice: heldChoice } : {}) } : undefined;
  return { call, mcp: t.mcp, ...(fileSearch ? { fileSearch } : {}), echo, cache, encryptedReasoning: include?.includes("reasoning.encrypted_content") ?? false };
}
