// test-runner: own-process (it measures time or memory: a lane's heap and neighbours would blur it)
// The stream path's write discipline, measured on real sockets: each batch the upstream sends in
// one write (one network read at the gateway) leaves the gateway in at most one downstream write,
// on both front doors; and a 10,000-chunk stream passes through without the gateway holding it.

import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { Socket, type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const BATCHES = 12;
const PER_BATCH = 4;
const GAP_MS = 25;

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "chatcmpl-w", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = `data: ${JSON.stringify({ id: "chatcmpl-w", object: "chat.completion.chunk", created: 1, model: "gpt-4o-mini", choices: [], usage: { prompt_tokens: 10, completion_tokens: 48, total_tokens: 58 } })}\n\n`;

/** An OpenAI-style upstream: `BATCHES` writes of `PER_BATCH` SSE events each, GAP_MS apart (model "many": 10,000 events of 1 KB). */
function startUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      const body = JSON.parse(raw) as { model: string };
      res.writeHead(200, { "content-type": "text/event-stream" });
      if (body.model === "many") {
        const piece = "y".repeat(1024);
        for (let i = 0; i < 10_000; i++) {
          if (!res.write(chunk({ content: piece }))) await new Promise((r) => res.once("drain", r));
        }
      } else {
        res.write(chunk({ role: "assistant", content: "" }));
        for (let b = 0; b < BATCHES; b++) {
          await new Promise((r) => setTimeout(r, GAP_MS));
          let s = "";
          for (let i = 0; i < PER_BATCH; i++) s += chunk({ content: `b${b}e${i} ` });
          res.write(s);
        }
        await new Promise((r) => setTimeout(r, GAP_MS));
      }
      res.end(chunk({}, "stop") + usage + "data: [DONE]\n\n");
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

/**
 * Counts the writes the gateway's server sockets make (a write or a writev is one call of the
 * socket's generic write, one syscall), by local port.
 */
function countWrites(port: number): { count(): number; stop(): void } {
  const proto = Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
  const original = proto._writeGeneric;
  assert.equal(typeof original, "function", "net.Socket has _writeGeneric");
  let n = 0;
  proto._writeGeneric = function (this: Socket, ...a: unknown[]) {
    if (this.localPort === port) n++;
    return original.apply(this, a);
  };
  return { count: () => n, stop: () => void (proto._writeGeneric = original) };
}

function post(url: string, path: string, headers: Record<string, string>, body: Buffer | string, onData?: () => void): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: "POST", headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => {
        parts.push(d);
        onData?.();
      });
      res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(parts) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function connectEnvelope(json: object): Buffer {
  const payload = Buffer.from(JSON.stringify(json));
  const env = Buffer.alloc(5 + payload.length);
  env.writeUInt32BE(payload.length, 1);
  payload.copy(env, 5);
  return env;
}

describe("stream writes", () => {
  let upstream: Server;
  let gw: TestGateway;
  let port: number;

  before(async () => {
    upstream = await startUpstream();
    const up = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    gw = await startTestGateway(`
providers:
  - { name: up, type: openai-compatible, base_url: "${up}" }
deployments:
  - { id: up/mini, provider: up, model: gpt-4o-mini, pricing: { input: 1, output: 2 } }
  - { id: up/many, provider: up, model: many, pricing: { input: 1, output: 2 } }
`);
    port = Number(new URL(gw.url).port);
  });
  after(async () => {
    await gw.close();
    upstream.close();
  });

  test("OpenAI-compatible SSE: one downstream write per upstream batch", async () => {
    const w = countWrites(port);
    try {
      const res = await post(gw.url, "/v1/chat/completions", { "content-type": "application/json" }, JSON.stringify({ model: "up/mini", stream: true, messages: [{ role: "user", content: "hi" }] }));
      assert.equal(res.status, 200);
      const text = res.body.toString();
      assert.match(text, /b11e3 /);
      assert.match(text, /data: \[DONE\]/);
      // Headers with the first batch (role chunk), one write per batch, the tail with the end.
      assert.ok(w.count() <= BATCHES + 2, `${w.count()} writes for ${BATCHES} upstream batches`);
      assert.ok(w.count() >= BATCHES, `batches were not merged across gaps (${w.count()} writes)`);
    } finally {
      w.stop();
    }
  });

  test("Connect server stream: one downstream write per upstream batch", async () => {
    const w = countWrites(port);
    try {
      const res = await post(
        gw.url,
        "/signalbox.v1.ChatService/Stream",
        { "content-type": "application/connect+json", "connect-protocol-version": "1" },
        connectEnvelope({ model: "up/mini", messages: [{ role: "ROLE_USER", content: [{ text: "hi" }] }] }),
      );
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /b11e3 /);
      assert.ok(w.count() <= BATCHES + 2, `${w.count()} writes for ${BATCHES} upstream batches`);
      assert.ok(w.count() >= BATCHES, `batches were not merged across gaps (${w.count()} writes)`);
    } finally {
      w.stop();
    }
  });

  test("a 10,000-chunk stream (10 MB) keeps the gateway's memory bounded", async () => {
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = 0;
    let reads = 0;
    const res = await post(gw.url, "/v1/chat/completions", { "content-type": "application/json" }, JSON.stringify({ model: "up/many", stream: true, messages: [{ role: "user", content: "hi" }] }), () => {
      if (++reads % 200 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - base);
      }
    });
    assert.equal(res.status, 200);
    // The client (this process) holds the 10 MB it received; the gateway must not hold it too.
    const received = res.body.length;
    assert.ok(received > 10_000 * 1024, `received ${received} bytes`);
    assert.ok(reads >= 200, `${reads} reads`);
    // What the test itself keeps (the received parts) grows to ~received bytes; the gateway's
    // share of the peak must stay far below the 10 MB that went through it.
    assert.ok(peak - received < 8 * 1024 * 1024, `heap grew ${(peak / 1e6).toFixed(1)} MB while ${(received / 1e6).toFixed(1)} MB were received`);
    const recs = gw.usage.recent().filter((r) => r.deployment === "up/many");
    assert.equal(recs.at(-1)?.status, "ok");
  });
});
