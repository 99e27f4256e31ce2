// Gemini's log probabilities end to end, over real sockets: the OpenAI SDK and the typed client
// against the gateway, the gateway against the fake Gemini API and the fake Vertex AI (their
// logprobsResult checked against @google/genai in test/fakes/gemini.sdk.test.ts). `logprobs` and
// `top_logprobs` go as generationConfig.responseLogprobs and logprobs; logprobsResult comes back
// as OpenAI's `logprobs.content` (a certain token, whose zero proto3 JSON leaves out, as 0), unary
// and on each stream chunk with its text, through both doors. A Gemini model that answers
// "Logprobs is not enabled" (2.5, 3) has the parameter dropped and reported instead of failing.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { createSignalboxClient, userText, type SignalboxClient } from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { fakeGeminiLogprobs, type FakeGemini } from "../fakes/gemini.ts";
import type { FakeVertex } from "../fakes/vertex.ts";
import { startGoogleFakes, type GoogleFakes } from "../helpers/google-fakes.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "gemini", "logprobs"].join("_");
const TEXT = "Paris is the capital of France.";

let google: GoogleFakes;
let gemini: FakeGemini;
let vertex: FakeVertex;
let t: TestGateway;
let sdk: OpenAI;
let typed: SignalboxClient;

before(async () => {
  google = await startGoogleFakes("lp-test");
  ({ gemini, vertex } = google);
  t = await startTestGateway(`
providers:${google.providersYaml}
deployments:
  - { id: gemini/flash-2.0, provider: gemini, model: gemini-2.0-flash, pricing: { input: 0.1, output: 0.4 } }
  - { id: gemini/flash-2.5, provider: gemini, model: gemini-2.5-flash, pricing: { input: 0.3, output: 2.5 } }
  - { id: vertex/flash-2.0, provider: vertex, model: gemini-2.0-flash-001, pricing: { input: 0.15, output: 0.6 } }
routes:
  - { name: flash, targets: [gemini/flash-2.0], retry: { max_retries: 0 } }
  - { name: flash-25, targets: [gemini/flash-2.5], retry: { max_retries: 0 } }
  - { name: flash-25-strict, targets: [gemini/flash-2.5], strict_params: true }
  - { name: vertex-flash, targets: [vertex/flash-2.0], retry: { max_retries: 0 } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
  sdk = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: KEY, maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
beforeEach(() => {
  gemini.reset();
  vertex.reset();
  gemini.setDefault({ kind: "text", text: TEXT });
  vertex.setDefault({ kind: "text", text: TEXT });
});
after(async () => {
  await t.close();
  await google.close();
});

const ask = (body: Record<string, unknown>) => ({ model: "flash", messages: [{ role: "user" as const, content: "capital of France?" }], ...body });

/** What the fake's logprobsResult for `text` means, as OpenAI's logprobs.content. */
function expected(text: string, top: number, first = true) {
  const r = fakeGeminiLogprobs(text, top, first).logprobsResult as {
    chosenCandidates: { token: string; logProbability?: number }[];
    topCandidates?: { candidates: { token: string; logProbability?: number }[] }[];
  };
  const tok = (c: { token: string; logProbability?: number }) => ({ token: c.token, logprob: c.logProbability ?? 0, bytes: [...Buffer.from(c.token, "utf8")] });
  return r.chosenCandidates.map((c, i) => ({ ...tok(c), top_logprobs: (r.topCandidates?.[i]?.candidates ?? []).map(tok) }));
}

const generationConfig = (f: FakeGemini) => (f.requests.at(-1)!.body as { generationConfig?: Record<string, unknown> }).generationConfig ?? {};

describe("Gemini API", () => {
  test("unary: responseLogprobs and logprobs go out; logprobsResult comes back as logprobs.content", async () => {
    const res = await sdk.chat.completions.create(ask({ logprobs: true, top_logprobs: 2 }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.equal(generationConfig(gemini).responseLogprobs, true);
    assert.equal(generationConfig(gemini).logprobs, 2);
    assert.equal(res.choices[0].message.content, TEXT);
    const content = res.choices[0].logprobs!.content!;
    assert.deepEqual(content, expected(TEXT, 2));
    assert.equal(content[0].logprob, 0, "a certain token: Gemini leaves its zero out");
    assert.equal(content.map((c) => c.token).join(""), TEXT);
  });

  test("streamed: each chunk's tokens with its text; top_logprobs 0 sends no logprobs count", async () => {
    const stream = await sdk.chat.completions.create(ask({ logprobs: true, stream: true }) as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    // Read to the end, then check (an assertion inside the loop would leave the stream open).
    const chunks: { piece: string; lp: OpenAI.Chat.Completions.ChatCompletionTokenLogprob[] }[] = [];
    for await (const c of stream) chunks.push({ piece: c.choices[0]?.delta.content ?? "", lp: c.choices[0]?.logprobs?.content ?? [] });
    // Every chunk's tokens spell exactly the text it carries.
    for (const { piece, lp } of chunks) assert.equal(lp.map((x) => x.token).join(""), piece);
    const text = chunks.map((c) => c.piece).join("");
    const tokens = chunks.flatMap((c) => c.lp);
    assert.equal(text, TEXT);
    assert.equal(generationConfig(gemini).responseLogprobs, true);
    assert.equal("logprobs" in generationConfig(gemini), false);
    assert.ok(tokens.length > 5 && tokens.every((x) => x.top_logprobs.length === 0 && x.logprob <= 0));
  });

  test("not asked: neither field is sent and logprobs is null", async () => {
    const res = await sdk.chat.completions.create(ask({}) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.equal(res.choices[0].logprobs, null);
    assert.equal("responseLogprobs" in generationConfig(gemini), false);
  });

  test("Gemini 2.5 has them dropped and reported (it would answer 400); strict_params refuses naming the field", async () => {
    const res = await sdk.chat.completions.create(ask({ model: "flash-25", logprobs: true, top_logprobs: 3 }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
    assert.equal(res.choices[0].message.content, TEXT);
    assert.equal(res.choices[0].logprobs, null);
    assert.equal("responseLogprobs" in generationConfig(gemini), false);
    const adj = (res as unknown as { signalbox: { adjustments: { field: string; detail: string }[] } }).signalbox.adjustments;
    assert.ok(adj.some((a) => a.field === "logprobs" && /Logprobs is not enabled/.test(a.detail)), JSON.stringify(adj));
    const n = gemini.requests.length;
    await assert.rejects(sdk.chat.completions.create(ask({ model: "flash-25-strict", logprobs: true }) as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /logprobs/);
      return true;
    });
    assert.equal(gemini.requests.length, n);
  });
});

describe("Vertex AI (Gemini publisher)", () => {
  test("unary and streamed through the Connect door: TokenLogprob messages", async () => {
    const res = await typed.chat.complete({ model: "vertex-flash", messages: [userText("capital?")], logprobs: true, topLogprobs: 1 });
    assert.equal(res.deployment, "vertex/flash-2.0");
    assert.deepEqual(
      res.logprobs.map((l) => ({ token: l.token, logprob: l.logprob, bytes: [...(l.bytes ?? [])], top_logprobs: l.topLogprobs.map((x) => ({ token: x.token, logprob: x.logprob, bytes: [...(x.bytes ?? [])] })) })),
      expected(TEXT, 1),
    );
    const sent = vertex.gemini.requests.at(-1)!.body as { generationConfig: Record<string, unknown> };
    assert.equal(sent.generationConfig.responseLogprobs, true);
    assert.equal(sent.generationConfig.logprobs, 1);

    const deltas: { text: string; tokens: string[] }[] = [];
    for await (const ev of typed.chat.stream({ model: "vertex-flash", messages: [userText("capital?")], logprobs: true })) {
      if (ev.event.case === "delta") deltas.push({ text: ev.event.value.text, tokens: ev.event.value.logprobs.map((l) => l.token) });
    }
    for (const d of deltas) assert.equal(d.tokens.join(""), d.text);
    assert.equal(deltas.map((d) => d.text).join(""), TEXT);
    assert.equal(deltas.flatMap((d) => d.tokens).join(""), TEXT);
  });
});
