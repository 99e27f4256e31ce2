// Brave and SearXNG as search engines, end to end over real sockets: the gateway's /v1/search against
// the fake Brave Web Search API and the fake SearXNG (test/fakes/brave.ts, test/fakes/searxng.ts, each
// checked against its documented usage in test/fakes/*.test.ts): what each engine is sent (a GET with
// the query in the URL: domains as `site:` operators, Brave's country and freshness range, SearXNG's
// coarse time_range; Brave's key in X-Subscription-Token, never the caller's), how results are mapped
// (title, url, snippet, date), cost per search (Brave's catalog price, SearXNG free), a fallback from
// Brave to SearXNG, Brave's rate limit as the caller's 429 without the key, and a SearXNG provider
// without base_url refused at load.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { classifySearchError } from "../../src/providers/search/engines.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { BRAVE_TEST_KEY, braveDefaultDescription, startFakeBrave, type FakeBrave } from "../fakes/brave.ts";
import { searxngDefaultContent, startFakeSearxng, type FakeSearxng } from "../fakes/searxng.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "engines", "a"].join("_");

let brave: FakeBrave;
let searx: FakeSearxng;
let t: TestGateway;

before(async () => {
  [brave, searx] = await Promise.all([startFakeBrave(), startFakeSearxng()]);
  t = await startTestGateway(`
providers:
  - { name: brave, type: brave, base_url: "${brave.url}", api_key: ${BRAVE_TEST_KEY} }
  - { name: searxng, type: searxng, base_url: "${searx.url}" }
  - { name: mock, type: mock }
deployments:
  - { id: brave/web, provider: brave, model: web }
  - { id: searxng/search, provider: searxng, model: search }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: brave, targets: [brave/web], retry: { max_retries: 0 } }
  - { name: searxng, targets: [searxng/search] }
  - { name: brave-then-searxng, targets: [brave/web], fallbacks: [searxng/search], retry: { max_retries: 0 } }
  - { name: default, targets: [mock/chat] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
});
beforeEach(() => {
  brave.reset();
  searx.reset();
});
after(async () => {
  await t.close();
  await Promise.all([brave.close(), searx.close()]);
});

interface Answer {
  results: { title: string; url: string; snippet: string; date?: string | null }[];
  signalbox: { searches: number; cost_nano_usd: number };
}
const lastRecord = (): UsageRecord => t.usage.recent().at(-1)!;
const post = (body: unknown) => fetch(`${t.url}/v1/search`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
/** m/d/yyyy (the Perplexity-shaped date filters /v1/search takes) of a day `days` before now. */
const usDaysAgo = (days: number) => {
  const d = new Date(Date.now() - days * 86_400_000);
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
};
const isoDaysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 19);

describe("Brave", () => {
  test("a search: GET /res/v1/web/search with the engine's key; results mapped; billed at the catalog's $5 per 1,000", async () => {
    const res = await post({ model: "brave", query: "node 24 release notes", max_results: 3 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "brave/web");
    const body = (await res.json()) as Answer;
    assert.equal(body.results.length, 3);
    const [first] = body.results;
    assert.equal(first.url, "https://node-24-release-notes-1.example.com/article");
    assert.equal(first.title, "node 24 release notes - result 1");
    assert.ok(first.snippet.startsWith(braveDefaultDescription("node 24 release notes", 1)), first.snippet);
    assert.ok(first.snippet.includes("Snippet 1 of source 1"), "extra snippets follow the description while the characters allow");
    assert.ok(!first.snippet.includes("<strong>"), "plain text");
    assert.equal(first.date, "2026-01-15", "page_age's day");

    assert.equal(brave.requests.length, 1);
    const [sent] = brave.requests;
    assert.equal(sent.method, "GET");
    assert.equal(sent.path, "/res/v1/web/search");
    assert.deepEqual(sent.query, { q: "node 24 release notes", count: "3", result_filter: "web", text_decorations: "false", extra_snippets: "true" });
    assert.equal(sent.headers["x-subscription-token"], BRAVE_TEST_KEY);
    assert.equal(sent.headers.accept, "application/json");
    assert.equal(sent.headers.authorization, undefined, "the caller's key never reaches the engine");
    assert.ok(!JSON.stringify(sent.headers).includes(KEY));
    assert.equal(sent.rawBody, "");

    const r = lastRecord();
    assert.equal(r.operation, "search");
    assert.equal(r.deployment, "brave/web");
    assert.equal(r.status, "ok");
    assert.equal(r.usage.searchUnits, 1);
    assert.equal(r.cost.total, 5_000_000, "$5 per 1,000 searches");
    assert.equal(body.signalbox.cost_nano_usd, 5_000_000);
  });

  test("filters: allowed domains as (site: OR site:), the country, the date range as freshness; the text cut to the asked characters", async () => {
    const res = await post({ model: "brave", query: "rust async", max_results: 4, max_tokens_per_page: 50, search_domain_filter: ["docs.rs", "tokio.rs"], country: "de", search_after_date_filter: "3/1/2025", search_before_date_filter: "12/31/2025" });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Answer;
    assert.deepEqual(
      body.results.map((x) => new URL(x.url).hostname),
      ["rust-async-1.docs.rs", "rust-async-2.tokio.rs", "rust-async-3.docs.rs", "rust-async-4.tokio.rs"],
    );
    assert.ok(body.results.every((x) => x.snippet.length <= 201), "200 characters (50 tokens) at most, and an ellipsis");
    assert.ok(body.results[0].snippet.endsWith("…"), body.results[0].snippet);
    assert.equal(body.results[0].date, "2025-12-31");
    const q = brave.requests[0].query;
    assert.equal(q.q, "rust async (site:docs.rs OR site:tokio.rs)");
    assert.equal(q.country, "DE");
    assert.equal(q.freshness, "2025-03-01to2025-12-31");
    assert.equal(q.count, "4");

    await post({ model: "brave", query: "rust async", search_domain_filter: ["-spam.example", "-ads.example"], search_after_date_filter: "3/1/2025" });
    const q2 = brave.requests[1].query;
    assert.equal(q2.q, "rust async -site:spam.example -site:ads.example");
    assert.match(q2.freshness, /^2025-03-01to\d{4}-\d{2}-\d{2}$/, "an open end is today");
    assert.equal(q2.freshness.slice(12), new Date().toISOString().slice(0, 10));
    assert.equal(q2.count, "10");
    await post({ model: "brave", query: "old news", search_before_date_filter: "1/31/2020" });
    assert.equal(brave.requests[2].query.freshness, "1970-01-01to2020-01-31");
  });

  test("what Brave sends off the asked domains anyway is left out", async () => {
    // Raw, so the fake's own site: handling does not filter it first.
    brave.script({
      kind: "http",
      status: 200,
      body: {
        type: "search",
        query: { original: "tokio site:docs.rs" },
        web: {
          type: "search",
          results: [
            { title: "On", url: "https://docs.rs/tokio", description: "kept", extra_snippets: ["more"] },
            { title: "Off", url: "https://elsewhere.example/tokio", description: "dropped", page_age: "2025-01-01T00:00:00" },
          ],
        },
      },
    });
    const res = await post({ model: "brave", query: "tokio", search_domain_filter: ["docs.rs"] });
    const body = (await res.json()) as Answer;
    assert.deepEqual(
      body.results.map((x) => [x.url, x.snippet]),
      [["https://docs.rs/tokio", "kept more"]],
    );
    assert.equal(body.results[0].date ?? undefined, undefined, "no page_age, no date");
  });

  test("Brave's error body: its detail and code are the message, its codes classify (unit)", () => {
    const body = JSON.stringify({ type: "ErrorResponse", error: { id: "x", status: 429, code: "RATE_LIMITED", detail: `Request rate limit exceeded for plan. ${BRAVE_TEST_KEY}`, meta: { plan: "Search" } }, time: 1 });
    const e = classifySearchError("brave", 429, body, { "retry-after": "2" }, [BRAVE_TEST_KEY]);
    assert.equal(e.kind, "rate_limited");
    assert.equal(e.message, "brave 429: Request rate limit exceeded for plan. [redacted] (RATE_LIMITED)");
    const auth = classifySearchError("brave", 422, JSON.stringify({ type: "ErrorResponse", error: { status: 422, code: "SUBSCRIPTION_TOKEN_INVALID", detail: "The provided subscription token is invalid." } }));
    assert.equal(auth.kind, "upstream_auth");
    assert.equal(classifySearchError("searxng", 429, "Too Many Requests").message, "searxng 429: Too Many Requests");
    assert.equal(classifySearchError("searxng", 502, "<!doctype html><h1>Bad Gateway</h1>").message, "searxng 502");
  });

  test("a failing Brave (503) falls back to SearXNG; the record keeps both attempts and SearXNG's zero cost", async () => {
    brave.script({ kind: "error", status: 503 });
    const res = await post({ model: "brave-then-searxng", query: "fallback please", max_results: 2 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Answer;
    assert.deepEqual(
      body.results.map((x) => x.url),
      ["https://fallback-please-1.example.com/article", "https://fallback-please-2.example.com/article"],
    );
    assert.equal(brave.requests.length, 1);
    assert.equal(searx.requests.length, 1);
    const r = lastRecord();
    assert.equal(r.deployment, "searxng/search");
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["brave/web", "failed"],
        ["searxng/search", "succeeded"],
      ],
    );
    assert.equal(r.cost.total, 0);
  });

  // Last of Brave's: its rate limit benches the deployment for a while.
  test("Brave's 429 is the caller's 429, without the engine's key", async () => {
    brave.script({ kind: "error", status: 429, detail: `Request rate limit exceeded for plan (token ${BRAVE_TEST_KEY}).`, retryAfter: 1 });
    const res = await post({ model: "brave", query: "x" });
    assert.equal(res.status, 429);
    const text = await res.text();
    assert.ok(!text.includes(BRAVE_TEST_KEY), text);
    assert.equal(brave.requests.length, 1);
    const r = lastRecord();
    assert.equal(r.operation, "search");
    assert.notEqual(r.status, "ok");
    assert.equal(r.attempts.length, 1);
  });
});

describe("SearXNG", () => {
  test("a search: GET /search?format=json, no key sent; results cut to max_results, mapped; free", async () => {
    const res = await post({ model: "searxng", query: "solid state batteries", max_results: 3, max_tokens_per_page: 25 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "searxng/search");
    const body = (await res.json()) as Answer;
    assert.equal(body.results.length, 3, "SearXNG has no count: its ten are cut");
    const [a, b] = body.results;
    assert.equal(a.url, "https://solid-state-batteries-1.example.com/article");
    assert.equal(a.title, "solid state batteries - result 1");
    assert.equal(a.snippet, `${searxngDefaultContent("solid state batteries", 1).slice(0, 100)}…`, "100 characters (25 tokens)");
    assert.equal(a.date, "2026-01-15");
    assert.equal(b.date ?? undefined, undefined, "publishedDate null: no date");
    const [sent] = searx.requests;
    assert.equal(sent.method, "GET");
    assert.equal(sent.path, "/search");
    assert.deepEqual(sent.query, { q: "solid state batteries", format: "json" });
    assert.equal(sent.headers.authorization, undefined, "no key configured, none sent (and never the caller's)");
    const r = lastRecord();
    assert.equal(r.deployment, "searxng/search");
    assert.equal(r.usage.searchUnits, 1);
    assert.equal(r.cost.total, 0);
    assert.equal(body.signalbox.cost_nano_usd, 0);
  });

  test("domains as site: operators; a lower date bound as the smallest time_range that covers it, the exact range kept afterwards", async () => {
    const res = await post({ model: "searxng", query: "rust async", max_results: 5, search_domain_filter: ["docs.rs"] });
    const body = (await res.json()) as Answer;
    assert.equal(searx.requests[0].query.q, "rust async site:docs.rs");
    assert.equal(body.results.length, 5);
    assert.ok(body.results.every((x) => new URL(x.url).hostname.endsWith(".docs.rs")));

    await post({ model: "searxng", query: "x", search_domain_filter: ["-spam.example"] });
    assert.equal(searx.requests[1].query.q, "x -site:spam.example");

    searx.script({
      kind: "results",
      results: [
        { title: "too old", url: "https://a.example/1", content: "a", publishedDate: isoDaysAgo(25) },
        { title: "in range", url: "https://b.example/2", content: "b", publishedDate: isoDaysAgo(5) },
        { title: "undated", url: "https://c.example/3", content: "c", publishedDate: null },
        { title: "too new", url: "https://d.example/4", content: "d", publishedDate: isoDaysAgo(0) },
      ],
    });
    const ranged = await post({ model: "searxng", query: "recent", search_after_date_filter: usDaysAgo(10), search_before_date_filter: usDaysAgo(2) });
    const rb = (await ranged.json()) as Answer;
    assert.equal(searx.requests[2].query.time_range, "month", "ten days back: a month covers it");
    assert.deepEqual(rb.results.map((x) => x.title), ["in range", "undated"]);

    await post({ model: "searxng", query: "recent", search_after_date_filter: usDaysAgo(200) });
    assert.equal(searx.requests[3].query.time_range, "year");
    await post({ model: "searxng", query: "recent", search_after_date_filter: usDaysAgo(800) });
    assert.equal(searx.requests[4].query.time_range, undefined, "older than a year: no range");
    await post({ model: "searxng", query: "today", search_after_date_filter: usDaysAgo(0) });
    assert.equal(searx.requests[5].query.time_range, "day");
  });

  test("a configured key is sent as a bearer token (SearXNG behind an authenticating proxy)", async () => {
    const guarded = await startFakeSearxng({ requireBearer: "proxy-token-123" });
    const g = await startTestGateway(`
providers:
  - { name: searxng, type: searxng, base_url: "${guarded.url}", api_key: proxy-token-123 }
deployments:
  - { id: searxng/search, provider: searxng, model: search }
routes:
  - { name: search, targets: [searxng/search] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
    try {
      const res = await fetch(`${g.url}/v1/search`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ query: "guarded", max_results: 1 }) });
      assert.equal(res.status, 200);
      assert.equal(guarded.requests[0].headers.authorization, "Bearer proxy-token-123");
    } finally {
      await g.close();
      await guarded.close();
    }
  });
});

describe("configuration", () => {
  const load = (providers: string, deployments: string) => buildConfig(parse(`providers:\n${providers}\ndeployments:\n${deployments}\n`), {});

  test("SearXNG needs a base_url and no key; Brave has its default address and needs a key; both priced by mode", () => {
    assert.throws(() => load("  - { name: s, type: searxng }", "  - { id: s/search, provider: s, model: search }"), /providers\[0\]\.base_url: is required/);
    const c = load("  - { name: s, type: searxng, base_url: \"http://searx.internal:8080\" }\n  - { name: b, type: brave, api_key: k-123456 }", "  - { id: s/search, provider: s, model: search }\n  - { id: b/web, provider: b, model: web }");
    assert.deepEqual(c.deployments.map((d) => [d.id, d.operations, d.pricing.perRequestNanos ?? 0]), [
      ["s/search", ["search"], 0],
      ["b/web", ["search"], 5_000_000],
    ]);
    assert.equal(c.providers.find((p) => p.name === "b")!.baseUrl, "https://api.search.brave.com");
    assert.throws(() => load("  - { name: b, type: brave }", "  - { id: b/web, provider: b, model: web }"), /providers\[0\]\.api_key: is required/);
  });
});
