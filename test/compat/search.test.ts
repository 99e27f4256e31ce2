// Web search end to end, over real sockets: the official Perplexity SDK's search.create against
// the gateway's /v1/search, LiteLLM's /v1/search/{tool}, and SearchService over Connect; the gateway
// against the fake Exa, Tavily and Perplexity search APIs (each checked against its official SDK in
// test/fakes/*.sdk.test.ts) and the mock: what each engine is sent, billing (a catalog price per
// search, Exa's reported cost), several queries, fallbacks, budgets, guardrails on the queries,
// input errors that name the field and reach no engine, and configurations refused at load.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import Perplexity from "@perplexity-ai/perplexity_ai";
import { createSignalboxClient, Operation, searchWeb, type SignalboxClient } from "@signalbox/client";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { EXA_TEST_KEY, startFakeExa, type FakeExa } from "../fakes/exa.ts";
import { PERPLEXITY_TEST_KEY, startFakePerplexity, type FakePerplexity } from "../fakes/perplexity.ts";
import { startFakeTavily, TAVILY_TEST_KEY, type FakeTavily } from "../fakes/tavily.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";

const KEY = ["sbx", "test", "search", "a"].join("_");
const POOR = ["sbx", "test", "search", "poor"].join("_");
const ADMIN = ["sbx", "test", "search", "admin"].join("_");

let exa: FakeExa;
let tavily: FakeTavily;
let pplx: FakePerplexity;
let t: TestGateway;
let sdk: Perplexity;
let typed: SignalboxClient;

before(async () => {
  [exa, tavily, pplx] = await Promise.all([startFakeExa(), startFakeTavily(), startFakePerplexity()]);
  t = await startTestGateway(`
providers:
  - { name: exa, type: exa, base_url: "${exa.url}", api_key: ${EXA_TEST_KEY} }
  - { name: tavily, type: tavily, base_url: "${tavily.url}", api_key: ${TAVILY_TEST_KEY} }
  - { name: perplexity, type: perplexity, base_url: "${pplx.url}", api_key: ${PERPLEXITY_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: exa/auto, provider: exa, model: auto }
  - { id: tavily/advanced, provider: tavily, model: advanced }
  - { id: perplexity/search, provider: perplexity, model: search }
  - { id: mock/search, provider: mock, model: mock-search-1, operations: [search], pricing: { input: 0, output: 0, per_request: 0.001 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: search, targets: [perplexity/search], fallbacks: [exa/auto], retry: { max_retries: 0 } }
  - { name: exa, targets: [exa/auto] }
  - { name: tavily, targets: [tavily/advanced] }
  - { name: pplx-only, targets: [perplexity/search], retry: { max_retries: 0 } }
  - { name: mock-search, targets: [mock/search] }
  - { name: cached-search, targets: [perplexity/search], cache: { enabled: true, ttl_seconds: 60 } }
  - { name: default, targets: [mock/chat] }
guardrails:
  - { name: no-pii, kind: pii, stage: input, action: redact, pii: { categories: [email] } }
  - { name: no-secrets, kind: deny, stage: input, action: block, deny: { phrases: [project zephyr] } }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: poor, hash: "${hashKey(POOR)}", team: b, role: team, budget: { period: day, limit_usd: 0.016 } }
  - { name: root, hash: "${hashKey(ADMIN)}", team: ops, role: admin }
`);
  sdk = new Perplexity({ apiKey: KEY, baseURL: `${t.url}/v1`, maxRetries: 0 });
  typed = createSignalboxClient({ baseUrl: t.url, apiKey: KEY });
});
beforeEach(() => {
  exa.reset();
  tavily.reset();
  pplx.reset();
});
after(async () => {
  await t.close();
  await Promise.all([exa.close(), tavily.close(), pplx.close()]);
});

const lastRecord = (): UsageRecord => t.usage.recent().at(-1)!;
const post = (path: string, body: unknown, key = KEY) =>
  fetch(`${t.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const engineRequests = () => [...exa.requests, ...tavily.requests, ...pplx.requests];

describe("POST /v1/search with the Perplexity SDK", () => {
  test("a search through the route `search` (no model named) reaches Perplexity with the engine's key, and is billed at its price", async () => {
    const res = await sdk.search.create({ query: "node 24 release notes", max_results: 3, max_tokens_per_page: 100 });
    assert.equal(res.results.length, 3);
    assert.match(res.results[0].url, /^https:\/\/node-24-release-notes-1\.example\.com\//);
    assert.match(res.results[0].title, /node 24 release notes/);
    assert.ok(res.results[0].snippet.length <= 400, "the snippet is cut to the page's characters");
    assert.equal(res.results[0].date, "2026-01-15");
    assert.equal(res.results[0].last_updated, "2026-01-20");
    const [sent] = pplx.requests;
    assert.equal(pplx.requests.length, 1);
    assert.equal(sent.path, "/search");
    assert.equal(sent.headers.authorization, `Bearer ${PERPLEXITY_TEST_KEY}`, "the engine's key, never the caller's");
    assert.deepEqual(sent.body, { query: "node 24 release notes", max_results: 3, max_tokens_per_page: 100 });
    const r = lastRecord();
    assert.equal(r.operation, "search");
    assert.equal(r.deployment, "perplexity/search");
    assert.equal(r.routing.route, "search");
    assert.equal(r.status, "ok");
    assert.equal(r.usage.searchUnits, 1);
    assert.equal(r.cost.total, 5_000_000, "$5 per 1,000 searches");
  });

  test("several queries: one search each, results in query order, each billed", async () => {
    const res = await sdk.search.create({ query: ["alpha beta", "gamma delta"], max_results: 2 });
    assert.deepEqual(
      res.results.map((x) => new URL(x.url).hostname),
      ["alpha-beta-1.example.com", "alpha-beta-2.example.com", "gamma-delta-1.example.com", "gamma-delta-2.example.com"],
    );
    assert.deepEqual(pplx.requests.map((x) => x.body.query).sort(), ["alpha beta", "gamma delta"]);
    const r = lastRecord();
    assert.equal(r.usage.searchUnits, 2);
    assert.equal(r.cost.total, 10_000_000);
  });

  test("filters: a domain allow list, a deny list, the country and a date range reach the engine in its own words", async () => {
    const allowed = await sdk.search.create({ query: "rust async", search_domain_filter: ["docs.rs"], country: "de", search_after_date_filter: "3/1/2025", search_before_date_filter: "12/31/2025" });
    assert.ok(allowed.results.length > 0 && allowed.results.every((x) => new URL(x.url).hostname.endsWith(".docs.rs")));
    assert.deepEqual(pplx.requests[0].body, {
      query: "rust async",
      max_results: 10,
      max_tokens_per_page: 1024,
      search_domain_filter: ["docs.rs"],
      country: "DE",
      search_after_date_filter: "3/1/2025",
      search_before_date_filter: "12/31/2025",
    });
    await sdk.search.create({ query: "rust async", search_domain_filter: ["-example.com"] });
    assert.deepEqual(pplx.requests[1].body.search_domain_filter, ["-example.com"]);
  });

  test("the answer's own errors: bad input names the field, and no engine is called", async () => {
    const before = t.usage.recent().length;
    for (const [body, param] of [
      [{}, "query"],
      [{ query: "" }, "query"],
      [{ query: ["a", "b", "c", "d", "e", "f"] }, "query"],
      [{ query: "x", max_results: 0 }, "max_results"],
      [{ query: "x", max_results: 21 }, "max_results"],
      [{ query: "x", search_domain_filter: ["a.com", "-b.com"] }, "search_domain_filter"],
      [{ query: "x", search_domain_filter: ["not a domain"] }, "search_domain_filter[0]"],
      [{ query: "x", country: "ZZZ" }, "country"],
      [{ query: "x", search_after_date_filter: "2025-03-01" }, "search_after_date_filter"],
      [{ query: "x", search_recency_filter: "decade" }, "search_recency_filter"],
      [{ query: "x", search_language_filter: ["en"] }, "search_language_filter"],
      [{ query: "x", search_mode: "academic" }, "search_mode"],
      [{ query: "x", surprise: 1 }, "surprise"],
    ] as const) {
      const res = await post("/v1/search", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()) as { error: { param: string; message: string } };
      assert.equal(err.error.param, param, JSON.stringify(body));
      assert.ok(err.error.message.startsWith(param), err.error.message);
    }
    assert.equal(engineRequests().length, 0);
    assert.equal(t.usage.recent().length, before, "nothing planned, nothing recorded");
    // The SDK surfaces the gateway's 400 as its own error class.
    await assert.rejects(sdk.search.create({ query: "x", max_results: 50 }), (e: unknown) => e instanceof Perplexity.BadRequestError);
  });

  test("a failing engine falls back to the next one; the record keeps both attempts", async () => {
    pplx.script({ kind: "error", status: 503 });
    const res = await sdk.search.create({ query: "fallback please", max_results: 2 });
    assert.equal(res.results.length, 2);
    assert.equal(pplx.requests.length, 1);
    assert.equal(exa.requests.length, 1);
    const r = lastRecord();
    assert.equal(r.deployment, "exa/auto");
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["perplexity/search", "failed"],
        ["exa/auto", "succeeded"],
      ],
    );
  });

  test("an engine's failure with nowhere to fall back is the caller's error, mapped, without the engine's key", async () => {
    pplx.script({ kind: "error", status: 429, message: `slow down ${PERPLEXITY_TEST_KEY}` });
    const res = await post("/v1/search", { model: "pplx-only", query: "x" });
    assert.equal(res.status, 429);
    const text = await res.text();
    assert.ok(!text.includes(PERPLEXITY_TEST_KEY), text);
    const r = lastRecord();
    assert.equal(r.operation, "search");
    assert.notEqual(r.status, "ok");
    assert.equal(r.attempts.length, 1);
  });
});

describe("the engines", () => {
  test("Exa (LiteLLM's /v1/search/{tool}): its search type, text length and domains; its reported cost is the bill", async () => {
    const res = await post("/v1/search/exa", { query: "vector databases", max_results: 3, max_tokens_per_page: 50, search_domain_filter: ["example.com"] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "exa/auto");
    const body = (await res.json()) as { object: string; results: { url: string; snippet: string }[]; signalbox: { searches: number; cost_nano_usd: number } };
    assert.equal(body.object, "search");
    assert.equal(body.results.length, 3);
    assert.ok(body.results.every((x) => x.snippet.length <= 201), "200 characters (50 tokens) at most");
    const sent = exa.requests[0];
    assert.equal(sent.headers["x-api-key"], EXA_TEST_KEY);
    assert.deepEqual(sent.body, { query: "vector databases", numResults: 3, type: "auto", contents: { text: { maxCharacters: 200 } }, includeDomains: ["example.com"] });
    // The fake reports $0.005 a search and $0.001 a page of text.
    assert.equal(body.signalbox.cost_nano_usd, 8_000_000);
    assert.equal(lastRecord().cost.providerReported, 8_000_000);
  });

  test("Tavily: its depth is the model, the country by name, days for the range; two credits an advanced search", async () => {
    const res = await post("/v1/search", { model: "tavily", query: "eu ai act", max_results: 2, country: "FR", search_after_date_filter: "6/1/2025", search_domain_filter: ["-spam.example"] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: { url: string; snippet: string }[] };
    assert.equal(body.results.length, 2);
    assert.ok(body.results[0].snippet.includes("eu ai act"));
    const sent = tavily.requests[0];
    assert.equal(sent.headers.authorization, `Bearer ${TAVILY_TEST_KEY}`);
    assert.equal(sent.body.search_depth, "advanced");
    assert.equal(sent.body.country, "france");
    assert.equal(sent.body.start_date, "2025-06-01");
    assert.deepEqual(sent.body.exclude_domains, ["spam.example"]);
    assert.equal(lastRecord().cost.total, 16_000_000);
  });
});

describe("the cache", () => {
  test("a route that caches searches answers the same search from the cache, at no cost; another search is asked afresh", async () => {
    const body = { model: "cached-search", query: ["cache me", "and me"], max_results: 2 };
    const first = await post("/v1/search", body);
    assert.equal(first.headers.get("x-signalbox-cache"), "miss");
    const pages = ((await first.json()) as { results: unknown[] }).results;
    assert.equal(pplx.requests.length, 2);
    const again = await post("/v1/search", body);
    assert.equal(again.headers.get("x-signalbox-cache"), "hit");
    const hit = (await again.json()) as { results: unknown[]; signalbox: { cost_nano_usd: number; cache: string; deployment: string } };
    assert.deepEqual(hit.results, pages);
    assert.equal(hit.signalbox.cost_nano_usd, 0);
    assert.equal(hit.signalbox.deployment, "perplexity/search");
    assert.equal(pplx.requests.length, 2, "no engine was asked");
    const r = lastRecord();
    assert.equal(r.cacheHit, true);
    assert.equal(r.attempts.length, 0);
    // Any other filter is another search.
    const other = await post("/v1/search", { ...body, max_results: 3 });
    assert.equal(other.headers.get("x-signalbox-cache"), "miss");
    assert.equal(pplx.requests.length, 4);
    // Connect: the same entry, and cache_hit.
    const typedHit = await typed.search.search({ model: "cached-search", queries: ["cache me", "and me"], maxResults: 2, maxCharacters: 4096 });
    assert.equal(typedHit.cacheHit, true);
    assert.equal(pplx.requests.length, 4);
    // A route without its cache on neither looks up nor stores.
    const plain = await post("/v1/search", { query: ["cache me", "and me"], max_results: 2 });
    assert.equal(plain.headers.get("x-signalbox-cache"), "off");
  });
});

describe("engine options", () => {
  test("each engine gets its own parameters, and only its own; none may set what the request's fields set", async () => {
    pplx.script({ kind: "error", status: 503 });
    const res = await post("/v1/search", { query: "eu ai act", max_results: 2, engine_options: { exa: { category: "news" }, perplexity: { search_language_filter: ["en"] } } });
    assert.equal(res.status, 200);
    assert.deepEqual(pplx.requests[0].body.search_language_filter, ["en"], "Perplexity's own filter reached Perplexity");
    assert.equal(exa.requests[0].body.category, "news", "the fallback got its own");
    assert.equal(exa.requests[0].body.search_language_filter, undefined);
    const tv = await post("/v1/search", { model: "tavily", query: "markets", engine_options: { tavily: { topic: "finance" } } });
    assert.equal(tv.status, 200);
    assert.equal(tavily.requests[0].body.topic, "finance");
    // Connect: the same, as a map of structs.
    await typed.search.search({ model: "tavily", queries: ["headlines"], engineOptions: { tavily: { topic: "news" } } });
    assert.equal(tavily.requests[1].body.topic, "news");
    const sent = engineRequests().length;
    for (const [options, param] of [
      [{ tavily: { max_results: 50 } }, "engine_options.tavily.max_results"],
      [{ exa: { numResults: 50 } }, "engine_options.exa.numResults"],
      [{ google: { x: 1 } }, "engine_options.google"],
      [{ tavily: "news" }, "engine_options.tavily"],
    ] as const) {
      const bad = await post("/v1/search", { model: "tavily", query: "x", engine_options: options });
      assert.equal(bad.status, 400, JSON.stringify(options));
      assert.equal(((await bad.json()) as { error: { param: string } }).error.param, param);
    }
    await assert.rejects(typed.search.search({ model: "tavily", queries: ["x"], engineOptions: { brave: { q: "other" } } }), /engine_options\.brave\.q: is set by the gateway/);
    assert.equal(engineRequests().length, sent, "nothing reached an engine");
  });
});

describe("limits, budgets and guardrails", () => {
  test("a key's budget holds a search's price before it runs: past it, the search is refused and no engine is called", async () => {
    // The route's costliest candidate is held: Exa's $0.010 (its fallback), against $0.016; each search spends Perplexity's $0.005.
    const ok1 = await post("/v1/search", { query: "one" }, POOR);
    const ok2 = await post("/v1/search", { query: "two" }, POOR);
    assert.equal(ok1.status, 200);
    assert.equal(ok2.status, 200);
    const calls = pplx.requests.length;
    const refused = await post("/v1/search", { query: "three" }, POOR);
    assert.equal(refused.status, 429);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /budget/);
    assert.equal(pplx.requests.length, calls, "the engine was not called");
  });

  test("input guardrails on the queries: a redaction changes what is searched, a block searches nothing", async () => {
    const res = await post("/v1/search", { query: "who mails jane@example.com", signalbox: { guardrails: ["no-pii"] } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { signalbox: { adjustments?: unknown[] } };
    assert.ok(body.signalbox.adjustments?.length, "the redaction is reported");
    assert.ok(!String(pplx.requests[0].body.query).includes("jane@example.com"), String(pplx.requests[0].body.query));
    const blocked = await post("/v1/search", { query: "status of project zephyr", signalbox: { guardrails: ["no-secrets"] } });
    assert.equal(blocked.status, 400);
    assert.equal(pplx.requests.length, 1, "the blocked search reached no engine");
    assert.equal(lastRecord().attempts.length, 0);
  });
});

describe("SearchService (typed client)", () => {
  test("results with their query index, usage, cost and a GetRequest record", async () => {
    const res = await typed.search.search({ model: "mock-search", queries: ["first thing", "second thing"], maxResults: 2, allowedDomains: ["docs.example.org"], tags: ["s"] });
    assert.equal(res.deployment, "mock/search");
    assert.deepEqual(
      res.results.map((x) => [x.queryIndex, new URL(x.url).hostname]),
      [
        [0, "first-thing-1.docs.example.org"],
        [0, "first-thing-2.docs.example.org"],
        [1, "second-thing-1.docs.example.org"],
        [1, "second-thing-2.docs.example.org"],
      ],
    );
    assert.equal(res.usage?.searchUnits, 2n);
    assert.equal(res.cost?.totalNanoUsd, 2_000_000n);
    await t.gw.core.usage.flush();
    const got = await typed.usage.getRequest({ id: res.id });
    assert.equal(got.record?.operation, Operation.SEARCH);
  });

  test("searchWeb: the pages of each query in one line, with the whole answer", async () => {
    const { pages, response } = await searchWeb(typed, ["one thing", "another"], { model: "mock-search", maxResults: 1, tags: ["sdk"] });
    assert.deepEqual(
      pages.map((p) => [p.query, new URL(p.url).hostname]),
      [
        [0, "one-thing-1.example.com"],
        [1, "another-1.example.com"],
      ],
    );
    assert.match(pages[0].snippet, /one thing/);
    assert.equal(response.usage?.searchUnits, 2n);
  });

  test("RouteSearch explains the plan: search deployments only, each priced per query", async () => {
    const plan = await typed.route.routeSearch({ model: "search", queries: ["a", "b"] });
    assert.deepEqual(
      plan.candidates.map((c) => [c.deployment, c.expectedCostNanoUsd]),
      [
        ["perplexity/search", 10_000_000n],
        ["exa/auto", 20_000_000n],
      ],
    );
    assert.equal(engineRequests().length, 0, "explaining calls nothing");
  });

  test("a bad request names the field; chat models never serve a search", async () => {
    await assert.rejects(typed.search.search({ model: "search", queries: ["x"], allowedDomains: ["a.com"], blockedDomains: ["b.com"] }), /blocked_domains: cannot be given with allowed_domains/);
    await assert.rejects(typed.search.search({ model: "search", queries: [] }), /queries: is required/);
    await assert.rejects(typed.search.search({ model: "search", queries: ["x"], publishedAfter: "yesterday" }), /published_after: must be an RFC 3339 timestamp/);
    await assert.rejects(typed.search.search({ model: "default", queries: ["x"] }), /"default" has no deployment that serves search \(its deployments serve chat\)/);
    assert.equal(engineRequests().length, 0);
  });
});

describe("checks of deployments", () => {
  test("a search deployment is checked with one page for one query, billed and recorded as a health check", async () => {
    const admin = createSignalboxClient({ baseUrl: t.url, apiKey: ADMIN });
    const r = await admin.admin.checkDeployments({ deployments: ["perplexity/search", "mock/search"] });
    assert.deepEqual(
      r.checks.map((c) => [c.deployment, c.operation, c.healthy]),
      [
        ["perplexity/search", "search", true],
        ["mock/search", "search", true],
      ],
    );
    assert.deepEqual(pplx.requests[0].body, { query: "ping", max_results: 1, max_tokens_per_page: 25 });
    assert.equal(r.checks[0].costNanoUsd, 5_000_000n);
    const rec = t.usage.recent().find((x) => x.id === r.checks[0].requestId)!;
    assert.deepEqual(rec.tags, ["health-check"]);
    assert.equal(rec.operation, "search");
  });
});

describe("configuration", () => {
  const load = (deployments: string, providers = "") =>
    buildConfig(
      parse(`
providers:
  - { name: exa, type: exa, api_key: k-123456 }
  - { name: openai, type: openai, api_key: k-123456 }
${providers}
deployments:
${deployments}
`),
      {},
    );

  test("a search engine's deployments serve search only, priced by the engine's mode", () => {
    const c = load("  - { id: exa/auto, provider: exa, model: auto }");
    assert.deepEqual(c.deployments[0].operations, ["search"]);
    assert.equal(c.deployments[0].pricing.perRequestNanos, 10_000_000);
    assert.equal(c.providers.find((p) => p.name === "exa")!.baseUrl, "https://api.exa.ai");
    assert.throws(() => load("  - { id: exa/chat, provider: exa, model: auto, operations: [chat] }"), /deployments\[0\]\.operations: .*search engine: its deployments serve search only/);
    assert.throws(() => load("  - { id: openai/s, provider: openai, model: gpt-4o, operations: [search] }"), /deployments\[0\]\.operations: .*no search API/);
    assert.throws(() => load("  - { id: exa/x, provider: exa, model: turbo-max }"), /deployments\[0\]\.pricing/);
    assert.throws(() => load("  - { id: t/x, provider: t, model: basic }", "  - { name: t, type: tavily }"), /providers\[2\]\.api_key: is required/);
  });
});

describe("the chat's web search through search deployments (web_search.model)", () => {
  let g: TestGateway;
  const spans = new InMemorySpanExporter();
  before(async () => {
    g = await startTestGateway(`
providers:
  - { name: exa, type: exa, base_url: "${exa.url}", api_key: ${EXA_TEST_KEY} }
  - { name: perplexity, type: perplexity, base_url: "${pplx.url}", api_key: ${PERPLEXITY_TEST_KEY} }
  - { name: mock, type: mock }
deployments:
  - { id: exa/auto, provider: exa, model: auto }
  - { id: perplexity/search, provider: perplexity, model: search }
  - { id: mock/chat, provider: mock, model: mock-chat, pricing: { input: 0, output: 0 } }
routes:
  - { name: engines, targets: [perplexity/search], fallbacks: [exa/auto], retry: { max_retries: 0 } }
  - { name: default, targets: [mock/chat] }
web_search: { model: engines, max_results: 2 }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`,
      { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter: spans }) })! },
    );
  });
  after(() => g.close());
  const chat = (body: unknown) => fetch(`${g.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  test(":online searches through the route: Perplexity first, Exa when it fails; the search is billed with the chat, in one record", async () => {
    const res = await chat({ model: "mock/chat:online", messages: [{ role: "user", content: "latest on connect rpc" }] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { signalbox: { adjustments: { field: string; detail: string }[] } };
    assert.deepEqual(
      body.signalbox.adjustments.filter((a) => a.field === "web_search").map((a) => a.detail),
      ["2 results from perplexity added before the last user message"],
    );
    assert.equal(pplx.requests[0].body.query, "latest on connect rpc");
    assert.equal(pplx.requests[0].body.max_results, 2);
    const r = g.usage.recent().at(-1)!;
    assert.equal(r.operation ?? "chat", "chat");
    assert.equal(r.cost.total, 5_000_000, "one Perplexity search; the mock model is free");
    assert.equal(g.usage.recent().filter((x) => x.operation === "search").length, 0, "no record of its own");

    pplx.script({ kind: "error", status: 503 });
    const fell = await chat({ model: "mock/chat:online", messages: [{ role: "user", content: "again please" }] });
    const fb = (await fell.json()) as { signalbox: { adjustments: { field: string; detail: string }[] } };
    assert.deepEqual(
      fb.signalbox.adjustments.filter((a) => a.field === "web_search").map((a) => a.detail),
      ["2 results from exa added before the last user message"],
    );
    assert.equal(exa.requests.length, 1);
    // Exa's reported cost: $0.005 a search and $0.001 a page of text.
    assert.equal(g.usage.recent().at(-1)!.cost.total, 7_000_000);
    // Each engine tried is its own CLIENT span under the web_search span, as a model's attempts are.
    const traceId = g.usage.recent().at(-1)!.traceId;
    const trace = spans.getFinishedSpans().filter((x) => x.spanContext().traceId === traceId);
    const ws = trace.find((x) => x.name === "web_search engines")!;
    assert.ok(ws, trace.map((x) => x.name).join(", "));
    assert.equal(ws.attributes["signalbox.web_search.deployment"], "exa/auto");
    assert.equal(ws.attributes["signalbox.web_search.attempts"], 2);
    const tries = trace.filter((x) => x.parentSpanContext?.spanId === ws.spanContext().spanId);
    assert.deepEqual(
      tries.map((x) => [x.name, x.attributes["signalbox.deployment"], x.attributes["signalbox.attempt"], x.attributes["signalbox.outcome"]]),
      [
        ["search search", "perplexity/search", 1, "failed"],
        ["search auto", "exa/auto", 2, "succeeded"],
      ],
    );
    assert.ok(tries.every((x) => x.kind === 2), "CLIENT spans");
    assert.ok(!JSON.stringify(trace.map((x) => x.attributes)).includes(EXA_TEST_KEY) && !JSON.stringify(trace.map((x) => x.attributes)).includes(PERPLEXITY_TEST_KEY));
  });

  test("every engine failing answers without results and says why (on_failure: answer)", async () => {
    pplx.script({ kind: "error", status: 503 });
    exa.script({ kind: "error", status: 500 });
    const res = await chat({ model: "mock/chat:online", messages: [{ role: "user", content: "nothing works" }] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { signalbox: { adjustments: { field: string; detail: string }[] } };
    const adj = body.signalbox.adjustments.find((a) => a.field === "web_search")!;
    assert.match(adj.detail, /^the search failed \(.*\): answered without web results$/);
    assert.ok(!adj.detail.includes(EXA_TEST_KEY) && !adj.detail.includes(PERPLEXITY_TEST_KEY));
    assert.equal(g.usage.recent().at(-1)!.cost.total, 0);
  });

  test("the model must serve search, and the engine's own settings do not apply", () => {
    const load = (ws: string) =>
      buildConfig(
        parse(`
providers:
  - { name: mock, type: mock }
deployments:
  - { id: mock/chat, provider: mock, model: mock-chat }
  - { id: mock/search, provider: mock, model: s, operations: [search] }
web_search: ${ws}
`),
        {},
      );
    assert.equal(load("{ model: mock/search }").webSearch?.engine, "routed");
    assert.throws(() => load("{ model: mock/chat }"), /web_search\.model: deployment "mock\/chat" does not serve search/);
    assert.throws(() => load("{ model: nowhere }"), /web_search\.model: unknown route, alias or deployment "nowhere"/);
    assert.throws(() => load("{ model: mock/search, engine: exa }"), /web_search\.engine: cannot be given with web_search\.model/);
    assert.throws(() => load("{ model: mock/search, api_key: k-1234567 }"), /web_search\.api_key: does not apply with web_search\.model/);
    assert.throws(() => load("{ max_results: 3 }"), /web_search\.engine: is required/);
  });
});
