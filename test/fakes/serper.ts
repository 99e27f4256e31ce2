// A fake Serper Google Search API (`POST https://google.serper.dev/search`): the key in `X-API-KEY`,
// a JSON body `{q, num, gl, hl, tbs, page, location, autocorrect}` (num 1–100, default 10; gl a
// two-letter country code, lower case; tbs Google's `qdr:h|d|w|m|y` or a custom range
// `cdr:1,cd_min:M/D/YYYY,cd_max:M/D/YYYY`) and the answer `{searchParameters, organic: [{title, link,
// snippet, date?, position, sitelinks?}], peopleAlsoAsk, relatedSearches, credits}`. Errors are Serper's
// `{message, statusCode}`. The query's Google operators `site:x`, `-site:x` (and `OR`, parentheses) are
// honoured for default results, which are derived from the rest of the query: result i (1-based) is
// https://<slug>-<i>.example.com/article (or https://<slug>-<i>.<site>/article for an allowed site), its
// title and snippet contain the query, dated "Jan 15, 2026" (or the custom range's last day).
// There is no official Node SDK: test/fakes/serper.test.ts checks it with plain fetch as Serper's docs show.

import { braveOperators } from './brave.ts';
import { handleTransport, retryHeaders, sendJson, startFake } from './common.ts';
import type { Delivery, FakeServer, RetryHints, TransportScenario } from './common.ts';
import { querySlug } from './exa.ts';

export const SERPER_TEST_KEY = ['serper', 'test', 'key'].join('-');

/** A result as a test scripts it. */
export interface SerperResultSpec {
  title: string;
  link: string;
  snippet: string;
  /** As Google shows it: "Jan 5, 2025", "3 days ago", … */
  date?: string;
  sitelinks?: { title: string; link: string }[];
}

export type SerperErrorStatus = 400 | 401 | 403 | 429 | 500 | 503;

export type SerperScenario = (
  /** Organic results: the scripted ones, or (default) `num` derived from the query; `credits` (default 1) as Serper reports them. */
  | { kind: 'results'; results?: SerperResultSpec[]; credits?: number }
  /** A Serper error body `{message, statusCode}`; the message defaults per status. */
  | ({ kind: 'error'; status: SerperErrorStatus; message?: string } & RetryHints)
  | TransportScenario
) &
  Delivery;

export interface FakeSerperOptions {
  /** The accepted key (default SERPER_TEST_KEY); `null` accepts any non-empty key. */
  apiKey?: string | null;
}

export type FakeSerper = FakeServer<SerperScenario>;

const MAX_NUM = 100;
const MESSAGES: Record<number, string> = {
  400: 'Bad request.',
  401: 'Unauthorized.',
  403: 'Unauthorized.',
  404: 'Not found.',
  405: 'Method not allowed.',
  429: 'Too many requests.',
  500: 'Internal server error.',
  503: 'Service unavailable.',
};
const QDR = /^qdr:[hdwmy]\d*$/;
const CDR = /^cdr:1,cd_min:(\d{1,2}\/\d{1,2}\/\d{4})?,cd_max:(\d{1,2}\/\d{1,2}\/\d{4})?$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export const serperDefaultTitle = (query: string, i: number) => `${query} - result ${i}`;
export const serperDefaultSnippet = (query: string, i: number) => `Source ${i} explains ${query}: the background, the latest developments and what experts say.`;

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
};
const onDomain = (url: string, d: string) => hostOf(url) === d || hostOf(url).endsWith(`.${d}`);
/** 12/31/2025 → "Dec 31, 2025" (as Google shows a date). */
const googleDate = (us: string) => {
  const [m, d, y] = us.split('/').map(Number);
  return `${MONTHS[m - 1]} ${d}, ${y}`;
};

export async function startFakeSerper(opts: FakeSerperOptions = {}): Promise<FakeSerper> {
  const key = opts.apiKey === undefined ? SERPER_TEST_KEY : opts.apiKey;
  return startFake<SerperScenario>({
    basePath: '',
    defaultScenario: { kind: 'results' },
    async handle(ex, next) {
      const error = (status: number, message?: string, headers: Record<string, string> = {}, d?: Delivery) =>
        sendJson(ex, status, { message: message ?? MESSAGES[status] ?? 'Error.', statusCode: status }, headers, d);
      if (ex.url.pathname !== '/search') return error(404);
      if (ex.req.method !== 'POST') return error(405);
      const apiKey = ex.req.headers['x-api-key'];
      if (typeof apiKey !== 'string' || !apiKey || (key !== null && apiKey !== key)) return error(403, 'Unauthorized.');
      const b = ex.record.body as Record<string, unknown> | undefined;
      if (ex.badJson || b === null || typeof b !== 'object' || Array.isArray(b)) return error(400, 'Invalid JSON body.');
      const q = b.q;
      if (typeof q !== 'string' || !q.trim()) return error(400, 'Missing query parameter: q.');
      if (q.length > 2048) return error(400, 'Query too long.');
      const num = b.num === undefined ? 10 : b.num;
      if (typeof num !== 'number' || !Number.isInteger(num) || num < 1 || num > MAX_NUM) return error(400, `num must be an integer from 1 to ${MAX_NUM}.`);
      if (b.gl !== undefined && (typeof b.gl !== 'string' || !/^[a-z]{2}$/.test(b.gl))) return error(400, 'gl must be a two-letter country code, lower case.');
      if (b.hl !== undefined && (typeof b.hl !== 'string' || !/^[a-z]{2}(-[a-z]{2})?$/i.test(b.hl))) return error(400, 'hl must be a language code.');
      if (b.page !== undefined && (typeof b.page !== 'number' || !Number.isInteger(b.page) || b.page < 1)) return error(400, 'page must be a positive integer.');
      const tbs = b.tbs;
      if (tbs !== undefined && (typeof tbs !== 'string' || !(QDR.test(tbs) || CDR.test(tbs)))) return error(400, 'tbs must be qdr:h|d|w|m|y or cdr:1,cd_min:M/D/YYYY,cd_max:M/D/YYYY.');

      const s = next();
      if (await handleTransport(ex, s)) return;
      if (s.kind === 'error') return error(s.status, s.message, retryHeaders(s), s);
      if (s.kind !== 'results') throw new Error(`unknown Serper scenario ${JSON.stringify(s)}`);

      const ops = braveOperators(q);
      const text = ops.text || q;
      const slug = querySlug(text);
      const rangeEnd = typeof tbs === 'string' ? CDR.exec(tbs)?.[2] : undefined;
      const date = rangeEnd ? googleDate(rangeEnd) : 'Jan 15, 2026';
      const specs: SerperResultSpec[] =
        s.results ??
        Array.from({ length: num }, (_, k) => ({
          title: serperDefaultTitle(text, k + 1),
          link: `https://${slug}-${k + 1}.${ops.sites.length ? ops.sites[k % ops.sites.length] : 'example.com'}/article`,
          snippet: serperDefaultSnippet(text, k + 1),
          date,
        }));
      const kept = specs.filter((r) => (!ops.sites.length || ops.sites.some((d) => onDomain(r.link, d))) && !ops.blocked.some((d) => onDomain(r.link, d))).slice(0, num);
      const organic = kept.map((r, i) => ({ title: r.title, link: r.link, snippet: r.snippet, ...(r.date ? { date: r.date } : {}), ...(r.sitelinks ? { sitelinks: r.sitelinks } : {}), position: i + 1 }));
      return sendJson(
        ex,
        200,
        {
          searchParameters: { q, ...(b.gl ? { gl: b.gl } : {}), ...(b.hl ? { hl: b.hl } : {}), ...(tbs ? { tbs } : {}), type: 'search', num, engine: 'google' },
          organic,
          peopleAlsoAsk: [{ question: `What is ${text}?`, snippet: `${text} is explained here.`, title: `About ${text}`, link: `https://${slug}-faq.example.com/` }],
          relatedSearches: [{ query: `${text} explained` }],
          credits: s.credits ?? 1,
        },
        {},
        s,
      );
    },
  });
}
