// The gateway's own MCP server of the web (`web_search`, with `web_search.model` configured): one
// tool, `search`, that searches the web through the gateway's search engines for any MCP client
// (an IDE's agent, a desktop assistant) with the caller's key, as /v1/search does: the route's
// engines with fallbacks, the key's limits and budgets, a usage record (operation search), input
// guardrails on the query. Served at /mcp (`web_search__search`) and /mcp/web_search, and run by the
// hub for the doors that run MCP tools for a model (the Responses API's `mcp` tool, the Messages
// API's `mcp_servers`), in process.

import type { McpServerConfig } from "../config/types.ts";
import type { ChatEngine } from "../engine/chat-engine.ts";
import { countryCode, domainList } from "../engine/web-search.ts";
import { GatewayError } from "../router/errors.ts";
import type { SearchCall } from "../router/types.ts";
import { newRequestId, type RequestInfo } from "../server/context.ts";
import { validateSearchCall } from "../server/validate.ts";
import type { BuiltinServer, McpCallResult, McpTool } from "./hub.ts";

export const SEARCH_SERVER = "web_search";

export const SEARCH_TOOLS: McpTool[] = [
  {
    name: "search",
    description:
      "Search the web. Returns pages about the query, most relevant first: each one's title, address, publication date when known, and an extract of its text. Cite the addresses you use.",
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What to search for, as you would type it into a search engine" },
        max_results: { type: "integer", minimum: 1, maximum: 20, description: "At most this many pages (default: the gateway's web_search.max_results)" },
        allowed_domains: { type: "array", items: { type: "string" }, description: "Only pages on these domains (example.com)" },
        blocked_domains: { type: "array", items: { type: "string" }, description: "No pages on these domains" },
        country: { type: "string", description: "Results for users in this country (ISO 3166-1 alpha-2, like US)" },
      },
      required: ["query"],
    },
    annotations: { readOnlyHint: true, openWorldHint: true },
  } as McpTool,
];

const statusOf = (signal: AbortSignal) => (err: unknown) => (signal.aborted ? "canceled" : err === undefined ? "ok" : err instanceof GatewayError ? err.code : "internal");

/**
 * The search a tool call asks for: the caller's own (its limits, budgets and record), tagged mcp,
 * outside its allow list (which names models: the platform chose the search engines, as it chose
 * the stores vector_stores searches).
 */
export function toolSearchCall(args: Record<string, unknown>, model: string, defaults: { maxResults: number; maxCharacters: number }, caller: SearchCall["caller"], user: string | undefined): SearchCall {
  const q = args.query;
  if (typeof q !== "string" || !q.trim()) throw new GatewayError("invalid_argument", "query: a non-empty string", { field: "query" });
  const max = args.max_results ?? defaults.maxResults;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 20) throw new GatewayError("invalid_argument", "max_results: an integer from 1 to 20", { field: "max_results" });
  const list = (k: "allowed_domains" | "blocked_domains") => (args[k] === undefined || args[k] === null ? undefined : domainList(args[k], k));
  const allowed = list("allowed_domains");
  const blocked = list("blocked_domains");
  const country = args.country === undefined || args.country === null ? undefined : countryCode(args.country, "country");
  const call: SearchCall = {
    operation: "search",
    id: newRequestId(),
    model,
    routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
    ...(user ? { user } : {}),
    tags: ["mcp"],
    metadata: {},
    caller: { ...caller, allow: [] },
    request: {
      queries: [q],
      maxResults: max,
      maxCharacters: defaults.maxCharacters,
      ...(allowed?.length ? { allowedDomains: allowed } : {}),
      ...(blocked?.length ? { blockedDomains: blocked } : {}),
      ...(country ? { country } : {}),
    },
  };
  validateSearchCall(call, { queries: "query", maxResults: "max_results", allowedDomains: "allowed_domains", blockedDomains: "blocked_domains", publishedBefore: "published_before", maxCharacters: "max_characters", routing: "routing" });
  return call;
}

/** The web_search server as the hub and /mcp run it, while `web_search.model` is configured. */
export function searchToolsServer(deps: { settings: () => { model?: string; maxResults: number; maxCharacters: number } | undefined; engine: () => ChatEngine }): BuiltinServer {
  const config: McpServerConfig = { id: SEARCH_SERVER, description: "The web, through the gateway's search engines", headers: {}, timeoutMs: 60_000 };
  return {
    config,
    enabled: () => deps.settings()?.model !== undefined,
    tools: SEARCH_TOOLS,
    async call(tool, args, ctx) {
      const s = deps.settings();
      if (!s?.model) throw new GatewayError("unavailable", "the gateway's web search is not configured (web_search.model)");
      if (tool !== "search") throw new GatewayError("not_found", `Unknown tool: ${tool}`);
      const call = toolSearchCall(args, s.model, s, ctx.caller, ctx.user);
      if (ctx.tags?.length) call.tags = [...call.tags, ...ctx.tags];
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, AbortSignal.timeout(config.timeoutMs)]) : AbortSignal.timeout(config.timeoutMs);
      const ri: RequestInfo = { id: call.id, traceId: ctx.traceId, arrivedAt: performance.now(), ...(ctx.otel ? { otel: ctx.otel } : {}) };
      const a = await deps.engine().search({ call, ri, signal, statusOf: statusOf(signal) });
      const text = a.results.length
        ? a.results.map((r, i) => [`[${i + 1}] ${r.title || r.url}`, r.url, ...(r.published ? [`Published ${r.published}`] : []), r.snippet].join("\n")).join("\n\n")
        : "Nothing was found.";
      return {
        content: [{ type: "text", text }],
        structuredContent: {
          results: a.results.map((r) => ({ title: r.title, url: r.url, snippet: r.snippet, ...(r.published ? { published: r.published } : {}) })),
          request_id: a.id,
          deployment: a.deployment,
          cost_usd: a.cost.total / 1e9,
        },
      } as McpCallResult;
    },
  };
}
