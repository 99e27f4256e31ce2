// The Realtime API (/v1/realtime, a WebSocket) over real sockets: the Agents SDK's WebSocket
// transport (an official OpenAI package) against the built-in mock; a raw client against the fake
// OpenAI Realtime server (test/fakes/openai-realtime.ts, itself checked against the `openai` SDK):
// frames relayed unchanged both ways, the provider's key sent and the caller's not, usage and
// cost (audio tokens at audio prices) in one record per session; a refused handshake falls back;
// every refusal is a plain HTTP answer before the WebSocket is accepted, with nothing sent to a
// provider; a budget that runs out mid-session, a provider that drops the session, guardrails that
// refuse it, Azure's path, and a draining gateway.

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import WebSocket from "ws";
import { OpenAIRealtimeWebSocket } from "@openai/agents-realtime";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { startTracing } from "../../src/telemetry/otel-sdk.ts";
import { hashKey } from "../../src/server/auth.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { REALTIME_TEST_KEY, startFakeRealtime, type FakeRealtime } from "../fakes/openai-realtime.ts";
import { startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { Redis } from "ioredis";
import { createRedisLimiter } from "../../src/limits/redis.ts";
import { startRedis } from "../helpers/redis.ts";

const KEY = ["sbx", "test", "realtime", "team", "a"].join("_");
const LIMITED = ["sbx", "test", "realtime", "limited"].join("_");
const BROKE = ["sbx", "test", "realtime", "broke"].join("_");
const ROOMY = ["sbx", "test", "realtime", "roomy"].join("_");

function config(fake: string): string {
  return `
providers:
  - { name: mock, type: mock }
  - { name: wordy, type: mock, mock: { output_tokens: 2000, chunks: 4, ttft_ms: 1, inter_chunk_ms: 1 } }
  - { name: openai, type: openai, base_url: "${fake}", api_key: ${REALTIME_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 2000, body_ms: 2000 } }
  - { name: openai-b, type: openai, base_url: "${fake}", api_key: ${REALTIME_TEST_KEY}, timeouts: { connect_ms: 1000, headers_ms: 2000, body_ms: 2000 } }
  - { name: azure, type: azure, base_url: "${fake.replace(/\/v1$/, "")}", api_key: ${REALTIME_TEST_KEY} }
deployments:
  - { id: mock/realtime, provider: mock, model: mock-realtime-1, operations: [realtime], pricing: { input: 0.6, cached_input: 0.06, output: 2.4, audio_input: 10, audio_output: 20 } }
  - { id: mock/wordy, provider: wordy, model: mock-wordy, operations: [realtime], pricing: { input: 0.6, output: 2.4 } }
  - { id: rt/primary, provider: openai, model: gpt-realtime, operations: [realtime] }
  - { id: rt/backup, provider: openai-b, model: gpt-realtime-mini, operations: [realtime] }
  - { id: rt/first, provider: openai, model: gpt-realtime, operations: [realtime] }
  - { id: rt/second, provider: openai-b, model: gpt-realtime-mini, operations: [realtime] }
  - { id: rt/azure, provider: azure, model: my-realtime, operations: [realtime], pricing: { input: 4, cached_input: 0.4, output: 16, audio_input: 32, audio_output: 64 } }
  - { id: mock/chat, provider: mock, model: mock-chat }
  - { id: tr/openai, provider: openai, model: gpt-4o-transcribe }
guardrails:
  - { name: pii, kind: pii, action: block }
routes:
  - { name: realtime, targets: [mock/realtime] }
  - { name: wordy, targets: [mock/wordy] }
  - { name: rt, targets: [rt/primary, rt/backup], retry: { max_retries: 0 } }
  - { name: rt-fallback, targets: [rt/first, rt/second], retry: { max_retries: 0 } }
  - { name: rt-azure, targets: [rt/azure], retry: { max_retries: 0 } }
  - { name: guarded, targets: [mock/realtime], guardrails: [pii] }
  - { name: chat, targets: [mock/chat] }
  - { name: transcribe, targets: [tr/openai] }
keys:
  - { name: team-a, hash: "${hashKey(KEY)}", team: a, role: team }
  - { name: limited, hash: "${hashKey(LIMITED)}", team: a, role: service, allow: [realtime] }
  - { name: broke, hash: "${hashKey(BROKE)}", team: b, role: service, budget: { period: day, limit_usd: 0.003 } }
  - { name: roomy, hash: "${hashKey(ROOMY)}", team: c, role: service, budget: { period: day, limit_usd: 1 } }
`;
}

let fake: FakeRealtime;
let t: TestGateway;
let ws: string;
const spans = new InMemorySpanExporter();

before(async () => {
  fake = await startFakeRealtime();
  t = await startTestGateway(config(fake.url), { tracing: startTracing({ processor: new SimpleSpanProcessor({ exporter: spans }) })! });
  ws = t.url.replace(/^http/, "ws");
});
after(async () => {
  await t.close();
  await fake.close();
});
beforeEach(() => fake.reset());

/** A session's frames as the client saw them, and how it ended. */
interface Client {
  sock: WebSocket;
  frames: string[];
  headers: Record<string, string | string[] | undefined>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next server event of this type (or one already received after `from`). */
  next(type: string, from?: number): Promise<Record<string, any>>;
  send(ev: Record<string, unknown>): string;
}

/** Open a raw WebSocket to the gateway; rejects with the HTTP status and body when it is refused. */
function connect(query: string, opts: { key?: string; protocols?: string[]; headers?: Record<string, string> } = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    const sock = new WebSocket(`${ws}/v1/realtime?${query}`, opts.protocols ?? [], { headers });
    const frames: string[] = [];
    const waiters: { type: string; from: number; resolve: (e: Record<string, any>) => void }[] = [];
    let upgradeHeaders: Client["headers"] = {};
    sock.on("upgrade", (res) => (upgradeHeaders = res.headers));
    sock.on("message", (d: Buffer) => {
      frames.push(d.toString("utf8"));
      for (const w of [...waiters]) check(w);
    });
    const check = (w: (typeof waiters)[number]) => {
      for (let i = w.from; i < frames.length; i++) {
        const e = JSON.parse(frames[i]);
        if (e.type === w.type) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
          return;
        }
      }
    };
    const closed = new Promise<{ code: number; reason: string }>((r) => sock.once("close", (code, reason) => r({ code, reason: reason.toString() })));
    sock.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body || "{}"), headers: res.headers })));
    });
    sock.once("error", (e) => reject(e));
    sock.once("open", () =>
      resolve({
        sock,
        frames,
        get headers() {
          return upgradeHeaders;
        },
        closed,
        next(type, from = 0) {
          return new Promise((res) => {
            const w = { type, from, resolve: res };
            waiters.push(w);
            check(w);
          });
        },
        send(ev) {
          const text = JSON.stringify(ev);
          sock.send(text);
          return text;
        },
      }),
    );
  });
}

type Refusal = Error & { status: number; body: { error: { message: string; type: string; param: string | null; code: string | null } }; headers: Record<string, string> };

async function refused(p: Promise<unknown>, status: number, param?: string | null): Promise<Refusal> {
  let caught: Refusal | undefined;
  await assert.rejects(p, (e: Refusal) => {
    caught = e;
    return true;
  });
  assert.equal(caught!.status, status, JSON.stringify(caught!.body));
  if (param !== undefined) assert.equal(caught!.body.error.param, param, caught!.body.error.message);
  return caught!;
}

/** The usage record of a session, once written (after both sides closed). */
async function recordOf(requestId: string | undefined, pred: (r: UsageRecord) => boolean = () => true): Promise<UsageRecord> {
  for (let i = 0; i < 200; i++) {
    const r = t.usage.recent().find((x) => x.operation === "realtime" && (requestId === undefined || x.id === requestId) && pred(x));
    if (r) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`no realtime record${requestId ? ` ${requestId}` : ""}`);
}

/** Cost in nano-USD of one response's usage at USD-per-million prices (an implementation of the price model independent of the gateway's). */
function costOf(u: Record<string, any>, p: { input: number; cached: number; output: number; audioIn: number; audioOut: number }): number {
  const d = u.input_token_details ?? {};
  const cachedAudio = d.cached_tokens_details?.audio_tokens ?? 0;
  const cached = d.cached_tokens ?? 0;
  const audioIn = (d.audio_tokens ?? 0) - cachedAudio;
  const textIn = u.input_tokens - cached - audioIn;
  const audioOut = u.output_token_details?.audio_tokens ?? 0;
  const nanos = (n: number, usd: number) => Math.round(n * usd * 1000);
  return nanos(textIn, p.input) + nanos(audioIn, p.audioIn) + nanos(cached, p.cached) + nanos(u.output_tokens - audioOut, p.output) + nanos(audioOut, p.audioOut);
}
const GPT_REALTIME = { input: 4, cached: 0.4, output: 16, audioIn: 32, audioOut: 64 };

describe("sessions", () => {
  test("the Agents SDK's WebSocket transport holds a session with the built-in mock; the session is one usage record", async () => {
    const rt = new OpenAIRealtimeWebSocket({ url: `${ws}/v1/realtime?model=realtime` });
    await rt.connect({ apiKey: KEY, model: "realtime", initialSessionConfig: { outputModalities: ["text"], instructions: "Be brief." } });
    const turns: any[] = [];
    const done = new Promise<void>((resolve) =>
      rt.on("turn_done", (ev: any) => {
        turns.push(ev);
        if (turns.length === 2) resolve();
        else rt.sendMessage("and again", {});
      }),
    );
    let text = "";
    rt.on("output_text_delta" as never, ((ev: { delta: string }) => (text += ev.delta)) as never);
    rt.sendMessage("hello over a socket", {});
    await done;
    rt.close();
    assert.match(text, /You said: "hello over a socket"/);
    const rec = await recordOf(undefined, (r) => r.key === "team-a");
    assert.equal(rec.status, "ok");
    assert.equal(rec.deployment, "mock/realtime");
    assert.equal(rec.routing.route, "realtime");
    const inTokens = turns.reduce((n, ev) => n + ev.response.usage.inputTokens, 0);
    const outTokens = turns.reduce((n, ev) => n + ev.response.usage.outputTokens, 0);
    assert.equal(rec.usage.inputTokens, inTokens);
    assert.equal(rec.usage.outputTokens, outTokens);
    assert.ok(inTokens > 0 && outTokens > 0);
    // Text only: input at $0.6 and output at $2.4 a million.
    assert.equal(rec.cost.total, Math.round(inTokens * 600) + Math.round(outTokens * 2400));
    assert.equal(rec.attempts.length, 1);
    assert.equal(rec.attempts[0].outcome, "succeeded");
  });

  test("frames go both ways unchanged; the provider is sent its key and never the caller's; audio is billed at audio prices", async () => {
    const c = await connect("model=rt", { key: KEY, headers: { "openai-beta": "realtime=v1" } });
    assert.equal(c.headers["x-signalbox-deployment"], "rt/primary");
    const requestId = c.headers["x-request-id"] as string;
    assert.match(requestId, /^req_/);
    await c.next("session.created");
    const sent: string[] = [];
    sent.push(c.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"], instructions: "Answer in one sentence.", extra_field_we_do_not_know: { kept: [1, 2, 3] } } }));
    await c.next("session.updated");
    sent.push(c.send({ type: "conversation.item.create", event_id: "evt_client_1", item: { type: "message", role: "user", content: [{ type: "input_text", text: "héllo — ünïcode ✓" }] } }));
    sent.push(c.send({ type: "response.create" }));
    const first = await c.next("response.done");
    // A second turn with a second of audio, answered in audio.
    const pcm = Buffer.alloc(48_000).toString("base64");
    sent.push(c.send({ type: "input_audio_buffer.append", audio: pcm }));
    sent.push(c.send({ type: "input_audio_buffer.commit" }));
    await c.next("input_audio_buffer.committed");
    const mark = c.frames.length;
    sent.push(c.send({ type: "response.create", response: { output_modalities: ["audio"] } }));
    const second = await c.next("response.done", mark);
    c.sock.close(1000, "done here");
    await c.closed;
    const rec = await recordOf(requestId);

    const s = fake.sessions[0];
    assert.equal(fake.sessions.length, 1);
    assert.equal(s.model, "gpt-realtime");
    assert.equal(s.headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);
    assert.equal(s.headers["openai-beta"], "realtime=v1");
    assert.ok(!JSON.stringify(s.headers).includes(KEY), "the caller's key never reaches the provider");
    assert.deepEqual(s.received, sent, "client frames reach the provider byte for byte");
    assert.deepEqual(c.frames, s.sent, "server frames reach the client byte for byte");
    for (let i = 0; i < 100 && !s.closed; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(s.closed, { code: 1000, reason: "done here" });

    assert.equal(rec.status, "ok");
    assert.equal(rec.deployment, "rt/primary");
    const u1 = first.response.usage;
    const u2 = second.response.usage;
    assert.ok(u2.input_token_details.audio_tokens > 0 && u2.output_token_details.audio_tokens > 0, JSON.stringify(u2));
    assert.equal(rec.usage.inputTokens, u1.input_tokens + u2.input_tokens);
    assert.equal(rec.usage.outputTokens, u1.output_tokens + u2.output_tokens);
    assert.equal(rec.cost.total, costOf(u1, GPT_REALTIME) + costOf(u2, GPT_REALTIME));
    assert.ok(!JSON.stringify(rec).includes(REALTIME_TEST_KEY) && !JSON.stringify(rec).includes(KEY));
    // The trace: the session's span with an event per response, and its attempt span with the provider.
    const mine = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === rec.traceId);
    const server = mine.find((s) => s.name === "GET /v1/realtime")!;
    assert.deepEqual(server.events.filter((e) => e.name === "gen_ai.realtime.response").map((e) => e.attributes?.["gen_ai.usage.output_tokens"]), [u1.output_tokens, u2.output_tokens]);
    assert.ok(mine.some((s) => s.name === "realtime gpt-realtime" && s.attributes["signalbox.deployment"] === "rt/primary"), mine.map((s) => s.name).join(", "));
    assert.ok(!JSON.stringify(mine.map((s) => s.attributes)).includes(REALTIME_TEST_KEY));
  });

  test("cached input is billed at the cached price", async () => {
    fake.cacheHistory = true;
    const c = await connect("model=rt", { key: KEY });
    const requestId = c.headers["x-request-id"] as string;
    let usage: Record<string, any>[] = [];
    for (const say of ["first thing", "second thing"]) {
      c.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: say.repeat(40) }] } });
      const mark = c.frames.length;
      c.send({ type: "response.create", response: { output_modalities: ["text"] } });
      usage.push((await c.next("response.done", mark)).response.usage);
    }
    c.sock.close();
    const rec = await recordOf(requestId);
    assert.ok(usage[1].input_token_details.cached_tokens > 0, JSON.stringify(usage[1]));
    assert.equal(rec.usage.cachedInputTokens, usage[0].input_token_details.cached_tokens + usage[1].input_token_details.cached_tokens);
    assert.equal(rec.cost.total, costOf(usage[0], GPT_REALTIME) + costOf(usage[1], GPT_REALTIME));
  });

  test("transcriptions of the caller's audio are billed at the transcription model's prices: tokens (gpt-4o-transcribe), seconds (whisper-1)", async () => {
    const c = await connect("model=rt", { key: KEY });
    const requestId = c.headers["x-request-id"] as string;
    const transcribed: Record<string, any>[] = [];
    for (const [model, seconds] of [["gpt-4o-transcribe", 1], ["whisper-1", 1.5]] as const) {
      let mark = c.frames.length;
      c.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"], audio: { input: { transcription: { model } } } } });
      await c.next("session.updated", mark);
      mark = c.frames.length;
      c.send({ type: "input_audio_buffer.append", audio: Buffer.alloc(48_000 * seconds).toString("base64") });
      c.send({ type: "input_audio_buffer.commit" });
      transcribed.push(await c.next("conversation.item.input_audio_transcription.completed", mark));
    }
    // With transcription off again, a recording is not transcribed (nor billed as one).
    let mark = c.frames.length;
    c.send({ type: "session.update", session: { type: "realtime", audio: { input: { transcription: null } } } });
    await c.next("session.updated", mark);
    mark = c.frames.length;
    c.send({ type: "input_audio_buffer.append", audio: Buffer.alloc(48_000).toString("base64") });
    c.send({ type: "input_audio_buffer.commit" });
    await c.next("input_audio_buffer.committed", mark);
    c.send({ type: "response.create" });
    const done = await c.next("response.done", mark);
    c.sock.close();
    const rec = await recordOf(requestId);
    const [tokens, duration] = transcribed.map((e) => e.usage);
    assert.equal(tokens.type, "tokens");
    assert.equal(duration.type, "duration");
    assert.equal(c.frames.filter((f) => f.includes("input_audio_transcription.completed")).length, 2);
    // gpt-4o-transcribe: $6 per million input (audio) tokens, $10 per million output; whisper-1: $0.006 a minute.
    const transcription = Math.round(tokens.input_tokens * 6 * 1000) + Math.round(tokens.output_tokens * 10 * 1000) + Math.round(((0.006 * 1e9) / 60) * duration.seconds);
    assert.equal(rec.cost.total, costOf(done.response.usage, GPT_REALTIME) + transcription);
    assert.equal(rec.cost.request, transcription);
    // The record's tokens are the session model's.
    assert.equal(rec.usage.inputTokens, done.response.usage.input_tokens);
  });

  test("a transcription session (intent=transcription): opened without a model, told the deployment's model first, the caller's model pinned to it, transcriptions billed as its usage", async () => {
    const c = await connect("intent=transcription&model=transcribe", { key: KEY });
    assert.equal(c.headers["x-signalbox-deployment"], "tr/openai");
    const requestId = c.headers["x-request-id"] as string;
    let mark = c.frames.length;
    const update = c.send({ type: "session.update", session: { type: "transcription", audio: { input: { transcription: { model: "gpt-4o-mini-transcribe", language: "en" }, turn_detection: null } } } });
    // Two updates answered: the gateway's, then the caller's.
    for (let i = 0; i < 200 && c.frames.filter((f) => f.includes('"session.updated"')).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const s = fake.sessions[0];
    assert.equal(s.intent, "transcription");
    assert.equal(s.model, "");
    // The gateway's update first (the session opened without a model), then the caller's with the model pinned.
    assert.deepEqual(JSON.parse(s.received[0]), { type: "session.update", session: { type: "transcription", audio: { input: { transcription: { model: "gpt-4o-transcribe" } } } } });
    const pinned = JSON.parse(s.received[1]);
    assert.deepEqual(pinned.session.audio.input.transcription, { model: "gpt-4o-transcribe", language: "en" });
    assert.notEqual(s.received[1], update);
    const said: Record<string, any>[] = [];
    for (const seconds of [1, 2]) {
      mark = c.frames.length;
      c.send({ type: "input_audio_buffer.append", audio: Buffer.alloc(48_000 * seconds).toString("base64") });
      const commit = c.send({ type: "input_audio_buffer.commit" });
      said.push(await c.next("conversation.item.input_audio_transcription.completed", mark));
      // Other frames reach the provider as they were sent.
      assert.equal(s.received.at(-1), commit);
    }
    assert.equal(said[1].transcript, "a 2.0-second recording");
    c.sock.close();
    const rec = await recordOf(requestId);
    assert.equal(rec.status, "ok");
    assert.equal(rec.metadata["realtime.intent"], "transcription");
    assert.equal(rec.deployment, "tr/openai");
    const u = said.map((e) => e.usage);
    assert.equal(rec.usage.inputTokens, u[0].input_tokens + u[1].input_tokens);
    assert.equal(rec.usage.outputTokens, u[0].output_tokens + u[1].output_tokens);
    // gpt-4o-transcribe: $6 per million input tokens (audio), $10 per million output.
    assert.equal(rec.cost.total, u.reduce((n, x) => n + Math.round(x.input_tokens * 6 * 1000) + Math.round(x.output_tokens * 10 * 1000), 0));
  });

  test("a transcription session's client secret: a browser opens it with the key sub-protocol, its configuration sent first with the deployment's model", async () => {
    const mint = async (session: Record<string, unknown>) => {
      const r = await fetch(`${t.url}/v1/realtime/client_secrets`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: JSON.stringify({ session }) });
      assert.equal(r.status, 200);
      return (await r.json()) as { value: string; session: Record<string, unknown> };
    };
    const secret = await mint({ type: "transcription", model: "transcribe", audio: { input: { transcription: { language: "en" }, turn_detection: null } } });
    assert.equal(secret.session.object, "realtime.transcription_session");
    const c = await connect("intent=transcription", { protocols: ["realtime", `openai-insecure-api-key.${secret.value}`] });
    const requestId = c.headers["x-request-id"] as string;
    await c.next("session.updated");
    const s = fake.sessions[0];
    assert.equal(s.intent, "transcription");
    assert.deepEqual(JSON.parse(s.received[0]).session, { type: "transcription", audio: { input: { transcription: { language: "en", model: "gpt-4o-transcribe" }, turn_detection: null } } });
    c.send({ type: "input_audio_buffer.append", audio: Buffer.alloc(48_000).toString("base64") });
    c.send({ type: "input_audio_buffer.commit" });
    const said = await c.next("conversation.item.input_audio_transcription.completed");
    c.sock.close();
    const rec = await recordOf(requestId);
    assert.equal(rec.key, "team-a");
    assert.equal(rec.metadata["realtime.intent"], "transcription");
    assert.equal(rec.usage.outputTokens, said.usage.output_tokens);
    // A secret opens the kind of session it was made for.
    await refused(connect("", { protocols: ["realtime", `openai-insecure-api-key.${secret.value}`] }), 400, "intent");
    const conversation = await mint({ type: "realtime", model: "realtime" });
    await refused(connect("intent=transcription", { protocols: ["realtime", `openai-insecure-api-key.${conversation.value}`] }), 400, "intent");
    const call = await fetch(`${t.url}/v1/realtime/calls`, { method: "POST", headers: { authorization: `Bearer ${secret.value}`, "content-type": "application/sdp" }, body: "v=0\r\n" });
    assert.equal(call.status, 400);
  });

  test("a handshake the provider refuses falls back to the next deployment before the caller is connected", async () => {
    fake.refuseNext(429);
    const c = await connect("model=rt-fallback", { key: KEY });
    assert.equal(c.headers["x-signalbox-deployment"], "rt/second");
    await c.next("session.created");
    c.sock.close();
    const rec = await recordOf(c.headers["x-request-id"] as string);
    assert.deepEqual(fake.refusals, [{ model: "gpt-realtime", status: 429 }]);
    assert.equal(fake.sessions[0].model, "gpt-realtime-mini");
    assert.deepEqual(
      rec.attempts.map((a) => [a.deployment, a.outcome, a.failureKind]),
      [
        ["rt/first", "failed", "rate_limited"],
        ["rt/second", "succeeded", undefined],
      ],
    );
  });

  test("when no provider takes the session the caller gets a 502 in OpenAI's shape, and the failure is recorded", async () => {
    // rt/first cools down after the 429 above: only rt/second is tried, and a 500 from it is a 502.
    fake.refuseNext(500, 2);
    const e = await refused(connect("model=rt-fallback", { key: KEY }), 502);
    assert.match(e.body.error.message, /openai-b refused the realtime session/);
    assert.match(e.headers["x-request-id"], /^req_/);
    const rec = await recordOf(e.headers["x-request-id"]);
    assert.equal(rec.status, "unavailable");
    assert.ok(rec.attempts.length >= 1 && rec.attempts.every((a) => a.outcome === "failed"));
  });

  test("Azure's realtime path names the deployment and sends api-key", async () => {
    const c = await connect("model=rt-azure", { key: KEY });
    await c.next("session.created");
    c.sock.close();
    await c.closed;
    const s = fake.sessions[0];
    assert.equal(s.path, "/openai/v1/realtime");
    assert.equal(s.model, "my-realtime");
    assert.equal(s.headers["api-key"], REALTIME_TEST_KEY);
    assert.equal(s.headers.authorization, undefined);
  });
});

describe("refusals: plain HTTP answers before the WebSocket is accepted, nothing sent to a provider", () => {
  test("keys: none, a wrong one, one that may not use the model; a browser's key in the sub-protocol", async () => {
    await refused(connect("model=rt"), 401);
    await refused(connect("model=rt", { key: "sbx_nope" }), 401);
    const e = await refused(connect("model=rt", { key: LIMITED }), 403, "model");
    assert.match(e.body.error.message, /may not use "rt"/);
    // Browsers cannot set headers: the key travels as a sub-protocol, and "realtime" is echoed.
    const c = await connect("model=realtime", { protocols: ["realtime", `openai-insecure-api-key.${LIMITED}`, "openai-beta.realtime-v1"] });
    assert.equal(c.sock.protocol, "realtime");
    await c.next("session.created");
    c.sock.close();
    assert.equal(fake.sessions.length + fake.refusals.length, 0);
  });

  test("parameters name their field", async () => {
    await refused(connect("", { key: KEY }), 400, "model");
    // A sideband names a call this replica placed for this key (test/compat/realtime-calls.test.ts).
    await refused(connect("model=rt&call_id=rtc_123", { key: KEY }), 404, "call_id");
    await refused(connect("model=rt&intent=translation", { key: KEY }), 400, "intent");
    await refused(connect("intent=transcription", { key: KEY }), 400, "model");
    // A conversation route does not transcribe.
    await refused(connect("model=rt&intent=transcription", { key: KEY }), 400, "model");
    await refused(connect(`model=rt&signalbox=${encodeURIComponent("{nope")}`, { key: KEY }), 400, "signalbox");
    await refused(connect(`model=rt&signalbox=${encodeURIComponent(JSON.stringify({ tags: "x" }))}`, { key: KEY }), 400, "signalbox.tags");
    const chat = await refused(connect("model=chat", { key: KEY }), 400);
    assert.match(chat.body.error.message, /realtime/);
    await refused(connect("model=no-such-model", { key: KEY }), 404, "model");
    assert.equal(fake.sessions.length + fake.refusals.length, 0);
  });

  test("guardrails that apply to the request refuse the session", async () => {
    const e = await refused(connect("model=guarded", { key: KEY }), 400);
    assert.match(e.body.error.message, /guardrails apply to this request \(pii\)/);
  });

  test("another path, or a request that is not an upgrade", async () => {
    const other = await new Promise<number>((resolve) => {
      const s = new WebSocket(`${ws}/v1/elsewhere`);
      s.on("unexpected-response", (_q, res) => resolve(res.statusCode!));
      s.on("error", () => {});
    });
    assert.equal(other, 404);
    const plain = await fetch(`${t.url}/v1/realtime?model=realtime`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(plain.status, 426);
    assert.match((await plain.json()).error.message, /WebSocket/);
  });
});

describe("sessions that end badly", () => {
  test("a budget that runs out mid-session ends it with an error event and 1008; the record keeps its cost", async () => {
    const c = await connect("model=wordy", { key: BROKE });
    c.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "talk a lot" }] } });
    c.send({ type: "response.create", response: { output_modalities: ["text"] } });
    const done = await c.next("response.done");
    const err = await c.next("error");
    const closed = await c.closed;
    assert.equal(err.error.code, "budget_exhausted");
    assert.match(err.error.message, /budget exhausted during a realtime session/);
    assert.equal(closed.code, 1008);
    const rec = await recordOf(c.headers["x-request-id"] as string);
    assert.equal(rec.status, "resource_exhausted");
    assert.equal(rec.usage.outputTokens, done.response.usage.output_tokens);
    assert.equal(rec.cost.total, Math.round(done.response.usage.input_tokens * 600) + Math.round(done.response.usage.output_tokens * 2400));
    // The day's spend is what the session cost: the next one is refused up front.
    const again = await refused(connect("model=wordy", { key: BROKE }), 429);
    assert.equal(again.body.error.code, "insufficient_quota");
  });

  test("a provider that drops the session: the caller sees 1011, the record is a failure with the usage so far", async () => {
    fake.dropAfter(1, "destroy");
    const c = await connect("model=rt", { key: KEY });
    c.send({ type: "response.create", response: { output_modalities: ["text"] } });
    const done = await c.next("response.done");
    const closed = await c.closed;
    assert.equal(closed.code, 1011);
    const rec = await recordOf(c.headers["x-request-id"] as string);
    assert.equal(rec.status, "unavailable");
    assert.equal(rec.attempts[0].failureKind, "stream_interrupted");
    assert.equal(rec.cost.total, costOf(done.response.usage, GPT_REALTIME));
  });

  test("a provider's own close code reaches the caller", async () => {
    fake.dropAfter(1, { code: 4000, reason: "session expired" });
    const c = await connect("model=rt", { key: KEY });
    c.send({ type: "response.create" });
    await c.next("response.done");
    assert.deepEqual(await c.closed, { code: 4000, reason: "session expired" });
    const rec = await recordOf(c.headers["x-request-id"] as string);
    assert.equal(rec.status, "ok");
  });

  test("a draining gateway tells its sessions to go away (1001)", async () => {
    const g = await startTestGateway(config(fake.url));
    const c = await new Promise<WebSocket>((resolve, reject) => {
      const s = new WebSocket(`${g.url.replace(/^http/, "ws")}/v1/realtime?model=realtime`, { headers: { authorization: `Bearer ${KEY}` } });
      s.once("open", () => resolve(s));
      s.once("error", reject);
    });
    const closed = new Promise<number>((r) => c.once("close", (code) => r(code)));
    await g.server.shutdown(200);
    assert.equal(await closed, 1001);
    assert.equal(g.gw.realtime.open, 0);
    assert.equal(g.usage.recent().filter((r) => r.operation === "realtime").length, 1);
  });
});

describe("budgets on a shared Redis", () => {
  test("a session is settled on Redis turn by turn (spend charged as it goes, the next turn held); when it ends the spend is its cost and nothing stays held; a budget that runs out ends a session", async () => {
    const redis = await startRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const limiter = createRedisLimiter(client as never);
    const g = await startTestGateway(config(fake.url), { limits: limiter });
    const wsUrl = g.url.replace(/^http/, "ws");
    const open = (key: string) =>
      new Promise<{ sock: WebSocket; frames: Record<string, any>[]; id: string; closed: Promise<number> }>((resolve, reject) => {
        const sock = new WebSocket(`${wsUrl}/v1/realtime?model=wordy`, { headers: { authorization: `Bearer ${key}` } });
        const frames: Record<string, any>[] = [];
        let id = "";
        sock.on("upgrade", (res) => (id = String(res.headers["x-request-id"])));
        sock.on("message", (d: Buffer) => frames.push(JSON.parse(d.toString())));
        const closed = new Promise<number>((r) => sock.once("close", (code) => r(code)));
        sock.once("open", () => resolve({ sock, frames, id, closed }));
        sock.once("error", reject);
      });
    const turn = async (s: { sock: WebSocket; frames: Record<string, any>[] }) => {
      const before = s.frames.filter((f) => f.type === "response.done").length;
      s.sock.send(JSON.stringify({ type: "response.create", response: { output_modalities: ["text"] } }));
      for (let i = 0; i < 500 && s.frames.filter((f) => f.type === "response.done").length === before; i++) await new Promise((r) => setTimeout(r, 5));
    };
    const now = Date.now();
    const sockets: WebSocket[] = [];
    try {
      const s = await open(ROOMY);
      sockets.push(s.sock);
      for (let i = 0; i < 3; i++) await turn(s);
      // Mid-session: the three turns are charged (wordy: $0.60 in, $2.40 out per million tokens) and the next one is held.
      const charged = s.frames.filter((f) => f.type === "response.done").reduce((n, f) => n + Math.round(f.response.usage.input_tokens * 600) + Math.round(f.response.usage.output_tokens * 2400), 0);
      let mid = await limiter.budgetState("team:c", "key:roomy", "day", Date.now());
      // The settlement and the next turn's hold are two writes: wait for both (a loaded machine may see one first).
      for (let i = 0; i < 200 && (mid.spentNanos !== charged || mid.reservedNanos === 0); i++) {
        await new Promise((r) => setTimeout(r, 10));
        mid = await limiter.budgetState("team:c", "key:roomy", "day", Date.now());
      }
      assert.equal(mid.spentNanos, charged);
      assert.ok(mid.reservedNanos > 0, "the next turn is held");
      s.sock.close();
      const rec = await new Promise<UsageRecord>((resolve) => {
        const poll = () => {
          const r = g.usage.recent().find((x) => x.id === s.id);
          if (r) resolve(r);
          else setTimeout(poll, 10);
        };
        poll();
      });
      assert.equal(rec.status, "ok");
      assert.equal(rec.cost.total, charged);
      let after = await limiter.budgetState("team:c", "key:roomy", "day", now);
      // The final settlement is written in the background (batched).
      for (let i = 0; i < 100 && after.reservedNanos !== 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = await limiter.budgetState("team:c", "key:roomy", "day", now);
      }
      assert.deepEqual([after.spentNanos, after.reservedNanos], [rec.cost.total, 0]);

      const b = await open(BROKE);
      sockets.push(b.sock);
      await turn(b);
      assert.equal(await b.closed, 1008);
      assert.equal(b.frames.find((f) => f.type === "error")?.error.code, "budget_exhausted");
    } finally {
      // A session left open (an assertion failed mid-way) would hold the gateway's drain forever.
      for (const sock of sockets) sock.terminate();
      await g.close();
      client.disconnect();
      await redis.stop();
    }
  });
});

