// A browser places a WebRTC call through the gateway as OpenAI's WebRTC guide and the Agents SDK's
// OpenAIRealtimeWebRTC transport do: Chromium's own SDP offer (an RTCPeerConnection with an audio
// transceiver and the `oai-events` data channel), posted from a page on another origin with a
// client secret its server minted and the SDK's X-OpenAI-Agents-SDK header (CORS preflight), the
// provider's answer and the call's Location read back (exposed). The offer reaches the fake OpenAI
// Realtime server byte for byte, the call is metered over the gateway's sideband, and recorded for
// the key that minted the secret. The media itself never touches the gateway (and the fake has
// none), so the answer is not applied.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { BrowserContext } from "playwright-core";
import { hashKey } from "../../src/server/auth.ts";
import { REALTIME_TEST_KEY, startFakeRealtime, type FakeRealtime } from "../fakes/openai-realtime.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { haveChromium, launchChromium, skipWithoutChromium } from "../helpers/browser.ts";

const KEY = ["sbx", "test", "webrtc", "app"].join("_");

describe("a browser's WebRTC call through the gateway", { skip: skipWithoutChromium }, () => {
  let fake: FakeRealtime;
  let t: TestGateway;
  let app: Server;
  let appOrigin = "";
  let context: BrowserContext;
  let profile = "";

  before(async () => {
    if (!haveChromium) throw new Error("CI is set but /usr/bin/chromium is missing");
    fake = await startFakeRealtime();
    // The app's page lives on its own origin; the gateway lets it call (CORS).
    app = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>voice app</title><p>voice app</p>"));
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    t = await startTestGateway(`
server: { cors: { allowed_origins: ["${appOrigin}"] } }
providers:
  - { name: openai, type: openai, base_url: "${fake.url}", api_key: ${REALTIME_TEST_KEY} }
deployments:
  - { id: rt/openai, provider: openai, model: gpt-realtime, operations: [realtime] }
routes:
  - { name: voice, targets: [rt/openai] }
keys:
  - { name: voice-app, hash: "${hashKey(KEY)}", team: apps, role: service }
`);
    profile = mkdtempSync(join(tmpdir(), "sbx-webrtc-"));
    context = await launchChromium(profile, { width: 800, height: 600 });
  });

  after(async () => {
    await context?.close();
    await t?.close();
    await fake?.close();
    await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("Chromium's offer, a client secret and the Agents SDK's header: 201 with the answer and a readable Location; the call metered and recorded for the key", async () => {
    // The app's server mints the secret with its gateway key; the page only ever sees the secret.
    const made = await fetch(`${t.url}/v1/realtime/client_secrets`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ session: { type: "realtime", model: "voice", instructions: "Be brief." } }),
    });
    const secret = ((await made.json()) as { value: string }).value;

    const page = await context.newPage();
    await page.goto(`${appOrigin}/`);
    const got = await page.evaluate(
      async ({ gateway, ek }) => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver("audio", { direction: "sendrecv" });
        pc.createDataChannel("oai-events");
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        const r = await fetch(`${gateway}/v1/realtime/calls`, {
          method: "POST",
          body: offer.sdp,
          headers: { authorization: `Bearer ${ek}`, "content-type": "application/sdp", "x-openai-agents-sdk": "openai-agents-sdk.test" },
        });
        const answer = await r.text();
        pc.close();
        return { status: r.status, location: r.headers.get("location"), type: r.headers.get("content-type"), answer, offer: offer.sdp ?? "" };
      },
      { gateway: t.url, ek: secret },
    );
    assert.equal(got.status, 201, got.answer);
    assert.equal(got.type, "application/sdp");
    assert.match(got.location ?? "", /^\/v1\/realtime\/calls\/rtc_sbx_/, "the Location is readable from the page");
    assert.match(got.answer, /^v=0\r\n/);

    // The browser's own offer, byte for byte, with the secret's session and the deployment's model, and the provider's key.
    const c = fake.calls[0]!;
    assert.equal(c.sdp, got.offer);
    assert.match(c.sdp, /m=audio[\s\S]*m=application .*webrtc-datachannel/);
    assert.equal(c.model, "gpt-realtime");
    assert.equal(c.session?.instructions, "Be brief.");
    assert.equal(c.headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);

    // The browser talks (over its data channel, here the fake's peer); the gateway meters it, and it ends.
    c.peer.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello from a browser" }] } });
    c.peer.send({ type: "response.create", response: { output_modalities: ["text"] } });
    for (let i = 0; i < 300 && !c.peer.received.some((f) => f.includes('"response.done"')); i++) await new Promise((r) => setTimeout(r, 10));
    const done = JSON.parse(c.peer.received.find((f) => f.includes('"response.done"'))!);
    c.peer.hangup();
    let rec;
    for (let i = 0; i < 300 && !(rec = t.usage.recent().find((r) => r.operation === "realtime")); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(rec, "the call's record");
    assert.equal(rec.key, "voice-app");
    assert.equal(rec.usage.outputTokens, done.response.usage.output_tokens);
    assert.ok(!JSON.stringify(rec).includes(secret));
  });
});
