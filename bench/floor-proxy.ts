// The floor: a bare undici pass-through proxy to the upstream, the least any Node proxy can
// cost. Forwards method, path, body and content-type; streams the response back.
// Usage: node bench/floor-proxy.ts <port> <upstream-origin>   (prints "ready <port>")

import { createServer } from "node:http";
import { Pool } from "undici";

const upstream = new Pool(process.argv[3], { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });

const server = createServer(async (req, res) => {
  try {
    const r = await upstream.request({
      method: req.method as "POST",
      path: req.url!,
      headers: { "content-type": req.headers["content-type"] ?? "application/json" },
      body: req,
    });
    res.writeHead(r.statusCode, { "content-type": String(r.headers["content-type"] ?? "application/json") });
    for await (const c of r.body) res.write(c);
    res.end();
  } catch (err) {
    res.writeHead(502).end(String(err));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
