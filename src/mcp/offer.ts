// What the doors that run MCP tools for a model share (the Responses API's `mcp` tool, the Messages
// API's `mcp_servers`): the servers' tools offered to the model as functions, and a call's result
// as the text the model reads next.

import type { McpServerConfig } from "../config/types.ts";
import type { ToolDef } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import type { McpCallContext, McpCallResult, McpHub, McpTool } from "./hub.ts";
import { createHash } from "node:crypto";

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Model turns one response (or message) that runs MCP tools makes at most. */
export const MAX_TURNS = 16;

/** The function name the model sees for an MCP tool: `<label>__<tool>`, shortened with a hash when it would not fit 64 characters. */
export function mcpFunctionName(label: string, tool: string): string {
  const name = `${label}__${tool}`;
  if (TOOL_NAME.test(name)) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${label.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 20)}__${tool.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 31)}_${hash}`;
}

/** A server of the configuration by id that this caller may use (a door names it in its own error otherwise). */
export function usableServer(hub: McpHub, caller: Caller, id: string): McpServerConfig | undefined {
  const s = hub.server(id);
  return s && hub.mayUse(caller, s) ? s : undefined;
}

/** One server as a request names it: its label, where in the request (for errors), and which tools. */
export interface OfferSpec {
  label: string;
  /** The request's field that names it (`tools[2]`, `mcp_servers.0`). */
  path: string;
  allowed?: readonly string[];
  /** Whether a tool is offered, when the request decides it tool by tool or by its annotations (absent: all that `allowed` lets through). */
  allows?: (tool: McpTool) => boolean;
}

/** A function the model was offered: whose tool it is. */
export interface Offered<S extends OfferSpec> {
  spec: S;
  server: McpServerConfig;
  tool: string;
  /** The tool as the server lists it (its annotations: readOnlyHint). */
  def: McpTool;
}

/**
 * The servers' tools the caller may call (filtered by each spec's `allowed`) as functions for the model, by function
 * name. A server that cannot list its tools fails the request (`unavailable`, naming its field);
 * a function name the request already uses for a tool of its own is a 400.
 */
export async function offerTools<S extends OfferSpec>(
  hub: McpHub,
  caller: Caller,
  specs: readonly S[],
  servers: readonly McpServerConfig[],
  own: ReadonlySet<string>,
  signal: AbortSignal | undefined,
  labelField: string,
): Promise<{ exposed: Map<string, Offered<S>>; defs: ToolDef[]; offered: McpTool[][] }> {
  const lists = await Promise.all(
    servers.map((s, i) =>
      hub.toolsFor(caller, s, signal).catch((err) => {
        throw new GatewayError("unavailable", `${specs[i].path}: could not list the tools of MCP server "${s.id}": ${(err as Error).message}`, { field: `${specs[i].path}.${labelField}` });
      }),
    ),
  );
  const exposed = new Map<string, Offered<S>>();
  const defs: ToolDef[] = [];
  const offered = lists.map((tools, i) => {
    const spec = specs[i];
    const list = tools.filter((t) => (!spec.allowed || spec.allowed.includes(t.name)) && (!spec.allows || spec.allows(t)));
    for (const t of list) {
      const name = mcpFunctionName(spec.label, t.name);
      if (own.has(name)) throw new GatewayError("invalid_argument", `${spec.path}.${labelField}: its tool "${t.name}" would be offered to the model as "${name}", the name of a tool of the request`, { field: `${spec.path}.${labelField}` });
      exposed.set(name, { spec, server: servers[i], tool: t.name, def: t });
      defs.push({ name, ...(t.description ? { description: t.description } : {}), parameters: (t.inputSchema ?? { type: "object", properties: {} }) as ToolDef["parameters"] & object });
    }
    return list;
  });
  return { exposed, defs, offered };
}

/** A call's result as text: its text content, else its structured content. */
export function outputText(r: McpCallResult): string {
  const text = r.content
    .map((c) => (c.type === "text" ? String(c.text ?? "") : c.type === "resource" && c.resource && typeof (c.resource as { text?: unknown }).text === "string" ? (c.resource as { text: string }).text : ""))
    .filter(Boolean)
    .join("\n");
  if (text) return text;
  if (r.structuredContent) return JSON.stringify(r.structuredContent);
  return JSON.stringify(r.content);
}

/**
 * Run one call the model made (its arguments as JSON text): the result's text, or the error the
 * model is told (the tool's own error, the server's failure, a guardrail's block, a limit).
 */
/** Image types every provider takes in a tool's result. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** A result's images (a screenshot tool's), as data: URLs, for the model to see. */
export function outputImages(r: McpCallResult): string[] {
  return r.content.filter((c) => c.type === "image" && typeof c.data === "string" && IMAGE_TYPES.has(String(c.mimeType))).map((c) => `data:${String(c.mimeType)};base64,${String(c.data)}`);
}

export async function runTool(hub: McpHub, x: { server: McpServerConfig; tool: string }, args: string, ctx: McpCallContext): Promise<{ output?: string; error?: string; images?: string[] }> {
  let parsed: unknown;
  try {
    parsed = args.trim() === "" ? {} : JSON.parse(args);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { error: "the model's arguments are not a JSON object" };
  try {
    const r = await hub.call(x.server, x.tool, parsed as Record<string, unknown>, ctx);
    if (r.isError) return { error: outputText(r) };
    const images = outputImages(r);
    return { output: images.length && r.content.every((c) => c.type === "image") ? "" : outputText(r), ...(images.length ? { images } : {}) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
