// A fake Brave Web Search API (`GET /res/v1/web/search`): the `X-Subscription-Token` header, the
// documented query parameters (q, count ≤ 20, offset, country, search_lang, ui_lang, safesearch,
// freshness `pd|pw|pm|py` or `YYYY-MM-DDtoYYYY-MM-DD`, text_decorations, spellcheck, result_filter,
// extra_snippets, …) and the response shape `{type: "search", query: {...}, mixed: {...}, web: {type:
// "search", results: [{title, url, description, age, page_age, extra_snippets?, meta_url, profile, …}]}}`.
// Errors are Brave's `{type: "ErrorResponse", error: {id, status, code, detail, meta}, time}`. The query's
// search operators `site:x`, `-site:x` (and `OR`, parentheses) are honoured for default results, which are
// derived from the rest of the query: result i (1-based) is https://<slug>-<i>.example.com/article (or
// https://<slug>-<i>.<site>/article for an allowed site), its title and description contain the query.
// There is no official Node SDK: test/fakes/brave.test.ts checks it with plain fetch as Brave's docs show.

import { handleTransport, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';
import { querySlug } from './exa.ts';

export const BRAVE_TEST_KEY = ['brave', 'test', 'key'].join('-');

/** A result as a test scripts it. */
export interface BraveResultSpec {
  title: string;
  url: string;
  description: string;
  /** ISO datetime without zone, as Brave sends it (e.g. 2025-03-14T10:00:00). */
  pageAge?: string;
  extraSnippets?: string[];
}

export type BraveErrorStatus = 400 | 401 | 403 | 422 | 429 | 500 | 503;

export type BraveScenario = (
  /** Web results: the scripted ones, or (default) `count` derived from the query (default 20). */
  | { kind: 'results'; results?: BraveResultSpec[] }
  /** A Brave error body; `code` and `detail` default per status (SUBSCRIPTION_TOKEN_INVALID, RATE_LIMITED, …). */
  | ({ kind: 'error'; status: BraveErrorStatus; code?: string; detail?: string } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakeBraveOptions {
  /** The accepted key (default BRAVE_TEST_KEY); `null` accepts any non-empty key. */
  apiKey?: string | null;
}

export type FakeBrave = FakeServer<BraveScenario>;

const MAX_COUNT = 20;
const ERRORS: Record<BraveErrorStatus, { code: string; detail: string }> = {
  400: { code: 'VALIDATION', detail: 'Unable to validate request parameter(s).' },
  401: { code: 'SUBSCRIPTION_TOKEN_INVALID', detail: 'The provided subscription token is invalid.' },
  403: { code: 'OPTION_NOT_IN_PLAN', detail: 'The option is not subscribed in the plan.' },
  422: { code: 'VALIDATION', detail: 'Unable to validate request parameter(s).' },
  429: { code: 'RATE_LIMITED', detail: 'Request rate limit exceeded for plan.' },
  500: { code: 'INTERNAL_ERROR', detail: 'An unexpected error occurred.' },
  503: { code: 'SERVICE_UNAVAILABLE', detail: 'The service is temporarily unavailable.' },
};
const SAFESEARCH = new Set(['off', 'moderate', 'strict']);
const FRESHNESS = /^(pd|pw|pm|py|\d{4}-\d{2}-\d{2}to\d{4}-\d{2}-\d{2})$/;
const BOOL = new Set(['true', 'false', '1', '0']);

/** The search operators of a query: its plain words, the allowed sites (`site:x`) and the blocked ones (`-site:x`). */
export function braveOperators(q: string): { text: string; sites: string[]; blocked: string[] } {
  const sites: string[] = [];
  const blocked: string[] = [];
  const text = q
    .replace(/(^|\s|\()(-?)site:([^\s()]+)/gi, (_m, pre: string, neg: string, d: string) => {
      (neg ? blocked : sites).push(d.toLowerCase());
      return pre;
    })
    .replace(/[()]/g, ' ')
    .replace(/\bOR\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { text, sites, blocked };
}

export const braveDefaultTitle = (query: string, i: number) => `${query} - result ${i}`;
export const braveDefaultDescription = (query: string, i: number) => `Source ${i} explains ${query}: the background, the latest developments and what experts say.`;
export const braveDefaultSnippets = (query: string, i: number) => [1, 2, 3].map((k) => `Snippet ${k} of source ${i} adds more detail on ${query}.`);

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
};
const onDomain = (url: string, d: string) => hostOf(url) === d || hostOf(url).endsWith(`.${d}`);
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const ageOf = (iso: string) => {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return `${MONTHS[m - 1]} ${d}, ${y}`;
};
const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export async function startFakeBrave(opts: FakeBraveOptions = {}): Promise<FakeBrave> {
  const key = opts.apiKey === undefined ? BRAVE_TEST_KEY : opts.apiKey;
  let n = 0;
  return startFake<BraveScenario>({
    basePath: '',
    defaultScenario: { kind: 'results' },
    async handle(ex, next) {
      const error = (status: BraveErrorStatus | 404 | 405, code?: string, detail?: string, headers: Record<string, string> = {}, d?: Delivery, meta?: unknown) => {
        const def = (ERRORS as Record<number, { code: string; detail: string }>)[status] ?? { code: status === 404 ? 'RESOURCE_NOT_FOUND' : 'METHOD_NOT_ALLOWED', detail: 'Not found' };
        return sendJson(
          ex,
          status,
          { type: 'ErrorResponse', error: { id: uuid(++n), status, code: code ?? def.code, detail: detail ?? def.detail, meta: meta ?? { component: 'api' } }, time: Math.floor(Date.now() / 1000) },
          headers,
          d,
        );
      };
      if (ex.url.pathname !== '/res/v1/web/search') return error(404, 'RESOURCE_NOT_FOUND', `Resource ${ex.url.pathname} not found.`);
      if (ex.req.method !== 'GET') return error(405, 'METHOD_NOT_ALLOWED', `Method ${ex.req.method} not allowed.`);
      const token = ex.req.headers['x-subscription-token'];
      if (typeof token !== 'string' || !token || (key !== null && token !== key)) return error(401);
      const p = ex.url.searchParams;
      const invalid = (loc: string, msg: string) => error(422, 'VALIDATION', 'Unable to validate request parameter(s).', {}, undefined, { errors: [{ type: 'value_error', loc: ['query', loc], msg }] });
      const q = p.get('q') ?? '';
      if (!q.trim()) return invalid('q', 'Field required');
      if (q.length > 400 || q.trim().split(/\s+/).length > 50) return invalid('q', 'The query is limited to 400 characters and 50 words');
      const countRaw = p.get('count');
      const count = countRaw === null ? MAX_COUNT : Number(countRaw);
      if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) return invalid('count', `Input should be less than or equal to ${MAX_COUNT}`);
      const offset = p.get('offset');
      if (offset !== null && !/^[0-9]$/.test(offset)) return invalid('offset', 'Input should be between 0 and 9');
      const country = p.get('country');
      if (country !== null && !/^([A-Za-z]{2}|ALL)$/.test(country)) return invalid('country', 'Input should be a 2 character country code or ALL');
      const safesearch = p.get('safesearch');
      if (safesearch !== null && !SAFESEARCH.has(safesearch)) return invalid('safesearch', "Input should be 'off', 'moderate' or 'strict'");
      const freshness = p.get('freshness');
      if (freshness !== null && !FRESHNESS.test(freshness)) return invalid('freshness', 'Input should be pd, pw, pm, py or a range YYYY-MM-DDtoYYYY-MM-DD');
      for (const b of ['text_decorations', 'spellcheck', 'extra_snippets', 'summary'] as const) {
        const v = p.get(b);
        if (v !== null && !BOOL.has(v.toLowerCase())) return invalid(b, 'Input should be a valid boolean');
      }

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') return error(s.status, s.code, s.detail, retryHeaders(s), s);
      if (s.kind !== 'results') throw new Error(`unknown Brave scenario ${JSON.stringify(s)}`);

      const ops = braveOperators(q);
      const text = ops.text || q;
      const slug = querySlug(text);
      const range = freshness?.includes('to') ? freshness.split('to') : undefined;
      const pageAge = `${range ? range[1] : '2026-01-15'}T00:00:00`;
      const specs: BraveResultSpec[] =
        s.results ??
        Array.from({ length: count }, (_, k) => ({
          title: braveDefaultTitle(text, k + 1),
          url: `https://${slug}-${k + 1}.${ops.sites.length ? ops.sites[k % ops.sites.length] : 'example.com'}/article`,
          description: braveDefaultDescription(text, k + 1),
          pageAge,
          extraSnippets: braveDefaultSnippets(text, k + 1),
        }));
      const kept = specs.filter((r) => (!ops.sites.length || ops.sites.some((d) => onDomain(r.url, d))) && !ops.blocked.some((d) => onDomain(r.url, d))).slice(0, count);
      const decorate = !['false', '0'].includes((p.get('text_decorations') ?? 'true').toLowerCase());
      const extra = ['true', '1'].includes((p.get('extra_snippets') ?? 'false').toLowerCase());
      const strong = (t: string) => (decorate ? t.split(text).join(`<strong>${text}</strong>`) : t);
      const results = kept.map((r) => {
        const u = new URL(r.url);
        return {
          title: r.title,
          url: r.url,
          is_source_local: false,
          is_source_both: false,
          description: strong(r.description),
          ...(r.pageAge ? { page_age: r.pageAge, age: ageOf(r.pageAge) } : {}),
          profile: { name: u.hostname, url: r.url, long_name: u.hostname, img: `https://imgs.search.brave.com/${u.hostname}` },
          language: 'en',
          family_friendly: true,
          type: 'search_result',
          subtype: 'generic',
          is_live: false,
          meta_url: { scheme: u.protocol.replace(':', ''), netloc: u.host, hostname: u.hostname, favicon: `https://imgs.search.brave.com/favicon/${u.hostname}`, path: u.pathname === '/' ? '' : `› ${u.pathname.slice(1).split('/').join(' › ')}` },
          ...(extra && r.extraSnippets ? { extra_snippets: r.extraSnippets.map(strong) } : {}),
        };
      });
      return sendJson(
        ex,
        200,
        {
          type: 'search',
          query: { original: q, show_strict_warning: false, is_navigational: false, is_news_breaking: false, spellcheck_off: true, country: (country ?? 'us').toLowerCase(), bad_results: false, should_fallback: false, postal_code: '', city: '', header_country: '', more_results_available: results.length === count, state: '' },
          mixed: { type: 'mixed', main: results.map((_, index) => ({ type: 'web', index, all: false })), top: [], side: [] },
          web: { type: 'search', results, family_friendly: true },
        },
        { 'x-ratelimit-limit': '50, 0', 'x-ratelimit-policy': '50;w=1', 'x-ratelimit-remaining': '49, 0', 'x-ratelimit-reset': '1, 0' },
        s,
      );
    },
  });
}
