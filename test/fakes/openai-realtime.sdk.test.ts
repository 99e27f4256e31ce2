// Proves the fake OpenAI Realtime server against the official `openai` SDK's Node WebSocket client
// (`openai/realtime/ws`, over wss: with the fake's self-signed CA passed in the ws options): session.created and
// session.update, a text turn through the SDK's typed events, an audio turn (PCM16 in, PCM16 deltas out), usage that
// adds up (and cached tokens with cacheHistory), `error` events as the SDK surfaces them (OpenAIRealtimeError) with
// the session staying open, response.cancel, handshake refusals (a wrong key's 401, refuseNext(429) — also retried
// by the SDK's own `reconnect` option), server-side drops (a cut seen as 1006, a 1011 close frame), the Azure path
// through AzureOpenAI, and, with a plain `ws` client on the http `url`, the 400/401/404 refusals and 426 for plain
// HTTP. Usage is recomputed here from the events received, with the formulas documented in openai-realtime.ts.
//
// The WebRTC calls API against the SDK's `client.realtime.calls` (over https, through undici's fetch with the fake's
// CA): create as multipart (sdp + session) and as raw application/sdp, 400s as BadRequestError with the right param,
// a wrong key's AuthenticationError, refuseNext; sidebands through OpenAIRealtimeWS({ callID }) seeing the peer's
// responses and driving their own; hangup (1000 "call ended", then NotFoundError), peer.hangup, cutSidebands;
// Azure (AzureOpenAI on /openai/v1 with api-key) for create, sideband and hangup; and the plain http `url` with
// fetch and ws.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI, { AuthenticationError, AzureOpenAI, BadRequestError, NotFoundError, RateLimitError } from 'openai';
import { OpenAIRealtimeError } from 'openai/realtime/index';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent, RealtimeSessionCreateRequest, ResponseDoneEvent } from 'openai/resources/realtime/realtime';
import { Agent, fetch as undiciFetch } from 'undici';
import { WebSocket } from 'ws';
import { REALTIME_ANSWER_SDP, REALTIME_OFFER_SDP, REALTIME_TEST_KEY, startFakeRealtime } from './openai-realtime.ts';
import type { FakeRealtime, FakeRealtimeCall } from './openai-realtime.ts';

const MODEL = 'gpt-realtime';
const INSTRUCTIONS = 'Answer briefly and kindly.';
const tok = (s: string): number => Math.ceil(s.length / 4);
const audioTok = (bytes: number): number => Math.ceil(bytes / 4800);

/** Poll until `get` returns something truthy (the fake answers within milliseconds). */
async function until<T>(get: () => T | undefined | null | false, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One SDK connection with everything it emitted. */
class Conn {
  readonly events: RealtimeServerEvent[] = [];
  readonly errors: OpenAIRealtimeError[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly rt: OpenAIRealtimeWS;
  constructor(rt: OpenAIRealtimeWS) {
    this.rt = rt;
    rt.on('event', (e) => this.events.push(e));
    rt.on('error', (e) => this.errors.push(e));
    this.closed = new Promise((resolve) => rt.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }
  /** The n-th (0-based) event of this type, once it arrived. */
  next<K extends RealtimeServerEvent['type']>(type: K, n = 0): Promise<Extract<RealtimeServerEvent, { type: K }>> {
    return until(() => this.events.filter((e) => e.type === type)[n] as Extract<RealtimeServerEvent, { type: K }> | undefined, `${type} #${n}`);
  }
  types(from = 0): string[] {
    return this.events.slice(from).map((e) => e.type);
  }
}

/** 1 s of a 440 Hz tone as PCM16 24 kHz mono. */
function tone(seconds: number): Buffer {
  const n = Math.round(24000 * seconds);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000)), i * 2);
  return b;
}

/** Usage must add up the way the fake documents it. */
function checkUsageShape(done: ResponseDoneEvent): NonNullable<ResponseDoneEvent['response']['usage']> {
  const u = done.response.usage!;
  const inD = u.input_token_details!;
  const outD = u.output_token_details!;
  assert.equal(u.input_tokens, inD.text_tokens! + inD.audio_tokens!, 'input = text + audio');
  assert.equal(inD.image_tokens, 0);
  assert.equal(inD.cached_tokens, inD.cached_tokens_details!.text_tokens! + inD.cached_tokens_details!.audio_tokens!, 'cached = cached text + cached audio');
  assert.equal(inD.cached_tokens_details!.image_tokens, 0);
  assert.ok(inD.cached_tokens! <= u.input_tokens!, 'cached ≤ input');
  assert.equal(u.output_tokens, outD.text_tokens! + outD.audio_tokens!, 'output = text + audio');
  assert.equal(u.total_tokens, u.input_tokens! + u.output_tokens!, 'total');
  return u;
}

const RESPONSE_TEXT_SEQUENCE = (deltas: number): string[] => [
  'response.created',
  'response.output_item.added',
  'conversation.item.added',
  'response.content_part.added',
  ...Array<string>(deltas).fill('response.output_text.delta'),
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
  'conversation.item.done',
  'response.done',
];

describe('fake OpenAI Realtime vs the openai SDK (OpenAIRealtimeWS over wss:)', () => {
  let fake: FakeRealtime;
  let client: OpenAI;
  const open: Conn[] = [];
  before(async () => {
    fake = await startFakeRealtime();
    client = new OpenAI({ apiKey: REALTIME_TEST_KEY, baseURL: fake.tlsUrl });
  });
  after(async () => {
    for (const c of open) c.rt.socket.terminate();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const connect = (c: Pick<OpenAI, 'apiKey' | 'baseURL'> = client, model = MODEL): Conn => {
    const conn = new Conn(new OpenAIRealtimeWS({ model, options: { ca: fake.ca } }, c));
    open.push(conn);
    return conn;
  };
  /** Connect and switch to text output with INSTRUCTIONS. */
  const textSession = async (): Promise<Conn> => {
    const c = connect();
    await c.next('session.created');
    c.rt.send({ type: 'session.update', session: { type: 'realtime', instructions: INSTRUCTIONS, output_modalities: ['text'] } });
    await c.next('session.updated');
    return c;
  };
  const say = (c: Conn, text: string): void =>
    c.rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });

  test('session.created names the model; session.update → session.updated; handshake headers and close are recorded', async () => {
    const c = connect();
    const created = await c.next('session.created');
    assert.match(created.event_id, /^event_/);
    const s = created.session as Record<string, any>;
    assert.equal(s.type, 'realtime');
    assert.equal(s.object, 'realtime.session');
    assert.match(s.id, /^sess_/);
    assert.equal(s.model, MODEL);
    assert.deepEqual(s.output_modalities, ['audio']);
    assert.equal(s.instructions, '');
    assert.deepEqual(s.audio.input.format, { type: 'audio/pcm', rate: 24000 });

    c.rt.send({ type: 'session.update', session: { type: 'realtime', instructions: INSTRUCTIONS, output_modalities: ['text'], audio: { output: { voice: 'marin' } } } });
    const updated = (await c.next('session.updated')).session as Record<string, any>;
    assert.equal(updated.id, s.id);
    assert.equal(updated.instructions, INSTRUCTIONS);
    assert.deepEqual(updated.output_modalities, ['text']);
    assert.equal(updated.audio.output.voice, 'marin');
    assert.deepEqual(updated.audio.output.format, { type: 'audio/pcm', rate: 24000 }, 'audio merged, not replaced');

    const [rec] = fake.sessions;
    assert.equal(rec.path, '/v1/realtime');
    assert.equal(rec.model, MODEL);
    assert.equal(rec.headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);
    assert.equal(rec.headers.upgrade, 'websocket');
    assert.match(String(rec.headers['user-agent']), /OpenAI\/JS/);
    // Every frame both ways, raw, in order.
    assert.deepEqual(rec.sent.map((t) => JSON.parse(t)), c.events);
    assert.equal(rec.received.length, 1);
    assert.equal(JSON.parse(rec.received[0]).type, 'session.update');

    c.rt.close({ code: 1000, reason: 'bye' });
    assert.deepEqual(await c.closed, { code: 1000, reason: 'bye' });
    assert.deepEqual(await until(() => rec.closed, 'closed recorded'), { code: 1000, reason: 'bye' });
  });

  test('a text turn: typed delta events concatenate to the done text; item events; usage adds up', async () => {
    const c = await textSession();
    const deltas: string[] = [];
    const dones: ResponseDoneEvent[] = [];
    c.rt.on('response.output_text.delta', (e) => deltas.push(e.delta));
    c.rt.on('response.done', (e) => dones.push(e));

    say(c, 'Hello there');
    const added = await c.next('conversation.item.added');
    const itemDone = await c.next('conversation.item.done');
    assert.equal(added.previous_item_id, null);
    assert.equal(added.item.type, 'message');
    assert.match(added.item.id!, /^item_/);
    assert.deepEqual(itemDone.item, added.item);

    const from = c.events.length;
    c.rt.send({ type: 'response.create' });
    const done = await c.next('response.done');
    assert.equal(dones.length, 1);
    assert.ok(deltas.length >= 3 && deltas.length <= 5, `${deltas.length} deltas`);
    assert.deepEqual(c.types(from), RESPONSE_TEXT_SEQUENCE(deltas.length));
    const text = deltas.join('');
    assert.match(text, /^You said: "Hello there"\. /);
    assert.ok(text.split(/\s+/).length >= 10);
    assert.equal((await c.next('response.output_text.done')).text, text);

    const created = await c.next('response.created');
    assert.equal(created.response.status, 'in_progress');
    assert.equal(done.response.id, created.response.id);
    assert.match(done.response.id!, /^resp_/);
    assert.equal(done.response.object, 'realtime.response');
    assert.equal(done.response.status, 'completed');
    assert.deepEqual(done.response.output_modalities, ['text']);
    const [out] = done.response.output!;
    assert.equal(out.type, 'message');
    assert.equal((out as any).role, 'assistant');
    assert.deepEqual((out as any).content, [{ type: 'output_text', text }]);
    const textDelta = c.events.find((e) => e.type === 'response.output_text.delta')!;
    assert.equal((textDelta as any).item_id, out.id);
    assert.equal((textDelta as any).response_id, done.response.id);

    const u = checkUsageShape(done);
    assert.equal(u.input_tokens, tok(INSTRUCTIONS) + tok('Hello there'));
    assert.equal(u.input_token_details!.audio_tokens, 0);
    assert.equal(u.input_token_details!.cached_tokens, 0);
    assert.deepEqual(u.output_token_details, { text_tokens: tok(text), audio_tokens: 0 });
  });

  test('an audio turn: 1 s of PCM16 appended and committed, audio output deltas decode to PCM, audio tokens billed', async () => {
    const c = connect();
    await c.next('session.created');
    const pcm = tone(1);
    for (let at = 0; at < pcm.length; at += 12000) c.rt.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(at, at + 12000).toString('base64') });
    c.rt.send({ type: 'input_audio_buffer.commit' });
    const committed = await c.next('input_audio_buffer.committed');
    const userItem = await c.next('conversation.item.done');
    assert.equal(userItem.item.id, committed.item_id);
    assert.deepEqual((userItem.item as any).content, [{ type: 'input_audio', transcript: null }]);

    const transcript: string[] = [];
    const audio: Buffer[] = [];
    c.rt.on('response.output_audio_transcript.delta', (e) => transcript.push(e.delta));
    c.rt.on('response.output_audio.delta', (e) => audio.push(Buffer.from(e.delta, 'base64')));
    c.rt.send({ type: 'response.create', response: { output_modalities: ['audio'] } });
    const done = await c.next('response.done');
    const said = transcript.join('');
    assert.match(said, /^You said: "a 1\.0-second recording"\. /);
    assert.equal((await c.next('response.output_audio_transcript.done')).transcript, said);
    await c.next('response.output_audio.done');
    assert.ok(audio.length >= 3 && audio.length <= 5);
    assert.equal(audio.length, transcript.length, 'one audio delta per transcript delta');
    const bytes = Buffer.concat(audio);
    assert.equal(bytes.length % 2, 0, 'whole PCM16 samples');
    assert.equal(bytes.length, 4800 * said.trim().split(/\s+/).length, '0.1 s per word');
    for (let i = 0; i < bytes.length; i += 2) assert.equal(bytes.readInt16LE(i), 0);
    assert.deepEqual((done.response.output![0] as any).content, [{ type: 'output_audio', transcript: said }]);
    assert.deepEqual(done.response.output_modalities, ['audio']);

    const u = checkUsageShape(done);
    assert.deepEqual(
      [u.input_token_details!.text_tokens, u.input_token_details!.audio_tokens],
      [0, 10],
      'no instructions; 1 s of input audio = 10 tokens',
    );
    assert.deepEqual(u.output_token_details, { text_tokens: tok(said), audio_tokens: audioTok(bytes.length) });
    assert.ok(u.output_token_details!.audio_tokens! > 0);

    // Clearing empties the buffer: a commit then has nothing to commit.
    c.rt.send({ type: 'input_audio_buffer.append', audio: pcm.toString('base64') });
    c.rt.send({ type: 'input_audio_buffer.clear' });
    await c.next('input_audio_buffer.cleared');
    c.rt.send({ type: 'input_audio_buffer.commit' });
    await until(() => c.errors.length === 1, 'commit error');
    assert.equal(c.errors[0].error?.code, 'input_audio_buffer_commit_empty');
  });

  test('error events (unknown type, invalid JSON, overlapping response.create, cancel with nothing running) and the session stays open', async () => {
    const c = await textSession();
    c.rt.send({ type: 'bogus.event', event_id: 'evt_client_1' } as never);
    await until(() => c.errors.length === 1, 'error 1');
    const [e1] = c.errors;
    assert.ok(e1 instanceof OpenAIRealtimeError);
    assert.equal(e1.error?.type, 'invalid_request_error');
    assert.equal(e1.error?.code, 'invalid_value');
    assert.equal(e1.error?.param, 'type');
    assert.equal(e1.error?.event_id, 'evt_client_1');
    assert.match(e1.event_id!, /^event_/);
    assert.match(e1.message, /Invalid value: 'bogus\.event'.* code=invalid_value param=type type=invalid_request_error event_id=evt_client_1/);

    c.rt.socket.send('{not json');
    await until(() => c.errors.length === 2, 'error 2');
    assert.equal(c.errors[1].error?.code, 'invalid_json');

    say(c, 'Twice?');
    c.rt.send({ type: 'response.create' });
    c.rt.send({ type: 'response.create' });
    await until(() => c.errors.length === 3, 'error 3');
    assert.equal(c.errors[2].error?.code, 'conversation_already_has_active_response');
    await c.next('response.done');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.events.filter((e) => e.type === 'response.done').length, 1, 'only one response ran');

    c.rt.send({ type: 'response.cancel' });
    await until(() => c.errors.length === 4, 'error 4');
    assert.equal(c.errors[3].error?.code, 'response_cancel_not_active');

    c.rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Still here?' } });
    assert.equal(((await c.next('session.updated', 1)).session as any).instructions, 'Still here?');
    assert.equal(c.rt.socket.readyState, WebSocket.OPEN);
  });

  test('response.cancel: the running response ends "cancelled" with what was sent so far', async () => {
    const c = await textSession();
    say(c, 'Tell me a long story');
    c.rt.send({ type: 'response.create' });
    await c.next('response.output_text.delta');
    c.rt.send({ type: 'response.cancel' });
    const done = await c.next('response.done');
    assert.equal(done.response.status, 'cancelled');
    assert.deepEqual(done.response.status_details, { type: 'cancelled', reason: 'client_cancelled' });
    const sent = c.events.filter((e) => e.type === 'response.output_text.delta').map((e) => (e as any).delta).join('');
    const full = 'You said: "Tell me a long story". This is a short reply from the fake realtime model.';
    assert.ok(sent.length > 0 && sent.length < full.length && full.startsWith(sent), `stopped early: ${JSON.stringify(sent)}`);
    assert.equal((done.response.output![0] as any).status, 'incomplete');
    assert.deepEqual((done.response.output![0] as any).content, [{ type: 'output_text', text: sent }]);
    assert.equal(checkUsageShape(done).output_tokens, tok(sent));
  });

  test('cacheHistory: a second turn reports the earlier conversation as cached, split into text and audio', async () => {
    fake.cacheHistory = true;
    const c = await textSession();
    c.rt.send({ type: 'input_audio_buffer.append', audio: tone(1).toString('base64') });
    c.rt.send({ type: 'input_audio_buffer.commit' });
    c.rt.send({ type: 'response.create' });
    const first = await c.next('response.done');
    const u1 = checkUsageShape(first);
    assert.equal(u1.input_token_details!.cached_tokens, 0, 'nothing cached before the first response');
    const reply1 = (first.response.output![0] as any).content[0].text as string;

    say(c, 'And now in text');
    c.rt.send({ type: 'response.create' });
    const second = await c.next('response.done', 1);
    const u2 = checkUsageShape(second);
    const d = u2.input_token_details!;
    assert.equal(d.text_tokens, tok(INSTRUCTIONS) + tok(reply1) + tok('And now in text'));
    assert.equal(d.audio_tokens, 10);
    assert.deepEqual(d.cached_tokens_details, { text_tokens: tok(INSTRUCTIONS) + tok(reply1), audio_tokens: 10, image_tokens: 0 });
    assert.equal(d.cached_tokens, tok(INSTRUCTIONS) + tok(reply1) + 10);
    assert.equal(u2.input_tokens! - d.cached_tokens!, tok('And now in text'), 'only the newest user turn is uncached');
  });

  test('a wrong key: the SDK reports the 401 handshake and the fake records the refusal', async () => {
    const c = connect(new OpenAI({ apiKey: ['sk', 'wrong', 'key'].join('-'), baseURL: fake.tlsUrl }));
    await until(() => c.errors.length > 0, 'SDK error');
    assert.ok(c.errors[0] instanceof OpenAIRealtimeError);
    assert.match(c.errors[0].message, /Unexpected server response: 401/);
    assert.equal((await c.closed).code, 1006);
    assert.deepEqual(fake.refusals, [{ model: MODEL, status: 401 }]);
    assert.equal(fake.sessions.length, 0);
  });

  test('refuseNext(429): OpenAI\'s error JSON and retry-after, then the next connect succeeds', async () => {
    fake.refuseNext(429);
    const rt = new OpenAIRealtimeWS({ model: MODEL, options: { ca: fake.ca } }, client);
    rt.on('error', () => {});
    const answer = await new Promise<{ status?: number; retryAfter?: string | string[]; body: any }>((resolve) => {
      rt.socket.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'], body: JSON.parse(body) });
          rt.socket.terminate();
        });
      });
    });
    assert.equal(answer.status, 429);
    assert.equal(answer.retryAfter, '1');
    assert.equal(answer.body.error.code, 'rate_limit_exceeded');
    assert.equal(answer.body.error.type, 'requests');
    assert.equal(answer.body.error.param, null);
    assert.equal(typeof answer.body.error.message, 'string');

    const c = connect();
    assert.equal(((await c.next('session.created')).session as { model?: string }).model, MODEL);
    assert.deepEqual(fake.refusals, [{ model: MODEL, status: 429 }]);
    assert.equal(fake.sessions.length, 1);
  });

  test('refuseNext(429, 2) with the SDK\'s `reconnect` option: it retries into a session', async () => {
    fake.refuseNext(429, 2);
    const rt = new OpenAIRealtimeWS({ model: MODEL, options: { ca: fake.ca }, reconnect: true, reconnectInitialDelay: 10, reconnectMaxDelay: 20 }, client);
    const reconnecting: unknown[] = [];
    rt.on('reconnecting', (e) => reconnecting.push(e));
    rt.on('error', () => {});
    const c = new Conn(rt);
    open.push(c);
    await c.next('session.created');
    assert.equal(reconnecting.length, 2);
    assert.deepEqual(fake.refusals, [
      { model: MODEL, status: 429 },
      { model: MODEL, status: 429 },
    ]);
    assert.equal(fake.sessions.length, 1);
    rt.close();
  });

  test('dropAfter(1, "destroy"): after one response.done the connection is cut, the client sees 1006', async () => {
    fake.dropAfter(1, 'destroy');
    const c = await textSession();
    say(c, 'Hi');
    c.rt.send({ type: 'response.create' });
    await c.next('response.done');
    assert.equal((await c.closed).code, 1006);
    assert.equal((await until(() => fake.sessions[0].closed, 'fake closed')).code, 1006);
    assert.equal(c.events.at(-1)?.type, 'response.done');

    // The drop applied to that session only.
    const next = await textSession();
    say(next, 'Hi again');
    next.rt.send({ type: 'response.create' });
    await next.next('response.done');
    assert.equal(next.rt.socket.readyState, WebSocket.OPEN);
    next.rt.close();
  });

  test('dropAfter(1, {code: 1011, reason: "boom"}): a close frame after the first response', async () => {
    fake.dropAfter(1, { code: 1011, reason: 'boom' });
    const c = await textSession();
    say(c, 'Hi');
    c.rt.send({ type: 'response.create' });
    await c.next('response.done');
    assert.deepEqual(await c.closed, { code: 1011, reason: 'boom' });
    assert.deepEqual(await until(() => fake.sessions[0].closed, 'fake closed'), { code: 1011, reason: 'boom' });
  });

  test('Azure: OpenAIRealtimeWS.azure(AzureOpenAI) reaches /openai/v1/realtime?model=<deployment> with an api-key header', async () => {
    const azure = new AzureOpenAI({ apiKey: REALTIME_TEST_KEY, endpoint: new URL(fake.tlsUrl).origin, apiVersion: '2025-08-28', deployment: 'my-realtime' });
    const rt = await OpenAIRealtimeWS.azure(azure, { options: { ca: fake.ca } });
    const c = new Conn(rt);
    open.push(c);
    assert.equal(((await c.next('session.created')).session as { model?: string }).model, 'my-realtime');
    const [rec] = fake.sessions;
    assert.equal(rec.path, '/openai/v1/realtime');
    assert.equal(rec.model, 'my-realtime');
    assert.equal(rec.headers['api-key'], REALTIME_TEST_KEY);
    assert.equal(rec.headers.authorization, undefined);
    say(c, 'Hello Azure');
    rt.send({ type: 'response.create', response: { output_modalities: ['text'] } });
    const done = await c.next('response.done');
    assert.match((done.response.output![0] as any).content[0].text, /^You said: "Hello Azure"/);
    rt.close();
  });

  test('plain ws:// on `url` (what a gateway dials): accepted; 400, 401, 404 refusals; 426/404 for plain HTTP', async () => {
    const base = fake.url.replace(/^http/, 'ws');
    const origin = new URL(fake.url).origin;
    const bearer = { authorization: `Bearer ${REALTIME_TEST_KEY}` };
    const dial = (url: string, headers: Record<string, string>): Promise<{ status: number; body?: any; ws?: WebSocket; frames: any[] }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { headers });
        // Listening before 'open': session.created can arrive in the same read as the 101.
        const frames: any[] = [];
        ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
        ws.on('error', reject);
        ws.on('open', () => resolve({ status: 101, ws, frames }));
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d));
          res.on('end', () => {
            resolve({ status: res.statusCode!, body: JSON.parse(body), frames });
            ws.terminate();
          });
        });
      });

    const ok = await dial(`${base}/realtime?model=gpt-realtime-mini`, bearer);
    assert.equal(ok.status, 101);
    const first = await until(() => ok.frames[0], 'session.created');
    assert.equal(first.type, 'session.created');
    assert.equal(first.session.model, 'gpt-realtime-mini');
    ok.ws!.close(4000, 'client done');
    assert.deepEqual(await until(() => fake.sessions[0].closed, 'closed'), { code: 4000, reason: 'client done' });

    const noModel = await dial(`${base}/realtime`, bearer);
    assert.equal(noModel.status, 400);
    assert.equal(noModel.body.error.code, 'missing_required_parameter');
    const wrongHeader = await dial(`${base}/realtime?model=m`, { 'api-key': REALTIME_TEST_KEY });
    assert.equal(wrongHeader.status, 401, 'the OpenAI path wants a Bearer token');
    assert.deepEqual(wrongHeader.body.error, { message: wrongHeader.body.error.message, type: 'invalid_request_error', code: 'invalid_api_key', param: null });
    const azureBearer = await dial(`${origin.replace(/^http/, 'ws')}/openai/v1/realtime?model=d`, bearer);
    assert.equal(azureBearer.status, 401, 'the Azure path wants api-key');
    const elsewhere = await dial(`${base}/chat/completions`, bearer);
    assert.equal(elsewhere.status, 404);
    fake.refuseNext(500);
    const failed = await dial(`${base}/realtime?model=m`, bearer);
    assert.equal(failed.status, 500);
    assert.equal(failed.body.error.code, 'server_error');
    assert.deepEqual(fake.refusals, [
      { model: '', status: 400 },
      { model: 'm', status: 401 },
      { model: 'd', status: 401 },
      { model: '', status: 404 },
      { model: 'm', status: 500 },
    ]);

    const plain = await fetch(`${fake.url}/realtime?model=m`, { headers: bearer });
    assert.equal(plain.status, 426);
    assert.equal(((await plain.json()) as any).error.type, 'invalid_request_error');
    assert.equal((await fetch(`${fake.url}/models`)).status, 404);
  });
});

/**
 * A fetch for the SDK that trusts the fake's CA: Node's global fetch takes no CA option, and the npm undici Agent
 * does not plug into it, so the request is serialized by the global Request (multipart bodies included) and sent
 * with undici's own fetch, and the answer is rewrapped as a global Response. `Response` is exposed so the SDK's
 * FormData probe checks the global classes.
 */
function fetchTrusting(ca: string): typeof fetch {
  const dispatcher = new Agent({ connect: { ca } });
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const res = await undiciFetch(req.url, { method: req.method, headers: Object.fromEntries(req.headers), body, dispatcher, signal: init?.signal ?? undefined });
    // Back into the global Response class, which is what the SDK hands out for calls.create.
    return new Response(res.body as ReadableStream<Uint8Array> | null, { status: res.status, statusText: res.statusText, headers: [...res.headers] });
  };
  return Object.assign(f, { Response }) as unknown as typeof fetch;
}

describe('fake OpenAI Realtime WebRTC calls vs the openai SDK (client.realtime.calls, sidebands)', () => {
  let fake: FakeRealtime;
  let client: OpenAI;
  const open: Conn[] = [];
  before(async () => {
    fake = await startFakeRealtime();
    client = new OpenAI({ apiKey: REALTIME_TEST_KEY, baseURL: fake.tlsUrl, fetch: fetchTrusting(fake.ca), maxRetries: 0 });
  });
  after(async () => {
    for (const c of open) c.rt.socket.terminate();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const SESSION: RealtimeSessionCreateRequest = { type: 'realtime', model: MODEL, instructions: INSTRUCTIONS, output_modalities: ['text'] };
  /** Create a call (multipart, text output, INSTRUCTIONS) and return the fake's record of it. */
  const newCall = async (c: OpenAI = client): Promise<FakeRealtimeCall> => {
    const res = await c.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: SESSION });
    assert.equal(res.status, 201);
    const id = res.headers.get('location')!.split('/').at(-1)!;
    await res.text();
    return fake.calls.find((k) => k.id === id)!;
  };
  /** Attach a sideband through the SDK and wait until it is open. */
  const sideband = async (callID: string): Promise<Conn> => {
    const conn = new Conn(new OpenAIRealtimeWS({ callID, options: { ca: fake.ca } }, client));
    open.push(conn);
    await new Promise((resolve, reject) => {
      conn.rt.socket.once('open', resolve);
      conn.rt.socket.once('unexpected-response', (_req, res) => reject(new Error(`sideband refused: ${res.statusCode}`)));
    });
    return conn;
  };
  const peerEvents = (call: FakeRealtimeCall): any[] => call.peer.received.map((t) => JSON.parse(t));
  const peerSay = (call: FakeRealtimeCall, text: string): void =>
    call.peer.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });

  test('calls.create({ sdp, session }): multipart, 201 with location and an SDP answer; the session starts preset', async () => {
    const res = await client.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: { type: 'realtime', model: MODEL, instructions: INSTRUCTIONS } });
    assert.ok(res instanceof Response);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'application/sdp');
    const location = res.headers.get('location')!;
    assert.match(location, /^\/v1\/realtime\/calls\/rtc_[0-9a-f]{24}$/);
    const answer = await res.text();
    assert.equal(answer, REALTIME_ANSWER_SDP);
    assert.ok(answer.startsWith('v=0\r\n') && answer.endsWith('\r\n'));
    assert.ok(answer.split('\r\n').slice(0, -1).every((l) => /^[a-z]=/.test(l)), 'SDP lines');

    assert.equal(fake.calls.length, 1);
    const [call] = fake.calls;
    assert.equal(call.id, location.split('/').at(-1));
    assert.equal(call.path, '/v1/realtime/calls');
    assert.equal(call.contentType, 'multipart');
    assert.equal(call.model, MODEL);
    assert.equal(call.sdp, REALTIME_OFFER_SDP);
    assert.deepEqual(call.session, { type: 'realtime', model: MODEL, instructions: INSTRUCTIONS });
    assert.equal(call.headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);
    assert.match(String(call.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.equal(call.headers.accept, 'application/sdp');
    assert.deepEqual(call.sidebands, []);
    assert.equal(call.ended, undefined);

    const [created] = peerEvents(call);
    assert.equal(created.type, 'session.created');
    assert.equal(created.session.model, MODEL);
    assert.equal(created.session.instructions, INSTRUCTIONS, 'the session part is applied');
    assert.deepEqual(created.session.output_modalities, ['audio'], 'defaults kept');
    assert.equal(fake.sessions.length, 0, 'a call is not a WebSocket session');
  });

  test('calls.create({ sdp }) with ?model=: a raw application/sdp body', async () => {
    const res = await client.realtime.calls.create({ sdp: REALTIME_OFFER_SDP }, { query: { model: 'gpt-realtime-mini' } });
    assert.equal(res.status, 201);
    assert.equal(await res.text(), REALTIME_ANSWER_SDP);
    const [call] = fake.calls;
    assert.equal(call.contentType, 'sdp');
    assert.equal(call.model, 'gpt-realtime-mini');
    assert.equal(call.session, undefined);
    assert.equal(call.sdp, REALTIME_OFFER_SDP);
    assert.equal(call.headers['content-type'], 'application/sdp');
    assert.equal(peerEvents(call)[0].session.model, 'gpt-realtime-mini');
  });

  test('bad input: BadRequestError with the param; a wrong key: AuthenticationError; refuseNext(429): RateLimitError', async () => {
    const rejectsWith = async (p: Promise<unknown>, cls: new (...a: any[]) => Error, param: string | null): Promise<void> => {
      const err = await p.then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof cls, `${String(err)} is a ${cls.name}`);
      assert.equal((err as BadRequestError).param, param);
      assert.equal((err as BadRequestError).type, 'invalid_request_error');
    };
    await rejectsWith(client.realtime.calls.create({ sdp: 'not an offer', session: { type: 'realtime', model: MODEL } }), BadRequestError, 'sdp');
    await rejectsWith(client.realtime.calls.create({ sdp: '' }, { query: { model: MODEL } }), BadRequestError, 'sdp');
    await rejectsWith(client.realtime.calls.create({ sdp: REALTIME_OFFER_SDP }), BadRequestError, 'model');
    await rejectsWith(client.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: { type: 'realtime' } }), BadRequestError, 'session.model');
    await rejectsWith(client.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: { type: 'transcription', model: MODEL } as never }), BadRequestError, 'session.type');
    const wrong = new OpenAI({ apiKey: ['sk', 'wrong', 'key'].join('-'), baseURL: fake.tlsUrl, fetch: fetchTrusting(fake.ca), maxRetries: 0 });
    const auth = await wrong.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: SESSION }).catch((e: unknown) => e);
    assert.ok(auth instanceof AuthenticationError);
    assert.equal(auth.code, 'invalid_api_key');

    fake.refuseNext(429);
    const limited = await client.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: SESSION }).catch((e: unknown) => e);
    assert.ok(limited instanceof RateLimitError);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal(limited.code, 'rate_limit_exceeded');
    assert.equal(fake.calls.length, 0);
    await newCall();
    assert.equal(fake.calls.length, 1, 'the next create succeeds');
    assert.deepEqual(fake.refusals, [
      { model: MODEL, status: 400 },
      { model: MODEL, status: 400 },
      { model: '', status: 400 },
      { model: '', status: 400 },
      { model: MODEL, status: 400 },
      { model: '', status: 401 },
      { model: MODEL, status: 429 },
    ]);
  });

  test('a sideband (OpenAIRealtimeWS { callID }) sees the peer\'s response; its own response.create reaches both', async () => {
    const call = await newCall();
    const sb = await sideband(call.id);
    const [rec] = call.sidebands;
    assert.equal(rec.path, '/v1/realtime');
    assert.equal(rec.model, MODEL);
    assert.equal(rec.headers.authorization, `Bearer ${REALTIME_TEST_KEY}`);

    // The peer talks; the sideband watches (no session.created replay).
    peerSay(call, 'Hello from the browser');
    call.peer.send({ type: 'response.create' });
    const done = await sb.next('response.done');
    const deltas = sb.events.filter((e) => e.type === 'response.output_text.delta').length;
    assert.deepEqual(sb.types(), ['conversation.item.added', 'conversation.item.done', ...RESPONSE_TEXT_SEQUENCE(deltas)]);
    assert.match((done.response.output![0] as any).content[0].text, /^You said: "Hello from the browser"/);
    const u = checkUsageShape(done);
    assert.equal(u.input_tokens, tok(INSTRUCTIONS) + tok('Hello from the browser'), 'the session part\'s instructions count');
    const peer = peerEvents(call);
    assert.deepEqual(peer.slice(1), sb.events, 'the peer got the same events after session.created');
    assert.deepEqual(rec.sent.map((t) => JSON.parse(t)), sb.events);

    // The sideband drives: session.update and response.create act on the call's session; both sides see it.
    sb.rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be terse.' } });
    assert.equal(((await sb.next('session.updated')).session as any).instructions, 'Be terse.');
    sb.rt.send({ type: 'response.create' });
    const second = await sb.next('response.done', 1);
    assert.equal(checkUsageShape(second).input_token_details!.text_tokens, tok('Be terse.') + tok('Hello from the browser') + tok((done.response.output![0] as any).content[0].text));
    const peerDone = await until(() => peerEvents(call).filter((e) => e.type === 'response.done')[1], 'peer response.done #2');
    assert.deepEqual(peerDone, second);
    assert.deepEqual(rec.received.map((t) => JSON.parse(t).type), ['session.update', 'response.create']);

    // Errors caused by the sideband reach it as error events; the call goes on.
    sb.rt.send({ type: 'response.cancel' });
    await until(() => sb.errors.length === 1, 'sideband error');
    assert.equal(sb.errors[0].error?.code, 'response_cancel_not_active');
    assert.equal(call.ended, undefined);
  });

  test('several sidebands; one closing or being cut leaves the call running', async () => {
    const call = await newCall();
    const a = await sideband(call.id);
    const b = await sideband(call.id);
    assert.equal(call.sidebands.length, 2);
    a.rt.close({ code: 1000, reason: 'bye' });
    assert.deepEqual(await a.closed, { code: 1000, reason: 'bye' });
    await until(() => call.sidebands[0].closed, 'a closed');
    peerSay(call, 'Still there?');
    call.peer.send({ type: 'response.create' });
    await b.next('response.done');
    assert.equal(a.events.length, 0);
    assert.equal(call.ended, undefined);

    call.cutSidebands();
    assert.equal((await b.closed).code, 1006);
    assert.equal((await until(() => call.sidebands[1].closed, 'b closed')).code, 1006);
    peerSay(call, 'And now?');
    call.peer.send({ type: 'response.create' });
    await until(() => peerEvents(call).filter((e) => e.type === 'response.done').length === 2, 'peer response.done #2');
    const c = await sideband(call.id);
    call.peer.send({ type: 'response.create' });
    await c.next('response.done');
    assert.equal(call.sidebands.length, 3);
  });

  test('calls.hangup(id): sidebands closed with 1000, ended "hangup"; then 404s (NotFoundError, sideband refused)', async () => {
    const call = await newCall();
    const sb = await sideband(call.id);
    assert.equal(await client.realtime.calls.hangup(call.id), '', 'an empty 200');
    assert.deepEqual(await sb.closed, { code: 1000, reason: 'call ended' });
    assert.equal(call.ended, 'hangup');
    assert.deepEqual(await until(() => call.sidebands[0].closed, 'sideband closed'), { code: 1000, reason: 'call ended' });
    assert.throws(() => call.peer.send({ type: 'response.create' }), /ended/);

    const again = await client.realtime.calls.hangup(call.id).catch((e: unknown) => e);
    assert.ok(again instanceof NotFoundError);
    assert.equal(again.param, 'call_id');
    assert.ok((await client.realtime.calls.hangup('rtc_000000000000000000000000').catch((e: unknown) => e)) instanceof NotFoundError);
    await assert.rejects(sideband(call.id), /sideband refused: 404/);
    await assert.rejects(sideband('rtc_ffffffffffffffffffffffff'), /sideband refused: 404/);
    assert.deepEqual(fake.refusals, [
      { model: '', status: 404 },
      { model: '', status: 404 },
    ]);
    // SIP-only actions are refused for a WebRTC call.
    const live = await newCall();
    const accept = await client.realtime.calls.accept(live.id, { type: 'realtime' }).catch((e: unknown) => e);
    assert.ok(accept instanceof BadRequestError);
  });

  test('peer.hangup(): the browser leaves, sidebands closed with 1000, ended "peer"', async () => {
    const call = await newCall();
    const sb = await sideband(call.id);
    call.peer.hangup();
    assert.deepEqual(await sb.closed, { code: 1000, reason: 'call ended' });
    assert.equal(call.ended, 'peer');
    assert.ok((await client.realtime.calls.hangup(call.id).catch((e: unknown) => e)) instanceof NotFoundError);
  });

  test('Azure: AzureOpenAI on /openai/v1 creates the call with api-key; OpenAIRealtimeWS.azure({ callID }) attaches', async () => {
    const azure = new AzureOpenAI({ apiKey: REALTIME_TEST_KEY, baseURL: `${new URL(fake.tlsUrl).origin}/openai/v1`, apiVersion: '2025-08-28', fetch: fetchTrusting(fake.ca), maxRetries: 0 });
    const res = await azure.realtime.calls.create({ sdp: REALTIME_OFFER_SDP, session: { type: 'realtime', model: 'my-realtime', output_modalities: ['text'] } });
    assert.equal(res.status, 201);
    assert.match(res.headers.get('location')!, /^\/openai\/v1\/realtime\/calls\/rtc_[0-9a-f]{24}$/);
    assert.equal(await res.text(), REALTIME_ANSWER_SDP);
    const [call] = fake.calls;
    assert.equal(call.path, '/openai/v1/realtime/calls');
    assert.equal(call.model, 'my-realtime');
    assert.equal(call.headers['api-key'], REALTIME_TEST_KEY);
    assert.equal(call.headers.authorization, undefined);

    const rt = await OpenAIRealtimeWS.azure(azure, { callID: call.id, options: { ca: fake.ca } });
    const sb = new Conn(rt);
    open.push(sb);
    await new Promise((r) => rt.socket.once('open', r));
    const [rec] = call.sidebands;
    assert.equal(rec.path, '/openai/v1/realtime');
    assert.equal(rec.headers['api-key'], REALTIME_TEST_KEY);
    peerSay(call, 'Hello Azure');
    rt.send({ type: 'response.create' });
    assert.match(((await sb.next('response.done')).response.output![0] as any).content[0].text, /^You said: "Hello Azure"/);

    await azure.realtime.calls.hangup(call.id);
    assert.deepEqual(await sb.closed, { code: 1000, reason: 'call ended' });
    assert.equal(call.ended, 'hangup');
  });

  test('plain http `url` (what a gateway dials): fetch create/hangup, ws:// sideband, 401/415, Azure wants api-key', async () => {
    const bearer = { authorization: `Bearer ${REALTIME_TEST_KEY}` };
    const origin = new URL(fake.url).origin;
    const created = await fetch(`${fake.url}/realtime/calls?model=m`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/sdp' }, body: REALTIME_OFFER_SDP });
    assert.equal(created.status, 201);
    assert.equal(await created.text(), REALTIME_ANSWER_SDP);
    const [call] = fake.calls;
    assert.equal(call.model, 'm');

    const ws = new WebSocket(`${fake.url.replace(/^http/, 'ws')}/realtime?call_id=${call.id}`, { headers: bearer });
    const frames: any[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    const closed = new Promise<[number, string]>((r) => ws.on('close', (code, reason) => r([code, reason.toString()])));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: ['text'] } }));
    await until(() => frames.find((f) => f.type === 'response.done'), 'response.done');
    assert.equal(peerEvents(call).filter((e) => e.type === 'response.done').length, 1);

    const hung = await fetch(`${fake.url}/realtime/calls/${call.id}/hangup`, { method: 'POST', headers: bearer });
    assert.equal(hung.status, 200);
    assert.equal(await hung.text(), '');
    assert.deepEqual(await closed, [1000, 'call ended']);

    const post = (path: string, headers: Record<string, string>, body = REALTIME_OFFER_SDP): Promise<Response> =>
      fetch(`${origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/sdp', ...headers }, body });
    assert.equal((await post('/v1/realtime/calls?model=m', { 'api-key': REALTIME_TEST_KEY })).status, 401);
    assert.equal((await post('/openai/v1/realtime/calls?model=d', bearer)).status, 401);
    const unsupported = await post('/v1/realtime/calls?model=m', { ...bearer, 'content-type': 'text/plain' });
    assert.equal(unsupported.status, 415);
    assert.equal(((await unsupported.json()) as any).error.type, 'invalid_request_error');
    const az = await post('/openai/v1/realtime/calls?model=d', { 'api-key': REALTIME_TEST_KEY });
    assert.equal(az.status, 201);
    assert.match(az.headers.get('location')!, /^\/openai\/v1\/realtime\/calls\/rtc_/);
    assert.equal(fake.calls[1].contentType, 'sdp');
    assert.equal((await fetch(`${fake.url}/realtime/calls`)).status, 404, 'GET is not a route');
  });
});
