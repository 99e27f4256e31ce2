// Proves the fake OpenAI server against the official `openai` SDK: unary, streaming, tools, JSON mode,
// errors, retries, timeouts, and the request checks the real API performs.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { OPENAI_TEST_KEY, startFakeOpenAI } from './openai.ts';
import type { FakeOpenAI, OpenAIScenario } from './openai.ts';

const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
];

describe('fake OpenAI vs openai SDK', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;
  before(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  test('unary text echoes the last user message, with usage and headers', async () => {
    const { data: res, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'hello there' }] })
      .withResponse();
    assert.equal(res.object, 'chat.completion');
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(res.choices[0].message.content, 'Echo: hello there');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.ok(res.usage && res.usage.prompt_tokens > 0 && res.usage.total_tokens === res.usage.prompt_tokens + res.usage.completion_tokens);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    assert.equal(response.headers.get('x-ratelimit-reset-tokens'), '0s');
    const [req] = fake.requests;
    assert.equal(req.path, '/v1/chat/completions');
    assert.equal(req.headers.authorization, `Bearer ${OPENAI_TEST_KEY}`);
    assert.equal(req.body.messages[1].content, 'hello there');
  });

  test('streaming text with include_usage: role chunk, deltas, finish, usage chunk, [DONE] (hostile chunking)', async () => {
    fake.script({ kind: 'text', text: 'Grüße aus Köln 🌍 ok', usage: { input: 50, cached: 20, output: 30, reasoning: 12 }, chunking: 'hostile' });
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let emptyChoiceChunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) emptyChoiceChunks++;
      else assert.equal(chunk.usage, null); // every non-usage chunk carries usage:null
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'Grüße aus Köln 🌍 ok');
    assert.equal(finish, 'stop');
    assert.equal(emptyChoiceChunks, 1);
    assert.equal(usage?.prompt_tokens, 50);
    assert.equal(usage?.prompt_tokens_details?.cached_tokens, 20);
    assert.equal(usage?.completion_tokens_details?.reasoning_tokens, 12);
    assert.equal(usage?.total_tokens, 80);
  });

  test('streaming without include_usage has no usage chunk', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'ping' }], stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.every((c) => c.choices.length === 1 && c.usage === undefined));
    assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'Echo: ping');
  });

  test('two parallel tool calls, unary', async () => {
    fake.script({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'get_time', arguments: { tz: 'CET' } }] });
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'weather and time?' }], tools });
    const msg = res.choices[0].message;
    assert.equal(res.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, null);
    assert.equal(msg.tool_calls?.length, 2);
    const [a, b] = msg.tool_calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    assert.match(a.id, /^call_/);
    assert.notEqual(a.id, b.id);
    assert.deepEqual(JSON.parse(a.function.arguments), { city: 'Paris' });
    assert.equal(b.function.name, 'get_time');
  });

  test('two parallel tool calls, streamed and accumulated by the SDK stream helper', async () => {
    fake.script({ kind: 'tool_calls', text: 'Checking.', calls: [{ name: 'get_weather', arguments: { city: 'São Paulo' } }, { name: 'get_time', arguments: { tz: 'BRT' } }], chunking: 'hostile' });
    const stream = client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'go' }], tools, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    const msg = final.choices[0].message;
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, 'Checking.');
    const calls = msg.tool_calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    assert.deepEqual(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]), [['get_weather', { city: 'São Paulo' }], ['get_time', { tz: 'BRT' }]]);
    assert.ok(final.usage && final.usage.completion_tokens > 0);
  });

  test('a tool-result turn is accepted and the reply echoes the tool output', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":21}' },
      ],
      tools,
    });
    assert.equal(res.choices[0].message.content, 'Echo: {"temp_c":21}');
  });

  test('JSON mode: default reply is JSON; json_object needs the word json', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'reply in json please' }], response_format: { type: 'json_object' } });
    assert.deepEqual(JSON.parse(res.choices[0].message.content ?? ''), { echo: 'reply in json please' });
    fake.script({ kind: 'json', value: { a: 1 } });
    const res2 = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'json' }], response_format: { type: 'json_object' } });
    assert.deepEqual(JSON.parse(res2.choices[0].message.content ?? ''), { a: 1 });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.match(e.message, /must contain the word 'json'/);
      return true;
    });
  });

  test('finish reasons length and content_filter, and a refusal', async () => {
    fake.script([{ kind: 'text', text: 'cut off', finishReason: 'length' }, { kind: 'text', text: 'partial', finishReason: 'content_filter' }, { kind: 'refusal' }]);
    const a = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(a.choices[0].finish_reason, 'length');
    const b = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(b.choices[0].finish_reason, 'content_filter');
    const c = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(c.choices[0].message.content, null);
    assert.match(c.choices[0].message.refusal ?? '', /can't help/);
  });

  test('image input is accepted and recorded; a bad data URL is rejected', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: png, detail: 'low' } }] }] });
    assert.equal(fake.requests[0].body.messages[0].content[1].image_url.url, png);
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGk=' } }] }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === 'invalid_value',
    );
  });

  test('request validation: unknown field, stream_options without stream, unanswered tool call, reasoning max_tokens', async () => {
    const bad = async (body: Record<string, unknown>, re: RegExp) =>
      assert.rejects(client.chat.completions.create(body as never), (e: unknown) => e instanceof OpenAI.BadRequestError && e.status === 400 && re.test(e.message));
    await bad({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], provider: { order: ['openai'] } }, /Unrecognized request argument supplied: provider/);
    await bad({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } }, /only allowed when 'stream' is enabled/);
    await bad(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'user', content: 'y' }] },
      /did not have response messages: call_9/,
    );
    await bad({ model: 'gpt-4o', messages: [{ role: 'tool', tool_call_id: 'call_x', content: 'r' }] }, /must be a response to a preceeding message/);
    await bad({ model: 'o3-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 10 }, /Use 'max_completion_tokens' instead/);
    assert.equal(fake.pending(), 0); // rejected requests never consumed a scenario
  });

  test('reasoning models reject sampling parameters with OpenAI\'s codes; everything the SDK sends to gpt-4o is accepted', async () => {
    const rejected = async (body: Record<string, unknown>, param: string, code: string, re: RegExp) =>
      assert.rejects(client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], ...body } as never), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.code, code);
        assert.equal(e.param, param);
        assert.equal((e.error as { type?: string }).type, 'invalid_request_error');
        assert.match(e.message, re);
        return true;
      });
    await rejected({ model: 'o3', temperature: 0.2 }, 'temperature', 'unsupported_value', /does not support 0.2 with this model. Only the default \(1\) value is supported/);
    await rejected({ model: 'gpt-5', top_p: 0.9 }, 'top_p', 'unsupported_parameter', /Unsupported parameter: 'top_p' is not supported with this model/);
    await rejected({ model: 'gpt-5-mini-2025-08-07', presence_penalty: 0.5 }, 'presence_penalty', 'unsupported_parameter', /presence_penalty/);
    await rejected({ model: 'o4-mini', frequency_penalty: 0.5 }, 'frequency_penalty', 'unsupported_parameter', /frequency_penalty/);
    await rejected({ model: 'o3', stop: ['END'] }, 'stop', 'unsupported_parameter', /'stop' is not supported/);
    await rejected({ model: 'gpt-5-nano', logprobs: true }, 'logprobs', 'unsupported_parameter', /logprobs/);
    await rejected({ model: 'o3', reasoning_effort: 'minimal' }, 'reasoning_effort', 'unsupported_value', /Supported values are: 'low', 'medium', and 'high'/);
    await rejected({ model: 'o3-mini', parallel_tool_calls: false, tools }, 'parallel_tool_calls', 'unsupported_parameter', /parallel_tool_calls/);
    await rejected({ model: 'gpt-4o', reasoning_effort: 'low' }, 'reasoning_effort', 'unsupported_parameter', /reasoning_effort/);
    assert.equal(fake.pending(), 0);
    // Temperature 1 (the default) and what reasoning models take pass; a chat model takes every sampling parameter.
    await client.chat.completions.create({ model: 'o3', messages: [{ role: 'user', content: 'x' }], temperature: 1, reasoning_effort: 'high', max_completion_tokens: 50, parallel_tool_calls: true, tools, seed: 1, user: 'u' });
    await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
      temperature: 0.2, top_p: 0.9, presence_penalty: 0.1, frequency_penalty: 0.1, stop: ['END'], seed: 1, max_tokens: 20, logprobs: true, top_logprobs: 2,
      tools, tool_choice: 'auto', parallel_tool_calls: false, user: 'u', metadata: { a: 'b' }, store: false, service_tier: 'auto', verbosity: 'low',
      prompt_cache_key: 'k', safety_identifier: 's',
    });
  });

  test('logprobs: every content token with its log probability, bytes and top_logprobs, unary and streamed', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'say three words' }], logprobs: true, top_logprobs: 2 });
    const lp: OpenAI.Chat.Completions.ChatCompletionTokenLogprob[] = res.choices[0].logprobs!.content!;
    assert.equal(lp.map((t) => t.token).join(''), res.choices[0].message.content);
    for (const t of lp) {
      assert.ok(t.logprob < 0);
      assert.deepEqual(t.bytes, [...Buffer.from(t.token, 'utf8')]);
      assert.equal(t.top_logprobs.length, 2);
      assert.equal(t.top_logprobs[0].token, t.token);
    }
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'say three words' }], logprobs: true, stream: true });
    let text = '';
    let tokens = '';
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      for (const t of c.choices[0]?.logprobs?.content ?? []) tokens += t.token;
    }
    assert.ok(text.length > 0);
    assert.equal(tokens, text);
    const plain = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(plain.choices[0].logprobs, null);
  });

  test('auth: wrong key is 401 invalid_api_key; no key is 401 with the "didn\'t provide" message', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong-key-123456', baseURL: fake.url, maxRetries: 0 });
    await assert.rejects(wrong.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.AuthenticationError);
      assert.equal(e.code, 'invalid_api_key');
      assert.match(e.message, /Incorrect API key provided: sk-\*+3456/);
      return true;
    });
    const res = await fetch(`${fake.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /You didn't provide an API key/);
  });

  test('errors map to the SDK classes with OpenAI bodies', async () => {
    const cases: Array<[OpenAIScenario, new (...a: never[]) => Error, number, string | null]> = [
      [{ kind: 'error', error: 'context_length_exceeded' }, OpenAI.BadRequestError, 400, 'context_length_exceeded'],
      [{ kind: 'error', error: 'invalid_prompt' }, OpenAI.BadRequestError, 400, 'invalid_prompt'],
      [{ kind: 'error', error: 'permission_denied' }, OpenAI.PermissionDeniedError, 403, 'unsupported_country_region_territory'],
      [{ kind: 'error', error: 'model_not_found' }, OpenAI.NotFoundError, 404, 'model_not_found'],
      [{ kind: 'error', error: 'conflict' }, OpenAI.ConflictError, 409, 'conflict'],
      [{ kind: 'error', error: 'unprocessable_entity' }, OpenAI.UnprocessableEntityError, 422, null],
      [{ kind: 'error', error: 'rate_limit', retryAfter: 2 }, OpenAI.RateLimitError, 429, 'rate_limit_exceeded'],
      [{ kind: 'error', error: 'insufficient_quota' }, OpenAI.RateLimitError, 429, 'insufficient_quota'],
      [{ kind: 'error', error: 'server_error' }, OpenAI.InternalServerError, 500, null],
      [{ kind: 'error', error: 'bad_gateway' }, OpenAI.InternalServerError, 502, undefined as never],
      [{ kind: 'error', error: 'overloaded' }, OpenAI.InternalServerError, 503, null],
    ];
    for (const [scenario, cls, status, code] of cases) {
      fake.script(scenario);
      await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => {
        assert.ok(e instanceof cls, `${JSON.stringify(scenario)} -> ${String(e)}`);
        const err = e as InstanceType<typeof OpenAI.APIError>;
        assert.equal(err.status, status);
        assert.equal(err.code, code);
        if (status === 429 && code === 'rate_limit_exceeded') assert.equal(err.headers?.get('retry-after'), '2');
        if (status === 502) assert.match(err.message, /502 Bad Gateway/);
        return true;
      });
    }
    fake.script({ kind: 'error', error: 'insufficient_quota' });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => (e as { type?: string }).type === 'insufficient_quota');
  });

  test("the SDK's own retry succeeds after a 429 with retry-after-ms: 10; x-should-retry:false stops it", async () => {
    const retrying = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 2 });
    fake.script({ kind: 'error', error: 'rate_limit', retryAfterMs: 10 });
    const res = await retrying.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'again' }] });
    assert.equal(res.choices[0].message.content, 'Echo: again');
    assert.equal(fake.requests.length, 2);
    fake.script({ kind: 'error', error: 'server_error', shouldRetry: false });
    await assert.rejects(retrying.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), OpenAI.InternalServerError);
    assert.equal(fake.requests.length, 3);
  });

  test('mid-stream error as data:{"error":…} and as event: error', async () => {
    for (const style of ['data', 'event'] as const) {
      fake.script({ kind: 'stream_error', text: 'one two three', afterDeltas: 2, style });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
      let text = '';
      await assert.rejects(
        (async () => {
          for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
        })(),
        (e: unknown) => e instanceof OpenAI.APIError && /The server had an error/.test(e.message),
      );
      assert.equal(text, 'one two ');
    }
  });

  test('truncated streams: the SDK ends silently on a clean EOF without [DONE]; a reset socket throws', async () => {
    fake.script({ kind: 'text', text: 'a b c d', interrupt: { afterEvents: 3 } });
    const s1 = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const c of s1) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, 'a b '); // no error raised: detecting the missing terminator is the caller's job
    assert.equal(finish, null);
    fake.script({ kind: 'text', text: 'a b c d', interrupt: { afterEvents: 3, how: 'destroy' } });
    const s2 = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    await assert.rejects(async () => {
      for await (const _ of s2);
    });
  });

  test('malformed JSON body and malformed stream event', async () => {
    const quiet = new OpenAI({ apiKey: OPENAI_TEST_KEY, baseURL: fake.url, maxRetries: 0, logLevel: 'off' });
    fake.script({ kind: 'malformed' });
    await assert.rejects(quiet.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
    fake.script({ kind: 'malformed' });
    const stream = await quiet.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, SyntaxError);
  });

  test('slow first byte and a hang trip the SDK timeout', async () => {
    fake.script([{ kind: 'text', delayMs: 300 }, { kind: 'hang' }]);
    const opts = { timeout: 100 };
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, opts), OpenAI.APIConnectionTimeoutError);
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }, opts), OpenAI.APIConnectionTimeoutError);
    assert.equal(fake.requests.length, 2);
  });

  test('models list and retrieve', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('gpt-4o'));
    assert.equal((await client.models.retrieve('gpt-4o-mini')).owned_by, 'system');
    await assert.rejects(client.models.retrieve('nope-model'), OpenAI.NotFoundError);
  });
});
