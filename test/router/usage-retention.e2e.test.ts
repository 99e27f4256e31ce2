// Usage known is never thrown away (issue 15), end to end: typed client → gateway → adapters →
// the fake Anthropic, Gemini, OpenAI and OpenRouter servers on real sockets. A stream that breaks,
// is cancelled or fails in band after its provider reported usage is billed on that usage, with
// an estimate only for what was not reported; failed attempts whose response carried usage are
// billed on it; a unary attempt that timed out is billed at its estimated prompt. Every attempt
// says which of its figures were reported and which estimated (record: usageSource; API:
// Usage.input_estimated / output_estimated), and a record's total is the sum of its attempts.

import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { AttemptOutcome, FailureKind, type Attempt, type Usage as PbUsage } from "@signalbox/client";
import { ANTHROPIC_TEST_KEY, startFakeAnthropic, type FakeAnthropic } from "../fakes/anthropic.ts";
import { GEMINI_TEST_KEY, startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { OPENAI_TEST_KEY, startFakeOpenAI, type FakeOpenAI } from "../fakes/openai.ts";
import { OPENROUTER_TEST_KEY, startFakeOpenRouter, type FakeOpenRouter } from "../fakes/openrouter.ts";
import { countTextTokens, tokenFamily } from "../../src/providers/tokens.ts";
import type { Usage } from "../../src/providers/types.ts";
import type { AttemptRecord } from "../../src/router/types.ts";
import { addCost, addUsage, computeCost, ZERO_COST, ZERO_USAGE } from "../../src/usage/cost.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import type { TestGateway } from "../helpers/gateway.ts";
import { attemptSummary, clientFor, collect, details, gatewayPool, lastRecord, user, waitFor } from "../e2e/anthropic-gemini-harness.ts";

const CLAUDE = "claude-sonnet-4-5-20250929";
const FLASH = "gemini-2.5-flash";
const FAILED = AttemptOutcome.FAILED;
const OK = AttemptOutcome.SUCCEEDED;

let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let openai: FakeOpenAI;
let openrouter: FakeOpenRouter;

// Prices are USD per million tokens (input 3 → 3000 nano-USD a token).
const config = () => `
providers:
  - { name: anthropic, type: anthropic, base_url: "${anthropic.url}", api_key: ${ANTHROPIC_TEST_KEY} }
  - { name: gemini, type: gemini, base_url: "${gemini.url}", api_key: ${GEMINI_TEST_KEY} }
  - { name: openai, type: openai, base_url: "${openai.url}", api_key: ${OPENAI_TEST_KEY} }
  - { name: openrouter, type: openrouter, base_url: "${openrouter.url}", api_key: ${OPENROUTER_TEST_KEY} }
  - { name: backup, type: mock, mock: { reply: "backup answer", chunks: 3 } }
deployments:
  - { id: claude/sonnet, provider: anthropic, model: ${CLAUDE}, pricing: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } }
  - { id: gemini/flash, provider: gemini, model: ${FLASH}, pricing: { input: 0.5, cached_input: 0.125, output: 4, reasoning: 6 } }
  - { id: openai/gpt-4o, provider: openai, model: gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: openrouter/gpt-4o, provider: openrouter, model: openai/gpt-4o, pricing: { input: 2.5, cached_input: 1.25, output: 10 } }
  - { id: backup/mock, provider: backup, model: mock-backup, pricing: { input: 1, output: 2 } }
routes:
  - { name: claude, targets: [claude/sonnet], retry: { max_retries: 0 } }
  - { name: claude-fallback, targets: [claude/sonnet, backup/mock], retry: { max_retries: 0 } }
  - name: claude-timeout
    targets: [claude/sonnet, backup/mock]
    retry: { max_retries: 0 }
    timeouts: { attempt_ms: 300 }
  - { name: gemini, targets: [gemini/flash], retry: { max_retries: 0 } }
  - { name: openai, targets: [openai/gpt-4o], retry: { max_retries: 0 } }
  - { name: openrouter-fallback, targets: [openrouter/gpt-4o, backup/mock], retry: { max_retries: 0 } }
`;

const gws = gatewayPool(config);

before(async () => {
  [anthropic, gemini, openai, openrouter] = await Promise.all([startFakeAnthropic(), startFakeGemini(), startFakeOpenAI(), startFakeOpenRouter()]);
});
beforeEach(() => {
  for (const f of [anthropic, gemini, openai, openrouter]) f.reset();
});
afterEach(() => gws.closeAll());
after(() => Promise.all([anthropic, gemini, openai, openrouter].map((f) => f.close())));

const usage = (u: Partial<Usage>): Usage => ({ ...ZERO_USAGE, ...u });

/** A record's usage in plain numbers, as the API reports it. */
function pbUsage(u: PbUsage | undefined) {
  assert.ok(u, "usage missing");
  return {
    usage: usage({
      inputTokens: Number(u.inputTokens),
      outputTokens: Number(u.outputTokens),
      cachedInputTokens: Number(u.cachedInputTokens),
      cacheWriteTokens: Number(u.cacheWriteTokens),
      reasoningTokens: Number(u.reasoningTokens),
    }),
    estimated: { any: u.estimated, input: u.inputEstimated, output: u.outputEstimated },
  };
}

/** The deployment's pricing, as the running gateway has it. */
function pricing(t: TestGateway, id: string) {
  const d = t.config.deployments.find((x) => x.id === id);
  assert.ok(d, id);
  return d.pricing;
}

/** Each attempt's cost is its billed usage at its deployment's prices; the record is the sum of its attempts. */
function assertBilledAsSum(t: TestGateway, rec: UsageRecord): void {
  let u = { ...ZERO_USAGE };
  let c = { ...ZERO_COST };
  for (const a of rec.attempts) {
    assert.deepEqual(a.cost, computeCost(a.usage, pricing(t, a.deployment)), `attempt ${a.number} is billed at its deployment's prices`);
    u = addUsage(u, a.usage);
    c = addCost(c, a.cost);
  }
  assert.deepEqual(rec.usage, u, "the record's usage is the sum of its attempts'");
  assert.deepEqual(rec.cost, c, "the record's cost is the sum of its attempts'");
}

/** The record's usageSource of an attempt, and the same as the API says it (Attempt.usage flags). */
function assertSource(rec: AttemptRecord, pb: Attempt | undefined, input: "reported" | "estimated", output: "reported" | "estimated"): void {
  assert.deepEqual(rec.usageSource, { input, output }, `attempt ${rec.number} usageSource`);
  if (pb) {
    const { estimated } = pbUsage(pb.usage);
    assert.deepEqual(estimated, { any: input === "estimated" || output === "estimated", input: input === "estimated", output: output === "estimated" }, `attempt ${rec.number} Usage flags`);
  }
}

/** Output tokens the gateway estimates for delivered text (the estimator in src/providers/tokens.ts). */
const estimatedOutput = (text: string, model: string, providerType: string) => countTextTokens(text, tokenFamily(model, providerType));

// ---------------------------------------------------------------------------------------------

describe("anthropic: input reported at message_start, output estimated when the stream is cut", () => {
  test("cut after message_start and two deltas: billed on the reported input and cache counts (exact) + estimated output", async () => {
    const t = await gws.start();
    // Units: message_start, content_block_start, ping, "alpha ", "beta ", then a clean EOF (no message_stop).
    anthropic.script({ kind: "text", text: ["alpha ", "beta ", "gamma ", "delta"], usage: { input: 1000, output: 40, cached: 600, cacheWrite: 100 }, interrupt: { afterEvents: 5 } });
    const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("tell me something")] }));
    assert.equal(s.text, "alpha beta ");
    const { info } = details(s.error);
    assert.equal(info.failureKind, FailureKind.STREAM_INTERRUPTED);

    // message_start said input_tokens 300 (uncached), 600 cache reads, 100 cache writes: 1000 in all.
    const output = Math.max(1, estimatedOutput("alpha beta ", CLAUDE, "anthropic"));
    const billed = usage({ inputTokens: 1000, cachedInputTokens: 600, cacheWriteTokens: 100, outputTokens: output });
    assert.deepEqual(pbUsage(info.usage), { usage: billed, estimated: { any: true, input: false, output: true } });

    const rec = await lastRecord(t, "claude");
    assert.equal(rec.attempts.length, 1);
    assert.deepEqual(rec.attempts[0].usage, billed);
    assertSource(rec.attempts[0], info.attempts[0], "reported", "estimated");
    assert.equal(rec.usageEstimated, true, "the record says part of it was estimated");
    // Hand-computed: 300 × 3000 + 600 × 300 + 100 × 3750 + output × 15000 nano-USD.
    assert.equal(rec.cost.total, 300 * 3000 + 600 * 300 + 100 * 3750 + output * 15000);
    assert.equal(Number(info.cost?.totalNanoUsd), rec.cost.total);
    assertBilledAsSum(t, rec);
  });

  test("cut right after message_start (before any content): the failed attempt is billed on its reported input, then the fallback; the total is both", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "text", text: "never sent", usage: { input: 500, output: 30 }, interrupt: { afterEvents: 1 } });
    const s = await collect(clientFor(t).chat.stream({ model: "claude-fallback", messages: [user("hello there")] }));
    assert.equal(s.error, undefined);
    assert.equal(s.text, "backup answer");
    assert.deepEqual(attemptSummary(s.finish!.attempts), [
      ["claude/sonnet", FAILED, FailureKind.STREAM_INTERRUPTED],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);

    const rec = await lastRecord(t, "claude-fallback");
    // message_start's output_tokens (1) is what was counted then; nothing was delivered.
    assert.deepEqual(rec.attempts[0].usage, usage({ inputTokens: 500, outputTokens: 1 }));
    assertSource(rec.attempts[0], s.finish!.attempts[0], "reported", "estimated");
    assertSource(rec.attempts[1], s.finish!.attempts[1], "reported", "reported");
    assert.ok(rec.attempts[0].cost.total > 0);
    assertBilledAsSum(t, rec);
    assert.deepEqual(pbUsage(s.finish!.usage).usage, rec.usage);
    assert.deepEqual(pbUsage(s.finish!.usage).estimated, { any: true, input: false, output: true });
  });

  test("an in-band error event after message_start: billed on the reported input", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "stream_error", text: "one two three", afterDeltas: 2 });
    const s = await collect(clientFor(t).chat.stream({ model: "claude", messages: [user("in band")] }));
    const { info } = details(s.error);
    assert.equal(info.failureKind, FailureKind.OVERLOADED);
    const rec = await lastRecord(t, "claude");
    const a = rec.attempts[0];
    assert.ok(a.usage.inputTokens > 0);
    assert.equal(a.usage.inputTokens, Number(info.attempts[0].usage?.inputTokens));
    assert.equal(anthropic.requests.length, 1);
    assertSource(a, info.attempts[0], "reported", "estimated");
  });

  test("a stream the client cancels after message_start is billed on the reported input", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "text", text: ["one ", "two ", "three ", "four ", "five"], usage: { input: 777, output: 50 }, chunkDelayMs: 80 });
    const ctl = new AbortController();
    let text = "";
    await assert.rejects(async () => {
      for await (const ev of clientFor(t).chat.stream({ model: "claude", messages: [user("cancel me")] }, { signal: ctl.signal })) {
        if (ev.event.case === "delta") {
          text += ev.event.value.text;
          ctl.abort();
        }
      }
    });
    assert.equal(text, "one ");
    const rec = await waitFor(() => t.usage.recent().find((r) => r.model === "claude" && r.attempts[0]?.outcome === "canceled"), 3000);
    const a = rec.attempts[0];
    assert.equal(a.usage.inputTokens, 777, "the reported input, not an estimate");
    assert.ok(a.usage.outputTokens >= 1);
    assertSource(a, undefined, "reported", "estimated");
    assertBilledAsSum(t, rec);
  });
});

describe("gemini: cumulative usageMetadata, the latest taken", () => {
  test("a stream cut after two chunks is billed exactly on the last reported figures, hidden thoughts included", async () => {
    const t = await gws.start();
    // 4 text chunks; chunk k reports candidates round(100 × k/4) and all 200 thoughts, cumulatively.
    gemini.script({ kind: "text", text: ["one ", "two ", "three ", "four"], usage: { input: 50, output: 300, reasoning: 200 }, interrupt: { afterEvents: 2 } });
    const s = await collect(clientFor(t).chat.stream({ model: "gemini", messages: [user("count")] }));
    assert.equal(s.text, "one two ");
    const { info } = details(s.error);
    assert.equal(info.failureKind, FailureKind.STREAM_INTERRUPTED);

    const billed = usage({ inputTokens: 50, outputTokens: 50 + 200, reasoningTokens: 200 });
    assert.deepEqual(pbUsage(info.usage), { usage: billed, estimated: { any: false, input: false, output: false } });
    const rec = await lastRecord(t, "gemini");
    assert.deepEqual(rec.attempts[0].usage, billed);
    assertSource(rec.attempts[0], info.attempts[0], "reported", "reported");
    assert.equal(rec.usageEstimated, false, "nothing was estimated: Gemini had counted all of it");
    // Hand-computed: 50 × 500 + 50 × 4000 + 200 × 6000 nano-USD.
    assert.equal(rec.cost.total, 50 * 500 + 50 * 4000 + 200 * 6000);
    assertBilledAsSum(t, rec);
  });
});

describe("openai: the usage chunk before an in-band error", () => {
  test("a stream whose usage chunk arrived before its in-band error is billed on it", async () => {
    const t = await gws.start();
    openai.script({ kind: "stream_error", text: "a b c d", afterDeltas: 2, usage: { input: 40, output: 12, cached: 10 }, usageFirst: true });
    const s = await collect(clientFor(t).chat.stream({ model: "openai", messages: [user("usage then error")] }));
    assert.equal(s.text, "a b ");
    const { info } = details(s.error);
    const billed = usage({ inputTokens: 40, outputTokens: 12, cachedInputTokens: 10 });
    assert.deepEqual(pbUsage(info.usage), { usage: billed, estimated: { any: false, input: false, output: false } });
    const rec = await lastRecord(t, "openai");
    assert.deepEqual(rec.attempts[0].usage, billed);
    assertSource(rec.attempts[0], info.attempts[0], "reported", "reported");
    assert.equal(rec.usageEstimated, false);
    assertBilledAsSum(t, rec);
  });

  test("without a usage chunk the same stream is estimated in full (prompt and output)", async () => {
    const t = await gws.start();
    openai.script({ kind: "stream_error", text: "a b c d", afterDeltas: 2 });
    const s = await collect(clientFor(t).chat.stream({ model: "openai", messages: [user("error, no usage")] }));
    const { info } = details(s.error);
    const rec = await lastRecord(t, "openai");
    assert.equal(rec.attempts[0].usage.outputTokens, estimatedOutput("a b ", "gpt-4o", "openai"));
    assert.ok(rec.attempts[0].usage.inputTokens > 0);
    assertSource(rec.attempts[0], info.attempts[0], "estimated", "estimated");
    assert.deepEqual(pbUsage(info.usage).estimated, { any: true, input: true, output: true });
  });
});

describe("failed attempts whose provider did the work", () => {
  test("a unary attempt that times out is billed at its estimated prompt; the fallback answers; the total is both", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "hang" });
    const req = { model: "claude-timeout", messages: [user("a question the provider read but never answered")] };
    const res = await clientFor(t).chat.complete(req);
    assert.deepEqual(attemptSummary(res.attempts), [
      ["claude/sonnet", FAILED, FailureKind.TIMEOUT],
      ["backup/mock", OK, FailureKind.UNSPECIFIED],
    ]);
    // The prompt as the plan counted it for this deployment (its own tokenizer family).
    const plan = await clientFor(t).route.route({ ...req, model: "claude/sonnet" });
    const rec = await lastRecord(t, "claude-timeout");
    assert.deepEqual(rec.attempts[0].usage, usage({ inputTokens: plan.estimatedInputTokens }));
    assert.ok(rec.attempts[0].cost.total > 0);
    assertSource(rec.attempts[0], res.attempts[0], "estimated", "estimated");
    assertSource(rec.attempts[1], res.attempts[1], "reported", "reported");
    assertBilledAsSum(t, rec);
    assert.deepEqual(pbUsage(res.usage).usage, rec.usage);
    assert.equal(Number(res.cost?.totalNanoUsd), rec.cost.total);
    assert.deepEqual(pbUsage(res.usage).estimated, { any: true, input: true, output: true });
  });

  test("a 200 carrying an error and usage (OpenRouter choice error) is billed on that usage; the fallback answers; the total is both", async () => {
    const t = await gws.start();
    openrouter.script({ kind: "choice_error", text: "partial output", usage: { input: 30, output: 8 } });
    const res = await clientFor(t).chat.complete({ model: "openrouter-fallback", messages: [user("in-band failure")] });
    assert.equal(res.deployment, "backup/mock");
    assert.equal(res.attempts[0].outcome, FAILED);
    const rec = await lastRecord(t, "openrouter-fallback");
    assert.equal(rec.attempts[0].usage.inputTokens, 30);
    assert.equal(rec.attempts[0].usage.outputTokens, 8);
    assert.ok(rec.attempts[0].cost.total > 0);
    assertSource(rec.attempts[0], res.attempts[0], "reported", "reported");
    assert.deepEqual(rec.usage, addUsage(rec.attempts[0].usage, rec.attempts[1].usage));
    assert.deepEqual(rec.cost, addCost(rec.attempts[0].cost, rec.attempts[1].cost));
    assert.equal(rec.usageEstimated, false);
  });

  test("an attempt that failed before the provider did anything (HTTP 429) bills nothing and says nothing about sources", async () => {
    const t = await gws.start();
    anthropic.script({ kind: "error", error: "rate_limit_error" });
    const res = await clientFor(t).chat.complete({ model: "claude-fallback", messages: [user("refused")] });
    const rec = await lastRecord(t, "claude-fallback");
    assert.equal(res.attempts[0].outcome, FAILED);
    assert.deepEqual(rec.attempts[0].usage, ZERO_USAGE);
    assert.equal(rec.attempts[0].cost.total, 0);
    assert.equal(rec.attempts[0].usageSource, undefined);
    assert.deepEqual(pbUsage(res.attempts[0].usage).estimated, { any: false, input: false, output: false });
  });
});
