// The semantic cache through the whole gateway, over real sockets: a fake OpenAI upstream answers
// chat and embeds prompts as bags of words (so a reworded question lands near the original and an
// unrelated one does not), and counts what really goes upstream. A similar prompt is served the
// cached answer, marked as semantic with its similarity, through /v1 and Connect (unary and
// stream); parameters, teams, images and the threshold keep answers apart; the embedding call is a
// usage record of its own, billed to the caller; an embedding failure is a miss; an input
// guardrail that blocks stops the prompt before it is embedded; replicas share the index through
// Redis; and the index itself (scopes, models, expiry, its bound) and the prompt text are checked.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, test } from "node:test";
import OpenAI from "openai";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { createSignalboxClient, userText } from "@signalbox/client";
import { answerIdentity } from "../../src/cache/cache.ts";
import { createSemanticIndex, semanticIndexName, semanticText, unit } from "../../src/cache/semantic.ts";
import { buildConfig, ConfigError } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";
import { parse } from "yaml";
import { Cluster, Redis } from "ioredis";
import { redisClusterAvailable, startRedisCluster, type TestRedisCluster } from "../helpers/redis-cluster.ts";

const A = ["sbx", "test", "sem", "a"].join("_");
const B = ["sbx", "test", "sem", "b"].join("_");

/** A bag-of-words embedding: each word (lower case, letters and digits) counts on one dimension. */
function bagOfWords(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims] += 1;
  }
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}

function config(upstream: string, store?: string): string {
  return `
${store ? `store: ${store}` : ""}
providers:
  - name: openai
    type: openai
    base_url: ${upstream}
    api_key: ${OPENAI_TEST_KEY}
deployments:
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, output: 10 } }
  - { id: openai/small, provider: openai, model: text-embedding-3-small }
guardrails:
  - { name: no-secrets-word, kind: deny, stage: input, action: block, deny: { words: [classified] } }
  - { name: no-email, kind: pii, stage: input, action: redact, pii: { categories: [email] } }
routes:
  - name: faq
    targets: [openai/gpt-4o]
    retry: { max_retries: 0 }
    cache: { enabled: true, ttl_seconds: 60, semantic: { embedding: openai/small, threshold: 0.9 } }
  - name: guarded
    targets: [openai/gpt-4o]
    guardrails: [no-secrets-word]
    cache: { enabled: true, semantic: { embedding: openai/small, threshold: 0.9 } }
  - name: redacted
    targets: [openai/gpt-4o]
    guardrails: [no-email]
    cache: { enabled: true, semantic: { embedding: openai/small, threshold: 0.9 } }
keys:
  - { name: a, hash: "${hashKey(A)}", team: a, role: team, allow: [faq, guarded, redacted] }
  - { name: b, hash: "${hashKey(B)}", team: b, role: team }
`;
}

let fake: FakeOpenAI;
let t: TestGateway;
const exporter = new InMemorySpanExporter();
const sdk = (key = A) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
let seq = 0;
/** A question no other test asks: its own topic word. */
/** The dimension a word counts on in bagOfWords (text-embedding-3-small's 1536 dimensions, the fake's default). */
const bucket = (w: string) => {
  let h = 2166136261;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
  return (h >>> 0) % 1536;
};
/** The buckets of the words this file's prompts use besides their topic (and "user"). */
const TAKEN = new Set(
  "user explain the protocol in one line short who first discovered element called exactly summarise history of briefly what is capital how tall it a an and to"
    .split(" ")
    .map(bucket),
);
/** A fresh topic word that shares no bucket with the prompts' other words: similarities are exactly as the assertions count them. */
const topic = (): string => {
  for (;;) {
    const w = `topic${++seq}x${Math.floor(Math.random() * 1e9)}`;
    if (!TAKEN.has(bucket(w))) return w;
  }
};

before(async () => {
  fake = await startFakeOpenAI({ embed: bagOfWords });
  t = await startTestGateway(config(fake.url), { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter }) })! });
});
after(async () => {
  await t.close();
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  exporter.reset();
});

const ask = (content: string, o: { key?: string; model?: string; temperature?: number } = {}) =>
  sdk(o.key)
    .chat.completions.create({ model: o.model ?? "faq", messages: [{ role: "user", content }], ...(o.temperature !== undefined ? { temperature: o.temperature } : {}) })
    .withResponse();
const calls = (path: string) => fake.requests.filter((r) => r.path.endsWith(path)).length;

describe("semantic hits and misses", () => {
  test("a reworded question is served the cached answer: no chat call, marked semantic with its similarity, billed only its embedding", async () => {
    const w = topic();
    const first = await ask(`What is the capital of ${w}?`);
    assert.equal(first.response.headers.get("x-signalbox-cache"), "miss");
    assert.equal(calls("/chat/completions"), 1);
    assert.equal(calls("/embeddings"), 1);
    // The prompt went to the embedding model as role-tagged text.
    assert.deepEqual(fake.requests.find((r) => r.path.endsWith("/embeddings"))!.body, { model: "text-embedding-3-small", input: [`user: What is the capital of ${w}?`], encoding_format: "float" });

    const second = await ask(`What is the capital of ${w}, please?`);
    assert.equal(second.response.headers.get("x-signalbox-cache"), "semantic");
    // 7 shared words ("user" among them) of 7 and 8: 7 / sqrt(56).
    assert.equal(second.response.headers.get("x-signalbox-cache-similarity"), (7 / Math.sqrt(56)).toFixed(4));
    assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content, "the first question's answer");
    assert.equal(calls("/chat/completions"), 1, "no second chat call");
    assert.equal(calls("/embeddings"), 2);
    const ext = (second.data as unknown as { signalbox: { cache: string; cache_similarity: number } }).signalbox;
    assert.equal(ext.cache, "semantic");
    assert.ok(Math.abs(ext.cache_similarity - 7 / Math.sqrt(56)) < 1e-6);

    // Records: each chat request, and each embedding call as its own, billed to the same key.
    const recs = t.usage.recent().slice(-4);
    const chats = recs.filter((r) => r.operation === "chat");
    const embeds = recs.filter((r) => r.operation === "embeddings");
    assert.equal(chats.length, 2);
    assert.equal(embeds.length, 2);
    assert.deepEqual([chats[1].cacheHit, chats[1].cacheKind, chats[1].cost.total, chats[1].attempts.length], [true, "semantic", 0, 0]);
    assert.equal(chats[0].cacheKind, undefined, "a miss has no kind");
    for (const e of embeds) {
      assert.deepEqual([e.key, e.team, e.model, e.deployment, e.status], ["a", "a", "openai/small", "openai/small", "ok"]);
      assert.ok(e.cost.total > 0, "the embedding is billed");
    }
    assert.equal(embeds[1].metadata["signalbox.semantic_cache_for"], chats[1].id);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /signalbox_cache_semantic_lookups(_total)?\{route="faq",result="hit"\} [1-9]/);
    assert.match(metrics, /signalbox_cache_semantic_lookups(_total)?\{route="faq",result="miss"\} [1-9]/);
    // The embedding call's spans are children of the request's.
    const spans = exporter.getFinishedSpans();
    const server = spans.filter((s) => s.name === "POST /v1/chat/completions").at(-1)!;
    assert.equal(server.attributes["signalbox.cache"], "semantic");
    assert.ok(spans.some((s) => s.name === "embeddings text-embedding-3-small" && s.spanContext().traceId === server.spanContext().traceId));
  });

  test("an unrelated question, other parameters, another team or a prompt under the threshold go upstream", async () => {
    const w = topic();
    await ask(`How tall is the tower of ${w}?`);
    assert.equal(calls("/chat/completions"), 1);
    // Other words: under the threshold.
    const other = await ask(`Recommend a bread recipe for ${w}`);
    assert.equal(other.response.headers.get("x-signalbox-cache"), "miss");
    // The same question with another temperature: its own scope.
    const warm = await ask(`How tall is the tower of ${w}?`, { temperature: 0.7 });
    assert.equal(warm.response.headers.get("x-signalbox-cache"), "miss");
    // Another team never sees team a's answers.
    const b = await ask(`How tall is the tower of ${w} please`, { key: B });
    assert.equal(b.response.headers.get("x-signalbox-cache"), "miss");
    // Half the words shared: 0.5 < 0.9.
    const half = await ask(`How tall is it`);
    assert.equal(half.response.headers.get("x-signalbox-cache"), "miss");
    assert.equal(calls("/chat/completions"), 5);
  });

  test("Connect, unary and stream: a similar prompt is a cache hit, replayed as a stream", async () => {
    const w = topic();
    const c = createSignalboxClient({ baseUrl: t.url, apiKey: A });
    const first = await c.chat.complete({ model: "faq", messages: [userText(`Explain the ${w} protocol in one line`)] });
    assert.equal(first.cacheHit, false);
    assert.equal(first.cacheSimilarity, undefined);
    assert.equal((await c.route.listModels({})).routes.find((r) => r.name === "faq")?.semanticCacheEmbedding, "openai/small");
    // The same words (punctuation and case aside): similarity 1.
    const unary = await c.chat.complete({ model: "faq", messages: [userText(`Explain the ${w} protocol in one line.`)] });
    assert.equal(unary.cacheHit, true);
    assert.ok(Math.abs(unary.cacheSimilarity! - 1) < 1e-6, String(unary.cacheSimilarity));
    let text = "";
    let hit: boolean | undefined;
    let similarity: number | undefined;
    for await (const ev of c.chat.stream({ model: "faq", messages: [userText(`explain the ${w} protocol in one short line`)] })) {
      if (ev.event.case === "start") (hit = ev.event.value.cacheHit), (similarity = ev.event.value.cacheSimilarity);
      if (ev.event.case === "delta") text += ev.event.value.text;
    }
    assert.equal(hit, true);
    // 8 shared words ("user" among them) of 8 and 9.
    assert.ok(Math.abs(similarity! - 8 / Math.sqrt(72)) < 1e-6, String(similarity));
    assert.equal(text, first.message?.content.map((p) => p.part.value).join(""));
    assert.equal(calls("/chat/completions"), 1);
  });

  test("a refresh is not looked up but indexed: a similar prompt then gets the fresh answer", async () => {
    const w = topic();
    const fresh = await sdk().chat.completions.create({ model: "faq", messages: [{ role: "user", content: `Who first discovered the element called ${w}?` }] }, { headers: { "x-signalbox-cache": "refresh" } }).withResponse();
    assert.equal(fresh.response.headers.get("x-signalbox-cache"), "refresh");
    assert.equal(calls("/embeddings"), 1, "embedded to be indexed");
    const similar = await ask(`Who first discovered the element called ${w}, exactly?`);
    assert.equal(similar.response.headers.get("x-signalbox-cache"), "semantic");
    assert.equal(similar.data.choices[0].message.content, fresh.data.choices[0].message.content);
    assert.equal(calls("/chat/completions"), 1);
  });

  test("a prompt with an image is not compared (the embedding would not see it): no embedding call", async () => {
    const png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const res = await sdk()
      .chat.completions.create({ model: "faq", messages: [{ role: "user", content: [{ type: "text", text: `What is in ${topic()}?` }, { type: "image_url", image_url: { url: png } }] }] })
      .withResponse();
    assert.equal(res.response.headers.get("x-signalbox-cache"), "miss");
    assert.equal(calls("/embeddings"), 0);
    assert.equal(calls("/chat/completions"), 1);
  });

  test("an embedding failure is a miss: the request is answered upstream and the failed embedding recorded", async () => {
    // The embedding call comes first (refused: not retried), then the chat call.
    fake.script([{ kind: "error", error: "invalid_api_key" }]);
    const res = await ask(`Where is ${topic()} located?`);
    assert.equal(res.response.headers.get("x-signalbox-cache"), "miss");
    assert.equal(calls("/chat/completions"), 1);
    const failed = t.usage.recent().filter((r) => r.operation === "embeddings").at(-1)!;
    assert.notEqual(failed.status, "ok");
  });

  test("the embedding model gets the prompt as it leaves: the route's redactions applied", async () => {
    const email = ["jane.doe", "example.com"].join("@");
    await ask(`Write to ${email} about ${topic()}`, { model: "redacted" });
    const sent = JSON.stringify(fake.requests.find((r) => r.path.endsWith("/embeddings"))!.body);
    assert.ok(!sent.includes(email), "no address in the embedding request");
    assert.match(sent, /\[REDACTED:email\]/);
  });

  test("an input guardrail that blocks stops the prompt before it is embedded", async () => {
    await assert.rejects(ask(`The classified plans for ${topic()}`, { model: "guarded" }), (e: unknown) => e instanceof OpenAI.APIError && e.status === 400);
    assert.equal(fake.requests.length, 0, "neither the embedding model nor the chat model saw it");
  });
});

describe("replicas share the index through Redis", () => {
  let redis: TestRedis;
  let one: TestGateway;
  let two: TestGateway;
  before(async () => {
    redis = await startRedis();
    one = await startTestGateway(config(fake.url, `{ redis_url: "${redis.url}" }`));
    two = await startTestGateway(config(fake.url, `{ redis_url: "${redis.url}" }`));
  });
  after(async () => {
    await one.close();
    await two.close();
    await redis.stop();
  });

  test("a prompt answered by one replica serves a similar prompt on another", async () => {
    const w = topic();
    const on = (g: TestGateway) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: A, maxRetries: 0 });
    const first = await on(one).chat.completions.create({ model: "faq", messages: [{ role: "user", content: `Summarise the history of ${w}` }] }).withResponse();
    assert.equal(first.response.headers.get("x-signalbox-cache"), "miss");
    // The entry is written after the answer, fire and forget: wait until the stream holds it.
    const r = new Redis(redis.url);
    try {
      const deadline = Date.now() + 3000;
      for (;;) {
        const keys = await r.keys("sbx:sem:*");
        if (keys.length && (await r.xlen(keys[0])) > 0) break;
        assert.ok(Date.now() < deadline, "the index entry reached Redis");
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      r.disconnect();
    }
    const second = await on(two).chat.completions.create({ model: "faq", messages: [{ role: "user", content: `Summarise the history of ${w}, briefly` }] }).withResponse();
    assert.equal(second.response.headers.get("x-signalbox-cache"), "semantic");
    assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content);
    assert.equal(calls("/chat/completions"), 1);
  });
});

describe("replicas share the index through a Redis Cluster", { skip: redisClusterAvailable() ? false : "redis-server or redis-cli not installed" }, () => {
  let cluster: TestRedisCluster;
  let one: TestGateway;
  let two: TestGateway;
  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    const store = `{ redis_cluster: [${cluster.nodes.map((n) => `"${n}"`).join(", ")}] }`;
    one = await startTestGateway(config(fake.url, store));
    two = await startTestGateway(config(fake.url, store));
  });
  after(async () => {
    await Promise.allSettled([one?.close(), two?.close()]);
    await cluster?.stop();
  });

  test("each route's stream sits on one slot; a prompt answered by one replica serves a similar one on the other", async () => {
    const w = topic();
    const on = (g: TestGateway) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: A, maxRetries: 0 });
    const ask1 = (g: TestGateway, content: string) => on(g).chat.completions.create({ model: "faq", messages: [{ role: "user", content }] }).withResponse();
    const first = await ask1(one, `List the moons of ${w}`);
    assert.equal(first.response.headers.get("x-signalbox-cache"), "miss");
    // Wait for the entry (written after the answer) on whichever master holds the stream's slot.
    const key = `sbx:sem:{${semanticIndexName("faq", answerIdentity(one.config, "faq"))}}`;
    const c = new Cluster(cluster.nodes.map((n) => ({ host: n.split(":")[0], port: Number(n.split(":")[1]) })));
    try {
      const deadline = Date.now() + 5000;
      while ((await c.xlen(key)) === 0) {
        assert.ok(Date.now() < deadline, "the index entry reached the cluster");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      c.disconnect();
    }
    const second = await ask1(two, `List the moons of ${w}, please`);
    assert.equal(second.response.headers.get("x-signalbox-cache"), "semantic");
    assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content);
  });
});

describe("the index and the prompt text", () => {
  test("semanticText: role-tagged lines with tool calls; undefined for an image, a file or too long a prompt", () => {
    assert.equal(
      semanticText([
        { role: "system", content: [{ type: "text", text: "Be brief." }] },
        { role: "user", content: [{ type: "text", text: "Weather?" }] },
        { role: "assistant", content: [], toolCalls: [{ id: "c1", name: "weather", arguments: '{"city":"Oslo"}' }] },
        { role: "tool", name: "weather", toolCallId: "c1", content: [{ type: "text", text: "4C" }] },
      ]),
      'system: Be brief.\nuser: Weather?\nassistant: \n[call weather {"city":"Oslo"}]\ntool weather: 4C',
    );
    assert.equal(semanticText([{ role: "user", content: [{ type: "text", text: "x" }, { type: "image", url: "https://example.com/a.png" }] }]), undefined);
    assert.equal(semanticText([{ role: "user", content: [{ type: "text", text: "x".repeat(30_000) }] }]), undefined);
  });

  test("search: the closest entry at or above the threshold, same scope and model only, never an expired one; the newest max_entries kept", () => {
    let now = 1_000;
    const idx = createSemanticIndex({ now: () => now });
    const v = (...xs: number[]) => unit(Float32Array.from(xs));
    idx.add("r", { scope: "s", deployment: "d", key: "k1", vector: v(1, 0, 0), expires: 5_000 }, 3);
    idx.add("r", { scope: "s", deployment: "d", key: "k2", vector: v(1, 1, 0), expires: 5_000 }, 3);
    idx.add("r", { scope: "other", deployment: "d", key: "k3", vector: v(1, 0.1, 0), expires: 5_000 }, 3);
    const q = { scope: "s", deployment: "d", vector: v(1, 0.1, 0), threshold: 0.9 };
    assert.equal(idx.search("r", q)?.key, "k1");
    assert.equal(idx.search("r", { ...q, threshold: 0.999 }), undefined);
    assert.equal(idx.search("r", { ...q, deployment: "another-model" }), undefined);
    assert.equal(idx.search("r", { ...q, scope: "other" })?.key, "k3");
    assert.equal(idx.search("elsewhere", q), undefined);
    // A fourth entry pushes the oldest (k1) out.
    idx.add("r", { scope: "s", deployment: "d", key: "k4", vector: v(0, 0, 1), expires: 9_000 }, 3);
    assert.equal(idx.search("r", q), undefined, "k2 is 0.77 away");
    assert.equal(idx.search("r", { ...q, threshold: 0.7 })?.key, "k2");
    now = 6_000;
    assert.equal(idx.search("r", { ...q, threshold: 0.5 }), undefined, "k2 expired");
    assert.equal(idx.search("r", { ...q, vector: v(0, 0, 1) })?.key, "k4");
  });
});

describe("configuration", () => {
  const base = (semantic: string) => `
providers: [{ name: m, type: mock }]
deployments:
  - { id: m/chat, provider: m, model: mock-chat }
  - { id: m/embed, provider: m, model: mock-embed, operations: [embeddings] }
routes:
  - { name: faq, targets: [m/chat], cache: { enabled: true, semantic: ${semantic} } }
`;
  const fails = (semantic: string, path: string, message: RegExp) =>
    assert.throws(
      () => buildConfig(parse(base(semantic)), {}),
      (e: unknown) => e instanceof ConfigError && e.path === path && message.test(e.message),
    );

  test("the embedding must serve embeddings; threshold and max_entries in range; defaults", () => {
    fails("{ embedding: m/chat }", "routes[0].cache.semantic.embedding", /does not serve embeddings/);
    fails("{ embedding: nowhere }", "routes[0].cache.semantic.embedding", /unknown route, alias or deployment "nowhere"/);
    fails("{ embedding: m/embed, threshold: 0.2 }", "routes[0].cache.semantic.threshold", /must be >= 0.5/);
    fails("{ embedding: m/embed, max_entries: 0 }", "routes[0].cache.semantic.max_entries", /must be >= 1/);
    fails("{ threshold: 0.9 }", "routes[0].cache.semantic.embedding", /is required/);
    const c = buildConfig(parse(base("{ embedding: m/embed }")), {});
    assert.deepEqual(c.routes[0].cache.semantic, { embedding: "m/embed", threshold: 0.95, maxEntries: 1000 });
  });
});

describe("the embedded defaults", () => {
  test("semantic-demo: a reworded question is a semantic hit, its prompts embedded by the mock as bags of words", async () => {
    const g = await startTestGateway(readFileSync(new URL("../../config/default.yaml", import.meta.url), "utf8"), { env: { PORT: "0" } });
    try {
      const sdk = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const ask1 = (content: string) => sdk.chat.completions.create({ model: "semantic-demo", messages: [{ role: "user", content }] }).withResponse();
      const first = await ask1("What is the capital of France?");
      assert.equal(first.response.headers.get("x-signalbox-cache"), "miss");
      const second = await ask1("what is the capital of France, please?");
      assert.equal(second.response.headers.get("x-signalbox-cache"), "semantic");
      assert.equal(second.data.choices[0].message.content, first.data.choices[0].message.content);
      assert.equal((await ask1("How do I bake sourdough bread?")).response.headers.get("x-signalbox-cache"), "miss");
    } finally {
      await g.close();
    }
  });
});
