// Shared helpers for the Gemini adapter tests: a connection, fixtures, and replaying recorded SSE
// bytes through the real SSE parser and a translator in arbitrary network-sized pieces.

import { readFileSync } from "node:fs";
import type { ProviderConfig } from "../../../src/config/types.ts";
import { createSseParser } from "../../../src/providers/sse.ts";
import type { StreamEvent, StreamTranslator } from "../../../src/providers/types.ts";

export const API_KEY = "AIza" + "SyTESTKEY-0123456789abcdefghijklmno";

export function conn(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: "gemini-main",
    type: "gemini",
    baseUrl: "https://generativelanguage.googleapis.com",
    apiKey: API_KEY,
    headers: {},
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    maxConnections: 4,
    compat: { maxTokensField: "max_tokens", streamUsage: false, dropFields: [], usagePaths: [], developerRole: true },
    mock: { ttftMs: 0, interChunkMs: 0, chunks: 1, failureRate: 0, failureKind: "unknown", failAfterChunks: -1, outputTokens: 1 },
    ...overrides,
  };
}

const FIXTURES = new URL("../../fixtures/gemini/", import.meta.url);

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, FIXTURES)));
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES), "utf8");
}

/** Cut bytes into pieces at the given offsets. */
export function splitAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const o of [...offsets].sort((a, b) => a - b)) {
    if (o <= start || o >= bytes.length) continue;
    out.push(bytes.subarray(start, o));
    start = o;
  }
  out.push(bytes.subarray(start));
  return out;
}

/** Cut bytes into pieces of n bytes. */
export function slices(bytes: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += n) out.push(bytes.subarray(i, i + n));
  return out;
}

/**
 * Replay chunks through createSseParser and the translator, as http-provider does. Returns the events
 * produced before a throw, and the thrown error (if any).
 */
export function replay(tr: StreamTranslator, chunks: Uint8Array[]): { events: StreamEvent[]; error?: unknown } {
  const sse = createSseParser();
  const events: StreamEvent[] = [];
  try {
    for (const c of chunks) for (const e of sse.push(c)) events.push(...tr.event(e));
    for (const e of sse.end()) events.push(...tr.event(e));
    events.push(...tr.end());
  } catch (error) {
    return { events, error };
  }
  return { events };
}

/** Concatenated text of the given event type. */
export function joined(events: StreamEvent[], type: "text" | "reasoning"): string {
  return events.map((e) => (e.type === type ? e.text : "")).join("");
}
