// The gateway's own MCP server of its documents (`vector_stores`): list_vector_stores and
// search_files over the stores the caller's key may see. Served at /mcp (src/mcp/http.ts), and run
// by the hub for the doors that run MCP tools for a model (the Responses API's `mcp` tool, the
// Messages API's `mcp_servers`), in process: no connection, the caller's own identity.

import { visibilityOf } from "../batch/store.ts";
import type { McpServerConfig } from "../config/types.ts";
import { passageBlock } from "../engine/file-search.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { newRequestId, type RequestInfo } from "../server/context.ts";
import type { VectorStores } from "../vectors/service.ts";
import type { BuiltinServer, McpCallResult, McpTool } from "./hub.ts";

export const VECTOR_SERVER = "vector_stores";

export const VECTOR_TOOLS: McpTool[] = [
  {
    name: "list_vector_stores",
    description: "List the document collections (vector stores) this key may search: id, name and how many files each holds.",
    inputSchema: { type: "object", properties: {} },
    annotations: { readOnlyHint: true },
  } as McpTool,
  {
    name: "search_files",
    description: "Search the documents of one or two vector stores for passages relevant to a query. Results come best first with each file's name and score.",
    inputSchema: {
      type: "object",
      properties: {
        vector_store_ids: { type: "array", items: { type: "string" }, description: "The vector stores to search (1 or 2 ids, vs_…)" },
        query: { type: "string", description: "What to search for" },
        max_results: { type: "integer", minimum: 1, maximum: 50, description: "At most this many passages (default 5)" },
      },
      required: ["vector_store_ids", "query"],
    },
    annotations: { readOnlyHint: true },
  } as McpTool,
];

export async function listStores(vectors: VectorStores, caller: Caller) {
  const page = await vectors.store.listStores({ limit: 100, visibility: visibilityOf(caller) });
  const stores = page.data.filter((s) => s.status !== "expired").map((s) => ({ id: s.id, name: s.name, files: s.file_counts.completed, usage_bytes: s.usage_bytes }));
  const text = stores.length ? stores.map((s) => `${s.id}  ${s.name || "(unnamed)"}  ${s.files} file${s.files === 1 ? "" : "s"}`).join("\n") : "No vector stores this key may search.";
  return { content: [{ type: "text", text }], structuredContent: { stores } };
}

export async function searchFiles(vectors: VectorStores, caller: Caller, ri: RequestInfo, args: Record<string, unknown>) {
  const ids = args.vector_store_ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 2 || ids.some((x) => typeof x !== "string" || !x)) throw new GatewayError("invalid_argument", "vector_store_ids: 1 or 2 vector store ids");
  if (typeof args.query !== "string" || !args.query.trim()) throw new GatewayError("invalid_argument", "query: a non-empty string");
  const max = args.max_results ?? 5;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 50) throw new GatewayError("invalid_argument", "max_results: an integer from 1 to 50");
  const out = await vectors.search(caller, ri, ids as string[], [args.query.slice(0, 4_000)], { via: "mcp", maxResults: max, ranker: "auto", scoreThreshold: 0 }, AbortSignal.timeout(60_000));
  const results = out.hits.map((h) => ({ file_id: h.file_id, filename: h.filename, score: h.score, attributes: h.attributes, text: h.content.map((c) => c.text).join("\n") }));
  const text = out.hits.length ? out.hits.map(passageBlock).join("\n\n") : "Nothing relevant was found.";
  return { content: [{ type: "text", text }], structuredContent: { results } };
}

/** The vector_stores server as the hub runs it, while vector stores are configured. */
export function vectorToolsServer(vectors: () => VectorStores | undefined): BuiltinServer {
  const config: McpServerConfig = { id: VECTOR_SERVER, description: "The gateway's vector stores: list them, and search their files", headers: {}, timeoutMs: 60_000 };
  return {
    config,
    enabled: () => vectors()?.enabled() === true,
    tools: VECTOR_TOOLS,
    async call(tool, args, ctx) {
      const files = vectors();
      if (!files?.enabled()) throw new GatewayError("unavailable", "the gateway's vector stores are not configured");
      const ri: RequestInfo = { id: newRequestId(), traceId: ctx.traceId, arrivedAt: performance.now(), ...(ctx.otel ? { otel: ctx.otel } : {}) };
      if (tool === "list_vector_stores") return (await listStores(files, ctx.caller)) as McpCallResult;
      if (tool === "search_files") return (await searchFiles(files, ctx.caller, ri, args)) as McpCallResult;
      throw new GatewayError("not_found", `Unknown tool: ${tool}`);
    },
  };
}
