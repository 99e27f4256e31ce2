// Search engines as providers (the search operation), and the same wire code for the chat's web
// search plugin (src/engine/web-search.ts): Exa's `POST /search`, Tavily's `POST /search` and
// Perplexity's Search API (`POST /search`, the shape the gateway's own `/v1/search` answers in),
// Brave's Web Search API (`GET /res/v1/web/search`), a self-hosted SearXNG (`GET /search?format=json`)
// and Serper's Google results (`POST /search` with `{q, num, gl, tbs}`).
// One search request per query; the deployment's model is the engine's mode: Exa's search type
// (`auto`, `neural`, `fast`, `keyword`, `deep`), Tavily's depth (`basic`, `advanced`, `fast`,
// `ultra-fast`), Perplexity's `search`, Brave's `web`, SearXNG's `search`, Serper's `search`. Each engine
// is asked to keep to the request's domains (Brave, SearXNG and Serper have no domain parameters: `site:`
// operators in the query), and what it sends anyway is left out here too. Exa reports what a search cost
// (`costDollars.total`): that is the bill; the others are billed at the deployment's per-request price,
// per query (Serper's per credit it reports spending, one a search unless it says more).

import { isSearchEngine, type ProviderConfig, type SearchEngine } from "../../config/types.ts";
import { clip, header, kindOfStatus, retryAfterMs, tryJson, type Headers } from "../headers.ts";
import { redactSecrets } from "../openai/openai-error.ts";
import type { FailureKind, HttpRequestSpec, ProviderAdapter, SearchHit, SearchRequest, SearchResult } from "../types.ts";
import { ProviderError } from "../types.ts";

export { isSearchEngine, type SearchEngine };

/** What one search is asked for, engine-neutral (one query). */
export interface SearchAsk {
  query: string;
  /** The engine's mode (the deployment's model). */
  mode: string;
  maxResults: number;
  maxCharacters: number;
  allowedDomains?: readonly string[];
  blockedDomains?: readonly string[];
  country?: string;
  publishedAfter?: string;
  publishedBefore?: string;
  /** The request's options for this engine (its own parameters, none of ENGINE_FIELDS): added to its request as they are. */
  options?: Readonly<Record<string, unknown>>;
}

/**
 * What the gateway sets in each engine's request from the search's own fields: a request's
 * engine options (`engine_options`) may not set them, the rest of an engine's parameters they may
 * (Tavily's `topic`, Exa's `category`, Perplexity's `search_language_filter`, Brave's `safesearch`,
 * SearXNG's `categories`, …).
 */
export const ENGINE_FIELDS: Readonly<Record<SearchEngine, readonly string[]>> = {
  exa: ["query", "numResults", "type", "contents", "includeDomains", "excludeDomains", "userLocation", "startPublishedDate", "endPublishedDate"],
  tavily: ["query", "max_results", "search_depth", "include_answer", "include_raw_content", "include_domains", "exclude_domains", "country", "start_date", "end_date"],
  perplexity: ["query", "max_results", "max_tokens_per_page", "search_domain_filter", "country", "search_after_date_filter", "search_before_date_filter"],
  serper: ["q", "num", "gl", "tbs"],
  brave: ["q", "count", "country", "freshness", "result_filter", "text_decorations", "extra_snippets"],
  searxng: ["q", "format", "time_range"],
};

/** Whether a URL's host is one of the domains or under one. */
export function onDomain(url: string, domains: readonly string[]): boolean {
  let host = "";
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return domains.some((d) => host === d || host.endsWith(`.${d}`));
}

const regionNames = new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });
/** A country's English name (Tavily's `country` takes names, lower case), or undefined for a code that names none. */
export function countryName(code: string): string | undefined {
  try {
    const n = regionNames.of(code);
    return n && n !== code ? n : undefined;
  } catch {
    return undefined;
  }
}

/** 2026-11-01T00:00:00.000Z → 11/1/2026 (Perplexity's date filters). */
const usDate = (iso: string) => {
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  return `${m}/${d}/${y}`;
};

/** The engines searched with a JSON body (`POST /search`: Exa, Tavily, Perplexity, Serper); Brave and SearXNG are searched with a GET. */
export type PostSearchEngine = Exclude<SearchEngine, "brave" | "searxng">;

/** The JSON body of one engine's search (the POST engines). */
export function searchBody(engine: PostSearchEngine, a: SearchAsk): Record<string, unknown> {
  // The engine's own parameters the request gave, then the gateway's (which they may not set).
  return a.options ? { ...a.options, ...ownBody(engine, a) } : ownBody(engine, a);
}

function ownBody(engine: PostSearchEngine, a: SearchAsk): Record<string, unknown> {
  const allow = a.allowedDomains?.length ? a.allowedDomains : undefined;
  const block = a.blockedDomains?.length ? a.blockedDomains : undefined;
  if (engine === "exa") {
    return {
      query: a.query,
      numResults: a.maxResults,
      type: a.mode,
      contents: { text: { maxCharacters: a.maxCharacters } },
      ...(allow ? { includeDomains: allow } : {}),
      ...(block ? { excludeDomains: block } : {}),
      ...(a.country ? { userLocation: a.country } : {}),
      ...(a.publishedAfter ? { startPublishedDate: a.publishedAfter } : {}),
      ...(a.publishedBefore ? { endPublishedDate: a.publishedBefore } : {}),
    };
  }
  if (engine === "serper") {
    const tbs = serperTbs(a.publishedAfter, a.publishedBefore);
    return {
      q: queryWithSites(a),
      num: Math.min(Math.max(1, a.maxResults), SERPER_MAX_NUM),
      // Google's two-letter country codes, lower case in Serper's documentation ("us", "de").
      ...(a.country ? { gl: a.country.toLowerCase() } : {}),
      ...(tbs ? { tbs } : {}),
    };
  }
  if (engine === "tavily") {
    return {
      query: a.query,
      max_results: a.maxResults,
      search_depth: a.mode,
      include_answer: false,
      include_raw_content: false,
      ...(allow ? { include_domains: allow } : {}),
      ...(block ? { exclude_domains: block } : {}),
      ...(a.country ? { country: countryName(a.country)!.toLowerCase() } : {}),
      // Tavily's range is in whole days.
      ...(a.publishedAfter ? { start_date: a.publishedAfter.slice(0, 10) } : {}),
      ...(a.publishedBefore ? { end_date: a.publishedBefore.slice(0, 10) } : {}),
    };
  }
  return {
    query: a.query,
    max_results: a.maxResults,
    // About four characters a token: the page text Perplexity extracts, cut to the same length below.
    max_tokens_per_page: Math.max(1, Math.ceil(a.maxCharacters / 4)),
    // Perplexity takes one list: allowed domains, or blocked ones each with a leading "-".
    ...(allow ? { search_domain_filter: allow.slice(0, 20) } : block ? { search_domain_filter: block.slice(0, 20).map((d) => `-${d}`) } : {}),
    ...(a.country ? { country: a.country } : {}),
    ...(a.publishedAfter ? { search_after_date_filter: usDate(a.publishedAfter) } : {}),
    ...(a.publishedBefore ? { search_before_date_filter: usDate(a.publishedBefore) } : {}),
  };
}

/**
 * The headers of one engine's search: Exa and Serper take their key in `x-api-key`, Brave in
 * `X-Subscription-Token`, the others as a bearer token (SearXNG only when one is configured: an
 * instance behind an authenticating proxy). The GET engines get no content type.
 */
export function searchHeaders(engine: SearchEngine, apiKey: string): Record<string, string> {
  const get = engine === "brave" || engine === "searxng";
  const h: Record<string, string> = { ...(get ? {} : { "content-type": "application/json" }), accept: "application/json", "user-agent": "signalbox" };
  if (engine === "exa" || engine === "serper") h["x-api-key"] = apiKey;
  else if (engine === "brave") h["x-subscription-token"] = apiKey;
  else if (engine !== "searxng" || apiKey) h.authorization = `Bearer ${apiKey}`;
  return h;
}

/**
 * The query text with the domains as `site:` operators, for engines without domain parameters
 * (Brave documents `site:`, `-` and `OR`; Serper hands the query to Google, which knows them too;
 * SearXNG hands the query to its engines, which mostly know `site:`). Allowed: `(site:a.com OR site:b.com)` (one: `site:a.com`); blocked: `-site:x.com`
 * each. What comes back off those domains anyway is left out by parseSearchBody.
 */
export function queryWithSites(a: Pick<SearchAsk, "query" | "allowedDomains" | "blockedDomains">): string {
  const allow = a.allowedDomains?.length ? a.allowedDomains : undefined;
  const block = a.blockedDomains?.length ? a.blockedDomains : undefined;
  if (allow) return `${a.query} ${allow.length === 1 ? `site:${allow[0]}` : `(${allow.map((d) => `site:${d}`).join(" OR ")})`}`;
  if (block) return `${a.query} ${block.map((d) => `-site:${d}`).join(" ")}`;
  return a.query;
}

const BRAVE_MAX_COUNT = 20;
/** Serper's `num` asked at most: Google pages hold about ten results, and more costs Serper more credits. */
export const SERPER_MAX_NUM = 20;
const DAY_MS = 86_400_000;

/**
 * Serper's `tbs` (Google's) for a date range: a custom range `cdr:1,cd_min:M/D/YYYY,cd_max:M/D/YYYY`,
 * exact to the day (Google's `qdr:h|d|w|m|y` are whole periods back from now: not used). An open side
 * is closed at 1/1/1970 or today.
 */
export function serperTbs(after: string | undefined, before: string | undefined, now = Date.now()): string | undefined {
  if (!after && !before) return undefined;
  const from = after ? usDate(after) : "1/1/1970";
  const to = usDate(before ?? new Date(now).toISOString());
  return `cdr:1,cd_min:${from},cd_max:${to}`;
}

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
/** 1–12 for a month's English name or its abbreviation ("Jan", "Sept"); 0 for another word. */
const monthOf = (w: string) => (w.length >= 3 ? MONTHS.findIndex((name) => name.startsWith(w)) + 1 : 0);
const RELATIVE_MS: Record<string, number> = { second: 1000, sec: 1000, minute: 60_000, min: 60_000, hour: 3_600_000, hr: 3_600_000, day: DAY_MS, week: 7 * DAY_MS };
const ymd = (y: number, m: number, d: number) => {
  const t = Date.UTC(y, m - 1, d);
  const back = new Date(t);
  // Not a real day (Feb 30): none.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) return "";
  return back.toISOString().slice(0, 10);
};

/**
 * Serper's `date` of a result as YYYY-MM-DD, or "" when it says too little: Google shows absolute dates
 * ("Jan 5, 2025", "5 Jan 2025", "January 5, 2025", "2025-01-05") and, for recent pages, ages ("3 hours
 * ago", "2 days ago", "1 week ago", "yesterday"), counted back from now. Ages in months or years
 * ("2 months ago") say less than a day: none.
 */
export function serperDate(v: unknown, now = Date.now()): string {
  if (typeof v !== "string") return "";
  const s = v.trim().toLowerCase();
  if (!s) return "";
  let m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (m) return ymd(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^([a-z]+)\.? (\d{1,2}),? (\d{4})$/.exec(s);
  if (m && monthOf(m[1])) return ymd(Number(m[3]), monthOf(m[1]), Number(m[2]));
  m = /^(\d{1,2}) ([a-z]+)\.?,? (\d{4})$/.exec(s);
  if (m && monthOf(m[2])) return ymd(Number(m[3]), monthOf(m[2]), Number(m[1]));
  if (s === "today" || s === "just now") return new Date(now).toISOString().slice(0, 10);
  if (s === "yesterday") return new Date(now - DAY_MS).toISOString().slice(0, 10);
  m = /^(\d+|an?) (second|sec|minute|min|hour|hr|day|week)s? ago$/.exec(s);
  if (m) {
    const n = m[1] === "a" || m[1] === "an" ? 1 : Number(m[1]);
    return new Date(now - n * RELATIVE_MS[m[2]]).toISOString().slice(0, 10);
  }
  return "";
}

/**
 * Brave's `freshness` for a date range: `YYYY-MM-DDtoYYYY-MM-DD` (its documented custom range). An
 * open side is closed at 1970-01-01 or today.
 */
export function braveFreshness(after: string | undefined, before: string | undefined, now = Date.now()): string | undefined {
  if (!after && !before) return undefined;
  const from = after ? after.slice(0, 10) : "1970-01-01";
  const to = before ? before.slice(0, 10) : new Date(now).toISOString().slice(0, 10);
  return `${from}to${to}`;
}

/**
 * SearXNG's `time_range` (documented: day, month, year) for a lower bound: the smallest range that
 * still covers it (a day, 31 days, 366 days back); none for an older one (or no lower bound). The
 * exact range is kept afterwards on the results that carry a date.
 */
export function searxngTimeRange(after: string | undefined, now = Date.now()): "day" | "month" | "year" | undefined {
  if (!after) return undefined;
  const t = Date.parse(after);
  if (Number.isNaN(t)) return undefined;
  const age = now - t;
  if (age <= DAY_MS) return "day";
  if (age <= 31 * DAY_MS) return "month";
  if (age <= 366 * DAY_MS) return "year";
  return undefined;
}

/** The path and query string of a GET engine's search. */
export function searchPath(engine: "brave" | "searxng", a: SearchAsk, now = Date.now()): string {
  const q = new URLSearchParams();
  // The engine's own parameters the request gave (scalars, arrays as repeated parameters), then the gateway's.
  for (const [k, v] of Object.entries(a.options ?? {})) for (const x of Array.isArray(v) ? v : [v]) if (x !== null && typeof x !== "object") q.append(k, String(x));
  q.set("q", queryWithSites(a));
  if (engine === "brave") {
    q.set("count", String(Math.min(Math.max(1, a.maxResults), BRAVE_MAX_COUNT)));
    // Brave's countries are two-letter codes, upper case in its documentation ("US", "DE").
    if (a.country) q.set("country", a.country.toUpperCase());
    const fresh = braveFreshness(a.publishedAfter, a.publishedBefore, now);
    if (fresh) q.set("freshness", fresh);
    // Web results only, plain text (no <strong> highlights), and up to five more snippets a page for the text.
    q.set("result_filter", "web");
    q.set("text_decorations", "false");
    q.set("extra_snippets", "true");
    return `/res/v1/web/search?${q.toString()}`;
  }
  q.set("format", "json");
  const range = searxngTimeRange(a.publishedAfter, now);
  if (range) q.set("time_range", range);
  return `/search?${q.toString()}`;
}

/** One search of one engine as an HTTP request: a JSON POST to `/search`, or Brave's and SearXNG's GET. */
export function searchRequest(engine: SearchEngine, a: SearchAsk, apiKey: string): HttpRequestSpec {
  if (engine === "brave" || engine === "searxng") return { method: "GET", path: searchPath(engine, a), headers: searchHeaders(engine, apiKey) };
  return { method: "POST", path: "/search", headers: searchHeaders(engine, apiKey), body: JSON.stringify(searchBody(engine, a)) };
}

const str = (v: unknown) => (typeof v === "string" ? v : "");
const day = (v: unknown) => (str(v) ? str(v).slice(0, 10) : "");

/** One engine's 2xx body: the hits on the asked domains (at most maxResults, text cut), and the cost it reported. */
export function parseSearchBody(
  engine: SearchEngine,
  raw: string,
  a: Pick<SearchAsk, "maxResults" | "maxCharacters" | "allowedDomains" | "blockedDomains" | "publishedAfter" | "publishedBefore">,
): { results: SearchHit[]; reportedUsd?: number; credits?: number } {
  const j = tryJson(raw);
  if (j === null || typeof j !== "object" || Array.isArray(j)) throw new ProviderError({ kind: "unknown", message: `${engine}: the search answer is not a JSON object` });
  const o = j as Record<string, unknown>;
  // Brave's web results are under `web`; Serper's (Google's organic results, each at its `link`) under
  // `organic`; the others' at the top.
  const holder = engine === "brave" ? (o.web !== null && typeof o.web === "object" ? (o.web as Record<string, unknown>) : {}) : o;
  const list: Record<string, unknown>[] =
    engine === "serper"
      ? (Array.isArray(o.organic) ? (o.organic as unknown[]) : []).filter((r): r is Record<string, unknown> => r !== null && typeof r === "object").map((r): Record<string, unknown> => ({ ...r, url: r.link }))
      : Array.isArray(holder.results)
        ? (holder.results as Record<string, unknown>[])
        : [];
  const allow = a.allowedDomains?.length ? a.allowedDomains : undefined;
  const block = a.blockedDomains?.length ? a.blockedDomains : undefined;
  // SearXNG's time range is coarse (and not every engine behind it honours it): the exact range is
  // kept here, on the results that carry a date (those without one are kept).
  const from = engine === "searxng" && a.publishedAfter ? a.publishedAfter.slice(0, 10) : "";
  const to = engine === "searxng" && a.publishedBefore ? a.publishedBefore.slice(0, 10) : "";
  const inRange = (r: Record<string, unknown>) => {
    const d = day(r.publishedDate);
    return !d || ((!from || d >= from) && (!to || d <= to));
  };
  const within = (r: Record<string, unknown>) =>
    r !== null && typeof r === "object" && typeof r.url === "string" && (!allow || onDomain(r.url, allow)) && (!block || !onDomain(r.url, block)) && (!(from || to) || inRange(r));
  const textOf = (r: Record<string, unknown>) => {
    switch (engine) {
      case "exa":
        return str(r.text) || (Array.isArray(r.highlights) ? (r.highlights as unknown[]).map(str).join(" … ") : "") || str(r.summary);
      case "tavily":
      case "searxng":
        return str(r.content);
      case "brave":
        // The description, then as many of the extra snippets as the characters allow (cut below).
        return braveText(str(r.description), Array.isArray(r.extra_snippets) ? (r.extra_snippets as unknown[]).map(str).filter(Boolean) : [], a.maxCharacters);
      default:
        return str(r.snippet);
    }
  };
  const publishedOf = (r: Record<string, unknown>) => {
    switch (engine) {
      case "exa":
      case "searxng":
        return r.publishedDate;
      case "tavily":
        return r.published_date;
      case "brave":
        return r.page_age;
      default:
        return r.date;
    }
  };
  const results = list
    .filter(within)
    .slice(0, a.maxResults)
    .map((r): SearchHit => {
      const published = engine === "serper" ? serperDate(r.date) : day(publishedOf(r));
      const updated = engine === "perplexity" ? day(r.last_updated) : "";
      return { title: str(r.title), url: str(r.url), snippet: cut(textOf(r), a.maxCharacters), ...(published ? { published } : {}), ...(updated ? { updated } : {}) };
    });
  const cost = engine === "exa" ? (o.costDollars as { total?: unknown } | undefined)?.total : undefined;
  // Serper says how many credits the search took (one, more for a larger num).
  const credits = engine === "serper" && typeof o.credits === "number" && Number.isInteger(o.credits) && o.credits >= 1 ? o.credits : undefined;
  return { results, ...(typeof cost === "number" && Number.isFinite(cost) && cost >= 0 ? { reportedUsd: cost } : {}), ...(credits !== undefined ? { credits } : {}) };
}

/** Brave's text of a result: its description, then extra snippets while they fit in n characters (the first that does not is cut). */
function braveText(description: string, extra: string[], n: number): string {
  let text = description;
  for (const x of extra) {
    if (text.length >= n) break;
    text = text ? `${text} ${x}` : x;
  }
  return text;
}

/** At most n characters (an ellipsis marks a cut). */
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

function kindFor(status: number): { kind: FailureKind; retryable?: boolean } {
  // Tavily's plan limit (432) and pay-as-you-go limit (433); Exa's NO_MORE_CREDITS is a 402.
  return status === 432 || status === 433 ? { kind: "quota_exhausted", retryable: false } : kindOfStatus(status);
}

/**
 * The engine's own words from an error body: Exa's `{error, tag}`, Tavily's `{detail: {error}}`,
 * Perplexity's `{error: {message}}`, Brave's `{type: "ErrorResponse", error: {id, status, code, detail, meta}}`,
 * Serper's `{message, statusCode}`, SearXNG's plain text or HTML (an HTML page says nothing here).
 */
function errorMessage(body: string): string {
  const j = tryJson(body);
  if (j !== null && typeof j === "object" && !Array.isArray(j)) {
    const o = j as { error?: unknown; detail?: unknown; message?: unknown };
    const nested = (v: unknown) => {
      if (v === null || typeof v !== "object") return v;
      const e = v as { message?: unknown; error?: unknown; detail?: unknown; code?: unknown };
      if (typeof e.detail === "string" && e.detail) return typeof e.code === "string" && e.code ? `${e.detail} (${e.code})` : e.detail;
      return e.message ?? e.error ?? (typeof e.code === "string" ? e.code : undefined);
    };
    for (const m of [nested(o.error), nested(o.detail), o.message]) if (typeof m === "string" && m) return m;
    return "";
  }
  const raw = body.trim();
  return raw !== "" && !raw.startsWith("<") ? raw : "";
}

/**
 * Brave's error codes, which say more than its status (a validation status can carry a bad subscription
 * token); Serper's spent credits, which it answers with a 400 ("Not enough credits").
 */
function braveKind(engine: SearchEngine, body: string): { kind: FailureKind; retryable?: boolean } | undefined {
  if (engine === "serper") return /not enough credits|out of credits|credits? (exhausted|depleted)/i.test(errorMessage(body)) ? { kind: "quota_exhausted", retryable: false } : undefined;
  if (engine !== "brave") return undefined;
  const j = tryJson(body) as { error?: { code?: unknown } } | null;
  const code = j !== null && typeof j === "object" && j.error !== null && typeof j.error === "object" ? j.error.code : undefined;
  if (code === "SUBSCRIPTION_TOKEN_INVALID") return { kind: "upstream_auth" };
  if (code === "RATE_LIMITED") return { kind: "rate_limited" };
  return undefined;
}

/** Classify a non-2xx answer of an engine; the connection's key never appears in the message. */
export function classifySearchError(engine: SearchEngine, status: number, body: string, headers: Headers = {}, secrets: readonly string[] = []): ProviderError {
  let message = errorMessage(body);
  for (const s of secrets) if (s && s.length >= 6) message = message.split(s).join("[redacted]");
  message = redactSecrets(message);
  const c = braveKind(engine, body) ?? kindFor(status);
  const requestId = header(headers, "x-request-id") ?? header(headers, "request-id");
  return new ProviderError({
    kind: c.kind,
    status,
    message: message ? `${engine} ${status}: ${clip(message, 300)}` : `${engine} ${status}`,
    ...(c.retryable !== undefined ? { retryable: c.retryable } : {}),
    ...(retryAfterMs(headers) !== undefined ? { retryAfterMs: retryAfterMs(headers) } : {}),
    ...(requestId ? { requestId } : {}),
  });
}

/** What a search request asks of one query. */
const askOf = (engine: SearchEngine, req: SearchRequest, query: string): SearchAsk => ({
  query,
  ...(req.engineOptions?.[engine] ? { options: req.engineOptions[engine] } : {}),
  mode: req.model,
  maxResults: req.maxResults,
  maxCharacters: req.maxCharacters,
  ...(req.allowedDomains ? { allowedDomains: req.allowedDomains } : {}),
  ...(req.blockedDomains ? { blockedDomains: req.blockedDomains } : {}),
  ...(req.country ? { country: req.country } : {}),
  ...(req.publishedAfter ? { publishedAfter: req.publishedAfter } : {}),
  ...(req.publishedBefore ? { publishedBefore: req.publishedBefore } : {}),
});

const noChat = (engine: SearchEngine) => () => {
  throw new ProviderError({ kind: "model_not_found", message: `${engine} is a search engine: its deployments serve search only`, unsent: true });
};

/** The adapter of a search engine's connection: search only (the loader refuses its deployments any other operation). */
export function createSearchAdapter(conn: ProviderConfig): ProviderAdapter {
  const engine = conn.type as SearchEngine;
  const secrets = [conn.apiKey ?? ""];
  return {
    buildRequest: noChat(engine),
    parseResponse: noChat(engine),
    streamTranslator: noChat(engine),
    classifyError: (status, body, headers) => classifySearchError(engine, status, body, headers, secrets),
    buildSearchRequest(req: SearchRequest, query: string): HttpRequestSpec {
      return searchRequest(engine, askOf(engine, req, query), conn.apiKey ?? "");
    },
    parseSearchResponse(body: string, req: SearchRequest): SearchResult {
      const p = parseSearchBody(engine, body, req);
      // One search per query (Serper's: the credits it took); Exa's own figure is the bill where it gives one.
      return { model: "", results: p.results, usage: { searchUnits: p.credits ?? 1, ...(p.reportedUsd !== undefined ? { providerCostUsd: p.reportedUsd } : {}) } };
    },
  };
}
