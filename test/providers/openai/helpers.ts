// Test helpers for the OpenAI-family adapter: connections, fixtures, and feeding SSE text through
// the real parser and a translator in arbitrary byte splits.

import { readFileSync } from "node:fs";
import type { CompatQuirks, ProviderConfig, ProviderType } from "../../../src/config/types.ts";
import { createSseParser } from "../../../src/providers/sse.ts";
import type { StreamEvent, StreamTranslator } from "../../../src/providers/types.ts";

/** OpenAI's own behaviour (the config default for type openai). */
export const OPENAI_QUIRKS: CompatQuirks = {
  maxTokensField: "max_completion_tokens",
  streamUsage: true,
  dropFields: [],
  usagePaths: [],
  developerRole: true,
};

/** The per-vendor quirks this adapter was tested with (recommended config defaults). */
export const VENDOR: Record<string, CompatQuirks> = {
  ollama: { maxTokensField: "max_tokens", streamUsage: true, dropFields: [], usagePaths: [], developerRole: false },
  vllm: { maxTokensField: "max_tokens", streamUsage: true, dropFields: [], usagePaths: [], developerRole: false },
  groq: { maxTokensField: "max_completion_tokens", streamUsage: false, dropFields: [], usagePaths: ["x_groq.usage"], developerRole: false },
  mistral: {
    maxTokensField: "max_tokens",
    streamUsage: false,
    dropFields: ["parallel_tool_calls", "seed", "user", "reasoning_effort"],
    usagePaths: [],
    developerRole: false,
  },
  together: { maxTokensField: "max_tokens", streamUsage: true, dropFields: [], usagePaths: [], developerRole: false },
};

const BASE_URLS: Record<string, string> = {
  openai: "https://api.openai.com/v1",
  azure: "https://myres.openai.azure.com",
  openrouter: "https://openrouter.ai/api/v1",
  "openai-compatible": "http://localhost:11434/v1",
};

export function makeConn(type: ProviderType, over: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: `${type}-test`,
    type,
    baseUrl: BASE_URLS[type] ?? "http://localhost",
    apiKey: "sk-test-key-0123456789",
    headers: {},
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    maxConnections: 4,
    compat: { ...OPENAI_QUIRKS },
    mock: { ttftMs: 0, interChunkMs: 0, chunks: 1, failureRate: 0, failureKind: "overloaded", failAfterChunks: -1, outputTokens: 1 },
    ...over,
  };
}

export function fixture(dir: "openai" | "azure" | "openrouter", name: string): string {
  return readFileSync(new URL(`../../fixtures/${dir}/${name}`, import.meta.url), "utf8");
}

/**
 * Feed SSE text through createSseParser() and the translator, cut into pieces of `split` bytes
 * (a number, or a list of cut sizes used cyclically), then end both. Returns all events.
 */
export function runStream(tr: StreamTranslator, sse: string, split: number | number[] = Infinity): StreamEvent[] {
  const bytes = new TextEncoder().encode(sse);
  const sizes = Array.isArray(split) ? split : [split];
  const parser = createSseParser();
  const out: StreamEvent[] = [];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const size = Math.max(1, Math.min(sizes[i++ % sizes.length], bytes.length - pos));
    for (const e of parser.push(bytes.subarray(pos, pos + size))) out.push(...tr.event(e));
    pos += size;
  }
  for (const e of parser.end()) out.push(...tr.event(e));
  out.push(...tr.end());
  return out;
}

/** Like runStream, but collects the events emitted before a throw and returns the error too. */
export function runStreamUntilError(tr: StreamTranslator, sse: string): { events: StreamEvent[]; error: unknown } {
  const parser = createSseParser();
  const events: StreamEvent[] = [];
  try {
    for (const e of parser.push(new TextEncoder().encode(sse))) events.push(...tr.event(e));
    for (const e of parser.end()) events.push(...tr.event(e));
    events.push(...tr.end());
  } catch (error) {
    return { events, error };
  }
  return { events, error: undefined };
}
