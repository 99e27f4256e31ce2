// Checks the fake SearXNG search API against SearXNG's documented usage (no official Node SDK): a
// plain `fetch` GET of `/search?q=…&format=json` (and the form POST), the parameters it validates
// (time_range, pageno, safesearch, format), the JSON answer's fields (url, title, content,
// publishedDate, engine, score), `site:` operators, disabled formats and an authenticating proxy.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startFakeSearxng, type FakeSearxng } from './searxng.ts';

describe('fake SearXNG over plain fetch', () => {
  let fake: FakeSearxng;
  before(async () => {
    fake = await startFakeSearxng();
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  const search = (params: Record<string, string>, init: RequestInit = {}) => fetch(`${fake.url}/search?${new URLSearchParams(params)}`, init);

  test('a JSON search: ten results derived from the query, SearXNG\'s fields', async () => {
    const res = await search({ q: 'solid state batteries', format: 'json' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { query: string; number_of_results: number; results: Array<Record<string, unknown>>; unresponsive_engines: unknown[]; answers: unknown[] };
    assert.equal(body.query, 'solid state batteries');
    assert.equal(typeof body.number_of_results, 'number');
    assert.equal(body.results.length, 10);
    const [a, b] = body.results;
    assert.equal(a.url, 'https://solid-state-batteries-1.example.com/article');
    assert.match(String(a.title), /solid state batteries/);
    assert.match(String(a.content), /solid state batteries/);
    assert.equal(a.publishedDate, '2026-01-15T00:00:00');
    assert.equal(b.publishedDate, null);
    assert.equal(typeof a.engine, 'string');
    assert.ok(Array.isArray(a.engines) && Array.isArray(a.positions) && Array.isArray(a.parsed_url));
    assert.ok((a.score as number) > (b.score as number));
    assert.deepEqual(body.unresponsive_engines, []);
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path, req.query.format], ['GET', '/search', 'json']);
  });

  test('site: operators, the second page, a time range, and the form POST', async () => {
    const res = await search({ q: 'rust async site:docs.rs', format: 'json', pageno: '2', time_range: 'month' });
    const body = (await res.json()) as { results: Array<{ url: string }> };
    assert.equal(body.results[0].url, 'https://rust-async-11.docs.rs/article');
    assert.ok(body.results.every((r) => new URL(r.url).hostname.endsWith('.docs.rs')));
    const blocked = (await (await search({ q: 'rust -site:example.com', format: 'json' })).json()) as { results: unknown[] };
    assert.equal(blocked.results.length, 0, 'every default result is on example.com');
    const posted = await fetch(`${fake.url}/search`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ q: 'posted', format: 'json' }) });
    assert.equal(((await posted.json()) as { query: string }).query, 'posted');
  });

  test('errors: bad parameters, a disabled format, scripted limiter and server errors, an authenticating proxy', async () => {
    for (const params of [{ q: '', format: 'json' }, { q: 'x', format: 'json', time_range: 'decade' }, { q: 'x', format: 'json', pageno: '0' }, { q: 'x', format: 'json', safesearch: '5' }] as Record<string, string>[]) {
      const res = await search(params);
      assert.equal(res.status, 400, JSON.stringify(params));
      await res.body?.cancel();
    }
    const html = await search({ q: 'x' });
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    await html.body?.cancel();
    fake.script([{ kind: 'error', status: 429 }, { kind: 'error', status: 502 }]);
    const limited = await search({ q: 'x', format: 'json' });
    assert.equal(limited.status, 429);
    assert.equal(await limited.text(), 'Too Many Requests');
    assert.equal((await search({ q: 'x', format: 'json' })).status, 502);

    const noJson = await startFakeSearxng({ formats: ['html'] });
    const proxied = await startFakeSearxng({ requireBearer: 'proxy-secret' });
    try {
      const r1 = await fetch(`${noJson.url}/search?q=x&format=json`);
      assert.equal(r1.status, 403);
      await r1.body?.cancel();
      const r2 = await fetch(`${proxied.url}/search?q=x&format=json`);
      assert.equal(r2.status, 401);
      await r2.body?.cancel();
      const r3 = await fetch(`${proxied.url}/search?q=x&format=json`, { headers: { authorization: 'Bearer proxy-secret' } });
      assert.equal(r3.status, 200);
      await r3.body?.cancel();
    } finally {
      await Promise.all([noJson.close(), proxied.close()]);
    }
  });
});
