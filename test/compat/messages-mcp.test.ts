// Anthropic's MCP connector (`mcp_servers` on /v1/messages) run by the gateway, for a model that is
// not Claude (a fake OpenAI upstream), against a real MCP server, through the official
// `@anthropic-ai/sdk` beta client: mcp_tool_use and mcp_tool_result blocks in the message, unary and
// streamed; the 2025-11-20 form (mcp_toolset tools) choosing tools; a conversation sent back with
// those blocks; and the refusals, which reach neither the model nor the server.

import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { hashKey } from "../../src/server/auth.ts";
import { PIXEL_PNG } from "../helpers/fake-mcp.ts";
import { mcpRig } from "../helpers/mcp-rig.ts";

const KEY = ["sk", "test", "messages-mcp", "77aa01"].join("-");

const rig = mcpRig({
  route: "agent",
  keys: `  - { name: agent, hash: "${hashKey(KEY)}", team: a, role: team }`,
  servers: `  - { id: math, url: \${MATH_URL}, tools: [add, echo, fail] }
  - { id: camera, url: \${MATH_URL}, tools: [screenshot] }`,
  ready: (r) => {
    client = new Anthropic({ baseURL: r.gw.url, apiKey: KEY, maxRetries: 0 });
  },
});
let client: Anthropic;

type Json = Record<string, any>;
const upstream = () => rig.upstream();
const servers = () => [{ type: "url" as const, url: `${rig.gw.url}/mcp/math`, name: "math" }];
const BETAS = ["mcp-client-2025-04-04"];

test("the gateway runs the model's MCP calls within one message: mcp_tool_use, mcp_tool_result, then the answer (unary)", async () => {
  rig.openai.script([
    { kind: "tool_calls", calls: [{ id: "call_1", name: "math__add", arguments: { a: 2, b: 3 } }], usage: { input: 50, output: 5 } },
    { kind: "text", text: "2 + 3 = 5", usage: { input: 70, output: 6 } },
  ]);
  const m = (await client.beta.messages.create({ model: "agent", max_tokens: 256, messages: [{ role: "user", content: "What is 2 + 3?" }], mcp_servers: servers(), betas: BETAS })) as unknown as Json;
  assert.deepEqual(m.content.map((b: Json) => b.type), ["mcp_tool_use", "mcp_tool_result", "text"]);
  assert.deepEqual(m.content[0], { type: "mcp_tool_use", id: "call_1", name: "add", server_name: "math", input: { a: 2, b: 3 } });
  assert.deepEqual(m.content[1], { type: "mcp_tool_result", tool_use_id: "call_1", is_error: false, content: [{ type: "text", text: "5" }] });
  assert.equal(m.content[2].text, "2 + 3 = 5");
  assert.equal(m.stop_reason, "end_turn");
  assert.equal(m.usage.input_tokens, 120);
  assert.equal(m.usage.output_tokens, 11);
  assert.deepEqual(rig.math.calls, [{ name: "add", arguments: { a: 2, b: 3 } }]);
  const [first, second] = upstream();
  assert.deepEqual(first.tools.map((t: Json) => t.function.name).sort(), ["math__add", "math__echo", "math__fail"]);
  assert.deepEqual(second.messages.at(-1), { role: "tool", tool_call_id: "call_1", content: "5" });
  const recs = rig.gw.usage.recent().filter((r) => r.operation === "tool_call");
  assert.equal(recs.at(-1)!.metadata.via, "messages");
});

test("streamed: the blocks stream in order, one index across the turns, and the SDK's final message has them", async () => {
  rig.openai.script([
    { kind: "tool_calls", calls: [{ id: "call_s", name: "math__echo", arguments: { text: "hi" } }] },
    { kind: "text", text: ["It said ", "hi."] },
  ]);
  const stream = client.beta.messages.stream({ model: "agent", max_tokens: 256, messages: [{ role: "user", content: "Echo hi" }], mcp_servers: servers(), betas: BETAS });
  const starts: [number, string][] = [];
  let deltas = 0;
  for await (const ev of stream) {
    if (ev.type === "content_block_start") starts.push([ev.index, ev.content_block.type]);
    if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") deltas++;
  }
  const final = (await stream.finalMessage()) as unknown as Json;
  assert.deepEqual(starts, [
    [0, "mcp_tool_use"],
    [1, "mcp_tool_result"],
    [2, "text"],
  ]);
  assert.equal(deltas, 2, "the answer's text streamed as it came");
  assert.deepEqual(final.content.map((b: Json) => b.type), ["mcp_tool_use", "mcp_tool_result", "text"]);
  assert.deepEqual(final.content[0].input, { text: "hi" });
  assert.equal(final.content[1].content[0].text, "hi");
  assert.equal(final.content[2].text, "It said hi.");
  assert.equal(final.stop_reason, "end_turn");
});

test("mcp_toolset (mcp-client-2025-11-20) chooses the tools; the configured URL names the server too", async () => {
  rig.openai.script([{ kind: "text", text: "ok" }]);
  await client.beta.messages.create({
    model: "agent",
    max_tokens: 64,
    messages: [{ role: "user", content: "hi" }],
    mcp_servers: [{ type: "url", url: rig.math.url, name: "math" }],
    tools: [{ type: "mcp_toolset", mcp_server_name: "math", default_config: { enabled: false }, configs: { echo: { enabled: true } } }] as never,
    betas: ["mcp-client-2025-11-20"],
  });
  assert.deepEqual(upstream()[0].tools.map((t: Json) => t.function.name), ["math__echo"]);
});

test("a conversation sent back with mcp_tool_use and mcp_tool_result blocks reads as the call and its result", async () => {
  rig.openai.script([{ kind: "text", text: "You're welcome." }]);
  await client.beta.messages.create({
    model: "agent",
    max_tokens: 64,
    mcp_servers: servers(),
    betas: BETAS,
    messages: [
      { role: "user", content: "What is 2 + 3?" },
      {
        role: "assistant",
        content: [
          { type: "mcp_tool_use", id: "call_h", name: "add", server_name: "math", input: { a: 2, b: 3 } },
          { type: "mcp_tool_result", tool_use_id: "call_h", is_error: false, content: [{ type: "text", text: "5" }] },
          { type: "text", text: "It is 5." },
        ],
      },
      { role: "user", content: "Thanks" },
    ] as never,
  });
  const msgs = upstream()[0].messages as Json[];
  assert.deepEqual(
    msgs.map((m) => m.role),
    ["user", "assistant", "tool", "assistant", "user"],
  );
  assert.equal(msgs[1].tool_calls[0].function.name, "math__add");
  assert.deepEqual(msgs[2], { role: "tool", tool_call_id: "call_h", content: "5" });
  assert.equal(rig.math.calls.length, 0, "history runs nothing again");
});

test("refusals name the field and reach neither the model nor the server", async () => {
  const cases: [unknown, RegExp][] = [
    [[{ type: "url", url: "https://elsewhere.example/mcp", name: "nope" }], /mcp_servers\.0\.name: no MCP server "nope"/],
    [[{ type: "url", url: "https://elsewhere.example/mcp", name: "math" }], /mcp_servers\.0\.url: is neither the URL of MCP server "math"/],
    [[{ type: "url", url: rig.math.url, name: "math", authorization_token: "x" }], /mcp_servers\.0\.authorization_token/],
  ];
  for (const [mcp, message] of cases) {
    await assert.rejects(client.beta.messages.create({ model: "agent", max_tokens: 64, messages: [{ role: "user", content: "hi" }], mcp_servers: mcp as never, betas: BETAS }), (err: { status?: number; message: string; error?: { error?: { message?: string } } }) => {
      assert.equal(err.status, 400, err.message);
      assert.match(err.error?.error?.message ?? err.message, message);
      return true;
    });
  }
  await assert.rejects(
    client.beta.messages.create({ model: "agent", max_tokens: 64, messages: [{ role: "user", content: "hi" }], mcp_servers: servers(), tools: [{ type: "mcp_toolset", mcp_server_name: "other" }] as never, betas: BETAS }),
    /tools\.0\.mcp_server_name: names no server of mcp_servers/,
  );
  assert.equal(rig.openai.requests.length, 0);
  assert.equal(rig.math.calls.length, 0);
});

test("a tool's image (a screenshot) is an image block of the mcp_tool_result, and the model sees it", async () => {
  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_img", name: "camera__screenshot", arguments: {} }] }, { kind: "text", text: "A pixel." }]);
  const m = (await client.beta.messages.create({ model: "agent", max_tokens: 64, messages: [{ role: "user", content: "Look" }], mcp_servers: [{ type: "url", url: `${rig.gw.url}/mcp/camera`, name: "camera" }], betas: BETAS })) as unknown as Json;
  const result = m.content.find((b: Json) => b.type === "mcp_tool_result");
  assert.deepEqual(result.content, [
    { type: "text", text: "the page" },
    { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL_PNG } },
  ]);
  assert.ok(JSON.stringify(upstream()[1].messages).includes(`data:image/png;base64,${PIXEL_PNG}`), "the image went to the model");
});
