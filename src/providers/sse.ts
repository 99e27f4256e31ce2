// An incremental, spec-compliant Server-Sent Events parser (WHATWG HTML §9.2): bytes in, events
// out. Handles \n, \r\n and \r line endings, comments, multi-line data, and events or UTF-8 code
// points split across network reads.

import type { SseEvent } from "./types.ts";

export interface SseParser {
  /** Feed bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[];
  /** The input ended. Returns nothing: an event without its blank line is not dispatched (per spec). */
  end(): SseEvent[];
  /** True when bytes of an undispatched event were seen (the stream was cut mid-event). */
  readonly pending: boolean;
}

export function createSseParser(): SseParser {
  const decoder = new TextDecoder("utf-8");
  let buf = "";
  let dataLines: string[] | undefined;
  let eventName = "";
  let lastId: string | undefined;
  let sawField = false;
  // A \r at the end of a chunk may be the first half of \r\n.
  let pendingCR = false;

  function line(l: string, out: SseEvent[]): void {
    if (l === "") {
      if (dataLines !== undefined) {
        out.push({ event: eventName || "message", data: dataLines.join("\n"), id: lastId });
      }
      dataLines = undefined;
      eventName = "";
      sawField = false;
      return;
    }
    if (l.charCodeAt(0) === 58 /* : */) return; // comment
    sawField = true;
    const colon = l.indexOf(":");
    let field: string;
    let value: string;
    if (colon === -1) {
      field = l;
      value = "";
    } else {
      field = l.slice(0, colon);
      value = l.charCodeAt(colon + 1) === 32 ? l.slice(colon + 2) : l.slice(colon + 1);
    }
    switch (field) {
      case "data":
        (dataLines ??= []).push(value);
        break;
      case "event":
        eventName = value;
        break;
      case "id":
        if (!value.includes("\0")) lastId = value;
        break;
      default:
        // "retry" and unknown fields are ignored.
        break;
    }
  }

  function drain(out: SseEvent[]): void {
    let start = 0;
    const n = buf.length;
    let i = 0;
    if (pendingCR) {
      pendingCR = false;
      if (n > 0 && buf.charCodeAt(0) === 10) start = i = 1;
    }
    // Fast path (almost every provider): no \r in sight, so lines end at \n; let the native
    // indexOf find them instead of walking the characters.
    if (buf.indexOf("\r", start) === -1) {
      for (let j = buf.indexOf("\n", start); j !== -1; j = buf.indexOf("\n", start)) {
        line(buf.slice(start, j), out);
        start = j + 1;
      }
      buf = start === 0 ? buf : buf.slice(start);
      return;
    }
    while (i < n) {
      const c = buf.charCodeAt(i);
      if (c === 10 || c === 13) {
        line(buf.slice(start, i), out);
        if (c === 13) {
          if (i + 1 < n) {
            if (buf.charCodeAt(i + 1) === 10) i++;
          } else {
            pendingCR = true;
          }
        }
        start = i + 1;
      }
      i++;
    }
    buf = start === 0 ? buf : buf.slice(start);
  }

  return {
    push(chunk) {
      const out: SseEvent[] = [];
      buf += decoder.decode(chunk, { stream: true });
      drain(out);
      return out;
    },
    end() {
      const out: SseEvent[] = [];
      buf += decoder.decode();
      drain(out);
      return out;
    },
    get pending() {
      return buf.length > 0 || sawField;
    },
  };
}

/** Parse a byte stream into SSE events. */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const p = createSseParser();
  for await (const chunk of body) {
    for (const e of p.push(chunk)) yield e;
  }
  for (const e of p.end()) yield e;
}
