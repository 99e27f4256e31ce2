// Checks the fakes' shared transport plumbing with raw HTTP reads: chunk splitting (mid-JSON, mid-UTF-8),
// byte slicing, cuts, resets, hangs, delayed bodies, raw responses, recording, and clean shutdown.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { OPENAI_TEST_KEY, startFakeOpenAI } from './openai.ts';
import type { FakeOpenAI } from './openai.ts';

interface RawResult {
  status: number;
  chunks: Buffer[];
  error?: Error;
}

/** POST and collect every 'data' chunk exactly as the socket delivered it. */
function rawPost(url: string, body: unknown): Promise<RawResult> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_TEST_KEY}`, 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, chunks }));
      res.on('error', (error) => resolve({ status: res.statusCode ?? 0, chunks, error }));
    });
    req.on('error', (error) => resolve({ status: 0, chunks: [], error }));
    req.end(JSON.stringify(body));
  });
}

const streamBody = (text: string) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: text }], stream: true });

describe('fake transport plumbing', () => {
  let fake: FakeOpenAI;
  let chat: string;
  before(async () => {
    fake = await startFakeOpenAI();
    chat = `${fake.url}/chat/completions`;
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('hostile chunking splits inside data:, the JSON, and a multi-byte code point', async () => {
    fake.script({ kind: 'text', text: 'é 🌍', chunking: 'hostile' });
    const r = await rawPost(chat, streamBody('x'));
    const whole = Buffer.concat(r.chunks).toString('utf8');
    const events = whole.split('\n\n').filter(Boolean);
    assert.ok(r.chunks.length > events.length * 2, `${r.chunks.length} reads for ${events.length} events`);
    const strict = new TextDecoder('utf-8', { fatal: true });
    const cutInsideCodePoint = r.chunks.some((c) => {
      try {
        strict.decode(c);
        return false;
      } catch {
        return true;
      }
    });
    assert.ok(cutInsideCodePoint, 'some read ends or starts inside a UTF-8 sequence');
    assert.ok(r.chunks.some((c) => c.toString('latin1') === 'dat'), 'a read ends inside "data:"');
    assert.ok(whole.endsWith('data: [DONE]\n\n'));
  });

  test('fixed byte slices and single-write delivery', async () => {
    fake.script([{ kind: 'text', text: 'abc def', chunking: { bytes: 7 } }, { kind: 'text', chunking: 'single' }]);
    const a = await rawPost(chat, streamBody('x'));
    assert.ok(a.chunks.length > 10 && a.chunks.every((c) => c.length <= 7));
    const b = await rawPost(chat, streamBody('x'));
    assert.equal(b.chunks.length, 1);
  });

  test('interrupt: afterBytes + destroy gives a partial body then a socket error; afterEvents -1 drops [DONE]', async () => {
    fake.script({ kind: 'text', interrupt: { afterBytes: 60, how: 'destroy' } });
    const a = await rawPost(chat, streamBody('x'));
    assert.equal(a.status, 200);
    assert.equal(Buffer.concat(a.chunks).length, 60);
    assert.ok(a.error, 'client saw the reset');
    fake.script({ kind: 'text', interrupt: { afterEvents: -1 } });
    const b = await rawPost(chat, streamBody('x'));
    assert.equal(b.error, undefined);
    const text = Buffer.concat(b.chunks).toString();
    assert.ok(!text.includes('[DONE]') && text.includes('"finish_reason":"stop"'));
  });

  test('disconnect resets the connection without a response; raw http scenario', async () => {
    fake.script([{ kind: 'disconnect' }, { kind: 'http', status: 418, headers: { 'x-teapot': '1' }, body: { short: 'stout' } }]);
    const a = await rawPost(chat, streamBody('x'));
    assert.equal(a.status, 0);
    assert.ok(a.error);
    const b = await fetch(chat, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_TEST_KEY}` }, body: JSON.stringify(streamBody('x')) });
    assert.equal(b.status, 418);
    assert.equal(b.headers.get('x-teapot'), '1');
    assert.deepEqual(await b.json(), { short: 'stout' });
    assert.equal(fake.requests[1].status, 418);
  });

  test('requests are recorded with method, path, query, headers and parsed body', async () => {
    await fetch(`${chat}?trace=1`, { method: 'POST', headers: { authorization: `Bearer ${OPENAI_TEST_KEY}`, 'x-custom': 'yes' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }) });
    const [r] = await fake.waitForRequests(1);
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/v1/chat/completions');
    assert.deepEqual(r.query, { trace: '1' });
    assert.equal(r.headers['x-custom'], 'yes');
    assert.equal(r.body.messages[0].content, 'hi');
    assert.equal(r.status, 200);
  });

  test('a body delayed after the headers, and hangs, are released by close()', async () => {
    const own = await startFakeOpenAI();
    own.script([{ kind: 'text', bodyDelayMs: 60_000 }, { kind: 'hang' }, { kind: 'text', interrupt: { afterEvents: 2, how: 'hang' } }]);
    const headers = { authorization: `Bearer ${OPENAI_TEST_KEY}` };
    const delayed = await fetch(`${own.url}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(streamBody('x')) });
    assert.equal(delayed.status, 200); // headers arrived, the body has not
    const bodyDone = delayed.text().then(
      () => 'ended',
      () => 'failed',
    );
    const hung = fetch(`${own.url}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(streamBody('x')) }).then(
      () => 'answered',
      () => 'failed',
    );
    const halfOpen = await fetch(`${own.url}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(streamBody('x')) });
    const reader = halfOpen.body!.getReader();
    assert.ok(((await reader.read()).value?.length ?? 0) > 0, 'first events arrived');
    const rest = reader.read().then(
      () => 'ended',
      () => 'failed',
    );
    await own.waitForRequests(3);
    await own.close();
    assert.equal(await hung, 'failed');
    // Both settle (a hang here would time the test out): the delayed body and the half-open stream are cut off.
    assert.ok(['ended', 'failed'].includes(await bodyDone));
    assert.ok(['ended', 'failed'].includes(await rest));
  });
});
