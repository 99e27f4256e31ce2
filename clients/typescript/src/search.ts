// Web search in one line: `searchWeb(client, query)` returns the pages the gateway's search engines
// found (title, address, dates, text), best first, with the whole answer (which engine answered,
// searches billed, cost, trace id).

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CallOptions } from "@connectrpc/connect";
import type { SignalboxClient } from "./client.ts";
import { SearchRequestSchema, type SearchRequest, type SearchResponse } from "./gen/signalbox/v1/search_pb.ts";

/** Every SearchRequest field but the queries, as plain init values; `model` defaults to the route `search`. */
export type SearchOptions = Omit<Exclude<MessageInitShape<typeof SearchRequestSchema>, SearchRequest>, "$typeName" | "queries">;

export interface WebPage {
  title: string;
  url: string;
  /** The page's text as the engine extracted it. */
  snippet: string;
  /** YYYY-MM-DD, when the engine says. */
  published?: string;
  updated?: string;
  /** Which query found it (its index in the queries given). */
  query: number;
}

export interface SearchWebResult {
  /** Each query's pages, in query order. */
  pages: WebPage[];
  /** The whole answer: deployment, usage (search_units), cost, attempts, trace id, cache_hit. */
  response: SearchResponse;
}

/**
 * Search the web through the gateway's SearchService: one query, or several (each one search,
 * billed as one). `options` takes any other SearchRequest field (model, max_results,
 * allowed_domains or blocked_domains, country, published_after/before, max_characters, routing,
 * cache, user, tags, metadata).
 */
export async function searchWeb(client: SignalboxClient, query: string | string[], options: SearchOptions = {}, callOptions?: CallOptions): Promise<SearchWebResult> {
  const response = await client.search.search(create(SearchRequestSchema, { model: "search", ...options, queries: typeof query === "string" ? [query] : query }), callOptions);
  return {
    pages: response.results.map((r) => ({
      title: r.title,
      url: r.url,
      snippet: r.snippet,
      ...(r.published ? { published: r.published } : {}),
      ...(r.updated ? { updated: r.updated } : {}),
      query: r.queryIndex,
    })),
    response,
  };
}
