// The MCP gateway's front door, on the gateway's own port (streamable HTTP, stateless: any replica
// answers any request, so no session stickiness is needed behind a load balancer):
//   POST /mcp          every tool of every MCP server the caller's key may use, named `<server>__<tool>`
//                      (prompts too, `<server>__<prompt>`; resources by their own URIs)
//   POST /mcp/{server} one server's tools, prompts and resources under their own names
// The gateway is an MCP server of its own too: with vector stores configured, `vector_stores`
// (list_vector_stores and search_files over the stores the caller's key may see); with
// `web_search.model`, `web_search` (search: the web through the gateway's search engines).
// Callers authenticate with the gateway's keys (Authorization: Bearer, or x-api-key), never with
// the servers' credentials, which stay in the configuration. The protocol (both the 2026 and the
// 2025 revisions) is the official SDK's (`createMcpHandler`): this file only authenticates, scopes
// and bridges node:http to its fetch-shaped handler. Tool calls go through the hub (hub.ts), which
// records and traces them.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { McpHttpHandler } from "@modelcontextprotocol/server";
import type { Client as McpClient } from "@modelcontextprotocol/client";
import type { GatewayCore } from "../gateway.ts";
import { readBody } from "../compat/handler.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { newRequestId, traceIdFrom } from "../server/context.ts";
import { endHttpSpan, startHttpSpan } from "../telemetry/tracing.ts";
import { log } from "../telemetry/log.ts";
import type { Context } from "@opentelemetry/api";
import type { McpHub, McpTool } from "./hub.ts";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Separates a server's id from its tool's name at /mcp (server ids never contain it). */
export const TOOL_SEPARATOR = "__";

interface Scope {
  caller: Caller;
  /** The one server of /mcp/{server}; absent: every server the caller may use. */
  only?: string;
  traceId: string;
  otel?: Context;
}

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

const HTTP_STATUS: Partial<Record<string, number>> = { unauthenticated: 401, permission_denied: 403, not_found: 404, resource_exhausted: 413, invalid_argument: 400 };

/** The gateway's own MCP server: its vector stores' search, for any MCP client, with the caller's key. */
export function createMcpEndpoint(core: GatewayCore, hub: McpHub): (req: Req, res: Res) => boolean {
  /**
   * One MCP server instance per HTTP request (stateless), bound to the caller and the path's scope.
   * Made at the first request: the SDK is loaded only by a gateway that is asked for MCP.
   */
  let made: Promise<McpHttpHandler> | undefined;
  const handler = () => (made ??= build());
  async function build(): Promise<McpHttpHandler> {
    const { createMcpHandler, ProtocolError, ProtocolErrorCode, Server } = await import("@modelcontextprotocol/server");
    return createMcpHandler(
      (ctx) => {
        // The caller and scope travel as the request's auth info, which the SDK passes through untouched.
        const scope = ctx.authInfo?.extra?.scope as Scope | undefined;
        if (!scope) throw new Error("mcp: request without a scope");
        const server = new Server({ name: "signalbox", version: "1" }, { capabilities: { tools: { listChanged: false }, prompts: { listChanged: false }, resources: { listChanged: false } } });
        // The gateway's own servers (its vector stores, web search), as its configuration turns them on.
        const mine = hub.builtins().filter((b) => scope.only === undefined || b.config.id === scope.only);
        const own = scope.only !== undefined && mine.length > 0;
        const servers = () => (own ? [] : scope.only ? [hub.server(scope.only)!] : hub.serversFor(scope.caller));
        const named = (id: string, t: McpTool): McpTool => (scope.only ? t : { ...t, name: `${id}${TOOL_SEPARATOR}${t.name}` });

        server.setRequestHandler("tools/list", async () => {
          const list = servers();
          const results = await Promise.allSettled(list.map((s) => hub.toolsFor(scope.caller, s)));
          const tools: McpTool[] = [];
          results.forEach((r, i) => {
            if (r.status === "fulfilled") for (const t of r.value) tools.push(named(list[i].id, t));
            else if (scope.only) throw new ProtocolError(ProtocolErrorCode.InternalError, (r.reason as Error).message);
            // At /mcp a server that is away hides its tools rather than the others'.
            else log("warn", "mcp: a server's tools could not be listed", { server: list[i].id, error: (r.reason as Error).message });
          });
          for (const b of mine) for (const t of b.tools) tools.push(named(b.config.id, t));
          return { tools } as never;
        });

        server.setRequestHandler("tools/call", async (request) => {
          const name = request.params.name;
          let serverId = scope.only;
          let tool = name;
          if (!serverId) {
            const at = name.indexOf(TOOL_SEPARATOR);
            if (at > 0) {
              serverId = name.slice(0, at);
              tool = name.slice(at + TOOL_SEPARATOR.length);
            }
          }
          const b = serverId === undefined ? undefined : mine.find((x) => x.config.id === serverId);
          if (b) {
            if (!b.tools.some((t) => t.name === tool)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
            try {
              return (await b.call(tool, (request.params.arguments ?? {}) as Record<string, unknown>, { caller: scope.caller, traceId: scope.traceId, otel: scope.otel, via: "mcp" })) as never;
            } catch (err) {
              const e = err as GatewayError;
              if (e.code === "invalid_argument") throw new ProtocolError(ProtocolErrorCode.InvalidParams, e.message);
              return { content: [{ type: "text", text: e.message ?? "the call failed" }], isError: true } as never;
            }
          }
          const target = serverId ? hub.server(serverId) : undefined;
          if (!target || !hub.mayUse(scope.caller, target)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
          try {
            return (await hub.call(target, tool, (request.params.arguments ?? {}) as Record<string, unknown>, { caller: scope.caller, traceId: scope.traceId, otel: scope.otel, via: "mcp" })) as never;
          } catch (err) {
            const e = err as GatewayError;
            if (e.code === "not_found") throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
            if (e.code === "invalid_argument") throw new ProtocolError(ProtocolErrorCode.InvalidParams, e.message);
            // The server could not answer: a tool execution error, which the model (or the user) sees.
            return { content: [{ type: "text", text: e.message }], isError: true } as never;
          }
        });
        // Prompts and resources, as the servers offer them: a prompt's name is prefixed as a tool's
        // at /mcp; a resource keeps its URI (at /mcp a read goes to the servers in order until one
        // has it). Not recorded as tool calls: nothing runs.
        const each = async <T,>(capability: "prompts" | "resources", op: (c: McpClient) => Promise<T>) => {
          const list = servers();
          const got = await Promise.allSettled(list.map((s) => hub.request(s, capability, op)));
          return got.map((g, i) => ({ server: list[i], value: g.status === "fulfilled" ? g.value : undefined }));
        };
        const pages = async <T,>(first: (cursor?: string) => Promise<{ nextCursor?: string } & T>, take: (page: T) => unknown[]) => {
          const out: unknown[] = [];
          let cursor: string | undefined;
          for (let page = 0; page < 20; page++) {
            const r = await first(cursor);
            out.push(...take(r));
            cursor = r.nextCursor;
            if (!cursor) break;
          }
          return out;
        };
        server.setRequestHandler("prompts/list", async () => {
          const all = await each("prompts", (c) => pages((cursor) => c.listPrompts(cursor ? { cursor } : {}), (p) => p.prompts));
          return { prompts: all.flatMap(({ server: s, value }) => ((value ?? []) as { name: string }[]).map((p) => (scope.only ? p : { ...p, name: `${s.id}${TOOL_SEPARATOR}${p.name}` }))) } as never;
        });
        server.setRequestHandler("prompts/get", async (request) => {
          const name = request.params.name;
          const at = scope.only ? -1 : name.indexOf(TOOL_SEPARATOR);
          const target = scope.only ? hub.server(scope.only) : at > 0 ? hub.server(name.slice(0, at)) : undefined;
          if (!target || !hub.mayUse(scope.caller, target)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`);
          const r = await hub.request(target, "prompts", (c) => c.getPrompt({ name: scope.only ? name : name.slice(at + TOOL_SEPARATOR.length), arguments: request.params.arguments }));
          if (!r) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`);
          return r as never;
        });
        server.setRequestHandler("resources/list", async () => {
          const all = await each("resources", (c) => pages((cursor) => c.listResources(cursor ? { cursor } : {}), (p) => p.resources));
          return { resources: all.flatMap(({ value }) => (value ?? []) as unknown[]) } as never;
        });
        server.setRequestHandler("resources/templates/list", async () => {
          const all = await each("resources", (c) => pages((cursor) => c.listResourceTemplates(cursor ? { cursor } : {}), (p) => p.resourceTemplates));
          return { resourceTemplates: all.flatMap(({ value }) => (value ?? []) as unknown[]) } as never;
        });
        server.setRequestHandler("resources/read", async (request) => {
          for (const s of servers()) {
            const r = await hub.request(s, "resources", (c) => c.readResource({ uri: request.params.uri })).catch(() => undefined);
            if (r) return r as never;
          }
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Resource not found: ${request.params.uri}`);
        });
        return server;
      },
      {
        onerror: (err) => log("warn", "mcp: a request was refused", { error: err.message }),
        maxRequestBodySize: core.config.server.maxRequestBytes,
      },
    );
  }

  async function serve(req: Req, res: Res, only: string | undefined): Promise<void> {
    const tracer = core.tracing?.tracer;
    const method = req.method ?? "GET";
    const span = tracer ? startHttpSpan(tracer, method, only ? "/mcp/{server}" : "/mcp", req.headers) : undefined;
    const traceId = span ? span.span.spanContext().traceId : traceIdFrom(header(req, "traceparent") ?? null);
    const id = newRequestId();
    let status = 200;
    let message: string | undefined;
    try {
      const apiKey = header(req, "x-api-key");
      const who = core.identify(header(req, "authorization") ?? (apiKey ? `Bearer ${apiKey}` : null));
      const caller = who instanceof Promise ? await who : who;
      if (only !== undefined && !hub.builtins().some((b) => b.config.id === only)) {
        const s = hub.server(only);
        if (!s || !hub.mayUse(caller, s)) throw new GatewayError("not_found", `MCP server "${only}" does not exist or this key may not use it`);
      }
      const body = method === "POST" ? await readBody(req, core.config.server.maxRequestBytes) : undefined;
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (k.startsWith(":") || v === undefined) continue;
        // The gateway's key is for the gateway: it never reaches the SDK's handler (or a log of it).
        if (k === "authorization" || k === "x-api-key") continue;
        headers.set(k, Array.isArray(v) ? v.join(", ") : v);
      }
      const request = new Request(`http://${header(req, "host") ?? "localhost"}${req.url ?? "/mcp"}`, { method, headers, body: body as BodyInit | undefined });
      const scope: Scope = { caller, only, traceId, otel: span?.ctx };
      const answer = await (await handler()).fetch(request, { authInfo: { token: "", clientId: caller.keyName, scopes: [], extra: { scope } } });
      status = answer.status;
      const out: Record<string, string> = { "x-request-id": id, "x-signalbox-trace-id": traceId };
      answer.headers.forEach((v, k) => {
        // Hop-by-hop headers are the connection's (and refused on HTTP/2): Node sets its own.
        if (!HOP_BY_HOP.has(k)) out[k] = v;
      });
      (res as ServerResponse).writeHead(answer.status, out);
      if (answer.body) {
        for await (const chunk of answer.body) {
          if (res.destroyed) break;
          (res as ServerResponse).write(chunk);
        }
      }
      res.end();
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError("internal", "internal error");
      status = HTTP_STATUS[e.code] ?? 500;
      message = e.message;
      if (!res.headersSent) {
        const h: Record<string, string> = { "content-type": "application/json", "x-request-id": id, "x-signalbox-trace-id": traceId };
        if (status === 401) h["www-authenticate"] = 'Bearer realm="signalbox"';
        (res as ServerResponse).writeHead(status, h);
        res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: e.message } }));
      } else res.destroy();
    } finally {
      if (span) endHttpSpan(span.span, status, message);
    }
  }

  return (req, res) => {
    const url = req.url ?? "";
    if (url !== "/mcp" && !url.startsWith("/mcp/") && !url.startsWith("/mcp?")) return false;
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const rest = path.slice("/mcp".length).replace(/^\/+|\/+$/g, "");
    if (rest.includes("/")) return false;
    void serve(req, res, rest === "" ? undefined : decodeURIComponent(rest));
    return true;
  };
}
