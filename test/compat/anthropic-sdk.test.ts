// The official `@anthropic-ai/sdk` pointed at the gateway's Messages endpoint, over a real socket,
// routed to fake Anthropic, OpenAI and Gemini upstreams: unary and streamed text, a tool-use round
// trip, images, thinking with its signature round-tripped, cache_control unchanged, a fallback the
// SDK never notices, count_tokens, both ways of presenting the key, and the SDK's own error
// classes. finalMessage()'s usage is the usage record's.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { hashKey } from "../../src/server/auth.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import type { UsageRecord } from "../../src/usage/record.ts";

const KEY = ["sbx", "test", "messages", "team", "a"].join("_");
const LIMITED_KEY = ["sbx", "test", "messages", "limited"].join("_");
const BROKE_KEY = ["sbx", "test", "messages", "broke"].join("_");

function config(anthropic: string, openai: string, gemini: string): string {
  return `
server: { max_request_bytes: 1048576 }
providers:
  - { name: anthropic, type: anthropic, base_url: "${anthropic}", api_key: ${ANTHROPIC_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
  - { name: openai, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
  - { name: gemini, type: gemini, base_url: "${gemini}", api_key: ${GEMINI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
deployments:
  - { id: claude/sonnet, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: gemini/flash, provider: gemini, model: gemini-2.5-flash, pricing: { input: 0.3, output: 2.5 } }
routes:
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: gpt, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: gemini, targets: [gemini/flash], retry: { max_retries: 0 } }
  - { name: claude-then-gpt, targets: [claude/sonnet, openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: claude-cached, targets: [claude/sonnet], retry: { max_retries: 0 }, cache: { enabled: true } }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: limited, hash: "${hashKey(LIMITED_KEY)}", team: a, role: service, allow: [gpt] }
  - { name: broke, hash: "${hashKey(BROKE_KEY)}", team: b, role: service, budget: { period: month, limit_usd: 0 } }
`;
}

let claude: FakeAnthropic;
let gpt: FakeOpenAI;
let gemini: FakeGemini;
let t: TestGateway;
let client: Anthropic;

before(async () => {
  [claude, gpt, gemini] = await Promise.all([startFakeAnthropic(), startFakeOpenAI(), startFakeGemini()]);
  t = await startTestGateway(config(claude.url, gpt.url, gemini.url));
  client = new Anthropic({ baseURL: t.url, apiKey: KEY, maxRetries: 0 });
});
after(async () => {
  await t.close();
  await Promise.all([claude.close(), gpt.close(), gemini.close()]);
});
beforeEach(() => {
  claude.reset();
  gpt.reset();
  gemini.reset();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};

/** The SDK's usage is the usage record's (Anthropic's input_tokens excludes cache reads and writes). */
function assertUsageMatches(u: Anthropic.Usage, rec: UsageRecord) {
  assert.equal(u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0), rec.usage.inputTokens);
  assert.equal(u.cache_read_input_tokens ?? 0, rec.usage.cachedInputTokens);
  assert.equal(u.cache_creation_input_tokens ?? 0, rec.usage.cacheWriteTokens);
  assert.equal(u.output_tokens, rec.usage.outputTokens);
}

const ROUTES = [
  { model: "claude", deployment: "claude/sonnet" },
  { model: "gpt", deployment: "openai/gpt-4o" },
  { model: "gemini", deployment: "gemini/flash" },
] as const;

const weather: Anthropic.Tool = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function scriptText(model: string, text: string | string[], usage = { input: 12, output: 5 }) {
  if (model === "claude") claude.script({ kind: "text", text, usage });
  else if (model === "gpt") gpt.script({ kind: "text", text, usage });
  else gemini.script({ kind: "text", text, usage });
}

test("models.list and models.retrieve read the gateway's /v1/models in Anthropic's shape too", async () => {
  const ids: string[] = [];
  for await (const m of client.models.list()) {
    assert.equal(m.type, "model");
    assert.ok(m.display_name.length > 0);
    assert.ok(Date.parse(m.created_at) > 0);
    ids.push(m.id);
  }
  assert.ok(ids.includes("claude"), ids.join(", "));
  const one = await client.models.retrieve("claude");
  assert.deepEqual([one.id, one.type], ["claude", "model"]);
});

describe("messages.create and messages.stream on every provider", () => {
  for (const { model, deployment } of ROUTES) {
    test(`unary text via ${model}: Message shape, headers, usage = usage record`, async () => {
      scriptText(model, "Hello from upstream.");
      const { data, response } = await client.messages
        .create({ model, max_tokens: 200, system: "Be brief.", messages: [{ role: "user", content: "Hi" }], metadata: { user_id: "end-user-7" } })
        .withResponse();
      assert.equal(data.type, "message");
      assert.equal(data.role, "assistant");
      assert.match(data.id, /^msg_/);
      assert.deepEqual(data.content, [{ type: "text", text: "Hello from upstream." }]);
      assert.equal(data.stop_reason, "end_turn");
      assert.equal(response.headers.get("x-signalbox-deployment"), deployment);
      const rec = lastRecord();
      assert.equal(response.headers.get("request-id"), rec.id);
      assert.equal(rec.status, "ok");
      assert.equal(rec.deployment, deployment);
      assert.equal(rec.user, "end-user-7");
      assert.deepEqual(rec.metadata, { door: "anthropic" });
      assert.equal(rec.streamed, false);
      assertUsageMatches(data.usage, rec);
    });

    test(`stream via ${model}: finalMessage text, stop reason and usage = usage record`, async () => {
      scriptText(model, ["Hel", "lo ", "world"], { input: 9, output: 3 });
      const stream = client.messages.stream({ model, max_tokens: 200, messages: [{ role: "user", content: "Hi" }] });
      let text = "";
      stream.on("text", (d) => (text += d));
      const final = await stream.finalMessage();
      assert.equal(text, "Hello world");
      assert.deepEqual(final.content, [{ type: "text", text: "Hello world" }]);
      assert.equal(final.stop_reason, "end_turn");
      const rec = lastRecord();
      assert.equal(rec.streamed, true);
      assert.equal(rec.deployment, deployment);
      assertUsageMatches(final.usage, rec);
    });

    test(`tool use round trip via ${model} (unary, then streamed)`, async () => {
      const call = { id: "toolu_01A", name: "get_weather", arguments: { city: "Paris" } };
      if (model === "claude") claude.script([{ kind: "tool_calls", calls: [call] }, { kind: "text", text: "It is sunny." }]);
      else if (model === "gpt") gpt.script([{ kind: "tool_calls", calls: [call] }, { kind: "text", text: "It is sunny." }]);
      else gemini.script([{ kind: "tool_calls", calls: [call] }, { kind: "text", text: "It is sunny." }]);
      const question: Anthropic.MessageParam = { role: "user", content: "Weather in Paris?" };
      const first = await client.messages.create({ model, max_tokens: 200, messages: [question], tools: [weather], tool_choice: { type: "auto" } });
      assert.equal(first.stop_reason, "tool_use");
      const use = first.content.find((b) => b.type === "tool_use");
      assert.ok(use && use.type === "tool_use");
      assert.equal(use.name, "get_weather");
      assert.deepEqual(use.input, { city: "Paris" });
      if (model !== "gemini") assert.equal(use.id, "toolu_01A");

      const messages: Anthropic.MessageParam[] = [
        question,
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: '{"sky":"sunny"}' }] },
      ];
      const stream = client.messages.stream({ model, max_tokens: 200, messages, tools: [weather] });
      const second = await stream.finalMessage();
      assert.deepEqual(second.content, [{ type: "text", text: "It is sunny." }]);
      // The tool result went up in the upstream's own shape.
      if (model === "claude") {
        const up = claude.requests[1].body.messages;
        assert.deepEqual(up[2].content, [{ type: "tool_result", tool_use_id: "toolu_01A", content: '{"sky":"sunny"}' }]);
        assert.deepEqual(up[1].content.at(-1), { type: "tool_use", id: "toolu_01A", name: "get_weather", input: { city: "Paris" } });
      } else if (model === "gpt") {
        const up = gpt.requests[1].body.messages;
        assert.equal(up[1].tool_calls[0].id, "toolu_01A");
        assert.deepEqual({ role: up[2].role, id: up[2].tool_call_id }, { role: "tool", id: "toolu_01A" });
      } else {
        const parts = gemini.requests[1].body.contents.flatMap((c: { parts: unknown[] }) => c.parts);
        assert.ok(parts.some((p: { functionResponse?: { name: string } }) => p.functionResponse?.name === "get_weather"));
      }
    });

    test(`a streamed tool call via ${model} arrives as input_json_delta`, async () => {
      const call = { id: "toolu_02B", name: "get_weather", arguments: { city: "Oslo" } };
      if (model === "claude") claude.script({ kind: "tool_calls", calls: [call], text: "Let me check." });
      else if (model === "gpt") gpt.script({ kind: "tool_calls", calls: [call], text: "Let me check." });
      else gemini.script({ kind: "tool_calls", calls: [call], text: "Let me check." });
      const stream = client.messages.stream({ model, max_tokens: 200, messages: [{ role: "user", content: "Oslo?" }], tools: [weather] });
      let json = "";
      stream.on("inputJson", (d) => (json += d));
      const final = await stream.finalMessage();
      assert.equal(final.stop_reason, "tool_use");
      const use = final.content.find((b) => b.type === "tool_use");
      assert.ok(use && use.type === "tool_use");
      assert.deepEqual(use.input, { city: "Oslo" });
      assert.deepEqual(JSON.parse(json), { city: "Oslo" });
      assert.equal(final.content[0].type, "text");
    });
  }

  test("the exact event sequence on the wire", async () => {
    claude.script({ kind: "text", text: ["a", "b"], usage: { input: 7, output: 2 } });
    const res = await fetch(`${t.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "claude", max_tokens: 50, stream: true, messages: [{ role: "user", content: "Hi" }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = [...(await res.text()).matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => [m[1], JSON.parse(m[2])]);
    assert.deepEqual(
      events.map(([e]) => e),
      ["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
    );
    for (const [name, data] of events) assert.equal(data.type, name);
    const start = events[0][1];
    assert.equal(start.message.role, "assistant");
    assert.deepEqual(start.message.content, []);
    assert.ok("input_tokens" in start.message.usage);
    const delta = events[5][1];
    assert.equal(delta.delta.stop_reason, "end_turn");
    assert.equal(delta.usage.input_tokens, 7);
    assert.equal(delta.usage.output_tokens, 2);
  });
});

describe("what reaches an Anthropic deployment unchanged", () => {
  test("system blocks, tools and message blocks keep their cache_control; stop_sequences, sampling, user, betas", async () => {
    claude.script({ kind: "text", text: "cached", usage: { input: 3000, cached: 2000, cacheWrite: 500, output: 4 } });
    const system: Anthropic.TextBlockParam[] = [
      { type: "text", text: "You are a careful assistant." },
      { type: "text", text: "Long reference document ...", cache_control: { type: "ephemeral", ttl: "1h" } },
    ];
    const tool: Anthropic.Tool = { ...weather, cache_control: { type: "ephemeral" } };
    const r = await client.messages.create(
      {
        model: "claude",
        max_tokens: 100,
        system,
        tools: [tool],
        messages: [{ role: "user", content: [{ type: "text", text: "Question?", cache_control: { type: "ephemeral" } }] }],
        stop_sequences: ["END"],
        temperature: 0.3,
        top_k: 40,
        metadata: { user_id: "u-1" },
      },
      { headers: { "anthropic-beta": "context-1m-2025-08-07" } },
    );
    const up = claude.requests[0];
    assert.deepEqual(up.body.system, system);
    assert.deepEqual(up.body.tools, [tool]);
    assert.deepEqual(up.body.messages, [{ role: "user", content: [{ type: "text", text: "Question?", cache_control: { type: "ephemeral" } }] }]);
    assert.deepEqual(up.body.stop_sequences, ["END"]);
    assert.equal(up.body.temperature, 0.3);
    assert.equal(up.body.top_k, 40);
    assert.equal(up.body.max_tokens, 100);
    assert.deepEqual(up.body.metadata, { user_id: "u-1" });
    assert.equal(up.headers["anthropic-beta"], "context-1m-2025-08-07");
    // Cache reads and writes come back in Anthropic's terms, and match the record.
    assert.equal(r.usage.cache_read_input_tokens, 2000);
    assert.equal(r.usage.cache_creation_input_tokens, 500);
    assert.equal(r.usage.input_tokens, 500);
    assertUsageMatches(r.usage, lastRecord());
  });

  test("images: base64 and URL sources", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
    const content: Anthropic.ContentBlockParam[] = [
      { type: "text", text: "What is this?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ];
    claude.script({ kind: "text", text: "A red dot." });
    await client.messages.create({ model: "claude", max_tokens: 50, messages: [{ role: "user", content }] });
    assert.deepEqual(claude.requests[0].body.messages[0].content, content);
    gpt.script({ kind: "text", text: "A red dot." });
    await client.messages.create({ model: "gpt", max_tokens: 50, messages: [{ role: "user", content }] });
    const parts = gpt.requests[0].body.messages[0].content;
    assert.equal(parts[1].image_url.url, `data:image/png;base64,${png}`);
    assert.equal(parts[2].image_url.url, "https://example.com/cat.jpg");
  });

  test("a tool result with an image (a screenshot tool): kept in tool_result for Anthropic, after the tool messages for OpenAI, inline for Gemini", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
    const shot = { name: "screenshot", description: "Take a screenshot", input_schema: { type: "object" as const, properties: {} } };
    const result: Anthropic.ToolResultBlockParam = {
      type: "tool_result",
      tool_use_id: "toolu_shot",
      content: [
        { type: "text", text: "Screen captured." },
        { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
      ],
    };
    const messages: Anthropic.MessageParam[] = [
      { role: "user", content: "What is on my screen?" },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_shot", name: "screenshot", input: {} }] },
      { role: "user", content: [result] },
    ];
    claude.script({ kind: "text", text: "A red dot." });
    const a = await client.messages.create({ model: "claude", max_tokens: 50, messages, tools: [shot] });
    assert.deepEqual(a.content, [{ type: "text", text: "A red dot." }]);
    assert.deepEqual(claude.requests.at(-1)!.body.messages[2].content, [result]);

    gpt.script({ kind: "text", text: "A red dot." });
    await client.messages.create({ model: "gpt", max_tokens: 50, messages, tools: [shot] });
    const up = gpt.requests.at(-1)!.body.messages;
    assert.deepEqual({ role: up[2].role, id: up[2].tool_call_id, content: up[2].content }, { role: "tool", id: "toolu_shot", content: "Screen captured." });
    assert.equal(up[3].role, "user");
    assert.match(up[3].content[0].text, /toolu_shot \(screenshot\)/);
    assert.equal(up[3].content[1].image_url.url, `data:image/png;base64,${png}`);

    gemini.script({ kind: "text", text: "A red dot." });
    await client.messages.create({ model: "gemini", max_tokens: 50, messages, tools: [shot] });
    const parts = gemini.requests.at(-1)!.body.contents.flatMap((c: { parts: unknown[] }) => c.parts);
    assert.ok(parts.some((p: { functionResponse?: { name: string } }) => p.functionResponse?.name === "screenshot"));
    assert.ok(parts.some((p: { inlineData?: { data: string } }) => p.inlineData?.data === png));
  });

  test("a thinking block and its signature, round-tripped through a tool loop (unary)", async () => {
    claude.script([
      { kind: "tool_calls", calls: [{ id: "toolu_T1", name: "get_weather", arguments: { city: "Rome" } }], thinking: "The user wants the weather in Rome." },
      { kind: "text", text: "Rome is warm.", thinking: "Now I can answer." },
    ]);
    const thinking = { type: "enabled" as const, budget_tokens: 2048 };
    const question: Anthropic.MessageParam = { role: "user", content: "Weather in Rome?" };
    const first = await client.messages.create({ model: "claude", max_tokens: 4096, thinking, tools: [weather], messages: [question] });
    assert.deepEqual(claude.requests[0].body.thinking, thinking);
    const block = first.content[0];
    assert.ok(block.type === "thinking", JSON.stringify(first.content));
    assert.equal(block.thinking, "The user wants the weather in Rome.");
    assert.match(block.signature, /^EqQBCkYIARgCKkA/);
    const use = first.content.find((b) => b.type === "tool_use");
    assert.ok(use && use.type === "tool_use");

    const second = await client.messages.create({
      model: "claude",
      max_tokens: 4096,
      thinking,
      tools: [weather],
      messages: [question, { role: "assistant", content: first.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "warm" }] }],
    });
    const up = claude.requests[1].body;
    // Thinking stays on mid tool loop, and the assistant turn replays its block unchanged.
    assert.deepEqual(up.thinking, thinking);
    assert.deepEqual(up.messages[1].content[0], { type: "thinking", thinking: block.thinking, signature: block.signature });
    assert.equal(second.content[0].type, "thinking");
    assert.equal(second.content.at(-1)?.type, "text");
  });

  test("a streamed thinking block: thinking_delta then signature_delta, then the answer", async () => {
    claude.script({ kind: "text", text: "42.", thinking: "Six times seven." });
    const stream = client.messages.stream({ model: "claude", max_tokens: 4096, thinking: { type: "enabled", budget_tokens: 1024 }, messages: [{ role: "user", content: "6*7?" }] });
    let thought = "";
    let signature = "";
    stream.on("thinking", (d) => (thought += d));
    stream.on("signature", (s) => (signature = s));
    const final = await stream.finalMessage();
    assert.equal(thought, "Six times seven.");
    assert.match(signature, /^EqQBCkYIARgCKkA/);
    assert.deepEqual(final.content[0], { type: "thinking", thinking: "Six times seven.", signature });
    assert.deepEqual(final.content[1], { type: "text", text: "42." });
    assertUsageMatches(final.usage, lastRecord());
  });

  test("a cached answer keeps its thinking signatures: a hit, unary or streamed, replays the same blocks", async () => {
    claude.script({ kind: "tool_calls", calls: [{ id: "toolu_C1", name: "get_weather", arguments: { city: "Oslo" } }], thinking: "Weather in Oslo: call the tool." });
    const thinking = { type: "enabled" as const, budget_tokens: 2048 };
    const ask = { model: "claude-cached", max_tokens: 4096, thinking, tools: [weather], messages: [{ role: "user" as const, content: "Weather in Oslo?" }] };
    const first = await client.messages.create(ask);
    const block = first.content[0];
    assert.ok(block.type === "thinking", JSON.stringify(first.content));
    assert.match(block.signature, /^EqQBCkYIARgCKkA/);
    // Unary hit: the same thinking block, signature included, and no second upstream call.
    const { data: again, response } = await client.messages.create(ask).withResponse();
    assert.equal(response.headers.get("x-signalbox-cache"), "hit");
    assert.equal(claude.requests.length, 1);
    assert.deepEqual(again.content, first.content);
    // Streamed hit: thinking_delta, then the signature, then the tool call.
    let signature = "";
    const stream = client.messages.stream(ask);
    stream.on("signature", (s) => (signature = s));
    const final = await stream.finalMessage();
    assert.equal(claude.requests.length, 1);
    assert.equal(signature, block.signature);
    assert.deepEqual(final.content[0], block);
    assert.equal(final.content.at(-1)?.type, "tool_use");
  });

  test("an answer cached from a stream keeps its signature too", async () => {
    claude.script({ kind: "text", text: "Cached 42.", thinking: "Six sevens, cached." });
    const ask = { model: "claude-cached", max_tokens: 4096, thinking: { type: "enabled" as const, budget_tokens: 1024 }, messages: [{ role: "user" as const, content: "6*7, cached?" }] };
    const streamed = await client.messages.stream(ask).finalMessage();
    const block = streamed.content[0];
    assert.ok(block.type === "thinking");
    assert.match(block.signature, /^EqQBCkYIARgCKkA/);
    const hit = await client.messages.create(ask);
    assert.equal(claude.requests.length, 1);
    assert.deepEqual(hit.content, streamed.content);
  });

  test("thinking budget becomes a reasoning effort for other providers", async () => {
    gemini.script({ kind: "text", text: "ok" });
    await client.messages.create({ model: "gemini", max_tokens: 20000, thinking: { type: "enabled", budget_tokens: 16000 }, messages: [{ role: "user", content: "think" }] });
    assert.ok(gemini.requests[0].body.generationConfig.thinkingConfig, JSON.stringify(gemini.requests[0].body.generationConfig));
  });
});

describe("routing", () => {
  test("a fallback before the first content the SDK never notices (529, then 500)", async () => {
    for (const error of ["overloaded_error", "api_error"] as const) {
      claude.script({ kind: "error", error });
      gpt.script({ kind: "text", text: "from the backup" });
      const { data, response } = await client.messages.create({ model: "claude-then-gpt", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] }).withResponse();
      assert.equal(response.status, 200);
      assert.deepEqual(data.content, [{ type: "text", text: "from the backup" }]);
      assert.deepEqual(
        lastRecord().attempts.map((a) => [a.deployment, a.outcome]),
        [
          ["claude/sonnet", "failed"],
          ["openai/gpt-4o", "succeeded"],
        ],
      );
    }
    claude.script({ kind: "error", error: "overloaded_error" });
    gpt.script({ kind: "text", text: ["streamed ", "backup"] });
    const final = await client.messages.stream({ model: "claude-then-gpt", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] }).finalMessage();
    assert.deepEqual(final.content, [{ type: "text", text: "streamed backup" }]);
    assertUsageMatches(final.usage, lastRecord());
  });

  test("count_tokens: the routed deployment's count", async () => {
    const body = { model: "gpt", system: "Be brief.", messages: [{ role: "user" as const, content: "How many tokens is this?" }] };
    const r = await client.messages.countTokens(body);
    assert.ok(Number.isInteger(r.input_tokens) && r.input_tokens > 5, String(r.input_tokens));
    const c = await client.messages.countTokens({ ...body, model: "claude", tools: [weather] });
    assert.ok(c.input_tokens > r.input_tokens, "tools add Anthropic's tool prompt");
    assert.equal(gpt.requests.length + claude.requests.length, 0, "no upstream is called");
  });
});

describe("keys", () => {
  test("x-api-key and Authorization: Bearer both carry the key", async () => {
    claude.script([{ kind: "text", text: "one" }, { kind: "text", text: "two" }]);
    const viaHeader = await client.messages.create({ model: "claude", max_tokens: 20, messages: [{ role: "user", content: "Hi" }] });
    const bearer = new Anthropic({ baseURL: t.url, apiKey: null, authToken: KEY, maxRetries: 0 });
    const viaBearer = await bearer.messages.create({ model: "claude", max_tokens: 20, messages: [{ role: "user", content: "Hi" }] });
    assert.deepEqual([viaHeader.content, viaBearer.content], [[{ type: "text", text: "one" }], [{ type: "text", text: "two" }]]);
    assert.equal(lastRecord().key, "team-a");
    // The gateway's own key goes upstream, never the caller's.
    assert.equal(claude.requests[1].headers["x-api-key"], ANTHROPIC_TEST_KEY);
  });
});

describe("errors as the SDK's own classes", () => {
  const ask = (c: Anthropic, body: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) =>
    c.messages.create({ model: "claude", max_tokens: 50, messages: [{ role: "user", content: "Hi" }], ...body } as Anthropic.MessageCreateParamsNonStreaming);

  test("401 authentication_error for an unknown key", async () => {
    const bad = new Anthropic({ baseURL: t.url, apiKey: "not-a-key", maxRetries: 0 });
    const err = await ask(bad).catch((e) => e);
    assert.ok(err instanceof Anthropic.AuthenticationError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.type, "authentication_error");
    assert.doesNotMatch(err.message, /not-a-key/);
    assert.equal(claude.requests.length, 0);
  });

  test("400 invalid_request_error naming the field, nothing sent upstream", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ max_tokens: undefined }, "max_tokens: Field required"],
      [{ temperature: 1.5 }, "temperature: "],
      [{ max_tokens: 0 }, "max_tokens: "],
      [{ messages: [{ role: "system", content: "x" }] }, "messages.0.role: "],
      [{ messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "nope", content: "x" }] }] }, "messages.0.content.0.tool_use_id: "],
      [{ messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/bmp", data: "AA==" } }] }] }, "messages.0.content.0.source.media_type: "],
      [{ thinking: { type: "enabled", budget_tokens: 100 } }, "thinking.budget_tokens: "],
      [{ metadata: { ticket: "T-1" } }, "metadata.ticket: "],
      [{ tool_choice: { type: "tool", name: "nope" }, tools: [weather] }, "tool_choice.name: "],
    ];
    for (const [body, prefix] of cases) {
      const err = await ask(client, body as Partial<Anthropic.MessageCreateParamsNonStreaming>).catch((e) => e);
      assert.ok(err instanceof Anthropic.BadRequestError, `${prefix}: ${err}`);
      assert.equal(err.type, "invalid_request_error");
      const message = (err.error as { error: { message: string } }).error.message;
      assert.ok(message.startsWith(prefix), `${message} should start with ${prefix}`);
    }
    assert.equal(claude.requests.length, 0);
  });

  test("404 not_found_error for an unknown model; 403 permission_error for one the key may not use", async () => {
    const nf = await ask(client, { model: "no-such-model" }).catch((e) => e);
    assert.ok(nf instanceof Anthropic.NotFoundError, String(nf));
    assert.equal(nf.type, "not_found_error");
    const limited = new Anthropic({ baseURL: t.url, apiKey: LIMITED_KEY, maxRetries: 0 });
    const pd = await ask(limited).catch((e) => e);
    assert.ok(pd instanceof Anthropic.PermissionDeniedError, String(pd));
    assert.equal(pd.status, 403);
  });

  test("429 rate_limit_error with retry-after; an exhausted budget says not to retry", async () => {
    claude.script({ kind: "error", error: "rate_limit_error", retryAfter: 7 });
    const err = await ask(client).catch((e) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, String(err));
    assert.equal(err.type, "rate_limit_error");
    assert.equal(err.headers.get("retry-after"), "7");
    const broke = new Anthropic({ baseURL: t.url, apiKey: BROKE_KEY, maxRetries: 2 });
    const started = Date.now();
    const b = await ask(broke).catch((e) => e);
    assert.ok(b instanceof Anthropic.RateLimitError);
    assert.equal(b.headers.get("x-should-retry"), "false");
    assert.ok(Date.now() - started < 400, "no retry back-off happened");
    assert.equal(lastRecord().refusal, "budget");
  });

  test("529 overloaded_error and 500 api_error are InternalServerErrors with their status and type", async () => {
    claude.script({ kind: "error", error: "overloaded_error" });
    const o = await ask(client).catch((e) => e);
    assert.ok(o instanceof Anthropic.InternalServerError, String(o));
    assert.equal(o.status, 529);
    assert.equal(o.type, "overloaded_error");
    assert.equal(typeof o.requestID, "string");
    claude.script({ kind: "error", error: "api_error" });
    const s = await ask(client).catch((e) => e);
    assert.ok(s instanceof Anthropic.InternalServerError, String(s));
    assert.equal(s.status, 500);
    assert.equal(s.type, "api_error");
  });

  test("the SDK's own retry after a 529", async () => {
    claude.script([{ kind: "error", error: "overloaded_error", retryAfterMs: 20 }, { kind: "text", text: "second time lucky" }]);
    const retrying = new Anthropic({ baseURL: t.url, apiKey: KEY, maxRetries: 1 });
    const r = await ask(retrying);
    assert.deepEqual(r.content, [{ type: "text", text: "second time lucky" }]);
    assert.equal(claude.requests.length, 2, "the first 529 went back to the SDK, which retried");
    assert.deepEqual(
      t.usage
        .recent()
        .slice(-2)
        .map((u) => u.status),
      ["unavailable", "ok"],
    );
  });

  test("a failure after the first content is an `event: error` the SDK throws", async () => {
    claude.script({ kind: "stream_error", text: "partial answer here", afterDeltas: 1, error: "overloaded_error" });
    const stream = client.messages.stream({ model: "claude", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] });
    let text = "";
    stream.on("text", (d) => (text += d));
    const err = await stream.finalMessage().catch((e) => e);
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /overloaded_error|failed after 1 deltas/);
    assert.ok(text.length > 0);
    assert.equal(lastRecord().status, "unavailable");
  });

  test("malformed JSON, a wrong method and an unknown path", async () => {
    const res = await fetch(`${t.url}/v1/messages`, { method: "POST", headers: { "x-api-key": KEY, "content-type": "application/json" }, body: "{nope" });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /^body: /);
    assert.equal(res.headers.get("request-id"), body.request_id);
    const get = await fetch(`${t.url}/v1/messages`, { headers: { "x-api-key": KEY } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
  });
});

describe("pings", () => {
  test("a quiet stream sends ping events at the interval, which the SDK skips", async () => {
    const { createServer } = await import("node:http");
    const { serveMessages } = await import("../../src/compat/anthropic/handler.ts");
    const usage = { inputTokens: 3, outputTokens: 2, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
    // A stub engine: the answer's two halves 120 ms apart.
    const engine = {
      complete: () => Promise.reject(new Error("unused")),
      async *stream() {
        yield { type: "start", id: "req_1", model: "m", deployment: "d", provider: "p", providerModel: "m-1", routing: { route: "", alias: "", strategy: "", variant: "" }, adjustments: [], priorAttempts: [], traceId: "t", cache: "off" };
        yield { type: "delta", events: [{ type: "text", text: "slow " }] };
        await new Promise((r) => setTimeout(r, 120));
        yield { type: "delta", events: [{ type: "text", text: "answer" }] };
        yield { type: "finish", summary: { deployment: "d", provider: "p", providerModel: "m-1", finishReason: "stop", usage, usageEstimated: false, cost: { total: 0 }, attempts: [], latencyMs: 1, overheadUs: 0, cache: "off" } };
      },
    };
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const ri = { id: "req_1", traceId: "t", arrivedAt: performance.now() };
      const caller = { keyName: "k", team: "a", role: "team" as const, allow: [] };
      await serveMessages(req, res, "/v1/messages", {
        engine: engine as never,
        plan: () => {
          throw new Error("unused");
        },
        ri,
        caller,
        signal: new AbortController().signal,
        body: Buffer.concat(chunks),
        statusOf: () => "ok",
        sendJson: () => {},
        pingIntervalMs: 30,
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const body = JSON.stringify({ model: "m", max_tokens: 10, stream: true, messages: [{ role: "user", content: "Hi" }] });
      const raw = await (await fetch(`${url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
      const names = [...raw.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
      assert.ok(names.includes("ping"), names.join(","));
      assert.ok(names.indexOf("ping") > names.indexOf("content_block_delta") && names.indexOf("ping") < names.lastIndexOf("content_block_delta"), names.join(","));
      const sdk = new Anthropic({ baseURL: url, apiKey: "unused", maxRetries: 0 });
      const final = await sdk.messages.stream({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).finalMessage();
      assert.deepEqual(final.content, [{ type: "text", text: "slow answer" }]);
      assert.equal(final.model, "m-1");
    } finally {
      server.close();
    }
  });
});
