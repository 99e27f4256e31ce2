// OpenAI's x-ratelimit-* headers on the OpenAI-shaped doors: after each request, what is left of the
// caller's tightest requests-per-minute and tokens-per-minute limit, and when its window ends; the
// same figures whether the limits live in memory or in a private Redis (from the admission's own
// round trip, no extra one), on unary answers and streams; none for a caller without limits.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { anthropicRateLimitHeaders, rateLimitHeaders, resetText } from "../../src/compat/response.ts";
import { hashKey } from "../../src/server/auth.ts";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { startRedis, type TestRedis } from "../helpers/redis.ts";

const LIMITED = ["sbx", "ratehdr", "limited"].join("_");
const PER_USER = ["sbx", "ratehdr", "peruser"].join("_");
const FREE = ["sbx", "ratehdr", "free"].join("_");

const yaml = (store = "") => `${MOCK_CONFIG}
${store}
keys:
  - { name: limited, hash: "${hashKey(LIMITED)}", team: t, limits: { requests_per_minute: 5, tokens_per_minute: 100000 } }
  - { name: per-user, hash: "${hashKey(PER_USER)}", team: t, limits: { requests_per_minute: 50 }, per_user_limits: { requests_per_minute: 3 } }
  - { name: free, hash: "${hashKey(FREE)}", team: t }
`;

test("the headers' text: the tightest check of each kind, resets as OpenAI writes them", () => {
  const check = (id: string, limit: number) => ({ id, limit, cost: 1, windowMs: 60_000, describe: id });
  const h = rateLimitHeaders([
    { check: check("key:k:rpm", 100), used: 10, resetMs: 30_000 },
    { check: check("user:k:u:rpm", 5), used: 4, resetMs: 30_000 },
    { check: check("key:k:tpm", 1000), used: 1200, resetMs: 65_500 },
  ]);
  assert.deepEqual(h, {
    "x-ratelimit-limit-requests": "5",
    "x-ratelimit-remaining-requests": "1",
    "x-ratelimit-reset-requests": "30s",
    "x-ratelimit-limit-tokens": "1000",
    "x-ratelimit-remaining-tokens": "0",
    "x-ratelimit-reset-tokens": "1m6s",
  });
  assert.deepEqual(rateLimitHeaders(undefined), {});
  assert.deepEqual(anthropicRateLimitHeaders([{ check: check("key:k:rpm", 50), used: 10, resetMs: 30_500 }], Date.parse("2026-12-06T10:00:00Z")), {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "40",
    "anthropic-ratelimit-requests-reset": "2026-12-06T10:00:31Z",
  });
  assert.deepEqual([resetText(250.2), resetText(1000), resetText(59_001), resetText(120_000)], ["251ms", "1s", "1m0s", "2m0s"]);
});

for (const backend of ["memory", "redis"] as const) {
  describe(`x-ratelimit-* headers, limits in ${backend}`, () => {
    let redis: TestRedis | undefined;
    let t: TestGateway;
    const sdk = (key: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
    before(async () => {
      if (backend === "redis") redis = await startRedis();
      t = await startTestGateway(yaml(redis ? `store: { redis_url: "${redis.url}" }` : ""));
    });
    after(async () => {
      await t.close();
      await redis?.stop();
    });

    test("unary and streamed: the requests left count down, the tokens left follow the estimate, the reset is within the minute", async () => {
      const a = sdk(LIMITED);
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { response } = await a.chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }] }).withResponse();
        seen.push(response.headers.get("x-ratelimit-remaining-requests")!);
        assert.equal(response.headers.get("x-ratelimit-limit-requests"), "5");
        assert.equal(response.headers.get("x-ratelimit-limit-tokens"), "100000");
        const tokensLeft = Number(response.headers.get("x-ratelimit-remaining-tokens"));
        assert.ok(tokensLeft > 90_000 && tokensLeft < 100_000, `tokens left ${tokensLeft}`);
        assert.match(response.headers.get("x-ratelimit-reset-requests")!, /^(\d+ms|\d+s|1m0s)$/);
      }
      assert.deepEqual(seen, ["4", "3", "2"]);
      const { response } = await a.chat.completions.create({ model: "default", stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
      assert.equal(response.headers.get("x-ratelimit-remaining-requests"), "1");
      const { response: legacy } = await a.completions.create({ model: "default", prompt: "hi" }).withResponse();
      assert.equal(legacy.headers.get("x-ratelimit-remaining-requests"), "0");
      await assert.rejects(a.chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }] }), (e: any) => e.status === 429);
    });

    test("per-user limits are the tightest when they are; a caller without limits gets no headers", async () => {
      const p = sdk(PER_USER);
      const { response } = await p.chat.completions.create({ model: "default", user: "alice", messages: [{ role: "user", content: "hi" }] }).withResponse();
      assert.equal(response.headers.get("x-ratelimit-limit-requests"), "3");
      assert.equal(response.headers.get("x-ratelimit-remaining-requests"), "2");
      const { response: r } = await p.responses.create({ model: "default", user: "alice", input: "hi" }).withResponse();
      assert.equal(r.headers.get("x-ratelimit-remaining-requests"), "1");
      const { response: free } = await sdk(FREE).chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }] }).withResponse();
      assert.equal(free.headers.get("x-ratelimit-limit-requests"), null);
      // Anthropic's door sends them as Anthropic does.
      const claude = new Anthropic({ baseURL: t.url, apiKey: PER_USER, maxRetries: 0 });
      const { response: m } = await claude.messages.create({ model: "default", max_tokens: 20, metadata: { user_id: "alice" }, messages: [{ role: "user", content: "hi" }] }).withResponse();
      assert.equal(m.headers.get("anthropic-ratelimit-requests-limit"), "3");
      assert.equal(m.headers.get("anthropic-ratelimit-requests-remaining"), "0");
      assert.ok(Date.parse(m.headers.get("anthropic-ratelimit-requests-reset")!) > Date.now() - 1000);
    });
  });
}

describe("x-ratelimit-* headers on the other OpenAI doors (embeddings, moderations)", () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway(
      yaml().replace(
        "aliases:",
        "  - { id: mock/embed, provider: mock, model: mock-embed, operations: [embeddings], pricing: { input: 0.1, output: 0 } }\n  - { id: mock/mod, provider: mock, model: mock-mod, operations: [moderation], pricing: { input: 0, output: 0 } }\naliases:",
      ),
    );
  });
  after(() => t.close());

  test("one key's limits, counted down across chat, embeddings and moderations", async () => {
    const a = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: LIMITED, maxRetries: 0 });
    const chat = await a.chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const embed = await a.embeddings.create({ model: "mock/embed", input: ["one", "two"] }).withResponse();
    const mod = await a.moderations.create({ model: "mock/mod", input: "hello" }).withResponse();
    assert.deepEqual(
      [chat, embed, mod].map((r) => r.response.headers.get("x-ratelimit-remaining-requests")),
      ["4", "3", "2"],
    );
    assert.equal(embed.response.headers.get("x-ratelimit-limit-tokens"), "100000");
    assert.match(mod.response.headers.get("x-ratelimit-reset-requests")!, /^(\d+ms|\d+s|1m0s)$/);
    const free = await new OpenAI({ baseURL: `${t.url}/v1`, apiKey: FREE, maxRetries: 0 }).embeddings.create({ model: "mock/embed", input: "x" }).withResponse();
    assert.equal(free.response.headers.get("x-ratelimit-limit-requests"), null, "no limits, no headers");
  });
});
