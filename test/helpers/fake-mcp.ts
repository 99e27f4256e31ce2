// A real MCP server (the official SDK's `createMcpHandler`, streamable HTTP, both protocol
// revisions) on a loopback port, for tests: tools `add`, `echo`, `whoami` (says which credential
// it was sent), `fail` (answers with isError), `boom` (throws), `slow` (waits until canceled or
// `ms`), `secret` (hidden by the gateway's `tools` filter in the tests that set one). It records
// every tools/call it served and the authorization header of every request.

import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createMcpHandler, Server } from "@modelcontextprotocol/server";

export interface FakeMcp {
  url: string;
  calls: { name: string; arguments: Record<string, unknown> }[];
  authorizations: (string | undefined)[];
  /** Answer every request with this HTTP status (a server that is down); undefined: serve. */
  failWith?: number;
  close(): Promise<void>;
}

const num = { type: "number" };
export const FAKE_MCP_TOOLS = [
  { name: "add", description: "Adds two numbers", inputSchema: { type: "object", properties: { a: num, b: num }, required: ["a", "b"] } },
  { name: "echo", description: "Echoes its text", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
  { name: "whoami", description: "Says which credential the server was sent", inputSchema: { type: "object", properties: {} } },
  { name: "fail", description: "Always fails", inputSchema: { type: "object", properties: {} } },
  { name: "boom", description: "Throws", inputSchema: { type: "object", properties: {} } },
  { name: "slow", description: "Waits", inputSchema: { type: "object", properties: { ms: num } } },
  { name: "secret", description: "Not for everyone", inputSchema: { type: "object", properties: {} } },
];

export async function startFakeMcp(name = "fake"): Promise<FakeMcp> {
  let auth: string | undefined;
  const fake: FakeMcp = { url: "", calls: [], authorizations: [], close: async () => {} };
  const handler = createMcpHandler(() => {
    const s = new Server({ name, version: "1" }, { capabilities: { tools: {} } });
    s.setRequestHandler("tools/list", async () => ({ tools: FAKE_MCP_TOOLS }) as never);
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
  });
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
    const answer = await handler.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: req.method === "POST" ? Buffer.concat(chunks) : undefined }));
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
