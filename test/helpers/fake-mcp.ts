// A real MCP server (the official SDK's `createMcpHandler`, streamable HTTP, both protocol
// revisions) on a loopback port, for tests: tools `add`, `echo`, `whoami` (says which credential
// it was sent), `fail` (answers with isError), `boom` (throws), `slow` (waits until canceled or
// `ms`), `secret` (hidden by the gateway's `tools` filter in the tests that set one). It records
// every tools/call it served and the authorization header of every request. It also offers a
// prompt (`summarize`) and a resource (`memo://<name>/readme`).

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { createMcpHandler, Server, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";

export interface FakeMcp {
  url: string;
  calls: { name: string; arguments: Record<string, unknown> }[];
  authorizations: (string | undefined)[];
  /** Answer every request with this HTTP status (a server that is down); undefined: serve. */
  failWith?: number;
  /** A stateful (2025 sessions) server: forget every session, as a restart does. */
  forgetSessions(): void;
  /** Sessions opened so far (stateful). */
  sessionsOpened: number;
  close(): Promise<void>;
}

const num = { type: "number" };
export const FAKE_MCP_TOOLS = [
  { name: "add", description: "Adds two numbers", inputSchema: { type: "object", properties: { a: num, b: num }, required: ["a", "b"] } },
  { name: "echo", description: "Echoes its text", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }, annotations: { readOnlyHint: true } },
  { name: "whoami", description: "Says which credential the server was sent", inputSchema: { type: "object", properties: {} }, annotations: { readOnlyHint: true } },
  { name: "fail", description: "Always fails", inputSchema: { type: "object", properties: {} } },
  { name: "boom", description: "Throws", inputSchema: { type: "object", properties: {} } },
  { name: "slow", description: "Waits", inputSchema: { type: "object", properties: { ms: num } } },
  { name: "secret", description: "Not for everyone", inputSchema: { type: "object", properties: {} } },
];

/**
 * `stateful`: the 2025 protocol only, with sessions (an `mcp-session-id` per initialize, a 404 for
 * one it does not know), as many servers still run; otherwise the SDK's stateless handler.
 */
/** A 1×1 PNG, what the `screenshot` tool returns as its image. */
export const PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/** `screenshot`: one more tool, answering with a text block and an image block (PIXEL_PNG). */
export async function startFakeMcp(name = "fake", opts: { stateful?: boolean; screenshot?: boolean } = {}): Promise<FakeMcp> {
  let auth: string | undefined;
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const fake: FakeMcp = { url: "", calls: [], authorizations: [], close: async () => {}, forgetSessions: () => sessions.clear(), sessionsOpened: 0 };
  const makeServer = () => {
    const s = new Server({ name, version: "1" }, { capabilities: { tools: {}, prompts: {}, resources: {} } });
    // A prompt and a resource, named after the server.
    s.setRequestHandler("prompts/list", async () => ({ prompts: [{ name: "summarize", description: "Summarize a text", arguments: [{ name: "text", required: true }] }] }) as never);
    s.setRequestHandler("prompts/get", async (req) => ({ messages: [{ role: "user", content: { type: "text", text: `Summarize for ${name}: ${String(req.params.arguments?.text ?? "")}` } }] }) as never);
    s.setRequestHandler("resources/list", async () => ({ resources: [{ uri: `memo://${name}/readme`, name: "readme", mimeType: "text/plain" }] }) as never);
    s.setRequestHandler("resources/read", async (req) => {
      if (req.params.uri !== `memo://${name}/readme`) throw new Error(`no resource ${req.params.uri}`);
      return { contents: [{ uri: req.params.uri, mimeType: "text/plain", text: `${name} readme` }] } as never;
    });
    const screenshot = { name: "screenshot", description: "A picture of the page", inputSchema: { type: "object", properties: {} } };
    s.setRequestHandler("tools/list", async () => ({ tools: opts.screenshot ? [...FAKE_MCP_TOOLS, screenshot] : FAKE_MCP_TOOLS }) as never);
    s.setRequestHandler("tools/call", async (req, ctx) => {
      const args = (req.params.arguments ?? {}) as Record<string, unknown>;
      fake.calls.push({ name: req.params.name, arguments: args });
      const text = (t: string, isError = false) => ({ content: [{ type: "text", text: t }], ...(isError ? { isError: true } : {}) }) as never;
      switch (req.params.name) {
        case "add":
          return { content: [{ type: "text", text: String(Number(args.a) + Number(args.b)) }], structuredContent: { sum: Number(args.a) + Number(args.b) } } as never;
        case "echo":
          return text(String(args.text));
        case "whoami":
          return text(auth ?? "nobody");
        case "screenshot":
          return { content: [{ type: "text", text: "the page" }, { type: "image", data: PIXEL_PNG, mimeType: "image/png" }] } as never;
        case "fail":
          return text("the tool failed on purpose", true);
        case "boom":
          throw new Error("boom");
        case "slow":
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Number(args.ms ?? 60_000));
            (ctx as { mcpReq?: { signal?: AbortSignal } })?.mcpReq?.signal?.addEventListener("abort", () => {
              clearTimeout(t);
              resolve();
            });
          });
          return text("slept");
        default:
          return text(`${name}: ${req.params.name}`);
      }
    });
    return s;
  };
  const handler = createMcpHandler(makeServer);
  /** The stateful server: a session's transport, or a new one for an initialize. */
  async function stateful(request: Request): Promise<Response> {
    const sid = request.headers.get("mcp-session-id");
    if (sid) {
      const t = sessions.get(sid);
      if (!t) return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }), { status: 404, headers: { "content-type": "application/json" } });
      return t.handleRequest(request);
    }
    const t: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, t);
        fake.sessionsOpened++;
      },
    });
    await makeServer().connect(t);
    return t.handleRequest(request);
  }
  const server = http.createServer(async (req, res) => {
    fake.authorizations.push(req.headers.authorization);
    if (fake.failWith) {
      res.writeHead(fake.failWith, { "content-type": "text/plain" });
      res.end("down");
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    auth = req.headers.authorization;
    const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: req.method === "POST" ? Buffer.concat(chunks) : undefined });
    const answer = opts.stateful ? await stateful(request) : await handler.fetch(request);
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    if (answer.body) for await (const c of answer.body) res.write(c);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  fake.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await handler.close();
  };
  return fake;
}
