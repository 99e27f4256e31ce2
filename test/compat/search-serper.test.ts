// Serper (Google results) as a search engine, end to end over real sockets: the gateway's /v1/search
// against the fake Serper API (test/fakes/serper.ts, checked against Serper's documented usage in
// test/fakes/serper.test.ts): what Serper is sent (`POST /search` with the engine's key in X-API-KEY,
// never the caller's; `{q, num, gl, tbs}` with domains as Google `site:` operators and a date range as a
// custom `cdr:` range), how results are mapped (organic's link, snippet, Google's absolute and relative
// dates as YYYY-MM-DD), cost per search from the catalog (per credit Serper reports), Serper's 429 as the
// caller's 429 without the key, and a fallback from Serper to SearXNG. Own file: the Brave/SearXNG file
// shares one gateway config.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import { classifySearchError, searchBody, serperDate, serperTbs } from "../../src/providers/search/engines.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { SERPER_TEST_KEY, serperDefaultSnippet, startFakeSerper, type FakeSerper } from "../fakes/serper.ts";
import { startFakeSearxng, type FakeSearxng } from "../fakes/searxng.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "serper", "a"].join("_");

let serper: FakeSerper;
let searx: FakeSearxng;
let t: TestGateway;

before(async () => {
  [serper, searx] = await Promise.all([startFakeSerper(), startFakeSearxng()]);
  t = await startTestGateway(`
providers:
  - { name: serper, type: serper, base_url: "${serper.url}", api_key: ${SERPER_TEST_KEY} }
  - { name: searxng, type: searxng, base_url: "${searx.url}" }
  - { name: mock, type: mock }
deployments:
  - { id: serper/search, provider: serper, model: search }
  - { id: searxng/search, provider: searxng, model: search }
  - { id: mock/chat, provider: mock, model: mock-chat }
routes:
  - { name: serper, targets: [serper/search], retry: { max_retries: 0 } }
  - { name: serper-then-searxng, targets: [serper/search], fallbacks: [searxng/search], retry: { max_retries: 0 } }
  - { name: default, targets: [mock/chat] }
keys:
  - { name: a, hash: "${hashKey(KEY)}", team: a, role: team }
`);
});
beforeEach(() => {
  serper.reset();
  searx.reset();
});
after(async () => {
  await t.close();
  await Promise.all([serper.close(), searx.close()]);
});

interface Answer {
  results: { title: string; url: string; snippet: string; date?: string | null }[];
  signalbox: { searches: number; cost_nano_usd: number };
}
const lastRecord = (): UsageRecord => t.usage.recent().at(-1)!;
const post = (body: unknown) => fetch(`${t.url}/v1/search`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const isoDaysAgo = (days: number, now = Date.now()) => new Date(now - days * 86_400_000).toISOString().slice(0, 10);

describe("Serper", () => {
  test("a search: POST /search with the engine's key in X-API-KEY; organic results mapped; billed at the catalog's $0.001", async () => {
    const res = await post({ model: "serper", query: "node 24 release notes", max_results: 3 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "serper/search");
    const body = (await res.json()) as Answer;
    assert.equal(body.results.length, 3);
    const [first] = body.results;
    assert.equal(first.url, "https://node-24-release-notes-1.example.com/article");
    assert.equal(first.title, "node 24 release notes - result 1");
    assert.equal(first.snippet, serperDefaultSnippet("node 24 release notes", 1));
    assert.equal(first.date, "2026-01-15", "Google's \"Jan 15, 2026\"");

    assert.equal(serper.requests.length, 1);
    const [sent] = serper.requests;
    assert.equal(sent.method, "POST");
    assert.equal(sent.path, "/search");
    assert.deepEqual(sent.body, { q: "node 24 release notes", num: 3 });
    assert.equal(sent.headers["x-api-key"], SERPER_TEST_KEY);
    assert.match(String(sent.headers["content-type"]), /^application\/json/);
    assert.equal(sent.headers.authorization, undefined, "the caller's key never reaches the engine");
    assert.ok(!JSON.stringify(sent.headers).includes(KEY));

    const r = lastRecord();
    assert.equal(r.operation, "search");
    assert.equal(r.deployment, "serper/search");
    assert.equal(r.status, "ok");
    assert.equal(r.usage.searchUnits, 1);
    assert.equal(r.cost.total, 1_000_000, "$1 per 1,000 searches");
    assert.equal(body.signalbox.cost_nano_usd, 1_000_000);
  });

  test("filters: allowed domains as (site: OR site:) in q, the country as gl, the date range as a cdr: tbs", async () => {
    const res = await post({ model: "serper", query: "rust async", max_results: 4, max_tokens_per_page: 25, search_domain_filter: ["docs.rs", "tokio.rs"], country: "DE", search_after_date_filter: "3/1/2025", search_before_date_filter: "12/31/2025" });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Answer;
    assert.deepEqual(
      body.results.map((x) => new URL(x.url).hostname),
      ["rust-async-1.docs.rs", "rust-async-2.tokio.rs", "rust-async-3.docs.rs", "rust-async-4.tokio.rs"],
    );
    assert.equal(body.results[0].snippet, serperDefaultSnippet("rust async", 1), "under 100 characters (25 tokens): whole");
    assert.equal(body.results[0].date, "2025-12-31");
    assert.deepEqual(serper.requests[0].body, { q: "rust async (site:docs.rs OR site:tokio.rs)", num: 4, gl: "de", tbs: "cdr:1,cd_min:3/1/2025,cd_max:12/31/2025" });

    await post({ model: "serper", query: "rust async", search_domain_filter: ["-spam.example", "-ads.example"], search_after_date_filter: "3/1/2025" });
    const b2 = serper.requests[1].body;
    assert.equal(b2.q, "rust async -site:spam.example -site:ads.example");
    const today = new Date();
    assert.equal(b2.tbs, `cdr:1,cd_min:3/1/2025,cd_max:${today.getUTCMonth() + 1}/${today.getUTCDate()}/${today.getUTCFullYear()}`, "an open end is today");
    assert.equal(b2.num, 10);
    assert.equal(b2.gl, undefined);
    await post({ model: "serper", query: "old news", search_before_date_filter: "1/31/2020" });
    assert.equal(serper.requests[2].body.tbs, "cdr:1,cd_min:1/1/1970,cd_max:1/31/2020");
  });

  test("what Serper sends off the asked domains is left out; its dates read where they say a day; more credits, more cost", async () => {
    // Raw, so the fake's own site: handling does not filter it first.
    serper.script({
      kind: "http",
      status: 200,
      body: {
        searchParameters: { q: "tokio -site:spam.example", type: "search", engine: "google" },
        organic: [
          { title: "Absolute", link: "https://docs.rs/tokio", snippet: "a".repeat(150), date: "Jan 5, 2025", position: 1, sitelinks: [{ title: "x", link: "https://docs.rs/x" }] },
          { title: "Blocked", link: "https://www.spam.example/tokio", snippet: "dropped", position: 2 },
          { title: "Relative", link: "https://tokio.rs/blog", snippet: "b", date: "3 days ago", position: 3 },
          { title: "Vague", link: "https://c.example/1", snippet: "c", date: "2 months ago", position: 4 },
          { title: "Undated", link: "https://d.example/1", snippet: "d", position: 5 },
          { title: "No link", snippet: "e", position: 6 },
        ],
        knowledgeGraph: { title: "Tokio", website: "https://tokio.rs" },
        answerBox: { snippet: "an answer", link: "https://answer.example/" },
        credits: 2,
      },
    });
    const before = Date.now();
    const res = await post({ model: "serper", query: "tokio", search_domain_filter: ["-spam.example"], max_tokens_per_page: 25 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Answer;
    assert.deepEqual(
      body.results.map((x) => [x.title, x.url, x.date ?? undefined]),
      [
        ["Absolute", "https://docs.rs/tokio", "2025-01-05"],
        ["Relative", "https://tokio.rs/blog", isoDaysAgo(3, before)],
        ["Vague", "https://c.example/1", undefined],
        ["Undated", "https://d.example/1", undefined],
      ],
    );
    assert.equal(body.results[0].snippet, `${"a".repeat(100)}…`, "cut to 100 characters (25 tokens)");
    const r = lastRecord();
    assert.equal(r.usage.searchUnits, 2, "Serper's credits");
    assert.equal(r.cost.total, 2_000_000);
  });

  test("dates, tbs and error bodies (unit)", () => {
    const now = Date.UTC(2026, 11, 7, 12);
    assert.equal(serperDate("Jan 5, 2025", now), "2025-01-05");
    assert.equal(serperDate("January 5, 2025", now), "2025-01-05");
    assert.equal(serperDate("5 Jan 2025", now), "2025-01-05");
    assert.equal(serperDate("Sept 30, 2024", now), "2024-09-30");
    assert.equal(serperDate("2025-03-14T10:00:00Z", now), "2025-03-14");
    assert.equal(serperDate("3 hours ago", now), "2026-12-07");
    assert.equal(serperDate("an hour ago", now), "2026-12-07");
    assert.equal(serperDate("2 days ago", now), "2026-12-05");
    assert.equal(serperDate("1 week ago", now), "2026-11-30");
    assert.equal(serperDate("yesterday", now), "2026-12-06");
    for (const v of ["2 months ago", "1 year ago", "Feb 30, 2025", "sometime", "", undefined, 12]) assert.equal(serperDate(v, now), "", String(v));
    assert.equal(searchBody("serper", { query: "many", mode: "search", maxResults: 50, maxCharacters: 1000 }).num, 20, "num at most 20");
    assert.equal(serperTbs(undefined, undefined), undefined);
    assert.equal(serperTbs("2025-03-01T00:00:00.000Z", undefined, now), "cdr:1,cd_min:3/1/2025,cd_max:12/7/2026");

    const e = classifySearchError("serper", 429, JSON.stringify({ message: `Too many requests for ${SERPER_TEST_KEY}.`, statusCode: 429 }), { "retry-after": "2" }, [SERPER_TEST_KEY]);
    assert.equal(e.kind, "rate_limited");
    assert.equal(e.message, "serper 429: Too many requests for [redacted].");
    assert.equal(classifySearchError("serper", 403, JSON.stringify({ message: "Unauthorized.", statusCode: 403 })).kind, "upstream_auth");
    const spent = classifySearchError("serper", 400, JSON.stringify({ message: "Not enough credits", statusCode: 400 }));
    assert.equal(spent.kind, "quota_exhausted");
    assert.equal(spent.retryable, false);
    assert.equal(spent.message, "serper 400: Not enough credits");
    assert.equal(classifySearchError("serper", 400, JSON.stringify({ message: "Query too long.", statusCode: 400 })).kind, "bad_request");
  });

  test("a failing Serper (500) falls back to SearXNG; the record keeps both attempts and SearXNG's zero cost", async () => {
    serper.script({ kind: "error", status: 500 });
    const res = await post({ model: "serper-then-searxng", query: "fallback please", max_results: 2 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-signalbox-deployment"), "searxng/search");
    const body = (await res.json()) as Answer;
    assert.deepEqual(
      body.results.map((x) => x.url),
      ["https://fallback-please-1.example.com/article", "https://fallback-please-2.example.com/article"],
    );
    assert.equal(serper.requests.length, 1);
    assert.equal(searx.requests.length, 1);
    const r = lastRecord();
    assert.equal(r.deployment, "searxng/search");
    assert.deepEqual(
      r.attempts.map((a) => [a.deployment, a.outcome]),
      [
        ["serper/search", "failed"],
        ["searxng/search", "succeeded"],
      ],
    );
    assert.equal(r.cost.total, 0);
  });

  // Last of Serper's: its rate limit benches the deployment for a while.
  test("Serper's 429 is the caller's 429, without the engine's key", async () => {
    serper.script({ kind: "error", status: 429, message: `Too many requests (key ${SERPER_TEST_KEY}).`, retryAfter: 1 });
    const res = await post({ model: "serper", query: "x" });
    assert.equal(res.status, 429);
    const text = await res.text();
    assert.ok(!text.includes(SERPER_TEST_KEY), text);
    assert.equal(serper.requests.length, 1);
    const r = lastRecord();
    assert.equal(r.operation, "search");
    assert.notEqual(r.status, "ok");
    assert.equal(r.attempts.length, 1);
  });
});

describe("configuration", () => {
  const load = (providers: string, deployments: string) => buildConfig(parse(`providers:\n${providers}\ndeployments:\n${deployments}\n`), {});

  test("Serper has its default address, needs a key, and its mode search is priced per search", () => {
    const c = load("  - { name: s, type: serper, api_key: k-123456 }", "  - { id: s/search, provider: s, model: search }");
    assert.deepEqual(c.deployments.map((d) => [d.id, d.operations, d.pricing.perRequestNanos ?? 0]), [["s/search", ["search"], 1_000_000]]);
    assert.equal(c.providers.find((p) => p.name === "s")!.baseUrl, "https://google.serper.dev");
    assert.throws(() => load("  - { name: s, type: serper }", "  - { id: s/search, provider: s, model: search }"), /providers\[0\]\.api_key: is required/);
  });
});
