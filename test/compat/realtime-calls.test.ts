// WebRTC calls through the gateway (POST /v1/realtime/calls), over real sockets against the fake
// OpenAI Realtime server's calls API (test/fakes/openai-realtime.ts, checked against the `openai`
// SDK): the offer relayed with the provider's key and the deployment's model, the provider's SDP
// answer and Location back, the call metered over the gateway's sideband into one usage record,
// the caller's own sideband and hang-up through the gateway, a refused call falling back, a
// dropped sideband reopened, a budget that runs out hanging the call up, a draining gateway
// hanging its calls up, refusals with nothing sent; and client secrets
// (POST /v1/realtime/client_secrets) opening a call and a WebSocket session.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import WebSocket from "ws";
import OpenAI from "openai";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { createSecretBook } from "../../src/compat/realtime-secrets.ts";
import { REALTIME_TEST_KEY, startFakeRealtime, type FakeRealtime, type FakeRealtimeCall } from "../fakes/openai-realtime.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const KEY = ["sbx", "test", "calls", "team", "a"].join("_");
const OTHER = ["sbx", "test", "calls", "other"].join("_");
const BROKE = ["sbx", "test", "calls", "broke"].join("_");
const OFFER = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", "a=sendrecv", "a=rtpmap:111 opus/48000/2", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:1", ""].join("\r\n");

function config(fake: string): string {
  return `
providers:
  - { name: mock, type: mock }
  - { name: openai, type: openai, base_url: "${fake}", api_key: ${REALTIME_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 2000, body_ms: 2000 } }
  - { name: openai-b, type: openai, base_url: "${fake}", api_key: ${REALTIME_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 2000, body_ms: 2000 } }
  - { name: azure, type: azure, base_url: "${fake.replace(/\/v1$/, "")}", api_key: ${REALTIME_TEST_KEY} }
deployments:
  - { id: mock/realtime, provider: mock, model: mock-realtime-1, operations: [realtime] }
  - { id: rt/primary, provider: openai, model: gpt-realtime, operations: [realtime] }
  - { id: rt/backup, provider: openai-b, model: gpt-realtime-mini, operations: [realtime] }
  - { id: rt/first, provider: openai, model: gpt-realtime, operations: [realtime] }
  - { id: rt/second, provider: openai-b, model: gpt-realtime-mini, operations: [realtime] }
  - { id: rt/azure, provider: azure, model: my-realtime, operations: [realtime], pricing: { input: 4, cached_input: 0.4, output: 16, audio_input: 32, audio_output: 64 } }
  - { id: rt/pricey, provider: openai, model: gpt-realtime, operations: [realtime], pricing: { input: 20, output: 20 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
guardrails:
  - { name: pii, kind: pii, action: block }
routes:
  - { name: realtime, targets: [mock/realtime] }
  - { name: rt, targets: [rt/primary, rt/backup], retry: { max_retries: 0 } }
  - { name: rt-fallback, targets: [rt/first, rt/second], retry: { max_retries: 0 } }
  - { name: rt-azure, targets: [rt/azure], retry: { max_retries: 0 } }
  - { name: pricey, targets: [rt/pricey], retry: { max_retries: 0 } }
  - { name: guarded, targets: [rt/primary], guardrails: [pii] }
  - { name: chat, targets: [mock/chat] }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: other, hash: "${hashKey(OTHER)}", team: a, role: service }
  - { name: broke, hash: "${hashKey(BROKE)}", team: b, role: service, budget: { period: day, limit_usd: 0.035 } }
`;
}

let fake: FakeRealtime;
let t: TestGateway;

before(async () => {
  fake = await startFakeRealtime();
  t = await startTestGateway(config(fake.url));
});
after(async () => {
  await t.close();
  await fake.close();
});
beforeEach(() => fake.reset());

const sdk = (key: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });

async function until<T>(f: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The gateway's id of a call, from its answer's Location. */
const callIdOf = (res: Response): string => decodeURIComponent(res.headers.get("location")!.split("/").pop()!);

/** The usage record of a call, once written (after the call ended). */
const recordOf = (id: string): Promise<UsageRecord> => until(() => t.usage.recent().find((r) => r.id === id), `the record of ${id}`);

/** The server events of a type the peer (the browser's data channel) received. */
const peerEvents = (c: FakeRealtimeCall, type: string): Record<string, any>[] => c.peer.received.map((f) => JSON.parse(f)).filter((e) => e.type === type);

/** The peer speaks: a user message and a response; resolves with that response's response.done. */
async function turn(c: FakeRealtimeCall, text: string): Promise<Record<string, any>> {
  const before = peerEvents(c, "response.done").length;
  c.peer.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
  c.peer.send({ type: "response.create", response: { output_modalities: ["text"] } });
  return until(() => peerEvents(c, "response.done")[before], "response.done");
}

/** Cost in nano-USD of a text response's usage at USD-per-million prices. */
const costOf = (u: Record<string, any>, input: number, output: number) => Math.round(u.input_tokens * input * 1000) + Math.round(u.output_tokens * output * 1000);

/** Place a call with a raw request; the answer's status, headers and body. */
async function place(body: BodyInit, headers: Record<string, string>, query = ""): Promise<{ status: number; headers: Headers; text: string; json?: any }> {
  const res = await fetch(`${t.url}/v1/realtime/calls${query}`, { method: "POST", headers, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

/** A sideband WebSocket to the gateway; rejects with the HTTP status when refused. */
function sideband(callId: string, key: string, base = t.url): Promise<{ sock: WebSocket; frames: Record<string, any>[]; closed: Promise<{ code: number; reason: string }> }> {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(`${base.replace(/^http/, "ws")}/v1/realtime?call_id=${encodeURIComponent(callId)}`, { headers: { authorization: `Bearer ${key}` } });
    const frames: Record<string, any>[] = [];
    sock.on("message", (d: Buffer) => frames.push(JSON.parse(d.toString("utf8"))));
    const closed = new Promise<{ code: number; reason: string }>((r) => sock.once("close", (code, reason) => r({ code, reason: reason.toString() })));
    sock.once("unexpected-response", (_req, res) => {
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(b || "{}") })));
    });
    sock.once("error", reject);
    sock.once("open", () => resolve({ sock, frames, closed }));
  });
}

describe("WebRTC calls", () => {
  test("the openai SDK places a call: the offer reaches the provider with its key and the deployment's model, the answer and Location come back, the call is metered over the sideband into one record", async () => {
    const res = await sdk(KEY).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "rt", instructions: "Be brief." } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("content-type"), "application/sdp");
    assert.equal(res.headers.get("x-signalbox-deployment"), "rt/primary");
    const answer = await res.text();
    assert.equal(fake.calls.length, 1);
    const c = fake.calls[0];
    // The caller's call id is the gateway's (signed: deployment, provider call id, key), not the provider's.
    const location = res.headers.get("location")!;
    assert.match(location, /^\/v1\/realtime\/calls\/rtc_sbx_[\w-]+\.[\w-]+$/);
    assert.ok(!location.includes(c.id));
    assert.match(answer, /^v=0\r\n/);
    // The provider saw the caller's offer and session, with the deployment's model and its own key, never the caller's.
    assert.equal(c.sdp, OFFER);
    assert.equal(c.contentType, "multipart");
    assert.equal(c.model, "gpt-realtime");
    assert.equal(c.session?.instructions, "Be brief.");
    assert.equal(c.headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);
    assert.ok(!JSON.stringify(c.headers).includes(KEY));
    // The gateway's sideband was open before the answer went out.
    assert.equal(c.sidebands.length, 1);
    assert.equal(c.sidebands[0].headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);
    // The browser talks to the provider directly; the gateway meters what the sideband shows.
    const u1 = (await turn(c, "hello over WebRTC")).response.usage;
    const u2 = (await turn(c, "and once more")).response.usage;
    assert.equal(t.gw.realtime.open, 1);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^signalbox_realtime_open\{transport="webrtc"\} 1$/m);
    assert.match(metrics, /^signalbox_realtime_open\{transport="websocket"\} 0$/m);
    c.peer.hangup();
    const id = res.headers.get("x-request-id")!;
    const rec = await recordOf(id);
    assert.equal(rec.operation, "realtime");
    assert.equal(rec.status, "ok");
    assert.equal(rec.deployment, "rt/primary");
    assert.equal(rec.key, "team-a");
    assert.equal(`/v1/realtime/calls/${rec.metadata["realtime.call_id"]}`, location);
    assert.equal(rec.metadata["realtime.provider_call_id"], c.id);
    assert.equal(rec.usage.inputTokens, u1.input_tokens + u2.input_tokens);
    assert.equal(rec.usage.outputTokens, u1.output_tokens + u2.output_tokens);
    assert.equal(rec.cost.total, costOf(u1, 4, 16) + costOf(u2, 4, 16));
    assert.equal(t.gw.realtime.open, 0);
  });

  test("a raw application/sdp offer with ?model=; Azure's calls path with api-key", async () => {
    const r = await place(OFFER, { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }, "?model=rt-azure");
    assert.equal(r.status, 201, r.text);
    const c = fake.calls[0];
    assert.equal(c.path, "/openai/v1/realtime/calls");
    assert.equal(c.model, "my-realtime");
    assert.equal(c.headers["api-key"], REALTIME_TEST_KEY);
    assert.equal(c.sidebands[0].path, "/openai/v1/realtime");
    const u = (await turn(c, "hello Azure")).response.usage;
    c.peer.hangup();
    const rec = await recordOf(r.headers.get("x-request-id")!);
    assert.equal(rec.deployment, "rt/azure");
    assert.equal(rec.cost.total, costOf(u, 4, 16));
  });

  test("the caller's own sideband through the gateway sees the call's events and steers it; hang-up through the gateway ends it", async () => {
    const res = await sdk(KEY).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "rt" } });
    const c = fake.calls[0];
    const id = callIdOf(res);
    const sb = await sideband(id, KEY);
    // Another key may neither watch nor end the call.
    await assert.rejects(sideband(id, OTHER), (e: any) => e.status === 404 && e.body.error.param === "call_id");
    await assert.rejects(sdk(OTHER).realtime.calls.hangup(id), (e: any) => e.status === 404);
    // Nor can the provider's own id be used, nor a forged one.
    await assert.rejects(sdk(KEY).realtime.calls.hangup(c.id), (e: any) => e.status === 404);
    await assert.rejects(sdk(KEY).realtime.calls.hangup(`${id.slice(0, -3)}abc`), (e: any) => e.status === 404);
    // A response the server asks for over its sideband: the provider got it through the gateway's sideband.
    sb.sock.send(JSON.stringify({ type: "response.create", response: { output_modalities: ["text"], instructions: "Say hi." } }));
    const done = await until(() => sb.frames.find((f) => f.type === "response.done"), "response.done on the caller's sideband");
    assert.ok(c.sidebands[0].received.some((f) => f.includes('"Say hi."')));
    assert.equal(peerEvents(c, "response.done").length, 1);
    await sdk(KEY).realtime.calls.hangup(id);
    assert.equal(c.ended, "hangup");
    assert.equal((await sb.closed).code, 1000);
    const rec = await recordOf(res.headers.get("x-request-id")!);
    assert.equal(rec.status, "ok");
    assert.equal(rec.cost.total, costOf(done.response.usage, 4, 16));
    // An ended call is gone.
    await assert.rejects(sdk(KEY).realtime.calls.hangup(id), (e: any) => e.status === 404);
  });

  test("any replica with the same master key controls a call: a sideband through another replica sees and steers it, a hang-up there ends it, the placing replica records it", async () => {
    const masterKey = ["calls", "master", "key", "shared", "by", "both", "replicas"].join("-");
    const a = await startTestGateway(config(fake.url), { masterKey });
    const b = await startTestGateway(config(fake.url), { masterKey });
    try {
      const res = await new OpenAI({ baseURL: `${a.url}/v1`, apiKey: KEY, maxRetries: 0 }).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "rt" } });
      const c = fake.calls[0];
      const id = callIdOf(res);
      const sb = await sideband(id, KEY, b.url);
      // Replica b opened its own sideband to the provider, beside a's.
      assert.equal(c.sidebands.length, 2);
      await assert.rejects(sideband(id, OTHER, b.url), (e: any) => e.status === 404);
      sb.sock.send(JSON.stringify({ type: "response.create", response: { output_modalities: ["text"] } }));
      const done = await until(() => sb.frames.find((f) => f.type === "response.done"), "response.done through replica b");
      await new OpenAI({ baseURL: `${b.url}/v1`, apiKey: KEY, maxRetries: 0 }).realtime.calls.hangup(id);
      assert.equal(c.ended, "hangup");
      assert.equal((await sb.closed).code, 1000);
      // Replica a metered the call over its own sideband and recorded it; b recorded nothing.
      const rec = await until(() => a.usage.recent().find((r) => r.id === res.headers.get("x-request-id")), "a's record");
      assert.equal(rec.cost.total, costOf(done.response.usage, 4, 16));
      assert.equal(b.usage.recent().filter((r) => r.operation === "realtime").length, 0);
      // A replica with another master key does not know the id.
      await assert.rejects(sdk(KEY).realtime.calls.hangup(id), (e: any) => e.status === 404);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("a provider that refuses the call (429) falls back to the next deployment before the caller sees anything", async () => {
    fake.refuseNext(429);
    const res = await sdk(KEY).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "rt-fallback" } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("x-signalbox-deployment"), "rt/second");
    assert.deepEqual(fake.refusals.map((r) => r.status), [429]);
    const c = fake.calls[0];
    assert.equal(c.model, "gpt-realtime-mini");
    c.peer.hangup();
    const rec = await recordOf(res.headers.get("x-request-id")!);
    assert.equal(rec.attempts.length, 2);
    assert.equal(rec.attempts[0].failureKind, "rate_limited");
    assert.equal(rec.deployment, "rt/second");
  });

  test("a sideband cut mid-call is reopened and the call stays metered", async () => {
    const res = await sdk(KEY).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "rt" } });
    const c = fake.calls[0];
    const u1 = (await turn(c, "before the cut")).response.usage;
    c.cutSidebands();
    await until(() => c.sidebands.length === 2 || undefined, "a second sideband");
    const u2 = (await turn(c, "after the cut")).response.usage;
    // Let the sideband deliver the response.done before the call ends.
    await until(() => c.sidebands[1].sent.some((f) => f.includes('"response.done"')) || undefined, "response.done on the new sideband");
    c.peer.hangup();
    const rec = await recordOf(res.headers.get("x-request-id")!);
    assert.equal(rec.status, "ok");
    assert.equal(rec.cost.total, costOf(u1, 4, 16) + costOf(u2, 4, 16));
  });

  test("a budget that runs out hangs the call up; the record keeps its cost and the next call is refused up front", async () => {
    const res = await sdk(BROKE).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "pricey" } });
    const c = fake.calls[0];
    const sb = await sideband(callIdOf(res), BROKE);
    // Turns until the budget runs out (each re-reads the conversation, so each costs more).
    for (let i = 0; i < 30 && !c.ended; i++) {
      const n = peerEvents(c, "response.done").length;
      c.peer.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "talk to me at length about anything at all" }] } });
      c.peer.send({ type: "response.create", response: { output_modalities: ["text"] } });
      await until(() => peerEvents(c, "response.done").length > n || c.ended, "a response or the hang-up");
    }
    await until(() => c.ended, "the call hung up");
    const done = peerEvents(c, "response.done");
    assert.ok(done.length > 1, "the hold grew before the budget ran out");
    assert.equal(c.ended, "hangup");
    const err = await until(() => sb.frames.find((f) => f.type === "error"), "the error event");
    assert.equal(err.error.code, "budget_exhausted");
    const rec = await recordOf(res.headers.get("x-request-id")!);
    assert.equal(rec.status, "resource_exhausted");
    const metered = done.filter((d) => c.sidebands[0].sent.some((f) => f.includes(d.response.id)));
    assert.equal(rec.cost.total, metered.reduce((n, d) => n + costOf(d.response.usage, 20, 20), 0));
    const again = await place(OFFER, { authorization: `Bearer ${BROKE}`, "content-type": "application/sdp" }, "?model=pricey");
    assert.equal(again.status, 429);
    assert.equal(fake.calls.length, 1);
  });

  test("refusals are answered before anything reaches a provider", async () => {
    const cases: [string, Promise<{ status: number; json?: any }>, number, string | null][] = [
      ["no key", place(OFFER, { "content-type": "application/sdp" }, "?model=rt"), 401, null],
      ["no sdp", place(new URLSearchParams({ x: "1" }), { authorization: `Bearer ${KEY}`, "content-type": "application/x-www-form-urlencoded" }, "?model=rt"), 400, "content-type"],
      ["not an SDP", place("hello", { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }, "?model=rt"), 400, "sdp"],
      ["raw SDP without a model", place(OFFER, { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }), 400, "model"],
      ["unknown model", place(OFFER, { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }, "?model=nope"), 404, "model"],
      ["a chat route", place(OFFER, { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }, "?model=chat"), 400, "model"],
      ["guardrails", place(OFFER, { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }, "?model=guarded"), 400, "model"],
    ];
    for (const [what, p, status, param] of cases) {
      const r = await p;
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      if (param) assert.equal(r.json.error.param, param, what);
    }
    const form = new FormData();
    form.append("sdp", new Blob([OFFER], { type: "application/sdp" }), "");
    form.append("session", new Blob([JSON.stringify({ type: "transcription", model: "rt" })], { type: "application/json" }), "");
    const transcription = await place(form, { authorization: `Bearer ${KEY}` });
    assert.equal(transcription.status, 400);
    assert.equal(transcription.json.error.param, "session.type");
    const noModel = new FormData();
    noModel.append("sdp", new Blob([OFFER], { type: "application/sdp" }), "");
    const r = await place(noModel, { authorization: `Bearer ${KEY}` });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, "session.model");
    assert.equal(fake.calls.length, 0);
    assert.deepEqual(fake.refusals, []);
    // The mock has no WebRTC: said so.
    const m = await place(OFFER, { authorization: `Bearer ${KEY}`, "content-type": "application/sdp" }, "?model=realtime");
    assert.equal(m.status, 502);
    assert.match(m.json.error.message, /no WebRTC calls/);
  });
});

describe("client secrets", () => {
  test("a secret made with a gateway key places a call from a browser's raw offer, with its session, as that key", async () => {
    const made = await fetch(`${t.url}/v1/realtime/client_secrets`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ expires_after: { anchor: "created_at", seconds: 120 }, session: { type: "realtime", model: "rt", instructions: "Be kind." } }),
    });
    assert.equal(made.status, 200);
    assert.equal(made.headers.get("cache-control"), "no-store");
    const secret = (await made.json()) as { value: string; expires_at: number; session: Record<string, unknown> };
    assert.match(secret.value, /^ek_sbx_/);
    assert.ok(Math.abs(secret.expires_at - (Date.now() / 1000 + 120)) < 5);
    assert.deepEqual(secret.session, { type: "realtime", object: "realtime.session", model: "rt", instructions: "Be kind." });
    // What the browser does: its SDP with the secret, nothing else.
    const r = await place(OFFER, { authorization: `Bearer ${secret.value}`, "content-type": "application/sdp" });
    assert.equal(r.status, 201, r.text);
    const c = fake.calls[0];
    assert.equal(c.model, "gpt-realtime");
    assert.equal(c.session?.instructions, "Be kind.");
    assert.ok(!JSON.stringify(c.headers).includes(secret.value));
    c.peer.hangup();
    const rec = await recordOf(r.headers.get("x-request-id")!);
    assert.equal(rec.key, "team-a");
    // A secret opens realtime only: not chat, not a sideband, not another secret, not another model.
    const chat = await fetch(`${t.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${secret.value}`, "content-type": "application/json" }, body: JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hi" }] }) });
    assert.equal(chat.status, 401);
    const again = await fetch(`${t.url}/v1/realtime/client_secrets`, { method: "POST", headers: { authorization: `Bearer ${secret.value}` }, body: JSON.stringify({ session: { model: "rt" } }) });
    assert.equal(again.status, 403);
    const other = await place(OFFER, { authorization: `Bearer ${secret.value}`, "content-type": "application/sdp" }, "?model=rt-azure");
    assert.equal(other.status, 400);
    assert.equal(other.json.error.param, "model");
    // A forged one.
    const forged = secret.value.slice(0, -4) + (secret.value.endsWith("AAAA") ? "BBBB" : "AAAA");
    const f = await place(OFFER, { authorization: `Bearer ${forged}`, "content-type": "application/sdp" });
    assert.equal(f.status, 401);
    assert.equal(fake.calls.length, 1);
  });

  test("a secret opens a WebSocket session from a browser (the key sub-protocol), its session applied first", async () => {
    const secret = (await sdk(KEY).realtime.clientSecrets.create({ session: { type: "realtime", model: "realtime", instructions: "Be terse." } })) as { value: string };
    const sock = new WebSocket(`${t.url.replace(/^http/, "ws")}/v1/realtime`, ["realtime", `openai-insecure-api-key.${secret.value}`]);
    const frames: Record<string, any>[] = [];
    sock.on("message", (d: Buffer) => frames.push(JSON.parse(d.toString("utf8"))));
    await new Promise((r, j) => (sock.once("open", r), sock.once("error", j)));
    assert.equal(sock.protocol, "realtime");
    const updated = await until(() => frames.find((f) => f.type === "session.updated"), "session.updated");
    assert.equal(updated.session.instructions, "Be terse.");
    sock.close(1000);
  });

  test("requests for secrets are checked, and a secret expires", async () => {
    for (const [body, param] of [
      [{}, "session"],
      [{ session: { type: "realtime" } }, "session.model"],
      [{ session: { type: "translation", model: "rt" } }, "session.type"],
      [{ session: { model: "rt" }, expires_after: { anchor: "created_at", seconds: 5 } }, "expires_after.seconds"],
      [{ session: { model: "rt" }, expires_after: { anchor: "last_used", seconds: 60 } }, "expires_after.anchor"],
      [{ session: { model: "rt" }, colour: "blue" }, "colour"],
    ] as const) {
      const r = await fetch(`${t.url}/v1/realtime/client_secrets`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as any).error.param, param);
    }
    // The model is checked when the secret is made, not only when a browser uses it.
    const unknown = await fetch(`${t.url}/v1/realtime/client_secrets`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ session: { model: "no-such-model" } }) });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as any).error.param, "session.model");
    const noKey = await fetch(`${t.url}/v1/realtime/client_secrets`, { method: "POST", body: JSON.stringify({ session: { model: "rt" } }) });
    assert.equal(noKey.status, 401);
    let now = 1_000_000;
    const book = createSecretBook("a-master-key-of-at-least-thirty-two-characters", () => now);
    const v = book.mint({ key: "team-a", model: "rt", session: {}, expiresAt: now + 10_000 });
    assert.equal(book.open(v).key, "team-a");
    // Signed with the master key: another replica with the same key opens it, one without does not.
    assert.equal(createSecretBook("a-master-key-of-at-least-thirty-two-characters", () => now).open(v).model, "rt");
    assert.throws(() => createSecretBook(undefined, () => now).open(v), /invalid client secret/);
    now += 10_000;
    assert.throws(() => book.open(v), /client secret expired/);
  });
});

describe("draining", () => {
  test("a draining gateway hangs its calls up and writes their records before it stops", async () => {
    const g = await startTestGateway(config(fake.url));
    const res = await new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 }).realtime.calls.create({ sdp: OFFER, session: { type: "realtime", model: "rt" } });
    assert.equal(res.status, 201);
    const c = fake.calls[0];
    await turn(c, "hello");
    await g.server.shutdown(200);
    assert.equal(c.ended, "hangup");
    assert.equal(g.gw.realtime.open, 0);
    const rec = g.usage.recent().find((r) => r.id === res.headers.get("x-request-id"));
    assert.ok(rec, "the call's record was written before the gateway stopped");
    assert.ok(rec.cost.total > 0);
  });
});
