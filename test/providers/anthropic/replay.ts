// Test helper: replays a recorded SSE transcript through the real SSE parser, cut into chunks of a
// given size (so events and UTF-8 code points are split across reads), then through a translator.

import { readFileSync } from "node:fs";
import { createSseParser } from "../../../src/providers/sse.ts";
import type { StreamEvent, StreamTranslator } from "../../../src/providers/types.ts";

export function fixture(name: string): Buffer {
  return readFileSync(new URL(`../../fixtures/anthropic/${name}`, import.meta.url));
}

export function fixtureText(name: string): string {
  return fixture(name).toString("utf8");
}

export interface Replay {
  events: StreamEvent[];
  error?: unknown;
}

/** Feed `bytes` in `chunkSize`-byte reads, exactly as http-provider.ts does. */
export function replay(bytes: Uint8Array, tr: StreamTranslator, chunkSize: number): Replay {
  const sse = createSseParser();
  const events: StreamEvent[] = [];
  try {
    for (let i = 0; i < bytes.length; i += chunkSize) {
      for (const e of sse.push(bytes.subarray(i, i + chunkSize))) events.push(...tr.event(e));
    }
    for (const e of sse.end()) events.push(...tr.event(e));
    events.push(...tr.end());
  } catch (error) {
    return { events, error };
  }
  return { events };
}

/** Chunk sizes every transcript is replayed with: byte by byte, odd splits, and whole. */
export const CHUNK_SIZES = [1, 3, 7, 64, 1 << 20];
