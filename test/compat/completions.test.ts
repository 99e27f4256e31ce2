// The legacy text completions door, POST /v1/completions, with the official OpenAI SDK's
// completions.create against the gateway and the gateway against the fake OpenAI (chat) and the
// mock: the prompt goes upstream as one user message with OpenAI's legacy default of 16 tokens,
// the answer comes back as a text_completion (unary and streamed, with include_usage), log
// probabilities in the legacy shape, what only raw completion models do refused by name.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "completions", "a"].join("_");

let fake: FakeOpenAI;
let t: TestGateway;
let sdk: OpenAI;

before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini }
  - { id: mock/fast, provider: mock, model: mock-fast-1 }
routes:
  - { name: upstream, targets: [openai/gpt-4o-mini], retry: { max_retries: 0 } }
  - { name: backup, targets: [openai/gpt-4o-mini, mock/fast], retry: { max_retries: 0 } }
  - { name: default, targets: [mock/fast] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
beforeEach(() => fake.reset());
after(async () => {
  await t.close();
  await fake.close();
});

const lastRecord = (): UsageRecord => {
  const r = t.usage.recent();
  return r[r.length - 1];
};

describe("POST /v1/completions (the OpenAI SDK)", () => {
  test("unary: the prompt as one user message, 16 tokens by default; a text_completion with usage", async () => {
    fake.script({ kind: "text", text: "This is a test.", usage: { input: 11, output: 5 } });
    const res = await sdk.completions.create({ model: "upstream", prompt: "Say this is a test", temperature: 0.2, stop: ["\n"] });
    assert.equal(res.object, "text_completion");
    assert.match(res.id, /^cmpl-/);
    assert.equal(res.choices[0].text, "This is a test.");
    assert.equal(res.choices[0].finish_reason, "stop");
    assert.equal(res.choices[0].logprobs, null);
    assert.deepEqual(res.usage, { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 });
    const sent = fake.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(sent.messages, [{ role: "user", content: "Say this is a test" }]);
    assert.equal(sent.max_completion_tokens ?? sent.max_tokens, 16);
    assert.equal(sent.temperature, 0.2);
    assert.deepEqual(sent.stop, ["\n"]);
    const r = lastRecord();
    assert.equal(r.status, "ok");
    assert.equal(r.deployment, "openai/gpt-4o-mini");
  });

  test("streamed: text chunks, the finish reason, then the usage chunk and [DONE]", async () => {
    fake.script({ kind: "text", text: ["Hel", "lo ", "world"], usage: { input: 9, output: 3 } });
    const stream = await sdk.completions.create({ model: "upstream", prompt: "Greet", max_tokens: 50, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      assert.equal(c.object, "text_completion");
      if (c.choices[0]) {
        text += c.choices[0].text;
        finish = c.choices[0].finish_reason ?? finish;
      }
      if (c.usage) usage = c.usage;
    }
    assert.equal(text, "Hello world");
    assert.equal(finish, "stop");
    assert.deepEqual(usage, { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
    assert.equal((fake.requests.at(-1)!.body as Record<string, unknown>).stream, true);
  });

  test("logprobs: n alternatives asked for, the legacy shape back", async () => {
    const res = await sdk.completions.create({ model: "default", prompt: "Count to three", logprobs: 2, max_tokens: 8 });
    const lp = res.choices[0].logprobs!;
    assert.ok(lp.tokens!.length > 0);
    assert.equal(lp.tokens!.join(""), res.choices[0].text);
    assert.equal(lp.token_logprobs!.length, lp.tokens!.length);
    assert.deepEqual(lp.text_offset!.slice(0, 2), [0, lp.tokens![0].length]);
    // The two most likely tokens at each position, and the chosen one (often one of them).
    const top = lp.top_logprobs![0];
    assert.ok(Object.keys(top).length >= 2 && Object.keys(top).length <= 3);
    assert.equal(top[lp.tokens![0]], lp.token_logprobs![0]);
  });

  test("a provider failure falls back, as for chat", async () => {
    fake.script({ kind: "error", error: "server_error" });
    const res = await sdk.completions.create({ model: "backup", prompt: "hello" });
    assert.match(res.choices[0].text, /mock-fast-1/);
    assert.deepEqual(
      lastRecord().attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["openai/gpt-4o-mini", "failed"],
        ["mock/fast", "succeeded"],
      ],
    );
  });

  test("n: one choice per call, indexed, usage summed; streamed, each choice's chunks with its index and the summed usage", async () => {
    fake.script([
      { kind: "text", text: "first", usage: { input: 4, output: 1 } },
      { kind: "text", text: "second", usage: { input: 4, output: 2 } },
    ]);
    const res = await sdk.completions.create({ model: "upstream", prompt: "Two of them", n: 2 });
    assert.deepEqual(
      res.choices.map((c) => c.index),
      [0, 1],
    );
    assert.deepEqual(new Set(res.choices.map((c) => c.text)), new Set(["first", "second"]));
    assert.deepEqual(res.usage, { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 });
    assert.equal(fake.requests.length, 2);

    fake.script([
      { kind: "text", text: ["a", "b"], usage: { input: 3, output: 2 } },
      { kind: "text", text: ["c", "d"], usage: { input: 3, output: 2 } },
    ]);
    const stream = await sdk.completions.create({ model: "upstream", prompt: "Two streamed", n: 2, stream: true, stream_options: { include_usage: true } });
    const text = ["", ""];
    const finish: (string | null)[] = [null, null];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      for (const ch of c.choices) {
        text[ch.index] += ch.text;
        if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
      }
      if (c.usage) usage = c.usage;
    }
    assert.deepEqual(new Set(text), new Set(["ab", "cd"]));
    assert.deepEqual(finish, ["stop", "stop"]);
    assert.deepEqual(usage, { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
  });

  test("what only raw completion models do is refused by name, and nothing is sent", async () => {
    for (const [body, param] of [
      [{ prompt: "x", echo: true }, "echo"],
      [{ prompt: "def f(", suffix: "return 1" }, "suffix"],
      [{ prompt: "x", n: 17 }, "n"],
      [{ prompt: "x", best_of: 3 }, "best_of"],
      [{ prompt: [1, 2, 3] }, "prompt"],
      [{ prompt: ["a", "b"] }, "prompt"],
      [{ prompt: "" }, "prompt"],
      [{ prompt: "x", logprobs: 9 }, "logprobs"],
      [{ prompt: "x", messages: [] }, "messages"],
    ] as const) {
      const res = await fetch(`${t.url}/v1/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ model: "upstream", ...body }) });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(((await res.json()) as { error: { param: string } }).error.param, param);
    }
    assert.equal(fake.requests.length, 0);
  });
});
