// The Responses API's `mcp` tool, as a request gives it: which MCP server (by `server_label`, a
// server of this gateway's `mcp_servers[]`), which of its tools, and which calls wait for the
// caller's approval. The gateway runs the calls itself (mcp-loop.ts) with the server's own
// credential from the configuration, so a request's `headers`, `authorization` and
// `connector_id` are refused rather than ignored.

import { bad, bool, isObj, str, type Json } from "../request.ts";
import type { McpTool } from "../../mcp/hub.ts";
import type { OfferSpec } from "../../mcp/offer.ts";

export interface McpToolSpec extends OfferSpec {
  url?: string;
  /** Whether a call of this tool waits for an mcp_approval_response. */
  needsApproval(tool: McpTool): boolean;
}

function names(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.some((n) => typeof n !== "string" || !n)) bad(path, "must be an array of tool names");
  return v as string[];
}

/**
 * OpenAI's tool filter: a list of names, or `{tool_names, read_only}` (a tool matches when its name
 * is listed, if names are, and its readOnlyHint annotation is `read_only`, if that is given).
 */
function filter(v: unknown, path: string): ((t: McpTool) => boolean) | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) {
    const list = names(v, path);
    return (t) => list.includes(t.name);
  }
  if (!isObj(v)) bad(path, "must be an array of tool names or {tool_names: [...], read_only: ...}");
  const list = v.tool_names === undefined || v.tool_names === null ? undefined : names(v.tool_names, `${path}.tool_names`);
  const readOnly = bool(v, "read_only", `${path}.read_only`);
  return (t) => (!list || list.includes(t.name)) && (readOnly === undefined || (t.annotations?.readOnlyHint === true) === readOnly);
}

/** One `{type: "mcp", ...}` tool: its spec, and what the response echoes of it. */
export function parseMcpTool(t: Json, path: string): { spec: McpToolSpec; echo: Json } {
  for (const k of ["headers", "authorization"] as const) {
    if (t[k] !== undefined && t[k] !== null) bad(`${path}.${k}`, "the gateway calls MCP servers with their own credentials from its configuration (mcp_servers[].headers); leave it out");
  }
  if (t.connector_id !== undefined && t.connector_id !== null) bad(`${path}.connector_id`, "OpenAI's connectors are not supported by the gateway; name one of its MCP servers by server_label");
  const label = str(t, "server_label", `${path}.server_label`) ?? bad(`${path}.server_label`, "is required");
  const url = str(t, "server_url", `${path}.server_url`);
  const allows = filter(t.allowed_tools, `${path}.allowed_tools`);
  const ra = t.require_approval;
  let needsApproval: (tool: McpTool) => boolean;
  if (ra === undefined || ra === null || ra === "always") needsApproval = () => true;
  else if (ra === "never") needsApproval = () => false;
  else if (isObj(ra)) {
    const always = ra.always === undefined || ra.always === null ? undefined : (filter(ra.always, `${path}.require_approval.always`) ?? (() => true));
    const never = ra.never === undefined || ra.never === null ? undefined : (filter(ra.never, `${path}.require_approval.never`) ?? (() => true));
    // Matched by `never`: no approval; matched by `always`, or by neither: approval (OpenAI's default).
    needsApproval = (tool) => always?.(tool) === true || !never?.(tool);
  } else bad(`${path}.require_approval`, 'must be "always", "never" or {always: {tool_names}, never: {tool_names}}');
  const echo: Json = {
    type: "mcp",
    server_label: label,
    ...(url !== undefined ? { server_url: url } : {}),
    ...(t.server_description !== undefined ? { server_description: t.server_description } : {}),
    allowed_tools: t.allowed_tools ?? null,
    headers: null,
    require_approval: ra ?? "always",
  };
  return { spec: { path, label, ...(url !== undefined ? { url } : {}), ...(allows ? { allows } : {}), needsApproval }, echo };
}
