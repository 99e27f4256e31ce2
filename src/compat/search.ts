// POST /v1/search in the shape of Perplexity's Search API (which LiteLLM's search API follows too):
// `{query, max_results, search_domain_filter, country, search_recency_filter,
// search_after_date_filter, search_before_date_filter, max_tokens_per_page, max_tokens}` →
// `{id, object: "search", results: [{title, url, snippet, date, last_updated}]}`, so the official
// Perplexity SDK pointed at the gateway (`baseURL: "http://signalbox:8080/v1"`) works unchanged,
// against any search engine the gateway routes to. LiteLLM's `POST /v1/search/{search_tool_name}`
// names the route in the path; otherwise `model` (or `search_tool_name`) in the body, else the
// route, alias or deployment called `search`. The `signalbox` object carries routing options, tags
// and guardrails, as on /v1/chat/completions.

import { MAX_CACHE_TTL_SECONDS, type CacheMode, type ChatEngine } from "../engine/chat-engine.ts";
import type { SearchAnswer } from "../engine/search.ts";
import { countryCode, domainList } from "../engine/web-search.ts";
import type { Caller, SearchCall } from "../router/types.ts";
import type { RequestInfo } from "../server/context.ts";
import { MAX_SEARCH_QUERIES, validateCacheTtl, validateSearchCall } from "../server/validate.ts";
import { bad, int, isObj, signalboxOptions, str, stringMetadata } from "./request.ts";
import { accountJson, rateLimitHeaders } from "./response.ts";

/** The route (or alias or deployment) a search names none: `search`. */
export const DEFAULT_SEARCH_MODEL = "search";

const KNOWN = new Set([
  "model",
  "search_tool_name",
  "query",
  "max_results",
  "max_tokens_per_page",
  "max_tokens",
  "search_domain_filter",
  "country",
  "search_recency_filter",
  "search_after_date_filter",
  "search_before_date_filter",
  "search_mode",
  "display_server_time",
  "engine_options",
  "user",
  "metadata",
  "signalbox",
]);

/** Fields of Perplexity's API that no other engine can honour: refused by name rather than ignored (a filter ignored would answer with what was filtered out). */
const UNSUPPORTED: Record<string, string> = {
  search_language_filter: "is not supported: the gateway's engines do not share a language filter (give Perplexity its own with engine_options.perplexity.search_language_filter)",
  last_updated_after_filter: "is not supported: filter on the publication date (search_after_date_filter), or give Perplexity its own with engine_options.perplexity",
  last_updated_before_filter: "is not supported: filter on the publication date (search_before_date_filter), or give Perplexity its own with engine_options.perplexity",
  search_type: "is not supported: web search only",
  search_context_size: "is not supported: set max_results and max_tokens_per_page",
};

const RECENCY_MS: Record<string, number> = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000, month: 31 * 86_400_000, year: 366 * 86_400_000 };

/** Perplexity's date filter, `%m/%d/%Y` (3/1/2025), as an RFC 3339 instant (the day's start, UTC). */
function usDate(body: Record<string, unknown>, k: string): string | undefined {
  const v = body[k];
  if (v === undefined || v === null) return undefined;
  const m = typeof v === "string" ? /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v) : null;
  const d = m ? new Date(Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]))) : undefined;
  if (!m || !d || d.getUTCMonth() !== Number(m[1]) - 1 || d.getUTCDate() !== Number(m[2])) bad(k, `must be a date as month/day/year (like "3/1/2025"), got ${JSON.stringify(v)}`);
  return d.toISOString();
}

export function parseSearchRequest(body: unknown, id: string, caller: Caller, toolName?: string, now = Date.now()): { call: SearchCall; cache?: { mode: CacheMode; ttlSeconds?: number } } {
  if (!isObj(body)) bad("body", "must be a JSON object");
  for (const k of Object.keys(body)) {
    if (UNSUPPORTED[k] !== undefined && body[k] !== null) bad(k, UNSUPPORTED[k]);
    if (!KNOWN.has(k) && UNSUPPORTED[k] === undefined) bad(k, `Unrecognized request argument supplied: ${k}`);
  }
  const model = toolName ?? str(body, "model", "model") ?? str(body, "search_tool_name", "search_tool_name") ?? DEFAULT_SEARCH_MODEL;
  const q = body.query;
  let queries: string[];
  if (typeof q === "string") queries = [q];
  else if (Array.isArray(q)) {
    if (q.length === 0) bad("query", "must not be empty");
    if (q.length > MAX_SEARCH_QUERIES) bad("query", `at most ${MAX_SEARCH_QUERIES} queries, got ${q.length}`);
    queries = q.map((x, i) => (typeof x === "string" ? x : bad(`query[${i}]`, "must be a string")));
  } else bad("query", "is required: a string, or an array of up to 5 strings");
  const mode = body.search_mode;
  if (mode !== undefined && mode !== null && mode !== "web") bad("search_mode", `must be web (academic and sec are Perplexity's own indexes), got ${JSON.stringify(mode)}`);
  if (body.display_server_time !== undefined && typeof body.display_server_time !== "boolean") bad("display_server_time", "must be a boolean");
  const tokensPerPage = int(body, "max_tokens_per_page", "max_tokens_per_page");
  if (tokensPerPage !== undefined && (tokensPerPage < 25 || tokensPerPage > 5_000)) bad("max_tokens_per_page", `must be between 25 and 5000, got ${tokensPerPage}`);
  const maxTokens = int(body, "max_tokens", "max_tokens");
  if (maxTokens !== undefined && (maxTokens < 1 || maxTokens > 1_000_000)) bad("max_tokens", `must be between 1 and 1000000, got ${maxTokens}`);
  // One list: domains to search, or (each with a leading "-") domains to leave out; not both.
  let allowedDomains: string[] | undefined;
  let blockedDomains: string[] | undefined;
  const filter = body.search_domain_filter;
  if (filter !== undefined && filter !== null) {
    if (!Array.isArray(filter)) bad("search_domain_filter", "must be an array of domains");
    const minus = filter.filter((d) => typeof d === "string" && d.startsWith("-")).length;
    if (minus && minus !== filter.length) bad("search_domain_filter", 'cannot mix domains to search and domains to leave out ("-example.com"): give one or the other');
    const list = domainList(
      filter.map((d) => (minus && typeof d === "string" ? d.slice(1) : d)),
      "search_domain_filter",
    );
    if (list.length) {
      if (minus) blockedDomains = list;
      else allowedDomains = list;
    }
  }
  const country = body.country === undefined || body.country === null ? undefined : countryCode(body.country, "country");
  const recency = body.search_recency_filter;
  if (recency !== undefined && recency !== null && (typeof recency !== "string" || RECENCY_MS[recency] === undefined)) bad("search_recency_filter", `must be hour, day, week, month or year, got ${JSON.stringify(recency)}`);
  const after = usDate(body, "search_after_date_filter");
  if (after && typeof recency === "string") bad("search_recency_filter", "cannot be given with search_after_date_filter");
  const publishedAfter = after ?? (typeof recency === "string" ? new Date(now - RECENCY_MS[recency]).toISOString() : undefined);
  const publishedBefore = usDate(body, "search_before_date_filter");
  // The gateway's own extension: each engine's own parameters, by provider type ({"tavily": {"topic": "news"}}).
  const eo = body.engine_options;
  if (eo !== undefined && eo !== null && !isObj(eo)) bad("engine_options", 'must be an object of each engine\'s own parameters, by provider type (like {"tavily": {"topic": "news"}})');
  const user = str(body, "user", "user") || undefined;
  const opts = signalboxOptions(body, model, user);
  const call: SearchCall = {
    operation: "search",
    id,
    model,
    request: {
      queries,
      maxResults: int(body, "max_results", "max_results") ?? 10,
      // About four characters a token (Perplexity's default is 1,024 tokens a page).
      maxCharacters: Math.min(20_000, Math.max(100, (tokensPerPage ?? 1_024) * 4)),
      ...(allowedDomains ? { allowedDomains } : {}),
      ...(blockedDomains ? { blockedDomains } : {}),
      ...(country ? { country } : {}),
      ...(publishedAfter ? { publishedAfter } : {}),
      ...(publishedBefore ? { publishedBefore } : {}),
      ...(isObj(eo) && Object.keys(eo).length ? { engineOptions: eo as Record<string, Record<string, unknown>> } : {}),
    },
    routing: opts.routing,
    user,
    tags: opts.tags,
    metadata: stringMetadata(body),
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
    caller,
  };
  validateSearchCall(call, {
    queries: "query",
    maxResults: "max_results",
    allowedDomains: "search_domain_filter",
    blockedDomains: "search_domain_filter",
    publishedBefore: "search_before_date_filter",
    maxCharacters: "max_tokens_per_page",
    routing: "signalbox",
  });
  if (opts.cache?.ttlSeconds !== undefined) validateCacheTtl("signalbox.cache.ttl_seconds", opts.cache.ttlSeconds, MAX_CACHE_TTL_SECONDS);
  return { call, ...(opts.cache ? { cache: opts.cache } : {}) };
}

/** The answer in Perplexity's shape; `max_tokens` (about four characters a token) bounds all snippets together, in order. */
export function searchJson(a: SearchAnswer, o: { maxTokens?: number; serverTime?: boolean } = {}) {
  let left = o.maxTokens === undefined ? Infinity : o.maxTokens * 4;
  return {
    id: a.id,
    object: "search",
    results: a.results.map((r) => {
      const snippet = r.snippet.length <= left ? r.snippet : r.snippet.slice(0, Math.max(0, left));
      left = Math.max(0, left - snippet.length);
      return { title: r.title, url: r.url, snippet, date: r.published ?? null, last_updated: r.updated ?? null };
    }),
    ...(o.serverTime ? { server_time: new Date().toISOString() } : {}),
    signalbox: accountJson(a, { searches: a.usage.searchUnits ?? 0 }),
  };
}

/** `/v1/search` or `/v1/search/{search_tool_name}`; undefined for another path. */
export function searchPath(path: string): { tool?: string } | undefined {
  if (path === "/v1/search") return {};
  if (!path.startsWith("/v1/search/")) return undefined;
  const tool = path.slice("/v1/search/".length);
  if (!tool || tool.includes("/")) return undefined;
  try {
    return { tool: decodeURIComponent(tool) };
  } catch {
    return undefined;
  }
}

export async function serveSearch(engine: ChatEngine, body: unknown, r: { ri: RequestInfo; caller: Caller; signal: AbortSignal; tool?: string; cache?: { mode: CacheMode; ttlSeconds?: number }; statusOf(err: unknown): string }): Promise<{ body: unknown; headers: Record<string, string> }> {
  const parsed = parseSearchRequest(body, r.ri.id, r.caller, r.tool);
  const cache = r.cache ?? parsed.cache;
  const a = await engine.search({ call: parsed.call, ri: r.ri, signal: r.signal, ...(cache ? { cache } : {}), statusOf: r.statusOf });
  const b = body as Record<string, unknown>;
  return {
    body: searchJson(a, { ...(typeof b.max_tokens === "number" ? { maxTokens: b.max_tokens } : {}), serverTime: b.display_server_time === true }),
    headers: { "x-signalbox-deployment": a.deployment, "x-signalbox-cache": a.cache, ...rateLimitHeaders(a.limits) },
  };
}
