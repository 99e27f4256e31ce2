// The transport's response bodies (undici's handler API, no Node stream): backpressure when the
// reader falls behind, whole-body reads past the backpressure mark, dump() that keeps a short
// rest's connection and closes a long one's, and cancellation while waiting for a connection
// or in the middle of a body. Over real sockets to a local server.

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { test } from "node:test";
import type { ProviderConfig } from "../../src/config/types.ts";
import { ProviderError } from "../../src/providers/types.ts";
import { classifyTransportError, createTransport } from "../../src/providers/transport.ts";

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  server.on("connection", (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sockets };
}

const conn = (url: string, maxConnections = 4): ProviderConfig =>
  ({ name: "up", type: "openai-compatible", baseUrl: url, headers: {}, timeouts: { connectMs: 2000, headersMs: 5000, bodyMs: 5000 }, maxConnections }) as ProviderConfig;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a reader that falls behind pauses the connection: the upstream cannot push the whole body", async () => {
  const total = 64 * 1024 * 1024;
  let written = 0;
  const up = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(total) });
    const block = Buffer.alloc(64 * 1024, 120);
    const pump = () => {
      while (written < total) {
        written += block.length;
        if (!res.write(block)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  const t = createTransport();
  try {
    const res = await t.request(conn(up.url), { method: "GET", path: "/", headers: {} }, new AbortController().signal);
    assert.equal(res.status, 200);
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.ok(!first.done && first.value.length > 0);
    // The reader stalls; without backpressure undici would take the whole 64 MB in this time.
    await sleep(600);
    assert.ok(written < total / 2, `the upstream wrote ${written} of ${total} bytes while the reader stalled`);
    // Reading on resumes the connection, to the last byte.
    let got = first.value.length;
    for (;;) {
      const n = await it.next();
      if (n.done) break;
      got += n.value.length;
    }
    assert.equal(got, total);
  } finally {
    await t.close();
    up.server.close();
  }
});

test("text() reads a body past the backpressure mark, in full", async () => {
  const body = "x".repeat(3 * 1024 * 1024);
  const up = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    for (let i = 0; i < body.length; i += 100_000) res.write(body.slice(i, i + 100_000));
    res.end();
  });
  const t = createTransport();
  try {
    const res = await t.request(conn(up.url), { method: "POST", path: "/", headers: { "content-type": "application/json" }, body: "{}" }, new AbortController().signal);
    assert.equal((await res.body.text()).length, body.length);
  } finally {
    await t.close();
    up.server.close();
  }
});

test("dump() reads and drops a short rest on the same connection; a long rest closes it", async () => {
  const up = await serve((req, res) => {
    const size = Number(new URL(req.url!, "http://x").searchParams.get("size"));
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(size) });
    // First byte at once, the rest a little later: the reader stops after the first chunk.
    res.write("a");
    setTimeout(() => res.end(Buffer.alloc(size - 1, 98)), 50);
  });
  const t = createTransport();
  const c = conn(up.url, 1);
  try {
    const remotePorts: number[] = [];
    for (const size of [1000, 1000, 4 * 1024 * 1024, 1000]) {
      const res = await t.request(c, { method: "GET", path: `/?size=${size}`, headers: {} }, new AbortController().signal);
      const it = res.body[Symbol.asyncIterator]();
      await it.next();
      await res.body.dump();
      remotePorts.push(up.sockets.size);
    }
    // Two short rests: one connection. The long rest closes it: the next request opens another.
    assert.deepEqual(remotePorts.slice(0, 2), [1, 1]);
    assert.equal(remotePorts[3], 2, "after a long dropped rest the next request is on a new connection");
  } finally {
    await t.close();
    up.server.close();
  }
});

test("cancel while waiting for a free connection: the caller stops waiting at once", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const up = await serve(async (req, res) => {
    if (req.url === "/slow") await held;
    res.end("ok");
  });
  const t = createTransport();
  const c = conn(up.url, 1);
  try {
    const first = t.request(c, { method: "GET", path: "/slow", headers: {} }, new AbortController().signal);
    await sleep(50);
    const ac = new AbortController();
    const second = t.request(c, { method: "GET", path: "/fast", headers: {} }, ac.signal);
    const t0 = Date.now();
    setTimeout(() => ac.abort(new ProviderError({ kind: "timeout", message: "attempt exceeded 100 ms" })), 100);
    await assert.rejects(second, (err: unknown) => err instanceof ProviderError && err.kind === "timeout");
    assert.ok(Date.now() - t0 < 1000, "rejected when canceled, not when the connection came free");
    release();
    assert.equal(await (await first).body.text(), "ok");
    // The pool is not stuck: the canceled request never went out, the next one does.
    assert.equal(await (await t.request(c, { method: "GET", path: "/fast", headers: {} }, new AbortController().signal)).body.text(), "ok");
  } finally {
    release();
    await t.close();
    up.server.close();
  }
});

test("cancel in the middle of a body: the reader gets the cancellation and the upstream connection closes", async () => {
  let closed!: () => void;
  const upstreamClosed = new Promise<void>((r) => (closed = r));
  const up = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write("data: 1\n\n");
    const timer = setInterval(() => res.write("data: more\n\n"), 20);
    res.on("close", () => {
      clearInterval(timer);
      closed();
    });
  });
  const t = createTransport();
  const c = conn(up.url);
  const ac = new AbortController();
  try {
    const res = await t.request(c, { method: "GET", path: "/", headers: {} }, ac.signal);
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    setTimeout(() => ac.abort(), 50);
    let error: unknown;
    try {
      for (;;) if ((await it.next()).done) break;
    } catch (err) {
      error = err;
    }
    assert.ok(error !== undefined, "the read fails");
    assert.equal(classifyTransportError(error, ac.signal, c).kind, "canceled");
    await upstreamClosed;
  } finally {
    await t.close();
    up.server.close();
  }
});

test("an upstream that resets after the headers: the read fails as a network error", async () => {
  const up = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
    res.write("partial");
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const t = createTransport();
  const c = conn(up.url);
  const signal = new AbortController().signal;
  try {
    const res = await t.request(c, { method: "GET", path: "/", headers: {} }, signal);
    const err = await res.body.text().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err !== undefined);
    assert.equal(classifyTransportError(err, signal, c).kind, "network");
  } finally {
    await t.close();
    up.server.close();
  }
});
