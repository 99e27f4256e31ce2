// Wildcard deployments' rules, in one place: which wildcard a name falls under, what model it
// stands for, and what an allow list entry ending in "*" allows.

import type { WildcardDeployment } from "./types.ts";

/** What the "*" of a wildcard may stand for: a model name, no spaces, quotes or path tricks. */
const MODEL_PART = /^[A-Za-z0-9][A-Za-z0-9_.:@\/-]*$/;

/** The wildcard a name falls under (the list sorted longest prefix first, as Config.wildcards is). */
export function wildcardFor(wildcards: readonly WildcardDeployment[] | undefined, name: string): WildcardDeployment | undefined {
  return wildcards?.find((w) => name.length > w.prefix.length && name.startsWith(w.prefix));
}

/** The part of a name after its wildcard's prefix, or undefined when it is not a model name. */
export function wildcardPart(w: WildcardDeployment, name: string): string | undefined {
  const part = name.slice(w.prefix.length);
  return MODEL_PART.test(part) && !part.includes("..") ? part : undefined;
}

/** Whether an allow list lets a key name a model: listed by name, or started by an entry ending in "*". */
export function allowListAllows(allow: readonly string[], name: string): boolean {
  return allow.length === 0 || allow.includes(name) || allow.some((a) => a.endsWith("*") && name.length >= a.length && name.startsWith(a.slice(0, -1)));
}
