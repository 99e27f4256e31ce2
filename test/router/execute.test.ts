// Execution: one loop over the plan — retries, fallbacks by failure kind, timeouts, the commit
// point — with a scripted in-process provider (the real-socket versions run against the fakes).

import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { buildConfig } from "../../src/config/load.ts";
import type { ChatResult, Provider, StreamEvent, UpstreamRequest } from "../../src/providers/types.ts";
import { ProviderError } from "../../src/providers/types.ts";
import { GatewayError } from "../../src/router/errors.ts";
import { executeStream, executeUnary, newExecution, type ExecuteDeps } from "../../src/router/execute.ts";
import { plan } from "../../src/router/plan.ts";
import { createModelRegistry } from "../../src/router/registry.ts";
import type { ChatCall } from "../../src/router/types.ts";
import { createMemoryHealthStore } from "../../src/state/health.ts";

const config = buildConfig(
  parse(`
providers: [{ name: p1, type: mock }, { name: p2, type: mock }, { name: p3, type: mock }]
deployments:
  - { id: d1, provider: p1, model: m1, pricing: { input: 1, output: 2 }, context_window: 8000 }
  - { id: d2, provider: p2, model: m2, pricing: { input: 1, output: 2 }, context_window: 8000 }
  - { id: d3, provider: p3, model: m3, pricing: { input: 1, output: 2 }, context_window: 200000 }
routes:
  - name: r
    targets: [d1, d2, d3]
    retry: { max_retries: 1, base_delay_ms: 1, max_delay_ms: 2, max_retry_after_ms: 50 }
    timeouts: { first_token_ms: 100, idle_ms: 100 }
`),
  {},
);
const registry = createModelRegistry(config);

type Step = ProviderError | "ok" | { hangMs: number } | { streamFailAfter: number };

/** A provider that follows a script, one step per call. */
function scripted(name: string, steps: Step[]): Provider & { calls: UpstreamRequest[] } {
  const calls: UpstreamRequest[] = [];
  const next = () => steps.shift() ?? "ok";
  const wait = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)), { once: true });
    });
  return {
    name,
    type: "mock",
    calls,
    async complete(req, signal): Promise<ChatResult> {
      calls.push(req);
      const s = next();
      if (s instanceof ProviderError) throw s;
      if (typeof s === "object" && "hangMs" in s) await wait(s.hangMs, signal);
      return { id: "x", model: req.model, text: `from ${name}`, toolCalls: [], finishReason: "stop", rawFinishReason: "stop", usage: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } };
    },
    async *stream(req, signal): AsyncGenerator<StreamEvent[]> {
      calls.push(req);
      const s = next();
      yield [{ type: "start", model: req.model }];
      if (s instanceof ProviderError) throw s;
      if (typeof s === "object" && "hangMs" in s) await wait(s.hangMs, signal);
      for (let i = 0; i < 4; i++) {
        if (typeof s === "object" && "streamFailAfter" in s && i === s.streamFailAfter) {
          throw new ProviderError({ kind: "stream_interrupted", message: "connection reset mid-stream" });
        }
        yield [{ type: "text", text: `${name}-${i} ` }];
      }
      yield [
        { type: "finish", finishReason: "stop", rawFinishReason: "stop" },
        { type: "usage", usage: { inputTokens: 10, outputTokens: 4, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } },
      ];
    },
  };
}

function setup(s1: Step[], s2: Step[] = [], s3: Step[] = []) {
  const providers = new Map<string, Provider>([
    ["p1", scripted("p1", s1)],
    ["p2", scripted("p2", s2)],
    ["p3", scripted("p3", s3)],
  ]);
  const deps: ExecuteDeps = { providers, health: createMemoryHealthStore(), random: () => 0.5 };
  const c: ChatCall = {
    id: "req",
    model: "r",
    request: { messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] },
    routing: { fallbacks: [], noFallback: false, requiredCapabilities: [], timeouts: {}, fallbackOnContentFilter: false },
    tags: [],
    metadata: {},
    caller: { keyName: "k", team: "t", role: "service", allow: [] },
    stream: false,
  };
  const p = plan({ call: c, registry, health: deps.health.snapshot(), rand: () => 0.5 });
  return { deps, call: c, plan: p, providers };
}

const err = (kind: ProviderError["kind"], extra: Partial<ConstructorParameters<typeof ProviderError>[0]> = {}) => new ProviderError({ kind, message: `${kind}!`, ...extra });
const signal = () => new AbortController().signal;
const outline = (ex: ReturnType<typeof newExecution>) => ex.attempts.map((a) => `${a.deployment}:${a.outcome}${a.failureKind ? `:${a.failureKind}` : ""}`);

test("fallback kinds move on; each attempt is recorded", async () => {
  for (const kind of ["upstream_auth", "quota_exhausted", "model_not_found", "timeout", "unknown"] as const) {
    const { deps, call, plan: p } = setup([err(kind)]);
    const ex = newExecution(performance.now());
    const out = await executeUnary(call, p, signal(), deps, ex);
    assert.equal(out.deployment?.deployment.id, "d2", kind);
    assert.deepEqual(outline(ex), [`d1:failed:${kind}`, "d2:succeeded"], kind);
    assert.equal(ex.attempts[1].reason, `fallback after ${kind} from d1`);
  }
});

test("retryable kinds retry the same deployment once, then fall back", async () => {
  const { deps, call, plan: p } = setup([err("overloaded"), err("overloaded")]);
  const ex = newExecution(performance.now());
  await executeUnary(call, p, signal(), deps, ex);
  assert.deepEqual(outline(ex), ["d1:failed:overloaded", "d1:failed:overloaded", "d2:succeeded"]);
  assert.match(ex.attempts[1].reason, /^retry 1 after overloaded/);
});

test("retryable: false (insufficient quota, x-should-retry: false) never retries", async () => {
  const { deps, call, plan: p } = setup([err("rate_limited", { retryable: false })]);
  const ex = newExecution(performance.now());
  await executeUnary(call, p, signal(), deps, ex);
  assert.deepEqual(outline(ex), ["d1:failed:rate_limited", "d2:succeeded"]);
});

test("a retry-after within the cap is honoured; a long one falls back instead", async () => {
  {
    const { deps, call, plan: p } = setup([err("rate_limited", { retryAfterMs: 3 })]);
    const ex = newExecution(performance.now());
    await executeUnary(call, p, signal(), deps, ex);
    assert.deepEqual(outline(ex), ["d1:failed:rate_limited", "d1:succeeded"]);
    assert.equal(ex.attempts[0].retryAfterMs, 3);
  }
  {
    const { deps, call, plan: p } = setup([err("rate_limited", { retryAfterMs: 60_000 })]);
    const ex = newExecution(performance.now());
    await executeUnary(call, p, signal(), deps, ex);
    assert.deepEqual(outline(ex), ["d1:failed:rate_limited", "d2:succeeded"]);
  }
});

test("when every candidate is rate limited, the caller is told when the soonest one frees up", async () => {
  const long = { retryAfterMs: 60_000 };
  const { deps, call, plan: p } = setup([err("rate_limited", { retryAfterMs: 45_000 })], [err("rate_limited", long)], [err("rate_limited", long)]);
  const ex = newExecution(performance.now());
  await assert.rejects(executeUnary(call, p, signal(), deps, ex), (e: unknown) => e instanceof GatewayError && e.code === "resource_exhausted" && e.details.retryAfterMs === 45_000);
  assert.deepEqual(outline(ex), ["d1:failed:rate_limited", "d2:failed:rate_limited", "d3:failed:rate_limited"]);
});

test("bad_request and content_filtered return to the caller without fallback", async () => {
  for (const [kind, code] of [["bad_request", "invalid_argument"], ["content_filtered", "invalid_argument"]] as const) {
    const { deps, call, plan: p } = setup([err(kind)]);
    const ex = newExecution(performance.now());
    await assert.rejects(executeUnary(call, p, signal(), deps, ex), (e: unknown) => e instanceof GatewayError && e.code === code);
    assert.deepEqual(outline(ex), [`d1:failed:${kind}`]);
  }
});

test("content_filtered falls back when the route or request allows it", async () => {
  const { deps, call, plan: p } = setup([err("content_filtered")]);
  const ex = newExecution(performance.now());
  await executeUnary(call, { ...p, fallbackOnContentFilter: true }, signal(), deps, ex);
  assert.deepEqual(outline(ex), ["d1:failed:content_filtered", "d2:succeeded"]);
});

test("context_length_exceeded skips candidates no larger than the one that failed", async () => {
  const { deps, call, plan: p } = setup([err("context_length_exceeded")]);
  const ex = newExecution(performance.now());
  const out = await executeUnary(call, p, signal(), deps, ex);
  assert.equal(out.deployment?.deployment.id, "d3", "d2 has the same 8000-token window as d1");
  assert.deepEqual(outline(ex), ["d1:failed:context_length_exceeded", "d3:succeeded"]);
});

test("every candidate failing ends with the last kind's code and all attempts", async () => {
  const { deps, call, plan: p } = setup([err("server_error"), err("server_error")], [err("network"), err("network")], [err("overloaded"), err("overloaded")]);
  const ex = newExecution(performance.now());
  await assert.rejects(executeUnary(call, { ...p, maxAttempts: 10 }, signal(), deps, ex), (e: unknown) => {
    assert.ok(e instanceof GatewayError);
    assert.equal(e.code, "unavailable");
    assert.equal(e.details.failureKind, "overloaded");
    assert.match(e.message, /^all 6 attempts failed/);
    return true;
  });
});

test("max_attempts bounds retries and fallbacks together", async () => {
  const { deps, call, plan: p } = setup([err("server_error"), err("server_error")], [err("server_error")]);
  const ex = newExecution(performance.now());
  await assert.rejects(executeUnary(call, { ...p, maxAttempts: 2 }, signal(), deps, ex));
  assert.equal(ex.attempts.length, 2);
});

test("stream: a slow first token moves on to the next candidate", async () => {
  const { deps, call, plan: p } = setup([{ hangMs: 5_000 }]);
  const ex = newExecution(performance.now());
  const events = [];
  for await (const e of executeStream({ ...call, stream: true }, p, signal(), deps, ex)) events.push(e);
  assert.deepEqual(outline(ex), ["d1:failed:timeout", "d2:succeeded"]);
  assert.match(ex.attempts[0].errorMessage!, /no first token within 100 ms/);
  assert.equal(events[0].type, "start");
  assert.equal(events.at(-1)!.type, "finish");
});

test("stream: a failure before the first content falls back; the caller sees one clean stream", async () => {
  const { deps, call, plan: p } = setup([{ streamFailAfter: 0 }, { streamFailAfter: 0 }]);
  const ex = newExecution(performance.now());
  let text = "";
  for await (const e of executeStream({ ...call, stream: true }, p, signal(), deps, ex)) {
    if (e.type === "delta") for (const x of e.events) if (x.type === "text") text += x.text;
  }
  assert.equal(text, "p2-0 p2-1 p2-2 p2-3 ");
  assert.deepEqual(outline(ex), ["d1:failed:stream_interrupted", "d1:failed:stream_interrupted", "d2:succeeded"]);
});

test("stream: after the commit point there is no fallback; the error says what was delivered and usage is kept", async () => {
  const { deps, call, plan: p } = setup([{ streamFailAfter: 2 }]);
  const ex = newExecution(performance.now());
  let deltas = 0;
  await assert.rejects(
    (async () => {
      for await (const e of executeStream({ ...call, stream: true }, p, signal(), deps, ex)) if (e.type === "delta") deltas++;
    })(),
    (e: unknown) => {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.details.deliveredDeltas, 2);
      assert.match(e.message, /failed after 2 deltas/);
      return true;
    },
  );
  assert.equal(deltas, 2);
  assert.deepEqual(outline(ex), ["d1:failed:stream_interrupted"]);
  assert.ok(ex.usage.outputTokens > 0 && ex.usageEstimated, "partial usage is estimated and billed");
  assert.deepEqual(ex.attempts[0].usageSource, { input: "estimated", output: "estimated" });
  assert.ok(ex.cost.total > 0);
});

test("the caller's abort stops the attempt at once, with no fallback", async () => {
  const { deps, call, plan: p } = setup([{ hangMs: 5_000 }]);
  const ctl = new AbortController();
  const ex = newExecution(performance.now());
  setTimeout(() => ctl.abort(new Error("client went away")), 20);
  const t0 = performance.now();
  await assert.rejects(executeUnary(call, p, ctl.signal, deps, ex));
  assert.ok(performance.now() - t0 < 1_000);
  assert.deepEqual(outline(ex), ["d1:canceled:canceled"]);
});

test("cost sums every billed attempt", async () => {
  const { deps, call, plan: p } = setup(["ok"]);
  const ex = newExecution(performance.now());
  const out = await executeUnary(call, p, signal(), deps, ex);
  // 10 input × $1/M + 5 output × $2/M = 10,000 + 10,000 nano-USD
  assert.equal(out.cost.total, 20_000);
});

test("a timed-out attempt is billed at its estimated prompt only when its request was sent and the provider did not answer", async () => {
  const cases: [string, ProviderError, number][] = [
    // Our timer or undici's headers/body timeout: the provider had the prompt.
    ["gave up waiting", err("timeout"), 1],
    // A connect timeout never reached the provider; a 504 is the provider's own answer (no usage in it).
    ["connect timeout", err("timeout", { unsent: true }), 0],
    ["provider's 504", err("timeout", { status: 504 }), 0],
  ];
  for (const [name, e, billed] of cases) {
    const { deps, call, plan: p } = setup([e]);
    const ex = newExecution(performance.now());
    const out = await executeUnary(call, p, signal(), deps, ex);
    const [failed, ok] = ex.attempts;
    assert.deepEqual(outline(ex), ["d1:failed:timeout", "d2:succeeded"], name);
    if (billed) {
      assert.deepEqual(failed.usage, { ...ok.usage, inputTokens: p.candidates[0].estimatedInputTokens, outputTokens: 0 }, name);
      assert.deepEqual(failed.usageSource, { input: "estimated", output: "estimated" }, name);
      assert.ok(failed.cost.total > 0 && ex.usageEstimated, name);
    } else {
      assert.equal(failed.usage.inputTokens, 0, name);
      assert.equal(failed.usageSource, undefined, name);
      assert.equal(ex.usageEstimated, false, name);
    }
    assert.equal(out.cost.total, failed.cost.total + ok.cost.total, `${name}: the total is both attempts`);
  }
});

test("usage a failed attempt's response carried (ProviderError.usage) is what it is billed on", async () => {
  const carried = { inputTokens: 70, outputTokens: 9, cachedInputTokens: 20, cacheWriteTokens: 0, reasoningTokens: 0 };
  const { deps, call, plan: p } = setup([err("server_error", { usage: carried })]);
  const ex = newExecution(performance.now());
  await executeUnary(call, p, signal(), deps, ex);
  assert.deepEqual(ex.attempts[0].usage, carried);
  assert.deepEqual(ex.attempts[0].usageSource, { input: "reported", output: "reported" });
  assert.deepEqual(ex.usage, { ...carried, inputTokens: 80, outputTokens: 14 });
  assert.equal(ex.usageEstimated, false);
});

test("hedging: a slow first candidate gets a concurrent sibling; the first answer wins, the other is cancelled and billed", async () => {
  const { deps, call, plan: p } = setup([{ hangMs: 5_000 }], ["ok"]);
  const ex = newExecution(performance.now());
  const t0 = performance.now();
  const out = await executeUnary(call, { ...p, hedgeAfterMs: 30 }, signal(), deps, ex);
  assert.ok(performance.now() - t0 < 1_000, "did not wait for the hanging attempt");
  assert.equal(out.deployment?.deployment.id, "d2");
  assert.deepEqual(outline(ex), ["d1:canceled:canceled", "d2:succeeded"]);
  assert.ok(ex.attempts.every((a) => a.hedged));
  assert.match(ex.attempts[1].reason, /^hedge: no first token from d1 after 30 ms/);
  assert.equal(ex.attempts[0].errorMessage, "lost the hedge race");
  assert.ok(ex.attempts[0].usage.inputTokens > 0, "the loser's prompt is billed (estimated)");
  assert.deepEqual(ex.attempts[0].usageSource, { input: "estimated", output: "estimated" });
  assert.equal(deps.health.snapshot().get("d1")?.inFlight, 0);
});

test("hedging on a stream: the sibling that produces the first token wins", async () => {
  const { deps, call, plan: p } = setup([{ hangMs: 5_000 }]);
  const ex = newExecution(performance.now());
  let text = "";
  for await (const e of executeStream({ ...call, stream: true }, { ...p, hedgeAfterMs: 30 }, signal(), deps, ex)) {
    if (e.type === "delta") for (const x of e.events) if (x.type === "text") text += x.text;
  }
  assert.equal(text, "p2-0 p2-1 p2-2 p2-3 ");
  assert.deepEqual(outline(ex), ["d1:canceled:canceled", "d2:succeeded"]);
});

test("hedging: when the first candidate answers before the threshold, no sibling starts", async () => {
  const { deps, call, plan: p } = setup(["ok"]);
  const ex = newExecution(performance.now());
  await executeUnary(call, { ...p, hedgeAfterMs: 500 }, signal(), deps, ex);
  assert.deepEqual(outline(ex), ["d1:succeeded"]);
});

test("after a cooldown ends, only the request holding the probe tries the deployment", async () => {
  const { deps, call, plan: p } = setup(["ok"], ["ok"]);
  // d1 failed into a cooldown that has already ended: it awaits its probe.
  const h = deps.health;
  h.begin("d1");
  h.end("d1", { ok: false, kind: "overloaded", cooldown: true });
  h.begin("d1");
  h.end("d1", { ok: false, kind: "overloaded", cooldown: true });
  h.begin("d1");
  h.end("d1", { ok: false, kind: "overloaded", cooldown: true });
  const snap = h.snapshot();
  assert.ok(snap.get("d1")!.cooldownUntil! > Date.now());
  (snap.get("d1") as { cooldownUntil?: number }).cooldownUntil = Date.now() - 1;
  assert.equal(await h.claimProbe("d1"), true, "someone else holds the probe now");
  const ex = newExecution(performance.now());
  const out = await executeUnary(call, p, signal(), deps, ex);
  assert.equal(out.deployment?.deployment.id, "d2", "d1 is left to its probe");
});
