// The Responses API's `mcp` tool, run by the gateway against a real MCP server (the official
// SDK's, on a loopback port) with a fake OpenAI upstream, through the official `openai` SDK:
// the tool list item, calls run between model turns (unary and streamed, with OpenAI's event
// names), approvals (an mcp_approval_request answered by mcp_approval_response on the next turn,
// approved or not), tool errors, a continuation that does not list again, usage summed over the
// turns, and the refusals (an unknown server, a server_url that is not the configured one,
// headers, background, in a batch line), which reach neither the model nor the server.

import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { PIXEL_PNG } from "../helpers/fake-mcp.ts";
import { mcpRig } from "../helpers/mcp-rig.ts";

const key = (name: string) => ["sk", "test", name, "5e1b7c0a9d"].join("-");
const TEAM_A = key("team-a");
const TEAM_B = key("team-b");

const rig = mcpRig({
  route: "agent",
  keys: `  - { name: team-a, hash: "${hashKey(TEAM_A)}", team: a, role: team }
  - { name: team-b, hash: "${hashKey(TEAM_B)}", team: b, role: team }`,
  servers: `  - { id: math, url: \${MATH_URL}, tools: [add, echo, fail, whoami], teams: [a], price_per_call_usd: 0.001 }
  - { id: camera, url: \${MATH_URL}, tools: [screenshot] }`,
  ready: (r) => {
    client = new OpenAI({ baseURL: `${r.gw.url}/v1`, apiKey: TEAM_A, maxRetries: 0 });
  },
});
let client: OpenAI;

type Json = Record<string, any>;

const MCP = { type: "mcp", server_label: "math", require_approval: "never" } as const;
/** What the model was offered and sent, request by request. */
const upstream = () => rig.upstream();
const toolNames = (body: Json) => (body.tools ?? []).map((t: Json) => t.function.name).sort();

test("the gateway lists the server's tools, runs the model's call and gives the model its result (unary)", async () => {
  rig.openai.script([
    { kind: "tool_calls", calls: [{ id: "call_1", name: "math__add", arguments: { a: 2, b: 3 } }], usage: { input: 100, output: 10 } },
    { kind: "text", text: "2 + 3 = 5", usage: { input: 130, output: 8 } },
  ]);
  const r = (await client.responses.create({ model: "agent", input: "What is 2 + 3?", tools: [MCP as never] })) as unknown as Json;
  assert.equal(r.status, "completed");
  assert.deepEqual(
    r.output.map((o: Json) => o.type),
    ["mcp_list_tools", "mcp_call", "message"],
  );
  const list = r.output[0];
  assert.equal(list.server_label, "math");
  assert.deepEqual(list.tools.map((t: Json) => t.name), ["add", "echo", "whoami", "fail"], "as the server lists them, filtered by the configuration");
  assert.deepEqual(list.tools[0].input_schema.required, ["a", "b"]);
  const call = r.output[1];
  assert.equal(call.name, "add");
  assert.equal(call.server_label, "math");
  assert.deepEqual(JSON.parse(call.arguments), { a: 2, b: 3 });
  assert.equal(call.output, "5");
  assert.equal(call.error, null);
  assert.match(call.id, /^mcp_/);
  assert.equal(r.output_text, "2 + 3 = 5");
  assert.deepEqual(rig.math.calls, [{ name: "add", arguments: { a: 2, b: 3 } }]);

  // The model was offered the server's tools as functions, and saw the call and its result.
  const [first, second] = upstream();
  assert.deepEqual(toolNames(first), ["math__add", "math__echo", "math__fail", "math__whoami"]);
  const msgs = second.messages as Json[];
  const asked = msgs.find((m) => m.role === "assistant")!;
  assert.equal(asked.tool_calls[0].function.name, "math__add");
  assert.equal(asked.tool_calls[0].id, "call_1");
  assert.deepEqual(msgs[msgs.length - 1], { role: "tool", tool_call_id: "call_1", content: "5" });

  // Usage: both model turns summed; a record per turn and one for the call.
  assert.equal(r.usage.input_tokens, 230);
  assert.equal(r.usage.output_tokens, 18);
  const recs = rig.gw.usage.recent().filter((x) => x.traceId === r.signalbox.trace_id);
  assert.equal(recs.filter((x) => (x.operation ?? "chat") === "chat").length, 2);
  const tool = recs.find((x) => x.operation === "tool_call")!;
  assert.equal(tool.key, "team-a");
  assert.equal(tool.metadata.via, "responses");
  assert.equal(tool.cost.total, 1_000_000);
  const chatCost = recs.filter((x) => (x.operation ?? "chat") === "chat").reduce((s, x) => s + x.cost.total, 0);
  assert.equal(r.signalbox.cost_nano_usd, chatCost);
});

test("streamed: OpenAI's events for the list and the call, in order, the turns token by token, and the SDK's final response", async () => {
  rig.openai.script([
    { kind: "tool_calls", calls: [{ id: "call_s", name: "math__echo", arguments: { text: "hello" } }] },
    { kind: "text", text: ["It said ", "hello."] },
  ]);
  const stream = client.responses.stream({ model: "agent", input: "Echo hello", tools: [MCP as never] });
  const types: string[] = [];
  for await (const ev of stream) types.push(ev.type);
  const final = (await stream.finalResponse()) as unknown as Json;
  assert.equal(final.output_text, "It said hello.");
  assert.deepEqual(final.output.map((o: Json) => o.type), ["mcp_list_tools", "mcp_call", "message"]);
  assert.equal(final.output[1].output, "hello");
  const order = [
    "response.created",
    "response.in_progress",
    "response.mcp_list_tools.in_progress",
    "response.mcp_list_tools.completed",
    "response.mcp_call.in_progress",
    "response.mcp_call_arguments.done",
    "response.mcp_call.completed",
    "response.output_text.delta",
    "response.completed",
  ];
  // The model's turns are streamed as they come: the answer's two deltas are two events.
  assert.equal(types.filter((t) => t === "response.output_text.delta").length, 2);
  assert.ok(types.includes("response.mcp_call_arguments.delta"));
  let at = -1;
  for (const t of order) {
    const i = types.indexOf(t, at + 1);
    assert.ok(i > at, `${t} after the events before it: ${types.join(", ")}`);
    at = i;
  }
});

test("approval: the call waits as an mcp_approval_request; approved on the next turn, it runs and the model answers", async () => {
  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_a", name: "math__add", arguments: { a: 4, b: 5 } }] }]);
  const tools = [{ type: "mcp", server_label: "math" }] as never[];
  const first = (await client.responses.create({ model: "agent", input: "4 + 5?", tools })) as unknown as Json;
  assert.deepEqual(first.output.map((o: Json) => o.type), ["mcp_list_tools", "mcp_approval_request"]);
  const req = first.output[1];
  assert.equal(req.name, "add");
  assert.equal(rig.math.calls.length, 0, "nothing ran before the approval");

  rig.openai.script([{ kind: "text", text: "9" }]);
  const second = (await client.responses.create({ model: "agent", previous_response_id: first.id, input: [{ type: "mcp_approval_response", approval_request_id: req.id, approve: true }] as never, tools })) as unknown as Json;
  assert.deepEqual(second.output.map((o: Json) => o.type), ["mcp_call", "message"], "the list is not made again in a conversation that has it");
  assert.equal(second.output[0].approval_request_id, req.id);
  assert.equal(second.output[0].output, "9");
  assert.equal(second.output_text, "9");
  assert.deepEqual(rig.math.calls, [{ name: "add", arguments: { a: 4, b: 5 } }]);
  const msgs = upstream().at(-1)!.messages as Json[];
  assert.deepEqual(msgs.at(-1), { role: "tool", tool_call_id: req.id, content: "9" });

  // A third turn sees the call as history (no approval request, the call and its result).
  rig.openai.script([{ kind: "text", text: "ok" }]);
  await client.responses.create({ model: "agent", previous_response_id: second.id, input: "thanks", tools });
  const third = upstream().at(-1)!.messages as Json[];
  assert.ok(third.some((m) => m.role === "tool" && m.content === "9"));
});

test("approval refused: nothing runs and the model is told", async () => {
  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_d", name: "math__whoami", arguments: {} }] }]);
  const tools = [{ type: "mcp", server_label: "math", require_approval: { never: { tool_names: ["add"] } } }] as never[];
  const first = (await client.responses.create({ model: "agent", input: "who?", tools })) as unknown as Json;
  const req = first.output.find((o: Json) => o.type === "mcp_approval_request");
  assert.ok(req, "whoami is not in never: it waits");
  rig.openai.script([{ kind: "text", text: "fine" }]);
  const second = (await client.responses.create({ model: "agent", previous_response_id: first.id, input: [{ type: "mcp_approval_response", approval_request_id: req.id, approve: false, reason: "not now" }] as never, tools })) as unknown as Json;
  assert.deepEqual(second.output.map((o: Json) => o.type), ["message"]);
  assert.equal(rig.math.calls.length, 0);
  const msgs = upstream().at(-1)!.messages as Json[];
  assert.match(msgs.at(-1)!.content, /did not approve this call of whoami: not now/);
});

test("a tool's error is the call's error, and the model is told", async () => {
  rig.openai.script([
    { kind: "tool_calls", calls: [{ id: "call_f", name: "math__fail", arguments: {} }] },
    { kind: "text", text: "It failed." },
  ]);
  const r = (await client.responses.create({ model: "agent", input: "try", tools: [MCP as never] })) as unknown as Json;
  const call = r.output.find((o: Json) => o.type === "mcp_call");
  assert.equal(call.error, "the tool failed on purpose");
  assert.equal(call.output, null);
  assert.match(upstream()[1].messages.at(-1).content, /^Error: the tool failed on purpose/);
});

test("a call of the caller's own function ends the response with it, as without mcp tools", async () => {
  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_o", name: "lookup", arguments: { q: "x" } }] }]);
  const r = (await client.responses.create({ model: "agent", input: "look up x", tools: [MCP as never, { type: "function", name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } }, strict: false }] })) as unknown as Json;
  assert.deepEqual(r.output.map((o: Json) => o.type), ["mcp_list_tools", "function_call"]);
  assert.equal(rig.openai.requests.length, 1);
});

test("refusals name the field and reach neither the model nor the server", async () => {
  const cases: [unknown[], RegExp, string?][] = [
    [[{ type: "mcp", server_label: "nope" }], /tools\[0\]\.server_label: no MCP server "nope"/],
    [[{ type: "mcp", server_label: "math", server_url: "https://elsewhere.example/mcp" }], /tools\[0\]\.server_url: is neither the URL of MCP server "math" nor the gateway's own \/mcp\/math/],
    [[{ type: "mcp", server_label: "math", headers: { a: "b" } }], /tools\[0\]\.headers: the gateway calls MCP servers with their own credentials/],
    [[{ type: "mcp", server_label: "math", require_approval: "sometimes" }], /tools\[0\]\.require_approval/],
    [[{ type: "mcp", server_label: "math" }], /background: a response with mcp tools cannot run in the background/, "background"],
    // A team that may not use the server is told it does not exist.
    [[{ type: "mcp", server_label: "math" }], /tools\[0\]\.server_label: no MCP server "math"/, "team-b"],
  ];
  for (const [tools, message, mode] of cases) {
    const c = mode === "team-b" ? new OpenAI({ baseURL: `${rig.gw.url}/v1`, apiKey: TEAM_B, maxRetries: 0 }) : client;
    await assert.rejects(c.responses.create({ model: "agent", input: "x", tools: tools as never, ...(mode === "background" ? { background: true } : {}) }), (err: { status?: number; message: string }) => {
      assert.equal(err.status, 400, err.message);
      assert.match(err.message, message);
      return true;
    });
  }
  // An approval answer that names no request.
  await assert.rejects(client.responses.create({ model: "agent", input: [{ role: "user", content: "hi" }, { type: "mcp_approval_response", approval_request_id: "mcpr_nope", approve: true }] as never, tools: [MCP as never] }), /approval_request_id: names no mcp_approval_request/);
  assert.equal(rig.openai.requests.length, 0);
  assert.equal(rig.math.calls.length, 0);
});

test("streamed, with approval: the request waits as an mcp_approval_request item, and the stream ends", async () => {
  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_sa", name: "math__add", arguments: { a: 1, b: 1 } }] }]);
  const stream = client.responses.stream({ model: "agent", input: "1 + 1?", tools: [{ type: "mcp", server_label: "math" } as never] });
  const done: string[] = [];
  for await (const ev of stream) if (ev.type === "response.output_item.done") done.push((ev as unknown as Json).item.type);
  const final = (await stream.finalResponse()) as unknown as Json;
  assert.deepEqual(done, ["mcp_list_tools", "mcp_approval_request"]);
  assert.deepEqual(final.output.map((o: Json) => o.type), ["mcp_list_tools", "mcp_approval_request"]);
  assert.deepEqual(JSON.parse(final.output[1].arguments), { a: 1, b: 1 });
  assert.equal(rig.math.calls.length, 0);
});

test("a tool's image (a screenshot) reaches the model with its text; the mcp_call carries the text", async () => {
  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_img", name: "camera__screenshot", arguments: {} }] }, { kind: "text", text: "A pixel." }]);
  const r = (await client.responses.create({ model: "agent", input: "Look at the page", tools: [{ type: "mcp", server_label: "camera", require_approval: "never" } as never] })) as unknown as Json;
  const call = r.output.find((o: Json) => o.type === "mcp_call");
  assert.equal(call.output, "the page");
  const sent = JSON.stringify(upstream()[1].messages);
  assert.ok(sent.includes(`data:image/png;base64,${PIXEL_PNG}`), "the image went to the model");
  assert.ok(sent.includes("the page"));
});

test("a caller's own function_call_output may carry images (input_image), as at OpenAI", async () => {
  rig.openai.script([{ kind: "text", text: "Seen." }]);
  await client.responses.create({
    model: "agent",
    input: [
      { type: "function_call", call_id: "call_own", name: "look", arguments: "{}" },
      { type: "function_call_output", call_id: "call_own", output: [{ type: "input_text", text: "here" }, { type: "input_image", image_url: `data:image/png;base64,${PIXEL_PNG}` }] },
    ] as never,
    tools: [{ type: "function", name: "look", parameters: { type: "object", properties: {} }, strict: false }],
  });
  assert.ok(JSON.stringify(upstream()[0].messages).includes(`data:image/png;base64,${PIXEL_PNG}`));
  await assert.rejects(
    client.responses.create({ model: "agent", input: [{ type: "function_call", call_id: "c", name: "look", arguments: "{}" }, { type: "function_call_output", call_id: "c", output: [{ type: "input_image", image_url: "ftp://x" }] }] as never, tools: [{ type: "function", name: "look", parameters: { type: "object", properties: {} }, strict: false }] }),
    /input\[1\]\.output\[0\]\.image_url/,
  );
});

test("read_only filters (the tools' readOnlyHint): allowed_tools offers only those, require_approval.never runs only those unasked", async () => {
  rig.openai.script([{ kind: "text", text: "ok" }]);
  await client.responses.create({ model: "agent", input: "hi", tools: [{ type: "mcp", server_label: "math", allowed_tools: { read_only: true }, require_approval: "never" } as never] });
  assert.deepEqual(toolNames(upstream()[0]), ["math__echo", "math__whoami"]);

  rig.openai.script([{ kind: "tool_calls", calls: [{ id: "call_ro", name: "math__echo", arguments: { text: "x" } }, { id: "call_rw", name: "math__add", arguments: { a: 1, b: 2 } }] }]);
  const r = (await client.responses.create({ model: "agent", input: "both", tools: [{ type: "mcp", server_label: "math", require_approval: { never: { read_only: true } } } as never] })) as unknown as Json;
  const kinds = r.output.filter((o: Json) => o.type !== "mcp_list_tools").map((o: Json) => [o.type, o.name]);
  assert.deepEqual(kinds, [
    ["mcp_call", "echo"],
    ["mcp_approval_request", "add"],
  ]);
  assert.deepEqual(rig.math.calls, [{ name: "echo", arguments: { text: "x" } }]);
});
