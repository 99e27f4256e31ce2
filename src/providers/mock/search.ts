// The mock search engine: made-up pages about the query on example.com addresses (on the first
// allowed domain when the request names some), no web searched. The mock provider's search
// operation and the embedded config's `web_search: {engine: mock}` both answer with it.

import { onDomain } from "../search/engines.ts";
import type { SearchHit } from "../types.ts";

/** N made-up pages for a query; `allow` puts them on its first domain, `block` leaves out those on its domains. */
export function mockSearchHits(query: string, n: number, allow?: readonly string[], block?: readonly string[]): SearchHit[] {
  const slug = query.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "query";
  const hits = Array.from({ length: n }, (_, i): SearchHit => ({
    title: `Mock result ${i + 1} for "${query.slice(0, 80)}"`,
    url: allow?.length ? `https://${slug}-${i + 1}.${allow[0]}/` : `https://${slug}-${i + 1}.example.com/`,
    snippet: `A made-up page about ${query.slice(0, 200)} (the mock search engine of the embedded config: no web was searched).`,
  }));
  return block?.length ? hits.filter((h) => !onDomain(h.url, block)) : hits;
}
