// Provider pass-through (/passthrough/{provider}/{path}) over real sockets, against the fake
// OpenAI, Anthropic and Gemini servers: requests go as they are with the provider's credentials and
// never the caller's; answers come back as they are (status, headers, body, a stream as it comes);
// usage and cost are read from whole and streamed answers in each provider's shape; access is
// granted per provider by the allow list; spent budgets refuse before anything is sent; every
// request is a record.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { startFakeBedrock, type FakeAwsCredentials, type FakeBedrock } from "../fakes/bedrock.ts";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { framingOf, UsageReader } from "../../src/compat/passthrough.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "pass", "through"].join("_");
const CHAT_ONLY = ["sbx", "test", "pass", "chat", "only"].join("_");
const ALL_MODELS = ["sbx", "test", "pass", "all", "models"].join("_");
const BROKE = ["sbx", "test", "pass", "broke"].join("_");
const AWS: FakeAwsCredentials = { accessKeyId: ["PASS", "ACCESS", "KEY"].join(""), secretAccessKey: ["pass", "secret", "never", "shown"].join("-") };
const BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

function config(openai: string, anthropic: string, gemini: string, bedrock: string): string {
  return `
server: { max_request_bytes: 65536, max_passthrough_bytes: 4194304 }
providers:
  - { name: oa, type: openai, base_url: "${openai}", api_key: ${OPENAI_TEST_KEY} }
  - { name: claude, type: anthropic, base_url: "${anthropic}", api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: gem, type: gemini, base_url: "${gemini}", api_key: ${GEMINI_TEST_KEY} }
  - { name: br, type: bedrock, base_url: "${bedrock}", aws: { region: us-east-1, access_key_id: ${AWS.accessKeyId}, secret_access_key: ${AWS.secretAccessKey} } }
  - { name: mock, type: mock }
deployments:
  - { id: oa/gpt-4o, provider: oa, model: gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: mock/a, provider: mock, model: mock-a }
keys:
  - { name: passer, hash: "${hashKey(KEY)}", team: a, role: service, allow: [mock/a, "passthrough:*"] }
  - { name: chat-only, hash: "${hashKey(CHAT_ONLY)}", team: a, role: service, allow: [mock/a, "passthrough:claude"] }
  - { name: all-models, hash: "${hashKey(ALL_MODELS)}", team: a, role: service }
  - { name: broke, hash: "${hashKey(BROKE)}", team: b, role: service, allow: ["passthrough:*"], budget: { period: day, limit_usd: 0 } }
`;
}

let oa: FakeOpenAI;
let claude: FakeAnthropic;
let gem: FakeGemini;
let br: FakeBedrock;
let t: TestGateway;

before(async () => {
  [oa, claude, gem, br] = await Promise.all([startFakeOpenAI(), startFakeAnthropic(), startFakeGemini(), startFakeBedrock({ credentials: [AWS] })]);
  t = await startTestGateway(config(oa.url, claude.url, gem.url, br.url));
});
after(async () => {
  await t?.close();
  await Promise.all([oa.close(), claude.close(), gem.close(), br.close()]);
});
beforeEach(() => {
  oa.reset();
  claude.reset();
  gem.reset();
  br.reset();
});

async function recordOf(id: string | null): Promise<UsageRecord> {
  for (let i = 0; i < 100; i++) {
    const r = t.usage.recent().find((x) => x.id === id);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`no record ${id}`);
}

describe("pass-through", () => {
  test("the OpenAI SDK through /passthrough/oa: the provider's key is sent, the caller's never; usage and cost are read from the answer", async () => {
    const client = new OpenAI({ baseURL: `${t.url}/passthrough/oa`, apiKey: KEY, maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hello through" }] }).withResponse();
    assert.match(data.choices[0].message.content ?? "", /hello through/);
    const sent = oa.requests.at(-1)!;
    assert.equal(sent.path, "/v1/chat/completions");
    assert.equal(sent.headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    assert.ok(!JSON.stringify(sent.headers).includes(KEY), "the caller's key is not passed on");
    assert.equal(sent.body.messages[0].content, "hello through");
    const rec = await recordOf(response.headers.get("x-request-id"));
    // The provider's own id stays readable beside the gateway's, with its other headers.
    assert.match(response.headers.get("x-upstream-request-id") ?? "", /\S/);
    assert.equal(response.headers.get("openai-version"), "2020-10-01");
    assert.equal(rec.operation, "passthrough");
    assert.equal(rec.status, "ok");
    assert.equal(rec.provider, "oa");
    assert.equal(rec.model, "gpt-4o");
    assert.equal(rec.deployment, "oa/gpt-4o");
    assert.deepEqual(rec.metadata, { method: "POST", path: "/chat/completions", upstream_status: "200" });
    assert.equal(rec.usage.inputTokens, data.usage!.prompt_tokens);
    assert.equal(rec.usage.outputTokens, data.usage!.completion_tokens);
    assert.equal(rec.cost.total, Math.round(data.usage!.prompt_tokens * 2500) + Math.round(data.usage!.completion_tokens * 10_000));
    // A GET with a query, answered as it is.
    const models = await fetch(`${t.url}/passthrough/oa/models?limit=2`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(models.status, 200);
    assert.ok(Array.isArray((await models.json()).data));
    assert.deepEqual([oa.requests.at(-1)!.method, oa.requests.at(-1)!.path], ["GET", "/v1/models"]);
  });

  test("a stream comes back as it is; its usage is read from the last chunk", async () => {
    const client = new OpenAI({ baseURL: `${t.url}/passthrough/oa`, apiKey: KEY, maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "stream it" }] }).withResponse();
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? "";
      if (c.usage) usage = c.usage;
    }
    assert.match(text, /stream it/);
    assert.ok(usage);
    assert.equal(response.headers.get("content-type")?.startsWith("text/event-stream"), true);
    const rec = await recordOf(response.headers.get("x-request-id"));
    assert.equal(rec.streamed, true);
    assert.deepEqual([rec.usage.inputTokens, rec.usage.outputTokens], [usage!.prompt_tokens, usage!.completion_tokens]);
    assert.ok(rec.cost.total > 0);
  });

  test("Anthropic's SDK through /passthrough/claude: x-api-key and a default anthropic-version; streamed usage merged; catalog prices", async () => {
    const client = new Anthropic({ baseURL: `${t.url}/passthrough/claude`, apiKey: CHAT_ONLY, maxRetries: 0 });
    const msg = await client.messages.create({ model: "claude-sonnet-4-5-20250929", max_tokens: 64, messages: [{ role: "user", content: "hi claude" }] });
    const sent = claude.requests.at(-1)!;
    assert.equal(sent.headers["x-api-key"], ANTHROPIC_TEST_KEY);
    assert.ok(!JSON.stringify(sent.headers).includes(CHAT_ONLY));
    const unary = t.usage.recent().filter((r) => r.operation === "passthrough").at(-1)!;
    assert.deepEqual([unary.usage.inputTokens, unary.usage.outputTokens], [msg.usage.input_tokens, msg.usage.output_tokens]);
    // Claude Sonnet 4.5 at the catalog's $3 in and $15 out.
    assert.equal(unary.cost.total, msg.usage.input_tokens * 3000 + msg.usage.output_tokens * 15_000);
    const stream = client.messages.stream({ model: "claude-sonnet-4-5-20250929", max_tokens: 64, messages: [{ role: "user", content: "stream, claude" }] });
    const final = await stream.finalMessage();
    const rec = t.usage.recent().filter((r) => r.operation === "passthrough").at(-1)!;
    assert.equal(rec.streamed, true);
    assert.deepEqual([rec.usage.inputTokens, rec.usage.outputTokens], [final.usage.input_tokens, final.usage.output_tokens]);
  });

  test("Gemini's REST API through /passthrough/gem: x-goog-api-key; usageMetadata read", async () => {
    const r = await fetch(`${t.url}/passthrough/gem/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi gemini" }] }] }),
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(gem.requests.at(-1)!.headers["x-goog-api-key"], GEMINI_TEST_KEY);
    const rec = await recordOf(r.headers.get("x-request-id"));
    assert.equal(rec.model, "gemini-2.5-flash");
    assert.equal(rec.usage.inputTokens, body.usageMetadata.promptTokenCount);
    // The caller's key in Gemini's ?key= is read by the gateway and not passed on.
    const q = await fetch(`${t.url}/passthrough/gem/v1beta/models/gemini-2.5-flash:generateContent?key=${KEY}&alt=json`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "count me" }] }] }) });
    assert.equal(q.status, 200);
    assert.deepEqual(gem.requests.at(-1)!.query, { alt: "json" });
  });

  test("Bedrock through /passthrough/br: signed with SigV4 for the request as it is; Converse usage read", async () => {
    const r = await fetch(`${t.url}/passthrough/br/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "hi bedrock" }] }], inferenceConfig: { maxTokens: 64 } }),
    });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.deepEqual([br.signatures.at(-1)!.accessKeyId, br.signatures.at(-1)!.valid], [AWS.accessKeyId, true]);
    const rec = await recordOf(r.headers.get("x-request-id"));
    assert.equal(rec.model, BEDROCK_MODEL);
    assert.deepEqual([rec.usage.inputTokens, rec.usage.outputTokens], [body.usage.inputTokens, body.usage.outputTokens]);
    assert.ok(rec.cost.total > 0);
    assert.ok(!JSON.stringify(rec).includes(AWS.secretAccessKey));
  });

  test("Bedrock's binary event stream (ConverseStream) is relayed byte for byte; the usage of its metadata event is read", async () => {
    const r = await fetch(`${t.url}/passthrough/br/model/${encodeURIComponent(BEDROCK_MODEL)}/converse-stream`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: "stream from bedrock" }] }], inferenceConfig: { maxTokens: 64 } }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/vnd.amazon.eventstream");
    const bytes = new Uint8Array(await r.arrayBuffer());
    // The caller decodes it as the AWS SDKs do.
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const events: { type: string; body: any }[] = [];
    for (let at = 0; at < bytes.length; ) {
      const len = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
      const m = codec.decode(bytes.subarray(at, at + len));
      events.push({ type: String(m.headers[":event-type"]?.value), body: JSON.parse(toUtf8(m.body)) });
      at += len;
    }
    const meta = events.find((e) => e.type === "metadata")!.body;
    assert.ok(events.some((e) => e.type === "contentBlockDelta"));
    const rec = await recordOf(r.headers.get("x-request-id"));
    assert.equal(rec.streamed, true);
    assert.deepEqual([rec.usage.inputTokens, rec.usage.outputTokens], [meta.usage.inputTokens, meta.usage.outputTokens]);
    assert.ok(rec.cost.total > 0);
  });

  test("InvokeModelWithResponseStream's chunks: the model's own usage, then Bedrock's invocation metrics, read however the frames are cut", () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const chunk = (payload: unknown) =>
      codec.encode({
        headers: { ":event-type": { type: "string", value: "chunk" }, ":content-type": { type: "string", value: "application/json" }, ":message-type": { type: "string", value: "event" } },
        body: fromUtf8(JSON.stringify({ bytes: Buffer.from(JSON.stringify(payload)).toString("base64") })),
      });
    const frames = [
      chunk({ type: "message_start", message: { usage: { input_tokens: 40, output_tokens: 1, cache_read_input_tokens: 10 } } }),
      chunk({ type: "content_block_delta", delta: { type: "text_delta", text: "hello" } }),
      chunk({ type: "message_delta", usage: { output_tokens: 25 } }),
      chunk({ type: "message_stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: 40, outputTokenCount: 25, cacheReadInputTokenCount: 10, cacheWriteInputTokenCount: 0, invocationLatency: 900, firstByteLatency: 300 } }),
    ];
    const all = Buffer.concat(frames.map((f) => Buffer.from(f)));
    const reader = new UsageReader(framingOf("application/vnd.amazon.eventstream"), false);
    for (let i = 0; i < all.length; i += 7) reader.chunk(all.subarray(i, i + 7));
    assert.deepEqual(reader.end(), { inputTokens: 50, outputTokens: 25, cachedInputTokens: 10, cacheWriteTokens: 0, reasoningTokens: 0 });
    // Without the metrics chunk, the model's own (Anthropic's) usage.
    const partial = new UsageReader("eventstream", false);
    partial.chunk(Buffer.concat(frames.slice(0, 3).map((f) => Buffer.from(f))));
    assert.deepEqual([partial.end()?.inputTokens, partial.end()?.outputTokens, partial.end()?.cachedInputTokens], [50, 25, 10]);
    // A stream that cannot be decoded is not read (and does not throw).
    const broken = new UsageReader("eventstream", false);
    broken.chunk(Buffer.from([0, 0, 0, 1, 2, 3, 4, 5]));
    assert.equal(broken.end(), undefined);
  });

  test("an upload larger than server.max_request_bytes goes on as it is read, byte for byte, with its length", async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const form = new FormData();
    form.append("purpose", "fine-tune");
    form.append("file", new Blob([bytes], { type: "application/jsonl" }), "train.jsonl");
    const body = Buffer.from(await new Response(form).arrayBuffer());
    const contentType = new Response(form).headers.get("content-type")!;
    const r = await fetch(`${t.url}/passthrough/oa/files`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": contentType }, body });
    await r.arrayBuffer();
    const sent = oa.requests.at(-1)!;
    assert.deepEqual([sent.method, sent.path], ["POST", "/v1/files"]);
    assert.equal(sent.headers["content-length"], String(body.length));
    assert.ok(sent.rawBytes.equals(body), "the upload arrives unchanged");
    const rec = await recordOf(r.headers.get("x-request-id"));
    assert.equal(rec.metadata.path, "/files");
    // A JSON body is read whole, so it stays within the limit.
    const big = await fetch(`${t.url}/passthrough/oa/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "x".repeat(70_000) }] }) });
    assert.equal(big.status, 413);
  });

  test("an upload past server.max_passthrough_bytes: refused before anything is sent when declared, cut and answered 413 when it grows past it", async () => {
    const before = oa.requests.length;
    const declared = await fetch(`${t.url}/passthrough/oa/files`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/octet-stream" }, body: Buffer.alloc(5 * 1024 * 1024) });
    assert.equal(declared.status, 413);
    await declared.arrayBuffer();
    assert.equal(oa.requests.length, before, "nothing reached the provider");
    // No length given (chunked): read and sent on until it passes the limit.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 5 * 1024 * 1024) return c.close();
        sent += 64 * 1024;
        c.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const cut = await fetch(`${t.url}/passthrough/oa/files`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/octet-stream" }, body, duplex: "half" } as RequestInit);
    const answer = (await cut.json()) as { error: { message: string; param: string } };
    assert.equal(cut.status, 413);
    assert.equal(answer.error.param, "body");
    assert.match(answer.error.message, /at most 4194304 bytes \(server\.max_passthrough_bytes\)/);
    const rec = await recordOf(cut.headers.get("x-request-id"));
    assert.equal(rec.status, "resource_exhausted");
  });

  test("a caller that leaves mid-stream: the stream stops, the request is recorded as canceled", async () => {
    oa.script({ kind: "text", text: ["a", "b", "c", "d", "e", "f", "g", "h"], chunkDelayMs: 150 });
    const ac = new AbortController();
    const r = await fetch(`${t.url}/passthrough/oa/chat/completions`, { method: "POST", signal: ac.signal, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "long" }] }) });
    const reader = r.body!.getReader();
    await reader.read();
    ac.abort();
    const rec = await recordOf(r.headers.get("x-request-id"));
    assert.equal(rec.status, "canceled");
    assert.equal(rec.streamed, true);
    assert.ok(rec.latencyMs < 1000, `recorded ${rec.latencyMs} ms after it started, not when the provider finished`);
  });

  test("the provider's errors come back as they are, and are recorded with their status", async () => {
    const r = await fetch(`${t.url}/passthrough/oa/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-4o", messages: [] }) });
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.error.type, "invalid_request_error");
    const rec = await recordOf(r.headers.get("x-request-id"));
    assert.equal(rec.status, "invalid_argument");
    assert.equal(rec.metadata.upstream_status, "400");
    assert.equal(rec.cost.total, 0);
  });

  test("access: granted by name in the allow list; refusals name the field and send nothing", async () => {
    const call = (key: string | undefined, path: string) => fetch(`${t.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const denied = await call(CHAT_ONLY, "/passthrough/oa/models");
    assert.equal(denied.status, 403);
    assert.match((await denied.json()).error.message, /passthrough:oa/);
    // An empty allow list (every model) does not include raw access to providers.
    assert.equal((await call(ALL_MODELS, "/passthrough/oa/models")).status, 403);
    assert.equal((await call(undefined, "/passthrough/oa/models")).status, 401);
    const unknown = await call(KEY, "/passthrough/nope/models");
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.param, "provider");
    assert.equal((await call(KEY, "/passthrough/mock/models")).status, 400);
    const broke = await call(BROKE, "/passthrough/oa/models");
    assert.equal(broke.status, 429);
    assert.equal(oa.requests.length, 0);
    const rec = await recordOf(broke.headers.get("x-request-id"));
    assert.deepEqual([rec.status, rec.refusal], ["resource_exhausted", "budget"]);
  });
});
