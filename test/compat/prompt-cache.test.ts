// `prompt_cache: auto` on a Claude deployment, through a stored conversation on the Responses API
// (official `openai` SDK) to a fake Anthropic upstream: each turn's request carries cache_control
// after its system prompt and after its last message (the OpenAI-shaped doors have no way to
// say so themselves), the caller's own breakpoints (Anthropic door) are left as they are, the
// cache reads and writes Anthropic reports are priced as such, and the setting is refused for a
// model whose prompt cache takes no breakpoints.

import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { buildConfig } from "../../src/config/load.ts";
import { parse } from "yaml";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let anthropic: FakeAnthropic;
let t: TestGateway;
let client: OpenAI;

before(async () => {
  anthropic = await startFakeAnthropic();
  t = await startTestGateway(`
providers:
  - { name: anthropic, type: anthropic, base_url: ${anthropic.url}, api_key: ${ANTHROPIC_TEST_KEY} }
deployments:
  - { id: claude/auto, provider: anthropic, model: claude-sonnet-4-5-20250929, prompt_cache: auto, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
  - { id: claude/plain, provider: anthropic, model: claude-sonnet-4-5-20250929, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
routes:
  - { name: auto, targets: [claude/auto], retry: { max_retries: 0 } }
  - { name: plain, targets: [claude/plain], retry: { max_retries: 0 } }
`);
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "none", maxRetries: 0 });
});
after(async () => {
  await t.close();
  await anthropic.close();
});
beforeEach(() => anthropic.reset());

/** Where the upstream body has cache_control: "system" and [message index, block index] pairs. */
function breakpoints(body: { system?: unknown; messages: { content: unknown }[] }): string[] {
  const out: string[] = [];
  if (Array.isArray(body.system)) body.system.forEach((b: { cache_control?: unknown }, i) => b.cache_control && out.push(`system[${i}]`));
  body.messages.forEach((m, i) => Array.isArray(m.content) && m.content.forEach((b: { cache_control?: unknown }, j) => b.cache_control && out.push(`messages[${i}][${j}]`)));
  return out;
}

test("each turn of a conversation: a breakpoint after the system prompt and after the last message; cache reads and writes priced", async () => {
  anthropic.script([
    { kind: "text", text: "First answer.", usage: { input: 3000, output: 10, cacheWrite: 2900 } },
    { kind: "text", text: "Second answer.", usage: { input: 3100, output: 10, cached: 2900, cacheWrite: 150 } },
  ]);
  const system = "You are a careful assistant. ".repeat(200);
  const first = await client.responses.create({ model: "auto", instructions: system, input: "First question" });
  const second = await client.responses.create({ model: "auto", instructions: system, input: "Second question", previous_response_id: first.id });
  assert.equal(second.output_text, "Second answer.");
  const [b1, b2] = anthropic.requests.map((r) => r.body);
  assert.deepEqual(breakpoints(b1), ["system[0]", "messages[0][0]"]);
  assert.deepEqual(breakpoints(b2), ["system[0]", "messages[2][0]"], "the rolling breakpoint moved to the new last message");
  assert.deepEqual(b1.system[0].cache_control, { type: "ephemeral" });
  // The second turn read 2,900 tokens from the cache and wrote 150: priced at 0.3 and 3.75 a million.
  assert.equal(second.usage!.input_tokens_details.cached_tokens, 2900);
  const rec = t.usage.recent().at(-1)!;
  const nanos = (n: number, perMillion: number) => (n * perMillion * 1e9) / 1e6;
  assert.deepEqual(
    { input: rec.cost.input, cachedInput: rec.cost.cachedInput, cacheWrite: rec.cost.cacheWrite },
    { input: nanos(3100 - 2900 - 150, 3), cachedInput: nanos(2900, 0.3), cacheWrite: nanos(150, 3.75) },
  );
});

test("without the setting, or with the caller's own breakpoints, nothing is added", async () => {
  anthropic.script([{ kind: "text", text: "a" }, { kind: "text", text: "b" }]);
  await client.responses.create({ model: "plain", instructions: "Be brief.", input: "Hi" });
  assert.deepEqual(breakpoints(anthropic.requests[0].body), []);
  const sdk = new Anthropic({ baseURL: t.url, apiKey: "none", maxRetries: 0 });
  await sdk.messages.create({
    model: "auto",
    max_tokens: 100,
    system: [{ type: "text", text: "Long rules.", cache_control: { type: "ephemeral", ttl: "1h" } }],
    messages: [{ role: "user", content: "Hi" }],
  });
  const b = anthropic.requests[1].body;
  assert.deepEqual(breakpoints(b), ["system[0]"]);
  assert.deepEqual(b.system[0].cache_control, { type: "ephemeral", ttl: "1h" });
});

test("refused for a model whose prompt cache takes no breakpoints, naming the setting", () => {
  const yaml = (model: string, type: string) => `
providers: [{ name: p, type: ${type}, api_key: x }]
deployments: [{ id: d, provider: p, model: ${model}, prompt_cache: auto, pricing: { input: 1, output: 1 } }]
routes: [{ name: r, targets: [d] }]
`;
  assert.throws(() => buildConfig(parse(yaml("gpt-4o", "openai")), {}), /deployments\[0\]\.prompt_cache: auto needs a model whose prompt cache takes breakpoints/);
  assert.doesNotThrow(() => buildConfig(parse(yaml("claude-sonnet-4-5", "anthropic")), {}));
});
