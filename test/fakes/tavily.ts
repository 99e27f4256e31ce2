// A fake Tavily search API (POST /search): the key as `Authorization: Bearer tvly-…` (what @tavily/core sends)
// or, as older clients did, `api_key` in the body; the request body @tavily/core builds (query, search_depth,
// topic, days, time_range, start_date/end_date, max_results, include_answer, include_raw_content,
// include_images(+_descriptions), include_domains/exclude_domains, chunks_per_source, include_favicon,
// include_usage, country, auto_parameters, exact_match, …) and the response {query, follow_up_questions, answer,
// images, results: [{url, title, content, score, raw_content, published_date?, favicon?}], response_time,
// request_id, usage?}. Errors are Tavily's FastAPI-style `{"detail": {"error": "…"}}`, which the SDK turns into
// an Error carrying that message. Default results are derived from the query: result i (1-based) is
// https://<slug-of-query>-<i>.example.com/article, and its title and content contain the query.
// test/fakes/tavily.sdk.test.ts checks it against @tavily/core.

import { querySlug } from './exa.ts';
import { handleTransport, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';

export const TAVILY_TEST_KEY = ['tvly', 'test', 'key'].join('-');

/** A result as a test scripts it: `text` becomes both `content` (the snippet) and `raw_content` (when asked for). */
export interface TavilyResultSpec {
  title: string;
  url: string;
  text: string;
  score?: number;
  publishedDate?: string;
}

export type TavilyErrorStatus = 400 | 401 | 403 | 429 | 432 | 433 | 500;

export type TavilyScenario = (
  /** Search results: the scripted ones, or (default) N derived from the query, N = max_results (default 5). */
  | { kind: 'results'; results?: TavilyResultSpec[]; answer?: string }
  /** A Tavily error body `{"detail":{"error":message}}` (message defaults per status). */
  | ({ kind: 'error'; status: TavilyErrorStatus; message?: string } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakeTavilyOptions {
  /** The accepted key (default TAVILY_TEST_KEY); `null` accepts any non-empty key. */
  apiKey?: string | null;
}

export type FakeTavily = FakeServer<TavilyScenario>;

const MESSAGES: Record<TavilyErrorStatus, string> = {
  400: 'Invalid request.',
  401: 'Unauthorized: missing or invalid API key.',
  403: 'This endpoint is not available on your plan.',
  429: 'Your request has been blocked due to excessive requests. Please reduce rate of requests.',
  432: "This request exceeds your plan's set usage limit. Please upgrade your plan or contact support@tavily.com",
  433: 'This request exceeds the pay-as-you-go limit. You can increase your limit on the Tavily dashboard.',
  500: 'Internal Server Error',
};

const DEPTHS = new Set(['basic', 'advanced', 'fast', 'ultra-fast']);
const TOPICS = new Set(['general', 'news', 'finance']);
const TIME_RANGES = new Set(['year', 'month', 'week', 'day', 'y', 'm', 'w', 'd']);
const MAX_RESULTS = 20;

export function tavilyDefaultTitle(query: string, i: number): string {
  return `${query} - result ${i}`;
}

/** The default page text of result `i` (its first two sentences are the `content` snippet). */
export function tavilyDefaultText(query: string, i: number): string {
  const sentences = [`This article explains ${query} in depth.`, `Source ${i} covers the background of ${query}, the latest developments and what experts say about it.`];
  for (let k = 1; k <= 8; k++) sentences.push(`Paragraph ${k} adds more detail on ${query}.`);
  return sentences.join(' ');
}

const snippet = (text: string) => (text.match(/[^.!?]+[.!?]+/g) ?? [text]).slice(0, 2).join('').trim();
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
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startFakeTavily(opts: FakeTavilyOptions = {}): Promise<FakeTavily> {
  const key = opts.apiKey === undefined ? TAVILY_TEST_KEY : opts.apiKey;
  let n = 0;
  const requestId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
  return startFake<TavilyScenario>({
    basePath: '',
    defaultScenario: { kind: 'results' },
    async handle(ex, next) {
      const error = (status: number, message: string, headers: Record<string, string> = {}, d?: Delivery) => sendJson(ex, status, { detail: { error: message } }, headers, d);
      const body = isObj(ex.record.body) ? ex.record.body : undefined;
      const auth = ex.req.headers.authorization;
      const given = (auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined) || (typeof body?.api_key === 'string' ? body.api_key : undefined);
      if (!given || (key !== null && given !== key)) return error(401, MESSAGES[401]);
      if (ex.url.pathname !== '/search') return sendJson(ex, 404, { detail: 'Not Found' });
      if (ex.req.method !== 'POST') return sendJson(ex, 405, { detail: 'Method Not Allowed' });
      if (ex.badJson || !body) return error(400, 'Invalid JSON body.');
      if (typeof body.query !== 'string' || body.query.trim() === '') return error(400, 'Query is missing.');
      const query = body.query;
      const depth = String(body.search_depth ?? 'basic');
      if (!DEPTHS.has(depth)) return error(400, `Invalid search depth. Must be one of ${[...DEPTHS].map((d) => `'${d}'`).join(', ')}.`);
      const topic = String(body.topic ?? 'general');
      if (!TOPICS.has(topic)) return error(400, "Invalid topic. Must be 'general', 'news' or 'finance'.");
      const max = body.max_results ?? 5;
      if (!Number.isInteger(max) || (max as number) < 0 || (max as number) > MAX_RESULTS) return error(400, `max_results must be between 0 and ${MAX_RESULTS}.`);
      if (body.time_range != null && !TIME_RANGES.has(String(body.time_range))) return error(400, "Invalid time range. Must be one of 'day', 'week', 'month', 'year' (or 'd', 'w', 'm', 'y').");
      if (body.chunks_per_source != null && (!Number.isInteger(body.chunks_per_source) || (body.chunks_per_source as number) < 1 || (body.chunks_per_source as number) > 3)) {
        return error(400, 'chunks_per_source must be between 1 and 3.');
      }
      for (const f of ['include_domains', 'exclude_domains'] as const) {
        if (body[f] != null && !isStrArray(body[f])) return error(400, `${f} must be a list of strings.`);
      }
      const ans = body.include_answer ?? false;
      if (![true, false, 'basic', 'advanced'].includes(ans as never)) return error(400, "include_answer must be a boolean or one of 'basic', 'advanced'.");
      const raw = body.include_raw_content ?? false;
      if (![true, false, 'markdown', 'text'].includes(raw as never)) return error(400, "include_raw_content must be a boolean or one of 'markdown', 'text'.");

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') return error(s.status, s.message ?? MESSAGES[s.status], retryHeaders(s), s);
      if (s.kind !== 'results') throw new Error(`unknown Tavily scenario ${JSON.stringify(s)}`);

      const include = (body.include_domains as string[] | null | undefined) ?? [];
      const exclude = (body.exclude_domains as string[] | null | undefined) ?? [];
      const slug = querySlug(query);
      const specs: TavilyResultSpec[] =
        s.results ??
        Array.from({ length: max as number }, (_, k) => ({
          title: tavilyDefaultTitle(query, k + 1),
          url: include.length ? `https://${bareDomain(include[k % include.length])}/${slug}-${k + 1}` : `https://${slug}-${k + 1}.example.com/article`,
          text: tavilyDefaultText(query, k + 1),
        }));
      const kept = specs.filter((r) => !exclude.some((d) => onDomain(r.url, d)) && (!include.length || include.some((d) => onDomain(r.url, d)))).slice(0, max as number);
      const news = topic === 'news';
      const rawMarkdown = raw === true || raw === 'markdown';
      const results = kept.map((r, k) => ({
        url: r.url,
        title: r.title,
        content: snippet(r.text),
        score: r.score ?? Math.round((0.9 - k * 0.01) * 1e4) / 1e4,
        raw_content: raw ? (rawMarkdown ? `# ${r.title}\n\n${r.text}` : r.text) : null,
        ...(news ? { published_date: new Date(r.publishedDate ?? 'Thu, 15 Jan 2026 00:00:00 GMT').toUTCString() } : {}),
        ...(body.include_favicon === true ? { favicon: `https://${hostOf(r.url)}/favicon.ico` } : {}),
      }));
      const answer = ans ? (s.answer ?? `Based on ${results.length} sources: ${query}.`) : null;
      const images = body.include_images === true ? results.map((r) => (body.include_image_descriptions === true ? { url: `https://${hostOf(r.url)}/image.png`, description: `An image about ${query}` } : `https://${hostOf(r.url)}/image.png`)) : [];
      const credits = depth === 'advanced' ? 2 : 1;
      return sendJson(
        ex,
        200,
        {
          query,
          follow_up_questions: null,
          answer,
          images,
          results,
          response_time: 0.42,
          ...(body.auto_parameters === true ? { auto_parameters: { topic, search_depth: depth } } : {}),
          ...(body.include_usage === true ? { usage: { credits } } : {}),
          request_id: requestId(),
        },
        {},
        s,
      );
    },
  });
}
