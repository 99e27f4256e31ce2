// A local MCP server over stdio (the official SDK's serveStdio), run as a child process by the
// gateway in tests: tools `echo`, `env` (the value of DEMO_VALUE it was started with), `pid`, and
// `exit` (the process ends, as a crashed server does). At start it writes a line with its token to
// stderr, which the gateway logs with the token taken out.

import { Server } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";

process.stderr.write(`local server starting with token ${process.env.DEMO_TOKEN ?? "none"}\n`);
serveStdio(() => {
  const s = new Server({ name: "local", version: "1" }, { capabilities: { tools: {} } });
  const obj = { type: "object", properties: {} };
  s.setRequestHandler("tools/list", async () => ({
    tools: [
      { name: "echo", description: "Echoes its text", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
      { name: "env", description: "DEMO_VALUE", inputSchema: obj },
      { name: "pid", description: "The process id", inputSchema: obj },
      { name: "exit", description: "Ends the process", inputSchema: obj },
    ],
  }) as never);
  s.setRequestHandler("tools/call", async (req) => {
    const text = (t: string) => ({ content: [{ type: "text", text: t }] }) as never;
    switch (req.params.name) {
      case "echo":
        return text(String((req.params.arguments as { text?: string })?.text ?? ""));
      case "env":
        return text(process.env.DEMO_VALUE ?? "unset");
      case "pid":
        return text(String(process.pid));
      case "exit":
        process.exit(1);
      // falls through (exit never returns)
      default:
        return text("unknown");
    }
  });
  return s;
});
