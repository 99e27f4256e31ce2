// The caller's cancel and deadline stop the upstream work: the provider call is aborted at once,
// not left to run to completion, and the request is still recorded.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createSignalboxClient, userText } from "@signalbox/client";
import { MOCK_CONFIG, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { waitFor } from "../helpers/wait.ts";

let t: TestGateway;
before(async () => {
  t = await startTestGateway(MOCK_CONFIG);
});
after(() => t.close());

const inFlight = (dep: string) => t.gw.core.exec.health.snapshot().get(dep)?.inFlight ?? 0;

for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
  test(`${protocol}: a deadline aborts the slow provider call and is deadline_exceeded`, async () => {
    const client = createSignalboxClient({ baseUrl: t.url, protocol });
    const n0 = t.usage.recent().length;
    const started = performance.now();
    await assert.rejects(client.chat.complete({ model: "slow", messages: [userText("deadline")] }, { timeoutMs: 150 }), (e: unknown) => {
      assert.equal(ConnectError.from(e).code, Code.DeadlineExceeded);
      return true;
    });
    const rec = await waitFor(() => t.usage.recent().slice(n0).find((r) => r.model === "slow"));
    assert.equal(rec.status, "deadline_exceeded");
    // The mock would sleep 5 s before answering; the attempt ended with the deadline.
    assert.ok(performance.now() - started < 2000);
    assert.equal(rec.attempts.length, 1);
    assert.equal(rec.attempts[0].outcome, "canceled");
    assert.equal(await waitFor(() => (inFlight("mock/slow") === 0 ? true : undefined)), true);
  });

  test(`${protocol}: cancelling a stream mid-way stops the upstream stream`, async () => {
    const client = createSignalboxClient({ baseUrl: t.url, protocol });
    const ctl = new AbortController();
    const n0 = t.usage.recent().length;
    let deltas = 0;
    await assert.rejects(
      (async () => {
        for await (const ev of client.chat.stream({ model: "trickle", messages: [userText(`cancel ${protocol}`)] }, { signal: ctl.signal })) {
          if (ev.event.case === "delta" && ++deltas === 2) ctl.abort();
        }
      })(),
      (e: unknown) => ConnectError.from(e).code === Code.Canceled,
    );
    // The mock sends 10 chunks 100 ms apart; the record must appear long before they would have finished.
    const rec = await waitFor(() => t.usage.recent().slice(n0).find((r) => r.model === "trickle"), 600);
    assert.equal(rec.status, "canceled");
    assert.equal(rec.attempts[0].outcome, "canceled");
    assert.ok(rec.usage.outputTokens > 0, "delivered tokens are billed");
    assert.equal(await waitFor(() => (inFlight("mock/trickle") === 0 ? true : undefined), 600), true);
  });
}

test("/v1 over HTTP/2: a stream the client resets stops the upstream stream and is recorded as canceled", async () => {
  const { connect, constants } = await import("node:http2");
  const n0 = t.usage.recent().length;
  const s = connect(t.url);
  try {
    const st = s.request({ ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json" });
    st.on("error", () => {});
    st.end(JSON.stringify({ model: "trickle", stream: true, messages: [{ role: "user", content: "reset me" }] }));
    let chunks = 0;
    st.on("data", () => {
      if (++chunks === 2) st.close(constants.NGHTTP2_CANCEL);
    });
    // The mock sends 10 chunks 100 ms apart: the record must come long before they would have finished.
    const rec = await waitFor(() => t.usage.recent().slice(n0).find((r) => r.model === "trickle"), 600);
    assert.equal(rec.status, "canceled");
    assert.equal(await waitFor(() => (inFlight("mock/trickle") === 0 ? true : undefined), 600), true);
  } finally {
    s.close();
  }
});
