// What apps written against Bifrost and LiteLLM's proxy send, unchanged: Bifrost's integration
// paths (/openai, /anthropic, /genai) through the official OpenAI, Anthropic and Google Gen AI
// SDKs, its virtual key header (x-bf-vk, winning over a placeholder Authorization) and its body's
// `fallbacks`; LiteLLM's `fallbacks`, `num_retries`, `timeout`, tags (top-level and
// metadata.tags) and `cache` controls. Real sockets, the gateway on mock providers.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { createSignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const key = (...p: string[]) => ["sbx", "test", "peers", ...p].join("_");
const APP = key("app");

const YAML = `
server: { max_request_bytes: 65536 }
providers:
  - { name: mock, type: mock }
  - { name: down, type: mock, mock: { failure_rate: 1, failure_kind: server_error } }
  - { name: down2, type: mock, mock: { failure_rate: 1, failure_kind: server_error } }
  - { name: down3, type: mock, mock: { failure_rate: 1, failure_kind: server_error } }
  - { name: slow, type: mock, mock: { ttft_ms: 3000, chunks: 2 } }
deployments:
  - { id: openai/gpt-4o-mini, provider: mock, model: gpt-4o-mini, pricing: { input: 1, output: 2 } }
  - { id: anthropic/claude-sonnet, provider: mock, model: claude-sonnet, pricing: { input: 1, output: 2 } }
  - { id: down/a, provider: down, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: down2/a, provider: down2, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: down3/a, provider: down3, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: slow/a, provider: slow, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/embed, provider: mock, model: mock-embed, operations: [embeddings], pricing: { input: 1, output: 0 } }
routes:
  - { name: default, targets: [openai/gpt-4o-mini], cache: { enabled: true } }
keys:
  - { name: app, hash: "${hashKey(APP)}", team: a, role: service }
`;

describe("apps written for Bifrost and LiteLLM", () => {
  let gw: TestGateway;
  const sb = () => createSignalboxClient({ baseUrl: gw.url, apiKey: APP });
  const record = async (id: string) => (await sb().usage.getRequest({ id })).record!;
  const post = async (body: Record<string, unknown>, headers: Record<string, string> = { authorization: `Bearer ${APP}` }) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }) });
    return { status: res.status, id: res.headers.get("x-request-id")!, cache: res.headers.get("x-signalbox-cache"), body: (await res.json()) as { error?: { message: string; param: string } } };
  };
  before(async () => {
    gw = await startTestGateway(YAML);
  });
  after(() => gw?.close());

  test("Bifrost's /openai path: the OpenAI SDK with base URL …/openai (and …/openai/v1), unary, streamed and embeddings", async () => {
    for (const base of ["/openai", "/openai/v1"]) {
      const openai = new OpenAI({ baseURL: `${gw.url}${base}`, apiKey: APP, maxRetries: 0 });
      const r = await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: `via ${base}` }] });
      assert.match(r.choices[0]!.message.content!, new RegExp(`You said: "via ${base}"`));
      let text = "";
      for await (const c of await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "streamed" }], stream: true })) text += c.choices[0]?.delta?.content ?? "";
      assert.match(text, /You said: "streamed"/);
      const e = await openai.embeddings.create({ model: "mock/embed", input: "vector" });
      assert.equal(e.data.length, 1);
      assert.ok((await openai.models.list()).data.some((m) => m.id === "default"));
    }
  });

  test("Bifrost's /anthropic and /genai paths: Anthropic's and Google's SDKs", async () => {
    const claude = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: APP, maxRetries: 0 });
    const m = await claude.messages.create({ model: "anthropic/claude-sonnet", max_tokens: 64, messages: [{ role: "user", content: "from anthropic's sdk" }] });
    assert.match((m.content[0] as { text: string }).text, /You said: "from anthropic's sdk"/);
    const ai = new GoogleGenAI({ apiKey: APP, httpOptions: { baseUrl: `${gw.url}/genai`, apiVersion: "v1beta" } });
    const g = await ai.models.generateContent({ model: "default", contents: "from google's sdk" });
    assert.match(g.text ?? "", /You said: "from google's sdk"/);
  });

  test("x-bf-vk is the caller's key, over a placeholder Authorization; a wrong one is a 401", async () => {
    const openai = new OpenAI({ baseURL: `${gw.url}/openai`, apiKey: "dummy-key", maxRetries: 0, defaultHeaders: { "x-bf-vk": APP } });
    const r = await openai.chat.completions.create({ model: "default", messages: [{ role: "user", content: "vk" }] });
    assert.equal((await record(r.id)).key, "app");
    const wrong = new OpenAI({ baseURL: `${gw.url}/openai`, apiKey: APP, maxRetries: 0, defaultHeaders: { "x-bf-vk": key("wrong") } });
    await assert.rejects(wrong.chat.completions.create({ model: "default", messages: [{ role: "user", content: "x" }] }), (e: Error & { status?: number }) => e.status === 401);
  });

  test("the body's fallbacks (Bifrost's and LiteLLM's, names or {model}) are tried in order", async () => {
    const a = await post({ model: "down/a", fallbacks: ["openai/gpt-4o-mini"], num_retries: 0 });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual((await record(a.id)).attempts.map((x) => x.deployment), ["down/a", "openai/gpt-4o-mini"]);
    const b = await post({ model: "down2/a", fallbacks: [{ model: "anthropic/claude-sonnet" }], num_retries: 0 });
    assert.equal((await record(b.id)).deployment, "anthropic/claude-sonnet");
    const bad = await post({ model: "default", fallbacks: [42] });
    assert.deepEqual([bad.status, bad.body.error?.param], [400, "fallbacks[0]"]);
  });

  test("LiteLLM's num_retries and timeout", async () => {
    const r = await post({ model: "down3/a", num_retries: 2 });
    assert.equal(r.status, 502);
    assert.deepEqual((await record(r.id)).attempts.map((x) => x.deployment), ["down3/a", "down3/a", "down3/a"]);
    const t0 = Date.now();
    const t = await post({ model: "slow/a", timeout: 0.3 });
    assert.equal(t.status, 504);
    assert.ok(Date.now() - t0 < 2500);
    const bad = await post({ model: "default", timeout: -1 });
    assert.deepEqual([bad.status, bad.body.error?.param], [400, "timeout"]);
  });

  test("LiteLLM's tags (top-level and metadata.tags) are the request's tags; its cache controls", async () => {
    const r = await post({ model: "default", tags: ["checkout"], metadata: { tags: ["prod"], env: "staging" } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const rec = await record(r.id);
    assert.deepEqual([...rec.tags].sort(), ["checkout", "prod"]);
    assert.equal(rec.metadata.env, "staging");
    assert.equal(rec.metadata.tags, undefined);
    const content = [{ role: "user", content: "cache controls" }];
    assert.equal((await post({ model: "default", messages: content })).cache, "miss");
    assert.equal((await post({ model: "default", messages: content })).cache, "hit");
    assert.equal((await post({ model: "default", messages: content, cache: { "no-cache": true } })).cache, "refresh");
    assert.equal((await post({ model: "default", messages: content, cache: { "no-store": true } })).cache, "bypass");
    const bad = await post({ model: "default", cache: { "s-maxage": 10 } });
    assert.deepEqual([bad.status, bad.body.error?.param], [400, "cache.s-maxage"]);
  });
});
