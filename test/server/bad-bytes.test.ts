// Bad bytes at the front doors: malformed protobuf and JSON, truncated frames, wrong content types and bodies
// that do not inflate get a client-side code over every protocol, never internal; the gateway keeps serving.

import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { create, toBinary, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { ChatRequestSchema, Role } from "../../gen/signalbox/v1/chat_pb.ts";
import { DEFAULT_CONFIG_PATH } from "../../src/config/load.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { seeded as prng } from "../guardrails/samples.ts";

let t: TestGateway;
let port = 0;
let h2: http2.ClientHttp2Session;
before(async () => {
  t = await startTestGateway(readFileSync(DEFAULT_CONFIG_PATH, "utf8"));
  port = t.server.port;
  h2 = http2.connect(t.url);
  h2.on("error", () => {});
});
after(async () => {
  h2.close();
  await t.close();
});

const COMPLETE = "/signalbox.v1.ChatService/Complete";
const STREAM = "/signalbox.v1.ChatService/Stream";

const CODE_NAMES = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
  "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable",
  "data_loss", "unauthenticated",
];

// ---- bytes -------------------------------------------------------------------------------------------------------


function randomBytes(rand: () => number, min: number, max: number): Buffer {
  const n = min + Math.floor(rand() * (max - min + 1));
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** One envelope (gRPC, gRPC-web, Connect streaming): flags, 4-byte big-endian length, data. */
function envelope(data: Uint8Array, flags = 0, declaredLength = data.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, data]);
}

const validInit: MessageInitShape<typeof ChatRequestSchema> = {
  model: "default",
  messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "still serving?" } }] }],
};
const validBinary = Buffer.from(toBinary(ChatRequestSchema, create(ChatRequestSchema, validInit)));
const validJson = JSON.stringify({ model: "default", messages: [{ role: "ROLE_USER", content: [{ text: "still serving?" }] }] });

/** A well-formed ChatRequest whose tool schema nests 150 levels deep: past protobuf-es's recursion limit of 100. */
function tooDeep(): Buffer {
  let v: JsonValue = "x";
  for (let i = 0; i < 150; i++) v = [v];
  const req = create(ChatRequestSchema, {
    model: "default",
    messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "deep" } }] }],
    tools: [{ name: "deep", parameters: { a: v } }],
  });
  return Buffer.from(toBinary(ChatRequestSchema, req));
}

/** Hand-picked protobuf bodies that do not decode as a ChatRequest. */
const BAD_PROTO: [string, Buffer][] = [
  ["truncated varint", Buffer.from([0x28, 0xff, 0xff])], // max_output_tokens (field 5, varint) never terminates
  ["double with the wrong wire type, cut short", Buffer.from([0x18, 0xff, 0xff])], // temperature (field 3) tagged as varint
  ["length-delimited field longer than the body", Buffer.from([0x0a, 0x64, 0x61, 0x62])], // model: 100 bytes, 2 sent
  ["length varint runs off the end", Buffer.from([0x12, 0x80])],
  ["wire type 7", Buffer.from([0x0f, 0x00])],
  ["field number 0", Buffer.from([0x00, 0x01])],
  ["unterminated group", Buffer.from([0x0b, 0x08, 0x01])],
  ["invalid UTF-8 in a string", Buffer.from([0x0a, 0x02, 0xff, 0xfe])],
  ["nested message cut short", validBinary.subarray(0, validBinary.length - 3)],
  ["nesting past the recursion limit", tooDeep()],
];

const BAD_JSON: [string, string][] = [
  ["not JSON", "this is not json"],
  ["cut short", '{"model": "default", "messages": [{'],
  ["wrong type", '{"model": 42}'],
  ["array instead of object", "[1, 2, 3]"],
  ["unknown enum value", '{"model": "default", "messages": [{"role": "ROLE_BOSS"}]}'],
  ["trailing garbage", `${validJson} }}`],
  ["protobuf bytes sent as JSON", validBinary.toString("latin1")],
];

// ---- clients: raw requests so the bytes on the wire are exactly ours -------------------------------------------

interface Outcome {
  /** A code name ("invalid_argument"), or "http_<status>" when the protocol answered with a bare HTTP status. */
  code: string;
  message: string;
}

function h1(path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { ...headers, "content-length": String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Split a body into envelopes; a truncated tail is reported as an envelope with flags -1. */
function envelopes(body: Buffer): { flags: number; data: Buffer }[] {
  const out: { flags: number; data: Buffer }[] = [];
  let i = 0;
  while (i < body.length) {
    if (body.length - i < 5 || body.length - i - 5 < body.readUInt32BE(i + 1)) {
      out.push({ flags: -1, data: body.subarray(i) });
      break;
    }
    const len = body.readUInt32BE(i + 1);
    out.push({ flags: body[i], data: body.subarray(i + 5, i + 5 + len) });
    i += 5 + len;
  }
  return out;
}

async function connectUnary(ct: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await h1(COMPLETE, { "content-type": ct, "connect-protocol-version": "1", ...headers }, body);
  if (res.status === 200) return { code: "ok", message: "" };
  if (!String(res.headers["content-type"]).startsWith("application/json")) return { code: `http_${res.status}`, message: res.body.toString() };
  const err = JSON.parse(res.body.toString()) as { code: string; message?: string };
  // The HTTP status must agree with the code (Connect maps invalid_argument to 400, unimplemented to 501, ...).
  const statusFor: Record<string, number> = { invalid_argument: 400, unimplemented: 501, not_found: 404, resource_exhausted: 429, internal: 500 };
  if (statusFor[err.code]) assert.equal(res.status, statusFor[err.code], `HTTP status for ${err.code}`);
  return { code: err.code, message: err.message ?? "" };
}

async function connectStream(ct: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await h1(STREAM, { "content-type": ct, "connect-protocol-version": "1", ...headers }, body);
  if (res.status !== 200) return { code: `http_${res.status}`, message: res.body.toString() };
  const end = envelopes(res.body).find((e) => e.flags === 0x02);
  assert.ok(end, "a Connect stream ends with an end-stream envelope");
  const json = JSON.parse(end.data.toString()) as { error?: { code: string; message?: string } };
  return json.error ? { code: json.error.code, message: json.error.message ?? "" } : { code: "ok", message: "" };
}

function grpc(path: string, ct: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const stream = h2.request({ ":method": "POST", ":path": path, "content-type": ct, te: "trailers", ...headers });
    let head: http2.IncomingHttpHeaders = {};
    let status: string | undefined;
    let message = "";
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) {
        status = String(h["grpc-status"]);
        message = decodeURIComponent(String(h["grpc-message"] ?? ""));
      }
    };
    stream.on("response", (h) => {
      head = h;
      take(h); // trailers-only responses carry the status in the headers
    });
    stream.on("trailers", take);
    stream.on("data", () => {});
    stream.on("error", reject);
    stream.on("close", () => {
      if (status !== undefined) resolve({ code: CODE_NAMES[Number(status)] ?? `grpc_${status}`, message });
      else if (head[":status"] !== undefined && Number(head[":status"]) !== 200) resolve({ code: `http_${head[":status"]}`, message: "" });
      else reject(new Error(`gRPC response without grpc-status (rst code ${stream.rstCode})`));
    });
    stream.end(body);
  });
}

async function grpcWeb(path: string, ct: string, body: Buffer, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await h1(path, { "content-type": ct, "x-grpc-web": "1", ...headers }, body);
  if (res.headers["grpc-status"] !== undefined) {
    const s = Number(res.headers["grpc-status"]);
    return { code: CODE_NAMES[s] ?? `grpc_${s}`, message: decodeURIComponent(String(res.headers["grpc-message"] ?? "")) };
  }
  if (res.status !== 200) return { code: `http_${res.status}`, message: res.body.toString() };
  const trailer = envelopes(res.body).find((e) => (e.flags & 0x80) === 0x80);
  assert.ok(trailer, "a gRPC-web response ends with a trailer envelope");
  const fields = new Map(
    trailer.data
      .toString()
      .split("\r\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()] as const),
  );
  const s = Number(fields.get("grpc-status"));
  return { code: CODE_NAMES[s] ?? `grpc_${s}`, message: decodeURIComponent(fields.get("grpc-message") ?? "") };
}

// ---- the protocols under test ----------------------------------------------------------------------------------

interface Door {
  name: string;
  /** Send one protobuf (or, for JSON doors, JSON text) message, framed as the protocol frames it. */
  message(payload: Buffer, headers?: Record<string, string>): Promise<Outcome>;
  /** Send the body exactly as given (no framing), with the protocol's content type unless overridden. */
  raw(body: Buffer, headers?: Record<string, string>): Promise<Outcome>;
  /** Envelope protocols: the header that names the per-message compression. */
  encodingHeader: string;
  enveloped: boolean;
}

const doors: Door[] = [
  {
    name: "Connect unary binary",
    message: (p, h) => connectUnary("application/proto", p, h),
    raw: (b, h) => connectUnary("application/proto", b, h),
    encodingHeader: "content-encoding",
    enveloped: false,
  },
  {
    name: "Connect unary JSON",
    message: (p, h) => connectUnary("application/json", p, h),
    raw: (b, h) => connectUnary("application/json", b, h),
    encodingHeader: "content-encoding",
    enveloped: false,
  },
  {
    name: "Connect server-stream binary",
    message: (p, h) => connectStream("application/connect+proto", envelope(p), h),
    raw: (b, h) => connectStream("application/connect+proto", b, h),
    encodingHeader: "connect-content-encoding",
    enveloped: true,
  },
  {
    name: "Connect server-stream JSON",
    message: (p, h) => connectStream("application/connect+json", envelope(p), h),
    raw: (b, h) => connectStream("application/connect+json", b, h),
    encodingHeader: "connect-content-encoding",
    enveloped: true,
  },
  {
    name: "gRPC (h2c) unary",
    message: (p, h) => grpc(COMPLETE, "application/grpc", envelope(p), h),
    raw: (b, h) => grpc(COMPLETE, "application/grpc", b, h),
    encodingHeader: "grpc-encoding",
    enveloped: true,
  },
  {
    name: "gRPC (h2c) server-stream",
    message: (p, h) => grpc(STREAM, "application/grpc+proto", envelope(p), h),
    raw: (b, h) => grpc(STREAM, "application/grpc+proto", b, h),
    encodingHeader: "grpc-encoding",
    enveloped: true,
  },
  {
    name: "gRPC-web (HTTP/1.1) unary",
    message: (p, h) => grpcWeb(COMPLETE, "application/grpc-web+proto", envelope(p), h),
    raw: (b, h) => grpcWeb(COMPLETE, "application/grpc-web+proto", b, h),
    encodingHeader: "grpc-encoding",
    enveloped: true,
  },
  {
    name: "gRPC-web (HTTP/1.1) server-stream",
    message: (p, h) => grpcWeb(STREAM, "application/grpc-web", envelope(p), h),
    raw: (b, h) => grpcWeb(STREAM, "application/grpc-web", b, h),
    encodingHeader: "grpc-encoding",
    enveloped: true,
  },
];

const isJson = (d: Door) => d.name.includes("JSON");
const validPayload = (d: Door) => (isJson(d) ? Buffer.from(validJson) : validBinary);

function expectCode(o: Outcome, code: string, what: string): void {
  assert.equal(o.code, code, `${what}: got ${o.code} (${o.message})`);
}

function expectClientSide(o: Outcome, what: string): void {
  assert.ok(o.code !== "internal" && o.code !== "unknown" && o.code !== "ok" && !o.code.startsWith("http_5"), `${what}: got ${o.code} (${o.message})`);
}

/** A gzip body cut short: zlib reports "unexpected end of file" (Z_BUF_ERROR), not a data error. */
const truncatedGzip = (b: Buffer) => {
  const z = gzipSync(b);
  return z.subarray(0, z.length - 6);
};
const notGzip = Buffer.from("this is not gzip at all");

for (const door of doors) {
  describe(door.name, () => {
    test("a valid call succeeds (baseline)", async () => {
      expectCode(await door.message(validPayload(door)), "ok", "valid call");
    });

    if (!isJson(door)) {
      test("hand-picked malformed protobuf: invalid_argument", async () => {
        for (const [name, bytes] of BAD_PROTO) {
          const o = await door.message(bytes);
          expectCode(o, "invalid_argument", name);
          assert.match(o.message, /^parse binary: /, `${name}: rejected by the decoder, not by validation`);
        }
      });

      test("50 seeded random protobuf bodies: never internal", async () => {
        const rand = prng(0x5eed + door.name.length);
        const seen = new Map<string, number>();
        for (let i = 0; i < 50; i++) {
          const bytes = randomBytes(rand, 1, 80);
          const o = await door.message(bytes);
          expectClientSide(o, `random case ${i} (${bytes.toString("hex")})`);
          seen.set(o.code, (seen.get(o.code) ?? 0) + 1);
        }
        // Almost every random body fails to decode; the few that decode fail the gateway's own validation.
        assert.ok((seen.get("invalid_argument") ?? 0) >= 45, `codes seen: ${JSON.stringify([...seen])}`);
      });
    } else {
      test("malformed JSON: invalid_argument", async () => {
        for (const [name, text] of BAD_JSON) expectCode(await door.message(Buffer.from(text, "latin1")), "invalid_argument", name);
      });

      test("50 seeded random bodies as JSON: never internal", async () => {
        const rand = prng(0x15 + door.name.length);
        for (let i = 0; i < 50; i++) {
          const bytes = randomBytes(rand, 1, 80);
          expectCode(await door.message(bytes), "invalid_argument", `random case ${i} (${bytes.toString("hex")})`);
        }
      });
    }

    test("compressed body that does not inflate: invalid_argument", async () => {
      const payload = validPayload(door);
      const cases: [string, Buffer][] = [
        ["not gzip at all", notGzip],
        ["gzip cut short", truncatedGzip(payload)],
        ["gzip of garbage protobuf", gzipSync(BAD_PROTO[1][1])],
      ];
      for (const [name, bytes] of cases) {
        if (isJson(door) && name === "gzip of garbage protobuf") continue;
        const o = door.enveloped
          ? await door.raw(envelope(bytes, 0x01), { [door.encodingHeader]: "gzip" })
          : await door.raw(bytes, { [door.encodingHeader]: "gzip" });
        expectCode(o, "invalid_argument", name);
      }
      // ...and a correctly gzipped body still works.
      const ok = door.enveloped
        ? await door.raw(envelope(gzipSync(payload), 0x01), { [door.encodingHeader]: "gzip" })
        : await door.raw(gzipSync(payload), { [door.encodingHeader]: "gzip" });
      expectCode(ok, "ok", "valid gzip");
      // Brotli that is not brotli.
      const br = door.enveloped ? await door.raw(envelope(notGzip, 0x01), { [door.encodingHeader]: "br" }) : await door.raw(notGzip, { [door.encodingHeader]: "br" });
      expectCode(br, "invalid_argument", "not brotli");
    });

    test("unknown compression: unimplemented", async () => {
      for (const enc of ["br2", "snappy"]) {
        const payload = validPayload(door);
        const o = door.enveloped ? await door.raw(envelope(payload, 0x01), { [door.encodingHeader]: enc }) : await door.raw(payload, { [door.encodingHeader]: enc });
        expectCode(o, "unimplemented", enc);
      }
    });

    if (door.enveloped) {
      test("truncated frames: invalid_argument", async () => {
        const payload = validPayload(door);
        const cases: [string, Buffer][] = [
          ["declared length exceeds the bytes sent", envelope(payload, 0, payload.length + 100)],
          ["declared 1000 bytes, 10 sent", envelope(payload.subarray(0, 10), 0, 1000)],
          ["envelope header cut short", Buffer.from([0x00, 0x00, 0x00])],
          ["second envelope cut short", Buffer.concat([envelope(payload), Buffer.from([0x00, 0x00])])],
          ["compressed flag without an encoding", envelope(payload, 0x01)],
        ];
        for (const [name, body] of cases) expectCode(await door.raw(body), "invalid_argument", name);
      });

      test("10 seeded random bodies without framing: never internal", async () => {
        const rand = prng(0xf4a3e + door.name.length);
        for (let i = 0; i < 10; i++) {
          const bytes = randomBytes(rand, 1, 40);
          expectClientSide(await door.raw(bytes), `random raw case ${i} (${bytes.toString("hex")})`);
        }
      });
    }

    test("wrong content type: HTTP 415 (Connect, gRPC and gRPC-web specs), never internal", async () => {
      const cts = ["text/plain", "application/xml", "application/grpc-web-text", "application/connect+thrift"];
      for (const ct of cts) {
        const o = await door.raw(door.enveloped ? envelope(validPayload(door)) : validPayload(door), { "content-type": ct });
        expectCode(o, "http_415", ct);
      }
    });

    test("after all of that, a valid call still succeeds", async () => {
      expectCode(await door.message(validPayload(door)), "ok", "valid call");
    });
  });
}

test("protobuf bytes under a JSON content type parse as JSON: invalid_argument on every door that takes JSON", async () => {
  expectCode(await connectUnary("application/json", validBinary), "invalid_argument", "Connect unary");
  expectCode(await connectStream("application/connect+json", envelope(validBinary)), "invalid_argument", "Connect stream");
  expectCode(await grpc(COMPLETE, "application/grpc+json", envelope(validBinary)), "invalid_argument", "gRPC+json");
  expectCode(await grpcWeb(COMPLETE, "application/grpc-web+json", envelope(validBinary)), "invalid_argument", "gRPC-web+json");
});

test("the gateway keeps serving: health, then a real call on every protocol", async () => {
  const res = await fetch(`${t.url}/healthz`);
  assert.equal(res.status, 200);
  expectCode(await connectUnary("application/proto", validBinary), "ok", "Connect");
  expectCode(await connectStream("application/connect+proto", envelope(validBinary)), "ok", "Connect stream");
  expectCode(await grpc(COMPLETE, "application/grpc", envelope(validBinary)), "ok", "gRPC");
  expectCode(await grpc(STREAM, "application/grpc", envelope(validBinary)), "ok", "gRPC stream");
  expectCode(await grpcWeb(COMPLETE, "application/grpc-web+proto", envelope(validBinary)), "ok", "gRPC-web");
});
