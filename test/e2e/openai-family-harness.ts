// Shared plumbing for the OpenAI-family end-to-end tests (OpenAI, Azure, OpenRouter, compat vendors):
// a real gateway on a real socket (startTestGateway), typed clients over Connect and gRPC, stream
// collection with tool-call reassembly, error/ErrorInfo extraction, compact attempt summaries for
// exact assertions, and a TCP probe that shows whether the gateway closed its upstream connection.

import { rejectedWith as rejection } from "../helpers/errors.ts";
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test, type TestContext } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  AttemptOutcome,
  ChatRequestSchema,
  createSignalboxClient,
  ErrorInfoSchema,
  FailureKind,
  FinishReason,
  type Attempt,
  type ChatEvent,
  type Cost,
  type ErrorInfo,
  type SignalboxClient,
  type StreamFinish,
  type StreamStart,
  type Usage,
} from "@signalbox/client";
import { countTextTokens, estimatePromptTokens, tokenFamily } from "../../src/providers/tokens.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

export type Protocol = "connect" | "grpc";
export const PROTOCOLS: readonly Protocol[] = ["connect", "grpc"];

export type ChatRequestInit = MessageInitShape<typeof ChatRequestSchema>;

export interface Env {
  t: TestGateway;
  clients: Record<Protocol, SignalboxClient>;
  /** The Connect client (binary protobuf). */
  client: SignalboxClient;
  close(): Promise<void>;
}

/** Start a gateway from `yaml` with one client per protocol. Close it when the test ends. */
export async function startEnv(yaml: string): Promise<Env> {
  const t = await startTestGateway(yaml);
  const clients = {
    connect: createSignalboxClient({ baseUrl: t.url, protocol: "connect" }),
    grpc: createSignalboxClient({ baseUrl: t.url, protocol: "grpc" }),
  };
  return { t, clients, client: clients.connect, close: () => t.close() };
}

/** A deployment's tokenizer family, as the gateway picks it. */
function familyOf(t: TestGateway, dep: string) {
  const d = t.config.deployments.find((x) => x.id === dep);
  assert.ok(d, dep);
  return tokenFamily(d.baseModel ?? d.model, t.config.providers.find((p) => p.name === d.provider)?.type);
}

/**
 * What the gateway bills a deployment's attempt that reported no usage: the prompt of one user
 * `text` as its plan counted it, and the output delivered, both by the estimator in
 * src/providers/tokens.ts for the deployment's tokenizer family.
 */
export function estimatedUsage(t: TestGateway, dep: string, prompt: string, delivered: string): { input: number; output: number } {
  const family = familyOf(t, dep);
  return {
    input: estimatePromptTokens({ messages: [{ role: "user", content: [{ type: "text", text: prompt }] }] }, family),
    output: delivered === "" ? 0 : countTextTokens(delivered, family),
  };
}

/** A request with one user text message. */
export function ask(model: string, text: string, extra: Omit<ChatRequestInit, "model" | "messages"> = {}): ChatRequestInit {
  return { ...extra, model, messages: [{ role: 2, content: [{ part: { case: "text", value: text } }] }] } as ChatRequestInit;
}

export interface CollectedToolCall {
  index: number;
  id: string;
  name: string;
  arguments: string;
}

export interface Collected {
  events: ChatEvent[];
  start?: StreamStart;
  text: string;
  reasoning: string;
  refusal: string;
  /** Number of delta events received. */
  deltas: number;
  /** Tool calls reassembled from their fragments, by index. */
  toolCalls: CollectedToolCall[];
  finish?: StreamFinish;
  error?: ConnectError;
  /** Kinds of events in order ("start", "delta", "finish"). */
  order: string[];
}

/** Read a whole stream; an error ends collection and is returned, not thrown. */
export async function collect(client: SignalboxClient, req: ChatRequestInit, opts: { timeoutMs?: number; signal?: AbortSignal; onEvent?: (e: ChatEvent, c: Collected) => void } = {}): Promise<Collected> {
  const c: Collected = { events: [], text: "", reasoning: "", refusal: "", deltas: 0, toolCalls: [], order: [] };
  const calls = new Map<number, CollectedToolCall>();
  try {
    for await (const ev of client.chat.stream(req, { timeoutMs: opts.timeoutMs, signal: opts.signal })) {
      c.events.push(ev);
      c.order.push(ev.event.case ?? "?");
      switch (ev.event.case) {
        case "start":
          assert.equal(c.start, undefined, "one start event");
          c.start = ev.event.value;
          break;
        case "delta": {
          const d = ev.event.value;
          c.deltas++;
          c.text += d.text;
          c.reasoning += d.reasoning;
          c.refusal += d.refusal;
          for (const tc of d.toolCalls) {
            let call = calls.get(tc.index);
            if (!call) {
              call = { index: tc.index, id: "", name: "", arguments: "" };
              calls.set(tc.index, call);
            }
            if (tc.id) call.id = tc.id;
            if (tc.name) call.name = tc.name;
            call.arguments += tc.argumentsDelta;
          }
          break;
        }
        case "finish":
          c.finish = ev.event.value;
          break;
      }
      opts.onEvent?.(ev, c);
    }
  } catch (e) {
    c.error = ConnectError.from(e);
  }
  c.toolCalls = [...calls.values()].sort((a, b) => a.index - b.index);
  return c;
}

/** The error a promise rejects with (fails the test if it resolves). */
export { rejection };

/** The ErrorInfo detail of a gateway error (fails the test if missing). */
export function errorInfo(err: ConnectError): ErrorInfo {
  const [info] = err.findDetails(ErrorInfoSchema);
  assert.ok(info, `error has an ErrorInfo detail: ${err.message}`);
  return info;
}

/** Assert the caller-facing code and ErrorInfo failure kind; returns the ErrorInfo. */
export function assertFailure(err: ConnectError | undefined, code: Code, kind: FailureKind): ErrorInfo {
  assert.ok(err, "expected an error");
  assert.equal(Code[err.code], Code[code], `code (message: ${err.message})`);
  const info = errorInfo(err);
  assert.equal(kindName(info.failureKind), kindName(kind), "ErrorInfo.failure_kind");
  return info;
}

/** A compact, exact view of an attempt for deepEqual. */
export interface AttemptView {
  deployment: string;
  outcome: string;
  kind?: string;
  status?: number;
  reason: string;
}

export function attemptViews(attempts: readonly Attempt[]): AttemptView[] {
  return attempts.map((a) => {
    const v: AttemptView = { deployment: a.deployment, outcome: outcomeName(a.outcome), reason: a.reason };
    if (a.failureKind !== FailureKind.UNSPECIFIED) v.kind = kindName(a.failureKind);
    if (a.httpStatus) v.status = a.httpStatus;
    return v;
  });
}

/** Attempt numbers must be 1..n in order. */
export function assertNumbered(attempts: readonly Attempt[]): void {
  assert.deepEqual(
    attempts.map((a) => a.number),
    attempts.map((_, i) => i + 1),
  );
}

export interface UsageView {
  input: number;
  output: number;
  cached: number;
  cacheWrite: number;
  reasoning: number;
  total: number;
  estimated: boolean;
}

export function usageView(u: Usage | undefined): UsageView {
  assert.ok(u, "usage present");
  return {
    input: Number(u.inputTokens),
    output: Number(u.outputTokens),
    cached: Number(u.cachedInputTokens),
    cacheWrite: Number(u.cacheWriteTokens),
    reasoning: Number(u.reasoningTokens),
    total: Number(u.totalTokens),
    estimated: u.estimated,
  };
}

export interface CostView {
  total: number;
  input: number;
  cachedInput: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
}

export function costView(c: Cost | undefined): CostView {
  assert.ok(c, "cost present");
  return {
    total: Number(c.totalNanoUsd),
    input: Number(c.inputNanoUsd),
    cachedInput: Number(c.cachedInputNanoUsd),
    cacheWrite: Number(c.cacheWriteNanoUsd),
    output: Number(c.outputNanoUsd),
    reasoning: Number(c.reasoningNanoUsd),
  };
}

/** A cost breakdown from its parts (total is their sum). */
export function cost(parts: Partial<Omit<CostView, "total">>): CostView {
  const c = { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0, ...parts };
  return { total: c.input + c.cachedInput + c.cacheWrite + c.output + c.reasoning, ...c };
}

/** Name of a generated enum value (the generated enums are plain objects without reverse mapping). */
function enumName(e: Record<string, number | string>, v: number): string {
  const hit = Object.entries(e).find(([, n]) => n === v);
  return hit ? hit[0] : `UNKNOWN(${v})`;
}
export const finishName = (f: FinishReason): string => enumName(FinishReason, f);
export const kindName = (k: FailureKind): string => enumName(FailureKind, k);
export const outcomeName = (o: AttemptOutcome): string => enumName(AttemptOutcome, o);

/** Wait for a usage record matching `pred` (records are written when the RPC ends, maybe just after). */
export async function waitForRecord(t: TestGateway, pred: (r: UsageRecord) => boolean, ms = 2000): Promise<UsageRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const r = t.usage.recent().find(pred);
    if (r) return r;
    if (Date.now() > end) assert.fail("timed out waiting for the usage record");
    await new Promise((res) => setTimeout(res, 5));
  }
}

/** Poll until `fn` is true. */
export async function until(fn: () => boolean, ms = 2000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

/** In-flight attempts the gateway counts for a deployment. */
export function inFlight(t: TestGateway, deployment: string): number {
  return t.gw.core.exec.health.snapshot().get(deployment)?.inFlight ?? 0;
}

/**
 * A TCP pass-through in front of a fake: counts the connections the gateway opens and sees the
 * moment the gateway closes one (the fakes themselves do not expose their sockets).
 */
export interface ConnProbe {
  /** `http://127.0.0.1:PORT` of the probe. */
  origin: string;
  opened(): number;
  /** Connections the gateway (client side) has closed. */
  closedByClient(): number;
  open(): number;
  close(): Promise<void>;
}

export async function startConnProbe(targetOrigin: string): Promise<ConnProbe> {
  const target = new URL(targetOrigin);
  let opened = 0;
  let closedByClient = 0;
  const live = new Set<net.Socket>();
  const server = net.createServer((client) => {
    opened++;
    live.add(client);
    const upstream = net.connect(Number(target.port), target.hostname);
    let clientEnded = false;
    const done = () => {
      if (!live.delete(client)) return;
      if (clientEnded) closedByClient++;
      upstream.destroy();
      client.destroy();
    };
    client.on("end", () => {
      clientEnded = true;
    });
    client.on("error", () => {
      clientEnded = true;
      done();
    });
    client.on("close", () => {
      clientEnded = true;
      done();
    });
    upstream.on("error", () => done());
    upstream.on("close", () => done());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    opened: () => opened,
    closedByClient: () => closedByClient,
    open: () => live.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The mock backup used as second target in fallback routes (always answers this text). */
export const BACKUP_REPLY = "backup says hi";

/** YAML lines (indented for `providers:`) for the mock backup provider. */
export const BACKUP_PROVIDER_YAML = `
  - name: backup
    type: mock
    mock: { reply: "${BACKUP_REPLY}", chunks: 3, output_tokens: 7 }`;

/** YAML lines (indented for `deployments:`) for the mock backups: a normal one and a large-context one. */
export const BACKUP_DEPLOYMENTS_YAML = `
  - { id: backup/mock, provider: backup, model: mock-backup, pricing: { input: 1, output: 2 }, context_window: 128000 }
  - { id: backup/big, provider: backup, model: mock-big, pricing: { input: 1, output: 2 }, context_window: 2000000 }`;

// ---------------------------------------------------------------------------------------------
// The router behaviours every OpenAI-family provider must show, run against each provider's fake:
// fallback to the mock backup (and which failures must not fall back), first-token and attempt
// timeouts, streams that break before and after the commit point, retry-after on the same
// deployment, and the caller's deadline and cancel closing the upstream connection.

/** The fake as the suite needs it: every OpenAI-family fake understands these scenario kinds. */
export interface SuiteFake<S> {
  origin: string;
  requests: Array<{ status?: number }>;
  script(s: S | S[]): void;
  waitForRequests(n: number): Promise<unknown>;
}

export interface RouterSuiteOptions<S> {
  fake(): SuiteFake<S>;
  /** Gateway config whose fake-backed provider talks to `origin` (the fake's own, or a probe's), with
   *  routes `solo` [dep], `with-backup` [dep, backup/mock] (no retries, first_token_ms 250),
   *  `long-context` [dep, backup/mock, backup/big] and `retrying` [dep, backup/mock]
   *  (max_retries 1, base_delay_ms 50, max_retry_after_ms 500). */
  config(origin: string): string;
  /** The fake-backed deployment id. */
  dep: string;
  /** Failures that must fall back (unary and stream). `status` is the upstream HTTP status, if any. */
  fallsBack: Array<{ name: string; scenario: S; kind: string; status?: number }>;
  /** Failures that must not fall back on `with-backup`. */
  noFallback: Array<{ name: string; scenario: S; kind: string; code: Code }>;
  /** A 429 answer carrying `retry-after-ms: ms`. */
  rateLimited(retryAfterMs: number): S;
  /** A 400 context-length error. */
  contextLength: S;
  /** Whether a streamed answer ends with a usage chunk before [DONE] (after the finish chunk). */
  usageChunk: boolean;
  /** The provider's in-band stream error, by its fake's error name, and the kind it is classified as. */
  streamError: { error?: string; kind: string; status?: number };
}

/** `hello` answered by the mock backup: 8 input tokens (o200k count of the prompt and its framing) at $1/M, 7 output tokens at $2/M. */
export const BACKUP_HELLO_COST: CostView = cost({ input: 8_000, output: 14_000 });

export function routerBehaviourSuite<S>(o: RouterSuiteOptions<S>): void {
  const sc = (x: object) => x as unknown as S;
  const env = async (t: TestContext, yaml = o.config(o.fake().origin)): Promise<Env> => {
    const e = await startEnv(yaml);
    t.after(() => e.close());
    return e;
  };
  const dep = o.dep;
  const primaryFailed = (kind: string, status?: number): AttemptView => ({ deployment: dep, outcome: "FAILED", kind, ...(status ? { status } : {}), reason: "primary" });
  const backupOk = (kind: string, to = "backup/mock"): AttemptView => ({ deployment: to, outcome: "SUCCEEDED", reason: `fallback after ${kind.toLowerCase()} from ${dep}` });
  const streamErr = (extra: object) => sc({ kind: "stream_error", ...(o.streamError.error ? { error: o.streamError.error } : {}), ...extra });

  describe("router: fallback to the mock deployment", () => {
    const transportFallbacks: Array<{ name: string; scenario: S; kind: string; status?: number; streamOnly?: boolean }> = [
      { name: "connection reset", scenario: sc({ kind: "disconnect" }), kind: "NETWORK" },
      { name: "in-band stream error before the first token", scenario: streamErr({ afterDeltas: 0 }), kind: o.streamError.kind, status: o.streamError.status, streamOnly: true },
      { name: "stream truncated before content (clean EOF)", scenario: sc({ kind: "text", text: "never seen", interrupt: { afterEvents: 1 } }), kind: "STREAM_INTERRUPTED", streamOnly: true },
      { name: "stream truncated before content (reset)", scenario: sc({ kind: "text", text: "never seen", interrupt: { afterEvents: 1, how: "destroy" } }), kind: "NETWORK", streamOnly: true },
      { name: "stream cut inside its first event", scenario: sc({ kind: "text", text: "x", interrupt: { afterBytes: 30 } }), kind: "STREAM_INTERRUPTED", streamOnly: true },
      {
        name: "malformed stream chunk before content",
        scenario: sc({ kind: "http", status: 200, headers: { "content-type": "text/event-stream" }, body: 'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant"\n\n' }),
        kind: "STREAM_INTERRUPTED",
        streamOnly: true,
      },
    ];
    for (const f of [...o.fallsBack, ...transportFallbacks]) {
      const modes = "streamOnly" in f && f.streamOnly ? ["stream"] : ["unary", "stream"];
      for (const mode of modes) {
        test(`${mode}: ${f.name} falls back`, async (t) => {
          const { client, t: gw } = await env(t);
          o.fake().script(f.scenario);
          const attempts = [primaryFailed(f.kind, f.status), backupOk(f.kind)];
          if (mode === "unary") {
            const res = await client.chat.complete(ask("with-backup", "hello"));
            assert.equal(res.deployment, "backup/mock");
            assert.equal(res.provider, "backup");
            assert.equal(res.message?.content[0]?.part.value, BACKUP_REPLY);
            assert.deepEqual(attemptViews(res.attempts), attempts);
            assertNumbered(res.attempts);
            assert.deepEqual(costView(res.cost), BACKUP_HELLO_COST);
          } else {
            const c = await collect(client, ask("with-backup", "hello"));
            assert.equal(c.error, undefined, c.error?.message);
            assert.equal(c.start?.deployment, "backup/mock");
            assert.deepEqual(attemptViews(c.start!.priorAttempts), attempts.slice(0, 1));
            assert.equal(c.text, BACKUP_REPLY);
            assert.deepEqual(attemptViews(c.finish!.attempts), attempts);
            assert.deepEqual(costView(c.finish?.cost), BACKUP_HELLO_COST);
          }
          assert.equal(o.fake().requests.length, 1);
          const rec = await waitForRecord(gw, (r) => r.model === "with-backup");
          assert.equal(rec.status, "ok");
          assert.equal(rec.deployment, "backup/mock");
        });
      }
    }

    test("stream: no first token within the route's first_token_ms (hung upstream) falls back", async (t) => {
      const { client } = await env(t);
      o.fake().script(sc({ kind: "hang" }));
      const started = performance.now();
      const c = await collect(client, ask("with-backup", "hello"));
      assert.equal(c.error, undefined, c.error?.message);
      assert.equal(c.text, BACKUP_REPLY);
      assert.deepEqual(attemptViews(c.finish!.attempts), [primaryFailed("TIMEOUT"), backupOk("TIMEOUT")]);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 240 && elapsed < 1500, `elapsed ${elapsed} ms (first_token_ms 250)`);
    });

    test("stream: headers sent but the first token too slow (request first_token_ms) falls back", async (t) => {
      const { client } = await env(t);
      o.fake().script(sc({ kind: "text", text: "too late", bodyDelayMs: 2000 }));
      const started = performance.now();
      const c = await collect(client, ask("with-backup", "hello", { routing: { timeouts: { firstTokenMs: 100 } } }));
      assert.equal(c.text, BACKUP_REPLY);
      assert.deepEqual(attemptViews(c.finish!.attempts), [primaryFailed("TIMEOUT"), backupOk("TIMEOUT")]);
      assert.ok(performance.now() - started < 1000);
    });

    test("unary: attempt timeout (request attempt_ms) on a hung upstream falls back", async (t) => {
      const { client } = await env(t);
      o.fake().script(sc({ kind: "hang" }));
      const started = performance.now();
      const res = await client.chat.complete(ask("with-backup", "hello", { routing: { timeouts: { attemptMs: 150 } } }));
      assert.equal(res.deployment, "backup/mock");
      assert.deepEqual(attemptViews(res.attempts), [primaryFailed("TIMEOUT"), backupOk("TIMEOUT")]);
      assert.ok(performance.now() - started < 1000);
    });

    for (const f of o.noFallback) {
      for (const mode of ["unary", "stream"] as const) {
        test(`${mode}: ${f.name} does not fall back`, async (t) => {
          const { client } = await env(t);
          o.fake().script(f.scenario);
          const err = mode === "unary" ? await rejection(client.chat.complete(ask("with-backup", "hello"))) : (await collect(client, ask("with-backup", "hello"))).error;
          assert.ok(err);
          assert.equal(Code[err.code], Code[f.code]);
          const info = errorInfo(err);
          assert.equal(kindName(info.failureKind), f.kind);
          assert.deepEqual(
            attemptViews(info.attempts).map((a) => [a.deployment, a.kind]),
            [[dep, f.kind]],
          );
          assert.equal(o.fake().requests.length, 1);
        });
      }
    }

    test("context_length_exceeded skips candidates with no larger context window", async (t) => {
      const { client } = await env(t);
      o.fake().script(o.contextLength);
      const res = await client.chat.complete(ask("long-context", "hello"));
      assert.equal(res.deployment, "backup/big");
      assert.deepEqual(attemptViews(res.attempts), [primaryFailed("CONTEXT_LENGTH_EXCEEDED", 400), backupOk("CONTEXT_LENGTH_EXCEEDED", "backup/big")]);
    });

    test("routing.no_fallback keeps the caller on the first target", async (t) => {
      const { client } = await env(t);
      o.fake().script(o.rateLimited(5000));
      const err = await rejection(client.chat.complete(ask("with-backup", "hello", { routing: { noFallback: true } })));
      const info = assertFailure(err, Code.ResourceExhausted, FailureKind.RATE_LIMITED);
      assert.deepEqual(attemptViews(info.attempts), [primaryFailed("RATE_LIMITED", 429)]);
      assert.equal(info.retryAfterMs, 5000);
      assert.equal(err.metadata.get("retry-after"), "5");
    });
  });

  describe("router: after the commit point", () => {
    test("an in-band error after content ends the stream: unavailable, delivered deltas, usage recorded", async (t) => {
      const { client, t: gw } = await env(t);
      // Each SSE event in its own network read.
      o.fake().script(streamErr({ text: "one two three four", afterDeltas: 2, chunkDelayMs: 20 }));
      const c = await collect(client, ask("with-backup", "hello"));
      assert.equal(c.start?.deployment, dep);
      assert.equal(c.text, "one two ");
      assert.deepEqual(c.order, ["start", "delta", "delta"]);
      const info = errorInfo(c.error!);
      assert.equal(Code[c.error!.code], "Unavailable");
      assert.equal(kindName(info.failureKind), o.streamError.kind);
      assert.equal(info.deliveredDeltas, c.deltas, "delivered_deltas counts the delta messages the caller received");
      assert.equal(info.deliveredChars, 8);
      // No fallback after the commit point.
      assert.deepEqual(attemptViews(info.attempts), [primaryFailed(o.streamError.kind, o.streamError.status)]);
      assert.equal(o.fake().requests.length, 1);
      // Estimated usage (no usage chunk came): the deployment's prompt estimate and the output
      // delivered ("one two "), by its tokenizer (the `estimated` flag has its own test).
      const est = estimatedUsage(gw, dep, "hello", "one two ");
      const { estimated: _e, ...u } = usageView(info.usage);
      assert.deepEqual(u, { input: est.input, output: est.output, cached: 0, cacheWrite: 0, reasoning: 0, total: est.input + est.output });
      const rec = await waitForRecord(gw, (r) => r.model === "with-backup");
      assert.equal(rec.status, "unavailable");
      assert.equal(rec.failureKind, o.streamError.kind.toLowerCase());
      assert.equal(rec.usageEstimated, true);
      assert.deepEqual(rec.usage, { inputTokens: est.input, outputTokens: est.output, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
      assert.deepEqual(rec.attempts[0].usageSource, { input: "estimated", output: "estimated" });
      assert.equal(rec.deployment, dep);
      assert.equal(rec.cost.total, Number(costView(info.cost).total));
      assert.ok(rec.cost.total > 0);
    });

    test(
      "ErrorInfo.usage of a stream cut after content is marked estimated",
            async (t) => {
        const { client } = await env(t);
        o.fake().script(streamErr({ text: "one two three four", afterDeltas: 2, chunkDelayMs: 20 }));
        const c = await collect(client, ask("with-backup", "hello"));
        assert.ok(c.error);
        assert.equal(usageView(errorInfo(c.error).usage).estimated, true);
      },
    );

    test(
      "content and an in-band error in the same network read: the content is delivered, then unavailable",
            async (t) => {
        const { client, t: gw } = await env(t);
        // The whole stream in one write: role chunk, two text deltas, then the in-band error.
        o.fake().script(streamErr({ text: "one two three four", afterDeltas: 2, chunking: "single" }));
        const c = await collect(client, ask("with-backup", "hello"));
        assert.equal(c.start?.deployment, dep);
        assert.equal(c.text, "one two ");
        assert.ok(c.error);
        assert.equal(Code[c.error.code], "Unavailable");
        const info = errorInfo(c.error);
        assert.equal(info.deliveredDeltas, c.deltas, "delivered_deltas counts the delta messages the caller received");
        assert.equal(info.deliveredChars, 8);
        assert.deepEqual(attemptViews(info.attempts), [primaryFailed(o.streamError.kind, o.streamError.status)]);
        const rec = await waitForRecord(gw, (r) => r.model === "with-backup");
        assert.equal(rec.usage.outputTokens, estimatedUsage(gw, dep, "hello", "one two ").output);
      },
    );

    // Drop the finish chunk, the usage chunk (if the dialect sends one) and [DONE]: all the text arrives.
    const cut = o.usageChunk ? -3 : -2;
    const TEXT = "alpha beta gamma delta epsilon";

    test("a stream cut after content (no finish, no [DONE]) ends with unavailable and what was delivered", async (t) => {
      const { client, t: gw } = await env(t);
      o.fake().script(sc({ kind: "text", text: TEXT, interrupt: { afterEvents: cut } }));
      const c = await collect(client, ask("with-backup", "hello"));
      assert.equal(c.start?.deployment, dep);
      assert.equal(c.text, TEXT);
      assert.equal(c.finish, undefined);
      const info = assertFailure(c.error, Code.Unavailable, FailureKind.STREAM_INTERRUPTED);
      assert.equal(info.deliveredDeltas, c.deltas, "delivered_deltas counts the delta messages the caller received");
      assert.equal(info.deliveredChars, 30);
      assert.deepEqual(attemptViews(info.attempts), [primaryFailed("STREAM_INTERRUPTED")]);
      const rec = await waitForRecord(gw, (r) => r.model === "with-backup");
      assert.equal(rec.status, "unavailable");
      assert.equal(rec.usageEstimated, true);
      // The 30 delivered characters, by the deployment's tokenizer.
      assert.equal(rec.usage.outputTokens, estimatedUsage(gw, dep, "hello", TEXT).output);
    });

    test("a connection reset after content ends with unavailable / network", async (t) => {
      const { client } = await env(t);
      o.fake().script(sc({ kind: "text", text: TEXT, chunkDelayMs: 10, interrupt: { afterEvents: cut, how: "destroy" } }));
      const c = await collect(client, ask("with-backup", "hello"));
      assert.equal(c.text, TEXT);
      const info = assertFailure(c.error, Code.Unavailable, FailureKind.NETWORK);
      assert.equal(info.deliveredDeltas, c.deltas, "delivered_deltas counts the delta messages the caller received");
      assert.equal(info.deliveredChars, 30);
    });

    test("an upstream going idle after content ends with deadline_exceeded / timeout (request idle_ms)", async (t) => {
      const { client } = await env(t);
      o.fake().script(sc({ kind: "text", text: TEXT, interrupt: { afterEvents: cut, how: "hang" } }));
      const started = performance.now();
      const c = await collect(client, ask("with-backup", "hello", { routing: { timeouts: { idleMs: 150 } } }));
      assert.equal(c.text, TEXT);
      const info = assertFailure(c.error, Code.DeadlineExceeded, FailureKind.TIMEOUT);
      assert.equal(info.deliveredDeltas, c.deltas, "delivered_deltas counts the delta messages the caller received");
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 140 && elapsed < 1500, `elapsed ${elapsed} ms`);
    });
  });

  describe("router: retry-after", () => {
    for (const mode of ["unary", "stream"] as const) {
      test(`${mode}: a 429 with a small retry-after-ms is retried on the same deployment`, async (t) => {
        const { client } = await env(t);
        o.fake().script([o.rateLimited(20), sc({ kind: "text", text: "second time lucky" })]);
        const started = performance.now();
        const attempts = [
          { deployment: dep, outcome: "FAILED", kind: "RATE_LIMITED", status: 429, reason: "primary" },
          { deployment: dep, outcome: "SUCCEEDED", reason: "retry 1 after rate_limited (retry-after 20 ms)" },
        ];
        if (mode === "unary") {
          const res = await client.chat.complete(ask("retrying", "hello"));
          assert.equal(res.message?.content[0]?.part.value, "second time lucky");
          assert.equal(res.deployment, dep);
          assert.deepEqual(attemptViews(res.attempts), attempts);
          assert.equal(res.attempts[0].retryAfterMs, 20);
        } else {
          const c = await collect(client, ask("retrying", "hello"));
          assert.equal(c.text, "second time lucky");
          assert.equal(c.start?.deployment, dep);
          assert.deepEqual(attemptViews(c.start!.priorAttempts), attempts.slice(0, 1));
          assert.deepEqual(attemptViews(c.finish!.attempts), attempts);
        }
        assert.ok(performance.now() - started >= 20);
        assert.equal(o.fake().requests.length, 2);
      });
    }

    test("a retry-after longer than the route allows goes to the next candidate instead", async (t) => {
      const { client } = await env(t);
      o.fake().script(o.rateLimited(2000));
      const started = performance.now();
      const res = await client.chat.complete(ask("retrying", "hello"));
      assert.equal(res.deployment, "backup/mock");
      assert.equal(res.attempts[0].retryAfterMs, 2000);
      assert.equal(o.fake().requests.length, 1);
      assert.ok(performance.now() - started < 1000);
    });
  });

  describe("router: caller deadline and cancel", () => {
    for (const mode of ["unary", "stream"] as const) {
      test(`${mode}: a client deadline on a hung upstream ends quickly with deadline_exceeded and closes the upstream connection`, async (t) => {
        const probe = await startConnProbe(o.fake().origin);
        t.after(() => probe.close());
        const { client, t: gw } = await env(t, o.config(probe.origin));
        o.fake().script(sc({ kind: "hang" }));
        const started = performance.now();
        const err =
          mode === "unary"
            ? await rejection(client.chat.complete(ask("solo", "hello"), { timeoutMs: 200 }))
            : (await collect(client, ask("solo", "hello"), { timeoutMs: 200 })).error;
        assert.ok(err);
        assert.equal(Code[err.code], "DeadlineExceeded");
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 1000, `ended after ${elapsed} ms`);
        await o.fake().waitForRequests(1);
        assert.equal(probe.opened(), 1);
        // The gateway itself closed its upstream connection (the fake never answered).
        await until(() => probe.closedByClient() === 1, 1000, "the gateway to close the upstream connection");
        assert.equal(probe.open(), 0);
        assert.equal(o.fake().requests[0].status, undefined);
        const rec = await waitForRecord(gw, (r) => r.model === "solo");
        assert.equal(rec.status, "deadline_exceeded");
        assert.deepEqual(
          rec.attempts.map((a) => [a.deployment, a.outcome]),
          [[dep, "canceled"]],
        );
        await until(() => inFlight(gw, dep) === 0, 1000, "in-flight to drop to 0");
      });
    }

    test("cancelling a stream mid-way closes the upstream connection and bills what was delivered", async (t) => {
      const probe = await startConnProbe(o.fake().origin);
      t.after(() => probe.close());
      const { client, t: gw } = await env(t, o.config(probe.origin));
      o.fake().script(sc({ kind: "text", text: "a b c d e f g h i j", chunkDelayMs: 100 }));
      const ctl = new AbortController();
      const c = await collect(client, ask("solo", "hello"), {
        signal: ctl.signal,
        onEvent: (_e, col) => {
          if (col.text.length >= 4) ctl.abort();
        },
      });
      assert.ok(c.error);
      assert.equal(Code[c.error.code], "Canceled");
      assert.equal(c.text, "a b ");
      await until(() => probe.closedByClient() === 1, 1000, "the gateway to close the upstream connection");
      const rec = await waitForRecord(gw, (r) => r.model === "solo");
      assert.equal(rec.status, "canceled");
      assert.equal(rec.attempts[0].outcome, "canceled");
      assert.ok(rec.usage.outputTokens >= 1);
    });
  });
}
