// The mock provider's rerank: documents sharing words with the query rank first (the cosine of
// their bags of words), best first and deterministic, top_n honoured, tokens counted as embed
// counts them, and the mock's latency and failure settings applied as to embed; and its log
// probabilities, the same tokens unary and streamed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { MockSettings, ProviderConfig } from "../../../src/config/types.ts";
import { createMockProvider, mockRerank } from "../../../src/providers/mock/mock-provider.ts";
import { countTextTokens } from "../../../src/providers/tokens.ts";
import { ProviderError } from "../../../src/providers/types.ts";

const DOCS = ["Paris is the capital of France.", "Bananas are rich in potassium.", "The capital of Germany is Berlin.", "France borders Spain."];
const QUERY = "capital of France";

function mock(over: Partial<MockSettings> = {}): ProviderConfig {
  const settings: MockSettings = { ttftMs: 0, interChunkMs: 0, chunks: 1, failureRate: 0, failureKind: "overloaded", failAfterChunks: -1, outputTokens: 8, ...over };
  return { name: "mock", type: "mock", baseUrl: "mock://local", headers: {}, timeouts: { connectMs: 1, headersMs: 1, bodyMs: 1 }, maxConnections: 1, mock: settings } as ProviderConfig;
}

describe("mock rerank", () => {
  test("documents sharing more words with the query rank first; unrelated ones last with score 0", async () => {
    const res = await createMockProvider(mock()).rerank!({ model: "mock-rerank-1", query: QUERY, documents: DOCS }, AbortSignal.timeout(2000));
    assert.equal(res.model, "mock-rerank-1");
    assert.deepEqual(
      res.results.map((r) => r.index),
      [0, 2, 3, 1],
    );
    // Cosines of bags of words: 3 shared of 3 and 6 words, 2 of 3 and 6, 1 of 3 and 3, none.
    const expected = [3 / Math.sqrt(3 * 6), 2 / Math.sqrt(3 * 6), 1 / 3, 0];
    res.results.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i]) < 1e-6, `${r.score} ≈ ${expected[i]}`));
    assert.equal(res.usage?.inputTokens, [QUERY, ...DOCS].reduce((n, t) => n + countTextTokens(t, "o200k"), 0));
    assert.equal(res.usage?.searchUnits, 1, "one search: a query with up to 100 documents");
  });

  test("a search unit per 100 documents, as Cohere and Bedrock bill", async () => {
    const p = createMockProvider(mock());
    const docs = (n: number) => Array.from({ length: n }, (_, i) => `document ${i}`);
    for (const [n, units] of [[100, 1], [101, 2], [250, 3]] as const) {
      const res = await p.rerank!({ model: "m", query: "document", documents: docs(n) }, AbortSignal.timeout(2000));
      assert.equal(res.usage?.searchUnits, units, `${n} documents`);
    }
  });

  test("deterministic, scores in [0, 1], ties in document order, top_n honoured", () => {
    const docs = ["zebra", "apple pie", "yak", "apple"];
    const a = mockRerank("apple", docs);
    assert.deepEqual(a, mockRerank("apple", docs));
    assert.deepEqual(
      a.map((r) => r.index),
      [3, 1, 0, 2],
    );
    for (const r of a) assert.ok(r.score >= 0 && r.score <= 1);
    assert.deepEqual(
      mockRerank("apple", docs, 2).map((r) => r.index),
      [3, 1],
    );
  });

  test("the failure schedule and latency apply as to embed", async () => {
    const p = createMockProvider(mock({ failureRate: 1, failureKind: "rate_limited", retryAfterMs: 250 }));
    await assert.rejects(p.rerank!({ model: "m", query: "q", documents: ["d"] }, AbortSignal.timeout(2000)), (e: unknown) => e instanceof ProviderError && e.kind === "rate_limited" && e.status === 429 && e.retryAfterMs === 250);
    const slow = createMockProvider(mock({ ttftMs: 60 }));
    const t0 = performance.now();
    await slow.rerank!({ model: "m", query: "q", documents: ["d"] }, AbortSignal.timeout(2000));
    assert.ok(performance.now() - t0 >= 55);
    const ac = new AbortController();
    const pending = createMockProvider(mock({ ttftMs: 5000 })).rerank!({ model: "m", query: "q", documents: ["d"] }, ac.signal);
    ac.abort(new Error("caller left"));
    await assert.rejects(pending, /caller left/);
  });
});

describe("mock log probabilities", () => {
  const req = { model: "m", messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "how sure are you" }] }], logprobs: true, topLogprobs: 2 };
  test("deterministic, spelling the text, each with its top alternatives; streamed chunks end on the same tokens", async () => {
    const p = createMockProvider(mock({ chunks: 4, outputTokens: 24 }));
    const a = await p.complete(req, AbortSignal.timeout(2000));
    const b = await p.complete(req, AbortSignal.timeout(2000));
    assert.deepEqual(a.logprobs, b.logprobs);
    assert.equal(a.logprobs!.map((t) => t.token).join(""), a.text);
    for (const t of a.logprobs!) {
      assert.ok(t.logprob <= 0 && t.logprob > -2);
      assert.deepEqual(t.bytes, [...Buffer.from(t.token, "utf8")]);
      assert.equal(t.top.length, 2);
      assert.deepEqual(t.top[0], { token: t.token, logprob: t.logprob, bytes: t.bytes });
      assert.ok(t.top[1].logprob < t.logprob);
    }
    const streamed: string[] = [];
    let texts = 0;
    for await (const batch of p.stream(req, AbortSignal.timeout(2000))) {
      const text = batch.find((e) => e.type === "text");
      const lp = batch.find((e) => e.type === "logprobs");
      if (text?.type === "text") {
        texts++;
        assert.ok(lp?.type === "logprobs");
        assert.equal(lp.content.map((t) => t.token).join(""), text.text, "a chunk's tokens spell its text");
        streamed.push(...lp.content.map((t) => t.token));
      }
    }
    assert.equal(texts, 4);
    assert.deepEqual(streamed, a.logprobs!.map((t) => t.token));
    const plain = await p.complete({ ...req, logprobs: false }, AbortSignal.timeout(2000));
    assert.equal(plain.logprobs, undefined);
  });
});
