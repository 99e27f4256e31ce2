// OpenRouter's response-healing plugin against a fake OpenAI that answers with broken JSON: a
// JSON answer (json_object or json_schema, not streamed) in a markdown fence, with prose around it,
// a trailing comma or a truncated end comes back repaired and parseable, with an adjustment saying
// so; an answer that parses, a text answer, a stream and a request without the plugin are left as
// the model wrote them.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let fake: FakeOpenAI;
let gw: TestGateway;
before(async () => {
  fake = await startFakeOpenAI();
  gw = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: ${fake.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
`);
});
beforeEach(() => fake.reset());
after(async () => {
  await gw?.close();
  await fake?.close();
});

const HEAL = [{ id: "response-healing" }];
async function chat(text: string, extra: Record<string, unknown>) {
  fake.script({ kind: "text", text });
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "openai/gpt-4o", messages: [{ role: "user", content: "give me JSON" }], ...extra }) });
  const raw = await res.text();
  return { status: res.status, raw, json: res.headers.get("content-type")?.includes("json") ? (JSON.parse(raw) as { choices: { message: { content: string } }[]; signalbox: { adjustments?: { field: string; detail: string }[] } }) : undefined };
}

describe("response-healing", () => {
  for (const [what, broken, want] of [
    ["a markdown fence", '```json\n{"name": "Bob"}\n```', { name: "Bob" }],
    ["prose around it", 'Here is the data you asked for:\n{"name": "Charlie", "age": 25}\nHope it helps!', { name: "Charlie", age: 25 }],
    ["a trailing comma and unquoted keys", "{name: 'Eve', age: 40,}", { name: "Eve", age: 40 }],
    ["a truncated end", '{"name": "Alice", "tags": ["a", "b"', { name: "Alice", tags: ["a", "b"] }],
    ["a truncated end after a closed list", '{"tags": ["a"], "name": "Al', { tags: ["a"], name: "Al" }],
  ] as const) {
    test(`${what}: repaired, with an adjustment`, async () => {
      const r = await chat(broken, { response_format: { type: "json_object" }, plugins: HEAL });
      assert.equal(r.status, 200, r.raw);
      assert.deepEqual(JSON.parse(r.json!.choices[0]!.message.content), want);
      assert.equal(r.json!.signalbox.adjustments?.find((a) => a.field === "plugins.response-healing")?.detail.startsWith("repaired the answer's JSON"), true);
    });
  }

  test("json_schema too; an answer that parses is untouched", async () => {
    const schema = { type: "json_schema", json_schema: { name: "person", schema: { type: "object", properties: { name: { type: "string" } } } } };
    const healed = await chat('```\n{"name": "Dan",}\n```', { response_format: schema, plugins: HEAL });
    assert.deepEqual(JSON.parse(healed.json!.choices[0]!.message.content), { name: "Dan" });
    const clean = await chat('{"name":"Dan"}', { response_format: schema, plugins: HEAL });
    assert.equal(clean.json!.choices[0]!.message.content, '{"name":"Dan"}');
    assert.equal(clean.json!.signalbox.adjustments?.some((a) => a.field === "plugins.response-healing") ?? false, false);
  });

  test("left as written: without the plugin, a text answer, a stream", async () => {
    const broken = '```json\n{"name": "Bob"}\n```';
    assert.equal((await chat(broken, { response_format: { type: "json_object" } })).json!.choices[0]!.message.content, broken);
    assert.equal((await chat(broken, { plugins: HEAL })).json!.choices[0]!.message.content, broken);
    const stream = await chat(broken, { response_format: { type: "json_object" }, plugins: HEAL, stream: true });
    const text = stream.raw.split("\n").filter((l) => l.startsWith("data: {")).map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "").join("");
    assert.equal(text, broken);
  });
});
