// Proves the fake Perplexity Search API against the official @perplexity-ai/perplexity_ai SDK, pointed at the
// fake with `new Perplexity({ apiKey, baseURL, maxRetries: 0 })`: the body and `Authorization: Bearer` key
// `client.search.create()` sends are what the fake records and checks, the fake's response parses into the
// SDK's SearchCreateResponse, and the fake's `{"error":{message,type,code}}` errors come back as the SDK's own
// APIError subclasses (BadRequestError, AuthenticationError, RateLimitError, …) with the status, the parsed
// body in `.error`, and the body in the message (the SDK only unwraps a top-level `message`).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import Perplexity, { APIConnectionError, APIError, AuthenticationError, BadRequestError, InternalServerError, RateLimitError, type SearchCreateParams } from '@perplexity-ai/perplexity_ai';
import { PERPLEXITY_TEST_KEY, perplexityDefaultSnippet, startFakePerplexity, type FakePerplexity } from './perplexity.ts';

/** The `{error:{message,type,code}}` body an SDK error carries. */
const body = (e: unknown) => (e as APIError & { error: { error: { message: string; type: string; code: number } } }).error.error;

describe('fake Perplexity Search vs @perplexity-ai/perplexity_ai', () => {
  let fake: FakePerplexity;
  let client: Perplexity;
  before(async () => {
    fake = await startFakePerplexity();
    client = new Perplexity({ apiKey: PERPLEXITY_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('search.create({query}) with defaults: 10 results derived from the query; the SDK sends only the query', async () => {
    const res = await client.search.create({ query: 'solid state batteries' });
    assert.match(res.id, /^[0-9a-f-]{36}$/);
    assert.equal(res.results.length, 10);
    assert.equal('server_time' in res, false);
    const first = res.results[0];
    assert.equal(first.url, 'https://solid-state-batteries-1.example.com/page');
    assert.match(first.title, /solid state batteries/);
    assert.equal(first.snippet, perplexityDefaultSnippet('solid state batteries', 1));
    assert.match(first.snippet, /solid state batteries/);
    assert.equal(first.date, '2026-01-15');
    assert.equal(first.last_updated, '2026-01-20');
    assert.equal(res.results[9].url, 'https://solid-state-batteries-10.example.com/page');
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path], ['POST', '/search']);
    assert.equal(req.headers.authorization, `Bearer ${PERPLEXITY_TEST_KEY}`);
    assert.match(String(req.headers['content-type']), /^application\/json/);
    assert.match(String(req.headers['user-agent']), /^Perplexity\/JS /);
    assert.deepEqual(req.body, { query: 'solid state batteries' });
    assert.equal(req.status, 200);
  });

  test('every option arrives as sent; max_results, dates, max_tokens_per_page, display_server_time shape the results', async () => {
    const params: SearchCreateParams = {
      query: 'rust async runtimes',
      max_results: 3,
      max_tokens_per_page: 10,
      max_tokens: 1000,
      search_language_filter: ['en', 'de'],
      search_recency_filter: 'month',
      search_after_date_filter: '3/1/2025',
      search_before_date_filter: '03/31/2025',
      last_updated_after_filter: '4/1/2025',
      country: 'US',
      search_mode: 'web',
      search_context_size: 'low',
      search_type: 'web',
      display_server_time: true,
    };
    const res = await client.search.create(params);
    assert.deepEqual(
      res.results.map((r) => r.url),
      [1, 2, 3].map((i) => `https://rust-async-runtimes-${i}.example.com/page`),
    );
    for (const r of res.results) {
      assert.equal(r.snippet.length, 40);
      assert.ok(perplexityDefaultSnippet('rust async runtimes', 1).startsWith(r.snippet.slice(0, 20)));
      assert.equal(r.date, '2025-03-31');
      assert.equal(r.last_updated, '2025-04-01');
    }
    assert.ok(!Number.isNaN(Date.parse(res.server_time ?? '')));
    assert.deepEqual(fake.requests[0].body, params);
    // max_tokens is a budget over all snippets: 12 tokens = 48 characters.
    const tight = await client.search.create({ query: 'tide tables', max_results: 3, max_tokens: 12 });
    assert.deepEqual(tight.results.map((r) => r.snippet.length), [48, 0, 0]);
  });

  test('search_domain_filter: an allow list makes results on the first domain; a deny list drops them', async () => {
    const allowed = await client.search.create({ query: 'tide tables', max_results: 2, search_domain_filter: ['noaa.gov', 'https://www.metoffice.gov.uk/'] });
    assert.deepEqual(allowed.results.map((r) => r.url), ['https://tide-tables-1.noaa.gov/page', 'https://tide-tables-2.noaa.gov/page']);
    const denied = await client.search.create({ query: 'tide tables', search_domain_filter: ['-example.com'] });
    assert.deepEqual(denied.results, []);
    const other = await client.search.create({ query: 'tide tables', max_results: 1, search_domain_filter: ['-reddit.com'] });
    assert.deepEqual(other.results.map((r) => r.url), ['https://tide-tables-1.example.com/page']);
    assert.deepEqual(fake.requests[0].body.search_domain_filter, ['noaa.gov', 'https://www.metoffice.gov.uk/']);
  });

  test('multi-query: one flat results list, each query\'s results in query order', async () => {
    const res = await client.search.create({ query: ['alpha beta', 'Gamma!'], max_results: 2 });
    assert.deepEqual(
      res.results.map((r) => [r.url, r.title]),
      [
        ['https://alpha-beta-1.example.com/page', 'alpha beta - result 1'],
        ['https://alpha-beta-2.example.com/page', 'alpha beta - result 2'],
        ['https://gamma-1.example.com/page', 'Gamma! - result 1'],
        ['https://gamma-2.example.com/page', 'Gamma! - result 2'],
      ],
    );
    assert.deepEqual(fake.requests[0].body.query, ['alpha beta', 'Gamma!']);
  });

  test('scripted results are served, still filtered and cut to max_tokens_per_page', async () => {
    fake.script({
      kind: 'results',
      results: [
        { title: 'Pinned', url: 'https://pinned.test/a', snippet: 'Pinned page body text that is fairly long.', date: '2024-05-06' },
        { title: 'Dropped', url: 'https://www.spam.test/b', snippet: 'spam' },
        { title: 'No dates', url: 'https://pinned.test/c', snippet: 'short', last_updated: null },
      ],
    });
    const res = await client.search.create({ query: 'anything', max_tokens_per_page: 2, search_domain_filter: ['-spam.test'] });
    assert.deepEqual(res.results, [
      { title: 'Pinned', url: 'https://pinned.test/a', snippet: 'Pinned p', date: '2024-05-06' },
      { title: 'No dates', url: 'https://pinned.test/c', snippet: 'short', last_updated: null },
    ]);
    assert.equal(fake.pending(), 0);
  });

  test('a wrong or missing key is a 401 AuthenticationError carrying Perplexity\'s body', async () => {
    const wrong = new Perplexity({ apiKey: 'not-the-key', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.search.create({ query: 'x' }), (e: unknown) => {
      assert.ok(e instanceof AuthenticationError, String(e));
      assert.equal(e.status, 401);
      assert.deepEqual(body(e), { message: 'Invalid API key provided. You can find your API key at https://www.perplexity.ai/settings/api.', type: 'invalid_api_key', code: 401 });
      assert.match(e.message, /^401 .*Invalid API key provided/);
      return true;
    });
    assert.equal(fake.requests[0].headers.authorization, 'Bearer not-the-key');
    assert.equal(fake.requests[0].status, 401);
    const raw = await fetch(`${fake.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"x"}' });
    assert.equal(raw.status, 401);
    assert.equal(((await raw.json()) as { error: { type: string } }).error.type, 'invalid_api_key');
  });

  test('invalid bodies are 400 BadRequestErrors with pydantic-style messages; no scenario is consumed', async () => {
    fake.script({ kind: 'results', results: [] });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ query: 'x', max_results: 21 }, /max_results: Input should be less than or equal to 20/],
      [{ query: 'x', max_results: 0 }, /max_results: Input should be greater than or equal to 1/],
      [{ query: 'x', search_domain_filter: ['a.com', '-b.com'] }, /cannot mix allowlist and denylist/],
      [{ query: 'x', search_domain_filter: Array.from({ length: 21 }, (_, i) => `d${i}.com`) }, /at most 20 items/],
      [{ query: '' }, /query: String should have at least 1 character/],
      [{ query: ['a', 'b', 'c', 'd', 'e', 'f'] }, /query: List should have at most 5 items/],
      [{ query: 'x', search_after_date_filter: '2025-03-01' }, /search_after_date_filter: .*%m\/%d\/%Y/],
      [{ query: 'x', search_before_date_filter: '2/30/2025' }, /search_before_date_filter/],
      [{ query: 'x', search_recency_filter: 'decade' }, /search_recency_filter: Input should be 'hour', 'day', 'week', 'month' or 'year'/],
      [{ query: 'x', search_mode: 'news' }, /search_mode/],
      [{ query: 'x', country: 'USA' }, /country/],
      [{ query: 'x', search_recency: 'day' }, /search_recency: Extra inputs are not permitted/],
    ];
    for (const [params, re] of cases) {
      await assert.rejects(client.search.create(params as never), (e: unknown) => {
        assert.ok(e instanceof BadRequestError, `${JSON.stringify(params)}: ${String(e)}`);
        assert.equal(e.status, 400);
        assert.equal(body(e).type, 'bad_request');
        assert.equal(body(e).code, 400);
        assert.match(body(e).message, re);
        assert.ok(JSON.parse(body(e).message).every((m: string) => m.startsWith('At body -> ')));
        return true;
      });
    }
    assert.equal(fake.pending(), 1);
    assert.ok(fake.requests.every((r) => r.status === 400));
  });

  test('error scenarios: 400, 401, 429 with retry-after, 500, 503 surface as the SDK classes with status and message', async () => {
    fake.script({ kind: 'error', status: 429, retryAfter: 3 });
    await assert.rejects(client.search.create({ query: 'x' }), (e: unknown) => {
      assert.ok(e instanceof RateLimitError, String(e));
      assert.equal(e.status, 429);
      assert.equal(e.headers?.get('retry-after'), '3');
      assert.equal(body(e).type, 'rate_limit_exceeded');
      return true;
    });
    for (const [status, cls] of [[400, BadRequestError], [401, AuthenticationError], [500, InternalServerError], [503, InternalServerError]] as const) {
      fake.script({ kind: 'error', status, message: `scripted ${status}`, type: 'custom' });
      await assert.rejects(client.search.create({ query: 'x' }), (e: unknown) => {
        assert.ok(e instanceof cls, String(e));
        assert.equal(e.status, status);
        assert.deepEqual(body(e), { message: `scripted ${status}`, type: 'custom', code: status });
        assert.ok(e.message.includes(`scripted ${status}`));
        return true;
      });
    }
    assert.deepEqual(fake.requests.map((r) => r.status), [429, 400, 401, 500, 503]);
  });

  test('transport: a hang trips the SDK timeout; a disconnect and a non-JSON 502 reject', async () => {
    fake.script({ kind: 'hang' });
    await assert.rejects(client.search.create({ query: 'x' }, { timeout: 200 }), (e: unknown) => e instanceof APIConnectionError);
    fake.script({ kind: 'disconnect' });
    await assert.rejects(client.search.create({ query: 'x' }), (e: unknown) => e instanceof APIConnectionError);
    fake.script({ kind: 'http', status: 502, body: '<html>bad gateway</html>' });
    await assert.rejects(client.search.create({ query: 'x' }), (e: unknown) => e instanceof APIError && e.status === 502 && /bad gateway/.test(e.message));
  });
});
