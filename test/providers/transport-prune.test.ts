// After a config reload the transport closes the connection pools no provider uses any more: a
// removed provider's keep-alive connections go away (a request in flight on them finishes first),
// the providers still configured keep theirs.

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, test } from "node:test";
import type { ProviderConfig } from "../../src/config/types.ts";
import { createTransport } from "../../src/providers/transport.ts";

let server: Server;
let url: string;
const open = new Set<Socket>();

before(async () => {
  server = createServer((req, res) => {
    const delay = req.url === "/slow" ? 300 : 0;
    setTimeout(() => res.end("ok"), delay);
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (s: Socket) => {
    open.add(s);
    s.once("close", () => open.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const conn = (name: string): ProviderConfig =>
  ({ name, type: "openai-compatible", baseUrl: url, headers: {}, timeouts: { connectMs: 2000, headersMs: 5000, bodyMs: 5000 }, maxConnections: 4 }) as ProviderConfig;

async function get(t: ReturnType<typeof createTransport>, c: ProviderConfig, path = "/"): Promise<string> {
  const res = await t.request(c, { method: "GET", path, headers: {} }, AbortSignal.timeout(5000));
  return res.body.text();
}

test("prune closes the pools of providers that are gone, after their requests finish; the others stay", async () => {
  const t = createTransport();
  const a = conn("a");
  const b = conn("b");
  assert.equal(await get(t, a), "ok");
  assert.equal(await get(t, b), "ok");
  assert.equal(open.size, 2, "one keep-alive connection per provider's pool");

  // A request still in flight on b's pool when b is removed.
  const slow = get(t, b, "/slow");
  await new Promise((r) => setTimeout(r, 50));
  await t.prune!([a]);
  assert.equal(await slow, "ok", "the in-flight request finished");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(open.size, 1, "b's connection is closed, a's kept");

  // a still works on its kept connection; b (if configured again) gets a new pool.
  assert.equal(await get(t, a), "ok");
  assert.equal(open.size, 1);
  assert.equal(await get(t, b), "ok");
  assert.equal(open.size, 2);

  // A changed connection limit is a different pool: the old one is pruned.
  await t.prune!([a, { ...b, maxConnections: 8 }]);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(open.size, 1);
  await t.close();
});
