// OpenAI's `n` on /v1/chat/completions, through the official SDK over a real socket, with a fake
// OpenAI upstream: n choices are n upstream calls run together (each its own usage record,
// `<id>-i`), answered as one completion with indexed choices and summed usage, unary and streamed;
// a seed becomes seed + i per choice; a choice that fails fails the request and cancels the rest;
// bad `n` is refused by name before anything reaches the upstream.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";

const KEY = ["sbx", "test", "choices", "caller"].join("_");

let fake: FakeOpenAI;
let t: TestGateway;
let client: OpenAI;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: ${fake.url}, api_key: ${OPENAI_TEST_KEY} }
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
routes:
  - { name: solo, targets: [openai/gpt-4o], retry: { max_retries: 0 }, cache: { enabled: true } }
keys:
  - { name: caller, hash: "${hashKey(KEY)}", team: a, role: service }
`);
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(async () => {
  await t.close();
  await fake.close();
});
beforeEach(() => fake.reset());

const recordsOf = (id: string) => t.usage.recent().filter((r) => r.id === id || r.id.startsWith(`${id}-`));

describe("n choices", () => {
  test("unary: n choices from n upstream calls, indexed, usage and cost summed, one record each", async () => {
    fake.script([0, 1, 2].map((i) => ({ kind: "text" as const, text: `answer ${i}`, usage: { input: 10, output: 3 + i } })));
    const { data, response } = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Three ideas" }], n: 3, seed: 7 }).withResponse();
    assert.deepEqual(
      data.choices.map((c) => c.index),
      [0, 1, 2],
    );
    assert.deepEqual(new Set(data.choices.map((c) => c.message.content)), new Set(["answer 0", "answer 1", "answer 2"]));
    assert.ok(data.choices.every((c) => c.finish_reason === "stop"));
    // Three calls: the prompt billed three times, as three calls are.
    assert.equal(data.usage?.prompt_tokens, 30);
    assert.equal(data.usage?.completion_tokens, 12);
    assert.equal(fake.requests.length, 3);
    assert.deepEqual(new Set(fake.requests.map((r) => r.body.seed)), new Set([7, 8, 9]), "choice i asks for seed + i");
    assert.ok(fake.requests.every((r) => r.body.n === undefined), "each upstream call asks for one choice");
    // Never from the cache, even on a route that caches: n copies of one answer are not n choices.
    assert.equal(response.headers.get("x-signalbox-cache"), "bypass");
    const recs = await waitFor(() => {
      const r = recordsOf(data.id);
      return r.length === 3 ? r : undefined;
    });
    assert.deepEqual(new Set(recs.map((r) => r.id)), new Set([data.id, `${data.id}-1`, `${data.id}-2`]));
    assert.ok(recs.every((r) => r.status === "ok" && r.key === "caller"));
    const ext = (data as unknown as { signalbox: { cost_nano_usd: number; attempts: number; choices: { id: string; cost_nano_usd: number }[] } }).signalbox;
    const total = recs.reduce((s, r) => s + r.cost.total, 0);
    assert.equal(ext.cost_nano_usd, total);
    assert.equal(ext.attempts, 3);
    assert.deepEqual(
      ext.choices.map((c) => c.id),
      [data.id, `${data.id}-1`, `${data.id}-2`],
    );
    assert.equal(
      ext.choices.reduce((s, c) => s + c.cost_nano_usd, 0),
      total,
    );
  });

  test("n=1 and no n are one plain call (the cache still applies)", async () => {
    fake.script([{ kind: "text", text: "one" }]);
    const r = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "just one, cached" }], n: 1 });
    assert.equal(r.choices.length, 1);
    assert.equal((r as unknown as { signalbox: { choices?: unknown } }).signalbox.choices, undefined);
    const again = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "just one, cached" }] }).withResponse();
    assert.equal(again.response.headers.get("x-signalbox-cache"), "hit");
    assert.equal(fake.requests.length, 1);
  });

  test("stream: every choice's chunks tagged with its index, a finish each, summed usage, [DONE]", async () => {
    fake.script([
      { kind: "text", text: ["al", "pha"], usage: { input: 5, output: 2 } },
      { kind: "text", text: ["be", "ta"], usage: { input: 5, output: 4 } },
    ]);
    const stream = await client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "Two" }], n: 2, stream: true, stream_options: { include_usage: true } });
    const text = ["", ""];
    const finish: (string | null)[] = [null, null];
    let usage: OpenAI.CompletionUsage | null | undefined;
    let id = "";
    for await (const c of stream) {
      id ||= c.id;
      assert.equal(c.id, id, "one completion id for every chunk");
      for (const ch of c.choices) {
        assert.ok(ch.index === 0 || ch.index === 1);
        assert.equal(finish[ch.index], null, "nothing after a choice's finish");
        text[ch.index] += ch.delta.content ?? "";
        if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
      }
      if (c.usage) usage = c.usage;
    }
    assert.deepEqual(new Set(text), new Set(["alpha", "beta"]));
    assert.deepEqual(finish, ["stop", "stop"]);
    assert.equal(usage?.prompt_tokens, 10);
    assert.equal(usage?.completion_tokens, 6);
    const recs = await waitFor(() => {
      const r = recordsOf(id);
      return r.length === 2 ? r : undefined;
    });
    assert.ok(recs.every((r) => r.status === "ok" && r.streamed));
  });

  test("the SDK's stream helper assembles both choices", async () => {
    fake.script([
      { kind: "text", text: ["one ", "two"] },
      { kind: "text", text: ["three ", "four"] },
    ]);
    const final = await client.chat.completions.stream({ model: "solo", messages: [{ role: "user", content: "Two again" }], n: 2 }).finalChatCompletion();
    assert.equal(final.choices.length, 2);
    assert.deepEqual(new Set(final.choices.map((c) => c.message.content)), new Set(["one two", "three four"]));
  });

  test("a choice that fails fails the request (unary) and cancels the others, each recorded", async () => {
    fake.script([
      { kind: "error", error: "server_error" },
      { kind: "text", text: "too late", delayMs: 1500 },
    ]);
    const started = Date.now();
    let id = "";
    await assert.rejects(client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "fail one" }], n: 2 }), (e: unknown) => {
      id = (e as InstanceType<typeof OpenAI.APIError>).requestID ?? "";
      return e instanceof OpenAI.APIError && (e.status ?? 0) >= 500;
    });
    assert.ok(Date.now() - started < 1200, "the failure is answered without waiting for the slow choice");
    assert.ok(id, "x-request-id on the error");
    const recs = await waitFor(() => {
      const r = recordsOf(id);
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(new Set(recs.map((r) => r.status === "canceled")), new Set([true, false]), recs.map((r) => r.status).join());
  });

  test("a choice refused before the streams start is a plain HTTP error, not a broken stream", async () => {
    fake.script([{ kind: "error", error: "server_error" }, { kind: "text", text: ["x"] }]);
    const r = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: "solo", messages: [{ role: "user", content: "fail before start" }], n: 2, stream: true }),
    });
    assert.ok(r.status >= 500, `status ${r.status}`);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const body = (await r.json()) as { error: { type: string } };
    assert.ok(body.error.type);
  });

  test("a choice that fails mid-stream ends the stream with an error event", async () => {
    fake.script([
      { kind: "stream_error", text: "partial answer", afterDeltas: 1, error: "server_error" },
      { kind: "text", text: ["fine"] },
    ]);
    const r = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: "solo", messages: [{ role: "user", content: "fail mid-stream" }], n: 2, stream: true }),
    });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /"error":\{/);
    assert.doesNotMatch(text, /\[DONE\]/);
  });

  test("a caller that goes away mid-stream cancels every choice's upstream call, each recorded as canceled", async () => {
    fake.script([
      { kind: "text", text: ["a", "b", "c", "d", "e", "f"], chunkDelayMs: 150 },
      { kind: "text", text: ["g", "h", "i", "j", "k", "l"], chunkDelayMs: 150 },
    ]);
    const ac = new AbortController();
    const r = await fetch(`${t.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: "solo", messages: [{ role: "user", content: "go away" }], n: 2, stream: true }),
      signal: ac.signal,
    });
    const id = r.headers.get("x-request-id")!;
    const reader = r.body!.getReader();
    await reader.read();
    const started = Date.now();
    ac.abort();
    const recs = await waitFor(() => {
      const x = recordsOf(id);
      return x.length === 2 ? x : undefined;
    });
    assert.deepEqual(
      recs.map((x) => x.status),
      ["canceled", "canceled"],
    );
    assert.ok(Date.now() - started < 600, "canceled long before the 900 ms the upstreams would have taken");
  });

  test("bad n is refused by name and reaches no upstream", async () => {
    for (const [n, re] of [
      [0, /^n: must be at least 1/],
      [17, /^n: at most 16 choices/],
      [1.5, /^n: /],
    ] as const) {
      await assert.rejects(
        client.chat.completions.create({ model: "solo", messages: [{ role: "user", content: "x" }], n }),
        (e: unknown) => e instanceof OpenAI.BadRequestError && re.test(e.error ? String((e.error as { message?: string }).message) : "") && (e.error as { param?: string }).param === "n",
      );
    }
    assert.equal(fake.requests.length, 0);
  });
});
