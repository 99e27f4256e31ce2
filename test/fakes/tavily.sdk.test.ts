// Proves the fake Tavily search API against the official @tavily/core SDK, pointed at the fake with its
// `apiBaseURL` client option (it posts to `${apiBaseURL}/search` over real HTTP with axios): the body and
// `Authorization: Bearer` key the SDK sends are what the fake records and checks, the fake's snake_case
// response parses into the SDK's camelCase TavilySearchResponse, and the fake's `{"detail":{"error":…}}`
// errors surface as the SDK's errors. @tavily/core has no error class for HTTP errors: it throws a plain
// Error whose message is `detail.error` (its only class, TavilyKeylessLimitError, is for keyless caps).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { tavily, TavilyKeylessLimitError, type TavilyClient } from '@tavily/core';
import { startFakeTavily, TAVILY_TEST_KEY, tavilyDefaultText, type FakeTavily } from './tavily.ts';

describe('fake Tavily vs @tavily/core', () => {
  let fake: FakeTavily;
  let tvly: TavilyClient;
  before(async () => {
    fake = await startFakeTavily();
    tvly = tavily({ apiKey: TAVILY_TEST_KEY, apiBaseURL: fake.url });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('search(query) with defaults: 5 results derived from the query; the SDK sends only the query', async () => {
    const res = await tvly.search('solid state batteries');
    assert.equal(res.query, 'solid state batteries');
    assert.equal(res.results.length, 5);
    assert.equal(res.answer, null);
    assert.deepEqual(res.images, []);
    assert.equal(typeof res.responseTime, 'number');
    assert.match(res.requestId, /^[0-9a-f-]{36}$/);
    const first = res.results[0];
    assert.equal(first.url, 'https://solid-state-batteries-1.example.com/article');
    assert.match(first.title, /solid state batteries/);
    assert.match(first.content, /solid state batteries/);
    assert.ok(tavilyDefaultText('solid state batteries', 1).startsWith(first.content));
    assert.equal(first.rawContent, null);
    assert.ok(first.score > res.results[1].score);
    assert.equal(first.publishedDate, undefined);
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path], ['POST', '/search']);
    assert.equal(req.headers.authorization, `Bearer ${TAVILY_TEST_KEY}`);
    assert.equal(req.headers['x-client-source'], 'tavily-js');
    assert.match(String(req.headers['content-type']), /^application\/json/);
    assert.deepEqual(req.body, { query: 'solid state batteries' }); // undefined options are dropped by JSON
    assert.equal(req.status, 200);
  });

  test('every search option arrives snake_cased as sent; answer, raw content, images, news dates, favicon, usage', async () => {
    const res = await tvly.search('rust async runtimes', {
      searchDepth: 'advanced',
      topic: 'news',
      days: 7,
      timeRange: 'week',
      maxResults: 3,
      includeAnswer: 'advanced',
      includeRawContent: 'markdown',
      includeImages: true,
      includeImageDescriptions: true,
      includeDomains: ['docs.rs', 'https://tokio.rs/blog'],
      chunksPerSource: 2,
      country: 'united states',
      includeFavicon: true,
      includeUsage: true,
      exactMatch: false,
    });
    assert.deepEqual(
      res.results.map((r) => r.url),
      ['https://docs.rs/rust-async-runtimes-1', 'https://tokio.rs/rust-async-runtimes-2', 'https://docs.rs/rust-async-runtimes-3'],
    );
    assert.match(res.answer ?? '', /rust async runtimes/);
    for (const r of res.results) {
      assert.match(r.rawContent ?? '', /^# rust async runtimes - result \d\n\nThis article explains rust async runtimes/);
      assert.equal(r.publishedDate, 'Thu, 15 Jan 2026 00:00:00 GMT');
      assert.match(r.favicon ?? '', /^https:\/\/(docs|tokio)\.rs\/favicon\.ico$/);
    }
    assert.equal(res.images.length, 3);
    assert.match(res.images[0].description ?? '', /rust async runtimes/);
    assert.deepEqual(res.usage, { credits: 2 });
    assert.deepEqual(fake.requests[0].body, {
      query: 'rust async runtimes',
      search_depth: 'advanced',
      topic: 'news',
      days: 7,
      max_results: 3,
      include_images: true,
      include_image_descriptions: true,
      include_answer: 'advanced',
      include_raw_content: 'markdown',
      include_domains: ['docs.rs', 'https://tokio.rs/blog'],
      time_range: 'week',
      chunks_per_source: 2,
      country: 'united states',
      include_favicon: true,
      include_usage: true,
      exact_match: false,
    });
  });

  test('includeRawContent text gives the plain page text; excludeDomains filters; scripted results are served', async () => {
    const res = await tvly.search('tide tables', { maxResults: 2, includeRawContent: 'text' });
    assert.equal(res.results[1].rawContent, tavilyDefaultText('tide tables', 2));
    const none = await tvly.search('tide tables', { excludeDomains: ['example.com'] });
    assert.deepEqual(none.results, []);
    fake.script({ kind: 'results', results: [{ title: 'Pinned', url: 'https://pinned.test/a', text: 'Pinned body. Second sentence. Third.' }], answer: 'Forty-two.' });
    const pinned = await tvly.search('anything', { includeAnswer: true });
    assert.deepEqual(
      pinned.results.map((r) => [r.title, r.url, r.content]),
      [['Pinned', 'https://pinned.test/a', 'Pinned body. Second sentence.']],
    );
    assert.equal(pinned.answer, 'Forty-two.');
  });

  test("a wrong key is a 401 with Tavily's body, surfaced as the SDK's Error with detail.error", async () => {
    const wrong = tavily({ apiKey: 'tvly-wrong', apiBaseURL: fake.url });
    await assert.rejects(wrong.search('x'), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(!(e instanceof TavilyKeylessLimitError));
      assert.equal(e.message, 'Unauthorized: missing or invalid API key.');
      return true;
    });
    assert.equal(fake.requests[0].status, 401);
    const raw = await fetch(`${fake.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"x"}' });
    assert.equal(raw.status, 401);
    assert.deepEqual(await raw.json(), { detail: { error: 'Unauthorized: missing or invalid API key.' } });
  });

  test('the legacy api_key body field is accepted; the keyless mode the SDK falls back to is refused', async () => {
    const raw = await fetch(`${fake.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: TAVILY_TEST_KEY, query: 'legacy key', max_results: 1 }) });
    assert.equal(raw.status, 200);
    assert.deepEqual(((await raw.json()) as { results: Array<{ url: string }> }).results.map((r) => r.url), ['https://legacy-key-1.example.com/article']);
    const saved = process.env.TAVILY_API_KEY;
    delete process.env.TAVILY_API_KEY;
    try {
      const keyless = tavily({ apiBaseURL: fake.url });
      await assert.rejects(keyless.search('x'), /Unauthorized: missing or invalid API key/);
      const req = fake.requests.at(-1)!;
      assert.equal(req.headers.authorization, undefined);
      assert.equal(req.headers['x-tavily-access-mode'], 'keyless');
    } finally {
      if (saved !== undefined) process.env.TAVILY_API_KEY = saved;
    }
  });

  test('a missing query and invalid options are 400s with the message; no scenario is consumed', async () => {
    await assert.rejects(tvly.search(''), { message: 'Query is missing.' });
    await assert.rejects(tvly.search('x', { maxResults: 50 }), { message: 'max_results must be between 0 and 20.' });
    await assert.rejects(tvly.search('x', { topic: 'sports' as never }), /Invalid topic/);
    assert.deepEqual(fake.requests.map((r) => r.status), [400, 400, 400]);
    assert.equal(fake.pending(), 0);
  });

  test('error scenarios: 429 with retry-after, 400, 401, 432, 500 surface their messages', async () => {
    fake.script({ kind: 'error', status: 429, retryAfter: 3 });
    await assert.rejects(tvly.search('x'), { message: 'Your request has been blocked due to excessive requests. Please reduce rate of requests.' });
    for (const [status, message] of [[400, 'bad thing'], [401, undefined], [432, undefined], [500, undefined]] as const) {
      fake.script({ kind: 'error', status, ...(message ? { message } : {}) });
      await assert.rejects(tvly.search('x'), (e: unknown) => e instanceof Error && e.message.length > 0 && (message === undefined || e.message === message));
    }
    assert.deepEqual(fake.requests.map((r) => r.status), [429, 400, 401, 432, 500]);
    fake.script({ kind: 'error', status: 429, retryAfter: 3 });
    const raw = await fetch(`${fake.url}/search`, { method: 'POST', headers: { authorization: `Bearer ${TAVILY_TEST_KEY}`, 'content-type': 'application/json' }, body: '{"query":"x"}' });
    assert.equal(raw.status, 429);
    assert.equal(raw.headers.get('retry-after'), '3');
    assert.deepEqual(await raw.json(), { detail: { error: 'Your request has been blocked due to excessive requests. Please reduce rate of requests.' } });
  });

  test('transport: a hang trips the SDK timeout; a disconnect and a non-JSON 502 reject', async () => {
    fake.script({ kind: 'hang' });
    await assert.rejects(tvly.search('x', { timeout: 0.2 }), { message: 'Request timed out after 0.2 seconds.' });
    fake.script({ kind: 'disconnect' });
    await assert.rejects(tvly.search('x'), /An unexpected error occurred/);
    fake.script({ kind: 'http', status: 502, body: '<html>bad gateway</html>' });
    await assert.rejects(tvly.search('x'), /^Error: 502 Error: "<html>bad gateway<\/html>"$|502 Error/);
  });
});
