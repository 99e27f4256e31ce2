// @signalbox/client against a real gateway (in process, real socket), over Connect, gRPC and
// gRPC-web: typed errors (field, retry-after, attempts), streamText, the retry interceptor, the
// default deadline and traceparent forwarding.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  Code,
  ConnectError,
  createSignalboxClient,
  FailureKind,
  FinishReason,
  SignalboxError,
  streamText,
  system,
  user,
  type SignalboxClientOptions,
} from "@signalbox/client";
import { hashKey } from "../../src/server/auth.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const MAIN_KEY = "sbx_client_test_main_0001";
const TINY_KEY = "sbx_client_test_tiny_0002";

// `limited` answers and refuses in turn (call n fails when n is odd: failure_rate 0.5 on the
// mock's deterministic schedule) with a 300 ms retry-after; `always-limited` always refuses.
// Both routes have no gateway retries, so the refusal reaches the client.
const CONFIG = `
server: { max_request_bytes: 65536 }
providers:
  - { name: mock, type: mock }
  - { name: flaky, type: mock, mock: { failure_rate: 1, failure_kind: overloaded } }
  - { name: slow, type: mock, mock: { ttft_ms: 5000, inter_chunk_ms: 5, chunks: 4 } }
  - { name: limited, type: mock, mock: { failure_rate: 0.5, failure_kind: rate_limited, retry_after_ms: 300 } }
  - { name: always-limited, type: mock, mock: { failure_rate: 1, failure_kind: rate_limited, retry_after_ms: 300 } }
deployments:
  - { id: mock/a, provider: mock, model: mock-a, pricing: { input: 1, output: 2 } }
  - { id: mock/flaky, provider: flaky, model: mock-flaky, pricing: { input: 1, output: 1 } }
  - { id: mock/slow, provider: slow, model: mock-slow, pricing: { input: 1, output: 1 } }
  - { id: mock/limited, provider: limited, model: mock-limited, pricing: { input: 1, output: 1 } }
  - { id: mock/always-limited, provider: always-limited, model: mock-always-limited, pricing: { input: 1, output: 1 } }
routes:
  - { name: default, targets: [mock/a] }
  - { name: flaky, targets: [mock/flaky] }
  - { name: slow, targets: [mock/slow] }
  - { name: limited, targets: [mock/limited], retry: { max_retries: 0 } }
  - { name: always-limited, targets: [mock/always-limited], retry: { max_retries: 0 } }
keys:
  - { name: main, hash: "${hashKey(MAIN_KEY)}", team: alpha }
  - { name: tiny, hash: "${hashKey(TINY_KEY)}", team: beta, limits: { requests_per_minute: 1 } }
`;

let t: TestGateway;
before(async () => {
  t = await startTestGateway(CONFIG);
});
after(() => t.close());

const PROTOCOLS: { name: string; opts: Pick<SignalboxClientOptions, "protocol" | "httpVersion"> }[] = [
  { name: "connect", opts: { protocol: "connect" } },
  { name: "grpc", opts: { protocol: "grpc" } },
  { name: "grpc-web", opts: { protocol: "grpc-web" } },
];

type Interceptor = NonNullable<SignalboxClientOptions["interceptors"]>[number];

const hi = (text = "hi") => ({ model: "default", messages: [system("Be brief."), user(text)] });

/** Counts the tries that reach the wire (it runs inside the client's retry interceptor). */
function counter(): { interceptor: Interceptor; count: () => number } {
  let n = 0;
  return {
    interceptor: (next) => (req) => {
      n++;
      return next(req);
    },
    count: () => n,
  };
}

/** The error a promise rejects with, checked to be a SignalboxError (and so a ConnectError). */
async function failure(p: Promise<unknown>): Promise<SignalboxError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SignalboxError, `expected a SignalboxError, got ${String(e)}`);
    assert.ok(e instanceof ConnectError, "a SignalboxError is a ConnectError");
    assert.ok(e instanceof Error);
    assert.equal(ConnectError.from(e), e, "ConnectError.from keeps it as it is");
    return e;
  }
  assert.fail("expected the call to fail");
}

test("instanceof: a plain ConnectError is not a SignalboxError; from() converts it", () => {
  const plain = new ConnectError("x", Code.Internal);
  assert.equal(plain instanceof SignalboxError, false);
  const e = SignalboxError.from(plain);
  assert.ok(e instanceof SignalboxError && e instanceof ConnectError);
  assert.equal(e.code, Code.Internal);
  assert.equal(SignalboxError.from(e), e);
  assert.equal(SignalboxError.from(new Error("boom")).code, Code.Unknown);
});

for (const p of PROTOCOLS) {
  describe(p.name, () => {
    const client = (extra: Partial<SignalboxClientOptions> = {}) => createSignalboxClient({ baseUrl: t.url, apiKey: MAIN_KEY, ...p.opts, ...extra });

    test("invalid_argument carries the field (unary and stream)", async () => {
      const c = client();
      const noMessages = await failure(c.chat.complete({ model: "default", messages: [] }));
      assert.equal(noMessages.code, Code.InvalidArgument);
      assert.equal(noMessages.codeName, "invalid_argument");
      assert.equal(noMessages.field, "messages");
      assert.match(noMessages.rawMessage, /^messages: must contain at least one message/);
      assert.match(noMessages.traceId ?? "", /^[0-9a-f]{32}$/);
      assert.deepEqual(noMessages.attempts, []);

      const hot = await failure(c.chat.complete({ ...hi(), temperature: 9 }));
      assert.equal(hot.code, Code.InvalidArgument);
      assert.equal(hot.field, "temperature");

      const streamed = await failure(streamText(c.chat, { ...hi(), temperature: 9 }).result);
      assert.equal(streamed.code, Code.InvalidArgument);
      assert.equal(streamed.field, "temperature");
    });

    test("resource_exhausted from a key's rate limit carries retryAfterMs", async () => {
      const c = client({ apiKey: TINY_KEY });
      // One request a minute: the first of the whole file may pass, every later one is refused.
      await c.chat.complete(hi()).catch(() => {});
      const e = await failure(c.chat.complete(hi()));
      assert.equal(e.code, Code.ResourceExhausted);
      assert.equal(e.codeName, "resource_exhausted");
      assert.match(e.rawMessage, /rate limit exceeded: requests per minute of key "tiny" \(1\); retry in \d+ s/);
      assert.ok(e.retryAfterMs !== undefined && e.retryAfterMs > 0 && e.retryAfterMs <= 60_000, `retryAfterMs ${e.retryAfterMs}`);
      assert.ok(Number(e.metadata.get("retry-after")) >= 1, "the retry-after header is there too");
      assert.deepEqual(e.attempts, [], "nothing reached a provider");
    });

    test("unavailable lists the attempts (a mock with failure_rate 1)", async () => {
      const c = client();
      const e = await failure(c.chat.complete({ ...hi(), model: "flaky" }));
      assert.equal(e.code, Code.Unavailable);
      assert.equal(e.codeName, "unavailable");
      assert.equal(e.failureKind, FailureKind.OVERLOADED);
      assert.equal(e.failureKindName, "overloaded");
      assert.ok(e.attempts.length >= 1, "the attempts are listed");
      for (const a of e.attempts) {
        assert.equal(a.deployment, "mock/flaky");
        assert.equal(a.failureKind, FailureKind.OVERLOADED);
      }
      // A stream fails the same way before it starts.
      const s = await failure(streamText(c.chat, { ...hi(), model: "flaky" }).result);
      assert.equal(s.code, Code.Unavailable);
      assert.ok(s.attempts.length >= 1);
    });

    test("streamText gives the text as it arrives and the usage, cost and attempts at the end", async () => {
      const c = client();
      const seen: string[] = [];
      const h = streamText(c.chat, hi("stream through the package"), { onText: (d) => seen.push(d) });
      const fragments: string[] = [];
      for await (const f of h.textStream) fragments.push(f);
      const r = await h.result;
      assert.ok(fragments.length >= 2, `expected several fragments, got ${fragments.length}`);
      assert.deepEqual(seen, fragments, "onText saw the same fragments");
      assert.equal(fragments.join(""), r.text);
      assert.match(r.text, /stream through the package/);
      assert.equal(r.deployment, "mock/a");
      assert.equal(r.start.deployment, "mock/a");
      assert.equal(r.finishReason, FinishReason.STOP);
      assert.ok(r.usage !== undefined && r.usage.inputTokens > 0n && r.usage.outputTokens > 0n);
      // $1/M input and $2/M output: in × 1,000 + out × 2,000 nano-USD.
      assert.equal(r.cost?.totalNanoUsd, r.usage.inputTokens * 1000n + r.usage.outputTokens * 2000n);
      assert.equal(r.costUsd, Number(r.cost?.totalNanoUsd) / 1e9);
      assert.equal(r.attempts.length, 1);
      assert.equal(r.attempts[0].deployment, "mock/a");
      assert.match(r.traceId, /^[0-9a-f]{32}$/);
      assert.deepEqual(r.logprobs, [], "none unless asked");
      const lp = await streamText(c.chat, { ...hi("stream with probabilities"), logprobs: true, topLogprobs: 2 }).result;
      assert.ok(lp.logprobs.length >= 2);
      assert.equal(lp.logprobs.map((t) => t.token).join(""), lp.text, "the tokens spell the text");
      for (const t of lp.logprobs) {
        assert.ok(t.logprob <= 0);
        assert.equal(t.topLogprobs.length, 2);
      }
    });

    test("the retry interceptor retries a rate-limited unary call after the retry-after and succeeds", async () => {
      const plain = client();
      // Line the schedule up: after a success, the next call to `limited` is refused.
      const first = await plain.chat.complete({ ...hi(), model: "limited" }).then(
        () => "ok",
        (e: unknown) => e,
      );
      if (first !== "ok") {
        assert.equal((first as SignalboxError).code, Code.ResourceExhausted);
        await plain.chat.complete({ ...hi(), model: "limited" });
      }
      // Without retry the refusal reaches the caller, saying when to come back...
      const refused = await failure(plain.chat.complete({ ...hi(), model: "limited" }));
      assert.equal(refused.code, Code.ResourceExhausted);
      assert.equal(refused.failureKind, FailureKind.RATE_LIMITED);
      assert.equal(refused.retryAfterMs, 300);
      await plain.chat.complete({ ...hi(), model: "limited" }); // (the next one answers)

      // ...with retry, the refusal is waited out and the second try answers.
      const tries = counter();
      const c = client({ retry: true, interceptors: [tries.interceptor] });
      const t0 = performance.now();
      const res = await c.chat.complete({ ...hi("retry me"), model: "limited" });
      const took = performance.now() - t0;
      assert.equal(res.deployment, "mock/limited");
      assert.equal(tries.count(), 2, "one refusal, one retry");
      assert.ok(took >= 280, `waited the 300 ms retry-after (took ${took.toFixed(0)} ms)`);
    });

    test("the retry interceptor never retries a stream (and gives up on unary after maxAttempts)", async () => {
      const streamTries = counter();
      const c = client({ retry: { maxAttempts: 3, maxDelayMs: 1000 }, interceptors: [streamTries.interceptor] });
      const e = await failure(streamText(c.chat, { ...hi(), model: "always-limited" }).result);
      assert.equal(e.code, Code.ResourceExhausted);
      assert.equal(e.retryAfterMs, 300, "retryable in principle: a rate limit that says when");
      assert.equal(streamTries.count(), 1, "a stream is tried once");

      const unaryTries = counter();
      const u = client({ retry: { maxAttempts: 3, maxDelayMs: 1000 }, interceptors: [unaryTries.interceptor] });
      const ue = await failure(u.chat.complete({ ...hi(), model: "always-limited" }));
      assert.equal(ue.code, Code.ResourceExhausted);
      assert.equal(unaryTries.count(), 3, "unary: maxAttempts tries in all");
    });

    test("the default deadline applies to unary calls (timeoutMs: 50 → deadline_exceeded)", async () => {
      const c = client({ timeoutMs: 50 });
      const t0 = performance.now();
      const e = await failure(c.chat.complete({ ...hi(), model: "slow" }));
      assert.equal(e.code, Code.DeadlineExceeded, e.message);
      assert.equal(e.codeName, "deadline_exceeded");
      assert.ok(performance.now() - t0 < 3000, "it did not wait for the 5 s first token");
      // A call's own timeoutMs wins over the default.
      const own = await failure(client({ timeoutMs: 60_000 }).chat.complete({ ...hi(), model: "slow" }, { timeoutMs: 50 }));
      assert.equal(own.code, Code.DeadlineExceeded);
      // Streams have their own default.
      const s = await failure(streamText(client({ streamTimeoutMs: 50 }).chat, { ...hi(), model: "slow" }).result);
      assert.equal(s.code, Code.DeadlineExceeded);
      const rawStream = await failure(
        (async () => {
          for await (const _ of client({ streamTimeoutMs: 50 }).chat.stream({ ...hi(), model: "slow" }));
        })(),
      );
      assert.equal(rawStream.code, Code.DeadlineExceeded);
      // The caller's own abort is a SignalboxError too (canceled); with a default deadline far off,
      // so that the two timers cannot race on a busy machine.
      const canceled = await failure(client({ timeoutMs: 60_000 }).chat.complete({ ...hi(), model: "slow" }, { signal: AbortSignal.timeout(30) }));
      assert.equal(canceled.code, Code.Canceled, canceled.message);
    });
  });
}

describe("traceparent forwarding", () => {
  const contextManager = new AsyncLocalStorageContextManager();
  before(() => {
    context.setGlobalContextManager(contextManager.enable());
  });
  after(() => {
    context.disable();
  });

  const callerSpan = () => {
    const traceId = randomBytes(16).toString("hex");
    const spanId = randomBytes(8).toString("hex");
    return { traceId, ctx: trace.setSpan(context.active(), trace.wrapSpanContext({ traceId, spanId, traceFlags: 1 })) };
  };

  for (const p of PROTOCOLS) {
    test(`${p.name}: the gateway continues the caller's active span; opentelemetry: false turns it off`, async () => {
      const on = createSignalboxClient({ baseUrl: t.url, apiKey: MAIN_KEY, ...p.opts });
      const off = createSignalboxClient({ baseUrl: t.url, apiKey: MAIN_KEY, ...p.opts, opentelemetry: false });
      const { traceId, ctx } = callerSpan();

      const res = await context.with(ctx, () => on.chat.complete(hi("trace me")));
      assert.equal(res.traceId, traceId, "unary: the response's trace is the caller's");
      const streamed = await context.with(ctx, () => streamText(on.chat, hi("trace my stream")).result);
      assert.equal(streamed.traceId, traceId, "stream: the start event's trace is the caller's");
      const err = await failure(context.with(ctx, () => on.chat.complete({ model: "default", messages: [] })));
      assert.equal(err.traceId, traceId, "errors carry the caller's trace too");

      const notForwarded = await context.with(ctx, () => off.chat.complete(hi("do not trace me")));
      assert.match(notForwarded.traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(notForwarded.traceId, traceId, "opentelemetry: false sends no traceparent");
      // Outside any span nothing is forwarded either.
      const outside = await on.chat.complete(hi("no span"));
      assert.notEqual(outside.traceId, traceId);
      // An explicit traceparent header is left alone.
      const own = "0af7651916cd43dd8448eb211c80319c";
      const explicit = await context.with(ctx, () => on.chat.complete(hi("mine"), { headers: { traceparent: `00-${own}-b7ad6b7169203331-01` } }));
      assert.equal(explicit.traceId, own);
    });
  }
});
