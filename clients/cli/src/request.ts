// The routing and attribution flags the model-calling commands share (transcribe, speak,
// moderate): --fallbacks, --no-fallback, --user, --tag and --metadata, their request fields, and
// the "who served it" head of their summaries.

import { type Command, InvalidArgumentError } from "commander";
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
