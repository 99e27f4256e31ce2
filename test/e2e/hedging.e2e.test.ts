// Hedging and cooldowns over real sockets against the fake OpenAI server: a slow first
// candidate gets a concurrent sibling after the route's threshold, the first answer wins and
// the loser's upstream connection is closed; both attempts are in the response and the bill.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AttemptOutcome, createSignalboxClient, ExclusionReason, userText } from "@signalbox/client";
import { OPENAI_TEST_KEY, startFakeOpenAI } from "../fakes/openai.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
let t: TestGateway;
before(async () => {
  fake = await startFakeOpenAI();
  t = await startTestGateway(`
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: "${OPENAI_TEST_KEY}" }
  - { name: mock, type: mock, mock: { ttft_ms: 30 } }
deployments:
  - { id: openai/gpt-4o-mini, provider: openai, model: gpt-4o-mini }
  - { id: mock/backup, provider: mock, model: backup, pricing: { input: 1, output: 1 } }
routes:
  - { name: hedged, targets: [openai/gpt-4o-mini, mock/backup], hedge_after_ms: 100 }
  - { name: plain, targets: [openai/gpt-4o-mini, mock/backup], retry: { max_retries: 0 } }
`);
});
after(async () => {
  await t.close();
  await fake.close();
});

for (const kind of ["unary", "stream"] as const) {
  test(`${kind}: a slow first token starts a hedge; the faster one wins; the loser is cancelled and billed`, async () => {
    fake.script({ kind: "text", text: "slow answer", delayMs: 2_000 });
    const client = createSignalboxClient({ baseUrl: t.url });
    const t0 = performance.now();
    let attempts;
    let deployment;
    if (kind === "unary") {
      const res = await client.chat.complete({ model: "hedged", messages: [userText("hedge me")] });
      attempts = res.attempts;
      deployment = res.deployment;
    } else {
      for await (const ev of client.chat.stream({ model: "hedged", messages: [userText("hedge me")] })) {
        if (ev.event.case === "start") deployment = ev.event.value.deployment;
        if (ev.event.case === "finish") attempts = ev.event.value.attempts;
      }
    }
    const took = performance.now() - t0;
    assert.equal(deployment, "mock/backup");
    assert.ok(took < 1_500, `answered by the hedge, not the slow upstream (${Math.round(took)} ms)`);
    assert.deepEqual(
      attempts!.map((a) => [a.deployment, a.outcome, a.hedged]),
      [
        ["openai/gpt-4o-mini", AttemptOutcome.CANCELED, true],
        ["mock/backup", AttemptOutcome.SUCCEEDED, true],
      ],
    );
    assert.match(attempts![1].reason, /^hedge: no first token from openai\/gpt-4o-mini after 100 ms/);
    assert.equal(attempts![0].errorMessage, "lost the hedge race");
    assert.ok(attempts![0].usage!.inputTokens > 0n, "the loser's prompt is billed (estimated)");
    assert.ok(attempts![0].cost!.totalNanoUsd > 0n);
    // The upstream really saw the losing request.
    assert.equal(fake.requests.at(-1)!.body.model, "gpt-4o-mini");
  });
}

test("a deployment failing repeatedly cools down; when every candidate cools, the soonest is still tried", async () => {
  const client = createSignalboxClient({ baseUrl: t.url });
  for (let i = 0; i < 3; i++) {
    fake.script({ kind: "error", error: "server_error" });
    const res = await client.chat.complete({ model: "plain", messages: [userText("x")] });
    assert.equal(res.deployment, "mock/backup");
  }
  const plan = await client.route.route({ model: "plain", messages: [userText("x")] });
  assert.deepEqual(plan.candidates.map((c) => c.deployment), ["mock/backup"]);
  assert.equal(plan.excluded[0].deployment, "openai/gpt-4o-mini");
  assert.equal(plan.excluded[0].reason, ExclusionReason.COOLING_DOWN);
  // Asking for the cooled deployment alone: it is the only candidate, so it is tried anyway.
  const direct = await client.route.route({ model: "openai/gpt-4o-mini", messages: [userText("x")] });
  assert.equal(direct.candidates.length, 1);
  assert.match(direct.candidates[0].reason, /recovers soonest/);
  const res = await client.chat.complete({ model: "openai/gpt-4o-mini", messages: [userText("x")] });
  assert.equal(res.deployment, "openai/gpt-4o-mini", "the probe succeeds and the deployment is healthy again");
  const after = await client.route.route({ model: "plain", messages: [userText("x")] });
  assert.deepEqual(after.candidates.map((c) => c.deployment), ["openai/gpt-4o-mini", "mock/backup"]);
});
