// Anthropic Messages request JSON → the router's ChatCall. Shapes are checked as they are read and
// a bad one is a 400 naming the field the way Anthropic does ("messages.1.content.0.source");
// everything else (ranges, limits) is the same validation every front door runs.
//
// What reaches which provider:
//   - system text blocks, content blocks, tools and tool_choice become the neutral request, so the
//     call can be routed to any provider; cache_control on system, text, image, tool_result and
//     tool definitions becomes the parts' cache hints, which the Anthropic adapter sends back as
//     cache_control (OpenAI and Gemini cache by themselves and ignore them);
//   - thinking/redacted_thinking blocks of assistant turns are kept with their signatures and
//     replayed to Anthropic deployments only; thinking {enabled, budget_tokens} keeps its exact
//     budget for Anthropic and becomes the nearest reasoning effort for others; adaptive thinking
//     takes output_config.effort (xhigh and max read as high), Anthropic's default high without;
//   - top_k reaches Anthropic deployments only (OpenAI has none; Gemini's is not mapped);
//   - metadata.user_id is the call's user; the anthropic-beta header is passed to Anthropic
//     deployments; a `signalbox` object takes the same routing options as the OpenAI door.
// Document blocks: base64 PDFs and plain-text sources (title kept); URL and file sources, custom
// content, context and citations are refused. `mcp_servers` (and mcp_toolset tools) name MCP
// servers of the gateway's configuration, which the gateway runs (mcp.ts). The web_search server tool
// is the gateway's web search (src/engine/web-search.ts: one search before the model), answered
// with Anthropic's server_tool_use and web_search_tool_result blocks and text citations; earlier
// turns' blocks of it are accepted and not replayed. Not supported, refused with a 400: other
// server tools and container. Ignored: service_tier, top-level cache_control, cache_control on
// tool_use blocks, output_config.effort without thinking, and fields Anthropic adds later.

import type { CacheMode } from "../../engine/chat-engine.ts";
import type { CacheHint, ChatMessage, ContentPart, JsonObject, ReasoningBlock, ReasoningEffort, ToolChoice, ToolDef, UpstreamRequest } from "../../providers/types.ts";
import type { Caller, ChatCall } from "../../router/types.ts";
import { domainList, earlierResultsMessage, locationCountry, replayedText, type WebSearchRequest } from "../../engine/web-search.ts";
import { validateCall, type FieldNames } from "../../server/validate.ts";
import { arr, bad, bool, int, isObj, num, obj, pdfReading, signalboxOptions, signalboxPrompt, str, stringList, type Json } from "../request.ts";
import { applyPrompt, validatePrompted, type PromptLibrary } from "../../control/prompts.ts";
import { mcpFunctionName, type OfferSpec } from "../../mcp/offer.ts";
import type { McpTool } from "../../mcp/hub.ts";

/** An MCP server of `mcp_servers`: its name (a server of the gateway's configuration), its URL as given, and which tools are on. */
export interface McpServerSpec extends OfferSpec {
  url: string;
}

export interface MessagesRequest {
  call: ChatCall;
  /** The MCP servers the request names (`mcp_servers`), whose tools the gateway runs (mcp.ts); empty: none. */
  mcp: McpServerSpec[];
  cache?: { mode: CacheMode; ttlSeconds?: number };
}

/** Anthropic's smallest thinking budget. */
const MIN_BUDGET = 1024;
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
const EFFORTS: Record<string, ReasoningEffort> = { low: "low", medium: "medium", high: "high", xhigh: "high", max: "high" };
const REFUSED: Record<string, string> = {
  container: "code-execution containers are not supported by this gateway",
};

/** The reasoning effort nearest an exact thinking budget (the Anthropic adapter's own budgets). */
export function effortForBudget(budget: number): ReasoningEffort {
  if (budget <= 1024) return "minimal";
  if (budget <= 4096) return "low";
  if (budget <= 12288) return "medium";
  return "high";
}

function cacheHint(o: Json, path: string): CacheHint | undefined {
  const cc = obj(o, "cache_control", `${path}.cache_control`);
  if (!cc) return undefined;
  if (cc.type !== "ephemeral") bad(`${path}.cache_control.type`, `must be "ephemeral"`);
  const ttl = str(cc, "ttl", `${path}.cache_control.ttl`);
  if (ttl !== undefined && ttl !== "5m" && ttl !== "1h") bad(`${path}.cache_control.ttl`, `must be "5m" or "1h", got "${ttl}"`);
  return ttl ? { ttl } : {};
}

const withCache = <P extends ContentPart>(p: P, hint: CacheHint | undefined): P => (hint ? { ...p, cache: hint } : p);

function textPart(b: Json, path: string): ContentPart {
  const text = str(b, "text", `${path}.text`) ?? bad(`${path}.text`, "Field required");
  return withCache({ type: "text", text }, cacheHint(b, path));
}

function imagePart(b: Json, path: string): ContentPart {
  const src = obj(b, "source", `${path}.source`) ?? bad(`${path}.source`, "Field required");
  const hint = cacheHint(b, path);
  if (src.type === "base64") {
    const mt = str(src, "media_type", `${path}.source.media_type`) ?? bad(`${path}.source.media_type`, "Field required");
    if (!IMAGE_TYPES.has(mt)) bad(`${path}.source.media_type`, "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
    const data = str(src, "data", `${path}.source.data`) ?? bad(`${path}.source.data`, "Field required");
    // A data URL carries the base64 text unchanged to every adapter (no decode and re-encode).
    return withCache({ type: "image", url: `data:${mt};base64,${data}` }, hint);
  }
  if (src.type === "url") {
    const url = str(src, "url", `${path}.source.url`) ?? bad(`${path}.source.url`, "Field required");
    if (!/^https?:\/\//i.test(url)) bad(`${path}.source.url`, "must be an http(s) URL");
    return withCache({ type: "image", url }, hint);
  }
  return bad(`${path}.source.type`, `must be "base64" or "url", got ${JSON.stringify(src.type)}`);
}

/**
 * A document block: a base64 PDF or a plain-text source, its title as the file's name. URL and
 * file sources (the gateway does not fetch), custom content, context and citations are refused.
 */
function documentPart(b: Json, path: string): ContentPart {
  const src = obj(b, "source", `${path}.source`) ?? bad(`${path}.source`, "Field required");
  const title = str(b, "title", `${path}.title`);
  if (b.context !== undefined && b.context !== null) bad(`${path}.context`, "document context is not supported by this gateway; put it in a text block");
  const citations = obj(b, "citations", `${path}.citations`);
  if (citations && citations.enabled === true) bad(`${path}.citations`, "citations are not supported by this gateway");
  const hint = cacheHint(b, path);
  const named = title ? { filename: title } : {};
  if (src.type === "base64") {
    const mt = str(src, "media_type", `${path}.source.media_type`) ?? bad(`${path}.source.media_type`, "Field required");
    if (mt !== "application/pdf") bad(`${path}.source.media_type`, "Input should be 'application/pdf'");
    const data = str(src, "data", `${path}.source.data`) ?? bad(`${path}.source.data`, "Field required");
    return withCache({ type: "file", data: Buffer.from(data, "base64"), mediaType: mt, ...named }, hint);
  }
  if (src.type === "text") {
    const mt = str(src, "media_type", `${path}.source.media_type`) ?? bad(`${path}.source.media_type`, "Field required");
    if (mt !== "text/plain") bad(`${path}.source.media_type`, "Input should be 'text/plain'");
    const data = str(src, "data", `${path}.source.data`) ?? bad(`${path}.source.data`, "Field required");
    return withCache({ type: "file", data: Buffer.from(data, "utf8"), mediaType: mt, ...named }, hint);
  }
  if (src.type === "url" || src.type === "file") bad(`${path}.source.type`, `${src.type} sources are not supported by this gateway (it does not fetch files): send the document as base64 or text`);
  return bad(`${path}.source.type`, `must be "base64" or "text", got ${JSON.stringify(src.type)}`);
}

function toolResultContent(b: Json, path: string): ContentPart[] {
  const c = b.content;
  const hint = cacheHint(b, path);
  let parts: ContentPart[];
  if (c === undefined || c === null) parts = [];
  else if (typeof c === "string") parts = c === "" ? [] : [{ type: "text", text: c }];
  else if (Array.isArray(c)) {
    parts = c.map((x, k) => {
      const p = `${path}.content.${k}`;
      if (!isObj(x)) bad(p, "must be an object");
      if (x.type === "text") return textPart(x, p);
      // Images stay in the tool result for Anthropic, Bedrock and Gemini; the OpenAI adapter moves
      // them to a user message after the turn's tool messages.
      if (x.type === "image") return imagePart(x, p);
      return bad(`${p}.type`, `must be "text" or "image", got ${JSON.stringify(x.type)}`);
    });
  } else return bad(`${path}.content`, "must be a string or an array of blocks");
  // A breakpoint on the tool_result itself sits after its last part (where the adapter puts it back).
  if (hint && parts.length > 0) parts[parts.length - 1] = withCache(parts[parts.length - 1], hint);
  return parts;
}

/** Input of a tool_use block as the JSON text neutral tool calls carry. */
function toolInput(b: Json, path: string): string {
  const input = b.input ?? {};
  if (!isObj(input)) bad(`${path}.input`, "must be an object");
  return JSON.stringify(input);
}

/**
 * The conversation. A user turn's tool_result blocks become tool messages (in order, named after
 * the call they answer), its other blocks one user message after them; an assistant turn's
 * thinking blocks, text and tool_use blocks one assistant message.
 */
function messages(v: unknown, system: ChatMessage[]): ChatMessage[] {
  if (v === undefined || v === null) bad("messages", "Field required");
  if (!Array.isArray(v)) bad("messages", "must be an array");
  const out: ChatMessage[] = [...system];
  /** Tool calls of the latest assistant turn: what the next user turn's tool_result blocks may answer. */
  let open = new Map<string, string>();
  v.forEach((m, i) => {
    const path = `messages.${i}`;
    if (!isObj(m)) bad(path, "must be an object");
    const role = m.role;
    if (role !== "user" && role !== "assistant") bad(`${path}.role`, `Input should be 'user' or 'assistant', got ${JSON.stringify(role)}`);
    const blocks: Json[] =
      typeof m.content === "string"
        ? [{ type: "text", text: m.content }]
        : Array.isArray(m.content)
          ? m.content.map((b, j) => (isObj(b) ? b : bad(`${path}.content.${j}`, "must be an object")))
          : bad(`${path}.content`, "must be a string or an array of content blocks");
    if (role === "assistant") {
      let msg: ChatMessage = { role: "assistant", content: [] };
      let reasoning: ReasoningBlock[] = [];
      open = new Map();
      /** Calls of MCP tools this turn made (mcp_tool_use), answered in the turn itself by mcp_tool_result. */
      const mcpCalls = new Map<string, string>();
      /** The query of the earlier turn's web search whose results follow (server_tool_use, then web_search_tool_result). */
      let searchQuery = "";
      blocks.forEach((b, j) => {
        const p = `${path}.content.${j}`;
        switch (b.type) {
          case "text": {
            const part = textPart(b, p);
            if (part.type === "text" && part.text !== "") msg.content.push(part);
            break;
          }
          case "thinking":
            reasoning.push({ text: str(b, "thinking", `${p}.thinking`) ?? "", ...(typeof b.signature === "string" && b.signature !== "" ? { signature: b.signature } : {}) });
            break;
          case "redacted_thinking":
            reasoning.push({ text: "", redacted: str(b, "data", `${p}.data`) ?? bad(`${p}.data`, "Field required") });
            break;
          case "tool_use": {
            const id = str(b, "id", `${p}.id`) ?? bad(`${p}.id`, "Field required");
            const name = str(b, "name", `${p}.name`) ?? bad(`${p}.name`, "Field required");
            (msg.toolCalls ??= []).push({ id, name, arguments: toolInput(b, p) });
            open.set(id, name);
            break;
          }
          case "mcp_tool_use": {
            // A call the gateway ran for an MCP server (mcp.ts): the model's call, answered below.
            const id = str(b, "id", `${p}.id`) ?? bad(`${p}.id`, "Field required");
            const name = mcpFunctionName(str(b, "server_name", `${p}.server_name`) ?? bad(`${p}.server_name`, "Field required"), str(b, "name", `${p}.name`) ?? bad(`${p}.name`, "Field required"));
            (msg.toolCalls ??= []).push({ id, name, arguments: toolInput(b, p) });
            mcpCalls.set(id, name);
            break;
          }
          case "mcp_tool_result": {
            const id = str(b, "tool_use_id", `${p}.tool_use_id`) ?? bad(`${p}.tool_use_id`, "Field required");
            const name = mcpCalls.get(id) ?? bad(`${p}.tool_use_id`, `answers no mcp_tool_use block before it in this message: ${id}`);
            // The turn so far, then the result; what follows is the model's next turn.
            if (reasoning.length) msg.reasoningBlocks = reasoning;
            if (msg.content.length || msg.toolCalls?.length || reasoning.length) out.push(msg);
            const isError = bool(b, "is_error", `${p}.is_error`);
            out.push({ role: "tool", toolCallId: id, name, content: toolResultContent(b, p), ...(isError ? { isError } : {}) });
            msg = { role: "assistant", content: [] };
            reasoning = [];
            break;
          }
          case "server_tool_use":
            // An earlier turn's search (the gateway's web search): its query, for the results below.
            if (b.name !== "web_search") blockType(b, p);
            searchQuery = isObj(b.input) && typeof b.input.query === "string" ? b.input.query : "";
            break;
          case "web_search_tool_result": {
            // Its results, given to the model again before the answer that read them (their text
            // from encrypted_content when the gateway made it; title and address alone otherwise).
            const results = Array.isArray(b.content)
              ? (b.content as unknown[]).filter(isObj).filter((r) => r.type === "web_search_result" && typeof r.url === "string").map((r) => ({ url: r.url as string, title: typeof r.title === "string" ? r.title : "", text: replayedText(r.encrypted_content), ...(typeof r.page_age === "string" ? { published: r.page_age } : {}) }))
              : [];
            if (results.length) {
              if (msg.content.length || msg.toolCalls?.length || reasoning.length) {
                if (reasoning.length) msg.reasoningBlocks = reasoning;
                out.push(msg);
                msg = { role: "assistant", content: [] };
                reasoning = [];
              }
              out.push(earlierResultsMessage(searchQuery, results));
            }
            break;
          }
          case "tool_result":
            return bad(p, "tool_result blocks can only appear in user messages");
          default:
            blockType(b, p);
        }
      });
      if (reasoning.length) msg.reasoningBlocks = reasoning;
      if (msg.content.length || msg.toolCalls?.length || reasoning.length) out.push(msg);
      return;
    }
    const user: ContentPart[] = [];
    blocks.forEach((b, j) => {
      const p = `${path}.content.${j}`;
      switch (b.type) {
        case "text": {
          const part = textPart(b, p);
          if (part.type === "text" && part.text === "") bad(p, "text content blocks must be non-empty");
          user.push(part);
          break;
        }
        case "image":
          user.push(imagePart(b, p));
          break;
        case "document":
          user.push(documentPart(b, p));
          break;
        case "tool_result": {
          const id = str(b, "tool_use_id", `${p}.tool_use_id`) ?? bad(`${p}.tool_use_id`, "Field required");
          const name = open.get(id);
          if (name === undefined) {
            bad(`${p}.tool_use_id`, `unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
          }
          const isError = bool(b, "is_error", `${p}.is_error`);
          out.push({ role: "tool", toolCallId: id, name, content: toolResultContent(b, p), ...(isError ? { isError } : {}) });
          break;
        }
        case "tool_use":
        case "thinking":
        case "redacted_thinking":
          return bad(p, `${String(b.type)} blocks can only appear in assistant messages`);
        default:
          blockType(b, p);
      }
    });
    open = new Map();
    if (user.length) out.push({ role: "user", content: user });
  });
  return out;
}

function blockType(b: Json, path: string): never {
  if (b.type === "search_result" || b.type === "container_upload") bad(`${path}.type`, `${String(b.type)} blocks are not supported by this gateway`);
  if (typeof b.type === "string" && (b.type.startsWith("server_tool") || b.type.endsWith("_tool_result"))) bad(`${path}.type`, `server tool blocks are not supported by this gateway`);
  return bad(`${path}.type`, `Input tag ${JSON.stringify(b.type)} does not match any of the expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'`);
}

/** `system`: a string, or text blocks (one system message each, keeping its cache breakpoint). */
function systemMessages(v: unknown): ChatMessage[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return v === "" ? [] : [{ role: "system", content: [{ type: "text", text: v }] }];
  if (!Array.isArray(v)) bad("system", "must be a string or an array of text blocks");
  return v.map((b, i) => {
    const p = `system.${i}`;
    if (!isObj(b) || b.type !== "text") bad(p, "Input should be a valid dictionary or instance of TextBlockParam");
    return { role: "system", content: [textPart(b, p)] };
  });
}

/** An mcp_toolset tool (mcp-client-2025-11-20): which of a server's tools are on. */
interface Toolset {
  server: string;
  path: string;
  allows(tool: McpTool): boolean;
}

function toolset(t: Json, p: string): Toolset {
  const server = str(t, "mcp_server_name", `${p}.mcp_server_name`) ?? bad(`${p}.mcp_server_name`, "Field required");
  const def = obj(t, "default_config", `${p}.default_config`) ?? {};
  const on = bool(def, "enabled", `${p}.default_config.enabled`) ?? true;
  const configs = obj(t, "configs", `${p}.configs`) ?? {};
  const each = new Map<string, boolean>();
  for (const [name, c] of Object.entries(configs)) {
    if (!isObj(c)) bad(`${p}.configs.${name}`, "must be an object");
    const e = bool(c, "enabled", `${p}.configs.${name}.enabled`);
    if (e !== undefined) each.set(name, e);
  }
  if (Array.isArray(t.tools)) bad(`${p}.tools`, "a pinned tool listing is not supported by this gateway: it lists the server's tools itself");
  return { server, path: p, allows: (tool) => each.get(tool.name) ?? on };
}

/** Anthropic's web search server tool, by its dated type (web_search_20250305 and later). */
const WEB_SEARCH_TOOL = /^web_search_\d{8}$/;

/**
 * The web search server tool, run by the gateway (src/engine/web-search.ts): one search before the
 * model, with the last user message, rather than searches the model decides on (max_uses is
 * accepted: there is one); user_location's country, allowed_domains and blocked_domains go to
 * the engine.
 */
function webSearchTool(t: Json, p: string): WebSearchRequest {
  const name = str(t, "name", `${p}.name`);
  if (name !== undefined && name !== "web_search") bad(`${p}.name`, `must be "web_search", got "${name}"`);
  const uses = int(t, "max_uses", `${p}.max_uses`);
  if (uses !== undefined && uses < 1) bad(`${p}.max_uses`, `must be at least 1, got ${uses}`);
  const list = (k: string) => (t[k] !== undefined && t[k] !== null ? domainList(t[k], `${p}.${k}`) : undefined);
  const allowed = list("allowed_domains");
  const blocked = list("blocked_domains");
  if (allowed && blocked) bad(`${p}.blocked_domains`, "give allowed_domains or blocked_domains, not both");
  const country = locationCountry(t.user_location, `${p}.user_location`);
  return { byModel: true, ...(uses !== undefined ? { maxUses: uses } : {}), ...(allowed?.length ? { allowedDomains: allowed } : {}), ...(blocked?.length ? { blockedDomains: blocked } : {}), ...(country ? { country } : {}) };
}

function tools(v: unknown[] | undefined, toolsets: Toolset[], web: { search?: WebSearchRequest }): ToolDef[] | undefined {
  if (!v) return undefined;
  const defs: ToolDef[] = [];
  v.forEach((t, i) => {
    const p = `tools.${i}`;
    if (!isObj(t)) bad(p, "must be an object");
    if (t.type === "mcp_toolset") {
      toolsets.push(toolset(t, p));
      return;
    }
    if (typeof t.type === "string" && WEB_SEARCH_TOOL.test(t.type)) {
      if (web.search) bad(`${p}.type`, "one web_search tool per request");
      web.search = webSearchTool(t, p);
      return;
    }
    defs.push(tool(t, p));
  });
  // Only mcp_toolset tools (or the web search): no tools of the request's own.
  return defs.length || (toolsets.length === 0 && !web.search) ? defs : undefined;
}

/** A custom tool (the only kind besides mcp_toolset this gateway takes). */
function tool(t: Json, p: string): ToolDef {
  if (t.type !== undefined && t.type !== null && t.type !== "custom") bad(`${p}.type`, `server tools (${JSON.stringify(t.type)}) are not supported by this gateway`);
  const name = str(t, "name", `${p}.name`) ?? bad(`${p}.name`, "Field required");
  const schema = obj(t, "input_schema", `${p}.input_schema`) ?? bad(`${p}.input_schema`, "Field required");
  const def: ToolDef = { name, parameters: schema as JsonObject };
  const description = str(t, "description", `${p}.description`);
  if (description) def.description = description;
  const strict = bool(t, "strict", `${p}.strict`);
  if (strict !== undefined) def.strict = strict;
  const hint = cacheHint(t, p);
  if (hint) def.cache = hint;
  return def;
}

/**
 * `mcp_servers` (Anthropic's MCP connector): servers of the gateway's configuration by name, with
 * the tools their `tool_configuration` (mcp-client-2025-04-04) or an mcp_toolset tool
 * (mcp-client-2025-11-20) turns on. The gateway calls them with its own credentials, so an
 * `authorization_token` is refused rather than ignored.
 */
function mcpServers(v: unknown[] | undefined, toolsets: readonly Toolset[]): McpServerSpec[] {
  const specs = (v ?? []).map((m, i): McpServerSpec => {
    const p = `mcp_servers.${i}`;
    if (!isObj(m)) bad(p, "must be an object");
    if (m.type !== "url") bad(`${p}.type`, `Input should be 'url', got ${JSON.stringify(m.type)}`);
    const label = str(m, "name", `${p}.name`) ?? bad(`${p}.name`, "Field required");
    const url = str(m, "url", `${p}.url`) ?? bad(`${p}.url`, "Field required");
    if (m.authorization_token !== undefined && m.authorization_token !== null) bad(`${p}.authorization_token`, "the gateway calls MCP servers with their own credentials from its configuration (mcp_servers[].headers); leave it out");
    const tc = obj(m, "tool_configuration", `${p}.tool_configuration`);
    const enabled = tc ? bool(tc, "enabled", `${p}.tool_configuration.enabled`) : undefined;
    const allowed = tc ? stringList(arr(tc, "allowed_tools", `${p}.tool_configuration.allowed_tools`), `${p}.tool_configuration.allowed_tools`) : [];
    const set = toolsets.find((t) => t.server === label);
    const allows = enabled === false ? () => false : set ? set.allows : undefined;
    return { path: p, label, url, ...(allowed.length ? { allowed } : {}), ...(allows ? { allows } : {}) };
  });
  for (const t of toolsets) if (!specs.some((s) => s.label === t.server)) bad(`${t.path}.mcp_server_name`, `names no server of mcp_servers: "${t.server}"`);
  specs.forEach((s, i) => specs.findIndex((x) => x.label === s.label) !== i && bad(`${s.path}.name`, `"${s.label}" is named twice`));
  return specs;
}

function toolChoice(v: Json | undefined): { choice?: ToolChoice; serial: boolean } {
  if (!v) return { serial: false };
  const serial = bool(v, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use") === true;
  switch (v.type) {
    case "auto":
      return { choice: { type: "auto" }, serial };
    case "any":
      return { choice: { type: "required" }, serial };
    case "none":
      return { choice: { type: "none" }, serial };
    case "tool":
      return { choice: { type: "tool", name: str(v, "name", "tool_choice.name") ?? bad("tool_choice.name", "Field required") }, serial };
    default:
      return bad("tool_choice.type", `Input should be 'auto', 'any', 'tool' or 'none', got ${JSON.stringify(v.type)}`);
  }
}

/** `thinking` and `output_config.effort` → the neutral reasoning effort and exact budget. */
function thinking(body: Json, maxTokens: number | undefined): Pick<UpstreamRequest, "reasoningEffort" | "thinkingBudget"> {
  const t = obj(body, "thinking", "thinking");
  const oc = obj(body, "output_config", "output_config") ?? {};
  const effortText = str(oc, "effort", "output_config.effort");
  if (effortText !== undefined && !(effortText in EFFORTS)) bad("output_config.effort", "Input should be 'low', 'medium', 'high', 'xhigh' or 'max'");
  if (!t || t.type === "disabled") return {};
  if (t.type === "enabled") {
    const budget = int(t, "budget_tokens", "thinking.budget_tokens") ?? bad("thinking.budget_tokens", "Field required");
    if (budget < MIN_BUDGET) bad("thinking.budget_tokens", `Input should be greater than or equal to ${MIN_BUDGET}`);
    if (maxTokens !== undefined && budget >= maxTokens) bad("max_tokens", "`max_tokens` must be greater than `thinking.budget_tokens`");
    return { reasoningEffort: effortText ? EFFORTS[effortText] : effortForBudget(budget), thinkingBudget: budget };
  }
  if (t.type === "adaptive") return { reasoningEffort: effortText ? EFFORTS[effortText] : "high" };
  return bad("thinking.type", `Input should be 'enabled', 'adaptive' or 'disabled', got ${JSON.stringify(t.type)}`);
}

const FIELDS: FieldNames = {
  maxOutputTokens: "max_tokens",
  image: "source",
  fileData: "source.data",
  fileMediaType: "source.media_type",
  responseFormatSchema: "output_config.format.schema",
  responseFormatName: "output_config.format",
  toolChoiceTool: "tool_choice.name",
  routing: "signalbox",
};

/**
 * Parse a Messages request (or, with `countOnly`, a count_tokens request: no max_tokens, never
 * streamed). `betas` is the anthropic-beta header's list.
 */
export function parseMessagesRequest(body: unknown, id: string, caller: Caller, opts: { countOnly?: boolean; betas?: string[]; prompts?: PromptLibrary } = {}): MessagesRequest {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k in REFUSED) if (body[k] !== undefined && body[k] !== null) bad(k, REFUSED[k]);
  // A template of the prompt library, put before the request's own system prompt and messages.
  const template = signalboxPrompt(body, caller, opts.prompts);
  const model = str(body, "model", "model") ?? template?.model ?? bad("model", template ? `Field required (prompt "${template.id}" names no model)` : "Field required");
  const maxTokens = int(body, "max_tokens", "max_tokens");
  if (maxTokens === undefined && !opts.countOnly) bad("max_tokens", "Field required");

  const req: Omit<UpstreamRequest, "model"> = { messages: template && (body.messages === undefined || body.messages === null) ? systemMessages(body.system) : messages(body.messages, systemMessages(body.system)) };
  if (!opts.countOnly && maxTokens !== undefined) req.maxOutputTokens = maxTokens;
  const toolsets: Toolset[] = [];
  const web: { search?: WebSearchRequest } = {};
  const t = tools(arr(body, "tools", "tools"), toolsets, web);
  const mcp = mcpServers(arr(body, "mcp_servers", "mcp_servers"), toolsets);
  if (t) req.tools = t;
  const tc = toolChoice(obj(body, "tool_choice", "tool_choice"));
  // tool_choice without tools is meaningless to Anthropic too: dropped rather than refused.
  if (tc.choice && t?.length) req.toolChoice = tc.choice;
  if (tc.serial && t?.length) req.parallelToolCalls = false;
  const temperature = num(body, "temperature", "temperature");
  if (temperature !== undefined) {
    if (temperature < 0 || temperature > 1) bad("temperature", `must be between 0 and 1, got ${temperature}`);
    req.temperature = temperature;
  }
  const topP = num(body, "top_p", "top_p");
  if (topP !== undefined) req.topP = topP;
  const topK = int(body, "top_k", "top_k");
  if (topK !== undefined) {
    if (topK < 1) bad("top_k", `must be a positive integer, got ${topK}`);
    req.topK = topK;
  }
  const stop = stringList(arr(body, "stop_sequences", "stop_sequences"), "stop_sequences");
  stop.forEach((s, i) => s === "" && bad(`stop_sequences.${i}`, "must not be empty"));
  if (stop.length > 4) bad("stop_sequences", `at most 4 stop sequences, got ${stop.length}`);
  if (stop.length) req.stop = stop;
  Object.assign(req, thinking(body, maxTokens));
  const format = obj(obj(body, "output_config", "output_config") ?? {}, "format", "output_config.format");
  if (format) {
    if (format.type !== "json_schema") bad("output_config.format.type", `must be "json_schema", got ${JSON.stringify(format.type)}`);
    const schema = obj(format, "schema", "output_config.format.schema") ?? bad("output_config.format.schema", "Field required");
    req.responseFormat = { type: "json_schema", name: "output", schema: schema as JsonObject, strict: true };
  }
  if (opts.betas?.length) req.anthropicBeta = opts.betas;

  const metadata = obj(body, "metadata", "metadata") ?? {};
  for (const k of Object.keys(metadata)) if (k !== "user_id") bad(`metadata.${k}`, "Extra inputs are not permitted");
  const user = str(metadata, "user_id", "metadata.user_id") || undefined;
  if (user) req.user = user;
  const stream = opts.countOnly ? false : (bool(body, "stream", "stream") ?? false);

  const pdf = pdfReading(body);
  const sb = signalboxOptions(body, model, user);
  const call: ChatCall = {
    id,
    model,
    request: req,
    routing: sb.routing,
    user,
    tags: sb.tags,
    // The usage record says which front door the request came through.
    metadata: { door: "anthropic" },
    caller,
    stream,
    ...(sb.guardrails ? { guardrails: sb.guardrails } : {}),
    ...(web.search ? { webSearch: web.search } : {}),
    // signalbox.pdf_reader: document blocks' PDFs read into text before the call is planned.
    ...(pdf ? { pdfReader: pdf } : {}),
  };
  const offset = template ? applyPrompt(call, template) : 0;
  validatePrompted(offset, () => validateCall(call, FIELDS));
  return { call, mcp, ...(sb.cache ? { cache: sb.cache } : {}) };
}
