// What a config reload changes: the version of a Config, the human list of differences between
// two, which parts only a restart can change, and which built objects (providers) can be kept.

import { createHash } from "node:crypto";
import type { Config, ProviderConfig } from "./types.ts";

/** What `Gateway.reload` answers (and `AdminService.ReloadConfig` returns). */
export interface ReloadResult {
  /** The version of the configuration now in force. */
  version: string;
  /** The version before the reload (equal when nothing changed). */
  previousVersion: string;
  /** One line per change: "deployment added: x", "route changed: chat", "server.port changed: requires restart". */
  changes: string[];
}

/** JSON with object keys sorted (and undefined members dropped), so equal data gives equal text. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val === null || typeof val !== "object" || Array.isArray(val)) return val;
    const o = val as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/** Deep equality of validated config data (plain JSON: objects, lists, strings, numbers, booleans). */
export function sameConfig(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/**
 * The version of a configuration: the first 12 hex digits of the sha256 of the normalised,
 * validated Config (defaults filled in, `${VAR}` substituted, keys sorted), not of the file's
 * bytes. So a comment or formatting edit keeps the version, a changed environment variable
 * (a rotated api_key) changes it, and a gateway built from a Config without a file (tests) has
 * one too. 48 bits of a hash over the whole document reveal nothing about the secrets in it.
 */
export function configVersion(config: Config): string {
  return createHash("sha256").update(canonical(config)).digest("hex").slice(0, 12);
}

/** YAML's spelling of a camelCase field, for messages ("maxRequestBytes" → "max_request_bytes"). */
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Added, removed and changed members of two lists keyed by name. */
function diffNamed<T>(what: string, prev: readonly T[], next: readonly T[], name: (t: T) => string): string[] {
  const before = new Map(prev.map((t) => [name(t), t]));
  const after = new Map(next.map((t) => [name(t), t]));
  const out: string[] = [];
  for (const [n, t] of after) {
    const old = before.get(n);
    if (old === undefined) out.push(`${what} added: ${n}`);
    else if (!sameConfig(old, t)) out.push(`${what} changed: ${n}`);
  }
  for (const n of before.keys()) if (!after.has(n)) out.push(`${what} removed: ${n}`);
  return out;
}

/** Fields that differ between two objects (one level deep). */
function changedFields(prev: object, next: object): string[] {
  const a = prev as Record<string, unknown>;
  const b = next as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !sameConfig(a[k], b[k]));
}

/**
 * Compare the configuration in force with a newly read one. Providers, deployments, aliases,
 * routes, keys, teams and guardrails change live; `server.*`, `store.*`, `batches.*` and `responses.*`
 * are read once at start-up (the listening socket, request size limits, CORS, the Redis connections,
 * the batch runner, the response stores), so a change there is
 * reported as "requires restart" and the running values are kept: the returned `config` is `next`
 * with `prev`'s sections of those, i.e. what will really be in force.
 */
export function reconcile(prev: Config, next: Config): { config: Config; changes: string[] } {
  const changes = [
    ...diffNamed("provider", prev.providers, next.providers, (p) => p.name),
    ...diffNamed("deployment", prev.deployments, next.deployments, (d) => d.id),
    ...diffNamed("deployment", prev.wildcards ?? [], next.wildcards ?? [], (w) => w.id),
    ...diffNamed("alias", Object.entries(prev.aliases), Object.entries(next.aliases), ([n]) => n),
    ...diffNamed("route", prev.routes, next.routes, (r) => r.name),
    ...diffNamed("key", prev.keys, next.keys, (k) => k.name),
    ...diffNamed("team", prev.teams, next.teams, (t) => t.name),
    ...diffNamed("guardrail", prev.guardrails ?? [], next.guardrails ?? [], (g) => g.name),
    ...diffNamed("alert", prev.alerts ?? [], next.alerts ?? [], (a) => a.name),
    ...diffNamed("prompt", prev.prompts ?? [], next.prompts ?? [], (p) => `${p.id}@${p.version}`),
    // Taken at once: the hub reads them per call and reconnects to a server whose URL or headers changed.
    ...diffNamed("mcp server", prev.mcpServers ?? [], next.mcpServers ?? [], (m) => m.id),
    // Taken at once: the next flush sends with the new settings (what waits included).
    ...diffNamed("usage export", prev.usageExport ?? [], next.usageExport ?? [], (e) => e.name),
    ...changedFields(prev.server, next.server).map((k) => `server.${snake(k)} changed: requires restart`),
    ...changedFields(prev.store, next.store).map((k) => `store.${snake(k)} changed: requires restart`),
    ...changedFields(prev.batches, next.batches).map((k) => `batches.${snake(k)} changed: requires restart`),
    ...changedFields(prev.responses, next.responses).map((k) => `responses.${snake(k)} changed: requires restart`),
  ];
  return { config: { ...next, server: prev.server, store: prev.store, batches: prev.batches, responses: prev.responses }, changes };
}

/**
 * The built objects for a new list of providers: an object whose provider config is deep-equal to
 * the one it was built from is kept as is (its connection pool and any state with it); a new or
 * changed provider is built afresh with `create`.
 */
export function reuseUnchanged<T>(prev: readonly ProviderConfig[], built: ReadonlyMap<string, T>, next: readonly ProviderConfig[], create: (p: ProviderConfig) => T): Map<string, T> {
  const before = new Map(prev.map((p) => [p.name, p]));
  const out = new Map<string, T>();
  for (const p of next) {
    const old = before.get(p.name);
    const kept = old && sameConfig(old, p) ? built.get(p.name) : undefined;
    out.set(p.name, kept ?? create(p));
  }
  return out;
}
