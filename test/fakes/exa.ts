// A fake Exa search API (POST /search): the `x-api-key` header (or `Authorization: Bearer`), the request
// body exa-js sends (query, type, numResults, includeDomains/excludeDomains, published/crawl date filters,
// category, includeText/excludeText, userLocation, moderation, and `contents` {text, highlights, summary,
// livecrawl, …}), and the response shape {requestId, resolvedSearchType, results[], costDollars}. Errors are
// Exa's `{requestId, error, tag}` body. Default results are derived from the query, so a test can assert
// that the search reached the prompt: result i (1-based) is https://<slug-of-query>-<i>.example.com/article
// and its title and text contain the query. test/fakes/exa.sdk.test.ts checks it against exa-js.

import { handleTransport, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';

export const EXA_TEST_KEY = ['exa', 'test', 'key'].join('-');

/** A result as a test scripts it; the fake still applies the request's content options to it. */
export interface ExaResultSpec {
  title: string;
  url: string;
  text: string;
  publishedDate?: string;
  author?: string | null;
  score?: number;
}

export type ExaErrorStatus = 400 | 401 | 402 | 403 | 429 | 500 | 503;

export type ExaScenario = (
  /** Search results: the scripted ones, or (default) N derived from the query, N = numResults (default 10). */
  | { kind: 'results'; results?: ExaResultSpec[] }
  /** An Exa error body `{requestId, error, tag}`; `tag` defaults per status (INVALID_REQUEST_BODY, INVALID_API_KEY, …). */
  | ({ kind: 'error'; status: ExaErrorStatus; message?: string; tag?: string } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakeExaOptions {
  /** The accepted key (default EXA_TEST_KEY); `null` accepts any non-empty key. */
  apiKey?: string | null;
}

export type FakeExa = FakeServer<ExaScenario>;

const TYPES = new Set(['keyword', 'neural', 'auto', 'hybrid', 'fast', 'instant', 'deep-lite', 'deep', 'deep-reasoning']);
const CATEGORIES = new Set(['company', 'research paper', 'news', 'pdf', 'github', 'tweet', 'personal site', 'linkedin profile', 'financial report', 'publication', 'people']);
const LIVECRAWL = new Set(['never', 'fallback', 'always', 'auto', 'preferred']);
const MAX_RESULTS = 100;

const ERRORS: Record<ExaErrorStatus, { tag: string; message: string }> = {
  400: { tag: 'INVALID_REQUEST_BODY', message: 'Invalid request body' },
  401: { tag: 'INVALID_API_KEY', message: 'Invalid API key' },
  402: { tag: 'NO_MORE_CREDITS', message: 'You have run out of credits. Please top up your account.' },
  403: { tag: 'ACCESS_DENIED', message: 'Access denied' },
  429: { tag: 'RATE_LIMIT_EXCEEDED', message: 'You have exceeded your rate limit. Please slow down your requests.' },
  500: { tag: 'INTERNAL_ERROR', message: 'Internal server error' },
  503: { tag: 'SERVICE_UNAVAILABLE', message: 'Service temporarily unavailable' },
};

/** `some query` → `some-query` (lower case, runs of other characters as one dash, at most 40 characters). */
export function querySlug(query: string): string {
  return (
    query
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/g, '') || 'query'
  );
}

/** The default full text of result `i` for `query` (about 1,000 characters; every sentence names the query). */
export function exaDefaultText(query: string, i: number): string {
  const sentences = [
    `${exaDefaultTitle(query, i)}.`,
    `This article explains ${query} in depth.`,
    `Source ${i} covers the background of ${query}, the latest developments and what experts say about it.`,
  ];
  for (let k = 1; k <= 8; k++) sentences.push(`Paragraph ${k} adds more detail on ${query}.`);
  return sentences.join(' ');
}

export function exaDefaultTitle(query: string, i: number): string {
  return `${query} - result ${i}`;
}

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
};
const onDomain = (url: string, domain: string) => {
  const host = hostOf(url);
  const d = domain.toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '').replace(/^www\./, '');
  return host === d || host.endsWith(`.${d}`) || host === `www.${d}`;
};
const cut = (s: string, max: number | undefined) => (max === undefined ? s : [...s].slice(0, Math.max(0, max)).join(''));
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startFakeExa(opts: FakeExaOptions = {}): Promise<FakeExa> {
  const key = opts.apiKey === undefined ? EXA_TEST_KEY : opts.apiKey;
  let n = 0;
  const requestId = () => `${(++n).toString(16).padStart(32, '0')}`;
  return startFake<ExaScenario>({
    basePath: '',
    defaultScenario: { kind: 'results' },
    async handle(ex, next) {
      const error = (status: ExaErrorStatus, message?: string, tag?: string, headers: Record<string, string> = {}, d?: Delivery) =>
        sendJson(ex, status, { requestId: requestId(), error: message ?? ERRORS[status].message, tag: tag ?? ERRORS[status].tag }, headers, d);
      const auth = ex.req.headers.authorization;
      const given = (ex.req.headers['x-api-key'] as string | undefined) || (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
      if (!given) return error(401, 'API key must be provided in the x-api-key header or as a Bearer token');
      if (key !== null && given !== key) return error(401);
      if (ex.url.pathname !== '/search') return sendJson(ex, 404, { requestId: requestId(), error: `Cannot ${ex.req.method} ${ex.url.pathname}`, tag: 'NOT_FOUND' });
      if (ex.req.method !== 'POST') return sendJson(ex, 405, { requestId: requestId(), error: `Method ${ex.req.method} not allowed`, tag: 'METHOD_NOT_ALLOWED' });
      if (ex.badJson || !isObj(ex.record.body)) return error(400, 'Invalid request body: expected a JSON object');
      const body = ex.record.body;
      const bad = (message: string, tag?: string) => error(400, `Invalid request body: ${message}`, tag);
      if (typeof body.query !== 'string' || body.query.trim() === '') return bad('query: Required');
      const query = body.query;
      if (body.type !== undefined && !TYPES.has(String(body.type))) return bad(`type: Invalid enum value. Expected ${[...TYPES].map((t) => `'${t}'`).join(' | ')}, received '${String(body.type)}'`);
      if (body.numResults !== undefined && (!Number.isInteger(body.numResults) || (body.numResults as number) < 1 || (body.numResults as number) > MAX_RESULTS)) {
        return bad(`numResults must be an integer between 1 and ${MAX_RESULTS}`, 'INVALID_NUM_RESULTS');
      }
      if (body.category !== undefined && !CATEGORIES.has(String(body.category))) return bad(`category: Invalid enum value '${String(body.category)}'`);
      for (const f of ['includeDomains', 'excludeDomains', 'includeText', 'excludeText', 'additionalQueries'] as const) {
        if (body[f] !== undefined && !isStrArray(body[f])) return bad(`${f}: Expected array of strings`);
      }
      if ((body.includeDomains as string[] | undefined)?.length && (body.excludeDomains as string[] | undefined)?.length) {
        return bad('includeDomains and excludeDomains cannot both be specified', 'INVALID_REQUEST');
      }
      for (const f of ['startPublishedDate', 'endPublishedDate', 'startCrawlDate', 'endCrawlDate'] as const) {
        if (body[f] !== undefined && (typeof body[f] !== 'string' || Number.isNaN(Date.parse(body[f] as string)))) return bad(`${f}: Invalid ISO 8601 date`);
      }
      const contents = body.contents;
      if (contents !== undefined && !isObj(contents)) return bad('contents: Expected object');
      const c = contents ?? {};
      for (const f of ['text', 'highlights', 'summary'] as const) {
        if (c[f] !== undefined && typeof c[f] !== 'boolean' && !isObj(c[f])) return bad(`contents.${f}: Expected boolean or object`);
      }
      if (c.livecrawl !== undefined && !LIVECRAWL.has(String(c.livecrawl))) return bad(`contents.livecrawl: Invalid enum value '${String(c.livecrawl)}'`);
      const textOpt = c.text === true ? {} : isObj(c.text) ? c.text : undefined;
      const hlOpt = c.highlights === true ? {} : isObj(c.highlights) ? c.highlights : undefined;
      const sumOpt = c.summary === true ? {} : isObj(c.summary) ? c.summary : undefined;
      for (const [name, o] of [['text', textOpt], ['highlights', hlOpt]] as const) {
        const m = o?.maxCharacters;
        if (m !== undefined && (!Number.isInteger(m) || (m as number) < 1)) return bad(`contents.${name}.maxCharacters must be a positive integer`);
      }

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') return error(s.status, s.message, s.tag, retryHeaders(s), s);
      if (s.kind !== 'results') throw new Error(`unknown Exa scenario ${JSON.stringify(s)}`);

      const num = (body.numResults as number | undefined) ?? 10;
      const include = (body.includeDomains as string[] | undefined) ?? [];
      const exclude = (body.excludeDomains as string[] | undefined) ?? [];
      const date = (body.endPublishedDate ?? body.startPublishedDate) as string | undefined;
      const publishedDate = new Date(date ?? '2026-01-15T00:00:00.000Z').toISOString();
      const slug = querySlug(query);
      const specs: ExaResultSpec[] =
        s.results ??
        Array.from({ length: num }, (_, k) => ({
          title: exaDefaultTitle(query, k + 1),
          url: include.length ? `https://${include[k % include.length].replace(/^https?:\/\//, '').replace(/\/.*$/, '')}/${slug}-${k + 1}` : `https://${slug}-${k + 1}.example.com/article`,
          text: exaDefaultText(query, k + 1),
        }));
      const kept = specs.filter((r) => !exclude.some((d) => onDomain(r.url, d)) && (!include.length || include.some((d) => onDomain(r.url, d)))).slice(0, num);
      const results = kept.map((r, k) => {
        const out: Record<string, unknown> = {
          id: r.url,
          title: r.title,
          url: r.url,
          publishedDate: r.publishedDate ?? publishedDate,
          author: r.author === undefined ? null : r.author,
          score: r.score ?? Math.round((0.9 - k * 0.01) * 1e4) / 1e4,
        };
        if (textOpt) out.text = cut(r.text, textOpt.maxCharacters as number | undefined);
        if (hlOpt) {
          const sentences = r.text.match(/[^.!?]+[.!?]+/g)?.map((x) => x.trim()) ?? [r.text];
          const per = Number.isInteger(hlOpt.numSentences) ? (hlOpt.numSentences as number) : 1;
          const count = Number.isInteger(hlOpt.highlightsPerUrl) ? (hlOpt.highlightsPerUrl as number) : 1;
          const highlights: string[] = [];
          for (let h = 0; h < count && h * per < sentences.length; h++) {
            highlights.push(cut(sentences.slice(h * per, (h + 1) * per).join(' '), hlOpt.maxCharacters as number | undefined));
          }
          out.highlights = highlights;
          out.highlightScores = highlights.map((_, h) => Math.round((0.8 - h * 0.05) * 1e4) / 1e4);
        }
        if (sumOpt) {
          const about = typeof sumOpt.query === 'string' ? sumOpt.query : query;
          const props = isObj(sumOpt.schema) && isObj(sumOpt.schema.properties) ? Object.keys(sumOpt.schema.properties) : undefined;
          out.summary = props ? JSON.stringify(Object.fromEntries(props.map((p) => [p, `${p} of ${r.title}`]))) : `Summary of ${r.title}: ${about}.`;
        }
        return out;
      });
      const type = String(body.type ?? 'auto');
      const resolvedSearchType = type === 'keyword' ? 'keyword' : type === 'fast' || type === 'instant' || type.startsWith('deep') ? type : 'neural';
      const per = (x: unknown) => (x ? Math.round(results.length * 0.001 * 1e6) / 1e6 : 0);
      const contentsCost = { ...(textOpt ? { text: per(textOpt) } : {}), ...(hlOpt ? { highlights: per(hlOpt) } : {}), ...(sumOpt ? { summary: per(sumOpt) } : {}) };
      const searchCost = results.length > 25 ? 0.025 : 0.005;
      const total = Math.round((searchCost + Object.values(contentsCost).reduce((a, b) => a + b, 0)) * 1e6) / 1e6;
      return sendJson(
        ex,
        200,
        {
          requestId: requestId(),
          resolvedSearchType,
          results,
          costDollars: { total, search: { [resolvedSearchType === 'keyword' ? 'keyword' : 'neural']: searchCost }, ...(Object.keys(contentsCost).length ? { contents: contentsCost } : {}) },
        },
        {},
        s,
      );
    },
  });
}
