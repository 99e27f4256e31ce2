// What every command shares: the global flags, the client they build, the output mode, and
// turning a failure into words on stderr and an exit code a script can test.

import { storedSession } from "./sessions.ts";
import type { Command } from "commander";
import { AttemptOutcomeSchema, createSignalboxClient, FailureKindSchema, type SignalboxClient, SignalboxError } from "@signalbox/client";
import { dollars, enumLabel, ms } from "./format.ts";
import { note } from "./output.ts";

/** Exit codes: scripts test these. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export const DEFAULT_URL = "http://localhost:8080";

/**
 * A failure this CLI explains itself: what went wrong, what to do next, and the exit code. An
 * empty message means it has been explained already (only the exit code is left to set).
 */
export class CliError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(message: string, hint: string | undefined, exitCode: number) {
    super(message);
    this.name = "CliError";
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

/** Bad usage found after commander parsed the line (conflicting flags, nothing to change): exit 2. */
export const usageError = (message: string, hint?: string) => new CliError(message, hint, EXIT.usage);
/** A call that worked but could not give what was asked (nothing found): exit 1. */
export const failure = (message: string, hint?: string) => new CliError(message, hint, EXIT.failed);

export interface Globals {
  url: string;
  apiKey: string | undefined;
  json: boolean;
  csv: boolean;
}

export type Mode = "table" | "json" | "csv";

/** The global flags as seen from a command (they may be written before or after it). */
export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals<{ url?: string; apiKey?: string; json?: boolean; csv?: boolean }>();
  const url = ((o.url ?? process.env.SIGNALBOX_URL ?? "").trim() || DEFAULT_URL).replace(/\/+$/, "");
  // A key given wins; else the session `signalbox login` stored for this gateway.
  const apiKey = o.apiKey ?? (process.env.SIGNALBOX_API_KEY || undefined) ?? storedSession(url)?.token;
  return { url, apiKey, json: !!o.json, csv: !!o.csv };
}

/** How to print: --json, --csv (only where the command prints one table) or a table. */
export function modeOf(g: Globals, opts: { csv: boolean }): Mode {
  if (g.json && g.csv) throw usageError("--json and --csv cannot be used together", "pick one");
  if (g.csv && !opts.csv) throw usageError("--csv is not available here: this command does not print a single table", "use --json for scripts");
  return g.json ? "json" : g.csv ? "csv" : "table";
}

/** The gateway's URL, checked: bad usage when it is not http(s). */
export function checkedUrl(g: Globals): string {
  if (!/^https?:\/\/[^/\s]+/.test(g.url)) throw usageError(`--url: "${g.url}" is not an http(s) URL`, "use e.g. --url http://localhost:8080 (or set SIGNALBOX_URL)");
  return g.url;
}

/** The typed client for these flags. A command line has no active span: no trace forwarding. */
export function clientOf(g: Globals): SignalboxClient {
  checkedUrl(g);
  return createSignalboxClient({ baseUrl: g.url, apiKey: g.apiKey, opentelemetry: false, timeoutMs: 30_000 });
}

/** What a command that calls the gateway starts with: how to print, and the client. */
export function setup(cmd: Command, opts: { csv: boolean }): { mode: Mode; sb: SignalboxClient } {
  const g = globals(cmd);
  return { mode: modeOf(g, opts), sb: clientOf(g) };
}

/** Where to look a trace up: SIGNALBOX_TRACE_URL with {trace_id} filled in, else the id. */
export function traceLink(traceId: string): string {
  if (!traceId) return "";
  const tpl = process.env.SIGNALBOX_TRACE_URL;
  return tpl && tpl.includes("{trace_id}") ? tpl.replaceAll("{trace_id}", traceId) : traceId;
}

const NETWORK = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|socket hang up|fetch failed/;

/** What to do next, by code (a Connect error's, or the one a REST call's HTTP status stands for). */
export function hintFor(err: { codeName: string; rawMessage: string; field?: string; retryAfterMs?: number }, g: Globals | undefined): string | undefined {
  const where = g?.url ?? DEFAULT_URL;
  switch (err.codeName) {
    case "unauthenticated":
      return "pass a caller key with --api-key or set SIGNALBOX_API_KEY";
    case "permission_denied":
      return "this key's role may not do this: use an admin key (a team key may manage its own team's keys and usage)";
    case "unavailable":
      return NETWORK.test(err.rawMessage) ? `is the gateway running at ${where}? Set SIGNALBOX_URL or pass --url` : "the gateway could not serve it right now: try again shortly";
    case "deadline_exceeded":
      return "the gateway did not answer in time: try again";
    case "resource_exhausted":
      return err.retryAfterMs !== undefined ? `try again in ${Math.ceil(err.retryAfterMs / 1000)}s` : "a limit or budget is spent: see `signalbox budget`";
    case "not_found":
      return "check the name or id: `signalbox requests`, `signalbox models`, `signalbox keys list`, `signalbox teams list` and `signalbox entries list` show what exists";
    case "invalid_argument":
      return err.field ? `fix the value of ${err.field} and try again` : undefined;
    case "unimplemented":
      return `the gateway at ${where} does not serve this call: is it an older version?`;
    default:
      return undefined;
  }
}

/** Say on stderr why the command failed; returns the exit code. */
export function report(err: unknown, g?: Globals): number {
  if (err instanceof CliError) {
    if (err.message) note(`error: ${err.message}`);
    if (err.hint) note(`hint: ${err.hint}`);
    return err.exitCode;
  }
  if (err instanceof SignalboxError || (err instanceof Error && err.name === "ConnectError")) {
    const e = SignalboxError.from(err);
    const lines = [`error: ${e.rawMessage || e.message} (${e.codeName})`];
    if (e.field) lines.push(`  field: ${e.field}`);
    if (e.failureKindName) lines.push(`  failure: ${e.failureKindName}`);
    for (const a of e.attempts) {
      const kind = a.failureKind ? ` ${enumLabel(FailureKindSchema, a.failureKind)}` : "";
      lines.push(`  attempt ${a.number}: ${a.deployment} ${enumLabel(AttemptOutcomeSchema, a.outcome)}${kind}${a.errorMessage ? `: ${a.errorMessage}` : ""}`);
    }
    if (e.traceId) lines.push(`  trace: ${traceLink(e.traceId)}`);
    const hint = hintFor(e, g);
    if (hint) lines.push(`hint: ${hint}`);
    note(lines.join("\n"));
    return EXIT.failed;
  }
  note(`error: ${err instanceof Error ? err.message : String(err)}`);
  if (process.env.SIGNALBOX_DEBUG && err instanceof Error && err.stack) note(err.stack);
  return EXIT.failed;
}

/** Standard input as text ("" on a terminal): a prompt or documents piped in. */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  let text = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

/**
 * The summary a command prints on stderr after a response: what it says first (`head`, empty
 * parts left out), then the cost, the latency, and the request and trace ids.
 */
export function responseSummary(head: string[], r: { id: string; traceId: string; cost?: { totalNanoUsd: bigint }; timing?: { latencyMs: number } }): string {
  return [...head, dollars(r.cost?.totalNanoUsd), ms(r.timing?.latencyMs), `request ${r.id}`, r.traceId ? `trace ${traceLink(r.traceId)}` : ""].filter(Boolean).join(" · ");
}
