// StreamHold, the budget hold that follows a stream's output: an answer near the planned output
// (the learned p95) costs no extension round trip, however the quick count rounds; one that
// outgrows the hold by more than the count's own error is extended before it is delivered.

import assert from "node:assert/strict";
import { test } from "node:test";
import { QUICK_COUNT_MARGIN, StreamHold, type Admission } from "../../src/limits/admission.ts";
import type { Extension, Limiter } from "../../src/limits/types.ts";
import type { Candidate } from "../../src/router/types.ts";
import type { StreamEvent } from "../../src/providers/types.ts";

const IN = 5_000_000; // nano-USD per 1,000 tokens ($5 per million)
const OUT = 20_000_000;
const INPUT_TOKENS = 24;
const P95 = 16;

function setup() {
  const extensions: Extension[] = [];
  const limiter = { extend: async (x: Extension) => (extensions.push(x), { ok: true as const }) } as unknown as Limiter;
  const holdNanos = Math.ceil((INPUT_TOKENS * IN + P95 * OUT) / 1000);
  const a: Admission = {
    request: { requestId: "req-hold", shard: "team:t", rates: [], budgets: [{ id: "key:k", period: "day", limitNanos: 1e12, reserveNanos: holdNanos, softThreshold: 1, describe: "daily budget" }], now: Date.now(), reservationTtlMs: 120_000 },
    estimatedTokens: INPUT_TOKENS + P95,
    tokenChecks: [],
    holdNanos,
  };
  const c = { estimatedInputTokens: INPUT_TOKENS, deployment: { pricing: { input: IN, cachedInput: IN, cacheWrite: IN, output: OUT, reasoning: 0 } } } as unknown as Candidate;
  const hold = new StreamHold(limiter, a);
  hold.start(c, 0);
  return { hold, extensions, a };
}

/** Deliver text in 8-character pieces, awaiting each extension as the engine does. */
async function deliver(hold: StreamHold, text: string) {
  for (let i = 0; i < text.length; i += 8) {
    const events: StreamEvent[] = [{ type: "text", text: text.slice(i, i + 8) }];
    const grow = hold.delta(events);
    if (grow) await grow;
  }
}

test("an answer at the learned p95 is not extended, though the quick count puts it above the hold", async () => {
  const { hold, extensions } = setup();
  // 62 characters: 16 real tokens (the p95 the hold was planned for), 17.7 by the quick count.
  const text = "Signalbox benchmark reply: routed, streamed and accounted for.";
  assert.ok(text.length / 3.5 > P95 && text.length / 3.5 <= P95 * (1 + QUICK_COUNT_MARGIN));
  await deliver(hold, text);
  assert.equal(extensions.length, 0);
  assert.equal(hold.extensions, 0);
});

test("an answer that outgrows the hold by more than the count's error is extended before it goes on", async () => {
  const { hold, extensions, a } = setup();
  const before = a.holdNanos;
  // Twice the planned output by the quick count.
  await deliver(hold, "x".repeat(Math.ceil(P95 * 2 * 3.5)));
  assert.equal(extensions.length, 1);
  assert.equal(hold.extensions, 1);
  assert.ok(a.holdNanos > before);
  assert.equal(extensions[0].requestId, "req-hold");
});
