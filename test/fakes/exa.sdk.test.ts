// Proves the fake Exa search API against the official exa-js SDK, pointed at the fake with
// `new Exa(key, baseURL)`: the body and key header the SDK sends are what the fake records and checks,
// the fake's results parse into the SDK's SearchResponse (text/highlights/summary as asked for), and its
// errors come back as the SDK's own ExaError with the status, message and requestId.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Exa, ExaError } from 'exa-js';
import { EXA_TEST_KEY, exaDefaultText, startFakeExa, type FakeExa } from './exa.ts';

describe('fake Exa vs exa-js', () => {
  let fake: FakeExa;
  let exa: Exa;
  before(async () => {
    fake = await startFakeExa();
    exa = new Exa(EXA_TEST_KEY, fake.url);
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('search(query) with defaults: 10 results derived from the query, text capped by the SDK default', async () => {
    const res = await exa.search('solid state batteries');
    assert.equal(res.results.length, 10);
    assert.equal(res.resolvedSearchType, 'neural');
    assert.match(res.requestId, /^[0-9a-f]{32}$/);
    assert.ok(res.costDollars && res.costDollars.total > 0);
    const first = res.results[0];
    assert.equal(first.url, 'https://solid-state-batteries-1.example.com/article');
    assert.equal(first.id, first.url);
    assert.match(first.title ?? '', /solid state batteries/);
    assert.equal(first.text, exaDefaultText('solid state batteries', 1));
    assert.ok(first.score && first.score > res.results[1].score!);
    assert.equal(res.results[9].url, 'https://solid-state-batteries-10.example.com/article');
    // The exact body and headers the SDK sent.
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path], ['POST', '/search']);
    assert.equal(req.headers['x-api-key'], EXA_TEST_KEY);
    assert.match(String(req.headers['content-type']), /^application\/json/);
    assert.match(String(req.headers['user-agent']), /^exa-node /);
    assert.deepEqual(req.body, { query: 'solid state batteries', contents: { text: { maxCharacters: 10000 } } });
    assert.equal(req.status, 200);
  });

  test('every search option the gateway may send arrives as sent; content options shape the results', async () => {
    const res = await exa.search('rust async runtimes', {
      type: 'keyword',
      numResults: 3,
      includeDomains: ['docs.rs', 'https://tokio.rs/blog'],
      startPublishedDate: '2026-01-01T00:00:00.000Z',
      endPublishedDate: '2026-02-01T00:00:00.000Z',
      category: 'news',
      userLocation: 'US',
      contents: { text: { maxCharacters: 40 }, highlights: { numSentences: 2, highlightsPerUrl: 2 }, summary: { query: 'which is fastest' }, livecrawl: 'fallback' },
    });
    assert.equal(res.resolvedSearchType, 'keyword');
    assert.deepEqual(
      res.results.map((r) => r.url),
      ['https://docs.rs/rust-async-runtimes-1', 'https://tokio.rs/rust-async-runtimes-2', 'https://docs.rs/rust-async-runtimes-3'],
    );
    for (const r of res.results) {
      assert.equal([...r.text].length, 40);
      assert.ok(r.text.startsWith('rust async runtimes - result'));
      assert.equal(r.highlights.length, 2);
      assert.equal(r.highlightScores?.length, 2);
      assert.match(r.highlights[0], /rust async runtimes/);
      assert.match(r.summary, /which is fastest/);
      assert.equal(r.publishedDate, '2026-02-01T00:00:00.000Z');
    }
    assert.deepEqual(Object.keys(res.costDollars?.contents ?? {}).sort(), ['highlights', 'summary', 'text']);
    assert.deepEqual(fake.requests[0].body, {
      query: 'rust async runtimes',
      type: 'keyword',
      numResults: 3,
      includeDomains: ['docs.rs', 'https://tokio.rs/blog'],
      startPublishedDate: '2026-01-01T00:00:00.000Z',
      endPublishedDate: '2026-02-01T00:00:00.000Z',
      category: 'news',
      userLocation: 'US',
      contents: { text: { maxCharacters: 40 }, highlights: { numSentences: 2, highlightsPerUrl: 2 }, summary: { query: 'which is fastest' }, livecrawl: 'fallback' },
    });
  });

  test('contents: text true gives the full text; contents: false gives metadata only; excludeDomains filters', async () => {
    const full = await exa.search('tide tables', { numResults: 2, contents: { text: true } });
    assert.equal(full.results[1].text, exaDefaultText('tide tables', 2));
    const bare = await exa.search('tide tables', { numResults: 2, contents: false });
    assert.equal('text' in bare.results[0], false);
    assert.equal(fake.requests[1].body.contents, undefined);
    const none = await exa.search('tide tables', { numResults: 2, excludeDomains: ['example.com'] });
    assert.deepEqual(none.results, []);
  });

  test('scripted results: the fake serves them, still applying maxCharacters', async () => {
    fake.script({ kind: 'results', results: [{ title: 'Pinned', url: 'https://pinned.test/a', text: 'Pinned page body text.', author: 'Ada' }] });
    const res = await exa.search('anything', { contents: { text: { maxCharacters: 6 } } });
    assert.deepEqual(
      res.results.map((r) => [r.title, r.url, r.text, r.author]),
      [['Pinned', 'https://pinned.test/a', 'Pinned', 'Ada']],
    );
  });

  test('a wrong key is a 401 ExaError with Exa\'s body; a missing query and a bad numResults are 400s', async () => {
    const wrong = new Exa('not-the-key', fake.url);
    await assert.rejects(wrong.search('x'), (e: unknown) => {
      assert.ok(e instanceof ExaError, String(e));
      assert.equal(e.statusCode, 401);
      assert.equal(e.message, 'Invalid API key');
      assert.equal(e.path, '/search');
      assert.match(e.requestId ?? '', /^[0-9a-f]{32}$/);
      return true;
    });
    const raw = await fetch(`${fake.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"x"}' });
    assert.equal(raw.status, 401);
    const rawBody = (await raw.json()) as { requestId: string; error: string; tag: string };
    assert.equal(rawBody.tag, 'INVALID_API_KEY');
    assert.deepEqual(Object.keys(rawBody).sort(), ['error', 'requestId', 'tag']);
    await assert.rejects(exa.search(''), (e: unknown) => e instanceof ExaError && e.statusCode === 400 && /query: Required/.test(e.message));
    await assert.rejects(exa.search('x', { numResults: 500 }), (e: unknown) => e instanceof ExaError && e.statusCode === 400 && /numResults/.test(e.message));
    assert.equal(fake.pending(), 0);
  });

  test('error scenarios map to ExaError with the status and message; 429 carries retry-after', async () => {
    for (const status of [400, 401, 429, 500] as const) {
      fake.script({ kind: 'error', status, ...(status === 429 ? { retryAfter: 3 } : {}) });
      await assert.rejects(exa.search('boom'), (e: unknown) => {
        assert.ok(e instanceof ExaError, String(e));
        assert.equal(e.statusCode, status);
        assert.ok(e.message.length > 0);
        return true;
      });
    }
    assert.equal(fake.requests.at(-2)?.status, 429);
    fake.script({ kind: 'error', status: 429, message: 'slow down please', retryAfter: 3 });
    const raw = await fetch(`${fake.url}/search`, { method: 'POST', headers: { 'x-api-key': EXA_TEST_KEY, 'content-type': 'application/json' }, body: '{"query":"x"}' });
    assert.equal(raw.status, 429);
    assert.equal(raw.headers.get('retry-after'), '3');
    assert.deepEqual({ ...((await raw.json()) as object), requestId: 'r' }, { requestId: 'r', error: 'slow down please', tag: 'RATE_LIMIT_EXCEEDED' });
  });

  test('transport: a disconnect rejects the SDK call; a non-JSON http body is an ExaError', async () => {
    fake.script({ kind: 'disconnect' });
    await assert.rejects(exa.search('x'));
    fake.script({ kind: 'http', status: 502, body: '<html>bad gateway</html>' });
    await assert.rejects(exa.search('x'), (e: unknown) => e instanceof ExaError && e.statusCode === 502 && /not valid JSON/.test(e.message));
  });

  test('Authorization: Bearer is accepted as well as x-api-key', async () => {
    const res = await fetch(`${fake.url}/search`, { method: 'POST', headers: { authorization: `Bearer ${EXA_TEST_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: 'bearer ok', numResults: 1 }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: Array<{ url: string; text?: string }> };
    assert.deepEqual(body.results.map((r) => [r.url, r.text]), [['https://bearer-ok-1.example.com/article', undefined]]);
  });
});
