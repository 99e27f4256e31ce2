// Shared plumbing for the Anthropic and Gemini end-to-end tests: a fresh gateway per test (so
// cooldowns and latency estimates never leak between tests), typed clients over each protocol,
// stream collection with tool-call reassembly, ErrorInfo extraction and exact usage/cost checks.

import { rejectedWith as errorOf } from "../helpers/errors.ts";
import { waitFor } from "../helpers/wait.ts";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createSignalboxClient,
  ErrorInfoSchema,
  Role,
  type Attempt,
  type ChatEvent,
  type Cost,
  type ErrorInfo,
  type SignalboxClient,
  type StreamFinish,
  type StreamStart,
  type Usage,
} from "@signalbox/client";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

export type Protocol = "connect" | "connect-json" | "grpc" | "grpc-web";
export const PROTOCOLS: readonly Protocol[] = ["connect", "connect-json", "grpc", "grpc-web"];

/** A typed client for one of the wire protocols. */
export function clientFor(t: TestGateway, protocol: Protocol = "connect", timeoutMs?: number): SignalboxClient {
  switch (protocol) {
    case "connect-json":
      return createSignalboxClient({ baseUrl: t.url, protocol: "connect", json: true, timeoutMs });
    case "grpc":
      return createSignalboxClient({ baseUrl: t.url, protocol: "grpc", timeoutMs });
    case "grpc-web":
      return createSignalboxClient({ baseUrl: t.url, protocol: "grpc-web", timeoutMs });
    default:
      return createSignalboxClient({ baseUrl: t.url, protocol: "connect", timeoutMs });
  }
}

/**
 * Gateways started by a test file. `start()` gives a fresh gateway (fresh health state);
 * `closeAll()` (in afterEach) shuts every one down and fails loudly if one cannot close.
 */
export function gatewayPool(yaml: () => string) {
  const open: TestGateway[] = [];
  return {
    async start(config: string = yaml()): Promise<TestGateway> {
      const t = await startTestGateway(config);
      open.push(t);
      return t;
    },
    async closeAll(): Promise<void> {
      const all = open.splice(0);
      let timer: NodeJS.Timeout | undefined;
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("a test gateway did not close within 3 s (an upstream request was left running?)")), 3000);
      });
      try {
        await Promise.race([Promise.all(all.map((t) => t.close())), guard]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Messages

export function user(text: string) {
  return { role: Role.USER, content: [{ part: { case: "text" as const, value: text } }] };
}

export function system(text: string) {
  return { role: Role.SYSTEM, content: [{ part: { case: "text" as const, value: text } }] };
}

export function developer(text: string) {
  return { role: Role.DEVELOPER, content: [{ part: { case: "text" as const, value: text } }] };
}

export function assistantText(text: string) {
  return { role: Role.ASSISTANT, content: [{ part: { case: "text" as const, value: text } }] };
}

export function assistantCalls(calls: { id: string; name: string; arguments: string; providerSignature?: string }[], text?: string) {
  return {
    role: Role.ASSISTANT,
    content: text ? [{ part: { case: "text" as const, value: text } }] : [],
    toolCalls: calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, providerSignature: c.providerSignature ?? "" })),
  };
}

export function toolResult(toolCallId: string, text: string, opts: { name?: string; isError?: boolean } = {}) {
  return {
    role: Role.TOOL,
    toolCallId,
    name: opts.name ?? "",
    isError: opts.isError ?? false,
    content: [{ part: { case: "text" as const, value: text } }],
  };
}

export function userImageBytes(text: string, data: Uint8Array, mediaType: string) {
  return {
    role: Role.USER,
    content: [
      { part: { case: "text" as const, value: text } },
      { part: { case: "image" as const, value: { source: { case: "data" as const, value: data }, mediaType } } },
    ],
  };
}

export function userImageUrl(text: string, url: string, mediaType = "") {
  return {
    role: Role.USER,
    content: [
      { part: { case: "text" as const, value: text } },
      { part: { case: "image" as const, value: { source: { case: "url" as const, value: url }, mediaType } } },
    ],
  };
}

/** A real 1×1 PNG (so providers that sniff the bytes accept the declared media type). */
export const PNG_1X1 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
export const PNG_1X1_B64 = PNG_1X1.toString("base64");

export const WEATHER_TOOL = {
  name: "get_weather",
  description: "Current weather for a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string", enum: ["c", "f"] } },
    required: ["city"],
  },
};

export const TIME_TOOL = {
  name: "get_time",
  description: "Local time in a timezone",
  parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] },
};

// ---------------------------------------------------------------------------------------------
// Streams

export interface ReassembledCall {
  index: number;
  id: string;
  name: string;
  arguments: string;
  providerSignature: string;
}

export interface StreamResult {
  events: ChatEvent[];
  start?: StreamStart;
  finish?: StreamFinish;
  text: string;
  reasoning: string;
  refusal: string;
  /** Tool calls rebuilt from their fragments, by index (the first fragment carries id and name). */
  toolCalls: ReassembledCall[];
  /** Number of delta events received. */
  deltas: number;
  error?: ConnectError;
}

/**
 * Read a whole stream (never throws: a failed stream's error is in `error`) and check the event
 * grammar: one start first, deltas, at most one finish last.
 */
export async function collect(stream: AsyncIterable<ChatEvent>): Promise<StreamResult> {
  const r: StreamResult = { events: [], text: "", reasoning: "", refusal: "", toolCalls: [], deltas: 0 };
  const calls = new Map<number, ReassembledCall>();
  try {
    for await (const ev of stream) {
      assert.equal(r.finish, undefined, "no event may follow finish");
      r.events.push(ev);
      switch (ev.event.case) {
        case "start":
          assert.equal(r.events.length, 1, "start must be the first event, and only once");
          r.start = ev.event.value;
          break;
        case "delta": {
          assert.ok(r.start, "a delta before start");
          r.deltas++;
          const d = ev.event.value;
          r.text += d.text;
          r.reasoning += d.reasoning;
          r.refusal += d.refusal;
          for (const f of d.toolCalls) {
            let c = calls.get(f.index);
            if (!c) {
              c = { index: f.index, id: f.id, name: f.name, arguments: "", providerSignature: f.providerSignature };
              calls.set(f.index, c);
            } else {
              assert.ok(f.id === "" || f.id === c.id, `tool call ${f.index}: id changed mid-call`);
              assert.ok(f.name === "" || f.name === c.name, `tool call ${f.index}: name changed mid-call`);
              if (f.providerSignature) c.providerSignature = f.providerSignature;
            }
            c.arguments += f.argumentsDelta;
          }
          break;
        }
        case "finish":
          assert.ok(r.start, "finish before start");
          r.finish = ev.event.value;
          break;
        default:
          assert.fail(`unexpected event ${String(ev.event.case)}`);
      }
    }
  } catch (err) {
    r.error = ConnectError.from(err);
  }
  r.toolCalls = [...calls.values()].sort((a, b) => a.index - b.index);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface CaughtError {
  err: ConnectError;
  info: ErrorInfo;
}

/** The ConnectError and its (required) ErrorInfo detail. */
export function details(e: unknown): CaughtError {
  const err = ConnectError.from(e);
  const infos = err.findDetails(ErrorInfoSchema);
  assert.equal(infos.length, 1, `expected one ErrorInfo detail on "${err.message}" (code ${Code[err.code]}), got ${infos.length}`);
  return { err, info: infos[0] };
}

/** Await a call that must fail; returns its error and ErrorInfo. */
export async function rejection(p: Promise<unknown>): Promise<CaughtError> {
  try {
    await p;
  } catch (e) {
    return details(e);
  }
  assert.fail("expected the call to fail");
}

/** Await a call that must fail; returns its ConnectError (with or without details). */
export { errorOf };

/** The name of a generated enum value (FailureKind, FinishReason, ...). */
export function enumName(e: Record<string, number>, v: number): string {
  return Object.entries(e).find(([, n]) => n === v)?.[0] ?? String(v);
}

export function codeName(c: Code): string {
  return Code[c];
}

// ---------------------------------------------------------------------------------------------
// Usage and cost

export interface ExpectedUsage {
  input: number;
  output: number;
  cached?: number;
  cacheWrite?: number;
  reasoning?: number;
  estimated?: boolean;
}

export function assertUsage(u: Usage | undefined, e: ExpectedUsage, what = "usage"): void {
  assert.ok(u, `${what} missing`);
  assert.deepEqual(
    {
      input: u.inputTokens,
      output: u.outputTokens,
      cached: u.cachedInputTokens,
      cacheWrite: u.cacheWriteTokens,
      reasoning: u.reasoningTokens,
      total: u.totalTokens,
      estimated: u.estimated,
    },
    {
      input: BigInt(e.input),
      output: BigInt(e.output),
      cached: BigInt(e.cached ?? 0),
      cacheWrite: BigInt(e.cacheWrite ?? 0),
      reasoning: BigInt(e.reasoning ?? 0),
      total: BigInt(e.input + e.output),
      estimated: e.estimated ?? false,
    },
    what,
  );
}

export interface ExpectedCost {
  input: number;
  cachedInput?: number;
  cacheWrite?: number;
  output: number;
  reasoning?: number;
}

/** Components in nano-USD; the total is checked to be their sum. */
export function assertCost(c: Cost | undefined, e: ExpectedCost, what = "cost"): void {
  assert.ok(c, `${what} missing`);
  const exp = {
    total: BigInt(e.input + (e.cachedInput ?? 0) + (e.cacheWrite ?? 0) + e.output + (e.reasoning ?? 0)),
    input: BigInt(e.input),
    cachedInput: BigInt(e.cachedInput ?? 0),
    cacheWrite: BigInt(e.cacheWrite ?? 0),
    output: BigInt(e.output),
    reasoning: BigInt(e.reasoning ?? 0),
  };
  assert.deepEqual(
    {
      total: c.totalNanoUsd,
      input: c.inputNanoUsd,
      cachedInput: c.cachedInputNanoUsd,
      cacheWrite: c.cacheWriteNanoUsd,
      output: c.outputNanoUsd,
      reasoning: c.reasoningNanoUsd,
    },
    exp,
    what,
  );
}

/** Attempts as [deployment, outcome name, failure kind name] for compact comparisons. */
export function attemptSummary(attempts: Attempt[]): [string, number, number][] {
  return attempts.map((a) => [a.deployment, a.outcome, a.failureKind]);
}

// ---------------------------------------------------------------------------------------------
// Misc

export { waitFor };

/** The usage record of the most recent request to `model` (records are written off the response path). */
export function lastRecord(t: TestGateway, model: string, after = 0): Promise<UsageRecord> {
  return waitFor(() => t.usage.recent().slice(after).filter((r) => r.model === model).at(-1));
}
