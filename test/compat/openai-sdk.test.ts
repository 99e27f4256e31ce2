// The official `openai` SDK pointed at the gateway's OpenAI-compatible endpoint, over a real
// socket, with a fake OpenAI upstream behind it: unary, streams, tools both ways, images, JSON
// mode, a fallback the SDK never notices, the SDK's own retry on 429, and every error shape the
// SDK acts on. The endpoint runs on the same engine as ChatService: usage records, limits and
// budgets are checked here too.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { createSignalboxClient, userText } from "@signalbox/client";

const KEY = ["sbx", "test", "compat", "team", "a"].join("_");
const LIMITED_KEY = ["sbx", "test", "compat", "limited"].join("_");
const BROKE_KEY = ["sbx", "test", "compat", "broke"].join("_");

function config(upstream: string): string {
  return `
server: { max_request_bytes: 1048576 }
providers:
  - name: openai
    type: openai
    base_url: ${upstream}
    api_key: ${OPENAI_TEST_KEY}
    timeouts: { connect_ms: 1000, headers_ms: 5000, body_ms: 5000 }
  - name: backup
    type: mock
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: backup/mock, provider: backup, model: mock-backup, pricing: { input: 1, output: 1 } }
aliases:
  smart: openai/gpt-4o
routes:
  - name: solo
    targets: [openai/gpt-4o]
    retry: { max_retries: 0 }
  - name: with-backup
    targets: [openai/gpt-4o, backup/mock]
    retry: { max_retries: 0 }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: limited, hash: "${hashKey(LIMITED_KEY)}", team: a, role: service, allow: [solo] }
  - { name: broke, hash: "${hashKey(BROKE_KEY)}", team: b, role: service, budget: { period: month, limit_usd: 0 } }
`;
}

let fake: FakeOpenAI;
let t: TestGateway;
let client: OpenAI;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(config(fake.url));
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(async () => {
  await t.close();
  await fake.close();
});
beforeEach(() => fake.reset());

const lastRecord = () => {
  const r = t.usage.recent();
  return r[r.length - 1];
};

describe("completions", () => {
  test("unary: text, finish reason, usage, ids and headers", async () => {
    fake.script({ kind: "text", text: "Hello from upstream.", usage: { input: 12, output: 5 } });
    const { data, response } = await client.chat.completions
      .create({ model: "solo", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }], temperature: 0.2, max_tokens: 50 })
      .withResponse();
    assert.equal(data.object, "chat.completion");
    assert.equal(data.choices[0].message.role, "assistant");
    assert.equal(data.choices[0].message.content, "Hello from upstream.");
    assert.equal(data.choices[0].finish_reason, "stop");
    assert.equal(data.usage?.prompt_tokens, 12);
    assert.equal(data.usage?.completion_tokens, 5);
    assert.equal(data.usage?.total_tokens, 17);
    assert.equal(response.headers.get("x-signalbox-deployment"), "openai/gpt-4o");
    assert.equal(response.headers.get("x-request-id"), data.id, "x-request-id is the gateway's request id");
    // The upstream got the request translated, with the pinned model and the gateway's key.
    const up = fake.requests[0];
    assert.equal(up.body.model, "gpt-4o");
    assert.equal(up.body.temperature, 0.2);
    assert.deepEqual(
      up.body.messages.map((m: { role: string }) => m.role),
      ["system", "user"],
    );
    const rec = lastRecord();
    assert.equal(rec.id, data.id);
    assert.equal(rec.status, "ok");
    assert.equal(rec.key, "team-a");
    assert.equal(rec.team, "a");
    assert.equal(rec.deployment, "openai/gpt-4o");
    assert.equal(rec.routing.route, "solo");
    assert.equal(rec.usage.inputTokens, 12);
    assert.ok(rec.cost.total > 0);
    assert.equal(rec.streamed, false);
  });

  test("model accepts a route, an alias and a deployment id", async () => {
    for (const model of ["solo", "smart", "openai/gpt-4o"]) {
      fake.script({ kind: "text", text: `via ${model}` });
      const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }] });
      assert.equal(r.choices[0].message.content, `via ${model}`);
    }
  });

  test("stream: deltas, finish chunk, usage chunk with include_usage, [DONE]", async () => {
    fake.script({ kind: "text", text: ["Hel", "lo ", "world"], usage: { input: 9, output: 3 } });
    const stream = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Hi" }], stream: true, stream_options: { include_usage: true } });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      assert.equal(c.object, "chat.completion.chunk");
      if (c.choices[0]?.delta.content) text += c.choices[0].delta.content;
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, "Hello world");
    assert.equal(finish, "stop");
    assert.equal(usage?.prompt_tokens, 9);
    assert.equal(usage?.completion_tokens, 3);
    assert.ok(chunks >= 3);
    assert.equal(fake.requests[0].body.stream, true);
    assert.equal(lastRecord().streamed, true);
  });

  test("stream without include_usage sends no usage chunk", async () => {
    fake.script({ kind: "text", text: ["a", "b"] });
    const stream = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Hi" }], stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
  });

  test("the SDK's stream helper assembles the final message", async () => {
    fake.script({ kind: "text", text: ["Stream", "ed"] });
    const runner = client.chat.completions.stream({ model: "solo", messages: [{ role: "user", content: "Hi" }] });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, "Streamed");
  });
});

describe("tools, images and JSON", () => {
  const weather: OpenAI.ChatCompletionTool = {
    type: "function",
    function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
  };

  test("tool calls come back and tool results go up (unary)", async () => {
    fake.script([{ kind: "tool_calls", calls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' }] }, { kind: "text", text: "It is sunny." }]);
    const first = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Weather in Paris?" }], tools: [weather], tool_choice: "auto" });
    const msg = first.choices[0].message;
    assert.equal(first.choices[0].finish_reason, "tool_calls");
    assert.equal(msg.tool_calls?.length, 1);
    const call = msg.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.id, "call_1");
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
    assert.equal(fake.requests[0].body.tools[0].function.name, "get_weather");

    const second = await client.chat.completions.create({
      model: "solo",
      messages: [{ role: "user", content: "Weather in Paris?" }, msg, { role: "tool", tool_call_id: "call_1", content: '{"sky":"sunny"}' }],
      tools: [weather],
    });
    assert.equal(second.choices[0].message.content, "It is sunny.");
    const up = fake.requests[1].body.messages;
    assert.equal(up[1].role, "assistant");
    assert.equal(up[1].tool_calls[0].id, "call_1");
    assert.equal(up[2].role, "tool");
    assert.equal(up[2].tool_call_id, "call_1");
  });

  test("tool calls stream as OpenAI tool_call deltas", async () => {
    fake.script({ kind: "tool_calls", calls: [{ id: "call_9", name: "get_weather", arguments: '{"city":"Oslo"}' }] });
    const runner = client.chat.completions.stream({ model: "solo", messages: [{ role: "user", content: "Oslo?" }], tools: [weather], tool_choice: { type: "function", function: { name: "get_weather" } } });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assert.equal(call.id, "call_9");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Oslo" });
    assert.deepEqual(fake.requests[0].body.tool_choice, { type: "function", function: { name: "get_weather" } });
  });

  test("images go up as image_url parts", async () => {
    fake.script({ kind: "text", text: "A red dot." });
    const png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
    await client.chat.completions.create({
      model: "solo",
      messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: png, detail: "low" } }] }],
    });
    const parts = fake.requests[0].body.messages[0].content;
    assert.equal(parts[1].type, "image_url");
    assert.equal(parts[1].image_url.url, png);
    assert.equal(parts[1].image_url.detail, "low");
  });

  test("JSON schema and JSON object modes reach the upstream", async () => {
    fake.script([{ kind: "json", value: { answer: 42 } }, { kind: "json", value: { ok: true } }]);
    const r = await client.chat.completions.create({
      model: "solo",
      messages: [{ role: "user", content: "Answer" }],
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object", properties: { answer: { type: "number" } } }, strict: true } },
    });
    assert.deepEqual(JSON.parse(r.choices[0].message.content!), { answer: 42 });
    assert.equal(fake.requests[0].body.response_format.type, "json_schema");
    assert.equal(fake.requests[0].body.response_format.json_schema.name, "answer");
    await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "JSON please" }], response_format: { type: "json_object" } });
    assert.equal(fake.requests[1].body.response_format.type, "json_object");
  });
});

describe("routing through the endpoint", () => {
  test("a fallback the SDK never notices", async () => {
    fake.script({ kind: "error", error: "server_error" });
    const { data, response } = await client.chat.completions.create({ model: "with-backup", messages: [{ role: "user", content: "Hi" }] }).withResponse();
    assert.equal(response.status, 200);
    assert.match(data.choices[0].message.content ?? "", /mock-backup/);
    assert.equal(response.headers.get("x-signalbox-deployment"), "backup/mock");
    const rec = lastRecord();
    assert.deepEqual(
      rec.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["openai/gpt-4o", "failed"],
        ["backup/mock", "succeeded"],
      ],
    );
  });

  test("OpenRouter's models array is the fallback list; user and metadata are recorded", async () => {
    fake.script({ kind: "error", error: "server_error" });
    const body = { model: "solo", models: ["backup/mock"], messages: [{ role: "user" as const, content: "Hi" }], user: "end-user-7", metadata: { ticket: "T-1" } };
    const r = await client.chat.completions.create(body);
    assert.match(r.choices[0].message.content ?? "", /mock-backup/);
    const rec = lastRecord();
    assert.equal(rec.user, "end-user-7");
    assert.deepEqual(rec.metadata, { ticket: "T-1" });
    assert.equal(rec.deployment, "backup/mock");
  });

  test("the SDK's own retry on 429 honours the gateway's retry-after-ms", async () => {
    fake.script([{ kind: "error", error: "rate_limit", retryAfterMs: 40 }, { kind: "text", text: "after the wait" }]);
    const retrying = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 2 });
    const r = await retrying.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(r.choices[0].message.content, "after the wait");
    assert.equal(fake.requests.length, 2, "the first 429 went back to the SDK, which retried");
    const statuses = t.usage.recent().slice(-2).map((u) => u.status);
    assert.deepEqual(statuses, ["resource_exhausted", "ok"]);
  });

  test("the same answer through Connect and through the OpenAI endpoint", async () => {
    const connect = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
    const viaConnect = await connect.chat.complete({ model: "backup/mock", messages: [userText("same engine")] });
    const viaOpenAI = await client.chat.completions.create({ model: "backup/mock", messages: [{ role: "user", content: "same engine" }] });
    assert.equal(viaOpenAI.choices[0].message.content, viaConnect.message?.content[0].part.value);
    const [a, b] = t.usage.recent().slice(-2);
    assert.equal(a.cost.total, b.cost.total);
    assert.equal(a.key, b.key);
  });
});

describe("errors in OpenAI's shape", () => {
  const ask = (c: OpenAI, body: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>) =>
    c.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Hi" }], ...body } as OpenAI.ChatCompletionCreateParamsNonStreaming);

  test("401 for a missing or unknown key", async () => {
    const bad = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: "not-a-key", maxRetries: 0 });
    const err = await ask(bad, {}).catch((e) => e);
    assert.ok(err instanceof OpenAI.AuthenticationError);
    assert.equal(err.status, 401);
    assert.equal(err.code, "invalid_api_key");
    assert.equal(fake.requests.length, 0);
    assert.doesNotMatch(err.message, /not-a-key/);
  });

  test("400 naming the parameter, and nothing reaches the provider", async () => {
    const cases: [Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>, string][] = [
      [{ temperature: 3 }, "temperature"],
      [{ top_p: 2 }, "top_p"],
      [{ max_tokens: 0 }, "max_tokens"],
      [{ max_completion_tokens: -1 }, "max_completion_tokens"],
      [{ messages: [] }, "messages"],
      [{ messages: [{ role: "tool", content: "x", tool_call_id: "nope" }] }, "messages[0].tool_call_id"],
      [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "ftp://x" } }] }] }, "messages[0].content[0].image_url.url"],
      [{ n: 17 }, "n"],
      [{ logprobs: true, top_logprobs: 21 }, "top_logprobs"],
      [{ top_logprobs: 2 }, "top_logprobs"],
      [{ tool_choice: "required" }, "tool_choice"],
      [{ stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ response_format: { type: "json_schema", json_schema: { name: "bad name!", schema: { type: "object" } } } }, "response_format.json_schema.name"],
      [{ model: "" }, "model"],
    ];
    for (const [body, param] of cases) {
      const err = await ask(client, body).catch((e) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, `${param}: ${err}`);
      assert.equal(err.param, param, err.message);
      const message = (err.error as { message: string }).message;
      assert.ok(message.startsWith(`${param}: `), message);
      assert.equal(err.type, "invalid_request_error");
    }
    assert.equal(fake.requests.length, 0);
  });

  test("malformed JSON is a 400 on body", async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: "{nope" });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { param: string; type: string } };
    assert.equal(body.error.param, "body");
  });

  test("404 model_not_found for an unknown model; 403 for a model the key may not use", async () => {
    const nf = await ask(client, { model: "no-such-model" }).catch((e) => e);
    assert.ok(nf instanceof OpenAI.NotFoundError);
    assert.equal(nf.code, "model_not_found");
    assert.equal(nf.param, "model");
    const limited = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: LIMITED_KEY, maxRetries: 0 });
    const pd = await ask(limited, { model: "with-backup" }).catch((e) => e);
    assert.ok(pd instanceof OpenAI.PermissionDeniedError);
    assert.equal(pd.status, 403);
  });

  test("429 with retry-after when every candidate is rate limited", async () => {
    fake.script({ kind: "error", error: "rate_limit", retryAfter: 7 });
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "solo", messages: [{ role: "user", content: "Hi" }] }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "7");
    assert.equal(res.headers.get("retry-after-ms"), "7000");
    const body = (await res.json()) as { error: { code: string; type: string } };
    assert.equal(body.error.code, "rate_limit_exceeded");
  });

  test("an exhausted budget is 429 insufficient_quota that the SDK does not retry", async () => {
    const broke = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: BROKE_KEY, maxRetries: 2 });
    const started = Date.now();
    const err = await ask(broke, {}).catch((e) => e);
    assert.ok(err instanceof OpenAI.RateLimitError);
    assert.equal(err.code, "insufficient_quota");
    assert.equal(err.headers.get("x-should-retry"), "false");
    assert.ok(Date.now() - started < 400, "no retry back-off happened");
    assert.equal(fake.requests.length, 0);
    assert.equal(lastRecord().refusal, "budget");
  });

  test("502 when every candidate failed upstream; the SDK retries 5xx", async () => {
    fake.script({ kind: "error", error: "server_error" });
    const err = await ask(client, {}).catch((e) => e);
    assert.ok(err instanceof OpenAI.InternalServerError);
    assert.equal(err.status, 502);
    const retrying = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 1 });
    fake.script([{ kind: "error", error: "server_error" }, { kind: "text", text: "second time lucky" }]);
    const ok = await ask(retrying, {});
    assert.equal(ok.choices[0].message.content, "second time lucky");
  });

  test("a failure after the first delta ends the stream with an error event the SDK throws", async () => {
    fake.script({ kind: "stream_error", text: "partial answer here", afterDeltas: 1, error: "server_error" });
    const stream = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Hi" }], stream: true });
    let text = "";
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    })().catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /failed after 1 deltas/);
    assert.ok(text.length > 0);
    const rec = lastRecord();
    assert.equal(rec.status, "unavailable");
    assert.ok(rec.usage.outputTokens > 0, "the delivered part is billed");
  });

  test("a failure before the first delta is a plain HTTP error for streams too", async () => {
    fake.script({ kind: "error", error: "rate_limit", retryAfterMs: 30 });
    const err = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Hi" }], stream: true }).catch((e) => e);
    assert.ok(err instanceof OpenAI.RateLimitError);
    assert.equal(err.headers.get("retry-after-ms"), "30");
  });

  test("unknown paths and methods", async () => {
    // GET lists the stored chat completions (store: true); other methods are not allowed.
    const put = await fetch(`${t.url}/v1/chat/completions`, { method: "PUT", headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "POST, GET");
    const get = await fetch(`${t.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(get.status, 200);
    assert.equal(((await get.json()) as { object: string }).object, "list");
    const other = await fetch(`${t.url}/v1/fine_tuning/jobs`, { method: "POST", headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(other.status, 404);
  });
});

describe("models", () => {
  test("list and retrieve what the key may use", async () => {
    const all = await client.models.list();
    const ids = all.data.map((m) => m.id);
    for (const id of ["solo", "with-backup", "smart", "openai/gpt-4o", "backup/mock"]) assert.ok(ids.includes(id), id);
    assert.ok(all.data.every((m) => m.object === "model"));
    const one = await client.models.retrieve("openai/gpt-4o");
    assert.equal(one.id, "openai/gpt-4o");
    assert.equal(one.owned_by, "openai");
    const limited = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: LIMITED_KEY, maxRetries: 0 });
    assert.deepEqual(
      (await limited.models.list()).data.map((m) => m.id),
      ["solo"],
    );
    const err = await limited.models.retrieve("with-backup").catch((e) => e);
    assert.ok(err instanceof OpenAI.NotFoundError);
  });
});
