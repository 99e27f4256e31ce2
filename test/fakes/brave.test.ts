// Checks the fake Brave Web Search API against Brave's documented usage (there is no official Node
// SDK): a plain `fetch` GET of `/res/v1/web/search?q=…` with `Accept: application/json` and the key in
// `X-Subscription-Token`, as the docs' curl example does; the parameters it validates, the answer's
// shape (web.results with title, url, description, page_age, extra_snippets), search operators, and
// the `ErrorResponse` errors.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { BRAVE_TEST_KEY, braveOperators, startFakeBrave, type FakeBrave } from './brave.ts';

describe('fake Brave Web Search API over plain fetch', () => {
  let fake: FakeBrave;
  before(async () => {
    fake = await startFakeBrave();
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  const search = (params: Record<string, string>, key: string | null = BRAVE_TEST_KEY) =>
    fetch(`${fake.url}/res/v1/web/search?${new URLSearchParams(params)}`, { headers: { accept: 'application/json', 'accept-encoding': 'gzip', ...(key ? { 'x-subscription-token': key } : {}) } });

  test('a web search: results derived from the query, count honoured, highlights by default', async () => {
    const res = await search({ q: 'solid state batteries', count: '3' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(res.headers.get('x-ratelimit-remaining'));
    const body = (await res.json()) as { type: string; query: { original: string }; web: { type: string; results: Array<Record<string, unknown>> } };
    assert.equal(body.type, 'search');
    assert.equal(body.query.original, 'solid state batteries');
    assert.equal(body.web.type, 'search');
    assert.equal(body.web.results.length, 3);
    const first = body.web.results[0];
    assert.equal(first.url, 'https://solid-state-batteries-1.example.com/article');
    assert.match(String(first.title), /solid state batteries/);
    assert.match(String(first.description), /<strong>solid state batteries<\/strong>/, 'text decorations are on by default');
    assert.equal(first.page_age, '2026-01-15T00:00:00');
    assert.equal(first.age, 'January 15, 2026');
    assert.equal(first.extra_snippets, undefined, 'extra snippets only when asked');
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path], ['GET', '/res/v1/web/search']);
    assert.equal(req.query.q, 'solid state batteries');
    assert.equal(req.headers['x-subscription-token'], BRAVE_TEST_KEY);
  });

  test('operators, plain text, extra snippets, country and a freshness range', async () => {
    const res = await search({ q: 'rust async (site:docs.rs OR site:tokio.rs) -site:spam.rs', count: '4', text_decorations: 'false', extra_snippets: 'true', country: 'DE', freshness: '2025-03-01to2025-12-31' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { web: { results: Array<{ url: string; description: string; extra_snippets?: string[]; page_age?: string }> } };
    assert.deepEqual(
      body.web.results.map((r) => r.url),
      ['https://rust-async-1.docs.rs/article', 'https://rust-async-2.tokio.rs/article', 'https://rust-async-3.docs.rs/article', 'https://rust-async-4.tokio.rs/article'],
    );
    assert.ok(!body.web.results[0].description.includes('<strong>'));
    assert.equal(body.web.results[0].extra_snippets?.length, 3);
    assert.equal(body.web.results[0].page_age, '2025-12-31T00:00:00');
    assert.deepEqual(braveOperators('a b -site:x.com site:y.org'), { text: 'a b', sites: ['y.org'], blocked: ['x.com'] });
  });

  test('scripted results are filtered by the query\'s sites', async () => {
    fake.script({ kind: 'results', results: [ { title: 'A', url: 'https://a.example.org/1', description: 'a' }, { title: 'B', url: 'https://b.spam.rs/1', description: 'b' } ] });
    const body = (await (await search({ q: 'x -site:spam.rs' })).json()) as { web: { results: Array<{ url: string; page_age?: string }> } };
    assert.deepEqual(body.web.results.map((r) => r.url), ['https://a.example.org/1']);
    assert.equal(body.web.results[0].page_age, undefined);
  });

  test('errors: a missing or wrong key, bad parameters, and scripted ones in Brave\'s ErrorResponse shape', async () => {
    for (const key of [null, 'nope']) {
      const res = await search({ q: 'x' }, key);
      assert.equal(res.status, 401);
      const e = (await res.json()) as { type: string; error: { status: number; code: string; detail: string } };
      assert.equal(e.type, 'ErrorResponse');
      assert.equal(e.error.code, 'SUBSCRIPTION_TOKEN_INVALID');
    }
    for (const params of [{ q: '' }, { q: 'x', count: '21' }, { q: 'x', country: 'USA' }, { q: 'x', freshness: 'yesterday' }, { q: 'x', safesearch: 'none' }, { q: 'x', extra_snippets: 'yes' }] as Record<string, string>[]) {
      const res = await search(params);
      assert.equal(res.status, 422, JSON.stringify(params));
      const e = (await res.json()) as { error: { code: string; meta: { errors: unknown[] } } };
      assert.equal(e.error.code, 'VALIDATION');
      assert.ok(e.error.meta.errors.length);
    }
    fake.script({ kind: 'error', status: 429, retryAfter: 1 });
    const limited = await search({ q: 'x' });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    const e = (await limited.json()) as { error: { id: string; status: number; code: string; detail: string } };
    assert.deepEqual([e.error.status, e.error.code], [429, 'RATE_LIMITED']);
    assert.match(e.error.id, /^[0-9a-f-]{36}$/);
    assert.ok(e.error.detail);
    const post = await fetch(`${fake.url}/res/v1/web/search`, { method: 'POST', headers: { 'x-subscription-token': BRAVE_TEST_KEY } });
    assert.equal(post.status, 405);
    await post.body?.cancel();
  });
});
