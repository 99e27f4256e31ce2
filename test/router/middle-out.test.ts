// OpenRouter's middle-out transform: the compression itself (what it removes, what it never
// separates, when it cuts text), the planner keeping a deployment whose window is too small, and
// the gateway over a real socket: the OpenAI SDK's `transforms: ["middle-out"]` reaching a fake
// OpenAI upstream with the middle gone, Connect's RoutingOptions.middle_out, and the 400s.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, userText, type ChatRequest } from "@signalbox/client";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import type { ChatMessage } from "../../src/providers/types.ts";
import { middleOut } from "../../src/router/middle-out.ts";
import { plan } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { ChatCall } from "../../src/router/types.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const text = (role: ChatMessage["role"], t: string): ChatMessage => ({ role, content: [{ type: "text", text: t }] });
/** One token per 10 characters, 3 per message: easy to reason about. */
const count = (ms: ChatMessage[]) => ms.reduce((n, m) => n + 3 + m.content.reduce((k, p) => k + (p.type === "text" ? Math.ceil(p.text.length / 10) : 0), 0), 0);
const words = (i: number) => `turn ${i} `.padEnd(100, "x");

describe("middle-out: the compression", () => {
  const convo = [text("system", "You are terse."), ...Array.from({ length: 20 }, (_, i) => text(i % 2 ? "assistant" : "user", words(i))), text("user", "the question")];

  test("removes from the middle, keeps the system message, the ends and the order", () => {
    const c = middleOut({ messages: convo }, 150, count)!;
    assert.ok(c.tokens <= 150 && c.tokens === count(c.request.messages));
    const kept = c.request.messages.map((m) => (m.content[0] as { text: string }).text.slice(0, 7));
    assert.equal(kept[0], "You are");
    assert.equal(kept.at(-1), "the que");
    assert.ok(kept.includes("turn 0 ") && kept.includes("turn 19"), "the oldest and newest turns outlive the middle ones");
    assert.ok(!kept.includes("turn 10") && !kept.includes("turn 9 "), kept.join("|"));
    assert.equal(c.removed, convo.length - kept.length);
    assert.equal(c.cut, 0);
    assert.equal(middleOut({ messages: convo }, 10_000, count)!.removed, 0, "a prompt that fits is left alone");
  });

  test("a tool call and its results go together", () => {
    const call: ChatMessage = { role: "assistant", content: [], toolCalls: [{ id: "c1", name: "f", arguments: "{}" }, { id: "c2", name: "f", arguments: "{}" }] };
    const msgs = [text("user", words(0)), text("assistant", words(1)), call, { ...text("tool", words(2)), toolCallId: "c1" }, { ...text("tool", words(3)), toolCallId: "c2" }, text("assistant", words(4)), text("user", "now?")];
    for (const limit of [60, 40, 20]) {
      const c = middleOut({ messages: msgs }, limit, count)!;
      const calls = c.request.messages.filter((m) => m.toolCalls?.length).length;
      const results = c.request.messages.filter((m) => m.role === "tool").length;
      assert.ok((calls === 1 && results === 2) || (calls === 0 && results === 0), `limit ${limit}: ${calls} call, ${results} results`);
    }
  });

  test("one huge message: the middle of its text is cut, head and tail kept; nothing fits: undefined", () => {
    const doc = "HEAD" + "y".repeat(5_000) + "TAIL";
    const c = middleOut({ messages: [text("system", "sys"), text("user", doc)] }, 200, count)!;
    const t = (c.request.messages[1].content[0] as { text: string }).text;
    assert.ok(t.startsWith("HEAD") && t.endsWith("TAIL") && t.includes("[…]"));
    assert.ok(c.cut > 0 && c.tokens <= 200);
    assert.equal(middleOut({ messages: [text("system", "s".repeat(3_000)), text("user", "q")] }, 100, count), undefined, "the system message alone is over");
  });
});

const YAML = (openai: string) => `
providers:
  - { name: openai, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 } }
deployments:
  - { id: small, provider: openai, model: gpt-4o-mini, context_window: 600, pricing: { input: 0.15, output: 0.6 } }
  - { id: large, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: tiny, targets: [small], retry: { max_retries: 0 } }
  - { name: both, targets: [small, large], retry: { max_retries: 0 } }
`;

/** A conversation of about 2,000 tokens: a system message, 30 turns, a last question. */
const LONG = [
  { role: "system" as const, content: "Answer in one word." },
  ...Array.from({ length: 30 }, (_, i) => ({ role: (i % 2 ? "assistant" : "user") as "user" | "assistant", content: `Message number ${i}: ${"lorem ipsum dolor sit amet ".repeat(10)}` })),
  { role: "user" as const, content: "What was message number 0 about?" },
];

describe("middle-out: the planner and the gateway", () => {
  let fake: FakeOpenAI;
  let t: TestGateway;
  let openai: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    t = await startTestGateway(YAML(fake.url));
    openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  after(async () => {
    await t.close();
    await fake.close();
  });
  const lastBody = () => fake.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)!.body as { messages: { role: string; content: string }[] };

  test("the planner keeps a deployment too small for the prompt, with what it removed as an adjustment", () => {
    const registry = createModelRegistry(buildConfig(parse(YAML("http://127.0.0.1:9")), {}));
    const call = (middle: boolean): ChatCall => ({
      id: "r",
      model: "both",
      request: { messages: LONG.map((m) => text(m.role, m.content)), maxOutputTokens: 50 },
      routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false, ...(middle ? { middleOut: true } : {}) },
      tags: [],
      metadata: {},
      caller: { keyName: "k", team: "t", role: "service", allow: [] },
      stream: false,
    });
    const without = plan({ call: call(false), registry, health: { get: () => undefined, now: 0 }, rand: Math.random });
    assert.deepEqual(without.candidates.map((c) => c.deployment.id), ["large"]);
    assert.equal(without.excluded[0].reason, "context_too_small");
    const p = plan({ call: call(true), registry, health: { get: () => undefined, now: 0 }, rand: Math.random });
    assert.deepEqual(p.candidates.map((c) => c.deployment.id), ["small", "large"]);
    const [small, large] = p.candidates;
    assert.ok(small.request.messages.length < LONG.length && large.request.messages.length === LONG.length, "only the small one is squeezed");
    assert.ok(small.estimatedInputTokens + 50 <= 600, `${small.estimatedInputTokens} prompt tokens`);
    assert.match(small.adjustments.at(-1)!.detail, /^middle-out removed \d+ of 32 messages from the middle to fit the 600-token context window \(\d+ prompt tokens\)$/);
    assert.equal(small.expectedCostNanos, Math.round((small.estimatedInputTokens * 150_000 + 50 * 600_000) / 1000), "priced on what is sent");
    assert.ok(large.estimatedInputTokens > small.estimatedInputTokens * 2);
  });

  test("chat with transforms: [middle-out] reaches the upstream with the middle gone; without it the prompt is too long", async () => {
    fake.script({ kind: "text", text: "Lorem." });
    const r = await openai.chat.completions.create({ model: "tiny", max_tokens: 50, messages: LONG, transforms: ["middle-out"] } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(r.choices[0].message.content, "Lorem.");
    const sent = lastBody().messages;
    assert.ok(sent.length < LONG.length, `${sent.length} messages sent`);
    assert.equal(sent[0].content, "Answer in one word.");
    assert.equal(sent.at(-1)!.content, "What was message number 0 about?");
    assert.match(sent[1].content, /^Message number 0:/, "the start of the conversation is kept too");
    const before = fake.requests.length;
    await assert.rejects(openai.chat.completions.create({ model: "tiny", max_tokens: 50, messages: LONG } as OpenAI.ChatCompletionCreateParamsNonStreaming), (e: any) => e.status >= 400 && /context window 600/.test(e.message));
    await assert.rejects(openai.chat.completions.create({ model: "tiny", messages: LONG, transforms: ["squash"] } as never), (e: any) => e.status === 400 && e.param === "transforms[0]");
    assert.equal(fake.requests.length, before, "nothing reached the upstream");
  });

  test("Connect: RoutingOptions.middle_out; Route shows the adjustment", async () => {
    const sb = createSignalboxClient({ baseUrl: t.url });
    const req = { model: "tiny", maxOutputTokens: 50, messages: LONG.map((m) => userText(m.content)), routing: { middleOut: true } } as unknown as ChatRequest;
    const route = await sb.route.route(req);
    assert.match(route.candidates[0].adjustments.map((a) => a.detail).join("; "), /middle-out removed/);
    fake.script({ kind: "text", text: "ok" });
    const res = await sb.chat.complete(req);
    assert.equal(res.deployment, "small");
    assert.ok(lastBody().messages.length < LONG.length);
  });
});
