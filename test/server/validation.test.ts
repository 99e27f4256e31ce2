// Bad requests get the right code and a message naming the field; nothing reaches a provider;
// the server keeps serving.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createSignalboxClient, ErrorInfoSchema, userText, type ChatRequest } from "@signalbox/client";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ChatRequestSchema } from "../../gen/signalbox/v1/chat_pb.ts";

let t: TestGateway;
before(async () => {
  t = await startTestGateway(MOCK_CONFIG);
});
after(() => t.close());

const ok = { model: "default", messages: [userText("hi")] };

const cases: [string, MessageInitShape<typeof ChatRequestSchema>, Code, RegExp][] = [
  ["missing model", { ...ok, model: "" }, Code.InvalidArgument, /^model: is required/],
  ["empty messages", { ...ok, messages: [] }, Code.InvalidArgument, /^messages: must contain at least one message/],
  ["message without role", { ...ok, messages: [{ content: [{ part: { case: "text", value: "x" } }] }] }, Code.InvalidArgument, /^messages\[0\]\.role: is required/],
  ["empty message content", { ...ok, messages: [{ role: 2 }] }, Code.InvalidArgument, /^messages\[0\]\.content: must not be empty/],
  ["temperature out of range", { ...ok, temperature: 2.5 }, Code.InvalidArgument, /^temperature: must be between 0 and 2, got 2\.5/],
  ["top_p out of range", { ...ok, topP: -0.1 }, Code.InvalidArgument, /^top_p: /],
  ["max_output_tokens zero", { ...ok, maxOutputTokens: 0 }, Code.InvalidArgument, /^max_output_tokens: /],
  ["too many stops", { ...ok, stop: ["a", "b", "c", "d", "e"] }, Code.InvalidArgument, /^stop: at most 4/],
  ["bad tool name", { ...ok, tools: [{ name: "has space" }] }, Code.InvalidArgument, /^tools\[0\]\.name: /],
  ["tool_choice names unknown tool", { ...ok, tools: [{ name: "a" }], toolChoice: { choice: { case: "tool", value: "b" } } }, Code.InvalidArgument, /^tool_choice\.tool: /],
  [
    "tool result without call",
    { ...ok, messages: [userText("x"), { role: 4, toolCallId: "nope", content: [{ part: { case: "text", value: "r" } }] }] },
    Code.InvalidArgument,
    /^messages\[1\]\.tool_call_id: "nope" answers no earlier assistant tool call/,
  ],
  ["image without source", { ...ok, messages: [{ role: 2, content: [{ part: { case: "image", value: {} } }] }] }, Code.InvalidArgument, /^messages\[0\]\.content\[0\]\.image: needs url or data/],
  ["unknown model", { ...ok, model: "gpt-9" }, Code.NotFound, /^model: unknown route, alias or deployment "gpt-9"/],
  ["unknown fallback", { ...ok, routing: { fallbacks: ["nope"] } }, Code.InvalidArgument, /^routing\.fallbacks: unknown/],
];

for (const [name, req, code, msg] of cases) {
  test(`${name} → ${Code[code]}`, async () => {
    const before = t.usage.recent().filter((r) => r.attempts.length > 0).length;
    const client = createSignalboxClient({ baseUrl: t.url });
    for (const call of [() => client.chat.complete(req), async () => { for await (const _ of client.chat.stream(req)); }, () => client.route.route(req)]) {
      await assert.rejects(call(), (e: unknown) => {
        const ce = ConnectError.from(e);
        assert.equal(ce.code, code, ce.message);
        assert.match(ce.rawMessage, msg);
        return true;
      });
    }
    const after = t.usage.recent().filter((r) => r.attempts.length > 0).length;
    assert.equal(after, before, "nothing reached a provider");
  });
}

test("invalid_argument carries the field in ErrorInfo", async () => {
  const client = createSignalboxClient({ baseUrl: t.url });
  try {
    await client.chat.complete({ ...ok, temperature: 9 });
    assert.fail("expected an error");
  } catch (e) {
    const info = ConnectError.from(e).findDetails(ErrorInfoSchema)[0];
    assert.equal(info?.field, "temperature");
  }
});

test("an oversized body is refused (resource_exhausted / 413) and the server keeps serving", async () => {
  const big = "x".repeat(70_000);
  const client = createSignalboxClient({ baseUrl: t.url });
  await assert.rejects(client.chat.complete({ ...ok, messages: [userText(big)] }), (e: unknown) => {
    const ce = ConnectError.from(e);
    assert.equal(ce.code, Code.ResourceExhausted, ce.message);
    assert.match(ce.rawMessage, /65536/, "the message names the limit");
    return true;
  });
  // gRPC over HTTP/2 sends no content-length: Connect's own read limit applies.
  const grpc = createSignalboxClient({ baseUrl: t.url, protocol: "grpc" });
  await assert.rejects(grpc.chat.complete({ ...ok, messages: [userText(big)] }), (e: unknown) => ConnectError.from(e).code === Code.ResourceExhausted);
  const res = await client.chat.complete(ok);
  assert.equal(res.deployment, "mock/a");
});

test("bad usage queries name the field", async () => {
  const client = createSignalboxClient({ baseUrl: t.url });
  await assert.rejects(client.usage.getUsage({}), /start_time: is required/);
  await assert.rejects(
    client.usage.getUsage({ startTime: timestampFromMs(2000), endTime: timestampFromMs(1000) }),
    (e: unknown) => ConnectError.from(e).code === Code.InvalidArgument && /end_time: must be after start_time/.test(ConnectError.from(e).rawMessage),
  );
  await assert.rejects(client.usage.getUsage({ startTime: timestampFromMs(1000), groupBy: [99 as never] }), /group_by\[0\]: unknown dimension 99/);
});

test("malformed JSON is invalid_argument", async () => {
  const res = await fetch(`${t.url}/signalbox.v1.ChatService/Complete`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { code: string };
  assert.equal(body.code, "invalid_argument");
});

export type { ChatRequest };
