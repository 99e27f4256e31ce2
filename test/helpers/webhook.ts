// A webhook receiver on loopback (alerts, spend reports): every POST's path and JSON body, in order.

import { createServer } from "node:http";

export interface Webhook {
  origin: string;
  received: { path: string; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

export async function startWebhook(): Promise<Webhook> {
  const received: Webhook["received"] = [];
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: JSON.parse(data) as Record<string, unknown> });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
