// Proves the fake Anthropic Messages server against the official `@anthropic-ai/sdk`: unary, streaming (raw events
// and the MessageStream accumulator), tools, usage with cache, refusals, errors incl. 529 and in-band `event: error`.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { ANTHROPIC_TEST_KEY, startFakeAnthropic } from './anthropic.ts';
import type { AnthropicScenario, FakeAnthropic } from './anthropic.ts';

const MODEL = 'claude-haiku-4-5-20251001'; // not in the SDK's deprecation list (it warns on every call otherwise)
const tools: Anthropic.Tool[] = [
  { name: 'get_weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } },
];
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('fake Anthropic vs @anthropic-ai/sdk', () => {
  let fake: FakeAnthropic;
  let client: Anthropic;
  before(async () => {
    fake = await startFakeAnthropic();
    client = new Anthropic({ apiKey: ANTHROPIC_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('unary text: echo, usage, request-id, required headers recorded', async () => {
    const { data: msg, response } = await client.messages
      .create({ model: MODEL, max_tokens: 256, system: 'Be terse.', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    assert.equal(msg.type, 'message');
    assert.match(msg.id, /^msg_01/);
    assert.deepEqual(msg.content.map((b) => (b.type === 'text' ? b.text : b.type)), ['Echo: hello there']);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
    assert.match(response.headers.get('request-id') ?? '', /^req_011C/);
    assert.match(response.headers.get('anthropic-ratelimit-requests-reset') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const [req] = fake.requests;
    assert.equal(req.headers['x-api-key'], ANTHROPIC_TEST_KEY);
    assert.equal(req.headers['anthropic-version'], '2023-06-01');
  });

  test('stream via MessageStream: text deltas, ping, thinking block, cumulative usage (hostile chunking)', async () => {
    fake.script({ kind: 'text', text: 'Grüße 🌍 aus Köln', thinking: 'let me think', usage: { input: 100, cached: 60, cacheWrite: 10, output: 40, reasoning: 3 }, chunking: 'hostile' });
    const stream = client.messages.stream({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    assert.equal(text, 'Grüße 🌍 aus Köln');
    assert.equal(final.content[0].type, 'thinking');
    assert.equal(final.content[1].type === 'text' && final.content[1].text, 'Grüße 🌍 aus Köln');
    assert.equal(final.stop_reason, 'end_turn');
    // input_tokens EXCLUDES cache reads and writes: 100 - 60 - 10.
    assert.equal(final.usage.input_tokens, 30);
    assert.equal(final.usage.cache_read_input_tokens, 60);
    assert.equal(final.usage.cache_creation_input_tokens, 10);
    assert.equal(final.usage.output_tokens, 40);
  });

  test('raw stream events: order, named events on the wire, ping sent and skipped by the SDK', async () => {
    const stream = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'a b' }], stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    const raw = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': ANTHROPIC_TEST_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'a b' }], stream: true }),
    });
    const text = await raw.text();
    assert.match(text, /^event: message_start\ndata: \{"type":"message_start"/);
    assert.ok(text.includes('\n\nevent: ping\ndata: {"type": "ping"}\n\n'));
    assert.ok(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
  });

  test('two parallel tool_use blocks, unary and streamed (input_json_delta)', async () => {
    const calls = [{ name: 'get_weather', arguments: { city: 'Zürich' } }, { name: 'get_time', arguments: { tz: 'CET' } }];
    fake.script({ kind: 'tool_calls', text: 'Let me check.', calls });
    const msg = await client.messages.create({ model: MODEL, max_tokens: 256, tools, messages: [{ role: 'user', content: 'weather+time' }] });
    assert.equal(msg.stop_reason, 'tool_use');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => [u.name, u.input]), [['get_weather', { city: 'Zürich' }], ['get_time', { tz: 'CET' }]]);
    assert.match(uses[0].id, /^toolu_01/);

    fake.script({ kind: 'tool_calls', text: 'Let me check.', calls, chunking: 'hostile' });
    const final = await client.messages.stream({ model: MODEL, max_tokens: 256, tools, messages: [{ role: 'user', content: 'weather+time' }] }).finalMessage();
    const streamed = final.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(streamed.map((u) => u.input), [{ city: 'Zürich' }, { tz: 'CET' }]);
    assert.equal(final.stop_reason, 'tool_use');
  });

  test('tool results, image blocks and stop reasons', async () => {
    fake.script([{ kind: 'text', stopReason: 'max_tokens' }, { kind: 'text', stopReason: 'stop_sequence' }, { kind: 'text', stopReason: 'model_context_window_exceeded' }]);
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: [{ type: 'text', text: 'weather?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: '{"temp_c":21}' }] },
    ];
    const a = await client.messages.create({ model: MODEL, max_tokens: 16, tools, messages });
    assert.equal(a.stop_reason, 'max_tokens');
    assert.equal(a.content[0].type === 'text' && a.content[0].text, 'Echo: {"temp_c":21}');
    const b = await client.messages.create({ model: MODEL, max_tokens: 16, stop_sequences: ['END'], messages: [{ role: 'user', content: 'x' }] });
    assert.equal(b.stop_reason, 'stop_sequence');
    assert.equal(b.stop_sequence, 'END');
    const c = await client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(c.stop_reason, 'model_context_window_exceeded');
    assert.equal(fake.requests[0].body.messages[0].content[1].source.data, PNG);
  });

  test('refusal is a 200 with stop_reason refusal and stop_details (unary and stream)', async () => {
    fake.script([{ kind: 'refusal' }, { kind: 'refusal', text: 'I was saying' }]);
    const msg = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'bad' }] });
    assert.equal(msg.stop_reason, 'refusal');
    assert.deepEqual(msg.content, []);
    assert.equal((msg as unknown as { stop_details: { category: string } }).stop_details.category, 'cyber');
    const final = await client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'bad' }] }).finalMessage();
    assert.equal(final.stop_reason, 'refusal');
  });

  test('request validation like the real API', async () => {
    const bad = async (body: Record<string, unknown>, re: RegExp) =>
      assert.rejects(client.messages.create(body as never), (e: unknown) => e instanceof Anthropic.BadRequestError && re.test(e.message) && e.type === 'invalid_request_error');
    await bad({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }, /max_tokens: Field required/);
    await bad({ model: MODEL, max_tokens: 5, messages: [{ role: 'system', content: 'x' }, { role: 'user', content: 'y' }] }, /Unexpected role \\"system\\"/);
    await bad(
      { model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01Z', name: 'f', input: {} }] }, { role: 'user', content: 'y' }] },
      /messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01Z/,
    );
    await bad(
      {
        model: MODEL,
        max_tokens: 5,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01Z', name: 'f', input: {} }] },
          { role: 'user', content: [{ type: 'text', text: 'note first' }, { type: 'tool_result', tool_use_id: 'toolu_01Z', content: 'r' }] },
        ],
      },
      /tool_use` ids were found without `tool_result`/,
    );
    await bad({ model: MODEL, max_tokens: 5, metadata: { user_id: 'u', session: 's' }, messages: [{ role: 'user', content: 'x' }] }, /metadata\.session: Extra inputs are not permitted/);
    await bad({ model: MODEL, max_tokens: 5, seed: 1, messages: [{ role: 'user', content: 'x' }] }, /seed: Extra inputs are not permitted/);
    await bad({ model: 'claude-sonnet-4-6', max_tokens: 5, temperature: 0.5, top_p: 0.9, messages: [{ role: 'user', content: 'x' }] }, /cannot both be specified/);
    await bad({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG } }] }] }, /appears to be a image\/png image/);
    const res = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': ANTHROPIC_TEST_KEY, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(await res.json()), /anthropic-version: header is required/);
  });

  test('errors: classes, types, request-id, retry-after; spend limit has no retry-after', async () => {
    const cases: Array<[AnthropicScenario, new (...a: never[]) => Error, number, string]> = [
      [{ kind: 'error', error: 'context_length_exceeded' }, Anthropic.BadRequestError, 400, 'invalid_request_error'],
      [{ kind: 'error', error: 'output_blocked' }, Anthropic.BadRequestError, 400, 'invalid_request_error'],
      [{ kind: 'error', error: 'authentication_error' }, Anthropic.AuthenticationError, 401, 'authentication_error'],
      [{ kind: 'error', error: 'billing_error' }, Anthropic.APIError, 402, 'billing_error'],
      [{ kind: 'error', error: 'permission_error' }, Anthropic.PermissionDeniedError, 403, 'permission_error'],
      [{ kind: 'error', error: 'not_found_error' }, Anthropic.NotFoundError, 404, 'not_found_error'],
      [{ kind: 'error', error: 'request_too_large' }, Anthropic.APIError, 413, 'request_too_large'],
      [{ kind: 'error', error: 'rate_limit_error' }, Anthropic.RateLimitError, 429, 'rate_limit_error'],
      [{ kind: 'error', error: 'spend_limit' }, Anthropic.RateLimitError, 429, 'rate_limit_error'],
      [{ kind: 'error', error: 'api_error' }, Anthropic.InternalServerError, 500, 'api_error'],
      [{ kind: 'error', error: 'timeout_error' }, Anthropic.InternalServerError, 504, 'timeout_error'],
      [{ kind: 'error', error: 'overloaded_error' }, Anthropic.InternalServerError, 529, 'overloaded_error'],
    ];
    for (const [scenario, cls, status, type] of cases) {
      fake.script(scenario);
      await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
        assert.ok(e instanceof cls, `${JSON.stringify(scenario)} -> ${String(e)}`);
        const err = e as InstanceType<typeof Anthropic.APIError>;
        assert.equal(err.status, status);
        assert.equal(err.type, type);
        assert.match(err.requestID ?? '', /^req_/);
        const body = err.error as { request_id: string; error: { details?: { error_code: string } } };
        assert.equal(body.request_id, err.requestID);
        if (scenario.kind === 'error' && scenario.error === 'spend_limit') {
          assert.equal(err.headers?.get('retry-after'), null);
          assert.equal(body.error.details?.error_code, 'enforced_spend_limit_reached');
        } else if (status === 429 || status === 529) {
          assert.equal(err.headers?.get('retry-after'), '1');
        }
        return true;
      });
    }
  });

  test('in-band `event: error` overloaded after a 200', async () => {
    fake.script({ kind: 'stream_error', text: 'partial answer here', afterDeltas: 2 });
    const stream = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const ev of stream) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      })(),
      (e: unknown) => {
        assert.ok(e instanceof Anthropic.APIError);
        assert.equal(e.type, 'overloaded_error');
        assert.equal(e.status, undefined);
        return true;
      },
    );
    assert.equal(text, 'partial answer ');
    fake.script({ kind: 'stream_error', afterDeltas: 0 });
    await assert.rejects(client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'x' }] }).finalMessage(), (e: unknown) => e instanceof Anthropic.APIError && e.type === 'overloaded_error');
  });

  test('truncated stream (no message_stop) and reset socket', async () => {
    fake.script({ kind: 'text', text: 'a b c', interrupt: { afterEvents: 4 } });
    const events: string[] = [];
    const stream = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'x' }], stream: true });
    for await (const ev of stream) events.push(ev.type);
    assert.ok(!events.includes('message_stop')); // the raw iterator ends silently
    fake.script({ kind: 'text', text: 'a b c', interrupt: { afterEvents: -1, how: 'destroy' } });
    await assert.rejects(client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'x' }] }).finalMessage());
  });

  test("the SDK's own retry succeeds after a 529 with retry-after-ms: 10", async () => {
    const retrying = new Anthropic({ apiKey: ANTHROPIC_TEST_KEY, baseURL: fake.url, maxRetries: 1 });
    fake.script({ kind: 'error', error: 'overloaded_error', retryAfterMs: 10 });
    const msg = await retrying.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'again' }] });
    assert.equal(msg.content[0].type === 'text' && msg.content[0].text, 'Echo: again');
    assert.equal(fake.requests.length, 2);
  });

  test('what current models reject: temperature with thinking, manual thinking on adaptive-only models, deprecated sampling, unknown fields', async () => {
    const rejected = async (body: Record<string, unknown>, re: RegExp) =>
      assert.rejects(client.messages.create({ max_tokens: 2048, messages: [{ role: 'user', content: 'x' }], ...body } as never), (e: unknown) => {
        assert.ok(e instanceof Anthropic.BadRequestError, String(e));
        const err = (e.error as { error?: { type?: string; message?: string } }).error;
        assert.equal(err?.type, 'invalid_request_error');
        assert.match(err?.message ?? '', re);
        return true;
      });
    await rejected({ model: MODEL, temperature: 0.3, thinking: { type: 'enabled', budget_tokens: 1024 } }, /`temperature` may only be set to 1 when thinking is enabled/);
    await rejected({ model: 'claude-sonnet-4-6', top_p: 0.5, thinking: { type: 'adaptive' } }, /`top_p` must be greater than or equal to 0.95/);
    await rejected({ model: 'claude-opus-4-8', thinking: { type: 'enabled', budget_tokens: 1024 } }, /"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive"/);
    await rejected({ model: 'claude-opus-4-7', temperature: 0.5 }, /`temperature` is deprecated for this model/);
    await rejected({ model: 'claude-opus-4-8', top_p: 0.9 }, /`top_p` is deprecated for this model/);
    await rejected({ model: MODEL, thinking: { type: 'adaptive' } }, /"thinking.type.adaptive" is not supported for this model/);
    await rejected({ model: MODEL, output_config: { effort: 'high' } }, /effort is not supported for this model/);
    await rejected({ model: 'claude-sonnet-4-20250514', output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } }, /does not support output format/);
    await rejected({ model: MODEL, thinking: { type: 'enabled', budget_tokens: 1024 }, tools, tool_choice: { type: 'any' } }, /Thinking may not be enabled when tool_choice forces tool use/);
    await rejected({ model: MODEL, seed: 1 }, /seed: Extra inputs are not permitted/);
    await rejected({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'ephemeral', ttl: '2h' } }] }] }, /cache_control.ttl: Input should be '5m' or '1h'/);
    const five = Array.from({ length: 5 }, (_, i) => ({ type: 'text' as const, text: `part ${i}`, cache_control: { type: 'ephemeral' as const } }));
    await rejected({ model: MODEL, messages: [{ role: 'user', content: five }] }, /A maximum of 4 blocks with cache_control may be provided. Found 5/);
    assert.equal(fake.pending(), 0);
  });

  test('accepts what the SDK sends to a current model: adaptive thinking, effort, output_config.format, speed, cache_control; reports 1-hour cache writes', async () => {
    fake.script({ kind: 'text', text: '{"ok":true}', usage: { input: 1000, cacheWrite: 800, output: 5 } });
    const msg = await client.messages.create({
      model: 'claude-opus-4-8',
      max_tokens: 16000,
      system: [{ type: 'text', text: 'Long instructions', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'q', cache_control: { type: 'ephemeral', ttl: '1h' } }] }],
      thinking: { type: 'adaptive' },
      output_config: { effort: 'high', format: { type: 'json_schema', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, additionalProperties: false } } },
      speed: 'fast',
      cache_control: { type: 'ephemeral', ttl: '1h' },
      temperature: 1,
      metadata: { user_id: 'u-1' },
      tools,
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      stop_sequences: ['END'],
      service_tier: 'auto',
    });
    assert.equal(msg.usage.cache_creation_input_tokens, 800);
    assert.deepEqual(msg.usage.cache_creation, { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 800 });
    fake.script({ kind: 'text', usage: { input: 1000, cacheWrite: 800, cacheWrite1h: 300, output: 5 } });
    const mixed = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: [{ type: 'text', text: 'a', cache_control: { type: 'ephemeral' } }] }] });
    assert.deepEqual(mixed.usage.cache_creation, { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 300 });
  });

  test('malformed body/event, hang timeout, wrong key, models list', async () => {
    const quiet = new Anthropic({ apiKey: ANTHROPIC_TEST_KEY, baseURL: fake.url, maxRetries: 0, logLevel: 'off' });
    fake.script([{ kind: 'malformed' }, { kind: 'malformed' }, { kind: 'hang' }]);
    await assert.rejects(quiet.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }));
    await assert.rejects(
      quiet.messages.stream({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).finalMessage(),
      (e: unknown) => e instanceof Anthropic.AnthropicError && (e as Error).cause instanceof SyntaxError, // MessageStream wraps the parse error
    );
    await assert.rejects(quiet.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { timeout: 100 }), Anthropic.APIConnectionTimeoutError);
    const wrong = new Anthropic({ apiKey: 'nope', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof Anthropic.AuthenticationError && /invalid x-api-key/.test(e.message));
    const page = await client.models.list({ limit: 2 });
    assert.equal(page.data.length, 2);
    assert.equal(page.has_more, true);
    const all = [];
    for await (const m of client.models.list({ limit: 2 })) all.push(m.id);
    assert.equal(all.length, 3);
  });
});
