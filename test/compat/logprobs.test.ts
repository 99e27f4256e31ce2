// Log probabilities end to end, over real sockets: the official OpenAI SDK and the typed client
// against the gateway, the gateway against a fake OpenAI (its wire format checked against the SDK
// in test/fakes/openai.sdk.test.ts). `logprobs` and `top_logprobs` reach the provider and its
// tokens come back unchanged, unary and streamed, through both doors; a model without log
// probabilities (a reasoning model) has them dropped and reported, or refused under strict_params;
// bad values name the field and reach no provider; the response cache is bypassed; and an output
// guardrail that redacts withholds them, since the tokens would show what it redacted. And
// logit_bias, the other token-level parameter: passed through, dropped where unsupported, checked.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, userText, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, tokenLogprobJson, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "logprobs", "a"].join("_");
const TEXT = ["Paris", " is", " the", " capital", "."];

let fake: FakeOpenAI;
let t: TestGateway;
let sdk: OpenAI;
let typed: SignalboxClient;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: openai/o3, provider: openai, model: o3, pricing: { input: 2, output: 8 } }
routes:
  - { name: chat, targets: [openai/gpt-4o] }
  - { name: reasoning, targets: [openai/o3] }
  - { name: reasoning-strict, targets: [openai/o3], strict_params: true }
  - { name: cached, targets: [openai/gpt-4o], cache: { enabled: true } }
guardrails:
  - { name: pii-out, kind: pii, stage: output, action: redact, pii: { categories: [email] } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
beforeEach(() => {
  fake.reset();
  fake.setDefault({ kind: "text", text: TEXT });
});
after(async () => {
  await t.close();
  await fake.close();
});

const ask = (body: Record<string, unknown>) => ({ model: "chat", messages: [{ role: "user" as const, content: "capital of France?" }], ...body });
/** What the fake sent for each token of TEXT. */
const expected = (top: number) => TEXT.map((tok) => tokenLogprobJson(tok, top));

describe("OpenAI-compatible endpoint", () => {
  test("unary: logprobs and top_logprobs reach the provider, its tokens come back unchanged", async () => {
    const res = await sdk.chat.completions.create(ask({ logprobs: true, top_logprobs: 2 }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    const sent = fake.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(sent.logprobs, true);
    assert.equal(sent.top_logprobs, 2);
    assert.equal(res.choices[0].message.content, TEXT.join(""));
    assert.deepEqual(res.choices[0].logprobs, { content: expected(2), refusal: null });
  });

  test("streamed: each chunk's tokens with its text, the same as the provider's", async () => {
    const stream = await sdk.chat.completions.create(ask({ logprobs: true, stream: true }) as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    let text = "";
    const tokens: OpenAI.Chat.Completions.ChatCompletionTokenLogprob[] = [];
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      tokens.push(...(c.choices[0]?.logprobs?.content ?? []));
    }
    assert.equal(text, TEXT.join(""));
    assert.deepEqual(tokens, expected(0));
    assert.equal((fake.requests.at(-1)!.body as Record<string, unknown>).logprobs, true);
  });

  test("not asked: nothing is sent, logprobs is null", async () => {
    const res = await sdk.chat.completions.create(ask({}) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.equal(res.choices[0].logprobs, null);
    const sent = fake.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal("logprobs" in sent, false);
    assert.equal("top_logprobs" in sent, false);
  });

  test("a reasoning model has them dropped and reported; strict_params refuses naming the field", async () => {
    const res = await sdk.chat.completions.create(ask({ model: "reasoning", logprobs: true, top_logprobs: 3 }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    const sent = fake.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal("logprobs" in sent, false, "o3 would answer 400");
    assert.equal("top_logprobs" in sent, false);
    assert.equal(res.choices[0].logprobs, null);
    const adj = (res as unknown as { signalbox: { adjustments: { field: string; detail: string }[] } }).signalbox.adjustments;
    assert.ok(adj.some((a) => a.field === "logprobs" && /reasoning model: log probabilities are not supported/.test(a.detail)), JSON.stringify(adj));
    const n = fake.requests.length;
    await assert.rejects(sdk.chat.completions.create(ask({ model: "reasoning-strict", logprobs: true }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /logprobs/);
      return true;
    });
    assert.equal(fake.requests.length, n);
  });

  test("bad values name the field and reach no provider", async () => {
    for (const [body, param] of [
      [{ logprobs: true, top_logprobs: 21 }, "top_logprobs"],
      [{ logprobs: true, top_logprobs: -1 }, "top_logprobs"],
      [{ top_logprobs: 2 }, "top_logprobs"],
      [{ logprobs: "yes" }, "logprobs"],
    ] as const) {
      const res = await fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(ask(body)) });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(((await res.json()) as { error: { param: string } }).error.param, param);
    }
    assert.equal(fake.requests.length, 0);
  });

  test("the response cache is bypassed: the cache keeps text, not token probabilities", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await sdk.chat.completions.create(ask({ model: "cached", logprobs: true }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming).withResponse();
      assert.equal(r.response.headers.get("x-signalbox-cache"), "bypass");
      assert.deepEqual(r.data.choices[0].logprobs?.content, expected(0));
    }
    assert.equal(fake.requests.length, 2);
  });

  test("an output guardrail that redacts withholds them, unary and streamed, and says so", async () => {
    fake.setDefault({ kind: "text", text: ["Write", " to", " jane@example.com", " today"] });
    const body = ask({ logprobs: true, signalbox: { guardrails: ["pii-out"] } });
    const res = await sdk.chat.completions.create(body as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.doesNotMatch(JSON.stringify(res), /jane@example\.com/);
    assert.equal(res.choices[0].logprobs, null);
    const adj = (res as unknown as { signalbox: { adjustments: { field: string }[] } }).signalbox.adjustments;
    assert.ok(adj.some((a) => a.field === "logprobs"));
    const stream = await sdk.chat.completions.create({ ...body, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    let raw = "";
    for await (const c of stream) {
      raw += JSON.stringify(c);
      assert.equal(c.choices[0]?.logprobs ?? null, null);
    }
    assert.doesNotMatch(raw, /jane@example\.com/);
  });
});

describe("ChatService (typed client)", () => {
  test("Complete and Stream: TokenLogprob messages with bytes and top alternatives", async () => {
    const res = await typed.chat.complete({ model: "chat", messages: [userText("capital?")], logprobs: true, topLogprobs: 1 });
    assert.deepEqual(
      res.logprobs.map((l) => ({ token: l.token, logprob: l.logprob, bytes: [...(l.bytes ?? [])], top: l.topLogprobs.map((x) => x.token) })),
      expected(1).map((e) => ({ token: e.token, logprob: e.logprob, bytes: e.bytes, top: [e.token] })),
    );
    const tokens: string[] = [];
    let text = "";
    for await (const ev of typed.chat.stream({ model: "chat", messages: [userText("capital?")], logprobs: true })) {
      if (ev.event.case === "delta") {
        text += ev.event.value.text;
        tokens.push(...ev.event.value.logprobs.map((l) => l.token));
      }
    }
    assert.equal(text, TEXT.join(""));
    assert.deepEqual(tokens, TEXT);
  });

  test("top_logprobs without logprobs is invalid_argument naming the field", async () => {
    await assert.rejects(typed.chat.complete({ model: "chat", messages: [userText("x")], topLogprobs: 2 }), /top_logprobs/);
    assert.equal(fake.requests.length, 0);
  });
});

describe("logit_bias", () => {
  const post = (body: Record<string, unknown>) =>
    fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(ask(body)) });

  test("reaches the provider unchanged from both doors; a reasoning model has it dropped and reported", async () => {
    await sdk.chat.completions.create(ask({ logit_bias: { "1234": -100, "42": 5.5 } }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.deepEqual((fake.requests.at(-1)!.body as Record<string, unknown>).logit_bias, { "1234": -100, "42": 5.5 });
    await typed.chat.complete({ model: "chat", messages: [userText("x")], logitBias: { 7: 10 } });
    assert.deepEqual((fake.requests.at(-1)!.body as Record<string, unknown>).logit_bias, { "7": 10 });
    const res = await sdk.chat.completions.create(ask({ model: "reasoning", logit_bias: { "1": 1 } }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.equal("logit_bias" in (fake.requests.at(-1)!.body as Record<string, unknown>), false);
    const adj = (res as unknown as { signalbox: { adjustments: { field: string; detail: string }[] } }).signalbox.adjustments;
    assert.ok(adj.some((a) => a.field === "logit_bias" && /logit_bias is not supported/.test(a.detail)), JSON.stringify(adj));
  });

  test("bad entries name the field and reach no provider", async () => {
    for (const [bias, param] of [
      ["no", "logit_bias"],
      [{ abc: 1 }, "logit_bias.abc"],
      [{ "-3": 1 }, "logit_bias.-3"],
      [{ "42": 101 }, "logit_bias.42"],
      [{ "42": "high" }, "logit_bias.42"],
      [Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [String(i), 1])), "logit_bias"],
    ] as const) {
      const res = await post({ logit_bias: bias });
      assert.equal(res.status, 400, JSON.stringify(bias).slice(0, 40));
      assert.equal(((await res.json()) as { error: { param: string } }).error.param, param);
    }
    await assert.rejects(typed.chat.complete({ model: "chat", messages: [userText("x")], logitBias: { [-1]: 1 } }), /logit_bias/);
    assert.equal(fake.requests.length, 0);
  });
});
