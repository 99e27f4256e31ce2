// A fake Perplexity Search API (POST /search): the key as `Authorization: Bearer <key>` (what the official
// @perplexity-ai/perplexity_ai SDK sends), the request body of its `client.search.create()`
// (ApiSearchRequestInput: query — a string or up to 5 strings —, max_results, max_tokens, max_tokens_per_page,
// search_domain_filter with `-domain` deny entries, search_language_filter, search_recency_filter,
// search_after/before_date_filter and last_updated_after/before_filter in `%m/%d/%Y`, country, search_mode,
// search_context_size, search_type, display_server_time), and the response ApiSearchResponseOutput
// {id, results: [{title, url, snippet, date?, last_updated?}], server_time?}. A multi-query request gets one
// flat `results` list: each query's results in turn, in query order.
//
// Errors are Perplexity's OpenAI-style body `{"error": {"message", "type", "code": <status>}}`. Observed shapes:
// a wrong key gives `{"error":{"message":"Invalid API key provided. You can find your API key at
// https://www.perplexity.ai/settings/api.","type":"invalid_api_key","code":401}}` (quoted in
// openclaw/openclaw#36182), and a bad body `{"error":{"message":"[\"At body -> max_tokens: Input should be
// greater than 0\"]","type":"bad_request","code":400}}` (quoted in sgaunet/perplexity-go#39), so 400 messages
// use that pydantic `At body -> field: …` wording. The `type` of 403/429/5xx is not documented anywhere we
// found; the values below (permission_denied, rate_limit_exceeded, …) are OpenAI-style guesses. Unknown body
// fields are refused with a 400 (pydantic's "Extra inputs are not permitted"), which keeps a misspelt filter
// (e.g. `search_recency` for `search_recency_filter`) from passing silently; the real API may ignore them.
//
// Default results are derived from the query, so a test can assert that the search reached the engine:
// result i (1-based) for query q is https://<slug-of-q>-<i>.example.com/page, its title and snippet contain q.
// test/fakes/perplexity.sdk.test.ts checks it against the official SDK.

import { querySlug } from './exa.ts';
import { handleTransport, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';

export const PERPLEXITY_TEST_KEY = ['pplx', 'test', 'key'].join('-');

/** A result as a test scripts it; the fake still applies the domain filter, max_results and the snippet cut. */
export interface PerplexityResultSpec {
  title: string;
  url: string;
  snippet: string;
  /** `YYYY-MM-DD`; `null` sends null, missing leaves the field out. */
  date?: string | null;
  last_updated?: string | null;
}

export type PerplexityErrorStatus = 400 | 401 | 403 | 429 | 500 | 503;

export type PerplexityScenario = (
  /** Search results: the scripted ones, or (default) max_results (default 10) derived from each query. */
  | { kind: 'results'; results?: PerplexityResultSpec[] }
  /** A Perplexity error body `{"error":{message,type,code}}`; message and type default per status. */
  | ({ kind: 'error'; status: PerplexityErrorStatus; message?: string; type?: string } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakePerplexityOptions {
  /** The accepted key (default PERPLEXITY_TEST_KEY); `null` accepts any non-empty key. */
  apiKey?: string | null;
}

export type FakePerplexity = FakeServer<PerplexityScenario>;

const ERRORS: Record<PerplexityErrorStatus, { type: string; message: string }> = {
  400: { type: 'bad_request', message: 'Bad request' },
  401: { type: 'invalid_api_key', message: 'Invalid API key provided. You can find your API key at https://www.perplexity.ai/settings/api.' },
  403: { type: 'permission_denied', message: 'You do not have access to this resource.' },
  429: { type: 'rate_limit_exceeded', message: 'Rate limit exceeded. Please slow down your requests.' },
  500: { type: 'internal_server_error', message: 'Internal server error' },
  503: { type: 'service_unavailable', message: 'Service temporarily unavailable' },
};

const FIELDS = new Set([
  'query',
  'max_results',
  'max_tokens',
  'max_tokens_per_page',
  'search_domain_filter',
  'search_language_filter',
  'search_recency_filter',
  'search_after_date_filter',
  'search_before_date_filter',
  'last_updated_after_filter',
  'last_updated_before_filter',
  'country',
  'search_mode',
  'search_context_size',
  'search_type',
  'display_server_time',
]);
const RECENCY = ['hour', 'day', 'week', 'month', 'year'];
const MODES = ['web', 'academic', 'sec'];
const CONTEXT_SIZES = ['low', 'medium', 'high'];
const SEARCH_TYPES = ['web', 'people'];
const MAX_RESULTS = 20;
const MAX_QUERIES = 5;
const MAX_DOMAINS = 20;
const MAX_LANGUAGES = 10;
/** Characters per token when cutting snippets to max_tokens_per_page / max_tokens. */
export const CHARS_PER_TOKEN = 4;

export function perplexityDefaultTitle(query: string, i: number): string {
  return `${query} - result ${i}`;
}

/** The default snippet of result `i` for `query` (about 600 characters; every sentence names the query). */
export function perplexityDefaultSnippet(query: string, i: number): string {
  const sentences = [`This page explains ${query} in depth.`, `Source ${i} covers the background of ${query}, the latest developments and what experts say about it.`];
  for (let k = 1; k <= 6; k++) sentences.push(`Section ${k} adds more detail on ${query}.`);
  return sentences.join(' ');
}

/** `3/1/2025` or `03/01/2025` → `2025-03-01`; anything else (or an impossible date) → undefined. */
export function parsePerplexityDate(s: string): string | undefined {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  if (!m) return undefined;
  const [mo, d, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined;
  return date.toISOString().slice(0, 10);
}

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
};
const bareDomain = (d: string) => d.toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '').replace(/^www\./, '');
const onDomain = (url: string, domain: string) => {
  const host = hostOf(url);
  const d = bareDomain(domain);
  return host === d || host.endsWith(`.${d}`);
};
const cut = (s: string, max: number) => [...s].slice(0, Math.max(0, max)).join('');
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export async function startFakePerplexity(opts: FakePerplexityOptions = {}): Promise<FakePerplexity> {
  const key = opts.apiKey === undefined ? PERPLEXITY_TEST_KEY : opts.apiKey;
  let n = 0;
  const searchId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  return startFake<PerplexityScenario>({
    basePath: '',
    defaultScenario: { kind: 'results' },
    async handle(ex, next) {
      const error = (status: number, message: string, type: string, headers: Record<string, string> = {}, d?: Delivery) =>
        sendJson(ex, status, { error: { message, type, code: status } }, headers, d);
      const auth = ex.req.headers.authorization;
      const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      if (!given || (key !== null && given !== key)) return error(401, ERRORS[401].message, ERRORS[401].type);
      if (ex.url.pathname !== '/search') return error(404, 'Not Found', 'not_found');
      if (ex.req.method !== 'POST') return error(405, 'Method Not Allowed', 'method_not_allowed');
      // pydantic-style: a list of `At body -> field: problem` lines, JSON-encoded into the message.
      const bad = (...problems: string[]) => error(400, JSON.stringify(problems.map((p) => `At body${p}`)), ERRORS[400].type);
      if (ex.badJson || !isObj(ex.record.body)) return bad(': Input should be a valid dictionary or object to extract fields from');
      const body = ex.record.body;

      const unknown = Object.keys(body).filter((k) => !FIELDS.has(k));
      if (unknown.length) return bad(...unknown.map((k) => ` -> ${k}: Extra inputs are not permitted`));
      if (body.query === undefined) return bad(' -> query: Field required');
      const queries = typeof body.query === 'string' ? [body.query] : isStrArray(body.query) ? body.query : undefined;
      if (!queries) return bad(' -> query: Input should be a valid string or a list of strings');
      if (queries.length === 0) return bad(' -> query: List should have at least 1 item after validation, not 0');
      if (queries.length > MAX_QUERIES) return bad(` -> query: List should have at most ${MAX_QUERIES} items after validation, not ${queries.length}`);
      if (queries.some((q) => q.trim() === '')) return bad(' -> query: String should have at least 1 character');
      for (const [f, min, max] of [['max_results', 1, MAX_RESULTS], ['max_tokens', 1, 1_000_000], ['max_tokens_per_page', 1, 1_000_000]] as const) {
        const v = body[f];
        if (v === undefined) continue;
        if (!isInt(v)) return bad(` -> ${f}: Input should be a valid integer`);
        if (v < min) return bad(` -> ${f}: Input should be greater than or equal to ${min}`);
        if (v > max) return bad(` -> ${f}: Input should be less than or equal to ${max}`);
      }
      for (const f of ['search_domain_filter', 'search_language_filter'] as const) {
        if (body[f] != null && !isStrArray(body[f])) return bad(` -> ${f}: Input should be a valid list of strings`);
      }
      const domains = (body.search_domain_filter as string[] | null | undefined) ?? [];
      if (domains.length > MAX_DOMAINS) return bad(` -> search_domain_filter: List should have at most ${MAX_DOMAINS} items after validation, not ${domains.length}`);
      const deny = domains.filter((d) => d.startsWith('-')).map((d) => d.slice(1));
      const allow = domains.filter((d) => !d.startsWith('-'));
      if ([...allow, ...deny].some((d) => bareDomain(d) === '')) return bad(' -> search_domain_filter: Domain entries must not be empty');
      if (allow.length && deny.length) return bad(' -> search_domain_filter: Value error, cannot mix allowlist and denylist domains (entries prefixed with "-")');
      const langs = (body.search_language_filter as string[] | null | undefined) ?? [];
      if (langs.length > MAX_LANGUAGES) return bad(` -> search_language_filter: List should have at most ${MAX_LANGUAGES} items after validation, not ${langs.length}`);
      const badLang = langs.find((l) => !/^[a-z]{2}$/i.test(l));
      if (badLang !== undefined) return bad(` -> search_language_filter: Value error, invalid ISO 639-1 language code '${badLang}'`);
      for (const [f, allowed] of [['search_recency_filter', RECENCY], ['search_mode', MODES], ['search_context_size', CONTEXT_SIZES], ['search_type', SEARCH_TYPES]] as const) {
        const v = body[f];
        if (v != null && !allowed.includes(v as never)) return bad(` -> ${f}: Input should be ${allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
      }
      if (body.search_context_size === null) return bad(' -> search_context_size: Input should be a valid string');
      const dates: Record<string, string | undefined> = {};
      for (const f of ['search_after_date_filter', 'search_before_date_filter', 'last_updated_after_filter', 'last_updated_before_filter'] as const) {
        const v = body[f];
        if (v == null) continue;
        const iso = typeof v === 'string' ? parsePerplexityDate(v) : undefined;
        if (!iso) return bad(` -> ${f}: Value error, date must be in the format %m/%d/%Y (e.g. 3/1/2025), got ${JSON.stringify(v)}`);
        dates[f] = iso;
      }
      if (body.country != null && (typeof body.country !== 'string' || !/^[a-z]{2}$/i.test(body.country))) {
        return bad(' -> country: Value error, country must be an ISO 3166-1 alpha-2 code');
      }
      if (body.display_server_time !== undefined && typeof body.display_server_time !== 'boolean') return bad(' -> display_server_time: Input should be a valid boolean');

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') return error(s.status, s.message ?? ERRORS[s.status].message, s.type ?? ERRORS[s.status].type, retryHeaders(s), s);
      if (s.kind !== 'results') throw new Error(`unknown Perplexity scenario ${JSON.stringify(s)}`);

      const max = (body.max_results as number | undefined) ?? 10;
      const perPage = ((body.max_tokens_per_page as number | undefined) ?? 1024) * CHARS_PER_TOKEN;
      let budget = body.max_tokens === undefined ? Infinity : (body.max_tokens as number) * CHARS_PER_TOKEN;
      const date = dates.search_before_date_filter ?? dates.search_after_date_filter ?? '2026-01-15';
      const lastUpdated = dates.last_updated_before_filter ?? dates.last_updated_after_filter ?? '2026-01-20';
      const allowHost = allow.length ? bareDomain(allow[0]) : undefined;
      const keep = (r: PerplexityResultSpec) => !deny.some((d) => onDomain(r.url, d)) && (!allow.length || allow.some((d) => onDomain(r.url, d)));
      const picked: PerplexityResultSpec[] = s.results
        ? s.results.filter(keep).slice(0, max * queries.length)
        : queries.flatMap((q) => {
            const slug = querySlug(q);
            return Array.from({ length: max }, (_, k) => ({
              title: perplexityDefaultTitle(q, k + 1),
              url: `https://${slug}-${k + 1}.${allowHost ?? 'example.com'}/page`,
              snippet: perplexityDefaultSnippet(q, k + 1),
              date,
              last_updated: lastUpdated,
            }))
              .filter(keep)
              .slice(0, max);
          });
      const results = picked.map((r) => {
        const snippet = cut(r.snippet, Math.min(perPage, budget));
        budget -= [...snippet].length;
        return {
          title: r.title,
          url: r.url,
          snippet,
          ...(r.date !== undefined ? { date: r.date } : {}),
          ...(r.last_updated !== undefined ? { last_updated: r.last_updated } : {}),
        };
      });
      return sendJson(ex, 200, { id: searchId(), results, ...(body.display_server_time === true ? { server_time: new Date().toISOString() } : {}) }, {}, s);
    },
  });
}
