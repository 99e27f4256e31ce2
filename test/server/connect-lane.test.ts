// The Connect lane (src/server/connect-lane.ts) against connect-node: two gateways from one config, one
// with `server.connect_lane: false`, get the same requests over raw HTTP/1.1 and HTTP/2; status codes,
// the headers a client reads, and the bodies (with what varies per request masked) must match. Then
// what only the lane does: it takes the Connect POST calls and leaves the rest to connect-node, and a
// stream whose client goes away ends its upstream call and is recorded as canceled.

import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { gunzipSync, gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatRequestSchema, ChatResponseSchema, ChatEventSchema, Role } from "../../gen/signalbox/v1/chat_pb.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbk", "lane", "caller", "0001"].join("_");
const LIMITED = ["sbk", "lane", "limited", "0002"].join("_");
const CONFIG = (lane: boolean) => `
server: { max_request_bytes: 65536, connect_lane: ${lane} }
providers:
  - { name: mock, type: mock, mock: { reply: "${'a long answer, '.repeat(100)}" } }
  - { name: slow, type: mock, mock: { ttft_ms: 5000, inter_chunk_ms: 5, chunks: 4 } }
  - { name: trickle, type: mock, mock: { ttft_ms: 10, inter_chunk_ms: 100, chunks: 20 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/slow, provider: slow, model: mock-slow, pricing: { input: 1, output: 1 } }
  - { id: mock/trickle, provider: trickle, model: mock-trickle, pricing: { input: 1, output: 1 } }
routes:
  - { name: default, targets: [mock/a] }
  - { name: slow, targets: [mock/slow] }
  - { name: trickle, targets: [mock/trickle] }
keys:
  - { name: caller, hash: "${hashKey(KEY)}", team: a, role: admin }
  - { name: limited, hash: "${hashKey(LIMITED)}", team: a, role: service, limits: { requests_per_minute: 1 } }
`;

let lane: TestGateway;
let node: TestGateway;
before(async () => {
  lane = await startTestGateway(CONFIG(true));
  node = await startTestGateway(CONFIG(false));
});
after(async () => {
  await lane.close();
  await node.close();
});

const COMPLETE = "/signalbox.v1.ChatService/Complete";
const STREAM = "/signalbox.v1.ChatService/Stream";
const chat = (init: { model?: string } = {}) =>
  toBinary(ChatRequestSchema, create(ChatRequestSchema, { model: "default", messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "hello lane" } }] }], ...init }));
const chatJson = (model = "default", extra = {}) => JSON.stringify({ model, messages: [{ role: "ROLE_USER", content: [{ text: "hello lane" }] }], ...extra });

function envelope(data: Uint8Array, flags = 0): Buffer {
  const b = Buffer.alloc(5 + data.length);
  b[0] = flags;
  b.writeUInt32BE(data.length, 1);
  b.set(data, 5);
  return b;
}

function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out = [];
  for (let at = 0; at < body.length; ) {
    const len = body.readUInt32BE(at + 1);
    out.push({ flags: body[at], data: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Headers a client reads (transport ones such as date and keep-alive left out). */
const READ = ["content-type", "content-encoding", "connect-content-encoding", "retry-after", "x-signalbox-trace-id", "accept-encoding", "connect-accept-encoding"];

async function send(t: TestGateway, path: string, headers: Record<string, string>, body: Uint8Array | string): Promise<Answer> {
  const r = await request(t.url + path, { method: "POST", headers: { ...headers, authorization: headers.authorization ?? `Bearer ${KEY}` }, body });
  const buf = Buffer.from(await r.body.arrayBuffer());
  const h: Record<string, string> = {};
  for (const k of READ) if (r.headers[k] !== undefined) h[k] = String(r.headers[k]);
  if (r.headers["content-length"] !== undefined) assert.equal(Number(r.headers["content-length"]), buf.length, "content-length is the body's");
  return { status: r.statusCode, headers: h, body: buf };
}

/** An error or end-stream JSON with what varies per request masked (trace ids, the detail's bytes). */
function maskJson(text: string): unknown {
  const o = JSON.parse(text.replace(/retry in \d+ s/g, "retry in N s")) as Record<string, any>;
  const err = o.error ?? o;
  for (const d of err.details ?? []) {
    delete d.value;
    if (d.debug) {
      delete d.debug.traceId;
      delete d.debug.retryAfterMs;
      for (const a of d.debug.attempts ?? []) {
        delete a.latencyMs;
        delete a.startTime;
      }
    }
  }
  return o;
}

function maskHeaders(h: Record<string, string>): Record<string, string> {
  const out = { ...h };
  if (out["x-signalbox-trace-id"]) out["x-signalbox-trace-id"] = "<trace>";
  if (out["retry-after"]) out["retry-after"] = "<seconds>";
  return out;
}

/** Send the same request to both gateways; return both answers after checking status and headers match. */
async function both(path: string, headers: Record<string, string>, body: Uint8Array | string): Promise<[Answer, Answer]> {
  const [a, b] = await Promise.all([send(lane, path, headers, body), send(node, path, headers, body)]);
  assert.equal(a.status, b.status, `status: lane ${a.status} ${a.body}, connect-node ${b.status} ${b.body}`);
  assert.deepEqual(maskHeaders(a.headers), maskHeaders(b.headers));
  return [a, b];
}

function chatAnswer(body: Buffer) {
  const r = fromBinary(ChatResponseSchema, body);
  return { text: r.message?.content.map((c) => (c.part.case === "text" ? c.part.value : "")).join(""), deployment: r.deployment, usage: r.usage, cost: r.cost, finish: r.finishReason };
}

describe("unary calls answer as connect-node does", () => {
  test("protobuf: the same answer", async () => {
    const [a, b] = await both(COMPLETE, { "content-type": "application/proto" }, chat());
    assert.equal(a.status, 200);
    assert.deepEqual(chatAnswer(a.body), chatAnswer(b.body));
    assert.match(a.headers["x-signalbox-trace-id"], /^[0-9a-f]{32}$/);
  });

  test("JSON with a charset, gzip accepted: the answer is compressed past 1 KiB on both", async () => {
    const [a, b] = await both(COMPLETE, { "content-type": "application/json; charset=utf-8", "accept-encoding": "gzip" }, chatJson());
    assert.equal(a.headers["content-encoding"], "gzip");
    const [ja, jb] = [JSON.parse(gunzipSync(a.body).toString()), JSON.parse(gunzipSync(b.body).toString())];
    assert.equal(ja.message.content[0].text, jb.message.content[0].text);
    assert.deepEqual(ja.usage, jb.usage);
  });

  test("a gzip-compressed request body is inflated", async () => {
    const [a, b] = await both(COMPLETE, { "content-type": "application/proto", "content-encoding": "gzip" }, gzipSync(chat()));
    assert.equal(a.status, 200);
    // Without accept-encoding, the answer comes in the request's encoding (the Connect protocol's rule).
    assert.equal(a.headers["content-encoding"], "gzip");
    assert.deepEqual(chatAnswer(gunzipSync(a.body)), chatAnswer(gunzipSync(b.body)));
  });

  const errors: [string, Record<string, string>, () => Uint8Array | string, number][] = [
    ["a validation error names its field", { "content-type": "application/json" }, () => chatJson("default", { temperature: 9 }), 400],
    ["an unknown model", { "content-type": "application/json" }, () => chatJson("nope"), 404],
    ["bytes that are not protobuf", { "content-type": "application/proto" }, () => Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]), 400],
    ["JSON that does not parse", { "content-type": "application/json" }, () => "{not json", 400],
    ["an unknown JSON field is ignored, a wrong type is not", { "content-type": "application/json" }, () => JSON.stringify({ model: 5 }), 400],
    ["a wrong key", { "content-type": "application/json", authorization: "Bearer nope" }, () => chatJson(), 401],
    ["no key", { "content-type": "application/json", authorization: "" }, () => chatJson(), 401],
    ["a gzip body that does not inflate", { "content-type": "application/proto", "content-encoding": "gzip" }, () => gzipSync(chat()).subarray(0, 12), 400],
    ["an unknown compression (left to connect-node)", { "content-type": "application/proto", "content-encoding": "zstd" }, () => chat(), 501],
    ["a bad timeout (left to connect-node)", { "content-type": "application/proto", "connect-timeout-ms": "soon" }, () => chat(), 400],
    ["a deadline that passes", { "content-type": "application/json", "connect-timeout-ms": "150" }, () => chatJson("slow"), 504],
  ];
  for (const [name, headers, body, status] of errors) {
    test(`error: ${name}`, async () => {
      const [a, b] = await both(COMPLETE, headers, body());
      assert.equal(a.status, status, a.body.toString());
      assert.deepEqual(maskJson(a.body.toString()), maskJson(b.body.toString()));
    });
  }

  test("a rate limit: resource_exhausted with retry-after on both", async () => {
    const h = { "content-type": "application/json", authorization: `Bearer ${LIMITED}` };
    await both(COMPLETE, h, chatJson());
    const [a, b] = await both(COMPLETE, h, chatJson());
    assert.equal(a.status, 429);
    assert.ok(a.headers["retry-after"]);
    assert.deepEqual(maskJson(a.body.toString()), maskJson(b.body.toString()));
  });

  test("a content type the Connect protocol does not have is connect-node's 415", async () => {
    const [a] = await both(COMPLETE, { "content-type": "text/plain" }, chatJson());
    assert.equal(a.status, 415);
  });
});

describe("streams answer as connect-node does", () => {
  const events = (a: Answer) => envelopes(a.body);
  const kinds = (a: Answer) => events(a).map((e) => (e.flags === 2 ? "end" : fromBinary(ChatEventSchema, e.data).event.case));

  test("protobuf: start, deltas, finish, then an empty end-stream", async () => {
    const [a, b] = await both(STREAM, { "content-type": "application/connect+proto" }, envelope(chat()));
    assert.equal(a.status, 200);
    assert.deepEqual(kinds(a), kinds(b));
    assert.equal(kinds(a)[0], "start");
    const end = events(a).at(-1)!;
    assert.equal(end.flags, 2);
    assert.equal(end.data.toString(), events(b).at(-1)!.data.toString());
  });

  test("JSON: the same events", async () => {
    const [a, b] = await both(STREAM, { "content-type": "application/connect+json" }, envelope(Buffer.from(chatJson())));
    const parse = (x: Answer) => events(x).map((e) => (e.flags === 2 ? e.data.toString() : Object.keys(JSON.parse(e.data.toString()))[0]));
    assert.deepEqual(parse(a), parse(b));
  });

  const errors: [string, Record<string, string>, () => Buffer][] = [
    ["an unknown model", { "content-type": "application/connect+json" }, () => envelope(Buffer.from(chatJson("nope")))],
    ["a validation error", { "content-type": "application/connect+json" }, () => envelope(Buffer.from(chatJson("default", { temperature: 9 })))],
    ["no message", { "content-type": "application/connect+proto" }, () => Buffer.alloc(0)],
    ["two messages", { "content-type": "application/connect+proto" }, () => Buffer.concat([envelope(chat()), envelope(chat())])],
    ["a truncated envelope", { "content-type": "application/connect+proto" }, () => envelope(chat()).subarray(0, 9)],
    ["bytes that are not protobuf", { "content-type": "application/connect+proto" }, () => envelope(Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]))],
    ["a compressed envelope without an encoding", { "content-type": "application/connect+proto" }, () => envelope(gzipSync(chat()), 1)],
    ["a wrong key", { "content-type": "application/connect+proto", authorization: "Bearer nope" }, () => envelope(chat())],
    ["a deadline that passes", { "content-type": "application/connect+proto", "connect-timeout-ms": "150" }, () => envelope(chat({ model: "slow" }))],
  ];
  for (const [name, headers, body] of errors) {
    test(`error in the end-stream: ${name}`, async () => {
      const [a, b] = await both(STREAM, headers, body());
      assert.equal(a.status, 200);
      const [ea, eb] = [events(a), events(b)];
      assert.equal(ea.length, eb.length);
      assert.equal(ea.at(-1)!.flags, 2);
      assert.deepEqual(maskJson(ea.at(-1)!.data.toString()), maskJson(eb.at(-1)!.data.toString()));
      assert.ok((maskJson(ea.at(-1)!.data.toString()) as { error?: unknown }).error, "the end-stream carries an error");
    });
  }

  test("a gzip-compressed request envelope, and compressed answers where connect-node compresses", async () => {
    const h = { "content-type": "application/connect+proto", "connect-content-encoding": "gzip", "connect-accept-encoding": "gzip" };
    const [a, b] = await both(STREAM, h, envelope(gzipSync(chat()), 1));
    assert.equal(a.headers["connect-content-encoding"], "gzip");
    assert.deepEqual(kinds(a).length, events(b).length);
    assert.deepEqual(events(a).map((e) => e.flags), events(b).map((e) => e.flags));
  });
});

/** One HTTP/2 request (a new session each time); headers, body and trailers as they arrived. */
async function h2call(t: TestGateway, headers: http2.OutgoingHttpHeaders, body: Buffer) {
  const s = http2.connect(t.url);
  try {
    return await new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      const st = s.request({ ":method": "POST", authorization: `Bearer ${KEY}`, ...headers });
      let h: http2.IncomingHttpHeaders = {};
      let tr: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      st.on("response", (x) => (h = x));
      st.on("trailers", (x) => (tr = x));
      st.on("data", (c: Buffer) => chunks.push(c));
      st.on("end", () => resolve({ headers: h, body: Buffer.concat(chunks), trailers: tr }));
      st.on("error", reject);
      st.end(body);
    });
  } finally {
    s.close();
  }
}

/** gRPC's status and message, and the error detail with what varies per call masked. */
function grpcStatus(tr: Record<string, unknown>) {
  return { status: tr["grpc-status"], message: decodeURIComponent(String(tr["grpc-message"] ?? "")).replace(/retry in \d+ s/, "retry in N s"), details: tr["grpc-status-details-bin"] !== undefined, retryAfter: tr["retry-after"] !== undefined };
}

describe("gRPC and gRPC-web answer as connect-node does", () => {
  const grpcCases: [string, string, Record<string, string>, () => Buffer, string][] = [
    ["unary", COMPLETE, {}, () => envelope(chat()), "0"],
    ["stream", STREAM, {}, () => envelope(chat()), "0"],
    ["unary, JSON", COMPLETE, { "content-type": "application/grpc+json" }, () => envelope(Buffer.from(chatJson())), "0"],
    ["unary, gzip both ways", COMPLETE, { "grpc-encoding": "gzip", "grpc-accept-encoding": "gzip" }, () => envelope(gzipSync(chat()), 1), "0"],
    ["stream, gzip answers", STREAM, { "grpc-accept-encoding": "gzip" }, () => envelope(chat()), "0"],
    ["a validation error", COMPLETE, { "content-type": "application/grpc+json" }, () => envelope(Buffer.from(chatJson("default", { temperature: 9 }))), "3"],
    ["an unknown model, streamed", STREAM, {}, () => envelope(chat({ model: "nope" })), "5"],
    ["no message", COMPLETE, {}, () => Buffer.alloc(0), "12"],
    ["two messages", STREAM, {}, () => Buffer.concat([envelope(chat()), envelope(chat())]), "12"],
    ["bytes that are not protobuf", COMPLETE, {}, () => envelope(Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01])), "3"],
    ["a compressed envelope without an encoding", COMPLETE, {}, () => envelope(gzipSync(chat()), 1), "3"],
    ["a wrong key", COMPLETE, { authorization: "Bearer nope" }, () => envelope(chat()), "16"],
    ["a deadline that passes", STREAM, { "grpc-timeout": "150m" }, () => envelope(chat({ model: "slow" })), "4"],
    ["an unknown compression (left to connect-node)", COMPLETE, { "grpc-encoding": "zstd" }, () => envelope(chat()), "12"],
  ];
  for (const [name, path, headers, body, status] of grpcCases) {
    test(`gRPC: ${name}`, async () => {
      const h = { ":path": path, "content-type": "application/grpc", te: "trailers", ...headers };
      const [a, b] = await Promise.all([h2call(lane, h, body()), h2call(node, h, body())]);
      assert.equal(a.headers[":status"], 200);
      assert.equal(a.headers["content-type"], b.headers["content-type"]);
      assert.equal(a.headers["grpc-encoding"], b.headers["grpc-encoding"]);
      assert.equal(a.headers["x-signalbox-trace-id"] === undefined, b.headers["x-signalbox-trace-id"] === undefined, "a trace id header on both or neither");
      assert.deepEqual(grpcStatus(a.trailers), grpcStatus(b.trailers));
      assert.equal(a.trailers["grpc-status"], status, JSON.stringify(a.trailers));
      assert.deepEqual(envelopes(a.body).map((e) => e.flags), envelopes(b.body).map((e) => e.flags));
    });
  }

  const webCases: [string, string, Record<string, string>, () => Buffer][] = [
    ["unary", COMPLETE, {}, () => envelope(chat())],
    ["stream", STREAM, {}, () => envelope(chat())],
    ["unary, JSON", COMPLETE, { "content-type": "application/grpc-web+json" }, () => envelope(Buffer.from(chatJson()))],
    ["a validation error", COMPLETE, { "content-type": "application/grpc-web+json" }, () => envelope(Buffer.from(chatJson("default", { temperature: 9 })))],
    ["a wrong key, streamed", STREAM, { authorization: "Bearer nope" }, () => envelope(chat())],
    ["two messages", COMPLETE, {}, () => Buffer.concat([envelope(chat()), envelope(chat())])],
    ["a rate limit", COMPLETE, { authorization: `Bearer ${LIMITED}` }, () => envelope(chat())],
  ];
  for (const [name, path, headers, body] of webCases) {
    test(`gRPC-web over HTTP/1.1: ${name}`, async () => {
      const h = { "content-type": "application/grpc-web+proto", ...headers };
      const [a, b] = await both(path, h, body());
      assert.equal(a.status, 200);
      const trailer = (x: Answer) => {
        const last = envelopes(x.body).at(-1)!;
        assert.equal(last.flags & 0x80, 0x80, "the last envelope is the trailer");
        return Object.fromEntries(last.data.toString().split("\r\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));
      };
      assert.deepEqual(grpcStatus(trailer(a)), grpcStatus(trailer(b)));
      assert.deepEqual(envelopes(a.body).map((e) => e.flags), envelopes(b.body).map((e) => e.flags));
    });
  }

  test("gRPC messages decode to the same answer", async () => {
    const h = { ":path": COMPLETE, "content-type": "application/grpc", te: "trailers" };
    const [a, b] = await Promise.all([h2call(lane, h, envelope(chat())), h2call(node, h, envelope(chat()))]);
    assert.deepEqual(chatAnswer(envelopes(a.body)[0].data), chatAnswer(envelopes(b.body)[0].data));
  });
});

describe("what the lane takes", () => {
  test("Connect POST calls go through the lane (and with connect_lane off, none do)", async () => {
    const count = (t: TestGateway) => {
      const counter = { n: 0 };
      const open = t.gw.rpc.open;
      t.gw.rpc.open = (...a) => (counter.n++, open(...a));
      return { counter, restore: () => (t.gw.rpc.open = open) };
    };
    const [l, n] = [count(lane), count(node)];
    try {
      await both(COMPLETE, { "content-type": "application/proto" }, chat());
      await both(STREAM, { "content-type": "application/connect+proto" }, envelope(chat()));
      await both(COMPLETE, { "content-type": "application/proto", "content-encoding": "zstd" }, chat());
      await both(COMPLETE, { "content-type": "application/grpc-web+proto" }, envelope(chat()));
      await both(COMPLETE, { "content-type": "application/grpc-web-text" }, envelope(chat()).toString("base64"));
      await h2call(lane, { ":path": COMPLETE, "content-type": "application/grpc", te: "trailers" }, envelope(chat()));
      assert.equal(l.counter.n, 4, "the lane took the Connect unary call and stream, gRPC-web and gRPC, and left the unknown compression and grpc-web-text");
      assert.equal(n.counter.n, 0);
    } finally {
      l.restore();
      n.restore();
    }
  });

  test("over HTTP/2 too", async () => {
    const unary = await h2call(lane, { ":path": COMPLETE, "content-type": "application/proto" }, Buffer.from(chat()));
    assert.equal(unary.headers[":status"], 200);
    assert.match(chatAnswer(unary.body).text ?? "", /long answer/);
    const stream = await h2call(lane, { ":path": STREAM, "content-type": "application/connect+proto" }, envelope(chat()));
    assert.equal(envelopes(stream.body).at(-1)!.flags, 2);
  });

  test("Connect GET (no side effects) is connect-node's", async () => {
    const r = await request(`${lane.url}/signalbox.v1.RouteService/ListModels?encoding=json&message=${encodeURIComponent("{}")}`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(r.statusCode, 200);
    assert.ok(((await r.body.json()) as { deployments: unknown[] }).deployments.length > 0);
  });

  test("a client that goes away mid-stream: the upstream call ends and the record says canceled", async () => {
    const before = lane.usage.recent().length;
    const ac = new AbortController();
    const r = await request(lane.url + STREAM, { method: "POST", headers: { "content-type": "application/connect+proto", authorization: `Bearer ${KEY}` }, body: envelope(chat({ model: "trickle" })), signal: ac.signal });
    let got = 0;
    await assert.rejects(async () => {
      for await (const chunk of r.body) {
        got += (chunk as Buffer).length;
        if (got > 0) ac.abort();
      }
    });
    for (let i = 0; i < 100 && lane.usage.recent().length === before; i++) await new Promise((res) => setTimeout(res, 20));
    const rec = lane.usage.recent().at(-1)!;
    assert.equal(lane.usage.recent().length, before + 1, "one record");
    assert.equal(rec.status, "canceled");
    assert.ok(rec.latencyMs < 1500, `the upstream stream (2 s) ended early: ${rec.latencyMs} ms`);
  });
});

test("a write that throws (a header Node refuses) resets that call's connection and leaves the process serving", async () => {
  const { createServer } = await import("node:http");
  const { ChatService } = await import("../../gen/signalbox/v1/chat_pb.ts");
  const { createConnectLane } = await import("../../src/server/connect-lane.ts");
  const lanes = createConnectLane({
    services: [[ChatService, { complete: async () => ({ id: "x" }) }]],
    hooks: {
      // A trace id no header may carry: writeHead throws after the call was answered.
      open: (_s, _m, headers) => ({ traceId: headers["x-bad"] ? "bad\nvalue" : "0123456789abcdef0123456789abcdef" }),
      authenticate: () => {},
      ok: () => {},
      fail: (_c, err) => err as never,
      stream: (_c, it) => it,
    },
    readMaxBytes: 65536,
    compression: [],
  });
  const server = createServer((req, res) => void lanes(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}${COMPLETE}`;
  try {
    await assert.rejects(request(url, { method: "POST", headers: { "content-type": "application/json", "x-bad": "1" }, body: "{}" }));
    const ok = await request(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(ok.statusCode, 200);
    assert.equal(((await ok.body.json()) as { id: string }).id, "x");
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
