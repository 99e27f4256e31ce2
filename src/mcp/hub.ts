// The MCP servers of `mcp_servers[]`: one client connection per server (the official SDK's
// streamable HTTP client, which speaks the 2026 protocol and falls back to the 2025 one), made
// when first needed and remade when the server's entry changes on a reload. Tools are listed once
// a minute at most per server (callers list them often, servers rarely change them), filtered by
// the entry's `tools`. Every tool call is a usage record (operation "tool_call") and a span; both
// /mcp (http.ts) and the Responses API's `mcp` tool call through here, so a key's tool calls are
// counted, priced and traced the same whichever door they came in by.

// The SDK is loaded when a server is first used: a gateway without MCP servers never loads it (its
// resident memory stays what the benchmark measures).
import type { Client } from "@modelcontextprotocol/client";
import { SpanKind, SpanStatusCode, trace, type Context } from "@opentelemetry/api";
import type { McpServerConfig } from "../config/types.ts";
import { allowListAllows } from "../config/wildcards.ts";
import { GatewayError, type GatewayCode } from "../router/errors.ts";
import type { Caller } from "../router/types.ts";
import { newRequestId } from "../server/context.ts";
import type { Tracing } from "../telemetry/tracing.ts";
import type { UsageRecord, UsageSink } from "../usage/record.ts";
import { log } from "../telemetry/log.ts";
import { isUserBudget, refusal, toolAdmission, toolSettlement, type Admission, type TeamBudgets } from "../limits/admission.ts";
import type { Limiter } from "../limits/types.ts";
import type { Alerter } from "../alerts/alerts.ts";
import { guardTexts, startRun, type GuardrailRun, type GuardrailSet } from "../guardrails/engine.ts";
import type { GuardrailActionRecord, GuardrailStage } from "../guardrails/types.ts";

/** A tool as an MCP server lists it (name, description, JSON schema of its input, annotations). */
export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** A tool's answer as MCP returns it: content blocks, structured content, and whether it is an error. */
export interface McpCallResult {
  content: Record<string, unknown>[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** Who calls a tool and through which door: what the usage record and the span say. */
export interface McpCallContext {
  caller: Caller;
  traceId: string;
  /** The parent span (the request's), when tracing is on. */
  otel?: Context;
  /** The end user, when the request named one. */
  user?: string;
  /** `mcp` (the /mcp endpoint), `responses` (the Responses API's mcp tool) or `messages` (the Messages API's mcp_servers). */
  via: "mcp" | "responses" | "messages";
  signal?: AbortSignal;
  /** The request's tags (a Responses call's), added to the record's. */
  tags?: readonly string[];
}

export interface McpHub {
  /** The configured server by id (the configuration in force). */
  server(id: string): McpServerConfig | undefined;
  /** The servers this caller may use, in the configuration's order. */
  serversFor(caller: Caller): McpServerConfig[];
  /** Whether the caller's key may use the server: its team, and its allow list (`mcp:<id>`, `mcp:*`, or a tool of it, `mcp:<id>/<tool>`) when it has one. */
  mayUse(caller: Caller, server: McpServerConfig): boolean;
  /** Whether the caller's key may call this tool of the server: the whole server allowed, or the tool (`mcp:<id>/<tool>`, `mcp:<id>/get_*`). */
  mayCall(caller: Caller, server: McpServerConfig, tool: string): boolean;
  /** The server's tools this caller may call. */
  toolsFor(caller: Caller, server: McpServerConfig, signal?: AbortSignal): Promise<McpTool[]>;
  /** The server's tools the gateway offers (its entry's `tools` filter applied). Fails with `unavailable` when it cannot be reached. */
  tools(server: McpServerConfig, signal?: AbortSignal): Promise<McpTool[]>;
  /**
   * Call one tool: refused (`not_found`, `invalid_argument`) when the server does not offer it;
   * `unavailable` or `deadline_exceeded` when the server cannot answer. A tool that answers with
   * `isError` is an answer, not a failure. Recorded and traced either way.
   */
  call(server: McpServerConfig, tool: string, args: Record<string, unknown>, ctx: McpCallContext): Promise<McpCallResult>;
  /**
   * A request other than a tool call (prompts, resources) on the server's connection; undefined
   * when the server does not offer the capability. Fails as tools() does.
   */
  request<T>(server: McpServerConfig, capability: "prompts" | "resources", op: (client: Client) => Promise<T>, signal?: AbortSignal): Promise<T | undefined>;
  /** The gateway's own servers in force now (their configuration turns them on). */
  builtins(): BuiltinServer[];
  close(): Promise<void>;
}

const TOOLS_TTL_MS = 60_000;

interface Connection {
  fingerprint: string;
  client?: Promise<Client>;
  tools?: { at: number; list: Promise<McpTool[]> };
}

/** What identifies a server's connection: a change of any of it makes a new one. */
function fingerprint(s: McpServerConfig): string {
  return JSON.stringify([s.url, s.headers, s.command, s.args, s.env]);
}

/** An upstream failure as the gateway's error, without the server's URL or credentials. */
function upstreamError(server: McpServerConfig, err: unknown, signal?: AbortSignal): GatewayError {
  if (err instanceof GatewayError) return err;
  if (signal?.aborted) return new GatewayError("canceled", `MCP server "${server.id}": the call was canceled`);
  const e = err as { name?: string; code?: unknown; message?: string };
  const message = String(e?.message ?? err).slice(0, 300);
  if (e?.name === "TimeoutError" || e?.code === -32001 || /timed? ?out/i.test(message)) {
    return new GatewayError("deadline_exceeded", `MCP server "${server.id}" did not answer within ${server.timeoutMs} ms`);
  }
  if (e?.code === -32602) return new GatewayError("invalid_argument", `MCP server "${server.id}": ${message}`);
  return new GatewayError("unavailable", `MCP server "${server.id}" could not be reached or failed: ${redact(message, server)}`);
}

/** Never echo what the configuration keeps secret (header values, a local server's environment, the URL's path and query, which may carry a token) if a message carries it. */
export function redact(message: string, server: McpServerConfig): string {
  let out = message;
  if (server.url) {
    out = out.split(server.url).join("[url]");
    try {
      const u = new URL(server.url);
      const rest = u.pathname + u.search;
      if (rest.length > 1) out = out.split(rest).join("[url]");
      if (u.search.length > 1) out = out.split(u.search.slice(1)).join("[url]");
    } catch {
      // not a URL: nothing else to take out
    }
  }
  for (const v of Object.values(server.env ?? {})) if (v.length >= 4) out = out.split(v).join("[redacted]");
  for (const v of Object.values(server.headers)) {
    if (v.length >= 4) out = out.split(v).join("[redacted]");
    const bare = v.replace(/^(Bearer|Basic)\s+/i, "");
    if (bare.length >= 4) out = out.split(bare).join("[redacted]");
  }
  return out;
}

export interface McpHubDeps {
  config: () => McpServerConfig[] | undefined;
  usage: () => UsageSink;
  tracing: () => Tracing | undefined;
  /** Rate limits and budgets: a call is one request of the key's, and holds its price on its budgets. */
  limits: () => Limiter;
  teams: TeamBudgets;
  /** The configuration's guardrails (swapped on reload): a server's `guardrails` run on its calls. */
  guardrails: () => GuardrailSet;
  /** Told when a call is refused because a budget is spent (as a model call's refusal is). */
  alerts?: () => Alerter;
  /** Servers of the gateway's own, run in process (vector_stores, web_search): named by their ids as configured ones are, not listed among them. */
  builtins?: BuiltinServer[];
}

/**
 * A server the gateway runs itself (src/mcp/vector-tools.ts, src/mcp/search-tools.ts): its tools,
 * called in process with the caller's identity. A bad argument throws `invalid_argument` (at /mcp a
 * protocol error; run for a model, a tool error it reads).
 */
export interface BuiltinServer {
  config: McpServerConfig;
  enabled(): boolean;
  tools: McpTool[];
  call(tool: string, args: Record<string, unknown>, ctx: McpCallContext): Promise<McpCallResult>;
}

/**
 * A local server: its process, started with the SDK's minimal environment plus the entry's `env`;
 * what it writes to stderr goes to the log (a line at most 500 characters, secrets taken out). The
 * process ends with its connection (hub.close, a reload that changes it, or a failure).
 */
async function stdioTransport(server: McpServerConfig) {
  const { StdioClientTransport, getDefaultEnvironment } = await import("@modelcontextprotocol/client/stdio");
  const t = new StdioClientTransport({ command: server.command!, args: server.args ?? [], env: { ...getDefaultEnvironment(), ...server.env }, stderr: "pipe" });
  let tail = "";
  t.stderr?.on("data", (chunk: Buffer) => {
    const lines = (tail + chunk.toString("utf8")).split("\n");
    tail = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) log("warn", "mcp: a local server wrote to stderr", { server: server.id, line: redact(line.slice(0, 500), server) });
  });
  return t;
}

export function createMcpHub(deps: McpHubDeps): McpHub {
  const connections = new Map<string, Connection>();

  function connection(server: McpServerConfig): Connection {
    const fp = fingerprint(server);
    let c = connections.get(server.id);
    if (!c || c.fingerprint !== fp) {
      if (c) void close(c);
      c = { fingerprint: fp };
      connections.set(server.id, c);
    }
    return c;
  }

  async function close(c: Connection): Promise<void> {
    const client = await c.client?.catch(() => undefined);
    await client?.close().catch(() => undefined);
  }

  function client(server: McpServerConfig, c: Connection): Promise<Client> {
    if (!c.client) {
      const made = (async () => {
        const { Client, StreamableHTTPClientTransport } = await import("@modelcontextprotocol/client");
        const client = new Client({ name: "signalbox", version: "1" }, { versionNegotiation: { mode: "auto" } } as never);
        const transport = server.url ? new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: server.headers } }) : await stdioTransport(server);
        await client.connect(transport, { timeout: server.timeoutMs });
        return client;
      })();
      c.client = made;
      // A failed connection is forgotten, so the next use tries again.
      made.catch(() => {
        if (c.client === made) c.client = undefined;
      });
    }
    return c.client;
  }

  /**
   * Run an operation on the server's client; a broken connection is dropped so the next call
   * reconnects. A session the server no longer knows (a 404, as the 2025 transport answers for an
   * expired session or after a restart) is tried once more on a new connection: nothing ran.
   */
  async function withClient<T>(server: McpServerConfig, signal: AbortSignal | undefined, op: (client: Client) => Promise<T>, retried = false): Promise<T> {
    const c = connection(server);
    const reused = c.client !== undefined;
    const current = client(server, c);
    try {
      return await op(await current);
    } catch (err) {
      const e = err as { code?: unknown; data?: { status?: unknown } };
      // A JSON-RPC error is the server's answer; anything else may be a dead connection.
      if (typeof e?.code !== "number" || e.code === -32001) {
        if (c.client === current) c.client = undefined;
        void current.then((cl) => cl.close()).catch(() => undefined);
        if (reused && !retried && !signal?.aborted && e?.data?.status === 404) return withClient(server, signal, op, true);
      }
      throw upstreamError(server, err, signal);
    }
  }

  async function listAll(server: McpServerConfig): Promise<McpTool[]> {
    return withClient(server, undefined, async (cl) => {
      const out: McpTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await cl.listTools(cursor ? { cursor } : {}, { timeout: server.timeoutMs });
        for (const t of r.tools as McpTool[]) {
          if (!server.tools || server.tools.includes(t.name)) out.push(t);
        }
        cursor = r.nextCursor;
        if (!cursor) break;
      }
      return out;
    });
  }

  const builtins = deps.builtins ?? [];
  /** The gateway's own server of this entry, if it is one. */
  const own = (server: McpServerConfig) => builtins.find((b) => b.config === server);

  const hub: McpHub = {
    server: (id) => deps.config()?.find((s) => s.id === id) ?? builtins.find((b) => b.config.id === id && b.enabled())?.config,
    builtins: () => builtins.filter((b) => b.enabled()),
    serversFor: (caller) => (deps.config() ?? []).filter((s) => hub.mayUse(caller, s)),
    mayUse(caller, server) {
      // The gateway's own servers: every key, each with what it may do there (the stores it may see, its own limits and budgets).
      if (caller.role === "admin" || caller.role === "anonymous" || own(server)) return true;
      if (server.teams && !server.teams.includes(caller.team)) return false;
      return caller.allow.length === 0 || allowListAllows(caller.allow, `mcp:${server.id}`) || caller.allow.some((a) => a.startsWith(`mcp:${server.id}/`));
    },
    mayCall(caller, server, tool) {
      if (!hub.mayUse(caller, server)) return false;
      if (caller.role === "admin" || caller.role === "anonymous" || own(server) || caller.allow.length === 0 || allowListAllows(caller.allow, `mcp:${server.id}`)) return true;
      const prefix = `mcp:${server.id}/`;
      const entries = caller.allow.filter((a) => a.startsWith(prefix));
      return entries.length > 0 && allowListAllows(entries, `${prefix}${tool}`);
    },
    async toolsFor(caller, server, signal) {
      return (await hub.tools(server, signal)).filter((t) => hub.mayCall(caller, server, t.name));
    },
    async tools(server) {
      const b = own(server);
      if (b) return b.tools;
      const c = connection(server);
      const now = Date.now();
      if (!c.tools || now - c.tools.at > TOOLS_TTL_MS) {
        const list = listAll(server);
        c.tools = { at: now, list };
        list.catch(() => {
          if (c.tools?.list === list) c.tools = undefined;
        });
      }
      return c.tools.list;
    },
    async call(server, tool, args, ctx) {
      const started = performance.now();
      const tracing = deps.tracing();
      const span = tracing && ctx.otel
        ? tracing.tracer.startSpan(
            `execute_tool ${tool}`,
            {
              kind: SpanKind.CLIENT,
              attributes: {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.type": "extension",
                "mcp.server": server.id,
                "mcp.method.name": "tools/call",
                "signalbox.via": ctx.via,
              },
            },
            ctx.otel,
          )
        : undefined;
      let status: GatewayCode | "ok" = "ok";
      let result: McpCallResult | undefined;
      let refused: "rate_limit" | "budget" | undefined;
      let admission: Admission | undefined;
      let guard: GuardrailRun | undefined;
      const id = newRequestId();
      const price = server.pricePerCallNanos ?? 0;
      try {
        // A tool the server does not offer and one the key may not call are the same to the caller.
        const offered = await hub.tools(server);
        if (!offered.some((t) => t.name === tool) || !hub.mayCall(ctx.caller, server, tool)) {
          throw new GatewayError("not_found", `tool "${tool}" is not offered by MCP server "${server.id}"`, { field: "name" });
        }
        const a = toolAdmission(deps.teams, ctx.caller, ctx.user, id, price, server.timeoutMs, Date.now());
        if (a) {
          const r = await deps.limits().admit(a.request);
          if (!r.ok) {
            refused = r.kind === "rate" ? "rate_limit" : "budget";
            if (r.kind === "budget") {
              const b = r.check;
              if (!isUserBudget(b.id)) deps.alerts?.().emit({ event: "budget_exhausted", budget: b.id, period: b.period, periodStart: b.periodStart ?? a.request.now, spentNanos: r.spentNanos, limitNanos: b.limitNanos, key: ctx.caller.keyName, team: ctx.caller.team, model: `mcp:${server.id}/${tool}` });
            }
            throw refusal(r);
          }
          admission = a;
        }
        // The server's guardrails: the input stage on the arguments before the call, the output
        // stage on the result before anyone sees it (a block is an error; redactions replace the text).
        const selection = server.guardrails?.length ? deps.guardrails().named(server.guardrails) : undefined;
        guard = selection && startRun(selection);
        const sent = guard && !selection!.input.empty ? await guardJson(guard, "input", args, ctx.signal) : args;
        const builtin = own(server);
        result = builtin
          ? await builtin.call(tool, sent, ctx).catch((err: unknown) => {
              // A bad argument is the model's to fix: a tool error it reads, as a server's would be.
              if (err instanceof GatewayError && (err.code === "invalid_argument" || err.code === "not_found")) return { content: [{ type: "text", text: err.message }], isError: true } as McpCallResult;
              throw err;
            })
          : await withClient(server, ctx.signal, async (cl) => (await cl.callTool({ name: tool, arguments: sent }, { timeout: server.timeoutMs, signal: ctx.signal })) as McpCallResult);
        if (guard && !selection!.output.empty) result = await guardResult(guard, result, ctx.signal);
        return result;
      } catch (err) {
        const e = err instanceof GatewayError ? err : upstreamError(server, err, ctx.signal);
        status = e.code;
        span?.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
        throw e;
      } finally {
        const latencyMs = performance.now() - started;
        if (admission) deps.limits().settle(toolSettlement(admission, status === "ok" ? price : 0, Date.now()));
        if (span) {
          if (result?.isError) span.setAttribute("error.type", "tool_error");
          span.end();
        }
        guard?.trace(span ? trace.setSpan(ctx.otel!, span) : undefined);
        record(id, server, tool, ctx, status, latencyMs, result?.isError === true, refused, guard?.actions());
      }
    },
    request(server, capability, op, signal) {
      if (own(server)) return Promise.resolve(undefined);
      return withClient(server, signal, async (cl) => (cl.getServerCapabilities()?.[capability] ? op(cl) : undefined));
    },
    async close() {
      const all = [...connections.values()];
      connections.clear();
      await Promise.all(all.map(close));
    },
  };

  function record(id: string, server: McpServerConfig, tool: string, ctx: McpCallContext, status: GatewayCode | "ok", latencyMs: number, toolError: boolean, refused: "rate_limit" | "budget" | undefined, guardrails: GuardrailActionRecord[] | undefined): void {
    const price = status === "ok" ? (server.pricePerCallNanos ?? 0) : 0;
    const r: UsageRecord = {
      id,
      time: Date.now(),
      operation: "tool_call",
      key: ctx.caller.keyName,
      team: ctx.caller.team,
      user: ctx.user ?? "",
      model: tool,
      routing: { route: `mcp:${server.id}`, alias: "", strategy: "", variant: "" },
      deployment: server.id,
      provider: "mcp",
      attempts: [],
      usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      usageEstimated: false,
      cost: { total: price, input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0, ...(price ? { request: price } : {}) },
      latencyMs,
      overheadUs: 0,
      cacheHit: false,
      status,
      ...(refused ? { refusal: refused } : {}),
      traceId: ctx.traceId,
      tags: ["mcp", ...(toolError ? ["mcp:tool_error"] : []), ...(ctx.tags ?? [])],
      metadata: { via: ctx.via },
      streamed: false,
      ...(guardrails?.length ? { guardrails } : {}),
    };
    try {
      deps.usage().record(r);
    } catch (err) {
      log("error", "mcp: could not record a tool call", { server: server.id, tool, error: String(err) });
    }
  }

  return hub;
}

/** The string values of a JSON value, in a fixed order, and the value rebuilt with new ones. */
function strings(v: unknown, out: string[]): void {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === "object") for (const x of Object.values(v)) strings(x, out);
}
function rebuild(v: unknown, next: () => string): unknown {
  if (typeof v === "string") return next();
  if (Array.isArray(v)) return v.map((x) => rebuild(x, next));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rebuild(x, next)]));
  return v;
}

/** A stage over a JSON value's strings (a call's arguments, a result's structured content): its JSON stays JSON. */
async function guardJson<T>(run: GuardrailRun, stage: GuardrailStage, v: T, signal?: AbortSignal): Promise<T> {
  const found: string[] = [];
  strings(v, found);
  if (found.length === 0) return v;
  const scanned = await guardTexts(run, stage, found, signal ?? new AbortController().signal);
  let i = 0;
  return rebuild(v, () => scanned[i++]) as T;
}

/** The output stage over a result: its text blocks and its structured content. */
async function guardResult(run: GuardrailRun, r: McpCallResult, signal?: AbortSignal): Promise<McpCallResult> {
  const content = await guardJson(run, "output", r.content.map((c) => (c.type === "text" ? { ...c, text: String(c.text ?? "") } : c)), signal);
  return { ...r, content, ...(r.structuredContent ? { structuredContent: await guardJson(run, "output", r.structuredContent, signal) } : {}) };
}
