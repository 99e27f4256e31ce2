// Web search before the model, for any model: OpenRouter's `web` plugin and `:online` models,
// OpenAI's `web_search_options`, ChatRequest.web_search, the Responses API's hosted `web_search`
// tool, Anthropic's `web_search` server tool and Gemini's `googleSearch` (each door parses its own
// form into ChatCall.webSearch and renders the citations its own way). The gateway asks a search
// API (`web_search` in the config: Exa or Tavily; `mock` makes results up, for the embedded config)
// with the request's last user message, keeps to the request's domains, runs the configured
// guardrails over each result (a blocked one is left out), and puts the results in a system message
// just before that message, with the instruction to cite them as markdown links (OpenRouter's
// prompt, or the request's `search_prompt`). Every candidate deployment is sent the same results.
// The search is billed with the request (Exa's reported cost, else the configured prices), runs
// after admission and the input guardrails (a refused or blocked request searches nothing), is
// traced as its own span, and makes the request neither a cache lookup nor a cache entry (its
// answer depends on what the web said at that moment). The answer's citations are the results
// whose URL it links, with where the link is. The results go into each candidate's prompt after
// the planner fitted it to that deployment's context window: a deployment whose window cannot also
// hold them all gets the first results that fit (none, when none does), and its adjustments say so.
// Admission holds the search's configured price on the caller's budgets with the tokens' cost.
//
// A search that fails (the engine's error, a timeout) leaves the request to the config's
// `on_failure`: `answer` (the default) answers without results and says so in the adjustments;
// `fail` fails the request with `unavailable`, before any model is called.

import { request } from "undici";
import type { WebSearchConfig } from "../config/types.ts";
import { countTextTokens, tokenFamily, type TokenFamily } from "../providers/tokens.ts";
import type { ChatMessage, ReasoningBlock, ToolCall, ToolDef } from "../providers/types.ts";
import { GatewayError } from "../router/errors.ts";
import type { ChatCall, Plan } from "../router/types.ts";
import { inSpan } from "../telemetry/tracing.ts";
import { mockSearchHits } from "../providers/mock/search.ts";
import { classifySearchError, countryName, parseSearchBody, searchBody, searchHeaders } from "../providers/search/engines.ts";
import type { Tracer } from "@opentelemetry/api";
import type { Context } from "@opentelemetry/api";

export interface SearchResult {
  title: string;
  url: string;
  text: string;
  published?: string;
}

/** A result the answer links to, with where the link is in the answer's text (UTF-16 offsets, as OpenAI's). */
export interface Citation {
  url: string;
  title: string;
  content: string;
  startIndex: number;
  endIndex: number;
}

export interface WebSearchOutcome {
  /** An earlier turn's search of the same response, reused: not searched, billed or reported again. */
  reused?: boolean;
  /** How many searches it stands for (the model's, when it decided them; absent: one). */
  searches?: number;
  engine: string;
  query: string;
  results: SearchResult[];
  /** Nano-USD: the engine's reported cost, else the configured prices. */
  costNanos: number;
  /** Why no results reached the prompt (the search failed and on_failure is answer). */
  failed?: string;
  /** The model's searches one by one (its query and what each found), when it made more than one. */
  each?: { query: string; results: SearchResult[]; failed?: boolean }[];
}

/**
 * A search through the search operation's plan (`web_search.model`): the engine's executor, made
 * by the chat engine, which plans and executes it like /v1/search (fallbacks, cooldowns, each
 * engine's price) without a record or an admission of its own: its cost is the request's.
 */
export type RoutedSearch = (query: string, n: number, ws: WebSearchRequest, signal: AbortSignal, otel?: Context) => Promise<{ results: SearchResult[]; costNanos: number; engine: string; deployment: string; attempts: number }>;

/** What a search was, as answers and stream starts carry it: the query and the results (address, title, the text the model read); failed when it did not answer. */
export interface Searched {
  query: string;
  results: SearchResult[];
  failed?: boolean;
  /** Searches made (more than one when the model searched several times). */
  searches?: number;
  /** Each search with its own query and results, when there were several (the doors show one item or block per search). */
  each?: { query: string; results: SearchResult[]; failed?: boolean }[];
}

const copyResult = (r: SearchResult): SearchResult => ({ url: r.url, title: r.title, text: r.text, ...(r.published ? { published: r.published } : {}) });

export const searched = (w: WebSearchOutcome): Searched => ({
  query: w.query,
  ...(w.searches !== undefined && w.searches !== 1 ? { searches: w.searches } : {}),
  results: w.results.map(copyResult),
  ...(w.failed ? { failed: true } : {}),
  ...(w.each && w.each.length > 1 ? { each: w.each.map((e) => ({ query: e.query, results: e.results.map(copyResult), ...(e.failed ? { failed: true } : {}) })) } : {}),
});

/** A search's searches one by one: each of several, or the one. */
export const searchesOf = (w: Searched): { query: string; results: SearchResult[]; failed?: boolean }[] => w.each ?? [{ query: w.query, results: w.results, ...(w.failed ? { failed: true } : {}) }];

/** Turns of searching a model may take in one request before it must answer (each turn may search several times at once). */
export const MAX_SEARCH_TURNS = 3;

/**
 * A result's text as an opaque field a client sends back with the conversation (Anthropic's
 * `encrypted_content`), so that a later turn gives the model the results an earlier one read.
 * Not a secret (the client saw the answer built on it): base64url of the text, marked as ours.
 */
const REPLAY = "sbx1.";
export const replayText = (r: SearchResult): string => REPLAY + Buffer.from(r.text, "utf8").toString("base64url");
/** The text of a result sent back (replayText's form), or "" for another's (Anthropic's own encrypted content). */
export function replayedText(v: unknown): string {
  if (typeof v !== "string" || !v.startsWith(REPLAY)) return "";
  return Buffer.from(v.slice(REPLAY.length), "base64url").toString("utf8");
}

/** The system message that gives the model an earlier turn's results again, before the answer that read them. */
export function earlierResultsMessage(query: string, results: readonly SearchResult[]): ChatMessage {
  return resultsMessage(results, `A web search made earlier in this conversation${query ? ` (query: "${query}")` : ""} found the following results. Cite them using markdown links named using the domain of the source.`);
}

/** What a request asks of web search (its door's plugin, option or field, validated). */
export interface WebSearchRequest {
  maxResults?: number;
  /** Replaces the text before the results (OpenRouter's search_prompt). */
  searchPrompt?: string;
  /** Only results from these domains (and their subdomains), or none from these: passed to the engine. */
  allowedDomains?: string[];
  blockedDomains?: string[];
  /** The user's country (ISO 3166-1 alpha-2, upper case): results from there are preferred (Exa's userLocation, Tavily's country). */
  country?: string;
  /** Only results published in this range (ISO 8601 instants): Exa's start/endPublishedDate, Tavily's start_date/end_date (days). */
  publishedAfter?: string;
  publishedBefore?: string;
  /** The model decides when and what to search (a hosted tool: the Responses API's, Anthropic's server tool), at most `maxUses` times. */
  byModel?: boolean;
  maxUses?: number;
  /**
   * Shared by the model turns of one response (an MCP tool loop): the first turn's search, which
   * the later turns reuse instead of searching (and paying) again. Set by the loop, never parsed.
   */
  memo?: { outcome?: WebSearchOutcome };
}

/** A domain list of a request (`example.com`, no scheme or path), validated; at most 100. */
export function domainList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new GatewayError("invalid_argument", `${field}: must be an array of domains`, { field });
  if (v.length > 100) throw new GatewayError("invalid_argument", `${field}: at most 100 domains, got ${v.length}`, { field });
  return v.map((d, i) => {
    const s = typeof d === "string" ? d.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/.*$/, "") : "";
    if (!/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{2,63}$/.test(s)) throw new GatewayError("invalid_argument", `${field}[${i}]: ${JSON.stringify(d)} is not a domain like example.com`, { field: `${field}[${i}]` });
    return s;
  });
}

export const MAX_WEB_RESULTS = 20;

/**
 * The country of an approximate user location (OpenAI's and Anthropic's `user_location`:
 * `{type: "approximate", country, city, region, timezone}`; OpenAI's chat completions nest it under
 * `approximate`), validated: an ISO 3166-1 alpha-2 code. City, region and time zone are accepted
 * and not used (the engines take a country).
 */
export function locationCountry(loc: unknown, field: string): string | undefined {
  if (loc === undefined || loc === null) return undefined;
  if (typeof loc !== "object" || Array.isArray(loc)) throw new GatewayError("invalid_argument", `${field}: must be an object`, { field });
  const l = loc as Record<string, unknown>;
  if (l.type !== undefined && l.type !== "approximate") throw new GatewayError("invalid_argument", `${field}.type: must be "approximate", got ${JSON.stringify(l.type)}`, { field: `${field}.type` });
  const inner = l.approximate !== undefined && l.approximate !== null ? l.approximate : l;
  const at = inner === l ? field : `${field}.approximate`;
  if (typeof inner !== "object" || Array.isArray(inner)) throw new GatewayError("invalid_argument", `${at}: must be an object`, { field: at });
  const c = (inner as Record<string, unknown>).country;
  if (c === undefined || c === null) return undefined;
  return countryCode(c, `${at}.country`);
}

/** A country code of a request, validated: an ISO 3166-1 alpha-2 code, upper case. */
export function countryCode(c: unknown, field: string): string {
  if (typeof c !== "string" || !/^[A-Za-z]{2}$/.test(c) || !countryName(c.toUpperCase())) {
    throw new GatewayError("invalid_argument", `${field}: must be a two-letter ISO 3166-1 country code (like "US"), got ${JSON.stringify(c)}`, { field });
  }
  return c.toUpperCase();
}

/** An ISO 8601 instant of a time range (Gemini's timeRangeFilter), validated; undefined when absent. */
export function rangeInstant(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new GatewayError("invalid_argument", `${field}: must be an RFC 3339 timestamp (like "2026-11-01T00:00:00Z"), got ${JSON.stringify(v)}`, { field });
  }
  return new Date(v).toISOString();
}

/** OpenAI's search_context_size as a number of results (web_search_options and the Responses tool). */
export const CONTEXT_RESULTS: Readonly<Record<string, number>> = { low: 3, medium: 5, high: 10 };
const QUERY_CHARS = 400;
const USD = 1e9;

/** The text the search is made with: the last user message's text, trimmed to QUERY_CHARS. */
export function searchQuery(messages: readonly ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role !== "user") continue;
    const text = m.content
      .map((p) => (p.type === "text" ? p.text : ""))
      .join(" ")
      .replace(/\s+/g, " ")
      .trim();
    if (text) return text.length > QUERY_CHARS ? text.slice(0, QUERY_CHARS) : text;
  }
  return "";
}

const dateText = (now: Date) => now.toISOString().slice(0, 10);

/** OpenRouter's prompt before the results (its search_prompt replaces it). */
export function defaultSearchPrompt(now: Date): string {
  return (
    `A web search was conducted on ${dateText(now)}. Incorporate the following web search results into your response.\n\n` +
    "IMPORTANT: Cite them using markdown links named using the domain of the source.\nExample: [nytimes.com](https://nytimes.com/some-page)."
  );
}

/** The system message carrying the results (web results unless another renderer is given: a file search's passages). */
export function resultsMessage<T = SearchResult>(results: readonly T[], prompt: string, block: (r: T, i: number) => string = resultBlock as unknown as (r: T, i: number) => string): ChatMessage {
  return { role: "system", content: [{ type: "text", text: `${prompt}\n\n${results.map(block).join("\n\n")}` }] };
}

/** One result as the model reads it: its number, title, URL, date and text. */
const resultBlock = (r: SearchResult, i: number): string => [`[${i + 1}] ${r.title || r.url}`, `URL: ${r.url}`, ...(r.published ? [`Published: ${r.published}`] : []), r.text].filter(Boolean).join("\n");

/** The messages with the results' system message just before the last user message. */
export function withResults(messages: readonly ChatMessage[], msg: ChatMessage): ChatMessage[] {
  let at = messages.length;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === "user") {
      at = i;
      break;
    }
  }
  return [...messages.slice(0, at), msg, ...messages.slice(at)];
}

/**
 * The results an answer cites: each result whose URL appears in the text, at the markdown link
 * around it when there is one (`[domain](url)`), else at the bare URL; in order of appearance.
 */
export function citationsIn(text: string, results: readonly SearchResult[]): Citation[] {
  const out: Citation[] = [];
  for (const r of results) {
    if (!r.url) continue;
    const at = text.indexOf(r.url);
    if (at < 0) continue;
    let start = at;
    let end = at + r.url.length;
    // Inside "[label](url)": the annotation spans the whole link.
    if (text[at - 1] === "(" && text[at - 2] === "]" && text[end] === ")") {
      const open = text.lastIndexOf("[", at - 2);
      if (open >= 0 && !text.slice(open, at - 2).includes("\n")) {
        start = open;
        end += 1;
      }
    }
    out.push({ url: r.url, title: r.title, content: r.text, startIndex: start, endIndex: end });
  }
  return out.sort((a, b) => a.startIndex - b.startIndex);
}

/**
 * The mock engine (the embedded default config's, to try web search without a key): results made
 * from the query, on example.com addresses, at no cost, saying they are made up.
 */
export function mockResults(query: string, n: number): SearchResult[] {
  return mockSearchHits(query, n).map(({ title, url, snippet }) => ({ title, url, text: snippet }));
}

async function callEngine(cfg: WebSearchConfig, query: string, n: number, ws: WebSearchRequest, signal: AbortSignal): Promise<{ results: SearchResult[]; reportedUsd?: number }> {
  const allow = ws.allowedDomains?.length ? ws.allowedDomains : undefined;
  const block = ws.blockedDomains?.length ? ws.blockedDomains : undefined;
  if (cfg.engine === "mock") {
    // Made up on the first allowed domain, when the request names some.
    return { results: mockSearchHits(query, n, allow, block).map(({ title, url, snippet }) => ({ title, url, text: snippet })), reportedUsd: 0 };
  }
  const engine = cfg.engine;
  if (engine === "routed") throw new Error("web_search: a routed search goes through its model's plan");
  const ask = { query, mode: engine === "exa" ? "auto" : "basic", maxResults: n, maxCharacters: cfg.maxCharacters, ...(allow ? { allowedDomains: allow } : {}), ...(block ? { blockedDomains: block } : {}), ...(ws.country ? { country: ws.country } : {}), ...(ws.publishedAfter ? { publishedAfter: ws.publishedAfter } : {}), ...(ws.publishedBefore ? { publishedBefore: ws.publishedBefore } : {}) };
  const res = await request(`${cfg.baseUrl.replace(/\/+$/, "")}/search`, { method: "POST", headers: searchHeaders(engine, cfg.apiKey), body: JSON.stringify(searchBody(engine, ask)), signal });
  const raw = await res.body.text();
  if (res.statusCode < 200 || res.statusCode >= 300) {
    // The engine's own words, never the key (an engine that echoes it gets it cut out).
    const e = classifySearchError(engine, res.statusCode, raw, {}, [cfg.apiKey]);
    throw new Error(e.message.replace(`${engine} ${res.statusCode}`, `${engine}: HTTP ${res.statusCode}`));
  }
  const p = parseSearchBody(engine, raw, ask);
  return { results: p.results.map((r) => ({ title: r.title, url: r.url, text: r.snippet, ...(r.published ? { published: r.published } : {}) })), ...(p.reportedUsd !== undefined ? { reportedUsd: p.reportedUsd } : {}) };
}

/** What a search of `ws` is expected to cost before the engine reports it: the configured prices, which admission holds. */
export const expectedSearchNanos = (cfg: WebSearchConfig, ws: WebSearchRequest): number => (ws.memo?.outcome ? 0 : cfg.pricePerSearchNanos + cfg.pricePerResultNanos * Math.min(ws.maxResults ?? cfg.maxResults, MAX_WEB_RESULTS));

/** Tokens a chat message costs besides its text (role and framing), as OpenAI counts them. */
const MESSAGE_TOKENS = 4;

/**
 * Put the results' system message into each candidate's prompt, with as many of the results (in
 * their order) as its deployment's context window holds beside the prompt the planner fitted and
 * the output it allows for: all of them, unless the window is nearly full.
 */
export function fitResults<T = SearchResult>(plan: Plan, results: readonly T[], prompt: string, o: { block: (r: T, i: number) => string; field: string; what: string } = { block: resultBlock as unknown as (r: T, i: number) => string, field: "web_search", what: "web results" }): void {
  // The tokens of the prompt line and of each result, per token family (counted once each).
  const sizes = new Map<TokenFamily, { head: number; each: number[] }>();
  const messages = new Map<number, ChatMessage | undefined>();
  const messageOf = (k: number) => {
    if (!messages.has(k)) messages.set(k, k === 0 ? undefined : resultsMessage(results.slice(0, k), prompt, o.block));
    return messages.get(k);
  };
  for (const c of plan.candidates) {
    const d = c.deployment;
    const family = tokenFamily(d.baseModel ?? d.model, c.provider.type);
    let size = sizes.get(family);
    if (!size) {
      // Each block with the blank line before it; the prompt with the message's framing.
      size = { head: countTextTokens(prompt, family) + MESSAGE_TOKENS, each: results.map((r, i) => countTextTokens(`\n\n${o.block(r, i)}`, family)) };
      sizes.set(family, size);
    }
    const room = d.contextWindow - c.estimatedInputTokens - (plan.maxOutputTokens ?? 0) - size.head;
    let k = 0;
    for (let used = 0; k < results.length && used + size.each[k] <= room; k++) used += size.each[k];
    const msg = messageOf(k);
    if (msg) c.request = { ...c.request, messages: withResults(c.request.messages, msg) };
    if (k < results.length) {
      c.adjustments = [
        ...c.adjustments,
        { field: o.field, detail: k === 0 ? `no ${o.what.replace(/s$/, "")} fits the context window of ${d.id} (${d.contextWindow} tokens) beside the prompt: answered without them` : `${k} of ${results.length} ${o.what} fit the context window of ${d.id} (${d.contextWindow} tokens) beside the prompt: the rest were left out` },
      ];
    }
  }
}

/**
 * Search for a chat call and put the results in every candidate's messages. Returns what was found
 * (and what it cost), or undefined when the call does not ask for web search.
 */
/** One search the model asked for, with its query: as searchForCall, its results left for the caller to give back. */
export async function searchForModel(
  cfg: WebSearchConfig,
  call: ChatCall,
  plan: Plan,
  query: string,
  signal: AbortSignal,
  tracer: Tracer | undefined,
  parent: Context | undefined,
  screen?: (results: SearchResult[]) => Promise<{ kept: SearchResult[]; dropped: string[]; redacted: number }>,
  routed?: RoutedSearch,
): Promise<WebSearchOutcome> {
  return searchOnce(cfg, call, call.webSearch ?? {}, plan, signal, tracer, parent, new Date(), screen, query, routed);
}

export async function searchForCall(
  cfg: WebSearchConfig | undefined,
  call: ChatCall,
  plan: Plan,
  signal: AbortSignal,
  tracer: Tracer | undefined,
  parent: Context | undefined,
  now = new Date(),
  /** The configured guardrails over the results: each result as the model will read it, or why it was left out. */
  screen?: (results: SearchResult[]) => Promise<{ kept: SearchResult[]; dropped: string[]; redacted: number }>,
  routed?: RoutedSearch,
): Promise<WebSearchOutcome | undefined> {
  const ws = call.webSearch;
  if (!ws) return undefined;
  if (!cfg) throw new GatewayError("failed_precondition", "web_search: web search is not configured on this gateway (web_search in the config)", { field: "web_search" });
  const earlier = ws.memo?.outcome;
  if (earlier) {
    // A later turn of the same response: the first turn's results again, at no cost.
    const outcome: WebSearchOutcome = { ...earlier, costNanos: 0, reused: true };
    if (outcome.results.length) fitResults(plan, outcome.results, ws.searchPrompt ?? defaultSearchPrompt(now));
    plan.adjustments.push({ field: "web_search", detail: `the ${outcome.results.length} result${outcome.results.length === 1 ? "" : "s"} of this response's first search added before the last user message` });
    return outcome;
  }
  const outcome = await searchOnce(cfg, call, ws, plan, signal, tracer, parent, now, screen, undefined, routed);
  if (ws.memo) ws.memo.outcome = outcome;
  return outcome;
}

async function searchOnce(
  cfg: WebSearchConfig,
  call: ChatCall,
  ws: WebSearchRequest,
  plan: Plan,
  signal: AbortSignal,
  tracer: Tracer | undefined,
  parent: Context | undefined,
  now: Date,
  screen: ((results: SearchResult[]) => Promise<{ kept: SearchResult[]; dropped: string[]; redacted: number }>) | undefined,
  /** The model's query (a search it decided on): its results go back to it as the call's result, not into the prompts. */
  modelQuery?: string,
  routed?: RoutedSearch,
): Promise<WebSearchOutcome> {
  const query = modelQuery ?? searchQuery(call.request.messages);
  if (!query) throw new GatewayError("invalid_argument", "web_search: the request has no user message with text to search for", { field: "messages" });
  const n = Math.min(ws.maxResults ?? cfg.maxResults, MAX_WEB_RESULTS);
  const outcome: WebSearchOutcome = { engine: cfg.engine, query, results: [], costNanos: 0 };
  try {
    const timeout = AbortSignal.timeout(cfg.timeoutMs);
    const within = AbortSignal.any([signal, timeout]);
    const label = routed ? (cfg.model ?? "") : cfg.engine;
    const found = await inSpan(
      tracer,
      parent,
      `web_search ${label}`,
      { "signalbox.web_search.engine": cfg.engine, "signalbox.web_search.max_results": n, ...(routed ? { "signalbox.web_search.model": label } : {}) },
      (inner): Promise<{ results: SearchResult[]; costNanos: number; engine: string; deployment?: string; attempts?: number }> =>
        (routed
          ? routed(query, n, ws, within, inner)
          : callEngine(cfg, query, n, ws, within).then((f) => ({ results: f.results, costNanos: Math.round(f.reportedUsd !== undefined ? f.reportedUsd * USD : cfg.pricePerSearchNanos + cfg.pricePerResultNanos * f.results.length), engine: cfg.engine }))
        ).catch((err) => {
          if (signal.aborted) throw err;
          throw timeout.aborted ? new Error(`${label}: no answer within ${cfg.timeoutMs} ms`) : err;
        }),
      (span, v) => span.setAttributes({ "signalbox.web_search.results": v.results.length, ...(v.deployment ? { "signalbox.web_search.deployment": v.deployment, "signalbox.web_search.attempts": v.attempts ?? 1 } : {}) }),
    );
    outcome.results = found.results;
    outcome.costNanos = found.costNanos;
    outcome.engine = found.engine;
  } catch (err) {
    if (signal.aborted) throw err;
    const why = (err as Error)?.message ?? String(err);
    if (cfg.onFailure === "fail") throw new GatewayError("unavailable", `web_search: the search failed (${why})${modelQuery === undefined ? "; no model was called" : ""}`, {}, err);
    outcome.failed = why;
    plan.adjustments.push({ field: "web_search", detail: `the search failed (${why}): answered without web results` });
    return outcome;
  }
  if (screen && outcome.results.length) {
    const found = outcome.results.length;
    const s = await screen(outcome.results);
    outcome.results = s.kept;
    for (const why of s.dropped) plan.adjustments.push({ field: "web_search", detail: `a result was left out: ${why}` });
    if (s.redacted) plan.adjustments.push({ field: "web_search", detail: `guardrails redacted ${s.redacted} of ${found} result${found === 1 ? "" : "s"}` });
  }
  const found = `${outcome.results.length} result${outcome.results.length === 1 ? "" : "s"} from ${outcome.engine}`;
  if (modelQuery !== undefined) {
    plan.adjustments.push({ field: "web_search", detail: `${found} for the model's search "${query}"` });
    return outcome;
  }
  if (outcome.results.length) fitResults(plan, outcome.results, ws.searchPrompt ?? defaultSearchPrompt(now));
  plan.adjustments.push({ field: "web_search", detail: `${found} added before the last user message` });
  return outcome;
}

/** The function a model decides its searches with (the hosted web search tools of the Responses and Messages APIs). */
export const SEARCH_FUNCTION = "web_search";
const SEARCH_TOOL: ToolDef = {
  name: SEARCH_FUNCTION,
  description: "Search the web for current information. The results come back with their URLs: cite the ones you use as markdown links named using the domain of the source.",
  parameters: { type: "object", properties: { query: { type: "string", description: "What to search for" } }, required: ["query"] },
};
/** Searches a model may make in one request when the request does not say (Anthropic's max_uses). */
export const MAX_MODEL_SEARCHES = 5;

/**
 * Whether the model decides when and what to search: asked for by a hosted tool (not OpenRouter's
 * plugin or OpenAI's web_search_options, which search before the model), every candidate calls
 * tools, the request has no tools of its own (nor a forced choice), and no earlier turn of the
 * response searched (an MCP loop reuses that search).
 */
export function searchByModel(call: ChatCall, plan: Plan): boolean {
  const ws = call.webSearch;
  if (!ws?.byModel || ws.memo) return false;
  const choice = call.request.toolChoice;
  if (choice && choice.type !== "auto") return false;
  // Tools of the request's own: the answer turn could not be held to answering.
  if (call.request.tools?.length) return false;
  return plan.candidates.length > 0 && plan.candidates.every((c) => c.deployment.capabilities.includes("tools"));
}

/** Offer the model the search function, beside the request's own tools. */
export function offerSearch(plan: Plan): void {
  for (const c of plan.candidates) c.request = { ...c.request, tools: [...(c.request.tools ?? []), SEARCH_TOOL] };
}

/** The model's searches in an answer: its calls of the search function, when it called nothing else. */
export function searchCalls(toolCalls: readonly ToolCall[]): ToolCall[] {
  return toolCalls.length > 0 && toolCalls.every((c) => c.name === SEARCH_FUNCTION) ? [...toolCalls] : [];
}

/** The query of one search call ("" when its arguments name none). */
export function callQuery(c: ToolCall): string {
  try {
    const q = (JSON.parse(c.arguments) as { query?: unknown }).query;
    return typeof q === "string" ? q.trim().slice(0, QUERY_CHARS) : "";
  } catch {
    return "";
  }
}

/**
 * The conversation after the model's searches: its turn (text, signed reasoning, the calls) and each
 * call's results. After the last turn allowed to search the next one answers (tool_choice none:
 * the function stays declared, as providers want for a history with tool calls); before it, the
 * model may search again.
 */
export function continueAfterSearch(plan: Plan, turn: { text: string; reasoningBlocks?: ReasoningBlock[] }, answers: { call: ToolCall; text: string }[], last = true): void {
  const asked: ChatMessage = { role: "assistant", content: turn.text ? [{ type: "text", text: turn.text }] : [], toolCalls: answers.map((a) => a.call), ...(turn.reasoningBlocks?.length ? { reasoningBlocks: turn.reasoningBlocks } : {}) };
  const results = answers.map((a): ChatMessage => ({ role: "tool", toolCallId: a.call.id, name: SEARCH_FUNCTION, content: [{ type: "text", text: a.text }] }));
  // Not the last turn: the model may search again (tool_choice as the request had it), else it must answer.
  for (const c of plan.candidates) c.request = { ...c.request, messages: [...c.request.messages, asked, ...results], ...(last ? { toolChoice: { type: "none" as const } } : {}) };
}

/** What the model reads as a search call's result. */
export function searchResultText(o: WebSearchOutcome): string {
  if (o.failed) return `The search failed (${o.failed}). Answer without web results.`;
  if (!o.results.length) return "The search found nothing.";
  return o.results.map(resultBlock).join("\n\n");
}
