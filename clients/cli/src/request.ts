// The routing and attribution flags the model-calling commands share (transcribe, speak,
// moderate): --fallbacks, --no-fallback, --user, --tag and --metadata, their request fields, and
// the "who served it" head of their summaries; and the provider preference flags of `route
// explain` and `chat` (--provider-order, --only-providers, --ignore-providers, --sort-providers, --zdr).

import { type Command, InvalidArgumentError } from "commander";
import { ProviderSort } from "@signalbox/client";
import { parseList } from "./parse.ts";

/** "tier=pro" → { tier: "pro" }; a value without "=" is bad usage. */
export function parsePair(v: string, acc: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected key=value, got "${v}"`);
  return { ...acc, [v.slice(0, i).trim()]: v.slice(i + 1).trim() };
}

/** The routing and attribution flags, as commander parses them. */
export interface RequestFlags {
  fallbacks?: string[];
  fallback: boolean;
  user?: string;
  tag?: string[];
  metadata?: Record<string, string>;
}

/** Add those flags to a command. */
export function requestFlags(c: Command): Command {
  return c
    .option("--fallbacks <models>", "models to try, in order, after the requested one fails (comma-separated)", parseList)
    .option("--no-fallback", "only the first candidate is tried (its retries still apply)")
    .option("--user <user>", "the end user the request is made for")
    .option("--tag <tags>", "tags, comma-separated (in usage records; what a route's conditions may test)", parseList)
    .option("--metadata <key=value>", "metadata entries, repeatable (what a route's conditions may test)", parsePair);
}

/** The request fields of those flags (nothing set when none was given). */
export function requestFields(o: RequestFlags) {
  return {
    ...(o.fallbacks?.length || !o.fallback ? { routing: { fallbacks: o.fallbacks ?? [], noFallback: !o.fallback } } : {}),
    ...(o.user ? { user: o.user } : {}),
    ...(o.tag?.length ? { tags: o.tag } : {}),
    ...(o.metadata ? { metadata: o.metadata } : {}),
  };
}

/** "mock/tts (route speech)": who served the call, first in the summaries. */
export const servedBy = (r: { deployment: string; routing?: { route: string } }) => `${r.deployment}${r.routing?.route ? ` (route ${r.routing.route})` : ""}`;

/** The provider preference flags (`route explain`, `chat`), as commander parses them. */
export interface ProviderFlags {
  providerOrder?: string[];
  onlyProviders?: string[];
  ignoreProviders?: string[];
  sortProviders?: "price" | "throughput" | "latency";
  zdr?: boolean;
}

const SORTS = ["price", "throughput", "latency"] as const;
// A function, not a table built at load: @signalbox/client is only loaded when a command runs.
const sortOf = (by: (typeof SORTS)[number]) => ({ price: ProviderSort.PRICE, throughput: ProviderSort.THROUGHPUT, latency: ProviderSort.LATENCY })[by];

/** Add those flags to a command. */
export function providerFlags(c: Command): Command {
  return c
    .option("--provider-order <providers>", "providers tried first, in this order (names or types, comma-separated)", parseList)
    .option("--only-providers <providers>", "only these providers (comma-separated)", parseList)
    .option("--ignore-providers <providers>", "never these providers (comma-separated)", parseList)
    .option("--sort-providers <by>", `order the candidates by ${SORTS.join(", ")}`, (v: string) => {
      if (!(SORTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${SORTS.join(", ")}`);
      return v;
    })
    .option("--zdr", "only providers with a zero-retention data policy");
}

/** RoutingOptions.providers of those flags (undefined when none was given). */
export function providerPreferences(o: ProviderFlags) {
  if (!o.providerOrder?.length && !o.onlyProviders?.length && !o.ignoreProviders?.length && !o.sortProviders && !o.zdr) return undefined;
  return {
    order: o.providerOrder ?? [],
    only: o.onlyProviders ?? [],
    ignore: o.ignoreProviders ?? [],
    sort: o.sortProviders ? sortOf(o.sortProviders) : ProviderSort.UNSPECIFIED,
    zdr: o.zdr ?? false,
  };
}
