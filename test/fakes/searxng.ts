// A fake SearXNG instance's search API (`GET /search?q=…&format=json`, also a form POST to /search):
// the documented parameters (q, categories, engines, language, pageno, time_range day|month|year — `week`
// is accepted too, as SearXNG's code does —, format, safesearch 0|1|2), and the JSON answer `{query,
// number_of_results, results: [{url, title, content, publishedDate, engine, engines, positions, score,
// category, parsed_url, template}], answers, corrections, infoboxes, suggestions, unresponsive_engines}`.
// SearXNG has no key: `requireBearer` plays an authenticating proxy in front of it. Formats not enabled
// in its settings (json is off by default in a fresh instance) are a 403 HTML page, as SearXNG answers.
// Its engines honour `site:` and `-site:` in the query: default results are derived from the rest of the
// query, result i (1-based) is https://<slug>-<i>.example.com/article (or …<slug>-<i>.<site>/article for
// an allowed site); ten a page. There is no official Node SDK: test/fakes/searxng.test.ts checks it
// with plain fetch as SearXNG's docs show.

import { handleTransport, sendJson, startFake, deliver, retryHeaders } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';
import { braveOperators } from './brave.ts';
import { querySlug } from './exa.ts';

/** A result as a test scripts it. */
export interface SearxngResultSpec {
  title: string;
  url: string;
  content: string;
  /** ISO datetime, or null (SearXNG sends null when the engine gave no date). */
  publishedDate?: string | null;
  engine?: string;
  score?: number;
}

export type SearxngScenario = (
  /** Results: the scripted ones, or (default) ten derived from the query. */
  | { kind: 'results'; results?: SearxngResultSpec[]; unresponsive?: Array<[engine: string, reason: string]> }
  /** An error page (SearXNG answers errors in HTML or plain text): 429 from its limiter, 500, 502, 503. */
  | ({ kind: 'error'; status: 400 | 403 | 429 | 500 | 502 | 503; body?: string } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakeSearxngOptions {
  /** The formats the instance has enabled (`search.formats`); default html and json. */
  formats?: string[];
  /** A proxy in front that wants `Authorization: Bearer <this>`; default none. */
  requireBearer?: string;
}

export type FakeSearxng = FakeServer<SearxngScenario>;

const TIME_RANGES = new Set(['day', 'week', 'month', 'year']);
const PAGE = 10;
const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' };

export const searxngDefaultTitle = (query: string, i: number) => `${query} - result ${i}`;
export const searxngDefaultContent = (query: string, i: number) => `Source ${i} explains ${query}: the background, the latest developments and what experts say about ${query}.`;

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
};
const onDomain = (url: string, d: string) => hostOf(url) === d || hostOf(url).endsWith(`.${d}`);

export async function startFakeSearxng(opts: FakeSearxngOptions = {}): Promise<FakeSearxng> {
  const formats = opts.formats ?? ['html', 'json'];
  return startFake<SearxngScenario>({
    basePath: '',
    defaultScenario: { kind: 'results' },
    async handle(ex, next) {
      const page = (status: number, body?: string, headers: Record<string, string> = {}, d?: Delivery) =>
        deliver(ex, { status, headers: { 'content-type': 'text/html; charset=utf-8', ...headers }, units: [body ?? `<!doctype html><title>${status} ${REASONS[status] ?? ''}</title><h1>${REASONS[status] ?? status}</h1>`], stream: false }, d);
      if (opts.requireBearer !== undefined && ex.req.headers.authorization !== `Bearer ${opts.requireBearer}`) return page(401, '401 Unauthorized');
      if (ex.url.pathname !== '/search') return page(404);
      if (ex.req.method !== 'GET' && ex.req.method !== 'POST') return page(405);
      const p = ex.req.method === 'POST' ? new URLSearchParams(ex.record.rawBody) : ex.url.searchParams;
      const format = p.get('format') ?? 'html';
      if (!formats.includes(format)) return page(403);
      const q = p.get('q') ?? '';
      if (!q.trim()) return page(400);
      const tr = p.get('time_range');
      if (tr !== null && tr !== '' && !TIME_RANGES.has(tr)) return page(400);
      const pageno = Number(p.get('pageno') ?? '1');
      if (!Number.isInteger(pageno) || pageno < 1) return page(400);
      const safesearch = p.get('safesearch');
      if (safesearch !== null && !['0', '1', '2'].includes(safesearch)) return page(400);

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') return deliver(ex, { status: s.status, headers: { 'content-type': 'text/plain; charset=utf-8', ...retryHeaders(s) }, units: [s.body ?? REASONS[s.status]], stream: false }, s);
      if (s.kind !== 'results') throw new Error(`unknown SearXNG scenario ${JSON.stringify(s)}`);
      if (format !== 'json') return page(200, `<!doctype html><title>${q} - SearXNG</title>`);

      const ops = braveOperators(q);
      const text = ops.text || q;
      const slug = querySlug(text);
      const specs: SearxngResultSpec[] =
        s.results ??
        Array.from({ length: PAGE }, (_, k) => ({
          title: searxngDefaultTitle(text, (pageno - 1) * PAGE + k + 1),
          url: `https://${slug}-${(pageno - 1) * PAGE + k + 1}.${ops.sites.length ? ops.sites[k % ops.sites.length] : 'example.com'}/article`,
          content: searxngDefaultContent(text, (pageno - 1) * PAGE + k + 1),
          publishedDate: k % 2 === 0 ? '2026-01-15T00:00:00' : null,
        }));
      const kept = specs.filter((r) => (!ops.sites.length || ops.sites.some((d) => onDomain(r.url, d))) && !ops.blocked.some((d) => onDomain(r.url, d)));
      const results = kept.map((r, k) => {
        const u = new URL(r.url);
        const engine = r.engine ?? (k % 2 === 0 ? 'duckduckgo' : 'brave');
        return {
          url: r.url,
          title: r.title,
          content: r.content,
          publishedDate: r.publishedDate ?? null,
          thumbnail: '',
          engine,
          template: 'default.html',
          parsed_url: [u.protocol.replace(':', ''), u.host, u.pathname, '', u.search.replace(/^\?/, ''), ''],
          img_src: '',
          priority: '',
          engines: [engine],
          positions: [k + 1],
          score: r.score ?? Math.round((1 / (k + 1)) * 1e4) / 1e4,
          category: 'general',
        };
      });
      return sendJson(
        ex,
        200,
        { query: q, number_of_results: 0, results, answers: [], corrections: [], infoboxes: [], suggestions: [], unresponsive_engines: s.unresponsive ?? [] },
        {},
        s,
      );
    },
  });
}
