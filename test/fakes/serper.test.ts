// Checks the fake Serper Google Search API against Serper's documented usage (there is no official Node
// SDK): a plain `fetch` POST of `/search` with the key in `X-API-KEY` and a JSON body `{q, num, gl, tbs}`,
// as the docs' examples do; the answer's shape (organic with title, link, snippet, date, position),
// Google's operators, the parameters it validates, and Serper's `{message, statusCode}` errors.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SERPER_TEST_KEY, serperDefaultSnippet, startFakeSerper, type FakeSerper } from './serper.ts';

interface Organic {
  title: string;
  link: string;
  snippet: string;
  date?: string;
  position: number;
}

describe('fake Serper Google Search API over plain fetch', () => {
  let fake: FakeSerper;
  before(async () => {
    fake = await startFakeSerper();
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  const search = (body: unknown, key: string | null = SERPER_TEST_KEY) =>
    fetch(`${fake.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  test('a search: organic results derived from the query, num honoured, credits reported', async () => {
    const res = await search({ q: 'solid state batteries', num: 3, gl: 'us' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { searchParameters: Record<string, unknown>; organic: Organic[]; peopleAlsoAsk: unknown[]; credits: number };
    assert.deepEqual(body.searchParameters, { q: 'solid state batteries', gl: 'us', type: 'search', num: 3, engine: 'google' });
    assert.equal(body.organic.length, 3);
    assert.deepEqual(body.organic[0], {
      title: 'solid state batteries - result 1',
      link: 'https://solid-state-batteries-1.example.com/article',
      snippet: serperDefaultSnippet('solid state batteries', 1),
      date: 'Jan 15, 2026',
      position: 1,
    });
    assert.deepEqual(body.organic.map((o) => o.position), [1, 2, 3]);
    assert.ok(body.peopleAlsoAsk.length);
    assert.equal(body.credits, 1);
    const [req] = fake.requests;
    assert.deepEqual([req.method, req.path], ['POST', '/search']);
    assert.equal(req.headers['x-api-key'], SERPER_TEST_KEY);
    assert.deepEqual(req.body, { q: 'solid state batteries', num: 3, gl: 'us' });
    const ten = (await (await search({ q: 'x' })).json()) as { organic: Organic[] };
    assert.equal(ten.organic.length, 10, 'num defaults to 10');
  });

  test('site: operators, and a custom date range dating the results on its last day', async () => {
    const res = await search({ q: 'rust async (site:docs.rs OR site:tokio.rs) -site:spam.rs', num: 4, tbs: 'cdr:1,cd_min:3/1/2025,cd_max:12/31/2025' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { organic: Organic[] };
    assert.deepEqual(
      body.organic.map((r) => r.link),
      ['https://rust-async-1.docs.rs/article', 'https://rust-async-2.tokio.rs/article', 'https://rust-async-3.docs.rs/article', 'https://rust-async-4.tokio.rs/article'],
    );
    assert.equal(body.organic[0].date, 'Dec 31, 2025');
    assert.equal((await search({ q: 'x', tbs: 'qdr:w' })).status, 200);
  });

  test("scripted results are filtered by the query's sites; credits as scripted", async () => {
    fake.script({ kind: 'results', credits: 2, results: [ { title: 'A', link: 'https://a.example.org/1', snippet: 'a', date: '3 days ago' }, { title: 'B', link: 'https://b.spam.rs/1', snippet: 'b' } ] });
    const body = (await (await search({ q: 'x -site:spam.rs', num: 20 })).json()) as { organic: Organic[]; credits: number };
    assert.deepEqual(body.organic.map((r) => [r.link, r.date]), [['https://a.example.org/1', '3 days ago']]);
    assert.equal(body.credits, 2);
  });

  test("errors: a missing or wrong key, bad parameters, and scripted ones in Serper's {message, statusCode} shape", async () => {
    for (const key of [null, 'nope']) {
      const res = await search({ q: 'x' }, key);
      assert.equal(res.status, 403);
      assert.deepEqual(await res.json(), { message: 'Unauthorized.', statusCode: 403 });
    }
    for (const body of [{ q: '' }, { num: 5 }, { q: 'x', num: 0 }, { q: 'x', num: 101 }, { q: 'x', num: '10' }, { q: 'x', gl: 'US' }, { q: 'x', tbs: 'past week' }, { q: 'x', tbs: 'cdr:1,cd_min:2025-03-01' }, '{not json'] as unknown[]) {
      const res = await search(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const e = (await res.json()) as { message: string; statusCode: number };
      assert.equal(e.statusCode, 400);
      assert.ok(e.message);
    }
    fake.script({ kind: 'error', status: 429, retryAfter: 1 });
    const limited = await search({ q: 'x' });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.deepEqual(await limited.json(), { message: 'Too many requests.', statusCode: 429 });
    fake.script({ kind: 'error', status: 400, message: 'Not enough credits' });
    assert.deepEqual(await (await search({ q: 'x' })).json(), { message: 'Not enough credits', statusCode: 400 });
    const get = await fetch(`${fake.url}/search?q=x`, { headers: { 'x-api-key': SERPER_TEST_KEY } });
    assert.equal(get.status, 405);
    await get.body?.cancel();
    const other = await fetch(`${fake.url}/news`, { method: 'POST', headers: { 'x-api-key': SERPER_TEST_KEY } });
    assert.equal(other.status, 404);
    await other.body?.cancel();
    assert.equal(fake.requests.length, 15, 'rejected requests are recorded too');
  });
});
