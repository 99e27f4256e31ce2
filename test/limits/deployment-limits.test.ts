// A deployment's own rate limit (the provider's): requests past it go to the next candidate,
// and only when every candidate is at its limit is the request refused.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, userText } from "@signalbox/client";
import { startTestGateway } from "../helpers/gateway.ts";

test("a deployment at its requests-per-minute limit is skipped; then the request is refused", async () => {
  const t = await startTestGateway(`
providers: [{ name: m, type: mock }]
deployments:
  - { id: d/small, provider: m, model: small, pricing: { input: 1, output: 1 }, limits: { requests_per_minute: 2 } }
  - { id: d/spare, provider: m, model: spare, pricing: { input: 1, output: 1 }, limits: { requests_per_minute: 1 } }
routes:
  - { name: r, targets: [d/small, d/spare] }
`);
  try {
    const client = createSignalboxClient({ baseUrl: t.url });
    const served: string[] = [];
    for (let i = 0; i < 3; i++) served.push((await client.chat.complete({ model: "r", messages: [userText("hi")] })).deployment);
    assert.deepEqual(served, ["d/small", "d/small", "d/spare"]);
    const err = await client.chat.complete({ model: "r", messages: [userText("hi")] }).then(
      () => assert.fail("expected a refusal"),
      (e: unknown) => ConnectError.from(e),
    );
    assert.equal(err.code, Code.ResourceExhausted);
    assert.match(err.rawMessage, /every candidate deployment of "r" is at its rate limit; retry in \d+ s/);
    const rec = t.usage.recent().at(-1)!;
    assert.equal(rec.refusal, "rate_limit");
    assert.equal(rec.attempts.length, 0, "nothing reached a provider");
  } finally {
    await t.close();
  }
});
