// Shared plumbing for the fake LLM provider servers: the loopback HTTP server and its lifecycle, the
// per-request scenario queue, request recording, and byte-level delivery (chunking, delays, hangs, cuts).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One request as the fake received it (recorded before validation, so rejected requests are kept too). */
export interface RecordedRequest {
  method: string;
  /** URL path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Decoded query parameters (last value wins). */
  query: Record<string, string>;
  /** Header names lower-cased, as Node parses them. */
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** The body's exact bytes (a multipart upload is not UTF-8 text). */
  rawBytes: Buffer;
  /** Parsed JSON body; `undefined` when the body was empty or not valid JSON. */
  // `any` on purpose: tests index freely into provider-specific request bodies.
  body: any;
  /** A multipart/form-data body's parts in arrival order, set by the fakes that take uploads once they parsed
   *  it: `[name, text]` for a text field, `[name, file]` for a file part (its filename, Content-Type, byte
   *  length and bytes). Repeated names (`image[]`) stay separate entries. */
  parts?: Array<[name: string, value: string | { filename: string; type: string; size: number; bytes: Buffer }]>;
  /** Status the fake answered with; stays `undefined` for hangs and connection resets. */
  status?: number;
}

/**
 * How body bytes are cut into socket writes:
 * - `event`: one write per body unit (an SSE event, or the whole JSON body) — the default;
 * - `single`: everything in one write;
 * - `hostile`: each unit split inside `data:`, in the middle of the JSON, inside the first multi-byte
 *   UTF-8 code point, and between the two final delimiter bytes;
 * - `{ bytes: n }`: fixed n-byte slices of the whole body, ignoring event boundaries.
 * Split writes are separated by `chunkDelayMs` (1 ms by default for `hostile` and `bytes`) so the client
 * really receives them as separate reads.
 */
export type Chunking = 'event' | 'single' | 'hostile' | { bytes: number };

/** Cut the response short. Applied to the body units before chunking. */
export interface Interrupt {
  /** Keep only the first N body units; a negative N drops |N| units from the end (-1 = drop the terminator). */
  afterEvents?: number;
  /** Then keep only the first N bytes (may cut inside an event or inside a UTF-8 code point). */
  afterBytes?: number;
  /** `end`: finish the HTTP response cleanly (client sees a normal EOF); `destroy`: reset the socket;
   *  `hang`: keep the connection open and send nothing more. Default `end`. */
  how?: 'end' | 'destroy' | 'hang';
}

/** Timing and transport knobs accepted by every scenario. */
export interface Delivery {
  /** Wait this long before sending the status line and headers (slow first byte). */
  delayMs?: number;
  /** After the headers are flushed, wait this long before the first body byte (slow first token). */
  bodyDelayMs?: number;
  /** Wait between body writes. */
  chunkDelayMs?: number;
  chunking?: Chunking;
  interrupt?: Interrupt;
  /** Extra response headers; they override the fake's defaults. */
  headers?: Record<string, string>;
}

/** Retry hints any error scenario can add (they override the error's default headers). */
export interface RetryHints {
  /** `retry-after` header: seconds, or an HTTP date string. */
  retryAfter?: number | string;
  /** `retry-after-ms` header (non-standard, sent by Azure, read by the OpenAI and Anthropic SDKs). */
  retryAfterMs?: number;
  /** `x-should-retry: true|false`, which the OpenAI and Anthropic SDKs obey over the status code. */
  shouldRetry?: boolean;
}

/** Scenarios every fake understands, whatever the provider. */
export type TransportScenario =
  /** Accept the request and never answer (no status line). */
  | ({ kind: 'hang' } & Pick<Delivery, 'delayMs'>)
  /** Reset the connection without answering (after `delayMs`). */
  | ({ kind: 'disconnect' } & Pick<Delivery, 'delayMs'>)
  /** Escape hatch: answer with exactly this status, headers and body (objects are sent as JSON). */
  | ({ kind: 'http'; status: number; body?: string | object } & Delivery);

/** Token counts in provider-neutral terms; each fake maps them onto its provider's semantics. */
export interface UsageSpec {
  /** Total prompt tokens INCLUDING cache reads and cache writes. */
  input?: number;
  /** Total output tokens INCLUDING reasoning/thinking tokens. */
  output?: number;
  /** Prompt tokens served from cache (cache reads). */
  cached?: number;
  /** Prompt tokens written to cache (Anthropic cache creation, OpenRouter cache_write_tokens). */
  cacheWrite?: number;
  /** Of cacheWrite, tokens written with a 1-hour TTL (Anthropic `cache_creation.ephemeral_1h_input_tokens`).
   *  Default: all of them when every cache breakpoint of the request asks for 1h, else 0. */
  cacheWrite1h?: number;
  /** Output tokens spent on reasoning. */
  reasoning?: number;
}

export type Usage = Required<UsageSpec>;

/** A tool call the fake should make. Missing name = the first tool declared in the request. */
export interface ToolCallSpec {
  name?: string;
  /** An object, or (OpenAI-shaped providers only) a raw string that may be invalid JSON. Default `{}`. */
  arguments?: Record<string, unknown> | string;
  /** Fixed call id; default a deterministic provider-style id (Gemini: none unless given). */
  id?: string;
}

/** Options every fake takes (Azure replaces `models` with its deployments). */
export interface FakeOptions {
  /** The accepted API key (default `test-key-<provider>`); `null` accepts any non-empty key. */
  apiKey?: string | null;
  /** Known model ids: others get the provider's not-found error, and the models list shows these.
   *  Default: any id of the provider's usual shape (`gpt-*`/`o*`, `claude-*`, `gemini-*`, `vendor/model`). */
  models?: string[];
}

/** The handle every `startFakeX()` returns. */
export interface FakeServer<S> {
  /** Base URL as the provider's SDK takes it. */
  url: string;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Queue scenarios for the next generation requests, in order (models-list calls do not consume them). */
  script(s: S | S[]): void;
  /** Scenario used when the queue is empty (initially: a success that echoes the last user message). */
  setDefault(s: S): void;
  /** Scenarios still queued. */
  pending(): number;
  /** Clear the recorded requests, the queue, and restore the initial default. */
  reset(): void;
  /** Resolves once at least `n` requests have been received in total. */
  waitForRequests(n: number): Promise<RecordedRequest[]>;
  /** Stop listening, abort pending delays, destroy open connections (hangs included). */
  close(): Promise<void>;
}

/** What a provider handler gets for one request. */
export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  record: RecordedRequest;
  /** Aborts when the fake closes or the client goes away. */
  signal: AbortSignal;
  /** Whether the raw body was present but not valid JSON. */
  badJson: boolean;
}

export interface FakeConfig<S> {
  /** Appended to the origin to form `url`. */
  basePath: string;
  defaultScenario: S;
  handle(ex: Exchange, nextScenario: () => S): Promise<void>;
}

/** Start a fake on 127.0.0.1 with an ephemeral port. */
export async function startFake<S>(cfg: FakeConfig<S>): Promise<FakeServer<S>> {
  const requests: RecordedRequest[] = [];
  const queue: S[] = [];
  let defaultScenario = cfg.defaultScenario;
  const closing = new AbortController();
  const sockets = new Set<Socket>();
  let waiters: Array<{ n: number; resolve: (r: RecordedRequest[]) => void }> = [];

  const server = http.createServer((req, res) => {
    void serve(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const clientGone = new AbortController();
    res.on('close', () => clientGone.abort());
    const signal = AbortSignal.any([closing.signal, clientGone.signal]);
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const rawBytes = await readBody(req);
      const raw = rawBytes.toString('utf8');
      let body: unknown;
      let badJson = false;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw);
        } catch {
          badJson = true;
        }
      }
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        rawBody: raw,
        rawBytes,
        body,
      };
      requests.push(record);
      const ready = waiters.filter((w) => requests.length >= w.n);
      waiters = waiters.filter((w) => requests.length < w.n);
      for (const w of ready) w.resolve(requests.slice());
      await cfg.handle({ req, res, url, record, signal, badJson }, () => queue.shift() ?? defaultScenario);
    } catch (err) {
      if (signal.aborted) return; // the client left or the fake is closing: nothing to answer
      // A bug in the fake itself: make it loud rather than silently hanging the test.
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake server bug: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      } else {
        res.destroy();
      }
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;

  return {
    url: origin + cfg.basePath,
    origin,
    requests,
    script(s) {
      queue.push(...(Array.isArray(s) ? s : [s]));
    },
    setDefault(s) {
      defaultScenario = s;
    },
    pending: () => queue.length,
    reset() {
      requests.length = 0;
      queue.length = 0;
      defaultScenario = cfg.defaultScenario;
    },
    waitForRequests(n) {
      if (requests.length >= n) return Promise.resolve(requests.slice());
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** A fully built response before transport effects are applied. */
export interface ResponsePlan {
  status: number;
  headers: Record<string, string>;
  /** Body units: SSE events (already framed), or a single JSON document. */
  units: Array<string | Buffer>;
  /** Streams get no content-length and have their headers flushed before the body. */
  stream: boolean;
}

/** Send `plan` through the transport effects of `d`. Resolves when done (or immediately for hangs). */
export async function deliver(ex: Exchange, plan: ResponsePlan, d: Delivery = {}): Promise<void> {
  const { res, signal } = ex;
  if (d.delayMs) await sleep(d.delayMs, undefined, { signal });
  const headers: Record<string, string> = { ...plan.headers, ...d.headers };
  let units = plan.units.map((u) => (typeof u === 'string' ? Buffer.from(u, 'utf8') : u));
  const cut = d.interrupt;
  if (cut?.afterEvents !== undefined) {
    units = cut.afterEvents >= 0 ? units.slice(0, cut.afterEvents) : units.slice(0, Math.max(0, units.length + cut.afterEvents));
  }
  if (cut?.afterBytes !== undefined) units = [Buffer.concat(units).subarray(0, cut.afterBytes)];
  const writes = chunk(units, d.chunking ?? 'event');
  const total = writes.reduce((n, b) => n + b.length, 0);
  if (!plan.stream && !cut && !hasHeader(headers, 'content-length')) headers['content-length'] = String(total);
  res.writeHead(plan.status, headers);
  ex.record.status = plan.status;
  if (plan.stream || cut) res.flushHeaders();
  if (d.bodyDelayMs) await sleep(d.bodyDelayMs, undefined, { signal });
  const gap = d.chunkDelayMs ?? (d.chunking === 'hostile' || isBytes(d.chunking) ? 1 : 0);
  for (let i = 0; i < writes.length; i++) {
    if (i > 0 && gap > 0) await sleep(gap, undefined, { signal });
    if (signal.aborted || res.destroyed) return;
    res.write(writes[i]);
  }
  const how = cut?.how ?? 'end';
  if (cut && how === 'hang') return;
  if (cut && how === 'destroy') {
    // Let the written bytes leave before the reset, so the client sees a partial body then an error.
    await sleep(gap > 0 ? gap : 5, undefined, { signal });
    res.socket?.destroy();
    return;
  }
  res.end();
}

/** Handle the scenarios shared by all fakes. Returns false when `s` is not a transport scenario. */
export async function handleTransport(ex: Exchange, s: { kind: string }): Promise<boolean> {
  const t = s as TransportScenario;
  switch (t.kind) {
    case 'hang':
      if (t.delayMs) await sleep(t.delayMs, undefined, { signal: ex.signal });
      return true; // never answer; close() or the client's abort cleans up
    case 'disconnect':
      if (t.delayMs) await sleep(t.delayMs, undefined, { signal: ex.signal });
      ex.req.socket.destroy();
      return true;
    case 'http': {
      const isObj = t.body !== undefined && typeof t.body !== 'string';
      const text = t.body === undefined ? '' : typeof t.body === 'string' ? t.body : JSON.stringify(t.body);
      const headers: Record<string, string> = { 'content-type': isObj ? 'application/json' : 'text/plain; charset=utf-8' };
      await deliver(ex, { status: t.status, headers, units: [text], stream: false }, t);
      return true;
    }
    default:
      return false;
  }
}

function chunk(units: Buffer[], how: Chunking): Buffer[] {
  if (how === 'event') return units.filter((u) => u.length > 0);
  const all = Buffer.concat(units);
  if (how === 'single') return all.length ? [all] : [];
  if (isBytes(how)) {
    const out: Buffer[] = [];
    const n = Math.max(1, how.bytes);
    for (let i = 0; i < all.length; i += n) out.push(all.subarray(i, i + n));
    return out;
  }
  const out: Buffer[] = [];
  for (const u of units) {
    const points = new Set<number>([3, Math.floor(u.length / 2), u.length - 1]);
    const mb = u.findIndex((b) => b >= 0xc0); // lead byte of a multi-byte UTF-8 sequence
    if (mb >= 0) points.add(mb + 1);
    let prev = 0;
    for (const p of [...points].filter((p) => p > 0 && p < u.length).sort((a, b) => a - b)) {
      out.push(u.subarray(prev, p));
      prev = p;
    }
    if (prev < u.length) out.push(u.subarray(prev));
  }
  return out;
}

function isBytes(c: Chunking | undefined): c is { bytes: number } {
  return typeof c === 'object' && c !== null;
}

function hasHeader(h: Record<string, string>, name: string): boolean {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

// ---------------------------------------------------------------------------------------------
// Framing and content helpers

/** `data: <json>` + blank line. Gemini passes `\r\n` as the line end. */
export function sseData(data: unknown, eol = '\n'): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}${eol}${eol}`;
}

/** A named event: `event: <name>\ndata: <json>\n\n`. */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** A comment line (keep-alive), e.g. `: OPENROUTER PROCESSING`. */
export function sseComment(text: string): string {
  return `: ${text}\n\n`;
}

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

/** Text as a model would stream it: one word (with its trailing whitespace) per delta. */
export function splitDeltas(text: string): string[] {
  return text.match(/\s*\S+\s*/gu) ?? (text ? [text] : []);
}

/** Split a string into `parts` pieces on code-point boundaries (for tool-argument fragments). */
export function fragment(s: string, parts = 3): string[] {
  const cps = Array.from(s);
  if (cps.length === 0) return [];
  const size = Math.ceil(cps.length / parts);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

export function countWords(s: string): number {
  return s.split(/\s+/u).filter(Boolean).length;
}

/** Resolve a usage spec: defaults are the fake's deterministic estimates. */
export function resolveUsage(spec: UsageSpec | undefined, defaults: { input: number; visibleOutput: number }): Usage {
  const reasoning = spec?.reasoning ?? 0;
  return {
    input: spec?.input ?? defaults.input,
    output: spec?.output ?? defaults.visibleOutput + reasoning,
    cached: spec?.cached ?? 0,
    cacheWrite: spec?.cacheWrite ?? 0,
    cacheWrite1h: spec?.cacheWrite1h ?? 0,
    reasoning,
  };
}

/** The default reply: derived from the last user message so tests can predict it. */
export function echoText(lastUserText: string): string {
  return lastUserText ? `Echo: ${lastUserText}` : 'Echo.';
}

/** Deterministic, provider-looking ids: `prefix` + zero-padded counter. */
export function idMaker(): (prefix: string, width?: number) => string {
  let n = 0;
  return (prefix, width = 24) => `${prefix}${String(++n).padStart(width, '0')}`;
}

/** Response headers for retry hints. */
export function retryHeaders(h: RetryHints): Record<string, string> {
  const out: Record<string, string> = {};
  if (h.retryAfter !== undefined) out['retry-after'] = String(h.retryAfter);
  if (h.retryAfterMs !== undefined) out['retry-after-ms'] = String(h.retryAfterMs);
  if (h.shouldRetry !== undefined) out['x-should-retry'] = String(h.shouldRetry);
  return out;
}

/** Headers of a JSON response. */
export function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', ...extra };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** First value of a request header. */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

/** JSON.parse into an object; anything else (invalid JSON, arrays, scalars) gives `{}`. */
export function parseObject(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s) as unknown;
    return isRecord(v) ? v : {};
  } catch {
    return {};
  }
}

/** A non-streamed response; strings are sent as they are (so malformed JSON and HTML bodies are possible). */
export function sendJson(ex: Exchange, status: number, body: unknown, headers: Record<string, string> = {}, d?: Delivery): Promise<void> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return deliver(ex, { status, headers: jsonHeaders(headers), units: [text], stream: false }, d);
}

/**
 * The fakes' deterministic embedding of a text: `dims` float32 values from an FNV-1a seed and an
 * LCG, unit length (as OpenAI and Gemini return them). Tests compute expected vectors with it.
 */
export function fakeEmbedding(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  let x = h >>> 0;
  const v: number[] = [];
  for (let i = 0; i < dims; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    v.push(x / 2147483648 - 1);
  }
  const n = Math.sqrt(v.reduce((s, a) => s + a * a, 0)) || 1;
  return v.map((a) => Math.fround(a / n));
}

/** Little-endian float32 bytes of a vector, base64 (OpenAI's encoding_format: "base64"). */
export function float32Base64(v: number[]): string {
  const b = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b.toString('base64');
}
