// `signalbox mcp servers [--tools]`: the MCP servers this key may use, from RouteService's
// ListMcpServers (the typed API: configuration without URLs or credentials, and each server's tools
// or why they could not be listed). `signalbox mcp tools [server]` and `signalbox mcp call <tool>`:
// the gateway's MCP gateway (streamable HTTP, stateless) as the official MCP client sees it. POST /mcp offers every tool of
// every MCP server the key may use, named `<server>__<tool>`; POST /mcp/{server} one server's tools
// under their own names. The key goes as `Authorization: Bearer <key>`, as for every other call.

import { isDeepStrictEqual } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { Client, ProtocolError, SdkError, SdkErrorCode, SdkHttpError, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type Command, InvalidArgumentError } from "commander";
import { ListMcpServersResponseSchema, type McpServer, type McpTool as PbMcpTool } from "@signalbox/client";
import { CliError, checkedUrl, EXIT, type Globals, globals, hintFor, modeOf, setup } from "../context.ts";
import { count, dollars, listOf, ms } from "../format.ts";
import { type Column, csv, json, note, out, section, table, waiting } from "../output.ts";
import { parseDuration } from "../parse.ts";
import { codeOfStatus } from "../rest.ts";

declare const SIGNALBOX_CLI_VERSION: string | undefined;
const VERSION = typeof SIGNALBOX_CLI_VERSION === "string" ? SIGNALBOX_CLI_VERSION : "dev";

/** How much of a description the table shows. */
const DESCRIPTION_CLIP = 80;
/** The MCP client's own default for one request. */
const DEFAULT_TIMEOUT_MS = 60_000;

// ── what the gateway answers ───────────────────────────────────────────────────────────────────

export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: { type?: string; properties?: Record<string, unknown>; required?: string[] };
  [k: string]: unknown;
}

interface ContentBlock {
  type: string;
  text?: string;
  mimeType?: string;
  data?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; text?: string; mimeType?: string; blob?: string };
}

export interface McpToolResult {
  content?: ContentBlock[];
  structuredContent?: unknown;
  isError?: boolean;
  [k: string]: unknown;
}

// ── how they read ──────────────────────────────────────────────────────────────────────────────

/** The path: /mcp (every server, tools named server__tool) or /mcp/{server}. */
export const mcpPath = (server?: string) => (server ? `/mcp/${encodeURIComponent(server)}` : "/mcp");

/** A description's first line, clipped to `max` characters. */
export function shortDescription(d: string | undefined, max = DESCRIPTION_CLIP): string {
  const line = (d ?? "").trim().split(/\r?\n/)[0].trim();
  const chars = [...line];
  return chars.length <= max ? line : `${chars.slice(0, max - 1).join("").trimEnd()}…`;
}

/** A tool's arguments from its input schema: "a, b" (required), "ms?" (optional). */
export function argumentsOf(t: McpTool): string {
  const required = new Set(t.inputSchema?.required ?? []);
  return Object.keys(t.inputSchema?.properties ?? {})
    .map((k) => (required.has(k) ? k : `${k}?`))
    .join(", ");
}

const TOOL_COLUMNS: Column<McpTool>[] = [
  { header: "Name", show: (t) => t.name },
  { header: "Arguments", show: argumentsOf },
  { header: "Description", show: (t) => shortDescription(t.description), raw: (t) => t.description ?? "" },
];

const SERVER_COLUMNS: Column<McpServer>[] = [
  { header: "Id", show: (s) => s.id },
  { header: "Host", show: (s) => (s.transport === "stdio" ? "local (stdio)" : s.urlHost) },
  { header: "Teams", show: (s) => listOf(s.teams, "all"), raw: (s) => s.teams.join(" ") },
  { header: "Tools filter", csv: "allowed_tools", show: (s) => listOf(s.allowedTools, "all"), raw: (s) => s.allowedTools.join(" ") },
  { header: "Price/call", csv: "price_per_call_usd", show: (s) => dollars(s.pricePerCallNanoUsd), raw: (s) => usdRaw(s.pricePerCallNanoUsd), right: true },
  { header: "Timeout", csv: "timeout_ms", show: (s) => ms(s.timeoutMs), raw: (s) => s.timeoutMs, right: true },
  { header: "Description", show: (s) => shortDescription(s.description, 60), raw: (s) => s.description },
];

/** Dollars without the sign, for CSV. */
const usdRaw = (nano: bigint) => dollars(nano).slice(1);

/** A tool of ListMcpServers as `mcp tools` shows one (its input schema is the same JSON). */
const asTool = (t: PbMcpTool): McpTool => ({ name: t.name, description: t.description, inputSchema: t.inputSchema as McpTool["inputSchema"] });

/** One content block as text: its text, or what it is ([image image/png, 1,234 bytes]). */
function blockText(b: ContentBlock): string {
  switch (b.type) {
    case "text":
      return b.text ?? "";
    case "image":
    case "audio":
      return `[${b.type}${b.mimeType ? ` ${b.mimeType}` : ""}${b.data ? `, ${count(Math.floor((b.data.length * 3) / 4))} bytes` : ""}]`;
    case "resource_link":
      return `[resource ${b.uri ?? ""}${b.name ? ` (${b.name})` : ""}]`;
    case "resource":
      return typeof b.resource?.text === "string" ? b.resource.text : `[resource ${b.resource?.uri ?? ""}]`;
    default:
      return `[${b.type}]`;
  }
}

const lines = (text: string) => (text === "" || text.endsWith("\n") ? text : `${text}\n`);

/** A result's content as text, one block after another. */
export const contentText = (r: McpToolResult) => (r.content ?? []).map((b) => lines(blockText(b))).join("");

/**
 * What `mcp call` prints: the content's text, then structuredContent as JSON, unless a text
 * block already is that JSON (tools are told to send both).
 */
export function resultText(r: McpToolResult): string {
  let text = contentText(r);
  if (r.structuredContent !== undefined && r.structuredContent !== null) {
    const echoed = (r.content ?? []).some((b) => b.type === "text" && typeof b.text === "string" && sameJson(b.text, r.structuredContent));
    if (!echoed) text += `${JSON.stringify(r.structuredContent, null, 2)}\n`;
  }
  return text;
}

function sameJson(text: string, value: unknown): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(text), value);
  } catch {
    return false;
  }
}

// ── the flags ──────────────────────────────────────────────────────────────────────────────────

/** `--args '{"a": 2}'`: a JSON object. */
export function parseArgsJson(s: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (err) {
    throw new InvalidArgumentError(`--args is not JSON (${err instanceof Error ? err.message : String(err)}): pass a JSON object, e.g. --args '{"a": 2, "b": 3}'`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new InvalidArgumentError(`--args must be a JSON object (the tool's arguments by name), e.g. --args '{"a": 2, "b": 3}'`);
  return v as Record<string, unknown>;
}

/** `--arg key=value` (repeatable): the value as JSON when it parses ("2", "true", "[1]"), else as a string. */
export function parseArg(s: string, prev: [string, unknown][] = []): [string, unknown][] {
  const i = s.indexOf("=");
  const key = i > 0 ? s.slice(0, i).trim() : "";
  if (!key) throw new InvalidArgumentError(`"${s}" is not an argument: use --arg <name>=<value>, e.g. --arg a=2 --arg text=hello`);
  const raw = s.slice(i + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return [...prev, [key, value]];
}

// ── calls ──────────────────────────────────────────────────────────────────────────────────────

/** A connected MCP client at /mcp or /mcp/{server}, with the key as a bearer token. */
async function connect(g: Globals, server: string | undefined): Promise<Client> {
  const url = new URL(checkedUrl(g) + mcpPath(server));
  const headers: Record<string, string> = g.apiKey ? { authorization: `Bearer ${g.apiKey}` } : {};
  const client = new Client({ name: "signalbox-cli", version: VERSION }, { versionNegotiation: { mode: "auto" } } as never);
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  return client;
}

/** Run `work` on a connected client, closing it after; the MCP SDK's errors in the CLI's words. */
async function withClient<T>(g: Globals, server: string | undefined, label: string, work: (c: Client) => Promise<T>): Promise<T> {
  return waiting(label, async () => {
    let client: Client | undefined;
    try {
      client = await connect(g, server);
      return await work(client);
    } catch (err) {
      throw mcpError(err, g, server);
    } finally {
      await client?.close().catch(() => {});
    }
  });
}

/** Every tool (following nextCursor pages). */
async function allTools(c: Client): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await c.listTools(cursor ? { cursor } : undefined);
    tools.push(...(page.tools as McpTool[]));
    cursor = page.nextCursor;
    if (!cursor || !page.tools.length) return tools;
  }
}

const NETWORK = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|socket hang up|fetch failed/;

/** The message of an HTTP error body: a JSON-RPC error's, an OpenAI error's, or the text. */
function bodyMessage(text: string): { message: string; jsonRpc: boolean } {
  try {
    const b = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof b?.error?.message === "string") return { message: b.error.message, jsonRpc: "jsonrpc" in (b as object) };
  } catch {
    // not JSON
  }
  return { message: text.trim().slice(0, 200), jsonRpc: false };
}

/** An error from the MCP client as the CLI says it: `error: <message> (<code>)` and a hint. */
export function mcpError(err: unknown, g: Globals, server: string | undefined): unknown {
  if (err instanceof CliError) return err;
  const listing = `\`signalbox mcp tools${server ? ` ${server}` : ""}\` lists the tools this key may use`;
  if (err instanceof SdkHttpError) {
    const { status, statusText } = err.data;
    const codeName = codeOfStatus(status);
    const { message, jsonRpc } = bodyMessage(typeof err.data.text === "string" ? err.data.text : "");
    const said = message || `HTTP ${status}${statusText ? ` ${statusText}` : ""}`;
    let hint: string | undefined;
    if (status === 404 && server && jsonRpc) hint = "check the server id: `signalbox mcp tools` lists every tool this key may use, named <server>__<tool>";
    else if ((status === 404 || status === 405) && !jsonRpc) hint = `the gateway at ${g.url} does not serve ${mcpPath(server)}: it has no mcp_servers configured, or is an older version`;
    else hint = hintFor({ codeName, rawMessage: said }, g);
    return new CliError(`${said} (${codeName})`, hint, EXIT.failed);
  }
  if (err instanceof ProtocolError) {
    // A JSON-RPC error: an unknown tool, bad arguments, the gateway's own failure.
    const unknownTool = /unknown tool/i.test(err.message);
    const hint = unknownTool ? (server ? listing : `${listing}; at /mcp tools are named <server>__<tool> (or pass --server <id> and the tool's own name)`) : err.code === -32602 ? `${listing}, with their arguments` : undefined;
    return new CliError(`${err.message} (${err.code === -32602 ? "invalid_argument" : `MCP error ${err.code}`})`, hint, EXIT.failed);
  }
  if (err instanceof Error) {
    // Why a request never got an answer is in its causes: "fetch failed", then "connect ECONNREFUSED …".
    const causes: string[] = [];
    for (let c: unknown = err.cause ?? (err instanceof SdkError ? (err.data as { cause?: unknown } | undefined)?.cause : undefined); c instanceof Error && causes.length < 3; c = c.cause) {
      if (!err.message.includes(c.message)) causes.push(c.message);
    }
    const raw = [err.message, ...causes].join(": ");
    if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) {
      return new CliError(`${raw} (deadline_exceeded)`, "the tool did not answer in time: try again, or give it longer with --timeout", EXIT.failed);
    }
    if (NETWORK.test(raw)) return new CliError(`${raw} (unavailable)`, hintFor({ codeName: "unavailable", rawMessage: raw }, g), EXIT.failed);
    return new CliError(raw, undefined, EXIT.failed);
  }
  return err;
}

// ── the commands ───────────────────────────────────────────────────────────────────────────────

export function mcpCommands(program: Command): void {
  const mcp = program
    .command("mcp")
    .description("the gateway's MCP servers: the servers this key may use (mcp servers), their tools (mcp tools), and calling one (mcp call)")
    .addHelpText(
      "after",
      [
        "",
        "The gateway serves MCP (streamable HTTP) at /mcp, every tool of every MCP server the key may",
        "use, named <server>__<tool>, and at /mcp/<server>, one server's tools under their own names.",
        "",
        "Examples:",
        "  signalbox mcp servers --tools",
        "  signalbox mcp tools",
        "  signalbox mcp tools math --json | jq -r '.[].name'",
        "  signalbox mcp call math__add --args '{\"a\": 2, \"b\": 3}'",
        "  signalbox mcp call add --server math --arg a=2 --arg b=3",
      ].join("\n"),
    );

  mcp
    .command("servers")
    .description("list the MCP servers this key may use: id, host, teams, tools filter, price per call, timeout")
    .option("--tools", "also list each server's tools (asking each server), or why they could not be listed")
    .addHelpText(
      "after",
      [
        "",
        "From RouteService.ListMcpServers: only the host of a server's URL is shown, never its path,",
        "query or headers (the gateway's credentials). --json prints the answer as the API gives it",
        "(with --tools, each server's tools with their input schemas, and error when listing failed);",
        "--csv prints the servers table.",
        "",
        "Examples:",
        "  signalbox mcp servers",
        "  signalbox mcp servers --tools",
        "  signalbox mcp servers --json | jq -r '.servers[].id'",
      ].join("\n"),
    )
    .action(async (o: { tools?: boolean }, cmd: Command) => {
      const { mode, sb } = setup(cmd, { csv: true });
      const res = await waiting(o.tools ? "listing the MCP servers and their tools" : "listing the MCP servers", () => sb.route.listMcpServers({ includeTools: !!o.tools }));
      if (mode === "json") return json(toJson(ListMcpServersResponseSchema, res));
      if (mode === "csv") return out(csv(SERVER_COLUMNS, res.servers));
      if (!res.servers.length) {
        note("no MCP servers: this key may use none, or the gateway has no mcp_servers configured");
        return;
      }
      let text = table(SERVER_COLUMNS, res.servers);
      if (o.tools) {
        for (const s of res.servers) {
          text += `\n${section(`TOOLS OF ${s.id}`)}`;
          if (s.error) text += `error: ${s.error}\n`;
          else text += s.tools.length ? table(TOOL_COLUMNS, s.tools.map(asTool)) : "none\n";
        }
      }
      await out(text);
      const failed = o.tools ? res.servers.filter((s) => s.error) : [];
      if (failed.length) note(`${failed.length === 1 ? `the tools of ${failed[0].id} could not be listed` : `the tools of ${failed.length} servers could not be listed`}: see above`);
    });

  mcp
    .command("tools")
    .description("list the tools this key may use: name, arguments (? = optional), description (shortened)")
    .argument("[server]", "one MCP server's id: its tools under their own names (from /mcp/<server>); else every server's, named <server>__<tool> (from /mcp)")
    .addHelpText(
      "after",
      [
        "",
        "--json prints the tools as the gateway lists them (name, description, inputSchema, …), every",
        "page; --csv prints the table with whole descriptions.",
        "",
        "Examples:",
        "  signalbox mcp tools",
        "  signalbox mcp tools math",
        "  signalbox mcp tools --json | jq '.[] | {name, inputSchema}'",
      ].join("\n"),
    )
    .action(async (server: string | undefined, _o: object, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: true });
      const tools = await withClient(g, server, "listing the tools", allTools);
      if (mode === "json") return json(tools);
      if (mode === "csv") return out(csv(TOOL_COLUMNS, tools));
      if (!tools.length) {
        note(server ? `MCP server ${server} offers no tools to this key` : "no tools: this key may use no MCP server, or the servers it may use are down");
        return;
      }
      await out(table(TOOL_COLUMNS, tools));
    });

  mcp
    .command("call")
    .description("call a tool: print its text content (and structuredContent as JSON); a tool error goes to stderr and exits 1")
    .argument("<tool>", "the tool's name as `signalbox mcp tools` lists it: <server>__<tool>, or the bare name with --server")
    .option("--args <json>", "the arguments as a JSON object", parseArgsJson)
    .option("--arg <name=value>", "one argument (repeatable; overrides --args): the value as JSON when it parses (2, true, [1]), else as a string", parseArg)
    .option("--server <id>", "call on /mcp/<id>, with the tool's own name")
    .option("--timeout <duration>", `how long to wait for the answer (default ${DEFAULT_TIMEOUT_MS / 1000}s)`, parseDuration)
    .addHelpText(
      "after",
      [
        "",
        "Prints the result's text content, then structuredContent as JSON when present (and not",
        "already sent as text). A tool error (isError) prints its text on stderr and exits 1. --json",
        "prints the whole result (still exiting 1 on a tool error).",
        "",
        "Examples:",
        "  signalbox mcp call math__add --args '{\"a\": 2, \"b\": 3}'",
        "  signalbox mcp call echo --server docs --arg text='hello world'",
        "  signalbox mcp call math__add --arg a=2 --arg b=3 --json | jq .structuredContent",
      ].join("\n"),
    )
    .action(async (tool: string, o: { args?: Record<string, unknown>; arg?: [string, unknown][]; server?: string; timeout?: number }, cmd: Command) => {
      const g = globals(cmd);
      const mode = modeOf(g, { csv: false });
      const args: Record<string, unknown> = { ...(o.args ?? {}), ...Object.fromEntries(o.arg ?? []) };
      const timeout = o.timeout ?? DEFAULT_TIMEOUT_MS;
      const r = (await withClient(g, o.server, `calling ${tool}`, (c) => c.callTool({ name: tool, arguments: args }, { timeout, maxTotalTimeout: timeout }))) as McpToolResult;
      if (mode === "json") {
        await json(r);
        if (r.isError) throw new CliError("", undefined, EXIT.failed);
        return;
      }
      if (r.isError) {
        note(contentText(r) || `the tool ${tool} failed (isError) and said nothing`);
        throw new CliError("", undefined, EXIT.failed);
      }
      await out(resultText(r));
    });
}
